/* custseg — k-means on the rows of many MPI ranks (cseg_mpi_kmeans_fit;
 * built with -DCSEG_MPI=ON).
 *
 * The k-means module does the work (cseg__kmeans_fit_split,
 * src/kmeans/internal.h): every sum over the samples is taken per span of
 * CSEG_KMEANS_SPAN rows and the spans' sums added in span order, and a rank
 * holds whole spans; this file gives it the three exchanges it needs. Per
 * Lloyd iteration: one MPI_Allreduce of two counts and one MPI_Allgatherv
 * of every span's k x (d + 1) partial sums (8 k (d + 1) bytes a span: 10
 * KB a span for k = 8, d = 16, 1.5 MB for 10,000,000 rows in 153 spans), so
 * the centres come out the same on every rank without a second message.
 * Seeding: per candidate centre, an MPI_Allgatherv of the spans' totals
 * and an MPI_Bcast of the drawn rows from the ranks that hold them. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custseg/mpi.h"
#include "../core/internal.h"
#include "../kmeans/internal.h"
#include "internal.h"

typedef cseg__mpi_spans kmctx;

static int km_allgatherv(void *ctx, const double *mine, size_t count, double *all, size_t *total)
{
    kmctx *c = ctx;
    int cnt = count > INT_MAX ? -1 : (int)count, bad = 0;
    if (MPI_Allgather(&cnt, 1, MPI_INT, c->counts, 1, MPI_INT, c->comm) != MPI_SUCCESS)
        return CSEG_EIO;
    size_t t = 0;
    for (int r = 0; r < c->size; r++) {
        if (c->counts[r] < 0 || t + (size_t)c->counts[r] > INT_MAX) {
            bad = 1; /* every rank sees the same counts: all return here */
            break;
        }
        c->displs[r] = (int)t;
        t += (size_t)c->counts[r];
    }
    if (bad)
        return CSEG_ETOOBIG;
    if (MPI_Allgatherv(mine, cnt, MPI_DOUBLE, all, c->counts, c->displs, MPI_DOUBLE, c->comm) !=
        MPI_SUCCESS)
        return CSEG_EIO;
    *total = t;
    c->received += (t - (size_t)cnt) * sizeof(double);
    return 0;
}

static int km_bcast_span(void *ctx, size_t s, double *buf, size_t m)
{
    kmctx *c = ctx;
    int root = 0;
    while (root + 1 < c->size && c->span0[root + 1] <= s)
        root++;
    if (root != c->rank)
        c->received += m * sizeof(double);
    return MPI_Bcast(buf, (int)m, MPI_DOUBLE, root, c->comm) == MPI_SUCCESS ? 0 : CSEG_EIO;
}

static int km_sum(void *ctx, uint64_t *v, size_t m)
{
    kmctx *c = ctx;
    c->received += m * sizeof *v;
    return MPI_Allreduce(MPI_IN_PLACE, v, (int)m, MPI_UINT64_T, MPI_SUM, c->comm) == MPI_SUCCESS
               ? 0
               : CSEG_EIO;
}

/* cseg_mpi_kmeans_split for any rank of size. */
static void split_rows(size_t n, int size, int rank, size_t *row0, size_t *n_rows)
{
    size_t spans = (n + CSEG_KMEANS_SPAN - 1) / CSEG_KMEANS_SPAN;
    size_t P = (size_t)size; /* the first ranks get the spans left over */
    size_t s0 = (spans * (size_t)rank + P - 1) / P, s1 = (spans * ((size_t)rank + 1) + P - 1) / P;
    size_t r0 = s0 * CSEG_KMEANS_SPAN, r1 = s1 * CSEG_KMEANS_SPAN;
    *row0 = r0 < n ? r0 : n;
    *n_rows = (r1 < n ? r1 : n) - *row0;
}

void cseg_mpi_kmeans_split(MPI_Comm comm, size_t n, size_t *row0, size_t *n_rows)
{
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    split_rows(n, size, rank, row0, n_rows);
}

