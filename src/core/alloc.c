/* custseg — checked allocation, RNG, atomic files, number formatting. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "custseg/csv.h"
#include "internal.h"
#include <sys/stat.h>

int cseg__mul(size_t a, size_t b, size_t *out)
{
    if (b && a > SIZE_MAX / b)
        return CSEG_ETOOBIG;
    *out = a * b;
    return 0;
}

int cseg__mul3(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    if (cseg__mul(a, b, &ab))
        return CSEG_ETOOBIG;
    return cseg__mul(ab, c, out);
}

void *cseg__alloc_aligned(size_t n, size_t size)
{
    size_t bytes;
    void *p = NULL;
    if (cseg__mul(n, size, &bytes))
        return NULL;
    if (bytes == 0)
        bytes = 64;
    if (posix_memalign(&p, 64, bytes))
        return NULL;
    return p;
}

void cseg__free_aligned(void *p)
{
    free(p);
}

void *cseg__calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        return calloc(1, 1);
    return calloc(n, size);
}

void *cseg__reallocarray(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (cseg__mul(n, size, &bytes))
        return NULL;
    return realloc(p, bytes ? bytes : 1);
}

char *cseg__strndup(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

char *cseg__strdup(const char *s)
{
    return cseg__strndup(s, strlen(s));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cseg__rng_seed(cseg_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cseg__rng_next(cseg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cseg__rng_uniform(cseg_rng *r)
{
    return (double)(cseg__rng_next(r) >> 11) * 0x1.0p-53;
}

size_t cseg__rng_below(cseg_rng *r, size_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do
        x = cseg__rng_next(r);
    while (x >= lim);
    return (size_t)(x % n);
}

/* Eight bytes a step with a multiply-rotate mix and a final avalanche
 * (MurmurHash3's fmix64): quick on short fields, good enough spread for
 * hash tables and duplicate detection (which confirms equal hashes by
 * comparing the values). */
uint64_t cseg__hash(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (n + 1));
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        v *= 0x87c37b91114253d5ULL;
        v = (v << 31) | (v >> 33);
        h ^= v * 0x4cf5ad432745937fULL;
        h = ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = 0;
        memcpy(&v, s, n);
        v *= 0x87c37b91114253d5ULL;
        v = (v << 31) | (v >> 33);
        h ^= v * 0x4cf5ad432745937fULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

int cseg__atomic_open(cseg_atomic_file *af, const char *path, cseg_diag *d)
{
    size_t n = strlen(path);
    af->f = NULL;
    af->path = cseg__strdup(path);
    af->tmp = malloc(n + 16);
    if (!af->path || !af->tmp) {
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
    }
    memcpy(af->tmp, path, n);
    memcpy(af->tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int e = errno;
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot create file: %s", strerror(e));
    }
    af->f = fdopen(fd, "w");
    if (!af->f) {
        close(fd);
        cseg__atomic_abort(af);
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open file for writing");
    }
    return 0;
}

int cseg__atomic_commit(cseg_atomic_file *af, cseg_diag *d)
{
    int bad = ferror(af->f);
    if (fflush(af->f) != 0)
        bad = 1;
    if (fsync(fileno(af->f)) != 0 && errno != EINVAL)
        bad = 1;
    if (fclose(af->f) != 0)
        bad = 1;
    af->f = NULL;
    /* mkstemp creates 0600; outputs are ordinary files. */
    if (!bad) {
        mode_t mask = umask(0);
        umask(mask);
        chmod(af->tmp, 0666 & ~mask);
    }
    if (bad || rename(af->tmp, af->path) != 0) {
        int e = errno;
        int code = cseg__diag(d, CSEG_EIO, af->path, 0, 0, "cannot write file: %s",
                              strerror(e ? e : EIO));
        cseg__atomic_abort(af);
        return code;
    }
    free(af->tmp);
    free(af->path);
    af->tmp = af->path = NULL;
    return 0;
}

void cseg__atomic_abort(cseg_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    af->f = NULL;
    if (af->tmp)
        unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    af->tmp = af->path = NULL;
}

int cseg__format_double(char *buf, size_t size, double v)
{
    if (!isfinite(v)) {
        if (size)
            buf[0] = 0;
        return 0;
    }
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, size, "%.*g", prec, v);
        for (int i = 0; i < n && (size_t)i < size; i++)
            if (buf[i] == ',')
                buf[i] = '.';
        double back;
        if (prec == 17 || (cseg_parse_double(buf, (size_t)n, &back) == 0 && back == v))
            break;
    }
    return n;
}

int cseg__threads(int n)
{
#ifdef _OPENMP
    if (n <= 0)
        return omp_get_max_threads();
    return n;
#else
    (void)n;
    return 1;
#endif
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t cseg__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void cseg__civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}
