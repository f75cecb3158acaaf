/* custseg — a transaction log's customers built by many MPI ranks
 * (cseg_mpi_rfm_compute_csv; built with -DCSEG_MPI=ON).
 *
 * Each rank maps the file and takes an equal byte range of its data lines
 * (moved to line starts); a .gz file is inflated by rank 0 alone. In rounds
 * of at most round_bytes() of input a rank, every line goes to the rank that
 * owns its customer (a hash of the id, as the reader will normalise it:
 * quotes, spaces and a ".0" tail dropped), point to point after an
 * MPI_Alltoall of the counts, its global line number alongside. A rank thus
 * holds all the lines of its customers, from each sender in the log's order;
 * read sender by sender they are in the log's order, so a customer's sums
 * add up in the same order as in a one-process run. The rank reads them with
 * the library's chunked CSV reader (a callback over the blocks as they
 * arrived), builds its customers' state as one process reading a large log
 * does (cseg__rfm_acc, a duplicate window, a second reading when the window
 * cannot judge) and encodes them as a part (cseg__rfm_acc_part) against the
 * latest day of all
 * ranks (one MPI_Allreduce); rank 0 gathers the parts and assembles the
 * table (cseg__rfm_assemble): customers sorted by id, quintile scores over
 * all of them. The result equals the one-process result bit for bit, except
 * that the log's gross and returned totals are compensated sums added part
 * by part (a last-bit difference is possible before rounding to cents).
 *
 * Failure: a rank that fails goes on taking part in the collective steps,
 * and at each agreement point (after the reading, after the parts) every
 * rank learns the failure that comes first in the log (a row's global
 * line; failures without a line first), so all ranks return the same code
 * and message and no rank waits forever.
 *
 * Memory per rank: its share of the log's text (kept for a second
 * reading), 8 bytes a row for line numbers, its customers' state; rank 0
 * also the parts and the customer table.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "custseg/mpi.h"
#include "../core/internal.h"
#include "../features/internal.h"
#include "../table/internal.h"

/* ---- agreement: every rank learns the first failure ---- */

/* rc and d are this rank's outcome; key orders failures (a global line, 0
 * for a failure without one). Returns the first failure's code (0: none)
 * and copies its diagnostic into d on every rank. */
static int agree(MPI_Comm comm, int rc, int64_t key, cseg_diag *d)
{
    int64_t mine = rc < 0 ? key : INT64_MAX, low;
    MPI_Allreduce(&mine, &low, 1, MPI_INT64_T, MPI_MIN, comm);
    if (low == INT64_MAX)
        return 0;
    int rank, who, first;
    MPI_Comm_rank(comm, &rank);
    who = rc < 0 && mine == low ? rank : INT_MAX;
    MPI_Allreduce(&who, &first, 1, MPI_INT, MPI_MIN, comm);
    int code = rc;
    MPI_Bcast(&code, 1, MPI_INT, first, comm);
    MPI_Bcast(d, (int)sizeof *d, MPI_BYTE, first, comm);
    return code;
}

/* ---- memory ---- */

/* n bytes whose pages are made present in one call: a buffer that MPI or
 * memcpy then fills would otherwise take a page fault every 4 KiB (a quarter
 * of a million a GB, each dear in a VM). */
static void *alloc_present(size_t n)
{
    char *p = cseg__realloc_huge(NULL, n ? n : 1, 1);
#ifdef MADV_POPULATE_WRITE
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + pg - 1) / pg * pg, z = ((uintptr_t)p + n) / pg * pg;
    if (p && z > a)
        (void)madvise((void *)a, z - a, MADV_POPULATE_WRITE);
#endif
    return p;
}

/* ---- a growing byte or line buffer ---- */

typedef struct gbuf {
    char *b;
    size_t n, cap;
} gbuf;

static int gb_room(gbuf *g, size_t more)
{
    if (g->n + more <= g->cap)
        return 0;
    size_t nc = g->cap ? g->cap : 1 << 16;
    while (nc < g->n + more)
        nc *= 2;
    char *nb = cseg__realloc_huge(g->b, nc, 1);
    if (!nb)
        return CSEG_ENOMEM;
    g->b = nb;
    g->cap = nc;
    return 0;
}

/* ---- routing: the customer id of a line, as the reader will see it ---- */

/* The text of field j of line [s, e) (e excludes the line end), unquoted
 * and normalised as a text id (cseg_colspec.is_id): spaces around it and a
 * numeric id's ".0" tail dropped. A missing field gives "". The key is
 * written to buf (at least e - s bytes). */
