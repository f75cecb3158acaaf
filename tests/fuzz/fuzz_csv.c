/* libFuzzer target: the CSV reader and column typing (csv.h, table.h) and the
 * transaction-log path (features.h), on the input bytes as a CSV file (plain
 * or gzip: the reader detects gzip from the bytes).
 *
 *   1. cseg_table_read_csv with the default parameters (the parallel block
 *      parser takes over after 1024 rows once every column's type is known);
 *   2. the same with row_hash = 1 and record_by_record = 1: the same result
 *      is required (same code and diag on failure; on success the same
 *      columns, names, types, values, text levels and source lines), since
 *      table.h promises the block parser "gives the same table";
 *   3. the table printed back as CSV (cseg_table_print_csv to /dev/null);
 *   4. cseg_txn_read with detected roles, then cseg_rfm_compute.
 * Every failure must be a negative CSEG_E* code with a diag message. */
#include <math.h>

#include "fuzz_common.h"

static char path[256];
static FILE *devnull;

static void cleanup(void)
{
    unlink(path);
}

static int same_double(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0; /* -0.0 and 0.0 differ too */
}

static const char *level(const cseg_table *t, size_t j, int32_t code)
{
    if (code < 0)
        return NULL;
    if ((size_t)code >= cseg_table_n_levels(t, j))
        FUZZ_FAIL("column %zu: code %d outside its %zu levels", j, (int)code,
                  cseg_table_n_levels(t, j));
    const char *s = cseg_table_level(t, j, code);
    if (!s)
        FUZZ_FAIL("column %zu: no text for level %d", j, (int)code);
    return s;
}

