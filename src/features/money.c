/* custseg — exact sums of money and rounding to the minor unit. */
#include <math.h>
#include <stddef.h>

#include "internal.h"

/* Neumaier's compensated sum: the rounding error of every addition is kept
 * and added back, so a sum of amounts is exact to the last bit in practice
 * (0.1 + 0.2 + ... does not drift into binary tails). */

void cseg__add_exact(cseg__exact_sum *a, double x)
{
    double t = a->s + x;
    a->c += fabs(a->s) >= fabs(x) ? (a->s - t) + x : (x - t) + a->s;
    a->s = t;
}

double cseg__exact_value(const cseg__exact_sum *a)
{
    return a->s + a->c;
}

static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* Beyond this many minor units a double has no fraction of one to round. */
#define WHOLE_UNITS 4503599627370496.0 /* 2^52 */

/* x in minor units (x f, f = 10^decimals), rounded half away from zero as
 * x's decimal value shows it: x f itself is rounded in binary (1.005 x 100
 * is 100.49999999999999), so near a half the decision is taken on x's
 * digits, 15 significant ones (DBL_DIG: the decimal number x was written
 * as, or the sum of such numbers, in practice). |x f| < 2^52. */
static double minor_units(double x, double f, int decimals)
{
    /* x f is off the decimal value by up to about 2^-52 of itself (x's own
     * rounding, then the product's): a window of twice that (at least
     * 1e-6) around the half. */
    double t = x * f, r = round(t), frac = fabs(t) - floor(fabs(t));
    double window = fabs(t) * 4.5e-16 > 1e-6 ? fabs(t) * 4.5e-16 : 1e-6;
    if (fabs(frac - 0.5) > window)
        return r;
    char buf[32];
    int e10;
    snprintf(buf, sizeof buf, "%.14e", fabs(x)); /* d.dddddddddddddde+XX: 15 digits */
    if (sscanf(buf + 16, "e%d", &e10) != 1)
        return r;
    /* digit k of buf's 15 (skipping the point) is worth 10^(e10 - k); the
     * first one below the minor unit is k = e10 + decimals + 1 */
    int k = e10 + decimals + 1;
    if (k < 0 || k > 14)
        return r;
    char next = buf[k == 0 ? 0 : k + 1];
    double whole = floor(fabs(t));
    double away = next >= '5' ? whole + 1 : whole;
    return x < 0 ? -away : away;
}

/* An amount per order in the minor unit: the amount in minor units, divided
 * by the count in integers, rounded half away from zero (313.255 is
 * 313.26, whatever its binary value). */
double cseg__money_per(double amount, size_t count, int decimals)
{
    if (decimals < 0 || !isfinite(amount) || count == 0)
        return amount / (double)count;
    int dp = decimals > 9 ? 9 : decimals;
    double f = p10[dp];
    if (!(fabs(amount * f) < WHOLE_UNITS)) { /* no fraction of a minor unit to round */
        double per = amount / (double)count;
        return fabs(per * f) < WHOLE_UNITS ? round(per * f) / f : per;
    }
    double a = minor_units(amount, f, dp);
    long long c = (long long)count, m = (long long)fabs(a), q = (2 * m + c) / (2 * c);
    double r = (double)(a < 0 ? -q : q) / f;
    return r == 0 ? 0.0 : r;
}

/* Money in the currency's minor unit (decimals < 0: as it is); never -0. */
double cseg__money(double x, int decimals)
{
    if (decimals < 0 || !isfinite(x))
        return x;
    int dp = decimals > 9 ? 9 : decimals;
    double f = p10[dp];
    if (!(fabs(x * f) < WHOLE_UNITS)) /* 1e307 stays 1e307, not x f = inf */
        return x == 0 ? 0.0 : x;
    double r = minor_units(x, f, dp) / f;
    return r == 0 ? 0.0 : r;
}
