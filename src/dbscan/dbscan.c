/* custseg — DBSCAN: core detection, union-find of core points, border rule.
 *
 * Method. scikit-learn computes every eps-neighbourhood, marks the cores,
 * then for each row in order starts a depth-first labelling at an unlabelled
 * core point (_dbscan_inner.pyx). The labelling of one cluster finishes
 * before the next begins, so its outcome does not depend on the traversal:
 * a cluster is a connected component of the graph "core points within eps",
 * clusters are numbered by their first core row, and a border point gets the
 * lowest number among the clusters of the core points within eps of it. We
 * compute exactly that without storing neighbourhoods:
 *
 *  1. A kd-tree over all rows; for each row (in parallel, leaf by leaf)
 *     count rows within eps, the row's own half of each split first, and
 *     stop at min_samples; a box wholly inside the ball counts whole, and a
 *     box of diameter <= eps with >= min_samples rows makes all its rows core.
 *  2. A kd-tree over the core points only, and a lock-free union-find over
 *     its positions (Anderson & Woll 1991: roots are linked by
 *     compare-and-swap, the larger index under the smaller). A box of
 *     diameter <= eps ("compact") holds core points all within eps of one
 *     another, so the largest compact boxes are joined at once. Then each
 *     core point a searches for the core points after it in tree order within
 *     eps and joins them. A box is "uniform" once all its points are in one
 *     set (sets only merge, so it stays so); a uniform box in a's set holds
 *     no new edge and is skipped, which is what makes dense data cheap.
 *     Seeds go first (one point per leaf), then a bottom-up pass marks the
 *     uniform boxes, then all core points search: a largest uniform box
 *     searches once as a whole (a dual descent that stops at the first pair
 *     within eps into each other set), the points of the other leaves one by
 *     one. The sets, hence the result, do not depend on the order in which
 *     threads join them.
 *  3. Clusters are numbered by scanning the core rows in order.
 *  4. For each non-core row (in parallel) the smallest cluster number within
 *     eps: the tree's boxes carry the smallest number below them, so boxes
 *     that cannot improve the answer are skipped.
 *
 * Memory: the input is borrowed; the first tree (at most n (16 d + 9) bytes)
 * is freed before the second is built; the model keeps n labels and flags,
 * the core rows twice (in row order for the caller, in tree order for
 * predict) and the core tree: at most about n (24 d + 30) bytes at the peak
 * (all rows core). Neighbour lists are never formed.
 *
 * Predict searches the core tree for the nearest core point with the search
 * radius starting at eps, so far rows cost little.
 *
 * References: Ester, Kriegel, Sander & Xu (1996) "A density-based algorithm
 * for discovering clusters"; Schubert et al. (2017) "DBSCAN revisited";
 * scikit-learn's cluster/_dbscan.py and _dbscan_inner.pyx for the labelling
 * conventions; Satopaa et al. (2011) "Kneedle" for the eps helper.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/dbscan.h"
#include "internal.h"

/* Below this many rows a parallel region costs more than it saves. */
#define CSEG_DB_PAR_MIN 4096
/* Query rows per work item: large enough to amortise scheduling, small
 * enough to balance dense and sparse regions. */
#define CSEG_DB_CHUNK 256

struct cseg_dbscan {
    cseg_dbscan_params p;
    int fitted;
    size_t n, d, n_core, n_clusters;
    int32_t *labels;   /* n, or NULL after set_core */
    uint8_t *is_core;  /* n, or NULL after set_core */
    double *core;      /* n_core x d, row order */
    int32_t *core_lab; /* n_core */
    cseg__kdt tree;    /* over the core points (tree.idx indexes core) */
    int32_t *tree_lab; /* per tree position: its cluster */
    int32_t *node_min; /* per node: smallest cluster in its box (fit only) */
};

void cseg_dbscan_params_init(cseg_dbscan_params *p)
{
    p->eps = 0.5;
    p->min_samples = 5;
    p->n_threads = 0;
}

const char *cseg_dbscan_params_check(const cseg_dbscan_params *p)
{
    if (!(p->eps > 0) || !isfinite(p->eps))
        return "eps must be a finite number > 0";
    if (!isfinite(p->eps * p->eps))
        return "eps is too large";
    if (p->min_samples < 1)
        return "min_samples must be >= 1";
    if (p->n_threads < 0)
        return "n_threads must be >= 0";
    return NULL;
}

