/* Tests for the streaming CSV reader and the value parsers. */
#include <math.h>
#include <zlib.h>

#include "util.h"

typedef struct mem_src {
    const char *p;
    size_t len, pos, step;
} mem_src;

/* Feeds at most `step` bytes per call: step 1 is byte-by-byte feeding. */
static long mem_read(void *user, void *buf, size_t size)
{
    mem_src *m = user;
    size_t n = m->len - m->pos;
    if (n > size)
        n = size;
    if (n > m->step)
        n = m->step;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (long)n;
}

/* Read all records, joining fields with '|' and records with '\n'. */
static int read_all(const char *text, size_t len, size_t step, char delim, char *out,
                    size_t outsz, cseg_diag *d)
{
    mem_src m = {text, len, 0, step};
    cseg_csv_params p;
    cseg_csv_params_init(&p);
    p.delimiter = delim;
    p.has_header = 0;
    cseg_csv *r;
    int rc = cseg_csv_open_reader(&r, mem_read, &m, "mem.csv", &p, d);
    if (rc < 0)
        return rc;
    const cseg_csv_field *f;
    size_t nf, o = 0;
    out[0] = 0;
    while ((rc = cseg_csv_next(r, &f, &nf, d)) > 0) {
        for (size_t j = 0; j < nf; j++)
            o += (size_t)snprintf(out + o, outsz - o, "%s%s", j ? "|" : "", f[j].ptr);
        o += (size_t)snprintf(out + o, outsz - o, "\n");
    }
    cseg_csv_close(r);
    return rc;
}

static const struct {
    const char *in;
    const char *out;
    int code;
} cases[] = {
    {"a,b,c\n1,2,3\n", "a|b|c\n1|2|3\n", 0},
    {"a,b\r\n1,2\r\n", "a|b\n1|2\n", 0},
    {"a,b\n1,2", "a|b\n1|2\n", 0},                       /* no final newline */
    {"\xEF\xBB\xBFx,y\n1,2\n", "x|y\n1|2\n", 0},          /* BOM */
    {"\"a,b\",c\n", "a,b|c\n", 0},                        /* quoted delimiter */
    {"\"say \"\"hi\"\"\",2\n", "say \"hi\"|2\n", 0},      /* escaped quotes */
    {"\"multi\nline\",2\n", "multi\nline|2\n", 0},        /* embedded newline */
    {"a,,c\n", "a||c\n", 0},                              /* empty field */
    {"a,b\n\n\n1,2\n", "a|b\n1|2\n", 0},                  /* blank lines skipped */
    {"\"\",x\n", "|x\n", 0},                              /* quoted empty */
    {"\"open,1\n2,3\n", "", CSEG_EPARSE},                 /* unclosed quote */
    {"\"a\"b,1\n", "", CSEG_EPARSE},                      /* text after closing quote */
    {"", "", CSEG_EEMPTY},
};

static void test_cases(void **state)
{
    (void)state;
    char out[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t step = 1; step <= 4096; step *= 4096) {
            cseg_diag d;
            cseg_diag_clear(&d);
            int rc = read_all(cases[i].in, strlen(cases[i].in), step, ',', out, sizeof out, &d);
            if (rc != cases[i].code)
                fail_msg("case %zu (step %zu): code %d, expected %d (%s)", i, step, rc,
                         cases[i].code, d.msg);
            if (rc == 0)
                assert_string_equal(out, cases[i].out);
        }
    }
}

static void test_nul_byte(void **state)
{
    (void)state;
    char out[128];
    cseg_diag d;
    static const char bin[] = "a,b\n1,\0\x01\x02\n";
    assert_int_equal(read_all(bin, sizeof bin - 1, 4096, ',', out, sizeof out, &d), CSEG_EPARSE);
    assert_int_equal(d.line, 2);
    assert_int_equal(d.col, 3);
    assert_non_null(strstr(d.msg, "binary"));
}

static void test_delimiter_detection(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        char delim;
    } t[] = {{"a;b;c\n1;2;3\n", ';'}, {"a\tb\n1\t2\n", '\t'}, {"a|b|c\n", '|'},
             {"a,b;c\n", ','},         {"\"x;y\",z\n", ','},  {"single\n1\n", ','}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        mem_src m = {t[i].text, strlen(t[i].text), 0, 4096};
        cseg_csv *r;
        cseg_diag d;
        assert_int_equal(cseg_csv_open_reader(&r, mem_read, &m, "x", NULL, &d), 0);
        assert_int_equal(cseg_csv_delimiter(r), t[i].delim);
        cseg_csv_close(r);
    }
}

