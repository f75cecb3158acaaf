/* custseg — audience lists from a stored run (cseg_store_export) and the
 * SHA-256 of an input file. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "custseg/privacy.h"
#include "../core/internal.h"
#include "../csv/internal.h"

void cseg_export_params_init(cseg_export_params *p)
{
    memset(p, 0, sizeof *p);
    p->min_segment_size = 10;
}

typedef struct exporter {
    const cseg_export_params *p;
    FILE *f;
    char **fields;     /* the columns written */
    size_t nf;
    int k;
    const unsigned char *keep; /* per segment 1..k: written */
    size_t rows;
    int failed;
    cseg_diag *d;
    const char *where;
} exporter;

/* A CSV field: quoted when it holds a comma, quote, CR or LF (RFC 4180). */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A field's value as text (numbers in shortest exact form) and whether it is
 * a string; NULL when missing. */
static const char *value_of(const exporter *e, const cseg_store_member *m, json_t *feat,
                            json_t *proba, const char *field, char *buf, size_t size, int *is_text)
{
    *is_text = 0;
    if (strcmp(field, "customer_id") == 0) {
        *is_text = 1;
        if (!e->p->pseudonym_key)
            return m->customer_id;
        /* Never the real id in place of a pseudonym: NULL, and the caller fails. */
        return size > CSEG_PSEUDONYM_LEN && cseg_pseudonym(e->p->pseudonym_key,
                                                           e->p->pseudonym_key_len,
                                                           m->customer_id, buf) == 0
                   ? buf
                   : NULL;
    }
    if (strcmp(field, "segment") == 0) {
        snprintf(buf, size, "%d", m->segment);
        return buf;
    }
    if (strcmp(field, "segment_name") == 0) {
        *is_text = 1;
        return m->segment_name;
    }
    if (strcmp(field, "distance") == 0) {
        if (!isfinite(m->distance))
            return NULL;
        cseg__format_double(buf, size, m->distance);
        return buf;
    }
    json_t *v;
    if (strncmp(field, "p_segment_", 10) == 0 && proba) {
        long c = strtol(field + 10, NULL, 10);
        v = c >= 1 ? json_array_get(proba, (size_t)c - 1) : NULL;
    } else {
        v = json_object_get(feat, field);
    }
    if (json_is_string(v)) {
        *is_text = 1;
        return json_string_value(v);
    }
    if (json_is_number(v)) {
        cseg__format_double(buf, size, json_number_value(v));
        return buf;
    }
    return NULL;
}

static int write_member(const cseg_store_member *m, void *ctx)
{
    exporter *e = ctx;
    if (m->segment < 1 || m->segment > e->k || !e->keep[m->segment])
        return 0;
    json_error_t err;
    json_t *feat = json_loads(m->features_json, 0, &err);
    json_t *proba = m->proba_json ? json_loads(m->proba_json, 0, &err) : NULL;
    if (!json_is_object(feat)) {
        json_decref(feat);
        json_decref(proba);
        e->failed = cseg__diag(e->d, CSEG_EFORMAT, e->where, 0, 0,
                               "the stored features of customer %s are not a JSON object",
                               m->customer_id);
        return 1;
    }
    FILE *f = e->f;
    if (e->p->jsonl)
        fputc('{', f);
    for (size_t j = 0; j < e->nf; j++) {
        char buf[CSEG_PSEUDONYM_LEN + 1];
        int text;
        const char *v = value_of(e, m, feat, proba, e->fields[j], buf, sizeof buf, &text);
        if (!v && e->p->pseudonym_key && strcmp(e->fields[j], "customer_id") == 0) {
            json_decref(feat);
            json_decref(proba);
            e->failed = cseg__diag(e->d, CSEG_EIO, e->where, 0, 0, "cannot make a pseudonym");
            return 1;
        }
        if (e->p->jsonl) {
            json_t *key = json_string(e->fields[j]), *jv = v && text ? json_string(v) : NULL;
            char *ks = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
            char *vs = jv ? json_dumps(jv, JSON_ENCODE_ANY) : NULL;
            fprintf(f, "%s%s: %s", j ? ", " : "", ks ? ks : "\"\"",
                    vs ? vs : v && !text ? v : "null");
            free(ks);
            free(vs);
            json_decref(key);
            json_decref(jv);
        } else {
            if (j)
                fputc(',', f);
            if (v)
                csv_field(f, v);
        }
    }
    fputs(e->p->jsonl ? "}\n" : "\n", f);
    json_decref(feat);
    json_decref(proba);
    e->rows++;
    return 0;
}

