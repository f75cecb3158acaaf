/* custseg — the validity indices of rows spread over MPI ranks
 * (cseg_mpi_metrics_*; built with -DCSEG_MPI=ON).
 *
 * Davies-Bouldin and Calinski-Harabasz are the metrics module's own code
 * (cseg__metrics_*_split, src/metrics/internal.h) over the ranks' spans:
 * each sum over the rows is a sum per span, gathered, added in span order.
 * The silhouette is quadratic in its rows, so it is not spread: every rank
 * draws the same sample positions (cseg__sample_sorted, the draw of one
 * process), sends rank 0 the sampled rows it holds, in row order, and rank 0
 * computes the silhouette of those rows, which is the sampled silhouette of
 * one process holding them all. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/mpi.h"
#include "../core/internal.h"
#include "../metrics/internal.h"
#include "internal.h"

typedef int (*split_fn)(const double *X, size_t n, size_t d, const int32_t *labels,
                        const cseg__km_comm *comm, double *out);

static int over_spans(MPI_Comm comm, split_fn fn, const char *what, const double *X,
                      size_t n_rows, size_t d, const int32_t *labels, double *out,
                      cseg_diag *diag)
{
    cseg__mpi_spans c;
    cseg__km_comm ops;
    int rc = cseg__mpi_spans_open(comm, n_rows, &c, &ops, what, diag);
    if (rc < 0)
        return rc;
    rc = fn(X, n_rows, d, labels, &ops, out);
    cseg__mpi_spans_close(&c);
    return rc < 0 ? cseg__diag(diag, rc, NULL, 0, 0, "%s: %s", what, cseg_strerror(rc)) : rc;
}

int cseg_mpi_metrics_davies_bouldin(MPI_Comm comm, const double *X, size_t n_rows, size_t d,
                                    const int32_t *labels, double *out, cseg_diag *diag)
{
    return over_spans(comm, cseg__metrics_davies_bouldin_split, "Davies-Bouldin", X, n_rows, d,
                      labels, out, diag);
}

int cseg_mpi_metrics_calinski_harabasz(MPI_Comm comm, const double *X, size_t n_rows, size_t d,
                                       const int32_t *labels, double *out, cseg_diag *diag)
{
    return over_spans(comm, cseg__metrics_calinski_harabasz_split, "Calinski-Harabasz", X, n_rows,
                      d, labels, out, diag);
}

/* Every rank's failure made every rank's (all return the first failing
 * code among them, by rank). */
