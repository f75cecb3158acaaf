/* custseg — the segmentation of customers held in parts by the ranks of an
 * MPI communicator (cseg_mpi_segment_customers; built with -DCSEG_MPI=ON):
 * the library's own pipeline (cseg__segment_customers_split,
 * src/segment/segment.c) with the hooks of this folder: sums, order
 * statistics and text levels (prep.c), the sums by span of k-means and the
 * indices (mpi.c), the silhouette's sample gathered on rank 0 (metrics.c)
 * and the first failure agreed on; and its outputs: the report composed on
 * every rank with the report module's hooks (the projection's sums passed
 * along the ranks, the samples gathered), the files written by rank 0. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../report/internal.h"
#include "../segment/internal.h"
#include "custseg/mpi.h"
#include "internal.h"

static int agree_hook(void *ctx, int rc, int64_t key, cseg_diag *d)
{
    return cseg__mpi_agree(*(MPI_Comm *)ctx, rc, key, d);
}

static int silhouette_hook(void *ctx, const double *X, size_t n, size_t d, const int32_t *labels,
                           const cseg_silhouette_params *p, double *score)
{
    return cseg_mpi_metrics_silhouette(*(MPI_Comm *)ctx, X, n, d, labels, p, score, NULL);
}

/* One rank's allocation failure made every rank's (before a collective
 * that the failed rank could not take part in). */
static int all_ok(MPI_Comm comm, int ok)
{
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, comm);
    return all ? 0 : CSEG_ENOMEM;
}

