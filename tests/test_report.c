/* Tests for the HTML report: escaping, well-formedness, charts present (the
 * dendrogram and membership charts for the models that have them only). */
#include <math.h>

#include "util.h"

/* A strict little XML well-formedness check: balanced tags, quoted
 * attributes, known entities only; CDATA, comments and the doctype skipped.
 * Returns NULL when well-formed, else a static message. */
static const char *xml_check(const char *s)
{
    static char msg[160];
    const char *stack[512];
    size_t lens[512], depth = 0;
    while (*s) {
        if (*s == '&') {
            const char *e = strchr(s, ';');
            if (!e || e - s > 8)
                return "bare &";
            if (s[1] != '#' && strncmp(s, "&amp;", 5) && strncmp(s, "&lt;", 4) &&
                strncmp(s, "&gt;", 4) && strncmp(s, "&quot;", 6) && strncmp(s, "&apos;", 6))
                return "unknown entity";
            s = e + 1;
            continue;
        }
        if (*s != '<') {
            s++;
            continue;
        }
        if (!strncmp(s, "<!--", 4)) {
            const char *e = strstr(s, "-->");
            if (!e)
                return "open comment";
            s = e + 3;
        } else if (!strncmp(s, "<![CDATA[", 9)) {
            const char *e = strstr(s, "]]>");
            if (!e)
                return "open CDATA";
            s = e + 3;
        } else if (!strncmp(s, "<!", 2)) {
            s = strchr(s, '>') + 1;
        } else if (s[1] == '/') {
            const char *e = strchr(s, '>');
            size_t len = (size_t)(e - s - 2);
            if (!depth || len != lens[depth - 1] || strncmp(s + 2, stack[depth - 1], len)) {
                snprintf(msg, sizeof msg, "mismatched </%.*s>", (int)len, s + 2);
                return msg;
            }
            depth--;
            s = e + 1;
        } else {
            const char *n = s + 1, *p = n;
            while (*p && *p != ' ' && *p != '>' && *p != '/')
                p++;
            size_t len = (size_t)(p - n);
            /* attributes: name="value" */
            while (*p && *p != '>' && !(*p == '/' && p[1] == '>')) {
                if (*p == '=') {
                    p++;
                    if (*p != '"' && *p != '\'')
                        return "unquoted attribute";
                    char q = *p++;
                    while (*p && *p != q) {
                        if (*p == '<')
                            return "< in attribute";
                        p++;
                    }
                }
                p++;
            }
            if (!*p)
                return "open tag";
            if (*p == '/') {
                s = p + 2;
                continue;
            }
            if (depth == 512)
                return "too deep";
            stack[depth] = n;
            lens[depth++] = len;
            s = p + 1;
            if (len == 6 && !strncmp(n, "script", 6)) { /* content is CDATA-wrapped */
                const char *e = strstr(s, "</script>");
                if (!e)
                    return "open script";
                const char *c = strstr(s, "<![CDATA[");
                if (!c || c > e)
                    return "script without CDATA";
                s = e;
            }
        }
    }
    return depth ? "unclosed element" : NULL;
}