static void test_header_and_positions(void **state)
{
    (void)state;
    const char *path = tmp_text(0, "id, name ,amount\n1,\"Ann\",3.5\n2,Bob,x\n");
    cseg_csv *r;
    cseg_diag d;
    assert_int_equal(cseg_csv_open(&r, path, NULL, &d), 0);
    assert_int_equal(cseg_csv_n_columns(r), 3);
    assert_string_equal(cseg_csv_column_name(r, 1), "name");
    const cseg_csv_field *f;
    size_t nf;
    assert_int_equal(cseg_csv_next(r, &f, &nf, &d), 1);
    assert_int_equal(cseg_csv_line(r), 2);
    assert_int_equal(cseg_csv_next(r, &f, &nf, &d), 1);
    assert_int_equal(cseg_csv_line(r), 3);
    assert_int_equal(cseg_csv_column_of(r, 2), 7);
    assert_int_equal(cseg_csv_next(r, &f, &nf, &d), 0);
    cseg_csv_close(r);
    unlink(path);
}

static void test_long_record(void **state)
{
    (void)state;
    size_t n = 200000;
    char *big = malloc(n + 8);
    memset(big, 'x', n);
    memcpy(big + n, "\n1\n", 4);
    mem_src m = {big, n + 3, 0, 65536};
    cseg_csv_params p;
    cseg_csv_params_init(&p);
    p.max_record = 100000;
    cseg_csv *r;
    cseg_diag d;
    assert_int_equal(cseg_csv_open_reader(&r, mem_read, &m, "big", &p, &d), CSEG_ETOOBIG);
    /* With a larger limit the same record is read whole. */
    m.pos = 0;
    p.max_record = 1 << 20;
    assert_int_equal(cseg_csv_open_reader(&r, mem_read, &m, "big", &p, &d), 0);
    assert_int_equal(strlen(cseg_csv_column_name(r, 0)), n);
    cseg_csv_close(r);
    free(big);
}

static void test_gzip(void **state)
{
    (void)state;
    char path[] = "/tmp/cseg_test_gz_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    gzputs(g, "a,b\n");
    for (int i = 0; i < 20000; i++)
        gzprintf(g, "%d,%d.5\n", i, i);
    gzclose(g);
    cseg_table *t;
    cseg_diag d;
    assert_int_equal(cseg_table_read_csv(&t, path, NULL, &d), 0);
    assert_int_equal(cseg_table_n_rows(t), 20000);
    assert_true(cseg_table_numbers(t, 1)[19999] == 19999.5);
    cseg_table_free(t);
    /* Truncate the compressed file: an I/O error, never a silent short read. */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, sz / 2), 0);
    assert_int_equal(cseg_table_read_csv(&t, path, NULL, &d), CSEG_EIO);
    assert_non_null(strstr(d.msg, "truncated"));
    unlink(path);
}

static void test_parse_double(void **state)
{
    (void)state;
    static const char *good[] = {"0", "1", "-1", "+2", "0.1", "3.14159", "1e5", "1E-5",
                                 "123456789012345678", "1234567890123456789012",
                                 "0.000000000000000000001", "1e22", "1e23", "2.2250738585072014e-308",
                                 "1.7976931348623157e308", " 42 ", "5.", ".5", "-0.0",
                                 "9007199254740993", "0.30000000000000004", "17850.0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v, ref = strtod(good[i], NULL);
        assert_int_equal(cseg_parse_double(good[i], strlen(good[i]), &v), 0);
        if (memcmp(&v, &ref, sizeof v) != 0)
            fail_msg("%s: %.17g != strtod %.17g", good[i], v, ref);
    }
    static const char *bad[] = {"", " ", "abc", "1..2", "1e", "e5", "--1", "1,5", "0x10",
                                "inf", "nan", "1 2", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        if (cseg_parse_double(bad[i], strlen(bad[i]), &v) != CSEG_EPARSE)
            fail_msg("'%s' should not parse", bad[i]);
    }
    /* Beyond the double range (issue 16.5): a range error, never inf. */
    static const char *huge[] = {"1e309", "-1e309", "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792", "1e99999"};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        double v;
        if (cseg_parse_double(huge[i], strlen(huge[i]), &v) != CSEG_ERANGE)
            fail_msg("'%.20s' should be out of range", huge[i]);
    }
    double tiny;
    assert_int_equal(cseg_parse_double("1e-400", 6, &tiny), 0); /* underflow is 0, not an error */
    assert_true(tiny == 0);
    /* Random decimals agree bit for bit with strtod. */
    srand(7);
    for (int i = 0; i < 200000; i++) {
        char buf[64];
        int digits = 1 + rand() % 19, pointpos = rand() % (digits + 1), o = 0;
        if (rand() % 2)
            buf[o++] = '-';
        for (int k = 0; k < digits; k++) {
            if (k == pointpos && k)
                buf[o++] = '.';
            buf[o++] = (char)('0' + rand() % 10);
        }
        if (rand() % 4 == 0)
            o += snprintf(buf + o, sizeof buf - (size_t)o, "e%d", rand() % 60 - 30);
        buf[o] = 0;
        double v, ref = strtod(buf, NULL);
        assert_int_equal(cseg_parse_double(buf, (size_t)o, &v), 0);
        if (memcmp(&v, &ref, sizeof v) != 0)
            fail_msg("%s: %.17g != strtod %.17g", buf, v, ref);
    }
}

