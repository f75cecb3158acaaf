/* custseg — segment profiles and the naming rules documented in profile.h. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/features.h"
#include "custseg/profile.h"
#include "internal.h"

/* A text column: the share of each level per segment. */
typedef struct pcat {
    char *name;
    size_t nl;
    char **level;
    double *share; /* (k + 1) x nl: segment s from s * nl, all customers last */
} pcat;

struct cseg_profile {
    size_t k, nf, n;
    size_t ncat;
    pcat *cat;
    char **feat;
    size_t *size;
    double *rev;      /* k revenue shares */
    double *mean;     /* k x nf */
    double *median;   /* k x nf */
    double *pmean, *psd;
    char **names;
    int32_t *fidx; /* open-addressing index of feature names (fcap slots) */
    size_t fcap;
};

void cseg_profile_free(cseg_profile *p)
{
    if (!p)
        return;
    for (size_t j = 0; j < p->nf; j++)
        free(p->feat[j]);
    for (size_t s = 0; s < p->k; s++)
        free(p->names ? p->names[s] : NULL);
    for (size_t c = 0; c < p->ncat; c++) {
        for (size_t l = 0; l < p->cat[c].nl; l++)
            free(p->cat[c].level[l]);
        free(p->cat[c].name);
        free(p->cat[c].level);
        free(p->cat[c].share);
    }
    free(p->cat);
    free(p->feat);
    free(p->fidx);
    free(p->names);
    free(p->size);
    free(p->rev);
    free(p->mean);
    free(p->median);
    free(p->pmean);
    free(p->psd);
    free(p);
}

/* Counts (nc) and accumulators (na) made those of every piece; alone, as
 * they are. */
static int merge(const cseg__split_comm *comm, uint64_t *counts, size_t nc, cseg__xsum *acc,
                 size_t na)
{
    return comm ? comm->sum(comm->ctx, counts, nc, acc, na) : 0;
}

/* The sum of x[order[q]], q in [q0, q1), the values that are not NaN, into
 * *acc (exactly rounded: the same bits for any order and split of the
 * rows); returns their number. xb: scratch. */
static uint64_t sum_of(const double *x, const size_t *order, size_t q0, size_t q1,
                       cseg__xsum_buf *xb, cseg__xsum *acc)
{
    uint64_t c = 0;
    cseg__xsum_buf_init(xb);
    for (size_t q = q0; q < q1; q++)
        if (!isnan(x[order[q]])) {
            cseg__xsum_buf_add(xb, x[order[q]]);
            c++;
        }
    cseg__xsum_buf_flush_all(xb);
    *acc = xb->acc;
    return c;
}

/* Column j's levels of every piece (*lv, *nl; NULL when it has more than a
 * profile shows, found without gathering an id column's) and where each of
 * this piece's levels is among them (*map). */
static int all_levels(const cseg_table *t, size_t j, const cseg__split_comm *comm, char ***lv,
                      size_t *nl, size_t **map, cseg_diag *d)
{
    size_t n = cseg_table_n_levels(t, j);
    uint64_t many = n > CSEG_PROFILE_MAX_LEVELS;
    int rc = merge(comm, &many, 1, NULL, 0);
    *lv = NULL;
    *nl = 0;
    *map = NULL;
    if (rc < 0 || many)
        return rc;
    char **mine = cseg__calloc(n, sizeof *mine);
    rc = mine ? 0 : CSEG_ENOMEM;
    for (size_t l = 0; l < n && rc == 0; l++)
        if (!(mine[l] = cseg__strdup(cseg_table_level(t, j, (int32_t)l))))
            rc = CSEG_ENOMEM;
    size_t got = n;
    if (comm) {
        int rc2 = comm->levels(comm->ctx, rc, &mine, &got, d);
        rc = rc2 < 0 ? rc2 : rc;
    }
    size_t *m = rc == 0 ? cseg__calloc(n, sizeof *m) : NULL;
    uint64_t fail = rc == 0 && !m;
    if (rc == 0 && (rc = merge(comm, &fail, 1, NULL, 0)) == 0 && fail)
        rc = CSEG_ENOMEM;
    /* This piece's levels are in the list of every piece's, in their order. */
    for (size_t l = 0, g = 0; rc == 0 && l < n; l++) {
        const char *want = cseg_table_level(t, j, (int32_t)l);
        while (g < got && strcmp(mine[g], want) != 0)
            g++;
        if (g == got) { /* not in order after all: look from the start */
            for (g = 0; g < got && strcmp(mine[g], want) != 0; g++)
                ;
        }
        m[l] = g;
    }
    if (rc < 0) {
        for (size_t l = 0; mine && l < got; l++)
            free(mine[l]);
        free(mine);
        free(m);
        return rc;
    }
    *lv = mine;
    *nl = got;
    *map = m;
    return 0;
}