int cseg_dbscan_create(cseg_dbscan **out, const cseg_dbscan_params *p)
{
    cseg_dbscan_params defaults;
    *out = NULL;
    if (!p) {
        cseg_dbscan_params_init(&defaults);
        p = &defaults;
    }
    if (cseg_dbscan_params_check(p))
        return CSEG_EINVAL;
    cseg_dbscan *db = calloc(1, sizeof *db);
    if (!db)
        return CSEG_ENOMEM;
    db->p = *p;
    *out = db;
    return 0;
}

/* The fitted state, so that fit and set_core can build it aside and swap it
 * in only on success. */
typedef struct state {
    size_t n, d, n_core, n_clusters;
    int32_t *labels;
    uint8_t *is_core;
    double *core;
    int32_t *core_lab;
    cseg__kdt tree;
    int32_t *tree_lab;
    int32_t *node_min;
} state;

static void state_free(state *s)
{
    free(s->labels);
    free(s->is_core);
    free(s->core);
    free(s->core_lab);
    cseg__kdt_free(&s->tree);
    free(s->tree_lab);
    free(s->node_min);
    memset(s, 0, sizeof *s);
}

static void state_install(cseg_dbscan *db, state *s)
{
    state old = {db->n,    db->d,        db->n_core, db->n_clusters, db->labels,  db->is_core,
                 db->core, db->core_lab, db->tree,   db->tree_lab,   db->node_min};
    state_free(&old);
    db->n = s->n;
    db->d = s->d;
    db->n_core = s->n_core;
    db->n_clusters = s->n_clusters;
    db->labels = s->labels;
    db->is_core = s->is_core;
    db->core = s->core;
    db->core_lab = s->core_lab;
    db->tree = s->tree;
    db->tree_lab = s->tree_lab;
    db->node_min = s->node_min;
    db->fitted = 1;
    memset(s, 0, sizeof *s);
}

void cseg_dbscan_free(cseg_dbscan *db)
{
    if (!db)
        return;
    state s = {db->n,    db->d,        db->n_core, db->n_clusters, db->labels,  db->is_core,
               db->core, db->core_lab, db->tree,   db->tree_lab,   db->node_min};
    state_free(&s);
    free(db);
}

/* ---- range queries ---------------------------------------------------- */

typedef struct count_ctx {
    const cseg__kdt *t;
    double eps2;
    size_t cap;
} count_ctx;

/* Rows of node v within eps of q (tree position pos), counted up to cap;
 * the child holding q first, so dense rows reach cap after few boxes. */
static size_t count_point(const count_ctx *c, size_t v, const double *q, size_t pos, size_t have)
{
    const cseg__kdt *t = c->t;
    size_t d = t->d;
    const double *box = t->box + v * 2 * d;
    if (cseg__box_min2(box, q, d) > c->eps2)
        return have;
    if (cseg__box_max2(box, q, d) <= c->eps2)
        return have + (t->end[v] - t->start[v]);
    if (t->kind[v] == CSEG_KDT_LEAF_NODE) {
        for (size_t p = t->start[v]; p < t->end[v] && have < c->cap; p++)
            have += cseg__d2(t->pts + p * d, q, d) <= c->eps2;
        return have;
    }
    size_t a = 2 * v + 1, b = 2 * v + 2;
    if (t->start[b] <= pos && pos < t->end[b]) {
        a = b;
        b = 2 * v + 1;
    }
    have = count_point(c, a, q, pos, have);
    return have < c->cap ? count_point(c, b, q, pos, have) : have;
}

/* Core flags of the rows of leaf L. A box of diameter <= eps holding at
 * least min_samples rows makes all of them core at once. */
static void core_leaf(const count_ctx *c, size_t L, uint8_t *core)
{
    const cseg__kdt *t = c->t;
    size_t d = t->d, s = t->start[L], m = t->end[L] - s;
    int dense = 0;
    for (size_t v = L;; v = (v - 1) / 2) {
        if (t->end[v] - t->start[v] >= c->cap &&
            cseg__box_diam2(t->box + v * 2 * d, d) <= c->eps2) {
            dense = 1;
            break;
        }
        if (v == 0)
            break;
    }
    /* (A leaf of equal rows can hold more than CSEG_KDT_LEAF of them.) */
    for (size_t i = 0; i < m; i++)
        core[t->idx[s + i]] = dense || count_point(c, 0, t->pts + (s + i) * d, s + i, 0) >= c->cap;
}

/* ---- lock-free union-find over tree positions ------------------------- */

typedef _Atomic uint32_t auint;

