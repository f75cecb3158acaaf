/* custseg — a transaction log's customers, row by row (cseg__rfm_acc).
 *
 * The cleaning and feature rules of features.h applied to rows as they come,
 * in file order, keeping per customer only what the features need: the exact
 * sums, the first and last purchase days, and counts. Memory grows with what
 * is distinct, not with the rows:
 *
 *   customers        about 150 bytes each (this state and the id's entry in
 *                    the reader's dictionary)
 *   invoices         4 bytes each (the customer that counted it; another
 *                    customer of the same invoice: a pair in a set), and
 *                    the invoice number's entry in the dictionary
 *   products bought  5 to 11 bytes a distinct (customer, product) pair: a
 *                    set per customer, so that an order's lines find theirs
 *                    in the same cache lines
 *   attributes       about 40 bytes a distinct (customer, value) pair
 *   spend window     (day before the end unknown) 16 bytes a kept row of
 *                    the last spend_window_days, pruned as later days arrive
 *
 * Exact duplicates need the rows seen before. An exact duplicate has the
 * same customer, invoice and time as its original, and logs keep the lines
 * of an order together, so the last DEDUP_WINDOW rows are kept in mind
 * (their fields, found by the raw record's hash). A row whose group
 * (customer, invoice, time) had rows that already left the window is the
 * case the window cannot judge: the caller starts again in full mode, where
 * every row is kept in mind (cseg__rfm_acc_create), so the result is exact
 * either way. Online Retail's one order split by another order's lines is
 * well inside the window.
 *
 * The same rows in the same order give the same sums, bit for bit, as
 * cseg_rfm_compute, which uses this state on a whole table. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/features.h"
#include "../core/internal.h"
#include "internal.h"

#define NONE UINT32_MAX
#define DEDUP_WINDOW ((size_t)1 << 20)

/* ---- a set of 64-bit keys, each with a 32-bit value ---- */

typedef struct u64map {
    uint64_t *key; /* key + 1; 0: empty */
    uint32_t *val;
    size_t cap, n;
} u64map;

/* Growing arrays ask for huge pages (cseg__realloc_huge): their first
 * touches are page faults, dear in a VM. */
static void *zeroed(size_t n, size_t size)
{
    void *q = cseg__realloc_huge(NULL, n, size);
    if (q)
        memset(q, 0, n * size);
    return q;
}

static void map_free(u64map *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

/* Keys are codes and times, not text: cseg__mix64 spreads them. */
static size_t map_slot(const u64map *m, uint64_t k)
{
    size_t i = (size_t)cseg__mix64(k) & (m->cap - 1);
    while (m->key[i] && m->key[i] != k + 1)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int map_grow(u64map *m)
{
    size_t cap = m->cap ? 2 * m->cap : 1024;
    u64map big = {zeroed(cap, sizeof *big.key), zeroed(cap, sizeof *big.val), cap, m->n};
    if (!big.key || !big.val) {
        map_free(&big);
        return CSEG_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->key[i]) {
            size_t j = map_slot(&big, m->key[i] - 1);
            big.key[j] = m->key[i];
            big.val[j] = m->val[i];
        }
    map_free(m);
    *m = big;
    return 0;
}

/* The value of k, or NONE. */
static uint32_t map_get(const u64map *m, uint64_t k)
{
    if (!m->n)
        return NONE;
    size_t i = map_slot(m, k);
    return m->key[i] ? m->val[i] : NONE;
}

/* k's slot, added with value v when absent (*added 1). */
static int map_put(u64map *m, uint64_t k, uint32_t v, uint32_t **val, int *added)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m) < 0)
        return CSEG_ENOMEM;
    size_t i = map_slot(m, k);
    *added = !m->key[i];
    if (*added) {
        m->key[i] = k + 1;
        m->val[i] = v;
        m->n++;
    }
    *val = &m->val[i];
    return 0;
}

/* ---- the state ---- */

typedef struct acust {
    cseg__exact_sum net, gross, returned, window;
    int64_t first, last; /* purchase days: INT64_MAX / INT64_MIN before the first */
    uint64_t poff;       /* the products bought: a set of pcap slots at pool[poff] */
    uint32_t pcap;
    uint32_t nfreq, nprod;
    uint32_t win_head, win_tail; /* window entries (spend window, as_of not given) */
    unsigned char any, purchase; /* a kept row; a kept purchase */
} acust;

typedef struct wentry { /* 16 bytes: the day fits 32 bits (years 1..9999, as parsed) */
    double value;
    int32_t day;
    uint32_t next;
} wentry;

/* A value's count among a customer's kept rows and its latest row. */
typedef struct aentry {
    uint32_t count;
    int32_t level;
    int64_t time;
    uint64_t row;
} aentry;

typedef struct attr {
    u64map map; /* (customer, level) -> entry */
    aentry *e;
    size_t n, cap;
    uint32_t *best; /* per customer: its entry of the most frequent value, NONE */
} attr;

/* A slot of the map of lines in mind: its home (the line's group, plus a
 * little of its hash: an order's lines probe the same few cache lines), the
 * line (index + 1; 0: empty) and the top of its raw hash, looked at before
 * the line is. */
struct lslot {
    uint64_t home;
    uint32_t idx1, tag;
};

/* A row kept in mind for the duplicate check. */
typedef struct dline {
    uint64_t h;
    double qty, price, amount;
    int64_t time;
    int32_t cust, inv, prod;
} dline;

struct cseg__rfm_acc {
    cseg_rfm_params p;
    int full;
    size_t window; /* duplicate window in rows (full: unbounded) */
    cseg_quality q;
    uint64_t row;
    int64_t max_day; /* the latest day among rows kept by cleaning */
    cseg__exact_sum qg, qr;
    acust *c;
    size_t nc;
    int32_t *inv_owner; /* per invoice code: the customer that counted it, -1 */
    size_t n_inv;
    u64map inv_more; /* (invoice, customer): other customers of an invoice */
    /* each customer's products bought, a set of its own (an order's lines
     * probe the same cache lines) in a block of the pool; a set that doubles
     * leaves its block to the next set of that size (pool_free: the first
     * free block of 2^k slots, offset + 1, each linked to the next) */
    uint32_t *pool; /* product code + 1; 0: empty */
    size_t pool_len, pool_cap;
    uint64_t pool_free[32];
    wentry *win;
    size_t n_win, cap_win, win_kept; /* win_kept: entries left by the last pruning */
    attr at[CSEG_ATTRIBUTES_MAX];
    size_t na;
    /* duplicates: the rows in mind (a ring of `window` when not full) */
    dline *lines;
    size_t n_lines, cap_lines, pos; /* pos: rows put in the ring so far */
    struct lslot *lmap; /* the lines in mind by their group and raw hash */
    size_t lcap;
    u64map retired; /* groups with rows that left the window */
    uint64_t last_group;
    int last_group_ok;
    int restart; /* a retired group came back: start again in full mode */
};

int cseg__rfm_acc_create(cseg__rfm_acc **out, const cseg_rfm_params *p, int full, size_t window)
{
    cseg__rfm_acc *a = calloc(1, sizeof *a);
    if (!a)
        return CSEG_ENOMEM;
    if (p)
        a->p = *p;
    else
        cseg_rfm_params_init(&a->p);
    a->full = full;
    a->window = window ? window : DEDUP_WINDOW;
    a->max_day = INT64_MIN;
    a->q.first_day = INT64_MAX;
    a->q.last_day = INT64_MIN;
    *out = a;
    return 0;
}

void cseg__rfm_acc_free(cseg__rfm_acc *a)
{
    if (!a)
        return;
    free(a->c);
    free(a->inv_owner);
    map_free(&a->inv_more);
    free(a->pool);
    free(a->win);
    for (size_t k = 0; k < CSEG_ATTRIBUTES_MAX; k++) {
        map_free(&a->at[k].map);
        free(a->at[k].e);
        free(a->at[k].best);
    }
    free(a->lines);
    free(a->lmap);
    map_free(&a->retired);
    free(a);
}

