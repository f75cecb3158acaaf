/* Tests for the segment store (store.h): a run stored and read back bit for
 * bit, exports, forgetting, schema versions; in SQLite always, and in
 * PostgreSQL when CSEG_TEST_PG_URI names a server (tests/store/pg_tests.sh
 * starts one), where the same run must read back equal to SQLite's. */
#include <math.h>
#include <sqlite3.h>

#include "util.h"

#define SMALL CSEG_SOURCE_DIR "/tests/data/txn_small.csv"

static cseg_segmentation *small_run(cseg_algo algo, size_t k, cseg_table **txn)
{
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    roles.n_attributes = 1;
    strcpy(roles.attributes[0], "Country");
    assert_int_equal(cseg_txn_read(txn, SMALL, &roles, NULL, NULL), 0);
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.algo = algo;
    p.k = k;
    p.input_name = "small.csv";
    cseg_segmentation *r = NULL;
    cseg_diag d;
    if (cseg_segment_transactions(&r, *txn, &roles, NULL, NULL, &p, &d) < 0)
        fail_msg("%s", d.msg);
    return r;
}

/* What a run reads back as: one line per customer, numbers in hex floats. */
typedef struct dump {
    char *text;
    size_t len, cap;
} dump;

static int dump_member(const cseg_store_member *m, void *ctx)
{
    dump *b = ctx;
    char line[4096];
    int n = snprintf(line, sizeof line, "%s %d %s %a %s %s\n", m->customer_id, m->segment,
                     m->segment_name, m->distance, m->proba_json ? m->proba_json : "-",
                     m->features_json);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = 2 * (b->len + (size_t)n + 1);
        b->text = realloc(b->text, b->cap);
    }
    memcpy(b->text + b->len, line, (size_t)n + 1);
    b->len += (size_t)n;
    return 0;
}

static int confirm_yes(void *ctx, cseg_diag *d)
{
    (void)d;
    ++*(int *)ctx;
    return 0;
}

static int confirm_no(void *ctx, cseg_diag *d)
{
    (void)ctx;
    snprintf(d->msg, sizeof d->msg, "not confirmed");
    return CSEG_ECANCELED;
}

/* Store a GMM run (probabilities) and check every membership against the
 * segmentation itself; returns the dump for comparing back ends. */
static char *store_and_check(const char *uri)
{
    cseg_table *txn = NULL;
    cseg_segmentation *r = small_run(CSEG_ALGO_GMM, 3, &txn);
    cseg_store *s = NULL;
    cseg_diag d;
    if (cseg_store_open(&s, uri, &d) < 0)
        fail_msg("%s", d.msg);
    int64_t id1 = 0, id2 = 0, last = 0;
    int calls = 0;
    cseg_store_run_info info = {"run", "00ff", "{\"arguments\": []}", confirm_yes, &calls};
    if (cseg_store_put_run(s, r, &info, &id1, &d) < 0)
        fail_msg("%s", d.msg);
    assert_int_equal(calls, 1);
    assert_int_equal(cseg_store_put_run(s, r, NULL, &id2, &d), 0);
    assert_true(id2 > id1);
    /* A run its caller does not confirm is rolled back whole. */
    int64_t id3 = 0;
    info.confirm = confirm_no;
    assert_int_equal(cseg_store_put_run(s, r, &info, &id3, &d), CSEG_ECANCELED);
    assert_string_equal(d.msg, "not confirmed");
    assert_int_equal(cseg_store_last_run(s, &last, &d), 0);
    assert_int_equal(last, id2);
    dump none = {0};
    assert_int_equal(cseg_store_members(s, id2 + 1, 0, dump_member, &none, &d), CSEG_EEMPTY);
    assert_null(none.text);
    /* Every customer: id, segment, distance bit for bit, probabilities. */
    dump b = {0};
    assert_int_equal(cseg_store_members(s, id1, 0, dump_member, &b, &d), 0);
    const cseg_table *t = cseg_segment_table(r);
    const int32_t *codes = cseg_table_codes(t, (size_t)cseg_table_find(t, "customer_id"));
    const char *line = b.text;
    for (size_t i = 0; i < cseg_segment_n(r); i++) {
        char want[256];
        snprintf(want, sizeof want, "%s %d %s %a [",
                 cseg_table_level(t, (size_t)cseg_table_find(t, "customer_id"), codes[i]),
                 cseg_segment_labels(r)[i] + 1,
                 cseg_profile_name(cseg_segment_profile(r), (size_t)cseg_segment_labels(r)[i]),
                 cseg_segment_distances(r)[i]);
        if (strncmp(line, want, strlen(want)) != 0)
            fail_msg("row %zu: \"%.80s\", expected \"%s\"", i, line, want);
        /* The first probability, exactly. */
        double p0 = strtod(line + strlen(want), NULL);
        assert_true(p0 == cseg_segment_proba(r)[i * 3]);
        assert_non_null(strstr(line, "\"Country\": "));
        line = strchr(line, '\n') + 1;
    }
    assert_int_equal(*line, 0);
    /* The run's texts come back as written. */
    char *sj = NULL, *mj = NULL;
    assert_int_equal(cseg_store_run_segments_json(s, id1, &sj, &d), 0);
    assert_string_equal(sj, cseg_segment_json(r));
    assert_int_equal(cseg_store_run_model_json(s, id1, &mj, &d), 0);
    char *want_model = cseg_model_to_json(cseg_segment_model(r));
    assert_string_equal(mj, want_model);
    cseg_model *m = NULL;
    assert_int_equal(cseg_model_from_json(&m, mj, "stored", &d), 0);
    cseg_model_free(m);
    free(want_model);
    free(sj);
    free(mj);
    assert_int_equal(cseg_store_run_segments_json(s, 999, &sj, &d), CSEG_EEMPTY);
    cseg_store_close(s);
    cseg_segment_free(r);
    cseg_table_free(txn);
    return b.text;
}