static void test_xml_checker(void **state)
{
    (void)state;
    assert_null(xml_check("<a><b x=\"1\"/>t &amp; u</a>"));
    assert_non_null(xml_check("<a><b></a>"));
    assert_non_null(xml_check("<a x=1></a>"));
    assert_non_null(xml_check("<a>&nbsp;</a>"));
    assert_non_null(xml_check("<a>"));
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

static void test_report_page(void **state)
{
    (void)state;
    /* Three segments; one name carries markup that must stay text. */
    size_t n = 300, d = 3;
    double *X = malloc(n * d * sizeof *X), r[300], f[300], m[300];
    int32_t lab[300];
    srand(1);
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)(i % 3);
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = lab[i] * 2.0 + (double)rand() / RAND_MAX;
        r[i] = (double)(1 + i % 5);
        f[i] = (double)(1 + (i / 3) % 5);
        m[i] = 10.0 * (double)(i % 7);
    }
    cseg_table *t;
    cseg_table_create(&t, n);
    cseg_table_add_numbers(t, "r_score", r);
    cseg_table_add_numbers(t, "f_score", f);
    cseg_table_add_numbers(t, "m_score", f);
    cseg_table_add_numbers(t, "monetary", m);
    cseg_profile *p;
    assert_int_equal(cseg_profile_compute(&p, t, lab, 3, "monetary"), 0);
    assert_int_equal(cseg_profile_set_name(p, 0, "<script>alert(\"x\")</script> & Co"), 0);
    cseg_report *rep;
    assert_int_equal(cseg_report_create(&rep), 0);
    cseg_diag dg;
    assert_int_equal(cseg_report_write(rep, "/tmp/never.html", &dg), CSEG_EINVAL);
    cseg_report_set_text(rep, CSEG_REPORT_TITLE, "Test <report>");
    cseg_report_set_text(rep, CSEG_REPORT_DATASET, "data/\"x\".csv");
    cseg_report_add_quality(rep, "rows <dropped>", 12);
    size_t ks[3] = {2, 3, 4};
    double in[3] = {30, 20, 15}, sl[3] = {0.5, 0.6, NAN}, db[3] = {1, 0.8, 0.9},
           ch[3] = {100, 120, 90};
    assert_int_equal(cseg_report_set_k_table(rep, 3, ks, in, sl, db, ch, 1, 1), 0);
    assert_int_equal(cseg_report_set_profile(rep, p, 1, NULL, 0), 0);
    assert_int_equal(cseg_report_set_points(rep, X, n, d, lab, 100, 7), 0);
    double *sil = malloc(n * sizeof *sil);
    double mean;
    assert_int_equal(cseg_metrics_silhouette(X, n, d, lab, NULL, &mean, sil), 0);
    assert_int_equal(cseg_report_set_silhouette(rep, sil, lab, n, 100, 7), 0);
    assert_int_equal(cseg_report_add_distribution(rep, "monetary", m, lab, n), 0);
    char path[] = "/tmp/cseg_test_report_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(cseg_report_write(rep, path, &dg), 0);
    char *html = slurp(path);
    const char *err = xml_check(html);
    if (err)
        fail_msg("report is not well-formed: %s", err);
    assert_null(strstr(html, "<script>alert"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co"));
    assert_non_null(strstr(html, "Test &lt;report&gt;"));
    static const char *const charts[] = {"chart-sizes", "chart-pca", "chart-heatmap",
                                         "chart-snake", "chart-dist-1", "chart-k",
                                         "chart-silhouette"};
    for (size_t c = 0; c < sizeof charts / sizeof charts[0]; c++) {
        char key[64];
        snprintf(key, sizeof key, "id=\"%s\"", charts[c]);
        if (!strstr(html, key))
            fail_msg("chart %s missing", charts[c]);
    }
    /* k-means-like page: no tree, no membership */
    assert_null(strstr(html, "chart-dendrogram"));
    assert_null(strstr(html, "chart-membership"));
    /* Nothing to fetch: no external URLs but the XML namespace names. */
    const char *h = html;
    while ((h = strstr(h, "http"))) {
        if (strncmp(h, "http://www.w3.org/", 18) != 0)
            fail_msg("external reference: %.60s", h);
        h += 4;
    }
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "href="));
    /* Sampled points are stated. */
    assert_non_null(strstr(html, "A uniform sample of 100 of 300 customers"));
    /* The same inputs give the same bytes. */
    char path2[] = "/tmp/cseg_test_report2_XXXXXX";
    close(mkstemp(path2));
    assert_int_equal(cseg_report_write(rep, path2, &dg), 0);
    char *html2 = slurp(path2);
    assert_string_equal(html, html2);
    free(html);
    free(html2);
    unlink(path);
    unlink(path2);
    free(sil);
    free(X);
    cseg_report_free(rep);
    cseg_profile_free(p);
    cseg_table_free(t);
}

/* A profile of k segments over one feature, the first named with markup. */
static cseg_profile *tiny_profile(const double *x, const int32_t *lab, size_t n, size_t k,
                                  cseg_table **t)
{
    cseg_profile *p;
    assert_int_equal(cseg_table_create(t, n), 0);
    assert_int_equal(cseg_table_add_numbers(*t, "x", x), 0);
    assert_int_equal(cseg_profile_compute(&p, *t, lab, k, NULL), 0);
    assert_int_equal(cseg_profile_set_name(p, 0, "<script>alert(1)</script>"), 0);
    return p;
}

