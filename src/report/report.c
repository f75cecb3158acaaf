/* custseg — the HTML report: builder state and rendering.
 *
 * Everything is written by hand with fprintf: the page is plain HTML with
 * inline SVG, so no charting or templating library is needed, and the output
 * is deterministic (no timestamps, sampled with a seed). The markup is kept
 * well-formed XML as well as HTML (every element closed, attributes quoted,
 * numeric character references only, the script in a CDATA section) so tests
 * can check it strictly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../pca/internal.h"
#include "custseg/pca.h"
#include "custseg/report.h"
#include "internal.h"

#define MAX_DIST 4

typedef struct seg {
    char *name;
    size_t size;
    double share, rev;
    double *mean, *median;
    char *cats; /* "Genre: Female 100% · Male 0%; ..." (plain text), or NULL */
    char *rules; /* its surrogate rules, one per line with their precision and recall, or NULL */
    size_t nrules;
} seg;

struct cseg_report {
    char *text[CSEG_REPORT_N_FIELDS];
    char **warn; /* shown first: a result that may mislead */
    size_t nwarn;
    char **qlabel;
    double *qcount;
    size_t nq;
    size_t nk, chosen;
    long elbow;
    size_t *k;
    double *inertia, *sil, *db, *ch;
    size_t nseg, nf;
    seg *seg;
    char **feat;
    double *pmean, *psd;
    int rfm;
    size_t npts, ntotal;
    double *pxy, *cxy;
    int32_t *plab;
    double ratio[2];
    size_t nsil, nsil_total;
    double *silv, sil_mean;
    int32_t *silab;
    size_t ndist;
    char *dname[MAX_DIST];
    double *dbox[MAX_DIST]; /* nseg x 5 */
    long outlier;           /* the Outliers segment, or -1 */
    /* the top of a merge tree: tree_p leaves, then tree_p - 1 merges */
    struct dnode *tree;
    size_t tree_p, tree_leaves, tree_k;
    double tree_cut_lo, tree_cut_hi;
    cseg_linkage tree_link;
    int tree_approx, tree_coloured;
    /* membership certainty: (nseg + 1) x N_MBINS counts, the last row all customers */
    size_t *mcount;
    cseg__report_audit *audit;
    size_t naudit;
    /* since a previous run: its mig_kp segments' names, mig_kp x nseg counts */
    size_t mig_kp, mig_shared;
    char **mig_names;
    size_t *mig_counts;
    double mig_ari;
    double rule_fidelity; /* of the surrogate rules; NaN: none */
    cseg__report_clv *clv;   /* run --clv; NULL: none */
    cseg__report_brule *brule; /* association rules to show */
    size_t nbrule, cap_brule;
};

/* A node of the drawn tree. Leaves: x is the slot, h the height of the
 * truncated branch's own top merge (0 for a leaf of the full tree). Merges:
 * x the mean of the children's x, h the merge height, a and b the children. */
typedef struct dnode {
    double x, h, size; /* size: customers below (NAN when unknown) */
    size_t n_under;    /* leaves of the full tree below */
    long leaf;         /* the full tree's leaf id when it is one, else -1 */
    int32_t seg;       /* segment of every leaf below, -1 when mixed or unknown */
    size_t a, b;
} dnode;

/* Bins of the highest membership probability; the first two are "borderline". */
#define N_MBINS 4
static const double mbin_hi[N_MBINS - 1] = {0.7, 0.9, 0.99};
static const char *const mbin_label[N_MBINS] = {"below 0.7", "0.7 to 0.9", "0.9 to 0.99",
                                                "0.99 or more"};
static const char *const mbin_colour[N_MBINS] = {"#D55E00", "#E69F00", "#56B4E9", "#0072B2"};

/* Okabe-Ito, then Paul Tol's muted colours for more than eight segments. */
static const char *const palette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                                      "#D55E00", "#F0E442", "#000000", "#882255", "#44AA99",
                                      "#999933", "#AA4499", "#332288", "#DDCC77", "#117733",
                                      "#88CCEE"};
#define N_PALETTE (sizeof palette / sizeof palette[0])

#define GREY "#999999"
#define MIXED "#555555"

static const char *colour(const cseg_report *r, size_t s)
{
    if ((long)s == r->outlier)
        return GREY;
    return palette[s % N_PALETTE];
}

int cseg_report_create(cseg_report **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return CSEG_ENOMEM;
    (*out)->elbow = -1;
    (*out)->outlier = -1;
    return 0;
}

static void free_profile(cseg_report *r)
{
    for (size_t s = 0; s < r->nseg; s++) {
        free(r->seg[s].name);
        free(r->seg[s].mean);
        free(r->seg[s].median);
        free(r->seg[s].cats);
        free(r->seg[s].rules);
    }
    free(r->seg);
    for (size_t j = 0; j < r->nf; j++)
        free(r->feat[j]);
    free(r->feat);
    free(r->pmean);
    free(r->psd);
    r->seg = NULL;
    r->feat = NULL;
    r->pmean = r->psd = NULL;
    r->nseg = r->nf = 0;
    r->outlier = -1;
    /* these count segments of the old profile */
    free(r->tree);
    free(r->mcount);
    r->tree = NULL;
    r->mcount = NULL;
}

void cseg_report_free(cseg_report *r)
{
    if (!r)
        return;
    for (int f = 0; f < CSEG_REPORT_N_FIELDS; f++)
        free(r->text[f]);
    for (size_t w = 0; w < r->nwarn; w++)
        free(r->warn[w]);
    free(r->warn);
    for (size_t a = 0; a < r->naudit; a++)
        cseg__report_audit_free(&r->audit[a]);
    free(r->audit);
    for (size_t i = 0; i < r->mig_kp; i++)
        free(r->mig_names[i]);
    free(r->mig_names);
    free(r->mig_counts);
    for (size_t q = 0; q < r->nq; q++)
        free(r->qlabel[q]);
    free(r->qlabel);
    free(r->qcount);
    free(r->k);
    free(r->inertia);
    free(r->sil);
    free(r->db);
    free(r->ch);
    free_profile(r);
    free(r->pxy);
    free(r->cxy);
    free(r->plab);
    free(r->silv);
    free(r->silab);
    for (size_t i = 0; i < r->ndist; i++) {
        free(r->dname[i]);
        free(r->dbox[i]);
    }
    if (r->clv) {
        free(r->clv->mean);
        free(r->clv);
    }
    for (size_t i = 0; i < r->nbrule; i++) {
        free(r->brule[i].lhs);
        free(r->brule[i].rhs);
    }
    free(r->brule);
    free(r);
}

int cseg_report_set_text(cseg_report *r, cseg_report_field f, const char *value)
{
    if ((int)f < 0 || f >= CSEG_REPORT_N_FIELDS || !value)
        return CSEG_EINVAL;
    char *c = cseg__strdup(value);
    if (!c)
        return CSEG_ENOMEM;
    free(r->text[f]);
    r->text[f] = c;
    return 0;
}

int cseg_report_add_quality(cseg_report *r, const char *label, double count)
{
    char **nl = cseg__reallocarray(r->qlabel, r->nq + 1, sizeof *nl);
    if (!nl)
        return CSEG_ENOMEM;
    r->qlabel = nl;
    double *nc = cseg__reallocarray(r->qcount, r->nq + 1, sizeof *nc);
    if (!nc)
        return CSEG_ENOMEM;
    r->qcount = nc;
    if (!(r->qlabel[r->nq] = cseg__strdup(label)))
        return CSEG_ENOMEM;
    r->qcount[r->nq++] = count;
    return 0;
}

int cseg_report_add_warning(cseg_report *r, const char *text)
{
    char **nw = cseg__reallocarray(r->warn, r->nwarn + 1, sizeof *nw);
    if (!nw)
        return CSEG_ENOMEM;
    r->warn = nw;
    if (!(r->warn[r->nwarn] = cseg__strdup(text)))
        return CSEG_ENOMEM;
    r->nwarn++;
    return 0;
}

int cseg_report_add_rule(cseg_report *r, size_t segment, const char *text, double precision,
                         double recall, double fidelity)
{
    if (segment >= r->nseg)
        return CSEG_EINVAL;
    seg *g = &r->seg[segment];
    if (g->nrules >= 3)
        return 0; /* a card shows three */
    char line[1200];
    snprintf(line, sizeof line, "%s (precision %.0f%%, recall %.0f%%)", text, 100 * precision,
             100 * recall);
    size_t old = g->rules ? strlen(g->rules) : 0, add = strlen(line);
    char *nr = realloc(g->rules, old + add + 2);
    if (!nr)
        return CSEG_ENOMEM;
    if (old)
        nr[old++] = '\n';
    memcpy(nr + old, line, add + 1);
    g->rules = nr;
    g->nrules++;
    r->rule_fidelity = fidelity;
    return 0;
}

int cseg_report_set_migration(cseg_report *r, size_t kp, const char *const *prev_names,
                              const size_t *counts, size_t shared, double ari)
{
    if (!r->nseg || kp == 0)
        return CSEG_EINVAL;
    char **nm = calloc(kp, sizeof *nm);
    size_t *c = malloc(kp * r->nseg * sizeof *c);
    int ok = nm && c;
    for (size_t i = 0; ok && i < kp; i++)
        ok = (nm[i] = cseg__strdup(prev_names[i])) != NULL;
    if (!ok) {
        for (size_t i = 0; nm && i < kp; i++)
            free(nm[i]);
        free(nm);
        free(c);
        return CSEG_ENOMEM;
    }
    memcpy(c, counts, kp * r->nseg * sizeof *c);
    for (size_t i = 0; i < r->mig_kp; i++)
        free(r->mig_names[i]);
    free(r->mig_names);
    free(r->mig_counts);
    r->mig_kp = kp;
    r->mig_names = nm;
    r->mig_counts = c;
    r->mig_shared = shared;
    r->mig_ari = ari;
    return 0;
}

int cseg_report_add_audit(cseg_report *r, const char *column, const char *const *groups,
                          size_t g, const size_t *counts, const cseg_audit_result *res)
{
    if (!r->nseg || g == 0)
        return CSEG_EINVAL;
    cseg__report_audit *na = cseg__reallocarray(r->audit, r->naudit + 1, sizeof *na);
    if (!na)
        return CSEG_ENOMEM;
    r->audit = na;
    cseg__report_audit *a = &r->audit[r->naudit];
    memset(a, 0, sizeof *a);
    a->g = g;
    a->res = *res;
    a->column = cseg__strdup(column);
    a->groups = calloc(g, sizeof *a->groups);
    a->counts = malloc(r->nseg * g * sizeof *a->counts);
    int ok = a->column && a->groups && a->counts;
    for (size_t j = 0; ok && j < g; j++)
        ok = (a->groups[j] = cseg__strdup(groups[j])) != NULL;
    if (!ok) {
        cseg__report_audit_free(a);
        return CSEG_ENOMEM;
    }
    memcpy(a->counts, counts, r->nseg * g * sizeof *a->counts);
    r->naudit++;
    return 0;
}

int cseg_report_set_clv(cseg_report *r, const double bgnbd[4], double unit_days,
                        double horizon_months, double max_T, double max_frequency,
                        const double *clv_mean, const double *clv_total,
                        const double *p_alive_mean, const double *expected_total, size_t k)
{
    cseg__report_clv *c = calloc(1, sizeof *c);
    double *v = k ? malloc(4 * k * sizeof *v) : NULL;
    if (!c || (k && !v)) {
        free(c);
        free(v);
        return CSEG_ENOMEM;
    }
    memcpy(c->bg, bgnbd, 4 * sizeof *bgnbd);
    c->unit_days = unit_days;
    c->horizon = horizon_months;
    c->max_T = max_T;
    c->max_freq = max_frequency;
    c->k = k;
    c->mean = v;
    c->total = v ? v + k : NULL;
    c->alive = v ? v + 2 * k : NULL;
    c->expected = v ? v + 3 * k : NULL;
    for (size_t s = 0; s < k; s++) {
        c->mean[s] = clv_mean[s];
        c->total[s] = clv_total[s];
        c->alive[s] = p_alive_mean[s];
        c->expected[s] = expected_total[s];
    }
    if (r->clv) {
        free(r->clv->mean);
        free(r->clv);
    }
    r->clv = c;
    return 0;
}

