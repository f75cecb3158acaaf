/* custseg — private helpers shared by all modules. Never installed. */
#ifndef CUSTSEG_CORE_INTERNAL_H
#define CUSTSEG_CORE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "custseg/error.h"

/* Internal invariants only; bad user input must never reach an assert. */
#include <assert.h>
#define CSEG_ASSERT(x) assert(x)

/* Overflow-checked a*b*c; returns 0 and sets *out, or CSEG_ETOOBIG. */
int cseg__mul(size_t a, size_t b, size_t *out);
int cseg__mul3(size_t a, size_t b, size_t c, size_t *out);

/* 64-byte aligned allocation of n*size bytes (overflow checked), or NULL.
 * Free with cseg__free_aligned. */
void *cseg__alloc_aligned(size_t n, size_t size);
/* Ask for transparent huge pages on p[0, bytes) from 4 MB up (first touches
 * of fresh memory are page faults, dear in a VM); advice only. The aligned
 * allocation above asks it itself. */
void cseg__advise_huge(void *p, size_t bytes);
void cseg__free_aligned(void *p);
/* An exactly rounded sum of doubles (xsum.c): the same bits for any order
 * of the terms and any split of them into accumulators merged afterwards;
 * inf and NaN terms give what IEEE addition gives. 552 bytes; init before
 * use (a zeroed one is empty). */
#define CSEG_XSUM_DIGITS 68
typedef struct cseg__xsum {
    int64_t w[CSEG_XSUM_DIGITS]; /* 32-bit digits of the sum in units of 2^-1074 */
    uint32_t pending;            /* terms since the digits were last normalised */
    unsigned char nan, pinf, ninf;
} cseg__xsum;
void cseg__xsum_init(cseg__xsum *a);
void cseg__xsum_add(cseg__xsum *a, double x);
void cseg__xsum_merge(cseg__xsum *a, const cseg__xsum *b);
/* Its digits in [0, 2^32) but the top one (pending 0): the form in which
 * accumulators of several processes are added word by word (up to 2^30). */
void cseg__xsum_normalize(cseg__xsum *a);
double cseg__xsum_value(const cseg__xsum *a);
/* Terms added one at a time, exactly, fast (the "large superaccumulator"
 * of the paper cited in xsum.c): a term's signed mantissa goes to one word
 * kept for its exponent, and a word joins acc only every 512 terms or at
 * the end; 2.4 times faster than cseg__xsum_add into the digits (1.6 ns
 * a term against 3.8 with four sets of digits in turn). The same exactly
 * rounded sum. 20 KB: init before use. */
typedef struct cseg__xsum_buf {
    cseg__xsum acc;
    int64_t ch[2048];   /* by exponent field: the sum of its terms' signed mantissas */
    uint16_t cnt[2048]; /* terms in ch since it joined acc (fewer than 512) */
} cseg__xsum_buf;
void cseg__xsum_buf_init(cseg__xsum_buf *b);
/* ch[e] into acc. */
void cseg__xsum_buf_flush(cseg__xsum_buf *b, unsigned e);
/* Every word into acc: acc then holds the whole sum (to merge or send). */
void cseg__xsum_buf_flush_all(cseg__xsum_buf *b);
static inline void cseg__xsum_buf_add(cseg__xsum_buf *b, double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    unsigned e = (unsigned)(u >> 52) & 0x7ff;
    if (e == 0x7ff) { /* inf, NaN: the flags */
        cseg__xsum_add(&b->acc, x);
        return;
    }
    int64_t m = (int64_t)(u & (((uint64_t)1 << 52) - 1)), neg = -(int64_t)(u >> 63);
    if (e)
        m |= (int64_t)1 << 52;
    else
        e = 1; /* a subnormal: units of 2^-1074, as e = 1 without the hidden bit */
    b->ch[e] += (m ^ neg) - neg;
    if (++b->cnt[e] == 512) /* 512 mantissas below 2^53: below 2^62 */
        cseg__xsum_buf_flush(b, e);
}
void cseg__xsum_buf_add_n(cseg__xsum_buf *b, const double *x, size_t n);
double cseg__xsum_buf_value(cseg__xsum_buf *b);
/* What a computation over rows held in pieces (MPI processes: src/mpi)
 * must know of the other pieces: every piece calls the hooks in the same
 * order and gets what one process would get from all the rows (pieces in
 * order). Each hook returns 0 or a negative code, the same on every piece.
 * Used by cseg__prep_fit_split and cseg__profile_compute_split. */
