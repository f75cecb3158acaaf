/* custseg — the SQLite back end of the store (Debian libsqlite3). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../core/internal.h"
#include "../csv/internal.h"

static int fail(cseg_store *s, int rc, cseg_diag *d)
{
    sqlite3 *db = s->db;
    int code = rc == SQLITE_NOTADB ? CSEG_EFORMAT
               : rc == SQLITE_NOMEM ? CSEG_ENOMEM
               : rc == SQLITE_CONSTRAINT || rc == SQLITE_MISMATCH || rc == SQLITE_ERROR ? CSEG_EINVAL
                                                                                       : CSEG_EIO;
    return cseg__diag(d, code, s->uri, 0, 0, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int bind(cseg_store *s, sqlite3_stmt *st, const char *types, const char *const *params,
                size_t np, cseg_diag *d)
{
    for (size_t i = 0; i < np; i++) {
        char name[24];
        snprintf(name, sizeof name, "$%zu", i + 1);
        int at = sqlite3_bind_parameter_index(st, name), rc;
        if (at == 0)
            at = (int)i + 1; /* a bulk insert's plain ?N */
        char t = types ? types[i] : 't';
        if (!params[i])
            rc = sqlite3_bind_null(st, at);
        else if (t == 'd')
            /* strtod rounds correctly; SQLite's own text-to-real may not. */
            rc = sqlite3_bind_double(st, at, strtod(params[i], NULL));
        else if (t == 'i')
            rc = sqlite3_bind_int64(st, at, strtoll(params[i], NULL, 10));
        else
            rc = sqlite3_bind_text(st, at, params[i], -1, SQLITE_TRANSIENT);
        if (rc != SQLITE_OK)
            return fail(s, rc, d);
    }
    return 0;
}

static int run_stmt(cseg_store *s, const char *sql, const char *types, const char *const *params,
                    size_t np, store_row_fn fn, void *ctx, cseg_diag *d)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, rc, d);
    int out = bind(s, st, types, params, np, d);
    size_t nc = (size_t)sqlite3_column_count(st);
    char (*num)[40] = nc ? malloc(nc * sizeof *num) : NULL;
    const char **vals = nc ? malloc(nc * sizeof *vals) : NULL;
    if (nc && (!num || !vals))
        out = CSEG_ENOMEM;
    while (out == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t j = 0; j < nc; j++) {
            switch (sqlite3_column_type(st, (int)j)) {
            case SQLITE_NULL: vals[j] = NULL; break;
            case SQLITE_FLOAT:
                cseg__format_double(num[j], sizeof num[j], sqlite3_column_double(st, (int)j));
                vals[j] = num[j];
                break;
            case SQLITE_INTEGER:
                snprintf(num[j], sizeof num[j], "%lld", (long long)sqlite3_column_int64(st, (int)j));
                vals[j] = num[j];
                break;
            default: vals[j] = (const char *)sqlite3_column_text(st, (int)j); break;
            }
        }
        if (fn && fn(ctx, nc, vals))
            break;
    }
    if (out == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = fail(s, rc, d);
    free(num);
    free(vals);
    sqlite3_finalize(st);
    return out;
}

static int sq_exec(cseg_store *s, const char *sql, const char *types, const char *const *params,
                   size_t np, cseg_diag *d)
{
    if (np == 0) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : fail(s, rc, d);
    }
    return run_stmt(s, sql, types, params, np, NULL, NULL, d);
}

static int sq_query(cseg_store *s, const char *sql, const char *types, const char *const *params,
                    size_t np, store_row_fn fn, void *ctx, cseg_diag *d)
{
    return run_stmt(s, sql, types, params, np, fn, ctx, d);
}

static int sq_bulk_begin(cseg_store *s, const char *table, const char *const *cols,
                         const char *types, size_t nc, cseg_diag *d)
{
    size_t cap = 64 + strlen(table);
    for (size_t j = 0; j < nc; j++)
        cap += strlen(cols[j]) + 16;
    char *sql = malloc(cap);
    if (!sql || nc >= sizeof s->bulk_types || strlen(types) != nc) {
        free(sql);
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    }
    size_t off = (size_t)snprintf(sql, cap, "INSERT INTO %s (", table);
    for (size_t j = 0; j < nc; j++)
        off += (size_t)snprintf(sql + off, cap - off, "%s%s", j ? ", " : "", cols[j]);
    off += (size_t)snprintf(sql + off, cap - off, ") VALUES (");
    for (size_t j = 0; j < nc; j++)
        off += (size_t)snprintf(sql + off, cap - off, "%s?%zu", j ? ", " : "", j + 1);
    snprintf(sql + off, cap - off, ")");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return fail(s, rc, d);
    s->bulk = st;
    s->bulk_nc = nc;
    snprintf(s->bulk_types, sizeof s->bulk_types, "%s", types);
    return 0;
}

static int sq_bulk_row(cseg_store *s, const store_val *vals, cseg_diag *d)
{
    sqlite3_stmt *st = s->bulk;
    for (size_t j = 0; j < s->bulk_nc; j++) {
        int at = (int)j + 1, rc;
        char t = s->bulk_types[j];
        if (t == 'd')
            rc = isfinite(vals[j].d) ? sqlite3_bind_double(st, at, vals[j].d)
                                     : sqlite3_bind_null(st, at);
        else if (t == 'i')
            rc = sqlite3_bind_int64(st, at, vals[j].i);
        else if (vals[j].s)
            /* Static: the text outlives the step below. */
            rc = sqlite3_bind_text(st, at, vals[j].s, -1, SQLITE_STATIC);
        else
            rc = sqlite3_bind_null(st, at);
        if (rc != SQLITE_OK)
            return fail(s, rc, d);
    }
    int sr = sqlite3_step(st);
    sqlite3_reset(st);
    return sr == SQLITE_DONE ? 0 : fail(s, sr, d);
}

static int sq_bulk_end(cseg_store *s, int commit, cseg_diag *d)
{
    (void)commit; /* rows already went in; the transaction decides */
    (void)d;
    sqlite3_finalize(s->bulk);
    s->bulk = NULL;
    return 0;
}

static void sq_close(cseg_store *s)
{
    if (s->bulk)
        sqlite3_finalize(s->bulk);
    sqlite3_close(s->db);
}

static const store_ops sqlite_ops = {
    "sqlite",
    "INTEGER PRIMARY KEY AUTOINCREMENT",
    "BEGIN IMMEDIATE",
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
    NULL, /* BEGIN IMMEDIATE: one writer at a time */
    sq_exec,
    sq_query,
    sq_bulk_begin,
    sq_bulk_row,
    sq_bulk_end,
    sq_close,
};

int cseg__store_open_sqlite(cseg_store *s, const char *path, cseg_diag *d)
{
    sqlite3 *db = NULL;
    s->ops = &sqlite_ops;
    /* A store is used by one thread at a time: no mutex per call. */
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    s->db = db;
    if (rc != SQLITE_OK)
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open the store: %s",
                          db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(db, 30000); /* another writer: wait for it */
    sqlite3_extended_result_codes(db, 0);
    /* WAL: readers see the store before or after a write, never during. */
    /* A 64 MiB page cache: a million memberships go in without spilling. The
     * WAL is left for the next opener to checkpoint rather than copied into
     * the database at every close (the commit itself is whole either way). */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                          "PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc == SQLITE_NOTADB
                   ? cseg__diag(d, CSEG_EFORMAT, path, 0, 0,
                                "not a custseg store: %s", sqlite3_errmsg(db))
                   : cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open the store: %s",
                                sqlite3_errmsg(db));
    return 0;
}
