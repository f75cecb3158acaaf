/* custseg serve --webhook: every segment move POSTed to a URL (docs/service.md#webhooks).
 *
 * The outbox is the store's own log of moves (cseg_segment_changes): it is
 * written in the transaction that moves the customer, so it is as durable as
 * the move. A delivery thread reads the moves after its cursor (a row of the
 * store, cseg_stream_cursor_*), POSTs them in sequence order, up to a batch
 * at a time, and moves the cursor only after a 2xx reply: at least once, in
 * order (hence in order per customer), across restarts. A failed POST is
 * tried again after 1, 2, 4 ... 60 seconds. libcurl does the HTTP (one
 * handle, kept alive); OpenSSL's HMAC signs the body when a secret is given.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "serve.h"
#include "serve_libs.h"

#define WEBHOOK_TIMEOUT 10     /* seconds for one POST */
#define WEBHOOK_IDLE_POLL 1.0  /* seconds between looks at the store when not poked */
#define WEBHOOK_BACKOFF_MAX 60 /* seconds */

struct serve_webhook {
    char *url, *secret, *cursor;
    char url_shown[1024];
    size_t batch;
    int quiet;
    serve_move_fn move;
    void *move_ctx;
    cseg_store *store;
    CURL *curl;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int poked;
    _Atomic int stopping;
    int joined; /* the thread has ended (serve_webhook_quit) */
    _Atomic uint64_t posts, delivered, failures;
    _Atomic int64_t position, latest;
};

/* Waits until stopped or secs have passed, or poked when pokes wake it (not
 * while backing off: new moves must not hurry a retry); 1 when stopping. */
static int nap(serve_webhook *w, double secs, int pokes)
{
    struct timespec until = serve_deadline(CLOCK_MONOTONIC, secs);
    pthread_mutex_lock(&w->mu);
    while (!(pokes && w->poked) && !atomic_load(&w->stopping))
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0)
            break;
    w->poked = 0;
    pthread_mutex_unlock(&w->mu);
    return atomic_load(&w->stopping);
}

typedef struct batch_ctx {
    serve_webhook *w;
    json_t *arr;
    int64_t last;
} batch_ctx;

static int add_change(void *ctx, const cseg_stream_change *c)
{
    batch_ctx *b = ctx;
    json_t *o = b->w->move(b->w->move_ctx, c);
    if (!o || json_array_append_new(b->arr, o) < 0)
        return 1;
    b->last = c->seq;
    return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* Aborts a POST under way when the server stops. */
static int progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&((serve_webhook *)ctx)->stopping);
}

/* One POST of body; the HTTP status, or 0 with msg when there was none. */
static long post(serve_webhook *w, const char *body, char *msg, size_t msize)
{
    struct curl_slist *h = serve_curl.curl_slist_append(NULL, "Content-Type: application/json");
    h = serve_curl.curl_slist_append(h, "User-Agent: custseg/" CSEG_VERSION_STRING);
    if (w->secret) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        char line[40 + 2 * EVP_MAX_MD_SIZE] = "X-Custseg-Signature: sha256=";
        if (HMAC(EVP_sha256(), w->secret, (int)strlen(w->secret), (const unsigned char *)body,
                 strlen(body), md, &mdlen)) {
            size_t at = strlen(line);
            for (unsigned i = 0; i < mdlen; i++, at += 2)
                snprintf(line + at, 3, "%02x", md[i]);
            h = serve_curl.curl_slist_append(h, line);
        }
    }
    char err[CURL_ERROR_SIZE] = "";
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, h);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, err);
    CURLcode rc = serve_curl.curl_easy_perform(w->curl);
    long status = 0;
    if (rc == CURLE_OK)
        serve_curl.curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(msg, msize, "%s", err[0] ? err : serve_curl.curl_easy_strerror(rc));
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, NULL);
    serve_curl.curl_slist_free_all(h);
    return status;
}

