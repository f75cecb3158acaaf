/* custseg token: the bearer tokens of custseg serve (docs/service.md#tokens).
 *
 * A token file holds one line per token: "sha256:HEX SCOPE NAME". Only the
 * SHA-256 of a token is kept; the token itself is printed once, when made.
 * A token is 32 random bytes from OpenSSL's generator, as 64 hex digits after
 * "cst_". Checking one hashes what the client sent and compares it with every
 * kept hash in constant time (CRYPTO_memcmp), never stopping early. */
#include <errno.h>
#include <sys/file.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

#define TOKEN_PREFIX "cst_"

/* md: a fetched SHA-256, or NULL for OpenSSL to fetch one for this call
 * (a fetch by name each time: 3% of a /v1/score request's time). */
static void sha256(const char *text, size_t len, unsigned char out[32], const EVP_MD *md)
{
    unsigned int n = 0;
    EVP_Digest(text, len, out, &n, md ? md : EVP_sha256(), NULL);
}

static int hex_digit(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void serve_tokens_free(serve_tokens *t)
{
    free(t->hash);
    free(t->scope);
    EVP_MD_free(t->sha256);
    t->hash = NULL;
    t->scope = NULL;
    t->sha256 = NULL;
    t->n = 0;
}

int serve_tokens_load(serve_tokens *t, const char *path)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_error(EXIT_IO, "%s: %s", path, strerror(errno));
    char *line = NULL; /* a line of any length: a long NAME once split one in two */
    size_t cap = 0;
    long lineno = 0;
    int status = EXIT_OK;
    while (status == EXIT_OK && getline(&line, &cap, f) > 0) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char hex[80] = "", scope[16] = "";
        unsigned char h[32];
        int ok = sscanf(line, "sha256:%79s %15s", hex, scope) == 2 && strlen(hex) == 64;
        for (size_t i = 0; ok && i < 32; i++) {
            int a = hex_digit(hex[2 * i]), b = hex_digit(hex[2 * i + 1]);
            ok = a >= 0 && b >= 0;
            h[i] = (unsigned char)(a * 16 + b);
        }
        int sc = strcmp(scope, "read") == 0 ? SERVE_SCOPE_READ
                 : strcmp(scope, "write") == 0 ? SERVE_SCOPE_WRITE
                                               : 0;
        if (!ok || !sc) {
            status = cli_error(EXIT_DATA,
                               "%s:%ld:1: not a token line (expected \"sha256:<64 hex digits> "
                               "read|write NAME\", as custseg token add writes)",
                               path, lineno);
            break;
        }
        unsigned char(*nh)[32] = realloc(t->hash, (t->n + 1) * sizeof *nh);
        int *ns = nh ? realloc(t->scope, (t->n + 1) * sizeof *ns) : NULL;
        if (nh)
            t->hash = nh;
        if (!nh || !ns) {
            status = cli_error(EXIT_IO, "out of memory");
            break;
        }
        t->scope = ns;
        memcpy(t->hash[t->n], h, 32);
        t->scope[t->n++] = sc;
    }
    if (status == EXIT_OK && ferror(f))
        status = cli_error(EXIT_IO, "%s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (status == EXIT_OK && t->n == 0)
        status = cli_error(EXIT_DATA, "%s: no tokens (make one with custseg token add %s "
                                      "--scope write)", path, path);
    if (status == EXIT_OK && !(t->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)))
        status = cli_error(EXIT_IO, "OpenSSL has no SHA-256");
    if (status != EXIT_OK)
        serve_tokens_free(t);
    return status;
}

int serve_token_scope(const serve_tokens *t, const char *presented)
{
    if (!presented)
        return 0;
    unsigned char h[32];
    sha256(presented, strlen(presented), h, t->sha256);
    int scope = 0;
    /* Every entry, whatever matched: the time does not tell which one did. */
    for (size_t i = 0; i < t->n; i++) {
        int eq = CRYPTO_memcmp(h, t->hash[i], 32) == 0;
        scope |= eq ? t->scope[i] : 0;
    }
    return scope & SERVE_SCOPE_WRITE ? SERVE_SCOPE_WRITE | SERVE_SCOPE_READ : scope;
}

