/* custseg train: learn a run's segments with a classifier (docs/classify.md).
 *
 * The customers of OUTDIR/customers.csv go through the model's own
 * transformation; a stratified share of them is held out; a decision tree, a
 * random forest or a linear SVM learns the segments of the others (with an
 * optional stratified k-fold cross-validation among them), is scored on the
 * held-out ones, and is saved in OUTDIR/model.json for assign --with. */
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: custseg train OUTDIR [options]\n"
    "\n"
    "Learn the segments of a finished run or fit (OUTDIR/model.json and\n"
    "OUTDIR/customers.csv) with a classifier, score it on held-out customers, and keep it\n"
    "in OUTDIR/model.json, where 'custseg assign MODEL FILE --with KIND' uses it.\n"
    "\n"
    "  --classifier tree|forest|svm  (default forest; svm: a linear SVM by LIBLINEAR)\n"
    "  --test-size F       share of each segment held out for scoring (default 0.2)\n"
    "  --cv K              also a stratified K-fold cross-validation on the customers\n"
    "                      not held out (K from 2 to 100; default: none)\n"
    "  --seed N            the split, the folds and the forest's draws (default 0)\n"
    "  --trees N           trees of a forest (default 100)\n"
    "  --max-depth N       deepest split (default: none)\n"
    "  --min-samples-leaf N  customers in each leaf at least (default 1)\n"
    "  --criterion gini|entropy  (default gini)\n"
    "  --C X               the SVM's cost of a margin violation (default 1)\n"
    "  --threads N         0: all cores (default)\n"
    "  --format table|json what to print (default table)\n"
    "  --help              this help\n"
    "\n"
    "The classifier kept is the one scored: trained on the customers not held out.\n";

enum { O_CLASSIFIER = 3000, O_TEST_SIZE, O_TREES, O_MAX_DEPTH, O_MIN_LEAF, O_CRITERION, O_C, O_CV };

typedef struct train_opts {
    const char *kind;
    double test_size;
    uint64_t seed;
    size_t cv;
    cseg_forest_params fp;
    cseg_linear_params lp;
    int json;
} train_opts;

static int parse(int argc, char **argv, train_opts *o)
{
    static const struct option longopts[] = {{"classifier", required_argument, 0, O_CLASSIFIER},
                                             {"test-size", required_argument, 0, O_TEST_SIZE},
                                             {"seed", required_argument, 0, OPT_SEED},
                                             {"trees", required_argument, 0, O_TREES},
                                             {"max-depth", required_argument, 0, O_MAX_DEPTH},
                                             {"min-samples-leaf", required_argument, 0, O_MIN_LEAF},
                                             {"criterion", required_argument, 0, O_CRITERION},
                                             {"C", required_argument, 0, O_C},
                                             {"cv", required_argument, 0, O_CV},
                                             {"threads", required_argument, 0, OPT_THREADS},
                                             {"format", required_argument, 0, OPT_FORMAT},
                                             {"help", no_argument, 0, OPT_HELP},
                                             {0, 0, 0, 0}};
    long v;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP: fputs(help, stdout); return -1;
        case O_CLASSIFIER:
            if (strcmp(optarg, "tree") != 0 && strcmp(optarg, "forest") != 0 &&
                strcmp(optarg, "svm") != 0)
                return cli_usage_error("train", "--classifier must be tree, forest or svm");
            o->kind = optarg;
            break;
        case O_TEST_SIZE:
            if (cli_parse_double(optarg, &o->test_size) < 0 || !(o->test_size > 0) ||
                !(o->test_size < 1))
                return cli_usage_error("train", "--test-size must be between 0 and 1");
            break;
        case OPT_SEED:
            if (cli_parse_int(optarg, 0, LONG_MAX, &v) < 0)
                return cli_usage_error("train", "--seed must be a whole number >= 0");
            o->seed = (uint64_t)v;
            break;
        case O_TREES:
            if (cli_parse_int(optarg, 1, 100000, &v) < 0)
                return cli_usage_error("train", "--trees must be from 1 to 100000");
            o->fp.n_estimators = (size_t)v;
            break;
        case O_MAX_DEPTH:
            if (cli_parse_int(optarg, 1, 10000, &v) < 0)
                return cli_usage_error("train", "--max-depth must be from 1 to 10000");
            o->fp.tree.max_depth = (size_t)v;
            break;
        case O_MIN_LEAF:
            if (cli_parse_int(optarg, 1, LONG_MAX, &v) < 0)
                return cli_usage_error("train", "--min-samples-leaf must be a whole number >= 1");
            o->fp.tree.min_samples_leaf = (size_t)v;
            break;
        case O_CRITERION:
            if (strcmp(optarg, "gini") != 0 && strcmp(optarg, "entropy") != 0)
                return cli_usage_error("train", "--criterion must be gini or entropy");
            o->fp.tree.criterion = optarg[0] == 'g' ? CSEG_TREE_GINI : CSEG_TREE_ENTROPY;
            break;
        case O_C:
            if (cli_parse_double(optarg, &o->lp.C) < 0 || cseg_linear_params_check(&o->lp))
                return cli_usage_error("train", "--C must be a positive number");
            break;
        case O_CV:
            if (cli_parse_int(optarg, 2, 100, &v) < 0)
                return cli_usage_error("train", "--cv must be from 2 to 100");
            o->cv = (size_t)v;
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, &o->fp.n_threads) < 0)
                return cli_usage_error("train", "--threads must be from 0 to 1024");
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "table") != 0 && strcmp(optarg, "json") != 0)
                return cli_usage_error("train", "--format must be table or json");
            o->json = optarg[0] == 'j';
            break;
        default: return cli_usage_error("train", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("train", "expected OUTDIR (the --out of run or fit)");
    return 0;
}

