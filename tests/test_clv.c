/* Tests for clv.h: the BG/NBD and Gamma-Gamma likelihoods and gradients, the
 * predictions and the CDNOW fits against an independent SciPy implementation
 * (tests/reference/make_clv_fixtures.py), bad summaries, degenerate data, and
 * the same fit for any thread count. */
#include <math.h>
#include <unistd.h>

#include "reference/fixtures_clv.h"
#include "util.h"

static void test_loglik(void **state)
{
    (void)state;
    for (size_t k = 0; k < CLV_N_BG_POINTS; k++) {
        double g[4];
        double ll = cseg_bgnbd_loglik(clv_bg_points + 4 * k, clv_x, clv_tx, clv_T, CLV_N, g);
        assert_rel(ll, clv_bg_ll[k], 1e-12);
        for (int j = 0; j < 4; j++)
            assert_rel(g[j], clv_bg_grad[4 * k + j], 1e-10);
    }
    for (size_t k = 0; k < CLV_N_GG_POINTS; k++) {
        double g[3];
        double ll = cseg_gammagamma_loglik(clv_gg_points + 3 * k, clv_x, clv_m, CLV_N, g);
        assert_rel(ll, clv_gg_ll[k], 1e-12);
        for (int j = 0; j < 3; j++)
            assert_rel(g[j], clv_gg_grad[3 * k + j], 1e-10);
    }
    /* outside the domain */
    double bad[4] = {0.5, -1, 1, 1};
    assert_true(isinf(cseg_bgnbd_loglik(bad, clv_x, clv_tx, clv_T, CLV_N, NULL)));
}

static void test_predictions(void **state)
{
    (void)state;
    const double *bg = clv_bg_points + 4, *gg = clv_gg_points;
    double out[CLV_N];
    cseg_bgnbd_p_alive(bg, clv_x, clv_tx, clv_T, CLV_N, out);
    for (size_t i = 0; i < CLV_N; i++)
        assert_rel(out[i], clv_p_alive[i], 1e-12);
    cseg_bgnbd_expected(bg, 10, clv_x, clv_tx, clv_T, CLV_N, out);
    for (size_t i = 0; i < CLV_N; i++)
        assert_rel(out[i], clv_expected_10[i], 1e-11);
    cseg_bgnbd_expected(bg, 52, clv_x, clv_tx, clv_T, CLV_N, out);
    for (size_t i = 0; i < CLV_N; i++)
        assert_rel(out[i], clv_expected_52[i], 1e-11);
    const double t[3] = {1, 10, 52};
    for (int j = 0; j < 3; j++)
        assert_rel(cseg_bgnbd_expected_new(bg, t[j]), clv_expected_new[j], 1e-11);
    cseg_gammagamma_expected(gg, clv_x, clv_m, CLV_N, out);
    for (size_t i = 0; i < CLV_N; i++)
        assert_rel(out[i], clv_order_value[i], 1e-13);
    cseg_clv_params p;
    cseg_clv_params_init(&p);
    p.unit_days = 7;
    p.horizon_months = 12;
    p.discount = 0.01;
    assert_int_equal(cseg_clv_value(&p, clv_x, clv_tx, clv_T, clv_m, CLV_N, out), CSEG_EINVAL);
    p.has_fit = 1;
    memcpy(p.bgnbd.param, bg, 4 * sizeof *bg);
    memcpy(p.gamma_gamma.param, gg, 3 * sizeof *gg);
    assert_int_equal(cseg_clv_value(&p, clv_x, clv_tx, clv_T, clv_m, CLV_N, out), CSEG_EINVAL);
    p.gamma_gamma.kind = CSEG_CLV_GAMMA_GAMMA; /* both models are needed */
    assert_int_equal(cseg_clv_value(&p, clv_x, clv_tx, clv_T, clv_m, CLV_N, out), 0);
    for (size_t i = 0; i < CLV_N; i++)
        assert_rel(out[i], clv_value_12[i], 1e-10);
}

