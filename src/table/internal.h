/* custseg — private table helpers. */
#ifndef CUSTSEG_TABLE_INTERNAL_H
#define CUSTSEG_TABLE_INTERNAL_H

#include "custseg/table.h"

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

/* Number column j's values to change in place (a one-row table reused for
 * every streamed event); NULL when j is not a number column. */
double *cseg__table_numbers_mut(cseg_table *t, size_t j);

#endif