/* Render r to a temporary file and return the page, checked well-formed. */
static char *render(const cseg_report *r)
{
    char path[] = "/tmp/cseg_test_report3_XXXXXX";
    close(mkstemp(path));
    cseg_diag dg;
    assert_int_equal(cseg_report_write(r, path, &dg), 0);
    char *html = slurp(path);
    unlink(path);
    const char *err = xml_check(html);
    if (err)
        fail_msg("report is not well-formed: %s", err);
    return html;
}

static size_t count(const char *s, const char *what)
{
    size_t c = 0;
    for (; (s = strstr(s, what)); s += strlen(what))
        c++;
    return c;
}

/* The part of the page from the figure with this id to its end ("" when absent). */
static char *figure(const char *html, const char *id)
{
    char key[80];
    snprintf(key, sizeof key, "<figure class=\"chart\" id=\"%s\"", id);
    const char *a = strstr(html, key), *b = a ? strstr(a, "</figure>") : NULL;
    size_t len = a && b ? (size_t)(b - a) : 0;
    char *c = malloc(len + 1);
    memcpy(c, a ? a : "", len);
    c[len] = 0;
    return c;
}

static void test_dendrogram(void **state)
{
    (void)state;
    /* Three separated groups of 20 on a line; the exact Ward tree cut in 3. */
    size_t n = 60, k = 3;
    double x[60];
    for (size_t i = 0; i < n; i++)
        x[i] = (double)(i % 3) * 100 + (double)(i / 3) * 0.37 + (double)(i % 7) * 0.01;
    cseg_hclust *h;
    assert_int_equal(cseg_hclust_create(&h, NULL), 0);
    assert_int_equal(cseg_hclust_fit(h, x, n, 1, NULL, NULL), 0);
    int32_t lab[60];
    assert_int_equal(cseg_hclust_cut_k(h, k, lab), 0);
    const double *Z = cseg_hclust_linkage(h);
    cseg_table *t;
    cseg_profile *p = tiny_profile(x, lab, n, k, &t);
    cseg_report *r;
    assert_int_equal(cseg_report_create(&r), 0);
    /* before the profile */
    assert_int_equal(cseg_report_set_dendrogram(r, Z, n, lab, 10, CSEG_LINKAGE_WARD, 0),
                     CSEG_EINVAL);
    assert_int_equal(cseg_report_set_profile(r, p, 0, NULL, 0), 0);
    char *html = render(r), *fig = figure(html, "chart-dendrogram");
    assert_string_equal(fig, ""); /* not a hierarchical report: no tree */
    free(fig);
    free(html);

    assert_int_equal(cseg_report_set_dendrogram(r, Z, n, lab, 10, CSEG_LINKAGE_WARD, 0), 0);
    html = render(r);
    fig = figure(html, "chart-dendrogram");
    assert_true(strlen(fig) > 0);
    assert_null(strstr(html, "id=\"chart-membership\""));
    /* truncated to 10 leaves and 9 merges; leaf sizes add up to all customers */
    assert_int_equal(count(fig, "<path "), 9);
    const char *lv = strstr(fig, "<g class=\"leaves\">");
    assert_non_null(lv);
    assert_int_equal(count(lv, "<rect "), 10 + k + 1); /* leaves, then the legend */
    size_t total = 0;
    for (const char *s = lv; (s = strstr(s, "rotate(-90)\" text-anchor=\"end\">(")); ) {
        s += strlen("rotate(-90)\" text-anchor=\"end\">(");
        total += (size_t)atol(s);
    }
    assert_int_equal(total, n);
    assert_non_null(strstr(fig, "merge height (Ward distance, model space)"));
    assert_non_null(strstr(fig, "cut into 3 segments, between merge heights"));
    assert_non_null(strstr(fig, "<title id=\"chart-dendrogram-t\">"));
    assert_non_null(strstr(fig, "<desc id=\"chart-dendrogram-d\">"));
    assert_null(strstr(fig, "micro-clusters"));
    /* each group's branches in its colour (segments 0, 1, 2), the top in grey */
    assert_non_null(strstr(fig, "stroke=\"#0072B2\""));
    assert_non_null(strstr(fig, "stroke=\"#E69F00\""));
    assert_non_null(strstr(fig, "stroke=\"#009E73\""));
    assert_int_equal(count(fig, "stroke=\"#555555\""), k - 1);
    /* the segment name is text, in the legend and the tooltips */
    assert_null(strstr(html, "<script>alert"));
    assert_non_null(strstr(fig, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    /* the same inputs give the same bytes */
    char *again = render(r);
    assert_string_equal(html, again);
    free(again);
    free(fig);
    free(html);

    /* fewer leaves asked than segments: every segment still shows; more than the tree has:
     * all of it; no colours without leaf segments; micro-clusters said */
    assert_int_equal(cseg_report_set_dendrogram(r, Z, n, lab, 2, CSEG_LINKAGE_COMPLETE, 0), 0);
    html = render(r);
    fig = figure(html, "chart-dendrogram");
    assert_int_equal(count(fig, "<path "), k - 1);
    assert_non_null(strstr(fig, "merge height (largest distance, model space)"));
    free(fig);
    free(html);
    assert_int_equal(cseg_report_set_dendrogram(r, Z, n, NULL, 1000, CSEG_LINKAGE_WARD, 1), 0);
    html = render(r);
    fig = figure(html, "chart-dendrogram");
    assert_int_equal(count(fig, "<path "), n - 1);
    assert_int_equal(count(fig, "stroke=\"#555555\""), n - 1);
    assert_non_null(strstr(fig, "built on 60 micro-clusters"));
    free(fig);
    free(html);

    /* malformed input */
    double *bad = malloc((n - 1) * 4 * sizeof *bad);
    memcpy(bad, Z, (n - 1) * 4 * sizeof *bad);
    bad[4] = bad[0]; /* a leaf merged twice */
    bad[5] = bad[0] == bad[1] ? bad[1] + 1 : bad[1];
    assert_int_equal(cseg_report_set_dendrogram(r, bad, n, lab, 10, CSEG_LINKAGE_WARD, 0),
                     CSEG_EINVAL);
    memcpy(bad, Z, (n - 1) * 4 * sizeof *bad);
    bad[0] = (double)(2 * n); /* out of range */
    assert_int_equal(cseg_report_set_dendrogram(r, bad, n, lab, 10, CSEG_LINKAGE_WARD, 0),
                     CSEG_EINVAL);
    memcpy(bad, Z, (n - 1) * 4 * sizeof *bad);
    bad[2] = NAN;
    assert_int_equal(cseg_report_set_dendrogram(r, bad, n, lab, 10, CSEG_LINKAGE_WARD, 0),
                     CSEG_EINVAL);
    free(bad);
    int32_t badlab[60];
    memcpy(badlab, lab, sizeof badlab);
    badlab[7] = 3;
    assert_int_equal(cseg_report_set_dendrogram(r, Z, n, badlab, 10, CSEG_LINKAGE_WARD, 0),
                     CSEG_EINVAL);
    assert_int_equal(cseg_report_set_dendrogram(r, Z, 2, lab, 10, CSEG_LINKAGE_WARD, 0),
                     CSEG_EINVAL); /* fewer leaves than segments */
    /* a failed call keeps the chart set before; a new profile drops it */
    html = render(r);
    assert_non_null(strstr(html, "id=\"chart-dendrogram\""));
    free(html);
    assert_int_equal(cseg_report_set_profile(r, p, 0, NULL, 0), 0);
    html = render(r);
    assert_null(strstr(html, "id=\"chart-dendrogram\""));
    free(html);

    cseg_report_free(r);
    cseg_profile_free(p);
    cseg_table_free(t);
    cseg_hclust_free(h);
}

static void test_membership(void **state)
{
    (void)state;
    /* Segment 0: max p 0.6, 0.8, 0.95, 1.0; segment 1: 0.995 twice; an unlabelled row. */
    size_t n = 7, k = 2;
    const double P[14] = {0.6, 0.4, 0.2, 0.8, 0.95, 0.05, 1.0, 0.0,
                          0.005, 0.995, 0.005, 0.995, 0.5, 0.5};
    const int32_t lab[7] = {0, 0, 0, 0, 1, 1, -1};
    const double x[7] = {1, 2, 3, 4, 5, 6, 7};
    cseg_table *t;
    cseg_profile *p = tiny_profile(x, lab, n, k, &t);
    cseg_report *r;
    assert_int_equal(cseg_report_create(&r), 0);
    assert_int_equal(cseg_report_set_membership(r, P, n, k, lab), CSEG_EINVAL); /* no profile */
    assert_int_equal(cseg_report_set_profile(r, p, 0, NULL, 0), 0);
    char *html = render(r);
    assert_null(strstr(html, "id=\"chart-membership\""));
    free(html);
    assert_int_equal(cseg_report_set_membership(r, P, n, 3, lab), CSEG_EINVAL);
    double Pn[14];
    memcpy(Pn, P, sizeof Pn);
    Pn[3] = NAN;
    assert_int_equal(cseg_report_set_membership(r, Pn, n, k, lab), CSEG_EINVAL);
    Pn[3] = 1.5;
    assert_int_equal(cseg_report_set_membership(r, Pn, n, k, lab), CSEG_EINVAL);
    assert_int_equal(cseg_report_set_membership(r, P, n, k, lab), 0);
    html = render(r);
    char *fig = figure(html, "chart-membership");
    assert_true(strlen(fig) > 0);
    assert_null(strstr(html, "id=\"chart-dendrogram\""));
    assert_non_null(strstr(fig, "&lt;script&gt;alert(1)&lt;/script&gt;: 1 of 4 customers (25.0%) "
                                "have a highest membership probability below 0.7"));
    assert_non_null(strstr(fig, ": 1 of 4 customers (25.0%) have a highest membership "
                                "probability 0.9 to 0.99"));
    assert_non_null(strstr(fig, ": 2 of 2 customers (100.0%) have a highest membership "
                                "probability 0.99 or more"));
    assert_non_null(strstr(fig, ">50.0%<title>"));  /* borderline in segment 1 */
    assert_non_null(strstr(fig, ">0.0%<title>"));   /* and in segment 2 */
    assert_non_null(strstr(fig, "All customers: 2 of 6 customers are borderline"));
    assert_non_null(strstr(fig, "<desc id=\"chart-membership-d\">"));
    assert_null(strstr(html, "<script>alert"));
    char *again = render(r);
    assert_string_equal(html, again);
    free(again);
    free(fig);
    free(html);
    cseg_report_free(r);
    cseg_profile_free(p);
    cseg_table_free(t);
}

static void test_outliers(void **state)
{
    (void)state;
    size_t n = 40, k = 3;
    double X[80], x[40];
    int32_t lab[40];
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)(i % 3);
        x[i] = X[2 * i] = (double)lab[i] * 5 + (double)(i % 4) * 0.1;
        X[2 * i + 1] = (double)(i % 5) * 0.2;
    }
    cseg_table *t;
    cseg_profile *p = tiny_profile(x, lab, n, k, &t);
    assert_int_equal(cseg_profile_set_name(p, 2, "Outliers"), 0);
    cseg_report *r;
    assert_int_equal(cseg_report_create(&r), 0);
    assert_int_equal(cseg_report_set_outliers(r, 2), CSEG_EINVAL); /* no profile */
    assert_int_equal(cseg_report_set_profile(r, p, 0, NULL, 0), 0);
    assert_int_equal(cseg_report_set_outliers(r, 3), CSEG_EINVAL);
    assert_int_equal(cseg_report_set_outliers(r, 2), 0);
    assert_int_equal(cseg_report_set_points(r, X, n, 2, lab, 0, 1), 0);
    char *html = render(r), *fig = figure(html, "chart-pca");
    assert_non_null(strstr(fig, "fill=\"#999999\"><title>Outliers: PC1"));
    assert_null(strstr(fig, "Centre of Outliers"));
    assert_non_null(strstr(fig, "Centre of &lt;script&gt;"));
    assert_int_equal(count(fig, "Centre of "), k - 1);
    free(fig);
    free(html);
    cseg_report_free(r);
    cseg_profile_free(p);
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_checker),
        cmocka_unit_test(test_report_page),
        cmocka_unit_test(test_dendrogram),
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_outliers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
