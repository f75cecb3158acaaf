/* custseg — hierarchical clustering: parameters, fit, micro-clusters, cuts.
 *
 * fit checks the input, predicts the memory, runs one of the algorithms of
 * ward.c and matrix.c (which record SciPy-style slot merges) and turns their
 * output into SciPy's linkage matrix with cseg__hc_label: a stable sort by
 * height, then union-find renumbering (as scipy's label()).
 *
 * Micro-cluster mode (Ward, n > exact_max, !exact): k-means with k = n_micro
 * (one k-means++ start, at most CSEG_HC_MICRO_ITER Lloyd iterations) on a
 * sample of at most CSEG_HC_SAMPLE_PER x n_micro rows — enough rows per
 * centre to place it, while seeding costs O(k^2 ln k x sample) and would
 * dominate on all rows — then every row is assigned to its nearest centre,
 * each micro-cluster is replaced by the weighted mean of its rows, empty ones
 * are dropped, and weighted Ward runs on the rest.
 *
 * Cuts apply the first m merges (the heights are sorted) with union-find and
 * number the clusters by first appearance; cut_k chooses m as SciPy's
 * fcluster(maxclust) does: the smallest height giving at most k clusters,
 * with every merge tied at that height.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/hclust.h"
#include "custseg/kmeans.h"
#include "../core/internal.h"
#include "internal.h"

#define CSEG_HC_SAMPLE_PER 50
#define CSEG_HC_MICRO_ITER 30
#define CSEG_HC_DEFAULT_EXACT_MAX 20000
#define CSEG_HC_DEFAULT_MICRO 2000

struct cseg_hclust {
    cseg_hclust_params p;
    size_t n, n_leaves;
    double *Z;        /* (n_leaves - 1) x 4 */
    int32_t *leaf_of; /* n */
    int approximate;
};

void cseg_hclust_params_init(cseg_hclust_params *p)
{
    p->linkage = CSEG_LINKAGE_WARD;
    p->max_memory = (size_t)8 << 30;
    p->exact_max = CSEG_HC_DEFAULT_EXACT_MAX;
    p->n_micro = CSEG_HC_DEFAULT_MICRO;
    p->exact = 0;
    p->seed = 0;
    p->n_threads = 0;
}

const char *cseg_hclust_params_check(const cseg_hclust_params *p)
{
    if (p->linkage != CSEG_LINKAGE_WARD && p->linkage != CSEG_LINKAGE_COMPLETE &&
        p->linkage != CSEG_LINKAGE_AVERAGE && p->linkage != CSEG_LINKAGE_SINGLE)
        return "linkage must be ward, complete, average or single";
    if (p->max_memory == 0)
        return "max_memory must be > 0";
    if (p->exact_max < 2)
        return "exact_max must be >= 2";
    if (p->n_micro < 2)
        return "n_micro must be >= 2";
    if (p->n_micro > (1u << 30))
        return "n_micro is too large";
    if (p->exact != 0 && p->exact != 1)
        return "exact must be 0 or 1";
    if (p->n_threads < 0)
        return "n_threads must be >= 0";
    return NULL;
}

int cseg_hclust_create(cseg_hclust **out, const cseg_hclust_params *p)
{
    cseg_hclust_params defaults;
    *out = NULL;
    if (!p) {
        cseg_hclust_params_init(&defaults);
        p = &defaults;
    }
    if (cseg_hclust_params_check(p))
        return CSEG_EINVAL;
    cseg_hclust *h = calloc(1, sizeof *h);
    if (!h)
        return CSEG_ENOMEM;
    h->p = *p;
    *out = h;
    return 0;
}

static void reset(cseg_hclust *h)
{
    free(h->Z);
    free(h->leaf_of);
    h->Z = NULL;
    h->leaf_of = NULL;
    h->n = h->n_leaves = 0;
    h->approximate = 0;
}

void cseg_hclust_free(cseg_hclust *h)
{
    if (!h)
        return;
    reset(h);
    free(h);
}

/* ---------------------------------------------------------------------- */
/* Sorting and relabelling (SciPy's label()).                              */

typedef struct merge_key {
    double h;
    size_t i;
} merge_key;

