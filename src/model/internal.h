/* custseg — model internals shared with the event writer (store/stream.c). */
#ifndef CUSTSEG_MODEL_INTERNAL_H
#define CUSTSEG_MODEL_INTERNAL_H

#include "custseg/model.h"
#include "../prep/internal.h"

/* cseg_model_assign with the table's columns already found (pl, made by
 * cseg__prep_plan_make on t with the model's prep): a table whose cells
 * change between calls (one row per streamed event) is planned once. */
int cseg__model_assign_planned(const cseg_model *m, const cseg_table *t,
                               const cseg__prep_plan *pl, int32_t *labels, double *distance,
                               cseg_diag *d);

/* cseg_model_assign, but a distance beyond the range of numbers (a value
 * far out of the training range) is given as it is, not refused: drift
 * measures such customers (src/drift/drift.c). */
int cseg__model_assign_any(const cseg_model *m, const cseg_table *t, int32_t *labels,
                           double *distance, cseg_diag *d);

/* The threads' buffers of an assignment, kept by a caller that assigns
 * chunk after chunk (cseg_model_assign_csv) so that each chunk uses the
 * memory the last one used: fresh memory costs a page fault a page on first
 * touch, and a chunk's buffers made anew were faulted in anew (about 1,600
 * faults for a million customers). Start zeroed; free with
 * cseg__assign_scratch_free. */
typedef struct cseg__assign_scratch {
    double *buf;
    size_t cap; /* doubles */
} cseg__assign_scratch;
void cseg__assign_scratch_free(cseg__assign_scratch *s);

/* cseg_model_assign (id_column NULL) or cseg_model_assign_known (n_kept
 * not told) with the buffers in sc, made or enlarged when short. */
int cseg__model_assign_chunk(const cseg_model *m, const cseg_table *t, const char *id_column,
                             int32_t *labels, double *distance, cseg__assign_scratch *sc,
                             cseg_diag *d);

#endif
