/* custseg — linear support vector machines for classifying customers into
 * segments, trained by LIBLINEAR (Fan, Chang, Hsieh, Wang & Lin 2008; the
 * Debian package liblinear-dev), not rewritten here.
 *
 * The classifier is LIBLINEAR's L2-regularised squared-hinge SVM solved in
 * the primal by its trust-region Newton method (solver L2R_L2LOSS_SVC), one
 * class against the rest, with a bias feature of value 1 (regularised, as
 * LIBLINEAR and scikit-learn do). This is scikit-learn's
 * LinearSVC(dual=False), which calls the same solver: with the same C and
 * tolerance the two reach the same optimum (the problem is strictly convex),
 * the same weights to the tolerance and the same predictions. The primal
 * solver draws no random numbers, so a fit depends on nothing but its data
 * and parameters (LIBLINEAR's dual solvers shuffle with rand()).
 */
#ifndef CUSTSEG_LINEAR_H
#define CUSTSEG_LINEAR_H

#include "custseg/error.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cseg_linear_params {
    double C;   /* the cost of a margin violation; default 1 */
    double eps; /* stopping tolerance on the gradient's norm, relative; default 1e-4
                   (scikit-learn's tol) */
} cseg_linear_params;

typedef struct cseg_linear cseg_linear;

CSEG_API void cseg_linear_params_init(cseg_linear_params *p);
/* NULL when p is usable, else what is wrong with it. */
CSEG_API const char *cseg_linear_params_check(const cseg_linear_params *p);

/* Fit on X (n x d, row-major) against labels y (0..k-1); class_weight (k
 * values, NULL: all 1) multiplies C for the rows of each class. Errors:
 * CSEG_EINVAL (n, d or k is 0, a label out of range, a class without rows,
 * a NaN or infinite value, a weight <= 0; diag names the row), CSEG_ENOMEM. Time
 * about O(n d) per Newton step, a few dozen steps per class. */
CSEG_API int cseg_linear_fit(cseg_linear **out, const double *X, size_t n, size_t d,
                             const int32_t *y, size_t k, const double *class_weight,
                             const cseg_linear_params *p, cseg_diag *diag);
CSEG_API void cseg_linear_free(cseg_linear *l);

/* Each row's class: the largest decision value w_c . x + b_c (the lowest
 * class on a tie); decision (n x k, optional) receives the values. Read-only
 * on l: threads may share it. */
CSEG_API int cseg_linear_predict(const cseg_linear *l, const double *X, size_t n, int32_t *labels,
                                 double *decision);

/* A classifier from its weights (as cseg_linear_weights gives them; a saved
 * model's): W is k x (d + 1), row c the weights of class c then its bias.
 * CSEG_EINVAL for k or d 0 or a value not finite. */
CSEG_API int cseg_linear_create(cseg_linear **out, const double *W, size_t k, size_t d);
CSEG_API const double *cseg_linear_weights(const cseg_linear *l);
CSEG_API size_t cseg_linear_k(const cseg_linear *l);
CSEG_API size_t cseg_linear_dim(const cseg_linear *l);

#ifdef __cplusplus
}
#endif
#endif
