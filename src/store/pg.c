/* custseg — the PostgreSQL back end of the store (Debian libpq). */
#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pq.h"
#include "../core/internal.h"
#include "../csv/internal.h"

void cseg__pg_message(const PGresult *res, const PGconn *c, char *buf, size_t size, char *pos,
                      size_t pos_size)
{
    const char *msg = res ? cseg__pq.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *at = res ? cseg__pq.PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
    snprintf(buf, size, "%s", msg ? msg : c ? cseg__pq.PQerrorMessage(c) : "out of memory");
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    size_t len = strlen(buf);
    while (len > 0 && buf[len - 1] == ' ')
        buf[--len] = 0;
    snprintf(pos, pos_size, "%s", at ? at : "");
}

/* The server's message on one line: the primary text, and the position of a
 * syntax error when there is one. */
static int fail_res(cseg_store *s, PGresult *res, cseg_diag *d)
{
    const char *state = res ? cseg__pq.PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char buf[400], at[24]; /* the fields live in res: copied before it is freed */
    cseg__pg_message(res, s->db, buf, sizeof buf, at, sizeof at);
    /* Class 08 (connection) and a lost connection are I/O; the rest is the statement's. */
    int code = !state || strncmp(state, "08", 2) == 0 || cseg__pq.PQstatus(s->db) != CONNECTION_OK
                   ? CSEG_EIO
                   : CSEG_EINVAL;
    if (res)
        cseg__pq.PQclear(res);
    return at[0] ? cseg__diag(d, code, s->uri, 0, 0, "%s (at character %s)", buf, at)
                 : cseg__diag(d, code, s->uri, 0, 0, "%s", buf);
}

static int pg_exec(cseg_store *s, const char *sql, const char *types, const char *const *params,
                   size_t np, cseg_diag *d)
{
    (void)types; /* the server parses text into the column's type */
    PGresult *res = np ? cseg__pq.PQexecParams(s->db, sql, (int)np, NULL, params, NULL, NULL, 0)
                       : cseg__pq.PQexec(s->db, sql);
    ExecStatusType st = cseg__pq.PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return fail_res(s, res, d);
    cseg__pq.PQclear(res);
    return 0;
}

/* Rows one at a time (single-row mode): a million memberships are never all
 * in memory at once. */
static int pg_query(cseg_store *s, const char *sql, const char *types, const char *const *params,
                    size_t np, store_row_fn fn, void *ctx, cseg_diag *d)
{
    (void)types;
    if (!cseg__pq.PQsendQueryParams(s->db, sql, (int)np, NULL, params, NULL, NULL, 0))
        return fail_res(s, NULL, d);
    cseg__pq.PQsetSingleRowMode(s->db);
    int rc = 0, stop = 0;
    const char **vals = NULL;
    size_t cap = 0;
    PGresult *res;
    while ((res = cseg__pq.PQgetResult(s->db)) != NULL) {
        ExecStatusType st = cseg__pq.PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && rc == 0 && !stop) {
            size_t nc = (size_t)cseg__pq.PQnfields(res);
            if (nc > cap) {
                const char **nv = realloc(vals, nc * sizeof *nv);
                if (!nv) {
                    rc = cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
                    cseg__pq.PQclear(res);
                    continue;
                }
                vals = nv;
                cap = nc;
            }
            for (size_t j = 0; j < nc; j++)
                vals[j] = cseg__pq.PQgetisnull(res, 0, (int)j)
                              ? NULL
                              : cseg__pq.PQgetvalue(res, 0, (int)j);
            stop = fn && fn(ctx, nc, vals);
            cseg__pq.PQclear(res);
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK &&
                   st != PGRES_COMMAND_OK) {
            if (rc == 0)
                rc = fail_res(s, res, d);
            else
                cseg__pq.PQclear(res);
        } else {
            cseg__pq.PQclear(res);
        }
    }
    free(vals);
    return rc;
}

static int pg_bulk_begin(cseg_store *s, const char *table, const char *const *cols,
                         const char *types, size_t nc, cseg_diag *d)
{
    size_t cap = 64 + strlen(table);
    for (size_t j = 0; j < nc; j++)
        cap += strlen(cols[j]) + 2;
    char *sql = malloc(cap);
    store_buf *b = calloc(1, sizeof *b);
    if (!sql || !b || nc >= sizeof s->bulk_types || strlen(types) != nc) {
        free(sql);
        free(b);
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    }
    size_t off = (size_t)snprintf(sql, cap, "COPY %s (", table);
    for (size_t j = 0; j < nc; j++)
        off += (size_t)snprintf(sql + off, cap - off, "%s%s", j ? ", " : "", cols[j]);
    snprintf(sql + off, cap - off, ") FROM STDIN");
    PGresult *res = cseg__pq.PQexec(s->db, sql);
    free(sql);
    if (cseg__pq.PQresultStatus(res) != PGRES_COPY_IN) {
        free(b);
        return fail_res(s, res, d);
    }
    cseg__pq.PQclear(res);
    s->bulk = b;
    s->bulk_nc = nc;
    snprintf(s->bulk_types, sizeof s->bulk_types, "%s", types);
    return 0;
}

static int flush(cseg_store *s, store_buf *b, cseg_diag *d)
{
    if (b->len && cseg__pq.PQputCopyData(s->db, b->p, (int)b->len) != 1)
        return fail_res(s, NULL, d);
    b->len = 0;
    return 0;
}

