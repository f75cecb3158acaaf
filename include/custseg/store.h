/* custseg — the segment store: runs, segments, memberships, customer state
 * and events, kept in SQLite (the embedded default) or PostgreSQL behind one
 * interface (docs/store.md has the schema, in SQL).
 *
 * A store is named by a URI: "postgresql://..." or "postgres://..." (libpq
 * connection URI) is PostgreSQL; "sqlite:PATH" or any other text is the
 * path of an SQLite file, created when absent. Opening creates the schema on
 * first use and migrates an older one forward; a store written by a newer
 * custseg (a higher schema version) is refused with CSEG_EFORMAT.
 *
 * Every write is one transaction: a run is stored whole or not at all, and
 * readers see the store before or after it. Numbers are stored as 8-byte
 * IEEE doubles and come back bit for bit.
 */
#ifndef CUSTSEG_STORE_H
#define CUSTSEG_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "custseg/error.h"
#include "custseg/features.h"
#include "custseg/segment.h"
#include "custseg/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The schema this custseg writes (the custseg_meta row schema_version). */
#define CSEG_STORE_SCHEMA_VERSION 6
/* The longest customer id a store keeps, in bytes (a PostgreSQL index
 * entry holds at most about 2,700); a longer one is refused. */
#define CSEG_STORE_ID_MAX 2000

/* One connection to a store. Used by one thread at a time (threads that
 * write at once each open their own: the database serialises them). */
typedef struct cseg_store cseg_store;

/* Open (create, migrate) the store at uri. Errors: CSEG_EIO (cannot open or
 * connect: the message is the database's, on one line), CSEG_EFORMAT (not a
 * custseg store, or a newer schema). */
CSEG_API int cseg_store_open(cseg_store **out, const char *uri, cseg_diag *d);
/* cseg_store_open of a store that is there already, for readers and
 * erasers: a database without one is left as it is (no schema made, an
 * SQLite file not even switched to its write-ahead log): CSEG_EIO for an
 * empty one ("no store there"), CSEG_EFORMAT for one with other tables. */
CSEG_API int cseg_store_open_existing(cseg_store **out, const char *uri, cseg_diag *d);
CSEG_API void cseg_store_close(cseg_store *s);
/* From now on a COMMIT of this connection is on disk when it returns
 * (SQLite: synchronous = FULL on its write-ahead log; PostgreSQL:
 * synchronous_commit = on). Runs are stored without it: a power cut may lose
 * the last run (never corrupt the store); a service that acknowledges
 * events needs it. */
CSEG_API int cseg_store_durable(cseg_store *s, cseg_diag *d);
/* Checkpoints: SQLite copies its write-ahead log into the database file
 * every 1,000 pages or so, in the commit that crosses the mark, so now and
 * then one commit waits for a copy of everything before it. A service whose
 * writer must not wait defers them on the writer's connection (the writer
 * then checkpoints only past 64 MiB of log, should nobody else) and calls
 * cseg_store_checkpoint often from another thread with a connection of its
 * own: it copies what it can without blocking anyone (SQLite's PASSIVE
 * checkpoint). PostgreSQL: both do nothing (the server checkpoints). */
CSEG_API int cseg_store_defer_checkpoints(cseg_store *s, cseg_diag *d);
CSEG_API int cseg_store_checkpoint(cseg_store *s, cseg_diag *d);
/* "sqlite" or "postgresql". */
CSEG_API const char *cseg_store_backend(const cseg_store *s);

/* What a stored run records beside the segmentation itself. */
typedef struct cseg_store_run_info {
    const char *command;      /* "run" or "fit"; default "run" */
    const char *input_sha256; /* hex SHA-256 of the input's bytes, or NULL (a database source) */
    const char *params_json;  /* every parameter, a JSON object; NULL: "{}" */
    /* Called, when not NULL, once everything is written and before COMMIT,
     * with confirm_ctx: 0 commits; a negative CSEG_E* code rolls the run
     * back and is returned (its message in d, set by the callback). Lets a
     * caller store the run while it writes other outputs, and keep it only
     * if those were written. Default NULL. */
    int (*confirm)(void *confirm_ctx, cseg_diag *d);
    void *confirm_ctx;
} cseg_store_run_info;

/* Store a finished segmentation as a new run (its id in *run_id): the run
 * (time, versions, input, parameters, metrics, segments.json, model.json),
 * its segments and one membership per customer (segment, distance,
 * probabilities, features). A run from a transaction log also sets each
 * of its customers' running state. One transaction. Reads r only: other
 * threads may read r (write its files) meanwhile. */
CSEG_API int cseg_store_put_run(cseg_store *s, const cseg_segmentation *r,
                                const cseg_store_run_info *info, int64_t *run_id, cseg_diag *d);

/* One stored run, as listed by cseg_store_runs (strings borrowed until the
 * callback returns). */
typedef struct cseg_store_run {
    int64_t run_id;
    const char *created_at; /* ISO 8601, UTC */
    const char *custseg_version;
    const char *command;
    const char *input_name;
    const char *input_sha256; /* NULL for a database source */
    const char *input_kind;   /* "transactions" or "customers" */
    const char *algorithm;
    size_t k, n_customers;
    double silhouette; /* NaN when not defined */
} cseg_store_run;