int cseg_report_set_clv_holdout(cseg_report *r, const char *calibration_end,
                                const char *holdout_end, size_t n, const char *const *labels,
                                const size_t *customers, const double *actual,
                                const double *predicted)
{
    cseg__report_clv *c = r->clv;
    if (!c || n > 8)
        return CSEG_EINVAL;
    snprintf(c->cal_end, sizeof c->cal_end, "%s", calibration_end ? calibration_end : "");
    snprintf(c->hold_end, sizeof c->hold_end, "%s", holdout_end ? holdout_end : "");
    for (size_t i = 0; i < n; i++) {
        snprintf(c->hlabel[i], sizeof c->hlabel[i], "%s", labels[i] ? labels[i] : "");
        c->hcust[i] = customers[i];
        c->hact[i] = actual[i];
        c->hpred[i] = predicted[i];
    }
    c->nh = n;
    return 0;
}

int cseg_report_add_basket_rule(cseg_report *r, size_t group, const char *antecedent,
                                const char *consequent, double support, double confidence,
                                double lift, double lift_population, double p_value)
{
    if (r->nbrule == r->cap_brule) {
        size_t nc = r->cap_brule ? 2 * r->cap_brule : 32;
        cseg__report_brule *nb = cseg__reallocarray(r->brule, nc, sizeof *nb);
        if (!nb)
            return CSEG_ENOMEM;
        r->brule = nb;
        r->cap_brule = nc;
    }
    cseg__report_brule *b = &r->brule[r->nbrule];
    b->lhs = cseg__strdup(antecedent);
    b->rhs = cseg__strdup(consequent);
    if (!b->lhs || !b->rhs) {
        free(b->lhs);
        free(b->rhs);
        return CSEG_ENOMEM;
    }
    b->group = group;
    b->support = support;
    b->confidence = confidence;
    b->lift = lift;
    b->lift_pop = lift_population;
    b->p_value = p_value;
    r->nbrule++;
    return 0;
}

static double *dup_doubles(const double *x, size_t n)
{
    double *c = malloc((n ? n : 1) * sizeof *c);
    if (c && n)
        memcpy(c, x, n * sizeof *c);
    return c;
}

int cseg_report_set_k_table(cseg_report *r, size_t n, const size_t *k, const double *inertia,
                            const double *silhouette, const double *davies_bouldin,
                            const double *calinski_harabasz, size_t chosen, long elbow)
{
    if (n == 0 || chosen >= n || elbow >= (long)n)
        return CSEG_EINVAL;
    free(r->k);
    free(r->inertia);
    free(r->sil);
    free(r->db);
    free(r->ch);
    r->k = malloc(n * sizeof *r->k);
    r->inertia = dup_doubles(inertia, n);
    r->sil = dup_doubles(silhouette, n);
    r->db = dup_doubles(davies_bouldin, n);
    r->ch = dup_doubles(calinski_harabasz, n);
    if (!r->k || !r->inertia || !r->sil || !r->db || !r->ch)
        return CSEG_ENOMEM;
    memcpy(r->k, k, n * sizeof *k);
    r->nk = n;
    r->chosen = chosen;
    r->elbow = elbow;
    return 0;
}

static int skipped(const char *name, const char *const *skip, size_t n_skip)
{
    for (size_t i = 0; i < n_skip; i++)
        if (strcmp(skip[i], name) == 0)
            return 1;
    return 0;
}

typedef struct lshare {
    double share;
    size_t l;
} lshare;

static int cmp_lshare(const void *a, const void *b)
{
    const lshare *x = a, *y = b;
    if (x->share != y->share)
        return x->share > y->share ? -1 : 1;
    return x->l < y->l ? -1 : x->l > y->l;
}

/* A segment's text columns in one line: per column its three largest level
 * shares, e.g. "Genre: Female 100% · Male 0%". NULL when there are none. */
static char *category_line(const cseg_profile *p, size_t s, const char *const *skip,
                           size_t n_skip)
{
    char buf[2048];
    size_t off = 0;
    buf[0] = 0;
    for (size_t c = 0; c < cseg_profile_n_categories(p) && off < sizeof buf; c++) {
        const char *cn = cseg_profile_category(p, c);
        size_t nl = cseg_profile_n_levels(p, c), m = 0;
        if (skipped(cn, skip, n_skip) || strcmp(cn, "segment_name") == 0)
            continue;
        lshare top[CSEG_PROFILE_MAX_LEVELS];
        for (size_t l = 0; l < nl && l < CSEG_PROFILE_MAX_LEVELS; l++)
            if (!isnan(cseg_profile_level_share(p, c, s, l)))
                top[m++] = (lshare){cseg_profile_level_share(p, c, s, l), l};
        if (m == 0)
            continue;
        qsort(top, m, sizeof *top, cmp_lshare);
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s:", off ? "; " : "", cn);
        for (size_t i = 0; i < m && i < 3 && off < sizeof buf; i++) {
            /* at most 120 bytes of the level, cut before a partial character */
            const char *lv = cseg_profile_level(p, c, top[i].l);
            size_t ll = strlen(lv) < 120 ? strlen(lv) : 120;
            while (ll > 0 && ll < strlen(lv) && ((unsigned char)lv[ll] & 0xC0) == 0x80)
                ll--;
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s %.*s %.0f%%",
                                    i ? " \xC2\xB7" : "", (int)ll, lv, 100 * top[i].share);
        }
    }
    if (off >= sizeof buf) { /* truncated: cut before a partial character */
        off = cseg__utf8_invalid_at(buf, sizeof buf - 1);
        buf[off] = 0;
    }
    return off ? cseg__strdup(buf) : NULL;
}

int cseg_report_set_profile(cseg_report *r, const cseg_profile *p, int rfm,
                            const char *const *skip, size_t n_skip)
{
    free_profile(r);
    size_t k = cseg_profile_k(p), nfp = cseg_profile_n_features(p);
    size_t *keep = malloc((nfp ? nfp : 1) * sizeof *keep), nf = 0;
    if (!keep)
        return CSEG_ENOMEM;
    for (size_t j = 0; j < nfp; j++)
        if (!skipped(cseg_profile_feature(p, j), skip, n_skip))
            keep[nf++] = j;
    r->seg = cseg__calloc(k, sizeof *r->seg);
    r->feat = cseg__calloc(nf, sizeof *r->feat);
    r->pmean = cseg__calloc(nf, sizeof *r->pmean);
    r->psd = cseg__calloc(nf, sizeof *r->psd);
    if (!r->seg || !r->feat || !r->pmean || !r->psd)
        goto oom;
    r->nseg = k;
    r->nf = nf;
    r->rfm = rfm;
    for (size_t j = 0; j < nf; j++) {
        if (!(r->feat[j] = cseg__strdup(cseg_profile_feature(p, keep[j]))))
            goto oom;
        r->pmean[j] = cseg_profile_pop_means(p)[keep[j]];
        r->psd[j] = cseg_profile_pop_sds(p)[keep[j]];
    }
    for (size_t s = 0; s < k; s++) {
        seg *g = &r->seg[s];
        g->name = cseg__strdup(cseg_profile_name(p, s));
        g->mean = cseg__calloc(nf, sizeof *g->mean);
        g->median = cseg__calloc(nf, sizeof *g->median);
        if (!g->name || !g->mean || !g->median)
            goto oom;
        g->size = cseg_profile_size(p, s);
        g->share = cseg_profile_share(p, s);
        g->rev = cseg_profile_revenue_share(p, s);
        g->cats = category_line(p, s, skip, n_skip);
        for (size_t j = 0; j < nf; j++) {
            g->mean[j] = cseg_profile_means(p, s)[keep[j]];
            g->median[j] = cseg_profile_medians(p, s)[keep[j]];
        }
    }
    free(keep);
    return 0;
oom:
    free(keep);
    free_profile(r);
    return CSEG_ENOMEM;
}

/* Sorted indices of a seeded uniform sample of m (<= n) out of n. */
static size_t *sample_indices(size_t n, size_t m, uint64_t seed)
{
    size_t *idx = malloc((m ? m : 1) * sizeof *idx);
    if (!idx)
        return NULL;
    if (m < n) {
        if (cseg__sample_sorted(n, m, seed, idx) < 0) {
            free(idx);
            return NULL;
        }
    } else {
        for (size_t i = 0; i < m; i++)
            idx[i] = i;
    }
    return idx;
}

/* Over pieces, a failure of one (rc) made every piece's (the lowest
 * line's, key, first); alone, rc. */
int cseg__report_agreed(const cseg__report_split *sp, int rc, int64_t key, cseg_diag *d)
{
    cseg_diag ignored;
    cseg_diag_clear(&ignored);
    return sp ? sp->agree(sp->ctx, rc, key, d ? d : &ignored) : rc;
}

/* The scatter plot's sums by segment in row order (the chain's adds): acc
 * holds the x sums and the y sums (k pairs), then the counts (k). */
typedef struct centre_sums {
    const double *Y;
    const int32_t *labels;
    size_t n, nc, k;
} centre_sums;

static void add_centres(void *u, double *acc)
{
    const centre_sums *c = u;
    for (size_t i = 0; i < c->n; i++) {
        if (c->labels[i] < 0 || (size_t)c->labels[i] >= c->k)
            continue;
        size_t l = (size_t)c->labels[i];
        acc[l * 2] += c->Y[i * c->nc];
        acc[l * 2 + 1] += c->nc > 1 ? c->Y[i * c->nc + 1] : 0;
        acc[2 * c->k + l]++;
    }
}

/* Every piece's rows (X, n x d, and labels) on every piece, in order, for
 * the few customers a projection over pieces cannot take (fewer than d). */
static int gather_rows(const cseg__report_split *sp, const double *X, size_t n, size_t d,
                       const int32_t *labels, double **Xa, int32_t **la, size_t *na)
{
    size_t w = d + 1, len = 0;
    double *mine = malloc((n ? n : 1) * w * sizeof *mine), *all = NULL;
    int rc = cseg__report_agreed(sp, mine ? 0 : CSEG_ENOMEM, 0, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        memcpy(mine + i * w, X + i * d, d * sizeof *mine);
        mine[i * w + d] = labels[i];
    }
    if (rc == 0)
        rc = sp->allgather(sp->ctx, mine, n * w * sizeof *mine, (char **)&all, &len);
    free(mine);
    *na = len / (w * sizeof(double));
    *Xa = rc == 0 ? malloc((*na ? *na : 1) * d * sizeof **Xa) : NULL;
    *la = rc == 0 ? malloc((*na ? *na : 1) * sizeof **la) : NULL;
    if (rc == 0 && (rc = cseg__report_agreed(sp, *Xa && *la ? 0 : CSEG_ENOMEM, 0, NULL)) == 0)
        for (size_t i = 0; i < *na; i++) {
            memcpy(*Xa + i * d, all + i * w, d * sizeof **Xa);
            (*la)[i] = (int32_t)all[i * w + d];
        }
    free(all);
    if (rc < 0) {
        free(*Xa), free(*la);
        *Xa = NULL, *la = NULL;
    }
    return rc;
}