int cseg__rfm_acc_restart(const cseg__rfm_acc *a)
{
    return a->restart;
}

/* Room for customer codes < n (and their attribute bests). */
static int customers_room(cseg__rfm_acc *a, size_t n)
{
    if (n <= a->nc)
        return 0;
    size_t cap = a->nc ? a->nc : 1024;
    while (cap < n)
        cap *= 2;
    acust *c = cseg__realloc_huge(a->c, cap, sizeof *c);
    if (!c)
        return CSEG_ENOMEM;
    a->c = c;
    for (size_t k = 0; k < a->na; k++) {
        uint32_t *b = cseg__realloc_huge(a->at[k].best, cap, sizeof *b);
        if (!b)
            return CSEG_ENOMEM;
        a->at[k].best = b;
        for (size_t u = a->nc; u < cap; u++)
            b[u] = NONE;
    }
    for (size_t u = a->nc; u < cap; u++) {
        memset(&c[u], 0, sizeof c[u]);
        c[u].first = INT64_MAX;
        c[u].last = INT64_MIN;
        c[u].win_head = c[u].win_tail = NONE;
    }
    a->nc = cap;
    return 0;
}

static int invoices_room(cseg__rfm_acc *a, size_t n)
{
    if (n <= a->n_inv)
        return 0;
    size_t cap = a->n_inv ? a->n_inv : 1024;
    while (cap < n)
        cap *= 2;
    int32_t *o = cseg__realloc_huge(a->inv_owner, cap, sizeof *o);
    if (!o)
        return CSEG_ENOMEM;
    for (size_t k = a->n_inv; k < cap; k++)
        o[k] = -1;
    a->inv_owner = o;
    a->n_inv = cap;
    return 0;
}

/* ---- the spend window when the as_of day is the log's last day + 1 ---- */

/* Entries older than cut can no longer fall in the window: dropped, in
 * each customer's order. */
static int prune_window(cseg__rfm_acc *a, int64_t cut)
{
    wentry *w = malloc((a->n_win ? a->n_win : 1) * sizeof *w);
    if (!w)
        return CSEG_ENOMEM;
    size_t n = 0;
    for (size_t u = 0; u < a->nc; u++) {
        acust *c = &a->c[u];
        uint32_t e = c->win_head;
        c->win_head = c->win_tail = NONE;
        for (; e != NONE; e = a->win[e].next) {
            if (a->win[e].day < cut)
                continue;
            w[n] = (wentry){a->win[e].value, a->win[e].day, NONE};
            if (c->win_tail != NONE)
                w[c->win_tail].next = (uint32_t)n;
            else
                c->win_head = (uint32_t)n;
            c->win_tail = (uint32_t)n++;
        }
    }
    free(a->win);
    a->win = w;
    a->n_win = n;
    a->cap_win = n ? n : 1;
    a->win_kept = n;
    return 0;
}

static int window_add(cseg__rfm_acc *a, acust *c, int64_t day, double value)
{
    int64_t cut = a->max_day + 1 - a->p.spend_window_days;
    if (day < cut)
        return 0;
    if (day < INT32_MIN || day > INT32_MAX)
        return CSEG_ERANGE;
    if (a->n_win == a->cap_win) {
        size_t floor = (size_t)1 << 20;
        if (a->n_win >= floor && a->n_win >= 2 * a->win_kept) {
            int rc = prune_window(a, cut);
            if (rc < 0)
                return rc;
        }
        if (a->n_win == a->cap_win) {
            if (a->n_win >= NONE - 1)
                return CSEG_ETOOBIG;
            size_t cap = a->cap_win ? 2 * a->cap_win : 4096;
            wentry *w = cseg__realloc_huge(a->win, cap, sizeof *w);
            if (!w)
                return CSEG_ENOMEM;
            a->win = w;
            a->cap_win = cap;
        }
    }
    uint32_t e = (uint32_t)a->n_win++;
    a->win[e] = (wentry){value, (int32_t)day, NONE};
    if (c->win_tail != NONE)
        a->win[c->win_tail].next = e;
    else
        c->win_head = e;
    c->win_tail = e;
    return 0;
}

/* ---- products bought ---- */

static size_t product_home(uint32_t code, uint32_t cap)
{
    return (size_t)((code * 2654435761u) >> 7) & (cap - 1);
}

/* A block of cap slots (a power of 2, >= 4) for a set: one left by a set
 * that grew, or new at the pool's end. Offset in *off. */
static int size_class(uint32_t cap) /* log2 of a power of 2 */
{
    int k = 0;
    while (((uint32_t)1 << k) < cap)
        k++;
    return k;
}

static int pool_take(cseg__rfm_acc *a, uint32_t cap, uint64_t *off)
{
    int k = size_class(cap);
    if (a->pool_free[k]) {
        *off = a->pool_free[k] - 1;
        memcpy(&a->pool_free[k], a->pool + *off, sizeof a->pool_free[k]);
        return 0;
    }
    if (a->pool_len + cap > a->pool_cap) {
        size_t pc = a->pool_cap ? a->pool_cap + a->pool_cap / 2 : (size_t)1 << 16;
        while (pc < a->pool_len + cap)
            pc += pc / 2;
        uint32_t *p = cseg__realloc_huge(a->pool, pc, sizeof *p);
        if (!p)
            return CSEG_ENOMEM;
        a->pool = p;
        a->pool_cap = pc;
    }
    *off = a->pool_len;
    a->pool_len += cap;
    return 0;
}

/* The block at off (cap slots) is free: the next set of its size takes it. */
static void pool_give(cseg__rfm_acc *a, uint64_t off, uint32_t cap)
{
    int k = size_class(cap);
    memcpy(a->pool + off, &a->pool_free[k], sizeof a->pool_free[k]); /* the link */
    a->pool_free[k] = off + 1;
}

/* 1 when the customer had not bought code before (now in), 0 when it had,
 * CSEG_ENOMEM. Sets are at most three quarters full. */
static int product_add(cseg__rfm_acc *a, acust *c, uint32_t code)
{
    if ((c->nprod + 1) * 4 > c->pcap * 3) {
        uint32_t cap = c->pcap ? 2 * c->pcap : 4;
        uint64_t off;
        if (c->pcap >= ((uint32_t)1 << 30))
            return CSEG_ETOOBIG;
        if (pool_take(a, cap, &off) < 0)
            return CSEG_ENOMEM;
        uint32_t *to = a->pool + off, *from = a->pool + c->poff;
        memset(to, 0, cap * sizeof *to);
        for (uint32_t i = 0; i < c->pcap; i++)
            if (from[i]) {
                size_t j = product_home(from[i] - 1, cap);
                while (to[j])
                    j = (j + 1) & (cap - 1);
                to[j] = from[i];
            }
        if (c->pcap)
            pool_give(a, c->poff, c->pcap);
        c->poff = off;
        c->pcap = cap;
    }
    uint32_t *set = a->pool + c->poff;
    size_t j = product_home(code, c->pcap);
    while (set[j]) {
        if (set[j] == code + 1)
            return 0;
        j = (j + 1) & (c->pcap - 1);
    }
    set[j] = code + 1;
    return 1;
}

/* ---- exact duplicates ---- */

static uint64_t group_of(int32_t cust, int32_t inv, int64_t time)
{
    return cseg__mix64(cseg__mix64((uint64_t)(uint32_t)cust << 32 | (uint32_t)inv) ^ (uint64_t)time);
}

static int same_line(const dline *x, const dline *y)
{
#define EQF(f) (x->f == y->f || (isnan(x->f) && isnan(y->f)))
    return x->h == y->h && x->cust == y->cust && x->inv == y->inv && x->prod == y->prod &&
           x->time == y->time && EQF(qty) && EQF(price) && EQF(amount);
#undef EQF
}

