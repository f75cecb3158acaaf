/* cseg_mpi_table_read_csv under mpirun -n 1..4 (tests/mpi/mpi_lib.sh):
 * rank 0 writes customer tables, every rank reads them with
 * cseg_mpi_table_read_csv, and rank 0's table is compared with
 * cseg_table_read_csv's, bit for bit: every column's type and values, text
 * levels in order, rows' lines and hashes, why a column is text. Tables:
 * numbers, categories, ids, dates, missing values, quoted fields (a
 * delimiter, a quote, a line end inside), CRLF and lone CR line ends; a
 * number column turned text by a value late in the file, and one whose
 * later out-of-range number is no error because of it; a column whose
 * first value is in the last lines; a gzip file; a header alone. Failures:
 * a short row in the last quarter of the file, an out-of-range number
 * before a misfit, a forced type refused, a missing column: the same code
 * and message as one process, on every rank. Plain C; the job fails when
 * any rank does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <custseg/custseg.h>
#include <custseg/mpi.h>

#include "mpi_util.h"

static char dir[256];

/* The two tables equal, bit for bit. */
static void same_tables(const cseg_table *a, const cseg_table *b, const char *what)
{
    size_t n = cseg_table_n_rows(a);
    CHECK(n == cseg_table_n_rows(b), "%s: %zu rows, one process %zu", what, cseg_table_n_rows(b),
          n);
    CHECK(cseg_table_n_cols(a) == cseg_table_n_cols(b), "%s: columns differ", what);
    if (n != cseg_table_n_rows(b) || cseg_table_n_cols(a) != cseg_table_n_cols(b))
        return;
    for (size_t i = 0; i < n; i++)
        if (cseg_table_row_line(a, i) != cseg_table_row_line(b, i)) {
            CHECK(0, "%s: row %zu on line %ld, one process %ld", what, i, cseg_table_row_line(b, i),
                  cseg_table_row_line(a, i));
            break;
        }
    const uint64_t *ha = cseg_table_row_hashes(a), *hb = cseg_table_row_hashes(b);
    CHECK((ha == NULL) == (hb == NULL) && (!ha || memcmp(ha, hb, n * sizeof *ha) == 0),
          "%s: row hashes differ", what);
    for (size_t j = 0; j < cseg_table_n_cols(a); j++) {
        const char *name = cseg_table_col_name(a, j);
        CHECK(strcmp(name, cseg_table_col_name(b, j)) == 0, "%s: column %zu named apart", what, j);
        cseg_coltype ty = cseg_table_col_type(a, j);
        CHECK(ty == cseg_table_col_type(b, j), "%s: column %s is of type %d, one process %d", what,
              name, (int)cseg_table_col_type(b, j), (int)ty);
        if (ty != cseg_table_col_type(b, j))
            continue;
        if (ty == CSEG_COL_NUMBER)
            CHECK(memcmp(cseg_table_numbers(a, j), cseg_table_numbers(b, j), n * sizeof(double)) ==
                      0,
                  "%s: column %s's numbers differ", what, name);
        else if (ty == CSEG_COL_DATETIME)
            CHECK(memcmp(cseg_table_times(a, j), cseg_table_times(b, j), n * sizeof(int64_t)) == 0,
                  "%s: column %s's times differ", what, name);
        else {
            size_t nl = cseg_table_n_levels(a, j);
            CHECK(nl == cseg_table_n_levels(b, j), "%s: column %s has %zu levels, one process %zu",
                  what, name, cseg_table_n_levels(b, j), nl);
            for (size_t k = 0; k < nl && nl == cseg_table_n_levels(b, j); k++)
                if (strcmp(cseg_table_level(a, j, (int32_t)k),
                           cseg_table_level(b, j, (int32_t)k))) {
                    CHECK(0, "%s: column %s's level %zu is \"%s\", one process \"%s\"", what, name,
                          k, cseg_table_level(b, j, (int32_t)k),
                          cseg_table_level(a, j, (int32_t)k));
                    break;
                }
            CHECK(memcmp(cseg_table_codes(a, j), cseg_table_codes(b, j), n * sizeof(int32_t)) == 0,
                  "%s: column %s's codes differ", what, name);
        }
        long la = 0, lb = 0;
        cseg_coltype wa = CSEG_COL_AUTO, wb = CSEG_COL_AUTO;
        const char *ya = cseg_table_text_because(a, j, &la, &wa);
        const char *yb = cseg_table_text_because(b, j, &lb, &wb);
        CHECK((ya == NULL) == (yb == NULL) &&
                  (!ya || (strcmp(ya, yb) == 0 && la == lb && wa == wb)),
              "%s: column %s is text because of \"%s\" on line %ld, one process \"%s\" on %ld",
              what, name, yb ? yb : "-", lb, ya ? ya : "-", la);
    }
}

