/* Tests for model.json: exact round trip, versioning, corrupt files. */
#include <math.h>

#include "util.h"

static cseg_model *make_model(void)
{
    const char *path = tmp_text(0, "id,income,score,group\n1,15.5,39,A\n2,15.5,81,B\n3,16,6,A\n"
                                   "4,16,77,B\n5,17,40,A\n6,17,76,B\n7,90.125,3,A\n8,88,99,B\n");
    cseg_table *t;
    assert_int_equal(cseg_table_read_csv(&t, path, NULL, NULL), 0);
    cseg_prep *p;
    assert_int_equal(cseg_prep_create(&p, NULL), 0);
    const char *cols[] = {"income", "score", "group"};
    assert_int_equal(cseg_prep_fit(p, t, cols, 3, NULL), 0);
    size_t n = cseg_table_n_rows(t), d = cseg_prep_n_outputs(p);
    double *X = malloc(n * d * sizeof *X);
    assert_int_equal(cseg_prep_transform(p, t, X, NULL), 0);
    cseg_kmeans_params kp;
    cseg_kmeans_params_init(&kp);
    kp.k = 3;
    kp.seed = 12345678901ULL;
    cseg_kmeans *km;
    assert_int_equal(cseg_kmeans_create(&km, &kp), 0);
    assert_int_equal(cseg_kmeans_fit(km, X, n, d, NULL, NULL), 0);
    cseg_model *m;
    assert_int_equal(cseg_model_create(&m), 0);
    assert_int_equal(cseg_model_set_customers(m, "id"), 0);
    assert_int_equal(cseg_model_set_pipeline(m, p, km), 0);
    const char *names[] = {"A \"quoted\" name", "Ünïcode · name", "third"};
    assert_int_equal(cseg_model_set_names(m, names, 3), 0);
    assert_int_equal(cseg_model_set_meta(m, "{\"n\": 8}"), 0);
    assert_int_equal(cseg_model_set_meta(m, "[1]"), CSEG_EINVAL);
    free(X);
    cseg_table_free(t);
    unlink(path);
    return m;
}

static void test_roundtrip(void **state)
{
    (void)state;
    cseg_model *m = make_model();
    char path[] = "/tmp/cseg_test_model_XXXXXX";
    close(mkstemp(path));
    cseg_diag d;
    assert_int_equal(cseg_model_save(m, path, &d), 0);
    cseg_model *r;
    assert_int_equal(cseg_model_load(&r, path, &d), 0);
    assert_int_equal(cseg_model_source(r), CSEG_SOURCE_CUSTOMERS);
    assert_string_equal(cseg_model_id_column(r), "id");
    size_t k = cseg_model_k(m), dim = cseg_kmeans_dim(cseg_model_kmeans(m));
    assert_int_equal(cseg_model_k(r), k);
    assert_memory_equal(cseg_kmeans_centroids(cseg_model_kmeans(r)),
                        cseg_kmeans_centroids(cseg_model_kmeans(m)), k * dim * sizeof(double));
    assert_true(cseg_kmeans_get_params(cseg_model_kmeans(r))->seed == 12345678901ULL);
    for (size_t s = 0; s < k; s++)
        assert_string_equal(cseg_model_name(r, s), cseg_model_name(m, s));
    assert_string_equal(cseg_model_meta(r), "{\"n\":8}");
    /* Same assignments on new data through both. */
    const char *np = tmp_text(1, "income,score,group\n20,50,A\n85,90,C\n,10,B\n");
    cseg_table *t;
    assert_int_equal(cseg_table_read_csv(&t, np, NULL, NULL), 0);
    int32_t l1[3], l2[3];
    double d1[3], d2[3];
    assert_int_equal(cseg_model_assign(m, t, l1, d1, &d), 0);
    assert_int_equal(cseg_model_assign(r, t, l2, d2, &d), 0);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(d1, d2, sizeof d1);
    cseg_table_free(t);
    /* Saving the loaded model writes the same bytes. */
    char path2[] = "/tmp/cseg_test_model2_XXXXXX";
    close(mkstemp(path2));
    assert_int_equal(cseg_model_save(r, path2, &d), 0);
    FILE *a = fopen(path, "rb"), *b = fopen(path2, "rb");
    char ba[8192], bb[8192];
    size_t na = fread(ba, 1, sizeof ba, a), nb = fread(bb, 1, sizeof bb, b);
    fclose(a);
    fclose(b);
    assert_int_equal(na, nb);
    assert_memory_equal(ba, bb, na);
    cseg_model_free(r);
    cseg_model_free(m);
    unlink(path);
    unlink(path2);
}

