/* custseg — model container and its JSON file format (docs/model-format.md).
 *
 * jansson does the JSON (Debian libjansson): it writes reals with a chosen
 * precision (17 digits, so every double reads back to the same bits) and
 * handles the locale's decimal point itself. Loading validates every field and
 * reports the first problem by its JSON path.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custseg/model.h"
#include "../core/internal.h"
#include "../prep/internal.h"

struct cseg_model {
    cseg_source source;
    cseg_txn_roles roles;
    char *date_format;
    cseg_rfm_params rfm;
    char *id_column;
    cseg_prep *prep;
    cseg_kmeans *km;
    char **names;
    size_t k;
    char *meta;
};

int cseg_model_create(cseg_model **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return CSEG_ENOMEM;
    cseg_rfm_params_init(&(*out)->rfm);
    return 0;
}

static void free_names(cseg_model *m)
{
    for (size_t s = 0; s < m->k && m->names; s++)
        free(m->names[s]);
    free(m->names);
    m->names = NULL;
}

void cseg_model_free(cseg_model *m)
{
    if (!m)
        return;
    free(m->date_format);
    free(m->id_column);
    cseg_prep_free(m->prep);
    cseg_kmeans_free(m->km);
    free_names(m);
    free(m->meta);
    free(m);
}

int cseg_model_set_transactions(cseg_model *m, const cseg_txn_roles *roles,
                                const char *date_format, const cseg_rfm_params *rfm)
{
    char *df = date_format ? cseg__strdup(date_format) : NULL;
    if (date_format && !df)
        return CSEG_ENOMEM;
    free(m->date_format);
    m->date_format = df;
    m->source = CSEG_SOURCE_TRANSACTIONS;
    m->roles = *roles;
    if (rfm)
        m->rfm = *rfm;
    return 0;
}

int cseg_model_set_customers(cseg_model *m, const char *id_column)
{
    char *id = id_column ? cseg__strdup(id_column) : NULL;
    if (id_column && !id)
        return CSEG_ENOMEM;
    free(m->id_column);
    m->id_column = id;
    m->source = CSEG_SOURCE_CUSTOMERS;
    return 0;
}

int cseg_model_set_pipeline(cseg_model *m, cseg_prep *prep, cseg_kmeans *km)
{
    if (!cseg_prep_is_fitted(prep) || !cseg_kmeans_is_fitted(km) ||
        cseg_prep_n_outputs(prep) != cseg_kmeans_dim(km))
        return CSEG_EINVAL;
    cseg_prep_free(m->prep);
    cseg_kmeans_free(m->km);
    m->prep = prep;
    m->km = km;
    return 0;
}

int cseg_model_set_names(cseg_model *m, const char *const *names, size_t k)
{
    char **nn = cseg__calloc(k, sizeof *nn);
    if (!nn)
        return CSEG_ENOMEM;
    for (size_t s = 0; s < k; s++)
        if (!(nn[s] = cseg__strdup(names[s]))) {
            for (size_t q = 0; q < s; q++)
                free(nn[q]);
            free(nn);
            return CSEG_ENOMEM;
        }
    free_names(m);
    m->names = nn;
    m->k = k;
    return 0;
}

int cseg_model_set_meta(cseg_model *m, const char *json_object)
{
    json_error_t err;
    json_t *j = json_loads(json_object, 0, &err);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return CSEG_EINVAL;
    }
    json_decref(j);
    char *c = cseg__strdup(json_object);
    if (!c)
        return CSEG_ENOMEM;
    free(m->meta);
    m->meta = c;
    return 0;
}

cseg_source cseg_model_source(const cseg_model *m)
{
    return m->source;
}

const cseg_txn_roles *cseg_model_roles(const cseg_model *m)
{
    return &m->roles;
}

const char *cseg_model_date_format(const cseg_model *m)
{
    return m->date_format;
}

const cseg_rfm_params *cseg_model_rfm(const cseg_model *m)
{
    return &m->rfm;
}

const char *cseg_model_id_column(const cseg_model *m)
{
    return m->id_column;
}

const cseg_prep *cseg_model_prep(const cseg_model *m)
{
    return m->prep;
}

const cseg_kmeans *cseg_model_kmeans(const cseg_model *m)
{
    return m->km;
}

size_t cseg_model_k(const cseg_model *m)
{
    return m->km ? cseg_kmeans_k(m->km) : 0;
}

const char *cseg_model_name(const cseg_model *m, size_t s)
{
    return s < m->k && m->names ? m->names[s] : NULL;
}

const char *cseg_model_meta(const cseg_model *m)
{
    return m->meta ? m->meta : "{}";
}

int cseg_model_assign(const cseg_model *m, const cseg_table *t, int32_t *labels,
                      double *distance, cseg_diag *d)
{
    if (!m->prep || !m->km)
        return CSEG_ENOTFIT;
    size_t n = cseg_table_n_rows(t), p = cseg_prep_n_outputs(m->prep);
    double *X = cseg__alloc_aligned(n ? n : 1, p * sizeof(double));
    if (!X)
        return cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = cseg_prep_transform(m->prep, t, X, d);
    if (rc == 0)
        rc = cseg_kmeans_predict(m->km, X, n, labels, distance);
    if (rc == 0 && distance)
        for (size_t i = 0; i < n; i++)
            distance[i] = sqrt(distance[i]);
    cseg__free_aligned(X);
    return rc;
}

static const char *scale_name(cseg_scale s)
{
    return s == CSEG_SCALE_ROBUST ? "robust" : s == CSEG_SCALE_NONE ? "none" : "standard";
}

static const char *log_name(cseg_logmode l)
{
    return l == CSEG_LOG_NONE ? "none" : l == CSEG_LOG_ALL ? "all" : "auto";
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *day_json(int64_t day)
{
    if (day == CSEG_DAY_AUTO)
        return json_string("auto");
    int y;
    unsigned mo, dd;
    char buf[32];
    cseg__civil_from_days(day, &y, &mo, &dd);
    snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, mo, dd);
    return json_string(buf);
}

static json_t *to_json(const cseg_model *m)
{
    json_t *root = json_object(), *src = json_object(), *prep = json_object(), *cols = json_array();
    json_t *model = json_object(), *cent = json_array(), *segs = json_array(), *feats = json_array();
    json_error_t err;
    json_t *meta = json_loads(cseg_model_meta(m), 0, &err);
    json_object_set_new(root, "format", json_string("custseg-model"));
    json_object_set_new(root, "version", json_integer(CSEG_MODEL_FORMAT_VERSION));
    json_object_set_new(root, "custseg_version", json_string(CSEG_VERSION_STRING));
    if (m->source == CSEG_SOURCE_TRANSACTIONS) {
        json_t *roles = json_object();
        json_object_set_new(src, "kind", json_string("transactions"));
        json_object_set_new(roles, "customer", str_or_null(m->roles.customer));
        json_object_set_new(roles, "date", str_or_null(m->roles.date));
        json_object_set_new(roles, "invoice", str_or_null(m->roles.invoice));
        json_object_set_new(roles, "quantity", str_or_null(m->roles.quantity));
        json_object_set_new(roles, "price", str_or_null(m->roles.price));
        json_object_set_new(roles, "amount", str_or_null(m->roles.amount));
        json_object_set_new(roles, "product", str_or_null(m->roles.product));
        json_object_set_new(src, "roles", roles);
        json_object_set_new(src, "date_format", str_or_null(m->date_format));
        json_object_set_new(src, "as_of", day_json(m->rfm.as_of_day));
        json_object_set_new(src, "spend_window_days", json_integer(m->rfm.spend_window_days));
        json_object_set_new(src, "drop_duplicates", json_boolean(m->rfm.drop_duplicates));
    } else {
        json_object_set_new(src, "kind", json_string("customers"));
        json_object_set_new(src, "id_column", str_or_null(m->id_column));
    }
    json_object_set_new(root, "source", src);
    for (size_t j = 0; j < cseg_prep_n_inputs(m->prep); j++)
        json_array_append_new(feats, json_string(cseg_prep_input_name(m->prep, j)));
    json_object_set_new(root, "features", feats);
    json_object_set_new(prep, "scale", json_string(scale_name(m->prep->params.scale)));
    json_object_set_new(prep, "log", json_string(log_name(m->prep->params.log)));
    json_object_set_new(prep, "skew_threshold", json_real(m->prep->params.skew_threshold));
    json_object_set_new(prep, "max_levels", json_integer((json_int_t)m->prep->params.max_levels));
    for (size_t j = 0; j < m->prep->n_cols; j++) {
        const cseg_prep_col *c = &m->prep->cols[j];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(c->name));
        if (c->categorical) {
            json_t *lv = json_array();
            json_object_set_new(o, "type", json_string("category"));
            for (size_t q = 0; q < c->n_levels; q++)
                json_array_append_new(lv, json_string(c->levels[q]));
            json_object_set_new(o, "levels", lv);
        } else {
            json_object_set_new(o, "type", json_string("number"));
            json_object_set_new(o, "median", json_real(c->median));
            json_object_set_new(o, "log", json_boolean(c->log));
            json_object_set_new(o, "shift", json_real(c->shift));
            json_object_set_new(o, "center", json_real(c->center));
            json_object_set_new(o, "scale", json_real(c->scale));
        }
        json_array_append_new(cols, o);
    }
    json_object_set_new(prep, "columns", cols);
    json_object_set_new(root, "prep", prep);
    size_t k = cseg_kmeans_k(m->km), d = cseg_kmeans_dim(m->km);
    const double *C = cseg_kmeans_centroids(m->km);
    const cseg_kmeans_params *kp = cseg_kmeans_get_params(m->km);
    json_object_set_new(model, "algorithm", json_string("kmeans"));
    json_object_set_new(model, "k", json_integer((json_int_t)k));
    json_object_set_new(model, "dim", json_integer((json_int_t)d));
    for (size_t s = 0; s < k; s++) {
        json_t *row = json_array();
        for (size_t j = 0; j < d; j++)
            json_array_append_new(row, json_real(C[s * d + j]));
        json_array_append_new(cent, row);
    }
    json_object_set_new(model, "centroids", cent);
    json_object_set_new(model, "seed", json_integer((json_int_t)kp->seed));
    json_object_set_new(model, "n_init", json_integer((json_int_t)kp->n_init));
    json_object_set_new(model, "max_iter", json_integer((json_int_t)kp->max_iter));
    json_object_set_new(model, "tol", json_real(kp->tol));
    json_object_set_new(root, "model", model);
    for (size_t s = 0; s < k; s++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer((json_int_t)s));
        json_object_set_new(o, "name", str_or_null(cseg_model_name(m, s)));
        json_array_append_new(segs, o);
    }
    json_object_set_new(root, "segments", segs);
    json_object_set_new(root, "training", meta ? meta : json_object());
    return root;
}

int cseg_model_save(const cseg_model *m, const char *path, cseg_diag *d)
{
    if (!m->prep || !m->km)
        return cseg__diag(d, CSEG_ENOTFIT, path, 0, 0, "model is not fitted");
    json_t *root = to_json(m);
    if (!root)
        return cseg__diag(d, CSEG_ENOMEM, path, 0, 0, "out of memory");
    cseg_atomic_file af;
    int rc = cseg__atomic_open(&af, path, d);
    if (rc == 0) {
        if (json_dumpf(root, af.f, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER) <
            0) {
            cseg__atomic_abort(&af);
            rc = cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot write model");
        } else {
            fputc('\n', af.f);
            rc = cseg__atomic_commit(&af, d);
        }
    }
    json_decref(root);
    return rc;
}

/* ---- loading ---- */

