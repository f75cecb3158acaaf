/* custseg — the clustering step of the pipeline: one algorithm (k-means, a
 * hierarchical linkage, DBSCAN or a Gaussian mixture) fitted on the
 * model-space matrix for every candidate k, each candidate scored
 * (silhouette, Davies-Bouldin, Calinski-Harabasz, inertia, BIC for mixtures),
 * one chosen by the algorithm's rule (include/custseg/segment.h), and the
 * chosen one installed in a cseg_model with its segments renumbered. Every
 * prediction for new rows goes through cseg_model_predict. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/internal.h"
#include "../metrics/internal.h"
#include "custseg/metrics.h"
#include "internal.h"

#define SIL_EXACT_MAX 20000
#define EPS_QUERIES 100000

size_t cseg__sil_sample(const cseg_segment_params *p, size_t n)
{
    if (p->silhouette_sample != CSEG_SAMPLE_AUTO)
        return p->silhouette_sample && p->silhouette_sample < n ? p->silhouette_sample : 0;
    return n > SIL_EXACT_MAX ? SIL_EXACT_MAX : 0;
}

size_t cseg__min_samples(const cseg_segment_params *p, size_t d)
{
    if (p->min_samples)
        return p->min_samples;
    return 2 * d > 4 ? 2 * d : 4;
}

int cseg__progress(const cseg_segment_params *p, cseg_stage stage, size_t k, size_t done,
                   size_t total, size_t n, size_t d)
{
    if (!p->progress)
        return 0;
    cseg_progress pr = {stage, cseg_algo_label(p->algo, p->linkage), k, done, total, n, d, NULL};
    return p->progress(&pr, p->progress_user) ? CSEG_ECANCELED : 0;
}

void cseg__log(const cseg_segment_params *p, cseg_log_level level, const char *fmt, ...)
{
    if (!p->log)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    p->log(level, buf, p->log_user);
}

/* Elbow by the kneedle difference on normalised inertia: the candidate whose
 * point lies furthest below the chord from the first to the last k. */
static size_t elbow_index(const cseg__cand *c, size_t m)
{
    if (m < 3)
        return (size_t)-1;
    double y0 = c[0].c.inertia, y1 = c[m - 1].c.inertia;
    if (!(y0 > y1))
        return (size_t)-1;
    size_t best = (size_t)-1;
    double bestv = 0;
    for (size_t i = 0; i < m; i++) {
        double x = (double)i / (double)(m - 1);
        double y = (c[i].c.inertia - y1) / (y0 - y1);
        double diff = 1 - x - y;
        if (diff > bestv + 1e-12) {
            bestv = diff;
            best = i;
        }
    }
    return best;
}

/* Scores of one labelling (labels < 0: noise, left out of every index);
 * split: the rows of every piece, n here (an index that fails is NaN on
 * every piece alike: the split functions agree on their codes). */
static void score(const cseg_segment_params *p, const double *Z, size_t n, size_t d, cseg__cand *cd,
                  const cseg__seg_split *split)
{
    cseg_candidate *c = &cd->c;
    const cseg__km_comm *km = split ? split->km : NULL;
    size_t kc = c->n_clusters, n_all = split ? km->n_all : n;
    c->silhouette = c->davies_bouldin = c->calinski_harabasz = NAN;
    if (cseg__metrics_inertia_split(Z, n, d, cd->labels, km, &c->inertia) < 0)
        c->inertia = NAN;
    if (kc >= 2 && kc < n_all - c->n_noise) {
        cseg_silhouette_params sp;
        cseg_silhouette_params_init(&sp);
        sp.n_threads = p->n_threads;
        sp.seed = p->seed;
        sp.sample_size = cseg__sil_sample(p, n_all);
        if ((split ? split->silhouette(split->ctx, Z, n, d, cd->labels, &sp, &c->silhouette)
                   : cseg_metrics_silhouette(Z, n, d, cd->labels, &sp, &c->silhouette, NULL)) < 0)
            c->silhouette = NAN;
        if (cseg__metrics_davies_bouldin_split(Z, n, d, cd->labels, km, &c->davies_bouldin) < 0)
            c->davies_bouldin = NAN;
        if (cseg__metrics_calinski_harabasz_split(Z, n, d, cd->labels, km, &c->calinski_harabasz) <
            0)
            c->calinski_harabasz = NAN;
    }
}