static uint32_t uf_find(auint *par, uint32_t x)
{
    for (;;) {
        uint32_t p = atomic_load_explicit(&par[x], memory_order_relaxed);
        if (p == x)
            return x;
        uint32_t g = atomic_load_explicit(&par[p], memory_order_relaxed);
        if (g != p) /* path halving; a failed exchange only means someone else shortened it */
            atomic_compare_exchange_weak_explicit(&par[x], &p, g, memory_order_relaxed,
                                                  memory_order_relaxed);
        x = g;
    }
}

static void uf_union(auint *par, uint32_t a, uint32_t b)
{
    for (;;) {
        a = uf_find(par, a);
        b = uf_find(par, b);
        if (a == b)
            return;
        uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
        /* Only a root is ever relinked, and always under a smaller index:
         * no cycles, whatever the interleaving. */
        uint32_t expect = hi;
        if (atomic_compare_exchange_strong_explicit(&par[hi], &expect, lo, memory_order_relaxed,
                                                    memory_order_relaxed))
            return;
    }
}

typedef struct join_ctx {
    const cseg__kdt *t;
    const uint8_t *compact;
    auint *par;
    _Atomic uint8_t *uni; /* per node: 1 once all its core points are in one set */
    double eps2;
} join_ctx;

/* Mark v uniform (all its core points in one set) when it has become so.
 * Sets only ever merge, so a node once uniform stays uniform. */
static void try_uniform(const join_ctx *c, size_t v)
{
    const cseg__kdt *t = c->t;
    if (t->kind[v] == CSEG_KDT_LEAF_NODE) {
        uint32_t r = uf_find(c->par, t->start[v]);
        for (uint32_t p = t->start[v] + 1; p < t->end[v]; p++)
            if (uf_find(c->par, p) != r)
                return;
    } else {
        size_t l = 2 * v + 1, r = 2 * v + 2;
        if (!atomic_load_explicit(&c->uni[l], memory_order_relaxed) ||
            !atomic_load_explicit(&c->uni[r], memory_order_relaxed) ||
            uf_find(c->par, t->start[l]) != uf_find(c->par, t->start[r]))
            return;
    }
    atomic_store_explicit(&c->uni[v], 1, memory_order_relaxed);
}

/* Join core point a (tree position, coordinates q) with the core points
 * after it within eps, below node v. A uniform box already in a's set holds
 * nothing new and is skipped; a box wholly inside the ball joins whole. */
static void join_point(const join_ctx *c, size_t v, uint32_t a, const double *q)
{
    const cseg__kdt *t = c->t;
    size_t d = t->d;
    if (t->end[v] <= a + 1)
        return;
    const double *box = t->box + v * 2 * d;
    if (cseg__box_min2(box, q, d) > c->eps2)
        return;
    int uni = atomic_load_explicit(&c->uni[v], memory_order_relaxed);
    if (uni && uf_find(c->par, t->start[v]) == uf_find(c->par, a))
        return;
    if (cseg__box_max2(box, q, d) <= c->eps2) {
        if (uni) {
            uf_union(c->par, a, t->start[v]);
        } else {
            for (uint32_t p = t->start[v]; p < t->end[v]; p++)
                uf_union(c->par, a, p);
            atomic_store_explicit(&c->uni[v], 1, memory_order_relaxed);
        }
        return;
    }
    if (t->kind[v] == CSEG_KDT_LEAF_NODE) {
        for (uint32_t p = t->start[v] > a + 1 ? t->start[v] : a + 1; p < t->end[v]; p++)
            if (cseg__d2(t->pts + (size_t)p * d, q, d) <= c->eps2)
                uf_union(c->par, a, p);
    } else {
        join_point(c, 2 * v + 1, a, q);
        join_point(c, 2 * v + 2, a, q);
    }
    try_uniform(c, v);
}

/* Whether some row of node w is within eps of q (stops at the first). */
static int any_within(const cseg__kdt *t, size_t w, const double *q, double eps2)
{
    size_t d = t->d;
    const double *box = t->box + w * 2 * d;
    if (cseg__box_min2(box, q, d) > eps2)
        return 0;
    if (cseg__box_max2(box, q, d) <= eps2)
        return 1;
    if (t->kind[w] == CSEG_KDT_LEAF_NODE) {
        for (size_t p = t->start[w]; p < t->end[w]; p++)
            if (cseg__d2(t->pts + p * d, q, d) <= eps2)
                return 1;
        return 0;
    }
    return any_within(t, 2 * w + 1, q, eps2) || any_within(t, 2 * w + 2, q, eps2);
}

