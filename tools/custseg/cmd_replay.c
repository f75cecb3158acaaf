/* custseg replay: a transaction log applied to a segment store as events,
 * through the same calls as `custseg serve`'s POST /v1/events
 * (cseg_stream_apply_batch), so that the store holds what streaming the log
 * would have left: every event, each customer's daily sums, products and
 * running state, the segment moves. `run --db` keeps only a summary of each
 * customer (docs/store.md); events streamed on top of a replayed log give
 * what `run` gives on the log and the events together. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char replay_help[] =
    "usage: custseg replay LOG --model MODEL --db URI [options]\n"
    "\n"
    "Apply a transaction log to a segment store as events, in the log's order, as POST\n"
    "/v1/events of custseg serve would (docs/service.md): each row an event, exact\n"
    "duplicates and what cleaning drops left out as run leaves them. The log is read with\n"
    "the model's columns and date format. Afterwards the service continues from the\n"
    "log's state exactly.\n"
    "\n"
    "Options:\n"
    "  --model FILE       model.json of a run (from a transaction log)\n"
    "  --db URI           the store: a SQLite file or postgresql:// URI\n"
    "  --batch N          events a transaction (default 5000)\n"
    "  --as-of DATE       count recency to this day (default: the day after each\n"
    "                     customer's last purchase or event, as serve)\n"
    "  --delimiter C      field separator (default: detected)\n"
    "  --quiet            print nothing on success\n";

enum { O_MODEL = 256, O_DB, O_BATCH, O_ASOF, O_DELIM, O_QUIET };

/* The text of column j at row i (NULL: no such column, or a missing value). */
static const char *text_at(const cseg_table *t, long j, size_t i)
{
    const int32_t *c = j >= 0 ? cseg_table_codes(t, (size_t)j) : NULL;
    return c && c[i] >= 0 ? cseg_table_level(t, (size_t)j, c[i]) : NULL;
}

static double num_at(const cseg_table *t, long j, size_t i)
{
    const double *x = j >= 0 ? cseg_table_numbers(t, (size_t)j) : NULL;
    return x ? x[i] : NAN;
}

static long col(const cseg_table *t, const char *name)
{
    return name && name[0] ? cseg_table_find(t, name) : -1;
}

/* Events rows [i0, i1) of the log would be; those without a customer, a
 * time or an amount are left out, as run leaves them out. rest: a row's
 * hash as text (run drops exact duplicates of the whole record: this is the
 * rest of it). row_of: each event's row. Returns the number of events, or
 * SIZE_MAX for a row run refuses (quantity x price beyond the range of
 * numbers, an id longer than a store keeps, ...): *bad its row, d why. */
