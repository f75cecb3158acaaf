/* custseg compare: fit several algorithms over a range of k on the same
 * prepared customers and recommend one (cseg_compare_* in
 * include/custseg/segment.h; docs/algorithms.md#compare).
 *
 * The input is read exactly as `run` reads a transaction log or `fit` reads a
 * customer table (the header decides), so every option of those commands
 * applies: this file only decides which, and hands over.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: custseg compare FILE [options]\n"
    "\n"
    "Fit several clustering algorithms over a range of k on the same customers and print\n"
    "one table: silhouette, Davies-Bouldin, Calinski-Harabasz, BIC (gmm), segment-size\n"
    "balance, outliers (dbscan) and stability (mean adjusted Rand index over bootstrap\n"
    "resamples), then recommend one candidate (rule in docs/algorithms.md). FILE is a\n"
    "transaction log (read as `custseg run` does) or a customer table (as `custseg fit`);\n"
    "the header decides. Nothing is written; the table goes to stdout.\n"
    "\n"
    "  --algos a,b,...   algorithms (default kmeans,ward,gmm,dbscan; also complete,\n"
    "                    average, single)\n"
    "  --k A..B | N      candidate numbers of segments (default 2..10; dbscan finds its own)\n"
    "  --bootstrap B     resamples per candidate for stability (default 10; 0 = skip)\n"
    "  --subsample N     compare on a uniform sample of N customers when there are more\n"
    "                    (default 20000; 0 = all)\n"
    "  --format text|json   output format (default text)\n"
    "  --features, --scale, --log, --pca, --seed, --n-init, --max-iter, --tol, --sample,\n"
    "  --eps, --min-samples, --covariance, --threads, --quiet: as for run and fit;\n"
    "  the column options of run (--customer, --date, ...) or fit (--id) apply to FILE.\n";

/* Find FILE among the arguments (options of run and fit may take values),
 * decide from its header whether it is a transaction log, and hand over to
 * run's or fit's input handling in compare mode. */
int cmd_compare(int argc, char **argv)
{
    static const struct option longopts[] = {
        SEG_LONG_OPTIONS,
        RUN_LONG_OPTIONS,
        {"id", required_argument, 0, OPT_ID},
        {0, 0, 0, 0}};
    int opt, log_roles = 0;
    const char *file = NULL;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (opt == '?')
            return cli_usage_error("compare", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        log_roles |= opt == OPT_CUSTOMER || opt == OPT_DATE || opt == OPT_INVOICE ||
                     opt == OPT_QUANTITY || opt == OPT_PRICE || opt == OPT_AMOUNT;
    }
    if (optind < argc)
        file = argv[optind];
    int is_log = log_roles;
    if (file && !is_log) {
        cseg_csv *r = NULL;
        cseg_diag diag;
        cseg_txn_roles roles;
        memset(&roles, 0, sizeof roles);
        if (cseg_csv_open(&r, file, NULL, &diag) == 0) {
            size_t nc = cseg_csv_n_columns(r);
            const char **hdr = calloc(nc ? nc : 1, sizeof *hdr);
            for (size_t c = 0; hdr && c < nc; c++)
                hdr[c] = cseg_csv_column_name(r, c);
            is_log = hdr && cseg_txn_roles_resolve(&roles, hdr, nc, file, NULL) == 0;
            free(hdr);
            cseg_csv_close(r);
        }
    }
    return is_log ? cmd_run(argc, argv) : cmd_fit(argc, argv);
}
