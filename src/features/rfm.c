/* custseg — cleaning a transaction log and computing per-customer features.
 *
 * Rows are processed in file order, then grouped by customer with a stable
 * counting sort on the customer code; within a customer, distinct invoices
 * and products are counted with a stamp array indexed by their codes (O(1)
 * per row, no hashing). Exact duplicates are found with an open-addressing
 * set over the raw-record hash, confirmed by comparing every loaded field.
 * Everything is linear except sorting customers by id and ranking the three
 * scores (n log n in the number of customers).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/features.h"
#include "../core/internal.h"
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

int cseg_txn_read(cseg_table **out, const char *path, cseg_txn_roles *roles,
                  const cseg_table_read_params *rp, cseg_diag *d)
{
    cseg_csv *r = NULL;
    cseg_table_read_params p;
    *out = NULL;
    cseg_table_read_params_init(&p);
    if (rp) {
        p.csv = rp->csv;
        p.date_format = rp->date_format;
        p.n_threads = rp->n_threads;
        p.record_by_record = rp->record_by_record;
    }
    cseg_csv_params cp = p.csv;
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
    cseg_colspec specs[7 + CSEG_ATTRIBUTES_MAX];
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
    p.csv = cp;
    p.specs = specs;
    p.n_specs = ns;
    p.skip_unlisted = 1;
    p.row_hash = 1;
    return cseg_table_read_csv(out, path, &p, d);
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

typedef struct idsort {
    const char *s;
    size_t len;
    int numeric;
    int32_t code;
} idsort;

/* Numeric ids in numeric order (any length), before other ids in byte order. */
static int cmp_ids(const void *pa, const void *pb)
{
    const idsort *a = pa, *b = pb;
    if (a->numeric != b->numeric)
        return a->numeric ? -1 : 1;
    if (a->numeric) {
        const char *x = a->s, *y = b->s;
        while (*x == '0' && x[1])
            x++;
        while (*y == '0' && y[1])
            y++;
        size_t lx = strlen(x), ly = strlen(y);
        if (lx != ly)
            return lx < ly ? -1 : 1;
        int c = strcmp(x, y);
        if (c)
            return c;
    }
    return strcmp(a->s, b->s);
}

typedef struct rankv {
    double v;
    size_t i;
} rankv;

