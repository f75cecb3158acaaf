/* custseg benchmark driver: times library calls on a numeric CSV, printing
 * one JSON object per run. Used by bench/compare.py; not a test.
 *
 *   cseg_bench read FILE
 *   cseg_bench kmeans FILE K N_INIT MAX_ITER THREADS lloyd|hamerly SEED
 *     (also iteration_seconds: an iteration after the first, seeding left out;
 *     floor_seconds: one pass reading X, the memory floor of an iteration)
 *   cseg_bench silhouette FILE N_ROWS THREADS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custseg/custseg.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int load(const char *path, cseg_table **t, double **X, size_t *n, size_t *d)
{
    cseg_diag diag;
    char buf[1200];
    if (cseg_table_read_csv(t, path, NULL, &diag) < 0) {
        fprintf(stderr, "cseg_bench: %s\n", cseg_diag_format(&diag, buf, sizeof buf));
        return 1;
    }
    *n = cseg_table_n_rows(*t);
    *d = cseg_table_n_cols(*t);
    if (!X)
        return 0;
    /* On 64-byte lines, as the matrix custseg fit builds (cseg__prepare). */
    void *p = NULL;
    if (posix_memalign(&p, 64, (*n ? *n : 1) * *d * sizeof **X))
        return 1;
    *X = p;
    for (size_t j = 0; j < *d; j++) {
        const double *c = cseg_table_numbers(*t, j);
        if (!c)
            return 1;
        for (size_t i = 0; i < *n; i++)
            (*X)[i * *d + j] = c[i];
    }
    return 0;
}

int main(int argc, char **argv)
{
    cseg_table *t = NULL;
    double *X = NULL;
    size_t n, d;
    if (argc >= 3 && strcmp(argv[1], "read") == 0) {
        double t0 = now();
        if (load(argv[2], &t, NULL, &n, &d))
            return 1;
        printf("{\"op\":\"read\",\"rows\":%zu,\"cols\":%zu,\"seconds\":%.6f}\n", n, d, now() - t0);
    } else if (argc >= 9 && strcmp(argv[1], "kmeans") == 0) {
        if (load(argv[2], &t, &X, &n, &d))
            return 1;
        cseg_kmeans_params p;
        cseg_kmeans_params_init(&p);
        p.k = (size_t)atol(argv[3]);
        p.n_init = (size_t)atol(argv[4]);
        p.max_iter = (size_t)atol(argv[5]);
        p.n_threads = atoi(argv[6]);
        p.algorithm = strcmp(argv[7], "lloyd") == 0 ? CSEG_KMEANS_LLOYD : CSEG_KMEANS_HAMERLY;
        p.seed = (uint64_t)atoll(argv[8]);
        cseg_kmeans *km;
        if (cseg_kmeans_create(&km, &p) < 0)
            return 1;
        double t0 = now();
        if (cseg_kmeans_fit(km, X, n, d, NULL, NULL) < 0)
            return 1;
        double el = now() - t0;
        /* An iteration alone: the same fit stopped after its first iteration
         * (the same seeding), its time taken from the whole fit's, per
         * iteration after the first. */
        size_t n_iter = cseg_kmeans_n_iter(km);
        double iter_s = 0;
        if (n_iter > 1) {
            cseg_kmeans_params p1 = p;
            cseg_kmeans *k1;
            p1.max_iter = 1;
            if (cseg_kmeans_create(&k1, &p1) < 0)
                return 1;
            double t1 = now();
            if (cseg_kmeans_fit(k1, X, n, d, NULL, NULL) < 0)
                return 1;
            iter_s = (el - (now() - t1)) / (double)(n_iter - 1);
            cseg_kmeans_free(k1);
        }
        /* The memory floor of one iteration: X read once by a plain summing
         * loop, the fastest of 5 passes (X is in memory, as for the fit).
         * Sixteen independent sums, so that the loop waits on memory and not
         * on the adder: with four scalar sums (before 2026-12-07) one add's
         * latency per element bound it, and on a Xeon it took 3.5-5.4 ms
         * where memory allows 2.2 (bench/README.md). */
        double floor_s = 1e30, sum = 0;
        for (int r = 0; r < 5; r++) {
            double f0 = now(), s[16] = {0};
            size_t m = n * d, i = 0;
            for (; i + 16 <= m; i += 16)
                for (int q = 0; q < 16; q++)
                    s[q] += X[i + (size_t)q];
            for (; i < m; i++)
                s[0] += X[i];
            double fe = now() - f0;
            for (int q = 0; q < 16; q++)
                sum += s[q];
            floor_s = fe < floor_s ? fe : floor_s;
        }
        printf("{\"op\":\"kmeans\",\"algo\":\"%s\",\"seconds\":%.6f,\"n_iter\":%zu,"
               "\"inertia\":%.17g,\"skipped\":%.4f,\"iteration_seconds\":%.6f,"
               "\"floor_seconds\":%.6f,\"checksum\":%g}\n",
               argv[7], el, n_iter, cseg_kmeans_inertia(km), cseg_kmeans_skipped_fraction(km),
               iter_s, floor_s, sum);
        cseg_kmeans_free(km);
    } else if (argc >= 5 && strcmp(argv[1], "silhouette") == 0) {
        if (load(argv[2], &t, &X, &n, &d))
            return 1;
        size_t m = (size_t)atol(argv[3]);
        if (m > n)
            m = n;
        cseg_kmeans_params p;
        cseg_kmeans_params_init(&p);
        p.k = 8;
        p.n_init = 1;
        cseg_kmeans *km;
        int32_t *lab = malloc(m * sizeof *lab);
        if (!lab || cseg_kmeans_create(&km, &p) < 0 || cseg_kmeans_fit(km, X, m, d, NULL, NULL) < 0)
            return 1;
        memcpy(lab, cseg_kmeans_labels(km), m * sizeof *lab);
        cseg_silhouette_params sp;
        cseg_silhouette_params_init(&sp);
        sp.n_threads = atoi(argv[4]);
        double s, t0 = now();
        if (cseg_metrics_silhouette(X, m, d, lab, &sp, &s, NULL) < 0)
            return 1;
        printf("{\"op\":\"silhouette\",\"n\":%zu,\"seconds\":%.6f,\"value\":%.17g}\n", m,
               now() - t0, s);
        cseg_kmeans_free(km);
        free(lab);
    } else {
        fprintf(stderr, "usage: see the comment at the top of bench/cseg_bench.c\n");
        return 2;
    }
    free(X);
    cseg_table_free(t);
    return 0;
}
