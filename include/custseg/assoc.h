/* custseg — what each segment buys together: frequent itemsets and
 * association rules over baskets, for every segment in one pass.
 *
 * A basket is a set of distinct items: the products of one purchase invoice
 * of a transaction log (cseg_baskets_from_txn: returns and cancellations left
 * out), or one line of a basket file (cseg_baskets_read). Baskets may belong
 * to a segment (through their customer, cseg_baskets_set_segments); the
 * whole population is always mined too.
 *
 * Mining is Eclat over item bitmaps: the baskets are numbered segment after
 * segment, each segment starting on a 64-bit word, so that one pass over an
 * itemset's bitmap counts it in every segment at once. An itemset is
 * frequent in a group (a segment, or the population) when at least
 * min_support of that group's baskets hold it (at least one basket); the
 * search follows itemsets frequent in any group. Rules A -> B come from each
 * frequent itemset I = A u B of a group, every split into two non-empty
 * parts, kept when confidence >= min_confidence:
 *
 *   support     n(I) / n           confidence  n(I) / n(A)
 *   lift        confidence / (n(B) / n)
 *   leverage    n(I) / n - n(A) n(B) / n^2
 *   conviction  (1 - n(B) / n) / (1 - confidence)   (infinite when confidence is 1)
 *   lift_population  confidence / (N(B) / N): against B's share of all N baskets
 *   p_value     one-sided Fisher exact test that A and B occur together more
 *               often than by chance within the group (hypergeometric upper tail
 *               of n(I) given n, n(A), n(B); scipy.stats.fisher_exact's "greater")
 *
 * where n counts the group's baskets. Memory is bounded: a search that finds
 * more than max_itemsets frequent itemsets stops with CSEG_ETOOBIG and an
 * estimate of how many there would be.
 */
#ifndef CUSTSEG_ASSOC_H
#define CUSTSEG_ASSOC_H

#include "custseg/error.h"
#include "custseg/features.h"
#include "custseg/table.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cseg_baskets cseg_baskets;

/* One basket per record of a CSV file without a header: the fields of a
 * line are its items (blank fields skipped, an item given twice counted
 * once). An empty line is no basket (the CSV reader skips it); a line of
 * blank fields only is an error naming it (CSEG_EPARSE). */
CSEG_API int cseg_baskets_read(cseg_baskets **out, const char *path, char delimiter, cseg_diag *d);
/* The purchase invoices of a transaction log (read by cseg_txn_read, roles
 * resolved; needs invoice and product columns): a basket per invoice with
 * the distinct products of its purchase rows, the invoice's customer kept.
 * Rows without a customer, invoice or product, returns and cancellations
 * (as cseg_rfm_compute defines them) and rows on or after as_of_day
 * (CSEG_DAY_AUTO: none) are left out. label_column (a text column of txn,
 * e.g. a description; NULL: none) names the items: each product is called
 * by its most frequent label (ties: the first in byte order), with " [code]"
 * added when two products would share a name; products without one keep
 * their code. */
CSEG_API int cseg_baskets_from_txn(cseg_baskets **out, const cseg_table *txn,
                                   const cseg_txn_roles *roles, const char *label_column,
                                   int64_t as_of_day, cseg_diag *d);
/* Put each basket in its customer's segment, from a customers.csv of run
 * (id_column, segment 1..k, and segment_name read when present). Baskets of
 * customers not in the table stay outside every segment (counted in the
 * population only). Errors: CSEG_ENOCOL, CSEG_EINVAL (baskets without
 * customers, segments not 1..k). */
CSEG_API int cseg_baskets_set_segments(cseg_baskets *b, const cseg_table *customers,
                                       const char *id_column, cseg_diag *d);
CSEG_API void cseg_baskets_free(cseg_baskets *b);
CSEG_API size_t cseg_baskets_n(const cseg_baskets *b);
CSEG_API size_t cseg_baskets_n_items(const cseg_baskets *b);
/* Segments (0 without cseg_baskets_set_segments). */
CSEG_API size_t cseg_baskets_k(const cseg_baskets *b);

