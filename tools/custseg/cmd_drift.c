/* custseg drift: how far new customers have moved from a model's training
 * customers (docs/drift.md). The file is read as assign reads it; the
 * library compares it with the reference the model keeps. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: custseg drift MODEL FILE [options]\n"
    "\n"
    "Compare the customers of FILE (a customer table with the model's columns, or a\n"
    "transaction log for a model made by run) with the customers MODEL was trained on:\n"
    "per input column the population stability index (PSI) and the Kolmogorov-Smirnov\n"
    "statistic, the shift of the segment shares, of the mean distance to the segment's\n"
    "centre, and the share of customers no segment fits.\n"
    "\n"
    "  --warn X          PSI from which a column or the segments are flagged (default 0.1)\n"
    "  --alert X         PSI from which drift is an alert: exit status 4 (default 0.25)\n"
    "  --format table|json  what to print (default table)\n"
    "  --html FILE       also write an HTML page of the comparison\n"
    "  --as-of DATE      analysis day for a transaction log (default: the model's)\n"
    "  --delimiter C     field separator of FILE (default: detected)\n"
    "  --help            this help\n"
    "\n"
    "Exit status: 0 no alert (warnings are printed), 4 drift at or above --alert,\n"
    "1 a model or file it cannot use, 2 usage error, 3 I/O error.\n";

enum { O_WARN = 3100, O_ALERT, O_HTML };

static const char *word(cseg_drift_level l)
{
    return l == CSEG_DRIFT_ALERT ? "ALERT" : l == CSEG_DRIFT_WARN ? "warning" : "ok";
}

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *to_json(const cseg_model *m, const cseg_drift_feature *f, size_t nf,
                       const double *rs, const double *ns, const cseg_drift_result *r,
                       const cseg_drift_params *p)
{
    json_t *j = json_object(), *fs = json_array(), *segs = json_array();
    json_object_set_new(j, "level", json_string(word(r->level)));
    json_object_set_new(j, "n_training", json_integer((json_int_t)r->n_ref));
    json_object_set_new(j, "n_new", json_integer((json_int_t)r->n_new));
    json_object_set_new(j, "psi_warn", json_real(p->psi_warn));
    json_object_set_new(j, "psi_alert", json_real(p->psi_alert));
    for (size_t i = 0; i < nf; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(f[i].name));
        json_object_set_new(o, "kind", json_string(f[i].is_text ? "text" : "number"));
        json_object_set_new(o, "psi", num(f[i].psi));
        json_object_set_new(o, "ks", num(f[i].ks));
        json_object_set_new(o, "mean_training", num(f[i].ref_mean));
        json_object_set_new(o, "mean_new", num(f[i].new_mean));
        json_object_set_new(o, "missing_training", num(f[i].ref_missing));
        json_object_set_new(o, "missing_new", num(f[i].new_missing));
        json_object_set_new(o, "level", json_string(word(f[i].level)));
        json_array_append_new(fs, o);
    }
    json_object_set_new(j, "features", fs);
    for (size_t s = 0; s < cseg_model_k(m); s++) {
        json_t *o = json_object();
        json_object_set_new(o, "segment", json_integer((json_int_t)s + 1));
        json_object_set_new(o, "name",
                            json_string(cseg_model_name(m, s) ? cseg_model_name(m, s) : ""));
        json_object_set_new(o, "share_training", num(rs[s]));
        json_object_set_new(o, "share_new", num(ns[s]));
        json_array_append_new(segs, o);
    }
    json_object_set_new(j, "segments", segs);
    json_object_set_new(j, "segment_psi", num(r->segment_psi));
    json_object_set_new(j, "segment_level", json_string(word(r->segment_level)));
    json_object_set_new(j, "mean_distance_training", num(r->ref_mean_distance));
    json_object_set_new(j, "mean_distance_new", num(r->new_mean_distance));
    json_object_set_new(j, "unfit_share", num(r->unfit_share));
    return j;
}

static void print_num(const char *fmt, double x, int width)
{
    if (isnan(x))
        printf("%*s", width, "-");
    else
        printf(fmt, width, x);
}

static void print_table(const cseg_model *m, const char *path, const cseg_drift_feature *f,
                        size_t nf, const double *rs, const double *ns, const cseg_drift_result *r)
{
    printf("Drift of %zu customers (%s) against the %zu the model was trained on:\n\n", r->n_new,
           path, r->n_ref);
    printf("  %-24s %8s %8s %12s %12s %9s %9s  %s\n", "column", "PSI", "KS", "mean train",
           "mean new", "miss trn", "miss new", "level");
    for (size_t i = 0; i < nf; i++) {
        printf("  ");
        cli_print_cols(f[i].name, 24, 1);
        putchar(' ');
        print_num("%*.4f", f[i].psi, 8);
        putchar(' ');
        print_num("%*.4f", f[i].ks, 8);
        putchar(' ');
        print_num("%*.4g", f[i].ref_mean, 12);
        putchar(' ');
        print_num("%*.4g", f[i].new_mean, 12);
        printf(" %8.1f%% %8.1f%%  %s\n", 100 * f[i].ref_missing, 100 * f[i].new_missing,
               word(f[i].level));
    }
    printf("\nSegments: PSI %.4f (%s)\n", r->segment_psi, word(r->segment_level));
    printf("  seg  %-28s %9s %9s\n", "name", "training", "new");
    for (size_t s = 0; s < cseg_model_k(m); s++) {
        printf("  %3zu  ", s + 1);
        cli_print_cols(cseg_model_name(m, s), 28, 1);
        printf(" %8.1f%% %8.1f%%\n", 100 * rs[s], 100 * ns[s]);
    }
    if (!isnan(r->new_mean_distance))
        printf("\nMean distance to the segment's centre: %.4g in training, %.4g now\n",
               r->ref_mean_distance, r->new_mean_distance);
    if (!isnan(r->unfit_share))
        printf("%sNo segment fits %.1f%% of the customers (beyond 99%% of their segment's "
               "training customers; about 1%% without drift)\n",
               isnan(r->new_mean_distance) ? "\n" : "", 100 * r->unfit_share);
    printf("\nVerdict: %s\n", r->level == CSEG_DRIFT_ALERT  ? "drift above the alert threshold"
                              : r->level == CSEG_DRIFT_WARN ? "some drift (warning)"
                                                            : "no drift");
}

int cmd_drift(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"warn", required_argument, 0, O_WARN},     {"alert", required_argument, 0, O_ALERT},
        {"html", required_argument, 0, O_HTML},     {"format", required_argument, 0, OPT_FORMAT},
        {"as-of", required_argument, 0, OPT_AS_OF}, {"delimiter", required_argument, 0, OPT_DELIM},
        {"help", no_argument, 0, OPT_HELP},         {0, 0, 0, 0}};
    cseg_drift_params dp;
    cseg_drift_params_init(&dp);
    cseg_csv_params csv;
    cseg_csv_params_init(&csv);
    const char *html = NULL;
    int json = 0, opt, have_as_of = 0;
    long long as_of = 0;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case O_WARN:
        case O_ALERT: {
            double v;
            if (cli_parse_double(optarg, &v) < 0 || !(v > 0))
                return cli_usage_error("drift", "--%s must be a positive number",
                                       opt == O_WARN ? "warn" : "alert");
            *(opt == O_WARN ? &dp.psi_warn : &dp.psi_alert) = v;
            break;
        }
        case O_HTML:
            if (!*optarg)
                return cli_usage_error("drift", "--html needs a file name");
            html = optarg;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "table") != 0 && strcmp(optarg, "json") != 0)
                return cli_usage_error("drift", "--format must be table or json");
            json = optarg[0] == 'j';
            break;
        case OPT_AS_OF:
            if (cli_parse_as_of("drift", optarg, &as_of) != 0)
                return EXIT_USAGE;
            have_as_of = 1;
            break;
        case OPT_DELIM:
            if (cli_parse_delimiter(optarg, &csv.delimiter) < 0)
                return cli_usage_error("drift", "--delimiter must be one character (or 'tab')");
            break;
        default:
            return cli_usage_error("drift", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (cseg_drift_params_check(&dp))
        return cli_usage_error("drift", "--alert (default 0.25) must be at least --warn (default 0.1)");
    if (optind + 2 != argc)
        return cli_usage_error("drift", "expected MODEL and FILE");
    const char *mpath = argv[optind], *path = argv[optind + 1];
    const char *ins[2] = {mpath, path}, *what[2] = {"the model", "the input"};
    int same = cli_output_is_input("drift", "--html", html, ins, what, 2);
    if (same)
        return same;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_model *m = NULL;
    cseg_table *t = NULL;
    cseg_drift_feature *f = NULL;
    double *rs = NULL, *ns = NULL;
    const char **names = NULL;
    const char *idcol;
    int status, rc = cseg_model_load(&m, mpath, &diag);
    if (rc < 0)
        return cli_fail(rc, &diag, mpath);
    if (!cseg_model_has_reference(m)) {
        status = cli_error(EXIT_DATA,
                           "%s: keeps no training reference (written before drift was measured: "
                           "run or fit again)",
                           mpath);
        goto out;
    }
    if ((status = cli_model_customers(m, path, &csv, have_as_of, as_of, &t, &idcol)) != EXIT_OK)
        goto out;
    size_t nf = cseg_drift_n_features(m), k = cseg_model_k(m);
    f = calloc(nf ? nf : 1, sizeof *f);
    rs = calloc(k, sizeof *rs);
    ns = calloc(k, sizeof *ns);
    names = calloc(k, sizeof *names);
    if (!f || !rs || !ns || !names) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    cseg_drift_result res;
    if ((rc = cseg_drift_measure(m, t, &dp, f, rs, ns, &res, &diag)) < 0) {
        if (!diag.file[0])
            snprintf(diag.file, sizeof diag.file, "%s", path);
        status = cli_fail(rc, &diag, path);
        goto out;
    }
    for (size_t s = 0; s < k; s++)
        names[s] = cseg_model_name(m, s) ? cseg_model_name(m, s) : "";
    if (html && (rc = cseg_report_write_drift(html, mpath, path, f, nf, names, rs, ns, k, &res, &dp,
                                              &diag)) < 0) {
        status = cli_fail(rc, &diag, html);
        goto out;
    }
    if (json) {
        json_t *j = to_json(m, f, nf, rs, ns, &res, &dp);
        char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : NULL;
        json_decref(j);
        if (!txt) {
            status = cli_error(EXIT_IO, "out of memory");
            goto out;
        }
        printf("%s\n", txt);
        free(txt);
    } else {
        print_table(m, path, f, nf, rs, ns, &res);
    }
    status = res.level == CSEG_DRIFT_ALERT ? EXIT_DRIFT : EXIT_OK;
out:
    free(f), free(rs), free(ns), free(names);
    cseg_table_free(t);
    cseg_model_free(m);
    return status;
}
