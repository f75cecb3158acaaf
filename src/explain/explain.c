/* custseg — reasons for a customer's segment and the segments' rules (explain.h). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../table/internal.h"
#include "custseg/explain.h"
#include "custseg/tree.h"
#include "internal.h"

size_t cseg_explain_n_features(const cseg_model *m)
{
    const cseg_pca *pca = cseg_model_pca(m);
    if (pca)
        return cseg_pca_n_components(pca);
    return cseg_model_prep(m) ? cseg_prep_n_inputs(cseg_model_prep(m)) : 0;
}

const char *cseg_explain_feature_name(const cseg_model *m, size_t j)
{
    static const char *const pc[] = {"PC1",  "PC2",  "PC3",  "PC4",  "PC5",  "PC6",  "PC7",
                                     "PC8",  "PC9",  "PC10", "PC11", "PC12", "PC13", "PC14",
                                     "PC15", "PC16", "PC17", "PC18", "PC19", "PC20"};
    if (j >= cseg_explain_n_features(m))
        return NULL;
    if (cseg_model_pca(m))
        return j < sizeof pc / sizeof *pc ? pc[j] : "PC";
    return cseg_prep_input_name(cseg_model_prep(m), j);
}

/* The feature (input column) of model-space column j: the input of that
 * name, or the text column of a one-hot "name=level". */
static size_t group_of(const cseg_model *m, size_t j)
{
    if (cseg_model_pca(m))
        return j;
    const cseg_prep *pp = cseg_model_prep(m);
    const char *out = cseg_prep_output_name(pp, j);
    size_t best = 0, blen = 0;
    for (size_t i = 0; i < cseg_prep_n_inputs(pp); i++) {
        const char *in = cseg_prep_input_name(pp, i);
        size_t len = strlen(in);
        if (strncmp(out, in, len) == 0 && (out[len] == 0 || out[len] == '=') && len >= blen) {
            best = i;
            blen = len;
        }
    }
    return best;
}

int cseg_explain_customers(const cseg_model *m, const cseg_table *customers, int32_t *segment,
                           int32_t *runner_up, double *contrib, cseg_diag *d)
{
    cseg_algo algo = cseg_model_algo(m);
    if ((algo != CSEG_ALGO_KMEANS && algo != CSEG_ALGO_HCLUST) || !cseg_model_kmeans(m) ||
        !cseg_model_prep(m))
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                          "reasons per customer need a model whose segments have centres "
                          "(k-means or hierarchical); for others train a forest");
    const cseg_kmeans *km = cseg_model_kmeans(m);
    const double *C = cseg_kmeans_centroids(km);
    size_t n = cseg_table_n_rows(customers), k = cseg_model_k(m), dim = cseg_model_dim(m),
           nf = cseg_explain_n_features(m);
    double *Z = malloc((n ? n : 1) * (dim ? dim : 1) * sizeof *Z);
    size_t *grp = malloc((dim ? dim : 1) * sizeof *grp);
    if (!Z || !grp) {
        free(Z);
        free(grp);
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    }
    int rc = cseg_model_transform(m, customers, Z, d);
    if (rc == 0 && (rc = cseg_model_predict(m, Z, n, segment, NULL, NULL)) < 0)
        cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
    for (size_t j = 0; j < dim; j++)
        grp[j] = group_of(m, j);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const double *z = Z + i * dim;
        size_t a = (size_t)segment[i];
        long b = -1;
        double bd = INFINITY;
        for (size_t c = 0; c < k; c++) { /* the next nearest centre */
            if (c == a)
                continue;
            double s = 0;
            for (size_t j = 0; j < dim; j++)
                s += (z[j] - C[c * dim + j]) * (z[j] - C[c * dim + j]);
            if (s < bd) {
                bd = s;
                b = (long)c;
            }
        }
        runner_up[i] = (int32_t)b;
        if (!contrib)
            continue;
        double *out = contrib + i * nf;
        for (size_t f = 0; f < nf; f++)
            out[f] = 0;
        for (size_t j = 0; b >= 0 && j < dim; j++) {
            double ea = z[j] - C[a * dim + j], eb = z[j] - C[(size_t)b * dim + j];
            out[grp[j]] += eb * eb - ea * ea;
        }
    }
    free(Z);
    free(grp);
    return rc;
}

/* ---- surrogate rules ---- */

typedef struct col {
    char *name;  /* "recency_days", or "Genre" for a one-hot column */
    char *level; /* the one-hot column's level, NULL for a number */
    /* where its values come from: numbers x (a missing one as med), or 1
     * where code is lvl */
    const double *x;
    double med;
    const int32_t *code;
    const int32_t *to; /* the table's code -> its level among all pieces' (NULL: the same) */
    int32_t lvl;
} col;

