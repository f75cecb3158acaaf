/* Tests for assoc.h: frequent itemsets and association rules against a
 * brute-force enumeration and an independent Apriori in Python
 * (tests/reference/make_assoc_fixtures.py), per segment; Fisher's test
 * against SciPy; closed itemsets, the length limits, bad baskets and an
 * itemset explosion refused with its estimate. */
#include <math.h>

#include "reference/fixtures_assoc.h"
#include "util.h"

static char *write_temp(const char *text)
{
    static int serial;
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/cseg_test_assoc_%d_%d.csv", (int)getpid(), serial++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_fisher(void **state)
{
    (void)state;
    for (size_t i = 0; i < ASSOC_N_FISHER; i++) {
        const size_t *t = assoc_fisher_tables + 4 * i;
        assert_rel(cseg_fisher_greater(t[0], t[1], t[2], t[3]), assoc_fisher_p[i], 1e-9);
    }
}

/* "abc" for the items of a rule side. */
static void side(const cseg_assoc *r, const int32_t *v, size_t n, char *buf)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = cseg_assoc_item(r, v[i])[0];
    buf[n] = 0;
}

/* The baskets of a transaction log's text, in the segments of a
 * customers.csv's text (customer_id, segment[, segment_name]). */
static cseg_baskets *baskets_from(const char *log, const char *cust)
{
    char *lp = write_temp(log), *cp = write_temp(cust);
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn, *c;
    cseg_baskets *b;
    cseg_diag d;
    assert_int_equal(cseg_txn_read(&txn, lp, &roles, NULL, &d), 0);
    assert_int_equal(cseg_baskets_from_txn(&b, txn, &roles, NULL, CSEG_DAY_AUTO, &d), 0);
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    static const cseg_colspec id = {"customer_id", CSEG_COL_TEXT, 1};
    rp.specs = &id;
    rp.n_specs = 1;
    assert_int_equal(cseg_table_read_csv(&c, cp, &rp, &d), 0);
    assert_int_equal(cseg_baskets_set_segments(b, c, NULL, &d), 0);
    cseg_table_free(txn);
    cseg_table_free(c);
    unlink(lp);
    unlink(cp);
    free(lp);
    free(cp);
    return b;
}

/* The small data as a transaction log and a customers.csv putting its
 * customers in three segments (those of segment -1 in none). */
static cseg_baskets *small_baskets(void)
{
    size_t cap = 1 << 16, len = 0;
    char *log = malloc(cap), *cust = malloc(cap);
    len += (size_t)snprintf(log, cap, "customer,invoice,date,product,quantity,price\n");
    size_t clen = (size_t)snprintf(cust, cap, "customer_id,segment,segment_name\n");
    for (size_t i = 0; i < ASSOC_SMALL_N; i++) {
        for (const char *p = assoc_small_baskets[i]; *p; p++)
            if (*p != ',')
                len += (size_t)snprintf(log + len, cap - len, "c%zu,%zu,2024-01-02,%c,1,2.5\n", i,
                                        1000 + i, *p);
        if (assoc_small_segment[i] >= 0)
            clen += (size_t)snprintf(cust + clen, cap - clen, "c%zu,%d,Group %d\n", i,
                                     assoc_small_segment[i] + 1, assoc_small_segment[i] + 1);
    }
    cseg_baskets *b = baskets_from(log, cust);
    assert_int_equal(cseg_baskets_n(b), ASSOC_SMALL_N);
    assert_int_equal(cseg_baskets_k(b), 3);
    free(log);
    free(cust);
    return b;
}