static int cmp_merge(const void *a, const void *b)
{
    const merge_key *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static size_t uf_find(size_t *parent, size_t x)
{
    size_t r = x;
    while (parent[r] != r)
        r = parent[r];
    while (parent[x] != r) {
        size_t next = parent[x];
        parent[x] = r;
        x = next;
    }
    return r;
}

int cseg__hc_label(double *Z, size_t n, const double *w)
{
    size_t m = n - 1;
    merge_key *key = malloc(m * sizeof *key);
    double *tmp = malloc(4 * m * sizeof *tmp), *size = malloc((2 * n - 1) * sizeof *size);
    size_t *parent = malloc((2 * n - 1) * sizeof *parent);
    int rc = CSEG_ENOMEM;
    if (!key || !tmp || !size || !parent)
        goto out;
    for (size_t i = 0; i < m; i++) {
        key[i].h = Z[4 * i + 2];
        key[i].i = i;
    }
    /* The index as last key makes qsort stable, as SciPy's mergesort. */
    qsort(key, m, sizeof *key, cmp_merge);
    for (size_t i = 0; i < m; i++)
        memcpy(tmp + 4 * i, Z + 4 * key[i].i, 4 * sizeof *tmp);
    for (size_t i = 0; i < 2 * n - 1; i++) {
        parent[i] = i;
        size[i] = i < n ? (w ? w[i] : 1.0) : 0;
    }
    for (size_t i = 0; i < m; i++) {
        size_t ra = uf_find(parent, (size_t)tmp[4 * i]);
        size_t rb = uf_find(parent, (size_t)tmp[4 * i + 1]);
        size_t c = n + i;
        parent[ra] = parent[rb] = c;
        size[c] = size[ra] + size[rb];
        Z[4 * i + 0] = (double)(ra < rb ? ra : rb);
        Z[4 * i + 1] = (double)(ra < rb ? rb : ra);
        Z[4 * i + 2] = tmp[4 * i + 2];
        Z[4 * i + 3] = size[c];
    }
    rc = 0;
out:
    free(key);
    free(tmp);
    free(size);
    free(parent);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Memory and time prediction.                                             */

/* Peak bytes of each mode; the constants follow the allocations in ward.c,
 * matrix.c and this file (plus the kept linkage matrix and leaf map). */
static int predict(cseg_linkage linkage, size_t n, size_t d, int micro, size_t n_micro,
                   size_t *bytes)
{
    size_t kept, a, b;
    /* Z (32 bytes per merge), leaf_of (4 per row), label()'s scratch (64 per merge) */
    if (cseg__mul(n, 32 + 4 + 64, &kept))
        return CSEG_ETOOBIG;
    if (micro) {
        size_t ns = n_micro * CSEG_HC_SAMPLE_PER < n ? n_micro * CSEG_HC_SAMPLE_PER : n;
        /* sample rows and weights, row indices, the k-means work (centres and
         * per-block partial sums of k x d x 8 per 4096 rows), micro means */
        size_t nblk = (ns + 4095) / 4096 + 1;
        if (cseg__mul(ns, 8 * d + 8 * 2 + 8 * d + 24, &a) || cseg__mul(n, 8 + 4 + 8, &b))
            return CSEG_ETOOBIG;
        size_t km;
        if (cseg__mul3(nblk, n_micro, 8 * (d + 1) * 8, &km))
            return CSEG_ETOOBIG;
        *bytes = a + b + km + (size_t)n_micro * (8 * d + 200) + kept;
        return 0;
    }
    switch (linkage) {
    case CSEG_LINKAGE_WARD: /* feature-major centroids, sizes, slots, positions, chain */
        if (cseg__mul(n + 8, 8 * d + 32, &a))
            return CSEG_ETOOBIG;
        break;
    case CSEG_LINKAGE_COMPLETE:
    case CSEG_LINKAGE_AVERAGE:
        a = cseg__hc_condensed_bytes(n);
        if (a == 0 && n > 1)
            return CSEG_ETOOBIG;
        a += 16 * n;
        break;
    default: /* single: distance to the tree, membership */
        a = 9 * n;
        break;
    }
    if (a > SIZE_MAX - kept)
        return CSEG_ETOOBIG;
    *bytes = a + kept;
    return 0;
}

int cseg_hclust_estimate(cseg_linkage linkage, size_t n, size_t d, int exact, size_t *bytes,
                         double *seconds_guess)
{
    if ((unsigned)linkage > CSEG_LINKAGE_SINGLE || n < 2 || d == 0)
        return CSEG_EINVAL;
    int micro = linkage == CSEG_LINKAGE_WARD && !exact && n > CSEG_HC_DEFAULT_EXACT_MAX &&
                CSEG_HC_DEFAULT_MICRO < n;
    size_t b;
    int rc = predict(linkage, n, d, micro, CSEG_HC_DEFAULT_MICRO, &b);
    if (rc)
        return rc;
    if (bytes)
        *bytes = b;
    if (seconds_guess) {
        double nn = (double)n, dd = (double)d, k = CSEG_HC_DEFAULT_MICRO;
        /* Seconds per unit, measured single-threaded at d = 8 (bench/). */
        if (micro) {
            double ns = fmin(nn, k * CSEG_HC_SAMPLE_PER);
            *seconds_guess = 1.5e-10 * dd * (k * ns * (2 + log(k)) + CSEG_HC_MICRO_ITER * k * ns +
                                            k * nn) +
                             1e-9 * k * k * dd;
        } else if (linkage == CSEG_LINKAGE_WARD) {
            *seconds_guess = 2.5e-10 * nn * nn * dd;
        } else if (linkage == CSEG_LINKAGE_SINGLE) {
            *seconds_guess = 4e-10 * nn * nn * dd;
        } else {
            *seconds_guess = 2e-10 * nn * nn * dd + 3e-9 * nn * nn;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Fit.                                                                    */

/* Micro-clusters: fills *Xm (n_leaves x d), *wm (weights) and h->leaf_of. */
static int micro_clusters(cseg_hclust *h, const double *X, size_t n, size_t d, const double *w,
                          double **Xm_out, double **wm_out, size_t *nm_out, cseg_diag *diag)
{
    int rc = CSEG_ENOMEM;
    size_t k = h->p.n_micro;
    size_t ns = k * CSEG_HC_SAMPLE_PER < n ? k * CSEG_HC_SAMPLE_PER : n;
    size_t *idx = NULL;
    double *Xs = NULL, *ws = NULL, *sum = NULL, *cnt = NULL;
    int32_t *remap = NULL;
    cseg_kmeans *km = NULL;
    const double *Xfit = X, *wfit = w;
    if (ns < n) {
        /* A seeded sample, read in row order. */
        idx = malloc(ns * sizeof *idx);
        Xs = cseg__alloc_aligned(ns * d, sizeof(double));
        ws = w ? malloc(ns * sizeof *ws) : NULL;
        if (!idx || !Xs || (w && !ws) || cseg__sample_sorted(n, ns, h->p.seed, idx) < 0)
            goto out;
        for (size_t q = 0; q < ns; q++) {
            memcpy(Xs + q * d, X + idx[q] * d, d * sizeof *Xs);
            if (ws)
                ws[q] = w[idx[q]];
        }
        free(idx);
        idx = NULL;
        Xfit = Xs;
        wfit = ws;
    }
    cseg_kmeans_params kp;
    cseg_kmeans_params_init(&kp);
    kp.k = k;
    kp.n_init = 1;
    kp.max_iter = CSEG_HC_MICRO_ITER;
    kp.seed = h->p.seed;
    kp.n_threads = h->p.n_threads;
    rc = cseg_kmeans_create(&km, &kp);
    if (rc)
        goto out;
    rc = cseg_kmeans_fit(km, Xfit, ns, d, wfit, diag);
    if (rc)
        goto out;
    rc = cseg_kmeans_predict(km, X, n, h->leaf_of, NULL);
    if (rc)
        goto out;
    rc = CSEG_ENOMEM;
    sum = calloc(k * d, sizeof *sum);
    cnt = calloc(k, sizeof *cnt);
    remap = malloc(k * sizeof *remap);
    if (!sum || !cnt || !remap)
        goto out;
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)h->leaf_of[i];
        double wi = w ? w[i] : 1.0;
        cnt[c] += wi;
        for (size_t j = 0; j < d; j++)
            sum[c * d + j] += wi * X[i * d + j];
    }
    size_t nm = 0;
    for (size_t c = 0; c < k; c++) {
        remap[c] = -1;
        if (cnt[c] > 0) {
            remap[c] = (int32_t)nm;
            for (size_t j = 0; j < d; j++)
                sum[nm * d + j] = sum[c * d + j] / cnt[c];
            cnt[nm] = cnt[c];
            nm++;
        }
    }
    for (size_t i = 0; i < n; i++)
        h->leaf_of[i] = remap[h->leaf_of[i]];
    *Xm_out = sum;
    *wm_out = cnt;
    *nm_out = nm;
    sum = cnt = NULL;
    rc = 0;
out:
    cseg_kmeans_free(km);
    free(idx);
    cseg__free_aligned(Xs);
    free(ws);
    free(sum);
    free(cnt);
    free(remap);
    return rc;
}

/* Each linkage's name (command line, model.json) and its form in prose. */
static const struct {
    const char *name, *display;
} linkage_names[] = {
    {"ward", "Ward"}, {"complete", "complete"}, {"average", "average"}, {"single", "single"}};

const char *cseg_linkage_name(cseg_linkage l)
{
    return (unsigned)l <= CSEG_LINKAGE_SINGLE ? linkage_names[l].name : NULL;
}

const char *cseg_linkage_display_name(cseg_linkage l)
{
    return (unsigned)l <= CSEG_LINKAGE_SINGLE ? linkage_names[l].display : NULL;
}

int cseg_linkage_parse(const char *s, cseg_linkage *out)
{
    for (unsigned q = 0; s && q <= CSEG_LINKAGE_SINGLE; q++)
        if (strcmp(s, linkage_names[q].name) == 0) {
            *out = (cseg_linkage)q;
            return 0;
        }
    return CSEG_EINVAL;
}

int cseg_hclust_fit(cseg_hclust *h, const double *X, size_t n, size_t d, const double *weights,
                    cseg_diag *diag)
{
    const cseg_hclust_params *p = &h->p;
    double *Xm = NULL, *wm = NULL;
    int rc;
    reset(h);
    if (n < 2)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "hierarchical clustering needs at least 2 rows, got %zu", n);
    if (d == 0)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0, "no features to cluster on");
    if (n > (size_t)INT32_MAX)
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0, "%zu rows are more than 2^31 - 1", n);
    if (weights && p->linkage != CSEG_LINKAGE_WARD)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "row weights are supported by ward linkage only, not %s",
                          cseg_linkage_name(p->linkage));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j]))
                return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                                  "row %zu, feature %zu is not a finite number", i + 1, j + 1);
        if (weights && !(weights[i] > 0 && isfinite(weights[i])))
            return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                              "the weight of row %zu must be a positive finite number", i + 1);
    }
    int micro = p->linkage == CSEG_LINKAGE_WARD && !p->exact && n > p->exact_max && p->n_micro < n;
    size_t need;
    rc = predict(p->linkage, n, d, micro, p->n_micro, &need);
    if (rc || need > p->max_memory) {
        double gib = rc ? INFINITY : (double)need / (double)(1u << 30);
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0,
                          "%s linkage on %zu rows needs %.3g GiB (%zu bytes), more than "
                          "max_memory (%zu bytes)%s",
                          cseg_linkage_name(p->linkage), n, gib, rc ? SIZE_MAX : need, p->max_memory,
                          p->linkage == CSEG_LINKAGE_COMPLETE || p->linkage == CSEG_LINKAGE_AVERAGE
                              ? "; ward or single linkage need O(n d) memory"
                              : "");
    }
    int nt = cseg__threads(p->n_threads);
    h->leaf_of = malloc(n * sizeof *h->leaf_of);
    if (!h->leaf_of) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    const double *Xt = X, *wt = weights;
    size_t nl = n;
    if (micro) {
        rc = micro_clusters(h, X, n, d, weights, &Xm, &wm, &nl, diag);
        if (rc)
            goto out;
        Xt = Xm;
        wt = wm;
    } else {
        for (size_t i = 0; i < n; i++)
            h->leaf_of[i] = (int32_t)i;
    }
    /* Identical rows can leave a single micro-cluster: a tree of one leaf. */
    h->Z = malloc((nl > 1 ? nl - 1 : 1) * 4 * sizeof *h->Z);
    if (!h->Z) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    if (nl < 2)
        goto done;
    switch (p->linkage) {
    case CSEG_LINKAGE_WARD:
        rc = cseg__hc_ward(Xt, nl, d, wt, nt, h->Z);
        break;
    case CSEG_LINKAGE_COMPLETE:
    case CSEG_LINKAGE_AVERAGE:
        rc = cseg__hc_matrix(Xt, nl, d, p->linkage == CSEG_LINKAGE_COMPLETE, nt, h->Z);
        break;
    default:
        rc = cseg__hc_single(Xt, nl, d, nt, h->Z);
        break;
    }
    if (!rc)
        rc = cseg__hc_label(h->Z, nl, wt);
    if (rc)
        goto out;
