/* custseg — CART decision trees (tree.h): scikit-learn's BestSplitter and
 * depth-first builder, step by step, so that the trees are the same. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/tree.h"
#include "internal.h"
#include "../core/internal.h"

#define FEATURE_THRESHOLD 1e-7 /* values closer than this are one value (scikit-learn) */

/* What prediction reads of a node, packed (16 bytes instead of 48): a row
 * walks down the tree touching a third of the cache lines. The threshold
 * is the largest float at most the node's: for a feature rounded to single
 * precision, x <= it exactly when x <= the node's threshold. A leaf leads
 * to itself (both children its own number), so that a walk may go on, and
 * its threshold is its class when all its samples are of one (else -1). */
typedef struct walk_node {
    float threshold;
    int32_t feature, left, right;
} walk_node;

struct cseg_tree {
    size_t k, d, n_nodes, cap, depth;
    cseg_tree_node *nodes;
    double *values; /* n_nodes x k */
    walk_node *walk; /* made by finish() */
    double *shares;  /* n_nodes x k: values / their sum (1/k for an empty node) */
};

/* The packed nodes and the class shares prediction uses. */
static int finish(cseg_tree *t)
{
    size_t k = t->k;
    t->walk = malloc(t->n_nodes * sizeof *t->walk);
    t->shares = malloc(t->n_nodes * k * sizeof *t->shares);
    if (!t->walk || !t->shares)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < t->n_nodes; i++) {
        const cseg_tree_node *nd = &t->nodes[i];
        float th = (float)nd->threshold;
        if ((double)th > nd->threshold)
            th = nextafterf(th, -INFINITY);
        const double *v = t->values + i * k;
        double sum = 0;
        long pure = -1; /* the class of a leaf all of one class */
        for (size_t c = 0; c < k; c++) {
            sum += v[c];
            pure = v[c] > 0 ? (pure == -1 ? (long)c : -2) : pure;
        }
        t->walk[i] = nd->left >= 0 ? (walk_node){th, nd->feature, nd->left, nd->right}
                                   : (walk_node){pure >= 0 ? (float)pure : -1.0f, 0, (int32_t)i,
                                                 (int32_t)i};
        for (size_t c = 0; c < k; c++)
            t->shares[i * k + c] = sum > 0 ? v[c] / sum : 1.0 / (double)k;
    }
    return 0;
}

void cseg_tree_params_init(cseg_tree_params *p)
{
    memset(p, 0, sizeof *p);
    p->criterion = CSEG_TREE_GINI;
    p->min_samples_split = 2;
    p->min_samples_leaf = 1;
}

const char *cseg_tree_params_check(const cseg_tree_params *p)
{
    if (p->criterion != CSEG_TREE_GINI && p->criterion != CSEG_TREE_ENTROPY)
        return "criterion must be gini or entropy";
    if (p->min_samples_split < 2)
        return "min_samples_split must be at least 2";
    if (p->min_samples_leaf < 1)
        return "min_samples_leaf must be at least 1";
    return NULL;
}

/* The work of one fit. */
typedef struct builder {
    const cseg_tree_params *p;
    size_t n, d, k, max_features;
    const float *X;    /* n x d, as scikit-learn holds them */
    const int32_t *y;
    const double *w;   /* per sample: class weight x sample weight */
    size_t *samples;   /* a node's samples are samples[start, end) */
    float *xf;         /* one feature's values of the node, sorted with samples */
    size_t *features;  /* scikit-learn's feature bookkeeping (constants first) */
    size_t *constant;
    double *total, *left, *right; /* weighted class counts */
    cseg_rng rng;
} builder;

static double impurity_of(const builder *b, const double *count, double wn)
{
    double v = 0;
    if (b->p->criterion == CSEG_TREE_GINI) {
        double sq = 0;
        for (size_t c = 0; c < b->k; c++)
            sq += count[c] * count[c];
        v = 1.0 - sq / (wn * wn);
    } else {
        for (size_t c = 0; c < b->k; c++)
            if (count[c] > 0) {
                double q = count[c] / wn;
                v -= q * (log(q) / log(2.0));
            }
    }
    return v;
}

/* A node's samples with one feature's values, sorted by value. */
typedef struct keyed {
    float x;
    uint32_t s;
} keyed;

