/* Tests for hierarchical clustering: known answers, agreement with SciPy
 * (linkage matrices, fcluster cuts, weighted Ward against repeated rows, tie
 * breaking), invariants, thread independence, micro-clusters, memory limits
 * and edge cases. Fixtures: tests/reference/make_hclust_fixtures.py. */
#include <math.h>

#include <string.h>

#include "util.h"
#include "custseg/hclust.h"
#include "reference/fixtures_hclust.h"

#define HEIGHT_TOL 1e-9 /* relative, SciPy's heights against ours */

static cseg_hclust *fit_or_fail(const double *X, size_t n, size_t d, cseg_linkage l, int threads,
                                const double *w)
{
    cseg_hclust_params p;
    cseg_hclust_params_init(&p);
    p.linkage = l;
    p.n_threads = threads;
    cseg_hclust *h;
    assert_int_equal(cseg_hclust_create(&h, &p), 0);
    cseg_diag diag;
    int rc = cseg_hclust_fit(h, X, n, d, w, &diag);
    if (rc)
        fail_msg("fit failed: %s (%s)", cseg_err_name(rc), diag.msg);
    return h;
}

/* ids and sizes exactly, heights to tol (absolute below 1e-300). */
static void assert_same_Z(const double *Z, const double *ref, size_t m, double tol)
{
    for (size_t i = 0; i < m; i++) {
        if (Z[4 * i] != ref[4 * i] || Z[4 * i + 1] != ref[4 * i + 1])
            fail_msg("merge %zu joins %g and %g, SciPy %g and %g", i, Z[4 * i], Z[4 * i + 1],
                     ref[4 * i], ref[4 * i + 1]);
        assert_rel(Z[4 * i + 2], ref[4 * i + 2], tol);
        assert_rel(Z[4 * i + 3], ref[4 * i + 3], 1e-15);
    }
}

/* a (0-based) and b (any labels) give the same partition of n rows. */
static void assert_same_partition(const int32_t *a, const int32_t *b, size_t n)
{
    int32_t amap[4096], bmap[4096];
    for (size_t i = 0; i < 4096; i++)
        amap[i] = bmap[i] = -1;
    for (size_t i = 0; i < n; i++) {
        assert_true(a[i] >= 0 && a[i] < 4096 && b[i] >= 0 && b[i] < 4096);
        if (amap[a[i]] < 0 && bmap[b[i]] < 0) {
            amap[a[i]] = b[i];
            bmap[b[i]] = a[i];
        }
        if (amap[a[i]] != b[i] || bmap[b[i]] != a[i])
            fail_msg("row %zu: label %d against %d breaks the matching", i, a[i], b[i]);
    }
}

/* Labels 0..k-1, numbered by first appearance. */
static size_t assert_first_appearance(const int32_t *lab, size_t n)
{
    int32_t next = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(lab[i] >= 0 && lab[i] <= next);
        if (lab[i] == next)
            next++;
    }
    return (size_t)next;
}

/* Heights non-decreasing, every id used once and made before it is used,
 * sizes add up. */
static void assert_valid_tree(const cseg_hclust *h)
{
    size_t nl = cseg_hclust_n_leaves(h);
    const double *Z = cseg_hclust_linkage(h);
    double *size = calloc(2 * nl - 1, sizeof *size);
    unsigned char *used = calloc(2 * nl - 1, 1);
    for (size_t i = 0; i < nl; i++)
        size[i] = -1; /* leaf sizes are known only from the merges */
    for (size_t i = 0; i + 1 < nl; i++) {
        size_t a = (size_t)Z[4 * i], b = (size_t)Z[4 * i + 1];
        assert_true(a < b && b < nl + i);
        assert_true(!used[a] && !used[b]);
        used[a] = used[b] = 1;
        if (i)
            assert_true(Z[4 * i + 2] >= Z[4 * (i - 1) + 2]);
        if (a >= nl && b >= nl)
            assert_rel(Z[4 * i + 3], size[a] + size[b], 1e-12);
        size[nl + i] = Z[4 * i + 3];
    }
    free(size);
    free(used);
}

