/* custseg — Gaussian mixture models fitted by expectation-maximisation.
 *
 * A mixture of k Gaussians gives every customer a probability of belonging to
 * each segment instead of one hard label, so borderline customers can be told
 * apart from typical ones. The method follows scikit-learn's
 * sklearn.mixture.GaussianMixture step for step, so results can be checked
 * against it:
 *
 *   - Start: k-means (cseg_kmeans, n_init 1) labels as hard responsibilities,
 *     then one M-step; or a caller's weights, means and precisions (any of
 *     the three; the rest come from the k-means start).
 *   - E-step: log N(x | mu_c, Sigma_c) + log w_c per component, normalised by
 *     log-sum-exp; the lower bound is the mean over samples of that
 *     normaliser, i.e. the mean log-likelihood per sample.
 *   - M-step: weights, means and covariances from the responsibilities;
 *     reg_covar is added to every covariance diagonal (the variance floor that
 *     keeps a constant feature or a collapsed component usable), then the
 *     Cholesky factor of each precision is formed.
 *   - Iteration t runs the E-step (giving lower bound t, computed with the
 *     parameters from before this iteration's M-step, as in scikit-learn),
 *     then the M-step; it stops when |bound_t - bound_{t-1}| < tol or after
 *     max_iter iterations. Of n_init restarts the one with the highest final
 *     bound is kept; a last E-step with the kept parameters gives the
 *     training labels.
 *
 * Covariance types: FULL (one d x d matrix per component), TIED (one d x d
 * matrix shared by all), DIAG (d variances per component), SPHERICAL (one
 * variance per component).
 *
 * Complexity: per EM iteration O(n k d^2) for FULL and TIED, O(n k d) for
 * DIAG and SPHERICAL, plus O(k d^3) for the factorisations; memory O(n) for
 * the labels plus O(k d^2) per block of samples. Work is split into fixed
 * blocks of samples whose partial sums are added in block order: results are
 * identical for any thread count.
 *
 * References: Dempster, Laird & Rubin (1977); Bishop, "Pattern Recognition and
 * Machine Learning" (2006) ch. 9; scikit-learn's GaussianMixture (conventions:
 * 10 x machine epsilon added to the component masses, bound before M-step,
 * BIC/AIC and parameter counts).
 */
#ifndef CUSTSEG_GMM_H
#define CUSTSEG_GMM_H

#include "custseg/error.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cseg_gmm_cov {
    CSEG_GMM_FULL = 0, /* k x d x d covariances */
    CSEG_GMM_TIED,     /* one d x d covariance for all components */
    CSEG_GMM_DIAG,     /* k x d variances */
    CSEG_GMM_SPHERICAL /* k variances */
} cseg_gmm_cov;

typedef struct cseg_gmm_params {
    size_t k;         /* components; default 1 (as scikit-learn) */
    cseg_gmm_cov cov; /* default CSEG_GMM_FULL */
    size_t n_init;    /* restarts, the best lower bound is kept; default 1 */
    size_t max_iter;  /* EM iterations per restart; default 100 */
    double tol;       /* on the change of the lower bound (mean log-likelihood
                         per sample); default 1e-3; 0 runs max_iter iterations */
    double reg_covar; /* added to every covariance diagonal; default 1e-6 */
    uint64_t seed;    /* seeds the k-means starts; default 0 */
    int n_threads;    /* 0 (default): all cores (OpenMP); ignored without OpenMP */
    /* Optional starting point, borrowed for the fit (NULL = from the k-means
     * start), scikit-learn semantics: weights (k, >= 0, summing to 1), means
     * (k x d), precisions = inverse covariances in the layout of the type:
     * FULL k x d x d, TIED d x d, DIAG k x d, SPHERICAL k. */
    const double *init_weights, *init_means, *init_precisions;
} cseg_gmm_params;

typedef struct cseg_gmm cseg_gmm;

/* Set the documented defaults. */
/* "full", "tied", "diag" or "spherical"; NULL for a value outside the enum. */
CSEG_API const char *cseg_gmm_cov_name(cseg_gmm_cov cov);
/* The covariance type named s (as cseg_gmm_cov_name gives it): 0, or CSEG_EINVAL. */
CSEG_API int cseg_gmm_cov_parse(const char *s, cseg_gmm_cov *out);

CSEG_API void cseg_gmm_params_init(cseg_gmm_params *p);
/* NULL when p is usable, else a message naming the bad value (a static
 * string). Dimensions of the init arrays are checked by cseg_gmm_fit. */
CSEG_API const char *cseg_gmm_params_check(const cseg_gmm_params *p);

/* Create an unfitted model with a copy of p (NULL = defaults). The caller owns
 * *out and frees it with cseg_gmm_free. Errors: CSEG_EINVAL (params_check
 * failed), CSEG_ENOMEM. */
CSEG_API int cseg_gmm_create(cseg_gmm **out, const cseg_gmm_params *p);
/* Release g; accepts NULL. */
CSEG_API void cseg_gmm_free(cseg_gmm *g);

/* Fit on X (n x d, row-major, borrowed for the call); the model keeps copies
 * of what it needs. Errors, with diag (optional) filled: CSEG_EINVAL (d == 0,
 * n < k, a NaN/Inf value (diag names row and column), bad init arrays),
 * CSEG_ERANGE (a covariance is not positive definite even with reg_covar:
 * diag names the component and suggests a larger reg_covar), CSEG_ETOOBIG
 * (the workspace would exceed the machine's memory; diag says how much is
 * needed), CSEG_ENOMEM. On error the model keeps its previous state. Not
 * converging within max_iter is not an error: see cseg_gmm_converged.
 * Time O(n_init x iterations x n k d^2) (FULL/TIED), O(... n k d) (DIAG,
 * SPHERICAL); memory O(n + blocks x k d^2). Not thread-safe on g. */