/* The noise rows and the highest label + 1 (split: of every piece's rows). */
static int count_labels(const int32_t *lab, size_t n, const cseg__seg_split *split, size_t *noise,
                        size_t *top)
{
    uint64_t v = 0;
    int32_t mx = -1;
    for (size_t i = 0; i < n; i++) {
        v += lab[i] < 0;
        mx = lab[i] > mx ? lab[i] : mx;
    }
    if (split) {
        size_t np = (size_t)split->km->size, got = 0;
        double mine = (double)mx + 1, *all = malloc(np * sizeof *all);
        uint64_t bad = !all;
        int rc = split->sc->sum(split->sc->ctx, &bad, 1, NULL, 0);
        if (rc == 0 && bad)
            rc = CSEG_ENOMEM;
        if (rc == 0)
            rc = split->km->allgatherv(split->km->ctx, &mine, 1, all, &got);
        if (rc == 0)
            rc = split->sc->sum(split->sc->ctx, &v, 1, NULL, 0);
        for (size_t r = 0; rc == 0 && r < got; r++)
            mx = all[r] - 1 > mx ? (int32_t)all[r] - 1 : mx;
        free(all);
        if (rc < 0)
            return rc;
    }
    *noise = (size_t)v;
    *top = (size_t)(mx + 1);
    return 0;
}

/* split: a step's outcome on this piece made every piece's (a failure on
 * one piece alone would leave the others waiting in the next collective
 * step); one process: rc. */
static int agreed(const cseg__seg_split *split, int rc, cseg_diag *d)
{
    return split ? split->agree(split->ctx, rc, 0, d) : rc;
}

/* A k-means fit of the segmentation: through the caller's kmeans_fit when given
 * (same: Z is the matrix of the previous call). */
static int kmeans_fit(const cseg_segment_params *p, cseg_kmeans *km, const double *Z, size_t n,
                      size_t d, int same, const cseg__seg_split *split, cseg_diag *diag)
{
    if (split) /* every piece fits on its rows */
        return cseg__kmeans_fit_split(km, Z, n, d, NULL, split->km, diag);
    return p->kmeans_fit ? p->kmeans_fit(p->kmeans_fit_user, km, Z, n, d, same, diag)
                         : cseg_kmeans_fit(km, Z, n, d, NULL, diag);
}

/* A k-means fit's clusters without a customer (k above the distinct
 * customers: two centres on the same rows, the mean of identical rows a bit
 * off the row itself) are dropped from its labels and centres, the others
 * keeping their order: no empty segment, and the k table and its warning
 * say how many there are. */
static int drop_empty(cseg_kmeans *km, int32_t *labels, size_t n, size_t d,
                      const cseg__seg_split *split)
{
    size_t k = cseg_kmeans_get_params(km)->k, u = 0;
    int32_t *map = calloc(k, sizeof *map);
    uint64_t *used = calloc(k, sizeof *used);
    int rc = map && used ? 0 : CSEG_ENOMEM;
    if (split) { /* every piece takes part in the sums, failed or not */
        uint64_t bad = rc < 0;
        if ((rc = split->sc->sum(split->sc->ctx, &bad, 1, NULL, 0)) == 0 && bad)
            rc = CSEG_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < k)
            used[labels[i]] = 1;
    /* A cluster is empty when no piece has a row in it. */
    if (rc == 0 && split)
        rc = split->sc->sum(split->sc->ctx, used, k, NULL, 0);
    if (rc < 0) {
        free(map);
        free(used);
        return rc;
    }
    for (size_t s = 0; s < k; s++)
        map[s] = used[s] ? (int32_t)u++ : -1;
    free(used);
    if (u > 0 && u < k) {
        const double *C = cseg_kmeans_centroids(km);
        double *Cu = malloc(u * d * sizeof *Cu);
        if ((rc = agreed(split, Cu ? 0 : CSEG_ENOMEM, NULL)) < 0) {
            free(Cu);
            free(map);
            return rc;
        }
        for (size_t s = 0; s < k; s++)
            if (map[s] >= 0)
                memcpy(Cu + (size_t)map[s] * d, C + s * d, d * sizeof *Cu);
        for (size_t i = 0; i < n; i++)
            labels[i] = map[labels[i]];
        rc = cseg_kmeans_set_centroids(km, Cu, u, d);
        free(Cu);
    }
    free(map);
    return rc;
}