/* This rank's part (rows row0.. of the one-process table a) equal to
 * those rows: values, text by its level (the part's levels in the order
 * they first appear in it, none unused), lines, hashes, why a column is
 * text. */
static void same_part(const cseg_table *a, const cseg_table *b, size_t row0, const char *what)
{
    size_t n = cseg_table_n_rows(b), bad = 0;
    CHECK(row0 + n <= cseg_table_n_rows(a) && cseg_table_n_cols(a) == cseg_table_n_cols(b),
          "%s: part of %zu rows from %zu", what, n, row0);
    if (row0 + n > cseg_table_n_rows(a) || cseg_table_n_cols(a) != cseg_table_n_cols(b))
        return;
    const uint64_t *ha = cseg_table_row_hashes(a), *hb = cseg_table_row_hashes(b);
    CHECK((ha == NULL) == (hb == NULL), "%s: hashes on one side only", what);
    for (size_t i = 0; i < n; i++)
        bad += cseg_table_row_line(a, row0 + i) != cseg_table_row_line(b, i) ||
               (ha && hb && ha[row0 + i] != hb[i]);
    for (size_t j = 0; j < cseg_table_n_cols(a); j++) {
        cseg_coltype ty = cseg_table_col_type(a, j);
        CHECK(ty == cseg_table_col_type(b, j) &&
                  strcmp(cseg_table_col_name(a, j), cseg_table_col_name(b, j)) == 0,
              "%s: column %zu", what, j);
        if (ty != cseg_table_col_type(b, j))
            continue;
        if (ty == CSEG_COL_NUMBER)
            bad += n && memcmp(cseg_table_numbers(a, j) + row0, cseg_table_numbers(b, j),
                               n * sizeof(double)) != 0;
        else if (ty == CSEG_COL_DATETIME)
            bad += n && memcmp(cseg_table_times(a, j) + row0, cseg_table_times(b, j),
                               n * sizeof(int64_t)) != 0;
        else if (ty == CSEG_COL_TEXT) {
            const int32_t *ca = cseg_table_codes(a, j), *cb = cseg_table_codes(b, j);
            int32_t seen = 0;
            for (size_t i = 0; i < n; i++) {
                if ((ca[row0 + i] < 0) != (cb[i] < 0)) {
                    bad++;
                    continue;
                }
                if (cb[i] < 0)
                    continue;
                bad += cb[i] > seen; /* a level before its first appearance */
                seen += cb[i] == seen;
                bad += strcmp(cseg_table_level(a, j, ca[row0 + i]),
                              cseg_table_level(b, j, cb[i])) != 0;
            }
            bad += (size_t)seen != cseg_table_n_levels(b, j);
        }
        long la = 0, lb = 0;
        cseg_coltype wa = CSEG_COL_AUTO, wb = CSEG_COL_AUTO;
        const char *ya = cseg_table_text_because(a, j, &la, &wa);
        const char *yb = cseg_table_text_because(b, j, &lb, &wb);
        CHECK(n == 0 || ((ya == NULL) == (yb == NULL) &&
                         (!ya || (strcmp(ya, yb) == 0 && la == lb && wa == wb))),
              "%s: column %zu is text because of \"%s\", one process \"%s\"", what, j,
              yb ? yb : "-", ya ? ya : "-");
    }
    CHECK(bad == 0, "%s: %zu differences in the part of rank %d", what, bad, rank);
}

/* Read path both ways and compare (rank 0), or compare the failures
 * (every rank); with more than one process, `passes` the readings over the
 * file each rank made (0: rank 0 read it alone; -1: not checked). Returns
 * the code. */
