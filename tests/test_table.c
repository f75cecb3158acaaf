/* Tests for typed tables: inference, forced types, errors, ids, CSV writing. */
#include <math.h>
#include <zlib.h>

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

/* Build a CSV of n rows: id,x,when,tag. quote_every > 0 quotes the tag of
 * every such row (forcing the record-by-record path for those blocks). */
static char *make_csv(size_t n, int crlf, size_t quote_every, size_t *len)
{
    size_t cap = n * 64 + 64, o = 0;
    char *b = malloc(cap);
    const char *nl = crlf ? "\r\n" : "\n";
    o += (size_t)snprintf(b + o, cap - o, "id,x,when,tag%s", nl);
    for (size_t i = 0; i < n; i++) {
        int q = quote_every && i % quote_every == 0;
        if (i % 997 == 5) /* a blank line now and then */
            o += (size_t)snprintf(b + o, cap - o, "%s", nl);
        /* quoted tags read the same as plain ones, except a few with an
         * escaped quote or a delimiter inside */
        const char *extra = q && i % 7 == 0 ? "\"\"x" : q && i % 7 == 1 ? ",y" : "";
        o += (size_t)snprintf(b + o, cap - o, "%zu,%s,2020-01-%02zu 10:%02zu:00,%st%zu%s%s%s", i,
                              i % 101 == 3 ? "NA" : (i % 2 ? "-12.5" : "0.000123"), 1 + i % 28,
                              i % 60, q ? "\"" : "", i % 13, extra, q ? "\"" : "", nl);
    }
    *len = o;
    return b;
}

static void check_same(const cseg_table *a, const cseg_table *b)
{
    size_t n = cseg_table_n_rows(a);
    assert_int_equal(n, cseg_table_n_rows(b));
    assert_memory_equal(cseg_table_numbers(a, 0), cseg_table_numbers(b, 0), n * sizeof(double));
    const double *xa = cseg_table_numbers(a, 1), *xb = cseg_table_numbers(b, 1);
    for (size_t i = 0; i < n; i++)
        assert_true(xa[i] == xb[i] || (isnan(xa[i]) && isnan(xb[i])));
    assert_memory_equal(cseg_table_times(a, 2), cseg_table_times(b, 2), n * sizeof(int64_t));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(cseg_table_level(a, 3, cseg_table_codes(a, 3)[i]),
                            cseg_table_level(b, 3, cseg_table_codes(b, 3)[i]));
        assert_int_equal(cseg_table_row_line(a, i), cseg_table_row_line(b, i));
    }
    assert_memory_equal(cseg_table_row_hashes(a), cseg_table_row_hashes(b), n * sizeof(uint64_t));
}

static void test_block_mode_equivalence(void **state)
{
    (void)state;
    size_t n = 300000, len;
    /* Plain (block path after the first rows) vs every row quoted (record path). */
    char *plain = make_csv(n, 0, 0, &len);
    const char *pp = tmp_file(0, plain, len);
    char *quoted = make_csv(n, 0, 1, &len);
    const char *pq = tmp_file(1, quoted, len);
    char *crlf = make_csv(n, 1, 0, &len);
    const char *pc = tmp_file(2, crlf, len);
    char *mixed = make_csv(n, 0, 50000, &len); /* some blocks each way */
    const char *pm = tmp_file(3, mixed, len);
    free(plain);
    free(quoted);
    free(crlf);
    free(mixed);
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.row_hash = 1;
    cseg_table *ref, *t;
    cseg_diag d;
    /* Each file read by blocks (1, 2, 8 threads) equals its record-by-record read. */
    const char *paths[] = {pp, pc, pm, pq};
    int threads[] = {1, 2, 8};
    for (int f = 0; f < 4; f++) {
        rp.record_by_record = 1;
        rp.n_threads = 1;
        assert_int_equal(cseg_table_read_csv(&ref, paths[f], &rp, &d), 0);
        assert_int_equal(cseg_table_n_rows(ref), n);
        assert_int_equal(cseg_table_col_type(ref, 1), CSEG_COL_NUMBER);
        assert_int_equal(cseg_table_col_type(ref, 2), CSEG_COL_DATETIME);
        rp.record_by_record = 0;
        for (int k = 0; k < 3; k++) {
            rp.n_threads = threads[k];
            assert_int_equal(cseg_table_read_csv(&t, paths[f], &rp, &d), 0);
            check_same(ref, t);
            cseg_table_free(t);
        }
        cseg_table_free(ref);
    }
    unlink(pp);
    unlink(pq);
    unlink(pc);
    unlink(pm);
}