/* The text columns with at most CSEG_PROFILE_MAX_LEVELS levels that are not
 * one level per row (an id): level shares per segment and overall. */
static int profile_categories(cseg_profile *p, const cseg_table *t, const int32_t *labels,
                              const cseg__split_comm *comm, cseg_diag *d)
{
    size_t nc = cseg_table_n_cols(t), k = p->k, n = cseg_table_n_rows(t);
    for (size_t j = 0; j < nc; j++) {
        const int32_t *code = cseg_table_codes(t, j);
        if (!code) /* the same column types on every piece */
            continue;
        char **lv;
        size_t nl, *map;
        int rc = all_levels(t, j, comm, &lv, &nl, &map, d);
        if (rc < 0)
            return rc;
        if (!lv || nl == 0 || nl > CSEG_PROFILE_MAX_LEVELS || (nl == p->n && p->n > 1)) {
            for (size_t l = 0; l < nl; l++)
                free(lv[l]);
            free(lv);
            free(map);
            continue;
        }
        /* Customers per segment and level (all customers last), of every piece. */
        uint64_t *cnt = cseg__calloc((k + 1) * nl, sizeof *cnt), fail = !cnt;
        pcat *grown = realloc(p->cat, (p->ncat + 1) * sizeof *grown);
        if (grown)
            p->cat = grown;
        fail |= !grown;
        if (grown) {
            pcat *c = &p->cat[p->ncat++];
            *c = (pcat){cseg__strdup(cseg_table_col_name(t, j)), nl, lv,
                        calloc((k + 1) * nl, sizeof *c->share)};
            fail |= !c->name || !c->share;
        } else {
            for (size_t l = 0; l < nl; l++)
                free(lv[l]);
            free(lv);
        }
        size_t nlocal = cseg_table_n_levels(t, j);
        for (size_t i = 0; !fail && i < n; i++) {
            int32_t v = code[i];
            if (labels[i] >= 0 && (size_t)labels[i] < k && v >= 0 && (size_t)v < nlocal) {
                cnt[(size_t)labels[i] * nl + map[v]]++;
                cnt[k * nl + map[v]]++;
            }
        }
        free(map);
        if ((rc = merge(comm, &fail, 1, NULL, 0)) == 0 && !fail)
            rc = merge(comm, cnt, (k + 1) * nl, NULL, 0);
        if (rc == 0 && fail)
            rc = CSEG_ENOMEM;
        if (rc < 0) {
            free(cnt);
            return rc;
        }
        pcat *c = &p->cat[p->ncat - 1];
        for (size_t s = 0; s <= k; s++) {
            uint64_t tot = 0;
            for (size_t l = 0; l < nl; l++)
                tot += cnt[s * nl + l];
            for (size_t l = 0; l < nl; l++)
                c->share[s * nl + l] = tot > 0 ? (double)cnt[s * nl + l] / (double)tot : NAN;
        }
        free(cnt);
    }
    return 0;
}

int cseg_profile_compute(cseg_profile **out, const cseg_table *t, const int32_t *labels,
                         size_t k, const char *revenue_column)
{
    cseg_diag ignored;
    return cseg__profile_compute_split(out, t, labels, k, revenue_column, NULL, &ignored);
}

