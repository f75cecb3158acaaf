/* custseg fit: customer table (one row per customer) -> segments. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: custseg fit FILE [options]\n"
    "\n"
    "Segment a customer table (CSV or CSV.gz, one row per customer). Number columns are\n"
    "imputed (median), log-transformed when skewed and scaled; text columns are one-hot\n"
    "encoded. Writes customers.csv, segments.json, model.json and report.html to --out.\n"
    "\n"
    "  --id COL             customer id column (default: detected, e.g. CustomerID; else\n"
    "                       none: rows keep their order)\n"
    "  --delimiter C        field separator (default: detect among , ; TAB |)\n"
    "  --revenue COL        money column for the segments' revenue shares and order\n"
    "                       (default: a column named monetary, revenue, spend or sales)\n"
    "\n"
    "Segmentation (default features: every column but the id; dates are skipped):\n" SEG_OPTIONS_HELP;

int cmd_fit(int argc, char **argv)
{
    static const struct option longopts[] = {SEG_LONG_OPTIONS,
                                              {"id", required_argument, 0, OPT_ID},
                                              {"delimiter", required_argument, 0, OPT_DELIM},
                                              {"revenue", required_argument, 0, OPT_REVENUE},
                                              {0, 0, 0, 0}};
    seg_opts o;
    const char *id = NULL;
    cseg_table_read_params rp;
    int opt, status = EXIT_OK;
    /* `custseg compare` runs this command's input handling with its own name. */
    const char *cmd = argc > 0 && strcmp(argv[0], "compare") == 0 ? "compare" : "fit";
    seg_opts_init(&o, cmd);
    cseg_table_read_params_init(&rp);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int r = seg_opts_parse(&o, cmd, opt, optarg);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case OPT_ID:
            id = optarg;
            break;
        case OPT_REVENUE:
            o.p.revenue_column = optarg;
            break;
        case OPT_DELIM:
            if (cli_parse_delimiter(optarg, &rp.csv.delimiter) < 0)
                return cli_usage_error(cmd, "--delimiter must be one character (or 'tab')");
            break;
        default:
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
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
    cseg_table *t = NULL;
    cseg_colspec idspec;
    if (id) {
        idspec = (cseg_colspec){id, CSEG_COL_TEXT, 1};
        rp.specs = &idspec;
        rp.n_specs = 1;
    }
    int rc = cseg_db_is_uri(path) ? cseg_db_read_table(&t, path, o.table, o.query, &rp, &diag)
                                  : cseg_table_read_csv(&t, path, &rp, &diag);
    if (rc < 0) {
        if (rc == CSEG_ENOCOL && id)
            return cli_error(EXIT_DATA, "%s: the id column \"%s\" is not in the header", name, id);
        return cli_fail(rc, &diag, name);
    }
    /* No --id: a column named like an id (CustomerID, customer_id, ID ...). */
    for (size_t j = 0; j < cseg_table_n_cols(t) && !id; j++)
        if (cseg_is_customer_id_name(cseg_table_col_name(t, j), CSEG_ID_IN_TABLE))
            id = cseg_table_col_name(t, j);
    seg_source src = {name, NULL, NULL, NULL, NULL, t, id};
    status = seg_run(&o, &src);
    cseg_table_free(t);
    return status;
}