CSEG_API int cseg_gmm_fit(cseg_gmm *g, const double *X, size_t n, size_t d, cseg_diag *diag);

/* For each row of X (n x d, d = cseg_gmm_dim): labels[i] (optional) gets the
 * component of highest posterior probability (lowest index on ties) and
 * proba (optional, n x k, caller-allocated) the posterior probabilities
 * (rows sum to 1). Errors: CSEG_ENOTFIT, CSEG_EINVAL (X NULL with n > 0,
 * or a NaN/Inf value), CSEG_ENOMEM. O(n k d^2), parallel over blocks of rows
 * from 4096 rows on. Read-only on g: threads may share a fitted model. */
CSEG_API int cseg_gmm_predict(const cseg_gmm *g, const double *X, size_t n, int32_t *labels,
                              double *proba);

/* logp[i] = log of the mixture density at row i of X (n x d). Errors and cost
 * as cseg_gmm_predict; read-only, thread-safe. */
CSEG_API int cseg_gmm_score_samples(const cseg_gmm *g, const double *X, size_t n, double *logp);

/* Bayesian information criterion on X (n x d, n >= 1), as scikit-learn:
 * -2 x total log-likelihood + n_parameters x ln(n); lower is better, so the k
 * with the lowest BIC is a principled choice of the number of segments.
 * Errors as cseg_gmm_score_samples; read-only, thread-safe. */
CSEG_API int cseg_gmm_bic(const cseg_gmm *g, const double *X, size_t n, double *out);
/* Akaike information criterion: -2 x total log-likelihood + 2 x n_parameters. */
CSEG_API int cseg_gmm_aic(const cseg_gmm *g, const double *X, size_t n, double *out);
/* Free parameters of the model (scikit-learn's _n_parameters): k - 1 weights,
 * k d means, and k d (d + 1) / 2 (FULL), d (d + 1) / 2 (TIED), k d (DIAG) or
 * k (SPHERICAL) covariance values. 0 when not fitted. */
CSEG_API size_t cseg_gmm_n_parameters(const cseg_gmm *g);

/* Shape: the fitted (or set) values, or the params' k before a fit. */
CSEG_API size_t cseg_gmm_k(const cseg_gmm *g);
CSEG_API size_t cseg_gmm_dim(const cseg_gmm *g);
CSEG_API cseg_gmm_cov cseg_gmm_cov_type(const cseg_gmm *g);
/* Fitted parameters (borrowed, valid until the next fit or set; NULL before):
 * weights k, means k x d, covariances (reg_covar included) in the layout of
 * the type: FULL k x d x d, TIED d x d, DIAG k x d, SPHERICAL k. */
CSEG_API const double *cseg_gmm_weights(const cseg_gmm *g);
CSEG_API const double *cseg_gmm_means(const cseg_gmm *g);
CSEG_API const double *cseg_gmm_covariances(const cseg_gmm *g);
/* Iterations of the kept restart, and whether it met tol before max_iter. */
CSEG_API size_t cseg_gmm_n_iter(const cseg_gmm *g);
CSEG_API int cseg_gmm_converged(const cseg_gmm *g);
/* Lower bound of the last iteration of the kept restart (scikit-learn's
 * lower_bound_): the mean log-likelihood per sample under the parameters
 * before that iteration's M-step. */
CSEG_API double cseg_gmm_lower_bound(const cseg_gmm *g);
/* The lower bound after every EM iteration of the kept restart (n_iter
 * values, *n_out set; borrowed), element t-1 being what scikit-learn reports
 * as lower_bound_ when run with max_iter = t from the same start. */
CSEG_API const double *cseg_gmm_lower_bounds(const cseg_gmm *g, size_t *n_out);
/* Training labels from the final E-step with the kept parameters (as
 * scikit-learn's fit_predict), n values; NULL when the model was set. */
CSEG_API const int32_t *cseg_gmm_labels(const cseg_gmm *g);

/* Install a saved model: weights (k, positive, summing to 1 within 1e-9),
 * means (k x d) and covariances in the layout of cov (copied). Covariances
 * must be symmetric positive definite (checked by Cholesky). Afterwards
 * predict, score_samples, bic and aic work; labels and lower bounds are
 * cleared. Errors: CSEG_EINVAL (bad shape, non-finite or invalid values),
 * CSEG_ERANGE (a covariance not positive definite), CSEG_ENOMEM; on error g is
 * unchanged. O(k d^3). */
CSEG_API int cseg_gmm_set(cseg_gmm *g, size_t k, size_t d, cseg_gmm_cov cov, const double *weights,
                          const double *means, const double *covariances);

/* Whether the model has parameters (fitted or set). */
CSEG_API int cseg_gmm_is_fitted(const cseg_gmm *g);
/* Number of doubles in the covariance array of a type (k x d x d, d x d,
 * k x d or k); 0 on overflow. */
CSEG_API size_t cseg_gmm_cov_size(cseg_gmm_cov cov, size_t k, size_t d);
CSEG_API const cseg_gmm_params *cseg_gmm_get_params(const cseg_gmm *g);

#ifdef __cplusplus
}
#endif
#endif
