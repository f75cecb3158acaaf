/* custseg — private declarations of the drift module. */
#ifndef CSEG_DRIFT_INTERNAL_H
#define CSEG_DRIFT_INTERNAL_H

#include <jansson.h>

#include "../core/internal.h"
#include "custseg/drift.h"

/* The reference of one input column (drift.h). */
typedef struct cseg__ref_feature {
    char *name;
    int is_text;
    double missing; /* share of the training customers without a value */
    double mean;    /* of the values present (numbers) */
    /* numbers: PSI bins (-inf, e0], (e0, e1] ... (e_last, inf) with their
     * training shares of all customers (the missing share apart); the KS
     * distribution: exact (points = every sorted value present) or
     * CSEG_DRIFT_EXACT + 1 quantiles */
    size_t n_edges;
    double *edges, *shares;
    int exact;
    size_t n_points;
    double *points;
    /* text: the training levels and their shares; other = missing or unseen */
    size_t n_levels;
    char **levels;
    double *level_shares;
} cseg__ref_feature;

typedef struct cseg__ref {
    size_t n, k, n_features;
    cseg__ref_feature *f;
    double *seg_share;    /* k */
    double mean_distance; /* NaN: none (DBSCAN) */
    double *dist_q99;     /* k; NaN for an empty segment or without distances */
} cseg__ref;

void cseg__ref_free(cseg__ref *r);
json_t *cseg__ref_json(const cseg__ref *r);
/* CSEG_EFORMAT for a reference that is not one of k segments. */
int cseg__ref_from_json(json_t *j, size_t k, cseg__ref **out);

/* cseg_model_set_reference with the rule's segments (labels) and
 * distances of the customers already at hand (the pipeline has them): the
 * same reference without assigning them again. fitted_on: customers is the
 * table the model's preprocessing was fitted on, whose column quantiles it
 * kept (then they are not sorted again). */
int cseg__model_set_reference_from(cseg_model *m, const cseg_table *customers,
                                   const int32_t *labels, const double *distance, int fitted_on,
                                   cseg_diag *d);

/* The same of customers held in pieces (src/core/internal.h), each piece
 * passing its rows, labels and distances: every piece gets the reference of
 * all of them, bit for bit (exactly rounded sums and means, order
 * statistics by comm's selection). comm NULL: one process. */
int cseg__model_set_reference_split(cseg_model *m, const cseg_table *customers,
                                    const int32_t *labels, const double *distance, int fitted_on,
                                    const cseg__split_comm *comm, cseg_diag *d);

/* In model.c: the model's reference (taken over; NULL drops it). */
void cseg__model_put_reference(cseg_model *m, cseg__ref *r);
const cseg__ref *cseg__model_reference(const cseg_model *m);

#endif
