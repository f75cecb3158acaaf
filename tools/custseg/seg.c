/* custseg command line: the segmentation pipeline shared by `run` and `fit`:
 * preprocessing, choosing k, k-means, ordering and naming segments, and the
 * three output files plus the summary on stdout. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int mkdirs(const char *dir)
{
    char tmp[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, dir, len + 1);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

/* Write JSON to path through a temporary file and rename. */
int cli_write_json_atomic(json_t *j, const char *path)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok = f && json_dumpf(j, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER) == 0;
    if (f) {
        ok = ok && fputc('\n', f) != EOF && !ferror(f);
        ok = (fclose(f) == 0) && ok;
    } else if (fd >= 0) {
        close(fd);
    }
    if (ok) {
        mode_t mask = umask(0);
        umask(mask);
        chmod(tmp, 0666 & ~mask);
        ok = rename(tmp, path) == 0;
    }
    if (!ok && fd >= 0)
        unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

typedef struct order_key {
    double key;
    size_t s;
} order_key;

static int cmp_order(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    return x->s < y->s ? -1 : x->s > y->s;
}

static void print_num(FILE *f, double v, int width, int prec)
{
    if (!isfinite(v))
        fprintf(f, " %*s", width, "-");
    else
        fprintf(f, " %*.*f", width, prec, v);
}

static json_t *quality_json(const cseg_quality *q)
{
    json_t *o = json_object();
    json_object_set_new(o, "rows_read", json_integer((json_int_t)q->n_rows));
    json_object_set_new(o, "dropped_no_customer", json_integer((json_int_t)q->n_no_customer));
    json_object_set_new(o, "dropped_duplicates", json_integer((json_int_t)q->n_duplicates));
    json_object_set_new(o, "dropped_incomplete", json_integer((json_int_t)q->n_incomplete));
    json_object_set_new(o, "dropped_non_positive_price", json_integer((json_int_t)q->n_bad_price));
    json_object_set_new(o, "left_out_after_as_of", json_integer((json_int_t)q->n_after_as_of));
    json_object_set_new(o, "purchase_rows", json_integer((json_int_t)q->n_purchase_rows));
    json_object_set_new(o, "return_rows", json_integer((json_int_t)q->n_return_rows));
    json_object_set_new(o, "cancellation_rows", json_integer((json_int_t)q->n_cancellations));
    json_object_set_new(o, "customers", json_integer((json_int_t)q->n_customers));
    json_object_set_new(o, "customers_with_only_returns", json_integer((json_int_t)q->n_return_only));
    json_object_set_new(o, "gross_revenue", json_real(q->gross_revenue));
    json_object_set_new(o, "returned_value", json_real(q->returned_value));
    return o;
}

static void day_text(long long day, char *buf, size_t size)
{
    cseg_format_date(day, buf, size);
}

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

static void print_quality(const cseg_quality *q)
{
    char a[32], b[32], c[32];
    day_text(q->first_day, a, sizeof a);
    day_text(q->last_day, b, sizeof b);
    day_text(q->as_of_day, c, sizeof c);
    printf("Data quality: %zu row%s read, %s .. %s, analysis day %s\n", q->n_rows,
           plural(q->n_rows), a, b, c);
    printf("  dropped: %zu without customer id, %zu exact duplicate%s, %zu incomplete, "
           "%zu with price <= 0 (or amount 0)",
           q->n_no_customer, q->n_duplicates, plural(q->n_duplicates), q->n_incomplete,
           q->n_bad_price);
    if (q->n_after_as_of)
        printf(", %zu after the analysis day", q->n_after_as_of);
    printf("\n  kept: %zu purchase row%s, %zu return row%s (%zu cancellation%s); %zu customer%s"
           " (%zu more had only returns)\n",
           q->n_purchase_rows, plural(q->n_purchase_rows), q->n_return_rows,
           plural(q->n_return_rows), q->n_cancellations, plural(q->n_cancellations),
           q->n_customers, plural(q->n_customers), q->n_return_only);
}

/* The merge tree as dendrogram.csv (SciPy linkage-matrix columns) and
 * dendrogram.json, both written atomically. *path gets the CSV's path. */
