/* custseg clv: customer lifetime value from a transaction log or a BTYD
 * summary (docs/clv.md). The library fits and predicts; this file reads the
 * input, prints and writes clv.csv. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char help[] =
    "usage: custseg clv FILE [options]\n"
    "\n"
    "Fit the BG/NBD purchase model and the Gamma-Gamma spend model to a transaction log\n"
    "(as run reads it) or, with --summary, to a per-customer summary, print the models and\n"
    "write --out/clv.csv: per customer the summary (frequency = repeat purchase days,\n"
    "recency, T, monetary_value), p_alive, expected_purchases, expected_order_value, clv.\n"
    "\n"
    "  --calibration-end DATE  last day of the calibration period (default: the log's last\n"
    "                       day); later purchases up to --holdout-end are the holdout, and\n"
    "                       the predicted holdout purchases are compared with the actual\n"
    "  --holdout-end DATE   last day of the holdout (default: the log's last day)\n"
    "  --unit days|weeks    time unit of recency, T and the parameters (default days)\n"
    "  --horizon MONTHS     expected_purchases and clv over this many months (default 12)\n"
    "  --discount RATE      monthly discount rate of clv (default 0.01)\n"
    "  --summary            FILE is a summary: columns frequency, recency, T and optionally\n"
    "                       monetary_value (or btyd_frequency, ...), an id column optional\n"
    "  --max-iter N         optimiser iterations (default 500)\n"
    "  --format table|json  what to print (default table)\n"
    "  --html FILE          also write a page: the models, the holdout check as a chart,\n"
    "                       P(alive) by frequency and recency\n"
    "  --out DIR            output folder for clv.csv (default out)\n"
    "  --customer COL  --date COL  --invoice COL  --quantity COL  --price COL  --amount COL\n"
    "  --date-format FMT  --delimiter C  --keep-duplicates  --money-decimals N\n"
    "                       the log's columns and cleaning, as for run\n"
    "  --threads N          threads (default: all cores)\n"
    "  --quiet              print nothing but errors\n"
    "\n"
    "A fit that does not converge is reported (and the output still written) with why.\n"
    "Exit status: 0 done, 1 data the models cannot use, 2 usage error, 3 I/O error.\n";

enum { O_CAL_END = 3200, O_HOLD_END, O_SUMMARY, O_HTML };

typedef struct clv_input {
    cseg_table *cal;      /* customers with the summary columns (btyd_*) and the predictions */
    double *holdout;      /* repeat purchase days in the holdout, or NULL */
    double duration;      /* holdout length in units */
    cseg_clv_check check; /* the library's holdout check, when there is a holdout */
    size_t n_rows;        /* rows read */
    long long first_day, cal_end, hold_end;
} clv_input;