/* Whether some row of node u and some row of node v are within eps (a dual
 * descent, splitting the larger node, that stops at the first pair). */
static int pair_within(const cseg__kdt *t, size_t u, size_t v, double eps2)
{
    size_t d = t->d;
    const double *ub = t->box + u * 2 * d, *vb = t->box + v * 2 * d;
    if (cseg__boxes_min2(ub, vb, d) > eps2)
        return 0;
    if (cseg__boxes_max2(ub, vb, d) <= eps2)
        return 1;
    int ul = t->kind[u] == CSEG_KDT_LEAF_NODE, vl = t->kind[v] == CSEG_KDT_LEAF_NODE;
    if (ul && vl) {
        for (size_t p = t->start[u]; p < t->end[u]; p++)
            if (any_within(t, v, t->pts + p * d, eps2))
                return 1;
        return 0;
    }
    if (!ul && (vl || t->end[u] - t->start[u] >= t->end[v] - t->start[v]))
        return pair_within(t, 2 * u + 1, v, eps2) || pair_within(t, 2 * u + 2, v, eps2);
    return pair_within(t, u, 2 * v + 1, eps2) || pair_within(t, u, 2 * v + 2, eps2);
}

/* Join the uniform box U (all its points in one set) with the core points
 * within eps below node v and after U in tree order. A uniform box needs one
 * edge into U's set, and none once it is in it; a point of a leaf that is
 * not uniform likewise. */
static void join_unit(const join_ctx *c, size_t U, size_t v)
{
    const cseg__kdt *t = c->t;
    size_t d = t->d;
    if (t->end[v] <= t->start[U] || (t->start[v] >= t->start[U] && t->end[v] <= t->end[U]))
        return;
    const double *ub = t->box + U * 2 * d;
    if (cseg__boxes_min2(ub, t->box + v * 2 * d, d) > c->eps2)
        return;
    uint32_t u = t->start[U];
    if (atomic_load_explicit(&c->uni[v], memory_order_relaxed)) {
        if (uf_find(c->par, t->start[v]) != uf_find(c->par, u) && pair_within(t, U, v, c->eps2))
            uf_union(c->par, u, t->start[v]);
        return;
    }
    if (t->kind[v] == CSEG_KDT_LEAF_NODE) {
        for (uint32_t q = t->start[v]; q < t->end[v]; q++) {
            const double *x = t->pts + (size_t)q * d;
            if (cseg__box_min2(ub, x, d) <= c->eps2 && uf_find(c->par, q) != uf_find(c->par, u) &&
                any_within(t, U, x, c->eps2))
                uf_union(c->par, u, q);
        }
        return;
    }
    join_unit(c, U, 2 * v + 1);
    join_unit(c, U, 2 * v + 2);
}

/* The search units below v: the largest uniform boxes, and the leaves
 * outside them (whose points search one by one). */
static void units_of(const join_ctx *c, size_t v, size_t *out, size_t *m)
{
    if (atomic_load_explicit(&c->uni[v], memory_order_relaxed) ||
        c->t->kind[v] == CSEG_KDT_LEAF_NODE) {
        out[(*m)++] = v;
        return;
    }
    units_of(c, 2 * v + 1, out, m);
    units_of(c, 2 * v + 2, out, m);
}

/* The leaves of a tree, in node order. */
static size_t *leaves_of(const cseg__kdt *t, size_t *n_leaves)
{
    size_t m = 0;
    for (size_t v = 0; v < t->n_nodes; v++)
        m += t->kind[v] == CSEG_KDT_LEAF_NODE;
    size_t *L = malloc((m ? m : 1) * sizeof *L);
    if (!L)
        return NULL;
    for (size_t v = 0, k = 0; v < t->n_nodes; v++)
        if (t->kind[v] == CSEG_KDT_LEAF_NODE)
            L[k++] = v;
    *n_leaves = m;
    return L;
}
/* Link every point of each largest compact box to the box's first point
 * (all are singletons before this). */
static void join_compact(const join_ctx *c, size_t v)
{
    const cseg__kdt *t = c->t;
    if (c->compact[v]) {
        for (uint32_t p = t->start[v] + 1; p < t->end[v]; p++)
            atomic_store_explicit(&c->par[p], t->start[v], memory_order_relaxed);
        return;
    }
    if (t->kind[v] == CSEG_KDT_LEAF_NODE)
        return;
    join_compact(c, 2 * v + 1);
    join_compact(c, 2 * v + 2);
}

