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
#include "custseg/kmeans.h"
#include "custseg/metrics.h"
#include "custseg/prep.h"
#include "custseg/profile.h"
#include "custseg/segment.h"
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

/* cseg_mpi_rfm_compute_csv with the customers kept where they belong
 * instead of gathered: each rank's *part holds the block of rows of the
 * one-process customer table (customers in id order, R/F/M scores over
 * all of them) that cseg_mpi_kmeans_split gives it (*row0 its first row),
 * the parts cseg_mpi_segment_rfm takes; q (may be NULL) the cleaning
 * counts of all, on every rank. The customers move once: each rank's, in
 * id order, cut at the blocks' first ids (found by a selection over the
 * ranks' sorted ids) and sent to the ranks whose blocks they fall in
 * (stats->part_bytes: the bytes of those slices). */
CSEG_API int cseg_mpi_rfm_compute_csv_part(MPI_Comm comm, cseg_table **part, size_t *row0,
                                           const char *path, cseg_txn_roles *roles,
                                           const cseg_table_read_params *rp,
                                           const cseg_rfm_params *p, cseg_quality *q,
                                           cseg_mpi_stats *stats, cseg_diag *diag);

/* cseg_table_read_csv with the file read by all the ranks of comm: each
 * rank reads its own byte range of a plain CSV file (whole lines), the
 * column types agreed as one reading of the whole file gives them (an
 * inferred column takes the type of its first value in the file and turns
 * text at the first value anywhere that does not fit), and rank 0 appends
 * the others' rows in order. On rank 0 *out is the table cseg_table_read_csv
 * gives for the same file, bit for bit (values, text levels in the order of
 * their first appearance, rows' lines and hashes, cseg_table_text_because);
 * on the other ranks NULL. A gzip file, a file without a header, or one
 * where a quoted field spans lines across a boundary between two ranks'
 * ranges is read by rank 0 alone. The file must be readable at path on
 * every rank. p->progress is not called. stats (may be NULL), on every
 * rank: processes; rounds, the passes over the file (0: rank 0 read it
 * alone; more than 1 when a column turned out to be text); lines, the
 * table's rows; part_bytes, the rows sent to rank 0; read_seconds and
 * gather_seconds, the slowest rank's. Collective: every rank returns the
 * same code and diag (the first failure in the file, named by its line). */
CSEG_API int cseg_mpi_table_read_csv(MPI_Comm comm, cseg_table **out, const char *path,
                                     const cseg_table_read_params *p, cseg_mpi_stats *stats,
                                     cseg_diag *diag);

/* The same reading, the rows then kept where they belong instead of
 * gathered: each rank's *part holds the block of rows cseg_mpi_kmeans_split
 * gives it (whole spans, in rank order; *row0 its first row among all; none
 * on the last ranks when there are fewer spans than ranks), the same
 * columns and types on every rank, text levels in the order of their first
 * appearance in the block, lines and hashes the file's: the parts that
 * cseg_mpi_segment_customers takes. Rows move between neighbouring ranks
 * (a rank's range is cut at line ends, its block at spans); a file rank 0
 * must read alone (see above) is then sent out in blocks. stats->part_bytes:
 * the bytes the ranks sent each other. */
CSEG_API int cseg_mpi_table_read_csv_part(MPI_Comm comm, cseg_table **part, size_t *row0,
                                          const char *path, const cseg_table_read_params *p,
                                          cseg_mpi_stats *stats, cseg_diag *diag);

/* The rows of every rank's part (the same columns), in rank order, written
 * to one CSV file at path by rank 0 as cseg_table_write_csv writes one
 * table holding them all (the header once; the same bytes): through a
 * temporary file renamed at the end, so a failure anywhere leaves no file.
 * The other ranks format their rows and send them a block at a time, when
 * rank 0 asks. Collective: every rank returns the same code and diag. */
CSEG_API int cseg_mpi_table_write_csv(MPI_Comm comm, const cseg_table *part, const char *path,
                                      cseg_diag *diag);