/* The summary file: its columns, checked, into a table of btyd_* columns. */
static int read_summary(const char *path, const cseg_csv_params *csv, clv_input *in)
{
    /* The btyd_* names first: a customers.csv of run --clv also has an RFM
     * "frequency" (invoices), which is not the BTYD one. */
    static const char *const want[4][2] = {{CSEG_CLV_COL_FREQUENCY, "frequency"},
                                           {CSEG_CLV_COL_RECENCY, "recency"},
                                           {CSEG_CLV_COL_T, "T"},
                                           {CSEG_CLV_COL_MONETARY, "monetary_value"}};
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.csv = *csv;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_table *t = NULL;
    /* An id column (by name) is read as text ids: 12346, not row numbers. */
    char idcol[CSEG_ROLE_NAME_MAX] = "";
    cseg_csv *hdr = NULL;
    int rc = cseg_csv_open(&hdr, path, csv, &diag);
    if (rc < 0)
        return cli_fail(rc, &diag, path);
    for (size_t j = 0; j < cseg_csv_n_columns(hdr) && !idcol[0]; j++)
        if (cseg_is_customer_id_name(cseg_csv_column_name(hdr, j), CSEG_ID_IN_TABLE))
            snprintf(idcol, sizeof idcol, "%s", cseg_csv_column_name(hdr, j));
    /* The summary's columns read as numbers: a value that is not one is
     * named by its line and column. */
    cseg_colspec spec[5];
    size_t ns = 0;
    if (idcol[0])
        spec[ns++] = (cseg_colspec){idcol, CSEG_COL_TEXT, 1};
    for (int k = 0; k < 4; k++)
        for (int a = 0; a < 2; a++) {
            long j = -1;
            for (size_t c = 0; c < cseg_csv_n_columns(hdr) && j < 0; c++)
                if (strcmp(cseg_csv_column_name(hdr, c), want[k][a]) == 0)
                    j = (long)c;
            if (j >= 0) {
                spec[ns++] = (cseg_colspec){want[k][a], CSEG_COL_NUMBER, 0};
                break;
            }
        }
    rp.specs = spec;
    rp.n_specs = ns;
    rc = cseg_table_read_csv(&t, path, &rp, &diag);
    cseg_csv_close(hdr);
    if (rc < 0)
        return cli_fail(rc, &diag, path);
    size_t n = cseg_table_n_rows(t);
    const double *col[4] = {NULL, NULL, NULL, NULL};
    long where[4] = {-1, -1, -1, -1};
    for (int k = 0; k < 4; k++) {
        for (int a = 0; a < 2 && where[k] < 0; a++)
            where[k] = cseg_table_find(t, want[k][a]);
        if (where[k] < 0 && k < 3) {
            cseg_table_free(t);
            return cli_error(EXIT_DATA,
                             "%s: no column \"%s\" (a summary has frequency, recency, "
                             "T and optionally monetary_value)",
                             path, want[k][1]);
        }
        if (where[k] >= 0 && !(col[k] = cseg_table_numbers(t, (size_t)where[k]))) {
            int st = cli_error(EXIT_DATA, "%s: column \"%s\" holds something else than numbers",
                               path, cseg_table_col_name(t, (size_t)where[k]));
            cseg_table_free(t); /* after the message, which names one of its columns */
            return st;
        }
    }
    int field = 0;
    char why[160];
    long bad = -1;
    for (size_t i = 0; i < n && bad < 0; i++) { /* the first bad row; a missing value (NaN) as such */
        for (int k = 0; k < 4 && col[k] && bad < 0; k++)
            if (isnan(col[k][i])) {
                bad = (long)i;
                field = k;
                snprintf(why, sizeof why, "missing %s", want[k][1]);
            }
        if (bad < 0 && cseg_clv_check_summary(col[0] + i, col[1] + i, col[2] + i,
                                              col[3] ? col[3] + i : NULL, 1, &field, why,
                                              sizeof why) == 0)
            bad = (long)i;
    }
    if (bad >= 0) {
        fprintf(stderr, "custseg: %s:%ld:%ld: %s\n", path, cseg_table_row_line(t, (size_t)bad),
                where[field] + 1, why);
        cseg_table_free(t);
        return EXIT_DATA;
    }
    /* An id column when there is one (by name), else row numbers. */
    const char *idname = NULL;
    for (size_t j = 0; j < cseg_table_n_cols(t) && !idname; j++)
        if (cseg_is_customer_id_name(cseg_table_col_name(t, j), CSEG_ID_IN_TABLE) &&
            cseg_table_codes(t, j))
            idname = cseg_table_col_name(t, j);
    rc = cseg_table_create(&in->cal, n);
    int32_t *codes = malloc((n ? n : 1) * sizeof *codes);
    char **lv = malloc((n ? n : 1) * sizeof *lv);
    char *buf = malloc((n ? n : 1) * 24);
    if (rc == 0 && codes && lv && buf) {
        long jid = idname ? cseg_table_find(t, idname) : -1;
        if (jid >= 0) {
            size_t nl = cseg_table_n_levels(t, (size_t)jid);
            const char **levels = malloc((nl ? nl : 1) * sizeof *levels);
            if (levels) {
                for (size_t k = 0; k < nl; k++)
                    levels[k] = cseg_table_level(t, (size_t)jid, (int32_t)k);
                rc = cseg_table_add_text(in->cal, CSEG_RFM_COL_CUSTOMER_ID, levels, nl,
                                         cseg_table_codes(t, (size_t)jid));
                free(levels);
            } else {
                rc = CSEG_ENOMEM;
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                lv[i] = buf + 24 * i;
                snprintf(lv[i], 24, "%zu", i + 1);
                codes[i] = (int32_t)i;
            }
            rc = cseg_table_add_text(in->cal, CSEG_RFM_COL_CUSTOMER_ID, (const char *const *)lv, n,
                                     codes);
        }
        for (int k = 0; k < 4 && rc == 0; k++) /* the spend column may be absent */
            if (col[k])
                rc = cseg_table_add_numbers(in->cal, want[k][0], col[k]);
    } else if (rc == 0) {
        rc = CSEG_ENOMEM;
    }
    free(codes);
    free(lv);
    free(buf);
    in->n_rows = n;
    cseg_table_free(t);
    return rc < 0 ? cli_fail(rc, NULL, path) : 0;
}

