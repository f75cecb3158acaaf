/* custseg — an output folder that changes as one set.
 *
 * Each output file is atomic on its own (atomic.c), but a folder holding
 * customers.csv, segments.json, model.json and report.html must never mix
 * two runs: after a kill -9, a full disk or two runs on the same folder it
 * holds the old set or the new one, whole. So the files are written into a
 * temporary folder beside the target (".NAME.tmp.XXXXXX" in its parent) and
 * swapped in by one rename: a plain rename when the target does not exist,
 * else an atomic exchange of the two folders (Linux renameat2
 * RENAME_EXCHANGE), after which the old set is removed. An exchange is only
 * done when the target holds nothing but outputs of custseg (it is the
 * user's folder otherwise, or the current directory): then each new file is
 * renamed in, one at a time, and outputs of the old set that the new one
 * lacks (a dendrogram) are removed.
 *
 * Writers of one parent folder take turns: an exclusive flock on the parent
 * folder, held while writing and swapping (not while computing). Under the
 * lock no other writer has a temporary folder, so any ".NAME.tmp.*" left
 * there by a killed run is removed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char *tmp = cseg__strdup(dir);
    if (!tmp)
        return -1;
    int rc = 0;
    for (char *p = tmp + 1; *p && rc == 0; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                rc = -1;
            *p = '/';
        }
    if (rc == 0 && mkdir(tmp, 0777) != 0 && errno != EEXIST)
        rc = -1;
    struct stat st;
    if (rc == 0 && stat(tmp, &st) != 0)
        rc = -1;
    else if (rc == 0 && !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        rc = -1;
    }
    free(tmp);
    return rc;
}

/* Remove a folder that holds plain files only (ours). A link is removed
 * itself, never followed: what it points to is not ours. */
static void remove_tree(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        unlink(dir);
        return;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dp && fd >= 0)
        close(fd);
    if (dp) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(dp)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
            }
        closedir(dp);
    }
    rmdir(dir);
}

static int is_output(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        /* the file, or a temporary of it left by an older custseg */
        if (strncmp(name, names[i], len) == 0 &&
            (name[len] == 0 || strncmp(name + len, ".tmp.", 5) == 0))
            return 1;
    }
    return 0;
}

int cseg__outdir_begin(cseg_outdir *o, const char *dir, const char *const *names, size_t n_names,
                       cseg_diag *d)
{
    memset(o, 0, sizeof *o);
    o->lock_fd = -1;
    o->names = names;
    o->n_names = n_names;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "the output folder has no name");
    if (!(o->dir = cseg__strndup(dir, len)))
        return cseg__diag(d, CSEG_ENOMEM, dir, 0, 0, "out of memory");
    /* A link to a folder: the outputs go into the folder it points to, and
     * the link stays (swapping the link itself would replace it with a
     * folder, and the old set's removal would follow it). */
    struct stat lst;
    if (lstat(o->dir, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        char *real = realpath(o->dir, NULL);
        if (!real) {
            int e = errno;
            cseg__outdir_abort(o);
            return cseg__diag(d, CSEG_EIO, dir, 0, 0, "cannot use the output folder (a link): %s",
                              strerror(e));
        }
        free(o->dir);
        o->dir = real;
    }
    const char *slash = strrchr(o->dir, '/');
    o->parent = slash == o->dir ? cseg__strdup("/")
                : slash         ? cseg__strndup(o->dir, (size_t)(slash - o->dir))
                                : cseg__strdup(".");
    o->name = cseg__strdup(slash ? slash + 1 : o->dir);
    if (!o->parent || !o->name) {
        cseg__outdir_abort(o);
        return cseg__diag(d, CSEG_ENOMEM, dir, 0, 0, "out of memory");
    }
    errno = 0;
    if (make_dirs(o->parent) < 0) {
        int e = errno;
        cseg__outdir_abort(o);
        return cseg__diag(d, CSEG_EIO, dir, 0, 0, "cannot create output folder: %s",
                          strerror(e ? e : EIO));
    }
    struct stat st;
    if (stat(o->dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        cseg__outdir_abort(o);
        return cseg__diag(d, CSEG_EIO, dir, 0, 0, "cannot create output folder: %s",
                          strerror(EEXIST));
    }
    /* Take turns with other writers of this parent folder. */
    o->lock_fd = open(o->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (o->lock_fd >= 0 && flock(o->lock_fd, LOCK_EX) != 0) {
        close(o->lock_fd);
        o->lock_fd = -1;
    }
    /* What killed runs left: their temporary folders for this target. */
    char prefix[300];
    snprintf(prefix, sizeof prefix, ".%s.tmp.", o->name);
    DIR *dp = opendir(o->parent);
    if (dp) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(dp)))
            if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
                snprintf(path, sizeof path, "%s/%s", o->parent, e->d_name);
                remove_tree(path);
            }
        closedir(dp);
    }
    size_t tl = strlen(o->parent) + strlen(o->name) + 16;
    if (!(o->tmp = malloc(tl))) {
        cseg__outdir_abort(o);
        return cseg__diag(d, CSEG_ENOMEM, dir, 0, 0, "out of memory");
    }
    snprintf(o->tmp, tl, "%s/.%s.tmp.XXXXXX", o->parent, o->name);
    if (!mkdtemp(o->tmp)) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        cseg__outdir_abort(o);
        return cseg__diag(d, CSEG_EIO, dir, 0, 0, "cannot create output folder: %s",
                          strerror(e));
    }
    /* mkdtemp makes 0700; the outputs' folder is an ordinary one. */
    mode_t mask = umask(0);
    umask(mask);
    chmod(o->tmp, 0777 & ~mask);
    return 0;
}

