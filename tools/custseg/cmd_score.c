/* custseg score: evaluate any labelling of a table with the internal indices. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define SCORE_EXACT_MAX 20000 /* labelled rows measured exactly by default */

static const char help[] =
    "usage: custseg score FILE --labels COL [options]\n"
    "       custseg score OUTDIR [options]\n"
    "\n"
    "Evaluate the labelling in column COL of FILE on its number columns: silhouette,\n"
    "Davies-Bouldin, Calinski-Harabasz and inertia, as scikit-learn defines them.\n"
    "Labels may be numbers or text; a negative number or an empty label marks noise,\n"
    "which is left out. Given the output folder of run or fit, score measures its\n"
    "segments in the model's space (preprocessing and PCA of its model.json, the\n"
    "silhouette sample and seed of the run): the silhouette the run printed. The\n"
    "output says which space was measured.\n"
    "\n"
    "  --labels COL        the label column (required for a FILE; OUTDIR: segment)\n"
    "  --model MODEL       measure FILE in the space of this model.json instead of its\n"
    "                      raw columns\n"
    "  --features a,b,c    columns to measure on (default: every number column but the\n"
    "                      labels, id-like columns, segment, distance and rfm_code)\n"
    "  --exclude a,b       leave these columns out of the default features (e.g. an id)\n"
    "  --scale none|standard|robust   scale features first (default none)\n"
    "  --sample N          silhouette on a uniform sample of N rows (default: exact up to\n"
    "                      20,000 rows, else a sample of 20,000; 0: exact, O(n^2))\n"
    "  --seed N            seed for --sample (default 0)\n"
    "  --threads N         worker threads (default: all cores)\n"
    "  --format text|json  output format (default text)\n"
    "  --delimiter C       field separator (default: detect)\n"
    "  --help              this help\n";

enum { OPT_EXCLUDE = 2000, OPT_MODEL };

