/* custseg benchmark driver for hierarchical clustering: times cseg_hclust_fit
 * on a numeric CSV and prints one JSON object. Used by bench/compare_hclust.py;
 * not a test.
 *
 *   cseg_bench_hclust FILE LINKAGE THREADS EXACT K [ZOUT]
 *
 * LINKAGE is ward|complete|average|single, EXACT 0 or 1 (the exact flag: 0
 * lets Ward use micro-clusters above the default exact_max), K the number of
 * clusters to cut (the cut is timed separately). With ZOUT the linkage matrix
 * is written there as raw doubles ((n_leaves - 1) x 4) and the K-cluster row
 * labels to ZOUT.labels as raw int32, for the comparison script.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custseg/custseg.h"
#include "custseg/hclust.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int load(const char *path, cseg_table **t, double **X, size_t *n, size_t *d)
{
    cseg_diag diag;
    char buf[1200];
    if (cseg_table_read_csv(t, path, NULL, &diag) < 0) {
        fprintf(stderr, "cseg_bench_hclust: %s\n", cseg_diag_format(&diag, buf, sizeof buf));
        return 1;
    }
    *n = cseg_table_n_rows(*t);
    *d = cseg_table_n_cols(*t);
    *X = malloc(*n * *d * sizeof **X);
    if (!*X)
        return 1;
    for (size_t j = 0; j < *d; j++) {
        const double *c = cseg_table_numbers(*t, j);
        if (!c)
            return 1;
        for (size_t i = 0; i < *n; i++)
            (*X)[i * *d + j] = c[i];
    }
    return 0;
}

static int write_raw(const char *path, const void *p, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    size_t w = fwrite(p, 1, bytes, f);
    return (fclose(f) != 0 || w != bytes);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: cseg_bench_hclust FILE LINKAGE THREADS EXACT K [ZOUT]\n");
        return 2;
    }
    static const char *names[] = {"ward", "complete", "average", "single"};
    cseg_hclust_params p;
    cseg_hclust_params_init(&p);
    int found = 0;
    for (int l = 0; l < 4; l++) {
        if (strcmp(argv[2], names[l]) == 0) {
            p.linkage = (cseg_linkage)l;
            found = 1;
        }
    }
    if (!found) {
        fprintf(stderr, "cseg_bench_hclust: unknown linkage %s\n", argv[2]);
        return 2;
    }
    p.n_threads = atoi(argv[3]);
    p.exact = atoi(argv[4]);
    size_t k = (size_t)atol(argv[5]);

    cseg_table *t = NULL;
    double *X = NULL;
    size_t n, d;
    if (load(argv[1], &t, &X, &n, &d))
        return 1;
    cseg_table_free(t);
    cseg_hclust *h;
    cseg_diag diag;
    char buf[1200];
    if (cseg_hclust_create(&h, &p) < 0)
        return 1;
    size_t est_bytes = 0;
    double est_s = 0;
    cseg_hclust_estimate(p.linkage, n, d, p.exact, &est_bytes, &est_s);
    double t0 = now();
    int rc = cseg_hclust_fit(h, X, n, d, NULL, &diag);
    double el = now() - t0;
    if (rc < 0) {
        fprintf(stderr, "cseg_bench_hclust: %s: %s\n", cseg_strerror(rc),
                cseg_diag_format(&diag, buf, sizeof buf));
        return 1;
    }
    size_t nl = cseg_hclust_n_leaves(h);
    const double *Z = cseg_hclust_linkage(h);
    int32_t *lab = malloc(n * sizeof *lab);
    if (!lab)
        return 1;
    double t1 = now();
    if (cseg_hclust_cut_k(h, k, lab) < 0)
        return 1;
    double el_cut = now() - t1;
    size_t *sizes = calloc(k, sizeof *sizes);
    if (!sizes)
        return 1;
    for (size_t i = 0; i < n; i++)
        sizes[lab[i]]++;
    printf("{\"op\":\"hclust\",\"linkage\":\"%s\",\"n\":%zu,\"d\":%zu,\"approximate\":%d,"
           "\"n_leaves\":%zu,\"seconds\":%.6f,\"cut_seconds\":%.6f,\"estimate_bytes\":%zu,"
           "\"estimate_seconds\":%.3f,\"top_height\":%.17g,\"k\":%zu,\"sizes\":[",
           names[p.linkage], n, d, cseg_hclust_is_approximate(h), nl, el, el_cut, est_bytes,
           est_s, nl > 1 ? Z[4 * (nl - 2) + 2] : 0.0, k);
    for (size_t c = 0; c < k; c++)
        printf("%s%zu", c ? "," : "", sizes[c]);
    printf("]}\n");
    if (argc >= 7) {
        char path[4096];
        snprintf(path, sizeof path, "%s.labels", argv[6]);
        if (write_raw(argv[6], Z, (nl - 1) * 4 * sizeof *Z) || write_raw(path, lab, n * sizeof *lab)) {
            fprintf(stderr, "cseg_bench_hclust: cannot write %s\n", argv[6]);
            return 1;
        }
    }
    free(sizes);
    free(lab);
    cseg_hclust_free(h);
    free(X);
    return 0;
}