static uint64_t line_home(uint64_t group, uint64_t h)
{
    return group + (h & 31);
}

static int lmap_grow(cseg__rfm_acc *a)
{
    size_t cap = a->lcap ? 2 * a->lcap : 4096;
    struct lslot *m = zeroed(cap, sizeof *m);
    if (!m)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < a->lcap; i++)
        if (a->lmap[i].idx1) {
            size_t j = (size_t)a->lmap[i].home & (cap - 1);
            while (m[j].idx1)
                j = (j + 1) & (cap - 1);
            m[j] = a->lmap[i];
        }
    free(a->lmap);
    a->lmap = m;
    a->lcap = cap;
    return 0;
}

/* Line e leaves the map (backward-shift deletion keeps probing valid). */
static void lmap_remove(cseg__rfm_acc *a, uint32_t e, uint64_t home)
{
    size_t mask = a->lcap - 1, i = (size_t)home & mask;
    while (a->lmap[i].idx1 != e + 1)
        i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; a->lmap[j].idx1; j = (j + 1) & mask) {
        size_t hj = (size_t)a->lmap[j].home & mask;
        /* j's entry may move to the hole at i unless its home lies in (i, j] */
        if (((j - hj) & mask) >= ((j - i) & mask)) {
            a->lmap[i] = a->lmap[j];
            i = j;
        }
    }
    a->lmap[i].idx1 = 0;
}

/* 1: a duplicate of a row in mind; 0: new (now in mind); CSEG_ECANCELED:
 * its group had rows that left the window (a->restart). */
static int duplicate(cseg__rfm_acc *a, const dline *x)
{
    uint64_t g = group_of(x->cust, x->inv, x->time), home = line_home(g, x->h);
    uint32_t tag = (uint32_t)(x->h >> 32);
    if (!a->full && (!a->last_group_ok || g != a->last_group)) {
        if (map_get(&a->retired, g) != NONE) {
            a->restart = 1;
            return CSEG_ECANCELED;
        }
        a->last_group = g;
        a->last_group_ok = 1;
    }
    if (a->lcap) {
        size_t mask = a->lcap - 1;
        for (size_t i = (size_t)home & mask; a->lmap[i].idx1; i = (i + 1) & mask)
            if (a->lmap[i].tag == tag && same_line(&a->lines[a->lmap[i].idx1 - 1], x))
                return 1;
    }
    uint32_t e;
    if (!a->full && a->pos >= a->window) { /* the oldest row leaves */
        e = (uint32_t)(a->pos % a->window);
        const dline *old = &a->lines[e];
        uint64_t og = group_of(old->cust, old->inv, old->time);
        uint32_t *v;
        int added;
        lmap_remove(a, e, line_home(og, old->h));
        if (map_put(&a->retired, og, 0, &v, &added) < 0)
            return CSEG_ENOMEM;
        if (og == g)
            a->last_group_ok = 0;
    } else {
        if (a->n_lines == a->cap_lines) {
            if (a->n_lines >= NONE - 1)
                return CSEG_ETOOBIG;
            size_t cap = a->cap_lines ? 2 * a->cap_lines : 4096;
            if (!a->full && cap > a->window)
                cap = a->window;
            dline *l = cseg__realloc_huge(a->lines, cap, sizeof *l);
            if (!l)
                return CSEG_ENOMEM;
            a->lines = l;
            a->cap_lines = cap;
        }
        e = (uint32_t)a->n_lines++;
        if ((a->n_lines + 1) * 2 > a->lcap && lmap_grow(a) < 0)
            return CSEG_ENOMEM;
    }
    a->pos++;
    a->lines[e] = *x;
    size_t mask = a->lcap - 1, i = (size_t)home & mask;
    while (a->lmap[i].idx1)
        i = (i + 1) & mask;
    a->lmap[i] = (struct lslot){home, e + 1, tag};
    return 0;
}

/* ---- rows ---- */

static long col_of(const cseg_table *t, const char *name)
{
    return name[0] ? cseg_table_find(t, name) : -1;
}

static int attribute_row(attr *at, int32_t cust, int32_t level, int64_t time, uint64_t row)
{
    uint32_t *v;
    int added;
    uint64_t k = (uint64_t)(uint32_t)cust << 32 | (uint32_t)level;
    if (map_put(&at->map, k, (uint32_t)at->n, &v, &added) < 0)
        return CSEG_ENOMEM;
    if (added) {
        if (at->n == at->cap) {
            if (at->n >= NONE - 1)
                return CSEG_ETOOBIG;
            size_t cap = at->cap ? 2 * at->cap : 1024;
            aentry *e = cseg__realloc_huge(at->e, cap, sizeof *e);
            if (!e)
                return CSEG_ENOMEM;
            at->e = e;
            at->cap = cap;
        }
        at->e[at->n++] = (aentry){0, level, INT64_MIN, 0};
    }
    aentry *e = &at->e[*v];
    e->count++;
    if (time > e->time || (time == e->time && row >= e->row)) {
        e->time = time;
        e->row = row;
    }
    /* The entry only grew: the best is it or the one before. */
    uint32_t b = at->best[cust];
    if (b == NONE || b == *v)
        at->best[cust] = *v;
    else {
        const aentry *o = &at->e[b];
        if (e->count > o->count ||
            (e->count == o->count &&
             (e->time > o->time || (e->time == o->time && e->row > o->row))))
            at->best[cust] = *v;
    }
    return 0;
}

