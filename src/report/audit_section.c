/* custseg — the bias audit section of the report (report.h, audit.h). */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

void cseg__report_audit_free(cseg__report_audit *a)
{
    for (size_t j = 0; a->groups && j < a->g; j++)
        free(a->groups[j]);
    free(a->groups);
    free(a->column);
    free(a->counts);
}

void cseg__report_audit_section(FILE *f, const cseg__report_audit *a, const char *const *names,
                                size_t k)
{
    size_t g = a->g, *col = calloc(g, sizeof *col);
    if (!col)
        return;
    for (size_t s = 0; s < k; s++)
        for (size_t j = 0; j < g; j++)
            col[j] += a->counts[s * g + j];
    double N = (double)a->res.n;
    fputs("<h3>", f);
    cseg__report_esc(f, a->column);
    fputs("</h3><p>", f);
    if (a->res.dof)
        fprintf(f,
                "Chi-square %.3f with %zu degrees of freedom, p = %.3g; Cram&#233;r's V %.3f "
                "(0: the segments say nothing of the groups, 1: they are the groups).",
                a->res.chi2, a->res.dof, a->res.p_value, a->res.cramers_v);
    else
        fputs("Nothing to test: a single group or a single segment.", f);
    if (a->res.n_missing)
        fprintf(f, " %zu customers without a value are left out.", a->res.n_missing);
    fputs("</p><div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>segment</th>", f);
    for (size_t j = 0; j < g; j++) {
        fputs("<th>", f);
        cseg__report_esc(f, a->groups[j]);
        fputs(" (share, ratio)</th>", f);
    }
    fputs("<th>lowest / highest ratio</th></tr></thead><tbody>\n<tr><td "
          "style=\"text-align:left\">All customers</td>",
          f);
    for (size_t j = 0; j < g; j++)
        fprintf(f, "<td>%.1f%%</td>", N > 0 ? 100 * (double)col[j] / N : 0);
    fputs("<td></td></tr>\n", f);
    for (size_t s = 0; s < k; s++) {
        size_t size = 0;
        for (size_t j = 0; j < g; j++)
            size += a->counts[s * g + j];
        double lo = INFINITY, hi = -INFINITY;
        for (size_t j = 0; j < g && size; j++) {
            if (!col[j])
                continue;
            double rr = ((double)a->counts[s * g + j] / (double)size) / ((double)col[j] / N);
            lo = fmin(lo, rr);
            hi = fmax(hi, rr);
        }
        double impact = size && hi > 0 ? lo / hi : NAN;
        int flag = !isnan(impact) && impact < CSEG_AUDIT_FOUR_FIFTHS;
        fputs("<tr><td style=\"text-align:left\">", f);
        cseg__report_esc(f, names[s]);
        fputs("</td>", f);
        for (size_t j = 0; j < g; j++) {
            if (!size || !col[j]) {
                fputs("<td>-</td>", f);
                continue;
            }
            double share = (double)a->counts[s * g + j] / (double)size;
            fprintf(f, "<td>%.1f%% (%.2f)</td>", 100 * share, share / ((double)col[j] / N));
        }
        if (isnan(impact))
            fputs("<td>-</td></tr>\n", f);
        else
            fprintf(f, "<td%s>%.2f%s</td></tr>\n",
                    flag ? " style=\"background:#fff4ec;color:#D55E00;font-weight:600\"" : "",
                    impact, flag ? " &#8212; below 4/5" : "");
    }
    fputs("</tbody></table></div>\n", f);
    free(col);
}
