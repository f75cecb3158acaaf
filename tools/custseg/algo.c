/* custseg command line: the clustering step shared by run, fit and compare.
 *
 * One algorithm (k-means, a hierarchical linkage, DBSCAN or a Gaussian
 * mixture) is fitted on the model-space matrix for every candidate k, each
 * candidate is scored (silhouette, Davies-Bouldin, Calinski-Harabasz, inertia,
 * BIC for mixtures), one is chosen by the algorithm's rule, and the chosen one
 * is installed in the model with its segments renumbered. Rules (docs/cli.md):
 *   kmeans, hclust  the elbow of the within-cluster sum of squares (kneedle),
 *                   else the highest silhouette;
 *   gmm             the lowest BIC;
 *   dbscan          one fit (eps given, or the knee of the k-distance curve).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define SIL_EXACT_MAX 20000
#define EPS_QUERIES 100000

size_t seg_silhouette_sample(const seg_opts *o, size_t n)
{
    if (o->sample_set)
        return o->sample && o->sample < n ? o->sample : 0;
    return n > SIL_EXACT_MAX ? SIL_EXACT_MAX : 0;
}

const char *seg_algo_label(const seg_opts *o)
{
    return o->algo == CSEG_ALGO_HCLUST ? cseg_linkage_name(o->linkage) : cseg_algo_name(o->algo);
}

/* Elbow by the kneedle difference on normalised inertia: the candidate whose
 * point lies furthest below the chord from the first to the last k. */
static size_t elbow_index(const seg_cand *c, size_t m)
{
    if (m < 3)
        return (size_t)-1;
    double y0 = c[0].inertia, y1 = c[m - 1].inertia;
    if (!(y0 > y1))
        return (size_t)-1;
    size_t best = (size_t)-1;
    double bestv = 0;
    for (size_t i = 0; i < m; i++) {
        double x = (double)i / (double)(m - 1);
        double y = (c[i].inertia - y1) / (y0 - y1);
        double diff = 1 - x - y;
        if (diff > bestv + 1e-12) {
            bestv = diff;
            best = i;
        }
    }
    return best;
}

/* Scores of one labelling (labels < 0: noise, left out of every index). */
static void score(const seg_opts *o, const double *Z, size_t n, size_t d, seg_cand *c)
{
    size_t kc = c->n_clusters;
    c->silhouette = c->db = c->ch = NAN;
    if (cseg_metrics_inertia(Z, n, d, c->labels, &c->inertia) < 0)
        c->inertia = NAN;
    if (kc >= 2 && kc < n - c->n_noise) {
        cseg_silhouette_params sp;
        cseg_silhouette_params_init(&sp);
        sp.n_threads = o->km.n_threads;
        sp.seed = o->km.seed;
        sp.sample_size = seg_silhouette_sample(o, n);
        if (cseg_metrics_silhouette(Z, n, d, c->labels, &sp, &c->silhouette, NULL) < 0)
            c->silhouette = NAN;
        if (cseg_metrics_davies_bouldin(Z, n, d, c->labels, &c->db) < 0)
            c->db = NAN;
        if (cseg_metrics_calinski_harabasz(Z, n, d, c->labels, &c->ch) < 0)
            c->ch = NAN;
    }
}

static size_t count_noise(const int32_t *lab, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += lab[i] < 0;
    return m;
}

static size_t max_label(const int32_t *lab, size_t n)
{
    int32_t mx = -1;
    for (size_t i = 0; i < n; i++)
        mx = lab[i] > mx ? lab[i] : mx;
    return (size_t)(mx + 1);
}

static int fit_kmeans(const seg_opts *o, size_t k, const double *Z, size_t n, size_t d,
                      seg_cand *c, cseg_diag *diag)
{
    cseg_kmeans_params p = o->km;
    p.k = k;
    cseg_kmeans *km;
    int rc = cseg_kmeans_create(&km, &p);
    if (rc < 0)
        return rc;
    c->obj = km;
    if ((rc = cseg_kmeans_fit(km, Z, n, d, NULL, diag)) < 0)
        return rc;
    memcpy(c->labels, cseg_kmeans_labels(km), n * sizeof *c->labels);
    c->n_iter = cseg_kmeans_n_iter(km);
    c->converged = cseg_kmeans_converged(km);
    return 0;
}

