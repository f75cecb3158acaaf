/* Tests for transaction cleaning and the customer features (RFM and more). */
#include <math.h>

#include "util.h"
#include "../src/features/internal.h"

static const char *LOG =
    "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
    "1001,A,2,2020-01-01 10:00:00,5.0,1.0\n"
    "1001,B,1,2020-01-01 10:00:00,3.0,1.0\n"
    "1001,B,1,2020-01-01 10:00:00,3.0,1.0\n"   /* exact duplicate */
    "1002,A,1,2020-01-10 09:00:00,5.0,1\n"
    "C1003,A,-1,2020-01-12 09:00:00,5.0,1\n"   /* return */
    "1004,C,10,2020-01-05 12:00:00,1.0,2\n"
    "1005,C,1,2020-01-06 12:00:00,0,2\n"       /* price 0 */
    "1006,C,4,2020-01-06 12:00:00,2.5,\n"      /* no customer */
    "C1007,C,-20,2020-01-07 12:00:00,1.0,3\n"  /* customer with only a return */
    "1008,D,1,2020-01-20 12:00:00,100,4\n"
    "C1009,D,-2,2020-01-15 00:00:00,100,4\n";  /* returns more than bought: net < 0 */

static double feat(const cseg_table *t, const char *name, size_t row)
{
    long j = cseg_table_find(t, name);
    assert_true(j >= 0);
    return cseg_table_numbers(t, (size_t)j)[row];
}

static const char *id_of(const cseg_table *t, size_t row)
{
    return cseg_table_level(t, 0, cseg_table_codes(t, 0)[row]);
}

static cseg_table *compute(const char *text, const cseg_rfm_params *p, cseg_quality *q, int *rc)
{
    const char *path = tmp_text(0, text);
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn, *cust = NULL;
    cseg_diag d;
    *rc = cseg_txn_read(&txn, path, &roles, NULL, &d);
    if (*rc == 0) {
        *rc = cseg_rfm_compute(&cust, txn, &roles, p, q, &d);
        cseg_table_free(txn);
    }
    unlink(path);
    return cust;
}

