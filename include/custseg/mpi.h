/* custseg — the pipeline on many processes through MPI (built with -DCSEG_MPI=ON).
 *
 * Every function here is collective: every rank of comm calls it with the
 * same arguments, and every rank returns the same code and diagnostic (the
 * first failure in the log's order: a bad row anywhere is named by its file,
 * line and column, as a one-process run names it). Outputs are rank 0's.
 * Not in custseg.h: include it where MPI is used. docs/scale-out.md. */
#ifndef CUSTSEG_MPI_H
#define CUSTSEG_MPI_H

#include <mpi.h>

#include "custseg/features.h"
#include "custseg/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a distributed reading spent its time and what it moved (for
 * --verbose, bench/ and the cost model of docs/scale-out.md). Times are the
 * slowest rank's, in seconds; bytes and lines add up over the ranks. */
typedef struct cseg_mpi_stats {
    int processes;
    uint64_t rounds;          /* exchanges (MPI_Alltoallv of the lines) */
    uint64_t lines;           /* data lines read */
    uint64_t bytes_moved;     /* line bytes sent by a rank to another rank */
    uint64_t part_bytes;      /* customer parts sent to rank 0 */
    int reread;               /* ranks that read their lines again with every row kept (a
                                 duplicate the window of rows could not judge) */
    double route_seconds;     /* reading the byte ranges, routing and exchanging lines */
    double read_seconds;      /* parsing the lines a rank received */
    double features_seconds;  /* cleaning and customer state, the parts */
    double gather_seconds;    /* parts to rank 0 */
    double assemble_seconds;  /* rank 0: the customer table from the parts */
} cseg_mpi_stats;

/* cseg_rfm_compute_csv with the log read by all the ranks of comm: each
 * rank reads its own byte range of a plain CSV file (a .gz file is read by
 * rank 0 alone), sends each line to the rank that owns its customer (a hash
 * of the id), and builds its customers' features; rank 0 gathers them.
 * On rank 0 *customers is the table cseg_rfm_compute_csv gives for the same
 * log, bit for bit; on the other ranks NULL. q (may be NULL): the cleaning
 * counts, on every rank. The file must be readable at path on every rank;
 * a quoted field may not span lines. rp->progress is not called. stats
 * (may be NULL): filled on every rank. */
CSEG_API int cseg_mpi_rfm_compute_csv(MPI_Comm comm, cseg_table **customers, const char *path,
                                      cseg_txn_roles *roles, const cseg_table_read_params *rp,
                                      const cseg_rfm_params *p, cseg_quality *q,
                                      cseg_mpi_stats *stats, cseg_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
