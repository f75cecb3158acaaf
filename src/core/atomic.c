/* custseg — atomic file output: a temporary file in the same directory,
 * renamed over the target once complete, so a path is never half-written. */
#define _GNU_SOURCE /* sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int cseg__atomic_open(cseg_atomic_file *af, const char *path, cseg_diag *d)
{
    size_t n = strlen(path);
    af->f = NULL;
    af->tmp = af->path = NULL;
    /* A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written as it is:
     * renaming a file over it would replace the device with a file. */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot write file: it is a folder");
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (!(af->f = fopen(path, "w")))
            return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot write file: %s", strerror(errno));
        return 0;
    }
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
    if (!af->tmp) { /* a device or a pipe: written in place */
        int bad = ferror(af->f) | (fclose(af->f) != 0);
        af->f = NULL;
        return bad ? cseg__diag(d, CSEG_EIO, NULL, 0, 0, "cannot write: %s", strerror(errno)) : 0;
    }
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

void cseg__writeback(FILE *f, long long *from)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (fflush(f) != 0)
        return;
    off_t at = ftello(f);
    if (at <= (off_t)*from)
        return;
    /* Only a hint: an error (a pipe: ESPIPE) leaves the fsync to do it all. */
    (void)sync_file_range(fileno(f), (off_t)*from, at - (off_t)*from, SYNC_FILE_RANGE_WRITE);
    *from = (long long)at;
#else
    (void)f;
    (void)from;
#endif
}
