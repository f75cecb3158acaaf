/* custseg assign: put new customers (or a new transaction log) into the
 * segments of a saved model, through the model's own pipeline. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: custseg assign MODEL FILE [options]\n"
    "\n"
    "Assign the customers in FILE to the segments of MODEL (a model.json from run or fit).\n"
    "FILE is a customer table holding the model's feature columns (such as a customers.csv\n"
    "written by run), or, for a model made by run, a transaction log, which then goes\n"
    "through the model's cleaning and feature steps first.\n"
    "\n"
    "  --out FILE        write here (atomically) instead of stdout\n"
    "  --format csv|json output format (default csv)\n"
    "  --as-of DATE      analysis day for a transaction log (default: the model's setting,\n"
    "                    'auto' meaning the day after the log's last transaction)\n"
    "  --delimiter C     field separator of FILE (default: detect)\n"
    "  --keep-known      (default) a training customer whose features are unchanged keeps\n"
    "                    the segment it was given in training (hierarchical and DBSCAN\n"
    "                    models put some training customers elsewhere by their rule)\n"
    "  --no-keep-known   every row by the model's rule for new customers\n"
    "  --explain         add the top three reasons per customer (reason_1..3: a feature\n"
    "                    and its share of the decision; k-means and hierarchical models,\n"
    "                    or with --with tree|forest the classifier's TreeSHAP values)\n"
    "  --with tree|forest|svm  place customers with the classifier custseg train kept in\n"
    "                    MODEL instead of the model's own rule\n"
    "  --help            this help\n"
    "\n"
    "Output columns: the id, segment (1..k), segment_name, distance (to the segment centre,\n"
    "in model space).\n";

/* The top three reasons of each row as text columns reason_1..3 of res
 * (and in *why, n x 3 strings, "" for none): "recency_days (62%)". A row
 * the model's rule puts elsewhere than lab (a known customer) gets none. */
static int reasons(const cseg_model *m, const cseg_table *t, const int32_t *lab, int with,
                   char ***why, cseg_table *res)
{
    size_t n = cseg_table_n_rows(t), nf = cseg_explain_n_features(m);
    int32_t *seg = malloc((n ? n : 1) * sizeof *seg), *run = malloc((n ? n : 1) * sizeof *run);
    double *contrib = malloc((n ? n : 1) * (nf ? nf : 1) * sizeof *contrib);
    char **w = calloc(n * 3 + 1, sizeof *w);
    int32_t *code = malloc((n ? n : 1) * sizeof *code);
    cseg_diag diag;
    cseg_diag_clear(&diag);
    int rc = seg && run && contrib && w && code ? 0 : CSEG_ENOMEM, status = EXIT_OK;
    if (rc == 0 && (rc = with ? cseg_explain_classifier(m, t, seg, run, contrib, &diag)
                              : cseg_explain_customers(m, t, seg, run, contrib, &diag)) < 0)
        status = cli_fail(rc, &diag, "--explain");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t idx[3] = {0, 0, 0}, top = 0;
        double share[3];
        if (seg[i] == lab[i])
            top = cli_top_reasons(contrib + i * nf, nf, 3, idx, share);
        for (size_t u = 0; u < 3 && rc == 0; u++) {
            char buf[300] = "";
            if (u < top)
                snprintf(buf, sizeof buf, "%s (%.0f%%)", cseg_explain_feature_name(m, idx[u]),
                         100 * share[u]);
            if (!(w[i * 3 + u] = strdup(buf)))
                rc = CSEG_ENOMEM;
        }
    }
    /* each column's levels are its distinct texts; rows keep their own as a level each */
    for (size_t u = 0; u < 3 && rc == 0; u++) {
        const char **lv = malloc((n ? n : 1) * sizeof *lv);
        if (!lv) {
            rc = CSEG_ENOMEM;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            lv[i] = w[i * 3 + u];
            code[i] = w[i * 3 + u][0] ? (int32_t)i : -1;
        }
        char name[16];
        snprintf(name, sizeof name, "reason_%zu", u + 1);
        rc = cseg_table_add_text(res, name, lv, n, code);
        free(lv);
    }
    if (rc == CSEG_ENOMEM && status == EXIT_OK)
        status = cli_error(EXIT_IO, "out of memory");
    else if (rc < 0 && status == EXIT_OK)
        status = cli_fail(rc, NULL, "--explain");
    free(seg), free(run), free(contrib), free(code);
    if (status != EXIT_OK) {
        for (size_t i = 0; w && i < n * 3; i++)
            free(w[i]);
        free(w);
        w = NULL;
    }
    *why = w;
    return status;
}