static size_t id_key(const char *s, const char *e, size_t j, char delim, char *buf)
{
    const char *p = s;
    for (size_t f = 0; f < j; f++) { /* skip field f */
        int q = 0;
        while (p < e && (*p != delim || q)) {
            if (*p == '"')
                q = !q; /* "" inside quotes toggles twice */
            p++;
        }
        if (p >= e)
            return 0;
        p++;
    }
    const char *fe = p;
    int q = 0;
    while (fe < e && (*fe != delim || q)) {
        if (*fe == '"')
            q = !q;
        fe++;
    }
    while (p < fe && (*p == ' ' || *p == '\t'))
        p++;
    while (fe > p && (fe[-1] == ' ' || fe[-1] == '\t' || fe[-1] == '\r'))
        fe--;
    size_t n = 0;
    if (fe - p >= 2 && *p == '"' && fe[-1] == '"') {
        for (const char *x = p + 1; x < fe - 1; x++) {
            buf[n++] = *x;
            if (*x == '"' && x + 1 < fe - 1 && x[1] == '"')
                x++;
        }
    } else {
        memcpy(buf, p, (size_t)(fe - p));
        n = (size_t)(fe - p);
    }
    /* As the reader: trimmed, and "17850.0" is "17850". */
    size_t a = 0;
    while (a < n && (buf[a] == ' ' || buf[a] == '\t'))
        a++;
    while (n > a && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    size_t dot = a;
    while (dot < n && (unsigned)(buf[dot] - '0') < 10)
        dot++;
    if (dot > a && dot + 1 < n && buf[dot] == '.') {
        size_t k = dot + 1;
        while (k < n && buf[k] == '0')
            k++;
        if (k == n)
            n = dot;
    }
    memmove(buf, buf + a, n - a);
    return n - a;
}

typedef struct router {
    MPI_Comm comm;
    int np, rank;
    size_t jc;  /* the customer column */
    char delim;
    const char *path;
    /* sending, per round */
    gbuf text;       /* the round's lines, by destination */
    gbuf sent_lines; /* their global line numbers (int64_t) */
    size_t *lstart, *lend, lcap; /* the round's lines: where */
    int *lowner;
    int64_t *lnum;
    char *key;
    size_t key_cap;
    /* receiving: each round's lines for this rank, sender by sender */
    struct rround {
        char *text;
        int64_t *lines;
        int *count, *nlines; /* per sender */
        size_t *off, *loff;  /* where each sender's lines start in text, lines */
    } *got;
    size_t n_got, got_cap;
    uint64_t rounds, lines, moved;
    /* first local failure */
    int rc;
    int64_t err_key;
    cseg_diag err;
} router;

static int fail(router *r, int rc, int64_t key)
{
    if (r->rc == 0 || key < r->err_key) {
        r->rc = rc;
        r->err_key = key;
    }
    return rc;
}

/* Route the whole lines in [b, e) (the last may lack its line end), the
 * first of them line `line`, in one round with every rank. */
static int route_round(router *r, const char *b, const char *e, int64_t line)
{
    int np = r->np;
    size_t nl = 0;
    int ok = r->rc == 0;
    /* The lines, their owners and sizes. */
    int *scount = calloc((size_t)np * 4, sizeof *scount), *rcount = scount + np;
    int *sl = scount + 2 * np, *rl = scount + 3 * np;
    if (!scount) {
        /* Without memory this rank cannot even take part: MPI aborts. */
        MPI_Abort(r->comm, 3);
        return CSEG_ENOMEM;
    }
    for (const char *s = b; ok && s < e; line++) {
        const char *le = memchr(s, '\n', (size_t)(e - s));
        const char *end = le ? le : e;
        size_t quotes = 0;
        for (const char *x = s; x < end; x++)
            quotes += *x == '"';
        if (quotes % 2) {
            const char *x = memchr(s, '"', (size_t)(end - s));
            long col = x ? (long)(x - s) + 1 : 0;
            cseg__diag(&r->err, CSEG_EPARSE, r->path, (long)line, col,
                       "a quoted field spans lines: not supported when several processes read "
                       "the log (read it as one process)");
            fail(r, CSEG_EPARSE, line);
            ok = 0;
            break;
        }
        if ((size_t)(end - s) + 1 > (size_t)INT_MAX / 4) {
            cseg__diag(&r->err, CSEG_ETOOBIG, r->path, (long)line, 0, "line too long");
            fail(r, CSEG_ETOOBIG, line);
            ok = 0;
            break;
        }
        if (nl == r->lcap) {
            size_t nc = r->lcap ? 2 * r->lcap : 4096;
            size_t *a = realloc(r->lstart, nc * sizeof *a), *z;
            if (a)
                r->lstart = a;
            z = realloc(r->lend, nc * sizeof *z);
            if (z)
                r->lend = z;
            int *o = realloc(r->lowner, nc * sizeof *o);
            if (o)
                r->lowner = o;
            int64_t *ln = realloc(r->lnum, nc * sizeof *ln);
            if (ln)
                r->lnum = ln;
            if (!a || !z || !o || !ln) {
                cseg__diag(&r->err, CSEG_ENOMEM, r->path, 0, 0, "out of memory");
                fail(r, CSEG_ENOMEM, 0);
                ok = 0;
                break;
            }
            r->lcap = nc;
        }
        if ((size_t)(end - s) > r->key_cap) {
            char *k = realloc(r->key, (size_t)(end - s) + 1);
            if (!k) {
                cseg__diag(&r->err, CSEG_ENOMEM, r->path, 0, 0, "out of memory");
                fail(r, CSEG_ENOMEM, 0);
                ok = 0;
                break;
            }
            r->key = k;
            r->key_cap = (size_t)(end - s) + 1;
        }
        size_t kn = id_key(s, end, r->jc, r->delim, r->key);
        int owner = (int)(cseg__hash(r->key, kn, 0x637573747365ULL) % (uint64_t)np);
        r->lstart[nl] = (size_t)(s - b);
        r->lend[nl] = (size_t)(end - b);
        r->lowner[nl] = owner;
        r->lnum[nl] = line;
        scount[owner] += (int)(end - s) + 1; /* the line end added when missing */
        sl[owner]++;
        nl++;
        s = le ? le + 1 : e;
    }
    if (!ok) { /* send nothing; still take part */
        nl = 0;
        memset(scount, 0, (size_t)np * sizeof *scount);
        memset(sl, 0, (size_t)np * sizeof *sl);
    }
    /* Lay the lines out by destination. */
    size_t *at = malloc((size_t)np * 2 * sizeof *at), *lat = at ? at + np : NULL;
    int *sd = malloc((size_t)np * 2 * sizeof *sd), *sld = sd ? sd + np : NULL;
    size_t total = 0, tlines = 0;
    for (int k = 0; k < np; k++) {
        total += (size_t)scount[k];
        tlines += (size_t)sl[k];
    }
    r->text.n = 0;
    r->sent_lines.n = 0;
    if (!at || !sd || gb_room(&r->text, total) < 0 ||
        gb_room(&r->sent_lines, tlines * sizeof(int64_t)) < 0) {
        MPI_Abort(r->comm, 3); /* cannot take part in the exchange */
        return CSEG_ENOMEM;
    }
    int64_t *lines = (int64_t *)(void *)r->sent_lines.b;
    for (int k = 0, o = 0, lo = 0; k < np; k++) {
        sd[k] = o;
        sld[k] = lo;
        at[k] = (size_t)o;
        lat[k] = (size_t)lo;
        o += scount[k];
        lo += sl[k];
    }
    for (size_t i = 0; i < nl; i++) {
        int k = r->lowner[i];
        size_t len = r->lend[i] - r->lstart[i];
        memcpy(r->text.b + at[k], b + r->lstart[i], len);
        r->text.b[at[k] + len] = '\n';
        at[k] += len + 1;
        lines[lat[k]++] = r->lnum[i];
    }
    r->rounds++;
    r->lines += nl;
    for (int k = 0; k < np; k++)
        r->moved += k == r->rank ? 0 : (uint64_t)scount[k];
    MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, r->comm);
    MPI_Alltoall(sl, 1, MPI_INT, rl, 1, MPI_INT, r->comm);
    /* The round's lines into one block, sender after sender, point to
     * point (no displacement has to fit an int); kept until the end. A rank
     * short of memory cannot take part: MPI aborts the job. */
    if (r->n_got == r->got_cap) {
        size_t nc = r->got_cap ? 2 * r->got_cap : 64;
        struct rround *ng = realloc(r->got, nc * sizeof *ng);
        if (!ng)
            MPI_Abort(r->comm, 3);
        r->got = ng;
        r->got_cap = nc;
    }
    struct rround *g = &r->got[r->n_got++];
    size_t rtotal = 0, rlines = 0;
    for (int k = 0; k < np; k++) {
        rtotal += (size_t)rcount[k];
        rlines += (size_t)rl[k];
    }
    g->text = alloc_present(rtotal);
    g->lines = alloc_present(rlines * sizeof *g->lines);
    g->count = malloc((size_t)np * 2 * sizeof *g->count);
    g->off = malloc((size_t)np * 2 * sizeof *g->off);
    MPI_Request *req = malloc((size_t)np * 4 * sizeof *req);
    if (!g->text || !g->lines || !g->count || !g->off || !req)
        MPI_Abort(r->comm, 3);
    g->nlines = g->count + np;
    g->loff = g->off + np;
    int nr = 0;
    for (int k = 0, o = 0, lo = 0; k < np; k++) {
        g->count[k] = rcount[k];
        g->nlines[k] = rl[k];
        g->off[k] = (size_t)o;
        g->loff[k] = (size_t)lo;
        if (rcount[k])
            MPI_Irecv(g->text + o, rcount[k], MPI_CHAR, k, 1, r->comm, &req[nr++]);
        if (rl[k])
            MPI_Irecv(g->lines + lo, rl[k], MPI_INT64_T, k, 2, r->comm, &req[nr++]);
        o += rcount[k];
        lo += rl[k];
    }
    for (int k = 0; k < np; k++) {
        if (scount[k])
            MPI_Isend(r->text.b + sd[k], scount[k], MPI_CHAR, k, 1, r->comm, &req[nr++]);
        if (sl[k])
            MPI_Isend(lines + sld[k], sl[k], MPI_INT64_T, k, 2, r->comm, &req[nr++]);
    }
    MPI_Waitall(nr, req, MPI_STATUSES_IGNORE);
    free(req);
    free(at);
    free(sd);
    free(scount);
    return 0;
}

