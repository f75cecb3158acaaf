/* custseg explain: why a customer is in their segment (docs/explain.md).
 * The reasons come from the library (cseg_explain_customers); the segment's
 * rules from the run's segments.json beside the model. */
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: custseg explain MODEL --customer ID [--customer ID ...] [options]\n"
    "\n"
    "Why each customer is in their segment rather than the runner-up (the next nearest\n"
    "segment): every feature's share of the decision, from an exact decomposition of\n"
    "the distances (k-means and hierarchical models), and the segment's rules.\n"
    "\n"
    "  --customer ID     a customer to explain (repeat for several)\n"
    "  --file FILE       where the customers are: a customer table or, for a model made\n"
    "                    by run, a transaction log (default: customers.csv beside MODEL)\n"
    "  --as-of DATE      analysis day for a transaction log (default: the model's)\n"
    "  --with tree|forest  explain the classifier custseg train kept in MODEL instead:\n"
    "                    exact TreeSHAP values of the segment's share\n"
    "  --format table|json  what to print (default table)\n"
    "  --help            this help\n";

enum { O_CUSTOMER = 3200, O_FILE, O_WITH };

size_t cli_top_reasons(const double *contrib, size_t nf, size_t top, size_t *idx, double *share)
{
    double total = 0; /* what pulls towards the segment: the shares' denominator */
    for (size_t j = 0; j < nf; j++)
        total += contrib[j] > 0 ? contrib[j] : 0;
    size_t m = 0;
    if (!(total > 0))
        return 0;
    for (size_t t = 0; t < top; t++) { /* the largest positive parts, in order */
        long best = -1;
        for (size_t j = 0; j < nf; j++) {
            int taken = 0;
            for (size_t u = 0; u < m; u++)
                taken |= idx[u] == j;
            if (!taken && contrib[j] > 0 && (best < 0 || contrib[j] > contrib[best]))
                best = (long)j;
        }
        if (best < 0)
            break;
        idx[m] = (size_t)best;
        share[m++] = contrib[best] / total;
    }
    return m;
}

/* The file name in the folder of the model, in buf. */
static void beside(const char *mpath, const char *name, char *buf, size_t size)
{
    char *copy = strdup(mpath);
    snprintf(buf, size, "%s/%s", copy ? dirname(copy) : ".", name);
    free(copy);
}

/* The permutation importance in segments.json's rules (NULL: none), printed. */
static void print_importance(const json_t *rules)
{
    json_t *imp = json_object_get(rules, "importance");
    if (json_array_size(imp)) {
        printf("\nAcross all customers (permutation importance: the share of customers who change "
               "segment when the column is shuffled):\n");
        for (size_t i = 0; i < json_array_size(imp); i++) {
            json_t *x = json_array_get(imp, i);
            printf("  %-28.28s %6.1f%%\n", json_string_value(json_object_get(x, "feature")),
                   100 * json_number_value(json_object_get(x, "importance")));
        }
    }
}

/* The rules of segment s (0-based) in segments.json's rules, a new reference (or NULL). */
static json_t *segment_rules(const json_t *rules, size_t s)
{
    return json_incref(
        json_object_get(json_array_get(json_object_get(rules, "segments"), s), "rules"));
}