static size_t make_events(const cseg_model *m, const cseg_table *txn, const cseg_txn_roles *r,
                          size_t i0, size_t i1, cseg_event *evs, char (*rest)[24], size_t *row_of,
                          size_t *refused, size_t *bad, cseg_diag *d)
{
    long jc = col(txn, r->customer), ji = col(txn, r->invoice), jp = col(txn, r->product),
         jq = col(txn, r->quantity), jpr = col(txn, r->price), ja = col(txn, r->amount),
         jd = col(txn, r->date);
    const int64_t *times = jd >= 0 ? cseg_table_times(txn, (size_t)jd) : NULL;
    const uint64_t *hash = cseg_table_row_hashes(txn);
    size_t n = 0;
    for (size_t i = i0; i < i1; i++) {
        snprintf(rest[n], sizeof rest[n], "%016" PRIx64, hash ? hash[i] : (uint64_t)i);
        cseg_event ev = {text_at(txn, jc, i),
                         times ? times[i] : CSEG_TIME_NA,
                         text_at(txn, ji, i),
                         text_at(txn, jp, i),
                         num_at(txn, jq, i),
                         num_at(txn, jpr, i),
                         num_at(txn, ja, i),
                         NULL,
                         rest[n]};
        cseg_diag_clear(d);
        if (cseg_stream_check(m, &ev, d) == CSEG_EINVAL) {
            int missing = !ev.customer_id || !*ev.customer_id || ev.time == CSEG_TIME_NA ||
                          (!(isfinite(ev.quantity) && isfinite(ev.price)) && !isfinite(ev.amount));
            if (!missing) {
                *bad = i;
                return SIZE_MAX;
            }
            ++*refused;
            continue;
        }
        row_of[n] = i;
        evs[n++] = ev;
    }
    return n;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, O_MODEL},
                                         {"db", required_argument, NULL, O_DB},
                                         {"batch", required_argument, NULL, O_BATCH},
                                         {"as-of", required_argument, NULL, O_ASOF},
                                         {"delimiter", required_argument, NULL, O_DELIM},
                                         {"quiet", no_argument, NULL, O_QUIET},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *db = NULL;
    long batch = 5000;
    long long as_of = CSEG_DAY_AUTO;
    int quiet = 0, o;
    cseg_csv_params csv;
    cseg_csv_params_init(&csv);
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_MODEL:
            model_path = optarg;
            break;
        case O_DB:
            db = optarg;
            break;
        case O_BATCH:
            if (cli_parse_int(optarg, 1, 1000000, &batch) < 0)
                return cli_usage_error("replay",
                                       "--batch must be a whole number from 1 to 1000000");
            break;
        case O_ASOF:
            if (cli_parse_as_of("replay", optarg, &as_of) != 0)
                return EXIT_USAGE;
            break;
        case O_DELIM:
            if (cli_parse_delimiter(optarg, &csv.delimiter) < 0)
                return cli_usage_error("replay", "--delimiter must be one character or 'tab'");
            break;
        case O_QUIET:
            quiet = 1;
            break;
        case 'h':
            fputs(replay_help, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("replay", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("replay", optind >= argc ? "give the transaction log to replay"
                                                        : "give one transaction log");
    if (!model_path || !db)
        return cli_usage_error("replay", "--model and --db are required");
    const char *path = argv[optind];
    cseg_diag d;
    cseg_diag_clear(&d);
    cseg_model *m = NULL;
    int rc = cseg_model_load(&m, model_path, &d);
    if (rc < 0)
        return cli_fail(rc, &d, model_path);
    if (cseg_model_source(m) != CSEG_SOURCE_TRANSACTIONS) {
        cseg_model_free(m);
        return cli_error(EXIT_USAGE,
                         "%s: a model made by fit (a customer table) cannot take "
                         "events; replay needs one made by run",
                         model_path);
    }
    if ((rc = cseg_stream_model_check(m, &d)) < 0) {
        cseg_model_free(m);
        return cli_fail(rc, &d, model_path);
    }
    /* The log as the model read it: its columns exactly, its date format. */
    cseg_txn_roles roles = *cseg_model_roles(m);
    roles.no_detect = 1;
    cseg_table_read_params rp;
    cseg_table_read_params_init(&rp);
    rp.csv = csv;
    rp.date_format = cseg_model_date_format(m);
    cseg_table *txn = NULL;
    if ((rc = cseg_txn_read(&txn, path, &roles, &rp, &d)) < 0) {
        cseg_model_free(m);
        return cli_fail(rc, &d, path);
    }
    char shown[1024];
    cseg_db_uri_redact(db, shown, sizeof shown);
    cseg_store *s = NULL;
    int status = EXIT_OK;
    size_t nb = (size_t)batch, rows = cseg_table_n_rows(txn), applied = 0, moves = 0, refused = 0;
    cseg_event *evs = malloc(nb * sizeof *evs);
    cseg_stream_result *res = malloc(nb * sizeof *res);
    char(*rest)[24] = malloc(nb * sizeof *rest);
    size_t *row_of = malloc(nb * sizeof *row_of);
    if (!evs || !res || !rest || !row_of) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    if ((rc = cseg_store_open(&s, db, &d)) < 0 || (rc = cseg_store_durable(s, &d)) < 0) {
        status = cli_fail(rc, &d, shown);
        goto out;
    }
    /* A summary that events were applied on top of (serve before replay):
     * the log's rows would be added to it a second time. Said, not done. */
    char *mixed = NULL;
    if ((rc = cseg_stream_summary_mixed(s, &mixed, &d)) < 0) {
        status = cli_fail(rc, &d, shown);
        goto out;
    }
    if (mixed) {
        status = cli_error(EXIT_DATA,
                           "%s: customer \"%s\" holds a run's summary with events applied on "
                           "top of it (by serve or a replay of another log): replaying this log "
                           "would count it twice; replay into the store before serving events, "
                           "or forget such customers first",
                           shown, mixed);
        free(mixed);
        goto out;
    }
    /* The log's customers whose state a run set (run --db: a summary of this
     * log, most likely): their events below rebuild it, instead of being
     * added to it a second time. */
    long jc = col(txn, roles.customer);
    size_t nid = jc >= 0 ? cseg_table_n_levels(txn, (size_t)jc) : 0, cleared = 0;
    const char **ids = malloc((nid ? nid : 1) * sizeof *ids);
    if (!ids) {
        status = cli_error(EXIT_IO, "out of memory");
        goto out;
    }
    for (size_t l = 0; l < nid; l++)
        ids[l] = cseg_table_level(txn, (size_t)jc, (int32_t)l);
    rc = cseg_stream_clear_summaries(s, ids, nid, &cleared, &d);
    free(ids);
    if (rc < 0) {
        status = cli_fail(rc, &d, shown);
        goto out;
    }
    for (size_t i0 = 0; i0 < rows; i0 += nb) {
        size_t i1 = i0 + nb < rows ? i0 + nb : rows, failed;
        size_t bad = 0;
        size_t n = make_events(m, txn, &roles, i0, i1, evs, rest, row_of, &refused, &bad, &d);
        if (n == SIZE_MAX) { /* what run refuses (rows before this batch are applied) */
            status =
                cli_error(EXIT_DATA,
                          "%s:%ld: %s (%s); the rows before line %ld are applied: mend the row and "
                          "replay the log again (rows already applied are then exact duplicates)",
                          path, cseg_table_row_line(txn, bad), d.msg, d.file[0] ? d.file : "event",
                          cseg_table_row_line(txn, i0));
            break;
        }
        if (n == 0)
            continue;
        if ((rc = cseg_stream_apply_batch(s, m, evs, n, as_of, res, &failed, &d)) < 0) {
            /* This batch is rolled back; the ones before it are committed. */
            if ((rc == CSEG_EINVAL || rc == CSEG_ERANGE) && failed < n)
                status = cli_error(
                    EXIT_DATA,
                    "%s:%ld: %s (%s); the rows before line %ld are applied: mend the row and "
                    "replay the log again (rows already applied are then exact duplicates)",
                    path, cseg_table_row_line(txn, row_of[failed]), d.msg,
                    d.file[0] ? d.file : "event", cseg_table_row_line(txn, i0));
            else
                status = cli_fail(rc, &d, shown);
            break;
        }
        for (size_t j = 0; j < n; j++) {
            applied += (size_t)res[j].applied;
            moves += (size_t)res[j].changed;
        }
    }
    if (status == EXIT_OK && !quiet) {
        printf("Replayed %s into %s: %zu rows, %zu events applied (%zu repeats or rows cleaning "
               "drops; %zu rows without a customer or an amount), %zu segment moves.\n",
               path, shown, rows, applied, rows - refused - applied, refused, moves);
        if (cleared)
            printf("%zu customers' state from a run (run --db) was rebuilt from their events.\n",
                   cleared);
    }
out:
    cseg_store_close(s);
    free(evs);
    free(res);
    free(rest);
    free(row_of);
    cseg_table_free(txn);
    cseg_model_free(m);
    return status;
}
