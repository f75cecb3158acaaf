/* Tests for the library's pipeline (segment.h): the whole segmentation from a
 * transaction log or a customer table, its outputs, progress and
 * cancellation, parameter errors, compare, and models without prep. The
 * byte-for-byte equality with `custseg run`/`fit` is tests/golden. */
#include <math.h>
#include <sys/stat.h>

#include "util.h"

#define SMALL CSEG_SOURCE_DIR "/tests/data/txn_small.csv"

static cseg_table *read_small(cseg_txn_roles *roles)
{
    cseg_table *txn = NULL;
    memset(roles, 0, sizeof *roles);
    assert_int_equal(cseg_txn_read(&txn, SMALL, roles, NULL, NULL), 0);
    return txn;
}

/* Eight customers in two tight groups, with a category and a date column. */
static cseg_table *customers(void)
{
    const char *path = tmp_text(1, "id,income,score,group,since\n"
                                   "a,10,90,x,2020-01-01\nb,11,88,x,2020-01-02\n"
                                   "c,12,91,y,2020-01-03\nd,10.5,89,x,2020-01-04\n"
                                   "e,80,10,y,2020-01-05\nf,82,12,y,2020-01-06\n"
                                   "g,79,11,x,2020-01-07\nh,81,9,y,2020-01-08\n");
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_read_csv(&t, path, NULL, NULL), 0);
    unlink(path);
    return t;
}

static void test_transactions(void **state)
{
    (void)state;
    cseg_txn_roles roles;
    cseg_table *txn = read_small(&roles);
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.k = 3;
    p.n_threads = 1;
    p.input_name = "small";
    cseg_segmentation *r = NULL;
    cseg_diag d;
    assert_int_equal(cseg_segment_transactions(&r, txn, &roles, NULL, NULL, &p, &d), 0);
    size_t n = cseg_segment_n(r);
    assert_int_equal(n, 24);
    assert_int_equal(cseg_segment_k(r), 3);
    assert_non_null(cseg_segment_quality(r));
    assert_int_equal(cseg_segment_quality(r)->n_customers, 24);
    assert_null(cseg_segment_proba(r));
    assert_null(cseg_segment_linkage(r, NULL, NULL));
    /* Segments are numbered by revenue: shares fall. */
    const cseg_profile *prof = cseg_segment_profile(r);
    for (size_t s = 1; s < 3; s++)
        assert_true(cseg_profile_revenue_share(prof, s - 1) >= cseg_profile_revenue_share(prof, s));
    /* The output table: the features plus segment, segment_name, distance. */
    const cseg_table *t = cseg_segment_table(r);
    long js = cseg_table_find(t, "segment");
    assert_true(js >= 0);
    assert_true(cseg_table_find(t, "segment_name") == js + 1);
    assert_true(cseg_table_find(t, "distance") == js + 2);
    const double *seg = cseg_table_numbers(t, (size_t)js);
    const int32_t *lab = cseg_segment_labels(r);
    for (size_t i = 0; i < n; i++) {
        assert_true(lab[i] >= 0 && lab[i] < 3);
        assert_true(seg[i] == lab[i] + 1);
        assert_true(cseg_segment_distances(r)[i] >= 0);
    }
    /* The saved pipeline puts the training customers where the fit did. */
    int32_t *again = malloc(n * sizeof *again);
    double *dist = malloc(n * sizeof *dist);
    assert_int_equal(cseg_segment_n_mismatch(r), 0);
    assert_int_equal(cseg_model_assign(cseg_segment_model(r), t, again, dist, &d), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(again[i], lab[i]);
        assert_rel(dist[i], cseg_segment_distances(r)[i], 1e-12);
    }
    /* segments.json names the input and the rule. */
    const char *js_text = cseg_segment_json(r);
    assert_non_null(strstr(js_text, "\"input\": \"small\""));
    assert_non_null(strstr(js_text, "\"rule\": \"fixed by --k\""));
    assert_string_equal(cseg_segment_rule(r), "fixed by --k");
    assert_int_equal(cseg_segment_params_used(r)->n_init, 10);
    free(again);
    free(dist);
    cseg_segment_free(r);
    cseg_table_free(txn);
}