int cseg__profile_compute_split(cseg_profile **out, const cseg_table *t, const int32_t *labels,
                                size_t k, const char *revenue_column, const cseg__split_comm *comm,
                                cseg_diag *d)
{
    *out = NULL;
    if (k == 0)
        return CSEG_EINVAL;
    size_t n = cseg_table_n_rows(t), nc = cseg_table_n_cols(t);
    cseg_profile *p = calloc(1, sizeof *p);
    double *buf = NULL;
    size_t *start = NULL, *order = NULL;
    uint64_t *cnt = NULL;
    cseg__xsum *acc = NULL;
    cseg__xsum_buf *xb = NULL;
    int rc = 0;
    if (!p) { /* the others learn of it in the first sum, as below */
        uint64_t head[2] = {1, n};
        merge(comm, head, 2, NULL, 0);
        return CSEG_ENOMEM;
    }
    p->k = k;
    for (size_t j = 0; j < nc; j++)
        p->nf += cseg_table_col_type(t, j) == CSEG_COL_NUMBER;
    p->feat = cseg__calloc(p->nf, sizeof *p->feat);
    p->size = cseg__calloc(k, sizeof *p->size);
    p->rev = cseg__calloc(k, sizeof *p->rev);
    p->mean = cseg__calloc(k * p->nf, sizeof *p->mean);
    p->median = cseg__calloc(k * p->nf, sizeof *p->median);
    p->pmean = cseg__calloc(p->nf, sizeof *p->pmean);
    p->psd = cseg__calloc(p->nf, sizeof *p->psd);
    p->names = cseg__calloc(k, sizeof *p->names);
    start = cseg__calloc(2 * k + 1, sizeof *start); /* then k places to fill (pos) */
    order = cseg__calloc(n, sizeof *order);
    buf = cseg__calloc(n, sizeof *buf);
    cnt = cseg__calloc(k + 1, sizeof *cnt);
    acc = cseg__calloc(k + 1, sizeof *acc);
    xb = malloc(sizeof *xb);
    int bad = !p->feat || !p->size || !p->rev || !p->mean || !p->median || !p->pmean || !p->psd ||
              !p->names || !start || !order || !buf || !cnt || !acc || !xb;
    for (size_t s = 0; s < k && !bad; s++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "Segment %zu", s + 1);
        bad = !(p->names[s] = cseg__strdup(tmp));
    }
    for (size_t j = 0, f = 0; j < nc && !bad; j++)
        if (cseg_table_numbers(t, j))
            bad = !(p->feat[f++] = cseg__strdup(cseg_table_col_name(t, j)));
    /* Failures and rows of every piece (each goes on only if all can),
     * then the sizes of the segments. */
    uint64_t head[2] = {(uint64_t)bad, n};
    if ((rc = merge(comm, head, 2, NULL, 0)) < 0)
        goto out;
    if (head[0]) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    p->n = (size_t)head[1];
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < k)
            cnt[labels[i]]++;
    if ((rc = merge(comm, cnt, k, NULL, 0)) < 0)
        goto out;
    for (size_t s = 0; s < k; s++)
        p->size[s] = (size_t)cnt[s];
    /* This piece's customers, segment by segment. */
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < k)
            start[labels[i] + 1]++;
    for (size_t s = 0; s < k; s++)
        start[s + 1] += start[s];
    size_t *pos = start + k + 1;
    memcpy(pos, start, k * sizeof *pos);
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < k)
            order[pos[labels[i]]++] = i;
    size_t m = start[k];
    /* Revenue by segment: a missing value counts for nothing. */
    long jr = revenue_column ? cseg_table_find(t, revenue_column) : -1;
    const double *rv = jr >= 0 ? cseg_table_numbers(t, (size_t)jr) : NULL;
    if (rv) {
        for (size_t s = 0; s < k; s++)
            sum_of(rv, order, start[s], start[s + 1], xb, &acc[s]);
        if ((rc = merge(comm, NULL, 0, acc, k)) < 0)
            goto out;
    }
    double rtot = 0;
    for (size_t s = 0; s < k; s++) {
        p->rev[s] = rv ? cseg__xsum_value(&acc[s]) : NAN;
        rtot += p->rev[s];
    }
    for (size_t s = 0; s < k; s++)
        p->rev[s] = rv && rtot != 0 ? p->rev[s] / rtot : NAN;
    size_t f = 0;
    for (size_t j = 0; j < nc; j++) {
        const double *x = cseg_table_numbers(t, j);
        if (!x)
            continue;
        /* Exactly rounded sums (cseg__xsum): the same bits for any order of
         * the customers, so for customers spread over processes. Per
         * segment, then all of them. */
        for (size_t s = 0; s < k; s++)
            cnt[s] = sum_of(x, order, start[s], start[s + 1], xb, &acc[s]);
        cnt[k] = sum_of(x, order, 0, m, xb, &acc[k]);
        if ((rc = merge(comm, cnt, k + 1, acc, k + 1)) < 0)
            goto out;
        uint64_t all = cnt[k];
        double mu = all > 0 ? cseg__xsum_value(&acc[k]) / (double)all : NAN;
        for (size_t s = 0; s < k; s++)
            p->mean[s * p->nf + f] = cnt[s] ? cseg__xsum_value(&acc[s]) / (double)cnt[s] : NAN;
        cseg__xsum_buf_init(xb);
        for (size_t q = 0; q < m; q++)
            if (!isnan(x[order[q]]))
                cseg__xsum_buf_add(xb, (x[order[q]] - mu) * (x[order[q]] - mu));
        cseg__xsum_buf_flush_all(xb);
        acc[k] = xb->acc;
        if ((rc = merge(comm, NULL, 0, &acc[k], 1)) < 0)
            goto out;
        p->pmean[f] = mu;
        p->psd[f] = all > 0 ? sqrt(cseg__xsum_value(&acc[k]) / (double)all) : NAN;
        /* Medians by selection, not sorting: a million customers. */
        for (size_t s = 0; s < k; s++) {
            uint64_t C = cnt[s];
            size_t h = 0;
            for (size_t q = start[s]; q < start[s + 1]; q++)
                if (!isnan(x[order[q]]))
                    buf[h++] = x[order[q]];
            p->median[s * p->nf + f] = NAN;
            if (C == 0)
                continue;
            uint64_t rk[2] = {C % 2 ? C / 2 : C / 2 - 1, C / 2};
            double md[2];
            if (comm) {
                rc = comm->select(comm->ctx, buf, h, rk, 2, md, d);
            } else {
                size_t r2[2] = {(size_t)rk[0], (size_t)rk[1]};
                rc = cseg__select_doubles(buf, h, r2, 2, md);
            }
            if (rc < 0)
                goto out;
            p->median[s * p->nf + f] = C % 2 ? md[1] : 0.5 * (md[0] + md[1]);
        }
        f++;
    }
    if ((rc = profile_categories(p, t, labels, comm, d)) < 0)
        goto out;
    /* Features found by name in O(1): a table may have 100,000 columns. */
    p->fcap = 64;
    while (p->fcap < 2 * p->nf)
        p->fcap *= 2;
    if (!(p->fidx = malloc(p->fcap * sizeof *p->fidx))) {
        rc = CSEG_ENOMEM; /* nothing collective follows */
        goto out;
    }
    memset(p->fidx, 0xff, p->fcap * sizeof *p->fidx);
    for (size_t j = 0; j < p->nf; j++) {
        size_t i = (size_t)cseg__hash(p->feat[j], strlen(p->feat[j]), 0) & (p->fcap - 1);
        while (p->fidx[i] >= 0)
            i = (i + 1) & (p->fcap - 1);
        p->fidx[i] = (int32_t)j;
    }
