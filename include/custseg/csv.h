/* custseg — streaming CSV reader.
 *
 * Reads RFC 4180 CSV record by record without ever holding the whole file:
 * quoted fields with "" escapes and embedded newlines, LF or CRLF line ends,
 * UTF-8 with or without a byte-order mark, a delimiter auto-detected among
 * `,` `;` TAB `|` from the header line, and gzip input read transparently
 * (zlib) whatever the file name. Memory is bounded by the longest record
 * (cseg_csv_params.max_record), so a 50 MB line is refused, not swallowed.
 */
#ifndef CUSTSEG_CSV_H
#define CUSTSEG_CSV_H

#include <stddef.h>
#include "custseg/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cseg_csv cseg_csv;

typedef struct cseg_csv_params {
    char delimiter;    /* 0 (default): detect among , ; TAB | from the first line */
    int has_header;    /* default 1: the first record names the columns */
    size_t max_record; /* default 16 MiB: longer records fail with CSEG_ETOOBIG */
} cseg_csv_params;

/* One field of the current record: NUL-terminated, quotes removed. */
typedef struct cseg_csv_field {
    const char *ptr;
    size_t len;
    int quoted; /* the field was written between quotes */
} cseg_csv_field;

/* A byte source: fill buf with up to size bytes; return the count, 0 at the
 * end, or a negative CSEG_E* code. Used for tests and in-memory data. */
typedef long (*cseg_read_fn)(void *user, void *buf, size_t size);

CSEG_API void cseg_csv_params_init(cseg_csv_params *p);

/* Open a file (plain or gzip). With a header, the header is read here, so
 * cseg_csv_n_columns() is known on return. Errors: CSEG_EIO (cannot open,
 * read error, truncated gzip), CSEG_EEMPTY (no bytes, or no header line),
 * CSEG_EPARSE, CSEG_ETOOBIG, CSEG_ENOMEM; diag is filled when given. */
CSEG_API int cseg_csv_open(cseg_csv **out, const char *path, const cseg_csv_params *p,
                           cseg_diag *diag);
/* Same over a caller's byte source; name is used in diagnostics. The source
 * must outlive the reader. */
CSEG_API int cseg_csv_open_reader(cseg_csv **out, cseg_read_fn fn, void *user, const char *name,
                                  const cseg_csv_params *p, cseg_diag *diag);
CSEG_API void cseg_csv_close(cseg_csv *r);

/* Read the next record. Returns 1 with *fields and *n_fields set (valid until the
 * next call), 0 at the end of input, or a negative code with diag filled.
 * Blank lines are skipped. */
CSEG_API int cseg_csv_next(cseg_csv *r, const cseg_csv_field **fields, size_t *n_fields,
                           cseg_diag *diag);

CSEG_API size_t cseg_csv_n_columns(const cseg_csv *r);
/* Header name of column j (borrowed), or NULL without a header / out of range. */
CSEG_API const char *cseg_csv_column_name(const cseg_csv *r, size_t j);
CSEG_API char cseg_csv_delimiter(const cseg_csv *r);
/* 1-based line on which the current record starts. */
CSEG_API long cseg_csv_line(const cseg_csv *r);
/* 1-based column (byte offset + 1 within its line) where field j of the
 * current record starts. */
CSEG_API long cseg_csv_column_of(const cseg_csv *r, size_t j);

/* Parse a decimal number (optional sign, digits, '.', exponent, "inf"/"nan"
 * refused) from s[0..len). Surrounding spaces are allowed. Correctly rounded:
 * a fast exact path for up to 19 significant digits and |exponent| <= 22,
 * strtod in the C locale otherwise. Returns 0, CSEG_EPARSE, or CSEG_ERANGE for
 * a number beyond the double range (such as 1e309; tiny ones round to 0).
 * Thread-safe. */
CSEG_API int cseg_parse_double(const char *s, size_t len, double *out);

/* Parse a date or date-time into seconds since 1970-01-01 00:00 (the clock
 * time as written; no time zones). Without fmt, accepts ISO 8601
 * (YYYY-MM-DD, YYYY-MM-DD[ T]HH:MM[:SS[.fff]][Z|+00|+00:00|+0000]), YYYYMMDD, US
 * M/D/YY[YY][ H:MM[:SS]] and D-M-YYYY[ H:MM[:SS]]. With fmt, uses strptime
 * syntax. A leap second (:60) counts as :59, in its minute and day. Returns 0
 * or CSEG_EPARSE. Thread-safe. */
CSEG_API int cseg_parse_datetime(const char *s, size_t len, const char *fmt, long long *out);

/* Write a day number (days since 1970-01-01) as "YYYY-MM-DD" into buf.
 * Returns the length, as snprintf. Thread-safe. */
CSEG_API int cseg_format_date(long long day, char *buf, size_t size);

/* Is the field one of the missing-value spellings: empty, NA, N/A, NaN,
 * NULL (any case, surrounding spaces ignored)? */
CSEG_API int cseg_is_missing(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