static void test_known_answer(void **state)
{
    (void)state;
    double X2[] = {0, 3};
    for (int l = 0; l < 4; l++) {
        cseg_hclust *h = fit_or_fail(X2, 2, 1, (cseg_linkage)l, 1, NULL);
        const double *Z = cseg_hclust_linkage(h);
        assert_int_equal(cseg_hclust_n_leaves(h), 2);
        assert_true(Z[0] == 0 && Z[1] == 1 && Z[2] == 3 && Z[3] == 2);
        cseg_hclust_free(h);
    }
    /* 0, 1, 5: {0,1} at 1; then Ward sqrt(2*2*1/3) * 4.5, complete 5, average 4.5, single 4 */
    double X3[] = {0, 1, 5};
    double top[] = {sqrt(4.0 / 3) * 4.5, 5, 4.5, 4};
    for (int l = 0; l < 4; l++) {
        cseg_hclust *h = fit_or_fail(X3, 3, 1, (cseg_linkage)l, 1, NULL);
        const double *Z = cseg_hclust_linkage(h);
        assert_true(Z[0] == 0 && Z[1] == 1 && Z[2] == 1 && Z[3] == 2);
        assert_true(Z[4] == 2 && Z[5] == 3 && Z[7] == 3);
        assert_rel(Z[6], top[l], 1e-15);
        int32_t lab[3];
        assert_int_equal(cseg_hclust_cut_k(h, 2, lab), 0);
        assert_true(lab[0] == 0 && lab[1] == 0 && lab[2] == 1);
        cseg_hclust_free(h);
    }
}

typedef struct dataset {
    const char *name;
    size_t n, d, n_k;
    const double *X;
    const size_t *k;
    const double *Z[4];
    const int32_t *cutk[4];
    const double *t[4];
    size_t n_t[4];
    const int32_t *cutt[4];
} dataset;

