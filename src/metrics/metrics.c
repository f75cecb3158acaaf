/* custseg — cluster validity indices: inertia, Davies-Bouldin,
 * Calinski-Harabasz and the silhouette coefficient.
 *
 * Sums over the rows (sizes, centroids, distances to them) are taken per
 * span of CSEG_KMEANS_SPAN rows and the spans' sums added in span order
 * (internal.h): the plain loop for up to 65,536 rows, and the same bits when
 * the rows are spread over MPI processes (src/mpi/metrics.c).
 *
 * Definitions follow scikit-learn (sklearn.metrics.cluster._unsupervised) so
 * values can be compared to 1e-9: Davies-Bouldin uses the mean Euclidean
 * distance of a cluster's members to its centroid and returns 0 when all those
 * or all centroid distances are (numpy-allclose to) zero; Calinski-Harabasz
 * returns 1 when the within-cluster dispersion is zero.
 *
 * Silhouette. For a sample i in cluster A, a(i) is the mean distance to the
 * other members of A, b(i) the smallest mean distance to the members of
 * another cluster, s(i) = (b - a) / max(a, b), and 0 when A has one member.
 * Samples are sorted by cluster into tiles of 8 (feature-major within a tile,
 * each cluster starting on a tile). Distances are symmetric, so each pair of
 * tiles (I <= J) is computed once as an 8 x 8 block (squared distances by
 * fused multiply-adds, 64 square roots as vector operations: the square roots
 * dominate, n^2 / 2 of them instead of n^2), whose row sums go to the samples
 * of I (for J's cluster) and column sums to the samples of J (for I's
 * cluster). Rows are split into at most SIL_CHUNKS chunks of equal work, a
 * number that depends on n and k only; each chunk adds its column sums into
 * its own buffer, in row order, and the buffers are added in chunk order: a
 * fixed summation order, hence the same result for any thread count.
 * No n x n matrix is ever formed; memory is O(n d + C n k) for the C <= 16
 * column buffers, which are capped at SIL_COL_BUDGET bytes (fewer chunks,
 * so less parallelism, beyond it).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/metrics.h"
#include "../core/internal.h"
#include "../core/simd.h"
#include "internal.h"

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorts the m values of u and keeps one of each (the k returned), then maps
 * each label to its value's place among them (-1 for noise). */
static size_t map_sorted(const int32_t *labels, size_t n, int32_t *u, size_t m, int32_t *out)
{
    qsort(u, m, sizeof *u, cmp_i32);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (k == 0 || u[i] != u[k - 1])
            u[k++] = u[i];
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0) {
            out[i] = -1;
            continue;
        }
        size_t lo = 0, hi = k;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (u[mid] < labels[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        out[i] = (int32_t)lo;
    }
    return k;
}

/* Map labels >= 0 to 0..k-1 (ascending label value); -1 for noise. Labels
 * are usually 0..k-1 already: when the largest is below n + 1024 the
 * values present are marked in a table, in O(n), instead of sorting a copy
 * (qsort was a tenth of the metrics of a million customers). */
static int compact(const int32_t *labels, size_t n, int32_t *out, size_t *k_out)
{
    int32_t top = -1;
    for (size_t i = 0; i < n; i++)
        top = labels[i] > top ? labels[i] : top;
    if ((size_t)top + 1 <= n + 1024) {
        size_t nv = (size_t)top + 1;
        int32_t *map = malloc((nv ? nv : 1) * sizeof *map);
        if (!map)
            return CSEG_ENOMEM;
        for (size_t v = 0; v < nv; v++)
            map[v] = -1;
        for (size_t i = 0; i < n; i++)
            if (labels[i] >= 0)
                map[labels[i]] = 0;
        size_t k = 0;
        for (size_t v = 0; v < nv; v++)
            if (map[v] == 0)
                map[v] = (int32_t)k++;
        for (size_t i = 0; i < n; i++)
            out[i] = labels[i] < 0 ? -1 : map[labels[i]];
        free(map);
        *k_out = k;
        return 0;
    }
    int32_t *u = malloc((n ? n : 1) * sizeof *u);
    if (!u)
        return CSEG_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0)
            u[m++] = labels[i];
    *k_out = map_sorted(labels, n, u, m, out);
    free(u);
    return 0;
}

/* ---- Sums by span (internal.h) ---- */