static void test_hand_computed(void **state)
{
    (void)state;
    cseg_quality q;
    int rc;
    cseg_table *c = compute(LOG, NULL, &q, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(q.n_rows, 11);
    assert_int_equal(q.n_no_customer, 1);
    assert_int_equal(q.n_duplicates, 1);
    assert_int_equal(q.n_bad_price, 1);
    assert_int_equal(q.n_purchase_rows, 5);
    assert_int_equal(q.n_return_rows, 3);
    assert_int_equal(q.n_cancellations, 3);
    assert_int_equal(q.n_customers, 3);
    assert_int_equal(q.n_return_only, 1);
    assert_true(q.gross_revenue == 128);
    assert_true(q.returned_value == 225);
    char day[16];
    cseg_format_date(q.as_of_day, day, sizeof day);
    assert_string_equal(day, "2020-01-21");
    assert_int_equal(cseg_table_n_rows(c), 3);
    assert_string_equal(id_of(c, 0), "1");
    assert_string_equal(id_of(c, 1), "2");
    assert_string_equal(id_of(c, 2), "4");
    /* customer 1 */
    assert_true(feat(c, "recency_days", 0) == 11);
    assert_true(feat(c, "frequency", 0) == 2);
    assert_true(feat(c, "monetary", 0) == 13);
    assert_true(feat(c, "tenure_days", 0) == 20);
    assert_true(feat(c, "avg_order_value", 0) == 9);
    assert_true(feat(c, "spend_90d", 0) == 13);
    assert_true(feat(c, "n_products", 0) == 2);
    assert_rel(feat(c, "return_rate", 0), 5.0 / 18.0, 1e-15);
    /* customer 4: net spend is negative, and finite */
    assert_true(feat(c, "monetary", 2) == -100);
    assert_true(feat(c, "recency_days", 2) == 1);
    assert_true(feat(c, "return_rate", 2) == 2);
    /* scores: 1 + floor(5 * worse / n) */
    assert_true(feat(c, "r_score", 0) == 2 && feat(c, "r_score", 1) == 1 && feat(c, "r_score", 2) == 4);
    assert_true(feat(c, "f_score", 0) == 4 && feat(c, "f_score", 1) == 1 && feat(c, "f_score", 2) == 1);
    assert_true(feat(c, "m_score", 0) == 4 && feat(c, "m_score", 1) == 2 && feat(c, "m_score", 2) == 1);
    long jc = cseg_table_find(c, "rfm_code");
    assert_string_equal(cseg_table_level(c, (size_t)jc, cseg_table_codes(c, (size_t)jc)[0]), "244");
    assert_string_equal(cseg_table_level(c, (size_t)jc, cseg_table_codes(c, (size_t)jc)[2]), "411");
    cseg_table_free(c);
}

static void test_as_of_and_window(void **state)
{
    (void)state;
    cseg_rfm_params p;
    cseg_rfm_params_init(&p);
    long long t;
    assert_int_equal(cseg_parse_datetime("2020-01-11", 10, NULL, &t), 0);
    p.as_of_day = t / 86400;
    p.spend_window_days = 5;
    cseg_quality q;
    int rc;
    cseg_table *c = compute(LOG, &p, &q, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(q.n_after_as_of, 3);
    assert_int_equal(cseg_table_n_rows(c), 2); /* customer 4 bought after the analysis day */
    assert_true(feat(c, "recency_days", 0) == 1);
    /* the column names its window: spend_5d */
    assert_true(feat(c, "spend_5d", 0) == 5);
    assert_true(feat(c, "spend_5d", 1) == 0);
    assert_int_equal(cseg_table_find(c, "spend_90d"), -1);
    cseg_table_free(c);
    /* Keeping duplicates counts the repeated line. */
    cseg_rfm_params_init(&p);
    p.drop_duplicates = 0;
    c = compute(LOG, &p, &q, &rc);
    assert_int_equal(q.n_duplicates, 0);
    assert_true(feat(c, "monetary", 0) == 16);
    cseg_table_free(c);
}

static void test_roles_detection(void **state)
{
    (void)state;
    const char *hdr[] = {"Invoice", "StockCode", "Description", "Quantity", "InvoiceDate",
                         "Price", "Customer ID", "Country"};
    cseg_txn_roles r;
    memset(&r, 0, sizeof r);
    cseg_diag d;
    assert_int_equal(cseg_txn_roles_resolve(&r, hdr, 8, "x.csv", &d), 0);
    assert_string_equal(r.customer, "Customer ID");
    assert_string_equal(r.invoice, "Invoice");
    assert_string_equal(r.price, "Price");
    assert_string_equal(r.product, "StockCode");
    const char *cd[] = {"customer_id", "date", "number_of_cds", "dollar_value"};
    memset(&r, 0, sizeof r);
    assert_int_equal(cseg_txn_roles_resolve(&r, cd, 4, "cd.csv", &d), 0);
    assert_string_equal(r.amount, "dollar_value");
    assert_string_equal(r.date, "date");
    const char *none[] = {"a", "b"};
    memset(&r, 0, sizeof r);
    assert_int_equal(cseg_txn_roles_resolve(&r, none, 2, "n.csv", &d), CSEG_ENOCOL);
    assert_non_null(strstr(d.msg, "customer id"));
    const char *noprice[] = {"CustomerID", "InvoiceDate", "Quantity"};
    memset(&r, 0, sizeof r);
    assert_int_equal(cseg_txn_roles_resolve(&r, noprice, 3, "p.csv", &d), CSEG_ENOCOL);
    assert_non_null(strstr(d.msg, "amount"));
    memset(&r, 0, sizeof r);
    strcpy(r.customer, "Client");
    assert_int_equal(cseg_txn_roles_resolve(&r, hdr, 8, "x.csv", &d), CSEG_ENOCOL);
    assert_string_equal(d.msg, "the customer column \"Client\" is not in the header");
}

/* The output columns in order, spelled out: the CSEG_RFM_COL_* names that
 * other modules look columns up by must be the documented ones. */
static void test_column_names(void **state)
{
    (void)state;
    static const char *const want[] = {"customer_id", "recency_days",    "frequency", "monetary",
                                       "tenure_days", "avg_order_value", "spend_90d", "n_products",
                                       "return_rate", "r_score",         "f_score",   "m_score",
                                       "rfm_code"};
    char spend[32];
    snprintf(spend, sizeof spend, CSEG_RFM_COL_SPEND_FORMAT, 90);
    const char *const names[] = {CSEG_RFM_COL_CUSTOMER_ID,
                                 CSEG_RFM_COL_RECENCY,
                                 CSEG_RFM_COL_FREQUENCY,
                                 CSEG_RFM_COL_MONETARY,
                                 CSEG_RFM_COL_TENURE,
                                 CSEG_RFM_COL_AOV,
                                 spend,
                                 CSEG_RFM_COL_N_PRODUCTS,
                                 CSEG_RFM_COL_RETURN_RATE,
                                 CSEG_RFM_COL_R_SCORE,
                                 CSEG_RFM_COL_F_SCORE,
                                 CSEG_RFM_COL_M_SCORE,
                                 CSEG_RFM_COL_CODE};
    int rc;
    cseg_table *c = compute(LOG, NULL, NULL, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cseg_table_n_cols(c), sizeof want / sizeof want[0]);
    for (size_t j = 0; j < sizeof want / sizeof want[0]; j++) {
        assert_string_equal(cseg_table_col_name(c, j), want[j]);
        assert_string_equal(names[j], want[j]);
    }
    cseg_table_free(c);
}

/* One list of customer id names for two contexts: "client" names a log's
 * customer but not a table's id, "id" the other way round; a log takes the
 * first name of the list that its header has, not the first column. */
static void test_customer_id_names(void **state)
{
    (void)state;
    static const char *const both[] = {"CustomerID", "Customer ID", "customer_id", "CUSTOMER",
                                       "Cust-ID", "ClientID", "Member ID", "user_id",
                                       "Customer No.", "CustomerNumber", "customer code"};
    for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
        assert_int_equal(cseg_is_customer_id_name(both[i], CSEG_ID_IN_LOG), 1);
        assert_int_equal(cseg_is_customer_id_name(both[i], CSEG_ID_IN_TABLE), 1);
    }
    assert_int_equal(cseg_is_customer_id_name("Client", CSEG_ID_IN_LOG), 1);
    assert_int_equal(cseg_is_customer_id_name("Client", CSEG_ID_IN_TABLE), 0);
    assert_int_equal(cseg_is_customer_id_name("ID", CSEG_ID_IN_LOG), 0);
    assert_int_equal(cseg_is_customer_id_name("ID", CSEG_ID_IN_TABLE), 1);
    static const char *const neither[] = {"", "Client Ref", "customers", "idx", "Genre"};
    for (size_t i = 0; i < sizeof neither / sizeof neither[0]; i++) {
        assert_int_equal(cseg_is_customer_id_name(neither[i], CSEG_ID_IN_LOG), 0);
        assert_int_equal(cseg_is_customer_id_name(neither[i], CSEG_ID_IN_TABLE), 0);
    }
    const char *hdr[] = {"Client", "Customer", "Date", "Amount", "CustomerID"};
    cseg_txn_roles r;
    cseg_diag d;
    memset(&r, 0, sizeof r);
    assert_int_equal(cseg_txn_roles_resolve(&r, hdr, 5, "x.csv", &d), 0);
    assert_string_equal(r.customer, "CustomerID");
    const char *only_id[] = {"ID", "Date", "Amount"};
    memset(&r, 0, sizeof r);
    assert_int_equal(cseg_txn_roles_resolve(&r, only_id, 3, "x.csv", &d), CSEG_ENOCOL);
    const char *client[] = {"ID", "Client", "Date", "Amount"};
    memset(&r, 0, sizeof r);
    assert_int_equal(cseg_txn_roles_resolve(&r, client, 4, "x.csv", &d), 0);
    assert_string_equal(r.customer, "Client");
}

static void test_amount_mode_and_ties(void **state)
{
    (void)state;
    /* CDNOW-like: zero-padded ids, YYYYMMDD dates, an amount column; everyone ties. */
    cseg_quality q;
    int rc;
    cseg_table *c = compute("customer_id,date,number_of_cds,dollar_value\n"
                            "00002,19970101,1,10.0\n00010,19970101,1,10.0\n"
                            "00001,19970101,1,10.0\n00003,19970102,1,0\n",
                            NULL, &q, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(q.n_bad_price, 1);
    assert_int_equal(cseg_table_n_rows(c), 3);
    assert_string_equal(id_of(c, 0), "00001");
    assert_string_equal(id_of(c, 2), "00010");
    for (size_t i = 0; i < 3; i++) {
        assert_true(feat(c, "r_score", i) == 1);
        assert_true(feat(c, "m_score", i) == 1);
        assert_true(feat(c, "frequency", i) == 1); /* rows, without an invoice column */
    }
    assert_int_equal(cseg_table_find(c, "n_products"), -1);
    cseg_table_free(c);
}

static void test_missing_invoice_and_product(void **state)
{
    (void)state;
    /* Found by the fuzz harness: a purchase row without an invoice number or
     * product must count as its own order, not index a dictionary at -1. */
    cseg_quality q;
    int rc;
    cseg_table *c = compute("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
                            ",A,1,2020-01-01,2,7\n,,1,2020-01-02,2,7\n9,A,1,2020-01-03,2,7\n",
                            NULL, &q, &rc);
    assert_int_equal(rc, 0);
    assert_true(feat(c, "frequency", 0) == 3);
    assert_true(feat(c, "n_products", 0) == 1);
    cseg_table_free(c);
}

static void test_empty_results(void **state)
{
    (void)state;
    cseg_quality q;
    int rc;
    cseg_table *c = compute("CustomerID,InvoiceDate,Quantity,UnitPrice,InvoiceNo\n"
                            "1,2020-01-01,-1,2.0,C1\n",
                            NULL, &q, &rc);
    assert_int_equal(rc, CSEG_EEMPTY);
    assert_null(c);
    c = compute("CustomerID,InvoiceDate,Quantity,UnitPrice\n", NULL, &q, &rc);
    assert_int_equal(rc, CSEG_EEMPTY);
    const char *path = tmp_text(1, "CustomerID,InvoiceDate,Quantity,UnitPrice\n1,2020-01-01,x,1\n");
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn;
    cseg_diag d;
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), CSEG_EPARSE);
    assert_string_equal(d.msg, "expected a number in column \"Quantity\", got \"x\"");
    assert_int_equal(d.line, 2);
    assert_int_equal(d.col, 14);
    unlink(path);
}