static void test_block_mode_errors(void **state)
{
    (void)state;
    size_t n = 200000, len;
    char *b = make_csv(n, 0, 0, &len);
    /* Corrupt row 150000 (line 150000 + header + blank lines before it). */
    char key[32];
    snprintf(key, sizeof key, "\n150000,");
    char *at = strstr(b, key);
    assert_non_null(at);
    long line = 1;
    for (char *q = b; q <= at; q++)
        line += *q == '\n';
    /* x is "0.000123" (even row): make it "0.0x0123" */
    at[1 + 7 + 3] = 'x';
    cseg_colspec specs[] = {{"x", CSEG_COL_NUMBER, 0}};
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.specs = specs;
    rp.n_specs = 1;
    const char *p = tmp_file(0, b, len);
    cseg_table *t;
    cseg_diag d;
    for (int th = 1; th <= 2; th++) {
        rp.n_threads = th;
        assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), CSEG_EPARSE);
        assert_int_equal(d.line, line);
        assert_int_equal(d.col, 8);
        assert_string_equal(d.msg, "expected a number in column \"x\", got \"0.0x0123\"");
    }
    /* Without the forced type, x becomes a text column (restart), not an error. */
    rp.specs = NULL;
    rp.n_specs = 0;
    assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), 0);
    assert_int_equal(cseg_table_col_type(t, 1), CSEG_COL_TEXT);
    cseg_table_free(t);
    unlink(p);
    /* A short row deep in the file. */
    at[1 + 7 + 3] = '0';
    char *comma = strchr(at + 1, ',');
    *comma = ';'; /* 150000;0.000123,... has 3 fields */
    p = tmp_file(1, b, len);
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), CSEG_EPARSE);
    assert_int_equal(d.line, line);
    assert_string_equal(d.msg, "expected 4 fields as in the header, found 3");
    unlink(p);
    *comma = ',';
    /* Row 150000 made longer than max_record (5,036 bytes; the others are
     * at most 39): refused by the block path too (it read it whole), naming its
     * line. */
    char *row_end = strchr(at + 1, '\n');
    size_t head = (size_t)(at + 1 - b), cap = len + 6000;
    char *lb = malloc(cap);
    memcpy(lb, b, head);
    int w = snprintf(lb + head, cap - head, "150000,0.000123,2020-01-01 10:00:00,%05000d", 7);
    memcpy(lb + head + (size_t)w, row_end, len - (size_t)(row_end - b));
    p = tmp_file(1, lb, head + (size_t)w + len - (size_t)(row_end - b));
    cseg_table_read_params_init(&rp);
    rp.csv.max_record = 4096;
    for (int th = 1; th <= 2; th++) {
        rp.n_threads = th;
        assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), CSEG_ETOOBIG);
        assert_int_equal(d.line, line);
    }
    rp.csv.max_record = 8192;
    assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), 0);
    assert_int_equal(cseg_table_n_rows(t), n);
    cseg_table_free(t);
    unlink(p);
    free(lb);
    free(b);
}

/* Read path with threads 1, 2, 8 (block mode) and check each equals its
 * record-by-record read. */
static void check_modes(const char *path, size_t n)
{
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.row_hash = 1;
    rp.record_by_record = 1;
    rp.n_threads = 1;
    cseg_table *ref, *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&ref, path, &rp, &d), 0);
    assert_int_equal(cseg_table_n_rows(ref), n);
    rp.record_by_record = 0;
    int threads[] = {1, 2, 8};
    for (int k = 0; k < 3; k++) {
        rp.n_threads = threads[k];
        assert_int_equal(cseg_table_read_csv(&t, path, &rp, &d), 0);
        check_same(ref, t);
        cseg_table_free(t);
    }
    cseg_table_free(ref);
}

/* Large inputs are read whole from memory (a mapped plain file, or a gzip file
 * inflated at once): same tables as the record path, including a gzip file of
 * two members, an input without a final newline, a quoted line end deep in a
 * mapped file (that block falls back to the record path), and a truncated
 * gzip file still reported as such. */