static size_t n_spans(size_t n)
{
    return (n + CSEG_KMEANS_SPAN - 1) / CSEG_KMEANS_SPAN;
}

/* Every process's failure made every process's, as CSEG_ENOMEM (what fails
 * here is an allocation): a collective step after a failed allocation on one
 * process would wait forever. */
static int agree(const cseg__km_comm *comm, int rc)
{
    if (!comm)
        return rc;
    uint64_t bad = rc < 0;
    if (comm->sum(comm->ctx, &bad, 1) < 0)
        return CSEG_EIO;
    return bad ? CSEG_ENOMEM : rc;
}

/* A sum of m values over the rows, span by span: fill adds rows [i0, i1)
 * of one span into part (m values, from zero), and the spans' parts are
 * added in span order into out, the first as it is (m zeros without rows).
 * One process folds each span into out as it ends, so it keeps one span's
 * part; with comm, every process's spans are gathered first (room for all
 * of them on every process), then added in the same order: the same bits. */
typedef void (*span_fill)(void *ctx, size_t i0, size_t i1, double *part);

/* out = x (the first span) or out + x, value by value. */
static void fold(double *out, const double *x, size_t m, int first)
{
    for (size_t j = 0; j < m; j++)
        out[j] = first ? x[j] : out[j] + x[j];
}

static int span_sum(const cseg__km_comm *comm, size_t n, size_t m, span_fill fill, void *ctx,
                    double *out)
{
    size_t ns = n_spans(n), mine = comm ? ns : 1, a, c = 0;
    if (cseg__mul(mine ? mine : 1, m ? m : 1, &a) ||
        (comm && cseg__mul(n_spans(comm->n_all) ? n_spans(comm->n_all) : 1, m ? m : 1, &c)))
        return agree(comm, CSEG_ETOOBIG);
    double *part = cseg__calloc(a, sizeof *part), *all = comm ? malloc(c * sizeof *all) : NULL;
    int rc = agree(comm, part && (!comm || all) ? 0 : CSEG_ENOMEM);
    size_t total = 0; /* with comm: every process's span values */
    if (rc == 0)
        memset(out, 0, m * sizeof *out);
    for (size_t sp = 0; sp < ns && rc == 0; sp++) {
        double *ps = comm ? part + sp * m : part;
        if (!comm && sp > 0)
            memset(ps, 0, m * sizeof *ps);
        size_t i0 = sp * CSEG_KMEANS_SPAN;
        fill(ctx, i0, i0 + CSEG_KMEANS_SPAN < n ? i0 + CSEG_KMEANS_SPAN : n, ps);
        if (!comm) /* span by span, as it ends */
            fold(out, ps, m, sp == 0);
    }
    if (rc == 0 && comm && (rc = comm->allgatherv(comm->ctx, part, ns * m, all, &total)) == 0)
        for (size_t sp = 0; sp < total / m; sp++)
            fold(out, all + sp * m, m, sp == 0);
    free(part);
    free(all);
    return rc;
}

/* The labels >= 0 of every process mapped to 0..k-1 in ascending label
 * value, as compact does for one process's: the distinct values of each
 * process gathered, merged, and each label found among them. */
static int compact_all(const cseg__km_comm *comm, const int32_t *labels, size_t n, int32_t *out,
                       size_t *k_out)
{
    int rc = compact(labels, n, out, k_out);
    if (!comm || (rc = agree(comm, rc)) < 0)
        return rc;
    /* This process's distinct labels, ascending: the first label of each
     * compacted value. */
    size_t k = *k_out, total = 0;
    double *mine = malloc((k ? k : 1) * sizeof *mine), *all = NULL;
    uint64_t sum_k = k;
    rc = mine ? 0 : CSEG_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (out[i] >= 0)
            mine[out[i]] = labels[i];
    if ((rc = agree(comm, rc)) < 0 || (rc = comm->sum(comm->ctx, &sum_k, 1)) < 0)
        goto out;
    all = malloc((sum_k ? sum_k : 1) * sizeof *all);
    if ((rc = agree(comm, all ? 0 : CSEG_ENOMEM)) < 0 ||
        (rc = comm->allgatherv(comm->ctx, mine, k, all, &total)) < 0)
        goto out;
    int32_t *u = malloc((total ? total : 1) * sizeof *u); /* the same on every process */
    if ((rc = agree(comm, u ? 0 : CSEG_ENOMEM)) == 0) {
        for (size_t i = 0; i < total; i++)
            u[i] = (int32_t)all[i];
        *k_out = map_sorted(labels, n, u, total, out);
    }
    free(u);
out:
    free(mine);
    free(all);
    return rc;
}