/* a: default read, b: record by record with row hashes. */
static void compare_tables(const cseg_table *a, const cseg_table *b)
{
    size_t n = cseg_table_n_rows(a), nc = cseg_table_n_cols(a);
    if (n != cseg_table_n_rows(b) || nc != cseg_table_n_cols(b))
        FUZZ_FAIL("block parser: %zu rows x %zu columns, record by record: %zu x %zu", n, nc,
                  cseg_table_n_rows(b), cseg_table_n_cols(b));
    if (n && !cseg_table_row_hashes(b))
        FUZZ_FAIL("row_hash = 1 but no row hashes");
    for (size_t i = 0; i < n; i++)
        if (cseg_table_row_line(a, i) != cseg_table_row_line(b, i))
            FUZZ_FAIL("row %zu: source line %ld vs %ld", i, cseg_table_row_line(a, i),
                      cseg_table_row_line(b, i));
    for (size_t j = 0; j < nc; j++) {
        const char *na = cseg_table_col_name(a, j), *nb = cseg_table_col_name(b, j);
        if (!na || !nb || strcmp(na, nb) != 0)
            FUZZ_FAIL("column %zu: name differs", j);
        cseg_coltype ta = cseg_table_col_type(a, j), tb = cseg_table_col_type(b, j);
        if (ta != tb)
            FUZZ_FAIL("column %zu (%s): type %d (block parser) vs %d (record by record)", j, na,
                      (int)ta, (int)tb);
        if (cseg_table_find(a, na) < 0)
            FUZZ_FAIL("column %zu (%s) not found by name", j, na);
        switch (ta) {
        case CSEG_COL_NUMBER: {
            const double *xa = cseg_table_numbers(a, j), *xb = cseg_table_numbers(b, j);
            if (n && (!xa || !xb))
                FUZZ_FAIL("column %zu: number column without numbers", j);
            for (size_t i = 0; i < n; i++)
                if (!same_double(xa[i], xb[i]))
                    FUZZ_FAIL("column %zu (%s) row %zu: %.17g vs %.17g", j, na, i, xa[i], xb[i]);
            break;
        }
        case CSEG_COL_DATETIME: {
            const int64_t *xa = cseg_table_times(a, j), *xb = cseg_table_times(b, j);
            if (n && (!xa || !xb))
                FUZZ_FAIL("column %zu: date column without times", j);
            for (size_t i = 0; i < n; i++)
                if (xa[i] != xb[i])
                    FUZZ_FAIL("column %zu (%s) row %zu: time %lld vs %lld", j, na, i,
                              (long long)xa[i], (long long)xb[i]);
            break;
        }
        case CSEG_COL_TEXT: {
            const int32_t *ca = cseg_table_codes(a, j), *cb = cseg_table_codes(b, j);
            if (n && (!ca || !cb))
                FUZZ_FAIL("column %zu: text column without codes", j);
            if (cseg_table_n_levels(a, j) != cseg_table_n_levels(b, j))
                FUZZ_FAIL("column %zu (%s): %zu levels vs %zu", j, na, cseg_table_n_levels(a, j),
                          cseg_table_n_levels(b, j));
            for (size_t i = 0; i < n; i++) {
                const char *sa = level(a, j, ca[i]), *sb = level(b, j, cb[i]);
                if ((sa == NULL) != (sb == NULL) || (sa && strcmp(sa, sb) != 0))
                    FUZZ_FAIL("column %zu (%s) row %zu: text differs", j, na, i);
            }
            break;
        }
        default:
            FUZZ_FAIL("column %zu: type %d after reading", j, (int)ta);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        fuzz_tmp_path(path, sizeof path, "csv");
        devnull = fopen("/dev/null", "w");
        atexit(cleanup);
    }
    fuzz_write_file(path, data, size);
    cseg_diag d1, d2, d;

    cseg_table *a = NULL, *b = NULL;
    cseg_diag_clear(&d1);
    int rc1 = cseg_table_read_csv(&a, path, NULL, &d1);
    fuzz_check_code(rc1, &d1, "cseg_table_read_csv");
    if ((rc1 == 0) != (a != NULL))
        FUZZ_FAIL("cseg_table_read_csv returned %d with table %p", rc1, (void *)a);

    cseg_table_read_params p;
    cseg_table_read_params_init(&p);
    p.row_hash = 1;
    p.record_by_record = 1;
    cseg_diag_clear(&d2);
    int rc2 = cseg_table_read_csv(&b, path, &p, &d2);
    fuzz_check_code(rc2, &d2, "cseg_table_read_csv (record by record)");
    if (rc1 != rc2)
        FUZZ_FAIL("block parser: %s (%s), record by record: %s (%s)", cseg_err_name(rc1), d1.msg,
                  cseg_err_name(rc2), d2.msg);
    if (rc1 < 0 && (d1.line != d2.line || d1.col != d2.col || strcmp(d1.msg, d2.msg) != 0))
        FUZZ_FAIL("diag differs: %ld:%ld: %s vs %ld:%ld: %s", d1.line, d1.col, d1.msg, d2.line,
                  d2.col, d2.msg);
    if (rc1 == 0) {
        compare_tables(a, b);
        if (devnull && cseg_table_print_csv(a, devnull) != 0)
            FUZZ_FAIL("cseg_table_print_csv failed");
    }
    cseg_table_free(a);
    cseg_table_free(b);

    /* As a transaction log with detected roles. */
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_table *t = NULL;
    cseg_diag_clear(&d);
    int rc = cseg_txn_read(&t, path, &roles, NULL, &d);
    fuzz_check_code(rc, &d, "cseg_txn_read");
    if (rc == 0) {
        cseg_table *c = NULL;
        cseg_quality q;
        cseg_diag_clear(&d);
        rc = cseg_rfm_compute(&c, t, &roles, NULL, &q, &d);
        fuzz_check_code(rc, &d, "cseg_rfm_compute");
        if (rc == 0 && cseg_table_n_rows(c) != q.n_customers)
            FUZZ_FAIL("rfm: %zu rows but %zu customers", cseg_table_n_rows(c), q.n_customers);
        cseg_table_free(c);
        cseg_table_free(t);
    }
    return 0;
}