static int fit_kmeans(const cseg_segment_params *p, size_t k, const double *Z, size_t n, size_t d,
                      int same, cseg__cand *c, const cseg__seg_split *split, cseg_diag *diag)
{
    cseg_kmeans_params kp;
    cseg_kmeans_params_init(&kp);
    kp.k = k;
    kp.seed = p->seed;
    kp.n_threads = p->n_threads;
    kp.tol = p->tol;
    kp.algorithm = p->kmeans_algorithm;
    if (p->n_init)
        kp.n_init = p->n_init;
    if (p->max_iter)
        kp.max_iter = p->max_iter;
    cseg_kmeans *km = NULL;
    int rc = agreed(split, cseg_kmeans_create(&km, &kp), diag);
    if (rc < 0) {
        cseg_kmeans_free(km);
        return rc;
    }
    c->obj = km;
    if ((rc = kmeans_fit(p, km, Z, n, d, same, split, diag)) < 0)
        return rc;
    memcpy(c->labels, cseg_kmeans_labels(km), n * sizeof *c->labels);
    c->c.n_iter = cseg_kmeans_n_iter(km);
    c->c.converged = cseg_kmeans_converged(km);
    return drop_empty(km, c->labels, n, d, split);
}

static int fit_gmm(const cseg_segment_params *p, size_t k, const double *Z, size_t n, size_t d,
                   cseg__cand *c, cseg_diag *diag)
{
    cseg_gmm_params gp;
    cseg_gmm_params_init(&gp);
    gp.k = k;
    gp.cov = p->covariance;
    gp.seed = p->seed;
    gp.n_threads = p->n_threads;
    if (p->n_init)
        gp.n_init = p->n_init;
    if (p->max_iter)
        gp.max_iter = p->max_iter;
    cseg_gmm *g;
    int rc = cseg_gmm_create(&g, &gp);
    if (rc < 0)
        return rc;
    c->obj = g;
    if ((rc = cseg_gmm_fit(g, Z, n, d, diag)) < 0)
        return rc;
    memcpy(c->labels, cseg_gmm_labels(g), n * sizeof *c->labels);
    c->c.n_iter = cseg_gmm_n_iter(g);
    c->c.converged = cseg_gmm_converged(g);
    if (cseg_gmm_bic(g, Z, n, &c->c.bic) < 0)
        c->c.bic = NAN;
    if (cseg_gmm_aic(g, Z, n, &c->c.aic) < 0)
        c->c.aic = NAN;
    return 0;
}

static int fit_dbscan(const cseg_segment_params *p, double eps, const double *Z, size_t n,
                      size_t d, cseg__cand *c, cseg_diag *diag)
{
    cseg_dbscan_params dp;
    cseg_dbscan_params_init(&dp);
    dp.eps = eps;
    dp.min_samples = cseg__min_samples(p, d);
    dp.n_threads = p->n_threads;
    cseg_dbscan *db;
    int rc = cseg_dbscan_create(&db, &dp);
    if (rc == CSEG_EINVAL) /* an eps whose square is beyond the range of numbers, say */
        return cseg__diag(diag, rc, NULL, 0, 0, "dbscan: %s (eps %g)",
                          cseg_dbscan_params_check(&dp), eps);
    if (rc < 0)
        return rc;
    c->obj = db;
    if ((rc = cseg_dbscan_fit(db, Z, n, d, diag)) < 0)
        return rc;
    memcpy(c->labels, cseg_dbscan_labels(db), n * sizeof *c->labels);
    return 0;
}

/* "1.5 GiB", "200 KiB", "512 bytes". */
static const char *human_bytes(char *buf, size_t size, size_t v)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    int u = -1;
    while (x >= 1024 && u < 3) {
        x /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, size, "%zu bytes", v);
    else
        snprintf(buf, size, "%.3g %s", x, unit[u]);
    return buf;
}

/* max_memory, 0 resolved: 80% of physical memory (8 GiB when unknown). */
size_t cseg__max_memory(const cseg_segment_params *p)
{
    if (p->max_memory)
        return p->max_memory;
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || size <= 0)
        return (size_t)8 << 30;
    return (size_t)((double)pages * (double)size * 0.8);
}