/* The log: the calibration summary, and the holdout from a second summary
 * of the whole period. */
static int read_log(const char *path, cseg_txn_roles *roles, const char *date_format,
                    const cseg_csv_params *csv, cseg_rfm_params *rfm, int threads, clv_input *in)
{
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.csv = *csv;
    rp.date_format = date_format;
    rp.n_threads = threads;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_table *txn = NULL, *full = NULL;
    cseg_quality q;
    int rc = cseg_txn_read(&txn, path, roles, &rp, &diag);
    if (rc < 0)
        return cli_fail(rc, &diag, path);
    cseg_rfm_params whole = *rfm;
    whole.as_of_day = in->hold_end == CSEG_DAY_AUTO ? CSEG_DAY_AUTO : in->hold_end + 1;
    if ((rc = cseg_rfm_compute(&full, txn, roles, &whole, &q, &diag)) < 0)
        goto fail;
    in->n_rows = q.n_rows;
    in->first_day = q.first_day;
    int hold_given = in->hold_end != CSEG_DAY_AUTO;
    if (!hold_given)
        in->hold_end = q.last_day;
    if (in->cal_end == CSEG_DAY_AUTO)
        in->cal_end = in->hold_end;
    if (in->cal_end > in->hold_end) {
        char a[16];
        cseg_format_date(in->hold_end, a, sizeof a);
        rc = hold_given ? cli_error(EXIT_USAGE, "clv: --calibration-end is after --holdout-end")
                        : cli_error(EXIT_DATA,
                                    "%s: --calibration-end is after the last purchase (%s): "
                                    "nothing is left to check the fit against",
                                    path, a);
        goto done;
    }
    if (in->cal_end < q.first_day) {
        char a[16];
        cseg_format_date(q.first_day, a, sizeof a);
        rc = cli_error(EXIT_DATA, "%s: no purchase by the calibration end (the first is on %s)",
                       path, a);
        goto done;
    }
    rfm->as_of_day = in->cal_end + 1;
    if ((rc = cseg_rfm_compute(&in->cal, txn, roles, rfm, NULL, &diag)) < 0)
        goto fail;
    if (in->cal_end < in->hold_end) {
        size_t n = cseg_table_n_rows(in->cal);
        in->duration = (double)(in->hold_end - in->cal_end) / rfm->clv.unit_days;
        if (!(in->holdout = malloc((n ? n : 1) * sizeof *in->holdout)))
            rc = CSEG_ENOMEM;
        else
            rc = cseg_clv_holdout(in->cal, full, in->holdout, &diag);
        if (rc == 0)
            rc = cseg_clv_check_holdout(&in->check, txn, roles, rfm, in->cal_end, in->hold_end,
                                        &diag);
        if (rc < 0)
            goto fail;
    }
    rc = 0;
    goto done;
fail:
    rc = cli_fail(rc, &diag, path);
done:
    cseg_table_free(full);
    cseg_table_free(txn);
    return rc;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const double *column(const cseg_table *t, const char *name)
{
    long j = cseg_table_find(t, name);
    return j >= 0 ? cseg_table_numbers(t, (size_t)j) : NULL;
}

/* Holdout check: customers grouped by calibration repeat purchases 0..6, 7+. */
enum { GROUPS = CSEG_CLV_CHECK_GROUPS };
typedef struct holdout_row {
    size_t n;
    double actual, predicted; /* means */
} holdout_row;

static void group_label(int k, char *buf, size_t size)
{
    if (k == GROUPS)
        snprintf(buf, size, "all");
    else
        snprintf(buf, size, k == GROUPS - 1 ? "%d+" : "%d", k);
}

/* The library's holdout check as rows, the total last. */
static void holdout_table(const clv_input *in, holdout_row *g)
{
    for (int k = 0; k < GROUPS; k++)
        g[k] = (holdout_row){in->check.customers[k], in->check.actual[k], in->check.predicted[k]};
    g[GROUPS] = (holdout_row){in->check.n, in->check.actual_all, in->check.predicted_all};
}

/* clv.csv: the id, the summary under lifetimes' names, the holdout, the predictions. */
static int output_table(const cseg_table *t, cseg_table **out)
{
    static const char *const cols[][2] = {{CSEG_CLV_COL_FREQUENCY, "frequency"},
                                          {CSEG_CLV_COL_RECENCY, "recency"},
                                          {CSEG_CLV_COL_T, "T"},
                                          {CSEG_CLV_COL_MONETARY, "monetary_value"},
                                          {"frequency_holdout", "frequency_holdout"},
                                          {CSEG_CLV_COL_P_ALIVE, CSEG_CLV_COL_P_ALIVE},
                                          {CSEG_CLV_COL_EXPECTED, CSEG_CLV_COL_EXPECTED},
                                          {CSEG_CLV_COL_ORDER_VALUE, CSEG_CLV_COL_ORDER_VALUE},
                                          {CSEG_CLV_COL_CLV, CSEG_CLV_COL_CLV}};
    size_t n = cseg_table_n_rows(t), jid = (size_t)cseg_table_find(t, CSEG_RFM_COL_CUSTOMER_ID);
    size_t nl = cseg_table_n_levels(t, jid);
    const char **levels = malloc((nl ? nl : 1) * sizeof *levels);
    int rc = levels ? cseg_table_create(out, n) : CSEG_ENOMEM;
    for (size_t k = 0; levels && k < nl; k++)
        levels[k] = cseg_table_level(t, jid, (int32_t)k);
    if (rc == 0)
        rc = cseg_table_add_text(*out, CSEG_RFM_COL_CUSTOMER_ID, levels, nl,
                                 cseg_table_codes(t, jid));
    for (size_t c = 0; rc == 0 && c < sizeof cols / sizeof cols[0]; c++) {
        const double *v = column(t, cols[c][0]);
        if (v)
            rc = cseg_table_add_numbers(*out, cols[c][1], v);
    }
    free(levels);
    return rc;
}

/* --html: the library's page, with the holdout groups (g NULL: none), the
 * oldest customer and the repeat purchases of all but the 1% most frequent. */
static int write_page(const char *html, const char *path, const cseg_clv_params *p,
                      const clv_input *in, const holdout_row *g)
{
    const cseg_table *t = in->cal;
    size_t n = cseg_table_n_rows(t);
    const double *x = column(t, CSEG_CLV_COL_FREQUENCY), *T = column(t, CSEG_CLV_COL_T);
    double *sorted = malloc((n ? n : 1) * sizeof *sorted), maxT = 0;
    if (!sorted)
        return cli_error(EXIT_IO, "out of memory");
    for (size_t i = 0; i < n; i++) {
        maxT = T[i] > maxT ? T[i] : maxT;
        sorted[i] = x[i];
    }
    qsort(sorted, n, sizeof *sorted, cmp_double);
    double maxf = n ? sorted[(size_t)ceil(0.99 * (double)(n - 1))] : 0;
    free(sorted);
    char labels[GROUPS + 1][16];
    const char *lp[GROUPS + 1];
    size_t cust[GROUPS + 1];
    double act[GROUPS + 1], pred[GROUPS + 1];
    for (int k = 0; g && k <= GROUPS; k++) {
        group_label(k, labels[k], sizeof labels[k]);
        lp[k] = labels[k];
        cust[k] = g[k].n;
        act[k] = g[k].actual;
        pred[k] = g[k].predicted;
    }
    cseg_diag diag;
    cseg_diag_clear(&diag);
    /* the chart and table show the groups, not the total */
    int rc = cseg_report_write_clv(html, path, p, maxT, maxf, g ? GROUPS : 0, lp, cust, act, pred,
                                   &diag);
    return rc < 0 ? cli_fail(rc, &diag, html) : 0;
}

static void print_fit(const char *title, const cseg_clv_fit *f, const char *const *names, int dim)
{
    printf("%s on %zu customers: %s\n", title, f->n, f->message);
    for (int j = 0; j < dim; j++)
        printf("  %-6s %12.6g   (se %.3g)\n", names[j], f->param[j], f->se[j]);
    printf("  log-likelihood %.4f\n", f->loglik);
}

int cmd_clv(int argc, char **argv)
{
    static const struct option longopts[] = {{"calibration-end", required_argument, 0, O_CAL_END},
                                             {"holdout-end", required_argument, 0, O_HOLD_END},
                                             CLV_LONG_OPTIONS,
                                             {"summary", no_argument, 0, O_SUMMARY},
                                             {"html", required_argument, 0, O_HTML},
                                             {"max-iter", required_argument, 0, OPT_MAX_ITER},
                                             {"format", required_argument, 0, OPT_FORMAT},
                                             {"out", required_argument, 0, OPT_OUT},
                                             {"threads", required_argument, 0, OPT_THREADS},
                                             {"quiet", no_argument, 0, OPT_QUIET},
                                             {"help", no_argument, 0, OPT_HELP},
                                             RUN_LONG_OPTIONS,
                                             {0, 0, 0, 0}};
    cseg_txn_roles roles;
    cseg_rfm_params rfm;
    cseg_csv_params csv;
    clv_input in;
    const char *date_format = NULL, *out_dir = "out", *html = NULL;
    int opt, json = 0, summary = 0, quiet = 0;
    memset(&roles, 0, sizeof roles);
    memset(&in, 0, sizeof in);
    in.cal_end = in.hold_end = CSEG_DAY_AUTO;
    cseg_rfm_params_init(&rfm);
    cseg_csv_params_init(&csv);
    rfm.clv.enabled = 1;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        long v;
        int r = cli_parse_clv_option("clv", opt, optarg, &rfm.clv);
        if (r == 0)
            r = cli_parse_log_option("clv", opt, optarg, &roles, &rfm, &csv, &date_format);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case O_CAL_END:
        case O_HOLD_END:
            if (cli_parse_day(optarg, opt == O_CAL_END ? &in.cal_end : &in.hold_end) < 0)
                return cli_usage_error("clv", "--%s must be a date (YYYY-MM-DD)",
                                       opt == O_CAL_END ? "calibration-end" : "holdout-end");
            break;
        case O_SUMMARY:
            summary = 1;
            break;
        case O_HTML:
            if (!*optarg)
                return cli_usage_error("clv", "--html needs a file name");
            html = optarg;
            break;
        case OPT_MAX_ITER:
            if (cli_parse_int(optarg, 1, 100000, &v) < 0)
                return cli_usage_error("clv", "--max-iter must be 1..100000");
            rfm.clv.max_iter = (size_t)v;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
                return cli_usage_error("clv", "--format must be table or json");
            json = strcmp(optarg, "json") == 0;
            break;
        case OPT_OUT:
            if (!*optarg)
                return cli_usage_error("clv", "--out needs a folder");
            out_dir = optarg;
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, &rfm.clv.n_threads) < 0)
                return cli_usage_error("clv", "--threads must be 0..1024");
            break;
        case OPT_QUIET:
            quiet = 1;
            break;
        case '?':
        default:
            return cli_usage_error("clv",
                                   "unknown or incomplete option '%s' (run, not clv, "
                                   "takes segmentation options)",
                                   argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("clv", optind >= argc ? "missing the input FILE"
                                                     : "expected one input FILE");
    const char *path = argv[optind];
    int same = cli_output_is_input("clv", "--html", html, &path, (const char *[]){"the input"}, 1);
    if (!same)
        same = cli_folder_output_is_input("clv", out_dir, (const char *[]){"clv.csv"}, 1, path,
                                          "the input");
    if (same)
        return same;
    if (rfm.as_of_day != CSEG_DAY_AUTO)
        return cli_usage_error("clv", "the calibration period ends with --calibration-end, not "
                                      "--as-of");
    if (summary && (in.cal_end != CSEG_DAY_AUTO || in.hold_end != CSEG_DAY_AUTO))
        return cli_usage_error("clv", "--calibration-end and --holdout-end are for a "
                                      "transaction log, not a --summary");
    int status = summary ? read_summary(path, &csv, &in)
                         : read_log(path, &roles, date_format, &csv, &rfm, rfm.clv.n_threads, &in);
    if (status != 0) {
        cseg_table_free(in.cal);
        free(in.holdout);
        return status;
    }
    cseg_diag diag;
    cseg_diag_clear(&diag);
    int rc = cseg_clv_fit_table(&rfm.clv, in.cal, &diag);
    if (rc == 0)
        rc = cseg_clv_add_columns(in.cal, &rfm.clv, &diag);
    if (rc == 0 && in.holdout)
        rc = cseg_table_add_numbers(in.cal, "frequency_holdout", in.holdout);
    char file[4200] = "", part[4300] = "";
    if (rc == 0) {
        if (cli_make_dir(out_dir) < 0) {
            status = cli_error(EXIT_IO, "%s: cannot make the folder: %s", out_dir, strerror(errno));
            goto done;
        }
        /* clv.csv under a name of its own until the page is written too:
         * a page that cannot be written leaves the folder as it was. */
        snprintf(file, sizeof file, "%s/clv.csv", out_dir);
        snprintf(part, sizeof part, "%s/.clv.csv.%ld", out_dir, (long)getpid());
        cseg_table *ot = NULL;
        if ((rc = output_table(in.cal, &ot)) == 0)
            rc = cseg_table_write_csv(ot, part, &diag);
        cseg_table_free(ot);
    }
    if (rc < 0) {
        if (part[0] && strcmp(diag.file, part) == 0) /* named as it will be */
            snprintf(diag.file, sizeof diag.file, "%.*s", (int)sizeof diag.file - 1, file);
        status = cli_fail(rc, &diag, path);
        goto done;
    }
    holdout_row g[GROUPS + 1];
    if (in.holdout)
        holdout_table(&in, g);
    size_t n = cseg_table_n_rows(in.cal);
    if (html && (status = write_page(html, path, &rfm.clv, &in, in.holdout ? g : NULL)) != 0) {
        unlink(part);
        goto done;
    }
    if (rename(part, file) != 0) {
        status = cli_error(EXIT_IO, "%s: cannot write: %s", file, strerror(errno));
        unlink(part);
        goto done;
    }
    if (json) {
        char *text = cseg_clv_json(&rfm.clv);
        json_t *root = json_object(), *models = text ? json_loads(text, 0, NULL) : NULL;
        free(text);
        json_object_set_new(root, "input", json_string(path));
        json_object_set_new(root, "customers", json_integer((json_int_t)n));
        if (!summary) {
            char a[16], b[16];
            cseg_format_date(in.first_day, a, sizeof a);
            cseg_format_date(in.cal_end, b, sizeof b);
            json_object_set_new(root, "calibration", json_pack("{s:s,s:s}", "first", a, "end", b));
        }
        json_object_set_new(root, "models", models ? models : json_null());
        if (in.holdout) {
            json_t *rows = json_array();
            for (int k = 0; k <= GROUPS; k++) {
                char lab[16];
                group_label(k, lab, sizeof lab);
                /* "o" with num(): a NaN mean is null, not a row json_pack drops */
                json_array_append_new(rows, json_pack("{s:s,s:I,s:o,s:o}", "frequency", lab,
                                                      "customers", (json_int_t)g[k].n, "actual",
                                                      num(g[k].n ? g[k].actual : NAN), "predicted",
                                                      num(g[k].n ? g[k].predicted : NAN)));
            }
            char b[16];
            cseg_format_date(in.hold_end, b, sizeof b);
            json_object_set_new(root, "holdout",
                                json_pack("{s:s,s:o,s:o}", "end", b, "length", num(in.duration),
                                          "by_frequency", rows));
        }
        json_object_set_new(root, "output", json_string(file));
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        json_decref(root);
        if (!s) {
            status = cli_error(EXIT_IO, "out of memory");
            goto done;
        }
        puts(s);
        free(s);
    } else if (!quiet) {
        const char *unit = rfm.clv.unit_days == 7 ? "weeks" : "days";
        if (summary) {
            printf("custseg clv: %zu customers from the summary %s (time unit: %s)\n\n", n, path,
                   unit);
        } else {
            char a[16], b[16];
            cseg_format_date(in.first_day, a, sizeof a);
            cseg_format_date(in.cal_end, b, sizeof b);
            printf("custseg clv: %zu customers (%zu rows) of %s, calibration %s .. %s (time "
                   "unit: %s)\n\n",
                   n, in.n_rows, path, a, b, unit);
        }
        static const char *const bg[4] = {"r", "alpha", "a", "b"}, *const gg[3] = {"p", "q", "v"};
        print_fit("BG/NBD", &rfm.clv.bgnbd, bg, 4);
        if (rfm.clv.gamma_gamma.kind)
            print_fit("\nGamma-Gamma", &rfm.clv.gamma_gamma, gg, 3);
        else if (rfm.clv.gamma_gamma.message[0])
            printf("\nGamma-Gamma %s\n", rfm.clv.gamma_gamma.message);
        if (in.holdout) {
            char b[16];
            cseg_format_date(in.hold_end, b, sizeof b);
            printf("\nHoldout to %s (%.4g %s): repeat purchases per customer\n", b, in.duration,
                   unit);
            printf("  %-24s %10s %10s %10s\n", "calibration frequency", "customers", "actual",
                   "predicted");
            for (int k = 0; k <= GROUPS; k++) {
                char lab[16];
                group_label(k, lab, sizeof lab);
                if (g[k].n == 0) /* no customer: no mean to show */
                    printf("  %-24s %10zu %10s %10s\n", lab, g[k].n, "-", "-");
                else
                    printf("  %-24s %10zu %10.4f %10.4f\n", lab, g[k].n, g[k].actual,
                           g[k].predicted);
            }
        }
        const double *cl = column(in.cal, CSEG_CLV_COL_CLV);
        double total = 0;
        size_t nv = 0; /* customers with a value: none where the order value is infinite */
        for (size_t i = 0; cl && i < n; i++)
            if (isfinite(cl[i])) {
                total += cl[i];
                nv++;
            }
        if (cl && nv == 0)
            printf("\nNo CLV: the spend model gives no finite order value (q <= 1, "
                   "docs/clv.md)\n");
        else if (cl)
            printf("\nCLV over %g months (monthly discount %g): %.2f in total, %.2f per "
                   "customer%s\n",
                   rfm.clv.horizon_months, rfm.clv.discount, total, total / (double)nv,
                   nv < n ? " (of those with a value)" : "");
        else
            printf("\nNo spend model (see above, or no monetary_value column): purchases and "
                   "P(alive) only, no CLV\n");
        printf("\nWrote %s%s%s\n", file, html ? ", " : "", html ? html : "");
    }
    if (rfm.clv.bgnbd.status != CSEG_CLV_CONVERGED)
        fprintf(stderr, "custseg: clv: BG/NBD %s\n", rfm.clv.bgnbd.message);
    if (rfm.clv.gamma_gamma.kind && rfm.clv.gamma_gamma.status != CSEG_CLV_CONVERGED)
        fprintf(stderr, "custseg: clv: Gamma-Gamma %s\n", rfm.clv.gamma_gamma.message);
done:
    cseg_table_free(in.cal);
    free(in.holdout);
    return status;
}
