/* custseg — a customer table read by many MPI ranks
 * (cseg_mpi_table_read_csv; built with -DCSEG_MPI=ON).
 *
 * A plain CSV file is cut into one byte range a rank, both ends moved to
 * line starts. Each rank reads the header and its range with the library's
 * reader (cseg__table_read_part), its rows numbered as the file's lines
 * (a prefix sum of the ranges' line ends), and rank 0 appends the others'
 * rows in rank order (cseg__table_append_packed): text levels then come in
 * the order of their first appearance in the file, as one reading makes
 * them.
 *
 * Column types follow one reading of the whole file: a column left to
 * inference takes the type of its first value in the file (each rank finds
 * the kind of its first value in each column; the first rank with one
 * decides), and a value that does not fit turns the column into text, the
 * first such value in the file giving the reason. So each rank reads its
 * range with the types decided before it (a hint), and its reading stops at
 * its first failure or misfit, as one pass stops; the first of all in the
 * file wins (lines order them): a failure ends the reading on every rank
 * with its message, a misfit makes that column text and every rank reads
 * again, as one process starts over. A file is thus read as many times as
 * by one process.
 *
 * What one process reads but a range cannot: a quoted field that spans a
 * boundary between ranges (each rank checks that its range ends outside
 * quotes, reading quotes as the reader does), a header with a quoted line
 * end or a lone CR, a gzip file: then rank 0 reads the file alone.
 *
 * Memory: a rank its range's rows; rank 0 the table and one rank's packed
 * rows at a time.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "custseg/mpi.h"
#include "../core/internal.h"
#include "../table/internal.h"
#include "internal.h"

/* The first line start at or after x in [h, size) (h: after the header). */
static size_t line_start(const char *map, size_t size, size_t h, size_t x)
{
    if (x <= h)
        return h;
    if (x >= size)
        return size;
    const char *nl = memchr(map + x - 1, '\n', size - (x - 1));
    return nl ? (size_t)(nl - map) + 1 : size;
}

/* Whether [b, e), taken from a line start outside quotes, ends inside a
 * quoted field, reading quotes as the CSV reader does: a quote opens a
 * field only at its start (after the delimiter or a line end), "" inside
 * is a quote, any other quote is a character. Also counts the line ends
 * the reader counts (\n, and a \r not before \n), inside quotes too. */
static int ends_quoted(const char *b, const char *e, char delim, int64_t *lines)
{
    int64_t n = 0;
    for (const char *p = b; p < e; p++) {
        const char *x = memchr(p, '\n', (size_t)(e - p));
        n += x != NULL;
        p = x ? x : e;
    }
    for (const char *p = b; p < e; p++) {
        const char *x = memchr(p, '\r', (size_t)(e - p));
        if (!x)
            break;
        n += x + 1 == e || x[1] != '\n';
        p = x;
    }
    *lines = n;
    for (const char *p = b; p < e;) {
        const char *q = memchr(p, '"', (size_t)(e - p));
        if (!q)
            return 0;
        if (q > b && q[-1] != delim && q[-1] != '\n' && q[-1] != '\r') {
            p = q + 1; /* a quote inside an unquoted field */
            continue;
        }
        for (p = q + 1;;) { /* the closing quote */
            const char *c = memchr(p, '"', (size_t)(e - p));
            if (!c)
                return 1;
            if (c + 1 < e && c[1] == '"') {
                p = c + 2;
                continue;
            }
            p = c + 1;
            break;
        }
    }
    return 0;
}

/* What cseg__table_read_part reads: the header, then the range. */
typedef struct span_src {
    const char *parts[2];
    size_t lens[2], at, k;
} span_src;

static long span_read(void *user, void *buf, size_t size)
{
    span_src *s = user;
    size_t n = 0;
    while (n < size && s->k < 2) {
        size_t m = s->lens[s->k] - s->at;
        m = m < size - n ? m : size - n;
        memcpy((char *)buf + n, s->parts[s->k] + s->at, m);
        n += m;
        s->at += m;
        if (s->at == s->lens[s->k]) {
            s->k++;
            s->at = 0;
        }
    }
    return (long)n;
}

