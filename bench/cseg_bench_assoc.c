/* custseg association-rule benchmark driver: reads the baskets once (a
 * basket file, or a transaction log's invoices with a customers.csv's
 * segments), then times cseg_assoc_mine REPS times, printing one JSON object
 * with every time. Used by bench/assoc.sh; not a test.
 *
 *   cseg_bench_assoc baskets FILE SUPPORT CONFIDENCE REPS
 *   cseg_bench_assoc log FILE CUSTOMERS_CSV SUPPORT CONFIDENCE REPS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custseg/custseg.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int die(const cseg_diag *d)
{
    char buf[1200];
    fprintf(stderr, "cseg_bench_assoc: %s\n", cseg_diag_format(d, buf, sizeof buf));
    return 1;
}

int main(int argc, char **argv)
{
    int log = argc == 7 && strcmp(argv[1], "log") == 0;
    if (!log && !(argc == 6 && strcmp(argv[1], "baskets") == 0)) {
        fprintf(stderr, "usage: cseg_bench_assoc baskets FILE SUPPORT CONFIDENCE REPS\n"
                        "       cseg_bench_assoc log FILE CUSTOMERS_CSV SUPPORT CONFIDENCE REPS\n");
        return 2;
    }
    cseg_diag d;
    cseg_diag_clear(&d);
    cseg_baskets *b = NULL;
    double t0 = now();
    if (log) {
        cseg_txn_roles roles;
        memset(&roles, 0, sizeof roles);
        cseg_table *txn, *c;
        if (cseg_txn_read(&txn, argv[2], &roles, NULL, &d) < 0 ||
            cseg_baskets_from_txn(&b, txn, &roles, NULL, CSEG_DAY_AUTO, &d) < 0)
            return die(&d);
        cseg_table_free(txn);
        cseg_table_read_params rp;
        cseg_table_read_params_init(&rp);
        static const cseg_colspec id = {"customer_id", CSEG_COL_TEXT, 1};
        rp.specs = &id;
        rp.n_specs = 1;
        if (cseg_table_read_csv(&c, argv[3], &rp, &d) < 0 ||
            cseg_baskets_set_segments(b, c, NULL, &d) < 0)
            return die(&d);
        cseg_table_free(c);
    } else if (cseg_baskets_read(&b, argv[2], 0, &d) < 0) {
        return die(&d);
    }
    double t_read = now() - t0;
    int a = log ? 4 : 3;
    cseg_assoc_params p;
    cseg_assoc_params_init(&p);
    p.min_support = atof(argv[a]);
    p.min_confidence = atof(argv[a + 1]);
    int reps = atoi(argv[a + 2]);
    printf("{\"baskets\": %zu, \"items\": %zu, \"segments\": %zu, \"read_s\": %.6f, \"mine_s\": [",
           cseg_baskets_n(b), cseg_baskets_n_items(b), cseg_baskets_k(b), t_read);
    size_t n_sets = 0, n_rules = 0;
    for (int r = 0; r < reps; r++) {
        cseg_assoc *x;
        double t1 = now();
        if (cseg_assoc_mine(&x, b, &p, &d) < 0)
            return die(&d);
        printf("%s%.6f", r ? ", " : "", now() - t1);
        n_sets = cseg_assoc_n_itemsets(x);
        n_rules = cseg_assoc_n(x);
        cseg_assoc_free(x);
    }
    printf("], \"itemsets\": %zu, \"rules\": %zu}\n", n_sets, n_rules);
    cseg_baskets_free(b);
    return 0;
}
