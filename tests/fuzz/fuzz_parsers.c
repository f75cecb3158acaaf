/* Fuzz harness for the input parsers: CSV tables (through a file, as users
 * feed them) and model.json. Built two ways:
 *   - with clang -fsanitize=fuzzer,address: a libFuzzer target
 *     (clang -fsanitize=fuzzer,address -Iinclude tests/fuzz/fuzz_parsers.c build/libcustseg.a ...)
 *   - otherwise (CTest "fuzz_smoke"): a deterministic driver that mutates a
 *     set of seed inputs for a fixed number of rounds.
 * Either way the only requirement is: no crash, no sanitizer report, and
 * every failure is a negative CSEG_E* code with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <custseg/custseg.h>

static char tmp_path[64];

static void write_tmp(const uint8_t *data, size_t size)
{
    FILE *f = fopen(tmp_path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

static void check_code(int rc, const cseg_diag *d)
{
    if (rc > 0 || (rc < 0 && (!d->msg[0] || cseg_err_name(rc)[6] == 'U')))
        abort(); /* a failure must carry a known code and a message */
}

/* Internal (src/features/internal.h; the static library exports it): the
 * log read a chunk at a time, duplicates in a window of `window` rows. */
int cseg__rfm_compute_csv(cseg_table **customers, const char *path, cseg_txn_roles *roles,
                          const cseg_table_read_params *rp, const cseg_rfm_params *p,
                          size_t window, size_t whole_max, cseg_quality *q, int *how,
                          cseg_diag *d);

/* Two customer tables with the same columns and the same values, bit for
 * bit (text by its levels). */
