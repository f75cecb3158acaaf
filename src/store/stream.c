/* custseg — events applied to the customer state in the store (stream.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "custseg/features.h"
#include "custseg/stream.h"
#include "../core/internal.h"
#include "../csv/internal.h"
#include "../features/internal.h"
#include "../model/internal.h"
#include "../table/internal.h"

static const char *const feature_names[CSEG_STREAM_N_FEATURES] = {
    CSEG_RFM_COL_RECENCY,    CSEG_RFM_COL_FREQUENCY, CSEG_RFM_COL_MONETARY,   CSEG_RFM_COL_TENURE,
    CSEG_RFM_COL_AOV,        "spend_window",         CSEG_RFM_COL_N_PRODUCTS, CSEG_RFM_COL_RETURN_RATE,
    CSEG_RFM_COL_R_SCORE,    CSEG_RFM_COL_F_SCORE,   CSEG_RFM_COL_M_SCORE};
enum { RECENCY, FREQ, MONETARY, TENURE, AOV, SPEND, NPROD, RRATE, RS, FS, MS };

const char *cseg_stream_feature_name(size_t j)
{
    return j < CSEG_STREAM_N_FEATURES ? feature_names[j] : NULL;
}

/* A customer's running state (a row of cseg_customer_state). */
typedef struct cstate {
    int exists;
    int64_t first_day, last_day; /* purchases; INT64_MAX / INT64_MIN before the first */
    int64_t n_orders, n_products;
    cseg__exact_sum net, gross, returned;
    int segment;
} cstate;

static int64_t num_i(const char *v, int64_t dflt)
{
    return v ? strtoll(v, NULL, 10) : dflt;
}

/* A number cell, 0 for NULL. */
static double cell0(const store_cell *c)
{
    return c->kind == 'n' ? 0 : cseg__cell_d(c);
}

static int state_row(void *ctx, size_t nc, const store_cell *v)
{
    cstate *st = ctx;
    if (nc < 11)
        return 1;
    st->exists = 1;
    st->first_day = cseg__cell_i(&v[0], INT64_MAX);
    st->last_day = cseg__cell_i(&v[1], INT64_MIN);
    st->n_orders = cseg__cell_i(&v[2], 0);
    st->n_products = cseg__cell_i(&v[3], 0);
    st->net = (cseg__exact_sum){cell0(&v[4]), cell0(&v[5])};
    st->gross = (cseg__exact_sum){cell0(&v[6]), cell0(&v[7])};
    st->returned = (cseg__exact_sum){cell0(&v[8]), cell0(&v[9])};
    st->segment = (int)cseg__cell_i(&v[10], 0);
    return 1;
}

static int load_state(cseg_store *s, const char *id, cstate *st, cseg_diag *d)
{
    memset(st, 0, sizeof *st);
    st->first_day = INT64_MAX;
    st->last_day = INT64_MIN;
    const store_cell p[] = {cell_text(id)};
    return cseg__store_run(s,
                           "SELECT first_day, last_day, n_orders, n_products, net_spend, net_c, "
                           "gross_spend, gross_c, returned_value, returned_c, segment "
                           "FROM cseg_customer_state WHERE customer_id = $1",
                           p, 1, state_row, st, d);
}

typedef struct window_ctx {
    cseg__exact_sum sum;
} window_ctx;

static int window_row(void *ctx, size_t nc, const store_cell *v)
{
    window_ctx *w = ctx;
    for (size_t j = 0; j < nc && j < 2; j++) /* a day's exact sum: its value and error */
        if (v[j].kind != 'n')
            cseg__add_exact(&w->sum, cseg__cell_d(&v[j]));
    return 0;
}

/* Customers' features as the table run would give the model: the id, the
 * eleven columns, the RFM code; n rows of f (row after row; NULL: zeros),
 * each with the id and the code of the first. */
static int rows_table(const cseg_model *m, size_t n, const char *id, const double *f,
                      cseg_table **out)
{
    const cseg_rfm_params *rp = cseg_model_rfm(m);
    char spend_name[32], code[4] = "111";
    snprintf(spend_name, sizeof spend_name, CSEG_RFM_COL_SPEND_FORMAT, rp->spend_window_days);
    cseg_table *t = NULL;
    double *col = malloc((n ? n : 1) * sizeof *col);
    int32_t *zero = calloc(n ? n : 1, sizeof *zero);
    int rc = col && zero ? cseg_table_create(&t, n) : CSEG_ENOMEM;
    const char *idl[1] = {id}, *codel[1] = {code};
    if (rp->has_edges && f)
        snprintf(code, sizeof code, "%d%d%d", (int)f[RS], (int)f[FS], (int)f[MS]);
    if (rc == 0)
        rc = cseg_table_add_text(t, CSEG_RFM_COL_CUSTOMER_ID, idl, 1, zero);
    for (size_t j = 0; j < CSEG_STREAM_N_FEATURES && rc == 0; j++) {
        for (size_t i = 0; i < n; i++)
            col[i] = f ? f[i * CSEG_STREAM_N_FEATURES + j] : 0;
        rc = cseg_table_add_numbers(t, j == SPEND ? spend_name : feature_names[j], col);
    }
    if (rc == 0)
        rc = cseg_table_add_text(t, CSEG_RFM_COL_CODE, codel, 1, zero);
    free(col);
    free(zero);
    if (rc < 0)
        cseg_table_free(t);
    else
        *out = t;
    return rc;
}

/* One customer's segment (label + 1) and distance, a table of its own. */
static int segment_one(const cseg_model *m, const char *id, const double *f, int32_t *segment,
                       double *distance, cseg_diag *d)
{
    cseg_table *t = NULL;
    int32_t label = -1;
    int rc = rows_table(m, 1, id, f, &t);
    if (rc < 0)
        rc = cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
    else
        rc = cseg_model_assign(m, t, &label, distance, d);
    cseg_table_free(t);
    *segment = label + 1;
    return rc;
}

/* The event writer's rows: a table of a row per event of the batch, its
 * columns found by the model once, all of them assigned in one call after
 * the events are decided (a table, a plan and an assignment per event
 * were a quarter of an event's cost). Not made (pl NULL) when the model
 * reads a text column: then each event gets a table of its own. */
typedef struct writer_rows {
    cseg_table *t;
    cseg__prep_plan *pl;
    double *col[CSEG_STREAM_N_FEATURES];
} writer_rows;

static void writer_rows_free(writer_rows *w)
{
    cseg__prep_plan_free(w->pl);
    cseg_table_free(w->t);
    memset(w, 0, sizeof *w);
}

static int writer_rows_make(writer_rows *w, const cseg_model *m, size_t n)
{
    memset(w, 0, sizeof *w);
    const cseg_prep *pp = cseg_model_prep(m);
    cseg_diag ignored;
    for (size_t j = 0; pp && j < pp->n_cols; j++)
        if (pp->cols[j].categorical)
            return 0;
    int rc = pp ? rows_table(m, n, "", NULL, &w->t) : 0;
    if (rc < 0 || !pp)
        return rc;
    if (cseg__prep_plan_make(pp, w->t, &w->pl, &ignored) < 0) {
        writer_rows_free(w); /* events will say what is missing, each with its own table */
        return 0;
    }
    for (size_t j = 0; j < CSEG_STREAM_N_FEATURES; j++)
        w->col[j] = cseg__table_numbers_mut(w->t, j + 1); /* after the id */
    return 0;
}

/* A customer's spend in the window before as_of from the store: the sum of
 * their daily sums in [as_of - W, as_of), at most W rows however many
 * events the customer has (cseg_customer_days). The event writer sums its
 * cached days the same way (cache_window). */
static int window_sql(cseg_store *s, const cseg_model *m, const char *id, int64_t as_of,
                      cseg__exact_sum *sum, cseg_diag *d)
{
    const store_cell p[] = {cell_text(id), cell_int(as_of - cseg_model_rfm(m)->spend_window_days),
                            cell_int(as_of)};
    window_ctx w = {{0, 0}};
    int rc = cseg__store_run(s,
                             "SELECT amount, amount_c FROM cseg_customer_days WHERE "
                             "customer_id = $1 AND day >= $2 AND day < $3 ORDER BY day",
                             p, 3, window_row, &w, d);
    *sum = w.sum;
    return rc;
}

/* The features of run for this state at as_of (window: the spend in the
 * window before as_of) into out, segment 0 and no distance; 0 when the
 * customer has none (returns only: no customer of run either), else 1. */
static int features_of(const cseg_model *m, const cstate *st, int64_t as_of,
                       const cseg__exact_sum *window, cseg_stream_result *out)
{
    const cseg_rfm_params *rp = cseg_model_rfm(m);
    double *f = out->features;
    out->as_of_day = as_of;
    for (size_t j = 0; j < CSEG_STREAM_N_FEATURES; j++)
        f[j] = NAN;
    out->segment = 0;
    out->distance = NAN;
    if (st->n_orders == 0 || st->last_day == INT64_MIN)
        return 0;
    int dec = rp->money_decimals;
    double g = cseg__exact_value(&st->gross), ret = cseg__exact_value(&st->returned);
    f[RECENCY] = (double)(as_of - st->last_day);
    f[FREQ] = (double)st->n_orders;
    f[MONETARY] = cseg__money(cseg__exact_value(&st->net), dec);
    f[TENURE] = (double)(as_of - st->first_day);
    f[AOV] = cseg__money_per(g, (size_t)st->n_orders, dec);
    f[SPEND] = cseg__money(cseg__exact_value(window), dec);
    f[NPROD] = (double)st->n_products;
    f[RRATE] = g > 0 ? ret / g : 0;
    if (rp->has_edges) {
        f[RS] = cseg__edge_score(f[RECENCY], rp->edges.recency_hi, 0);
        f[FS] = cseg__edge_score(f[FREQ], rp->edges.frequency_lo, 1);
        f[MS] = cseg__edge_score(f[MONETARY], rp->edges.monetary_lo, 1);
    }
    return 1;
}

/* features_of, then the model's segment. */
static int features_and_segment(const cseg_model *m, const char *id, const cstate *st,
                                int64_t as_of, const cseg__exact_sum *window,
                                cseg_stream_result *out, cseg_diag *d)
{
    if (!features_of(m, st, as_of, window, out))
        return 0;
    int32_t seg;
    double dist = NAN;
    int rc = segment_one(m, id, out->features, &seg, &dist, d);
    if (rc == 0) {
        out->segment = seg;
        out->distance = dist;
    }
    return rc;
}

static int bad_field(cseg_diag *d, const char *field, const char *msg)
{
    return cseg__diag(d, CSEG_EINVAL, field, 0, 0, "%s", msg);
}

static int got_seq(void *ctx, size_t nc, const store_cell *v)
{
    if (nc > 0)
        *(int64_t *)ctx = cseg__cell_i(&v[0], 0);
    return 1;
}

/* A day, INT64_MIN when NULL. */
static int got_day(void *ctx, size_t nc, const store_cell *v)
{
    if (nc > 0)
        *(int64_t *)ctx = cseg__cell_i(&v[0], INT64_MIN);
    return 1;
}

