/* custseg — a transaction log's customers kept in parts by the ranks that
 * built them (cseg_mpi_rfm_compute_csv_part; built with -DCSEG_MPI=ON).
 *
 * Each rank holds its customers (those a hash of the id gave it) as a part
 * in id order (src/features/acc.c). The customer table of one process is
 * every customer in id order; the ranks' parts of it are the blocks
 * cseg_mpi_kmeans_split gives (whole spans, in rank order). So every block
 * boundary is found as an order statistic of the ids of all ranks: a
 * selection over the ranks' sorted ids (each round every rank proposes the
 * middle id of what is left of its range, weighted by its size; the
 * weighted median of the proposals splits every range; the ranges shrink by
 * a quarter at least, so about 2 log2(customers) rounds of one small
 * gather and one sum). Each rank then cuts its part into slices at the
 * boundaries, sends slice q to rank q (cseg__mpi_exchange), and assembles
 * the slices it receives (cseg__rfm_assemble_split: a merge of sorted
 * runs; the R/F/M scores by order statistics over all ranks; the cleaning
 * counts and attribute levels, which every slice carries whole, added and
 * merged as the one-process assembly does). A rank holds its block and its
 * own part, and every attribute's levels: each slice carries its reader's
 * levels whole, since a block's table lists every level in the order of
 * the log (an attribute of one value a customer, an e-mail address, puts
 * them all on every rank: attributes are meant for columns of few values,
 * a country or a channel). The boundaries are found one after the other:
 * about 2 log2(customers) rounds each, P - 1 of them. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../features/internal.h"
#include "custseg/mpi.h"
#include "internal.h"

/* Every rank's middle id of what is left of its range (lo..hi), as the
 * proposals of one round: each rank's id (or none) with the size of its
 * range, gathered on every rank. Returns the pivot: the proposal at which
 * the sizes, in id order, reach half their total (malloc'ed), or NULL. */
static char *pivot(MPI_Comm comm, const char *const *ids, size_t lo, size_t hi, int *rc)
{
    int np;
    MPI_Comm_size(comm, &np);
    const char *mid = hi > lo ? ids[lo + (hi - lo) / 2] : "";
    uint64_t mine[2] = {hi - lo, strlen(mid) + 1};
    uint64_t *all = malloc(2 * (size_t)np * sizeof *all);
    int *cnt = malloc((size_t)np * sizeof *cnt), *dsp = malloc((size_t)np * sizeof *dsp);
    char *text = NULL, *pick = NULL;
    const char **prop = malloc((size_t)np * sizeof *prop);
    uint64_t *w = malloc((size_t)np * sizeof *w);
    int ok = all && cnt && dsp && prop && w, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, comm);
    if (!all_ok) {
        *rc = CSEG_ENOMEM;
        goto out;
    }
    MPI_Allgather(mine, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, comm);
    uint64_t bytes = 0;
    for (int q = 0; q < np; q++) {
        cnt[q] = (int)all[2 * q + 1];
        dsp[q] = (int)bytes;
        bytes += all[2 * q + 1];
    }
    ok = bytes <= INT_MAX && (text = malloc(bytes ? (size_t)bytes : 1));
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, comm);
    if (!all_ok) {
        *rc = CSEG_ENOMEM;
        goto out;
    }
    MPI_Allgatherv(mid, (int)mine[1], MPI_CHAR, text, cnt, dsp, MPI_CHAR, comm);
    /* The proposals of ranks with ids left, sorted by id (insertion: np is
     * small), then the weighted median. */
    int n = 0;
    uint64_t total = 0;
    for (int q = 0; q < np; q++) {
        if (all[2 * q] == 0)
            continue;
        const char *s = text + dsp[q];
        uint64_t wq = all[2 * q];
        int at = n++;
        while (at > 0 && cseg__rfm_id_cmp(prop[at - 1], s) > 0) {
            prop[at] = prop[at - 1];
            w[at] = w[at - 1];
            at--;
        }
        prop[at] = s;
        w[at] = wq;
        total += wq;
    }
    uint64_t run = 0;
    for (int i = 0; i < n && !pick; i++) {
        run += w[i];
        if (2 * run >= total && !(pick = cseg__strdup(prop[i])))
            *rc = CSEG_ENOMEM; /* the same on every rank but for memory: agreed by the caller */
    }
out:
    free(all), free(cnt), free(dsp), free(text), free(prop), free(w);
    return pick;
}

/* The first position in ids[lo..hi) whose id is not below x. */
static size_t lower_bound(const char *const *ids, size_t lo, size_t hi, const char *x)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cseg__rfm_id_cmp(ids[mid], x) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* How many of this rank's m ids (sorted) are among the first `target` of
 * all ranks' ids (n_all of them, each on one rank). Collective. */
static int ids_before(MPI_Comm comm, const char *const *ids, size_t m, uint64_t target,
                      uint64_t n_all, size_t *count)
{
    if (target == 0 || target >= n_all) { /* the same on every rank */
        *count = target == 0 ? 0 : m;
        return 0;
    }
    size_t lo = 0, hi = m;
    uint64_t k = target; /* the wanted id's place among what is left of all the ranges */
    for (;;) {
        int rc = 0;
        char *x = pivot(comm, ids, lo, hi, &rc);
        size_t at = x ? lower_bound(ids, lo, hi, x) : lo;
        int here = x && at < hi && cseg__rfm_id_cmp(ids[at], x) == 0; /* the pivot is ours */
        uint64_t s[3] = {at - lo, (uint64_t)here, rc < 0 || !x};
        MPI_Allreduce(MPI_IN_PLACE, s, 3, MPI_UINT64_T, MPI_SUM, comm);
        free(x);
        if (s[2])
            return CSEG_ENOMEM;
        uint64_t below = s[0], eq = s[1];
        if (k < below) {
            hi = at;
        } else if (k < below + eq) { /* the pivot is the wanted id: the ids below it */
            *count = at;
            return 0;
        } else {
            lo = at + (size_t)here;
            k -= below + eq;
        }
    }
}

