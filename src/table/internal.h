/* custseg — private table helpers. */
#ifndef CUSTSEG_TABLE_INTERNAL_H
#define CUSTSEG_TABLE_INTERNAL_H

#include "custseg/table.h"
#include "../core/internal.h"

/* A new table that shares src's columns (not copied: src must outlive it and
 * stay unchanged) and owns only the columns added to it afterwards. */
int cseg__table_view(cseg_table **out, const cseg_table *src);

/* Cell (row i, column j) as text: a text level as it is, a number as written
 * to CSV (1 for 1.0), formatted into buf. NULL when missing (or a date-time). */
const char *cseg__table_cell_text(const cseg_table *t, size_t j, size_t i, char *buf,
                                  size_t size);

/* Rewrite text column j's levels: level k becomes levels[k] (equal new
 * levels merge). CSEG_EINVAL for a column that is not text or is a view's. */
int cseg__table_replace_levels(cseg_table *t, size_t j, const char *const *levels);

/* Whether column j holds no value at all (every number NaN, every text
 * code -1, every time missing; a table without rows too). Such a column
 * reads as numbers whatever it was meant to hold. */
int cseg__table_no_values(const cseg_table *t, size_t j);

/* Number column j's values to change in place (a one-row table reused for
 * every streamed event); NULL when j is not a number column. */
double *cseg__table_numbers_mut(cseg_table *t, size_t j);

/* Read a CSV file as cseg_table_read_csv does, but a chunk of rows at a
 * time: fn gets a table holding the rows read since its last call (their
 * lines and raw-record hashes too) and returns 0 to go on, or a negative
 * code (with its diag filled) to stop the reading with it. Text columns keep
 * one dictionary for the whole file, so a level's code is the same in every
 * chunk and the levels seen so far are all there. Every column must be
 * listed in p->specs with its type (skip_unlisted). Memory: a chunk's rows
 * and the dictionaries, not the file. *dict: the table with no rows left
 * and every level read (the caller frees it); NULL after an error. */
typedef int (*cseg__chunk_fn)(const cseg_table *chunk, void *user);

/* cseg_table_print_csv and cseg_table_write_csv telling fn, on the calling
 * thread, how many rows of the total are written (every few blocks, and
 * once at the end); fn returns nonzero to stop: CSEG_ECANCELED, and
 * write_csv leaves no file. */
typedef int (*cseg__rows_fn)(size_t done, size_t total, void *user);
int cseg__table_print_csv_fn(const cseg_table *t, FILE *f, cseg__rows_fn fn, void *user);
/* Rows [0, n) of CSV into f, in order: put(put_user, i0, i1, b) appends the
 * text of rows [i0, i1) to b; the threads format a block of rows each while
 * the block before is written. fn as above (may be NULL). *blocks counts the
 * blocks written over calls into the same file (start it at 0), *synced is
 * cseg__writeback's mark: the disk writes are started every few blocks, so a
 * sync at the end waits for the last of them only. 0, CSEG_ENOMEM, CSEG_EIO
 * or CSEG_ECANCELED. */
typedef void (*cseg__put_rows_fn)(void *user, size_t i0, size_t i1, cseg__buf *b);
int cseg__csv_write_rows(FILE *f, size_t n, cseg__put_rows_fn put, void *put_user,
                         cseg__rows_fn fn, void *user, size_t *blocks, long long *synced);
int cseg__table_write_csv_fn(const cseg_table *t, const char *path, cseg__rows_fn fn, void *user,
                             cseg_diag *d);
/* A cell as cseg_table_write_csv writes it, appended to b: text quoted
 * where needed; a number as an integer or its shortest exact form, NaN as
 * nothing. */
void cseg__csv_put_text(cseg__buf *b, const char *s);
void cseg__csv_put_number(cseg__buf *b, double v);
int cseg__table_read_chunks(const char *path, const cseg_table_read_params *p, cseg__chunk_fn fn,
                            void *user, cseg_table **dict, cseg_diag *d);

/* cseg__table_read_chunks of what read(read_user, ...) gives (the CSV text,
 * header first; cseg_csv_open_reader's contract), named `name` in messages. */
int cseg__table_read_chunks_from(cseg_read_fn read, void *read_user, const char *name,
                                 const cseg_table_read_params *p, cseg__chunk_fn fn, void *user,
                                 cseg_table **dict, cseg_diag *d);

