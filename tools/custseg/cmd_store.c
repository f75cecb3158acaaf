/* custseg runs, show, export, forget: reading and erasing the segment store
 * (docs/store.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* The options the four commands share: --db, --run. */
typedef struct store_opts {
    const char *db;
    int64_t run;
    char shown[1024]; /* db for messages: without a password */
} store_opts;

static int parse_run(const char *cmd, const char *arg, int64_t *run)
{
    long v;
    if (cli_parse_int(arg, 1, 2000000000L, &v) < 0)
        return cli_usage_error(cmd, "--run must be a run id (a whole number >= 1), got '%s'", arg);
    *run = v;
    return 0;
}

/* The options of a command that takes only --db (and --help): -1 when they
 * parsed (optind then points at the rest), else the exit status to return. */
static int db_only_options(const char *cmd, const char *help, int argc, char **argv,
                           store_opts *o)
{
    static const struct option longopts[] = {{"db", required_argument, 0, OPT_DB},
                                              {"help", no_argument, 0, OPT_HELP},
                                              {0, 0, 0, 0}};
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP)
            return fputs(help, stdout), EXIT_OK;
        if (opt != OPT_DB)
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        o->db = optarg;
    }
    return -1;
}

static int open_store(const char *cmd, store_opts *o, cseg_store **st)
{
    cseg_diag diag;
    cseg_diag_clear(&diag);
    if (!o->db)
        return cli_usage_error(cmd, "--db is required (a path or a postgresql:// URI)");
    cseg_db_uri_redact(o->db, o->shown, sizeof o->shown);
    /* These commands read or erase a store: a path that is not there is a
     * mistyped one, not a new store to make (forget said it erased, and left
     * an empty store behind). */
    const char *path = strncmp(o->db, "sqlite:", 7) == 0 ? o->db + 7 : o->db;
    if (!cseg_db_is_uri(o->db) || strncmp(o->db, "sqlite:", 7) == 0) {
        struct stat sb;
        if (*path && stat(path, &sb) != 0)
            return cli_error(EXIT_IO, "%s: no store there (%s)", o->shown, strerror(errno));
    }
    int rc = cseg_store_open_existing(st, o->db, &diag);
    return rc < 0 ? cli_fail(rc, &diag, o->shown) : EXIT_OK;
}

/* ---- runs ---- */

static const char runs_help[] =
    "usage: custseg runs --db URI\n"
    "\n"
    "List the runs kept in a segment store, newest first.\n";

static int print_run(const cseg_store_run *r, void *ctx)
{
    (void)ctx;
    printf("%5" PRId64 "  %-20s  %-3s  %-12s  %-9s %4zu %10zu ", r->run_id, r->created_at,
           r->command, r->input_kind, r->algorithm, r->k, r->n_customers);
    if (isfinite(r->silhouette))
        printf("%10.4f", r->silhouette);
    else
        printf("%10s", "-");
    printf("  %s\n", r->input_name);
    return 0;
}

int cmd_runs(int argc, char **argv)
{
    store_opts o = {NULL, 0, ""};
    int status = db_only_options("runs", runs_help, argc, argv, &o);
    if (status >= 0)
        return status;
    if (optind != argc)
        return cli_usage_error("runs", "unexpected argument '%s'", argv[optind]);
    cseg_store *st = NULL;
    status = open_store("runs", &o, &st);
    if (status != EXIT_OK)
        return status;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    printf("%5s  %-20s  %-3s  %-12s  %-9s %4s %10s %10s  %s\n", "run", "created (UTC)", "cmd",
           "input kind", "algorithm", "k", "customers", "silhouette", "input");
    int rc = cseg_store_runs(st, print_run, NULL, &diag);
    cseg_store_close(st);
    return rc < 0 ? cli_fail(rc, &diag, o.shown) : EXIT_OK;
}

/* ---- show ---- */

static const char show_help[] =
    "usage: custseg show --db URI [--run N]\n"
    "\n"
    "Print the summary of a stored run (default: the newest): its segments with size,\n"
    "share of customers and of revenue, and the mean of the main features.\n";

static void print_num(double v)
{
    if (!isfinite(v))
        printf(" %14s", "-");
    else
        printf(" %14.2f", v);
}

