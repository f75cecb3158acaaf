/* custseg — the segmentation of customers held in parts by the ranks of an
 * MPI communicator (cseg_mpi_segment_customers; built with -DCSEG_MPI=ON):
 * the library's own pipeline (cseg__segment_customers_split,
 * src/segment/segment.c) with the hooks of this folder: sums, order
 * statistics and text levels (prep.c), the sums by span of k-means and the
 * indices (mpi.c), the silhouette's sample gathered on rank 0 (metrics.c)
 * and the first failure agreed on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../segment/internal.h"
#include "custseg/mpi.h"
#include "internal.h"

static int agree_hook(void *ctx, int rc, int64_t key, cseg_diag *d)
{
    return cseg__mpi_agree(*(MPI_Comm *)ctx, rc, key, d);
}

static int silhouette_hook(void *ctx, const double *X, size_t n, size_t d, const int32_t *labels,
                           const cseg_silhouette_params *p, double *score)
{
    return cseg_mpi_metrics_silhouette(*(MPI_Comm *)ctx, X, n, d, labels, p, score, NULL);
}

/* One rank's allocation failure made every rank's (before a collective
 * that the failed rank could not take part in). */
static int all_ok(MPI_Comm comm, int ok)
{
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, comm);
    return all ? 0 : CSEG_ENOMEM;
}

static int allgather_hook(void *ctx, const void *mine, size_t len, char **all, size_t *total)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    int np;
    MPI_Comm_size(comm, &np);
    uint64_t l = len, *lens = malloc((size_t)np * sizeof *lens);
    int *cnt = malloc((size_t)np * sizeof *cnt), *dsp = malloc((size_t)np * sizeof *dsp);
    *all = NULL;
    *total = 0;
    int rc = all_ok(comm, lens && cnt && dsp);
    if (rc == 0 && MPI_Allgather(&l, 1, MPI_UINT64_T, lens, 1, MPI_UINT64_T, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    uint64_t sum = 0;
    for (int q = 0; rc == 0 && q < np; q++) {
        dsp[q] = (int)sum;
        cnt[q] = (int)lens[q];
        sum += lens[q];
    }
    if (rc == 0 && sum > INT32_MAX) /* the same on every rank */
        rc = CSEG_ETOOBIG;
    if (rc == 0) {
        *all = malloc(sum ? (size_t)sum : 1);
        rc = all_ok(comm, *all != NULL);
    }
    if (rc == 0 &&
        MPI_Allgatherv(mine, (int)len, MPI_BYTE, *all, cnt, dsp, MPI_BYTE, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    if (rc < 0) {
        free(*all);
        *all = NULL;
    } else {
        *total = (size_t)sum;
    }
    free(lens), free(cnt), free(dsp);
    return rc;
}

static int exchange_hook(void *ctx, const char *send, const size_t *count, char **recv, size_t *got)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    int np;
    MPI_Comm_size(comm, &np);
    int *sc = malloc(4 * (size_t)np * sizeof *sc), bad = 0;
    uint64_t *out = malloc(2 * (size_t)np * sizeof *out);
    *recv = NULL;
    int rc = all_ok(comm, sc && out);
    if (rc < 0) {
        free(sc), free(out);
        return rc;
    }
    int *sd = sc + np, *rcv = sc + 2 * np, *rd = sc + 3 * np;
    uint64_t *in = out + np, s = 0;
    for (int q = 0; q < np; q++) {
        out[q] = count[q];
        sc[q] = (int)count[q];
        sd[q] = (int)s;
        s += count[q];
    }
    bad = s > INT32_MAX;
    if (MPI_Alltoall(out, 1, MPI_UINT64_T, in, 1, MPI_UINT64_T, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    uint64_t r = 0;
    for (int q = 0; rc == 0 && q < np; q++) {
        got[q] = (size_t)in[q];
        rcv[q] = (int)in[q];
        rd[q] = (int)r;
        r += in[q];
    }
    bad |= r > INT32_MAX;
    int any = 0;
    if (rc == 0 && MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_LOR, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    if (rc == 0 && any)
        rc = CSEG_ETOOBIG; /* counts are ints in MPI */
    if (rc == 0) {
        *recv = malloc(r ? (size_t)r : 1);
        rc = all_ok(comm, *recv != NULL);
    }
    if (rc == 0 &&
        MPI_Alltoallv(send, sc, sd, MPI_BYTE, *recv, rcv, rd, MPI_BYTE, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    if (rc < 0) {
        free(*recv);
        *recv = NULL;
    }
    free(sc), free(out);
    return rc;
}

int cseg_mpi_segment_customers(MPI_Comm comm, cseg_segmentation **out, const cseg_table *part,
                               const char *id_column, const cseg_segment_params *p, cseg_diag *diag)
{
    cseg_diag ignored;
    cseg__mpi_spans spans;
    cseg__km_comm km;
    cseg__split_comm sc;
    MPI_Comm c = comm;
    if (!diag)
        diag = &ignored;
    cseg_diag_clear(diag);
    *out = NULL;
    if (!cseg__mpi_same_columns(comm, part))
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "the processes' tables differ in their columns or their types");
    int rc = cseg__mpi_spans_open(comm, cseg_table_n_rows(part), &spans, &km, "segmentation", diag);
    if (rc < 0)
        return rc;
    cseg__mpi_split_hooks(&c, &sc);
    cseg__seg_split split = {&sc,          &km, &c, agree_hook, silhouette_hook, allgather_hook,
                             exchange_hook};
    /* A progress callback that asks to stop on one rank would leave the
     * others in a collective: not called (the ranks' work is one step). */
    cseg_segment_params q = *p;
    q.progress = NULL;
    q.progress_user = NULL;
    rc = cseg__segment_customers_split(out, part, id_column, &q, &split, diag);
    cseg__mpi_spans_close(&spans);
    return rc;
}
