/* The service tests' helper (tests/service/service_cli.sh):
 *
 *   replay events LOG OUTDIR BATCH
 *       the log's rows as JSON events for POST /v1/events, BATCH to a file
 *       (OUTDIR/b000001.json, ...): customer, time, invoice, product,
 *       quantity, price or amount as the log's columns (roles detected as
 *       run detects them), event_id "row-N" (a replay is applied once), and
 *       the row's hash as its attributes (run drops exact duplicates of the
 *       whole raw record; two rows with the same hash are such duplicates).
 *       Prints the number of files.
 *   replay check CUSTOMERS_CSV REPLIES
 *       REPLIES: one GET /v1/customers/ID reply per line, for the customers
 *       of CUSTOMERS_CSV (a run's output), in any order. Every customer's
 *       recency_days, frequency, monetary and segment must equal the run's.
 *       Prints the count compared; exit 1 on any difference or one missing.
 *   replay flood PORT N
 *       opens N idle connections to 127.0.0.1:PORT (sending nothing), then
 *       GET /healthz on one more: exit 0 when it is answered 200 within 5 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <custseg/custseg.h>

static const char *text_at(const cseg_table *t, const char *col, size_t i, char *buf, size_t size)
{
    long j = col[0] ? cseg_table_find(t, col) : -1;
    if (j < 0)
        return NULL;
    const int32_t *c = cseg_table_codes(t, (size_t)j);
    if (c)
        return c[i] >= 0 ? cseg_table_level(t, (size_t)j, c[i]) : NULL;
    const double *x = cseg_table_numbers(t, (size_t)j);
    if (x && isfinite(x[i])) {
        snprintf(buf, size, "%.15g", x[i]);
        return buf;
    }
    return NULL;
}

static double num_at(const cseg_table *t, const char *col, size_t i)
{
    long j = col[0] ? cseg_table_find(t, col) : -1;
    const double *x = j >= 0 ? cseg_table_numbers(t, (size_t)j) : NULL;
    return x ? x[i] : NAN;
}

static int events(const char *log, const char *dir, size_t batch)
{
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *txn = NULL;
    cseg_diag d;
    if (cseg_txn_read(&txn, log, &roles, NULL, &d) < 0) {
        fprintf(stderr, "replay: %s\n", d.msg);
        return 1;
    }
    const int64_t *times = cseg_table_times(txn, (size_t)cseg_table_find(txn, roles.date));
    const uint64_t *hash = cseg_table_row_hashes(txn);
    size_t n = cseg_table_n_rows(txn), files = 0;
    json_t *arr = json_array();
    for (size_t i = 0; i <= n; i++) {
        if (i == n || json_array_size(arr) == batch) {
            if (json_array_size(arr) > 0) {
                char path[4096];
                snprintf(path, sizeof path, "%s/b%06zu.json", dir, ++files);
                FILE *f = fopen(path, "w");
                int bad = !f || json_dumpf(arr, f, JSON_COMPACT) < 0 || fputc('\n', f) == EOF;
                if (f && fclose(f) != 0)
                    bad = 1;
                if (bad) {
                    fprintf(stderr, "replay: cannot write %s\n", path);
                    return 1;
                }
            }
            json_array_clear(arr);
            if (i == n)
                break;
        }
        char b1[40], b2[40], b3[40], key[32], h[24];
        /* Rows without a customer, and incomplete ones, are left out: run
         * drops them, and the service would refuse them. */
        const char *cid = text_at(txn, roles.customer, i, b1, sizeof b1);
        if (!cid)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "customer_id", json_string(cid));
        json_object_set_new(o, "time", json_integer(times[i]));
        const char *inv = text_at(txn, roles.invoice, i, b2, sizeof b2);
        const char *prod = text_at(txn, roles.product, i, b3, sizeof b3);
        if (inv)
            json_object_set_new(o, "invoice", json_string(inv));
        if (prod)
            json_object_set_new(o, "product", json_string(prod));
        double q = num_at(txn, roles.quantity, i), p = num_at(txn, roles.price, i),
               a = num_at(txn, roles.amount, i);
        if (isfinite(q) && isfinite(p)) {
            json_object_set_new(o, "quantity", json_real(q));
            json_object_set_new(o, "price", json_real(p));
        } else if (isfinite(a)) {
            json_object_set_new(o, "amount", json_real(a));
        } else {
            json_decref(o);
            continue; /* incomplete: run drops it */
        }
        snprintf(key, sizeof key, "row-%zu", i + 1);
        json_object_set_new(o, "event_id", json_string(key));
        snprintf(h, sizeof h, "%016" PRIx64, hash[i]);
        json_object_set_new(o, "attributes", json_pack("{s:s}", "row", h));
        json_array_append_new(arr, o);
    }
    json_decref(arr);
    cseg_table_free(txn);
    printf("%zu\n", files);
    return 0;
}