static int agree(MPI_Comm comm, int rc)
{
    int worst = rc < 0 ? rc : 0, any = 0;
    if (MPI_Allreduce(&worst, &any, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return CSEG_EIO;
    return any < 0 ? any : rc;
}

int cseg__mpi_silhouette(MPI_Comm comm, const double *X, size_t n_rows, size_t d,
                         const int32_t *labels, const cseg_silhouette_params *p, double *score,
                         double **values, int32_t **vlabels, size_t *nv, cseg_diag *diag)
{
    cseg_silhouette_params defaults;
    if (!p) {
        cseg_silhouette_params_init(&defaults);
        p = &defaults;
    }
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* The non-noise rows: this rank's, the ones before it, all. */
    uint64_t mine = 0, before = 0, all = 0;
    for (size_t i = 0; i < n_rows; i++)
        mine += labels[i] >= 0;
    MPI_Exscan(&mine, &before, 1, MPI_UINT64_T, MPI_SUM, comm);
    if (rank == 0)
        before = 0; /* MPI_Exscan leaves rank 0's undefined */
    MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, comm);
    size_t m = (size_t)all, s = p->sample_size > 0 && p->sample_size < m ? p->sample_size : m;
    size_t *at = s < m ? malloc(s * sizeof *at) : NULL, w = d + 1;
    int rc = s < m && !at ? CSEG_ENOMEM : 0;
    if (rc == 0 && (s > INT_MAX / w || (size_t)size > INT_MAX))
        rc = CSEG_ETOOBIG; /* the gather's counts are ints */
    if (rc == 0 && at)
        rc = cseg__sample_sorted(m, s, p->seed, at);
    /* The sampled positions this rank holds: [lo, hi) of at (or of 0..m-1). */
    size_t lo = 0, hi = 0;
    if (rc == 0) {
        size_t o0 = (size_t)before, o1 = o0 + (size_t)mine;
        if (at) {
            while (lo < s && at[lo] < o0)
                lo++;
            for (hi = lo; hi < s && at[hi] < o1;)
                hi++;
        } else {
            lo = o0;
            hi = o1;
        }
    }
    double *rows = rc == 0 ? malloc((hi - lo ? hi - lo : 1) * w * sizeof *rows) : NULL;
    double *got = rank == 0 && rc == 0 ? malloc((s ? s : 1) * w * sizeof *got) : NULL;
    int *counts = rank == 0 ? malloc((size_t)size * sizeof *counts) : NULL;
    int *displs = rank == 0 ? malloc((size_t)size * sizeof *displs) : NULL;
    if (rc == 0 && (!rows || (rank == 0 && (!got || !counts || !displs))))
        rc = CSEG_ENOMEM;
    if ((rc = agree(comm, rc)) < 0)
        goto out;
    /* This rank's sampled rows, their values then their label, in row order. */
    size_t t = lo, ord = (size_t)before;
    for (size_t i = 0; i < n_rows && t < hi; i++) {
        if (labels[i] < 0)
            continue;
        if ((at ? at[t] : t) == ord) {
            double *r = rows + (t - lo) * w;
            memcpy(r, X + i * d, d * sizeof *r);
            r[d] = labels[i];
            t++;
        }
        ord++;
    }
    int cnt = (int)((hi - lo) * w);
    if (MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, comm) != MPI_SUCCESS) {
        rc = CSEG_EIO;
        goto out;
    }
    for (int r = 0, o = 0; rank == 0 && r < size; r++) {
        displs[r] = o;
        o += counts[r];
    }
    if (MPI_Gatherv(rows, cnt, MPI_DOUBLE, got, counts, displs, MPI_DOUBLE, 0, comm) !=
        MPI_SUCCESS) {
        rc = CSEG_EIO;
        goto out;
    }
    double res[2] = {0, 0}; /* code, score */
    /* with values: the sampled rows' values, then their labels */
    double *vals = values ? malloc((s ? s : 1) * 2 * sizeof *vals) : NULL;
    int32_t *vl = values ? malloc((s ? s : 1) * sizeof *vl) : NULL;
    if ((rc = agree(comm, values && (!vals || !vl) ? CSEG_ENOMEM : 0)) < 0) {
        free(vals), free(vl);
        goto out;
    }
    if (rank == 0) {
        double *Xs = malloc((s ? s : 1) * d * sizeof *Xs);
        int32_t *ls = malloc((s ? s : 1) * sizeof *ls);
        int r0 = Xs && ls ? 0 : CSEG_ENOMEM;
        for (size_t u = 0; u < s && r0 == 0; u++) {
            memcpy(Xs + u * d, got + u * w, d * sizeof *Xs);
            ls[u] = (int32_t)got[u * w + d];
            if (vals)
                vals[s + u] = ls[u];
        }
        cseg_silhouette_params q = *p;
        q.sample_size = 0; /* the rows are the sample */
        if (r0 == 0)
            r0 = cseg_metrics_silhouette(Xs, s, d, ls, &q, &res[1], vals);
        res[0] = r0;
        free(Xs);
        free(ls);
    }
    if (MPI_Bcast(res, 2, MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    else if ((rc = (int)res[0]) == 0)
        *score = res[1];
    if (rc == 0 && vals && MPI_Bcast(vals, (int)(2 * s), MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
        rc = CSEG_EIO;
    if (rc == 0 && vals) {
        for (size_t u = 0; u < s; u++)
            vl[u] = (int32_t)vals[s + u];
        *values = vals, *vlabels = vl, *nv = s;
    } else {
        free(vals), free(vl);
    }
out:
    free(at);
    free(rows);
    free(got);
    free(counts);
    free(displs);
    return rc < 0 ? cseg__diag(diag, rc, NULL, 0, 0, "silhouette: %s", cseg_strerror(rc)) : rc;
}

int cseg_mpi_metrics_silhouette(MPI_Comm comm, const double *X, size_t n_rows, size_t d,
                                const int32_t *labels, const cseg_silhouette_params *p,
                                double *score, cseg_diag *diag)
{
    return cseg__mpi_silhouette(comm, X, n_rows, d, labels, p, score, NULL, NULL, NULL, diag);
}
