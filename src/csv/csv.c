/* custseg — streaming CSV reader (RFC 4180).
 *
 * The reader keeps a window of raw bytes (grown up to max_record) and copies
 * each record's unquoted field bytes into a second buffer, so fields are
 * NUL-terminated without touching the raw window. When a record runs past the
 * window it is parsed again after a refill; that happens once per window, so
 * the cost is linear. The scan is a byte loop over a 256-entry class table:
 * simple, and fast enough (about 1 ns a byte) that parsing numbers dominates.
 * zlib's gzread reads plain files transparently, so one code path serves
 * both; a truncated gzip stream is reported, not taken as the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef CSEG_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "custseg/csv.h"
#include "../core/internal.h"
#include "internal.h"

#define CSV_CHUNK (1u << 20)

enum { C_PLAIN = 0, C_DELIM = 1, C_NL = 2, C_CR = 3, C_QUOTE = 4, C_NUL = 5 };

struct cseg_csv {
    cseg_read_fn fn;
    void *user;
    gzFile gz;
    char *name;
    char *buf; /* raw window [0, len), parse position pos */
    size_t cap, len, pos;
    int eof;
    char *out; /* unquoted field bytes of the current record */
    size_t out_cap;
    cseg_csv_field *fields;
    long *fline, *fcol;
    size_t n_fields, cap_fields;
    char delim;
    unsigned char cls[256];
    size_t max_record;
    long line;      /* line where the next record starts */
    long rec_line;  /* line where the current record starts */
    size_t line_off;/* offset in buf of the start of the current line */
    int first;      /* BOM not yet checked */
    char **header;
    size_t n_header;
    uint64_t base; /* absolute input offset of buf[0] */
    /* The whole input in memory, for cseg__csv_mapped_block: a plain file
     * mapped read-only, or a gzip file inflated at once into a heap buffer
     * followed by CSEG_CSV_PAD zero bytes (map_heap). */
    const char *map;
    size_t map_len;
    int map_tried, map_heap;
    uint64_t raw_size; /* the file's size, 0 when not a regular file */
    int from_map;    /* fill() copies from the map at map_off instead of reading */
    size_t map_off;
};

void cseg_csv_params_init(cseg_csv_params *p)
{
    p->delimiter = 0;
    p->has_header = 1;
    p->max_record = (size_t)16 << 20;
}

static int fill(cseg_csv *r, cseg_diag *d)
{
    if (r->eof)
        return 0;
    if (r->pos > 0) {
        r->base += r->pos;
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->line_off = r->line_off >= r->pos ? r->line_off - r->pos : 0;
        r->pos = 0;
    }
    if (r->len == r->cap) {
        if (r->cap >= r->max_record)
            return cseg__diag(d, CSEG_ETOOBIG, r->name, r->line, 0,
                              "record longer than %zu bytes (line too long, or an unclosed quote)",
                              r->max_record);
        size_t nc = r->cap * 2 > r->max_record ? r->max_record : r->cap * 2;
        char *nb = realloc(r->buf, nc + CSEG_CSV_PAD);
        if (!nb)
            return cseg__diag(d, CSEG_ENOMEM, r->name, r->line, 0, "out of memory");
        r->buf = nb;
        r->cap = nc;
    }
    long got;
    if (r->from_map) {
        size_t n = r->map_len - r->map_off < r->cap - r->len ? r->map_len - r->map_off
                                                             : r->cap - r->len;
        memcpy(r->buf + r->len, r->map + r->map_off, n);
        r->map_off += n;
        got = (long)n;
    } else if (r->gz) {
        unsigned want = (unsigned)(r->cap - r->len > (1u << 30) ? (1u << 30) : r->cap - r->len);
        int g = gzread(r->gz, r->buf + r->len, want);
        int zerr = 0;
        const char *zmsg = gzerror(r->gz, &zerr);
        if (g < 0 || (zerr != Z_OK && zerr != Z_STREAM_END) || (g == 0 && zerr == Z_BUF_ERROR))
            return cseg__diag(d, CSEG_EIO, r->name, 0, 0, "read error: %s",
                              zerr == Z_BUF_ERROR ? "compressed data is truncated"
                              : zerr == Z_ERRNO   ? strerror(errno)
                                                  : zmsg);
        got = g;
    } else {
        got = r->fn(r->user, r->buf + r->len, r->cap - r->len);
        if (got < 0)
            return cseg__diag(d, (int)got, r->name, 0, 0, "read error");
    }
    if (got == 0)
        r->eof = 1;
    r->len += (size_t)got;
    memset(r->buf + r->len, 0, CSEG_CSV_PAD);
    return (int)(got > 0);
}

