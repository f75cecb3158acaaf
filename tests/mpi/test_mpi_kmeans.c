/* cseg_mpi_kmeans_fit under mpirun -n 1..4 (tests/mpi/mpi_kmeans.sh): the
 * centres, inertia, iterations and labels equal, bit for bit, what
 * cseg_kmeans_fit gives one process on all the rows (rank 0 fits them
 * alone and compares); a bad value on one rank's rows gives every rank the
 * one-process message; rows off the spans are refused on every rank; a
 * pipeline on rank 0 fits through cseg_mpi_kmeans_fit_root with the others
 * serving, and gets one process's result.
 * Plain C (no cmocka): every rank checks, the job fails when any rank
 * does. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <custseg/custseg.h>
#include <custseg/mpi.h>

#include "mpi_util.h"

/* n x d blobs around 6 centres in [-5, 5]^d; every rank makes all of it. */
static double *blobs(size_t n, size_t d, uint64_t seed)
{
    double *X = malloc(n * d * sizeof *X), ctr[6][64];
    uint64_t s = seed;
    for (int c = 0; c < 6; c++)
        for (size_t j = 0; j < d; j++)
            ctr[c][j] = 10 * unif(&s) - 5;
    for (size_t i = 0; i < n; i++) {
        int c = (int)(next(&s) % 6);
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = ctr[c][j] + 2.5 * (unif(&s) + unif(&s) + unif(&s) - 1.5);
    }
    return X;
}

/* Fit on this rank's part of X (n_rows from row0) and, on rank 0, compare
 * with one process's fit of all of X. */
