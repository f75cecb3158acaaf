/* Small helpers shared by the unit tests. */
#ifndef CSEG_TEST_UTIL_H
#define CSEG_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <custseg/custseg.h>

/* Write text to a fresh temporary file; returns its path (static buffer per slot). */
static inline const char *tmp_file(int slot, const char *text, size_t len)
{
    static char paths[8][64];
    char *p = paths[slot & 7];
    snprintf(p, 64, "/tmp/cseg_test_%d_%d_XXXXXX", (int)getpid(), slot);
    int fd = mkstemp(p);
    if (fd < 0)
        return NULL;
    if (len && write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return NULL;
    }
    close(fd);
    return p;
}

static inline const char *tmp_text(int slot, const char *text)
{
    return tmp_file(slot, text, strlen(text));
}

/* The path of a store that does not exist yet (the store creates it), and
 * the removal of it with its -wal and -shm files. */
static inline char *tmp_db(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/cseg_store_%d_XXXXXX", (int)getpid());
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    unlink(path);
    return path;
}

static inline void remove_db(const char *path)
{
    char p[96];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* Relative difference, safe around zero. */
static inline double rel_diff(double a, double b)
{
    double m = a > b ? a - b : b - a;
    double s = (a < 0 ? -a : a) > (b < 0 ? -b : b) ? (a < 0 ? -a : a) : (b < 0 ? -b : b);
    return s > 0 ? m / s : m;
}

#define assert_rel(a, b, tol)                                                                      \
    do {                                                                                           \
        double _a = (a), _b = (b);                                                                 \
        if (!(rel_diff(_a, _b) <= (tol)))                                                          \
            fail_msg("%s = %.17g, expected %.17g (rel diff %.3g > %g)", #a, _a, _b,              \
                     rel_diff(_a, _b), (double)(tol));                                           \
    } while (0)

/* A CSV file as a table, the column id (if not NULL) read as text; fails the test otherwise. */
static inline cseg_table *read_csv_text_id(const char *path, const char *id)
{
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    cseg_colspec spec = {id, CSEG_COL_TEXT, 1};
    rp.specs = id ? &spec : NULL;
    rp.n_specs = id ? 1 : 0;
    cseg_table *t = NULL;
    cseg_diag d;
    if (cseg_table_read_csv(&t, path, &rp, &d) < 0)
        fail_msg("%s: %s", path, d.msg);
    return t;
}

#ifdef CSEG_SOURCE_DIR
/* tests/data/txn_small.csv segmented with k = 3 (the log, the segmentation
 * and its model read back from JSON, as a saved model is), each freed by the
 * caller; model-space rows of the segmentation's customers in *Z (n x dim,
 * malloc'd). */
static inline void small_model(cseg_table **txn, cseg_segmentation **r, cseg_model **m,
                               double **Z)
{
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_diag d;
    assert_int_equal(cseg_txn_read(txn, CSEG_SOURCE_DIR "/tests/data/txn_small.csv", &roles, NULL,
                                   &d),
                     0);
    cseg_segment_params sp;
    cseg_segment_params_init(&sp);
    sp.k = 3;
    assert_int_equal(cseg_segment_transactions(r, *txn, &roles, NULL, NULL, &sp, &d), 0);
    char *text = cseg_model_to_json(cseg_segment_model(*r));
    assert_non_null(text);
    assert_int_equal(cseg_model_from_json(m, text, "model.json", &d), 0);
    free(text);
    *Z = malloc(cseg_segment_n(*r) * cseg_model_dim(*m) * sizeof **Z);
    assert_non_null(*Z);
    assert_int_equal(cseg_model_transform(*m, cseg_segment_table(*r), *Z, &d), 0);
}
#endif

#endif
