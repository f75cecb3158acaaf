/* custseg command line: run, fit and compare hand their input to the
 * library's pipeline (include/custseg/segment.h), then write its outputs to
 * --out and print the summary, or print the comparison. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Write JSON to path through a temporary file and rename. */
int cli_write_json_atomic(json_t *j, const char *path)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok =
        f && json_dumpf(j, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER) == 0;
    if (f) {
        ok = ok && fputc('\n', f) != EOF && !ferror(f);
        ok = (fclose(f) == 0) && ok;
    } else if (fd >= 0) {
        close(fd);
    }
    if (ok) {
        mode_t mask = umask(0);
        umask(mask);
        chmod(tmp, 0666 & ~mask);
        ok = rename(tmp, path) == 0;
    }
    if (!ok && fd >= 0)
        unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

/* ---- progress and notes from the library ---- */

/* --timings: the stages of a run as the progress callback reports them. */
enum { PH_READ, PH_FEATURES, PH_PREPARE, PH_FIT, PH_PROFILE, PH_WRITE, N_PHASES };
static const char *const phase_name[N_PHASES] = {"read the input",
                                                 "clean and features",
                                                 "preprocess (and PCA)",
                                                 "fit and choose k",
                                                 "order, profiles, names, rules",
                                                 "write outputs and report"};

typedef struct cli_progress {
    int show; /* a progress line on a terminal */
    int quiet, verbose;
    int line_open; /* a progress line is on screen */
    size_t bootstrap;
    int phase; /* --timings: the stage running, since mark */
    double mark, secs[N_PHASES];
    long peak_kb[N_PHASES]; /* the process's peak resident memory when the stage ended */
    double drawn; /* when customers.csv's line was last drawn */
    int features_in_read; /* a log read in one pass: its features are made as it is read */
} cli_progress;

static long peak_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

/* Close the stage running and start phase. */
static void phase_to(cli_progress *cp, int phase)
{
    double t = cli_now();
    cp->secs[cp->phase] += t - cp->mark;
    cp->peak_kb[cp->phase] = peak_kb();
    cp->phase = phase;
    cp->mark = t;
}

static void print_timings(const cli_progress *cp, double started)
{
    double total = 0;
    printf("\nTimings (wall clock; peak memory of the process at the end of each stage):\n");
    for (int ph = 0; ph < N_PHASES; ph++) {
        if (ph == PH_FEATURES && cp->features_in_read) {
            printf("  %-32s %9s (made as the log is read: in the line above)\n", phase_name[ph],
                   "-");
            continue;
        }
        if (cp->peak_kb[ph] == 0) { /* a stage this input has not (a customer table) */
            printf("  %-32s %9s\n", phase_name[ph], "-");
            continue;
        }
        printf("  %-32s %9.3f s %9.1f MiB\n", phase_name[ph], cp->secs[ph],
               (double)cp->peak_kb[ph] / 1024);
        total += cp->secs[ph];
    }
    printf("  %-32s %9.3f s (%.3f s since start)\n", "total", total, cli_now() - started);
}

