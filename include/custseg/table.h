/* custseg — typed column table.
 *
 * A table holds named columns of one type each: numbers (double, NaN is
 * missing), text (dictionary-encoded: int32 codes into a list of distinct
 * levels, -1 is missing) or date-times (int64 seconds since 1970, CSEG_TIME_NA
 * is missing). Transaction logs, customer feature tables and outputs are all
 * tables. Reading streams the CSV: each column is typed from its values (a
 * column is a number column when every non-missing value is a number); when a
 * late value contradicts the type chosen so far, the file is read once more
 * with that column as text.
 */
#ifndef CUSTSEG_TABLE_H
#define CUSTSEG_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "custseg/csv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CSEG_TIME_NA INT64_MIN

typedef enum cseg_coltype {
    CSEG_COL_AUTO = 0, /* infer (read only) */
    CSEG_COL_NUMBER,
    CSEG_COL_TEXT,
    CSEG_COL_DATETIME,
    CSEG_COL_SKIP /* do not load (read only) */
} cseg_coltype;

/* How to read one named column. */
typedef struct cseg_colspec {
    const char *name;  /* header name, matched exactly */
    cseg_coltype type; /* forced type; a value that does not fit is an error */
    int is_id;         /* text id: trimmed, and "17850.0" is read as "17850" */
} cseg_colspec;

typedef struct cseg_table_read_params {
    cseg_csv_params csv;
    const char *date_format;    /* strptime format for date-times; NULL: auto */
    const cseg_colspec *specs;  /* forced types by name; default none */
    size_t n_specs;
    int skip_unlisted;          /* 1: load only the columns in specs (default 0) */
    int row_hash;               /* 1: keep a 64-bit hash of each raw record (default 0) */
    int n_threads;              /* parsing threads; 0 (default): all cores */
    int record_by_record;       /* 1: never use the parallel block parser (it gives the same
                                   table; for testing and comparison); default 0 */
    /* Called after each block of rows with the bytes of the input read so
     * far and its size, both of the file as stored (a gzip file's compressed
     * bytes) or both of the data (a gzip file inflated at once); total 0 when
     * unknown (a pipe). Nonzero stops the reading with CSEG_ECANCELED. NULL
     * (default): not called. */
    int (*progress)(uint64_t done, uint64_t total, void *user);
    void *progress_user;
} cseg_table_read_params;

typedef struct cseg_table cseg_table;

CSEG_API void cseg_table_read_params_init(cseg_table_read_params *p);

/* Read a CSV file (plain or gzip) into a new table. A column named in specs
 * but absent from the header fails with CSEG_ENOCOL. Values that do not fit a
 * forced type fail with CSEG_EPARSE and a diag such as
 * `data.csv:17:4: expected a number in column "Quantity", got "abc"`. */
CSEG_API int cseg_table_read_csv(cseg_table **out, const char *path,
                                 const cseg_table_read_params *p, cseg_diag *diag);

/* An empty table of n_rows rows, to be filled with cseg_table_add_*. */
CSEG_API int cseg_table_create(cseg_table **out, size_t n_rows);
CSEG_API void cseg_table_free(cseg_table *t);

/* Append a column; values are copied. Names must be unique (CSEG_EINVAL). */
CSEG_API int cseg_table_add_numbers(cseg_table *t, const char *name, const double *values);
/* Text column from n_levels distinct strings and per-row codes (-1 missing). */
CSEG_API int cseg_table_add_text(cseg_table *t, const char *name, const char *const *levels,
                                 size_t n_levels, const int32_t *codes);

CSEG_API size_t cseg_table_n_rows(const cseg_table *t);
CSEG_API size_t cseg_table_n_cols(const cseg_table *t);
CSEG_API const char *cseg_table_col_name(const cseg_table *t, size_t j);
CSEG_API cseg_coltype cseg_table_col_type(const cseg_table *t, size_t j);
/* Index of the column with this name, or -1. */
CSEG_API long cseg_table_find(const cseg_table *t, const char *name);
/* Column data (borrowed; NULL when the column is of another type). */
CSEG_API const double *cseg_table_numbers(const cseg_table *t, size_t j);
CSEG_API const int64_t *cseg_table_times(const cseg_table *t, size_t j);
CSEG_API const int32_t *cseg_table_codes(const cseg_table *t, size_t j);
CSEG_API size_t cseg_table_n_levels(const cseg_table *t, size_t j);
CSEG_API const char *cseg_table_level(const cseg_table *t, size_t j, int32_t code);
/* Per-row raw-record hashes when read with row_hash, else NULL. */
CSEG_API const uint64_t *cseg_table_row_hashes(const cseg_table *t);
/* Source line of row i when read from a file, else 0. */
CSEG_API long cseg_table_row_line(const cseg_table *t, size_t i);
/* Why column j (read from a file, its type inferred) is text although its
 * first values were numbers or dates: the value that was neither (shortened),
 * with its line and the type the values before it had; NULL when the column
 * was never anything but text. */
CSEG_API const char *cseg_table_text_because(const cseg_table *t, size_t j, long *line,
                                             cseg_coltype *was);

/* Write the table as CSV (comma, header, RFC 4180 quoting, numbers with
 * %.17g shortest round-trip form, missing as empty) to a temporary file in
 * the same directory, then rename it over path: path is never half-written.
 * Errors: CSEG_EIO with diag naming the file. */
/* A customer id as an id column reads it (cseg_colspec.is_id): *s and *len
 * narrowed to the text without surrounding spaces and tabs, and without a
 * fraction of zeros after digits ("17850.0" is "17850"). */
CSEG_API void cseg_id_normalize(const char **s, size_t *len);

CSEG_API int cseg_table_write_csv(const cseg_table *t, const char *path, cseg_diag *diag);

/* The same CSV text to an open stream (e.g. stdout), rows formatted in
 * blocks on the default number of threads (the same bytes for any). Returns
 * 0, CSEG_EIO or CSEG_ENOMEM. */
CSEG_API int cseg_table_print_csv(const cseg_table *t, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
