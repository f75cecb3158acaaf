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
/* Size in bytes of a plain (uncompressed) input file, else 0. */
uint64_t cseg__csv_plain_size(const cseg_csv *r);
/* Expose up to about `want` buffered raw bytes holding whole records (ending
 * at a newline, or at the end of input) for the caller to parse itself.
 * Returns 1 with the block and the line it starts on, 0 when no whole record
 * fits, or a negative code. Nothing is consumed until cseg__csv_consume. */
int cseg__csv_block(cseg_csv *r, size_t want, const char **p, size_t *len, long *line,
                    cseg_diag *d);
/* Mark len bytes holding `lines` line ends as read. */
void cseg__csv_consume(cseg_csv *r, size_t len, long lines);

#endif