int cseg__mpi_spans_open(MPI_Comm comm, size_t n_rows, cseg__mpi_spans *c, cseg__km_comm *ops,
                         const char *what, cseg_diag *diag)
{
    memset(c, 0, sizeof *c);
    c->comm = comm;
    int rc = 0;
    MPI_Comm_size(comm, &c->size);
    MPI_Comm_rank(comm, &c->rank);
    uint64_t mine = n_rows, before = 0, all = 0;
    MPI_Exscan(&mine, &before, 1, MPI_UINT64_T, MPI_SUM, comm);
    if (c->rank == 0)
        before = 0; /* MPI_Exscan leaves rank 0's undefined */
    MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, comm);
    /* Spans of every rank, and whether each starts on one. */
    uint64_t spans[2] = {(n_rows + CSEG_KMEANS_SPAN - 1) / CSEG_KMEANS_SPAN,
                         n_rows > 0 && before % CSEG_KMEANS_SPAN != 0};
    uint64_t *each = malloc((size_t)c->size * 2 * sizeof *each);
    c->span0 = malloc(((size_t)c->size + 1) * sizeof *c->span0);
    c->counts = malloc((size_t)c->size * sizeof *c->counts);
    c->displs = malloc((size_t)c->size * sizeof *c->displs);
    int oom = !each || !c->span0 || !c->counts || !c->displs, any_oom = 0;
    MPI_Allreduce(&oom, &any_oom, 1, MPI_INT, MPI_LOR, comm);
    if (any_oom) {
        rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for %s", what);
        goto out;
    }
    MPI_Allgather(spans, 2, MPI_UINT64_T, each, 2, MPI_UINT64_T, comm);
    c->span0[0] = 0;
    for (int r = 0; r < c->size; r++) {
        if (each[2 * r + 1]) {
            rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                            "%s on %d processes: process %d's rows do not start on a span "
                            "of %d rows (cseg_mpi_kmeans_split)",
                            what, c->size, r, CSEG_KMEANS_SPAN);
            goto out;
        }
        c->span0[r + 1] = c->span0[r] + (size_t)each[2 * r];
    }
    *ops = (cseg__km_comm){c, c->size, (size_t)before, (size_t)all,
                           km_allgatherv, km_bcast_span, km_sum};
out:
    free(each);
    if (rc < 0)
        cseg__mpi_spans_close(c);
    return rc;
}

void cseg__mpi_spans_close(cseg__mpi_spans *c)
{
    free(c->span0);
    free(c->counts);
    free(c->displs);
    c->span0 = NULL;
    c->counts = c->displs = NULL;
}

/* cseg_mpi_kmeans_fit; *received (may be NULL): plus the bytes this rank
 * received in the fit's collectives. */
static int fit_rows(MPI_Comm comm, cseg_kmeans *km, const double *X, size_t n_rows, size_t d,
                    const double *weights, uint64_t *received, cseg_diag *diag)
{
    kmctx c;
    cseg__km_comm ops;
    int rc = cseg__mpi_spans_open(comm, n_rows, &c, &ops, "k-means", diag);
    if (rc < 0)
        return rc;
    rc = cseg__kmeans_fit_split(km, X, n_rows, d, weights, &ops, diag);
    if (received)
        *received += c.received;
    cseg__mpi_spans_close(&c);
    return rc;
}

int cseg_mpi_kmeans_fit(MPI_Comm comm, cseg_kmeans *km, const double *X, size_t n_rows, size_t d,
                        const double *weights, cseg_diag *diag)
{
    return fit_rows(comm, km, X, n_rows, d, weights, NULL, diag);
}

/* ---- A pipeline on rank 0, its k-means on every rank ----
 *
 * Rank 0 runs the pipeline and holds the data; the other ranks wait in
 * cseg_mpi_kmeans_serve. Each fit: rank 0 broadcasts a command (the
 * parameters; or the end), every rank makes its buffers and they agree that
 * all could, rank 0 broadcasts the starting centres when there are some and
 * sends each rank its span-aligned rows, all fit together
 * (cseg_mpi_kmeans_fit) and rank 0 gathers the labels. */

enum { KM_END = 0, KM_FIT = 1 };
#define KM_ROWS_TAG 0x6b6d
#define KM_PIECE ((size_t)1 << 27) /* doubles a message, so that counts fit an int */

/* op, n, d, k, n_init, max_iter, seed, algorithm, whether there are starting
 * centres, tol's bits, and whether the ranks keep the rows of the last fit. */
typedef struct km_cmd {
    uint64_t op, n, d, k, n_init, max_iter, seed, algorithm, has_init, tol, reuse;
} km_cmd;
#define KM_CMD_WORDS 11

/* What a serving rank keeps from fit to fit: the rows it was sent last. */
typedef struct km_kept {
    double *rows;
    size_t n, d; /* the fit's (all ranks' rows, features) */
} km_kept;

/* A broadcast from rank 0 that the waiting ranks wait for asleep (1 ms
 * naps): a rank spinning in MPI_Bcast would take a core from rank 0, busy
 * with the steps of the pipeline between fits. */
