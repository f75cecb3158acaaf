/* cseg_mpi_metrics_davies_bouldin, _calinski_harabasz and _silhouette on
 * 1-4 ranks against one process (run by tests/mpi/mpi_lib.sh): every rank
 * makes the same labelled rows and keeps the block cseg_mpi_kmeans_split
 * gives it (200,000 rows: four spans, the last short), and every rank's
 * value must be one process's of all the rows, bit for bit: labels that are
 * not 0..k-1 (one of them on the last row alone, so only the last rank
 * holds it), noise rows, the sampled silhouette (20,000 rows) and the exact
 * one of a set of one span (the last ranks hold none of it), and the
 * refusals. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <custseg/custseg.h>
#include <custseg/mpi.h>

#include "mpi_util.h"

/* n x d rows around 5 centres; labels 10, 20, ..., 50 by nearest centre,
 * every 97th row noise (-1); label 70 on the last row alone. */
static void make(size_t n, size_t d, uint64_t seed, double **Xo, int32_t **lo)
{
    double *X = malloc(n * d * sizeof *X), ctr[5][16];
    int32_t *lab = malloc(n * sizeof *lab);
    uint64_t s = seed;
    for (int c = 0; c < 5; c++)
        for (size_t j = 0; j < d; j++)
            ctr[c][j] = 8 * unif(&s) - 4;
    for (size_t i = 0; i < n; i++) {
        int c = (int)(next(&s) % 5);
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = ctr[c][j] + 2 * (unif(&s) + unif(&s) - 1);
        lab[i] = i % 97 == 5 ? -1 : 10 * (c + 1);
    }
    lab[n - 1] = 70;
    *Xo = X;
    *lo = lab;
}

static void same(const char *what, int r_mpi, double v_mpi, int r_one, double v_one)
{
    CHECK(r_mpi == r_one, "%s: code %d, one process %d", what, r_mpi, r_one);
    CHECK(r_mpi < 0 || memcmp(&v_mpi, &v_one, sizeof v_one) == 0,
          "%s: %.17g, one process %.17g", what, v_mpi, v_one);
}

int main(int argc, char **argv)
{
    start(&argc, &argv);
    size_t n = 200000, d = 6, row0, n_rows;
    double *X, v1, v2;
    int32_t *lab;
    cseg_diag diag;
    make(n, d, 3, &X, &lab);
    cseg_mpi_kmeans_split(MPI_COMM_WORLD, n, &row0, &n_rows);
    const double *Xr = X + row0 * d;
    const int32_t *lr = lab + row0;

    /* 1. Davies-Bouldin and Calinski-Harabasz of all the rows. */
    int r1 = cseg_mpi_metrics_davies_bouldin(MPI_COMM_WORLD, Xr, n_rows, d, lr, &v1, &diag);
    int r2 = cseg_metrics_davies_bouldin(X, n, d, lab, &v2);
    same("Davies-Bouldin", r1, v1, r2, v2);
    r1 = cseg_mpi_metrics_calinski_harabasz(MPI_COMM_WORLD, Xr, n_rows, d, lr, &v1, &diag);
    r2 = cseg_metrics_calinski_harabasz(X, n, d, lab, &v2);
    same("Calinski-Harabasz", r1, v1, r2, v2);
    CHECK(r2 == 0 && v2 > 0, "Calinski-Harabasz of one process: %d %g", r2, v2);

    /* 2. The sampled silhouette, two seeds, and with two threads. */
    cseg_silhouette_params sp;
    cseg_silhouette_params_init(&sp);
    sp.sample_size = 20000;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        sp.seed = seed;
        sp.n_threads = (int)seed;
        r1 = cseg_mpi_metrics_silhouette(MPI_COMM_WORLD, Xr, n_rows, d, lr, &sp, &v1, &diag);
        r2 = cseg_metrics_silhouette(X, n, d, lab, &sp, &v2, NULL);
        same("sampled silhouette", r1, v1, r2, v2);
    }

    /* 3. The exact silhouette of a small set (sample 0, and a sample larger
     *    than the rows): 3,000 rows, one span, so the last ranks hold none. */
    size_t ns = 3000, s0, sn;
    cseg_mpi_kmeans_split(MPI_COMM_WORLD, ns, &s0, &sn);
    int32_t *ls = malloc(ns * sizeof *ls);
    memcpy(ls, lab, ns * sizeof *ls);
    ls[ns - 1] = 70;
    for (size_t t = 0; t < 2; t++) {
        sp.sample_size = t ? 5000 : 0;
        r1 = cseg_mpi_metrics_silhouette(MPI_COMM_WORLD, X + s0 * d, sn, d, ls + s0, &sp, &v1,
                                         &diag);
        r2 = cseg_metrics_silhouette(X, ns, d, ls, &sp, &v2, NULL);
        same("exact silhouette", r1, v1, r2, v2);
        r1 = cseg_mpi_metrics_davies_bouldin(MPI_COMM_WORLD, X + s0 * d, sn, d, ls + s0, &v1,
                                             &diag);
        r2 = cseg_metrics_davies_bouldin(X, ns, d, ls, &v2);
        same("Davies-Bouldin of one span", r1, v1, r2, v2);
    }

    /* 4. Refusals, on every rank alike: one cluster; rows off the spans. */
    int32_t *one = malloc(n * sizeof *one);
    for (size_t i = 0; i < n; i++)
        one[i] = 3;
    r1 = cseg_mpi_metrics_calinski_harabasz(MPI_COMM_WORLD, Xr, n_rows, d, one + row0, &v1, &diag);
    r2 = cseg_metrics_calinski_harabasz(X, n, d, one, &v2);
    CHECK(r1 == r2 && r1 == CSEG_EINVAL, "one cluster: %d, one process %d", r1, r2);
    r1 = cseg_mpi_metrics_silhouette(MPI_COMM_WORLD, Xr, n_rows, d, one + row0, &sp, &v1, &diag);
    CHECK(r1 == CSEG_EINVAL, "silhouette of one cluster: %d", r1);
    if (size > 1) {
        size_t off = rank == 0 ? 1 : 0; /* rank 0 a row short: rank 1 starts off a span */
        r1 = cseg_mpi_metrics_davies_bouldin(MPI_COMM_WORLD, Xr + off * d,
                                             n_rows > off ? n_rows - off : 0, d, lr + off, &v1,
                                             &diag);
        CHECK(r1 == CSEG_EINVAL && strstr(diag.msg, "span"), "off the spans: %d %s", r1,
              diag.msg);
    }
    free(one);
    free(ls);
    free(X);
    free(lab);
    return finish();
}