static void test_small_brute_force(void **state)
{
    (void)state;
    cseg_baskets *b = small_baskets();
    cseg_assoc_params p;
    cseg_assoc_params_init(&p);
    p.min_support = 0.1;
    p.min_confidence = 0.4;
    cseg_assoc *r;
    cseg_diag d;
    assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), 0);
    assert_int_equal(cseg_assoc_n_groups(r), 4);
    size_t minc[4];
    for (size_t g = 0; g < 4; g++)
        minc[g] = (size_t)ceil(0.1 * (double)cseg_assoc_group_baskets(r, g) - 1e-9);
    assert_int_equal(cseg_assoc_group_baskets(r, 0), ASSOC_SMALL_N);
    assert_string_equal(cseg_assoc_group_name(r, 2), "Group 2");
    /* every subset of the items: found exactly when frequent in some group */
    size_t expect_sets = 0;
    for (size_t s = 0; s < ASSOC_SMALL_N_SETS; s++) {
        const size_t *c = assoc_small_counts + 4 * s;
        int freq = 0;
        for (size_t g = 0; g < 4; g++)
            freq |= c[g] >= minc[g];
        expect_sets += freq;
        long found = -1;
        for (size_t i = 0; i < cseg_assoc_n_itemsets(r) && found < 0; i++) {
            size_t n;
            const int32_t *v = cseg_assoc_itemset(r, i, &n);
            char buf[16];
            side(r, v, n, buf);
            if (strcmp(buf, assoc_small_sets[s]) == 0)
                found = (long)i;
        }
        assert_int_equal(found >= 0, freq);
        for (size_t g = 0; found >= 0 && g < 4; g++)
            assert_int_equal(cseg_assoc_itemset_count(r, (size_t)found, g), c[g]);
    }
    assert_int_equal(cseg_assoc_n_itemsets(r), expect_sets);
    /* the same rules, with the same metrics */
    assert_int_equal(cseg_assoc_n(r), ASSOC_SMALL_N_RULES);
    for (size_t k = 0; k < ASSOC_SMALL_N_RULES; k++) {
        const assoc_fixture_rule *e = &assoc_small_rules[k];
        const cseg_assoc_rule *hit = NULL;
        for (size_t i = 0; i < cseg_assoc_n(r) && !hit; i++) {
            const cseg_assoc_rule *x = cseg_assoc_rule_at(r, i);
            char a[16], c[16];
            side(r, x->antecedent, x->n_antecedent, a);
            side(r, x->consequent, x->n_consequent, c);
            if ((int)x->group == e->group && strcmp(a, e->lhs) == 0 && strcmp(c, e->rhs) == 0)
                hit = x;
        }
        if (!hit)
            fail_msg("rule %s -> %s of group %d not found", e->lhs, e->rhs, e->group);
        assert_rel(hit->support, e->support, 1e-12);
        assert_rel(hit->confidence, e->confidence, 1e-12);
        assert_rel(hit->lift, e->lift, 1e-12);
        assert_rel(hit->p_value, e->p_value, 1e-9);
    }
    /* ordered by group, then lift */
    for (size_t i = 1; i < cseg_assoc_n(r); i++) {
        const cseg_assoc_rule *x = cseg_assoc_rule_at(r, i - 1), *y = cseg_assoc_rule_at(r, i);
        assert_true(x->group < y->group || (x->group == y->group && x->lift >= y->lift));
    }
    cseg_assoc_free(r);

    /* top 3 per group; at most 2 items; closed itemsets only */
    p.top = 3;
    assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), 0);
    assert_int_equal(cseg_assoc_n(r), 12);
    cseg_assoc_free(r);
    p.top = 0;
    p.max_len = 2;
    assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), 0);
    for (size_t i = 0; i < cseg_assoc_n_itemsets(r); i++) {
        size_t n;
        cseg_assoc_itemset(r, i, &n);
        assert_true(n <= 2);
    }
    cseg_assoc_free(r);
    p.max_len = 0;
    p.closed = 1;
    assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), 0);
    assert_true(cseg_assoc_n(r) > 0 && cseg_assoc_n(r) < ASSOC_SMALL_N_RULES);
    for (size_t i = 0; i < cseg_assoc_n(r); i++) {
        const cseg_assoc_rule *x = cseg_assoc_rule_at(r, i);
        char all[40], a[16], c[16];
        side(r, x->antecedent, x->n_antecedent, a);
        side(r, x->consequent, x->n_consequent, c);
        snprintf(all, sizeof all, "%s%s", a, c);
        /* no superset in the brute-force table has the same count in the group */
        for (size_t s = 0; s < ASSOC_SMALL_N_SETS; s++) {
            const char *t = assoc_small_sets[s];
            if (strlen(t) != strlen(all) + 1)
                continue;
            int sup = 1;
            for (const char *q = all; *q; q++)
                sup &= strchr(t, *q) != NULL;
            if (sup)
                assert_true(assoc_small_counts[4 * s + x->group] < x->count);
        }
    }
    cseg_assoc_free(r);
    cseg_baskets_free(b);
}