/* A fitted classifier of the kind asked for. */
typedef struct trained {
    cseg_forest *forest; /* a tree is a forest of one */
    cseg_linear *svm;
} trained;

static void trained_free(trained *t)
{
    cseg_forest_free(t->forest);
    cseg_linear_free(t->svm);
    t->forest = NULL;
    t->svm = NULL;
}

static int fit(const train_opts *o, const double *Z, size_t n, size_t dim, const int32_t *y,
               size_t k, trained *t, cseg_diag *diag)
{
    int rc;
    t->forest = NULL;
    t->svm = NULL;
    if (strcmp(o->kind, "svm") == 0)
        return cseg_linear_fit(&t->svm, Z, n, dim, y, k, NULL, &o->lp, diag);
    if (strcmp(o->kind, "forest") == 0)
        return cseg_forest_fit(&t->forest, Z, n, dim, y, k, NULL, NULL, &o->fp, diag);
    cseg_tree *tr = NULL;
    if ((rc = cseg_tree_fit(&tr, Z, n, dim, y, k, NULL, NULL, &o->fp.tree, diag)) == 0 &&
        (rc = cseg_forest_create(&t->forest, &tr, 1)) < 0)
        cseg_diag_clear(diag);
    return rc;
}

static int predict(const trained *t, const double *Z, size_t n, int32_t *pred)
{
    return t->svm ? cseg_linear_predict(t->svm, Z, n, pred, NULL)
                  : cseg_forest_predict(t->forest, Z, n, pred, NULL);
}

static void mean_sd(const double *v, size_t n, double *mean, double *sd)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (double)(n - 1)) : 0;
}

/* Stratified o->cv-fold cross-validation on the training rows: each fold
 * scored by a classifier fitted on the others. NULL with *status set on a
 * failure. */
