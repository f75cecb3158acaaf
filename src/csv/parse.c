/* custseg — value parsers: numbers, dates, missing markers.
 *
 * Numbers: a hand-written scanner validates the decimal syntax and, for up to
 * 19 significant digits with a power of ten in [-22, 22] and a mantissa below
 * 2^53, computes the value with one exact multiply or divide (Clinger's fast
 * path, correctly rounded because both operands are exact doubles). Anything
 * else goes to strtod_l in the "C" locale. This is why the reader is several
 * times faster than strtod alone while giving the same bits.
 *
 * Dates: the formats customers' exports actually use, recognised by shape.
 */
#define _GNU_SOURCE
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custseg/csv.h"
#include "../core/internal.h"
#include "internal.h"

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Narrow [*p, *end) to drop leading and trailing blanks. */
static void trim(const char **p, const char **end)
{
    while (*p < *end && is_space(**p))
        (*p)++;
    while (*end > *p && is_space((*end)[-1]))
        (*end)--;
}

static double slow_strtod(const char *s, size_t len, int *ok)
{
    char tmp[128];
    char *heap = NULL, *buf = tmp, *end;
    if (len >= sizeof tmp) {
        heap = malloc(len + 1);
        if (!heap) {
            *ok = 0;
            return 0;
        }
        buf = heap;
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    static __thread locale_t c_locale;
    if (!c_locale)
        c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    double v = c_locale ? strtod_l(buf, &end, c_locale) : strtod(buf, &end);
    *ok = end == buf + len;
    free(heap);
    return v;
}

/* The common shape "-123.456" (at most 19 digits, no blanks or exponent) in
 * one tight loop; 1 on success. */
static inline int parse_plain(const char *s, size_t len, double *out)
{
    const char *p = s, *e = s + len;
    int neg = p < e && *p == '-';
    p += neg;
    uint64_t m = 0;
    const char *d0 = p;
    while (p < e && (unsigned)(*p - '0') < 10)
        m = m * 10 + (uint64_t)(*p++ - '0');
    size_t nint = (size_t)(p - d0), nfrac = 0;
    if (p < e && *p == '.') {
        const char *f0 = ++p;
        while (p < e && (unsigned)(*p - '0') < 10)
            m = m * 10 + (uint64_t)(*p++ - '0');
        nfrac = (size_t)(p - f0);
    }
    if (p != e || nint + nfrac == 0 || nint + nfrac > 19 || nfrac > 22 || m >= ((uint64_t)1 << 53))
        return 0;
    double v = (double)m / pow10_exact[nfrac];
    *out = neg ? -v : v;
    return 1;
}

int cseg_parse_double(const char *s, size_t len, double *out)
{
    if (parse_plain(s, len, out))
        return 0;
    const char *p = s, *end = s + len;
    trim(&p, &end);
    if (p == end)
        return CSEG_EPARSE;
    const char *num = p;
    int neg = 0;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    uint64_t mant = 0;
    int nd = 0, sig = 0, exp10 = 0, any = 0;
    while (p < end && (unsigned)(*p - '0') < 10) {
        any = 1;
        if (mant || *p != '0') {
            if (sig < 19)
                mant = mant * 10 + (uint64_t)(*p - '0');
            else
                exp10++;
            sig++;
        }
        nd++;
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && (unsigned)(*p - '0') < 10) {
            any = 1;
            if (mant || *p != '0') {
                if (sig < 19) {
                    mant = mant * 10 + (uint64_t)(*p - '0');
                    exp10--;
                }
                sig++;
            } else {
                exp10--;
            }
            p++;
        }
    }
    if (!any)
        return CSEG_EPARSE;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0, ed = 0;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        while (p < end && (unsigned)(*p - '0') < 10) {
            if (e < 100000)
                e = e * 10 + (*p - '0');
            ed++;
            p++;
        }
        if (!ed)
            return CSEG_EPARSE;
        exp10 += eneg ? -e : e;
    }
    if (p != end)
        return CSEG_EPARSE;
    (void)nd;
    if (sig <= 19 && mant < ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)mant;
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
        *out = neg ? -v : v;
        return 0;
    }
    if (mant == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    int ok;
    double v = slow_strtod(num, (size_t)(end - num), &ok);
    if (!ok)
        return CSEG_EPARSE;
    if (!isfinite(v))
        return CSEG_ERANGE; /* beyond the double range: never inf */
    *out = v;
    return 0;
}

int cseg_is_missing(const char *s, size_t len)
{
    const char *end = s + len;
    trim(&s, &end);
    len = (size_t)(end - s);
    switch (len) {
    case 0:
        return 1;
    case 2:
        return strncasecmp(s, "NA", 2) == 0;
    case 3:
        return strncasecmp(s, "NaN", 3) == 0 || strncasecmp(s, "N/A", 3) == 0;
    case 4:
        return strncasecmp(s, "NULL", 4) == 0;
    default:
        return 0;
    }
}

