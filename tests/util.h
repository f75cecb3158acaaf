/* Small helpers shared by the unit tests. */
#ifndef CSEG_TEST_UTIL_H
#define CSEG_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <custseg/custseg.h>

/* Write text to a fresh temporary file; returns its path (static buffer per slot). */
static inline const char *tmp_file(int slot, const char *text, size_t len)
{
    static char paths[8][64];
    char *p = paths[slot & 7];
    snprintf(p, 64, "/tmp/cseg_test_%d_%d_XXXXXX", (int)getpid(), slot);
    int fd = mkstemp(p);
    if (fd < 0)
        return NULL;
    if (len && write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return NULL;
    }
    close(fd);
    return p;
}

static inline const char *tmp_text(int slot, const char *text)
{
    return tmp_file(slot, text, strlen(text));
}

/* Relative difference, safe around zero. */
static inline double rel_diff(double a, double b)
{
    double m = a > b ? a - b : b - a;
    double s = (a < 0 ? -a : a) > (b < 0 ? -b : b) ? (a < 0 ? -a : a) : (b < 0 ? -b : b);
    return s > 0 ? m / s : m;
}

#define assert_rel(a, b, tol)                                                                      \
    do {                                                                                           \
        double _a = (a), _b = (b);                                                                 \
        if (!(rel_diff(_a, _b) <= (tol)))                                                          \
            fail_msg("%s = %.17g, expected %.17g (rel diff %.3g > %g)", #a, _a, _b,              \
                     rel_diff(_a, _b), (double)(tol));                                           \
    } while (0)

#endif
