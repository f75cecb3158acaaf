/* custseg — a transaction log's customers built by many MPI ranks
 * (cseg_mpi_rfm_compute_csv; built with -DCSEG_MPI=ON).
 *
 * The log is taken in order in rounds: round g is the next np x B bytes of
 * data lines (B = round_bytes()), rank k reading the k-th B of them (moved
 * to line starts; a .gz file is inflated by rank 0 alone, which sends every
 * line on). In each round every line goes to the rank that
 * owns its customer (a hash of the id, as the reader will normalise it:
 * quotes, spaces and a ".0" tail dropped), point to point after an
 * MPI_Alltoall of the counts, its global line number alongside. A rank thus
 * holds all the lines of its customers; read round by round and, within a
 * round, sender by sender, they are in the log's order, so a customer's sums
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
 * Memory per rank: the rounds it received and has not read yet (a round
 * is about B bytes a rank, read as soon as it arrives and let go once its
 * chunks are read), 8 bytes a row of them for line numbers, and its
 * customers' state; rank 0 also the parts and the customer table. A second
 * reading (the duplicate window could not judge) routes the log again.
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
#include "internal.h"

/* ---- agreement: every rank learns the first failure ---- */

int cseg__mpi_first(MPI_Comm comm, int64_t key)
{
    int64_t low;
    MPI_Allreduce(&key, &low, 1, MPI_INT64_T, MPI_MIN, comm);
    if (low == INT64_MAX)
        return -1;
    int rank, who, first;
    MPI_Comm_rank(comm, &rank);
    who = key == low ? rank : INT_MAX;
    MPI_Allreduce(&who, &first, 1, MPI_INT, MPI_MIN, comm);
    return first;
}

int cseg__mpi_agree(MPI_Comm comm, int rc, int64_t key, cseg_diag *d)
{
    int first = cseg__mpi_first(comm, rc < 0 ? key : INT64_MAX);
    if (first < 0)
        return 0;
    int code = rc;
    MPI_Bcast(&code, 1, MPI_INT, first, comm);
    MPI_Bcast(d, (int)sizeof *d, MPI_BYTE, first, comm);
    return code;
}

#define agree cseg__mpi_agree

/* ---- the input ---- */

