/* custseg — the store's back ends behind one set of operations. */
#ifndef CUSTSEG_STORE_INTERNAL_H
#define CUSTSEG_STORE_INTERNAL_H

#include <stdint.h>

#include "custseg/store.h"

/* A result row: nc values as text (NULL for SQL NULL); a double column is
 * written in its shortest exact form, so strtod gives the stored bits back.
 * Return nonzero to stop. */
typedef int (*store_row_fn)(void *ctx, size_t nc, const char *const *vals);

/* A value of a bulk row, by the column's type letter: 't' text in s (NULL:
 * SQL NULL), 'd' the double d (not finite: NULL), 'i' the integer i. Numbers
 * go in as numbers: no text made and parsed again per value (a million rows
 * per run). */
typedef struct store_val {
    const char *s;
    double d;
    int64_t i;
} store_val;

/* A value of a statement's parameters or of a result row, by kind: 'n'
 * NULL, 't' the text s, 'd' the double d, 'i' the integer i. Numbers stay
 * numbers where the back end allows (SQLite): a streamed event runs a dozen
 * statements, and making and parsing their numbers' text was a fifth of its
 * cost. A back end that takes text (PostgreSQL) gets the exact shortest text
 * and gives rows as text: read cells with cseg__cell_d and cseg__cell_i. */
typedef struct store_cell {
    char kind;
    const char *s;
    double d;
    int64_t i;
} store_cell;
typedef int (*store_cell_fn)(void *ctx, size_t nc, const store_cell *vals);
static inline store_cell cell_text(const char *x)
{
    return (store_cell){x ? 't' : 'n', x, 0, 0};
}
static inline store_cell cell_num(double x)
{
    return (store_cell){'d', NULL, x, 0};
}
static inline store_cell cell_int(int64_t x)
{
    return (store_cell){'i', NULL, 0, x};
}
/* A cell as a number: NaN (cell_d) or dflt (cell_i) for NULL. */
double cseg__cell_d(const store_cell *c);
int64_t cseg__cell_i(const store_cell *c, int64_t dflt);
/* Runs sql with cells for $1, $2 ... (a double that is not finite is NULL),
 * each result row to fn (NULL: none; nonzero stops): the back end's run, or
 * its query with the cells as text. */
int cseg__store_run(cseg_store *s, const char *sql, const store_cell *params, size_t np,
                    store_cell_fn fn, void *ctx, cseg_diag *d);

/* SQL is written once for both back ends: parameters are $1, $2 ... (each
 * used once, in order), and the schema's "@ID@" is replaced with the back
 * end's auto-increment key. Values travel as text; types (one letter per
 * value: 't' text, 'd' double, 'i' integer; NULL: all text) let a back end
 * bind numbers as numbers. */
typedef struct store_ops {
    const char *name;    /* "sqlite", "postgresql" */
    const char *id_type; /* the column type of an auto-increment key */
    const char *begin;   /* BEGIN of a write transaction */
    const char *table_exists; /* count(*) of tables named $1 */
    /* Locks held to the end of the transaction on the keys of $1, a text
     * array literal ({"a","b"}), for back ends whose BEGIN takes none; NULL
     * where BEGIN serialises writers (cseg__store_lock_customers). */
    const char *xact_lock;
    /* Makes every later COMMIT durable when it returns (on disk). */
    const char *durable;
    /* Statements without results (several, separated by ';', when np == 0). */
    int (*exec)(cseg_store *s, const char *sql, const char *types, const char *const *params,
                size_t np, cseg_diag *d);
    int (*query)(cseg_store *s, const char *sql, const char *types, const char *const *params,
                 size_t np, store_row_fn fn, void *ctx, cseg_diag *d);
    /* Bulk insert into table (cols, of types: one letter each, as for
     * store_val): begin, rows, end. In a transaction. SQLite: one prepared
     * statement; PostgreSQL: COPY FROM STDIN. */
    int (*bulk_begin)(cseg_store *s, const char *table, const char *const *cols,
                      const char *types, size_t nc, cseg_diag *d);
    int (*bulk_row)(cseg_store *s, const store_val *vals, cseg_diag *d);
    int (*bulk_end)(cseg_store *s, int commit, cseg_diag *d);
    void (*close)(cseg_store *s);
    /* Statements with typed cells (see store_cell); NULL: query with text. */
    int (*run)(cseg_store *s, const char *sql, const store_cell *params, size_t np,
               store_cell_fn fn, void *ctx, cseg_diag *d);
    /* cseg_store_defer_checkpoints and cseg_store_checkpoint (NULL: nothing to do). */
    const char *defer_checkpoints, *checkpoint;
    /* A number that changes when another connection commits (one row, one
     * column); NULL where the back end has none. */
    const char *data_version;
    /* The key of the row last inserted on this connection; NULL where the
     * back end gives it only with RETURNING. */
    int64_t (*last_id)(cseg_store *s);
} store_ops;

struct cseg_store {
    const store_ops *ops;
    void *db;        /* sqlite3 * or PGconn * */
    void *bulk;      /* the bulk insert under way */
    size_t bulk_nc;
    char bulk_types[32];
    char *uri;       /* for messages: the path, or the URI without its password */
    void *stmts;     /* the back end's prepared statements, kept for reuse */
    void *stream;    /* the event writer's cache of customers (stream.c) */
    int existing;    /* cseg_store_open_existing: make no schema */
    int readonly;    /* opened read-only: an existing SQLite file this user cannot write */
};

/* In the caller's transaction, the writers' lock on each key of ids (a
 * customer's id, or "cseg_schema"): PostgreSQL's advisory locks, all in one
 * statement in an order every writer shares; nothing where the back end has
 * none. */
int cseg__store_lock_customers(cseg_store *s, const char *const *ids, size_t n, cseg_diag *d);

/* The event writer's cache (stream.c): dropped when something else changes
 * the customers' state on this handle, freed on close. */
void cseg__stream_cache_drop(cseg_store *s);
void cseg__stream_cache_free(cseg_store *s);
/* In the caller's write transaction: the customers' states and daily sums
 * made current (stream.c, "states written behind"), before anything reads
 * or changes them. */
int cseg__stream_settle_in(cseg_store *s, cseg_diag *d);

/* Growing text (store.c): append n bytes, kept NUL-terminated; -1 when out
 * of memory. */
typedef struct store_buf {
    char *p;
    size_t len, cap;
} store_buf;
int cseg__store_buf_put(store_buf *b, const char *s, size_t n);
/* A store_row_fn: the first column of the first row, strdup'd into
 * *(char **)ctx (left NULL when there is none). */
int cseg__store_first_value(void *ctx, size_t nc, const char *const *vals);
/* The time now, ISO 8601 in UTC ("2026-12-04T17:40:33Z"). */
void cseg__store_now(char *buf, size_t size);
/* A PostgreSQL result's error on one line into buf (the primary message, or
 * the connection's), and the statement position, if any, into pos (pg.c). */
struct pg_result;
struct pg_conn;
void cseg__pg_message(const struct pg_result *res, const struct pg_conn *c, char *buf,
                      size_t size, char *pos, size_t pos_size);

int cseg__store_open_sqlite(cseg_store *s, const char *path, cseg_diag *d);
int cseg__store_open_pg(cseg_store *s, const char *uri, cseg_diag *d);

#endif