int cmd_explain(int argc, char **argv)
{
    static const struct option longopts[] = {{"customer", required_argument, 0, O_CUSTOMER},
                                             {"file", required_argument, 0, O_FILE},
                                             {"with", required_argument, 0, O_WITH},
                                             {"as-of", required_argument, 0, OPT_AS_OF},
                                             {"format", required_argument, 0, OPT_FORMAT},
                                             {"help", no_argument, 0, OPT_HELP},
                                             {0, 0, 0, 0}};
    const char **ids = calloc((size_t)argc + 1, sizeof *ids), *file = NULL, *with = NULL;
    size_t nid = 0;
    int json = 0, opt, have_as_of = 0;
    long long as_of = 0;
    if (!ids)
        return cli_error(EXIT_IO, "out of memory");
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            free(ids);
            return EXIT_OK;
        case O_CUSTOMER:
            ids[nid++] = optarg;
            break;
        case O_FILE:
            file = optarg;
            break;
        case O_WITH:
            if (strcmp(optarg, "tree") != 0 && strcmp(optarg, "forest") != 0) {
                free(ids);
                return cli_usage_error("explain", "--with must be tree or forest");
            }
            with = optarg;
            break;
        case OPT_AS_OF:
            if (cli_parse_as_of("explain", optarg, &as_of) != 0) {
                free(ids);
                return EXIT_USAGE;
            }
            have_as_of = 1;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "table") != 0 && strcmp(optarg, "json") != 0) {
                free(ids);
                return cli_usage_error("explain", "--format must be table or json");
            }
            json = optarg[0] == 'j';
            break;
        default:
            free(ids);
            return cli_usage_error("explain", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind + 1 != argc || nid == 0) {
        free(ids);
        return cli_usage_error("explain", "expected MODEL and at least one --customer ID");
    }
    const char *mpath = argv[optind];
    char fpath[4096];
    if (!file) {
        beside(mpath, "customers.csv", fpath, sizeof fpath);
        file = fpath;
    }
    /* The run's segments.json beside the model, read once: rules and importance. */
    char spath[4096];
    beside(mpath, "segments.json", spath, sizeof spath);
    json_t *sj = json_load_file(spath, 0, NULL), *srules = json_object_get(sj, "rules");
    double fid = json_number_value(json_object_get(srules, "fidelity"));
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_model *m = NULL;
    cseg_table *t = NULL;
    int32_t *seg = NULL, *run = NULL, *known = NULL;
    double *contrib = NULL;
    json_t *out = json_array();
    const char *idcol = NULL;
    int status, rc = cseg_model_load(&m, mpath, &diag);
    if (rc < 0) {
        free(ids);
        json_decref(out);
        json_decref(sj);
        return cli_fail(rc, &diag, mpath);
    }
    cseg_csv_params csv;
    cseg_csv_params_init(&csv);
    if ((status = cli_model_customers(m, file, &csv, have_as_of, as_of, &t, &idcol)) != EXIT_OK)
        goto done;
    long jid = idcol ? cseg_table_find(t, idcol) : -1;
    if (jid < 0) {
        status = cli_error(EXIT_DATA, "%s: no customer id column to find the customers by", file);
        goto done;
    }
    size_t n = cseg_table_n_rows(t), nf = cseg_explain_n_features(m);
    seg = malloc((n ? n : 1) * sizeof *seg);
    run = malloc((n ? n : 1) * sizeof *run);
    contrib = malloc((n ? n : 1) * (nf ? nf : 1) * sizeof *contrib);
    if (!seg || !run || !contrib) {
        status = cli_error(EXIT_IO, "out of memory");
        goto done;
    }
    if (with && (!cseg_model_classifier_kind(m) || strcmp(cseg_model_classifier_kind(m), with) != 0)) {
        status = cli_error(EXIT_DATA, "%s: has no %s classifier (custseg train OUTDIR --classifier %s)",
                           mpath, with, with);
        goto done;
    }
    if ((rc = with ? cseg_explain_classifier(m, t, seg, run, contrib, &diag)
                   : cseg_explain_customers(m, t, seg, run, contrib, &diag)) < 0) {
        status = cli_fail(rc, &diag, mpath);
        goto done;
    }
    /* A training customer keeps the segment training gave it (as assign
     * does), which a tree cut may make another than its nearest centre's:
     * the centre's reasons would explain a decision not taken. */
    if (!with && cseg_model_n_known(m) > 0) {
        known = malloc((n ? n : 1) * sizeof *known);
        double *kd = malloc((n ? n : 1) * sizeof *kd);
        rc = known && kd ? cseg_model_assign_known(m, t, idcol, known, kd, NULL, &diag)
                         : CSEG_ENOMEM;
        free(kd);
        if (rc < 0) {
            status = cli_fail(rc, &diag, mpath);
            goto done;
        }
    }
    for (size_t q = 0; q < nid; q++) {
        long row = -1;
        char buf[64];
        /* The id as the file's ids are read: " 17850" and "17850.0" are 17850. */
        const char *want = ids[q];
        size_t wlen = strlen(want);
        cseg_id_normalize(&want, &wlen);
        for (size_t i = 0; i < n && row < 0; i++) {
            int32_t c = cseg_table_codes(t, (size_t)jid) ? cseg_table_codes(t, (size_t)jid)[i] : -1;
            const char *id = c >= 0 ? cseg_table_level(t, (size_t)jid, c) : NULL;
            if (!id && cseg_table_col_type(t, (size_t)jid) == CSEG_COL_NUMBER) {
                snprintf(buf, sizeof buf, "%.17g", cseg_table_numbers(t, (size_t)jid)[i]);
                id = buf;
            }
            if (id && strlen(id) == wlen && memcmp(id, want, wlen) == 0)
                row = (long)i;
        }
        if (row < 0) {
            status = cli_error(EXIT_DATA, "%s: no customer \"%s\"", file, ids[q]);
            goto done;
        }
        size_t a = (size_t)seg[row], idx[64], top;
        double share[64];
        top = cli_top_reasons(contrib + (size_t)row * nf, nf, nf < 64 ? nf : 64, idx, share);
        int kept = known && known[row] != seg[row]; /* not where its nearest centre is */
        if (kept) {
            run[row] = seg[row]; /* the nearest centre's segment */
            a = (size_t)known[row];
            top = 0;
        }
        json_t *o = json_object(), *reasons = json_array();
        json_object_set_new(o, "customer_id", json_string(ids[q]));
        json_object_set_new(o, "method", json_string(with ? "treeshap" : "centroid_distance"));
        json_object_set_new(o, "segment", json_integer((json_int_t)a + 1));
        json_object_set_new(o, "segment_name", json_string(cseg_model_name(m, a)));
        json_object_set_new(o, "runner_up",
                            run[row] >= 0 ? json_integer(run[row] + 1) : json_null());
        json_object_set_new(o, "runner_up_name",
                            run[row] >= 0 ? json_string(cseg_model_name(m, (size_t)run[row]))
                                          : json_null());
        for (size_t u = 0; u < top; u++) {
            const char *fname = cseg_explain_feature_name(m, idx[u]);
            long jc = cseg_table_find(t, fname);
            json_t *r = json_object();
            json_object_set_new(r, "feature", json_string(fname));
            json_object_set_new(r, "share", json_real(share[u]));
            if (jc >= 0 && cseg_table_col_type(t, (size_t)jc) == CSEG_COL_NUMBER &&
                isfinite(cseg_table_numbers(t, (size_t)jc)[row]))
                json_object_set_new(r, "value", json_real(cseg_table_numbers(t, (size_t)jc)[row]));
            json_array_append_new(reasons, r);
        }
        json_object_set_new(o, "reasons", reasons);
        if (kept)
            json_object_set_new(o, "nearest_centre", json_integer(seg[row] + 1));
        json_t *rules = segment_rules(srules, a);
        if (rules)
            json_object_set_new(o, "segment_rules", rules);
        json_array_append_new(out, o);
        if (json)
            continue;
        printf("%sCustomer %s is in segment %zu \"%s\"", q ? "\n" : "", ids[q], a + 1,
               cseg_model_name(m, a));
        if (run[row] < 0) {
            printf(" (the only segment).\n");
            continue;
        }
        if (kept) {
            printf(", the segment training gave them (%s), although the nearest segment centre "
                   "is segment %d \"%s\"'s: reasons by centre distance do not explain it "
                   "(custseg train, then explain --with forest, gives reasons for the segments "
                   "as they are).\n",
                   cseg_model_algo(m) == CSEG_ALGO_HCLUST ? "the cut of the merge tree"
                                                          : "the clustering",
                   seg[row] + 1, cseg_model_name(m, (size_t)seg[row]));
            continue;
        }
        printf(" rather than segment %d \"%s\"%s.\n%s\n", run[row] + 1,
               cseg_model_name(m, (size_t)run[row]), with ? " (by the classifier)" : "",
               with ? "What raises the classifier's share for the segment (TreeSHAP, share of the "
                      "rise):"
                    : "What puts them there (share of the decision):");
        for (size_t u = 0; u < top; u++) {
            json_t *r = json_array_get(reasons, u), *v = json_object_get(r, "value");
            printf("  %-28.28s %6.1f%%", json_string_value(json_object_get(r, "feature")),
                   100 * share[u]);
            if (v)
                printf("   value %g", json_real_value(v));
            printf("\n");
        }
        int against = 0;
        double pos = 0;
        for (size_t j = 0; j < nf; j++)
            pos += contrib[(size_t)row * nf + j] > 0 ? contrib[(size_t)row * nf + j] : 0;
        for (size_t j = 0; j < nf && pos > 0; j++) {
            double c = contrib[(size_t)row * nf + j];
            if (c >= 0)
                continue;
            printf("%s %s (%.1f%%)", against++ ? ","
                                     : with    ? "Lowering the segment's share:"
                                               : "Pulling towards the runner-up:",
                   cseg_explain_feature_name(m, j), 100 * c / pos);
        }
        if (against)
            printf("\n");
        if (rules) {
            printf("Segment %zu's rules (a depth-3 tree on the features; agrees with the segments "
                   "for %.0f%% of customers):\n",
                   a + 1, 100 * fid);
            for (size_t i = 0; i < json_array_size(rules); i++) {
                json_t *ru = json_array_get(rules, i);
                printf("  %s (precision %.0f%%, recall %.0f%%)\n",
                       json_string_value(json_object_get(ru, "rule")),
                       100 * json_real_value(json_object_get(ru, "precision")),
                       100 * json_real_value(json_object_get(ru, "recall")));
            }
        }
    }
    if (!json)
        print_importance(srules);
    if (json) {
        char *txt = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        if (txt)
            printf("%s\n", txt);
        free(txt);
    }
    status = EXIT_OK;
done:
    json_decref(sj);
    json_decref(out);
    free(ids), free(seg), free(run), free(contrib), free(known);
    cseg_table_free(t);
    cseg_model_free(m);
    return status;
}
