/* custseg run: transaction log -> cleaning -> RFM features -> segments. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: custseg run FILE [options]\n"
    "\n"
    "Segment the customers of a transaction log (CSV or CSV.gz, one row per order line).\n"
    "Cleans the log, computes RFM and other features per customer, picks k, clusters (k-means\n"
    "unless --algo says otherwise) and names the segments. Writes customers.csv,\n"
    "segments.json, model.json and report.html to --out and prints a summary.\n"
    "\n"
    "Columns (detected from common names when not given):\n"
    "  --customer COL  --date COL  --invoice COL  --quantity COL  --price COL\n"
    "  --amount COL    --product COL\n"
    "  --date-format FMT    strptime format for dates (default: detect)\n"
    "  --delimiter C        field separator (default: detect among , ; TAB |)\n"
    "  --as-of DATE         analysis day (default: the day after the last transaction)\n"
    "  --spend-window DAYS  window of spend_{DAYS}d (default 90: spend_90d)\n"
    "  --keep-duplicates    do not drop exact duplicate rows\n"
    "  --money-decimals N   minor unit of the currency: monetary, avg_order_value and\n"
    "                       spend are exact sums rounded to N decimals (default 2)\n"
    "  --clv                lifetime value (docs/clv.md): BG/NBD and Gamma-Gamma fitted on\n"
    "                       the log; customers.csv gains the BTYD summary (btyd_*), p_alive,\n"
    "                       expected_purchases, expected_order_value and clv (features for\n"
    "                       --features too); segments.json and the report the models\n"
    "  --unit days|weeks    --clv time unit (default days)\n"
    "  --horizon MONTHS     --clv: expected_purchases and clv over this many months (12)\n"
    "  --discount RATE      --clv: monthly discount rate (default 0.01)\n"
    "  --attributes A,B     customer attributes to carry from the log (e.g. Country): each\n"
    "                       customer's most frequent value (ties: the latest), a text column\n"
    "                       of customers.csv, profiled per segment; a feature if listed in\n"
    "                       --features (one-hot)\n"
    "\n"
    "Segmentation (default features: recency_days,frequency,monetary):\n" SEG_OPTIONS_HELP;

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        SEG_LONG_OPTIONS,
        RUN_LONG_OPTIONS,
        CLV_LONG_OPTIONS,
        {"clv", no_argument, 0, OPT_CLV},
        {0, 0, 0, 0}};
    seg_opts o;
    cseg_txn_roles roles;
    cseg_rfm_params rfm;
    cseg_csv_params csv;
    const char *date_format = NULL;
    int opt, status = EXIT_OK, clv_option = 0;
    /* `custseg compare` runs this command's input handling with its own name. */
    const char *cmd = argc > 0 && strcmp(argv[0], "compare") == 0 ? "compare" : "run";
    seg_opts_init(&o, cmd);
    memset(&roles, 0, sizeof roles);
    cseg_rfm_params_init(&rfm);
    cseg_csv_params_init(&csv);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int r = seg_opts_parse(&o, cmd, opt, optarg);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if ((r = cli_parse_clv_option(cmd, opt, optarg, &rfm.clv)) < 0)
            return EXIT_USAGE;
        if (r > 0) {
            clv_option = 1;
            continue;
        }
        if ((r = cli_parse_log_option(cmd, opt, optarg, &roles, &rfm, &csv, &date_format)) < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case OPT_CLV:
            rfm.clv.enabled = 1;
            break;
        case '?':
        default:
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    o.argc = argc;
    o.argv = argv;
    if (seg_opts_finish(&o))
        return EXIT_USAGE;
    if (clv_option && !rfm.clv.enabled)
        return cli_usage_error(cmd, "--unit, --horizon and --discount go with --clv");
    if (optind + 1 != argc)
        return cli_usage_error(cmd, optind >= argc ? "missing the input FILE"
                                                     : "expected one input FILE");
    const char *path = argv[optind];
    char name[1400];
    if (seg_source_name(&o, path, name, sizeof name))
        return EXIT_USAGE;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_table *txn = NULL, *customers = NULL;
    cseg_quality quality;
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.csv = csv;
    rp.date_format = date_format;
    rp.n_threads = o.p.n_threads;
    cli_meter meter = {name, cli_now(), 0, 0};
    if (cli_show_progress(&o.c)) {
        rp.progress = cli_meter_progress;
        rp.progress_user = &meter;
    }
    /* A log file is read a chunk at a time, its customers built as it goes
     * (memory grows with customers, not rows), unless a step needs every
     * row: lifetime value's checks, pseudonymized ids (customers are ordered
     * by the pseudonyms), compare's resamples; a database source is read whole. */
    int stream = !cseg_db_is_uri(path) && !rfm.clv.enabled && !o.pseudonymize &&
                 strcmp(cmd, "run") == 0;
    /* Under mpirun every process reads its share of the log (docs/scale-out.md). */
    if (cli_mpi_size() > 1 && !stream)
        return cli_usage_error(cmd, "under mpirun the log must be a file, without --clv or "
                                    "--pseudonymize (docs/scale-out.md)");
    /* The processes on one machine share its cores while they read; rank 0
     * segments alone afterwards, with every thread. */
    if (cli_mpi_size() > 1 && o.p.n_threads == 0)
        rp.n_threads = cli_mpi_threads();
    /* A k-means segmentation keeps the customers in parts, each process its
     * block (docs/scale-out.md); else the first gathers them all. */
    int parts = cli_mpi_size() > 1 && o.p.algo == CSEG_ALGO_KMEANS && !o.previous && !o.db &&
                strcmp(cmd, "run") == 0;
    if (parts && o.c.verbose)
        fprintf(stderr, "custseg: %d processes segment the customers in parts, each its own\n",
                cli_mpi_size());
    int rc =
        cseg_db_is_uri(path) ? cseg_db_read_txn(&txn, path, o.table, o.query, &roles, &rp, &diag)
        : cli_mpi_size() > 1
            ? cli_mpi_rfm(&customers, path, &roles, &rp, &rfm, &quality, parts, o.c.verbose, &diag)
        : stream ? cseg_rfm_compute_csv(&customers, path, &roles, &rp, &rfm, &quality, &diag)
                 : cseg_txn_read(&txn, path, &roles, &rp, &diag);
    cli_meter_end(&meter);
    if (rc < 0)
        return cli_fail(rc, &diag, name);
    /* Rank 0 segments the customers and writes the outputs; the others take
     * part in its k-means fits. */
    if (!parts && cli_mpi_rank() > 0)
        return cli_mpi_kmeans_serve();
    if (!parts)
        cli_mpi_kmeans_lead();
    /* Attributes reach every output: personal data is refused unless allowed
     * (judged on the values the customers carry: each one's most frequent). */
    for (size_t a = 0; a < roles.n_attributes && !o.allow_pii; a++) {
        const cseg_table *t = txn ? txn : customers;
        long j = cseg_table_find(t, roles.attributes[a]);
        long jc = txn ? cseg_table_find(txn, roles.customer) : -1;
        const char *kind = NULL;
        if (parts && j >= 0 && (rc = cli_mpi_pii_kind(t, (size_t)j, &kind, &diag)) < 0) {
            cseg_table_free(customers);
            return cli_fail(rc, &diag, NULL);
        }
        if (!parts) /* in parts: judged over every process's customers, above */
            kind = j < 0     ? NULL
                   : jc >= 0 ? cseg_pii_kind_by(t, (size_t)j, (size_t)jc)
                             : cseg_pii_kind(t, (size_t)j);
        if (kind) {
            cseg_table_free(txn);
            cseg_table_free(customers);
            return cli_usage_error(cmd, "attribute column \"%s\" looks like %s: personal "
                                        "data is not carried (--allow-pii to carry it)",
                                   roles.attributes[a], kind);
        }
    }
    if (txn && (status = seg_pseudonymize(&o, txn, roles.customer, 0)) != 0) {
        cseg_table_free(txn);
        return status;
    }
    if (o.c.verbose)
        fprintf(stderr, "custseg: %s: %zu rows; customer=%s date=%s invoice=%s quantity=%s "
                        "price=%s amount=%s product=%s\n",
                name, txn ? cseg_table_n_rows(txn) : quality.n_rows, roles.customer, roles.date,
                roles.invoice[0] ? roles.invoice : "-", roles.quantity[0] ? roles.quantity : "-",
                roles.price[0] ? roles.price : "-", roles.amount[0] ? roles.amount : "-",
                roles.product[0] ? roles.product : "-");
    seg_source src = {name,     txn,  &roles, date_format,
                      &rfm,     NULL, NULL,   customers ? &customers : NULL,
                      &quality, parts};
    status = seg_run(&o, &src);
    cseg_table_free(txn);
    cseg_table_free(customers);
    return status;
}
