/* Tests for stable segments across runs (cseg_segment_params.previous): a
 * previous run whose segments are this run's under another numbering and
 * other names is recognised segment for segment; the migration matrix and
 * the adjusted Rand index agree with the labels; vanished and new segments
 * are reported; the ids follow the previous run. */
#include <jansson.h>
#include <math.h>

#include "util.h"

#define MALL CSEG_SOURCE_DIR "/data/mall_customers.csv"

static cseg_table *mall(void)
{
    return read_csv_text_id(MALL, "CustomerID");
}

static cseg_segmentation *fit(const cseg_table *t, size_t k, uint64_t seed, const cseg_table *prev)
{
    cseg_segment_params sp;
    cseg_segment_params_init(&sp);
    sp.k = k;
    sp.seed = seed;
    sp.n_threads = 1;
    sp.previous = prev;
    cseg_segmentation *r = NULL;
    cseg_diag d;
    if (cseg_segment_customers(&r, t, "CustomerID", &sp, &d) < 0)
        fail_msg("fit: %s", d.msg);
    return r;
}

/* A previous run made of r's segments renumbered by perm (segment s becomes
 * perm[s]) and renamed "Old s". */
static cseg_table *previous_of(const cseg_table *t, const cseg_segmentation *r, const size_t *perm)
{
    size_t n = cseg_segment_n(r), k = cseg_segment_k(r);
    const int32_t *lab = cseg_segment_labels(r);
    cseg_table *p = NULL;
    assert_int_equal(cseg_table_create(&p, n), 0);
    long jid = cseg_table_find(t, "CustomerID");
    size_t nl = cseg_table_n_levels(t, (size_t)jid);
    const char **lv = malloc(nl * sizeof *lv), **names = malloc(k * sizeof *names);
    char(*nb)[16] = malloc(k * sizeof *nb);
    double *seg = malloc(n * sizeof *seg);
    int32_t *code = malloc(n * sizeof *code);
    for (size_t l = 0; l < nl; l++)
        lv[l] = cseg_table_level(t, (size_t)jid, (int32_t)l);
    for (size_t s = 0; s < k; s++) {
        snprintf(nb[s], sizeof nb[s], "Old %zu", perm[s] + 1);
        names[perm[s]] = nb[s];
    }
    for (size_t i = 0; i < n; i++) {
        seg[i] = (double)perm[lab[i]] + 1;
        code[i] = (int32_t)perm[lab[i]];
    }
    assert_int_equal(cseg_table_add_text(p, "CustomerID", lv, nl, cseg_table_codes(t, (size_t)jid)),
                     0);
    assert_int_equal(cseg_table_add_numbers(p, "segment", seg), 0);
    assert_int_equal(cseg_table_add_text(p, "segment_name", names, k, code), 0);
    free(lv), free(names), free(nb), free(seg), free(code);
    return p;
}

static json_t *previous_json(const cseg_segmentation *r)
{
    json_t *j = json_loads(cseg_segment_json(r), 0, NULL);
    assert_non_null(j);
    json_t *pv = json_incref(json_object_get(j, "previous"));
    json_decref(j);
    assert_non_null(pv);
    return pv;
}

/* The same segments under a shuffled numbering and other names: every
 * segment is found again, takes the old number and name; overlap 1, ARI 1.
 * (The previous customers have no feature columns here: overlap alone.) */