static int allgather_hook(void *ctx, const void *mine, size_t len, char **all, size_t *total)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    int np;
    MPI_Comm_size(comm, &np);
    uint64_t l = len, *lens = malloc((size_t)np * sizeof *lens);
    int *cnt = malloc((size_t)np * sizeof *cnt), *dsp = malloc((size_t)np * sizeof *dsp);
    *all = NULL;
    *total = 0;
    int rc = all_ok(comm, lens && cnt && dsp);
    if (rc == 0 && MPI_Allgather(&l, 1, MPI_UINT64_T, lens, 1, MPI_UINT64_T, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    uint64_t sum = 0;
    for (int q = 0; rc == 0 && q < np; q++) {
        dsp[q] = (int)sum;
        cnt[q] = (int)lens[q];
        sum += lens[q];
    }
    if (rc == 0 && sum > INT32_MAX) /* the same on every rank */
        rc = CSEG_ETOOBIG;
    if (rc == 0) {
        *all = malloc(sum ? (size_t)sum : 1);
        rc = all_ok(comm, *all != NULL);
    }
    if (rc == 0 &&
        MPI_Allgatherv(mine, (int)len, MPI_BYTE, *all, cnt, dsp, MPI_BYTE, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    if (rc < 0) {
        free(*all);
        *all = NULL;
    } else {
        *total = (size_t)sum;
    }
    free(lens), free(cnt), free(dsp);
    return rc;
}

static int exchange_hook(void *ctx, const char *send, const size_t *count, char **recv, size_t *got)
{
    return cseg__mpi_exchange(*(MPI_Comm *)ctx, send, count, recv, got);
}

int cseg__mpi_exchange(MPI_Comm comm, const char *send, const size_t *count, char **recv,
                       size_t *got)
{
    int np;
    MPI_Comm_size(comm, &np);
    int *sc = malloc(4 * (size_t)np * sizeof *sc), bad = 0;
    uint64_t *out = malloc(2 * (size_t)np * sizeof *out);
    *recv = NULL;
    int rc = all_ok(comm, sc && out);
    if (rc < 0) {
        free(sc), free(out);
        return rc;
    }
    int *sd = sc + np, *rcv = sc + 2 * np, *rd = sc + 3 * np;
    uint64_t *in = out + np, s = 0;
    for (int q = 0; q < np; q++) {
        out[q] = count[q];
        sc[q] = (int)count[q];
        sd[q] = (int)s;
        s += count[q];
    }
    bad = s > INT32_MAX;
    if (MPI_Alltoall(out, 1, MPI_UINT64_T, in, 1, MPI_UINT64_T, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    uint64_t r = 0;
    for (int q = 0; rc == 0 && q < np; q++) {
        got[q] = (size_t)in[q];
        rcv[q] = (int)in[q];
        rd[q] = (int)r;
        r += in[q];
    }
    bad |= r > INT32_MAX;
    int any = 0;
    if (rc == 0 && MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_LOR, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    if (rc == 0 && any)
        rc = CSEG_ETOOBIG; /* counts are ints in MPI */
    if (rc == 0) {
        *recv = malloc(r ? (size_t)r : 1);
        rc = all_ok(comm, *recv != NULL);
    }
    if (rc == 0 &&
        MPI_Alltoallv(send, sc, sd, MPI_BYTE, *recv, rcv, rd, MPI_BYTE, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    if (rc < 0) {
        free(*recv);
        *recv = NULL;
    }
    free(sc), free(out);
    return rc;
}

/* What a segmentation over the ranks runs: the customers' or the log's. */
typedef struct seg_call {
    const char *id_column;       /* customers */
    const cseg_quality *q;       /* a log's: its cleaning counts, */
    const cseg_txn_roles *roles; /* roles, */
    const char *date_format;     /* date format */
    const cseg_rfm_params *rfm;  /* and features */
} seg_call;

/* The caller's progress callback on every rank, and a stop asked on any
 * rank made every rank's (one MPI_Allreduce a call: every rank reaches
 * each progress point, the pipeline's steps being the same on all). */
typedef struct progress_ctx {
    cseg_progress_fn fn;
    void *user;
    MPI_Comm comm;
} progress_ctx;

static int progress_hook(const cseg_progress *pr, void *user)
{
    const progress_ctx *c = user;
    int stop = c->fn ? c->fn(pr, c->user) != 0 : 0, any = 0;
    MPI_Allreduce(&stop, &any, 1, MPI_INT, MPI_LOR, c->comm);
    return any;
}

static int over_parts(MPI_Comm comm, cseg_segmentation **out, const cseg_table *part,
                      const seg_call *call, const cseg_segment_params *p, cseg_diag *diag)
{
    cseg_diag ignored;
    cseg__mpi_spans spans;
    cseg__km_comm km;
    cseg__split_comm sc;
    MPI_Comm c = comm;
    if (!diag)
        diag = &ignored;
    cseg_diag_clear(diag);
    *out = NULL;
    if (!cseg__mpi_same_columns(comm, part))
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "the processes' tables differ in their columns or their types");
    int rc = cseg__mpi_spans_open(comm, cseg_table_n_rows(part), &spans, &km, "segmentation", diag);
    if (rc < 0)
        return rc;
    cseg__mpi_split_hooks(&c, &sc);
    cseg__seg_split split = {&sc,          &km, &c, agree_hook, silhouette_hook, allgather_hook,
                             exchange_hook};
    /* Installed on every rank, with or without the caller's callback, so
     * that every rank takes part in each agreement. */
    progress_ctx pc = {p->progress, p->progress_user, comm};
    cseg_segment_params q = *p;
    q.progress = progress_hook;
    q.progress_user = &pc;
    rc = call->q ? cseg__segment_rfm_split(out, part, call->q, call->roles, call->date_format,
                                           call->rfm, &q, &split, diag)
                 : cseg__segment_customers_split(out, part, call->id_column, &q, &split, diag);
    cseg__mpi_spans_close(&spans);
    return rc;
}

int cseg_mpi_segment_customers(MPI_Comm comm, cseg_segmentation **out, const cseg_table *part,
                               const char *id_column, const cseg_segment_params *p, cseg_diag *diag)
{
    seg_call call = {id_column, NULL, NULL, NULL, NULL};
    return over_parts(comm, out, part, &call, p, diag);
}

int cseg_mpi_segment_rfm(MPI_Comm comm, cseg_segmentation **out, const cseg_table *part,
                         const cseg_quality *q, const cseg_txn_roles *roles,
                         const char *date_format, const cseg_rfm_params *rfm,
                         const cseg_segment_params *p, cseg_diag *diag)
{
    seg_call call = {NULL, q, roles, date_format, rfm};
    return over_parts(comm, out, part, &call, p, diag);
}

static int silhouette_values_hook(void *ctx, const double *X, size_t n, size_t d,
                                  const int32_t *labels, const cseg_silhouette_params *p,
                                  double *score, double **values, int32_t **vlabels, size_t *nv)
{
    return cseg__mpi_silhouette(*(MPI_Comm *)ctx, X, n, d, labels, p, score, values, vlabels, nv,
                                NULL);
}

/* r's report composed on every rank into *rep (rank 0's to be written). */
static int compose_report(MPI_Comm comm, const cseg_segmentation *r, cseg_log_fn log,
                          void *log_user, cseg_report **rep, cseg_diag *diag)
{
    cseg__mpi_spans spans;
    cseg__km_comm km;
    cseg__split_comm sc;
    MPI_Comm c = comm;
    *rep = NULL;
    int rc = cseg__mpi_spans_open(comm, r->n, &spans, &km, "report", diag);
    if (rc < 0)
        return rc;
    cseg__mpi_split_hooks(&c, &sc);
    cseg__report_split split = {
        &sc, &c, km.row0, km.n_all, agree_hook, allgather_hook, silhouette_values_hook};
    cseg_report_input in;
    cseg__segment_report_input(r, log, log_user, &in);
    rc = cseg__mpi_agree(comm, cseg_report_create(rep), 0, diag);
    if (rc == 0)
        rc = cseg__report_compose_split(*rep, &in, &split, diag);
    cseg__mpi_spans_close(&spans);
    if (rc < 0) {
        cseg_report_free(*rep);
        *rep = NULL;
    }
    return rc;
}

/* A result over ranks, every rank's (else CSEG_EINVAL on every rank). */
static int spread_on_all(MPI_Comm comm, const cseg_segmentation *r, cseg_diag *diag)
{
    int mine = r && r->spread, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, comm);
    return all ? 0
               : cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                            "not a segmentation over these processes "
                            "(cseg_mpi_segment_customers makes one)");
}

int cseg_mpi_segment_write_report(MPI_Comm comm, const cseg_segmentation *r, const char *path,
                                  cseg_log_fn log, void *log_user, cseg_diag *diag)
{
    cseg_diag ignored;
    cseg_report *rep = NULL;
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (!diag)
        diag = &ignored;
    cseg_diag_clear(diag);
    int rc = spread_on_all(comm, r, diag);
    if (rc == 0)
        rc = compose_report(comm, r, rank == 0 ? log : NULL, log_user, &rep, diag);
    if (rc == 0)
        rc = cseg__mpi_agree(comm, rank == 0 ? cseg_report_write(rep, path, diag) : 0, 0, diag);
    cseg_report_free(rep);
    return rc;
}

/* File's step of the writing told; CSEG_ECANCELED when asked to stop. */
static int told(const cseg_segmentation *r, const char *file, cseg_diag *diag)
{
    return cseg__segment_tell_write(r, file, 0, 1)
               ? cseg__diag(diag, CSEG_ECANCELED, NULL, 0, 0, "writing canceled")
               : 0;
}

int cseg_mpi_segment_write_all(MPI_Comm comm, const cseg_segmentation *r, const char *dir,
                               cseg_log_fn log, void *log_user, cseg_diag *diag)
{
    const char *const *names = cseg__segment_outputs_names; /* the last two: hclust's */
    char path[4][4096] = {"", "", "", ""};
    cseg_diag ignored;
    cseg_outdir o;
    cseg_report *rep = NULL;
    int rank, rc, begun = 0;
    MPI_Comm_rank(comm, &rank);
    if (!diag)
        diag = &ignored;
    cseg_diag_clear(diag);
    if ((rc = spread_on_all(comm, r, diag)) < 0)
        return rc;
    /* Rank 0 alone opens the folder (a temporary one beside it) and writes
     * but customers.csv, whose rows every rank sends it. */
    if (rank == 0 && (rc = cseg__outdir_begin(&o, dir, names, 6, diag)) == 0) {
        begun = 1;
        for (size_t i = 0; i < 4 && rc == 0; i++)
            rc = cseg__outdir_file(&o, names[i], path[i], sizeof path[i]);
    }
    /* The writing's progress (cseg_segment_set_progress) is rank 0's: a
     * stop it asks for is agreed on with the next step's outcome. */
    if (rc == 0 && rank == 0)
        rc = told(r, names[0], diag);
    if ((rc = cseg__mpi_agree(comm, rc, 0, diag)) == 0)
        rc = cseg_mpi_table_write_csv(comm, r->table, path[0], diag);
    if (rc == 0 && rank == 0 && (rc = told(r, names[1], diag)) == 0 &&
        (rc = cseg_segment_write_json(r, path[1], diag)) == 0 &&
        (rc = told(r, names[2], diag)) == 0)
        rc = cseg_model_save(r->in.model, path[2], diag);
    if (rc == 0 && rank == 0)
        rc = told(r, names[3], diag);
    if ((rc = cseg__mpi_agree(comm, rc, 0, diag)) == 0)
        rc = compose_report(comm, r, rank == 0 ? log : NULL, log_user, &rep, diag);
    if (rc == 0 && rank == 0)
        rc = cseg_report_write(rep, path[3], diag);
    cseg_report_free(rep);
    if (begun && rc < 0) {
        cseg__outdir_untemp(&o, diag);
        cseg__outdir_abort(&o);
    } else if (begun) {
        rc = cseg__outdir_commit(&o, diag);
    }
    return cseg__mpi_agree(comm, rc, 0, diag);
}
