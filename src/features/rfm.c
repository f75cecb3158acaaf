/* custseg — cleaning a transaction log and computing per-customer features.
 *
 * The rules themselves are applied row by row in acc.c, to a whole table
 * (cseg_rfm_compute) or to a file a chunk at a time (cseg_rfm_compute_csv).
 * Here: the roles of a log's columns, reading it, exact duplicates of a
 * whole table (an open-addressing set over the raw-record hash, confirmed by
 * comparing every loaded field), and the lifetime-value summary, which needs
 * each customer's rows (a stable counting sort on the customer code).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/features.h"
#include "../core/internal.h"
#include "../table/internal.h"
#include "internal.h"

void cseg_rfm_params_init(cseg_rfm_params *p)
{
    p->as_of_day = CSEG_DAY_AUTO;
    p->spend_window_days = 90;
    p->drop_duplicates = 1;
    p->money_decimals = 2;
    p->has_edges = 0;
    memset(&p->edges, 0, sizeof p->edges);
    cseg_clv_params_init(&p->clv);
}

int cseg_rfm_score_edges(const cseg_table *t, cseg_rfm_edges *out)
{
    static const char *const val[3] = {CSEG_RFM_COL_RECENCY, CSEG_RFM_COL_FREQUENCY,
                                       CSEG_RFM_COL_MONETARY};
    static const char *const sc[3] = {CSEG_RFM_COL_R_SCORE, CSEG_RFM_COL_F_SCORE,
                                      CSEG_RFM_COL_M_SCORE};
    double *edge[3] = {out->recency_hi, out->frequency_lo, out->monetary_lo};
    for (int k = 0; k < 3; k++) {
        long jv = cseg_table_find(t, val[k]), js = cseg_table_find(t, sc[k]);
        const double *v = jv >= 0 ? cseg_table_numbers(t, (size_t)jv) : NULL;
        const double *s = js >= 0 ? cseg_table_numbers(t, (size_t)js) : NULL;
        if (!v || !s)
            return CSEG_ENOCOL;
        for (int e = 0; e < 4; e++)
            edge[k][e] = k == 0 ? -INFINITY : INFINITY;
        for (size_t i = 0; i < cseg_table_n_rows(t); i++)
            for (int e = 0; e < 4; e++) /* score >= e + 2 */
                if (s[i] >= e + 2)
                    edge[k][e] = k == 0 ? fmax(edge[k][e], v[i]) : fmin(edge[k][e], v[i]);
    }
    return 0;
}

double cseg__edge_score(double v, const double *edge, int higher_better)
{
    double s = 1;
    for (int e = 0; e < 4; e++)
        s += higher_better ? v >= edge[e] : v <= edge[e];
    return s;
}

/* Lower-case alphanumerics only: "Customer ID" -> "customerid". */
static void squash(char *dst, size_t size, const char *s)
{
    size_t k = 0;
    for (; *s && k + 1 < size; s++)
        if (isalnum((unsigned char)*s))
            dst[k++] = (char)tolower((unsigned char)*s);
    dst[k] = 0;
}

/* The names of a customer id column, squashed, in a log's order of
 * preference, each with where it counts (see cseg_is_customer_id_name):
 * "client" only in a log, "id" only in a customer table. */
static const struct {
    const char *name;
    unsigned where; /* cseg_id_context flags */
} id_names[] = {
    {"customerid", CSEG_ID_IN_LOG | CSEG_ID_IN_TABLE},
    {"customer", CSEG_ID_IN_LOG | CSEG_ID_IN_TABLE},
    {"custid", CSEG_ID_IN_LOG | CSEG_ID_IN_TABLE},
    {"clientid", CSEG_ID_IN_LOG | CSEG_ID_IN_TABLE},
    {"client", CSEG_ID_IN_LOG},
    {"memberid", CSEG_ID_IN_LOG | CSEG_ID_IN_TABLE},
    {"userid", CSEG_ID_IN_LOG | CSEG_ID_IN_TABLE},
    {"customerno", CSEG_ID_IN_LOG | CSEG_ID_IN_TABLE},
    {"customernumber", CSEG_ID_IN_LOG | CSEG_ID_IN_TABLE},
    {"customercode", CSEG_ID_IN_LOG | CSEG_ID_IN_TABLE},
    {"id", CSEG_ID_IN_TABLE},
};
#define CSEG_N_ID_NAMES (sizeof id_names / sizeof id_names[0])

