/* custseg report OUTDIR: rebuild report.html from the files run or fit wrote
 * (customers.csv, segments.json, model.json and, for hierarchical models,
 * dendrogram.csv). The page is composed by the library
 * (cseg_report_compose), as run and fit compose it, so both give the same
 * page. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void on_note(cseg_log_level level, const char *msg, void *user)
{
    (void)level;
    (void)user;
    fprintf(stderr, "custseg: warning: %s\n", msg);
}

/* The merge tree from DIR/dendrogram.csv ((n_leaves - 1) x 4, malloc'd), or
 * NULL with a warning: the rest of the page is still worth writing. */
static double *read_dendrogram(const char *dir, int threads, size_t *n_leaves)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/dendrogram.csv", dir);
    cseg_table *t = NULL;
    cseg_table_read_params rp;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_table_read_params_init(&rp);
    rp.n_threads = threads;
    double *Z = NULL;
    int rc = cseg_table_read_csv(&t, path, &rp, &diag);
    if (rc == 0) {
        static const char *const cols[4] = {"id_a", "id_b", "height", "size"};
        size_t nm = cseg_table_n_rows(t);
        Z = malloc((nm ? nm : 1) * 4 * sizeof *Z);
        rc = Z ? 0 : CSEG_ENOMEM;
        for (size_t c = 0; rc == 0 && c < 4; c++) {
            long j = cseg_table_find(t, cols[c]);
            const double *x = j >= 0 ? cseg_table_numbers(t, (size_t)j) : NULL;
            if (!x) {
                rc = CSEG_EFORMAT;
                break;
            }
            for (size_t i = 0; i < nm; i++)
                Z[i * 4 + c] = x[i];
        }
        *n_leaves = nm + 1;
    }
    cseg_table_free(t);
    if (rc < 0) {
        fprintf(stderr, "custseg: warning: %s: %s; the report has no dendrogram\n", path,
                diag.msg[0] ? diag.msg : cseg_strerror(rc));
        free(Z);
        return NULL;
    }
    return Z;
}

/* DIR/rules.csv of custseg rules, for "What each segment buys together",
 * or NULL when there is none (or it cannot be read: a warning). */
static cseg_table *read_rules(const char *dir, const cseg_model *m, const cseg_table *ct,
                              const int32_t *lab, int threads)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rules.csv", dir);
    if (access(path, R_OK) != 0)
        return NULL;
    cseg_table *t = NULL;
    cseg_table_read_params rp;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_table_read_params_init(&rp);
    rp.n_threads = threads;
    static const cseg_colspec spec[] = {{"group_name", CSEG_COL_TEXT, 0},
                                        {"antecedent", CSEG_COL_TEXT, 0},
                                        {"consequent", CSEG_COL_TEXT, 0}};
    rp.specs = spec;
    rp.n_specs = 3;
    int rc = cseg_table_read_csv(&t, path, &rp, &diag);
    if (rc < 0) {
        fprintf(stderr, "custseg: warning: %s: %s; the report has no basket rules\n", path,
                diag.msg[0] ? diag.msg : cseg_strerror(rc));
        return NULL;
    }
    /* Rules of another run (rules.csv stays in the folder when run or fit
     * writes it again): a group whose name is not this run's segment's
     * would put one segment's rules under another's name. */
    long jg = cseg_table_find(t, "group"), jn = cseg_table_find(t, "group_name");
    const double *g = jg >= 0 ? cseg_table_numbers(t, (size_t)jg) : NULL;
    const int32_t *gn = jn >= 0 ? cseg_table_codes(t, (size_t)jn) : NULL;
    size_t k = cseg_model_k(m);
    /* rules --by named the groups after customers.csv's segment_name: a
     * segment renamed in model.json since (then the report made again) is
     * still this run's */
    long js = cseg_table_find(ct, "segment_name");
    const int32_t *sn = js >= 0 ? cseg_table_codes(ct, (size_t)js) : NULL;
    const char **was = calloc(k ? k : 1, sizeof *was);
    for (size_t i = 0; was && sn && i < cseg_table_n_rows(ct); i++)
        if (!was[lab[i]] && sn[i] >= 0)
            was[lab[i]] = cseg_table_level(ct, (size_t)js, sn[i]);
    for (size_t i = 0; g && gn && i < cseg_table_n_rows(t); i++) {
        if (!(g[i] >= 1 && g[i] <= (double)k) || gn[i] < 0)
            continue;
        const char *name = cseg_table_level(t, (size_t)jn, gn[i]);
        const char *csv = was ? was[(size_t)g[i] - 1] : NULL;
        if (strcmp(name, cseg_model_name(m, (size_t)g[i] - 1)) != 0 &&
            !(csv && strcmp(name, csv) == 0)) {
            free(was);
            fprintf(stderr,
                    "custseg: warning: %s: group %.0f is \"%s\", but segment %.0f is \"%s\": "
                    "the rules are another run's, and the report leaves them out (custseg rules "
                    "--by %s/customers.csv --out %s makes this run's)\n",
                    path, g[i], name, g[i], cseg_model_name(m, (size_t)g[i] - 1), dir, dir);
            cseg_table_free(t);
            return NULL;
        }
    }
    free(was);
    return t;
}

