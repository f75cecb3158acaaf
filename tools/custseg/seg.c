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

#define SIL_EXACT_MAX 20000

typedef struct kfit {
    size_t k;
    cseg_kmeans *km;
    double inertia, silhouette, db, ch;
    int elbow;
} kfit;

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

/* Elbow by the kneedle difference on normalised inertia: the k whose point
 * lies furthest below the chord from the first to the last k. */
static size_t elbow_index(const kfit *f, size_t m)
{
    if (m < 3)
        return (size_t)-1;
    double y0 = f[0].inertia, y1 = f[m - 1].inertia;
    if (!(y0 > y1))
        return (size_t)-1;
    size_t best = (size_t)-1;
    double bestv = 0;
    for (size_t i = 0; i < m; i++) {
        double x = (double)i / (double)(m - 1);
        double y = (f[i].inertia - y1) / (y0 - y1);
        double diff = 1 - x - y;
        if (diff > bestv + 1e-12) {
            bestv = diff;
            best = i;
        }
    }
    return best;
}

static int fit_one(const seg_opts *o, size_t k, const double *X, size_t n, size_t d, kfit *f,
                   cseg_diag *diag)
{
    cseg_kmeans_params p = o->km;
    p.k = k;
    f->k = k;
    f->silhouette = f->db = f->ch = NAN;
    int rc = cseg_kmeans_create(&f->km, &p);
    if (rc < 0)
        return rc;
    if ((rc = cseg_kmeans_fit(f->km, X, n, d, NULL, diag)) < 0)
        return rc;
    f->inertia = cseg_kmeans_inertia(f->km);
    const int32_t *lab = cseg_kmeans_labels(f->km);
    if (k >= 2 && k < n) {
        cseg_silhouette_params sp;
        cseg_silhouette_params_init(&sp);
        sp.n_threads = o->km.n_threads;
        sp.seed = o->km.seed;
        sp.sample_size = o->sample_set ? o->sample : (n > SIL_EXACT_MAX ? SIL_EXACT_MAX : 0);
        if (cseg_metrics_silhouette(X, n, d, lab, &sp, &f->silhouette, NULL) < 0)
            f->silhouette = NAN;
        if (cseg_metrics_davies_bouldin(X, n, d, lab, &f->db) < 0)
            f->db = NAN;
        if (cseg_metrics_calinski_harabasz(X, n, d, lab, &f->ch) < 0)
            f->ch = NAN;
    }
    return 0;
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

int seg_run(seg_opts *o, seg_input *in)
{
    int status = EXIT_OK, rc;
    cseg_diag diag;
    cseg_prep *prep = NULL;
    double *X = NULL, *dist = NULL, *seg_num = NULL;
    kfit *fits = NULL;
    size_t nfits = 0, chosen = 0;
    int32_t *labels = NULL;
    cseg_profile *prof = NULL;
    char **names_list = NULL;
    json_t *root = NULL;
    char *p_customers = NULL, *p_segments = NULL, *p_model = NULL, *p_report = NULL;
    order_key *ok = NULL;
    size_t *newid = NULL;
    double *C = NULL;
    int32_t *train_labels = NULL, *code = NULL;
    const char **nm = NULL;
    cseg_diag_clear(&diag);
    size_t n = cseg_table_n_rows(in->customers);
    if (cseg_table_find(in->customers, "segment") >= 0 ||
        cseg_table_find(in->customers, "segment_name") >= 0 ||
        cseg_table_find(in->customers, "distance") >= 0)
        return cli_error(EXIT_DATA, "%s: the input already has a column named segment, "
                                    "segment_name or distance (an earlier output?); rename or "
                                    "remove it", in->input_path);

    if ((rc = cseg_prep_create(&prep, &o->prep)) < 0 ||
        (rc = cseg_prep_fit(prep, in->customers, in->features, in->n_features, &diag)) < 0) {
        status = cli_fail(rc, &diag, "preprocessing");
        goto out;
    }
    size_t d = cseg_prep_n_outputs(prep);
    X = malloc((n ? n : 1) * d * sizeof *X);
    if (!X) {
        status = cli_error(EXIT_IO, "out of memory (%zu x %zu features)", n, d);
        goto out;
    }
    if ((rc = cseg_prep_transform(prep, in->customers, X, &diag)) < 0) {
        status = cli_fail(rc, &diag, "preprocessing");
        goto out;
    }
    size_t kmin = o->k ? o->k : o->k_min, kmax = o->k ? o->k : o->k_max;
    if (o->k && o->k > n) {
        status = cli_error(EXIT_DATA, "k = %zu is larger than the number of customers (%zu)",
                           o->k, n);
        goto out;
    }
    if (!o->k) {
        if (kmin > kmax) {
            status = cli_usage_error(o->cmd, "--k-min (%zu) is larger than --k-max (%zu)", kmin,
                                     kmax);
            goto out;
        }
        if (n < 3) {
            status = cli_error(EXIT_DATA,
                               "only %zu customer%s: choosing k needs at least 3 (give --k)", n,
                               n == 1 ? "" : "s");
            goto out;
        }
        if (kmax > n - 1)
            kmax = n - 1;
        if (kmin > kmax)
            kmin = kmax;
    }
    nfits = kmax - kmin + 1;
    fits = calloc(nfits, sizeof *fits);
    if (!fits) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    int progress = !o->c.quiet && isatty(2);
    for (size_t t = 0; t < nfits; t++) {
        if (progress)
            fprintf(stderr, "\rcustseg: fitting k = %zu (%zu of %zu)...", kmin + t, t + 1, nfits);
        if ((rc = fit_one(o, kmin + t, X, n, d, &fits[t], &diag)) < 0) {
            if (progress)
                fputc('\n', stderr);
            status = cli_fail(rc, &diag, "k-means");
            goto out;
        }
    }
    if (progress)
        fprintf(stderr, "\r%60s\r", "");
    size_t el = elbow_index(fits, nfits);
    const char *rule;
    if (o->k) {
        chosen = 0;
        rule = "fixed by --k";
    } else if (el != (size_t)-1) {
        chosen = el;
        fits[el].elbow = 1;
        rule = "elbow of the inertia curve (kneedle)";
    } else {
        chosen = 0;
        for (size_t t = 1; t < nfits; t++)
            if (fits[t].silhouette > fits[chosen].silhouette)
                chosen = t;
        rule = "highest silhouette (no elbow found)";
    }
    kfit *F = &fits[chosen];
    size_t k = F->k;

    /* Order segments by revenue (or size), then relabel centroids. */
    const int32_t *raw = cseg_kmeans_labels(F->km);
    long jr = in->revenue_column ? cseg_table_find(in->customers, in->revenue_column) : -1;
    const double *rev = jr >= 0 ? cseg_table_numbers(in->customers, (size_t)jr) : NULL;
    ok = calloc(k, sizeof *ok);
    newid = calloc(k, sizeof *newid);
    C = malloc(k * d * sizeof *C);
    labels = malloc((n ? n : 1) * sizeof *labels);
    dist = malloc((n ? n : 1) * sizeof *dist);
    train_labels = malloc((n ? n : 1) * sizeof *train_labels);
    if (!ok || !newid || !C || !labels || !dist || !train_labels) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < k; s++)
        ok[s].s = s;
    for (size_t i = 0; i < n; i++)
        ok[raw[i]].key += rev ? rev[i] : 1.0;
    qsort(ok, k, sizeof *ok, cmp_order);
    const double *C0 = cseg_kmeans_centroids(F->km);
    for (size_t s = 0; s < k; s++) {
        newid[ok[s].s] = s;
        memcpy(C + s * d, C0 + ok[s].s * d, d * sizeof *C);
    }
    double fit_inertia = F->inertia;
    size_t fit_iter = cseg_kmeans_n_iter(F->km);
    int fit_conv = cseg_kmeans_converged(F->km);
    for (size_t i = 0; i < n; i++)
        train_labels[i] = (int32_t)newid[raw[i]];
    if ((rc = cseg_kmeans_set_centroids(F->km, C, k, d)) < 0) {
        status = cli_fail(rc, NULL, "k-means");
        goto out;
    }
    cseg_kmeans *km = F->km;
    F->km = NULL;
    if ((rc = cseg_model_set_pipeline(in->model, prep, km)) < 0) {
        cseg_kmeans_free(km);
        status = cli_fail(rc, NULL, "model");
        goto out;
    }
    prep = NULL;
    /* Labels and distances through the saved pipeline, exactly as `assign` does. */
    if ((rc = cseg_model_assign(in->model, in->customers, labels, dist, &diag)) < 0) {
        status = cli_fail(rc, &diag, "assign");
        goto out;
    }
    size_t mismatch = 0;
    for (size_t i = 0; i < n; i++)
        mismatch += labels[i] != train_labels[i];
    if (mismatch && o->c.verbose)
        fprintf(stderr, "custseg: note: %zu customers are nearer another centre than the one "
                        "k-means gave them (max-iter reached)\n", mismatch);

    /* Profiles and names. */
    if ((rc = cseg_profile_compute(&prof, in->customers, labels, k, in->revenue_column)) < 0) {
        status = cli_fail(rc, NULL, "profiles");
        goto out;
    }
    if (in->rfm)
        rc = cseg_profile_name_rfm(prof);
    else
        rc = cseg_profile_name_features(prof, in->features, in->n_features);
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
    json_object_set_new(ks, "mode", json_string(o->k ? "fixed" : "auto"));
    json_object_set_new(ks, "rule", json_string(rule));
    json_object_set_new(ks, "chosen_k", json_integer((json_int_t)k));
    for (size_t t = 0; t < nfits; t++) {
        json_t *r = json_object();
        json_object_set_new(r, "k", json_integer((json_int_t)fits[t].k));
        json_object_set_new(r, "inertia", jnum(fits[t].inertia));
        json_object_set_new(r, "silhouette", jnum(fits[t].silhouette));
        json_object_set_new(r, "davies_bouldin", jnum(fits[t].db));
        json_object_set_new(r, "calinski_harabasz", jnum(fits[t].ch));
        json_object_set_new(r, "elbow", json_boolean(fits[t].elbow));
        json_array_append_new(tab, r);
    }
    json_object_set_new(ks, "table", tab);
    json_object_set_new(root, "k_selection", ks);
    json_t *mj = json_object();
    size_t sil_n = o->sample_set && o->sample ? o->sample : (!o->sample_set && n > SIL_EXACT_MAX ? SIL_EXACT_MAX : 0);
    json_object_set_new(mj, "algorithm", json_string("kmeans"));
    json_object_set_new(mj, "kmeans_variant",
                        json_string(o->km.algorithm == CSEG_KMEANS_LLOYD ? "lloyd" : "hamerly"));
    json_object_set_new(mj, "k", json_integer((json_int_t)k));
    json_object_set_new(mj, "seed", json_integer((json_int_t)o->km.seed));
    json_object_set_new(mj, "n_init", json_integer((json_int_t)o->km.n_init));
    json_object_set_new(mj, "max_iter", json_integer((json_int_t)o->km.max_iter));
    json_object_set_new(mj, "tol", json_real(o->km.tol));
    json_object_set_new(mj, "n_iter", json_integer((json_int_t)fit_iter));
    json_object_set_new(mj, "converged", json_boolean(fit_conv));
    json_object_set_new(mj, "inertia", json_real(fit_inertia));
    json_object_set_new(mj, "silhouette", jnum(F->silhouette));
    json_object_set_new(mj, "silhouette_sample", sil_n && sil_n < n ? json_integer((json_int_t)sil_n) : json_null());
    json_object_set_new(mj, "davies_bouldin", jnum(F->db));
    json_object_set_new(mj, "calinski_harabasz", jnum(F->ch));
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
    json_object_set_new(meta, "k_mode", json_string(o->k ? "fixed" : "auto"));
    json_object_set_new(meta, "inertia", json_real(fit_inertia));
    json_object_set_new(meta, "n_iter", json_integer((json_int_t)fit_iter));
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
    if ((status = cli_report(root, in->model, in->customers, labels, in->id_column, p_report,
                             o->km.n_threads, o->km.seed)) != EXIT_OK)
        goto out;

    /* Summary on stdout. */
    if (in->quality)
        print_quality(in->quality);
    printf("\nChoosing k (%s):\n   k      inertia  silhouette  davies_bouldin  calinski_harabasz\n",
           rule);
    for (size_t t = 0; t < nfits; t++) {
        printf("  %2zu", fits[t].k);
        print_num(stdout, fits[t].inertia, 12, 2);
        print_num(stdout, fits[t].silhouette, 11, 4);
        print_num(stdout, fits[t].db, 15, 4);
        print_num(stdout, fits[t].ch, 18, 2);
        printf("%s%s\n", fits[t].elbow ? "  <- elbow" : "", t == chosen ? "  <- chosen" : "");
    }
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
    printf("\nWrote %s, %s, %s, %s\n", p_customers, p_segments, p_model, p_report);
out:
    free(ok);
    free(newid);
    free(C);
    free(train_labels);
    free(code);
    free(nm);
    free(p_customers);
    free(p_segments);
    free(p_model);
    free(p_report);
    json_decref(root);
    cli_free_list(names_list);
    cseg_profile_free(prof);
    for (size_t t = 0; t < nfits; t++)
        cseg_kmeans_free(fits[t].km);
    free(fits);
    free(labels);
    free(dist);
    free(seg_num);
    free(X);
    cseg_prep_free(prep);
    return status;
}