/* Smallest cluster among the core points within eps2 of q, or INT32_MAX. */
static int32_t min_label_within(const cseg__kdt *t, const int32_t *tree_lab,
                                const int32_t *node_min, size_t v, const double *q, double eps2,
                                int32_t best)
{
    size_t d = t->d;
    if (node_min[v] >= best)
        return best;
    const double *box = t->box + v * 2 * d;
    if (cseg__box_min2(box, q, d) > eps2)
        return best;
    if (cseg__box_max2(box, q, d) <= eps2)
        return node_min[v];
    if (t->kind[v] == CSEG_KDT_LEAF_NODE) {
        for (size_t p = t->start[v]; p < t->end[v]; p++)
            if (tree_lab[p] < best && cseg__d2(t->pts + p * d, q, d) <= eps2)
                best = tree_lab[p];
        return best;
    }
    best = min_label_within(t, tree_lab, node_min, 2 * v + 1, q, eps2, best);
    return min_label_within(t, tree_lab, node_min, 2 * v + 2, q, eps2, best);
}

static int32_t fill_node_min(const cseg__kdt *t, const int32_t *tree_lab, int32_t *node_min,
                             size_t v)
{
    int32_t m = INT32_MAX;
    if (t->kind[v] == CSEG_KDT_LEAF_NODE) {
        for (size_t p = t->start[v]; p < t->end[v]; p++)
            if (tree_lab[p] < m)
                m = tree_lab[p];
    } else {
        int32_t a = fill_node_min(t, tree_lab, node_min, 2 * v + 1);
        int32_t b = fill_node_min(t, tree_lab, node_min, 2 * v + 2);
        m = a < b ? a : b;
    }
    node_min[v] = m;
    return m;
}

/* Copy the core rows and labels in, build their tree and its labels. */
static int build_core_tree(state *s, int nt)
{
    if (s->n_core == 0)
        return 0;
    int rc = cseg__kdt_build(&s->tree, s->core, s->n_core, s->d, nt);
    if (rc < 0)
        return rc;
    s->tree_lab = malloc(s->n_core * sizeof *s->tree_lab);
    if (!s->tree_lab)
        return CSEG_ENOMEM;
    for (size_t p = 0; p < s->n_core; p++)
        s->tree_lab[p] = s->core_lab[s->tree.idx[p]];
    return 0;
}

static int check_finite(const double *X, size_t n, size_t d, cseg_diag *diag)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j]))
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "row %zu, feature %zu is not a finite number", i + 1, j + 1);
    return 0;
}

