/* custseg — sums that do not depend on the order of their terms.
 *
 * A sum of doubles added one after another depends on the order: each
 * addition rounds. The statistics that must come out the same however the
 * rows are split (between threads, or between MPI processes, each holding
 * its own rows: docs/scale-out.md) are summed here instead: every term is
 * added exactly, as an integer multiple of the smallest double (2^-1074),
 * into an accumulator of 32-bit digits held in 64-bit words, and the total is
 * rounded once, to nearest (ties to even). The result is the exactly rounded
 * sum, so it is the same bits for any order of the terms and any grouping of
 * them into accumulators that are merged (cseg__xsum_merge). Python's
 * math.fsum gives the same value (tests/reference/make_xsum_fixtures.py).
 *
 * Written here rather than taken from a library: MPFR (mpfr_sum) would need
 * a multiple-precision number per term, tens of times slower than the three
 * integer additions a term costs here, and no Debian package offers such an
 * accumulator on its own. The method is the "small superaccumulator" of
 * R. M. Neal, "Fast exact summation using small and large superaccumulators"
 * (2015), simplified: no large accumulator. */
#include <math.h>

#include "internal.h"

/* Digit i holds bits 32 i .. 32 i + 31 of the sum in units of 2^-1074. */
#define DIGIT_BITS 32
#define DIGIT_MASK ((int64_t)0xffffffff)

void cseg__xsum_init(cseg__xsum *a)
{
    memset(a, 0, sizeof *a);
}

/* Digits back into [0, 2^32) but the top one, which keeps the sign: each
 * word's carry goes to the next (an arithmetic shift rounds toward minus
 * infinity, so the digit left behind is never negative). */
static void carry(cseg__xsum *a)
{
    cseg__xsum_normalize(a);
}

void cseg__xsum_normalize(cseg__xsum *a)
{
    for (int i = 0; i + 1 < CSEG_XSUM_DIGITS; i++) {
        int64_t c = a->w[i] >> DIGIT_BITS;
        a->w[i] -= c * ((int64_t)1 << DIGIT_BITS);
        a->w[i + 1] += c;
    }
    a->pending = 0;
}

/* x added to a's digits exactly; 1 when x was finite (an addition
 * counted), else 0 with a's flags set. */
static inline int add_to(cseg__xsum *a, double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    unsigned e = (unsigned)(u >> 52) & 0x7ff;
    uint64_t m = u & (((uint64_t)1 << 52) - 1);
    if (e == 0x7ff) { /* inf or NaN: kept aside, the total follows IEEE */
        if (m)
            a->nan = 1;
        else if (u >> 63)
            a->ninf = 1;
        else
            a->pinf = 1;
        return 0;
    }
    if (e == 0) /* zero or subnormal: m units of 2^-1074 */
        e = 1;
    else
        m |= (uint64_t)1 << 52;
    /* x = m 2^(e - 1075) = m 2^p units, p = e - 1 */
    unsigned p = e - 1, i = p / DIGIT_BITS, s = p % DIGIT_BITS;
    unsigned __int128 t = (unsigned __int128)m << s; /* at most 84 bits */
    int64_t d0 = (int64_t)(uint64_t)t & DIGIT_MASK, d1 = (int64_t)(uint64_t)(t >> 32) & DIGIT_MASK,
            d2 = (int64_t)(uint64_t)(t >> 64);
    int64_t neg = -(int64_t)(u >> 63); /* all ones for a negative x: no branch on signs */
    d0 = (d0 ^ neg) - neg;
    d1 = (d1 ^ neg) - neg;
    d2 = (d2 ^ neg) - neg;
    a->w[i] += d0;
    a->w[i + 1] += d1;
    a->w[i + 2] += d2;
    return 1;
}

/* Each word moves by less than 2^32 a term: 2^30 terms fit in 63 bits. */
#define PENDING_MAX ((uint32_t)1 << 30)

void cseg__xsum_add(cseg__xsum *a, double x)
{
    if (add_to(a, x) && ++a->pending >= PENDING_MAX)
        carry(a);
}

void cseg__xsum_merge(cseg__xsum *a, const cseg__xsum *b)
{
    cseg__xsum c = *b;
    if (a->pending > ((uint32_t)1 << 29))
        carry(a);
    if (c.pending > ((uint32_t)1 << 29))
        carry(&c);
    for (int i = 0; i < CSEG_XSUM_DIGITS; i++)
        a->w[i] += c.w[i];
    a->pending += c.pending;
    a->nan |= c.nan;
    a->pinf |= c.pinf;
    a->ninf |= c.ninf;
}

