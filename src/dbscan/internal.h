/* custseg — kd-tree shared by the DBSCAN fit, predict and eps helper. Private. */
#ifndef CUSTSEG_DBSCAN_INTERNAL_H
#define CUSTSEG_DBSCAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Rows per leaf at most. Small leaves prune well and make more boxes compact
 * (diameter <= eps) and uniform; the boxes then cost up to as much memory as
 * the rows (fewer than n / 2 nodes of 2 d doubles). */
#define CSEG_KDT_LEAF 8

enum { CSEG_KDT_INNER = 0, CSEG_KDT_LEAF_NODE = 1, CSEG_KDT_ABSENT = 2 };

/* A balanced kd-tree in an implicit layout: node v has children 2v+1 and
 * 2v+2, and the left child holds the first floor(m / 2) of the node's m rows,
 * so the shape depends on n only and all leaves sit at depth `depth`, except
 * nodes whose rows are all equal, which become leaves early (their subtrees
 * are marked absent). */
typedef struct cseg__kdt {
    size_t n, d, n_nodes;
    unsigned depth;
    double *pts;     /* n x d, the rows in tree order (64-byte aligned) */
    uint32_t *idx;   /* tree position -> index of the row in the input */
    uint32_t *start; /* per node: first tree position */
    uint32_t *end;   /* per node: one past the last */
    uint8_t *kind;   /* per node: CSEG_KDT_INNER, _LEAF_NODE or _ABSENT */
    double *box;     /* per node: lo[d] then hi[d], tight around its rows */
} cseg__kdt;

/* Bytes a tree over n rows of d features needs (build scratch included), or
 * SIZE_MAX on overflow. */
size_t cseg__kdt_bytes(size_t n, size_t d);

/* Build over X (n x d, borrowed; n >= 1 and n < 2^32). Uses nt threads; the
 * tree does not depend on nt. Returns 0 or CSEG_ENOMEM / CSEG_ETOOBIG. */
int cseg__kdt_build(cseg__kdt *t, const double *X, size_t n, size_t d, int nt);
void cseg__kdt_free(cseg__kdt *t);

/* Squared distance, summed over features in order (the order every distance,
 * bound and box test below uses, so the bounds are exact: see kdtree.c). */
static inline double cseg__d2(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* Smallest and largest squared distance from q to any point of a box, in
 * floating point no larger (smaller) than cseg__d2 of q and any row inside. */
static inline double cseg__box_min2(const double *box, const double *q, size_t d)
{
    const double *lo = box, *hi = box + d;
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = q[j] < lo[j] ? lo[j] - q[j] : q[j] > hi[j] ? q[j] - hi[j] : 0;
        s += t * t;
    }
    return s;
}

static inline double cseg__box_max2(const double *box, const double *q, size_t d)
{
    const double *lo = box, *hi = box + d;
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double a = q[j] - lo[j], b = hi[j] - q[j];
        double t = a > b ? a : b;
        s += t * t;
    }
    return s;
}

/* Smallest and largest squared distance between a row of box a and a row of
 * box b, with the same guarantee (the argument applies to each feature's gap
 * and span). */
static inline double cseg__boxes_min2(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = b[j] > a[d + j] ? b[j] - a[d + j] : a[j] > b[d + j] ? a[j] - b[d + j] : 0;
        s += t * t;
    }
    return s;
}

static inline double cseg__boxes_max2(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double u = b[d + j] - a[j], v = a[d + j] - b[j];
        double t = u > v ? u : v;
        s += t * t;
    }
    return s;
}

/* Squared diameter of a box: an upper bound of cseg__d2 of any two rows in it. */
static inline double cseg__box_diam2(const double *box, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = box[d + j] - box[j];
        s += t * t;
    }
    return s;
}

#endif