/* The kind of each column's first value in the range (0: none), as the
 * reader infers it; lines with another number of fields are passed over
 * (the reading proper finds them). */
static void first_kinds(span_src *src, const char *name, const cseg_table_read_params *p,
                        size_t ncsv, unsigned char *kind)
{
    cseg_csv *r = NULL;
    cseg_diag ignored;
    memset(kind, 0, ncsv);
    if (cseg_csv_open_reader(&r, span_read, src, name, &p->csv, &ignored) < 0)
        return;
    size_t left = ncsv;
    const cseg_csv_field *f;
    size_t nf;
    while (left > 0 && cseg_csv_next(r, &f, &nf, &ignored) > 0) {
        if (nf != ncsv)
            continue;
        for (size_t j = 0; j < ncsv; j++) {
            if (kind[j] || cseg_is_missing(f[j].ptr, f[j].len))
                continue;
            kind[j] = (unsigned char)cseg__table_infer(f[j].ptr, f[j].len, p->date_format);
            left--;
        }
    }
    cseg_csv_close(r);
}

/* Rank 0 reads the file alone; the others wait for the outcome. */
static int read_on_first(MPI_Comm comm, int rank, cseg_table **out, const char *path,
                         const cseg_table_read_params *p, cseg_diag *d)
{
    int rc = 0;
    if (rank == 0)
        rc = cseg_table_read_csv(out, path, p, d);
    rc = cseg__mpi_agree(comm, rc, 0, d);
    if (rc < 0) {
        cseg_table_free(*out);
        *out = NULL;
    }
    return rc;
}

enum { PART_TAG = 12, PIECE = 1 << 30 };

/* The rows of all the ranks, *t holding this rank's (in rank order: rank
 * r's follow rank r - 1's), moved so that each rank holds the block
 * cseg_mpi_kmeans_split gives it: whole spans in rank order. Each rank
 * sends the ranks whose block overlaps its rows that slice of them
 * (cseg__table_pack_rows: text levels in their order of first appearance
 * in the slice), and appends what it receives in rank order to an empty
 * table of the same columns; *moved: the bytes this rank sent others. */
