/* custseg — the report's lifetime-value and basket sections, and the page
 * of custseg clv --html (report.h, clv.h, assoc.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/internal.h"
#include "custseg/clv.h"
#include "custseg/report.h"
#include "internal.h"

/* P(alive) from light (0) to dark blue (1). */
static void alive_colour(double p, char *buf, size_t size)
{
    p = p < 0 ? 0 : p > 1 ? 1 : p;
    int r = (int)lround(247 - p * (247 - 8)), g = (int)lround(251 - p * (251 - 69)),
        b = (int)lround(255 - p * (255 - 148));
    snprintf(buf, size, "#%02x%02x%02x", r, g, b);
}

/* P(alive) over repeat purchases (rows, 0 at the bottom) and recency
 * (columns) for a customer of age max_T, as lifetimes' probability-alive
 * matrix draws it. */
static void alive_map(FILE *f, const double bg[4], double unit_days, double max_T, double max_freq)
{
    const char *unit = unit_days == 7 ? "weeks" : "days";
    int rows = (int)fmin(fmax(ceil(max_freq), 3), 40), cols = 24;
    double T = max_T > 0 ? max_T : 1;
    const double W = 760, H = 70 + 12.0 * rows + 40, left = 70, top = 20, right = 110;
    double cw = (W - left - right) / cols, ch = (H - top - 60) / (rows + 1);
    char desc[200];
    snprintf(desc, sizeof desc,
             "probability that a customer is still active, by repeat purchases (0 to %d) and "
             "recency (0 to %.0f %s), for a customer first seen %.0f %s ago",
             rows, T, unit, T, unit);
    cseg__report_svg_open(f, "chart-palive", (int)W, (int)H, "P(alive) by frequency and recency",
                          desc);
    for (int y = 0; y <= rows; y++)
        for (int x = 0; x < cols; x++) {
            double fr = y, rec = y == 0 ? 0 : T * (x + 0.5) / cols, p;
            cseg_bgnbd_p_alive(bg, &fr, &rec, &T, 1, &p);
            char col[16];
            alive_colour(p, col, sizeof col);
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                    "<title>%d repeat purchases, last one %.0f %s after the first: P(alive) "
                    "%.2f</title></rect>",
                    left + cw * x, top + ch * (rows - y), cw + 0.3, ch + 0.3, col, y, rec, unit, p);
        }
    fprintf(f, "<g class=\"axis\">");
    for (int y = 0; y <= rows; y += rows > 20 ? 5 : rows > 10 ? 2 : 1)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%d</text>", left - 6,
                top + ch * (rows - y) + ch / 2 + 4, y);
    for (int x = 0; x <= 4; x++)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>",
                left + (W - left - right) * x / 4, top + ch * (rows + 1) + 16, T * x / 4);
    fprintf(f,
            "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">recency: the last "
            "purchase, %s after the first</text>"
            "<text class=\"label\" transform=\"translate(%.1f %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">repeat purchases</text>",
            left + (W - left - right) / 2, top + ch * (rows + 1) + 36, unit, left - 40,
            top + ch * (rows + 1) / 2);
    for (int q = 0; q <= 10; q++) {
        char col[16];
        alive_colour(q / 10.0, col, sizeof col);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"12\" fill=\"%s\"/>",
                W - right + 30, top + 12.0 * (10 - q), col);
    }
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\">1</text><text x=\"%.1f\" y=\"%.1f\">0</text>"
            "<text x=\"%.1f\" y=\"%.1f\">P(alive)</text></g>",
            W - right + 50, top + 10, W - right + 50, top + 130, W - right + 20, top + 150);
    cseg__report_svg_close(f, "Each cell: the BG/NBD probability that a customer with that many "
                              "repeat purchases, the last at that recency, is still a customer. "
                              "Frequent buyers who have not bought for long are the likeliest "
                              "to have left.");
}

static void holdout_chart(FILE *f, size_t n, const char *const *labels, const double *actual,
                          const double *predicted);