/* Column c's value for row r, as the surrogate tree sees it. */
static double col_value(const col *c, size_t r)
{
    if (c->code)
        return (c->to && c->code[r] >= 0 ? c->to[c->code[r]] : c->code[r]) == c->lvl;
    return isnan(c->x[r]) ? c->med : fmax(-FLT_MAX, fmin(FLT_MAX, c->x[r])); /* the tree's floats */
}

typedef struct walker {
    const cseg_tree_node *nd;
    const double *val;
    size_t k, q;
    const col *cols;
    double *lo, *hi; /* numeric bounds on the path: lo < x <= hi */
    signed char *is; /* one-hot: 1 is, 0 is not, -1 free */
    const size_t *seg_size;
    cseg_rules *out;
    int rc;
} walker;

static int cmp_rule(const void *x, const void *y)
{
    const cseg_rule *a = x, *b = y;
    if (a->segment != b->segment)
        return a->segment < b->segment ? -1 : 1;
    if (a->recall != b->recall)
        return a->recall > b->recall ? -1 : 1;
    return strcmp(a->text, b->text);
}

/* Append "name op v" to a growing text; "and" between conditions. A
 * threshold is a single-precision number (the tree compares (float)x with
 * it): written as the shortest text that reads back to that float, so
 * "monetary > 6109.21", not the double's "6109.2099609375". Rounded further
 * (it was "%.4g"), a rule could read "x > 1.235e+05" for a split at
 * 123469.5, false for customers it holds. */
static void cat(char *buf, size_t size, const char *op, const char *name, double v, int *first)
{
    size_t len = strlen(buf);
    char num[40];
    if (len + 8 >= size)
        return;
    if (!*first)
        len += (size_t)snprintf(buf + len, size - len, " and ");
    *first = 0;
    for (int p = 1; p <= 9; p++) {
        snprintf(num, sizeof num, "%.*g", p, v);
        if ((float)strtod(num, NULL) == (float)v)
            break;
    }
    if (len < size)
        snprintf(buf + len, size - len, "%s %s %s", name, op, num);
}

static void leaf_rule(walker *w, size_t node)
{
    const double *v = w->val + node * w->k;
    double tot = 0, best = -1;
    size_t c = 0;
    for (size_t s = 0; s < w->k; s++) {
        tot += v[s];
        if (v[s] > best) {
            best = v[s];
            c = s;
        }
    }
    char buf[1024] = "";
    int first = 1;
    for (size_t j = 0; j < w->q; j++) {
        const col *cl = &w->cols[j];
        if (cl->level) {
            if (w->is[j] < 0)
                continue;
            size_t len = strlen(buf);
            snprintf(buf + len, sizeof buf - len, "%s%s %s %s", first ? "" : " and ", cl->name,
                     w->is[j] ? "is" : "is not", cl->level);
            first = 0;
            continue;
        }
        if (w->lo[j] > -INFINITY)
            cat(buf, sizeof buf, ">", cl->name, w->lo[j], &first);
        if (w->hi[j] < INFINITY)
            cat(buf, sizeof buf, "<=", cl->name, w->hi[j], &first);
    }
    cseg_rules *o = w->out;
    cseg_rule *nr = cseg__reallocarray(o->rule, o->n + 1, sizeof *nr);
    if (!nr) {
        w->rc = CSEG_ENOMEM;
        return;
    }
    o->rule = nr;
    cseg_rule *r = &o->rule[o->n];
    r->segment = (int32_t)c;
    r->text = cseg__strdup(first ? "all customers" : buf);
    r->support = (size_t)llround(tot);
    r->precision = tot > 0 ? best / tot : 0;
    r->recall = w->seg_size[c] ? best / (double)w->seg_size[c] : 0;
    if (!r->text)
        w->rc = CSEG_ENOMEM;
    else
        o->n++;
}

static void walk(walker *w, size_t node)
{
    const cseg_tree_node *t = &w->nd[node];
    if (w->rc < 0)
        return;
    if (t->left < 0) {
        leaf_rule(w, node);
        return;
    }
    size_t f = (size_t)t->feature;
    if (w->cols[f].level) {
        signed char was = w->is[f];
        w->is[f] = 0; /* left: x <= 0.5, not this level */
        walk(w, (size_t)t->left);
        w->is[f] = 1;
        walk(w, (size_t)t->right);
        w->is[f] = was;
        return;
    }
    double lo = w->lo[f], hi = w->hi[f];
    w->hi[f] = fmin(hi, t->threshold);
    walk(w, (size_t)t->left);
    w->hi[f] = hi;
    w->lo[f] = fmax(lo, t->threshold);
    walk(w, (size_t)t->right);
    w->lo[f] = lo;
}

