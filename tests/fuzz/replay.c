/* Replays inputs through one libFuzzer target without libFuzzer: link this
 * file with one of tests/fuzz/fuzz_*.c (any C11 compiler, no sanitizer
 * needed) and give it files and folders:
 *
 *   fuzz_replay_csv tests/fuzz/corpus/csv tests/fuzz/regress/csv
 *
 * Each file (a folder: each regular file in it, sorted by name; names
 * starting with '.' are skipped) is passed once to LLVMFuzzerTestOneInput.
 * A target signals a failed invariant by aborting, so a passing run ends with
 * "replay: N inputs, no failure" and status 0. A path that cannot be read is
 * an error (status 2): a misspelt folder must not pass as "nothing to do".
 * An input that runs longer than REPLAY_TIMEOUT seconds (default 60) is a
 * failure too: the driver names it and aborts. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *volatile current; /* the input being run, for the timeout message */
static unsigned timeout_s = 60;

static void on_alarm(int sig)
{
    static const char msg[] = "replay: timeout (REPLAY_TIMEOUT), still running: ";
    const char *p = current;
    (void)sig;
    ssize_t w = write(2, msg, sizeof msg - 1);
    if (p)
        w = write(2, p, strlen(p));
    w = write(2, "\n", 1);
    (void)w;
    abort();
}

static int run_file(const char *path, long *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        return -1;
    }
    /* The input the target sees is exactly the file: a copy of n bytes, so
     * that AddressSanitizer (when present) catches reads past its end. */
    uint8_t *data = malloc(n ? n : 1);
    if (!data) {
        free(buf);
        return -1;
    }
    if (n)
        memcpy(data, buf, n);
    free(buf);
    if (getenv("REPLAY_VERBOSE"))
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    current = path;
    alarm(timeout_s);
    LLVMFuzzerTestOneInput(data, n);
    alarm(0);
    current = NULL;
    free(data);
    (*count)++;
    return 0;
}

static int is_visible(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

static int run_path(const char *path, long *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: no such file or folder: %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path, count);
    struct dirent **list = NULL;
    int n = scandir(path, &list, is_visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s\n", path);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(list[i]->d_name) + 2;
        char *sub = malloc(len);
        if (!sub) {
            rc = -1;
        } else {
            snprintf(sub, len, "%s/%s", path, list[i]->d_name);
            struct stat ss;
            if (stat(sub, &ss) == 0 && S_ISREG(ss.st_mode) && run_file(sub, count) < 0)
                rc = -1;
            free(sub);
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
        return 2;
    }
    const char *t = getenv("REPLAY_TIMEOUT");
    if (t && atoi(t) >= 0)
        timeout_s = (unsigned)atoi(t);
    signal(SIGALRM, on_alarm);
    long count = 0;
    int status = 0;
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], &count) < 0)
            status = 2;
    if (status == 0)
        printf("replay: %ld inputs, no failure\n", count);
    else
        fprintf(stderr, "replay: %ld inputs run, some paths could not be read\n", count);
    return status;
}
