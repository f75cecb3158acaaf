/* custseg rules: what each segment buys together (docs/rules.md). The
 * library reads the baskets and mines them; this file prints and writes
 * rules.csv. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char help[] =
    "usage: custseg rules FILE [options]\n"
    "\n"
    "Frequent itemsets and association rules over baskets: the distinct products of each\n"
    "purchase invoice of a transaction log (as run reads it), or with --baskets one basket\n"
    "per line of FILE (items separated by commas). With --by, for the whole population and\n"
    "every segment of a run's customers.csv at once. Writes --out/rules.csv and prints the\n"
    "strongest rules of each group. When --out is the folder of the run --by comes from,\n"
    "its report.html gains the section \"What each segment buys together\".\n"
    "\n"
    "  --baskets            FILE has one basket per line (no header)\n"
    "  --by FILE            a customers.csv of run: each invoice goes to its customer's segment\n"
    "  --min-support S      share of a group's baskets an itemset needs (default 0.01)\n"
    "  --min-confidence C   least confidence of a rule (default 0.5)\n"
    "  --max-len N          largest itemset (default: no limit)\n"
    "  --closed             rules from closed itemsets only\n"
    "  --max-consequent N   items on a rule's right side (default: any; 1 as arules)\n"
    "  --top N              rules kept per group, highest lift first (default: all)\n"
    "  --max-itemsets N     stop (exit 1, with an estimate) beyond N frequent itemsets\n"
    "                       (default 5000000)\n"
    "  --show N             rules printed per group (default 5)\n"
    "  --out DIR            output folder for rules.csv (default out)\n"
    "  --customer COL  --date COL  --invoice COL  --quantity COL  --price COL  --amount COL\n"
    "  --product COL  --date-format FMT  --delimiter C  --as-of DATE\n"
    "                       the log's columns; an item is a --product (detected: StockCode)\n"
    "                       named by its most frequent Description (or product_name,\n"
    "                       item_name) when the log has such a column\n"
    "  --codes              name the items by their product codes, not descriptions\n"
    "  --quiet              print nothing but errors\n"
    "\n"
    "Exit status: 0 done, 1 data it cannot use (or too many itemsets), 2 usage error,\n"
    "3 I/O error.\n";

enum {
    O_BASKETS = 3300,
    O_BY,
    O_MIN_SUPPORT,
    O_MIN_CONF,
    O_MAX_LEN,
    O_CLOSED,
    O_TOP,
    O_MAX_SETS,
    O_SHOW,
    O_MAX_CONS,
    O_CODES
};

/* The column that names the products (Description in Online Retail) when
 * the log has one: rules read better in names than in stock codes. Case,
 * spaces, '_' and '-' are ignored; label receives it ("" when none). */
static void pick_item_column(const char *path, const cseg_csv_params *csv, char *label)
{
    static const char *const names[] = {"description", "productname", "itemname",
                                        "productdescription"};
    cseg_csv *r = NULL;
    label[0] = 0;
    if (cseg_csv_open(&r, path, csv, NULL) < 0)
        return;
    for (size_t j = 0; j < cseg_csv_n_columns(r) && !label[0]; j++) {
        const char *h = cseg_csv_column_name(r, j);
        char sq[64];
        size_t n = 0;
        for (const char *c = h; *c && n + 1 < sizeof sq; c++)
            if (*c != ' ' && *c != '_' && *c != '-')
                sq[n++] = (char)tolower((unsigned char)*c);
        sq[n] = 0;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strcmp(sq, names[k]) == 0 && strlen(h) < CSEG_ROLE_NAME_MAX)
                strcpy(label, h);
    }
    cseg_csv_close(r);
}

/* Whether customers.csv is the one in dir, beside that run's other outputs. */
static int same_run_folder(const char *customers, const char *dir)
{
    char a[4096], b[4096], both[4200];
    snprintf(both, sizeof both, "%s/customers.csv", dir);
    if (!realpath(customers, a) || !realpath(both, b) || strcmp(a, b) != 0)
        return 0;
    snprintf(both, sizeof both, "%s/segments.json", dir);
    if (access(both, R_OK) != 0)
        return 0;
    snprintf(both, sizeof both, "%s/model.json", dir);
    return access(both, R_OK) == 0;
}

/* {a, b}; an item with a comma, a brace, a quote or a space at either end
 * in quotes, as rules.csv writes it ({"KEY FOB , SHED", LUNCH BAG RED}). */
static void print_items(const cseg_assoc *r, const int32_t *v, size_t n)
{
    putchar('{');
    for (size_t i = 0; i < n; i++) {
        const char *it = cseg_assoc_item(r, v[i]);
        size_t l = strlen(it);
        int q = strpbrk(it, ",{}\"") || (l && (it[0] == ' ' || it[l - 1] == ' '));
        fputs(i ? ", " : "", stdout);
        if (q)
            putchar('"');
        for (; *it; it++) {
            if (q && *it == '"')
                putchar('"');
            putchar(*it);
        }
        if (q)
            putchar('"');
    }
    putchar('}');
}