static int check(const char *file, const cseg_table_read_params *p, int passes, const char *what)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    cseg_table *one = NULL, *many = NULL;
    cseg_diag d1, dm;
    cseg_diag_clear(&d1);
    cseg_diag_clear(&dm);
    int rc1 = cseg_table_read_csv(&one, path, p, &d1); /* each rank alone */
    cseg_mpi_stats st;
    int rcm = cseg_mpi_table_read_csv(MPI_COMM_WORLD, &many, path, p, &st, &dm);
    CHECK(rcm == rc1, "%s: code %d, one process %d (%s)", what, rcm, rc1, dm.msg);
    if (rc1 < 0)
        CHECK(strcmp(d1.msg, dm.msg) == 0 && d1.line == dm.line && d1.col == dm.col &&
                  strcmp(d1.file, dm.file) == 0,
              "%s: \"%s:%ld:%ld: %s\", one process \"%s:%ld:%ld: %s\"", what, dm.file, dm.line,
              dm.col, dm.msg, d1.file, d1.line, d1.col, d1.msg);
    else if (rank == 0 && many)
        same_tables(one, many, what);
    CHECK(rank == 0 || many == NULL, "%s: a table on rank %d", what, rank);
    CHECK(rcm < 0 || rank > 0 || many, "%s: no table on rank 0", what);
    CHECK(st.processes == size, "%s: stats say %d processes", what, st.processes);
    CHECK(passes < 0 || size == 1 || st.rounds == (uint64_t)passes, "%s: %llu passes, not %d", what,
          (unsigned long long)st.rounds, passes);
    cseg_table_free(many);
    /* Kept in span-aligned parts: the same code, the blocks
     * cseg_mpi_kmeans_split gives, the rows of one process. */
    cseg_table *part = NULL;
    size_t row0 = 99, r0, nr;
    cseg_diag_clear(&dm);
    rcm = cseg_mpi_table_read_csv_part(MPI_COMM_WORLD, &part, &row0, path, p, &st, &dm);
    CHECK(rcm == rc1 && (rc1 == 0 || strcmp(d1.msg, dm.msg) == 0), "%s: parts: code %d (%s)", what,
          rcm, dm.msg);
    if (rc1 == 0 && part) {
        cseg_mpi_kmeans_split(MPI_COMM_WORLD, cseg_table_n_rows(one), &r0, &nr);
        CHECK(row0 == r0 && cseg_table_n_rows(part) == nr,
              "%s: part of %zu rows from %zu, not %zu from %zu", what, cseg_table_n_rows(part),
              row0, nr, r0);
        CHECK(st.lines == cseg_table_n_rows(one), "%s: parts: %llu lines", what,
              (unsigned long long)st.lines);
        same_part(one, part, row0, what);
    }
    CHECK(rc1 < 0 || part, "%s: no part", what);
    cseg_table_free(part);
    cseg_table_free(one);
    return rcm;
}

static FILE *create(const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return f;
}

/* A table of n customers: id, numbers with gaps, a category, a date, text
 * with quotes; line ends given; `late` rows from the end a value that
 * makes column "score" text, `erange` rows from the end an out-of-range
 * number in it (0: none). Column "rare" has two values: 7 seven rows from
 * the end, "x" three rows from it. */
