/* custseg — the segmentation of customers held in parts by the ranks of an
 * MPI communicator (cseg_mpi_segment_customers; built with -DCSEG_MPI=ON):
 * the library's own pipeline (cseg__segment_customers_split,
 * src/segment/segment.c) with the hooks of this folder: sums, order
 * statistics and text levels (prep.c), the sums by span of k-means and the
 * indices (mpi.c), the silhouette's sample gathered on rank 0 (metrics.c)
 * and the first failure agreed on. */
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
    int rc = cseg__mpi_spans_open(comm, cseg_table_n_rows(part), &spans, &km, "segmentation", diag);
    if (rc < 0)
        return rc;
    cseg__mpi_split_hooks(&c, &sc);
    cseg__seg_split split = {&sc, &km, &c, agree_hook, silhouette_hook};
    /* A progress callback that asks to stop on one rank would leave the
     * others in a collective: not called (the ranks' work is one step). */
    cseg_segment_params q = *p;
    q.progress = NULL;
    q.progress_user = NULL;
    rc = cseg__segment_customers_split(out, part, id_column, &q, &split, diag);
    cseg__mpi_spans_close(&spans);
    return rc;
}