static void test_renumbered(void **state)
{
    (void)state;
    cseg_table *t = mall();
    cseg_segmentation *a = fit(t, 6, 0, NULL);
    size_t perm[6] = {4, 0, 5, 2, 1, 3};
    cseg_table *prev = previous_of(t, a, perm);
    cseg_segmentation *b = fit(t, 6, 0, prev);
    const int32_t *la = cseg_segment_labels(a), *lb = cseg_segment_labels(b);
    for (size_t i = 0; i < cseg_segment_n(a); i++)
        assert_int_equal(lb[i], (int32_t)perm[la[i]]);
    const cseg_model *m = cseg_segment_model(b);
    for (size_t s = 0; s < 6; s++) {
        char want[16];
        snprintf(want, sizeof want, "Old %zu", s + 1);
        assert_string_equal(cseg_model_name(m, s), want);
    }
    json_t *pv = previous_json(b);
    assert_int_equal(json_integer_value(json_object_get(pv, "shared_customers")), 200);
    assert_rel(json_real_value(json_object_get(pv, "adjusted_rand")), 1, 1e-12);
    json_t *segs = json_object_get(pv, "segments");
    for (size_t s = 0; s < 6; s++) {
        json_t *x = json_array_get(segs, s);
        assert_int_equal(json_integer_value(json_object_get(x, "previous_segment")), (long)s + 1);
        assert_rel(json_real_value(json_object_get(x, "jaccard")), 1, 0);
    }
    assert_int_equal(json_array_size(json_object_get(pv, "vanished")), 0);
    json_decref(pv);
    cseg_segment_free(b);
    cseg_table_free(prev);
    cseg_segment_free(a);
    cseg_table_free(t);
}

/* Another k: 6 segments before, 4 now (two vanish) and 4 before, 6 now
 * (two are new); the migration matrix counts every shared customer once and
 * its ARI is that of the two labellings. */
static void test_other_k(void **state)
{
    (void)state;
    cseg_table *t = mall();
    size_t ident[6] = {0, 1, 2, 3, 4, 5};
    for (int dir = 0; dir < 2; dir++) {
        size_t k0 = dir ? 4 : 6, k1 = dir ? 6 : 4;
        cseg_segmentation *a = fit(t, k0, 0, NULL);
        cseg_table *prev = previous_of(t, a, ident);
        cseg_segmentation *b = fit(t, k1, 3, prev);
        json_t *pv = previous_json(b);
        json_t *mig = json_object_get(pv, "migration"), *segs = json_object_get(pv, "segments");
        assert_int_equal(json_array_size(mig), k0);
        size_t total = 0, n_new = 0;
        for (size_t i = 0; i < k0; i++) {
            json_t *c = json_object_get(json_array_get(mig, i), "counts");
            for (size_t j = 0; j < k1; j++)
                total += (size_t)json_integer_value(json_array_get(c, j));
        }
        assert_int_equal(total, 200);
        for (size_t s = 0; s < k1; s++)
            n_new += json_is_null(json_object_get(json_array_get(segs, s), "previous_segment"));
        assert_int_equal(n_new, dir ? 2 : 0);
        assert_int_equal(json_array_size(json_object_get(pv, "vanished")), dir ? 0 : 2);
        /* continued segments first, in the previous order; the new ones after */
        long last = 0;
        for (size_t s = 0; s < k1 - n_new; s++) {
            long ps = (long)json_integer_value(
                json_object_get(json_array_get(segs, s), "previous_segment"));
            assert_true(ps > last);
            last = ps;
        }
        double ari;
        assert_int_equal(
            cseg_metrics_adjusted_rand(cseg_segment_labels(a), cseg_segment_labels(b), 200, &ari),
            0);
        assert_rel(json_real_value(json_object_get(pv, "adjusted_rand")), ari, 1e-12);
        json_decref(pv);
        cseg_segment_free(b);
        cseg_table_free(prev);
        cseg_segment_free(a);
    }
    cseg_table_free(t);
}

static void test_errors(void **state)
{
    (void)state;
    cseg_table *t = mall();
    cseg_table *p = NULL;
    assert_int_equal(cseg_table_create(&p, 1), 0);
    double one = 1;
    assert_int_equal(cseg_table_add_numbers(p, "segment", &one), 0);
    cseg_segment_params sp;
    cseg_segment_params_init(&sp);
    sp.k = 3;
    sp.previous = p;
    cseg_segmentation *r = NULL;
    cseg_diag d;
    assert_int_equal(cseg_segment_customers(&r, t, "CustomerID", &sp, &d), CSEG_EPARAM);
    assert_non_null(strstr(d.msg, "segment_name"));
    assert_null(r);
    cseg_table_free(p);
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renumbered),
        cmocka_unit_test(test_other_k),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
