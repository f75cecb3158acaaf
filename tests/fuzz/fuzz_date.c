/* libFuzzer target: the value parsers of csv.h on the input bytes.
 *
 *   cseg_parse_datetime  without a format (the shapes it recognises), with a
 *                        few fixed strptime formats, and with the first line
 *                        of the input as the format and the rest as the value;
 *   cseg_format_date     for every day a parse returns: the text it writes
 *                        must parse back to the same day (with and without
 *                        the format "%Y-%m-%d");
 *   cseg_parse_double    on the whole input: 0, CSEG_EPARSE or CSEG_ERANGE;
 *                        an accepted value is finite and has the bits strtod
 *                        gives (the header promises correct rounding); a
 *                        range error is a number strtod reads as infinite.
 * A parse that succeeds must give a time in years 1..9999. */
#include <math.h>

#include "fuzz_common.h"

static const char *const formats[] = {
    "%Y-%m-%d",          "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S", "%Y%m%d",            "%d %b %Y",       "%Y-%m-%dT%H:%M:%S",
};

/* Seconds of 0001-01-01 and of 10000-01-01 since 1970-01-01. */
#define T_MIN (-62135596800LL)
#define T_END (253402300800LL)

static long long floor_div(long long a, long long b)
{
    long long q = a / b;
    return q - (a % b != 0 && (a < 0) != (b < 0));
}

static void check_time(long long t, const char *how)
{
    /* 23:59:60 on 9999-12-31 is the one second past T_END that make_time allows. */
    if (t < T_MIN || t > T_END)
        FUZZ_FAIL("%s: time %lld outside years 1..9999", how, t);
    long long day = floor_div(t, 86400);
    if (t == T_END)
        return;
    char buf[64];
    int n = cseg_format_date(day, buf, sizeof buf);
    if (n != 10)
        FUZZ_FAIL("%s: cseg_format_date(%lld) wrote %d chars \"%s\"", how, day, n, buf);
    long long back = 0;
    if (cseg_parse_datetime(buf, (size_t)n, NULL, &back) != 0)
        FUZZ_FAIL("%s: \"%s\" (day %lld) does not parse back", how, buf, day);
    if (back != day * 86400)
        FUZZ_FAIL("%s: \"%s\" parsed back as %lld, expected %lld", how, buf, back, day * 86400);
    if (cseg_parse_datetime(buf, (size_t)n, "%Y-%m-%d", &back) != 0 || back != day * 86400)
        FUZZ_FAIL("%s: \"%s\" with %%Y-%%m-%%d does not give day %lld", how, buf, day);
}

static void parse(const char *s, size_t len, const char *fmt, const char *how)
{
    long long t = 0;
    int rc = cseg_parse_datetime(s, len, fmt, &t);
    if (rc != 0 && rc != CSEG_EPARSE)
        FUZZ_FAIL("%s: cseg_parse_datetime returned %d", how, rc);
    if (rc == 0)
        check_time(t, how);
}

/* Only plain decimal syntax is compared with strtod (which also reads hex,
 * "inf", "nan" and leading newlines). */
static int decimal_chars(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr("0123456789+-.eE \t", s[i]) || s[i] == 0)
            return 0;
    return 1;
}

static void check_double(const uint8_t *data, size_t size)
{
    double v = 0;
    int rc = cseg_parse_double((const char *)data, size, &v);
    if (rc != 0 && rc != CSEG_EPARSE && rc != CSEG_ERANGE)
        FUZZ_FAIL("cseg_parse_double returned %d (%s)", rc, cseg_err_name(rc));
    if (rc == 0 && !isfinite(v))
        FUZZ_FAIL("cseg_parse_double accepted a value that is not finite: %g", v);
    if (rc == CSEG_EPARSE || !decimal_chars(data, size) || size > 4096)
        return;
    char buf[4097];
    memcpy(buf, data, size);
    buf[size] = 0;
    char *end = NULL;
    double ref = strtod(buf, &end);
    while (end && (*end == ' ' || *end == '\t'))
        end++;
    if (!end || *end)
        FUZZ_FAIL("cseg_parse_double accepted \"%s\" (%s), which strtod does not read whole", buf,
                  cseg_err_name(rc));
    if (rc == CSEG_ERANGE && isfinite(ref))
        FUZZ_FAIL("cseg_parse_double(\"%s\"): range error, but strtod gives %.17g", buf, ref);
    if (rc == 0 && memcmp(&v, &ref, sizeof v) != 0)
        FUZZ_FAIL("cseg_parse_double(\"%s\") = %.17g, strtod = %.17g", buf, v, ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    parse(s, size, NULL, "no format");
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        parse(s, size, formats[i], formats[i]);
    /* First line: a format (up to its first NUL); the rest: the value. */
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl) {
        size_t flen = (size_t)(nl - data);
        char *fmt = malloc(flen + 1);
        if (!fmt)
            return 0;
        memcpy(fmt, data, flen);
        fmt[flen] = 0;
        parse((const char *)nl + 1, size - flen - 1, fmt, "format from the first line");
        free(fmt);
    }
    check_double(data, size);
    /* A day number from the bytes, within years 1..9999: format and parse back. */
    if (size >= 8) {
        uint64_t u;
        memcpy(&u, data, sizeof u);
        long long days = T_END / 86400 - T_MIN / 86400;
        check_time((T_MIN / 86400 + (long long)(u % (uint64_t)days)) * 86400, "day from bytes");
    }
    return 0;
}
