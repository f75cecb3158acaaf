/* custseg — stable segments across runs: this run's segments matched to a
 * previous run's (segment.h, docs/resegment.md).
 *
 * The cost of matching previous segment i with new segment j is
 * 1 - J(i, j) + 0.01 d(i, j) / d_max, J the Jaccard overlap of their
 * customers among the customers both runs have, d the distance between their
 * centres in this run's model space (the previous customers put through this
 * run's pipeline): overlap decides, distance breaks ties and decides alone
 * when the runs share no customer. The assignment of least total cost is
 * found by the Hungarian method. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../table/internal.h"
#include "custseg/metrics.h"
#include "internal.h"

void cseg__prev_free(cseg__prev *pv)
{
    if (!pv)
        return;
    for (size_t i = 0; pv->names && i < pv->kp; i++)
        free(pv->names[i]);
    free(pv->names);
    free(pv->prev_size);
    free(pv->of_prev);
    free(pv->of_new);
    free(pv->jaccard);
    free(pv->dist);
    free(pv->migration);
    free(pv);
}

/* The assignment of least cost in the n x n matrix a: row i gets column
 * col[i]. The O(n^3) method with potentials of Kuhn and Munkres as Jonker
 * and Volgenant arrange it, written here as it is short and no dependency
 * has it; a has at most a few dozen rows. */
static int hungarian(const double *a, size_t n, size_t *col)
{
    double *u = calloc(n + 1, sizeof *u), *v = calloc(n + 1, sizeof *v),
           *minv = malloc((n + 1) * sizeof *minv);
    size_t *p = calloc(n + 1, sizeof *p), *way = calloc(n + 1, sizeof *way);
    char *used = malloc(n + 1);
    if (!u || !v || !minv || !p || !way || !used) {
        free(u), free(v), free(minv), free(p), free(way), free(used);
        return CSEG_ENOMEM;
    }
    for (size_t i = 1; i <= n; i++) {
        p[0] = i;
        size_t j0 = 0;
        for (size_t j = 0; j <= n; j++) {
            minv[j] = INFINITY;
            used[j] = 0;
        }
        do {
            used[j0] = 1;
            size_t i0 = p[j0], j1 = 0;
            double delta = INFINITY;
            for (size_t j = 1; j <= n; j++) {
                if (used[j])
                    continue;
                double cur = a[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (size_t j = 0; j <= n; j++) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    for (size_t j = 1; j <= n; j++)
        col[p[j] - 1] = j - 1;
    free(u), free(v), free(minv), free(p), free(way), free(used);
    return 0;
}

/* Segments of a previous run at most (the matching is O(k^3)). */
#define MAX_PREVIOUS 256

typedef struct id_label {
    const char *id;
    int32_t label;
} id_label;

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const id_label *)a)->id, ((const id_label *)b)->id);
}