/* The same seed gives the same segments (and segments.json) for any thread count. */
static void test_threads(void **state)
{
    (void)state;
    cseg_txn_roles roles;
    cseg_table *txn = read_small(&roles);
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.algo = CSEG_ALGO_GMM;
    p.k_max = 4;
    cseg_segmentation *r[2];
    for (int t = 0; t < 2; t++) {
        p.n_threads = t + 1;
        assert_int_equal(cseg_segment_transactions(&r[t], txn, &roles, NULL, NULL, &p, NULL), 0);
    }
    assert_string_equal(cseg_segment_json(r[0]), cseg_segment_json(r[1]));
    size_t n = cseg_segment_n(r[0]), k = cseg_segment_k(r[0]);
    assert_memory_equal(cseg_segment_labels(r[0]), cseg_segment_labels(r[1]), n * sizeof(int32_t));
    /* Mixtures: probabilities sum to 1 and the label is the most probable segment. */
    const double *pr = cseg_segment_proba(r[0]);
    assert_non_null(pr);
    for (size_t i = 0; i < n; i++) {
        double sum = 0, best = -1;
        size_t arg = 0;
        for (size_t s = 0; s < k; s++) {
            sum += pr[i * k + s];
            if (pr[i * k + s] > best) {
                best = pr[i * k + s];
                arg = s;
            }
        }
        assert_rel(sum, 1.0, 1e-9);
        assert_int_equal(arg, cseg_segment_labels(r[0])[i]);
    }
    cseg_segment_free(r[0]);
    cseg_segment_free(r[1]);
    cseg_table_free(txn);
}

typedef struct seen {
    size_t fits, stop_at, trees, notes;
    size_t ks[16];
} seen;

static int progress(const cseg_progress *pr, void *user)
{
    seen *s = user;
    if (pr->stage == CSEG_STAGE_TREE)
        s->trees++;
    if (pr->stage != CSEG_STAGE_FIT)
        return 0;
    if (s->fits < 16)
        s->ks[s->fits] = pr->k;
    s->fits++;
    return s->stop_at && s->fits == s->stop_at;
}

static void on_log(cseg_log_level level, const char *msg, void *user)
{
    seen *s = user;
    if (level == CSEG_LOG_NOTE && strstr(msg, "date column \"since\""))
        s->notes++;
}

static void test_progress_cancel(void **state)
{
    (void)state;
    cseg_table *t = customers();
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.algo = CSEG_ALGO_HCLUST;
    p.k_min = 2;
    p.k_max = 5;
    seen s = {0};
    p.progress = progress;
    p.progress_user = &s;
    p.log = on_log;
    p.log_user = &s;
    cseg_segmentation *r = NULL;
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, NULL), 0);
    assert_int_equal(s.trees, 1);
    assert_int_equal(s.fits, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(s.ks[i], i + 2);
    assert_int_equal(s.notes, 1); /* the date column is left out, and said so */
    size_t nl = 0;
    assert_non_null(cseg_segment_linkage(r, &nl, NULL));
    assert_int_equal(nl, 8);
    assert_int_equal(cseg_segment_params_used(r)->n_features, 3);
    assert_null(cseg_segment_params_used(r)->progress);
    cseg_segment_free(r);
    /* Asking to stop at the second candidate stops the call. */
    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    r = (cseg_segmentation *)&s;
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, NULL), CSEG_ECANCELED);
    assert_null(r);
    assert_int_equal(s.fits, 2);
    cseg_table_free(t);
}

/* What cseg_segment_write_all reports, in order; stop_file: stop there. */
typedef struct wseen {
    size_t calls, rows_calls, last_done, total, customers_after;
    char files[8][32];
    size_t n_files;
    const char *stop_file;
} wseen;

static int on_write(const cseg_progress *pr, void *user)
{
    wseen *w = user;
    assert_int_equal(pr->stage, CSEG_STAGE_WRITE);
    assert_non_null(pr->file);
    w->calls++;
    if (strcmp(pr->file, "customers.csv") == 0) {
        assert_int_equal(w->n_files, 0);
        assert_true(pr->done > w->last_done); /* rows, growing */
        w->last_done = pr->done;
        w->total = pr->total;
        w->rows_calls++;
    } else {
        assert_int_equal(pr->done, 0);
        assert_int_equal(pr->total, 1);
        snprintf(w->files[w->n_files++ % 8], sizeof w->files[0], "%s", pr->file);
    }
    return w->stop_file && strcmp(pr->file, w->stop_file) == 0;
}

/* The preprocessing's steps, as reported. */
static int on_prepare(const cseg_progress *pr, void *user)
{
    size_t *steps = user;
    if (pr->stage == CSEG_STAGE_PREPARE) {
        assert_int_equal(pr->total, 2);
        assert_int_equal(pr->done, steps[0]); /* 0, then 1 */
        steps[0]++;
    }
    return 0;
}