/* A step's outcome on this piece made every piece's (sc NULL: rc). */
static int agree_sc(const cseg__split_comm *sc, int rc)
{
    if (!sc)
        return rc;
    uint64_t bad = rc < 0;
    int r2 = sc->sum(sc->ctx, &bad, 1, NULL, 0);
    return r2 < 0 ? r2 : rc < 0 ? rc : bad ? CSEG_ENOMEM : 0;
}

/* The surrogate's columns: numbers (a missing value as the median of all
 * customers') and one column per level of a text column (the levels of
 * every piece, sc; each column's map from the table's codes in *maps, one
 * per input, malloc'ed). sc NULL: one process. */
static int surrogate_columns(const cseg_model *m, const cseg_table *t, const cseg__split_comm *sc,
                             col **cols, size_t *q, int32_t ***maps, cseg_diag *d)
{
    const cseg_prep *pp = cseg_model_prep(m);
    size_t n = cseg_table_n_rows(t), nq = 0, cap = 0, ni = cseg_prep_n_inputs(pp);
    *cols = NULL;
    *q = 0;
    *maps = calloc(ni ? ni : 1, sizeof **maps);
    char ***lvs = calloc(ni ? ni : 1, sizeof *lvs);
    size_t *nlv = calloc(ni ? ni : 1, sizeof *nlv);
    double *tmp = malloc((n ? n : 1) * sizeof *tmp);
    int rc = agree_sc(sc, *maps && lvs && nlv && tmp ? 0 : CSEG_ENOMEM);
    /* The levels first (every piece's, in their order): the columns' count. */
    for (size_t i = 0; rc == 0 && i < ni; i++) {
        long j = cseg_table_find(t, cseg_prep_input_name(pp, i));
        if (j < 0) {
            rc = cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0, "no column \"%s\"",
                            cseg_prep_input_name(pp, i));
            break;
        }
        if (cseg_table_col_type(t, (size_t)j) != CSEG_COL_TEXT) {
            cap++;
            continue;
        }
        /* Every piece's levels, and this piece's map to them. */
        rc = cseg__table_split_levels(t, (size_t)j, sc, &lvs[i], &nlv[i], &(*maps)[i], d);
        cap += nlv[i];
    }
    col *cl = rc == 0 ? calloc(cap ? cap : 1, sizeof *cl) : NULL;
    if (rc == 0)
        rc = agree_sc(sc, cl ? 0 : CSEG_ENOMEM);
    /* With pieces, a piece whose step failed (an allocation) stays in the
     * loop until every piece has heard of it at the next input's start. */
    for (size_t i = 0; (rc == 0 || sc) && i < ni; i++) {
        const char *name = cseg_prep_input_name(pp, i);
        size_t j = (size_t)cseg_table_find(t, name);
        if (i > 0)
            rc = agree_sc(sc, rc);
        if (rc < 0)
            break; /* on every piece alike */
        if (cseg_table_col_type(t, j) == CSEG_COL_TEXT) {
            for (size_t l = 0; rc == 0 && l < nlv[i]; l++, nq++) {
                if (!(cl[nq].name = cseg__strdup(name)) ||
                    !(cl[nq].level = cseg__strdup(lvs[i][l])))
                    rc = CSEG_ENOMEM;
                cl[nq].code = cseg_table_codes(t, j);
                cl[nq].to = (*maps)[i];
                cl[nq].lvl = (int32_t)l;
            }
            continue;
        }
        if (cseg_table_col_type(t, j) != CSEG_COL_NUMBER)
            continue;
        const double *x = cseg_table_numbers(t, j);
        size_t mm = 0;
        for (size_t r = 0; r < n; r++)
            if (!isnan(x[r]))
                tmp[mm++] = x[r];
        uint64_t c[2] = {mm, n};
        if (sc && (rc = sc->sum(sc->ctx, c, 2, NULL, 0)) < 0)
            break;
        double med = 0; /* needed only when a value is missing */
        if (c[0] > 0 && c[0] < c[1]) {
            uint64_t all = c[0], rk[2] = {(all - 1) / 2, all / 2};
            double v[2];
            if (sc) {
                if ((rc = sc->select(sc->ctx, tmp, mm, rk, 2, v, d)) < 0)
                    break;
            } else {
                cseg__sort_doubles(tmp, mm);
                v[0] = tmp[rk[0]];
                v[1] = tmp[rk[1]];
            }
            med = all % 2 ? v[1] : (v[0] + v[1]) / 2;
        }
        if (!(cl[nq].name = cseg__strdup(name)))
            rc = CSEG_ENOMEM;
        cl[nq].x = x;
        cl[nq].med = med;
        nq++;
    }
    if (ni > 0) /* the last input's failure, every piece's */
        rc = agree_sc(sc, rc);
    free(tmp);
    for (size_t i = 0; lvs && i < ni; i++) {
        for (size_t l = 0; lvs[i] && l < nlv[i]; l++)
            free(lvs[i][l]);
        free(lvs[i]);
    }
    free(lvs);
    free(nlv);
    *cols = cl;
    *q = nq;
    return rc;
}