static int count_runs(const cseg_store_run *run, void *ctx)
{
    size_t *n = ctx;
    assert_string_equal(run->input_name, "small.csv");
    assert_true(run->k == 3 && run->n_customers == 24);
    (*n)++;
    return 0;
}

static void test_sqlite_round_trip(void **state)
{
    (void)state;
    char *db = tmp_db();
    char *a = store_and_check(db);
    /* Opened again: the runs are there, newest first. */
    cseg_store *s = NULL;
    cseg_diag d;
    assert_int_equal(cseg_store_open(&s, db, &d), 0);
    assert_string_equal(cseg_store_backend(s), "sqlite");
    size_t n = 0;
    assert_int_equal(cseg_store_runs(s, count_runs, &n, &d), 0);
    assert_int_equal(n, 2);
    cseg_store_close(s);
    /* The run's columns hold what they say: the parameters as given, numbers as
     * numbers (a type string out of step once stored "0.0" and a whole inertia). */
    sqlite3 *raw;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(raw, "SELECT params, typeof(k), typeof(inertia), "
                                             "typeof(silhouette), typeof(n_customers), inertia, "
                                             "segments_json FROM cseg_runs WHERE run_id = 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "{\"arguments\": []}");
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "integer");
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "real");
    assert_string_equal((const char *)sqlite3_column_text(st, 3), "real");
    assert_string_equal((const char *)sqlite3_column_text(st, 4), "integer");
    char want[64];
    snprintf(want, sizeof want, "\"inertia\": %.17g", sqlite3_column_double(st, 5));
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 6), want));
    sqlite3_finalize(st);
    sqlite3_close(raw);
    free(a);
    remove_db(db);
}

/* The same run in PostgreSQL reads back equal to SQLite, bit for bit. */
static void test_postgresql_same_as_sqlite(void **state)
{
    (void)state;
    const char *uri = getenv("CSEG_TEST_PG_URI");
    if (!uri || !*uri) {
        print_message("skipped: CSEG_TEST_PG_URI is not set (tests/store/pg_tests.sh sets it)\n");
        skip();
    }
    char *db = tmp_db();
    char *a = store_and_check(db), *b = store_and_check(uri);
    assert_string_equal(a, b);
    free(a);
    free(b);
    remove_db(db);
}

