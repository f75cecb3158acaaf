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
/* The leaf of each of m rows (Xf: m x d, single precision). */
void cseg__tree_leaves(const cseg_tree *t, const float *Xf, size_t d, size_t m, int32_t *leaf);
/* The class of a leaf whose samples are all of one class (its shares are
 * 1 for it and 0 for the others), else -1. */
int32_t cseg__tree_leaf_class(const cseg_tree *t, size_t leaf);
/* The class shares (k) of a leaf (a node number from cseg__tree_leaves). */
const double *cseg__tree_leaf_shares(const cseg_tree *t, size_t leaf);

#endif
