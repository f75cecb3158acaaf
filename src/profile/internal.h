/* custseg — the profiles of customers held in pieces (MPI processes). */
#ifndef CUSTSEG_PROFILE_INTERNAL_H
#define CUSTSEG_PROFILE_INTERNAL_H

#include "../core/internal.h"
#include "custseg/profile.h"

/* cseg_profile_compute over the rows of every piece (pieces in order), this
 * one holding t and its labels, through the hooks of comm
 * (src/core/internal.h; NULL: cseg_profile_compute). Every piece gets the
 * profile of all the rows, bit for bit: sums exactly rounded, medians by
 * order statistics, a text column's levels in order of first appearance. */
int cseg__profile_compute_split(cseg_profile **out, const cseg_table *t, const int32_t *labels,
                                size_t k, const char *revenue_column, const cseg__split_comm *comm,
                                cseg_diag *d);

#endif
