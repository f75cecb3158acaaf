/* custseg — the one place that calls BLAS/LAPACK (OpenBLAS + LAPACKE).
 * Everything else uses these small wrappers, so the dependency stays in one
 * file and the rest of the library keeps plain C loops where they are faster
 * for the small dimensions of customer features.
 *
 * Symmetric eigenproblems up to CSEG_EIG_JACOBI_MAX are solved here by cyclic
 * Jacobi rotations instead of LAPACK: OpenBLAS's dsyevd gives different bits
 * for the same 32 x 32 matrix with OPENBLAS_NUM_THREADS=1 and 2 (its BLAS
 * calls are threaded and there is no per-call setting), which would make
 * every PCA depend on the environment. Jacobi is plain C, so its result is
 * the same whatever the threads; it is also the most accurate method for
 * small eigenvalues of positive semi-definite matrices (Demmel & Veselic
 * 1992). Cost about 10 sweeps of 4 n^3 flops: negligible for tens of
 * features, about 0.05 s at n = 128 and 0.3 s at 256 (so LAPACK above 128).
 *
 * LAPACKE is opened when first needed (dl.c): most runs never need it. */
#include <dlfcn.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CSEG_EIG_JACOBI_MAX 128
#define CSEG_EIG_MAX_SWEEPS 100

/* Cyclic Jacobi (row by row over p < q): rotate away a[p][q] unless it is
 * negligible against the diagonal, |a_pq| <= eps sqrt(|a_pp a_qq|), which is
 * the stopping rule that keeps relative accuracy; stop after a sweep without
 * rotations. A (n x n, full, symmetric) is overwritten with the diagonal
 * form; Vt gets the eigenvectors as rows. By symmetry a rotation is applied
 * to rows p and q (contiguous) and mirrored into columns p and q. */
static int jacobi(size_t n, double *A, double *Vt)
{
    for (size_t i = 0; i < n * n; i++)
        Vt[i] = 0;
    for (size_t i = 0; i < n; i++)
        Vt[i * n + i] = 1;
    for (int sweep = 0; sweep < CSEG_EIG_MAX_SWEEPS; sweep++) {
        size_t rotations = 0;
        for (size_t p = 0; p + 1 < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = A[p * n + q], app = A[p * n + p], aqq = A[q * n + q];
                if (apq == 0 || fabs(apq) <= DBL_EPSILON * sqrt(fabs(app * aqq)))
                    continue;
                double theta = (aqq - app) / (2 * apq), t;
                /* For huge theta, theta^2 would overflow; t ~ 1 / (2 theta). */
                if (fabs(theta) > 1e150)
                    t = 1 / (2 * theta);
                else
                    t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                double *rp = A + p * n, *rq = A + q * n;
                for (size_t k = 0; k < n; k++) {
                    double apk = rp[k], aqk = rq[k];
                    rp[k] = c * apk - s * aqk;
                    rq[k] = s * apk + c * aqk;
                }
                /* The rotation's exact effect on the pivot entries. */
                rp[p] = app - t * apq;
                rq[q] = aqq + t * apq;
                rp[q] = rq[p] = 0;
                for (size_t k = 0; k < n; k++) {
                    A[k * n + p] = rp[k];
                    A[k * n + q] = rq[k];
                }
                double *vp = Vt + p * n, *vq = Vt + q * n;
                for (size_t k = 0; k < n; k++) {
                    double a = vp[k], b = vq[k];
                    vp[k] = c * a - s * b;
                    vq[k] = s * a + c * b;
                }
                rotations++;
            }
        if (rotations == 0)
            return 0;
    }
    return CSEG_ERANGE;
}

static int sym_eig_jacobi(size_t n, const double *A, double *w, double *V)
{
    double *B = malloc(n * n * sizeof *B), *Vt = malloc(n * n * sizeof *Vt);
    size_t *ord = malloc(n * sizeof *ord);
    int rc = CSEG_ENOMEM;
    if (!B || !Vt || !ord)
        goto out;
    memcpy(B, A, n * n * sizeof *B);
    if ((rc = jacobi(n, B, Vt)) < 0)
        goto out;
    /* Descending eigenvalues; insertion sort keeps ties in index order. */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && B[ord[j - 1] * n + ord[j - 1]] < B[i * n + i]; j--)
            ord[j] = ord[j - 1];
        ord[j] = i;
    }
    for (size_t c = 0; c < n; c++) {
        w[c] = B[ord[c] * n + ord[c]];
        for (size_t r = 0; r < n; r++)
            V[r * n + c] = Vt[ord[c] * n + r];
    }
    rc = 0;
out:
    free(B);
    free(Vt);
    free(ord);
    return rc;
}

static struct {
    __typeof__(&LAPACKE_dsyevd) LAPACKE_dsyevd;
} lapacke;

static const char *lapacke_resolve(void *h)
{
    CSEG__DL_SYM(lapacke, h, LAPACKE_dsyevd)
    return NULL;
}

static cseg__dl lapacke_lib = CSEG__DL_INIT(CSEG_SONAME_LAPACKE, "eigenvectors of more than 128 "
                                            "dimensions", "liblapacke", lapacke_resolve);

int cseg__sym_eig(size_t n, const double *A, double *w, double *V)
{
    if (n == 0 || n > (size_t)1 << 20)
        return CSEG_EINVAL;
    if (n <= CSEG_EIG_JACOBI_MAX)
        return sym_eig_jacobi(n, A, w, V);
    int rc = cseg__dl_load(&lapacke_lib, NULL);
    if (rc < 0)
        return rc;
    memcpy(V, A, n * n * sizeof *V);
    lapack_int info =
        lapacke.LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, V, (lapack_int)n, w);
    if (info != 0)
        return info < 0 ? CSEG_EINVAL : CSEG_ERANGE;
    /* LAPACK returns ascending eigenvalues; callers want descending. */
    for (size_t i = 0; i < n / 2; i++) {
        size_t j = n - 1 - i;
        double t = w[i];
        w[i] = w[j];
        w[j] = t;
        for (size_t r = 0; r < n; r++) {
            t = V[r * n + i];
            V[r * n + i] = V[r * n + j];
            V[r * n + j] = t;
        }
    }
    return 0;
}