typedef struct segrow {
    int segment;
    char *name;
    size_t size;
} segrow;

typedef struct seglist {
    segrow *v;
    size_t n;
    int failed; /* out of memory */
} seglist;

static int seg_row(void *ctx, size_t nc, const char *const *vals)
{
    seglist *l = ctx;
    if (nc < 3 || !vals[0])
        return 0;
    segrow *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
    char *name = cseg__strdup(vals[1] ? vals[1] : "");
    if (!nv || !name) {
        free(name);
        if (nv)
            l->v = nv;
        l->failed = 1;
        return 1;
    }
    l->v = nv;
    l->v[l->n].segment = (int)strtol(vals[0], NULL, 10);
    l->v[l->n].name = name;
    l->v[l->n].size = vals[2] ? (size_t)strtoull(vals[2], NULL, 10) : 0;
    l->n++;
    return 0;
}

static int add_field(exporter *e, const char *name)
{
    char **nf = realloc(e->fields, (e->nf + 1) * sizeof *nf);
    if (!nf)
        return -1;
    e->fields = nf;
    return (e->fields[e->nf] = cseg__strdup(name)) ? (int)(e->nf++, 0) : -1;
}

int cseg_store_export(cseg_store *s, const cseg_export_params *p, const char *path, FILE *f,
                      size_t *rows, cseg_diag *d)
{
    cseg_export_params defaults;
    if (!p) {
        cseg_export_params_init(&defaults);
        p = &defaults;
    }
    int64_t run = p->run_id;
    int rc = 0;
    if (run <= 0 && (rc = cseg_store_last_run(s, &run, d)) < 0)
        return rc;
    if (run <= 0)
        return cseg__diag(d, CSEG_EEMPTY, s->uri, 0, 0, "the store holds no run");
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, run);
    const char *param[1] = {id};
    seglist segs = {NULL, 0, 0};
    if (p->pseudonym_key && (p->pseudonym_key_len < CSEG_KEY_MIN ||
                             p->pseudonym_key_len > CSEG_KEY_MAX))
        return cseg__diag(d, CSEG_EPARAM, NULL, 0, 0, "pseudonymize: a key of %d to %d bytes",
                          CSEG_KEY_MIN, CSEG_KEY_MAX);
    exporter e = {p, f, NULL, 0, 0, NULL, 0, 0, d, s->uri};
    unsigned char *keep = NULL;
    char *first = NULL;
    cseg_atomic_file af;
    int af_open = 0;
    /* A segment's size is its members now: `forget` takes customers out of a
     * run, and the size stored with the run would let a list smaller than
     * the minimum through. */
    if ((rc = s->ops->query(s,
                            "SELECT s.segment, s.name, COALESCE(m.n, 0) FROM cseg_segments s "
                            "LEFT JOIN (SELECT segment, count(*) AS n FROM cseg_memberships "
                            "WHERE run_id = $1 GROUP BY segment) m ON m.segment = s.segment "
                            "WHERE s.run_id = $1 ORDER BY s.segment",
                            "i", param, 1, seg_row, &segs, d)) < 0)
        goto out;
    if (segs.failed) {
        rc = cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
        goto out;
    }
    if (segs.n == 0) {
        rc = cseg__diag(d, CSEG_EEMPTY, s->uri, 0, 0, "no run %s in the store", id);
        goto out;
    }
    e.k = segs.v[segs.n - 1].segment;
    if (!(keep = calloc((size_t)e.k + 1, 1))) {
        rc = cseg__diag(d, CSEG_ENOMEM, s->uri, 0, 0, "out of memory");
        goto out;
    }
    int chosen = 0;
    for (size_t i = 0; i < segs.n; i++) {
        segrow *g = &segs.v[i];
        int wanted = (p->segment <= 0 && !p->segment_name) || p->segment == g->segment ||
                     (p->segment_name && strcmp(p->segment_name, g->name) == 0);
        if (!wanted || g->segment < 1 || g->segment > e.k)
            continue;
        chosen++;
        if (g->size < p->min_segment_size) {
            if (p->log) {
                char msg[600];
                snprintf(msg, sizeof msg,
                         "segment %d \"%.400s\" left out: %zu customers, fewer than the minimum "
                         "segment size %zu",
                         g->segment, g->name, g->size, p->min_segment_size);
                p->log(CSEG_LOG_NOTE, msg, p->log_user);
            }
            continue;
        }
        keep[g->segment] = 1;
    }
    if (chosen == 0) {
        rc = p->segment_name
                 ? cseg__diag(d, CSEG_EEMPTY, s->uri, 0, 0, "run %s has no segment named \"%s\"",
                              id, p->segment_name)
                 : cseg__diag(d, CSEG_EEMPTY, s->uri, 0, 0, "run %s has no segment %d", id,
                              p->segment);
        goto out;
    }
    e.keep = keep;
    /* The fields: given, or the standard four and every feature. */
    if ((rc = s->ops->query(s, "SELECT features FROM cseg_memberships WHERE run_id = $1 "
                               "ORDER BY position LIMIT 1",
                            "i", param, 1, cseg__store_first_value, &first, d)) < 0)
        goto out;
    json_error_t err;
    json_t *fj = first ? json_loads(first, 0, &err) : NULL;
    char *proba = NULL;
    if (p->fields && (rc = s->ops->query(s,
                                         "SELECT 1 FROM cseg_memberships WHERE run_id = $1 AND "
                                         "probabilities IS NOT NULL LIMIT 1",
                                         "i", param, 1, cseg__store_first_value, &proba, d)) < 0) {
        json_decref(fj);
        goto out;
    }
    int has_proba = proba != NULL;
    free(proba);
    if (p->fields) {
        for (size_t j = 0; j < p->n_fields && rc == 0; j++) {
            const char *fn = p->fields[j];
            /* p_segment_1..k: a mixture's probabilities, when the run has them */
            char *end = NULL;
            long ps = strncmp(fn, "p_segment_", 10) == 0 && fn[10] >= '1' && fn[10] <= '9'
                          ? strtol(fn + 10, &end, 10)
                          : 0;
            int known = strcmp(fn, "customer_id") == 0 || strcmp(fn, "segment") == 0 ||
                        strcmp(fn, "segment_name") == 0 || strcmp(fn, "distance") == 0 ||
                        (ps >= 1 && ps <= e.k && *end == 0 && has_proba) || json_object_get(fj, fn);
            if (!known)
                rc = cseg__diag(d, CSEG_EPARAM, NULL, 0, 0,
                                "fields: \"%s\" is not a column of run %s", fn, id);
            else if (add_field(&e, fn) < 0)
                rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        }
    } else {
        static const char *const std[] = {"customer_id", "segment", "segment_name", "distance"};
        for (size_t j = 0; j < 4 && rc == 0; j++)
            if (add_field(&e, std[j]) < 0)
                rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        const char *key;
        json_t *v;
        json_object_foreach(fj, key, v)
        {
            if (rc == 0 && add_field(&e, key) < 0)
                rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
        }
    }
    json_decref(fj);
    if (rc < 0)
        goto out;
    if (path) {
        if ((rc = cseg__atomic_open(&af, path, d)) < 0)
            goto out;
        af_open = 1;
        e.f = af.f;
        e.where = path;
    }
    if (!p->jsonl) {
        for (size_t j = 0; j < e.nf; j++) {
            if (j)
                fputc(',', e.f);
            csv_field(e.f, e.fields[j]);
        }
        fputc('\n', e.f);
    }
    if ((rc = cseg_store_members(s, run, 0, write_member, &e, d)) < 0) /* keep[] filters */
        goto out;
    if (e.failed) {
        rc = e.failed;
        goto out;
    }
    if (af_open) {
        af_open = 0;
        rc = cseg__atomic_commit(&af, d);
    } else if ((errno = 0, fflush(e.f) != 0) || ferror(e.f)) {
        int why = errno;
        rc = cseg__diag(d, CSEG_EIO, "standard output", 0, 0, "cannot write the export: %s",
                        why ? strerror(why) : "write error");
    }
    if (rc == 0 && rows)
        *rows = e.rows;
out:
    if (af_open)
        cseg__atomic_abort(&af);
    for (size_t i = 0; i < segs.n; i++)
        free(segs.v[i].name);
    free(segs.v);
    for (size_t j = 0; j < e.nf; j++)
        free(e.fields[j]);
    free(e.fields);
    free(keep);
    free(first);
    return rc;
}

int cseg_store_sha256_file(const char *path, char hex[65], cseg_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open: %s", strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    fclose(f);
    if (!ok)
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot read it to compute its SHA-256");
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}
