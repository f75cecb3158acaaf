/* custseg — preprocessing: a fitted, saved feature pipeline.
 *
 * Turns table columns into the numeric matrix a clustering model sees, with
 * steps learned on the training table and replayed unchanged on new data:
 *   number columns: median imputation -> optional log1p(x + shift) -> scaling
 *   text columns:   one-hot encoding of the training levels (a missing or
 *                   unseen level gives all zeros); one-hot columns are not scaled
 * Log: CSEG_LOG_AUTO applies log1p to a number column whose sample skewness
 * exceeds skew_threshold (spend and counts, in practice); the shift is
 * max(0, -min) so negative values (net spend after returns) stay finite; a
 * new value x with x + shift < 0 (below the training minimum when that was
 * negative, below 0 otherwise) is clamped to log1p(0) = 0.
 * Scaling: standard (mean, population standard deviation), robust (median,
 * interquartile range) or none; a constant column gets scale 1.
 */
#ifndef CUSTSEG_PREP_H
#define CUSTSEG_PREP_H

#include <stddef.h>
#include "custseg/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cseg_scale { CSEG_SCALE_STANDARD = 0, CSEG_SCALE_ROBUST, CSEG_SCALE_NONE } cseg_scale;
typedef enum cseg_logmode { CSEG_LOG_AUTO = 0, CSEG_LOG_NONE, CSEG_LOG_ALL } cseg_logmode;

typedef struct cseg_prep_params {
    cseg_scale scale;      /* default CSEG_SCALE_STANDARD */
    cseg_logmode log;      /* default CSEG_LOG_AUTO */
    double skew_threshold; /* default 1.0 */
    size_t max_levels;     /* most levels one-hot encoded per text column; default 50 */
} cseg_prep_params;

typedef struct cseg_prep cseg_prep;

CSEG_API void cseg_prep_params_init(cseg_prep_params *p);
/* NULL when p is valid, else a message naming the bad field. */
CSEG_API const char *cseg_prep_params_check(const cseg_prep_params *p);

CSEG_API int cseg_prep_create(cseg_prep **out, const cseg_prep_params *p);
CSEG_API void cseg_prep_free(cseg_prep *pp);

/* Learn the steps for the named columns of t (number or text columns).
 * Errors: CSEG_ENOCOL (a column is missing), CSEG_EINVAL (a date column, a
 * column with no values, a text column with more than max_levels levels),
 * with diag naming the column. O(n log n) per number column (medians). */
CSEG_API int cseg_prep_fit(cseg_prep *pp, const cseg_table *t, const char *const *columns,
                           size_t n_columns, cseg_diag *d);
CSEG_API int cseg_prep_is_fitted(const cseg_prep *pp);

/* Number of output features and their names ("monetary", "Genre=Male"). */
CSEG_API size_t cseg_prep_n_outputs(const cseg_prep *pp);
CSEG_API const char *cseg_prep_output_name(const cseg_prep *pp, size_t j);
/* Input columns the pipeline reads. */
CSEG_API size_t cseg_prep_n_inputs(const cseg_prep *pp);
CSEG_API const char *cseg_prep_input_name(const cseg_prep *pp, size_t j);
/* Did input column j get the log step? */
CSEG_API int cseg_prep_input_is_logged(const cseg_prep *pp, size_t j);
/* Is input column j a category column (one-hot encoded; read it as text)? */
CSEG_API int cseg_prep_input_is_category(const cseg_prep *pp, size_t j);

/* Apply the fitted steps to t, writing n_rows x n_outputs doubles to X
 * (caller-allocated, row-major). Columns are found by name in t. Read-only
 * on pp: threads may share it. Errors: CSEG_ENOTFIT, CSEG_ENOCOL, CSEG_EINVAL
 * (a column of the wrong type). */
CSEG_API int cseg_prep_transform(const cseg_prep *pp, const cseg_table *t, double *X,
                                 cseg_diag *d);

#ifdef __cplusplus
}
#endif
#endif