int cseg_is_customer_id_name(const char *name, cseg_id_context where)
{
    char sq[CSEG_ROLE_NAME_MAX];
    squash(sq, sizeof sq, name);
    for (size_t i = 0; i < CSEG_N_ID_NAMES; i++)
        if ((id_names[i].where & (unsigned)where) && strcmp(sq, id_names[i].name) == 0)
            return 1;
    return 0;
}

static const char *const alias_date[] = {"invoicedate", "orderdate", "transactiondate",
                                         "purchasedate", "date", "datetime", "timestamp",
                                         "time", NULL};
static const char *const alias_invoice[] = {"invoiceno", "invoice", "invoiceid", "invoicenumber",
                                            "orderid", "orderno", "ordernumber", "order",
                                            "transactionid", "receiptid", "receipt", "basketid",
                                            NULL};
static const char *const alias_quantity[] = {"quantity", "qty", "units", "numberofcds", NULL};
static const char *const alias_price[] = {"unitprice", "price", "unitcost", "priceeach", NULL};
static const char *const alias_amount[] = {"amount", "totalamount", "total", "sales", "revenue",
                                           "dollarvalue", "value", "spend", "linetotal",
                                           "totalprice", NULL};
static const char *const alias_product[] = {"stockcode", "productid", "product", "sku",
                                            "itemid", "item", "productcode", NULL};

/* A name cseg_rfm_compute gives one of its own columns. */
static int is_output_name(const char *s)
{
    static const char *const out[] = {
        CSEG_RFM_COL_CUSTOMER_ID, CSEG_RFM_COL_RECENCY,     CSEG_RFM_COL_FREQUENCY,
        CSEG_RFM_COL_MONETARY,    CSEG_RFM_COL_TENURE,      CSEG_RFM_COL_AOV,
        CSEG_RFM_COL_N_PRODUCTS,  CSEG_RFM_COL_RETURN_RATE, CSEG_RFM_COL_R_SCORE,
        CSEG_RFM_COL_F_SCORE,     CSEG_RFM_COL_M_SCORE,     CSEG_RFM_COL_CODE};
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        if (strcmp(s, out[i]) == 0)
            return 1;
    int w, len = 0;
    return sscanf(s, "spend_%dd%n", &w, &len) == 1 && (size_t)len == strlen(s);
}

static int find_role(char *role, const char *const *aliases, const char *const *header,
                     size_t n, int no_detect)
{
    char sq[CSEG_ROLE_NAME_MAX];
    if (role[0]) {
        for (size_t j = 0; j < n; j++)
            if (strcmp(header[j], role) == 0)
                return 1;
        return -1;
    }
    if (no_detect || !aliases)
        return 0;
    for (const char *const *a = aliases; *a; a++)
        for (size_t j = 0; j < n; j++) {
            squash(sq, sizeof sq, header[j]);
            if (strcmp(sq, *a) == 0 && strlen(header[j]) < CSEG_ROLE_NAME_MAX) {
                strcpy(role, header[j]);
                return 1;
            }
        }
    return 0;
}