static const char token_help[] =
    "usage: custseg token add FILE --scope read|write [--name NAME]\n"
    "\n"
    "Make a bearer token for custseg serve: prints it once on standard output and\n"
    "appends its SHA-256 (never the token) to FILE, created if absent (mode 0600).\n"
    "read: GET endpoints and /v1/score; write: also POST /v1/events.\n";

int cmd_token(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(token_help, stdout);
        return EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "add") != 0)
        return cli_usage_error("token", "expected 'custseg token add FILE --scope read|write'");
    static const struct option opts[] = {{"scope", required_argument, NULL, 's'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *scope = NULL, *name = "token";
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's': scope = optarg; break;
        case 'n': name = optarg; break;
        case 'h': fputs(token_help, stdout); return EXIT_OK;
        default: return cli_usage_error("token", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("token", "expected one token FILE");
    const char *path = argv[optind];
    if (!scope || (strcmp(scope, "read") != 0 && strcmp(scope, "write") != 0))
        return cli_usage_error("token", "--scope must be read or write");
    for (const char *p = name; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            return cli_usage_error("token", "--name must be one word");
    unsigned char raw[32], h[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return cli_error(EXIT_IO, "cannot get random bytes for a token");
    char token[sizeof TOKEN_PREFIX + 64];
    size_t off = (size_t)snprintf(token, sizeof token, "%s", TOKEN_PREFIX);
    for (size_t i = 0; i < sizeof raw; i++)
        off += (size_t)snprintf(token + off, sizeof token - off, "%02x", raw[i]);
    OPENSSL_cleanse(raw, sizeof raw);
    sha256(token, strlen(token), h, NULL);
    /* The file is rewritten whole through a temporary file: never half a line.
     * Writers take turns on a lock on its folder (the file itself is replaced
     * by the rename, so a lock on it would not be shared): twenty token adds
     * at once kept only some of their tokens, each rewriting the file it read. */
    size_t plen = strlen(path) + 16;
    char *tmp = malloc(plen);
    if (!tmp)
        return cli_error(EXIT_IO, "out of memory");
    snprintf(tmp, plen, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (slash)
        slash[slash == tmp] = 0; /* "/x" -> "/", "a/b" -> "a" */
    int dirfd = open(slash ? tmp : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd >= 0)
        flock(dirfd, LOCK_EX); /* released when dirfd is closed */
    snprintf(tmp, plen, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp); /* mode 0600 */
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    FILE *in = fopen(path, "r");
    int ok = out != NULL && (in || errno == ENOENT);
    char buf[4096], last = '\n';
    size_t got;
    while (ok && in && (got = fread(buf, 1, sizeof buf, in)) > 0) {
        ok = fwrite(buf, 1, got, out) == got;
        last = buf[got - 1];
    }
    if (in) {
        ok = ok && !ferror(in);
        fclose(in);
    }
    if (ok && last != '\n') /* a last line without its end (edited by hand): ended first */
        ok = fputc('\n', out) != EOF;
    if (ok) {
        fprintf(out, "sha256:");
        for (size_t i = 0; i < 32; i++)
            fprintf(out, "%02x", h[i]);
        fprintf(out, " %s %s\n", scope, name);
        ok = !ferror(out);
    }
    if (out)
        ok = (fclose(out) == 0) && ok;
    else if (fd >= 0)
        close(fd);
    ok = ok && rename(tmp, path) == 0;
    int err = errno;
    if (!ok && fd >= 0)
        unlink(tmp);
    if (dirfd >= 0)
        close(dirfd);
    free(tmp);
    if (!ok)
        return cli_error(EXIT_IO, "%s: cannot write the token file: %s", path, strerror(err));
    printf("%s\n", token);
    OPENSSL_cleanse(token, sizeof token);
    return EXIT_OK;
}