static int on_progress(const cseg_progress *pr, void *user)
{
    cli_progress *cp = user;
    int ph = pr->stage == CSEG_STAGE_FEATURES  ? PH_FEATURES
             : pr->stage == CSEG_STAGE_PREPARE ? PH_PREPARE
             : pr->stage == CSEG_STAGE_PROFILE ? PH_PROFILE
             : pr->stage == CSEG_STAGE_WRITE   ? PH_WRITE
             : pr->stage == CSEG_STAGE_DONE    ? -1
                                               : PH_FIT;
    if (ph >= 0 && ph != cp->phase)
        phase_to(cp, ph);
    if (!cp->show)
        return 0;
    switch (pr->stage) {
    case CSEG_STAGE_FEATURES:
        fprintf(stderr, "\rcustseg: cleaning %zu rows and computing customer features...", pr->n);
        cp->line_open = 1;
        break;
    case CSEG_STAGE_PREPARE:
        if (pr->n) {
            static const char *const step[] = {"fitting", "transforming", "PCA"};
            cli_status_line("custseg: preprocessing %zu customers (step %zu of %zu: %s)...", pr->n,
                            pr->done + 1, pr->total, step[pr->done < 3 ? pr->done : 2]);
            cp->line_open = 1;
        }
        break;
    case CSEG_STAGE_WRITE:
        if (pr->total > 1) { /* customers.csv's rows: after a second, how far */
            double now = cli_now(), el = now - cp->mark;
            if (el < 1 || pr->done == 0 || (now - cp->drawn < 0.2 && pr->done < pr->total))
                break;
            cp->drawn = now;
            double rate = (double)pr->done / el;
            cli_status_line("custseg: %s %.0f%% (%.1fM of %.1fM rows, %.1fM/s, %.0f s left)",
                            pr->file, 100.0 * (double)pr->done / (double)pr->total,
                            (double)pr->done / 1e6, (double)pr->total / 1e6, rate / 1e6,
                            (double)(pr->total - pr->done) / rate);
        } else {
            cli_status_line("custseg: writing %s...", pr->file);
        }
        cp->line_open = 1;
        break;
    case CSEG_STAGE_PROFILE:
        if (pr->done == 0) {
            cli_status_line("custseg: segment order, profiles, names and rules...");
            cp->line_open = 1;
        }
        break;
    case CSEG_STAGE_TREE:
        cli_status_line("custseg: building the %s tree of %zu customers...", pr->algorithm, pr->n);
        cp->line_open = 1;
        break;
    case CSEG_STAGE_FIT:
        if (pr->k) {
            /* After a second, the time left at the pace of the candidates so far. */
            double el = cli_now() - cp->mark;
            char left[48] = "";
            if (pr->done > 0 && pr->total > pr->done && el >= 1)
                snprintf(left, sizeof left, ", about %.0f s left",
                         el / (double)pr->done * (double)(pr->total - pr->done));
            cli_status_line("custseg: %s, k = %zu (%zu of %zu%s)...", pr->algorithm, pr->k,
                            pr->done + 1, pr->total, left);
            cp->line_open = 1;
        }
        break;
    case CSEG_STAGE_STABILITY:
        if (pr->done == 0) {
            cli_status_line("custseg: %s: stability over %zu resamples...", pr->algorithm,
                            pr->total);
            cp->line_open = 1;
        }
        break;
    case CSEG_STAGE_DONE:
        if (cp->line_open)
            cli_status_line(NULL);
        cp->line_open = 0;
        break;
    default:
        break;
    }
    return 0;
}

static void end_line(cli_progress *cp)
{
    if (cp->line_open)
        fputc('\n', stderr);
    cp->line_open = 0;
}

static void on_log(cseg_log_level level, const char *msg, void *user)
{
    cli_progress *cp = user;
    /* --quiet drops progress and notes; a warning (a segmentation that may
     * mislead) is always said (docs/cli.md). */
    if ((cp->quiet && level != CSEG_LOG_WARNING) || (level == CSEG_LOG_DETAIL && !cp->verbose))
        return;
    end_line(cp);
    cli_put_line(level == CSEG_LOG_WARNING ? "warning: " : "note: ", msg);
}

static void on_warning(cseg_log_level level, const char *msg, void *user)
{
    (void)level;
    (void)user;
    cli_put_line("warning: ", msg);
}

/* A library error: a parameter that does not fit the data is a usage error
 * (the message starts with the parameter, which is also the option's name). */
static int fail(const seg_opts *o, cli_progress *cp, int rc, const cseg_diag *d)
{
    end_line(cp);
    if (rc == CSEG_EPARAM)
        return cli_usage_error(o->cmd, "--%s", d->msg);
    if ((o->table || o->query) && d->line > 1) {
        /* A database's row, counted as the source counts them: the line of
         * the rows' temporary CSV less its header (it said ":4" of row 3). */
        cseg_diag r = *d;
        snprintf(r.file, sizeof r.file, "%s", o->table ? o->table : "query");
        snprintf(r.msg, sizeof r.msg, "row %ld: %.480s", d->line - 1, d->msg);
        r.line = r.col = 0;
        return cli_fail(rc, &r, NULL);
    }
    return cli_fail(rc, d, NULL);
}

/* ---- the summary on stdout ---- */

static void print_num(FILE *f, double v, int width, int prec)
{
    if (!isfinite(v))
        fprintf(f, " %*s", width, "-");
    else
        fprintf(f, " %*.*f", width, prec, v);
}

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