int cseg__report_points(cseg_report *r, const double *X, size_t n, size_t d, const int32_t *labels,
                        size_t max_points, uint64_t seed, const cseg__report_split *sp)
{
    if (!r->nseg)
        return CSEG_EINVAL;
    size_t n_all = sp ? sp->n_all : n, row0 = sp ? sp->row0 : 0;
    if (n_all < 2 || d == 0)
        return 0; /* nothing to draw */
    if (sp && n_all < d) { /* a handful of customers: all on every piece */
        double *Xa;
        int32_t *la;
        size_t na;
        int rc = gather_rows(sp, X, n, d, labels, &Xa, &la, &na);
        if (rc == 0)
            rc = cseg__report_points(r, Xa, na, d, la, max_points, seed, NULL);
        free(Xa), free(la);
        return cseg__report_agreed(sp, rc, 0, NULL);
    }
    cseg_pca *pca = NULL;
    size_t nc = d >= 2 ? 2 : 1;
    cseg_pca_params pp;
    cseg_pca_params_init(&pp);
    pp.n_components = nc;
    int rc = sp ? cseg__pca_fit_split(&pca, X, n, d, &pp, sp->sc, n_all, NULL)
                : cseg_pca_fit(&pca, X, n, d, nc);
    if (rc < 0)
        return rc;
    double *Y = malloc((n ? n : 1) * nc * sizeof *Y);
    size_t m = max_points && max_points < n_all ? max_points : n_all;
    size_t *idx = sample_indices(n_all, m, seed);
    double *acc = calloc(r->nseg * 3, sizeof *acc), *cnt = acc ? acc + 2 * r->nseg : NULL;
    free(r->pxy);
    free(r->cxy);
    free(r->plab);
    r->pxy = malloc(m * 2 * sizeof *r->pxy);
    r->cxy = calloc(r->nseg * 2, sizeof *r->cxy);
    r->plab = malloc(m * sizeof *r->plab);
    double *picked = NULL, *all = NULL; /* over pieces: the sampled points, 3 values each */
    size_t lo = 0, hi = 0, len = 0;
    while (sp && idx && lo < m && idx[lo] < row0)
        lo++;
    for (hi = lo; sp && idx && hi < m && idx[hi] < row0 + n;)
        hi++;
    if (sp)
        picked = malloc((hi - lo ? hi - lo : 1) * 3 * sizeof *picked);
    rc = !Y || !idx || !acc || !r->pxy || !r->cxy || !r->plab || (sp && !picked) ? CSEG_ENOMEM : 0;
    if ((rc = cseg__report_agreed(sp, rc, 0, NULL)) < 0)
        goto out;
    cseg_pca_transform(pca, X, n, Y);
    centre_sums cs = {Y, labels, n, nc, r->nseg};
    if (sp)
        rc = sp->sc->chain(sp->sc->ctx, acc, r->nseg * 3, add_centres, &cs);
    else
        add_centres(&cs, acc);
    if (rc < 0)
        goto out;
    for (size_t s = 0; s < r->nseg; s++)
        if (cnt[s] > 0) {
            r->cxy[s * 2] = acc[s * 2] / cnt[s];
            r->cxy[s * 2 + 1] = acc[s * 2 + 1] / cnt[s];
        }
    if (sp) { /* the sampled points of every piece, in order */
        for (size_t t = lo; t < hi; t++) {
            size_t i = idx[t] - row0;
            picked[(t - lo) * 3] = Y[i * nc];
            picked[(t - lo) * 3 + 1] = nc > 1 ? Y[i * nc + 1] : 0;
            picked[(t - lo) * 3 + 2] = labels[i];
        }
        if ((rc = sp->allgather(sp->ctx, picked, (hi - lo) * 3 * sizeof *picked, (char **)&all,
                                &len)) < 0)
            goto out;
    }
    r->npts = 0;
    for (size_t t = 0; t < m; t++) {
        double px, pyv;
        int32_t l;
        if (sp) {
            px = all[t * 3];
            pyv = all[t * 3 + 1];
            l = (int32_t)all[t * 3 + 2];
        } else {
            size_t i = idx[t];
            px = Y[i * nc];
            pyv = nc > 1 ? Y[i * nc + 1] : 0;
            l = labels[i];
        }
        if (l < 0 || (size_t)l >= r->nseg)
            continue;
        r->pxy[r->npts * 2] = px;
        r->pxy[r->npts * 2 + 1] = pyv;
        r->plab[r->npts++] = l;
    }
    r->ntotal = n_all;
    r->ratio[0] = cseg_pca_explained_variance_ratio(pca)[0];
    r->ratio[1] = nc > 1 ? cseg_pca_explained_variance_ratio(pca)[1] : 0;
    rc = 0;
out:
    cseg_pca_free(pca);
    free(Y);
    free(idx);
    free(acc);
    free(picked);
    free(all);
    return rc;
}

int cseg_report_set_points(cseg_report *r, const double *X, size_t n, size_t d,
                           const int32_t *labels, size_t max_points, uint64_t seed)
{
    return cseg__report_points(r, X, n, d, labels, max_points, seed, NULL);
}

typedef struct silv {
    int32_t lab;
    double v;
} silv;

static int cmp_silv(const void *a, const void *b)
{
    const silv *x = a, *y = b;
    if (x->lab != y->lab)
        return x->lab < y->lab ? -1 : 1;
    return (x->v < y->v) - (x->v > y->v); /* descending within a segment */
}

int cseg_report_set_silhouette(cseg_report *r, const double *values, const int32_t *labels,
                               size_t n, size_t max_points, uint64_t seed)
{
    size_t have = 0;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i]) && labels[i] >= 0) {
            have++;
            total += values[i];
        }
    if (!have)
        return 0;
    size_t m = max_points && max_points < have ? max_points : have;
    size_t *idx = sample_indices(have, m, seed);
    silv *sv = malloc(m * sizeof *sv);
    size_t *pos = malloc(have * sizeof *pos);
    if (!idx || !sv || !pos) {
        free(idx);
        free(sv);
        free(pos);
        return CSEG_ENOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i]) && labels[i] >= 0)
            pos[o++] = i;
    for (size_t t = 0; t < m; t++)
        sv[t] = (silv){labels[pos[idx[t]]], values[pos[idx[t]]]};
    qsort(sv, m, sizeof *sv, cmp_silv);
    free(r->silv);
    free(r->silab);
    r->silv = malloc(m * sizeof *r->silv);
    r->silab = malloc(m * sizeof *r->silab);
    int rc = 0;
    if (!r->silv || !r->silab) {
        rc = CSEG_ENOMEM;
    } else {
        for (size_t t = 0; t < m; t++) {
            r->silv[t] = sv[t].v;
            r->silab[t] = sv[t].lab;
        }
        r->nsil = m;
        r->nsil_total = have;
        r->sil_mean = total / (double)have;
    }
    free(idx);
    free(sv);
    free(pos);
    return rc;
}

int cseg__report_distribution(cseg_report *r, const char *feature, const double *x,
                              const int32_t *labels, size_t n, const cseg__report_split *sp)
{
    if (!r->nseg || r->ndist >= MAX_DIST)
        return CSEG_EINVAL;
    double *box = malloc(r->nseg * 5 * sizeof *box);
    double *buf = malloc((n ? n : 1) * sizeof *buf);
    uint64_t *cnt = calloc(r->nseg, sizeof *cnt);
    char *name = cseg__strdup(feature);
    int rc = cseg__report_agreed(sp, box && buf && cnt && name ? 0 : CSEG_ENOMEM, 0, NULL);
    if (rc < 0) {
        free(box), free(buf), free(cnt), free(name);
        return rc;
    }
    static const double qs[5] = {0.05, 0.25, 0.5, 0.75, 0.95};
    for (size_t i = 0; sp && i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < r->nseg && isfinite(x[i]))
            cnt[labels[i]]++;
    if (sp)
        rc = sp->sc->sum(sp->sc->ctx, cnt, r->nseg, NULL, 0);
    for (size_t s = 0; rc == 0 && s < r->nseg; s++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (labels[i] == (int32_t)s && isfinite(x[i]))
                buf[m++] = x[i];
        uint64_t all = sp ? cnt[s] : m;
        if (all && sp) {
            uint64_t rk[10];
            double v[10];
            for (int q = 0; q < 5; q++)
                cseg__quantile_ranks(qs[q], all, rk + 2 * q);
            rc = sp->sc->select(sp->sc->ctx, buf, m, rk, 10, v, NULL);
            for (int q = 0; rc == 0 && q < 5; q++)
                box[s * 5 + (size_t)q] = cseg__quantile_between(v[2 * q], v[2 * q + 1], qs[q], all);
        } else if (all) { /* by selection, not sorting: a million customers */
            rc = cseg__quantiles(buf, m, qs, 5, box + s * 5);
        } else {
            for (int q = 0; q < 5; q++)
                box[s * 5 + (size_t)q] = NAN;
        }
    }
    free(buf);
    free(cnt);
    if (rc < 0) {
        free(box);
        free(name);
        return rc;
    }
    r->dname[r->ndist] = name;
    r->dbox[r->ndist++] = box;
    return 0;
}

int cseg_report_add_distribution(cseg_report *r, const char *feature, const double *x,
                                 const int32_t *labels, size_t n)
{
    return cseg__report_distribution(r, feature, x, labels, n, NULL);
}

int cseg_report_set_outliers(cseg_report *r, long s)
{
    if (!r->nseg || s < -1 || s >= (long)r->nseg)
        return CSEG_EINVAL;
    r->outlier = s;
    return 0;
}

int cseg_report_set_dendrogram(cseg_report *r, const double *linkage, size_t n_leaves,
                               const int32_t *leaf_segment, size_t max_leaves,
                               cseg_linkage linkage_kind, int approximate)
{
    if (!r->nseg || !linkage || n_leaves < 2 || n_leaves < r->nseg || (int)linkage_kind < 0 ||
        linkage_kind > CSEG_LINKAGE_SINGLE || n_leaves > SIZE_MAX / 2 / sizeof(double))
        return CSEG_EINVAL;
    size_t n = n_leaves, m = n - 1, nn = n + m, k = r->nseg;
    size_t p = max_leaves ? max_leaves : 30;
    p = p < k ? k : p;
    p = p > n ? n : p;
    int rc = CSEG_EINVAL;
    int32_t *nodeseg = malloc(nn * sizeof *nodeseg);
    double *size = malloc(nn * sizeof *size);
    size_t *cnt = malloc(nn * sizeof *cnt), *disp = malloc(nn * sizeof *disp),
           *stack = malloc(2 * p * sizeof *stack);
    unsigned char *used = calloc(nn, 1);
    dnode *t = calloc(2 * p - 1, sizeof *t);
    if (!nodeseg || !size || !cnt || !disp || !stack || !used || !t) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        nodeseg[i] = leaf_segment ? leaf_segment[i] : -1;
        if (nodeseg[i] < -1 || nodeseg[i] >= (int32_t)k)
            goto out;
        size[i] = NAN;
        cnt[i] = 1;
    }
    /* Bottom-up: validate, count, and find the segment of every node. */
    for (size_t i = 0; i < m; i++) {
        const double *z = linkage + i * 4;
        if (!(z[0] >= 0 && z[1] >= 0 && z[0] < (double)(n + i) && z[1] < (double)(n + i) &&
              z[0] == floor(z[0]) && z[1] == floor(z[1]) && z[0] != z[1] && isfinite(z[2]) &&
              z[2] >= 0 && isfinite(z[3]) && z[3] > 0))
            goto out;
        size_t a = (size_t)z[0], b = (size_t)z[1], v = n + i;
        if (used[a] || used[b])
            goto out;
        used[a] = used[b] = 1;
        size[v] = z[3];
        cnt[v] = cnt[a] + cnt[b];
        nodeseg[v] = nodeseg[a] == nodeseg[b] ? nodeseg[a] : -1;
        /* a leaf's size is what its merge adds to the other side */
        if (a < n && b < n) {
            if (z[3] == 2)
                size[a] = size[b] = 1;
        } else if (a < n) {
            size[a] = z[3] - size[b];
        } else if (b < n) {
            size[b] = z[3] - size[a];
        }
    }
    /* The drawn leaves, left to right (child a first), down to the kept merges. */
    size_t t0 = n - p, sp = 0, pos = 0;
    stack[sp++] = nn - 1;
    while (sp) {
        size_t v = stack[--sp];
        if (v >= n && v - n >= t0) {
            stack[sp++] = (size_t)linkage[(v - n) * 4 + 1];
            stack[sp++] = (size_t)linkage[(v - n) * 4];
            continue;
        }
        CSEG_ASSERT(pos < p);
        dnode *d = &t[pos];
        d->x = (double)pos;
        d->h = v >= n ? linkage[(v - n) * 4 + 2] : 0;
        d->size = size[v];
        d->n_under = cnt[v];
        d->leaf = v < n ? (long)v : -1;
        d->seg = nodeseg[v];
        disp[v] = pos++;
    }
    for (size_t j = 0; j + 1 < p; j++) {
        size_t i = t0 + j;
        dnode *d = &t[p + j];
        d->a = disp[(size_t)linkage[i * 4]];
        d->b = disp[(size_t)linkage[i * 4 + 1]];
        d->x = (t[d->a].x + t[d->b].x) / 2;
        d->h = linkage[i * 4 + 2];
        d->size = size[n + i];
        d->n_under = cnt[n + i];
        d->leaf = -1;
        d->seg = nodeseg[n + i];
        disp[n + i] = p + j;
    }
    free(r->tree);
    r->tree = t;
    t = NULL;
    r->tree_p = p;
    r->tree_leaves = n;
    r->tree_k = k;
    /* the cut into k segments undoes the last k - 1 merges */
    r->tree_cut_hi = k >= 2 ? linkage[(m - k + 1) * 4 + 2] : NAN;
    r->tree_cut_lo = k >= 2 && k < n ? linkage[(m - k) * 4 + 2] : 0;
    r->tree_link = linkage_kind;
    r->tree_approx = approximate != 0;
    r->tree_coloured = leaf_segment != NULL;
    rc = 0;
