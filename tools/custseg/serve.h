/* custseg serve: shared between the server and the token command. */
#ifndef CUSTSEG_SERVE_H
#define CUSTSEG_SERVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "custseg/custseg.h"

enum { SERVE_SCOPE_READ = 1, SERVE_SCOPE_WRITE = 2 };

/* The moment secs from now on clock clk: a pthread_cond_timedwait deadline
 * (the condition's clock). */
static inline struct timespec serve_deadline(clockid_t clk, double secs)
{
    struct timespec t;
    clock_gettime(clk, &t);
    long long ns = (long long)t.tv_nsec + (long long)(secs * 1e9);
    t.tv_sec += (time_t)(ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    return t;
}

/* The tokens of a token file: SHA-256 hashes and scopes. */
typedef struct serve_tokens {
    size_t n;
    unsigned char (*hash)[32];
    int *scope;
    struct evp_md_st *sha256; /* OpenSSL's SHA-256, fetched once (EVP_MD) */
} serve_tokens;

/* Load FILE; an exit status (message printed). */
int serve_tokens_load(serve_tokens *t, const char *path);
void serve_tokens_free(serve_tokens *t);
/* The scopes (SERVE_SCOPE_* bits; write implies read) of a presented token,
 * 0 when it is none of them. Constant time in the token. */
int serve_token_scope(const serve_tokens *t, const char *presented);

/* --webhook: the moves POSTed to a URL from the store's log of moves
 * (serve_webhook.c). */
typedef struct serve_webhook serve_webhook;
/* The JSON of one move, as /v1/changes gives it (a new reference). */
typedef json_t *(*serve_move_fn)(void *ctx, const cseg_stream_change *c);
typedef struct serve_webhook_params {
    const char *url;
    const char *db;          /* the store: the delivery thread opens its own connection */
    const char *secret_file; /* NULL: no X-Custseg-Signature */
    size_t batch;            /* most moves in one POST */
    int quiet;
    serve_move_fn move;
    void *move_ctx;
} serve_webhook_params;
typedef struct serve_webhook_stats {
    uint64_t posts, delivered, failures;
    int64_t position, pending; /* the last delivered seq; moves not yet delivered */
} serve_webhook_stats;
/* Starts the delivery thread; an exit status (message printed). */
int serve_webhook_start(serve_webhook **w, const serve_webhook_params *p);
/* New moves are committed: look now rather than at the next poll. */
void serve_webhook_poke(serve_webhook *w);
/* The delivery cursor's name in the store and the last move delivered. The
 * service's writer keeps it (cseg_stream_cursor_set on its own connection):
 * a commit from another connection would drop the writer's cache. */
const char *serve_webhook_cursor(serve_webhook *w, int64_t *position);
/* Stops the delivery (a POST under way is abandoned: sent again at the next
 * start); stop also frees. */
void serve_webhook_quit(serve_webhook *w);
void serve_webhook_stop(serve_webhook *w);
void serve_webhook_read_stats(serve_webhook *w, serve_webhook_stats *st);

int cmd_token(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