static void test_write_progress(void **state)
{
    (void)state;
    /* 70,000 customers: customers.csv's rows told a few times, growing. */
    size_t n = 70000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)(i % 2) * 10 + (double)(i % 7) * 0.1;
        y[i] = (double)(i % 3);
    }
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_create(&t, n), 0);
    assert_int_equal(cseg_table_add_numbers(t, "x", x), 0);
    assert_int_equal(cseg_table_add_numbers(t, "y", y), 0);
    free(x);
    free(y);
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.k = 2;
    size_t steps[1] = {0};
    p.progress = on_prepare;
    p.progress_user = steps;
    cseg_segmentation *r = NULL;
    assert_int_equal(cseg_segment_customers(&r, t, NULL, &p, NULL), 0);
    assert_int_equal(steps[0], 2);
    char dir[] = "/tmp/cseg_write_progressXXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[64];
    snprintf(out, sizeof out, "%s/out", dir);
    /* Without a callback: nothing told (and nothing breaks). */
    wseen w = {0};
    assert_int_equal(cseg_segment_write_all(r, out, NULL, NULL, NULL), 0);
    cseg_segment_set_progress(r, on_write, &w);
    assert_int_equal(cseg_segment_write_all(r, out, NULL, NULL, NULL), 0);
    assert_int_equal(w.total, n);
    assert_int_equal(w.last_done, n);
    assert_true(w.rows_calls >= 2);
    assert_int_equal(w.n_files, 3);
    assert_string_equal(w.files[0], "segments.json");
    assert_string_equal(w.files[1], "model.json");
    assert_string_equal(w.files[2], "report.html");
    /* Stopping at model.json: CSEG_ECANCELED, the folder as it was. */
    char path[96];
    snprintf(path, sizeof path, "%s/customers.csv", out);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    memset(&w, 0, sizeof w);
    w.stop_file = "model.json";
    cseg_diag d;
    assert_int_equal(cseg_segment_write_all(r, out, NULL, NULL, &d), CSEG_ECANCELED);
    assert_non_null(strstr(d.msg, "canceled"));
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino); /* not replaced */
    /* Stopping inside customers.csv: the same. */
    memset(&w, 0, sizeof w);
    w.stop_file = "customers.csv";
    assert_int_equal(cseg_segment_write_all(r, out, NULL, NULL, &d), CSEG_ECANCELED);
    assert_int_equal(w.rows_calls, 1);
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    cseg_segment_free(r);
    cseg_table_free(t);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The segmentation of a table *t (made here; the caller frees it after the
 * segmentation) of two number columns a and b (n rows), failing the test
 * with the library's message when it fails. */
static cseg_segmentation *segment_two(cseg_table **t, const char *na, const double *a,
                                      const char *nb, const double *b, size_t n,
                                      const cseg_segment_params *p)
{
    assert_int_equal(cseg_table_create(t, n), 0);
    assert_int_equal(cseg_table_add_numbers(*t, na, a), 0);
    assert_int_equal(cseg_table_add_numbers(*t, nb, b), 0);
    cseg_segmentation *r = NULL;
    cseg_diag d;
    if (cseg_segment_customers(&r, *t, NULL, p, &d) < 0)
        fail_msg("%s", d.msg);
    return r;
}

/* Ward above 20,000 customers (a tree of micro-clusters) on fewer distinct
 * customers than k: as many segments as there are, with the warning, as
 * the exact tree gives (the fit failed: "the tree ... cannot be cut"). */
static void test_ward_micro_fewer_than_k(void **state)
{
    (void)state;
    const size_t n = 21000;
    static const double pts[5][2] = {{0, 0}, {1, 0}, {0, 5}, {7, 7}, {3, 1}};
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_non_null(a && b);
    for (size_t i = 0; i < n; i++) {
        a[i] = pts[(i * 7) % 5][0];
        b[i] = pts[(i * 7) % 5][1];
    }
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.algo = CSEG_ALGO_HCLUST;
    p.k = 6;
    cseg_table *t = NULL;
    cseg_segmentation *r = segment_two(&t, "a", a, "b", b, n, &p);
    free(a);
    free(b);
    assert_int_equal(cseg_segment_k(r), 5);
    int warned = 0;
    for (size_t w = 0; w < cseg_segment_n_warnings(r); w++) {
        const char *code;
        cseg_segment_warning(r, w, &code);
        warned |= strcmp(code, "fewer_segments") == 0;
    }
    assert_true(warned);
    cseg_segment_free(r);
    cseg_table_free(t);
}

