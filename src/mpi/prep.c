/* custseg — the preprocessing fitted on a table held in parts by the ranks
 * of an MPI communicator (cseg_mpi_prep_fit; built with -DCSEG_MPI=ON).
 *
 * The library's own fit (cseg__prep_fit_split, src/prep/prep.c) runs on
 * every rank over its rows; what it must know of the others comes through
 * three hooks: counts and exactly rounded sums (cseg__xsum accumulators,
 * added word by word in one MPI_Allreduce: the same bits for any split),
 * order statistics (cseg_mpi_select) and a text column's levels (gathered,
 * in rank order, each where it first appears). */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../prep/internal.h"
#include "custseg/mpi.h"
#include "internal.h"

static int sum_hook(void *ctx, uint64_t *counts, size_t nc, cseg__xsum *acc, size_t na)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    enum { W = CSEG_XSUM_DIGITS + 3 }; /* digits, then NaN, +inf, -inf */
    int64_t small[8 + 3 * W], *buf = small;
    /* The sizes are the same on every rank (the same call): all take the
     * same branch below. Only a buffer from the heap can fail on one rank
     * alone; then every rank takes part in the sum only when all can. */
    if (nc + na * W > (size_t)INT32_MAX)
        return CSEG_ENOMEM;
    if (nc + na * W > sizeof small / sizeof small[0]) {
        int fail = !(buf = malloc((nc + na * W) * sizeof *buf)), any = 0;
        MPI_Allreduce(&fail, &any, 1, MPI_INT, MPI_MAX, comm);
        if (any) {
            free(buf);
            return CSEG_ENOMEM;
        }
    }
    for (size_t i = 0; i < nc; i++)
        buf[i] = (int64_t)counts[i];
    for (size_t a = 0; a < na; a++) {
        int64_t *b = buf + nc + a * W;
        cseg__xsum_normalize(&acc[a]);
        memcpy(b, acc[a].w, sizeof acc[a].w);
        b[CSEG_XSUM_DIGITS] = acc[a].nan;
        b[CSEG_XSUM_DIGITS + 1] = acc[a].pinf;
        b[CSEG_XSUM_DIGITS + 2] = acc[a].ninf;
    }
    int size;
    MPI_Comm_size(comm, &size);
    if (MPI_Allreduce(MPI_IN_PLACE, buf, (int)(nc + na * W), MPI_INT64_T, MPI_SUM, comm) !=
        MPI_SUCCESS) {
        if (buf != small)
            free(buf);
        return CSEG_EIO;
    }
    for (size_t i = 0; i < nc; i++)
        counts[i] = (uint64_t)buf[i];
    for (size_t a = 0; a < na; a++) {
        const int64_t *b = buf + nc + a * W;
        memcpy(acc[a].w, b, sizeof acc[a].w);
        acc[a].pending = (uint32_t)size; /* a word grew by under 2^32 a process */
        acc[a].nan = b[CSEG_XSUM_DIGITS] > 0;
        acc[a].pinf = b[CSEG_XSUM_DIGITS + 1] > 0;
        acc[a].ninf = b[CSEG_XSUM_DIGITS + 2] > 0;
    }
    if (buf != small)
        free(buf);
    return 0;
}

static int select_hook(void *ctx, double *x, size_t n, const uint64_t *ranks, size_t m, double *out,
                       cseg_diag *d)
{
    return cseg_mpi_select(*(MPI_Comm *)ctx, x, n, ranks, m, out, d);
}

static void free_levels(char **lv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lv[i]);
    free(lv);
}

/* Every rank's levels (NUL-ended, one block a rank, in rank order), then
 * each level where it first appears: a hash set of the ones kept. */