/* k-means on the rows of all the ranks of comm, each holding X (n_rows x
 * d, row-major) and optional weights: rank r's rows follow rank r - 1's,
 * and every rank's first row is a multiple of CSEG_KMEANS_SPAN (kmeans.h;
 * cseg_mpi_kmeans_split gives such a split). km as for cseg_kmeans_fit.
 * The centres, inertia, iterations and every rank's labels are those that
 * cseg_kmeans_fit gives one process fitting all the rows, bit for bit, for
 * any number of ranks and threads; km's labels are this rank's rows. A rank
 * may hold no rows. Collective: every rank returns the same code and diag
 * (a bad value named by its row among all; CSEG_EINVAL when the rows do not
 * start on spans). Each Lloyd iteration exchanges every span's per-cluster
 * sums, 8 k (d + 1) bytes a span, with every rank (docs/scale-out.md). */
CSEG_API int cseg_mpi_kmeans_fit(MPI_Comm comm, cseg_kmeans *km, const double *X, size_t n_rows,
                                 size_t d, const double *weights, cseg_diag *diag);
/* An even split of n rows for cseg_mpi_kmeans_fit: this rank's first row
 * and its number of rows (whole spans, in rank order; the last rank's last
 * span may be short; with fewer spans than ranks, the last ranks get
 * none). */
CSEG_API void cseg_mpi_kmeans_split(MPI_Comm comm, size_t n, size_t *row0, size_t *n_rows);

/* What rank 0's fits through cseg_mpi_kmeans_fit_root moved and took,
 * added up over the fits (the caller zeroes it once). Bytes are counted as
 * they are sent or received, not estimated. */
typedef struct cseg_mpi_kmeans_stats {
    uint64_t fits;
    uint64_t iterations;       /* Lloyd iterations, every restart's */
    uint64_t row_bytes;        /* rows rank 0 sent to the others */
    uint64_t label_bytes;      /* labels rank 0 gathered from the others */
    uint64_t collective_bytes; /* what rank 0 received in the fits' collectives: the seeding's
                                  draws and totals, each iteration's per-span sums */
    double send_seconds;       /* rank 0's wall time sending the rows */
    double fit_seconds;        /* the fits (seeding and iterations) */
    double gather_seconds;     /* gathering the labels */
} cseg_mpi_kmeans_stats;

/* k-means for a pipeline that runs on rank 0 while the other ranks help
 * with its fits. Rank 0 holds every row, X (n x d, row-major), and calls
 * cseg_mpi_kmeans_fit_root where it would call cseg_kmeans_fit(km, X, n, d,
 * NULL, diag); the other ranks are in cseg_mpi_kmeans_serve, and each fit
 * sends them km's parameters (and starting centres) and their rows (an even
 * span-aligned split, cseg_mpi_kmeans_split), fits with cseg_mpi_kmeans_fit
 * and gathers the labels: km then holds what cseg_kmeans_fit gives, bit
 * for bit, all n labels included. Rank 0 fits its share with n_threads
 * threads (0: km's; the cores it shares with the others, as their
 * OpenMP threads would otherwise spin against each other). n at most
 * INT_MAX. reuse: X holds the same n x d values as at the last call, and
 * the other ranks fit again on the rows they were sent then, without
 * receiving them (choosing k fits every candidate on one matrix); they
 * refuse it alike (CSEG_EINVAL) when they keep none of that size. stats (may
 * be NULL): what the fit moved and took, added to *stats. With one rank it
 * is cseg_kmeans_fit. Rank 0 only. */
CSEG_API int cseg_mpi_kmeans_fit_root(MPI_Comm comm, cseg_kmeans *km, const double *X, size_t n,
                                      size_t d, int n_threads, int reuse,
                                      cseg_mpi_kmeans_stats *stats, cseg_diag *diag);
/* Ranks other than 0: take part in rank 0's fits, each with n_threads
 * threads (0: all cores), until rank 0 calls cseg_mpi_kmeans_serve_end;
 * the ranks wait between fits asleep (1 ms naps), not spinning. Returns 0,
 * or CSEG_EIO when an MPI exchange failed. A fit's error is rank 0's to
 * report (cseg_mpi_kmeans_fit_root returns it); serving goes on. */
CSEG_API int cseg_mpi_kmeans_serve(MPI_Comm comm, int n_threads);
/* Rank 0: the ranks in cseg_mpi_kmeans_serve return. Call it exactly once
 * for each time they entered it, on every path (an error included). */
CSEG_API int cseg_mpi_kmeans_serve_end(MPI_Comm comm);