/* An event as cleaning sees it. */
typedef struct clean_event {
    double value;  /* signed: negative for a return */
    int drop;      /* a row cleaning drops: changes nothing */
    int is_ret;
    int64_t day;
    char fp[24];   /* the fingerprint of an exact duplicate */
} clean_event;

/* What cleaning would refuse is refused; what it would drop is dropped. */
static int clean(const cseg_model *m, const cseg_event *ev, clean_event *ce, cseg_diag *d)
{
    if (cseg_model_source(m) != CSEG_SOURCE_TRANSACTIONS)
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                          "events need a model made by run (from a transaction log)");
    if (!ev->customer_id || !*ev->customer_id)
        return bad_field(d, "customer_id", "an event needs a customer id");
    if (cseg__utf8_invalid_at(ev->customer_id, strlen(ev->customer_id)) < strlen(ev->customer_id))
        return bad_field(d, "customer_id", "the customer id is not valid UTF-8");
    if (strlen(ev->customer_id) > CSEG_STORE_ID_MAX)
        return bad_field(d, "customer_id", "the customer id is longer than a store keeps");
    if (ev->time == CSEG_TIME_NA)
        return bad_field(d, "time", "an event needs a time");
    /* The years a date in a log may have (cseg_parse_datetime): seconds
     * outside them would be a date no day arithmetic or text can hold. */
    if (ev->time < cseg__days_from_civil(1, 1, 1) * 86400 ||
        ev->time > cseg__days_from_civil(9999, 12, 31) * 86400 + 86399)
        return bad_field(d, "time", "the time is outside the years 1 to 9999");
    int qp = isfinite(ev->quantity) && isfinite(ev->price);
    if (!qp && !isfinite(ev->amount))
        return bad_field(d, "amount", "an event needs quantity and price, or an amount");
    double v = qp ? ev->quantity * ev->price : ev->amount;
    if (!isfinite(v))
        return bad_field(d, "amount", "quantity x price is beyond the range of numbers");
    ce->drop = qp ? !(ev->price > 0) : v == 0;
    int cancel = ev->invoice && (ev->invoice[0] == 'C' || ev->invoice[0] == 'c');
    ce->is_ret = cancel || v < 0 || (qp && ev->quantity < 0);
    ce->value = ce->is_ret ? -fabs(v) : v;
    ce->day = cseg__day_of(ev->time);
    /* Every field whole, one after another (a field's hash seeds the next). */
    const char *txt[4] = {ev->customer_id, ev->invoice ? ev->invoice : "\x1e",
                          ev->product ? ev->product : "\x1e", ev->rest ? ev->rest : "\x1e"};
    double num[3] = {ev->quantity, ev->price, ev->amount};
    uint64_t h = cseg__hash(&ev->time, sizeof ev->time, 0);
    for (int k = 0; k < 4; k++)
        h = cseg__hash(txt[k], strlen(txt[k]) + 1, h);
    h = cseg__hash(num, sizeof num, h);
    snprintf(ce->fp, sizeof ce->fp, "%016" PRIx64, h);
    return 0;
}

int cseg_stream_model_check(const cseg_model *m, cseg_diag *d)
{
    static const char *const clv[] = {CSEG_CLV_COL_P_ALIVE, CSEG_CLV_COL_EXPECTED,
                                      CSEG_CLV_COL_ORDER_VALUE, CSEG_CLV_COL_CLV};
    const cseg_prep *pp = cseg_model_prep(m);
    for (size_t j = 0; pp && j < cseg_prep_n_inputs(pp); j++) {
        const char *name = cseg_prep_input_name(pp, j);
        int is_clv = strncmp(name, "btyd_", 5) == 0;
        for (size_t k = 0; k < sizeof clv / sizeof clv[0]; k++)
            is_clv |= strcmp(name, clv[k]) == 0;
        if (is_clv)
            return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                              "the model clusters on \"%s\", a lifetime-value column that "
                              "events cannot update; segment with run --clv and assign instead",
                              name);
    }
    return 0;
}

int cseg_stream_check(const cseg_model *m, const cseg_event *ev, cseg_diag *d)
{
    clean_event ce;
    return clean(m, ev, &ce, d);
}

/* A set of byte strings (keys made by key_of), open addressing. A slot
 * holds the key's hash beside its place in text, so that a probe reads the
 * key's bytes only when the hashes agree: the batch's set outgrows the
 * caches, and reading every probed key was most of deciding an event. */
typedef struct kslot {
    uint64_t h;
    size_t at; /* offset + 1 into text, 0: free */
} kslot;

typedef struct kset {
    kslot *slot;
    size_t cap, n;
    store_buf text; /* each key: its length (size_t) and its bytes */
} kset;

static void kset_free(kset *k)
{
    free(k->slot);
    free(k->text.p);
    memset(k, 0, sizeof *k);
}

static size_t kset_find(const kset *k, const char *key, size_t len, uint64_t h)
{
    for (size_t i = (size_t)h & (k->cap - 1);; i = (i + 1) & (k->cap - 1)) {
        const kslot *e = &k->slot[i];
        if (!e->at)
            return i;
        if (e->h != h)
            continue;
        size_t l;
        memcpy(&l, k->text.p + e->at - 1, sizeof l);
        if (l == len && memcmp(k->text.p + e->at - 1 + sizeof l, key, len) == 0)
            return i;
    }
}

/* A key with its hash, made once for a look-up and the add after it. */
typedef struct hkey {
    store_buf b;
    uint64_t h;
} hkey;

static int kset_has(const kset *k, const hkey *key)
{
    return k->cap && k->slot[kset_find(k, key->b.p, key->b.len, key->h)].at != 0;
}

/* Room for n keys without growing; CSEG_ENOMEM. */
static int kset_reserve(kset *k, size_t n)
{
    if (n * 2 <= k->cap)
        return 0;
    size_t cap = k->cap ? k->cap : 256;
    while (cap < n * 2)
        cap *= 2;
    kslot *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < k->cap; i++)
        if (k->slot[i].at)
            for (size_t j = (size_t)k->slot[i].h & (cap - 1);; j = (j + 1) & (cap - 1))
                if (!slot[j].at) {
                    slot[j] = k->slot[i];
                    break;
                }
    free(k->slot);
    k->slot = slot;
    k->cap = cap;
    return 0;
}

/* 1 when added, 0 when there already, CSEG_ENOMEM. */
static int kset_add(kset *k, const hkey *key)
{
    if (kset_reserve(k, k->n + 1) < 0)
        return CSEG_ENOMEM;
    size_t i = kset_find(k, key->b.p, key->b.len, key->h);
    if (k->slot[i].at)
        return 0;
    size_t off = k->text.len;
    if (cseg__store_buf_put(&k->text, (const char *)&key->b.len, sizeof key->b.len) < 0 ||
        cseg__store_buf_put(&k->text, key->b.p, key->b.len) < 0)
        return CSEG_ENOMEM;
    k->slot[i] = (kslot){key->h, off + 1};
    k->n++;
    return 1;
}

/* ---- the event writer's cache ----
 * The customers the writer has seen: their state and daily sums as in the
 * store, so that an event reads neither (two statements of the dozen each
 * event took, and the window's rows). What it writes still goes to the
 * store in the event's transaction (but the new products and, with SQLite,
 * the states and daily sums: see "products written behind" and "states
 * written behind"): the cache only saves the reads. It is trusted while the
 * store has not been changed by anyone else: SQLite's data version tells a
 * commit of another connection, and without one (the PostgreSQL back end)
 * the cache lasts one transaction; a transaction that fails, forgetting
 * customers and storing a run drop it. */
typedef struct cday {
    int64_t day;
    double amount, amount_c; /* the row of cseg_customer_days */
    uint64_t stamp;          /* == the cache's epoch: listed to write (odays) */
} cday;

typedef struct ccust {
    char *id;
    cstate st;
    cday *days; /* by day */
    size_t n_days, cap_days;
    uint64_t stamp; /* == the cache's epoch: its state listed to write (owing) */
    int row0, seg0; /* as read: it had a state row, and that row's segment */
} ccust;

/* A slot: the customer's hash beside its entry, which stays where it is
 * while the table grows (a batch keeps its events' entries). */
typedef struct cslot {
    uint64_t h;
    ccust *e; /* NULL: free */
} cslot;

/* A customer's day listed to write. */
typedef struct oday {
    ccust *e;
    int64_t day;
} oday;

typedef struct stream_cache {
    cslot *slot;
    size_t cap, n; /* cap a power of two, at most half full */
    int64_t version;
    int known; /* version read since the cache was last dropped */
    /* what the next write of states writes: the customers and days changed
     * since the last one (a batch's own with PostgreSQL; with SQLite those
     * of every batch since the mark 'states_after', see "states written
     * behind"). An entry is listed when its stamp is the epoch, and the
     * epoch moves on when the lists are written. */
    uint64_t epoch;
    ccust **owing;
    size_t n_owing, cap_owing;
    oday *odays;
    size_t n_odays, cap_odays;
    size_t owed_events; /* applied since the lists were last written */
    int behind;         /* the lists are owed: the store has the mark */
    /* products written behind: keys 'p' (customer, product) */
    kset owed;                  /* of the batches since the cycle began */
    kset cyc;                   /* of the cycle being written */
    const char *(*cyc_pair)[2]; /* its pairs in key order (into cyc's text) */
    size_t cyc_done;            /* of them written (committed) */
    int64_t cyc_end;            /* the last event whose pairs it holds */
    int64_t last_event;         /* the last event this writer committed */
    /* run_rows' statements, made once for the handle (heads and tails are
     * string constants). Made again for every batch (a snprintf per
     * parameter, 832 for 64 events), their text was about 6% of the
     * server's samples under batches of 1,000 events, 1% after. */
    struct rows_sql {
        const char *head, *tail;
        size_t k;
        char *text;
    } sql[48];
    size_t n_sql;
} stream_cache;

#define CACHE_MAX_CUSTOMERS (1u << 20) /* then dropped and filled again */

static void cache_clear(stream_cache *c)
{
    for (size_t i = 0; i < c->cap; i++)
        if (c->slot[i].e) {
            free(c->slot[i].e->id);
            free(c->slot[i].e->days);
            free(c->slot[i].e);
        }
    free(c->slot);
    c->slot = NULL;
    c->cap = c->n = 0;
    c->known = 0;
    /* owed states: the events after the store's mark still tell them */
    free(c->owing);
    free(c->odays);
    c->owing = NULL;
    c->odays = NULL;
    c->n_owing = c->cap_owing = c->n_odays = c->cap_odays = c->owed_events = 0;
    c->behind = 0;
    /* owed products: their events and the store's mark still tell them */
    kset_free(&c->owed);
    kset_free(&c->cyc);
    free(c->cyc_pair);
    c->cyc_pair = NULL;
    c->cyc_done = 0;
}

void cseg__stream_cache_drop(cseg_store *s)
{
    if (s->stream)
        cache_clear(s->stream);
}

/* The slot of id: its own, or the free one where it would go. */
static cslot *cache_slot(stream_cache *c, const char *id, uint64_t h)
{
    for (size_t i = (size_t)h & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
        cslot *e = &c->slot[i];
        if (!e->e || (e->h == h && strcmp(e->e->id, id) == 0))
            return e;
    }
}