void cseg__report_clv_section(FILE *f, const cseg__report_clv *c, const char *const *names)
{
    double total = 0, mx = 0;
    for (size_t s = 0; s < c->k; s++) {
        total += c->total[s];
        mx = fmax(mx, c->mean[s]);
    }
    mx = mx > 0 ? mx : 1;
    fprintf(f,
            "<section id=\"clv\"><h2>Customer lifetime value</h2><p class=\"small\">BG/NBD "
            "(purchases) and Gamma-Gamma (order values) fitted to this log (docs/clv.md): the "
            "value each customer is expected to bring in the next %.0f months, discounted. "
            "Total: ",
            c->horizon);
    fprintf(f, "%.0f.</p>\n", total);
    const double W = 760, left = 230, row = 26, top = 10;
    double H = top + row * (double)c->k + 10, span = W - left - 90;
    cseg__report_svg_open(f, "chart-clv", (int)W, (int)H, "Mean CLV per customer, by segment",
                          "mean expected lifetime value of a customer of each segment");
    for (size_t s = 0; s < c->k; s++) {
        double y = top + row * (double)s, w = c->mean[s] > 0 ? span * c->mean[s] / mx : 0;
        fprintf(f, "<text class=\"label\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", left - 8,
                y + 15);
        cseg__report_esc(f, names[s]);
        fprintf(f,
                "</text><rect class=\"bar-cust\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"16\"><title>",
                left, y + 3, w);
        cseg__report_esc(f, names[s]);
        fprintf(f,
                ": mean CLV %.2f, total %.0f (%.1f%% of all)</title></rect><text class=\"val\" "
                "x=\"%.1f\" y=\"%.1f\">%.0f</text>",
                c->mean[s], c->total[s], total > 0 ? 100 * c->total[s] / total : 0, left + w + 4,
                y + 15, c->mean[s]);
    }
    cseg__report_svg_close(f, "Mean lifetime value of a customer of each segment; hover for "
                              "the total and its share.");
    fputs("<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>segment</th>"
          "<th>CLV, total</th><th>share of CLV</th><th>CLV, mean</th><th>mean P(alive)</th>"
          "<th>expected purchases</th></tr></thead><tbody>\n",
          f);
    for (size_t s = 0; s < c->k; s++) {
        fputs("<tr><td style=\"text-align:left\">", f);
        cseg__report_esc(f, names[s]);
        fprintf(f,
                "</td><td>%.0f</td><td>%.1f%%</td><td>%.2f</td><td>%.3f</td><td>%.0f</td></tr>\n",
                c->total[s], total > 0 ? 100 * c->total[s] / total : 0, c->mean[s], c->alive[s],
                c->expected[s]);
    }
    fputs("</tbody></table></div>\n", f);
    alive_map(f, c->bg, c->unit_days, c->max_T, c->max_freq);
    if (c->nh) {
        const char *lab[8];
        for (size_t i = 0; i < c->nh; i++)
            lab[i] = c->hlabel[i];
        fputs("<p class=\"small\">Is the purchase model right? Fitted again on the purchases to ",
              f);
        cseg__report_esc(f, c->cal_end);
        fputs(" and asked for the purchases from then to ", f);
        cseg__report_esc(f, c->hold_end);
        fputs(", which the customers then made (or not):</p>", f);
        holdout_chart(f, c->nh, lab, c->hact, c->hpred);
    }
    fputs("</section>\n", f);
}