static int fit_gmm(const seg_opts *o, size_t k, const double *Z, size_t n, size_t d, seg_cand *c,
                   cseg_diag *diag)
{
    cseg_gmm_params p;
    cseg_gmm_params_init(&p);
    p.k = k;
    p.cov = o->cov;
    p.seed = o->km.seed;
    p.n_threads = o->km.n_threads;
    p.n_init = o->gmm_n_init;
    if (o->max_iter_set)
        p.max_iter = o->km.max_iter;
    cseg_gmm *g;
    int rc = cseg_gmm_create(&g, &p);
    if (rc < 0)
        return rc;
    c->obj = g;
    if ((rc = cseg_gmm_fit(g, Z, n, d, diag)) < 0)
        return rc;
    memcpy(c->labels, cseg_gmm_labels(g), n * sizeof *c->labels);
    c->n_iter = cseg_gmm_n_iter(g);
    c->converged = cseg_gmm_converged(g);
    if (cseg_gmm_bic(g, Z, n, &c->bic) < 0)
        c->bic = NAN;
    if (cseg_gmm_aic(g, Z, n, &c->aic) < 0)
        c->aic = NAN;
    return 0;
}

static int fit_dbscan(const seg_opts *o, double eps, const double *Z, size_t n, size_t d,
                      seg_cand *c, cseg_diag *diag)
{
    cseg_dbscan_params p;
    cseg_dbscan_params_init(&p);
    p.eps = eps;
    p.min_samples = seg_min_samples(o, d);
    p.n_threads = o->km.n_threads;
    cseg_dbscan *db;
    int rc = cseg_dbscan_create(&db, &p);
    if (rc < 0)
        return rc;
    c->obj = db;
    if ((rc = cseg_dbscan_fit(db, Z, n, d, diag)) < 0)
        return rc;
    memcpy(c->labels, cseg_dbscan_labels(db), n * sizeof *c->labels);
    return 0;
}

size_t seg_min_samples(const seg_opts *o, size_t d)
{
    if (o->min_samples)
        return o->min_samples;
    return 2 * d > 4 ? 2 * d : 4;
}

int seg_hclust_tree(const seg_opts *o, const double *Z, size_t n, size_t d, cseg_hclust **out,
                    cseg_diag *diag)
{
    cseg_hclust_params p;
    cseg_hclust_params_init(&p);
    p.linkage = o->linkage;
    p.exact = o->exact;
    p.seed = o->km.seed;
    p.n_threads = o->km.n_threads;
    int rc = cseg_hclust_create(out, &p);
    if (rc == 0 && (rc = cseg_hclust_fit(*out, Z, n, d, NULL, diag)) < 0) {
        cseg_hclust_free(*out);
        *out = NULL;
    }
    return rc;
}

void seg_fit_free(seg_fit *f)
{
    for (size_t t = 0; t < f->n; t++) {
        free(f->c[t].labels);
        if (f->algo == CSEG_ALGO_KMEANS)
            cseg_kmeans_free(f->c[t].obj);
        else if (f->algo == CSEG_ALGO_GMM)
            cseg_gmm_free(f->c[t].obj);
        else if (f->algo == CSEG_ALGO_DBSCAN)
            cseg_dbscan_free(f->c[t].obj);
    }
    free(f->c);
    cseg_hclust_free(f->tree);
    memset(f, 0, sizeof *f);
}