static int cache_grow(stream_cache *c)
{
    size_t cap = c->cap ? 2 * c->cap : 1024;
    cslot *old = c->slot, *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return CSEG_ENOMEM;
    size_t ocap = c->cap;
    c->slot = slot;
    c->cap = cap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].e)
            *cache_slot(c, old[i].e->id, old[i].h) = old[i];
    free(old);
    return 0;
}

/* The cached day's row, made (0, 0) when new; NULL when out of memory. */
static cday *cache_day(ccust *e, int64_t day)
{
    size_t i = e->n_days;
    while (i > 0 && e->days[i - 1].day > day) /* new days come last, mostly */
        i--;
    if (i > 0 && e->days[i - 1].day == day)
        return &e->days[i - 1];
    if (e->n_days == e->cap_days) {
        size_t cap = e->cap_days ? 2 * e->cap_days : 4;
        cday *p = realloc(e->days, cap * sizeof *p);
        if (!p)
            return NULL;
        e->days = p;
        e->cap_days = cap;
    }
    memmove(&e->days[i + 1], &e->days[i], (e->n_days - i) * sizeof *e->days);
    e->n_days++;
    e->days[i] = (cday){day, 0, 0, 0};
    return &e->days[i];
}

typedef struct days_ctx {
    ccust *e;
    int failed; /* a row not kept (out of memory) */
} days_ctx;

/* A row of the customer's days, in order of day. */
static int day_row(void *ctx, size_t nc, const store_cell *v)
{
    days_ctx *c = ctx;
    cday *cd = nc >= 3 ? cache_day(c->e, cseg__cell_i(&v[0], 0)) : NULL;
    if (!cd)
        return c->failed = 1;
    cd->amount = cell0(&v[1]);
    cd->amount_c = cell0(&v[2]);
    return 0;
}

/* The cache entry of id, read from the store the first time. */
static int cache_get(cseg_store *s, const char *id, ccust **out, cseg_diag *d)
{
    stream_cache *c = s->stream;
    uint64_t h = cseg__hash(id, strlen(id), 0);
    cslot *at = c->cap ? cache_slot(c, id, h) : NULL;
    if (at && at->e) {
        *out = at->e;
        return 0;
    }
    if ((c->n + 1) * 2 > c->cap) {
        if (cache_grow(c) < 0)
            return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        at = cache_slot(c, id, h);
    }
    ccust *e = calloc(1, sizeof *e);
    if (!e)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    days_ctx dc = {e, 0};
    int rc = load_state(s, id, &e->st, d);
    const store_cell p[] = {cell_text(id)};
    if (rc == 0 && (rc = cseg__store_run(s,
                                         "SELECT day, amount, amount_c FROM cseg_customer_days "
                                         "WHERE customer_id = $1 ORDER BY day",
                                         p, 1, day_row, &dc, d)) == 0 &&
        (dc.failed || !(e->id = strdup(id))))
        rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    if (rc < 0) {
        free(e->days);
        free(e);
        return rc;
    }
    e->row0 = e->st.exists;
    e->seg0 = e->st.segment;
    *at = (cslot){h, e};
    c->n++;
    *out = e;
    return 0;
}

static int states_write(cseg_store *s, cseg_diag *d);
static int state_add(stream_cache *sc, ccust *e, int64_t day, double value, int is_ret,
                     int new_order, int new_product, cseg_diag *d);

/* At the start of a write transaction: the cache as good as the store. */
static int cache_check(cseg_store *s, cseg_diag *d)
{
    if (!s->stream && !(s->stream = calloc(1, sizeof(stream_cache))))
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    stream_cache *c = s->stream;
    if (!c->epoch) /* entries are made with stamp 0 */
        c->epoch = 1;
    if (!s->ops->data_version) {
        cache_clear(c);
        return 0;
    }
    int64_t v = 0;
    int rc = cseg__store_run(s, s->ops->data_version, NULL, 0, got_seq, &v, d);
    if (rc < 0)
        return rc;
    if (c->known && v != c->version)
        cache_clear(c);
    /* Too many customers: started over (what it owes written first), and
     * the version read all the same (without it, another writer's commit
     * before the next batch went unseen, and with it their forgets and the
     * products they wrote). */
    if (c->n > CACHE_MAX_CUSTOMERS) {
        if (c->n_owing && (rc = states_write(s, d)) < 0)
            return rc;
        cache_clear(c);
    }
    c->version = v;
    c->known = 1;
    return 0;
}

/* The day of the customer's latest event, INT64_MIN before the first: its
 * last day of spend, or its last purchase when later (a customer whose
 * state a run stored has no days of spend: a late event's day is not its
 * latest). */
static int64_t latest_day(const ccust *e)
{
    int64_t d = e->n_days ? e->days[e->n_days - 1].day : INT64_MIN;
    return e->st.last_day > d ? e->st.last_day : d;
}

/* The customer's spend in [as_of - W, as_of): window_sql's sum over the
 * cached days, in the same order with the same additions. */
static void cache_window(const ccust *e, const cseg_model *m, int64_t as_of, cseg__exact_sum *sum)
{
    int64_t lo = as_of - cseg_model_rfm(m)->spend_window_days;
    *sum = (cseg__exact_sum){0, 0};
    for (size_t i = 0; i < e->n_days; i++)
        if (e->days[i].day >= lo && e->days[i].day < as_of) {
            cseg__add_exact(sum, e->days[i].amount);
            cseg__add_exact(sum, e->days[i].amount_c);
        }
}

/* ---- a batch's writes ----
 * A batch's events are decided one after another, each seeing the ones
 * before it, and written at the end, several rows to a statement: the
 * events in order, each customer's state and each day's sum once with
 * their last values, the new products, then the moves. A statement per
 * row was most of an event's cost. */

/* key = tag, then each part (NULL: absent) with its length: no two
 * different lists of parts give the same key. A part's bytes are followed
 * by a NUL (pairs_of reads the products owed from their keys). */
static int key_of(hkey *k, char tag, const char *a, const char *b, const char *c)
{
    store_buf *key = &k->b;
    key->len = 0;
    const char *part[3] = {a, b, c};
    int rc = cseg__store_buf_put(key, &tag, 1);
    for (int i = 0; i < 3 && rc == 0; i++) {
        size_t l = part[i] ? strlen(part[i]) : SIZE_MAX;
        rc = cseg__store_buf_put(key, (const char *)&l, sizeof l);
        if (rc == 0 && part[i])
            rc = cseg__store_buf_put(key, part[i], l + 1);
    }
    if (rc < 0)
        return CSEG_ENOMEM;
    k->h = cseg__hash(key->p, key->len, 0);
    return 0;
}

typedef struct batch {
    kset seen;  /* keys 'k', products 'p', fingerprints 'f', purchases 'i' */
    hkey key;   /* a prefetched row's */
    hkey ek[4]; /* an event's: its key, fingerprint, purchase, product */
    ccust **cust;   /* each event's customer */
    size_t *events; /* the applied events, in order */
    size_t n_events;
    char *dec;                  /* each event's decisions: 1 a new order, 2 a new product */
    const char *(*products)[2]; /* new (customer, product) */
    size_t n_products;
    char (*times)[40]; /* each event's time as text */
    char *has;         /* each event's customer has features (a segment) */
    char now[32];
    int owe;      /* after the commit: the new products owed */
    size_t slice; /* of the cycle's pairs, written by the batch */
} batch;

static void batch_free(batch *b)
{
    kset_free(&b->seen);
    free(b->key.b.p);
    for (size_t i = 0; i < 4; i++)
        free(b->ek[i].b.p);
    free(b->cust);
    free(b->events);
    free(b->dec);
    free(b->products);
    free(b->times);
    free(b->has);
}

static int batch_make(batch *b, size_t n)
{
    memset(b, 0, sizeof *b);
    size_t m = n ? n : 1;
    b->cust = malloc(m * sizeof *b->cust);
    b->events = malloc(m * sizeof *b->events);
    b->dec = calloc(m, 1);
    b->products = malloc(m * sizeof *b->products);
    b->times = malloc(m * sizeof *b->times);
    b->has = calloc(m, 1);
    cseg__store_now(b->now, sizeof b->now);
    return b->cust && b->events && b->dec && b->products && b->times && b->has &&
                   kset_reserve(&b->seen, 4 * m) == 0 /* up to four keys an event */
               ? 0
               : CSEG_ENOMEM;
}

/* Records it; 1 when new. */
static int batch_add(batch *b, char tag, const char *x, const char *y, const char *z)
{
    int rc = key_of(&b->key, tag, x, y, z);
    return rc < 0 ? rc : kset_add(&b->seen, &b->key);
}

/* Rows a statement of run_rows takes when `left` remain: 64, 16, 4 or 1. */
static size_t statement_rows(size_t left)
{
    return left >= 64 ? 64 : left >= 16 ? 16 : left >= 4 ? 4 : 1;
}

/* Rows of ncols cells each, written by "head VALUES (...), ... tail" with
 * up to 64 rows to a statement (64, 16, 4 or 1: few distinct statements
 * for the back end to keep prepared). fn, if any, gets each statement's
 * result rows. */
static int run_rows(cseg_store *s, const char *head, const char *tail, size_t ncols,
                    const char *const *match, const store_cell *cells, size_t nrows,
                    store_cell_fn fn, void *ctx, size_t max_rows, cseg_diag *d)
{
    int rc = 0;
    stream_cache *sc = s->stream; /* made by cache_check at the batch's start */
    for (size_t r0 = 0; r0 < nrows && rc == 0;) {
        size_t k = statement_rows(nrows - r0);
        k = k > max_rows ? max_rows : k;
        /* The statement's text, made once for the handle (the same few each
         * time). */
        size_t q = 0;
        while (q < sc->n_sql && (sc->sql[q].head != head || sc->sql[q].tail != tail ||
                                 sc->sql[q].k != k))
            q++;
        if (q == sc->n_sql && q < sizeof sc->sql / sizeof sc->sql[0]) {
            store_buf t = {0};
            rc = cseg__store_buf_put(&t, head, strlen(head));
            if (!match)
                rc |= cseg__store_buf_put(&t, " VALUES ", 8);
            for (size_t i = 0; i < k * ncols && rc == 0; i++) {
                char num[96];
                int len = match ? snprintf(num, sizeof num, "%s%s = $%zu%s",
                                           i % ncols ? " AND " : i ? ") OR (" : "(",
                                           match[i % ncols], i + 1, i + 1 == k * ncols ? ")" : "")
                                : snprintf(num, sizeof num, "%s$%zu%s",
                                           i % ncols ? ", " : i ? "), (" : "(", i + 1,
                                           i + 1 == k * ncols ? ")" : "");
                rc = cseg__store_buf_put(&t, num, (size_t)len);
            }
            rc |= cseg__store_buf_put(&t, tail, strlen(tail));
            if (rc < 0) {
                free(t.p);
                return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
            }
            sc->sql[sc->n_sql++] = (struct rows_sql){head, tail, k, t.p};
        }
        if (q == sc->n_sql)
            return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "too many statements"); /* not reached */
        rc = cseg__store_run(s, sc->sql[q].text, cells + r0 * ncols, k * ncols, fn, ctx, d);
        r0 += k;
    }
    return rc;
}

