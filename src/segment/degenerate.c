/* custseg — segmentations that look like results but are not: said, not
 * hidden (issue 15.2). A candidate is degenerate when
 *   dominant            one segment holds more than 90% of the customers;
 *   outliers_revenue    DBSCAN's Outliers hold more than 10% of the revenue;
 *   categorical_split   every segment is one level of a text column of the
 *                       input (Gender, Country): the clustering found the
 *                       categories, not behaviour.
 * run and fit warn and record it in segments.json and the report; compare
 * never recommends such a candidate. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "internal.h"

#define DOMINANT_SHARE 0.90
#define OUTLIER_REVENUE_SHARE 0.10

int cseg__warn(cseg__warnings *w, const char *code, const char *fmt, ...)
{
    if (!w || w->n >= CSEG__MAX_WARNINGS)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg[w->n], sizeof w->msg[w->n], fmt, ap);
    va_end(ap);
    snprintf(w->code[w->n], sizeof w->code[w->n], "%s", code);
    w->n++;
    return 0;
}

int cseg__degenerate(const int32_t *labels, size_t n, size_t k, long outlier, const cseg_table *t,
                     const size_t *rows, const char *id_column, const char *revenue_column,
                     const char *const *names, cseg__warnings *w)
{
    return cseg__degenerate_split(labels, n, k, outlier, t, rows, id_column, revenue_column, names,
                                  w, NULL);
}

/* Whether every piece's segments are each one level of the column, the
 * same level on every piece, and not all the same: each piece's finding
 * (impure, or per segment unseen, missing, or the level's text) to every
 * piece. Missing is a value of its own, as one process compares codes. */
static int pure_everywhere(const cseg_table *t, size_t j, size_t k, const int32_t *lvl, int pure,
                           const cseg__seg_split *split, int *out)
{
    enum { UNSEEN = 0, MISSING = 1, LEVEL = 2 };
    size_t len = 1;
    for (size_t s = 0; s < k; s++)
        len += 1 + (pure && lvl[s] >= 0 ? strlen(cseg_table_level(t, j, lvl[s])) + 1 : 0);
    char *mine = malloc(len), *all = NULL, *o = mine;
    size_t total = 0;
    uint64_t bad = !mine;
    int rc = split->sc->sum(split->sc->ctx, &bad, 1, NULL, 0);
    if (rc == 0 && bad)
        rc = CSEG_ENOMEM;
    if (rc < 0) {
        free(mine);
        return rc;
    }
    *o++ = (char)pure;
    for (size_t s = 0; s < k; s++) {
        char st = !pure || lvl[s] == -2 ? UNSEEN : lvl[s] < 0 ? MISSING : LEVEL;
        *o++ = st;
        if (st == LEVEL)
            o = stpcpy(o, cseg_table_level(t, j, lvl[s])) + 1;
    }
    rc = split->allgather(split->ctx, mine, len, &all, &total);
    free(mine);
    /* Per segment what the first piece that saw it found: its state, and
     * the level's text. */
    char *state = rc == 0 ? calloc(k ? k : 1, 1) : NULL;
    const char **first = rc == 0 ? calloc(k ? k : 1, sizeof *first) : NULL;
    bad = rc == 0 && (!first || !state);
    if (rc == 0 && (rc = split->sc->sum(split->sc->ctx, &bad, 1, NULL, 0)) == 0 && bad)
        rc = CSEG_ENOMEM;
    int ok = 1;
    for (const char *p = all; rc == 0 && p < all + total;) {
        ok &= *p++ != 0;
        for (size_t s = 0; s < k; s++) {
            char st = *p++;
            const char *text = st == LEVEL ? p : NULL;
            if (text)
                p += strlen(p) + 1;
            if (st == UNSEEN)
                continue;
            if (state[s] == UNSEEN) {
                state[s] = st;
                first[s] = text;
            } else {
                ok &= state[s] == st && (st != LEVEL || strcmp(first[s], text) == 0);
            }
        }
    }
    int distinct = 0;
    for (size_t s = 1; rc == 0 && s < k; s++)
        distinct |=
            state[s] != UNSEEN && state[0] != UNSEEN &&
            (state[s] != state[0] || (state[s] == LEVEL && strcmp(first[s], first[0]) != 0));
    *out = ok && distinct;
    free(first);
    free(state);
    free(all);
    return rc;
}

