/* Tests for core internals that every module leans on: the radix sort of
 * doubles against qsort (duplicates, negatives, signed zeros, infinities,
 * subnormals; the short-array paths and the radix path). Signed zeros are
 * equal values: their order among themselves is not checked. And the
 * loading of optional libraries (cseg__dl_load). */
#include <dlfcn.h>
#include <float.h>
#include <jansson.h>
#include <math.h>

#include "util.h"
#include "../src/core/internal.h" /* internals: the static library exports them */
#include "reference/fixtures_xsum.h"

/* Ascending, -0.0 before +0.0 (the order of cseg_mpi_select, so that a
 * median of zeros has the same sign on one process and on many). */
static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (x == y)
        return (!signbit(x) && signbit(y)) - (signbit(x) && !signbit(y));
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
            for (size_t i = 0; i < n; i++) /* the bits: zeros by their sign too */
                if (memcmp(&v[i], &w[i], sizeof v[i]) != 0)
                    fail_msg("n %zu kind %d: element %zu is %g, qsort has %g", n, kind, i, v[i],
                             w[i]);
        }
        free(v);
        free(w);
    }
}

/* Selection gives what sorting gives, bit for bit (the radix sort and the
 * selection order -0.0 before +0.0 alike), on ranges that stress its
 * buckets: wide, duplicates, a narrow range with one far outlier, special
 * values; ranks at the ends, repeated, unsorted. */
static void test_select_doubles(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 63, 64, 65, 4095, 4096, 5000, 70000, 300000};
    static const double special[] = {0.0,      -0.0,    INFINITY, -INFINITY, DBL_MIN / 4,
                                     -DBL_MIN, DBL_MAX, -DBL_MAX, 1e-300,    -1e300};
    static const double qs[5] = {0.05, 0.25, 0.5, 0.75, 0.95};
    uint64_t seed = 0x2545F4914F6CDD1DULL;
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        size_t n = sizes[z];
        double *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w);
        for (int kind = 0; kind < 5; kind++) {
            for (size_t i = 0; i < n; i++) {
                uint64_t r = next(&seed);
                double u = (double)(r >> 11) / 9007199254740992.0;
                if (kind == 0)
                    v[i] = (u - 0.5) * pow(10, (double)(r % 40) - 20);
                else if (kind == 1)
                    v[i] = (double)(r % 7) - 3;
                else if (kind == 2) /* 1 + tiny steps, one huge value */
                    v[i] = i == n / 3 ? 1e300 : 1 + u * 1e-9;
                else if (kind == 3)
                    v[i] = r % 3 ? special[r % 10] : (double)(int64_t)(r % 1000) - 500.5;
                else /* signed zeros and a few others */
                    v[i] = r % 5 ? (r % 2 ? 0.0 : -0.0) : u;
            }
            memcpy(w, v, n * sizeof *v);
            cseg__sort_doubles(w, n);
            size_t ranks[16] = {0, n - 1, n / 2, (n - 1) / 2, n / 2, n / 3, n - 1};
            for (size_t i = 7; i < 16; i++)
                ranks[i] = (size_t)(next(&seed) % n);
            double got[16];
            assert_int_equal(cseg__select_doubles(v, n, ranks, 16, got), 0);
            for (size_t i = 0; i < 16; i++)
                if (memcmp(&got[i], &w[ranks[i]], sizeof got[i]) != 0)
                    fail_msg("n %zu kind %d: rank %zu is %g, sorted has %g", n, kind, ranks[i],
                             got[i], w[ranks[i]]);
            double q[5];
            assert_int_equal(cseg__quantiles(v, n, qs, 5, q), 0);
            for (size_t i = 0; i < 5; i++) {
                double want = cseg__quantile_sorted(w, n, qs[i]);
                if (memcmp(&q[i], &want, sizeof want) != 0 && !(isnan(q[i]) && isnan(want)))
                    fail_msg("n %zu kind %d: quantile %g is %g, sorted gives %g", n, kind, qs[i],
                             q[i], want);
            }
        }
        free(v);
        free(w);
    }
}

static double (*cos_fn)(double);

static const char *resolve_cos(void *h)
{
    return (*(void **)&cos_fn = dlsym(h, "cos")) ? NULL : "cos";
}