/* Issue 16.5: a value or a sum beyond the double range is a data error that
 * names the line, never an empty feature. */
static void test_overflow(void **state)
{
    (void)state;
    const char *path = tmp_text(1, "CustomerID,InvoiceDate,Quantity,UnitPrice\n"
                                   "1,2020-01-01,2,3\n2,2020-01-02,1e308,10\n");
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn, *cust = NULL;
    cseg_diag d;
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), 0);
    assert_int_equal(cseg_rfm_compute(&cust, txn, &roles, NULL, NULL, &d), CSEG_ERANGE);
    assert_null(cust);
    assert_int_equal(d.line, 3);
    assert_string_equal(d.msg, "quantity x price is beyond the range of numbers (1e+308 x 10)");
    cseg_table_free(txn);
    /* Each value is fine; their sum is not. */
    path = tmp_text(1, "CustomerID,InvoiceDate,Quantity,UnitPrice\n"
                       "1,2020-01-01,1,1.5e308\n2,2020-01-02,1,1e308\n");
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), 0);
    assert_int_equal(cseg_rfm_compute(&cust, txn, &roles, NULL, NULL, &d), CSEG_ERANGE);
    assert_int_equal(d.line, 3);
    assert_string_equal(d.msg, "the total of the purchases is beyond the range of numbers");
    cseg_table_free(txn);
    /* A number that does not fit a double, in a column whose type is inferred. */
    path = tmp_text(1, "CustomerID,InvoiceDate,Quantity,UnitPrice\n"
                       "1,2020-01-01,1,2\n2,2020-01-02,1e309,1\n");
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), CSEG_ERANGE);
    assert_int_equal(d.line, 3);
    assert_int_equal(d.col, 14);
    assert_string_equal(d.msg, "number in column \"Quantity\" is beyond the range of numbers "
                               "(about 1.8e308), got \"1e309\"");
    unlink(path);
}

#if __has_include("reference/fixtures_retail.h")
#include "reference/fixtures_retail.h"
#define HAVE_RETAIL 1
#endif

/* The bundled Online Retail log, or the test skipped with a message. */
static const char *retail_log(void)
{
    static const char path[] = CSEG_SOURCE_DIR "/data/online_retail.csv.gz";
    if (access(path, R_OK) != 0) {
        print_message("skipped: %s is absent\n", path);
        skip();
    }
    return path;
}

static void test_online_retail(void **state)
{
    (void)state;
#ifndef HAVE_RETAIL
    skip();
#else
    const char *path = retail_log();
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn, *c;
    cseg_diag d;
    cseg_quality q;
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), 0);
    assert_int_equal(cseg_rfm_compute(&c, txn, &roles, NULL, &q, &d), 0);
    cseg_table_free(txn);
    assert_int_equal(q.n_rows, RETAIL_N_ROWS);
    assert_int_equal(q.n_no_customer, RETAIL_N_NO_CUSTOMER);
    assert_int_equal(q.n_duplicates, RETAIL_N_DUPLICATES);
    assert_int_equal(q.n_bad_price, RETAIL_N_BAD_PRICE);
    assert_int_equal(q.n_purchase_rows, RETAIL_N_PURCHASE_ROWS);
    assert_int_equal(q.n_return_rows, RETAIL_N_RETURN_ROWS);
    assert_int_equal(q.n_cancellations, RETAIL_N_CANCELLATIONS);
    assert_int_equal(q.n_customers, RETAIL_N_CUSTOMERS);
    assert_int_equal(q.n_return_only, RETAIL_N_RETURN_ONLY);
    assert_int_equal(q.as_of_day, RETAIL_AS_OF_DAY);
    assert_int_equal(q.last_day, RETAIL_LAST_DAY);
    assert_true(q.gross_revenue == RETAIL_GROSS_REVENUE);
    assert_true(q.returned_value == RETAIL_RETURNED_VALUE);
    size_t n = cseg_table_n_rows(c);
    assert_int_equal(n, RETAIL_N_CUSTOMERS);
    double sr = 0, sf = 0, sm = 0;
    size_t rc_[5] = {0}, fc[5] = {0}, mc[5] = {0};
    for (size_t i = 0; i < n; i++) {
        sr += feat(c, "recency_days", i);
        sf += feat(c, "frequency", i);
        sm += feat(c, "monetary", i);
        rc_[(int)feat(c, "r_score", i) - 1]++;
        fc[(int)feat(c, "f_score", i) - 1]++;
        mc[(int)feat(c, "m_score", i) - 1]++;
    }
    assert_true(sr == RETAIL_SUM_RECENCY);
    assert_true(sf == RETAIL_SUM_FREQUENCY);
    assert_rel(sm, RETAIL_SUM_MONETARY, 1e-12);
    for (int s = 0; s < 5; s++) {
        assert_int_equal(rc_[s], RETAIL_R_SCORE_COUNTS[s]);
        assert_int_equal(fc[s], RETAIL_F_SCORE_COUNTS[s]);
        assert_int_equal(mc[s], RETAIL_M_SCORE_COUNTS[s]);
    }
    for (size_t k = 0; k < N_RETAIL_CUSTOMERS; k++) {
        const retail_customer *r = &RETAIL_CUSTOMERS[k];
        size_t i = 0;
        while (i < n && strcmp(id_of(c, i), r->customer_id) != 0)
            i++;
        if (i == n)
            fail_msg("customer %s missing", r->customer_id);
        assert_true(feat(c, "recency_days", i) == r->recency_days);
        assert_true(feat(c, "frequency", i) == r->frequency);
        /* Money to the cent, exactly (issue 15.3): the reference sums exactly
         * (fsum) and rounds in decimal; we sum with compensation and round. */
#define CLOSE(a, b) assert_true(fabs((a) - (b)) <= 1e-9 * fmax(1, fabs(b)))
        assert_true(feat(c, "monetary", i) == r->monetary);
        assert_true(feat(c, "tenure_days", i) == r->tenure_days);
        assert_true(feat(c, "avg_order_value", i) == r->avg_order_value);
        assert_true(feat(c, "spend_90d", i) == r->spend_90d);
        assert_true(feat(c, "n_products", i) == r->n_products);
        CLOSE(feat(c, "return_rate", i), r->return_rate);
        assert_true(feat(c, "r_score", i) == r->r_score);
        assert_true(feat(c, "f_score", i) == r->f_score);
        assert_true(feat(c, "m_score", i) == r->m_score);
    }
    cseg_table_free(c);
