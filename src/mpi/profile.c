/* custseg — segment profiles of customers held in parts by the ranks of an
 * MPI communicator (cseg_mpi_profile_compute; built with -DCSEG_MPI=ON): the
 * library's own computation (cseg__profile_compute_split,
 * src/profile/profile.c) with the hooks of src/mpi/prep.c. */
#include "../profile/internal.h"
#include "custseg/mpi.h"
#include "internal.h"

int cseg_mpi_profile_compute(MPI_Comm comm, cseg_profile **out, const cseg_table *part,
                             const int32_t *labels, size_t k, const char *revenue_column,
                             cseg_diag *diag)
{
    MPI_Comm c = comm;
    cseg__split_comm hooks;
    cseg__mpi_split_hooks(&c, &hooks);
    cseg_diag_clear(diag);
    int rc = cseg__profile_compute_split(out, part, labels, k, revenue_column, &hooks, diag);
    if (rc < 0 && !diag->msg[0])
        cseg__diag(diag, rc, NULL, 0, 0, "%s", cseg_strerror(rc));
    return rc;
}