static const char *resolve_missing(void *h)
{
    return dlsym(h, "cseg_no_such_function") ? NULL : "cseg_no_such_function";
}

/* A library that is not there, one without a wanted function, one with all:
 * the error names the library, what needs it and its package, every time. */
static void test_dl_load(void **state)
{
    (void)state;
    cseg_diag d;
    cseg__dl none = CSEG__DL_INIT("libcseg-no-such-library.so.9", "testing", "no-such-package",
                                  resolve_cos);
    for (int i = 0; i < 2; i++) {
        cseg_diag_clear(&d);
        assert_int_equal(cseg__dl_load(&none, &d), CSEG_EIO);
        assert_non_null(strstr(d.msg, "cannot load libcseg-no-such-library.so.9 (testing; "
                                      "Debian package no-such-package): "));
    }
    cseg__dl lacks = CSEG__DL_INIT("libm.so.6", "testing", "libc6", resolve_missing);
    cseg_diag_clear(&d);
    assert_int_equal(cseg__dl_load(&lacks, &d), CSEG_EIO);
    assert_string_equal(d.msg,
                        "libm.so.6 lacks cseg_no_such_function (testing; Debian package libc6)");
    cseg__dl libm = CSEG__DL_INIT("libm.so.6", "testing", "libc6", resolve_cos);
    assert_int_equal(cseg__dl_load(&libm, NULL), 0);
    assert_int_equal(cseg__dl_load(&libm, NULL), 0);
    assert_true(cos_fn(0.0) == 1.0);
}

static double xsum_of(const double *x, size_t n, const size_t *order)
{
    cseg__xsum a;
    cseg__xsum_init(&a);
    for (size_t i = 0; i < n; i++)
        cseg__xsum_add(&a, x[order ? order[i] : i]);
    return cseg__xsum_value(&a);
}

static void assert_same_bits(double a, double b)
{
    if (memcmp(&a, &b, sizeof a) != 0)
        fail_msg("%a is not %a", a, b);
}

/* Every case equals math.fsum (the correctly rounded sum) to the bit, in
 * the given order, reversed, shuffled, and split into three accumulators
 * merged in either order. */
