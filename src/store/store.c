/* custseg — the segment store: schema, runs, memberships, forgetting
 * (store.h; docs/store.md). The SQL here is written once for both back ends
 * (internal.h says how). */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "custseg/features.h"
#include "custseg/model.h"
#include "../core/internal.h"
#include "../csv/internal.h"
#include "../table/internal.h"

/* ---- schema ----
 * Version 1. A migration to version v + 1 is appended to migrations[] and
 * never changed afterwards; docs/store.md shows the same SQL. */
static const char schema_v1[] =
    "CREATE TABLE cseg_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE cseg_runs (\n"
    "    run_id @ID@,\n"
    "    created_at TEXT NOT NULL,\n"
    "    custseg_version TEXT NOT NULL,\n"
    "    command TEXT NOT NULL,\n"
    "    input_name TEXT NOT NULL,\n"
    "    input_sha256 TEXT,\n"
    "    input_kind TEXT NOT NULL,\n"
    "    algorithm TEXT NOT NULL,\n"
    "    k INTEGER NOT NULL,\n"
    "    n_customers INTEGER NOT NULL,\n"
    "    inertia DOUBLE PRECISION,\n"
    "    silhouette DOUBLE PRECISION,\n"
    "    davies_bouldin DOUBLE PRECISION,\n"
    "    calinski_harabasz DOUBLE PRECISION,\n"
    "    params TEXT NOT NULL,\n"
    "    segments_json TEXT NOT NULL,\n"
    "    model_json TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE cseg_segments (\n"
    "    run_id BIGINT NOT NULL REFERENCES cseg_runs (run_id) ON DELETE CASCADE,\n"
    "    segment INTEGER NOT NULL,\n"
    "    name TEXT NOT NULL,\n"
    "    action TEXT,\n"
    "    size INTEGER NOT NULL,\n"
    "    share DOUBLE PRECISION,\n"
    "    revenue_share DOUBLE PRECISION,\n"
    "    profile TEXT NOT NULL,\n"
    "    PRIMARY KEY (run_id, segment)\n"
    ");\n"
    "CREATE TABLE cseg_memberships (\n"
    "    run_id BIGINT NOT NULL,\n"
    "    customer_id TEXT NOT NULL,\n"
    "    position INTEGER NOT NULL,\n"
    "    segment INTEGER NOT NULL,\n"
    "    distance DOUBLE PRECISION,\n"
    "    probabilities TEXT,\n"
    "    features TEXT NOT NULL,\n"
    "    PRIMARY KEY (run_id, position)\n"
    ");\n"
    "CREATE INDEX cseg_memberships_customer ON cseg_memberships (customer_id);\n"
    "CREATE TABLE cseg_customer_state (\n"
    "    customer_id TEXT PRIMARY KEY,\n"
    "    first_purchase TEXT,\n"
    "    last_purchase TEXT,\n"
    "    n_orders INTEGER NOT NULL,\n"
    "    net_spend DOUBLE PRECISION NOT NULL,\n"
    "    gross_spend DOUBLE PRECISION NOT NULL,\n"
    "    run_id BIGINT,\n"
    "    segment INTEGER,\n"
    "    updated_at TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE cseg_events (\n"
    "    event_id @ID@,\n"
    "    received_at TEXT NOT NULL,\n"
    "    customer_id TEXT NOT NULL,\n"
    "    event_time TEXT NOT NULL,\n"
    "    invoice TEXT,\n"
    "    product TEXT,\n"
    "    quantity DOUBLE PRECISION,\n"
    "    price DOUBLE PRECISION,\n"
    "    amount DOUBLE PRECISION NOT NULL,\n"
    "    is_return INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX cseg_events_customer ON cseg_events (customer_id, invoice);\n"
    "CREATE TABLE cseg_segment_changes (\n"
    "    change_id @ID@,\n"
    "    customer_id TEXT NOT NULL,\n"
    "    run_id BIGINT,\n"
    "    from_segment INTEGER,\n"
    "    to_segment INTEGER NOT NULL,\n"
    "    event_id BIGINT,\n"
    "    changed_at TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX cseg_segment_changes_customer ON cseg_segment_changes (customer_id);\n"
    "INSERT INTO cseg_meta (key, value) VALUES ('schema_version', '1');\n";

/* Version 2: what streamed events need (stream.c): the exact sums' error
 * terms, days as numbers, distinct products, and on events the day, the
 * idempotency key and the duplicate fingerprint, with their indexes. */
static const char schema_v2[] =
    "ALTER TABLE cseg_customer_state ADD COLUMN first_day INTEGER;\n"
    "ALTER TABLE cseg_customer_state ADD COLUMN last_day INTEGER;\n"
    "ALTER TABLE cseg_customer_state ADD COLUMN n_products INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE cseg_customer_state ADD COLUMN net_c DOUBLE PRECISION NOT NULL DEFAULT 0;\n"
    "ALTER TABLE cseg_customer_state ADD COLUMN gross_c DOUBLE PRECISION NOT NULL DEFAULT 0;\n"
    "ALTER TABLE cseg_customer_state ADD COLUMN returned_value DOUBLE PRECISION NOT NULL "
    "DEFAULT 0;\n"
    "ALTER TABLE cseg_customer_state ADD COLUMN returned_c DOUBLE PRECISION NOT NULL DEFAULT 0;\n"
    "ALTER TABLE cseg_events ADD COLUMN event_day INTEGER;\n"
    "ALTER TABLE cseg_events ADD COLUMN event_key TEXT;\n"
    "ALTER TABLE cseg_events ADD COLUMN fingerprint TEXT;\n"
    "ALTER TABLE cseg_events ADD COLUMN counted INTEGER NOT NULL DEFAULT 1;\n"
    "CREATE UNIQUE INDEX cseg_events_key ON cseg_events (event_key);\n"
    "CREATE INDEX cseg_events_product ON cseg_events (customer_id, product);\n"
    "CREATE INDEX cseg_events_fingerprint ON cseg_events (customer_id, fingerprint);\n"
    "CREATE INDEX cseg_events_day ON cseg_events (customer_id, event_day);\n";

/* Version 3: each customer's spend per day (the exact sum of that day's
 * counted events, value and error term), so the spend window of a streamed
 * event reads at most W rows instead of every event in the window; the index
 * that served that scan goes. Days of a store migrated from version 2 are
 * summed by SQL (not compensated); later events are added exactly. */
static const char schema_v3[] =
    "CREATE TABLE cseg_customer_days (\n"
    "    customer_id TEXT NOT NULL,\n"
    "    day INTEGER NOT NULL,\n"
    "    amount DOUBLE PRECISION NOT NULL,\n"
    "    amount_c DOUBLE PRECISION NOT NULL DEFAULT 0,\n"
    "    PRIMARY KEY (customer_id, day)\n"
    ");\n"
    "INSERT INTO cseg_customer_days (customer_id, day, amount, amount_c) "
    "SELECT customer_id, event_day, sum(amount), 0 FROM cseg_events "
    "WHERE counted = 1 AND event_day IS NOT NULL GROUP BY customer_id, event_day;\n"
    "DROP INDEX cseg_events_day;\n";

