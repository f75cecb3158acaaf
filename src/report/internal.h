/* custseg — private declarations of the report module. */
#ifndef CSEG_REPORT_INTERNAL_H
#define CSEG_REPORT_INTERNAL_H

#include <stdio.h>

#include "custseg/audit.h"

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

/* The report's style sheet, shared by every page custseg writes. */
extern const char cseg__report_css[];
/* s with &, <, > and " escaped for HTML text and attributes. */
void cseg__report_esc(FILE *f, const char *s);

#endif
