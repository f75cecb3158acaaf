/* Tests for typed tables: inference, forced types, errors, ids, CSV writing. */
#include <math.h>

#include "util.h"

static void test_inference(void **state)
{
    (void)state;
    const char *p = tmp_text(0, "id,amount,when,city,empty\n"
                                "1,2.5,2011-12-01 08:26:00,Paris,\n"
                                "2,NA,2011-12-02,\"New York\",\n"
                                "3,-1e3,12/3/2011 10:00,,NULL\n");
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), 0);
    assert_int_equal(cseg_table_n_rows(t), 3);
    assert_int_equal(cseg_table_col_type(t, 0), CSEG_COL_NUMBER);
    assert_int_equal(cseg_table_col_type(t, 1), CSEG_COL_NUMBER);
    assert_int_equal(cseg_table_col_type(t, 2), CSEG_COL_DATETIME);
    assert_int_equal(cseg_table_col_type(t, 3), CSEG_COL_TEXT);
    assert_int_equal(cseg_table_col_type(t, 4), CSEG_COL_NUMBER); /* never a value */
    const double *a = cseg_table_numbers(t, 1);
    assert_true(a[0] == 2.5 && isnan(a[1]) && a[2] == -1000);
    const int64_t *w = cseg_table_times(t, 2);
    assert_int_equal(w[1] - w[0], 86400 - 8 * 3600 - 26 * 60);
    const int32_t *c = cseg_table_codes(t, 3);
    assert_string_equal(cseg_table_level(t, 3, c[1]), "New York");
    assert_int_equal(c[2], -1);
    assert_int_equal(cseg_table_find(t, "city"), 3);
    assert_int_equal(cseg_table_find(t, "nope"), -1);
    assert_int_equal(cseg_table_row_line(t, 2), 4);
    cseg_table_free(t);
    unlink(p);
}

static void test_late_contradiction_restarts(void **state)
{
    (void)state;
    /* 5000 numeric invoices, then a cancellation: the column must end as text. */
    size_t cap = 5000 * 16 + 64, o = 0;
    char *buf = malloc(cap);
    o += (size_t)snprintf(buf + o, cap - o, "inv,x\n");
    for (int i = 0; i < 5000; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%d,%d\n", 536365 + i, i);
    o += (size_t)snprintf(buf + o, cap - o, "C536379,1\n");
    const char *p = tmp_file(1, buf, o);
    free(buf);
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), 0);
    assert_int_equal(cseg_table_col_type(t, 0), CSEG_COL_TEXT);
    assert_int_equal(cseg_table_col_type(t, 1), CSEG_COL_NUMBER);
    assert_string_equal(cseg_table_level(t, 0, cseg_table_codes(t, 0)[0]), "536365");
    assert_string_equal(cseg_table_level(t, 0, cseg_table_codes(t, 0)[5000]), "C536379");
    cseg_table_free(t);
    unlink(p);
}

static void test_forced_types_and_errors(void **state)
{
    (void)state;
    const char *p = tmp_text(2, "CustomerID,Quantity,InvoiceDate\n"
                                "17850.0,6,2010-12-01 08:26:00\n"
                                " 13047 ,3,2010-12-01 08:34:00\n"
                                "12583.00,abc,2010-12-01 08:45:00\n");
    cseg_colspec specs[] = {{"CustomerID", CSEG_COL_TEXT, 1},
                            {"Quantity", CSEG_COL_NUMBER, 0},
                            {"InvoiceDate", CSEG_COL_DATETIME, 0}};
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.specs = specs;
    rp.n_specs = 3;
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), CSEG_EPARSE);
    char msg[1200];
    cseg_diag_format(&d, msg, sizeof msg);
    char expect[1200];
    snprintf(expect, sizeof expect, "%s:4:10: expected a number in column \"Quantity\", got \"abc\"",
             p);
    assert_string_equal(msg, expect);
    /* Without the bad row: ids are normalised. */
    p = tmp_text(3, "CustomerID,Quantity,InvoiceDate\n17850.0,6,2010-12-01\n 13047 ,3,2010-12-01\n"
                    "00123,1,2010-12-02\n1.5,1,2010-12-02\n");
    assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), 0);
    const int32_t *c = cseg_table_codes(t, 0);
    assert_string_equal(cseg_table_level(t, 0, c[0]), "17850");
    assert_string_equal(cseg_table_level(t, 0, c[1]), "13047");
    assert_string_equal(cseg_table_level(t, 0, c[2]), "00123");
    assert_string_equal(cseg_table_level(t, 0, c[3]), "1.5");
    cseg_table_free(t);
    /* A bad date. */
    p = tmp_text(4, "CustomerID,Quantity,InvoiceDate\n1,6,2010-13-01\n");
    assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), CSEG_EPARSE);
    assert_int_equal(d.line, 2);
    assert_int_equal(d.col, 5);
    assert_string_equal(d.msg, "expected a date in column \"InvoiceDate\", got \"2010-13-01\"");
    /* A required column missing. */
    p = tmp_text(5, "CustomerID,Qty\n1,2\n");
    assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), CSEG_ENOCOL);
    assert_string_equal(d.msg, "column \"Quantity\" not found in the header");
    /* Wrong field count. */
    p = tmp_text(6, "a,b\n1,2\n3\n");
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), CSEG_EPARSE);
    assert_int_equal(d.line, 3);
    assert_string_equal(d.msg, "expected 2 fields as in the header, found 1");
}

