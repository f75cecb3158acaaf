/* custseg — private declarations of the report module. */
#ifndef CSEG_REPORT_INTERNAL_H
#define CSEG_REPORT_INTERNAL_H

#include <stdio.h>

#include "custseg/audit.h"
#include "../core/internal.h"

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
