/* custseg — the lifetime-value models as JSON (model.json, segments.json,
 * `custseg clv --format json`). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "custseg/clv.h"
#include "internal.h"

static const char *const bg_names[4] = {"r", "alpha", "a", "b"};
static const char *const gg_names[3] = {"p", "q", "v"};

static const char *status_name(int s)
{
    switch (s) {
    case CSEG_CLV_CONVERGED:
        return "converged";
    case CSEG_CLV_MAX_ITER:
        return "max_iter";
    case CSEG_CLV_STALLED:
        return "stalled";
    case CSEG_CLV_BOUNDARY:
        return "boundary";
    default:
        return "unfit";
    }
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *fit_json(const cseg_clv_fit *f)
{
    int dim = f->kind == CSEG_CLV_BGNBD ? 4 : 3;
    const char *const *nm = f->kind == CSEG_CLV_BGNBD ? bg_names : gg_names;
    json_t *o = json_object(), *par = json_object(), *se = json_object();
    for (int j = 0; j < dim; j++) {
        json_object_set_new(par, nm[j], json_real(f->param[j]));
        json_object_set_new(se, nm[j], num(f->se[j]));
    }
    json_object_set_new(o, "params", par);
    json_object_set_new(o, "std_errors", se);
    json_object_set_new(o, "loglik", num(f->loglik));
    json_object_set_new(o, "customers", json_integer((json_int_t)f->n));
    json_object_set_new(o, "iterations", json_integer((json_int_t)f->n_iter));
    json_object_set_new(o, "status", json_string(status_name(f->status)));
    json_object_set_new(o, "message", json_string(f->message));
    return o;
}

json_t *cseg__clv_json(const cseg_clv_params *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "unit_days", json_real(p->unit_days));
    json_object_set_new(o, "horizon_months", json_real(p->horizon_months));
    json_object_set_new(o, "discount", json_real(p->discount));
    json_object_set_new(o, "month_days", json_real(CSEG_CLV_MONTH_DAYS));
    if (p->has_fit) {
        json_object_set_new(o, "bgnbd", fit_json(&p->bgnbd));
        if (p->gamma_gamma.kind == CSEG_CLV_GAMMA_GAMMA)
            json_object_set_new(o, "gamma_gamma", fit_json(&p->gamma_gamma));
    }
    return o;
}

static int fit_from_json(json_t *o, int kind, cseg_clv_fit *f)
{
    int dim = kind == CSEG_CLV_BGNBD ? 4 : 3;
    const char *const *nm = kind == CSEG_CLV_BGNBD ? bg_names : gg_names;
    json_t *par = json_object_get(o, "params"), *se = json_object_get(o, "std_errors");
    memset(f, 0, sizeof *f);
    f->kind = kind;
    if (!json_is_object(par))
        return -1;
    for (int j = 0; j < dim; j++) {
        json_t *v = json_object_get(par, nm[j]), *s = json_object_get(se, nm[j]);
        if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v)))
            return -1;
        f->param[j] = json_number_value(v);
        f->se[j] = json_is_number(s) ? json_number_value(s) : NAN;
    }
    json_t *ll = json_object_get(o, "loglik"), *n = json_object_get(o, "customers");
    f->loglik = json_is_number(ll) ? json_number_value(ll) : NAN;
    f->n = json_is_integer(n) && json_integer_value(n) >= 0 ? (size_t)json_integer_value(n) : 0;
    const char *st = json_string_value(json_object_get(o, "status"));
    f->status = CSEG_CLV_CONVERGED;
    for (int s = CSEG_CLV_UNFIT; st && s <= CSEG_CLV_BOUNDARY; s++)
        if (strcmp(st, status_name(s)) == 0)
            f->status = s;
    const char *msg = json_string_value(json_object_get(o, "message"));
    snprintf(f->message, sizeof f->message, "%s", msg ? msg : "");
    return 0;
}

int cseg__clv_from_json(json_t *o, cseg_clv_params *p, const char **why)
{
    cseg_clv_params_init(p);
    json_t *u = json_object_get(o, "unit_days"), *h = json_object_get(o, "horizon_months"),
           *dc = json_object_get(o, "discount");
    if (!json_is_number(u) || !json_is_number(h) || !json_is_number(dc)) {
        *why = "\"clv\" needs unit_days, horizon_months and discount";
        return -1;
    }
    p->unit_days = json_number_value(u);
    p->horizon_months = json_number_value(h);
    p->discount = json_number_value(dc);
    if ((*why = cseg_clv_params_check(p)) != NULL)
        return -1;
    p->enabled = 1;
    json_t *bg = json_object_get(o, "bgnbd"), *gg = json_object_get(o, "gamma_gamma");
    if (!bg && !gg)
        return 0;
    if (fit_from_json(bg, CSEG_CLV_BGNBD, &p->bgnbd) < 0 ||
        (gg && fit_from_json(gg, CSEG_CLV_GAMMA_GAMMA, &p->gamma_gamma) < 0)) {
        *why = "\"clv.bgnbd\" and \"clv.gamma_gamma\" need positive params r, alpha, a, b and "
               "p, q, v";
        return -1;
    }
    p->has_fit = 1;
    return 0;
}
