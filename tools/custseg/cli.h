/* custseg command line: shared declarations. The tool uses only the public API. */
#ifndef CUSTSEG_CLI_H
#define CUSTSEG_CLI_H

#include <stdio.h>
#include <custseg/custseg.h>

/* Exit statuses (docs/cli.md). */
/* EXIT_DRIFT: custseg drift found drift at or above its alert threshold. */
enum { EXIT_OK = 0, EXIT_DATA = 1, EXIT_USAGE = 2, EXIT_IO = 3, EXIT_DRIFT = 4 };

typedef struct cli_common {
    int quiet, verbose;
    int progress; /* --progress: the progress line even when stderr is not a terminal */
} cli_common;

/* The one-line status on stderr: the line cleared (79 columns), then fmt
 * (NULL: left empty), flushed. */
void cli_status_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether to show a progress line: on a terminal, or with --progress; never
 * with --quiet. */
int cli_show_progress(const cli_common *c);
/* A long reading's progress on a terminal (cseg_table_read_params.progress):
 * after a second, one line on stderr, redrawn at most five times a second,
 * with the share read, the rate and the time left; cli_meter_end clears it. */
typedef struct cli_meter {
    const char *name;
    double start, last;
    int shown;
} cli_meter;
int cli_meter_progress(uint64_t done, uint64_t total, void *user);
void cli_meter_end(cli_meter *m);

/* Under mpirun (cli_mpi.c; built with -DCSEG_MPI=ON): start MPI when a
 * launcher started the process; at the end every rank takes rank 0's exit
 * status. Size 1 and rank 0 without MPI. cli_mpi_rfm: the log's customers
 * read by every rank (cseg_mpi_rfm_compute_csv: the table on rank 0; with
 * parts, cseg_mpi_rfm_compute_csv_part: every rank its block; with verbose
 * a line on where the time went), or cseg_rfm_compute_csv without MPI. */
void cli_mpi_start(int *argc, char ***argv);
int cli_mpi_finish(int status);
int cli_mpi_size(void);
int cli_mpi_rank(void);
/* Under mpirun: this machine's cores divided among the job's processes on
 * it (at least 1), for the threads each reads with; 0 otherwise. */
int cli_mpi_threads(void);
int cli_mpi_rfm(cseg_table **customers, const char *path, cseg_txn_roles *roles,
                const cseg_table_read_params *rp, const cseg_rfm_params *p, cseg_quality *q,
                int parts, int verbose, cseg_diag *d);
/* A customer table read by every rank (cseg_mpi_table_read_csv: the table
 * on rank 0, NULL on the others; with verbose a line on where the time
 * went), or cseg_table_read_csv without MPI. */
int cli_mpi_table(cseg_table **t, const char *path, const cseg_table_read_params *rp, int verbose,
                  cseg_diag *d);
/* fit with its table in parts (each rank keeps the rows it read): the
 * reading (cseg_mpi_table_read_csv_part), the personal-data check of a
 * column (cseg_mpi_pii_kind), the segmentation (cseg_mpi_segment_customers)
 * and the output folder (cseg_mpi_segment_write_all), each collective.
 * Without MPI: cseg_table_read_csv, cseg_pii_kind, cseg_segment_customers,
 * cseg_segment_write_all. */
int cli_mpi_table_part(cseg_table **t, const char *path, const cseg_table_read_params *rp,
                       int verbose, cseg_diag *d);
int cli_mpi_pii_kind(const cseg_table *t, size_t j, const char **kind, cseg_diag *d);
/* run with its customers in parts (cseg_mpi_segment_rfm; collective): the
 * parts come from cli_mpi_rfm with parts set. */
int cli_mpi_segment_rfm(cseg_segmentation **r, const cseg_table *part, const cseg_quality *q,
                        const cseg_txn_roles *roles, const char *date_format,
                        const cseg_rfm_params *rfm, const cseg_segment_params *p, cseg_diag *d);
int cli_mpi_segment(cseg_segmentation **r, const cseg_table *part, const char *id,
                    const cseg_segment_params *p, cseg_diag *d);
