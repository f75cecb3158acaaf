/* cseg_mpi_profile_compute under mpirun -n 1..4 (tests/mpi/mpi_lib.sh):
 * every rank builds the same customers and labels, takes an uneven part of
 * them (rank 1 none from 3 processes on), and profiles the parts; the
 * profile must be the one cseg_profile_compute gives on all the customers,
 * bit for bit: sizes, shares, revenue shares, means, medians (odd and even
 * counts, a segment with no values of a column, an empty segment), the
 * population's means and deviations, and the level shares of a text column
 * (a level first seen in the last part), while an id column (one level per
 * customer) and a column of 300 levels are left out as one process leaves
 * them out. Unlabelled customers (-1) count nowhere. Plain C; the job fails
 * when any rank does. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <custseg/custseg.h>
#include <custseg/mpi.h>

#include "mpi_util.h"

enum { K = 5 };

static int same(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Customers [r0, r1) of n (seeded: the same on every rank) and their labels:
 * numbers x (some missing), y (skewed), revenue (some missing), z (missing in
 * segment 3), text region (5 levels, "late" first seen near the end), id and
 * wide (300 levels). Text codes are the part's own, in order of first
 * appearance. */
static cseg_table *make(size_t n, size_t r0, size_t r1, int32_t *labels)
{
    size_t m = r1 - r0;
    double *col[4];
    for (int c = 0; c < 4; c++)
        col[c] = malloc((m ? m : 1) * sizeof *col[c]);
    int32_t *code = malloc((m ? m : 1) * sizeof *code), *idc = malloc((m ? m : 1) * sizeof *idc),
            *wc = malloc((m ? m : 1) * sizeof *wc);
    char **ids = malloc((m ? m : 1) * sizeof *ids), **wl = malloc(300 * sizeof *wl);
    const char *lv[8];
    size_t nlv = 0, nwl = 0;
    static const char *const tl[5] = {"north", "south", "east", "west", "late"};
    uint64_t s = 777;
    for (size_t i = 0; i < n; i++) {
        double u1 = unif(&s), u2 = unif(&s);
        uint64_t u = next(&s);
        int32_t lab = u % 17 == 0 ? -1 : (int32_t)(u % 4); /* segment 4: empty */
        if (i < r0 || i >= r1)
            continue;
        size_t q = i - r0;
        labels[q] = lab;
        col[0][q] = u % 13 == 0 ? NAN : 40 + 10 * u1 + (double)(u % 9);
        col[1][q] = exp(8 * u2) - 2;
        col[2][q] = u % 11 == 0 ? NAN : 0.01 * (double)(u % 100000);
        col[3][q] = lab == 3 ? NAN : u1 * u2 * 1e-3;
        int32_t cd = level_code(lv, &nlv, tl[i == n - 3 ? 4 : (int)(u % 4)]);
        code[q] = u % 29 == 0 ? -1 : cd;
        ids[q] = malloc(24);
        snprintf(ids[q], 24, "C%zu", i);
        idc[q] = (int32_t)q;
        char w[16];
        snprintf(w, sizeof w, "W%zu", (size_t)(u % 300));
        int32_t wcd = -1;
        for (size_t j = 0; j < nwl && wcd < 0; j++)
            if (strcmp(wl[j], w) == 0)
                wcd = (int32_t)j;
        if (wcd < 0) {
            wl[nwl] = strdup(w);
            wcd = (int32_t)nwl++;
        }
        wc[q] = wcd;
    }
    cseg_table *t = NULL;
    int rc = cseg_table_create(&t, m);
    if (rc == 0)
        rc = cseg_table_add_text(t, "id", (const char *const *)ids, m, idc);
    static const char *const nm[4] = {"x", "y", "revenue", "z"};
    for (int c = 0; c < 4 && rc == 0; c++)
        rc = cseg_table_add_numbers(t, nm[c], col[c]);
    if (rc == 0)
        rc = cseg_table_add_text(t, "region", lv, nlv, code);
    if (rc == 0)
        rc = cseg_table_add_text(t, "wide", (const char *const *)wl, nwl, wc);
    for (int c = 0; c < 4; c++)
        free(col[c]);
    for (size_t q = 0; q < m; q++)
        free(ids[q]);
    for (size_t j = 0; j < nwl; j++)
        free(wl[j]);
    free(ids), free(wl), free(code), free(idc), free(wc);
    CHECK(rc == 0, "table: %d", rc);
    return t;
}