typedef struct loader {
    const char *path;
    cseg_diag *d;
} loader;

static int bad(loader *L, const char *what)
{
    return cseg__diag(L->d, CSEG_EFORMAT, L->path, 0, 0, "invalid model file: %s", what);
}

static int get_num(json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return isfinite(*out) ? 0 : -1;
}

static int get_str(json_t *o, const char *key, char *dst, size_t size, int required)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (size)
            dst[0] = 0;
        return required ? -1 : 0;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) >= size)
        return -1;
    strcpy(dst, json_string_value(v));
    return 0;
}

static int parse_day(const char *s, int64_t *out)
{
    long long t;
    if (strcmp(s, "auto") == 0) {
        *out = CSEG_DAY_AUTO;
        return 0;
    }
    if (cseg_parse_datetime(s, strlen(s), NULL, &t) < 0)
        return -1;
    *out = cseg__day_of(t);
    return 0;
}

static int load_source(loader *L, cseg_model *m, json_t *src)
{
    const char *kind = json_string_value(json_object_get(src, "kind"));
    if (!kind)
        return bad(L, "\"source.kind\" is missing");
    if (strcmp(kind, "customers") == 0) {
        char id[CSEG_ROLE_NAME_MAX];
        if (get_str(src, "id_column", id, sizeof id, 0) < 0)
            return bad(L, "\"source.id_column\" must be a string or null");
        return cseg_model_set_customers(m, id[0] ? id : NULL);
    }
    if (strcmp(kind, "transactions") != 0)
        return bad(L, "\"source.kind\" must be \"transactions\" or \"customers\"");
    json_t *r = json_object_get(src, "roles");
    cseg_txn_roles roles;
    cseg_rfm_params rfm;
    char df[256], asof[64];
    cseg_rfm_params_init(&rfm);
    if (!json_is_object(r) || get_str(r, "customer", roles.customer, CSEG_ROLE_NAME_MAX, 1) ||
        get_str(r, "date", roles.date, CSEG_ROLE_NAME_MAX, 1) ||
        get_str(r, "invoice", roles.invoice, CSEG_ROLE_NAME_MAX, 0) ||
        get_str(r, "quantity", roles.quantity, CSEG_ROLE_NAME_MAX, 0) ||
        get_str(r, "price", roles.price, CSEG_ROLE_NAME_MAX, 0) ||
        get_str(r, "amount", roles.amount, CSEG_ROLE_NAME_MAX, 0) ||
        get_str(r, "product", roles.product, CSEG_ROLE_NAME_MAX, 0))
        return bad(L, "\"source.roles\" must name the customer and date columns");
    if (get_str(src, "date_format", df, sizeof df, 0) < 0)
        return bad(L, "\"source.date_format\" must be a string or null");
    if (get_str(src, "as_of", asof, sizeof asof, 1) < 0 || parse_day(asof, &rfm.as_of_day) < 0)
        return bad(L, "\"source.as_of\" must be \"auto\" or a date");
    double w;
    if (get_num(src, "spend_window_days", &w) < 0 || w < 0 || w > 1e6 || w != floor(w))
        return bad(L, "\"source.spend_window_days\" must be a whole number of days");
    rfm.spend_window_days = (int)w;
    json_t *dd = json_object_get(src, "drop_duplicates");
    if (!json_is_boolean(dd))
        return bad(L, "\"source.drop_duplicates\" must be true or false");
    rfm.drop_duplicates = json_is_true(dd);
    return cseg_model_set_transactions(m, &roles, df[0] ? df : NULL, &rfm);
}

