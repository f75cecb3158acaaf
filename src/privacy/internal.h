/* custseg — private declarations of the privacy module. */
#ifndef CSEG_PRIVACY_INTERNAL_H
#define CSEG_PRIVACY_INTERNAL_H

#include <stdint.h>

#include "custseg/table.h"

/* What cseg_pii_kind judges a text column by, counted over code[0..n) (a
 * level of column j each, < 0: missing): c[0] the values, c[1] the e-mail
 * addresses, c[2] the phone numbers, c[3] the free texts among them, c[4]
 * the distinct values used (c[0] UINT64_MAX: out of memory, no verdict).
 * used_levels (optional, one per level): whether the level is used. */
#define CSEG__PII_COUNTS 5
void cseg__pii_count(const cseg_table *t, size_t j, const int32_t *code, size_t n,
                     uint64_t c[CSEG__PII_COUNTS], unsigned char *used_levels);
/* The verdict on such counts (the first four added over pieces, the last
 * the distinct values of all): cseg_pii_kind's. */
const char *cseg__pii_verdict(const uint64_t c[CSEG__PII_COUNTS]);

#endif