static void roll_back(cseg_store *s)
{
    cseg_diag ignored;
    s->ops->exec(s, "ROLLBACK", NULL, NULL, 0, &ignored);
}

/* ---- products written behind ----
 * Each purchase asks whether its customer bought the product before
 * (cseg_customer_products) and adds the pair when not. That table is keyed
 * by customer, so a batch's new pairs land on about as many pages, and
 * with batches of 1,000 events writing them, and committing those pages,
 * was half of the writer's time. With SQLite (the back end whose cache
 * outlives a transaction) the writer keeps the new pairs of its committed
 * batches in memory (owed) instead. Once OWED_CYCLE are owed they become a
 * cycle: sorted, and written a slice at a time, each batch taking the next
 * slice in key order, twice as many pairs as it applies events, so that a
 * slice touches a run of the table's pages and each page is written about
 * once a cycle, while no batch waits for more than its own share (writing
 * them all at once held the writer for half a second once the table had
 * millions of rows). What remains is written at close.
 * The store says what is owed: while any pair is, cseg_meta's row
 * 'products_after' holds an event id, every pair of the events up to it
 * being in the table; it moves up to the cycle's last event when a cycle
 * is written. A writer that holds nothing owed (a new handle, one whose
 * cache was dropped, any writer after a crash, another process) settles
 * first: adds the pairs of the events after the mark and removes it, in
 * its batch's transaction. */
#define OWED_CYCLE 65536

static const char owed_key[] = "products_after", states_key[] = "states_after";

static int mark_set(cseg_store *s, const char *key, int64_t after, cseg_diag *d)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)after);
    const store_cell p[] = {cell_text(key), cell_text(v)};
    return cseg__store_run(s,
                           "INSERT INTO cseg_meta (key, value) VALUES ($1, $2) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                           p, 2, NULL, NULL, d);
}

static int mark_drop(cseg_store *s, const char *key, cseg_diag *d)
{
    const store_cell p[] = {cell_text(key)};
    return cseg__store_run(s, "DELETE FROM cseg_meta WHERE key = $1", p, 1, NULL, NULL, d);
}

/* The event id a mark holds; -1 when the store has none. */
static int mark_get(cseg_store *s, const char *key, int64_t *after, cseg_diag *d)
{
    *after = -1;
    const store_cell p[] = {cell_text(key)};
    return cseg__store_run(s, "SELECT CAST(value AS BIGINT) FROM cseg_meta WHERE key = $1", p, 1,
                           got_seq, after, d);
}

static size_t owed_n(const stream_cache *sc)
{
    return sc->owed.n + sc->cyc.n;
}

/* At a batch's start: the pairs owed by the events after the mark, if any,
 * added and the mark gone, unless this writer holds them itself. */
static int products_settle(cseg_store *s, cseg_diag *d)
{
    const stream_cache *sc = s->stream;
    if (!s->ops->data_version || owed_n(sc))
        return 0;
    int64_t after;
    int rc = mark_get(s, owed_key, &after, d);
    if (rc < 0 || after < 0)
        return rc;
    const store_cell p[] = {cell_int(after)};
    if ((rc = cseg__store_run(s,
                              "INSERT INTO cseg_customer_products (customer_id, product) "
                              "SELECT customer_id, product FROM cseg_events WHERE event_id > $1 "
                              "AND product IS NOT NULL AND is_return = 0 AND counted = 1 "
                              "ORDER BY customer_id, product "
                              "ON CONFLICT (customer_id, product) DO NOTHING",
                              p, 1, NULL, NULL, d)) < 0)
        return rc;
    return mark_drop(s, owed_key, d);
}

/* ---- states written behind ----
 * Each applied event changes its customer's state (a row of
 * cseg_customer_state) and the day's sum (cseg_customer_days). Written with
 * every batch, those rows were about a quarter of the writer's time under
 * batches of 1,000 events (2026-12-07, bench/README.md). With SQLite the
 * handle that applies events keeps them in its cache instead, listed as
 * owed, and writes them (each customer's last values, once) with the batch
 * that brings the owed to STATES_OWED_MAX customers or STATES_OWED_EVENTS
 * events, with cseg_stream_flush (the service calls it when idle), before
 * anything on the handle reads or changes them, and at close.
 * The store says what is owed: while anything is, cseg_meta's row
 * 'states_after' holds an event id; the states and days in the tables are
 * those of the events up to it, and each later event keeps what it decided
 * (a new order, a new product, the segment after it). A writer that holds
 * nothing owed (another handle or process, this one after its cache was
 * dropped, anyone after a crash) first folds the events after the mark
 * into its cache, in order, with the same additions the writer made
 * (state_add), and writes them (states_fold); so do the other writers of
 * the tables before they change them (a run stored with --db, forget,
 * replay's checks), in their transaction (states_settle_in). A reader
 * (cseg_stream_customer, the segment sizes) folds them into its own cache
 * in a read transaction and writes nothing (peek_begin). PostgreSQL writes
 * them with every batch (its cache lasts one transaction). */
#define STATES_OWED_MAX 65536u
#define STATES_OWED_EVENTS 262144u

/* The lists written: each owed customer's state and day, with their last
 * values; the mark gone; nothing owed after. In the caller's transaction. */
static int states_write(cseg_store *s, cseg_diag *d)
{
    stream_cache *sc = s->stream;
    size_t big = sc->n_owing > sc->n_odays ? sc->n_owing : sc->n_odays;
    store_cell *c = malloc((big ? big : 1) * 15 * sizeof *c);
    char(*dates)[2][16] = malloc((sc->n_owing ? sc->n_owing : 1) * sizeof *dates);
    char now[32];
    cseg__store_now(now, sizeof now);
    int rc = c && dates ? 0 : cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t r = 0; r < sc->n_odays && rc == 0; r++) {
        ccust *e = sc->odays[r].e;
        const cday *cd = cache_day(e, sc->odays[r].day); /* there since its event */
        if (!cd) {
            rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
            break;
        }
        c[r * 4] = cell_text(e->id);
        c[r * 4 + 1] = cell_int(cd->day);
        c[r * 4 + 2] = cell_num(cd->amount);
        c[r * 4 + 3] = cell_num(cd->amount_c);
    }
    if (rc == 0)
        rc = run_rows(s, "INSERT INTO cseg_customer_days (customer_id, day, amount, amount_c)",
                      " ON CONFLICT (customer_id, day) DO UPDATE SET amount = excluded.amount, "
                      "amount_c = excluded.amount_c",
                      4, NULL, c, sc->n_odays, NULL, NULL, 64, d);
    for (size_t r = 0; r < sc->n_owing && rc == 0; r++) {
        const ccust *e = sc->owing[r];
        const cstate *st = &e->st;
        const store_cell none = cell_text(NULL);
        int purchased = st->last_day != INT64_MIN;
        if (purchased) {
            cseg_format_date(st->first_day, dates[r][0], sizeof dates[r][0]);
            cseg_format_date(st->last_day, dates[r][1], sizeof dates[r][1]);
        }
        const store_cell row[] = {cell_text(e->id),
                                  purchased ? cell_text(dates[r][0]) : none,
                                  purchased ? cell_text(dates[r][1]) : none,
                                  purchased ? cell_int(st->first_day) : none,
                                  purchased ? cell_int(st->last_day) : none,
                                  cell_int(st->n_orders),
                                  cell_int(st->n_products),
                                  cell_num(st->net.s),
                                  cell_num(st->net.c),
                                  cell_num(st->gross.s),
                                  cell_num(st->gross.c),
                                  cell_num(st->returned.s),
                                  cell_num(st->returned.c),
                                  st->segment ? cell_int(st->segment) : none,
                                  cell_text(now)};
        memcpy(c + r * 15, row, sizeof row);
    }
    if (rc == 0)
        rc = run_rows(
            s,
            "INSERT INTO cseg_customer_state (customer_id, first_purchase, last_purchase, "
            "first_day, last_day, n_orders, n_products, net_spend, net_c, gross_spend, gross_c, "
            "returned_value, returned_c, segment, updated_at)",
            " ON CONFLICT (customer_id) DO UPDATE SET "
            "first_purchase = excluded.first_purchase, last_purchase = excluded.last_purchase, "
            "first_day = excluded.first_day, last_day = excluded.last_day, "
            "n_orders = excluded.n_orders, n_products = excluded.n_products, "
            "net_spend = excluded.net_spend, net_c = excluded.net_c, "
            "gross_spend = excluded.gross_spend, gross_c = excluded.gross_c, "
            "returned_value = excluded.returned_value, returned_c = excluded.returned_c, "
            "segment = excluded.segment, updated_at = excluded.updated_at",
            15, NULL, c, sc->n_owing, NULL, NULL, 64, d);
    if (rc == 0 && sc->behind)
        rc = mark_drop(s, states_key, d);
    if (rc == 0) { /* (should the transaction fail, the cache is dropped) */
        sc->epoch++;
        sc->n_owing = sc->n_odays = sc->owed_events = 0;
        sc->behind = 0;
    }
    free(c);
    free(dates);
    return rc;
}

typedef struct fold_ctx {
    cseg_store *s;
    cseg_diag *d;
    int rc;
} fold_ctx;

/* An event after the mark: customer_id, event_day, amount, is_return,
 * new_order, new_product, segment. */
static int fold_row(void *ctx, size_t nc, const store_cell *v)
{
    fold_ctx *f = ctx;
    ccust *e;
    if (nc < 7 || v[0].kind != 't' || v[1].kind == 'n')
        f->rc = cseg__diag(f->d, CSEG_EFORMAT, f->s->uri, 0, 0,
                           "an event after the store's mark 'states_after' lacks what it decided");
    else if ((f->rc = cache_get(f->s, v[0].s, &e, f->d)) == 0 &&
             (f->rc = state_add(f->s->stream, e, cseg__cell_i(&v[1], 0), cseg__cell_d(&v[2]),
                                cseg__cell_i(&v[3], 0) != 0, cseg__cell_i(&v[4], 0) != 0,
                                cseg__cell_i(&v[5], 0) != 0, f->d)) == 0)
        e->st.segment = (int)cseg__cell_i(&v[6], 0);
    return f->rc < 0;
}

/* The events after `after` (of one customer, or all: only_id NULL) folded
 * into the cache, in order: listed as owed by this handle. */
static int fold_events(cseg_store *s, int64_t after, const char *only_id, cseg_diag *d)
{
    const store_cell p[] = {cell_int(after), cell_text(only_id)};
    fold_ctx f = {s, d, 0};
    int rc = cseg__store_run(s,
                             only_id ? "SELECT customer_id, event_day, amount, is_return, "
                                       "new_order, new_product, segment FROM cseg_events WHERE "
                                       "event_id > $1 AND customer_id = $2 ORDER BY event_id"
                                     : "SELECT customer_id, event_day, amount, is_return, "
                                       "new_order, new_product, segment FROM cseg_events WHERE "
                                       "event_id > $1 ORDER BY event_id",
                             p, only_id ? 2 : 1, fold_row, &f, d);
    return rc < 0 ? rc : f.rc;
}

