/* Shared helpers of the libFuzzer targets tests/fuzz/fuzz_{csv,date,model,report}.c.
 *
 * Every target defines LLVMFuzzerTestOneInput and uses only the public API.
 * They are built two ways:
 *   - clang -fsanitize=fuzzer,address,undefined (scripts/fuzz.sh): libFuzzer
 *     targets;
 *   - any C11 compiler, linked with tests/fuzz/replay.c: a plain program that
 *     runs a target on given files and folders (corpora, regression inputs).
 * The rule everywhere: no crash, no sanitizer report, every failure is a
 * negative CSEG_E* code with a message in the diag; a target aborts
 * (after a line on stderr saying why) when an invariant does not hold. */
#ifndef CSEG_FUZZ_COMMON_H
#define CSEG_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <custseg/custseg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop with a reason: libFuzzer (and the replay driver) report the abort
 * with the input that caused it. */
#define FUZZ_FAIL(...)                                                                         \
    do {                                                                                       \
        fprintf(stderr, "fuzz invariant failed (%s:%d): ", __FILE__, __LINE__);                \
        fprintf(stderr, __VA_ARGS__);                                                          \
        fputc('\n', stderr);                                                                   \
        abort();                                                                               \
    } while (0)

/* A failure must be a known negative code with a message; success is 0. */
static inline void fuzz_check_code(int rc, const cseg_diag *d, const char *what)
{
    if (rc > 0)
        FUZZ_FAIL("%s returned %d (positive)", what, rc);
    if (rc < 0 && strcmp(cseg_err_name(rc), "CSEG_EUNKNOWN") == 0)
        FUZZ_FAIL("%s returned unknown code %d", what, rc);
    if (rc < 0 && d && !d->msg[0])
        FUZZ_FAIL("%s returned %s with an empty diag message", what, cseg_err_name(rc));
}

/* A scratch file of this process: in /dev/shm when it is writable (no disk
 * I/O), else in TMPDIR or /tmp. tag tells the files of one target apart. */
static inline const char *fuzz_tmp_path(char *buf, size_t size, const char *tag)
{
    const char *dir = "/dev/shm";
    if (access(dir, W_OK) != 0) {
        dir = getenv("TMPDIR");
        if (!dir || !dir[0])
            dir = "/tmp";
    }
    snprintf(buf, size, "%s/cseg_fuzz_%d_%s", dir, (int)getpid(), tag);
    return buf;
}

static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        FUZZ_FAIL("cannot write %s", path);
    if (size && fwrite(data, 1, size, f) != size)
        FUZZ_FAIL("short write to %s", path);
    if (fclose(f) != 0)
        FUZZ_FAIL("cannot close %s", path);
}

/* The whole file, NUL-terminated; *size gets its length. NULL if unreadable. */
static inline char *fuzz_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *size = n;
    }
    return buf;
}

#endif
