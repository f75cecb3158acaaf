/* custseg — k-means on the rows of many MPI ranks (cseg_mpi_kmeans_fit;
 * built with -DCSEG_MPI=ON).
 *
 * The k-means module does the work (cseg__kmeans_fit_split,
 * src/kmeans/internal.h): every sum over the samples is taken per span of
 * CSEG_KMEANS_SPAN rows and the spans' sums added in span order, and a rank
 * holds whole spans; this file gives it the three exchanges it needs. Per
 * Lloyd iteration: one MPI_Allreduce of two counts and one MPI_Allgatherv
 * of every span's k x (d + 1) partial sums (8 k (d + 1) bytes a span: 10
 * KB a span for k = 8, d = 16, 1.5 MB for 10,000,000 rows in 153 spans), so
 * the centres come out the same on every rank without a second message.
 * Seeding: per candidate centre, an MPI_Allgatherv of the spans' totals
 * and an MPI_Bcast of the drawn rows from the ranks that hold them. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "custseg/mpi.h"
#include "../core/internal.h"
#include "../kmeans/internal.h"

typedef struct kmctx {
    MPI_Comm comm;
    int size;
    size_t *span0; /* size + 1: each rank's first span; the last entry, all spans */
    int *counts, *displs;
} kmctx;

static int km_allgatherv(void *ctx, const double *mine, size_t count, double *all, size_t *total)
{
    kmctx *c = ctx;
    int cnt = count > INT_MAX ? -1 : (int)count, bad = 0;
    if (MPI_Allgather(&cnt, 1, MPI_INT, c->counts, 1, MPI_INT, c->comm) != MPI_SUCCESS)
        return CSEG_EIO;
    size_t t = 0;
    for (int r = 0; r < c->size; r++) {
        if (c->counts[r] < 0 || t + (size_t)c->counts[r] > INT_MAX) {
            bad = 1; /* every rank sees the same counts: all return here */
            break;
        }
        c->displs[r] = (int)t;
        t += (size_t)c->counts[r];
    }
    if (bad)
        return CSEG_ETOOBIG;
    if (MPI_Allgatherv(mine, cnt, MPI_DOUBLE, all, c->counts, c->displs, MPI_DOUBLE, c->comm) !=
        MPI_SUCCESS)
        return CSEG_EIO;
    *total = t;
    return 0;
}

static int km_bcast_span(void *ctx, size_t s, double *buf, size_t m)
{
    kmctx *c = ctx;
    int root = 0;
    while (root + 1 < c->size && c->span0[root + 1] <= s)
        root++;
    return MPI_Bcast(buf, (int)m, MPI_DOUBLE, root, c->comm) == MPI_SUCCESS ? 0 : CSEG_EIO;
}

static int km_sum(void *ctx, uint64_t *v, size_t m)
{
    kmctx *c = ctx;
    return MPI_Allreduce(MPI_IN_PLACE, v, (int)m, MPI_UINT64_T, MPI_SUM, c->comm) == MPI_SUCCESS
               ? 0
               : CSEG_EIO;
}

void cseg_mpi_kmeans_split(MPI_Comm comm, size_t n, size_t *row0, size_t *n_rows)
{
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    size_t spans = (n + CSEG_KMEANS_SPAN - 1) / CSEG_KMEANS_SPAN;
    size_t P = (size_t)size; /* the first ranks get the spans left over */
    size_t s0 = (spans * (size_t)rank + P - 1) / P, s1 = (spans * ((size_t)rank + 1) + P - 1) / P;
    size_t r0 = s0 * CSEG_KMEANS_SPAN, r1 = s1 * CSEG_KMEANS_SPAN;
    *row0 = r0 < n ? r0 : n;
    *n_rows = (r1 < n ? r1 : n) - *row0;
}

int cseg_mpi_kmeans_fit(MPI_Comm comm, cseg_kmeans *km, const double *X, size_t n_rows, size_t d,
                        const double *weights, cseg_diag *diag)
{
    kmctx c = {comm, 0, NULL, NULL, NULL};
    int rank, rc = 0;
    MPI_Comm_size(comm, &c.size);
    MPI_Comm_rank(comm, &rank);
    uint64_t mine = n_rows, before = 0, all = 0;
    MPI_Exscan(&mine, &before, 1, MPI_UINT64_T, MPI_SUM, comm);
    if (rank == 0)
        before = 0; /* MPI_Exscan leaves rank 0's undefined */
    MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, comm);
    /* Spans of every rank, and whether each starts on one. */
    uint64_t spans[2] = {(n_rows + CSEG_KMEANS_SPAN - 1) / CSEG_KMEANS_SPAN,
                         n_rows > 0 && before % CSEG_KMEANS_SPAN != 0};
    uint64_t *each = malloc((size_t)c.size * 2 * sizeof *each);
    c.span0 = malloc(((size_t)c.size + 1) * sizeof *c.span0);
    c.counts = malloc((size_t)c.size * sizeof *c.counts);
    c.displs = malloc((size_t)c.size * sizeof *c.displs);
    int oom = !each || !c.span0 || !c.counts || !c.displs, any_oom = 0;
    MPI_Allreduce(&oom, &any_oom, 1, MPI_INT, MPI_LOR, comm);
    if (any_oom) {
        rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for k-means");
        goto out;
    }
    MPI_Allgather(spans, 2, MPI_UINT64_T, each, 2, MPI_UINT64_T, comm);
    c.span0[0] = 0;
    for (int r = 0; r < c.size; r++) {
        if (each[2 * r + 1]) {
            rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                            "k-means on %d processes: process %d's rows do not start on a span "
                            "of %d rows (cseg_mpi_kmeans_split)",
                            c.size, r, CSEG_KMEANS_SPAN);
            goto out;
        }
        c.span0[r + 1] = c.span0[r] + (size_t)each[2 * r];
    }
    cseg__km_comm ops = {&c, c.size, (size_t)before, (size_t)all,
                         km_allgatherv, km_bcast_span, km_sum};
    rc = cseg__kmeans_fit_split(km, X, n_rows, d, weights, &ops, diag);
out:
    free(each);
    free(c.span0);
    free(c.counts);
    free(c.displs);
    return rc;
}