static void test_bad_summaries(void **state)
{
    (void)state;
    char why[160];
    const double x[] = {1, 2, 0, 1.5, 3, 1, -1};
    const double tx[] = {3, 4, 0, 1, 5, 2, 0};
    const double T[] = {5, 4, 2, 3, 4, 6, 1};
    const double m[] = {10, 5, 0, 3, 2, 0, 0};
    /* rows 0..2 are fine; 3: x not whole; 4: T < t_x; 5: m = 0 with x > 0; 6: x < 0 */
    assert_int_equal(cseg_clv_check_summary(x, tx, T, m, 3, NULL, why, sizeof why), -1);
    assert_int_equal(cseg_clv_check_summary(x + 3, tx + 3, T + 3, m + 3, 4, NULL, why, sizeof why),
                     0);
    assert_non_null(strstr(why, "whole number"));
    assert_int_equal(cseg_clv_check_summary(x + 4, tx + 4, T + 4, m + 4, 3, NULL, why, sizeof why),
                     0);
    assert_non_null(strstr(why, "larger than T"));
    assert_int_equal(cseg_clv_check_summary(x + 5, tx + 5, T + 5, m + 5, 2, NULL, why, sizeof why),
                     0);
    assert_non_null(strstr(why, "monetary_value"));
    assert_int_equal(cseg_clv_check_summary(x + 5, tx + 5, T + 5, NULL, 2, NULL, why, sizeof why),
                     1);
    const double negr[] = {-2}, zero[] = {0}, one[] = {1}, three[] = {3};
    assert_int_equal(cseg_clv_check_summary(one, negr, three, NULL, 1, NULL, why, sizeof why), 0);
    assert_int_equal(cseg_clv_check_summary(zero, one, three, NULL, 1, NULL, why, sizeof why), 0);
    assert_non_null(strstr(why, "no repeat purchase"));

    cseg_clv_params p;
    cseg_clv_params_init(&p);
    cseg_clv_fit f;
    cseg_diag d;
    memset(&d, 0, sizeof d);
    assert_int_equal(cseg_bgnbd_fit(&f, x + 3, tx + 3, T + 3, 4, &p, &d), CSEG_EINVAL);
    assert_non_null(strstr(d.msg, "row 1"));
    /* no repeat purchases at all: not identifiable, said so */
    const double zx[] = {0, 0, 0}, ztx[] = {0, 0, 0}, zT[] = {3, 5, 9};
    assert_int_equal(cseg_bgnbd_fit(&f, zx, ztx, zT, 3, &p, &d), CSEG_EEMPTY);
    assert_non_null(strstr(d.msg, "repeat"));
    assert_int_equal(cseg_gammagamma_fit(&f, zx, zT, 3, &p, &d), CSEG_EEMPTY);
    p.unit_days = 0;
    assert_int_equal(cseg_bgnbd_fit(&f, clv_x, clv_tx, clv_T, CLV_N, &p, &d), CSEG_EINVAL);
}

/* Spends all alike: the Gamma-Gamma likelihood grows without bound as q and
 * v run off together; the fit reports it instead of claiming convergence. */
static void test_not_converged(void **state)
{
    (void)state;
    double x[40], m[40];
    for (int i = 0; i < 40; i++) {
        x[i] = 1 + i % 4;
        m[i] = 25;
    }
    cseg_clv_params p;
    cseg_clv_params_init(&p);
    cseg_clv_fit f;
    cseg_diag d;
    assert_int_equal(cseg_gammagamma_fit(&f, x, m, 40, &p, &d), 0);
    assert_int_not_equal(f.status, CSEG_CLV_CONVERGED);
    assert_non_null(strstr(f.message, "not converged"));
    /* a too small iteration limit is reported as such */
    p.max_iter = 2;
    assert_int_equal(cseg_bgnbd_fit(&f, clv_x, clv_tx, clv_T, CLV_N, &p, &d), 0);
    assert_int_equal(f.status, CSEG_CLV_MAX_ITER);
    assert_non_null(strstr(f.message, "limit of 2 iterations"));
}

/* What the review of the first version found: the expectation for frequent
 * buyers over long horizons, with a + b < 1 and at a = 1; one repeat buyer;
 * purchase days worth nothing. */
