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
    int32_t lvl;
} col;

/* Column c's value for row r, as the surrogate tree sees it. */
static double col_value(const col *c, size_t r)
{
    if (c->code)
        return c->code[r] == c->lvl;
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

/* The surrogate's columns: numbers (a missing value as the median of all
 * customers') and one column per level of a text column; X their values for
 * every step-th customer (ns rows). */
static int surrogate_columns(const cseg_model *m, const cseg_table *t, size_t step, double **X,
                             size_t *ns, col **cols, size_t *q, cseg_diag *d)
{
    const cseg_prep *pp = cseg_model_prep(m);
    size_t n = cseg_table_n_rows(t), nq = 0, cap = 0;
    *X = NULL;
    *cols = NULL;
    *q = 0;
    *ns = (n + step - 1) / step;
    for (size_t i = 0; i < cseg_prep_n_inputs(pp); i++) {
        long j = cseg_table_find(t, cseg_prep_input_name(pp, i));
        if (j < 0)
            return cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0, "no column \"%s\"",
                              cseg_prep_input_name(pp, i));
        cap += cseg_table_col_type(t, (size_t)j) == CSEG_COL_TEXT
                   ? cseg_table_n_levels(t, (size_t)j)
                   : 1;
    }
    double *tmp = malloc((n ? n : 1) * sizeof *tmp);
    col *cl = calloc(cap ? cap : 1, sizeof *cl);
    int rc = tmp && cl ? 0 : CSEG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < cseg_prep_n_inputs(pp); i++) {
        const char *name = cseg_prep_input_name(pp, i);
        size_t j = (size_t)cseg_table_find(t, name);
        if (cseg_table_col_type(t, j) == CSEG_COL_TEXT) {
            for (size_t l = 0; rc == 0 && l < cseg_table_n_levels(t, j); l++, nq++) {
                if (!(cl[nq].name = cseg__strdup(name)) ||
                    !(cl[nq].level = cseg__strdup(cseg_table_level(t, j, (int32_t)l))))
                    rc = CSEG_ENOMEM;
                cl[nq].code = cseg_table_codes(t, j);
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
        double med = 0; /* needed only when a value is missing */
        if (mm > 0 && mm < n) {
            cseg__sort_doubles(tmp, mm);
            med = mm % 2 ? tmp[mm / 2] : (tmp[mm / 2 - 1] + tmp[mm / 2]) / 2;
        }
        if (!(cl[nq].name = cseg__strdup(name)))
            rc = CSEG_ENOMEM;
        cl[nq].x = x;
        cl[nq].med = med;
        nq++;
    }
    free(tmp);
    double *Xc = rc == 0 ? malloc((*ns ? *ns : 1) * (nq ? nq : 1) * sizeof *Xc) : NULL;
    if (rc == 0 && !Xc)
        rc = CSEG_ENOMEM;
    for (size_t r = 0; rc == 0 && r < *ns; r++)
        for (size_t c = 0; c < nq; c++)
            Xc[r * nq + c] = col_value(&cl[c], r * step);
    *X = Xc;
    *cols = cl;
    *q = nq;
    return rc;
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
    memset(out, 0, sizeof *out);
    size_t n = cseg_table_n_rows(customers), k = cseg_model_k(m), q = 0;
    if (!cseg_model_prep(m) || k == 0)
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0, "the model has no pipeline or segments");
    if (n == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no customers");
    double *X = NULL, *lo = NULL, *hi = NULL;
    col *cols = NULL;
    signed char *is = NULL;
    size_t *seg_size = calloc(k, sizeof *seg_size);
    cseg_tree *tree = NULL;
    /* Above CSEG_RULES_MAX_ROWS customers the tree grows on every step-th one:
     * the rules of a few levels are as sure from a sample of that size,
     * and growing it was most of the time of segmenting a million. Their
     * support, precision, recall and the fidelity count every customer. */
    size_t step = n > CSEG_RULES_MAX_ROWS ? (n + CSEG_RULES_MAX_ROWS - 1) / CSEG_RULES_MAX_ROWS : 1;
    size_t ns = 0;
    double *count = NULL;
    int32_t *ys = NULL;
    int rc = seg_size ? surrogate_columns(m, customers, step, &X, &ns, &cols, &q, d) : CSEG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= k)
            rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "row %zu: segment out of range", i);
        else
            seg_size[labels[i]]++;
    }
    if (rc == 0 && q == 0)
        rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "no number or text columns to write rules on");
    if (rc == 0 && !(ys = malloc(ns * sizeof *ys)))
        rc = CSEG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < ns; i++)
        ys[i] = labels[i * step];
    if (rc == 0) {
        cseg_tree_params tp;
        cseg_tree_params_init(&tp);
        tp.max_depth = max_depth ? max_depth : 3;
        tp.min_samples_leaf = ns / 100 > 5 ? ns / 100 : 5;
        rc = cseg_tree_fit(&tree, X, ns, q, ys, k, NULL, NULL, &tp, d);
    }
    free(ys);
    if (rc == 0 && step > 1) { /* the leaves' counts over every customer, a block at a time */
        enum { B = 4096 };
        double *blk = malloc(B * q * sizeof *blk);
        int32_t leaf[B];
        count = calloc(cseg_tree_n_nodes(tree) * k, sizeof *count);
        rc = count && blk ? 0 : CSEG_ENOMEM;
        for (size_t r0 = 0; rc == 0 && r0 < n; r0 += B) {
            size_t nb = n - r0 < B ? n - r0 : B;
            for (size_t r = 0; r < nb; r++)
                for (size_t c = 0; c < q; c++)
                    blk[r * q + c] = col_value(&cols[c], r0 + r);
            if ((rc = cseg_tree_apply(tree, blk, nb, leaf)) == 0)
                for (size_t r = 0; r < nb; r++)
                    count[(size_t)leaf[r] * k + (size_t)labels[r0 + r]] += 1;
        }
        free(blk);
    }
    if (rc == 0) {
        lo = malloc(q * sizeof *lo);
        hi = malloc(q * sizeof *hi);
        is = malloc(q);
        rc = lo && hi && is ? 0 : CSEG_ENOMEM;
    }
    if (rc == 0) {
        for (size_t j = 0; j < q; j++) {
            lo[j] = -INFINITY;
            hi[j] = INFINITY;
            is[j] = -1;
        }
        walker w = {cseg_tree_nodes(tree),
                    count ? count : cseg_tree_values(tree),
                    k,
                    q,
                    cols,
                    lo,
                    hi,
                    is,
                    seg_size,
                    out,
                    0};
        walk(&w, 0);
        rc = w.rc;
        double right = 0;
        for (size_t i = 0; i < out->n; i++)
            right += out->rule[i].precision * (double)out->rule[i].support;
        out->fidelity = right / (double)n;
        out->depth = cseg_tree_depth(tree);
        qsort(out->rule, out->n, sizeof *out->rule, cmp_rule);
    }
    cseg_tree_free(tree);
    free(count);
    for (size_t j = 0; cols && j < q; j++) {
        free(cols[j].name);
        free(cols[j].level);
    }
    free(cols), free(X), free(lo), free(hi), free(is), free(seg_size);
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