void cseg__report_basket_section(FILE *f, const cseg__report_brule *r, size_t n,
                                 const char *const *names, size_t k)
{
    fputs("<section id=\"baskets\"><h2>What each segment buys together</h2><p class=\"small\">"
          "Association rules over the purchase invoices (custseg rules, docs/rules.md), the "
          "strongest of each group by lift. Lift against all: how much more often than "
          "customers at large this segment's buyers of the first items take the others."
          "</p>\n",
          f);
    for (size_t g = 0; g <= k; g++) {
        size_t shown = 0;
        for (size_t i = 0; i < n && shown < 5; i++) {
            if (r[i].group != g)
                continue;
            if (!shown++) {
                fputs("<h3>", f);
                cseg__report_esc(f, g == 0 ? "All customers" : names[g - 1]);
                fputs("</h3><div class=\"scroll\"><table><thead><tr><th>who buy</th>"
                      "<th>also buy</th><th>support</th><th>confidence</th><th>lift</th>"
                      "<th>lift against all</th><th>p-value</th></tr></thead><tbody>\n",
                      f);
            }
            fputs("<tr><td style=\"text-align:left\">", f);
            cseg__report_esc(f, r[i].lhs);
            fputs("</td><td style=\"text-align:left\">", f);
            cseg__report_esc(f, r[i].rhs);
            fprintf(f,
                    "</td><td>%.3f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2g</td>"
                    "</tr>\n",
                    r[i].support, r[i].confidence, r[i].lift, r[i].lift_pop, r[i].p_value);
        }
        if (shown)
            fputs("</tbody></table></div>\n", f);
    }
    fputs("</section>\n", f);
}

/* The calibration/holdout check as paired bars per calibration frequency. */
static void holdout_chart(FILE *f, size_t n, const char *const *labels, const double *actual,
                          const double *predicted)
{
    double lo = 0, hi = 0, step;
    for (size_t i = 0; i < n; i++)
        hi = fmax(hi, fmax(actual[i], predicted[i]));
    if (!(hi > 0)) /* nothing bought: an axis from 0 all the same */
        hi = 1;
    cseg__report_nice_range(&lo, &hi, &step, 5);
    const double W = 760, H = 320, x0 = 80, x1 = W - 20, y0 = H - 50, y1 = 20;
    cseg__report_svg_open(f, "chart-holdout", (int)W, (int)H,
                          "Holdout purchases: actual and predicted",
                          "mean purchases per customer in the holdout period, actual and as "
                          "BG/NBD predicted them, by purchases in the calibration period");
    double bw = (x1 - x0) / (double)(n ? n : 1);
    for (double v = lo; v <= hi + step * 1e-6; v += step) {
        double y = y0 + (v - lo) / (hi - lo) * (y1 - y0);
        fprintf(f,
                "<g class=\"axis\"><line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                "y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text></g>",
                x0, y, x1, y, x0 - 6, y + 4, v);
    }
    for (size_t i = 0; i < n; i++) {
        double xa = x0 + bw * (double)i + bw * 0.15, w = bw * 0.33;
        double ya = y0 + actual[i] / (hi - lo) * (y1 - y0);
        double yp = y0 + predicted[i] / (hi - lo) * (y1 - y0);
        fprintf(f,
                "<rect class=\"bar-cust\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                "<title>",
                xa, ya, w, y0 - ya);
        cseg__report_esc(f, labels[i]);
        fprintf(f,
                ": actual %.3f</title></rect><rect class=\"bar-rev\" x=\"%.1f\" y=\"%.1f\" "
                "width=\"%.1f\" height=\"%.1f\"><title>",
                actual[i], xa + w, yp, w, y0 - yp);
        cseg__report_esc(f, labels[i]);
        fprintf(f,
                ": predicted %.3f</title></rect><text x=\"%.1f\" y=\"%.1f\" "
                "text-anchor=\"middle\">",
                predicted[i], xa + w, y0 + 16);
        cseg__report_esc(f, labels[i]);
        fputs("</text>", f);
    }
    fprintf(f,
            "<g class=\"axis\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
            "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">repeat purchases "
            "in the calibration period</text></g>"
            "<rect class=\"bar-cust\" x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">actual</text><rect class=\"bar-rev\" x=\"%.1f\" "
            "y=\"%.1f\" width=\"10\" height=\"10\"/><text x=\"%.1f\" y=\"%.1f\">predicted</text>",
            x0, y0, x1, y0, (x0 + x1) / 2, y0 + 36, x1 - 190, y1, x1 - 176, y1 + 9, x1 - 100, y1,
            x1 - 86, y1 + 9);
    cseg__report_svg_close(f, "Mean purchase days per customer in the holdout period: what the "
                              "customers did (blue) against what the model fitted on the "
                              "calibration period expected of them (orange).");
}

