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
} cseg_prep_col;

struct cseg_prep {
    cseg_prep_params params;
    cseg_prep_col *cols;
    size_t n_cols;
    char **out_names;
    size_t n_out;
    int fitted;
};

/* Rebuild out_names from cols (after fit or load). */
int cseg__prep_finish(cseg_prep *pp);
/* cseg_prep_transform of rows [r0, r1) of t into X (r1 - r0 rows); an
 * error names the first bad value of those rows, column by column. */
int cseg__prep_transform_rows(const cseg_prep *pp, const cseg_table *t, size_t r0, size_t r1,
                              double *X, cseg_diag *d);

#endif
