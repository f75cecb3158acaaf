/* custseg — typed column tables: streaming CSV load, text interning, CSV write.
 *
 * Text columns are dictionary-encoded through an open-addressing hash table
 * per column, so customer ids, invoices and categories cost 4 bytes a row and
 * group-by is an array index. Number columns go straight from the field bytes
 * to doubles with cseg_parse_double. A column left to inference is decided by
 * its first non-missing value (number, else date-time, else text); a later
 * value that does not fit makes the reader start over with that column as
 * text. Each restart fixes one column for good, so there are at most as many
 * passes as columns, and a clean file is read exactly once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "custseg/table.h"
#include "../core/internal.h"
#include "../csv/internal.h"
#include "internal.h"

typedef struct tcol {
    char *name;
    cseg_coltype type; /* CSEG_COL_AUTO while undecided */
    int borrowed;      /* a view's column: the data belongs to another table */
    int forced;
    int is_id;
    size_t src; /* CSV column index */
    double *num;
    int64_t *tim;
    int32_t *code;
    /* dictionary of text levels */
    char *pool;
    size_t pool_len, pool_cap;
    size_t *off;
    uint64_t *lhash;
    size_t n_levels, cap_levels;
    int32_t *htab;
    size_t hcap;
    size_t bad_row; /* block reader: the row whose text is not UTF-8 */
    long bad_col;
    unsigned bad_byte;
    char *why_text;    /* read as text because of this value ... */
    long why_line;     /* ... on this line, after values of type why_was */
    cseg_coltype why_was;
} tcol;

/* A value that made the reader start over with its column as text
 * (internal.h). */
typedef cseg__retype retype;

struct cseg_table {
    size_t n_rows, cap_rows;
    tcol *cols;
    size_t n_cols;
    int32_t *nidx; /* open-addressing index of column names (nicap slots) */
    size_t nicap;
    uint64_t *hash;
    long *lines;
};

void cseg_table_read_params_init(cseg_table_read_params *p)
{
    memset(p, 0, sizeof *p);
    cseg_csv_params_init(&p->csv);
}

static void col_free(tcol *c)
{
    free(c->name);
    if (c->borrowed)
        return;
    free(c->why_text);
    free(c->num);
    free(c->tim);
    free(c->code);
    free(c->pool);
    free(c->off);
    free(c->lhash);
    free(c->htab);
}

void cseg_table_free(cseg_table *t)
{
    if (!t)
        return;
    for (size_t j = 0; j < t->n_cols; j++)
        col_free(&t->cols[j]);
    free(t->cols);
    free(t->nidx);
    free(t->hash);
    free(t->lines);
    free(t);
}

/* The name index: rebuilt when it would be half full, so finding a column by
 * name is O(1) however wide the table (100,000 columns are read). */
static int index_names(cseg_table *t)
{
    if (t->n_cols * 2 < t->nicap) {
        const char *name = t->cols[t->n_cols - 1].name;
        size_t i = (size_t)cseg__hash(name, strlen(name), 0) & (t->nicap - 1);
        while (t->nidx[i] >= 0)
            i = (i + 1) & (t->nicap - 1);
        t->nidx[i] = (int32_t)(t->n_cols - 1);
        return 0;
    }
    size_t cap = 64;
    while (cap < 4 * t->n_cols)
        cap *= 2;
    int32_t *idx = malloc(cap * sizeof *idx);
    if (!idx)
        return CSEG_ENOMEM;
    memset(idx, 0xff, cap * sizeof *idx);
    for (size_t j = 0; j < t->n_cols; j++) {
        const char *name = t->cols[j].name;
        size_t i = (size_t)cseg__hash(name, strlen(name), 0) & (cap - 1);
        while (idx[i] >= 0)
            i = (i + 1) & (cap - 1);
        idx[i] = (int32_t)j;
    }
    free(t->nidx);
    t->nidx = idx;
    t->nicap = cap;
    return 0;
}

int cseg_table_create(cseg_table **out, size_t n_rows)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return CSEG_ENOMEM;
    (*out)->n_rows = n_rows;
    (*out)->cap_rows = n_rows;
    return 0;
}

int cseg__table_view(cseg_table **out, const cseg_table *src)
{
    cseg_table *t;
    int rc = cseg_table_create(&t, src->n_rows);
    if (rc < 0)
        return rc;
    if (src->n_cols && !(t->cols = cseg__calloc(src->n_cols, sizeof *t->cols))) {
        cseg_table_free(t);
        return CSEG_ENOMEM;
    }
    for (size_t j = 0; j < src->n_cols; j++) {
        t->cols[j] = src->cols[j];
        t->cols[j].borrowed = 1;
        t->cols[j].why_text = NULL;
        if (!(t->cols[j].name = cseg__strdup(src->cols[j].name))) {
            cseg_table_free(t);
            return CSEG_ENOMEM;
        }
        t->n_cols++;
        if (index_names(t) < 0) {
            cseg_table_free(t);
            return CSEG_ENOMEM;
        }
    }
    *out = t;
    return 0;
}

static int col_alloc(tcol *c, size_t cap, size_t n);

/* A table of no rows with n columns of these names and types (hash: rows
 * carry hashes). */
static int empty_table(cseg_table **out, size_t n, const char *const *names,
                       const cseg_coltype *types, int hash)
{
    cseg_table *t;
    int rc = cseg_table_create(&t, 0);
    if (rc < 0)
        return rc;
    if (n && !(t->cols = cseg__calloc(n, sizeof *t->cols)))
        rc = CSEG_ENOMEM;
    for (size_t j = 0; rc == 0 && j < n; j++) {
        tcol *c = &t->cols[j];
        c->type = types[j];
        c->src = j;
        if (!(c->name = cseg__strdup(names[j])) || col_alloc(c, 1, 0) < 0) {
            free(c->name);
            free(c->num), free(c->tim), free(c->code);
            memset(c, 0, sizeof *c);
            rc = CSEG_ENOMEM;
            break;
        }
        t->n_cols++;
        rc = index_names(t);
    }
    if (rc == 0 && hash && !(t->hash = malloc(sizeof *t->hash)))
        rc = CSEG_ENOMEM;
    if (rc == 0 && !(t->lines = malloc(sizeof *t->lines)))
        rc = CSEG_ENOMEM;
    if (rc < 0) {
        cseg_table_free(t);
        return rc;
    }
    t->cap_rows = 1;
    *out = t;
    return 0;
}

/* Allocate typed storage for cap rows, missing for the first n. */
static int col_alloc(tcol *c, size_t cap, size_t n)
{
    switch (c->type) {
    case CSEG_COL_NUMBER:
        if (!(c->num = cseg__reallocarray(NULL, cap, sizeof *c->num)))
            return CSEG_ENOMEM;
        for (size_t i = 0; i < n; i++)
            c->num[i] = NAN;
        break;
    case CSEG_COL_DATETIME:
        if (!(c->tim = cseg__reallocarray(NULL, cap, sizeof *c->tim)))
            return CSEG_ENOMEM;
        for (size_t i = 0; i < n; i++)
            c->tim[i] = CSEG_TIME_NA;
        break;
    case CSEG_COL_TEXT:
        if (!(c->code = cseg__reallocarray(NULL, cap, sizeof *c->code)))
            return CSEG_ENOMEM;
        for (size_t i = 0; i < n; i++)
            c->code[i] = -1;
        break;
    default:
        break;
    }
    return 0;
}

/* Give every row array room for nc rows (nc >= n_rows). */
static int resize_rows(cseg_table *t, size_t nc)
{
    for (size_t j = 0; j < t->n_cols; j++) {
        tcol *c = &t->cols[j];
        void *p;
        if (c->num) {
            if (!(p = cseg__realloc_huge(c->num, nc, sizeof *c->num)))
                return CSEG_ENOMEM;
            c->num = p;
        }
        if (c->tim) {
            if (!(p = cseg__realloc_huge(c->tim, nc, sizeof *c->tim)))
                return CSEG_ENOMEM;
            c->tim = p;
        }
        if (c->code) {
            if (!(p = cseg__realloc_huge(c->code, nc, sizeof *c->code)))
                return CSEG_ENOMEM;
            c->code = p;
        }
    }
    void *p;
    if (t->hash) {
        if (!(p = cseg__realloc_huge(t->hash, nc, sizeof *t->hash)))
            return CSEG_ENOMEM;
        t->hash = p;
    }
    if (!(p = cseg__realloc_huge(t->lines, nc, sizeof *t->lines)))
        return CSEG_ENOMEM;
    t->lines = p;
    t->cap_rows = nc;
    return 0;
}

static int grow_rows(cseg_table *t)
{
    return resize_rows(t, t->cap_rows ? t->cap_rows * 2 : 4096);
}

/* Move n parsed rows (numbers, dates, lines, hashes) from row `from` down to `to`. */
static void move_rows(cseg_table *t, size_t to, size_t from, size_t n)
{
    for (size_t j = 0; j < t->n_cols; j++) {
        tcol *c = &t->cols[j];
        if (c->type == CSEG_COL_NUMBER)
            memmove(c->num + to, c->num + from, n * sizeof *c->num);
        else if (c->type == CSEG_COL_DATETIME)
            memmove(c->tim + to, c->tim + from, n * sizeof *c->tim);
    }
    memmove(t->lines + to, t->lines + from, n * sizeof *t->lines);
    if (t->hash)
        memmove(t->hash + to, t->hash + from, n * sizeof *t->hash);
}

/* Find or add a text level; returns its code, CSEG_ENOMEM, CSEG_ETOOBIG, or
 * CSEG_EPARSE for a new level that is not valid UTF-8. */
static int32_t intern(tcol *c, const char *s, size_t len)
{
    uint64_t h = cseg__hash(s, len, 0);
    if (c->n_levels * 2 >= c->hcap) {
        size_t nh = c->hcap ? c->hcap * 2 : 1024;
        int32_t *tab = malloc(nh * sizeof *tab);
        if (!tab)
            return CSEG_ENOMEM;
        memset(tab, 0xff, nh * sizeof *tab);
        for (size_t k = 0; k < c->n_levels; k++) {
            size_t i = (size_t)c->lhash[k] & (nh - 1);
            while (tab[i] >= 0)
                i = (i + 1) & (nh - 1);
            tab[i] = (int32_t)k;
        }
        free(c->htab);
        c->htab = tab;
        c->hcap = nh;
    }
    size_t i = (size_t)h & (c->hcap - 1);
    while (c->htab[i] >= 0) {
        int32_t k = c->htab[i];
        if (c->lhash[k] == h) {
            const char *l = c->pool + c->off[k];
            if (strlen(l) == len && memcmp(l, s, len) == 0)
                return k;
        }
        i = (i + 1) & (c->hcap - 1);
    }
    if (c->n_levels >= INT32_MAX)
        return CSEG_ETOOBIG;
    /* A new level: text reaches JSON outputs, so it must be UTF-8. */
    if (cseg__utf8_invalid_at(s, len) < len)
        return CSEG_EPARSE;
    if (c->n_levels == c->cap_levels) {
        size_t nc = c->cap_levels ? c->cap_levels * 2 : 256;
        size_t *o = cseg__reallocarray(c->off, nc, sizeof *o);
        if (!o)
            return CSEG_ENOMEM;
        c->off = o;
        uint64_t *hh = cseg__reallocarray(c->lhash, nc, sizeof *hh);
        if (!hh)
            return CSEG_ENOMEM;
        c->lhash = hh;
        c->cap_levels = nc;
    }
    if (c->pool_len + len + 1 > c->pool_cap) {
        size_t nc = c->pool_cap ? c->pool_cap * 2 : 4096;
        while (nc < c->pool_len + len + 1)
            nc *= 2;
        char *np = realloc(c->pool, nc);
        if (!np)
            return CSEG_ENOMEM;
        c->pool = np;
        c->pool_cap = nc;
    }
    memcpy(c->pool + c->pool_len, s, len);
    c->pool[c->pool_len + len] = 0;
    c->off[c->n_levels] = c->pool_len;
    c->lhash[c->n_levels] = h;
    c->pool_len += len + 1;
    c->htab[i] = (int32_t)c->n_levels;
    return (int32_t)c->n_levels++;
}