static double mib(size_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

int cseg_dbscan_fit(cseg_dbscan *db, const double *X, size_t n, size_t d, cseg_diag *diag)
{
    const double eps2 = db->p.eps * db->p.eps;
    const size_t cap = db->p.min_samples;
    const int nt = cseg__threads(db->p.n_threads);
    int rc = 0;
    state s;
    cseg__kdt all;
    auint *par = NULL;
    uint8_t *compact = NULL;
    uint32_t *inv = NULL;
    int32_t *cid = NULL;
    size_t *leaves = NULL, n_leaves = 0;
    _Atomic uint8_t *uni = NULL;
    memset(&s, 0, sizeof s);
    memset(&all, 0, sizeof all);
    if (n == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "no rows to cluster");
    if (d == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "no features to cluster on");
    if (n > INT32_MAX)
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0,
                          "%zu rows is more than DBSCAN handles (at most %d)", n, INT32_MAX);
    size_t tree_bytes = cseg__kdt_bytes(n, d);
    if (tree_bytes == SIZE_MAX)
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0, "%zu rows of %zu features is too large",
                          n, d);
    /* Peak: the tree over all rows, the labels and flags, or
     * at the second stage (all rows core at worst) the core rows twice, the
     * core tree and the union-find. */
    size_t need = tree_bytes + n * (sizeof(int32_t) + 1);
    size_t stage2 = n * (sizeof(int32_t) + 1) + n * d * sizeof(double) + tree_bytes +
                    n * (3 * sizeof(uint32_t) + sizeof(int32_t));
    if (stage2 > need)
        need = stage2;
    if ((rc = check_finite(X, n, d, diag)) < 0)
        return rc;
    s.n = n;
    s.d = d;
    s.labels = malloc(n * sizeof *s.labels);
    s.is_core = malloc(n);
    if (!s.labels || !s.is_core)
        goto nomem;
    if ((rc = cseg__kdt_build(&all, X, n, d, nt)) < 0)
        goto fail;

    /* 1. Core points, one leaf of rows at a time: the leaf's rows share the
     * descent through the tree. */
    if (!(leaves = leaves_of(&all, &n_leaves)))
        goto nomem;
    {
        const count_ctx cc = {&all, eps2, cap}, *cp = &cc;
        const size_t *lv = leaves;
        uint8_t *core = s.is_core;
        (void)nt;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16) default(none)                       \
    shared(cp, lv, core, n_leaves, n) if (n >= CSEG_DB_PAR_MIN)
        for (size_t k = 0; k < n_leaves; k++)
            core_leaf(cp, lv[k], core);
    }
    free(leaves);
    leaves = NULL;
    cseg__kdt_free(&all);
    for (size_t i = 0; i < n; i++)
        s.n_core += s.is_core[i];

    /* 2. Union-find over the core tree. */
    if (s.n_core > 0) {
        size_t nc = s.n_core;
        s.core = malloc(nc * d * sizeof *s.core);
        s.core_lab = malloc(nc * sizeof *s.core_lab);
        if (!s.core || !s.core_lab)
            goto nomem;
        for (size_t i = 0, k = 0; i < n; i++)
            if (s.is_core[i])
                memcpy(s.core + (k++) * d, X + i * d, d * sizeof(double));
        if ((rc = cseg__kdt_build(&s.tree, s.core, nc, d, nt)) < 0)
            goto fail;
        const cseg__kdt *t = &s.tree;
        par = malloc(nc * sizeof *par);
        compact = malloc(t->n_nodes);
        if (!par || !compact)
            goto nomem;
        for (size_t p = 0; p < nc; p++)
            atomic_init(&par[p], (uint32_t)p);
        for (size_t v = 0; v < t->n_nodes; v++)
            compact[v] =
                t->kind[v] != CSEG_KDT_ABSENT && cseg__box_diam2(t->box + v * 2 * d, d) <= eps2;
        uni = malloc(t->n_nodes * sizeof *uni);
        if (!uni)
            goto nomem;
        for (size_t v = 0; v < t->n_nodes; v++)
            atomic_init(&uni[v], compact[v]);
        join_ctx jc = {t, compact, par, uni, eps2};
        const join_ctx *jp = &jc;
        join_compact(jp, 0);
        /* Seeds first (the first point of each leaf): they merge most of each
         * cluster, then one bottom-up pass marks the uniform boxes, so that
         * the queries of all core points skip most of their ball. */
        if (!(leaves = leaves_of(t, &n_leaves)))
            goto nomem;
        const size_t *lv = leaves;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16) default(none)                       \
    shared(jp, t, lv, n_leaves, nc) if (nc >= CSEG_DB_PAR_MIN)
        for (size_t k = 0; k < n_leaves; k++)
            join_point(jp, 0, t->start[lv[k]], t->pts + (size_t)t->start[lv[k]] * t->d);
        free(leaves);
        leaves = NULL;
        lv = NULL;
        for (size_t v = t->n_nodes; v-- > 0;)
            if (t->kind[v] != CSEG_KDT_ABSENT &&
                !atomic_load_explicit(&uni[v], memory_order_relaxed))
                try_uniform(jp, v);
        /* Then every core point, by units: a uniform box searches once as a
         * whole; the points of the other leaves search one by one. */
        if (!(leaves = malloc((t->n_nodes / 2 + 1) * sizeof *leaves)))
            goto nomem;
        n_leaves = 0;
        units_of(jp, 0, leaves, &n_leaves);
        lv = leaves;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) default(none)                        \
    shared(jp, t, lv, n_leaves, nc, uni) if (nc >= CSEG_DB_PAR_MIN)
        for (size_t k = 0; k < n_leaves; k++) {
            size_t U = lv[k];
            if (atomic_load_explicit(&uni[U], memory_order_relaxed))
                join_unit(jp, U, 0);
            else
                for (uint32_t p = t->start[U]; p < t->end[U]; p++)
                    join_point(jp, 0, p, t->pts + (size_t)p * t->d);
        }
        free(leaves);
        leaves = NULL;
        free(uni);
        uni = NULL;
        free(compact);
        compact = NULL;

        /* 3. Number the clusters by their first core row. */
        inv = malloc(nc * sizeof *inv);
        cid = malloc(nc * sizeof *cid);
        if (!inv || !cid)
            goto nomem;
        for (size_t p = 0; p < nc; p++) {
            inv[t->idx[p]] = (uint32_t)p;
            cid[p] = -1;
        }
        int32_t next = 0;
        for (size_t k = 0; k < nc; k++) {
            uint32_t r = uf_find(par, inv[k]);
            if (cid[r] < 0)
                cid[r] = next++;
            s.core_lab[k] = cid[r];
        }
        s.n_clusters = (size_t)next;
        free(par);
        par = NULL;
        free(inv);
        inv = NULL;
        free(cid);
        cid = NULL;
        s.tree_lab = malloc(nc * sizeof *s.tree_lab);
        s.node_min = malloc(t->n_nodes * sizeof *s.node_min);
        if (!s.tree_lab || !s.node_min)
            goto nomem;
        for (size_t p = 0; p < nc; p++)
            s.tree_lab[p] = s.core_lab[t->idx[p]];
        fill_node_min(t, s.tree_lab, s.node_min, 0);
    }

    /* 4. Labels: cores from their cluster, the others by the border rule. */
    {
        const cseg__kdt *t = &s.tree;
        const int32_t *core_lab = s.core_lab, *tree_lab = s.tree_lab, *node_min = s.node_min;
        const uint8_t *core = s.is_core;
        int32_t *lab = s.labels;
        size_t nc = s.n_core;
        for (size_t i = 0, k = 0; i < n; i++)
            lab[i] = core[i] ? core_lab[k++] : -1;
        size_t nchunk = (n + CSEG_DB_CHUNK - 1) / CSEG_DB_CHUNK;
        if (nc > 0) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) default(none)                        \
    shared(t, tree_lab, node_min, core, lab, X, n, d, nchunk, eps2) if (n >= CSEG_DB_PAR_MIN)
            for (size_t c = 0; c < nchunk; c++) {
                size_t i1 = (c + 1) * CSEG_DB_CHUNK < n ? (c + 1) * CSEG_DB_CHUNK : n;
                for (size_t i = c * CSEG_DB_CHUNK; i < i1; i++) {
                    if (core[i])
                        continue;
                    int32_t b =
                        min_label_within(t, tree_lab, node_min, 0, X + i * d, eps2, INT32_MAX);
                    lab[i] = b == INT32_MAX ? -1 : b;
                }
            }
        }
    }
    state_install(db, &s);
    return 0;