static void test_parse_datetime(void **state)
{
    (void)state;
    static const struct {
        const char *s, *fmt;
        long long t;
    } ok[] = {
        {"2011-12-09", NULL, 1323388800LL},
        {"2011-12-09 12:50:00", NULL, 1323388800LL + 12 * 3600 + 50 * 60},
        {"2011-12-09T12:50", NULL, 1323388800LL + 12 * 3600 + 50 * 60},
        {"2011-12-09T12:50:07.250Z", NULL, 1323388800LL + 12 * 3600 + 50 * 60 + 7},
        {"20111209", NULL, 1323388800LL},
        {"12/9/2011 12:50", NULL, 1323388800LL + 12 * 3600 + 50 * 60},
        {"12/9/11 8:26", NULL, 1323388800LL + 8 * 3600 + 26 * 60},
        {"9-12-2011", NULL, 1323388800LL},
        {"1970-01-01", NULL, 0},
        {"1969-12-31", NULL, -86400},
        {"2000-02-29", NULL, 951782400LL},
        {"09.12.2011", "%d.%m.%Y", 1323388800LL},
        {"2011/12/09 01:02:03", NULL, 1323388800LL + 3723},
        /* a leap second stays in its minute (and day) */
        {"2010-12-31 23:59:60", NULL, 1293840000LL - 1},
        {"12/31/2010 23:59:60", NULL, 1293840000LL - 1},
        {"31-12-2010 23:59:60", NULL, 1293840000LL - 1},
        /* a zero offset from UTC (PostgreSQL's timestamptz in UTC) */
        {"2011-12-09 12:50:00+00", NULL, 1323388800LL + 12 * 3600 + 50 * 60},
        {"2011-12-09 12:50:00.25+00:00", NULL, 1323388800LL + 12 * 3600 + 50 * 60},
        {"2011-12-09T12:50-0000", NULL, 1323388800LL + 12 * 3600 + 50 * 60},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        long long t;
        int rc = cseg_parse_datetime(ok[i].s, strlen(ok[i].s), ok[i].fmt, &t);
        if (rc != 0 || t != ok[i].t)
            fail_msg("%s: rc %d, %lld != %lld", ok[i].s, rc, t, ok[i].t);
    }
    static const char *bad[] = {"", "2011-13-01", "2011-02-30", "2001-02-29", "12/32/2011",
                                "2011-12-09 25:00", "yesterday", "2011-1-5", "1/2/3",
                                "2011-12-09 12:5", "2011-12-09 12:50+01", "2011-12-09 12:50+",
                                "2011-12-09 12:50+00:30"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long long t;
        if (cseg_parse_datetime(bad[i], strlen(bad[i]), NULL, &t) != CSEG_EPARSE)
            fail_msg("'%s' should not parse as a date", bad[i]);
    }
    char buf[16];
    cseg_format_date(15318, buf, sizeof buf);
    assert_string_equal(buf, "2011-12-10");
    /* Every day from 0000-01-01 to 9999-12-31 (written by hand) reads back as
     * itself (year 0 does not parse); a few beyond go through printf. */
    long long first = -719528, last = 2932896, year1 = -719162; /* days from 1970-01-01 */
    for (long long day = first - 3; day <= last + 3; day++) {
        int rc = cseg_format_date(day, buf, sizeof buf);
        if (day < first || day > last) { /* "-001-12-31", "10000-01-01" */
            assert_true(rc >= 10 && buf[rc - 3] == '-');
            continue;
        }
        long long back;
        int parsed = cseg_parse_datetime(buf, 10, NULL, &back) == 0;
        if (rc != 10 || (parsed ? back != day * 86400 : day >= year1))
            fail_msg("day %lld: \"%s\" (%d)", day, buf, rc);
    }
    assert_int_equal(cseg_format_date(15318, buf, 8), 10); /* short: snprintf cuts, says 10 */
    assert_string_equal(buf, "2011-12");
}