#endif
}

/* Issue 15.6: customer attributes carried from the log: the most frequent
 * value among kept rows, ties to the latest row; errors for bad names. */
static void test_attributes(void **state)
{
    (void)state;
    const char *path = tmp_text(2, "CustomerID,InvoiceDate,Amount,Country,Channel\n"
                                   "1,2024-01-01,10,FR,web\n"
                                   "1,2024-01-03,10,DE,shop\n"
                                   "1,2024-01-02,10,FR,shop\n"
                                   "2,2024-01-05,10,DE,web\n"
                                   "2,2024-01-04,10,FR,\n"
                                   "3,2024-01-01,10,,\n"
                                   "3,2024-01-02,-5,UK,web\n"
                                   "4,2024-01-01,10,IT,web\n"
                                   "4,2024-01-01,10,ES,web\n"
                                   "5,2024-01-06,-3,NL,web\n");
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    roles.n_attributes = 2;
    strcpy(roles.attributes[0], "Country");
    strcpy(roles.attributes[1], "Channel");
    cseg_table *txn = NULL, *cust = NULL;
    cseg_diag d;
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), 0);
    assert_int_equal(cseg_rfm_compute(&cust, txn, &roles, NULL, NULL, &d), 0);
    assert_int_equal(cseg_table_n_rows(cust), 4); /* 5 has only a return */
    long jc = cseg_table_find(cust, "Country"), jh = cseg_table_find(cust, "Channel");
    assert_int_equal(jc, (long)cseg_table_n_cols(cust) - 2); /* after rfm_code */
    const int32_t *cc = cseg_table_codes(cust, (size_t)jc), *ch = cseg_table_codes(cust, (size_t)jh);
    /* 1: FR twice; DE once. Channel: shop twice. */
    assert_string_equal(cseg_table_level(cust, (size_t)jc, cc[0]), "FR");
    assert_string_equal(cseg_table_level(cust, (size_t)jh, ch[0]), "shop");
    /* 2: DE and FR once each: DE is the later row. Channel: web (the other is missing). */
    assert_string_equal(cseg_table_level(cust, (size_t)jc, cc[1]), "DE");
    assert_string_equal(cseg_table_level(cust, (size_t)jh, ch[1]), "web");
    /* 3: the return row counts (a kept row): UK; its purchase row has none. */
    assert_string_equal(cseg_table_level(cust, (size_t)jc, cc[2]), "UK");
    /* 4: same day, same count: the later row in the log. */
    assert_string_equal(cseg_table_level(cust, (size_t)jc, cc[3]), "ES");
    cseg_table_free(cust);
    cseg_table_free(txn);

    /* Errors: absent, a role column, twice, a feature name. */
    static const struct {
        const char *name, *msg;
    } bad[] = {{"Region", "the attribute column \"Region\" is not in the header"},
               {"Amount", "column \"Amount\" is the amount column; it cannot be an attribute"},
               {"monetary", "has the name of a customer feature"}};
    for (size_t b = 0; b < 3; b++) {
        const char *p2 = tmp_text(3, "CustomerID,InvoiceDate,Amount,monetary\n1,2024-01-01,10,x\n");
        memset(&roles, 0, sizeof roles);
        roles.n_attributes = 1;
        strcpy(roles.attributes[0], bad[b].name);
        txn = NULL;
        assert_true(cseg_txn_read(&txn, p2, &roles, NULL, &d) < 0);
        assert_null(txn);
        if (!strstr(d.msg, bad[b].msg))
            fail_msg("%s: %s", bad[b].name, d.msg);
    }
    memset(&roles, 0, sizeof roles);
    roles.n_attributes = 2;
    strcpy(roles.attributes[0], "Country");
    strcpy(roles.attributes[1], "Country");
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), CSEG_EINVAL);
    assert_non_null(strstr(d.msg, "given twice"));
}

/* Score edges: on their own population they give every customer its score;
 * on another log they score by the training classes, not by that log's ranks. */