/* The float's bits as an unsigned key in the same order. */
static uint32_t order_key(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* Sort a[0, m) by x: insertion sort for a few, else a radix sort on the
 * keys, a byte per pass, passes where every key has the same byte skipped.
 * Every node sorts its samples once per feature tried: qsort was most of a
 * fit's time. The order of equal values does not matter (cuts fall only
 * between distinct values). tmp: room for m. */
static void sort_keyed(keyed *a, size_t m, keyed *tmp)
{
    if (m < 64) {
        for (size_t i = 1; i < m; i++) {
            keyed v = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1].x > v.x; j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    keyed *src = a, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < m; i++)
            count[(order_key(src[i].x) >> shift) & 255]++;
        if (count[(order_key(src[0].x) >> shift) & 255] == m)
            continue;
        size_t at = 0;
        for (size_t c = 0; c < 256; c++) {
            size_t n = count[c];
            count[c] = at;
            at += n;
        }
        for (size_t i = 0; i < m; i++)
            dst[count[(order_key(src[i].x) >> shift) & 255]++] = src[i];
        keyed *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, m * sizeof *a);
}

typedef struct split {
    size_t pos, feature;
    double threshold, impurity_left, impurity_right;
} split;

/* The best split of samples[start, end) (pos = end: none); the samples are
 * then ordered left first. *n_constants: features known to be constant
 * here, passed down to the children (scikit-learn's bookkeeping, which
 * decides which features a random subset may draw). */
static int best_split(builder *b, size_t start, size_t end, double wn, split *best,
                      size_t *n_constants, keyed *buf, keyed *tmp)
{
    size_t d = b->d, k = b->k, m = end - start;
    size_t n_known = *n_constants, n_total = n_known, f_i = d;
    size_t n_visited = 0, n_found = 0, n_drawn = 0;
    double best_proxy = -INFINITY;
    best->pos = end;
    best->feature = 0;
    best->threshold = 0;
    while (f_i > n_total &&
           (n_visited < b->max_features || n_visited <= n_found + n_drawn)) {
        n_visited++;
        /* All features: in order (ties go to the lowest); a subset: a random
         * draw among those not yet visited nor known constant. */
        size_t lo = n_drawn, hi = f_i - n_found, f_j;
        if (b->max_features >= d) {
            /* the lowest-numbered feature left: scan the candidates */
            f_j = lo;
            for (size_t t = lo + 1; t < hi; t++) {
                size_t ft = t < n_known ? b->features[t] : b->features[t + n_found];
                size_t fb = f_j < n_known ? b->features[f_j] : b->features[f_j + n_found];
                if (ft < fb)
                    f_j = t;
            }
        } else {
            f_j = lo + cseg__rng_below(&b->rng, hi - lo);
        }
        if (f_j < n_known) { /* a constant one: drawn, skipped */
            size_t t = b->features[n_drawn];
            b->features[n_drawn] = b->features[f_j];
            b->features[f_j] = t;
            n_drawn++;
            continue;
        }
        f_j += n_found;
        size_t f = b->features[f_j];
        for (size_t i = 0; i < m; i++) {
            size_t s = b->samples[start + i];
            buf[i].x = b->X[s * d + f];
            buf[i].s = (uint32_t)s;
        }
        sort_keyed(buf, m, tmp);
        if (buf[m - 1].x <= buf[0].x + FEATURE_THRESHOLD) { /* constant here */
            size_t t = b->features[f_j];
            b->features[f_j] = b->features[n_total];
            b->features[n_total] = t;
            n_found++;
            n_total++;
            continue;
        }
        f_i--;
        {
            size_t t = b->features[f_i];
            b->features[f_i] = b->features[f_j];
            b->features[f_j] = t;
        }
        /* Every cut between distinct values, left counts grown in order.
         * Gini keeps the sums of squared counts as samples move left (exact
         * for whole-number weights, so the same impurities as summing the
         * squares per cut, without the k-long loops). */
        memset(b->left, 0, k * sizeof *b->left);
        memcpy(b->right, b->total, k * sizeof *b->right);
        double wl = 0, sql = 0, sqr = 0;
        int gini = b->p->criterion == CSEG_TREE_GINI;
        for (size_t c = 0; c < k; c++)
            sqr += b->total[c] * b->total[c];
        size_t added = 0;
        for (size_t p = 0; p < m;) {
            while (p + 1 < m && buf[p + 1].x <= buf[p].x + FEATURE_THRESHOLD)
                p++;
            p++;
            if (p >= m)
                break;
            if (p < b->p->min_samples_leaf || m - p < b->p->min_samples_leaf)
                continue;
            for (; added < p; added++) {
                size_t s = buf[added].s, c = (size_t)b->y[s];
                double w = b->w[s];
                sql += w * (2.0 * b->left[c] + w);
                sqr += w * (w - 2.0 * b->right[c]);
                b->left[c] += w;
                b->right[c] = b->total[c] - b->left[c];
                wl += w;
            }
            double wr = wn - wl, proxy;
            if (gini)
                proxy = -wr * (1.0 - sqr / (wr * wr)) - wl * (1.0 - sql / (wl * wl));
            else
                proxy = -wr * impurity_of(b, b->right, wr) - wl * impurity_of(b, b->left, wl);
            if (proxy > best_proxy) {
                best_proxy = proxy;
                double x0 = buf[p - 1].x, x1 = buf[p].x;
                double th = x0 / 2.0 + x1 / 2.0;
                if (th == x1 || isinf(th))
                    th = x0;
                best->pos = start + p;
                best->feature = f;
                best->threshold = th;
            }
        }
    }
    if (best->pos < end) { /* left first: x <= threshold */
        size_t p = start, e = end, f = best->feature;
        while (p < e) {
            if (b->X[b->samples[p] * d + f] <= best->threshold) {
                p++;
            } else {
                e--;
                size_t t = b->samples[p];
                b->samples[p] = b->samples[e];
                b->samples[e] = t;
            }
        }
        memset(b->left, 0, k * sizeof *b->left);
        double wl = 0;
        for (size_t i = start; i < best->pos; i++) {
            size_t s = b->samples[i];
            b->left[b->y[s]] += b->w[s];
            wl += b->w[s];
        }
        for (size_t c = 0; c < k; c++)
            b->right[c] = b->total[c] - b->left[c];
        best->impurity_left = impurity_of(b, b->left, wl);
        best->impurity_right = impurity_of(b, b->right, wn - wl);
    }
    /* Constants found here are known to the children. */
    memcpy(b->features, b->constant, n_known * sizeof *b->features);
    memcpy(b->constant + n_known, b->features + n_known, n_found * sizeof *b->features);
    *n_constants = n_total;
    return 0;
}