#define CHECK_P ((1ULL << 61) - 1)

/* An itemset as the product of its items' ranks + 1 modulo 2^61 - 1, as the
 * fixture script computes it (the items are numbered in byte order). */
static uint64_t code(const int32_t *v, size_t n)
{
    uint64_t c = 1;
    for (size_t i = 0; i < n; i++)
        c = (uint64_t)((unsigned __int128)c * (uint64_t)(v[i] + 1) % CHECK_P);
    return c;
}

static void test_groceries(void **state)
{
    (void)state;
#ifndef ASSOC_HAVE_GROCERIES
    skip();
#else
    const char *path = CSEG_SOURCE_DIR "/../shared/data/groceries.csv";
    if (access(path, R_OK) != 0) {
        print_message("skipped: %s is absent\n", path);
        skip();
    }
    cseg_baskets *b;
    cseg_diag d;
    assert_int_equal(cseg_baskets_read(&b, path, 0, &d), 0);
    assert_int_equal(cseg_baskets_n(b), ASSOC_GROCERIES_N);
    assert_int_equal(cseg_baskets_n_items(b), 169);
    for (size_t s = 0; s < ASSOC_N_SUPPORTS; s++) {
        cseg_assoc_params p;
        cseg_assoc_params_init(&p);
        p.min_support = assoc_supports[s];
        p.min_confidence = 1;
        cseg_assoc *r;
        assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), 0);
        size_t sizes[10] = {0};
        for (size_t i = 0; i < cseg_assoc_n_itemsets(r); i++) {
            size_t n;
            cseg_assoc_itemset(r, i, &n);
            assert_true(n < 10);
            sizes[n]++;
        }
        assert_memory_equal(sizes, assoc_sizes + 10 * s, sizeof sizes);
        /* the same itemsets with the same counts */
        uint64_t chk = 0;
        for (size_t i = 0; i < cseg_assoc_n_itemsets(r); i++) {
            size_t n;
            const int32_t *v = cseg_assoc_itemset(r, i, &n);
            uint64_t term = (uint64_t)((unsigned __int128)cseg_assoc_itemset_count(r, i, 0) *
                                       code(v, n) % CHECK_P);
            chk = (chk + term) % CHECK_P;
        }
        assert_true(chk == assoc_set_check[s]);
        cseg_assoc_free(r);
    }
    for (size_t k = 0; k < ASSOC_N_SETTINGS; k++) {
        cseg_assoc_params p;
        cseg_assoc_params_init(&p);
        p.min_support = assoc_settings[3 * k];
        p.min_confidence = assoc_settings[3 * k + 1];
        p.max_consequent = (size_t)assoc_settings[3 * k + 2];
        cseg_assoc *r;
        assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), 0);
        assert_int_equal(cseg_assoc_n(r), assoc_n_rules[k]);
        double sum[3] = {0, 0, 0};
        uint64_t chk = 0;
        for (size_t i = 0; i < cseg_assoc_n(r); i++) {
            const cseg_assoc_rule *x = cseg_assoc_rule_at(r, i);
            unsigned __int128 t7 = (unsigned __int128)7 * code(x->antecedent, x->n_antecedent),
                              t13 = (unsigned __int128)13 * code(x->consequent, x->n_consequent);
            uint64_t term = (uint64_t)((t7 + t13) % CHECK_P);
            chk = (chk + term) % CHECK_P;
            sum[0] += x->support;
            sum[1] += x->confidence;
            sum[2] += x->lift;
            assert_rel(x->lift_population, x->lift, 1e-15); /* one group: the same */
        }
        for (int j = 0; j < 3; j++)
            assert_rel(sum[j], assoc_rule_sums[3 * k + j], 1e-9);
        assert_true(chk == assoc_rule_check[k]); /* the same rules */
        cseg_assoc_free(r);
    }
    cseg_baskets_free(b);
