/* custseg — hierarchical (agglomerative) clustering.
 *
 * Builds the full merge tree of the rows of X and cuts it into flat segments,
 * with the results of SciPy's scipy.cluster.hierarchy.linkage(X, method):
 * the same linkage-matrix layout, heights and (on tie-free data) the same
 * tree. Among exactly tied distances the choices follow SciPy's rules too:
 * always for complete, average and single; for Ward between single rows, but
 * higher up SciPy decides Ward ties by the rounding of its Lance-Williams
 * update, which the centroid form does not reproduce (heights still agree).
 *
 * Linkages and methods.
 *  - Ward (default): nearest-neighbour chain on cluster centroids and sizes,
 *    the Ward distance sqrt(2 n_a n_b / (n_a + n_b)) |c_a - c_b| computed from
 *    the centroids: O(n^2 d) time, O(n d) memory, no n x n matrix. Optional
 *    row weights (a row stands for that many customers). Above exact_max rows
 *    (unless exact is set) Ward runs on micro-clusters: a k-means pass
 *    (cseg_kmeans, on a sample of at most 50 x n_micro rows) gives n_micro
 *    centres, every row joins its nearest centre, and weighted Ward builds the
 *    tree over these micro-clusters (their means and total weights). The tree
 *    then has fewer leaves than rows; cseg_hclust_leaf_of() maps rows to leaves.
 *  - Complete and average: nearest-neighbour chain on the condensed distance
 *    matrix with Lance-Williams updates: O(n^2) time and n (n - 1) / 2 doubles
 *    of memory, refused above max_memory.
 *  - Single: Prim's minimum spanning tree on the vectors (O(n^2 d) time, O(n)
 *    extra memory), its edges sorted by length and relabelled by union-find.
 *
 * Why exact_max defaults to 20000: exact Ward costs about 3 n^2 d flops,
 * under a second at 20000 x 8 here, but half an hour at a million rows; above
 * that size a segmentation needs only the top of the tree, which micro-clusters
 * give in seconds. n_micro defaults to 2000: ten times more leaves than any
 * useful number of segments, and Ward on them takes milliseconds.
 *
 * Threads: the nearest-centroid scan of Ward is split over OpenMP threads in
 * fixed blocks when many clusters are active, each block keeping its lowest
 * index among equal distances; the result never depends on the thread count.
 *
 * References: Murtagh & Contreras (2012) "Algorithms for hierarchical
 * clustering: an overview" (NN-chain, reducibility); Müllner (2011) "Modern
 * hierarchical, agglomerative clustering algorithms" (the SciPy/fastcluster
 * conventions); Gower & Ross (1969) for single linkage by an MST.
 */
#ifndef CUSTSEG_HCLUST_H
#define CUSTSEG_HCLUST_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cseg_linkage {
    CSEG_LINKAGE_WARD = 0, /* minimum increase of the within-cluster sum of squares */
    CSEG_LINKAGE_COMPLETE, /* largest pairwise distance */
    CSEG_LINKAGE_AVERAGE,  /* mean pairwise distance (UPGMA) */
    CSEG_LINKAGE_SINGLE    /* smallest pairwise distance */
} cseg_linkage;

typedef struct cseg_hclust_params {
    cseg_linkage linkage; /* default CSEG_LINKAGE_WARD */
    size_t max_memory;    /* bytes fit may allocate; default 8 GiB. Bounds mostly the
                             n (n - 1) / 2 distance matrix of complete and average */
    size_t exact_max;     /* Ward on more rows than this runs on micro-clusters unless
                             exact is set; default 20000 (see above) */
    size_t n_micro;       /* micro-clusters in that mode, >= 2; default 2000 */
    int exact;            /* 1: never use micro-clusters; default 0 */
    uint64_t seed;        /* for the micro-cluster sample and k-means; default 0 */
    int n_threads;        /* 0 (default): all cores (OpenMP); ignored without OpenMP */
} cseg_hclust_params;

typedef struct cseg_hclust cseg_hclust;

/* Set the documented defaults. */
/* "ward", "complete", "average" or "single" (the names the command line and
 * model.json use); NULL for a value outside the enum. */
CSEG_API const char *cseg_linkage_name(cseg_linkage l);
/* The same name as prose writes it: "Ward" (a person's name), "complete",
 * "average" or "single", as in "Ward linkage"; NULL outside the enum. */
CSEG_API const char *cseg_linkage_display_name(cseg_linkage l);
/* The linkage named s (as cseg_linkage_name gives it): 0, or CSEG_EINVAL. */
CSEG_API int cseg_linkage_parse(const char *s, cseg_linkage *out);

CSEG_API void cseg_hclust_params_init(cseg_hclust_params *p);
/* A message naming the first bad field of p, or NULL when p is valid. */
CSEG_API const char *cseg_hclust_params_check(const cseg_hclust_params *p);

/* Create an unfitted object with a copy of p (NULL: defaults); *out is owned
 * by the caller and released with cseg_hclust_free. Errors: CSEG_EINVAL (p
 * fails cseg_hclust_params_check), CSEG_ENOMEM. */
