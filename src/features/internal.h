/* custseg — money helpers shared by the batch features and the stream. */
#ifndef CUSTSEG_FEATURES_INTERNAL_H
#define CUSTSEG_FEATURES_INTERNAL_H

#include <stddef.h>

/* Neumaier's compensated sum (money.c). */
typedef struct cseg__exact_sum {
    double s, c;
} cseg__exact_sum;

void cseg__add_exact(cseg__exact_sum *a, double x);
double cseg__exact_value(const cseg__exact_sum *a);
/* amount / count in the minor unit, rounded half away from zero. */
double cseg__money_per(double amount, size_t count, int decimals);
/* Money rounded to the minor unit (decimals < 0: as it is); never -0. */
double cseg__money(double x, int decimals);

/* A value's R, F or M score from the 4 edges of cseg_rfm_edges
 * (higher_better: lo edges, F and M; else hi edges, R) (rfm.c). */
double cseg__edge_score(double v, const double *edge, int higher_better);

#endif
