/* custseg — why a customer is in their segment (docs/explain.md).
 *
 * For a centroid model (k-means, hierarchical: the segment is the nearest
 * centre) the decision between the customer's segment a and the runner-up
 * b (the next nearest centre) is the difference of squared distances in
 * model space, which splits exactly over the model's features:
 *
 *   d_b^2 - d_a^2 = sum_j [(z_j - b_j)^2 - (z_j - a_j)^2]
 *
 * Each term is a feature's part of the decision (positive: it pulls the
 * customer towards a), and its share is the term over the sum. The model's
 * features are grouped back into the columns they come from (a text
 * column's one-hot features are one column; with PCA the components are
 * the features).
 *
 * The surrogate rules are a shallow decision tree (tree.h) fitted on the
 * input columns (missing numbers as the training median, text columns
 * one-hot) against the segments: each leaf a rule, read as "recency_days
 * <= 30.5 and frequency > 4.5", with its precision (the share of the
 * leaf's customers in the segment) and recall (the share of the segment's
 * customers in the leaf); the tree's fidelity is the share of customers it
 * puts in their segment.
 */
#ifndef CUSTSEG_EXPLAIN_H
#define CUSTSEG_EXPLAIN_H

#include "custseg/model.h"
#include "custseg/table.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The columns reasons are given for: the model's input columns, or its
 * principal components with PCA. */
CSEG_API size_t cseg_explain_n_features(const cseg_model *m);
CSEG_API const char *cseg_explain_feature_name(const cseg_model *m, size_t j);

/* For each customer row: segment (0..k-1, the model's rule), runner_up (the
 * next nearest centre; -1 when k is 1) and contrib (n x
 * cseg_explain_n_features, optional) each feature's part of d_b^2 - d_a^2.
 * Errors: CSEG_EPARAM for a model without centres to compare (DBSCAN,
 * mixtures), and those of cseg_model_transform. */
CSEG_API int cseg_explain_customers(const cseg_model *m, const cseg_table *customers,
                                    int32_t *segment, int32_t *runner_up, double *contrib,
                                    cseg_diag *d);

/* As cseg_explain_customers for the model's classifier (custseg train: a
 * tree or forest; CSEG_EPARAM for none or an SVM): segment is the
 * classifier's, runner_up the segment of the next largest share, and
 * contrib for each feature the exact TreeSHAP values (tree.h) of the segment's
 * share summed over its model features (a text column's one-hot features
 * together): its part of the share above the expected one. */
CSEG_API int cseg_explain_classifier(const cseg_model *m, const cseg_table *customers,
                                     int32_t *segment, int32_t *runner_up, double *contrib,
                                     cseg_diag *d);

/* Permutation importance of the model's input columns (the features of
 * cseg_explain_n_features without PCA: PCA's components are not columns to
 * shuffle): for each column, its values shuffled among the customers
 * (seeded), the share of customers the model's rule then puts in another
 * segment, mean and standard deviation over n_repeats shuffles (0: 5). On
 * at most max_rows customers (every m-th row; 0: all). importance and sd
 * (optional): cseg_prep_n_inputs values. */
CSEG_API int cseg_explain_importance(const cseg_model *m, const cseg_table *customers,
                                     size_t n_repeats, size_t max_rows, uint64_t seed,
                                     double *importance, double *sd, cseg_diag *d);

/* One rule of the surrogate tree. */
typedef struct cseg_rule {
    int32_t segment; /* the leaf's majority segment, 0..k-1 */
    char *text;      /* "recency_days <= 30.5 and frequency > 4.5" ("all customers" for a
                        tree of one leaf) */
    size_t support;  /* customers in the leaf */
    double precision, recall;
} cseg_rule;

typedef struct cseg_rules {
    size_t n; /* rules, by segment, then recall, largest first */
    cseg_rule *rule;
    double fidelity; /* the share of customers the tree puts in their segment */
    size_t depth;    /* the tree's depth */
} cseg_rules;

/* The surrogate rules of segments labels (0..k-1) of the customers, on the
 * model's input columns; max_depth 0: 3. The leaves have at least 1% of the
 * customers (at least 5). Above CSEG_RULES_MAX_ROWS customers the tree is
 * grown on every m-th customer (at most that many), and the rules' support,
 * precision, recall and the fidelity are still counted on every customer.
 * Free with cseg_rules_free. */
#define CSEG_RULES_MAX_ROWS 100000
CSEG_API int cseg_explain_rules(const cseg_model *m, const cseg_table *customers,
                                const int32_t *labels, size_t max_depth, cseg_rules *out,
                                cseg_diag *d);
CSEG_API void cseg_rules_free(cseg_rules *r);

#ifdef __cplusplus
}
#endif
#endif