static int hclust_tree(const cseg_segment_params *p, const double *Z, size_t n, size_t d,
                       cseg_hclust **out, cseg_diag *diag)
{
    cseg_hclust_params hp;
    cseg_hclust_params_init(&hp);
    hp.linkage = p->linkage;
    hp.exact = p->exact;
    hp.seed = p->seed;
    hp.n_threads = p->n_threads;
    /* --max-memory bounds the linkages whose memory grows faster than the
     * customers (the distance matrix); Ward and single need O(n d), as every
     * other step (docs/cli.md, --max-memory). */
    int quadratic = p->linkage == CSEG_LINKAGE_COMPLETE || p->linkage == CSEG_LINKAGE_AVERAGE;
    hp.max_memory = quadratic ? cseg__max_memory(p) : SIZE_MAX;
    /* Refused before it starts when the estimate is above the bound: the
     * message names the estimate, the bound and the ways around it. */
    size_t need = 0;
    double secs;
    if (quadratic && cseg_hclust_estimate(p->linkage, n, d, p->exact, &need, &secs) == 0 &&
        need > hp.max_memory) {
        char a[32], b[32];
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0,
                          "%s linkage on %zu customers needs about %s, more than --max-memory "
                          "(%s); ward (micro-clusters above 20,000 customers unless --exact) "
                          "and single linkage need O(n d) memory, or raise --max-memory",
                          cseg_linkage_name(p->linkage), n, human_bytes(a, sizeof a, need),
                          human_bytes(b, sizeof b, hp.max_memory));
    }
    int rc = cseg_hclust_create(out, &hp);
    if (rc == 0 && (rc = cseg_hclust_fit(*out, Z, n, d, NULL, diag)) < 0) {
        cseg_hclust_free(*out);
        *out = NULL;
    }
    return rc;
}

static void free_obj(cseg_algo algo, void *obj)
{
    if (algo == CSEG_ALGO_KMEANS)
        cseg_kmeans_free(obj);
    else if (algo == CSEG_ALGO_GMM)
        cseg_gmm_free(obj);
    else if (algo == CSEG_ALGO_DBSCAN)
        cseg_dbscan_free(obj);
}

void cseg__fit_release(cseg__fit *f, size_t t)
{
    free(f->c[t].labels);
    free_obj(f->algo, f->c[t].obj);
    f->c[t].labels = NULL;
    f->c[t].obj = NULL;
}

void cseg__fit_free(cseg__fit *f)
{
    for (size_t t = 0; t < f->n && f->c; t++)
        cseg__fit_release(f, t);
    free(f->c);
    cseg_hclust_free(f->tree);
    memset(f, 0, sizeof *f);
}

/* The rule that picks one candidate (include/custseg/segment.h). */
static void choose(const cseg_segment_params *p, cseg__fit *f)
{
    if (p->algo == CSEG_ALGO_DBSCAN) {
        f->rule = f->eps_suggested ? "one DBSCAN fit, eps from the knee of the k-distance curve"
                                   : "one DBSCAN fit, eps given";
    } else if (p->height > 0) {
        f->rule = "tree cut at --height";
    } else if (p->k) {
        f->rule = "fixed by --k";
    } else if (p->algo == CSEG_ALGO_GMM) {
        f->rule = "lowest BIC";
        for (size_t t = 1; t < f->n; t++)
            if (f->c[t].c.bic < f->c[f->chosen].c.bic)
                f->chosen = t;
    } else {
        size_t el = elbow_index(f->c, f->n);
        if (el != (size_t)-1) {
            f->chosen = el;
            f->c[el].c.elbow = 1;
            f->rule = p->algo == CSEG_ALGO_KMEANS
                          ? "elbow of the inertia curve (kneedle)"
                          : "elbow of the within-cluster sum of squares (kneedle)";
        } else {
            for (size_t t = 1; t < f->n; t++)
                if (f->c[t].c.silhouette > f->c[f->chosen].c.silhouette)
                    f->chosen = t;
            f->rule = "highest silhouette (no elbow found)";
        }
    }
}

/* k-means choosing k on many customers: every candidate on a seeded
 * uniform sample of s of them (selection sampling, in row order), the k
 * chosen by the usual rule on the sample's scores, then that k fitted on
 * every customer from the sample's centres (one run). split: the sample's
 * rows are gathered on every piece, which fits and scores the candidates
 * on them alone (the same work on each: a sample is small), and the final
 * fit is spread. */
static int fit_run(const cseg_segment_params *p, const double *Z, size_t n, size_t d, cseg__fit *f,
                   int scores, int progress, const cseg__seg_split *split, cseg_diag *diag);

