/* custseg — segment profiles and the naming rules documented in profile.h. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/features.h"
#include "custseg/profile.h"
#include "../core/internal.h"

struct cseg_profile {
    size_t k, nf, n;
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cseg_profile_compute(cseg_profile **out, const cseg_table *t, const int32_t *labels,
                         size_t k, const char *revenue_column)
{
    *out = NULL;
    if (k == 0)
        return CSEG_EINVAL;
    size_t n = cseg_table_n_rows(t), nc = cseg_table_n_cols(t);
    cseg_profile *p = calloc(1, sizeof *p);
    double *buf = NULL;
    size_t *start = NULL, *order = NULL;
    if (!p)
        return CSEG_ENOMEM;
    p->k = k;
    p->n = n;
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
    start = cseg__calloc(k + 1, sizeof *start);
    order = cseg__calloc(n, sizeof *order);
    buf = cseg__calloc(n, sizeof *buf);
    if (!p->feat || !p->size || !p->rev || !p->mean || !p->median || !p->pmean || !p->psd ||
        !p->names || !start || !order || !buf)
        goto oom;
    for (size_t s = 0; s < k; s++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "Segment %zu", s + 1);
        if (!(p->names[s] = cseg__strdup(tmp)))
            goto oom;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < k) {
            p->size[labels[i]]++;
            m++;
        }
    for (size_t s = 0; s < k; s++)
        start[s + 1] = start[s] + p->size[s];
    {
        size_t *pos = malloc((k ? k : 1) * sizeof *pos);
        if (!pos)
            goto oom;
        memcpy(pos, start, k * sizeof *pos);
        for (size_t i = 0; i < n; i++)
            if (labels[i] >= 0 && (size_t)labels[i] < k)
                order[pos[labels[i]]++] = i;
        free(pos);
    }
    long jr = revenue_column ? cseg_table_find(t, revenue_column) : -1;
    const double *rv = jr >= 0 ? cseg_table_numbers(t, (size_t)jr) : NULL;
    double rtot = 0;
    for (size_t s = 0; s < k; s++) {
        double r = 0;
        for (size_t q = start[s]; q < start[s + 1]; q++)
            r += rv ? rv[order[q]] : NAN;
        p->rev[s] = r;
        rtot += r;
    }
    for (size_t s = 0; s < k; s++)
        p->rev[s] = rv && rtot != 0 ? p->rev[s] / rtot : NAN;
    size_t f = 0;
    for (size_t j = 0; j < nc; j++) {
        const double *x = cseg_table_numbers(t, j);
        if (!x)
            continue;
        if (!(p->feat[f] = cseg__strdup(cseg_table_col_name(t, j))))
            goto oom;
        double mu = 0, cnt = 0;
        for (size_t q = 0; q < m; q++)
            if (!isnan(x[order[q]])) {
                mu += x[order[q]];
                cnt++;
            }
        mu = cnt > 0 ? mu / cnt : NAN;
        double ss = 0;
        for (size_t q = 0; q < m; q++)
            if (!isnan(x[order[q]]))
                ss += (x[order[q]] - mu) * (x[order[q]] - mu);
        p->pmean[f] = mu;
        p->psd[f] = cnt > 0 ? sqrt(ss / cnt) : NAN;
        for (size_t s = 0; s < k; s++) {
            size_t c = 0;
            double sum = 0;
            for (size_t q = start[s]; q < start[s + 1]; q++)
                if (!isnan(x[order[q]])) {
                    buf[c++] = x[order[q]];
                    sum += x[order[q]];
                }
            p->mean[s * p->nf + f] = c ? sum / (double)c : NAN;
            if (c) {
                qsort(buf, c, sizeof *buf, cmp_double);
                p->median[s * p->nf + f] = c % 2 ? buf[c / 2] : 0.5 * (buf[c / 2 - 1] + buf[c / 2]);
            } else {
                p->median[s * p->nf + f] = NAN;
            }
        }
        f++;
    }
    /* Features found by name in O(1): a table may have 100,000 columns. */
    p->fcap = 64;
    while (p->fcap < 2 * p->nf)
        p->fcap *= 2;
    if (!(p->fidx = malloc(p->fcap * sizeof *p->fidx)))
        goto oom;
    memset(p->fidx, 0xff, p->fcap * sizeof *p->fidx);
    for (size_t j = 0; j < p->nf; j++) {
        size_t i = (size_t)cseg__hash(p->feat[j], strlen(p->feat[j]), 0) & (p->fcap - 1);
        while (p->fidx[i] >= 0)
            i = (i + 1) & (p->fcap - 1);
        p->fidx[i] = (int32_t)j;
    }
    free(buf);
    free(start);
    free(order);
    *out = p;
    return 0;