/* The table of assign's output as cseg_table_write_csv writes it, from the
 * whole table: what cseg_model_assign_csv must write. */
static void write_expected(const cseg_model *m, const char *in, const char *id, const char *out)
{
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    cseg_colspec spec = {id, CSEG_COL_TEXT, 1};
    if (id) {
        rp.specs = &spec;
        rp.n_specs = 1;
    }
    cseg_table *t, *res;
    assert_int_equal(cseg_table_read_csv(&t, in, &rp, NULL), 0);
    size_t n = cseg_table_n_rows(t), k = cseg_model_k(m);
    int32_t *lab = malloc(n * sizeof *lab);
    double *dist = malloc(n * sizeof *dist), *seg = malloc(n * sizeof *seg);
    assert_int_equal(cseg_model_assign_known(m, t, id, lab, dist, NULL, NULL), 0);
    const char *names[8], *lv[16];
    for (size_t s = 0; s < k; s++)
        names[s] = cseg_model_name(m, s);
    for (size_t i = 0; i < n; i++)
        seg[i] = lab[i] + 1;
    assert_int_equal(cseg_table_create(&res, n), 0);
    if (id) {
        size_t j = (size_t)cseg_table_find(t, id), nl = cseg_table_n_levels(t, j);
        for (size_t l = 0; l < nl; l++)
            lv[l] = cseg_table_level(t, j, (int32_t)l);
        assert_int_equal(cseg_table_add_text(res, id, lv, nl, cseg_table_codes(t, j)), 0);
    }
    assert_int_equal(cseg_table_add_numbers(res, "segment", seg), 0);
    assert_int_equal(cseg_table_add_text(res, "segment_name", names, k, lab), 0);
    assert_int_equal(cseg_table_add_numbers(res, "distance", dist), 0);
    assert_int_equal(cseg_table_write_csv(res, out, NULL), 0);
    cseg_table_free(res);
    cseg_table_free(t);
    free(lab);
    free(dist);
    free(seg);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[2][4096];
    static int slot;
    char *b = buf[slot++ & 1];
    size_t n = fread(b, 1, sizeof buf[0] - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

/* cseg_model_assign_csv writes what the whole table gives, with and without
 * the id; a bad number is named by line and column and nothing is written. */
static void test_assign_csv(void **state)
{
    (void)state;
    cseg_model *m = make_model();
    const char *in = tmp_text(1, "extra,group,id,score,income\nx,A,\"7,1\",50,20\n"
                                 "y,C, 8 ,90,85\nz,B,9,10,\n\"q,\",A,10.0,1e2,17.5\n");
    char exp[] = "/tmp/cseg_test_assign_exp_XXXXXX", got[] = "/tmp/cseg_test_assign_got_XXXXXX";
    close(mkstemp(exp));
    close(mkstemp(got));
    cseg_csv_params csv;
    cseg_csv_params_init(&csv);
    cseg_diag d;
    size_t n = 0;
    for (int with_id = 0; with_id < 2; with_id++) {
        const char *id = with_id ? "id" : NULL;
        write_expected(m, in, id, exp);
        assert_int_equal(cseg_model_assign_csv(m, in, &csv, id, 1, got, &n, &d), 0);
        assert_int_equal(n, 4);
        assert_string_equal(slurp(got), slurp(exp));
    }
    assert_non_null(strstr(slurp(got), "\"A \"\"quoted\"\" name\""));
    /* An id column the file lacks is left out, as cseg_model_assign would. */
    assert_int_equal(cseg_model_assign_csv(m, in, &csv, "customer", 1, got, &n, &d), 0);
    write_expected(m, in, NULL, exp);
    assert_string_equal(slurp(got), slurp(exp));
    /* A bad number: CSEG_EPARSE with its line and column; the output stays
     * as it was. */
    const char *bad = tmp_text(2, "group,id,score,income\nA,1,50,20\nB,2,5x,30\n");
    assert_int_equal(cseg_model_assign_csv(m, bad, &csv, "id", 1, got, &n, &d), CSEG_EPARSE);
    assert_int_equal(d.line, 3);
    assert_int_equal(d.col, 5);
    assert_string_equal(d.msg, "expected a number in column \"score\", got \"5x\"");
    assert_string_equal(slurp(got), slurp(exp));
    cseg_model_free(m);
    unlink(in);
    unlink(bad);
    unlink(exp);
    unlink(got);
}

static void test_transactions_source(void **state)
{
    (void)state;
    cseg_model *m = make_model();
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    strcpy(roles.customer, "CustomerID");
    strcpy(roles.date, "InvoiceDate");
    strcpy(roles.amount, "Sales");
    cseg_rfm_params rfm;
    cseg_rfm_params_init(&rfm);
    rfm.spend_window_days = 30;
    rfm.as_of_day = 15318;
    assert_int_equal(cseg_model_set_transactions(m, &roles, "%d/%m/%Y", &rfm), 0);
    char path[] = "/tmp/cseg_test_model3_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(cseg_model_save(m, path, NULL), 0);
    cseg_model *r;
    cseg_diag d;
    assert_int_equal(cseg_model_load(&r, path, &d), 0);
    assert_int_equal(cseg_model_source(r), CSEG_SOURCE_TRANSACTIONS);
    assert_string_equal(cseg_model_roles(r)->amount, "Sales");
    assert_string_equal(cseg_model_roles(r)->price, "");
    assert_string_equal(cseg_model_date_format(r), "%d/%m/%Y");
    assert_int_equal(cseg_model_rfm(r)->spend_window_days, 30);
    assert_int_equal(cseg_model_rfm(r)->as_of_day, 15318);
    cseg_model_free(r);
    cseg_model_free(m);
    unlink(path);
}

static void test_bad_files(void **state)
{
    (void)state;
    cseg_model *m;
    cseg_diag d;
    assert_int_equal(cseg_model_load(&m, "/nonexistent/model.json", &d), CSEG_EIO);
    const char *p = tmp_text(0, "{\"format\": \"custseg-model\", \"version\": 1,");
    assert_int_equal(cseg_model_load(&m, p, &d), CSEG_EFORMAT);
    assert_true(d.line >= 1);
    assert_non_null(strstr(d.msg, "not a valid JSON model file"));
    p = tmp_text(1, "{\"format\": \"custseg-model\", \"version\": 3}");
    assert_int_equal(cseg_model_load(&m, p, &d), CSEG_EFORMAT);
    assert_non_null(strstr(d.msg, "version 3 is not supported"));
    p = tmp_text(2, "{\"format\": \"something-else\", \"version\": 1}");
    assert_int_equal(cseg_model_load(&m, p, &d), CSEG_EFORMAT);
    p = tmp_text(3, "\x7f" "ELF\x01\x02garbage");
    assert_int_equal(cseg_model_load(&m, p, &d), CSEG_EFORMAT);
    /* Damage a valid model in several ways: each is refused, never crashes. */
    cseg_model *good = make_model();
    char path[] = "/tmp/cseg_test_model4_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(cseg_model_save(good, path, NULL), 0);
    cseg_model_free(good);
    FILE *f = fopen(path, "rb");
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    static const struct {
        const char *from, *to;
    } edits[] = {{"\"centroids\": [", "\"centroids\": [[1],"},
                 {"\"scale\": \"standard\"", "\"scale\": \"weird\""},
                 {"\"k\": 3", "\"k\": 4"},
                 {"\"name\": \"income\"", "\"nom\": \"income\""},
                 {"\"segments\": [", "\"segments\": [{\"id\": 9, \"name\": \"x\"},"},
                 {"\"type\": \"number\"", "\"type\": \"date\""}};
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        char *at = strstr(buf, edits[e].from);
        assert_non_null(at);
        char mod[17000];
        size_t pre = (size_t)(at - buf);
        snprintf(mod, sizeof mod, "%.*s%s%s", (int)pre, buf, edits[e].to,
                 at + strlen(edits[e].from));
        const char *mp = tmp_text(4, mod);
        if (cseg_model_load(&m, mp, &d) != CSEG_EFORMAT)
            fail_msg("edit %zu was accepted", e);
        unlink(mp);
    }
    /* Truncation at every 97th byte. */
    for (size_t cut = 0; cut < n; cut += 97) {
        const char *mp = tmp_file(5, buf, cut);
        assert_int_equal(cseg_model_load(&m, mp, &d), CSEG_EFORMAT);
        unlink(mp);
    }
    unlink(path);
}


/* Two well-separated blobs of customers in (income, score), 60 rows. */
static cseg_table *blob_table(void)
{
    char text[8192];
    size_t len = (size_t)snprintf(text, sizeof text, "id,income,score\n");
    for (int i = 0; i < 60; i++) {
        double c = i < 30 ? 20 : 80;
        len += (size_t)snprintf(text + len, sizeof text - len, "%d,%.3f,%.3f\n", i + 1,
                                c + (i % 7) * 0.9 - 2.7, c + (i % 5) * 1.1 - 2.2 + (i % 3));
    }
    const char *path = tmp_text(6, text);
    cseg_table *t;
    assert_int_equal(cseg_table_read_csv(&t, path, NULL, NULL), 0);
    unlink(path);
    return t;
}

/* Save, load, save again: same bytes, and the same segments, distances and
 * probabilities for every row through both models. */
static void check_roundtrip(cseg_model *m, const cseg_table *t)
{
    static const char *const names[] = {"one", "two", "three", "four", "five", "six"};
    size_t k = cseg_model_k(m), n = cseg_table_n_rows(t);
    assert_true(k >= 1 && k <= 6);
    assert_int_equal(cseg_model_set_names(m, (const char *const *)names, k), 0);
    char p1[] = "/tmp/cseg_test_model5_XXXXXX", p2[] = "/tmp/cseg_test_model6_XXXXXX";
    close(mkstemp(p1));
    close(mkstemp(p2));
    cseg_diag d;
    assert_int_equal(cseg_model_save(m, p1, &d), 0);
    cseg_model *r;
    if (cseg_model_load(&r, p1, &d) != 0)
        fail_msg("load: %s", d.msg);
    assert_int_equal(cseg_model_algo(r), cseg_model_algo(m));
    assert_int_equal(cseg_model_k(r), k);
    assert_int_equal(cseg_model_dim(r), cseg_model_dim(m));
    assert_int_equal(cseg_model_save(r, p2, &d), 0);
    FILE *a = fopen(p1, "rb"), *b = fopen(p2, "rb");
    static char ba[1 << 17], bb[1 << 17];
    size_t na = fread(ba, 1, sizeof ba, a), nb = fread(bb, 1, sizeof bb, b);
    fclose(a);
    fclose(b);
    assert_int_equal(na, nb);
    assert_memory_equal(ba, bb, na);
    size_t dim = cseg_model_dim(m);
    double *Z = malloc(n * dim * sizeof *Z), *d1 = malloc(n * sizeof *d1),
           *d2 = malloc(n * sizeof *d2), *p_1 = malloc(n * k * sizeof *p_1),
           *p_2 = malloc(n * k * sizeof *p_2);
    int32_t *l1 = malloc(n * sizeof *l1), *l2 = malloc(n * sizeof *l2);
    assert_int_equal(cseg_model_transform(m, t, Z, &d), 0);
    assert_int_equal(cseg_model_predict(m, Z, n, l1, d1, p_1), 0);
    assert_int_equal(cseg_model_assign(r, t, l2, d2, &d), 0);
    assert_memory_equal(l1, l2, n * sizeof *l1);
    assert_memory_equal(d1, d2, n * sizeof *d1);
    assert_int_equal(cseg_model_transform(r, t, Z, &d), 0);
    assert_int_equal(cseg_model_predict(r, Z, n, l2, NULL, p_2), 0);
    assert_memory_equal(p_1, p_2, n * k * sizeof *p_1);
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        assert_true(l1[i] >= 0 && (size_t)l1[i] < k);
        for (size_t s = 0; s < k; s++)
            sum += p_1[i * k + s];
        assert_true(fabs(sum - 1) < 1e-12);
    }
    /* The distance to a given segment's centre: for the predicted segments it is
     * the predicted distance; DBSCAN has no segment centres. */
    if (cseg_model_algo(m) == CSEG_ALGO_DBSCAN) {
        assert_int_equal(cseg_model_segment_distance(m, Z, n, l1, d2), CSEG_EINVAL);
    } else {
        assert_int_equal(cseg_model_transform(m, t, Z, &d), 0);
        assert_int_equal(cseg_model_segment_distance(m, Z, n, l1, d2), 0);
        /* k-means predicts with fused multiply-adds; this is a plain sum. */
        for (size_t i = 0; i < n; i++)
            assert_true(fabs(d1[i] - d2[i]) <= 1e-12 * (1 + d1[i]));
        int32_t bad = (int32_t)k;
        assert_int_equal(cseg_model_segment_distance(m, Z, 1, &bad, d2), CSEG_EINVAL);
    }
    /* The two blobs end in different segments. */
    assert_true(l1[0] != l1[59]);
    free(Z);
    free(d1);
    free(d2);
    free(p_1);
    free(p_2);
    free(l1);
    free(l2);
    cseg_model_free(r);
    unlink(p1);
    unlink(p2);
}