static int fit_run_sampled(const cseg_segment_params *p, const double *Z, size_t n, size_t d,
                           size_t s, cseg__fit *f, int scores, int progress,
                           const cseg__seg_split *split, cseg_diag *diag)
{
    size_t n_all = split ? split->km->n_all : n, row0 = split ? split->km->row0 : 0, m = 0;
    double *Zs = malloc(s * d * sizeof *Zs);
    int rc = Zs ? 0 : CSEG_ENOMEM;
    cseg_rng rng;
    cseg__rng_seed(&rng, p->seed ^ 0x6b73616d706c65ULL); /* "ksample" */
    if (split) { /* every piece draws the whole sample and keeps its own rows */
        uint64_t bad = rc < 0;
        if ((rc = split->sc->sum(split->sc->ctx, &bad, 1, NULL, 0)) == 0 && bad)
            rc = CSEG_ENOMEM;
        if (rc < 0) {
            free(Zs);
            return rc;
        }
        size_t mine = 0;
        for (size_t i = 0; i < n_all && m < s; i++)
            if (cseg__rng_below(&rng, n_all - i) < s - m) {
                m++;
                if (i >= row0 && i < row0 + n)
                    memcpy(Zs + mine++ * d, Z + (i - row0) * d, d * sizeof *Zs);
            }
        /* In place: this piece's rows go to their place among all. */
        size_t got = 0;
        double *all = malloc(s * d * sizeof *all);
        bad = !all;
        if ((rc = split->sc->sum(split->sc->ctx, &bad, 1, NULL, 0)) == 0 && bad)
            rc = CSEG_ENOMEM;
        if (rc == 0)
            rc = split->km->allgatherv(split->km->ctx, Zs, mine * d, all, &got);
        free(Zs);
        Zs = all;
        if (rc == 0 && got != s * d)
            rc = CSEG_EINVAL;
        if (rc < 0) {
            free(Zs);
            return rc;
        }
    } else {
        for (size_t i = 0; Zs && i < n && m < s; i++)
            if (cseg__rng_below(&rng, n - i) < s - m)
                memcpy(Zs + m++ * d, Z + i * d, d * sizeof *Zs);
        if (!Zs)
            return CSEG_ENOMEM;
    }
    rc = fit_run(p, Zs, s, d, f, scores, progress, NULL, diag);
    free(Zs);
    if (rc < 0)
        return rc;
    f->k_sample = s;
    cseg__cand *c = &f->c[f->chosen];
    cseg__log(p, CSEG_LOG_NOTE,
              "k chosen on a uniform sample of %zu of the %zu customers (the k table's scores are "
              "the sample's; --k-sample 0 uses every customer); k = %zu then fitted on all of "
              "them from the sample's centres",
              s, n_all, c->c.n_clusters);
    cseg_kmeans *ks = c->obj, *km = NULL;
    cseg_kmeans_params kp = *cseg_kmeans_get_params(ks);
    kp.init = cseg_kmeans_centroids(ks);
    kp.k = c->c.n_clusters;
    int32_t *lab = realloc(c->labels, (n ? n : 1) * sizeof *lab);
    if (lab)
        c->labels = lab;
    if ((rc = agreed(split, lab ? 0 : CSEG_ENOMEM, diag)) < 0)
        return rc;
    if ((rc = agreed(split, cseg_kmeans_create(&km, &kp), diag)) < 0) {
        cseg_kmeans_free(km);
        return rc;
    }
    /* all rows, not the sample */
    if ((rc = kmeans_fit(p, km, Z, n, d, 0, split, diag)) < 0) {
        cseg_kmeans_free(km);
        return rc;
    }
    memcpy(c->labels, cseg_kmeans_labels(km), n * sizeof *c->labels);
    c->c.n_iter = cseg_kmeans_n_iter(km);
    c->c.converged = cseg_kmeans_converged(km);
    size_t noise;
    if ((rc = drop_empty(km, c->labels, n, d, split)) < 0 ||
        (rc = count_labels(c->labels, n, split, &noise, &c->c.n_clusters)) < 0) {
        cseg_kmeans_free(km);
        return rc;
    }
    c->c.k = c->c.n_clusters;
    cseg_kmeans_free(ks);
    c->obj = km;
    /* The chosen fit's scores, as segments.json gives them, on every
     * customer (the k table's row stays the sample's). */
    if (scores) {
        cseg__cand all = *c;
        score(p, Z, n, d, &all, split);
        f->final = all.c;
        f->has_final = 1;
    }
    return 0;
}

int cseg__fit_run(const cseg_segment_params *p, const double *Z, size_t n, size_t d,
                  cseg__fit *f, int scores, int progress, cseg_diag *diag)
{
    return fit_run(p, Z, n, d, f, scores, progress, NULL, diag);
}

int cseg__fit_run_split(const cseg_segment_params *p, const double *Z, size_t n, size_t d,
                        cseg__fit *f, const cseg__seg_split *split, cseg_diag *diag)
{
    if (split && p->algo != CSEG_ALGO_KMEANS) {
        memset(f, 0, sizeof *f);
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "%s is not spread over processes (k-means only)",
                          cseg_algo_label(p->algo, p->linkage));
    }
    return fit_run(p, Z, n, d, f, 1, 1, split, diag);
}