static int write_tree(const cseg_hclust *tree, const seg_opts *o, char **path)
{
    size_t m = cseg_hclust_n_leaves(tree) - 1;
    const double *Zl = cseg_hclust_linkage(tree);
    static const char *const cols[] = {"id_a", "id_b", "height", "size"};
    cseg_table *t = NULL;
    double *col = malloc((m ? m : 1) * sizeof *col);
    char *pj = join(o->out_dir, "dendrogram.json");
    int status = EXIT_OK, rc;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    *path = join(o->out_dir, "dendrogram.csv");
    if (!col || !pj || !*path || cseg_table_create(&t, m) < 0) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < 4; c++) {
        for (size_t i = 0; i < m; i++)
            col[i] = Zl[i * 4 + c];
        if (cseg_table_add_numbers(t, cols[c], col) < 0) {
            status = cli_error(EXIT_IO, "out of memory");
            goto out;
        }
    }
    if ((rc = cseg_table_write_csv(t, *path, &diag)) < 0) {
        status = cli_fail(rc, &diag, *path);
        goto out;
    }
    json_t *j = json_object(), *merges = json_array();
    json_object_set_new(j, "linkage", json_string(seg_algo_label(o)));
    json_object_set_new(j, "n_leaves", json_integer((json_int_t)(m + 1)));
    json_object_set_new(j, "approximate", json_boolean(cseg_hclust_is_approximate(tree)));
    json_object_set_new(j, "columns", json_pack("[ssss]", "id_a", "id_b", "height", "size"));
    for (size_t i = 0; i < m; i++)
        json_array_append_new(merges, json_pack("[IIfI]", (json_int_t)Zl[i * 4],
                                                (json_int_t)Zl[i * 4 + 1], Zl[i * 4 + 2],
                                                (json_int_t)Zl[i * 4 + 3]));
    json_object_set_new(j, "merges", merges);
    if (cli_write_json_atomic(j, pj) < 0)
        status = cli_error(EXIT_IO, "%s: cannot write file: %s", pj, strerror(errno));
    json_decref(j);
out:
    free(col);
    free(pj);
    cseg_table_free(t);
    return status;
}

static void print_k_table(const seg_opts *o, const seg_fit *f, FILE *out)
{
    int gmm = o->algo == CSEG_ALGO_GMM, db = o->algo == CSEG_ALGO_DBSCAN;
    fprintf(out, "\nChoosing k (%s):\n   k      inertia  silhouette  davies_bouldin  "
                 "calinski_harabasz%s\n",
            f->rule, gmm ? "             bic" : db ? "  outliers" : "");
    for (size_t t = 0; t < f->n; t++) {
        const seg_cand *c = &f->c[t];
        fprintf(out, "  %2zu", c->k);
        print_num(out, c->inertia, 12, 2);
        print_num(out, c->silhouette, 11, 4);
        print_num(out, c->db, 15, 4);
        print_num(out, c->ch, 18, 2);
        if (gmm)
            print_num(out, c->bic, 15, 2);
        if (db)
            fprintf(out, " %9zu", c->n_noise);
        fprintf(out, "%s%s\n", c->elbow ? "  <- elbow" : "", t == f->chosen ? "  <- chosen" : "");
    }
}

