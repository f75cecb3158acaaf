/* libFuzzer target: the model loader (model.h) on the input bytes as a
 * model.json file.
 *
 * When the file loads:
 *   - save it, load the saved file, save again: the saved file must load and
 *     both saved files must be byte-identical (the format round-trips);
 *   - cseg_model_predict on rows of zeros (and of ones) of cseg_model_dim(m):
 *     labels within 0..k-1, distances not NaN and >= 0, probabilities in
 *     [0, 1];
 *   - cseg_model_assign on a small table holding the model's input columns
 *     (all as numbers, then all as text): 0 or a code with a message, labels
 *     within 0..k-1 on success;
 *   - the getters (names, roles, meta, PCA, algorithm).
 * Every failure must be a negative CSEG_E* code with a diag message. */
#include <math.h>

#include "fuzz_common.h"

static char in_path[256], out1[256], out2[256];

static void cleanup(void)
{
    unlink(in_path);
    unlink(out1);
    unlink(out2);
}

#define ROWS 3

static void check_labels(const cseg_model *m, const int32_t *lab, size_t n, const char *what)
{
    size_t k = cseg_model_k(m);
    for (size_t i = 0; i < n; i++)
        if (lab[i] < 0 || (size_t)lab[i] >= k)
            FUZZ_FAIL("%s: label %d of row %zu outside 0..%zu", what, (int)lab[i], i, k - 1);
}

static void predict(const cseg_model *m)
{
    size_t dim = cseg_model_dim(m), k = cseg_model_k(m);
    if (k == 0)
        FUZZ_FAIL("a loaded model has k = 0");
    if (dim > 100000 || k > 100000)
        return; /* a file of that size is beyond the input sizes used here */
    double *Z = calloc(ROWS * (dim ? dim : 1), sizeof *Z);
    double *dist = malloc(ROWS * sizeof *dist);
    double *proba = malloc(ROWS * k * sizeof *proba);
    int32_t *lab = malloc(ROWS * sizeof *lab);
    if (!Z || !dist || !proba || !lab)
        goto out;
    for (size_t j = 0; j < dim; j++)
        Z[(ROWS - 1) * dim + j] = 1.0;
    int rc = cseg_model_predict(m, Z, ROWS, lab, dist, proba);
    fuzz_check_code(rc, NULL, "cseg_model_predict");
    if (rc == 0) {
        check_labels(m, lab, ROWS, "cseg_model_predict");
        for (size_t i = 0; i < ROWS; i++) {
            if (isnan(dist[i]) || dist[i] < 0)
                FUZZ_FAIL("cseg_model_predict: distance %g of row %zu", dist[i], i);
            for (size_t s = 0; s < k; s++)
                if (!(proba[i * k + s] >= 0 && proba[i * k + s] <= 1 + 1e-9))
                    FUZZ_FAIL("cseg_model_predict: probability %g", proba[i * k + s]);
        }
        /* Without the optional outputs: the same labels. */
        int32_t lab2[ROWS];
        if (cseg_model_predict(m, Z, ROWS, lab2, NULL, NULL) != 0 ||
            memcmp(lab, lab2, sizeof lab2) != 0)
            FUZZ_FAIL("cseg_model_predict without distance/proba gives other labels");
    }
out:
    free(Z);
    free(dist);
    free(proba);
    free(lab);
}

/* A table of ROWS rows with every input column of the model's prep, as
 * numbers (as_text = 0) or as text. */
static void assign(const cseg_model *m, int as_text)
{
    const cseg_prep *pp = cseg_model_prep(m);
    if (!pp)
        FUZZ_FAIL("a loaded model has no prep");
    cseg_table *t = NULL;
    if (cseg_table_create(&t, ROWS) != 0)
        return;
    static const double nums[ROWS] = {0.0, 1.0, NAN};
    static const int32_t codes[ROWS] = {0, 1, -1};
    static const char *const levels[2] = {"Male", "x"};
    size_t ni = cseg_prep_n_inputs(pp);
    for (size_t j = 0; j < ni; j++) {
        const char *name = cseg_prep_input_name(pp, j);
        if (!name)
            FUZZ_FAIL("prep input %zu has no name", j);
        (void)cseg_prep_input_is_logged(pp, j);
        /* A name used twice is refused by the table (CSEG_EINVAL): skip it. */
        if (cseg_table_find(t, name) >= 0)
            continue;
        int rc = as_text ? cseg_table_add_text(t, name, levels, 2, codes)
                         : cseg_table_add_numbers(t, name, nums);
        if (rc != 0)
            FUZZ_FAIL("cseg_table_add_* failed for column %zu: %d", j, rc);
    }
    int32_t lab[ROWS];
    double dist[ROWS];
    cseg_diag d;
    cseg_diag_clear(&d);
    int rc = cseg_model_assign(m, t, lab, dist, &d);
    fuzz_check_code(rc, &d, "cseg_model_assign");
    if (rc == 0)
        check_labels(m, lab, ROWS, "cseg_model_assign");
    cseg_table_free(t);
}