/* Customer ids exported from spreadsheets often read "17850.0". */
void cseg__id_normalize(const char **ps, size_t *plen)
{
    const char *s = *ps;
    size_t len = *plen;
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    size_t dot = 0;
    while (dot < len && (unsigned)(s[dot] - '0') < 10)
        dot++;
    if (dot > 0 && dot + 1 < len && s[dot] == '.') {
        size_t k = dot + 1;
        while (k < len && s[k] == '0')
            k++;
        if (k == len)
            len = dot;
    }
    *ps = s;
    *plen = len;
}

void cseg_id_normalize(const char **s, size_t *len)
{
    cseg__id_normalize(s, len);
}

static void shorten(char *dst, size_t size, const char *s, size_t len)
{
    size_t keep = len < 40 ? len : 40;
    size_t k = 0;
    for (size_t i = 0; i < keep && k + 1 < size; i++)
        dst[k++] = (s[i] >= 32 && s[i] != 127) || (s[i] & 0x80) ? s[i] : '?';
    if (len > keep && k + 4 < size) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = 0;
}

/* ---- Block mode: whole records parsed in parallel, straight from the raw
 * window. Used once every column's type is settled, for blocks with no NUL,
 * no lone CR and no line end inside quotes (so every line end ends a record
 * and the block can be split at any of them); anything else takes the
 * record-by-record path, which handles every case and reports errors. Numbers and dates are
 * parsed by the threads; text is interned afterwards in row order, so codes
 * and results do not depend on the thread count. ---- */

#define BLOCK_BYTES ((size_t)4 << 20)
#define PART_BYTES ((size_t)1 << 20)
#define PARTS_PER_THREAD 8
/* Text offsets into a block are 32-bit. */
#define MAP_BLOCK_BYTES ((size_t)1 << 30)
/* Chunked reading: blocks of this size, and at most this many records
 * read one by one before they go to the caller. */
#define CHUNK_BLOCK_BYTES ((size_t)8 << 20)
#define CHUNK_ROWS 65536
/* The 1-based column where a field starts, given its line's start and its
 * content's start: the opening quote of a quoted field, as
 * cseg_csv_column_of says on the record path (a field's content follows a
 * '"' only when the field is quoted). */
static long field_col(const char *line, const char *content)
{
    return (long)(content - line) + 1 - (content > line && content[-1] == '"');
}

#define TEXT_NA UINT32_MAX
#define TEXT_ESCAPED 0x80000000u /* flag on a text length: holds "" escapes */
enum { FIELD_NUMBER_DONE = 1, FIELD_ESCAPED = 2 };

/* Copy a quoted field's content with "" turned into "; returns the length. */
static size_t unescape(char *dst, const char *s, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        dst[k++] = s[i];
        if (s[i] == '"' && i + 1 < len && s[i + 1] == '"')
            i++;
    }
    return k;
}

enum { BERR_NONE = 0, BERR_FIELDS, BERR_VALUE, BERR_RANGE };

typedef struct bpart {
    const char *p, *end;
    size_t nrows, cap;
    long ends;        /* line ends consumed */
    size_t n_nl;      /* line ends in the part */
    size_t row0;      /* table row of the part's first record */
    long line0;       /* line of the part's first byte */
    int ineligible;   /* the block needs the record-by-record path */
    size_t max_record; /* longer records: ineligible (the record path refuses them) */
    char *tmp;        /* unescaping buffer */
    size_t tmp_cap;
    void **vals;      /* per text column: uint32_t[2] (offset, length) per row; else NULL */
    int err;
    size_t err_col, err_nf;
    long err_line, err_colno;
    const char *err_s;
    size_t err_len;
} bpart;

static int block_eligible(const char *b, size_t n)
{
    if (memchr(b, 0, n))
        return 0;
    for (const char *q = memchr(b, '\r', n); q; q = memchr(q + 1, '\r', (size_t)(b + n - q - 1)))
        if (q + 1 >= b + n || q[1] != '\n')
            return 0;
    return 1;
}

/* Line ends in [b, b + n); *odd is set when the part holds a NUL or a CR,
 * which need block_eligible's closer look. Byte counters over runs of at
 * most 255 bytes let the compiler vectorise the loop. */
static size_t count_line_ends(const char *b, size_t n, int *odd)
{
    size_t nl = 0, other = 0;
    while (n) {
        size_t m = n < 255 ? n : 255;
        unsigned char cn = 0, co = 0;
        for (size_t i = 0; i < m; i++) {
            cn = (unsigned char)(cn + (b[i] == '\n'));
            co = (unsigned char)(co + (b[i] == '\r' || b[i] == 0));
        }
        nl += cn;
        other += co;
        b += m;
        n -= m;
    }
    *odd = other != 0;
    return nl;
}

static uint64_t hash_field(uint64_t h, const char *s, size_t len)
{
    return cseg__hash(s, len, h ^ 0x1f1f1f1f1f1f1f1fULL);
}

/* Make room for at least `need` rows in the part's text buffers. */
static int grow_part(bpart *bp, const cseg_table *t, size_t need)
{
    size_t nc = bp->cap ? bp->cap : 4096;
    while (nc < need)
        nc *= 2;
    for (size_t jc = 0; jc < t->n_cols; jc++) {
        if (t->cols[jc].type != CSEG_COL_TEXT)
            continue;
        void *q = cseg__reallocarray(bp->vals[jc], nc, 2 * sizeof(uint32_t));
        if (!q)
            return -1;
        bp->vals[jc] = q;
    }
    bp->cap = nc;
    return 0;
}

/* Missing-value spellings all start with a blank, 'N' or 'n' (or are empty). */
static inline int quick_missing(const char *s, size_t len)
{
    if (len == 0)
        return 1;
    char c = s[0];
    if (c != ' ' && c != '\t' && c != 'N' && c != 'n')
        return 0;
    return cseg_is_missing(s, len);
}

/* Number of leading ASCII digits in the 8 bytes at p (0..8). The window is
 * zero-padded (CSEG_CSV_PAD), so reading 8 bytes from any p <= end is safe. */
static inline unsigned digit_run(const char *p, uint64_t *x)
{
    uint64_t w;
    memcpy(&w, p, 8);
    w ^= 0x3030303030303030ULL; /* digits become 0..9 */
    /* A lane is not a digit when its high nibble is set, or when adding 6
     * sets it; carries only spoil lanes after the first non-digit. */
    uint64_t nd = (w | (w + 0x0606060606060606ULL)) & 0xF0F0F0F0F0F0F0F0ULL;
    *x = w;
    return nd ? (unsigned)__builtin_ctzll(nd) / 8 : 8;
}

/* Value of the first n (1..8) digit lanes of x, first lane most significant
 * (Lemire's SWAR reduction after shifting the unused lanes out). */