static int push_field(cseg_csv *r, const char *start, size_t len, int quoted, long line, long col)
{
    if (r->n_fields == r->cap_fields) {
        size_t nc = r->cap_fields ? r->cap_fields * 2 : 32;
        cseg_csv_field *f = cseg__reallocarray(r->fields, nc, sizeof *f);
        if (!f)
            return CSEG_ENOMEM;
        r->fields = f;
        long *a = cseg__reallocarray(r->fline, nc, sizeof *a);
        if (!a)
            return CSEG_ENOMEM;
        r->fline = a;
        a = cseg__reallocarray(r->fcol, nc, sizeof *a);
        if (!a)
            return CSEG_ENOMEM;
        r->fcol = a;
        r->cap_fields = nc;
    }
    cseg_csv_field *f = &r->fields[r->n_fields];
    f->ptr = start;
    f->len = len;
    f->quoted = quoted;
    r->fline[r->n_fields] = line;
    r->fcol[r->n_fields] = col;
    r->n_fields++;
    return 0;
}

/* Parse one record at r->pos. Returns 1 (record), 0 (end), <0 error. */
static int parse_record(cseg_csv *r, cseg_diag *d)
{
    int rc;
restart:
    if (r->first) {
        while (r->len - r->pos < 3 && !r->eof)
            if ((rc = fill(r, d)) < 0)
                return rc;
        if (r->len - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0) {
            r->pos += 3;
            r->line_off = r->pos;
        }
        r->first = 0;
    }
    if (r->pos == r->len) {
        if (r->eof)
            return 0;
        if ((rc = fill(r, d)) < 0)
            return rc;
        goto restart;
    }
    if (r->out_cap < r->len - r->pos + 1) {
        size_t nc = r->cap + 1;
        char *o = realloc(r->out, nc);
        if (!o)
            return cseg__diag(d, CSEG_ENOMEM, r->name, r->line, 0, "out of memory");
        r->out = o;
        r->out_cap = nc;
    }
    const unsigned char *cls = r->cls;
    const char *p = r->buf + r->pos, *end = r->buf + r->len;
    char *o = r->out;
    long line = r->line;
    const char *line_start = r->buf + r->line_off;
    r->n_fields = 0;
    for (;;) {
        char *fstart = o;
        long fline = line, fcol = (long)(p - line_start) + 1;
        int quoted = 0;
        if (p < end && *p == '"') {
            quoted = 1;
            p++;
            for (;;) {
                if (p == end) {
                    if (r->eof)
                        return cseg__diag(d, CSEG_EPARSE, r->name, fline, fcol,
                                          "quoted field is not closed before the end of the file");
                    goto need_more;
                }
                char c = *p;
                if (c == '"') {
                    if (p + 1 == end && !r->eof)
                        goto need_more;
                    if (p + 1 < end && p[1] == '"') {
                        *o++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (c == 0)
                    return cseg__diag(d, CSEG_EPARSE, r->name, line, (long)(p - line_start) + 1,
                                      "binary data (NUL byte) in a text file");
                /* A line end inside quotes: \n, or a lone \r as outside them. */
                if (c == '\r' && p + 1 == end && !r->eof)
                    goto need_more;
                if (c == '\n' || (c == '\r' && (p + 1 == end || p[1] != '\n'))) {
                    line++;
                    line_start = p + 1;
                }
                *o++ = c;
                p++;
            }
            if (p == end && !r->eof)
                goto need_more;
            if (p < end && cls[(unsigned char)*p] != C_DELIM && *p != '\n' && *p != '\r')
                return cseg__diag(d, CSEG_EPARSE, r->name, line, (long)(p - line_start) + 1,
                                  "unexpected character '%c' after a closing quote",
                                  (*p >= 32 && *p < 127) ? *p : '?');
        } else {
            for (;;) {
                if (p == end)
                    goto need_more_or_eof;
                unsigned char c = (unsigned char)*p;
                unsigned char k = cls[c];
                if (k == C_PLAIN || k == C_QUOTE) {
                    *o++ = (char)c;
                    p++;
                    continue;
                }
                if (k == C_NUL)
                    return cseg__diag(d, CSEG_EPARSE, r->name, line, (long)(p - line_start) + 1,
                                      "binary data (NUL byte) in a text file");
                break;
            }
        }
        goto field_done;
    need_more_or_eof:
        if (!r->eof)
            goto need_more;
    field_done:
        *o++ = 0;
        if ((rc = push_field(r, fstart, (size_t)(o - fstart - 1), quoted, fline, fcol)) < 0)
            return cseg__diag(d, rc, r->name, line, 0, "out of memory");
        if (p == end) {
            /* end of input ends the record */
            line++;
            line_start = p;
            break;
        }
        if (cls[(unsigned char)*p] == C_DELIM) {
            p++;
            continue;
        }
        if (*p == '\r') {
            if (p + 1 == end && !r->eof)
                goto need_more;
            p++;
            if (p < end && *p == '\n')
                p++;
        } else {
            p++; /* '\n' */
        }
        line++;
        line_start = p;
        break;
    }
    r->rec_line = r->line;
    r->line = line;
    r->pos = (size_t)(p - r->buf);
    r->line_off = (size_t)(line_start - r->buf);
    if (r->n_fields == 1 && r->fields[0].len == 0 && !r->fields[0].quoted)
        goto restart; /* blank line */
    return 1;
need_more:
    if (r->eof) /* cannot happen: every path above checks eof first */
        return cseg__diag(d, CSEG_EPARSE, r->name, line, 0, "unexpected end of input");
    if ((rc = fill(r, d)) < 0)
        return rc;
    goto restart;
}

static void set_delim(cseg_csv *r, char delim)
{
    memset(r->cls, C_PLAIN, sizeof r->cls);
    r->delim = delim;
    r->cls[(unsigned char)delim] = C_DELIM;
    r->cls['\n'] = C_NL;
    r->cls['\r'] = C_CR;
    r->cls['"'] = C_QUOTE;
    r->cls[0] = C_NUL;
}

/* Count candidate delimiters outside quotes on the first line. */
static char detect_delim(const char *p, size_t n)
{
    static const char cand[4] = {',', ';', '\t', '|'};
    size_t cnt[4] = {0, 0, 0, 0};
    int inq = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '"')
            inq = !inq;
        else if (!inq && (c == '\n' || c == '\r'))
            break;
        else if (!inq)
            for (int k = 0; k < 4; k++)
                cnt[k] += c == cand[k];
    }
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (cnt[k] > cnt[best])
            best = k;
    return cand[best];
}

