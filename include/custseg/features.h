/* custseg — transaction logs to customer features (cleaning + RFM).
 *
 * A transaction log has one row per order line. Its columns play roles
 * (customer, date, invoice, quantity, price, amount, product) given by name or
 * detected from common header names. cseg_rfm_compute cleans the log and
 * returns one row per customer with at least one purchase:
 *
 *   customer_id      the id, as text ("17850.0" is read as "17850")
 *   recency_days     as_of day minus the calendar day of the last purchase
 *   frequency        distinct purchase invoices (a purchase row without an invoice
 *                    number, or every row when there is no invoice column, counts once)
 *   monetary         net spend: purchases minus returns (may be negative)
 *   tenure_days      as_of day minus the calendar day of the first purchase
 *   avg_order_value  gross purchase spend / frequency
 *   spend_90d        net spend in the spend window before the as_of day (named
 *                    spend_{W}d for a window of W days)
 *   n_products       distinct products bought (only with a product column)
 *   return_rate      returned value / gross purchase value (0 without returns)
 *   r_score f_score m_score  quintile scores 1..5, 5 best (see cseg_rfm_compute)
 *   rfm_code         the three scores as text, e.g. "545"
 *   (attributes)     each roles->attributes column, as text (see cseg_txn_roles)
 *
 * Cleaning, in this order, each step counted in cseg_quality: rows without a
 * customer id are dropped; exact duplicate rows (every field equal) are
 * dropped, keeping the first; rows missing a date, quantity, price or amount
 * are dropped; rows with a price <= 0 (or an amount of 0) are dropped; rows
 * dated on or after the as_of day are left out. A row whose invoice starts with
 * 'C' (a cancellation) or whose quantity or amount is negative is a return:
 * its value, -|quantity x price|, reduces net spend, and it never counts as a
 * purchase.
 */
#ifndef CUSTSEG_FEATURES_H
#define CUSTSEG_FEATURES_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/clv.h"
#include "custseg/table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CSEG_DAY_AUTO INT64_MIN
#define CSEG_ROLE_NAME_MAX 256
#define CSEG_ATTRIBUTES_MAX 16

/* The names of the columns cseg_rfm_compute writes (listed above), for code
 * that looks them up in its output: each is spelled here only. */
#define CSEG_RFM_COL_CUSTOMER_ID "customer_id"
#define CSEG_RFM_COL_RECENCY "recency_days"
#define CSEG_RFM_COL_FREQUENCY "frequency"
#define CSEG_RFM_COL_MONETARY "monetary"
#define CSEG_RFM_COL_TENURE "tenure_days"
#define CSEG_RFM_COL_AOV "avg_order_value"
#define CSEG_RFM_COL_SPEND_FORMAT "spend_%dd" /* printf format of spend_{W}d, W in days */
#define CSEG_RFM_COL_N_PRODUCTS "n_products"
#define CSEG_RFM_COL_RETURN_RATE "return_rate"
#define CSEG_RFM_COL_R_SCORE "r_score"
#define CSEG_RFM_COL_F_SCORE "f_score"
#define CSEG_RFM_COL_M_SCORE "m_score"
#define CSEG_RFM_COL_CODE "rfm_code"

/* Column names per role; "" means "detect" (input) or "absent" (output). */
typedef struct cseg_txn_roles {
    char customer[CSEG_ROLE_NAME_MAX];
    char date[CSEG_ROLE_NAME_MAX];
    char invoice[CSEG_ROLE_NAME_MAX];
    char quantity[CSEG_ROLE_NAME_MAX];
    char price[CSEG_ROLE_NAME_MAX];
    char amount[CSEG_ROLE_NAME_MAX];
    char product[CSEG_ROLE_NAME_MAX];
    int no_detect; /* 1: an empty role is absent, not detected (as a saved model
                      means it); default 0 */
    /* Customer attributes: columns of the log (Country, channel, store) that
     * cseg_rfm_compute carries to the customer table as text columns of the
     * same name, after rfm_code: each customer's most frequent value among
     * the rows kept after cleaning (ties: the value of the latest such row;
     * missing values left out; a customer with none has none). */
    size_t n_attributes; /* 0..CSEG_ATTRIBUTES_MAX; default 0 */
    char attributes[CSEG_ATTRIBUTES_MAX][CSEG_ROLE_NAME_MAX];
} cseg_txn_roles;

/* The R, F and M score classes of a population as value edges. For F and M
 * (higher is better) a value v scores 1 + the number of s in 2..5 with
 * v >= lo[s - 2]; for R (fewer days is better) 1 + the number with
 * v <= hi[s - 2]. lo (hi) of a score no customer reached is +inf (-inf). On
 * the population they come from, the edges give every customer its score
 * (the scores grow with the values and ties share a score). */
typedef struct cseg_rfm_edges {
    double recency_hi[4], frequency_lo[4], monetary_lo[4];
} cseg_rfm_edges;

typedef struct cseg_rfm_params {
    int64_t as_of_day;     /* days since 1970-01-01; CSEG_DAY_AUTO (default): day after the last row */
    int spend_window_days; /* window of spend_{W}d; default 90 */
    int drop_duplicates;   /* default 1 */
    int money_decimals;    /* monetary, avg_order_value, spend_{W}d and the revenue totals are
                              summed exactly (compensated) and rounded to this many decimals,
                              the currency's minor unit; default 2; -1: not rounded (models
                              written before this setting) */
    /* Score edges of a training population (cseg_rfm_score_edges): when set,
     * a customer's scores come from them instead of from the customers of
     * this log, so that a score means what it meant in training. */
    int has_edges;         /* default 0 */
    cseg_rfm_edges edges;
    /* Lifetime value (clv.h): with clv.enabled, the BTYD summary columns
     * btyd_frequency, btyd_recency, btyd_T, btyd_monetary_value follow the
     * attributes (T counts to the day before as_of, in clv.unit_days); with
     * clv.has_fit too, p_alive, expected_purchases, expected_order_value and
     * clv after them. cseg_clv_params_init defaults (off). */
    cseg_clv_params clv;
} cseg_rfm_params;