static cseg_model *prepared(const cseg_table *t, int pca, double **Z, size_t *dim)
{
    cseg_prep *p;
    assert_int_equal(cseg_prep_create(&p, NULL), 0);
    const char *cols[] = {"income", "score"};
    assert_int_equal(cseg_prep_fit(p, t, cols, 2, NULL), 0);
    cseg_model *m;
    assert_int_equal(cseg_model_create(&m), 0);
    assert_int_equal(cseg_model_set_customers(m, "id"), 0);
    assert_int_equal(cseg_model_set_prep(m, p), 0);
    size_t n = cseg_table_n_rows(t);
    double *X = malloc(n * 2 * sizeof *X);
    assert_int_equal(cseg_prep_transform(p, t, X, NULL), 0);
    if (pca) {
        cseg_pca *pc;
        assert_int_equal(cseg_pca_fit(&pc, X, n, 2, 1), 0);
        assert_int_equal(cseg_model_set_pca(m, pc), 0);
    }
    *dim = cseg_model_dim(m);
    *Z = malloc(n * *dim * sizeof **Z);
    assert_int_equal(cseg_model_transform(m, t, *Z, NULL), 0);
    free(X);
    return m;
}

static void test_every_algorithm(void **state)
{
    (void)state;
    cseg_table *t = blob_table();
    size_t n = cseg_table_n_rows(t), dim;
    double *Z;
    /* k-means after a PCA step. */
    cseg_model *m = prepared(t, 1, &Z, &dim);
    assert_int_equal(dim, 1);
    cseg_kmeans_params kp;
    cseg_kmeans_params_init(&kp);
    kp.k = 2;
    cseg_kmeans *km;
    assert_int_equal(cseg_kmeans_create(&km, &kp), 0);
    assert_int_equal(cseg_kmeans_fit(km, Z, n, dim, NULL, NULL), 0);
    assert_int_equal(cseg_model_set_kmeans(m, km), 0);
    assert_non_null(cseg_model_pca(m));
    check_roundtrip(m, t);
    cseg_model_free(m);
    free(Z);
    /* Hierarchical: segment centroids. */
    m = prepared(t, 0, &Z, &dim);
    double C[4] = {-1, -1, 1, 1};
    assert_int_equal(cseg_model_set_hclust(m, CSEG_LINKAGE_AVERAGE, 0, C, 2, dim), 0);
    assert_int_equal(cseg_model_linkage(m), CSEG_LINKAGE_AVERAGE);
    check_roundtrip(m, t);
    cseg_model_free(m);
    free(Z);
    /* DBSCAN: two clusters plus the Outliers segment. */
    m = prepared(t, 0, &Z, &dim);
    cseg_dbscan_params dp;
    cseg_dbscan_params_init(&dp);
    dp.eps = 0.5;
    dp.min_samples = 4;
    cseg_dbscan *db;
    assert_int_equal(cseg_dbscan_create(&db, &dp), 0);
    assert_int_equal(cseg_dbscan_fit(db, Z, n, dim, NULL), 0);
    assert_int_equal(cseg_dbscan_n_clusters(db), 2);
    assert_int_equal(cseg_model_set_dbscan(m, db), 0);
    assert_int_equal(cseg_model_k(m), 3);
    assert_int_equal(cseg_model_outlier_segment(m), 2);
    check_roundtrip(m, t);
    /* A far-away customer is an outlier. */
    double far[2] = {40, -40};
    int32_t lab;
    double dist;
    assert_int_equal(cseg_model_predict(m, far, 1, &lab, &dist, NULL), 0);
    assert_int_equal(lab, 2);
    cseg_model_free(m);
    free(Z);
    /* Gaussian mixtures of every covariance type. */
    for (int ct = CSEG_GMM_FULL; ct <= CSEG_GMM_SPHERICAL; ct++) {
        m = prepared(t, 0, &Z, &dim);
        cseg_gmm_params gp;
        cseg_gmm_params_init(&gp);
        gp.k = 2;
        gp.cov = (cseg_gmm_cov)ct;
        cseg_gmm *g;
        assert_int_equal(cseg_gmm_create(&g, &gp), 0);
        assert_int_equal(cseg_gmm_fit(g, Z, n, dim, NULL), 0);
        assert_int_equal(cseg_model_set_gmm(m, g), 0);
        check_roundtrip(m, t);
        cseg_model_free(m);
        free(Z);
    }
    cseg_table_free(t);
}

