/* custseg — the saved segmentation pipeline (model.json).
 *
 * A model holds every step from raw input to segment: where the data came
 * from (a transaction log with its column roles, date format and RFM settings,
 * or a customer table with its id column), the fitted preprocessing, the
 * clustering model, the segment names, and free-form training metadata. A new
 * customer or event therefore goes through exactly the training steps. The
 * file format is versioned JSON (docs/model-format.md); doubles are written
 * with 17 significant digits and read back exactly.
 */
#ifndef CUSTSEG_MODEL_H
#define CUSTSEG_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/features.h"
#include "custseg/kmeans.h"
#include "custseg/prep.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CSEG_MODEL_FORMAT_VERSION 1

typedef enum cseg_source { CSEG_SOURCE_TRANSACTIONS = 0, CSEG_SOURCE_CUSTOMERS } cseg_source;

typedef struct cseg_model cseg_model;

CSEG_API int cseg_model_create(cseg_model **out);
CSEG_API void cseg_model_free(cseg_model *m);

/* Describe the input. Strings are copied; date_format may be NULL. */
CSEG_API int cseg_model_set_transactions(cseg_model *m, const cseg_txn_roles *roles,
                                         const char *date_format, const cseg_rfm_params *rfm);
CSEG_API int cseg_model_set_customers(cseg_model *m, const char *id_column);
/* Hand over a fitted prep and k-means model (the model owns and frees them). */
CSEG_API int cseg_model_set_pipeline(cseg_model *m, cseg_prep *prep, cseg_kmeans *km);
/* Segment names, one per cluster (copied). */
CSEG_API int cseg_model_set_names(cseg_model *m, const char *const *names, size_t k);
/* Training metadata: a JSON object as text (copied; validated). */
CSEG_API int cseg_model_set_meta(cseg_model *m, const char *json_object);

CSEG_API cseg_source cseg_model_source(const cseg_model *m);
CSEG_API const cseg_txn_roles *cseg_model_roles(const cseg_model *m);
CSEG_API const char *cseg_model_date_format(const cseg_model *m);
CSEG_API const cseg_rfm_params *cseg_model_rfm(const cseg_model *m);
CSEG_API const char *cseg_model_id_column(const cseg_model *m);
CSEG_API const cseg_prep *cseg_model_prep(const cseg_model *m);
CSEG_API const cseg_kmeans *cseg_model_kmeans(const cseg_model *m);
CSEG_API size_t cseg_model_k(const cseg_model *m);
CSEG_API const char *cseg_model_name(const cseg_model *m, size_t s);
/* Metadata as compact JSON text (borrowed), "{}" when unset. */
CSEG_API const char *cseg_model_meta(const cseg_model *m);

/* Assign the rows of a customer table (it must hold the model's feature
 * columns): labels and, optionally, the Euclidean distance to the segment
 * centre in model space. Read-only on m. Errors: CSEG_ENOTFIT, CSEG_ENOCOL,
 * CSEG_EINVAL with diag. */
CSEG_API int cseg_model_assign(const cseg_model *m, const cseg_table *customers,
                               int32_t *labels, double *distance, cseg_diag *d);

/* Write atomically (temp file + rename). CSEG_ENOTFIT without a pipeline. */
CSEG_API int cseg_model_save(const cseg_model *m, const char *path, cseg_diag *d);
/* Read and validate a model file. CSEG_EIO (cannot read), CSEG_EFORMAT (not
 * JSON, not a custseg model, another format version, or an inconsistent
 * field; diag says which, with line and column for JSON syntax errors). */
CSEG_API int cseg_model_load(cseg_model **out, const char *path, cseg_diag *d);

#ifdef __cplusplus
}
#endif
#endif