/* The previous customers: id, segment (0-based) and the names of the segments. */
static int read_previous(const cseg_table *P, const char *id_column, cseg__prev *pv, id_label **ids,
                         size_t *n_ids, int32_t **plab, char **idbuf, cseg_diag *d)
{
    size_t np = cseg_table_n_rows(P);
    long jid = cseg_table_find(P, id_column), js = cseg_table_find(P, "segment"),
         jn = cseg_table_find(P, "segment_name");
    if (jid < 0 || js < 0 || jn < 0 || cseg_table_col_type(P, (size_t)js) != CSEG_COL_NUMBER ||
        cseg_table_col_type(P, (size_t)jn) != CSEG_COL_TEXT)
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                          "previous: the previous customers need the columns \"%s\", segment "
                          "and segment_name (a customers.csv of run or fit)",
                          id_column);
    if (np == 0)
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "previous: no previous customers");
    const double *seg = cseg_table_numbers(P, (size_t)js);
    size_t kp = 0;
    for (size_t i = 0; i < np; i++) {
        if (!(seg[i] >= 1 && seg[i] <= MAX_PREVIOUS && seg[i] == floor(seg[i])))
            return cseg__diag(d, CSEG_EPARAM, NULL, cseg_table_row_line(P, i), 0,
                              "previous: segment is not a whole number from 1 to %d", MAX_PREVIOUS);
        kp = (size_t)seg[i] > kp ? (size_t)seg[i] : kp;
    }
    enum { IDLEN = 40 };
    pv->kp = kp;
    pv->names = calloc(kp, sizeof *pv->names);
    pv->prev_size = calloc(kp, sizeof *pv->prev_size);
    *ids = malloc(np * sizeof **ids);
    *plab = malloc(np * sizeof **plab);
    *idbuf = malloc(np * IDLEN);
    if (!pv->names || !pv->prev_size || !*ids || !*plab || !*idbuf)
        return CSEG_ENOMEM;
    const int32_t *nc = cseg_table_codes(P, (size_t)jn);
    for (size_t i = 0; i < np; i++) {
        size_t s = (size_t)seg[i] - 1;
        (*plab)[i] = (int32_t)s;
        pv->prev_size[s]++;
        if (!pv->names[s] && nc[i] >= 0 &&
            !(pv->names[s] = cseg__strdup(cseg_table_level(P, (size_t)jn, nc[i]))))
            return CSEG_ENOMEM;
        const char *id = cseg__table_cell_text(P, (size_t)jid, i, *idbuf + i * IDLEN, IDLEN);
        if (id && *id) /* a customer without an id cannot be followed */
            (*ids)[(*n_ids)++] = (id_label){id, (int32_t)s};
    }
    for (size_t s = 0; s < kp; s++) {
        char buf[32];
        snprintf(buf, sizeof buf, "Segment %zu", s + 1);
        if (!pv->names[s] && !(pv->names[s] = cseg__strdup(buf)))
            return CSEG_ENOMEM;
    }
    qsort(*ids, *n_ids, sizeof **ids, cmp_id);
    return 0;
}