static void test_score_edges(void **state)
{
    (void)state;
    const char *path = CSEG_SOURCE_DIR "/tests/data/txn_small.csv";
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn = NULL, *cust = NULL, *again = NULL;
    cseg_diag d;
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d), 0);
    assert_int_equal(cseg_rfm_compute(&cust, txn, &roles, NULL, NULL, &d), 0);
    cseg_rfm_edges e;
    assert_int_equal(cseg_rfm_score_edges(cust, &e), 0);
    for (int q = 1; q < 4; q++) {
        assert_true(e.recency_hi[q] <= e.recency_hi[q - 1]);
        assert_true(e.monetary_lo[q] >= e.monetary_lo[q - 1]);
    }
    cseg_rfm_params p;
    cseg_rfm_params_init(&p);
    p.has_edges = 1;
    p.edges = e;
    assert_int_equal(cseg_rfm_compute(&again, txn, &roles, &p, NULL, &d), 0);
    static const char *const sc[] = {"r_score", "f_score", "m_score", "rfm_code"};
    for (int k = 0; k < 3; k++) {
        const double *a = cseg_table_numbers(cust, (size_t)cseg_table_find(cust, sc[k]));
        const double *b = cseg_table_numbers(again, (size_t)cseg_table_find(again, sc[k]));
        for (size_t i = 0; i < cseg_table_n_rows(cust); i++)
            assert_true(a[i] == b[i]);
    }
    cseg_table_free(again);
    /* Edges of a made-up population: every customer of this log scores 5 in M
     * (all spent at least 1) and 1 in F (nobody reaches 10000 orders). */
    for (int q = 0; q < 4; q++) {
        p.edges.monetary_lo[q] = -1e9;
        p.edges.frequency_lo[q] = 10000;
    }
    assert_int_equal(cseg_rfm_compute(&again, txn, &roles, &p, NULL, &d), 0);
    const double *m = cseg_table_numbers(again, (size_t)cseg_table_find(again, "m_score"));
    const double *f = cseg_table_numbers(again, (size_t)cseg_table_find(again, "f_score"));
    for (size_t i = 0; i < cseg_table_n_rows(again); i++) {
        assert_true(m[i] == 5);
        assert_true(f[i] == 1);
    }
    cseg_table_free(again);
    cseg_table_free(cust);
    cseg_table_free(txn);
}


/* ---- the log read a chunk at a time (cseg_rfm_compute_csv) ---- */

/* Roles detected from the header, with Country carried; default parameters. */
static void country_roles(cseg_txn_roles *roles, cseg_rfm_params *p)
{
    memset(roles, 0, sizeof *roles);
    roles->n_attributes = 1;
    strcpy(roles->attributes[0], "Country");
    cseg_rfm_params_init(p);
}

/* The same table, bit for bit: names, numbers (their bits) and text. */
static void assert_same_table(const cseg_table *a, const cseg_table *b)
{
    size_t n = cseg_table_n_rows(a), nc = cseg_table_n_cols(a);
    assert_int_equal(cseg_table_n_rows(b), n);
    assert_int_equal(cseg_table_n_cols(b), nc);
    for (size_t j = 0; j < nc; j++) {
        assert_string_equal(cseg_table_col_name(a, j), cseg_table_col_name(b, j));
        assert_int_equal(cseg_table_col_type(a, j), cseg_table_col_type(b, j));
        if (cseg_table_col_type(a, j) == CSEG_COL_NUMBER) {
            if (memcmp(cseg_table_numbers(a, j), cseg_table_numbers(b, j), n * sizeof(double)))
                fail_msg("column %s differs", cseg_table_col_name(a, j));
            continue;
        }
        assert_int_equal(cseg_table_n_levels(a, j), cseg_table_n_levels(b, j));
        const int32_t *ca = cseg_table_codes(a, j), *cb = cseg_table_codes(b, j);
        for (size_t i = 0; i < n; i++) {
            const char *x = ca[i] < 0 ? "(none)" : cseg_table_level(a, j, ca[i]);
            const char *y = cb[i] < 0 ? "(none)" : cseg_table_level(b, j, cb[i]);
            if (strcmp(x, y))
                fail_msg("column %s row %zu: %s against %s", cseg_table_col_name(a, j), i, x, y);
        }
    }
}

static void assert_same_quality(const cseg_quality *a, const cseg_quality *b)
{
    assert_int_equal(a->n_rows, b->n_rows);
    assert_int_equal(a->n_no_customer, b->n_no_customer);
    assert_int_equal(a->n_duplicates, b->n_duplicates);
    assert_int_equal(a->n_incomplete, b->n_incomplete);
    assert_int_equal(a->n_bad_price, b->n_bad_price);
    assert_int_equal(a->n_after_as_of, b->n_after_as_of);
    assert_int_equal(a->n_purchase_rows, b->n_purchase_rows);
    assert_int_equal(a->n_return_rows, b->n_return_rows);
    assert_int_equal(a->n_cancellations, b->n_cancellations);
    assert_int_equal(a->n_customers, b->n_customers);
    assert_int_equal(a->n_return_only, b->n_return_only);
    assert_memory_equal(&a->gross_revenue, &b->gross_revenue, sizeof(double));
    assert_memory_equal(&a->returned_value, &b->returned_value, sizeof(double));
    assert_int_equal(a->first_day, b->first_day);
    assert_int_equal(a->last_day, b->last_day);
    assert_int_equal(a->as_of_day, b->as_of_day);
}

/* The log at path read whole and in chunks (a window of `window` rows for
 * duplicates, rows one by one when by_record) gives the same customers and
 * counts; returns how the chunked read went (1, or 2: read again). */
static int streamed_same(const char *path, const cseg_txn_roles *roles0, const cseg_rfm_params *p,
                         size_t window, int by_record)
{
    cseg_txn_roles r1 = *roles0, r2 = *roles0;
    cseg_table *txn = NULL, *whole = NULL, *chunked = NULL;
    cseg_quality q1, q2;
    cseg_diag d;
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.record_by_record = by_record;
    if (cseg_txn_read(&txn, path, &r1, &rp, &d) < 0 ||
        cseg_rfm_compute(&whole, txn, &r1, p, &q1, &d) < 0)
        fail_msg("whole: %s:%ld: %s", d.file, d.line, d.msg);
    int how = -1;
    if (cseg__rfm_compute_csv(&chunked, path, &r2, &rp, p, window, 0, &q2, &how, &d) < 0)
        fail_msg("chunked: %s:%ld: %s", d.file, d.line, d.msg);
    assert_same_table(whole, chunked);
    assert_same_quality(&q1, &q2);
    cseg_table_free(txn);
    cseg_table_free(whole);
    cseg_table_free(chunked);
    return how;
}

/* A log that exercises what a chunked reading must carry between chunks:
 * orders whose lines are spread (interleaved: gap lines of other orders
 * between an order's lines), exact duplicates `dist` rows after their
 * original, returns, rows without a customer, an invoice shared by two
 * customers, several days. */
