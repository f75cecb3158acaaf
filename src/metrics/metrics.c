/* custseg — cluster validity indices: inertia, Davies-Bouldin,
 * Calinski-Harabasz and the silhouette coefficient.
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
 * each cluster starting on a tile), so the distances from i to 8 members of
 * a cluster are one vector computation: squared distances, square roots and
 * sums in 8 fixed lanes (a fixed summation order, hence thread-count
 * independent).
 * No n x n matrix is ever formed; memory is O(n d).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/metrics.h"
#include "../core/internal.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CSEG_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CSEG_HOT
#endif


static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Map labels >= 0 to 0..k-1 (ascending label value); -1 for noise. */
static int compact(const int32_t *labels, size_t n, int32_t *out, size_t *k_out)
{
    int32_t *u = malloc((n ? n : 1) * sizeof *u);
    if (!u)
        return CSEG_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0)
            u[m++] = labels[i];
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
    free(u);
    *k_out = k;
    return 0;
}

/* Compacted labels, cluster sizes and centroids. */
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

static int clusters_make(const double *X, size_t n, size_t d, const int32_t *labels,
                         clusters *c, size_t min_k)
{
    memset(c, 0, sizeof *c);
    c->lab = malloc((n ? n : 1) * sizeof *c->lab);
    if (!c->lab)
        return CSEG_ENOMEM;
    int rc = compact(labels, n, c->lab, &c->k);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        c->m += c->lab[i] >= 0;
    if (c->k < min_k || c->k >= c->m + (min_k == 2 ? 0 : 1))
        return CSEG_EINVAL;
    size_t kd;
    if (cseg__mul(c->k, d, &kd))
        return CSEG_ETOOBIG;
    c->size = cseg__calloc(c->k, sizeof *c->size);
    c->mean = cseg__calloc(kd, sizeof *c->mean);
    if (!c->size || !c->mean)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (c->lab[i] < 0)
            continue;
        size_t a = (size_t)c->lab[i];
        c->size[a] += 1;
        for (size_t j = 0; j < d; j++)
            c->mean[a * d + j] += X[i * d + j];
    }
    for (size_t a = 0; a < c->k; a++)
        for (size_t j = 0; j < d; j++)
            c->mean[a * d + j] /= c->size[a];
    return 0;
}

/* Sum of squared distances of the non-noise samples to their cluster means. */
static double within_ss(const double *X, size_t n, size_t d, const clusters *c)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (c->lab[i] < 0)
            continue;
        const double *mu = c->mean + (size_t)c->lab[i] * d;
        for (size_t j = 0; j < d; j++) {
            double e = X[i * d + j] - mu[j];
            s += e * e;
        }
    }
    return s;
}

int cseg_metrics_inertia(const double *X, size_t n, size_t d, const int32_t *labels,
                         double *out)
{
    clusters c;
    int rc = clusters_make(X, n, d, labels, &c, 1);
    if (rc == 0)
        *out = within_ss(X, n, d, &c);
    clusters_free(&c);
    return rc;
}

int cseg_metrics_calinski_harabasz(const double *X, size_t n, size_t d, const int32_t *labels,
                                   double *out)
{
    clusters c;
    int rc = clusters_make(X, n, d, labels, &c, 2);
    double *mean = NULL;
    if (rc < 0)
        goto out;
    if (!(mean = cseg__calloc(d, sizeof *mean))) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (c.lab[i] >= 0)
            for (size_t j = 0; j < d; j++)
                mean[j] += X[i * d + j];
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
    intra = within_ss(X, n, d, &c);
    *out = intra == 0 ? 1.0
                      : extra * ((double)c.m - (double)c.k) / (intra * ((double)c.k - 1.0));
out:
    free(mean);
    clusters_free(&c);
    return rc;
}

int cseg_metrics_davies_bouldin(const double *X, size_t n, size_t d, const int32_t *labels,
                                double *out)
{
    clusters c;
    int rc = clusters_make(X, n, d, labels, &c, 2);
    double *intra = NULL, *cd = NULL;
    if (rc < 0)
        goto out;
    intra = cseg__calloc(c.k, sizeof *intra);
    cd = cseg__calloc(c.k * c.k, sizeof *cd);
    if (!intra || !cd) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (c.lab[i] < 0)
            continue;
        const double *mu = c.mean + (size_t)c.lab[i] * d;
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            double e = X[i * d + j] - mu[j];
            s += e * e;
        }
        intra[c.lab[i]] += sqrt(s);
    }
    int intra_zero = 1, cd_zero = 1;
    for (size_t a = 0; a < c.k; a++) {
        intra[a] /= c.size[a];
        intra_zero &= fabs(intra[a]) <= 1e-8;
        for (size_t b = 0; b < c.k; b++) {
            double s = 0;
            for (size_t j = 0; j < d; j++) {
                double e = c.mean[a * d + j] - c.mean[b * d + j];
                s += e * e;
            }
            cd[a * c.k + b] = sqrt(s);
            cd_zero &= cd[a * c.k + b] <= 1e-8;
        }
    }
    if (intra_zero || cd_zero) {
        *out = 0;
        goto out;
    }
    double total = 0;
    for (size_t a = 0; a < c.k; a++) {
        double best = -HUGE_VAL;
        for (size_t b = 0; b < c.k; b++) {
            double dist = cd[a * c.k + b] == 0 ? HUGE_VAL : cd[a * c.k + b];
            double r = (intra[a] + intra[b]) / dist;
            if (r > best)
                best = r;
        }
        total += best;
    }
    *out = total / (double)c.k;
