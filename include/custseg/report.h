/* custseg — the segmentation report: one self-contained HTML page.
 *
 * A builder collects what the page shows, then cseg_report_write renders it
 * as a single HTML file with inline CSS, inline SVG charts and a small inline
 * script (table sorting): no external resource, readable offline, in print
 * and on a phone. All text taken from the data is escaped. Charts: segments
 * in 2-D (PCA), the k-selection curves, silhouette per segment, sizes and
 * revenue shares, a profile heatmap and snake plot, and distributions of
 * chosen features per segment; each with a title, axis labels, a legend, a
 * colour-blind-safe palette (Okabe-Ito), a text alternative (<title>/<desc>)
 * and values on hover (<title> on every mark). Large inputs are sampled, and
 * the page says so.
 */
#ifndef CUSTSEG_REPORT_H
#define CUSTSEG_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cseg_report cseg_report;

typedef enum cseg_report_field {
    CSEG_REPORT_TITLE = 0, /* page title */
    CSEG_REPORT_DATASET,   /* input file or name */
    CSEG_REPORT_PERIOD,    /* date range of the data */
    CSEG_REPORT_AS_OF,     /* analysis day */
    CSEG_REPORT_ALGORITHM, /* e.g. "k-means (k-means++, 10 restarts)" */
    CSEG_REPORT_K_RULE,    /* why this k */
    CSEG_REPORT_N_FIELDS
} cseg_report_field;

CSEG_API int cseg_report_create(cseg_report **out);
CSEG_API void cseg_report_free(cseg_report *r);

/* Header text (copied). */
CSEG_API int cseg_report_set_text(cseg_report *r, cseg_report_field f, const char *value);
/* One line of the data-quality summary, e.g. ("rows without customer id", 135080). */
CSEG_API int cseg_report_add_quality(cseg_report *r, const char *label, double count);
/* The k-selection table: n candidates; chosen and elbow are row indices
 * (elbow < 0: none). NaN marks a value that is not defined. */
CSEG_API int cseg_report_set_k_table(cseg_report *r, size_t n, const size_t *k,
                                     const double *inertia, const double *silhouette,
                                     const double *davies_bouldin,
                                     const double *calinski_harabasz, size_t chosen, long elbow);
/* Segments: names, sizes, shares and per-feature means and medians from a
 * profile (copied). With rfm set, cards show R/F/M and a suggested action.
 * Features named in skip (may be NULL) are left out. */
CSEG_API int cseg_report_set_profile(cseg_report *r, const cseg_profile *p, int rfm,
                                     const char *const *skip, size_t n_skip);
/* Points in model space (n x d) with their segments: projected on the first
 * two principal components; at most max_points drawn (a uniform sample,
 * seeded), centroids from all points. */
CSEG_API int cseg_report_set_points(cseg_report *r, const double *X, size_t n, size_t d,
                                    const int32_t *labels, size_t max_points, uint64_t seed);
/* Per-sample silhouette values (NaN = not computed) with their segments. */
CSEG_API int cseg_report_set_silhouette(cseg_report *r, const double *values,
                                        const int32_t *labels, size_t n, size_t max_points,
                                        uint64_t seed);
/* A feature whose distribution per segment is drawn as box plots (5th, 25th,
 * 50th, 75th, 95th percentiles). Up to 4 features. */
CSEG_API int cseg_report_add_distribution(cseg_report *r, const char *feature, const double *x,
                                          const int32_t *labels, size_t n);

/* Render to path atomically (temp file + rename). CSEG_EINVAL when no
 * profile was set; CSEG_EIO with diag on a write error. */
CSEG_API int cseg_report_write(const cseg_report *r, const char *path, cseg_diag *d);

#ifdef __cplusplus
}
#endif
#endif
