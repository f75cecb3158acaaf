/* custseg — baskets for association rules: from a basket file or from the
 * purchase invoices of a transaction log, and their customers' segments. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/assoc.h"
#include "custseg/csv.h"
#include "internal.h"

/* ---- string interning ---- */

int cseg__strmap_init(cseg__strmap *m)
{
    memset(m, 0, sizeof *m);
    m->cap = 1024;
    m->slot = malloc(m->cap * sizeof *m->slot);
    if (!m->slot)
        return CSEG_ENOMEM;
    memset(m->slot, 0xff, m->cap * sizeof *m->slot);
    return 0;
}

void cseg__strmap_free(cseg__strmap *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->names[i]);
    free(m->names);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

static int grow(cseg__strmap *m)
{
    size_t cap = m->cap * 2;
    int32_t *slot = malloc(cap * sizeof *slot);
    if (!slot)
        return CSEG_ENOMEM;
    memset(slot, 0xff, cap * sizeof *slot);
    for (size_t i = 0; i < m->n; i++) {
        size_t h = (size_t)cseg__hash(m->names[i], strlen(m->names[i]), 0) & (cap - 1);
        while (slot[h] >= 0)
            h = (h + 1) & (cap - 1);
        slot[h] = (int32_t)i;
    }
    free(m->slot);
    m->slot = slot;
    m->cap = cap;
    return 0;
}

int32_t cseg__strmap_get(cseg__strmap *m, const char *s, size_t len, int add)
{
    size_t h = (size_t)cseg__hash(s, len, 0) & (m->cap - 1);
    for (;; h = (h + 1) & (m->cap - 1)) {
        int32_t i = m->slot[h];
        if (i < 0)
            break;
        if (strncmp(m->names[i], s, len) == 0 && m->names[i][len] == 0)
            return i;
    }
    if (!add)
        return -1;
    if (m->n >= (size_t)INT32_MAX)
        return -1;
    if (m->n == m->names_cap) {
        size_t nc = m->names_cap ? 2 * m->names_cap : 256;
        char **nn = realloc(m->names, nc * sizeof *nn);
        if (!nn)
            return -1;
        m->names = nn;
        m->names_cap = nc;
    }
    char *copy = cseg__strndup(s, len);
    if (!copy)
        return -1;
    m->names[m->n] = copy;
    m->slot[h] = (int32_t)m->n;
    int32_t id = (int32_t)m->n++;
    if (2 * m->n > m->cap && grow(m) < 0)
        return -1;
    return id;
}

/* ---- the store ---- */

void cseg_baskets_free(cseg_baskets *b)
{
    if (!b)
        return;
    for (size_t i = 0; b->item_names && i < b->n_items; i++)
        free(b->item_names[i]);
    for (size_t i = 0; b->cust_names && i < b->n_cust; i++)
        free(b->cust_names[i]);
    for (size_t i = 0; b->seg_names && i < b->k; i++)
        free(b->seg_names[i]);
    free(b->item_names);
    free(b->cust_names);
    free(b->seg_names);
    free(b->start);
    free(b->items);
    free(b->customer);
    free(b->segment);
    free(b);
}

size_t cseg_baskets_n(const cseg_baskets *b)
{
    return b->n;
}
size_t cseg_baskets_n_items(const cseg_baskets *b)
{
    return b->n_items;
}
size_t cseg_baskets_k(const cseg_baskets *b)
{
    return b->k;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sort and deduplicate one basket's items in place; returns the new count. */
static size_t distinct(int32_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || v[u - 1] != v[i])
            v[u++] = v[i];
    return u;
}

/* Growable CSR being filled basket by basket. */
typedef struct builder {
    size_t n, cap_b, len, cap_i;
    size_t *start;
    int32_t *items;
} builder;

static int push_item(builder *bd, int32_t item)
{
    if (bd->len == bd->cap_i) {
        size_t nc = bd->cap_i ? 2 * bd->cap_i : 4096;
        int32_t *ni = realloc(bd->items, nc * sizeof *ni);
        if (!ni)
            return CSEG_ENOMEM;
        bd->items = ni;
        bd->cap_i = nc;
    }
    bd->items[bd->len++] = item;
    return 0;
}

