/* custseg — the SQLite back end of the store (Debian libsqlite3). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
        /* $1, $2 ... each used once, in order (internal.h): SQLite numbers
         * them in order of appearance, so $N is parameter N, as a bulk
         * insert's ?N is. */
        int at = (int)i + 1, rc;
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

/* Prepared statements kept by their SQL text: a streamed event runs the same
 * few statements every time, and preparing them was most of its cost. The
 * texts are the library's own (a few dozen), so the cache is a short list
 * searched by hash; when full, the oldest entry not in use is finalized. A
 * statement in use (a query run from another's row callback) is not shared:
 * the inner one gets a statement of its own, finalized after it. */
#define STMT_CACHE 48
typedef struct stmt_cache {
    size_t n, next;
    uint64_t hash[STMT_CACHE];
    char *sql[STMT_CACHE];
    sqlite3_stmt *st[STMT_CACHE];
    int busy[STMT_CACHE];
} stmt_cache;

static void cache_free(cseg_store *s)
{
    stmt_cache *c = s->stmts;
    for (size_t i = 0; c && i < c->n; i++) {
        sqlite3_finalize(c->st[i]);
        free(c->sql[i]);
    }
    free(c);
    s->stmts = NULL;
}

/* The statement for sql and its cache slot (-1: not cached, finalize it). */
static int prepare(cseg_store *s, const char *sql, sqlite3_stmt **out, long *slot, cseg_diag *d)
{
    stmt_cache *c = s->stmts;
    if (!c && (c = s->stmts = calloc(1, sizeof *c)) == NULL)
        return cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
    size_t len = strlen(sql);
    uint64_t h = cseg__hash(sql, len, 0);
    int in_use = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->hash[i] == h && strcmp(c->sql[i], sql) == 0) {
            if (c->busy[i]) {
                in_use = 1;
                break;
            }
            c->busy[i] = 1;
            *out = c->st[i];
            *slot = (long)i;
            return 0;
        }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(s->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, rc, d);
    *out = st;
    *slot = -1;
    size_t i = c->n;
    if (!in_use && c->n == STMT_CACHE) { /* the oldest not in use goes */
        for (size_t tries = 0; tries < STMT_CACHE; tries++, c->next++)
            if (!c->busy[i = c->next % STMT_CACHE])
                break;
        if (c->busy[i])
            return 0;
        c->next++;
        sqlite3_finalize(c->st[i]);
        free(c->sql[i]);
        c->sql[i] = NULL;
    }
    char *copy = in_use ? NULL : malloc(len + 1);
    if (!copy)
        return 0; /* not kept: used once */
    memcpy(copy, sql, len + 1);
    if (i == c->n)
        c->n++;
    c->hash[i] = h;
    c->sql[i] = copy;
    c->st[i] = st;
    c->busy[i] = 1;
    *slot = (long)i;
    return 0;
}

/* Done with a statement from prepare: reset and kept, or finalized. */
static void release(cseg_store *s, sqlite3_stmt *st, long slot)
{
    if (slot < 0) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_reset(st); /* its read transaction and bindings go now */
    sqlite3_clear_bindings(st);
    ((stmt_cache *)s->stmts)->busy[slot] = 0;
}

static int run_stmt(cseg_store *s, const char *sql, const char *types, const char *const *params,
                    size_t np, store_row_fn fn, void *ctx, cseg_diag *d)
{
    sqlite3_stmt *st = NULL;
    long slot = -1;
    int rc = prepare(s, sql, &st, &slot, d);
    if (rc < 0)
        return rc;
    int out = bind(s, st, types, params, np, d);
    size_t nc = (size_t)sqlite3_column_count(st);
    char num[8][40];
    const char *vals_small[8];
    char (*numv)[40] = nc > 8 ? malloc(nc * sizeof *numv) : num;
    const char **vals = nc > 8 ? malloc(nc * sizeof *vals) : vals_small;
    if (!numv || !vals)
        out = CSEG_ENOMEM;
    while (out == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t j = 0; j < nc; j++) {
            switch (sqlite3_column_type(st, (int)j)) {
            case SQLITE_NULL: vals[j] = NULL; break;
            case SQLITE_FLOAT:
                cseg__format_double(numv[j], sizeof numv[j], sqlite3_column_double(st, (int)j));
                vals[j] = numv[j];
                break;
            case SQLITE_INTEGER:
                snprintf(numv[j], sizeof numv[j], "%lld", (long long)sqlite3_column_int64(st, (int)j));
                vals[j] = numv[j];
                break;
            default: vals[j] = (const char *)sqlite3_column_text(st, (int)j); break;
            }
        }
        if (fn && fn(ctx, nc, vals))
            break;
    }
    if (out == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = fail(s, rc, d);
    if (numv != num)
        free(numv);
    if (vals != vals_small)
        free(vals);
    release(s, st, slot);
    return out;
}