/* Compacted labels, cluster sizes and centroids (of all processes'
 * rows when comm is given). */
typedef struct clusters {
    int32_t *lab;
    size_t k, m; /* clusters, samples not noise */
    double *size;
    double *mean; /* k x d */
} clusters;

static void clusters_free(clusters *c)
{
    free(c->lab);
    free(c->size);
    free(c->mean);
}

/* The rows a span sum reads, and what each sum adds per row. */
typedef struct sums_ctx {
    const double *X;
    size_t d;
    const int32_t *lab;
    size_t k;
    const double *mean; /* k x d: the cluster means, for the distances */
} sums_ctx;

/* Cluster sizes (k), then their sums (k x d). */
static void fill_sums(void *ctx, size_t i0, size_t i1, double *part)
{
    const sums_ctx *c = ctx;
    for (size_t i = i0; i < i1; i++) {
        if (c->lab[i] < 0)
            continue;
        size_t a = (size_t)c->lab[i];
        part[a] += 1;
        for (size_t j = 0; j < c->d; j++)
            part[c->k + a * c->d + j] += c->X[i * c->d + j];
    }
}

/* The squared distances of the rows to their cluster means (1 value). */
static void fill_within(void *ctx, size_t i0, size_t i1, double *part)
{
    const sums_ctx *c = ctx;
    for (size_t i = i0; i < i1; i++) {
        if (c->lab[i] < 0)
            continue;
        const double *mu = c->mean + (size_t)c->lab[i] * c->d;
        for (size_t j = 0; j < c->d; j++) {
            double e = c->X[i * c->d + j] - mu[j];
            *part += e * e;
        }
    }
}

/* The rows' sum (d values). */
static void fill_total(void *ctx, size_t i0, size_t i1, double *part)
{
    const sums_ctx *c = ctx;
    for (size_t i = i0; i < i1; i++)
        if (c->lab[i] >= 0)
            for (size_t j = 0; j < c->d; j++)
                part[j] += c->X[i * c->d + j];
}

/* The distances of the rows to their cluster means, by cluster (k values). */
static void fill_spread(void *ctx, size_t i0, size_t i1, double *part)
{
    const sums_ctx *c = ctx;
    for (size_t i = i0; i < i1; i++) {
        if (c->lab[i] < 0)
            continue;
        const double *mu = c->mean + (size_t)c->lab[i] * c->d;
        double s = 0;
        for (size_t j = 0; j < c->d; j++) {
            double e = c->X[i * c->d + j] - mu[j];
            s += e * e;
        }
        part[(size_t)c->lab[i]] += sqrt(s);
    }
}

static int clusters_make(const double *X, size_t n, size_t d, const int32_t *labels,
                         const cseg__km_comm *comm, clusters *c, size_t min_k)
{
    memset(c, 0, sizeof *c);
    c->lab = malloc((n ? n : 1) * sizeof *c->lab);
    int rc = agree(comm, c->lab ? 0 : CSEG_ENOMEM);
    if (rc < 0 || (rc = compact_all(comm, labels, n, c->lab, &c->k)) < 0)
        return rc;
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += c->lab[i] >= 0;
    if (comm && (rc = comm->sum(comm->ctx, &m, 1)) < 0)
        return rc;
    c->m = (size_t)m;
    if (c->k < min_k || c->k >= c->m + (min_k == 2 ? 0 : 1))
        return CSEG_EINVAL;
    size_t kd, w;
    if (cseg__mul(c->k, d, &kd) || cseg__mul(c->k, d + 1, &w))
        return CSEG_ETOOBIG;
    c->size = cseg__calloc(c->k, sizeof *c->size);
    c->mean = cseg__calloc(kd, sizeof *c->mean);
    double *tot = malloc((w ? w : 1) * sizeof *tot);
    if ((rc = agree(comm, c->size && c->mean && tot ? 0 : CSEG_ENOMEM)) < 0)
        goto out;
    /* Per span: the k sizes, then the k x d sums. */
    sums_ctx sc = {X, d, c->lab, c->k, NULL};
    if ((rc = span_sum(comm, n, w, fill_sums, &sc, tot)) < 0)
        goto out;
    memcpy(c->size, tot, c->k * sizeof *tot);
    for (size_t a = 0; a < c->k; a++)
        for (size_t j = 0; j < d; j++)
            c->mean[a * d + j] = tot[c->k + a * d + j] / c->size[a];
out:
    free(tot);
    return rc;
}

