/* custseg command line: errors, option values, shared option parsing. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

int cli_status_of(int code)
{
    if (code == 0)
        return EXIT_OK;
    if (code == CSEG_EIO || code == CSEG_ENOMEM)
        return EXIT_IO;
    return EXIT_DATA;
}

void cli_put_line(const char *prefix, const char *text)
{
    fputs("custseg: ", stderr);
    fputs(prefix, stderr);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p >= 0x20 && *p != 0x7f)
            fputc(*p, stderr);
        else if (*p == '\n')
            fputs("\\n", stderr);
        else if (*p == '\r')
            fputs("\\r", stderr);
        else if (*p == '\t')
            fputs("\\t", stderr);
        else
            fprintf(stderr, "\\x%02x", *p);
    }
    fputc('\n', stderr);
}

int cli_fail(int code, const cseg_diag *d, const char *context)
{
    char buf[1200];
    if (d && d->msg[0] && !d->file[0] && context) {
        /* A data error names its file: the context is the file being read. */
        cseg_diag named = *d;
        snprintf(named.file, sizeof named.file, "%s", context);
        cli_put_line("", cseg_diag_format(&named, buf, sizeof buf));
    } else if (d && (d->msg[0] || d->file[0]))
        cli_put_line("", cseg_diag_format(d, buf, sizeof buf));
    else if (context)
        fprintf(stderr, "custseg: %s: %s\n", context, cseg_strerror(code));
    else
        fprintf(stderr, "custseg: %s\n", cseg_strerror(code));
    return cli_status_of(code);
}

/* A message formatted into buf, cut (if it had to be) before a character,
 * not inside one. */
static void format_msg(char *buf, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, size, fmt, ap);
    if (n >= 0 && (size_t)n >= size) { /* an incomplete last character goes */
        size_t len = strlen(buf), i = len;
        while (i > 0 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80)
            i--;
        unsigned lead = i > 0 ? (unsigned char)buf[i - 1] : 0;
        if (lead >= 0xC0 && len - (i - 1) < (lead >= 0xF0 ? 4u : lead >= 0xE0 ? 3u : 2u))
            buf[i - 1] = 0;
    }
}