/* Call fn for every run, newest first; fn returns nonzero to stop. */
typedef int (*cseg_store_run_fn)(const cseg_store_run *run, void *ctx);
CSEG_API int cseg_store_runs(cseg_store *s, cseg_store_run_fn fn, void *ctx, cseg_diag *d);
/* The newest run's id, or 0 in an empty store. */
CSEG_API int cseg_store_last_run(cseg_store *s, int64_t *run_id, cseg_diag *d);
/* The segments.json (or model.json) text of a run (malloc'd). CSEG_EEMPTY:
 * no such run. */
CSEG_API int cseg_store_run_segments_json(cseg_store *s, int64_t run_id, char **out, cseg_diag *d);
CSEG_API int cseg_store_run_model_json(cseg_store *s, int64_t run_id, char **out, cseg_diag *d);

/* One membership of a run (borrowed until the callback returns): the
 * customer's features as a JSON object of the customer table's columns. */
typedef struct cseg_store_member {
    const char *customer_id;
    int segment; /* 1..k */
    const char *segment_name;
    double distance;         /* NaN when none (a DBSCAN outlier far from any core point) */
    const char *proba_json;  /* "[0.1, 0.9]" for mixtures, else NULL */
    const char *features_json;
} cseg_store_member;

typedef int (*cseg_store_member_fn)(const cseg_store_member *m, void *ctx);
/* Memberships of run_id in the order of the run's customers.csv, all segments (segment 0) or
 * one (1..k). CSEG_EEMPTY: no such run. */
CSEG_API int cseg_store_members(cseg_store *s, int64_t run_id, int segment,
                                cseg_store_member_fn fn, void *ctx, cseg_diag *d);

/* Audience lists from a stored run. */
typedef struct cseg_export_params {
    int64_t run_id;           /* 0 (default): the newest run */
    int segment;              /* 0 (default): every segment; else 1..k */
    const char *segment_name; /* or one segment by its exact name; NULL (default) */
    int jsonl;                /* 0 (default): CSV (RFC 4180, a header); 1: JSON Lines */
    const char *const *fields; /* NULL (default): customer_id, segment, segment_name, distance,
                                  then every feature of the run's customer table */
    size_t n_fields;
    size_t min_segment_size;  /* segments with fewer customers are left out; default 10 */
    const unsigned char *pseudonym_key; /* customer_id written as its pseudonym (privacy.h);
                                           NULL (default): as stored */
    size_t pseudonym_key_len;
    cseg_log_fn log;          /* hears of each segment left out (CSEG_LOG_NOTE); optional */
    void *log_user;
} cseg_export_params;

CSEG_API void cseg_export_params_init(cseg_export_params *p);

/* Write the customers of a run, one row per customer in the order of the
 * run's customers.csv,
 * to path (atomically: a temporary file renamed into place) or, with path
 * NULL, to f. Fields: customer_id, segment (1..k), segment_name, distance,
 * p_segment_1..k (mixtures), and any feature column of the run; numbers in
 * their shortest exact form. *rows (optional) receives the rows written.
 * Errors: CSEG_EEMPTY (no such run or segment), CSEG_EPARAM (an unknown
 * field; the message names it), CSEG_EIO. */
CSEG_API int cseg_store_export(cseg_store *s, const cseg_export_params *p, const char *path,
                               FILE *f, size_t *rows, cseg_diag *d);

/* The SHA-256 of a file's bytes as 64 lower-case hex digits (a run's
 * input_sha256). */
CSEG_API int cseg_store_sha256_file(const char *path, char hex[65], cseg_diag *d);

/* ---- database sources ----
 * A table (table, "name" or "schema.name") or a query (query, any SELECT)
 * of a database read as a CSV file is read: the same roles, detection and
 * messages, which name the table (or "query") and the row ("orders: row 17:
 * expected a number in column \"Quantity\", got \"abc\""). The database's column
 * types (numbers, dates and times, text) are the columns' types; a column
 * the database does not type (an SQLite expression) is typed from its values.
 * uri: "sqlite:PATH" (opened read-only) or "postgresql://..."; the database
 * is never written. Errors: CSEG_EIO (cannot open or connect), CSEG_EPARSE
 * (the database refused the statement: its message, one line), and those of
 * cseg_table_read_csv and cseg_txn_read. */
CSEG_API int cseg_db_is_uri(const char *s); /* "sqlite:..." or "postgresql://..." */
/* The URI with its password left out, for messages and records: a
 * database's (PostgreSQL's password= and sslpassword= parameters too) or any
 * scheme://user:password@host one (a webhook's). */
CSEG_API void cseg_db_uri_redact(const char *uri, char *out, size_t size);
CSEG_API int cseg_db_read_table(cseg_table **out, const char *uri, const char *table,
                                const char *query, const cseg_table_read_params *rp,
                                cseg_diag *d);
CSEG_API int cseg_db_read_txn(cseg_table **out, const char *uri, const char *table,
                              const char *query, cseg_txn_roles *roles,
                              const cseg_table_read_params *rp, cseg_diag *d);

/* What cseg_store_forget removed. */
typedef struct cseg_store_forgotten {
    size_t memberships, states, events, changes;
    size_t customers; /* the distinct customers of which something was removed */
} cseg_store_forgotten;

/* Erase the n customers from every run's memberships, the customer state,
 * the events and the segment changes (one transaction). Run and segment
 * profiles keep their aggregates. Ids are taken as the readers keep them
 * (spaces around dropped, "17850.0" is "17850"). */
CSEG_API int cseg_store_forget(cseg_store *s, const char *const *ids, size_t n,
                               cseg_store_forgotten *out, cseg_diag *d);

#ifdef __cplusplus
}
#endif
#endif