static void getters(const cseg_model *m)
{
    size_t k = cseg_model_k(m);
    for (size_t s = 0; s < k; s++)
        if (!cseg_model_name(m, s))
            FUZZ_FAIL("segment %zu has no name", s);
    const char *meta = cseg_model_meta(m);
    if (!meta || meta[0] != '{')
        FUZZ_FAIL("cseg_model_meta is not an object");
    (void)cseg_algo_name(cseg_model_algo(m));
    (void)cseg_algo_label(cseg_model_algo(m), cseg_model_linkage(m));
    long out = cseg_model_outlier_segment(m);
    if (out >= 0 && (size_t)out != k - 1)
        FUZZ_FAIL("outlier segment %ld is not the last of %zu", out, k);
    if (cseg_model_source(m) == CSEG_SOURCE_TRANSACTIONS) {
        if (!cseg_model_roles(m) || !cseg_model_rfm(m))
            FUZZ_FAIL("a transaction model without roles or RFM settings");
        (void)cseg_model_date_format(m);
    } else {
        (void)cseg_model_id_column(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!in_path[0]) {
        fuzz_tmp_path(in_path, sizeof in_path, "model_in.json");
        fuzz_tmp_path(out1, sizeof out1, "model_a.json");
        fuzz_tmp_path(out2, sizeof out2, "model_b.json");
        atexit(cleanup);
    }
    fuzz_write_file(in_path, data, size);
    cseg_model *m = NULL, *m2 = NULL;
    cseg_diag d;
    cseg_diag_clear(&d);
    int rc = cseg_model_load(&m, in_path, &d);
    fuzz_check_code(rc, &d, "cseg_model_load");
    if (rc != 0)
        return 0;
    if (!m)
        FUZZ_FAIL("cseg_model_load returned 0 without a model");
    getters(m);
    predict(m);
    assign(m, 0);
    assign(m, 1);

    /* Save, load, save: the two saved files must be identical. */
    cseg_diag_clear(&d);
    rc = cseg_model_save(m, out1, &d);
    fuzz_check_code(rc, &d, "cseg_model_save");
    if (rc == 0) {
        cseg_diag_clear(&d);
        rc = cseg_model_load(&m2, out1, &d);
        if (rc != 0)
            FUZZ_FAIL("a saved model does not load: %s: %s", cseg_err_name(rc), d.msg);
        cseg_diag_clear(&d);
        rc = cseg_model_save(m2, out2, &d);
        if (rc != 0)
            FUZZ_FAIL("a reloaded model does not save: %s: %s", cseg_err_name(rc), d.msg);
        size_t n1 = 0, n2 = 0;
        char *t1 = fuzz_read_file(out1, &n1), *t2 = fuzz_read_file(out2, &n2);
        if (!t1 || !t2)
            FUZZ_FAIL("cannot read the saved models back");
        if (n1 != n2 || memcmp(t1, t2, n1) != 0) {
            size_t at = 0;
            while (at < n1 && at < n2 && t1[at] == t2[at])
                at++;
            FUZZ_FAIL("save/load/save differs at byte %zu: \"%.40s\" vs \"%.40s\"", at, t1 + at,
                      t2 + at);
        }
        free(t1);
        free(t2);
        if (cseg_model_k(m2) != cseg_model_k(m) || cseg_model_dim(m2) != cseg_model_dim(m) ||
            cseg_model_algo(m2) != cseg_model_algo(m))
            FUZZ_FAIL("a reloaded model has another k, dimension or algorithm");
        /* The reloaded model predicts as the original does. */
        size_t dim = cseg_model_dim(m);
        if (dim <= 100000) {
            double *Z = calloc(dim ? dim : 1, sizeof *Z);
            int32_t l1 = -1, l2 = -1;
            if (Z && cseg_model_predict(m, Z, 1, &l1, NULL, NULL) == 0 &&
                (cseg_model_predict(m2, Z, 1, &l2, NULL, NULL) != 0 || l1 != l2))
                FUZZ_FAIL("reloaded model: label %d, original: %d", (int)l2, (int)l1);
            free(Z);
        }
    }
    cseg_model_free(m2);
    cseg_model_free(m);
    return 0;
}