static int add_node(cseg_tree *t, const cseg_tree_node *nd, const double *value)
{
    if (t->n_nodes == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        cseg_tree_node *nn = realloc(t->nodes, cap * sizeof *nn);
        if (!nn)
            return CSEG_ENOMEM;
        t->nodes = nn;
        double *nv = realloc(t->values, cap * t->k * sizeof *nv);
        if (!nv)
            return CSEG_ENOMEM;
        t->values = nv;
        t->cap = cap;
    }
    t->nodes[t->n_nodes] = *nd;
    memcpy(t->values + t->n_nodes * t->k, value, t->k * sizeof *value);
    return (int)t->n_nodes++;
}

typedef struct frame {
    size_t start, end, depth, n_constants;
    int32_t parent;
    int is_left;
    double impurity;
} frame;

static int build(builder *b, cseg_tree *t)
{
    const cseg_tree_params *p = b->p;
    size_t cap = 64, top = 0;
    frame *stack = malloc(cap * sizeof *stack);
    keyed *buf = malloc(2 * b->n * sizeof *buf);
    int rc = stack && buf ? 0 : CSEG_ENOMEM;
    if (rc == 0)
        stack[top++] = (frame){0, b->n, 0, 0, -1, 0, INFINITY};
    int first = 1;
    while (rc == 0 && top > 0) {
        frame fr = stack[--top];
        size_t m = fr.end - fr.start;
        memset(b->total, 0, b->k * sizeof *b->total);
        double wn = 0;
        for (size_t i = fr.start; i < fr.end; i++) {
            size_t s = b->samples[i];
            b->total[b->y[s]] += b->w[s];
            wn += b->w[s];
        }
        int leaf = (p->max_depth && fr.depth >= p->max_depth) || m < p->min_samples_split ||
                   m < 2 * p->min_samples_leaf;
        if (first) {
            fr.impurity = impurity_of(b, b->total, wn);
            first = 0;
        }
        leaf = leaf || fr.impurity <= DBL_EPSILON;
        split sp = {fr.end, 0, 0, 0, 0};
        size_t n_constants = fr.n_constants;
        if (!leaf) {
            best_split(b, fr.start, fr.end, wn, &sp, &n_constants, buf, buf + b->n);
            leaf = sp.pos >= fr.end;
        }
        cseg_tree_node nd = {-1, -1, leaf ? -2 : (int32_t)sp.feature, leaf ? -2.0 : sp.threshold,
                             fr.impurity, m, wn};
        int id = add_node(t, &nd, b->total);
        if (id < 0) {
            rc = id;
            break;
        }
        if (fr.parent >= 0) {
            if (fr.is_left)
                t->nodes[fr.parent].left = id;
            else
                t->nodes[fr.parent].right = id;
        }
        if (fr.depth > t->depth)
            t->depth = fr.depth;
        if (leaf)
            continue;
        if (top + 2 > cap) {
            frame *ns = realloc(stack, 2 * cap * sizeof *ns);
            if (!ns) {
                rc = CSEG_ENOMEM;
                break;
            }
            stack = ns;
            cap *= 2;
        }
        /* right pushed first: the left child is made next */
        stack[top++] = (frame){sp.pos, fr.end, fr.depth + 1, n_constants, id, 0, sp.impurity_right};
        stack[top++] = (frame){fr.start, sp.pos, fr.depth + 1, n_constants, id, 1, sp.impurity_left};
    }
    free(stack);
    free(buf);
    return rc;
}

