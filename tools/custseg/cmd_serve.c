/* custseg serve: the real-time service (docs/service.md).
 *
 * An HTTP front end (libmicrohttpd, its internal thread pool) over the
 * library's stream calls: POST /v1/events applies purchases to the customers'
 * running state in the store and re-assigns them through the saved model;
 * the GET endpoints read the store; /v1/score runs the model alone.
 *
 * Durability and group commit: a request's events are checked (the library's
 * cseg_stream_check, the same errors as applying them), then its connection
 * is suspended and the events queued for the one writer thread, which takes
 * everything queued, applies it in one transaction (cseg_stream_apply_batch)
 * with a durable commit (cseg_store_durable), and resumes the connections:
 * a 2xx reply means the events are on disk, and concurrent requests share a
 * commit. Should a batch fail, its requests are applied again one by one, so
 * one request's trouble is not another's.
 *
 * Readers (GET) use a store connection of their own thread (SQLite's WAL and
 * PostgreSQL both let them read while the writer writes). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <netinet/in.h>
#include <pthread.h>
#include <unistd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "serve.h"
#include "serve_libs.h"

/* ---- metrics ---- */

enum { EP_EVENTS, EP_CUSTOMER, EP_SCORE, EP_SEGMENTS, EP_CHANGES, EP_HEALTHZ, EP_METRICS, EP_OTHER,
       N_EP };
static const char *const ep_names[N_EP] = {"events",  "customers", "score",   "segments",
                                           "changes", "healthz",   "metrics", "other"};
static const unsigned statuses[] = {200, 400, 401, 403, 404, 405, 413, 500, 503};
#define N_STATUS (sizeof statuses / sizeof statuses[0])
static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                    0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define N_LAT (sizeof lat_bounds / sizeof lat_bounds[0])

typedef struct metrics {
    _Atomic uint64_t requests[N_EP][N_STATUS];
    _Atomic uint64_t latency[N_EP][N_LAT + 1]; /* per bucket; summed when printed */
    _Atomic uint64_t latency_us[N_EP];
    _Atomic uint64_t events, applied, moves, commits, commit_us, batch_events;
    _Atomic uint64_t commit_hist[N_LAT + 1];
} metrics;

/* ---- the server ---- */

typedef struct job job;

typedef struct server {
    const cseg_model *model;
    int transactions; /* the model is from a transaction log: events can be applied */
    int mixture;      /* a Gaussian mixture: replies give membership probabilities */
    size_t k;
    const char *db;
    char db_shown[1024];
    int64_t as_of;
    size_t max_body, max_batch;
    int log_ids, access_log, quiet;
    serve_tokens tokens;
    pthread_key_t reader;
    /* the writer */
    cseg_store *wstore;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    int stopping;
    size_t in_flight;    /* event requests queued and not yet answered */
    pthread_cond_t idle; /* in_flight fell to 0 */
    pthread_t writer;
    /* (writer only) it owes customers' states to the store (written
     * behind its events; readers fold them): written when idle */
    int owes;
    /* the webhook's cursor as the writer last kept it, and when (writer only) */
    int64_t cursor_kept;
    double cursor_at;
    /* the checkpointer: copies SQLite's log into the database beside the
     * writer (cseg_store_checkpoint), so that no commit waits for it */
    pthread_t ckpt;
    pthread_mutex_t ck_mu;
    pthread_cond_t ck_cv;
    int ck_dirty, ck_stopping;
    serve_webhook *hook; /* --webhook, or NULL */
    metrics m;
} server;

struct job {
    job *next;
    struct MHD_Connection *conn;
    json_t *doc;      /* owns the strings the events point to */
    cseg_event *evs;  /* n events */
    char **rest;      /* their attributes as text (freed with the job) */
    size_t n;
    int is_array;
    cseg_stream_result *res;
    int rc;
    size_t failed; /* with rc < 0: the event refused (n: none of them) */
    cseg_diag diag;
};

typedef struct req {
    int ep;
    const char *method, *url; /* MHD's, valid until the request completes */
    double t0;
    char *body;
    size_t len, cap;
    int too_big;
    int scope;
    job *job;
} req;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void observe(_Atomic uint64_t *hist, double secs)
{
    size_t b = 0;
    while (b < N_LAT && secs > lat_bounds[b])
        b++;
    atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
}

/* ---- replies ---- */

static enum MHD_Result send_text(server *sv, struct MHD_Connection *c, req *r, unsigned status,
                                 const char *type, char *text, size_t len)
{
    struct MHD_Response *resp =
        serve_mhd.MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    serve_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == 401)
        serve_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405) /* the methods the endpoint takes (RFC 9110) */
        serve_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                          r->ep == EP_EVENTS || r->ep == EP_SCORE ? "POST"
                                                                                  : "GET, HEAD");
    enum MHD_Result ok = serve_mhd.MHD_queue_response(c, status, resp);
    serve_mhd.MHD_destroy_response(resp);
    size_t si = 0;
    while (si + 1 < N_STATUS && statuses[si] != status)
        si++;
    if (statuses[si] == status)
        atomic_fetch_add_explicit(&sv->m.requests[r->ep][si], 1, memory_order_relaxed);
    double secs = now_s() - r->t0;
    observe(sv->m.latency[r->ep], secs);
    if (sv->access_log) { /* a customer's id only with --log-ids */
        /* The path as printable ASCII (%XX for anything else: a decoded line
         * end could forge a line); a path that is no endpoint may hold an id
         * too (a typo of one), so it is left out without --log-ids. */
        const char *u = r->ep == EP_CUSTOMER && !sv->log_ids ? "/v1/customers/-"
                        : r->ep == EP_OTHER && !sv->log_ids ? "-"
                                                             : r->url;
        char shown[512], *o = shown;
        for (const unsigned char *p = (const unsigned char *)u; *p && o < shown + sizeof shown - 4;
             p++) {
            if (*p > ' ' && *p < 127 && *p != '%')
                *o++ = (char)*p;
            else
                o += sprintf(o, "%%%02X", *p);
        }
        *o = 0;
        fprintf(stderr, "%s %s %u %.3f ms\n", r->method, shown, status, secs * 1e3);
    }
    atomic_fetch_add_explicit(&sv->m.latency_us[r->ep], (uint64_t)(secs * 1e6), memory_order_relaxed);
    return ok;
}

static enum MHD_Result send_json(server *sv, struct MHD_Connection *c, req *r, unsigned status,
                                 json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    return send_text(sv, c, r, status, "application/json", text, len);
}