int cseg__rfm_acc_add(cseg__rfm_acc *a, const cseg_table *t, const cseg_txn_roles *roles,
                      const unsigned char *dup, unsigned char *keep_out, double *value_out,
                      cseg_diag *d)
{
    const cseg_rfm_params *p = &a->p;
    long jc = col_of(t, roles->customer), jd = col_of(t, roles->date), ji = col_of(t, roles->invoice);
    long jq = col_of(t, roles->quantity), jp = col_of(t, roles->price), ja = col_of(t, roles->amount);
    long jr = col_of(t, roles->product);
    const int32_t *cust = jc >= 0 ? cseg_table_codes(t, (size_t)jc) : NULL;
    const int64_t *time = jd >= 0 ? cseg_table_times(t, (size_t)jd) : NULL;
    const int32_t *inv = ji >= 0 ? cseg_table_codes(t, (size_t)ji) : NULL;
    const double *qty = jq >= 0 ? cseg_table_numbers(t, (size_t)jq) : NULL;
    const double *price = jp >= 0 ? cseg_table_numbers(t, (size_t)jp) : NULL;
    const double *amount = ja >= 0 ? cseg_table_numbers(t, (size_t)ja) : NULL;
    const int32_t *prod = jr >= 0 ? cseg_table_codes(t, (size_t)jr) : NULL;
    const uint64_t *hash = cseg_table_row_hashes(t);
    if (!cust || !time || !(amount || (qty && price)))
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                          "transaction table lacks a text customer column, a date column, and "
                          "numeric quantity and price (or amount) columns");
    const int32_t *av[CSEG_ATTRIBUTES_MAX];
    a->na = roles->n_attributes < CSEG_ATTRIBUTES_MAX ? roles->n_attributes : CSEG_ATTRIBUTES_MAX;
    for (size_t k = 0; k < a->na; k++) {
        long j = cseg_table_find(t, roles->attributes[k]);
        if (!(av[k] = j >= 0 ? cseg_table_codes(t, (size_t)j) : NULL))
            return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                              "attribute column \"%s\" is not a text column of the log",
                              roles->attributes[k]);
    }
    int use_amount = !(qty && price);
    size_t n = cseg_table_n_rows(t);
    if (customers_room(a, cseg_table_n_levels(t, (size_t)jc)) < 0 ||
        (inv && invoices_room(a, cseg_table_n_levels(t, (size_t)ji)) < 0))
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory computing customer features");
    const int explicit_as_of = p->as_of_day != CSEG_DAY_AUTO;
    const int64_t window_start = explicit_as_of ? p->as_of_day - p->spend_window_days : 0;
    cseg_quality *q = &a->q;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t row = a->row++;
        if (keep_out)
            keep_out[i] = 0;
        q->n_rows++;
        int32_t cu = cust[i];
        if (cu < 0) {
            q->n_no_customer++;
            continue;
        }
        if (dup) {
            if (dup[i]) {
                q->n_duplicates++;
                continue;
            }
        } else if (p->drop_duplicates) {
            dline x = {hash ? hash[i] : 0, qty ? qty[i] : 0, price ? price[i] : 0,
                       amount ? amount[i] : 0, time[i], cu, inv ? inv[i] : -1,
                       prod ? prod[i] : -1};
            if (!hash) {
                int64_t k[4] = {time[i], x.cust, x.inv, x.prod};
                x.h = cseg__hash(k, sizeof k, cseg__hash(&x.qty, 3 * sizeof(double), 0));
            }
            if ((rc = duplicate(a, &x)) < 0)
                return rc == CSEG_ECANCELED ? rc
                                            : cseg__diag(d, rc, NULL, 0, 0,
                                                         "out of memory finding duplicates");
            if (rc == 1) {
                q->n_duplicates++;
                continue;
            }
        }
        double v;
        int incomplete = time[i] == CSEG_TIME_NA;
        if (use_amount) {
            incomplete |= isnan(amount[i]) || !isfinite(amount[i]);
            v = amount[i];
        } else {
            incomplete |= !isfinite(qty[i]) || !isfinite(price[i]);
            v = qty[i] * price[i];
        }
        if (incomplete) {
            q->n_incomplete++;
            continue;
        }
        if (!isfinite(v))
            return cseg__diag(d, CSEG_ERANGE, NULL, cseg_table_row_line(t, i), 0,
                              "quantity x price is beyond the range of numbers (%g x %g)",
                              qty[i], price[i]);
        if ((!use_amount && price[i] <= 0) || (use_amount && v == 0)) {
            q->n_bad_price++;
            continue;
        }
        int cancel = 0;
        if (inv && inv[i] >= 0) {
            const char *s = cseg_table_level(t, (size_t)ji, inv[i]);
            cancel = s && (s[0] == 'C' || s[0] == 'c');
        }
        int ret = cancel || v < 0 || (qty && qty[i] < 0);
        double value = ret ? -fabs(v) : v;
        int64_t day = cseg__day_of(time[i]);
        if (day > a->max_day)
            a->max_day = day;
        if (explicit_as_of && day >= p->as_of_day) {
            q->n_after_as_of++;
            continue;
        }
        q->first_day = day < q->first_day ? day : q->first_day;
        q->last_day = day > q->last_day ? day : q->last_day;
        double ng = ret ? q->gross_revenue : q->gross_revenue + value;
        double nr = ret ? q->returned_value - value : q->returned_value;
        if (!isfinite(ng) || !isfinite(nr))
            return cseg__diag(d, CSEG_ERANGE, NULL, cseg_table_row_line(t, i), 0,
                              "the total of the %s is beyond the range of numbers",
                              ret ? "returns" : "purchases");
        if (ret) {
            q->n_return_rows++;
            cseg__add_exact(&a->qr, -value);
            q->returned_value += -value;
            q->n_cancellations += cancel;
        } else {
            q->n_purchase_rows++;
            cseg__add_exact(&a->qg, value);
            q->gross_revenue += value;
        }
        if (keep_out)
            keep_out[i] = ret ? 2 : 1;
        if (value_out)
            value_out[i] = value;
        /* The customer's state, from this row. */
        acust *c = &a->c[cu];
        c->any = 1;
        cseg__add_exact(&c->net, value);
        if (explicit_as_of) {
            if (day >= window_start)
                cseg__add_exact(&c->window, value);
        } else if ((rc = window_add(a, c, day, value)) < 0) {
            return rc == CSEG_ERANGE
                       ? cseg__diag(d, rc, NULL, cseg_table_row_line(t, i), 0,
                                    "a date beyond the year 5,000,000")
                       : cseg__diag(d, rc, NULL, 0, 0, "out of memory computing customer features");
        }
        for (size_t k = 0; k < a->na; k++)
            if (av[k][i] >= 0 && (rc = attribute_row(&a->at[k], cu, av[k][i], time[i], row)) < 0)
                return cseg__diag(d, rc, NULL, 0, 0, "out of memory computing customer features");
        if (ret) {
            cseg__add_exact(&c->returned, -value);
            continue;
        }
        cseg__add_exact(&c->gross, value);
        c->first = day < c->first ? day : c->first;
        c->last = day > c->last ? day : c->last;
        c->purchase = 1;
        /* A purchase row without an invoice number counts as its own order. */
        if (inv && inv[i] >= 0) {
            int32_t *o = &a->inv_owner[inv[i]];
            if (*o < 0) {
                *o = cu;
                c->nfreq++;
            } else if (*o != cu) {
                uint32_t *v2;
                int added;
                if (map_put(&a->inv_more, (uint64_t)(uint32_t)inv[i] << 32 | (uint32_t)cu, 0,
                            &v2, &added) < 0)
                    return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
                c->nfreq += (uint32_t)added;
            }
        } else {
            c->nfreq++;
        }
        if (prod && prod[i] >= 0) {
            int added = product_add(a, c, (uint32_t)prod[i]);
            if (added < 0)
                return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
            c->nprod += (uint32_t)added;
        }
    }
    return 0;
}

/* ---- the customer table ---- */

typedef struct idsort {
    const char *s;
    size_t len;
    int numeric;
    int32_t code;
} idsort;

/* Numeric ids in numeric order (any length), before other ids in byte order. */
static int cmp_ids(const void *pa, const void *pb)
{
    const idsort *a = pa, *b = pb;
    if (a->numeric != b->numeric)
        return a->numeric ? -1 : 1;
    if (a->numeric) {
        const char *x = a->s, *y = b->s;
        while (*x == '0' && x[1])
            x++;
        while (*y == '0' && y[1])
            y++;
        size_t lx = strlen(x), ly = strlen(y);
        if (lx != ly)
            return lx < ly ? -1 : 1;
        int c = strcmp(x, y);
        if (c)
            return c;
    }
    return strcmp(a->s, b->s);
}

/* An id as cmp_ids orders it. */
static idsort id_key(const char *s, int32_t code)
{
    size_t len = strlen(s), dg = 0;
    while (dg < len && isdigit((unsigned char)s[dg]))
        dg++;
    return (idsort){s, len, len > 0 && dg == len, code};
}

/* The R/F/M scores (internal.h) from four order statistics instead of
 * ranking every value: with x(1) <= ... <= x(n) the values in order and
 * q_j = ceil(j n / 5), at least q_j values lie below v exactly when
 * v > x(q_j), and at least q_j above it exactly when v < x(n + 1 - q_j);
 * since floor(5 worse / n) >= j exactly when worse >= q_j, the score is 1 +
 * the number of those four values v is beyond (never more than 5: worse <
 * n). A radix selection is a few passes over the values where the sort was
 * O(n log n) comparisons through qsort, three times over every customer. */
int cseg__quintile_scores(const double *v, size_t n, int higher_better, double *score)
{
    return cseg__quintile_scores_split(v, n, higher_better, score, NULL);
}