static int same_table(const cseg_table *a, const cseg_table *b)
{
    size_t n = cseg_table_n_rows(a), nc = cseg_table_n_cols(a);
    if (cseg_table_n_rows(b) != n || cseg_table_n_cols(b) != nc)
        return 0;
    for (size_t j = 0; j < nc; j++) {
        if (strcmp(cseg_table_col_name(a, j), cseg_table_col_name(b, j)) ||
            cseg_table_col_type(a, j) != cseg_table_col_type(b, j))
            return 0;
        if (cseg_table_col_type(a, j) == CSEG_COL_NUMBER) {
            if (n && memcmp(cseg_table_numbers(a, j), cseg_table_numbers(b, j), n * sizeof(double)))
                return 0;
            continue;
        }
        const int32_t *ca = cseg_table_codes(a, j), *cb = cseg_table_codes(b, j);
        for (size_t i = 0; i < n; i++) {
            const char *x = ca[i] < 0 ? "" : cseg_table_level(a, j, ca[i]);
            const char *y = cb[i] < 0 ? "" : cseg_table_level(b, j, cb[i]);
            if ((ca[i] < 0) != (cb[i] < 0) || strcmp(x, y))
                return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmp_path[0])
        snprintf(tmp_path, sizeof tmp_path, "/tmp/cseg_fuzz_%d", (int)getpid());
    write_tmp(data, size);
    cseg_diag d;
    cseg_diag_clear(&d);
    cseg_table *t = NULL;
    int rc = cseg_table_read_csv(&t, tmp_path, NULL, &d);
    check_code(rc, &d);
    cseg_table_free(t);
    /* As a transaction log with detected roles. */
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    cseg_diag_clear(&d);
    rc = cseg_txn_read(&t, tmp_path, &roles, NULL, &d);
    check_code(rc, &d);
    if (rc == 0) {
        cseg_table *c = NULL;
        cseg_diag_clear(&d);
        rc = cseg_rfm_compute(&c, t, &roles, NULL, NULL, &d);
        check_code(rc, &d);
        /* The same log a chunk at a time, with a window of 1 row for the
         * duplicates (so that the second reading happens too): the same
         * outcome, and the same customers when there are some. */
        cseg_table *c2 = NULL;
        cseg_txn_roles roles2;
        memset(&roles2, 0, sizeof roles2);
        cseg_diag d2;
        cseg_diag_clear(&d2);
        int rc2 = cseg__rfm_compute_csv(&c2, tmp_path, &roles2, NULL, NULL, 1, 0, NULL, NULL, &d2);
        check_code(rc2, &d2);
        if (rc2 != rc || (rc == 0 && !same_table(c, c2)))
            abort();
        cseg_table_free(c2);
        cseg_table_free(c);
        cseg_table_free(t);
    }
    cseg_model *m = NULL;
    cseg_diag_clear(&d);
    rc = cseg_model_load(&m, tmp_path, &d);
    check_code(rc, &d);
    cseg_model_free(m);
    return 0;
}

#ifndef CSEG_LIBFUZZER
static const char *seeds[] = {
    "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
    "1,A,2,2020-01-01 10:00:00,5.0,1.0\nC2,A,-1,2020-01-02,5.0,1\n3,\"B,\"\"x\"\"\",1,1/2/2020 8:00,2,2\n",
    "customer_id,date,number_of_cds,dollar_value\n00001,19970101,1,11.77\n00002,19970112,5,77.0\n",
    /* An order's lines split by another's, one a duplicate: the chunked
     * reading's second pass (a window of 1 row). */
    "InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice,Country\n1,1,2020-01-01,1,2,FR\n"
    "2,2,2020-01-01,1,3,DE\n1,1,2020-01-01,1,2,FR\n1,1,2020-01-01,2,2,DE\n",
    "a;b;c\r\n1;2;3\r\n\"q\r\nx\";NA;\n",
    "{\"format\": \"custseg-model\", \"version\": 1, \"source\": {\"kind\": \"customers\", "
    "\"id_column\": null}, \"features\": [\"x\"], \"prep\": {\"scale\": \"standard\", \"log\": "
    "\"auto\", \"columns\": [{\"name\": \"x\", \"type\": \"number\", \"median\": 1, \"log\": "
    "false, \"shift\": 0, \"center\": 0, \"scale\": 1}]}, \"model\": {\"algorithm\": "
    "\"kmeans\", \"k\": 1, \"dim\": 1, \"centroids\": [[0.5]]}, \"segments\": [{\"id\": 1, "
    "\"name\": \"A\"}], \"training\": {}}\n",
    /* Version 2: a PCA step and each of the other model kinds. */
    "{\"format\": \"custseg-model\", \"version\": 2, \"source\": {\"kind\": \"customers\", "
    "\"id_column\": null}, \"features\": [\"x\", \"y\"], \"prep\": {\"scale\": \"standard\", "
    "\"log\": \"auto\", \"columns\": [{\"name\": \"x\", \"type\": \"number\", \"median\": 1, "
    "\"log\": false, \"shift\": 0, \"center\": 0, \"scale\": 1}, {\"name\": \"y\", \"type\": "
    "\"number\", \"median\": 2, \"log\": true, \"shift\": 0.5, \"center\": 1, \"scale\": 2}]}, "
    "\"pca\": {\"n_components\": 1, \"mean\": [0.1, -0.2], \"components\": [[0.6, 0.8]], "
    "\"explained_variance\": [1.5], \"explained_variance_ratio\": [0.75]}, \"model\": "
    "{\"algorithm\": \"hclust\", \"k\": 2, \"dim\": 1, \"linkage\": \"ward\", \"approximate\": "
    "false, \"centroids\": [[-1.0], [1.0]]}, \"segments\": [{\"id\": 0, \"name\": \"A\"}, "
    "{\"id\": 1, \"name\": \"B\"}], \"training\": {}}\n",
    "{\"format\": \"custseg-model\", \"version\": 2, \"source\": {\"kind\": \"customers\", "
    "\"id_column\": null}, \"features\": [\"x\", \"y\"], \"prep\": {\"scale\": \"standard\", "
    "\"log\": \"auto\", \"columns\": [{\"name\": \"x\", \"type\": \"number\", \"median\": 1, "
    "\"log\": false, \"shift\": 0, \"center\": 0, \"scale\": 1}, {\"name\": \"y\", \"type\": "
    "\"number\", \"median\": 2, \"log\": true, \"shift\": 0.5, \"center\": 1, \"scale\": 2}]}, "
    "\"model\": {\"algorithm\": \"dbscan\", \"k\": 3, \"dim\": 2, \"eps\": 0.5, \"min_samples\": "
    "3, \"n_clusters\": 2, \"core_points\": [[0, 0], [0.1, 0], [3, 3]], \"core_labels\": [0, 0, "
    "1]}, \"segments\": [{\"id\": 0, \"name\": \"A\"}, {\"id\": 1, \"name\": \"B\"}, {\"id\": 2, "
    "\"name\": \"Outliers\"}], \"training\": {}}\n",
    "{\"format\": \"custseg-model\", \"version\": 2, \"source\": {\"kind\": \"customers\", "
    "\"id_column\": null}, \"features\": [\"x\", \"y\"], \"prep\": {\"scale\": \"standard\", "
    "\"log\": \"auto\", \"columns\": [{\"name\": \"x\", \"type\": \"number\", \"median\": 1, "
    "\"log\": false, \"shift\": 0, \"center\": 0, \"scale\": 1}, {\"name\": \"y\", \"type\": "
    "\"number\", \"median\": 2, \"log\": true, \"shift\": 0.5, \"center\": 1, \"scale\": 2}]}, "
    "\"model\": {\"algorithm\": \"gmm\", \"k\": 2, \"dim\": 2, \"covariance_type\": \"full\", "
    "\"weights\": [0.25, 0.75], \"means\": [[0, 0], [2, 1]], \"covariances\": [1, 0.2, 0.2, 1, "
    "2, 0, 0, 0.5]}, \"segments\": [{\"id\": 0, \"name\": \"A\"}, {\"id\": 1, \"name\": \"B\"}], "
    "\"training\": {}}\n",
};

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 3000;
    static const char interesting[] = "\",;\n\r\0\t.-eE0123456789NA{}[]:";
    size_t cap = 1 << 16;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return 1;
    /* The model seeds must be valid, or the mutations would only exercise the
     * first check of the loader. */
    if (!tmp_path[0])
        snprintf(tmp_path, sizeof tmp_path, "/tmp/cseg_fuzz_%d", (int)getpid());
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        if (seeds[i][0] != '{')
            continue;
        cseg_model *m = NULL;
        cseg_diag d;
        cseg_diag_clear(&d);
        write_tmp((const uint8_t *)seeds[i], strlen(seeds[i]));
        if (cseg_model_load(&m, tmp_path, &d) != 0) {
            fprintf(stderr, "fuzz_smoke: model seed %zu does not load: %s\n", i, d.msg);
            return 1;
        }
        cseg_model_free(m);
    }
    for (long r = 0; r < rounds; r++) {
        const char *seed = seeds[r % (long)(sizeof seeds / sizeof seeds[0])];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = 1 + (int)(next_rand() % 8);
        for (int e = 0; e < edits; e++) {
            size_t at = n ? next_rand() % n : 0;
            switch (next_rand() % 4) {
            case 0: /* overwrite with an interesting byte */
                if (n)
                    buf[at] = (uint8_t)interesting[next_rand() % (sizeof interesting - 1)];
                break;
            case 1: /* random byte */
                if (n)
                    buf[at] = (uint8_t)next_rand();
                break;
            case 2: /* delete a run */
                if (n) {
                    size_t len = next_rand() % 8;
                    if (at + len > n)
                        len = n - at;
                    memmove(buf + at, buf + at + len, n - at - len);
                    n -= len;
                }
                break;
            default: /* duplicate a run */
                if (n && n * 2 < cap) {
                    size_t len = 1 + next_rand() % 16;
                    if (at + len > n)
                        len = n - at;
                    memmove(buf + at + len, buf + at, n - at);
                    n += len;
                }
                break;
            }
        }
        if (next_rand() % 16 == 0)
            n = next_rand() % (n + 1); /* truncate */
        LLVMFuzzerTestOneInput(buf, n);
    }
    free(buf);
    unlink(tmp_path);
    printf("fuzz_smoke: %ld inputs, no crash\n", rounds);
    return 0;
}
#endif
