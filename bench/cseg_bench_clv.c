/* custseg lifetime-value benchmark driver: times cseg_bgnbd_fit,
 * cseg_gammagamma_fit and the predictions (P(alive), expected purchases over
 * a year, CLV over 12 months) on a raw file of n x 4 little-endian doubles
 * (frequency, recency, T, monetary_value per customer, row-major), printing
 * one JSON object. Used by bench/compare_clv.py; not a test.
 *
 *   cseg_bench_clv FILE N THREADS UNIT_DAYS
 */
#include <stdio.h>
#include <stdlib.h>
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
        fprintf(stderr, "usage: cseg_bench_clv FILE N THREADS UNIT_DAYS\n");
        return 2;
    }
    size_t n = (size_t)atol(argv[2]);
    double *raw = malloc(n * 4 * sizeof *raw), *col = malloc(n * 5 * sizeof *col);
    FILE *f = fopen(argv[1], "rb");
    if (!raw || !col || !f || fread(raw, sizeof *raw, n * 4, f) != n * 4) {
        fprintf(stderr, "cseg_bench_clv: cannot read %zu x 4 doubles from %s\n", n, argv[1]);
        return 1;
    }
    fclose(f);
    double *x = col, *tx = col + n, *T = col + 2 * n, *m = col + 3 * n, *out = col + 4 * n;
    for (size_t i = 0; i < n; i++) {
        x[i] = raw[4 * i];
        tx[i] = raw[4 * i + 1];
        T[i] = raw[4 * i + 2];
        m[i] = raw[4 * i + 3];
    }
    free(raw);
    cseg_clv_params p;
    cseg_clv_params_init(&p);
    p.n_threads = atoi(argv[3]);
    p.unit_days = atof(argv[4]);
    cseg_diag d;
    char buf[1200];
    cseg_diag_clear(&d);
    double t0 = now();
    if (cseg_bgnbd_fit(&p.bgnbd, x, tx, T, n, &p, &d) < 0) {
        fprintf(stderr, "cseg_bench_clv: %s\n", cseg_diag_format(&d, buf, sizeof buf));
        return 1;
    }
    double t1 = now();
    if (cseg_gammagamma_fit(&p.gamma_gamma, x, m, n, &p, &d) < 0) {
        fprintf(stderr, "cseg_bench_clv: %s\n", cseg_diag_format(&d, buf, sizeof buf));
        return 1;
    }
    double t2 = now();
    p.has_fit = 1;
    cseg_bgnbd_p_alive(p.bgnbd.param, x, tx, T, n, out);
    double t3 = now();
    cseg_bgnbd_expected(p.bgnbd.param, 365.25 / p.unit_days, x, tx, T, n, out);
    double t4 = now();
    cseg_clv_value(&p, x, tx, T, m, n, out);
    double t5 = now();
    printf("{\"n\": %zu, \"bgnbd_s\": %.6f, \"gamma_gamma_s\": %.6f, \"fit_s\": %.6f, "
           "\"p_alive_s\": %.6f, \"expected_s\": %.6f, \"clv_s\": %.6f, "
           "\"bgnbd\": [%.17g, %.17g, %.17g, %.17g], \"bgnbd_iter\": %zu, \"bgnbd_status\": %d, "
           "\"gamma_gamma\": [%.17g, %.17g, %.17g], \"gamma_gamma_iter\": %zu, "
           "\"gamma_gamma_status\": %d, \"bgnbd_ll\": %.17g, \"gamma_gamma_ll\": %.17g}\n",
           n, t1 - t0, t2 - t1, t2 - t0, t3 - t2, t4 - t3, t5 - t4, p.bgnbd.param[0],
           p.bgnbd.param[1], p.bgnbd.param[2], p.bgnbd.param[3], p.bgnbd.n_iter, p.bgnbd.status,
           p.gamma_gamma.param[0], p.gamma_gamma.param[1], p.gamma_gamma.param[2],
           p.gamma_gamma.n_iter, p.gamma_gamma.status, p.bgnbd.loglik, p.gamma_gamma.loglik);
    free(col);
    return 0;
}