static void test_whole_input(void **state)
{
    (void)state;
    size_t n = 300000, len;
    char *b = make_csv(n, 0, 0, &len);
    char gzpath[64];
    snprintf(gzpath, sizeof gzpath, "/tmp/cseg_test_%d_gz.csv.gz", (int)getpid());
    size_t half = len / 2;
    while (b[half - 1] != '\n')
        half--;
    gzFile g = gzopen(gzpath, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, b, (unsigned)half), (int)half);
    assert_int_equal(gzclose(g), Z_OK);
    g = gzopen(gzpath, "ab");
    assert_non_null(g);
    /* the second member ends without a newline */
    assert_int_equal(gzwrite(g, b + half, (unsigned)(len - half - 1)), (int)(len - half - 1));
    assert_int_equal(gzclose(g), Z_OK);
    check_modes(gzpath, n);
    const char *pp = tmp_file(0, b, len - 1);
    check_modes(pp, n);
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, pp, NULL, &d), 0);
    long l0 = cseg_table_row_line(t, 200000), l1 = cseg_table_row_line(t, 200001);
    cseg_table_free(t);
    unlink(pp);
    /* The tag of row 200000 becomes a quoted field holding a line end. */
    char *at = strstr(b, "\n200000,");
    assert_non_null(at);
    char *e = strchr(at + 1, '\n'), *tag = e;
    while (*tag != ',')
        tag--;
    size_t pre = (size_t)(tag + 1 - b), post = len - (size_t)(e - b);
    char *q = malloc(pre + 5 + post);
    memcpy(q, b, pre);
    memcpy(q + pre, "\"a\nb\"", 5);
    memcpy(q + pre + 5, e, post);
    pp = tmp_file(1, q, pre + 5 + post);
    check_modes(pp, n);
    assert_int_equal(cseg_table_read_csv(&t, pp, NULL, &d), 0);
    assert_int_equal(cseg_table_row_line(t, 200000), l0);
    assert_int_equal(cseg_table_row_line(t, 200001), l1 + 1);
    assert_string_equal(cseg_table_level(t, 3, cseg_table_codes(t, 3)[200000]), "a\nb");
    cseg_table_free(t);
    unlink(pp);
    free(q);
    /* Truncated gzip: an I/O error, as from zlib. */
    FILE *f = fopen(gzpath, "rb");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    assert_int_equal(truncate(gzpath, sz - 100), 0);
    assert_int_equal(cseg_table_read_csv(&t, gzpath, NULL, &d), CSEG_EIO);
    assert_non_null(strstr(d.msg, "truncated"));
    unlink(gzpath);
    free(b);
}


/* Issue 16.1: more columns than the old fixed 65,536-entry type buffer. */
static void test_very_wide(void **state)
{
    (void)state;
    size_t nc = 70000, cap = nc * 16 * 6 + 64, len = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    for (size_t r = 0; r < 6; r++)
        for (size_t j = 0; j < nc; j++)
            len += (size_t)snprintf(b + len, cap - len, r == 0 ? "c%zu%c" : "%zu%c",
                                    r == 0 ? j : r + j % 7, j + 1 == nc ? '\n' : ',');
    const char *p = tmp_file(0, b, len);
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), 0);
    assert_int_equal(cseg_table_n_cols(t), nc);
    assert_int_equal(cseg_table_n_rows(t), 5);
    /* Every name found (a hashed lookup: 70,000 of them in no time). */
    for (size_t j = 0; j < nc; j++) {
        char name[32];
        snprintf(name, sizeof name, "c%zu", j);
        assert_int_equal(cseg_table_find(t, name), (long)j);
    }
    assert_int_equal(cseg_table_find(t, "c70000"), -1);
    cseg_table_free(t);
    unlink(p);
    free(b);
}

/* Issue 16.4: a name given twice in the header is refused, naming both. */
static void test_duplicate_header(void **state)
{
    (void)state;
    const char *p = tmp_text(0, "id,X, X ,Y\n1,2,3,4\n");
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), CSEG_EPARSE);
    assert_null(t);
    assert_int_equal(d.line, 1);
    assert_int_equal(d.col, 6);
    assert_string_equal(d.msg, "column name \"X\" appears twice in the header (columns 2 and 3)");
    unlink(p);
}

/* Issue 16.3: text that is not UTF-8 never reaches the outputs: refused with
 * file, line and column, in the header and in loaded text columns (record
 * by record and in the parallel block reader). */
