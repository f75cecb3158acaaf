/* custseg — money helpers shared by the batch features and the stream. */
#ifndef CUSTSEG_FEATURES_INTERNAL_H
#define CUSTSEG_FEATURES_INTERNAL_H

#include <stddef.h>

/* Neumaier's compensated sum (money.c). */
typedef struct cseg__exact_sum {
    double s, c;
} cseg__exact_sum;

void cseg__add_exact(cseg__exact_sum *a, double x);
double cseg__exact_value(const cseg__exact_sum *a);
/* amount / count in the minor unit, rounded half away from zero. */
double cseg__money_per(double amount, size_t count, int decimals);
/* Money rounded to the minor unit (decimals < 0: as it is); never -0. */
double cseg__money(double x, int decimals);

/* A value's R, F or M score from the 4 edges of cseg_rfm_edges
 * (higher_better: lo edges, F and M; else hi edges, R) (rfm.c). */
double cseg__edge_score(double v, const double *edge, int higher_better);

/* A transaction log's customers built row by row (acc.c): the cleaning and
 * features of cseg_rfm_compute, fed a table or a chunk of one at a time.
 * full: every row kept in mind for the duplicate check; else the last
 * `window` rows (0: the default), and a duplicate the window cannot judge
 * makes add return CSEG_ECANCELED with cseg__rfm_acc_restart true: read
 * again in full mode. */
#include "../core/internal.h"
#include "custseg/features.h"
#include <stdint.h>
typedef struct cseg__rfm_acc cseg__rfm_acc;
int cseg__rfm_acc_create(cseg__rfm_acc **out, const cseg_rfm_params *p, int full, size_t window);
void cseg__rfm_acc_free(cseg__rfm_acc *a);
int cseg__rfm_acc_restart(const cseg__rfm_acc *a);
/* The rows of t (text codes from one dictionary across calls, rows in log
 * order). dup (NULL: found here when p->drop_duplicates) marks the rows
 * the caller found duplicate; keep_out (0 dropped, 1 purchase, 2 return)
 * and value_out (the row's signed value) may be NULL. */
int cseg__rfm_acc_add(cseg__rfm_acc *a, const cseg_table *t, const cseg_txn_roles *roles,
                      const unsigned char *dup, unsigned char *keep_out, double *value_out,
                      cseg_diag *d);
/* The customer table and cleaning counts of cseg_rfm_compute; t gives the
 * dictionaries (the last chunk). codes_out (may be NULL): each output row's
 * customer code, malloc'd. */
int cseg__rfm_acc_finish(cseg__rfm_acc *a, const cseg_table *t, const cseg_txn_roles *roles,
                         cseg_table **customers, cseg_quality *qout, int32_t **codes_out,
                         cseg_diag *d);

/* The latest day among the rows kept so far (INT64_MIN: none). */
int64_t cseg__rfm_acc_max_day(const cseg__rfm_acc *a);
/* The customers of the rows added, as a part that merges with the parts of
 * other readers of the same log (each customer's rows all in one part):
 * features before scoring against as_of = max_day + 1 (the latest day of all
 * the parts; unless p->as_of_day), best attribute values, cleaning counts.
 * level_key (NULL: the levels' order in t): per attribute, per level of its
 * column in t, a number that orders the levels as the whole log meets them
 * (the line of the level's first row), to order the merged levels.
 * *out: malloc'd bytes; codes_out (may be NULL): the part's customer codes. */
int cseg__rfm_acc_part(cseg__rfm_acc *a, const cseg_table *t, const cseg_txn_roles *roles,
                       int64_t max_day, const int64_t *const *level_key, char **out,
                       size_t *out_len, int32_t **codes_out, cseg_diag *d);
/* R/F/M scores: score[i] = 1 + floor(5 w / n), w the number of values of
 * v[0..n) worse than v[i] (lower when higher_better, else higher), ties
 * sharing a score, by selection (a ranking of every value gives the same:
 * tests/test_features.c). A NaN scores 1; the other values are scored
 * among themselves. 0 or CSEG_ENOMEM. */
int cseg__quintile_scores(const double *v, size_t n, int higher_better, double *score);
/* The same over pieces (sc; NULL: alone): v is this piece's values, the
 * scores those of all the pieces' values. Collective over sc. */
int cseg__quintile_scores_split(const double *v, size_t n, int higher_better, double *score,
                                const cseg__split_comm *sc);

/* The customer table and cleaning counts of np parts, as one reader of the
 * whole log gives them. order_out (may be NULL): per output row, its index
 * among the parts' customers in order; malloc'd. */
int cseg__rfm_assemble(const char *const *parts, const size_t *lens, size_t np,
                       const cseg_rfm_params *p, const cseg_txn_roles *roles,
                       cseg_table **customers, cseg_quality *qout, size_t **order_out,
                       cseg_diag *d);

/* cseg__rfm_assemble over pieces (sc): the parts are this piece's share
 * of the customers (each part a slice of one reader's part,
 * cseg__rfm_part_slice: every slice carries its reader's cleaning counts and
 * all its attribute levels, so the counts added and the levels merged are
 * the whole log's); the R/F/M scores are over every piece's customers; a
 * piece may hold none. Collective over sc (before the scores: a failure
 * on one piece is every piece's). */
int cseg__rfm_assemble_split(const char *const *parts, const size_t *lens, size_t np,
                             const cseg_rfm_params *p, const cseg_txn_roles *roles,
                             const cseg__split_comm *sc, cseg_table **customers, cseg_quality *qout,
                             size_t **order_out, cseg_diag *d);
/* Two customer ids in the order of the customer table (numeric ids in
 * numeric order, before the others in byte order). */
int cseg__rfm_id_cmp(const char *a, const char *b);
/* A part's customer ids, in its (id) order: *ids (malloc'ed) points into
 * part. CSEG_EFORMAT for a damaged or unsorted part. */
int cseg__rfm_part_ids(const char *part, size_t len, const char ***ids, size_t *m);
/* Customers [i0, i1) of a part as a part of their own, appended to out:
 * the reader's cleaning counts and sums and every attribute level come
 * along whole. 0, CSEG_EFORMAT or CSEG_ENOMEM. */
int cseg__rfm_part_slice(const char *part, size_t len, size_t i0, size_t i1, cseg__buf *out);

/* A whole table's rows added to a new state (duplicates found over every
 * row), as cseg_rfm_compute does before its finish. */
int cseg__rfm_acc_table(cseg__rfm_acc **out, const cseg_table *t, const cseg_txn_roles *roles,
                        const cseg_rfm_params *p, cseg_diag *d);
/* The read parameters of cseg_txn_read for the log at path: its header read
 * for the roles (resolved in place), every column the features need listed
 * with its type in specs (room for 7 + CSEG_ATTRIBUTES_MAX), the delimiter
 * settled, raw-record hashes on. */
int cseg__txn_read_params(const char *path, cseg_txn_roles *roles,
                          const cseg_table_read_params *rp, cseg_table_read_params *p,
                          cseg_colspec *specs, cseg_diag *d);

/* cseg_rfm_compute_csv with a duplicate window of `window` rows (0: the
 * default) and logs of at most whole_max bytes read whole (0: none, SIZE_MAX:
 * all). *how (may be NULL): 0 read whole, 1 in chunks, 2 in chunks a second
 * time with every row kept. For tests. */
int cseg__rfm_compute_csv(cseg_table **customers, const char *path, cseg_txn_roles *roles,
                          const cseg_table_read_params *rp, const cseg_rfm_params *p,
                          size_t window, size_t whole_max, cseg_quality *q, int *how,
                          cseg_diag *d);

#endif