static void print_quality(const cseg_quality *q)
{
    char a[32], b[32], c[32];
    cseg_format_date(q->first_day, a, sizeof a);
    cseg_format_date(q->last_day, b, sizeof b);
    cseg_format_date(q->as_of_day, c, sizeof c);
    printf("Data quality: %zu row%s read, %s .. %s, analysis day %s\n", q->n_rows,
           plural(q->n_rows), a, b, c);
    printf("  dropped: %zu without customer id, %zu exact duplicate%s, %zu incomplete, "
           "%zu with price <= 0 (or amount 0)",
           q->n_no_customer, q->n_duplicates, plural(q->n_duplicates), q->n_incomplete,
           q->n_bad_price);
    if (q->n_after_as_of)
        printf(", %zu after the analysis day", q->n_after_as_of);
    printf("\n  kept: %zu purchase row%s, %zu return row%s (%zu cancellation%s); %zu customer%s"
           " (%zu more had only returns)\n",
           q->n_purchase_rows, plural(q->n_purchase_rows), q->n_return_rows,
           plural(q->n_return_rows), q->n_cancellations, plural(q->n_cancellations), q->n_customers,
           plural(q->n_customers), q->n_return_only);
}

static void print_k_table(const cseg_segmentation *r, FILE *out)
{
    cseg_algo algo = cseg_segment_params_used(r)->algo;
    int gmm = algo == CSEG_ALGO_GMM, db = algo == CSEG_ALGO_DBSCAN;
    const cseg_candidate *c = cseg_segment_candidates(r);
    fprintf(out,
            "\nChoosing k (%s):\n   k      inertia  silhouette  davies_bouldin  "
            "calinski_harabasz%s\n",
            cseg_segment_rule(r),
            gmm  ? "             bic"
            : db ? "  outliers"
                 : "");
    for (size_t t = 0; t < cseg_segment_n_candidates(r); t++) {
        fprintf(out, "  %2zu", c[t].k);
        print_num(out, c[t].inertia, 12, 2);
        print_num(out, c[t].silhouette, 11, 4);
        print_num(out, c[t].davies_bouldin, 15, 4);
        print_num(out, c[t].calinski_harabasz, 18, 2);
        if (gmm)
            print_num(out, c[t].bic, 15, 2);
        if (db)
            fprintf(out, " %9zu", c[t].n_noise);
        fprintf(out, "%s%s\n", c[t].elbow ? "  <- elbow" : "",
                t == cseg_segment_chosen(r) ? "  <- chosen" : "");
    }
}


static void print_segments(const cseg_segmentation *r, int rfm)
{
    static const char *const rfm_show[] = {CSEG_RFM_COL_RECENCY,  CSEG_RFM_COL_FREQUENCY,
                                           CSEG_RFM_COL_MONETARY, CSEG_RFM_COL_R_SCORE,
                                           CSEG_RFM_COL_F_SCORE,  CSEG_RFM_COL_M_SCORE};
    const cseg_profile *prof = cseg_segment_profile(r);
    const cseg_segment_params *p = cseg_segment_params_used(r);
    size_t k = cseg_segment_k(r), nshow = 0;
    const char *show[6];
    printf("\n%zu customer%s in %zu segment%s:\n", cseg_segment_n_all(r),
           plural(cseg_segment_n_all(r)), k, plural(k));
    if (rfm) {
        for (size_t j = 0; j < 6; j++)
            show[nshow++] = rfm_show[j];
    } else {
        for (size_t j = 0; j < p->n_features && nshow < 5; j++)
            if (cseg_profile_find(prof, p->features[j]) >= 0)
                show[nshow++] = p->features[j];
    }
    int namew = 4;
    for (size_t s = 0; s < k; s++) {
        int len = cli_utf8_chars(cseg_profile_name(prof, s));
        namew = len > namew ? (len > 48 ? 48 : len) : namew;
    }
    printf("  seg  ");
    cli_print_cols("name", namew, 1);
    printf(" %9s %7s %8s", "customers", "share", "revenue");
    for (size_t j = 0; j < nshow; j++) {
        putchar(' ');
        cli_print_cols(show[j], 14, 0);
    }
    printf("\n");
    for (size_t s = 0; s < k; s++) {
        printf("  %3zu  ", s + 1);
        cli_print_cols(cseg_profile_name(prof, s), namew, 1);
        printf(" %9zu %6.1f%%", cseg_profile_size(prof, s), 100 * cseg_profile_share(prof, s));
        double rs = cseg_profile_revenue_share(prof, s);
        if (isfinite(rs))
            printf(" %7.1f%%", 100 * rs);
        else
            printf(" %8s", "-");
        const double *mu = cseg_profile_means(prof, s);
        for (size_t j = 0; j < nshow; j++)
            print_num(stdout, mu[cseg_profile_find(prof, show[j])], 14, 2);
        printf("\n");
    }
}

