/* cseg_mpi_segment_customers under mpirun -n 1..4 (tests/mpi/mpi_lib.sh):
 * every rank builds the same customers (three number columns, one skewed,
 * some values missing; a revenue column; a text column whose last level
 * first appears near the end; an id), takes its span-aligned part
 * (cseg_mpi_kmeans_split: with 4 ranks the last holds none), and segments
 * the parts; the result must be what cseg_segment_customers gives on all
 * the customers in one process, bit for bit: the k table (inertia,
 * silhouette, Davies-Bouldin, Calinski-Harabasz, iterations), the chosen k
 * and its rule, this rank's labels and distances, the profiles and names,
 * and the saved model (the preprocessing, the centres in revenue order, the
 * drift reference). Three ways: a fixed k; k chosen on a sample of the
 * customers (the final fit on all of them spread); k chosen on all of them
 * (every candidate's fit and indices spread). Then what is not spread is
 * refused alike on every rank. Plain C; the job fails when any rank does. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <custseg/custseg.h>
#include <custseg/mpi.h>

#include "mpi_util.h"

static int same(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Customers [r0, r1) of n: row i depends on i alone. Text codes are the
 * part's own, in order of first appearance. odd: the last 1,000 rows take
 * the ids of the first 1,000 (ids on two ranks), and a text column "kind"
 * names each customer's group (a segmentation that finds the groups splits
 * on it); odd 2: in the second half of the rows the kinds name other
 * groups (each half alone is split on it, all the rows are not); odd 6:
 * group 0's kind missing in the first two spans, "a" after (missing is a
 * value of its own: no split on it); odd 3 and 4: below. */
static int odd;

static cseg_table *make(size_t n, size_t r0, size_t r1)
{
    size_t m = r1 - r0;
    double *col[4];
    for (int c = 0; c < 4; c++)
        col[c] = malloc((m ? m : 1) * sizeof *col[c]);
    int32_t *code = malloc((m ? m : 1) * sizeof *code), *idc = malloc((m ? m : 1) * sizeof *idc);
    char **ids = malloc((m ? m : 1) * sizeof *ids);
    static const char *const tl[5] = {"north", "south", "east", "west", "late"};
    const char *lv[5], *kl[4];
    static const char *const kinds[4] = {"a", "b", "c", "d"};
    int32_t *kc = malloc((m ? m : 1) * sizeof *kc);
    size_t nlv = 0, nkl = 0;
    for (size_t i = r0; i < r1; i++) {
        uint64_t s = 0x5eed0000ULL + i;
        uint64_t u = next(&s);
        double u1 = unif(&s), u2 = unif(&s), u3 = unif(&s);
        /* four groups of customers (odd 3: two in the even spans, two in
         * the odd ones, so a rank may hold no customer of a cluster) */
        size_t q = i - r0, g = odd == 3 ? ((i / 65536) % 2) * 2 + u % 2 : u % 4;
        col[0][q] = u % 23 == 0 && !odd ? NAN : (odd ? 100.0 : 10.0) * (double)g + 4 * u1;
        col[1][q] = exp(3 * u2 + (double)(g % 2));
        col[2][q] = 5.0 * (double)(g / 2) + 3 * u3;
        /* Revenue ranks the groups one way in the first half of the rows
         * and the other way in the second: a part alone orders them
         * otherwise than all the customers do. */
        col[3][q] = u % 31 == 0
                        ? NAN
                        : 20 + u1 * (2 * i < n ? 100.0 * (double)(4 - g) : 50.0 * (double)(g + 1));
        int32_t cd = level_code(lv, &nlv, tl[i + 2 == n ? 4 : (int)((u >> 8) % 4)]);
        code[q] = u % 37 == 0 ? -1 : cd;
        kc[q] = odd == 6 && g == 0 && i < 131072
                    ? -1 /* missing for group 0 in the first two spans, "a" after */
                    : level_code(kl, &nkl, kinds[odd == 2 && 2 * i >= n ? (g + 1) % 4 : g]);
        /* A repeated id is the same level, as a reading interns it. */
        size_t was = odd && i + 1000 >= n ? i + 1000 - n : i;
        ids[q] = malloc(24);
        snprintf(ids[q], 24, "C%zu", was);
        idc[q] = was != i && was >= r0 ? idc[was - r0] : (int32_t)q;
    }
    cseg_table *t = NULL;
    int rc = cseg_table_create(&t, m);
    if (rc == 0)
        rc = cseg_table_add_text(t, "id", (const char *const *)ids, m, idc);
    /* odd 4: no revenue column (the segments go by size) */
    static const char *const nm[4] = {"visits", "basket", "tenure", "revenue"};
    for (int c = 0; c < 4 && rc == 0; c++)
        rc = cseg_table_add_numbers(t, c == 3 && odd == 4 ? "value" : nm[c], col[c]);
    if (rc == 0)
        rc = cseg_table_add_text(t, "region", lv, nlv, code);
    if (rc == 0 && odd)
        rc = cseg_table_add_text(t, "kind", kl, nkl, kc);
    for (int c = 0; c < 4; c++)
        free(col[c]);
    for (size_t q = 0; q < m; q++)
        free(ids[q]);
    free(ids), free(code), free(idc), free(kc);
    CHECK(rc == 0, "table: %d", rc);
    return t;
}