static inline uint64_t swar_value(uint64_t x, unsigned n)
{
    x <<= 8 * (8 - n);
    x = (x * 10) + (x >> 8);
    x = (((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
         (((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
    return x;
}

/* "-123.456" followed by a field end, word at a time; returns the end or
 * NULL when the field needs the general parser. Same value as
 * cseg_parse_double: at most 16 digits here, mantissa < 2^53, and one
 * correctly rounded divide by an exact power of ten. */
static inline const char *scan_number(const char *p, const char *e, char delim, double *out)
{
    static const double p10[9] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    /* A delimiter that can be part of a number (a digit, '-', '.') ends the
     * field there, which this scan would read past. */
    if ((delim >= '0' && delim <= '9') || delim == '-' || delim == '.')
        return NULL;
    int neg = *p == '-';
    p += neg;
    uint64_t x;
    unsigned ni = digit_run(p, &x), nf = 0;
    if (ni == 8 || p + ni > e)
        return NULL;
    uint64_t m = ni ? swar_value(x, ni) : 0;
    p += ni;
    if (p < e && *p == '.') {
        p++;
        nf = digit_run(p, &x);
        if (nf == 8 || p + nf > e)
            return NULL;
        if (nf) {
            static const uint64_t pw[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
            m = m * pw[nf] + swar_value(x, nf);
        }
        p += nf;
    }
    if (ni + nf == 0 || !(p == e || *p == delim || *p == '\n' || *p == '\r'))
        return NULL;
    /* The sign is set with a bit operation: a branch on it would be
     * mispredicted half the time on signed data. */
    double v = (double)m / p10[nf];
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits |= (uint64_t)neg << 63;
    memcpy(out, &bits, sizeof bits);
    return p;
}

/* Parse the records of one part, numbers, dates, lines and hashes straight
 * into the table from row bp->row0 (the caller made room for a record per
 * line end), text as (offset, length) into bp->vals. Returns -1 when out of
 * memory. slot[j] is the loaded column of CSV column j, or -1. */
static int parse_part(bpart *bp, const cseg_table *t, size_t ncsv, char delim, const char *fmt,
                      int want_hash, const char *base, const char **fs, size_t *fl,
                      const long *slot, unsigned char *fok)
{
    const char *p = bp->p, *end = bp->end;
    long line = 0;
    if (bp->cap < bp->n_nl + 1 && grow_part(bp, t, bp->n_nl + 1) < 0)
        return -1;
    while (p < end) {
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) { /* blank line */
            p += *p == '\r' ? 2 : 1;
            bp->ends++;
            line++;
            continue;
        }
        size_t i = bp->nrows, row = bp->row0 + i, nf = 0;
        const char *q = p;
        int bad = 0;
        for (;;) {
            long jc = nf < ncsv ? slot[nf] : -1;
            const char *fe = NULL, *vs = q, *ve;
            unsigned char flag = 0;
            if (q < end && *q == '"') {
                /* Quoted: content up to the closing quote; "" is an escaped quote. A
                 * quote not closed in this part, a line end inside the quotes, or
                 * text after the closing quote send the block to the record path. */
                const char *r = q + 1;
                for (;;) {
                    r = memchr(r, '"', (size_t)(end - r));
                    if (!r)
                        goto ineligible;
                    if (r + 1 < end && r[1] == '"') {
                        flag = FIELD_ESCAPED;
                        r += 2;
                        continue;
                    }
                    break;
                }
                vs = q + 1;
                ve = r;
                fe = r + 1;
                if (memchr(vs, '\n', (size_t)(ve - vs)) ||
                    !(fe == end || *fe == delim || *fe == '\n' || *fe == '\r'))
                    goto ineligible;
            } else {
                if (jc >= 0 && t->cols[jc].type == CSEG_COL_NUMBER &&
                    (fe = scan_number(q, end, delim, t->cols[jc].num + row)))
                    flag = FIELD_NUMBER_DONE;
                if (!fe) {
                    fe = q;
                    while (fe < end && *fe != delim && *fe != '\n')
                        fe++;
                }
                ve = fe;
            }
            if (ve > vs && (fe == end || *fe == '\n' || *fe == '\r') && ve[-1] == '\r')
                ve--;
            if (nf < ncsv) {
                fs[nf] = vs;
                fl[nf] = (size_t)(ve - vs);
                fok[nf] = flag;
            }
            nf++;
            if (fe < end && *fe == '\r')
                fe++; /* CR of a CRLF line end (lone CRs make a block ineligible) */
            if (fe == end || *fe == '\n') {
                q = fe;
                break;
            }
            q = fe + 1;
        }
        const char *next = q < end ? q + 1 : end;
        if ((size_t)(next - p) > bp->max_record)
            goto ineligible; /* the record path says so, naming the line */
        bp->ends += q < end;
        if (nf != ncsv) {
            bp->err = BERR_FIELDS;
            bp->err_nf = nf;
            bp->err_line = line;
            break;
        }
        t->lines[row] = bp->line0 + line;
        if (want_hash) {
            uint64_t h = 0;
            for (size_t j = 0; j < ncsv; j++) {
                if (fok[j] & FIELD_ESCAPED) {
                    if (fl[j] > bp->tmp_cap) {
                        char *nt = realloc(bp->tmp, fl[j]);
                        if (!nt)
                            return -1;
                        bp->tmp = nt;
                        bp->tmp_cap = fl[j];
                    }
                    h = hash_field(h, bp->tmp, unescape(bp->tmp, fs[j], fl[j]));
                } else {
                    h = hash_field(h, fs[j], fl[j]);
                }
            }
            t->hash[row] = h;
        }
        for (size_t jc = 0; jc < t->n_cols && !bad; jc++) {
            const tcol *c = &t->cols[jc];
            const char *sv = fs[c->src];
            size_t len = fl[c->src];
            switch (c->type) {
            case CSEG_COL_NUMBER: {
                double *v = c->num + row;
                if (fok[c->src] & FIELD_NUMBER_DONE)
                    break;
                int pr = cseg_parse_double(sv, len, v);
                if (pr < 0) {
                    if (quick_missing(sv, len))
                        *v = NAN;
                    else
                        bad = pr == CSEG_ERANGE ? 2 : 1;
                }
                break;
            }
            case CSEG_COL_DATETIME: {
                long long tv = CSEG_TIME_NA;
                if (!quick_missing(sv, len))
                    bad = cseg_parse_datetime(sv, len, fmt, &tv) < 0;
                c->tim[row] = tv;
                break;
            }
            default: {
                uint32_t *o = (uint32_t *)bp->vals[jc] + 2 * i;
                o[0] = quick_missing(sv, len) ? TEXT_NA : (uint32_t)(sv - base);
                o[1] = (uint32_t)len | (fok[c->src] & FIELD_ESCAPED ? TEXT_ESCAPED : 0);
                break;
            }
            }
            if (bad) {
                bp->err = bad == 2 ? BERR_RANGE : BERR_VALUE;
                bp->err_col = jc;
                bp->err_line = line;
                bp->err_colno = field_col(p, sv);
                bp->err_s = sv;
                bp->err_len = len;
            }
        }
        if (bad)
            break;
        bp->nrows++;
        line++;
        p = next;
    }
    return 0;
ineligible:
    bp->ineligible = 1;
    return 0;
}

static void parts_free(bpart *parts, size_t np, size_t ncol)
{
    for (size_t k = 0; k < np; k++) {
        free(parts[k].tmp);
        for (size_t jc = 0; jc < ncol && parts[k].vals; jc++)
            free(parts[k].vals[jc]);
        free(parts[k].vals);
    }
    free(parts);
}

static int out_of_range(cseg_diag *d, const char *path, long line, long col, const char *name,
                        const char *s, size_t len)
{
    char shown[64];
    shorten(shown, sizeof shown, s, len);
    return cseg__diag(d, CSEG_ERANGE, path, line, col,
                      "number in column \"%s\" is beyond the range of numbers (about 1.8e308), "
                      "got \"%s\"", name, shown);
}

static int not_utf8(cseg_diag *d, const char *path, long line, long col, const char *name,
                    unsigned byte)
{
    return cseg__diag(d, CSEG_EPARSE, path, line, col,
                      "text in column \"%s\" is not valid UTF-8 (byte 0x%02X); convert the "
                      "file, e.g. iconv -f WINDOWS-1252 -t UTF-8", name, byte);
}

/* Intern text column jc of the first np parts into c->code from row i0.
 * A value equal to the previous row's raw bytes reuses its code: logs repeat
 * the customer and invoice on consecutive lines. */
static int intern_parts(tcol *c, const bpart *parts, size_t np, size_t jc, const char *blk,
                        size_t i0)
{
    char *unesc = NULL;
    size_t row = i0;
    uint32_t prev_off = TEXT_NA, prev_len = 0;
    int32_t prev_code = -1;
    for (size_t k = 0; k < np; k++) {
        const uint32_t *o = parts[k].vals[jc];
        for (size_t i = 0; i < parts[k].nrows; i++, row++) {
            uint32_t off = o[2 * i], raw = o[2 * i + 1];
            if (off == TEXT_NA) {
                c->code[row] = -1;
                continue;
            }
            size_t len = raw & ~TEXT_ESCAPED;
            if (prev_off != TEXT_NA && raw == prev_len &&
                memcmp(blk + off, blk + prev_off, len) == 0) {
                c->code[row] = prev_code;
                continue;
            }
            const char *sv = blk + off;
            if (raw & TEXT_ESCAPED) {
                char *u = realloc(unesc, len ? len : 1);
                if (!u) {
                    free(unesc);
                    return CSEG_ENOMEM;
                }
                unesc = u;
                len = unescape(unesc, sv, len);
                sv = unesc;
            }
            if (c->is_id)
                cseg__id_normalize(&sv, &len);
            int32_t code = intern(c, sv, len);
            if (code == CSEG_EPARSE) {
                /* Where: the row, and the field's column within its line. */
                const char *f = blk + off, *ls = f;
                while (ls > blk && ls[-1] != '\n')
                    ls--;
                c->bad_row = row;
                c->bad_col = field_col(ls, f);
                c->bad_byte = (unsigned char)sv[cseg__utf8_invalid_at(sv, len)];
            }
            if (code < 0) {
                free(unesc);
                return code;
            }
            c->code[row] = code;
            prev_off = off;
            prev_len = raw;
            prev_code = code;
        }
    }
    free(unesc);
    return 0;
}

/* Parse one block into t. Returns 0 (block consumed), 1 (restart with
 * *restart_src as text), 2 (block not eligible: nothing consumed), or a
 * negative code with diag filled. */
static int read_block(cseg_table *t, cseg_csv *r, const char *blk, size_t blen, long line0,
                      const cseg_table_read_params *p, int nt, bpart *parts,
                      retype *restart, const char *path, cseg_diag *d)
{
    size_t ncsv = cseg_csv_n_columns(r), ncol = t->n_cols;
    /* Several parts a thread, taken dynamically, so that a thread the
     * scheduler sets aside (a busy machine) does not hold up the others. */
    size_t np = blen / PART_BYTES;
    np = np < (size_t)nt ? (size_t)nt : np > PARTS_PER_THREAD * (size_t)nt ? PARTS_PER_THREAD * (size_t)nt : np;
    char delim = cseg_csv_delimiter(r);
    int rc = 0;
    /* Parts keep their buffers from block to block; only the counts restart. */
    for (size_t k = 0; k < np; k++) {
        parts[k].nrows = 0;
        parts[k].ends = 0;
        parts[k].err = parts[k].ineligible = 0;
        parts[k].max_record = p->csv.max_record ? p->csv.max_record : (size_t)16 << 20;
    }
    /* Split at line ends near equal byte offsets. */
    const char *at = blk, *end = blk + blen;
    for (size_t k = 0; k < np; k++) {
        const char *e = k + 1 == np ? end : blk + blen * (k + 1) / np;
        if (e < at)
            e = at;
        if (e < end) {
            const char *nl = memchr(e, '\n', (size_t)(end - e));
            e = nl ? nl + 1 : end;
        }
        parts[k].p = at;
        parts[k].end = e;
        at = e;
    }
    int alloc_fail = 0, ineligible = 0;
    /* One parallel region: each thread checks and counts the line ends of
     * its part; one thread then gives every part its first row and line and
     * makes room in the table; each thread parses its part into place. */
#pragma omp parallel num_threads(nt) default(none)                                             \
    shared(parts, np, t, ncsv, ncol, delim, p, blk, line0, alloc_fail, ineligible)
    {
#pragma omp for schedule(dynamic, 1)
        for (size_t k = 0; k < np; k++) {
            bpart *bp = &parts[k];
            size_t n = (size_t)(bp->end - bp->p);
            int odd = 0;
            bp->n_nl = count_line_ends(bp->p, n, &odd);
            if (odd && !block_eligible(bp->p, n)) {
#pragma omp atomic write
                ineligible = 1;
                continue;
            }
            if (!bp->vals && !(bp->vals = cseg__calloc(ncol, sizeof(void *)))) {
#pragma omp atomic write
                alloc_fail = 1;
            }
        }
        /* implicit barrier: all parts counted */
#pragma omp single
        {
            size_t row = t->n_rows;
            long ln = line0;
            for (size_t k = 0; k < np; k++) {
                bpart *bp = &parts[k];
                bp->row0 = row;
                bp->line0 = ln;
                /* a record per line end, and one for an unterminated last line */
                row += bp->n_nl + (bp->end > bp->p && bp->end[-1] != '\n');
                ln += (long)bp->n_nl;
            }
            /* Slack for the few records of a mapped file's tail, so that they
             * do not double (and copy) every column. */
            size_t want = row + 4096;
            if (!ineligible && !alloc_fail && row > t->cap_rows &&
                resize_rows(t, want > 2 * t->cap_rows ? want : 2 * t->cap_rows) < 0)
                alloc_fail = 1;
        }
        /* implicit barrier: rows placed */
#pragma omp for schedule(dynamic, 1)
        for (size_t k = 0; k < np; k++) {
            if (ineligible || alloc_fail)
                continue;
            const char **fs = malloc((ncsv ? ncsv : 1) * sizeof *fs);
            size_t *fl = malloc((ncsv ? ncsv : 1) * sizeof *fl);
            long *slot = malloc((ncsv ? ncsv : 1) * sizeof *slot);
            unsigned char *fok = malloc(ncsv ? ncsv : 1);
            if (!fs || !fl || !slot || !fok) {
#pragma omp atomic write
                alloc_fail = 1;
            } else {
                for (size_t j = 0; j < ncsv; j++)
                    slot[j] = -1;
                for (size_t jc = 0; jc < ncol; jc++)
                    slot[t->cols[jc].src] = (long)jc;
                if (parse_part(&parts[k], t, ncsv, delim, p->date_format, t->hash != NULL, blk, fs,
                               fl, slot, fok) < 0) {
#pragma omp atomic write
                    alloc_fail = 1;
                }
            }
            free(fs);
            free(fl);
            free(slot);
            free(fok);
        }
    }
    for (size_t k = 0; k < np; k++)
        ineligible |= parts[k].ineligible;
    if (ineligible) {
        rc = 2;
        goto out;
    }
    if (alloc_fail) {
        rc = CSEG_ENOMEM;
        goto out;
    }
    /* Close the gaps left by blank lines, in part order, up to an error. */
    size_t i0 = t->n_rows, last = np; /* last: the part with an error, if any */
    for (size_t k = 0; k < np && last == np; k++) {
        bpart *bp = &parts[k];
        if (bp->row0 != t->n_rows && bp->nrows)
            move_rows(t, t->n_rows, bp->row0, bp->nrows);
        t->n_rows += bp->nrows;
        if (bp->err)
            last = k;
    }
    /* Text: each column's dictionary is built by one thread, in row order. */
    size_t nparts_used = last < np ? last + 1 : np;
    int irc = 0;
    int any_text = 0;
    for (size_t jc = 0; jc < ncol; jc++)
        any_text |= t->cols[jc].type == CSEG_COL_TEXT;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) default(none)                    \
    shared(t, parts, nparts_used, ncol, blk, i0, irc) if (any_text && ncol > 1)
    for (size_t jc = 0; jc < ncol; jc++) {
        if (t->cols[jc].type != CSEG_COL_TEXT)
            continue;
        int r2 = intern_parts(&t->cols[jc], parts, nparts_used, jc, blk, i0);
        if (r2 < 0) {
#pragma omp atomic write
            irc = r2;
        }
    }
    if (irc == CSEG_EPARSE) {
        const tcol *bad = NULL;
        for (size_t jc = 0; jc < ncol; jc++) {
            const tcol *c = &t->cols[jc];
            if (c->bad_col > 0 && (!bad || c->bad_row < bad->bad_row))
                bad = c;
        }
        rc = not_utf8(d, path, t->lines[bad->bad_row], bad->bad_col, bad->name, bad->bad_byte);
        goto out;
    }
    if (irc < 0) {
        rc = irc;
        goto out;
    }
    if (last < np) {
        bpart *bp = &parts[last];
        if (bp->err == BERR_FIELDS) {
            rc = cseg__diag(d, CSEG_EPARSE, path, bp->line0 + bp->err_line, 0,
                            "expected %zu fields as in the header, found %zu", ncsv, bp->err_nf);
            goto out;
        }
        const tcol *c = &t->cols[bp->err_col];
        if (bp->err == BERR_RANGE) {
            rc = out_of_range(d, path, bp->line0 + bp->err_line, bp->err_colno, c->name,
                              bp->err_s, bp->err_len);
            goto out;
        }
        if (!c->forced) {
            restart->src = c->src;
            restart->line = bp->line0 + bp->err_line;
            restart->was = c->type;
            shorten(restart->val, sizeof restart->val, bp->err_s, bp->err_len);
            rc = 1;
            goto out;
        }
        char shown[64];
        shorten(shown, sizeof shown, bp->err_s, bp->err_len);
        const char *what = c->type == CSEG_COL_NUMBER ? "a number"
                           : p->date_format          ? "a date in the given --date-format"
                                                     : "a date";
        rc = cseg__diag(d, CSEG_EPARSE, path, bp->line0 + bp->err_line, bp->err_colno,
                        "expected %s in column \"%s\", got \"%s\"", what, c->name, shown);
        goto out;
    }
    {
        long ends = 0;
        for (size_t k = 0; k < np; k++)
            ends += parts[k].ends;
        cseg__csv_consume(r, blen, ends);
    }
out:
    return rc;
}

cseg_coltype cseg__table_infer(const char *s, size_t len, const char *date_format)
{
    double v;
    long long tv;
    int pr = cseg_parse_double(s, len, &v);
    if (pr == 0 || pr == CSEG_ERANGE) /* out of range: a number column, and an error */
        return CSEG_COL_NUMBER;
    return cseg_parse_datetime(s, len, date_format, &tv) == 0 ? CSEG_COL_DATETIME : CSEG_COL_TEXT;
}

/* After a block: chunked reading (cseg__table_read_chunks) hands the rows
 * read so far to fn, and the table starts again with no rows but the same
 * dictionaries; the caller hears how far the reading is. */
static int hand_over(cseg_table *t, cseg_csv *r, const cseg_table_read_params *p,
                     cseg__chunk_fn fn, void *user, const char *path, cseg_diag *d)
{
    int rc = 0;
    if (fn && t->n_rows) {
        rc = fn(t, user);
        t->n_rows = 0;
    }
    if (rc == 0 && p->progress) {
        uint64_t done, total;
        cseg__csv_progress(r, &done, &total);
        if (p->progress(done, total, p->progress_user))
            rc = cseg__diag(d, CSEG_ECANCELED, path, 0, 0, "reading canceled");
    }
    return rc;
}

/* Where a pass reads: the file at path, or (fn non-NULL) what fn reads;
 * path names the input in messages. */
typedef struct insrc {
    const char *path;
    cseg_read_fn fn;
    void *fn_user;
    const cseg_coltype *hint; /* a CSV column's type so far (cseg__table_read_part), or NULL */
} insrc;

/* One pass over the file. On a contradiction in an inferred column, sets
 * *restart_src to its CSV index and returns 1. With fn, rows go to fn a
 * chunk at a time (a block, or CHUNK_ROWS records) instead of piling up. */
static int read_pass(cseg_table **out, const insrc *in, const cseg_table_read_params *p,
                     unsigned char **as_text_io, size_t *n_as_text, retype *restart,
                     cseg__chunk_fn fn, void *user, cseg_diag *d)
{
    cseg_csv *r = NULL;
    cseg_table *t = NULL;
    bpart *parts = NULL;
    const char *path = in->path;
    int rc = in->fn ? cseg_csv_open_reader(&r, in->fn, in->fn_user, path, &p->csv, d)
                    : cseg_csv_open(&r, path, &p->csv, d);
    if (rc < 0)
        return rc;
    size_t ncsv = cseg_csv_n_columns(r);
    /* One flag a CSV column: read as text after a restart. Sized here, once
     * the header is known (the first pass), and kept by the caller. */
    if (!*as_text_io) {
        if (!(*as_text_io = cseg__calloc(ncsv, 1))) {
            cseg_csv_close(r);
            return cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
        }
        *n_as_text = ncsv;
    } else if (*n_as_text != ncsv) {
        cseg_csv_close(r);
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "the file changed while it was read");
    }
    const unsigned char *as_text = *as_text_io;
    t = calloc(1, sizeof *t);
    if (!t || !(t->cols = cseg__calloc(ncsv, sizeof *t->cols))) {
        rc = cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < p->n_specs; s++) {
        int found = 0;
        for (size_t j = 0; j < ncsv && !found; j++)
            found = strcmp(cseg_csv_column_name(r, j), p->specs[s].name) == 0;
        if (!found) {
            rc = cseg__diag(d, CSEG_ENOCOL, path, 1, 0, "column \"%s\" not found in the header",
                            p->specs[s].name);
            goto out;
        }
    }
    for (size_t j = 0; j < ncsv; j++) {
        const char *name = cseg_csv_column_name(r, j);
        const cseg_colspec *spec = NULL;
        for (size_t s = 0; s < p->n_specs && !spec; s++)
            if (strcmp(p->specs[s].name, name) == 0)
                spec = &p->specs[s];
        if ((!spec && p->skip_unlisted) || (spec && spec->type == CSEG_COL_SKIP))
            continue;
        tcol *c = &t->cols[t->n_cols++];
        c->src = j;
        if (!(c->name = cseg__strdup(name)) || index_names(t) < 0) {
            rc = cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
            goto out;
        }
        c->type = spec ? spec->type : CSEG_COL_AUTO;
        c->forced = c->type != CSEG_COL_AUTO;
        c->is_id = spec ? spec->is_id : 0;
        if (as_text[j])
            c->type = CSEG_COL_TEXT;
        else if (!c->forced && in->hint && in->hint[j] != CSEG_COL_AUTO)
            c->type = in->hint[j]; /* decided by the values before this part */
    }
    if (p->row_hash)
        t->hash = malloc(1);
    if (p->row_hash && !t->hash) {
        rc = cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
        goto out;
    }
    for (size_t j = 0; j < t->n_cols; j++)
        if ((rc = col_alloc(&t->cols[j], 0, 0)) < 0)
            goto oom;
    const cseg_csv_field *f;
    size_t nf;
    int nt = cseg__threads(p->n_threads);
    uint64_t seq_until = 0; /* read record by record up to this input offset */
    /* The input may still be read from its mapping. Chunked, it is not
     * mapped but read a block at a time into one buffer, used again for
     * every block: memory stays a chunk's, and each page of a mapping costs
     * a fault on first touch, where the buffer's are paid once (on this
     * machine 76 MB mapped and touched took 37-55 ms, read a MB at a time
     * 18-27 ms; assign of a million customers 0.35 s -> 0.30 s). */
    int mapped_ok = !fn;
    int decided = 0; /* every column's type known, after 1,024 rows */
    size_t rows_told = 0; /* t->n_rows at the last hand_over */
    if (!(parts = cseg__calloc(PARTS_PER_THREAD * (size_t)nt, sizeof *parts))) {
        rc = CSEG_ENOMEM;
        goto oom;
    }
    for (;;) {
        if (!decided && t->n_rows >= 1024) {
            decided = 1;
            for (size_t j = 0; j < t->n_cols && decided; j++)
                decided = t->cols[j].type != CSEG_COL_AUTO;
        }
        if ((fn || p->progress) && t->n_rows - rows_told >= CHUNK_ROWS) {
            if ((rc = hand_over(t, r, p, fn, user, path, d)) < 0)
                goto out;
            rows_told = t->n_rows;
        }
        if (decided && !p->record_by_record && cseg__csv_offset(r) >= seq_until) {
            const char *blk;
            size_t blen;
            long line0;
            /* The whole mapped file as one block when possible (one parallel
             * region for all of it), else a window of BLOCK_BYTES. */
            int mapped =
                mapped_ok && cseg__csv_mapped_block(r, MAP_BLOCK_BYTES, &blk, &blen, &line0);
            rc = mapped ? 1
                        : cseg__csv_block(r, fn ? CHUNK_BLOCK_BYTES : BLOCK_BYTES, &blk, &blen,
                                          &line0, d);
            if (rc < 0)
                goto out;
            if (rc == 1) {
                rc = read_block(t, r, blk, blen, line0, p, nt, parts, restart, path, d);
                if (rc == CSEG_ENOMEM || rc == CSEG_ETOOBIG)
                    goto oom;
                if (rc == 0 && (rc = hand_over(t, r, p, fn, user, path, d)) < 0)
                    goto out;
                rows_told = t->n_rows;
                if (rc == 0)
                    continue;
                if (rc != 2)
                    goto out;
                if (mapped) { /* find the records that need the record path by windows */
                    mapped_ok = 0;
                    continue;
                }
                seq_until = cseg__csv_offset(r) + blen;
            }
        }
        if ((rc = cseg_csv_next(r, &f, &nf, d)) <= 0)
            break;
        if (nf != ncsv) {
            rc = cseg__diag(d, CSEG_EPARSE, path, cseg_csv_line(r), 0,
                            "expected %zu fields as in the header, found %zu", ncsv, nf);
            goto out;
        }
        if (t->n_rows == t->cap_rows && (rc = grow_rows(t)) < 0)
            goto oom;
        size_t i = t->n_rows;
        t->lines[i] = cseg_csv_line(r);
        if (t->hash) {
            uint64_t h = 0;
            for (size_t j = 0; j < nf; j++)
                h = hash_field(h, f[j].ptr, f[j].len);
            t->hash[i] = h;
        }
        for (size_t jc = 0; jc < t->n_cols; jc++) {
            tcol *c = &t->cols[jc];
            const cseg_csv_field *fv = &f[c->src];
            const char *s = fv->ptr;
            size_t len = fv->len;
            if (cseg_is_missing(s, len)) {
                switch (c->type) {
                case CSEG_COL_NUMBER:
                    c->num[i] = NAN;
                    break;
                case CSEG_COL_DATETIME:
                    c->tim[i] = CSEG_TIME_NA;
                    break;
                case CSEG_COL_TEXT:
                    c->code[i] = -1;
                    break;
                default:
                    break;
                }
                continue;
            }
            if (c->type == CSEG_COL_AUTO) {
                c->type = cseg__table_infer(s, len, p->date_format);
                if ((rc = col_alloc(c, t->cap_rows, i)) < 0)
                    goto oom;
            }
            const char *what = NULL;
            switch (c->type) {
            case CSEG_COL_NUMBER: {
                int pr = cseg_parse_double(s, len, &c->num[i]);
                if (pr == CSEG_ERANGE) {
                    rc = out_of_range(d, path, cseg__csv_line_of(r, c->src),
                                      cseg_csv_column_of(r, c->src), c->name, s, len);
                    goto out;
                }
                if (pr < 0)
                    what = "a number";
                break;
            }
            case CSEG_COL_DATETIME: {
                long long tv;
                if (cseg_parse_datetime(s, len, p->date_format, &tv) < 0)
                    what = p->date_format ? "a date in the given --date-format" : "a date";
                else
                    c->tim[i] = tv;
                break;
            }
            default: {
                if (c->is_id)
                    cseg__id_normalize(&s, &len);
                int32_t code = intern(c, s, len);
                if (code == CSEG_EPARSE) {
                    rc = not_utf8(d, path, cseg__csv_line_of(r, c->src),
                                  cseg_csv_column_of(r, c->src), c->name,
                                  (unsigned char)s[cseg__utf8_invalid_at(s, len)]);
                    goto out;
                }
                if (code < 0) {
                    rc = code;
                    goto oom;
                }
                c->code[i] = code;
                break;
            }
            }
            if (what) {
                if (!c->forced) {
                    restart->src = c->src;
                    restart->line = cseg__csv_line_of(r, c->src);
                    restart->was = c->type;
                    shorten(restart->val, sizeof restart->val, s, len);
                    rc = 1;
                    goto out;
                }
                char shown[64];
                shorten(shown, sizeof shown, s, len);
                rc = cseg__diag(d, CSEG_EPARSE, path, cseg__csv_line_of(r, c->src),
                                cseg_csv_column_of(r, c->src),
                                "expected %s in column \"%s\", got \"%s\"", what, c->name, shown);
                goto out;
            }
        }
        t->n_rows++;
    }
    if (rc < 0)
        goto out;
    if ((rc = hand_over(t, r, p, fn, user, path, d)) < 0)
        goto out;
    /* Columns that never saw a value are empty number columns. */
    for (size_t j = 0; j < t->n_cols; j++) {
        tcol *c = &t->cols[j];
        if (c->type == CSEG_COL_AUTO) {
            c->type = CSEG_COL_NUMBER;
            if ((rc = col_alloc(c, t->n_rows, t->n_rows)) < 0)
                goto oom;
        }
    }
    rc = 0;
    goto out;
oom:
    rc = cseg__diag(d, rc == CSEG_ETOOBIG ? CSEG_ETOOBIG : CSEG_ENOMEM, path, 0, 0,
                    "out of memory while reading");
out:
    if (parts)
        parts_free(parts, PARTS_PER_THREAD * (size_t)cseg__threads(p->n_threads), t ? t->n_cols : 0);
    cseg_csv_close(r);
    if (rc != 0) {
        cseg_table_free(t);
        t = NULL;
    }
    *out = t;
    return rc;
}

static int read_chunks(const insrc *in, const cseg_table_read_params *p, cseg__chunk_fn fn,
                       void *user, cseg_table **dict, cseg_diag *d)
{
    const char *path = in->path;
    *dict = NULL;
    /* A column whose type is inferred may need a second pass, after its
     * first rows are gone: every column read must have its type given. */
    if (!p->skip_unlisted)
        return cseg__diag(d, CSEG_EINVAL, path, 0, 0, "chunked reading needs the columns listed");
    for (size_t s = 0; s < p->n_specs; s++)
        if (p->specs[s].type == CSEG_COL_AUTO)
            return cseg__diag(d, CSEG_EINVAL, path, 0, 0,
                              "chunked reading needs the type of column \"%s\"", p->specs[s].name);
    unsigned char *as_text = NULL;
    size_t n_as_text = 0;
    retype restart = {0};
    cseg_table *t = NULL;
    int rc = read_pass(&t, in, p, &as_text, &n_as_text, &restart, fn, user, d);
    free(as_text);
    *dict = t;
    return rc == 1 ? cseg__diag(d, CSEG_EPARSE, path, 0, 0, "cannot settle column types") : rc;
}

int cseg__table_read_chunks(const char *path, const cseg_table_read_params *p, cseg__chunk_fn fn,
                            void *user, cseg_table **dict, cseg_diag *d)
{
    insrc in = {path, NULL, NULL, NULL};
    return read_chunks(&in, p, fn, user, dict, d);
}

int cseg__table_read_chunks_from(cseg_read_fn read, void *read_user, const char *name,
                                 const cseg_table_read_params *p, cseg__chunk_fn fn, void *user,
                                 cseg_table **dict, cseg_diag *d)
{
    insrc in = {name, read, read_user, NULL};
    return read_chunks(&in, p, fn, user, dict, d);
}

int cseg_table_read_csv(cseg_table **out, const char *path, const cseg_table_read_params *p,
                        cseg_diag *d)
{
    const insrc in = {path, NULL, NULL, NULL};
    cseg_table_read_params defaults;
    unsigned char *as_text = NULL; /* one flag a CSV column, made by the first pass */
    size_t n_as_text = 0;
    int rc;
    *out = NULL;
    if (!p) {
        cseg_table_read_params_init(&defaults);
        p = &defaults;
    }
    retype *why = NULL; /* the value behind each restart */
    size_t n_why = 0;
    for (;;) {
        retype restart = {0};
        rc = read_pass(out, &in, p, &as_text, &n_as_text, &restart, NULL, NULL, d);
        if (rc != 1)
            break;
        if (as_text[restart.src]) {
            rc = cseg__diag(d, CSEG_EPARSE, path, 0, 0, "cannot settle column types");
            break;
        }
        as_text[restart.src] = 1;
        retype *nw = cseg__reallocarray(why, n_why + 1, sizeof *why);
        if (!nw) {
            rc = cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
            break;
        }
        why = nw;
        why[n_why++] = restart;
    }
    for (size_t w = 0; rc == 0 && w < n_why; w++)
        if ((rc = cseg__table_set_text_because(*out, &why[w])) < 0) {
            cseg_table_free(*out);
            *out = NULL;
            rc = cseg__diag(d, rc, path, 0, 0, "out of memory");
        }
    free(why);
    free(as_text);
    return rc;
}

int cseg__table_set_text_because(cseg_table *t, const cseg__retype *why)
{
    for (size_t j = 0; j < t->n_cols; j++) {
        tcol *c = &t->cols[j];
        if (c->src == why->src && !c->why_text && !c->borrowed) {
            if (!(c->why_text = cseg__strdup(why->val)))
                return CSEG_ENOMEM;
            c->why_line = why->line;
            c->why_was = why->was;
        }
    }
    return 0;
}

int cseg__table_read_part(cseg_table **out, cseg_read_fn read, void *user, const char *name,
                          const cseg_table_read_params *p, const unsigned char *as_text,
                          size_t n_csv, const cseg_coltype *hint, long line_add, cseg__retype *stop,
                          cseg_diag *d)
{
    insrc in = {name, read, user, hint};
    unsigned char *at = malloc(n_csv ? n_csv : 1);
    size_t n_at = n_csv;
    *out = NULL;
    memset(stop, 0, sizeof *stop);
    if (!at)
        return cseg__diag(d, CSEG_ENOMEM, name, 0, 0, "out of memory");
    memcpy(at, as_text, n_csv);
    int rc = read_pass(out, &in, p, &at, &n_at, stop, NULL, NULL, d);
    free(at);
    /* Lines of the file, not of the part: the part's first data line is
     * line 2 of what read() gives (after the header). */
    if (rc == 0)
        for (size_t i = 0; i < (*out)->n_rows; i++)
            (*out)->lines[i] += line_add;
    else if (rc == 1)
        stop->line += line_add;
    else if (d && d->line >= 2)
        d->line += line_add;
    return rc;
}

/* ---- a table in one block of bytes (cseg__table_pack) ----
 * u64 rows, u64 columns, u8 with hashes; each column's u8 type; then each
 * column's values (numbers and times 8 bytes a row; text: u64 levels, each
 * level's u64 length and bytes, then 4-byte codes a row), the rows' lines
 * (8 bytes each) and hashes. Native byte order: the ranks of one job. */

static void put_u64(cseg__buf *b, uint64_t v)
{
    cseg__buf_put(b, &v, sizeof v);
}

/* A packed block's head: rows, columns, whether rows carry hashes, the
 * columns' types. */
static void put_header(const cseg_table *t, size_t n, cseg__buf *b)
{
    put_u64(b, n);
    put_u64(b, t->n_cols);
    unsigned char h = t->hash != NULL;
    cseg__buf_put(b, &h, 1);
    for (size_t j = 0; j < t->n_cols; j++) {
        unsigned char ty = (unsigned char)t->cols[j].type;
        cseg__buf_put(b, &ty, 1);
    }
}

int cseg__table_pack(const cseg_table *t, cseg__buf *b)
{
    size_t n = t->n_rows;
    put_header(t, n, b);
    for (size_t j = 0; j < t->n_cols && !b->failed; j++) {
        const tcol *c = &t->cols[j];
        if (c->type == CSEG_COL_NUMBER) {
            cseg__buf_put(b, c->num, n * sizeof *c->num);
        } else if (c->type == CSEG_COL_DATETIME) {
            cseg__buf_put(b, c->tim, n * sizeof *c->tim);
        } else if (c->type == CSEG_COL_TEXT) {
            put_u64(b, c->n_levels);
            for (size_t k = 0; k < c->n_levels; k++) {
                const char *l = c->pool + c->off[k];
                size_t len = strlen(l);
                put_u64(b, len);
                cseg__buf_put(b, l, len);
            }
            cseg__buf_put(b, c->code, n * sizeof *c->code);
        }
    }
    cseg__buf_put(b, t->lines, n * sizeof *t->lines);
    if (t->hash)
        cseg__buf_put(b, t->hash, n * sizeof *t->hash);
    return b->failed ? CSEG_ENOMEM : 0;
}

int cseg__table_pack_schema(const cseg_table *t, cseg__buf *b)
{
    put_u64(b, t->n_cols);
    unsigned char h = t->hash != NULL;
    cseg__buf_put(b, &h, 1);
    for (size_t j = 0; j < t->n_cols; j++) {
        const tcol *c = &t->cols[j];
        unsigned char ty = (unsigned char)c->type, why = c->why_text != NULL,
                      was = (unsigned char)c->why_was;
        int64_t line = c->why_line;
        cseg__buf_put(b, &ty, 1);
        put_u64(b, c->src);
        cseg__buf_put(b, c->name, strlen(c->name) + 1);
        cseg__buf_put(b, &why, 1);
        if (why) {
            cseg__buf_put(b, &was, 1);
            cseg__buf_put(b, &line, 8);
            cseg__buf_put(b, c->why_text, strlen(c->why_text) + 1);
        }
    }
    return b->failed ? CSEG_ENOMEM : 0;
}

/* The text at *p (NUL-ended before e), *p moved past it; NULL when short. */
static const char *take_text(const char **p, const char *e)
{
    const char *z = *p < e ? memchr(*p, 0, (size_t)(e - *p)) : NULL;
    const char *s = *p;
    if (z)
        *p = z + 1;
    return z ? s : NULL;
}

int cseg__table_from_schema(cseg_table **out, const char *p, size_t size)
{
    const char *e = p + size;
    *out = NULL;
    uint64_t n = 0;
    unsigned char h = 0;
    if (size < 9)
        return CSEG_EINVAL;
    memcpy(&n, p, 8);
    h = (unsigned char)p[8];
    p += 9;
    if (n > size)
        return CSEG_EINVAL;
    const char **names = calloc(n ? (size_t)n : 1, sizeof *names);
    cseg_coltype *types = calloc(n ? (size_t)n : 1, sizeof *types);
    size_t *src = calloc(n ? (size_t)n : 1, sizeof *src);
    retype *why = calloc(n ? (size_t)n : 1, sizeof *why);
    int rc = names && types && src && why ? 0 : CSEG_ENOMEM;
    for (size_t j = 0; rc == 0 && j < n; j++) {
        uint64_t sj = 0;
        unsigned char has = 0;
        if (e - p < 9) {
            rc = CSEG_EINVAL;
            break;
        }
        types[j] = (cseg_coltype)(unsigned char)*p;
        memcpy(&sj, p + 1, 8);
        p += 9;
        src[j] = (size_t)sj;
        if (!(names[j] = take_text(&p, e)) || p >= e) {
            rc = CSEG_EINVAL;
            break;
        }
        has = (unsigned char)*p++;
        why[j].src = (size_t)-1;
        if (!has)
            continue;
        int64_t line = 0;
        if (e - p < 9) {
            rc = CSEG_EINVAL;
            break;
        }
        why[j].was = (cseg_coltype)(unsigned char)*p;
        memcpy(&line, p + 1, 8);
        p += 9;
        why[j].line = (long)line;
        why[j].src = src[j];
        const char *v = take_text(&p, e);
        if (!v)
            rc = CSEG_EINVAL;
        else
            snprintf(why[j].val, sizeof why[j].val, "%s", v);
    }
    if (rc == 0)
        rc = empty_table(out, (size_t)n, names, types, h);
    for (size_t j = 0; rc == 0 && j < n; j++)
        (*out)->cols[j].src = src[j];
    for (size_t j = 0; rc == 0 && j < n; j++)
        if (why[j].src != (size_t)-1)
            rc = cseg__table_set_text_because(*out, &why[j]);
    if (rc < 0 && *out) {
        cseg_table_free(*out);
        *out = NULL;
    }
    free(names), free(types), free(src), free(why);
    return rc;
}

int cseg__table_pack_rows(const cseg_table *t, size_t i0, size_t i1, cseg__buf *b)
{
    size_t n = i1 - i0;
    int32_t *map = NULL, *inv = NULL, *code = NULL;
    put_header(t, n, b);
    for (size_t j = 0; j < t->n_cols && !b->failed; j++) {
        const tcol *c = &t->cols[j];
        if (c->type == CSEG_COL_NUMBER) {
            cseg__buf_put(b, c->num + i0, n * sizeof *c->num);
        } else if (c->type == CSEG_COL_DATETIME) {
            cseg__buf_put(b, c->tim + i0, n * sizeof *c->tim);
        } else if (c->type == CSEG_COL_TEXT) {
            /* Only the levels of these rows, in the order they first
             * appear in them (as a reading of these rows alone makes
             * them), the codes renumbered. */
            size_t nlv = c->n_levels ? c->n_levels : 1;
            int32_t *nm = cseg__reallocarray(map, nlv, sizeof *nm);
            if (nm)
                map = nm;
            int32_t *ni = nm ? cseg__reallocarray(inv, nlv, sizeof *ni) : NULL;
            if (ni)
                inv = ni;
            int32_t *nc = ni ? cseg__reallocarray(code, n ? n : 1, sizeof *nc) : NULL;
            if (nc)
                code = nc;
            if (!nc) {
                b->failed = 1;
                break;
            }
            for (size_t k = 0; k < c->n_levels; k++)
                map[k] = -1;
            size_t nl = 0;
            for (size_t i = 0; i < n; i++) {
                int32_t v = c->code[i0 + i];
                if (v >= 0 && map[v] < 0) {
                    inv[nl] = v;
                    map[v] = (int32_t)nl++;
                }
                code[i] = v < 0 ? v : map[v];
            }
            put_u64(b, nl);
            for (size_t k = 0; k < nl; k++) {
                const char *l = c->pool + c->off[inv[k]];
                size_t len = strlen(l);
                put_u64(b, len);
                cseg__buf_put(b, l, len);
            }
            cseg__buf_put(b, code, n * sizeof *code);
        }
    }
    free(map);
    free(inv);
    free(code);
    cseg__buf_put(b, t->lines + i0, n * sizeof *t->lines);
    if (t->hash)
        cseg__buf_put(b, t->hash + i0, n * sizeof *t->hash);
    return b->failed ? CSEG_ENOMEM : 0;
}

/* Take n bytes at *p (within end) into out; 0, or CSEG_EINVAL when short. */
static int take(const char **p, const char *end, void *out, size_t n)
{
    if ((size_t)(end - *p) < n)
        return CSEG_EINVAL;
    if (out)
        memcpy(out, *p, n);
    *p += n;
    return 0;
}

int cseg__table_append_packed(cseg_table *t, const char *p, size_t size, cseg_diag *d)
{
    const char *e = p + size;
    uint64_t n = 0, nc = 0;
    unsigned char h = 0;
    if (take(&p, e, &n, 8) || take(&p, e, &nc, 8) || take(&p, e, &h, 1) || nc != t->n_cols ||
        (h != 0) != (t->hash != NULL) || n > (uint64_t)(SIZE_MAX / 16) - t->n_rows)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "the parts of a table do not match");
    for (size_t j = 0; j < t->n_cols; j++) {
        unsigned char ty;
        if (take(&p, e, &ty, 1) || ty != (unsigned char)t->cols[j].type)
            return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "the parts of a table do not match");
    }
    size_t n0 = t->n_rows, m = (size_t)n;
    if (n0 + m > t->cap_rows && resize_rows(t, n0 + m) < 0)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    int32_t *remap = NULL;
    int rc = 0;
    for (size_t j = 0; j < t->n_cols && rc == 0; j++) {
        tcol *c = &t->cols[j];
        if (c->type == CSEG_COL_NUMBER) {
            rc = take(&p, e, c->num + n0, m * sizeof *c->num);
        } else if (c->type == CSEG_COL_DATETIME) {
            rc = take(&p, e, c->tim + n0, m * sizeof *c->tim);
        } else if (c->type == CSEG_COL_TEXT) {
            /* The part's levels, in their order, into this table's
             * dictionary: levels new here come after those before, as
             * one reading in order adds them. */
            uint64_t nl = 0;
            if ((rc = take(&p, e, &nl, 8)) < 0 || nl > (uint64_t)(e - p)) {
                rc = CSEG_EINVAL;
                break;
            }
            int32_t *nr = cseg__reallocarray(remap, nl ? (size_t)nl : 1, sizeof *nr);
            if (!nr) {
                rc = CSEG_ENOMEM;
                break;
            }
            remap = nr;
            for (uint64_t k = 0; k < nl && rc == 0; k++) {
                uint64_t len = 0;
                if ((rc = take(&p, e, &len, 8)) < 0 || len > (uint64_t)(e - p)) {
                    rc = CSEG_EINVAL;
                    break;
                }
                int32_t code = intern(c, p, (size_t)len);
                p += len;
                if (code < 0)
                    rc = code == CSEG_EPARSE ? CSEG_EINVAL : code;
                else
                    remap[k] = code;
            }
            for (size_t i = 0; i < m && rc == 0; i++) {
                int32_t v;
                if ((rc = take(&p, e, &v, sizeof v)) < 0)
                    break;
                if (v >= (int64_t)nl) {
                    rc = CSEG_EINVAL;
                    break;
                }
                c->code[n0 + i] = v < 0 ? -1 : remap[v];
            }
        }
    }
    free(remap);
    if (rc == 0)
        rc = take(&p, e, t->lines + n0, m * sizeof *t->lines);
    if (rc == 0 && t->hash)
        rc = take(&p, e, t->hash + n0, m * sizeof *t->hash);
    if (rc == 0 && p != e)
        rc = CSEG_EINVAL;
    if (rc == CSEG_EINVAL)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "the parts of a table do not match");
    if (rc < 0)
        return cseg__diag(d, rc == CSEG_ETOOBIG ? CSEG_ETOOBIG : CSEG_ENOMEM, NULL, 0, 0,
                          rc == CSEG_ETOOBIG ? "too many distinct values" : "out of memory");
    t->n_rows = n0 + m;
    return 0;
}

const char *cseg_table_text_because(const cseg_table *t, size_t j, long *line, cseg_coltype *was)
{
    if (j >= t->n_cols || !t->cols[j].why_text)
        return NULL;
    if (line)
        *line = t->cols[j].why_line;
    if (was)
        *was = t->cols[j].why_was;
    return t->cols[j].why_text;
}

size_t cseg_table_n_rows(const cseg_table *t)
{
    return t->n_rows;
}

size_t cseg_table_n_cols(const cseg_table *t)
{
    return t->n_cols;
}

const char *cseg_table_col_name(const cseg_table *t, size_t j)
{
    return j < t->n_cols ? t->cols[j].name : NULL;
}

cseg_coltype cseg_table_col_type(const cseg_table *t, size_t j)
{
    return j < t->n_cols ? t->cols[j].type : CSEG_COL_SKIP;
}

long cseg_table_find(const cseg_table *t, const char *name)
{
    if (!t->nidx)
        return -1;
    size_t i = (size_t)cseg__hash(name, strlen(name), 0) & (t->nicap - 1);
    for (; t->nidx[i] >= 0; i = (i + 1) & (t->nicap - 1))
        if (strcmp(t->cols[t->nidx[i]].name, name) == 0)
            return t->nidx[i];
    return -1;
}

const double *cseg_table_numbers(const cseg_table *t, size_t j)
{
    return j < t->n_cols && t->cols[j].type == CSEG_COL_NUMBER ? t->cols[j].num : NULL;
}

double *cseg__table_numbers_mut(cseg_table *t, size_t j)
{
    return j < t->n_cols && t->cols[j].type == CSEG_COL_NUMBER ? t->cols[j].num : NULL;
}

const int64_t *cseg_table_times(const cseg_table *t, size_t j)
{
    return j < t->n_cols && t->cols[j].type == CSEG_COL_DATETIME ? t->cols[j].tim : NULL;
}

const int32_t *cseg_table_codes(const cseg_table *t, size_t j)
{
    return j < t->n_cols && t->cols[j].type == CSEG_COL_TEXT ? t->cols[j].code : NULL;
}

int cseg__table_no_values(const cseg_table *t, size_t j)
{
    if (j >= t->n_cols)
        return 0;
    const tcol *c = &t->cols[j];
    for (size_t i = 0; i < t->n_rows; i++)
        if (c->type == CSEG_COL_NUMBER     ? !isnan(c->num[i])
            : c->type == CSEG_COL_TEXT     ? c->code[i] >= 0
            : c->type == CSEG_COL_DATETIME ? c->tim[i] != CSEG_TIME_NA
                                           : 1)
            return 0;
    return 1;
}

size_t cseg_table_n_levels(const cseg_table *t, size_t j)
{
    return j < t->n_cols ? t->cols[j].n_levels : 0;
}

const char *cseg_table_level(const cseg_table *t, size_t j, int32_t code)
{
    if (j >= t->n_cols || code < 0 || (size_t)code >= t->cols[j].n_levels)
        return NULL;
    return t->cols[j].pool + t->cols[j].off[code];
}

const uint64_t *cseg_table_row_hashes(const cseg_table *t)
{
    return t->hash;
}

void cseg__table_number_rows(cseg_table *t, long first)
{
    for (size_t i = 0; t->lines && i < t->n_rows; i++)
        t->lines[i] = first + (long)i;
}

long cseg_table_row_line(const cseg_table *t, size_t i)
{
    return t->lines && i < t->n_rows ? t->lines[i] : 0;
}

static tcol *add_col(cseg_table *t, const char *name)
{
    if (cseg_table_find(t, name) >= 0)
        return NULL;
    tcol *nc = cseg__reallocarray(t->cols, t->n_cols + 1, sizeof *nc);
    if (!nc)
        return NULL;
    t->cols = nc;
    tcol *c = &t->cols[t->n_cols];
    memset(c, 0, sizeof *c);
    if (!(c->name = cseg__strdup(name)))
        return NULL;
    t->n_cols++;
    if (index_names(t) < 0) {
        col_free(c);
        t->n_cols--;
        return NULL;
    }
    return c;
}

int cseg_table_add_numbers(cseg_table *t, const char *name, const double *values)
{
    if (cseg_table_find(t, name) >= 0)
        return CSEG_EINVAL;
    tcol *c = add_col(t, name);
    if (!c)
        return CSEG_ENOMEM;
    c->type = CSEG_COL_NUMBER;
    if (!(c->num = cseg__realloc_huge(NULL, t->n_rows ? t->n_rows : 1, sizeof *c->num)))
        return CSEG_ENOMEM;
    if (t->n_rows)
        memcpy(c->num, values, t->n_rows * sizeof *c->num);
    return 0;
}

int cseg_table_add_text(cseg_table *t, const char *name, const char *const *levels,
                        size_t n_levels, const int32_t *codes)
{
    if (cseg_table_find(t, name) >= 0)
        return CSEG_EINVAL;
    for (size_t i = 0; i < t->n_rows; i++)
        if (codes[i] < -1 || (codes[i] >= 0 && (size_t)codes[i] >= n_levels))
            return CSEG_EINVAL;
    tcol *c = add_col(t, name);
    if (!c)
        return CSEG_ENOMEM;
    c->type = CSEG_COL_TEXT;
    for (size_t k = 0; k < n_levels; k++) {
        /* Levels are kept in order; duplicates are allowed and keep their own code. */
        size_t len = strlen(levels[k]);
        if (c->n_levels == c->cap_levels) {
            size_t ncap = c->cap_levels ? c->cap_levels * 2 : 16;
            size_t *o = cseg__reallocarray(c->off, ncap, sizeof *o);
            if (!o)
                return CSEG_ENOMEM;
            c->off = o;
            c->cap_levels = ncap;
        }
        if (c->pool_len + len + 1 > c->pool_cap) {
            size_t ncap = c->pool_cap ? c->pool_cap * 2 : 256;
            while (ncap < c->pool_len + len + 1)
                ncap *= 2;
            char *np = realloc(c->pool, ncap);
            if (!np)
                return CSEG_ENOMEM;
            c->pool = np;
            c->pool_cap = ncap;
        }
        memcpy(c->pool + c->pool_len, levels[k], len + 1);
        c->off[c->n_levels++] = c->pool_len;
        c->pool_len += len + 1;
    }
    if (!(c->code = cseg__realloc_huge(NULL, t->n_rows ? t->n_rows : 1, sizeof *c->code)))
        return CSEG_ENOMEM;
    if (t->n_rows)
        memcpy(c->code, codes, t->n_rows * sizeof *c->code);
    return 0;
}

/* ---- writing CSV ----
 *
 * Rows are formatted into memory a block at a time, blocks in parallel
 * (OpenMP), and written in order: the same bytes for any thread count.
 * Formatting is by hand (cseg__format_double, the integer and date digits
 * here): printf and a stdio call per field were most of the time of writing
 * a million customers. */

static void put_text(cseg__buf *b, const char *s)
{
    size_t n = strlen(s);
    int need = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (const char *q = s; *q && !need; q++)
        need = *q == ',' || *q == '"' || *q == '\n' || *q == '\r';
    if (!need) {
        cseg__buf_put(b, s, n);
        return;
    }
    if (cseg__buf_room(b, 2 * n + 2) < 0)
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (const char *q = s; *q; q++) {
        if (*q == '"')
            *o++ = '"';
        *o++ = *q;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
}

void cseg__csv_put_text(cseg__buf *b, const char *s)
{
    put_text(b, s);
}

static void put_number(cseg__buf *b, double v)
{
    if (isnan(v) || cseg__buf_room(b, 48) < 0)
        return;
    char *o = b->p + b->len;
    if (v == floor(v) && fabs(v) < 1e15) { /* as "%lld" */
        if (v < 0)
            *o++ = '-';
        o = cseg__put_digits(o, (unsigned long long)fabs(v), 1);
        b->len = (size_t)(o - b->p);
        return;
    }
    b->len += (size_t)cseg__format_double(o, 48, v);
}

void cseg__csv_put_number(cseg__buf *b, double v)
{
    put_number(b, v);
}

static void put_time(cseg__buf *b, int64_t tv)
{
    if (tv == CSEG_TIME_NA || cseg__buf_room(b, 64) < 0)
        return;
    int64_t day = cseg__day_of(tv), sec = tv - day * 86400;
    b->len += (size_t)cseg_format_date(day, b->p + b->len, 64);
    char *o = b->p + b->len;
    if (sec != 0) {
        *o++ = ' ';
        o = cseg__put_digits(o, (unsigned long long)(sec / 3600), 2);
        *o++ = ':';
        o = cseg__put_digits(o, (unsigned long long)(sec / 60 % 60), 2);
        *o++ = ':';
        o = cseg__put_digits(o, (unsigned long long)(sec % 60), 2);
    }
    b->len = (size_t)(o - b->p);
}

/* A text column's levels as written: quoted where needed, made once. */
typedef struct quoted {
    char *pool;
    size_t *off, *len;
} quoted;

static void quoted_free(quoted *q, size_t n_cols)
{
    for (size_t j = 0; q && j < n_cols; j++) {
        free(q[j].pool);
        free(q[j].off);
        free(q[j].len);
    }
    free(q);
}

static quoted *quote_levels(const cseg_table *t)
{
    quoted *q = calloc(t->n_cols ? t->n_cols : 1, sizeof *q);
    for (size_t j = 0; q && j < t->n_cols; j++) {
        const tcol *c = &t->cols[j];
        if (c->type != CSEG_COL_TEXT)
            continue;
        cseg__buf b = {0};
        q[j].off = malloc((c->n_levels ? c->n_levels : 1) * sizeof *q[j].off);
        q[j].len = malloc((c->n_levels ? c->n_levels : 1) * sizeof *q[j].len);
        for (size_t l = 0; q[j].off && q[j].len && l < c->n_levels; l++) {
            q[j].off[l] = b.len;
            put_text(&b, c->pool + c->off[l]);
            q[j].len[l] = b.len - q[j].off[l];
        }
        q[j].pool = b.p;
        if (!q[j].off || !q[j].len || b.failed) {
            quoted_free(q, t->n_cols);
            return NULL;
        }
    }
    return q;
}

static void put_rows(const cseg_table *t, const quoted *qt, size_t i0, size_t i1, cseg__buf *b)
{
    for (size_t i = i0; i < i1; i++) {
        for (size_t j = 0; j < t->n_cols; j++) {
            const tcol *c = &t->cols[j];
            if (j)
                cseg__buf_put(b, ",", 1);
            switch (c->type) {
            case CSEG_COL_NUMBER:
                put_number(b, c->num[i]);
                break;
            case CSEG_COL_DATETIME:
                put_time(b, c->tim[i]);
                break;
            case CSEG_COL_TEXT:
                if (c->code[i] >= 0)
                    cseg__buf_put(b, qt[j].pool + qt[j].off[c->code[i]], qt[j].len[c->code[i]]);
                break;
            default:
                break;
            }
        }
        cseg__buf_put(b, "\n", 1);
    }
}

#define WRITE_BLOCK_ROWS 4096
#define WRITE_TELL_BLOCKS 16
#define WRITE_SYNC_BLOCKS 64

int cseg_table_print_csv(const cseg_table *t, FILE *f)
{
    return cseg__table_print_csv_fn(t, f, NULL, NULL);
}

int cseg__csv_write_rows(FILE *f, size_t n, cseg__put_rows_fn put, void *put_user,
                         cseg__rows_fn fn, void *user, size_t *blocks, long long *synced)
{
    int nt = cseg__threads(0), rc = 0;
    (void)nt; /* unused without OpenMP */
    size_t nblk = (n + WRITE_BLOCK_ROWS - 1) / WRITE_BLOCK_ROWS;
    /* Each thread formats a block into its own buffer, then waits its turn
     * to write it (ordered): writing one block overlaps formatting the next. */
    /* fn, if any, hears of the rows written on the calling thread (the
     * team's first), at most every WRITE_TELL_BLOCKS blocks. */
    size_t told = 0;
#pragma omp parallel num_threads(nt) default(none)                                             \
    shared(f, n, put, put_user, nblk, rc, fn, user, told, blocks, synced) if (nblk > 1)
    {
        cseg__buf mine = {0};
#ifdef _OPENMP
        int caller = omp_get_thread_num() == 0;
#else
        int caller = 1;
#endif
#pragma omp for ordered schedule(static, 1)
        for (size_t b = 0; b < nblk; b++) {
            size_t i0 = b * WRITE_BLOCK_ROWS, i1 = i0 + WRITE_BLOCK_ROWS;
            i1 = i1 < n ? i1 : n;
            mine.len = 0;
            if (!mine.failed)
                put(put_user, i0, i1, &mine);
#pragma omp ordered
            {
                if (rc == 0 && mine.failed)
                    rc = CSEG_ENOMEM;
                else if (rc == 0 && fwrite(mine.p, 1, mine.len, f) != mine.len)
                    rc = CSEG_EIO;
                else if (rc == 0 && fn && caller && b % WRITE_TELL_BLOCKS == 0 &&
                         fn(told = i1, n, user) != 0)
                    rc = CSEG_ECANCELED;
                /* the disk writes started every WRITE_SYNC_BLOCKS blocks */
                if (rc == 0 && ++*blocks % WRITE_SYNC_BLOCKS == 0)
                    cseg__writeback(f, synced);
            }
        }
        free(mine.p);
    }
    if (rc == 0 && fn && told < n && fn(n, n, user) != 0)
        rc = CSEG_ECANCELED;
    return rc;
}

typedef struct table_rows {
    const cseg_table *t;
    const quoted *qt;
} table_rows;

static void put_table_rows(void *user, size_t i0, size_t i1, cseg__buf *b)
{
    const table_rows *tr = user;
    put_rows(tr->t, tr->qt, i0, i1, b);
}

int cseg__table_print_csv_fn(const cseg_table *t, FILE *f, cseg__rows_fn fn, void *user)
{
    int rc = 0;
    cseg__buf head = {0};
    quoted *qt = quote_levels(t);
    if (!qt)
        return CSEG_ENOMEM;
    for (size_t j = 0; j < t->n_cols; j++) {
        if (j)
            cseg__buf_put(&head, ",", 1);
        put_text(&head, t->cols[j].name);
    }
    cseg__buf_put(&head, "\n", 1);
    if (head.failed || fwrite(head.p, 1, head.len, f) != head.len)
        rc = head.failed ? CSEG_ENOMEM : CSEG_EIO;
    free(head.p);
    size_t blocks = 0;
    long long synced = 0;
    table_rows tr = {t, qt};
    if (rc == 0)
        rc = cseg__csv_write_rows(f, t->n_rows, put_table_rows, &tr, fn, user, &blocks, &synced);
    quoted_free(qt, t->n_cols);
    if (rc == 0 && ferror(f))
        rc = CSEG_EIO;
    return rc;
}

void *cseg__table_csv_begin(const cseg_table *t)
{
    return quote_levels(t);
}

void cseg__table_csv_rows(const cseg_table *t, const void *fmt, size_t i0, size_t i1, cseg__buf *b)
{
    put_rows(t, fmt, i0, i1, b);
}

void cseg__table_csv_end(const cseg_table *t, void *fmt)
{
    quoted_free(fmt, t->n_cols);
}

typedef struct named_level {
    const char *s;
    size_t i;
} named_level;

static int cmp_named_level(const void *a, const void *b)
{
    return strcmp(((const named_level *)a)->s, ((const named_level *)b)->s);
}

/* to[l]: the place of level l of column j among all[0..n_all) (-1: not
 * there), by halving over the sorted names rather than a search each. */
static int level_places(const cseg_table *t, size_t j, const char *const *all, size_t n_all,
                        int32_t *to)
{
    const tcol *c = &t->cols[j];
    named_level *by = malloc((n_all ? n_all : 1) * sizeof *by);
    if (!by)
        return CSEG_ENOMEM;
    for (size_t g = 0; g < n_all; g++)
        by[g] = (named_level){all[g], g};
    qsort(by, n_all, sizeof *by, cmp_named_level); /* then each level by halving */
    for (size_t l = 0; l < c->n_levels; l++) {
        const char *name = c->pool + c->off[l];
        size_t lo = 0, hi = n_all;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(by[mid].s, name) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        to[l] = lo < n_all && strcmp(by[lo].s, name) == 0 ? (int32_t)by[lo].i : -1;
    }
    free(by);
    return 0;
}

static void free_levels(char **lv, size_t n)
{
    for (size_t l = 0; lv && l < n; l++)
        free(lv[l]);
    free(lv);
}

int cseg__table_split_levels(const cseg_table *t, size_t j, const cseg__split_comm *comm,
                             char ***lv, size_t *n, int32_t **to, cseg_diag *d)
{
    size_t nl = cseg_table_n_levels(t, j);
    char **mine = calloc(nl ? nl : 1, sizeof *mine);
    int rc = mine ? 0 : CSEG_ENOMEM;
    for (size_t l = 0; rc == 0 && l < nl; l++)
        if (!(mine[l] = cseg__strdup(cseg_table_level(t, j, (int32_t)l))))
            rc = CSEG_ENOMEM;
    size_t ng = nl;
    *lv = NULL;
    *n = 0;
    *to = NULL;
    if (comm) {
        /* This piece's list in, every piece's out (on failure the list
         * stays this one's: freed here). */
        if (rc < 0) {
            free_levels(mine, nl);
            mine = NULL;
            ng = 0;
        }
        if ((rc = comm->levels(comm->ctx, rc, &mine, &ng, d)) < 0) {
            free_levels(mine, ng);
            return rc;
        }
    }
    int32_t *map = rc == 0 ? malloc((nl ? nl : 1) * sizeof *map) : NULL;
    int bad = rc < 0 || !map;
    for (size_t l = 0; !bad && !comm && l < nl; l++)
        map[l] = (int32_t)l;
    if (!bad && comm && level_places(t, j, (const char *const *)mine, ng, map) < 0)
        bad = 1;
    if (comm) { /* a failure on one piece, every piece's */
        uint64_t b = (uint64_t)bad;
        int r2 = comm->sum(comm->ctx, &b, 1, NULL, 0);
        bad = r2 < 0 || b;
        rc = r2 < 0 ? r2 : rc;
    }
    if (bad) {
        free_levels(mine, ng);
        free(map);
        return rc < 0 ? rc : CSEG_ENOMEM;
    }
    *lv = mine;
    *n = ng;
    *to = map;
    return 0;
}

int cseg_table_write_csv(const cseg_table *t, const char *path, cseg_diag *d)
{
    return cseg__table_write_csv_fn(t, path, NULL, NULL, d);
}

int cseg__table_write_csv_fn(const cseg_table *t, const char *path, cseg__rows_fn fn, void *user,
                             cseg_diag *d)
{
    cseg_atomic_file af;
    int rc = cseg__atomic_open(&af, path, d);
    if (rc < 0)
        return rc;
    if ((rc = cseg__table_print_csv_fn(t, af.f, fn, user)) == CSEG_ENOMEM ||
        rc == CSEG_ECANCELED) {
        cseg__atomic_abort(&af);
        return cseg__diag(d, rc, path, 0, 0, "%s",
                          rc == CSEG_ENOMEM ? "out of memory" : "writing canceled");
    }
    return cseg__atomic_commit(&af, d);
}

const char *cseg__table_cell_text(const cseg_table *t, size_t j, size_t i, char *buf,
                                  size_t size)
{
    const int32_t *code = cseg_table_codes(t, j);
    const double *x = cseg_table_numbers(t, j);
    if (code)
        return code[i] >= 0 ? cseg_table_level(t, j, code[i]) : NULL;
    if (!x || isnan(x[i]) || size == 0)
        return NULL;
    cseg__format_double(buf, size, x[i]);
    return buf;
}

int cseg__table_replace_levels(cseg_table *t, size_t j, const char *const *levels)
{
    tcol *c = &t->cols[j];
    if (c->type != CSEG_COL_TEXT || c->borrowed)
        return CSEG_EINVAL;
    tcol nc;
    memset(&nc, 0, sizeof nc);
    int32_t *map = malloc((c->n_levels ? c->n_levels : 1) * sizeof *map);
    int rc = map ? 0 : CSEG_ENOMEM;
    for (size_t k = 0; k < c->n_levels && rc == 0; k++) {
        int32_t code = intern(&nc, levels[k], strlen(levels[k]));
        if (code < 0)
            rc = code;
        else
            map[k] = code;
    }
    if (rc == 0) {
        for (size_t i = 0; i < t->n_rows; i++)
            if (c->code[i] >= 0)
                c->code[i] = map[c->code[i]];
        free(c->pool);
        free(c->off);
        free(c->lhash);
        free(c->htab);
        c->pool = nc.pool;
        c->pool_len = nc.pool_len;
        c->pool_cap = nc.pool_cap;
        c->off = nc.off;
        c->lhash = nc.lhash;
        c->htab = nc.htab;
        c->n_levels = nc.n_levels;
        c->cap_levels = nc.cap_levels;
        c->hcap = nc.hcap;
    } else {
        free(nc.pool);
        free(nc.off);
        free(nc.lhash);
        free(nc.htab);
    }
    free(map);
    return rc;
}