/* run with typed cells: numbers bound and read as numbers. */
static int sq_run(cseg_store *s, const char *sql, const store_cell *params, size_t np,
                  store_cell_fn fn, void *ctx, cseg_diag *d)
{
    sqlite3_stmt *st = NULL;
    long slot = -1;
    int rc = prepare(s, sql, &st, &slot, d), out = 0;
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < np && out == 0; i++) {
        const store_cell *c = &params[i];
        int at = (int)i + 1; /* $N is parameter N (see bind) */
        if (c->kind == 'd' && isfinite(c->d))
            rc = sqlite3_bind_double(st, at, c->d);
        else if (c->kind == 'i')
            rc = sqlite3_bind_int64(st, at, c->i);
        else if (c->kind == 't' && c->s)
            rc = sqlite3_bind_text(st, at, c->s, -1, SQLITE_STATIC); /* outlives the steps */
        else
            rc = sqlite3_bind_null(st, at);
        if (rc != SQLITE_OK)
            out = fail(s, rc, d);
    }
    size_t nc = (size_t)sqlite3_column_count(st);
    store_cell small[16], *cells = nc <= 16 ? small : malloc(nc * sizeof *cells);
    if (!cells)
        out = CSEG_ENOMEM;
    while (out == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t j = 0; j < nc; j++) {
            store_cell *c = &cells[j];
            switch (sqlite3_column_type(st, (int)j)) {
            case SQLITE_NULL: *c = cell_text(NULL); break;
            case SQLITE_FLOAT: *c = cell_num(sqlite3_column_double(st, (int)j)); break;
            case SQLITE_INTEGER: *c = cell_int(sqlite3_column_int64(st, (int)j)); break;
            default: *c = cell_text((const char *)sqlite3_column_text(st, (int)j)); break;
            }
        }
        if (fn && fn(ctx, nc, cells))
            break;
    }
    if (out == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        out = fail(s, rc, d);
    if (cells != small)
        free(cells);
    release(s, st, slot);
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
    cache_free(s);
    sqlite3_close(s->db);
}

static int64_t sq_last_id(cseg_store *s)
{
    return sqlite3_last_insert_rowid(s->db);
}

static const store_ops sqlite_ops = {
    "sqlite",
    "INTEGER PRIMARY KEY AUTOINCREMENT",
    "BEGIN IMMEDIATE",
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
    NULL, /* BEGIN IMMEDIATE: one writer at a time */
    "PRAGMA synchronous = FULL", /* WAL: the log is synced at each commit */
    sq_exec,
    sq_query,
    sq_bulk_begin,
    sq_bulk_row,
    sq_bulk_end,
    sq_close,
    sq_run,
    "PRAGMA wal_autocheckpoint = 4096", /* pages: 64 MiB (16 MiB in a store of 4 KiB pages) */
    "PRAGMA wal_checkpoint(PASSIVE)",
    "PRAGMA data_version",
    sq_last_id,
};

/* "file:PATH?immutable=1" with PATH's URI characters escaped; NULL when out
 * of memory. */
static char *immutable_uri(const char *path)
{
    size_t n = strlen(path);
    char *u = malloc(3 * n + 32), *o = u;
    if (!u)
        return NULL;
    /* An empty authority first: "file:" and a path starting "//" read the
     * next name as a host. */
    o += sprintf(o, path[0] == '/' ? "file://" : "file:");
    for (const char *p = path; *p; p++)
        o += *p == '%' || *p == '?' || *p == '#' ? sprintf(o, "%%%02X", (unsigned char)*p)
                                                 : (*o = *p, 1);
    strcpy(o, "?immutable=1");
    return u;
}

/* A store's tables and whether it has cseg_meta; *n_tables -1 when they
 * could not be read (sqlite3_errcode says why). */