/* Save m, replace from by to in the file, and expect the loader to refuse it
 * with a message containing msg. */
static void expect_refused(const cseg_model *m, const char *from, const char *to, const char *msg)
{
    char path[] = "/tmp/cseg_test_model8_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(cseg_model_save(m, path, NULL), 0);
    FILE *f = fopen(path, "rb");
    static char buf[1 << 17], mod[(1 << 17) + 256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *at = strstr(buf, from);
    if (!at)
        fail_msg("'%s' not in the saved model", from);
    snprintf(mod, sizeof mod, "%.*s%s%s", (int)(at - buf), buf, to, at + strlen(from));
    const char *p = tmp_text(7, mod);
    cseg_model *r = NULL;
    cseg_diag d;
    cseg_diag_clear(&d);
    assert_int_equal(cseg_model_load(&r, p, &d), CSEG_EFORMAT);
    assert_null(r);
    if (!strstr(d.msg, msg))
        fail_msg("message '%s' lacks '%s'", d.msg, msg);
    unlink(p);
    unlink(path);
}

/* Damaged version-2 files: each is refused with the documented message. */
static void test_bad_v2_files(void **state)
{
    (void)state;
    cseg_table *t = blob_table();
    size_t n = cseg_table_n_rows(t), dim;
    double *Z;
    cseg_model *m = prepared(t, 0, &Z, &dim);
    cseg_gmm_params gp;
    cseg_gmm_params_init(&gp);
    gp.k = 2;
    cseg_gmm *g;
    assert_int_equal(cseg_gmm_create(&g, &gp), 0);
    assert_int_equal(cseg_gmm_fit(g, Z, n, dim, NULL), 0);
    assert_int_equal(cseg_model_set_gmm(m, g), 0);
    const char *names[] = {"a", "b"};
    assert_int_equal(cseg_model_set_names(m, names, 2), 0);
    expect_refused(m, "\"covariance_type\": \"full\"", "\"covariance_type\": \"fuller\"",
                   "\"model.covariance_type\" must be full, tied, diag or spherical");
    expect_refused(m, "\"weights\": [", "\"weights\": [0.5, ",
                   "a gmm model needs weights (k), means (k x dim)");
    expect_refused(m, "\"algorithm\": \"gmm\"", "\"algorithm\": \"kmedoids\"",
                   "\"model.algorithm\" must be kmeans, hclust, dbscan or gmm");
    expect_refused(m, "\"dim\": 2", "\"dim\": 3", "\"model.k\" and \"model.dim\" must match");
    cseg_model_free(m);
    free(Z);
    m = prepared(t, 0, &Z, &dim);
    cseg_dbscan_params dp;
    cseg_dbscan_params_init(&dp);
    dp.eps = 0.5;
    dp.min_samples = 4;
    cseg_dbscan *db;
    assert_int_equal(cseg_dbscan_create(&db, &dp), 0);
    assert_int_equal(cseg_dbscan_fit(db, Z, n, dim, NULL), 0);
    assert_int_equal(cseg_model_set_dbscan(m, db), 0);
    const char *names3[] = {"a", "b", "Outliers"};
    assert_int_equal(cseg_model_set_names(m, names3, 3), 0);
    expect_refused(m, "\"n_clusters\": 2", "\"n_clusters\": 5",
                   "a dbscan model needs eps > 0, min_samples, n_clusters = k - 1");
    expect_refused(m, "\"core_labels\": [", "\"core_labels\": [7, ",
                   "\"model.core_points\" must hold one row of finite values per core label");
    expect_refused(m, "\"eps\": 0.5", "\"eps\": -0.5", "a dbscan model needs eps > 0");
    cseg_model_free(m);
    free(Z);
    /* A PCA step with a component of the wrong length. */
    m = prepared(t, 1, &Z, &dim);
    double C[2] = {-1, 1};
    assert_int_equal(cseg_model_set_hclust(m, CSEG_LINKAGE_WARD, 0, C, 2, dim), 0);
    assert_int_equal(cseg_model_set_names(m, names, 2), 0);
    expect_refused(m, "\"components\": [\n      [", "\"components\": [\n      [1, ",
                   "\"pca\" needs mean, components, explained_variance");
    expect_refused(m, "\"linkage\": \"ward\"", "\"linkage\": \"median\"",
                   "\"model.linkage\" must be ward, complete, average or single");
    cseg_model_free(m);
    free(Z);
    cseg_table_free(t);
}

/* A version-1 file (k-means, no PCA) still loads; version 1 cannot hold the
 * newer algorithms. */
static void test_version1(void **state)
{
    (void)state;
    cseg_model *m = make_model();
    char path[] = "/tmp/cseg_test_model7_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(cseg_model_save(m, path, NULL), 0);
    cseg_model_free(m);
    FILE *f = fopen(path, "rb");
    static char buf[16384], mod[17000];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *at = strstr(buf, "\"version\": 2");
    assert_non_null(at);
    at[11] = '1';
    const char *p = tmp_text(4, buf);
    cseg_diag d;
    assert_int_equal(cseg_model_load(&m, p, &d), 0);
    assert_int_equal(cseg_model_algo(m), CSEG_ALGO_KMEANS);
    cseg_model_free(m);
    at = strstr(buf, "\"algorithm\": \"kmeans\"");
    assert_non_null(at);
    snprintf(mod, sizeof mod, "%.*s\"algorithm\": \"gmm\"%s", (int)(at - buf), buf,
             at + strlen("\"algorithm\": \"kmeans\""));
    p = tmp_text(5, mod);
    assert_int_equal(cseg_model_load(&m, p, &d), CSEG_EFORMAT);
    assert_non_null(strstr(d.msg, "must be \"kmeans\""));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_assign_csv),
        cmocka_unit_test(test_transactions_source),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_every_algorithm),
        cmocka_unit_test(test_version1),
        cmocka_unit_test(test_bad_v2_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
