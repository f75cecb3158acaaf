/* custseg — the bias audit of a segmentation: segments.json's "audit"
 * (audit.h, docs/audit.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../table/internal.h"
#include "custseg/audit.h"
#include "internal.h"

#define MAX_GROUPS 50

/* Over pieces, whether any piece says yes (a count summed). */
static int any_piece(const cseg__seg_split *split, int yes, int *rc)
{
    uint64_t c = yes != 0;
    if (split && *rc == 0)
        *rc = split->sc->sum(split->sc->ctx, &c, 1, NULL, 0);
    return c > 0;
}

static int too_many(const char *col, const char *what, cseg_diag *d)
{
    return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                      "audit: \"%s\" has more than %d %s: too many to audit%s", col, MAX_GROUPS,
                      what, *what == 'd' ? " (band them first, e.g. into age bands)" : "");
}

/* A column as groups: a text column's levels, or the distinct values of a
 * number column (at most MAX_GROUPS). *names (to free, with each name) and
 * code (n values, -1 for none). split: of every piece's rows (the levels
 * gathered in piece order, the distinct numbers of each piece gathered),
 * the same groups on every piece. */
static int groups_of(const cseg_table *t, size_t j, const char *col, size_t n, int32_t *code,
                     char ***names, size_t *ng, const cseg__seg_split *split, cseg_diag *d)
{
    *names = NULL;
    *ng = 0;
    int rc = 0;
    if (cseg_table_col_type(t, j) == CSEG_COL_TEXT) {
        size_t nl = cseg_table_n_levels(t, j);
        int32_t *to = NULL;
        if (any_piece(split, nl > MAX_GROUPS, &rc) || rc < 0)
            return rc < 0 ? rc : too_many(col, "groups", d);
        char **lv = NULL;
        size_t nlv = 0;
        if ((rc = cseg__table_split_levels(t, j, split ? split->sc : NULL, &lv, &nlv, &to, d)) < 0)
            return rc;
        *names = lv;
        *ng = nlv; /* freed by the caller from here on */
        if (nlv > MAX_GROUPS) {
            free(to);
            return too_many(col, "groups", d);
        }
        const int32_t *c = cseg_table_codes(t, j);
        for (size_t i = 0; i < n; i++)
            code[i] = c[i] < 0 ? -1 : to[c[i]];
        free(to);
        return 0;
    }
    if (cseg_table_col_type(t, j) != CSEG_COL_NUMBER)
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                          "audit: \"%s\" holds dates; an audited column holds groups", col);
    const double *x = cseg_table_numbers(t, j);
    double *v = malloc((n ? n : 1) * sizeof *v), *all = NULL;
    if (split)
        rc = split->agree(split->ctx, v ? 0 : CSEG_ENOMEM, 0, d);
    else if (!v)
        rc = CSEG_ENOMEM;
    if (rc < 0) {
        free(v);
        return rc;
    }
    size_t m = 0, u = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            v[m++] = x[i];
    cseg__sort_doubles(v, m);
    for (size_t i = 0; i < m; i++) /* the distinct values, in order */
        if (i == 0 || v[i] != v[u - 1])
            v[u++] = v[i];
    if (any_piece(split, u > MAX_GROUPS, &rc) || rc < 0) {
        free(v);
        return rc < 0 ? rc : too_many(col, "distinct numbers", d);
    }
    if (split) { /* every piece's distinct values (at most MAX_GROUPS each), merged */
        size_t len = 0;
        if ((rc = split->allgather(split->ctx, v, u * sizeof *v, (char **)&all, &len)) < 0) {
            free(v);
            return rc;
        }
        free(v);
        v = all;
        m = len / sizeof *v;
        cseg__sort_doubles(v, m);
        for (size_t i = u = 0; i < m; i++)
            if (i == 0 || v[i] != v[u - 1])
                v[u++] = v[i];
    }
    if (u > MAX_GROUPS) {
        free(v);
        return too_many(col, "distinct numbers", d);
    }
    rc = (*names = calloc(u ? u : 1, sizeof **names)) ? 0 : CSEG_ENOMEM;
    *ng = rc == 0 ? u : 0;
    for (size_t l = 0; l < u && rc == 0; l++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%.17g", v[l]); /* distinct values, distinct names */
        if (!((*names)[l] = cseg__strdup(buf)))
            rc = CSEG_ENOMEM;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (isnan(x[i])) {
            code[i] = -1;
            continue;
        }
        size_t lo = 0, hi = u; /* binary search among the distinct values */
        while (lo + 1 < hi) {
            size_t mid = (lo + hi) / 2;
            if (v[mid] <= x[i])
                lo = mid;
            else
                hi = mid;
        }
        code[i] = (int32_t)lo;
    }
    free(v);
    return split ? split->agree(split->ctx, rc, 0, d) : rc;
}