static void count_tables(sqlite3 *db, int *n_tables, int *has_meta)
{
    sqlite3_stmt *st = NULL;
    *n_tables = -1;
    *has_meta = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*), coalesce(sum(name = 'cseg_meta'), 0) FROM "
                           "sqlite_master WHERE type = 'table'",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *n_tables = sqlite3_column_int(st, 0);
        *has_meta = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
}

int cseg__store_open_sqlite(cseg_store *s, const char *path, cseg_diag *d)
{
    sqlite3 *db = NULL;
    s->ops = &sqlite_ops;
    /* A store this user may read but not write (another account's, shared
     * for reading) is opened read-only by the commands that only read it
     * (runs, show, export); opened for writing, it was refused ("attempt to
     * write a readonly database"). */
    s->readonly = s->existing && access(path, W_OK) != 0 && access(path, R_OK) == 0;
    /* A store is used by one thread at a time: no mutex per call. */
    int rc = sqlite3_open_v2(path, &db,
                             (s->readonly ? SQLITE_OPEN_READONLY
                                          : SQLITE_OPEN_READWRITE |
                                                (s->existing ? 0 : SQLITE_OPEN_CREATE)) |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    s->db = db;
    if (rc != SQLITE_OK)
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open the store: %s",
                          db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(db, 30000); /* another writer: wait for it */
    if (s->existing) { /* a database without a store is left as it was: looked at, not set up */
        int n_tables, has_meta;
        count_tables(db, &n_tables, &has_meta);
        rc = sqlite3_errcode(db);
        /* Read-only in a folder this user cannot write: SQLite cannot make the
         * WAL's index file beside it. With no log there (no writer has the
         * store open: the last to close it removes the log), the file is the
         * whole store and is read as it is. */
        char *wal = NULL;
        if (n_tables < 0 && s->readonly &&
            ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY) &&
            (wal = malloc(strlen(path) + 5))) {
            sprintf(wal, "%s-wal", path);
            char *uri = access(wal, F_OK) != 0 ? immutable_uri(path) : NULL;
            if (uri) {
                sqlite3_close(db);
                db = NULL;
                rc = sqlite3_open_v2(uri, &db,
                                     SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                                     NULL);
                s->db = db;
                if (rc == SQLITE_OK)
                    count_tables(db, &n_tables, &has_meta);
                rc = db ? sqlite3_errcode(db) : rc;
                free(uri);
            }
        }
        free(wal);
        if (n_tables < 0 && s->readonly &&
            ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY))
            return cseg__diag(d, CSEG_EIO, path, 0, 0,
                              "cannot open the store: %s (it is read-only here, and a writer "
                              "has it open or its folder cannot be written)",
                              db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        if (n_tables < 0)
            return rc == SQLITE_NOTADB
                       ? cseg__diag(d, CSEG_EFORMAT, path, 0, 0, "not a custseg store: %s",
                                    sqlite3_errmsg(db))
                       : cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open the store: %s",
                                    sqlite3_errmsg(db));
        if (n_tables == 0)
            return cseg__diag(d, CSEG_EIO, path, 0, 0, "no store there (an empty database)");
        if (!has_meta)
            return cseg__diag(d, CSEG_EFORMAT, path, 0, 0,
                              "not a custseg store: it has no cseg_meta");
    }
    sqlite3_extended_result_codes(db, 0);
    /* WAL: readers see the store before or after a write, never during. */
    /* A 64 MiB page cache: a million memberships go in without spilling.
     * The last connection to close copies the WAL into the database and
     * removes it (SQLite's default), so a store nobody has open is one file
     * that can be copied alone: left for the next opener, a first run's
     * whole store lived in the -wal file, and a copy of the .db file alone
     * was an empty database. A new store gets pages of 16 KiB (SQLite's default is 4 KiB; a store
     * made before keeps its own): a commit writes its changed pages to the
     * log one write each, and the event writer's commits change hundreds;
     * batches of 1,000 events went 54,000 -> 58,000 a second (medians of 7
     * runs each), single events and run --db the same within the noise. */
    rc = sqlite3_exec(db,
                      s->readonly ? "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY"
                                  : "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; "
                                    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                                    "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc == SQLITE_NOTADB
                   ? cseg__diag(d, CSEG_EFORMAT, path, 0, 0,
                                "not a custseg store: %s", sqlite3_errmsg(db))
                   : cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open the store: %s",
                                sqlite3_errmsg(db));
    return 0;
}
