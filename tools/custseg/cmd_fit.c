/* custseg fit: customer table (one row per customer) -> segments. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: custseg fit FILE [options]\n"
    "\n"
    "Segment a customer table (CSV or CSV.gz, one row per customer). Number columns are\n"
    "imputed (median), log-transformed when skewed and scaled; text columns are one-hot\n"
    "encoded. Writes customers.csv, segments.json, model.json and report.html to --out.\n"
    "\n"
    "  --id COL             customer id column (default: detected, e.g. CustomerID; else\n"
    "                       none: rows keep their order)\n"
    "  --delimiter C        field separator (default: detect among , ; TAB |)\n"
    "  --revenue COL        money column for the segments' revenue shares and order\n"
    "                       (default: a number column named monetary, revenue, spend,\n"
    "                       sales, total_spend, total_revenue or total_sales; any case,\n"
    "                       '_', '-' and spaces ignored)\n"
    "  --drop-columns A,B   never read these columns (nothing of them is written)\n"
    "  --audit A,B          bias audit: these columns (gender, an age band, a region) are\n"
    "                       kept out of the clustering and their spread over the segments\n"
    "                       tested (chi-square, Cramer's V, four-fifths rule; docs/audit.md)\n"
    "\n"
    "Segmentation (default features: every column but the id; dates are skipped):\n" SEG_OPTIONS_HELP;

/* The columns of t that look like personal data (not the id) into *pii,
 * with a note each; one used as a feature is refused. An exit status. */
static int find_pii(const seg_opts *o, const cseg_table *t, const char *id, int parts, char ***pii,
                    size_t *npii)
{
    for (size_t j = 0; j < cseg_table_n_cols(t); j++) {
        const char *cn = cseg_table_col_name(t, j), *kind = NULL;
        if (id && strcmp(cn, id) == 0)
            continue;
        if (parts) { /* every process, each column in turn: the verdict on all the rows */
            cseg_diag d;
            cseg_diag_clear(&d);
            int rc = cli_mpi_pii_kind(t, j, &kind, &d);
            if (rc < 0)
                return cli_fail(rc, &d, NULL);
        } else {
            kind = cseg_pii_kind(t, j);
        }
        if (!kind)
            continue;
        if (seg_is_feature(o, cn))
            return cli_usage_error(o->cmd,
                                   "column \"%s\" looks like %s: personal data is "
                                   "not a feature (--allow-pii to use it)",
                                   cn, kind);
        char **np = realloc(*pii, (*npii + 1) * sizeof *np);
        if (!np || !(np[*npii] = strdup(cn))) {
            *pii = np ? np : *pii;
            return cli_error(EXIT_IO, "out of memory");
        }
        *pii = np;
        (*npii)++;
        if (!o->c.quiet)
            fprintf(stderr,
                    "custseg: note: column \"%s\" looks like %s: left out of every "
                    "output and the store (--allow-pii keeps it)\n",
                    cn, kind);
    }
    return EXIT_OK;
}

/* Under mpirun the first process alone holds the table: its status, the id
 * column it found and the columns of personal data go to the others, which
 * read the file again without them. Returns the first process's status. */
static int share_pii(int status, char ***pii, size_t *npii, char *idbuf, const char **id)
{
    /* The status, the id found ("" when none or given) and the names, each
     * ending with a NUL. */
    char small[16], *b = small;
    size_t len = 0;
    if (cli_mpi_rank() == 0) {
        const char *found = *id == idbuf ? idbuf : "";
        len = 16 + strlen(found) + 1;
        for (size_t j = 0; j < *npii; j++)
            len += strlen((*pii)[j]) + 1;
        if (!(b = malloc(len))) {
            status = cli_error(EXIT_IO, "out of memory");
            b = small;
            len = (size_t)snprintf(small, sizeof small, "%d", status) + 1;
        } else {
            size_t o = (size_t)snprintf(b, 16, "%d", status) + 1;
            o += (size_t)sprintf(b + o, "%s", found) + 1;
            for (size_t j = 0; j < *npii; j++)
                o += (size_t)sprintf(b + o, "%s", (*pii)[j]) + 1;
            len = o;
        }
        cli_mpi_share(&b, &len);
        if (b != small)
            free(b);
        return status;
    }
    cli_mpi_share(&b, &len);
    /* A process without memory for a few names cannot follow the first:
     * the job ends (mpirun stops every process). */
    int st = atoi(b);
    const char *p = b + strlen(b) + 1, *e = b + len;
    if (st == EXIT_OK && p < e && *p) {
        snprintf(idbuf, CSEG_ROLE_NAME_MAX, "%s", p);
        *id = idbuf;
    }
    for (p = p < e ? p + strlen(p) + 1 : e; st == EXIT_OK && p < e; p += strlen(p) + 1) {
        char **np = realloc(*pii, (*npii + 1) * sizeof *np);
        if (!np || !(np[*npii] = strdup(p)))
            abort();
        *pii = np;
        (*npii)++;
    }
    free(b);
    return st;
}