/* Read 1..maxd digits; returns digits read (0 on none). */
static int digits(const char **pp, const char *end, int maxd, int *val)
{
    const char *p = *pp;
    int v = 0, n = 0;
    while (p < end && n < maxd && (unsigned)(*p - '0') < 10) {
        v = v * 10 + (*p - '0');
        p++;
        n++;
    }
    *pp = p;
    *val = v;
    return n;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

static int make_time(int y, int m, int d, int hh, int mm, int ss, long long *out)
{
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m) || hh < 0 ||
        hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
        return CSEG_EPARSE;
    /* A leap second (:60) is the last second of its minute: counted as 61
     * seconds, 23:59:60 moved a purchase to the next day (and year). */
    ss = ss == 60 ? 59 : ss;
    *out = (long long)cseg__days_from_civil(y, (unsigned)m, (unsigned)d) * 86400LL + hh * 3600LL +
           mm * 60LL + ss;
    return 0;
}

/* Optional " HH:MM[:SS[.fff]]" (separator ' ' or 'T'), then optional 'Z'. */
static int parse_clock(const char *p, const char *end, int tsep, int *hh, int *mm, int *ss)
{
    *hh = *mm = *ss = 0;
    if (p == end)
        return 0;
    if (!(*p == ' ' || (tsep && *p == 'T')))
        return CSEG_EPARSE;
    p++;
    if (!digits(&p, end, 2, hh) || p == end || *p != ':')
        return CSEG_EPARSE;
    p++;
    if (digits(&p, end, 2, mm) != 2)
        return CSEG_EPARSE;
    if (p < end && *p == ':') {
        p++;
        if (digits(&p, end, 2, ss) != 2)
            return CSEG_EPARSE;
        if (p < end && *p == '.') {
            p++;
            int frac;
            while (p < end && digits(&p, end, 9, &frac))
                ;
        }
    }
    /* A zero offset from UTC, as 'Z' or as PostgreSQL writes a timestamptz
     * in UTC ("+00", "+00:00", "+0000"): the clock time as written. Another
     * offset is refused (no time zones). */
    if (p < end && *p == 'Z') {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        static const char *const zero[] = {"00", "00:00", "0000"};
        size_t left = (size_t)(end - p - 1), z = 0;
        while (z < 3 && !(left == strlen(zero[z]) && memcmp(p + 1, zero[z], left) == 0))
            z++;
        if (z == 3)
            return CSEG_EPARSE;
        p = end;
    }
    return p == end ? 0 : CSEG_EPARSE;
}

static int parse_with_format(const char *s, size_t len, const char *fmt, long long *out)
{
    char tmp[128];
    if (len >= sizeof tmp)
        return CSEG_EPARSE;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_mday = 1;
    const char *rest = strptime(tmp, fmt, &tm);
    if (!rest)
        return CSEG_EPARSE;
    while (is_space(*rest))
        rest++;
    if (*rest)
        return CSEG_EPARSE;
    /* strptime's %s can set any year: range-check before adding 1900. */
    if (tm.tm_year < 1 - 1900 || tm.tm_year > 9999 - 1900 || tm.tm_mon < 0 || tm.tm_mon > 11)
        return CSEG_EPARSE;
    return make_time(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, out);
}

int cseg_parse_datetime(const char *s, size_t len, const char *fmt, long long *out)
{
    const char *p = s, *end = s + len;
    trim(&p, &end);
    if (p == end)
        return CSEG_EPARSE;
    if (fmt)
        return parse_with_format(p, (size_t)(end - p), fmt, out);
    int a, b, c, hh, mm, ss;
    const char *q = p;
    int na = digits(&q, end, 8, &a);
    if (na == 8 && q == end) /* YYYYMMDD */
        return make_time(a / 10000, a / 100 % 100, a % 100, 0, 0, 0, out);
    if (na == 4 && q < end && (*q == '-' || *q == '/')) { /* ISO YYYY-MM-DD */
        char sep = *q++;
        if (digits(&q, end, 2, &b) != 2 || q == end || *q != sep)
            return CSEG_EPARSE;
        q++;
        if (digits(&q, end, 2, &c) != 2)
            return CSEG_EPARSE;
        if (parse_clock(q, end, 1, &hh, &mm, &ss))
            return CSEG_EPARSE;
        return make_time(a, b, c, hh, mm, ss, out);
    }
    if ((na == 1 || na == 2) && q < end && (*q == '/' || *q == '-')) {
        char sep = *q++;
        int nb = digits(&q, end, 2, &b);
        if (!nb || q == end || *q != sep)
            return CSEG_EPARSE;
        q++;
        int nc = digits(&q, end, 4, &c);
        if (sep == '/') { /* US M/D/YY or M/D/YYYY */
            if (nc == 2)
                c += c < 70 ? 2000 : 1900;
            else if (nc != 4)
                return CSEG_EPARSE;
            if (parse_clock(q, end, 0, &hh, &mm, &ss))
                return CSEG_EPARSE;
            return make_time(c, a, b, hh, mm, ss, out);
        }
        if (nc != 4) /* D-M-YYYY */
            return CSEG_EPARSE;
        if (parse_clock(q, end, 0, &hh, &mm, &ss))
            return CSEG_EPARSE;
        return make_time(c, b, a, hh, mm, ss, out);
    }
    return CSEG_EPARSE;
}

