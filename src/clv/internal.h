/* custseg — lifetime value internals: special functions and the optimiser. */
#ifndef CUSTSEG_CLV_INTERNAL_H
#define CUSTSEG_CLV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* The digamma function psi(x) for x > 0 (special.c). C's math library has
 * lgamma but no digamma; neither do the project's dependencies. Recurrence to
 * x >= 10, then the asymptotic series: relative error below 1e-15. */
double cseg__digamma(double x);

/* Gauss's hypergeometric 2F1(a, b; c; z) for 0 <= z < 1 and c not 0, -1,
 * -2, ... by its power series, summed until a term no longer changes the sum
 * (at most 10^7 terms; *ok = 0 when they ran out). The value is the result
 * times e^(*log_scale): 0 unless the sum went beyond 1e280 (large a and b).
 * Its only use here is the BG/NBD expectation, in the Euler-transformed form
 * whose a and b do not grow with the customer's purchases. */
double cseg__hyp2f1(double a, double b, double c, double z, int *ok, double *log_scale);

/* Minimise f over dim <= 4 variables. f returns the value and writes the
 * gradient; a non-finite value means "outside the domain" (the line search
 * steps back). BFGS with a backtracking (Armijo) line search, then Newton
 * steps on a Hessian from central differences of the gradient; max_iter counts
 * both kinds of step. */
typedef double (*cseg__objective)(void *ctx, const double *x, double *grad);

typedef struct cseg__min_result {
    size_t n_iter;
    double f, gmax;  /* value and largest |gradient| at the end */
    double H[16];    /* Hessian (dim x dim) at the end, from gradient differences */
    int hessian_ok;  /* H is positive definite */
    double Hinv[16]; /* its inverse when hessian_ok */
    int stalled;     /* the line search found no decrease before gmax <= gtol */
    int max_iter;    /* stopped at the iteration limit */
} cseg__min_result;

int cseg__minimize(cseg__objective f, void *ctx, int dim, double *x, size_t max_iter, double gtol,
                   double max_abs_x, cseg__min_result *out);

/* A summary with its distinct x values (models.c): xv[nx] the values,
 * xi[i] the index of x[i] among them, per_x scratch (6 per value), logm the
 * logarithms of m where x > 0 (when m is given). */
typedef struct cseg__clv_data {
    const double *x, *tx, *T, *m;
    size_t n, nx;
    uint32_t *xi;
    double *xv, *per_x, *logm;
} cseg__clv_data;

int cseg__clv_data_init(cseg__clv_data *dd, const double *x, const double *tx, const double *T,
                        const double *m, size_t n);
void cseg__clv_data_free(cseg__clv_data *dd);
/* Log-likelihood and gradient (natural parameters); -inf outside the domain. */
double cseg__bgnbd_eval(cseg__clv_data *dd, const double *p, double *grad, int n_threads);
double cseg__gammagamma_eval(cseg__clv_data *dd, const double *p, double *grad, int n_threads);

/* The parameters and fits as a JSON object, and back (json.c); from_json
 * sets *why and returns -1 on a malformed object. */
#include <jansson.h>
struct cseg_clv_params;
json_t *cseg__clv_json(const struct cseg_clv_params *p);
int cseg__clv_from_json(json_t *o, struct cseg_clv_params *p, const char **why);

#endif