static void write_table(const char *file, size_t n, const char *eol, size_t late, size_t erange)
{
    FILE *f = create(file);
    static const char *const cat[] = {"north", "south", "east", "west", "\"far, away\"", ""};
    uint64_t s = 7;
    fprintf(f, "CustomerID,score,region,since,note,spend,rare%s", eol);
    for (size_t i = 0; i < n; i++) {
        uint64_t u = next(&s);
        fprintf(f, "C%06zu,", i);
        if (late && i == n - late)
            fprintf(f, "abc,");
        else if (erange && i == n - erange)
            fprintf(f, "1e999,");
        else if (u % 13 == 0)
            fprintf(f, ",");
        else
            fprintf(f, "%.6f,", unif(&s) * 100 - 20);
        fprintf(f, "%s,", cat[u % 6]);
        fprintf(f, "2011-%02d-%02d,", (int)((u >> 8) % 12) + 1, (int)((u >> 12) % 28) + 1);
        if (u % 101 == 0)
            fprintf(f, "\"said \"\"hi\"\"\",");
        else if (u % 211 == 0)
            fprintf(f, "\"two%slines\",", eol);
        else
            fprintf(f, "n%u,", (unsigned)(u >> 20) % 50);
        fprintf(f, "%.2f,", (double)(u % 100000) / 100);
        fprintf(f, "%s%s", i + 7 == n ? "7" : i + 3 == n ? "x" : "", eol);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    start(&argc, &argv);
    if (rank == 0) {
        snprintf(dir, sizeof dir, "%s/cseg_mpi_table.XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir))
            MPI_Abort(MPI_COMM_WORLD, 1);
        write_table("plain.csv", 40000, "\n", 0, 0);
        write_table("spans.csv", 150000, "\n", 0, 0);
        write_table("crlf.csv", 40000, "\r\n", 0, 0);
        write_table("cr.csv", 3000, "\r", 0, 0);
        write_table("late.csv", 40000, "\n", 50, 0);
        write_table("late_erange.csv", 40000, "\n", 30000, 20);
        write_table("erange_first.csv", 40000, "\n", 20, 30000);
        write_table("small.csv", 5, "\n", 0, 0);
        FILE *f = create("header.csv");
        fprintf(f, "CustomerID,a,b\n");
        fclose(f);
        /* a short row in the last eighth */
        f = create("short.csv");
        fprintf(f, "CustomerID,a,b\n");
        for (int i = 0; i < 40000; i++)
            fprintf(f, i == 36000 ? "C%d,%d\n" : "C%d,%d,7\n", i, i);
        fclose(f);
        /* plain.csv compressed */
        char src[512], dst[512];
        snprintf(src, sizeof src, "%s/plain.csv", dir);
        snprintf(dst, sizeof dst, "%s/plain.csv.gz", dir);
        FILE *in = fopen(src, "rb");
        gzFile gz = gzopen(dst, "wb");
        char buf[65536];
        size_t k;
        while (in && gz && (k = fread(buf, 1, sizeof buf, in)) > 0)
            gzwrite(gz, buf, (unsigned)k);
        if (in)
            fclose(in);
        if (gz)
            gzclose(gz);
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);

    cseg_table_read_params p;
    cseg_table_read_params_init(&p);
    cseg_colspec id = {"CustomerID", CSEG_COL_TEXT, 1};
    p.specs = &id;
    p.n_specs = 1;
    p.row_hash = 1;
    check("plain.csv", &p, 2, "plain");
    check("spans.csv", &p, 2, "three spans");
    check("crlf.csv", &p, 2, "CRLF");
    check("cr.csv", &p, 0, "lone CR");
    check("small.csv", &p, 1, "five rows");
    check("header.csv", &p, 1, "a header alone");
    check("plain.csv.gz", &p, 0, "gzip");
    check("late.csv", &p, 3, "a misfit 50 rows from the end");
    check("late_erange.csv", &p, 3, "out of range after a misfit");
    check("erange_first.csv", &p, 1, "out of range before a misfit");
    check("short.csv", &p, 1, "a short row");
    p.row_hash = 0;
    p.n_threads = 1;
    check("late.csv", &p, 3, "one thread, no hashes");
    cseg_colspec forced[2] = {{"CustomerID", CSEG_COL_TEXT, 1}, {"spend", CSEG_COL_DATETIME, 0}};
    p.specs = forced;
    p.n_specs = 2;
    check("plain.csv", &p, 1, "a forced type refused");
    cseg_colspec absent = {"nope", CSEG_COL_NUMBER, 0};
    p.specs = &absent;
    p.n_specs = 1;
    check("plain.csv", &p, 1, "a column not in the header");
    cseg_colspec skip = {"note", CSEG_COL_SKIP, 0};
    p.specs = &skip;
    check("crlf.csv", &p, 2, "a column skipped");

    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        static const char *const files[] = {"plain.csv",    "crlf.csv",        "cr.csv",
                                            "late.csv",     "late_erange.csv", "erange_first.csv",
                                            "small.csv",    "header.csv",      "short.csv",
                                            "plain.csv.gz", "spans.csv"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return finish();
}