out:
    free(buf);
    free(start);
    free(order);
    free(cnt);
    free(acc);
    free(xb);
    if (rc < 0) {
        cseg_profile_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

size_t cseg_profile_k(const cseg_profile *p)
{
    return p->k;
}

size_t cseg_profile_n_features(const cseg_profile *p)
{
    return p->nf;
}

const char *cseg_profile_feature(const cseg_profile *p, size_t j)
{
    return j < p->nf ? p->feat[j] : NULL;
}

long cseg_profile_find(const cseg_profile *p, const char *name)
{
    size_t i = (size_t)cseg__hash(name, strlen(name), 0) & (p->fcap - 1);
    for (; p->fidx[i] >= 0; i = (i + 1) & (p->fcap - 1))
        if (strcmp(p->feat[p->fidx[i]], name) == 0)
            return p->fidx[i];
    return -1;
}

size_t cseg_profile_size(const cseg_profile *p, size_t s)
{
    return s < p->k ? p->size[s] : 0;
}

double cseg_profile_share(const cseg_profile *p, size_t s)
{
    size_t m = 0;
    for (size_t q = 0; q < p->k; q++)
        m += p->size[q];
    return s < p->k && m ? (double)p->size[s] / (double)m : NAN;
}

double cseg_profile_revenue_share(const cseg_profile *p, size_t s)
{
    return s < p->k ? p->rev[s] : NAN;
}

const double *cseg_profile_means(const cseg_profile *p, size_t s)
{
    return s < p->k ? p->mean + s * p->nf : NULL;
}

const double *cseg_profile_medians(const cseg_profile *p, size_t s)
{
    return s < p->k ? p->median + s * p->nf : NULL;
}

const double *cseg_profile_pop_means(const cseg_profile *p)
{
    return p->pmean;
}

const double *cseg_profile_pop_sds(const cseg_profile *p)
{
    return p->psd;
}

size_t cseg_profile_n_categories(const cseg_profile *p)
{
    return p->ncat;
}

const char *cseg_profile_category(const cseg_profile *p, size_t c)
{
    return c < p->ncat ? p->cat[c].name : NULL;
}

size_t cseg_profile_n_levels(const cseg_profile *p, size_t c)
{
    return c < p->ncat ? p->cat[c].nl : 0;
}

const char *cseg_profile_level(const cseg_profile *p, size_t c, size_t l)
{
    return c < p->ncat && l < p->cat[c].nl ? p->cat[c].level[l] : NULL;
}

double cseg_profile_level_share(const cseg_profile *p, size_t c, size_t s, size_t l)
{
    if (c >= p->ncat || s > p->k || l >= p->cat[c].nl)
        return NAN;
    return p->cat[c].share[s * p->cat[c].nl + l];
}

const char *cseg_profile_name(const cseg_profile *p, size_t s)
{
    return s < p->k ? p->names[s] : NULL;
}

static int name_taken(const cseg_profile *p, size_t upto, const char *name, size_t skip)
{
    for (size_t s = 0; s < upto; s++)
        if (s != skip && strcmp(p->names[s], name) == 0)
            return 1;
    return 0;
}

/* Segment s's name becomes a copy of name. */
static int set_name(cseg_profile *p, size_t s, const char *name)
{
    char *c = cseg__strdup(name);
    if (!c)
        return CSEG_ENOMEM;
    free(p->names[s]);
    p->names[s] = c;
    return 0;
}

int cseg_profile_set_name(cseg_profile *p, size_t s, const char *name)
{
    if (s >= p->k || !name || !*name || name_taken(p, p->k, name, s))
        return CSEG_EINVAL;
    return set_name(p, s, name);
}

/* ---- RFM names ----
 * The regions of the R x FM map (docs/cli.md, "Segment order and names"):
 * a segment takes a canonical name when its mean R and FM = (mean F +
 * mean M) / 2 lie in the name's region ([lo, hi); the first row that holds
 * the point) and mean F and mean M are at most RFM_FM_GAP apart; otherwise a
 * descriptive name from its three scores. */
#define RFM_FM_GAP 1.5
static const struct rfm_region {
    const char *name;
    double r_lo, r_hi, fm_lo, fm_hi;
    const char *action;
} rfm_regions[] = {
    {"Champions", 4.5, INFINITY, 3.5, INFINITY,
     "Reward them: early access, loyalty perks; ask for reviews and referrals."},
    {"Loyal Customers", 2.5, 4.5, 3.5, INFINITY,
     "Upsell higher-value products; invite them to the loyalty programme."},
    {"Potential Loyalists", 3.5, INFINITY, 1.5, 3.5,
     "Offer membership or loyalty rewards; recommend related products."},
    {"New Customers", 4.5, INFINITY, -INFINITY, 1.5,
     "Onboard well: welcome series and an incentive for the second order."},
    {"Promising", 3.5, 4.5, -INFINITY, 1.5,
     "Build the relationship: brand content, free trials, small first offers."},
    {"Need Attention", 2.5, 3.5, 2.5, 3.5, "Limited-time offers based on what they bought before."},
    {"About to Sleep", 2.5, 3.5, -INFINITY, 2.5,
     "Reactivate: popular products and personalised discounts."},
    {"Can't Lose Them", -INFINITY, 2.5, 4.5, INFINITY,
     "Win them back with high-value offers; reach out personally."},
    {"At Risk", -INFINITY, 2.5, 2.5, 4.5, "Win-back campaign: personalised emails with strong offers."},
    {"Lost", -INFINITY, 1.5, -INFINITY, 1.5,
     "Only inexpensive win-back attempts; otherwise leave them out of paid campaigns."},
    {"Hibernating", -INFINITY, 2.5, -INFINITY, 2.5,
     "Low-cost reactivation: recommend popular items, occasional offers."},
};
#define N_REGIONS (sizeof rfm_regions / sizeof rfm_regions[0])

/* Descriptive names: one word per score, by level (below 2.5, below 3.5, else). */
static const char *const r_words[3] = {"Lapsed", "Cooling", "Recent"};
static const char *const f_words[3] = {"Rare", "Occasional", "Frequent"};
static const char *const m_words[3] = {"Low spend", "Mid spend", "High spend"};
/* Their actions, by R level and by which of F and M stands higher. */
static const char *const desc_actions[3][3] = {
    /* M above F: few, large orders; F above M: many small ones; level */
    {"Win them back with a personal, high-value offer: they spent well when they bought.",
     "Low-cost win-back: reminders of the items they bought often.",
     "Only inexpensive win-back attempts."},
    {"Re-engage before they lapse: a personal offer on what they bought before.",
     "Re-engage before they lapse: a bundle or volume offer on their usual items.",
     "Re-engage before they lapse: limited-time offers on what they bought before."},
    {"Bring them back sooner: replenishment reminders and loyalty points on the next order.",
     "Raise order value: bundles, volume offers and free-shipping thresholds.",
     "Keep them engaged with offers based on what they bought."},
};

static int level3(double v)
{
    return v < 2.5 ? 0 : v < 3.5 ? 1 : 2;
}

static const struct rfm_region *rfm_region_of(double r, double f, double m)
{
    double fm = 0.5 * (f + m);
    if (!(fabs(f - m) <= RFM_FM_GAP))
        return NULL;
    for (size_t q = 0; q < N_REGIONS; q++)
        if (r >= rfm_regions[q].r_lo && r < rfm_regions[q].r_hi && fm >= rfm_regions[q].fm_lo &&
            fm < rfm_regions[q].fm_hi)
            return &rfm_regions[q];
    return NULL;
}

static int word_index(const char *const *words, const char *w, size_t len)
{
    for (int i = 0; i < 3; i++)
        if (strlen(words[i]) == len && memcmp(words[i], w, len) == 0)
            return i;
    return -1;
}

#define DOT " \xC2\xB7 " /* " · " */

const char *cseg_profile_action_for(const char *name)
{
    if (!name)
        return NULL;
    /* "Champions (top spend)": the qualifier does not change the action. */
    size_t len = strlen(name);
    const char *paren = strstr(name, " (");
    if (paren && len > 0 && name[len - 1] == ')')
        len = (size_t)(paren - name);
    for (size_t q = 0; q < N_REGIONS; q++)
        if (strlen(rfm_regions[q].name) == len && memcmp(rfm_regions[q].name, name, len) == 0)
            return rfm_regions[q].action;
    /* "Recent · Frequent · Low spend" */
    int lv[3];
    const char *const *words[3] = {r_words, f_words, m_words};
    const char *at = name, *end = name + len;
    for (int part = 0; part < 3; part++) {
        const char *dot = part < 2 ? strstr(at, DOT) : end;
        if (!dot || dot > end || (lv[part] = word_index(words[part], at, (size_t)(dot - at))) < 0)
            return NULL;
        at = dot + strlen(DOT);
    }
    return desc_actions[lv[0]][lv[2] > lv[1] ? 0 : lv[1] > lv[2] ? 1 : 2];
}

/* Qualifiers for segments that would share a name: their rank on one axis. */
typedef struct qual_words {
    const char *top2, *bottom2, *top, *bottom, *rank; /* %s: the axis label; rank: %s %zu */
} qual_words;

static const qual_words rfm_quals[3] = {
    {"top %s", "lower %s", "top %s", "lowest %s", "%s rank %zu"},                        /* M */
    {"most recent", "less recent", "most recent", "least recent", "%s rank %zu"},         /* R */
    {"most frequent", "less frequent", "most frequent", "least frequent", "%s rank %zu"}, /* F */
};
static const char *const rfm_qual_labels[3] = {"spend", "recency", "frequency"};
static const qual_words feature_quals = {"higher %s", "lower %s", "highest %s", "lowest %s",
                                         "%s rank %zu"};

/* A value and an index, sorted by value descending, then index ascending:
 * segments by rank, name parts by |z|. */
typedef struct rankkey {
    double v;
    size_t s;
} rankkey;

static int cmp_rank(const void *a, const void *b)
{
    const rankkey *x = a, *y = b;
    if (x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return x->s < y->s ? -1 : x->s > y->s;
}

/* The label and words of axis a for the qualifier. */
typedef void (*axis_label_fn)(const cseg_profile *p, const void *ctx, size_t a, char *dst,
                              size_t size, const qual_words **w);

/* Segments with equal names (the lowest first) get " (qualifier)": their rank
 * on the axis (column of v, k x na) on which their values spread most (ties:
 * the first axis), ranked by rankv where it is a number (else by v). Values
 * all equal on every axis: " (2)", " (3)" ... */
static int qualify_groups(cseg_profile *p, const double *v, const double *rankv, size_t na,
                          axis_label_fn label, const void *ctx)
{
    size_t k = p->k;
    rankkey *g = malloc(k * sizeof *g);
    unsigned char *done = calloc(k, 1);
    int rc = 0;
    if (!g || !done) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    for (size_t s = 0; s < k && rc == 0; s++) {
        if (done[s] || p->size[s] == 0)
            continue;
        size_t n = 0;
        for (size_t q = s; q < k; q++)
            if (!done[q] && p->size[q] > 0 && strcmp(p->names[q], p->names[s]) == 0) {
                g[n++].s = q;
                done[q] = 1;
            }
        if (n < 2)
            continue;
        size_t best = na;
        double spread = 0;
        for (size_t a = 0; a < na; a++) {
            double lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < n; i++) {
                double x = v[g[i].s * na + a];
                if (isnan(x)) {
                    lo = INFINITY;
                    break;
                }
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
            if (hi - lo > spread) {
                spread = hi - lo;
                best = a;
            }
        }
        for (size_t i = 0; i < n; i++) {
            double rv = rankv && best < na ? rankv[g[i].s * na + best] : NAN;
            g[i].v = best == na ? -(double)g[i].s : !isnan(rv) ? rv : v[g[i].s * na + best];
        }
        qsort(g, n, sizeof *g, cmp_rank);
        char lab[160], q[200], name[512];
        const qual_words *w = NULL;
        if (best < na)
            label(p, ctx, best, lab, sizeof lab, &w);
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (!w)
                snprintf(q, sizeof q, "%zu", i + 1);
            else if (i == 0)
                snprintf(q, sizeof q, n == 2 ? w->top2 : w->top, lab);
            else if (i == n - 1)
                snprintf(q, sizeof q, n == 2 ? w->bottom2 : w->bottom, lab);
            else
                snprintf(q, sizeof q, w->rank, lab, i + 1);
            cseg__utf8_chop(q);
            snprintf(name, sizeof name, "%.*s (%s)", (int)cseg__utf8_prefix(p->names[g[i].s], 300),
                     p->names[g[i].s], q);
            rc = set_name(p, g[i].s, name);
        }
    }
    /* A qualified name met another name (rare): number the later ones. */
    for (size_t s = 1; s < k && rc == 0; s++) {
        if (!name_taken(p, s, p->names[s], s))
            continue;
        char name[512];
        for (int num = 2;; num++) {
            snprintf(name, sizeof name, "%.*s (%d)", (int)cseg__utf8_prefix(p->names[s], 490),
                     p->names[s], num);
            if (!name_taken(p, k, name, s))
                break;
        }
        rc = set_name(p, s, name);
    }
out:
    free(g);
    free(done);
    return rc;
}

static void rfm_axis_label(const cseg_profile *p, const void *ctx, size_t a, char *dst,
                           size_t size, const qual_words **w)
{
    (void)p;
    (void)ctx;
    snprintf(dst, size, "%s", rfm_qual_labels[a]);
    *w = &rfm_quals[a];
}


int cseg_profile_name_rfm(cseg_profile *p)
{
    long jr = cseg_profile_find(p, CSEG_RFM_COL_R_SCORE),
         jf = cseg_profile_find(p, CSEG_RFM_COL_F_SCORE),
         jm = cseg_profile_find(p, CSEG_RFM_COL_M_SCORE);
    if (jr < 0 || jf < 0 || jm < 0)
        return CSEG_ENOCOL;
    /* Qualifiers: the axis from the scores, the ranks from the amounts they
     * score (more spend, fewer days since the last order, more orders). */
    long raw[3] = {cseg_profile_find(p, "monetary"), cseg_profile_find(p, "recency_days"),
                   cseg_profile_find(p, "frequency")};
    double *v = malloc(p->k * 3 * sizeof *v), *rv = malloc(p->k * 3 * sizeof *rv);
    if (!v || !rv) {
        free(v);
        free(rv);
        return CSEG_ENOMEM;
    }
    int rc = 0;
    for (size_t s = 0; s < p->k && rc == 0; s++) {
        const double *mu = p->mean + s * p->nf;
        double r = mu[jr], f = mu[jf], m = mu[jm];
        v[s * 3] = m;
        v[s * 3 + 1] = r;
        v[s * 3 + 2] = f;
        for (int a = 0; a < 3; a++)
            rv[s * 3 + a] = raw[a] < 0 ? NAN : a == 1 ? -mu[raw[a]] : mu[raw[a]];
        if (p->size[s] == 0 || isnan(r) || isnan(f) || isnan(m))
            continue; /* keeps "Segment N" */
        const struct rfm_region *reg = rfm_region_of(r, f, m);
        char name[128];
        if (reg)
            snprintf(name, sizeof name, "%s", reg->name);
        else
            snprintf(name, sizeof name, "%s" DOT "%s" DOT "%s", r_words[level3(r)],
                     f_words[level3(f)], m_words[level3(m)]);
        rc = set_name(p, s, name);
    }
    if (rc == 0)
        rc = qualify_groups(p, v, rv, 3, rfm_axis_label, NULL);
    free(v);
    free(rv);
    return rc;
}

/* "Annual_Income(k$)" -> "Annual Income". */
static void pretty(char *dst, size_t size, const char *s)
{
    size_t k = 0;
    int up = 1;
    for (; *s && k + 1 < size; s++) {
        char c = *s;
        if (c == '(' || c == '[')
            break;
        if (c == '_' || c == '-' || c == '.')
            c = ' ';
        if (c == ' ') {
            if (k > 0 && dst[k - 1] != ' ')
                dst[k++] = ' ';
            up = 1;
            continue;
        }
        dst[k++] = up ? (char)toupper((unsigned char)c) : c;
        up = 0;
    }
    while (k > 0 && dst[k - 1] == ' ')
        k--;
    dst[k] = 0;
    cseg__utf8_chop(dst); /* a long name cut inside a character */
}

/* ---- Feature names ----
 * Name parts are number features ("High X", "Low X") and levels of text
 * columns ("Female", "Mostly France"), each with a z: for a number, (segment
 * mean - population mean) / population sd; for a level with population share
 * p, (segment share - p) / sqrt(p (1 - p)); levels only where z > 0. */
#define NAME_MIN_Z 0.25

typedef struct axis {
    size_t f;    /* profile feature, or SIZE_MAX for a level */
    size_t c, l; /* category and level */
} axis;

typedef struct namectx {
    const axis *ax;
} namectx;


static void level_text(char *dst, size_t size, const char *level)
{
    /* Cut at a character boundary: at most 60 bytes of the level. */
    size_t len = strlen(level);
    if (len > 60) {
        len = 60;
        while (len > 0 && ((unsigned char)level[len] & 0xC0) == 0x80)
            len--;
    }
    snprintf(dst, size, "%.*s", (int)len, level);
}

static void part_text(const cseg_profile *p, const axis *ax, size_t s, double z, char *dst,
                      size_t size)
{
    char lab[128];
    if (ax->f != SIZE_MAX) {
        pretty(lab, sizeof lab, p->feat[ax->f]);
        snprintf(dst, size, "%s %s", z > 0 ? "High" : "Low", lab);
        return;
    }
    const pcat *c = &p->cat[ax->c];
    double share = c->share[s * c->nl + ax->l];
    level_text(lab, sizeof lab, c->level[ax->l]);
    snprintf(dst, size, "%s%s", share >= 0.9 ? "" : share > 0.5 ? "Mostly " : "More ", lab);
}

static const qual_words level_quals = {"more %s", "less %s", "most %s", "least %s", "%s rank %zu"};

static void feature_axis_label(const cseg_profile *p, const void *ctx, size_t a, char *dst,
                               size_t size, const qual_words **w)
{
    const axis *ax = &((const namectx *)ctx)->ax[a];
    if (ax->f != SIZE_MAX) {
        pretty(dst, size, p->feat[ax->f]);
        *w = &feature_quals;
    } else {
        level_text(dst, size, p->cat[ax->c].level[ax->l]);
        *w = &level_quals;
    }
}

int cseg_profile_name_features(cseg_profile *p, const char *const *features, size_t n_features)
{
    size_t k = p->k, na = 0;
    /* The axes: the listed number features, then the levels of the listed
     * text columns (NULL: every feature and every profiled text column). */
    size_t cap = (features ? n_features : p->nf);
    for (size_t c = 0; c < p->ncat; c++)
        cap += p->cat[c].nl;
    axis *ax = malloc((cap ? cap : 1) * sizeof *ax);
    double *z = NULL;
    rankkey *cd = NULL;
    int rc = CSEG_ENOMEM;
    if (!ax)
        return rc;
    for (size_t j = 0; j < (features ? n_features : p->nf); j++) {
        long f = features ? cseg_profile_find(p, features[j]) : (long)j;
        if (f >= 0)
            ax[na++] = (axis){(size_t)f, 0, 0};
    }
    for (size_t c = 0; c < p->ncat; c++) {
        int listed = !features;
        for (size_t j = 0; features && j < n_features && !listed; j++)
            listed = strcmp(features[j], p->cat[c].name) == 0;
        for (size_t l = 0; listed && l < p->cat[c].nl; l++)
            ax[na++] = (axis){SIZE_MAX, c, l};
    }
    z = malloc((k * na > 0 ? k * na : 1) * sizeof *z);
    cd = malloc((na ? na : 1) * sizeof *cd);
    if (!z || !cd)
        goto out;
    for (size_t s = 0; s < k; s++)
        for (size_t a = 0; a < na; a++) {
            double v = NAN;
            if (ax[a].f != SIZE_MAX) {
                size_t f = ax[a].f;
                if (p->psd[f] > 0)
                    v = (p->mean[s * p->nf + f] - p->pmean[f]) / p->psd[f];
            } else {
                const pcat *c = &p->cat[ax[a].c];
                double pp = c->share[k * c->nl + ax[a].l];
                if (pp > 0 && pp < 1)
                    v = (c->share[s * c->nl + ax[a].l] - pp) / sqrt(pp * (1 - pp));
            }
            z[s * na + a] = v;
        }
    rc = 0;
    for (size_t s = 0; s < k && rc == 0; s++) {
        if (p->size[s] == 0)
            continue;
        size_t m = 0;
        for (size_t a = 0; a < na; a++) {
            double v = z[s * na + a];
            if (!isnan(v) && (ax[a].f != SIZE_MAX || v > 0) && fabs(v) >= NAME_MIN_Z)
                cd[m++] = (rankkey){fabs(v), a};
        }
        qsort(cd, m, sizeof *cd, cmp_rank);
        /* The two strongest parts; more while an earlier segment has the name. */
        char name[512];
        for (size_t take = 2;; take++) {
            size_t off = 0;
            strcpy(name, "Typical");
            for (size_t q = 0; q < m && q < take; q++) {
                char part[200];
                part_text(p, &ax[cd[q].s], s, z[s * na + cd[q].s], part, sizeof part);
                off += (size_t)snprintf(name + off, sizeof name - off, "%s%s", q ? DOT : "", part);
                if (off >= sizeof name)
                    off = sizeof name - 1;
            }
            cseg__utf8_chop(name);
            if (!name_taken(p, s, name, s) || take >= m)
                break;
        }
        rc = set_name(p, s, name);
    }
    namectx ctx = {ax};
    if (rc == 0)
        rc = qualify_groups(p, z, NULL, na, feature_axis_label, &ctx);
out:
    free(ax);
    free(z);
    free(cd);
    return rc;
}
