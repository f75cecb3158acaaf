/* Tests for the HTML report: escaping, well-formedness, charts present. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_checker),
        cmocka_unit_test(test_report_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
