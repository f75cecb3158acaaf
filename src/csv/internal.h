/* custseg — CSV reader internals shared with the table loader. */
#ifndef CUSTSEG_CSV_INTERNAL_H
#define CUSTSEG_CSV_INTERNAL_H

#include <stdint.h>
#include "custseg/csv.h"

/* The raw window is followed by this many zero bytes, so word-at-a-time
 * scanners may read up to 16 bytes past the last byte of a block. */
#define CSEG_CSV_PAD 16

/* Line on which field j of the current record starts. */
long cseg__csv_line_of(const cseg_csv *r, size_t j);
/* Absolute input offset of the next unread byte. */
uint64_t cseg__csv_offset(const cseg_csv *r);
/* Expose up to about `want` buffered raw bytes holding whole records (ending
 * at a newline, or at the end of input) for the caller to parse itself.
 * Returns 1 with the block and the line it starts on, 0 when no whole record
 * fits, or a negative code. Nothing is consumed until cseg__csv_consume. */
int cseg__csv_block(cseg_csv *r, size_t want, const char **p, size_t *len, long *line,
                    cseg_diag *d);
/* Like cseg__csv_block, but from the whole input in memory (a plain file
 * mapped read-only, or a gzip file inflated at once with libdeflate): up to
 * `max` bytes of whole records from the next unread byte to the last newline
 * that leaves at least CSEG_CSV_PAD readable bytes after it. Returns 1 with
 * the block, or 0 when the input is not in memory (a pipe, a small file, a
 * gzip file without libdeflate or that it cannot read) or at its end. */
int cseg__csv_mapped_block(cseg_csv *r, size_t max, const char **p, size_t *len, long *line);
/* How far the reading is (cseg_table_read_params.progress). */
void cseg__csv_progress(const cseg_csv *r, uint64_t *done, uint64_t *total);
/* Mark len bytes holding `lines` line ends (a block from either function
 * above) as read. */
void cseg__csv_consume(cseg_csv *r, size_t len, long lines);

/* Shortest "%.*g" text (15..17 digits) that reads back to exactly v, with a
 * '.' decimal point whatever the locale. NaN/Inf give "". Returns length (parse.c). */
int cseg__format_double(char *buf, size_t size, double v);
/* Exact too, cheaper where the shortest text is long: the shortest text when
 * it has at most 15 digits in fixed notation, otherwise "%.17g" (not always
 * the shortest). For bulk writes (the store). */
int cseg__format_double_exact(char *buf, size_t size, double v);
/* The buffer size from which both take their fast path. */
#define CSEG_FORMAT_FAST_SIZE 24

#endif
