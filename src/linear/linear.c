/* custseg — linear SVMs trained by LIBLINEAR (linear.h).
 *
 * Training is LIBLINEAR's: the rows are handed to train() as its sparse
 * problem (every feature present, then the bias feature), one class against
 * the rest. What is kept is the weights, in class order, as a k x (d + 1)
 * matrix; prediction is the dot product of a row with each class's weights,
 * written here because it is one line and runs on dense rows without
 * LIBLINEAR's per-row node arrays. LIBLINEAR is opened when first needed
 * (core/dl.c). */
#include <dlfcn.h>
#include <linear.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/linear.h"

struct cseg_linear {
    size_t k, d;
    double *W; /* k x (d + 1): the weights of class c, then its bias */
};

void cseg_linear_params_init(cseg_linear_params *p)
{
    p->C = 1;
    p->eps = 1e-4;
}

const char *cseg_linear_params_check(const cseg_linear_params *p)
{
    if (!(p->C > 0) || !isfinite(p->C))
        return "C must be a positive number";
    if (!(p->eps > 0) || !isfinite(p->eps))
        return "eps must be a positive number";
    return NULL;
}

/* LIBLINEAR reports its iterations on stdout unless told otherwise; a
 * library prints nothing. */
static void quiet(const char *s)
{
    (void)s;
}

#define LINEAR_FUNCS(X)                                                                           \
    X(check_parameter) X(set_print_string_function) X(train) X(free_and_destroy_model)
static struct {
#define FIELD(f) __typeof__(&f) f;
    LINEAR_FUNCS(FIELD)
#undef FIELD
} ll;

static const char *linear_resolve(void *h)
{
#define SYM(f) CSEG__DL_SYM(ll, h, f)
    LINEAR_FUNCS(SYM)
#undef SYM
    return NULL;
}

static cseg__dl linear_lib = CSEG__DL_INIT(CSEG_SONAME_LINEAR, "linear SVMs", "liblinear4",
                                           linear_resolve);

static int check_input(const double *X, size_t n, size_t d, const int32_t *y, size_t k,
                       const double *class_weight, cseg_diag *diag)
{
    if (n == 0 || d == 0 || k == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "a linear SVM needs rows, features and classes");
    if (n > INT32_MAX || d >= INT32_MAX || k > INT32_MAX)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "too many rows or features for LIBLINEAR");
    for (size_t c = 0; class_weight && c < k; c++)
        if (!(class_weight[c] > 0) || !isfinite(class_weight[c]))
            return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "class weight %zu is not positive", c);
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || (size_t)y[i] >= k)
            return cseg__diag(diag, CSEG_EINVAL, NULL, (long)i + 1, 0,
                              "row %zu: label %d is not 0..%zu", i, (int)y[i], k - 1);
        for (size_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j]))
                return cseg__diag(diag, CSEG_EINVAL, NULL, (long)i + 1, (long)j + 1,
                                  "row %zu, feature %zu: not a finite number", i, j);
    }
    return 0;
}

int cseg_linear_fit(cseg_linear **out, const double *X, size_t n, size_t d, const int32_t *y,
                    size_t k, const double *class_weight, const cseg_linear_params *p,
                    cseg_diag *diag)
{
    *out = NULL;
    const char *bad = cseg_linear_params_check(p);
    if (bad)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    int rc = check_input(X, n, d, y, k, class_weight, diag);
    if (rc < 0 || (rc = cseg__dl_load(&linear_lib, diag)) < 0)
        return rc;
    size_t *count = calloc(k, sizeof *count);
    if (!count)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        count[y[i]]++;
    for (size_t c = 0; c < k && rc == 0; c++)
        if (count[c] == 0)
            rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                            "segment %zu has no customers to learn from", c + 1);
    free(count);
    if (rc < 0)
        return rc;
    size_t nn;
    if (cseg__mul3(n, d + 2, sizeof(struct feature_node), &nn) < 0)
        return CSEG_ENOMEM;
    cseg_linear *l = calloc(1, sizeof *l);
    struct feature_node *nodes = malloc(nn), **rows = malloc(n * sizeof *rows);
    double *yy = malloc(n * sizeof *yy), *wts = NULL;
    int *wlab = NULL;
    if (!l || !nodes || !rows || !yy || !(l->W = calloc(k * (d + 1), sizeof *l->W))) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    l->k = k;
    l->d = d;
    for (size_t i = 0; i < n; i++) {
        struct feature_node *r = nodes + i * (d + 2);
        for (size_t j = 0; j < d; j++)
            r[j] = (struct feature_node){(int)j + 1, X[i * d + j]};
        r[d] = (struct feature_node){(int)d + 1, 1.0}; /* the bias feature (problem.bias) */
        r[d + 1] = (struct feature_node){-1, 0};
        rows[i] = r;
        yy[i] = (double)y[i];
    }
    struct problem prob = {(int)n, (int)d + 1, yy, rows, 1.0};
    struct parameter par;
    memset(&par, 0, sizeof par);
    par.solver_type = L2R_L2LOSS_SVC;