int seg_prepare(const seg_opts *o, seg_input *in, double **Zout, size_t *dout)
{
    cseg_diag diag;
    cseg_prep *prep = NULL;
    cseg_pca *pca = NULL;
    double *X = NULL, *Z = NULL;
    int rc, status = EXIT_OK;
    size_t n = cseg_table_n_rows(in->customers);
    cseg_diag_clear(&diag);
    *Zout = NULL;
    if ((rc = cseg_prep_create(&prep, &o->prep)) < 0 ||
        (rc = cseg_prep_fit(prep, in->customers, in->features, in->n_features, &diag)) < 0) {
        status = cli_fail(rc, &diag, "preprocessing");
        goto out;
    }
    size_t p = cseg_prep_n_outputs(prep), d = p;
    X = malloc((n ? n : 1) * p * sizeof *X);
    if (!X) {
        status = cli_error(EXIT_IO, "out of memory (%zu x %zu features)", n, p);
        goto out;
    }
    if ((rc = cseg_prep_transform(prep, in->customers, X, &diag)) < 0) {
        status = cli_fail(rc, &diag, "preprocessing");
        goto out;
    }
    if (o->pca > 0) {
        if (o->pca >= 1 && o->pca > (double)p) {
            status = cli_usage_error(o->cmd, "--pca %g is more components than the %zu model "
                                             "features", o->pca, p);
            goto out;
        }
        cseg_pca_params pp;
        cseg_pca_params_init(&pp);
        pp.n_components = o->pca >= 1 ? (size_t)o->pca : 0;
        pp.variance_share = o->pca >= 1 ? 1.0 : o->pca;
        pp.n_threads = o->km.n_threads;
        if ((rc = cseg_pca_fit_params(&pca, X, n, p, &pp, &diag)) < 0) {
            status = cli_fail(rc, &diag, "PCA step");
            goto out;
        }
        d = cseg_pca_n_components(pca);
        Z = malloc((n ? n : 1) * d * sizeof *Z);
        if (!Z || cseg_pca_transform(pca, X, n, Z) < 0) {
            status = cli_error(EXIT_IO, "out of memory");
            goto out;
        }
        free(X);
        X = Z;
        Z = NULL;
    }
    if (cseg_model_set_prep(in->model, prep) < 0 || (pca && cseg_model_set_pca(in->model, pca) < 0)) {
        status = cli_error(EXIT_IO, "internal error: pipeline steps do not fit together");
        goto out;
    }
    prep = NULL;
    pca = NULL;
    *Zout = X;
    *dout = d;
    X = NULL;
out:
    free(X);
    free(Z);
    cseg_pca_free(pca);
    cseg_prep_free(prep);
    return status;
}