int cseg__tree_prepare(const double *X, size_t n, size_t d, const int32_t *y, size_t k,
                       const double *class_weight, const double *sample_weight, float *Xf,
                       double *w, cseg_diag *diag)
{
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || (size_t)y[i] >= k)
            return cseg__diag(diag, CSEG_EINVAL, NULL, (long)i + 1, 0,
                              "row %zu: class %d is not 0..%zu", i + 1, (int)y[i], k - 1);
        w[i] = (class_weight ? class_weight[y[i]] : 1.0) * (sample_weight ? sample_weight[i] : 1.0);
        if (!(w[i] >= 0) || isinf(w[i]))
            return cseg__diag(diag, CSEG_EINVAL, NULL, (long)i + 1, 0, "row %zu: a bad weight",
                              i + 1);
        for (size_t j = 0; j < d; j++) {
            double v = X[i * d + j];
            if (!isfinite(v) || fabs(v) > FLT_MAX)
                return cseg__diag(diag, CSEG_EINVAL, NULL, (long)i + 1, (long)j + 1,
                                  "row %zu, feature %zu: not a finite single-precision number",
                                  i + 1, j + 1);
            Xf[i * d + j] = (float)v;
        }
    }
    return 0;
}

int cseg__tree_fit_f32(cseg_tree **out, const float *Xf, size_t n, size_t d, const int32_t *y,
                       size_t k, const double *w, const cseg_tree_params *p)
{
    *out = NULL;
    builder b = {p, n, d, k, p->max_features && p->max_features < d ? p->max_features : d,
                 Xf, y, w, NULL, NULL, NULL, NULL, NULL, NULL, NULL, {{0}}};
    b.samples = malloc(n * sizeof *b.samples);
    b.features = malloc(d * sizeof *b.features);
    b.constant = malloc(d * sizeof *b.constant);
    b.total = malloc(3 * k * sizeof *b.total);
    cseg_tree *t = calloc(1, sizeof *t);
    int rc = b.samples && b.features && b.constant && b.total && t ? 0 : CSEG_ENOMEM;
    if (rc == 0) {
        /* Samples of weight 0 (not drawn into a bootstrap sample) take no part. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (w[i] > 0)
                b.samples[m++] = i;
        b.n = m ? m : n;
        if (!m)
            for (size_t i = 0; i < n; i++)
                b.samples[i] = i;
        for (size_t j = 0; j < d; j++)
            b.features[j] = b.constant[j] = j;
        b.left = b.total + k;
        b.right = b.total + 2 * k;
        cseg__rng_seed(&b.rng, p->seed);
        t->k = k;
        t->d = d;
        rc = build(&b, t);
        if (rc == 0)
            rc = finish(t);
    }
    free(b.samples);
    free(b.features);
    free(b.constant);
    free(b.total);
    if (rc < 0) {
        cseg_tree_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int cseg_tree_fit(cseg_tree **out, const double *X, size_t n, size_t d, const int32_t *y, size_t k,
                  const double *class_weight, const double *sample_weight,
                  const cseg_tree_params *p, cseg_diag *diag)
{
    *out = NULL;
    const char *bad = cseg_tree_params_check(p);
    if (bad)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "%s", bad);
    if (n == 0 || d == 0 || k == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "a tree needs rows, features and classes");
    if (n > UINT32_MAX)
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0, "a tree takes at most 2^32 - 1 rows");
    size_t nd;
    if (cseg__mul(n, d, &nd))
        return cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    float *Xf = malloc(nd * sizeof *Xf);
    double *w = malloc(n * sizeof *w);
    int rc = Xf && w ? 0 : cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    if (rc == 0)
        rc = cseg__tree_prepare(X, n, d, y, k, class_weight, sample_weight, Xf, w, diag);
    if (rc == 0 && (rc = cseg__tree_fit_f32(out, Xf, n, d, y, k, w, p)) < 0)
        cseg__diag(diag, rc, NULL, 0, 0, "out of memory");
    free(Xf);
    free(w);
    return rc;
}

void cseg_tree_free(cseg_tree *t)
{
    if (!t)
        return;
    free(t->nodes);
    free(t->values);
    free(t->walk);
    free(t->shares);
    free(t);
}

/* The leaf x falls in. */
static size_t leaf_of(const cseg_tree *t, const double *x)
{
    const walk_node *w = t->walk;
    int32_t at = 0;
    while (w[at].left != at)
        at = (float)x[w[at].feature] <= w[at].threshold ? w[at].left : w[at].right;
    return (size_t)at;
}

/* Prediction moves the rows down the tree as training moved the samples:
 * the rows at a node are split into those going left and those going
 * right, node after node, depth first. Walking row after row, each level
 * of each row waited on a node that was likely not in cache (a tree fully
 * grown on a million rows of 8 blobs: 70,000 nodes in 1.1 MB, 39 levels, a
 * row's leaf 21 levels down on average); split, a node is read once for all its rows, and a row costs a
 * read of its feature and a comparison per level, in a loop without a
 * branch on the data (with AVX-512: 16 rows to a vector, one gather). The
 * few rows of each deep node are set aside and walk the rest of the way
 * at the end, 16 rows side by side. */
#define SPLIT_MIN 16
#define WALK_GROUP 16

typedef struct split_frame {
    int32_t node;
    uint32_t lo, hi, buf; /* its rows: buf's entries lo..hi */
} split_frame;

/* Rows in[0..n) at a node testing col[row] <= th: those going left to out
 * from the front, those going right from the back; returns how many go
 * left. Each row is written to both ends' next free slot and only its
 * side moves on (the other write is overwritten later, or is the same
 * slot for the last row). */
static size_t split_rows(const uint32_t *in, size_t n, const float *col, float th, uint32_t *out)
{
    size_t nl = 0, nr = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = in[i];
        size_t go = col[r] <= th;
        out[nl] = r;
        out[n - 1 - nr] = r;
        nl += go;
        nr += 1 - go;
    }
    return nl;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SPLIT_AVX512 1

/* split_rows 16 rows at a time (the same comparison, false for NaN), the
 * left rows to out from the front, the right rows to rout from the back,
 * each side in its own buffer: a vector is compressed in a register and
 * stored whole, its lanes past the side's rows landing on slots that are
 * not yet that side's (later overwritten, or left unused). A compressing
 * store to memory, the obvious instruction, is microcoded on Zen 4 and was
 * the loop's cost. rout's right rows go to the top lanes (an expand) so
 * that its whole store ends at the side's front. */
__attribute__((target("avx512f"))) static size_t
split_rows_avx512(const uint32_t *in, size_t n, const float *col, float th, uint32_t *out,
                  uint32_t *rout)
{
    const __m512 vt = _mm512_set1_ps(th);
    size_t nl = 0, nr = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i r = _mm512_loadu_si512(in + i);
        __m512 x = _mm512_i32gather_ps(r, col, 4);
        __mmask16 le = _mm512_cmp_ps_mask(x, vt, _CMP_LE_OQ);
        __mmask16 gt = (__mmask16)~le;
        unsigned cl = (unsigned)__builtin_popcount(le), cr = 16 - cl;
        __mmask16 top = (__mmask16)(0xffffu << cl); /* the top cr lanes */
        _mm512_storeu_si512(out + nl, _mm512_maskz_compress_epi32(le, r));
        _mm512_storeu_si512(rout + n - nr - 16,
                            _mm512_maskz_expand_epi32(top, _mm512_maskz_compress_epi32(gt, r)));
        nl += cl;
        nr += cr;
    }
    if (i < n) { /* the last rows: loads and stores with masks */
        __mmask16 live = (__mmask16)((1u << (n - i)) - 1);
        __m512i r = _mm512_maskz_loadu_epi32(live, in + i);
        __m512 x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, r, col, 4);
        __mmask16 le = _mm512_mask_cmp_ps_mask(live, x, vt, _CMP_LE_OQ);
        __mmask16 gt = (__mmask16)(live & ~le);
        unsigned cl = (unsigned)__builtin_popcount(le), cr = (unsigned)__builtin_popcount(gt);
        _mm512_mask_storeu_epi32(out + nl, (__mmask16)((1u << cl) - 1),
                                 _mm512_maskz_compress_epi32(le, r));
        _mm512_mask_storeu_epi32(rout + n - nr - cr, (__mmask16)((1u << cr) - 1),
                                 _mm512_maskz_compress_epi32(gt, r));
        nl += cl;
    }
    return nl;
}
#endif