nomem:
    rc = CSEG_ENOMEM;
fail:
    if (rc == CSEG_ENOMEM)
        cseg__diag(diag, rc, NULL, 0, 0,
                   "out of memory for DBSCAN on %zu rows of %zu features (needs about %.0f MiB)", n,
                   d, mib(need));
    else
        cseg__diag(diag, rc, NULL, 0, 0, "%zu rows of %zu features is too large for DBSCAN", n, d);
    cseg__kdt_free(&all);
    free(par);
    free(compact);
    free(inv);
    free(cid);
    free(leaves);
    free(uni);
    state_free(&s);
    return rc;
}

int cseg_dbscan_set_core(cseg_dbscan *db, const double *P, const int32_t *labels, size_t n_core,
                         size_t d, size_t n_clusters)
{
    state s;
    memset(&s, 0, sizeof s);
    size_t nd;
    if (d == 0 || (n_core == 0) != (n_clusters == 0) || n_clusters > n_core)
        return CSEG_EINVAL;
    if (n_core > INT32_MAX || cseg__mul(n_core, d, &nd) || cseg__kdt_bytes(n_core, d) == SIZE_MAX)
        return CSEG_ETOOBIG;
    if (check_finite(P, n_core, d, NULL) < 0)
        return CSEG_EINVAL;
    uint8_t *seen = cseg__calloc(n_clusters ? n_clusters : 1, 1);
    if (!seen)
        return CSEG_ENOMEM;
    size_t n_seen = 0;
    for (size_t k = 0; k < n_core; k++) {
        if (labels[k] < 0 || (size_t)labels[k] >= n_clusters) {
            free(seen);
            return CSEG_EINVAL;
        }
        n_seen += !seen[labels[k]];
        seen[labels[k]] = 1;
    }
    free(seen);
    if (n_seen != n_clusters)
        return CSEG_EINVAL;
    s.d = d;
    s.n_core = n_core;
    s.n_clusters = n_clusters;
    if (n_core > 0) {
        s.core = malloc(nd * sizeof *s.core);
        s.core_lab = malloc(n_core * sizeof *s.core_lab);
        if (!s.core || !s.core_lab) {
            state_free(&s);
            return CSEG_ENOMEM;
        }
        memcpy(s.core, P, nd * sizeof *s.core);
        memcpy(s.core_lab, labels, n_core * sizeof *s.core_lab);
        int rc = build_core_tree(&s, cseg__threads(db->p.n_threads));
        if (rc < 0) {
            state_free(&s);
            return rc;
        }
    }
    state_install(db, &s);
    return 0;
}