out:
    free(t);
    free(used);
    free(stack);
    free(disp);
    free(cnt);
    free(size);
    free(nodeseg);
    return rc;
}

int cseg_report_set_membership(cseg_report *r, const double *proba, size_t n, size_t k,
                               const int32_t *labels)
{
    if (!r->nseg || k != r->nseg)
        return CSEG_EINVAL;
    size_t *c = calloc((k + 1) * N_MBINS, sizeof *c);
    if (!c)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        double best = 0;
        for (size_t s = 0; s < k; s++) {
            double v = proba[i * k + s];
            if (!(v >= -1e-9 && v <= 1 + 1e-9)) { /* rounding of the posteriors */
                free(c);
                return CSEG_EINVAL;
            }
            best = v > best ? v : best;
        }
        if (labels[i] < 0 || (size_t)labels[i] >= k)
            continue;
        size_t b = 0;
        while (b < N_MBINS - 1 && best >= mbin_hi[b])
            b++;
        c[(size_t)labels[i] * N_MBINS + b]++;
        c[k * N_MBINS + b]++;
    }
    free(r->mcount);
    r->mcount = c;
    return 0;
}

/* ---- rendering ---- */

void cseg__report_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            if ((unsigned char)*s < 32 && *s != '\n' && *s != '\t') {
                fputc(' ', f); /* control characters are not allowed in XML */
            } else if ((unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBF &&
                       ((unsigned char)s[2] == 0xBE || (unsigned char)s[2] == 0xBF)) {
                fputs("\xEF\xBF\xBD", f); /* U+FFFE and U+FFFF neither: U+FFFD */
                s += 2;
            } else {
                fputc(*s, f);
            }
        }
    }
}

/* A label that must fit a fixed width: at most max_chars characters (UTF-8
 * code points), the last one an ellipsis when s is longer; the whole text
 * goes in a <title> so that hovering shows it. */
static void esc_label(FILE *f, const char *s, size_t max_chars)
{
    size_t chars = 0, cut = 0, len = strlen(s);
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars == max_chars)
            cut = i; /* byte where the max_chars-th character starts */
    if (chars <= max_chars) {
        cseg__report_esc(f, s);
        return;
    }
    fputs("<tspan><title>", f);
    cseg__report_esc(f, s);
    fputs("</title>", f);
    char *head = cseg__strndup(s, cut);
    cseg__report_esc(f, head ? head : "");
    free(head);
    fputs("\u2026</tspan>", f);
}

/* Numbers for people: thousands separators for counts, 3 significant digits
 * (at least) otherwise. */
static void num(FILE *f, double v)
{
    if (!isfinite(v)) {
        fputs("&#8211;", f);
        return;
    }
    double a = fabs(v);
    if (v == floor(v) && a < 1e15) {
        char buf[40], out[60];
        snprintf(buf, sizeof buf, "%.0f", a);
        size_t len = strlen(buf), o = 0;
        if (v < 0)
            out[o++] = '-';
        for (size_t i = 0; i < len; i++) {
            if (i && (len - i) % 3 == 0)
                out[o++] = ',';
            out[o++] = buf[i];
        }
        out[o] = 0;
        fputs(out, f);
    } else if (a >= 100) {
        fprintf(f, "%.0f", v);
    } else if (a >= 1) {
        fprintf(f, "%.2f", v);
    } else {
        fprintf(f, "%.3g", v);
    }
}

static void pctf(FILE *f, double share)
{
    if (isfinite(share))
        fprintf(f, "%.1f%%", 100 * share);
    else
        fputs("&#8211;", f);
}

typedef struct scale {
    double d0, d1, r0, r1;
} scale;

static double sc(const scale *s, double v)
{
    if (s->d1 == s->d0)
        return (s->r0 + s->r1) / 2;
    return s->r0 + (v - s->d0) / (s->d1 - s->d0) * (s->r1 - s->r0);
}

#define AXIS_TICKS 64

/* Round [lo, hi] out to "nice" ticks (steps of 1, 2 or 5 x 10^n). */
static double nice_step(double lo, double hi, int want)
{
    double span = hi - lo;
    if (!(span > 0))
        return 1;
    double raw = span / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void nice_range(double *lo, double *hi, double *step, int want)
{
    if (!(*hi > *lo)) {
        /* One value: a band around it, wide enough to be seen at its magnitude
         * (1e17 - 1 is 1e17). */
        double w = *lo - 1 == *lo ? fabs(*lo) * 1e-3 : 1;
        *lo -= w;
        *hi += w;
    }
    *step = nice_step(*lo, *hi, want);
    *lo = floor(*lo / *step) * *step;
    *hi = ceil(*hi / *step) * *step;
}

static void num(FILE *f, double v);

static void tick_label(FILE *f, double v, double step)
{
    if (fabs(v) < step * 1e-9)
        v = 0;
    if (step >= 1)
        num(f, round(v)); /* whole numbers, with thousands separators */
    else
        fprintf(f, "%.*f", (int)ceil(-log10(step)), v);
}

/* Axes with ticks and labels in the plot box [x0,x1] x [y0,y1]. */
static void axes(FILE *f, const scale *sx, const scale *sy, double xstep, double ystep,
                 const char *xlabel, const char *ylabel, int xticks)
{
    double x0 = sx->r0, x1 = sx->r1, y0 = sy->r0, y1 = sy->r1; /* y0 bottom */
    fprintf(f, "<g class=\"axis\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x0, y0,
            x1, y0);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x0, y0, x0, y1);
    /* At most AXIS_TICKS ticks a side: a step lost in the magnitude of its
     * values (or a non-finite one) must not loop for ever. */
    int nx = 0, ny = 0;
    if (xticks)
        for (double v = sx->d0; v <= sx->d1 + xstep * 1e-6 && nx++ < AXIS_TICKS; v += xstep) {
            double x = sc(sx, v);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, y0, x, y0 + 4);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y0 + 16);
            tick_label(f, v, xstep);
            fputs("</text>", f);
        }
    for (double v = sy->d0; v <= sy->d1 + ystep * 1e-6 && ny++ < AXIS_TICKS; v += ystep) {
        double y = sc(sy, v);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x0, y,
                x1, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 6, y + 4);
        tick_label(f, v, ystep);
        fputs("</text>", f);
    }
    fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
            (x0 + x1) / 2, y0 + 34);
    cseg__report_esc(f, xlabel);
    fprintf(f, "</text><text class=\"label\" transform=\"translate(%.1f %.1f) rotate(-90)\" "
               "text-anchor=\"middle\">",
            x0 - 58, (y0 + y1) / 2);
    cseg__report_esc(f, ylabel);
    fputs("</text></g>\n", f);
}

static void svg_open(FILE *f, const char *id, int w, int h, const char *title, const char *desc)
{
    fprintf(f, "<figure class=\"chart\" id=\"%s\"><h3>", id);
    cseg__report_esc(f, title);
    fprintf(f, "</h3><svg xmlns=\"http://www.w3.org/2000/svg\" "
               "viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"%s-t %s-d\">",
            w, h, id, id);
    fprintf(f, "<title id=\"%s-t\">", id);
    cseg__report_esc(f, title);
    fprintf(f, "</title><desc id=\"%s-d\">", id);
    cseg__report_esc(f, desc);
    fputs("</desc>\n", f);
}

static void svg_close(FILE *f, const char *caption)
{
    fputs("</svg><figcaption>", f);
    cseg__report_esc(f, caption);
    fputs("</figcaption></figure>\n", f);
}

void cseg__report_svg_open(FILE *f, const char *id, int w, int h, const char *title,
                           const char *desc)
{
    svg_open(f, id, w, h, title, desc);
}

void cseg__report_svg_close(FILE *f, const char *caption) { svg_close(f, caption); }

void cseg__report_nice_range(double *lo, double *hi, double *step, int want)
{
    nice_range(lo, hi, step, want);
}

static void legend(FILE *f, const cseg_report *r, double x, double y)
{
    for (size_t s = 0; s < r->nseg; s++) {
        double yy = y + 16.0 * (double)s;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>", x,
                yy - 9, colour(r, s));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x + 14, yy);
        esc_label(f, r->seg[s].name, 24);
        fputs("</text>", f);
    }
    fputc('\n', f);
}

static void chart_scatter(FILE *f, const cseg_report *r)
{
    if (!r->npts)
        return;
    int W = 760, H = 460;
    double xmin = HUGE_VAL, xmax = -HUGE_VAL, ymin = HUGE_VAL, ymax = -HUGE_VAL;
    for (size_t i = 0; i < r->npts; i++) {
        double x = r->pxy[2 * i], y = r->pxy[2 * i + 1];
        xmin = x < xmin ? x : xmin;
        xmax = x > xmax ? x : xmax;
        ymin = y < ymin ? y : ymin;
        ymax = y > ymax ? y : ymax;
    }
    /* The centres too: they are all customers' means, and a segment none of
     * whose customers is in the sample had its centre drawn off the chart. */
    for (size_t s = 0; s < r->nseg; s++) {
        double x = r->cxy[2 * s], y = r->cxy[2 * s + 1];
        if ((long)s == r->outlier || !isfinite(x) || !isfinite(y))
            continue;
        xmin = x < xmin ? x : xmin;
        xmax = x > xmax ? x : xmax;
        ymin = y < ymin ? y : ymin;
        ymax = y > ymax ? y : ymax;
    }
    double xs, ys;
    nice_range(&xmin, &xmax, &xs, 6);
    nice_range(&ymin, &ymax, &ys, 5);
    scale sx = {xmin, xmax, 80, W - 200}, sy = {ymin, ymax, H - 50, 20};
    char title[160], desc[400], xl[64], yl[64];
    snprintf(title, sizeof title, "Segments in two dimensions (principal components)");
    /* Privacy: a segment of very few customers is shown by its centre only, so
     * that no point (and its tooltip) stands for an identifiable customer. */
    size_t hidden = 0;
    for (size_t i = 0; i < r->npts; i++)
        hidden += r->seg[r->plab[i]].size < CSEG_REPORT_MIN_POINTS;
    snprintf(desc, sizeof desc,
             "Scatter plot of %zu customers%s on the first two principal components of the model "
             "features, coloured by segment, with segment centres marked%s.",
             r->npts - hidden, r->npts < r->ntotal ? " (a sample)" : "",
             hidden ? "; segments of fewer than 10 customers are shown by their centre only" : "");
    snprintf(xl, sizeof xl, "PC1 (%.0f%% of variance)", 100 * r->ratio[0]);
    snprintf(yl, sizeof yl, "PC2 (%.0f%% of variance)", 100 * r->ratio[1]);
    svg_open(f, "chart-pca", W, H, title, desc);
    axes(f, &sx, &sy, xs, ys, xl, yl, 1);
    fputs("<g class=\"points\">", f);
    for (size_t i = 0; i < r->npts; i++) {
        size_t s = (size_t)r->plab[i];
        if (r->seg[s].size < CSEG_REPORT_MIN_POINTS)
            continue;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\"><title>", sc(&sx, r->pxy[2 * i]),
                sc(&sy, r->pxy[2 * i + 1]), colour(r, s));
        cseg__report_esc(f, r->seg[s].name);
        fprintf(f, ": PC1 %.3g, PC2 %.3g</title></circle>", r->pxy[2 * i], r->pxy[2 * i + 1]);
    }
    fputs("</g>\n<g class=\"centres\">", f);
    for (size_t s = 0; s < r->nseg; s++) {
        if ((long)s == r->outlier)
            continue; /* outliers share no centre */
        double cx = sc(&sx, r->cxy[2 * s]), cy = sc(&sy, r->cxy[2 * s + 1]);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"8\" fill=\"%s\" stroke=\"#fff\" "
                   "stroke-width=\"2.5\"><title>Centre of ",
                cx, cy, colour(r, s));
        cseg__report_esc(f, r->seg[s].name);
        fprintf(f, ": PC1 %.3g, PC2 %.3g</title></circle>", r->cxy[2 * s], r->cxy[2 * s + 1]);
        fprintf(f, "<text class=\"clabel\" x=\"%.1f\" y=\"%.1f\">%zu</text>", cx + 10, cy - 8, s + 1);
    }
    fputs("</g>\n", f);
    legend(f, r, W - 180, 30);
    char cap[200];
    if (r->npts < r->ntotal)
        snprintf(cap, sizeof cap, "A uniform sample of %zu of %zu customers is drawn; centres use all.",
                 r->npts, r->ntotal);
    else
        snprintf(cap, sizeof cap, "All %zu customers; numbers mark segment centres.", r->npts);
    svg_close(f, cap);
}