/* k-means with k above the distinct customers: no empty segment (two
 * centres on the same rows left one without customers, and no warning). */
static void test_kmeans_no_empty_segment(void **state)
{
    (void)state;
    double a[23], b[23];
    for (int i = 0; i < 23; i++) {
        a[i] = i < 20 ? 0 : i == 20 ? 1 : 5;
        b[i] = i < 20 ? 0 : i == 20 ? 1 : i == 21 ? 5 : 6;
    }
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.k = 5;
    cseg_table *t = NULL;
    cseg_segmentation *r = segment_two(&t, "f0", a, "f1", b, 23, &p);
    size_t k = cseg_segment_k(r);
    assert_int_equal(k, 4);
    const cseg_profile *pr = cseg_segment_profile(r);
    for (size_t s = 0; s < k; s++)
        assert_true(cseg_profile_size(pr, s) > 0);
    assert_int_equal(cseg_segment_n_warnings(r), 1);
    const char *code;
    cseg_segment_warning(r, 0, &code);
    assert_string_equal(code, "fewer_segments");
    cseg_segment_free(r);
    cseg_table_free(t);
}

/* A mixture whose components the customers cannot fill: the row shows
 * fewer segments than components, so no BIC (it was the k-component
 * model's, beside a smaller k). */
static void test_gmm_collapsed_no_bic(void **state)
{
    (void)state;
    double a[5] = {1, 1, 1, 1, 1}, b[5] = {2, 2, 2, 2, 2};
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.algo = CSEG_ALGO_GMM;
    p.k = 2;
    cseg_table *t = NULL;
    cseg_segmentation *r = segment_two(&t, "a", a, "b", b, 5, &p);
    assert_int_equal(cseg_segment_k(r), 1);
    const cseg_candidate *c = &cseg_segment_candidates(r)[cseg_segment_chosen(r)];
    assert_true(isnan(c->bic) && isnan(c->aic));
    cseg_segment_free(r);
    cseg_table_free(t);
}

static void test_param_errors(void **state)
{
    (void)state;
    cseg_table *t = customers();
    cseg_segment_params p;
    cseg_segmentation *r = NULL;
    cseg_diag d;
    cseg_segment_params_init(&p);
    assert_null(cseg_segment_params_check(&p));
    p.k_min = 6;
    p.k_max = 3;
    assert_non_null(cseg_segment_params_check(&p));
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, &d), CSEG_EINVAL);
    cseg_segment_params_init(&p);
    p.k = 2;
    p.pca = 9; /* 2 numbers + 2 one-hot columns */
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, &d), CSEG_EPARAM);
    assert_string_equal(d.msg, "pca 9 is more components than the 4 model features");
    p.pca = 0;
    const char *bad[] = {"income", "nope"};
    p.features = bad;
    p.n_features = 2;
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, &d), CSEG_EPARAM);
    assert_non_null(strstr(d.msg, "has no column \"nope\""));
    p.features = NULL;
    p.n_features = 0;
    const char *names[] = {"One", "One"};
    p.names = names;
    p.n_names = 2;
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, &d), CSEG_EPARAM);
    assert_string_equal(d.msg, "names: \"One\" is empty or given twice");
    p.names = NULL;
    p.n_names = 0;
    p.k = 9;
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, &d), CSEG_ERANGE);
    assert_null(r);
    cseg_algo a;
    cseg_linkage l;
    assert_int_equal(cseg_algo_parse("average", &a, &l), 0);
    assert_int_equal(a, CSEG_ALGO_HCLUST);
    assert_int_equal(l, CSEG_LINKAGE_AVERAGE);
    assert_string_equal(cseg_algo_label(a, l), "average");
    assert_int_equal(cseg_algo_parse("kmedoids", &a, &l), CSEG_EINVAL);
    cseg_table_free(t);
}