int cmd_show(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, 0, OPT_DB},
                                              {"run", required_argument, 0, OPT_RUN},
                                              {"help", no_argument, 0, OPT_HELP},
                                              {0, 0, 0, 0}};
    store_opts o = {NULL, 0, ""};
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP)
            return fputs(show_help, stdout), EXIT_OK;
        if (opt == OPT_DB)
            o.db = optarg;
        else if (opt == OPT_RUN) {
            if (parse_run("show", optarg, &o.run) != 0)
                return EXIT_USAGE;
        } else
            return cli_usage_error("show", "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (optind != argc)
        return cli_usage_error("show", "unexpected argument '%s'", argv[optind]);
    cseg_store *st = NULL;
    int status = open_store("show", &o, &st);
    if (status != EXIT_OK)
        return status;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    char *text = NULL;
    int rc = 0;
    if (o.run == 0 && (rc = cseg_store_last_run(st, &o.run, &diag)) == 0 && o.run == 0) {
        cseg_store_close(st);
        return cli_error(EXIT_DATA, "%s: the store holds no run", o.shown);
    }
    if (rc == 0)
        rc = cseg_store_run_segments_json(st, o.run, &text, &diag);
    cseg_store_close(st);
    if (rc < 0)
        return cli_fail(rc, &diag, o.shown);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    free(text);
    if (!j)
        return cli_error(EXIT_DATA, "%s: run %" PRId64 ": its segments.json does not parse", o.shown,
                         o.run);
    json_t *mo = json_object_get(j, "model"), *segs = json_object_get(j, "segments");
    const char *kind = json_string_value(json_object_get(j, "input_kind"));
    int tx = kind && strcmp(kind, "transactions") == 0;
    json_t *sil = json_object_get(mo, "silhouette");
    char silt[32] = "-"; /* none (null): as runs shows it */
    if (json_is_number(sil))
        snprintf(silt, sizeof silt, "%.4f", json_number_value(sil));
    printf("Run %" PRId64 ": %s of %s, %s, k = %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
           " customers, silhouette %s\n\n",
           o.run, tx ? "transaction log" : "customer table",
           json_string_value(json_object_get(j, "input")),
           json_string_value(json_object_get(mo, "algorithm")),
           json_integer_value(json_object_get(mo, "k")),
           json_integer_value(json_object_get(j, "n_customers")), silt);
    /* The columns: R, F and M for a log, else the first three features. */
    const char *show[3] = {NULL, NULL, NULL};
    size_t ns = 0;
    json_t *mean0 = json_object_get(json_array_get(segs, 0), "mean");
    if (tx) {
        show[0] = "recency_days";
        show[1] = "frequency";
        show[2] = "monetary";
        ns = 3;
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(mean0, key, v)
        {
            if (ns < 3)
                show[ns++] = key;
        }
    }
    size_t w = 4;
    for (size_t s = 0; s < json_array_size(segs); s++) {
        /* in characters: the columns it takes */
        size_t len = (size_t)cli_utf8_chars(
            json_string_value(json_object_get(json_array_get(segs, s), "name")));
        w = len > w ? (len > 48 ? 48 : len) : w;
    }
    printf("  seg  %-*s  customers   share  revenue", (int)w, "name");
    for (size_t c = 0; c < ns; c++)
        printf(" %14.14s", show[c]);
    printf("\n");
    for (size_t s = 0; s < json_array_size(segs); s++) {
        json_t *g = json_array_get(segs, s), *rs = json_object_get(g, "revenue_share");
        printf("  %3" JSON_INTEGER_FORMAT "  ", json_integer_value(json_object_get(g, "segment")));
        cli_print_cols(json_string_value(json_object_get(g, "name")), (int)w, 1);
        printf("  %9" JSON_INTEGER_FORMAT " %6.1f%%",
               json_integer_value(json_object_get(g, "size")),
               100 * json_number_value(json_object_get(g, "share")));
        if (json_is_number(rs))
            printf(" %7.1f%%", 100 * json_number_value(rs));
        else
            printf(" %8s", "-");
        json_t *mean = json_object_get(g, "mean");
        for (size_t c = 0; c < ns; c++) {
            json_t *v = json_object_get(mean, show[c]);
            print_num(json_is_number(v) ? json_number_value(v) : NAN);
        }
        printf("\n");
    }
    json_decref(j);
    return EXIT_OK;
}

/* ---- export ---- */

static const char export_help[] =
    "usage: custseg export --db URI [options]\n"
    "\n"
    "Write the customers of a stored run as an audience list.\n"
    "\n"
    "  --run N                the run (default: the newest)\n"
    "  --segment NAME|N       one segment, by name or number (default: all)\n"
    "  --format csv|jsonl     CSV with a header (default) or JSON Lines\n"
    "  --fields a,b,...       columns (default: customer_id, segment, segment_name,\n"
    "                         distance, then every feature of the run)\n"
    "  --min-segment-size N   leave out segments with fewer customers (default 10)\n"
    "  --out FILE             write here, atomically (default: stdout)\n"
    "  --pseudonymize KEYFILE customer ids as keyed pseudonyms (docs/privacy.md)\n";

static void on_note(cseg_log_level level, const char *msg, void *user)
{
    (void)level;
    (void)user;
    fprintf(stderr, "custseg: note: %s\n", msg);
}

int cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, 0, OPT_DB},
        {"run", required_argument, 0, OPT_RUN},
        {"segment", required_argument, 0, OPT_SEGMENT},
        {"format", required_argument, 0, OPT_FORMAT},
        {"fields", required_argument, 0, OPT_FIELDS},
        {"min-segment-size", required_argument, 0, OPT_MIN_SEGMENT_SIZE},
        {"out", required_argument, 0, OPT_OUTFILE},
        {"pseudonymize", required_argument, 0, OPT_PSEUDONYMIZE},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0}};
    store_opts o = {NULL, 0, ""};
    cseg_export_params p;
    cseg_export_params_init(&p);
    p.log = on_note;
    const char *out = NULL, *fields = NULL, *keyfile = NULL;
    unsigned char key[CSEG_KEY_MAX];
    int opt;
    long v;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP: fputs(export_help, stdout); return EXIT_OK;
        case OPT_DB: o.db = optarg; break;
        case OPT_RUN:
            if (parse_run("export", optarg, &o.run) != 0)
                return EXIT_USAGE;
            break;
        case OPT_SEGMENT:
            if (cli_parse_int(optarg, 1, 100000, &v) == 0)
                p.segment = (int)v;
            else if (*optarg)
                p.segment_name = optarg;
            else
                return cli_usage_error("export", "--segment needs a segment name or number");
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "jsonl") != 0)
                return cli_usage_error("export", "--format must be csv or jsonl");
            p.jsonl = strcmp(optarg, "jsonl") == 0;
            break;
        case OPT_FIELDS: fields = optarg; break;
        case OPT_PSEUDONYMIZE: keyfile = optarg; break;
        case OPT_MIN_SEGMENT_SIZE:
            if (cli_parse_int(optarg, 0, 1000000000L, &v) < 0)
                return cli_usage_error("export", "--min-segment-size must be a whole number >= 0");
            p.min_segment_size = (size_t)v;
            break;
        case OPT_OUTFILE:
            if (!*optarg)
                return cli_usage_error("export", "--out needs a file name");
            out = optarg;
            break;
        default:
            return cli_usage_error("export", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
    size_t nf = 0;
    char **list = NULL;
    if (fields && (!(list = cli_split(fields, &nf)) || nf == 0)) {
        cli_free_list(list);
        return cli_usage_error("export", "--fields needs column names separated by commas");
    }
    if (keyfile) {
        cseg_diag kd;
        cseg_diag_clear(&kd);
        int krc = cseg_key_read(keyfile, key, &p.pseudonym_key_len, &kd);
        if (krc < 0) {
            cli_free_list(list);
            return cli_fail(krc, &kd, keyfile);
        }
        p.pseudonym_key = key;
    }
    p.fields = (const char *const *)list;
    p.n_fields = nf;
    p.run_id = o.run;
    if (o.db) { /* the store's file: SQLite's path */
        const char *db = strncmp(o.db, "sqlite:", 7) == 0 ? o.db + 7 : o.db;
        int same =
            cli_output_is_input("export", "--out", out, &db, (const char *[]){"the store"}, 1);
        if (same) {
            cli_free_list(list);
            return same;
        }
    }
    cseg_store *st = NULL;
    int status = open_store("export", &o, &st);
    if (status == EXIT_OK) {
        cseg_diag diag;
        cseg_diag_clear(&diag);
        int rc = cseg_store_export(st, &p, out, stdout, NULL, &diag);
        if (rc == CSEG_EPARAM)
            status = cli_usage_error("export", "--%s", diag.msg);
        else if (rc < 0)
            status = cli_fail(rc, &diag, out ? out : o.shown);
    }
    cseg_store_close(st);
    cli_free_list(list);
    memset(key, 0, sizeof key);
    return status;
}

/* ---- forget ---- */

static const char forget_help[] =
    "usage: custseg forget --db URI ID...\n"
    "\n"
    "Erase customers from a segment store (GDPR article 17): their memberships in every\n"
    "run, their running state, their events and segment changes. Segment profiles keep\n"
    "their aggregates. Prints what was removed.\n";

int cmd_forget(int argc, char **argv)
{
    store_opts o = {NULL, 0, ""};
    int status = db_only_options("forget", forget_help, argc, argv, &o);
    if (status >= 0)
        return status;
    if (optind >= argc)
        return cli_usage_error("forget", "give the ids of the customers to erase");
    cseg_store *st = NULL;
    status = open_store("forget", &o, &st);
    if (status != EXIT_OK)
        return status;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_store_forgotten f;
    size_t n = (size_t)(argc - optind);
    int rc = cseg_store_forget(st, (const char *const *)(argv + optind), n, &f, &diag);
    cseg_store_close(st);
    if (rc < 0)
        return cli_fail(rc, &diag, o.shown);
    if (f.memberships + f.states + f.events + f.changes == 0) {
        printf("None of the %zu customer id%s is in the store: nothing removed (give the ids as "
               "stored; with --pseudonymize, the pseudonyms).\n",
               n, n == 1 ? "" : "s");
        return EXIT_OK;
    }
    /* The customers erased, not the ids given: an erasure's record. */
    printf("Erased %zu customer%s (of %zu id%s given): %zu memberships, %zu customer states, "
           "%zu events, %zu segment changes removed.\n",
           f.customers, f.customers == 1 ? "" : "s", n, n == 1 ? "" : "s", f.memberships, f.states,
           f.events, f.changes);
    return EXIT_OK;
}
