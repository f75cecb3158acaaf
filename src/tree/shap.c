/* custseg — exact TreeSHAP values of trees and forests (tree.h).
 *
 * Algorithm 2 of Lundberg, Erion & Lee, "Consistent individualized feature
 * attribution for tree ensembles" (2018): one pass down the tree keeps, for
 * the features met on the path, the fraction of subsets that reach each
 * point ("extend" and "unwind"), so that the Shapley values of all features
 * come out in O(leaves x depth^2) instead of the 2^d subsets. Written here:
 * no dependency has it (the reference implementation is C++ inside the
 * Python shap package). A feature left out of a subset follows both
 * branches of a split, each in proportion to the training weight it
 * received (the "path-dependent" expectation); the values are those of
 * every class share at once. */
#include <stdlib.h>
#include <string.h>

#include "custseg/tree.h"

typedef struct path_elem {
    long feature; /* -1: the root's placeholder */
    double zero, one, w;
} path_elem;

typedef struct shap_ctx {
    const cseg_tree_node *nd;
    const double *values; /* n_nodes x k class counts */
    size_t k, d;
    const double *x;
    double *phi;     /* d x k */
    path_elem *pool; /* (depth + 2) paths of (depth + 2) elements */
    size_t stride;
} shap_ctx;

static void extend(path_elem *m, size_t l, double pz, double po, long pi)
{
    m[l] = (path_elem){pi, pz, po, l == 0 ? 1.0 : 0.0};
    for (size_t i = l; i-- > 0;) {
        m[i + 1].w += po * m[i].w * (double)(i + 1) / (double)(l + 1);
        m[i].w = pz * m[i].w * (double)(l - i) / (double)(l + 1);
    }
}

/* Remove element i from the path of l + 1 elements (its weights recomputed). */
static void unwind(path_elem *m, size_t l, size_t i)
{
    double n = m[l].w, o = m[i].one, z = m[i].zero;
    for (size_t j = l; j-- > 0;) {
        if (o != 0) {
            double t = m[j].w;
            m[j].w = n * (double)(l + 1) / ((double)(j + 1) * o);
            n = t - m[j].w * z * (double)(l - j) / (double)(l + 1);
        } else if (z != 0) {
            m[j].w = m[j].w * (double)(l + 1) / (z * (double)(l - j));
        }
    }
    for (size_t j = i; j < l; j++) {
        m[j].feature = m[j + 1].feature;
        m[j].zero = m[j + 1].zero;
        m[j].one = m[j + 1].one;
    }
}

/* The weight the path would have without element i (unwound, summed). */
static double unwound_sum(const path_elem *m, size_t l, size_t i)
{
    double o = m[i].one, z = m[i].zero, n = m[l].w, total = 0;
    for (size_t j = l; j-- > 0;) {
        if (o != 0) {
            double t = n * (double)(l + 1) / ((double)(j + 1) * o);
            total += t;
            n = m[j].w - t * z * (double)(l - j) / (double)(l + 1);
        } else if (z != 0) {
            total += m[j].w * (double)(l + 1) / (z * (double)(l - j));
        } /* else a branch no training weight reached: the weight is 0 */
    }
    return total;
}

static void recurse(shap_ctx *c, size_t node, size_t depth, const path_elem *parent, size_t plen,
                    double pz, double po, long pi)
{
    path_elem *m = c->pool + depth * c->stride;
    memcpy(m, parent, plen * sizeof *m);
    extend(m, plen, pz, po, pi);
    size_t l = plen; /* the path now has l + 1 elements */
    const cseg_tree_node *t = &c->nd[node];
    if (t->left < 0) {
        const double *v = c->values + node * c->k;
        double sum = 0;
        for (size_t q = 0; q < c->k; q++)
            sum += v[q];
        for (size_t i = 1; i <= l; i++) {
            double w = unwound_sum(m, l, i) * (m[i].one - m[i].zero);
            double *ph = c->phi + (size_t)m[i].feature * c->k;
            for (size_t q = 0; q < c->k; q++)
                ph[q] += w * (sum > 0 ? v[q] / sum : 1.0 / (double)c->k);
        }
        return;
    }
    size_t f = (size_t)t->feature;
    int left = (float)c->x[f] <= t->threshold;
    size_t hot = (size_t)(left ? t->left : t->right), cold = (size_t)(left ? t->right : t->left);
    double rj = t->weighted_n_samples, rh = c->nd[hot].weighted_n_samples,
           rc = c->nd[cold].weighted_n_samples;
    double iz = 1, io = 1;
    size_t k;
    for (k = 1; k <= l; k++)
        if (m[k].feature == (long)f)
            break;
    if (k <= l) { /* the feature was split on above: undo its earlier extension */
        iz = m[k].zero;
        io = m[k].one;
        unwind(m, l, k);
        l--;
    }
    recurse(c, hot, depth + 1, m, l + 1, rj > 0 ? iz * rh / rj : 0, io, (long)f);
    recurse(c, cold, depth + 1, m, l + 1, rj > 0 ? iz * rc / rj : 0, 0, (long)f);
}

