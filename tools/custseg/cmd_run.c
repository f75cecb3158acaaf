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
    "  --attributes A,B     customer attributes to carry from the log (e.g. Country): each\n"
    "                       customer's most frequent value (ties: the latest), a text column\n"
    "                       of customers.csv, profiled per segment; a feature if listed in\n"
    "                       --features (one-hot)\n"
    "\n"
    "Segmentation (default features: recency_days,frequency,monetary):\n" SEG_OPTIONS_HELP;

/* "Country, Channel" -> roles->attributes; -1 for an empty or too long name, -2 for too many. */
static int set_attributes(cseg_txn_roles *roles, const char *arg)
{
    roles->n_attributes = 0;
    for (const char *p = arg; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *a = p, *b = p + len;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (a == b || (size_t)(b - a) >= CSEG_ROLE_NAME_MAX)
            return -1;
        if (roles->n_attributes == CSEG_ATTRIBUTES_MAX)
            return -2;
        memcpy(roles->attributes[roles->n_attributes], a, (size_t)(b - a));
        roles->attributes[roles->n_attributes++][b - a] = 0;
        p = e ? e + 1 : p + len;
    }
    return roles->n_attributes ? 0 : -1;
}

static int set_role(char *dst, const char *arg)
{
    if (strlen(arg) >= CSEG_ROLE_NAME_MAX || !*arg)
        return -1;
    strcpy(dst, arg);
    return 0;
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        SEG_LONG_OPTIONS,
        RUN_LONG_OPTIONS,
        {0, 0, 0, 0}};
    seg_opts o;
    cseg_txn_roles roles;
    cseg_rfm_params rfm;
    cseg_csv_params csv;
    const char *date_format = NULL;
    int opt, status = EXIT_OK;
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
        long v;
        long long day;
        char *dst = NULL;
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case OPT_CUSTOMER: dst = roles.customer; break;
        case OPT_DATE: dst = roles.date; break;
        case OPT_INVOICE: dst = roles.invoice; break;
        case OPT_QUANTITY: dst = roles.quantity; break;
        case OPT_PRICE: dst = roles.price; break;
        case OPT_AMOUNT: dst = roles.amount; break;
        case OPT_PRODUCT: dst = roles.product; break;
        case OPT_DATE_FORMAT:
            date_format = optarg;
            break;
        case OPT_AS_OF:
            if (cli_parse_as_of(cmd, optarg, &day) != 0)
                return EXIT_USAGE;
            rfm.as_of_day = day;
            break;
        case OPT_DELIM:
            if (cli_parse_delimiter(optarg, &csv.delimiter) < 0)
                return cli_usage_error(cmd, "--delimiter must be one character (or 'tab')");
            break;
        case OPT_SPEND_WINDOW:
            if (cli_parse_int(optarg, 0, 100000, &v) < 0)
                return cli_usage_error(cmd, "--spend-window must be a whole number of days");
            rfm.spend_window_days = (int)v;
            break;
        case OPT_KEEP_DUPLICATES:
            rfm.drop_duplicates = 0;
            break;
        case OPT_ATTRIBUTES:
            if ((v = set_attributes(&roles, optarg)) < 0)
                return cli_usage_error(cmd, v == -2 ? "--attributes takes at most %d columns"
                                                    : "--attributes needs column names of 1..%d "
                                                      "bytes, separated by commas",
                                       v == -2 ? CSEG_ATTRIBUTES_MAX : CSEG_ROLE_NAME_MAX - 1);
            break;
        case OPT_MONEY_DECIMALS:
            if (cli_parse_int(optarg, 0, 9, &v) < 0)
                return cli_usage_error(cmd, "--money-decimals must be a whole number 0..9");
            rfm.money_decimals = (int)v;
            break;
        case '?':
        default:
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        if (dst && set_role(dst, optarg) < 0)
            return cli_usage_error(cmd, "column names must be 1..%d bytes",
                                   CSEG_ROLE_NAME_MAX - 1);
    }
    o.argc = argc;
    o.argv = argv;
    if (seg_opts_finish(&o))
        return EXIT_USAGE;
    if (optind + 1 != argc)
        return cli_usage_error(cmd, optind >= argc ? "missing the input FILE"
                                                     : "expected one input FILE");
    const char *path = argv[optind];
    char name[1400];
    if (seg_source_name(&o, path, name, sizeof name))
        return EXIT_USAGE;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_table *txn = NULL;
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.csv = csv;
    rp.date_format = date_format;
    rp.n_threads = o.p.n_threads;
    int rc = cseg_db_is_uri(path)
                 ? cseg_db_read_txn(&txn, path, o.table, o.query, &roles, &rp, &diag)
                 : cseg_txn_read(&txn, path, &roles, &rp, &diag);
    if (rc < 0)
        return cli_fail(rc, &diag, name);
    /* Attributes reach every output: personal data is refused unless allowed. */
    for (size_t a = 0; a < roles.n_attributes && !o.allow_pii; a++) {
        long j = cseg_table_find(txn, roles.attributes[a]);
        const char *kind = j >= 0 ? cseg_pii_kind(txn, (size_t)j) : NULL;
        if (kind) {
            cseg_table_free(txn);
            return cli_usage_error(cmd, "attribute column \"%s\" looks like %s: personal "
                                        "data is not carried (--allow-pii to carry it)",
                                   roles.attributes[a], kind);
        }
    }
    if ((status = seg_pseudonymize(&o, txn, roles.customer)) != 0) {
        cseg_table_free(txn);
        return status;
    }
    if (o.c.verbose)
        fprintf(stderr, "custseg: %s: %zu rows; customer=%s date=%s invoice=%s quantity=%s "
                        "price=%s amount=%s product=%s\n",
                name, cseg_table_n_rows(txn), roles.customer, roles.date,
                roles.invoice[0] ? roles.invoice : "-", roles.quantity[0] ? roles.quantity : "-",
                roles.price[0] ? roles.price : "-", roles.amount[0] ? roles.amount : "-",
                roles.product[0] ? roles.product : "-");
    seg_source src = {name, txn, &roles, date_format, &rfm, NULL, NULL};
    status = seg_run(&o, &src);
    cseg_table_free(txn);
    return status;
}