static void test_skip_and_hash(void **state)
{
    (void)state;
    const char *p = tmp_text(0, "a,b,c\n1,x,2\n1,x,2\n1,y,2\n");
    cseg_colspec specs[] = {{"a", CSEG_COL_NUMBER, 0}};
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.specs = specs;
    rp.n_specs = 1;
    rp.skip_unlisted = 1;
    rp.row_hash = 1;
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), 0);
    assert_int_equal(cseg_table_n_cols(t), 1);
    const uint64_t *h = cseg_table_row_hashes(t);
    assert_non_null(h);
    assert_true(h[0] == h[1]);
    assert_true(h[0] != h[2]); /* unloaded column b still counts */
    cseg_table_free(t);
    unlink(p);
}

static void test_write_roundtrip(void **state)
{
    (void)state;
    cseg_table *t;
    assert_int_equal(cseg_table_create(&t, 3), 0);
    double v[3] = {0.1, -2, NAN};
    const char *lv[] = {"plain", "with,comma", "say \"hi\""};
    int32_t codes[3] = {1, -1, 2};
    assert_int_equal(cseg_table_add_numbers(t, "v", v), 0);
    assert_int_equal(cseg_table_add_text(t, "name", lv, 3, codes), 0);
    assert_int_equal(cseg_table_add_numbers(t, "v", v), CSEG_EINVAL);
    char path[] = "/tmp/cseg_test_out_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    cseg_diag d;
    assert_int_equal(cseg_table_write_csv(t, path, &d), 0);
    cseg_table *u;
    assert_int_equal(cseg_table_read_csv(&u, path, NULL, &d), 0);
    assert_int_equal(cseg_table_n_rows(u), 3);
    const double *x = cseg_table_numbers(u, 0);
    assert_true(x[0] == 0.1 && x[1] == -2 && isnan(x[2]));
    assert_string_equal(cseg_table_level(u, 1, cseg_table_codes(u, 1)[0]), "with,comma");
    assert_int_equal(cseg_table_codes(u, 1)[1], -1);
    assert_string_equal(cseg_table_level(u, 1, cseg_table_codes(u, 1)[2]), "say \"hi\"");
    cseg_table_free(u);
    /* Writing into a missing folder fails cleanly and leaves nothing behind. */
    assert_int_equal(cseg_table_write_csv(t, "/nonexistent-dir/x.csv", &d), CSEG_EIO);
    cseg_table_free(t);
    unlink(path);
}

static void test_missing_file(void **state)
{
    (void)state;
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, "/nonexistent/file.csv", NULL, &d), CSEG_EIO);
    assert_null(t);
    assert_string_equal(d.file, "/nonexistent/file.csv");
    const char *p = tmp_text(0, "");
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), CSEG_EEMPTY);
    p = tmp_text(1, "a,b\n");
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), 0);
    assert_int_equal(cseg_table_n_rows(t), 0);
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inference),           cmocka_unit_test(test_late_contradiction_restarts),
        cmocka_unit_test(test_forced_types_and_errors), cmocka_unit_test(test_skip_and_hash),
        cmocka_unit_test(test_write_roundtrip),     cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