/* What accumulate needs of a leaf, found while its rows are at hand (read
 * later, row after row, the leaves would be cache misses again): its class
 * when all its samples are of one, else -1 - its number. */
static inline int32_t leaf_code(const walk_node *nd, int32_t node)
{
    return nd->threshold >= 0 ? (int32_t)nd->threshold : -1 - node;
}

int cseg__tree_accumulate(const cseg_tree *t, const float *Xc, size_t m, double *acc,
                          uint32_t *scratch, int vector)
{
    size_t k = t->k;
    const walk_node *w = t->walk;
    split_frame *stack = malloc((t->depth + 2) * sizeof *stack);
    if (!stack)
        return CSEG_ENOMEM;
    (void)vector;
#ifdef SPLIT_AVX512
    int vec = vector && __builtin_cpu_supports("avx512f") && m <= INT32_MAX;
#endif
    uint32_t *buf[3] = {scratch, scratch + m, scratch + 2 * m}, *pend_row = scratch + 4 * m;
    int32_t *leaf = (int32_t *)(scratch + 3 * m), *pend_at = (int32_t *)(scratch + 5 * m);
    size_t n_pend = 0;
    for (size_t i = 0; i < m; i++)
        buf[0][i] = (uint32_t)i;
    size_t top = 0;
    if (m > 0)
        stack[top++] = (split_frame){0, 0, (uint32_t)m, 0};
    while (top > 0) {
        split_frame fr = stack[--top];
        const uint32_t *in = buf[fr.buf] + fr.lo;
        size_t n = fr.hi - fr.lo;
        const walk_node *nd = &w[fr.node];
        if (nd->left == fr.node) {
            int32_t code = leaf_code(nd, fr.node);
            for (size_t i = 0; i < n; i++)
                leaf[in[i]] = code;
            continue;
        }
        if (n < SPLIT_MIN) { /* walked below, side by side with other such rows */
            for (size_t i = 0; i < n; i++) {
                pend_row[n_pend] = in[i];
                pend_at[n_pend++] = fr.node;
            }
            continue;
        }
        /* A node's rows are in one buffer at lo..hi, and lo..hi of the
         * other two are free: the left rows go to the next buffer, the right
         * rows to the same one (split_rows) or to the third. */
        uint32_t lb = (fr.buf + 1) % 3, rb = lb;
        const float *col = Xc + (size_t)nd->feature * m;
        size_t nl;
#ifdef SPLIT_AVX512
        if (vec) {
            rb = (fr.buf + 2) % 3;
            nl = split_rows_avx512(in, n, col, nd->threshold, buf[lb] + fr.lo, buf[rb] + fr.lo);
        } else
#endif
            nl = split_rows(in, n, col, nd->threshold, buf[lb] + fr.lo);
        /* Left first: the right child waits, its rows apart from the left's
         * (and its node is asked for now: its number is far from here). */
        if (nl < n) {
            __builtin_prefetch(&w[nd->right]);
            stack[top++] = (split_frame){nd->right, fr.lo + (uint32_t)nl, fr.hi, rb};
        }
        if (nl > 0)
            stack[top++] = (split_frame){nd->left, fr.lo, fr.lo + (uint32_t)nl, lb};
    }
    free(stack);
    /* The rows of small nodes, 16 side by side (their cache misses overlap),
     * one level each in turn, without a branch on the comparison. */
    for (size_t i0 = 0; i0 < n_pend; i0 += WALK_GROUP) {
        size_t g = n_pend - i0 < WALK_GROUP ? n_pend - i0 : WALK_GROUP;
        int32_t at[WALK_GROUP];
        size_t r[WALK_GROUP];
        for (size_t j = 0; j < WALK_GROUP; j++) { /* a short last group repeats its last row */
            r[j] = pend_row[i0 + (j < g ? j : g - 1)];
            at[j] = pend_at[i0 + (j < g ? j : g - 1)];
        }
        for (int moving = 1; moving;) {
            for (int s = 0; s < 4; s++)
                for (size_t j = 0; j < WALK_GROUP; j++) {
                    const walk_node *p = &w[at[j]];
                    int32_t left = -(int32_t)(Xc[(size_t)p->feature * m + r[j]] <= p->threshold);
                    at[j] = p->right ^ ((p->left ^ p->right) & left);
                }
            moving = 0;
            for (size_t j = 0; j < WALK_GROUP; j++)
                moving |= w[at[j]].left != at[j];
        }
        for (size_t j = 0; j < g; j++)
            leaf[r[j]] = leaf_code(&w[at[j]], at[j]);
    }
    /* Row after row: the sums of the rows of a leaf are scattered over the
     * block, each of them a cache miss. */
    for (size_t i = 0; i < m; i++) {
        double *a = acc + i * k;
        if (leaf[i] >= 0) { /* adding the others' 0 would change nothing: the same sums */
            a[leaf[i]] += 1.0;
            continue;
        }
        const double *v = t->shares + (size_t)(-1 - leaf[i]) * k;
        for (size_t c = 0; c < k; c++)
            a[c] += v[c];
    }
    return 0;
}