static void compare_profiles(const cseg_profile *a, const cseg_profile *b, const char *what)
{
    size_t k = cseg_profile_k(a), nf = cseg_profile_n_features(a);
    CHECK(k == cseg_profile_k(b) && nf == cseg_profile_n_features(b), "%s: profile k or features",
          what);
    if (k != cseg_profile_k(b) || nf != cseg_profile_n_features(b))
        return;
    for (size_t s = 0; s < k; s++) {
        CHECK(strcmp(cseg_profile_name(a, s), cseg_profile_name(b, s)) == 0,
              "%s: name %zu: %s / %s", what, s, cseg_profile_name(a, s), cseg_profile_name(b, s));
        CHECK(cseg_profile_size(a, s) == cseg_profile_size(b, s) &&
                  same(cseg_profile_share(a, s), cseg_profile_share(b, s)) &&
                  same(cseg_profile_revenue_share(a, s), cseg_profile_revenue_share(b, s)),
              "%s: size or shares of %zu", what, s);
        for (size_t j = 0; j < nf; j++)
            CHECK(same(cseg_profile_means(a, s)[j], cseg_profile_means(b, s)[j]) &&
                      same(cseg_profile_medians(a, s)[j], cseg_profile_medians(b, s)[j]),
                  "%s: mean or median %zu %zu", what, s, j);
    }
}

/* Where files pa and pb first differ (a byte offset), or -1: the same. */
static long differ_at(const char *pa, const char *pb)
{
    FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
    int ca = 0, cb = 0;
    long at = 0;
    while (fa && fb && (ca = getc(fa)) == (cb = getc(fb)) && ca != EOF)
        at++;
    int same = fa && fb && ca == cb;
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same ? -1 : at;
}

/* Files pa and pb the same bytes (then removed). */
static void same_files(const char *pa, const char *pb, const char *what)
{
    long at = differ_at(pa, pb);
    CHECK(at < 0, "%s: %s and %s differ at byte %ld", what, pa, pb, at);
    unlink(pa);
    unlink(pb);
}

/* The model of one process (rank 0's, a) and every rank's (b) saved: the
 * same file. */