/* In a write transaction, after cache_check: the states owed by someone
 * else (the store's mark, while this handle owes none) folded from their
 * events and written, the mark gone. (Kept owed instead, two writers that
 * take turns each fold all the other's since the mark again and again.) */
static int states_fold(cseg_store *s, cseg_diag *d)
{
    stream_cache *sc = s->stream;
    if (!s->ops->data_version || sc->behind)
        return 0;
    int64_t after;
    int rc = mark_get(s, states_key, &after, d);
    if (rc < 0 || after < 0)
        return rc;
    if ((rc = fold_events(s, after, NULL, d)) < 0)
        return rc;
    sc->behind = 1; /* (the mark goes with the write) */
    return states_write(s, d);
}

/* The tables made current, in the caller's write transaction: what another
 * owes folded, and what this handle owes written. */
static int states_settle_in(cseg_store *s, cseg_diag *d)
{
    int rc = cache_check(s, d);
    if (rc == 0)
        rc = states_fold(s, d);
    const stream_cache *sc = s->stream;
    if (rc == 0 && (sc->n_owing || sc->behind))
        rc = states_write(s, d);
    return rc;
}

int cseg__stream_settle_in(cseg_store *s, cseg_diag *d)
{
    return s->ops->data_version ? states_settle_in(s, d) : 0;
}

int cseg_stream_owes(const cseg_store *s)
{
    const stream_cache *sc = s->stream;
    return sc && (sc->n_owing || sc->behind);
}

/* The same in a transaction of its own, when anything is owed: by this
 * handle, or by the store's mark. A store opened read-only is read as it
 * is. */
static int states_settle(cseg_store *s, cseg_diag *d)
{
    if (!s->ops->data_version || s->readonly)
        return 0;
    int64_t after;
    int rc;
    if (!cseg_stream_owes(s) && ((rc = mark_get(s, states_key, &after, d)) < 0 || after < 0))
        return rc;
    if ((rc = s->ops->exec(s, s->ops->begin, NULL, NULL, 0, d)) < 0)
        return rc;
    if ((rc = states_settle_in(s, d)) == 0)
        rc = s->ops->exec(s, "COMMIT", NULL, NULL, 0, d);
    if (rc < 0) {
        roll_back(s);
        cseg__stream_cache_drop(s);
    }
    return rc;
}

int cseg_stream_flush(cseg_store *s, cseg_diag *d)
{
    return states_settle(s, d);
}

/* A reader's view (cseg_stream_customer, the segment sizes): with SQLite,
 * a read transaction (one snapshot), and in it, when the store has the
 * mark, the events after it (of one customer, or all) folded into this
 * handle's cache, emptied first, from the tables as they are: nothing is
 * written and no lock taken, so a reader never waits for a writer (or
 * needs write access). *folded: the cache has the view (a customer there
 * is as its events left it; one not there is as the tables have it).
 * A handle that owes states itself (the writer) writes them instead.
 * peek_end ends the transaction and drops what was folded. */
static int peek_begin(cseg_store *s, const char *only_id, int *folded, cseg_diag *d)
{
    *folded = 0;
    if (!s->ops->data_version)
        return 0;
    int rc = cseg_stream_owes(s) ? states_settle(s, d) : 0;
    if (rc == 0)
        rc = s->ops->exec(s, "BEGIN", NULL, NULL, 0, d);
    int64_t after = -1;
    if (rc == 0 && (rc = mark_get(s, states_key, &after, d)) == 0 && after >= 0) {
        cseg__stream_cache_drop(s);
        if ((rc = cache_check(s, d)) == 0 && (rc = fold_events(s, after, only_id, d)) == 0)
            *folded = 1;
    }
    if (rc < 0) {
        roll_back(s);
        cseg__stream_cache_drop(s);
    }
    return rc;
}

static void peek_end(cseg_store *s, int folded)
{
    cseg_diag ignored;
    if (s->ops->data_version)
        s->ops->exec(s, "COMMIT", NULL, NULL, 0, &ignored); /* (a read: nothing to lose) */
    if (folded)
        cseg__stream_cache_drop(s);
}

static int pair_cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    int c = strcmp(x[0], y[0]);
    return c ? c : strcmp(x[1], y[1]);
}

/* The pairs of k's keys (customer, product), after the m in *pair: each
 * key is its length, then 'p', the customer's length and bytes with a NUL
 * after them, the product's the same way (key_of). */
static void pairs_of(const kset *k, const char *(*pair)[2], size_t *m)
{
    for (size_t at = 0; at < k->text.len; (*m)++) {
        size_t len;
        memcpy(&len, k->text.p + at, sizeof len);
        const char *key = k->text.p + at + sizeof len;
        pair[*m][0] = key + 1 + sizeof(size_t);
        pair[*m][1] = pair[*m][0] + strlen(pair[*m][0]) + 1 + sizeof(size_t);
        at += sizeof len + len;
    }
}

/* n pairs written, in the order given. */
static int pairs_write(cseg_store *s, const char *const (*pair)[2], size_t n, cseg_diag *d)
{
    store_cell *c = malloc((n ? n : 1) * 2 * sizeof *c);
    if (!c)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < n; i++) {
        c[2 * i] = cell_text(pair[i][0]);
        c[2 * i + 1] = cell_text(pair[i][1]);
    }
    int rc = run_rows(s, "INSERT INTO cseg_customer_products (customer_id, product)",
                      " ON CONFLICT (customer_id, product) DO NOTHING", 2, NULL, c, n, NULL, NULL,
                      64, d);
    free(c);
    return rc;
}

/* A batch's new products: with SQLite owed, the cycle's next slice written
 * and the mark kept up; else written. */
static int products_batch(cseg_store *s, batch *b, const int64_t *ids, cseg_diag *d)
{
    stream_cache *sc = s->stream;
    if (!s->ops->data_version) {
        qsort(b->products, b->n_products, sizeof *b->products, pair_cmp);
        return pairs_write(s, (const char *const(*)[2])b->products, b->n_products, d);
    }
    int rc = 0;
    if (sc->cyc.n) {
        size_t left = sc->cyc.n - sc->cyc_done, want = 2 * (b->n_events ? b->n_events : 1);
        b->slice = want < left ? want : left;
        rc = pairs_write(s, (const char *const(*)[2])sc->cyc_pair + sc->cyc_done, b->slice, d);
        if (rc == 0 && b->slice == left) /* the cycle written: owed only after its last event */
            rc = sc->owed.n + b->n_products ? mark_set(s, owed_key, sc->cyc_end, d)
                                            : mark_drop(s, owed_key, d);
    } else if (!sc->owed.n && b->n_products) { /* the first owed: after the event before */
        rc = mark_set(s, owed_key, ids[0] - 1, d);
    }
    b->owe = 1;
    return rc;
}

/* After a batch's commit: the slice written counted, its new products owed,
 * a cycle begun when enough are. Out of memory, the cache goes (the mark
 * and the events still tell them). */
static void owe(stream_cache *sc, batch *b, int64_t last_event)
{
    if (!b->owe)
        return;
    sc->cyc_done += b->slice;
    if (sc->cyc.n && sc->cyc_done == sc->cyc.n) {
        kset_free(&sc->cyc);
        free(sc->cyc_pair);
        sc->cyc_pair = NULL;
        sc->cyc_done = 0;
    }
    for (size_t i = 0; i < b->n_products; i++)
        if (key_of(&b->key, 'p', b->products[i][0], b->products[i][1], NULL) < 0 ||
            kset_add(&sc->owed, &b->key) < 0) {
            cache_clear(sc);
            return;
        }
    if (b->n_events)
        sc->last_event = last_event;
    if (!sc->cyc.n && sc->owed.n >= OWED_CYCLE) {
        size_t m = 0;
        if (!(sc->cyc_pair = malloc(sc->owed.n * sizeof *sc->cyc_pair))) {
            cache_clear(sc);
            return;
        }
        sc->cyc = sc->owed; /* its text no longer grows: the pairs point into it */
        memset(&sc->owed, 0, sizeof sc->owed);
        pairs_of(&sc->cyc, sc->cyc_pair, &m);
        qsort(sc->cyc_pair, m, sizeof *sc->cyc_pair, pair_cmp);
        sc->cyc_end = sc->last_event;
    }
}

/* At close: the products owed written. If that fails, the store's mark
 * keeps them owed, to the next writer. */
void cseg__stream_cache_free(cseg_store *s)
{
    stream_cache *c = s->stream;
    cseg_diag ignored;
    if (c && (owed_n(c) || cseg_stream_owes(s)) && s->ops->data_version &&
        s->ops->exec(s, s->ops->begin, NULL, NULL, 0, &ignored) == 0) {
        int rc = cache_check(s, &ignored); /* another writer since: they are no longer owed */
        if (rc == 0 && (c->n_owing || c->behind))
            rc = states_write(s, &ignored);
        size_t n = c->cyc.n - c->cyc_done, m = n;
        const char *(*pair)[2] = owed_n(c) ? malloc((n + c->owed.n) * sizeof *pair) : NULL;
        if (rc == 0 && pair) {
            if (n) /* the cycle's pairs not yet written */
                memcpy(pair, c->cyc_pair + c->cyc_done, n * sizeof *pair);
            pairs_of(&c->owed, pair, &m);
            qsort(pair, m, sizeof *pair, pair_cmp);
            if ((rc = pairs_write(s, (const char *const(*)[2])pair, m, &ignored)) == 0)
                rc = mark_drop(s, owed_key, &ignored);
        }
        free(pair);
        if (rc < 0 || s->ops->exec(s, "COMMIT", NULL, NULL, 0, &ignored) < 0)
            roll_back(s);
    }
    cseg__stream_cache_drop(s);
    for (size_t q = 0; c && q < c->n_sql; q++)
        free(c->sql[q].text);
    free(c);
    s->stream = NULL;
}

typedef struct ids_ctx {
    int64_t *ids;
    size_t n;
} ids_ctx;

static int id_row(void *ctx, size_t nc, const store_cell *v)
{
    ids_ctx *c = ctx;
    if (nc > 0)
        c->ids[c->n++] = cseg__cell_i(&v[0], 0);
    return 0;
}

/* A row of a prefetch: added to the batch's set under its tag. */
typedef struct prefetch_ctx {
    batch *b;
    char tag; /* 'k' keys, 'p' products, 'e' events of invoices, 'n' events without */
    int failed;
} prefetch_ctx;

static int prefetch_row(void *ctx, size_t nc, const store_cell *v)
{
    prefetch_ctx *c = ctx;
    const char *x = nc > 0 && v[0].kind == 't' ? v[0].s : NULL;
    const char *y = nc > 1 && v[1].kind == 't' ? v[1].s : NULL;
    int rc = 0;
    if (c->tag == 'k' || c->tag == 'p')
        rc = batch_add(c->b, c->tag, x, y, NULL);
    else if (c->tag == 'e') { /* invoice, customer, fingerprint, a counted purchase */
        const char *fp = nc > 2 && v[2].kind == 't' ? v[2].s : NULL;
        rc = batch_add(c->b, 'f', x, y, fp);
        if (rc >= 0 && nc > 3 && cseg__cell_i(&v[3], 0))
            rc = batch_add(c->b, 'i', x, y, NULL);
    } else /* customer, fingerprint of an event without an invoice */
        rc = batch_add(c->b, 'f', NULL, x, y);
    if (rc < 0)
        c->failed = 1;
    return rc < 0;
}