static char *gen_log(size_t n, size_t gap, size_t dist, unsigned seed)
{
    char(*rows)[96] = malloc(n * sizeof *rows);
    char *s = malloc(n * sizeof *rows + 128);
    assert_non_null(rows);
    assert_non_null(s);
    size_t len = (size_t)sprintf(s, "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,"
                                    "CustomerID,Country\n");
    unsigned x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        unsigned r = x >> 8;
        size_t order = i / 8 + (gap && i % 2 ? gap : 0); /* odd lines: a later order's */
        int ret = r % 23 == 0, day = (int)(order / 40 % 300);
        char id[16] = "";
        if (r % 31 != 0) /* else no customer */
            snprintf(id, sizeof id, "%u",
                     order % 101 == 0 && i % 2 ? 77777u /* a shared invoice */
                                               : 12000u + (unsigned)(order * 2654435761u % 997));
        snprintf(rows[i], sizeof rows[i], "%s%zu,P%u,%d,2021-%02d-%02d %02d:%02d:00,%u.%02u,%s,%s\n",
                 ret ? "C" : "", 50000 + order, r % 61, ret ? -1 : (int)(1 + r % 5),
                 1 + day / 28 % 12, 1 + day % 28, 8 + (int)(order % 10), (int)(order % 60),
                 r % 20, r % 100, id, r % 3 ? "FR" : "DE");
        if (dist && i >= dist && r % 17 == 0) /* an exact duplicate of an earlier row */
            memcpy(rows[i], rows[i - dist], sizeof rows[i]);
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(rows[i]);
        memcpy(s + len, rows[i], l);
        len += l;
    }
    s[len] = 0;
    free(rows);
    return s;
}

struct told {
    size_t calls;
    uint64_t done, total;
    size_t stop_at; /* answer nonzero at this call (0: never) */
    int backwards;
};

static int told_fn(uint64_t done, uint64_t total, void *user)
{
    struct told *t = user;
    t->backwards |= done < t->done;
    t->done = done;
    t->total = total;
    return ++t->calls == t->stop_at;
}

static void test_streamed(void **state)
{
    (void)state;
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_rfm_params p;
    cseg_rfm_params_init(&p);
    /* The hand-computed log: duplicates, returns, no customer, price 0. */
    const char *path = tmp_text(0, LOG);
    assert_int_equal(streamed_same(path, &roles, &p, 0, 0), 1);
    p.as_of_day = 18273; /* 2020-01-11: later rows left out, a window of 5 days */
    p.spend_window_days = 5;
    assert_int_equal(streamed_same(path, &roles, &p, 0, 0), 1);
    cseg_rfm_params_init(&p);
    p.drop_duplicates = 0;
    assert_int_equal(streamed_same(path, &roles, &p, 0, 0), 1);
    cseg_rfm_params_init(&p);
    unlink(path);

    /* The spend window's first day, reached after the last day was seen:
     * 2024-01-06 counts in a 5-day window before 2024-01-11. */
    path = tmp_text(0, "CustomerID,InvoiceDate,Amount\n1,2024-01-10,5\n2,2024-01-05,3\n"
                       "1,2024-01-06,7\n");
    p.spend_window_days = 5;
    assert_int_equal(streamed_same(path, &roles, &p, 0, 0), 1);
    int rc;
    cseg_table *w = compute("CustomerID,InvoiceDate,Amount\n1,2024-01-10,5\n2,2024-01-05,3\n"
                            "1,2024-01-06,7\n",
                            &p, NULL, &rc);
    assert_int_equal(rc, 0);
    assert_true(feat(w, "spend_5d", 0) == 12 && feat(w, "spend_5d", 1) == 0);
    cseg_table_free(w);
    cseg_rfm_params_init(&p);
    unlink(path);
    /* An invoice number two customers used: an order for each. */
    w = compute("InvoiceNo,CustomerID,InvoiceDate,Amount\n7,1,2024-01-01,5\n7,2,2024-01-01,3\n"
                "8,2,2024-01-02,1\n7,1,2024-01-03,2\n7,2,2024-01-03,2\n",
                &p, NULL, &rc);
    assert_int_equal(rc, 0);
    assert_true(feat(w, "frequency", 0) == 1 && feat(w, "frequency", 1) == 2);
    cseg_table_free(w);

    /* Generated logs, with attributes, rows one by one (chunks of 65,536). */
    roles.n_attributes = 1;
    strcpy(roles.attributes[0], "Country");
    char *text = gen_log(150000, 0, 1, 7); /* duplicates right after their original */
    path = tmp_text(1, text);
    free(text);
    assert_int_equal(streamed_same(path, &roles, &p, 64, 1), 1);
    assert_int_equal(streamed_same(path, &roles, &p, 0, 0), 1);
    /* Progress: told after each chunk, in order, of the file's size; a
     * nonzero answer stops the reading. */
    {
        struct told t = {0, 0, 0, 0, 0};
        cseg_table_read_params rp;
        cseg_table_read_params_init(&rp);
        rp.record_by_record = 1;
        rp.progress = told_fn;
        rp.progress_user = &t;
        cseg_txn_roles r2 = roles;
        cseg_table *cu = NULL;
        cseg_quality qq;
        cseg_diag dd;
        assert_int_equal(cseg__rfm_compute_csv(&cu, path, &r2, &rp, &p, 0, 0, &qq, NULL, &dd), 0);
        cseg_table_free(cu);
        assert_true(t.calls >= 3); /* 150,000 records: chunks of 65,536, and the end */
        assert_false(t.backwards);
        FILE *f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        assert_int_equal(t.total, (uint64_t)ftell(f));
        fclose(f);
        t = (struct told){0, 0, 0, 2, 0}; /* stop at the second call */
        r2 = roles;
        assert_int_equal(cseg__rfm_compute_csv(&cu, path, &r2, &rp, &p, 0, 0, &qq, NULL, &dd),
                         CSEG_ECANCELED);
        assert_string_equal(dd.msg, "reading canceled");
        assert_null(cu);
        assert_int_equal(t.calls, 2);
    }
    unlink(path);
    /* Orders split by others' lines, duplicates 700 rows on: within the
     * default window, read once; beyond a window of 256 rows, read again. */
    text = gen_log(150000, 3, 700, 11);
    path = tmp_text(1, text);
    free(text);
    assert_int_equal(streamed_same(path, &roles, &p, 0, 0), 1);
    assert_int_equal(streamed_same(path, &roles, &p, 256, 1), 2);
    p.spend_window_days = 30;
    assert_int_equal(streamed_same(path, &roles, &p, 256, 0), 2);
    unlink(path);

    /* Errors name the same line and column either way. */
    cseg_rfm_params_init(&p);
    memset(&roles, 0, sizeof roles);
    text = gen_log(100000, 0, 0, 3);
    char *bad = strstr(text + strlen(text) / 2, "\n") + 1;
    bad = strchr(bad, ',') + 1;
    bad = strchr(bad, ',') + 1; /* the quantity of a row after the middle */
    bad[0] = 'x';
    path = tmp_text(1, text);
    free(text);
    cseg_table *c = NULL, *txn = NULL;
    cseg_quality q;
    cseg_diag d1, d2;
    assert_int_equal(cseg_txn_read(&txn, path, &roles, NULL, &d1), CSEG_EPARSE);
    assert_int_equal(cseg__rfm_compute_csv(&c, path, &roles, NULL, &p, 0, 0, &q, NULL, &d2),
                     CSEG_EPARSE);
    assert_null(c);
    assert_true(d1.line > 50000);
    assert_int_equal(d1.line, d2.line);
    assert_int_equal(d1.col, d2.col);
    assert_string_equal(d1.msg, d2.msg);
    unlink(path);
    /* Lifetime value needs the rows. */
    p.clv.enabled = 1;
    path = tmp_text(0, LOG);
    assert_int_equal(cseg_rfm_compute_csv(&c, path, &roles, NULL, &p, &q, &d1), CSEG_EINVAL);
    assert_string_equal(d1.msg, "lifetime value needs every row: read the log with cseg_txn_read");
    unlink(path);
}

