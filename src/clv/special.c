/* custseg — digamma and the hypergeometric series of the BTYD models. */
#include <math.h>

#include "internal.h"

double cseg__digamma(double x)
{
    if (!(x > 0) || !isfinite(x))
        return NAN;
    double r = 0;
    while (x < 10) {
        r -= 1 / x;
        x += 1;
    }
    /* psi(x) ~ ln x - 1/(2x) - sum B_2k / (2k x^2k) */
    double f = 1 / (x * x);
    double t =
        f *
        (-1.0 / 12 +
         f * (1.0 / 120 + f * (-1.0 / 252 +
                               f * (1.0 / 240 + f * (-1.0 / 132 + f * (691.0 / 32760 - f / 12))))));
    return r + log(x) - 0.5 / x + t;
}

double cseg__hyp2f1(double a, double b, double c, double z, int *ok, double *log_scale)
{
    const long max_terms = 10000000;
    /* The sum and its terms are kept divided by e^(*log_scale): a series
     * whose sum is beyond the range of doubles (large a and b: the terms
     * grow like (a z)^j / j!) is still summed, for a caller that multiplies
     * it by something as small (BG/NBD's (1 - z)^(a - 1)). */
    const double big = 1e280, log_big = 644.72382603833279; /* ln(1e280) */
    double sum = 1, term = 1;
    *ok = 1;
    *log_scale = 0;
    if (z == 0)
        return 1;
    for (long j = 0; j < max_terms; j++) {
        double ratio = (a + (double)j) * (b + (double)j) / ((c + (double)j) * (double)(j + 1)) * z;
        term *= ratio;
        if (fabs(sum) > big) {
            sum /= big;
            term /= big;
            *log_scale += log_big;
        }
        double next = sum + term;
        /* Stop once the terms shrink and no longer count (a term can be tiny
         * and still grow when a is tiny and b large; with a or b below 0 the
         * terms may change sign, or end at 0). */
        if (term == 0 || (next == sum && fabs(ratio) < 1))
            return next;
        sum = next;
        if (!isfinite(sum))
            break;
    }
    *ok = 0;
    return sum;
}