/* Close the basket that started at start[n]: its items made distinct. */
static int close_basket(builder *bd)
{
    if (bd->n + 2 > bd->cap_b) {
        size_t nc = bd->cap_b ? 2 * bd->cap_b : 1024;
        size_t *ns = realloc(bd->start, nc * sizeof *ns);
        if (!ns)
            return CSEG_ENOMEM;
        if (!bd->cap_b)
            ns[0] = 0;
        bd->start = ns;
        bd->cap_b = nc;
    }
    size_t s = bd->start[bd->n];
    bd->len = s + distinct(bd->items + s, bd->len - s);
    bd->start[++bd->n] = bd->len;
    return 0;
}

typedef struct named {
    const char *name;
    size_t old;
} named;

static int cmp_named(const void *pa, const void *pb)
{
    const named *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->old > b->old) - (a->old < b->old);
}

/* Renumber the items in the byte order of their names (two items that
 * happen to share a name stay two items), so that itemsets read and sort
 * the same whatever the order of the input. */
static int order_items(cseg_baskets *b)
{
    size_t m = b->n_items;
    named *v = malloc((m ? m : 1) * sizeof *v);
    char **names = malloc((m ? m : 1) * sizeof *names);
    int32_t *to = malloc((m ? m : 1) * sizeof *to);
    if (!v || !names || !to) {
        free(v);
        free(names);
        free(to);
        return CSEG_ENOMEM;
    }
    for (size_t o = 0; o < m; o++)
        v[o] = (named){b->item_names[o], o};
    qsort(v, m, sizeof *v, cmp_named);
    for (size_t i = 0; i < m; i++) {
        to[v[i].old] = (int32_t)i;
        names[i] = b->item_names[v[i].old];
    }
    for (size_t j = 0; j < b->start[b->n]; j++)
        b->items[j] = to[b->items[j]];
    for (size_t i = 0; i < b->n; i++) {
        size_t a = b->start[i];
        qsort(b->items + a, b->start[i + 1] - a, sizeof *b->items, cmp_i32);
    }
    free(b->item_names);
    b->item_names = names;
    free(v);
    free(to);
    return 0;
}

int cseg_baskets_read(cseg_baskets **out, const char *path, char delimiter, cseg_diag *d)
{
    *out = NULL;
    cseg_csv_params cp;
    cseg_csv_params_init(&cp);
    cp.has_header = 0;
    cp.delimiter = delimiter ? delimiter : ',';
    cseg_csv *r = NULL;
    int rc = cseg_csv_open(&r, path, &cp, d);
    if (rc < 0)
        return rc;
    cseg__strmap items;
    builder bd;
    memset(&bd, 0, sizeof bd);
    if ((rc = cseg__strmap_init(&items)) < 0) {
        cseg_csv_close(r);
        return cseg__diag(d, rc, path, 0, 0, "out of memory");
    }
    const cseg_csv_field *f;
    size_t nf;
    while ((rc = cseg_csv_next(r, &f, &nf, d)) == 1) {
        size_t before = bd.len;
        for (size_t j = 0; j < nf; j++) {
            const char *s = f[j].ptr;
            size_t len = f[j].len;
            while (len && isspace((unsigned char)*s))
                s++, len--;
            while (len && isspace((unsigned char)s[len - 1]))
                len--;
            if (!len)
                continue;
            size_t bad = cseg__utf8_invalid_at(s, len);
            if (bad < len) { /* as a log's text is refused: items are written out */
                rc = cseg__diag(d, CSEG_EPARSE, path, cseg_csv_line(r), 0,
                                "item %zu is not valid UTF-8 (byte 0x%02X); convert the file, "
                                "e.g. iconv -f WINDOWS-1252 -t UTF-8",
                                j + 1, (unsigned)(unsigned char)s[bad]);
                goto done;
            }
            int32_t id = cseg__strmap_get(&items, s, len, 1);
            if (id < 0 || push_item(&bd, id) < 0) {
                rc = cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
                goto done;
            }
        }
        if (bd.len == before) {
            rc = cseg__diag(d, CSEG_EPARSE, path, cseg_csv_line(r), 1,
                            "an empty basket (a line of blank items)");
            goto done;
        }
        if (close_basket(&bd) < 0) {
            rc = cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
            goto done;
        }
    }
    if (rc < 0)
        goto done;
    if (bd.n == 0) {
        rc = cseg__diag(d, CSEG_EEMPTY, path, 0, 0, "no basket in the file");
        goto done;
    }
    cseg_baskets *b = calloc(1, sizeof *b);
    if (!b) {
        rc = cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
        goto done;
    }
    b->n = bd.n;
    b->start = bd.start;
    b->items = bd.items;
    b->n_items = items.n;
    b->item_names = items.names;
    items.names = NULL;
    items.n = 0;
    memset(&bd, 0, sizeof bd);
    if (order_items(b) < 0) {
        cseg_baskets_free(b);
        rc = cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
        goto done;
    }
    *out = b;
    rc = 0;
done:
    free(bd.start);
    free(bd.items);
    cseg__strmap_free(&items);
    cseg_csv_close(r);
    return rc;
}