/* Version 4: what a streamed event looks up is keyed by its invoice, not by
 * its customer. Invoice numbers grow with time, so an event's index entry
 * lands at the end of the index, where the last ones went, instead of on a
 * page of its own: indexes keyed by customer took a page write per event
 * each (docs/store.md). The invoice index answers "was this invoice bought
 * before?" and "is this an exact duplicate?" (a duplicate has the same
 * invoice); the distinct products of each customer get a table of their own,
 * written only when a product is new for the customer. */
static const char schema_v4[] =
    "CREATE TABLE cseg_customer_products (\n"
    "    customer_id TEXT NOT NULL,\n"
    "    product TEXT NOT NULL,\n"
    "    PRIMARY KEY (customer_id, product)\n"
    ");\n"
    "INSERT INTO cseg_customer_products (customer_id, product) "
    "SELECT DISTINCT customer_id, product FROM cseg_events "
    "WHERE product IS NOT NULL AND is_return = 0 AND counted = 1;\n"
    "CREATE INDEX cseg_events_invoice ON cseg_events (invoice, customer_id, fingerprint);\n"
    "DROP INDEX cseg_events_customer;\n"
    "DROP INDEX cseg_events_product;\n"
    "DROP INDEX cseg_events_fingerprint;\n";

/* Version 5: no table changes; cseg_meta may hold 'products_after', the
 * event after which purchases may owe their pairs to cseg_customer_products
 * (stream.c, "products written behind"). A custseg that does not know the
 * row would decide products from an incomplete table: it refuses the
 * version. */
static const char schema_v5[] = "DELETE FROM cseg_meta WHERE key = 'products_after';\n";

/* Version 6: each streamed event records what it decided (a new order, a
 * new product, the customer's segment after it), so that the customers'
 * states and daily sums can be written behind their events and made again
 * from them alone (stream.c, "states written behind"); cseg_meta may hold
 * 'states_after'. Events of older versions have NULL there (never read: a
 * mark is only ever set after the migration). */
static const char schema_v6[] = "ALTER TABLE cseg_events ADD COLUMN new_order INTEGER;\n"
                                "ALTER TABLE cseg_events ADD COLUMN new_product INTEGER;\n"
                                "ALTER TABLE cseg_events ADD COLUMN segment INTEGER;\n";

/* migrations[v - 1] takes a store to version v. */
static const char *const migrations[] = {schema_v1, schema_v2, schema_v3,
                                         schema_v4, schema_v5, schema_v6};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])
_Static_assert(N_MIGRATIONS == CSEG_STORE_SCHEMA_VERSION, "one migration per schema version");

/* The SQL with "@ID@" replaced by the back end's auto-increment key. */
static char *with_ids(const cseg_store *s, const char *sql)
{
    size_t n = 0, idl = strlen(s->ops->id_type);
    for (const char *p = strstr(sql, "@ID@"); p; p = strstr(p + 4, "@ID@"))
        n++;
    char *out = malloc(strlen(sql) + n * idl + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = sql;;) {
        const char *q = strstr(p, "@ID@");
        size_t len = q ? (size_t)(q - p) : strlen(p);
        memcpy(o, p, len);
        o += len;
        if (!q)
            break;
        memcpy(o, s->ops->id_type, idl);
        o += idl;
        p = q + 4;
    }
    *o = 0;
    return out;
}

int cseg__store_first_value(void *ctx, size_t nc, const char *const *vals)
{
    char **out = ctx;
    if (nc > 0 && vals[0] && !*out)
        *out = cseg__strdup(vals[0]);
    return 1;
}

double cseg__cell_d(const store_cell *c)
{
    return c->kind == 'd' ? c->d
           : c->kind == 'i' ? (double)c->i
           : c->kind == 't' ? strtod(c->s, NULL)
                            : NAN;
}

int64_t cseg__cell_i(const store_cell *c, int64_t dflt)
{
    return c->kind == 'i' ? c->i
           : c->kind == 'd' ? (int64_t)c->d
           : c->kind == 't' ? strtoll(c->s, NULL, 10)
                            : dflt;
}

typedef struct text_rows {
    store_cell_fn fn;
    void *ctx;
} text_rows;

static int text_row(void *ctx, size_t nc, const char *const *vals)
{
    text_rows *tr = ctx;
    store_cell small[16] = {{0}}, *c = nc <= 16 ? small : malloc(nc * sizeof *c);
    if (!c)
        return 1;
    for (size_t j = 0; j < nc; j++)
        c[j] = cell_text(vals[j]);
    int stop = tr->fn(tr->ctx, nc, c);
    if (c != small)
        free(c);
    return stop;
}

int cseg__store_run(cseg_store *s, const char *sql, const store_cell *params, size_t np,
                    store_cell_fn fn, void *ctx, cseg_diag *d)
{
    if (s->ops->run)
        return s->ops->run(s, sql, params, np, fn, ctx, d);
    /* Each parameter as text; a batch's statements take hundreds (up to 64
     * rows of 15 cells), more than the stack's few. */
    enum { SMALLP = 32 };
    char small_num[SMALLP][40], small_types[SMALLP + 1];
    const char *small_txt[SMALLP] = {0};
    char(*num)[40] = small_num, *types = small_types;
    const char **txt = small_txt;
    if (np > 65535)
        return cseg__diag(d, CSEG_EINVAL, s->uri, 0, 0, "too many parameters");
    if (np > SMALLP) {
        num = malloc(np * sizeof *num);
        types = malloc(np + 1);
        txt = malloc(np * sizeof *txt);
        if (!num || !types || !txt) {
            free(num);
            free(types);
            free(txt);
            return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
        }
    }
    for (size_t i = 0; i < np; i++) {
        const store_cell *c = &params[i];
        types[i] = c->kind == 'd' || c->kind == 'i' ? c->kind : 't';
        txt[i] = c->kind == 't' ? c->s : NULL;
        if (c->kind == 'd' && isfinite(c->d)) {
            cseg__format_double(num[i], sizeof num[i], c->d);
            txt[i] = num[i];
        } else if (c->kind == 'i') {
            snprintf(num[i], sizeof num[i], "%" PRId64, c->i);
            txt[i] = num[i];
        }
    }
    types[np] = 0;
    text_rows tr = {fn, ctx};
    int rc = s->ops->query(s, sql, types, txt, np, fn ? text_row : NULL, &tr, d);
    if (np > SMALLP) {
        free(num);
        free(types);
        free(txt);
    }
    return rc;
}

