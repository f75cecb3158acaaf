/* custseg — bias audit: how a column kept out of the clustering (gender, an
 * age band, a region) is spread over the segments (docs/audit.md).
 *
 * For the customers with a value, the k x g table of counts (segment x
 * group) gives Pearson's chi-square test of independence (no continuity
 * correction: scipy.stats.chi2_contingency(correction=False); segments and
 * groups without customers left out of the test), its p-value from the
 * chi-square distribution, and Cramer's V = sqrt(chi2 / (n (min(r, c) - 1))).
 * Per segment and group the representation ratio is the group's share in
 * the segment over its share in the population; a segment whose lowest
 * ratio is below 4/5 of its highest fails the four-fifths rule.
 */
#ifndef CUSTSEG_AUDIT_H
#define CUSTSEG_AUDIT_H

#include "custseg/error.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CSEG_AUDIT_FOUR_FIFTHS 0.8

typedef struct cseg_audit_result {
    size_t n;         /* customers with a group */
    size_t n_missing; /* customers without (group < 0), left out */
    double chi2;      /* Pearson's statistic */
    size_t dof;       /* (rows - 1) (columns - 1) of the table tested; 0: nothing to test */
    double p_value;   /* P(chi-square(dof) >= chi2); NaN when dof is 0 */
    double cramers_v; /* NaN when dof is 0 */
} cseg_audit_result;

/* labels: n segments 0..k-1; groups: n groups 0..g-1, or -1 for none.
 * counts (optional, caller-allocated k x g) receives the table. Errors:
 * CSEG_EINVAL for k or g 0, a label or group out of range. O(n + k g). */
CSEG_API int cseg_audit_test(const int32_t *labels, const int32_t *groups, size_t n, size_t k,
                             size_t g, size_t *counts, cseg_audit_result *res);

/* The chi-square distribution's survival function P(X >= x) for dof > 0
 * degrees of freedom (the regularised upper incomplete gamma function
 * Q(dof / 2, x / 2)); 1 for x <= 0, NaN for a bad argument. Relative error
 * against scipy.stats.chi2.sf about 1e-13 up to a few hundred degrees of
 * freedom, growing with them (3e-12 at 10,000, 3e-11 at 49,000). */
CSEG_API double cseg_chi2_sf(double x, double dof);

#ifdef __cplusplus
}
#endif
#endif
