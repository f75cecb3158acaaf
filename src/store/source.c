/* custseg — database sources: a table or a query of SQLite or PostgreSQL
 * read as a CSV file is read, so that roles, detection, cleaning and error
 * messages are those of a file (store.h: cseg_db_read_*).
 *
 * The rows go through a temporary CSV file (PostgreSQL writes it itself with
 * COPY ... TO STDOUT (FORMAT csv), the fastest way out of the server; SQLite
 * rows are written one by one) and then through the parallel CSV reader;
 * the database's column types become the reader's forced types. Simpler
 * than a second reader, and as fast: the CSV parser is not the bottleneck. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "../table/internal.h"
#include "pq.h"
#include "custseg/features.h"
#include "../core/internal.h"
#include "../csv/internal.h"

typedef struct dbsrc {
    const char *uri;   /* for messages: without its password */
    char shown[1024];
    const char *what;  /* "table orders" or "query" */
    char name[256];    /* the source in messages: the table's name, or "query" */
    FILE *f;           /* the temporary CSV */
    char path[4200];
    char **col;        /* column names and database types */
    cseg_coltype *type;
    size_t nc;
} dbsrc;

static void src_free(dbsrc *s)
{
    if (s->f)
        fclose(s->f);
    if (s->path[0] && strncmp(s->path, "/proc/", 6) != 0)
        unlink(s->path);
    for (size_t j = 0; j < s->nc; j++)
        free(s->col[j]);
    free(s->col);
    free(s->type);
}

static int add_col(dbsrc *s, const char *name, cseg_coltype t)
{
    char **nc = realloc(s->col, (s->nc + 1) * sizeof *nc);
    cseg_coltype *nt = realloc(s->type, (s->nc + 1) * sizeof *nt);
    if (nc)
        s->col = nc;
    if (nt)
        s->type = nt;
    if (!nc || !nt || !(s->col[s->nc] = cseg__strdup(name ? name : "")))
        return CSEG_ENOMEM;
    s->type[s->nc++] = t;
    return 0;
}

