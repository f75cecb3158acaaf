/* A synthetic transaction log in the Online Retail layout, seeded, for the
 * scale benchmarks of `custseg run` (issue 13): the rules of
 * bench/make_log.py, written by C so that 100,000,000 rows take minutes, not
 * an hour. Not a test.
 *
 *   cseg_bench_makelog OUT ROWS CUSTOMERS [SEED]
 *
 * Columns: InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,
 * CustomerID,Country. Invoices of 1 to 40 lines (mean about 20) for a
 * customer drawn with a heavy tail (weights 1 + Pareto(1.5): a few customers
 * buy often); 4,000 products with fixed descriptions and prices (log-normal);
 * dates over two years, one per invoice; about 2% of invoices are
 * cancellations ("C" prefix, negative quantities); about 20% have no customer
 * id (as in Online Retail); about 1% of lines repeat the line before (exact
 * duplicates). OUT ending in .gz is gzip-compressed (zlib level 6, as gzip's
 * default). The same arguments give the same file. Memory: the customers'
 * weights (8 bytes each), not the rows. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "../src/core/internal.h"

/* The library's generator (xoshiro256**, seeded by splitmix64). */
static cseg_rng rng;

static double uniform(void) /* [0, 1) */
{
    return cseg__rng_uniform(&rng);
}

static uint64_t below(uint64_t n) /* (slightly biased: a benchmark's data) */
{
    return (uint64_t)(uniform() * (double)n);
}

static double normal(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

static const char *const countries[] = {
    "United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom",
    "United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom",
    "United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom",
    "United Kingdom", "United Kingdom", "United Kingdom", "Germany",        "France",
    "EIRE",           "Spain",          "Netherlands",    "Belgium",        "Switzerland",
    "Portugal",       "Australia",      "Norway"};
static const char *const words[] = {
    "WHITE", "RED",   "HANGING", "HEART", "LANTERN", "METAL",   "GLASS", "CANDLE",
    "HOLDER", "BAG",  "JUMBO",   "VINTAGE", "SET",   "OF",      "3",     "6",
    "CAKE",  "TINS",  "PAPER",   "CHAIN", "KIT",     "LUNCH",   "BOX",   "DOORMAT",
    "CERAMIC", "MUG", "PINK",    "BLUE",  "STAR",    "SIGN"};
#define N_PROD 4000

typedef struct out {
    FILE *f;
    gzFile gz;
    char *buf;
    size_t len, cap;
} out;

static int flush(out *o)
{
    if (!o->len)
        return 0;
    int ok = o->gz ? gzwrite(o->gz, o->buf, (unsigned)o->len) == (int)o->len
                   : fwrite(o->buf, 1, o->len, o->f) == o->len;
    o->len = 0;
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: cseg_bench_makelog OUT ROWS CUSTOMERS [SEED]\n");
        return 2;
    }
    const char *path = argv[1];
    uint64_t rows = strtoull(argv[2], NULL, 10), nc = strtoull(argv[3], NULL, 10);
    cseg__rng_seed(&rng, argc == 5 ? strtoull(argv[4], NULL, 10) : 1);
    if (rows == 0 || nc == 0) {
        fprintf(stderr, "cseg_bench_makelog: ROWS and CUSTOMERS must be > 0\n");
        return 2;
    }
    /* Products: a code, a description, a price. */
    static char code[N_PROD][8], desc[N_PROD][48], price[N_PROD][16];
    for (int i = 0; i < N_PROD; i++) {
        snprintf(code[i], sizeof code[i], "%d%s", 20000 + i, i % 7 ? "" : "A");
        int w = sizeof words / sizeof words[0];
        snprintf(desc[i], sizeof desc[i], "%s %s %s %d", words[below((uint64_t)w)],
                 words[below((uint64_t)w)], words[below((uint64_t)w)], i);
        snprintf(price[i], sizeof price[i], "%.2f", exp(1.0 + 0.8 * normal()));
    }
    /* Customers: a country and a weight (the cumulative weights, searched). */
    double *cum = malloc(nc * sizeof *cum);
    unsigned char *country = malloc(nc);
    if (!cum || !country) {
        fprintf(stderr, "cseg_bench_makelog: out of memory\n");
        return 1;
    }
    double total = 0;
    const int n_countries = sizeof countries / sizeof countries[0];
    for (uint64_t c = 0; c < nc; c++) {
        country[c] = (unsigned char)below((uint64_t)n_countries);
        total += 1 + (pow(1 - uniform(), -1 / 1.5) - 1); /* 1 + Pareto(1.5) */
        cum[c] = total;
    }
    out o = {0};
    size_t pl = strlen(path);
    if (pl > 3 && strcmp(path + pl - 3, ".gz") == 0)
        o.gz = gzopen(path, "wb6");
    else
        o.f = fopen(path, "wb");
    o.cap = (size_t)4 << 20;
    o.buf = malloc(o.cap + 512);
    if ((!o.gz && !o.f) || !o.buf) {
        fprintf(stderr, "cseg_bench_makelog: cannot write %s\n", path);
        return 1;
    }
    o.len = (size_t)snprintf(o.buf, o.cap, "InvoiceNo,StockCode,Description,Quantity,"
                                           "InvoiceDate,UnitPrice,CustomerID,Country\n");
    const time_t t0 = 1291190400; /* 2010-12-01 08:00 UTC */
    const uint64_t span_min = 2 * 365 * 24 * 60;
    uint64_t written = 0, invoice = 536365;
    char line[256], prev[256] = "";
    size_t prev_len = 0;
    while (written < rows) {
        uint64_t size = 1 + below(40);
        if (size > rows - written)
            size = rows - written;
        double x = uniform() * total;
        size_t lo = 0, hi = nc - 1; /* first c with cum[c] > x */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cum[mid] > x)
                hi = mid;
            else
                lo = mid + 1;
        }
        uint64_t cust = lo;
        time_t when = t0 + (time_t)(below(span_min) * 60);
        struct tm tm;
        gmtime_r(&when, &tm);
        char date[32], id[32] = "";
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
        int cancel = uniform() < 0.02, no_id = uniform() < 0.2;
        if (!no_id)
            snprintf(id, sizeof id, "%llu.0", (unsigned long long)(12346 + cust));
        for (uint64_t k = 0; k < size; k++) {
            size_t len;
            if (prev_len && uniform() < 0.01) { /* the line before, again */
                memcpy(line, prev, prev_len);
                len = prev_len;
            } else {
                int p = (int)below(N_PROD);
                int qty = (int)(1 + below(24)) * (cancel ? -1 : 1);
                len = (size_t)snprintf(line, sizeof line, "%s%llu,%s,%s,%d,%s,%s,%s,%s\n",
                                       cancel ? "C" : "", (unsigned long long)invoice, code[p],
                                       desc[p], qty, date, price[p], id, countries[country[cust]]);
            }
            memcpy(o.buf + o.len, line, len);
            o.len += len;
            memcpy(prev, line, len);
            prev_len = len;
            if (o.len >= o.cap && flush(&o) < 0) {
                fprintf(stderr, "cseg_bench_makelog: write error on %s\n", path);
                return 1;
            }
        }
        written += size;
        invoice++;
    }
    int bad = flush(&o) < 0;
    bad |= o.gz ? gzclose(o.gz) != Z_OK : fclose(o.f) != 0;
    if (bad) {
        fprintf(stderr, "cseg_bench_makelog: write error on %s\n", path);
        return 1;
    }
    free(o.buf);
    free(cum);
    free(country);
    return 0;
}