typedef struct cseg_assoc_params {
    double min_support;    /* share of a group's baskets, (0, 1]; default 0.01 */
    double min_confidence; /* [0, 1]; default 0.5 */
    size_t max_len;        /* largest itemset; 0 = no limit; default 0 */
    int closed;            /* rules only from closed itemsets (no superset has the same
                              count in the group); default 0 */
    size_t max_consequent; /* items on the right of a rule; 0 (default): any; 1: the
                              one-item right-hand sides of arules' apriori */
    size_t top;            /* rules kept per group, highest lift first; 0 (default): all */
    size_t max_itemsets;   /* frequent itemsets (all groups) before CSEG_ETOOBIG; default
                              5,000,000 */
} cseg_assoc_params;

CSEG_API void cseg_assoc_params_init(cseg_assoc_params *p);
/* NULL when p is usable, else a message naming the parameter. */
CSEG_API const char *cseg_assoc_params_check(const cseg_assoc_params *p);

typedef struct cseg_assoc cseg_assoc;

/* One rule; items are indices for cseg_assoc_item. group 0 is the
 * population, 1..k the segments. */
typedef struct cseg_assoc_rule {
    size_t group;
    const int32_t *antecedent, *consequent; /* sorted item indices (borrowed) */
    size_t n_antecedent, n_consequent;
    size_t count; /* baskets of the group holding every item */
    double support, confidence, lift, leverage, conviction, lift_population, p_value;
} cseg_assoc_rule;

CSEG_API int cseg_assoc_mine(cseg_assoc **out, const cseg_baskets *b, const cseg_assoc_params *p,
                             cseg_diag *d);
CSEG_API void cseg_assoc_free(cseg_assoc *r);
/* Groups: 1 + segments. Baskets of group g; its name ("All customers", or
 * the segment's name, else "Segment N"). */
CSEG_API size_t cseg_assoc_n_groups(const cseg_assoc *r);
CSEG_API size_t cseg_assoc_group_baskets(const cseg_assoc *r, size_t g);
CSEG_API const char *cseg_assoc_group_name(const cseg_assoc *r, size_t g);
/* Whether group g was mined: a segment of fewer than CSEG_ASSOC_MIN_BASKETS
 * baskets is not (its few baskets would make every subset of a large one
 * frequent); a segment's itemsets need at least 2 baskets. */
#define CSEG_ASSOC_MIN_BASKETS 20
CSEG_API int cseg_assoc_group_mined(const cseg_assoc *r, size_t g);
/* Frequent itemsets found (of any group) and, per group, how many. */
CSEG_API size_t cseg_assoc_n_itemsets(const cseg_assoc *r);
CSEG_API size_t cseg_assoc_group_itemsets(const cseg_assoc *r, size_t g);
/* Itemset i: its sorted items (*n of them) and its count in group g. */
CSEG_API const int32_t *cseg_assoc_itemset(const cseg_assoc *r, size_t i, size_t *n);
CSEG_API size_t cseg_assoc_itemset_count(const cseg_assoc *r, size_t i, size_t g);
/* Rules: by group, then highest lift first (ties: confidence, support, items). */
CSEG_API size_t cseg_assoc_n(const cseg_assoc *r);
CSEG_API const cseg_assoc_rule *cseg_assoc_rule_at(const cseg_assoc *r, size_t i);
CSEG_API const char *cseg_assoc_item(const cseg_assoc *r, int32_t item);
/* rules.csv: group, group_name, antecedent, consequent ("{a,b}"), n_items,
 * count, support, confidence, lift, leverage, conviction, lift_population,
 * p_value; written atomically. */
CSEG_API int cseg_assoc_write_csv(const cseg_assoc *r, const char *path, cseg_diag *d);

/* One-sided (greater) Fisher exact test p-value for a 2 x 2 table of n
 * baskets of which na hold A, nb hold B and nab both. */
CSEG_API double cseg_fisher_greater(size_t n, size_t na, size_t nb, size_t nab);

#ifdef __cplusplus
}
#endif
#endif