typedef struct cseg__split_comm {
    void *ctx;
    /* counts (nc) summed over the pieces and accumulators (na) merged, in
     * place. */
    int (*sum)(void *ctx, uint64_t *counts, size_t nc, cseg__xsum *acc, size_t na);
    /* Order statistics ranks[0..m) of the values of every piece (x, n here,
     * no NaN) into out; x may be reordered. */
    int (*select)(void *ctx, double *x, size_t n, const uint64_t *ranks, size_t m, double *out,
                  cseg_diag *d);
    /* A text column's levels (*lv, *n: this piece's, in its order,
     * malloc'ed; rc: this piece's failure, < 0) replaced with those of every
     * piece, in piece order, each where it first appears. */
    int (*levels)(void *ctx, int rc, char ***lv, size_t *n, cseg_diag *d);
    /* A sum taken in row order over the pieces, as one process takes it:
     * acc (m values) passed along them in piece order, each piece calling
     * add(u, acc) on what the one before passed it (the first on acc as
     * given), and the last piece's acc given to every piece. add cannot
     * fail. */
    int (*chain)(void *ctx, double *acc, size_t m, void (*add)(void *u, double *acc), void *u);
} cseg__split_comm;
/* cseg_audit_test's result from its table of counts (k x g, segments by
 * groups; audit.c): for counts added over pieces. 0 or CSEG_ENOMEM. */
struct cseg_audit_result;
int cseg__audit_stats(const size_t *counts, size_t k, size_t g, size_t n_missing,
                      struct cseg_audit_result *res);
/* qsort's comparison of doubles, ascending (no NaN expected). */
/* The decimal digits of u, at least `width` of them (zeros in front), at o;
 * returns the end (nothing written after it). Without printf: the writers
 * of tables and events format millions of numbers. */
static inline char *cseg__put_digits(char *o, unsigned long long u, int width)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u || k < width);
    while (k > 0)
        *o++ = tmp[--k];
    return o;
}

/* A double's bits as an unsigned key in the order of the values: negative
 * numbers have every bit flipped, the others their sign bit set (so -0.0
 * comes just before +0.0); and back. */
static inline uint64_t cseg__key_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u >> 63 ? ~u : u | (uint64_t)1 << 63;
}

