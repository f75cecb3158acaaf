/* The k-means segmentation of a customer table held in parts by the ranks
 * (issue 14): cseg_mpi_table_read_csv_part, cseg_mpi_segment_customers,
 * cseg_mpi_table_write_csv, each timed (the slowest rank), with every
 * rank's peak resident memory; or, with `one`, the same steps in one
 * process without MPI exchanges (cseg_table_read_csv,
 * cseg_segment_customers, cseg_segment_write_customers), to compare.
 *
 * usage: bench_mpi_segment FILE ID_COLUMN K OUT.csv [one]
 *   ID_COLUMN: - for none. K: the segments (0: chosen among 2..10 on a sample of 100,000, the
 *   default of custseg fit). n_init 1, seed 0.
 * Prints one line: mode, processes, rows, seconds for read, segment,
 * write and in all, the largest rank's peak memory in MiB, and the
 * inertia of the chosen fit (the same bits in every mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <custseg/custseg.h>
#include <custseg/mpi.h>

static double peak_mib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, np;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    if (argc < 5) {
        if (rank == 0)
            fprintf(stderr, "usage: bench_mpi_segment FILE ID_COLUMN K OUT.csv [one]\n");
        MPI_Finalize();
        return 2;
    }
    int one = argc > 5 && strcmp(argv[5], "one") == 0;
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    const char *idc = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
    cseg_colspec id = {idc, CSEG_COL_TEXT, 1};
    rp.specs = idc ? &id : NULL;
    rp.n_specs = idc != NULL;
    cseg_segment_params p;
    cseg_segment_params_init(&p);
    p.k = (size_t)atol(argv[3]);
    p.n_init = 1;
    cseg_table *t = NULL;
    cseg_segmentation *s = NULL;
    cseg_diag d;
    size_t row0 = 0;
    int rc;
    double t0 = MPI_Wtime();
    if (one)
        rc = rank == 0 ? cseg_table_read_csv(&t, argv[1], &rp, &d) : 0;
    else
        rc = cseg_mpi_table_read_csv_part(MPI_COMM_WORLD, &t, &row0, argv[1], &rp, NULL, &d);
    double t1 = MPI_Wtime();
    if (rc == 0) {
        if (one)
            rc = rank == 0 ? cseg_segment_customers(&s, t, idc, &p, &d) : 0;
        else
            rc = cseg_mpi_segment_customers(MPI_COMM_WORLD, &s, t, idc, &p, &d);
    }
    double t2 = MPI_Wtime();
    if (rc == 0) {
        if (one)
            rc = rank == 0 ? cseg_segment_write_customers(s, argv[4], &d) : 0;
        else
            rc = cseg_mpi_table_write_csv(MPI_COMM_WORLD, cseg_segment_table(s), argv[4], &d);
    }
    double t3 = MPI_Wtime();
    double span[4] = {t1 - t0, t2 - t1, t3 - t2, t3 - t0}, slow[4], mem = peak_mib(), top;
    MPI_Reduce(span, slow, 4, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&mem, &top, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        if (rc < 0)
            fprintf(stderr, "bench_mpi_segment: %s\n", d.msg);
        else
            printf("%s %d %zu read %.3f segment %.3f write %.3f all %.3f peak_mib %.0f inertia "
                   "%.17g\n",
                   one ? "one" : "parts", one ? 1 : np, cseg_segment_n_all(s), slow[0], slow[1],
                   slow[2], slow[3], top,
                   cseg_segment_candidates(s)[cseg_segment_chosen(s)].inertia);
    }
    cseg_segment_free(s);
    cseg_table_free(t);
    MPI_Finalize();
    return rc < 0;
}