static void free_surrogate(const cseg_model *m, col *cols, size_t q, int32_t **maps)
{
    for (size_t j = 0; cols && j < q; j++) {
        free(cols[j].name);
        free(cols[j].level);
    }
    free(cols);
    size_t ni = cseg_model_prep(m) ? cseg_prep_n_inputs(cseg_model_prep(m)) : 0;
    for (size_t i = 0; maps && i < ni; i++)
        free(maps[i]);
    free(maps);
}

/* The values of rows g = 0, step, 2 step ... of all the customers (ns
 * rows, w values each): fill(ctx, i, out) writes local row i's; every
 * piece's rows gathered in piece order (km NULL: one process, n rows). */
static int strided_rows(const cseg__km_comm *km, size_t n, size_t step, size_t ns, size_t w,
                        void (*fill)(void *ctx, size_t i, double *out), void *ctx, double **out)
{
    size_t row0 = km ? km->row0 : 0, first = (row0 + step - 1) / step, mine = 0;
    for (size_t g = first * step; g < row0 + n && g / step < ns; g += step)
        mine++;
    double *own = malloc((mine ? mine : 1) * w * sizeof *own);
    double *all = km ? malloc((ns ? ns : 1) * w * sizeof *all) : own;
    uint64_t bad = !own || !all;
    int rc = km ? km->sum(km->ctx, &bad, 1) : 0;
    if (rc == 0 && bad)
        rc = CSEG_ENOMEM;
    for (size_t r = 0; rc == 0 && r < mine; r++)
        fill(ctx, (first + r) * step - row0, own + r * w);
    size_t got = 0;
    if (rc == 0 && km && (rc = km->allgatherv(km->ctx, own, mine * w, all, &got)) == 0 &&
        got != ns * w)
        rc = CSEG_EINVAL;
    if (km)
        free(own);
    if (rc < 0) {
        free(all);
        all = NULL;
    }
    *out = all;
    return rc;
}

typedef struct surrogate_fill {
    const col *cols;
    size_t q;
    const int32_t *labels;
} surrogate_fill;

static void fill_surrogate(void *ctx, size_t i, double *out)
{
    const surrogate_fill *f = ctx;
    for (size_t c = 0; c < f->q; c++)
        out[c] = col_value(&f->cols[c], i);
    out[f->q] = f->labels[i];
}

void cseg_rules_free(cseg_rules *r)
{
    for (size_t i = 0; r && i < r->n; i++)
        free(r->rule[i].text);
    if (r)
        free(r->rule);
}

int cseg_explain_rules(const cseg_model *m, const cseg_table *customers, const int32_t *labels,
                       size_t max_depth, cseg_rules *out, cseg_diag *d)
{
    return cseg__explain_rules_split(m, customers, labels, max_depth, NULL, NULL, out, d);
}