static void test_compare(void **state)
{
    (void)state;
    cseg_table *t = customers();
    cseg_compare_params p;
    cseg_compare_params_init(&p);
    const char *algos[] = {"kmeans", "ward", "dbscan"};
    p.algorithms = algos;
    p.n_algorithms = 3;
    p.segment.k_min = 2;
    p.segment.k_max = 3;
    p.bootstrap = 3;
    cseg_comparison *c = NULL;
    cseg_diag d;
    assert_int_equal(cseg_compare_customers(&c, t, "id", &p, &d), 0);
    assert_int_equal(cseg_compare_n_customers(c), 8);
    const cseg_compare_row *rows = cseg_compare_rows(c);
    size_t nr = cseg_compare_n_rows(c);
    assert_true(nr >= 4);
    assert_string_equal(rows[0].algorithm, "kmeans");
    assert_int_equal(rows[0].c.k, 2);
    assert_string_equal(rows[2].algorithm, "ward");
    /* Two tight groups: k = 2 splits them for good, whatever the resample. */
    assert_rel(rows[0].stability, 1.0, 1e-12);
    assert_true(cseg_compare_recommended(c) < nr);
    assert_int_equal(rows[cseg_compare_recommended(c)].c.k, 2);
    char *json = cseg_compare_json(c);
    assert_non_null(strstr(json, "\"recommended\""));
    free(json);
    cseg_compare_free(c);
    const char *bad[] = {"kmeans", "nope"};
    p.algorithms = bad;
    p.n_algorithms = 2;
    assert_int_equal(cseg_compare_customers(&c, t, "id", &p, &d), CSEG_EPARAM);
    assert_null(c);
    cseg_table_free(t);
}

/* Issue 15.4: one revenue rule for customer tables: a column named like
 * money is found (not Spending_Score), orders the segments, and the same
 * rule reaches segments.json; --revenue names another; a missing one is a
 * parameter error. */
static void test_revenue_rule(void **state)
{
    (void)state;
    const char *path = tmp_text(2, "id,Spending_Score,Total_Spend,age\n1,90,100,20\n2,80,120,22\n"
                                   "3,10,5000,60\n4,20,4000,65\n5,85,90,21\n6,15,4500,63\n");
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_read_csv(&t, path, NULL, NULL), 0);
    unlink(path);
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.k = 2;
    const char *feats[] = {"age"};
    p.features = feats;
    p.n_features = 1;
    cseg_segmentation *r = NULL;
    cseg_diag d;
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, &d), 0);
    assert_string_equal(cseg_segment_params_used(r)->revenue_column, "Total_Spend");
    const cseg_profile *prof = cseg_segment_profile(r);
    assert_rel(cseg_profile_revenue_share(prof, 0), 13500.0 / 13810, 1e-12); /* the older, first */
    assert_non_null(strstr(cseg_segment_json(r), "\"revenue_column\": \"Total_Spend\""));
    cseg_segment_free(r);
    p.revenue_column = "Spending_Score";
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, &d), 0);
    /* now the young, high-score segment is first: segments go by this revenue */
    assert_rel(cseg_profile_revenue_share(cseg_segment_profile(r), 0), 255.0 / 300, 1e-12);
    cseg_segment_free(r);
    p.revenue_column = "nope";
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, &d), CSEG_EPARAM);
    assert_non_null(strstr(d.msg, "revenue: "));
    cseg_table_free(t);
}

/* Issue 15.2: a degenerate segmentation is said: segments that are the levels
 * of a text column, and one segment with almost everyone; compare does not
 * recommend such a candidate. */