int cseg__prev_match(const cseg_segment_params *p, const cseg_table *cust, const char *id_column,
                     const cseg_model *m, const double *X, size_t n, size_t d,
                     const int32_t *labels, size_t k, size_t kc, size_t *perm, cseg__prev **out,
                     cseg_diag *diag)
{
    *out = NULL;
    const cseg_table *P = p->previous;
    const char *pid = p->previous_id_column ? p->previous_id_column : id_column;
    if (!id_column || !pid)
        return cseg__diag(diag, CSEG_EPARAM, NULL, 0, 0,
                          "previous: the customers need an id to be followed from run to run");
    long jid = cseg_table_find(cust, id_column);
    cseg__prev *pv = calloc(1, sizeof *pv);
    id_label *ids = NULL;
    int32_t *plab = NULL, *a = NULL, *b = NULL;
    char *idbuf = NULL, *nbuf = NULL;
    double *cost = NULL, *Zp = NULL, *mp = NULL, *mn = NULL, *dist = NULL;
    size_t *cp = NULL, *cn = NULL, *col = NULL, *ov = NULL, np = cseg_table_n_rows(P), n_ids = 0;
    int rc = pv ? 0 : CSEG_ENOMEM;
    if (rc == 0 && jid < 0)
        rc = cseg__diag(diag, CSEG_EPARAM, NULL, 0, 0, "previous: no id column \"%s\"", id_column);
    if (rc == 0)
        rc = read_previous(P, pid, pv, &ids, &n_ids, &plab, &idbuf, diag);
    if (rc < 0)
        goto out;
    /* The previous run's Outliers (DBSCAN) are no cluster: never matched with
     * one, they continue as this run's Outliers if it has them. */
    long po = -1;
    for (size_t i = 0; i < pv->kp; i++)
        if (strcmp(pv->names[i], "Outliers") == 0)
            po = (long)i;
    size_t kp = pv->kp, sq = kp > kc + (po >= 0) ? kp : kc + (po >= 0);
    enum { IDLEN = 40 };
    ov = calloc(kp * k, sizeof *ov); /* shared customers: previous x new (ordered) */
    a = malloc(n * sizeof *a);
    b = malloc(n * sizeof *b);
    nbuf = malloc(IDLEN);
    cost = calloc(sq * sq, sizeof *cost);
    dist = calloc(kp * kc, sizeof *dist);
    col = malloc(sq * sizeof *col);
    cp = calloc(kp, sizeof *cp);
    cn = calloc(k, sizeof *cn);
    mp = calloc(kp * d, sizeof *mp);
    mn = calloc(kc * d, sizeof *mn);
    Zp = malloc((np ? np : 1) * (d ? d : 1) * sizeof *Zp);
    pv->of_prev = malloc(kp * sizeof *pv->of_prev);
    pv->of_new = malloc(k * sizeof *pv->of_new);
    pv->jaccard = malloc(k * sizeof *pv->jaccard);
    pv->dist = malloc(k * sizeof *pv->dist);
    pv->migration = calloc(kp * k, sizeof *pv->migration);
    if (!ov || !a || !b || !nbuf || !cost || !dist || !col || !cp || !cn || !mp || !mn || !Zp ||
        !pv->of_prev || !pv->of_new || !pv->jaccard || !pv->dist || !pv->migration) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    /* The customers of both runs, by id. */
    size_t shared = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = cseg__table_cell_text(cust, (size_t)jid, i, nbuf, IDLEN);
        if (!id || !*id || labels[i] < 0)
            continue;
        id_label key = {id, 0};
        const id_label *hit = bsearch(&key, ids, n_ids, sizeof *ids, cmp_id);
        if (!hit)
            continue;
        ov[(size_t)hit->label * k + (size_t)labels[i]]++;
        a[shared] = hit->label;
        b[shared++] = labels[i];
    }
    for (size_t i = 0; i < kp; i++)
        for (size_t j = 0; j < k; j++) {
            cp[i] += ov[i * k + j];
            cn[j] += ov[i * k + j];
        }
    /* Centres in this run's model space; without the previous features, overlap alone. */
    double dmax = 0;
    cseg_diag ignored;
    if (cseg_model_transform(m, P, Zp, &ignored) == 0) {
        size_t *cnt = calloc(kp + kc, sizeof *cnt);
        if (!cnt) {
            rc = CSEG_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < np; i++) {
            cnt[plab[i]]++;
            for (size_t t = 0; t < d; t++)
                mp[(size_t)plab[i] * d + t] += Zp[i * d + t];
        }
        for (size_t i = 0; i < n; i++) {
            if (labels[i] < 0 || (size_t)labels[i] >= kc)
                continue;
            cnt[kp + (size_t)labels[i]]++;
            for (size_t t = 0; t < d; t++)
                mn[(size_t)labels[i] * d + t] += X[i * d + t];
        }
        for (size_t s = 0; s < kp + kc; s++)
            for (size_t t = 0; cnt[s] && t < d; t++)
                (s < kp ? mp + s * d : mn + (s - kp) * d)[t] /= (double)cnt[s];
        for (size_t i = 0; i < kp; i++)
            for (size_t j = 0; j < kc; j++) {
                double s2 = 0;
                for (size_t t = 0; t < d; t++)
                    s2 += (mp[i * d + t] - mn[j * d + t]) * (mp[i * d + t] - mn[j * d + t]);
                dist[i * kc + j] = cnt[i] && cnt[kp + j] ? sqrt(s2) : NAN;
                dmax = isnan(dist[i * kc + j]) ? dmax : fmax(dmax, dist[i * kc + j]);
            }
        free(cnt);
    } else {
        for (size_t i = 0; i < kp * kc; i++)
            dist[i] = NAN;
        cseg__log(p, CSEG_LOG_NOTE,
                  "previous: the previous customers lack this run's features; segments are "
                  "matched by their customers alone");
    }
    /* A previous segment left unmatched costs more than any match (10), the
     * Outliers matched with a cluster more still (100): the most segments
     * matched, then the best matches. */
    for (size_t i = 0; i < kp; i++)
        for (size_t j = 0; j < sq; j++) {
            size_t o = j < kc ? ov[i * k + j] : 0, uni = j < kc ? cp[i] + cn[j] - o : 0;
            double J = uni ? (double)o / (double)uni : 0, dd = j < kc ? dist[i * kc + j] : NAN;
            cost[i * sq + j] = (long)i == po ? (j < kc ? 100 : 0)
                               : j >= kc
                                   ? 10
                                   : 1 - J + (dmax > 0 && !isnan(dd) ? 0.01 * dd / dmax : 0.01);
        }
    if ((rc = hungarian(cost, sq, col)) < 0)
        goto out;
    /* A pair with nothing to go on (no customer in both, no distance: the
     * previous segment had no customers, or the runs share neither
     * customers nor features) is no match: the matching would be arbitrary
     * ("continues previous segment 3, overlap 0.00"), so both stay apart. */
    for (size_t i = 0; i < kp; i++)
        if ((long)i != po && col[i] < kc && ov[i * k + col[i]] == 0 && isnan(dist[i * kc + col[i]]))
            col[i] = sq; /* unmatched: vanished */
    /* Matched segments in the previous order, then the new ones in this run's order. */
    for (size_t i = 0; i < kp; i++)
        pv->of_prev[i] = -1;
    for (size_t j = 0; j < k; j++)
        perm[j] = SIZE_MAX;
    size_t next = 0;
    for (size_t i = 0; i < kp; i++)
        if (col[i] < kc)
            perm[col[i]] = next++;
    for (size_t j = 0; j < kc; j++)
        if (perm[j] == SIZE_MAX)
            perm[j] = next++;
    for (size_t j = kc; j < k; j++) /* DBSCAN's Outliers stay last */
        perm[j] = j;
    for (size_t j = 0; j < k; j++) {
        pv->of_new[perm[j]] = -1;
        pv->jaccard[perm[j]] = NAN;
        pv->dist[perm[j]] = NAN;
    }
    if (po >= 0 && kc < k) { /* Outliers to Outliers */
        size_t o = ov[(size_t)po * k + kc], uni = cp[po] + cn[kc] - o;
        pv->of_prev[po] = (long)kc;
        pv->of_new[kc] = po;
        pv->jaccard[kc] = uni ? (double)o / (double)uni : 0;
    }
    for (size_t i = 0; i < kp; i++) {
        size_t j = col[i];
        if (j >= kc)
            continue; /* vanished */
        size_t o = ov[i * k + j], uni = cp[i] + cn[j] - o;
        pv->of_prev[i] = (long)perm[j];
        pv->of_new[perm[j]] = (long)i;
        pv->jaccard[perm[j]] = uni ? (double)o / (double)uni : 0;
        pv->dist[perm[j]] = dist[i * kc + j];
    }
    for (size_t i = 0; i < kp; i++)
        for (size_t j = 0; j < k; j++)
            pv->migration[i * k + perm[j]] = ov[i * k + j];
    for (size_t s = 0; s < shared; s++)
        b[s] = (int32_t)perm[b[s]];
    pv->shared = shared;
    pv->ari = NAN;
    if (shared && (rc = cseg_metrics_adjusted_rand(a, b, shared, &pv->ari)) < 0)
        goto out;
out:
    free(ids), free(plab), free(idbuf), free(nbuf), free(a), free(b), free(cost), free(Zp);
    free(mp), free(mn), free(dist), free(cp), free(cn), free(col), free(ov);
    if (rc < 0) {
        cseg__prev_free(pv);
        return rc == CSEG_ENOMEM ? cseg__diag(diag, rc, NULL, 0, 0, "out of memory") : rc;
    }
    *out = pv;
    return 0;
}
