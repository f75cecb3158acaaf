/* custseg — private declarations of the report module. */
#ifndef CSEG_REPORT_INTERNAL_H
#define CSEG_REPORT_INTERNAL_H

#include <stdio.h>

#include "../core/internal.h"
#include "custseg/audit.h"
#include "custseg/metrics.h"
#include "custseg/report.h"

/* What composing the report of customers held in pieces (MPI processes:
 * src/mpi) must know of the other pieces; every piece calls the hooks in
 * the same order and each returns the same code on every piece. This
 * piece holds rows row0.. of n_all (row0 a multiple of 65,536). */
typedef struct cseg__report_split {
    const cseg__split_comm *sc; /* counts, order statistics, the chain */
    void *ctx;
    size_t row0, n_all;
    /* The first failure among the pieces (key: the input's line, 0 for
     * none; the lowest wins): its code and diagnostic on every piece. */
    int (*agree)(void *ctx, int rc, int64_t key, cseg_diag *d);
    /* Every piece's len bytes at mine, in piece order, to every piece
     * (*all malloc'ed, *total bytes). */
    int (*allgather)(void *ctx, const void *mine, size_t len, char **all, size_t *total);
    /* cseg_metrics_silhouette of the rows of every piece (p->sample_size of
     * the non-noise ones drawn as one process draws them): the score, and
     * the sampled rows' values and labels in row order (*values, *vlabels:
     * *nv of each, malloc'ed), on every piece. */
    int (*silhouette)(void *ctx, const double *X, size_t n, size_t d, const int32_t *labels,
                      const cseg_silhouette_params *p, double *score, double **values,
                      int32_t **vlabels, size_t *nv);
} cseg__report_split;

/* cseg_report_compose of the customers of every piece (in->customers,
 * in->labels, in->points: this piece's rows; in->profile required): every
 * piece fills r with the page one process composes from all of them, bit
 * for bit. k-means models only. Collective over split. */
int cseg__report_compose_split(cseg_report *r, const cseg_report_input *in,
                               const cseg__report_split *split, cseg_diag *d);

/* Over pieces (sp), a failure of one (rc, at the input's line key; d may
 * be NULL) made every piece's; alone, rc. */
int cseg__report_agreed(const cseg__report_split *sp, int rc, int64_t key, cseg_diag *d);

/* cseg_report_set_points and cseg_report_add_distribution; sp: of the rows
 * of every piece (the projection fitted over them, the centres' sums taken
 * in row order along them, the sample's points gathered; each segment's
 * order statistics those of every piece's values). Collective over sp. */
int cseg__report_points(cseg_report *r, const double *X, size_t n, size_t d, const int32_t *labels,
                        size_t max_points, uint64_t seed, const cseg__report_split *sp);
int cseg__report_distribution(cseg_report *r, const char *feature, const double *x,
                              const int32_t *labels, size_t n, const cseg__report_split *sp);

/* A bias audit as the report keeps it (cseg_report_add_audit). */
typedef struct cseg__report_audit {
    char *column;
    size_t g;
    char **groups;
    size_t *counts; /* k x g */
    cseg_audit_result res;
} cseg__report_audit;

/* Its section of the page; names: the k segment names. */
void cseg__report_audit_section(FILE *f, const cseg__report_audit *a, const char *const *names,
                                size_t k);
void cseg__report_audit_free(cseg__report_audit *a);

/* Lifetime value as the report keeps it (cseg_report_set_clv). */
typedef struct cseg__report_clv {
    double bg[4], unit_days, horizon, max_T, max_freq;
    size_t k;
    double *mean, *total, *alive, *expected; /* k each */
    /* the holdout check (cseg_report_set_clv_holdout); nh 0: none */
    size_t nh;
    char hlabel[8][8], cal_end[16], hold_end[16];
    size_t hcust[8];
    double hact[8], hpred[8];
} cseg__report_clv;

/* One association rule of "What each segment buys together". */
typedef struct cseg__report_brule {
    size_t group;
    char *lhs, *rhs;
    double support, confidence, lift, lift_pop, p_value;
} cseg__report_brule;

/* The lifetime-value section (clv_section.c): CLV by segment, P(alive) map. */
void cseg__report_clv_section(FILE *f, const cseg__report_clv *c, const char *const *names);
/* "What each segment buys together": the rules grouped; names[g - 1] of segment g. */
void cseg__report_basket_section(FILE *f, const cseg__report_brule *r, size_t n,
                                 const char *const *names, size_t k);

/* Chart helpers of report.c for the other pages and sections. */
void cseg__report_svg_open(FILE *f, const char *id, int w, int h, const char *title,
                           const char *desc);
void cseg__report_svg_close(FILE *f, const char *caption);
/* [lo, hi] widened to "nice" ticks of *step, about want of them. */
void cseg__report_nice_range(double *lo, double *hi, double *step, int want);

/* Open a page of its own (drift, lifetime value) at path, atomically: the
 * head with the style sheet and <title>title</title>, then "<h1>title: "
 * with name escaped; the caller writes the rest and commits af. */
int cseg__report_page_open(cseg_atomic_file *af, const char *path, const char *title,
                           const char *name, cseg_diag *d);

/* The report's style sheet, shared by every page custseg writes. */
extern const char cseg__report_css[];
/* s with &, <, > and " escaped for HTML text and attributes. */
void cseg__report_esc(FILE *f, const char *s);

#endif