int cseg_format_date(long long day, char *buf, size_t size)
{
    int y;
    unsigned m, d;
    cseg__civil_from_days(day, &y, &m, &d);
    /* Years 0..9999 by hand: the event writer formats two dates per
     * customer and one per event, and snprintf was 5% of its time. */
    if (y >= 0 && y <= 9999 && size >= 11) {
        char *o = cseg__put_digits(buf, (unsigned)y, 4);
        *o++ = '-';
        o = cseg__put_digits(o, m, 2);
        *o++ = '-';
        o = cseg__put_digits(o, d, 2);
        *o = 0;
        return 10;
    }
    return snprintf(buf, size, "%04d-%02u-%02u", y, m, d);
}

/* Exact, shortest number output, without printf. printf's exact decimal
 * expansion (glibc's multi-precision arithmetic, tried at 15, 16 and 17
 * digits) was most of the time of writing a million customers
 * (customers.csv, the store), so the usual case is done here by hand:
 * values from 1e-4 to below 1e15, which "%g" writes in fixed notation.
 * Everything else (and the rare value whose text a fast path cannot settle)
 * still goes through printf, so the texts are always those of the loop in
 * cseg__format_double. */

/* The decimal exponent e of a in [1e-4, 1e15): a in [10^e, 10^(e+1)),
 * possibly off by one at a boundary (the products round); the callers
 * check the digits they get and give up on a wrong count. */
static int decimal_exponent(double a)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6, 1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14};
    int e = 0;
    if (a >= 1)
        while (e < 14 && a >= pow10[e + 1])
            e++;
    else
        for (e = -1; e > -4 && a * pow10[-e] < 1; e--)
            ;
    return e;
}

/* u / 10^p in fixed notation, trailing zeros of the fraction cut, at least
 * one digit before the point; buf: at least 24 bytes. */
static int write_fixed(char *buf, int negative, unsigned long long u, int p)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    /* the fraction's trailing zeros cut, eight at a time first */
    while (p >= 8 && u % 100000000 == 0) {
        u /= 100000000;
        p -= 8;
    }
    if (p >= 4 && u % 10000 == 0) {
        u /= 10000;
        p -= 4;
    }
    if (p >= 2 && u % 100 == 0) {
        u /= 100;
        p -= 2;
    }
    if (p >= 1 && u % 10 == 0) {
        u /= 10;
        p -= 1;
    }
    char tmp[24];
    int k = 0;
    while (u >= 100) { /* two digits a step, from the right */
        const char *d = pairs + 2 * (u % 100);
        tmp[k++] = d[1];
        tmp[k++] = d[0];
        u /= 100;
    }
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u || k <= p);
    int n = 0;
    if (negative)
        buf[n++] = '-';
    while (k > 0) {
        if (k == p)
            buf[n++] = '.';
        buf[n++] = tmp[--k];
    }
    buf[n] = 0;
    return n;
}

/* v with its 15 significant digits when that text reads back to exactly v:
 * then it is what "%.15g" prints and the shortest exact text (a double is
 * closer to the 15-digit decimal it came from than half a unit of that
 * decimal's last digit, so at most one 15-digit decimal reads back to it).
 * The check is exact: m below 2^53 and 10^p (p <= 18) are exact doubles, so
 * m / 10^p is the correctly rounded value of the decimal, which is what
 * strtod gives. Covers the usual data (money, measurements with a few
 * decimals); returns 0 (nothing written) otherwise. */
static int format_15(char *buf, double v, double a, int e)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18};
    int p = 14 - e; /* decimals for 15 significant digits: 0 to 18 */
    double m = nearbyint(a * pow10[p]);
    if (m / pow10[p] != a || m >= 1e15)
        return 0;
    return write_fixed(buf, signbit(v) != 0, (unsigned long long)m, p);
}

