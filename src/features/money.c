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

/* An amount per order in the minor unit: the amount in minor units, divided
 * by the count in integers, rounded half away from zero (313.255 is
 * 313.26, whatever its binary value). */
double cseg__money_per(double amount, size_t count, int decimals)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (decimals < 0 || !isfinite(amount) || count == 0)
        return amount / (double)count;
    double f = p10[decimals > 9 ? 9 : decimals], a = round(amount * f);
    if (!(fabs(a) < 4e18 / ((double)count + 1)))
        return round(amount / (double)count * f) / f; /* beyond int64: in doubles */
    long long c = (long long)count, m = (long long)fabs(a), q = (2 * m + c) / (2 * c);
    double r = (double)(a < 0 ? -q : q) / f;
    return r == 0 ? 0.0 : r;
}

/* Money in the currency's minor unit (decimals < 0: as it is); never -0. */
double cseg__money(double x, int decimals)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (decimals < 0 || !isfinite(x))
        return x;
    double f = p10[decimals > 9 ? 9 : decimals], r = round(x * f) / f;
    return r == 0 ? 0.0 : r;
}