done:
    h->n = n;
    h->n_leaves = nl;
    h->approximate = micro;
out:
    if (rc < 0) {
        if (rc == CSEG_ENOMEM)
            cseg__diag(diag, rc, NULL, 0, 0, "out of memory for hierarchical clustering");
        reset(h);
    }
    free(Xm);
    free(wm);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Getters and cuts.                                                       */

int cseg_hclust_is_approximate(const cseg_hclust *h)
{
    return h->approximate;
}

size_t cseg_hclust_n_leaves(const cseg_hclust *h)
{
    return h->n_leaves;
}

size_t cseg_hclust_n_rows(const cseg_hclust *h)
{
    return h->n;
}

const double *cseg_hclust_linkage(const cseg_hclust *h)
{
    return h->Z;
}

const int32_t *cseg_hclust_leaf_of(const cseg_hclust *h)
{
    return h->leaf_of;
}

const cseg_hclust_params *cseg_hclust_get_params(const cseg_hclust *h)
{
    return &h->p;
}

/* Apply the first m merges; write per-row (per_leaf == 0) or per-leaf labels
 * numbered by first appearance; *k_out gets the number of clusters. */
static int cut_first(const cseg_hclust *h, size_t m, int per_leaf, int32_t *labels, size_t *k_out)
{
    size_t nl = h->n_leaves, nodes = 2 * nl - 1;
    size_t *parent = malloc(nodes * sizeof *parent);
    int32_t *lab = malloc(nodes * sizeof *lab);
    if (!parent || !lab) {
        free(parent);
        free(lab);
        return CSEG_ENOMEM;
    }
    for (size_t i = 0; i < nodes; i++) {
        parent[i] = i;
        lab[i] = -1;
    }
    for (size_t i = 0; i < m; i++) {
        parent[(size_t)h->Z[4 * i]] = nl + i;
        parent[(size_t)h->Z[4 * i + 1]] = nl + i;
    }
    int32_t next = 0;
    size_t count = per_leaf ? nl : h->n;
    for (size_t r = 0; r < count; r++) {
        size_t root = uf_find(parent, per_leaf ? r : (size_t)h->leaf_of[r]);
        if (lab[root] < 0)
            lab[root] = next++;
        labels[r] = lab[root];
    }
    if (k_out)
        *k_out = (size_t)next;
    free(parent);
    free(lab);
    return 0;
}