static void compare(const char *what, const double *X, const double *w, size_t n, size_t d,
                    const cseg_kmeans_params *p, size_t row0, size_t n_rows)
{
    cseg_kmeans *km;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    CHECK(cseg_kmeans_create(&km, p) == 0, "%s: create", what);
    int rc = cseg_mpi_kmeans_fit(MPI_COMM_WORLD, km, X + row0 * d, n_rows, d, w ? w + row0 : NULL,
                                 &diag);
    CHECK(rc == 0, "%s: fit: %s", what, diag.msg);
    /* Every rank's labels to rank 0, in rank order. */
    int cnt = (int)n_rows, *counts = malloc((size_t)size * sizeof *counts),
        *displs = malloc((size_t)size * sizeof *displs);
    MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int32_t *lab = malloc((n ? n : 1) * sizeof *lab);
    if (rank == 0)
        for (int r = 0, t = 0; r < size; r++) {
            displs[r] = t;
            t += counts[r];
        }
    const int32_t *mine = rc == 0 ? cseg_kmeans_labels(km) : NULL;
    int32_t none = 0;
    MPI_Gatherv(mine ? mine : &none, mine ? cnt : 0, MPI_INT32_T, lab, counts, displs,
                MPI_INT32_T, 0, MPI_COMM_WORLD);
    if (rank == 0 && rc == 0) {
        cseg_kmeans *one;
        cseg_diag_clear(&diag);
        CHECK(cseg_kmeans_create(&one, p) == 0 && cseg_kmeans_fit(one, X, n, d, w, &diag) == 0,
              "%s: one-process fit: %s", what, diag.msg);
        size_t k = cseg_kmeans_k(one);
        CHECK(memcmp(cseg_kmeans_centroids(one), cseg_kmeans_centroids(km),
                     k * d * sizeof(double)) == 0,
              "%s: centres differ from one process's", what);
        double i1 = cseg_kmeans_inertia(one), i2 = cseg_kmeans_inertia(km);
        CHECK(memcmp(&i1, &i2, sizeof i1) == 0, "%s: inertia %.17g against %.17g", what, i2, i1);
        CHECK(cseg_kmeans_n_iter(one) == cseg_kmeans_n_iter(km) &&
                  cseg_kmeans_converged(one) == cseg_kmeans_converged(km),
              "%s: iterations %zu against %zu", what, cseg_kmeans_n_iter(km),
              cseg_kmeans_n_iter(one));
        CHECK(memcmp(cseg_kmeans_labels(one), lab, n * sizeof *lab) == 0,
              "%s: labels differ from one process's", what);
        if (size == 1 || strstr(what, "empty"))
            printf("ok: %s (%zu rows, inertia %.17g, %zu iterations)\n", what, n, i1,
                   cseg_kmeans_n_iter(one));
        cseg_kmeans_free(one);
    }
    /* Every rank has the same model. */
    double c0[64 * 8];
    size_t kd = rc == 0 ? cseg_kmeans_k(km) * d : 0;
    if (rc == 0 && kd <= 64 * 8) {
        memcpy(c0, cseg_kmeans_centroids(km), kd * sizeof *c0);
        MPI_Bcast(c0, (int)kd, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        CHECK(memcmp(c0, cseg_kmeans_centroids(km), kd * sizeof *c0) == 0,
              "%s: centres differ between ranks", what);
    }
    free(lab);
    free(counts);
    free(displs);
    cseg_kmeans_free(km);
}

int main(int argc, char **argv)
{
    start(&argc, &argv);
    size_t n = 200000, row0, n_rows; /* 4 spans, the last short */
    cseg_kmeans_params p;

    /* 1. Lloyd, d = 8 (the transposing path), two restarts. */
    double *X = blobs(n, 8, 42);
    cseg_mpi_kmeans_split(MPI_COMM_WORLD, n, &row0, &n_rows);
    cseg_kmeans_params_init(&p);
    p.k = 8;
    p.n_init = 2;
    p.seed = 7;
    compare("lloyd d=8", X, NULL, n, 8, &p, row0, n_rows);
    free(X);

    /* 2. Hamerly, d = 5 (tiles copied), weights (the weighted first draw). */
    X = blobs(n, 5, 43);
    double *w = malloc(n * sizeof *w);
    uint64_t s = 5;
    for (size_t i = 0; i < n; i++)
        w[i] = 0.5 + 1.5 * unif(&s);
    cseg_kmeans_params_init(&p);
    p.k = 5;
    p.n_init = 2;
    p.seed = 11;
    p.algorithm = CSEG_KMEANS_HAMERLY;
    compare("hamerly d=5 weighted", X, w, n, 5, &p, row0, n_rows);

    /* 3. A starting centre far from every row: its cluster is empty and
     *    takes the farthest row of all the ranks'. */
    double init[4 * 5];
    memcpy(init, X, 3 * 5 * sizeof *init);
    for (int j = 0; j < 5; j++)
        init[15 + j] = 1000;
    cseg_kmeans_params_init(&p);
    p.k = 4;
    p.init = init;
    compare("empty cluster relocated", X, NULL, n, 5, &p, row0, n_rows);

    /* 4. Fewer rows than a span: rank 0 holds them, the others none. */
    size_t small = 1000, r0s, nrs;
    cseg_mpi_kmeans_split(MPI_COMM_WORLD, small, &r0s, &nrs);
    CHECK(rank == 0 ? nrs == small : nrs == 0, "split of %zu rows: %zu here", small, nrs);
    cseg_kmeans_params_init(&p);
    p.k = 3;
    p.n_init = 3;
    compare("one span", X, NULL, small, 5, &p, r0s, nrs);

    /* 5. A value that is not a number in the last rank's rows: every rank
     *    returns the message one process gives. */
    size_t bad = n - 10;
    X[bad * 5 + 2] = NAN;
    cseg_kmeans *km;
    cseg_diag diag;
    cseg_kmeans_params_init(&p);
    p.k = 3;
    cseg_kmeans_create(&km, &p);
    int rc = cseg_mpi_kmeans_fit(MPI_COMM_WORLD, km, X + row0 * 5, n_rows, 5, NULL, &diag);
    char want[96];
    snprintf(want, sizeof want, "row %zu, feature 3 is not a finite number", bad + 1);
    CHECK(rc == CSEG_EINVAL && strstr(diag.msg, want), "bad value: %d %s", rc, diag.msg);
    if (rank == 0) {
        cseg_diag one;
        CHECK(cseg_kmeans_fit(km, X, n, 5, NULL, &one) == CSEG_EINVAL &&
                  strcmp(one.msg, diag.msg) == 0,
              "bad value: one process says %s", one.msg);
    }
    /* 6. Rows that do not start on a span (rank 0 one row short). */
    if (size > 1) {
        X[bad * 5 + 2] = 0;
        size_t off = rank == 0 ? n_rows - 1 : n_rows;
        rc = cseg_mpi_kmeans_fit(MPI_COMM_WORLD, km, X + row0 * 5, off, 5, NULL, &diag);
        CHECK(rc == CSEG_EINVAL && strstr(diag.msg, "span"), "off the spans: %d %s", rc,
              diag.msg);
    }
    cseg_kmeans_free(km);

    /* 7. A pipeline on rank 0 (cseg_mpi_kmeans_fit_root), the other ranks
     *    serving its fits: k-means++ with restarts, then from given centres,
     *    then a value that is not a number (rank 0's error, the others go on
     *    serving), each against one process's fit of all the rows. */
    X[bad * 5 + 2] = 0;
    if (rank == 0) {
        double start[4 * 5];
        memcpy(start, X + 100 * 5, sizeof start);
        cseg_mpi_kmeans_stats st;
        memset(&st, 0, sizeof st);
        size_t first, mine, iters = 0;
        cseg_mpi_kmeans_split(MPI_COMM_WORLD, n, &first, &mine);
        for (int t = 0; t < 3; t++) {
            cseg_kmeans_params_init(&p);
            p.k = t == 2 ? 3 : 4;
            p.n_init = 2;
            p.init = t == 1 ? start : NULL;
            if (t == 2)
                X[7 * 5] = NAN;
            cseg_kmeans *a, *b;
            cseg_diag da, db;
            cseg_kmeans_create(&a, &p);
            cseg_kmeans_create(&b, &p);
            /* the second fit reuses the rows the first sent (X unchanged) */
            int ra = cseg_mpi_kmeans_fit_root(MPI_COMM_WORLD, a, X, n, 5, 1, t == 1, &st, &da);
            iters += ra == 0 ? cseg_kmeans_n_iter(a) : 0;
            int rb = cseg_kmeans_fit(b, X, n, 5, NULL, &db);
            CHECK(ra == rb, "root fit %d: %d, one process %d", t, ra, rb);
            if (ra < 0)
                CHECK(strcmp(da.msg, db.msg) == 0, "root fit %d: %s / %s", t, da.msg, db.msg);
            else
                CHECK(memcmp(cseg_kmeans_centroids(a), cseg_kmeans_centroids(b),
                             p.k * 5 * sizeof(double)) == 0 &&
                          memcmp(cseg_kmeans_labels(a), cseg_kmeans_labels(b),
                                 n * sizeof(int32_t)) == 0 &&
                          cseg_kmeans_inertia(a) == cseg_kmeans_inertia(b) &&
                          cseg_kmeans_n_iter(a) == cseg_kmeans_n_iter(b),
                      "root fit %d: not one process's centres, labels or inertia", t);
            cseg_kmeans_free(a);
            cseg_kmeans_free(b);
        }
        /* The account: the two fits that ran, the other ranks' rows sent once
         * (the second fit reused them) and their labels gathered twice
         * (counted as they went), every restart's iterations (at least the
         * kept ones), collectives only with others. */
        CHECK(st.fits == 2 && st.row_bytes == (n - mine) * 5 * sizeof(double) &&
                  st.label_bytes == 2 * (n - mine) * sizeof(int32_t) && st.iterations >= iters &&
                  (size > 1) == (st.collective_bytes > 0) && st.fit_seconds > 0,
              "stats: %llu fits, %llu row bytes, %llu label bytes, %llu iterations (>= %zu), "
              "%llu collective bytes",
              (unsigned long long)st.fits, (unsigned long long)st.row_bytes,
              (unsigned long long)st.label_bytes, (unsigned long long)st.iterations, iters,
              (unsigned long long)st.collective_bytes);
        if (size > 1) { /* rows of another size to reuse: refused, everyone goes on */
            cseg_kmeans_params_init(&p);
            p.k = 3;
            cseg_kmeans *a;
            cseg_diag da;
            cseg_kmeans_create(&a, &p);
            int ra = cseg_mpi_kmeans_fit_root(MPI_COMM_WORLD, a, X + 5000, n / 2, 5, 1, 1, NULL,
                                              &da);
            CHECK(ra == CSEG_EINVAL && strstr(da.msg, "keep no rows"), "reuse of other rows: %d %s",
                  ra, da.msg);
            cseg_kmeans_free(a);
        }
        CHECK(cseg_mpi_kmeans_serve_end(MPI_COMM_WORLD) == 0, "serve end");
    } else {
        CHECK(cseg_mpi_kmeans_serve(MPI_COMM_WORLD, 1) == 0, "serve");
    }
    free(X);
    free(w);

    return finish();
}