static int check(const char *customers, const char *replies)
{
    cseg_table *t = NULL;
    cseg_diag d;
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    cseg_colspec idspec = {"customer_id", CSEG_COL_TEXT, 1};
    rp.specs = &idspec;
    rp.n_specs = 1;
    if (cseg_table_read_csv(&t, customers, &rp, &d) < 0) {
        fprintf(stderr, "replay: %s\n", d.msg);
        return 1;
    }
    size_t n = cseg_table_n_rows(t);
    json_t *byid = json_object();
    FILE *f = fopen(replies, "r");
    if (!f) {
        perror(replies);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *id = json_string_value(json_object_get(o, "customer_id"));
        if (id)
            json_object_set(byid, id, o);
        json_decref(o);
    }
    free(line);
    fclose(f);
    static const char *const cols[] = {"recency_days", "frequency", "monetary"};
    size_t bad = 0;
    const double *seg = cseg_table_numbers(t, (size_t)cseg_table_find(t, "segment"));
    for (size_t i = 0; i < n; i++) {
        char buf[40];
        const char *id = text_at(t, "customer_id", i, buf, sizeof buf);
        json_t *o = json_object_get(byid, id);
        if (!o) {
            if (bad++ < 10)
                fprintf(stderr, "replay: customer %s: no reply\n", id);
            continue;
        }
        json_t *f2 = json_object_get(o, "features");
        for (size_t c = 0; c < 3; c++) {
            double want = num_at(t, cols[c], i);
            double got = json_number_value(json_object_get(f2, cols[c]));
            /* The reply has 15 significant digits; customers.csv the shortest exact text. */
            if (fabs(got - want) > 1e-9 * fmax(1, fabs(want))) {
                if (bad++ < 10)
                    fprintf(stderr, "replay: customer %s: %s %.17g, run %.17g\n", id, cols[c], got,
                            want);
            }
        }
        if (json_integer_value(json_object_get(o, "segment")) != (json_int_t)seg[i]) {
            if (bad++ < 10)
                fprintf(stderr, "replay: customer %s: segment %" JSON_INTEGER_FORMAT ", run %.0f\n",
                        id, json_integer_value(json_object_get(o, "segment")), seg[i]);
        }
    }
    json_decref(byid);
    cseg_table_free(t);
    printf("%zu customers compared, %zu differences\n", n, bad);
    return bad ? 1 : 0;
}

static int flood(int port, int n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)n + 64
                          ? (rlim_t)n + 64
                          : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int opened = 0;
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            fprintf(stderr, "flood: connection %d: %s\n", i + 1, strerror(errno));
            return 2;
        }
        opened++;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[64] = {0};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1) ||
        read(fd, buf, sizeof buf - 1) <= 0) {
        fprintf(stderr, "flood: /healthz not answered with %d idle connections open\n", opened);
        return 1;
    }
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "flood: /healthz answered '%.12s'\n", buf);
        return 1;
    }
    printf("%d idle connections open, /healthz answered 200\n", opened);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "flood") == 0)
        return flood(atoi(argv[2]), atoi(argv[3]));
    if (argc == 5 && strcmp(argv[1], "events") == 0)
        return events(argv[2], argv[3], (size_t)strtoul(argv[4], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "check") == 0)
        return check(argv[2], argv[3]);
    fprintf(stderr, "usage: replay events LOG OUTDIR BATCH | replay check CUSTOMERS_CSV REPLIES | "
                    "replay flood PORT N\n");
    return 2;
}