int cseg_tree_predict(const cseg_tree *t, const double *X, size_t n, int32_t *labels, double *proba)
{
    if (!t || t->n_nodes == 0)
        return CSEG_ENOTFIT;
    size_t k = t->k;
    for (size_t i = 0; i < n; i++) {
        size_t leaf = leaf_of(t, X + i * t->d);
        const double *v = t->values + leaf * k;
        size_t best = 0;
        for (size_t c = 0; c < k; c++)
            if (v[c] > v[best])
                best = c;
        if (labels)
            labels[i] = (int32_t)best;
        if (proba) /* the leaf's shares, made once by finish() */
            memcpy(proba + i * k, t->shares + leaf * k, k * sizeof *proba);
    }
    return 0;
}

int cseg_tree_apply(const cseg_tree *t, const double *X, size_t n, int32_t *leaves)
{
    if (!t || t->n_nodes == 0)
        return CSEG_ENOTFIT;
    for (size_t i = 0; i < n; i++)
        leaves[i] = (int32_t)leaf_of(t, X + i * t->d);
    return 0;
}

int cseg_tree_create(cseg_tree **out, const cseg_tree_node *nodes, const double *values,
                     size_t n_nodes, size_t d, size_t k)
{
    *out = NULL;
    if (n_nodes == 0 || n_nodes > INT32_MAX || d == 0 || k == 0)
        return CSEG_EINVAL;
    size_t nk;
    if (cseg__mul(n_nodes, k, &nk))
        return CSEG_ENOMEM;
    for (size_t i = 0; i < n_nodes; i++) {
        const cseg_tree_node *nd = &nodes[i];
        int leaf = nd->left < 0 && nd->right < 0;
        if (!leaf && (nd->left <= (int32_t)i || nd->right <= (int32_t)i ||
                      (size_t)nd->left >= n_nodes || (size_t)nd->right >= n_nodes ||
                      nd->feature < 0 || (size_t)nd->feature >= d || !isfinite(nd->threshold)))
            return CSEG_EINVAL;
        if (leaf && (nd->left != -1 || nd->right != -1))
            return CSEG_EINVAL;
        if (!(nd->weighted_n_samples >= 0) || !isfinite(nd->weighted_n_samples))
            return CSEG_EINVAL;
    }
    for (size_t i = 0; i < nk; i++)
        if (!isfinite(values[i]) || values[i] < 0)
            return CSEG_EINVAL;
    cseg_tree *t = calloc(1, sizeof *t);
    if (t) {
        t->nodes = malloc(n_nodes * sizeof *t->nodes);
        t->values = malloc(nk * sizeof *t->values);
    }
    if (!t || !t->nodes || !t->values) {
        cseg_tree_free(t);
        return CSEG_ENOMEM;
    }
    memcpy(t->nodes, nodes, n_nodes * sizeof *nodes);
    memcpy(t->values, values, nk * sizeof *values);
    t->n_nodes = t->cap = n_nodes;
    t->k = k;
    t->d = d;
    /* depth: children come after their parents; every node but the root
     * has exactly one parent (a tree, not a graph: walks and TreeSHAP size
     * their buffers by the depth) */
    size_t *depth = calloc(n_nodes, sizeof *depth);
    unsigned char *parents = calloc(n_nodes, 1);
    int bad = !depth || !parents;
    for (size_t i = 0; i < n_nodes && !bad; i++) {
        if (i > 0 && parents[i] != 1)
            bad = 2;
        if (depth[i] > t->depth)
            t->depth = depth[i];
        if (nodes[i].left >= 0) {
            depth[nodes[i].left] = depth[i] + 1;
            depth[nodes[i].right] = depth[i] + 1;
            if (parents[nodes[i].left] < 2)
                parents[nodes[i].left]++;
            if (parents[nodes[i].right] < 2)
                parents[nodes[i].right]++;
        }
    }
    free(depth);
    free(parents);
    if (bad) {
        cseg_tree_free(t);
        return bad == 2 ? CSEG_EINVAL : CSEG_ENOMEM;
    }
    if (finish(t) < 0) {
        cseg_tree_free(t);
        return CSEG_ENOMEM;
    }
    *out = t;
    return 0;
}

