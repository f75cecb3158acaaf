/* Helpers of the MPI library tests (plain C: each rank checks, the job
 * fails when any rank does). */
#ifndef CSEG_TEST_MPI_UTIL_H
#define CSEG_TEST_MPI_UTIL_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int rank, size, fails;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "FAIL (rank %d of %d, line %d): ", rank, size, __LINE__);    \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            fails++;                                                                      \
        }                                                                                 \
    } while (0)

static inline uint64_t next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline double unif(uint64_t *s) /* [0, 1), 53 bits */
{
    return (double)(next(s) >> 11) / 9007199254740992.0;
}

/* The code of level name in a part's levels lv (nlv of them, in order of
 * first appearance; the name is added when new; lv has room). */
static inline int32_t level_code(const char **lv, size_t *nlv, const char *name)
{
    for (size_t j = 0; j < *nlv; j++)
        if (strcmp(lv[j], name) == 0)
            return (int32_t)j;
    lv[*nlv] = name;
    return (int32_t)(*nlv)++;
}

/* Rows of rank r: an uneven split, rank 1 none from 3 processes on. */
static inline void part_of(size_t n, int r, size_t *r0, size_t *r1)
{
    size_t w = 0, before = 0;
    for (int q = 0; q < size; q++)
        w += size >= 3 && q == 1 ? 0 : (size_t)q + 1;
    for (int q = 0; q < r; q++)
        before += size >= 3 && q == 1 ? 0 : (size_t)q + 1;
    size_t mine = size >= 3 && r == 1 ? 0 : (size_t)r + 1;
    *r0 = n * before / w;
    *r1 = r == size - 1 ? n : n * (before + mine) / w;
}

/* MPI started, this process's rank and the job's size set (finish ends it). */
static inline void start(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
}

/* The job's verdict: the failures of every rank summed, said by rank 0;
 * ends MPI and returns the exit status. */
static inline int finish(void)
{
    int all = 0;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d processes, %d failure(s)\n", all ? "FAIL" : "ok", size, all);
    MPI_Finalize();
    return all ? 1 : 0;
}

#endif
