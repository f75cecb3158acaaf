/* custseg — private declarations of the report module. */
#ifndef CSEG_REPORT_INTERNAL_H
#define CSEG_REPORT_INTERNAL_H

#include <stdio.h>

/* The report's style sheet, shared by every page custseg writes. */
extern const char cseg__report_css[];
/* s with &, <, > and " escaped for HTML text and attributes. */
void cseg__report_esc(FILE *f, const char *s);

#endif
