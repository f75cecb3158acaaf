/* custseg — segment profiles and names.
 *
 * A profile summarises each segment over the number columns of a customer
 * table: size, share of customers, share of revenue, and per feature the mean
 * and median, next to the population's mean and standard deviation.
 *
 * Names. With RFM scores (columns r_score, f_score, m_score), each segment is
 * placed at (mean R, (mean F + mean M) / 2) and named after the nearest
 * prototype of the standard RFM vocabulary, each name used once: all
 * (segment, name) pairs are taken in order of distance (ties: lower segment,
 * then the order below) and a pair is kept when neither is taken yet.
 *     Champions (5.0,5.0)        Loyal Customers (3.7,4.2)  Potential Loyalists (4.2,2.8)
 *     New Customers (4.8,1.2)    Promising (3.8,1.4)        Need Attention (3.0,3.0)
 *     About to Sleep (2.6,1.8)   At Risk (1.8,3.6)          Can't Lose Them (1.3,4.6)
 *     Hibernating (1.8,1.8)      Lost (1.0,1.0)
 * Without RFM scores, a name is built from the features whose segment mean is
 * furthest from the population mean in standard deviations (z): the two
 * largest |z|, each "High" (z > 0) or "Low", e.g. "High Income · Low Spending";
 * "Typical" when no |z| reaches 0.25. A name already taken gets the next
 * feature added, then a number.
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

/* Name segments from RFM scores (rule above). CSEG_ENOCOL without them. */
CSEG_API int cseg_profile_name_rfm(cseg_profile *p);
/* Name segments from the listed features (NULL: all) by the z rule above. */
CSEG_API int cseg_profile_name_features(cseg_profile *p, const char *const *features,
                                        size_t n_features);
/* Override one name (copied). Names must stay unique: CSEG_EINVAL otherwise. */
CSEG_API int cseg_profile_set_name(cseg_profile *p, size_t s, const char *name);
/* Name of segment s ("Segment 1" until named). */
CSEG_API const char *cseg_profile_name(const cseg_profile *p, size_t s);

#ifdef __cplusplus
}
#endif
#endif
