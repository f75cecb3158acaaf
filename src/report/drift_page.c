/* custseg — the HTML page of a drift measurement (report.h, drift.h). */
#include <math.h>
#include <stdio.h>

#include "../core/internal.h"
#include "custseg/report.h"
#include "internal.h"

static const char *level_word(cseg_drift_level l)
{
    return l == CSEG_DRIFT_ALERT ? "alert" : l == CSEG_DRIFT_WARN ? "warning" : "ok";
}

static const char *level_colour(cseg_drift_level l)
{
    return l == CSEG_DRIFT_ALERT ? "#D55E00" : l == CSEG_DRIFT_WARN ? "#E69F00" : "#009E73";
}

static void badge(FILE *f, cseg_drift_level l)
{
    fprintf(f, "<span class=\"num\" style=\"background:%s;padding:0 6px\">%s</span>",
            level_colour(l), level_word(l));
}

/* A number cell, "-" for NaN. */
static void cell(FILE *f, const char *fmt, double x)
{
    fputs("<td>", f);
    if (isnan(x))
        fputs("-", f);
    else
        fprintf(f, fmt, x);
    fputs("</td>", f);
}

/* Training and new shares of each segment as paired horizontal bars. */
static void share_chart(FILE *f, const char *const *names, const double *a, const double *b,
                        size_t k)
{
    const double W = 760, left = 220, row = 34, top = 30;
    double mx = 0;
    for (size_t s = 0; s < k; s++)
        mx = fmax(mx, fmax(a[s], b[s]));
    mx = mx > 0 ? mx : 1;
    double H = top + row * (double)k + 10, span = W - left - 70;
    fprintf(
        f,
        "<figure class=\"chart\" id=\"shares\"><h3>Segment shares</h3><svg viewBox=\"0 0 %.0f "
        "%.0f\" role=\"img\" aria-label=\"segment shares, training and new\">"
        "<rect x=\"%.0f\" y=\"8\" width=\"12\" height=\"12\" class=\"bar-cust\"/><text x=\"%.0f\" "
        "y=\"18\">training</text><rect x=\"%.0f\" y=\"8\" width=\"12\" height=\"12\" "
        "class=\"bar-rev\"/><text x=\"%.0f\" y=\"18\">new</text>",
        W, H, left, left + 16, left + 100, left + 116);
    for (size_t s = 0; s < k; s++) {
        double y = top + row * (double)s;
        fprintf(f, "<text class=\"label\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", left - 8,
                y + 20);
        cseg__report_esc(f, names[s]);
        fputs("</text>", f);
        fprintf(f,
                "<rect class=\"bar-cust\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"12\"/>"
                "<text class=\"val\" x=\"%.1f\" y=\"%.1f\">%.1f%%</text>",
                left, y + 4, span * a[s] / mx, left + span * a[s] / mx + 4, y + 14, 100 * a[s]);
        fprintf(f,
                "<rect class=\"bar-rev\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"12\"/>"
                "<text class=\"val\" x=\"%.1f\" y=\"%.1f\">%.1f%%</text>",
                left, y + 17, span * b[s] / mx, left + span * b[s] / mx + 4, y + 27, 100 * b[s]);
    }
    fputs("</svg><figcaption>The share of each segment among the training customers and among "
          "the new customers, placed by the model's rule.</figcaption></figure>\n",
          f);
}

int cseg_report_write_drift(const char *path, const char *model_name, const char *data_name,
                            const cseg_drift_feature *features, size_t n_features,
                            const char *const *seg_names, const double *ref_share,
                            const double *new_share, size_t k, const cseg_drift_result *res,
                            const cseg_drift_params *p, cseg_diag *d)
{
    cseg_atomic_file af;
    int rc = cseg__report_page_open(&af, path, "Drift", data_name, d);
    if (rc < 0)
        return rc;
    FILE *f = af.f;
    fputs("</h1><dl class=\"meta\"><div><dt>Model</dt><dd>", f);
    cseg__report_esc(f, model_name);
    fprintf(f,
            "</dd></div><div><dt>Customers</dt><dd>%zu new, %zu in training</dd></div>"
            "<div><dt>Verdict</dt><dd>",
            res->n_new, res->n_ref);
    badge(f, res->level);
    fprintf(f,
            "</dd></div><div><dt>Thresholds (PSI)</dt><dd>warning %g, alert %g</dd></div></dl>"
            "</header>\n",
            p->psi_warn, p->psi_alert);
    fputs("<section><h2>Input columns</h2><p class=\"small\">Population stability index over the "
          "training deciles (and missing values), Kolmogorov-Smirnov statistic against the "
          "training distribution.</p><div class=\"scroll\"><table class=\"sortable\">"
          "<thead><tr><th>column</th><th>PSI</th><th>KS</th><th>mean, training</th>"
          "<th>mean, new</th><th>missing, training</th><th>missing, new</th><th>level</th>"
          "</tr></thead><tbody>\n",
          f);
    for (size_t j = 0; j < n_features; j++) {
        const cseg_drift_feature *x = &features[j];
        fputs("<tr><td style=\"text-align:left\">", f);
        cseg__report_esc(f, x->name);
        fputs("</td>", f);
        cell(f, "%.4f", x->psi);
        cell(f, "%.4f", x->ks);
        cell(f, "%.4g", x->ref_mean);
        cell(f, "%.4g", x->new_mean);
        cell(f, "%.1f%%", 100 * x->ref_missing);
        cell(f, "%.1f%%", 100 * x->new_missing);
        fputs("<td>", f);
        badge(f, x->level);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div></section>\n<section><h2>Segments</h2>", f);
    fprintf(f, "<p>PSI over the segment shares: %.4f ", res->segment_psi);
    badge(f, res->segment_level);
    fputs("</p>", f);
    share_chart(f, seg_names, ref_share, new_share, k);
    fputs("<ul class=\"quality\">", f);
    if (!isnan(res->new_mean_distance))
        fprintf(f, "<li>Mean distance to the segment's centre: %.4g in training, %.4g now.</li>",
                res->ref_mean_distance, res->new_mean_distance);
    if (!isnan(res->unfit_share))
        fprintf(f,
                "<li>Customers no segment fits (farther from their segment's centre than 99%% of "
                "its training customers): %.1f%% (about 1%% without drift).</li>",
                100 * res->unfit_share);
    fputs("</ul></section>\n<footer class=\"small\">Written by custseg drift "
          "(docs/drift.md).</footer></main></body></html>\n",
          f);
    return cseg__atomic_commit(&af, d);
}

int cseg__report_page_open(cseg_atomic_file *af, const char *path, const char *title,
                           const char *name, cseg_diag *d)
{
    int rc = cseg__atomic_open(af, path, d);
    if (rc < 0)
        return rc;
    fprintf(af->f,
            "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head>"
            "<meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width, "
            "initial-scale=1\"/><title>");
    cseg__report_esc(af->f, title);
    fprintf(af->f, "</title><style>%s</style></head><body><main>\n<header><h1>", cseg__report_css);
    cseg__report_esc(af->f, title);
    fputs(": ", af->f);
    cseg__report_esc(af->f, name);
    return 0;
}