int seg_fit_run(const seg_opts *o, const double *Z, size_t n, size_t d, seg_fit *f,
                int scores, int progress, cseg_diag *diag)
{
    int rc = 0;
    memset(f, 0, sizeof *f);
    f->algo = o->algo;
    f->linkage = o->linkage;
    size_t kmin = o->k ? o->k : o->k_min, kmax = o->k ? o->k : o->k_max;
    if (o->algo == CSEG_ALGO_DBSCAN || o->height > 0) {
        kmin = kmax = 0; /* one candidate; k comes from the data */
    } else {
        if (kmax > n - 1 && !o->k)
            kmax = n - 1;
        if (kmin > kmax)
            kmin = kmax;
    }
    f->n = kmax - kmin + 1;
    f->c = calloc(f->n, sizeof *f->c);
    if (!f->c)
        return CSEG_ENOMEM;
    for (size_t t = 0; t < f->n; t++)
        if (!(f->c[t].labels = malloc((n ? n : 1) * sizeof(int32_t))))
            return CSEG_ENOMEM;
    if (o->algo == CSEG_ALGO_HCLUST) {
        if (progress)
            fprintf(stderr, "\rcustseg: building the %s tree of %zu customers...",
                    seg_algo_label(o), n);
        if ((rc = seg_hclust_tree(o, Z, n, d, &f->tree, diag)) < 0)
            return rc;
    }
    if (o->algo == CSEG_ALGO_DBSCAN) {
        f->eps = o->eps;
        f->min_samples = seg_min_samples(o, d);
        if (!(f->eps > 0)) {
            /* Above EPS_QUERIES customers the curve is sampled: each query's
             * k-distance is still exact, and minutes become seconds. */
            if ((rc = cseg_dbscan_suggest_eps_sampled(Z, n, d, f->min_samples,
                                                      n > EPS_QUERIES ? EPS_QUERIES : 0,
                                                      o->km.n_threads, &f->eps, NULL)) < 0) {
                if (diag && !diag->msg[0])
                    snprintf(diag->msg, sizeof diag->msg,
                             "cannot suggest eps from the k-distance curve (%s); give --eps",
                             cseg_strerror(rc));
                return rc;
            }
            f->eps_suggested = 1;
        }
    }
    for (size_t t = 0; t < f->n; t++) {
        seg_cand *c = &f->c[t];
        size_t k = kmin + t;
        if (progress && k)
            fprintf(stderr, "\rcustseg: %s, k = %zu (%zu of %zu)...%10s", seg_algo_label(o), k,
                    t + 1, f->n, "");
        switch (o->algo) {
        case CSEG_ALGO_KMEANS: rc = fit_kmeans(o, k, Z, n, d, c, diag); break;
        case CSEG_ALGO_GMM: rc = fit_gmm(o, k, Z, n, d, c, diag); break;
        case CSEG_ALGO_DBSCAN: rc = fit_dbscan(o, f->eps, Z, n, d, c, diag); break;
        case CSEG_ALGO_HCLUST:
            rc = o->height > 0 ? cseg_hclust_cut_height(f->tree, o->height, c->labels, NULL)
                               : cseg_hclust_cut_k(f->tree, k, c->labels);
            break;
        }
        if (rc < 0)
            return rc;
        c->n_noise = count_noise(c->labels, n);
        c->n_clusters = max_label(c->labels, n);
        c->k = c->n_clusters + (o->algo == CSEG_ALGO_DBSCAN);
        if (o->algo != CSEG_ALGO_GMM)
            c->bic = c->aic = NAN;
        if (scores)
            score(o, Z, n, d, c);
        else
            c->inertia = c->silhouette = c->db = c->ch = NAN;
    }
    if (progress)
        fprintf(stderr, "\r%70s\r", "");
    if (o->algo == CSEG_ALGO_DBSCAN) {
        f->rule = f->eps_suggested ? "one DBSCAN fit, eps from the knee of the k-distance curve"
                                   : "one DBSCAN fit, eps given";
    } else if (o->height > 0) {
        f->rule = "tree cut at --height";
    } else if (o->k) {
        f->rule = "fixed by --k";
    } else if (o->algo == CSEG_ALGO_GMM) {
        f->rule = "lowest BIC";
        for (size_t t = 1; t < f->n; t++)
            if (f->c[t].bic < f->c[f->chosen].bic)
                f->chosen = t;
    } else {
        size_t el = elbow_index(f->c, f->n);
        if (el != (size_t)-1) {
            f->chosen = el;
            f->c[el].elbow = 1;
            f->rule = o->algo == CSEG_ALGO_KMEANS
                          ? "elbow of the inertia curve (kneedle)"
                          : "elbow of the within-cluster sum of squares (kneedle)";
        } else {
            for (size_t t = 1; t < f->n; t++)
                if (f->c[t].silhouette > f->c[f->chosen].silhouette)
                    f->chosen = t;
            f->rule = "highest silhouette (no elbow found)";
        }
    }
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

int seg_fit_install(seg_fit *f, size_t ci, const size_t *newid, const double *Z, size_t n,
                    size_t d, cseg_model *m)
{
    seg_cand *c = &f->c[ci];
    size_t kc = c->n_clusters;
    int rc = CSEG_ENOMEM;
    double *C = NULL, *W = NULL, *V = NULL;
    int32_t *cl = NULL;
    if (f->algo == CSEG_ALGO_KMEANS || f->algo == CSEG_ALGO_HCLUST) {
        const double *C0 = NULL;
        double *Cm = malloc(kc * d * sizeof *Cm);
        if (!(C = malloc(kc * d * sizeof *C)) || !Cm) {
            free(Cm);
            goto out;
        }
        if (f->algo == CSEG_ALGO_KMEANS) {
            C0 = cseg_kmeans_centroids(c->obj);
        } else if ((rc = label_means(Z, n, d, c->labels, kc, Cm)) < 0) {
            free(Cm);
            goto out;
        } else {
            C0 = Cm;
        }
        for (size_t s = 0; s < kc; s++)
            memcpy(C + newid[s] * d, C0 + s * d, d * sizeof *C);
        free(Cm);
        if (f->algo == CSEG_ALGO_KMEANS) {
            cseg_kmeans *km = c->obj;
            if ((rc = cseg_kmeans_set_centroids(km, C, kc, d)) == 0 &&
                (rc = cseg_model_set_kmeans(m, km)) == 0)
                c->obj = NULL;
        } else {
            rc = cseg_model_set_hclust(m, f->linkage, cseg_hclust_is_approximate(f->tree), C,
                                       kc, d);
        }
    } else if (f->algo == CSEG_ALGO_DBSCAN) {
        cseg_dbscan *db = c->obj;
        size_t nc = cseg_dbscan_n_core(db);
        const int32_t *l0 = cseg_dbscan_core_labels(db);
        if (!(cl = malloc((nc ? nc : 1) * sizeof *cl)))
            goto out;
        for (size_t i = 0; i < nc; i++)
            cl[i] = (int32_t)newid[l0[i]];
        cseg_dbscan_params p;
        cseg_dbscan_params_init(&p);
        p.eps = cseg_dbscan_eps(db);
        p.min_samples = cseg_dbscan_min_samples(db);
        cseg_dbscan *nd;
        if ((rc = cseg_dbscan_create(&nd, &p)) < 0)
            goto out;
        if ((rc = cseg_dbscan_set_core(nd, cseg_dbscan_core_points(db), cl, nc, d, kc)) < 0 ||
            (rc = cseg_model_set_dbscan(m, nd)) < 0)
            cseg_dbscan_free(nd);
    } else {
        cseg_gmm *g = c->obj;
        cseg_gmm_cov ct = cseg_gmm_cov_type(g);
        size_t per = ct == CSEG_GMM_TIED ? 0 : cseg_gmm_cov_size(ct, 1, d);
        size_t nv = cseg_gmm_cov_size(ct, kc, d);
        if (!(C = malloc(kc * d * sizeof *C)) || !(W = malloc(kc * sizeof *W)) ||
            !(V = malloc(nv * sizeof *V)))
            goto out;
        const double *w0 = cseg_gmm_weights(g), *mu0 = cseg_gmm_means(g),
                     *v0 = cseg_gmm_covariances(g);
        if (per == 0)
            memcpy(V, v0, nv * sizeof *V);
        for (size_t s = 0; s < kc; s++) {
            W[newid[s]] = w0[s];
            memcpy(C + newid[s] * d, mu0 + s * d, d * sizeof *C);
            if (per)
                memcpy(V + newid[s] * per, v0 + s * per, per * sizeof *V);
        }
        cseg_gmm_params p = *cseg_gmm_get_params(g);
        p.init_weights = p.init_means = p.init_precisions = NULL;
        cseg_gmm *ng;
        if ((rc = cseg_gmm_create(&ng, &p)) < 0)
            goto out;
        if ((rc = cseg_gmm_set(ng, kc, d, ct, W, C, V)) < 0 ||
            (rc = cseg_model_set_gmm(m, ng)) < 0)
            cseg_gmm_free(ng);
    }
out:
    free(C);
    free(W);
    free(V);
    free(cl);
    return rc;
}

int seg_fit_predict(const seg_opts *o, const double *Ztr, size_t ntr, const double *Z, size_t n,
                    size_t d, size_t *n_out, int32_t *labels, cseg_diag *diag)
{
    seg_fit f;
    double *C = NULL;
    cseg_kmeans *near = NULL;
    int rc = seg_fit_run(o, Ztr, ntr, d, &f, 0, 0, diag);
    if (rc < 0)
        goto out;
    *n_out = f.n;
    for (size_t t = 0; t < f.n && rc == 0; t++) {
        seg_cand *c = &f.c[t];
        int32_t *lab = labels + t * n;
        switch (o->algo) {
        case CSEG_ALGO_KMEANS:
            rc = cseg_kmeans_predict(c->obj, Z, n, lab, NULL);
            break;
        case CSEG_ALGO_GMM:
            rc = cseg_gmm_predict(c->obj, Z, n, lab, NULL);
            break;
        case CSEG_ALGO_DBSCAN:
            rc = cseg_dbscan_predict(c->obj, Z, n, lab, NULL);
            break;
        case CSEG_ALGO_HCLUST: {
            /* The model's rule for new customers: the nearest segment centroid. */
            cseg_kmeans_params kp;
            cseg_kmeans_params_init(&kp);
            kp.k = c->n_clusters;
            free(C);
            cseg_kmeans_free(near);
            near = NULL;
            if (!(C = malloc(c->n_clusters * d * sizeof *C))) {
                rc = CSEG_ENOMEM;
                break;
            }
            if ((rc = label_means(Ztr, ntr, d, c->labels, c->n_clusters, C)) == 0 &&
                (rc = cseg_kmeans_create(&near, &kp)) == 0 &&
                (rc = cseg_kmeans_set_centroids(near, C, c->n_clusters, d)) == 0)
                rc = cseg_kmeans_predict(near, Z, n, lab, NULL);
            break;
        }
        }
    }
out:
    free(C);
    cseg_kmeans_free(near);
    seg_fit_free(&f);
    return rc;
}