static inline double cseg__value_of(uint64_t k)
{
    uint64_t u = k >> 63 ? k & ~((uint64_t)1 << 63) : ~k;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

int cseg__cmp_double(const void *a, const void *b);
/* Sort v ascending, as qsort with cseg__cmp_double does but several times
 * faster (a radix sort on the bits from 1,024 values; -0.0 and +0.0, equal,
 * in no set order among themselves; no NaN expected). */
void cseg__sort_doubles(double *v, size_t n);
/* The q-quantile of sorted v[0..n) (n > 0), linear between order
 * statistics: numpy's default. */
double cseg__quantile_sorted(const double *v, size_t n, double q);
/* That rule in two halves, for order statistics found without sorting
 * (selection, MPI): the 0-based ranks r[0] <= r[1] of the two order
 * statistics around q (n - 1) among n > 0 values, and the q-quantile from
 * their values lo and hi. */
void cseg__quantile_ranks(double q, uint64_t n, uint64_t *r);
double cseg__quantile_between(double lo, double hi, double q, uint64_t n);
/* The points a distribution is kept by (drift's reference; the
 * preprocessing keeps the same for it) from sorted v[0..n), n > 0: all n
 * values when n <= exact, else the quantiles i / exact, i = 0..exact.
 * cseg__quantile_points_n gives their count, the size of out. */
size_t cseg__quantile_points_n(size_t n, size_t exact);
void cseg__quantile_points(const double *v, size_t n, size_t exact, double *out);
/* The values of x[0..n) (no NaN; x unchanged) at the given 0-based ranks
 * (each < n) of their order, as cseg__sort_doubles orders them; nr <= 16
 * fast (radix selection: a few passes over n, no sort), more by sorting a
 * copy. 0 or CSEG_ENOMEM. */
int cseg__select_doubles(const double *x, size_t n, const size_t *ranks, size_t nr, double *out);
/* cseg__quantile_sorted's q-quantiles (nq <= 8) of unsorted x[0..n), n > 0,
 * by selection. 0, CSEG_EINVAL or CSEG_ENOMEM. */
int cseg__quantiles(const double *x, size_t n, const double *q, size_t nq, double *out);

/* calloc/realloc with an overflow check on n*size. */
void *cseg__calloc(size_t n, size_t size);
void *cseg__reallocarray(void *p, size_t n, size_t size);
/* cseg__reallocarray, then cseg__advise_huge on the block: for arrays that
 * grow with the data (their first touches are page faults). */
void *cseg__realloc_huge(void *p, size_t n, size_t size);
/* A growing byte buffer (zero-initialised to start): room doubles from
 * 64 KiB (cseg__realloc_huge); a failed growth sets failed for good, and
 * later calls then do nothing. The caller frees p. */
typedef struct cseg__buf {
    char *p;
    size_t len, cap;
    int failed;
} cseg__buf;
/* Room for len + more bytes: 0, or CSEG_ENOMEM (failed set). */
int cseg__buf_room(cseg__buf *b, size_t more);
/* Append n bytes of x (nothing once failed). */
void cseg__buf_put(cseg__buf *b, const void *x, size_t n);
char *cseg__strdup(const char *s);
char *cseg__strndup(const char *s, size_t n);

/* Fill diag (when not NULL) with a formatted message; returns code. */
int cseg__diag(cseg_diag *d, int code, const char *file, long line, long col, const char *fmt,
               ...) __attribute__((format(printf, 6, 7)));

/* xoshiro256** seeded through splitmix64: small, fast, reproducible. */
typedef struct cseg_rng {
    uint64_t s[4];
} cseg_rng;
void cseg__rng_seed(cseg_rng *r, uint64_t seed);
/* splitmix64: the next value of the sequence that *state steps through. */
uint64_t cseg__splitmix64(uint64_t *state);
uint64_t cseg__rng_next(cseg_rng *r);
double cseg__rng_uniform(cseg_rng *r); /* [0, 1) with 53 random bits */
size_t cseg__rng_below(cseg_rng *r, size_t n); /* unbiased in [0, n) */
/* A seeded uniform sample of s of the positions 0..m-1 (s <= m), in
 * ascending order, into out (s values): the positions a partial
 * Fisher-Yates shuffle of 0..m-1 with cseg__rng_below draws first. Memory
 * O(s), whatever m. CSEG_ENOMEM or 0. */
int cseg__sample_sorted(size_t m, size_t s, uint64_t seed, size_t *out);

/* Atomic file output: write to "<path>.tmp.XXXXXX" in the same directory,
 * then rename. cseg__atomic_commit checks ferror/fclose before renaming and
 * removes the temporary on any failure; cseg__atomic_abort just removes it.
 * A path that is a device or a pipe (/dev/null, a FIFO) is written directly
 * (tmp stays NULL); a folder is an error. */
typedef struct cseg_atomic_file {
    FILE *f;
    char *tmp;
    char *path;
} cseg_atomic_file;
int cseg__atomic_open(cseg_atomic_file *af, const char *path, cseg_diag *d);
int cseg__atomic_commit(cseg_atomic_file *af, cseg_diag *d);
void cseg__atomic_abort(cseg_atomic_file *af);
/* Start the disk writes of what f (a regular file) holds past *from, and
 * move *from to its end, so that the commit's fsync waits for the tail only
 * instead of the whole file (a large customers.csv: seconds). Does nothing
 * for a pipe or a terminal, or where sync_file_range is missing. */
void cseg__writeback(FILE *f, long long *from);

/* An output folder that changes as one set (outdir.c): begin makes the
 * parent folders, takes the parent's lock, removes temporaries of killed runs
 * and makes a temporary folder beside dir; the files (names, the complete
 * list of outputs that may be in such a folder) are written into it, at the
 * paths cseg__outdir_file gives; commit swaps it in and unlocks; abort drops
 * it. */
typedef struct cseg_outdir {
    char *dir, *parent, *name, *tmp;
    int lock_fd;
    const char *const *names;
    size_t n_names;
} cseg_outdir;
int cseg__outdir_begin(cseg_outdir *o, const char *dir, const char *const *names, size_t n_names,
                       cseg_diag *d);
int cseg__outdir_file(const cseg_outdir *o, const char *name, char *buf, size_t size);
int cseg__outdir_commit(cseg_outdir *o, cseg_diag *d);
void cseg__outdir_abort(cseg_outdir *o);
/* A diag naming a file in the temporary folder made to name the file it
 * stands for. */
void cseg__outdir_untemp(const cseg_outdir *o, cseg_diag *d);

/* Number of worker threads to use for a request of n (0 = all available). */
int cseg__threads(int n);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (calendar.c). */
int64_t cseg__days_from_civil(int64_t y, unsigned m, unsigned d);
void cseg__civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);
/* Floor division of seconds to days. */
static inline int64_t cseg__day_of(int64_t secs)
{
    return secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
}