static void test_degenerate(void **state)
{
    (void)state;
    cseg_table *t = customers();
    /* The two tight groups of customers() are exactly the values of "kind". */
    const char *path = tmp_text(3, "id,income,score,kind\n"
                                   "a,10,90,x\nb,11,88,x\nc,12,91,x\nd,10.5,89,x\n"
                                   "e,80,10,y\nf,82,12,y\ng,79,11,y\nh,81,9,y\n");
    cseg_table *u = NULL;
    assert_int_equal(cseg_table_read_csv(&u, path, NULL, NULL), 0);
    unlink(path);
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.k = 2;
    const char *feats[] = {"income", "score"};
    p.features = feats;
    p.n_features = 2;
    cseg_segmentation *r = NULL;
    assert_int_equal(cseg_segment_customers(&r, u, "id", &p, NULL), 0);
    const char *code = NULL;
    assert_int_equal(cseg_segment_n_warnings(r), 1);
    assert_non_null(strstr(cseg_segment_warning(r, 0, &code), "\"kind\""));
    assert_string_equal(code, "categorical_split");
    assert_non_null(strstr(cseg_segment_json(r), "\"code\": \"categorical_split\""));
    assert_null(cseg_segment_warning(r, 1, NULL));
    cseg_segment_free(r);
    /* Not so on a table whose categories cut across the segments. */
    assert_int_equal(cseg_segment_customers(&r, t, "id", &p, NULL), 0);
    assert_int_equal(cseg_segment_n_warnings(r), 0);
    assert_non_null(strstr(cseg_segment_json(r), "\"warnings\": []"));
    cseg_segment_free(r);
    /* compare: with one far customer, k = 2 puts everyone else together (95%:
     * dominant) and is not recommended, whatever its silhouette; k = 3 is. */
    char text[2048];
    size_t len = (size_t)snprintf(text, sizeof text, "id,x,y\n");
    for (int i = 0; i < 20; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "c%d,%g,%g\n", i,
                                (i < 10 ? 0 : 1) + 0.1 * (i % 3), (i < 10 ? 0 : 1) + 0.1 * (i % 4));
    len += (size_t)snprintf(text + len, sizeof text - len, "far,100,100\n");
    path = tmp_text(3, text);
    cseg_table *v = NULL;
    assert_int_equal(cseg_table_read_csv(&v, path, NULL, NULL), 0);
    unlink(path);
    cseg_compare_params cp;
    cseg_compare_params_init(&cp);
    const char *algos[] = {"kmeans"};
    cp.algorithms = algos;
    cp.n_algorithms = 1;
    cp.segment.k_min = 2;
    cp.segment.k_max = 3;
    cp.segment.prep.scale = CSEG_SCALE_NONE;
    cp.segment.prep.log = CSEG_LOG_NONE;
    cp.bootstrap = 0;
    cseg_comparison *c = NULL;
    assert_int_equal(cseg_compare_customers(&c, v, "id", &cp, NULL), 0);
    const cseg_compare_row *rows = cseg_compare_rows(c);
    assert_int_equal(rows[0].c.k, 2);
    assert_true(rows[0].degenerate);
    assert_false(rows[0].qualifies);
    assert_true(rows[0].c.silhouette > rows[1].c.silhouette);
    assert_false(rows[1].degenerate);
    assert_int_equal(rows[cseg_compare_recommended(c)].c.k, 3);
    cseg_compare_free(c);
    cseg_table_free(v);
    cseg_table_free(u);
    cseg_table_free(t);
}

/* A model may hold a clustering model alone: it predicts model-space rows. */
static void test_model_without_prep(void **state)
{
    (void)state;
    const double X[] = {0, 0, 0.1, 0, 5, 5, 5.1, 5};
    cseg_kmeans_params kp;
    cseg_kmeans_params_init(&kp);
    kp.k = 2;
    cseg_kmeans *km;
    assert_int_equal(cseg_kmeans_create(&km, &kp), 0);
    assert_int_equal(cseg_kmeans_fit(km, X, 4, 2, NULL, NULL), 0);
    cseg_model *m;
    assert_int_equal(cseg_model_create(&m), 0);
    assert_int_equal(cseg_model_set_kmeans(m, km), 0);
    assert_int_equal(cseg_model_dim(m), 2);
    int32_t lab[4];
    double dist[4];
    assert_int_equal(cseg_model_predict(m, X, 4, lab, dist, NULL), 0);
    assert_int_equal(lab[0], lab[1]);
    assert_int_equal(lab[2], lab[3]);
    assert_true(lab[0] != lab[2]);
    assert_rel(dist[0], 0.05, 1e-12);
    cseg_diag d;
    assert_int_equal(cseg_model_save(m, "/tmp/cseg_never_written.json", &d), CSEG_ENOTFIT);
    assert_int_equal(access("/tmp/cseg_never_written.json", F_OK), -1);
    cseg_model_free(m);
}

/* Issue 15.5: a Ward model keeps the training customers its rule would put
 * elsewhere; assign gives them their segment back while their row is
 * unchanged, and assigns a changed row by the rule. */