/* ---- outputs ---- */

/* --db: the run goes into the store on a thread of its own while the files
 * are written (both only read the segmentation; a million customers take a
 * few seconds each way), and is committed only once the files are: when
 * they fail, the store is left as it was, as when it was written after
 * them. */
typedef struct store_job {
    const seg_opts *o;
    const seg_source *src;
    const cseg_segmentation *r;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int files; /* 0 being written, 1 written, -1 failed */
    int rc;
    int64_t id;
    cseg_diag diag;
} store_job;

static int files_written(void *ctx, cseg_diag *d)
{
    store_job *j = ctx;
    pthread_mutex_lock(&j->mu);
    while (j->files == 0)
        pthread_cond_wait(&j->cv, &j->mu);
    int ok = j->files > 0;
    pthread_mutex_unlock(&j->mu);
    if (ok)
        return 0;
    snprintf(d->msg, sizeof d->msg, "the output files were not written; the run is not stored");
    return CSEG_ECANCELED;
}

static void *store_thread(void *arg)
{
    store_job *j = arg;
    const seg_opts *o = j->o;
    cseg_diag_clear(&j->diag);
    char sha[65];
    json_t *args = json_array(), *params = json_object();
    for (int i = 0; i < o->argc; i++) {
        /* A PostgreSQL URI (FILE, --db URI or --db=URI) without its password. */
        const char *a = o->argv[i], *u = strstr(a, "postgres");
        char *r = u ? malloc(strlen(a) + 1) : NULL;
        if (r) {
            memcpy(r, a, (size_t)(u - a));
            cseg_db_uri_redact(u, r + (u - a), strlen(a) + 1 - (size_t)(u - a));
        }
        json_array_append_new(args, json_string(r ? r : u ? "" : a)); /* no memory: left out */
        free(r);
    }
    json_object_set_new(params, "arguments", args);
    char *ptext = json_dumps(params, JSON_COMPACT);
    json_decref(params);
    cseg_store *st = NULL;
    /* A file's bytes are hashed; a database source has no bytes of its own. */
    int db = cseg_db_is_uri(j->src->path);
    int rc = db ? 0 : cseg_store_sha256_file(j->src->path, sha, &j->diag);
    if (rc == 0)
        rc = cseg_store_open(&st, o->db, &j->diag);
    if (rc == 0) {
        cseg_store_run_info info = {strcmp(o->cmd, "fit") == 0 ? "fit" : "run", db ? NULL : sha,
                                    ptext, files_written, j};
        rc = cseg_store_put_run(st, j->r, &info, &j->id, &j->diag);
    }
    cseg_store_close(st);
    free(ptext);
    j->rc = rc;
    return NULL;
}

static void files_done(store_job *j, int ok)
{
    pthread_mutex_lock(&j->mu);
    j->files = ok ? 1 : -1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static int stored(const seg_opts *o, const store_job *j)
{
    char shown[1024];
    cseg_db_uri_redact(o->db, shown, sizeof shown);
    if (j->rc < 0) {
        cseg_diag diag = j->diag;
        return cli_fail(j->rc == CSEG_EINVAL ? CSEG_EIO : j->rc, &diag, shown);
    }
    printf("Stored run %" PRId64 " in %s (%zu customers).\n", j->id, shown, cseg_segment_n(j->r));
    return EXIT_OK;
}

/* The previous run from a store: its newest run made by the same command
 * (run or fit), its memberships as a customers.csv would give them. */
typedef struct prev_rows {
    const char *cmd;
    int64_t run_id;
    int failed; /* out of memory: the rows are incomplete */
    size_t n, cap;
    char **id, **name;
    double *seg;
    json_t **feat;
} prev_rows;

static int newest_run(const cseg_store_run *run, void *ctx)
{
    prev_rows *p = ctx;
    if (strcmp(run->command, p->cmd) != 0)
        return 0;
    p->run_id = run->run_id;
    return 1;
}

static int member_row(const cseg_store_member *m, void *ctx)
{
    prev_rows *p = ctx;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 1024;
        char **id = realloc(p->id, cap * sizeof *id);
        if (id)
            p->id = id;
        char **nm = realloc(p->name, cap * sizeof *nm);
        if (nm)
            p->name = nm;
        double *sg = realloc(p->seg, cap * sizeof *sg);
        if (sg)
            p->seg = sg;
        json_t **ft = realloc(p->feat, cap * sizeof *ft);
        if (ft)
            p->feat = ft;
        if (!id || !nm || !sg || !ft) {
            p->failed = 1;
            return -1;
        }
        p->cap = cap;
    }
    p->id[p->n] = strdup(m->customer_id);
    p->name[p->n] = strdup(m->segment_name ? m->segment_name : "");
    p->seg[p->n] = m->segment;
    p->feat[p->n] = m->features_json ? json_loads(m->features_json, 0, NULL) : NULL;
    if (!p->id[p->n] || !p->name[p->n]) {
        free(p->id[p->n]);
        free(p->name[p->n]);
        json_decref(p->feat[p->n]);
        p->failed = 1;
        return -1;
    }
    p->n++;
    return 0;
}

