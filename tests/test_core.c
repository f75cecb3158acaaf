/* Tests for core internals that every module leans on: the radix sort of
 * doubles against qsort (duplicates, negatives, signed zeros, infinities,
 * subnormals; the short-array paths and the radix path). Signed zeros are
 * equal values: their order among themselves is not checked. */
#include <float.h>
#include <math.h>

#include "util.h"

/* Internal (src/core/internal.h); the static library exports it. */
void cseg__sort_doubles(double *v, size_t n);

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_sort_doubles(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 5, 63, 64, 65, 500, 1023, 1024, 1025, 5000, 100000};
    static const double special[] = {0.0,      -0.0,    INFINITY, -INFINITY, DBL_MIN / 4,
                                     -DBL_MIN, DBL_MAX, -DBL_MAX, 1e-300,    -1e300};
    uint64_t seed = 88172645463325252ULL;
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        size_t n = sizes[z];
        double *v = malloc((n ? n : 1) * sizeof *v), *w = malloc((n ? n : 1) * sizeof *w);
        for (int kind = 0; kind < 3; kind++) {
            for (size_t i = 0; i < n; i++) {
                uint64_t r = next(&seed);
                if (kind == 0) /* wide range, both signs */
                    v[i] = ((double)(r >> 11) / 9007199254740992.0 - 0.5) *
                           pow(10, (double)(r % 40) - 20);
                else if (kind == 1) /* many duplicates */
                    v[i] = (double)(r % 7) - 3;
                else /* the special values among ordinary ones */
                    v[i] = r % 3 ? special[r % 10] : (double)(int64_t)(r % 1000) - 500.5;
            }
            memcpy(w, v, n * sizeof *v);
            cseg__sort_doubles(v, n);
            qsort(w, n, sizeof *w, cmp);
            for (size_t i = 0; i < n; i++)
                if (!(v[i] == w[i]))
                    fail_msg("n %zu kind %d: element %zu is %g, qsort has %g", n, kind, i, v[i],
                             w[i]);
        }
        free(v);
        free(w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_doubles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