#endif
}

static void test_bad_and_degenerate(void **state)
{
    (void)state;
    cseg_baskets *b;
    cseg_diag d;
    /* an empty basket (blank items) names its line */
    char *p1 = write_temp("milk,bread\n , ,\nbread\n");
    memset(&d, 0, sizeof d);
    assert_int_equal(cseg_baskets_read(&b, p1, 0, &d), CSEG_EPARSE);
    assert_int_equal(d.line, 2);
    assert_non_null(strstr(d.msg, "empty basket"));
    /* no basket at all */
    char *p2 = write_temp("\n\n");
    assert_true(cseg_baskets_read(&b, p2, 0, &d) < 0);
    /* a product in every basket: its rules have lift 1 and say nothing */
    char *p3 = write_temp("milk,bread\nmilk,eggs\nmilk,bread,eggs\nmilk\n");
    assert_int_equal(cseg_baskets_read(&b, p3, 0, &d), 0);
    cseg_assoc_params p;
    cseg_assoc_params_init(&p);
    p.min_support = 0.25;
    p.min_confidence = 0.9;
    cseg_assoc *r;
    assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), 0);
    size_t into_milk = 0;
    for (size_t i = 0; i < cseg_assoc_n(r); i++) {
        const cseg_assoc_rule *x = cseg_assoc_rule_at(r, i);
        if (x->n_consequent == 1 && strcmp(cseg_assoc_item(r, x->consequent[0]), "milk") == 0) {
            into_milk++;
            assert_rel(x->lift, 1, 1e-15);
            assert_true(isinf(x->conviction));
            assert_rel(x->p_value, 1, 1e-15);
        }
    }
    assert_true(into_milk >= 3); /* {bread}, {eggs}, {bread, eggs} -> {milk} */
    cseg_assoc_free(r);
    cseg_baskets_free(b);
    /* a segment of one basket of 30 items is not mined (2^30 "frequent" itemsets) */
    {
        size_t cap = 1 << 16, len = 0, clen = 0;
        char *log = malloc(cap), *cust = malloc(cap);
        len += (size_t)snprintf(log, cap, "customer,invoice,date,product,quantity,price\n");
        clen += (size_t)snprintf(cust, cap, "customer_id,segment\n");
        for (int i = 0; i < 40; i++) { /* segment 1: 40 small baskets */
            len +=
                (size_t)snprintf(log + len, cap - len, "c%d,%d,2024-01-02,P%d,1,1\n", i, i, i % 3);
            clen += (size_t)snprintf(cust + clen, cap - clen, "c%d,1\n", i);
        }
        for (int j = 0; j < 30; j++) /* segment 2: one invoice of 30 products */
            len += (size_t)snprintf(log + len, cap - len, "big,999,2024-01-03,Q%d,1,1\n", j);
        clen += (size_t)snprintf(cust + clen, cap - clen, "big,2\n");
        b = baskets_from(log, cust);
        cseg_assoc_params ap;
        cseg_assoc_params_init(&ap);
        ap.min_support = 0.2;
        assert_int_equal(cseg_assoc_mine(&r, b, &ap, &d), 0);
        assert_true(cseg_assoc_group_mined(r, 1));
        assert_false(cseg_assoc_group_mined(r, 2));
        assert_int_equal(cseg_assoc_group_itemsets(r, 2), 0);
        cseg_assoc_free(r);
        cseg_baskets_free(b);
        free(log);
        free(cust);
    }
    /* an explosion: 22 items in every basket is 4 million itemsets; refused early */
    char *text = malloc(4096);
    size_t len = 0;
    for (int line = 0; line < 5; line++) {
        for (int i = 0; i < 22; i++)
            len += (size_t)snprintf(text + len, 4096 - len, "%sitem%02d", i ? "," : "", i);
        text[len++] = '\n';
    }
    text[len] = 0;
    char *p4 = write_temp(text);
    assert_int_equal(cseg_baskets_read(&b, p4, 0, &d), 0);
    p.max_itemsets = 10000;
    assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), CSEG_ETOOBIG);
    assert_non_null(strstr(d.msg, "more than 10000 frequent itemsets"));
    p.max_len = 2; /* what the message suggests works */
    assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), 0);
    assert_int_equal(cseg_assoc_n_itemsets(r), 22 + 22 * 21 / 2);
    cseg_assoc_free(r);
    cseg_baskets_free(b);
    p.min_support = 0;
    assert_int_equal(cseg_assoc_params_check(&p) != NULL, 1);
    const char *paths[] = {p1, p2, p3, p4};
    for (int i = 0; i < 4; i++) {
        unlink(paths[i]);
        free((void *)paths[i]);
    }
    free(text);
}