static long col_of(const cseg_table *t, const char *name)
{
    return name && name[0] ? cseg_table_find(t, name) : -1;
}

typedef struct txn_cols {
    const cseg_table *t;
    long ji;
    const int32_t *cust, *inv, *prod;
    const int64_t *time;
    const double *qty, *price, *amount;
    int64_t as_of_day;
} txn_cols;

/* A purchase row as cseg_rfm_compute keeps it (no return, no cancellation,
 * a positive value, before as_of), with an invoice and a product. */
static int is_purchase(const txn_cols *c, size_t i)
{
    if (c->inv[i] < 0 || c->prod[i] < 0 || (c->cust && c->cust[i] < 0))
        return 0;
    if (c->time && (c->time[i] == CSEG_TIME_NA ||
                    (c->as_of_day != CSEG_DAY_AUTO && cseg__day_of(c->time[i]) >= c->as_of_day)))
        return 0;
    double v = c->qty && c->price ? c->qty[i] * c->price[i] : c->amount ? c->amount[i] : NAN;
    if (!(v > 0) || (c->price && c->qty && !(c->price[i] > 0)) || (c->qty && c->qty[i] < 0))
        return 0;
    const char *s = cseg_table_level(c->t, (size_t)c->ji, c->inv[i]);
    return !(s && (s[0] == 'C' || s[0] == 'c'));
}

typedef struct label_pair {
    int32_t prod, label;
} label_pair;

static int cmp_pair(const void *pa, const void *pb)
{
    const label_pair *a = pa, *b = pb;
    if (a->prod != b->prod)
        return a->prod < b->prod ? -1 : 1;
    return (a->label > b->label) - (a->label < b->label);
}

/* Each product's most frequent label among rows[0..nr) into best (-1: none;
 * ties: the first in byte order). */
static int best_labels(const txn_cols *c, const int32_t *lab, long jl, const size_t *rows,
                       size_t nr, int32_t *best, size_t n_prod)
{
    label_pair *pairs = malloc((nr ? nr : 1) * sizeof *pairs);
    size_t *bestc = calloc(n_prod ? n_prod : 1, sizeof *bestc);
    if (!pairs || !bestc) {
        free(pairs);
        free(bestc);
        return CSEG_ENOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < nr; i++)
        if (lab[rows[i]] >= 0)
            pairs[m++] = (label_pair){c->prod[rows[i]], lab[rows[i]]};
    qsort(pairs, m, sizeof *pairs, cmp_pair);
    for (size_t i = 0, j; i < m; i = j) {
        for (j = i; j < m && pairs[j].prod == pairs[i].prod && pairs[j].label == pairs[i].label;)
            j++;
        int32_t p = pairs[i].prod, l = pairs[i].label;
        size_t n = j - i;
        if (best[p] < 0 || n > bestc[p] ||
            (n == bestc[p] && strcmp(cseg_table_level(c->t, (size_t)jl, l),
                                     cseg_table_level(c->t, (size_t)jl, best[p])) < 0)) {
            best[p] = l;
            bestc[p] = n;
        }
    }
    free(pairs);
    free(bestc);
    return 0;
}