int cli_error(int status, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    format_msg(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cli_put_line("", buf);
    return status;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    format_msg(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cli_put_line("", buf);
    fprintf(stderr, "Try 'custseg %s --help'.\n", cmd ? cmd : "");
    return EXIT_USAGE;
}

/* s in w columns, a character a column (the middle dot of a name is two
 * bytes): cut at the start of a character, never inside one, and padded
 * after (left) or before. */
int cli_utf8_chars(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void cli_print_cols(const char *s, int w, int left)
{
    const char *e = s = s ? s : "";
    int n = 0;
    while (*e && n <= w) {
        if (((unsigned char)*e & 0xC0) != 0x80 && n++ == w)
            break;
        e++;
    }
    if (!left)
        printf("%*s", w - (n > w ? w : n), "");
    fwrite(s, 1, (size_t)(e - s), stdout);
    if (left)
        printf("%*s", w - (n > w ? w : n), "");
}

int cli_output_is_input(const char *cmd, const char *option, const char *out,
                        const char *const *inputs, const char *const *what, size_t n)
{
    struct stat so, si;
    if (!out || stat(out, &so) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino)
            return cli_usage_error(cmd,
                                   "%s %s is %s (%s): it would be replaced; write to another file",
                                   option, out, what[i], inputs[i]);
    return 0;
}

int cli_folder_output_is_input(const char *cmd, const char *dir, const char *const *names,
                               size_t n, const char *input, const char *what)
{
    struct stat so, si;
    if (!dir || !input || stat(input, &si) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char out[4200];
        snprintf(out, sizeof out, "%s/%s", dir, names[i]);
        if (stat(out, &so) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return cli_usage_error(cmd,
                                   "--out %s would replace %s (%s) with its %s; write to another "
                                   "folder",
                                   dir, what, input, names[i]);
    }
    return 0;
}

int cli_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (size_t)v;
    return 0;
}

void *cli_alloc_big(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
#ifdef MADV_HUGEPAGE
    if (p && bytes >= ((size_t)4 << 20)) { /* whole pages around the block: advice only */
        uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095;
        uintptr_t e = ((uintptr_t)p + bytes + 4095) & ~(uintptr_t)4095;
        (void)madvise((void *)a, (size_t)(e - a), MADV_HUGEPAGE);
    }
#endif
    return p;
}

int cli_parse_bytes(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    static const char units[] = "KMGT";
    const char *u = *end ? strchr(units, *end == 'k' ? 'K' : *end) : NULL;
    if (*end && (!u || end[1]))
        return -1;
    for (int shift = u ? (int)(u - units) + 1 : 0; shift > 0; shift--) {
        if (v > ULLONG_MAX / 1024)
            return -1;
        v *= 1024;
    }
    if (v == 0 || v > SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s)
        return -1;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    return s && cseg_parse_double(s, strlen(s), out) == 0 && isfinite(*out) ? 0 : -1;
}

int cli_parse_day(const char *s, long long *day)
{
    long long t;
    if (!s || cseg_parse_datetime(s, strlen(s), NULL, &t) < 0)
        return -1;
    *day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    return 0;
}

int cli_parse_as_of(const char *cmd, const char *s, long long *day)
{
    if (strcmp(s, "auto") == 0) {
        *day = CSEG_DAY_AUTO;
        return 0;
    }
    if (cli_parse_day(s, day) == 0)
        return 0;
    return cli_usage_error(cmd, "--as-of must be 'auto' or a date such as 2011-12-10, got '%s'", s);
}

int cli_parse_delimiter(const char *s, char *out)
{
    if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (strlen(s) != 1 || s[0] == '"' || s[0] == '\n' || s[0] == '\r')
        return -1;
    *out = s[0];
    return 0;
}

char **cli_split(const char *s, size_t *n)
{
    size_t cnt = 1;
    for (const char *p = s; *p; p++)
        cnt += *p == ',';
    char **list = calloc(cnt + 1, sizeof *list);
    if (!list)
        return NULL;
    size_t k = 0;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (len) {
            list[k] = malloc(len + 1);
            if (!list[k]) {
                cli_free_list(list);
                return NULL;
            }
            memcpy(list[k], p, len);
            list[k++][len] = 0;
        }
        if (!e)
            break;
        p = e + 1;
    }
    *n = k;
    return list;
}

void cli_free_list(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}

void seg_opts_init(seg_opts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->out_dir = "out";
    o->compare = strcmp(cmd, "compare") == 0;
    o->bootstrap = 10;
    o->subsample = 20000;
    o->started = cli_now();
    cseg_segment_params_init(&o->p);
}

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int seg_opts_parse(seg_opts *o, const char *cmd, int opt, const char *arg)
{
    long v;
    double x;
    switch (opt) {
    case OPT_OUT:
        if (!*arg)
            return cli_usage_error(cmd, "--out needs a folder name"), -1;
        o->out_dir = arg;
        return 1;
    case OPT_PSEUDONYMIZE:
        if (!*arg)
            return cli_usage_error(cmd, "--pseudonymize needs a key file"), -1;
        o->pseudonymize = arg;
        return 1;
    case OPT_ALLOW_PII:
        o->allow_pii = 1;
        return 1;
    case OPT_TIMINGS:
        o->timings = 1;
        return 1;
    case OPT_TABLE:
    case OPT_QUERY:
        if (!*arg)
            return cli_usage_error(cmd, "--table and --query need a name or a SELECT"), -1;
        *(opt == OPT_TABLE ? &o->table : &o->query) = arg;
        return 1;
    case OPT_DB:
        if (!*arg)
            return cli_usage_error(cmd, "--db needs a path or a postgresql:// URI"), -1;
        if (o->compare)
            return cli_usage_error(cmd, "--db is an option of run and fit"), -1;
        o->db = arg;
        return 1;
    case OPT_K:
        if (strcmp(arg, "auto") == 0) {
            o->p.k = 0;
            return 1;
        }
        if (strstr(arg, "..")) {
            long a, b;
            char lo[32];
            const char *dots = strstr(arg, "..");
            size_t len = (size_t)(dots - arg);
            if (len == 0 || len >= sizeof lo)
                a = -1;
            else {
                memcpy(lo, arg, len);
                lo[len] = 0;
                if (cli_parse_int(lo, 2, 1000, &a) < 0)
                    a = -1;
            }
            if (a < 0 || cli_parse_int(dots + 2, 2, 1000, &b) < 0 || a > b)
                return cli_usage_error(cmd, "--k A..B needs whole numbers 2 <= A <= B <= 1000, "
                                            "got '%s'", arg),
                       -1;
            o->p.k = 0;
            o->p.k_min = (size_t)a;
            o->p.k_max = (size_t)b;
            return 1;
        }
        if (cli_parse_int(arg, 1, 100000, &v) < 0)
            return cli_usage_error(cmd, "--k must be 'auto', a range A..B or a whole number >= 1, "
                                        "got '%s'", arg),
                   -1;
        o->p.k = (size_t)v;
        return 1;
    case OPT_ALGOS:
    case OPT_BOOTSTRAP:
    case OPT_SUBSAMPLE:
    case OPT_FORMAT:
        if (!o->compare)
            return cli_usage_error(cmd, "--algos, --bootstrap, --subsample and --format are "
                                        "options of custseg compare"),
                   -1;
        if (opt == OPT_SUBSAMPLE) {
            if (cli_parse_int(arg, 0, 100000000, &v) < 0 || v == 1 || v == 2 || v == 3)
                return cli_usage_error(cmd, "--subsample must be 0 (all) or a whole number >= 4"),
                       -1;
            o->subsample = (size_t)v;
            return 1;
        }
        if (opt == OPT_ALGOS) {
            o->algos = arg;
        } else if (opt == OPT_FORMAT) {
            if (strcmp(arg, "json") != 0 && strcmp(arg, "text") != 0)
                return cli_usage_error(cmd, "--format must be text or json"), -1;
            o->json = strcmp(arg, "json") == 0;
        } else {
            if (cli_parse_int(arg, 0, 1000, &v) < 0)
                return cli_usage_error(cmd, "--bootstrap must be a whole number 0..1000"), -1;
            o->bootstrap = (size_t)v;
        }
        return 1;
    case OPT_K_MIN:
    case OPT_K_MAX:
        if (cli_parse_int(arg, 2, 1000, &v) < 0)
            return cli_usage_error(cmd, "--k-min and --k-max must be whole numbers 2..1000"), -1;
        *(opt == OPT_K_MIN ? &o->p.k_min : &o->p.k_max) = (size_t)v;
        return 1;
    case OPT_SEED:
        if (cli_parse_int(arg, 0, 0x7fffffffffffffffL, &v) < 0)
            return cli_usage_error(cmd, "--seed must be a whole number >= 0"), -1;
        o->p.seed = (uint64_t)v;
        return 1;
    case OPT_N_INIT:
        if (cli_parse_int(arg, 1, 100000, &v) < 0)
            return cli_usage_error(cmd, "--n-init must be a whole number >= 1"), -1;
        o->p.n_init = (size_t)v;
        return 1;
    case OPT_MAX_ITER:
        if (cli_parse_int(arg, 1, 100000000, &v) < 0)
            return cli_usage_error(cmd, "--max-iter must be a whole number >= 1"), -1;
        o->p.max_iter = (size_t)v;
        return 1;
    case OPT_ALGO:
        if (cseg_algo_parse(arg, &o->p.algo, &o->p.linkage) < 0)
            return cli_usage_error(cmd, "--algo must be kmeans, ward, complete, average, single, "
                                        "dbscan or gmm, got '%s'", arg),
                   -1;
        return 1;
    case OPT_HEIGHT:
        if (cli_parse_double(arg, &x) < 0 || !(x > 0) || !isfinite(x))
            return cli_usage_error(cmd, "--height must be a number > 0, got '%s'", arg), -1;
        o->p.height = x;
        return 1;
    case OPT_EXACT:
        o->p.exact = 1;
        return 1;
    case OPT_EPS:
        if (cli_parse_double(arg, &x) < 0 || !(x > 0) || !isfinite(x))
            return cli_usage_error(cmd, "--eps must be a number > 0, got '%s'", arg), -1;
        o->p.eps = x;
        return 1;
    case OPT_MIN_SAMPLES:
        if (cli_parse_int(arg, 1, 1000000, &v) < 0)
            return cli_usage_error(cmd, "--min-samples must be a whole number >= 1"), -1;
        o->p.min_samples = (size_t)v;
        return 1;
    case OPT_COVARIANCE:
        if (cseg_gmm_cov_parse(arg, &o->p.covariance) < 0)
            return cli_usage_error(cmd, "--covariance must be full, tied, diag or spherical"), -1;
        return 1;
    case OPT_PCA:
        if (cli_parse_double(arg, &x) < 0 || !(x > 0) || x > 10000 ||
            (x >= 1 && x != floor(x)))
            return cli_usage_error(cmd, "--pca must be a whole number of components >= 1 or a "
                                        "variance share between 0 and 1, got '%s'", arg),
                   -1;
        o->p.pca = x;
        return 1;
    case OPT_TOL:
        if (cli_parse_double(arg, &x) < 0 || x < 0)
            return cli_usage_error(cmd, "--tol must be a number >= 0"), -1;
        o->p.tol = x;
        return 1;
    case OPT_THREADS:
        if (cli_parse_threads(arg, &o->p.n_threads) < 0)
            return cli_usage_error(cmd, "--threads must be a whole number 0..1024"), -1;
        return 1;
    case OPT_SCALE:
        if (strcmp(arg, "standard") == 0)
            o->p.prep.scale = CSEG_SCALE_STANDARD;
        else if (strcmp(arg, "robust") == 0)
            o->p.prep.scale = CSEG_SCALE_ROBUST;
        else if (strcmp(arg, "none") == 0)
            o->p.prep.scale = CSEG_SCALE_NONE;
        else
            return cli_usage_error(cmd, "--scale must be standard, robust or none"), -1;
        return 1;
    case OPT_LOG:
        if (strcmp(arg, "auto") == 0)
            o->p.prep.log = CSEG_LOG_AUTO;
        else if (strcmp(arg, "none") == 0)
            o->p.prep.log = CSEG_LOG_NONE;
        else if (strcmp(arg, "all") == 0)
            o->p.prep.log = CSEG_LOG_ALL;
        else
            return cli_usage_error(cmd, "--log must be auto, none or all"), -1;
        return 1;
    case OPT_FEATURES:
        o->features = arg;
        return 1;
    case OPT_PREVIOUS:
        if (!*arg)
            return cli_usage_error(cmd, "--previous needs the folder of a previous run"), -1;
        o->previous = arg;
        return 1;
    case OPT_NAMES:
        o->names = arg;
        return 1;
    case OPT_SAMPLE:
        if (cli_parse_size(arg, &o->p.silhouette_sample) < 0)
            return cli_usage_error(cmd, "--sample must be a whole number >= 0"), -1;
        return 1;
    case OPT_MAX_MEMORY:
        if (cli_parse_bytes(arg, &o->p.max_memory) < 0)
            return cli_usage_error(cmd, "--max-memory must be a size such as 8G, 512M or a "
                                        "number of bytes"), -1;
        return 1;
    case OPT_K_SAMPLE:
        if (cli_parse_size(arg, &o->p.k_sample) < 0)
            return cli_usage_error(cmd, "--k-sample must be a whole number >= 0"), -1;
        return 1;
    case OPT_KMEANS_ALGO:
        if (strcmp(arg, "hamerly") == 0)
            o->p.kmeans_algorithm = CSEG_KMEANS_HAMERLY;
        else if (strcmp(arg, "lloyd") == 0)
            o->p.kmeans_algorithm = CSEG_KMEANS_LLOYD;
        else
            return cli_usage_error(cmd, "--kmeans-algo must be hamerly or lloyd"), -1;
        return 1;
    case OPT_QUIET:
        o->c.quiet = 1;
        return 1;
    case OPT_VERBOSE:
        o->c.verbose = 1;
        return 1;
    case OPT_PROGRESS:
        o->c.progress = 1;
        return 1;
    default:
        return 0;
    }
}

int seg_opts_finish(const seg_opts *o)
{
    if (o->previous && o->compare)
        return cli_usage_error(o->cmd, "--previous is for run and fit");
    if (o->p.height > 0 && (o->p.algo != CSEG_ALGO_HCLUST || o->compare))
        return cli_usage_error(o->cmd, "--height needs a hierarchical --algo (ward, complete, "
                                       "average or single)");
    if (o->p.height > 0 && o->p.k)
        return cli_usage_error(o->cmd, "give --k or --height, not both");
    if (o->p.algo == CSEG_ALGO_DBSCAN && o->p.k)
        return cli_usage_error(o->cmd, "--algo dbscan finds the number of segments itself: "
                                       "drop --k (tune --eps and --min-samples)");
    if ((o->p.eps > 0 || o->p.min_samples) && o->p.algo != CSEG_ALGO_DBSCAN && !o->compare)
        return cli_usage_error(o->cmd, "--eps and --min-samples are for --algo dbscan");
    if (!o->p.k && o->p.k_min > o->p.k_max)
        return cli_usage_error(o->cmd, "--k-min (%zu) is larger than --k-max (%zu)", o->p.k_min,
                               o->p.k_max);
    if (o->p.k && o->names) {
        size_t nn;
        char **list = cli_split(o->names, &nn);
        cli_free_list(list);
        if (nn != o->p.k)
            return cli_usage_error(o->cmd, "--names gives %zu names but --k is %zu", nn, o->p.k);
    }
    return 0;
}

int seg_source_name(const seg_opts *o, const char *path, char *buf, size_t size)
{
    int db = cseg_db_is_uri(path);
    if (!db && (o->table || o->query))
        return cli_usage_error(o->cmd, "--table and --query read a database: give FILE as "
                                       "sqlite:PATH or postgresql://...");
    if (db && !o->table == !o->query)
        return cli_usage_error(o->cmd, "a database source needs --table NAME or --query SQL "
                                       "(one of them)");
    if (!db) {
        /* run and fit write these into --out */
        static const char *const outs[] = {"customers.csv", "segments.json", "model.json",
                                           "report.html",   "dendrogram.csv", "dendrogram.json"};
        int same = o->compare ? 0 /* writes nothing there */
                              : cli_folder_output_is_input(o->cmd, o->out_dir, outs,
                                                           sizeof outs / sizeof outs[0], path,
                                                           "the input");
        if (same)
            return same;
        snprintf(buf, size, "%s", path);
        return 0;
    }
    char uri[1024];
    cseg_db_uri_redact(path, uri, sizeof uri);
    if (o->table)
        snprintf(buf, size, "%s (table %s)", uri, o->table);
    else
        snprintf(buf, size, "%s (query)", uri);
    return 0;
}

int seg_pseudonymize(const seg_opts *o, cseg_table *t, const char *column, int parts)
{
    if (!o->pseudonymize)
        return 0;
    unsigned char key[CSEG_KEY_MAX];
    size_t len = 0;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    long j = column ? cseg_table_find(t, column) : -1;
    if (j < 0) /* the same columns on every process: each stops here alike */
        return cli_usage_error(o->cmd, "--pseudonymize needs a customer id column (--id COL)");
    /* In parts, the first process reads the key (a file only it may see,
     * or its standard input) and every process gets it, or its status. */
    int rc = !parts || cli_mpi_rank() == 0 ? cseg_key_read(o->pseudonymize, key, &len, &diag) : 0;
    int status = rc < 0 ? cli_fail(rc, &diag, o->pseudonymize) : 0;
    if (parts) {
        char small[16 + CSEG_KEY_MAX], *b = small;
        size_t n = 0;
        if (cli_mpi_rank() == 0) {
            n = (size_t)snprintf(small, 16, "%d", status) + 1;
            memcpy(small + n, key, len);
            n += len;
        }
        cli_mpi_share(&b, &n);
        size_t at = strlen(b) + 1;
        status = atoi(b);
        len = n - at;
        memcpy(key, b + at, len);
        memset(b, 0, n);
        if (b != small)
            free(b);
        if (status != 0)
            return status;
    }
    if (rc == 0)
        rc = cseg_table_pseudonymize(t, (size_t)j, key, len, &diag);
    memset(key, 0, sizeof key);
    return rc < 0 ? cli_fail(rc, &diag, o->pseudonymize) : status;
}

int seg_is_feature(const seg_opts *o, const char *name)
{
    size_t n;
    char **list = o->features ? cli_split(o->features, &n) : NULL;
    int yes = 0;
    for (size_t i = 0; list && i < n; i++)
        yes |= strcmp(list[i], name) == 0;
    cli_free_list(list);
    return yes;
}

int cli_parse_threads(const char *s, int *out)
{
    long v;
    if (cli_parse_int(s, 0, 1024, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

int cli_parse_clv_option(const char *cmd, int opt, const char *arg, cseg_clv_params *p)
{
    long v;
    double x;
    switch (opt) {
    case OPT_UNIT:
        if (strcmp(arg, "days") == 0 || strcmp(arg, "day") == 0)
            p->unit_days = 1;
        else if (strcmp(arg, "weeks") == 0 || strcmp(arg, "week") == 0)
            p->unit_days = 7;
        else
            return cli_usage_error(cmd, "--unit must be days or weeks"), -1;
        return 1;
    case OPT_HORIZON:
        if (cli_parse_int(arg, 0, 1200, &v) < 0)
            return cli_usage_error(cmd, "--horizon must be a whole number of months 0..1200"), -1;
        p->horizon_months = (double)v;
        return 1;
    case OPT_DISCOUNT:
        if (cli_parse_double(arg, &x) < 0 || !(x >= 0) || !(x < 10))
            return cli_usage_error(cmd, "--discount must be a monthly rate in [0, 10)"), -1;
        p->discount = x;
        return 1;
    default:
        return 0;
    }
}

/* "Country, Channel" -> roles->attributes; -1 for an empty or too long name, -2 for too many. */
static int set_attributes(cseg_txn_roles *roles, const char *arg)
{
    roles->n_attributes = 0;
    for (const char *p = arg; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *a = p, *b = p + len;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (a == b || (size_t)(b - a) >= CSEG_ROLE_NAME_MAX)
            return -1;
        if (roles->n_attributes == CSEG_ATTRIBUTES_MAX)
            return -2;
        memcpy(roles->attributes[roles->n_attributes], a, (size_t)(b - a));
        roles->attributes[roles->n_attributes++][b - a] = 0;
        p = e ? e + 1 : p + len;
    }
    return roles->n_attributes ? 0 : -1;
}

static int set_role(char *dst, const char *arg)
{
    if (strlen(arg) >= CSEG_ROLE_NAME_MAX || !*arg)
        return -1;
    strcpy(dst, arg);
    return 0;
}

int cli_parse_log_option(const char *cmd, int opt, const char *arg, cseg_txn_roles *roles,
                         cseg_rfm_params *rfm, cseg_csv_params *csv, const char **date_format)
{
    long v;
    long long day = 0;
    char *dst = NULL;
    switch (opt) {
    case OPT_CUSTOMER: dst = roles->customer; break;
    case OPT_DATE: dst = roles->date; break;
    case OPT_INVOICE: dst = roles->invoice; break;
    case OPT_QUANTITY: dst = roles->quantity; break;
    case OPT_PRICE: dst = roles->price; break;
    case OPT_AMOUNT: dst = roles->amount; break;
    case OPT_PRODUCT: dst = roles->product; break;
    case OPT_DATE_FORMAT:
        *date_format = arg;
        return 1;
    case OPT_AS_OF:
        if (cli_parse_as_of(cmd, arg, &day) != 0)
            return -1;
        rfm->as_of_day = day;
        return 1;
    case OPT_DELIM:
        if (cli_parse_delimiter(arg, &csv->delimiter) < 0)
            return cli_usage_error(cmd, "--delimiter must be one character (or 'tab')"), -1;
        return 1;
    case OPT_SPEND_WINDOW:
        if (cli_parse_int(arg, 0, 100000, &v) < 0)
            return cli_usage_error(cmd, "--spend-window must be a whole number of days"), -1;
        rfm->spend_window_days = (int)v;
        return 1;
    case OPT_KEEP_DUPLICATES:
        rfm->drop_duplicates = 0;
        return 1;
    case OPT_ATTRIBUTES:
        if ((v = set_attributes(roles, arg)) < 0)
            return cli_usage_error(cmd, v == -2 ? "--attributes takes at most %d columns"
                                                : "--attributes needs column names of 1..%d "
                                                  "bytes, separated by commas",
                                   v == -2 ? CSEG_ATTRIBUTES_MAX : CSEG_ROLE_NAME_MAX - 1), -1;
        return 1;
    case OPT_MONEY_DECIMALS:
        if (cli_parse_int(arg, 0, 9, &v) < 0)
            return cli_usage_error(cmd, "--money-decimals must be a whole number 0..9"), -1;
        rfm->money_decimals = (int)v;
        return 1;
    default:
        return 0;
    }
    if (set_role(dst, arg) < 0)
        return cli_usage_error(cmd, "column names must be 1..%d bytes", CSEG_ROLE_NAME_MAX - 1),
               -1;
    return 1;
}

int cli_make_dir(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return -1;
    for (char *s = buf + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(buf, 0777) < 0 && errno != EEXIST)
                return -1;
            *s = c;
            if (!c)
                return 0;
        }
    }
}

void cli_status_line(const char *fmt, ...)
{
    fprintf(stderr, "\r%79s\r", "");
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fflush(stderr);
}

int cli_meter_progress(uint64_t done, uint64_t total, void *user)
{
    cli_meter *m = user;
    double t = cli_now(), el = t - m->start;
    if (el < 1 || t - m->last < 0.2)
        return 0;
    m->last = t;
    m->shown = 1;
    double rate = el > 0 ? (double)done / el : 0;
    if (total && done <= total && rate > 0)
        cli_status_line(
            "custseg: reading %s: %.0f%% (%.1f of %.1f GB, %.0f MB/s, about %.0f s left)", m->name,
            100.0 * (double)done / (double)total, (double)done / 1e9, (double)total / 1e9,
            rate / 1e6, (double)(total - done) / rate);
    else
        cli_status_line("custseg: reading %s: %.1f GB (%.0f MB/s)", m->name, (double)done / 1e9,
                        rate / 1e6);
    return 0;
}

void cli_meter_end(cli_meter *m)
{
    if (m->shown)
        cli_status_line(NULL);
    m->shown = 0;
}

int cli_show_progress(const cli_common *c)
{
    return !c->quiet && (c->progress || isatty(2));
}
