/* custseg — what the MPI driver's files share: the first failure agreed
 * on, parts sent to rank 0, and the communicator of rows held in whole
 * spans (cseg__km_comm, src/kmeans/internal.h) that k-means and the
 * validity indices sum over. */
#ifndef CSEG_MPI_INTERNAL_H
#define CSEG_MPI_INTERNAL_H

#include "../core/internal.h"
#include "../kmeans/internal.h"
#include "custseg/mpi.h"
#include <stdint.h>

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

/* rc and d are this rank's outcome; key orders failures (a line of the
 * input, 0 for a failure without one). Returns the first failure's code (0:
 * none) and copies its diagnostic into d on every rank. Collective. */
int cseg__mpi_agree(MPI_Comm comm, int rc, int64_t key, cseg_diag *d);
/* The lowest rank holding the lowest key of all (INT64_MAX: none), or -1
 * when every rank's is INT64_MAX. Collective. */
int cseg__mpi_first(MPI_Comm comm, int64_t key);
/* The file at path: a plain file mapped read-only (*map, *size; NULL and
 * 0 when empty), a gzip file only said so (*gzip). 0 or CSEG_EIO. */
int cseg__mpi_map(const char *path, char **map, size_t *size, int *gzip, cseg_diag *d);
/* n bytes from this rank to rank 0 (tag 7), in pieces an int can count;
 * rank 0 receives them from rank `from` into b. */
void cseg__mpi_send_part(MPI_Comm comm, const char *b, uint64_t n);
/* The hooks of a computation split over the ranks of *comm (src/mpi/prep.c;
 * cseg__split_comm, src/core/internal.h): counts and exactly rounded sums
 * in one MPI_Allreduce, cseg_mpi_select, levels gathered in rank order.
 * comm must outlive the hooks' use. */
void cseg__mpi_split_hooks(MPI_Comm *comm, cseg__split_comm *hooks);
void cseg__mpi_recv_part(MPI_Comm comm, int from, char *b, uint64_t n);
/* Whether every rank's table has the same columns (names and types, in
 * order): a hash of them compared. Collective. */
int cseg__mpi_same_columns(MPI_Comm comm, const cseg_table *t);

/* Bytes from every rank to every rank: send holds count[q] bytes for rank
 * q, ranks in order; *recv (malloc'ed) receives what each rank sent this
 * one, got[q] bytes from rank q, in rank order. One MPI_Alltoall of the
 * counts, one MPI_Alltoallv. CSEG_ETOOBIG when a rank's bytes either way
 * pass an int, CSEG_ENOMEM, CSEG_EIO: the same on every rank (src/mpi/segment.c). */
int cseg__mpi_exchange(MPI_Comm comm, const char *send, const size_t *count, char **recv,
                       size_t *got);
/* cseg_mpi_metrics_silhouette; values (optional): the sampled rows'
 * silhouette values and their labels, in row order (*values, *vlabels,
 * malloc'ed, *nv of each), on every rank. */
int cseg__mpi_silhouette(MPI_Comm comm, const double *X, size_t n_rows, size_t d,
                         const int32_t *labels, const cseg_silhouette_params *p, double *score,
                         double **values, int32_t **vlabels, size_t *nv, cseg_diag *diag);

/* The log's customers from this rank's part (its customers, in id order:
 * cseg__rfm_acc_part) into this rank's block of the one-process customer
 * table (*customers, its first row *row0 among all), the cleaning counts
 * of all in *q (src/mpi/rfm_part.c). Collective: the same code and diag on
 * every rank. */
int cseg__mpi_rfm_spread(MPI_Comm comm, const char *part, size_t part_len, const cseg_rfm_params *p,
                         const cseg_txn_roles *roles, cseg_table **customers, size_t *row0,
                         cseg_quality *q, cseg_diag *d);

#endif
