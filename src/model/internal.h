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

#endif