int cseg__outdir_file(const cseg_outdir *o, const char *name, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s", o->tmp, name);
    return n < 0 || (size_t)n >= size ? CSEG_ETOOBIG : 0;
}

/* Does dir hold nothing but outputs of custseg (and is it not where we stand)? */
static int only_outputs(const cseg_outdir *o)
{
    struct stat a, b;
    if (stat(o->dir, &a) != 0 || stat(".", &b) != 0 || (a.st_dev == b.st_dev && a.st_ino == b.st_ino))
        return 0;
    DIR *dp = opendir(o->dir);
    if (!dp)
        return 0;
    int ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(dp)))
        ok = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
             is_output(e->d_name, o->names, o->n_names);
    closedir(dp);
    return ok;
}

/* Rename each new file into dir, then remove the old set's outputs the new
 * one does not have, and temporaries an older custseg left. */
static int move_files(cseg_outdir *o, cseg_diag *d)
{
    char from[4096], to[4096];
    for (size_t i = 0; i < o->n_names; i++) {
        snprintf(from, sizeof from, "%s/%s", o->tmp, o->names[i]);
        snprintf(to, sizeof to, "%s/%s", o->dir, o->names[i]);
        if (access(from, F_OK) == 0) {
            if (rename(from, to) != 0)
                return cseg__diag(d, CSEG_EIO, to, 0, 0, "cannot write file: %s",
                                  strerror(errno));
        } else {
            unlink(to);
        }
    }
    DIR *dp = opendir(o->dir);
    if (dp) {
        struct dirent *e;
        while ((e = readdir(dp)))
            if (is_output(e->d_name, o->names, o->n_names) && strstr(e->d_name, ".tmp.")) {
                snprintf(to, sizeof to, "%s/%s", o->dir, e->d_name);
                unlink(to);
            }
        closedir(dp);
    }
    return 0;
}

int cseg__outdir_commit(cseg_outdir *o, cseg_diag *d)
{
    int rc = 0;
    struct stat st;
    if (stat(o->dir, &st) != 0) {
        if (rename(o->tmp, o->dir) != 0)
            rc = cseg__diag(d, CSEG_EIO, o->dir, 0, 0, "cannot create output folder: %s",
                            strerror(errno));
    } else if (only_outputs(o) &&
               syscall(SYS_renameat2, AT_FDCWD, o->tmp, AT_FDCWD, o->dir, RENAME_EXCHANGE) == 0) {
        /* The old set now sits in the temporary folder. */
    } else {
        rc = move_files(o, d);
    }
    cseg__outdir_abort(o); /* removes what is left at the temporary path, unlocks */
    return rc;
}

void cseg__outdir_untemp(const cseg_outdir *o, cseg_diag *d)
{
    size_t tl = strlen(o->tmp);
    if (d && strncmp(d->file, o->tmp, tl) == 0 && d->file[tl] == '/') {
        char f[sizeof d->file];
        snprintf(f, sizeof f, "%s%s", o->dir, d->file + tl);
        memcpy(d->file, f, sizeof f);
    }
}

void cseg__outdir_abort(cseg_outdir *o)
{
    if (o->tmp)
        remove_tree(o->tmp);
    if (o->lock_fd >= 0)
        close(o->lock_fd); /* releases the flock */
    free(o->tmp);
    free(o->dir);
    free(o->parent);
    free(o->name);
    memset(o, 0, sizeof *o);
    o->lock_fd = -1;
}