static json_t *cross_validate(const train_opts *o, const double *Z, size_t n, size_t dim,
                              const int32_t *y, size_t k, const char *what, int *status)
{
    uint32_t *fold = malloc(n * sizeof *fold);
    double *Za = malloc(n * dim * sizeof *Za), *Zb = malloc(n * dim * sizeof *Zb);
    int32_t *ya = malloc(n * sizeof *ya), *yb = malloc(n * sizeof *yb), *pred = malloc(n * sizeof *pred);
    double *acc = calloc(o->cv, sizeof *acc), *f1 = calloc(o->cv, sizeof *f1);
    json_t *j = NULL;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    int rc = fold && Za && Zb && ya && yb && pred && acc && f1 ? 0 : CSEG_ENOMEM;
    /* An SVM needs every segment in each fold's training part; the folds
     * spread a segment's customers one a fold, so it needs two of each (a
     * tree or forest does without). */
    for (size_t c = 0; rc == 0 && strcmp(o->kind, "svm") == 0 && c < k; c++) {
        size_t nc = 0;
        for (size_t i = 0; i < n; i++)
            nc += y[i] == (int32_t)c;
        if (nc < 2) {
            *status = cli_error(EXIT_DATA,
                                "%s: segment %zu has %zu customer%s among those trained on: too "
                                "few for an SVM in %zu folds (each fold's training needs every "
                                "segment); use --classifier forest or tree, or leave out --cv",
                                what, c + 1, nc, nc == 1 ? "" : "s", o->cv);
            goto out;
        }
    }
    if (rc == 0 && (rc = cseg_split_kfold(y, n, k, o->cv, o->seed, fold)) == CSEG_EINVAL) {
        *status = cli_error(EXIT_DATA, "%s: too few customers for %zu folds", what, o->cv);
        goto out;
    }
    for (size_t f = 0; f < o->cv && rc == 0; f++) {
        /* the other folds: every row whose fold is not f */
        size_t na = 0, nb = 0;
        for (size_t i = 0; i < n; i++) {
            int test = fold[i] == f;
            memcpy((test ? Zb + nb * dim : Za + na * dim), Z + i * dim, dim * sizeof *Z);
            if (test)
                yb[nb++] = y[i];
            else
                ya[na++] = y[i];
        }
        trained t;
        cseg_class_scores sc;
        if ((rc = fit(o, Za, na, dim, ya, k, &t, &diag)) == 0 &&
            (rc = predict(&t, Zb, nb, pred)) == 0 &&
            (rc = cseg_metrics_classification(yb, pred, nb, k, &sc, NULL, NULL, NULL, NULL,
                                              NULL)) == 0) {
            acc[f] = sc.accuracy;
            f1[f] = sc.macro_f1;
        }
        trained_free(&t);
    }
    if (rc < 0) {
        *status = rc == CSEG_ENOMEM ? cli_error(EXIT_IO, "out of memory") : cli_fail(rc, &diag, what);
        goto out;
    }
    double am, as, fm, fs;
    mean_sd(acc, o->cv, &am, &as);
    mean_sd(f1, o->cv, &fm, &fs);
    j = json_object();
    json_t *ja = json_array(), *jf = json_array();
    for (size_t f = 0; f < o->cv; f++) {
        json_array_append_new(ja, json_real(acc[f]));
        json_array_append_new(jf, json_real(f1[f]));
    }
    json_object_set_new(j, "folds", json_integer((json_int_t)o->cv));
    json_object_set_new(j, "accuracy", ja);
    json_object_set_new(j, "macro_f1", jf);
    json_object_set_new(j, "accuracy_mean", json_real(am));
    json_object_set_new(j, "accuracy_sd", json_real(as));
    json_object_set_new(j, "macro_f1_mean", json_real(fm));
    json_object_set_new(j, "macro_f1_sd", json_real(fs));
out:
    free(fold), free(Za), free(Zb), free(ya), free(yb), free(pred), free(acc), free(f1);
    return j;
}

/* The scores as JSON (also what the table is printed from). */
static json_t *scores_json(const cseg_model *m, const train_opts *o, size_t n_train,
                           size_t n_test, const int32_t *truth, const int32_t *pred)
{
    size_t k = cseg_model_k(m);
    size_t *cm = calloc(k * k, sizeof *cm), *sup = calloc(k, sizeof *sup);
    double *pr = calloc(k, sizeof *pr), *rc = calloc(k, sizeof *rc), *f1 = calloc(k, sizeof *f1);
    cseg_class_scores sc;
    if (!cm || !sup || !pr || !rc || !f1 ||
        cseg_metrics_classification(truth, pred, n_test, k, &sc, cm, pr, rc, f1, sup) < 0) {
        free(cm), free(sup), free(pr), free(rc), free(f1);
        return NULL;
    }
    json_t *j = json_object(), *segs = json_array(), *conf = json_array();
    json_object_set_new(j, "classifier", json_string(o->kind));
    if (strcmp(o->kind, "forest") == 0)
        json_object_set_new(j, "trees", json_integer((json_int_t)o->fp.n_estimators));
    if (strcmp(o->kind, "svm") == 0)
        json_object_set_new(j, "C", json_real(o->lp.C));
    json_object_set_new(j, "train", json_integer((json_int_t)n_train));
    json_object_set_new(j, "test", json_integer((json_int_t)n_test));
    json_object_set_new(j, "test_size", json_real(o->test_size));
    json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(j, "accuracy", json_real(sc.accuracy));
    json_object_set_new(j, "macro_f1", json_real(sc.macro_f1));
    json_object_set_new(j, "weighted_f1", json_real(sc.weighted_f1));
    for (size_t c = 0; c < k; c++) {
        json_t *s = json_object(), *row = json_array();
        json_object_set_new(s, "segment", json_integer((json_int_t)c + 1));
        json_object_set_new(s, "name", json_string(cseg_model_name(m, c) ? cseg_model_name(m, c) : ""));
        json_object_set_new(s, "precision", json_real(pr[c]));
        json_object_set_new(s, "recall", json_real(rc[c]));
        json_object_set_new(s, "f1", json_real(f1[c]));
        json_object_set_new(s, "support", json_integer((json_int_t)sup[c]));
        json_array_append_new(segs, s);
        for (size_t p = 0; p < k; p++)
            json_array_append_new(row, json_integer((json_int_t)cm[c * k + p]));
        json_array_append_new(conf, row);
    }
    json_object_set_new(j, "segments", segs);
    json_object_set_new(j, "confusion", conf);
    free(cm), free(sup), free(pr), free(rc), free(f1);
    return j;
}