static void complain(serve_webhook *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void complain(serve_webhook *w, const char *fmt, ...)
{
    if (w->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "custseg serve: webhook %s: ", w->url_shown);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void *deliver_main(void *arg)
{
    serve_webhook *w = arg;
    double backoff = 1;
    int64_t cursor = atomic_load(&w->position);
    while (!atomic_load(&w->stopping)) {
        cseg_diag d;
        cseg_diag_clear(&d);
        int64_t latest = 0;
        batch_ctx b = {w, json_array(), cursor};
        if (!b.arr || cseg_stream_last_change(w->store, &latest, &d) < 0 ||
            cseg_stream_changes(w->store, NULL, cursor, w->batch, add_change, &b, &d) < 0) {
            json_decref(b.arr);
            complain(w, "store: %s", d.msg);
            nap(w, backoff, 0);
            continue;
        }
        atomic_store(&w->latest, latest);
        if (json_array_size(b.arr) == 0) {
            json_decref(b.arr);
            nap(w, WEBHOOK_IDLE_POLL, 1);
            continue;
        }
        size_t n = json_array_size(b.arr);
        json_t *o = json_object();
        json_object_set_new(o, "changes", b.arr);
        json_object_set_new(o, "next", json_integer(b.last));
        char *body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        char msg[CURL_ERROR_SIZE + 64] = "";
        long status = body ? post(w, body, msg, sizeof msg) : 0;
        free(body);
        atomic_fetch_add(&w->posts, 1);
        if (status >= 200 && status < 300) {
            cursor = b.last;
            atomic_store(&w->position, cursor);
            atomic_fetch_add(&w->delivered, n);
            backoff = 1;
            /* The service's writer keeps the cursor in the store (at most a
             * second behind: serve_webhook_cursor): a commit from this
             * connection would make the writer drop what it holds. */
            continue;
        }
        if (atomic_load(&w->stopping))
            break;
        atomic_fetch_add(&w->failures, 1);
        if (status)
            complain(w, "HTTP %ld; trying again in %g s", status, backoff);
        else
            complain(w, "%s; trying again in %g s", msg[0] ? msg : "no reply", backoff);
        nap(w, backoff, 0);
        backoff = backoff * 2 < WEBHOOK_BACKOFF_MAX ? backoff * 2 : WEBHOOK_BACKOFF_MAX;
    }
    return NULL;
}

/* The secret: the first line of a file, without its newline. */
static int read_secret(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_error(EXIT_IO, "%s: %s", path, strerror(errno));
    /* The whole first line, however long (fgets into 1,024 bytes cut a
     * longer secret, and every signature was then made with the wrong key). */
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got = getline(&buf, &cap, f);
    fclose(f);
    size_t n = got > 0 ? strcspn(buf, "\r\n") : 0;
    if (n == 0) {
        free(buf);
        return cli_error(EXIT_DATA, "%s: the webhook secret is empty", path);
    }
    buf[n] = 0;
    *out = strdup(buf);
    OPENSSL_cleanse(buf, cap);
    free(buf);
    return *out ? EXIT_OK : cli_error(EXIT_IO, "out of memory");
}

static void webhook_free(serve_webhook *w)
{
    if (!w)
        return;
    if (w->curl)
        serve_curl.curl_easy_cleanup(w->curl);
    cseg_store_close(w->store);
    if (w->secret)
        OPENSSL_cleanse(w->secret, strlen(w->secret));
    free(w->secret);
    free(w->url);
    free(w->cursor);
    free(w);
}

int serve_webhook_start(serve_webhook **out, const serve_webhook_params *p)
{
    *out = NULL;
    if (strncmp(p->url, "http://", 7) != 0 && strncmp(p->url, "https://", 8) != 0)
        return cli_usage_error("serve", "--webhook: expected an http:// or https:// URL");
    serve_webhook *w = calloc(1, sizeof *w);
    if (!w)
        return cli_error(EXIT_IO, "out of memory");
    w->batch = p->batch;
    w->quiet = p->quiet;
    w->move = p->move;
    w->move_ctx = p->move_ctx;
    cseg_db_uri_redact(p->url, w->url_shown, sizeof w->url_shown);
    w->url = strdup(p->url);
    /* The cursor is named by the URL without its password, which the store
     * does not keep (a password changed keeps the cursor). */
    size_t cn = strlen(w->url_shown) + 9;
    w->cursor = malloc(cn);
    if (!w->url || !w->cursor) {
        webhook_free(w);
        return cli_error(EXIT_IO, "out of memory");
    }
    snprintf(w->cursor, cn, "webhook %s", w->url_shown);
    int status = p->secret_file ? read_secret(p->secret_file, &w->secret) : EXIT_OK;
    if (status != EXIT_OK) {
        webhook_free(w);
        return status;
    }
    /* Where delivery resumes: the kept cursor; for a new URL, the latest
     * move (moves made before the webhook was set are in /v1/changes). */
    cseg_diag d;
    cseg_diag_clear(&d);
    int64_t cursor = 0;
    int found = 0, rc = cseg_store_open(&w->store, p->db, &d);
    if (rc == 0)
        rc = cseg_stream_cursor_get(w->store, w->cursor, &cursor, &found, &d);
    /* A store from before the cursor's name lost the password: its cursor
     * is under the whole URL. Delivery goes on from there, and that row,
     * which holds the password, is removed once the new one is kept (also
     * when an earlier start was stopped between the two). */
    if (rc == 0 && strcmp(p->url, w->url_shown) != 0) {
        size_t on = strlen(p->url) + 9;
        char *old_name = malloc(on);
        int old = 0;
        int64_t at = 0;
        if (!old_name) {
            rc = CSEG_ENOMEM;
        } else {
            snprintf(old_name, on, "webhook %s", p->url);
            rc = cseg_stream_cursor_get(w->store, old_name, &at, &old, &d);
            if (rc == 0 && old && !found) {
                cursor = at;
                found = 1;
                rc = cseg_stream_cursor_set(w->store, w->cursor, cursor, &d);
            }
            if (rc == 0 && old)
                rc = cseg_stream_cursor_drop(w->store, old_name, &d);
            free(old_name);
        }
    }
    if (rc == 0 && !found && (rc = cseg_stream_last_change(w->store, &cursor, &d)) == 0)
        rc = cseg_stream_cursor_set(w->store, w->cursor, cursor, &d);
    if (rc < 0) {
        status = cli_fail(rc, &d, p->db);
        webhook_free(w);
        return status;
    }
    atomic_store(&w->position, cursor);
    atomic_store(&w->latest, cursor);
    if (serve_curl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        !(w->curl = serve_curl.curl_easy_init())) {
        webhook_free(w);
        return cli_error(EXIT_IO, "cannot start libcurl");
    }
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_URL, w->url);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT, 5L);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_NOPROGRESS, 0L);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_XFERINFOFUNCTION, progress);
    serve_curl.curl_easy_setopt(w->curl, CURLOPT_XFERINFODATA, w);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, deliver_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        webhook_free(w);
        return cli_error(EXIT_IO, "cannot start the webhook thread");
    }
    if (!w->quiet)
        fprintf(stderr, "custseg serve: webhook %s: moves after %" PRId64 " are sent\n",
                w->url_shown, cursor);
    *out = w;
    return EXIT_OK;
}

void serve_webhook_poke(serve_webhook *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->poked = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

const char *serve_webhook_cursor(serve_webhook *w, int64_t *position)
{
    *position = atomic_load(&w->position);
    return w->cursor;
}

void serve_webhook_quit(serve_webhook *w)
{
    if (!w || w->joined)
        return;
    atomic_store(&w->stopping, 1);
    serve_webhook_poke(w);
    pthread_join(w->thread, NULL);
    w->joined = 1;
}

void serve_webhook_stop(serve_webhook *w)
{
    if (!w)
        return;
    serve_webhook_quit(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    webhook_free(w);
    serve_curl.curl_global_cleanup();
}

void serve_webhook_read_stats(serve_webhook *w, serve_webhook_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!w)
        return;
    st->posts = atomic_load(&w->posts);
    st->delivered = atomic_load(&w->delivered);
    st->failures = atomic_load(&w->failures);
    int64_t pos = atomic_load(&w->position), latest = atomic_load(&w->latest);
    st->position = pos;
    st->pending = latest > pos ? latest - pos : 0;
}
