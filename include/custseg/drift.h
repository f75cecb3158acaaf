/* custseg — drift: how far new customers have moved from the ones a model
 * was trained on (docs/drift.md).
 *
 * At training time the model keeps a reference of its training customers
 * (cseg_model_set_reference; run and fit do it): for each input column of
 * the pipeline, its share of missing values, its mean, the bins of its
 * population stability index (the training deciles as edges, with the
 * training share of each bin) and its distribution for the
 * Kolmogorov-Smirnov statistic (every sorted value when there are at most
 * CSEG_DRIFT_EXACT of them, else CSEG_DRIFT_EXACT + 1 evenly spaced
 * quantiles); for a text column the share of each level; then the share of
 * each segment, the mean distance to the assigned segment's centre, and per
 * segment the 99th percentile of that distance.
 *
 * cseg_drift_measure compares a table of new customers with it:
 *
 *   PSI = sum over bins (a - e) ln(a / e), a and e the new and training
 *   shares of a bin (values at most an edge fall in its bin; a missing value
 *   is a bin of its own; shares below 1e-4 count as 1e-4);
 *   KS  = the largest distance between the two cumulative distributions
 *   (with the exact training values, scipy.stats.ks_2samp's statistic; with
 *   quantiles, against their piecewise-linear distribution: within about
 *   1 / CSEG_DRIFT_EXACT of the exact value);
 *
 * and the same PSI over the segment shares (new customers assigned by the
 * model's rule), the new mean distance, and the share of new customers
 * farther from their segment's centre than 99% of that segment's training
 * customers were ("no segment fits them"; about 1% without drift).
 */
#ifndef CUSTSEG_DRIFT_H
#define CUSTSEG_DRIFT_H

#include "custseg/model.h"
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CSEG_DRIFT_EXACT 1000

typedef enum cseg_drift_level {
    CSEG_DRIFT_OK = 0,
    CSEG_DRIFT_WARN, /* PSI >= psi_warn */
    CSEG_DRIFT_ALERT /* PSI >= psi_alert */
} cseg_drift_level;

typedef struct cseg_drift_params {
    double psi_warn;  /* default 0.1 */
    double psi_alert; /* default 0.25 */
} cseg_drift_params;

/* One input column. */
typedef struct cseg_drift_feature {
    const char *name; /* borrowed from the model */
    int is_text;
    double psi;
    double ks;                       /* NaN for text */
    double ref_mean, new_mean;       /* of the values present; NaN for text */
    double ref_missing, new_missing; /* shares of missing values */
    cseg_drift_level level;
} cseg_drift_feature;

typedef struct cseg_drift_result {
    size_t n_ref, n_new; /* training customers, new customers */
    double segment_psi;  /* over the segment shares */
    cseg_drift_level segment_level;
    double ref_mean_distance, new_mean_distance; /* NaN for DBSCAN */
    double unfit_share;     /* beyond their segment's 99th percentile (NaN for DBSCAN) */
    cseg_drift_level level; /* the worst of the features' and the segments' */
} cseg_drift_result;

CSEG_API void cseg_drift_params_init(cseg_drift_params *p);
/* NULL when p is usable (0 < psi_warn <= psi_alert), else what is wrong. */
CSEG_API const char *cseg_drift_params_check(const cseg_drift_params *p);

/* Keep the reference of the training customers (the table the model's
 * pipeline was fitted on) in the model, replacing any. Their segments and
 * distances are the model's rule's (cseg_model_assign), as new customers'
 * will be; a DBSCAN model keeps no distances (it has no centres).
 * CSEG_ENOCOL for a missing input column, and the errors of
 * cseg_model_assign. */
CSEG_API int cseg_model_set_reference(cseg_model *m, const cseg_table *customers, cseg_diag *d);
/* Whether the model keeps one (models written before it did do not). */
CSEG_API int cseg_model_has_reference(const cseg_model *m);
/* The input columns compared: cseg_prep_n_inputs of the model's pipeline. */
CSEG_API size_t cseg_drift_n_features(const cseg_model *m);

/* Compare customers (a table with the model's input columns, as assign
 * takes) with the reference. Outputs caller-allocated: features
 * (cseg_drift_n_features), ref_share and new_share (k each, optional).
 * Errors: CSEG_ENOTFIT without a reference, CSEG_EINVAL for no rows, bad
 * params or a column of the wrong type, CSEG_ENOCOL for a missing column,
 * and those of cseg_model_assign. */
CSEG_API int cseg_drift_measure(const cseg_model *m, const cseg_table *customers,
                                const cseg_drift_params *p, cseg_drift_feature *features,
                                double *ref_share, double *new_share, cseg_drift_result *res,
                                cseg_diag *d);

#ifdef __cplusplus
}
#endif
#endif