/* Items named by their most frequent label; a label two products share
 * gets each product's code. */
static void test_labels(void **state)
{
    (void)state;
    char *lp = write_temp("customer,invoice,date,product,name,quantity,price\n"
                          "c1,1,2024-01-02,P1,Tea,1,2\nc1,1,2024-01-02,P3,Cup,1,2\n"
                          "c2,2,2024-01-02,P2,Tea,1,2\nc2,2,2024-01-02,P3,Mug,1,2\n"
                          "c3,3,2024-01-03,P3,Cup,1,2\nc3,3,2024-01-03,P4,,1,2\n"
                          "c3,C4,2024-01-03,P5,Saucer,-1,2\n");
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    strcpy(roles.product, "product");
    roles.n_attributes = 1;
    strcpy(roles.attributes[0], "name");
    cseg_table *txn;
    cseg_baskets *b;
    cseg_diag d;
    assert_int_equal(cseg_txn_read(&txn, lp, &roles, NULL, &d), 0);
    assert_int_equal(cseg_baskets_from_txn(&b, txn, &roles, "nope", CSEG_DAY_AUTO, &d),
                     CSEG_ENOCOL);
    assert_int_equal(cseg_baskets_from_txn(&b, txn, &roles, "name", CSEG_DAY_AUTO, &d), 0);
    assert_int_equal(cseg_baskets_n(b), 3); /* the cancellation C4 is no basket */
    cseg_assoc_params p;
    cseg_assoc_params_init(&p);
    p.min_support = 0.3;
    cseg_assoc *r;
    assert_int_equal(cseg_assoc_mine(&r, b, &p, &d), 0);
    /* in byte order: "Cup" (P3, 2 of 3 rows), "P4" (no label), "Tea [P1]", "Tea [P2]" */
    assert_int_equal(cseg_baskets_n_items(b), 4);
    assert_string_equal(cseg_assoc_item(r, 0), "Cup");
    assert_string_equal(cseg_assoc_item(r, 1), "P4");
    assert_string_equal(cseg_assoc_item(r, 2), "Tea [P1]");
    assert_string_equal(cseg_assoc_item(r, 3), "Tea [P2]");
    cseg_assoc_free(r);
    cseg_baskets_free(b);
    cseg_table_free(txn);
    unlink(lp);
    free(lp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fisher),    cmocka_unit_test(test_small_brute_force),
        cmocka_unit_test(test_groceries), cmocka_unit_test(test_bad_and_degenerate),
        cmocka_unit_test(test_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