int cseg__explain_rules_split(const cseg_model *m, const cseg_table *customers,
                              const int32_t *labels, size_t max_depth, const cseg__split_comm *sc,
                              const cseg__km_comm *km, cseg_rules *out, cseg_diag *d)
{
    memset(out, 0, sizeof *out);
    size_t n = cseg_table_n_rows(customers), k = cseg_model_k(m), q = 0;
    if (!cseg_model_prep(m) || k == 0)
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0, "the model has no pipeline or segments");
    size_t n_all = km ? km->n_all : n;
    if (n_all == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no customers");
    double *X = NULL, *lo = NULL, *hi = NULL, *count = NULL;
    col *cols = NULL;
    int32_t **maps = NULL;
    signed char *is = NULL;
    /* Per segment its customers, then a label out of range (the same
     * failure on every piece). */
    uint64_t *seg_size = calloc(k + 1, sizeof *seg_size);
    cseg_tree *tree = NULL;
    /* Above CSEG_RULES_MAX_ROWS customers the tree grows on every step-th one:
     * the rules of a few levels are as sure from a sample of that size,
     * and growing it was most of the time of segmenting a million. Their
     * support, precision, recall and the fidelity count every customer. */
    size_t step =
        n_all > CSEG_RULES_MAX_ROWS ? (n_all + CSEG_RULES_MAX_ROWS - 1) / CSEG_RULES_MAX_ROWS : 1;
    size_t ns = (n_all + step - 1) / step;
    int32_t *ys = NULL;
    uint64_t bad = !seg_size;
    int rc = sc ? sc->sum(sc->ctx, &bad, 1, NULL, 0) : 0;
    if (rc == 0 && bad)
        rc = CSEG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= k)
            seg_size[k] = seg_size[k] ? seg_size[k] : i + 1;
        else
            seg_size[labels[i]]++;
    }
    if (rc == 0 && sc)
        rc = sc->sum(sc->ctx, seg_size, k + 1, NULL, 0);
    if (rc == 0 && seg_size[k] && sc)
        rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "a segment out of range");
    else if (rc == 0 && seg_size[k])
        rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "row %zu: segment out of range",
                        (size_t)seg_size[k] - 1);
    if (rc == 0)
        rc = surrogate_columns(m, customers, sc, &cols, &q, &maps, d);
    if (rc == 0 && q == 0)
        rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no number or text columns to write rules on");
    /* The sample's values and labels, q + 1 a row. */
    double *S = NULL;
    surrogate_fill sf = {cols, q, labels};
    if (rc == 0)
        rc = strided_rows(km, n, step, ns, q + 1, fill_surrogate, &sf, &S);
    if (rc == 0) {
        X = malloc(ns * (q ? q : 1) * sizeof *X);
        ys = malloc(ns * sizeof *ys);
        bad = !X || !ys;
        if (sc && (rc = sc->sum(sc->ctx, &bad, 1, NULL, 0)) < 0)
            bad = 0;
        if (rc == 0 && bad)
            rc = CSEG_ENOMEM;
    }
    for (size_t r = 0; rc == 0 && r < ns; r++) {
        memcpy(X + r * q, S + r * (q + 1), q * sizeof *X);
        ys[r] = (int32_t)S[r * (q + 1) + q];
    }
    free(S);
    if (rc == 0) {
        cseg_tree_params tp;
        cseg_tree_params_init(&tp);
        tp.max_depth = max_depth ? max_depth : 3;
        tp.min_samples_leaf = ns / 100 > 5 ? ns / 100 : 5;
        rc = agree_sc(sc, cseg_tree_fit(&tree, X, ns, q, ys, k, NULL, NULL, &tp, d));
    }
    free(ys);
    if (rc == 0 && step > 1) { /* the leaves' counts over every customer, a block at a time */
        enum { B = 4096 };
        size_t nn = cseg_tree_n_nodes(tree) * k;
        double *blk = malloc(B * q * sizeof *blk);
        int32_t leaf[B];
        uint64_t *cnt = calloc(nn + 1, sizeof *cnt);
        count = malloc(nn * sizeof *count);
        bad = !count || !blk || !cnt;
        if (sc && (rc = sc->sum(sc->ctx, &bad, 1, NULL, 0)) < 0)
            bad = 0;
        if (rc == 0 && bad)
            rc = CSEG_ENOMEM;
        int counted = rc == 0; /* on every piece alike */
        for (size_t r0 = 0; rc == 0 && r0 < n; r0 += B) {
            size_t nb = n - r0 < B ? n - r0 : B;
            for (size_t r = 0; r < nb; r++)
                for (size_t c = 0; c < q; c++)
                    blk[r * q + c] = col_value(&cols[c], r0 + r);
            if ((rc = cseg_tree_apply(tree, blk, nb, leaf)) == 0)
                for (size_t r = 0; r < nb; r++)
                    cnt[(size_t)leaf[r] * k + (size_t)labels[r0 + r]]++;
        }
        if (sc && counted) { /* the counts of all; a failure on one piece, every piece's */
            int failed = rc < 0, r2;
            cnt[nn] = (uint64_t)failed;
            if ((r2 = sc->sum(sc->ctx, cnt, nn + 1, NULL, 0)) < 0)
                rc = r2;
            else if (cnt[nn] && !failed)
                rc = CSEG_ENOMEM;
        }
        for (size_t c = 0; rc == 0 && c < nn; c++)
            count[c] = (double)cnt[c];
        free(cnt);
        free(blk);
    }
    size_t *sizes = NULL;
    if (rc == 0) {
        lo = malloc(q * sizeof *lo);
        hi = malloc(q * sizeof *hi);
        is = malloc(q);
        sizes = malloc(k * sizeof *sizes);
        rc = agree_sc(sc, lo && hi && is && sizes ? 0 : CSEG_ENOMEM);
    }
    if (rc == 0) {
        for (size_t j = 0; j < q; j++) {
            lo[j] = -INFINITY;
            hi[j] = INFINITY;
            is[j] = -1;
        }
        for (size_t s = 0; s < k; s++)
            sizes[s] = (size_t)seg_size[s];
        walker w = {cseg_tree_nodes(tree),
                    count ? count : cseg_tree_values(tree),
                    k,
                    q,
                    cols,
                    lo,
                    hi,
                    is,
                    sizes,
                    out,
                    0};
        walk(&w, 0);
        rc = w.rc;
        double right = 0;
        for (size_t i = 0; i < out->n; i++)
            right += out->rule[i].precision * (double)out->rule[i].support;
        out->fidelity = right / (double)n_all;
        out->depth = cseg_tree_depth(tree);
        qsort(out->rule, out->n, sizeof *out->rule, cmp_rule);
        rc = agree_sc(sc, rc);
    }
    cseg_tree_free(tree);
    free(count);
    free_surrogate(m, cols, q, maps);
    free(X), free(lo), free(hi), free(is), free(seg_size), free(sizes);
    if (rc < 0) {
        cseg_rules_free(out);
        memset(out, 0, sizeof *out);
        return rc == CSEG_ENOMEM ? cseg__diag(d, rc, NULL, 0, 0, "out of memory") : rc;
    }
    return 0;
}