static void test_export_and_forget(void **state)
{
    (void)state;
    char *db = tmp_db();
    cseg_table *txn = NULL;
    cseg_segmentation *r = small_run(CSEG_ALGO_KMEANS, 3, &txn);
    cseg_store *s = NULL;
    cseg_diag d;
    int64_t id = 0;
    assert_int_equal(cseg_store_open(&s, db, &d), 0);
    assert_int_equal(cseg_store_put_run(s, r, NULL, &id, &d), 0);
    const cseg_profile *prof = cseg_segment_profile(r);
    /* A CSV of two fields, all segments of at least 1 customer. */
    char out[96];
    snprintf(out, sizeof out, "%s.csv", db);
    cseg_export_params p;
    cseg_export_params_init(&p);
    const char *fields[] = {"customer_id", "monetary", "Country"};
    p.fields = fields;
    p.n_fields = 3;
    p.min_segment_size = 1;
    size_t rows = 0;
    assert_int_equal(cseg_store_export(s, &p, out, NULL, &rows, &d), 0);
    assert_int_equal(rows, 24);
    FILE *f = fopen(out, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "customer_id,monetary,Country\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strchr(line, ','));
    fclose(f);
    /* One segment by name; a minimum size above it leaves it out. */
    p.segment_name = cseg_profile_name(prof, 0);
    assert_int_equal(cseg_store_export(s, &p, out, NULL, &rows, &d), 0);
    assert_int_equal(rows, cseg_profile_size(prof, 0));
    p.min_segment_size = cseg_profile_size(prof, 0) + 1;
    assert_int_equal(cseg_store_export(s, &p, out, NULL, &rows, &d), 0);
    assert_int_equal(rows, 0);
    f = fopen(out, "r");
    assert_non_null(fgets(line, sizeof line, f));
    assert_null(fgets(line, sizeof line, f)); /* the header only */
    fclose(f);
    p.segment_name = "No such segment";
    assert_int_equal(cseg_store_export(s, &p, out, NULL, &rows, &d), CSEG_EEMPTY);
    p.segment_name = NULL;
    const char *bad[] = {"customer_id", "shoe_size"};
    p.fields = bad;
    p.n_fields = 2;
    assert_int_equal(cseg_store_export(s, &p, out, NULL, &rows, &d), CSEG_EPARAM);
    assert_non_null(strstr(d.msg, "shoe_size"));
    unlink(out);
    /* Forget two customers: their memberships and state go, the rest stays. */
    const char *ids[] = {"10001", "10002", "nobody"};
    cseg_store_forgotten gone;
    assert_int_equal(cseg_store_forget(s, ids, 3, &gone, &d), 0);
    assert_int_equal(gone.memberships, 2);
    assert_int_equal(gone.states, 2);
    dump b = {0};
    assert_int_equal(cseg_store_members(s, id, 0, dump_member, &b, &d), 0);
    assert_null(strstr(b.text, "10001 "));
    assert_non_null(strstr(b.text, "10003 "));
    free(b.text);
    cseg_store_close(s);
    cseg_segment_free(r);
    cseg_table_free(txn);
    remove_db(db);
}

/* A store of a newer schema is refused; so is a file that is no store. */
static void test_schema_versions(void **state)
{
    (void)state;
    char *db = tmp_db();
    cseg_store *s = NULL;
    cseg_diag d;
    assert_int_equal(cseg_store_open(&s, db, &d), 0);
    cseg_store_close(s);
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "UPDATE cseg_meta SET value = '7' WHERE key = "
                                       "'schema_version'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(cseg_store_open(&s, db, &d), CSEG_EFORMAT);
    assert_non_null(strstr(d.msg, "schema version 7, newer than this custseg"));
    assert_null(s);
    remove_db(db);
    /* Tables of ours without cseg_meta: not ours to change. */
    db = tmp_db();
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "CREATE TABLE cseg_runs (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(cseg_store_open(&s, db, &d), CSEG_EFORMAT);
    assert_non_null(strstr(d.msg, "not a custseg store"));
    remove_db(db);
    /* Not SQLite at all. */
    const char *txt = tmp_text(1, "customer_id,segment\n1,2\n");
    assert_int_equal(cseg_store_open(&s, txt, &d), CSEG_EFORMAT);
    unlink(txt);
    /* A store in a folder that does not exist. */
    assert_int_equal(cseg_store_open(&s, "/nonexistent/dir/x.db", &d), CSEG_EIO);
    /* A PostgreSQL server that is not there: one line, I/O. */
    assert_int_equal(cseg_store_open(&s, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
                                     &d),
                     CSEG_EIO);
    assert_null(strchr(d.msg, '\n'));
    assert_non_null(strstr(d.msg, "cannot connect"));
}

/* A database source: the database's types are the columns' types (digits in
 * a TEXT column stay text); errors name the table and the row. */
static void test_db_source_types(void **state)
{
    (void)state;
    char *db = tmp_db();
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "CREATE TABLE t (zip TEXT, amount REAL, day DATE, n INTEGER);"
                                  "INSERT INTO t VALUES ('01234', 1.5, '2024-01-02', 3);"
                                  "INSERT INTO t VALUES ('99', 0.1, '2024-02-03', NULL);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    char uri[128];
    snprintf(uri, sizeof uri, "sqlite:%s", db);
    cseg_table *t = NULL;
    cseg_diag d;
    if (cseg_db_read_table(&t, uri, "t", NULL, NULL, &d) < 0)
        fail_msg("%s", d.msg);
    assert_int_equal(cseg_table_n_rows(t), 2);
    assert_int_equal(cseg_table_col_type(t, 0), CSEG_COL_TEXT);
    assert_string_equal(cseg_table_level(t, 0, cseg_table_codes(t, 0)[0]), "01234");
    assert_int_equal(cseg_table_col_type(t, 1), CSEG_COL_NUMBER);
    assert_true(cseg_table_numbers(t, 1)[1] == 0.1);
    assert_int_equal(cseg_table_col_type(t, 2), CSEG_COL_DATETIME);
    assert_true(isnan(cseg_table_numbers(t, 3)[1]));
    cseg_table_free(t);
    /* A query's expression has no declared type: typed from its values. */
    assert_int_equal(cseg_db_read_table(&t, uri, NULL, "SELECT zip || '5' AS z FROM t", NULL, &d), 0);
    assert_int_equal(cseg_table_col_type(t, 0), CSEG_COL_NUMBER);
    cseg_table_free(t);
    /* Errors: no such table, both or neither of table and query. */
    assert_int_equal(cseg_db_read_table(&t, uri, "nope", NULL, NULL, &d), CSEG_EPARSE);
    assert_non_null(strstr(d.msg, "no such table: nope"));
    assert_int_equal(cseg_db_read_table(&t, uri, "t", "SELECT 1", NULL, &d), CSEG_EPARAM);
    assert_int_equal(cseg_db_read_table(&t, uri, NULL, NULL, NULL, &d), CSEG_EPARAM);
    /* A value that does not fit the forced type: the table and the row. */
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "INSERT INTO t VALUES ('7', 'x', '2024-01-01', 1)", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(cseg_db_read_table(&t, uri, "t", NULL, NULL, &d), CSEG_EPARSE);
    assert_string_equal(d.file, "t");
    assert_non_null(strstr(d.msg, "row 3: expected a number in column \"amount\""));
    assert_true(cseg_db_is_uri(uri) && !cseg_db_is_uri(db));
    char red[128];
    cseg_db_uri_redact("postgresql://shop:secret@db.example/shop", red, sizeof red);
    assert_string_equal(red, "postgresql://shop@db.example/shop");
    cseg_db_uri_redact("postgresql://db.example/shop?user=a&password=secret&sslmode=require", red,
                       sizeof red);
    assert_null(strstr(red, "secret"));
    assert_non_null(strstr(red, "sslmode=require"));
    /* every password, sslpassword's too, wherever it is (a review found the
     * second one kept when sslpassword= came first) */
    cseg_db_uri_redact("postgresql:///x?host=/tmp&sslpassword=k3y&password=s3cret&password=two",
                       red, sizeof red);
    assert_string_equal(red, "postgresql:///x?host=/tmp&sslpassword=&password=&password=");
    /* any scheme's (a webhook's): a password holding '@', a path holding one */
    cseg_db_uri_redact("http://alice:p@ss@hooks.example:8080/in/a@b?x=1", red, sizeof red);
    assert_string_equal(red, "http://alice@hooks.example:8080/in/a@b?x=1");
    cseg_db_uri_redact("https://hooks.example/in", red, sizeof red);
    assert_string_equal(red, "https://hooks.example/in");
    cseg_db_uri_redact("postgres://u:pw@h/d?password=p&user=u", red, sizeof red);
    assert_string_equal(red, "postgres://u@h/d?password=&user=u");
    remove_db(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_round_trip),
        cmocka_unit_test(test_postgresql_same_as_sqlite),
        cmocka_unit_test(test_export_and_forget),
        cmocka_unit_test(test_schema_versions),
        cmocka_unit_test(test_db_source_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