/* One audited column. */
static json_t *column_json(const cseg_segmentation *r, const char *col, char **gname, size_t g,
                           const size_t *cnt, const cseg_audit_result *res)
{
    size_t k = r->k;
    json_t *o = json_object(), *groups = json_array(), *pop = json_array(), *segs = json_array();
    size_t *colsum = calloc(g ? g : 1, sizeof *colsum);
    if (!colsum) {
        json_decref(o), json_decref(groups), json_decref(pop), json_decref(segs);
        return NULL;
    }
    for (size_t s = 0; s < k; s++)
        for (size_t j = 0; j < g; j++)
            colsum[j] += cnt[s * g + j];
    double N = (double)res->n;
    json_object_set_new(o, "column", json_string(col));
    for (size_t j = 0; j < g; j++) {
        json_array_append_new(groups, json_string(gname[j]));
        json_array_append_new(pop, cseg__jnum(N > 0 ? (double)colsum[j] / N : NAN));
    }
    json_object_set_new(o, "groups", groups);
    json_object_set_new(o, "n", json_integer((json_int_t)res->n));
    json_object_set_new(o, "missing", json_integer((json_int_t)res->n_missing));
    json_object_set_new(o, "population_shares", pop);
    json_object_set_new(o, "chi2", cseg__jnum(res->dof ? res->chi2 : NAN));
    json_object_set_new(o, "dof", json_integer((json_int_t)res->dof));
    json_object_set_new(o, "p_value", cseg__jnum(res->p_value));
    json_object_set_new(o, "cramers_v", cseg__jnum(res->cramers_v));
    for (size_t s = 0; s < k; s++) {
        size_t size = 0;
        for (size_t j = 0; j < g; j++)
            size += cnt[s * g + j];
        json_t *js = json_object(), *counts = json_array(), *shares = json_array(),
               *ratio = json_array();
        double lo = INFINITY, hi = -INFINITY;
        long jlo = -1, jhi = -1;
        for (size_t j = 0; j < g; j++) {
            double share = size ? (double)cnt[s * g + j] / (double)size : NAN;
            double rr = colsum[j] && size ? share / ((double)colsum[j] / N) : NAN;
            json_array_append_new(counts, json_integer((json_int_t)cnt[s * g + j]));
            json_array_append_new(shares, cseg__jnum(share));
            json_array_append_new(ratio, cseg__jnum(rr));
            if (!isnan(rr) && rr < lo) {
                lo = rr;
                jlo = (long)j;
            }
            if (!isnan(rr) && rr > hi) {
                hi = rr;
                jhi = (long)j;
            }
        }
        json_object_set_new(js, "segment", json_integer((json_int_t)s + 1));
        json_object_set_new(
            js, "name",
            json_string(cseg_model_name(r->in.model, s) ? cseg_model_name(r->in.model, s) : ""));
        json_object_set_new(js, "size", json_integer((json_int_t)size));
        json_object_set_new(js, "counts", counts);
        json_object_set_new(js, "shares", shares);
        json_object_set_new(js, "representation", ratio);
        json_object_set_new(js, "lowest", jlo >= 0 ? json_string(gname[jlo]) : json_null());
        json_object_set_new(js, "highest", jhi >= 0 ? json_string(gname[jhi]) : json_null());
        double impact = jlo >= 0 && hi > 0 ? lo / hi : NAN;
        json_object_set_new(js, "impact_ratio", cseg__jnum(impact));
        json_object_set_new(js, "four_fifths_flag",
                            json_boolean(!isnan(impact) && impact < CSEG_AUDIT_FOUR_FIFTHS));
        json_array_append_new(segs, js);
    }
    json_object_set_new(o, "segments", segs);
    free(colsum);
    return o;
}

int cseg__audit_json(const cseg_segmentation *r, json_t **out, cseg_diag *d)
{
    *out = NULL;
    if (r->p.n_audit == 0)
        return 0;
    size_t n = r->n, k = r->k;
    json_t *arr = json_array();
    int32_t *code = malloc((n ? n : 1) * sizeof *code);
    int rc = arr && code ? 0 : CSEG_ENOMEM;
    for (size_t a = 0; a < r->p.n_audit && rc == 0; a++) {
        const char *col = r->p.audit[a];
        long j = cseg_table_find(r->in.customers, col);
        char **gname = NULL;
        size_t g = 0, *cnt = NULL;
        cseg_audit_result res;
        if (j < 0)
            rc = cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "audit: no column \"%s\"", col);
        else
            rc = groups_of(r->in.customers, (size_t)j, col, n, code, &gname, &g, r->split, d);
        if (rc == 0 && g == 0)
            rc = cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "audit: \"%s\" has no values", col);
        if (rc == 0 && !(cnt = malloc((k * g + 1) * sizeof *cnt)))
            rc = CSEG_ENOMEM;
        if (rc == 0 && r->split) {
            /* this piece's counts, added over the pieces, then the test */
            rc = r->split->agree(r->split->ctx,
                                 cseg_audit_test(r->labels, code, n, k, g, cnt, &res), 0, d);
            uint64_t *c64 = rc == 0 ? malloc((k * g + 1) * sizeof *c64) : NULL;
            if (rc == 0 &&
                (rc = r->split->agree(r->split->ctx, c64 ? 0 : CSEG_ENOMEM, 0, d)) == 0) {
                for (size_t c = 0; c < k * g; c++)
                    c64[c] = cnt[c];
                c64[k * g] = res.n_missing;
                rc = r->split->sc->sum(r->split->sc->ctx, c64, k * g + 1, NULL, 0);
                for (size_t c = 0; rc == 0 && c < k * g; c++)
                    cnt[c] = (size_t)c64[c];
                if (rc == 0)
                    rc = r->split->agree(r->split->ctx,
                                         cseg__audit_stats(cnt, k, g, (size_t)c64[k * g], &res), 0,
                                         d);
            }
            free(c64);
        } else if (rc == 0) {
            rc = cseg_audit_test(r->labels, code, n, k, g, cnt, &res);
        }
        if (rc == 0) {
            json_t *o = column_json(r, col, gname, g, cnt, &res);
            rc = o ? json_array_append_new(arr, o) == 0 ? 0 : CSEG_ENOMEM : CSEG_ENOMEM;
        }
        for (size_t l = 0; gname && l < g; l++)
            free(gname[l]);
        free(gname);
        free(cnt);
    }
    free(code);
    if (rc < 0) {
        json_decref(arr);
        return rc == CSEG_ENOMEM ? cseg__diag(d, rc, NULL, 0, 0, "out of memory") : rc;
    }
    *out = arr;
    return 0;
}