/* Sum of squared distances of the non-noise samples to their cluster means. */
static int within_ss(const double *X, size_t n, size_t d, const clusters *c,
                     const cseg__km_comm *comm, double *out)
{
    sums_ctx sc = {X, d, c->lab, c->k, c->mean};
    return span_sum(comm, n, 1, fill_within, &sc, out);
}

int cseg_metrics_inertia(const double *X, size_t n, size_t d, const int32_t *labels,
                         double *out)
{
    return cseg__metrics_inertia_split(X, n, d, labels, NULL, out);
}

int cseg__metrics_inertia_split(const double *X, size_t n, size_t d, const int32_t *labels,
                                const cseg__km_comm *comm, double *out)
{
    clusters c;
    int rc = clusters_make(X, n, d, labels, comm, &c, 1);
    if (rc == 0)
        rc = within_ss(X, n, d, &c, comm, out);
    clusters_free(&c);
    return rc;
}

int cseg__metrics_calinski_harabasz_split(const double *X, size_t n, size_t d,
                                          const int32_t *labels, const cseg__km_comm *comm,
                                          double *out)
{
    clusters c;
    int rc = clusters_make(X, n, d, labels, comm, &c, 2);
    double *mean = NULL;
    if (rc < 0)
        goto out;
    mean = cseg__calloc(d, sizeof *mean);
    if ((rc = agree(comm, mean ? 0 : CSEG_ENOMEM)) < 0)
        goto out;
    sums_ctx sc = {X, d, c.lab, c.k, NULL};
    if ((rc = span_sum(comm, n, d, fill_total, &sc, mean)) < 0)
        goto out;
    for (size_t j = 0; j < d; j++)
        mean[j] /= (double)c.m;
    double extra = 0, intra = 0;
    for (size_t a = 0; a < c.k; a++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            double e = c.mean[a * d + j] - mean[j];
            s += e * e;
        }
        extra += c.size[a] * s;
    }
    if ((rc = within_ss(X, n, d, &c, comm, &intra)) < 0)
        goto out;
    *out = intra == 0 ? 1.0
                      : extra * ((double)c.m - (double)c.k) / (intra * ((double)c.k - 1.0));
out:
    free(mean);
    clusters_free(&c);
    return rc;
}

int cseg_metrics_calinski_harabasz(const double *X, size_t n, size_t d, const int32_t *labels,
                                   double *out)
{
    return cseg__metrics_calinski_harabasz_split(X, n, d, labels, NULL, out);
}

int cseg__metrics_davies_bouldin_split(const double *X, size_t n, size_t d, const int32_t *labels,
                                       const cseg__km_comm *comm, double *out)
{
    clusters c;
    int rc = clusters_make(X, n, d, labels, comm, &c, 2);
    double *intra = NULL;
    if (rc < 0)
        goto out;
    intra = malloc(c.k * sizeof *intra);
    if ((rc = agree(comm, intra ? 0 : CSEG_ENOMEM)) < 0)
        goto out;
    sums_ctx sc = {X, d, c.lab, c.k, c.mean};
    if ((rc = span_sum(comm, n, c.k, fill_spread, &sc, intra)) < 0)
        goto out;
    int intra_zero = 1, cd_zero = 1;
    for (size_t a = 0; a < c.k; a++) {
        intra[a] /= c.size[a];
        intra_zero &= fabs(intra[a]) <= 1e-8;
    }
    /* Centroid distances pair by pair, never as a k x k matrix: memory O(k)
     * however many labels (issue 16.7). */
    double total = 0;
    for (size_t a = 0; a < c.k; a++) {
        double best = -HUGE_VAL;
        for (size_t bb = 0; bb < c.k; bb++) {
            double s = 0;
            for (size_t j = 0; j < d; j++) {
                double e = c.mean[a * d + j] - c.mean[bb * d + j];
                s += e * e;
            }
            double cd = sqrt(s);
            cd_zero &= cd <= 1e-8;
            double dist = cd == 0 ? HUGE_VAL : cd;
            double r = (intra[a] + intra[bb]) / dist;
            if (r > best)
                best = r;
        }
        total += best;
    }
    if (intra_zero || cd_zero) {
        *out = 0;
        goto out;
    }
    *out = total / (double)c.k;
out:
    free(intra);
    clusters_free(&c);
    return rc;
}