static void test_missing(void **state)
{
    (void)state;
    static const char *yes[] = {"", " ", "NA", "na", "N/A", "NaN", "nan", "NULL", "null", " NA "};
    static const char *no[] = {"0", "NAN0", "None", "-", "NAx"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(cseg_is_missing(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(cseg_is_missing(no[i], strlen(no[i])));
}

static void test_errors_table(void **state)
{
    (void)state;
    assert_string_equal(cseg_err_name(CSEG_ENOMEM), "CSEG_ENOMEM");
    assert_string_equal(cseg_err_name(CSEG_ENOTFIT), "CSEG_ENOTFIT");
    assert_string_equal(cseg_strerror(CSEG_EIO), "input/output error");
    assert_string_equal(cseg_err_name(-999), "CSEG_EUNKNOWN");
    assert_string_equal(cseg_strerror(0), "success");
    cseg_diag d;
    cseg_diag_clear(&d);
    strcpy(d.file, "x.csv");
    d.line = 17;
    d.col = 4;
    strcpy(d.msg, "bad");
    char buf[128];
    assert_string_equal(cseg_diag_format(&d, buf, sizeof buf), "x.csv:17:4: bad");
    assert_string_equal(cseg_version(), CSEG_VERSION_STRING);
}

/* Internal (src/csv/internal.h); the static library exports them. */
int cseg__format_double(char *buf, size_t size, double v);
int cseg__format_double_exact(char *buf, size_t size, double v);

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* What the fast paths must equal: the first of "%.15g", "%.16g", "%.17g"
 * that reads back to v (strtod; the C locale). */
static void reference_g(char *buf, size_t size, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* Every number text custseg writes goes through cseg__format_double (the
 * shortest exact text) or cseg__format_double_exact: both are checked
 * against printf on values of every kind the fast paths meet: random bits
 * over the fixed-notation range and beyond, decimals of 1 to 17 digits,
 * their neighbours, powers of two and their neighbours (where the gap
 * below is half the gap above). Each text must read back bit for bit. */
static void check_format(double v, size_t *n_checked)
{
    char want[64], got[64], ex[64];
    reference_g(want, sizeof want, v);
    int n = cseg__format_double(got, sizeof got, v);
    if (strcmp(want, got) != 0 || n != (int)strlen(got))
        fail_msg("%.17g: printf gives \"%s\", cseg__format_double \"%s\"", v, want, got);
    cseg__format_double_exact(ex, sizeof ex, v);
    char p17[64];
    snprintf(p17, sizeof p17, "%.17g", v);
    char p15[64];
    snprintf(p15, sizeof p15, "%.15g", v);
    /* exact: the shortest when it has at most 15 digits, else %.17g */
    if (strtod(ex, NULL) != v || (strcmp(ex, p17) != 0 && strcmp(ex, p15) != 0))
        fail_msg("%.17g: cseg__format_double_exact gives \"%s\"", v, ex);
    (*n_checked)++;
}

static void test_format_double(void **state)
{
    (void)state;
    uint64_t s = 0x9e3779b97f4a7c15u;
    size_t checked = 0;
    static const double fixed[] = {0.1,   0.2,     0.3,         1.0 / 3,     2.0 / 3, 1e-4,
                                   1e-5,  9.99e-5, 123456789.0, 1e15,        1e16,    1e17,
                                   1e300, 5e-324,  2.5,         0.5,         -0.0,    0.0,
                                   1e14,  9.5e14,  999999999999999.9, 0.000123456789012345678};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        check_format(fixed[i], &checked);
        check_format(-fixed[i], &checked);
    }
    for (int i = 0; i < 60000; i++) {
        /* random bits with a decimal exponent from -6 to 17 */
        uint64_t r = xorshift(&s);
        int ex = (int)(xorshift(&s) % 80) - 20;
        double v = ldexp((double)(r >> 11) / 9007199254740992.0 + 0.5, ex);
        check_format(v, &checked);
        check_format(-nextafter(v, 0), &checked);
        /* decimals of 1 to 17 digits as strtod reads them, and neighbours */
        char txt[48];
        int digits = 1 + (int)(xorshift(&s) % 17), point = (int)(xorshift(&s) % 22) - 5;
        unsigned long long m = xorshift(&s) % 100000000000000000ull;
        unsigned long long mant = m % (unsigned long long)pow(10, digits);
        snprintf(txt, sizeof txt, "%llue%d", mant, point - digits);
        v = strtod(txt, NULL);
        check_format(v, &checked);
        check_format(nextafter(v, INFINITY), &checked);
        check_format(nextafter(v, -INFINITY), &checked);
    }
    /* powers of two over the fixed-notation range and beyond, neighbours */
    for (int k = -40; k <= 70; k++) {
        double t = ldexp(1, k);
        check_format(t, &checked);
        check_format(nextafter(t, 0), &checked);
        check_format(nextafter(t, INFINITY), &checked);
        check_format(3 * t, &checked);
    }
    assert_true(checked > 300000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),         cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_delimiter_detection), cmocka_unit_test(test_header_and_positions),
        cmocka_unit_test(test_long_record),   cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_parse_double),  cmocka_unit_test(test_parse_datetime),
        cmocka_unit_test(test_missing),       cmocka_unit_test(test_errors_table),
        cmocka_unit_test(test_format_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