#if LIBLINEAR_VERSION >= 240
    par.regularize_bias = 1; /* as 2.3 does and scikit-learn: the bias is a weight like the others */
#endif
    par.eps = p->eps;
    par.C = p->C;
    par.p = 0.1;
    if (class_weight) {
        if (!(wts = malloc(k * sizeof *wts)) || !(wlab = malloc(k * sizeof *wlab))) {
            rc = CSEG_ENOMEM;
            goto out;
        }
        for (size_t c = 0; c < k; c++) {
            wlab[c] = (int)c;
            wts[c] = class_weight[c];
        }
        par.nr_weight = (int)k;
        par.weight_label = wlab;
        par.weight = wts;
    }
    const char *why = ll.check_parameter(&prob, &par);
    if (why) {
        rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "LIBLINEAR: %s", why);
        goto out;
    }
    ll.set_print_string_function(quiet);
    struct model *lm = ll.train(&prob, &par);
    if (!lm) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    /* LIBLINEAR numbers its classes in the order the rows first show them
     * and keeps one weight vector for two classes (positive: its first);
     * here class c's weights are row c. */
    size_t nw = lm->nr_class == 2 ? 1 : (size_t)lm->nr_class;
    for (int li = 0; li < lm->nr_class; li++) {
        size_t c = (size_t)lm->label[li];
        for (size_t j = 0; j <= d; j++) {
            double w = nw == 1 ? lm->w[j] : lm->w[j * nw + (size_t)li];
            l->W[c * (d + 1) + j] = nw == 1 && li == 1 ? -w : w;
        }
    }
    ll.free_and_destroy_model(&lm);
out:
    free(nodes);
    free(rows);
    free(yy);
    free(wts);
    free(wlab);
    if (rc < 0)
        cseg_linear_free(l);
    else
        *out = l;
    return rc;
}

void cseg_linear_free(cseg_linear *l)
{
    if (!l)
        return;
    free(l->W);
    free(l);
}

int cseg_linear_predict(const cseg_linear *l, const double *X, size_t n, int32_t *labels,
                        double *decision)
{
    size_t k = l->k, d = l->d;
    for (size_t i = 0; i < n; i++) {
        const double *x = X + i * d;
        int32_t best = 0;
        double bv = -INFINITY;
        for (size_t c = 0; c < k; c++) {
            const double *w = l->W + c * (d + 1);
            double v = w[d];
            for (size_t j = 0; j < d; j++)
                v += w[j] * x[j];
            if (decision)
                decision[i * k + c] = v;
            if (v > bv) {
                bv = v;
                best = (int32_t)c;
            }
        }
        labels[i] = best;
    }
    return 0;
}

int cseg_linear_create(cseg_linear **out, const double *W, size_t k, size_t d)
{
    *out = NULL;
    if (k == 0 || d == 0)
        return CSEG_EINVAL;
    size_t nw;
    if (cseg__mul(k, d + 1, &nw) < 0)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < nw; i++)
        if (!isfinite(W[i]))
            return CSEG_EINVAL;
    cseg_linear *l = calloc(1, sizeof *l);
    if (!l || !(l->W = malloc(nw * sizeof *l->W))) {
        free(l);
        return CSEG_ENOMEM;
    }
    memcpy(l->W, W, nw * sizeof *l->W);
    l->k = k;
    l->d = d;
    *out = l;
    return 0;
}

const double *cseg_linear_weights(const cseg_linear *l)
{
    return l->W;
}

size_t cseg_linear_k(const cseg_linear *l)
{
    return l->k;
}

size_t cseg_linear_dim(const cseg_linear *l)
{
    return l->d;
}