static void print_table(const json_t *j)
{
    size_t k = json_array_size(json_object_get(j, "segments"));
    const char *kind = json_string_value(json_object_get(j, "classifier"));
    if (strcmp(kind, "forest") == 0)
        printf("A forest of %lld trees", (long long)json_integer_value(json_object_get(j, "trees")));
    else if (strcmp(kind, "svm") == 0)
        printf("A linear SVM (C = %g)", json_real_value(json_object_get(j, "C")));
    else
        printf("A decision tree");
    printf(" trained on %lld customers, scored on %lld held out (stratified, seed %lld):\n",
           (long long)json_integer_value(json_object_get(j, "train")),
           (long long)json_integer_value(json_object_get(j, "test")),
           (long long)json_integer_value(json_object_get(j, "seed")));
    printf("  accuracy %.4f   macro-F1 %.4f   weighted F1 %.4f\n\n",
           json_real_value(json_object_get(j, "accuracy")),
           json_real_value(json_object_get(j, "macro_f1")),
           json_real_value(json_object_get(j, "weighted_f1")));
    json_t *cv = json_object_get(j, "cross_validation");
    if (cv) {
        json_t *acc = json_object_get(cv, "accuracy");
        printf("  %lld-fold cross-validation on the training customers: accuracy %.4f +- %.4f,"
               " macro-F1 %.4f +- %.4f\n    folds' accuracy:",
               (long long)json_integer_value(json_object_get(cv, "folds")),
               json_real_value(json_object_get(cv, "accuracy_mean")),
               json_real_value(json_object_get(cv, "accuracy_sd")),
               json_real_value(json_object_get(cv, "macro_f1_mean")),
               json_real_value(json_object_get(cv, "macro_f1_sd")));
        for (size_t f = 0; f < json_array_size(acc); f++)
            printf(" %.4f", json_real_value(json_array_get(acc, f)));
        printf("\n\n");
    }
    printf("  seg  %-28s precision  recall      F1  support\n", "name");
    for (size_t c = 0; c < k; c++) {
        json_t *s = json_array_get(json_object_get(j, "segments"), c);
        printf("  %3zu  %-28.28s %9.4f %7.4f %7.4f %8lld\n", c + 1,
               json_string_value(json_object_get(s, "name")),
               json_real_value(json_object_get(s, "precision")),
               json_real_value(json_object_get(s, "recall")),
               json_real_value(json_object_get(s, "f1")),
               (long long)json_integer_value(json_object_get(s, "support")));
    }
    printf("\nConfusion (rows: the segment, columns: the classifier's):\n       ");
    for (size_t c = 0; c < k; c++)
        printf("%7zu", c + 1);
    printf("\n");
    for (size_t c = 0; c < k; c++) {
        json_t *row = json_array_get(json_object_get(j, "confusion"), c);
        printf("  %3zu  ", c + 1);
        for (size_t p = 0; p < k; p++)
            printf("%7lld", (long long)json_integer_value(json_array_get(row, p)));
        printf("\n");
    }
}