/* Input bytes a rank routes per round: a round's text for one rank must fit
 * an int (MPI counts), all of it with room to spare. */
static size_t round_bytes(int np)
{
    size_t r = ((size_t)1 << 30) / (2 * (size_t)np);
    if (r > ((size_t)16 << 20))
        r = (size_t)16 << 20;
    return r < ((size_t)64 << 10) ? (size_t)64 << 10 : r;
}

/* Every rank takes part in rounds until no rank has lines left. */
static int more_rounds(MPI_Comm comm, int mine)
{
    int any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_LOR, comm);
    return any;
}

/* The data lines of a plain file, a byte range a rank. */
static void route_plain(router *r, const char *map, size_t size, size_t hdr_end)
{
    if (!map) { /* an empty file: no lines, but every round taken part in */
        int64_t none = 0, before;
        MPI_Exscan(&none, &before, 1, MPI_INT64_T, MPI_SUM, r->comm);
        route_round(r, NULL, NULL, 2);
        more_rounds(r->comm, 0);
        return;
    }
    size_t data = size - hdr_end, np = (size_t)r->np, rk = (size_t)r->rank;
    size_t s = hdr_end + data / np * rk + (rk < data % np ? rk : data % np);
    size_t e = hdr_end + data / np * (rk + 1) + (rk + 1 < data % np ? rk + 1 : data % np);
    /* A range holds the lines that start in it. */
    if (rk > 0)
        while (s < size && map[s - 1] != '\n')
            s++;
    if (rk + 1 < np)
        while (e < size && map[e - 1] != '\n')
            e++;
    else
        e = size;
    if (s > e)
        s = e;
    /* The range's pages in one call rather than a fault each (4 KiB: a
     * quarter of a million faults a GB, dear in a VM). */
#ifdef MADV_POPULATE_READ
    {
        size_t pg = (size_t)sysconf(_SC_PAGESIZE), a0 = s / pg * pg;
        if (e > a0 && madvise((char *)map + a0, e - a0, MADV_POPULATE_READ) != 0)
            madvise((char *)map + a0, e - a0, MADV_WILLNEED);
    }
#endif
    /* The first line's number: the lines of the ranges before. */
    int64_t before = 0, mine = 0;
    for (const char *p = map + s; (p = memchr(p, '\n', (size_t)(map + e - p))) != NULL; p++)
        mine++;
    MPI_Exscan(&mine, &before, 1, MPI_INT64_T, MPI_SUM, r->comm);
    if (r->rank == 0)
        before = 0;
    int64_t line = 2 + before; /* line 1 is the header */
    size_t step = round_bytes(r->np), at = s;
    for (;;) {
        size_t stop = at + step < e ? at + step : e;
        while (stop < e && map[stop - 1] != '\n')
            stop++;
        int64_t n = 0;
        for (const char *p = map + at; (p = memchr(p, '\n', (size_t)(map + stop - p))) != NULL; p++)
            n++;
        route_round(r, map + at, map + stop, line);
        line += n;
        at = stop;
        if (!more_rounds(r->comm, at < e && r->rc == 0))
            break;
    }
}