static int to_parts(MPI_Comm comm, cseg_table **t, size_t *row0, uint64_t *moved, cseg_diag *d)
{
    int np, me;
    MPI_Comm_size(comm, &np);
    MPI_Comm_rank(comm, &me);
    size_t P = (size_t)np, r0, nr;
    uint64_t *v = malloc(6 * P * sizeof *v), mine = cseg_table_n_rows(*t), tgt[2];
    cseg__buf *out = calloc(P, sizeof *out), schema = {0};
    cseg_table *part = NULL;
    int rc = v && out ? 0 : CSEG_ENOMEM;
    if (rc == 0 && (rc = cseg__table_pack_schema(*t, &schema)) == 0)
        rc = cseg__table_from_schema(&part, schema.p, schema.len);
    free(schema.p);
    if ((rc = cseg__mpi_agree(comm, rc, 0, d)) < 0)
        goto out;
    uint64_t *cnt = v, *first = v + P, *tg = v + 2 * P, *sz = v + 4 * P, *got = v + 5 * P;
    MPI_Allgather(&mine, 1, MPI_UINT64_T, cnt, 1, MPI_UINT64_T, comm);
    uint64_t n_all = 0;
    for (size_t q = 0; q < P; q++) {
        first[q] = n_all;
        n_all += cnt[q];
    }
    cseg_mpi_kmeans_split(comm, (size_t)n_all, &r0, &nr);
    tgt[0] = r0;
    tgt[1] = nr;
    MPI_Allgather(tgt, 2, MPI_UINT64_T, tg, 2, MPI_UINT64_T, comm);
    /* This rank's slice for each rank. */
    uint64_t a = first[me], b = a + mine;
    for (size_t q = 0; q < P && rc == 0; q++) {
        uint64_t lo = a > tg[2 * q] ? a : tg[2 * q];
        uint64_t hi = b < tg[2 * q] + tg[2 * q + 1] ? b : tg[2 * q] + tg[2 * q + 1];
        sz[q] = 0;
        if (lo < hi) {
            rc = cseg__table_pack_rows(*t, (size_t)(lo - a), (size_t)(hi - a), &out[q]);
            sz[q] = out[q].len;
        }
    }
    if ((rc = cseg__mpi_agree(comm, rc < 0 ? cseg__diag(d, rc, NULL, 0, 0, "out of memory") : 0, 0,
                              d)) < 0)
        goto out;
    MPI_Alltoall(sz, 1, MPI_UINT64_T, got, 1, MPI_UINT64_T, comm);
    /* Sent in pieces an int counts, all at once; received in rank order. */
    size_t nreq = 0;
    for (size_t q = 0; q < P; q++)
        if ((int)q != me)
            nreq += (size_t)((sz[q] + PIECE - 1) / PIECE);
    MPI_Request *req = malloc((nreq ? nreq : 1) * sizeof *req);
    if ((rc = cseg__mpi_agree(
             comm, req ? 0 : cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory"), 0, d)) < 0) {
        free(req);
        goto out;
    }
    nreq = 0;
    *moved = 0;
    for (size_t q = 0; q < P; q++) {
        if ((int)q == me)
            continue;
        for (uint64_t o = 0; o < sz[q]; o += PIECE) {
            uint64_t m = sz[q] - o < PIECE ? sz[q] - o : PIECE;
            MPI_Isend(out[q].p + o, (int)m, MPI_BYTE, (int)q, PART_TAG, comm, &req[nreq++]);
        }
        *moved += sz[q];
    }
    int arc = 0;
    for (size_t q = 0; q < P; q++) {
        if (!got[q])
            continue;
        char *buf = (int)q == me ? out[q].p : malloc((size_t)got[q]);
        if (!buf) /* a rank that cannot hold its part cannot take part: the job ends */
            MPI_Abort(comm, 3);
        for (uint64_t o = 0; (int)q != me && o < got[q]; o += PIECE) {
            uint64_t m = got[q] - o < PIECE ? got[q] - o : PIECE;
            MPI_Recv(buf + o, (int)m, MPI_BYTE, (int)q, PART_TAG, comm, MPI_STATUS_IGNORE);
        }
        if (arc == 0)
            arc = cseg__table_append_packed(part, buf, (size_t)got[q], d);
        if ((int)q != me)
            free(buf);
    }
    MPI_Waitall((int)nreq, req, MPI_STATUSES_IGNORE);
    free(req);
    rc = cseg__mpi_agree(comm, arc, 0, d);
out:
    for (size_t q = 0; out && q < P; q++)
        free(out[q].p);
    free(out);
    free(v);
    if (rc < 0) {
        cseg_table_free(part);
        return rc;
    }
    cseg_table_free(*t);
    *t = part;
    *row0 = r0;
    return 0;
}

/* A table rank 0 read alone (*t; NULL elsewhere) made into the ranks'
 * blocks: its columns sent to the others, which start from none. */
static int first_to_parts(MPI_Comm comm, int rank, cseg_table **t, size_t *row0, uint64_t *moved,
                          cseg_diag *d)
{
    cseg__buf schema = {0};
    uint64_t len = 0;
    int rc = rank == 0 ? cseg__table_pack_schema(*t, &schema) : 0;
    len = schema.len;
    if ((rc = cseg__mpi_agree(comm, rc < 0 ? cseg__diag(d, rc, NULL, 0, 0, "out of memory") : 0, 0,
                              d)) < 0) {
        free(schema.p);
        return rc;
    }
    MPI_Bcast(&len, 1, MPI_UINT64_T, 0, comm);
    char *b = rank == 0 ? schema.p : malloc(len ? (size_t)len : 1);
    if (!b)
        MPI_Abort(comm, 3);
    MPI_Bcast(b, (int)len, MPI_BYTE, 0, comm);
    if (rank > 0 && (rc = cseg__table_from_schema(t, b, (size_t)len)) < 0)
        cseg__diag(d, rc, NULL, 0, 0, "out of memory");
    free(b);
    if ((rc = cseg__mpi_agree(comm, rc, 0, d)) == 0)
        rc = to_parts(comm, t, row0, moved, d);
    if (rc < 0) { /* rank 0's whole table too */
        cseg_table_free(*t);
        *t = NULL;
    }
    return rc;
}

/* parts: every rank keeps a span-aligned block of the rows (*row0 its first
 * row) instead of rank 0 gathering them. */
static int read_csv(MPI_Comm comm, cseg_table **out, size_t *row0, int parts, const char *path,
                    const cseg_table_read_params *p, cseg_mpi_stats *stats, cseg_diag *diag)
{
    cseg_table_read_params defaults, tp;
    cseg_diag d;
    int np, rank, rc = 0;
    char *map = NULL;
    size_t size = 0, ncsv = 0;
    int gzip = 0;
    cseg_table *t = NULL;
    unsigned char *as_text = NULL, *kinds = NULL;
    cseg_coltype *hint = NULL;
    cseg__buf packed = {0};
    double t0 = MPI_Wtime(), t1 = t0, t2 = t0;
    int passes = 0;
    uint64_t sent = 0;
    *out = NULL;
    if (stats)
        memset(stats, 0, sizeof *stats);
    cseg_diag_clear(&d);
    MPI_Comm_size(comm, &np);
    MPI_Comm_rank(comm, &rank);
    if (!p) {
        cseg_table_read_params_init(&defaults);
        p = &defaults;
    }
    tp = *p;
    tp.progress = NULL;
    /* Every rank opens the file: its delimiter and columns (the header's
     * errors are every rank's alike). */
    cseg_csv *csv = NULL;
    if ((rc = cseg_csv_open(&csv, path, &tp.csv, &d)) == 0) {
        ncsv = cseg_csv_n_columns(csv);
        tp.csv.delimiter = cseg_csv_delimiter(csv);
        cseg_csv_close(csv);
    }
    if (rc == 0)
        rc = cseg__mpi_map(path, &map, &size, &gzip, &d);
    int alone = gzip || np == 1 || !tp.csv.has_header;
    MPI_Allreduce(MPI_IN_PLACE, &alone, 1, MPI_INT, MPI_LOR, comm);
    if ((rc = cseg__mpi_agree(comm, rc, 0, &d)) < 0 || alone) {
        if (map)
            munmap(map, size);
        if (rc == 0)
            rc = read_on_first(comm, rank, out, path, &tp, &d);
        if (rc == 0 && parts)
            rc = first_to_parts(comm, rank, out, row0, &sent, &d);
        goto done;
    }
    /* The header: every rank's from its own mapping (the same file). A
     * header line with a lone \r or a quoted line end is read by one. */
    size_t h = 0;
    {
        const char *nl = map ? memchr(map, '\n', size) : NULL;
        h = nl ? (size_t)(nl - map) + 1 : size;
        size_t quotes = 0;
        for (size_t i = 0; i < h; i++) {
            quotes += map[i] == '"';
            if (map[i] == '\r' && i + 1 < h && map[i + 1] != '\n')
                alone = 1;
        }
        alone |= quotes % 2 != 0;
    }
    unsigned __int128 len = size - h; /* len x np fits */
    size_t lo = line_start(map, size, h, h + (size_t)(len * (unsigned)rank / (unsigned)np));
    size_t hi = line_start(map, size, h, h + (size_t)(len * (unsigned)(rank + 1) / (unsigned)np));
    int64_t my_lines = 0, before = 0;
    alone |= ends_quoted(map + lo, map + hi, tp.csv.delimiter, &my_lines);
    MPI_Allreduce(MPI_IN_PLACE, &alone, 1, MPI_INT, MPI_LOR, comm);
    if (alone) {
        munmap(map, size);
        map = NULL;
        rc = read_on_first(comm, rank, out, path, &tp, &d);
        if (rc == 0 && parts)
            rc = first_to_parts(comm, rank, out, row0, &sent, &d);
        goto done;
    }
    MPI_Exscan(&my_lines, &before, 1, MPI_INT64_T, MPI_SUM, comm);
    if (rank == 0)
        before = 0;
    /* Each column's type before each range: the kind of its first value
     * in the file. */
    as_text = calloc(ncsv ? ncsv : 1, 1);
    kinds = malloc((ncsv ? ncsv : 1) * (size_t)np);
    hint = calloc(ncsv ? ncsv : 1, sizeof *hint);
    if (!as_text || !kinds || !hint)
        MPI_Abort(comm, 3); /* cannot take part in the exchanges */
    span_src src = {{map, map + lo}, {h, hi - lo}, 0, 0};
    first_kinds(&src, path, &tp, ncsv, kinds + (size_t)rank * ncsv);
    MPI_Allgather(MPI_IN_PLACE, (int)ncsv, MPI_BYTE, kinds, (int)ncsv, MPI_BYTE, comm);
    for (size_t j = 0; j < ncsv; j++)
        for (int k = 0; k < np && hint[j] == CSEG_COL_AUTO; k++)
            hint[j] = (cseg_coltype)kinds[(size_t)k * ncsv + j];
    /* Read, until no value anywhere misfits its column. */
    cseg__retype *why = NULL;
    size_t n_why = 0;
    for (;;) {
        cseg__retype stop;
        passes++;
        src = (span_src){{map, map + lo}, {h, hi - lo}, 0, 0};
        rc = cseg__table_read_part(&t, span_read, &src, path, &tp, as_text, ncsv, hint,
                                   (long)before, &stop, &d);
        int64_t key = rc == 1 ? stop.line : rc < 0 ? (d.line > 0 ? d.line : 0) : INT64_MAX;
        int first = cseg__mpi_first(comm, key);
        if (first < 0)
            break; /* every range read */
        int code = rc;
        MPI_Bcast(&code, 1, MPI_INT, first, comm);
        cseg_table_free(t);
        t = NULL;
        if (code < 0) { /* the file's first failure */
            MPI_Bcast(&d, (int)sizeof d, MPI_BYTE, first, comm);
            rc = code;
            break;
        }
        /* The file's first misfit: its column is text, read again. */
        MPI_Bcast(&stop, (int)sizeof stop, MPI_BYTE, first, comm);
        rc = 0;
        if (stop.src >= ncsv || as_text[stop.src]) {
            rc = cseg__diag(&d, CSEG_EPARSE, path, 0, 0, "cannot settle column types");
            break;
        }
        as_text[stop.src] = 1;
        cseg__retype *nw = cseg__reallocarray(why, n_why + 1, sizeof *nw);
        if (!nw)
            MPI_Abort(comm, 3);
        why = nw;
        why[n_why++] = stop;
    }
    munmap(map, size);
    map = NULL;
    t1 = MPI_Wtime();
    /* Every rank its span-aligned block of the rows, or rank 0 appends the
     * others' rows, rank after rank. */
    /* (Each part takes the reasons with its columns.) */
    for (size_t w = 0; parts && rc == 0 && w < n_why; w++)
        if ((rc = cseg__table_set_text_because(t, &why[w])) < 0)
            rc = cseg__diag(&d, rc, path, 0, 0, "out of memory");
    if (parts && (rc = cseg__mpi_agree(comm, rc, 0, &d)) == 0)
        rc = to_parts(comm, &t, row0, &sent, &d);
    if (rc == 0 && !parts) {
        int prc = 0;
        if (rank > 0 && (prc = cseg__table_pack(t, &packed)) < 0)
            cseg__diag(&d, prc, path, 0, 0, "out of memory");
        if ((rc = cseg__mpi_agree(comm, prc, 0, &d)) == 0) {
            uint64_t mine = rank > 0 ? packed.len : 0, *all = calloc((size_t)np, sizeof *all);
            if (!all)
                MPI_Abort(comm, 3);
            MPI_Gather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, 0, comm);
            if (rank == 0) {
                for (int k = 1; k < np; k++) {
                    char *b = malloc(all[k] ? (size_t)all[k] : 1);
                    if (!b)
                        MPI_Abort(comm, 3);
                    cseg__mpi_recv_part(comm, k, b, all[k]);
                    sent += all[k];
                    if (rc == 0)
                        rc = cseg__table_append_packed(t, b, (size_t)all[k], &d);
                    free(b);
                }
                for (size_t w = 0; w < n_why && rc == 0; w++)
                    if ((rc = cseg__table_set_text_because(t, &why[w])) < 0)
                        rc = cseg__diag(&d, rc, path, 0, 0, "out of memory");
            } else {
                cseg__mpi_send_part(comm, packed.p, mine);
                cseg_table_free(t);
                t = NULL;
            }
            free(all);
            rc = cseg__mpi_agree(comm, rc, 0, &d);
        }
    }
    free(why);
    t2 = MPI_Wtime();
    if (rc < 0) {
        cseg_table_free(t);
        t = NULL;
    }
    *out = t;
done:
    if (stats) {
        double span[2] = {t1 - t0, t2 - t1}, slow[2];
        uint64_t rows = *out ? cseg_table_n_rows(*out) : 0;
        MPI_Allreduce(span, slow, 2, MPI_DOUBLE, MPI_MAX, comm);
        if (parts) {
            MPI_Allreduce(MPI_IN_PLACE, &rows, 1, MPI_UINT64_T, MPI_SUM, comm);
            MPI_Allreduce(MPI_IN_PLACE, &sent, 1, MPI_UINT64_T, MPI_SUM, comm);
        } else {
            MPI_Bcast(&rows, 1, MPI_UINT64_T, 0, comm);
            MPI_Bcast(&sent, 1, MPI_UINT64_T, 0, comm);
        }
        stats->processes = np;
        stats->rounds = (uint64_t)passes;
        stats->lines = rows;
        stats->part_bytes = sent;
        stats->read_seconds = slow[0];
        stats->gather_seconds = slow[1];
    }
    free(packed.p);
    free(as_text);
    free(kinds);
    free(hint);
    if (diag)
        *diag = d;
    return rc;
}

int cseg_mpi_table_read_csv(MPI_Comm comm, cseg_table **out, const char *path,
                            const cseg_table_read_params *p, cseg_mpi_stats *stats, cseg_diag *diag)
{
    return read_csv(comm, out, NULL, 0, path, p, stats, diag);
}

int cseg_mpi_table_read_csv_part(MPI_Comm comm, cseg_table **part, size_t *row0, const char *path,
                                 const cseg_table_read_params *p, cseg_mpi_stats *stats,
                                 cseg_diag *diag)
{
    size_t r0 = 0;
    int rc = read_csv(comm, part, &r0, 1, path, p, stats, diag);
    if (row0)
        *row0 = rc == 0 ? r0 : 0;
    return rc;
}

/* Whether every rank's part has the same columns (names, types, in
 * order): a hash of them, its least and greatest over the ranks. Ranks
 * whose columns differ would take different steps. */
int cseg__mpi_same_columns(MPI_Comm comm, const cseg_table *part)
{
    uint64_t h = 1469598103934665603ULL, v[2];
    for (size_t j = 0; j < cseg_table_n_cols(part); j++) {
        for (const char *c = cseg_table_col_name(part, j); *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        h = (h ^ (0x100u + (unsigned)cseg_table_col_type(part, j))) * 1099511628211ULL;
    }
    v[0] = h;
    v[1] = ~h;
    MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MIN, comm);
    return v[0] == ~v[1];
}

enum { WRITE_TAG = 13, WRITE_ROWS = 65536 };

/* Rank r > 0: its rows as text, a block of WRITE_ROWS at a time, each sent
 * to rank 0 when it asks (a count of bytes, then the bytes in pieces an int
 * counts; a count of UINT64_MAX: this rank failed). */
static void send_rows(MPI_Comm comm, const cseg_table *t)
{
    size_t n = cseg_table_n_rows(t);
    void *fmt = cseg__table_csv_begin(t);
    cseg__buf b = {0};
    int go = 0;
    for (size_t i0 = 0;; i0 += WRITE_ROWS) {
        MPI_Recv(&go, 1, MPI_INT, 0, WRITE_TAG, comm, MPI_STATUS_IGNORE);
        if (!go)
            break; /* rank 0 stopped */
        size_t i1 = i0 + WRITE_ROWS < n ? i0 + WRITE_ROWS : n;
        b.len = 0;
        if (fmt && i0 < n)
            cseg__table_csv_rows(t, fmt, i0, i1, &b);
        uint64_t len = !fmt || b.failed ? UINT64_MAX : i0 < n ? b.len : 0;
        MPI_Send(&len, 1, MPI_UINT64_T, 0, WRITE_TAG, comm);
        if (len == UINT64_MAX || len == 0)
            break; /* failed, or done */
        for (uint64_t o = 0; o < len; o += PIECE) {
            uint64_t m = len - o < PIECE ? len - o : PIECE;
            MPI_Send(b.p + o, (int)m, MPI_BYTE, 0, WRITE_TAG, comm);
        }
    }
    free(b.p);
    if (fmt)
        cseg__table_csv_end(t, fmt);
}

/* Rank 0: rank r's rows appended to f, block by block; 0, CSEG_ENOMEM
 * (rank r could not format them) or CSEG_EIO (a write failed: rank r is
 * then told to stop). */
static int recv_rows(MPI_Comm comm, int r, FILE *f)
{
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0, go = 1;
    for (;;) {
        uint64_t len;
        MPI_Send(&go, 1, MPI_INT, r, WRITE_TAG, comm);
        if (!go)
            break;
        MPI_Recv(&len, 1, MPI_UINT64_T, r, WRITE_TAG, comm, MPI_STATUS_IGNORE);
        if (len == UINT64_MAX) {
            rc = CSEG_ENOMEM;
            break;
        }
        if (len == 0)
            break;
        if (len > cap) {
            char *nb = realloc(buf, (size_t)len);
            if (!nb) /* the bytes on their way could not be taken */
                MPI_Abort(comm, 3);
            buf = nb;
            cap = (size_t)len;
        }
        for (uint64_t o = 0; o < len; o += PIECE) {
            uint64_t m = len - o < PIECE ? len - o : PIECE;
            MPI_Recv(buf + o, (int)m, MPI_BYTE, r, WRITE_TAG, comm, MPI_STATUS_IGNORE);
        }
        if (rc == 0 && fwrite(buf, 1, (size_t)len, f) != (size_t)len) {
            rc = CSEG_EIO;
            go = 0; /* one more message: stop */
        }
    }
    free(buf);
    return rc;
}

int cseg_mpi_table_write_csv(MPI_Comm comm, const cseg_table *part, const char *path,
                             cseg_diag *diag)
{
    int np, rank, rc = 0;
    cseg_diag d;
    cseg_diag_clear(&d);
    MPI_Comm_size(comm, &np);
    MPI_Comm_rank(comm, &rank);
    if (!cseg__mpi_same_columns(comm, part)) {
        rc = cseg__diag(&d, CSEG_EINVAL, path, 0, 0,
                        "the processes' tables differ in their columns or their types");
        if (diag)
            *diag = d;
        return rc;
    }
    if (rank > 0) {
        send_rows(comm, part);
    } else {
        cseg_atomic_file af;
        if ((rc = cseg__atomic_open(&af, path, &d)) == 0) {
            /* Rank 0's own rows with the header, then each rank's in turn
             * (every rank is served, also after a failure, so none waits). */
            rc = cseg__table_print_csv_fn(part, af.f, NULL, NULL);
            for (int r = 1; r < np; r++) {
                int rr = rc == 0 ? recv_rows(comm, r, af.f) : CSEG_EIO;
                if (rc < 0) { /* tell it to stop at once */
                    int stop = 0;
                    MPI_Send(&stop, 1, MPI_INT, r, WRITE_TAG, comm);
                }
                rc = rc < 0 ? rc : rr;
            }
            if (rc < 0 && rc != CSEG_ENOMEM && ferror(af.f)) {
                /* a write failed: the commit finds it, says it as one
                 * process says it (the system's reason) and removes the file */
                if ((rc = cseg__atomic_commit(&af, &d)) == 0)
                    rc = CSEG_EIO; /* not reached: the stream is in error */
            } else if (rc < 0) {
                cseg__atomic_abort(&af);
                cseg__diag(&d, rc, path, 0, 0, "%s",
                           rc == CSEG_ENOMEM ? "out of memory" : "cannot write the file");
            } else {
                rc = cseg__atomic_commit(&af, &d);
            }
        } else {
            for (int r = 1; r < np; r++) { /* nothing to write to: every rank stops */
                int stop = 0;
                MPI_Send(&stop, 1, MPI_INT, r, WRITE_TAG, comm);
            }
        }
    }
    rc = cseg__mpi_agree(comm, rc, 0, &d);
    if (diag)
        *diag = d;
    return rc;
}