static int unique_names(cseg_baskets *b, const cseg_table *t, long jr, const int32_t *item_of,
                        size_t n_prod)
{
    size_t m = b->n_items;
    named *v = malloc((m ? m : 1) * sizeof *v);
    size_t *prod = malloc((m ? m : 1) * sizeof *prod);
    if (!v || !prod) {
        free(v);
        free(prod);
        return CSEG_ENOMEM;
    }
    for (size_t p = 0; p < n_prod; p++)
        if (item_of[p] >= 0)
            prod[item_of[p]] = p;
    for (size_t i = 0; i < m; i++)
        v[i] = (named){b->item_names[i], i};
    qsort(v, m, sizeof *v, cmp_named);
    int rc = 0;
    unsigned char *dup = calloc(m ? m : 1, 1);
    if (!dup)
        rc = CSEG_ENOMEM;
    for (size_t i = 1; rc == 0 && i < m; i++) /* flagged first: renaming changes the names */
        if (strcmp(v[i].name, v[i - 1].name) == 0)
            dup[i] = dup[i - 1] = 1;
    for (size_t i = 0; i < m && rc == 0; i++) {
        if (!dup[i])
            continue;
        const char *code = cseg_table_level(t, (size_t)jr, (int32_t)prod[v[i].old]);
        size_t len = strlen(v[i].name) + strlen(code) + 4;
        char *name = malloc(len);
        if (!name) {
            rc = CSEG_ENOMEM;
            break;
        }
        snprintf(name, len, "%s [%s]", v[i].name, code);
        v[i].name = name;
    }
    free(dup);
    for (size_t i = 0; i < m; i++)
        if (v[i].name != b->item_names[v[i].old]) {
            free(b->item_names[v[i].old]);
            b->item_names[v[i].old] = (char *)v[i].name;
        }
    free(v);
    free(prod);
    return rc;
}

/* Item names: the product codes, or (jl >= 0) each product's most frequent
 * label among the rows kept, made unique with " [code]". */
static int name_items(cseg_baskets *b, const txn_cols *c, long jl, const size_t *rows, size_t nr,
                      const int32_t *item_of, size_t n_prod, long jr)
{
    const cseg_table *t = c->t;
    int32_t *best = malloc((n_prod ? n_prod : 1) * sizeof *best);
    int32_t *users = calloc(jl >= 0 ? cseg_table_n_levels(t, (size_t)jl) + 1 : 1, sizeof *users);
    int rc = best && users ? 0 : CSEG_ENOMEM;
    for (size_t p = 0; rc == 0 && p < n_prod; p++)
        best[p] = -1;
    if (rc == 0 && jl >= 0)
        rc = best_labels(c, cseg_table_codes(t, (size_t)jl), jl, rows, nr, best, n_prod);
    /* a label two products would share gets each product's code */
    for (size_t p = 0; rc == 0 && p < n_prod; p++)
        if (item_of[p] >= 0 && best[p] >= 0)
            users[best[p]]++;
    for (size_t p = 0; p < n_prod && rc == 0; p++) {
        if (item_of[p] < 0)
            continue;
        const char *code = cseg_table_level(t, (size_t)jr, (int32_t)p);
        char *name;
        if (best[p] < 0) {
            name = cseg__strdup(code);
        } else {
            const char *l = cseg_table_level(t, (size_t)jl, best[p]);
            size_t ll = strlen(l);
            while (ll && l[ll - 1] == ' ') /* labels come with trailing blanks */
                ll--;
            size_t len = ll + strlen(code) + 4;
            if ((name = malloc(len)) != NULL)
                snprintf(name, len, users[best[p]] > 1 ? "%.*s [%s]" : "%.*s", (int)ll, l, code);
        }
        if (!name)
            rc = CSEG_ENOMEM;
        b->item_names[item_of[p]] = name;
    }
    /* Labels that differ only in trailing blanks ("MUG", "MUG ") meet once
     * trimmed: such names get their product's code too. */
    if (rc == 0 && jl >= 0)
        rc = unique_names(b, t, jr, item_of, n_prod);
    free(users);
    free(best);
    return rc;
}