int seg_run(seg_opts *o, seg_input *in)
{
    if (o->compare)
        return seg_compare(o, in);
    int status = EXIT_OK, rc;
    cseg_diag diag;
    double *X = NULL, *dist = NULL, *seg_num = NULL, *proba = NULL, *pcol = NULL;
    seg_fit fit;
    size_t chosen = 0;
    int32_t *labels = NULL;
    cseg_profile *prof = NULL;
    char **names_list = NULL;
    json_t *root = NULL;
    char *p_customers = NULL, *p_segments = NULL, *p_model = NULL, *p_report = NULL,
         *p_tree = NULL;
    order_key *ok = NULL;
    size_t *newid = NULL;
    int32_t *plabels = NULL, *code = NULL;
    const char **nm = NULL;
    cseg_diag_clear(&diag);
    memset(&fit, 0, sizeof fit);
    size_t n = cseg_table_n_rows(in->customers), d = 0;
    if (cseg_table_find(in->customers, "segment") >= 0 ||
        cseg_table_find(in->customers, "segment_name") >= 0 ||
        cseg_table_find(in->customers, "distance") >= 0)
        return cli_error(EXIT_DATA, "%s: the input already has a column named segment, "
                                    "segment_name or distance (an earlier output?); rename or "
                                    "remove it", in->input_path);
    if (o->k && o->k > n) {
        status = cli_error(EXIT_DATA, "k = %zu is larger than the number of customers (%zu)",
                           o->k, n);
        goto out;
    }
    if (!o->k && o->algo != CSEG_ALGO_DBSCAN && o->height <= 0 && n < 3) {
        status = cli_error(EXIT_DATA, "only %zu customer%s: choosing k needs at least 3 (give --k)",
                           n, n == 1 ? "" : "s");
        goto out;
    }
    if ((status = seg_prepare(o, in, &X, &d)) != EXIT_OK)
        goto out;
    if (o->algo == CSEG_ALGO_HCLUST && o->exact && !o->c.quiet) {
        size_t bytes;
        double secs;
        if (cseg_hclust_estimate(o->linkage, n, d, 1, &bytes, &secs) == 0)
            fprintf(stderr, "custseg: exact %s tree of %zu customers: about %.3g MB and %.3g s "
                            "(estimate)\n",
                    seg_algo_label(o), n, (double)bytes / 1e6, secs);
    }
    int progress = !o->c.quiet && isatty(2);
    if ((rc = seg_fit_run(o, X, n, d, &fit, 1, progress, &diag)) < 0) {
        if (progress)
            fputc('\n', stderr);
        status = cli_fail(rc, &diag, seg_algo_label(o));
        goto out;
    }
    chosen = fit.chosen;
    seg_cand *F = &fit.c[chosen];
    size_t kc = F->n_clusters, k = F->k;
    if (kc == 0) {
        status = cli_error(EXIT_DATA, "%s found no segment: every customer is an outlier "
                                      "(eps %.6g, min-samples %zu); raise --eps or lower "
                                      "--min-samples", seg_algo_label(o), fit.eps,
                           fit.min_samples);
        goto out;
    }
    if (o->algo == CSEG_ALGO_HCLUST && cseg_hclust_is_approximate(fit.tree) && !o->c.quiet)
        fprintf(stderr, "custseg: note: %zu customers: the %s tree was built on %zu "
                        "micro-clusters (a k-means pass first); --exact builds it on every "
                        "customer\n",
                n, seg_algo_label(o), cseg_hclust_n_leaves(fit.tree));
    /* Order clusters by revenue (or size), Outliers last, and install the model. */
    long jr = in->revenue_column ? cseg_table_find(in->customers, in->revenue_column) : -1;
    const double *rev = jr >= 0 ? cseg_table_numbers(in->customers, (size_t)jr) : NULL;
    ok = calloc(kc, sizeof *ok);
    newid = calloc(kc, sizeof *newid);
    labels = malloc((n ? n : 1) * sizeof *labels);
    plabels = malloc((n ? n : 1) * sizeof *plabels);
    dist = malloc((n ? n : 1) * sizeof *dist);
    if (o->algo == CSEG_ALGO_GMM)
        proba = malloc((n ? n : 1) * k * sizeof *proba);
    if (!ok || !newid || !labels || !plabels || !dist || (o->algo == CSEG_ALGO_GMM && !proba)) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < kc; s++)
        ok[s].s = s;
    for (size_t i = 0; i < n; i++)
        if (F->labels[i] >= 0)
            ok[F->labels[i]].key += rev ? rev[i] : 1.0;
    qsort(ok, kc, sizeof *ok, cmp_order);
    for (size_t s = 0; s < kc; s++)
        newid[ok[s].s] = s;
    for (size_t i = 0; i < n; i++)
        labels[i] = F->labels[i] >= 0 ? (int32_t)newid[F->labels[i]] : (int32_t)kc;
    if ((rc = seg_fit_install(&fit, chosen, newid, X, n, d, in->model)) < 0) {
        status = cli_fail(rc, NULL, "model");
        goto out;
    }
    /* The saved model's rule on the training customers: distances, probabilities, and how
     * often the rule for new customers agrees with the training labels. */
    if ((rc = cseg_model_predict(in->model, X, n, plabels, dist, proba)) < 0) {
        status = cli_fail(rc, NULL, "assign");
        goto out;
    }
    size_t mismatch = 0;
    for (size_t i = 0; i < n; i++)
        mismatch += labels[i] != plabels[i];
    /* The distance to the customer's own segment (DBSCAN keeps its nearest core point's). */
    if (o->algo != CSEG_ALGO_DBSCAN &&
        (rc = cseg_model_segment_distance(in->model, X, n, labels, dist)) < 0) {
        status = cli_fail(rc, NULL, "distances");
        goto out;
    }
    if (mismatch && o->c.verbose)
        fprintf(stderr, "custseg: note: %zu customers would be put in another segment by the "
                        "rule for new customers (%s)\n", mismatch,
                o->algo == CSEG_ALGO_KMEANS ? "max-iter reached" : "see docs/algorithms.md");

    /* Profiles and names. */
    if ((rc = cseg_profile_compute(&prof, in->customers, labels, k, in->revenue_column)) < 0) {
        status = cli_fail(rc, NULL, "profiles");
        goto out;
    }
    if (in->rfm)
        rc = cseg_profile_name_rfm(prof);
    else
        rc = cseg_profile_name_features(prof, in->features, in->n_features);
    if (rc == 0 && o->algo == CSEG_ALGO_DBSCAN)
        rc = cseg_profile_set_name(prof, k - 1, "Outliers");
    if (rc < 0) {
        status = cli_fail(rc, NULL, "naming segments");
        goto out;
    }
    if (o->names) {
        size_t nn;
        names_list = cli_split(o->names, &nn);
        if (!names_list || nn != k) {
            status = cli_usage_error(o->cmd, "--names gives %zu names but there are %zu segments",
                                     names_list ? nn : 0, k);
            goto out;
        }
        /* Clear first so a rename that swaps two names is not a clash. */
        for (size_t s = 0; s < k; s++) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "\x01%zu", s);
            cseg_profile_set_name(prof, s, tmp);
        }
        for (size_t s = 0; s < k; s++)
            if (cseg_profile_set_name(prof, s, names_list[s]) < 0) {
                status = cli_usage_error(o->cmd, "--names: \"%s\" is empty or given twice",
                                         names_list[s]);
                goto out;
            }
    }
    nm = calloc(k, sizeof *nm);
    if (!nm) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < k; s++)
        nm[s] = cseg_profile_name(prof, s);
    rc = cseg_model_set_names(in->model, nm, k);

    /* customers.csv: the input's columns plus segment, name and distance. */
    seg_num = malloc((n ? n : 1) * sizeof *seg_num);
    code = malloc((n ? n : 1) * sizeof *code);
    if (rc < 0 || !seg_num || !code) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        seg_num[i] = labels[i] + 1;
        code[i] = labels[i];
    }
    rc = cseg_table_add_numbers(in->customers, "segment", seg_num);
    if (rc == 0)
        rc = cseg_table_add_text(in->customers, "segment_name", nm, k, code);
    if (rc == 0)
        rc = cseg_table_add_numbers(in->customers, "distance", dist);
    /* Mixtures: the membership probability of every segment. */
    if (proba && !(pcol = malloc((n ? n : 1) * sizeof *pcol)))
        rc = CSEG_ENOMEM;
    for (size_t s = 0; proba && rc == 0 && s < k; s++) {
        char cname[48];
        snprintf(cname, sizeof cname, "p_segment_%zu", s + 1);
        for (size_t i = 0; i < n; i++)
            pcol[i] = proba[i * k + s];
        rc = cseg_table_add_numbers(in->customers, cname, pcol);
    }
    if (rc < 0) {
        status = cli_fail(rc, NULL, "output table");
        goto out;
    }

    /* segments.json */
    root = json_object();
    json_object_set_new(root, "custseg_version", json_string(cseg_version()));
    json_object_set_new(root, "input", json_string(in->input_path));
    json_object_set_new(root, "input_kind", json_string(in->kind));
    json_object_set_new(root, "n_customers", json_integer((json_int_t)n));
    if (in->quality) {
        char a[32];
        json_t *q = quality_json(in->quality);
        day_text(in->quality->first_day, a, sizeof a);
        json_object_set_new(q, "first_day", json_string(a));
        day_text(in->quality->last_day, a, sizeof a);
        json_object_set_new(q, "last_day", json_string(a));
        day_text(in->quality->as_of_day, a, sizeof a);
        json_object_set_new(q, "as_of", json_string(a));
        json_object_set_new(root, "data_quality", q);
    }
    json_t *feat = json_array(), *mfeat = json_array();
    for (size_t j = 0; j < in->n_features; j++)
        json_array_append_new(feat, json_string(in->features[j]));
    for (size_t j = 0; j < cseg_prep_n_outputs(cseg_model_prep(in->model)); j++) {
        const cseg_prep *pp = cseg_model_prep(in->model);
        json_array_append_new(mfeat, json_string(cseg_prep_output_name(pp, j)));
    }
    json_object_set_new(root, "features", feat);
    json_object_set_new(root, "model_features", mfeat);
    json_t *ks = json_object(), *tab = json_array();
    json_object_set_new(ks, "mode", json_string(o->height > 0 ? "height"
                                                : o->k || o->algo == CSEG_ALGO_DBSCAN ? "fixed"
                                                                                      : "auto"));
    json_object_set_new(ks, "rule", json_string(fit.rule));
    json_object_set_new(ks, "chosen_k", json_integer((json_int_t)k));
    for (size_t t = 0; t < fit.n; t++) {
        const seg_cand *c = &fit.c[t];
        json_t *r = json_object();
        json_object_set_new(r, "k", json_integer((json_int_t)c->k));
        json_object_set_new(r, "inertia", jnum(c->inertia));
        json_object_set_new(r, "silhouette", jnum(c->silhouette));
        json_object_set_new(r, "davies_bouldin", jnum(c->db));
        json_object_set_new(r, "calinski_harabasz", jnum(c->ch));
        if (o->algo == CSEG_ALGO_GMM) {
            json_object_set_new(r, "bic", jnum(c->bic));
            json_object_set_new(r, "aic", jnum(c->aic));
        }
        if (o->algo == CSEG_ALGO_DBSCAN)
            json_object_set_new(r, "outliers", json_integer((json_int_t)c->n_noise));
        json_object_set_new(r, "elbow", json_boolean(c->elbow));
        json_array_append_new(tab, r);
    }
    json_object_set_new(ks, "table", tab);
    json_object_set_new(root, "k_selection", ks);
    json_t *mj = json_object();
    size_t sil_n = seg_silhouette_sample(o, n);
    json_object_set_new(mj, "algorithm", json_string(cseg_algo_name(o->algo)));
    json_object_set_new(mj, "k", json_integer((json_int_t)k));
    json_object_set_new(mj, "seed", json_integer((json_int_t)o->km.seed));
    if (o->algo == CSEG_ALGO_KMEANS) {
        json_object_set_new(mj, "kmeans_variant",
                            json_string(o->km.algorithm == CSEG_KMEANS_LLOYD ? "lloyd" : "hamerly"));
        json_object_set_new(mj, "n_init", json_integer((json_int_t)o->km.n_init));
        json_object_set_new(mj, "max_iter", json_integer((json_int_t)o->km.max_iter));
        json_object_set_new(mj, "tol", json_real(o->km.tol));
    } else if (o->algo == CSEG_ALGO_HCLUST) {
        json_object_set_new(mj, "linkage", json_string(seg_algo_label(o)));
        json_object_set_new(mj, "approximate", json_boolean(cseg_hclust_is_approximate(fit.tree)));
        json_object_set_new(mj, "n_leaves", json_integer((json_int_t)cseg_hclust_n_leaves(fit.tree)));
        if (o->height > 0)
            json_object_set_new(mj, "height", json_real(o->height));
    } else if (o->algo == CSEG_ALGO_DBSCAN) {
        json_object_set_new(mj, "eps", json_real(fit.eps));
        json_object_set_new(mj, "eps_from_k_distance", json_boolean(fit.eps_suggested));
        json_object_set_new(mj, "min_samples", json_integer((json_int_t)fit.min_samples));
        json_object_set_new(mj, "outliers", json_integer((json_int_t)F->n_noise));
        json_object_set_new(mj, "core_points",
                            json_integer((json_int_t)cseg_dbscan_n_core(cseg_model_dbscan(in->model))));
    } else {
        json_object_set_new(mj, "covariance_type", json_string(cseg_gmm_cov_name(o->cov)));
        json_object_set_new(mj, "n_init", json_integer((json_int_t)o->gmm_n_init));
        json_object_set_new(mj, "bic", jnum(F->bic));
        json_object_set_new(mj, "aic", jnum(F->aic));
    }
    if (o->algo == CSEG_ALGO_KMEANS || o->algo == CSEG_ALGO_GMM) {
        json_object_set_new(mj, "n_iter", json_integer((json_int_t)F->n_iter));
        json_object_set_new(mj, "converged", json_boolean(F->converged));
    }
    if (cseg_model_pca(in->model)) {
        const cseg_pca *pc = cseg_model_pca(in->model);
        double tot = 0;
        for (size_t c = 0; c < cseg_pca_n_components(pc); c++)
            tot += cseg_pca_explained_variance_ratio(pc)[c];
        json_object_set_new(mj, "pca_components", json_integer((json_int_t)cseg_pca_n_components(pc)));
        json_object_set_new(mj, "pca_explained_variance_ratio", jnum(tot));
    }
    json_object_set_new(mj, "inertia", jnum(F->inertia));
    json_object_set_new(mj, "silhouette", jnum(F->silhouette));
    json_object_set_new(mj, "silhouette_sample", sil_n && sil_n < n ? json_integer((json_int_t)sil_n) : json_null());
    json_object_set_new(mj, "davies_bouldin", jnum(F->db));
    json_object_set_new(mj, "calinski_harabasz", jnum(F->ch));
    json_object_set_new(mj, "assign_agreement", jnum(n ? 1.0 - (double)mismatch / (double)n : NAN));
    json_object_set_new(root, "model", mj);
    json_t *segs = json_array();
    size_t nf = cseg_profile_n_features(prof);
    for (size_t s = 0; s < k; s++) {
        json_t *so = json_object(), *mean = json_object(), *med = json_object();
        json_object_set_new(so, "segment", json_integer((json_int_t)(s + 1)));
        json_object_set_new(so, "name", json_string(cseg_profile_name(prof, s)));
        json_object_set_new(so, "size", json_integer((json_int_t)cseg_profile_size(prof, s)));
        json_object_set_new(so, "share", jnum(cseg_profile_share(prof, s)));
        json_object_set_new(so, "revenue_share", jnum(cseg_profile_revenue_share(prof, s)));
        const double *mu = cseg_profile_means(prof, s), *md = cseg_profile_medians(prof, s);
        for (size_t j = 0; j < nf; j++) {
            const char *fn = cseg_profile_feature(prof, j);
            if (strcmp(fn, "segment") == 0 || strcmp(fn, "distance") == 0 ||
                (in->id_column && strcmp(fn, in->id_column) == 0))
                continue;
            json_object_set_new(mean, fn, jnum(mu[j]));
            json_object_set_new(med, fn, jnum(md[j]));
        }
        json_object_set_new(so, "mean", mean);
        json_object_set_new(so, "median", med);
        json_array_append_new(segs, so);
    }
    json_object_set_new(root, "segments", segs);
    json_t *pop = json_object(), *pm = json_object(), *psd = json_object();
    for (size_t j = 0; j < nf; j++) {
        if (in->id_column && strcmp(cseg_profile_feature(prof, j), in->id_column) == 0)
            continue;
        json_object_set_new(pm, cseg_profile_feature(prof, j), jnum(cseg_profile_pop_means(prof)[j]));
        json_object_set_new(psd, cseg_profile_feature(prof, j), jnum(cseg_profile_pop_sds(prof)[j]));
    }
    json_object_set_new(pop, "mean", pm);
    json_object_set_new(pop, "sd", psd);
    json_object_set_new(root, "population", pop);

    /* Training metadata in the model. */
    json_t *meta = json_object();
    json_object_set_new(meta, "input", json_string(in->input_path));
    json_object_set_new(meta, "n_customers", json_integer((json_int_t)n));
    json_object_set_new(meta, "k_mode", json_object_get(ks, "mode"));
    json_incref(json_object_get(ks, "mode"));
    json_object_set_new(meta, "rule", json_string(fit.rule));
    json_object_set_new(meta, "inertia", jnum(F->inertia));
    if (o->algo == CSEG_ALGO_KMEANS || o->algo == CSEG_ALGO_GMM)
        json_object_set_new(meta, "n_iter", json_integer((json_int_t)F->n_iter));
    if (in->quality) {
        char a[32];
        day_text(in->quality->as_of_day, a, sizeof a);
        json_object_set_new(meta, "as_of", json_string(a));
    }
    char *mt = json_dumps(meta, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
    json_decref(meta);
    rc = mt ? cseg_model_set_meta(in->model, mt) : CSEG_ENOMEM;
    free(mt);
    if (rc < 0) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }

    /* Files. */
    if (mkdirs(o->out_dir) < 0) {
        status = cli_error(EXIT_IO, "%s: cannot create output folder: %s", o->out_dir,
                           strerror(errno));
        goto out;
    }
    p_customers = join(o->out_dir, "customers.csv");
    p_segments = join(o->out_dir, "segments.json");
    p_model = join(o->out_dir, "model.json");
    p_report = join(o->out_dir, "report.html");
    if (!p_customers || !p_segments || !p_model || !p_report) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    if ((rc = cseg_table_write_csv(in->customers, p_customers, &diag)) < 0) {
        status = cli_fail(rc, &diag, p_customers);
        goto out;
    }
    if (cli_write_json_atomic(root, p_segments) < 0) {
        status = cli_error(EXIT_IO, "%s: cannot write file: %s", p_segments, strerror(errno));
        goto out;
    }
    if ((rc = cseg_model_save(in->model, p_model, &diag)) < 0) {
        status = cli_fail(rc, &diag, p_model);
        goto out;
    }
    if (fit.tree && (status = write_tree(fit.tree, o, &p_tree)) != EXIT_OK)
        goto out;
    if ((status = cli_report(root, in->model, in->customers, labels, in->id_column, p_report,
                             o->km.n_threads, o->km.seed)) != EXIT_OK)
        goto out;

    /* Summary on stdout. */
    if (in->quality)
        print_quality(in->quality);
    print_k_table(o, &fit, stdout);
    printf("\n%zu customers in %zu segments:\n", n, k);
    static const char *const rfm_show[] = {"recency_days", "frequency", "monetary", "r_score",
                                           "f_score", "m_score"};
    const char *show[6];
    size_t nshow = 0;
    if (in->rfm) {
        for (size_t j = 0; j < 6; j++)
            show[nshow++] = rfm_show[j];
    } else {
        for (size_t j = 0; j < in->n_features && nshow < 5; j++)
            if (cseg_profile_find(prof, in->features[j]) >= 0)
                show[nshow++] = in->features[j];
    }
    int namew = 4;
    for (size_t s = 0; s < k; s++) {
        int len = (int)strlen(cseg_profile_name(prof, s));
        namew = len > namew ? (len > 48 ? 48 : len) : namew;
    }
    printf("  seg  %-*s %9s %7s %8s", namew, "name", "customers", "share", "revenue");
    for (size_t j = 0; j < nshow; j++)
        printf(" %14.14s", show[j]);
    printf("\n");
    for (size_t s = 0; s < k; s++) {
        /* The middle dot is two bytes but one column. */
        const char *nm_s = cseg_profile_name(prof, s);
        int extra = 0;
        for (const char *q = nm_s; *q; q++)
            extra += ((unsigned char)*q & 0xC0) == 0x80;
        printf("  %3zu  %-*.*s %9zu %6.1f%%", s + 1, namew + extra, namew + extra, nm_s,
               cseg_profile_size(prof, s), 100 * cseg_profile_share(prof, s));
        double rs = cseg_profile_revenue_share(prof, s);
        if (isfinite(rs))
            printf(" %7.1f%%", 100 * rs);
        else
            printf(" %8s", "-");
        const double *mu = cseg_profile_means(prof, s);
        for (size_t j = 0; j < nshow; j++)
            print_num(stdout, mu[cseg_profile_find(prof, show[j])], 14, 2);
        printf("\n");
    }
    printf("\nWrote %s, %s, %s, %s%s%s\n", p_customers, p_segments, p_model, p_report,
           p_tree ? ", " : "", p_tree ? p_tree : "");
out:
    free(ok);
    free(newid);
    free(plabels);
    free(code);
    free(nm);
    free(p_customers);
    free(p_segments);
    free(p_model);
    free(p_report);
    free(p_tree);
    json_decref(root);
    cli_free_list(names_list);
    cseg_profile_free(prof);
    seg_fit_free(&fit);
    free(labels);
    free(dist);
    free(proba);
    free(pcol);
    free(seg_num);
    free(X);
    return status;
}