/* Merges kept by fcluster(Z, k, 'maxclust'). */
static size_t merges_for_k(const cseg_hclust *h, size_t k)
{
    size_t nl = h->n_leaves, m = nl - k;
    /* Merges tied with the last one made are made too; with none to make
     * (k = the leaves), the merges of identical customers (height 0) still
     * are: a cut never parts identical customers. */
    double t = m == 0 ? 0.0 : h->Z[4 * (m - 1) + 2];
    while (m < nl - 1 && h->Z[4 * m + 2] <= t)
        m++;
    return m;
}

int cseg_hclust_cut_k(const cseg_hclust *h, size_t k, int32_t *labels)
{
    if (!h->Z)
        return CSEG_ENOTFIT;
    if (k < 1 || k > h->n_leaves)
        return CSEG_EINVAL;
    return cut_first(h, merges_for_k(h, k), 0, labels, NULL);
}

int cseg_hclust_leaf_labels_k(const cseg_hclust *h, size_t k, int32_t *labels)
{
    if (!h->Z)
        return CSEG_ENOTFIT;
    if (k < 1 || k > h->n_leaves)
        return CSEG_EINVAL;
    return cut_first(h, merges_for_k(h, k), 1, labels, NULL);
}

int cseg_hclust_cut_height(const cseg_hclust *h, double height, int32_t *labels, size_t *k_out)
{
    if (!h->Z)
        return CSEG_ENOTFIT;
    if (isnan(height))
        return CSEG_EINVAL;
    size_t m = 0;
    while (m < h->n_leaves - 1 && h->Z[4 * m + 2] <= height)
        m++;
    return cut_first(h, m, 0, labels, k_out);
}