static void print_rules(const cseg_assoc *r, const char *path, size_t show)
{
    size_t ng = cseg_assoc_n_groups(r), n = cseg_assoc_n(r), i = 0;
    printf("%zu rules from %zu frequent itemsets in %s\n", n, cseg_assoc_n_itemsets(r), path);
    for (size_t g = 0; g < ng; g++) {
        size_t first = i;
        while (i < n && cseg_assoc_rule_at(r, i)->group == g)
            i++;
        if (!cseg_assoc_group_mined(r, g)) {
            printf("\n%s: %zu baskets, too few to mine (at least %d)\n",
                   cseg_assoc_group_name(r, g), cseg_assoc_group_baskets(r, g),
                   CSEG_ASSOC_MIN_BASKETS);
            continue;
        }
        printf("\n%s: %zu baskets, %zu frequent itemsets, %zu rules\n", cseg_assoc_group_name(r, g),
               cseg_assoc_group_baskets(r, g), cseg_assoc_group_itemsets(r, g), i - first);
        for (size_t j = first; j < i && j < first + show; j++) {
            const cseg_assoc_rule *x = cseg_assoc_rule_at(r, j);
            printf("  ");
            print_items(r, x->antecedent, x->n_antecedent);
            printf(" -> ");
            print_items(r, x->consequent, x->n_consequent);
            printf("  support %.4f  confidence %.3f  lift %.2f", x->support, x->confidence,
                   x->lift);
            if (g > 0)
                printf("  (lift %.2f against all)", x->lift_population);
            printf("  p %.2g\n", x->p_value);
        }
    }
}

static int parse_share(const char *arg, const char *name, double lo_open, double *out)
{
    double v;
    if (cli_parse_double(arg, &v) < 0 || !(v > lo_open || (lo_open < 0 && v >= 0)) || v > 1)
        return cli_usage_error("rules", "--%s must be a share in %s, 1]", name,
                               lo_open < 0 ? "[0" : "(0");
    *out = v;
    return 0;
}

