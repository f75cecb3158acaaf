/* custseg — prep internals shared with the model file reader/writer. */
#ifndef CUSTSEG_PREP_INTERNAL_H
#define CUSTSEG_PREP_INTERNAL_H

#include "custseg/prep.h"

typedef struct cseg_prep_col {
    char *name;
    int categorical;
    /* number columns */
    double median, shift, center, scale;
    int log;
    /* text columns */
    char **levels;
    size_t n_levels;
    /* Kept from fitting for the drift reference of the same table, which
     * would sort the column again (not saved): the quantiles i / 1000 of
     * the q_n sorted finite values (i = 0..1000), or all of them when there
     * are at most CSEG_DRIFT_EXACT; NULL when the column held an infinity
     * (the reference counts those, the fit does not). */
    double *q_points;
    size_t q_npoints, q_n;
} cseg_prep_col;

struct cseg_prep {
    cseg_prep_params params;
    cseg_prep_col *cols;
    size_t n_cols;
    char **out_names;
    size_t n_out;
    int fitted;
};

/* Number column j's quantiles kept from fitting (q_points above; NULL
 * when there are none) with their count and the values they come from. */
const double *cseg__prep_quantiles(const cseg_prep *pp, size_t j, size_t *n_points, size_t *n);
/* cseg_prep_fit over rows held in pieces, one a caller (MPI processes:
 * src/mpi/prep.c), every piece with the same columns and types, through the
 * hooks of comm (src/core/internal.h; a text column's levels: the ones its
 * rows use); comm NULL: cseg_prep_fit. Every piece gets the pipeline fitted
 * on all the rows (pieces in order) in one process. */
#include "../core/internal.h"
int cseg__prep_fit_split(cseg_prep *pp, const cseg_table *t, const char *const *columns,
                         size_t n_columns, const cseg__split_comm *comm, cseg_diag *d);
/* Rebuild out_names from cols (after fit or load). */
int cseg__prep_finish(cseg_prep *pp);
/* cseg_prep_transform in two steps: where the model's columns are in t
 * (the errors of a missing or mistyped column; made once), then rows
 * [r0, r1) of t into X (r1 - r0 rows; an error names the first bad value of
 * those rows, column by column). t must outlive the plan. */
typedef struct cseg__prep_plan cseg__prep_plan;
int cseg__prep_plan_make(const cseg_prep *pp, const cseg_table *t, cseg__prep_plan **out,
                         cseg_diag *d);
int cseg__prep_plan_rows(const cseg__prep_plan *pl, size_t r0, size_t r1, double *X,
                         cseg_diag *d);
void cseg__prep_plan_free(cseg__prep_plan *pl);

#endif