static void test_hard_cases(void **state)
{
    (void)state;
    /* a + b < 1: 2F1's c is negative; the direct series gives 0.6977 and 1.5799 */
    double p1[4] = {0.5, 5, 0.3, 0.4}, x = 0, tx = 0, T = 10, e;
    cseg_bgnbd_expected(p1, 30, &x, &tx, &T, 1, &e);
    assert_rel(e, 0.697743, 1e-5);
    assert_rel(cseg_bgnbd_expected_new(p1, 30), 1.579855, 1e-5);
    /* a and b at a fit's bounds (1e5, 7e6): 2F1's series beyond the range of
     * doubles, (1 - z)^(a - 1) below it; their product is taken in logs (it
     * was NaN). tests/reference/clv_large_ab.py sums the series in logs, its
     * terms' logs by recurrence (about 1e-8 of rounding over two million
     * terms). */
    double pb[4] = {1.340566874, 9.511779133, 117470.5851, 6936429.478};
    double x3[3] = {2, 3, 0}, tx3[3] = {5, 8, 0}, T3[3] = {10, 12, 20}, e3[3];
    cseg_bgnbd_expected(pb, 365.25, x3, tx3, T3, 3, e3);
    assert_rel(e3[0], 34.233468051134494, 1e-6);
    assert_rel(e3[1], 38.0977626672356, 1e-6);
    assert_rel(e3[2], 13.339657795055796, 1e-6);
    /* 690 repeat purchases over 700 days, 5 years ahead: finite, about 1,600 */
    double p2[4] = {0.8265, 68.9, 0.0034, 6.745}, xb = 690, txb = 700, Tb = 700;
    cseg_bgnbd_expected(p2, 60 * CSEG_CLV_MONTH_DAYS, &xb, &txb, &Tb, 1, &e);
    assert_true(isfinite(e) && e > 1000 && e < 3000);
    /* a = 1 is 0/0 in the formula; its limit joins the values around it */
    double p3[4] = {0.5, 5, 1.0, 2}, p4[4] = {0.5, 5, 1.001, 2}, e4;
    x = 2;
    tx = 5;
    cseg_bgnbd_expected(p3, 30, &x, &tx, &T, 1, &e);
    cseg_bgnbd_expected(p4, 30, &x, &tx, &T, 1, &e4);
    assert_true(isfinite(e) && fabs(e - e4) < 0.01);
    /* one repeat buyer: BG/NBD alone, the spend model left out with its reason */
    cseg_table *t;
    assert_int_equal(cseg_table_create(&t, 4), 0);
    const double fx[4] = {0, 3, 0, 0}, ftx[4] = {0, 20, 0, 0}, fT[4] = {30, 40, 10, 25},
                 fm[4] = {0, 12.5, 0, 0};
    assert_int_equal(cseg_table_add_numbers(t, CSEG_CLV_COL_FREQUENCY, fx), 0);
    assert_int_equal(cseg_table_add_numbers(t, CSEG_CLV_COL_RECENCY, ftx), 0);
    assert_int_equal(cseg_table_add_numbers(t, CSEG_CLV_COL_T, fT), 0);
    assert_int_equal(cseg_table_add_numbers(t, CSEG_CLV_COL_MONETARY, fm), 0);
    cseg_clv_params p;
    cseg_clv_params_init(&p);
    cseg_diag d;
    assert_int_equal(cseg_clv_fit_table(&p, t, &d), 0);
    assert_int_equal(p.bgnbd.kind, CSEG_CLV_BGNBD);
    assert_int_equal(p.gamma_gamma.kind, 0);
    assert_non_null(strstr(p.gamma_gamma.message, "not fitted"));
    assert_int_equal(cseg_clv_add_columns(t, &p, &d), 0);
    assert_true(cseg_table_find(t, CSEG_CLV_COL_P_ALIVE) >= 0);
    assert_true(cseg_table_find(t, CSEG_CLV_COL_CLV) < 0);
    cseg_table_free(t);
    /* a day of zero-quantity rows is no purchase day */
    char path[64];
    snprintf(path, sizeof path, "/tmp/cseg_test_clv_%d.csv", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("customer,invoice,date,quantity,price\nA,1,2024-01-01,2,5\nA,2,2024-01-05,0,5\n"
          "A,3,2024-01-09,1,4\nB,4,2024-01-02,1,3\n",
          f);
    fclose(f);
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn, *c;
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), 0);
    cseg_rfm_params rp;
    cseg_rfm_params_init(&rp);
    rp.clv.enabled = 1;
    assert_int_equal(cseg_rfm_compute(&c, txn, &roles, &rp, NULL, &d), 0);
    const double *bx = cseg_table_numbers(c, (size_t)cseg_table_find(c, CSEG_CLV_COL_FREQUENCY));
    const double *bm = cseg_table_numbers(c, (size_t)cseg_table_find(c, CSEG_CLV_COL_MONETARY));
    assert_true(bx[0] == 1 && bm[0] == 4); /* A: days 1 and 9 (4.00), not day 5 (0.00) */
    cseg_table_free(c);
    cseg_table_free(txn);
    unlink(path);
}