static void test_xsum_fsum(void **state)
{
    (void)state;
    size_t nc = sizeof xsum_cases / sizeof xsum_cases[0];
    for (size_t c = 0; c < nc; c++) {
        const double *x = xsum_terms + xsum_cases[c].first;
        size_t n = xsum_cases[c].n;
        size_t *order = malloc(n * sizeof *order);
        assert_non_null(order);
        assert_same_bits(xsum_of(x, n, NULL), xsum_cases[c].sum);
        /* the word-per-exponent accumulator, a term at a time */
        cseg__xsum_buf *b = malloc(sizeof *b);
        assert_non_null(b);
        cseg__xsum_buf_init(b);
        cseg__xsum_buf_add_n(b, x, n);
        assert_same_bits(cseg__xsum_buf_value(b), xsum_cases[c].sum);
        free(b);
        for (size_t i = 0; i < n; i++)
            order[i] = n - 1 - i;
        assert_same_bits(xsum_of(x, n, order), xsum_cases[c].sum);
        uint64_t r = 0x9e3779b97f4a7c15u + c;
        for (size_t i = n; i > 1; i--) {
            r = r * 6364136223846793005u + 1442695040888963407u;
            size_t j = (size_t)(r >> 33) % i, t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        assert_same_bits(xsum_of(x, n, order), xsum_cases[c].sum);
        cseg__xsum part[3];
        for (int p = 0; p < 3; p++)
            cseg__xsum_init(&part[p]);
        for (size_t i = 0; i < n; i++)
            cseg__xsum_add(&part[order[i] % 3], x[order[i]]);
        cseg__xsum_merge(&part[2], &part[0]);
        cseg__xsum_merge(&part[2], &part[1]);
        assert_same_bits(cseg__xsum_value(&part[2]), xsum_cases[c].sum);
        free(order);
    }
}

/* What a sum of doubles cannot hold: overflow on the way that comes back,
 * overflow at the end, infinities and NaN as IEEE addition gives them, and
 * the digits normalised in the middle of a sum (as after 2^30 terms). */
static void test_xsum_limits(void **state)
{
    (void)state;
    const double big[] = {DBL_MAX, DBL_MAX, -DBL_MAX};
    assert_same_bits(xsum_of(big, 3, NULL), DBL_MAX);
    assert_true(isinf(xsum_of(big, 2, NULL)) && xsum_of(big, 2, NULL) > 0);
    const double neg[] = {-DBL_MAX, -DBL_MAX};
    assert_true(isinf(xsum_of(neg, 2, NULL)) && xsum_of(neg, 2, NULL) < 0);
    const double inf1[] = {1.0, INFINITY, -5.0};
    assert_true(isinf(xsum_of(inf1, 3, NULL)) && xsum_of(inf1, 3, NULL) > 0);
    const double infs[] = {INFINITY, -INFINITY};
    assert_true(isnan(xsum_of(infs, 2, NULL)));
    const double nan1[] = {1.0, NAN};
    assert_true(isnan(xsum_of(nan1, 2, NULL)));
    assert_same_bits(xsum_of(NULL, 0, NULL), 0.0);
    /* the same through cseg__xsum_buf: flags, and 600 terms of one exponent
     * (a word joins the digits every 512) with a subnormal */
    cseg__xsum_buf *bb = malloc(sizeof *bb);
    assert_non_null(bb);
    cseg__xsum_buf_init(bb);
    cseg__xsum_buf_add_n(bb, inf1, 3);
    assert_true(isinf(cseg__xsum_buf_value(bb)));
    cseg__xsum_buf_add(bb, -INFINITY);
    assert_true(isnan(cseg__xsum_buf_value(bb)));
    cseg__xsum_buf_init(bb);
    for (int i = 0; i < 600; i++)
        cseg__xsum_buf_add(bb, i % 2 ? 1.5 : -1.25);
    cseg__xsum_buf_add(bb, 5e-324);
    assert_same_bits(cseg__xsum_buf_value(bb), 75.0); /* 5e-324 is far below half an ulp */
    cseg__xsum_buf_add(bb, -75.0);
    assert_same_bits(cseg__xsum_buf_value(bb), 5e-324);
    free(bb);
    cseg__xsum a, b;
    cseg__xsum_init(&a);
    cseg__xsum_init(&b);
    for (int i = 0; i < 1000; i++) {
        double t = ldexp(1.0 + i / 1024.0, (i * 37) % 2000 - 1000) * (i % 3 ? 1 : -1);
        cseg__xsum_add(&a, t);
        if (i == 500)
            a.pending = (1u << 30) - 1; /* the next term normalises the digits */
        cseg__xsum_add(&b, t);
    }
    assert_int_equal(a.pending, 498);
    assert_same_bits(cseg__xsum_value(&a), cseg__xsum_value(&b));
    b.pending = (1u << 29) + 7; /* merging carries first */
    cseg__xsum_merge(&a, &b);
    cseg__xsum_add(&b, 0.0);
    double twice = cseg__xsum_value(&a), one = cseg__xsum_value(&b);
    assert_same_bits(twice, 2 * one);
}

/* Text into JSON: valid UTF-8 as it is; an invalid byte as U+FFFD, never
 * the whole value dropped (json_string gives NULL); cuts between characters. */
static void test_utf8_text(void **state)
{
    (void)state;
    json_t *j = cseg__jstr("caf\xc3\xa9");
    assert_string_equal(json_string_value(j), "caf\xc3\xa9");
    json_decref(j);
    j = cseg__jstr("ab\xc3 \xffz");
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "ab\xef\xbf\xbd \xef\xbf\xbdz");
    json_decref(j);
    assert_null(cseg__jstr(NULL));
    assert_int_equal(cseg__utf8_prefix("a\xc3\xa9" "b", 2), 1);
    assert_int_equal(cseg__utf8_prefix("a\xc3\xa9" "b", 3), 3);
    assert_int_equal(cseg__utf8_prefix("ab", 10), 2);
    char s[] = "xy\xe2\x82";
    cseg__utf8_chop(s);
    assert_string_equal(s, "xy");
    char t[] = "xy\xe2\x82\xac";
    cseg__utf8_chop(t);
    assert_string_equal(t, "xy\xe2\x82\xac");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_doubles),
        cmocka_unit_test(test_select_doubles),
        cmocka_unit_test(test_dl_load),
        cmocka_unit_test(test_xsum_fsum),
        cmocka_unit_test(test_xsum_limits),
        cmocka_unit_test(test_utf8_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