int cseg__mpi_map(const char *path, char **map, size_t *size, int *gzip, cseg_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    struct stat st;
    unsigned char m2[2] = {0, 0};
    *map = NULL;
    *size = 0;
    *gzip = 0;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        rc = cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open the file (a regular file)");
    else if (pread(fd, m2, 2, 0) == 2 && m2[0] == 0x1f && m2[1] == 0x8b)
        *gzip = 1;
    else if ((*size = (size_t)st.st_size) > 0 &&
             (*map = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
        *map = NULL;
        rc = cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot map the file");
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- memory ---- */

/* n bytes of their own mapping, its pages made present in one call: a
 * buffer that MPI then fills would otherwise take a page fault every 4 KiB
 * (a quarter of a million a GB, each dear in a VM), and let go with
 * free_present the memory goes back at once, not into a heap that rounds of
 * slightly different sizes would leave full of holes. */
static void *alloc_present(size_t n)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE;
#endif
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void free_present(void *p, size_t n)
{
    if (p)
        munmap(p, n ? n : 1);
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
    const char *v = buf;
    cseg__id_normalize(&v, &n);
    memmove(buf, v, n);
    return n;
}

typedef struct router {
    MPI_Comm comm;
    int np, rank;
    size_t jc;  /* the customer column */
    char delim;
    const char *path;
    /* sending, per round */
    cseg__buf text;       /* the round's lines, by destination */
    cseg__buf sent_lines; /* their global line numbers (int64_t) */
    size_t *lstart, *lend, lcap; /* the round's lines: where */
    int *lowner;
    int64_t *lnum;
    char *key;
    size_t key_cap;
    /* receiving: each round's lines for this rank, in the log's order; the
     * text of one round at a time (in recv: a round is read before the next
     * is received) */
    cseg__buf recv;
    struct rround {
        char *text;     /* in recv; NULL once read */
        size_t len;
        int64_t *lines; /* each line's number in the log; NULL once not needed */
        size_t nl;
        int64_t line0;  /* the first line's number in this rank's text (header: 1) */
    } *got;
    size_t n_got, got_cap, head; /* rounds before head are read */
    int64_t next_line0;
    uint64_t rounds, lines, moved;
    double route_seconds;
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

/* A carriage return in the line [s, end) (its \n left out) that does not
 * end it: the one-process reader counts it as a line end (a log from an old
 * Mac, a field with one inside), the ranks split the log at \n alone, so
 * their line numbers, and a header taken up to the first \n, would go wrong.
 * NULL when there is none. */
static const char *bare_cr(const char *s, const char *end)
{
    const char *cr = end > s ? memchr(s, '\r', (size_t)(end - s) - 1) : NULL;
    return cr;
}

#define BARE_CR_MSG                                                                                \
    "a carriage return that does not end a line with a line feed: not supported when several "     \
    "processes read the log (convert the line ends, e.g. tr '\\r' '\\n', or read it as one "       \
    "process)"

/* Route the whole lines in [b, e) (the last may lack its line end), the
 * first of them line `line`, in one round with every rank. */
static int route_round(router *r, const char *b, const char *e, int64_t line)
{
    int np = r->np;
    size_t nl = 0;
    int ok = 1; /* [b, e) is what this rank may still send (round_step) */
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
        const char *cr = bare_cr(s, end);
        if (cr) {
            cseg__diag(&r->err, CSEG_EPARSE, r->path, (long)line, (long)(cr - s) + 1, BARE_CR_MSG);
            fail(r, CSEG_EPARSE, line);
            ok = 0;
            break;
        }
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
        /* A line without a customer has nobody's state to meet: spread by
         * its line (a fifth of Online Retail's lines would load one rank). */
        int owner = kn ? (int)(cseg__hash(r->key, kn, 0x637573747365ULL) % (uint64_t)np)
                       : (int)((uint64_t)line % (uint64_t)np);
        r->lstart[nl] = (size_t)(s - b);
        r->lend[nl] = (size_t)(end - b);
        r->lowner[nl] = owner;
        r->lnum[nl] = line;
        scount[owner] += (int)(end - s) + 1; /* the line end added when missing */
        sl[owner]++;
        nl++;
        s = le ? le + 1 : e;
    }
    /* After a failure the lines before it still go (nl of them; none after
     * it): a bad row before it is the first failure of the log, as one
     * process reading it in order finds. */
    /* Lay the lines out by destination. */
    size_t *at = malloc((size_t)np * 2 * sizeof *at), *lat = at ? at + np : NULL;
    int *sd = malloc((size_t)np * 2 * sizeof *sd), *sld = sd ? sd + np : NULL;
    size_t total = 0, tlines = 0;
    for (int k = 0; k < np; k++) {
        total += (size_t)scount[k];
        tlines += (size_t)sl[k];
    }
    r->text.len = 0;
    r->sent_lines.len = 0;
    if (!at || !sd || cseg__buf_room(&r->text, total) < 0 ||
        cseg__buf_room(&r->sent_lines, tlines * sizeof(int64_t)) < 0) {
        MPI_Abort(r->comm, 3); /* cannot take part in the exchange */
        return CSEG_ENOMEM;
    }
    int64_t *lines = (int64_t *)(void *)r->sent_lines.p;
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
        memcpy(r->text.p + at[k], b + r->lstart[i], len);
        r->text.p[at[k] + len] = '\n';
        at[k] += len + 1;
        lines[lat[k]++] = r->lnum[i];
    }
    r->rounds++;
    r->lines += nl;
    for (int k = 0; k < np; k++)
        r->moved += k == r->rank ? 0 : (uint64_t)scount[k];
    MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, r->comm);
    MPI_Alltoall(sl, 1, MPI_INT, rl, 1, MPI_INT, r->comm);
    /* The round's lines into one block, sender after sender (the log's
     * order), point to point (no displacement has to fit an int). A rank
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
    r->recv.len = 0;
    if (cseg__buf_room(&r->recv, rtotal) < 0)
        MPI_Abort(r->comm, 3);
    g->text = r->recv.p;
    g->lines = alloc_present(rlines * sizeof *g->lines);
    g->len = rtotal;
    g->nl = rlines;
    g->line0 = r->next_line0;
    r->next_line0 += (int64_t)rlines;
    MPI_Request *req = malloc((size_t)np * 4 * sizeof *req);
    /* A round may bring this rank nothing (a small log, a failed sender):
     * then recv may never have been allocated, and that is no shortage. */
    if ((rtotal && !g->text) || !g->lines || !req)
        MPI_Abort(r->comm, 3);
    int nr = 0;
    for (int k = 0, o = 0, lo = 0; k < np; k++) {
        if (rcount[k])
            MPI_Irecv(g->text + o, rcount[k], MPI_CHAR, k, 1, r->comm, &req[nr++]);
        if (rl[k])
            MPI_Irecv(g->lines + lo, rl[k], MPI_INT64_T, k, 2, r->comm, &req[nr++]);
        o += rcount[k];
        lo += rl[k];
    }
    for (int k = 0; k < np; k++) {
        if (scount[k])
            MPI_Isend(r->text.p + sd[k], scount[k], MPI_CHAR, k, 1, r->comm, &req[nr++]);
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

/* The end of a header line starting at map (the offset after its line end). */
static size_t header_end(const char *map, size_t size)
{
    const char *nl = memchr(map, '\n', size);
    return nl ? (size_t)(nl - map) + 1 : size;
}

/* ---- the input, a round at a time ----
 *
 * Round g covers the next np x B bytes of the log's data (B: round_bytes),
 * rank k taking the k-th B bytes of it, both ends moved to line starts: a
 * round's lines, received sender after sender, are in the log's order, and
 * so are the rounds. A rank reads its lines as they arrive and lets each
 * round's block go, so its memory is a round and its customers, not its
 * share of the rows. A .gz file: rank 0 inflates B bytes a round and the
 * others send nothing. */
typedef struct source {
    int gzip;
    const char *path;
    const char *map; /* plain: the file */
    size_t size, hdr_end, at; /* at: the next round's start */
    gzFile gz;       /* gzip, rank 0 */
    char *buf;
    size_t have, cap;
    int eof, header;
    int cut_short;   /* eof by a read error: the lines before it only */
    int64_t line;    /* the next round's first line in the log */
    int more;        /* another round follows (the same on every rank) */
} source;

/* The first line start at or after x. */
static size_t line_start(const source *s, size_t x)
{
    if (x <= s->hdr_end)
        return s->hdr_end;
    if (x >= s->size)
        return s->size;
    const char *nl = memchr(s->map + x - 1, '\n', s->size - (x - 1));
    return nl ? (size_t)(nl - s->map) + 1 : s->size;
}

static void source_rewind(source *s, router *r)
{
    s->at = s->hdr_end;
    s->line = 2;
    s->more = 1;
    s->have = 0;
    s->eof = 0;
    s->header = 1;
    if (s->gz)
        gzclose(s->gz);
    s->gz = NULL;
    if (s->gzip && r->rank == 0 && r->rc == 0) {
        if (!(s->gz = gzopen(s->path, "rb"))) {
            cseg__diag(&r->err, CSEG_EIO, s->path, 0, 0, "cannot open file");
            fail(r, CSEG_EIO, 0);
        } else {
            gzbuffer(s->gz, 1u << 18);
        }
    }
}

/* This rank's piece of the next round of a gzip file (rank 0): whole lines
 * inflated into s->buf, at most about B bytes. */
static void gzip_piece(router *r, source *s, size_t B, const char **b, const char **e)
{
    if (!s->buf || s->cap < 2 * B) {
        char *nb = realloc(s->buf, 2 * B);
        if (!nb) {
            cseg__diag(&r->err, CSEG_ENOMEM, s->path, 0, 0, "out of memory");
            fail(r, CSEG_ENOMEM, 0);
            return;
        }
        s->buf = nb;
        s->cap = 2 * B;
    }
    while (!s->eof && s->have < s->cap / 2) {
        int g = gzread(s->gz, s->buf + s->have, (unsigned)(s->cap - s->have));
        int zerr = 0;
        const char *zmsg = gzerror(s->gz, &zerr);
        if (g > 0 && zerr != Z_OK && zerr != Z_STREAM_END)
            s->have += (size_t)g; /* what inflated before the error, in one call with it */
        if (g < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
            cseg__diag(&r->err, CSEG_EIO, s->path, 0, 0, "read error: %s",
                       zerr == Z_BUF_ERROR ? "compressed data is truncated" : zmsg);
            /* Ordered where the data stops, after the lines before it: a
             * bad row among them is the log's first failure, as one process
             * reading it in order finds (a key of 0 beat every row). */
            int64_t at = s->line;
            for (size_t i = 0; i < s->have; i++)
                at += s->buf[i] == '\n';
            fail(r, CSEG_EIO, at + 1);
            s->eof = s->cut_short = 1; /* the whole lines inflated still go */
            break;
        }
        if (g == 0)
            s->eof = 1;
        s->have += (size_t)g;
    }
    size_t cut = s->have;
    if (!s->eof || s->cut_short) /* whole lines only, until the (good) end */
        while (cut > 0 && s->buf[cut - 1] != '\n')
            cut--;
    if (!s->eof && cut == 0) { /* a line longer than the buffer: a bigger one next round */
        char *nb = realloc(s->buf, 2 * s->cap);
        if (!nb) {
            cseg__diag(&r->err, CSEG_ENOMEM, s->path, 0, 0, "out of memory");
            fail(r, CSEG_ENOMEM, 0);
            return;
        }
        s->buf = nb;
        s->cap *= 2;
    }
    *b = s->buf;
    *e = s->buf + cut;
    if (s->header && cut > 0) { /* skip line 1 */
        const char *nl = memchr(*b, '\n', cut);
        *b = nl ? nl + 1 : *e;
        s->header = 0;
    }
}

/* One round with every rank: this rank's piece routed, the round's lines
 * for it received (appended to r->got). */
static void round_step(router *r, source *s)
{
    double t0 = MPI_Wtime();
    size_t B = round_bytes(r->np), np = (size_t)r->np, rk = (size_t)r->rank;
    const char *b = NULL, *e = NULL;
    int64_t mine[2] = {0, 0}; /* lines, more to come */
    int failed_before = r->rc < 0;
    if (!s->gzip && s->map) {
        size_t start = s->at;
        size_t lo = line_start(s, start + (rk > 0 ? rk * B : 0));
        size_t hi = line_start(s, start + (rk + 1) * B);
        size_t end = line_start(s, start + np * B);
        b = s->map + lo;
        e = s->map + hi;
#ifdef MADV_POPULATE_READ
        /* The piece's pages in one call rather than a fault each. */
        size_t pg = (size_t)sysconf(_SC_PAGESIZE), a0 = lo / pg * pg;
        if (hi > a0 && madvise((char *)s->map + a0, hi - a0, MADV_POPULATE_READ) != 0)
            (void)madvise((char *)s->map + a0, hi - a0, MADV_WILLNEED);
#endif
        s->at = end;
        mine[1] = end < s->size;
    } else if (s->gzip && r->rank == 0 && s->gz && r->rc == 0) {
        gzip_piece(r, s, B, &b, &e);
        mine[1] = r->rc == 0 && (!s->eof || s->have > (size_t)(e - s->buf));
    }
    /* A rank that failed in an earlier round sends nothing more (one whose
     * gzip read failed in this one sends the lines inflated before it). */
    if (failed_before || (r->rc < 0 && !s->cut_short))
        b = e = NULL;
    for (const char *p = b; p && (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
        mine[0]++;
    if (e > b && e[-1] != '\n')
        mine[0]++; /* the log's last line, without its end */
    int64_t *all = malloc(np * 2 * sizeof *all);
    if (!all)
        MPI_Abort(r->comm, 3);
    MPI_Allgather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, r->comm);
    int64_t first = s->line;
    s->more = 0;
    for (size_t k = 0; k < np; k++) {
        if (k < rk)
            first += all[2 * k];
        s->line += all[2 * k];
        s->more |= all[2 * k + 1] != 0;
    }
    free(all);
    route_round(r, b, e, first);
    if (!s->gzip && e > b) {
        /* The piece is sent: its pages leave this process (the page cache
         * keeps them), or the mapped file would count in its memory. */
        size_t pg = (size_t)sysconf(_SC_PAGESIZE);
        uintptr_t a0 = (uintptr_t)b / pg * pg, z = ((uintptr_t)e) / pg * pg;
        if (z > a0)
            (void)madvise((void *)a0, z - a0, MADV_DONTNEED);
    }
    if (s->gzip && r->rank == 0 && e > b) {
        size_t used = (size_t)(e - s->buf);
        s->have -= used;
        memmove(s->buf, e, s->have);
    }
    r->route_seconds += MPI_Wtime() - t0;
}

/* The blocks of rounds already read go; their line numbers too. */
static void drop_rounds(router *r, size_t upto)
{
    for (size_t g = 0; g < upto && g < r->n_got; g++) {
        free_present(r->got[g].lines, r->got[g].nl * sizeof *r->got[g].lines);
        r->got[g].text = NULL;
        r->got[g].lines = NULL;
    }
}

/* Take part in the rounds left, reading nothing. */
static void drain(router *r, source *s)
{
    while (s->more) {
        round_step(r, s);
        drop_rounds(r, r->n_got);
        r->head = r->n_got;
    }
}

/* The number in the log of line `l` of this rank's text; INT64_MAX when
 * unknown (its round's numbers already let go). */
static int64_t log_line(const router *r, long l)
{
    size_t lo = 0, hi = r->n_got;
    while (hi - lo > 1) { /* the last round with line0 <= l */
        size_t mid = (lo + hi) / 2;
        if (r->got[mid].line0 <= l)
            lo = mid;
        else
            hi = mid;
    }
    if (lo >= r->n_got)
        return INT64_MAX;
    const struct rround *g = &r->got[lo];
    int64_t i = (int64_t)l - g->line0;
    return g->lines && i >= 0 && (size_t)i < g->nl ? g->lines[i] : INT64_MAX;
}

/* The CSV text of this rank's lines for the chunked reader (cseg_read_fn):
 * the header, then each round's block as it arrives, rounds run as the
 * reader asks for more. */
typedef struct feed {
    router *r;
    source *s;
    const char *hdr;
    size_t hdr_len, hdr_off, off;
} feed;

static long feed_read(void *user, void *buf, size_t size)
{
    feed *f = user;
    router *r = f->r;
    char *o = buf;
    size_t n = 0;
    while (n < size) {
        if (f->hdr_off < f->hdr_len) {
            size_t m = f->hdr_len - f->hdr_off < size - n ? f->hdr_len - f->hdr_off : size - n;
            memcpy(o + n, f->hdr + f->hdr_off, m);
            f->hdr_off += m;
            n += m;
            continue;
        }
        if (r->head < r->n_got) {
            struct rround *g = &r->got[r->head];
            size_t m = g->len - f->off < size - n ? g->len - f->off : size - n;
            if (m)
                memcpy(o + n, g->text + f->off, m);
            f->off += m;
            n += m;
            if (f->off == g->len) { /* read: the block is done, its numbers stay a while */
                g->text = NULL;
                r->head++;
                f->off = 0;
            }
            continue;
        }
        if (!f->s->more)
            break;
        round_step(r, f->s);
    }
    return (long)n;
}

/* A chunk of this rank's rows: each attribute level's first line in the
 * log, then the rows into the customers' state. */
typedef struct owner {
    cseg__rfm_acc *acc;
    const cseg_txn_roles *roles;
    cseg_diag *d;
    router *r;
    int64_t *lkey[CSEG_ATTRIBUTES_MAX];
    size_t lcap[CSEG_ATTRIBUTES_MAX];
    int reread;      /* read a second time with every row kept */
    int64_t err_key; /* the failure's line in the log (0: none) */
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
    router *r = o->r;
    size_t n = cseg_table_n_rows(c);
    for (size_t a = 0; a < o->roles->n_attributes; a++) {
        long j = cseg_table_find(c, o->roles->attributes[a]);
        if (j < 0)
            continue;
        if (level_keys_room(o, a, cseg_table_n_levels(c, (size_t)j)) < 0)
            return cseg__diag(o->d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        const int32_t *lv = cseg_table_codes(c, (size_t)j);
        for (size_t i = 0; i < n; i++) {
            int64_t at = log_line(r, cseg_table_row_line(c, i));
            if (lv[i] >= 0 && at < o->lkey[a][lv[i]])
                o->lkey[a][lv[i]] = at;
        }
    }
    /* Rounds wholly before this chunk's first row are not needed again. */
    if (n > 0) {
        long first = cseg_table_row_line(c, 0);
        size_t g = 0;
        while (g + 1 < r->head && r->got[g + 1].line0 <= first)
            g++;
        drop_rounds(r, g);
    }
    return cseg__rfm_acc_add(o->acc, c, o->roles, NULL, NULL, NULL, o->d);
}

static void clear_rounds(router *r)
{
    drop_rounds(r, r->n_got);
    r->n_got = r->head = 0;
    r->next_line0 = 2;
}

/* This rank's lines read a chunk at a time into o->acc (dictionaries in
 * *dict) as the rounds bring them: the rule of cseg_rfm_compute_csv, a
 * window for duplicates and, when the window cannot judge on any rank,
 * every round again, read with every row kept by the ranks that need it. */
static int read_owned(router *r, source *s, const char *hdr, size_t hdr_len, const char *path,
                      const cseg_table_read_params *tp, const cseg_rfm_params *p, owner *o,
                      cseg_table **dict, cseg_diag *d)
{
    int rc = 0;
    for (int full = 0; full < 2; full++) {
        feed f = {r, s, hdr, hdr_len, 0, 0};
        o->reread = full;
        if ((rc = cseg__rfm_acc_create(&o->acc, p, full, 0)) < 0)
            rc = cseg__diag(d, rc, path, 0, 0, "out of memory");
        else
            rc = cseg__table_read_chunks_from(feed_read, &f, path, tp, owner_chunk, o, dict, d);
        /* An error's line in the log (while its round's numbers are here). */
        o->err_key = 0;
        if (rc < 0 && d->line >= 2) {
            int64_t l = log_line(r, d->line);
            if (l != INT64_MAX)
                o->err_key = d->line = (long)l;
        } else if (rc < 0 && d->line == 1) {
            o->err_key = 1;
        }
        drain(r, s); /* a reading that stopped early: the others' rounds still run */
        int need = rc == CSEG_ECANCELED && cseg__rfm_acc_restart(o->acc) && !full, any = 0;
        MPI_Allreduce(&need, &any, 1, MPI_INT, MPI_LOR, r->comm);
        if (!any)
            break;
        clear_rounds(r);
        source_rewind(s, r);
        r->rounds = r->lines = 0; /* counted again (the bytes moved add up) */
        if (!need) { /* this rank's reading stands: only take part */
            drain(r, s);
            break;
        }
        cseg__rfm_acc_free(o->acc);
        o->acc = NULL;
        cseg_table_free(*dict);
        *dict = NULL;
        for (size_t a = 0; a < CSEG_ATTRIBUTES_MAX; a++)
            for (size_t l = 0; l < o->lcap[a]; l++)
                o->lkey[a][l] = INT64_MAX;
    }
    return rc;
}

static void free_rounds(router *r)
{
    drop_rounds(r, r->n_got);
    free(r->recv.p);
    r->recv.p = NULL;
    free(r->got);
    r->got = NULL;
    r->n_got = r->got_cap = r->head = 0;
}

/* Parts to rank 0 in pieces an int can count. */
#define PIECE ((size_t)1 << 30)

void cseg__mpi_send_part(MPI_Comm comm, const char *b, uint64_t n)
{
    for (uint64_t o = 0; o < n; o += PIECE) {
        uint64_t k = n - o < PIECE ? n - o : PIECE;
        MPI_Send(b + o, (int)k, MPI_BYTE, 0, 7, comm);
    }
}

void cseg__mpi_recv_part(MPI_Comm comm, int from, char *b, uint64_t n)
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

/* cseg_mpi_rfm_compute_csv; keep: cseg_mpi_rfm_compute_csv_part (*row0). */
static int compute(MPI_Comm comm, cseg_table **customers, size_t *row0, int keep, const char *path,
                   cseg_txn_roles *roles, const cseg_table_read_params *rp,
                   const cseg_rfm_params *p, cseg_quality *qout, cseg_mpi_stats *stats,
                   cseg_diag *diag)
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
    if (rc == 0)
        rc = cseg__mpi_map(path, &map, &size, &gzip, &d);
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
    /* The same header on every rank: every rank stops here alike. */
    const char *hcr = bare_cr(hdr, hdr + hdr_len - (hdr_len && hdr[hdr_len - 1] == '\n'));
    if (hcr) {
        rc = cseg__diag(&d, CSEG_EPARSE, path, 1, (long)(hcr - hdr) + 1, BARE_CR_MSG);
        goto out;
    }
    /* Every data line to its customer's rank, a round at a time, each rank
     * reading its lines as they come; their line numbers are the log's. */
    tm[0] = MPI_Wtime();
    r.comm = comm;
    r.np = np;
    r.rank = rank;
    r.delim = tp.csv.delimiter;
    r.path = path;
    r.next_line0 = 2;
    source src;
    memset(&src, 0, sizeof src);
    src.gzip = gzip;
    src.path = path;
    src.map = map;
    src.size = size;
    src.hdr_end = (size_t)hdr_len;
    source_rewind(&src, &r);
    owner own;
    memset(&own, 0, sizeof own);
    own.roles = roles;
    own.d = &d;
    own.r = &r;
    tp.progress = NULL;
    rc = read_owned(&r, &src, hdr, (size_t)hdr_len, path, &tp, p, &own, &t, &d);
    acc = own.acc;
    key = own.err_key;
    if (r.rc < 0 && (rc == 0 || r.err_key < key)) { /* routing failed first */
        rc = r.rc;
        key = r.err_key;
        d = r.err;
    }
    if (src.gz)
        gzclose(src.gz);
    free(src.buf);
    if (map)
        munmap(map, size);
    map = NULL;
    free_rounds(&r);
    tm[1] = tm[2] = MPI_Wtime();
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
    tm[3] = MPI_Wtime();
    uint64_t mine = part_len, *all = NULL;
    if (keep) { /* every rank its block of the customers */
        tm[4] = tm[3];
        rc = cseg__mpi_rfm_spread(comm, part, part_len, p, roles, customers, row0, &q, &d);
        tm[5] = MPI_Wtime();
        goto stats;
    }
    /* Rank 0 gathers the parts and assembles the customers. */
    all = rank == 0 ? calloc((size_t)np, sizeof *all) : NULL;
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
            cseg__mpi_recv_part(comm, k, parts[k], all[k]);
        }
        tm[4] = MPI_Wtime();
        rc = cseg__rfm_assemble((const char *const *)parts, lens, (size_t)np, p, roles, customers,
                                &q, NULL, &d);
    } else {
        cseg__mpi_send_part(comm, part, mine);
        tm[4] = MPI_Wtime();
    }
    tm[5] = MPI_Wtime();
    free(all);
    if ((rc = agree(comm, rc, 0, &d)) < 0) {
        cseg_table_free(*customers);
        *customers = NULL;
    }
    MPI_Bcast(&q, (int)sizeof q, MPI_BYTE, 0, comm);
stats:
    if (stats) {
        double span[5], slow[5];
        uint64_t cnt[5] = {r.rounds, r.lines, r.moved, rank == 0 ? 0 : mine, (uint64_t)own.reread};
        uint64_t sum[5];
        for (int k = 0; k < 5; k++)
            span[k] = tm[k + 1] - tm[k];
        /* Routing and reading interleave: the rounds' time, and the rest. */
        span[1] = span[0] - r.route_seconds;
        span[0] = r.route_seconds;
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
    free(hdr);
    cseg_table_free(t);
    cseg__rfm_acc_free(acc);
    free_rounds(&r);
    free(r.text.p);
    free(r.sent_lines.p);
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

int cseg_mpi_rfm_compute_csv(MPI_Comm comm, cseg_table **customers, const char *path,
                             cseg_txn_roles *roles, const cseg_table_read_params *rp,
                             const cseg_rfm_params *p, cseg_quality *qout, cseg_mpi_stats *stats,
                             cseg_diag *diag)
{
    return compute(comm, customers, NULL, 0, path, roles, rp, p, qout, stats, diag);
}

int cseg_mpi_rfm_compute_csv_part(MPI_Comm comm, cseg_table **part, size_t *row0, const char *path,
                                  cseg_txn_roles *roles, const cseg_table_read_params *rp,
                                  const cseg_rfm_params *p, cseg_quality *q, cseg_mpi_stats *stats,
                                  cseg_diag *diag)
{
    size_t r0 = 0;
    int rc = compute(comm, part, &r0, 1, path, roles, rp, p, q, stats, diag);
    if (row0)
        *row0 = r0;
    return rc;
}