/* What the store has seen of the batch's events, in a few statements
 * instead of a look-up per event: their keys, the customers' products,
 * every event of their invoices (fingerprints and purchases), the
 * customers' events without an invoice with their fingerprints. It goes
 * into the batch's set, with what the batch itself applies. */
static int prefetch(cseg_store *s, batch *b, const cseg_event *evs, const clean_event *ce, size_t n,
                    cseg_diag *d)
{
    store_cell *c = malloc((n ? n : 1) * 2 * sizeof *c);
    if (!c)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    /* Pairs are matched with OR: SQLite reads a row value IN (...) by a
     * scan of the whole table, an OR of equalities by an index look-up each.
     * Each pair without an invoice says so itself: SQLite then looks up
     * (NULL, customer, fingerprint) in the index by invoice; with "invoice
     * IS NULL" once, outside the OR, it read every event without an invoice
     * for each statement. */
    static const char *const products[] = {"customer_id", "product"},
                             *no_invoice[] = {"invoice IS NULL AND customer_id", "fingerprint"};
    static const struct {
        char tag;
        size_t ncols;
        const char *head, *tail;
        const char *const *match;
    } q[] = {
        {'k', 1, "SELECT event_key FROM cseg_events WHERE event_key IN (", ")", NULL},
        {'p', 2, "SELECT customer_id, product FROM cseg_customer_products WHERE ", "", products},
        {'e', 1,
         "SELECT invoice, customer_id, fingerprint, CASE WHEN is_return = 0 AND counted = 1 "
         "THEN 1 ELSE 0 END FROM cseg_events WHERE invoice IN (",
         ")", NULL},
        {'n', 2, "SELECT customer_id, fingerprint FROM cseg_events WHERE ", "", no_invoice},
    };
    int rc = 0;
    /* One writer per customer: PostgreSQL's BEGIN takes no lock (SQLite's
     * BEGIN IMMEDIATE does), and what is read here is changed and written
     * back: the batch's customers are locked first (as forget locks them). */
    if (s->ops->xact_lock) {
        const char **ids = malloc((n ? n : 1) * sizeof *ids);
        if (!ids)
            rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        for (size_t i = 0; ids && i < n; i++)
            ids[i] = evs[i].customer_id;
        if (ids)
            rc = cseg__store_lock_customers(s, ids, n, d);
        free(ids);
    }
    for (size_t t = 0; t < sizeof q / sizeof q[0] && rc == 0; t++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const cseg_event *ev = &evs[i];
            if (q[t].tag == 'k' && ev->event_key)
                c[m++] = cell_text(ev->event_key);
            else if (q[t].tag == 'p' && ev->product) {
                c[2 * m] = cell_text(ev->customer_id);
                c[2 * m++ + 1] = cell_text(ev->product);
            } else if (q[t].tag == 'e' && ev->invoice)
                c[m++] = cell_text(ev->invoice);
            else if (q[t].tag == 'n' && !ev->invoice) {
                c[2 * m] = cell_text(ev->customer_id);
                c[2 * m++ + 1] = cell_text(ce[i].fp);
            }
        }
        prefetch_ctx pc = {b, q[t].tag, 0};
        rc = run_rows(s, q[t].head, q[t].tail, q[t].ncols, q[t].match, c, m, prefetch_row, &pc,
                      64, d);
        if (rc == 0 && pc.failed)
            rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    }
    free(c);
    return rc;
}

/* n more of an array's cap (*p and *cap), doubled as it grows. */
static int grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < n)
        c *= 2;
    void *q = cseg__reallocarray(*(void **)p, c, size);
    if (!q)
        return CSEG_ENOMEM;
    *(void **)p = q;
    *cap = c;
    return 0;
}

/* An applied event added to its customer's cached state and day, which are
 * listed to write: with apply_in's decisions, or with those an event kept
 * (the fold: the same additions in the same order, so the same bits). */
static int state_add(stream_cache *sc, ccust *e, int64_t day, double value, int is_ret,
                     int new_order, int new_product, cseg_diag *d)
{
    cstate *st = &e->st;
    /* The day's spend, kept exact: the cached row (as read back from the
     * store: its value and error term added to 0), plus the event. */
    cday *cd = cache_day(e, day);
    if (!cd)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    cseg__exact_sum ds = {0, 0};
    cseg__add_exact(&ds, cd->amount);
    cseg__add_exact(&ds, cd->amount_c);
    cseg__add_exact(&ds, value);
    cd->amount = ds.s;
    cd->amount_c = ds.c;
    /* The state, from its last value: O(1). */
    st->exists = 1;
    cseg__add_exact(&st->net, value);
    if (is_ret) {
        cseg__add_exact(&st->returned, -value);
    } else {
        cseg__add_exact(&st->gross, value);
        st->first_day = day < st->first_day ? day : st->first_day;
        st->last_day = day > st->last_day ? day : st->last_day;
        st->n_orders += new_order;
        st->n_products += new_product;
    }
    /* One event's amount is finite (clean); the customer's sums must stay so
     * (run refuses such a log as well). The batch is rolled back, its cache
     * with it. */
    if (!isfinite(st->net.s + st->net.c) || !isfinite(st->gross.s + st->gross.c) ||
        !isfinite(st->returned.s + st->returned.c) || !isfinite(ds.s + ds.c))
        return bad_field(d, "amount", "the customer's spend would go beyond the range of numbers");
    if (grow(&sc->odays, &sc->cap_odays, sc->n_odays + 1, sizeof *sc->odays) < 0 ||
        grow(&sc->owing, &sc->cap_owing, sc->n_owing + 1, sizeof *sc->owing) < 0)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    if (cd->stamp != sc->epoch) { /* the day's first event since the last write */
        cd->stamp = sc->epoch;
        sc->odays[sc->n_odays++] = (oday){e, day};
    }
    if (e->stamp != sc->epoch) {
        e->stamp = sc->epoch;
        sc->owing[sc->n_owing++] = e;
    }
    sc->owed_events++;
    return 0;
}

/* One event of the batch, decided in the caller's transaction: the
 * customer's cached state and days changed, what to write recorded in b. */
static int apply_in(cseg_store *s, const cseg_model *m, batch *b, size_t i,
                    const cseg_event *ev, const clean_event *ce, int64_t as_of_day,
                    cseg_stream_result *out, cseg_diag *d)
{
    memset(out, 0, sizeof *out);
    const cseg_rfm_params *rp = cseg_model_rfm(m);
    const int64_t day = ce->day;
    const double value = ce->value;
    /* With a given day to count to, an event on or after it is dropped, as
     * run drops a log's rows after its analysis day. */
    const int is_ret = ce->is_ret,
              drop = ce->drop || (as_of_day != CSEG_DAY_AUTO && day >= as_of_day);
    const char *fp = ce->fp, *id = ev->customer_id;
    int rc = 0;
    ccust *e = NULL;
    /* Its keys, each made once for the look-up here and the add below. */
    hkey *kk = &b->ek[0], *kf = &b->ek[1], *ki = &b->ek[2], *kp = &b->ek[3];
    if ((rc = cache_get(s, id, &e, d)) < 0)
        return rc;
    if ((ev->event_key && key_of(kk, 'k', ev->event_key, NULL, NULL) < 0) ||
        key_of(kf, 'f', ev->invoice, id, fp) < 0 ||
        (ev->invoice && key_of(ki, 'i', ev->invoice, id, NULL) < 0) ||
        (ev->product && key_of(kp, 'p', id, ev->product, NULL) < 0))
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    const stream_cache *sc = s->stream;
    b->cust[i] = e;
    int key = ev->event_key && kset_has(&b->seen, kk), dup = kset_has(&b->seen, kf),
        bought = ev->invoice && kset_has(&b->seen, ki),
        /* or bought in an earlier batch, owed to the table */
        had = ev->product &&
              (kset_has(&b->seen, kp) || kset_has(&sc->owed, kp) || kset_has(&sc->cyc, kp));
    const cstate *st = &e->st;
    int yes = key || (rp->drop_duplicates && dup);
    int64_t as_of = as_of_day;
    if (as_of == CSEG_DAY_AUTO) /* the day after its latest event, this one if the first */
        as_of = (latest_day(e) != INT64_MIN ? latest_day(e) : day) + 1;
    cseg__exact_sum window;
    if (yes || drop) { /* a repeat, a duplicate or a row cleaning drops: nothing changes */
        cache_window(e, m, as_of, &window);
        b->has[i] = (char)features_of(m, st, as_of, &window, out);
        out->known = st->exists;
        return 0;
    }
    /* A new order, a new product? (purchases only, as run counts them) */
    int new_order = !is_ret && !(ev->invoice && bought);
    int new_product = !is_ret && ev->product && !had;
    if ((rc = state_add(s->stream, e, day, value, is_ret, new_order, new_product, d)) < 0)
        return rc;
    b->dec[i] = (char)(new_order | new_product << 1);
    if (as_of_day == CSEG_DAY_AUTO) /* the day after its latest event, now with this one */
        as_of = latest_day(e) + 1;
    cache_window(e, m, as_of, &window);
    b->has[i] = (char)features_of(m, st, as_of, &window, out);
    out->applied = 1;
    out->known = 1;
    /* What the batch writes for it, and what later events of the batch see. */
    b->events[b->n_events++] = i;
    if ((ev->event_key && kset_add(&b->seen, kk) < 0) || kset_add(&b->seen, kf) < 0 ||
        (!is_ret && ev->invoice && kset_add(&b->seen, ki) < 0) ||
        (new_product && kset_add(&b->seen, kp) < 0))
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    if (new_product) {
        b->products[b->n_products][0] = id;
        b->products[b->n_products++][1] = ev->product;
    }
    /* its time as text, "YYYY-MM-DDThh:mm:ssZ" (printf's share of an event
     * was as large as the rest of deciding it) */
    int64_t sec = ev->time - day * 86400;
    char *t = b->times[i];
    t[0] = 0;
    cseg_format_date(day, t, sizeof b->times[i] - 10);
    t += strlen(t);
    const int64_t hms[3] = {sec / 3600, sec / 60 % 60, sec % 60};
    for (int u = 0; u < 3; u++) {
        *t++ = u ? ':' : 'T';
        t = cseg__put_digits(t, (unsigned long long)hms[u], 2);
    }
    memcpy(t, "Z", 2);
    return 0;
}

/* The segments of the batch's events, all assigned at once, then walked in
 * order: each event's previous segment is its customer's before it (the
 * last event's of the batch, or the store's), and an applied event moves
 * its customer. *failed: the event whose features the model refused. */
