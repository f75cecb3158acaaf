/* cseg_mpi_select and cseg_mpi_quantiles under mpirun -n 1..4
 * (tests/mpi/mpi_lib.sh): each rank holds a different number of values
 * (one none at all), with ties, negatives, zeros of both signs and
 * infinities; rank 0 gathers them all, sorts them and checks every order
 * statistic and quantile bit for bit; a NaN or a rank beyond the values
 * fails on every rank. Plain C; the job fails when any rank does. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <custseg/custseg.h>
#include <custseg/mpi.h>

#include "mpi_util.h"

/* Ascending, -0.0 before +0.0 (as the selection orders them). */
static int cmp_total(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    if (a != b)
        return a < b ? -1 : 1;
    return signbit(b) - signbit(a);
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

int main(int argc, char **argv)
{
    start(&argc, &argv);
    /* Rank r holds 3,000 r + 2,017 values, but rank 1 none. */
    size_t n = rank == 1 ? 0 : 3000 * (size_t)rank + 2017;
    double *x = malloc((n ? n : 1) * sizeof *x);
    uint64_t s = 99 + (uint64_t)rank;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = next(&s);
        double v = (double)(int64_t)(u % 2001) / 8 - 125; /* ties, halves, negatives */
        if (u % 97 == 0)
            v = (u >> 8) % 2 ? 0.0 : -0.0;
        if (u % 501 == 0)
            v = ldexp((double)(u >> 20), (int)(u % 64) - 1100); /* tiny */
        x[i] = v;
    }
    /* Everything on rank 0, sorted. */
    int cnt = (int)n, *counts = malloc((size_t)size * sizeof *counts),
        *displs = malloc((size_t)size * sizeof *displs);
    MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    size_t total = 0;
    for (int r = 0; r < size; r++) {
        displs[r] = (int)total;
        total += (size_t)counts[r];
    }
    double *all = malloc(total * sizeof *all);
    MPI_Allgatherv(x, cnt, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, MPI_COMM_WORLD);
    qsort(all, total, sizeof *all, cmp_total);

    uint64_t ranks[9] = {0, 1, total / 4, total / 2, total / 2 + 1, total - 2, total - 1, 0, 0};
    ranks[7] = next(&s) % total; /* different on each rank: use rank 0's */
    MPI_Bcast(&ranks[7], 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    ranks[8] = ranks[3];
    double got[9];
    cseg_diag diag;
    int rc = cseg_mpi_select(MPI_COMM_WORLD, x, n, ranks, 9, got, &diag);
    CHECK(rc == 0, "select: %s", diag.msg);
    for (int i = 0; rc == 0 && i < 9; i++)
        CHECK(same_bits(got[i], all[ranks[i]]), "rank %llu: %.17g, sorted %.17g",
              (unsigned long long)ranks[i], got[i], all[ranks[i]]);
    /* Many at once (more than 16: sorted keys, searched bit by bit): 300
     * ranks spread over all, both ends and a run of neighbours (ties). */
    enum { MANY = 300 };
    uint64_t many[MANY];
    double gotm[MANY];
    for (int i = 0; i < MANY; i++)
        many[i] = i < 280 ? (uint64_t)i * (total - 1) / 279 : total / 3 + (uint64_t)(i - 280);
    rc = cseg_mpi_select(MPI_COMM_WORLD, x, n, many, MANY, gotm, &diag);
    CHECK(rc == 0, "select many: %s", diag.msg);
    for (int i = 0; rc == 0 && i < MANY; i++)
        CHECK(same_bits(gotm[i], all[many[i]]), "many, rank %llu: %.17g, sorted %.17g",
              (unsigned long long)many[i], gotm[i], all[many[i]]);
    /* Many at once on few values: each rank 0.0, -0.0 and 1.0 (sorted by
     * value, the zeros may come in any order; by key -0.0 is first). */
    double z3[3] = {0.0, -0.0, 1.0}, gz[MANY];
    uint64_t zr[MANY];
    for (int i = 0; i < MANY; i++)
        zr[i] = (uint64_t)i % (3 * (uint64_t)size);
    rc = cseg_mpi_select(MPI_COMM_WORLD, z3, 3, zr, MANY, gz, &diag);
    CHECK(rc == 0, "select many zeros: %s", diag.msg);
    for (int i = 0; rc == 0 && i < MANY; i++) {
        uint64_t q = zr[i];
        double want = q < (uint64_t)size ? -0.0 : q < 2 * (uint64_t)size ? 0.0 : 1.0;
        CHECK(same_bits(gz[i], want), "many zeros, rank %llu: %g (sign %d), want %g (sign %d)",
              (unsigned long long)q, gz[i], signbit(gz[i]) != 0, want, signbit(want) != 0);
    }
    /* The extremes as infinities, on the last rank that holds values. */
    int last = size - 1 == 1 ? 0 : size - 1;
    if (rank == last) {
        x[0] = INFINITY;
        x[1] = -INFINITY;
    }
    uint64_t ends[2] = {0, total - 1};
    rc = cseg_mpi_select(MPI_COMM_WORLD, x, n, ends, 2, got, &diag);
    CHECK(rc == 0 && got[0] == -INFINITY && got[1] == INFINITY, "infinities: %g %g", got[0],
          got[1]);
    many[0] = 0;
    many[MANY - 1] = total - 1;
    rc = cseg_mpi_select(MPI_COMM_WORLD, x, n, many, MANY, gotm, &diag);
    CHECK(rc == 0 && gotm[0] == -INFINITY && gotm[MANY - 1] == INFINITY,
          "infinities, many: %g %g", gotm[0], gotm[MANY - 1]);
    if (rank == last) {
        x[0] = 0.5;
        x[1] = -0.5;
    }
    MPI_Allgatherv(x, cnt, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, MPI_COMM_WORLD);
    qsort(all, total, sizeof *all, cmp_total);

    const double q[6] = {0, 0.1, 0.25, 0.5, 0.9, 1};
    double qv[6];
    rc = cseg_mpi_quantiles(MPI_COMM_WORLD, x, n, q, 6, qv, &diag);
    CHECK(rc == 0, "quantiles: %s", diag.msg);
    for (int i = 0; rc == 0 && i < 6; i++) {
        double pos = q[i] * (double)(total - 1), frac;
        size_t lo = (size_t)floor(pos), hi = lo + 1 < total ? lo + 1 : lo;
        frac = pos - (double)lo;
        double want = all[lo] + (all[hi] - all[lo]) * frac;
        CHECK(same_bits(qv[i], want), "quantile %g: %.17g, sorted %.17g", q[i], qv[i], want);
    }
    if (rank == 0)
        printf("ok: %zu values on %d processes: order statistics and quantiles as sorted\n",
               total, size);

    /* Errors, on every rank alike. */
    uint64_t beyond = total;
    rc = cseg_mpi_select(MPI_COMM_WORLD, x, n, &beyond, 1, got, &diag);
    CHECK(rc == CSEG_EINVAL && strstr(diag.msg, "beyond"), "beyond: %d %s", rc, diag.msg);
    if (rank == last)
        x[n - 1] = NAN;
    rc = cseg_mpi_quantiles(MPI_COMM_WORLD, x, n, q, 6, qv, &diag);
    CHECK(rc == CSEG_EINVAL && strstr(diag.msg, "NaN"), "NaN: %d %s", rc, diag.msg);

    free(x);
    free(all);
    free(counts);
    free(displs);
    return finish();
}