/* What cleaning did. Row counts refer to the input log. */
typedef struct cseg_quality {
    size_t n_rows;             /* data rows read */
    size_t n_no_customer;      /* dropped: no customer id */
    size_t n_duplicates;       /* dropped: exact duplicate of an earlier row */
    size_t n_incomplete;       /* dropped: missing date, quantity, price or amount */
    size_t n_bad_price;        /* dropped: price <= 0 or amount == 0 */
    size_t n_after_as_of;      /* left out: dated on or after the as_of day */
    size_t n_purchase_rows;    /* kept as purchases */
    size_t n_return_rows;      /* kept as returns */
    size_t n_cancellations;    /* of the returns: invoice starting with 'C' */
    size_t n_customers;        /* customers with at least one purchase (output rows) */
    size_t n_return_only;      /* customers with returns but no purchase (not output) */
    double gross_revenue;      /* sum of purchase values */
    double returned_value;     /* sum of |return values| */
    int64_t first_day, last_day; /* first and last day among kept rows */
    int64_t as_of_day;         /* the analysis day used */
} cseg_quality;

CSEG_API void cseg_rfm_params_init(cseg_rfm_params *p);

/* Where a column named like a customer id is looked for. */
typedef enum cseg_id_context {
    CSEG_ID_IN_LOG = 1,  /* the customer role of a transaction log (cseg_txn_roles_resolve) */
    CSEG_ID_IN_TABLE = 2 /* the id column of a customer table (the command line's fit, score) */
} cseg_id_context;

/* 1 when name reads as a customer id column in that context, else 0. Case,
 * spaces and every other character but letters and digits are ignored
 * ("Customer ID", "customer_id" and "CUSTOMERID" are all "customerid"). The
 * names: customerid, customer, custid, clientid, memberid, userid,
 * customerno, customernumber, customercode in both contexts; also "client"
 * in a log (CSEG_ID_IN_LOG) and "id" in a customer table (CSEG_ID_IN_TABLE),
 * not in the other. cseg_txn_roles_resolve prefers them in the order listed
 * here, "client" after "clientid". O(strlen(name)); thread-safe. */
CSEG_API int cseg_is_customer_id_name(const char *name, cseg_id_context where);

/* Complete roles from header names. Roles already set are checked to exist.
 * Detection ignores case, spaces, '_' and '-', and knows the usual names
 * (CustomerID, Customer ID, customer_id, InvoiceDate, Invoice, InvoiceNo,
 * Quantity, UnitPrice, Price, amount, date ...; see docs/cli.md; the customer
 * id names are those of cseg_is_customer_id_name with CSEG_ID_IN_LOG). Needs a
 * customer and a date, and either quantity and price or an amount; otherwise
 * CSEG_ENOCOL with a diag naming what is missing. */
CSEG_API int cseg_txn_roles_resolve(cseg_txn_roles *roles, const char *const *header, size_t n,
                                    const char *file, cseg_diag *d);

/* Open path, resolve roles from its header, and read only the role columns
 * (typed: id text, date-time, numbers) with raw-record hashes for the
 * duplicate check. From rp (NULL: defaults) only csv, date_format, n_threads,
 * record_by_record and progress are used. */
CSEG_API int cseg_txn_read(cseg_table **out, const char *path, cseg_txn_roles *roles,
                           const cseg_table_read_params *rp, cseg_diag *d);

/* The score edges of a customer table that cseg_rfm_compute wrote (its
 * recency_days, frequency, monetary and r/f/m_score columns). CSEG_ENOCOL
 * without them. */
CSEG_API int cseg_rfm_score_edges(const cseg_table *customers, cseg_rfm_edges *out);

/* Clean a transaction table and compute the customer feature table (columns
 * as listed above, rows sorted by customer id, numeric ids in numeric order).
 * Scores: a customer's score is 1 + floor(5 x w / n), where w counts the
 * customers whose value is strictly worse (longer recency; lower frequency or
 * monetary) and n is the number of customers, so ties share a score and the
 * best fifth scores 5. q may be NULL. Errors: CSEG_EEMPTY when no customer
 * has a purchase, CSEG_EINVAL for bad roles or params. O(n log n). */
CSEG_API int cseg_rfm_compute(cseg_table **customers, const cseg_table *txn,
                              const cseg_txn_roles *roles, const cseg_rfm_params *p,
                              cseg_quality *q, cseg_diag *d);

/* cseg_txn_read and cseg_rfm_compute in one: the same customer table and
 * counts, bit for bit. A log of more than 256 MB (inflated) is read in one
 * pass a chunk of rows at a time, memory growing with what is distinct
 * (customers, invoices, the products each customer bought, attribute
 * values) instead of with the rows; a smaller one is read whole. Exact
 * duplicates are looked for among the last million rows, since an order's
 * lines come together; a log where a row's order (customer, invoice, time)
 * had lines before that window is read a second time, keeping every row in
 * mind. Lifetime value (p->clv.enabled) needs every row: CSEG_EINVAL. */
CSEG_API int cseg_rfm_compute_csv(cseg_table **customers, const char *path,
                                  cseg_txn_roles *roles, const cseg_table_read_params *rp,
                                  const cseg_rfm_params *p, cseg_quality *q, cseg_diag *d);

#ifdef __cplusplus
}
#endif
#endif
