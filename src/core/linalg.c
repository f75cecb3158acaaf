/* custseg — the one place that calls BLAS/LAPACK (OpenBLAS + LAPACKE).
 * Everything else uses these small wrappers, so the dependency stays in one
 * file and the rest of the library keeps plain C loops where they are faster
 * for the small dimensions of customer features. */
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int cseg__sym_eig(size_t n, const double *A, double *w, double *V)
{
    if (n == 0 || n > (size_t)1 << 20)
        return CSEG_EINVAL;
    memcpy(V, A, n * n * sizeof *V);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, V, (lapack_int)n, w);
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