int cseg_txn_roles_resolve(cseg_txn_roles *r, const char *const *header, size_t n,
                           const char *file, cseg_diag *d)
{
    const char *alias_customer[CSEG_N_ID_NAMES + 1];
    size_t na = 0;
    for (size_t i = 0; i < CSEG_N_ID_NAMES; i++)
        if (id_names[i].where & CSEG_ID_IN_LOG)
            alias_customer[na++] = id_names[i].name;
    alias_customer[na] = NULL;
    struct {
        char *role;
        const char *const *aliases;
        const char *what;
    } roles[] = {
        {r->customer, alias_customer, "customer"}, {r->date, alias_date, "date"},
        {r->invoice, alias_invoice, "invoice"},    {r->quantity, alias_quantity, "quantity"},
        {r->price, alias_price, "price"},          {r->amount, alias_amount, "amount"},
        {r->product, alias_product, "product"},
    };
    for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
        if (find_role(roles[k].role, roles[k].aliases, header, n, r->no_detect) < 0)
            return cseg__diag(d, CSEG_ENOCOL, file, 1, 0,
                              "the %s column \"%s\" is not in the header", roles[k].what,
                              roles[k].role);
    const char *missing = !r->customer[0] ? "no customer id column in the header (such as "
                                            "CustomerID; name it with --customer)"
                          : !r->date[0] ? "no date column in the header (such as InvoiceDate; "
                                          "name it with --date)"
                          : !(r->amount[0] || (r->quantity[0] && r->price[0]))
                              ? "no quantity and price columns, nor an amount column, in the "
                                "header (name them with --quantity and --price, or --amount)"
                              : NULL;
    if (missing)
        return cseg__diag(d, CSEG_ENOCOL, file, 1, 0, "%s", missing);
    if (r->n_attributes > CSEG_ATTRIBUTES_MAX)
        return cseg__diag(d, CSEG_EINVAL, file, 0, 0, "at most %d attribute columns",
                          CSEG_ATTRIBUTES_MAX);
    for (size_t a = 0; a < r->n_attributes; a++) {
        char *at = r->attributes[a];
        if (find_role(at, NULL, header, n, 1) <= 0)
            return cseg__diag(d, CSEG_ENOCOL, file, 1, 0,
                              "the attribute column \"%s\" is not in the header", at);
        for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
            if (strcmp(roles[k].role, at) == 0)
                return cseg__diag(d, CSEG_EINVAL, file, 1, 0,
                                  "column \"%s\" is the %s column; it cannot be an attribute", at,
                                  roles[k].what);
        for (size_t b = 0; b < a; b++)
            if (strcmp(r->attributes[b], at) == 0)
                return cseg__diag(d, CSEG_EINVAL, file, 1, 0,
                                  "attribute column \"%s\" is given twice", at);
        if (is_output_name(at))
            return cseg__diag(d, CSEG_EINVAL, file, 1, 0,
                              "attribute column \"%s\" has the name of a customer feature; "
                              "rename it in the log", at);
    }
    return 0;
}

/* Resolve roles from path's header and set p to read only the role columns
 * (typed: id text, date-time, numbers) with raw-record hashes; specs has
 * room for 7 + CSEG_ATTRIBUTES_MAX. */
int cseg__txn_read_params(const char *path, cseg_txn_roles *roles,
                          const cseg_table_read_params *rp, cseg_table_read_params *p,
                          cseg_colspec *specs, cseg_diag *d)
{
    cseg_csv *r = NULL;
    cseg_table_read_params_init(p);
    if (rp) {
        p->csv = rp->csv;
        p->date_format = rp->date_format;
        p->n_threads = rp->n_threads;
        p->record_by_record = rp->record_by_record;
        p->progress = rp->progress;
        p->progress_user = rp->progress_user;
    }
    cseg_csv_params cp = p->csv;
    int rc = cseg_csv_open(&r, path, &cp, d);
    if (rc < 0)
        return rc;
    size_t n = cseg_csv_n_columns(r);
    const char **hdr = cseg__calloc(n, sizeof *hdr);
    if (!hdr) {
        cseg_csv_close(r);
        return cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
    }
    for (size_t j = 0; j < n; j++)
        hdr[j] = cseg_csv_column_name(r, j);
    rc = cseg_txn_roles_resolve(roles, hdr, n, path, d);
    free(hdr);
    cp.delimiter = cseg_csv_delimiter(r);
    cseg_csv_close(r);
    if (rc < 0)
        return rc;
    /* With an amount, a quantity column is only kept for the return sign. */
    size_t ns = 0;
    specs[ns++] = (cseg_colspec){roles->customer, CSEG_COL_TEXT, 1};
    specs[ns++] = (cseg_colspec){roles->date, CSEG_COL_DATETIME, 0};
    if (roles->invoice[0])
        specs[ns++] = (cseg_colspec){roles->invoice, CSEG_COL_TEXT, 1};
    if (roles->quantity[0])
        specs[ns++] = (cseg_colspec){roles->quantity, CSEG_COL_NUMBER, 0};
    if (roles->price[0] && roles->quantity[0])
        specs[ns++] = (cseg_colspec){roles->price, CSEG_COL_NUMBER, 0};
    else
        roles->price[0] = 0;
    if (roles->amount[0])
        specs[ns++] = (cseg_colspec){roles->amount, CSEG_COL_NUMBER, 0};
    if (roles->product[0])
        specs[ns++] = (cseg_colspec){roles->product, CSEG_COL_TEXT, 1};
    for (size_t a = 0; a < roles->n_attributes; a++)
        specs[ns++] = (cseg_colspec){roles->attributes[a], CSEG_COL_TEXT, 0};
    /* A column playing two roles is read once. */
    for (size_t a = 0; a < ns; a++)
        for (size_t b = a + 1; b < ns; b++)
            if (strcmp(specs[a].name, specs[b].name) == 0)
                return cseg__diag(d, CSEG_EINVAL, path, 1, 0,
                                  "column \"%s\" is given two roles", specs[a].name);
    p->csv = cp;
    p->specs = specs;
    p->n_specs = ns;
    p->skip_unlisted = 1;
    p->row_hash = 1;
    return 0;
}