static cseg_table *cdnow_summary(int n_threads, cseg_clv_params *clv)
{
    const char *path = CSEG_SOURCE_DIR "/data/cdnow_master.csv.gz";
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn, *c;
    cseg_diag d;
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), 0);
    cseg_rfm_params rp;
    cseg_rfm_params_init(&rp);
    long long secs;
    assert_int_equal(cseg_parse_datetime("1997-10-01", 10, NULL, &secs), 0);
    rp.as_of_day = secs / 86400; /* calibration to 1997-09-30 */
    rp.clv.enabled = 1;
    rp.clv.unit_days = 7;
    rp.clv.n_threads = n_threads;
    assert_int_equal(cseg_rfm_compute(&c, txn, &roles, &rp, NULL, &d), 0);
    cseg_table_free(txn);
    *clv = rp.clv;
    return c;
}

static void test_cdnow(void **state)
{
    (void)state;
#ifndef CLV_HAVE_CDNOW
    skip();
#else
    if (access(CSEG_SOURCE_DIR "/data/cdnow_master.csv.gz", R_OK) != 0) {
        print_message("skipped: data/cdnow_master.csv.gz is absent\n");
        skip();
    }
    cseg_clv_params p1, p2;
    cseg_table *c = cdnow_summary(1, &p1);
    size_t n = cseg_table_n_rows(c);
    assert_int_equal(n, CDNOW_N);
    const double *x = cseg_table_numbers(c, (size_t)cseg_table_find(c, CSEG_CLV_COL_FREQUENCY));
    const double *tx = cseg_table_numbers(c, (size_t)cseg_table_find(c, CSEG_CLV_COL_RECENCY));
    const double *T = cseg_table_numbers(c, (size_t)cseg_table_find(c, CSEG_CLV_COL_T));
    const double *m = cseg_table_numbers(c, (size_t)cseg_table_find(c, CSEG_CLV_COL_MONETARY));
    double sx = 0, stx = 0, sT = 0, sm = 0;
    size_t rep = 0;
    for (size_t i = 0; i < n; i++) {
        sx += x[i];
        stx += tx[i];
        sT += T[i];
        sm += m[i];
        rep += x[i] > 0;
    }
    assert_int_equal((long)sx, CDNOW_SUM_X);
    assert_int_equal(rep, CDNOW_N_REPEAT);
    assert_rel(stx, cdnow_sums[0], 1e-12);
    assert_rel(sT, cdnow_sums[1], 1e-12);
    assert_rel(sm, cdnow_sums[2], 1e-9);

    cseg_diag d;
    assert_int_equal(cseg_clv_fit_table(&p1, c, &d), 0);
    assert_int_equal(p1.bgnbd.status, CSEG_CLV_CONVERGED);
    assert_int_equal(p1.gamma_gamma.status, CSEG_CLV_CONVERGED);
    for (int j = 0; j < 4; j++)
        assert_rel(p1.bgnbd.param[j], cdnow_bgnbd[j], 1e-6);
    for (int j = 0; j < 3; j++)
        assert_rel(p1.gamma_gamma.param[j], cdnow_gg[j], 1e-6);
    assert_rel(p1.bgnbd.loglik, cdnow_bgnbd_ll[0], 1e-9);
    assert_rel(p1.gamma_gamma.loglik, cdnow_gg_ll[0], 1e-9);
    for (int j = 0; j < 4; j++)
        assert_true(p1.bgnbd.se[j] > 0 && p1.bgnbd.se[j] < p1.bgnbd.param[j]);
    /* the same fit, bit for bit, on two threads */
    cseg_table *c2 = cdnow_summary(2, &p2);
    assert_int_equal(cseg_clv_fit_table(&p2, c2, &d), 0);
    assert_memory_equal(p1.bgnbd.param, p2.bgnbd.param, sizeof p1.bgnbd.param);
    assert_memory_equal(p1.gamma_gamma.param, p2.gamma_gamma.param, sizeof p1.bgnbd.param);

    /* the predictions of one customer, from the fitted models */
    double one[4], pred[4];
    memcpy(one, cdnow_customer, sizeof one);
    p1.horizon_months = 12;
    p1.discount = 0.01;
    cseg_bgnbd_p_alive(p1.bgnbd.param, one, one + 1, one + 2, 1, pred);
    cseg_bgnbd_expected(p1.bgnbd.param, 39, one, one + 1, one + 2, 1, pred + 1);
    cseg_gammagamma_expected(p1.gamma_gamma.param, one, one + 3, 1, pred + 2);
    assert_int_equal(cseg_clv_value(&p1, one, one + 1, one + 2, one + 3, 1, pred + 3), 0);
    for (int j = 0; j < 4; j++)
        assert_rel(pred[j], cdnow_predictions[j], 2e-4);

    /* the holdout check: BG/NBD on the calibration period against the next 39 weeks */
    {
        const char *path = CSEG_SOURCE_DIR "/data/cdnow_master.csv.gz";
        cseg_txn_roles roles;
        memset(&roles, 0, sizeof roles);
        cseg_table *txn;
        assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), 0);
        cseg_rfm_params rp;
        cseg_rfm_params_init(&rp);
        rp.clv.unit_days = 7;
        long long cal, hold;
        assert_int_equal(cseg_parse_datetime("1997-09-30", 10, NULL, &cal), 0);
        assert_int_equal(cseg_parse_datetime("1998-06-30", 10, NULL, &hold), 0);
        cseg_clv_check chk;
        assert_int_equal(
            cseg_clv_check_holdout(&chk, txn, &roles, &rp, cal / 86400, CSEG_DAY_AUTO, &d), 0);
        assert_int_equal(chk.holdout_end, hold / 86400);
        assert_int_equal(chk.n, CDNOW_N);
        assert_rel(chk.duration, 39, 1e-12);
        assert_rel(chk.actual_all, cdnow_holdout[0], 1e-12);
        assert_rel(chk.predicted_all, cdnow_holdout[1], 1e-6);
        size_t sum = 0;
        for (int g = 0; g < CSEG_CLV_CHECK_GROUPS; g++)
            sum += chk.customers[g];
        assert_int_equal(sum, CDNOW_N);
        /* a calibration end after the holdout's is refused */
        assert_int_equal(
            cseg_clv_check_holdout(&chk, txn, &roles, &rp, hold / 86400 + 5, CSEG_DAY_AUTO, &d),
            CSEG_EINVAL);
        cseg_table_free(txn);
    }
    /* the columns in a table, then the same through cseg_rfm_compute with the fit */
    assert_int_equal(cseg_clv_add_columns(c, &p1, &d), 0);
    assert_true(cseg_table_find(c, CSEG_CLV_COL_CLV) >= 0);
    cseg_table_free(c);
    cseg_table_free(c2);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loglik),        cmocka_unit_test(test_predictions),
        cmocka_unit_test(test_bad_summaries), cmocka_unit_test(test_not_converged),
        cmocka_unit_test(test_hard_cases),
        cmocka_unit_test(test_cdnow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