static void small_line(FILE *f, const cseg_report *r, const double *v, const char *name,
                       double ox, double oy, double w, double h, int mark_elbow)
{
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (size_t i = 0; i < r->nk; i++)
        if (isfinite(v[i])) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
    if (!(hi >= lo)) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s: not defined</text>", ox + 60, oy + h / 2, name);
        return;
    }
    double ys;
    nice_range(&lo, &hi, &ys, 4);
    double kmin = (double)r->k[0], kmax = (double)r->k[r->nk - 1];
    scale sx = {kmin, kmax > kmin ? kmax : kmin + 1, ox + 76, ox + w - 10},
          sy = {lo, hi, oy + h - 40, oy + 20};
    fprintf(f, "<text class=\"ptitle\" x=\"%.1f\" y=\"%.1f\">%s</text>", ox + 76, oy + 12, name);
    axes(f, &sx, &sy, 1, ys, "number of segments k", name, 1);
    double cx = sc(&sx, (double)r->k[r->chosen]);
    fprintf(f, "<line class=\"chosen\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", cx,
            sy.r0, cx, sy.r1);
    fputs("<polyline class=\"curve\" points=\"", f);
    for (size_t i = 0; i < r->nk; i++)
        if (isfinite(v[i]))
            fprintf(f, "%.1f,%.1f ", sc(&sx, (double)r->k[i]), sc(&sy, v[i]));
    fputs("\"/>", f);
    for (size_t i = 0; i < r->nk; i++) {
        if (!isfinite(v[i]))
            continue;
        int el = mark_elbow && (long)i == r->elbow;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" class=\"%s\"><title>k = %zu: %s %.6g%s%s</title></circle>",
                sc(&sx, (double)r->k[i]), sc(&sy, v[i]), el ? "6" : "3.5", el ? "elbow" : "dot",
                r->k[i], name, v[i], el ? " (elbow)" : "", i == r->chosen ? " (chosen)" : "");
    }
    fputc('\n', f);
}

static void chart_k(FILE *f, const cseg_report *r)
{
    if (!r->nk)
        return;
    int W = 760, H = 520;
    svg_open(f, "chart-k", W, H, "Choosing the number of segments",
             "Four line charts against k: inertia (with the elbow ringed), silhouette (higher "
             "is better), Davies-Bouldin (lower is better) and Calinski-Harabasz (higher is "
             "better); a dashed line marks the chosen k.");
    small_line(f, r, r->inertia, "inertia", 0, 0, W / 2.0, H / 2.0, 1);
    small_line(f, r, r->sil, "silhouette", W / 2.0, 0, W / 2.0, H / 2.0, 0);
    small_line(f, r, r->db, "Davies-Bouldin", 0, H / 2.0, W / 2.0, H / 2.0, 0);
    small_line(f, r, r->ch, "Calinski-Harabasz", W / 2.0, H / 2.0, W / 2.0, H / 2.0, 0);
    char cap[160];
    snprintf(cap, sizeof cap, "Chosen k = %zu (dashed). %s", r->k[r->chosen],
             r->elbow >= 0 ? "The ringed point is the elbow of the inertia curve." : "");
    svg_close(f, cap);
}

static void chart_silhouette(FILE *f, const cseg_report *r)
{
    if (!r->nsil)
        return;
    int W = 760, H = 460;
    double lo = 0, hi = 1;
    for (size_t i = 0; i < r->nsil; i++)
        lo = r->silv[i] < lo ? r->silv[i] : lo;
    double xs;
    nice_range(&lo, &hi, &xs, 5);
    scale sx = {lo, hi, 80, W - 200}, sy = {0, (double)r->nsil, 20, H - 50};
    char desc[300];
    snprintf(desc, sizeof desc,
             "Horizontal bars, one per customer%s, grouped by segment and sorted; the dashed line "
             "is the mean silhouette %.3f.",
             r->nsil < r->nsil_total ? " of a sample" : "", r->sil_mean);
    svg_open(f, "chart-silhouette", W, H, "Silhouette of each customer, by segment", desc);
    double bh = (sy.r1 - sy.r0) / (double)r->nsil;
    double x0 = sc(&sx, 0);
    size_t start = 0;
    for (size_t i = 0; i <= r->nsil; i++) {
        if (i < r->nsil && (i == 0 || r->silab[i] == r->silab[start])) {
            continue;
        }
        /* bars of one segment [start, i) */
        size_t s = (size_t)r->silab[start];
        fprintf(f, "<g fill=\"%s\"><title>", colour(r, s));
        cseg__report_esc(f, r->seg[s].name);
        double sum = 0;
        for (size_t t = start; t < i; t++)
            sum += r->silv[t];
        fprintf(f, ": %zu customers shown, mean silhouette %.3f</title>", i - start,
                sum / (double)(i - start));
        for (size_t t = start; t < i; t++) {
            double x = sc(&sx, r->silv[t]), y = sy.r0 + bh * (double)t;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\"/>",
                    x < x0 ? x : x0, y, fabs(x - x0), bh > 1 ? bh * 0.9 : bh);
        }
        fputs("</g>\n", f);
        start = i;
    }
    double mx = sc(&sx, r->sil_mean);
    fprintf(f, "<line class=\"chosen\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", mx,
            sy.r0, mx, sy.r1);
    /* x axis only */
    fprintf(f, "<g class=\"axis\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", sx.r0,
            sy.r1, sx.r1, sy.r1);
    int nx = 0;
    for (double v = sx.d0; v <= sx.d1 + xs * 1e-6 && nx++ < AXIS_TICKS; v += xs) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", sc(&sx, v), sy.r1 + 16);
        tick_label(f, v, xs);
        fputs("</text>", f);
    }
    fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">silhouette "
               "coefficient (-1 .. 1)</text></g>\n",
            (sx.r0 + sx.r1) / 2, sy.r1 + 34);
    legend(f, r, W - 180, 30);
    char cap[200];
    snprintf(cap, sizeof cap, "%zu of %zu customers shown; mean silhouette %.3f.", r->nsil,
             r->nsil_total, r->sil_mean);
    svg_close(f, cap);
}

static const char *const link_unit[] = {"Ward distance", "largest distance", "mean distance",
                                        "smallest distance"};

/* The customers under a drawn node, as "412" or "?" when unknown. */
static void tree_size(FILE *f, const dnode *d)
{
    if (isfinite(d->size))
        num(f, d->size);
    else
        fputc('?', f);
}

static void tree_who(FILE *f, const cseg_report *r, const dnode *d)
{
    if (d->seg >= 0) {
        cseg__report_esc(f, r->seg[d->seg].name);
        fputs(": ", f);
    } else if (r->tree_coloured) {
        fputs("several segments: ", f);
    }
}

static void chart_dendrogram(FILE *f, const cseg_report *r)
{
    if (!r->tree)
        return;
    const dnode *t = r->tree;
    size_t p = r->tree_p, k = r->tree_k;
    int W = 760, H = 470;
    double lo = 0, hi = t[2 * p - 2].h, ys;
    nice_range(&lo, &hi, &ys, 5);
    scale sx = {-0.5, (double)p - 0.5, 80, W - 200}, sy = {0, hi, H - 100, 20};
    char desc[600], yl[80], cap[600];
    snprintf(desc, sizeof desc,
             "Dendrogram of the %s-linkage merge tree, truncated to its last %zu merges of %zu: "
             "each of the %zu leaves at the bottom is a branch of %s, labelled with how many "
             "customers it holds; the height at which two branches join is the %s between "
             "them. %s A dashed line marks the cut into %zu segments.",
             cseg_linkage_display_name(r->tree_link), p - 1, r->tree_leaves - 1, p,
             r->tree_approx ? "micro-clusters" : "customers", link_unit[r->tree_link],
             r->tree_coloured ? "Branches within one segment are drawn in its colour, the "
                                "others in dark grey."
                              : "Branches are not coloured by segment.",
             k);
    snprintf(yl, sizeof yl, "merge height (%s, model space)", link_unit[r->tree_link]);
    svg_open(f, "chart-dendrogram", W, H, "Merge tree (dendrogram), top levels", desc);
    axes(f, &sx, &sy, 1, ys, "", yl, 0);
    fputs("<g class=\"links\" fill=\"none\" stroke-width=\"1.6\">", f);
    for (size_t j = 0; j + 1 < p; j++) {
        const dnode *d = &t[p + j], *a = &t[d->a], *b = &t[d->b];
        double xa = sc(&sx, a->x), xb = sc(&sx, b->x), yh = sc(&sy, d->h);
        /* drawn leaves stand at 0, merges at their height */
        fprintf(f, "<path d=\"M%.1f %.1fV%.1fH%.1fV%.1f\" stroke=\"%s\"><title>", xa,
                d->a < p ? sy.r0 : sc(&sy, a->h), yh, xb, d->b < p ? sy.r0 : sc(&sy, b->h),
                d->seg >= 0 ? colour(r, (size_t)d->seg) : MIXED);
        tree_who(f, r, d);
        fprintf(f, "merge at height %.4g of ", d->h);
        tree_size(f, a);
        fputs(" and ", f);
        tree_size(f, b);
        fputs(" customers (", f);
        tree_size(f, d);
        fputs(")</title></path>", f);
    }
    fputs("</g>\n<g class=\"leaves\">", f);
    for (size_t i = 0; i < p; i++) {
        const dnode *d = &t[i];
        double x = sc(&sx, d->x);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" fill=\"%s\"><title>",
                x - 3.5, sy.r0 - 3.5, d->seg >= 0 ? colour(r, (size_t)d->seg) : MIXED);
        tree_who(f, r, d);
        if (d->leaf >= 0 && !r->tree_approx) {
            fprintf(f, "customer on row %ld of the table", d->leaf + 1);
        } else {
            tree_size(f, d);
            if (d->leaf >= 0)
                fputs(" customers in one micro-cluster", f);
            else if (r->tree_approx)
                fprintf(f, " customers in a branch of %zu micro-clusters joined up to height %.4g",
                        d->n_under, d->h);
            else
                fprintf(f, " customers in a branch joined up to height %.4g", d->h);
        }
        fprintf(f,
                "</title></rect><text class=\"small\" transform=\"translate(%.1f %.1f) "
                "rotate(-90)\" text-anchor=\"end\">(",
                x + 4, sy.r0 + 8);
        tree_size(f, d);
        fputs(")</text>", f);
    }
    fputs("</g>\n", f);
    if (k >= 2) {
        double yc = sc(&sy, (r->tree_cut_lo + r->tree_cut_hi) / 2);
        fprintf(f,
                "<line class=\"chosen\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"><title>"
                "cut into %zu segments, between merge heights %.4g and %.4g</title></line>",
                sx.r0, yc, sx.r1, yc, k, r->tree_cut_lo, r->tree_cut_hi);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"small\">cut: %zu segments</text>",
                sx.r0 + 4, yc - 4, k);
    }
    fprintf(f,
            "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">branches of "
            "the tree (customers in each, in brackets)</text>",
            (sx.r0 + sx.r1) / 2, (double)H - 12);
    if (r->tree_coloured) {
        legend(f, r, W - 180, 30);
        double yy = 30 + 16.0 * (double)r->nseg;
        fprintf(f,
                "<rect x=\"%d\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" "
                "y=\"%.1f\">several segments</text>\n",
                W - 180, yy - 9, MIXED, W - 166, yy);
    }
    int o = snprintf(cap, sizeof cap,
                     "The last %zu merges of %zu%s; a number in brackets is how many customers a "
                     "leaf holds. Dashed line: the cut into %zu segments.",
                     p - 1, r->tree_leaves - 1,
                     r->tree_leaves > p ? " (lower merges are folded into the leaves)" : "", k);
    if (r->tree_approx && o > 0 && (size_t)o < sizeof cap)
        snprintf(cap + o, sizeof cap - (size_t)o,
                 " The tree was built on %zu micro-clusters (a k-means pass first), not on single "
                 "customers, so its lowest levels are approximate.%s",
                 r->tree_leaves, r->tree_coloured ? "" : " Branches are not coloured.");
    svg_close(f, cap);
}