/* Online Retail in chunks: its one order split by another's lines is within
 * the window; everything equals the whole reading. */
static void test_streamed_retail(void **state)
{
    (void)state;
    const char *path = retail_log();
    cseg_txn_roles roles;
    cseg_rfm_params p;
    country_roles(&roles, &p);
    assert_int_equal(streamed_same(path, &roles, &p, 0, 0), 1);
}

/* ---- parts that merge (cseg__rfm_acc_part, cseg__rfm_assemble) ----
 * The log's lines split between np readers by customer id, as the MPI driver
 * splits them, each read as a log of its own and turned into a part; the parts
 * assembled must give the whole log's customers and counts, bit for bit. */
static void parts_same(const char *text, size_t np, const cseg_txn_roles *roles0,
                       const cseg_rfm_params *p)
{
    const char *path = tmp_text(0, text);
    cseg_txn_roles rw = *roles0;
    cseg_table *txn = NULL, *whole = NULL, *merged = NULL;
    cseg_quality q1, q2;
    cseg_diag d;
    if (cseg_txn_read(&txn, path, &rw, NULL, &d) < 0 ||
        cseg_rfm_compute(&whole, txn, &rw, p, &q1, &d) < 0)
        fail_msg("whole: %s:%ld: %s", d.file, d.line, d.msg);
    /* Split the data lines by a hash of the id (the 6th field). */
    const char *hdr_end = strchr(text, '\n') + 1;
    size_t hdr_len = (size_t)(hdr_end - text), total = strlen(text);
    char **pt = calloc(np, sizeof *pt);
    size_t *plen = calloc(np, sizeof *plen), *pn = calloc(np, sizeof *pn);
    int64_t **pl = calloc(np, sizeof *pl);
    assert_non_null(pt);
    for (size_t k = 0; k < np; k++) {
        assert_non_null(pt[k] = malloc(total));
        assert_non_null(pl[k] = malloc(total * sizeof **pl));
        memcpy(pt[k], text, hdr_len);
        plen[k] = hdr_len;
    }
    int64_t line = 2;
    for (const char *s = hdr_end; *s; line++) {
        const char *e = strchr(s, '\n');
        e = e ? e + 1 : s + strlen(s);
        const char *f = s;
        for (int c = 0; c < 5; c++)
            f = strchr(f, ',') + 1;
        uint64_t h = 1469598103934665603u;
        for (; *f != ',' && *f != '\n'; f++)
            h = (h ^ (unsigned char)*f) * 1099511628211u;
        size_t k = (size_t)(h % np);
        memcpy(pt[k] + plen[k], s, (size_t)(e - s));
        plen[k] += (size_t)(e - s);
        pl[k][pn[k]++] = line;
        s = e;
    }
    /* Each reader: its rows, its state, the latest day of all, its part. */
    cseg__rfm_acc **acc = calloc(np, sizeof *acc);
    cseg_table **t = calloc(np, sizeof *t);
    char **part = calloc(np, sizeof *part);
    size_t *len = calloc(np, sizeof *len);
    int64_t max_day = INT64_MIN;
    for (size_t k = 0; k < np; k++) {
        cseg_txn_roles rk = *roles0;
        const char *pp = tmp_file(1, pt[k], plen[k]);
        if (cseg_txn_read(&t[k], pp, &rk, NULL, &d) < 0 ||
            cseg__rfm_acc_table(&acc[k], t[k], &rk, p, &d) < 0)
            fail_msg("part %zu: %s:%ld: %s", k, d.file, d.line, d.msg);
        unlink(pp);
        int64_t m = cseg__rfm_acc_max_day(acc[k]);
        max_day = m > max_day ? m : max_day;
    }
    for (size_t k = 0; k < np; k++) {
        /* Each attribute level's key: the log's line of its first row here. */
        int64_t *key[CSEG_ATTRIBUTES_MAX];
        size_t n = cseg_table_n_rows(t[k]);
        for (size_t a = 0; a < rw.n_attributes; a++) {
            long j = cseg_table_find(t[k], rw.attributes[a]);
            size_t nl = cseg_table_n_levels(t[k], (size_t)j);
            assert_non_null(key[a] = malloc((nl ? nl : 1) * sizeof *key[a]));
            for (size_t l = 0; l < nl; l++)
                key[a][l] = INT64_MAX;
            const int32_t *lv = cseg_table_codes(t[k], (size_t)j);
            for (size_t i = 0; i < n; i++) {
                int64_t at = pl[k][cseg_table_row_line(t[k], i) - 2];
                if (lv[i] >= 0 && at < key[a][lv[i]])
                    key[a][lv[i]] = at;
            }
        }
        assert_int_equal(cseg__rfm_acc_part(acc[k], t[k], &rw, max_day,
                                            (const int64_t *const *)key, &part[k], &len[k], NULL,
                                            &d),
                         0);
        for (size_t a = 0; a < rw.n_attributes; a++)
            free(key[a]);
    }
    if (cseg__rfm_assemble((const char *const *)part, len, np, p, &rw, &merged, &q2, NULL, &d) < 0)
        fail_msg("assemble: %s", d.msg);
    assert_same_table(whole, merged);
    assert_same_quality(&q1, &q2);
    /* Text levels in the same order too (the log's order of first rows). */
    for (size_t j = 0; j < cseg_table_n_cols(whole); j++)
        if (cseg_table_col_type(whole, j) == CSEG_COL_TEXT)
            for (size_t l = 0; l < cseg_table_n_levels(whole, j); l++)
                assert_string_equal(cseg_table_level(whole, j, (int32_t)l),
                                    cseg_table_level(merged, j, (int32_t)l));
    /* A damaged part is refused, not read past its end. */
    if (np > 1 && len[1] > 40) {
        cseg_table *bad = NULL;
        size_t keep = len[1];
        len[1] = keep / 2;
        assert_int_equal(cseg__rfm_assemble((const char *const *)part, len, np, p, &rw, &bad, &q2,
                                            NULL, &d),
                         CSEG_EFORMAT);
        assert_null(bad);
        len[1] = keep;
    }
    for (size_t k = 0; k < np; k++) {
        free(pt[k]);
        free(pl[k]);
        free(part[k]);
        cseg_table_free(t[k]);
        cseg__rfm_acc_free(acc[k]);
    }
    free(pt), free(plen), free(pn), free(pl), free(acc), free(t), free(part), free(len);
    cseg_table_free(txn);
    cseg_table_free(whole);
    cseg_table_free(merged);
    unlink(path);
}