int cmd_rules(int argc, char **argv)
{
    static const struct option longopts[] = {{"baskets", no_argument, 0, O_BASKETS},
                                             {"by", required_argument, 0, O_BY},
                                             {"min-support", required_argument, 0, O_MIN_SUPPORT},
                                             {"min-confidence", required_argument, 0, O_MIN_CONF},
                                             {"max-len", required_argument, 0, O_MAX_LEN},
                                             {"closed", no_argument, 0, O_CLOSED},
                                             {"top", required_argument, 0, O_TOP},
                                             {"max-itemsets", required_argument, 0, O_MAX_SETS},
                                             {"show", required_argument, 0, O_SHOW},
                                             {"max-consequent", required_argument, 0, O_MAX_CONS},
                                             {"codes", no_argument, 0, O_CODES},
                                             {"out", required_argument, 0, OPT_OUT},
                                             {"quiet", no_argument, 0, OPT_QUIET},
                                             {"help", no_argument, 0, OPT_HELP},
                                             RUN_LONG_OPTIONS,
                                             {0, 0, 0, 0}};
    cseg_assoc_params ap;
    cseg_assoc_params_init(&ap);
    cseg_txn_roles roles;
    cseg_rfm_params rfm;
    cseg_csv_params csv;
    memset(&roles, 0, sizeof roles);
    cseg_rfm_params_init(&rfm);
    cseg_csv_params_init(&csv);
    const char *date_format = NULL, *by = NULL, *out_dir = "out";
    int opt, baskets_file = 0, quiet = 0, no_labels = 0;
    size_t show = 5;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int r = cli_parse_log_option("rules", opt, optarg, &roles, &rfm, &csv, &date_format);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        long v;
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case O_BASKETS:
            baskets_file = 1;
            break;
        case O_BY:
            by = optarg;
            break;
        case O_MIN_SUPPORT:
            if (parse_share(optarg, "min-support", 0, &ap.min_support))
                return EXIT_USAGE;
            break;
        case O_MIN_CONF:
            if (parse_share(optarg, "min-confidence", -1, &ap.min_confidence))
                return EXIT_USAGE;
            break;
        case O_MAX_LEN:
            if (cli_parse_int(optarg, 1, 63, &v) < 0)
                return cli_usage_error("rules", "--max-len must be 1..63");
            ap.max_len = (size_t)v;
            break;
        case O_CLOSED:
            ap.closed = 1;
            break;
        case O_CODES:
            no_labels = 1;
            break;
        case O_MAX_CONS:
            if (cli_parse_int(optarg, 1, 63, &v) < 0)
                return cli_usage_error("rules", "--max-consequent must be 1..63");
            ap.max_consequent = (size_t)v;
            break;
        case O_TOP:
        case O_SHOW:
            if (cli_parse_int(optarg, 0, 100000000, &v) < 0)
                return cli_usage_error("rules", "--%s must be a whole number >= 0",
                                       opt == O_TOP ? "top" : "show");
            *(opt == O_TOP ? &ap.top : &show) = (size_t)v;
            break;
        case O_MAX_SETS:
            if (cli_parse_int(optarg, 1, 1000000000, &v) < 0)
                return cli_usage_error("rules", "--max-itemsets must be 1..1000000000");
            ap.max_itemsets = (size_t)v;
            break;
        case OPT_OUT:
            if (!*optarg)
                return cli_usage_error("rules", "--out needs a folder");
            out_dir = optarg;
            break;
        case OPT_QUIET:
            quiet = 1;
            break;
        case '?':
        default:
            return cli_usage_error("rules", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("rules", optind >= argc ? "missing the input FILE"
                                                       : "expected one input FILE");
    if (baskets_file && by)
        return cli_usage_error("rules", "--by needs a transaction log (its invoices have "
                                        "customers), not --baskets");
    const char *path = argv[optind];
    static const char *const outs[] = {"rules.csv"};
    int same = cli_folder_output_is_input("rules", out_dir, outs, 1, path, "the input");
    if (!same)
        same = cli_folder_output_is_input("rules", out_dir, outs, 1, by, "the --by file");
    if (same)
        return same;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_baskets *b = NULL;
    cseg_assoc *r = NULL;
    int rc, status = EXIT_OK;
    if (baskets_file) {
        rc = cseg_baskets_read(&b, path, csv.delimiter, &diag);
    } else {
        cseg_table_read_params rp;
        cseg_table_read_params_init(&rp);
        rp.csv = csv;
        rp.date_format = date_format;
        cseg_table *txn = NULL;
        /* The label column is read as an attribute (a text column of the
         * table), unless it is the product itself. */
        char label[CSEG_ROLE_NAME_MAX] = "";
        if (!no_labels)
            pick_item_column(path, &csv, label);
        if (label[0] && strcmp(label, roles.product) != 0 &&
            roles.n_attributes < CSEG_ATTRIBUTES_MAX)
            strcpy(roles.attributes[roles.n_attributes++], label);
        else
            label[0] = 0;
        rc = cseg_txn_read(&txn, path, &roles, &rp, &diag);
        if (rc == 0)
            rc = cseg_baskets_from_txn(&b, txn, &roles, label[0] ? label : NULL, rfm.as_of_day,
                                       &diag);
        cseg_table_free(txn);
    }
    if (rc < 0)
        return cli_fail(rc, &diag, path);
    if (by) {
        cseg_table *cust = NULL;
        cseg_table_read_params rp;
        cseg_table_read_params_init(&rp);
        static const cseg_colspec id = {CSEG_RFM_COL_CUSTOMER_ID, CSEG_COL_TEXT, 1};
        rp.specs = &id;
        rp.n_specs = 1;
        rc = cseg_table_read_csv(&cust, by, &rp, &diag);
        if (rc == 0)
            rc = cseg_baskets_set_segments(b, cust, NULL, &diag);
        cseg_table_free(cust);
        if (rc < 0) {
            cseg_baskets_free(b);
            return cli_fail(rc, &diag, by);
        }
    }
    rc = cseg_assoc_mine(&r, b, &ap, &diag);
    cseg_baskets_free(b);
    if (rc < 0)
        return cli_fail(rc, &diag, path);
    /* --by of another log's run: no invoice of this log has a segment. */
    size_t in_segments = 0;
    for (size_t g = 1; by && g < cseg_assoc_n_groups(r); g++)
        in_segments += cseg_assoc_group_baskets(r, g);
    if (by && in_segments == 0 && cseg_assoc_group_baskets(r, 0) > 0)
        fprintf(stderr,
                "custseg: warning: none of the customers of %s is in %s: the segments "
                "have no baskets (is it a run of this log?)\n",
                path, by);
    char file[4200];
    snprintf(file, sizeof file, "%s/rules.csv", out_dir);
    if (cli_make_dir(out_dir) < 0) {
        status = cli_error(EXIT_IO, "%s: cannot make the folder: %s", out_dir, strerror(errno));
    } else if ((rc = cseg_assoc_write_csv(r, file, &diag)) < 0) {
        status = cli_fail(rc, &diag, file);
    } else {
        if (!quiet) {
            print_rules(r, path, show);
            printf("\nWrote %s\n", file);
        }
        /* Into the folder of the run whose customers these are: its report
         * gains "What each segment buys together". */
        if (by && same_run_folder(by, out_dir)) {
            char *rargv[] = {"report", "--quiet", (char *)out_dir, NULL};
            if (cmd_report(3, rargv) == EXIT_OK && !quiet)
                printf("Updated %s/report.html\n", out_dir);
        }
    }
    cseg_assoc_free(r);
    return status;
}