/* The validity indices of a labelling of rows spread over the ranks of
 * comm: each rank holds X (n_rows x d, row-major), the block of rows after
 * the previous rank's, and their labels (< 0: noise, left out). Every rank
 * gets the value cseg_metrics_davies_bouldin, _calinski_harabasz and
 * _silhouette give for all the rows on one process, bit for bit, and the
 * same code. Davies-Bouldin and Calinski-Harabasz sum over spans
 * (CSEG_KMEANS_SPAN rows), so each rank's rows must start on a span (as
 * cseg_mpi_kmeans_split gives; CSEG_EINVAL otherwise); each rank sends
 * every other its spans' per-cluster sums, 8 k (d + 1) bytes a span. The
 * silhouette draws its sample (p->sample_size of the non-noise rows, as one
 * process draws it; all of them when 0) and gathers those rows on rank 0,
 * which computes it and sends the value to all: rank 0's memory is that of
 * cseg_metrics_silhouette on the sample. Collective. */
CSEG_API int cseg_mpi_metrics_davies_bouldin(MPI_Comm comm, const double *X, size_t n_rows,
                                             size_t d, const int32_t *labels, double *out,
                                             cseg_diag *diag);
CSEG_API int cseg_mpi_metrics_calinski_harabasz(MPI_Comm comm, const double *X, size_t n_rows,
                                                size_t d, const int32_t *labels, double *out,
                                                cseg_diag *diag);
CSEG_API int cseg_mpi_metrics_silhouette(MPI_Comm comm, const double *X, size_t n_rows, size_t d,
                                         const int32_t *labels, const cseg_silhouette_params *p,
                                         double *score, cseg_diag *diag);

/* cseg_prep_fit of the table whose rows are the ranks' parts in rank order
 * (each rank passes its part: the same columns with the same types; a text
 * column's levels in the part's order of first appearance), on every rank:
 * the same fitted pipeline, bit for bit, as cseg_prep_fit of all the rows in
 * one process, with the same code and diag on every rank. No rows move:
 * per number column a few counts and exactly rounded sums (cseg_prep_fit's
 * sums are exactly rounded, so any split gives the same bits) and order
 * statistics (cseg_mpi_select: the median, the minimum, the drift
 * reference's quantiles; the quartiles for the robust scaler); per text
 * column the levels each rank uses. Collective; columns whose types differ
 * between ranks: CSEG_EINVAL on every rank. */
CSEG_API int cseg_mpi_prep_fit(MPI_Comm comm, cseg_prep *pp, const cseg_table *part,
                               const char *const *columns, size_t n_columns, cseg_diag *diag);

/* cseg_profile_compute of the customers that are the ranks' parts in rank
 * order (each rank passes its part, the same columns with the same types,
 * and its labels), on every rank: the same profile, bit for bit, as one
 * process computes on all of them (sizes, shares, revenue shares, means,
 * medians, the population's means and deviations, level shares). No rows
 * move: per column counts and exactly rounded sums (one MPI_Allreduce each),
 * medians by cseg_mpi_select, a text column's levels gathered in rank order
 * when no rank has more than a profile shows. Collective; the same code and
 * diag on every rank. */
CSEG_API int cseg_mpi_profile_compute(MPI_Comm comm, cseg_profile **out, const cseg_table *part,
                                      const int32_t *labels, size_t k, const char *revenue_column,
                                      cseg_diag *diag);

/* cseg_segment_customers of the customers that are the ranks' parts in
 * rank order (each rank passes its part: the same columns with the same
 * types, a text column's levels in the part's order of first appearance;
 * every rank's rows start on a span, CSEG_KMEANS_SPAN, as
 * cseg_mpi_kmeans_split and cseg_mpi_table_read_csv_part give). On every
 * rank *out holds the model, the k table, the rule, the profiles, the
 * names, the warnings and segments.json (cseg_segment_json) of all the
 * customers, and this rank's customers' labels, distances and output table
 * (segment, segment_name, distance): the same bits as one process
 * segmenting them all, for any number of ranks. cseg_segment_n gives this
 * rank's customers, cseg_segment_n_all all of them; the writers of
 * per-customer files (cseg_segment_write_customers, _report, _all) and
 * cseg_store_put_run refuse such a result (CSEG_EINVAL). No rows move but
 * the k sample (gathered on every rank, which fits the candidates on it),
 * the silhouette's sample (on rank 0), the rules' and importance's strided
 * sample (on every rank) and each id (to the rank a hash of it names, to
 * count duplicates); every k-means fit on all the customers is
 * cseg_mpi_kmeans_fit's. Refused with CSEG_EINVAL: algorithms other than
 * k-means, previous, kmeans_fit, PCA on fewer customers than model
 * features, parts whose columns differ between ranks, and a fit whose rule for new customers
 * disagrees with it (not met with k-means, whose labels are the nearest centres). p->progress is
 * called on every rank that gives it (its n: all the customers), and a stop it asks for on any
 * rank stops every rank; p->log is called on the ranks that give it (give it on one).
 * Collective: every rank returns the same code and diag. docs/scale-out.md. */
