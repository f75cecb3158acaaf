/* custseg compare: fit several algorithms over a range of k on the same
 * prepared customers and recommend one (docs/algorithms.md#compare).
 *
 * The input is read exactly as `run` reads a transaction log or `fit` reads a
 * customer table (the header decides), so every option of those commands
 * applies. Each candidate (algorithm, k) gets the internal indices of the k
 * table, BIC for mixtures, the size balance of its segments, and a stability
 * score: the mean adjusted Rand index between its labels and the labels that
 * the same algorithm, fitted on a bootstrap resample (n rows drawn with
 * replacement), gives every customer by its rule for new customers.
 *
 * Recommendation: among the candidates that are stable (stability >= 0.75),
 * balanced (the smallest segment holds at least 2% of customers) and, for
 * DBSCAN, leave at most 20% of customers as outliers, the highest silhouette;
 * ties go to fewer segments. When none qualifies, the highest silhouette
 * overall, with a note saying which condition failed everywhere.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define STABLE_MIN 0.75
#define MIN_SHARE 0.02
#define MAX_OUTLIERS 0.20

static const char help[] =
    "usage: custseg compare FILE [options]\n"
    "\n"
    "Fit several clustering algorithms over a range of k on the same customers and print\n"
    "one table: silhouette, Davies-Bouldin, Calinski-Harabasz, BIC (gmm), segment-size\n"
    "balance, outliers (dbscan) and stability (mean adjusted Rand index over bootstrap\n"
    "resamples), then recommend one candidate (rule in docs/algorithms.md). FILE is a\n"
    "transaction log (read as `custseg run` does) or a customer table (as `custseg fit`);\n"
    "the header decides. Nothing is written; the table goes to stdout.\n"
    "\n"
    "  --algos a,b,...   algorithms (default kmeans,ward,gmm,dbscan; also complete,\n"
    "                    average, single)\n"
    "  --k A..B | N      candidate numbers of segments (default 2..10; dbscan finds its own)\n"
    "  --bootstrap B     resamples per candidate for stability (default 10; 0 = skip)\n"
    "  --subsample N     compare on a uniform sample of N customers when there are more\n"
    "                    (default 20000; 0 = all)\n"
    "  --format text|json   output format (default text)\n"
    "  --features, --scale, --log, --pca, --seed, --n-init, --max-iter, --tol, --sample,\n"
    "  --eps, --min-samples, --covariance, --threads, --quiet: as for run and fit;\n"
    "  the column options of run (--customer, --date, ...) or fit (--id) apply to FILE.\n";

typedef struct row {
    char algo[16];
    seg_cand c;
    double balance, min_share, outlier_share, stability;
    int ok;
} row;

/* splitmix64: the CLI's own small generator for the resamples (the library's
 * RNG is private). */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void sizes_stats(const seg_cand *c, size_t n, row *r)
{
    size_t kc = c->n_clusters;
    size_t *cnt = calloc(kc ? kc : 1, sizeof *cnt);
    r->balance = r->min_share = NAN;
    r->outlier_share = n ? (double)c->n_noise / (double)n : 0;
    if (!cnt)
        return;
    for (size_t i = 0; i < n; i++)
        if (c->labels[i] >= 0)
            cnt[c->labels[i]]++;
    size_t inl = n - c->n_noise, mn = inl;
    double h = 0;
    for (size_t s = 0; s < kc; s++) {
        mn = cnt[s] < mn ? cnt[s] : mn;
        double p = inl ? (double)cnt[s] / (double)inl : 0;
        if (p > 0)
            h -= p * log(p);
    }
    r->min_share = n ? (double)mn / (double)n : NAN;
    r->balance = kc > 1 ? h / log((double)kc) : 1.0;
    free(cnt);
}

/* Stability of every candidate of one algorithm: B resamples, each fitted
 * once over the whole k range. */
