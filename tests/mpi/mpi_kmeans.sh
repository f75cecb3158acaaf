#!/bin/sh
# cseg_mpi_kmeans_fit on 1, 2, 3 and 4 processes equals one process's
# cseg_kmeans_fit bit for bit (tests/mpi/test_mpi_kmeans.c).
# usage: mpi_kmeans.sh TEST_MPI_KMEANS
set -eu
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
for np in 1 2 3 4; do
    timeout 300 mpirun -n "$np" --bind-to none "$1"
done
