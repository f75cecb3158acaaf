/* custseg — exact order statistics and quantiles of values spread over
 * MPI ranks (cseg_mpi_select, cseg_mpi_quantiles; built with -DCSEG_MPI=ON).
 *
 * A radix selection on the values' order-preserving 64-bit keys (the
 * sign bit flipped, negative numbers all bits), most significant byte
 * first: per pass, every rank counts, for each wanted order statistic, the
 * next byte of its keys that share the prefix found so far; one
 * MPI_Allreduce adds the counts, and every rank walks them alike to the
 * byte where the wanted rank falls. Eight passes give the exact key, so the
 * value, of every wanted rank at once; nothing is sampled or approximated.
 * Per pass a rank reads its n keys once per wanted statistic and the
 * reduction moves 256 counts per wanted statistic. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/mpi.h"

/* Up to this many order statistics at once, the passes over the keys
 * below (each pass reads every key once per statistic); more (the drift
 * reference's 1,001 quantiles of a column), select_many. */
#define SELECT_FEW 16

/* The keys below key c among the n sorted keys k. */
static size_t below(const uint64_t *k, size_t n, uint64_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Many order statistics: each rank sorts its keys once (into k, n of
 * them), then every wanted key is found bit by bit from the top, all at
 * once: a round counts, for each, the keys below its candidate (a binary
 * search) and one MPI_Allreduce of m counts adds them: 64 rounds. The key
 * of rank r is the largest K with fewer than r + 1 keys below it. out
 * receives the keys, cnt is room for m counts. */
static int select_many(MPI_Comm comm, const double *x, size_t n, uint64_t *k, const uint64_t *ranks,
                       size_t m, uint64_t *out, uint64_t *cnt, cseg_diag *d)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    int oom = !v, any_oom = 0;
    MPI_Allreduce(&oom, &any_oom, 1, MPI_INT, MPI_LOR, comm);
    if (any_oom) {
        free(v);
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    }
    memcpy(v, x, n * sizeof *v);
    cseg__sort_doubles(v, n);
    /* In the keys' order: the sort puts equal values in any order, and
     * -0.0 == +0.0, so the zeros are written negative ones first. */
    size_t z0 = 0, zn = 0, neg = 0;
    while (z0 < n && v[z0] < 0)
        z0++;
    while (z0 + zn < n && v[z0 + zn] == 0)
        neg += signbit(v[z0 + zn++]) != 0;
    for (size_t i = 0; i < zn; i++)
        v[z0 + i] = i < neg ? -0.0 : 0.0;
    for (size_t i = 0; i < n; i++)
        k[i] = cseg__key_of(v[i]);
    free(v);
    memset(out, 0, m * sizeof *out);
    for (int bit = 63; bit >= 0; bit--) {
        for (size_t w = 0; w < m; w++)
            cnt[w] = below(k, n, out[w] | (uint64_t)1 << bit);
        if (MPI_Allreduce(MPI_IN_PLACE, cnt, (int)m, MPI_UINT64_T, MPI_SUM, comm) != MPI_SUCCESS)
            return cseg__diag(d, CSEG_EIO, NULL, 0, 0, "the processes could not exchange counts");
        for (size_t w = 0; w < m; w++)
            if (cnt[w] <= ranks[w])
                out[w] |= (uint64_t)1 << bit;
    }
    return 0;
}

int cseg_mpi_select(MPI_Comm comm, const double *x, size_t n, const uint64_t *ranks, size_t m,
                    double *out, cseg_diag *d)
{
    uint64_t local = n, total = 0;
    MPI_Allreduce(&local, &total, 1, MPI_UINT64_T, MPI_SUM, comm);
    int bad = 0;
    for (size_t i = 0; i < m; i++)
        bad |= ranks[i] >= total;
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i])) {
            bad |= 2;
            break;
        }
    int any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_BOR, comm);
    if (any & 1)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "order statistic beyond the %llu values",
                          (unsigned long long)total);
    if (any & 2)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "a value is not a number (NaN)");
    if (m == 0)
        return 0;
    uint64_t *k = malloc((n ? n : 1) * sizeof *k), *cnt = malloc(m * 256 * sizeof *cnt);
    uint64_t *prefix = calloc(m, sizeof *prefix), *left = malloc(m * sizeof *left);
    int oom = !k || !cnt || !prefix || !left, any_oom = 0;
    MPI_Allreduce(&oom, &any_oom, 1, MPI_INT, MPI_LOR, comm);
    int rc = 0;
    if (any_oom) {
        rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    if (m > SELECT_FEW) {
        if ((rc = select_many(comm, x, n, k, ranks, m, prefix, cnt, d)) < 0)
            goto out;
        goto found;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = cseg__key_of(x[i]);
    memcpy(left, ranks, m * sizeof *left); /* the rank within the prefix's keys */
    for (int pass = 0; pass < 8; pass++) {
        int shift = 56 - 8 * pass;
        /* the bits above this byte: the prefix found so far */
        uint64_t high = pass ? ~(uint64_t)0 << (64 - 8 * pass) : 0;
        memset(cnt, 0, m * 256 * sizeof *cnt);
        for (size_t w = 0; w < m; w++) {
            uint64_t *c = cnt + w * 256, pre = prefix[w];
            for (size_t i = 0; i < n; i++)
                if ((k[i] & high) == pre)
                    c[(k[i] >> shift) & 255]++;
        }
        if (MPI_Allreduce(MPI_IN_PLACE, cnt, (int)(m * 256), MPI_UINT64_T, MPI_SUM, comm) !=
            MPI_SUCCESS) {
            rc = cseg__diag(d, CSEG_EIO, NULL, 0, 0, "the processes could not exchange counts");
            goto out;
        }
        for (size_t w = 0; w < m; w++) {
            const uint64_t *c = cnt + w * 256;
            unsigned b = 0;
            while (left[w] >= c[b]) /* the ranks in range are found before b = 255 */
                left[w] -= c[b++];
            prefix[w] |= (uint64_t)b << shift;
        }
    }
found:
    for (size_t w = 0; w < m; w++)
        out[w] = cseg__value_of(prefix[w]);
out:
    free(k);
    free(cnt);
    free(prefix);
    free(left);
    return rc;
}

int cseg_mpi_quantiles(MPI_Comm comm, const double *x, size_t n, const double *q, size_t nq,
                       double *out, cseg_diag *d)
{
    uint64_t local = n, total = 0;
    MPI_Allreduce(&local, &total, 1, MPI_UINT64_T, MPI_SUM, comm);
    if (total == 0 || nq == 0 || nq > 64)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                          total == 0 ? "no values" : "between 1 and 64 quantiles at a time");
    for (size_t i = 0; i < nq; i++)
        if (!(q[i] >= 0 && q[i] <= 1))
            return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "a quantile outside [0, 1]");
    uint64_t ranks[128];
    double v[128];
    for (size_t i = 0; i < nq; i++) /* as the one-process quantiles */
        cseg__quantile_ranks(q[i], total, ranks + 2 * i);
    int rc = cseg_mpi_select(comm, x, n, ranks, 2 * nq, v, d);
    for (size_t i = 0; rc == 0 && i < nq; i++)
        out[i] = cseg__quantile_between(v[2 * i], v[2 * i + 1], q[i], total);
    return rc;
}