/* A text id as the readers keep it (cseg_colspec.is_id): spaces and tabs
 * around it dropped, and "17850.0" is "17850" (ids exported from
 * spreadsheets). Moves *ps and shortens *plen. */
void cseg__id_normalize(const char **ps, size_t *plen);
/* Row i's line made first + i: a table read from a database's rows counts
 * records, not the lines of the temporary CSV (a text with line ends
 * spans several). */
void cseg__table_number_rows(cseg_table *t, long first);

/* The type a column left to inference takes from its first value (not
 * missing): number (an out-of-range one too), else date-time in
 * date_format (NULL: auto), else text. */
cseg_coltype cseg__table_infer(const char *s, size_t len, const char *date_format);

/* A value that does not fit the type its column had so far (a number
 * column's "abc"): the column becomes text, because of this value. */
typedef struct cseg__retype {
    size_t src; /* the CSV column */
    long line;
    cseg_coltype was; /* the type of the values before it */
    char val[64];     /* the value, shortened */
} cseg__retype;

/* One pass of cseg_table_read_csv over part of a file, for readers that
 * split a file between processes (src/mpi/table.c): what read() gives is
 * the file's header line, then whole lines of the file from its data line
 * line_add + 2 on. as_text (n_csv flags, a CSV column each): columns read
 * as text; hint (n_csv types, or NULL): the type an inferred column has
 * from the values before the part (CSEG_COL_AUTO: none yet). Returns 0 with
 * *out the part's rows (their lines the file's), 1 when a value does not
 * fit its inferred column (*stop: which, its line the file's; *out NULL),
 * or a negative code with d (its line the file's). */
int cseg__table_read_part(cseg_table **out, cseg_read_fn read, void *user, const char *name,
                          const cseg_table_read_params *p, const unsigned char *as_text,
                          size_t n_csv, const cseg_coltype *hint, long line_add, cseg__retype *stop,
                          cseg_diag *d);
/* Record why: the column read from CSV column why->src is text because of
 * it (cseg_table_text_because), unless a reason is there. 0 or CSEG_ENOMEM. */
int cseg__table_set_text_because(cseg_table *t, const cseg__retype *why);
/* The table's rows (values, text levels and codes, lines, hashes) appended
 * to b as one block of bytes for cseg__table_append_packed in another
 * process of the same job (native byte order). 0 or CSEG_ENOMEM. */
int cseg__table_pack(const cseg_table *t, cseg__buf *b);
/* Text column j's levels for a computation over pieces (comm; NULL: one
 * process): *lv (malloc'ed, *n of them, each malloc'ed) every piece's in
 * their order of first appearance (the column's own without comm), and *to
 * (malloc'ed, one per level of the column) each level's place among them.
 * Collective with comm: every piece returns the same code (NULLs on
 * failure). */
int cseg__table_split_levels(const cseg_table *t, size_t j, const cseg__split_comm *comm,
                             char ***lv, size_t *n, int32_t **to, cseg_diag *d);
/* Rows [i0, i1) of t as cseg_table_write_csv writes them (no header),
 * appended to b (b->failed on failure); fmt from cseg__table_csv_begin
 * (NULL: out of memory), freed by cseg__table_csv_end. */
void *cseg__table_csv_begin(const cseg_table *t);
void cseg__table_csv_rows(const cseg_table *t, const void *fmt, size_t i0, size_t i1, cseg__buf *b);
void cseg__table_csv_end(const cseg_table *t, void *fmt);
/* A table's columns (names, types; whether rows carry hashes) packed, and
 * a table of no rows made from them, for packed rows to be appended to.
 * 0, CSEG_ENOMEM or (a block that is no schema) CSEG_EINVAL. */
int cseg__table_pack_schema(const cseg_table *t, cseg__buf *b);
int cseg__table_from_schema(cseg_table **out, const char *p, size_t size);
/* Rows [i0, i1) of t packed the same way, a text column with only the
 * levels of those rows, in the order they first appear in them. */
int cseg__table_pack_rows(const cseg_table *t, size_t i0, size_t i1, cseg__buf *b);
/* The rows of a packed table appended to t, which has the same columns
 * with the same types: text levels new to t are added in the part's order
 * (as one reading of the rows in order adds them), codes mapped. 0,
 * CSEG_ENOMEM, CSEG_ETOOBIG, or CSEG_EINVAL when the block does not match. */
int cseg__table_append_packed(cseg_table *t, const char *p, size_t size, cseg_diag *d);

#endif