CSEG_API int cseg_mpi_segment_customers(MPI_Comm comm, cseg_segmentation **out,
                                        const cseg_table *part, const char *id_column,
                                        const cseg_segment_params *p, cseg_diag *diag);

/* cseg_pii_kind (privacy.h) of text column j of the table that is the
 * ranks' parts: *kind is the verdict one process gives on all the rows, on
 * every rank. Counts are added over the ranks; a column that is mostly
 * free text has its distinct values counted exactly (each sent to the rank
 * a hash of it names). Collective: the same code on every rank. */
CSEG_API int cseg_mpi_pii_kind(MPI_Comm comm, const cseg_table *part, size_t j, const char **kind,
                               cseg_diag *diag);

/* cseg_segment_rfm of a log's customers held in the ranks' parts
 * (cseg_mpi_rfm_compute_csv_part gives them, and q, the cleaning counts of
 * all): as cseg_mpi_segment_customers, the one-process result bit for bit,
 * its per-customer parts on each rank. k-means only; lifetime value
 * (rfm->clv) is refused. Collective. */
CSEG_API int cseg_mpi_segment_rfm(MPI_Comm comm, cseg_segmentation **out, const cseg_table *part,
                                  const cseg_quality *q, const cseg_txn_roles *roles,
                                  const char *date_format, const cseg_rfm_params *rfm,
                                  const cseg_segment_params *p, cseg_diag *diag);

/* The files of cseg_segment_write_all (customers.csv, segments.json,
 * model.json, report.html) for a result of cseg_mpi_segment_customers, the
 * bytes one process writes for all the customers. Rank 0 writes them into
 * a temporary folder beside dir and swaps it in at the end (nothing is
 * left of a failed write); customers.csv's rows come from every rank
 * (cseg_mpi_table_write_csv); the report is composed on every rank: its
 * projection fitted over the ranks (each block's sums added in block
 * order, passed from rank to rank), the plotted and silhouette samples
 * drawn as one process draws them and gathered, each segment's quartiles
 * by cseg_mpi_select. log and the writing's progress
 * (cseg_segment_set_progress; a stop is every rank's) are rank 0's, one
 * step a file. _write_report writes the
 * report alone. CSEG_EINVAL when r is not such a result on every rank.
 * Collective: every rank returns the same code and diag. */
CSEG_API int cseg_mpi_segment_write_all(MPI_Comm comm, const cseg_segmentation *r, const char *dir,
                                        cseg_log_fn log, void *log_user, cseg_diag *diag);
CSEG_API int cseg_mpi_segment_write_report(MPI_Comm comm, const cseg_segmentation *r,
                                           const char *path, cseg_log_fn log, void *log_user,
                                           cseg_diag *diag);

/* Order statistics of the values of all the ranks of comm, each holding x
 * (n values, no NaN): out[i] is the value of 0-based rank ranks[i] among
 * all of them in ascending order (-0.0 before +0.0), exactly, as sorting
 * them all would give; the same on every rank. Up to 16 at a time: eight
 * rounds of counts (one MPI_Allreduce of 256 counts per wanted rank each);
 * more: each rank sorts a copy of its values and 64 rounds find every wanted
 * value bit by bit (one MPI_Allreduce of a count per wanted rank each). No
 * sample. Collective;
 * CSEG_EINVAL (on every rank) for a rank beyond the values or a NaN. */
CSEG_API int cseg_mpi_select(MPI_Comm comm, const double *x, size_t n, const uint64_t *ranks,
                             size_t m, double *out, cseg_diag *diag);
/* The q[i]-quantiles (1 <= nq <= 64, each in [0, 1]) of the values of all
 * the ranks, linear between the two order statistics around q (n - 1) as
 * one process computes medians and quantiles (numpy's default): the same
 * bits as on all the values in one process. No values at all: CSEG_EINVAL. */
CSEG_API int cseg_mpi_quantiles(MPI_Comm comm, const double *x, size_t n, const double *q,
                                size_t nq, double *out, cseg_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