static int cmp_rankv(const void *pa, const void *pb)
{
    const rankv *a = pa, *b = pb;
    if (a->v < b->v)
        return -1;
    if (a->v > b->v)
        return 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* score = 1 + floor(5 * worse / n); higher_better says which side is worse. */
static int quintile_scores(const double *v, size_t n, int higher_better, double *score)
{
    rankv *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        return CSEG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        r[i] = (rankv){v[i], i};
    qsort(r, n, sizeof *r, cmp_rankv);
    size_t a = 0;
    while (a < n) {
        size_t b = a;
        while (b < n && r[b].v == r[a].v)
            b++;
        size_t worse = higher_better ? a : n - b;
        double s = 1.0 + floor(5.0 * (double)worse / (double)n);
        for (size_t k = a; k < b; k++)
            score[r[k].i] = s > 5 ? 5 : s;
        a = b;
    }
    free(r);
    return 0;
}

static long col_of(const cseg_table *t, const char *name)
{
    return name[0] ? cseg_table_find(t, name) : -1;
}

/* Attribute column name for the m output customers: each one's most frequent
 * level among its kept rows (order[start[k] .. start[k+1]) for customer code
 * k), ties to the latest row (time, then position in the log). */
static int add_attribute(cseg_table *out, const cseg_table *t, const char *name,
                         const idsort *ids, size_t m, const size_t *start, const size_t *order,
                         const int64_t *time)
{
    long j = cseg_table_find(t, name);
    const int32_t *v = j >= 0 ? cseg_table_codes(t, (size_t)j) : NULL;
    if (!v)
        return CSEG_EINVAL;
    size_t nl = cseg_table_n_levels(t, (size_t)j);
    size_t *cnt = malloc((nl ? nl : 1) * sizeof *cnt), *li = malloc((nl ? nl : 1) * sizeof *li);
    int64_t *stamp = malloc((nl ? nl : 1) * sizeof *stamp), *lt = malloc((nl ? nl : 1) * sizeof *lt);
    int32_t *code = malloc((m ? m : 1) * sizeof *code);
    const char **lv = malloc((nl ? nl : 1) * sizeof *lv);
    int rc = CSEG_ENOMEM;
    if (!cnt || !li || !stamp || !lt || !code || !lv)
        goto out;
    for (size_t l = 0; l < nl; l++) {
        stamp[l] = -1;
        lv[l] = cseg_table_level(t, (size_t)j, (int32_t)l);
    }
    for (size_t u = 0; u < m; u++) {
        size_t k = (size_t)ids[u].code;
        int32_t best = -1;
        for (size_t r = start[k]; r < start[k + 1]; r++) {
            size_t i = order[r];
            int32_t l = v[i];
            if (l < 0)
                continue;
            if (stamp[l] != (int64_t)u) {
                stamp[l] = (int64_t)u;
                cnt[l] = 0;
                lt[l] = INT64_MIN;
                li[l] = 0;
            }
            cnt[l]++;
            if (time[i] > lt[l] || (time[i] == lt[l] && i >= li[l])) {
                lt[l] = time[i];
                li[l] = i;
            }
        }
        for (size_t r = start[k]; r < start[k + 1]; r++) {
            int32_t l = v[order[r]];
            if (l >= 0 && (best < 0 || cnt[l] > cnt[best] ||
                           (cnt[l] == cnt[best] &&
                            (lt[l] > lt[best] || (lt[l] == lt[best] && li[l] > li[best])))))
                best = l;
        }
        code[u] = best;
    }
    rc = cseg_table_add_text(out, name, lv, nl, code);
out:
    free(cnt);
    free(li);
    free(stamp);
    free(lt);
    free(code);
    free(lv);
    return rc;
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
static int btyd_summary(double **out, const txcols *c, const idsort *ids, size_t m,
                        const size_t *start, const size_t *order, const unsigned char *keep,
                        const double *value, int64_t as_of, double unit_days)
{
    size_t most = 1;
    for (size_t u = 0; u < m; u++) {
        size_t k = (size_t)ids[u].code;
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
        size_t k = (size_t)ids[u].code, nd = 0;
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

int cseg_rfm_compute(cseg_table **customers, const cseg_table *t, const cseg_txn_roles *roles,
                     const cseg_rfm_params *p, cseg_quality *qout, cseg_diag *d)
{
    cseg_rfm_params defaults;
    cseg_quality q;
    int rc = 0;
    unsigned char *keep = NULL;
    double *value = NULL;
    size_t *order = NULL, *start = NULL;
    int64_t *stamp_inv = NULL, *stamp_prod = NULL;
    idsort *ids = NULL;
    double *F = NULL;
    int32_t *codes = NULL;
    const char **levels = NULL;
    cseg_table *out = NULL;
    char (*rfm_levels)[4] = NULL;
    double *btyd = NULL;
    *customers = NULL;
    memset(&q, 0, sizeof q);
    if (!p) {
        cseg_rfm_params_init(&defaults);
        p = &defaults;
    }
    if (p->spend_window_days < 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "spend window must be >= 0 days");
    if (p->money_decimals < -1 || p->money_decimals > 9)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "money decimals must be -1..9");

    txcols c;
    memset(&c, 0, sizeof c);
    long jc = col_of(t, roles->customer), jd = col_of(t, roles->date), ji = col_of(t, roles->invoice);
    long jq = col_of(t, roles->quantity), jp = col_of(t, roles->price), ja = col_of(t, roles->amount);
    long jr = col_of(t, roles->product);
    c.cust = jc >= 0 ? cseg_table_codes(t, (size_t)jc) : NULL;
    c.time = jd >= 0 ? cseg_table_times(t, (size_t)jd) : NULL;
    c.inv = ji >= 0 ? cseg_table_codes(t, (size_t)ji) : NULL;
    c.qty = jq >= 0 ? cseg_table_numbers(t, (size_t)jq) : NULL;
    c.price = jp >= 0 ? cseg_table_numbers(t, (size_t)jp) : NULL;
    c.amount = ja >= 0 ? cseg_table_numbers(t, (size_t)ja) : NULL;
    c.prod = jr >= 0 ? cseg_table_codes(t, (size_t)jr) : NULL;
    c.hash = cseg_table_row_hashes(t);
    if (!c.cust || !c.time || !(c.amount || (c.qty && c.price)))
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                          "transaction table lacks a text customer column, a date column, and "
                          "numeric quantity and price (or amount) columns");
    int use_amount = !(c.qty && c.price);
    size_t n = cseg_table_n_rows(t);
    size_t n_cust_codes = cseg_table_n_levels(t, (size_t)jc);
    q.n_rows = n;
    keep = malloc(n ? n : 1);
    value = malloc((n ? n : 1) * sizeof *value);
    if (!keep || !value)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        keep[i] = c.cust[i] >= 0;
        q.n_no_customer += !keep[i];
    }
    if (p->drop_duplicates && (rc = drop_duplicates(&c, n, keep, &q.n_duplicates)) < 0)
        goto oom;
    int64_t last_day = INT64_MIN, first_day = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        double v;
        int incomplete = c.time[i] == CSEG_TIME_NA;
        if (use_amount) {
            incomplete |= isnan(c.amount[i]) || !isfinite(c.amount[i]);
            v = c.amount[i];
        } else {
            incomplete |= !isfinite(c.qty[i]) || !isfinite(c.price[i]);
            v = c.qty[i] * c.price[i];
        }
        if (incomplete) {
            keep[i] = 0;
            q.n_incomplete++;
            continue;
        }
        if (!isfinite(v)) {
            rc = cseg__diag(d, CSEG_ERANGE, NULL, cseg_table_row_line(t, i), 0,
                            "quantity x price is beyond the range of numbers (%g x %g)",
                            c.qty[i], c.price[i]);
            goto out;
        }
        if ((!use_amount && c.price[i] <= 0) || (use_amount && v == 0)) {
            keep[i] = 0;
            q.n_bad_price++;
            continue;
        }
        int cancel = 0;
        if (c.inv) {
            const char *s = cseg_table_level(t, (size_t)ji, c.inv[i]);
            cancel = s && (s[0] == 'C' || s[0] == 'c');
        }
        int ret = cancel || v < 0 || (c.qty && c.qty[i] < 0);
        value[i] = ret ? -fabs(v) : v;
        keep[i] = ret ? 2 : 1;
        int64_t day = cseg__day_of(c.time[i]);
        if (day > last_day)
            last_day = day;
        if (day < first_day)
            first_day = day;
    }
    int64_t as_of = p->as_of_day == CSEG_DAY_AUTO ? (last_day == INT64_MIN ? 0 : last_day + 1)
                                                 : p->as_of_day;
    q.as_of_day = as_of;
    q.first_day = INT64_MAX;
    q.last_day = INT64_MIN;
    cseg__exact_sum qg = {0, 0}, qr = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        int64_t day = cseg__day_of(c.time[i]);
        if (day >= as_of) {
            keep[i] = 0;
            q.n_after_as_of++;
            continue;
        }
        q.first_day = day < q.first_day ? day : q.first_day;
        q.last_day = day > q.last_day ? day : q.last_day;
        double ng = keep[i] == 2 ? q.gross_revenue : q.gross_revenue + value[i];
        double nr = keep[i] == 2 ? q.returned_value - value[i] : q.returned_value;
        if (!isfinite(ng) || !isfinite(nr)) {
            rc = cseg__diag(d, CSEG_ERANGE, NULL, cseg_table_row_line(t, i), 0,
                            "the total of the %s is beyond the range of numbers",
                            keep[i] == 2 ? "returns" : "purchases");
            goto out;
        }
        if (keep[i] == 2) {
            q.n_return_rows++;
            cseg__add_exact(&qr, -value[i]);
            q.returned_value += -value[i];
            if (c.inv) {
                const char *s = cseg_table_level(t, (size_t)ji, c.inv[i]);
                q.n_cancellations += s && (s[0] == 'C' || s[0] == 'c');
            }
        } else {
            q.n_purchase_rows++;
            cseg__add_exact(&qg, value[i]);
            q.gross_revenue += value[i];
        }
    }
    q.gross_revenue = cseg__money(cseg__exact_value(&qg), p->money_decimals);
    q.returned_value = cseg__money(cseg__exact_value(&qr), p->money_decimals);

    /* Stable counting sort of kept rows by customer code. */
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
    size_t n_inv = c.inv ? cseg_table_n_levels(t, (size_t)ji) : 0;
    size_t n_prod = c.prod ? cseg_table_n_levels(t, (size_t)jr) : 0;
    stamp_inv = malloc((n_inv ? n_inv : 1) * sizeof *stamp_inv);
    stamp_prod = malloc((n_prod ? n_prod : 1) * sizeof *stamp_prod);
    ids = malloc((n_cust_codes ? n_cust_codes : 1) * sizeof *ids);
    if (!stamp_inv || !stamp_prod || !ids)
        goto oom;
    for (size_t k = 0; k < n_inv; k++)
        stamp_inv[k] = -1;
    for (size_t k = 0; k < n_prod; k++)
        stamp_prod[k] = -1;

    /* Customers with a purchase, sorted by id. */
    size_t m = 0;
    for (size_t k = 0; k < n_cust_codes; k++) {
        int has_purchase = 0, has_any = start[k + 1] > start[k];
        for (size_t r = start[k]; r < start[k + 1] && !has_purchase; r++)
            has_purchase = keep[order[r]] == 1;
        if (!has_purchase) {
            q.n_return_only += has_any;
            continue;
        }
        const char *s = cseg_table_level(t, (size_t)jc, (int32_t)k);
        size_t len = strlen(s), dg = 0;
        while (dg < len && isdigit((unsigned char)s[dg]))
            dg++;
        ids[m++] = (idsort){s, len, len > 0 && dg == len, (int32_t)k};
    }
    q.n_customers = m;
    if (m == 0) {
        rc = cseg__diag(d, CSEG_EEMPTY, NULL, 0, 0,
                        "no customer has a purchase left after cleaning (%zu rows read)", n);
        goto out;
    }
    qsort(ids, m, sizeof *ids, cmp_ids);

    enum { RECENCY, FREQ, MONETARY, TENURE, AOV, SPEND, NPROD, RRATE, RS, FS, MS, NF };
    static const char *const names[NF] = {
        CSEG_RFM_COL_RECENCY,    CSEG_RFM_COL_FREQUENCY,   CSEG_RFM_COL_MONETARY,
        CSEG_RFM_COL_TENURE,     CSEG_RFM_COL_AOV,         NULL /* spend_{W}d, below */,
        CSEG_RFM_COL_N_PRODUCTS, CSEG_RFM_COL_RETURN_RATE, CSEG_RFM_COL_R_SCORE,
        CSEG_RFM_COL_F_SCORE,    CSEG_RFM_COL_M_SCORE};
    if (!(F = malloc(NF * m * sizeof *F)) || !(codes = malloc(m * sizeof *codes)) ||
        !(levels = malloc(m * sizeof *levels)))
        goto oom;
    double *col[NF];
    for (int f = 0; f < NF; f++)
        col[f] = F + (size_t)f * m;
    if (p->clv.enabled) {
        const char *why = cseg_clv_params_check(&p->clv);
        if (why) {
            rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "clv: %s", why);
            goto out;
        }
        if ((rc = btyd_summary(&btyd, &c, ids, m, start, order, keep, value, as_of,
                               p->clv.unit_days)) < 0)
            goto oom;
    }
    int64_t window_start = as_of - p->spend_window_days;
    for (size_t u = 0; u < m; u++) {
        size_t k = (size_t)ids[u].code;
        int64_t first = INT64_MAX, last = INT64_MIN;
        cseg__exact_sum net = {0, 0}, gross = {0, 0}, returned = {0, 0}, window = {0, 0};
        size_t nfreq = 0, nprod = 0;
        for (size_t r = start[k]; r < start[k + 1]; r++) {
            size_t i = order[r];
            int64_t day = cseg__day_of(c.time[i]);
            cseg__add_exact(&net, value[i]);
            if (day >= window_start)
                cseg__add_exact(&window, value[i]);
            if (keep[i] == 2) {
                cseg__add_exact(&returned, -value[i]);
                continue;
            }
            cseg__add_exact(&gross, value[i]);
            first = day < first ? day : first;
            last = day > last ? day : last;
            /* A purchase row without an invoice number counts as its own order. */
            if (c.inv && c.inv[i] >= 0) {
                if (stamp_inv[c.inv[i]] != (int64_t)k) {
                    stamp_inv[c.inv[i]] = (int64_t)k;
                    nfreq++;
                }
            } else {
                nfreq++;
            }
            if (c.prod && c.prod[i] >= 0 && stamp_prod[c.prod[i]] != (int64_t)k) {
                stamp_prod[c.prod[i]] = (int64_t)k;
                nprod++;
            }
        }
        col[RECENCY][u] = (double)(as_of - last);
        col[FREQ][u] = (double)nfreq;
        double g = cseg__exact_value(&gross), ret = cseg__exact_value(&returned);
        col[MONETARY][u] = cseg__money(cseg__exact_value(&net), p->money_decimals);
        col[TENURE][u] = (double)(as_of - first);
        col[AOV][u] = cseg__money_per(g, nfreq, p->money_decimals);
        col[SPEND][u] = cseg__money(cseg__exact_value(&window), p->money_decimals);
        col[NPROD][u] = (double)nprod;
        col[RRATE][u] = g > 0 ? ret / g : 0;
        codes[u] = (int32_t)u;
        levels[u] = ids[u].s;
    }
    if (p->has_edges) {
        for (size_t u = 0; u < m; u++) {
            col[RS][u] = cseg__edge_score(col[RECENCY][u], p->edges.recency_hi, 0);
            col[FS][u] = cseg__edge_score(col[FREQ][u], p->edges.frequency_lo, 1);
            col[MS][u] = cseg__edge_score(col[MONETARY][u], p->edges.monetary_lo, 1);
        }
    } else if ((rc = quintile_scores(col[RECENCY], m, 0, col[RS])) < 0 ||
               (rc = quintile_scores(col[FREQ], m, 1, col[FS])) < 0 ||
               (rc = quintile_scores(col[MONETARY], m, 1, col[MS])) < 0) {
        goto oom;
    }
    if ((rc = cseg_table_create(&out, m)) < 0 ||
        (rc = cseg_table_add_text(out, CSEG_RFM_COL_CUSTOMER_ID, levels, m, codes)) < 0)
        goto oom;
    char spend_name[32]; /* spend_{W}d: the column says its window */
    snprintf(spend_name, sizeof spend_name, CSEG_RFM_COL_SPEND_FORMAT, p->spend_window_days);
    for (int f = 0; f < NF; f++) {
        if (f == NPROD && !c.prod)
            continue;
        if ((rc = cseg_table_add_numbers(out, f == SPEND ? spend_name : names[f], col[f])) < 0)
            goto oom;
    }
    /* rfm_code: 125 possible codes, stored as text levels "111".."555". */
    if (!(rfm_levels = malloc(125 * sizeof *rfm_levels)))
        goto oom;
    const char *lv[125];
    for (int k = 0; k < 125; k++) {
        snprintf(rfm_levels[k], 4, "%d%d%d", k / 25 + 1, k / 5 % 5 + 1, k % 5 + 1);
        lv[k] = rfm_levels[k];
    }
    for (size_t u = 0; u < m; u++)
        codes[u] = (int32_t)((col[RS][u] - 1) * 25 + (col[FS][u] - 1) * 5 + (col[MS][u] - 1));
    if ((rc = cseg_table_add_text(out, CSEG_RFM_COL_CODE, lv, 125, codes)) < 0)
        goto oom;
    for (size_t a = 0; a < roles->n_attributes && a < CSEG_ATTRIBUTES_MAX; a++)
        if ((rc = add_attribute(out, t, roles->attributes[a], ids, m, start, order, c.time)) < 0) {
            if (rc == CSEG_EINVAL)
                rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                                "attribute column \"%s\" is not a text column of the log",
                                roles->attributes[a]);
            else
                goto oom;
            goto out;
        }
    if (btyd) {
        static const char *const bnames[4] = {CSEG_CLV_COL_FREQUENCY, CSEG_CLV_COL_RECENCY,
                                              CSEG_CLV_COL_T, CSEG_CLV_COL_MONETARY};
        for (int j = 0; j < 4; j++)
            if ((rc = cseg_table_add_numbers(out, bnames[j], btyd + (size_t)j * m)) < 0)
                goto oom;
        if (p->clv.has_fit && (rc = cseg_clv_add_columns(out, &p->clv, d)) < 0)
            goto out;
    }
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
    free(btyd);
    free(rfm_levels);
    free(levels);
    free(codes);
    free(F);
    free(ids);
    free(stamp_prod);
    free(stamp_inv);
    free(order);
    free(start);
    free(value);
    free(keep);
    return rc;
}