static int fit_run(const cseg_segment_params *p, const double *Z, size_t n, size_t d, cseg__fit *f,
                   int scores, int progress, const cseg__seg_split *split, cseg_diag *diag)
{
    int rc = 0;
    size_t ks = p->k_sample == CSEG_SAMPLE_AUTO ? CSEG_K_SAMPLE_AUTO : p->k_sample;
    size_t n_all = split ? split->km->n_all : n;
    if (p->algo == CSEG_ALGO_KMEANS && !p->k && ks > 0 && n_all > ks)
        return fit_run_sampled(p, Z, n, d, ks, f, scores, progress, split, diag);
    memset(f, 0, sizeof *f);
    f->algo = p->algo;
    f->linkage = p->linkage;
    size_t kmin = p->k ? p->k : p->k_min, kmax = p->k ? p->k : p->k_max;
    if (p->algo == CSEG_ALGO_DBSCAN || p->height > 0) {
        kmin = kmax = 0; /* one candidate; k comes from the data */
    } else {
        if (kmax > n_all - 1 && !p->k) {
            if (progress) /* the segmentation's own k table, not a bootstrap's */
                cseg__k_range_note(p, n_all);
            kmax = n_all - 1;
        }
        if (kmin > kmax)
            kmin = kmax;
    }
    size_t m = kmax - kmin + 1;
    if ((f->c = calloc(m, sizeof *f->c)))
        f->n = m;
    for (size_t t = 0; f->c && t < m && rc == 0; t++)
        if (!(f->c[t].labels = malloc((n ? n : 1) * sizeof(int32_t))))
            rc = CSEG_ENOMEM;
    if ((rc = agreed(split, f->c ? rc : CSEG_ENOMEM, diag)) < 0)
        return rc;
    if (p->algo == CSEG_ALGO_HCLUST) {
        if (progress && (rc = cseg__progress(p, CSEG_STAGE_TREE, 0, 0, 1, n_all, d)) < 0)
            return rc;
        if ((rc = hclust_tree(p, Z, n, d, &f->tree, diag)) < 0)
            return rc;
    }
    if (p->algo == CSEG_ALGO_DBSCAN) {
        f->eps = p->eps;
        f->min_samples = cseg__min_samples(p, d);
        /* A dense group needs min_samples customers: more than there are
         * finds none, whatever eps. */
        if (f->min_samples > n)
            return cseg__diag(diag, CSEG_EPARAM, NULL, 0, 0,
                              "min-samples %zu is more than the %zu customers: no group can be "
                              "dense%s",
                              f->min_samples, n,
                              p->min_samples ? "" : " (the default is twice the features); give "
                                                    "a smaller --min-samples");
        if (!(f->eps > 0)) {
            /* Above EPS_QUERIES customers the curve is sampled: each query's
             * k-distance is still exact, and minutes become seconds. */
            if ((rc = cseg_dbscan_suggest_eps_sampled(Z, n, d, f->min_samples,
                                                      n > EPS_QUERIES ? EPS_QUERIES : 0,
                                                      p->n_threads, &f->eps, NULL)) < 0) {
                if (diag && !diag->msg[0])
                    snprintf(diag->msg, sizeof diag->msg,
                             "cannot suggest eps from the k-distance curve (%s); give --eps",
                             cseg_strerror(rc));
                return rc;
            }
            f->eps_suggested = 1;
        }
    }
    for (size_t t = 0; t < m; t++) {
        cseg__cand *c = &f->c[t];
        size_t k = kmin + t;
        if (progress && (rc = cseg__progress(p, CSEG_STAGE_FIT, k, t, m, n_all, d)) < 0)
            return rc;
        switch (p->algo) {
        case CSEG_ALGO_KMEANS:
            rc = fit_kmeans(p, k, Z, n, d, t > 0, c, split, diag);
            break;
        case CSEG_ALGO_GMM: rc = fit_gmm(p, k, Z, n, d, c, diag); break;
        case CSEG_ALGO_DBSCAN: rc = fit_dbscan(p, f->eps, Z, n, d, c, diag); break;
        case CSEG_ALGO_HCLUST: {
            /* A tree of micro-clusters may have fewer leaves than k <= n
             * (fewer distinct customers): cut into as many as it has, said
             * below. */
            size_t leaves = cseg_hclust_n_leaves(f->tree);
            size_t kcut = cseg_hclust_is_approximate(f->tree) && k <= n && k > leaves ? leaves : k;
            rc = p->height > 0 ? cseg_hclust_cut_height(f->tree, p->height, c->labels, NULL)
                               : cseg_hclust_cut_k(f->tree, kcut, c->labels);
            if (rc < 0 && p->height <= 0)
                rc = cseg__diag(diag, rc, NULL, 0, 0,
                                "k = %zu: the tree of %zu customers cannot be cut into that many "
                                "segments",
                                k, n);
            break;
        }
        }
        if (rc < 0 || (rc = count_labels(c->labels, n, split, &c->c.n_noise, &c->c.n_clusters)) < 0)
            return rc;
        c->c.k = c->c.n_clusters + (p->algo == CSEG_ALGO_DBSCAN);
        /* BIC and AIC are a mixture's of k components: with fewer segments
         * than components (customers too alike), the row's k would pair
         * them with the wrong model. */
        if (p->algo != CSEG_ALGO_GMM || c->c.n_clusters < k)
            c->c.bic = c->c.aic = NAN;
        if (scores)
            score(p, Z, n, d, c, split);
        else
            c->c.inertia = c->c.silhouette = c->c.davies_bouldin = c->c.calinski_harabasz = NAN;
        /* Fewer clusters than asked for (fewer distinct customers than k):
         * larger k can only repeat this row, so the k table ends here, and
         * without this row when the row before has as many clusters (it was
         * shown twice, its Calinski-Harabasz a division by about zero). */
        if (k && c->c.n_clusters < k && !p->k && (t + 1 < m || t > 0)) {
            size_t keep = t > 0 && f->c[t - 1].c.n_clusters >= c->c.n_clusters ? t : t + 1;
            if (keep == t)
                cseg__fit_release(f, t);
            for (size_t u = t + 1; u < m; u++)
                free(f->c[u].labels);
            f->n = m = keep;
        }
    }
    if (progress && (rc = cseg__progress(p, CSEG_STAGE_DONE, 0, m, m, n_all, d)) < 0)
        return rc;
    choose(p, f);
    return 0;
}

