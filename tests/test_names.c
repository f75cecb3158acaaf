/* Names that fit (issue 15.1), over the bundled data: on the Online Retail
 * log, for k-means, Ward, GMM (k = 3..9) and DBSCAN, every canonical RFM name
 * lies in its documented region; on the mall customer table, for every
 * algorithm and k, feature names never repeat and are never numbered. The
 * regions are restated here from docs/cli.md, apart from the library's table. */
#include <math.h>

#include "util.h"

static const struct {
    const char *name;
    double r_lo, r_hi, fm_lo, fm_hi;
} regions[] = {
    {"Champions", 4.5, 9, 3.5, 9},          {"Loyal Customers", 2.5, 4.5, 3.5, 9},
    {"Potential Loyalists", 3.5, 9, 1.5, 3.5}, {"New Customers", 4.5, 9, 0, 1.5},
    {"Promising", 3.5, 4.5, 0, 1.5},        {"Need Attention", 2.5, 3.5, 2.5, 3.5},
    {"About to Sleep", 2.5, 3.5, 0, 2.5},   {"Can't Lose Them", 0, 2.5, 4.5, 9},
    {"At Risk", 0, 2.5, 2.5, 4.5},          {"Lost", 0, 1.5, 0, 1.5},
    {"Hibernating", 0, 2.5, 0, 2.5},
};

static const char *level_word(double v, const char *lo, const char *mid, const char *hi)
{
    return v < 2.5 ? lo : v < 3.5 ? mid : hi;
}

/* One segment's name against its mean scores. */
static void check_rfm_name(const char *name, double r, double f, double m)
{
    char base[256];
    snprintf(base, sizeof base, "%s", name);
    char *q = strstr(base, " (");
    if (q && base[strlen(base) - 1] == ')')
        *q = 0;
    double fm = 0.5 * (f + m);
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        if (strcmp(base, regions[i].name) != 0)
            continue;
        if (!(r >= regions[i].r_lo && r < regions[i].r_hi && fm >= regions[i].fm_lo &&
              fm < regions[i].fm_hi && fabs(f - m) <= 1.5) ||
            (strcmp(base, "Hibernating") == 0 && r < 1.5 && fm < 1.5))
            fail_msg("\"%s\" at R %.3f F %.3f M %.3f: outside its region", name, r, f, m);
        return;
    }
    /* Not canonical: the point is in no region, and the words are its levels. */
    char want[256];
    snprintf(want, sizeof want, "%s \xC2\xB7 %s \xC2\xB7 %s",
             level_word(r, "Lapsed", "Cooling", "Recent"),
             level_word(f, "Rare", "Occasional", "Frequent"),
             level_word(m, "Low spend", "Mid spend", "High spend"));
    if (strcmp(base, want) != 0)
        fail_msg("\"%s\" at R %.3f F %.3f M %.3f: expected \"%s\"", name, r, f, m, want);
    int in_some = 0;
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++)
        in_some |= r >= regions[i].r_lo && r < regions[i].r_hi && fm >= regions[i].fm_lo &&
                   fm < regions[i].fm_hi;
    if (in_some && fabs(f - m) <= 1.5)
        fail_msg("\"%s\" at R %.3f F %.3f M %.3f: a canonical name fits", name, r, f, m);
}

static void check_unique(const cseg_profile *prof)
{
    size_t k = cseg_profile_k(prof);
    for (size_t a = 0; a < k; a++) {
        const char *na = cseg_profile_name(prof, a);
        const char *open = strrchr(na, '(');
        size_t digits = open ? strspn(open + 1, "0123456789") : 0;
        if (digits > 0 && strcmp(open + 1 + digits, ")") == 0)
            fail_msg("numbered name \"%s\"", na);
        for (size_t b = a + 1; b < k; b++)
            if (strcmp(na, cseg_profile_name(prof, b)) == 0)
                fail_msg("two segments named \"%s\"", na);
    }
}

static void test_online_retail_names(void **state)
{
    (void)state;
    const char *path = CSEG_SOURCE_DIR "/data/online_retail.csv.gz";
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn = NULL;
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, NULL), 0);
    const cseg_algo algos[] = {CSEG_ALGO_KMEANS, CSEG_ALGO_HCLUST, CSEG_ALGO_GMM, CSEG_ALGO_DBSCAN};
    size_t runs = 0, segs = 0, canonical = 0;
    for (size_t a = 0; a < 4; a++)
        for (size_t k = 3; k <= 9; k++) {
            cseg_segment_params p;
            cseg_segment_params_init(&p);
            p.algo = algos[a];
            p.k = algos[a] == CSEG_ALGO_DBSCAN ? 0 : k;
            p.n_init = 1;
            p.n_threads = 1;
            cseg_segmentation *r = NULL;
            cseg_diag d;
            if (cseg_segment_transactions(&r, txn, &roles, NULL, NULL, &p, &d) < 0)
                fail_msg("algo %zu k %zu: %s", a, k, d.msg);
            const cseg_profile *prof = cseg_segment_profile(r);
            long jr = cseg_profile_find(prof, "r_score"), jf = cseg_profile_find(prof, "f_score"),
                 jm = cseg_profile_find(prof, "m_score");
            assert_true(jr >= 0 && jf >= 0 && jm >= 0);
            for (size_t s = 0; s < cseg_profile_k(prof); s++) {
                const char *name = cseg_profile_name(prof, s);
                if (strcmp(name, "Outliers") == 0 || cseg_profile_size(prof, s) == 0)
                    continue;
                const double *mu = cseg_profile_means(prof, s);
                check_rfm_name(name, mu[jr], mu[jf], mu[jm]);
                canonical += cseg_profile_action_for(name) != NULL;
                segs++;
            }
            check_unique(prof);
            cseg_segment_free(r);
            runs++;
            if (algos[a] == CSEG_ALGO_DBSCAN)
                break; /* DBSCAN finds its own k */
        }
    assert_int_equal(runs, 22);
    assert_true(segs >= 3 * 42); /* k = 3..9 for three algorithms, and DBSCAN */
    assert_int_equal(canonical, segs); /* every name has an action */
    cseg_table_free(txn);
}

static void test_mall_names(void **state)
{
    (void)state;
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_read_csv(&t, CSEG_SOURCE_DIR "/data/mall_customers.csv", NULL, NULL), 0);
    const cseg_algo algos[] = {CSEG_ALGO_KMEANS, CSEG_ALGO_HCLUST, CSEG_ALGO_GMM, CSEG_ALGO_DBSCAN};
    for (size_t a = 0; a < 4; a++)
        for (size_t k = 3; k <= 9; k++) {
            cseg_segment_params p;
            cseg_segment_params_init(&p);
            p.algo = algos[a];
            p.k = algos[a] == CSEG_ALGO_DBSCAN ? 0 : k;
            p.n_threads = 1;
            cseg_segmentation *r = NULL;
            cseg_diag d;
            if (cseg_segment_customers(&r, t, "CustomerID", &p, &d) < 0)
                fail_msg("algo %zu k %zu: %s", a, k, d.msg);
            check_unique(cseg_segment_profile(r));
            cseg_segment_free(r);
            if (algos[a] == CSEG_ALGO_DBSCAN)
                break;
        }
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_online_retail_names),
        cmocka_unit_test(test_mall_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
