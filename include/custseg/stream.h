/* custseg — segments that follow the purchases as they come: events applied
 * one by one to each customer's running state in the store, and the customer
 * re-assigned through the saved pipeline (docs/store.md#streaming-events).
 *
 * An event is one row of a transaction log. Applying it is one transaction
 * of the store: the event is kept (cseg_events), the customer's state is
 * updated from its previous value and a few indexed look-ups (was this
 * invoice or product seen before?), never from a rescan of the history (with
 * SQLite its row is written behind: cseg_stream_flush); the spend window
 * sums the customer's daily sums in the window (at most W rows).
 * The features
 * are then those of `custseg run` (the same cleaning rules, the same exact
 * sums rounded to the minor unit, the R, F and M scores from the model's
 * score edges), put through the model, and a change of segment is recorded
 * in cseg_segment_changes with a sequence number.
 */
#ifndef CUSTSEG_STREAM_H
#define CUSTSEG_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "custseg/model.h"
#include "custseg/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One transaction. */
typedef struct cseg_event {
    const char *customer_id; /* required */
    int64_t time;            /* seconds since 1970-01-01 UTC */
    const char *invoice;     /* NULL: none (then it is an order of its own) */
    const char *product;     /* NULL: none */
    double quantity, price;  /* NaN when amount is given */
    double amount;           /* NaN: quantity x price */
    const char *event_key;   /* idempotency key: an event given again is applied once; NULL */
    const char *rest;        /* the row's other fields as one text (a description, a store):
                                two events are exact duplicates, applied once as run drops
                                them, when every field and rest are equal; NULL: none */
} cseg_event;

#define CSEG_STREAM_N_FEATURES 11 /* the columns of cseg_rfm_compute but the id and rfm_code */

/* A customer after an event, or as read. */
typedef struct cseg_stream_result {
    int known;             /* 0: no such customer (read) */
    int applied;           /* 1: the event changed the state; 0: a duplicate or a repeat */
    int segment;           /* 1..k; 0 when the customer has no purchase yet */
    int previous;          /* segment before the event, 0 for none */
    int changed;           /* segment != previous (and previous != 0) */
    int64_t change_seq;    /* the change's sequence number, when changed */
    int64_t event_seq;     /* the event's number in cseg_events (0 for a repeat) */
    double distance;
    int64_t as_of_day;     /* the day recency is counted to */
    double features[CSEG_STREAM_N_FEATURES]; /* recency_days, frequency, monetary, tenure_days,
                                                avg_order_value, spend_{W}d, n_products,
                                                return_rate, r_score, f_score, m_score */
} cseg_stream_result;

/* The names of result.features, in order (spend_{W}d as "spend_window"). */
CSEG_API const char *cseg_stream_feature_name(size_t j);

/* Apply one event with a model made by run (a transaction log). as_of_day:
 * the day recency is counted to; CSEG_DAY_AUTO: the day after the later of
 * the event and the customer's last purchase. Errors: CSEG_EINVAL with a
 * message naming the bad field (the diag's file is the field's name) for an
 * event cleaning could not read: no customer, no time, no amount; CSEG_EPARAM
 * for a model from a customer table. An event cleaning drops (a price <= 0,
 * an amount of 0) is accepted and changes nothing (applied = 0), as run
 * drops such a row. */
CSEG_API int cseg_stream_apply(cseg_store *s, const cseg_model *m, const cseg_event *ev,
                               int64_t as_of_day, cseg_stream_result *out, cseg_diag *d);
/* Apply n events in one transaction (a service's group commit: one commit,
 * one disk flush, for events of many requests), in order, each as
 * cseg_stream_apply would (a customer given twice sees its own first event);
 * outs[i] for evs[i]. All or nothing: on an error none is kept, outs are
 * zeroed and *failed is the index of the event at fault (n when none is:
 * the store failed). */
CSEG_API int cseg_stream_apply_batch(cseg_store *s, const cseg_model *m, const cseg_event *evs,
                                     size_t n, int64_t as_of_day, cseg_stream_result *outs,
                                     size_t *failed, cseg_diag *d);
/* With SQLite, the handle that applies events writes the customers' states
 * and daily sums behind them (docs/store.md, "States written behind"): it
 * keeps what its batches changed and writes it once many customers or
 * events are owed, before it reads them, and at close; the store's events
 * say what is owed, so another writer (or one after a crash) makes it
 * again and writes it first, and a reader (cseg_stream_customer, the
 * segment sizes) folds it in memory (it writes nothing and takes no lock).
 * flush makes the tables current now, in a transaction of its own: what
 * this handle owes written, what another left owed (the store's mark)
 * folded from the events and written; nothing owed: nothing to do (on a
 * store opened read-only neither). For a caller that goes idle, and before
 * reading the tables with other tools. */
CSEG_API int cseg_stream_flush(cseg_store *s, cseg_diag *d);
/* 1 when this handle holds states or daily sums not yet written (what
 * flush writes), else 0. */
