/* cseg_mpi_kmeans_fit's strong scaling (issue 14): Lloyd iterations on N x D
 * generated rows, split between the ranks of MPI_COMM_WORLD, with the time
 * per iteration and the bytes each rank sent and received per iteration,
 * counted at the MPI calls themselves (PMPI wrappers below, the standard
 * profiling interface: every MPI call of the library passes through them).
 *
 * usage: bench_mpi_kmeans N D K ITERS [one]
 *   one: cseg_kmeans_fit on all rows in one process (no MPI exchange).
 * Rows are blobs made row by row from the row's number, so a rank makes only
 * its own; the fit starts from the first K rows (every rank makes them) with
 * tol 0, so it runs ITERS iterations unless no label changes. Prints one
 * line: mode, processes, threads a process, seconds (slowest rank), ms per
 * iteration, iterations, bytes sent and received per iteration and rank
 * (largest rank), and the inertia (equal for every mode: same bits). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <custseg/custseg.h>
#include <custseg/mpi.h>

static uint64_t sent, received; /* bytes, this rank */

static size_t bytes(MPI_Datatype t, int count)
{
    int sz = 0;
    MPI_Type_size(t, &sz);
    return (size_t)sz * (size_t)(count > 0 ? count : 0);
}

int MPI_Allgatherv(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf,
                   const int rcounts[], const int displs[], MPI_Datatype rtype, MPI_Comm comm)
{
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    for (int r = 0; r < size; r++)
        if (r != rank)
            received += bytes(rtype, rcounts[r]);
    sent += bytes(stype, scount) * (size_t)(size - 1);
    return PMPI_Allgatherv(sbuf, scount, stype, rbuf, rcounts, displs, rtype, comm);
}

int MPI_Allgather(const void *sbuf, int scount, MPI_Datatype stype, void *rbuf, int rcount,
                  MPI_Datatype rtype, MPI_Comm comm)
{
    int size;
    MPI_Comm_size(comm, &size);
    sent += bytes(stype, scount) * (size_t)(size - 1);
    received += bytes(rtype, rcount) * (size_t)(size - 1);
    return PMPI_Allgather(sbuf, scount, stype, rbuf, rcount, rtype, comm);
}

int MPI_Bcast(void *buf, int count, MPI_Datatype t, int root, MPI_Comm comm)
{
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    if (rank == root)
        sent += bytes(t, count) * (size_t)(size - 1);
    else
        received += bytes(t, count);
    return PMPI_Bcast(buf, count, t, root, comm);
}

int MPI_Allreduce(const void *sbuf, void *rbuf, int count, MPI_Datatype t, MPI_Op op,
                  MPI_Comm comm)
{
    int size;
    MPI_Comm_size(comm, &size);
    if (size > 1) { /* what an allgather of the values would move; a tree moves less */
        sent += bytes(t, count) * (size_t)(size - 1);
        received += bytes(t, count) * (size_t)(size - 1);
    }
    return PMPI_Allreduce(sbuf, rbuf, count, t, op, comm);
}

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Row i: one of 8 blob centres (cube corners, spread 1.5) plus noise. */
static void make_row(size_t i, size_t d, double *x)
{
    uint64_t s = mix(i * 0x2545f4914f6cdd1dULL + 1);
    unsigned c = (unsigned)(s & 7);
    for (size_t j = 0; j < d; j++) {
        s = mix(s);
        double u = (double)(s >> 11) / 9007199254740992.0;
        x[j] = ((c >> (j % 3)) & 1 ? 1.5 : -1.5) + 2 * (u - 0.5);
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s N D K ITERS [one]\n", argv[0]);
        return 2;
    }
    size_t n = strtoull(argv[1], NULL, 10), d = strtoull(argv[2], NULL, 10);
    size_t k = strtoull(argv[3], NULL, 10), iters = strtoull(argv[4], NULL, 10);
    int one = argc > 5 && strcmp(argv[5], "one") == 0;
    int rank = 0, size = 1, local = 1;
    if (!one) {
        MPI_Init(&argc, &argv);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        MPI_Comm node;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores / local > 1 ? (int)(cores / local) : 1;
    if (getenv("BENCH_THREADS")) /* to compare threads with processes */
        threads = atoi(getenv("BENCH_THREADS"));
    size_t row0 = 0, rows = n;
    if (!one)
        cseg_mpi_kmeans_split(MPI_COMM_WORLD, n, &row0, &rows);
    double *X = malloc((rows ? rows : 1) * d * sizeof *X), *init = malloc(k * d * sizeof *init);
    if (!X || !init) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < rows; i++)
        make_row(row0 + i, d, X + i * d);
    for (size_t c = 0; c < k; c++)
        make_row(c, d, init + c * d);
    cseg_kmeans_params p;
    cseg_kmeans_params_init(&p);
    p.k = k;
    p.max_iter = iters;
    p.tol = 0;
    p.init = init;
    p.n_threads = threads;
    cseg_kmeans *km;
    cseg_diag diag;
    cseg_kmeans_create(&km, &p);
    uint64_t s0 = sent, r0 = received;
    struct timespec t0, t1;
    if (!one)
        MPI_Barrier(MPI_COMM_WORLD);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = one ? cseg_kmeans_fit(km, X, rows, d, NULL, &diag)
                 : cseg_mpi_kmeans_fit(MPI_COMM_WORLD, km, X, rows, d, NULL, &diag);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    uint64_t io[2] = {sent - s0, received - r0};
    if (!one) { /* the slowest rank's time, the largest rank's bytes (uncounted) */
        PMPI_Allreduce(MPI_IN_PLACE, &secs, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        PMPI_Allreduce(MPI_IN_PLACE, io, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    }
    if (rc < 0) {
        if (rank == 0)
            fprintf(stderr, "fit failed: %s\n", diag.msg);
        return 1;
    }
    size_t it = cseg_kmeans_n_iter(km);
    if (rank == 0)
        printf("%s processes %d threads %d seconds %.4f ms_per_iter %.3f iterations %zu "
               "sent_per_iter %.0f received_per_iter %.0f inertia %.17g\n",
               one ? "one" : "mpi", size, threads, secs, 1e3 * secs / (double)(it + 1), it,
               (double)io[0] / (double)it, (double)io[1] / (double)it, cseg_kmeans_inertia(km));
    cseg_kmeans_free(km);
    free(X);
    free(init);
    if (!one)
        MPI_Finalize();
    return 0;
}
