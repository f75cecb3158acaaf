/* custseg — the validity indices on rows held in pieces (src/mpi).
 *
 * The sums over the rows of cseg_metrics_davies_bouldin and
 * cseg_metrics_calinski_harabasz (cluster sizes and centroids, the mean of
 * all rows, the distances to the centroids) are taken per span of
 * CSEG_KMEANS_SPAN rows, each from zero in row order, and the spans' sums
 * added in span order, the first taken as it is, as k-means takes its own
 * (src/kmeans/internal.h): with one span that is the plain loop, and a
 * process holding whole spans of rows spread over several gets the bits of
 * one process holding them all. */
#ifndef CSEG_METRICS_INTERNAL_H
#define CSEG_METRICS_INTERNAL_H

#include <stdint.h>
#include "../kmeans/internal.h"

/* cseg_metrics_inertia, _davies_bouldin and _calinski_harabasz of the rows of all
 * processes, this one holding X (n x d, rows comm->row0..) and their
 * labels. Collective: every process returns the same code and value.
 * comm NULL: the one-process functions. */
int cseg__metrics_davies_bouldin_split(const double *X, size_t n, size_t d, const int32_t *labels,
                                       const cseg__km_comm *comm, double *out);
int cseg__metrics_inertia_split(const double *X, size_t n, size_t d, const int32_t *labels,
                                const cseg__km_comm *comm, double *out);
int cseg__metrics_calinski_harabasz_split(const double *X, size_t n, size_t d,
                                          const int32_t *labels, const cseg__km_comm *comm,
                                          double *out);

#endif