oom:
    free(buf);
    free(start);
    free(order);
    cseg_profile_free(p);
    return CSEG_ENOMEM;
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

int cseg_profile_set_name(cseg_profile *p, size_t s, const char *name)
{
    if (s >= p->k || !name || !*name || name_taken(p, p->k, name, s))
        return CSEG_EINVAL;
    char *c = cseg__strdup(name);
    if (!c)
        return CSEG_ENOMEM;
    free(p->names[s]);
    p->names[s] = c;
    return 0;
}

static const struct {
    const char *name;
    double r, fm;
} rfm_protos[] = {
    {"Champions", 5.0, 5.0},      {"Loyal Customers", 3.7, 4.2}, {"Potential Loyalists", 4.2, 2.8},
    {"New Customers", 4.8, 1.2},  {"Promising", 3.8, 1.4},       {"Need Attention", 3.0, 3.0},
    {"About to Sleep", 2.6, 1.8}, {"At Risk", 1.8, 3.6},         {"Can't Lose Them", 1.3, 4.6},
    {"Hibernating", 1.8, 1.8},    {"Lost", 1.0, 1.0},
};
#define N_PROTOS (sizeof rfm_protos / sizeof rfm_protos[0])

typedef struct pairdist {
    double d;
    size_t s, q;
} pairdist;

static int cmp_pair(const void *a, const void *b)
{
    const pairdist *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    if (x->s != y->s)
        return x->s < y->s ? -1 : 1;
    return x->q < y->q ? -1 : x->q > y->q;
}

int cseg_profile_name_rfm(cseg_profile *p)
{
    long jr = cseg_profile_find(p, CSEG_RFM_COL_R_SCORE),
         jf = cseg_profile_find(p, CSEG_RFM_COL_F_SCORE),
         jm = cseg_profile_find(p, CSEG_RFM_COL_M_SCORE);
    if (jr < 0 || jf < 0 || jm < 0)
        return CSEG_ENOCOL;
    pairdist *pd = malloc(p->k * N_PROTOS * sizeof *pd);
    unsigned char *seg_done = calloc(p->k, 1), used[N_PROTOS] = {0};
    if (!pd || !seg_done) {
        free(pd);
        free(seg_done);
        return CSEG_ENOMEM;
    }
    size_t np = 0;
    for (size_t s = 0; s < p->k; s++) {
        const double *mu = p->mean + s * p->nf;
        double r = mu[jr], fm = 0.5 * (mu[jf] + mu[jm]);
        for (size_t q = 0; q < N_PROTOS; q++) {
            double dr = r - rfm_protos[q].r, df = fm - rfm_protos[q].fm;
            pd[np++] = (pairdist){dr * dr + df * df, s, q};
        }
    }
    qsort(pd, np, sizeof *pd, cmp_pair);
    int rc = 0;
    for (size_t t = 0; t < np && rc == 0; t++) {
        if (seg_done[pd[t].s] || used[pd[t].q] || p->size[pd[t].s] == 0)
            continue;
        seg_done[pd[t].s] = used[pd[t].q] = 1;
        char *c = cseg__strdup(rfm_protos[pd[t].q].name);
        if (!c)
            rc = CSEG_ENOMEM;
        else {
            free(p->names[pd[t].s]);
            p->names[pd[t].s] = c;
        }
    }
    /* More segments than names: the rest keep "Segment N". */
    free(pd);
    free(seg_done);
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
}