static void chart_membership(FILE *f, const cseg_report *r)
{
    if (!r->mcount)
        return;
    const size_t *all = r->mcount + r->nseg * N_MBINS;
    size_t total = 0;
    for (int b = 0; b < N_MBINS; b++)
        total += all[b];
    if (!total)
        return;
    /* names above their bars, so long names fit */
    double rh = 40;
    int W = 760, H = (int)(64 + rh * (double)(r->nseg + 1) + 60);
    scale sx = {0, 100, 40, W - 150};
    double y0 = 56, ybot = y0 + rh * (double)(r->nseg + 1) + 10;
    char desc[500], cap[400];
    double border = (double)(all[0] + all[1]) / (double)total;
    snprintf(desc, sizeof desc,
             "Stacked bars, one per segment and one for all customers: the share of the "
             "segment's customers whose highest membership probability is below 0.7, 0.7 to "
             "0.9, 0.9 to 0.99, or 0.99 or more, with the share of borderline customers (below "
             "0.9) printed at the right. Overall %.1f%% of the customers are borderline.",
             100 * border);
    svg_open(f, "chart-membership", W, H, "How sure is each customer's segment?", desc);
    fprintf(f, "<text x=\"%.1f\" y=\"29\" class=\"small\">highest probability:</text>", sx.r0);
    for (int b = 0; b < N_MBINS; b++) {
        double x = sx.r0 + 125 + 110.0 * b;
        fprintf(
            f,
            "<rect x=\"%.1f\" y=\"20\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%.1f\" "
            "y=\"29\">%s</text>",
            x, mbin_colour[b], x + 14, mbin_label[b]);
    }
    fprintf(f, "\n<text x=\"%.1f\" y=\"%.1f\" class=\"small\">borderline (&lt; 0.9)</text>",
            sx.r1 + 8, y0 + 4);
    for (size_t s = 0; s <= r->nseg; s++) {
        const size_t *c = r->mcount + s * N_MBINS;
        size_t ns = 0;
        for (int b = 0; b < N_MBINS; b++)
            ns += c[b];
        double y = y0 + rh * (double)s + (s == r->nseg ? 8 : 0);
        const char *name = s < r->nseg ? r->seg[s].name : "All customers";
        if (s < r->nseg)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"><tspan class=\"ptitle\">%zu</tspan> ", sx.r0,
                    y + 12, s + 1);
        else
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"ptitle\">", sx.r0, y + 12);
        cseg__report_esc(f, name);
        fputs("</text>", f);
        if (!ns)
            continue;
        double acc = 0;
        for (int b = 0; b < N_MBINS; b++) {
            double share = 100.0 * (double)c[b] / (double)ns;
            if (!c[b])
                continue;
            fprintf(
                f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
                sc(&sx, acc), y + 17, sc(&sx, acc + share) - sc(&sx, acc), rh - 22, mbin_colour[b]);
            cseg__report_esc(f, name);
            fprintf(f,
                    ": %zu of %zu customers (%.1f%%) have a highest membership probability "
                    "%s</title></rect>",
                    c[b], ns, share, mbin_label[b]);
            acc += share;
        }
        double bs = 100.0 * (double)(c[0] + c[1]) / (double)ns;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s>%.1f%%<title>", sx.r1 + 8, y + 30,
                s == r->nseg ? " class=\"ptitle\"" : "", bs);
        cseg__report_esc(f, name);
        fprintf(
            f,
            ": %zu of %zu customers are borderline (highest probability below 0.9)</title></text>",
            c[0] + c[1], ns);
    }
    fprintf(f, "<g class=\"axis\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", sx.r0,
            ybot, sx.r1, ybot);
    for (int v = 0; v <= 100; v += 20)
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" "
                "y=\"%.1f\" text-anchor=\"middle\">%d</text>",
                sc(&sx, v), ybot, sc(&sx, v), ybot + 4, sc(&sx, v), ybot + 16, v);
    fprintf(f,
            "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">share of the "
            "segment's customers (percent), by their highest membership probability</text></g>\n",
            (sx.r0 + sx.r1) / 2, ybot + 34);
    snprintf(cap, sizeof cap,
             "A customer's highest membership probability says how sure the mixture is of their "
             "segment. %zu of %zu customers (%.1f%%) are borderline (below 0.9): they sit between "
             "segments, so check them before targeting by segment.",
             all[0] + all[1], total, 100 * border);
    svg_close(f, cap);
}

static void chart_sizes(FILE *f, const cseg_report *r)
{
    int W = 760, H = 380;
    int has_rev = r->nseg && isfinite(r->seg[0].rev);
    double hi = 0;
    for (size_t s = 0; s < r->nseg; s++) {
        hi = r->seg[s].share > hi ? r->seg[s].share : hi;
        if (has_rev)
            hi = r->seg[s].rev > hi ? r->seg[s].rev : hi;
    }
    double lo = 0, ys;
    hi *= 100;
    nice_range(&lo, &hi, &ys, 5);
    scale sx = {0, (double)r->nseg, 80, W - 20}, sy = {0, hi, H - 70, 30};
    svg_open(f, "chart-sizes", W, H, "Segment sizes and revenue",
             has_rev ? "Grouped bars per segment: share of customers and share of revenue, in "
                       "percent."
                     : "Bars per segment: share of customers, in percent.");
    axes(f, &sx, &sy, 1, ys, "", "percent", 0);
    double slot = (sx.r1 - sx.r0) / (double)r->nseg, bw = has_rev ? slot * 0.35 : slot * 0.6;
    for (size_t s = 0; s < r->nseg; s++) {
        double xc = sx.r0 + slot * ((double)s + 0.5);
        double v1 = 100 * r->seg[s].share, y1 = sc(&sy, v1);
        double x1 = has_rev ? xc - bw : xc - bw / 2;
        fprintf(f, "<rect class=\"bar-cust\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>",
                x1, y1, bw, sy.r0 - y1);
        cseg__report_esc(f, r->seg[s].name);
        fprintf(f, ": %.1f%% of customers (%zu)</title></rect>", v1, r->seg[s].size);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"val\">%.0f%%</text>",
                x1 + bw / 2, y1 - 4, v1);
        if (has_rev) {
            double v2 = 100 * r->seg[s].rev, y2 = sc(&sy, v2 > 0 ? v2 : 0);
            fprintf(f, "<rect class=\"bar-rev\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>",
                    xc, y2, bw, sy.r0 - y2);
            cseg__report_esc(f, r->seg[s].name);
            fprintf(f, ": %.1f%% of revenue</title></rect>", v2);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"val\">%.0f%%</text>",
                    xc + bw / 2, y2 - 4, v2);
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"seglabel\">%zu</text>",
                xc, sy.r0 + 16, s + 1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"small\">", xc,
                sy.r0 + 30);
        cseg__report_esc(f, r->seg[s].name);
        fputs("</text>", f);
    }
    fprintf(f, "<rect class=\"bar-cust\" x=\"%d\" y=\"8\" width=\"10\" height=\"10\"/><text x=\"%d\" "
               "y=\"17\">share of customers</text>",
            W - 300, W - 286);
    if (has_rev)
        fprintf(f, "<rect class=\"bar-rev\" x=\"%d\" y=\"8\" width=\"10\" height=\"10\"/><text "
                   "x=\"%d\" y=\"17\">share of revenue</text>",
                W - 150, W - 136);
    svg_close(f, has_rev ? "Revenue is net spend (purchases minus returns)." : "");
}

/* Diverging colour for z in [-2, 2]: blue (low) - light grey - orange (high). */
static void zcolour(double z, char *buf, size_t size)
{
    if (!isfinite(z))
        z = 0;
    double t = z / 2;
    t = t > 1 ? 1 : t < -1 ? -1 : t;
    const double mid[3] = {247, 247, 247}, lo[3] = {33, 102, 172}, hi[3] = {179, 88, 6};
    const double *e = t < 0 ? lo : hi;
    double a = fabs(t);
    snprintf(buf, size, "rgb(%d,%d,%d)", (int)(mid[0] + (e[0] - mid[0]) * a),
             (int)(mid[1] + (e[1] - mid[1]) * a), (int)(mid[2] + (e[2] - mid[2]) * a));
}

static double zscore(const cseg_report *r, size_t s, size_t j)
{
    return r->psd[j] > 0 ? (r->seg[s].mean[j] - r->pmean[j]) / r->psd[j] : 0;
}

static void chart_heatmap(FILE *f, const cseg_report *r)
{
    if (!r->nf)
        return;
    double cw = r->nf > 8 ? 600.0 / (double)r->nf : 75, ch = 34;
    int W = (int)(200 + cw * (double)r->nf + 20), H = (int)(90 + ch * (double)r->nseg + 40);
    svg_open(f, "chart-heatmap", W, H, "Segment profiles against the population",
             "Heatmap of segments (rows) by features (columns): each cell is the segment mean in "
             "standard deviations from the population mean, printed in the cell; blue is below, "
             "orange above.");
    for (size_t j = 0; j < r->nf; j++) {
        double x = 200 + cw * ((double)j + 0.5);
        fprintf(f, "<text class=\"small\" transform=\"translate(%.1f 80) rotate(-35)\">", x - 6);
        cseg__report_esc(f, r->feat[j]);
        fputs("</text>", f);
    }
    for (size_t s = 0; s < r->nseg; s++) {
        double y = 90 + ch * (double)s;
        fprintf(f, "<text x=\"192\" y=\"%.1f\" text-anchor=\"end\">", y + ch / 2 + 4);
        esc_label(f, r->seg[s].name, 26);
        fputs("</text>", f);
        for (size_t j = 0; j < r->nf; j++) {
            char col[32];
            double z = zscore(r, s, j);
            zcolour(z, col, sizeof col);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
                    200 + cw * (double)j, y, cw - 1, ch - 1, col);
            cseg__report_esc(f, r->seg[s].name);
            fputs(", ", f);
            cseg__report_esc(f, r->feat[j]);
            if (isnan(z)) { /* every customer of the segment misses the column */
                fputs(": no values in this segment</title></rect>", f);
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"cell\">-</text>",
                        200 + cw * ((double)j + 0.5), y + ch / 2 + 4);
                continue;
            }
            /* No "-0.0": a z that rounds to zero is written as 0. */
            double zs = fabs(z) < 0.05 ? 0.0 : z, zt = fabs(z) < 0.005 ? 0.0 : z;
            fprintf(f, ": mean %.4g (population %.4g), z = %.2f</title></rect>", r->seg[s].mean[j],
                    r->pmean[j], zt);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"cell\">%.1f</text>",
                    200 + cw * ((double)j + 0.5), y + ch / 2 + 4, zs);
        }
    }
    /* colour legend */
    double ly = 90 + ch * (double)r->nseg + 14;
    for (int i = 0; i <= 8; i++) {
        char col[32];
        zcolour(-2 + 0.5 * i, col, sizeof col);
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"20\" height=\"10\" fill=\"%s\"/>", 200 + 20 * i,
                ly, col);
    }
    fprintf(f, "<text x=\"196\" y=\"%.1f\" text-anchor=\"end\" class=\"small\">z = -2</text>"
               "<text x=\"384\" y=\"%.1f\" class=\"small\">+2</text>\n",
            ly + 9, ly + 9);
    svg_close(f, "z = (segment mean - population mean) / population standard deviation.");
}