int cmd_train(int argc, char **argv)
{
    train_opts o = {"forest", 0.2, 0, 0, {0}, {1, 1e-4}, 0};
    cseg_forest_params_init(&o.fp);
    cseg_linear_params_init(&o.lp);
    int prc = parse(argc, argv, &o);
    if (prc != 0)
        return prc < 0 ? EXIT_OK : prc;
    o.fp.seed = o.seed;
    const char *dir = argv[optind];
    char mpath[4096], cpath[4096];
    snprintf(mpath, sizeof mpath, "%s/model.json", dir);
    snprintf(cpath, sizeof cpath, "%s/customers.csv", dir);
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_model *m = NULL;
    cseg_table *t = NULL;
    trained tc = {NULL, NULL};
    double *Z = NULL, *Ztr = NULL, *Zte = NULL;
    int32_t *y = NULL, *ytr = NULL, *yte = NULL, *pred = NULL;
    unsigned char *is_test = NULL;
    json_t *scores = NULL;
    int status = EXIT_OK, rc = cseg_model_load(&m, mpath, &diag);
    if (rc < 0)
        return cli_fail(rc, &diag, mpath);
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    if ((rc = cseg_table_read_csv(&t, cpath, &rp, &diag)) < 0) {
        status = cli_fail(rc, &diag, cpath);
        goto out;
    }
    size_t n = cseg_table_n_rows(t), k = cseg_model_k(m), dim = cseg_model_dim(m);
    long js = cseg_table_find(t, "segment");
    if (js < 0 || cseg_table_col_type(t, (size_t)js) != CSEG_COL_NUMBER) {
        status = cli_error(EXIT_DATA, "%s: no numeric column 'segment'", cpath);
        goto out;
    }
    const double *seg = cseg_table_numbers(t, (size_t)js);
    Z = malloc((n ? n : 1) * dim * sizeof *Z);
    y = malloc((n ? n : 1) * sizeof *y);
    is_test = malloc(n ? n : 1);
    if (!Z || !y || !is_test) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(seg[i] >= 1 && seg[i] <= (double)k && seg[i] == floor(seg[i]))) {
            status = cli_error(EXIT_DATA, "%s:%ld: segment is not 1..%zu", cpath,
                               cseg_table_row_line(t, i), k);
            goto out;
        }
        y[i] = (int32_t)seg[i] - 1;
    }
    if ((rc = cseg_model_transform(m, t, Z, &diag)) < 0 ||
        (rc = cseg_split_stratified(y, n, k, o.test_size, o.seed, is_test)) < 0) {
        status = cli_fail(rc, &diag, cpath);
        goto out;
    }
    size_t ntr = 0, nte = 0;
    for (size_t i = 0; i < n; i++)
        nte += is_test[i];
    ntr = n - nte;
    if (ntr == 0 || nte == 0) {
        status = cli_error(EXIT_DATA, "%s: too few customers to hold some out", cpath);
        goto out;
    }
    Ztr = malloc(ntr * dim * sizeof *Ztr);
    Zte = malloc(nte * dim * sizeof *Zte);
    ytr = malloc(ntr * sizeof *ytr);
    yte = malloc(nte * sizeof *yte);
    pred = malloc(nte * sizeof *pred);
    if (!Ztr || !Zte || !ytr || !yte || !pred) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t i = 0, a = 0, b = 0; i < n; i++) {
        if (is_test[i]) {
            memcpy(Zte + b * dim, Z + i * dim, dim * sizeof *Z);
            yte[b++] = y[i];
        } else {
            memcpy(Ztr + a * dim, Z + i * dim, dim * sizeof *Z);
            ytr[a++] = y[i];
        }
    }
    json_t *cv = NULL;
    if (o.cv && !(cv = cross_validate(&o, Ztr, ntr, dim, ytr, k, cpath, &status)))
        goto out;
    if ((rc = fit(&o, Ztr, ntr, dim, ytr, k, &tc, &diag)) == 0)
        rc = predict(&tc, Zte, nte, pred);
    if (rc < 0) {
        json_decref(cv);
        status = cli_fail(rc, &diag, cpath);
        goto out;
    }
    scores = scores_json(m, &o, ntr, nte, yte, pred);
    if (!scores) {
        json_decref(cv);
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    if (cv)
        json_object_set_new(scores, "cross_validation", cv);
    rc = tc.svm ? cseg_model_set_svm(m, tc.svm) : cseg_model_set_classifier(m, o.kind, tc.forest);
    tc.svm = NULL; /* the model's now (or freed) */
    tc.forest = NULL;
    if (rc == 0)
        rc = cseg_model_save(m, mpath, &diag);
    if (rc < 0) {
        status = cli_fail(rc, &diag, mpath);
        goto out;
    }
    if (o.json) {
        char *txt = json_dumps(scores, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        if (txt)
            printf("%s\n", txt);
        free(txt);
    } else {
        print_table(scores);
        printf("\nKept in %s: custseg assign %s FILE --with %s\n", mpath, mpath, o.kind);
    }
out:
    json_decref(scores);
    trained_free(&tc);
    cseg_model_free(m);
    cseg_table_free(t);
    free(Z), free(Ztr), free(Zte), free(y), free(ytr), free(yte), free(pred), free(is_test);
    return status;
}
