/* custseg PCA benchmark driver: times cseg_pca_fit_params and
 * cseg_pca_transform on a raw file of n x d little-endian doubles (row-major,
 * as numpy's tofile writes), printing one JSON object. Used by
 * bench/compare_pca.py; not a test.
 *
 *   cseg_bench_pca FILE N D THREADS [N_COMPONENTS]   (0 or absent: all d)
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

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: cseg_bench_pca FILE N D THREADS [N_COMPONENTS]\n");
        return 2;
    }
    size_t n = (size_t)atol(argv[2]), d = (size_t)atol(argv[3]);
    int threads = atoi(argv[4]);
    size_t nc = argc > 5 ? (size_t)atol(argv[5]) : 0;
    double *X = malloc(n * d * sizeof *X);
    FILE *f = fopen(argv[1], "rb");
    if (!X || !f || fread(X, sizeof *X, n * d, f) != n * d) {
        fprintf(stderr, "cseg_bench_pca: cannot read %zu x %zu doubles from %s\n", n, d, argv[1]);
        return 1;
    }
    fclose(f);
    cseg_pca_params p;
    cseg_pca_params_init(&p);
    p.n_components = nc ? nc : d;
    p.n_threads = threads;
    cseg_pca *pca;
    cseg_diag diag;
    char buf[1200];
    cseg_diag_clear(&diag);
    double t0 = now();
    if (cseg_pca_fit_params(&pca, X, n, d, &p, &diag) < 0) {
        fprintf(stderr, "cseg_bench_pca: %s\n", cseg_diag_format(&diag, buf, sizeof buf));
        return 1;
    }
    double fit_s = now() - t0;
    size_t k = cseg_pca_n_components(pca);
    double *Y = malloc(n * k * sizeof *Y);
    if (!Y)
        return 1;
    /* Fault the output's pages in first (not with zeros, which the compiler may
     * turn into a lazy calloc): the kernel is timed, not the page faults. */
    memset(Y, 0xff, n * k * sizeof *Y);
    t0 = now();
    if (cseg_pca_transform(pca, X, n, Y) < 0)
        return 1;
    double tr_s = now() - t0;
    /* Mean |y| per component: a cheap figure to compare with the peer. */
    printf("{\"op\":\"pca\",\"n\":%zu,\"d\":%zu,\"threads\":%d,\"n_components\":%zu,"
           "\"fit_seconds\":%.6f,\"transform_seconds\":%.6f,\"explained_variance\":[",
           n, d, threads, k, fit_s, tr_s);
    const double *var = cseg_pca_explained_variance(pca);
    for (size_t c = 0; c < k; c++)
        printf("%s%.17g", c ? "," : "", var[c]);
    printf("],\"mean_abs_y\":[");
    for (size_t c = 0; c < k; c++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += Y[i * k + c] < 0 ? -Y[i * k + c] : Y[i * k + c];
        printf("%s%.17g", c ? "," : "", s / (double)n);
    }
    printf("]}\n");
    cseg_pca_free(pca);
    free(Y);
    free(X);
    return 0;
}