int cseg_metrics_davies_bouldin(const double *X, size_t n, size_t d, const int32_t *labels,
                                double *out)
{
    return cseg__metrics_davies_bouldin_split(X, n, d, labels, NULL, out);
}

void cseg_silhouette_params_init(cseg_silhouette_params *p)
{
    p->sample_size = 0;
    p->seed = 0;
    p->n_threads = 0;
}

/* The silhouette's distance sums for row tile I, using symmetry: each pair of
 * tiles (I, J >= I) is computed once, an 8 x 8 block of distances (one fused
 * multiply-add per feature, one vector square root per row). Row sums, over
 * J in order, per lane, go to R (tile x cluster x lane: sample i of I, the
 * cluster of J), each (I, cluster) written once; column sums (J > I), over
 * the valid rows i of I in order, are added to col, this chunk's own buffer
 * (sample j of J, the cluster of I). The blocks of a row are visited in one
 * fixed order and each chunk of rows owns its column buffer, so every sum has
 * the same operations in the same order for any thread count. */
CSEG_HOT static void sil_row(const double *Xt, size_t d, size_t k, size_t I, size_t n_tiles,
                             const size_t *tcl, const size_t *tvl, double *R, double *col)
{
    size_t ci = tcl[I], vi = tvl[I], b = ci;
    const double *xi = Xt + I * 8 * d;
    v8d rowv[8];
    for (int i = 0; i < 8; i++)
        rowv[i] = (v8d)CSEG_V8Z;
    for (size_t J = I; J < n_tiles; J++) {
        if (tcl[J] != b) {
            for (size_t i = 0; i < vi; i++) {
                R[(I * k + b) * 8 + i] = lanes_sum(&rowv[i]);
                rowv[i] = (v8d)CSEG_V8Z;
            }
            b = tcl[J];
        }
        const double *xj = Xt + J * 8 * d;
        v8d D[8];
        for (int i = 0; i < 8; i++)
            D[i] = (v8d)CSEG_V8Z;
        for (size_t f = 0; f < d; f++) {
            v8d xv;
            memcpy(&xv, xj + f * 8, sizeof xv);
            for (size_t i = 0; i < 8; i++) {
                v8d e = xi[f * 8 + i] - xv;
                vsq_acc(&D[i], &e);
            }
        }
        v8l valid;
        for (long long l = 0; l < 8; l++)
            valid[l] = (size_t)l < tvl[J] ? -1 : 0; /* padding lanes of J add nothing */
        /* The 64 square roots as one loop over a buffer: vector square roots
         * (per-vector calls are left scalar by GCC). */
        double buf[64];
        memcpy(buf, D, sizeof buf);
        for (size_t q = 0; q < 64; q++)
            buf[q] = sqrt(buf[q]);
        memcpy(D, buf, sizeof buf);
        v8d cv = CSEG_V8Z;
        for (size_t i = 0; i < 8; i++) {
            D[i] = (v8d)((v8l)D[i] & valid);
            rowv[i] += D[i];
            if (i < vi)
                cv += D[i];
        }
        if (J > I) {
            v8d cs;
            double *cell = col + (J * k + ci) * 8;
            memcpy(&cs, cell, sizeof cs);
            cs += cv;
            memcpy(cell, &cs, sizeof cs);
        }
    }
    for (size_t i = 0; i < vi; i++)
        R[(I * k + b) * 8 + i] = lanes_sum(&rowv[i]);
}

/* Column buffers: SIL_CHUNKS chunks of rows of about equal work, fewer if
 * their buffers would pass SIL_COL_BUDGET bytes. Depends on n and k only. */
#define SIL_CHUNKS 16
#define SIL_COL_BUDGET ((size_t)128 << 20)
/* Above this many bytes of tile sums (many small clusters), row by row. */
#define SIL_TILE_BUDGET ((size_t)256 << 20)

/* The silhouette of each of m samples (rows idx[] of X, clusters lab[] with
 * cnt[] members) from its distances to every other sample, summed per
 * cluster in a fixed order: the same values for any thread count. */