/* The expected shares over the training cover: base (k). */
static void expected(const cseg_tree *t, double *base)
{
    const cseg_tree_node *nd = cseg_tree_nodes(t);
    const double *v = cseg_tree_values(t);
    size_t k = cseg_tree_k(t);
    double root = nd[0].weighted_n_samples;
    for (size_t q = 0; q < k; q++)
        base[q] = 0;
    for (size_t i = 0; i < cseg_tree_n_nodes(t); i++) {
        if (nd[i].left >= 0)
            continue;
        double sum = 0;
        for (size_t q = 0; q < k; q++)
            sum += v[i * k + q];
        for (size_t q = 0; q < k; q++)
            base[q] += (root > 0 ? nd[i].weighted_n_samples / root : 0) *
                       (sum > 0 ? v[i * k + q] / sum : 1.0 / (double)k);
    }
}

/* Add (scale x) the tree's values for the n rows to phi and base. */
static int add_tree(const cseg_tree *t, const double *X, size_t n, double scale, double *phi,
                    double *base)
{
    size_t d = cseg_tree_dim(t), k = cseg_tree_k(t), stride = cseg_tree_depth(t) + 2;
    path_elem *pool = malloc((stride + 1) * stride * sizeof *pool), *root = pool;
    double *one = malloc(d * k * sizeof *one), *b = malloc(k * sizeof *b);
    if (!pool || !one || !b) {
        free(pool), free(one), free(b);
        return CSEG_ENOMEM;
    }
    expected(t, b);
    for (size_t q = 0; q < k; q++)
        base[q] += scale * b[q];
    shap_ctx c = {cseg_tree_nodes(t), cseg_tree_values(t), k, d, NULL, one, pool + stride, stride};
    for (size_t i = 0; i < n; i++) {
        memset(one, 0, d * k * sizeof *one);
        c.x = X + i * d;
        recurse(&c, 0, 0, root, 0, 1, 1, -1);
        for (size_t j = 0; j < d * k; j++)
            phi[i * d * k + j] += scale * one[j];
    }
    free(pool), free(one), free(b);
    return 0;
}

int cseg_tree_shap(const cseg_tree *t, const double *X, size_t n, double *phi, double *base)
{
    if (!t || cseg_tree_n_nodes(t) == 0)
        return CSEG_ENOTFIT;
    size_t dk = cseg_tree_dim(t) * cseg_tree_k(t);
    memset(phi, 0, n * dk * sizeof *phi);
    memset(base, 0, cseg_tree_k(t) * sizeof *base);
    return add_tree(t, X, n, 1.0, phi, base);
}

int cseg_forest_shap(const cseg_forest *f, const double *X, size_t n, double *phi, double *base)
{
    size_t nt = cseg_forest_n_trees(f), dk = cseg_forest_dim(f) * cseg_forest_k(f);
    if (nt == 0)
        return CSEG_ENOTFIT;
    memset(phi, 0, n * dk * sizeof *phi);
    memset(base, 0, cseg_forest_k(f) * sizeof *base);
    int rc = 0;
    for (size_t t = 0; t < nt && rc == 0; t++)
        rc = add_tree(cseg_forest_tree(f, t), X, n, 1.0 / (double)nt, phi, base);
    return rc;
}