int cmd_score(int argc, char **argv)
{
    static const struct option longopts[] = {{"labels", required_argument, 0, OPT_LABELS},
                                              {"features", required_argument, 0, OPT_FEATURES},
                                              {"exclude", required_argument, 0, OPT_EXCLUDE},
                                              {"scale", required_argument, 0, OPT_SCALE},
                                              {"sample", required_argument, 0, OPT_SAMPLE},
                                              {"seed", required_argument, 0, OPT_SEED},
                                              {"threads", required_argument, 0, OPT_THREADS},
                                              {"format", required_argument, 0, OPT_FORMAT},
                                              {"delimiter", required_argument, 0, OPT_DELIM},
                                              {"model", required_argument, 0, OPT_MODEL},
                                              {"help", no_argument, 0, OPT_HELP},
                                              {0, 0, 0, 0}};
    const char *labcol = NULL, *features = NULL, *exclude = NULL, *mpath = NULL;
    int json = 0, opt, status = EXIT_OK, sample_set = 0, seed_set = 0, from_dir = 0;
    cseg_silhouette_params sp;
    cseg_table_read_params rp;
    cseg_prep_params pp;
    long v;
    cseg_silhouette_params_init(&sp);
    cseg_table_read_params_init(&rp);
    cseg_prep_params_init(&pp);
    pp.scale = CSEG_SCALE_NONE;
    pp.log = CSEG_LOG_NONE;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case OPT_LABELS:
            labcol = optarg;
            break;
        case OPT_FEATURES:
            features = optarg;
            break;
        case OPT_EXCLUDE:
            exclude = optarg;
            break;
        case OPT_SCALE:
            if (strcmp(optarg, "none") == 0)
                pp.scale = CSEG_SCALE_NONE;
            else if (strcmp(optarg, "standard") == 0)
                pp.scale = CSEG_SCALE_STANDARD;
            else if (strcmp(optarg, "robust") == 0)
                pp.scale = CSEG_SCALE_ROBUST;
            else
                return cli_usage_error("score", "--scale must be none, standard or robust");
            break;
        case OPT_SAMPLE:
            if (cli_parse_size(optarg, &sp.sample_size) < 0)
                return cli_usage_error("score", "--sample must be a whole number >= 0");
            sample_set = 1;
            break;
        case OPT_MODEL:
            mpath = optarg;
            break;
        case OPT_SEED:
            if (cli_parse_int(optarg, 0, 0x7fffffffffffffffL, &v) < 0)
                return cli_usage_error("score", "--seed must be a whole number >= 0");
            sp.seed = (uint64_t)v;
            seed_set = 1;
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, &sp.n_threads) < 0)
                return cli_usage_error("score", "--threads must be a whole number 0..1024");
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "json") == 0)
                json = 1;
            else if (strcmp(optarg, "text") == 0)
                json = 0;
            else
                return cli_usage_error("score", "--format must be text or json");
            break;
        case OPT_DELIM:
            if (cli_parse_delimiter(optarg, &rp.csv.delimiter) < 0)
                return cli_usage_error("score", "--delimiter must be one character (or 'tab')");
            break;
        default:
            return cli_usage_error("score", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("score", "expected one input FILE or OUTDIR");
    const char *path = argv[optind];
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_table *t = NULL;
    cseg_prep *prep = NULL;
    cseg_model *model = NULL;
    char **feats = NULL, **excl = NULL;
    const char **use = NULL;
    double *X = NULL;
    int32_t *lab = NULL;
    size_t nf = 0, nex = 0;
    long outlier = -1;
    char dpath[4096], dmodel[4096];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        from_dir = 1;
        /* A run's folder: its customers and segments, in its model's space, with the
         * silhouette sample and seed the run used (segments.json). */
        char dseg[4096];
        snprintf(dpath, sizeof dpath, "%s/customers.csv", path);
        snprintf(dmodel, sizeof dmodel, "%s/model.json", path);
        snprintf(dseg, sizeof dseg, "%s/segments.json", path);
        json_error_t jerr;
        json_t *sj = json_load_file(dseg, 0, &jerr);
        json_t *mj = json_object_get(sj, "model");
        json_t *ss = json_object_get(mj, "silhouette_sample"), *sd = json_object_get(mj, "seed");
        if (!sample_set)
            sp.sample_size = json_is_integer(ss) ? (size_t)json_integer_value(ss) : 0;
        if (!seed_set && json_is_integer(sd))
            sp.seed = (uint64_t)json_integer_value(sd);
        json_decref(sj);
        if (!labcol)
            labcol = "segment";
        if (!mpath)
            mpath = dmodel;
        path = dpath;
    }
    if (!labcol)
        return cli_usage_error("score", "--labels COL is required");
    int rc;
    if (mpath && (rc = cseg_model_load(&model, mpath, &diag)) < 0)
        return cli_fail(rc, &diag, mpath);
    rc = cseg_table_read_csv(&t, path, &rp, &diag);
    if (rc < 0) {
        cseg_model_free(model);
        return cli_fail(rc, &diag, path);
    }
    if (model)
        outlier = cseg_model_outlier_segment(model);
    size_t n = cseg_table_n_rows(t), nc = cseg_table_n_cols(t);
    long jl = cseg_table_find(t, labcol);
    if (jl < 0) {
        status = cli_error(EXIT_DATA, "%s: no column \"%s\" for --labels", path, labcol);
        goto out;
    }
    lab = malloc((n ? n : 1) * sizeof *lab);
    use = calloc(nc ? nc : 1, sizeof *use);
    if (!lab || !use) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    const double *ln = cseg_table_numbers(t, (size_t)jl);
    const int32_t *lc = cseg_table_codes(t, (size_t)jl);
    for (size_t i = 0; i < n; i++) {
        if (ln) {
            double x = ln[i];
            if (isnan(x) || x < 0) {
                lab[i] = -1;
            } else if (x != floor(x) || x > 2147483647.0) {
                /* The number as written (shortest text that reads back the same). */
                char shown[40];
                snprintf(shown, sizeof shown, "%.15g", x);
                if (strtod(shown, NULL) != x)
                    snprintf(shown, sizeof shown, "%.17g", x);
                status = cli_error(EXIT_DATA, "%s:%ld: label %s in column \"%s\" is %s", path,
                                   cseg_table_row_line(t, i), shown, labcol,
                                   x != floor(x) ? "not a whole number"
                                                 : "too large (labels go up to 2147483647)");
                goto out;
            } else {
                lab[i] = (int32_t)x;
                /* A run's segments (1..k): DBSCAN's Outliers are no cluster, as in the run. */
                if (outlier >= 0 && strcmp(labcol, "segment") == 0 && x == (double)(outlier + 1))
                    lab[i] = -1;
            }
        } else if (lc) {
            lab[i] = lc[i];
        } else {
            status = cli_error(EXIT_DATA, "%s: column \"%s\" holds dates, not labels", path, labcol);
            goto out;
        }
    }
    if (model) {
        /* The model's space: its preprocessing and PCA on the table's columns. */
        nf = cseg_model_dim(model);
        X = malloc((n ? n : 1) * (nf ? nf : 1) * sizeof *X);
        if (!X) {
            status = cli_error(EXIT_IO, "out of memory");
            goto out;
        }
        if ((rc = cseg_model_transform(model, t, X, &diag)) < 0) {
            status = cli_fail(rc, &diag, path);
            goto out;
        }
        goto measure;
    }
    if (features) {
        feats = cli_split(features, &nf);
        if (!feats) {
            status = cli_error(EXIT_IO, "out of memory");
            goto out;
        }
        for (size_t j = 0; j < nf; j++)
            use[j] = feats[j];
    } else {
        if (exclude && !(excl = cli_split(exclude, &nex))) {
            status = cli_error(EXIT_IO, "out of memory");
            goto out;
        }
        for (size_t j = 0; j < nc; j++) {
            const char *name = cseg_table_col_name(t, j);
            /* Not measured by default: the labels, text, ids, and the columns
             * custseg itself writes next to features. */
            int skip = (long)j == jl || cseg_table_col_type(t, j) != CSEG_COL_NUMBER ||
                       cseg_is_customer_id_name(name, CSEG_ID_IN_TABLE) ||
                       strcmp(name, "segment") == 0 || strcmp(name, "distance") == 0 ||
                       strcmp(name, CSEG_RFM_COL_CODE) == 0;
            for (size_t e = 0; e < nex && !skip; e++)
                skip = strcmp(excl[e], name) == 0;
            if (!skip)
                use[nf++] = name;
        }
    }
    if (nf == 0) {
        status = cli_error(EXIT_DATA, "%s: no number columns to measure on", path);
        goto out;
    }
    for (size_t j = 0; j < nf; j++) {
        long jj = cseg_table_find(t, use[j]);
        const double *x = jj >= 0 ? cseg_table_numbers(t, (size_t)jj) : NULL;
        if (!x) {
            status = cli_error(EXIT_DATA, "%s: feature \"%s\" is not a number column", path,
                               use[j]);
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            if (!isfinite(x[i]) && lab[i] >= 0) {
                status = cli_error(EXIT_DATA, "%s:%ld: missing value in feature \"%s\"", path,
                                   cseg_table_row_line(t, i), use[j]);
                goto out;
            }
    }
    if ((rc = cseg_prep_create(&prep, &pp)) < 0 ||
        (rc = cseg_prep_fit(prep, t, use, nf, &diag)) < 0) {
        status = cli_fail(rc, &diag, path);
        goto out;
    }
    X = malloc((n ? n : 1) * nf * sizeof *X);
    if (!X || (rc = cseg_prep_transform(prep, t, X, &diag)) < 0) {
        status = X ? cli_fail(rc, &diag, path) : cli_error(EXIT_IO, "out of memory");
        goto out;
    }
measure:
    /* Squared distances of values beyond 1e150 overflow: say so instead of
     * printing infinities. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nf; j++)
            if (lab[i] >= 0 && !(fabs(X[i * nf + j]) <= 1e150)) {
                status = cli_error(EXIT_DATA, "%s:%ld: feature \"%s\" is too large to measure "
                                              "distances on (%g; at most 1e150 after scaling)",
                                   path, cseg_table_row_line(t, i),
                                   model ? "(model space)" : use[j], X[i * nf + j]);
                goto out;
            }
    double sil = NAN, db = NAN, ch = NAN, in = NAN;
    /* The exact silhouette is O(n^2): above SCORE_EXACT_MAX labelled rows a
     * sample, as run and fit use, unless --sample says otherwise. */
    size_t labelled = 0;
    for (size_t i = 0; i < n; i++)
        labelled += lab[i] >= 0;
    if (!sample_set && !from_dir && labelled > SCORE_EXACT_MAX) {
        sp.sample_size = SCORE_EXACT_MAX;
        if (!json)
            fprintf(stderr, "custseg: score: silhouette on a sample of %d of the %zu rows "
                            "(--sample 0 for the exact value, O(n^2))\n",
                    SCORE_EXACT_MAX, labelled);
    }
    int r1 = cseg_metrics_silhouette(X, n, nf, lab, &sp, &sil, NULL);
    int r2 = cseg_metrics_davies_bouldin(X, n, nf, lab, &db);
    int r3 = cseg_metrics_calinski_harabasz(X, n, nf, lab, &ch);
    int r4 = cseg_metrics_inertia(X, n, nf, lab, &in);
    if (r2 == CSEG_EINVAL || r4 == CSEG_EINVAL) {
        status = cli_error(EXIT_DATA, "%s: the labels in \"%s\" form fewer than 2 clusters, or "
                                      "as many clusters as rows", path, labcol);
        goto out;
    }
    if (r1 < 0 && r1 != CSEG_EINVAL) {
        status = cli_fail(r1, NULL, "silhouette");
        goto out;
    }
    if (r2 < 0 || r3 < 0 || r4 < 0) {
        status = cli_fail(r2 < 0 ? r2 : r3 < 0 ? r3 : r4, NULL, "metrics");
        goto out;
    }
    size_t n_used = 0;
    int32_t maxl = -1;
    for (size_t i = 0; i < n; i++)
        if (lab[i] >= 0) {
            n_used++;
            maxl = lab[i] > maxl ? lab[i] : maxl;
        }
    size_t k = 0;
    {
        /* Distinct labels among the used rows. */
        unsigned char *seen = calloc((size_t)maxl + 1, 1);
        if (!seen) {
            status = cli_error(EXIT_IO, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            if (lab[i] >= 0 && !seen[lab[i]]) {
                seen[lab[i]] = 1;
                k++;
            }
        free(seen);
    }
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "labels", json_string(labcol));
        json_object_set_new(o, "space", json_string(model ? "model" : "columns"));
        json_object_set_new(o, "n_samples", json_integer((json_int_t)n_used));
        json_object_set_new(o, "n_noise", json_integer((json_int_t)(n - n_used)));
        json_object_set_new(o, "n_clusters", json_integer((json_int_t)k));
        json_object_set_new(o, "silhouette", isfinite(sil) ? json_real(sil) : json_null());
        json_object_set_new(o, "silhouette_sample",
                            sp.sample_size && sp.sample_size < n_used
                                ? json_integer((json_int_t)sp.sample_size)
                                : json_null());
        json_object_set_new(o, "davies_bouldin", json_real(db));
        json_object_set_new(o, "calinski_harabasz", json_real(ch));
        json_object_set_new(o, "inertia", json_real(in));
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(o);
    } else {
        printf("file               %s\n", path);
        printf("samples            %zu (%zu noise left out)\n", n_used, n - n_used);
        printf("clusters           %zu\n", k);
        printf("features           %zu\n", nf);
        if (model)
            printf("space              the model's (%s: preprocessing%s, %zu dimensions)\n",
                   mpath, cseg_model_pca(model) ? " and PCA" : "", nf);
        else
            printf("space              the columns as read (scaling: %s)\n",
                   pp.scale == CSEG_SCALE_STANDARD ? "standard"
                   : pp.scale == CSEG_SCALE_ROBUST ? "robust"
                                                   : "none");
        if (isfinite(sil))
            printf("silhouette         %.10g%s\n", sil,
                   sp.sample_size && sp.sample_size < n_used ? " (sampled)" : "");
        else
            printf("silhouette         - (needs 2 or more clusters, and fewer than the %s)\n",
                   sp.sample_size && sp.sample_size < n_used ? "rows sampled" : "rows");
        printf("davies_bouldin     %.10g\n", db);
        printf("calinski_harabasz  %.10g\n", ch);
        printf("inertia            %.10g\n", in);
    }
out:
    free(X);
    free(lab);
    free(use);
    cli_free_list(feats);
    cli_free_list(excl);
    cseg_prep_free(prep);
    cseg_model_free(model);
    cseg_table_free(t);
    return status;
}
