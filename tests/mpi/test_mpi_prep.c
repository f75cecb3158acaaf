/* cseg_mpi_prep_fit under mpirun -n 1..4 (tests/mpi/mpi_lib.sh): every
 * rank builds the same table, takes an uneven part of its rows (rank 1
 * none from 3 processes on), and fits the preprocessing on the parts; the
 * pipeline must be the one cseg_prep_fit fits on the whole table, bit for
 * bit: medians, shifts, the log choice, centres and scales (standard and
 * robust), the drift reference's quantiles (all values of a small table,
 * 1,001 quantiles of a large one; none for a column with an infinity),
 * text levels in order of first appearance (one seen first in the last
 * part). Errors agree on every rank: a column without numbers, a text
 * column with too many levels in all though few in each part, column
 * types that differ between ranks. Plain C; the job fails when any rank
 * does. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <custseg/custseg.h>
#include <custseg/mpi.h>

#include "../../src/prep/internal.h"
#include "mpi_util.h"

enum { NCOL = 6 };
static const char *const names[NCOL + 1] = {"a", "b", "c", "d", "e", "t", "many"};

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Rows [r0, r1) of the generated table (seeded: the same on every rank):
 * numbers a..e, text t and (many_levels) text "many". Text codes are the
 * part's own, levels in their order of first appearance in the part.
 * flags: the column "many" (60 levels), t as numbers, e all missing. */
enum { MANY_LEVELS = 1, T_AS_NUMBER = 2, E_MISSING = 4 };

static cseg_table *make(size_t n, size_t r0, size_t r1, int flags)
{
    int many_levels = flags & MANY_LEVELS, t_as_number = flags & T_AS_NUMBER;
    size_t m = r1 - r0;
    double *col[5];
    int32_t *code = malloc((m ? m : 1) * sizeof *code),
            *mcode = malloc((m ? m : 1) * sizeof *mcode);
    const char *lv[8], *mlv[64];
    char mbuf[64][8];
    size_t nlv = 0, nmlv = 0;
    static const char *const tl[6] = {"north", "south", "east", "west", "", "late"};
    for (int c = 0; c < 5; c++)
        col[c] = malloc((m ? m : 1) * sizeof *col[c]);
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        double u1 = unif(&s), u2 = unif(&s), u3 = unif(&s);
        uint64_t u = next(&s);
        if (i < r0 || i >= r1)
            continue;
        size_t k = i - r0;
        col[0][k] = u % 31 == 0 ? NAN : 50 + 10 * (u1 - 0.5) + (double)(u % 7);
        col[1][k] = exp(6 * u2) - 3; /* skewed, some negative */
        col[2][k] = i == n / 3 ? INFINITY : u3 * 1e6;
        col[3][k] = 4.25;                                             /* constant */
        col[4][k] = i < n / 2 || (flags & E_MISSING) ? NAN : u1 * u2; /* missing: first half */
        int t = (int)(u % 4);
        if (u % 53 == 0)
            t = -1; /* missing */
        if (i == n - 2)
            t = 5; /* a level first seen in the last rows */
        const char *want = t < 0 ? NULL : tl[t];
        int32_t cd = -1;
        for (size_t q = 0; want && q < nlv && cd < 0; q++)
            if (strcmp(lv[q], want) == 0)
                cd = (int32_t)q;
        if (want && cd < 0) {
            lv[nlv] = want;
            cd = (int32_t)nlv++;
        }
        code[k] = cd;
        /* "many": 60 levels in all, i % 60, each part seeing some */
        snprintf(mbuf[nmlv < 64 ? nmlv : 63], 8, "L%zu", i % 60);
        int32_t mc = -1;
        for (size_t q = 0; q < nmlv && mc < 0; q++)
            if (strcmp(mlv[q], mbuf[nmlv < 64 ? nmlv : 63]) == 0)
                mc = (int32_t)q;
        if (mc < 0 && nmlv < 64) {
            mlv[nmlv] = mbuf[nmlv];
            mc = (int32_t)nmlv++;
        }
        mcode[k] = mc;
    }
    cseg_table *t = NULL;
    int rc = cseg_table_create(&t, m);
    for (int c = 0; c < 5 && rc == 0; c++)
        rc = cseg_table_add_numbers(t, names[c], col[c]);
    if (rc == 0 && t_as_number)
        rc = cseg_table_add_numbers(t, "t", col[0]);
    else if (rc == 0)
        rc = cseg_table_add_text(t, "t", lv, nlv, code);
    if (rc == 0 && many_levels)
        rc = cseg_table_add_text(t, "many", mlv, nmlv, mcode);
    for (int c = 0; c < 5; c++)
        free(col[c]);
    free(code);
    free(mcode);
    CHECK(rc == 0, "table: %d", rc);
    return t;
}