static int segments(const cseg_model *m, batch *b, const cseg_event *evs, size_t n,
                    cseg_stream_result *outs, size_t *failed, cseg_diag *d)
{
    writer_rows w;
    int32_t *label = malloc((n ? n : 1) * sizeof *label);
    double *dist = malloc((n ? n : 1) * sizeof *dist);
    int rc = label && dist ? writer_rows_make(&w, m, n) : CSEG_ENOMEM;
    if (rc < 0) {
        free(label);
        free(dist);
        return cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
    }
    int together = w.pl != NULL;
    if (together) { /* rows without features get NaN, imputed and not used */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < CSEG_STREAM_N_FEATURES; j++)
                w.col[j][i] = outs[i].features[j];
        cseg_diag ignored;
        together = cseg__model_assign_planned(m, w.t, w.pl, label, dist, &ignored) == 0;
    }
    /* One at a time: a model that reads a text column, or a refusal to name. */
    for (size_t i = 0; i < n && !together; i++) {
        if (!b->has[i])
            continue;
        if ((rc = segment_one(m, evs[i].customer_id, outs[i].features, &label[i], &dist[i], d)) <
            0) {
            *failed = i;
            if (rc == CSEG_ERANGE) /* money so large that no segment is at a finite distance */
                rc = cseg__diag(d, rc, "amount", 0, 0,
                                "the customer's spend is too large to place in a segment (the "
                                "distances are beyond the range of numbers)");
            break;
        }
        label[i]--; /* a segment: a label + 1 */
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        cseg_stream_result *out = &outs[i];
        ccust *e = b->cust[i];
        int seg = b->has[i] ? label[i] + 1 : 0;
        out->previous = e->st.segment;
        out->distance = b->has[i] ? dist[i] : NAN;
        if (out->applied) {
            out->segment = seg;
            e->st.segment = seg;
            out->changed = out->previous != 0 && seg != out->previous;
        } else {
            out->segment = out->known ? seg : 0;
        }
    }
    writer_rows_free(&w);
    free(label);
    free(dist);
    return rc;
}

/* The batch's writes (see "a batch's writes"). */
static int write_batch(cseg_store *s, batch *b, const cseg_event *evs, const clean_event *ce,
                       cseg_stream_result *outs, cseg_diag *d)
{
    stream_cache *sc = s->stream;
    size_t nr = b->n_events;
    store_cell *c = malloc((nr ? nr : 1) * 15 * sizeof *c);
    int64_t *ids = malloc((nr ? nr : 1) * sizeof *ids);
    int rc = c && ids ? 0 : cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    /* The events, in order, each with what it decided (a fold makes the
     * states again from them alone). With SQLite the rows of one statement
     * get consecutive ids, the last one's given by the back end; PostgreSQL
     * gives each row's with RETURNING, a row at a time (the order of a
     * statement's returned rows is not promised). */
    for (size_t r = 0; r < nr && rc == 0; r++) {
        size_t i = b->events[r];
        const cseg_event *ev = &evs[i];
        const clean_event *x = &ce[i];
        const store_cell row[] = {
            cell_text(b->now),       cell_text(ev->customer_id), cell_text(b->times[i]),
            cell_int(x->day),        cell_text(ev->invoice),     cell_text(ev->product),
            cell_num(ev->quantity),  cell_num(ev->price),        cell_num(x->value),
            cell_int(x->is_ret),     cell_text(ev->event_key),   cell_text(x->fp),
            cell_int(b->dec[i] & 1), cell_int(b->dec[i] >> 1),   cell_int(outs[i].segment)};
        memcpy(c + r * 15, row, sizeof row);
    }
    static const char ev_head[] = "INSERT INTO cseg_events (received_at, customer_id, event_time, "
                                  "event_day, invoice, product, quantity, price, amount, "
                                  "is_return, event_key, fingerprint, new_order, new_product, "
                                  "segment)";
    if (rc == 0 && s->ops->last_id) {
        for (size_t r0 = 0; r0 < nr && rc == 0;) {
            size_t k = statement_rows(nr - r0);
            rc = run_rows(s, ev_head, "", 15, NULL, c + r0 * 15, k, NULL, NULL, 64, d);
            if (rc == 0) {
                int64_t last = s->ops->last_id(s);
                for (size_t j = 0; j < k; j++)
                    ids[r0 + j] = last - (int64_t)(k - 1 - j);
            }
            r0 += k;
        }
    } else if (rc == 0) {
        ids_ctx ic = {ids, 0};
        rc = run_rows(s, ev_head, " RETURNING event_id", 15, NULL, c, nr, id_row, &ic, 1, d);
    }
    for (size_t r = 0; r < nr && rc == 0; r++)
        outs[b->events[r]].event_seq = ids[r];
    /* The states and days: with SQLite owed while few are (the mark set by
     * the first batch that owes them), else written with every one owed. */
    if (rc == 0 && s->ops->data_version && sc->n_owing < STATES_OWED_MAX &&
        sc->owed_events < STATES_OWED_EVENTS) {
        if (!sc->behind && sc->n_owing) { /* this batch's own: owed after the event before */
            rc = mark_set(s, states_key, ids[0] - 1, d);
            sc->behind = 1; /* (a failed batch drops the cache) */
        }
    } else if (rc == 0) {
        rc = states_write(s, d);
    }
    if (rc == 0)
        rc = products_batch(s, b, ids, d);
    /* The moves, in the order of their events. */
    for (size_t r = 0; r < nr && rc == 0; r++) {
        cseg_stream_result *out = &outs[b->events[r]];
        if (!out->changed)
            continue;
        const store_cell ch[] = {cell_text(evs[b->events[r]].customer_id),
                                 cell_int(out->previous), cell_int(out->segment),
                                 cell_int(out->event_seq), cell_text(b->now)};
        rc = cseg__store_run(s,
                             "INSERT INTO cseg_segment_changes (customer_id, from_segment, "
                             "to_segment, event_id, changed_at) VALUES ($1, $2, $3, $4, $5) "
                             "RETURNING change_id",
                             ch, 5, got_seq, &out->change_seq, d);
    }
    free(c);
    free(ids);
    return rc;
}

int cseg_stream_apply(cseg_store *s, const cseg_model *m, const cseg_event *ev, int64_t as_of_day,
                      cseg_stream_result *out, cseg_diag *d)
{
    size_t failed;
    return cseg_stream_apply_batch(s, m, ev, 1, as_of_day, out, &failed, d);
}

/* An event's fields as a log's cells would be read: the id as the reader
 * keeps it (trimmed, quotes and a ".0" tail dropped: "17850.0" is 17850, as
 * in run, replay and forget; only spaces: none), an empty invoice, product or
 * key as none. *own receives a copy of the id when it had to change (freed
 * by the caller), else NULL. */
static int as_read(const cseg_event *ev, cseg_event *out, char **own)
{
    *out = *ev;
    *own = NULL;
    if (out->invoice && !*out->invoice)
        out->invoice = NULL;
    if (out->product && !*out->product)
        out->product = NULL;
    if (out->event_key && !*out->event_key)
        out->event_key = NULL;
    if (!ev->customer_id)
        return 0;
    const char *p = ev->customer_id;
    size_t len = strlen(p);
    cseg__id_normalize(&p, &len);
    if (p == ev->customer_id && len == strlen(p))
        return 0;
    if (!(*own = malloc(len + 1)))
        return CSEG_ENOMEM;
    memcpy(*own, p, len);
    (*own)[len] = 0;
    out->customer_id = *own;
    return 0;
}