static int bcast_napping(MPI_Comm comm, void *buf, int count, MPI_Datatype type)
{
    MPI_Request req;
    int done = 0;
    if (MPI_Ibcast(buf, count, type, 0, comm, &req) != MPI_SUCCESS)
        return CSEG_EIO;
    while (!done) {
        if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return CSEG_EIO;
        if (!done) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    return 0;
}

/* The fit, on every rank, once the command is known: km is rank 0's, or
 * made from c (other ranks); X, all the rows (rank 0); kept, the rows the
 * other ranks keep (c->reuse: they are this fit's, not sent again). Each
 * rank fits with n_threads threads (0: rank 0 with km's). st: rank 0's
 * account, or NULL. */
static int fit_part(MPI_Comm comm, cseg_kmeans *km, const km_cmd *c, const double *X, int n_threads,
                    km_kept *kept, cseg_mpi_kmeans_stats *st, cseg_diag *diag)
{
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    size_t n = (size_t)c->n, d = (size_t)c->d, k = (size_t)c->k, row0, mine;
    split_rows(n, size, rank, &row0, &mine);
    double *rows = NULL, *init = NULL;
    int32_t *labels = NULL;
    int *counts = NULL, *displs = NULL, oom = 0, any = 0, rc = 0;
    cseg_kmeans *own = NULL;
    if (rank == 0) {
        labels = malloc((n ? n : 1) * sizeof *labels);
        counts = malloc((size_t)size * sizeof *counts);
        displs = malloc((size_t)size * sizeof *displs);
        oom = !labels || !counts || !displs;
    } else {
        cseg_kmeans_params kp;
        cseg_kmeans_params_init(&kp);
        kp.k = k;
        kp.n_init = (size_t)c->n_init;
        kp.max_iter = (size_t)c->max_iter;
        kp.seed = c->seed;
        kp.algorithm = (cseg_kmeans_algo)c->algorithm;
        memcpy(&kp.tol, &c->tol, sizeof kp.tol);
        kp.n_threads = n_threads;
        if (c->reuse && kept->rows && kept->n == n && kept->d == d) {
            rows = kept->rows; /* this fit's rows, received for the last one */
        } else {
            free(kept->rows);
            rows = c->reuse ? NULL : malloc((mine * d > 0 ? mine * d : 1) * sizeof *rows);
            kept->rows = rows;
            oom = c->reuse ? 2 : 0; /* nothing (of that size) kept */
        }
        kept->n = kept->d = 0; /* whole again once received */
        init = c->has_init ? malloc((k * d > 0 ? k * d : 1) * sizeof *init) : NULL;
        kp.init = init;
        oom = oom ? oom : !rows || (c->has_init && !init) || cseg_kmeans_create(&own, &kp) < 0;
        km = own;
    }
    if (MPI_Allreduce(&oom, &any, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    else if (any == 2)
        rc = cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                        "k-means: the processes keep no rows of %zu x %zu to fit again", n, d);
    else if (any)
        rc = cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory for k-means");
    if (rc == 0 && c->has_init) {
        double *at = rank == 0 ? (double *)cseg_kmeans_get_params(km)->init : init;
        if (MPI_Bcast(at, (int)(k * d), MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
            rc = CSEG_EIO;
    }
    double t0 = MPI_Wtime();
    uint64_t sent = 0, received = 0;
    for (int r = 1; r < size && rc == 0 && !c->reuse; r++) { /* rank r's rows, in pieces */
        size_t r0, cnt;
        split_rows(n, size, r, &r0, &cnt);
        for (size_t o = 0; o < cnt * d && rc == 0 && (rank == 0 || rank == r); o += KM_PIECE) {
            size_t m = cnt * d - o < KM_PIECE ? cnt * d - o : KM_PIECE;
            int e = rank == 0 ? MPI_Send(X + r0 * d + o, (int)m, MPI_DOUBLE, r, KM_ROWS_TAG, comm)
                              : MPI_Recv(rows + o, (int)m, MPI_DOUBLE, 0, KM_ROWS_TAG, comm,
                                         MPI_STATUS_IGNORE);
            rc = e == MPI_SUCCESS ? 0 : CSEG_EIO;
            sent += m * sizeof(double);
        }
    }
    if (rc == 0 && kept) {
        kept->n = n;
        kept->d = d;
    }
    double t1 = MPI_Wtime();
    if (rc == 0) {
        int was = rank == 0 && n_threads ? cseg__kmeans_swap_threads(km, n_threads) : 0;
        rc = fit_rows(comm, km, rank == 0 ? X : rows, mine, d, NULL, &received, diag);
        if (rank == 0 && n_threads)
            cseg__kmeans_swap_threads(km, was);
    }
    double t2 = MPI_Wtime();
    if (rc == 0) {
        for (int r = 0; r < size && rank == 0; r++) {
            size_t r0, cnt;
            split_rows(n, size, r, &r0, &cnt);
            counts[r] = (int)cnt; /* n <= INT_MAX: cseg_mpi_kmeans_fit_root */
            displs[r] = (int)r0;
        }
        if (MPI_Gatherv(cseg_kmeans_labels(km), (int)mine, MPI_INT32_T, labels, counts, displs,
                        MPI_INT32_T, 0, comm) != MPI_SUCCESS)
            rc = CSEG_EIO;
        else if (rank == 0) {
            cseg__kmeans_take_labels(km, labels, n);
            labels = NULL;
        }
    }
    if (rc == 0 && st) {
        st->fits++;
        st->iterations += cseg__kmeans_iterations_all(km, n);
        st->row_bytes += sent;
        st->label_bytes += (n - mine) * sizeof(int32_t);
        st->collective_bytes += received;
        st->send_seconds += t1 - t0;
        st->fit_seconds += t2 - t1;
        st->gather_seconds += MPI_Wtime() - t2;
    }
    cseg_kmeans_free(own);
    free(init);
    free(labels);
    free(counts);
    free(displs);
    return rc == CSEG_EIO ? cseg__diag(diag, rc, NULL, 0, 0, "k-means: an MPI exchange failed")
                          : rc;
}

int cseg_mpi_kmeans_fit_root(MPI_Comm comm, cseg_kmeans *km, const double *X, size_t n, size_t d,
                             int n_threads, int reuse, cseg_mpi_kmeans_stats *stats,
                             cseg_diag *diag)
{
    int size;
    MPI_Comm_size(comm, &size);
    if (size == 1) {
        double t0 = MPI_Wtime();
        int rc = cseg_kmeans_fit(km, X, n, d, NULL, diag);
        if (rc == 0 && stats) {
            stats->fits++;
            stats->iterations += cseg__kmeans_iterations_all(km, n);
            stats->fit_seconds += MPI_Wtime() - t0;
        }
        return rc;
    }
    const cseg_kmeans_params *p = cseg_kmeans_get_params(km);
    if (n > INT_MAX || p->k * d > INT_MAX)
        return cseg__diag(diag, CSEG_ETOOBIG, NULL, 0, 0,
                          "k-means on %d processes: at most %d rows and %d centre values", size,
                          INT_MAX, INT_MAX);
    km_cmd c = {.op = KM_FIT, .n = n, .d = d, .k = p->k, .n_init = p->n_init};
    c.max_iter = p->max_iter;
    c.seed = p->seed;
    c.algorithm = (uint64_t)p->algorithm;
    c.has_init = p->init != NULL;
    memcpy(&c.tol, &p->tol, sizeof c.tol);
    c.reuse = reuse != 0;
    if (bcast_napping(comm, &c, KM_CMD_WORDS, MPI_UINT64_T) < 0)
        return cseg__diag(diag, CSEG_EIO, NULL, 0, 0, "k-means: an MPI exchange failed");
    return fit_part(comm, km, &c, X, n_threads, NULL, stats, diag);
}

int cseg_mpi_kmeans_serve(MPI_Comm comm, int n_threads)
{
    km_kept kept = {NULL, 0, 0};
    int rc = 0;
    for (;;) {
        km_cmd c;
        cseg_diag ignored; /* rank 0 reports (every rank gets the same) */
        if (bcast_napping(comm, &c, KM_CMD_WORDS, MPI_UINT64_T) < 0) {
            rc = CSEG_EIO;
            break;
        }
        if (c.op != KM_FIT)
            break;
        if (fit_part(comm, NULL, &c, NULL, n_threads, &kept, NULL, &ignored) == CSEG_EIO) {
            rc = CSEG_EIO;
            break;
        }
    }
    free(kept.rows);
    return rc;
}

int cseg_mpi_kmeans_serve_end(MPI_Comm comm)
{
    int size;
    MPI_Comm_size(comm, &size);
    km_cmd c = {.op = KM_END};
    return size == 1 || bcast_napping(comm, &c, KM_CMD_WORDS, MPI_UINT64_T) == 0 ? 0 : CSEG_EIO;
}