int cseg_baskets_from_txn(cseg_baskets **out, const cseg_table *t, const cseg_txn_roles *roles,
                          const char *label_column, int64_t as_of_day, cseg_diag *d)
{
    *out = NULL;
    long jc = col_of(t, roles->customer), jd = col_of(t, roles->date),
         ji = col_of(t, roles->invoice), jq = col_of(t, roles->quantity),
         jp = col_of(t, roles->price), ja = col_of(t, roles->amount),
         jr = col_of(t, roles->product);
    const int32_t *cust = jc >= 0 ? cseg_table_codes(t, (size_t)jc) : NULL;
    const int32_t *inv = ji >= 0 ? cseg_table_codes(t, (size_t)ji) : NULL;
    const int32_t *prod = jr >= 0 ? cseg_table_codes(t, (size_t)jr) : NULL;
    const int64_t *time = jd >= 0 ? cseg_table_times(t, (size_t)jd) : NULL;
    const double *qty = jq >= 0 ? cseg_table_numbers(t, (size_t)jq) : NULL;
    const double *price = jp >= 0 ? cseg_table_numbers(t, (size_t)jp) : NULL;
    const double *amount = ja >= 0 ? cseg_table_numbers(t, (size_t)ja) : NULL;
    txn_cols c = {t, ji, cust, inv, prod, time, qty, price, amount, as_of_day};
    if (!inv || !prod)
        return cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0,
                          "baskets need an invoice and a product column (--invoice, --product)");
    size_t n = cseg_table_n_rows(t), n_inv = cseg_table_n_levels(t, (size_t)ji);
    size_t n_prod = cseg_table_n_levels(t, (size_t)jr);
    size_t *cnt = calloc(n_inv + 1, sizeof *cnt), *order = malloc((n ? n : 1) * sizeof *order);
    int32_t *item_of = malloc((n_prod ? n_prod : 1) * sizeof *item_of);
    cseg_baskets *b = calloc(1, sizeof *b);
    int rc = CSEG_ENOMEM;
    if (!cnt || !order || !item_of || !b)
        goto fail;
    for (size_t p = 0; p < n_prod; p++)
        item_of[p] = -1;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_purchase(&c, i))
            continue;
        cnt[inv[i] + 1]++;
        kept++;
    }
    if (!kept) {
        rc =
            cseg__diag(d, CSEG_EEMPTY, NULL, 0, 0, "no purchase row with an invoice and a product");
        goto fail_quiet;
    }
    for (size_t v = 0; v < n_inv; v++)
        cnt[v + 1] += cnt[v];
    {
        size_t *pos = malloc((n_inv + 1) * sizeof *pos);
        if (!pos)
            goto fail;
        memcpy(pos, cnt, (n_inv + 1) * sizeof *pos);
        for (size_t i = 0; i < n; i++) {
            if (is_purchase(&c, i))
                order[pos[inv[i]]++] = i;
        }
        free(pos);
    }
    builder bd;
    memset(&bd, 0, sizeof bd);
    size_t n_cust = cust ? cseg_table_n_levels(t, (size_t)jc) : 0;
    int32_t *bcust = NULL;
    size_t cap_c = 0;
    for (size_t v = 0; v < n_inv; v++) {
        if (cnt[v + 1] == cnt[v])
            continue;
        for (size_t r = cnt[v]; r < cnt[v + 1]; r++) {
            int32_t p = prod[order[r]];
            if (item_of[p] < 0)
                item_of[p] = (int32_t)b->n_items++;
            if (push_item(&bd, item_of[p]) < 0)
                goto fail_bd;
        }
        if (bd.n + 1 > cap_c) {
            size_t nc = cap_c ? 2 * cap_c : 1024;
            int32_t *nb = realloc(bcust, nc * sizeof *nb);
            if (!nb)
                goto fail_bd;
            bcust = nb;
            cap_c = nc;
        }
        bcust[bd.n] = cust ? cust[order[cnt[v]]] : -1;
        if (close_basket(&bd) < 0)
            goto fail_bd;
    }
    b->n = bd.n;
    b->start = bd.start;
    b->items = bd.items;
    b->customer = cust ? bcust : NULL;
    if (!cust)
        free(bcust);
    b->item_names = calloc(b->n_items ? b->n_items : 1, sizeof *b->item_names);
    b->cust_names = calloc(n_cust ? n_cust : 1, sizeof *b->cust_names);
    if (!b->item_names || !b->cust_names)
        goto fail;
    b->n_cust = n_cust;
    long jl = label_column ? cseg_table_find(t, label_column) : -1;
    if (label_column && (jl < 0 || !cseg_table_codes(t, (size_t)jl))) {
        rc = cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0, "no text column \"%s\" to name the items",
                        label_column);
        goto fail_quiet;
    }
    if (name_items(b, &c, jl, order, cnt[n_inv], item_of, n_prod, jr) < 0)
        goto fail;
    for (size_t u = 0; u < n_cust; u++)
        if (!(b->cust_names[u] = cseg__strdup(cseg_table_level(t, (size_t)jc, (int32_t)u))))
            goto fail;
    if (order_items(b) < 0)
        goto fail;
    free(cnt);
    free(order);
    free(item_of);
    *out = b;
    return 0;
fail_bd:
    free(bd.start);
    free(bd.items);
    free(bcust);
fail:
    rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory building baskets");
fail_quiet:
    free(cnt);
    free(order);
    free(item_of);
    cseg_baskets_free(b);
    return rc;
}