int cseg__mpi_rfm_spread(MPI_Comm comm, const char *part, size_t part_len, const cseg_rfm_params *p,
                         const cseg_txn_roles *roles, cseg_table **customers, size_t *row0,
                         cseg_quality *q, cseg_diag *d)
{
    int np, rank, rc = 0;
    MPI_Comm_size(comm, &np);
    MPI_Comm_rank(comm, &rank);
    *customers = NULL;
    const char **ids = NULL;
    size_t m = 0;
    uint64_t *bound = malloc(((size_t)np + 1) * sizeof *bound);
    size_t *cut = malloc(((size_t)np + 1) * sizeof *cut);
    size_t *count = malloc((size_t)np * sizeof *count); /* bytes of each slice sent */
    cseg__buf out = {0};
    char *in = NULL, **slices = NULL;
    size_t *lens = NULL;
    if ((rc = cseg__rfm_part_ids(part, part_len, &ids, &m)) == 0 && (!bound || !cut || !count))
        rc = CSEG_ENOMEM;
    if ((rc = cseg__mpi_agree(
             comm, rc < 0 ? cseg__diag(d, rc, NULL, 0, 0, "%s", cseg_strerror(rc)) : 0, 0, d)) < 0)
        goto out;
    /* The blocks: every rank's first row among all the customers. */
    uint64_t mine = m, n_all = 0;
    MPI_Allreduce(&mine, &n_all, 1, MPI_UINT64_T, MPI_SUM, comm);
    size_t r0, nr;
    cseg_mpi_kmeans_split(comm, (size_t)n_all, &r0, &nr);
    uint64_t r064 = r0;
    MPI_Allgather(&r064, 1, MPI_UINT64_T, bound, 1, MPI_UINT64_T, comm);
    bound[np] = n_all;
    /* Where each block starts among this rank's customers. */
    cut[0] = 0;
    cut[np] = m;
    for (int b = 1; b < np && rc == 0; b++)
        rc = ids_before(comm, ids, m, bound[b], n_all, &cut[b]);
    if ((rc = cseg__mpi_agree(comm, rc < 0 ? cseg__diag(d, rc, NULL, 0, 0, "out of memory") : 0, 0,
                              d)) < 0)
        goto out;
    /* Slice b of this rank's part to rank b, in one exchange. */
    for (int b = 0; b < np && rc == 0; b++) {
        size_t before = out.len;
        rc = cseg__rfm_part_slice(part, part_len, cut[b], cut[b + 1], &out);
        count[b] = out.len - before;
        if (out.len > INT_MAX)
            rc = CSEG_ETOOBIG;
    }
    if ((rc = cseg__mpi_agree(comm,
                              rc < 0 ? cseg__diag(d, rc, NULL, 0, 0,
                                                  rc == CSEG_ETOOBIG
                                                      ? "a part of the customers is beyond "
                                                        "2 GiB: use more processes"
                                                      : "%s",
                                                  cseg_strerror(rc))
                                     : 0,
                              0, d)) < 0)
        goto out;
    slices = malloc((size_t)np * sizeof *slices);
    lens = malloc((size_t)np * sizeof *lens);
    if ((rc = cseg__mpi_agree(
             comm, slices && lens ? 0 : cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory"), 0,
             d)) < 0)
        goto out;
    /* the same outcome on every rank: no agreement needed after it */
    if ((rc = cseg__mpi_exchange(comm, out.p, count, &in, lens)) < 0) {
        cseg__diag(d, rc, NULL, 0, 0, "%s",
                   rc == CSEG_ETOOBIG  ? "a block of the customers is beyond 2 GiB: use more "
                                         "processes"
                   : rc == CSEG_ENOMEM ? "out of memory"
                                       : cseg_strerror(rc));
        goto out;
    }
    free(out.p);
    out.p = NULL;
    size_t at = 0;
    for (int b = 0; b < np; at += lens[b], b++)
        slices[b] = in + at;
    /* This rank's block: the slices of every rank merged, scored over all. */
    MPI_Comm c = comm;
    cseg__split_comm hooks;
    cseg__mpi_split_hooks(&c, &hooks);
    rc = cseg__rfm_assemble_split((const char *const *)slices, lens, (size_t)np, p, roles, &hooks,
                                  customers, q, NULL, d);
    if (rc == 0 && cseg_table_n_rows(*customers) != nr)
        rc = cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                        "internal error: a block of %zu customers where %zu belong",
                        cseg_table_n_rows(*customers), nr);
    if ((rc = cseg__mpi_agree(comm, rc, 0, d)) < 0) {
        cseg_table_free(*customers);
        *customers = NULL;
    }
    *row0 = r0;
out:
    free(ids), free(bound), free(cut), free(count), free(out.p), free(in), free(slices), free(lens);
    return rc;
}