int cseg__quintile_scores_split(const double *v, size_t n, int higher_better, double *score,
                                const cseg__split_comm *sc)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += !isnan(v[i]);
    double *kept = NULL;
    const double *u = v;
    int rc = 0;
    /* a NaN has no place in the order: scored 1, the rest among themselves */
    if ((m < n && m > 0) || (sc && m > 0)) { /* over pieces, the selection reorders its copy */
        if ((kept = malloc(m * sizeof *kept)))
            for (size_t i = 0, k = 0; i < n; i++)
                if (!isnan(v[i]))
                    kept[k++] = v[i];
        u = kept;
        rc = kept ? 0 : CSEG_ENOMEM;
    }
    uint64_t all = m, failed = rc < 0;
    if (sc) { /* every piece's count (and failure) */
        uint64_t c[2] = {m, failed};
        int r2 = sc->sum(sc->ctx, c, 2, NULL, 0);
        all = c[0];
        rc = r2 < 0 ? r2 : c[1] ? CSEG_ENOMEM : 0;
    }
    if (rc < 0) {
        free(kept);
        return rc;
    }
    double t[4] = {0, 0, 0, 0};
    if (all > 0) {
        size_t rank[4];
        uint64_t rank64[4];
        for (size_t j = 1; j <= 4; j++) {
            uint64_t q = (j * all + 4) / 5; /* ceil(j m / 5), 1..m */
            rank64[j - 1] = higher_better ? q - 1 : all - q;
            rank[j - 1] = (size_t)rank64[j - 1];
        }
        /* the ranks ascend for higher_better, descend otherwise: the
         * selection over pieces takes them in any order */
        rc = sc ? sc->select(sc->ctx, kept ? kept : (double *)u, m, rank64, 4, t, NULL)
                : cseg__select_doubles(u, m, rank, 4, t);
        free(kept);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        int s = 1;
        for (size_t j = 0; j < 4 && !isnan(x); j++)
            s += higher_better ? x > t[j] : x < t[j];
        score[i] = s;
    }
    return 0;
}

/* ---- parts: a reader's customers as bytes that merge ----
 *
 * A part holds, for the customers with a purchase among the rows one reader
 * saw (all of a customer's rows must be in the same part), the features
 * before scoring, each attribute's best value, and the cleaning counts.
 * Layout (host byte order: the parts of one run come from one build):
 *
 *   u32 magic, u32 attributes, u32 has_products, u32 PART_SORTED (0: an
 *   older part, its customers in no set order)
 *   cseg_quality (counts so far), 4 doubles (gross and returned sums, s, c)
 *   u64 m; m x PV doubles; m ids, each NUL-terminated; the customers in id
 *   order (cmp_ids)
 *   per attribute: u64 levels; per level i64 key, text NUL-terminated;
 *                  m x i32 level (-1: none)
 *
 * A level's key orders the merged levels as one reader of the whole log
 * would have met them (the level's first row). */

#define PART_MAGIC 0x31505343u /* "CSP1" */
#define PART_SORTED 1u          /* head[3]: the customers are in id order (cmp_ids) */
enum { RECENCY, FREQ, MONETARY, TENURE, AOV, SPEND, NPROD, RRATE, PV, RS = PV, FS, MS, NF };

/* A NUL-terminated string into a part. */
static void pb_str(cseg__buf *pb, const char *s)
{
    cseg__buf_put(pb, s, strlen(s) + 1);
}

int64_t cseg__rfm_acc_max_day(const cseg__rfm_acc *a)
{
    return a->max_day;
}

int cseg__rfm_acc_part(cseg__rfm_acc *a, const cseg_table *t, const cseg_txn_roles *roles,
                       int64_t max_day, const int64_t *const *level_key, char **out,
                       size_t *out_len, int32_t **codes_out, cseg_diag *d)
{
    const cseg_rfm_params *p = &a->p;
    cseg_quality q = a->q;
    cseg__buf pb = {0};
    int32_t *codes = NULL;
    *out = NULL;
    *out_len = 0;
    if (codes_out)
        *codes_out = NULL;
    long jc = col_of(t, roles->customer);
    int64_t as_of = p->as_of_day != CSEG_DAY_AUTO ? p->as_of_day
                    : max_day == INT64_MIN        ? 0
                                                  : max_day + 1;
    q.as_of_day = as_of;
    size_t n_codes = jc >= 0 ? cseg_table_n_levels(t, (size_t)jc) : 0, m = 0;
    n_codes = n_codes < a->nc ? n_codes : a->nc;
    if (!(codes = malloc((n_codes ? n_codes : 1) * sizeof *codes)))
        goto oom;
    for (size_t k = 0; k < n_codes; k++) {
        if (a->c[k].purchase)
            codes[m++] = (int32_t)k;
        else
            q.n_return_only += a->c[k].any;
    }
    q.n_customers = m;
    /* The customers in id order, as the table will have them: the reader
     * of the part merges sorted parts instead of sorting all customers (with
     * many readers, each sorts its own). */
    if (m > 1) {
        idsort *ids = malloc(m * sizeof *ids);
        if (!ids)
            goto oom;
        for (size_t u = 0; u < m; u++)
            ids[u] = id_key(cseg_table_level(t, (size_t)jc, codes[u]), codes[u]);
        qsort(ids, m, sizeof *ids, cmp_ids);
        for (size_t u = 0; u < m; u++)
            codes[u] = ids[u].code;
        free(ids);
    }
    /* The roles' attributes, also from a reader that got no rows (its
     * state never saw them: a->na 0): every part has the same sections. */
    size_t na =
        roles->n_attributes < CSEG_ATTRIBUTES_MAX ? roles->n_attributes : CSEG_ATTRIBUTES_MAX;
    uint32_t head[4] = {PART_MAGIC, (uint32_t)na, col_of(t, roles->product) >= 0, PART_SORTED};
    cseg__buf_put(&pb, head, sizeof head);
    cseg__buf_put(&pb, &q, sizeof q);
    double sums[4] = {a->qg.s, a->qg.c, a->qr.s, a->qr.c};
    cseg__buf_put(&pb, sums, sizeof sums);
    uint64_t m64 = m;
    cseg__buf_put(&pb, &m64, sizeof m64);
    int64_t window_start = as_of - p->spend_window_days;
    for (size_t u = 0; u < m; u++) {
        const acust *c = &a->c[codes[u]];
        cseg__exact_sum window = c->window;
        if (p->as_of_day == CSEG_DAY_AUTO) /* the kept rows of the window, in order */
            for (uint32_t e = c->win_head; e != NONE; e = a->win[e].next)
                if (a->win[e].day >= window_start)
                    cseg__add_exact(&window, a->win[e].value);
        double g = cseg__exact_value(&c->gross), ret = cseg__exact_value(&c->returned);
        double v[PV];
        v[RECENCY] = (double)(as_of - c->last);
        v[FREQ] = (double)c->nfreq;
        v[MONETARY] = cseg__money(cseg__exact_value(&c->net), p->money_decimals);
        v[TENURE] = (double)(as_of - c->first);
        v[AOV] = cseg__money_per(g, c->nfreq, p->money_decimals);
        v[SPEND] = cseg__money(cseg__exact_value(&window), p->money_decimals);
        v[NPROD] = (double)c->nprod;
        v[RRATE] = g > 0 ? ret / g : 0;
        cseg__buf_put(&pb, v, sizeof v);
    }
    for (size_t u = 0; u < m; u++)
        pb_str(&pb, cseg_table_level(t, (size_t)jc, codes[u]));
    /* Attributes: every level of the log's column, keyed by the caller or
     * by its place in the dictionary. */
    for (size_t k = 0; k < na; k++) {
        long j = cseg_table_find(t, roles->attributes[k]);
        size_t nl = j >= 0 && k < a->na ? cseg_table_n_levels(t, (size_t)j) : 0;
        uint64_t nl64 = nl;
        cseg__buf_put(&pb, &nl64, sizeof nl64);
        for (size_t l = 0; l < nl; l++) {
            int64_t kl = level_key ? level_key[k][l] : (int64_t)l;
            cseg__buf_put(&pb, &kl, sizeof kl);
            pb_str(&pb, cseg_table_level(t, (size_t)j, (int32_t)l));
        }
        const attr *at = &a->at[k];
        for (size_t u = 0; u < m; u++) {
            uint32_t b = at->best ? at->best[codes[u]] : NONE;
            int32_t level = b == NONE ? -1 : at->e[b].level;
            cseg__buf_put(&pb, &level, sizeof level);
        }
    }
    if (pb.failed)
        goto oom;
    *out = pb.p;
    *out_len = pb.len;
    if (codes_out)
        *codes_out = codes;
    else
        free(codes);
    return 0;
oom:
    free(codes);
    free(pb.p);
    return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory computing customer features");
}