int cseg_txn_read(cseg_table **out, const char *path, cseg_txn_roles *roles,
                  const cseg_table_read_params *rp, cseg_diag *d)
{
    cseg_table_read_params p;
    cseg_colspec specs[7 + CSEG_ATTRIBUTES_MAX];
    *out = NULL;
    int rc = cseg__txn_read_params(path, roles, rp, &p, specs, d);
    return rc < 0 ? rc : cseg_table_read_csv(out, path, &p, d);
}

typedef struct txcols {
    const int32_t *cust, *inv, *prod;
    const int64_t *time;
    const double *qty, *price, *amount;
    const uint64_t *hash;
} txcols;

static int same_row(const txcols *c, size_t a, size_t b)
{
#define EQ(arr) (!c->arr || c->arr[a] == c->arr[b])
#define EQF(arr) (!c->arr || c->arr[a] == c->arr[b] || (isnan(c->arr[a]) && isnan(c->arr[b])))
    return EQ(cust) && EQ(inv) && EQ(prod) && EQ(time) && EQF(qty) && EQF(price) && EQF(amount);
#undef EQ
#undef EQF
}

static uint64_t row_key(const txcols *c, size_t i)
{
    if (c->hash)
        return c->hash[i];
    uint64_t h = 0;
    int32_t codes[3] = {c->cust[i], c->inv ? c->inv[i] : 0, c->prod ? c->prod[i] : 0};
    double nums[3] = {c->qty ? c->qty[i] : 0, c->price ? c->price[i] : 0,
                      c->amount ? c->amount[i] : 0};
    h = cseg__hash(codes, sizeof codes, h);
    h = cseg__hash(nums, sizeof nums, h);
    return cseg__hash(&c->time[i], sizeof c->time[i], h);
}

/* Mark exact duplicates (keep[i] = 0) among rows with keep[i] = 1. */
static int drop_duplicates(const txcols *c, size_t n, unsigned char *keep, size_t *n_dup)
{
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    int64_t *tab = malloc(cap * sizeof *tab);
    if (!tab)
        return CSEG_ENOMEM;
    memset(tab, 0xff, cap * sizeof *tab);
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        uint64_t h = row_key(c, i);
        size_t s = (size_t)h & (cap - 1);
        for (;;) {
            int64_t j = tab[s];
            if (j < 0) {
                tab[s] = (int64_t)i;
                break;
            }
            if (row_key(c, (size_t)j) == h && same_row(c, (size_t)j, i)) {
                keep[i] = 0;
                (*n_dup)++;
                break;
            }
            s = (s + 1) & (cap - 1);
        }
    }
    free(tab);
    return 0;
}

static long col_of(const cseg_table *t, const char *name)
{
    return name[0] ? cseg_table_find(t, name) : -1;
}

typedef struct day_value {
    int64_t day;
    double value;
} day_value;

static int cmp_day(const void *pa, const void *pb)
{
    const day_value *a = pa, *b = pb;
    return (a->day > b->day) - (a->day < b->day);
}

/* The BTYD summary (clv.h) of each customer from their purchase rows worth
 * more than 0 (a quantity of 0 is kept as a purchase by the cleaning, but a
 * day of such rows is no purchase day for the spend model), as four
 * columns of m values in *out: repeat purchase days, the span from the first
 * purchase day to the last, the age at the last day before as_of (all in
 * units of unit_days), and the mean gross value of the repeat days. */
