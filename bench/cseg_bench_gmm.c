/* custseg benchmark driver for Gaussian mixtures: times cseg_gmm_fit on raw
 * little-endian doubles, printing one JSON object per run. Used by
 * bench/compare_gmm.py; not a test.
 *
 *   cseg_bench_gmm fit DATA.f64 N D K COV MAX_ITER TOL THREADS [INIT_PREFIX]
 *
 * COV is full|tied|diag|spherical. With INIT_PREFIX, the start is read from
 * INIT_PREFIX.w.f64 (K), .mu.f64 (K x D) and .prec.f64 (precisions in the
 * layout of COV); without it, the k-means start (seed 0). The fit is run
 * twice, with max_iter = MAX_ITER and with max_iter = 1, so the time of
 * MAX_ITER - 1 EM iterations is their difference (start and final E-step
 * cancel). The JSON has both times, n_iter, the lower bounds, weights and
 * means of the MAX_ITER run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custseg/custseg.h"
#include "custseg/gmm.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double *read_f64(const char *path, size_t count)
{
    FILE *f = fopen(path, "rb");
    double *v = f ? malloc(count * sizeof *v) : NULL;
    if (!v || fread(v, sizeof *v, count, f) != count) {
        fprintf(stderr, "cseg_bench_gmm: cannot read %zu doubles from %s\n", count, path);
        free(v);
        v = NULL;
    }
    if (f)
        fclose(f);
    return v;
}

static void print_array(const char *name, const double *v, size_t n)
{
    printf(",\"%s\":[", name);
    for (size_t i = 0; i < n; i++)
        printf("%s%.17g", i ? "," : "", v[i]);
    printf("]");
}

int main(int argc, char **argv)
{
    if (argc < 10 || strcmp(argv[1], "fit") != 0) {
        fprintf(stderr, "usage: cseg_bench_gmm fit DATA.f64 N D K COV MAX_ITER TOL THREADS "
                        "[INIT_PREFIX]\n");
        return 2;
    }
    size_t n = (size_t)atol(argv[3]), d = (size_t)atol(argv[4]);
    cseg_gmm_params p;
    cseg_gmm_params_init(&p);
    p.k = (size_t)atol(argv[5]);
    const char *names[] = {"full", "tied", "diag", "spherical"};
    int ct = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(argv[6], names[i]) == 0)
            ct = i;
    if (ct < 0)
        return 2;
    p.cov = (cseg_gmm_cov)ct;
    p.max_iter = (size_t)atol(argv[7]);
    p.tol = atof(argv[8]);
    p.n_threads = atoi(argv[9]);
    double *X = read_f64(argv[2], n * d), *w = NULL, *mu = NULL, *prec = NULL;
    if (!X)
        return 1;
    if (argc > 10) {
        char path[4096];
        size_t np = cseg_gmm_cov_size(p.cov, p.k, d);
        snprintf(path, sizeof path, "%s.w.f64", argv[10]);
        w = read_f64(path, p.k);
        snprintf(path, sizeof path, "%s.mu.f64", argv[10]);
        mu = read_f64(path, p.k * d);
        snprintf(path, sizeof path, "%s.prec.f64", argv[10]);
        prec = read_f64(path, np);
        if (!w || !mu || !prec)
            return 1;
        p.init_weights = w;
        p.init_means = mu;
        p.init_precisions = prec;
    }
    cseg_diag diag;
    char buf[1200];
    double secs[2];
    size_t iters[2] = {p.max_iter, 1};
    cseg_gmm *g[2] = {NULL, NULL};
    for (int r = 0; r < 2; r++) {
        cseg_gmm_params q = p;
        q.max_iter = iters[r];
        if (cseg_gmm_create(&g[r], &q) < 0)
            return 1;
        double t0 = now();
        int rc = cseg_gmm_fit(g[r], X, n, d, &diag);
        secs[r] = now() - t0;
        if (rc < 0) {
            fprintf(stderr, "cseg_bench_gmm: %s: %s\n", cseg_strerror(rc),
                    cseg_diag_format(&diag, buf, sizeof buf));
            return 1;
        }
    }
    size_t nb;
    const double *b = cseg_gmm_lower_bounds(g[0], &nb);
    printf("{\"op\":\"gmm\",\"tool\":\"custseg\",\"n\":%zu,\"d\":%zu,\"k\":%zu,\"cov\":\"%s\","
           "\"threads\":%d,\"seconds\":%.6f,\"seconds_1iter\":%.6f,\"n_iter\":%zu,"
           "\"converged\":%d,\"lower_bound\":%.17g,\"lower_bound_1iter\":%.17g",
           n, d, p.k, names[ct], p.n_threads, secs[0], secs[1], cseg_gmm_n_iter(g[0]),
           cseg_gmm_converged(g[0]), cseg_gmm_lower_bound(g[0]), cseg_gmm_lower_bound(g[1]));
    print_array("lower_bounds", b, nb);
    print_array("weights", cseg_gmm_weights(g[0]), p.k);
    print_array("means", cseg_gmm_means(g[0]), p.k * d);
    printf("}\n");
    cseg_gmm_free(g[0]);
    cseg_gmm_free(g[1]);
    free(X);
    free(w);
    free(mu);
    free(prec);
    return 0;
}