int cli_mpi_write_all(const cseg_segmentation *r, const char *dir, cseg_log_fn log, void *log_user,
                      cseg_diag *d);
/* Rank 0's len bytes at *buf to every rank (the others get a copy to free
 * in *buf and its length in *len; a rank out of memory aborts the job).
 * Returns 0. Without MPI or with one process, nothing. */
int cli_mpi_share(char **buf, size_t *len);
/* The segmentation's k-means on every process (cseg_mpi_kmeans_fit_root):
 * at the same point of a command, the other ranks call cli_mpi_kmeans_serve
 * (it returns when rank 0's command is done) and rank 0 cli_mpi_kmeans_lead;
 * cli_mpi_segment_params then routes rank 0's fits to them, and
 * cli_mpi_finish lets them go. Without MPI or with one process, nothing. */
int cli_mpi_kmeans_serve(void);
void cli_mpi_kmeans_lead(void);
void cli_mpi_segment_params(cseg_segment_params *p);
/* Rank 0 under mpirun, after the segmentation: one line on stderr with what
 * its k-means fits moved between the processes and took (--verbose). */
void cli_mpi_kmeans_report(void);

/* Print "custseg: <diag or code message>" and return the exit status for code. */
int cli_fail(int code, const cseg_diag *d, const char *context);
/* Print "custseg: <msg>" (printf style) and return status. */
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Misuse: message + hint to stderr, returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_status_of(int code);
/* UTF-8 text s (NULL: none) in w columns on stdout, a character a column, cut
 * between characters, padded after (left) or before. */
void cli_print_cols(const char *s, int w, int left);
/* The characters of UTF-8 text s (the bytes that start one; NULL: 0). */
int cli_utf8_chars(const char *s);
/* An output file that would replace one of the inputs (the same file, by
 * device and inode, under any name): the usage error naming both (option:
 * the output's, e.g. "--html"; what[i]: "the model", "the input", ...),
 * else 0. Inputs that do not exist (yet) or NULL are skipped. */
int cli_output_is_input(const char *cmd, const char *option, const char *out,
                        const char *const *inputs, const char *const *what, size_t n);
/* The same for the files names[0..n) a command writes into the folder dir
 * (--out): the usage error when one of them is the file input (what: "the
 * input", "the --by file"), else 0. */
int cli_folder_output_is_input(const char *cmd, const char *dir, const char *const *names,
                               size_t n, const char *input, const char *what);
/* "custseg: PREFIXTEXT" and a line end on stderr, control characters of
 * text (a line end in a column's name, say) written as \n, \t, \xHH: a
 * message is one line. */
void cli_put_line(const char *prefix, const char *text);
/* Whether FILE's header holds every feature column of the model (*have of
 * them), and the id column to read from it (NULL: none). Prints and
 * returns an exit status on an unreadable file. */
int cli_model_file_kind(const cseg_model *m, const char *path, const cseg_csv_params *csv,
                        int *is_table, const char **idcol, size_t *have);
/* FILE as the customers of model m (docs/cli.md, assign's "What FILE is"):
 * a customer table with the model's input columns, or for a model made by
 * run a transaction log turned into customer features as run does (the
 * analysis day --as-of when have_as_of). *t (to free) and *idcol (the id
 * column, or NULL) on success; otherwise the error is printed and its exit
 * status returned. */
/* The model's input columns but `except` (the id, or NULL) as the model
 * reads them, into out (room for every input): categories text, the rest
 * numbers, so that a value that does not fit is named by line and column.
 * Returns how many. */
size_t cli_input_specs(const cseg_prep *pp, const char *except, cseg_colspec *out);
int cli_model_customers(const cseg_model *m, const char *path, const cseg_csv_params *csv,
                        int have_as_of, long long as_of, cseg_table **t, const char **idcol);

/* Parse helpers: return 0 or -1 (bad value). */
/* malloc(bytes), asking for transparent huge pages from 4 MB up: a fresh
 * 8 MB array otherwise costs 2,048 page faults, dear in a VM. free() it. */