CSEG_API int cseg_hclust_create(cseg_hclust **out, const cseg_hclust_params *p);
/* Release h and everything it owns. Accepts NULL. */
CSEG_API void cseg_hclust_free(cseg_hclust *h);

/* Build the tree of X (n x d, row-major, borrowed for the call; n >= 2).
 * weights (optional, n positive finite values) make row i count as weights[i]
 * rows: allowed for Ward only. A previous fit is replaced; on error h is left
 * unfitted. Errors: CSEG_EINVAL (n < 2, d == 0, a NaN/Inf value — diag names
 * the row and feature, 1-based — a bad weight, weights with a linkage other
 * than Ward), CSEG_ETOOBIG (the memory fit would need, as cseg_hclust_estimate
 * reports, exceeds max_memory; diag says how much), CSEG_ENOMEM.
 * Time: Ward O(n^2 d) exact, about O(50 n_micro^2 d + n n_micro d) with
 * micro-clusters; complete/average O(n^2 d); single O(n^2 d). Memory: Ward and
 * single O(n d); complete/average 4 n^2 bytes. Not thread-safe on the same h;
 * distinct objects may be fitted concurrently. */
CSEG_API int cseg_hclust_fit(cseg_hclust *h, const double *X, size_t n, size_t d,
                             const double *weights, cseg_diag *diag);

/* What a fit with the default exact_max and n_micro (and the given exact flag)
 * would need: *bytes (optional) the peak memory the library allocates,
 * *seconds_guess (optional) a rough single-thread time on a current x86-64
 * core (the constants were measured on the development machine; treat as an
 * order of magnitude). No allocation, O(1). Errors: CSEG_EINVAL (bad linkage,
 * n < 2, d == 0), CSEG_ETOOBIG (the byte count overflows size_t). */
CSEG_API int cseg_hclust_estimate(cseg_linkage linkage, size_t n, size_t d, int exact,
                                  size_t *bytes, double *seconds_guess);

/* Whether the fitted tree is over micro-clusters rather than rows (0 or 1);
 * 0 before a fit. */
CSEG_API int cseg_hclust_is_approximate(const cseg_hclust *h);
/* Leaves of the tree: the n training rows, or the number of non-empty
 * micro-clusters; 0 before a fit. */
CSEG_API size_t cseg_hclust_n_leaves(const cseg_hclust *h);
/* Training rows of the last fit; 0 before a fit. */
CSEG_API size_t cseg_hclust_n_rows(const cseg_hclust *h);

/* The linkage matrix, (n_leaves - 1) x 4 row-major, SciPy's layout: row i is
 * [id_a, id_b, height, size] for merge i, ids 0..n_leaves-1 for leaves and
 * n_leaves + i for the cluster made by merge i, id_a < id_b, heights
 * non-decreasing, size the number of rows below (the sum of their weights
 * when weighted, or of micro-cluster sizes). Ward heights are SciPy's (the
 * Ward distance on Euclidean vectors), complete/average/single heights
 * Euclidean distances. Borrowed, valid until the next fit or free; NULL
 * before a fit. */
CSEG_API const double *cseg_hclust_linkage(const cseg_hclust *h);
/* n_rows entries: the leaf each training row belongs to (the identity unless
 * approximate). Borrowed as above; NULL before a fit. */
CSEG_API const int32_t *cseg_hclust_leaf_of(const cseg_hclust *h);

/* Cut the tree into k flat clusters (1 <= k <= n_leaves) and write the label
 * (0..k'-1) of each training row into labels (caller-allocated, n_rows
 * entries), clusters numbered by first appearance in row order. As SciPy's
 * fcluster(Z, k, 'maxclust'): the lowest cut height giving at most k
 * clusters, so merges tied at that height can leave k' < k clusters; on
 * tie-free data k' == k. Errors: CSEG_ENOTFIT, CSEG_EINVAL (k out of range),
 * CSEG_ENOMEM. O(n_rows + n_leaves) time and memory; read-only on h, so
 * threads may cut a shared fitted tree at once. */
CSEG_API int cseg_hclust_cut_k(const cseg_hclust *h, size_t k, int32_t *labels);
/* Cut at a height: merges with height <= height are kept, as SciPy's
 * fcluster(Z, height, 'distance'). labels as for cut_k; *k_out (optional)
 * receives the number of clusters. Errors: CSEG_ENOTFIT, CSEG_EINVAL (height
 * is NaN), CSEG_ENOMEM. Same cost and thread safety as cut_k. */
CSEG_API int cseg_hclust_cut_height(const cseg_hclust *h, double height, int32_t *labels,
                                    size_t *k_out);
/* As cseg_hclust_cut_k, but labels (n_leaves entries) are given per leaf,
 * numbered by first appearance in leaf order; for approximate trees this is
 * the segment of each micro-cluster. Same errors, cost and thread safety. */
CSEG_API int cseg_hclust_leaf_labels_k(const cseg_hclust *h, size_t k, int32_t *labels);

CSEG_API const cseg_hclust_params *cseg_hclust_get_params(const cseg_hclust *h);

#ifdef __cplusplus
}
#endif
#endif