/* Mean of the rows of each label (k x d); a label without rows keeps 0. */
static int label_means(const double *Z, size_t n, size_t d, const int32_t *lab, size_t k,
                       double *C)
{
    double *cnt = calloc(k, sizeof *cnt);
    if (!cnt)
        return CSEG_ENOMEM;
    memset(C, 0, k * d * sizeof *C);
    for (size_t i = 0; i < n; i++) {
        if (lab[i] < 0 || (size_t)lab[i] >= k)
            continue;
        cnt[lab[i]] += 1;
        for (size_t j = 0; j < d; j++)
            C[(size_t)lab[i] * d + j] += Z[i * d + j];
    }
    for (size_t s = 0; s < k; s++)
        for (size_t j = 0; j < d && cnt[s] > 0; j++)
            C[s * d + j] /= cnt[s];
    free(cnt);
    return 0;
}

static int install_gmm(cseg__cand *c, const size_t *newid, size_t d, cseg_model *m)
{
    cseg_gmm *g = c->obj;
    size_t kc = c->c.n_clusters;
    int rc = CSEG_ENOMEM;
    double *C = NULL, *W = NULL, *V = NULL;
    cseg_gmm_cov ct = cseg_gmm_cov_type(g);
    size_t per = ct == CSEG_GMM_TIED ? 0 : cseg_gmm_cov_size(ct, 1, d);
    size_t nv = cseg_gmm_cov_size(ct, kc, d);
    if (!(C = malloc(kc * d * sizeof *C)) || !(W = malloc(kc * sizeof *W)) ||
        !(V = malloc(nv * sizeof *V)))
        goto out;
    const double *w0 = cseg_gmm_weights(g), *mu0 = cseg_gmm_means(g), *v0 = cseg_gmm_covariances(g);
    if (per == 0)
        memcpy(V, v0, nv * sizeof *V);
    for (size_t s = 0; s < kc; s++) {
        W[newid[s]] = w0[s];
        memcpy(C + newid[s] * d, mu0 + s * d, d * sizeof *C);
        if (per)
            memcpy(V + newid[s] * per, v0 + s * per, per * sizeof *V);
    }
    cseg_gmm_params gp = *cseg_gmm_get_params(g);
    gp.init_weights = gp.init_means = gp.init_precisions = NULL;
    cseg_gmm *ng;
    if ((rc = cseg_gmm_create(&ng, &gp)) < 0)
        goto out;
    if ((rc = cseg_gmm_set(ng, kc, d, ct, W, C, V)) < 0 || (rc = cseg_model_set_gmm(m, ng)) < 0)
        cseg_gmm_free(ng);
out:
    free(C);
    free(W);
    free(V);
    return rc;
}