static void test_invalid_utf8(void **state)
{
    (void)state;
    cseg_table *t;
    cseg_diag d;
    const char *p = tmp_text(0, "id,caf\xe9,n\n1,a,2\n");
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), CSEG_EPARSE);
    assert_int_equal(d.line, 1);
    assert_int_equal(d.col, 4);
    assert_non_null(strstr(d.msg, "not valid UTF-8"));
    p = tmp_text(0, "id,country,n\n1,France,2\n2,Cura\xe7\x61o,3\n");
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), CSEG_EPARSE);
    assert_int_equal(d.line, 3);
    assert_int_equal(d.col, 3);
    assert_string_equal(d.msg, "text in column \"country\" is not valid UTF-8 (byte 0xE7); "
                               "convert the file, e.g. iconv -f WINDOWS-1252 -t UTF-8");
    /* Valid multi-byte text is kept as it is. */
    p = tmp_text(0, "id,country,n\n1,Cura\xc3\xa7\x61o,2\n2,\xe6\x97\xa5\xe6\x9c\xac,3\n");
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), 0);
    assert_string_equal(cseg_table_level(t, 1, 0), "Cura\xc3\xa7\x61o");
    cseg_table_free(t);
    /* Deep in a large file, where the block reader interns the text. */
    size_t n = 5000, cap = n * 32 + 64, len = 0;
    char *b = malloc(cap);
    len += (size_t)snprintf(b, cap, "id,country,n\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(b + len, cap - len, "%zu,%s,%zu\n", i,
                                i == 4000 ? "Bad\xff" : i % 2 ? "UK" : "France", i);
    p = tmp_file(0, b, len);
    for (int th = 1; th <= 2; th++) {
        cseg_table_read_params rp;
        cseg_table_read_params_init(&rp);
        rp.n_threads = th;
        assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), CSEG_EPARSE);
        assert_int_equal(d.line, 4002);
        assert_int_equal(d.col, 6);
        assert_non_null(strstr(d.msg, "(byte 0xFF)"));
    }
    free(b);
    unlink(p);
}

/* Issue 16.5: 1e309 is no text and no missing value: an error where it
 * stands, record by record and in the block reader, inferred or forced. */
static void test_out_of_range_number(void **state)
{
    (void)state;
    cseg_table *t;
    cseg_diag d;
    const char *p = tmp_text(0, "a,b\n1,2\n3,-1e309\n");
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), CSEG_ERANGE);
    assert_int_equal(d.line, 3);
    assert_int_equal(d.col, 3);
    size_t n = 5000, cap = n * 24 + 64, len = 0;
    char *b = malloc(cap);
    len += (size_t)snprintf(b, cap, "a,b\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(b + len, cap - len, "%zu,%s\n", i, i == 4321 ? "2e400" : "1.5");
    p = tmp_file(0, b, len);
    for (int th = 1; th <= 2; th++) {
        cseg_table_read_params rp;
        cseg_table_read_params_init(&rp);
        rp.n_threads = th;
        assert_int_equal(cseg_table_read_csv(&t, p, &rp, &d), CSEG_ERANGE);
        assert_int_equal(d.line, 4323);
        assert_int_equal(d.col, 6);
        assert_non_null(strstr(d.msg, "got \"2e400\""));
    }
    free(b);
    unlink(p);
}

/* Issue 16.12: a column read as text because of one value says which. */
static void test_text_because(void **state)
{
    (void)state;
    const char *p = tmp_text(0, "id,joined,spend,name\n1,2011-01-02,10,a\n2,2011-02-30,20,b\n"
                                "3,2011-03-01,x,c\n");
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, p, NULL, &d), 0);
    long line = 0;
    cseg_coltype was = CSEG_COL_AUTO;
    assert_string_equal(cseg_table_text_because(t, 1, &line, &was), "2011-02-30");
    assert_int_equal(line, 3);
    assert_int_equal(was, CSEG_COL_DATETIME);
    assert_string_equal(cseg_table_text_because(t, 2, &line, &was), "x");
    assert_int_equal(line, 4);
    assert_int_equal(was, CSEG_COL_NUMBER);
    assert_null(cseg_table_text_because(t, 3, &line, &was)); /* text from the start */
    assert_null(cseg_table_text_because(t, 0, NULL, NULL));
    cseg_table_free(t);
    unlink(p);
}

/* A bad value in a quoted field is placed at the field's opening quote by
 * both readers (the block parser said one column further: fuzz finding). */