int cseg_split_stratified(const int32_t *y, size_t n, size_t k, double test_size, uint64_t seed,
                          unsigned char *is_test)
{
    if (!(test_size > 0 && test_size < 1) || k == 0)
        return CSEG_EINVAL;
    size_t *count = calloc(k, sizeof *count), *idx = malloc((n ? n : 1) * sizeof *idx);
    int rc = count && idx ? 0 : CSEG_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (y[i] < 0 || (size_t)y[i] >= k)
            rc = CSEG_EINVAL;
        else
            count[y[i]]++;
    }
    cseg_rng rng;
    cseg__rng_seed(&rng, seed);
    for (size_t c = 0; c < k && rc == 0; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (y[i] == (int32_t)c) {
                idx[m++] = i;
                is_test[i] = 0;
            }
        size_t take = (size_t)floor(test_size * (double)m + 0.5);
        if (m >= 2 && take == 0)
            take = 1;
        if (take >= m)
            take = m >= 2 ? m - 1 : 0;
        for (size_t j = 0; j < take; j++) { /* a partial Fisher-Yates shuffle */
            size_t r = j + cseg__rng_below(&rng, m - j), t = idx[j];
            idx[j] = idx[r];
            idx[r] = t;
            is_test[idx[j]] = 1;
        }
    }
    free(count);
    free(idx);
    return rc;
}