/* Bit b (units of 2^-1074) of the magnitude in digits g. */
static unsigned bit_at(const int64_t *g, int b)
{
    return (unsigned)(g[b / DIGIT_BITS] >> (b % DIGIT_BITS)) & 1;
}

double cseg__xsum_value(const cseg__xsum *acc)
{
    if (acc->nan || (acc->pinf && acc->ninf))
        return NAN;
    if (acc->pinf)
        return HUGE_VAL;
    if (acc->ninf)
        return -HUGE_VAL;
    cseg__xsum a = *acc;
    carry(&a);
    int neg = a.w[CSEG_XSUM_DIGITS - 1] < 0;
    if (neg) { /* the magnitude: -(sum of digits), digit by digit with borrows */
        for (int i = 0; i < CSEG_XSUM_DIGITS; i++)
            a.w[i] = -a.w[i];
        carry(&a);
    }
    int top = CSEG_XSUM_DIGITS - 1;
    while (top >= 0 && a.w[top] == 0)
        top--;
    if (top < 0)
        return 0.0;
    int hb = top * DIGIT_BITS + 63 - __builtin_clzll((unsigned long long)a.w[top]);
    if (hb >= 1074 + 1024) /* 2^1024 or more: beyond the largest double */
        return neg ? -HUGE_VAL : HUGE_VAL;
    /* The 53 bits from hb down (fewer below 2^-1022: subnormals), then the
     * rounding bit and whether anything is set below it. */
    int lo = hb - 52 > 0 ? hb - 52 : 0;
    uint64_t m = 0;
    for (int b = hb; b >= lo; b--)
        m = m << 1 | bit_at(a.w, b);
    if (lo > 0 && bit_at(a.w, lo - 1)) {
        int sticky = 0;
        for (int b = lo - 2; b >= 0 && !sticky; b--) {
            if (b % DIGIT_BITS == DIGIT_BITS - 1 && a.w[b / DIGIT_BITS] == 0) {
                b -= DIGIT_BITS - 1; /* a whole empty digit */
                continue;
            }
            sticky = (int)bit_at(a.w, b);
        }
        if (sticky || (m & 1))
            m++; /* may carry to 2^53: still exact as a double */
    }
    double r = ldexp((double)m, lo - 1074); /* beyond the largest double: inf */
    return neg ? -r : r;
}

void cseg__xsum_buf_init(cseg__xsum_buf *b)
{
    memset(b, 0, sizeof *b);
}

void cseg__xsum_buf_flush(cseg__xsum_buf *b, unsigned e)
{
    int64_t v = b->ch[e];
    b->ch[e] = 0;
    b->cnt[e] = 0;
    if (!v)
        return;
    /* v 2^(e - 1075): at position p = e - 1 in units of 2^-1074, |v| < 2^62 */
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    unsigned p = e - 1, i = p / DIGIT_BITS, s = p % DIGIT_BITS;
    unsigned __int128 t = (unsigned __int128)m << s; /* at most 93 bits: 3 digits */
    int64_t d0 = (int64_t)(uint64_t)t & DIGIT_MASK, d1 = (int64_t)(uint64_t)(t >> 32) & DIGIT_MASK,
            d2 = (int64_t)(uint64_t)(t >> 64);
    int64_t neg = -(int64_t)(v < 0);
    cseg__xsum *a = &b->acc;
    a->w[i] += (d0 ^ neg) - neg;
    a->w[i + 1] += (d1 ^ neg) - neg;
    a->w[i + 2] += (d2 ^ neg) - neg;
    if (++a->pending >= PENDING_MAX)
        carry(a);
}

void cseg__xsum_buf_flush_all(cseg__xsum_buf *b)
{
    for (unsigned e = 1; e < 2047; e++)
        if (b->cnt[e])
            cseg__xsum_buf_flush(b, e);
}

void cseg__xsum_buf_add_n(cseg__xsum_buf *b, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cseg__xsum_buf_add(b, x[i]);
}

double cseg__xsum_buf_value(cseg__xsum_buf *b)
{
    cseg__xsum_buf_flush_all(b);
    return cseg__xsum_value(&b->acc);
}
