/* custseg under mpirun (built with -DCSEG_MPI=ON): MPI is started only when
 * a launcher started this process (mpirun sets OMPI_COMM_WORLD_SIZE, PMIx
 * and Slurm's PMI their own), so a plain `custseg` never touches it. With
 * one process everything runs as without MPI. With more, `run` reads the
 * log on every rank (cseg_mpi_rfm_compute_csv), `fit` its table
 * (cseg_mpi_table_read_csv), and rank 0 does the rest and writes every
 * output; after the reading the other ranks take part in rank 0's k-means fits
 * (cseg_mpi_kmeans_fit_root); they print nothing and end with rank 0's exit
 * status. docs/scale-out.md. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifdef CSEG_HAVE_MPI
#include <mpi.h>
#include <custseg/mpi.h>

static int mpi_on, mpi_size = 1, mpi_rank;
static int mpi_threads; /* node_threads() */
static int kmeans_led;  /* rank 0: the other ranks are in cseg_mpi_kmeans_serve */
static cseg_mpi_kmeans_stats kmeans_stats; /* rank 0's fits on every process */

/* The processes of the job on this machine, which share its cores:
 * counted once, at the start (a collective call: every rank makes it there,
 * whatever its part later). */
static int node_threads(void)
{
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores / local > 1 ? (int)(cores / local) : 1;
}

void cli_mpi_start(int *argc, char ***argv)
{
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
        return;
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return;
    mpi_on = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    mpi_threads = node_threads();
    /* One voice: rank 0's. The others' messages would repeat it. */
    if (mpi_rank > 0 && (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)))
        MPI_Abort(MPI_COMM_WORLD, EXIT_IO);
}

/* The others wait for rank 0's status asleep: a rank spinning in
 * MPI_Bcast would take a core from rank 0's threads, which do the rest of
 * the work (segmenting, writing) while it waits. */