static void test_keep_known(void **state)
{
    (void)state;
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_read_csv(&t, CSEG_SOURCE_DIR "/data/mall_customers.csv", NULL, NULL), 0);
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.algo = CSEG_ALGO_HCLUST;
    p.k = 6;
    cseg_segmentation *r = NULL;
    cseg_diag d;
    assert_int_equal(cseg_segment_customers(&r, t, "CustomerID", &p, &d), 0);
    size_t n = cseg_segment_n(r), miss = cseg_segment_n_mismatch(r);
    assert_true(miss > 0);
    const cseg_model *m = cseg_segment_model(r);
    assert_int_equal(cseg_model_n_known(m), miss);
    /* Saved and read back. */
    const char *path = tmp_text(3, "");
    assert_int_equal(cseg_model_save(m, path, &d), 0);
    cseg_model *m2 = NULL;
    assert_int_equal(cseg_model_load(&m2, path, &d), 0);
    assert_int_equal(cseg_model_n_known(m2), miss);
    int32_t *lab = malloc(n * sizeof *lab);
    double *dist = malloc(n * sizeof *dist);
    size_t kept = 0, differ = 0;
    assert_int_equal(cseg_model_assign_known(m2, t, "CustomerID", lab, dist, &kept, &d), 0);
    assert_int_equal(kept, miss);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(lab[i], cseg_segment_labels(r)[i]);
        assert_true(dist[i] == cseg_segment_distances(r)[i]); /* bit for bit */
    }
    /* The rule alone puts exactly those customers elsewhere. */
    assert_int_equal(cseg_model_assign(m2, t, lab, dist, &d), 0);
    for (size_t i = 0; i < n; i++)
        differ += lab[i] != cseg_segment_labels(r)[i];
    assert_int_equal(differ, miss);
    /* A known customer whose features changed is assigned by the rule. */
    size_t who = 0;
    while (lab[who] == cseg_segment_labels(r)[who])
        who++;
    long ja = cseg_table_find(t, "Age");
    double *age = malloc(n * sizeof *age);
    memcpy(age, cseg_table_numbers(t, (size_t)ja), n * sizeof *age);
    age[who] += 1;
    cseg_table *u = NULL;
    cseg_table_create(&u, n);
    for (size_t j = 0; j < cseg_table_n_cols(t); j++) {
        const char *name = cseg_table_col_name(t, j);
        if ((long)j == ja)
            cseg_table_add_numbers(u, name, age);
        else if (cseg_table_numbers(t, j))
            cseg_table_add_numbers(u, name, cseg_table_numbers(t, j));
        else {
            size_t nl = cseg_table_n_levels(t, j);
            const char **lv = malloc(nl * sizeof *lv);
            for (size_t l = 0; l < nl; l++)
                lv[l] = cseg_table_level(t, j, (int32_t)l);
            cseg_table_add_text(u, name, lv, nl, cseg_table_codes(t, j));
            free(lv);
        }
    }
    int32_t *rule = malloc(n * sizeof *rule);
    assert_int_equal(cseg_model_assign(m2, u, rule, dist, &d), 0);
    assert_int_equal(cseg_model_assign_known(m2, u, "CustomerID", lab, dist, &kept, &d), 0);
    assert_int_equal(kept, miss - 1);
    assert_int_equal(lab[who], rule[who]);
    /* Without the id column: the rule for everyone. */
    assert_int_equal(cseg_model_assign_known(m2, u, NULL, lab, dist, &kept, &d), 0);
    assert_int_equal(kept, 0);
    free(rule);
    free(age);
    free(lab);
    free(dist);
    cseg_table_free(u);
    cseg_model_free(m2);
    cseg_segment_free(r);
    cseg_table_free(t);
}

