/* custseg — hierarchical clustering, private interface between its files. */
#ifndef CUSTSEG_HCLUST_INTERNAL_H
#define CUSTSEG_HCLUST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Each algorithm writes its n - 1 merges into Z (n - 1 rows of 4) in the
 * order it makes them: [a, b, height, unused], a and b being SciPy's "slots"
 * (a point index for single linkage; for the chain, the slot that keeps the
 * merged cluster is the larger of the two). cseg__hc_label then sorts and
 * renumbers them into the public layout. All return 0 or CSEG_ENOMEM. */

/* Ward on the vectors X (n x d) with optional weights; nt threads. */
int cseg__hc_ward(const double *X, size_t n, size_t d, const double *w, int nt, double *Z);
/* Complete (complete = 1) or average linkage on the condensed matrix. */
int cseg__hc_matrix(const double *X, size_t n, size_t d, int complete, int nt, double *Z);
/* Single linkage by Prim's algorithm on the vectors. */
int cseg__hc_single(const double *X, size_t n, size_t d, int nt, double *Z);

/* Sort the merges by height (stable, as SciPy's mergesort) and replace the
 * slots by cluster ids through union-find, as scipy's label(); column 3 gets
 * the summed weights (1 per leaf when w is NULL). */
int cseg__hc_label(double *Z, size_t n, const double *w);

/* Bytes the condensed matrix of n points takes, or 0 on overflow. */
size_t cseg__hc_condensed_bytes(size_t n);

#endif