static int install_dbscan(cseg__cand *c, const size_t *newid, size_t d, cseg_model *m)
{
    cseg_dbscan *db = c->obj;
    size_t kc = c->c.n_clusters, nc = cseg_dbscan_n_core(db);
    const int32_t *l0 = cseg_dbscan_core_labels(db);
    int32_t *cl = malloc((nc ? nc : 1) * sizeof *cl);
    if (!cl)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < nc; i++)
        cl[i] = (int32_t)newid[l0[i]];
    cseg_dbscan_params dp;
    cseg_dbscan_params_init(&dp);
    dp.eps = cseg_dbscan_eps(db);
    dp.min_samples = cseg_dbscan_min_samples(db);
    cseg_dbscan *nd;
    int rc = cseg_dbscan_create(&nd, &dp);
    if (rc == 0 && ((rc = cseg_dbscan_set_core(nd, cseg_dbscan_core_points(db), cl, nc, d, kc)) < 0 ||
                    (rc = cseg_model_set_dbscan(m, nd)) < 0))
        cseg_dbscan_free(nd);
    free(cl);
    return rc;
}

int cseg__fit_install(cseg__fit *f, size_t ci, const size_t *newid, const double *Z, size_t n,
                      size_t d, cseg_model *m)
{
    cseg__cand *c = &f->c[ci];
    size_t kc = c->c.n_clusters;
    int rc;
    if (!newid && (f->algo == CSEG_ALGO_GMM || f->algo == CSEG_ALGO_DBSCAN)) {
        /* As fitted: hand the object over. */
        rc = f->algo == CSEG_ALGO_GMM ? cseg_model_set_gmm(m, c->obj)
                                      : cseg_model_set_dbscan(m, c->obj);
        if (rc == 0)
            c->obj = NULL;
        return rc;
    }
    if (f->algo == CSEG_ALGO_GMM)
        return install_gmm(c, newid, d, m);
    if (f->algo == CSEG_ALGO_DBSCAN)
        return install_dbscan(c, newid, d, m);
    /* kmeans and hclust: segment centroids in the new order. */
    double *C = malloc((kc ? kc : 1) * d * sizeof *C), *Cm = NULL;
    const double *C0;
    rc = CSEG_ENOMEM;
    if (!C)
        goto out;
    if (f->algo == CSEG_ALGO_KMEANS) {
        C0 = cseg_kmeans_centroids(c->obj);
    } else {
        if (!(Cm = malloc((kc ? kc : 1) * d * sizeof *Cm)) ||
            (rc = label_means(Z, n, d, c->labels, kc, Cm)) < 0)
            goto out;
        C0 = Cm;
    }
    for (size_t s = 0; s < kc; s++)
        memcpy(C + (newid ? newid[s] : s) * d, C0 + s * d, d * sizeof *C);
    if (f->algo == CSEG_ALGO_KMEANS) {
        cseg_kmeans *km = c->obj;
        if ((rc = cseg_kmeans_set_centroids(km, C, kc, d)) == 0 &&
            (rc = cseg_model_set_kmeans(m, km)) == 0)
            c->obj = NULL;
    } else {
        rc = cseg_model_set_hclust(m, f->linkage, cseg_hclust_is_approximate(f->tree), C, kc, d);
    }
out:
    free(C);
    free(Cm);
    return rc;
}

int cseg__fit_predict(const cseg_segment_params *p, const double *Ztr, size_t ntr, const double *Z,
                      size_t n, size_t d, size_t room, size_t *n_out, int32_t *labels,
                      cseg_diag *diag)
{
    cseg__fit f;
    int rc = cseg__fit_run(p, Ztr, ntr, d, &f, 0, 0, diag);
    if (rc < 0)
        goto out;
    /* A resample's candidate table may be longer than the caller's (it ends
     * where a k first gives fewer clusters, which depends on the rows). */
    *n_out = f.n < room ? f.n : room;
    for (size_t t = 0; t < *n_out && rc == 0; t++) {
        /* The rule for new customers is the saved model's: install the
         * candidate in a model without preprocessing and predict. */
        cseg_model *m = NULL;
        if ((rc = cseg_model_create(&m)) == 0 &&
            (rc = cseg__fit_install(&f, t, NULL, Ztr, ntr, d, m)) == 0)
            rc = cseg_model_predict(m, Z, n, labels + t * n, NULL, NULL);
        cseg_model_free(m);
    }
out:
    cseg__fit_free(&f);
    return rc;
}