void *cli_alloc_big(size_t bytes);
int cli_parse_size(const char *s, size_t *out);
/* A byte count: a whole number, optionally followed by K, M, G or T (powers
 * of 1024); > 0. 0, or -1 when malformed or too large. */
int cli_parse_bytes(const char *s, size_t *out);
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);
int cli_parse_day(const char *s, long long *day);
/* --as-of: 'auto' (CSEG_DAY_AUTO) or a date; 0, or EXIT_USAGE after the message. */
int cli_parse_as_of(const char *cmd, const char *s, long long *day);
/* --threads value: 0..1024 (0 = all cores). Returns 0 or -1. */
int cli_parse_threads(const char *s, int *out);
/* One character, or "tab" / "\t"; a quote or line end is refused. */
int cli_parse_delimiter(const char *s, char *out);
/* Split "a,b,c" into a NULL-terminated array of copies (free with cli_free_list). */
char **cli_split(const char *s, size_t *n);
void cli_free_list(char **list);

/* Make the folder dir and its parents (mkdir -p); 0, or -1 with errno. */
int cli_make_dir(const char *dir);
/* Write a JSON value to path through a temporary file and rename (jansson's
 * json_t; declared loosely so this header does not need jansson.h). */
struct json_t;
int cli_write_json_atomic(struct json_t *j, const char *path);

/* Options shared by run, fit and compare: the library's segmentation
 * parameters plus what is about the command line. */
typedef struct seg_opts {
    const char *out_dir;
    cseg_segment_params p;  /* --k, --algo, --seed, ... (names and features set by seg_run) */
    int compare;            /* custseg compare: seg_run compares instead of writing */
    const char *algos;      /* compare: comma-separated --algo names */
    size_t bootstrap;       /* compare: resamples for stability (default 10) */
    size_t subsample;       /* compare: customers compared at most (default 20000; 0 = all) */
    int json;               /* compare: --format json */
    const char *names;      /* comma-separated overrides */
    const char *features;   /* comma-separated feature columns */
    const char *audit;      /* fit: comma-separated audited columns */
    const char *previous;   /* --previous DIR: a previous run's output folder */
    const char *cmd;        /* "run", "fit" or "compare", for messages */
    const char *db;         /* --db: the store to keep the run in, or NULL */
    const char *pseudonymize; /* --pseudonymize KEYFILE, or NULL */
    int allow_pii;          /* --allow-pii */
    const char *table;      /* --table, --query: FILE is a database (sqlite:, postgresql://) */
    const char *query;
    int argc;               /* the command line, kept with a stored run */
    char **argv;
    int timings;            /* --timings: a table of seconds and peak memory per stage */
    double started;         /* monotonic seconds when the command began (reading included) */
    cli_common c;
} seg_opts;

/* Monotonic clock in seconds. */
double cli_now(void);

void seg_opts_init(seg_opts *o, const char *cmd);
/* Checks that need all options (k range, names for a fixed k); returns 0 or
 * EXIT_USAGE after printing the message. */
int seg_opts_finish(const seg_opts *o);
/* Handle an option shared by run and fit; returns 1 if consumed, 0 if not
 * one of them, -1 on a bad value (message printed). */
int seg_opts_parse(seg_opts *o, const char *cmd, int opt, const char *arg);

/* What run and fit hand to the library: a transaction log with its roles, or
 * a customer table with its id column. */
typedef struct seg_source {
    const char *path;
    const cseg_table *txn; /* a transaction log, or NULL */
    const cseg_txn_roles *roles;
    const char *date_format;
    const cseg_rfm_params *rfm;
    const cseg_table *customers; /* a customer table, or NULL */
    const char *id_column;
    /* or a log's customers, computed as it was read (taken over by seg_run),
     * and its cleaning counts */
    cseg_table **rfm_customers;
    const cseg_quality *quality;
    int parts; /* under mpirun: customers (or rfm_customers) is this process's part of them
                  (cli_mpi_segment, cli_mpi_segment_rfm) */
} seg_source;

