/* custseg — customer lifetime value: the BTYD summary, BG/NBD and Gamma-Gamma.
 *
 * "Buy till you die" models read each customer's purchase history as a
 * summary in one time unit (days or weeks) up to the end of the calibration
 * period:
 *
 *   x    repeat purchases: the days with a purchase, less the first one
 *   t_x  recency: the last purchase day minus the first
 *   T    age: the calibration end (its last day) minus the first purchase day
 *   m    the average value of the repeat purchase days (0 when x = 0)
 *
 * (the summary of lifetimes' summary_data_from_transaction_data, columns
 * frequency, recency, T, monetary_value). cseg_rfm_compute writes it as the
 * columns btyd_frequency, btyd_recency, btyd_T and btyd_monetary_value when
 * cseg_rfm_params.clv.enabled is set.
 *
 * BG/NBD (Fader, Hardie & Lee 2005): while alive, a customer buys as a
 * Poisson process whose rate is Gamma(r, alpha) over customers; after each
 * purchase they drop out with a probability that is Beta(a, b) over
 * customers. Gamma-Gamma (Fader & Hardie 2013): a customer's order values are
 * Gamma(p, nu) with nu Gamma(q, v) over customers, independent of the
 * purchases; it is fitted on customers with x > 0 and m > 0.
 *
 * Both are fitted by maximum likelihood over the logarithms of their
 * parameters (BFGS with a backtracking line search on the exact gradient,
 * then Newton steps on a Hessian from differences of that gradient). A fit
 * that does not converge is not an error: cseg_clv_fit.status says what
 * happened and message says why in words. Standard errors come from the
 * inverse of the Hessian of -loglik at the optimum.
 *
 * The customer lifetime value over H months with a monthly discount d is
 *   sum_{i=1..H} E[order value] x (E[purchases by month i] - E[purchases by month i-1]) / (1+d)^i
 * with a month of 365.25 / 12 days (lifetimes uses 30 days, or 4.345 weeks).
 *
 * Threads: n_threads as elsewhere; results do not depend on it (sums are
 * taken over fixed blocks in a fixed order).
 */
#ifndef CUSTSEG_CLV_H
#define CUSTSEG_CLV_H

#include "custseg/error.h"
#include "custseg/table.h"
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Column names of the summary and the predictions in a customer table. */
#define CSEG_CLV_COL_FREQUENCY "btyd_frequency"
#define CSEG_CLV_COL_RECENCY "btyd_recency"
#define CSEG_CLV_COL_T "btyd_T"
#define CSEG_CLV_COL_MONETARY "btyd_monetary_value"
#define CSEG_CLV_COL_P_ALIVE "p_alive"
#define CSEG_CLV_COL_EXPECTED "expected_purchases"
#define CSEG_CLV_COL_ORDER_VALUE "expected_order_value"
#define CSEG_CLV_COL_CLV "clv"

#define CSEG_CLV_MONTH_DAYS (365.25 / 12)

typedef enum cseg_clv_kind {
    CSEG_CLV_BGNBD = 1,      /* parameters r, alpha, a, b */
    CSEG_CLV_GAMMA_GAMMA = 2 /* parameters p, q, v */
} cseg_clv_kind;

typedef enum cseg_clv_status {
    CSEG_CLV_UNFIT = 0, /* not fitted */
    CSEG_CLV_CONVERGED, /* the gradient vanished (relative to the log-likelihood) */
    CSEG_CLV_MAX_ITER,  /* the iteration limit came first */
    CSEG_CLV_STALLED,   /* no step improved the likelihood any more, gradient not small */
    CSEG_CLV_BOUNDARY   /* a parameter ran towards 0 or infinity: the data do not pin it */
} cseg_clv_status;

typedef struct cseg_clv_fit {
    int kind;          /* cseg_clv_kind */
    double param[4];   /* BG/NBD r, alpha, a, b; Gamma-Gamma p, q, v (param[3] unused) */
    double se[4];      /* standard errors; NaN when the Hessian is not positive definite */
    double loglik;     /* total log-likelihood at param */
    size_t n;          /* customers used */
    size_t n_iter;     /* optimiser iterations */
    int status;        /* cseg_clv_status */
    char message[192]; /* what happened, in words */
} cseg_clv_fit;

typedef struct cseg_clv_params {
    int enabled;           /* cseg_rfm_compute writes the summary (and, has_fit, the
                              predictions); default 0 */
    double unit_days;      /* length of the time unit in days: 1 (default) or 7 */
    double horizon_months; /* expected_purchases and clv look this far ahead; default 12 */
    double discount;       /* monthly discount rate of clv; default 0.01 */
    size_t max_iter;       /* optimiser iterations (BFGS and Newton steps); default 500 */
    int n_threads;         /* 0 (default): all cores */
    int has_fit;           /* bgnbd and gamma_gamma hold fitted models; default 0 */
    cseg_clv_fit bgnbd, gamma_gamma;
} cseg_clv_params;

CSEG_API void cseg_clv_params_init(cseg_clv_params *p);
/* NULL when p is usable, else a message naming the parameter. */
CSEG_API const char *cseg_clv_params_check(const cseg_clv_params *p);

/* The first row of a summary that no model can read (x not a whole number
 * >= 0, t_x < 0, T < t_x, x = 0 with t_x > 0, m < 0, m = 0 with x > 0,
 * anything not finite), as its index; -1 when all are usable. field
 * (optional) receives which value is wrong (0 x, 1 t_x, 2 T, 3 m) and why the
 * reason ("recency 5 is larger than T 3"). m may be NULL. */
CSEG_API long cseg_clv_check_summary(const double *x, const double *tx, const double *T,
                                     const double *m, size_t n, int *field, char *why,
                                     size_t why_size);

