/* custseg — cseg_pii_kind of a text column held in parts by the ranks of
 * an MPI communicator (cseg_mpi_pii_kind; built with -DCSEG_MPI=ON). The
 * counts a verdict needs are added over the ranks; the distinct values,
 * which a sum cannot give, are counted only when the verdict turns on them
 * (a column that is mostly free text): each used value is sent to the rank
 * a hash of it names, which counts the distinct ones it receives. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../privacy/internal.h"
#include "custseg/mpi.h"
#include "internal.h"

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct values of column j used on any rank (used: this rank's
 * levels in use), into *distinct. Collective. */
static int count_distinct(MPI_Comm comm, const cseg_table *t, size_t j, const unsigned char *used,
                          uint64_t *distinct)
{
    int np, rc = 0;
    MPI_Comm_size(comm, &np);
    size_t nl = cseg_table_n_levels(t, j);
    size_t *cnt = calloc(3 * (size_t)np, sizeof *cnt); /* places, counts sent and got */
    uint64_t *bytes = calloc((size_t)np, sizeof *bytes), *owner = malloc((nl ? nl : 1) * 8);
    char *send = NULL, *recv = NULL, **v = NULL;
    int ok = cnt && bytes && owner, all = 0;
    for (size_t l = 0; ok && l < nl; l++) {
        owner[l] = fnv1a(cseg_table_level(t, j, (int32_t)l)) % (uint64_t)np;
        if (used[l])
            bytes[owner[l]] += strlen(cseg_table_level(t, j, (int32_t)l)) + 1;
    }
    uint64_t total = 0;
    for (int q = 0; ok && q < np; q++)
        total += bytes[q];
    /* failures as bits, or'ed over the ranks: 1 memory, 2 beyond an int */
    int bad = (total > INT_MAX) << 1, any = 0;
    ok = ok && !bad && (send = malloc(total ? total : 1));
    bad |= !ok && !bad;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_BOR, comm);
    if (any) {
        rc = any & 2 ? CSEG_ETOOBIG : CSEG_ENOMEM;
        goto out;
    }
    /* each used value at its owner's place in send, owners in order */
    size_t *at = cnt, *count = cnt + np, *from = cnt + 2 * np, place = 0;
    for (int q = 0; q < np; q++) {
        at[q] = place;
        count[q] = (size_t)bytes[q];
        place += count[q];
    }
    for (size_t l = 0; l < nl; l++)
        if (used[l]) {
            const char *s = cseg_table_level(t, j, (int32_t)l);
            size_t len = strlen(s) + 1;
            memcpy(send + at[owner[l]], s, len);
            at[owner[l]] += len;
        }
    if ((rc = cseg__mpi_exchange(comm, send, count, &recv, from)) < 0)
        goto out;
    uint64_t got = 0;
    for (int q = 0; q < np; q++)
        got += from[q];
    size_t ns = 0;
    for (uint64_t o = 0; o < got; o += strlen(recv + o) + 1)
        ns++;
    v = malloc((ns ? ns : 1) * sizeof *v);
    uint64_t mine = 0;
    if (v) {
        size_t i = 0;
        for (uint64_t o = 0; o < got; o += strlen(recv + o) + 1)
            v[i++] = recv + o;
        qsort(v, ns, sizeof *v, cmp_str);
        for (i = 0; i < ns; i++)
            mine += i == 0 || strcmp(v[i], v[i - 1]) != 0;
    }
    ok = v != NULL;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, comm);
    MPI_Allreduce(&mine, distinct, 1, MPI_UINT64_T, MPI_SUM, comm);
    rc = all ? 0 : CSEG_ENOMEM;
out:
    free(cnt), free(bytes), free(owner), free(send), free(recv), free(v);
    return rc;
}

int cseg_mpi_pii_kind(MPI_Comm comm, const cseg_table *part, size_t j, const char **kind,
                      cseg_diag *diag)
{
    *kind = NULL;
    if (!cseg__mpi_same_columns(comm, part))
        return cseg__diag(diag, CSEG_EINVAL, NULL, 0, 0,
                          "the processes' tables differ in their columns or their types");
    if (j >= cseg_table_n_cols(part) || !cseg_table_codes(part, j))
        return 0; /* not a text column: no personal data (the same on every rank) */
    size_t nl = cseg_table_n_levels(part, j);
    unsigned char *used = calloc(nl ? nl : 1, 1);
    uint64_t c[CSEG__PII_COUNTS] = {UINT64_MAX, 0, 0, 0, 0}, oom = 0;
    if (used)
        cseg__pii_count(part, j, cseg_table_codes(part, j), cseg_table_n_rows(part), c, used);
    oom = c[0] == UINT64_MAX;
    if (oom)
        c[0] = 0;
    uint64_t sum[CSEG__PII_COUNTS + 1];
    memcpy(sum, c, sizeof c);
    sum[CSEG__PII_COUNTS] = oom;
    int rc = 0;
    if (MPI_Allreduce(MPI_IN_PLACE, sum, CSEG__PII_COUNTS + 1, MPI_UINT64_T, MPI_SUM, comm) !=
        MPI_SUCCESS)
        rc = CSEG_EIO;
    else if (sum[CSEG__PII_COUNTS])
        rc = CSEG_ENOMEM;
    /* sum[4], the distinct values of each rank added, bounds the distinct
     * values of all from above: only a count above half of the values
     * needs the exact one, and only for free text. */
    uint64_t m = sum[0];
    if (rc == 0 && m && 2 * sum[1] < m && 2 * sum[2] < m && 2 * sum[3] >= m && 2 * sum[4] >= m)
        rc = count_distinct(comm, part, j, used, &sum[4]);
    free(used);
    if (rc < 0)
        return cseg__diag(diag, rc, NULL, 0, 0, "personal data check: %s", cseg_strerror(rc));
    *kind = cseg__pii_verdict(sum);
    return 0;
}
