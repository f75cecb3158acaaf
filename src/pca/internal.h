/* custseg — private declarations of the PCA module. */
#ifndef CSEG_PCA_INTERNAL_H
#define CSEG_PCA_INTERNAL_H

#include "../core/internal.h"
#include "custseg/pca.h"

/* cseg_pca_fit_params of the rows of every piece of sc (n_all >= d of them; this
 * piece holds X, n x d, its first row a multiple of 4,096 among all): the
 * blocks' sums and partials added in block order along the pieces
 * (sc->chain), so every piece gets the model one process fitting them all
 * gets, bit for bit. A value that is not finite is named by no row (the
 * caller checks its rows). Collective over sc. */
int cseg__pca_fit_split(cseg_pca **out, const double *X, size_t n, size_t d,
                        const cseg_pca_params *p, const cseg__split_comm *sc, size_t n_all,
                        cseg_diag *diag);

#endif
