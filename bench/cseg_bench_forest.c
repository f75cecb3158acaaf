/* custseg benchmark driver for random forests: times cseg_forest_fit and
 * cseg_forest_predict on raw little-endian data, printing one JSON object.
 * Used by bench/compare_forest.py; not a test.
 *
 *   cseg_bench_forest DATA.f64 LABELS.i32 N D K TREES THREADS [PREDICT_REPS]
 *
 * Fits TREES trees (scikit-learn's defaults otherwise: sqrt features,
 * bootstrap, leaves of 1) on the N x D rows, then predicts the same rows
 * PREDICT_REPS times (default 1): predict_s is the median of those.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custseg/custseg.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts a copy). */
static double median(const double *v, size_t n)
{
    double s[99];
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void *read_all(const char *path, size_t size, size_t count)
{
    FILE *f = fopen(path, "rb");
    void *v = f ? malloc(size * count) : NULL;
    if (!v || fread(v, size, count, f) != count) {
        fprintf(stderr, "cseg_bench_forest: cannot read %zu items from %s\n", count, path);
        free(v);
        v = NULL;
    }
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: cseg_bench_forest DATA.f64 LABELS.i32 N D K TREES THREADS "
                        "[PREDICT_REPS]\n");
        return 2;
    }
    int reps = argc == 9 ? atoi(argv[8]) : 1;
    if (reps < 1 || reps > 99) {
        fprintf(stderr, "cseg_bench_forest: PREDICT_REPS must be 1..99\n");
        return 2;
    }
    size_t n = strtoul(argv[3], NULL, 10), d = strtoul(argv[4], NULL, 10),
           k = strtoul(argv[5], NULL, 10);
    double *X = read_all(argv[1], sizeof(double), n * d);
    int32_t *y = read_all(argv[2], sizeof(int32_t), n), *pred = malloc(n * sizeof *pred);
    if (!X || !y || !pred)
        return 1;
    cseg_forest_params p;
    cseg_forest_params_init(&p);
    p.n_estimators = strtoul(argv[6], NULL, 10);
    p.n_threads = atoi(argv[7]);
    cseg_forest *f = NULL;
    cseg_diag diag;
    double t0 = now();
    if (cseg_forest_fit(&f, X, n, d, y, k, NULL, NULL, &p, &diag) < 0) {
        fprintf(stderr, "cseg_bench_forest: %s\n", diag.msg);
        return 1;
    }
    double t1 = now(), pt[99];
    for (int r = 0; r < reps; r++) {
        double p0 = now();
        if (cseg_forest_predict(f, X, n, pred, NULL) < 0)
            return 1;
        pt[r] = now() - p0;
    }
    size_t right = 0;
    for (size_t i = 0; i < n; i++)
        right += pred[i] == y[i];
    printf("{\"fit_s\": %.6f, \"predict_s\": %.6f, \"predict_all\": [", t1 - t0,
           median(pt, (size_t)reps));
    for (int r = 0; r < reps; r++)
        printf("%s%.6f", r ? ", " : "", pt[r]);
    printf("], \"train_accuracy\": %.6f}\n", (double)right / (double)n);
    cseg_forest_free(f);
    free(X);
    free(y);
    free(pred);
    return 0;
}