static void csv_text(FILE *f, const char *s, size_t len)
{
    if (!memchr(s, ',', len) && !memchr(s, '"', len) && !memchr(s, '\n', len) &&
        !memchr(s, '\r', len) && (len == 0 || (s[0] != ' ' && s[len - 1] != ' '))) {
        fwrite(s, 1, len, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

/* A type name of SQLite's declared types or PostgreSQL's. */
static cseg_coltype type_of_decl(const char *decl)
{
    if (!decl)
        return CSEG_COL_AUTO;
    char up[64];
    size_t i = 0;
    for (; decl[i] && i + 1 < sizeof up; i++)
        up[i] = (char)(decl[i] >= 'a' && decl[i] <= 'z' ? decl[i] - 32 : decl[i]);
    up[i] = 0;
    if (strstr(up, "INT") || strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB") ||
        strstr(up, "NUMERIC") || strstr(up, "DECIMAL"))
        return CSEG_COL_NUMBER;
    if (strstr(up, "DATE") || strstr(up, "TIME"))
        return CSEG_COL_DATETIME;
    if (strstr(up, "CHAR") || strstr(up, "TEXT") || strstr(up, "CLOB"))
        return CSEG_COL_TEXT;
    return CSEG_COL_AUTO;
}

/* ---- SQLite ---- */

static int sqlite_rows(dbsrc *s, const char *path, const char *sql, cseg_diag *d)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        rc = cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open the database: %s",
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 30000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = cseg__diag(d, sqlite3_errcode(db) == SQLITE_NOTADB ? CSEG_EFORMAT : CSEG_EPARSE, path,
                        0, 0, "%s: %s", s->what, sqlite3_errmsg(db));
        sqlite3_close(db);
        return rc;
    }
    int nc = sqlite3_column_count(st);
    rc = 0;
    for (int j = 0; j < nc && rc == 0; j++)
        rc = add_col(s, sqlite3_column_name(st, j), type_of_decl(sqlite3_column_decltype(st, j)));
    for (int j = 0; j < nc && rc == 0; j++) {
        if (j)
            fputc(',', s->f);
        csv_text(s->f, s->col[j], strlen(s->col[j]));
    }
    fputc('\n', s->f);
    size_t row = 0;
    int step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        row++;
        for (int j = 0; j < nc && rc == 0; j++) {
            char num[40];
            if (j)
                fputc(',', s->f);
            switch (sqlite3_column_type(st, j)) {
            case SQLITE_NULL: break;
            case SQLITE_INTEGER:
                fprintf(s->f, "%lld", (long long)sqlite3_column_int64(st, j));
                break;
            case SQLITE_FLOAT:
                if (!isfinite(sqlite3_column_double(st, j))) { /* a file could not hold it either */
                    rc = cseg__diag(d, CSEG_EPARSE, s->name, 0, 0,
                                    "row %zu: column \"%s\" holds %s, not a number custseg reads",
                                    row, s->col[j],
                                    isnan(sqlite3_column_double(st, j)) ? "NaN" : "an infinity");
                    break;
                }
                cseg__format_double(num, sizeof num, sqlite3_column_double(st, j));
                fputs(num, s->f);
                break;
            case SQLITE_BLOB:
                rc = cseg__diag(d, CSEG_EPARSE, s->name, 0, 0,
                                "row %zu: column \"%s\" holds binary data", row, s->col[j]);
                break;
            default:
                csv_text(s->f, (const char *)sqlite3_column_text(st, j),
                         (size_t)sqlite3_column_bytes(st, j));
            }
        }
        fputc('\n', s->f);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = cseg__diag(d, CSEG_EIO, path, 0, 0, "%s: %s", s->what, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* ---- PostgreSQL ---- */

static int pg_error(dbsrc *s, PGconn *c, PGresult *res, cseg_diag *d)
{
    char buf[400], at[24]; /* the fields live in res: copied before it is freed */
    cseg__pg_message(res, c, buf, sizeof buf, at, sizeof at);
    int code = cseg__pq.PQstatus(c) != CONNECTION_OK ? CSEG_EIO : CSEG_EPARSE;
    if (res)
        cseg__pq.PQclear(res);
    return at[0] ? cseg__diag(d, code, s->uri, 0, 0, "%s: %s (at character %s)", s->what, buf, at)
                 : cseg__diag(d, code, s->uri, 0, 0, "%s: %s", s->what, buf);
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* PostgreSQL's type oids (pg_type.h, stable since 7.x). */
static cseg_coltype type_of_oid(Oid t)
{
    switch (t) {
    case 20: case 21: case 23: case 26: case 700: case 701: case 1700: return CSEG_COL_NUMBER;
    case 1082: case 1114: case 1184: return CSEG_COL_DATETIME;
    case 25: case 1042: case 1043: case 19: return CSEG_COL_TEXT;
    default: return CSEG_COL_AUTO;
    }
}

/* The length of a statement without its final ';' and the comments and
 * blanks after it, which COPY (...) does not take. Quotes ('', "", $tag$)
 * and comments (--, slash-star) are skipped, so a ';' inside them stays. */
static size_t statement_end(const char *sql)
{
    size_t end = 0, i = 0, n = strlen(sql);
    while (i < n) {
        char c = sql[i];
        if (c == '-' && sql[i + 1] == '-') {
            while (i < n && sql[i] != '\n')
                i++;
        } else if (c == '/' && sql[i + 1] == '*') {
            const char *e = strstr(sql + i + 2, "*/");
            i = e ? (size_t)(e - sql) + 2 : n;
        } else if (c == '\'' || c == '"') {
            for (i++; i < n && sql[i] != c; i++)
                ;
            end = ++i;
        } else if (c == '$') {
            size_t t = i + 1;
            while (t < n && (sql[t] == '_' || (sql[t] >= 'a' && sql[t] <= 'z') ||
                             (sql[t] >= 'A' && sql[t] <= 'Z') || (sql[t] >= '0' && sql[t] <= '9')))
                t++;
            if (t < n && sql[t] == '$') { /* $tag$ ... $tag$ */
                char tag[64];
                size_t tl = t + 1 - i < sizeof tag ? t + 1 - i : sizeof tag - 1;
                memcpy(tag, sql + i, tl);
                tag[tl] = 0;
                const char *e = strstr(sql + t + 1, tag);
                i = e ? (size_t)(e - sql) + tl : n;
            } else {
                i++;
            }
            end = i;
        } else {
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';')
                end = i + 1;
            i++;
        }
    }
    return end;
}

static int pg_rows(dbsrc *s, const char *uri, const char *sql, cseg_diag *d)
{
    int rc = cseg__pq_load(d);
    if (rc < 0)
        return rc;
    PGconn *c = cseg__pq.PQconnectdb(uri);
    if (!c || cseg__pq.PQstatus(c) != CONNECTION_OK) {
        rc = pg_error(s, c, NULL, d);
        if (d && strncmp(d->msg, s->what, strlen(s->what)) == 0) {
            char why[sizeof d->msg]; /* a copy: the message is rewritten in place */
            snprintf(why, sizeof why, "%s", d->msg + strlen(s->what) + 2);
            rc = cseg__diag(d, CSEG_EIO, s->uri, 0, 0, "cannot connect to the database: %s", why);
        }
        cseg__pq.PQfinish(c);
        return rc;
    }
    cseg__pq.PQsetNoticeProcessor(c, quiet, NULL);
    /* Dates in ISO form, times in UTC: what the date parser reads. */
    /* Read-only: a DELETE ... RETURNING given as --query is refused by the server. */
    PGresult *res = cseg__pq.PQexec(c, "SET client_encoding = 'UTF8'; SET datestyle = 'ISO, YMD'; "
                              "SET TimeZone = 'UTC'; SET extra_float_digits = 3; "
                              "SET default_transaction_read_only = on");
    if (cseg__pq.PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_error(s, c, res, d);
        cseg__pq.PQfinish(c);
        return rc;
    }
    cseg__pq.PQclear(res);
    /* The columns and their types, without reading a row; a statement the
     * server refuses is refused here, with positions in the user's text. */
    res = cseg__pq.PQprepare(c, "", sql, 0, NULL);
    if (cseg__pq.PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_error(s, c, res, d);
        cseg__pq.PQfinish(c);
        return rc;
    }
    cseg__pq.PQclear(res);
    res = cseg__pq.PQdescribePrepared(c, "");
    if (cseg__pq.PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_error(s, c, res, d);
        cseg__pq.PQfinish(c);
        return rc;
    }
    for (int j = 0; j < cseg__pq.PQnfields(res) && rc == 0; j++)
        rc = add_col(s, cseg__pq.PQfname(res, j), type_of_oid(cseg__pq.PQftype(res, j)));
    cseg__pq.PQclear(res);
    size_t len = strlen(sql) + 64;
    char *q = malloc(len);
    if (!q) {
        cseg__pq.PQfinish(c);
        return CSEG_ENOMEM;
    }
    size_t sl = statement_end(sql);
    snprintf(q, len, "COPY (%.*s\n) TO STDOUT WITH (FORMAT csv, HEADER true)", (int)sl, sql);
    res = cseg__pq.PQexec(c, q);
    free(q);
    if (rc == 0 && cseg__pq.PQresultStatus(res) != PGRES_COPY_OUT) {
        rc = pg_error(s, c, res, d);
        cseg__pq.PQfinish(c);
        return rc;
    }
    cseg__pq.PQclear(res);
    char *buf;
    int n;
    while ((n = cseg__pq.PQgetCopyData(c, &buf, 0)) > 0) {
        if (rc == 0 && fwrite(buf, 1, (size_t)n, s->f) != (size_t)n)
            rc = cseg__diag(d, CSEG_EIO, s->path, 0, 0, "cannot write a temporary file");
        cseg__pq.PQfreemem(buf);
    }
    if (n == -2 && rc == 0)
        rc = pg_error(s, c, NULL, d);
    while ((res = cseg__pq.PQgetResult(c)) != NULL) {
        if (cseg__pq.PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
            rc = pg_error(s, c, res, d);
        else
            cseg__pq.PQclear(res);
    }
    cseg__pq.PQfinish(c);
    return rc;
}

/* ---- the source ---- */

static int quote_ident(char *dst, size_t size, const char *name)
{
    /* "schema.table": each part quoted; " doubled. */
    size_t o = 0;
    dst[o++] = '"';
    for (const char *p = name; *p; p++) {
        if (o + 4 >= size)
            return -1;
        if (*p == '.') {
            dst[o++] = '"';
            dst[o++] = '.';
            dst[o++] = '"';
            continue;
        }
        if (*p == '"')
            dst[o++] = '"';
        dst[o++] = *p;
    }
    if (o + 2 > size)
        return -1;
    dst[o++] = '"';
    dst[o] = 0;
    return 0;
}

static int is_pg(const char *uri)
{
    return strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0;
}

int cseg_db_is_uri(const char *s)
{
    return s && (is_pg(s) || strncmp(s, "sqlite:", 7) == 0);
}

/* Rows of the table or query into a temporary CSV file (s->path). */
static int fetch(dbsrc *s, const char *uri, const char *table, const char *query, cseg_diag *d)
{
    if ((!table) == (!query) || (table && !*table) || (query && !*query))
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                          "table or --query: a database source needs one of them");
    cseg_db_uri_redact(uri, s->shown, sizeof s->shown);
    s->uri = s->shown;
    s->what = table ? "table" : "query";
    snprintf(s->name, sizeof s->name, "%s", table ? table : "query");
    const char *tmp = getenv("TMPDIR");
    if (snprintf(s->path, sizeof s->path, "%s/custseg-db-XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
        (int)sizeof s->path)
        snprintf(s->path, sizeof s->path, "/tmp/custseg-db-XXXXXX");
    int fd = mkstemp(s->path);
    if (fd < 0 || !(s->f = fdopen(fd, "w+"))) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        s->path[0] = 0;
        return cseg__diag(d, CSEG_EIO, NULL, 0, 0, "cannot create a temporary file: %s",
                          strerror(e));
    }
    /* Unlinked at once and read through its descriptor: an interrupted run
     * (SIGTERM, kill -9) leaves no file behind. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (access(proc, R_OK) == 0 && unlink(s->path) == 0)
        snprintf(s->path, sizeof s->path, "%s", proc);
    char sql[1200];
    if (table) {
        char q[1100];
        if (quote_ident(q, sizeof q, table) < 0)
            return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "table: the name is too long");
        snprintf(sql, sizeof sql, "SELECT * FROM %s", q);
    }
    const char *stmt = table ? sql : query;
    int rc = is_pg(uri) ? pg_rows(s, uri, stmt, d)
                        : sqlite_rows(s, strncmp(uri, "sqlite:", 7) == 0 ? uri + 7 : uri, stmt, d);
    if (rc == 0 && (fflush(s->f) != 0 || ferror(s->f)))
        rc = cseg__diag(d, CSEG_EIO, s->path, 0, 0, "cannot write a temporary file");
    if (rc == 0 && s->nc == 0)
        rc = cseg__diag(d, CSEG_EEMPTY, s->name, 0, 0, "the %s has no columns", s->what);
    return rc;
}

/* The record (1: the header) that line `line` of the temporary CSV is in: a
 * quoted text with line ends spans several lines. 0 when it cannot tell. */
static long record_of_line(const char *path, long line)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    long ln = 1, rec = 1;
    int quoted = 0, c;
    while (ln < line && (c = getc(f)) != EOF) {
        if (c == '"')
            quoted = !quoted; /* "" inside a quoted field toggles twice */
        else if (c == '\n') {
            ln++;
            rec += !quoted;
        }
    }
    fclose(f);
    return ln == line ? rec : 0;
}

/* A message about the temporary file, about the source: the record of line
 * L is row L - 1 (the header is line 1). */
static int blame_source(const dbsrc *s, int rc, cseg_diag *d)
{
    if (rc >= 0 || !d || strcmp(d->file, s->path) != 0)
        return rc;
    char msg[sizeof d->msg];
    snprintf(msg, sizeof msg, "%s", d->msg);
    long rec = d->line > 1 ? record_of_line(s->path, d->line) : 0;
    if (rec > 1)
        cseg__diag(d, rc, s->name, 0, 0, "row %ld: %s", rec - 1, msg);
    else
        cseg__diag(d, rc, s->name, 0, 0, "%s", msg);
    return rc;
}

/* Fetch the rows into a temporary CSV and read it as a table (roles NULL)
 * or as a transaction log. */
static int read_source(cseg_table **out, const char *uri, const char *table, const char *query,
                       cseg_txn_roles *roles, const cseg_table_read_params *rp, cseg_diag *d)
{
    dbsrc s;
    memset(&s, 0, sizeof s);
    *out = NULL;
    cseg_colspec *spec = NULL;
    int rc = fetch(&s, uri, table, query, d);
    cseg_table_read_params p;
    cseg_table_read_params_init(&p);
    if (rp)
        p = *rp;
    cseg_csv_params_init(&p.csv);
    p.csv.delimiter = ',';
    if (rc == 0 && !roles) {
        /* The caller's forced types first, then the database's. */
        size_t ns = 0;
        if (!(spec = calloc(s.nc + p.n_specs + 1, sizeof *spec)))
            rc = CSEG_ENOMEM;
        for (size_t j = 0; spec && j < p.n_specs; j++)
            spec[ns++] = p.specs[j];
        for (size_t j = 0; spec && j < s.nc; j++) {
            int given = 0;
            for (size_t q = 0; q < p.n_specs; q++)
                given |= strcmp(p.specs[q].name, s.col[j]) == 0;
            if (!given && s.type[j] != CSEG_COL_AUTO)
                spec[ns++] = (cseg_colspec){s.col[j], s.type[j], 0};
        }
        p.specs = spec;
        p.n_specs = ns;
    }
    if (rc == 0)
        rc = blame_source(&s, roles ? cseg_txn_read(out, s.path, roles, &p, d)
                                    : cseg_table_read_csv(out, s.path, &p, d),
                          d);
    if (rc == 0) /* a row's "line" is its record: row i + 1 is line i + 2, header first */
        cseg__table_number_rows(*out, 2);
    free(spec);
    src_free(&s);
    return rc;
}

int cseg_db_read_table(cseg_table **out, const char *uri, const char *table, const char *query,
                       const cseg_table_read_params *rp, cseg_diag *d)
{
    return read_source(out, uri, table, query, NULL, rp, d);
}

int cseg_db_read_txn(cseg_table **out, const char *uri, const char *table, const char *query,
                     cseg_txn_roles *roles, const cseg_table_read_params *rp, cseg_diag *d)
{
    return read_source(out, uri, table, query, roles, rp, d);
}
