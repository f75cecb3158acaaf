/* custseg — k-means on several processes: what a driver (src/mpi) gives
 * cseg__kmeans_fit_split so that it fits one data set held in pieces.
 *
 * Every sum over the samples is taken span by span (CSEG_KMEANS_SPAN rows,
 * each summed from zero in sample order) and the spans' sums are added in
 * span order, the first taken as it is. A process holds whole spans, so the
 * sums, and hence the centres, the inertia and every choice of the seeding,
 * are the same bits for any number of processes; with one span (up to
 * 65,536 samples) they are the sums of the plain sample-order loop. */
#ifndef CSEG_KMEANS_INTERNAL_H
#define CSEG_KMEANS_INTERNAL_H

#include <stdint.h>
#include "custseg/kmeans.h"

typedef struct cseg__km_comm {
    void *ctx;
    int size;      /* processes */
    size_t row0;   /* this process's first row among all; a multiple of CSEG_KMEANS_SPAN */
    size_t n_all;  /* rows of all the processes */
    /* Every process's count doubles (counts may differ), in process order,
     * into all; *total receives their number. Collective. */
    int (*allgatherv)(void *ctx, const double *mine, size_t count, double *all, size_t *total);
    /* buf (m doubles) of the process holding span s, to every process. */
    int (*bcast_span)(void *ctx, size_t s, double *buf, size_t m);
    /* v (m values) summed over the processes, in place. */
    int (*sum)(void *ctx, uint64_t *v, size_t m);
} cseg__km_comm;

/* cseg_kmeans_fit of the rows of all processes, this one holding X (n x d,
 * rows row0.. of comm). Collective: every process returns the same code and
 * diag, and the same model but for the labels, which are this process's n.
 * comm NULL: cseg_kmeans_fit. */
int cseg__kmeans_fit_split(cseg_kmeans *km, const double *X, size_t n, size_t d,
                           const double *weights, const cseg__km_comm *comm, cseg_diag *diag);

/* km's threads set to n_threads (for one fit: a process that shares the
 * cores with others); returns the ones it had. */
int cseg__kmeans_swap_threads(cseg_kmeans *km, int n_threads);

/* The Lloyd iterations of km's last fit, every restart's (the samples it
 * checked over the rows of all processes). */
size_t cseg__kmeans_iterations_all(const cseg_kmeans *km, size_t n_all);

/* km's labels replaced with labels (n of them, malloc'ed; km owns them
 * now): a fit over many processes gathers every process's labels on one. */
void cseg__kmeans_take_labels(cseg_kmeans *km, int32_t *labels, size_t n);

#endif