int cseg__degenerate_split(const int32_t *labels, size_t n, size_t k, long outlier,
                           const cseg_table *t, const size_t *rows, const char *id_column,
                           const char *revenue_column, const char *const *names, cseg__warnings *w,
                           const cseg__seg_split *split)
{
    int flags = 0, rc = 0;
    uint64_t *cnt = calloc(k + 2, sizeof *cnt); /* per segment; the customers; a failure */
    int32_t *lvl = malloc((k ? k : 1) * sizeof *lvl);
    if (split) {
        uint64_t bad = !cnt || !lvl;
        if ((rc = split->sc->sum(split->sc->ctx, &bad, 1, NULL, 0)) == 0 && bad)
            rc = CSEG_ENOMEM;
    } else if (!cnt || !lvl) {
        rc = CSEG_ENOMEM;
    }
    if (rc < 0) {
        free(cnt);
        free(lvl);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0 && (size_t)labels[i] < k)
            cnt[labels[i]]++;
    cnt[k] = n;
    if (split && (rc = split->sc->sum(split->sc->ctx, cnt, k + 1, NULL, 0)) < 0)
        goto out;
    size_t big = 0, n_all = (size_t)cnt[k];
    for (size_t s = 1; s < k; s++)
        if (cnt[s] > cnt[big])
            big = s;
    if (k >= 2 && n_all && (double)cnt[big] > DOMINANT_SHARE * (double)n_all) {
        flags |= 1;
        cseg__warn(w, "dominant",
                   "segment %zu (%s) holds %.1f%% of the customers: the segments barely "
                   "tell them apart",
                   big + 1, names ? names[big] : "", 100.0 * (double)cnt[big] / (double)n_all);
    }
    long jr = t && revenue_column ? cseg_table_find(t, revenue_column) : -1;
    const double *rev = jr >= 0 ? cseg_table_numbers(t, (size_t)jr) : NULL;
    /* Outliers are DBSCAN's, which is not spread over pieces. */
    if (outlier != -1 && rev && !split) {
        double tot = 0, out = 0;
        for (size_t i = 0; i < n; i++) {
            double v = rev[rows ? rows[i] : i];
            if (!isfinite(v))
                continue;
            tot += v;
            if (labels[i] == outlier || labels[i] < 0)
                out += v;
        }
        if (tot > 0 && out > OUTLIER_REVENUE_SHARE * tot) {
            flags |= 2;
            cseg__warn(w, "outliers_revenue",
                       "the Outliers hold %.1f%% of the revenue: they are customers "
                       "to look at, not noise (raise eps or lower min_samples)",
                       100.0 * out / tot);
        }
    }
    /* An exact split on a text column: each segment one level, not all the
     * same. (Text by its type: an empty piece may have no codes.) */
    for (size_t j = 0; t && j < cseg_table_n_cols(t) && k >= 2; j++) {
        const int32_t *code = cseg_table_codes(t, j);
        const char *name = cseg_table_col_name(t, j);
        if (cseg_table_col_type(t, j) != CSEG_COL_TEXT ||
            (id_column && strcmp(name, id_column) == 0) || strcmp(name, "segment_name") == 0 ||
            strcmp(name, CSEG_RFM_COL_CODE) == 0)
            continue;
        for (size_t s = 0; s < k; s++)
            lvl[s] = -2; /* unseen */
        int pure = 1;
        for (size_t i = 0; i < n && pure; i++) {
            int32_t s = labels[i], c = code[rows ? rows[i] : i];
            if (s < 0 || (size_t)s >= k || (long)s == outlier)
                continue;
            if (lvl[s] == -2)
                lvl[s] = c;
            else if (lvl[s] != c)
                pure = 0;
        }
        int found = 0;
        if (split) {
            if ((rc = pure_everywhere(t, j, k, lvl, pure, split, &found)) < 0)
                goto out;
        } else {
            int distinct = 0;
            for (size_t s = 1; s < k && pure; s++)
                distinct |= lvl[s] != -2 && lvl[0] != -2 && lvl[s] != lvl[0];
            found = pure && distinct;
        }
        if (found) {
            flags |= 4;
            cseg__warn(w, "categorical_split",
                       "the segments split exactly on the column \"%s\" (each "
                       "segment one value): they show the categories, not "
                       "behaviour; leave it out with --features",
                       name);
            break;
        }
    }
out:
    free(lvl);
    free(cnt);
    return rc < 0 ? rc : flags;
}