/* Where the previous run's customers went: rows the previous segments,
 * columns this run's, each cell the share of the row's customers. */
static void chart_migration(FILE *f, const cseg_report *r)
{
    if (!r->mig_kp)
        return;
    size_t kp = r->mig_kp, k = r->nseg;
    double cw = k > 8 ? 600.0 / (double)k : 75, ch = 30;
    int W = (int)(220 + cw * (double)k + 140), H = (int)(100 + ch * (double)kp + 20);
    char desc[200];
    snprintf(desc, sizeof desc,
             "Migration matrix: %zu customers of both runs, from each previous segment (rows) to "
             "each segment of this run (columns).",
             r->mig_shared);
    svg_open(f, "chart-migration", W, H, "Since the previous run", desc);
    for (size_t j = 0; j < k; j++) {
        fprintf(f, "<text class=\"small\" transform=\"translate(%.1f 90) rotate(-35)\">",
                220 + cw * ((double)j + 0.5) - 6);
        esc_label(f, r->seg[j].name, 24);
        fputs("</text>", f);
    }
    for (size_t i = 0; i < kp; i++) {
        double y = 100 + ch * (double)i;
        size_t tot = 0;
        for (size_t j = 0; j < k; j++)
            tot += r->mig_counts[i * k + j];
        fprintf(f, "<text x=\"212\" y=\"%.1f\" text-anchor=\"end\">", y + ch / 2 + 4);
        esc_label(f, r->mig_names[i], 28);
        fputs("</text>", f);
        for (size_t j = 0; j < k; j++) {
            size_t c = r->mig_counts[i * k + j];
            double sh = tot ? (double)c / (double)tot : 0;
            /* white to the report's blue (#0072B2) with the share */
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"rgb(%d,%d,%d)\"><title>",
                    220 + cw * (double)j, y, cw - 1, ch - 1, (int)(255 - 255 * sh),
                    (int)(255 - 141 * sh), (int)(255 - 77 * sh));
            cseg__report_esc(f, r->mig_names[i]);
            fputs(" -> ", f);
            cseg__report_esc(f, r->seg[j].name);
            fprintf(f, ": %zu customers, %.1f%%</title></rect>", c, 100 * sh);
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"cell\"%s>%.0f%%</text>",
                    220 + cw * ((double)j + 0.5), y + ch / 2 + 4, sh > 0.55 ? " fill=\"#fff\"" : "",
                    100 * sh);
        }
    }
    char cap[160], ari[32] = "-"; /* undefined (no customer in both runs): a dash, as elsewhere */
    if (isfinite(r->mig_ari))
        snprintf(ari, sizeof ari, "%.3f", r->mig_ari);
    snprintf(cap, sizeof cap,
             "Share of each previous segment's customers in each segment now; adjusted Rand index "
             "between the runs %s (1: the same segments).",
             ari);
    svg_close(f, cap);
}

static void chart_snake(FILE *f, const cseg_report *r)
{
    if (r->nf < 2)
        return;
    int W = 760, H = 400;
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (size_t s = 0; s < r->nseg; s++)
        for (size_t j = 0; j < r->nf; j++) {
            double z = zscore(r, s, j);
            lo = z < lo ? z : lo;
            hi = z > hi ? z : hi;
        }
    double ys;
    nice_range(&lo, &hi, &ys, 5);
    scale sx = {0, (double)(r->nf - 1), 120, W - 200}, sy = {lo, hi, H - 90, 20};
    svg_open(f, "chart-snake", W, H, "Snake plot of standardised segment means",
             "Line chart: for each segment, its standardised mean (z-score) on each feature.");
    axes(f, &sx, &sy, 1, ys, "", "standardised mean (z)", 0);
    for (size_t j = 0; j < r->nf; j++) {
        fprintf(f, "<text class=\"small\" transform=\"translate(%.1f %.1f) rotate(-30)\" "
                   "text-anchor=\"end\">",
                sc(&sx, (double)j), sy.r0 + 14);
        cseg__report_esc(f, r->feat[j]);
        fputs("</text>", f);
    }
    for (size_t s = 0; s < r->nseg; s++) {
        fprintf(f, "<g class=\"snake\" stroke=\"%s\" fill=\"%s\"><polyline fill=\"none\" points=\"",
                colour(r, s), colour(r, s));
        for (size_t j = 0; j < r->nf; j++)
            fprintf(f, "%.1f,%.1f ", sc(&sx, (double)j), sc(&sy, zscore(r, s, j)));
        fputs("\"/>", f);
        for (size_t j = 0; j < r->nf; j++) {
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"><title>", sc(&sx, (double)j),
                    sc(&sy, zscore(r, s, j)));
            cseg__report_esc(f, r->seg[s].name);
            fputs(", ", f);
            cseg__report_esc(f, r->feat[j]);
            fprintf(f, ": z = %.2f</title></circle>", zscore(r, s, j));
        }
        fputs("</g>\n", f);
    }
    legend(f, r, W - 180, 30);
    svg_close(f, "Features on the x axis; 0 is the population mean.");
}

static void chart_boxes(FILE *f, const cseg_report *r, size_t q)
{
    int W = 760, H = 340;
    const double *b = r->dbox[q];
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (size_t s = 0; s < r->nseg; s++)
        if (isfinite(b[s * 5])) {
            lo = b[s * 5] < lo ? b[s * 5] : lo;
            hi = b[s * 5 + 4] > hi ? b[s * 5 + 4] : hi;
        }
    if (!(hi >= lo))
        return;
    double ys;
    nice_range(&lo, &hi, &ys, 5);
    scale sx = {0, (double)r->nseg, 90, W - 20}, sy = {lo, hi, H - 60, 30};
    char id[32], title[200], desc[300];
    snprintf(id, sizeof id, "chart-dist-%zu", q + 1);
    int dl = (int)cseg__utf8_prefix(r->dname[q], 120); /* a long name cut between characters */
    snprintf(title, sizeof title, "Distribution of %.*s by segment", dl, r->dname[q]);
    snprintf(desc, sizeof desc,
             "Box plots of %.*s for each segment: box from the 25th to the 75th percentile, line "
             "at the median, whiskers at the 5th and 95th percentiles.",
             dl, r->dname[q]);
    svg_open(f, id, W, H, title, desc);
    axes(f, &sx, &sy, 1, ys, "segment", r->dname[q], 0);
    double slot = (sx.r1 - sx.r0) / (double)r->nseg, bw = slot * 0.5;
    for (size_t s = 0; s < r->nseg; s++) {
        const double *v = b + s * 5;
        if (!isfinite(v[0]))
            continue;
        double xc = sx.r0 + slot * ((double)s + 0.5);
        fprintf(f, "<g class=\"box\" stroke=\"%s\"><title>", colour(r, s));
        cseg__report_esc(f, r->seg[s].name);
        fputs(": ", f);
        cseg__report_esc(f, r->dname[q]);
        fprintf(f, " 5%% %.4g, 25%% %.4g, median %.4g, 75%% %.4g, 95%% %.4g</title>", v[0], v[1],
                v[2], v[3], v[4]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", xc, sc(&sy, v[0]), xc,
                sc(&sy, v[1]));
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", xc, sc(&sy, v[3]), xc,
                sc(&sy, v[4]));
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                   "fill-opacity=\"0.35\"/>",
                xc - bw / 2, sc(&sy, v[3]), bw, sc(&sy, v[1]) - sc(&sy, v[3]), colour(r, s));
        fprintf(f, "<line class=\"median\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>",
                xc - bw / 2, sc(&sy, v[2]), xc + bw / 2, sc(&sy, v[2]));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"seglabel\">%zu</text>",
                xc, sy.r0 + 16, s + 1);
    }
    fputc('\n', f);
    svg_close(f, "Whiskers at the 5th and 95th percentiles; numbers are segments.");
}

static long feat_index(const cseg_report *r, const char *name)
{
    for (size_t j = 0; j < r->nf; j++)
        if (strcmp(r->feat[j], name) == 0)
            return (long)j;
    return -1;
}

static void cards(FILE *f, const cseg_report *r)
{
    static const char *const rfm_feats[] = {CSEG_RFM_COL_RECENCY, CSEG_RFM_COL_FREQUENCY,
                                            CSEG_RFM_COL_MONETARY};
    fputs("<section id=\"segments\"><h2>Segments</h2><div class=\"cards\">\n", f);
    for (size_t s = 0; s < r->nseg; s++) {
        const seg *g = &r->seg[s];
        fprintf(f, "<article class=\"card\" style=\"border-top-color:%s\"><h3><span class=\"num\">%zu</span> ",
                colour(r, s), s + 1);
        cseg__report_esc(f, g->name);
        fputs("</h3><p class=\"big\">", f);
        num(f, (double)g->size);
        fputs(" customers &#183; ", f);
        pctf(f, g->share);
        if (isfinite(g->rev)) {
            fputs(" of customers &#183; ", f);
            pctf(f, g->rev);
            fputs(" of revenue", f);
        }
        fputs("</p><table class=\"kv\"><tr><th></th><th>segment</th><th>all</th></tr>", f);
        size_t shown = 0;
        for (size_t q = 0; q < r->nf && shown < 6; q++) {
            long j = (long)q;
            if (r->rfm) {
                if (q >= 3)
                    break;
                j = feat_index(r, rfm_feats[q]);
                if (j < 0)
                    continue;
            }
            fputs("<tr><td>", f);
            cseg__report_esc(f, r->feat[j]);
            fputs("</td><td>", f);
            num(f, g->mean[j]);
            fputs("</td><td>", f);
            num(f, r->pmean[j]);
            fputs("</td></tr>", f);
            shown++;
        }
        fputs("</table>", f);
        if (r->rfm) {
            long jr = feat_index(r, CSEG_RFM_COL_R_SCORE), jf = feat_index(r, CSEG_RFM_COL_F_SCORE),
                 jm = feat_index(r, CSEG_RFM_COL_M_SCORE);
            if (jr >= 0 && jf >= 0 && jm >= 0)
                fprintf(f, "<p class=\"scores\">R %.1f &#183; F %.1f &#183; M %.1f <span "
                           "class=\"small\">(mean scores, 1-5)</span></p>",
                        g->mean[jr], g->mean[jf], g->mean[jm]);
        }
        if (g->cats) {
            fputs("<p class=\"small\">", f);
            cseg__report_esc(f, g->cats);
            fputs("</p>", f);
        }
        if (g->rules) {
            fprintf(f, "<p class=\"small\"><strong>Rules</strong> (a depth-3 tree on the "
                       "features; agrees with the segments for %.0f%% of customers):</p>"
                       "<ul class=\"small\" style=\"margin:0 0 6px;padding-left:18px\">",
                    100 * r->rule_fidelity);
            for (const char *p = g->rules; *p;) {
                const char *e = strchr(p, '\n');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                char line[1200];
                snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
                fputs("<li>", f);
                cseg__report_esc(f, line);
                fputs("</li>", f);
                p += len + (e ? 1 : 0);
            }
            fputs("</ul>", f);
        }
        const char *act = r->rfm ? cseg_profile_action_for(g->name) : NULL;
        if (act) {
            fputs("<p class=\"action\"><strong>Suggested action:</strong> ", f);
            cseg__report_esc(f, act);
            fputs("</p>", f);
        }
        fputs("</article>\n", f);
    }
    fputs("</div></section>\n", f);
}