static void compare(const cseg_profile *a, const cseg_profile *b, const char *what)
{
    size_t nf = cseg_profile_n_features(a);
    CHECK(cseg_profile_k(a) == cseg_profile_k(b) && nf == cseg_profile_n_features(b),
          "%s: k or features", what);
    for (size_t j = 0; j < nf; j++)
        CHECK(strcmp(cseg_profile_feature(a, j), cseg_profile_feature(b, j)) == 0,
              "%s: feature %zu", what, j);
    for (size_t s = 0; s < K; s++) {
        CHECK(cseg_profile_size(a, s) == cseg_profile_size(b, s), "%s: size %zu", what, s);
        CHECK(same(cseg_profile_share(a, s), cseg_profile_share(b, s)), "%s: share %zu", what, s);
        CHECK(same(cseg_profile_revenue_share(a, s), cseg_profile_revenue_share(b, s)),
              "%s: revenue share %zu: %.17g / %.17g", what, s, cseg_profile_revenue_share(a, s),
              cseg_profile_revenue_share(b, s));
        for (size_t j = 0; j < nf; j++) {
            CHECK(same(cseg_profile_means(a, s)[j], cseg_profile_means(b, s)[j]),
                  "%s: mean %zu %zu: %.17g / %.17g", what, s, j, cseg_profile_means(a, s)[j],
                  cseg_profile_means(b, s)[j]);
            CHECK(same(cseg_profile_medians(a, s)[j], cseg_profile_medians(b, s)[j]),
                  "%s: median %zu %zu: %.17g / %.17g", what, s, j, cseg_profile_medians(a, s)[j],
                  cseg_profile_medians(b, s)[j]);
        }
    }
    for (size_t j = 0; j < nf; j++)
        CHECK(same(cseg_profile_pop_means(a)[j], cseg_profile_pop_means(b)[j]) &&
                  same(cseg_profile_pop_sds(a)[j], cseg_profile_pop_sds(b)[j]),
              "%s: population %zu", what, j);
    size_t nc = cseg_profile_n_categories(a);
    CHECK(nc == 1 && nc == cseg_profile_n_categories(b), "%s: %zu / %zu categories", what, nc,
          cseg_profile_n_categories(b));
    for (size_t c = 0; c < nc && c < cseg_profile_n_categories(b); c++) {
        size_t nl = cseg_profile_n_levels(a, c);
        CHECK(strcmp(cseg_profile_category(a, c), cseg_profile_category(b, c)) == 0 &&
                  nl == cseg_profile_n_levels(b, c),
              "%s: category %zu", what, c);
        for (size_t l = 0; l < nl && l < cseg_profile_n_levels(b, c); l++) {
            CHECK(strcmp(cseg_profile_level(a, c, l), cseg_profile_level(b, c, l)) == 0,
                  "%s: level %zu: %s / %s", what, l, cseg_profile_level(a, c, l),
                  cseg_profile_level(b, c, l));
            for (size_t s = 0; s <= K; s++)
                CHECK(same(cseg_profile_level_share(a, c, s, l),
                           cseg_profile_level_share(b, c, s, l)),
                      "%s: level share %zu %zu", what, s, l);
        }
    }
}

static void check(size_t n, const char *what)
{
    int32_t *all_lab = malloc(n * sizeof *all_lab);
    cseg_table *all = make(n, 0, n, all_lab);
    cseg_profile *one = NULL, *many = NULL;
    CHECK(cseg_profile_compute(&one, all, all_lab, K, "revenue") == 0, "%s: one process", what);
    size_t r0, r1;
    part_of(n, rank, &r0, &r1);
    int32_t *lab = malloc((r1 - r0 ? r1 - r0 : 1) * sizeof *lab);
    cseg_table *part = make(n, r0, r1, lab);
    cseg_diag d;
    int rc = cseg_mpi_profile_compute(MPI_COMM_WORLD, &many, part, lab, K, "revenue", &d);
    CHECK(rc == 0, "%s: cseg_mpi_profile_compute: %d %s", what, rc, d.msg);
    if (one && many)
        compare(one, many, what);
    cseg_profile_free(one);
    cseg_profile_free(many);
    cseg_table_free(all);
    cseg_table_free(part);
    free(all_lab);
    free(lab);
}

int main(int argc, char **argv)
{
    start(&argc, &argv);
    check(1000, "1,000 customers");
    check(30001, "30,001 customers");
    return finish();
}