static void test_quoted_error_column(void **state)
{
    (void)state;
    static const char *const bad[] = {"\"q\xff\"", "\"x1\""};
    static const char *const want[] = {"not valid UTF-8", "expected a number"};
    for (int b = 0; b < 2; b++) {
        size_t cap = 64 * 1024, off = 0;
        char *text = malloc(cap);
        off += (size_t)snprintf(text + off, cap - off, "k;t\r\n");
        for (int i = 0; i < 1500; i++)
            off += (size_t)snprintf(text + off, cap - off, "%d;\"%d\"\r\n", i, i % 3);
        off += (size_t)snprintf(text + off, cap - off, "0;%s\r\n1;\"2\"\r\n", bad[b]);
        const char *path = tmp_file(1, text, off);
        for (int rec = 0; rec < 2; rec++) {
            cseg_table_read_params p;
            cseg_table_read_params_init(&p);
            p.record_by_record = rec;
            cseg_colspec spec = {"t", b ? CSEG_COL_NUMBER : CSEG_COL_TEXT, 0};
            p.specs = &spec;
            p.n_specs = 1;
            cseg_table *t = NULL;
            cseg_diag d;
            assert_true(cseg_table_read_csv(&t, path, &p, &d) < 0);
            assert_int_equal(d.line, 1502);
            assert_int_equal(d.col, 3);
            if (!strstr(d.msg, want[b]))
                fail_msg("%s", d.msg);
        }
        free(text);
    }
}

/* Numbers are written in their shortest exact form (whole numbers below 1e15
 * as their digits, and -0 as 0): the fixed cases, then 300,000 generated
 * ones of the kinds the writer has a fast path for (decimals with a few
 * digits, around the bounds of fixed notation) and random bit patterns. */
static void test_number_text(void **state)
{
    (void)state;
    static const double fixed[] = {0, -0.0, 7, -5, 326, 999999999999999, 1e15, 123456789012345,
                                   4310, 615.71, 0.1, -2.5e-7, 9007199254740993.0, 1e300,
                                   1e-4, 9.999999999999999e-5, 0.00010000000000000001,
                                   99999999999999.9, 999999999999999.9, 1.0 / 3, 2.0 / 3,
                                   0.204016, -0.000123, 0.3, 5e-324, 1.7976931348623157e308};
    size_t nf = sizeof fixed / sizeof fixed[0], n = nf + 300000;
    double *v = malloc(n * sizeof *v);
    memcpy(v, fixed, sizeof fixed);
    uint64_t x = 42;
    for (size_t i = nf; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t r = x >> 11;
        double u = (double)(r % 2000001) - 1000000.0;
        switch (i % 4) {
        case 0: v[i] = u / 1e6; break;                                      /* 6 decimals */
        case 1: v[i] = u / pow(10, (double)(r % 23)) ; break;              /* 1e-16 .. 1e6 */
        case 2: v[i] = (double)r * pow(10, (double)(r % 37) - 26.0) / 1e15; break; /* 16 digits */
        default: memcpy(&v[i], &x, sizeof x); /* any double */
            if (!isfinite(v[i]))
                v[i] = 0;
        }
    }
    cseg_table *t;
    cseg_table_create(&t, n);
    cseg_table_add_numbers(t, "x", v);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(cseg_table_print_csv(t, f), 0);
    fclose(f);
    const char *line = strchr(buf, '\n') + 1;
    for (size_t i = 0; i < n; i++) {
        char want[64];
        /* The shortest of %.15g, %.16g, %.17g that reads back. */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(want, sizeof want, "%.*g", prec, v[i]);
            if (strtod(want, NULL) == v[i] && (v[i] != 0 || signbit(strtod(want, NULL)) == signbit(v[i])))
                break;
        }
        if (v[i] == 0)
            strcpy(want, "0"); /* the writer writes no -0 */
        size_t wl = strlen(want);
        if (strncmp(line, want, wl) != 0 || line[wl] != '\n')
            fail_msg("%.17g written as \"%.*s\", expected \"%s\"", v[i],
                     (int)(strchr(line, '\n') - line), line, want);
        line += wl + 1;
    }
    free(buf);
    free(v);
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inference),           cmocka_unit_test(test_late_contradiction_restarts),
        cmocka_unit_test(test_forced_types_and_errors), cmocka_unit_test(test_skip_and_hash),
        cmocka_unit_test(test_write_roundtrip),     cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_block_mode_equivalence), cmocka_unit_test(test_block_mode_errors),
        cmocka_unit_test(test_whole_input),
        cmocka_unit_test(test_very_wide), cmocka_unit_test(test_duplicate_header),
        cmocka_unit_test(test_invalid_utf8), cmocka_unit_test(test_out_of_range_number),
        cmocka_unit_test(test_text_because),   cmocka_unit_test(test_quoted_error_column),
        cmocka_unit_test(test_number_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