/* data: the customers' file, named by an error at one of its lines. */
static int write_report(const cseg_report_input *in, const char *path, const char *data)
{
    cseg_report *r = NULL;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    int rc = cseg_report_create(&r);
    if (rc == 0 && (rc = cseg_report_compose(r, in, &diag)) == 0)
        rc = cseg_report_write(r, path, &diag);
    cseg_report_free(r);
    if (rc < 0 && data && diag.line > 0 && !diag.file[0]) {
        size_t len = strlen(data) < sizeof diag.file ? strlen(data) : sizeof diag.file - 1;
        memcpy(diag.file, data, len);
        diag.file[len] = 0;
    }
    return rc < 0 ? cli_fail(rc, &diag, path) : EXIT_OK;
}

static const char help[] =
    "usage: custseg report OUTDIR [--out FILE]\n"
    "\n"
    "Rebuild OUTDIR/report.html from the customers.csv, segments.json and model.json that\n"
    "`custseg run` or `custseg fit` wrote to OUTDIR (and its rules.csv of `custseg rules`). The "
    "page is one self-contained HTML file\n"
    "(no external resources) with the data-quality summary, segment cards and charts.\n"
    "\n"
    "  --out FILE   write here instead of OUTDIR/report.html\n"
    "  --threads N  worker threads (default: all cores)\n"
    "  --quiet      print nothing but errors\n"
    "  --help       this help\n";

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {{"out", required_argument, 0, OPT_OUTFILE},
                                             {"threads", required_argument, 0, OPT_THREADS},
                                             {"help", no_argument, 0, OPT_HELP},
                                             {"quiet", no_argument, 0, OPT_QUIET},
                                             {0, 0, 0, 0}};
    const char *out = NULL;
    int opt, threads = 0, status, quiet = 0;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case OPT_OUTFILE:
            if (!*optarg)
                return cli_usage_error("report", "--out needs a file name");
            out = optarg;
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, &threads) < 0)
                return cli_usage_error("report", "--threads must be a whole number 0..1024");
            break;
        case OPT_QUIET:
            quiet = 1;
            break;
        default:
            return cli_usage_error("report", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("report", "expected one OUTDIR");
    const char *dir = argv[optind];
    char pm[4096], pc[4096], ps[4096], pr[4096];
    snprintf(pm, sizeof pm, "%s/model.json", dir);
    snprintf(pc, sizeof pc, "%s/customers.csv", dir);
    snprintf(ps, sizeof ps, "%s/segments.json", dir);
    snprintf(pr, sizeof pr, "%s/report.html", dir);
    char prules[4096], pden[4096];
    snprintf(prules, sizeof prules, "%s/rules.csv", dir);
    snprintf(pden, sizeof pden, "%s/dendrogram.csv", dir);
    const char *ins[5] = {pm, pc, ps, prules, pden},
               *what[5] = {"the model", "the customers", "the segments", "the rules",
                           "the dendrogram"};
    int same = cli_output_is_input("report", "--out", out, ins, what, 5);
    if (same)
        return same;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_model *m = NULL;
    cseg_table *t = NULL;
    int32_t *lab = NULL;
    json_t *seg = NULL;
    int rc = cseg_model_load(&m, pm, &diag);
    if (rc < 0)
        return cli_fail(rc, &diag, pm);
    json_error_t jerr;
    seg = json_load_file(ps, 0, &jerr);
    if (!seg) {
        /* jansson's column is 0 at the start of a line or an end of file:
         * 1-based here, and left out where it says nothing */
        if (jerr.line > 0 && jerr.column > 0)
            status = cli_error(EXIT_DATA, "%s:%d:%d: %s", ps, jerr.line, jerr.column, jerr.text);
        else if (jerr.line > 0)
            status = cli_error(EXIT_DATA, "%s:%d: %s", ps, jerr.line, jerr.text);
        else
            status = cli_error(EXIT_IO, "%s: %s", ps, jerr.text);
        goto out;
    }
    if (!json_is_object(seg)) {
        status = cli_error(EXIT_DATA,
                           "%s:1: not the segments.json of run or fit (an object "
                           "was expected)",
                           ps);
        goto out;
    }
    cseg_table_read_params rp;
    /* The id, the segment and the model's inputs with their types: a value
     * that does not fit is named by its line and column in customers.csv
     * (found later, by the pipeline, it named report.html and no line). */
    const cseg_prep *pp = cseg_model_prep(m);
    size_t ns = 0;
    cseg_colspec *spec = calloc((pp ? cseg_prep_n_inputs(pp) : 0) + 2, sizeof *spec);
    if (!spec) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    const char *id = cseg_model_source(m) == CSEG_SOURCE_TRANSACTIONS ? CSEG_RFM_COL_CUSTOMER_ID
                                                                      : cseg_model_id_column(m);
    if (id)
        spec[ns++] = (cseg_colspec){id, CSEG_COL_TEXT, 1};
    spec[ns++] = (cseg_colspec){"segment", CSEG_COL_NUMBER, 0}; /* never an input (fit) */
    ns += cli_input_specs(pp, id, spec + ns);
    cseg_table_read_params_init(&rp);
    rp.specs = spec;
    rp.n_specs = ns;
    rp.n_threads = threads;
    rc = cseg_table_read_csv(&t, pc, &rp, &diag);
    free(spec);
    if (rc < 0) {
        status = cli_fail(rc, &diag, pc);
        goto out;
    }
    size_t n = cseg_table_n_rows(t), k = cseg_model_k(m);
    /* The three files must be one run's: a cut-short customers.csv, or files
     * of two runs, would draw a wrong page. */
    json_t *jn = json_object_get(seg, "n_customers");
    size_t nseg = json_array_size(json_object_get(seg, "segments"));
    if (!json_is_integer(jn)) {
        status =
            cli_error(EXIT_DATA, "%s has no n_customers: not the segments.json of run or fit", ps);
        goto out;
    }
    if ((size_t)json_integer_value(jn) != n) {
        status = cli_error(EXIT_DATA,
                           "%s holds %zu customers but %s says %lld: the folder does "
                           "not hold one run's outputs (run again)",
                           pc, n, ps, (long long)json_integer_value(jn));
        goto out;
    }
    if (nseg != k) {
        status = cli_error(EXIT_DATA,
                           "%s has %zu segments but %s has %zu: the folder does not "
                           "hold one run's outputs (run again)",
                           pm, k, ps, nseg);
        goto out;
    }
    const double *sg = cseg_table_numbers(t, (size_t)cseg_table_find(t, "segment"));
    lab = malloc((n ? n : 1) * sizeof *lab);
    if (!lab) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(sg[i] >= 1 && sg[i] <= (double)k && sg[i] == floor(sg[i]))) {
            status = cli_error(EXIT_DATA, "%s:%ld: segment must be a whole number 1..%zu", pc,
                               cseg_table_row_line(t, i), k);
            goto out;
        }
        lab[i] = (int32_t)sg[i] - 1;
    }
    json_t *sd = json_object_get(json_object_get(seg, "model"), "seed");
    char *text = json_dumps(seg, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
    double *Z = NULL;
    size_t nl = 0;
    if (cseg_model_algo(m) == CSEG_ALGO_HCLUST)
        Z = read_dendrogram(dir, threads, &nl);
    /* The revenue rule of the run (files of older runs: "monetary" when present). */
    json_t *jr = json_object_get(seg, "revenue_column");
    const char *rev = json_is_string(jr)                               ? json_string_value(jr)
                      : jr                                             ? NULL
                      : cseg_table_find(t, CSEG_RFM_COL_MONETARY) >= 0 ? CSEG_RFM_COL_MONETARY
                                                                       : NULL;
    cseg_table *rules = read_rules(dir, m, t, lab, threads);
    cseg_report_input in = {
        text,    m,    t,    lab,     id,
        rev,     Z,    nl,   threads, json_is_integer(sd) ? (uint64_t)json_integer_value(sd) : 0,
        on_note, NULL, rules,   NULL, NULL};
    status = text ? write_report(&in, out ? out : pr, pc) : cli_error(EXIT_IO, "out of memory");
    if (status == EXIT_OK && !quiet)
        printf("Wrote %s\n", out ? out : pr);
    cseg_table_free(rules);
    free(Z);
    free(text);
out:
    free(lab);
    json_decref(seg);
    cseg_table_free(t);
    cseg_model_free(m);
    return status;
}