/* ---- permutation importance ---- */

/* The model's input columns of rows (every step-th row of t, m of them) as
 * a new table, column `shuffle` permuted by perm (NULL: none). */
static int input_table(const cseg_model *m, const cseg_table *t, size_t step, size_t rows,
                       long shuffle, const size_t *perm, cseg_table **out)
{
    const cseg_prep *pp = cseg_model_prep(m);
    cseg_table *o = NULL;
    int rc = cseg_table_create(&o, rows);
    double *num = malloc((rows ? rows : 1) * sizeof *num);
    int32_t *code = malloc((rows ? rows : 1) * sizeof *code);
    if (rc == 0 && (!num || !code))
        rc = CSEG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < cseg_prep_n_inputs(pp); i++) {
        const char *name = cseg_prep_input_name(pp, i);
        long j = cseg_table_find(t, name);
        if (j < 0) {
            rc = CSEG_ENOCOL;
            break;
        }
        int text = cseg_table_col_type(t, (size_t)j) == CSEG_COL_TEXT;
        for (size_t r = 0; r < rows; r++) {
            size_t src = ((long)i == shuffle ? perm[r] : r) * step;
            if (text)
                code[r] = cseg_table_codes(t, (size_t)j)[src];
            else
                num[r] = cseg_table_numbers(t, (size_t)j)[src];
        }
        if (text) {
            size_t nl = cseg_table_n_levels(t, (size_t)j);
            const char **lv = malloc((nl ? nl : 1) * sizeof *lv);
            if (!lv) {
                rc = CSEG_ENOMEM;
                break;
            }
            for (size_t l = 0; l < nl; l++)
                lv[l] = cseg_table_level(t, (size_t)j, (int32_t)l);
            rc = cseg_table_add_text(o, name, lv, nl, code);
            free(lv);
        } else if (cseg_table_col_type(t, (size_t)j) == CSEG_COL_NUMBER) {
            rc = cseg_table_add_numbers(o, name, num);
        }
    }
    free(num);
    free(code);
    if (rc < 0) {
        cseg_table_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

int cseg_explain_importance(const cseg_model *m, const cseg_table *customers, size_t n_repeats,
                            size_t max_rows, uint64_t seed, double *importance, double *sd,
                            cseg_diag *d)
{
    const cseg_prep *pp = cseg_model_prep(m);
    size_t n = cseg_table_n_rows(customers), reps = n_repeats ? n_repeats : 5;
    if (!pp)
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0, "the model has no pipeline");
    if (n == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no customers");
    size_t step = max_rows && n > max_rows ? (n + max_rows - 1) / max_rows : 1,
           rows = (n + step - 1) / step, nf = cseg_prep_n_inputs(pp);
    int32_t *base = malloc(rows * sizeof *base);
    double *dist = malloc(rows * sizeof *dist), *got = malloc(reps * sizeof *got);
    cseg_table *t = NULL;
    int rc = base && dist && got ? 0 : CSEG_ENOMEM;
    if (rc == 0 && (rc = input_table(m, customers, step, rows, -1, NULL, &t)) == 0)
        rc = cseg_model_assign(m, t, base, dist, d);
    cseg_table_free(t);
    /* Every shuffle drawn first, in the order they always were; then the
     * (column, shuffle) pairs side by side, each on its own table: the same
     * figures for any thread count. */
    size_t np = nf * reps;
    size_t *perms = rc == 0 ? malloc((np ? np : 1) * rows * sizeof *perms) : NULL;
    double *share = rc == 0 ? malloc((np ? np : 1) * sizeof *share) : NULL;
    if (rc == 0 && (!perms || !share))
        rc = CSEG_ENOMEM;
    cseg_rng rng;
    cseg__rng_seed(&rng, seed);
    for (size_t u = 0; rc == 0 && u < np; u++) {
        size_t *pm = perms + u * rows;
        for (size_t r = 0; r < rows; r++)
            pm[r] = r;
        for (size_t r = rows; r > 1; r--) { /* Fisher-Yates */
            size_t q = cseg__rng_below(&rng, r), tmp = pm[r - 1];
            pm[r - 1] = pm[q];
            pm[q] = tmp;
        }
    }
    int prc = 0;
    if (rc == 0) {
#pragma omp parallel for num_threads(cseg__threads(0)) schedule(dynamic, 1) default(none)      \
    shared(m, customers, step, rows, perms, share, base, np, reps, prc) if (np > 1 && rows >= 5000)
        for (size_t u = 0; u < np; u++) {
            cseg_table *tu = NULL;
            int32_t *lu = malloc(rows * sizeof *lu);
            double *du = malloc(rows * sizeof *du);
            int r2 = lu && du ? input_table(m, customers, step, rows, (long)(u / reps),
                                            perms + u * rows, &tu)
                              : CSEG_ENOMEM;
            if (r2 == 0)
                r2 = cseg_model_assign(m, tu, lu, du, NULL);
            size_t moved = 0;
            for (size_t r = 0; r2 == 0 && r < rows; r++)
                moved += lu[r] != base[r];
            share[u] = (double)moved / (double)rows;
            cseg_table_free(tu);
            free(lu), free(du);
            if (r2 < 0) {
#pragma omp critical(cseg_importance_failed)
                if (prc == 0)
                    prc = r2;
            }
        }
        rc = prc;
    }
    for (size_t f = 0; f < nf && rc == 0; f++) {
        for (size_t rep = 0; rep < reps; rep++)
            got[rep] = share[f * reps + rep];
        double mean = 0, q = 0;
        for (size_t rep = 0; rep < reps; rep++)
            mean += got[rep] / (double)reps;
        for (size_t rep = 0; rep < reps; rep++)
            q += (got[rep] - mean) * (got[rep] - mean);
        if (importance)
            importance[f] = mean;
        if (sd)
            sd[f] = reps > 1 ? sqrt(q / (double)(reps - 1)) : 0;
    }
    free(base), free(dist), free(got), free(perms), free(share);
    if (rc == CSEG_ENOMEM)
        return cseg__diag(d, rc, NULL, 0, 0, "out of memory");
    if (rc == CSEG_ENOCOL)
        return cseg__diag(d, rc, NULL, 0, 0, "a column of the model is missing");
    return rc;
}

/* Rows of the model's inputs for the sample table: numbers as they are,
 * text as the code among every piece's levels (-1: missing). */
typedef struct input_fill {
    const double **num;
    const int32_t **code, **to;
    size_t ni;
} input_fill;

static void fill_inputs(void *ctx, size_t i, double *out)
{
    const input_fill *f = ctx;
    for (size_t c = 0; c < f->ni; c++)
        out[c] = f->num[c]           ? f->num[c][i]
                 : f->code[c][i] < 0 ? -1
                                     : (double)(f->to[c] ? f->to[c][f->code[c][i]] : f->code[c][i]);
}

int cseg__explain_importance_split(const cseg_model *m, const cseg_table *customers,
                                   size_t n_repeats, size_t max_rows, uint64_t seed,
                                   double *importance, double *sd, const cseg__split_comm *sc,
                                   const cseg__km_comm *km, cseg_diag *d)
{
    if (!km)
        return cseg_explain_importance(m, customers, n_repeats, max_rows, seed, importance, sd, d);
    const cseg_prep *pp = cseg_model_prep(m);
    if (!pp)
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0, "the model has no pipeline");
    size_t n = cseg_table_n_rows(customers), n_all = km->n_all, ni = cseg_prep_n_inputs(pp);
    if (n_all == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no customers");
    size_t step = max_rows && n_all > max_rows ? (n_all + max_rows - 1) / max_rows : 1,
           rows = (n_all + step - 1) / step;
    /* The surrogate's columns give each text input's levels among all and
     * this piece's map to them; numbers are taken as they are. */
    col *cols = NULL;
    size_t q = 0;
    int32_t **maps = NULL;
    int rc = surrogate_columns(m, customers, sc, &cols, &q, &maps, d);
    input_fill f = {calloc(ni ? ni : 1, sizeof *f.num), calloc(ni ? ni : 1, sizeof *f.code),
                    (const int32_t **)maps, ni};
    uint64_t bad = rc == 0 && (!f.num || !f.code);
    if (rc == 0 && (rc = sc->sum(sc->ctx, &bad, 1, NULL, 0)) == 0 && bad)
        rc = CSEG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < ni; i++) {
        size_t j = (size_t)cseg_table_find(customers, cseg_prep_input_name(pp, i));
        if (cseg_table_col_type(customers, j) == CSEG_COL_TEXT)
            f.code[i] = cseg_table_codes(customers, j);
        else
            f.num[i] = cseg_table_numbers(customers, j);
    }
    double *S = NULL;
    if (rc == 0)
        rc = strided_rows(km, n, step, rows, ni, fill_inputs, &f, &S);
    /* The sample as a table of its own (text: the levels of all), then the
     * one-process importance on all of its rows. */
    cseg_table *t = NULL;
    double *num = rc == 0 ? malloc((rows ? rows : 1) * sizeof *num) : NULL;
    int32_t *code = rc == 0 ? malloc((rows ? rows : 1) * sizeof *code) : NULL;
    if (rc == 0 && (!num || !code))
        rc = CSEG_ENOMEM;
    if (rc == 0)
        rc = cseg_table_create(&t, rows);
    size_t c0 = 0; /* the surrogate's first column of input i */
    for (size_t i = 0; rc == 0 && i < ni; i++) {
        const char *name = cseg_prep_input_name(pp, i);
        if (f.num[i]) {
            for (size_t r = 0; r < rows; r++)
                num[r] = S[r * ni + i];
            rc = cseg_table_add_numbers(t, name, num);
            c0++;
            continue;
        }
        size_t nl = 0;
        while (c0 + nl < q && cols[c0 + nl].level && strcmp(cols[c0 + nl].name, name) == 0 &&
               cols[c0 + nl].lvl == (int32_t)nl)
            nl++;
        const char **lv = malloc((nl ? nl : 1) * sizeof *lv);
        if (!lv) {
            rc = CSEG_ENOMEM;
            break;
        }
        for (size_t l = 0; l < nl; l++)
            lv[l] = cols[c0 + l].level;
        for (size_t r = 0; r < rows; r++)
            code[r] = (int32_t)S[r * ni + i];
        rc = cseg_table_add_text(t, name, lv, nl, code);
        free(lv);
        c0 += nl;
    }
    free(S), free(num), free(code), free(f.num), free(f.code);
    free_surrogate(m, cols, q, maps);
    /* Each piece holds the same table now: the same figures. */
    rc = agree_sc(sc, rc);
    if (rc == 0)
        rc = agree_sc(sc, cseg_explain_importance(m, t, n_repeats, 0, seed, importance, sd, d));
    cseg_table_free(t);
    return rc == CSEG_ENOMEM ? cseg__diag(d, rc, NULL, 0, 0, "out of memory") : rc;
}

