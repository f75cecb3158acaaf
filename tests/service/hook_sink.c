/* A webhook receiver for service_cli.sh: listens on a free loopback port
 * (printed as "port N"), answers the first FAIL POSTs with 503 (so the
 * sender must try again; each is the line "REFUSED" in OUT), then appends
 * each POST's body as a line to OUT and answers 200. With SECRET, a body whose X-Custseg-Signature is not
 * sha256=HMAC-SHA-256(SECRET, body) is written as the line "BAD-SIGNATURE".
 *   hook_sink OUT FAIL [SECRET]      (stops on SIGTERM) */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sink {
    FILE *out;
    long fail, seen;
    const char *secret;
} sink;

typedef struct body {
    char *p;
    size_t len;
} body;

static int signed_ok(const sink *k, struct MHD_Connection *c, const body *b)
{
    if (!k->secret)
        return 1;
    const char *got = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Custseg-Signature");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    char want[16 + 2 * EVP_MAX_MD_SIZE] = "sha256=";
    HMAC(EVP_sha256(), k->secret, (int)strlen(k->secret), (const unsigned char *)b->p, b->len, md,
         &n);
    for (unsigned i = 0; i < n; i++)
        snprintf(want + 7 + 2 * i, 3, "%02x", md[i]);
    return got && strcmp(got, want) == 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status)
{
    static char ok[] = "{}";
    struct MHD_Response *r = MHD_create_response_from_buffer(2, ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **state)
{
    (void)url, (void)version;
    sink *k = cls;
    body *b = *state;
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return MHD_NO;
        *state = b;
        return MHD_YES;
    }
    if (*size) {
        char *p = realloc(b->p, b->len + *size + 1);
        if (!p)
            return MHD_NO;
        memcpy(p + b->len, data, *size);
        b->p = p;
        b->len += *size;
        b->p[b->len] = 0;
        *size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0)
        return reply(c, 405);
    if (++k->seen <= k->fail) {
        fputs("REFUSED\n", k->out);
        fflush(k->out);
        return reply(c, 503);
    }
    if (signed_ok(k, c, b))
        fprintf(k->out, "%s\n", b->p ? b->p : "");
    else
        fputs("BAD-SIGNATURE\n", k->out);
    fflush(k->out);
    return reply(c, 200);
}

static void done(void *cls, struct MHD_Connection *c, void **state,
                 enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)c, (void)code;
    body *b = *state;
    if (b)
        free(b->p);
    free(b);
    *state = NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hook_sink OUT FAIL [SECRET]\n");
        return 2;
    }
    sink k = {fopen(argv[1], "a"), atol(argv[2]), 0, argc > 3 ? argv[3] : NULL};
    if (!k.out) {
        perror(argv[1]);
        return 1;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *dm =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, &k,
                         MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, done, &k,
                         MHD_OPTION_END);
    if (!dm) {
        fprintf(stderr, "hook_sink: cannot listen\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(dm, MHD_DAEMON_INFO_BIND_PORT);
    printf("port %u\n", info ? info->port : 0);
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(dm);
    fclose(k.out);
    return 0;
}