int cli_mpi_finish(int status)
{
    if (!mpi_on)
        return status;
    if (kmeans_led && cseg_mpi_kmeans_serve_end(MPI_COMM_WORLD) < 0)
        MPI_Abort(MPI_COMM_WORLD, EXIT_IO); /* the others would wait for ever */
    kmeans_led = 0;
    MPI_Request req;
    int done = 0;
    MPI_Ibcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    while (MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    MPI_Finalize();
    return status;
}

int cli_mpi_threads(void)
{
    return mpi_on ? mpi_threads : 0;
}

int cli_mpi_size(void)
{
    return mpi_size;
}

int cli_mpi_rank(void)
{
    return mpi_rank;
}

int cli_mpi_kmeans_serve(void)
{
    /* The status is rank 0's (cli_mpi_finish); only a failed exchange is ours. */
    return cseg_mpi_kmeans_serve(MPI_COMM_WORLD, cli_mpi_threads()) < 0 ? EXIT_IO : EXIT_OK;
}

void cli_mpi_kmeans_lead(void)
{
    kmeans_led = mpi_on && mpi_size > 1 && mpi_rank == 0;
}

static int fit_on_all(void *user, cseg_kmeans *km, const double *X, size_t n, size_t d,
                      int same_rows, cseg_diag *diag)
{
    (void)user;
    return cseg_mpi_kmeans_fit_root(MPI_COMM_WORLD, km, X, n, d, mpi_threads, same_rows,
                                    &kmeans_stats, diag);
}

void cli_mpi_kmeans_report(void)
{
    const cseg_mpi_kmeans_stats *st = &kmeans_stats;
    if (!kmeans_led || st->fits == 0)
        return;
    fprintf(stderr,
            "custseg: k-means on %d processes: %llu fits, %llu iterations; rows sent %.1f MB "
            "(%.2f s), collectives %.1f KB (%.2f KB an iteration), labels gathered %.1f MB "
            "(%.2f s); fitting %.2f s\n",
            mpi_size, (unsigned long long)st->fits, (unsigned long long)st->iterations,
            (double)st->row_bytes / 1e6, st->send_seconds, (double)st->collective_bytes / 1e3,
            st->iterations ? (double)st->collective_bytes / 1e3 / (double)st->iterations : 0.0,
            (double)st->label_bytes / 1e6, st->gather_seconds, st->fit_seconds);
}

void cli_mpi_segment_params(cseg_segment_params *p)
{
    if (kmeans_led) {
        p->kmeans_fit = fit_on_all;
        p->kmeans_fit_user = NULL;
    }
}

int cli_mpi_rfm(cseg_table **customers, const char *path, cseg_txn_roles *roles,
                const cseg_table_read_params *rp, const cseg_rfm_params *p, cseg_quality *q,
                int parts, int verbose, cseg_diag *d)
{
    cseg_mpi_stats st;
    size_t row0 = 0;
    int rc = parts ? cseg_mpi_rfm_compute_csv_part(MPI_COMM_WORLD, customers, &row0, path, roles,
                                                   rp, p, q, &st, d)
                   : cseg_mpi_rfm_compute_csv(MPI_COMM_WORLD, customers, path, roles, rp, p, q,
                                              &st, d);
    char tail[160];
    if (parts)
        snprintf(tail, sizeof tail,
                 "the customers kept in parts (%.1f MB of parts cut into blocks in %.2f s)",
                 (double)st.part_bytes / 1e6, st.assemble_seconds);
    else
        snprintf(tail, sizeof tail, "gather %.2f s (%.1f MB), assemble %.2f s", st.gather_seconds,
                 (double)st.part_bytes / 1e6, st.assemble_seconds);
    if (rc == 0 && verbose)
        fprintf(stderr,
                "custseg: %d processes read %llu lines in %llu rounds, moved %.1f MB between "
                "them; route %.2f s, parse %.2f s, features %.2f s%s %s%s\n",
                st.processes, (unsigned long long)st.lines, (unsigned long long)st.rounds,
                (double)st.bytes_moved / 1e6, st.route_seconds, st.read_seconds,
                st.features_seconds, parts ? ";" : ",", tail,
                st.reread ? "; read twice (duplicates far apart)" : "");
    return rc;
}

int cli_mpi_table(cseg_table **t, const char *path, const cseg_table_read_params *rp, int verbose,
                  cseg_diag *d)
{
    cseg_mpi_stats st;
    int rc = cseg_mpi_table_read_csv(MPI_COMM_WORLD, t, path, rp, &st, d);
    if (rc == 0 && verbose && st.rounds == 0)
        fprintf(stderr,
                "custseg: the first of %d processes read the table alone (a gzip file, "
                "or quoted line ends between the processes' parts)\n",
                st.processes);
    else if (rc == 0 && verbose)
        fprintf(stderr,
                "custseg: %d processes read the table, %llu rows, in %llu pass%s: parse %.2f s, "
                "rows to the first %.2f s (%.1f MB)\n",
                st.processes, (unsigned long long)st.lines, (unsigned long long)st.rounds,
                st.rounds == 1 ? "" : "es", st.read_seconds, st.gather_seconds,
                (double)st.part_bytes / 1e6);
    return rc;
}

int cli_mpi_table_part(cseg_table **t, const char *path, const cseg_table_read_params *rp,
                       int verbose, cseg_diag *d)
{
    cseg_mpi_stats st;
    size_t row0 = 0;
    int rc = cseg_mpi_table_read_csv_part(MPI_COMM_WORLD, t, &row0, path, rp, &st, d);
    if (rc == 0 && verbose)
        fprintf(stderr,
                "custseg: %d processes read the table and keep their parts, %llu rows: "
                "parse %.2f s, %.1f MB sent between them\n",
                st.processes, (unsigned long long)st.lines, st.read_seconds,
                (double)st.part_bytes / 1e6);
    return rc;
}

int cli_mpi_pii_kind(const cseg_table *t, size_t j, const char **kind, cseg_diag *d)
{
    return cseg_mpi_pii_kind(MPI_COMM_WORLD, t, j, kind, d);
}

int cli_mpi_segment_rfm(cseg_segmentation **r, const cseg_table *part, const cseg_quality *q,
                        const cseg_txn_roles *roles, const char *date_format,
                        const cseg_rfm_params *rfm, const cseg_segment_params *p, cseg_diag *d)
{
    return cseg_mpi_segment_rfm(MPI_COMM_WORLD, r, part, q, roles, date_format, rfm, p, d);
}

int cli_mpi_segment(cseg_segmentation **r, const cseg_table *part, const char *id,
                    const cseg_segment_params *p, cseg_diag *d)
{
    return cseg_mpi_segment_customers(MPI_COMM_WORLD, r, part, id, p, d);
}

int cli_mpi_write_all(const cseg_segmentation *r, const char *dir, cseg_log_fn log, void *log_user,
                      cseg_diag *d)
{
    return cseg_mpi_segment_write_all(MPI_COMM_WORLD, r, dir, log, log_user, d);
}

int cli_mpi_share(char **buf, size_t *len)
{
    if (!mpi_on || mpi_size < 2)
        return 0;
    uint64_t n = mpi_rank == 0 ? (uint64_t)*len : 0;
    MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (n > INT_MAX)
        MPI_Abort(MPI_COMM_WORLD, EXIT_IO);
    if (mpi_rank > 0) {
        *buf = malloc(n ? (size_t)n : 1);
        *len = (size_t)n;
        if (!*buf)
            MPI_Abort(MPI_COMM_WORLD, EXIT_IO); /* cannot take part in the broadcast */
    }
    MPI_Bcast(*buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
    return 0;
}
#else
int cli_mpi_threads(void)
{
    return 0;
}

void cli_mpi_start(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

int cli_mpi_finish(int status)
{
    return status;
}

int cli_mpi_size(void)
{
    return 1;
}

int cli_mpi_rank(void)
{
    return 0;
}

int cli_mpi_kmeans_serve(void)
{
    return EXIT_OK;
}

void cli_mpi_kmeans_lead(void) {}

void cli_mpi_kmeans_report(void) {}

void cli_mpi_segment_params(cseg_segment_params *p)
{
    (void)p;
}

int cli_mpi_rfm(cseg_table **customers, const char *path, cseg_txn_roles *roles,
                const cseg_table_read_params *rp, const cseg_rfm_params *p, cseg_quality *q,
                int parts, int verbose, cseg_diag *d)
{
    (void)parts, (void)verbose;
    return cseg_rfm_compute_csv(customers, path, roles, rp, p, q, d);
}

int cli_mpi_table(cseg_table **t, const char *path, const cseg_table_read_params *rp, int verbose,
                  cseg_diag *d)
{
    (void)verbose;
    return cseg_table_read_csv(t, path, rp, d);
}

int cli_mpi_table_part(cseg_table **t, const char *path, const cseg_table_read_params *rp,
                       int verbose, cseg_diag *d)
{
    (void)verbose;
    return cseg_table_read_csv(t, path, rp, d);
}

int cli_mpi_pii_kind(const cseg_table *t, size_t j, const char **kind, cseg_diag *d)
{
    (void)d;
    *kind = cseg_pii_kind(t, j);
    return 0;
}

int cli_mpi_segment_rfm(cseg_segmentation **r, const cseg_table *part, const cseg_quality *q,
                        const cseg_txn_roles *roles, const char *date_format,
                        const cseg_rfm_params *rfm, const cseg_segment_params *p, cseg_diag *d)
{
    /* Not called: parts need more than one process. */
    (void)r, (void)part, (void)q, (void)roles, (void)date_format, (void)rfm, (void)p, (void)d;
    return CSEG_EINVAL;
}

int cli_mpi_segment(cseg_segmentation **r, const cseg_table *part, const char *id,
                    const cseg_segment_params *p, cseg_diag *d)
{
    return cseg_segment_customers(r, part, id, p, d);
}

int cli_mpi_write_all(const cseg_segmentation *r, const char *dir, cseg_log_fn log, void *log_user,
                      cseg_diag *d)
{
    return cseg_segment_write_all(r, dir, log, log_user, d);
}

int cli_mpi_share(char **buf, size_t *len)
{
    (void)buf;
    (void)len;
    return 0;
}
#endif
