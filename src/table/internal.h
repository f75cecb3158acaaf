/* custseg — private table helpers. */
#ifndef CUSTSEG_TABLE_INTERNAL_H
#define CUSTSEG_TABLE_INTERNAL_H

#include "custseg/table.h"

/* A new table that shares src's columns (not copied: src must outlive it and
 * stay unchanged) and owns only the columns added to it afterwards. */
int cseg__table_view(cseg_table **out, const cseg_table *src);

#endif