#define DATASET(N)                                                                                 \
    {#N,                                                                                           \
     N##_n,                                                                                        \
     N##_d,                                                                                        \
     N##_n_k,                                                                                      \
     N##_X,                                                                                        \
     N##_k,                                                                                        \
     {N##_Z_ward, N##_Z_complete, N##_Z_average, N##_Z_single},                                    \
     {N##_cutk_ward, N##_cutk_complete, N##_cutk_average, N##_cutk_single},                        \
     {N##_t_ward, N##_t_complete, N##_t_average, N##_t_single},                                    \
     {N##_n_t_ward, N##_n_t_complete, N##_n_t_average, N##_n_t_single},                            \
     {N##_cutt_ward, N##_cutt_complete, N##_cutt_average, N##_cutt_single}}

static void test_scipy_reference(void **state)
{
    (void)state;
    const dataset sets[] = {DATASET(b2), DATASET(b5), DATASET(b1)};
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        const dataset *ds = &sets[s];
        int32_t *lab = malloc(ds->n * sizeof *lab);
        for (int l = 0; l < 4; l++) {
            cseg_hclust *h = fit_or_fail(ds->X, ds->n, ds->d, (cseg_linkage)l, 1, NULL);
            assert_int_equal(cseg_hclust_n_leaves(h), ds->n);
            assert_int_equal(cseg_hclust_is_approximate(h), 0);
            assert_same_Z(cseg_hclust_linkage(h), ds->Z[l], ds->n - 1, HEIGHT_TOL);
            assert_valid_tree(h);
            for (size_t i = 0; i < ds->n; i++)
                assert_int_equal(cseg_hclust_leaf_of(h)[i], (int32_t)i);
            for (size_t c = 0; c < ds->n_k; c++) {
                assert_int_equal(cseg_hclust_cut_k(h, ds->k[c], lab), 0);
                assert_int_equal(assert_first_appearance(lab, ds->n), ds->k[c]);
                assert_same_partition(lab, ds->cutk[l] + c * ds->n, ds->n);
            }
            for (size_t c = 0; c < ds->n_t[l]; c++) {
                size_t k;
                assert_int_equal(cseg_hclust_cut_height(h, ds->t[l][c], lab, &k), 0);
                assert_int_equal(assert_first_appearance(lab, ds->n), k);
                assert_same_partition(lab, ds->cutt[l] + c * ds->n, ds->n);
            }
            cseg_hclust_free(h);
        }
        free(lab);
    }
}

/* A constant feature adds nothing to any distance: same tree as without it. */
static void test_constant_feature(void **state)
{
    (void)state;
    size_t n = b2_n;
    double *X = malloc(n * 3 * sizeof *X);
    for (size_t i = 0; i < n; i++) {
        X[3 * i] = b2_X[2 * i];
        X[3 * i + 1] = 7.25;
        X[3 * i + 2] = b2_X[2 * i + 1];
    }
    const double *ref[] = {b2_Z_ward, b2_Z_complete, b2_Z_average, b2_Z_single};
    for (int l = 0; l < 4; l++) {
        cseg_hclust *h = fit_or_fail(X, n, 3, (cseg_linkage)l, 1, NULL);
        assert_same_Z(cseg_hclust_linkage(h), ref[l], n - 1, HEIGHT_TOL);
        cseg_hclust_free(h);
    }
    free(X);
}

/* Ward's merge heights are sqrt(2 x increase of the within-cluster sum of
 * squares), so their squares add up to twice the total sum of squares. */
static void test_ward_sum_of_squares(void **state)
{
    (void)state;
    size_t n = b5_n, d = b5_d;
    cseg_hclust *h = fit_or_fail(b5_X, n, d, CSEG_LINKAGE_WARD, 1, NULL);
    const double *Z = cseg_hclust_linkage(h);
    double sum = 0, tss = 0;
    for (size_t i = 0; i + 1 < n; i++)
        sum += Z[4 * i + 2] * Z[4 * i + 2] / 2;
    for (size_t j = 0; j < d; j++) {
        double mean = 0;
        for (size_t i = 0; i < n; i++)
            mean += b5_X[i * d + j] / (double)n;
        for (size_t i = 0; i < n; i++)
            tss += (b5_X[i * d + j] - mean) * (b5_X[i * d + j] - mean);
    }
    assert_rel(sum, tss, 1e-10);
    cseg_hclust_free(h);
}

static void test_weighted_ward(void **state)
{
    (void)state;
    size_t n = wdup_n;
    cseg_hclust *h = fit_or_fail(wdup_X, n, 3, CSEG_LINKAGE_WARD, 1, wdup_w);
    const double *Z = cseg_hclust_linkage(h);
    assert_valid_tree(h);
    for (size_t i = 0; i + 1 < n; i++) {
        assert_rel(Z[4 * i + 2], wdup_top_h[i], HEIGHT_TOL);
        assert_rel(Z[4 * i + 3], wdup_top_size[i], 1e-15);
    }
    assert_rel(Z[4 * (n - 2) + 3], (double)wdup_rep_n, 1e-15);
    int32_t lab[64];
    assert_int_equal(cseg_hclust_cut_k(h, 4, lab), 0);
    assert_same_partition(lab, wdup_cut4, n);
    /* Weight 1 everywhere is the unweighted tree, bit for bit. */
    double *ones = malloc(b5_n * sizeof *ones);
    for (size_t i = 0; i < b5_n; i++)
        ones[i] = 1;
    cseg_hclust *a = fit_or_fail(b5_X, b5_n, b5_d, CSEG_LINKAGE_WARD, 1, ones);
    cseg_hclust *b = fit_or_fail(b5_X, b5_n, b5_d, CSEG_LINKAGE_WARD, 1, NULL);
    assert_memory_equal(cseg_hclust_linkage(a), cseg_hclust_linkage(b),
                        (b5_n - 1) * 4 * sizeof(double));
    free(ones);
    cseg_hclust_free(a);
    cseg_hclust_free(b);
    cseg_hclust_free(h);
}

/* Exactly tied distances: SciPy's choices, to the last merge. */
static void test_ties(void **state)
{
    (void)state;
    const double *same[] = {same_Z_ward, same_Z_complete, same_Z_average, same_Z_single};
    const double *g1[] = {grid1_Z_ward, grid1_Z_complete, grid1_Z_average, grid1_Z_single};
    const double *g2[] = {grid2_Z_ward, grid2_Z_complete, grid2_Z_average, grid2_Z_single};
    for (int l = 0; l < 4; l++) {
        cseg_hclust *h = fit_or_fail(same_X, 6, 2, (cseg_linkage)l, 1, NULL);
        assert_same_Z(cseg_hclust_linkage(h), same[l], 5, 0);
        /* All merges tie at 0: like fcluster, asking for 3 clusters gives 1. */
        int32_t lab[16];
        assert_int_equal(cseg_hclust_cut_k(h, 3, lab), 0);
        for (int i = 0; i < 6; i++)
            assert_int_equal(lab[i], 0);
        /* As many as the customers as well (fcluster gives 1 too): identical
         * customers are never parted (they were: 6 segments of one). */
        assert_int_equal(cseg_hclust_cut_k(h, 6, lab), 0);
        for (int i = 0; i < 6; i++)
            assert_int_equal(lab[i], 0);
        cseg_hclust_free(h);
        h = fit_or_fail(grid1_X, 10, 1, (cseg_linkage)l, 1, NULL);
        assert_same_Z(cseg_hclust_linkage(h), g1[l], 9, 1e-15);
        cseg_hclust_free(h);
        h = fit_or_fail(grid2_X, 16, 2, (cseg_linkage)l, 1, NULL);
        if (l == CSEG_LINKAGE_WARD) {
            /* Above the first level SciPy's Ward "ties" are decided by the
             * rounding of its Lance-Williams update (4 against
             * 3.9999999999999996 for equal distances), which the centroid
             * form cannot reproduce: the heights agree, the pairing may not. */
            assert_valid_tree(h);
            for (size_t i = 0; i < 15; i++)
                assert_rel(cseg_hclust_linkage(h)[4 * i + 2], g2[l][4 * i + 2], 1e-15);
        } else {
            assert_same_Z(cseg_hclust_linkage(h), g2[l], 15, 1e-15);
        }
        cseg_hclust_free(h);
    }
}

/* Identical customers whose coordinates have no exact binary form merge at
 * height 0 exactly (the weighted mean of x and x was 1 ulp off x, the merge
 * 1e-16 high), so a cut into more segments than there are distinct customers
 * keeps them together. */
static void test_ward_identical_zero(void **state)
{
    (void)state;
    double X[23 * 2];
    for (int i = 0; i < 20; i++) {
        X[2 * i] = 0.1;
        X[2 * i + 1] = -0.7;
    }
    const double rest[] = {1.3, 1.1, 5.1, 5.3, 5.1, 6.2};
    memcpy(X + 40, rest, sizeof rest);
    cseg_hclust *h = fit_or_fail(X, 23, 2, CSEG_LINKAGE_WARD, 1, NULL);
    const double *Z = cseg_hclust_linkage(h);
    for (int m = 0; m < 19; m++)
        if (Z[4 * m + 2] != 0)
            fail_msg("merge %d of identical rows at %.17g, not 0", m, Z[4 * m + 2]);
    int32_t lab[23];
    assert_int_equal(cseg_hclust_cut_k(h, 5, lab), 0);
    for (int i = 1; i < 20; i++)
        assert_int_equal(lab[i], lab[0]);
    cseg_hclust_free(h);
}

static double *random_data(size_t n, size_t d, unsigned seed)
{
    double *X = malloc(n * d * sizeof *X);
    srand(seed);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = (double)rand() / RAND_MAX * (double)(1 + (i % 7)) + (double)(i % 3);
    return X;
}

static void assert_threads_identical(const double *X, size_t n, size_t d, cseg_linkage l,
                                     size_t exact_max, size_t n_micro)
{
    cseg_hclust *ref = NULL;
    int threads[] = {1, 2, 8};
    for (int t = 0; t < 3; t++) {
        cseg_hclust_params p;
        cseg_hclust_params_init(&p);
        p.linkage = l;
        p.n_threads = threads[t];
        p.exact_max = exact_max;
        p.n_micro = n_micro;
        cseg_hclust *h;
        assert_int_equal(cseg_hclust_create(&h, &p), 0);
        assert_int_equal(cseg_hclust_fit(h, X, n, d, NULL, NULL), 0);
        if (!ref) {
            ref = h;
            assert_valid_tree(h);
            continue;
        }
        size_t nl = cseg_hclust_n_leaves(ref);
        assert_int_equal(cseg_hclust_n_leaves(h), nl);
        assert_memory_equal(cseg_hclust_linkage(h), cseg_hclust_linkage(ref),
                            (nl - 1) * 4 * sizeof(double));
        assert_memory_equal(cseg_hclust_leaf_of(h), cseg_hclust_leaf_of(ref), n * sizeof(int32_t));
        cseg_hclust_free(h);
    }
    cseg_hclust_free(ref);
}

static void test_threads_identical(void **state)
{
    (void)state;
    /* Sizes above the points where each algorithm goes parallel: Ward's scan
     * at 2^18 values (1400 x 200: three blocks of 512 until the first
     * compaction), single linkage at 4096 points. */
    double *X = random_data(1400, 200, 1);
    assert_threads_identical(X, 1400, 200, CSEG_LINKAGE_WARD, 20000, 2000);
    free(X);
    X = random_data(6000, 2, 2);
    assert_threads_identical(X, 6000, 2, CSEG_LINKAGE_SINGLE, 20000, 2000);
    free(X);
    X = random_data(600, 3, 3);
    assert_threads_identical(X, 600, 3, CSEG_LINKAGE_AVERAGE, 20000, 2000);
    assert_threads_identical(X, 600, 3, CSEG_LINKAGE_COMPLETE, 20000, 2000);
    free(X);
    X = random_data(6000, 3, 4);
    assert_threads_identical(X, 6000, 3, CSEG_LINKAGE_WARD, 1000, 40); /* micro-clusters */
    free(X);
}

static void test_micro_clusters(void **state)
{
    (void)state;
    size_t n = 5000, d = 4, k = 4;
    double *X = malloc(n * d * sizeof *X);
    int32_t *truth = malloc(n * sizeof *truth), *lab = malloc(n * sizeof *lab);
    srand(9);
    for (size_t i = 0; i < n; i++) {
        size_t c = (i * 7 + i / 13) % k;
        truth[i] = (int32_t)c;
        for (size_t j = 0; j < d; j++)
            X[i * d + j] = 20.0 * (double)((c >> (j % 2)) & 1) + 5.0 * (double)(c == 3 && j == 3) +
                           (double)rand() / RAND_MAX;
    }
    cseg_hclust_params p;
    cseg_hclust_params_init(&p);
    p.exact_max = 1000;
    p.n_micro = 50;
    cseg_hclust *h;
    assert_int_equal(cseg_hclust_create(&h, &p), 0);
    assert_int_equal(cseg_hclust_fit(h, X, n, d, NULL, NULL), 0);
    assert_int_equal(cseg_hclust_is_approximate(h), 1);
    size_t nl = cseg_hclust_n_leaves(h);
    assert_true(nl >= k && nl <= 50);
    assert_int_equal(cseg_hclust_n_rows(h), n);
    assert_valid_tree(h);
    const double *Z = cseg_hclust_linkage(h);
    assert_rel(Z[4 * (nl - 2) + 3], (double)n, 1e-15);
    /* every leaf has rows, and leaf sizes add up to n */
    size_t *cnt = calloc(nl, sizeof *cnt);
    for (size_t i = 0; i < n; i++) {
        int32_t f = cseg_hclust_leaf_of(h)[i];
        assert_true(f >= 0 && (size_t)f < nl);
        cnt[f]++;
    }
    for (size_t f = 0; f < nl; f++)
        assert_true(cnt[f] > 0);
    free(cnt);
    assert_int_equal(cseg_hclust_cut_k(h, k, lab), 0);
    assert_same_partition(lab, truth, n);
    /* leaf labels agree with row labels through leaf_of */
    int32_t *leaf = malloc(nl * sizeof *leaf);
    assert_int_equal(cseg_hclust_leaf_labels_k(h, k, leaf), 0);
    assert_same_partition(lab, truth, n);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(lab[i] == lab[0], leaf[cseg_hclust_leaf_of(h)[i]] ==
                                               leaf[cseg_hclust_leaf_of(h)[0]]);
    assert_int_equal(cseg_hclust_cut_k(h, nl + 1, lab), CSEG_EINVAL);
    free(leaf);
    cseg_hclust_free(h);
    /* exact = 1 ignores exact_max */
    p.exact = 1;
    p.exact_max = 100;
    assert_int_equal(cseg_hclust_create(&h, &p), 0);
    assert_int_equal(cseg_hclust_fit(h, X, 1500, d, NULL, NULL), 0);
    assert_int_equal(cseg_hclust_is_approximate(h), 0);
    assert_int_equal(cseg_hclust_n_leaves(h), 1500);
    cseg_hclust_free(h);
    /* identical rows collapse to one micro-cluster: a one-leaf tree */
    for (size_t i = 0; i < n * d; i++)
        X[i] = 1.5;
    p.exact = 0;
    assert_int_equal(cseg_hclust_create(&h, &p), 0);
    assert_int_equal(cseg_hclust_fit(h, X, n, d, NULL, NULL), 0);
    assert_int_equal(cseg_hclust_n_leaves(h), 1);
    assert_int_equal(cseg_hclust_cut_k(h, 1, lab), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lab[i], 0);
    cseg_hclust_free(h);
    free(X);
    free(truth);
    free(lab);
}

static void test_memory_limit(void **state)
{
    (void)state;
    size_t n = 1000;
    double *X = random_data(n, 2, 5);
    cseg_hclust_params p;
    cseg_hclust_params_init(&p);
    p.linkage = CSEG_LINKAGE_COMPLETE;
    p.max_memory = 1 << 20;
    cseg_hclust *h;
    cseg_diag diag;
    assert_int_equal(cseg_hclust_create(&h, &p), 0);
    assert_int_equal(cseg_hclust_fit(h, X, n, 2, NULL, &diag), CSEG_ETOOBIG);
    assert_non_null(strstr(diag.msg, "complete linkage on 1000 rows needs"));
    assert_non_null(strstr(diag.msg, "more than max_memory (1048576 bytes)"));
    assert_null(cseg_hclust_linkage(h));
    size_t bytes;
    double secs;
    assert_int_equal(cseg_hclust_estimate(CSEG_LINKAGE_COMPLETE, n, 2, 0, &bytes, &secs), 0);
    assert_true(bytes >= n * (n - 1) / 2 * sizeof(double) && bytes > p.max_memory);
    /* Ward on the same rows fits in O(n d): about 100 bytes a row here */
    p.linkage = CSEG_LINKAGE_WARD;
    cseg_hclust_free(h);
    assert_int_equal(cseg_hclust_create(&h, &p), 0);
    assert_int_equal(cseg_hclust_fit(h, X, n, 2, NULL, &diag), 0);
    assert_int_equal(cseg_hclust_estimate(CSEG_LINKAGE_WARD, n, 2, 0, &bytes, NULL), 0);
    assert_true(bytes < 200 * n);
    p.max_memory = 1000;
    cseg_hclust_free(h);
    assert_int_equal(cseg_hclust_create(&h, &p), 0);
    assert_int_equal(cseg_hclust_fit(h, X, n, 2, NULL, &diag), CSEG_ETOOBIG);
    cseg_hclust_free(h);
    /* estimates without allocating: a million rows */
    assert_int_equal(cseg_hclust_estimate(CSEG_LINKAGE_WARD, 1000000, 8, 0, &bytes, &secs), 0);
    assert_true(bytes > 1000000 * 8 && bytes < ((size_t)1 << 30) && secs > 0 && secs < 600);
    assert_int_equal(cseg_hclust_estimate(CSEG_LINKAGE_WARD, 1000000, 8, 1, &bytes, &secs), 0);
    assert_true(secs > 600);
    assert_int_equal(cseg_hclust_estimate(CSEG_LINKAGE_AVERAGE, 1000000, 8, 0, &bytes, NULL), 0);
    assert_true(bytes > (size_t)3700 << 30); /* 4e12 bytes */
    assert_int_equal(cseg_hclust_estimate(CSEG_LINKAGE_AVERAGE, SIZE_MAX / 4, 8, 0, &bytes, NULL),
                     CSEG_ETOOBIG);
    assert_int_equal(cseg_hclust_estimate(CSEG_LINKAGE_WARD, 1, 8, 0, &bytes, NULL), CSEG_EINVAL);
    assert_int_equal(cseg_hclust_estimate(CSEG_LINKAGE_WARD, 10, 0, 0, &bytes, NULL), CSEG_EINVAL);
    assert_int_equal(cseg_hclust_estimate((cseg_linkage)7, 10, 2, 0, &bytes, NULL), CSEG_EINVAL);
    free(X);
}

static void test_edge_cases(void **state)
{
    (void)state;
    cseg_hclust_params p;
    cseg_hclust_params_init(&p);
    assert_null(cseg_hclust_params_check(&p));
    assert_int_equal(p.linkage, CSEG_LINKAGE_WARD);
    assert_int_equal(p.exact_max, 20000);
    cseg_hclust *h;
    cseg_diag diag;
    assert_int_equal(cseg_hclust_create(&h, NULL), 0);
    /* before a fit */
    int32_t lab[8];
    assert_null(cseg_hclust_linkage(h));
    assert_null(cseg_hclust_leaf_of(h));
    assert_int_equal(cseg_hclust_n_leaves(h), 0);
    assert_int_equal(cseg_hclust_cut_k(h, 1, lab), CSEG_ENOTFIT);
    assert_int_equal(cseg_hclust_cut_height(h, 1, lab, NULL), CSEG_ENOTFIT);
    assert_int_equal(cseg_hclust_leaf_labels_k(h, 1, lab), CSEG_ENOTFIT);
    /* bad input */
    double X[] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(cseg_hclust_fit(h, X, 1, 2, NULL, &diag), CSEG_EINVAL);
    assert_string_equal(diag.msg, "hierarchical clustering needs at least 2 rows, got 1");
    assert_int_equal(cseg_hclust_fit(h, X, 4, 0, NULL, &diag), CSEG_EINVAL);
    double Xn[] = {1, 2, 3, NAN, 5, 6};
    assert_int_equal(cseg_hclust_fit(h, Xn, 3, 2, NULL, &diag), CSEG_EINVAL);
    assert_string_equal(diag.msg, "row 2, feature 2 is not a finite number");
    Xn[3] = INFINITY;
    assert_int_equal(cseg_hclust_fit(h, Xn, 3, 2, NULL, &diag), CSEG_EINVAL);
    double w[] = {1, 0.5, 0, 2};
    assert_int_equal(cseg_hclust_fit(h, X, 4, 2, w, &diag), CSEG_EINVAL);
    assert_string_equal(diag.msg, "the weight of row 3 must be a positive finite number");
    w[2] = NAN;
    assert_int_equal(cseg_hclust_fit(h, X, 4, 2, w, &diag), CSEG_EINVAL);
    w[2] = 1;
    assert_int_equal(cseg_hclust_fit(h, X, 4, 2, w, &diag), 0);
    assert_rel(cseg_hclust_linkage(h)[4 * 2 + 3], 4.5, 1e-15);
    /* cuts out of range */
    assert_int_equal(cseg_hclust_cut_k(h, 0, lab), CSEG_EINVAL);
    assert_int_equal(cseg_hclust_cut_k(h, 5, lab), CSEG_EINVAL);
    assert_int_equal(cseg_hclust_cut_height(h, NAN, lab, NULL), CSEG_EINVAL);
    size_t k;
    assert_int_equal(cseg_hclust_cut_height(h, -1, lab, &k), 0);
    assert_int_equal(k, 4);
    assert_int_equal(cseg_hclust_cut_height(h, INFINITY, lab, &k), 0);
    assert_int_equal(k, 1);
    assert_int_equal(cseg_hclust_cut_k(h, 4, lab), 0);
    assert_true(lab[0] == 0 && lab[1] == 1 && lab[2] == 2 && lab[3] == 3);
    /* a failed fit leaves the object unfitted */
    assert_int_equal(cseg_hclust_fit(h, Xn, 3, 2, NULL, &diag), CSEG_EINVAL);
    assert_null(cseg_hclust_linkage(h));
    cseg_hclust_free(h);
    /* weights need Ward */
    p.linkage = CSEG_LINKAGE_AVERAGE;
    assert_int_equal(cseg_hclust_create(&h, &p), 0);
    assert_int_equal(cseg_hclust_fit(h, X, 4, 2, w, &diag), CSEG_EINVAL);
    assert_string_equal(diag.msg, "row weights are supported by ward linkage only, not average");
    cseg_hclust_free(h);
    /* bad parameters */
    cseg_hclust_params_init(&p);
    p.linkage = (cseg_linkage)9;
    assert_non_null(cseg_hclust_params_check(&p));
    assert_int_equal(cseg_hclust_create(&h, &p), CSEG_EINVAL);
    assert_null(h);
    cseg_hclust_params_init(&p);
    p.n_micro = 1;
    assert_non_null(cseg_hclust_params_check(&p));
    cseg_hclust_params_init(&p);
    p.exact_max = 1;
    assert_non_null(cseg_hclust_params_check(&p));
    cseg_hclust_params_init(&p);
    p.max_memory = 0;
    assert_non_null(cseg_hclust_params_check(&p));
    cseg_hclust_params_init(&p);
    p.exact = 2;
    assert_non_null(cseg_hclust_params_check(&p));
    cseg_hclust_params_init(&p);
    p.n_threads = -1;
    assert_non_null(cseg_hclust_params_check(&p));
    cseg_hclust_free(NULL);
}

/* One name table: the names the command line and model.json use, parsed
 * back, their prose forms, and the algorithm labels built on them. */
static void test_linkage_names(void **state)
{
    (void)state;
    static const char *const name[] = {"ward", "complete", "average", "single"};
    static const char *const display[] = {"Ward", "complete", "average", "single"};
    for (int q = CSEG_LINKAGE_WARD; q <= CSEG_LINKAGE_SINGLE; q++) {
        cseg_linkage l = (cseg_linkage)q, back = CSEG_LINKAGE_SINGLE;
        assert_string_equal(cseg_linkage_name(l), name[q]);
        assert_string_equal(cseg_linkage_display_name(l), display[q]);
        assert_int_equal(cseg_linkage_parse(name[q], &back), 0);
        assert_int_equal(back, l);
        cseg_algo a = CSEG_ALGO_KMEANS;
        back = CSEG_LINKAGE_SINGLE;
        assert_int_equal(cseg_algo_parse(name[q], &a, &back), 0);
        assert_int_equal(a, CSEG_ALGO_HCLUST);
        assert_int_equal(back, l);
        assert_string_equal(cseg_algo_label(a, l), name[q]);
    }
    cseg_linkage l = CSEG_LINKAGE_AVERAGE;
    cseg_algo a = CSEG_ALGO_GMM;
    assert_int_equal(cseg_algo_parse("hclust", &a, &l), 0);
    assert_int_equal(a, CSEG_ALGO_HCLUST);
    assert_int_equal(l, CSEG_LINKAGE_WARD);
    l = CSEG_LINKAGE_AVERAGE;
    assert_int_equal(cseg_linkage_parse("Ward", &l), CSEG_EINVAL);
    assert_int_equal(cseg_algo_parse("Ward", &a, &l), CSEG_EINVAL);
    assert_int_equal(cseg_algo_parse(NULL, &a, &l), CSEG_EINVAL);
    assert_int_equal(a, CSEG_ALGO_HCLUST); /* untouched on failure */
    assert_int_equal(l, CSEG_LINKAGE_AVERAGE);
    assert_null(cseg_linkage_name((cseg_linkage)4));
    assert_null(cseg_linkage_display_name((cseg_linkage)4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),      cmocka_unit_test(test_scipy_reference),
        cmocka_unit_test(test_constant_feature),  cmocka_unit_test(test_ward_sum_of_squares),
        cmocka_unit_test(test_weighted_ward),     cmocka_unit_test(test_ties),
        cmocka_unit_test(test_ward_identical_zero),
        cmocka_unit_test(test_threads_identical), cmocka_unit_test(test_micro_clusters),
        cmocka_unit_test(test_memory_limit),      cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_linkage_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