/* The first column of the first row (malloc'd; NULL when there is none). */
static int query_one(cseg_store *s, const char *sql, const char *const *params, size_t np,
                     char **out, cseg_diag *d)
{
    *out = NULL;
    return s->ops->query(s, sql, NULL, params, np, cseg__store_first_value, out, d);
}

static int table_exists(cseg_store *s, const char *name, int *yes, cseg_diag *d)
{
    char *v = NULL;
    int rc = query_one(s, s->ops->table_exists, &name, 1, &v, d);
    *yes = rc == 0 && v && strtol(v, NULL, 10) > 0;
    free(v);
    return rc;
}

static int rollback(cseg_store *s)
{
    cseg_diag ignored;
    if (s->bulk)
        s->ops->bulk_end(s, 0, &ignored);
    return s->ops->exec(s, "ROLLBACK", NULL, NULL, 0, &ignored);
}

/* Whether the store's schema is this version's, read without a lock: a
 * store in use needs no migration, and taking the writers' lock to find that
 * out made every reader wait for a writer (30 s, then "database is locked",
 * behind a long replay). Any doubt: no (prepare_schema looks, locked). */
static int schema_current(cseg_store *s)
{
    int has_meta = 0;
    char *ver = NULL, *end = NULL;
    cseg_diag ignored;
    const char *name = "schema_version";
    if (table_exists(s, "cseg_meta", &has_meta, &ignored) < 0 || !has_meta ||
        query_one(s, "SELECT value FROM cseg_meta WHERE key = $1", &name, 1, &ver, &ignored) < 0)
        return 0;
    int yes = ver && strtol(ver, &end, 10) == (long)N_MIGRATIONS && *end == 0;
    free(ver);
    return yes;
}

/* Create the schema, or bring an older one to this version, in one write
 * transaction (so two custsegs opening a new store do not both create it). */
static int prepare_schema(cseg_store *s, cseg_diag *d)
{
    int rc, has_meta, has_runs;
    char *ver = NULL;
    if (schema_current(s))
        return 0;
    if (s->readonly)
        return cseg__diag(d, CSEG_EIO, s->uri, 0, 0,
                          "the store is read-only here and its schema is not this custseg's "
                          "(version %d): open it once with write access to bring it up to date",
                          CSEG_STORE_SCHEMA_VERSION);
    if ((rc = s->ops->exec(s, s->ops->begin, NULL, NULL, 0, d)) < 0)
        return rc;
    const char *key = "cseg_schema";
    if ((rc = cseg__store_lock_customers(s, &key, 1, d)) < 0)
        goto fail;
    if ((rc = table_exists(s, "cseg_meta", &has_meta, d)) < 0 ||
        (rc = table_exists(s, "cseg_runs", &has_runs, d)) < 0)
        goto fail;
    long v = 0;
    if (has_meta) {
        const char *name = "schema_version";
        if ((rc = query_one(s, "SELECT value FROM cseg_meta WHERE key = $1", &name, 1, &ver, d)) <
            0)
            goto fail;
        char *end = NULL;
        v = ver ? strtol(ver, &end, 10) : 0;
        if (!ver || *end || v < 1) {
            rc = cseg__diag(d, CSEG_EFORMAT, s->uri, 0, 0,
                            "not a custseg store: cseg_meta has no schema_version");
            goto fail;
        }
        if (v > (long)N_MIGRATIONS) {
            rc = cseg__diag(d, CSEG_EFORMAT, s->uri, 0, 0,
                            "the store has schema version %ld, newer than this custseg %s "
                            "reads (up to %d); use a newer custseg",
                            v, cseg_version(), CSEG_STORE_SCHEMA_VERSION);
            goto fail;
        }
    } else if (has_runs) {
        rc = cseg__diag(d, CSEG_EFORMAT, s->uri, 0, 0,
                        "not a custseg store: it has a table cseg_runs but no cseg_meta");
        goto fail;
    } else if (s->existing) {
        /* (SQLite said so when it opened: here PostgreSQL) An empty schema
         * is no store, one with other tables not a custseg store. */
        char *nt = NULL;
        if (strcmp(s->ops->name, "postgresql") == 0 &&
            (rc = query_one(s,
                            "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                            "current_schema()",
                            NULL, 0, &nt, d)) < 0)
            goto fail;
        int empty = nt && strtol(nt, NULL, 10) == 0;
        free(nt);
        rc = empty ? cseg__diag(d, CSEG_EIO, s->uri, 0, 0, "no store there (an empty database)")
                   : cseg__diag(d, CSEG_EFORMAT, s->uri, 0, 0,
                                "not a custseg store: it has no cseg_meta");
        goto fail;
    }
    for (size_t m = (size_t)v; m < N_MIGRATIONS; m++) {
        char *sql = with_ids(s, migrations[m]);
        if (!sql) {
            rc = cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
            goto fail;
        }
        rc = s->ops->exec(s, sql, NULL, NULL, 0, d);
        free(sql);
        if (rc < 0)
            goto fail;
    }
    if ((size_t)v < N_MIGRATIONS) {
        char nv[24];
        const char *p[1] = {nv};
        snprintf(nv, sizeof nv, "%d", CSEG_STORE_SCHEMA_VERSION);
        if ((rc = s->ops->exec(s, "UPDATE cseg_meta SET value = $1 WHERE key = 'schema_version'",
                               NULL, p, 1, d)) < 0)
            goto fail;
    }
    free(ver);
    if ((rc = s->ops->exec(s, "COMMIT", NULL, NULL, 0, d)) < 0)
        rollback(s);
    return rc;
fail:
    free(ver);
    rollback(s);
    return rc;
}

static int is_pg_uri(const char *uri)
{
    return strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0;
}

void cseg_db_uri_redact(const char *uri, char *out, size_t size)
{
    if (size == 0)
        return;
    snprintf(out, size, "%s", uri);
    /* Any scheme://user:password@host (a database's, a webhook's): the
     * password, up to the last '@' before the path (a password may hold
     * one), goes. */
    char *start = strstr(out, "://");
    if (!start)
        return;
    start += 3;
    size_t host = strcspn(start, "/?#");
    char *at = NULL;
    for (size_t i = 0; i < host; i++)
        if (start[i] == '@')
            at = start + i;
    char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (colon)
        memmove(colon, at, strlen(at) + 1);
    if (!is_pg_uri(out))
        return;
    /* ...?password=secret&sslpassword=key&...: every such value goes too
     * (libpq reads the last password= of several). */
    char *q = strchr(out, '?');
    for (char *k = q; k && *k;) {
        k++; /* a parameter's name, after ? or & */
        char *end = strchr(k, '&');
        size_t klen = (size_t)((end ? end : k + strlen(k)) - k);
        char *eq = memchr(k, '=', klen);
        if (eq && ((eq - k == 8 && memcmp(k, "password", 8) == 0) ||
                   (eq - k == 11 && memcmp(k, "sslpassword", 11) == 0))) {
            char *v = eq + 1, *rest = end ? end : v + strlen(v);
            memmove(v, rest, strlen(rest) + 1);
            end = strchr(v, '&');
        }
        k = end;
    }
}