/* Segment (or, for compare, compare), write the outputs and print the
 * summary. Returns the exit status. */
int seg_run(seg_opts *o, const seg_source *src);
/* A database source's name for messages and records: the URI without its
 * password, and the table (or "query"). 0, or a usage error's status. */
int seg_source_name(const seg_opts *o, const char *path, char *buf, size_t size);
/* --pseudonymize: the ids of column j become pseudonyms. 0, or an exit status.
 * parts: under mpirun, the first process reads the key and every process
 * gets it (collective; the same status on every process). */
int seg_pseudonymize(const seg_opts *o, cseg_table *t, const char *column, int parts);
/* Is name one of the --features? */
int seg_is_feature(const seg_opts *o, const char *name);

/* Subcommands. */
int cmd_run(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_assign(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_drift(int argc, char **argv);
int cmd_explain(int argc, char **argv);
/* The indices (idx) and shares of the largest positive parts of a decision
 * (cseg_explain_customers' contrib row of nf), at most top of them; returns
 * how many. */
size_t cli_top_reasons(const double *contrib, size_t nf, size_t top, size_t *idx, double *share);
int cmd_score(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_clv(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_replay(int argc, char **argv);
/* Long options shared by run and fit (getopt values >= 1000). */
enum {
    OPT_OUT = 1000, OPT_K, OPT_K_MIN, OPT_K_MAX, OPT_SEED, OPT_N_INIT, OPT_MAX_ITER, OPT_TOL,
    OPT_THREADS, OPT_SCALE, OPT_LOG, OPT_FEATURES, OPT_NAMES, OPT_SAMPLE, OPT_KMEANS_ALGO,
    OPT_QUIET, OPT_VERBOSE, OPT_HELP, OPT_ALGO, OPT_HEIGHT, OPT_EXACT, OPT_EPS, OPT_MIN_SAMPLES,
    OPT_COVARIANCE, OPT_PCA, OPT_ALGOS, OPT_BOOTSTRAP, OPT_SUBSAMPLE,
    /* command-specific */
    OPT_CUSTOMER, OPT_DATE, OPT_INVOICE, OPT_QUANTITY, OPT_PRICE, OPT_AMOUNT, OPT_PRODUCT,
    OPT_DATE_FORMAT, OPT_AS_OF, OPT_DELIM, OPT_SPEND_WINDOW, OPT_ID, OPT_LABELS, OPT_FORMAT,
    OPT_OUTFILE, OPT_KEEP_DUPLICATES, OPT_REVENUE, OPT_MONEY_DECIMALS, OPT_KEEP_KNOWN,
    OPT_NO_KEEP_KNOWN, OPT_ATTRIBUTES, OPT_DB, OPT_RUN, OPT_SEGMENT, OPT_FIELDS,
    OPT_MIN_SEGMENT_SIZE, OPT_TABLE, OPT_QUERY, OPT_PSEUDONYMIZE, OPT_ALLOW_PII, OPT_DROP_COLUMNS,
    OPT_WITH, OPT_AUDIT, OPT_PREVIOUS, OPT_EXPLAIN, OPT_CLV, OPT_UNIT, OPT_HORIZON, OPT_DISCOUNT,
    OPT_TIMINGS, OPT_K_SAMPLE, OPT_MAX_MEMORY, OPT_PROGRESS
};

/* The lifetime-value options of run and clv. */
#define CLV_LONG_OPTIONS                                                                           \
    {"unit", required_argument, 0, OPT_UNIT}, {"horizon", required_argument, 0, OPT_HORIZON},     \
        {"discount", required_argument, 0, OPT_DISCOUNT}

/* The column and cleaning options of a transaction log (RUN_LONG_OPTIONS)
 * into roles, rfm, csv and date_format: 1 when opt is one of them, 0 when
 * not, -1 (EXIT_USAGE printed) for a bad value. */
int cli_parse_log_option(const char *cmd, int opt, const char *arg, cseg_txn_roles *roles,
                         cseg_rfm_params *rfm, cseg_csv_params *csv, const char **date_format);
/* --unit, --horizon, --discount into p: 1 when opt is one of them, 0 when not,
 * -1 (EXIT_USAGE printed) for a bad value. */
int cli_parse_clv_option(const char *cmd, int opt, const char *arg, cseg_clv_params *p);

#define SEG_LONG_OPTIONS                                                                           \
    {"out", required_argument, 0, OPT_OUT}, {"k", required_argument, 0, OPT_K},                    \
        {"k-min", required_argument, 0, OPT_K_MIN}, {"k-max", required_argument, 0, OPT_K_MAX},    \
        {"seed", required_argument, 0, OPT_SEED}, {"n-init", required_argument, 0, OPT_N_INIT},    \
        {"max-iter", required_argument, 0, OPT_MAX_ITER}, {"tol", required_argument, 0, OPT_TOL},  \
        {"threads", required_argument, 0, OPT_THREADS},                                            \
        {"scale", required_argument, 0, OPT_SCALE}, {"log", required_argument, 0, OPT_LOG},        \
        {"features", required_argument, 0, OPT_FEATURES},                                          \
        {"names", required_argument, 0, OPT_NAMES}, {"sample", required_argument, 0, OPT_SAMPLE},  \
        {"kmeans-algo", required_argument, 0, OPT_KMEANS_ALGO},                                    \
        {"quiet", no_argument, 0, OPT_QUIET}, {"verbose", no_argument, 0, OPT_VERBOSE},            \
        {"progress", no_argument, 0, OPT_PROGRESS},                                                \
        {"help", no_argument, 0, OPT_HELP}, {"algo", required_argument, 0, OPT_ALGO},              \
        {"height", required_argument, 0, OPT_HEIGHT}, {"exact", no_argument, 0, OPT_EXACT},       \
        {"eps", required_argument, 0, OPT_EPS},                                                    \
        {"min-samples", required_argument, 0, OPT_MIN_SAMPLES},                                    \
        {"covariance", required_argument, 0, OPT_COVARIANCE},                                      \
        {"pca", required_argument, 0, OPT_PCA}, {"algos", required_argument, 0, OPT_ALGOS},         \
        {"bootstrap", required_argument, 0, OPT_BOOTSTRAP},                                        \
        {"subsample", required_argument, 0, OPT_SUBSAMPLE},                                        \
        {"format", required_argument, 0, OPT_FORMAT}, {"db", required_argument, 0, OPT_DB},      \
        {"table", required_argument, 0, OPT_TABLE}, {"query", required_argument, 0, OPT_QUERY},  \
        {"pseudonymize", required_argument, 0, OPT_PSEUDONYMIZE},                              \
        {"allow-pii", no_argument, 0, OPT_ALLOW_PII},                                          \
        {"previous", required_argument, 0, OPT_PREVIOUS},                                      \
        {"timings", no_argument, 0, OPT_TIMINGS},                                              \
        {"k-sample", required_argument, 0, OPT_K_SAMPLE},                                      \
        {"max-memory", required_argument, 0, OPT_MAX_MEMORY}

/* The column and cleaning options of run (also accepted by compare). */
#define RUN_LONG_OPTIONS                                                                           \
    {"customer", required_argument, 0, OPT_CUSTOMER}, {"date", required_argument, 0, OPT_DATE},    \
        {"invoice", required_argument, 0, OPT_INVOICE},                                            \
        {"quantity", required_argument, 0, OPT_QUANTITY},                                          \
        {"price", required_argument, 0, OPT_PRICE}, {"amount", required_argument, 0, OPT_AMOUNT},  \
        {"product", required_argument, 0, OPT_PRODUCT},                                            \
        {"date-format", required_argument, 0, OPT_DATE_FORMAT},                                    \
        {"as-of", required_argument, 0, OPT_AS_OF}, {"delimiter", required_argument, 0, OPT_DELIM}, \
        {"spend-window", required_argument, 0, OPT_SPEND_WINDOW},                                  \
        {"keep-duplicates", no_argument, 0, OPT_KEEP_DUPLICATES},                                  \
        {"money-decimals", required_argument, 0, OPT_MONEY_DECIMALS},                              \
        {"attributes", required_argument, 0, OPT_ATTRIBUTES}

#define SEG_OPTIONS_HELP                                                                           \
    "  --out DIR            output folder (default: out)\n"                                      \
    "  --table T, --query SQL   FILE is a database: sqlite:PATH or postgresql://...; read\n"  \
    "                       its table T, or the rows of a SELECT\n"                          \
    "  --pseudonymize KEYFILE   customer ids become keyed pseudonyms (HMAC-SHA-256) in\n"   \
    "                       every output and the store (docs/privacy.md)\n"                  \
    "  --allow-pii          keep columns that look like e-mail addresses, phone numbers\n"  \
    "                       or free text (default: left out; refused as features)\n"       \
    "  --previous DIR       the output folder of a previous run or fit: segments keep its\n" \
    "                       numbers and names, with the migration matrix (docs/resegment.md)\n" \
    "  --db URI             also keep the run in a segment store: an SQLite file (PATH or\n"   \
    "                       sqlite:PATH) or postgresql://... (docs/store.md)\n"                \
    "  --k N|A..B|auto      number of segments; auto tries --k-min..--k-max, A..B that range\n" \
    "                       (default auto)\n"                                                   \
    "  --k-min N, --k-max N range for --k auto (default 2..10)\n"                                \
    "  --features a,b,c     columns to cluster on\n"                                             \
    "  --algo NAME          kmeans (default), ward, complete, average, single (hierarchical),\n" \
    "                       dbscan or gmm (Gaussian mixture); see docs/algorithms.md\n"         \
    "  --height H           hierarchical: cut the tree at height H instead of choosing k\n"     \
    "  --exact              ward: exact tree even on many customers (prints time, memory)\n"   \
    "  --eps X              dbscan: neighbourhood radius (default: k-distance knee)\n"         \
    "  --min-samples N      dbscan: neighbours of a core point, itself included\n"             \
    "                       (default 2 x model features, at least 4)\n"                       \
    "  --covariance TYPE    gmm: full (default), tied, diag or spherical\n"                    \
    "  --pca N|SHARE        PCA step before clustering: N components, or the fewest whose\n"  \
    "                       explained variance reaches SHARE (e.g. 0.95); default none\n"     \
    "  --scale standard|robust|none   feature scaling (default standard)\n"                      \
    "  --log auto|none|all  log1p on skewed features (auto: skewness > 1; default auto)\n"       \
    "  --names A,B,...      segment names, in segment order, replacing the automatic ones\n"     \
    "  --seed N             random seed (default 0)\n"                                           \
    "  --n-init N           restarts (k-means default 10, gmm 1)\n"                             \
    "  --max-iter N         iterations per restart (k-means default 300, gmm 100)\n"           \
    "  --tol X              k-means relative tolerance (default 1e-4)\n"                         \
    "  --kmeans-algo lloyd|hamerly   plain (vectorised) Lloyd, or Hamerly's exact\n"     \
    "                       bounds; same result (default lloyd)\n"     \
    "  --sample N           silhouette on a sample of N customers while choosing k\n"           \
    "                       (default: exact up to 20000 customers, else 20000; 0 = exact)\n"   \
    "  --k-sample N         k-means --k auto on more than N customers: the candidates on a\n"  \
    "                       sample of N, the chosen k then on all (default 100000; 0 = all)\n" \
    "  --max-memory SIZE    refuse a step whose memory grows faster than the customers\n"     \
    "                       (complete/average linkage) above SIZE (bytes, or K, M, G, T;\n"   \
    "                       default: 80% of physical memory)\n"                               \
    "  --threads N          worker threads (default: all cores)\n"                               \
    "  --quiet, --verbose   less or more on stderr\n"                                            \
    "  --progress           the progress line even when stderr is not a terminal (not with\n"  \
    "                       --quiet)\n"                                                         \
    "  --timings            print seconds and peak memory per stage (read, features, fit,\n"    \
    "                       profiles, write)\n"                                                  \
    "  --help               this help\n"

#endif