int cmd_fit(int argc, char **argv)
{
    static const struct option longopts[] = {SEG_LONG_OPTIONS,
                                              {"id", required_argument, 0, OPT_ID},
                                              {"delimiter", required_argument, 0, OPT_DELIM},
                                              {"revenue", required_argument, 0, OPT_REVENUE},
                                              {"drop-columns", required_argument, 0,
                                               OPT_DROP_COLUMNS},
                                              {"audit", required_argument, 0, OPT_AUDIT},
                                              {0, 0, 0, 0}};
    seg_opts o;
    const char *id = NULL, *drop_arg = NULL;
    cseg_table_read_params rp;
    int opt, status = EXIT_OK;
    /* `custseg compare` runs this command's input handling with its own name. */
    const char *cmd = argc > 0 && strcmp(argv[0], "compare") == 0 ? "compare" : "fit";
    seg_opts_init(&o, cmd);
    cseg_table_read_params_init(&rp);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int r = seg_opts_parse(&o, cmd, opt, optarg);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        switch (opt) {
        case OPT_HELP:
            fputs(help, stdout);
            return EXIT_OK;
        case OPT_ID:
            id = optarg;
            break;
        case OPT_REVENUE:
            o.p.revenue_column = optarg;
            break;
        case OPT_DROP_COLUMNS:
            drop_arg = optarg;
            break;
        case OPT_AUDIT:
            if (!*optarg)
                return cli_usage_error(cmd, "--audit needs column names");
            o.audit = optarg;
            break;
        case OPT_DELIM:
            if (cli_parse_delimiter(optarg, &rp.csv.delimiter) < 0)
                return cli_usage_error(cmd, "--delimiter must be one character (or 'tab')");
            break;
        default:
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    o.argc = argc;
    o.argv = argv;
    if (seg_opts_finish(&o))
        return EXIT_USAGE;
    if (optind + 1 != argc)
        return cli_usage_error(cmd, optind >= argc ? "missing the input FILE"
                                                     : "expected one input FILE");
    const char *path = argv[optind];
    char name[1400];
    if (seg_source_name(&o, path, name, sizeof name))
        return EXIT_USAGE;
    cseg_diag diag;
    cseg_diag_clear(&diag);
    cseg_table *t = NULL;
    size_t nskip = 0, ndrop = 0;
    char **drop = drop_arg ? cli_split(drop_arg, &ndrop) : NULL, idbuf[CSEG_ROLE_NAME_MAX];
    char **pii = NULL; /* columns that look like personal data: never loaded */
    size_t npii = 0;
    if (drop_arg && (!drop || ndrop == 0)) {
        cli_free_list(drop);
        return cli_usage_error(cmd, "--drop-columns needs column names separated by commas");
    }
    /* Under mpirun every process reads its part of a file (docs/scale-out.md);
     * a database is read by the first alone. A k-means segmentation keeps
     * the parts where they were read and every process segments its own
     * (parts); else the first gathers the table and goes on, the others
     * serving its k-means fits. */
    int mpi = cli_mpi_size() > 1, spread = mpi && !cseg_db_is_uri(path);
    int parts =
        spread && o.p.algo == CSEG_ALGO_KMEANS && !o.previous && !o.db && strcmp(cmd, "fit") == 0;
    if (parts && o.c.verbose)
        fprintf(stderr, "custseg: %d processes segment the table in parts, each its own rows\n",
                cli_mpi_size());
    if (mpi && !spread) {
        if (cli_mpi_rank() > 0)
            return cli_mpi_kmeans_serve();
        cli_mpi_kmeans_lead();
    }
    if (spread && o.p.n_threads == 0)
        rp.n_threads = cli_mpi_threads();
    /* No --id: a column named like an id (CustomerID, customer_id, ID ...),
     * found in the header so that it is read as text ids from the first
     * reading ("00001" stays "00001"; read as numbers it became 1, and
     * --pseudonymize refused it). A database source: after its reading. */
    if (!id && !cseg_db_is_uri(path)) {
        cseg_csv *hdr = NULL;
        if (cseg_csv_open(&hdr, path, &rp.csv, &diag) == 0) {
            for (size_t j = 0; j < cseg_csv_n_columns(hdr) && !id; j++)
                if (cseg_is_customer_id_name(cseg_csv_column_name(hdr, j), CSEG_ID_IN_TABLE)) {
                    snprintf(idbuf, sizeof idbuf, "%s", cseg_csv_column_name(hdr, j));
                    id = idbuf;
                }
            cseg_csv_close(hdr);
        }
        cseg_diag_clear(&diag); /* the reading below says what is wrong with the file */
    }
    for (int pass = 0; pass < 2; pass++) {
        cseg_colspec *specs = calloc(1 + ndrop + npii, sizeof *specs);
        if (!specs) {
            status = cli_error(EXIT_IO, "out of memory");
            goto done;
        }
        nskip = 0;
        if (id)
            specs[nskip++] = (cseg_colspec){id, CSEG_COL_TEXT, 1};
        for (size_t j = 0; j < ndrop; j++)
            specs[nskip++] = (cseg_colspec){drop[j], CSEG_COL_SKIP, 0};
        for (size_t j = 0; j < npii; j++)
            specs[nskip++] = (cseg_colspec){pii[j], CSEG_COL_SKIP, 0};
        rp.specs = specs;
        rp.n_specs = nskip;
        int rc = cseg_db_is_uri(path) ? cseg_db_read_table(&t, path, o.table, o.query, &rp, &diag)
                 : parts              ? cli_mpi_table_part(&t, path, &rp, o.c.verbose, &diag)
                 : spread             ? cli_mpi_table(&t, path, &rp, o.c.verbose, &diag)
                                      : cseg_table_read_csv(&t, path, &rp, &diag);
        free(specs);
        if (rc < 0) { /* every process has the same failure */
            status = rc == CSEG_ENOCOL && id && !cseg_db_is_uri(path) && strstr(diag.msg, id)
                         ? cli_error(EXIT_DATA, "%s: the id column \"%s\" is not in the header",
                                     name, id)
                         : cli_fail(rc, &diag, name);
            goto done;
        }
        /* No --id: a column named like an id (CustomerID, customer_id, ID ...). */
        for (size_t j = 0; t && j < cseg_table_n_cols(t) && !id; j++)
            if (cseg_is_customer_id_name(cseg_table_col_name(t, j), CSEG_ID_IN_TABLE)) {
                snprintf(idbuf, sizeof idbuf, "%s", cseg_table_col_name(t, j));
                id = idbuf;
            }
        if (pass == 1 || o.allow_pii)
            break;
        /* Personal data stays out: refused as a feature, else never loaded. */
        if (t)
            status = find_pii(&o, t, id, parts, &pii, &npii);
        if (spread && !parts && (status = share_pii(status, &pii, &npii, idbuf, &id)) != 0)
            goto done;
        if (status != 0)
            goto done;
        if (npii == 0)
            break;
        cseg_table_free(t);
        t = NULL;
    }
    if (spread && !parts) {
        if (cli_mpi_rank() > 0) {
            status = cli_mpi_kmeans_serve();
            goto done;
        }
        cli_mpi_kmeans_lead();
    }
    if ((status = seg_pseudonymize(&o, t, id, parts)) != 0)
        goto done;
    seg_source src = {name, NULL, NULL, NULL, NULL, t, id, NULL, NULL, parts};
    status = seg_run(&o, &src);
done:
    cseg_table_free(t);
    cli_free_list(drop);
    for (size_t j = 0; j < npii; j++)
        free(pii[j]);
    free(pii);
    return status;
}