static int levels_hook(void *ctx, int rc, char ***lv, size_t *n, cseg_diag *d)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    int size;
    MPI_Comm_size(comm, &size);
    size_t len = 0;
    for (size_t i = 0; rc == 0 && i < *n; i++)
        len += strlen((*lv)[i]) + 1;
    if (len > (size_t)INT32_MAX / 2)
        rc = CSEG_ETOOBIG;
    int mine[2] = {0, (int)len}, *all = malloc(2 * (size_t)size * sizeof *all);
    int *cnt = malloc((size_t)size * sizeof *cnt), *dsp = malloc((size_t)size * sizeof *dsp);
    char *out = malloc(len ? len : 1), *got = NULL;
    int worst = all && cnt && dsp && out ? rc : CSEG_ENOMEM, fail = 0;
    MPI_Allreduce(&worst, &fail, 1, MPI_INT, MPI_MIN, comm);
    if (fail < 0)
        goto fail;
    MPI_Allgather(mine, 2, MPI_INT, all, 2, MPI_INT, comm);
    size_t total = 0;
    for (int r = 0; r < size; r++) {
        cnt[r] = all[2 * r + 1];
        dsp[r] = (int)total;
        total += (size_t)cnt[r];
    }
    char *o = out;
    for (size_t i = 0; i < *n; i++)
        o = stpcpy(o, (*lv)[i]) + 1;
    got = total <= (size_t)INT32_MAX ? malloc(total ? total : 1) : NULL;
    worst = got ? 0 : CSEG_ENOMEM;
    MPI_Allreduce(&worst, &fail, 1, MPI_INT, MPI_MIN, comm);
    if (fail < 0)
        goto fail;
    MPI_Allgatherv(out, (int)len, MPI_CHAR, got, cnt, dsp, MPI_CHAR, comm);
    /* The distinct levels, in order: at most one per NUL. */
    size_t cap = 16, nk = 0, nw = 0;
    for (size_t i = 0; i < total; i++)
        nw += got[i] == 0;
    while (cap < 2 * nw)
        cap *= 2;
    const char **set = calloc(cap, sizeof *set);
    char **keep = calloc(nw ? nw : 1, sizeof *keep);
    worst = set && keep ? 0 : CSEG_ENOMEM;
    for (size_t i = 0; worst == 0 && i < total; i += strlen(got + i) + 1) {
        const char *s = got + i;
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (const char *p = s; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        size_t slot = (size_t)h & (cap - 1);
        while (set[slot] && strcmp(set[slot], s) != 0)
            slot = (slot + 1) & (cap - 1);
        if (set[slot])
            continue;
        set[slot] = s;
        if (!(keep[nk++] = strdup(s)))
            worst = CSEG_ENOMEM;
    }
    free(set);
    MPI_Allreduce(&worst, &fail, 1, MPI_INT, MPI_MIN, comm);
    if (fail < 0) {
        free_levels(keep, nk);
        goto fail;
    }
    free_levels(*lv, *n);
    *lv = keep;
    *n = nk;
    free(all), free(cnt), free(dsp), free(out), free(got);
    return 0;
fail:
    free(all), free(cnt), free(dsp), free(out), free(got);
    return cseg__diag(d, fail, NULL, 0, 0, "%s",
                      fail == CSEG_ENOMEM ? "out of memory" : cseg_strerror(fail));
}

/* acc from the rank before (rank 0: as given), this rank's add, on to the
 * next; the last rank's to all. A rank waits for the ones before it, but
 * only to add what it has already computed (the caller does the work
 * before the chain): a few microseconds a rank. */
static int chain_hook(void *ctx, double *acc, size_t m, void (*add)(void *u, double *acc), void *u)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    int rank, size, ok = m <= (size_t)INT32_MAX;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (!ok) /* the same m on every rank: all return here */
        return CSEG_ETOOBIG;
    if (rank > 0 &&
        MPI_Recv(acc, (int)m, MPI_DOUBLE, rank - 1, 11, comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        ok = 0;
    add(u, acc);
    if (rank + 1 < size && MPI_Send(acc, (int)m, MPI_DOUBLE, rank + 1, 11, comm) != MPI_SUCCESS)
        ok = 0;
    if (MPI_Bcast(acc, (int)m, MPI_DOUBLE, size - 1, comm) != MPI_SUCCESS)
        ok = 0;
    return ok ? 0 : CSEG_EIO;
}

void cseg__mpi_split_hooks(MPI_Comm *comm, cseg__split_comm *hooks)
{
    *hooks = (cseg__split_comm){comm, sum_hook, select_hook, levels_hook, chain_hook};
}

int cseg_mpi_prep_fit(MPI_Comm comm, cseg_prep *pp, const cseg_table *part,
                      const char *const *columns, size_t n_columns, cseg_diag *diag)
{
    /* Every rank's columns must have the same types (a missing one: -1),
     * or the ranks would take different steps. */
    int *ty = malloc(2 * (n_columns ? n_columns : 1) * sizeof *ty), bad = !ty, any = 0;
    for (size_t k = 0; ty && k < n_columns; k++) {
        long j = cseg_table_find(part, columns[k]);
        ty[k] = j < 0 ? -1 : (int)cseg_table_col_type(part, (size_t)j);
        ty[n_columns + k] = -ty[k];
    }
    if (ty && n_columns)
        MPI_Allreduce(MPI_IN_PLACE, ty, 2 * (int)n_columns, MPI_INT, MPI_MAX, comm);
    for (size_t k = 0; ty && k < n_columns; k++)
        bad |= (ty[k] != -ty[n_columns + k]) << 1;
    free(ty);
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_BOR, comm);
    if (any & 1)
        return cseg__diag(diag, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    if (any)
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "the processes' tables differ in their columns or their types");
    MPI_Comm c = comm;
    cseg__split_comm hooks;
    cseg__mpi_split_hooks(&c, &hooks);
    return cseg__prep_fit_split(pp, part, columns, n_columns, &hooks, diag);
}