/* Two columns with one name would make every lookup by name ambiguous:
 * refuse the header, naming both (a hash set of indices, O(n)). */
static int check_unique(cseg_csv *r, cseg_diag *d)
{
    size_t n = r->n_header, cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    size_t *tab = malloc(cap * sizeof *tab);
    if (!tab)
        return cseg__diag(d, CSEG_ENOMEM, r->name, 0, 0, "out of memory");
    for (size_t i = 0; i < cap; i++)
        tab[i] = SIZE_MAX;
    int rc = 0;
    for (size_t j = 0; j < n && rc == 0; j++) {
        const char *name = r->header[j];
        size_t i = (size_t)cseg__hash(name, strlen(name), 0) & (cap - 1);
        while (tab[i] != SIZE_MAX && strcmp(r->header[tab[i]], name) != 0)
            i = (i + 1) & (cap - 1);
        if (tab[i] == SIZE_MAX)
            tab[i] = j;
        else
            rc = cseg__diag(d, CSEG_EPARSE, r->name, r->rec_line, cseg_csv_column_of(r, j),
                            "column name \"%s\" appears twice in the header (columns %zu and "
                            "%zu)", name, tab[i] + 1, j + 1);
    }
    free(tab);
    return rc;
}

static int open_common(cseg_csv *r, const cseg_csv_params *p, cseg_diag *d)
{
    cseg_csv_params defaults;
    int rc;
    if (!p) {
        cseg_csv_params_init(&defaults);
        p = &defaults;
    }
    r->max_record = p->max_record ? p->max_record : ((size_t)16 << 20);
    r->cap = CSV_CHUNK < r->max_record ? CSV_CHUNK : r->max_record;
    r->buf = malloc(r->cap + CSEG_CSV_PAD);
    if (!r->buf)
        return cseg__diag(d, CSEG_ENOMEM, r->name, 0, 0, "out of memory");
    r->line = 1;
    r->first = 1;
    /* Read until the first line is complete (or 64 KiB) to detect the delimiter. */
    for (;;) {
        if ((rc = fill(r, d)) < 0)
            return rc;
        if (r->eof || memchr(r->buf, '\n', r->len) || r->len >= 65536)
            break;
    }
    if (r->len == 0 || (r->len == 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0))
        return cseg__diag(d, CSEG_EEMPTY, r->name, 0, 0, "file is empty");
    size_t skip = (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
    set_delim(r, p->delimiter ? p->delimiter : detect_delim(r->buf + skip, r->len - skip));
    if (p->has_header) {
        const cseg_csv_field *f;
        size_t n;
        rc = cseg_csv_next(r, &f, &n, d);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return cseg__diag(d, CSEG_EEMPTY, r->name, 0, 0, "file has no header line");
        r->header = cseg__calloc(n, sizeof *r->header);
        if (!r->header)
            return cseg__diag(d, CSEG_ENOMEM, r->name, 0, 0, "out of memory");
        r->n_header = n;
        for (size_t j = 0; j < n; j++) {
            const char *s = f[j].ptr;
            size_t len = f[j].len;
            while (len && (*s == ' ' || *s == '\t'))
                s++, len--;
            while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                len--;
            if (!(r->header[j] = cseg__strndup(s, len)))
                return cseg__diag(d, CSEG_ENOMEM, r->name, 0, 0, "out of memory");
            size_t bad = cseg__utf8_invalid_at(s, len);
            if (bad < len)
                return cseg__diag(d, CSEG_EPARSE, r->name, r->rec_line, cseg_csv_column_of(r, j),
                                  "the name of column %zu is not valid UTF-8 (byte 0x%02X); "
                                  "convert the file, e.g. iconv -f WINDOWS-1252 -t UTF-8",
                                  j + 1, (unsigned)(unsigned char)s[bad]);
        }
        if ((rc = check_unique(r, d)) < 0)
            return rc;
    }
    return 0;
}

int cseg_csv_open(cseg_csv **out, const char *path, const cseg_csv_params *p, cseg_diag *d)
{
    *out = NULL;
    cseg_csv *r = calloc(1, sizeof *r);
    if (!r)
        return cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
    r->name = cseg__strdup(path);
    if (!r->name) {
        free(r);
        return cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
    }
    /* A pipe, a FIFO or a device can be read once: the readers open their
     * input again (its header, its size, its data in parallel parts), which
     * on a FIFO waits for ever for a second writer. */
    struct stat st;
    int have_st = stat(path, &st) == 0;
    if (have_st && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        cseg_csv_close(r);
        return cseg__diag(d, CSEG_EIO, path, 0, 0,
                          "not a file but a pipe or a device, which custseg cannot read more than "
                          "once: save it to a file first");
    }
    errno = 0;
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        int e = errno;
        cseg_csv_close(r);
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open file: %s",
                          e ? strerror(e) : "out of memory");
    }
    gzbuffer(r->gz, 1u << 18);
    if (have_st && S_ISREG(st.st_mode) && st.st_size > 0)
        r->raw_size = (uint64_t)st.st_size;
    int rc = open_common(r, p, d);
    if (rc < 0) {
        cseg_csv_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int cseg_csv_open_reader(cseg_csv **out, cseg_read_fn fn, void *user, const char *name,
                         const cseg_csv_params *p, cseg_diag *d)
{
    *out = NULL;
    cseg_csv *r = calloc(1, sizeof *r);
    if (!r)
        return cseg__diag(d, CSEG_ENOMEM, name, 0, 0, "out of memory");
    r->fn = fn;
    r->user = user;
    r->name = cseg__strdup(name ? name : "<input>");
    if (!r->name) {
        free(r);
        return cseg__diag(d, CSEG_ENOMEM, name, 0, 0, "out of memory");
    }
    int rc = open_common(r, p, d);
    if (rc < 0) {
        cseg_csv_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void cseg_csv_close(cseg_csv *r)
{
    if (!r)
        return;
    if (r->gz)
        gzclose(r->gz);
    if (r->map && r->map_heap)
        free((void *)r->map);
    else if (r->map)
        munmap((void *)r->map, r->map_len);
    for (size_t j = 0; j < r->n_header; j++)
        free(r->header[j]);
    free(r->header);
    free(r->fields);
    free(r->fline);
    free(r->fcol);
    free(r->out);
    free(r->buf);
    free(r->name);
    free(r);
}

int cseg_csv_next(cseg_csv *r, const cseg_csv_field **fields, size_t *n_fields, cseg_diag *d)
{
    uint64_t start = r->base + r->pos;
    int rc = parse_record(r, d);
    /* fill() refuses a record only when it overflows the window, which the
     * block reader may have made larger than max_record. */
    if (rc > 0 && r->base + r->pos - start > r->max_record)
        rc = cseg__diag(d, CSEG_ETOOBIG, r->name, r->rec_line, 0,
                        "record longer than %zu bytes (line too long, or an unclosed quote)",
                        r->max_record);
    if (rc <= 0) {
        *fields = NULL;
        *n_fields = 0;
        return rc;
    }
    *fields = r->fields;
    *n_fields = r->n_fields;
    return 1;
}

size_t cseg_csv_n_columns(const cseg_csv *r)
{
    return r->n_header;
}

const char *cseg_csv_column_name(const cseg_csv *r, size_t j)
{
    return j < r->n_header ? r->header[j] : NULL;
}

char cseg_csv_delimiter(const cseg_csv *r)
{
    return r->delim;
}

long cseg_csv_line(const cseg_csv *r)
{
    return r->rec_line;
}

long cseg_csv_column_of(const cseg_csv *r, size_t j)
{
    return j < r->n_fields ? r->fcol[j] : 0;
}

long cseg__csv_line_of(const cseg_csv *r, size_t j)
{
    return j < r->n_fields ? r->fline[j] : r->rec_line;
}

uint64_t cseg__csv_offset(const cseg_csv *r)
{
    return r->base + r->pos;
}

int cseg__csv_block(cseg_csv *r, size_t want, const char **p, size_t *len, long *line,
                    cseg_diag *d)
{
    int rc;
    if (r->first)
        return 0;
    if (r->cap < want) {
        char *nb = realloc(r->buf, want + CSEG_CSV_PAD);
        if (!nb)
            return cseg__diag(d, CSEG_ENOMEM, r->name, r->line, 0, "out of memory");
        r->buf = nb;
        r->cap = want;
    }
    while (r->len - r->pos < want && !r->eof) {
        size_t before = r->len - r->pos;
        if ((rc = fill(r, d)) < 0)
            return rc;
        if (rc == 0 && r->len - r->pos == before)
            break;
    }
    size_t end = r->len;
    while (end > r->pos && r->buf[end - 1] != '\n')
        end--;
    if (r->eof)
        end = r->len;
    if (end == r->pos)
        return 0;
    *p = r->buf + r->pos;
    *len = end - r->pos;
    *line = r->line;
    return 1;
}

#define MAP_INFLATE_MAX ((size_t)1 << 30)

#ifdef CSEG_HAVE_LIBDEFLATE
/* Inflate a whole gzip file (all members) into r->map with libdeflate, about
 * twice as fast as zlib's streaming inflate. The output is sized from the
 * last member's ISIZE and doubled when short, up to MAP_INFLATE_MAX. Any
 * failure (corrupt or truncated data, too large, out of memory) leaves r->map
 * NULL: zlib then reads the file as before and reports the error. Bytes after
 * the last member that do not start a member are ignored, as zlib does. */
static void inflate_whole(cseg_csv *r, const unsigned char *in, size_t n)
{
    if (n < 18 || in[0] != 0x1f || in[1] != 0x8b)
        return;
    struct libdeflate_decompressor *dc = libdeflate_alloc_decompressor();
    if (!dc)
        return;
    size_t cap = (size_t)in[n - 4] | (size_t)in[n - 3] << 8 | (size_t)in[n - 2] << 16 |
                 (size_t)in[n - 1] << 24;
    if (cap < n)
        cap = 4 * n;
    if (cap > MAP_INFLATE_MAX)
        cap = MAP_INFLATE_MAX;
    char *out = malloc(cap + CSEG_CSV_PAD);
    cseg__advise_huge(out, cap + CSEG_CSV_PAD);
    size_t len = 0, at = 0;
    while (out && at < n && in[at] == 0x1f) {
        size_t used = 0, got = 0;
        enum libdeflate_result res = libdeflate_gzip_decompress_ex(dc, in + at, n - at, out + len,
                                                                   cap - len, &used, &got);
        if (res == LIBDEFLATE_INSUFFICIENT_SPACE && cap < MAP_INFLATE_MAX) {
            cap = cap > MAP_INFLATE_MAX / 2 ? MAP_INFLATE_MAX : 2 * cap;
            char *bigger = realloc(out, cap + CSEG_CSV_PAD);
            if (!bigger)
                break;
            out = bigger;
            cseg__advise_huge(out, cap + CSEG_CSV_PAD);
            continue;
        }
        if (res != LIBDEFLATE_SUCCESS || used == 0)
            break;
        len += got;
        at += used;
    }
    libdeflate_free_decompressor(dc);
    if (!out || (at < n && in[at] == 0x1f)) {
        free(out);
        return;
    }
    memset(out + len, 0, CSEG_CSV_PAD);
    r->map = out;
    r->map_len = len;
    r->map_heap = 1;
}
#endif

/* Bring the whole input into memory when it is a regular file: a plain file
 * of at least 1 MiB (smaller ones fit in the first window anyway) is mapped,
 * a gzip file inflated at once when libdeflate is available. MAP_POPULATE
 * maps the page-cache pages in one call instead of one fault per 64 KiB. */
static void map_input(cseg_csv *r)
{
    r->map_tried = 1;
    if (!r->gz)
        return;
    int direct = gzdirect(r->gz);
#ifndef CSEG_HAVE_LIBDEFLATE
    if (!direct)
        return;
#endif
    int fd = open(r->name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size <= (uint64_t)SIZE_MAX && (!direct || st.st_size >= (off_t)CSV_CHUNK)) {
        int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
        flags |= MAP_POPULATE;
#endif
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, flags, fd, 0);
        if (m != MAP_FAILED && direct) {
            r->map = m;
            r->map_len = (size_t)st.st_size;
        } else if (m != MAP_FAILED) {
#ifdef CSEG_HAVE_LIBDEFLATE
            inflate_whole(r, m, (size_t)st.st_size);
#endif
            munmap(m, (size_t)st.st_size);
        }
    }
    close(fd);
}

void cseg__csv_progress(const cseg_csv *r, uint64_t *done, uint64_t *total)
{
    if (r->map) { /* the data in memory: positions in it */
        *done = r->base + r->pos;
        *total = r->map_len;
    } else if (r->gz && r->raw_size) { /* the file's bytes read (read ahead included) */
        z_off_t at = gzoffset(r->gz);
        *done = at > 0 ? (uint64_t)at : 0;
        *total = r->raw_size;
    } else {
        *done = r->base + r->pos;
        *total = 0;
    }
}

int cseg__csv_mapped_block(cseg_csv *r, size_t max, const char **p, size_t *len, long *line)
{
    if (r->first || r->eof)
        return 0;
    if (!r->map_tried)
        map_input(r);
    uint64_t off = r->base + r->pos;
    /* Stop CSEG_CSV_PAD bytes short of the end, so that word-at-a-time reads
     * past the block stay inside the mapping; the tail goes through the window. */
    size_t pad = r->map_heap ? 0 : CSEG_CSV_PAD;
    if (!r->map || off + pad >= r->map_len)
        return 0;
    size_t stop = r->map_len - pad;
    if (stop - off > max)
        stop = (size_t)off + max;
    const char *b = r->map + off, *e = r->map + stop;
    while (e > b && e[-1] != '\n')
        e--;
    if (e == b)
        return 0;
    *p = b;
    *len = (size_t)(e - b);
    *line = r->line;
    return 1;
}

void cseg__csv_consume(cseg_csv *r, size_t len, long lines)
{
    r->line += lines;
    if (len <= r->len - r->pos) {
        r->pos += len;
        r->line_off = r->pos;
        return;
    }
    /* A mapped block that ran past the window: drop the window and read the
     * rest from the map. */
    uint64_t off = r->base + r->pos + len;
    r->from_map = 1;
    r->map_off = (size_t)off;
    r->base = off;
    r->pos = r->len = r->line_off = 0;
}