/* {"error": msg, "field": field}: nothing was changed. */
static enum MHD_Result send_error(server *sv, struct MHD_Connection *c, req *r, unsigned status,
                                  const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static enum MHD_Result send_error(server *sv, struct MHD_Connection *c, req *r, unsigned status,
                                  const char *field, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_object();
    json_object_set_new(j, "error", json_string(msg));
    json_object_set_new(j, "field", field ? json_string(field) : json_null());
    if (status >= 500 && !sv->quiet)
        fprintf(stderr, "custseg serve: %u %s %s\n", status, ep_names[r->ep], msg);
    return send_json(sv, c, r, status, j);
}

/* A URL's or argument's %HH escapes decoded in place, but %00, which is
 * left as it is: decoded, it ended the text there, and
 * /v1/customers/12347%00x read customer 12347. */
static int url_hex(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *o = s;
    for (const char *p = s; *p;) {
        int hi, lo;
        if (p[0] == '%' && (hi = url_hex(p[1])) >= 0 && (lo = url_hex(p[2])) >= 0 &&
            (hi | lo)) {
            *o++ = (char)(hi * 16 + lo);
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return (size_t)(o - s);
}

/* ---- reading events ---- */

/* A JSON id (a string or a whole number) as text into buf; NULL if neither. */
static const char *id_text(json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    /* A whole number written with a fraction: 17850.0 is 17850, as a log's
     * "17850.0" is (up to 2^53, where every whole number has its double). */
    double x = json_is_real(v) ? json_real_value(v) : NAN;
    if (x == trunc(x) && fabs(x) <= 9007199254740992.0) {
        snprintf(buf, size, "%.0f", x == 0 ? 0.0 : x);
        return buf;
    }
    return NULL;
}

/* One event from a JSON object; 0, or -1 with the message and field set. The
 * ids given as numbers are made text in json (kept alive by the document). */
static int read_event(json_t *o, cseg_event *ev, char **rest, char *msg, size_t msize,
                      char *field, size_t fsize)
{
    memset(ev, 0, sizeof *ev);
    ev->quantity = ev->price = ev->amount = NAN;
    ev->time = INT64_MIN;
    *rest = NULL;
    if (fsize)
        field[0] = 0; /* no field (the event itself) unless one is named */
    if (!json_is_object(o)) {
        snprintf(msg, msize, "an event is a JSON object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        char buf[32];
        snprintf(field, fsize, "%s", key);
        if (strcmp(key, "customer_id") == 0 || strcmp(key, "invoice") == 0 ||
            strcmp(key, "product") == 0 || strcmp(key, "event_id") == 0) {
            const char *t = id_text(v, buf, sizeof buf);
            if (!t && !json_is_null(v)) {
                snprintf(msg, msize, "%s must be a string or a whole number", key);
                return -1;
            }
            if (t && t == buf) { /* keep the text with the document */
                json_object_set_new(o, key, json_string(buf));
                t = json_string_value(json_object_get(o, key));
            }
            if (key[0] == 'c')
                ev->customer_id = t;
            else if (key[0] == 'i')
                ev->invoice = t;
            else if (key[0] == 'p')
                ev->product = t;
            else
                ev->event_key = t;
        } else if (strcmp(key, "time") == 0) {
            long long secs;
            if (json_is_integer(v)) {
                ev->time = json_integer_value(v);
            } else if (json_is_string(v) &&
                       cseg_parse_datetime(json_string_value(v), strlen(json_string_value(v)),
                                           NULL, &secs) == 0) {
                ev->time = secs;
            } else {
                snprintf(msg, msize,
                         "time must be a date-time (2011-12-10T10:00:00) or seconds since 1970");
                return -1;
            }
        } else if (strcmp(key, "quantity") == 0 || strcmp(key, "price") == 0 ||
                   strcmp(key, "amount") == 0) {
            if (!json_is_number(v)) {
                snprintf(msg, msize, "%s must be a number", key);
                return -1;
            }
            double x = json_number_value(v);
            *(key[0] == 'q' ? &ev->quantity : key[0] == 'p' ? &ev->price : &ev->amount) = x;
        } else if (strcmp(key, "attributes") == 0) {
            /* The row's other fields: two events equal in every field and in
             * these are the exact duplicate run drops. */
            if (!json_is_object(v)) {
                snprintf(msg, msize, "attributes must be a JSON object");
                return -1;
            }
            *rest = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
            ev->rest = *rest;
        } else {
            snprintf(msg, msize, "unknown field (fields: customer_id, time, invoice, product, "
                                 "quantity, price, amount, event_id, attributes)");
            return -1;
        }
    }
    field[0] = 0;
    return 0;
}

static void job_free(job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        free(j->rest[i]);
    free(j->rest);
    free(j->evs);
    free(j->res);
    json_decref(j->doc);
    free(j);
}

/* ---- the writer: group commit ---- */

static void finish_job(server *sv, job *j)
{
    if (j->rc == 0) {
        uint64_t applied = 0, moves = 0;
        for (size_t i = 0; i < j->n; i++) {
            applied += (uint64_t)j->res[i].applied;
            moves += (uint64_t)j->res[i].changed;
        }
        atomic_fetch_add_explicit(&sv->m.applied, applied, memory_order_relaxed);
        atomic_fetch_add_explicit(&sv->m.moves, moves, memory_order_relaxed);
    }
    serve_mhd.MHD_resume_connection(j->conn);
}

static int apply_jobs(server *sv, job **jobs, size_t nj, cseg_event *evs,
                      cseg_stream_result *res, size_t total, cseg_diag *d)
{
    size_t at = 0;
    for (size_t i = 0; i < nj; i++) {
        memcpy(evs + at, jobs[i]->evs, jobs[i]->n * sizeof *evs);
        at += jobs[i]->n;
    }
    size_t failed;
    double t0 = now_s();
    int rc = cseg_stream_apply_batch(sv->wstore, sv->model, evs, total, sv->as_of, res, &failed, d);
    double secs = now_s() - t0;
    if (nj == 1)
        jobs[0]->failed = failed;
    if (rc == 0) {
        atomic_fetch_add_explicit(&sv->m.commits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&sv->m.commit_us, (uint64_t)(secs * 1e6), memory_order_relaxed);
        atomic_fetch_add_explicit(&sv->m.batch_events, total, memory_order_relaxed);
        observe(sv->m.commit_hist, secs);
        sv->owes = cseg_stream_owes(sv->wstore);
        at = 0;
        for (size_t i = 0; i < nj; i++) {
            memcpy(jobs[i]->res, res + at, jobs[i]->n * sizeof *res);
            at += jobs[i]->n;
        }
        pthread_mutex_lock(&sv->ck_mu);
        sv->ck_dirty = 1;
        pthread_cond_signal(&sv->ck_cv);
        pthread_mutex_unlock(&sv->ck_mu);
        for (size_t i = 0; i < total; i++)
            if (res[i].changed) { /* the webhook sends the new moves now */
                serve_webhook_poke(sv->hook);
                break;
            }
    }
    return rc;
}

/* The webhook's delivery cursor kept in the store by the writer, when it
 * moved: at most every CURSOR_KEEP_S, or now (idle, stopping). A crash may
 * send the moves of the last second again (at least once). */
#define CURSOR_KEEP_S 1.0

static void writer_keep_cursor(server *sv, int now)
{
    if (!sv->hook)
        return;
    int64_t pos;
    const char *name = serve_webhook_cursor(sv->hook, &pos);
    double t = now_s();
    if (pos == sv->cursor_kept || (!now && t - sv->cursor_at < CURSOR_KEEP_S))
        return;
    cseg_diag d;
    cseg_diag_clear(&d);
    if (cseg_stream_cursor_set(sv->wstore, name, pos, &d) == 0) {
        sv->cursor_kept = pos;
        sv->cursor_at = t;
    } else if (!sv->quiet) {
        fprintf(stderr, "custseg serve: cannot keep the webhook's delivery cursor: %s\n", d.msg);
    }
}

/* What the writer owes written when it has been idle for IDLE_FLUSH_MS.
 * Should that fail, the store's mark keeps them owed (readers fold them,
 * the next writer writes them). */
#define IDLE_FLUSH_MS 200

static void writer_flush(server *sv)
{
    cseg_diag d;
    cseg_diag_clear(&d);
    if (cseg_stream_flush(sv->wstore, &d) < 0 && !sv->quiet)
        fprintf(stderr, "custseg serve: writing the customers' states: %s\n", d.msg);
    sv->owes = 0; /* written, or the cache is gone: the mark tells them */
}

static void *writer_main(void *arg)
{
    server *sv = arg;
    size_t cap = 0, jcap = 0;
    cseg_event *evs = NULL;
    cseg_stream_result *res = NULL;
    job **jobs = NULL;
    for (;;) {
        pthread_mutex_lock(&sv->mu);
        /* Idle for IDLE_FLUSH_MS with states owed: they are written. */
        int timed_out = 0;
        while (!sv->head && !sv->stopping && !timed_out) {
            int owes = sv->owes;
            if (!owes && !sv->hook) {
                pthread_cond_wait(&sv->cv, &sv->mu);
                continue;
            }
            struct timespec until = serve_deadline(CLOCK_REALTIME, owes ? IDLE_FLUSH_MS / 1000.0
                                                                        : (double)CURSOR_KEEP_S);
            timed_out = pthread_cond_timedwait(&sv->cv, &sv->mu, &until) == ETIMEDOUT;
        }
        if (timed_out && !sv->head) {
            pthread_mutex_unlock(&sv->mu);
            if (sv->owes)
                writer_flush(sv);
            writer_keep_cursor(sv, 1);
            continue;
        }
        if (!sv->head) {
            pthread_mutex_unlock(&sv->mu);
            break;
        }
        /* Everything queued, up to max_batch events (a request is never split). */
        size_t nj = 0, total = 0;
        while (sv->head && (nj == 0 || total + sv->head->n <= sv->max_batch)) {
            job *j = sv->head;
            sv->head = j->next;
            if (nj == jcap) {
                jcap = jcap ? 2 * jcap : 64;
                jobs = realloc(jobs, jcap * sizeof *jobs);
            }
            jobs[nj++] = j;
            total += j->n;
        }
        if (!sv->head)
            sv->tail = NULL;
        pthread_mutex_unlock(&sv->mu);
        if (total > cap) {
            cap = total;
            evs = realloc(evs, cap * sizeof *evs);
            res = realloc(res, cap * sizeof *res);
        }
        cseg_diag d;
        cseg_diag_clear(&d);
        int rc =
            !jobs || !evs || !res ? CSEG_ENOMEM : apply_jobs(sv, jobs, nj, evs, res, total, &d);
        for (size_t i = 0; i < nj; i++) {
            if (rc < 0 && nj > 1 && jobs && evs && res) { /* one by one: whose trouble is it? */
                cseg_diag_clear(&jobs[i]->diag);
                jobs[i]->rc = apply_jobs(sv, &jobs[i], 1, evs, res, jobs[i]->n, &jobs[i]->diag);
            } else {
                jobs[i]->rc = rc;
                jobs[i]->diag = d;
            }
            finish_job(sv, jobs[i]);
        }
        writer_keep_cursor(sv, 0);
    }
    free(evs);
    free(res);
    free(jobs);
    return NULL;
}

/* ---- the checkpointer ---- */

/* After commits, at most every 10 ms: the log copied into the database by a
 * connection of its own (measured: single events 4,500-4,900 -> 5,700-5,900 a second on
 * a store of 500,000 events, when the writer no longer checkpoints itself). */
static void *checkpoint_main(void *arg)
{
    server *sv = arg;
    cseg_store *s = NULL;
    cseg_diag d;
    cseg_diag_clear(&d);
    if (cseg_store_open(&s, sv->db, &d) < 0) {
        if (!sv->quiet)
            fprintf(stderr, "custseg serve: checkpoints: %s (the writer does them)\n", d.msg);
        return NULL;
    }
    int complained = 0;
    pthread_mutex_lock(&sv->ck_mu);
    while (!sv->ck_stopping) {
        if (!sv->ck_dirty) {
            pthread_cond_wait(&sv->ck_cv, &sv->ck_mu);
            continue;
        }
        sv->ck_dirty = 0;
        pthread_mutex_unlock(&sv->ck_mu);
        if (cseg_store_checkpoint(s, &d) < 0 && !complained++ && !sv->quiet)
            fprintf(stderr, "custseg serve: checkpoint: %s\n", d.msg);
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        pthread_mutex_lock(&sv->ck_mu);
    }
    pthread_mutex_unlock(&sv->ck_mu);
    cseg_store_close(s);
    return NULL;
}

/* ---- per-thread readers ---- */

static void close_reader(void *p)
{
    cseg_store_close(p);
}

static cseg_store *reader(server *sv, cseg_diag *d)
{
    cseg_store *s = pthread_getspecific(sv->reader);
    if (s)
        return s;
    if (cseg_store_open(&s, sv->db, d) < 0)
        return NULL;
    pthread_setspecific(sv->reader, s);
    return s;
}

/* ---- endpoints ---- */

/* A number for a reply: whole ones as integers, others to 15 significant
 * digits (5318.78, not 5318.7799999999997), NaN as null. */
static json_t *num_or_null(double v)
{
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static json_t *segment_name(const server *sv, int seg)
{
    const char *n = seg >= 1 && (size_t)seg <= sv->k ? cseg_model_name(sv->model, (size_t)seg - 1)
                                                     : NULL;
    return n ? json_string(n) : json_null();
}

static json_t *features_json(const cseg_stream_result *x)
{
    json_t *f = json_object();
    for (size_t j = 0; j < CSEG_STREAM_N_FEATURES; j++)
        json_object_set_new(f, cseg_stream_feature_name(j), num_or_null(x->features[j]));
    return f;
}

static json_t *result_json(const server *sv, const char *id, const cseg_stream_result *x)
{
    json_t *o = json_object();
    json_object_set_new(o, "customer_id", json_string(id));
    json_object_set_new(o, "segment", x->segment ? json_integer(x->segment) : json_null());
    json_object_set_new(o, "segment_name", segment_name(sv, x->segment));
    json_object_set_new(o, "previous_segment", x->previous ? json_integer(x->previous) : json_null());
    json_object_set_new(o, "previous", segment_name(sv, x->previous));
    json_object_set_new(o, "changed", json_boolean(x->changed));
    json_object_set_new(o, "applied", json_boolean(x->applied));
    json_object_set_new(o, "event_seq", x->event_seq ? json_integer(x->event_seq) : json_null());
    json_object_set_new(o, "change_seq", x->changed ? json_integer(x->change_seq) : json_null());
    json_object_set_new(o, "distance", num_or_null(x->distance));
    char day[16] = "";
    if (x->as_of_day != 0 || x->segment)
        cseg_format_date(x->as_of_day, day, sizeof day);
    json_object_set_new(o, "as_of", day[0] ? json_string(day) : json_null());
    json_object_set_new(o, "features", features_json(x));
    /* A mixture's membership probabilities, as /v1/score gives them. */
    double *proba = sv->mixture && x->segment ? malloc(sv->k * sizeof *proba) : NULL;
    cseg_diag d;
    cseg_diag_clear(&d);
    if (proba && cseg_stream_probabilities(sv->model, x, proba, &d) == 0) {
        json_t *p = json_array();
        for (size_t j = 0; j < sv->k; j++)
            json_array_append_new(p, json_real(proba[j]));
        json_object_set_new(o, "probabilities", p);
    }
    free(proba);
    return o;
}

static enum MHD_Result events_reply(server *sv, struct MHD_Connection *c, req *r)
{
    job *j = r->job;
    /* An event the library refused (its features beyond the model, its
     * customer's sums beyond the range of numbers): the request's fault,
     * 400 naming it; anything else the store's, 503. Nothing was kept. */
    if (j->rc < 0 && (j->rc == CSEG_EINVAL || j->rc == CSEG_ERANGE) && j->failed < j->n) {
        char path[200];
        const char *f = j->diag.file;
        if (j->is_array)
            snprintf(path, sizeof path, "[%zu]%s%.150s", j->failed, f[0] ? "." : "", f);
        else
            snprintf(path, sizeof path, "%.150s", f);
        return send_error(sv, c, r, 400, path[0] ? path : NULL, "%s (nothing was kept)",
                          j->diag.msg);
    }
    if (j->rc < 0)
        return send_error(sv, c, r, 503, NULL, "the store refused the events (nothing was kept): %s",
                          j->diag.msg);
    if (!j->is_array)
        return send_json(sv, c, r, 200, result_json(sv, j->evs[0].customer_id, &j->res[0]));
    json_t *o = json_object(), *moves = json_array();
    size_t applied = 0;
    for (size_t i = 0; i < j->n; i++) {
        applied += (size_t)j->res[i].applied;
        if (j->res[i].changed)
            json_array_append_new(moves, result_json(sv, j->evs[i].customer_id, &j->res[i]));
    }
    json_object_set_new(o, "count", json_integer((json_int_t)j->n));
    json_object_set_new(o, "applied", json_integer((json_int_t)applied));
    json_object_set_new(o, "moves", moves);
    return send_json(sv, c, r, 200, o);
}

static enum MHD_Result post_events(server *sv, struct MHD_Connection *c, req *r)
{
    if (!sv->transactions)
        return send_error(sv, c, r, 400, NULL,
                          "this service's model is from a customer table; events need a model "
                          "made by run (from a transaction log)");
    json_error_t err;
    json_t *doc = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &err);
    if (!doc)
        return send_error(sv, c, r, 400, NULL, "malformed JSON: %s (line %d, column %d)", err.text,
                          err.line, err.column);
    int is_array = json_is_array(doc);
    size_t n = is_array ? json_array_size(doc) : 1;
    if (is_array && n == 0) {
        json_decref(doc);
        return send_error(sv, c, r, 400, NULL, "an empty array of events");
    }
    job *j = calloc(1, sizeof *j);
    if (j) {
        j->doc = doc;
        j->is_array = is_array;
        j->evs = calloc(n, sizeof *j->evs);
        j->rest = calloc(n, sizeof *j->rest);
        j->res = calloc(n, sizeof *j->res);
    }
    if (!j || !j->evs || !j->rest || !j->res) {
        if (!j)
            json_decref(doc);
        job_free(j);
        return send_error(sv, c, r, 500, NULL, "out of memory");
    }
    j->n = n;
    j->failed = n;
    for (size_t i = 0; i < n; i++) {
        char msg[300], field[160], path[200];
        json_t *o = is_array ? json_array_get(doc, i) : doc;
        int bad = read_event(o, &j->evs[i], &j->rest[i], msg, sizeof msg, field, sizeof field);
        cseg_diag d;
        cseg_diag_clear(&d);
        if (!bad && cseg_stream_check(sv->model, &j->evs[i], &d) < 0) {
            bad = 1;
            snprintf(msg, sizeof msg, "%.299s", d.msg);
            snprintf(field, sizeof field, "%.159s", d.file);
        }
        if (bad) {
            if (is_array)
                snprintf(path, sizeof path, "[%zu]%s%s", i, field[0] ? "." : "", field);
            else
                snprintf(path, sizeof path, "%s", field);
            job_free(j);
            return send_error(sv, c, r, 400, path[0] ? path : NULL, "%s", msg);
        }
    }
    atomic_fetch_add_explicit(&sv->m.events, n, memory_order_relaxed);
    j->conn = c;
    pthread_mutex_lock(&sv->mu);
    if (sv->stopping) {
        pthread_mutex_unlock(&sv->mu);
        job_free(j);
        return send_error(sv, c, r, 503, NULL, "the service is stopping");
    }
    r->job = j;
    sv->in_flight++;
    serve_mhd.MHD_suspend_connection(c);
    if (sv->tail)
        sv->tail->next = j;
    else
        sv->head = j;
    sv->tail = j;
    pthread_cond_signal(&sv->cv);
    pthread_mutex_unlock(&sv->mu);
    return MHD_YES;
}

typedef struct moves_ctx {
    const server *sv;
    json_t *arr;
    int64_t last;
} moves_ctx;

/* A move as /v1/changes, /v1/customers and the webhook give it. */
static json_t *move_json(void *ctx, const cseg_stream_change *ch)
{
    const server *sv = ctx;
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(ch->seq));
    json_object_set_new(o, "customer_id", json_string(ch->customer_id));
    json_object_set_new(o, "from", json_integer(ch->from_segment));
    json_object_set_new(o, "from_name", segment_name(sv, ch->from_segment));
    json_object_set_new(o, "to", json_integer(ch->to_segment));
    json_object_set_new(o, "to_name", segment_name(sv, ch->to_segment));
    json_object_set_new(o, "event_seq", json_integer(ch->event_seq));
    json_object_set_new(o, "changed_at", json_string(ch->changed_at));
    return o;
}

static int add_move(void *ctx, const cseg_stream_change *ch)
{
    moves_ctx *m = ctx;
    json_t *o = move_json((void *)m->sv, ch);
    json_array_append_new(m->arr, o);
    m->last = ch->seq;
    return 0;
}

static enum MHD_Result get_customer(server *sv, struct MHD_Connection *c, req *r, const char *id)
{
    if (!sv->transactions)
        return send_error(sv, c, r, 400, NULL,
                          "customers' running state needs a model made by run (a transaction log)");
    cseg_diag d;
    cseg_diag_clear(&d);
    cseg_store *s = reader(sv, &d);
    cseg_stream_result x;
    if (!s || cseg_stream_customer(s, sv->model, id, sv->as_of, &x, &d) < 0)
        return send_error(sv, c, r, 503, NULL, "store: %s", d.msg);
    if (!x.known)
        return send_error(sv, c, r, 404, NULL, "no such customer");
    json_t *o = result_json(sv, id, &x);
    json_object_del(o, "previous_segment");
    json_object_del(o, "previous");
    json_object_del(o, "changed");
    json_object_del(o, "applied");
    json_object_del(o, "event_seq");
    json_object_del(o, "change_seq");
    moves_ctx m = {sv, json_array(), 0};
    if (cseg_stream_changes(s, id, 0, 0, add_move, &m, &d) < 0) {
        json_decref(o);
        json_decref(m.arr);
        return send_error(sv, c, r, 503, NULL, "store: %s", d.msg);
    }
    json_object_set_new(o, "moves", m.arr);
    return send_json(sv, c, r, 200, o);
}

static enum MHD_Result get_changes(server *sv, struct MHD_Connection *c, req *r)
{
    const char *since = serve_mhd.MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    const char *limit = serve_mhd.MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    long s0 = 0, lim = 1000;
    if (since && cli_parse_int(since, 0, LONG_MAX, &s0) < 0)
        return send_error(sv, c, r, 400, "since", "since must be a whole number >= 0");
    if (limit && cli_parse_int(limit, 1, 10000, &lim) < 0)
        return send_error(sv, c, r, 400, "limit", "limit must be a whole number from 1 to 10000");
    cseg_diag d;
    cseg_diag_clear(&d);
    cseg_store *s = reader(sv, &d);
    moves_ctx m = {sv, json_array(), s0};
    if (!s || cseg_stream_changes(s, NULL, s0, (size_t)lim, add_move, &m, &d) < 0) {
        json_decref(m.arr);
        return send_error(sv, c, r, 503, NULL, "store: %s", d.msg);
    }
    json_t *o = json_object();
    json_object_set_new(o, "changes", m.arr);
    json_object_set_new(o, "next", json_integer(m.last));
    return send_json(sv, c, r, 200, o);
}

static enum MHD_Result get_segments(server *sv, struct MHD_Connection *c, req *r)
{
    size_t *sizes = calloc(sv->k + 1, sizeof *sizes);
    cseg_diag d;
    cseg_diag_clear(&d);
    cseg_store *s = sv->transactions ? reader(sv, &d) : NULL;
    if (!sizes || (sv->transactions && (!s || cseg_stream_segment_sizes(s, sv->k, sizes, &d) < 0))) {
        free(sizes);
        return send_error(sv, c, r, 503, NULL, "store: %s", d.msg);
    }
    json_t *o = json_object(), *arr = json_array();
    for (size_t j = 1; j <= sv->k; j++) {
        json_t *e = json_object();
        json_object_set_new(e, "segment", json_integer((json_int_t)j));
        json_object_set_new(e, "name", segment_name(sv, (int)j));
        json_object_set_new(e, "size", sv->transactions ? json_integer((json_int_t)sizes[j])
                                                         : json_null());
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "segments", arr);
    json_object_set_new(o, "without_segment", json_integer((json_int_t)sizes[0]));
    free(sizes);
    return send_json(sv, c, r, 200, o);
}

/* POST /v1/score: one customer's features, through the model alone. */
static enum MHD_Result post_score(server *sv, struct MHD_Connection *c, req *r)
{
    json_error_t err;
    json_t *doc = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &err);
    if (!doc)
        return send_error(sv, c, r, 400, NULL, "malformed JSON: %s (line %d, column %d)", err.text,
                          err.line, err.column);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return send_error(sv, c, r, 400, NULL, "the features are one JSON object");
    }
    /* Each feature the model reads, of its kind: a refusal names it in
     * "field" (the model's own message left it null). */
    const cseg_prep *pp = cseg_model_prep(sv->model);
    for (size_t j = 0; pp && j < cseg_prep_n_inputs(pp); j++) {
        const char *name = cseg_prep_input_name(pp, j);
        json_t *f = json_object_get(doc, name);
        const char *why = !f ? "is missing: the model uses it (null for a missing number)"
                          : cseg_prep_input_is_category(pp, j)
                              ? (json_is_string(f) ? NULL
                                                   : "must be text: the model reads it as categories")
                          : json_is_number(f) || json_is_null(f) ? NULL
                                                                 : "must be a number (null when missing)";
        if (why) {
            json_decref(doc);
            return send_error(sv, c, r, 400, name, "feature \"%s\" %s", name, why);
        }
    }
    cseg_table *t = NULL;
    int rc = cseg_table_create(&t, 1);
    const char *key;
    json_t *v;
    int32_t zero = 0;
    json_object_foreach(doc, key, v)
    {
        if (rc < 0)
            break;
        if (json_is_number(v) || json_is_null(v)) { /* null: a missing number */
            double x = json_is_number(v) ? json_number_value(v) : NAN;
            rc = cseg_table_add_numbers(t, key, &x);
        } else if (json_is_string(v)) {
            const char *lv = json_string_value(v);
            rc = cseg_table_add_text(t, key, &lv, 1, &zero);
        } else { /* key is the document's: the reply is made before it goes */
            cseg_table_free(t);
            int res = send_error(sv, c, r, 400, key, "a feature is a number, a string or null");
            json_decref(doc);
            return res;
        }
    }
    int32_t label = -1;
    double dist = NAN;
    cseg_diag d;
    cseg_diag_clear(&d);
    /* A mixture's membership probabilities too: transform, then predict. */
    int mixture = sv->mixture;
    size_t dim = cseg_model_dim(sv->model);
    double *z = mixture ? malloc((dim ? dim : 1) * sizeof *z) : NULL;
    double *proba = mixture ? malloc((sv->k ? sv->k : 1) * sizeof *proba) : NULL;
    if (mixture && (!z || !proba))
        rc = CSEG_ENOMEM;
    if (rc >= 0 && mixture) {
        rc = cseg_model_transform(sv->model, t, z, &d);
        if (rc >= 0)
            rc = cseg_model_predict(sv->model, z, 1, &label, &dist, proba);
    } else if (rc >= 0) {
        rc = cseg_model_assign(sv->model, t, &label, &dist, &d);
    }
    cseg_table_free(t);
    json_decref(doc);
    free(z);
    if (rc < 0) {
        free(proba);
        return send_error(sv, c, r, 400, NULL, "%s", d.msg[0] ? d.msg : cseg_strerror(rc));
    }
    json_t *o = json_object();
    json_object_set_new(o, "segment", label >= 0 ? json_integer(label + 1) : json_null());
    json_object_set_new(o, "segment_name", segment_name(sv, label + 1));
    json_object_set_new(o, "distance", num_or_null(dist));
    if (mixture) {
        json_t *p = json_array();
        for (size_t j = 0; j < sv->k; j++)
            json_array_append_new(p, json_real(proba[j]));
        json_object_set_new(o, "probabilities", p);
    }
    free(proba);
    return send_json(sv, c, r, 200, o);
}

static void append_metric(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append_metric(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = *buf ? vsnprintf(*buf + *len, *cap - *len, fmt, ap) : -1;
        va_end(ap);
        if (*buf && n >= 0 && (size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        size_t nc = *cap ? 2 * *cap : 8192;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return;
        *buf = nb;
        *cap = nc;
    }
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static enum MHD_Result get_metrics(server *sv, struct MHD_Connection *c, req *r)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    append_metric(&b, &len, &cap,
                  "# HELP custseg_requests_total HTTP requests by endpoint and status.\n"
                  "# TYPE custseg_requests_total counter\n");
    for (size_t e = 0; e < N_EP; e++)
        for (size_t s = 0; s < N_STATUS; s++)
            if (LOAD(sv->m.requests[e][s]))
                append_metric(&b, &len, &cap,
                              "custseg_requests_total{endpoint=\"%s\",status=\"%u\"} %" PRIu64 "\n",
                              ep_names[e], statuses[s], LOAD(sv->m.requests[e][s]));
    append_metric(&b, &len, &cap,
                  "# HELP custseg_request_seconds Time from a request's first byte to its reply.\n"
                  "# TYPE custseg_request_seconds histogram\n");
    for (size_t e = 0; e < N_EP; e++) {
        uint64_t acc = 0;
        for (size_t i = 0; i <= N_LAT; i++) {
            acc += LOAD(sv->m.latency[e][i]);
            if (i < N_LAT)
                append_metric(&b, &len, &cap,
                              "custseg_request_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %" PRIu64
                              "\n",
                              ep_names[e], lat_bounds[i], acc);
            else
                append_metric(&b, &len, &cap,
                              "custseg_request_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %" PRIu64
                              "\n",
                              ep_names[e], acc);
        }
        append_metric(&b, &len, &cap,
                      "custseg_request_seconds_sum{endpoint=\"%s\"} %.6f\n"
                      "custseg_request_seconds_count{endpoint=\"%s\"} %" PRIu64 "\n",
                      ep_names[e], (double)LOAD(sv->m.latency_us[e]) * 1e-6, ep_names[e], acc);
    }
    append_metric(&b, &len, &cap,
                  "# HELP custseg_events_total Events received and checked.\n"
                  "# TYPE custseg_events_total counter\ncustseg_events_total %" PRIu64 "\n"
                  "# HELP custseg_events_applied_total Events that changed a customer's state.\n"
                  "# TYPE custseg_events_applied_total counter\n"
                  "custseg_events_applied_total %" PRIu64 "\n"
                  "# HELP custseg_moves_total Customers moved to another segment.\n"
                  "# TYPE custseg_moves_total counter\ncustseg_moves_total %" PRIu64 "\n"
                  "# HELP custseg_store_commit_events_total Events in committed batches.\n"
                  "# TYPE custseg_store_commit_events_total counter\n"
                  "custseg_store_commit_events_total %" PRIu64 "\n"
                  "# HELP custseg_store_commit_seconds Time to apply and commit one batch.\n"
                  "# TYPE custseg_store_commit_seconds histogram\n",
                  LOAD(sv->m.events), LOAD(sv->m.applied), LOAD(sv->m.moves),
                  LOAD(sv->m.batch_events));
    uint64_t acc = 0;
    for (size_t i = 0; i <= N_LAT; i++) {
        acc += LOAD(sv->m.commit_hist[i]);
        if (i < N_LAT)
            append_metric(&b, &len, &cap, "custseg_store_commit_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                          lat_bounds[i], acc);
        else
            append_metric(&b, &len, &cap,
                          "custseg_store_commit_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", acc);
    }
    append_metric(&b, &len, &cap,
                  "custseg_store_commit_seconds_sum %.6f\ncustseg_store_commit_seconds_count %" PRIu64
                  "\n",
                  (double)LOAD(sv->m.commit_us) * 1e-6, LOAD(sv->m.commits));
    if (sv->hook) {
        serve_webhook_stats st;
        serve_webhook_read_stats(sv->hook, &st);
        append_metric(&b, &len, &cap,
                      "# HELP custseg_webhook_posts_total POSTs to the webhook, answered or not.\n"
                      "# TYPE custseg_webhook_posts_total counter\n"
                      "custseg_webhook_posts_total %" PRIu64 "\n"
                      "# HELP custseg_webhook_failures_total POSTs without a 2xx reply (tried again).\n"
                      "# TYPE custseg_webhook_failures_total counter\n"
                      "custseg_webhook_failures_total %" PRIu64 "\n"
                      "# HELP custseg_webhook_delivered_total Moves delivered (2xx).\n"
                      "# TYPE custseg_webhook_delivered_total counter\n"
                      "custseg_webhook_delivered_total %" PRIu64 "\n"
                      "# HELP custseg_webhook_pending Moves committed and not yet delivered.\n"
                      "# TYPE custseg_webhook_pending gauge\ncustseg_webhook_pending %" PRId64 "\n"
                      "# HELP custseg_webhook_position The seq of the last move delivered.\n"
                      "# TYPE custseg_webhook_position gauge\ncustseg_webhook_position %" PRId64 "\n",
                      st.posts, st.failures, st.delivered, st.pending, st.position);
    }
    if (!b)
        return send_error(sv, c, r, 500, NULL, "out of memory");
    return send_text(sv, c, r, 200, "text/plain; version=0.0.4", b, len);
}

/* ---- routing ---- */

static int route(const char *url, const char *method, int *needs, int *method_ok)
{
    /* HEAD is a GET without its body (libmicrohttpd leaves the body out). */
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0,
        post = strcmp(method, "POST") == 0;
    *needs = SERVE_SCOPE_READ;
    *method_ok = get;
    if (strcmp(url, "/v1/events") == 0) {
        *needs = SERVE_SCOPE_WRITE;
        *method_ok = post;
        return EP_EVENTS;
    }
    if (strncmp(url, "/v1/customers/", 14) == 0 && url[14])
        return EP_CUSTOMER;
    if (strcmp(url, "/v1/score") == 0) {
        *method_ok = post;
        return EP_SCORE;
    }
    if (strcmp(url, "/v1/segments") == 0)
        return EP_SEGMENTS;
    if (strcmp(url, "/v1/changes") == 0)
        return EP_CHANGES;
    if (strcmp(url, "/healthz") == 0) {
        *needs = 0;
        return EP_HEALTHZ;
    }
    if (strcmp(url, "/metrics") == 0)
        return EP_METRICS;
    *needs = 0;
    *method_ok = 1;
    return EP_OTHER;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)version;
    server *sv = cls;
    req *r = *req_cls;
    if (!r) { /* the headers are in: route and authorise before any body is read */
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->t0 = now_s();
        r->method = method;
        r->url = url;
        *req_cls = r;
        int needs, method_ok;
        r->ep = route(url, method, &needs, &method_ok);
        if (r->ep == EP_OTHER)
            return send_error(sv, c, r, 404, NULL, "no such endpoint");
        if (!method_ok)
            return send_error(sv, c, r, 405, NULL, "method not allowed here");
        if (needs) {
            const char *auth = serve_mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_AUTHORIZATION);
            /* The scheme in any case, then one or more spaces (RFC 7235). */
            const char *tok = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
            while (tok && *tok == ' ')
                tok++;
            r->scope = serve_token_scope(&sv->tokens, tok);
            if (!r->scope)
                return send_error(sv, c, r, 401, NULL, "a valid bearer token is needed");
            if (!(r->scope & needs))
                return send_error(sv, c, r, 403, NULL, "this token may not write events");
        }
        const char *cl = serve_mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > sv->max_body)
            return send_error(sv, c, r, 413, NULL, "the body is larger than %zu bytes",
                              sv->max_body);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && r->len + *upload_size > sv->max_body)
            r->too_big = 1;
        if (!r->too_big) {
            if (r->len + *upload_size + 1 > r->cap) {
                size_t nc = 2 * (r->len + *upload_size + 1);
                char *nb = realloc(r->body, nc);
                if (!nb)
                    return MHD_NO;
                r->body = nb;
                r->cap = nc;
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->job) /* resumed: the writer is done with it */
        return events_reply(sv, c, r);
    if (r->too_big)
        return send_error(sv, c, r, 413, NULL, "the body is larger than %zu bytes", sv->max_body);
    switch (r->ep) {
    case EP_EVENTS: return post_events(sv, c, r);
    case EP_CUSTOMER: return get_customer(sv, c, r, url + 14);
    case EP_SCORE: return post_score(sv, c, r);
    case EP_SEGMENTS: return get_segments(sv, c, r);
    case EP_CHANGES: return get_changes(sv, c, r);
    case EP_METRICS: return get_metrics(sv, c, r);
    default: {
        char *ok = strdup("{\"status\":\"ok\"}");
        return ok ? send_text(sv, c, r, 200, "application/json", ok, strlen(ok)) : MHD_NO;
    }
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    server *sv = cls;
    (void)c;
    (void)toe;
    req *r = *req_cls;
    if (!r)
        return;
    if (r->job) { /* an event request answered (or its connection gone) */
        pthread_mutex_lock(&sv->mu);
        if (--sv->in_flight == 0)
            pthread_cond_broadcast(&sv->idle);
        pthread_mutex_unlock(&sv->mu);
    }
    job_free(r->job);
    free(r->body);
    free(r);
    *req_cls = NULL;
}

/* ---- the command ---- */

static const char serve_help[] =
    "usage: custseg serve --model MODEL --db URI --tokens FILE [options]\n"
    "\n"
    "Serve segments over HTTP (docs/service.md): POST /v1/events applies purchases to the\n"
    "customers' running state in the store and re-assigns them with the model; GET\n"
    "/v1/customers/ID, /v1/segments, /v1/changes?since=SEQ&limit=N read it; POST /v1/score\n"
    "runs the model on given features; /healthz, /metrics (Prometheus).\n"
    "\n"
    "Options:\n"
    "  --model FILE       model.json of a run (events) or fit (score only)\n"
    "  --db URI           the segment store (a path, sqlite:PATH, postgresql://...)\n"
    "  --tokens FILE      bearer tokens (custseg token add FILE --scope read|write)\n"
    "  --listen ADDR:PORT (127.0.0.1:8080; port 0: any free port, printed)\n"
    "  --threads N        HTTP threads (0: the cores less one, at least one)\n"
    "  --max-body BYTES   largest request body (1048576)\n"
    "  --max-batch N      most events in one commit (10000)\n"
    "  --timeout SECONDS  idle connections are closed after this (30)\n"
    "  --as-of DATE       count recency to this day (default: the day after each\n"
    "                     customer's latest purchase or event)\n"
    "  --access-log       a line per request on standard error (method, path, status, ms)\n"
    "  --log-ids          customer ids in those lines (default: /v1/customers/-)\n"
    "  --quiet            no log lines on standard error\n"
    "  --tls-cert FILE, --tls-key FILE   serve HTTPS (PEM files)\n"
    "  --webhook URL      POST every segment move to URL, from the store's log of moves:\n"
    "                     at least once, in order, tried again with backoff\n"
    "  --webhook-secret FILE   sign each POST: X-Custseg-Signature: sha256=HMAC of the body\n"
    "                     keyed with the file's first line\n"
    "  --webhook-batch N  most moves in one POST (100)\n";

/* A PEM file (a certificate or a key) whole into *out; an exit status. */
/* The certificate and the key read as PEM and made for each other, checked
 * here with OpenSSL: libmicrohttpd (GnuTLS) only fails to start on a bad
 * pair, and that was reported as "cannot listen on ADDRESS" with an errno of
 * nothing to do with it. */
static int tls_pair_check(const char *cert, const char *key, const char *cert_path,
                          const char *key_path)
{
    BIO *bc = BIO_new_mem_buf(cert, -1), *bk = BIO_new_mem_buf(key, -1);
    X509 *x = bc ? PEM_read_bio_X509(bc, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = bk ? PEM_read_bio_PrivateKey(bk, NULL, NULL, NULL) : NULL;
    int status = !x   ? cli_error(EXIT_DATA, "%s: not a PEM certificate (--tls-cert)", cert_path)
                 : !k ? cli_error(EXIT_DATA, "%s: not a PEM private key without a passphrase "
                                             "(--tls-key)",
                                  key_path)
                 : X509_check_private_key(x, k) != 1
                     ? cli_error(EXIT_DATA, "%s: the key does not match the certificate %s",
                                 key_path, cert_path)
                     : EXIT_OK;
    ERR_clear_error();
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(bk);
    BIO_free(bc);
    return status;
}

static int read_pem(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_error(EXIT_IO, "%s: %s", path, strerror(errno));
    size_t len = 0, cap = 4096;
    char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *nb = cap < (1 << 20) ? realloc(b, cap * 2) : NULL;
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (b)
        b[len] = 0;
    if (!b || err || !strstr(b, "-----BEGIN ")) {
        free(b);
        return cli_error(EXIT_DATA, "%s: not a PEM file (a certificate or key under 1 MiB)", path);
    }
    *out = b;
    return EXIT_OK;
}

static int parse_listen(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    long port;
    if (!colon || (size_t)(colon - s) >= sizeof host ||
        cli_parse_int(colon + 1, 0, 65535, &port) < 0)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int cmd_serve(int argc, char **argv)
{
    enum { O_MODEL = 256, O_DB, O_TOKENS, O_LISTEN, O_THREADS, O_MAXBODY, O_MAXBATCH, O_TIMEOUT,
           O_ASOF, O_LOGIDS, O_ACCESS, O_QUIET, O_TLSCERT, O_TLSKEY, O_HOOK, O_HOOKSECRET,
           O_HOOKBATCH, O_HELP };
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},     {"db", required_argument, NULL, O_DB},
        {"tokens", required_argument, NULL, O_TOKENS},   {"listen", required_argument, NULL, O_LISTEN},
        {"threads", required_argument, NULL, O_THREADS}, {"max-body", required_argument, NULL, O_MAXBODY},
        {"max-batch", required_argument, NULL, O_MAXBATCH},
        {"timeout", required_argument, NULL, O_TIMEOUT}, {"as-of", required_argument, NULL, O_ASOF},
        {"log-ids", no_argument, NULL, O_LOGIDS},        {"quiet", no_argument, NULL, O_QUIET},
        {"access-log", no_argument, NULL, O_ACCESS},
        {"tls-cert", required_argument, NULL, O_TLSCERT}, {"tls-key", required_argument, NULL, O_TLSKEY},
        {"webhook", required_argument, NULL, O_HOOK},
        {"webhook-secret", required_argument, NULL, O_HOOKSECRET},
        {"webhook-batch", required_argument, NULL, O_HOOKBATCH},
        {"help", no_argument, NULL, O_HELP},             {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *tokens = NULL, *listen = "127.0.0.1:8080";
    const char *tls_cert_path = NULL, *tls_key_path = NULL;
    const char *hook_url = NULL, *hook_secret = NULL;
    size_t hook_batch = 100;
    char *tls_cert = NULL, *tls_key = NULL;
    long threads = 0, timeout = 30;
    size_t max_body = 1 << 20, max_batch = 10000;
    long long as_of = CSEG_DAY_AUTO;
    server sv;
    memset(&sv, 0, sizeof sv);
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case O_MODEL: model_path = optarg; break;
        case O_DB: sv.db = optarg; break;
        case O_TOKENS: tokens = optarg; break;
        case O_LISTEN: listen = optarg; break;
        case O_THREADS:
            if (cli_parse_int(optarg, 0, 256, &threads) < 0)
                return cli_usage_error("serve", "--threads must be from 0 to 256");
            break;
        case O_MAXBODY:
            if (cli_parse_size(optarg, &max_body) < 0 || max_body == 0)
                return cli_usage_error("serve", "--max-body must be a positive number of bytes");
            break;
        case O_MAXBATCH:
            if (cli_parse_size(optarg, &max_batch) < 0 || max_batch == 0)
                return cli_usage_error("serve", "--max-batch must be a positive number");
            break;
        case O_TIMEOUT:
            if (cli_parse_int(optarg, 1, 86400, &timeout) < 0)
                return cli_usage_error("serve", "--timeout must be from 1 to 86400 seconds");
            break;
        case O_ASOF:
            if (cli_parse_day(optarg, &as_of) < 0)
                return cli_usage_error("serve", "--as-of: expected a date (YYYY-MM-DD)");
            break;
        case O_LOGIDS: sv.log_ids = 1; break;
        case O_ACCESS: sv.access_log = 1; break;
        case O_TLSCERT: tls_cert_path = optarg; break;
        case O_TLSKEY: tls_key_path = optarg; break;
        case O_QUIET: sv.quiet = 1; break;
        case O_HOOK: hook_url = optarg; break;
        case O_HOOKSECRET: hook_secret = optarg; break;
        case O_HOOKBATCH:
            if (cli_parse_size(optarg, &hook_batch) < 0 || hook_batch == 0 || hook_batch > 10000)
                return cli_usage_error("serve", "--webhook-batch must be from 1 to 10000");
            break;
        case O_HELP: fputs(serve_help, stdout); return EXIT_OK;
        default:
            return cli_usage_error("serve", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!model_path || !sv.db || !tokens)
        return cli_usage_error("serve", "--model, --db and --tokens are needed");
    if (hook_secret && !hook_url)
        return cli_usage_error("serve", "--webhook-secret needs --webhook");
    if (!tls_cert_path != !tls_key_path)
        return cli_usage_error("serve", "--tls-cert and --tls-key go together");
    int status = serve_libs_load(hook_url != NULL);
    if (status != EXIT_OK)
        return status;
    if (tls_cert_path && !serve_mhd.MHD_is_feature_supported(MHD_FEATURE_TLS))
        return cli_error(EXIT_IO, "this libmicrohttpd was built without TLS");
    struct sockaddr_in sa;
    if (parse_listen(listen, &sa) < 0)
        return cli_usage_error("serve", "--listen: expected IPv4-ADDRESS:PORT, such as 127.0.0.1:8080");
    sv.as_of = as_of;
    sv.max_body = max_body;
    sv.max_batch = max_batch;
    status = serve_tokens_load(&sv.tokens, tokens);
    if (status != EXIT_OK)
        return status;
    if (tls_cert_path && ((status = read_pem(tls_cert_path, &tls_cert)) != EXIT_OK ||
                          (status = read_pem(tls_key_path, &tls_key)) != EXIT_OK ||
                          (status = tls_pair_check(tls_cert, tls_key, tls_cert_path,
                                                   tls_key_path)) != EXIT_OK)) {
        free(tls_cert);
        if (tls_key)
            OPENSSL_cleanse(tls_key, strlen(tls_key));
        free(tls_key);
        serve_tokens_free(&sv.tokens);
        return status;
    }
    cseg_diag d;
    cseg_diag_clear(&d);
    cseg_model *model = NULL;
    int rc = cseg_model_load(&model, model_path, &d);
    if (rc < 0) {
        serve_tokens_free(&sv.tokens);
        return cli_fail(rc, &d, model_path);
    }
    if ((rc = cseg_stream_model_check(model, &d)) < 0) {
        cseg_model_free(model);
        serve_tokens_free(&sv.tokens);
        return cli_fail(rc, &d, model_path);
    }
    sv.model = model;
    sv.k = cseg_model_k(model);
    sv.transactions = cseg_model_source(model) == CSEG_SOURCE_TRANSACTIONS;
    sv.mixture = cseg_model_algo(model) == CSEG_ALGO_GMM;
    cseg_db_uri_redact(sv.db, sv.db_shown, sizeof sv.db_shown);
    rc = cseg_store_open(&sv.wstore, sv.db, &d);
    if (rc == 0)
        rc = cseg_store_durable(sv.wstore, &d);
    if (rc == 0)
        rc = cseg_store_defer_checkpoints(sv.wstore, &d);
    if (rc < 0) {
        status = cli_fail(rc, &d, sv.db_shown);
        goto out;
    }
    int summaries = 0;
    if (sv.transactions && cseg_stream_summary_only(sv.wstore, &summaries, &d) == 0 && summaries &&
        !sv.quiet)
        fprintf(stderr,
                "custseg serve: note: some customers' state in %s is a run's summary (run --db): "
                "their events here start their spend window and products afresh; custseg replay "
                "LOG --model MODEL --db URI loads the log as events to go on from it exactly\n",
                sv.db_shown);
    if (hook_url && !sv.transactions) {
        status = cli_usage_error("serve", "--webhook needs a model made by run (events move customers)");
        goto out;
    }
    if (hook_url) {
        serve_webhook_params hp = {hook_url, sv.db, hook_secret, hook_batch, sv.quiet, move_json, &sv};
        if ((status = serve_webhook_start(&sv.hook, &hp)) != EXIT_OK)
            goto out;
        serve_webhook_cursor(sv.hook, &sv.cursor_kept); /* as the store has it */
        sv.cursor_at = now_s();
    }
    pthread_mutex_init(&sv.mu, NULL);
    pthread_cond_init(&sv.cv, NULL);
    pthread_cond_init(&sv.idle, NULL);
    pthread_mutex_init(&sv.ck_mu, NULL);
    pthread_cond_init(&sv.ck_cv, NULL);
    int ckpt = pthread_create(&sv.ckpt, NULL, checkpoint_main, &sv) == 0;
    pthread_key_create(&sv.reader, close_reader);
    /* SIGINT and SIGTERM are waited for here; no other thread takes them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_create(&sv.writer, NULL, writer_main, &sv) != 0) {
        status = cli_error(EXIT_IO, "cannot start the writer thread");
        goto out_sync;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_OptionItem mo[14];
    size_t no = 0;
    mo[no++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sa};
    if (threads == 0) {
        /* A core is left to the writer thread (and the store's checkpoints):
         * an HTTP thread more than that only contends with it. On the 2-core
         * benchmark machine, with wrk on the same cores, two HTTP threads gave
         * /v1/score a p99 of 4.3 and 5.7 ms (medians of two five-run
         * benchmarks) against 2.4-2.7 ms with one, and changed nothing for
         * events (bench/README.md). */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 2 ? (cores - 1 < 256 ? cores - 1 : 256) : 1;
    }
    /* Connections: libmicrohttpd's default limit is FD_SETSIZE - 4 (1,020)
     * and a process's default file limit 1,024, so about a thousand idle
     * keep-alive clients shut everyone out until --timeout. The soft file
     * limit is raised to the hard one (at most 65,536), and connections may
     * use all of it but 64 files (the store, the logs, the webhook). */
    struct rlimit rl;
    rlim_t files = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
        files = rl.rlim_cur;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want;
            if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
                files = want;
        }
    }
    unsigned max_conn = files > 128 ? (unsigned)(files - 64) : 64;
    mo[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, max_conn, NULL};
    mo[no++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
    mo[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, timeout, NULL};
    mo[no++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, &sv};
    mo[no++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL};
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: libmicrohttpd's default is
     * SO_REUSEADDR (a restart binds at once); asking for reuse adds
     * SO_REUSEPORT, with which a second server on the same port started too
     * and the kernel split the requests between the two stores. */
    if (tls_key) { /* GnuTLS inside libmicrohttpd */
        flags |= MHD_USE_TLS;
        mo[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key};
        mo[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert};
    }
    mo[no] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    struct MHD_Daemon *daemon = serve_mhd.MHD_start_daemon(flags, 0, NULL, NULL, handle, &sv,
                                                 MHD_OPTION_ARRAY, mo, MHD_OPTION_END);
    if (!daemon) {
        status = cli_error(EXIT_IO, "cannot listen on %s: %s", listen, strerror(errno));
        pthread_mutex_lock(&sv.mu);
        sv.stopping = 1;
        pthread_cond_signal(&sv.cv);
        pthread_mutex_unlock(&sv.mu);
        pthread_join(sv.writer, NULL);
        goto out_sync;
    }
    const union MHD_DaemonInfo *info =
        serve_mhd.MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
    printf("custseg serve: listening on %s://%s:%u (model %s, %zu segments, store %s, "
           "%ld HTTP thread%s)\n",
           tls_key ? "https" : "http", addr, info ? info->port : ntohs(sa.sin_port), model_path,
           sv.k, sv.db_shown, threads, threads == 1 ? "" : "s");
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    if (!sv.quiet)
        fprintf(stderr, "custseg serve: %s: stopping (queued events are committed first)\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* No new events; the writer commits what is queued and resumes those
     * connections; their replies are sent (for at most 10 s: a client that
     * does not read its reply does not hold the stop up); then the HTTP
     * threads stop. */
    pthread_mutex_lock(&sv.mu);
    sv.stopping = 1;
    pthread_cond_signal(&sv.cv);
    pthread_mutex_unlock(&sv.mu);
    pthread_join(sv.writer, NULL);
    struct timespec until = serve_deadline(CLOCK_REALTIME, 10);
    pthread_mutex_lock(&sv.mu);
    while (sv.in_flight > 0 && pthread_cond_timedwait(&sv.idle, &sv.mu, &until) == 0)
        ;
    pthread_mutex_unlock(&sv.mu);
    serve_mhd.MHD_stop_daemon(daemon);
out_sync:
    if (ckpt) {
        pthread_mutex_lock(&sv.ck_mu);
        sv.ck_stopping = 1;
        pthread_cond_signal(&sv.ck_cv);
        pthread_mutex_unlock(&sv.ck_mu);
        pthread_join(sv.ckpt, NULL);
    }
    pthread_cond_destroy(&sv.ck_cv);
    pthread_mutex_destroy(&sv.ck_mu);
    pthread_key_delete(sv.reader);
    pthread_cond_destroy(&sv.cv);
    pthread_cond_destroy(&sv.idle);
    pthread_mutex_destroy(&sv.mu);
out:
    if (sv.hook && sv.wstore) { /* the deliveries over: where they got to kept */
        serve_webhook_quit(sv.hook);
        writer_keep_cursor(&sv, 1);
    }
    serve_webhook_stop(sv.hook);
    cseg_store_close(sv.wstore);
    cseg_model_free(model);
    serve_tokens_free(&sv.tokens);
    free(tls_cert);
    if (tls_key) /* the private key does not outlive its use in memory */
        OPENSSL_cleanse(tls_key, strlen(tls_key));
    free(tls_key);
    return status;
}