/* A part read back: pointers into its bytes. */
typedef struct pview {
    const cseg_quality *q; /* unaligned: copied before use */
    const char *q_at, *sums_at, *v_at, *ids_at, *attr_at;
    size_t m, na;
    int has_prod;
    int sorted; /* customers in id order */
} pview;

/* Check a part's layout as far as the ids; the attributes are checked as
 * they are read. 0, or -1 when it is not a part. */
static int part_view(const char *b, size_t n, pview *v)
{
    uint32_t head[4];
    uint64_t m;
    size_t at = sizeof head + sizeof(cseg_quality) + 4 * sizeof(double);
    if (n < at + sizeof m)
        return -1;
    memcpy(head, b, sizeof head);
    memcpy(&m, b + at, sizeof m);
    if (head[0] != PART_MAGIC || head[1] > CSEG_ATTRIBUTES_MAX || m > (n - at) / (PV * 8))
        return -1;
    v->q_at = b + sizeof head;
    v->sums_at = v->q_at + sizeof(cseg_quality);
    v->v_at = b + at + sizeof m;
    v->m = (size_t)m;
    v->na = head[1];
    v->has_prod = head[2] != 0;
    v->sorted = head[3] == PART_SORTED;
    const char *e = b + n, *s = v->v_at + v->m * PV * sizeof(double);
    v->ids_at = s;
    for (size_t u = 0; u < v->m; u++) {
        const char *z = memchr(s, 0, (size_t)(e - s));
        if (!z)
            return -1;
        s = z + 1;
    }
    v->attr_at = s;
    return 0;
}

typedef struct mlevel {
    int64_t key;
    const char *s;
    int32_t code;
} mlevel;

static int cmp_mlevel_s(const void *pa, const void *pb)
{
    const mlevel *a = pa, *b = pb;
    int c = strcmp(a->s, b->s);
    return c ? c : (a->key > b->key) - (a->key < b->key);
}

static int cmp_mlevel_key(const void *pa, const void *pb)
{
    const mlevel *a = pa, *b = pb;
    return (a->key > b->key) - (a->key < b->key);
}

/* Parts each in id order merged into one order: a heap of the parts' next
 * customers (ids are distinct, a customer being in one part only, so the
 * order is the one sorting them all would give). *ids: the parts' customers
 * one part after another; replaced by them in order. */
static int merge_ids(idsort **ids, const pview *pv, size_t np, size_t m)
{
    idsort *in = *ids, *out = malloc(m * sizeof *out);
    size_t *heap = malloc(np * sizeof *heap), *at = malloc(np * sizeof *at),
           *end = malloc(np * sizeof *end), nh = 0;
    if (!out || !heap || !at || !end) {
        free(out), free(heap), free(at), free(end);
        return CSEG_ENOMEM;
    }
    for (size_t r = 0, u = 0; r < np; u += pv[r].m, r++) {
        at[r] = u;
        end[r] = u + pv[r].m;
    }
    /* heap of parts with customers left, the smallest next id on top */
#define HLESS(x, y) (cmp_ids(&in[at[heap[x]]], &in[at[heap[y]]]) < 0)
    for (size_t r = 0; r < np; r++) {
        if (at[r] == end[r])
            continue;
        size_t c = nh++;
        heap[c] = r;
        while (c > 0 && HLESS(c, (c - 1) / 2)) {
            size_t up = (c - 1) / 2, x = heap[c];
            heap[c] = heap[up];
            heap[up] = x;
            c = up;
        }
    }
    for (size_t u = 0; u < m; u++) {
        size_t r = heap[0];
        out[u] = in[at[r]++];
        if (at[r] == end[r])
            heap[0] = heap[--nh];
        for (size_t c = 0;;) { /* sift down */
            size_t l = 2 * c + 1, best = c;
            if (l < nh && HLESS(l, best))
                best = l;
            if (l + 1 < nh && HLESS(l + 1, best))
                best = l + 1;
            if (best == c)
                break;
            size_t x = heap[c];
            heap[c] = heap[best];
            heap[best] = x;
            c = best;
        }
    }
#undef HLESS
    free(heap), free(at), free(end), free(in);
    *ids = out;
    return 0;
}

int cseg__rfm_assemble(const char *const *parts, const size_t *lens, size_t np,
                       const cseg_rfm_params *p, const cseg_txn_roles *roles,
                       cseg_table **customers, cseg_quality *qout, size_t **order_out,
                       cseg_diag *d)
{
    return cseg__rfm_assemble_split(parts, lens, np, p, roles, NULL, customers, qout, order_out, d);
}

