#!/bin/sh
# The library's MPI pieces on 1, 2, 3 and 4 processes against one process:
# cseg_mpi_kmeans_fit (tests/mpi/test_mpi_kmeans.c), cseg_mpi_select /
# cseg_mpi_quantiles (tests/mpi/test_mpi_select.c), cseg_mpi_metrics_*
# (tests/mpi/test_mpi_metrics.c), cseg_mpi_table_read_csv
# (tests/mpi/test_mpi_table.c), cseg_mpi_prep_fit (tests/mpi/test_mpi_prep.c),
# cseg_mpi_profile_compute (tests/mpi/test_mpi_profile.c) and
# cseg_mpi_segment_customers (tests/mpi/test_mpi_segment.c).
# usage: mpi_lib.sh TEST_MPI_KMEANS TEST_MPI_SELECT TEST_MPI_METRICS TEST_MPI_TABLE TEST_MPI_PREP
#                   TEST_MPI_PROFILE TEST_MPI_SEGMENT
set -eu
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
for np in 1 2 3 4; do
    for t in "$@"; do
        timeout -k 10 300 mpirun -n "$np" --bind-to none "$t"
    done
done