static int sil_rows(const double *X, size_t d, const size_t *idx, const int32_t *lab, size_t m,
                    size_t k, const size_t *cnt, double *sil, int n_threads)
{
    int nt = cseg__threads(n_threads), oom = 0;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel num_threads(nt) default(none) shared(X, d, idx, lab, m, k, cnt, sil, oom)
    {
        double *S = malloc(k * sizeof *S);
        if (!S) {
#pragma omp atomic write
            oom = 1;
        }
#pragma omp for schedule(dynamic, 64)
        for (size_t t = 0; t < m; t++) {
            if (!S) {
                sil[t] = NAN;
                continue;
            }
            size_t own = (size_t)lab[t];
            if (cnt[own] <= 1) {
                sil[t] = 0;
                continue;
            }
            memset(S, 0, k * sizeof *S);
            const double *x = X + idx[t] * d;
            for (size_t u = 0; u < m; u++) {
                const double *y = X + idx[u] * d;
                double s = 0;
                for (size_t f = 0; f < d; f++)
                    s = fma(x[f] - y[f], x[f] - y[f], s);
                S[lab[u]] += sqrt(s);
            }
            double ai = S[own] / (double)(cnt[own] - 1), bi = HUGE_VAL;
            for (size_t a = 0; a < k; a++)
                if (a != own && S[a] / (double)cnt[a] < bi)
                    bi = S[a] / (double)cnt[a];
            double mx = ai > bi ? ai : bi;
            sil[t] = mx > 0 ? (bi - ai) / mx : 0;
        }
        free(S);
    }
    return oom ? CSEG_ENOMEM : 0;
}