/* ---- predict ---------------------------------------------------------- */

typedef struct nearest {
    double d2;
    uint32_t k; /* index into the core list; UINT32_MAX: none yet */
} nearest;

/* Nearest core point with squared distance <= best->d2 (initially eps^2);
 * ties go to the lower core index. */
static void nearest_core(const cseg__kdt *t, size_t v, const double *q, nearest *best)
{
    size_t d = t->d;
    if (cseg__box_min2(t->box + v * 2 * d, q, d) > best->d2)
        return;
    if (t->kind[v] == CSEG_KDT_LEAF_NODE) {
        for (size_t p = t->start[v]; p < t->end[v]; p++) {
            double e = cseg__d2(t->pts + p * d, q, d);
            if (e < best->d2 || (e == best->d2 && t->idx[p] < best->k)) {
                best->d2 = e;
                best->k = t->idx[p];
            }
        }
        return;
    }
    size_t l = 2 * v + 1, r = 2 * v + 2;
    double dl = cseg__box_min2(t->box + l * 2 * d, q, d);
    double dr = cseg__box_min2(t->box + r * 2 * d, q, d);
    if (dr < dl) {
        size_t x = l;
        l = r;
        r = x;
    }
    nearest_core(t, l, q, best);
    nearest_core(t, r, q, best);
}

/* Row i of X to the cluster of its nearest core sample within eps. */
static void predict_one(const cseg_dbscan *db, const double *X, size_t i, int32_t *labels,
                        double *dist)
{
    const size_t d = db->d;
    const double *q = X + i * d;
    int ok = 1;
    for (size_t j = 0; j < d; j++)
        ok &= isfinite(q[j]) != 0;
    nearest best = {db->p.eps * db->p.eps, UINT32_MAX};
    if (ok && db->n_core > 0)
        nearest_core(&db->tree, 0, q, &best);
    labels[i] = best.k == UINT32_MAX ? -1 : db->core_lab[best.k];
    if (dist)
        dist[i] = !ok ? NAN : best.k == UINT32_MAX ? INFINITY : sqrt(best.d2);
}

int cseg_dbscan_predict(const cseg_dbscan *db, const double *X, size_t n, int32_t *labels,
                        double *dist)
{
    if (!db->fitted)
        return CSEG_ENOTFIT;
    /* Few rows (a service's one customer): no parallel region, which even
     * with a false if clause sets up a team per call. */
    if (n < CSEG_DB_PAR_MIN) {
        for (size_t i = 0; i < n; i++)
            predict_one(db, X, i, labels, dist);
        return 0;
    }
    const int nt = cseg__threads(db->p.n_threads);
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(dynamic, CSEG_DB_CHUNK) default(none)            \
    shared(db, X, n, labels, dist)
    for (size_t i = 0; i < n; i++)
        predict_one(db, X, i, labels, dist);
    return 0;
}

/* ---- getters ---------------------------------------------------------- */

int cseg_dbscan_is_fitted(const cseg_dbscan *db)
{
    return db && db->fitted;
}

size_t cseg_dbscan_n_clusters(const cseg_dbscan *db)
{
    return db->n_clusters;
}

const int32_t *cseg_dbscan_labels(const cseg_dbscan *db)
{
    return db->labels;
}

const uint8_t *cseg_dbscan_is_core(const cseg_dbscan *db)
{
    return db->is_core;
}

size_t cseg_dbscan_n_samples(const cseg_dbscan *db)
{
    return db->n;
}

size_t cseg_dbscan_n_core(const cseg_dbscan *db)
{
    return db->n_core;
}

size_t cseg_dbscan_dim(const cseg_dbscan *db)
{
    return db->d;
}

double cseg_dbscan_eps(const cseg_dbscan *db)
{
    return db->p.eps;
}

size_t cseg_dbscan_min_samples(const cseg_dbscan *db)
{
    return db->p.min_samples;
}

const double *cseg_dbscan_core_points(const cseg_dbscan *db)
{
    return db->core;
}

const int32_t *cseg_dbscan_core_labels(const cseg_dbscan *db)
{
    return db->core_lab;
}