/* Text in COPY's text format: backslash, tab, newline and CR escaped; the
 * runs between them copied whole. */
static int copy_text(store_buf *b, const char *s)
{
    int bad = 0;
    const char *run = s;
    for (const char *p = s;; p++) {
        char c = *p;
        if (c && c != '\\' && c != '\t' && c != '\n' && c != '\r')
            continue;
        bad |= cseg__store_buf_put(b, run, (size_t)(p - run));
        if (!c)
            break;
        const char *e = c == '\\' ? "\\\\" : c == '\t' ? "\\t" : c == '\n' ? "\\n" : "\\r";
        bad |= cseg__store_buf_put(b, e, 2);
        run = p + 1;
    }
    return bad;
}

/* A row in COPY's text format: \N for NULL, numbers exact. */
static int pg_bulk_row(cseg_store *s, const store_val *vals, cseg_diag *d)
{
    store_buf *b = s->bulk;
    for (size_t j = 0; j < s->bulk_nc; j++) {
        int bad = j && cseg__store_buf_put(b, "\t", 1);
        char num[40];
        char t = s->bulk_types[j];
        if (t == 'd' && isfinite(vals[j].d))
            bad |= cseg__store_buf_put(b, num,
                                       (size_t)cseg__format_double_exact(num, sizeof num, vals[j].d));
        else if (t == 'i')
            bad |= cseg__store_buf_put(b, num,
                                       (size_t)snprintf(num, sizeof num, "%" PRId64, vals[j].i));
        else if (t == 't' && vals[j].s)
            bad |= copy_text(b, vals[j].s);
        else
            bad |= cseg__store_buf_put(b, "\\N", 2);
        if (bad)
            return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    }
    if (cseg__store_buf_put(b, "\n", 1) < 0)
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    return b->len >= (1 << 20) ? flush(s, b, d) : 0;
}

static int pg_bulk_end(cseg_store *s, int commit, cseg_diag *d)
{
    store_buf *b = s->bulk;
    int rc = commit ? flush(s, b, d) : 0;
    free(b->p);
    free(b);
    s->bulk = NULL;
    if (cseg__pq.PQputCopyEnd(s->db, rc == 0 && commit ? NULL : "canceled by custseg") != 1 &&
        rc == 0)
        rc = fail_res(s, NULL, d);
    PGresult *res;
    while ((res = cseg__pq.PQgetResult(s->db)) != NULL) {
        if (cseg__pq.PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0 && commit)
            rc = fail_res(s, res, d);
        else
            cseg__pq.PQclear(res);
    }
    return rc;
}

static void pg_close(cseg_store *s)
{
    if (s->bulk) {
        store_buf *b = s->bulk;
        free(b->p);
        free(b);
    }
    cseg__pq.PQfinish(s->db);
}

static void quiet(void *arg, const char *message)
{
    (void)arg; /* the library never prints: server notices are dropped */
    (void)message;
}

static const store_ops pg_ops = {
    "postgresql",
    "BIGSERIAL PRIMARY KEY",
    "BEGIN",
    "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
    "AND table_name = $1",
    /* each distinct key's hash once, in the order of the hashes: two writers
     * locking overlapping keys never wait on each other in a cycle (in the
     * order of the keys, two keys' equal hashes could make one) */
    "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(x) AS h "
    "FROM unnest($1::text[]) AS x) AS s ORDER BY h",
    "SET synchronous_commit = on", /* the server's fsync setting still rules */
    pg_exec,
    pg_query,
    pg_bulk_begin,
    pg_bulk_row,
    pg_bulk_end,
    pg_close,
    NULL, /* run: cells as text through pg_query (libpq's text format) */
    NULL, /* checkpoints: the server's own */
    NULL,
    NULL, /* no data version: the event writer's cache lasts one transaction */
    NULL, /* ids with RETURNING */
};

cseg__pq_fns cseg__pq;

static const char *pq_resolve(void *h)
{
#define SYM(f) CSEG__DL_SYM(cseg__pq, h, f)
    CSEG_PQ_FUNCS(SYM)
#undef SYM
    return NULL;
}

static cseg__dl pq_lib = CSEG__DL_INIT(CSEG_SONAME_PQ, "PostgreSQL", "libpq5", pq_resolve);

int cseg__pq_load(cseg_diag *d)
{
    return cseg__dl_load(&pq_lib, d);
}

int cseg__store_open_pg(cseg_store *s, const char *uri, cseg_diag *d)
{
    s->ops = &pg_ops;
    int rc = cseg__pq_load(d);
    if (rc < 0)
        return rc;
    PGconn *c = cseg__pq.PQconnectdb(uri);
    s->db = c;
    if (!c)
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    if (cseg__pq.PQstatus(c) != CONNECTION_OK) {
        char buf[400], at[4];
        cseg__pg_message(NULL, c, buf, sizeof buf, at, sizeof at);
        return cseg__diag(d, CSEG_EIO, s->uri, 0, 0, "cannot connect to the store: %s", buf);
    }
    cseg__pq.PQsetNoticeProcessor(c, quiet, NULL);
    /* Doubles in their exact form (PostgreSQL 12+ writes the shortest exact
     * form already; 3 makes older servers write 17 digits). */
    return pg_exec(s, "SET client_encoding = 'UTF8'; SET extra_float_digits = 3", NULL, NULL, 0, d);
}