int cseg_baskets_set_segments(cseg_baskets *b, const cseg_table *c, const char *id_column,
                              cseg_diag *d)
{
    if (!b->customer)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                          "these baskets have no customers to put in segments");
    long ji = cseg_table_find(c, id_column ? id_column : CSEG_RFM_COL_CUSTOMER_ID);
    long js = cseg_table_find(c, "segment"), jn = cseg_table_find(c, "segment_name");
    const int32_t *ids = ji >= 0 ? cseg_table_codes(c, (size_t)ji) : NULL;
    const double *seg = js >= 0 ? cseg_table_numbers(c, (size_t)js) : NULL;
    const int32_t *names = jn >= 0 ? cseg_table_codes(c, (size_t)jn) : NULL;
    if (!ids || !seg)
        return cseg__diag(d, CSEG_ENOCOL, NULL, 0, 0,
                          "the customers need a text id column \"%s\" and a number column "
                          "\"segment\"",
                          id_column ? id_column : CSEG_RFM_COL_CUSTOMER_ID);
    size_t n = cseg_table_n_rows(c), k = 0, nl = cseg_table_n_levels(c, (size_t)ji);
    /* A customer on two rows in two segments: which one its baskets go to
     * would be the last row's, silently. */
    size_t *first = malloc((nl ? nl : 1) * sizeof *first);
    if (!first)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t l = 0; l < nl; l++)
        first[l] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!(seg[i] >= 1 && seg[i] <= 4096 && seg[i] == floor(seg[i]))) {
            free(first);
            return cseg__diag(d, CSEG_EINVAL, NULL, cseg_table_row_line(c, i), js + 1,
                              "segment must be a whole number 1..4096");
        }
        k = (size_t)seg[i] > k ? (size_t)seg[i] : k;
        if (ids[i] < 0)
            continue;
        size_t f = first[ids[i]];
        if (f == SIZE_MAX) {
            first[ids[i]] = i;
        } else if (seg[f] != seg[i]) {
            free(first);
            return cseg__diag(d, CSEG_EINVAL, NULL, cseg_table_row_line(c, i), ji + 1,
                              "customer \"%s\" is in segment %g here and in segment %g on line "
                              "%ld: one segment a customer",
                              cseg_table_level(c, (size_t)ji, ids[i]), seg[i], seg[f],
                              cseg_table_row_line(c, f));
        }
    }
    free(first);
    /* customer name -> segment, through the baskets' customer index */
    cseg__strmap map;
    int rc = cseg__strmap_init(&map);
    int32_t *of = rc == 0 ? malloc((b->n_cust ? b->n_cust : 1) * sizeof *of) : NULL;
    char **sn = calloc(k ? k : 1, sizeof *sn);
    int32_t *bs = malloc((b->n ? b->n : 1) * sizeof *bs);
    if (!of || !sn || !bs)
        goto oom;
    for (size_t u = 0; u < b->n_cust; u++) {
        if (cseg__strmap_get(&map, b->cust_names[u], strlen(b->cust_names[u]), 1) != (int32_t)u)
            goto oom;
        of[u] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = cseg_table_level(c, (size_t)ji, ids[i]);
        int32_t u = id ? cseg__strmap_get(&map, id, strlen(id), 0) : -1;
        if (u >= 0)
            of[u] = (int32_t)seg[i] - 1;
        size_t s = (size_t)seg[i] - 1;
        if (!sn[s] && names && names[i] >= 0 &&
            !(sn[s] = cseg__strdup(cseg_table_level(c, (size_t)jn, names[i]))))
            goto oom;
    }
    for (size_t s = 0; s < k; s++) {
        if (!sn[s]) {
            char buf[32];
            snprintf(buf, sizeof buf, "Segment %zu", s + 1);
            if (!(sn[s] = cseg__strdup(buf)))
                goto oom;
        }
    }
    for (size_t i = 0; i < b->n; i++)
        bs[i] = b->customer[i] >= 0 ? of[b->customer[i]] : -1;
    for (size_t s = 0; b->seg_names && s < b->k; s++)
        free(b->seg_names[s]);
    free(b->seg_names);
    free(b->segment);
    b->segment = bs;
    b->seg_names = sn;
    b->k = k;
    free(of);
    cseg__strmap_free(&map);
    return 0;
oom:
    for (size_t s = 0; sn && s < k; s++)
        free(sn[s]);
    free(sn);
    free(bs);
    free(of);
    cseg__strmap_free(&map);
    return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
}