static int btyd_summary(double **out, const txcols *c, const int32_t *codes, size_t m,
                        const size_t *start, const size_t *order, const unsigned char *keep,
                        const double *value, int64_t as_of, double unit_days)
{
    size_t most = 1;
    for (size_t u = 0; u < m; u++) {
        size_t k = (size_t)codes[u];
        most = start[k + 1] - start[k] > most ? start[k + 1] - start[k] : most;
    }
    double *col = malloc(4 * m * sizeof *col);
    day_value *dv = malloc(most * sizeof *dv);
    if (!col || !dv) {
        free(col);
        free(dv);
        return CSEG_ENOMEM;
    }
    for (size_t u = 0; u < m; u++) {
        size_t k = (size_t)codes[u], nd = 0;
        for (size_t r = start[k]; r < start[k + 1]; r++) /* purchases worth something */
            if (keep[order[r]] == 1 && value[order[r]] > 0)
                dv[nd++] = (day_value){cseg__day_of(c->time[order[r]]), value[order[r]]};
        qsort(dv, nd, sizeof *dv, cmp_day);
        /* Days in order; the first day's value is left out of the spend. */
        size_t days = 0;
        cseg__exact_sum repeat = {0, 0};
        for (size_t r = 0; r < nd; r++) {
            int new_day = r == 0 || dv[r].day != dv[r - 1].day;
            days += new_day;
            if (days > 1)
                cseg__add_exact(&repeat, dv[r].value);
        }
        double x = days ? (double)(days - 1) : 0;
        col[u] = x;
        col[m + u] = nd ? (double)(dv[nd - 1].day - dv[0].day) / unit_days : 0;
        col[2 * m + u] = nd ? (double)(as_of - 1 - dv[0].day) / unit_days : 0;
        col[3 * m + u] = x > 0 ? cseg__exact_value(&repeat) / x : 0;
    }
    free(dv);
    *out = col;
    return 0;
}

static int check_params(const cseg_rfm_params *p, cseg_diag *d)
{
    if (p->spend_window_days < 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "spend window must be >= 0 days");
    if (p->money_decimals < -1 || p->money_decimals > 9)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "money decimals must be -1..9");
    const char *why = p->clv.enabled ? cseg_clv_params_check(&p->clv) : NULL;
    if (why)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "clv: %s", why);
    return 0;
}

/* The log's text, date and number columns by role; an error when the
 * roles lack what the features need. */
static int txcols_of(const cseg_table *t, const cseg_txn_roles *roles, txcols *c, long *jc_out,
                     cseg_diag *d)
{
    memset(c, 0, sizeof *c);
    long jc = col_of(t, roles->customer), jd = col_of(t, roles->date), ji = col_of(t, roles->invoice);
    long jq = col_of(t, roles->quantity), jp = col_of(t, roles->price), ja = col_of(t, roles->amount);
    long jr = col_of(t, roles->product);
    c->cust = jc >= 0 ? cseg_table_codes(t, (size_t)jc) : NULL;
    c->time = jd >= 0 ? cseg_table_times(t, (size_t)jd) : NULL;
    c->inv = ji >= 0 ? cseg_table_codes(t, (size_t)ji) : NULL;
    c->qty = jq >= 0 ? cseg_table_numbers(t, (size_t)jq) : NULL;
    c->price = jp >= 0 ? cseg_table_numbers(t, (size_t)jp) : NULL;
    c->amount = ja >= 0 ? cseg_table_numbers(t, (size_t)ja) : NULL;
    c->prod = jr >= 0 ? cseg_table_codes(t, (size_t)jr) : NULL;
    c->hash = cseg_table_row_hashes(t);
    *jc_out = jc;
    if (!c->cust || !c->time || !(c->amount || (c->qty && c->price)))
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                          "transaction table lacks a text customer column, a date column, and "
                          "numeric quantity and price (or amount) columns");
    return 0;
}

/* The whole table's rows through the row-by-row rules (acc.c), with its
 * duplicates found by a set over every row (the streamed reading keeps a
 * window instead). keep and value: as cseg__rfm_acc_add's (may be NULL). */