typedef struct zkey {
    double az;
    size_t pos;
    double z;
    size_t ord;
} zkey;

static int cmp_zkey(const void *a, const void *b)
{
    const zkey *x = a, *y = b;
    int xn = isnan(x->az), yn = isnan(y->az);
    if (xn != yn)
        return xn - yn; /* NaN last */
    if (!xn && x->az != y->az)
        return x->az > y->az ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* By |z| descending, ties in feature order. */
static void sort_by_z(double *z, size_t *ord, size_t m)
{
    zkey *k = malloc(m * sizeof *k);
    if (!k)
        return; /* unsorted: names from the first features, still valid */
    for (size_t i = 0; i < m; i++)
        k[i] = (zkey){fabs(z[i]), i, z[i], ord[i]};
    qsort(k, m, sizeof *k, cmp_zkey);
    for (size_t i = 0; i < m; i++) {
        z[i] = k[i].z;
        ord[i] = k[i].ord;
    }
    free(k);
}

int cseg_profile_name_features(cseg_profile *p, const char *const *features, size_t n_features)
{
    size_t nf = features ? n_features : p->nf;
    long *idx = malloc((nf ? nf : 1) * sizeof *idx);
    size_t *ord = malloc((nf ? nf : 1) * sizeof *ord);
    double *z = malloc((nf ? nf : 1) * sizeof *z);
    int rc = 0;
    if (!idx || !ord || !z) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < nf; j++)
        idx[j] = features ? cseg_profile_find(p, features[j]) : (long)j;
    for (size_t s = 0; s < p->k && rc == 0; s++) {
        const double *mu = p->mean + s * p->nf;
        size_t m = 0;
        for (size_t j = 0; j < nf; j++) {
            if (idx[j] < 0 || !(p->psd[idx[j]] > 0))
                continue;
            z[m] = (mu[idx[j]] - p->pmean[idx[j]]) / p->psd[idx[j]];
            ord[m++] = (size_t)idx[j];
        }
        /* Sort features by |z|, descending; stable on feature order. Past a few
         * dozen features an O(m log m) sort (wide tables); the insertion sort
         * keeps its exact order where NaNs stand. */
        if (m > 64)
            sort_by_z(z, ord, m);
        for (size_t a = 1; a < m && m <= 64; a++)
            for (size_t b = a; b > 0 && fabs(z[b]) > fabs(z[b - 1]); b--) {
                double tz = z[b];
                z[b] = z[b - 1];
                z[b - 1] = tz;
                size_t to = ord[b];
                ord[b] = ord[b - 1];
                ord[b - 1] = to;
            }
        char name[512] = "Typical";
        size_t parts = 0;
        for (size_t take = 2; take <= m + 1; take++) {
            size_t off = 0;
            parts = 0;
            for (size_t q = 0; q < m && q < take && fabs(z[q]) >= 0.25; q++) {
                char pf[128];
                pretty(pf, sizeof pf, p->feat[ord[q]]);
                off += (size_t)snprintf(name + off, sizeof name - off, "%s%s %s",
                                        parts ? " \xC2\xB7 " : "", z[q] > 0 ? "High" : "Low", pf);
                if (off >= sizeof name)
                    off = sizeof name - 1;
                parts++;
            }
            if (!parts)
                strcpy(name, "Typical");
            if (!name_taken(p, s, name, s) || take > m)
                break;
        }
        if (name_taken(p, s, name, s)) {
            char base[512];
            snprintf(base, sizeof base, "%s", name);
            for (int v = 2; name_taken(p, s, name, s); v++)
                snprintf(name, sizeof name, "%.490s (%d)", base, v);
        }
        char *c = cseg__strdup(name);
        if (!c) {
            rc = CSEG_ENOMEM;
            break;
        }
        free(p->names[s]);
        p->names[s] = c;
    }
out:
    free(idx);
    free(ord);
    free(z);
    return rc;
}