static void compare_models(const cseg_model *a, const cseg_model *b, const char *what)
{
    char pa[64], pb[64];
    int pid = (int)getpid();
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    snprintf(pa, sizeof pa, "/tmp/cseg_mpi_seg_%d_one.json", pid);
    snprintf(pb, sizeof pb, "/tmp/cseg_mpi_seg_%d_%d_many.json", pid, rank);
    cseg_diag d;
    int ra = rank == 0 ? cseg_model_save(a, pa, &d) : 0;
    MPI_Bcast(&ra, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int rb = cseg_model_save(b, pb, &d);
    CHECK(ra == 0 && rb == 0, "%s: save: %d %d %s", what, ra, rb, d.msg);
    char copy[64]; /* every rank compares with one process's file, then it goes */
    snprintf(copy, sizeof copy, "/tmp/cseg_mpi_seg_%d_%d_one.json", pid, rank);
    FILE *in = fopen(pa, "rb"), *out = fopen(copy, "wb");
    int ch;
    while (in && out && (ch = getc(in)) != EOF)
        putc(ch, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        unlink(pa);
    same_files(copy, pb, what);
}

/* customers.csv of one process and the ranks' parts written by rank 0:
 * the same bytes; a folder that is not there: the same failure on every
 * rank, no file. */
static void compare_customers(const cseg_segmentation *one, const cseg_segmentation *many,
                              const char *what)
{
    char pa[64], pb[64];
    int pid = (int)getpid();
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    snprintf(pa, sizeof pa, "/tmp/cseg_mpi_seg_%d_one.csv", pid);
    snprintf(pb, sizeof pb, "/tmp/cseg_mpi_seg_%d_many.csv", pid);
    cseg_diag d;
    int ra = rank == 0 ? cseg_segment_write_customers(one, pa, &d) : 0;
    int rb = cseg_mpi_table_write_csv(MPI_COMM_WORLD, cseg_segment_table(many), pb, &d);
    CHECK(ra == 0 && rb == 0, "%s: customers.csv: %d %d %s", what, ra, rb, d.msg);
    if (rank == 0)
        same_files(pa, pb, what);
    char pc[64];
    snprintf(pc, sizeof pc, "/tmp/cseg_mpi_seg_%d_%d_part.csv", pid, rank);
    CHECK(cseg_segment_write_customers(many, pc, &d) == CSEG_EINVAL && access(pc, F_OK) != 0,
          "%s: one rank wrote a part as customers.csv", what);
    rb = cseg_mpi_table_write_csv(MPI_COMM_WORLD, cseg_segment_table(many),
                                  "/nonexistent-dir/customers.csv", &d);
    CHECK(rb == CSEG_EIO && strstr(d.file, "nonexistent") && access("/nonexistent-dir", F_OK) != 0,
          "%s: a folder that is not there: %d %s: %s", what, rb, d.file, d.msg);
}

/* The output folders of one process (cseg_segment_write_all) and of the
 * ranks (cseg_mpi_segment_write_all): the same four files, byte for byte
 * (the report's projection, centres, samples and quartiles included). A
 * folder that cannot be made: the same failure on every rank. */
static void compare_outputs(const cseg_segmentation *one, const cseg_segmentation *many,
                            const char *what)
{
    static const char *const files[4] = {"customers.csv", "segments.json", "model.json",
                                         "report.html"};
    char da[64], db[64];
    int pid = (int)getpid();
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    snprintf(da, sizeof da, "/tmp/cseg_mpi_seg_%d_one", pid);
    snprintf(db, sizeof db, "/tmp/cseg_mpi_seg_%d_many", pid);
    cseg_diag d;
    int ra = rank == 0 ? cseg_segment_write_all(one, da, NULL, NULL, &d) : 0;
    MPI_Bcast(&ra, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int rb = cseg_mpi_segment_write_all(MPI_COMM_WORLD, many, db, NULL, NULL, &d);
    CHECK(ra == 0 && rb == 0, "%s: output folders: %d %d %s", what, ra, rb, d.msg);
    /* the report alone (cseg_mpi_segment_write_report): the same page */
    char pr[96];
    snprintf(pr, sizeof pr, "%s_report.html", db);
    rb = cseg_mpi_segment_write_report(MPI_COMM_WORLD, many, pr, NULL, NULL, &d);
    CHECK(rb == 0, "%s: the report alone: %d %s", what, rb, d.msg);
    if (rank == 0 && rb == 0) {
        char pa[96];
        snprintf(pa, sizeof pa, "%s/report.html", da);
        CHECK(differ_at(pa, pr) < 0, "%s: the report alone differs from one process's", what);
        unlink(pr);
    }
    for (int f = 0; rank == 0 && f < 4; f++) {
        char pa[96], pb[96];
        snprintf(pa, sizeof pa, "%s/%s", da, files[f]);
        snprintf(pb, sizeof pb, "%s/%s", db, files[f]);
        same_files(pa, pb, what);
    }
    if (rank == 0)
        rmdir(da), rmdir(db);
    rb = cseg_mpi_segment_write_all(MPI_COMM_WORLD, many, "/dev/null/out", NULL, NULL, &d);
    CHECK(rb < 0 && strstr(d.file, "/dev/null"), "%s: a folder that cannot be made: %d %s %s", what,
          rb, d.file, d.msg);
    MPI_Barrier(MPI_COMM_WORLD);
}

/* warnings: how many the one-process result must give (its checks are
 * then compared through segments.json, where they are written). */
/* One process's segmentation of all the customers (made by rank 0 alone:
 * each rank making it too cost a quarter of an hour under the sanitizers),
 * what every rank needs of it sent from rank 0, against the ranks'. */
static int outputs; /* check() compares the output folders too */

static void check(size_t n, const cseg_segment_params *p, size_t warnings, const char *what)
{
    cseg_table *all = rank == 0 ? make(n, 0, n) : NULL;
    cseg_segmentation *one = NULL, *many = NULL;
    cseg_diag d;
    int rc = rank == 0 ? cseg_segment_customers(&one, all, "id", p, &d) : 0;
    CHECK(rc == 0, "%s: one process: %d %s", what, rc, d.msg);
    int have = rank > 0 || one != NULL;
    MPI_Bcast(&have, 1, MPI_INT, 0, MPI_COMM_WORLD);
    size_t r0, nr;
    cseg_mpi_kmeans_split(MPI_COMM_WORLD, n, &r0, &nr);
    cseg_table *part = make(n, r0, r0 + nr);
    rc = cseg_mpi_segment_customers(MPI_COMM_WORLD, &many, part, "id", p, &d);
    CHECK(rc == 0, "%s: cseg_mpi_segment_customers: %d %s", what, rc, d.msg);
    int ok = many != NULL, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (have && all_ok) {
        /* The k table, the choice and segments.json, from rank 0. */
        uint64_t head[3] = {0, 0, 0};
        if (rank == 0) {
            head[0] = cseg_segment_k(one);
            head[1] = cseg_segment_n_candidates(one);
            head[2] = cseg_segment_chosen(one);
        }
        MPI_Bcast(head, 3, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        size_t nc = (size_t)head[1];
        cseg_candidate *ca = malloc((nc ? nc : 1) * sizeof *ca);
        if (rank == 0)
            memcpy(ca, cseg_segment_candidates(one), nc * sizeof *ca);
        MPI_Bcast(ca, (int)(nc * sizeof *ca), MPI_BYTE, 0, MPI_COMM_WORLD);
        char rule[256] = "";
        if (rank == 0)
            snprintf(rule, sizeof rule, "%s", cseg_segment_rule(one));
        MPI_Bcast(rule, sizeof rule, MPI_CHAR, 0, MPI_COMM_WORLD);
        uint64_t jl = rank == 0 ? strlen(cseg_segment_json(one)) + 1 : 0;
        MPI_Bcast(&jl, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        char *ja = malloc((size_t)jl);
        if (rank == 0)
            memcpy(ja, cseg_segment_json(one), (size_t)jl);
        MPI_Bcast(ja, (int)jl, MPI_CHAR, 0, MPI_COMM_WORLD);
        CHECK(cseg_segment_n(many) == nr && cseg_segment_n_all(many) == n, "%s: n %zu / %zu", what,
              cseg_segment_n(many), nr);
        CHECK(head[0] == cseg_segment_k(many), "%s: k %zu / %zu", what, (size_t)head[0],
              cseg_segment_k(many));
        CHECK(nc == cseg_segment_n_candidates(many) && head[2] == cseg_segment_chosen(many) &&
                  strcmp(rule, cseg_segment_rule(many)) == 0,
              "%s: candidates or choice", what);
        for (size_t t = 0; t < nc && t < cseg_segment_n_candidates(many); t++) {
            const cseg_candidate *a = ca + t, *b = cseg_segment_candidates(many) + t;
            CHECK(a->k == b->k && a->n_clusters == b->n_clusters && a->n_iter == b->n_iter &&
                      a->converged == b->converged && a->elbow == b->elbow,
                  "%s: candidate %zu", what, t);
            CHECK(same(a->inertia, b->inertia) && same(a->silhouette, b->silhouette) &&
                      same(a->davies_bouldin, b->davies_bouldin) &&
                      same(a->calinski_harabasz, b->calinski_harabasz),
                  "%s: candidate %zu's indices: %.17g %.17g %.17g %.17g / %.17g %.17g %.17g %.17g",
                  what, t, a->inertia, a->silhouette, a->davies_bouldin, a->calinski_harabasz,
                  b->inertia, b->silhouette, b->davies_bouldin, b->calinski_harabasz);
        }
        /* This rank's customers: their labels and distances from rank 0. */
        uint64_t mine[2] = {r0, nr}, *where = rank == 0 ? malloc(2 * (size_t)size * 8) : NULL;
        MPI_Gather(mine, 2, MPI_UINT64_T, where, 2, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        int32_t *la = malloc((nr ? nr : 1) * sizeof *la);
        double *da = malloc((nr ? nr : 1) * sizeof *da);
        if (rank == 0) {
            memcpy(la, cseg_segment_labels(one) + r0, nr * sizeof *la);
            memcpy(da, cseg_segment_distances(one) + r0, nr * sizeof *da);
            for (int q = 1; q < size; q++) {
                MPI_Send(cseg_segment_labels(one) + where[2 * q], (int)where[2 * q + 1],
                         MPI_INT32_T, q, 1, MPI_COMM_WORLD);
                MPI_Send(cseg_segment_distances(one) + where[2 * q], (int)where[2 * q + 1],
                         MPI_DOUBLE, q, 2, MPI_COMM_WORLD);
            }
        } else {
            MPI_Recv(la, (int)nr, MPI_INT32_T, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Recv(da, (int)nr, MPI_DOUBLE, 0, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        const int32_t *lb = cseg_segment_labels(many);
        const double *db = cseg_segment_distances(many);
        size_t bad = 0;
        for (size_t i = 0; i < nr; i++)
            bad += la[i] != lb[i] || !same(da[i], db[i]);
        CHECK(bad == 0, "%s: %zu of this rank's %zu customers differ", what, bad, nr);
        if (rank == 0) {
            compare_profiles(cseg_segment_profile(one), cseg_segment_profile(many), what);
            CHECK(cseg_segment_n_warnings(one) == warnings, "%s: %zu warnings, expected %zu", what,
                  cseg_segment_n_warnings(one), warnings);
        }
        compare_models(one ? cseg_segment_model(one) : NULL, cseg_segment_model(many), what);
        compare_customers(one, many, what);
        if (outputs)
            compare_outputs(one, many, what);
        const char *jb = cseg_segment_json(many);
        size_t at = 0;
        while (jb && ja[at] && ja[at] == jb[at])
            at++;
        CHECK(jb && ja[at] == jb[at], "%s: segments.json differs at %zu: ...%.60s / ...%.60s", what,
              at, ja + at, jb ? jb + at : "");
        free(ca), free(ja), free(where), free(la), free(da);
    }
    cseg_segment_free(one);
    cseg_segment_free(many);
    cseg_table_free(all);
    cseg_table_free(part);
}

/* A transaction log of n customers (rank 0 writes it; its path on every
 * rank): one to three invoices each over a year, numeric ids and some that
 * are not (they sort after the numbers), returns, a row without a
 * customer, an exact duplicate, a country (sometimes missing). */
static void write_log(size_t n, char *path, size_t room)
{
    int pid = (int)getpid();
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    snprintf(path, room, "/tmp/cseg_mpi_seg_%d_log.csv", pid);
    if (rank != 0)
        return;
    static const char *const country[6] = {"France", "Spain", "Germany", "", "Norway", "Italy"};
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "log: %s", path);
    if (!f)
        return;
    fprintf(f, "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n");
    for (size_t i = 0; i < n; i++) {
        uint64_t st = 0x10c0000ULL + i, u = next(&st);
        char id[24];
        if (u % 97 == 0)
            snprintf(id, sizeof id, "X%zu", (size_t)(u % 50000)); /* a text id */
        else
            snprintf(id, sizeof id, "%zu", 10000 + (size_t)(next(&st) % 900000));
        int inv = 1 + (int)(u % 3), g = (int)((u >> 8) % 4);
        for (int v = 0; v < inv; v++) {
            int day = 1 + (int)(unif(&st) * (g == 0 ? 60 : 360)), mon = 1 + (day - 1) / 30,
                dd = 1 + (day - 1) % 28;
            double price = 1 + unif(&st) * (g == 3 ? 90 : 15);
            int qty = 1 + (int)(unif(&st) * 12), ret = unif(&st) < 0.03;
            fprintf(f, "%s%zu%d,P%d,%d,2011-%02d-%02d 10:%02d,%.2f,%s,%s\n", ret ? "C" : "", i, v,
                    (int)(u % 40), ret ? -qty : qty, mon, dd, v, price, id, country[(u >> 20) % 6]);
        }
        if (i == 10) /* an exact duplicate and a row without a customer */
            fprintf(f, "%zu0,P1,1,2011-01-01 10:00,1.00,,France\n", i);
    }
    fclose(f);
}

/* run's pipeline on parts: the log's customers kept in blocks
 * (cseg_mpi_rfm_compute_csv_part) are one process's customer table, row
 * for row; segmented (cseg_mpi_segment_rfm) and written
 * (cseg_mpi_segment_write_all), the files of one process. */
static void check_log(size_t n, const cseg_segment_params *p, const char *what)
{
    char path[64];
    write_log(n, path, sizeof path);
    MPI_Barrier(MPI_COMM_WORLD);
    cseg_txn_roles roles;
    memset(&roles, 0, sizeof roles);
    roles.n_attributes = 1;
    snprintf(roles.attributes[0], sizeof roles.attributes[0], "Country");
    cseg_txn_roles roles1 = roles;
    cseg_table *all = NULL, *part = NULL;
    cseg_quality q1, q;
    cseg_diag d;
    int rc = rank == 0 ? cseg_rfm_compute_csv(&all, path, &roles1, NULL, NULL, &q1, &d) : 0;
    CHECK(rc == 0, "%s: one process: %d %s", what, rc, d.msg);
    size_t row0 = 0;
    rc = cseg_mpi_rfm_compute_csv_part(MPI_COMM_WORLD, &part, &row0, path, &roles, NULL, NULL, &q,
                                       NULL, &d);
    CHECK(rc == 0, "%s: cseg_mpi_rfm_compute_csv_part: %d %s", what, rc, d.msg);
    size_t r0, nr;
    uint64_t n_all = rank == 0 && all ? cseg_table_n_rows(all) : 0;
    MPI_Bcast(&n_all, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    cseg_mpi_kmeans_split(MPI_COMM_WORLD, (size_t)n_all, &r0, &nr);
    CHECK(rc != 0 || (row0 == r0 && cseg_table_n_rows(part) == nr),
          "%s: block %zu+%zu, not %zu+%zu", what, row0,
          (size_t)(part ? cseg_table_n_rows(part) : 0), r0, nr);
    cseg_quality qa = q1;
    MPI_Bcast(&qa, (int)sizeof qa, MPI_BYTE, 0, MPI_COMM_WORLD);
    CHECK(rc != 0 || (q.n_rows == qa.n_rows && q.n_customers == qa.n_customers &&
                      q.n_duplicates == qa.n_duplicates && q.n_no_customer == qa.n_no_customer &&
                      q.n_return_rows == qa.n_return_rows && q.as_of_day == qa.as_of_day),
          "%s: cleaning counts differ", what);
    int ok = rc == 0, every = 0;
    MPI_Allreduce(&ok, &every, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (every) {
        char pa[96], pb[96];
        snprintf(pa, sizeof pa, "%s.one.csv", path);
        snprintf(pb, sizeof pb, "%s.many.csv", path);
        int ra = rank == 0 ? cseg_table_write_csv(all, pa, &d) : 0;
        int rb = cseg_mpi_table_write_csv(MPI_COMM_WORLD, part, pb, &d);
        CHECK(ra == 0 && rb == 0, "%s: customer tables: %d %d %s", what, ra, rb, d.msg);
        if (rank == 0)
            same_files(pa, pb, what);
        cseg_segmentation *one = NULL, *many = NULL;
        ra = rank == 0 ? cseg_segment_rfm(&one, &all, &q1, &roles1, NULL, NULL, p, &d) : 0;
        CHECK(ra == 0, "%s: one process's segmentation: %d %s", what, ra, d.msg);
        rb = cseg_mpi_segment_rfm(MPI_COMM_WORLD, &many, part, &q, &roles, NULL, NULL, p, &d);
        CHECK(rb == 0, "%s: cseg_mpi_segment_rfm: %d %s", what, rb, d.msg);
        ok = (rank > 0 || one) && many;
        MPI_Allreduce(&ok, &every, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
        if (every)
            compare_outputs(one, many, what);
        cseg_segment_free(one);
        cseg_segment_free(many);
    }
    cseg_table_free(all);
    cseg_table_free(part);
    if (rank == 0)
        unlink(path);
}

/* Refused alike on every rank, with the same message. */
static void refused(const cseg_segment_params *p, const char *want, const char *what)
{
    size_t r0, nr, n = 2000;
    cseg_mpi_kmeans_split(MPI_COMM_WORLD, n, &r0, &nr);
    cseg_table *part = make(n, r0, r0 + nr);
    cseg_segmentation *s = NULL;
    cseg_diag d;
    int rc = cseg_mpi_segment_customers(MPI_COMM_WORLD, &s, part, "id", p, &d);
    CHECK(rc == CSEG_EINVAL && !s && strstr(d.msg, want), "%s: %d %s", what, rc, d.msg);
    cseg_segment_free(s);
    cseg_table_free(part);
}

/* Parts whose columns differ (the last rank's "visits" is text): refused
 * on every rank by the segmentation and by the writer, before any step
 * that would take the ranks apart. */
static void columns_differ(void)
{
    if (size < 2)
        return;
    size_t r0, nr, n = 2000;
    cseg_mpi_kmeans_split(MPI_COMM_WORLD, n, &r0, &nr);
    cseg_table *part = NULL;
    if (rank == size - 1) {
        static const char *const lv[1] = {"many"};
        int32_t code[1] = {0};
        double x[1] = {1};
        int rc = cseg_table_create(&part, 1);
        const char *const id[1] = {"X"};
        if (rc == 0)
            rc = cseg_table_add_text(part, "id", id, 1, code);
        if (rc == 0)
            rc = cseg_table_add_text(part, "visits", lv, 1, code);
        static const char *const nm[3] = {"basket", "tenure", "revenue"};
        for (int c = 0; c < 3 && rc == 0; c++)
            rc = cseg_table_add_numbers(part, nm[c], x);
        if (rc == 0)
            rc = cseg_table_add_text(part, "region", lv, 1, code);
        CHECK(rc == 0, "columns differ: table %d", rc);
    } else {
        part = make(n, r0, r0 + nr);
    }
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    cseg_segmentation *s = NULL;
    cseg_diag d;
    int rc = cseg_mpi_segment_customers(MPI_COMM_WORLD, &s, part, "id", &p, &d);
    CHECK(rc == CSEG_EINVAL && !s && strstr(d.msg, "differ in their columns"),
          "columns differ: segmentation %d %s", rc, d.msg);
    char path[64];
    int pid = (int)getpid();
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    snprintf(path, sizeof path, "/tmp/cseg_mpi_seg_%d_differ.csv", pid);
    rc = cseg_mpi_table_write_csv(MPI_COMM_WORLD, part, path, &d);
    CHECK(rc == CSEG_EINVAL && access(path, F_OK) != 0, "columns differ: writer %d %s", rc, d.msg);
    cseg_segment_free(s);
    cseg_table_free(part);
}

/* The parameters most checks start from: k = 4, two restarts, the
 * silhouette on 2,000 customers. */
static void base(cseg_segment_params *p)
{
    cseg_segment_params_init(p);
    p->n_init = 2;
    p->silhouette_sample = 2000;
    p->k = 4;
}

int main(int argc, char **argv)
{
    start(&argc, &argv);
    cseg_segment_params p;
    base(&p);
    check(140000, &p, 0, "k = 4, 140,000 customers");
    p.k = 0;
    p.k_max = 5;
    p.k_sample = 5000;
    check(140000, &p, 0, "k in 2..5 chosen on 5,000 of 140,000");
    p.k_max = 3;
    p.k_sample = 0;
    p.n_init = 1;
    check(70000, &p, 0, "k in 2..3 chosen on all 70,000");
    odd = 1; /* duplicate ids across ranks; segments that are the kinds */
    static const char *const by_group[] = {"visits", "tenure"};
    p.k = 4;
    p.n_init = 4;
    p.features = by_group;
    p.n_features = 2;
    check(140000, &p, 2, "duplicate ids, a categorical split");
    odd = 2;
    check(140000, &p, 1, "duplicate ids, categories that split each half only");
    odd = 6; /* a segment's kind missing on the first ranks, "a" on the last */
    check(140000, &p, 1, "duplicate ids, a kind missing in part of a segment");
    base(&p);
    odd = 3;
    outputs = 1; /* the output folders too, once (under the sanitizers a report of 200,000
                    customers takes seconds a rank) */
    check(140000, &p, 1, "clusters that some ranks hold no customer of");
    outputs = 0;
    odd = 4;
    check(140000, &p, 1, "no revenue: segments by size");
    odd = 0;
    p.k = 2;
    outputs = 1;
    check(6, &p, 0, "six customers, fewer than the model's dimensions");
    outputs = 0;
    cseg_segment_params_init(&p);
    p.algo = CSEG_ALGO_GMM;
    refused(&p, "not spread", "mixtures");
    base(&p);
    p.pca = 3;
    check(70000, &p, 0, "PCA to 3 components");
    p.pca = 0.9;
    p.k = 0;
    p.k_max = 4;
    p.k_sample = 5000;
    check(70000, &p, 0, "PCA to 90% of the variance, k chosen on a sample");
    /* An audited text column: its counts added over the ranks. A number
     * column of more than 50 values: refused alike. */
    base(&p);
    static const char *const audited[] = {"region"}, *const too_many[] = {"visits"};
    p.audit = audited;
    p.n_audit = 1;
    check(70000, &p, 0, "region audited");
    p.audit = too_many;
    {
        size_t r0, nr, n = 70000;
        cseg_mpi_kmeans_split(MPI_COMM_WORLD, n, &r0, &nr);
        cseg_table *part = make(n, r0, r0 + nr);
        cseg_segmentation *s = NULL;
        cseg_diag d;
        int rc = cseg_mpi_segment_customers(MPI_COMM_WORLD, &s, part, "id", &p, &d);
        CHECK(rc == CSEG_EPARAM && !s &&
                  strcmp(d.msg, "audit: \"visits\" has more than 50 distinct numbers: too many "
                                "to audit (band them first, e.g. into age bands)") == 0,
              "a number column of more than 50 values audited: %d %s", rc, d.msg);
        cseg_segment_free(s);
        cseg_table_free(part);
    }
    columns_differ();
    cseg_segment_params_init(&p);
    p.n_init = 2;
    p.silhouette_sample = 2000;
    check_log(70000, &p, "a log of 70,000 customers, k chosen");
    return finish();
}