int cseg_stream_apply_batch(cseg_store *s, const cseg_model *m, const cseg_event *given,
                            size_t n, int64_t as_of_day, cseg_stream_result *outs, size_t *failed,
                            cseg_diag *d)
{
    *failed = n;
    clean_event *ce = malloc((n ? n : 1) * sizeof *ce);
    cseg_event *evs = malloc((n ? n : 1) * sizeof *evs);
    char **own = calloc(n ? n : 1, sizeof *own);
    int rc = ce && evs && own ? 0 : CSEG_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = as_read(&given[i], &evs[i], &own[i]);
    if (rc < 0) {
        for (size_t i = 0; own && i < n; i++)
            free(own[i]);
        free(own), free(evs), free(ce);
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        memset(&outs[i], 0, sizeof outs[i]);
        if ((rc = clean(m, &evs[i], &ce[i], d)) < 0)
            *failed = i;
    }
    if (rc == 0 && (rc = s->ops->exec(s, s->ops->begin, NULL, NULL, 0, d)) == 0 &&
        ((rc = cache_check(s, d)) < 0 || (rc = products_settle(s, d)) < 0 ||
         (rc = states_fold(s, d)) < 0)) {
        roll_back(s);
        cseg__stream_cache_drop(s);
    }
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            free(own[i]);
        free(own), free(evs), free(ce);
        return rc;
    }
    batch b;
    if ((rc = batch_make(&b, n)) < 0) {
        rc = cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
        *failed = 0;
    }
    if (rc == 0 && (rc = prefetch(s, &b, evs, ce, n, d)) < 0)
        *failed = n;
    for (size_t i = 0; i < n && rc == 0; i++)
        if ((rc = apply_in(s, m, &b, i, &evs[i], &ce[i], as_of_day, &outs[i], d)) < 0)
            *failed = i;
    if (rc == 0)
        rc = segments(m, &b, evs, n, outs, failed, d);
    if (rc == 0 && (rc = write_batch(s, &b, evs, ce, outs, d)) < 0)
        *failed = n;
    if (rc == 0 && (rc = s->ops->exec(s, "COMMIT", NULL, NULL, 0, d)) < 0)
        *failed = n;
    if (rc == 0)
        owe(s->stream, &b, b.n_events ? outs[b.events[b.n_events - 1]].event_seq : 0);
    batch_free(&b);
    if (rc < 0) {
        roll_back(s);
        cseg__stream_cache_drop(s); /* it has what was rolled back */
        for (size_t i = 0; i < n; i++) /* nothing of the batch is kept */
            memset(&outs[i], 0, sizeof outs[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(own[i]);
    free(own), free(evs), free(ce);
    return rc;
}

/* cseg_stream_customer's read, in peek_begin's view: from the cache when
 * the customer's owed events were folded there (folded), else from the
 * tables (a writer's cache may be older than other connections' commits). */
static int customer_read(cseg_store *s, const cseg_model *m, const char *customer_id,
                         int64_t as_of_day, int folded, cseg_stream_result *out, cseg_diag *d)
{
    const stream_cache *sc = s->stream;
    const cslot *at = folded && sc->cap
                          ? cache_slot((stream_cache *)sc, customer_id,
                                       cseg__hash(customer_id, strlen(customer_id), 0))
                          : NULL;
    const ccust *e = at ? at->e : NULL;
    cstate st;
    int rc = e ? (st = e->st, 0) : load_state(s, customer_id, &st, d);
    if (rc < 0 || !st.exists)
        return rc;
    out->known = 1;
    out->previous = st.segment;
    /* Without --as-of: the day after the customer's latest event (a purchase
     * or a return), as its last event's reply counted it. */
    int64_t as_of = as_of_day, latest = INT64_MIN;
    if (as_of == CSEG_DAY_AUTO && e) {
        as_of = latest_day(e) + 1;
    } else if (as_of == CSEG_DAY_AUTO) {
        const store_cell key[] = {cell_text(customer_id)};
        rc = cseg__store_run(s, "SELECT max(day) FROM cseg_customer_days WHERE customer_id = $1",
                             key, 1, got_day, &latest, d);
        if (rc < 0)
            return rc;
        as_of = (st.last_day > latest ? st.last_day : latest) + 1; /* as latest_day */
    }
    cseg__exact_sum window = {0, 0};
    if (st.n_orders > 0 && e)
        cache_window(e, m, as_of, &window); /* the same additions as window_sql's */
    else if (st.n_orders > 0 && (rc = window_sql(s, m, customer_id, as_of, &window, d)) < 0)
        return rc;
    return features_and_segment(m, customer_id, &st, as_of, &window, out, d);
}

int cseg_stream_customer(cseg_store *s, const cseg_model *m, const char *customer_id,
                         int64_t as_of_day, cseg_stream_result *out, cseg_diag *d)
{
    memset(out, 0, sizeof *out);
    if (cseg_model_source(m) != CSEG_SOURCE_TRANSACTIONS)
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                          "events need a model made by run (from a transaction log)");
    /* The id as events and the reader keep it ("17850.0" is 17850). */
    cseg_event q = {customer_id, 0, NULL, NULL, NAN, NAN, NAN, NULL, NULL}, qn;
    char *own = NULL;
    if (as_read(&q, &qn, &own) < 0)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    int folded;
    int rc = peek_begin(s, qn.customer_id, &folded, d);
    if (rc == 0) { /* (a failed read ends its transaction too) */
        rc = customer_read(s, m, qn.customer_id, as_of_day, folded, out, d);
        peek_end(s, folded);
    }
    free(own);
    return rc;
}

typedef struct changes_ctx {
    cseg_stream_change_fn fn;
    void *ctx;
} changes_ctx;

static int change_row(void *ctx, size_t nc, const char *const *v)
{
    changes_ctx *c = ctx;
    if (nc < 6)
        return 1;
    cseg_stream_change ch = {num_i(v[0], 0),      v[1] ? v[1] : "", (int)num_i(v[2], 0),
                             (int)num_i(v[3], 0), num_i(v[4], 0),   v[5] ? v[5] : ""};
    return c->fn(c->ctx, &ch);
}

int cseg_stream_changes(cseg_store *s, const char *customer_id, int64_t since, size_t limit,
                        cseg_stream_change_fn fn, void *ctx, cseg_diag *d)
{
    char sb[24], lb[24];
    snprintf(sb, sizeof sb, "%" PRId64, since);
    /* 0: all; as a number the SQL LIMIT takes on both back ends. */
    snprintf(lb, sizeof lb, "%" PRId64, limit ? (int64_t)(limit > INT64_MAX ? INT64_MAX : limit)
                                              : INT64_MAX);
    changes_ctx c = {fn, ctx};
    if (customer_id) {
        const char *p[] = {customer_id, sb, lb};
        return s->ops->query(s,
                             "SELECT change_id, customer_id, from_segment, to_segment, event_id, "
                             "changed_at FROM cseg_segment_changes WHERE customer_id = $1 AND "
                             "change_id > $2 ORDER BY change_id LIMIT $3",
                             "tii", p, 3, change_row, &c, d);
    }
    const char *p[] = {sb, lb};
    return s->ops->query(s,
                         "SELECT change_id, customer_id, from_segment, to_segment, event_id, "
                         "changed_at FROM cseg_segment_changes WHERE change_id > $1 "
                         "ORDER BY change_id LIMIT $2",
                         "ii", p, 2, change_row, &c, d);
}

typedef struct sizes_ctx {
    size_t k, *sizes;
} sizes_ctx;

static int size_row(void *ctx, size_t nc, const char *const *v)
{
    sizes_ctx *c = ctx;
    if (nc < 2)
        return 1;
    int64_t seg = num_i(v[0], 0);
    if (seg >= 0 && (uint64_t)seg <= c->k)
        c->sizes[seg] += (size_t)num_i(v[1], 0);
    return 0;
}

int cseg_stream_segment_sizes(cseg_store *s, size_t k, size_t *sizes, cseg_diag *d)
{
    for (size_t j = 0; j <= k; j++)
        sizes[j] = 0;
    sizes_ctx c = {k, sizes};
    int folded;
    int rc = peek_begin(s, NULL, &folded, d);
    if (rc < 0)
        return rc;
    rc = s->ops->query(s,
                       "SELECT coalesce(segment, 0), count(*) FROM cseg_customer_state "
                       "GROUP BY coalesce(segment, 0)",
                       NULL, NULL, 0, size_row, &c, d);
    /* the customers whose events were folded: from their row's segment
     * to the one their last event decided */
    const stream_cache *sc = s->stream;
    for (size_t i = 0; rc == 0 && folded && i < sc->n_owing; i++) {
        const ccust *e = sc->owing[i];
        if (e->row0 && e->seg0 >= 0 && (size_t)e->seg0 <= k && sizes[e->seg0] > 0)
            sizes[e->seg0]--;
        if (e->st.segment >= 0 && (size_t)e->st.segment <= k)
            sizes[e->st.segment]++;
    }
    peek_end(s, folded); /* (a failed read ends its transaction too) */
    return rc;
}

/* A customer whose state has no daily sums was set by a run: an applied
 * event always writes its day (apply_in), a returned one too. */
#define SUMMARY_ONLY                                                                               \
    "NOT EXISTS (SELECT 1 FROM cseg_customer_days cd WHERE cd.customer_id = "                      \
    "cseg_customer_state.customer_id)"

static int count_row(void *ctx, size_t nc, const store_cell *v)
{
    (void)nc;
    (void)v;
    ++*(size_t *)ctx;
    return 0;
}

int cseg_stream_summary_only(cseg_store *s, int *any, cseg_diag *d)
{
    size_t n = 0;
    int rc = states_settle(s, d);
    if (rc == 0)
        rc = cseg__store_run(s, "SELECT 1 FROM cseg_customer_state WHERE " SUMMARY_ONLY " LIMIT 1",
                             NULL, 0, count_row, &n, d);
    *any = rc == 0 && n > 0;
    return rc;
}

static int first_text(void *ctx, size_t nc, const store_cell *v)
{
    char **out = ctx;
    if (nc > 0 && v[0].kind == 't' && !*out)
        *out = cseg__strdup(v[0].s);
    return 1;
}

int cseg_stream_summary_mixed(cseg_store *s, char **id, cseg_diag *d)
{
    *id = NULL;
    int rc = states_settle(s, d);
    if (rc < 0)
        return rc;
    /* An order is a purchase event's new invoice, or a purchase event without
     * one (apply_in): a state built by its events has exactly as many. */
    return cseg__store_run(
        s,
        "SELECT st.customer_id FROM cseg_customer_state AS st JOIN (SELECT customer_id, "
        "count(DISTINCT invoice) + sum(CASE WHEN invoice IS NULL THEN 1 ELSE 0 END) AS o "
        "FROM cseg_events WHERE counted = 1 AND is_return = 0 GROUP BY customer_id) AS ev "
        "ON ev.customer_id = st.customer_id WHERE st.n_orders > ev.o ORDER BY st.customer_id "
        "LIMIT 1",
        NULL, 0, first_text, id, d);
}

int cseg_stream_clear_summaries(cseg_store *s, const char *const *ids, size_t n, size_t *cleared,
                                cseg_diag *d)
{
    size_t c = 0;
    int rc = s->ops->exec(s, s->ops->begin, NULL, NULL, 0, d);
    if (rc < 0)
        return rc;
    rc = cseg__stream_settle_in(s, d);
    cseg__stream_cache_drop(s); /* states change under it */
    for (size_t i = 0; i < n && rc == 0; i++) {
        const store_cell p[] = {cell_text(ids[i])};
        rc = cseg__store_run(
            s,
            "DELETE FROM cseg_customer_state WHERE customer_id = $1 AND " SUMMARY_ONLY
            " RETURNING customer_id",
            p, 1, count_row, &c, d);
    }
    if (rc == 0)
        rc = s->ops->exec(s, "COMMIT", NULL, NULL, 0, d);
    if (rc < 0) {
        roll_back(s);
        c = 0;
    }
    if (cleared)
        *cleared = c;
    return rc;
}

int cseg_stream_last_change(cseg_store *s, int64_t *seq, cseg_diag *d)
{
    *seq = 0;
    return cseg__store_run(s, "SELECT coalesce(max(change_id), 0) FROM cseg_segment_changes", NULL,
                           0, got_seq, seq, d);
}

/* A cursor is a row of cseg_meta: "cursor:" and its name. */
static int cursor_key(char **key, const char *name, cseg_diag *d)
{
    size_t n = strlen(name);
    if (n == 0 || cseg__utf8_invalid_at(name, n) < n)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "a cursor's name must be non-empty UTF-8");
    if (!(*key = malloc(n + 8)))
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    memcpy(*key, "cursor:", 7);
    memcpy(*key + 7, name, n + 1);
    return 0;
}

int cseg_stream_cursor_get(cseg_store *s, const char *name, int64_t *seq, int *found,
                           cseg_diag *d)
{
    *seq = 0;
    *found = 0;
    char *key, *v = NULL;
    int rc = cursor_key(&key, name, d);
    if (rc < 0)
        return rc;
    const char *p[] = {key};
    rc = s->ops->query(s, "SELECT value FROM cseg_meta WHERE key = $1", "t", p, 1,
                       cseg__store_first_value, &v, d);
    if (rc == 0 && v) {
        *seq = strtoll(v, NULL, 10);
        *found = 1;
    }
    free(v);
    free(key);
    return rc;
}

int cseg_stream_cursor_set(cseg_store *s, const char *name, int64_t seq, cseg_diag *d)
{
    char *key, sb[24];
    int rc = cursor_key(&key, name, d);
    if (rc < 0)
        return rc;
    snprintf(sb, sizeof sb, "%" PRId64, seq);
    const char *p[] = {key, sb};
    rc = s->ops->exec(s,
                      "INSERT INTO cseg_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) "
                      "DO UPDATE SET value = excluded.value",
                      "tt", p, 2, d);
    free(key);
    return rc;
}

int cseg_stream_cursor_drop(cseg_store *s, const char *name, cseg_diag *d)
{
    char *key;
    int rc = cursor_key(&key, name, d);
    if (rc < 0)
        return rc;
    const char *p[] = {key};
    rc = s->ops->exec(s, "DELETE FROM cseg_meta WHERE key = $1", "t", p, 1, d);
    free(key);
    return rc;
}

int cseg_stream_probabilities(const cseg_model *m, const cseg_stream_result *r, double *proba,
                              cseg_diag *d)
{
    if (cseg_model_algo(m) != CSEG_ALGO_GMM)
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "only a mixture model has probabilities");
    if (cseg_model_source(m) != CSEG_SOURCE_TRANSACTIONS || r->segment == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "the customer has no segment");
    size_t dim = cseg_model_dim(m);
    double *z = malloc((dim ? dim : 1) * sizeof *z);
    cseg_table *t = NULL;
    int rc = z ? rows_table(m, 1, "", r->features, &t) : CSEG_ENOMEM;
    if (rc < 0)
        rc = cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
    else if ((rc = cseg_model_transform(m, t, z, d)) == 0) {
        int32_t label;
        double dist;
        if ((rc = cseg_model_predict(m, z, 1, &label, &dist, proba)) < 0)
            rc = cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
    }
    cseg_table_free(t);
    free(z);
    return rc;
}
