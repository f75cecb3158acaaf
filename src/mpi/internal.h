/* custseg — what the MPI driver's files share: the communicator of rows
 * held in whole spans (cseg__km_comm, src/kmeans/internal.h) that k-means
 * and the validity indices sum over. */
#ifndef CSEG_MPI_INTERNAL_H
#define CSEG_MPI_INTERNAL_H

#include <stdint.h>
#include "custseg/mpi.h"
#include "../kmeans/internal.h"

typedef struct cseg__mpi_spans {
    MPI_Comm comm;
    int size, rank;
    size_t *span0; /* size + 1: each rank's first span; the last entry, all spans */
    int *counts, *displs;
    uint64_t received; /* bytes of the collectives' results that came from other ranks */
} cseg__mpi_spans;

/* ops for this rank's n_rows rows of comm: each rank's first row and the
 * rows of all, every rank's spans. Collective: every rank returns the same
 * code (CSEG_EINVAL, the message naming `what`, when a rank's rows do not
 * start on a span). cseg__mpi_spans_close frees c after a success. */
int cseg__mpi_spans_open(MPI_Comm comm, size_t n_rows, cseg__mpi_spans *c, cseg__km_comm *ops,
                         const char *what, cseg_diag *diag);
void cseg__mpi_spans_close(cseg__mpi_spans *c);

#endif
