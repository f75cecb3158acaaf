/* custseg — segment profiles and names.
 *
 * A profile summarises each segment over the number columns of a customer
 * table: size, share of customers, share of revenue, and per feature the mean
 * and median, next to the population's mean and standard deviation.
 *
 * Text columns with at most CSEG_PROFILE_MAX_LEVELS levels (not an id: one
 * level per row) are profiled too: the share of each level per segment.
 *
 * Names (docs/cli.md, "Segment order and names", has the tables).
 * With RFM scores (columns r_score, f_score, m_score): a segment at mean R
 * and FM = (mean F + mean M) / 2 takes the canonical name whose region of
 * the R x FM map holds it, when mean F and mean M are at most 1.5 apart:
 *     name                 R          FM          name             R        FM
 *     Champions            4.5-5      3.5-5       About to Sleep   2.5-3.5  1-2.5
 *     Loyal Customers      2.5-4.5    3.5-5       Can't Lose Them  1-2.5    4.5-5
 *     Potential Loyalists  3.5-5      1.5-3.5     At Risk          1-2.5    2.5-4.5
 *     New Customers        4.5-5      1-1.5       Lost             1-1.5    1-1.5
 *     Promising            3.5-4.5    1-1.5       Hibernating      1-2.5    1-2.5
 *     Need Attention       2.5-3.5    2.5-3.5     (ranges [lo, hi); the first row
 *                                                  that holds the point)
 * Otherwise a descriptive name, one word per score by level (< 2.5, < 3.5,
 * else): Lapsed/Cooling/Recent · Rare/Occasional/Frequent · Low/Mid/High spend.
 * Without RFM scores, a name is built from the name parts whose z is largest
 * in absolute value: number features, z = (segment mean - population mean) /
 * population sd, as "High X" / "Low X"; levels of text columns, z = (segment
 * share - p) / sqrt(p (1 - p)) for a population share p, z > 0 only, as
 * "Level" (share >= 90%), "Mostly Level" (> 50%) or "More Level". The two
 * largest |z| >= 0.25 make the name ("Typical" when none); a name an earlier
 * segment has gets the next part added.
 * Segments that still share a name each get a qualifier: their rank on the
 * axis (M, R, F scores; or a feature's z, or a level's) where their values
 * spread most: "Champions (top spend)", "Champions (lower spend)", "Typical
 * (higher Age)"; with three or more, "(top spend)", "(spend rank 2)",
 * "(lowest spend)". Only segments equal on every axis are numbered "(2)".
 */
#ifndef CUSTSEG_PROFILE_H
#define CUSTSEG_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cseg_profile cseg_profile;

/* Profile the number columns of t for labels in 0..k-1 (other labels are
 * left out). revenue_column names the column summed for revenue shares
 * (NULL or absent: shares are NaN). Errors: CSEG_EINVAL (k == 0),
 * CSEG_ENOMEM. O(n log n) per feature (medians). */
CSEG_API int cseg_profile_compute(cseg_profile **out, const cseg_table *t, const int32_t *labels,
                                  size_t k, const char *revenue_column);
CSEG_API void cseg_profile_free(cseg_profile *p);

CSEG_API size_t cseg_profile_k(const cseg_profile *p);
CSEG_API size_t cseg_profile_n_features(const cseg_profile *p);
CSEG_API const char *cseg_profile_feature(const cseg_profile *p, size_t j);
/* Index of a feature by name, or -1. */
CSEG_API long cseg_profile_find(const cseg_profile *p, const char *name);
CSEG_API size_t cseg_profile_size(const cseg_profile *p, size_t s);
CSEG_API double cseg_profile_share(const cseg_profile *p, size_t s);
CSEG_API double cseg_profile_revenue_share(const cseg_profile *p, size_t s);
/* Per-feature mean and median of segment s (n_features values, borrowed). */
CSEG_API const double *cseg_profile_means(const cseg_profile *p, size_t s);
CSEG_API const double *cseg_profile_medians(const cseg_profile *p, size_t s);
/* Population mean and (population) standard deviation per feature. */
CSEG_API const double *cseg_profile_pop_means(const cseg_profile *p);
CSEG_API const double *cseg_profile_pop_sds(const cseg_profile *p);

/* Profiled text columns and their levels. */
#define CSEG_PROFILE_MAX_LEVELS 64
CSEG_API size_t cseg_profile_n_categories(const cseg_profile *p);
CSEG_API const char *cseg_profile_category(const cseg_profile *p, size_t c);
CSEG_API size_t cseg_profile_n_levels(const cseg_profile *p, size_t c);
CSEG_API const char *cseg_profile_level(const cseg_profile *p, size_t c, size_t l);
/* Share of level l among the customers of segment s that have a value
 * (s == k: all customers); NaN when none has one. */
CSEG_API double cseg_profile_level_share(const cseg_profile *p, size_t c, size_t s, size_t l);

/* Name segments from RFM scores (rule above). CSEG_ENOCOL without them. */
CSEG_API int cseg_profile_name_rfm(cseg_profile *p);
/* Name segments from the listed features (NULL: all number features and
 * profiled text columns) by the z rule above. */
CSEG_API int cseg_profile_name_features(cseg_profile *p, const char *const *features,
                                        size_t n_features);
/* The suggested action for a name from the rules above (a canonical name,
 * qualified or not, or a descriptive RFM name); NULL for any other name.
 * A static string. */
CSEG_API const char *cseg_profile_action_for(const char *name);
/* Override one name (copied). Names must stay unique: CSEG_EINVAL otherwise. */
CSEG_API int cseg_profile_set_name(cseg_profile *p, size_t s, const char *name);
/* Name of segment s ("Segment 1" until named). */
CSEG_API const char *cseg_profile_name(const cseg_profile *p, size_t s);

#ifdef __cplusplus
}
#endif
#endif