/* known_customers that do not hold together are refused with a message. */
static void test_known_customers_format(void **state)
{
    (void)state;
    cseg_txn_roles roles;
    cseg_table *txn = read_small(&roles);
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.k = 2;
    cseg_segmentation *r = NULL;
    cseg_diag d;
    assert_int_equal(cseg_segment_transactions(&r, txn, &roles, NULL, NULL, &p, &d), 0);
    const char *path = tmp_text(4, "");
    assert_int_equal(cseg_model_save(cseg_segment_model(r), path, &d), 0);
    FILE *f = fopen(path, "rb");
    char *text = calloc(1, 1 << 20);
    size_t len = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    char *end = strrchr(text, '}');
    assert_non_null(end);
    static const char *const bad[][2] = {
        {"\"ids\": [\"1\"], \"segments\": [0]", "of one length"},
        {"\"ids\": [\"1\"], \"segments\": [9], \"fingerprints\": [\"0123456789abcdef\"]",
         "segment ids 0..k-1"},
        {"\"ids\": [1], \"segments\": [0], \"fingerprints\": [\"0123456789abcdef\"]",
         "must be strings"},
        {"\"ids\": [\"1\"], \"segments\": [0], \"fingerprints\": [\"0123\"]", "16 hex digits"},
        {"\"ids\": [\"1\", \"1\"], \"segments\": [0, 1], \"fingerprints\": "
         "[\"0123456789abcdef\", \"0123456789abcdef\"]",
         "an id twice"},
    };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        char *doc = malloc(len + 512);
        size_t head = (size_t)(end - text);
        memcpy(doc, text, head);
        int w = snprintf(doc + head, 512, ", \"known_customers\": {%s}}\n", bad[b][0]);
        const char *bp = tmp_file(5, doc, head + (size_t)w);
        cseg_model *m = NULL;
        assert_int_equal(cseg_model_load(&m, bp, &d), CSEG_EFORMAT);
        if (!strstr(d.msg, bad[b][1]))
            fail_msg("%s: %s", bad[b][1], d.msg);
        free(doc);
    }
    /* Score edges out of order are refused; in order they load. */
    char *se = strstr(text, "\"score_edges\"");
    assert_non_null(se);
    char *ra = strstr(se, "\"recency_days\": [");
    char *re = ra ? strchr(ra, ']') : NULL;
    assert_non_null(re);
    for (int order = 0; order < 2; order++) {
        char *doc = malloc(len + 64);
        size_t head = (size_t)(strchr(ra, '[') + 1 - text);
        int w = snprintf(doc, len + 64, "%.*s%s%s", (int)head, text,
                         order ? "9, 7, 7, 1" : "1, 2, 3, 4", re);
        const char *bp = tmp_file(5, doc, (size_t)w);
        cseg_model *m = NULL;
        if (order == 0) {
            assert_int_equal(cseg_model_load(&m, bp, &d), CSEG_EFORMAT);
            assert_non_null(strstr(d.msg, "score_edges\" must be ordered by score"));
        } else {
            if (cseg_model_load(&m, bp, &d) < 0)
                fail_msg("%s", d.msg);
            assert_int_equal(cseg_model_rfm(m)->has_edges, 1);
            assert_true(cseg_model_rfm(m)->edges.recency_hi[3] == 1);
            cseg_model_free(m);
        }
        free(doc);
    }
    free(text);
    cseg_segment_free(r);
    cseg_table_free(txn);
}

/* k-means choosing k on more customers than k_sample: the candidates on a
 * sample, the chosen k then on everyone. Three well-apart groups of 1,500
 * customers: the sampled choice equals the choice on all, every customer
 * gets a segment of the chosen k, segments.json says the sample's size, the
 * same result on 1 and 2 threads; below k_sample nothing is sampled. */
static void test_k_sample(void **state)
{
    (void)state;
    enum { N = 4500 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    uint64_t st = 12345;
    for (size_t i = 0; i < N; i++) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        double u = (double)(st >> 11) / 9007199254740992.0;
        x[i] = (double)(i % 3) * 10 + u;
        y[i] = (double)(i % 3 == 1) * 10 + u * 2;
    }
    cseg_table *t = NULL;
    assert_int_equal(cseg_table_create(&t, N), 0);
    assert_int_equal(cseg_table_add_numbers(t, "x", x), 0);
    assert_int_equal(cseg_table_add_numbers(t, "y", y), 0);
    cseg_segmentation *r[3] = {NULL, NULL, NULL};
    for (int v = 0; v < 3; v++) {
        cseg_segment_params p;
        cseg_segment_params_init(&p);
        p.k_max = 6;
        p.n_threads = v == 1 ? 2 : 1;
        p.k_sample = v < 2 ? 1000 : 0;
        assert_int_equal(cseg_segment_customers(&r[v], t, NULL, &p, NULL), 0);
        assert_int_equal(cseg_segment_k(r[v]), 3);
        assert_int_equal(cseg_segment_n(r[v]), N);
        const int32_t *lab = cseg_segment_labels(r[v]);
        for (size_t i = 0; i < N; i++) /* each group one segment */
            assert_int_equal(lab[i], lab[i % 3]);
        const char *js = cseg_segment_json(r[v]);
        assert_true((strstr(js, "\"sample\": 1000") != NULL) == (v < 2));
    }
    assert_memory_equal(cseg_segment_labels(r[0]), cseg_segment_labels(r[1]), N * sizeof(int32_t));
    for (int v = 0; v < 3; v++)
        cseg_segment_free(r[v]);
    cseg_table_free(t);
    free(x), free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_progress_cancel),
        cmocka_unit_test(test_write_progress),
        cmocka_unit_test(test_param_errors),
        cmocka_unit_test(test_gmm_collapsed_no_bic),
        cmocka_unit_test(test_kmeans_no_empty_segment),
        cmocka_unit_test(test_ward_micro_fewer_than_k),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_model_without_prep),
        cmocka_unit_test(test_revenue_rule),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_keep_known),
        cmocka_unit_test(test_known_customers_format),
        cmocka_unit_test(test_k_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
