/* custseg — private declarations of the explain module. */
#ifndef CSEG_EXPLAIN_INTERNAL_H
#define CSEG_EXPLAIN_INTERNAL_H

#include "../core/internal.h"
#include "../kmeans/internal.h"
#include "custseg/explain.h"

/* cseg_explain_rules of customers held in pieces, each piece passing its
 * rows and labels (its rows those of km: rows km->row0.. of km->n_all):
 * the tree grown on the same sample of all of them (every step-th, gathered
 * on every piece), numbers' missing values as the median of all, text
 * levels those of every piece in their order of first appearance (sc), the
 * leaves' counts added over the pieces; every piece gets the same rules,
 * bit for bit as one process. sc and km NULL: one process. */
int cseg__explain_rules_split(const cseg_model *m, const cseg_table *customers,
                              const int32_t *labels, size_t max_depth, const cseg__split_comm *sc,
                              const cseg__km_comm *km, cseg_rules *out, cseg_diag *d);

/* cseg_explain_importance of customers held in pieces: the same sample
 * (every step-th of all of them) gathered on every piece as a table, whose
 * every row is then the one-process importance's; the same figures on
 * every piece. km NULL: one process. */
int cseg__explain_importance_split(const cseg_model *m, const cseg_table *customers,
                                   size_t n_repeats, size_t max_rows, uint64_t seed,
                                   double *importance, double *sd, const cseg__split_comm *sc,
                                   const cseg__km_comm *km, cseg_diag *d);

#endif