static int store_open(cseg_store **out, const char *uri, int existing, cseg_diag *d);

/* The URI for messages: a password is left out. */
static char *uri_for_messages(const char *uri)
{
    size_t size = strlen(uri) + 1;
    char *u = malloc(size);
    if (u)
        cseg_db_uri_redact(uri, u, size);
    return u;
}

int cseg_store_open(cseg_store **out, const char *uri, cseg_diag *d)
{
    return store_open(out, uri, 0, d);
}

int cseg_store_open_existing(cseg_store **out, const char *uri, cseg_diag *d)
{
    return store_open(out, uri, 1, d);
}

static int store_open(cseg_store **out, const char *uri, int existing, cseg_diag *d)
{
    *out = NULL;
    if (!uri || !*uri)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "the store needs a path or a URI");
    cseg_store *s = calloc(1, sizeof *s);
    if (!s || !(s->uri = uri_for_messages(uri))) {
        free(s);
        return cseg__diag(d, CSEG_ENOMEM, uri, 0, 0, "out of memory");
    }
    s->existing = existing;
    int rc;
    if (is_pg_uri(uri)) {
        rc = cseg__store_open_pg(s, uri, d);
    } else {
        const char *path = strncmp(uri, "sqlite:", 7) == 0 ? uri + 7 : uri;
        /* SQLite makes "" a temporary and ":memory:" an in-memory database,
         * gone at the close: a run stored there would be lost. */
        if (!*path || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) {
            rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                            "the store needs a file (SQLite keeps \"%s\" in memory or in a "
                            "temporary file, gone at the end)",
                            uri);
            free(s->uri);
            free(s);
            return rc;
        }
        free(s->uri);
        s->uri = cseg__strdup(path);
        rc = s->uri ? cseg__store_open_sqlite(s, path, d) : CSEG_ENOMEM;
    }
    if (rc == 0)
        rc = prepare_schema(s, d);
    if (rc < 0) {
        cseg_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void cseg_store_close(cseg_store *s)
{
    if (!s)
        return;
    cseg__stream_cache_free(s);
    if (s->ops && s->db)
        s->ops->close(s);
    free(s->uri);
    free(s);
}

const char *cseg_store_backend(const cseg_store *s)
{
    return s->ops->name;
}

/* ---- storing a run ---- */

void cseg__store_now(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A number as text in its shortest exact form; NULL (SQL NULL) when not finite. */
static const char *num_text(char *buf, size_t size, double v)
{
    if (!isfinite(v))
        return NULL;
    cseg__format_double(buf, size, v);
    return buf;
}

static const char *json_num_text(char *buf, size_t size, json_t *v)
{
    return json_is_number(v) ? num_text(buf, size, json_number_value(v)) : NULL;
}

int cseg__store_buf_put(store_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* A JSON string. Written here rather than through jansson: a million
 * customers' features are a few million strings, and jansson's allocation
 * per string was most of the time of storing a run. Text is valid UTF-8
 * already (the reader checks it), so only quotes, backslashes and control
 * characters need escaping. */
static int sb_str(store_buf *b, const char *s)
{
    int rc = cseg__store_buf_put(b, "\"", 1);
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc |= cseg__store_buf_put(b, run, (size_t)(p - run));
        if (!c)
            break;
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else
            snprintf(esc, sizeof esc, "\\u%04x", c);
        rc |= cseg__store_buf_put(b, esc, strlen(esc));
        run = p + 1;
    }
    return rc | cseg__store_buf_put(b, "\"", 1);
}

/* A number of the stored features, exact: its shortest text when that is a
 * short decimal (the usual data, without printf), otherwise 17 digits in one
 * snprintf (the shortest form costs up to three and a parse; exports print
 * the shortest). */
static int sb_num(store_buf *b, double v)
{
    char buf[40];
    if (!isfinite(v))
        return cseg__store_buf_put(b, "null", 4);
    int n = cseg__format_double_exact(buf, sizeof buf, v);
    return cseg__store_buf_put(b, buf, (size_t)n);
}

/* The columns of the customer table that are the customer's own: not the id,
 * nor what the segmentation appended. */
static int own_column(const char *name, const char *id)
{
    return !(id && strcmp(name, id) == 0) && strcmp(name, "segment") != 0 &&
           strcmp(name, "segment_name") != 0 && strcmp(name, "distance") != 0 &&
           strncmp(name, "p_segment_", 10) != 0;
}

/* The customer's own columns of a run's table, with their JSON keys made
 * once ("\"recency_days\": "): the features of a row are then one copy per
 * column and its value. */
typedef struct feature_cols {
    size_t n;
    size_t *col;
    store_buf keys; /* the keys, one after the other */
    size_t *key_end;
} feature_cols;

static int feature_cols_init(feature_cols *f, const cseg_table *t, const char *id)
{
    size_t nc = cseg_table_n_cols(t);
    memset(f, 0, sizeof *f);
    f->col = malloc((nc + 1) * sizeof *f->col);
    f->key_end = malloc((nc + 1) * sizeof *f->key_end);
    int rc = !f->col || !f->key_end;
    for (size_t j = 0; j < nc && !rc; j++) {
        const char *name = cseg_table_col_name(t, j);
        if (!own_column(name, id))
            continue;
        rc |= f->n ? cseg__store_buf_put(&f->keys, ", ", 2) : 0;
        rc |= sb_str(&f->keys, name);
        rc |= cseg__store_buf_put(&f->keys, ": ", 2);
        f->col[f->n] = j;
        f->key_end[f->n++] = f->keys.len;
    }
    return rc ? -1 : 0;
}

static void feature_cols_free(feature_cols *f)
{
    free(f->col);
    free(f->key_end);
    free(f->keys.p);
}

/* {"recency_days": 326, ..., "Country": "France"}: numbers exact. */
static int features_json(store_buf *b, const feature_cols *f, const cseg_table *t, size_t i)
{
    b->len = 0;
    int rc = cseg__store_buf_put(b, "{", 1);
    for (size_t c = 0, from = 0; c < f->n && rc == 0; from = f->key_end[c++]) {
        size_t j = f->col[c];
        rc |= cseg__store_buf_put(b, f->keys.p + from, f->key_end[c] - from);
        const double *x = cseg_table_numbers(t, j);
        const int32_t *code = cseg_table_codes(t, j);
        if (x)
            rc |= sb_num(b, x[i]);
        else if (code && code[i] >= 0)
            rc |= sb_str(b, cseg_table_level(t, j, code[i]));
        else
            rc |= cseg__store_buf_put(b, "null", 4);
    }
    return rc | cseg__store_buf_put(b, "}", 1);
}

static int store_segments(cseg_store *s, const char *run_id, json_t *segs, cseg_diag *d)
{
    for (size_t i = 0; i < json_array_size(segs); i++) {
        json_t *o = json_array_get(segs, i), *prof = json_object();
        char seg[24], size[24], share[40], rev[40];
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v)
        {
            if (strcmp(key, "mean") == 0 || strcmp(key, "median") == 0 ||
                strcmp(key, "categories") == 0)
                json_object_set(prof, key, v);
        }
        char *ptext = json_dumps(prof, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
        json_decref(prof);
        if (!ptext)
            return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
        snprintf(seg, sizeof seg, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(o, "segment")));
        snprintf(size, sizeof size, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(o, "size")));
        const char *p[] = {run_id,
                           seg,
                           json_string_value(json_object_get(o, "name")),
                           json_string_value(json_object_get(o, "action")),
                           size,
                           json_num_text(share, sizeof share, json_object_get(o, "share")),
                           json_num_text(rev, sizeof rev, json_object_get(o, "revenue_share")),
                           ptext};
        int rc = s->ops->exec(s,
                              "INSERT INTO cseg_segments (run_id, segment, name, action, size, "
                              "share, revenue_share, profile) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                              "iittiddt", p, 8, d);
        free(ptext);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One row per customer: an id given twice is refused before anything is
 * written (the table's key is the position, so the store does not check);
 * so is an id longer than CSEG_STORE_ID_MAX (PostgreSQL's index refused it
 * halfway, naming no customer; SQLite took it: the same on both now). */
static int unique_ids(cseg_store *s, const cseg_table *t, long jid, cseg_diag *d)
{
    size_t n = cseg_table_n_rows(t), cap = 64;
    if (jid < 0 || n == 0)
        return 0;
    while (cap < 2 * n)
        cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot);
    if (!slot)
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    memset(slot, 0xff, cap * sizeof *slot);
    int rc = 0;
    /* A number id: equal numbers are equal texts, so no text is made. */
    const double *x = cseg_table_numbers(t, (size_t)jid);
    for (size_t i = 0; x && i < n && rc == 0; i++) {
        if (isnan(x[i]))
            continue;
        double v = x[i] == 0 ? 0.0 : x[i];
        size_t h = (size_t)cseg__hash(&v, sizeof v, 0) & (cap - 1);
        for (; slot[h] != SIZE_MAX; h = (h + 1) & (cap - 1))
            if (x[slot[h]] == v) {
                char a[40];
                cseg__format_double(a, sizeof a, v);
                rc = cseg__diag(d, CSEG_EINVAL, s->uri, 0, 0,
                                "customer id \"%s\" is given twice; the store keeps one row per "
                                "customer",
                                a);
                break;
            }
        slot[h] = i;
    }
    for (size_t i = 0; !x && i < n && rc == 0; i++) {
        char a[40], b[40];
        const char *id = cseg__table_cell_text(t, (size_t)jid, i, a, sizeof a);
        if (!id)
            continue;
        if (strlen(id) > CSEG_STORE_ID_MAX) {
            rc = cseg__diag(d, CSEG_EINVAL, s->uri, 0, 0,
                            "the id of customer %zu is %zu bytes, more than the %d a store "
                            "indexes (\"%.40s...\")",
                            i + 1, strlen(id), CSEG_STORE_ID_MAX, id);
            break;
        }
        size_t h = (size_t)cseg__hash(id, strlen(id), 0) & (cap - 1);
        for (; slot[h] != SIZE_MAX; h = (h + 1) & (cap - 1)) {
            const char *o = cseg__table_cell_text(t, (size_t)jid, slot[h], b, sizeof b);
            if (o && strcmp(o, id) == 0) {
                rc = cseg__diag(d, CSEG_EINVAL, s->uri, 0, 0,
                                "customer id \"%.100s\" is given twice; the store keeps one row "
                                "per customer",
                                id);
                break;
            }
        }
        slot[h] = i;
    }
    free(slot);
    return rc;
}

static int store_members(cseg_store *s, int64_t run_id, const cseg_segmentation *r,
                         cseg_diag *d)
{
    static const char *const cols[] = {"run_id",   "customer_id",   "position", "segment",
                                       "distance", "probabilities", "features"};
    const cseg_table *t = cseg_segment_table(r);
    const char *id = cseg_segment_id_column(r);
    long jid = id ? cseg_table_find(t, id) : -1;
    const int32_t *lab = cseg_segment_labels(r);
    const double *dist = cseg_segment_distances(r), *proba = cseg_segment_proba(r);
    size_t n = cseg_segment_n(r), k = cseg_segment_k(r);
    store_buf fb = {0}, pb = {0};
    feature_cols fc;
    int rc = unique_ids(s, t, jid, d);
    if (rc < 0)
        return rc;
    if (feature_cols_init(&fc, t, id) < 0) {
        feature_cols_free(&fc);
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    }
    rc = s->ops->bulk_begin(s, "cseg_memberships", cols, "itiidtt", 7, d);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char idbuf[40];
        /* Without an id column a customer is its row number (1-based). */
        const char *cid = jid >= 0 ? cseg__table_cell_text(t, (size_t)jid, i, idbuf, sizeof idbuf)
                                   : (cseg__format_double(idbuf, sizeof idbuf, (double)(i + 1)),
                                      idbuf);
        if (!cid) {
            rc = cseg__diag(d, CSEG_EINVAL, s->uri, 0, 0,
                            "customer %zu has no id; the store keeps customers by id", i + 1);
            break;
        }
        if (features_json(&fb, &fc, t, i) < 0) {
            rc = cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
            break;
        }
        const char *pj = NULL;
        if (proba) {
            int bad = 0;
            pb.len = 0;
            bad |= cseg__store_buf_put(&pb, "[", 1);
            for (size_t c = 0; c < k; c++) {
                bad |= c ? cseg__store_buf_put(&pb, ", ", 2) : 0;
                bad |= sb_num(&pb, proba[i * k + c]);
            }
            bad |= cseg__store_buf_put(&pb, "]", 1);
            if (bad) {
                rc = cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
                break;
            }
            pj = pb.p;
        }
        const store_val vals[] = {{.i = run_id},       {.s = cid},     {.i = (int64_t)i + 1},
                                  {.i = lab[i] + 1},   {.d = dist[i]}, {.s = pj},
                                  {.s = fb.p}};
        rc = s->ops->bulk_row(s, vals, d);
    }
    if (s->bulk) {
        int r2 = s->ops->bulk_end(s, rc == 0, d);
        if (rc == 0)
            rc = r2;
    }
    feature_cols_free(&fc);
    free(fb.p);
    free(pb.p);
    return rc;
}

/* A run from a transaction log sets its customers' running state. */
static int store_state(cseg_store *s, int64_t run_id, const cseg_segmentation *r,
                       const char *now, cseg_diag *d)
{
    const cseg_quality *q = cseg_segment_quality(r);
    const cseg_table *t = cseg_segment_table(r);
    long jid = cseg_table_find(t, CSEG_RFM_COL_CUSTOMER_ID),
         jr = cseg_table_find(t, CSEG_RFM_COL_RECENCY), jt = cseg_table_find(t, CSEG_RFM_COL_TENURE),
         jf = cseg_table_find(t, CSEG_RFM_COL_FREQUENCY), jm = cseg_table_find(t, CSEG_RFM_COL_MONETARY),
         ja = cseg_table_find(t, CSEG_RFM_COL_AOV), jp = cseg_table_find(t, CSEG_RFM_COL_N_PRODUCTS),
         jrr = cseg_table_find(t, CSEG_RFM_COL_RETURN_RATE);
    if (!q || jid < 0 || jr < 0 || jt < 0 || jf < 0 || jm < 0 || ja < 0)
        return 0;
    static const char *const cols[] = {"customer_id", "first_purchase", "last_purchase",
                                       "n_orders",    "net_spend",      "gross_spend",
                                       "run_id",      "segment",        "updated_at",
                                       "first_day",   "last_day",       "n_products",
                                       "returned_value"};
    int rc = s->ops->exec(s,
                          "CREATE TEMP TABLE cseg_state_in (customer_id TEXT, first_purchase TEXT, "
                          "last_purchase TEXT, n_orders INTEGER, net_spend DOUBLE PRECISION, "
                          "gross_spend DOUBLE PRECISION, run_id BIGINT, segment INTEGER, "
                          "updated_at TEXT, first_day INTEGER, last_day INTEGER, "
                          "n_products INTEGER, returned_value DOUBLE PRECISION)",
                          NULL, NULL, 0, d);
    if (rc == 0)
        rc = s->ops->bulk_begin(s, "cseg_state_in", cols, "tttiddiitiiid", 13, d);
    const double *rec = cseg_table_numbers(t, (size_t)jr), *ten = cseg_table_numbers(t, (size_t)jt),
                 *fr = cseg_table_numbers(t, (size_t)jf), *mon = cseg_table_numbers(t, (size_t)jm),
                 *aov = cseg_table_numbers(t, (size_t)ja),
                 *npr = jp >= 0 ? cseg_table_numbers(t, (size_t)jp) : NULL,
                 *rr = jrr >= 0 ? cseg_table_numbers(t, (size_t)jrr) : NULL;
    const int32_t *lab = cseg_segment_labels(r);
    for (size_t i = 0; i < cseg_segment_n(r) && rc == 0; i++) {
        char idb[40], first[16], last[16];
        int64_t fd = q->as_of_day - (int64_t)ten[i], ld = q->as_of_day - (int64_t)rec[i];
        cseg_format_date(fd, first, sizeof first);
        cseg_format_date(ld, last, sizeof last);
        const store_val vals[] = {{.s = cseg__table_cell_text(t, (size_t)jid, i, idb, sizeof idb)},
                                  {.s = first},
                                  {.s = last},
                                  {.i = (int64_t)fr[i]},
                                  {.d = mon[i]},
                                  {.d = aov[i] * fr[i]},
                                  {.i = run_id},
                                  {.i = lab[i] + 1},
                                  {.s = now},
                                  {.i = fd},
                                  {.i = ld},
                                  {.i = npr ? (int64_t)npr[i] : 0},
                                  {.d = rr ? rr[i] * aov[i] * fr[i] : 0.0}};
        rc = s->ops->bulk_row(s, vals, d);
    }
    if (s->bulk) {
        int r2 = s->ops->bulk_end(s, rc == 0, d);
        if (rc == 0)
            rc = r2;
    }
    /* A customer whose state its events built (daily sums behind it) keeps
     * it: the run records only that it placed them. Overwritten with the
     * run's summary, a later replay of the log went on from the summary
     * while the events it had already applied stayed (exact duplicates,
     * skipped), so the log's new rows were counted twice. */
    if (rc == 0)
        rc = s->ops->exec(
            s,
            "UPDATE cseg_customer_state SET run_id = i.run_id, segment = i.segment, "
            "updated_at = i.updated_at FROM cseg_state_in AS i "
            "WHERE cseg_customer_state.customer_id = i.customer_id AND EXISTS (SELECT 1 FROM "
            "cseg_customer_days AS dd WHERE dd.customer_id = i.customer_id)",
            NULL, NULL, 0, d);
    if (rc == 0)
        rc = s->ops->exec(
            s,
            "INSERT INTO cseg_customer_state (customer_id, first_purchase, last_purchase, "
            "n_orders, net_spend, gross_spend, run_id, segment, updated_at, first_day, last_day, "
            "n_products, returned_value) "
            "SELECT customer_id, first_purchase, last_purchase, n_orders, net_spend, gross_spend, "
            "run_id, segment, updated_at, first_day, last_day, n_products, returned_value "
            "FROM cseg_state_in AS i WHERE NOT EXISTS (SELECT 1 FROM cseg_customer_days AS dd "
            "WHERE dd.customer_id = i.customer_id) "
            "ON CONFLICT (customer_id) DO UPDATE SET first_purchase = excluded.first_purchase, "
            "last_purchase = excluded.last_purchase, n_orders = excluded.n_orders, "
            "net_spend = excluded.net_spend, gross_spend = excluded.gross_spend, "
            "run_id = excluded.run_id, segment = excluded.segment, updated_at = "
            "excluded.updated_at, "
            "first_day = excluded.first_day, last_day = excluded.last_day, "
            "n_products = excluded.n_products, returned_value = excluded.returned_value, "
            "net_c = 0, gross_c = 0, returned_c = 0; "
            "DROP TABLE cseg_state_in",
            NULL, NULL, 0, d);
    return rc;
}

static int got_id(void *ctx, size_t nc, const char *const *vals)
{
    char *out = ctx;
    if (nc > 0 && vals[0])
        snprintf(out, 24, "%s", vals[0]);
    return 1;
}

int cseg_store_durable(cseg_store *s, cseg_diag *d)
{
    return s->ops->exec(s, s->ops->durable, NULL, NULL, 0, d);
}

int cseg_store_defer_checkpoints(cseg_store *s, cseg_diag *d)
{
    return s->ops->defer_checkpoints ? s->ops->exec(s, s->ops->defer_checkpoints, NULL, NULL, 0, d)
                                     : 0;
}

int cseg_store_checkpoint(cseg_store *s, cseg_diag *d)
{
    return s->ops->checkpoint ? s->ops->query(s, s->ops->checkpoint, NULL, NULL, 0, NULL, NULL, d)
                              : 0;
}

int cseg_store_put_run(cseg_store *s, const cseg_segmentation *r, const cseg_store_run_info *info,
                       int64_t *run_id, cseg_diag *d)
{
    if (cseg_segment_n(r) != cseg_segment_n_all(r))
        return cseg__diag(d, CSEG_EINVAL, s->uri, 0, 0,
                          "a segmentation over processes holds this process's customers only");
    char *model = cseg_model_to_json(cseg_segment_model(r));
    json_error_t err;
    json_t *sj = json_loads(cseg_segment_json(r), 0, &err);
    if (!model || !sj) {
        free(model);
        json_decref(sj);
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    }
    json_t *mo = json_object_get(sj, "model");
    char now[32], k[24], n[24], in[40], sil[40], db[40], ch[40], id[24] = "";
    cseg__store_now(now, sizeof now);
    snprintf(k, sizeof k, "%zu", cseg_segment_k(r));
    snprintf(n, sizeof n, "%zu", cseg_segment_n(r));
    const char *kind = json_string_value(json_object_get(sj, "input_kind"));
    const char *algo = json_string_value(json_object_get(mo, "algorithm"));
    const char *link = json_string_value(json_object_get(mo, "linkage"));
    const char *p[] = {now,
                       cseg_version(),
                       info && info->command ? info->command : "run",
                       json_string_value(json_object_get(sj, "input")),
                       info ? info->input_sha256 : NULL,
                       kind ? kind : "customers",
                       link ? link : algo ? algo : "kmeans",
                       k,
                       n,
                       json_num_text(in, sizeof in, json_object_get(mo, "inertia")),
                       json_num_text(sil, sizeof sil, json_object_get(mo, "silhouette")),
                       json_num_text(db, sizeof db, json_object_get(mo, "davies_bouldin")),
                       json_num_text(ch, sizeof ch, json_object_get(mo, "calinski_harabasz")),
                       info && info->params_json ? info->params_json : "{}",
                       cseg_segment_json(r),
                       model};
    if (!p[3])
        p[3] = "";
    int rc = s->ops->exec(s, s->ops->begin, NULL, NULL, 0, d);
    if (rc < 0)
        goto out;
    rc = s->ops->query(s,
                       "INSERT INTO cseg_runs (created_at, custseg_version, command, input_name, "
                       "input_sha256, input_kind, algorithm, k, n_customers, inertia, silhouette, "
                       "davies_bouldin, calinski_harabasz, params, segments_json, model_json) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                       "$16) RETURNING run_id",
                       "tttttttiiddddttt", p, 16, got_id, id, d);
    if (rc == 0 && !id[0])
        rc = cseg__diag(d, CSEG_EIO, s->uri, 0, 0, "the new run got no id");
    if (rc == 0)
        rc = store_segments(s, id, json_object_get(sj, "segments"), d);
    if (rc == 0)
        rc = store_members(s, strtoll(id, NULL, 10), r, d);
    if (rc == 0 && kind && strcmp(kind, "transactions") == 0) {
        rc = cseg__stream_settle_in(s, d); /* the states as their events left them */
        cseg__stream_cache_drop(s);
        if (rc == 0)
            rc = store_state(s, strtoll(id, NULL, 10), r, now, d);
    }
    if (rc == 0 && info && info->confirm)
        rc = info->confirm(info->confirm_ctx, d);
    if (rc == 0)
        rc = s->ops->exec(s, "COMMIT", NULL, NULL, 0, d);
    if (rc < 0)
        rollback(s); /* a failed COMMIT too: the connection must not stay in it */
    if (rc == 0 && run_id)
        *run_id = strtoll(id, NULL, 10);
out:
    free(model);
    json_decref(sj);
    return rc;
}

/* ---- reading ---- */

typedef struct runs_ctx {
    cseg_store_run_fn fn;
    void *ctx;
} runs_ctx;

static int run_row(void *ctx, size_t nc, const char *const *v)
{
    runs_ctx *c = ctx;
    if (nc < 11)
        return 1;
    cseg_store_run run = {strtoll(v[0], NULL, 10),
                          v[1],
                          v[2],
                          v[3],
                          v[4],
                          v[5],
                          v[6],
                          v[7],
                          v[8] ? (size_t)strtoull(v[8], NULL, 10) : 0,
                          v[9] ? (size_t)strtoull(v[9], NULL, 10) : 0,
                          v[10] ? strtod(v[10], NULL) : NAN};
    return c->fn(&run, c->ctx);
}

int cseg_store_runs(cseg_store *s, cseg_store_run_fn fn, void *ctx, cseg_diag *d)
{
    runs_ctx c = {fn, ctx};
    return s->ops->query(s,
                         "SELECT run_id, created_at, custseg_version, command, input_name, "
                         "input_sha256, input_kind, algorithm, k, n_customers, silhouette "
                         "FROM cseg_runs ORDER BY run_id DESC",
                         NULL, NULL, 0, run_row, &c, d);
}

int cseg_store_last_run(cseg_store *s, int64_t *run_id, cseg_diag *d)
{
    char *v = NULL;
    int rc = query_one(s, "SELECT max(run_id) FROM cseg_runs", NULL, 0, &v, d);
    *run_id = rc == 0 && v ? strtoll(v, NULL, 10) : 0;
    free(v);
    return rc;
}

static int run_text(cseg_store *s, const char *column, int64_t run_id, char **out, cseg_diag *d)
{
    char sql[96], id[24];
    const char *p[1] = {id};
    snprintf(sql, sizeof sql, "SELECT %s FROM cseg_runs WHERE run_id = $1", column);
    snprintf(id, sizeof id, "%" PRId64, run_id);
    int rc = query_one(s, sql, p, 1, out, d);
    if (rc == 0 && !*out)
        rc = cseg__diag(d, CSEG_EEMPTY, s->uri, 0, 0, "no run %" PRId64 " in the store", run_id);
    return rc;
}

int cseg_store_run_segments_json(cseg_store *s, int64_t run_id, char **out, cseg_diag *d)
{
    return run_text(s, "segments_json", run_id, out, d);
}

int cseg_store_run_model_json(cseg_store *s, int64_t run_id, char **out, cseg_diag *d)
{
    return run_text(s, "model_json", run_id, out, d);
}

typedef struct members_ctx {
    cseg_store_member_fn fn;
    void *ctx;
} members_ctx;

static int member_row(void *ctx, size_t nc, const char *const *v)
{
    members_ctx *c = ctx;
    if (nc < 6)
        return 1;
    cseg_store_member m = {v[0], (int)strtol(v[1], NULL, 10), v[2],
                           v[3] ? strtod(v[3], NULL) : NAN, v[4], v[5]};
    return c->fn(&m, c->ctx);
}

int cseg_store_members(cseg_store *s, int64_t run_id, int segment, cseg_store_member_fn fn,
                       void *ctx, cseg_diag *d)
{
    char *check = NULL;
    int rc = run_text(s, "run_id", run_id, &check, d);
    free(check);
    if (rc < 0)
        return rc;
    char id[24], sg[24];
    snprintf(id, sizeof id, "%" PRId64, run_id);
    snprintf(sg, sizeof sg, "%d", segment);
    const char *p[] = {id, sg};
    members_ctx c = {fn, ctx};
    return s->ops->query(s,
                         segment > 0
                             ? "SELECT m.customer_id, m.segment, g.name, m.distance, "
                               "m.probabilities, m.features FROM cseg_memberships m JOIN "
                               "cseg_segments g ON g.run_id = m.run_id AND g.segment = m.segment "
                               "WHERE m.run_id = $1 AND m.segment = $2 ORDER BY m.position"
                             : "SELECT m.customer_id, m.segment, g.name, m.distance, "
                               "m.probabilities, m.features FROM cseg_memberships m JOIN "
                               "cseg_segments g ON g.run_id = m.run_id AND g.segment = m.segment "
                               "WHERE m.run_id = $1 ORDER BY m.position",
                         "ii", p, segment > 0 ? 2 : 1, member_row, &c, d);
}

/* ---- forgetting ---- */

/* A table's rows of a group of customers (id, count), counted (cnt, NULL:
 * not) and each id found marked at its first place in the group. */
typedef struct found_ctx {
    size_t *cnt;
    const char *const *ids;
    size_t g;
    char *found;
} found_ctx;

static int found_rows(void *ctx, size_t nc, const char *const *v)
{
    found_ctx *c = ctx;
    if (nc < 2 || !v[0] || !v[1])
        return 0;
    if (c->cnt)
        *c->cnt += (size_t)strtoull(v[1], NULL, 10);
    for (size_t i = 0; i < c->g; i++)
        if (strcmp(c->ids[i], v[0]) == 0) {
            c->found[i] = 1;
            break;
        }
    return 0;
}

/* Customers are forgotten in groups of FORGET_GROUP, each table read once
 * per group: the events are not indexed by customer (schema version 4), so
 * a customer at a time would read them all once per customer. */
#define FORGET_GROUP 128

int cseg__store_lock_customers(cseg_store *s, const char *const *ids, size_t n, cseg_diag *d)
{
    if (!s->ops->xact_lock || n == 0)
        return 0;
    /* The keys as one text array literal: {"a","b\"c"}; the back end locks
     * their hashes in order (store_ops.xact_lock). */
    store_buf a = {0};
    int rc = cseg__store_buf_put(&a, "{", 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc |= cseg__store_buf_put(&a, i ? ",\"" : "\"", i ? 2 : 1);
        for (const char *p = ids[i]; *p && rc == 0; p++)
            rc |= (*p == '"' || *p == '\\' ? cseg__store_buf_put(&a, "\\", 1) : 0) |
                  cseg__store_buf_put(&a, p, 1);
        rc |= cseg__store_buf_put(&a, "\"", 1);
    }
    rc |= cseg__store_buf_put(&a, "}", 1);
    if (rc < 0) {
        free(a.p);
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    }
    const char *param = a.p;
    rc = s->ops->exec(s, s->ops->xact_lock, "t", &param, 1, d);
    free(a.p);
    return rc;
}

int cseg_store_forget(cseg_store *s, const char *const *ids, size_t n, cseg_store_forgotten *out,
                      cseg_diag *d)
{
    static const struct {
        const char *table;
        size_t off; /* its count in cseg_store_forgotten; SIZE_MAX: not counted */
    } tabs[] = {{"cseg_memberships", offsetof(cseg_store_forgotten, memberships)},
                {"cseg_customer_state", offsetof(cseg_store_forgotten, states)},
                {"cseg_events", offsetof(cseg_store_forgotten, events)},
                {"cseg_segment_changes", offsetof(cseg_store_forgotten, changes)},
                /* what was derived from their events goes too */
                {"cseg_customer_days", SIZE_MAX},
                {"cseg_customer_products", SIZE_MAX}};
    cseg_store_forgotten f = {0};
    /* The ids as the readers keep them (trimmed, "17850.0" is "17850"):
     * the store holds no other form. */
    char **norm = calloc(n ? n : 1, sizeof *norm);
    for (size_t i = 0; norm && i < n; i++) {
        const char *v = ids[i];
        size_t len = strlen(v);
        cseg__id_normalize(&v, &len);
        if (!(norm[i] = cseg__strndup(v, len))) {
            for (size_t j = 0; j < i; j++)
                free(norm[j]);
            free(norm);
            norm = NULL;
        }
    }
    if (!norm)
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    ids = (const char *const *)norm;
    int rc = s->ops->exec(s, s->ops->begin, NULL, NULL, 0, d);
    /* The states owed written first, so that what is erased is counted
     * (their rows would be made again from events that are gone anyway). */
    if (rc == 0)
        rc = cseg__stream_settle_in(s, d);
    cseg__stream_cache_drop(s);
    /* The event writer's lock on each customer (PostgreSQL): a batch that
     * read a customer before this erased them would write their state back
     * after it (SQLite's BEGIN IMMEDIATE lets one writer in at a time). */
    if (rc == 0)
        rc = cseg__store_lock_customers(s, ids, n, d);
    for (size_t i0 = 0; i0 < n && rc == 0; i0 += FORGET_GROUP) {
        size_t g = n - i0 < FORGET_GROUP ? n - i0 : FORGET_GROUP;
        char in[FORGET_GROUP * 6 + 8], *o = in;
        for (size_t i = 0; i < g; i++)
            o += sprintf(o, "%s$%zu", i ? ", " : "(", i + 1);
        strcpy(o, ")");
        char found[FORGET_GROUP] = {0};
        for (size_t t = 0; t < sizeof tabs / sizeof tabs[0] && rc == 0; t++) {
            char sql[FORGET_GROUP * 6 + 128];
            found_ctx fc = {tabs[t].off != SIZE_MAX ? (size_t *)((char *)&f + tabs[t].off) : NULL,
                            ids + i0, g, found};
            snprintf(sql, sizeof sql,
                     "SELECT customer_id, count(*) FROM %s WHERE customer_id IN %s GROUP BY "
                     "customer_id",
                     tabs[t].table, in);
            rc = s->ops->query(s, sql, NULL, ids + i0, g, found_rows, &fc, d);
            snprintf(sql, sizeof sql, "DELETE FROM %s WHERE customer_id IN %s", tabs[t].table, in);
            if (rc == 0)
                rc = s->ops->exec(s, sql, NULL, ids + i0, g, d);
        }
        /* Each customer once: an id given twice (or as "17850" and
         * "17850.0") is found at its first place, or in an earlier group
         * and gone by this one. */
        for (size_t i = 0; i < g; i++)
            f.customers += found[i] != 0;
    }
    if (rc == 0)
        rc = s->ops->exec(s, "COMMIT", NULL, NULL, 0, d);
    if (rc < 0)
        rollback(s);
    if (rc == 0 && out)
        *out = f;
    for (size_t i = 0; i < n; i++)
        free(norm[i]);
    free(norm);
    return rc;
}