int cseg_explain_classifier(const cseg_model *m, const cseg_table *customers, int32_t *segment,
                            int32_t *runner_up, double *contrib, cseg_diag *d)
{
    const cseg_forest *f = cseg_model_classifier(m);
    if (!f || !cseg_model_prep(m))
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                          "reasons from a classifier need a tree or forest (custseg train)");
    size_t n = cseg_table_n_rows(customers), k = cseg_model_k(m), dim = cseg_model_dim(m),
           nf = cseg_explain_n_features(m);
    double *Z = malloc((n ? n : 1) * dim * sizeof *Z), *proba = malloc((n ? n : 1) * k * sizeof *proba),
           *phi = malloc(dim * k * sizeof *phi), *base = malloc(k * sizeof *base);
    size_t *grp = malloc(dim * sizeof *grp);
    int rc = Z && proba && phi && grp && base ? 0 : CSEG_ENOMEM;
    if (rc == 0)
        rc = cseg_model_transform(m, customers, Z, d);
    if (rc == 0 && (rc = cseg_forest_predict(f, Z, n, segment, proba)) < 0)
        cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
    for (size_t j = 0; rc == 0 && j < dim; j++)
        grp[j] = group_of(m, j);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t a = (size_t)segment[i];
        long b = -1;
        for (size_t c = 0; c < k; c++)
            if (c != a && (b < 0 || proba[i * k + c] > proba[i * k + (size_t)b]))
                b = (long)c;
        runner_up[i] = (int32_t)b;
        if (!contrib)
            continue;
        if ((rc = cseg_forest_shap(f, Z + i * dim, 1, phi, base)) < 0)
            break;
        for (size_t g = 0; g < nf; g++)
            contrib[i * nf + g] = 0;
        for (size_t j = 0; j < dim; j++)
            contrib[i * nf + grp[j]] += phi[j * k + a];
    }
    free(Z), free(proba), free(phi), free(grp), free(base);
    if (rc == CSEG_ENOMEM)
        return cseg__diag(d, rc, NULL, 0, 0, "out of memory");
    return rc;
}