static int stability(const seg_opts *o, const seg_fit *f, const double *Z, size_t n, size_t d,
                     row *rows, cseg_diag *diag)
{
    size_t B = o->bootstrap, m = f->n;
    for (size_t t = 0; t < m; t++)
        rows[t].stability = B ? 0 : NAN;
    if (!B)
        return 0;
    double *Zb = malloc((n ? n : 1) * d * sizeof *Zb);
    int32_t *lab = malloc((n ? n : 1) * m * sizeof *lab);
    size_t *cnt = calloc(m, sizeof *cnt);
    int rc = 0;
    if (!Zb || !lab || !cnt) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    seg_opts ob = *o;
    /* The resamples keep the full data's eps so that stability measures the
     * clustering, not a different radius. */
    ob.eps = f->eps;
    uint64_t st = o->km.seed ^ 0x5EEDB0075ULL;
    for (size_t b = 0; b < B; b++) {
        for (size_t i = 0; i < n; i++)
            memcpy(Zb + i * d, Z + (next_u64(&st) % n) * d, d * sizeof *Zb);
        ob.km.seed = o->km.seed + b + 1;
        size_t got = 0;
        if ((rc = seg_fit_predict(&ob, Zb, n, Z, n, d, &got, lab, diag)) < 0) {
            /* A resample on which the algorithm cannot run counts as unstable. */
            rc = 0;
            continue;
        }
        for (size_t t = 0; t < m && t < got; t++) {
            double ari;
            if (cseg_metrics_adjusted_rand(f->c[t].labels, lab + t * n, n, &ari) == 0) {
                rows[t].stability += ari;
                cnt[t]++;
            }
        }
    }
    for (size_t t = 0; t < m; t++)
        rows[t].stability = cnt[t] ? rows[t].stability / (double)B : NAN;
out:
    free(Zb);
    free(lab);
    free(cnt);
    return rc;
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void print_cell(double v, int w, int prec)
{
    if (isfinite(v))
        printf(" %*.*f", w, prec, v);
    else
        printf(" %*s", w, "-");
}

int seg_compare(seg_opts *o, seg_input *in)
{
    int status = EXIT_OK, rc;
    double *Z = NULL;
    size_t d = 0, n = cseg_table_n_rows(in->customers), nrows = 0, cap = 0;
    char **algos = NULL;
    size_t na = 0;
    row *rows = NULL;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    if (n < 4) {
        status = cli_error(EXIT_DATA, "only %zu customer%s: compare needs at least 4", n,
                           n == 1 ? "" : "s");
        goto out;
    }
    algos = cli_split(o->algos ? o->algos : "kmeans,ward,gmm,dbscan", &na);
    if (!algos || na == 0) {
        status = cli_usage_error("compare", "--algos needs at least one algorithm");
        goto out;
    }
    for (size_t a = 0; a < na; a++) {
        seg_opts t = *o;
        if (seg_parse_algo(&t, algos[a]) < 0) {
            status = cli_usage_error("compare", "--algos: unknown algorithm '%s' (kmeans, ward, "
                                                "complete, average, single, dbscan, gmm)",
                                     algos[a]);
            goto out;
        }
    }
    if ((status = seg_prepare(o, in, &Z, &d)) != EXIT_OK)
        goto out;
    size_t n_all = n;
    if (o->subsample && n > o->subsample) {
        /* Choosing needs the shape of the data, not every customer: compare a uniform
         * sample (a partial Fisher-Yates shuffle, kept in row order). */
        size_t *idx = malloc(n * sizeof *idx);
        double *Zs = malloc(o->subsample * d * sizeof *Zs);
        if (!idx || !Zs) {
            free(idx);
            free(Zs);
            status = cli_error(EXIT_IO, "out of memory");
            goto out;
        }
        uint64_t st = o->km.seed ^ 0x5A3B1E5ULL;
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        for (size_t i = 0; i < o->subsample; i++) {
            size_t j = i + (size_t)(next_u64(&st) % (n - i)), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        qsort(idx, o->subsample, sizeof *idx, cmp_size);
        for (size_t i = 0; i < o->subsample; i++)
            memcpy(Zs + i * d, Z + idx[i] * d, d * sizeof *Zs);
        free(idx);
        free(Z);
        Z = Zs;
        n = o->subsample;
    }
    int progress = !o->c.quiet && isatty(2);
    for (size_t a = 0; a < na; a++) {
        seg_opts t = *o;
        seg_fit f;
        seg_parse_algo(&t, algos[a]);
        if (!o->k && t.k_max > n - 1)
            t.k_max = n - 1;
        if ((rc = seg_fit_run(&t, Z, n, d, &f, 1, progress, &diag)) < 0) {
            /* One algorithm that cannot run (memory, no eps) is reported, not fatal. */
            char buf[1200];
            if (!o->c.quiet)
                fprintf(stderr, "custseg: note: %s skipped: %s\n", algos[a],
                        diag.msg[0] ? cseg_diag_format(&diag, buf, sizeof buf)
                                    : cseg_strerror(rc));
            cseg_diag_clear(&diag);
            seg_fit_free(&f);
            continue;
        }
        if (nrows + f.n > cap) {
            cap = (nrows + f.n) * 2;
            row *nr = realloc(rows, cap * sizeof *rows);
            if (!nr) {
                seg_fit_free(&f);
                status = cli_error(EXIT_IO, "out of memory");
                goto out;
            }
            rows = nr;
        }
        row *R = rows + nrows;
        memset(R, 0, f.n * sizeof *R);
        if (progress)
            fprintf(stderr, "\rcustseg: %s: stability over %zu resamples...", algos[a],
                    o->bootstrap);
        rc = stability(&t, &f, Z, n, d, R, &diag);
        if (progress)
            fprintf(stderr, "\r%70s\r", "");
        if (rc < 0) {
            seg_fit_free(&f);
            status = cli_fail(rc, &diag, algos[a]);
            goto out;
        }
        for (size_t i = 0; i < f.n; i++) {
            snprintf(R[i].algo, sizeof R[i].algo, "%s", seg_algo_label(&t));
            R[i].c = f.c[i];
            R[i].c.labels = NULL;
            R[i].c.obj = NULL;
            sizes_stats(&f.c[i], n, &R[i]);
        }
        nrows += f.n;
        seg_fit_free(&f);
    }
    if (nrows == 0) {
        status = cli_error(EXIT_DATA, "no algorithm could be fitted");
        goto out;
    }

    /* The recommendation (rule in the file comment). */
    size_t best = (size_t)-1, any = 0;
    int n_stable = 0, n_balanced = 0;
    for (size_t i = 0; i < nrows; i++) {
        row *r = &rows[i];
        int stable = !(o->bootstrap) || r->stability >= STABLE_MIN;
        int balanced = r->min_share >= MIN_SHARE;
        n_stable += stable;
        n_balanced += balanced;
        r->ok = stable && balanced && r->outlier_share <= MAX_OUTLIERS &&
                isfinite(r->c.silhouette);
        if (isfinite(r->c.silhouette) &&
            (!isfinite(rows[any].c.silhouette) || r->c.silhouette > rows[any].c.silhouette))
            any = i;
        if (r->ok && (best == (size_t)-1 || r->c.silhouette > rows[best].c.silhouette ||
                      (r->c.silhouette == rows[best].c.silhouette && r->c.k < rows[best].c.k)))
            best = i;
    }
    const char *why = "highest silhouette among stable (>= 0.75), balanced (smallest segment "
                      ">= 2%) candidates with at most 20% outliers";
    if (best == (size_t)-1) {
        best = any;
        why = !n_stable     ? "highest silhouette (no candidate is stable: stability < 0.75)"
              : !n_balanced ? "highest silhouette (no candidate is balanced: a segment < 2%)"
                            : "highest silhouette (no candidate meets every condition)";
    }

    if (o->json) {
        json_t *root = json_object(), *arr = json_array();
        json_object_set_new(root, "input", json_string(in->input_path));
        json_object_set_new(root, "n_customers", json_integer((json_int_t)n_all));
        json_object_set_new(root, "n_compared", json_integer((json_int_t)n));
        json_object_set_new(root, "model_features", json_integer((json_int_t)d));
        json_object_set_new(root, "bootstrap", json_integer((json_int_t)o->bootstrap));
        for (size_t i = 0; i < nrows; i++) {
            const row *r = &rows[i];
            json_t *j = json_object();
            json_object_set_new(j, "algorithm", json_string(r->algo));
            json_object_set_new(j, "k", json_integer((json_int_t)r->c.k));
            json_object_set_new(j, "silhouette", jnum(r->c.silhouette));
            json_object_set_new(j, "davies_bouldin", jnum(r->c.db));
            json_object_set_new(j, "calinski_harabasz", jnum(r->c.ch));
            json_object_set_new(j, "bic", jnum(r->c.bic));
            json_object_set_new(j, "balance", jnum(r->balance));
            json_object_set_new(j, "min_share", jnum(r->min_share));
            json_object_set_new(j, "outliers", json_integer((json_int_t)r->c.n_noise));
            json_object_set_new(j, "stability", jnum(r->stability));
            json_object_set_new(j, "qualifies", json_boolean(r->ok));
            json_array_append_new(arr, j);
        }
        json_object_set_new(root, "candidates", arr);
        json_t *rec = json_object();
        json_object_set_new(rec, "algorithm", json_string(rows[best].algo));
        json_object_set_new(rec, "k", json_integer((json_int_t)rows[best].c.k));
        json_object_set_new(rec, "rule", json_string(why));
        json_object_set_new(root, "recommended", rec);
        int ok = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17) |
                                              JSON_PRESERVE_ORDER) == 0;
        json_decref(root);
        if (!ok || fputc('\n', stdout) == EOF)
            status = cli_error(EXIT_IO, "cannot write to stdout");
        goto out;
    }
    if (n < n_all)
        printf("%zu of %zu customers (a uniform sample; --subsample 0 compares all), %zu model "
               "features, stability over %zu bootstrap resamples\n\n",
               n, n_all, d, o->bootstrap);
    else
        printf("%zu customers, %zu model features, stability over %zu bootstrap resamples\n\n",
               n, d, o->bootstrap);
    printf("  %-9s %3s %10s %8s %12s %13s %8s %8s %8s %9s\n", "algorithm", "k", "silhouette",
           "DB", "CH", "BIC", "balance", "min_seg", "outliers", "stability");
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        printf("  %-9s %3zu", r->algo, r->c.k);
        print_cell(r->c.silhouette, 10, 4);
        print_cell(r->c.db, 8, 4);
        print_cell(r->c.ch, 12, 1);
        print_cell(r->c.bic, 13, 1);
        print_cell(r->balance, 8, 3);
        printf(" %7.1f%%", 100 * r->min_share);
        printf(" %8zu", r->c.n_noise);
        print_cell(r->stability, 9, 3);
        printf("%s\n", i == best ? "  <- recommended" : "");
    }
    printf("\nRecommended: %s with k = %zu (%s).\n", rows[best].algo, rows[best].c.k, why);
    if (ferror(stdout) || fflush(stdout) != 0)
        status = cli_error(EXIT_IO, "cannot write to stdout");