int cmd_assign(int argc, char **argv)
{
    static const struct option longopts[] = {{"out", required_argument, 0, OPT_OUTFILE},
                                              {"format", required_argument, 0, OPT_FORMAT},
                                              {"as-of", required_argument, 0, OPT_AS_OF},
                                              {"delimiter", required_argument, 0, OPT_DELIM},
                                              {"keep-known", no_argument, 0, OPT_KEEP_KNOWN},
                                              {"no-keep-known", no_argument, 0, OPT_NO_KEEP_KNOWN},
                                              {"with", required_argument, 0, OPT_WITH},
                                              {"explain", no_argument, 0, OPT_EXPLAIN},
                                              {"help", no_argument, 0, OPT_HELP},
                                              {0, 0, 0, 0}};
    const char *out = NULL, *with = NULL;
    int json = 0, opt, status = EXIT_OK, have_as_of = 0, keep_known = 1, explain = 0;
    long long as_of = 0;
    cseg_csv_params csv;
    cseg_csv_params_init(&csv);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case OPT_OUTFILE:
            if (!*optarg)
                return cli_usage_error("assign", "--out needs a file name");
            out = optarg;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "json") == 0)
                json = 1;
            else if (strcmp(optarg, "csv") == 0)
                json = 0;
            else
                return cli_usage_error("assign", "--format must be csv or json");
            break;
        case OPT_AS_OF:
            if (cli_parse_as_of("assign", optarg, &as_of) != 0)
                return EXIT_USAGE;
            have_as_of = 1;
            break;
        case OPT_KEEP_KNOWN:
        case OPT_NO_KEEP_KNOWN:
            keep_known = opt == OPT_KEEP_KNOWN;
            break;
        case OPT_EXPLAIN:
            explain = 1;
            break;
        case OPT_WITH:
            if (strcmp(optarg, "tree") != 0 && strcmp(optarg, "forest") != 0 &&
                strcmp(optarg, "svm") != 0)
                return cli_usage_error("assign", "--with must be tree, forest or svm");
            with = optarg;
            break;
        case OPT_DELIM:
            if (cli_parse_delimiter(optarg, &csv.delimiter) < 0)
                return cli_usage_error("assign", "--delimiter must be one character (or 'tab')");
            break;
        default:
            return cli_usage_error("assign", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind + 2 != argc)
        return cli_usage_error("assign", "expected MODEL and FILE");
    if (explain && with && strcmp(with, "svm") == 0)
        return cli_usage_error("assign", "--explain with --with needs a tree or forest "
                                         "(TreeSHAP); an SVM has no reasons here");
    const char *mpath = argv[optind], *path = argv[optind + 1];
    const char *ins[2] = {mpath, path}, *what[2] = {"the model", "the input"};
    int same = cli_output_is_input("assign", "--out", out, ins, what, 2);
    if (same)
        return same;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_model *m = NULL;
    cseg_table *t = NULL, *res = NULL;
    int32_t *lab = NULL;
    double *dist = NULL, *segno = NULL;
    int rc = cseg_model_load(&m, mpath, &diag);
    if (rc < 0)
        return cli_fail(rc, &diag, mpath);
    if (with && (!cseg_model_classifier_kind(m) || strcmp(cseg_model_classifier_kind(m), with) != 0)) {
        status = cli_error(EXIT_DATA, "%s: has no %s classifier (custseg train OUTDIR --classifier %s)",
                           mpath, with, with);
        cseg_model_free(m);
        return status;
    }
    const char *idcol = NULL;
    /* A customer table into a CSV file: the library's streaming assignment,
     * a chunk of rows at a time (the same file as below, with memory for a
     * chunk instead of the whole table; docs/cli.md). */
    if (out && !json && !explain && !with) {
        int is_table;
        size_t have;
        if ((status = cli_model_file_kind(m, path, &csv, &is_table, &idcol, &have)) != EXIT_OK)
            goto out;
        if (is_table) {
            if ((rc = cseg_model_assign_csv(m, path, &csv, idcol, keep_known, out, NULL,
                                            &diag)) < 0)
                status = cli_fail(rc, &diag, path);
            goto out;
        }
    }
    if ((status = cli_model_customers(m, path, &csv, have_as_of, as_of, &t, &idcol)) != EXIT_OK)
        goto out;
    size_t n = cseg_table_n_rows(t), k = cseg_model_k(m);
    lab = cli_alloc_big(n * sizeof *lab);
    dist = cli_alloc_big(n * sizeof *dist);
    segno = cli_alloc_big(n * sizeof *segno);
    if (!lab || !dist || !segno) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    rc = with ? cseg_model_classify(m, t, lab, dist, &diag)
         : keep_known ? cseg_model_assign_known(m, t, idcol, lab, dist, NULL, &diag)
                      : cseg_model_assign(m, t, lab, dist, &diag);
    if (rc < 0) {
        if (!diag.file[0])
            snprintf(diag.file, sizeof diag.file, "%s", path);
        status = cli_fail(rc, &diag, path);
        goto out;
    }
    const char **names = calloc(k, sizeof *names);
    if (!names || cseg_table_create(&res, n) < 0) {
        free(names);
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < k; s++)
        names[s] = cseg_model_name(m, s);
    for (size_t i = 0; i < n; i++)
        segno[i] = lab[i] + 1;
    long jid = idcol ? cseg_table_find(t, idcol) : -1;
    rc = 0;
    if (jid >= 0 && cseg_table_col_type(t, (size_t)jid) == CSEG_COL_TEXT) {
        size_t nl = cseg_table_n_levels(t, (size_t)jid);
        const char **lv = calloc(nl ? nl : 1, sizeof *lv);
        if (!lv)
            rc = CSEG_ENOMEM;
        for (size_t l = 0; l < nl && lv; l++)
            lv[l] = cseg_table_level(t, (size_t)jid, (int32_t)l);
        if (lv)
            rc = cseg_table_add_text(res, idcol, lv, nl, cseg_table_codes(t, (size_t)jid));
        free(lv);
    }
    if (rc == 0)
        rc = cseg_table_add_numbers(res, "segment", segno);
    if (rc == 0)
        rc = cseg_table_add_text(res, "segment_name", names, k, lab);
    if (rc == 0)
        rc = cseg_table_add_numbers(res, "distance", dist);
    if (rc < 0) {
        free(names);
        status = cli_fail(rc, NULL, "output");
        goto out;
    }
    char **why = NULL; /* n x 3 reasons, "feature (share%)", or NULL */
    if (explain && (status = reasons(m, t, lab, with != NULL, &why, res)) != EXIT_OK) {
        free(names);
        goto out;
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            if (jid >= 0 && cseg_table_codes(t, (size_t)jid)) {
                int32_t c = cseg_table_codes(t, (size_t)jid)[i];
                json_object_set_new(o, idcol, c >= 0 ? json_string(cseg_table_level(t, (size_t)jid, c))
                                                     : json_null());
            }
            json_object_set_new(o, "segment", json_integer(lab[i] + 1));
            json_object_set_new(o, "segment_name", json_string(names[lab[i]]));
            /* null where no distance applies (DBSCAN's outliers, a classifier):
             * json_real gives NULL for NaN, and the key went missing */
            json_object_set_new(o, "distance", isfinite(dist[i]) ? json_real(dist[i]) : json_null());
            if (why) {
                json_t *ra = json_array();
                for (size_t u = 0; u < 3; u++)
                    if (why[i * 3 + u][0])
                        json_array_append_new(ra, json_string(why[i * 3 + u]));
                json_object_set_new(o, "reasons", ra);
            }
            json_array_append_new(arr, o);
        }
        int ok;
        if (out) {
            ok = cli_write_json_atomic(arr, out) == 0;
        } else {
            ok = json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) == 0;
            fputc('\n', stdout);
        }
        json_decref(arr);
        if (!ok)
            status = cli_error(EXIT_IO, "%s: cannot write output", out ? out : "stdout");
    } else if (out) {
        if ((rc = cseg_table_write_csv(res, out, &diag)) < 0)
            status = cli_fail(rc, &diag, out);
    } else if (cseg_table_print_csv(res, stdout) < 0 || fflush(stdout) != 0) {
        status = cli_error(EXIT_IO, "cannot write to stdout");
    }
    free(names);
    for (size_t i = 0; why && i < n * 3; i++)
        free(why[i]);
    free(why);
out:
    free(lab);
    free(dist);
    free(segno);
    cseg_table_free(res);
    cseg_table_free(t);
    cseg_model_free(m);
    return status;
}
