/* custseg — assignment of a customer table file, a chunk of rows at a time
 * (cseg_model_assign_csv).
 *
 * The file is read by the table module's chunked reader (a chunk is a block
 * of about 8 MB of text; its table is reused from chunk to chunk) with
 * the model's columns typed as the model has them and every other column
 * skipped; each chunk is assigned (as by cseg_model_assign or _known: row
 * by row, so a chunk's rows get what the whole table's would; the threads'
 * buffers kept from chunk to chunk) and its rows
 * formatted by the threads, a block of 4,096 rows each, and written in
 * order into a temporary file renamed over the output at the end. Memory is
 * a chunk's, not the file's: on this machine a fresh page costs more than
 * the parsing of its text (docs/cli.md, bench/README.md). */
#include <stdlib.h>
#include <string.h>

#include "custseg/model.h"
#include "internal.h"
#include "../core/internal.h"
#include "../table/internal.h"

typedef struct actx {
    const cseg_model *m;
    const char *id; /* the id column, or NULL */
    const char *out; /* the output's path, for messages */
    int keep_known;
    FILE *f;
    cseg__buf names; /* the segment names as written (quoted where needed) */
    size_t *noff, *nlen;
    int32_t *lab;
    double *dist;
    cseg__assign_scratch scratch; /* the threads' buffers, the same for every chunk */
    size_t cap, rows, blocks; /* blocks: written so far (cseg__csv_write_rows) */
    long long synced;
    const cseg_table *chunk; /* the chunk being written and its id column (-1: none) */
    long jid;
    cseg_diag *d;
} actx;

/* Rows [i0, i1) of the chunk as text: id, segment, segment_name, distance. */
static void put_rows(void *user, size_t i0, size_t i1, cseg__buf *b)
{
    const actx *a = user;
    const cseg_table *t = a->chunk;
    for (size_t i = i0; i < i1; i++) {
        if (a->jid >= 0) {
            int32_t c = cseg_table_codes(t, (size_t)a->jid)[i];
            if (c >= 0)
                cseg__csv_put_text(b, cseg_table_level(t, (size_t)a->jid, c));
            cseg__buf_put(b, ",", 1);
        }
        int32_t s = a->lab[i];
        cseg__csv_put_number(b, (double)s + 1);
        cseg__buf_put(b, ",", 1);
        cseg__buf_put(b, a->names.p + a->noff[s], a->nlen[s]);
        cseg__buf_put(b, ",", 1);
        cseg__csv_put_number(b, a->dist[i]);
        cseg__buf_put(b, "\n", 1);
    }
}

static int on_chunk(const cseg_table *t, void *user)
{
    actx *a = user;
    size_t n = cseg_table_n_rows(t);
    if (n > a->cap) {
        int32_t *lab = realloc(a->lab, n * sizeof *lab);
        if (lab)
            a->lab = lab;
        double *dist = lab ? realloc(a->dist, n * sizeof *dist) : NULL;
        if (!dist)
            return cseg__diag(a->d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        a->dist = dist;
        a->cap = n;
    }
    int rc = cseg__model_assign_chunk(a->m, t, a->keep_known ? a->id : NULL, a->lab, a->dist,
                                      &a->scratch, a->d);
    if (rc < 0)
        return rc;
    a->chunk = t;
    a->jid = a->id ? cseg_table_find(t, a->id) : -1;
    rc = cseg__csv_write_rows(a->f, n, put_rows, a, NULL, NULL, &a->blocks, &a->synced);
    if (rc < 0)
        return cseg__diag(a->d, rc, rc == CSEG_EIO ? a->out : NULL, 0, 0, "%s",
                          rc == CSEG_ENOMEM ? "out of memory" : "cannot write");
    a->rows += n;
    return 0;
}

int cseg_model_assign_csv(const cseg_model *m, const char *in_path, const cseg_csv_params *csv,
                          const char *id_column, int keep_known, const char *out_path,
                          size_t *n_rows, cseg_diag *d)
{
    if (n_rows)
        *n_rows = 0;
    if (!cseg_model_prep(m))
        return cseg__diag(d, CSEG_ENOTFIT, NULL, 0, 0, "the model is not fitted");
    const cseg_prep *pp = cseg_model_prep(m);
    size_t nin = pp->n_cols, k = cseg_model_k(m);
    actx a;
    memset(&a, 0, sizeof a);
    a.m = m;
    a.out = out_path;
    a.keep_known = keep_known;
    a.d = d;
    /* The id is optional: left out when the header lacks it. */
    if (id_column) {
        cseg_csv *r = NULL;
        int rc = cseg_csv_open(&r, in_path, csv, d);
        if (rc < 0)
            return rc;
        for (size_t c = 0; c < cseg_csv_n_columns(r) && !a.id; c++)
            if (strcmp(cseg_csv_column_name(r, c), id_column) == 0)
                a.id = id_column;
        cseg_csv_close(r);
    }
    cseg_colspec *specs = calloc(nin + 1, sizeof *specs);
    a.noff = malloc((k ? k : 1) * sizeof *a.noff);
    a.nlen = malloc((k ? k : 1) * sizeof *a.nlen);
    if (!specs || !a.noff || !a.nlen) {
        free(specs);
        free(a.noff);
        free(a.nlen);
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    }
    size_t ns = 0;
    int rc = 0;
    for (size_t j = 0; j < nin; j++) {
        int dup = a.id && strcmp(pp->cols[j].name, a.id) == 0;
        if (!dup)
            specs[ns++] = (cseg_colspec){pp->cols[j].name,
                                         pp->cols[j].categorical ? CSEG_COL_TEXT : CSEG_COL_NUMBER,
                                         0};
    }
    if (a.id)
        specs[ns++] = (cseg_colspec){a.id, CSEG_COL_TEXT, 1};
    for (size_t s = 0; s < k; s++) {
        a.noff[s] = a.names.len;
        cseg__csv_put_text(&a.names, cseg_model_name(m, s));
        a.nlen[s] = a.names.len - a.noff[s];
    }
    cseg__buf head = {0};
    if (a.id) {
        cseg__csv_put_text(&head, a.id);
        cseg__buf_put(&head, ",", 1);
    }
    cseg__buf_put(&head, "segment,segment_name,distance\n", 30);
    cseg_atomic_file af;
    int open = 0;
    if (a.names.failed || head.failed) {
        rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    } else if ((rc = cseg__atomic_open(&af, out_path, d)) == 0) {
        open = 1;
        a.f = af.f;
        if (fwrite(head.p, 1, head.len, af.f) != head.len)
            rc = cseg__diag(d, CSEG_EIO, out_path, 0, 0, "cannot write");
    }
    if (rc == 0) {
        cseg_table_read_params rp;
        cseg_table *dict = NULL;
        cseg_table_read_params_init(&rp);
        rp.csv = *csv;
        rp.specs = specs;
        rp.n_specs = ns;
        rp.skip_unlisted = 1;
        rc = cseg__table_read_chunks(in_path, &rp, on_chunk, &a, &dict, d);
        cseg_table_free(dict);
        if (rc < 0 && d && !d->file[0])
            snprintf(d->file, sizeof d->file, "%s", in_path);
    }
    if (open) {
        if (rc < 0)
            cseg__atomic_abort(&af);
        else
            rc = cseg__atomic_commit(&af, d);
    }
    if (rc == 0 && n_rows)
        *n_rows = a.rows;
    free(specs);
    free(head.p);
    free(a.names.p);
    free(a.noff);
    free(a.nlen);
    free(a.lab);
    free(a.dist);
    cseg__assign_scratch_free(&a.scratch);
    return rc;
}