int cseg_metrics_silhouette(const double *X, size_t n, size_t d, const int32_t *labels,
                            const cseg_silhouette_params *p, double *score, double *per_sample)
{
    cseg_silhouette_params defaults;
    int rc = 0;
    size_t *idx = NULL, *off = NULL, *pos = NULL, *cnt = NULL;
    int32_t *lab = NULL, *sl = NULL;
    double *Xt = NULL, *sil = NULL, *R = NULL, *col = NULL;
    size_t *tcl = NULL, *tvl = NULL, *cstart = NULL;
    if (!p) {
        cseg_silhouette_params_init(&defaults);
        p = &defaults;
    }
    /* Rows taken into account: all non-noise rows, or a sample of them. */
    idx = malloc((n ? n : 1) * sizeof *idx);
    lab = malloc((n ? n : 1) * sizeof *lab);
    if (!idx || !lab) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0)
            idx[m++] = i;
    if (p->sample_size > 0 && p->sample_size < m) {
        /* The sample's positions among the non-noise rows, then the rows
         * (in place: position t's row is at or after t). */
        size_t *at = malloc(p->sample_size * sizeof *at);
        if (!at || (rc = cseg__sample_sorted(m, p->sample_size, p->seed, at)) < 0) {
            free(at);
            rc = rc < 0 ? rc : CSEG_ENOMEM;
            goto out;
        }
        m = p->sample_size;
        for (size_t t = 0; t < m; t++)
            idx[t] = idx[at[t]];
        free(at);
    }
    if (!(sl = cseg__calloc(m, sizeof *sl))) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    for (size_t t = 0; t < m; t++)
        sl[t] = labels[idx[t]];
    size_t k;
    if ((rc = compact(sl, m, lab, &k)) < 0)
        goto out;
    if (k < 2 || k >= m) {
        rc = CSEG_EINVAL;
        goto out;
    }
    /* Counting sort by cluster into tiles of 8 samples; each cluster starts
     * on a tile. off[a]: first tile of cluster a; cnt[a]: its size. */
    off = cseg__calloc(k + 1, sizeof *off);
    cnt = cseg__calloc(k, sizeof *cnt);
    pos = malloc(m * sizeof *pos);
    sil = malloc(m * sizeof *sil);
    if (!off || !cnt || !pos || !sil) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    for (size_t t = 0; t < m; t++)
        cnt[lab[t]]++;
    for (size_t a = 0; a < k; a++)
        off[a + 1] = off[a] + (cnt[a] + 7) / 8;
    if (!(Xt = cseg__alloc_aligned(off[k] * 8, d * sizeof *Xt))) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    memset(Xt, 0, off[k] * 8 * d * sizeof *Xt);
    {
        size_t *next = cseg__calloc(k, sizeof *next);
        if (!next) {
            rc = CSEG_ENOMEM;
            goto out;
        }
        for (size_t t = 0; t < m; t++) {
            size_t a = (size_t)lab[t], r = next[a]++;
            pos[t] = (off[a] + r / 8) * 8 + r % 8; /* tile slot */
        }
        free(next);
    }
    for (size_t t = 0; t < m; t++)
        for (size_t f = 0; f < d; f++)
            Xt[pos[t] / 8 * 8 * d + f * 8 + pos[t] % 8] = X[idx[t] * d + f];
    size_t n_tiles = off[k], slots;
    if (cseg__mul(n_tiles * 8, k, &slots) || slots > SIL_TILE_BUDGET / (2 * sizeof(double))) {
        /* Many clusters of few samples: the per-tile, per-cluster sums would
         * grow with k^2 (every cluster starts a tile). Row by row instead:
         * the same O(m^2 d) time, O(k) memory a thread. */
        if ((rc = sil_rows(X, d, idx, lab, m, k, cnt, sil, p->n_threads)) < 0)
            goto out;
        goto total;
    }
    size_t n_chunks = SIL_CHUNKS;
    while (n_chunks > 1 && slots * n_chunks > SIL_COL_BUDGET / sizeof(double))
        n_chunks--;
    tcl = malloc(n_tiles * sizeof *tcl);
    tvl = malloc(n_tiles * sizeof *tvl);
    cstart = malloc((n_chunks + 1) * sizeof *cstart);
    R = cseg__calloc(slots, sizeof *R);
    col = cseg__calloc(slots * n_chunks, sizeof *col); /* slots * n_chunks <= budget */
    if (!tcl || !tvl || !cstart || !R || !col) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    for (size_t a = 0; a < k; a++)
        for (size_t T = off[a]; T < off[a + 1]; T++) {
            tcl[T] = a;
            tvl[T] = T + 1 < off[a + 1] || cnt[a] % 8 == 0 ? 8 : cnt[a] % 8;
        }
    {
        /* Row I costs n_tiles - I blocks: chunk boundaries at equal shares. */
        double total_w = (double)n_tiles * (double)(n_tiles + 1) / 2, acc = 0;
        size_t c = 0;
        cstart[0] = 0;
        for (size_t I = 0; I < n_tiles && c + 1 < n_chunks; I++) {
            acc += (double)(n_tiles - I);
            if (acc >= total_w * (double)(c + 1) / (double)n_chunks)
                cstart[++c] = I + 1;
        }
        while (c < n_chunks)
            cstart[++c] = n_tiles;
    }
    int nt = cseg__threads(p->n_threads);
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) default(none)                     \
    shared(Xt, d, k, n_tiles, tcl, tvl, R, col, cstart, n_chunks, slots) if (m >= 512)
    for (size_t c = 0; c < n_chunks; c++)
        for (size_t I = cstart[c]; I < cstart[c + 1]; I++)
            sil_row(Xt, d, k, I, n_tiles, tcl, tvl, R, col + c * slots);
    for (size_t t = 0; t < m; t++) {
        size_t own = (size_t)lab[t], n_own = cnt[own], T = pos[t] / 8, l = pos[t] % 8;
        if (n_own <= 1) {
            sil[t] = 0;
            continue;
        }
        double ai = 0, bi = HUGE_VAL;
        for (size_t a = 0; a < k; a++) {
            size_t cell = (T * k + a) * 8 + l;
            double S = R[cell];
            for (size_t c = 0; c < n_chunks; c++)
                S += col[c * slots + cell];
            if (a == own) {
                ai = S / (double)(n_own - 1);
            } else {
                double v = S / (double)cnt[a];
                if (v < bi)
                    bi = v;
            }
        }
        double mx = ai > bi ? ai : bi;
        sil[t] = mx > 0 ? (bi - ai) / mx : 0;
    }
    if (rc < 0)
        goto out;
total:;
    double total = 0;
    for (size_t t = 0; t < m; t++)
        total += sil[t];
    *score = total / (double)m;
    if (per_sample) {
        for (size_t i = 0; i < n; i++)
            per_sample[i] = NAN;
        for (size_t t = 0; t < m; t++)
            per_sample[idx[t]] = sil[t];
    }
out:
    free(idx);
    free(lab);
    free(sl);
    free(off);
    free(cnt);
    free(pos);
    cseg__free_aligned(Xt);
    free(sil);
    free(tcl);
    free(tvl);
    free(cstart);
    free(R);
    free(col);
    return rc;
}