int cseg__rfm_assemble_split(const char *const *parts, const size_t *lens, size_t np,
                             const cseg_rfm_params *p, const cseg_txn_roles *roles,
                             const cseg__split_comm *sc, cseg_table **customers, cseg_quality *qout,
                             size_t **order_out, cseg_diag *d)
{
    /* over pieces: whether the first sum was taken (a failure before it is
     * made every piece's there, at out) */
    int summed = 0;
    cseg_quality q;
    idsort *ids = NULL;
    double *F = NULL;
    int32_t *codes = NULL, *acodes = NULL;
    const char **levels = NULL;
    char(*rfm_levels)[4] = NULL;
    cseg_table *out = NULL;
    pview *pv = NULL;
    mlevel *ml = NULL;
    const char **alv = NULL;
    int32_t **remap = NULL;
    size_t n_ml = 0;
    int rc = 0;
    *customers = NULL;
    if (order_out)
        *order_out = NULL;
    memset(&q, 0, sizeof q);
    if (!(pv = calloc(np ? np : 1, sizeof *pv)) || !(remap = calloc(np ? np : 1, sizeof *remap)))
        goto oom;
    size_t m = 0, na = 0;
    int has_prod = 0;
    cseg__exact_sum qg = {0, 0}, qr = {0, 0};
    for (size_t r = 0; r < np; r++) {
        if (part_view(parts[r], lens[r], &pv[r]) < 0 || (r > 0 && pv[r].na != na)) {
            rc = cseg__diag(d, CSEG_EFORMAT, NULL, 0, 0, "a part of the customers is damaged");
            goto out;
        }
        na = pv[r].na;
        has_prod |= pv[r].has_prod;
        cseg_quality pq;
        double sums[4];
        memcpy(&pq, pv[r].q_at, sizeof pq);
        memcpy(sums, pv[r].sums_at, sizeof sums);
        if (r == 0) {
            q = pq;
        } else {
            q.n_rows += pq.n_rows;
            q.n_no_customer += pq.n_no_customer;
            q.n_duplicates += pq.n_duplicates;
            q.n_incomplete += pq.n_incomplete;
            q.n_bad_price += pq.n_bad_price;
            q.n_after_as_of += pq.n_after_as_of;
            q.n_purchase_rows += pq.n_purchase_rows;
            q.n_return_rows += pq.n_return_rows;
            q.n_cancellations += pq.n_cancellations;
            q.n_customers += pq.n_customers;
            q.n_return_only += pq.n_return_only;
            q.first_day = pq.first_day < q.first_day ? pq.first_day : q.first_day;
            q.last_day = pq.last_day > q.last_day ? pq.last_day : q.last_day;
        }
        /* One part: its sums as they are; more: added part by part (the
         * compensated sums of several readers may differ from one reader's
         * in the last bit: docs/scale-out.md). */
        if (np == 1) {
            qg = (cseg__exact_sum){sums[0], sums[1]};
            qr = (cseg__exact_sum){sums[2], sums[3]};
        } else {
            cseg__add_exact(&qg, sums[0]);
            cseg__add_exact(&qg, sums[1]);
            cseg__add_exact(&qr, sums[2]);
            cseg__add_exact(&qr, sums[3]);
        }
        m += pv[r].m;
    }
    q.gross_revenue = cseg__money(cseg__exact_value(&qg), p->money_decimals);
    q.returned_value = cseg__money(cseg__exact_value(&qr), p->money_decimals);
    /* What the steps up to the scores need, allocated first: over pieces the
     * scores are collective, and a piece whose allocation fails still takes
     * part (every piece fails alike). */
    ids = malloc((m ? m : 1) * sizeof *ids);
    size_t *where = malloc((m ? m : 1) * sizeof *where);
    F = malloc(NF * (m ? m : 1) * sizeof *F);
    codes = malloc((m ? m : 1) * sizeof *codes);
    levels = malloc((m ? m : 1) * sizeof *levels);
    int failed = !ids || !where || !F || !codes || !levels;
    /* Customers sorted by id; code: the index in the parts, in order. */
    int all_sorted = 1;
    for (size_t r = 0, u = 0; !failed && r < np; r++) {
        const char *s = pv[r].ids_at;
        all_sorted &= pv[r].sorted;
        for (size_t i = 0; i < pv[r].m; i++, u++) {
            ids[u] = id_key(s, (int32_t)u);
            s += ids[u].len + 1;
        }
    }
    if (!failed && !all_sorted)
        qsort(ids, m, sizeof *ids, cmp_ids);
    else if (!failed && np > 1 && merge_ids(&ids, pv, np, m) < 0)
        failed = 1;
    uint64_t c2[2] = {m, (uint64_t)failed}; /* customers, failures */
    summed = 1;
    if (sc && (rc = sc->sum(sc->ctx, c2, 2, NULL, 0)) < 0) { /* every piece's block */
        free(where);
        goto out;
    }
    if (c2[1]) {
        free(where);
        goto oom;
    }
    if (c2[0] == 0) {
        free(where);
        rc = cseg__diag(d, CSEG_EEMPTY, NULL, 0, 0,
                        "no customer has a purchase left after cleaning (%zu rows read)", q.n_rows);
        goto out;
    }
    /* Where input customer u's values are: part and row. */
    for (size_t r = 0, u = 0; r < np; r++)
        for (size_t i = 0; i < pv[r].m; i++, u++)
            where[u] = r << 40 | i; /* parts < 2^24, rows < 2^40 */

    static const char *const names[NF] = {
        CSEG_RFM_COL_RECENCY,    CSEG_RFM_COL_FREQUENCY,   CSEG_RFM_COL_MONETARY,
        CSEG_RFM_COL_TENURE,     CSEG_RFM_COL_AOV,         NULL /* spend_{W}d, below */,
        CSEG_RFM_COL_N_PRODUCTS, CSEG_RFM_COL_RETURN_RATE, CSEG_RFM_COL_R_SCORE,
        CSEG_RFM_COL_F_SCORE,    CSEG_RFM_COL_M_SCORE};
    double *col[NF];
    for (int f = 0; f < NF; f++)
        col[f] = F + (size_t)f * m;
    for (size_t u = 0; u < m; u++) {
        size_t w = where[ids[u].code];
        double v[PV];
        memcpy(v, pv[w >> 40].v_at + (w & (((size_t)1 << 40) - 1)) * sizeof v, sizeof v);
        for (int f = 0; f < PV; f++)
            col[f][u] = v[f];
        codes[u] = (int32_t)u;
        levels[u] = ids[u].s;
    }
    if (p->has_edges) {
        for (size_t u = 0; u < m; u++) {
            col[RS][u] = cseg__edge_score(col[RECENCY][u], p->edges.recency_hi, 0);
            col[FS][u] = cseg__edge_score(col[FREQ][u], p->edges.frequency_lo, 1);
            col[MS][u] = cseg__edge_score(col[MONETARY][u], p->edges.monetary_lo, 1);
        }
    } else if ((rc = cseg__quintile_scores_split(col[RECENCY], m, 0, col[RS], sc)) < 0 ||
               (rc = cseg__quintile_scores_split(col[FREQ], m, 1, col[FS], sc)) < 0 ||
               (rc = cseg__quintile_scores_split(col[MONETARY], m, 1, col[MS], sc)) < 0) {
        free(where);
        goto oom;
    }
    if ((rc = cseg_table_create(&out, m)) < 0 ||
        (rc = cseg_table_add_text(out, CSEG_RFM_COL_CUSTOMER_ID, levels, m, codes)) < 0) {
        free(where);
        goto oom;
    }
    char spend_name[32]; /* spend_{W}d: the column says its window */
    snprintf(spend_name, sizeof spend_name, CSEG_RFM_COL_SPEND_FORMAT, p->spend_window_days);
    for (int f = 0; f < NF; f++) {
        if (f == NPROD && !has_prod)
            continue;
        if ((rc = cseg_table_add_numbers(out, f == SPEND ? spend_name : names[f], col[f])) < 0) {
            free(where);
            goto oom;
        }
    }
    /* rfm_code: 125 possible codes, stored as text levels "111".."555". */
    if (!(rfm_levels = malloc(125 * sizeof *rfm_levels))) {
        free(where);
        goto oom;
    }
    const char *lv[125];
    for (int k = 0; k < 125; k++) {
        snprintf(rfm_levels[k], 4, "%d%d%d", k / 25 + 1, k / 5 % 5 + 1, k % 5 + 1);
        lv[k] = rfm_levels[k];
    }
    for (size_t u = 0; u < m; u++)
        codes[u] = (int32_t)((col[RS][u] - 1) * 25 + (col[FS][u] - 1) * 5 + (col[MS][u] - 1));
    if ((rc = cseg_table_add_text(out, CSEG_RFM_COL_CODE, lv, 125, codes)) < 0) {
        free(where);
        goto oom;
    }
    /* Attributes: each customer's most frequent value, over every level of
     * the log's column in the order the log has them (merged by key). */
    const char **at = malloc(np * sizeof *at);
    if (!at) {
        free(where);
        goto oom;
    }
    for (size_t r = 0; r < np; r++)
        at[r] = pv[r].attr_at;
    for (size_t k = 0; k < na && rc == 0; k++) {
        n_ml = 0;
        free(ml);
        ml = NULL;
        size_t cap = 0;
        for (size_t r = 0; r < np && rc == 0; r++) {
            const char *e = parts[r] + lens[r], *s = at[r];
            uint64_t nl;
            if ((size_t)(e - s) < sizeof nl) {
                rc = CSEG_EFORMAT;
                break;
            }
            memcpy(&nl, s, sizeof nl);
            s += sizeof nl;
            free(remap[r]);
            if (nl > (size_t)(e - s) / 9 || !(remap[r] = malloc((nl ? nl : 1) * sizeof **remap))) {
                rc = nl > (size_t)(e - s) / 9 ? CSEG_EFORMAT : CSEG_ENOMEM;
                break;
            }
            for (size_t l = 0; l < nl; l++) {
                int64_t key;
                const char *z;
                if ((size_t)(e - s) < sizeof key + 1 || !(z = memchr(s + 8, 0, (size_t)(e - s) - 8))) {
                    rc = CSEG_EFORMAT;
                    break;
                }
                memcpy(&key, s, sizeof key);
                if (n_ml == cap) {
                    cap = cap ? 2 * cap : 64;
                    mlevel *nm = realloc(ml, cap * sizeof *nm);
                    if (!nm) {
                        rc = CSEG_ENOMEM;
                        break;
                    }
                    ml = nm;
                }
                ml[n_ml++] = (mlevel){key, s + 8, (int32_t)l};
                remap[r][l] = (int32_t)(n_ml - 1); /* index into ml, for now */
                s = z + 1;
            }
            if (rc == 0 && (size_t)(e - s) < pv[r].m * sizeof(int32_t))
                rc = CSEG_EFORMAT;
            at[r] = s; /* the part's codes */
        }
        if (rc < 0)
            break;
        /* One entry per text: the smallest key; then in key order. */
        size_t *ix = malloc((n_ml ? n_ml : 1) * sizeof *ix);
        mlevel *srt = malloc((n_ml ? n_ml : 1) * sizeof *srt);
        int32_t *final = malloc((n_ml ? n_ml : 1) * sizeof *final);
        free(alv);
        alv = malloc((n_ml ? n_ml : 1) * sizeof *alv);
        if (!ix || !srt || !final || !alv) {
            free(ix), free(srt), free(final);
            rc = CSEG_ENOMEM;
            break;
        }
        for (size_t i = 0; i < n_ml; i++)
            srt[i] = (mlevel){ml[i].key, ml[i].s, (int32_t)i};
        qsort(srt, n_ml, sizeof *srt, cmp_mlevel_s);
        size_t nu = 0;
        for (size_t i = 0; i < n_ml; i++) {
            if (i == 0 || strcmp(srt[i].s, srt[i - 1].s) != 0)
                srt[nu++] = srt[i]; /* the first of its text has the smallest key */
            ix[srt[i].code] = nu - 1;
        }
        qsort(srt, nu, sizeof *srt, cmp_mlevel_key);
        int32_t *pos = final; /* unique index -> final level */
        for (size_t f = 0; f < nu; f++) {
            alv[f] = srt[f].s;
            pos[ix[srt[f].code]] = (int32_t)f; /* srt[f].code: an ml index of that text */
        }
        free(acodes);
        if (!(acodes = malloc((m ? m : 1) * sizeof *acodes))) {
            free(ix), free(srt), free(final);
            rc = CSEG_ENOMEM;
            break;
        }
        for (size_t u = 0; u < m; u++) {
            size_t w = where[ids[u].code], r = w >> 40, i = w & (((size_t)1 << 40) - 1);
            int32_t level;
            memcpy(&level, at[r] + i * sizeof level, sizeof level);
            acodes[u] = level < 0 ? -1 : pos[ix[remap[r][level]]];
        }
        rc = cseg_table_add_text(out, roles->attributes[k], alv, nu, acodes);
        free(ix), free(srt), free(final);
        for (size_t r = 0; r < np; r++)
            at[r] += pv[r].m * sizeof(int32_t);
    }
    free(at);
    if (rc == CSEG_EFORMAT) {
        free(where);
        rc = cseg__diag(d, CSEG_EFORMAT, NULL, 0, 0, "a part of the customers is damaged");
        goto out;
    }
    if (rc < 0) {
        free(where);
        goto oom;
    }
    if (order_out) {
        size_t *ord = malloc(m * sizeof *ord);
        if (!ord) {
            free(where);
            goto oom;
        }
        for (size_t u = 0; u < m; u++)
            ord[u] = (size_t)ids[u].code;
        *order_out = ord;
    }
    free(where);
    rc = 0;
    goto out;
oom:
    rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory computing customer features");
out:
    if (sc && !summed) { /* failed before the pieces' first sum: take part, failing */
        uint64_t gone[2] = {0, 1};
        sc->sum(sc->ctx, gone, 2, NULL, 0);
    }
    if (rc < 0) {
        cseg_table_free(out);
        out = NULL;
    }
    *customers = out;
    if (qout)
        *qout = q;
    for (size_t r = 0; remap && r < np; r++)
        free(remap[r]);
    free(remap);
    free(pv);
    free(ml);
    free(alv);
    free(rfm_levels);
    free(levels);
    free(codes);
    free(acodes);
    free(F);
    free(ids);
    return rc;
}