#if LDBL_MANT_DIG >= 64
/* v with P = 16 or 17 significant digits, as "%.16g" / "%.17g" print it
 * (the decimal nearest to v), for a v whose 15-digit text does not read
 * back. The product x = a 10^p is taken in the 64-bit long double: 10^p
 * (p <= 20) is exact there and x < 10^P, so x is within 10^P 2^-64 of the
 * exact product (below 2^-10 for P = 16, 2^-7 for P = 17). Rounding x to
 * the integer m is then right unless x is within twice that of a half,
 * where this gives up (returns 0: printf decides, for about 1 value in 250
 * needing 16 digits, 1 in 64 needing 17). For P = 16 the text must also
 * read back: a decimal does when it is closer to a than half the gap to the
 * next double on its side (h: exact, a power of two times 10^p); again no
 * answer near the edge. Returns -1 when no 16-digit text reads back (then
 * 17 digits do, always). */
static int format_long(char *buf, double v, double a, int e, int P)
{
    static const long double pow10[] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,
                                        1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
                                        1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L};
    const long double margin = P == 16 ? 1.0L / 512 : 1.0L / 128;
    int p = P - 1 - e; /* 1 to 20 */
    long double x = (long double)a * pow10[p];
    /* x to the nearest integer m (either way at a half: that case gives up
     * below), without libm's nearbyintl (a call and a mode switch) */
    unsigned long long u = (unsigned long long)x;
    long double f = x - (long double)u; /* exact: x and u are close multiples of x's last bit */
    if (f > 0.5L) {
        u++;
        f -= 1;
    }
    long double m = (long double)u;
    if (fabsl(fabsl(f) - 0.5L) < margin || m < pow10[P - 1] || m >= pow10[P])
        return 0;
    if (P == 16) {
        /* a = 1.f 2^e2 (normal: a >= 1e-4): the gap to the next double is
         * 2^(e2-52), h half of it in units of 10^-p, exact (2^(e2-53) is a
         * normal double; bits read directly, frexp and ldexpl were calls) */
        uint64_t bits, hb;
        memcpy(&bits, &a, sizeof bits);
        int e2 = (int)(bits >> 52 & 0x7ff) - 1023;
        hb = (uint64_t)(e2 - 53 + 1023) << 52;
        double half_gap;
        memcpy(&half_gap, &hb, sizeof half_gap);
        long double h = pow10[p] * (long double)half_gap;
        if (f > 0 && (bits & (((uint64_t)1 << 52) - 1)) == 0) /* below 2^e2 the gap is half */
            h /= 2;
        if (fabsl(fabsl(f) - h) < margin)
            return 0;
        if (fabsl(f) > h)
            return -1;
    }
    return write_fixed(buf, signbit(v) != 0, u, p);
}
#endif

/* "%.*g" with the decimal point a '.' whatever the locale. */
static int print_g(char *buf, size_t size, int prec, double v)
{
    int n = snprintf(buf, size, "%.*g", prec, v);
    for (int i = 0; i < n && (size_t)i < size; i++)
        if (buf[i] == ',')
            buf[i] = '.';
    return n;
}

int cseg__format_double(char *buf, size_t size, double v)
{
    if (!isfinite(v)) {
        if (size)
            buf[0] = 0;
        return 0;
    }
    if (v == 0) { /* "0" or "-0", as %g */
        return snprintf(buf, size, "%s", signbit(v) ? "-0" : "0");
    }
    double a = fabs(v);
    int n;
    if (size >= CSEG_FORMAT_FAST_SIZE && a >= 1e-4 && a < 1e15) {
        int e = decimal_exponent(a);
        if ((n = format_15(buf, v, a, e)) > 0)
            return n;
#if LDBL_MANT_DIG >= 64
        if ((n = format_long(buf, v, a, e, 16)) > 0)
            return n;
        if (n < 0 && (n = format_long(buf, v, a, e, 17)) > 0)
            return n;
#endif
    }
    for (int prec = 15; prec <= 17; prec++) {
        n = print_g(buf, size, prec, v);
        double back;
        if (prec == 17 || (cseg_parse_double(buf, (size_t)n, &back) == 0 && back == v))
            break;
    }
    return n;
}

int cseg__format_double_exact(char *buf, size_t size, double v)
{
    if (!isfinite(v)) {
        if (size)
            buf[0] = 0;
        return 0;
    }
    double a = fabs(v);
    int n;
    if (size >= CSEG_FORMAT_FAST_SIZE && a >= 1e-4 && a < 1e15) {
        int e = decimal_exponent(a);
        if ((n = format_15(buf, v, a, e)) > 0)
            return n;
#if LDBL_MANT_DIG >= 64
        if ((n = format_long(buf, v, a, e, 17)) > 0)
            return n;
#endif
    }
    return print_g(buf, size, 17, v);
}