static void prev_rows_free(prev_rows *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->id[i]);
        free(p->name[i]);
        json_decref(p->feat[i]);
    }
    free(p->id), free(p->name), free(p->seg), free(p->feat);
}

/* The rows as a table: customer_id, segment, segment_name and the features
 * (a key of numbers as numbers, else as text). */
static int prev_table(const prev_rows *p, cseg_table **out)
{
    cseg_table *t = NULL;
    size_t n = p->n;
    int32_t *code = malloc((n ? n : 1) * sizeof *code);
    double *num = malloc((n ? n : 1) * sizeof *num);
    const char **lv = malloc((n ? n : 1) * sizeof *lv);
    int rc = code && num && lv ? cseg_table_create(&t, n) : CSEG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        code[i] = (int32_t)i;
    if (rc == 0)
        rc = cseg_table_add_text(t, CSEG_RFM_COL_CUSTOMER_ID, (const char *const *)p->id, n, code);
    if (rc == 0)
        rc = cseg_table_add_numbers(t, "segment", p->seg);
    if (rc == 0)
        rc = cseg_table_add_text(t, "segment_name", (const char *const *)p->name, n, code);
    const char *key;
    json_t *v;
    json_object_foreach(n ? p->feat[0] : NULL, key, v)
    {
        if (rc < 0 || strcmp(key, CSEG_RFM_COL_CUSTOMER_ID) == 0 || strcmp(key, "segment") == 0 ||
            strcmp(key, "segment_name") == 0)
            continue;
        int text = 0;
        for (size_t i = 0; i < n && !text; i++)
            text = json_is_string(json_object_get(p->feat[i], key));
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_object_get(p->feat[i], key);
            num[i] = json_is_number(x) ? json_number_value(x) : NAN;
            lv[i] = json_is_string(x) ? json_string_value(x) : "";
            code[i] = json_is_string(x) ? (int32_t)i : -1;
        }
        rc = text ? cseg_table_add_text(t, key, lv, n, code) : cseg_table_add_numbers(t, key, num);
    }
    free(code), free(num), free(lv);
    if (rc < 0) {
        cseg_table_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* With --db and no --previous: the store's newest run of the same command,
 * if any, is the previous run (*t NULL otherwise). */
static int previous_from_store(const seg_opts *o, cseg_table **t, int64_t *run_id)
{
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_store *st = NULL;
    prev_rows p = {strcmp(o->cmd, "fit") == 0 ? "fit" : "run", 0, 0, 0, 0, NULL, NULL, NULL, NULL};
    int rc = cseg_store_open(&st, o->db, &diag);
    if (rc == 0)
        rc = cseg_store_runs(st, newest_run, &p, &diag);
    if (rc == 0 && p.run_id)
        rc = cseg_store_members(st, p.run_id, 0, member_row, &p, &diag);
    cseg_store_close(st);
    if (rc == 0 && p.failed)
        rc = CSEG_ENOMEM;
    if (rc == 0 && p.run_id && p.n) /* a run whose customers were all forgotten: none */
        rc = prev_table(&p, t);
    prev_rows_free(&p);
    *run_id = p.run_id;
    return rc < 0 ? cli_fail(rc, &diag, o->db) : EXIT_OK;
}

/* What the previous run became, from segments.json's "previous". */
static void print_previous(const cseg_segmentation *r)
{
    json_t *j = json_loads(cseg_segment_json(r), 0, NULL), *pv = json_object_get(j, "previous");
    if (!pv) {
        json_decref(j);
        return;
    }
    json_t *segs = json_object_get(pv, "segments"), *van = json_object_get(pv, "vanished");
    json_t *ari = json_object_get(pv, "adjusted_rand");
    char arit[32] = "-"; /* null: no customer in both (it printed 0.0000) */
    if (json_is_number(ari))
        snprintf(arit, sizeof arit, "%.4f", json_number_value(ari));
    printf("\nSince the previous run: %lld customers in both, adjusted Rand index %s\n",
           (long long)json_integer_value(json_object_get(pv, "shared_customers")), arit);
    for (size_t s = 0; s < json_array_size(segs); s++) {
        json_t *x = json_array_get(segs, s);
        json_t *prev = json_object_get(x, "previous_segment");
        if (json_is_integer(prev))
            printf("  %3zu  %-40.40s continues previous segment %lld (overlap %.2f)\n", s + 1,
                   json_string_value(json_object_get(x, "name")),
                   (long long)json_integer_value(prev),
                   json_real_value(json_object_get(x, "jaccard")));
        else
            printf("  %3zu  %-40.40s new\n", s + 1, json_string_value(json_object_get(x, "name")));
    }
    for (size_t v = 0; v < json_array_size(van); v++) {
        json_t *x = json_array_get(van, v);
        printf("       previous segment %lld (%s) vanished\n",
               (long long)json_integer_value(json_object_get(x, "segment")),
               json_string_value(json_object_get(x, "name")));
    }
    json_decref(j);
}

static int write_outputs(const seg_opts *o, cseg_segmentation *r, int parts, cli_progress *cp)
{
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_segment_set_progress(r, on_progress, cp);
    int rc = parts ? cli_mpi_write_all(r, o->out_dir, on_warning, NULL, &diag)
                   : cseg_segment_write_all(r, o->out_dir, on_warning, NULL, &diag);
    cseg_segment_set_progress(r, NULL, NULL);
    if (cp->line_open) { /* the "writing" line goes before the summary */
        cli_status_line(NULL);
        cp->line_open = 0;
    }
    if (rc < 0)
        return cli_fail(rc, &diag, NULL);
    if (cseg_segment_quality(r))
        print_quality(cseg_segment_quality(r));
    print_k_table(r, stdout);
    print_segments(r, cseg_segment_quality(r) != NULL);
    print_previous(r);
    const char *sep = o->out_dir[strlen(o->out_dir) - 1] == '/' ? "" : "/";
    printf("\nWrote %s%scustomers.csv, %s%ssegments.json, %s%smodel.json, %s%sreport.html",
           o->out_dir, sep, o->out_dir, sep, o->out_dir, sep, o->out_dir, sep);
    if (cseg_segment_linkage(r, NULL, NULL))
        printf(", %s%sdendrogram.csv, %s%sdendrogram.json", o->out_dir, sep, o->out_dir, sep);
    printf("\n");
    return EXIT_OK;
}

static void print_cell(double v, int w, int prec)
{
    if (isfinite(v))
        printf(" %*.*f", w, prec, v);
    else
        printf(" %*s", w, "-");
}

static int print_comparison(const seg_opts *o, const cseg_comparison *c)
{
    if (o->json) {
        char *text = cseg_compare_json(c);
        int ok = text && fputs(text, stdout) != EOF && fputc('\n', stdout) != EOF;
        free(text);
        return ok ? EXIT_OK : cli_error(EXIT_IO, "cannot write to stdout");
    }
    size_t n = cseg_compare_n_compared(c), n_all = cseg_compare_n_customers(c);
    size_t d = cseg_compare_dim(c), best = cseg_compare_recommended(c);
    const cseg_compare_row *rows = cseg_compare_rows(c);
    if (n < n_all)
        printf("%zu of %zu customers (a uniform sample; --subsample 0 compares all), %zu model "
               "features, stability over %zu bootstrap resamples\n\n",
               n, n_all, d, o->bootstrap);
    else
        printf("%zu customers, %zu model features, stability over %zu bootstrap resamples\n\n", n,
               d, o->bootstrap);
    printf("  %-9s %3s %10s %8s %12s %13s %8s %8s %8s %9s\n", "algorithm", "k", "silhouette", "DB",
           "CH", "BIC", "balance", "min_seg", "outliers", "stability");
    for (size_t i = 0; i < cseg_compare_n_rows(c); i++) {
        const cseg_compare_row *r = &rows[i];
        printf("  %-9s %3zu", r->algorithm, r->c.k);
        print_cell(r->c.silhouette, 10, 4);
        print_cell(r->c.davies_bouldin, 8, 4);
        print_cell(r->c.calinski_harabasz, 12, 1);
        print_cell(r->c.bic, 13, 1);
        print_cell(r->balance, 8, 3);
        printf(" %7.1f%%", 100 * r->min_share);
        printf(" %8zu", r->c.n_noise);
        print_cell(r->stability, 9, 3);
        printf("%s\n", i == best ? "  <- recommended" : "");
    }
    printf("\nRecommended: %s with k = %zu (%s).\n", rows[best].algorithm, rows[best].c.k,
           cseg_compare_rule(c));
    if (ferror(stdout) || fflush(stdout) != 0)
        return cli_error(EXIT_IO, "cannot write to stdout");
    return EXIT_OK;
}

/* DIR/customers.csv of a previous run, its id column read as text (the
 * one DIR/model.json names). */
static int read_previous(const char *dir, cseg_table **t, char **idcol)
{
    char mp[4096], cp[4096];
    snprintf(mp, sizeof mp, "%s/model.json", dir);
    snprintf(cp, sizeof cp, "%s/customers.csv", dir);
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_model *m = NULL;
    int rc = cseg_model_load(&m, mp, &diag);
    if (rc < 0)
        return cli_fail(rc, &diag, mp);
    const char *id = cseg_model_source(m) == CSEG_SOURCE_TRANSACTIONS ? CSEG_RFM_COL_CUSTOMER_ID
                                                                      : cseg_model_id_column(m);
    *idcol = id ? strdup(id) : NULL;
    cseg_model_free(m);
    if (!*idcol)
        return cli_error(EXIT_DATA,
                         "%s: the previous run has no customer id column: its customers "
                         "cannot be followed",
                         mp);
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    /* The id, the segment and its name: a file that lacks one, or a
     * segment that is not one, is named by file and line (the library's
     * check named neither, as a usage error). */
    cseg_colspec spec[3] = {{*idcol, CSEG_COL_TEXT, 1},
                            {"segment", CSEG_COL_NUMBER, 0},
                            {"segment_name", CSEG_COL_TEXT, 0}};
    rp.specs = spec;
    rp.n_specs = strcmp(*idcol, "segment") && strcmp(*idcol, "segment_name") ? 3 : 1;
    if ((rc = cseg_table_read_csv(t, cp, &rp, &diag)) < 0)
        return cli_fail(rc, &diag, cp);
    size_t n = cseg_table_n_rows(*t);
    long js = cseg_table_find(*t, "segment");
    const double *sg = js >= 0 ? cseg_table_numbers(*t, (size_t)js) : NULL;
    if (n == 0)
        return cli_error(EXIT_DATA, "%s: no customers in the previous run", cp);
    for (size_t i = 0; sg && i < n; i++)
        if (!(sg[i] >= 1 && sg[i] <= 256 && sg[i] == floor(sg[i])))
            return cli_error(EXIT_DATA, "%s:%ld: segment is not a whole number from 1 to 256", cp,
                             cseg_table_row_line(*t, i));
    return EXIT_OK;
}

int seg_run(seg_opts *o, const seg_source *src)
{
    int status = EXIT_OK, rc;
    cseg_diag diag;
    char **feats = NULL, **names = NULL, **algos = NULL, **audit = NULL;
    size_t nf = 0, nn = 0, na = 0, nau = 0;
    cseg_segmentation *r = NULL;
    cseg_comparison *c = NULL;
    cseg_table *prev = NULL;
    char *prev_id = NULL;
    cli_progress cp = {cli_show_progress(&o->c),
                       o->c.quiet,
                       o->c.verbose,
                       0,
                       o->bootstrap,
                       PH_READ,
                       o->started,
                       {0},
                       {0},
                       0,
                       src->rfm_customers != NULL};
    cseg_diag_clear(&diag);
    if ((o->features && !(feats = cli_split(o->features, &nf))) ||
        (o->names && !(names = cli_split(o->names, &nn))) ||
        (o->audit && !(audit = cli_split(o->audit, &nau))) ||
        (o->compare && o->algos && !(algos = cli_split(o->algos, &na)))) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    cseg_segment_params p = o->p;
    p.features = (const char *const *)feats;
    p.n_features = nf;
    p.names = (const char *const *)names;
    p.n_names = nn;
    p.audit = (const char *const *)audit;
    p.n_audit = nau;
    if (o->previous && (status = read_previous(o->previous, &prev, &prev_id)) != EXIT_OK)
        goto out;
    if (!o->previous && o->db && !o->compare) {
        int64_t run_id = 0;
        if ((status = previous_from_store(o, &prev, &run_id)) != EXIT_OK)
            goto out;
        if (prev && !o->c.quiet)
            fprintf(stderr,
                    "custseg: following run %lld of the store (segments keep its numbers "
                    "and names; --previous DIR chooses another)\n",
                    (long long)run_id);
        prev_id = prev ? strdup(CSEG_RFM_COL_CUSTOMER_ID) : NULL;
    }
    p.previous = prev;
    p.previous_id_column = prev_id;
    p.input_name = src->path;
    p.progress = on_progress;
    p.progress_user = &cp;
    p.log = on_log;
    p.log_user = &cp;
    cli_mpi_segment_params(&p); /* under mpirun: k-means on every process */
    if (src->parts) {
        /* every process segments its part: nothing to say */
    } else if (cli_mpi_size() > 1 && o->compare) {
        on_log(CSEG_LOG_NOTE,
               "under mpirun only k-means is spread over the processes; the other algorithms "
               "run on the first process alone",
               &cp);
    } else if (cli_mpi_size() > 1 && p.algo != CSEG_ALGO_KMEANS) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "%s is not spread over the processes: it runs on the first process alone, on "
                 "all the customers (only k-means uses every process)",
                 cseg_algo_label(p.algo, p.linkage));
        on_log(CSEG_LOG_NOTE, msg, &cp);
    }
    if (o->compare) {
        cseg_compare_params cmp;
        cseg_compare_params_init(&cmp);
        cmp.segment = p;
        cmp.algorithms = (const char *const *)algos;
        cmp.n_algorithms = na;
        cmp.bootstrap = o->bootstrap;
        cmp.subsample = o->subsample;
        if (o->algos && na == 0) {
            status = cli_usage_error(o->cmd, "--algos needs at least one algorithm");
            goto out;
        }
        rc = src->txn ? cseg_compare_transactions(&c, src->txn, src->roles, src->rfm, &cmp, &diag)
                      : cseg_compare_customers(&c, src->customers, src->id_column, &cmp, &diag);
        status = rc < 0 ? fail(o, &cp, rc, &diag) : print_comparison(o, c);
        if (o->timings && status == EXIT_OK && !o->json) {
            phase_to(&cp, PH_WRITE);
            print_timings(&cp, o->started);
        }
        goto out;
    }
    rc = src->txn ? cseg_segment_transactions(&r, src->txn, src->roles, src->date_format, src->rfm,
                                              &p, &diag)
         : src->rfm_customers && src->parts
             ? cli_mpi_segment_rfm(&r, *src->rfm_customers, src->quality, src->roles,
                                   src->date_format, src->rfm, &p, &diag)
         : src->rfm_customers ? cseg_segment_rfm(&r, src->rfm_customers, src->quality, src->roles,
                                                 src->date_format, src->rfm, &p, &diag)
         : src->parts         ? cli_mpi_segment(&r, src->customers, src->id_column, &p, &diag)
                      : cseg_segment_customers(&r, src->customers, src->id_column, &p, &diag);
    if (rc < 0) {
        status = fail(o, &cp, rc, &diag);
        goto out;
    }
    phase_to(&cp, PH_WRITE);
    if (o->c.verbose)
        cli_mpi_kmeans_report();
    if (cp.show) {
        cli_status_line("custseg: writing the outputs and the report...");
        cp.line_open = 1;
    }
    if (o->db) {
        store_job job = {.o = o, .src = src, .r = r};
        pthread_t th;
        pthread_mutex_init(&job.mu, NULL);
        pthread_cond_init(&job.cv, NULL);
        int threaded = pthread_create(&th, NULL, store_thread, &job) == 0;
        if (!threaded)
            job.files = -1; /* no thread: outputs first, then the store, here */
        status = write_outputs(o, r, src->parts, &cp);
        if (threaded) {
            files_done(&job, status == EXIT_OK);
            pthread_join(th, NULL);
        } else if (status == EXIT_OK) {
            job.files = 1;
            store_thread(&job);
        }
        if (status == EXIT_OK)
            status = stored(o, &job);
        pthread_cond_destroy(&job.cv);
        pthread_mutex_destroy(&job.mu);
    } else {
        status = write_outputs(o, r, src->parts, &cp);
    }
    if (o->timings && status == EXIT_OK) {
        phase_to(&cp, PH_WRITE);
        print_timings(&cp, o->started);
    }
out:
    cseg_segment_free(r);
    cseg_compare_free(c);
    cli_free_list(feats);
    cli_free_list(names);
    cli_free_list(algos);
    cli_free_list(audit);
    cseg_table_free(prev);
    free(prev_id);
    return status;
}
