/* custseg — what the forest shares with the tree (src/tree). */
#ifndef CUSTSEG_TREE_INTERNAL_H
#define CUSTSEG_TREE_INTERNAL_H

#include "custseg/tree.h"

/* Checks X, y and the weights and fills Xf (n x d, single precision) and w
 * (n: class weight x sample weight); errors as cseg_tree_fit. */
int cseg__tree_prepare(const double *X, size_t n, size_t d, const int32_t *y, size_t k,
                       const double *class_weight, const double *sample_weight, float *Xf,
                       double *w, cseg_diag *diag);
/* A tree on prepared data (p checked); samples of weight 0 take no part.
 * CSEG_ENOMEM only. Reads Xf, y, w: threads may share them. */
int cseg__tree_fit_f32(cseg_tree **out, const float *Xf, size_t n, size_t d, const int32_t *y,
                       size_t k, const double *w, const cseg_tree_params *p);
/* Adds each of m rows' leaf's class shares to its k running sums acc (m x
 * k). Xc: the rows feature by feature (d x m, single precision); scratch:
 * 6 m entries; vector: use AVX-512 where the processor has it (0: never;
 * the results are the same). Returns 0 or CSEG_ENOMEM. */
int cseg__tree_accumulate(const cseg_tree *t, const float *Xc, size_t m, double *acc,
                          uint32_t *scratch, int vector);

#endif