int cseg__rfm_id_cmp(const char *a, const char *b)
{
    idsort x = id_key(a, 0), y = id_key(b, 0);
    return cmp_ids(&x, &y);
}

int cseg__rfm_part_ids(const char *part, size_t len, const char ***ids, size_t *m)
{
    pview v;
    *ids = NULL;
    *m = 0;
    if (part_view(part, len, &v) < 0 || !v.sorted)
        return CSEG_EFORMAT;
    if (!(*ids = malloc((v.m ? v.m : 1) * sizeof **ids)))
        return CSEG_ENOMEM;
    const char *s = v.ids_at;
    for (size_t u = 0; u < v.m; u++) {
        (*ids)[u] = s;
        s += strlen(s) + 1;
    }
    *m = v.m;
    return 0;
}

int cseg__rfm_part_slice(const char *part, size_t len, size_t i0, size_t i1, cseg__buf *out)
{
    pview v;
    if (part_view(part, len, &v) < 0 || !v.sorted || i0 > i1 || i1 > v.m)
        return CSEG_EFORMAT;
    uint32_t head[4];
    memcpy(head, part, sizeof head);
    cseg__buf_put(out, head, sizeof head);
    cseg__buf_put(out, v.q_at, sizeof(cseg_quality) + 4 * sizeof(double)); /* and the sums */
    uint64_t m = i1 - i0;
    cseg__buf_put(out, &m, sizeof m);
    cseg__buf_put(out, v.v_at + i0 * PV * sizeof(double), (size_t)m * PV * sizeof(double));
    const char *s = v.ids_at, *e = part + len;
    for (size_t u = 0; u < i1; u++) {
        size_t l = strlen(s) + 1;
        if (u >= i0)
            cseg__buf_put(out, s, l);
        s += l;
    }
    s = v.attr_at;
    for (size_t k = 0; k < v.na; k++) { /* every level (keys and texts), then the slice's codes */
        uint64_t nl;
        if ((size_t)(e - s) < sizeof nl)
            return CSEG_EFORMAT;
        memcpy(&nl, s, sizeof nl);
        const char *l0 = s;
        s += sizeof nl;
        for (uint64_t l = 0; l < nl; l++) {
            const char *z = (size_t)(e - s) > 8 ? memchr(s + 8, 0, (size_t)(e - s) - 8) : NULL;
            if (!z)
                return CSEG_EFORMAT;
            s = z + 1;
        }
        if ((size_t)(e - s) < v.m * sizeof(int32_t))
            return CSEG_EFORMAT;
        cseg__buf_put(out, l0, (size_t)(s - l0));
        cseg__buf_put(out, s + i0 * sizeof(int32_t), (size_t)m * sizeof(int32_t));
        s += v.m * sizeof(int32_t);
    }
    return out->failed ? CSEG_ENOMEM : 0;
}

int cseg__rfm_acc_finish(cseg__rfm_acc *a, const cseg_table *t, const cseg_txn_roles *roles,
                         cseg_table **customers, cseg_quality *qout, int32_t **codes_out,
                         cseg_diag *d)
{
    char *part = NULL;
    size_t len = 0, *order = NULL;
    int32_t *codes = NULL;
    *customers = NULL;
    if (codes_out)
        *codes_out = NULL;
    int rc = cseg__rfm_acc_part(a, t, roles, a->max_day, NULL, &part, &len, &codes, d);
    if (rc < 0)
        return rc;
    const char *parts[1] = {part};
    rc = cseg__rfm_assemble(parts, &len, 1, &a->p, roles, customers, qout,
                            codes_out ? &order : NULL, d);
    if (rc == 0 && codes_out) { /* output row u is part row order[u] */
        size_t m = cseg_table_n_rows(*customers);
        for (size_t u = 0; u < m; u++)
            order[u] = (size_t)codes[order[u]];
        for (size_t u = 0; u < m; u++)
            codes[u] = (int32_t)order[u];
        *codes_out = codes;
        codes = NULL;
    }
    free(order);
    free(codes);
    free(part);
    return rc;
}