int cseg_report_write_clv(const char *path, const char *data_name, const cseg_clv_params *p,
                          double max_T, double max_frequency, size_t n_groups,
                          const char *const *labels, const size_t *customers, const double *actual,
                          const double *predicted, cseg_diag *d)
{
    cseg_atomic_file af;
    int rc = cseg__report_page_open(&af, path, "Lifetime value", data_name, d);
    if (rc < 0)
        return rc;
    FILE *f = af.f;
    fprintf(f,
            "</h1><dl class=\"meta\"><div><dt>Time unit</dt><dd>%s</dd></div><div><dt>Horizon"
            "</dt><dd>%.0f months, discount %g a month</dd></div></dl></header>\n",
            p->unit_days == 7 ? "weeks" : "days", p->horizon_months, p->discount);
    static const char *const bgn[4] = {"r", "alpha", "a", "b"}, *const ggn[3] = {"p", "q", "v"};
    const cseg_clv_fit *fits[2] = {&p->bgnbd, &p->gamma_gamma};
    fputs("<section><h2>Models</h2><div class=\"scroll\"><table><thead><tr><th>model</th>"
          "<th>parameter</th><th>estimate</th><th>standard error</th></tr></thead><tbody>\n",
          f);
    for (int m = 0; m < 2; m++) {
        if (!fits[m]->kind)
            continue;
        int dim = m == 0 ? 4 : 3;
        for (int j = 0; j < dim; j++) {
            /* A standard error that could not be had (a fit at its bounds): "-" */
            char se[32] = "-";
            if (isfinite(fits[m]->se[j]))
                snprintf(se, sizeof se, "%.3g", fits[m]->se[j]);
            fprintf(f,
                    "<tr><td style=\"text-align:left\">%s</td><td>%s</td><td>%.6g</td>"
                    "<td>%s</td></tr>\n",
                    m == 0 ? "BG/NBD" : "Gamma-Gamma", m == 0 ? bgn[j] : ggn[j], fits[m]->param[j],
                    se);
        }
    }
    fputs("</tbody></table></div><ul class=\"quality\">", f);
    for (int m = 0; m < 2; m++) {
        if (!fits[m]->kind)
            continue;
        fprintf(f,
                "<li>%s on %zu customers, log-likelihood %.4f: ", m == 0 ? "BG/NBD" : "Gamma-Gamma",
                fits[m]->n, fits[m]->loglik);
        cseg__report_esc(f, fits[m]->message);
        fputs("</li>", f);
    }
    fputs("</ul></section>\n", f);
    if (n_groups) {
        fputs("<section><h2>Calibration and holdout</h2>", f);
        holdout_chart(f, n_groups, labels, actual, predicted);
        fputs("<div class=\"scroll\"><table><thead><tr><th>calibration purchases</th>"
              "<th>customers</th><th>actual</th><th>predicted</th></tr></thead><tbody>\n",
              f);
        for (size_t i = 0; i < n_groups; i++) {
            fputs("<tr><td>", f);
            cseg__report_esc(f, labels[i]);
            fprintf(f, "</td><td>%zu</td><td>%.4f</td><td>%.4f</td></tr>\n", customers[i],
                    actual[i], predicted[i]);
        }
        fputs("</tbody></table></div></section>\n", f);
    }
    fputs("<section><h2>Who is still a customer</h2>", f);
    alive_map(f, p->bgnbd.param, p->unit_days, max_T, max_frequency);
    fputs("</section>\n<footer class=\"small\">Written by custseg clv (docs/clv.md).</footer>"
          "</main></body></html>\n",
          f);
    return cseg__atomic_commit(&af, d);
}