/* The R/F/M scores as they were computed before selection: every value
 * ranked (sorted with its index), ties sharing the score of their rank. */
typedef struct rankv {
    double v;
    size_t i;
} rankv;

static int cmp_rankv(const void *pa, const void *pb)
{
    const rankv *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static void scores_by_ranking(const double *v, size_t n, int higher_better, double *score)
{
    rankv r[300];
    for (size_t i = 0; i < n; i++)
        r[i] = (rankv){v[i], i};
    qsort(r, n, sizeof *r, cmp_rankv);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a; b < n && r[b].v == r[a].v; b++)
            ;
        size_t worse = higher_better ? a : n - b;
        for (size_t k = a; k < b; k++)
            score[r[k].i] = 1.0 + floor(5.0 * (double)worse / (double)n);
    }
}

/* R/F/M scores by selection equal the scores by ranking, on values with
 * many ties, nearly distinct values, infinities and -0.0 beside 0.0, for
 * every n from 1 to 300 and both directions; a NaN scores 1 and the others
 * are ranked among themselves. */
static void test_quintile_selection(void **state)
{
    (void)state;
    double v[300], a[300], b[300];
    uint64_t x = 88172645463325252ULL;
    for (size_t n = 1; n <= 300; n++) {
        for (int kind = 0; kind < 3; kind++) {
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                v[i] = kind == 0   ? (double)(x % 4)              /* few values, many ties */
                       : kind == 1 ? (double)(x % 1000003) * 0.37 /* nearly all distinct */
                                   : (double)((int)(x % 7) - 3);  /* with signs */
            }
            if (kind == 2 && n > 3) {
                v[0] = -0.0;
                v[1] = 0.0;
                v[2] = INFINITY;
                v[3] = -INFINITY;
            }
            for (int hb = 0; hb < 2; hb++) {
                assert_int_equal(cseg__quintile_scores(v, n, hb, a), 0);
                scores_by_ranking(v, n, hb, b);
                for (size_t i = 0; i < n; i++) {
                    assert_true(a[i] >= 1 && a[i] <= 5);
                    assert_true(a[i] == b[i]);
                }
            }
        }
    }
    double w[6] = {1, NAN, 3, 4, 5, 2}, kept[5] = {1, 3, 4, 5, 2};
    assert_int_equal(cseg__quintile_scores(w, 6, 1, a), 0);
    scores_by_ranking(kept, 5, 1, b);
    assert_true(a[1] == 1);
    assert_true(a[0] == b[0] && a[2] == b[1] && a[3] == b[2] && a[4] == b[3] && a[5] == b[4]);
    w[0] = w[2] = w[3] = w[4] = w[5] = NAN;
    assert_int_equal(cseg__quintile_scores(w, 6, 0, a), 0);
    for (size_t i = 0; i < 6; i++)
        assert_true(a[i] == 1);
}

static void test_parts(void **state)
{
    (void)state;
    cseg_txn_roles roles;
    cseg_rfm_params p;
    country_roles(&roles, &p);
    char *log = gen_log(20000, 3, 700, 5);
    for (size_t np = 1; np <= 5; np += 2)
        parts_same(log, np, &roles, &p);
    p.as_of_day = 18700; /* 2021-03-14: later rows left out, the window's end fixed */
    p.drop_duplicates = 0;
    p.spend_window_days = 30;
    parts_same(log, 4, &roles, &p);
    free(log);
    /* Countries first met in an order that no reader sees whole. */
    static const char *const tie_log =
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,A,1,2021-01-01 10:00:00,1.0,101,Peru\n"
        "2,A,1,2021-01-01 10:00:00,1.0,102,Chile\n"
        "3,A,1,2021-01-01 10:00:00,1.0,103,Oman\n"
        "4,A,1,2021-01-01 10:00:00,1.0,104,Fiji\n"
        "5,A,1,2021-01-01 10:00:00,1.0,105,Laos\n"
        "6,A,1,2021-01-01 10:00:00,1.0,106,Togo\n"
        "7,A,1,2021-01-02 10:00:00,1.0,101,Mali\n"
        "8,A,1,2021-01-02 10:00:00,1.0,106,Peru\n";
    cseg_rfm_params_init(&p);
    for (size_t np = 2; np <= 4; np++)
        parts_same(tie_log, np, &roles, &p);
    roles.n_attributes = 0;
    parts_same(LOG, 3, &roles, &p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_as_of_and_window),
        cmocka_unit_test(test_roles_detection),
        cmocka_unit_test(test_amount_mode_and_ties),
        cmocka_unit_test(test_empty_results),
        cmocka_unit_test(test_online_retail),
        cmocka_unit_test(test_missing_invoice_and_product),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_customer_id_names),
        cmocka_unit_test(test_column_names),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_score_edges),
        cmocka_unit_test(test_streamed),
        cmocka_unit_test(test_streamed_retail),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_quintile_selection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