static int load_prep(loader *L, json_t *jp, cseg_prep **out)
{
    cseg_prep_params pp;
    cseg_prep_params_init(&pp);
    const char *scale = json_string_value(json_object_get(jp, "scale"));
    const char *logm = json_string_value(json_object_get(jp, "log"));
    if (!scale || !logm)
        return bad(L, "\"prep.scale\" and \"prep.log\" are required");
    pp.scale = strcmp(scale, "robust") == 0 ? CSEG_SCALE_ROBUST
               : strcmp(scale, "none") == 0 ? CSEG_SCALE_NONE
                                            : CSEG_SCALE_STANDARD;
    if (strcmp(scale, "standard") && strcmp(scale, "robust") && strcmp(scale, "none"))
        return bad(L, "\"prep.scale\" must be standard, robust or none");
    pp.log = strcmp(logm, "none") == 0 ? CSEG_LOG_NONE
             : strcmp(logm, "all") == 0 ? CSEG_LOG_ALL
                                        : CSEG_LOG_AUTO;
    if (strcmp(logm, "auto") && strcmp(logm, "none") && strcmp(logm, "all"))
        return bad(L, "\"prep.log\" must be auto, none or all");
    double v;
    if (get_num(jp, "skew_threshold", &v) == 0)
        pp.skew_threshold = v;
    if (get_num(jp, "max_levels", &v) == 0 && v >= 1 && v < 1e9)
        pp.max_levels = (size_t)v;
    json_t *cols = json_object_get(jp, "columns");
    if (!json_is_array(cols) || json_array_size(cols) == 0)
        return bad(L, "\"prep.columns\" must be a non-empty array");
    cseg_prep *p;
    if (cseg_prep_create(&p, &pp) < 0)
        return bad(L, "bad \"prep\" parameters");
    size_t nc = json_array_size(cols);
    p->cols = cseg__calloc(nc, sizeof *p->cols);
    if (!p->cols) {
        cseg_prep_free(p);
        return cseg__diag(L->d, CSEG_ENOMEM, L->path, 0, 0, "out of memory");
    }
    int rc = 0;
    for (size_t j = 0; j < nc && rc == 0; j++) {
        json_t *o = json_array_get(cols, j);
        cseg_prep_col *c = &p->cols[p->n_cols++];
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!name || !type || !(c->name = cseg__strdup(name))) {
            rc = bad(L, "each \"prep.columns\" entry needs a name and a type");
            break;
        }
        if (strcmp(type, "category") == 0) {
            json_t *lv = json_object_get(o, "levels");
            if (!json_is_array(lv)) {
                rc = bad(L, "a category column needs \"levels\"");
                break;
            }
            c->categorical = 1;
            c->levels = cseg__calloc(json_array_size(lv), sizeof *c->levels);
            if (!c->levels) {
                rc = CSEG_ENOMEM;
                break;
            }
            for (size_t q = 0; q < json_array_size(lv); q++) {
                const char *s = json_string_value(json_array_get(lv, q));
                if (!s || !(c->levels[c->n_levels] = cseg__strdup(s))) {
                    rc = bad(L, "category levels must be strings");
                    break;
                }
                c->n_levels++;
            }
        } else if (strcmp(type, "number") == 0) {
            json_t *lg = json_object_get(o, "log");
            if (get_num(o, "median", &c->median) || get_num(o, "shift", &c->shift) ||
                get_num(o, "center", &c->center) || get_num(o, "scale", &c->scale) ||
                !json_is_boolean(lg) || !(c->scale != 0)) {
                rc = bad(L, "a number column needs finite median, shift, center, scale "
                            "(non-zero) and a boolean log");
                break;
            }
            c->log = json_is_true(lg);
        } else {
            rc = bad(L, "a column type must be \"number\" or \"category\"");
        }
    }
    if (rc == 0 && cseg__prep_finish(p) < 0)
        rc = CSEG_ENOMEM;
    if (rc < 0) {
        cseg_prep_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

static int load_kmeans(loader *L, json_t *jm, size_t dim, cseg_kmeans **out)
{
    const char *algo = json_string_value(json_object_get(jm, "algorithm"));
    if (!algo || strcmp(algo, "kmeans") != 0)
        return bad(L, "\"model.algorithm\" must be \"kmeans\"");
    json_t *cent = json_object_get(jm, "centroids");
    if (!json_is_array(cent) || json_array_size(cent) == 0)
        return bad(L, "\"model.centroids\" must be a non-empty array");
    size_t k = json_array_size(cent);
    double kd, dd;
    if (get_num(jm, "k", &kd) || get_num(jm, "dim", &dd) || kd != (double)k || dd != (double)dim)
        return bad(L, "\"model.k\" and \"model.dim\" must match the centroids and the features");
    double *C = malloc(k * dim * sizeof *C);
    if (!C)
        return cseg__diag(L->d, CSEG_ENOMEM, L->path, 0, 0, "out of memory");
    for (size_t s = 0; s < k; s++) {
        json_t *row = json_array_get(cent, s);
        if (!json_is_array(row) || json_array_size(row) != dim) {
            free(C);
            return bad(L, "each centroid must have one value per model feature");
        }
        for (size_t j = 0; j < dim; j++) {
            json_t *v = json_array_get(row, j);
            C[s * dim + j] = json_is_number(v) ? json_number_value(v) : NAN;
            if (!isfinite(C[s * dim + j])) {
                free(C);
                return bad(L, "centroid values must be finite numbers");
            }
        }
    }
    cseg_kmeans_params kp;
    cseg_kmeans_params_init(&kp);
    kp.k = k;
    double v;
    if (get_num(jm, "seed", &v) == 0 && v >= 0)
        kp.seed = (uint64_t)v;
    if (get_num(jm, "n_init", &v) == 0 && v >= 1 && v < 1e9)
        kp.n_init = (size_t)v;
    if (get_num(jm, "max_iter", &v) == 0 && v >= 1 && v < 1e12)
        kp.max_iter = (size_t)v;
    if (get_num(jm, "tol", &v) == 0 && v >= 0)
        kp.tol = v;
    cseg_kmeans *km;
    int rc = cseg_kmeans_create(&km, &kp);
    if (rc == 0 && (rc = cseg_kmeans_set_centroids(km, C, k, dim)) < 0)
        cseg_kmeans_free(km);
    free(C);
    if (rc < 0)
        return bad(L, "bad k-means parameters");
    *out = km;
    return 0;
}

int cseg_model_load(cseg_model **out, const char *path, cseg_diag *d)
{
    loader L = {path, d};
    json_error_t err;
    cseg_model *m = NULL;
    cseg_prep *prep = NULL;
    cseg_kmeans *km = NULL;
    int rc;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open model file");
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    fclose(f);
    if (!root)
        return cseg__diag(d, CSEG_EFORMAT, path, err.line > 0 ? err.line : 0,
                          err.column > 0 ? err.column : 0, "not a valid JSON model file: %s",
                          err.text);
    const char *fmt = json_string_value(json_object_get(root, "format"));
    json_t *ver = json_object_get(root, "version");
    if (!json_is_object(root) || !fmt || strcmp(fmt, "custseg-model") != 0) {
        rc = bad(&L, "not a custseg model (\"format\" is not \"custseg-model\")");
        goto out;
    }
    if (!json_is_integer(ver)) {
        rc = bad(&L, "\"version\" must be a whole number");
        goto out;
    }
    if (json_integer_value(ver) != CSEG_MODEL_FORMAT_VERSION) {
        rc = cseg__diag(d, CSEG_EFORMAT, path, 0, 0,
                        "model format version %lld is not supported (this custseg %s reads "
                        "version %d)",
                        (long long)json_integer_value(ver),
                        CSEG_VERSION_STRING, CSEG_MODEL_FORMAT_VERSION);
        goto out;
    }
    if ((rc = cseg_model_create(&m)) < 0)
        goto out;
    json_t *src = json_object_get(root, "source");
    if (!json_is_object(src)) {
        rc = bad(&L, "\"source\" is missing");
        goto out;
    }
    if ((rc = load_source(&L, m, src)) < 0)
        goto out;
    json_t *jp = json_object_get(root, "prep");
    if (!json_is_object(jp)) {
        rc = bad(&L, "\"prep\" is missing");
        goto out;
    }
    if ((rc = load_prep(&L, jp, &prep)) < 0)
        goto out;
    json_t *jm = json_object_get(root, "model");
    if (!json_is_object(jm)) {
        rc = bad(&L, "\"model\" is missing");
        goto out;
    }
    if ((rc = load_kmeans(&L, jm, cseg_prep_n_outputs(prep), &km)) < 0)
        goto out;
    if ((rc = cseg_model_set_pipeline(m, prep, km)) < 0) {
        rc = bad(&L, "pipeline and model do not fit together");
        goto out;
    }
    prep = NULL;
    km = NULL;
    json_t *segs = json_object_get(root, "segments");
    size_t k = cseg_model_k(m);
    if (!json_is_array(segs) || json_array_size(segs) != k) {
        rc = bad(&L, "\"segments\" must list one entry per cluster");
        goto out;
    }
    {
        const char **names = cseg__calloc(k, sizeof *names);
        if (!names) {
            rc = CSEG_ENOMEM;
            goto out;
        }
        for (size_t s = 0; s < k; s++) {
            json_t *o = json_array_get(segs, s);
            names[s] = json_string_value(json_object_get(o, "name"));
            if (!names[s]) {
                free(names);
                rc = bad(&L, "every segment needs a \"name\"");
                goto out;
            }
        }
        rc = cseg_model_set_names(m, names, k);
        free(names);
        if (rc < 0)
            goto out;
    }
    json_t *meta = json_object_get(root, "training");
    if (json_is_object(meta)) {
        char *txt = json_dumps(meta, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
        if (txt) {
            rc = cseg_model_set_meta(m, txt);
            free(txt);
            if (rc < 0)
                goto out;
        }
    }
    rc = 0;
out:
    json_decref(root);
    cseg_prep_free(prep);
    cseg_kmeans_free(km);
    if (rc < 0) {
        cseg_model_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}