int cseg_split_kfold(const int32_t *y, size_t n, size_t k, size_t folds, uint64_t seed,
                     uint32_t *fold)
{
    if (folds < 2 || folds > n || folds > UINT32_MAX || k == 0)
        return CSEG_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= k)
            return CSEG_EINVAL;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return CSEG_ENOMEM;
    cseg_rng rng;
    cseg__rng_seed(&rng, seed);
    size_t next = 0; /* the fold the next row dealt goes to, across classes */
    for (size_t c = 0; c < k; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (y[i] == (int32_t)c)
                idx[m++] = i;
        for (size_t j = 0; j + 1 < m; j++) { /* Fisher-Yates */
            size_t r = j + cseg__rng_below(&rng, m - j), t = idx[j];
            idx[j] = idx[r];
            idx[r] = t;
        }
        for (size_t j = 0; j < m; j++) {
            fold[idx[j]] = (uint32_t)next;
            next = next + 1 == folds ? 0 : next + 1;
        }
    }
    free(idx);
    return 0;
}

size_t cseg_tree_n_nodes(const cseg_tree *t)
{
    return t->n_nodes;
}

const cseg_tree_node *cseg_tree_nodes(const cseg_tree *t)
{
    return t->nodes;
}

const double *cseg_tree_values(const cseg_tree *t)
{
    return t->values;
}

size_t cseg_tree_k(const cseg_tree *t)
{
    return t->k;
}

size_t cseg_tree_dim(const cseg_tree *t)
{
    return t->d;
}

size_t cseg_tree_depth(const cseg_tree *t)
{
    return t->depth;
}
