/* custseg — checked allocation, string copies, the thread count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal.h"

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

/* A fresh 8 MB block otherwise costs 2048 page faults, each a few
 * microseconds in a VM (inflating a 48 MB log into fresh memory took four
 * times as long as the inflating itself). The range is widened to whole
 * pages, not narrowed to huge ones, so that it covers the allocator's whole
 * mapping: advice on part of a mapping splits it, and a split mapping cannot
 * be grown in place by realloc (mremap). Only advice (the kernel may ignore
 * it), so the result is not checked. */
void cseg__advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t page = 4096;
    if (!p || bytes < ((size_t)4 << 20))
        return;
    uintptr_t a = (uintptr_t)p & ~(page - 1), e = ((uintptr_t)p + bytes + page - 1) & ~(page - 1);
    (void)madvise((void *)a, (size_t)(e - a), MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
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
    cseg__advise_huge(p, bytes);
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

void *cseg__realloc_huge(void *p, size_t n, size_t size)
{
    void *q = cseg__reallocarray(p, n, size);
    if (q)
        cseg__advise_huge(q, n * size);
    return q;
}

int cseg__buf_room(cseg__buf *b, size_t more)
{
    if (b->failed)
        return CSEG_ENOMEM;
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : (size_t)1 << 16;
    while (cap < b->len + more)
        cap *= 2;
    char *np = cseg__realloc_huge(b->p, cap, 1);
    if (!np) {
        b->failed = 1;
        return CSEG_ENOMEM;
    }
    b->p = np;
    b->cap = cap;
    return 0;
}

void cseg__buf_put(cseg__buf *b, const void *x, size_t n)
{
    if (cseg__buf_room(b, n) == 0) {
        if (n > 0) /* x may be NULL when n is 0 */
            memcpy(b->p + b->len, x, n);
        b->len += n;
    }
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