static int table_acc(cseg__rfm_acc **out, const txcols *c, const cseg_table *t,
                     const cseg_txn_roles *roles, const cseg_rfm_params *p, unsigned char *keep,
                     double *value, cseg_diag *d)
{
    size_t n = cseg_table_n_rows(t);
    unsigned char *dup = NULL;
    int rc;
    *out = NULL;
    if (p->drop_duplicates) {
        size_t n_dup = 0;
        if (!(dup = malloc(n ? n : 1)))
            return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        for (size_t i = 0; i < n; i++)
            dup[i] = c->cust[i] >= 0;
        if (drop_duplicates(c, n, dup, &n_dup) < 0) {
            free(dup);
            return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            dup[i] = c->cust[i] >= 0 && !dup[i];
    }
    if ((rc = cseg__rfm_acc_create(out, p, 1, 0)) < 0)
        rc = cseg__diag(d, rc, NULL, 0, 0, "out of memory");
    else if ((rc = cseg__rfm_acc_add(*out, t, roles, dup, keep, value, d)) < 0) {
        cseg__rfm_acc_free(*out);
        *out = NULL;
    }
    free(dup);
    return rc;
}

int cseg__rfm_acc_table(cseg__rfm_acc **out, const cseg_table *t, const cseg_txn_roles *roles,
                        const cseg_rfm_params *p, cseg_diag *d)
{
    txcols c;
    long jc;
    *out = NULL;
    int rc = check_params(p, d);
    if (rc < 0 || (rc = txcols_of(t, roles, &c, &jc, d)) < 0)
        return rc;
    return table_acc(out, &c, t, roles, p, NULL, NULL, d);
}

int cseg_rfm_compute(cseg_table **customers, const cseg_table *t, const cseg_txn_roles *roles,
                     const cseg_rfm_params *p, cseg_quality *qout, cseg_diag *d)
{
    cseg_rfm_params defaults;
    cseg_quality q;
    int rc = 0;
    unsigned char *keep = NULL;
    double *value = NULL;
    size_t *order = NULL, *start = NULL;
    int32_t *codes = NULL;
    double *btyd = NULL;
    cseg__rfm_acc *acc = NULL;
    cseg_table *out = NULL;
    *customers = NULL;
    memset(&q, 0, sizeof q);
    if (!p) {
        cseg_rfm_params_init(&defaults);
        p = &defaults;
    }
    if ((rc = check_params(p, d)) < 0)
        return rc;
    txcols c;
    long jc;
    if ((rc = txcols_of(t, roles, &c, &jc, d)) < 0)
        return rc;
    size_t n = cseg_table_n_rows(t);
    int clv = p->clv.enabled;
    if (clv && (!(keep = malloc(n ? n : 1)) || !(value = malloc((n ? n : 1) * sizeof *value))))
        goto oom;
    if ((rc = table_acc(&acc, &c, t, roles, p, keep, value, d)) < 0 ||
        (rc = cseg__rfm_acc_finish(acc, t, roles, &out, &q, clv ? &codes : NULL, d)) < 0 || !clv)
        goto out;
    /* Lifetime value: the BTYD summary from each customer's kept rows. */
    size_t n_cust_codes = cseg_table_n_levels(t, (size_t)jc), m = q.n_customers;
    start = calloc(n_cust_codes + 1, sizeof *start);
    order = malloc((n ? n : 1) * sizeof *order);
    if (!start || !order)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (keep[i])
            start[c.cust[i] + 1]++;
    for (size_t k = 0; k < n_cust_codes; k++)
        start[k + 1] += start[k];
    {
        size_t *pos = malloc((n_cust_codes + 1) * sizeof *pos);
        if (!pos)
            goto oom;
        memcpy(pos, start, (n_cust_codes + 1) * sizeof *pos);
        for (size_t i = 0; i < n; i++)
            if (keep[i])
                order[pos[c.cust[i]]++] = i;
        free(pos);
    }
    if (btyd_summary(&btyd, &c, codes, m, start, order, keep, value, q.as_of_day,
                     p->clv.unit_days) < 0)
        goto oom;
    static const char *const bnames[4] = {CSEG_CLV_COL_FREQUENCY, CSEG_CLV_COL_RECENCY,
                                          CSEG_CLV_COL_T, CSEG_CLV_COL_MONETARY};
    for (int j = 0; j < 4; j++)
        if ((rc = cseg_table_add_numbers(out, bnames[j], btyd + (size_t)j * m)) < 0)
            goto oom;
    if (p->clv.has_fit && (rc = cseg_clv_add_columns(out, &p->clv, d)) < 0)
        goto out;
    rc = 0;
    goto out;
oom:
    rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory computing customer features");
out:
    if (rc < 0) {
        cseg_table_free(out);
        out = NULL;
    }
    *customers = out;
    if (qout)
        *qout = q;
    cseg__rfm_acc_free(acc);
    free(btyd);
    free(codes);
    free(order);
    free(start);
    free(value);
    free(keep);
    return rc;
}

/* ---- the log read a chunk at a time ---- */

/* Logs of up to this many bytes (inflated) are read whole. */
#define WHOLE_MAX ((size_t)256 << 20)

typedef struct stream_ctx {
    cseg__rfm_acc *acc;
    const cseg_txn_roles *roles;
    cseg_diag *d;
} stream_ctx;

static int stream_chunk(const cseg_table *chunk, void *user)
{
    stream_ctx *s = user;
    return cseg__rfm_acc_add(s->acc, chunk, s->roles, NULL, NULL, NULL, s->d);
}

/* The bytes of data in path, or more: a plain file's size; for a gzip file
 * its last member's ISIZE (the size modulo 4 GiB) or 4 times the compressed
 * size, whichever is larger; SIZE_MAX when it cannot be opened. */
static size_t input_bytes(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return SIZE_MAX;
    unsigned char m[2] = {0, 0}, z[4];
    size_t n = fread(m, 1, 2, f), size = SIZE_MAX;
    if (fseeko(f, 0, SEEK_END) == 0) {
        off_t len = ftello(f);
        size = len < 0 ? SIZE_MAX : (size_t)len;
        if (n == 2 && m[0] == 0x1f && m[1] == 0x8b && len >= 18 && fseeko(f, -4, SEEK_END) == 0 &&
            fread(z, 1, 4, f) == 4) {
            size_t isize = (size_t)z[0] | (size_t)z[1] << 8 | (size_t)z[2] << 16 |
                           (size_t)z[3] << 24;
            size = isize > 4 * (size_t)len ? isize : 4 * (size_t)len;
        }
    }
    fclose(f);
    return size;
}

int cseg__rfm_compute_csv(cseg_table **customers, const char *path, cseg_txn_roles *roles,
                          const cseg_table_read_params *rp, const cseg_rfm_params *p,
                          size_t window, size_t whole_max, cseg_quality *q, int *how,
                          cseg_diag *d)
{
    cseg_rfm_params defaults;
    cseg_table_read_params tp;
    cseg_colspec specs[7 + CSEG_ATTRIBUTES_MAX];
    *customers = NULL;
    if (!p) {
        cseg_rfm_params_init(&defaults);
        p = &defaults;
    }
    int rc = check_params(p, d);
    if (rc < 0)
        return rc;
    if (p->clv.enabled)
        return cseg__diag(d, CSEG_EINVAL, path, 0, 0,
                          "lifetime value needs every row: read the log with cseg_txn_read");
    if ((rc = cseg__txn_read_params(path, roles, rp, &tp, specs, d)) < 0)
        return rc;
    /* A small log is read whole: faster, and its rows take a bounded memory. */
    if (input_bytes(path) <= whole_max) {
        cseg_table *t = NULL;
        if (how)
            *how = 0;
        if ((rc = cseg_table_read_csv(&t, path, &tp, d)) == 0)
            rc = cseg_rfm_compute(customers, t, roles, p, q, d);
        cseg_table_free(t);
        if (rc < 0 && !d->file[0])
            snprintf(d->file, sizeof d->file, "%s", path);
        return rc;
    }
    /* Duplicates are judged within a window of rows; when the log has one
     * the window cannot judge, the log is read again with every row kept. */
    for (int full = 0; full < 2; full++) {
        cseg__rfm_acc *acc = NULL;
        cseg_table *dict = NULL;
        if ((rc = cseg__rfm_acc_create(&acc, p, full, window)) < 0)
            return cseg__diag(d, rc, path, 0, 0, "out of memory");
        stream_ctx s = {acc, roles, d};
        rc = cseg__table_read_chunks(path, &tp, stream_chunk, &s, &dict, d);
        if (rc == CSEG_ECANCELED && cseg__rfm_acc_restart(acc) && !full) {
            cseg__rfm_acc_free(acc);
            cseg_table_free(dict);
            continue;
        }
        if (rc == 0)
            rc = cseg__rfm_acc_finish(acc, dict, roles, customers, q, NULL, d);
        if (how)
            *how = 1 + full;
        cseg__rfm_acc_free(acc);
        cseg_table_free(dict);
        if (rc < 0 && !d->file[0])
            snprintf(d->file, sizeof d->file, "%s", path);
        break;
    }
    return rc;
}

int cseg_rfm_compute_csv(cseg_table **customers, const char *path, cseg_txn_roles *roles,
                         const cseg_table_read_params *rp, const cseg_rfm_params *p,
                         cseg_quality *q, cseg_diag *d)
{
    return cseg__rfm_compute_csv(customers, path, roles, rp, p, 0, WHOLE_MAX, q, NULL, d);
}