/* Eigen-decomposition of the symmetric n x n matrix A (row-major): w gets the
 * eigenvalues in descending order, V (n x n, row-major) the matching
 * eigenvectors as columns. n <= 128: cyclic Jacobi in plain C, the same bits
 * whatever OPENBLAS_NUM_THREADS says; larger n: LAPACK dsyevd, whose bits
 * may depend on it (linalg.c, the only LAPACK call). CSEG_ERANGE if it does
 * not converge, CSEG_ENOMEM. */
int cseg__sym_eig(size_t n, const double *A, double *w, double *V);

/* Index of the first byte of s[0..len) that does not start a valid UTF-8
 * sequence, or len when all of it is valid (utf8.c). */
size_t cseg__utf8_invalid_at(const char *s, size_t len);
/* Cutting valid UTF-8 between characters: the length of s's longest prefix
 * of at most max bytes that ends at a character boundary; and s with an
 * incomplete last character (left by a cut counted in bytes, such as
 * snprintf's into a full buffer) removed. */
size_t cseg__utf8_prefix(const char *s, size_t max);
void cseg__utf8_chop(char *s);
/* json_string(s) that never drops text: a byte of s that does not start a
 * valid UTF-8 character becomes U+FFFD (json.c); NULL for NULL s (or out of
 * memory). */
struct json_t;
struct json_t *cseg__jstr(const char *s);

/* 64-bit hash of bytes (word-at-a-time mix, fmix64 finaliser). */
uint64_t cseg__hash(const void *p, size_t n, uint64_t seed);
/* MurmurHash3's 64-bit finalizer: spreads a 64-bit key (codes, times) over
 * every bit, at a fraction of cseg__hash's cost; cseg__hash ends with it. */
static inline uint64_t cseg__mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* A library opened when first needed (dl.c): resolve(handle) fills the
 * caller's table of functions from the handle and returns NULL, or the
 * name of a function the library lacks. */
typedef struct cseg__dl {
    const char *soname;  /* "libpq.so.5": from the build (CMakeLists.txt) */
    const char *what;    /* what needs it, for messages: "PostgreSQL" */
    const char *package; /* the Debian package that has it: "libpq5" */
    const char *(*resolve)(void *handle);
    pthread_mutex_t lock;
    int state; /* 0 not tried, 1 loaded, -1 failed (why says why) */
    char why[400];
} cseg__dl;
#define CSEG__DL_INIT(soname, what, package, resolve)                                             \
    {soname, what, package, resolve, PTHREAD_MUTEX_INITIALIZER, 0, {0}}
/* Opens the library and resolves its functions on the first call, in any
 * thread; 0 once they are there, else CSEG_EIO with d naming the library
 * (every later call says the same). */
int cseg__dl_load(cseg__dl *lib, cseg_diag *d);
/* One step of a resolve function over an X-macro list of functions (the
 * caller includes <dlfcn.h>): f from handle h into table.f, or the function
 * returns f's name. */
#define CSEG__DL_SYM(table, h, f)                                                                  \
    if (!(*(void **)&(table).f = dlsym(h, #f)))                                                    \
        return #f;

#endif