out:
    free(rows);
    free(Z);
    cli_free_list(algos);
    return status;
}

/* Find FILE among the arguments (options of run and fit may take values),
 * decide from its header whether it is a transaction log, and hand over to
 * run's or fit's input handling in compare mode. */
int cmd_compare(int argc, char **argv)
{
    static const struct option longopts[] = {
        SEG_LONG_OPTIONS,
        RUN_LONG_OPTIONS,
        {"id", required_argument, 0, OPT_ID},
        {0, 0, 0, 0}};
    int opt, log_roles = 0;
    const char *file = NULL;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (opt == '?')
            return cli_usage_error("compare", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        log_roles |= opt == OPT_CUSTOMER || opt == OPT_DATE || opt == OPT_INVOICE ||
                     opt == OPT_QUANTITY || opt == OPT_PRICE || opt == OPT_AMOUNT;
    }
    if (optind < argc)
        file = argv[optind];
    int is_log = log_roles;
    if (file && !is_log) {
        cseg_csv *r = NULL;
        cseg_diag diag;
        cseg_txn_roles roles;
        memset(&roles, 0, sizeof roles);
        if (cseg_csv_open(&r, file, NULL, &diag) == 0) {
            size_t nc = cseg_csv_n_columns(r);
            const char **hdr = calloc(nc ? nc : 1, sizeof *hdr);
            for (size_t c = 0; hdr && c < nc; c++)
                hdr[c] = cseg_csv_column_name(r, c);
            is_log = hdr && cseg_txn_roles_resolve(&roles, hdr, nc, file, NULL) == 0;
            free(hdr);
            cseg_csv_close(r);
        }
    }
    return is_log ? cmd_run(argc, argv) : cmd_fit(argc, argv);
}