static void table(FILE *f, const cseg_report *r)
{
    fputs("<section id=\"table\"><h2>All segment figures</h2><p class=\"small\">Means (medians "
          "in brackets). Click a column header to sort.</p><div class=\"scroll\"><table "
          "class=\"sortable\" id=\"segtable\"><thead><tr><th>#</th><th>segment</th><th>customers</th>"
          "<th>share</th><th>revenue share</th>",
          f);
    for (size_t j = 0; j < r->nf; j++) {
        fputs("<th>", f);
        cseg__report_esc(f, r->feat[j]);
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
    for (size_t s = 0; s < r->nseg; s++) {
        const seg *g = &r->seg[s];
        fprintf(f, "<tr><td data-v=\"%zu\">%zu</td><td>", s + 1, s + 1);
        cseg__report_esc(f, g->name);
        fprintf(f, "</td><td data-v=\"%zu\">", g->size);
        num(f, (double)g->size);
        fprintf(f, "</td><td data-v=\"%.6g\">", g->share);
        pctf(f, g->share);
        fprintf(f, "</td><td data-v=\"%.6g\">", isfinite(g->rev) ? g->rev : 0);
        pctf(f, g->rev);
        fputs("</td>", f);
        for (size_t j = 0; j < r->nf; j++) {
            fprintf(f, "<td data-v=\"%.10g\">", isfinite(g->mean[j]) ? g->mean[j] : 0);
            num(f, g->mean[j]);
            fputs(" <span class=\"small\">(", f);
            num(f, g->median[j]);
            fputs(")</span></td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div></section>\n", f);
}

const char cseg__report_css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;margin:0;"
    "background:#fafafa}main{max-width:1100px;margin:0 auto;padding:16px}"
    "h1{font-size:26px;margin:8px 0}h2{font-size:20px;margin:28px 0 10px;border-bottom:1px solid "
    "#ddd;padding-bottom:4px}h3{margin:0 0 6px;font-size:17px}"
    ".meta{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:6px 18px;"
    "margin:0}.meta div{background:#fff;border:1px solid #e4e4e4;border-radius:6px;padding:6px "
    "10px}.meta dt{font-size:12px;color:#666}.meta dd{margin:0;font-weight:600}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}"
    ".card{background:#fff;border:1px solid #e4e4e4;border-top:5px solid #888;border-radius:6px;"
    "padding:10px 12px}.num{display:inline-block;min-width:1.4em;text-align:center;background:#333;"
    "color:#fff;border-radius:4px;font-size:13px;margin-right:4px}.big{margin:2px 0 6px}"
    ".kv{border-collapse:collapse;width:100%;font-size:13px}.kv td,.kv th{padding:1px 4px;"
    "text-align:right}.kv td:first-child{text-align:left;color:#555}.action{font-size:13px;"
    "background:#f3f7fb;border-radius:4px;padding:6px}.scores{margin:6px 0;font-size:13px}"
    ".small{font-size:12px;color:#666}figure.chart{background:#fff;border:1px solid #e4e4e4;"
    "border-radius:6px;margin:12px 0;padding:8px}figure.chart h3{margin:4px 8px;font-size:16px}figure.chart svg{width:100%;height:auto;"
    "display:block}figcaption{font-size:12px;color:#555;padding:4px 8px}"
    "svg text{font:12px system-ui,sans-serif;fill:#333}svg .label{font-size:13px;fill:#444}"
    "svg .ptitle{font-weight:600}svg .axis line{stroke:#999}svg .grid{stroke:#eee}"
    "svg .curve{fill:none;stroke:#0072B2;stroke-width:2}svg .dot{fill:#0072B2}"
    "svg .elbow{fill:#fff;stroke:#D55E00;stroke-width:3}svg .chosen{stroke:#D55E00;"
    "stroke-dasharray:5 4;stroke-width:1.5}svg .points circle{fill-opacity:.7}"
    "svg .clabel{font-weight:700}svg .bar-cust{fill:#0072B2}svg .bar-rev{fill:#E69F00}"
    "svg .val{font-size:11px}svg .cell{font-size:11px}svg .snake polyline{stroke-width:2}"
    "svg .box line{stroke-width:1.5}svg .median{stroke-width:3}"
    ".scroll{overflow-x:auto}table.sortable{border-collapse:collapse;background:#fff;"
    "font-size:13px}table.sortable th,table.sortable td{border:1px solid #e4e4e4;padding:4px 6px;"
    "text-align:right;white-space:nowrap}table.sortable th{cursor:pointer;background:#f0f0f0}"
    "table.sortable td:nth-child(2){text-align:left}ul.quality{margin:6px 0;padding-left:20px}"
    ".warnings{border-left:4px solid #D55E00;background:#fff4ec;padding:2px 14px;margin:12px 0}"
    ".warnings h2{margin:8px 0 4px}"
    "@media print{body{background:#fff}figure.chart,.card{break-inside:avoid}}"
    "@media (max-width:600px){main{padding:8px}h1{font-size:21px}}";

/* Sorting, and ?selftest: record errors, resource loads and chart sizes in the
 * page for the headless-browser test. */
static const char script[] =
    "(function(){var t=document.getElementById('segtable');if(t){var hs=t.tHead.rows[0].cells;"
    "for(var i=0;i<hs.length;i++)(function(c){var asc=true;hs[c].addEventListener('click',"
    "function(){var b=t.tBodies[0],rs=Array.prototype.slice.call(b.rows);rs.sort(function(x,y){"
    "var a=x.cells[c],d=y.cells[c],p=a.getAttribute('data-v'),q=d.getAttribute('data-v');"
    "var r=(p!==null&&q!==null)?(parseFloat(p)-parseFloat(q)):a.textContent.localeCompare("
    "d.textContent);return asc?r:-r;});asc=!asc;rs.forEach(function(r){b.appendChild(r);});});"
    "})(i);}"
    "if(location.search.indexOf('selftest')>=0){var errs=[];window.addEventListener('error',"
    "function(e){errs.push(String(e.message));});window.addEventListener('load',function(){"
    "var out=[];var cs=document.querySelectorAll('figure.chart svg');for(var k=0;k<cs.length;k++){"
    "var r=cs[k].getBoundingClientRect();out.push(cs[k].parentNode.id+':'+Math.round(r.width)+"
    "'x'+Math.round(r.height));}var res=performance.getEntriesByType('resource').length;"
    "var p=document.createElement('pre');p.id='selftest';p.textContent='charts '+out.join(' ')+"
    "'\\nresources '+res+'\\nload_ms '+Math.round(performance.now())+'\\nerrors '+errs.length+' '+"
    "errs.join(' | ');document.body.appendChild(p);"
    "});}})();";

int cseg_report_write(const cseg_report *r, const char *path, cseg_diag *d)
{
    if (!r->nseg)
        return cseg__diag(d, CSEG_EINVAL, path, 0, 0, "report has no segments");
    cseg_atomic_file af;
    int rc = cseg__atomic_open(&af, path, d);
    if (rc < 0)
        return rc;
    FILE *f = af.f;
    const char *title = r->text[CSEG_REPORT_TITLE] ? r->text[CSEG_REPORT_TITLE] : "Customer segments";
    fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head>"
          "<meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width, "
          "initial-scale=1\"/><title>",
          f);
    cseg__report_esc(f, title);
    fprintf(f, "</title><style>%s</style></head><body><main>\n<header><h1>", cseg__report_css);
    cseg__report_esc(f, title);
    fputs("</h1><dl class=\"meta\">", f);
    static const struct {
        cseg_report_field f;
        const char *label;
    } meta[] = {{CSEG_REPORT_DATASET, "Dataset"},
                {CSEG_REPORT_PERIOD, "Period"},
                {CSEG_REPORT_AS_OF, "Analysis day"},
                {CSEG_REPORT_ALGORITHM, "Method"},
                {CSEG_REPORT_K_RULE, "Why this many segments"}};
    size_t total = 0;
    for (size_t s = 0; s < r->nseg; s++)
        total += r->seg[s].size;
    fputs("<div><dt>Customers</dt><dd>", f);
    num(f, (double)total);
    fprintf(f, " in %zu segments</dd></div>", r->nseg);
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
        if (!r->text[meta[i].f])
            continue;
        fprintf(f, "<div><dt>%s</dt><dd>", meta[i].label);
        cseg__report_esc(f, r->text[meta[i].f]);
        fputs("</dd></div>", f);
    }
    fputs("</dl>", f);
    if (r->nwarn) {
        fputs("<div class=\"warnings\" role=\"alert\"><h2>Read this first</h2><ul>", f);
        for (size_t w = 0; w < r->nwarn; w++) {
            fputs("<li>", f);
            cseg__report_esc(f, r->warn[w]);
            fputs("</li>", f);
        }
        fputs("</ul></div>", f);
    }
    if (r->nq) {
        fputs("<h2>Data quality</h2><ul class=\"quality\">", f);
        for (size_t q = 0; q < r->nq; q++) {
            fputs("<li>", f);
            num(f, r->qcount[q]);
            fputc(' ', f);
            cseg__report_esc(f, r->qlabel[q]);
            fputs("</li>", f);
        }
        fputs("</ul>", f);
    }
    fputs("</header>\n", f);
    cards(f, r);
    fputs("<section id=\"charts\"><h2>Charts</h2>\n", f);
    chart_sizes(f, r);
    chart_migration(f, r);
    chart_scatter(f, r);
    chart_dendrogram(f, r);
    chart_membership(f, r);
    chart_heatmap(f, r);
    chart_snake(f, r);
    for (size_t q = 0; q < r->ndist; q++)
        chart_boxes(f, r, q);
    chart_k(f, r);
    chart_silhouette(f, r);
    fputs("</section>\n", f);
    table(f, r);
    if (r->clv || r->nbrule) {
        const char **names = calloc(r->nseg + 1, sizeof *names);
        for (size_t s = 0; names && s < r->nseg; s++)
            names[s] = r->seg[s].name;
        if (names && r->clv && r->clv->k == r->nseg)
            cseg__report_clv_section(f, r->clv, names);
        if (names && r->nbrule)
            cseg__report_basket_section(f, r->brule, r->nbrule, names, r->nseg);
        free(names);
    }
    if (r->naudit) {
        const char **names = calloc(r->nseg, sizeof *names);
        for (size_t s = 0; names && s < r->nseg; s++)
            names[s] = r->seg[s].name;
        fputs("<section id=\"audit\"><h2>Bias audit</h2><p class=\"small\">Columns kept out of "
              "the clustering: how their groups are spread over the segments. A representation "
              "ratio is a group's share in the segment over its share among all customers; a "
              "segment whose lowest ratio is below 4/5 of its highest is marked (the four-fifths "
              "rule).</p>\n",
              f);
        for (size_t a = 0; names && a < r->naudit; a++)
            cseg__report_audit_section(f, &r->audit[a], names, r->nseg);
        fputs("</section>\n", f);
        free(names);
    }
    fprintf(f, "<footer class=\"small\"><p>Made by custseg %s. Hover over a chart element for its "
               "values.</p></footer></main><script>//<![CDATA[\n%s\n//]]></script></body></html>\n",
            CSEG_VERSION_STRING, script);
    return cseg__atomic_commit(&af, d);
}
