/* custseg DBSCAN benchmark driver: times library calls on a numeric CSV,
 * printing one JSON object per run. Used by bench/compare_dbscan.py; not a test.
 *
 *   cseg_bench_dbscan fit FILE EPS MIN_SAMPLES THREADS [LABELS_OUT]
 *       times cseg_dbscan_fit (and predict of the training rows); LABELS_OUT
 *       receives n int32 labels then n uint8 core flags (raw, native order)
 *   cseg_bench_dbscan suggest FILE MIN_SAMPLES THREADS
 *       times cseg_dbscan_suggest_eps
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custseg/custseg.h"
#include "custseg/dbscan.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int load(const char *path, double **X, size_t *n, size_t *d)
{
    cseg_diag diag;
    cseg_table *t;
    char buf[1200];
    if (cseg_table_read_csv(&t, path, NULL, &diag) < 0) {
        fprintf(stderr, "cseg_bench_dbscan: %s\n", cseg_diag_format(&diag, buf, sizeof buf));
        return 1;
    }
    *n = cseg_table_n_rows(t);
    *d = cseg_table_n_cols(t);
    *X = malloc(*n * *d * sizeof **X);
    if (!*X)
        return 1;
    for (size_t j = 0; j < *d; j++) {
        const double *c = cseg_table_numbers(t, j);
        if (!c)
            return 1;
        for (size_t i = 0; i < *n; i++)
            (*X)[i * *d + j] = c[i];
    }
    /* The table is not needed any more: free it so peak memory is DBSCAN's. */
    cseg_table_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    double *X = NULL;
    size_t n, d;
    char buf[1200];
    if (argc >= 6 && strcmp(argv[1], "fit") == 0) {
        if (load(argv[2], &X, &n, &d))
            return 1;
        cseg_dbscan_params p;
        cseg_dbscan_params_init(&p);
        p.eps = atof(argv[3]);
        p.min_samples = (size_t)atol(argv[4]);
        p.n_threads = atoi(argv[5]);
        cseg_dbscan *db;
        cseg_diag diag;
        cseg_diag_clear(&diag);
        if (cseg_dbscan_create(&db, &p) < 0)
            return 1;
        double t0 = now();
        int rc = cseg_dbscan_fit(db, X, n, d, &diag);
        double el = now() - t0;
        if (rc < 0) {
            fprintf(stderr, "cseg_bench_dbscan: %s: %s\n", cseg_strerror(rc),
                    cseg_diag_format(&diag, buf, sizeof buf));
            return 1;
        }
        const int32_t *lab = cseg_dbscan_labels(db);
        size_t noise = 0;
        for (size_t i = 0; i < n; i++)
            noise += lab[i] < 0;
        int32_t *pl = malloc(n * sizeof *pl);
        if (!pl)
            return 1;
        t0 = now();
        cseg_dbscan_predict(db, X, n, pl, NULL);
        double pel = now() - t0;
        size_t agree = 0;
        for (size_t i = 0; i < n; i++)
            agree += pl[i] == lab[i];
        printf("{\"op\":\"dbscan\",\"n\":%zu,\"d\":%zu,\"eps\":%.17g,\"min_samples\":%zu,"
               "\"threads\":%d,\"seconds\":%.6f,\"n_clusters\":%zu,\"n_core\":%zu,"
               "\"n_noise\":%zu,\"predict_seconds\":%.6f,\"predict_agree\":%zu}\n",
               n, d, p.eps, p.min_samples, p.n_threads, el, cseg_dbscan_n_clusters(db),
               cseg_dbscan_n_core(db), noise, pel, agree);
        if (argc >= 7) {
            FILE *f = fopen(argv[6], "wb");
            if (!f || fwrite(lab, sizeof *lab, n, f) != n ||
                fwrite(cseg_dbscan_is_core(db), 1, n, f) != n || fclose(f) != 0)
                return 1;
        }
        free(pl);
        cseg_dbscan_free(db);
    } else if (argc >= 5 && strcmp(argv[1], "suggest") == 0) {
        if (load(argv[2], &X, &n, &d))
            return 1;
        size_t ms = (size_t)atol(argv[3]);
        double eps, t0 = now();
        int rc = cseg_dbscan_suggest_eps(X, n, d, ms, atoi(argv[4]), &eps, NULL);
        if (rc < 0) {
            fprintf(stderr, "cseg_bench_dbscan: %s\n", cseg_strerror(rc));
            return 1;
        }
        printf("{\"op\":\"suggest_eps\",\"n\":%zu,\"d\":%zu,\"min_samples\":%zu,"
               "\"seconds\":%.6f,\"eps\":%.17g}\n",
               n, d, ms, now() - t0, eps);
    } else {
        fprintf(stderr, "usage: see the comment at the top of bench/cseg_bench_dbscan.c\n");
        return 2;
    }
    free(X);
    return 0;
}