/* Total log-likelihood of the summaries under the parameters, and (grad not
 * NULL) its gradient with respect to them. Gamma-Gamma counts the rows with
 * x > 0 only. -inf when a parameter is not > 0. */
CSEG_API double cseg_bgnbd_loglik(const double param[4], const double *x, const double *tx,
                                  const double *T, size_t n, double grad[4]);
CSEG_API double cseg_gammagamma_loglik(const double param[3], const double *x, const double *m,
                                       size_t n, double grad[3]);

/* Fit by maximum likelihood. Errors: CSEG_EINVAL for an unusable row (diag
 * names it: "row 12: ..."), CSEG_EEMPTY when no customer has a repeat
 * purchase (the model cannot be identified), CSEG_ENOMEM. A fit that did not
 * converge returns 0 with out->status saying so. */
CSEG_API int cseg_bgnbd_fit(cseg_clv_fit *out, const double *x, const double *tx, const double *T,
                            size_t n, const cseg_clv_params *p, cseg_diag *d);
CSEG_API int cseg_gammagamma_fit(cseg_clv_fit *out, const double *x, const double *m, size_t n,
                                 const cseg_clv_params *p, cseg_diag *d);

/* Predictions, one value per customer into out (caller-allocated, n). */
/* P(alive | x, t_x, T). */
CSEG_API void cseg_bgnbd_p_alive(const double param[4], const double *x, const double *tx,
                                 const double *T, size_t n, double *out);
/* Expected purchases in the next t units, given x, t_x, T. */
CSEG_API void cseg_bgnbd_expected(const double param[4], double t, const double *x,
                                  const double *tx, const double *T, size_t n, double *out);
/* Expected purchases of a new customer in their first t units, E[X(t)]. */
CSEG_API double cseg_bgnbd_expected_new(const double param[4], double t);
/* Expected average order value (the population mean for x = 0). */
CSEG_API void cseg_gammagamma_expected(const double param[3], const double *x, const double *m,
                                       size_t n, double *out);
/* CLV over p->horizon_months with p->discount, from p's fitted models
 * (CSEG_EINVAL without both). */
CSEG_API int cseg_clv_value(const cseg_clv_params *p, const double *x, const double *tx,
                            const double *T, const double *m, size_t n, double *out);

/* Fit both models on the summary columns of a customer table (btyd_*; see
 * above) into p (has_fit = 1); without btyd_monetary_value, or with fewer
 * than 2 repeat buyers, only BG/NBD (gamma_gamma kind 0, its message saying
 * why). Errors as the BG/NBD fit; p is unchanged on an error. */
CSEG_API int cseg_clv_fit_table(cseg_clv_params *p, const cseg_table *customers, cseg_diag *d);
/* Append p_alive, expected_purchases (over horizon_months), expected_order_value
 * and clv to a customer table holding the summary columns, from p's models
 * (the last two only with the spend column and the Gamma-Gamma model). */
CSEG_API int cseg_clv_add_columns(cseg_table *customers, const cseg_clv_params *p, cseg_diag *d);

/* Repeat purchase days in a holdout period for each customer of cal, into
 * x_holdout (caller-allocated, one per row of cal): cal and full are
 * cseg_rfm_compute tables of the same log with clv.enabled, cal with as_of
 * the day after the calibration end, full with as_of the day after the
 * holdout end; the holdout days are full's purchase days less cal's. Errors:
 * CSEG_EINVAL when a customer of cal is missing from full or has fewer days
 * there (the tables do not come from one log). */
CSEG_API int cseg_clv_holdout(const cseg_table *cal, const cseg_table *full, double *x_holdout,
                              cseg_diag *d);

/* A check of BG/NBD on a holdout period: the model fitted on a log's
 * purchases up to calibration_end, its expected purchase days in the days
 * after it up to holdout_end set against the days the customers bought on,
 * by calibration repeat purchases 0..6 and 7+ (group 7), and all together. */
#define CSEG_CLV_CHECK_GROUPS 8
typedef struct cseg_clv_check {
    int64_t calibration_end, holdout_end;   /* days since 1970-01-01, both included */
    double duration;                        /* holdout length in the time unit */
    cseg_clv_fit bgnbd;                     /* fitted on the calibration period */
    size_t customers[CSEG_CLV_CHECK_GROUPS];
    double actual[CSEG_CLV_CHECK_GROUPS], predicted[CSEG_CLV_CHECK_GROUPS]; /* means */
    size_t n;                               /* customers of the calibration period */
    double actual_all, predicted_all;       /* means over all of them */
} cseg_clv_check;

/* The check on a transaction log (as cseg_txn_read returns it; rfm: its
 * cleaning and clv.unit_days, clv.max_iter, clv.n_threads). holdout_end
 * CSEG_DAY_AUTO: the last day of the log (before rfm->as_of_day when set).
 * Errors: CSEG_EINVAL when calibration_end is not before the holdout end,
 * and the errors of cseg_rfm_compute and cseg_bgnbd_fit (CSEG_EEMPTY: no
 * repeat purchase in the calibration period). */
struct cseg_txn_roles;  /* features.h */
struct cseg_rfm_params;
CSEG_API int cseg_clv_check_holdout(cseg_clv_check *out, const cseg_table *txn,
                                    const struct cseg_txn_roles *roles,
                                    const struct cseg_rfm_params *rfm, int64_t calibration_end,
                                    int64_t holdout_end, cseg_diag *d);

/* The parameters and the fitted models as a JSON object (the "clv" of
 * segments.json and model.json): malloc'd text, free with free(); NULL when
 * out of memory. */
CSEG_API char *cseg_clv_json(const cseg_clv_params *p);

#ifdef __cplusplus
}
#endif
#endif