/* A gzip file: rank 0 inflates it (zlib, a round at a time) and routes its
 * lines; the others take part in the rounds with nothing to send. */
static void route_gzip(router *r)
{
    gzFile gz = NULL;
    char *buf = NULL;
    size_t step = round_bytes(r->np), have = 0, cap = 2 * step;
    int64_t line = 2;
    int more = 0, header = 1;
    if (r->rank == 0) {
        if (!(gz = gzopen(r->path, "rb"))) {
            cseg__diag(&r->err, CSEG_EIO, r->path, 0, 0, "cannot open file");
            fail(r, CSEG_EIO, 0);
        } else if (!(buf = malloc(cap))) {
            cseg__diag(&r->err, CSEG_ENOMEM, r->path, 0, 0, "out of memory");
            fail(r, CSEG_ENOMEM, 0);
        } else {
            gzbuffer(gz, 1u << 18);
            more = 1;
        }
    }
    for (;;) {
        const char *b = buf, *e = buf;
        while (more && r->rc == 0 && have < step) {
            int g = gzread(gz, buf + have, (unsigned)(cap - have));
            int zerr = 0;
            const char *zmsg = gzerror(gz, &zerr);
            if (g < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
                cseg__diag(&r->err, CSEG_EIO, r->path, 0, 0, "read error: %s",
                           zerr == Z_BUF_ERROR ? "compressed data is truncated" : zmsg);
                fail(r, CSEG_EIO, 0);
                more = 0;
            } else if (g == 0) {
                more = 0;
            } else {
                have += (size_t)g;
            }
        }
        if (r->rc == 0 && buf) {
            size_t cut = have;
            if (more) /* whole lines only, until the end */
                while (cut > 0 && buf[cut - 1] != '\n')
                    cut--;
            if (more && cut == 0) { /* a line longer than the buffer */
                char *nb = realloc(buf, 2 * cap);
                if (!nb) {
                    cseg__diag(&r->err, CSEG_ENOMEM, r->path, 0, 0, "out of memory");
                    fail(r, CSEG_ENOMEM, 0);
                } else {
                    buf = nb;
                    cap *= 2;
                    step = cap / 2;
                }
            }
            b = buf;
            e = buf + cut;
            if (header && e > b) { /* skip line 1 */
                const char *nl = memchr(b, '\n', (size_t)(e - b));
                b = nl ? nl + 1 : e;
                header = 0;
            }
        }
        int64_t n = 0;
        for (const char *p = b; p && (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
            n++;
        route_round(r, b, e, line);
        line += n;
        if (buf && e > buf) {
            have -= (size_t)(e - buf);
            memmove(buf, e, have);
        }
        if (!more_rounds(r->comm, (more || have > 0) && r->rc == 0))
            break;
    }
    if (gz)
        gzclose(gz);
    free(buf);
}

/* The end of a header line starting at map (the offset after its line end). */
static size_t header_end(const char *map, size_t size)
{
    const char *nl = memchr(map, '\n', size);
    return nl ? (size_t)(nl - map) + 1 : size;
}

/* The global line numbers of this rank's lines in the log's order (sender
 * by sender, each sender's rounds in order): the order they are read in. */
static int64_t *glines(const router *r, size_t *n_gl)
{
    size_t nl = 0, at = 0;
    for (size_t g = 0; g < r->n_got; g++)
        for (int k = 0; k < r->np; k++)
            nl += (size_t)r->got[g].nlines[k];
    int64_t *gl = alloc_present((nl ? nl : 1) * sizeof *gl);
    if (!gl)
        return NULL;
    for (int k = 0; k < r->np; k++)
        for (size_t g = 0; g < r->n_got; g++) {
            const struct rround *x = &r->got[g];
            memcpy(gl + at, x->lines + x->loff[k], (size_t)x->nlines[k] * sizeof *gl);
            at += (size_t)x->nlines[k];
        }
    *n_gl = nl;
    return gl;
}

/* The CSV text of this rank's lines for the chunked reader
 * (cseg_read_fn): the header, then the rounds' blocks sender by sender, in
 * place (a block is read where it arrived). */
typedef struct segread {
    const router *r;
    const char *hdr;
    size_t hdr_len;
    int k;      /* -1: the header; np: the end */
    size_t g, off;
} segread;

static long seg_read(void *user, void *buf, size_t size)
{
    segread *s = user;
    char *o = buf;
    size_t n = 0;
    while (n < size && s->k < s->r->np) {
        const char *src;
        size_t len;
        if (s->k < 0) {
            src = s->hdr;
            len = s->hdr_len;
        } else if (s->g < s->r->n_got) {
            const struct rround *x = &s->r->got[s->g];
            src = x->text + x->off[s->k];
            len = (size_t)x->count[s->k];
        } else {
            src = NULL;
            len = 0;
        }
        if (s->off < len) {
            size_t m = len - s->off < size - n ? len - s->off : size - n;
            memcpy(o + n, src + s->off, m);
            s->off += m;
            n += m;
            continue;
        }
        s->off = 0;
        if (s->k < 0 || ++s->g >= s->r->n_got) {
            s->k++;
            s->g = 0;
        }
    }
    return (long)n;
}

/* A chunk of this rank's rows: each attribute level's first global line,
 * then the rows into the customers' state. */
typedef struct owner {
    cseg__rfm_acc *acc;
    const cseg_txn_roles *roles;
    cseg_diag *d;
    const int64_t *gl;
    size_t n_gl;
    int64_t *lkey[CSEG_ATTRIBUTES_MAX];
    size_t lcap[CSEG_ATTRIBUTES_MAX];
    int reread; /* read a second time with every row kept */
} owner;

static int level_keys_room(owner *o, size_t a, size_t nl)
{
    if (nl <= o->lcap[a])
        return 0;
    size_t nc = o->lcap[a] ? o->lcap[a] : 64;
    while (nc < nl)
        nc *= 2;
    int64_t *nk = realloc(o->lkey[a], nc * sizeof *nk);
    if (!nk)
        return CSEG_ENOMEM;
    for (size_t l = o->lcap[a]; l < nc; l++)
        nk[l] = INT64_MAX;
    o->lkey[a] = nk;
    o->lcap[a] = nc;
    return 0;
}

static int owner_chunk(const cseg_table *c, void *user)
{
    owner *o = user;
    size_t n = cseg_table_n_rows(c);
    for (size_t a = 0; a < o->roles->n_attributes; a++) {
        long j = cseg_table_find(c, o->roles->attributes[a]);
        if (j < 0)
            continue;
        if (level_keys_room(o, a, cseg_table_n_levels(c, (size_t)j)) < 0)
            return cseg__diag(o->d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        const int32_t *lv = cseg_table_codes(c, (size_t)j);
        for (size_t i = 0; i < n; i++) {
            long l = cseg_table_row_line(c, i);
            int64_t at = l >= 2 && (size_t)(l - 2) < o->n_gl ? o->gl[l - 2] : INT64_MAX;
            if (lv[i] >= 0 && at < o->lkey[a][lv[i]])
                o->lkey[a][lv[i]] = at;
        }
    }
    return cseg__rfm_acc_add(o->acc, c, o->roles, NULL, NULL, NULL, o->d);
}

/* This rank's lines read a chunk at a time into *acc (dictionaries in
 * *dict): the rule of cseg_rfm_compute_csv, a window for duplicates and a
 * second reading with every row kept when the window cannot judge. */
static int read_owned(const router *r, const char *hdr, size_t hdr_len, const char *path,
                      const cseg_table_read_params *tp, const cseg_rfm_params *p, owner *o,
                      cseg_table **dict, cseg_diag *d)
{
    int rc = 0;
    for (int full = 0; full < 2; full++) {
        o->reread = full;
        segread sr = {r, hdr, hdr_len, -1, 0, 0};
        if ((rc = cseg__rfm_acc_create(&o->acc, p, full, 0)) < 0)
            return cseg__diag(d, rc, path, 0, 0, "out of memory");
        rc = cseg__table_read_chunks_from(seg_read, &sr, path, tp, owner_chunk, o, dict, d);
        if (rc == CSEG_ECANCELED && cseg__rfm_acc_restart(o->acc) && !full) {
            cseg__rfm_acc_free(o->acc);
            o->acc = NULL;
            cseg_table_free(*dict);
            *dict = NULL;
            for (size_t a = 0; a < CSEG_ATTRIBUTES_MAX; a++)
                for (size_t l = 0; l < o->lcap[a]; l++)
                    o->lkey[a][l] = INT64_MAX;
            continue;
        }
        break;
    }
    return rc;
}

static void free_rounds(router *r)
{
    for (size_t g = 0; g < r->n_got; g++) {
        free(r->got[g].text);
        free(r->got[g].lines);
        free(r->got[g].count);
        free(r->got[g].off);
    }
    free(r->got);
    r->got = NULL;
    r->n_got = r->got_cap = 0;
}

/* Send rank `from`'s part to rank 0 in pieces an int can count. */
#define PIECE ((size_t)1 << 30)

static void send_part(MPI_Comm comm, const char *b, uint64_t n)
{
    for (uint64_t o = 0; o < n; o += PIECE) {
        uint64_t k = n - o < PIECE ? n - o : PIECE;
        MPI_Send(b + o, (int)k, MPI_BYTE, 0, 7, comm);
    }
}

static void recv_part(MPI_Comm comm, int from, char *b, uint64_t n)
{
    for (uint64_t o = 0; o < n; o += PIECE) {
        uint64_t k = n - o < PIECE ? n - o : PIECE;
        MPI_Recv(b + o, (int)k, MPI_BYTE, from, 7, comm, MPI_STATUS_IGNORE);
    }
}

/* The first line of a gzip file (at most max bytes), for the other ranks. */
static size_t gzip_header(const char *path, char *buf, size_t max)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return 0;
    int n = gzread(gz, buf, (unsigned)max);
    gzclose(gz);
    return n > 0 ? header_end(buf, (size_t)n) : 0;
}

#define HEADER_MAX ((size_t)1 << 20)

int cseg_mpi_rfm_compute_csv(MPI_Comm comm, cseg_table **customers, const char *path,
                             cseg_txn_roles *roles, const cseg_table_read_params *rp,
                             const cseg_rfm_params *p, cseg_quality *qout,
                             cseg_mpi_stats *stats, cseg_diag *diag)
{
    cseg_rfm_params defaults;
    cseg_table_read_params tp;
    cseg_colspec specs[7 + CSEG_ATTRIBUTES_MAX];
    cseg_diag d;
    cseg_quality q;
    router r;
    int np, rank, rc = 0;
    int64_t key = 0;
    char *map = NULL, *hdr = NULL;
    size_t size = 0;
    uint64_t hdr_len = 0;
    int gzip = 0;
    int64_t *gl = NULL;
    size_t n_gl = 0;
    cseg_table *t = NULL;
    cseg__rfm_acc *acc = NULL;
    char *part = NULL, **parts = NULL;
    size_t part_len = 0, *lens = NULL;
    double tm[6] = {0}; /* route, read, features, gather, assemble: ends; tm[0] the start */
    *customers = NULL;
    if (stats)
        memset(stats, 0, sizeof *stats);
    cseg_diag_clear(&d);
    memset(&q, 0, sizeof q);
    memset(&r, 0, sizeof r);
    MPI_Comm_size(comm, &np);
    MPI_Comm_rank(comm, &rank);
    if (!p) {
        cseg_rfm_params_init(&defaults);
        p = &defaults;
    }
    /* Every rank reads the header (roles, delimiter, column types) and
     * finds the customer column among the file's columns. */
    if (p->clv.enabled)
        rc = cseg__diag(&d, CSEG_EINVAL, path, 0, 0,
                        "lifetime value needs every row: read the log with cseg_txn_read");
    else
        rc = cseg__txn_read_params(path, roles, rp, &tp, specs, &d);
    if (rc == 0) {
        cseg_csv *csv = NULL;
        if ((rc = cseg_csv_open(&csv, path, &tp.csv, &d)) == 0) {
            size_t nc = cseg_csv_n_columns(csv);
            r.jc = nc;
            for (size_t j = 0; j < nc && r.jc == nc; j++)
                if (strcmp(cseg_csv_column_name(csv, j), roles->customer) == 0)
                    r.jc = j;
            cseg_csv_close(csv);
        }
    }
    /* The file's bytes: a plain file mapped; a gzip file read by rank 0. */
    if (rc == 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        unsigned char m2[2] = {0, 0};
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
            rc = cseg__diag(&d, CSEG_EIO, path, 0, 0, "cannot open the file (a regular file)");
        else if (pread(fd, m2, 2, 0) == 2 && m2[0] == 0x1f && m2[1] == 0x8b)
            gzip = 1;
        else if ((size = (size_t)st.st_size) > 0 &&
                 (map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
            map = NULL;
            rc = cseg__diag(&d, CSEG_EIO, path, 0, 0, "cannot map the file");
        }
        if (fd >= 0)
            close(fd);
    }
    if ((rc = agree(comm, rc, 0, &d)) < 0)
        goto out;
    /* Rank 0's header line, the start of every rank's text. */
    if (!(hdr = malloc(HEADER_MAX + 1)))
        MPI_Abort(comm, 3);
    if (rank == 0)
        hdr_len = gzip ? gzip_header(path, hdr, HEADER_MAX)
                       : (uint64_t)(map ? header_end(map, size < HEADER_MAX ? size : HEADER_MAX) : 0);
    if (rank == 0 && !gzip && map)
        memcpy(hdr, map, (size_t)hdr_len);
    MPI_Bcast(&hdr_len, 1, MPI_UINT64_T, 0, comm);
    MPI_Bcast(hdr, (int)hdr_len, MPI_BYTE, 0, comm);
    /* Every data line to its customer's rank. */
    tm[0] = MPI_Wtime();
    r.comm = comm;
    r.np = np;
    r.rank = rank;
    r.delim = tp.csv.delimiter;
    r.path = path;
    if (gzip)
        route_gzip(&r);
    else
        route_plain(&r, map, size, (size_t)hdr_len);
    if (map)
        munmap(map, size);
    map = NULL;
    tm[1] = MPI_Wtime();
    rc = r.rc;
    key = r.err_key;
    if (rc < 0)
        d = r.err;
    /* This rank's lines, read a chunk at a time as a log of their own; its
     * line numbers are the log's. */
    owner own;
    memset(&own, 0, sizeof own);
    own.roles = roles;
    own.d = &d;
    if (rc == 0 && !(gl = glines(&r, &n_gl))) {
        rc = cseg__diag(&d, CSEG_ENOMEM, path, 0, 0, "out of memory");
        key = 0;
    }
    if (rc == 0) {
        own.gl = gl;
        own.n_gl = n_gl;
        tp.progress = NULL;
        rc = read_owned(&r, hdr, (size_t)hdr_len, path, &tp, p, &own, &t, &d);
        acc = own.acc;
        key = 0;
        if (rc < 0 && d.line >= 2 && (size_t)(d.line - 2) < n_gl)
            key = d.line = (long)gl[d.line - 2];
        else if (rc < 0 && d.line == 1)
            key = 1;
    }
    free_rounds(&r);
    tm[2] = MPI_Wtime();
    if ((rc = agree(comm, rc, key, &d)) < 0) {
        for (size_t a = 0; a < CSEG_ATTRIBUTES_MAX; a++)
            free(own.lkey[a]);
        goto out;
    }
    /* The latest day of all, then each rank's customers as a part. */
    int64_t max_day = cseg__rfm_acc_max_day(acc), all_max;
    MPI_Allreduce(&max_day, &all_max, 1, MPI_INT64_T, MPI_MAX, comm);
    for (size_t a = 0; a < roles->n_attributes && rc == 0; a++) {
        long j = cseg_table_find(t, roles->attributes[a]);
        if (j >= 0 && level_keys_room(&own, a, cseg_table_n_levels(t, (size_t)j)) < 0)
            rc = cseg__diag(&d, CSEG_ENOMEM, path, 0, 0, "out of memory");
    }
    if (rc == 0)
        rc = cseg__rfm_acc_part(acc, t, roles, all_max, (const int64_t *const *)own.lkey, &part,
                                &part_len, NULL, &d);
    for (size_t a = 0; a < CSEG_ATTRIBUTES_MAX; a++)
        free(own.lkey[a]);
    cseg__rfm_acc_free(acc);
    acc = NULL;
    cseg_table_free(t);
    t = NULL;
    if ((rc = agree(comm, rc, 0, &d)) < 0)
        goto out;
    /* Rank 0 gathers the parts and assembles the customers. */
    tm[3] = MPI_Wtime();
    uint64_t mine = part_len, *all = rank == 0 ? calloc((size_t)np, sizeof *all) : NULL;
    if (rank == 0 && !all)
        MPI_Abort(comm, 3);
    MPI_Gather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, 0, comm);
    if (rank == 0) {
        parts = calloc((size_t)np, sizeof *parts);
        lens = calloc((size_t)np, sizeof *lens);
        if (!parts || !lens)
            MPI_Abort(comm, 3);
        parts[0] = part;
        lens[0] = part_len;
        part = NULL;
        for (int k = 1; k < np; k++) {
            if (!(parts[k] = malloc(all[k] ? (size_t)all[k] : 1)))
                MPI_Abort(comm, 3);
            lens[k] = (size_t)all[k];
            recv_part(comm, k, parts[k], all[k]);
        }
        tm[4] = MPI_Wtime();
        rc = cseg__rfm_assemble((const char *const *)parts, lens, (size_t)np, p, roles, customers,
                                &q, NULL, &d);
    } else {
        send_part(comm, part, mine);
        tm[4] = MPI_Wtime();
    }
    tm[5] = MPI_Wtime();
    free(all);
    if ((rc = agree(comm, rc, 0, &d)) < 0) {
        cseg_table_free(*customers);
        *customers = NULL;
    }
    MPI_Bcast(&q, (int)sizeof q, MPI_BYTE, 0, comm);
    if (stats) {
        double span[5], slow[5];
        uint64_t cnt[5] = {r.rounds, r.lines, r.moved, rank == 0 ? 0 : mine, (uint64_t)own.reread};
        uint64_t sum[5];
        for (int k = 0; k < 5; k++)
            span[k] = tm[k + 1] - tm[k];
        MPI_Allreduce(span, slow, 5, MPI_DOUBLE, MPI_MAX, comm);
        MPI_Allreduce(cnt, sum, 5, MPI_UINT64_T, MPI_SUM, comm);
        stats->processes = np;
        stats->rounds = r.rounds; /* the same on every rank */
        stats->lines = sum[1];
        stats->bytes_moved = sum[2];
        stats->part_bytes = sum[3];
        stats->reread = (int)sum[4];
        stats->route_seconds = slow[0];
        stats->read_seconds = slow[1];
        stats->features_seconds = slow[2];
        stats->gather_seconds = slow[3];
        stats->assemble_seconds = slow[4];
    }
out:
    if (map)
        munmap(map, size);
    for (int k = 0; parts && k < np; k++)
        free(parts[k]);
    free(parts);
    free(lens);
    free(part);
    free(gl);
    free(hdr);
    cseg_table_free(t);
    cseg__rfm_acc_free(acc);
    free_rounds(&r);
    free(r.text.b);
    free(r.sent_lines.b);
    free(r.lstart);
    free(r.lend);
    free(r.lowner);
    free(r.lnum);
    free(r.key);
    if (diag)
        *diag = d;
    if (qout)
        *qout = q;
    return rc;
}