static void compare(const cseg_prep *one, const cseg_prep *many, const char *what)
{
    CHECK(one->n_cols == many->n_cols, "%s: %zu columns, %zu", what, one->n_cols, many->n_cols);
    for (size_t j = 0; j < one->n_cols && j < many->n_cols; j++) {
        const cseg_prep_col *a = &one->cols[j], *b = &many->cols[j];
        CHECK(strcmp(a->name, b->name) == 0 && a->categorical == b->categorical && a->log == b->log,
              "%s: column %s: kind or log", what, a->name);
        CHECK(same_bits(a->median, b->median) && same_bits(a->shift, b->shift) &&
                  same_bits(a->center, b->center) && same_bits(a->scale, b->scale),
              "%s: column %s: median %.17g/%.17g shift %.17g/%.17g center %.17g/%.17g scale "
              "%.17g/%.17g",
              what, a->name, a->median, b->median, a->shift, b->shift, a->center, b->center,
              a->scale, b->scale);
        CHECK(a->q_npoints == b->q_npoints && a->q_n == b->q_n, "%s: column %s: %zu/%zu points",
              what, a->name, a->q_npoints, b->q_npoints);
        for (size_t i = 0; i < a->q_npoints && i < b->q_npoints; i++)
            CHECK(same_bits(a->q_points[i], b->q_points[i]), "%s: column %s: point %zu", what,
                  a->name, i);
        CHECK(a->n_levels == b->n_levels, "%s: column %s: %zu/%zu levels", what, a->name,
              a->n_levels, b->n_levels);
        for (size_t i = 0; i < a->n_levels && i < b->n_levels; i++)
            CHECK(strcmp(a->levels[i], b->levels[i]) == 0, "%s: column %s: level %zu %s/%s", what,
                  a->name, i, a->levels[i], b->levels[i]);
    }
}

static void one_case(size_t n, cseg_scale scale)
{
    cseg_prep_params pp;
    cseg_prep_params_init(&pp);
    pp.scale = scale;
    size_t r0, r1;
    part_of(n, rank, &r0, &r1);
    cseg_table *all = make(n, 0, n, 0), *part = make(n, r0, r1, 0);
    cseg_prep *one, *many;
    cseg_diag d1, d2;
    CHECK(cseg_prep_create(&one, &pp) == 0 && cseg_prep_create(&many, &pp) == 0, "create");
    int rc1 = cseg_prep_fit(one, all, names, NCOL, &d1);
    int rc2 = cseg_mpi_prep_fit(MPI_COMM_WORLD, many, part, names, NCOL, &d2);
    CHECK(rc1 == 0 && rc2 == 0, "fit: %s / %s", rc1 ? d1.msg : "", rc2 ? d2.msg : "");
    char what[64];
    snprintf(what, sizeof what, "%zu rows, scale %d", n, (int)scale);
    if (rc1 == 0 && rc2 == 0)
        compare(one, many, what);
    cseg_prep_free(one);
    cseg_prep_free(many);
    cseg_table_free(all);
    cseg_table_free(part);
}

/* A failure: the same code and message on every rank as cseg_prep_fit's. */
static void one_failure(const char *const *cols, size_t ncol, int flags, const char *want)
{
    size_t n = 3000, r0, r1;
    part_of(n, rank, &r0, &r1);
    cseg_table *part = make(n, r0, r1, rank == 0 ? flags : flags & ~T_AS_NUMBER);
    cseg_prep *pp;
    cseg_diag d;
    cseg_diag_clear(&d);
    CHECK(cseg_prep_create(&pp, NULL) == 0, "create");
    int rc = cseg_mpi_prep_fit(MPI_COMM_WORLD, pp, part, cols, ncol, &d);
    CHECK(rc < 0 && strstr(d.msg, want), "wanted \"%s\": %d \"%s\"", want, rc, d.msg);
    int lo = rc, hi = rc;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    CHECK(lo == hi, "codes differ between ranks: %d .. %d", lo, hi);
    cseg_prep_free(pp);
    cseg_table_free(part);
}

int main(int argc, char **argv)
{
    start(&argc, &argv);
    one_case(700, CSEG_SCALE_STANDARD);   /* the drift points: all values */
    one_case(20011, CSEG_SCALE_STANDARD); /* 1,001 quantiles */
    one_case(20011, CSEG_SCALE_ROBUST);
    one_case(5003, CSEG_SCALE_NONE);
    if (rank == 0 && !fails)
        printf("ok: the preprocessing fitted on %d parts as on the whole table\n", size);
    const char *ae[2] = {"a", "e"};
    one_failure(ae, 2, E_MISSING, "column \"e\" has no numeric values");
    const char *many_col[2] = {"a", "many"};
    one_failure(many_col, 2, MANY_LEVELS,
                "column \"many\" has 60 distinct values, more than the 50");
    const char *t_col[2] = {"a", "t"};
    if (size > 1)
        one_failure(t_col, 2, T_AS_NUMBER,
                    "the processes' tables differ in their columns or their types");
    return finish();
}