out:
    free(intra);
    free(cd);
    clusters_free(&c);
    return rc;
}

void cseg_silhouette_params_init(cseg_silhouette_params *p)
{
    p->sample_size = 0;
    p->seed = 0;
    p->n_threads = 0;
}

typedef double v8d __attribute__((vector_size(64)));

/* Sum of Euclidean distances from xi to the n samples stored in tiles
 * [t0, t0 + ceil(n / 8)) of Xt (each tile d x 8, feature-major; padding lanes
 * in a cluster's last tile are excluded). Squared distances go to a buffer
 * 32 tiles at a time, then square roots and sums run as one vector loop over
 * the buffer into 8 fixed lanes, added in a fixed order at the end. */
#define SIL_RUN 32
CSEG_HOT static double dist_sum(const double *xi, const double *Xt, size_t d, size_t t0, size_t n)
{
    double buf[SIL_RUN * 8];
    double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t nt = (n + 7) / 8;
    for (size_t r0 = 0; r0 < nt; r0 += SIL_RUN) {
        size_t rn = nt - r0 < SIL_RUN ? nt - r0 : SIL_RUN;
        for (size_t t = 0; t < rn; t++) {
            const double *tile = Xt + (t0 + r0 + t) * 8 * d;
            v8d acc = {0, 0, 0, 0, 0, 0, 0, 0};
            for (size_t f = 0; f < d; f++) {
                v8d xv;
                memcpy(&xv, tile + f * 8, sizeof xv);
                v8d e = xi[f] - xv;
                acc += e * e;
            }
            memcpy(buf + t * 8, &acc, sizeof acc);
        }
        size_t valid = (r0 + rn) * 8 > n ? n - r0 * 8 : rn * 8;
        for (size_t t = valid; t < rn * 8; t++)
            buf[t] = 0; /* padding lanes: sqrt(0) adds nothing */
        for (size_t t = 0; t < rn * 8; t += 8)
            for (size_t l = 0; l < 8; l++)
                part[l] += sqrt(buf[t + l]);
    }
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

int cseg_metrics_silhouette(const double *X, size_t n, size_t d, const int32_t *labels,
                            const cseg_silhouette_params *p, double *score, double *per_sample)
{
    cseg_silhouette_params defaults;
    int rc = 0;
    size_t *idx = NULL, *off = NULL, *pos = NULL, *cnt = NULL;
    int32_t *lab = NULL, *sl = NULL;
    double *Xt = NULL, *sil = NULL;
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
        /* Partial Fisher-Yates, then back to row order. */
        cseg_rng rng;
        cseg__rng_seed(&rng, p->seed);
        for (size_t t = 0; t < p->sample_size; t++) {
            size_t r = t + cseg__rng_below(&rng, m - t);
            size_t tmp = idx[t];
            idx[t] = idx[r];
            idx[r] = tmp;
        }
        m = p->sample_size;
        qsort(idx, m, sizeof *idx, cmp_size);
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
            pos[t] = (off[a] + r / 8) * 8 * d + r % 8;
        }
        free(next);
    }
    for (size_t t = 0; t < m; t++)
        for (size_t f = 0; f < d; f++)
            Xt[pos[t] + f * 8] = X[idx[t] * d + f];
    int nt = cseg__threads(p->n_threads);
#pragma omp parallel num_threads(nt) default(none) shared(X, idx, lab, off, cnt, Xt, sil, m, d, k, rc) \
    if (m >= 512)
    {
        double *S = malloc(k * sizeof *S);
        double *xi = malloc(d * sizeof *xi);
        if (!S || !xi) {
#pragma omp atomic write
            rc = CSEG_ENOMEM;
        }
#pragma omp for schedule(dynamic, 16)
        for (size_t t = 0; t < m; t++) {
            if (!S || !xi)
                continue;
            for (size_t f = 0; f < d; f++)
                xi[f] = X[idx[t] * d + f];
            size_t own = (size_t)lab[t];
            for (size_t a = 0; a < k; a++)
                S[a] = dist_sum(xi, Xt, d, off[a], cnt[a]);
            size_t n_own = cnt[own];
            if (n_own <= 1) {
                sil[t] = 0;
                continue;
            }
            double ai = S[own] / (double)(n_own - 1), bi = HUGE_VAL;
            for (size_t a = 0; a < k; a++)
                if (a != own) {
                    double v = S[a] / (double)cnt[a];
                    if (v < bi)
                        bi = v;
                }
            double mx = ai > bi ? ai : bi;
            sil[t] = mx > 0 ? (bi - ai) / mx : 0;
        }
        free(S);
        free(xi);
    }
    if (rc < 0)
        goto out;
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
    return rc;
}