CSEG_API int cseg_stream_owes(const cseg_store *s);
/* Whether events can segment customers for model m: CSEG_EPARAM (diag
 * says why) when its features include the lifetime-value columns (btyd_*,
 * p_alive, expected_purchases, expected_order_value, clv), which need each
 * customer's purchase days and are not kept as a running state; else 0. */
CSEG_API int cseg_stream_model_check(const cseg_model *m, cseg_diag *d);
/* The checks of cseg_stream_apply that need no store (the same errors):
 * lets a caller refuse a bad event before it joins a batch. */
CSEG_API int cseg_stream_check(const cseg_model *m, const cseg_event *ev, cseg_diag *d);
/* A customer's state as the model sees it at as_of_day (CSEG_DAY_AUTO: the
 * day after the last purchase); out->known = 0 for a customer with no state. */
CSEG_API int cseg_stream_customer(cseg_store *s, const cseg_model *m, const char *customer_id,
                                  int64_t as_of_day, cseg_stream_result *out, cseg_diag *d);

/* A segment move, as kept in cseg_segment_changes (strings borrowed until
 * the callback returns). */
typedef struct cseg_stream_change {
    int64_t seq;             /* change_id: increasing in commit order */
    const char *customer_id;
    int from_segment;        /* 1..k */
    int to_segment;
    int64_t event_seq;       /* the event that moved the customer */
    const char *changed_at;  /* ISO 8601, UTC */
} cseg_stream_change;
typedef int (*cseg_stream_change_fn)(void *ctx, const cseg_stream_change *c);

/* The moves with seq > since, oldest first, at most limit (0: all), of one
 * customer or (customer_id NULL) of all. A poller that asks again from the
 * last seq it saw misses none and sees none twice. The callback returns
 * nonzero to stop. */
CSEG_API int cseg_stream_changes(cseg_store *s, const char *customer_id, int64_t since,
                                 size_t limit, cseg_stream_change_fn fn, void *ctx, cseg_diag *d);

/* The sequence number of the latest move (0 when there is none). */
CSEG_API int cseg_stream_last_change(cseg_store *s, int64_t *seq, cseg_diag *d);

/* A mixture model's membership probabilities (proba: cseg_model_k(m)
 * values, summing to 1) for the features of r, a result of cseg_stream_apply
 * or cseg_stream_customer with a segment. CSEG_EPARAM for a model that is not
 * a mixture, CSEG_EINVAL for a result without a segment. */
CSEG_API int cseg_stream_probabilities(const cseg_model *m, const cseg_stream_result *r,
                                       double *proba, cseg_diag *d);

/* A named reader's place in the moves (a webhook's deliveries, a CRM's
 * poll), kept in the store so that it survives a restart: the seq of the
 * last move it has handled. get: *found = 0 (and *seq = 0) when the name has
 * none yet. set: in a transaction of its own; a reader that sets its place
 * only after handling the moves up to it handles every move at least once.
 * drop: the name's place removed (none: nothing to do). */
CSEG_API int cseg_stream_cursor_get(cseg_store *s, const char *name, int64_t *seq, int *found,
                                    cseg_diag *d);
CSEG_API int cseg_stream_cursor_set(cseg_store *s, const char *name, int64_t seq, cseg_diag *d);
CSEG_API int cseg_stream_cursor_drop(cseg_store *s, const char *name, cseg_diag *d);

/* A customer's running state set by a run (`custseg run --db`) is a summary
 * of its log: no daily sums, products or invoices behind it, so events
 * applied on top start its spend window and its products afresh. To go on
 * from a log exactly, apply the log itself as events (custseg replay).
 *
 * summary_only: *any = 1 when some customer's state is such a summary (no
 * event has touched it). clear_summaries: removes the state of those of
 * ids[0..n) whose state is such a summary, in one transaction, so that their
 * events applied next rebuild it from the start; *cleared (may be NULL) gets
 * how many. Their memberships in stored runs stay. */
CSEG_API int cseg_stream_summary_only(cseg_store *s, int *any, cseg_diag *d);
CSEG_API int cseg_stream_clear_summaries(cseg_store *s, const char *const *ids, size_t n,
                                         size_t *cleared, cseg_diag *d);
/* A customer whose state is a summary with events applied on top (more
 * orders than its stored events make): a replay of the log would count the
 * log twice for them, and clear_summaries leaves them. *id: the first such
 * customer's id (malloc'ed; free it), NULL when there is none. One pass
 * over the stored events. */
CSEG_API int cseg_stream_summary_mixed(cseg_store *s, char **id, cseg_diag *d);

/* Customers per segment in the running state: sizes[j] for segment j
 * (1..k), sizes[0] those without one (returns only); sizes has k + 1
 * entries. */
CSEG_API int cseg_stream_segment_sizes(cseg_store *s, size_t k, size_t *sizes, cseg_diag *d);

#ifdef __cplusplus
}
#endif
#endif
