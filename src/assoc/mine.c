/* custseg — frequent itemsets (Eclat over bitmaps, every segment in one
 * pass) and association rules per segment (assoc.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "custseg/assoc.h"
#include "internal.h"

#define BITMAP_BYTES_MAX ((size_t)2 << 30) /* the item bitmaps of one search level */

void cseg_assoc_params_init(cseg_assoc_params *p)
{
    p->min_support = 0.01;
    p->min_confidence = 0.5;
    p->max_len = 0;
    p->closed = 0;
    p->top = 0;
    p->max_consequent = 0;
    p->max_itemsets = 5000000;
}

const char *cseg_assoc_params_check(const cseg_assoc_params *p)
{
    if (!(p->min_support > 0 && p->min_support <= 1))
        return "min_support must be in (0, 1]";
    if (!(p->min_confidence >= 0 && p->min_confidence <= 1))
        return "min_confidence must be in [0, 1]";
    if (p->max_itemsets == 0)
        return "max_itemsets must be at least 1";
    return NULL;
}

struct cseg_assoc {
    size_t ng;                    /* groups: population + segments */
    size_t *group_n;              /* baskets per group */
    size_t *group_sets;           /* frequent itemsets per group */
    unsigned char *group_skipped; /* a segment with too few baskets, not mined */
    char **group_names;           /* borrowed from the baskets except [0] */
    char **item_names;            /* borrowed copies: owned here */
    size_t n_items;
    /* itemsets */
    size_t n_sets, cap_sets, pool_len, pool_cap;
    size_t *set_start; /* n_sets + 1 into pool */
    int32_t *pool;
    uint32_t *counts; /* n_sets x ng */
    size_t hcap;
    int64_t *htab; /* itemset index or -1 */
    /* rules */
    size_t n_rules, cap_rules, rpool_len, rpool_cap;
    cseg_assoc_rule *rules;
    int32_t *rpool;
    size_t *rstart; /* per rule: offset of its antecedent then consequent in rpool */
};

/* ---- itemset storage: a pool of sorted item arrays and a hash on them ---- */

static uint64_t set_hash(const int32_t *v, size_t n)
{
    return cseg__hash(v, n * sizeof *v, 0x9e3779b97f4a7c15ULL);
}

static long find_set(const cseg_assoc *r, const int32_t *v, size_t n)
{
    size_t h = (size_t)set_hash(v, n) & (r->hcap - 1);
    for (;; h = (h + 1) & (r->hcap - 1)) {
        int64_t i = r->htab[h];
        if (i < 0)
            return -1;
        size_t a = r->set_start[i], len = r->set_start[i + 1] - a;
        if (len == n && memcmp(r->pool + a, v, n * sizeof *v) == 0)
            return (long)i;
    }
}

static int rehash(cseg_assoc *r, size_t cap)
{
    int64_t *t = malloc(cap * sizeof *t);
    if (!t)
        return CSEG_ENOMEM;
    memset(t, 0xff, cap * sizeof *t);
    for (size_t i = 0; i < r->n_sets; i++) {
        size_t a = r->set_start[i];
        size_t h = (size_t)set_hash(r->pool + a, r->set_start[i + 1] - a) & (cap - 1);
        while (t[h] >= 0)
            h = (h + 1) & (cap - 1);
        t[h] = (int64_t)i;
    }
    free(r->htab);
    r->htab = t;
    r->hcap = cap;
    return 0;
}

static int add_set(cseg_assoc *r, const int32_t *v, size_t n, const uint32_t *cnt)
{
    if (r->n_sets + 1 >= r->cap_sets) {
        size_t nc = r->cap_sets ? 2 * r->cap_sets : 4096;
        size_t *ns = realloc(r->set_start, (nc + 1) * sizeof *ns);
        if (!ns)
            return CSEG_ENOMEM;
        r->set_start = ns;
        uint32_t *nn = realloc(r->counts, nc * r->ng * sizeof *nn);
        if (!nn)
            return CSEG_ENOMEM;
        r->counts = nn;
        r->cap_sets = nc;
    }
    if (r->pool_len + n > r->pool_cap) {
        size_t nc = r->pool_cap ? 2 * r->pool_cap : 16384;
        while (nc < r->pool_len + n)
            nc *= 2;
        int32_t *np = realloc(r->pool, nc * sizeof *np);
        if (!np)
            return CSEG_ENOMEM;
        r->pool = np;
        r->pool_cap = nc;
    }
    if (r->n_sets == 0)
        r->set_start[0] = 0;
    memcpy(r->pool + r->pool_len, v, n * sizeof *v);
    r->pool_len += n;
    r->set_start[r->n_sets + 1] = r->pool_len;
    memcpy(r->counts + r->n_sets * r->ng, cnt, r->ng * sizeof *cnt);
    r->n_sets++;
    if (2 * r->n_sets > r->hcap)
        return rehash(r, r->hcap ? 2 * r->hcap : 8192);
    size_t h = (size_t)set_hash(v, n) & (r->hcap - 1);
    while (r->htab[h] >= 0)
        h = (h + 1) & (r->hcap - 1);
    r->htab[h] = (int64_t)(r->n_sets - 1);
    return 0;
}

/* ---- the search ---- */

typedef struct search {
    cseg_assoc *r;
    const cseg_assoc_params *p;
    size_t W;          /* words per bitmap */
    size_t *wlo, *whi; /* word range of segment g (1..k); [0] unused */
    uint32_t *minc;    /* per group: count needed */
    int32_t *prefix;
    size_t depth_max;
    double done_share; /* share of the top level finished (for the estimate) */
    int too_big;
} search;

static void count_groups(const search *s, const uint64_t *bm, uint32_t *cnt)
{
    size_t tot = 0;
    for (size_t g = 1; g < s->r->ng; g++) {
        size_t c = 0;
        for (size_t w = s->wlo[g]; w < s->whi[g]; w++)
            c += (size_t)__builtin_popcountll(bm[w]);
        cnt[g] = (uint32_t)c;
        tot += c;
    }
    /* the population: the segments plus the baskets in none */
    for (size_t w = s->whi[s->r->ng - 1]; w < s->W; w++)
        tot += (size_t)__builtin_popcountll(bm[w]);
    cnt[0] = (uint32_t)tot;
}

static int frequent_somewhere(const search *s, const uint32_t *cnt)
{
    for (size_t g = 0; g < s->r->ng; g++)
        if (cnt[g] >= s->minc[g])
            return 1;
    return 0;
}

/* One level: the prefix (depth items) extended by each of the n candidates
 * (item ids, bitmaps n x W, counts n x ng), all frequent somewhere. */
static int grow_level(search *s, size_t depth, const int32_t *item, const uint64_t *bm,
                      const uint32_t *cnt, size_t n, double share)
{
    size_t W = s->W, ng = s->r->ng;
    uint64_t *nbm = NULL;
    uint32_t *ncnt = NULL;
    int32_t *nitem = NULL;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        s->prefix[depth] = item[i];
        /* stored sorted: the prefix is in search order, not item order */
        int32_t sorted[64];
        size_t len = depth + 1;
        memcpy(sorted, s->prefix, len * sizeof *sorted);
        for (size_t a = 1; a < len; a++)
            for (size_t b = a; b > 0 && sorted[b - 1] > sorted[b]; b--) {
                int32_t t = sorted[b];
                sorted[b] = sorted[b - 1];
                sorted[b - 1] = t;
            }
        if ((rc = add_set(s->r, sorted, len, cnt + i * ng)) < 0)
            break;
        if (depth == 0)
            s->done_share = (double)i / (double)n;
        if (s->r->n_sets > s->p->max_itemsets) {
            s->too_big = 1;
            rc = CSEG_ETOOBIG;
            break;
        }
        if (len >= s->depth_max || i + 1 == n)
            continue;
        size_t m = n - i - 1;
        if (!nbm) {
            nbm = malloc(n * W * sizeof *nbm);
            ncnt = malloc(n * ng * sizeof *ncnt);
            nitem = malloc(n * sizeof *nitem);
            if (!nbm || !ncnt || !nitem) {
                rc = CSEG_ENOMEM;
                break;
            }
        }
        size_t kept = 0;
        const uint64_t *a = bm + i * W;
        for (size_t j = i + 1; j < n; j++) {
            const uint64_t *b = bm + j * W;
            uint64_t *c = nbm + kept * W;
            for (size_t w = 0; w < W; w++)
                c[w] = a[w] & b[w];
            count_groups(s, c, ncnt + kept * ng);
            if (frequent_somewhere(s, ncnt + kept * ng))
                nitem[kept++] = item[j];
        }
        (void)m;
        if (kept)
            rc = grow_level(s, depth + 1, nitem, nbm, ncnt, kept, share);
    }
    free(nbm);
    free(ncnt);
    free(nitem);
    return rc;
}

/* ---- rules ---- */

double cseg_fisher_greater(size_t n, size_t na, size_t nb, size_t nab)
{
    /* P(X >= nab), X hypergeometric: nb "successes" among n, na drawn. */
    size_t hi = na < nb ? na : nb, lo = na + nb > n ? na + nb - n : 0;
    if (nab <= lo)
        return 1;
    if (nab > hi)
        return 0;
    double N = (double)n, A = (double)na, B = (double)nb;
    double lc = lgamma(B + 1) - lgamma((double)nab + 1) - lgamma(B - (double)nab + 1) +
                lgamma(N - B + 1) - lgamma(A - (double)nab + 1) -
                lgamma(N - B - A + (double)nab + 1) -
                (lgamma(N + 1) - lgamma(A + 1) - lgamma(N - A + 1));
    double term = 1, sum = 1;
    for (size_t x = nab; x < hi; x++) {
        double X = (double)x;
        term *= (A - X) * (B - X) / ((X + 1) * (N - A - B + X + 1));
        sum += term;
        if (term < sum * 1e-17 && (A - X) * (B - X) < (X + 1) * (N - A - B + X + 1))
            break;
    }
    double p = exp(lc + log(sum));
    return p > 1 ? 1 : p;
}

static int add_rule(cseg_assoc *r, const cseg_assoc_rule *rule, const int32_t *a, size_t na,
                    const int32_t *b, size_t nb)
{
    if (r->n_rules == r->cap_rules) {
        size_t nc = r->cap_rules ? 2 * r->cap_rules : 4096;
        cseg_assoc_rule *nr = realloc(r->rules, nc * sizeof *nr);
        size_t *ns = nr ? realloc(r->rstart, nc * sizeof *ns) : NULL;
        if (nr)
            r->rules = nr;
        if (!ns)
            return CSEG_ENOMEM;
        r->rstart = ns;
        r->cap_rules = nc;
    }
    if (r->rpool_len + na + nb > r->rpool_cap) {
        size_t nc = r->rpool_cap ? 2 * r->rpool_cap : 16384;
        while (nc < r->rpool_len + na + nb)
            nc *= 2;
        int32_t *np = realloc(r->rpool, nc * sizeof *np);
        if (!np)
            return CSEG_ENOMEM;
        r->rpool = np;
        r->rpool_cap = nc;
    }
    r->rstart[r->n_rules] = r->rpool_len;
    memcpy(r->rpool + r->rpool_len, a, na * sizeof *a);
    memcpy(r->rpool + r->rpool_len + na, b, nb * sizeof *b);
    r->rpool_len += na + nb;
    r->rules[r->n_rules] = *rule;
    r->rules[r->n_rules].n_antecedent = na;
    r->rules[r->n_rules].n_consequent = nb;
    r->n_rules++;
    return 0;
}

/* Closed in group g: no itemset one item larger has the same count there. */
static int mark_not_closed(const cseg_assoc *r, unsigned char *open)
{
    int32_t sub[64];
    for (size_t i = 0; i < r->n_sets; i++) {
        size_t a = r->set_start[i], len = r->set_start[i + 1] - a;
        if (len < 2)
            continue;
        for (size_t drop = 0; drop < len; drop++) {
            size_t m = 0;
            for (size_t j = 0; j < len; j++)
                if (j != drop)
                    sub[m++] = r->pool[a + j];
            long s = find_set(r, sub, m);
            if (s < 0)
                continue;
            for (size_t g = 0; g < r->ng; g++)
                if (r->counts[(size_t)s * r->ng + g] == r->counts[i * r->ng + g])
                    open[(size_t)s * r->ng + g] = 1;
        }
    }
    return 0;
}

static int make_rules(cseg_assoc *r, const cseg_assoc_params *p, const uint32_t *minc)
{
    unsigned char *open = NULL;
    if (p->closed) {
        open = calloc(r->n_sets * r->ng + 1, 1);
        if (!open)
            return CSEG_ENOMEM;
        mark_not_closed(r, open);
    }
    int32_t A[64], B[64];
    int rc = 0;
    for (size_t i = 0; i < r->n_sets && rc == 0; i++) {
        size_t a0 = r->set_start[i], len = r->set_start[i + 1] - a0;
        const int32_t *items = r->pool + a0;
        if (len < 2)
            continue;
        for (size_t g = 0; g < r->ng && rc == 0; g++) {
            uint32_t cI = r->counts[i * r->ng + g];
            if (cI < minc[g] || (open && open[i * r->ng + g]))
                continue;
            double n = (double)r->group_n[g], N = (double)r->group_n[0];
            for (uint64_t mask = 1; mask + 1 < ((uint64_t)1 << len) && rc == 0; mask++) {
                size_t na = 0, nb = 0;
                for (size_t j = 0; j < len; j++) {
                    if (mask >> j & 1)
                        A[na++] = items[j];
                    else
                        B[nb++] = items[j];
                }
                if (p->max_consequent && nb > p->max_consequent)
                    continue;
                long ia = find_set(r, A, na), ib = find_set(r, B, nb);
                if (ia < 0 || ib < 0) /* cannot happen: subsets of a frequent set */
                    continue;
                double cA = r->counts[(size_t)ia * r->ng + g];
                double cB = r->counts[(size_t)ib * r->ng + g];
                double cB0 = r->counts[(size_t)ib * r->ng];
                double conf = cI / cA;
                if (conf < p->min_confidence)
                    continue;
                cseg_assoc_rule rule;
                memset(&rule, 0, sizeof rule);
                rule.group = g;
                rule.count = cI;
                rule.support = cI / n;
                rule.confidence = conf;
                /* n(I) n / (n(A) n(B)): one rounding of two products, exact
                 * while below 2^53, so A -> B and B -> A have the same lift to
                 * the bit and their tie goes to confidence, as documented. */
                rule.lift = cI * n / (cA * cB);
                rule.leverage = cI / n - (cA / n) * (cB / n);
                rule.conviction = conf >= 1 ? INFINITY : (1 - cB / n) / (1 - conf);
                rule.lift_population = conf / (cB0 / N);
                rule.p_value = cseg_fisher_greater(r->group_n[g], (size_t)cA, (size_t)cB, cI);
                rc = add_rule(r, &rule, A, na, B, nb);
            }
        }
    }
    free(open);
    return rc;
}

static int cmp_items(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    for (size_t i = 0; i < na && i < nb; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return (na > nb) - (na < nb);
}

/* A rule with what orders it, sorted without a context pointer. */
typedef struct rule_key {
    size_t group;
    double lift, confidence, support;
    const int32_t *a, *b;
    size_t na, nb, idx;
} rule_key;

static int cmp_rule(const void *pa, const void *pb)
{
    const rule_key *a = pa, *b = pb;
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    if (a->lift != b->lift)
        return a->lift > b->lift ? -1 : 1;
    if (a->confidence != b->confidence)
        return a->confidence > b->confidence ? -1 : 1;
    if (a->support != b->support)
        return a->support > b->support ? -1 : 1;
    int c = cmp_items(a->a, a->na, b->a, b->na);
    return c ? c : cmp_items(a->b, a->nb, b->b, b->nb);
}

/* Order the rules (group, lift, ...), keep top per group, point them at
 * their items. */
static int order_rules(cseg_assoc *r, size_t top)
{
    size_t n = r->n_rules;
    rule_key *k = malloc((n ? n : 1) * sizeof *k);
    cseg_assoc_rule *nr = malloc((n ? n : 1) * sizeof *nr);
    size_t *ns = malloc((n ? n : 1) * sizeof *ns);
    if (!k || !nr || !ns) {
        free(k);
        free(nr);
        free(ns);
        return CSEG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const cseg_assoc_rule *x = &r->rules[i];
        const int32_t *a = r->rpool + r->rstart[i];
        k[i] = (rule_key){x->group,
                          x->lift,
                          x->confidence,
                          x->support,
                          a,
                          a + x->n_antecedent,
                          x->n_antecedent,
                          x->n_consequent,
                          i};
    }
    qsort(k, n, sizeof *k, cmp_rule);
    size_t m = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        run = i > 0 && k[i].group == k[i - 1].group ? run + 1 : 0;
        if (top && run >= top)
            continue;
        nr[m] = r->rules[k[i].idx];
        ns[m++] = r->rstart[k[i].idx];
    }
    free(k);
    free(r->rules);
    free(r->rstart);
    r->rules = nr;
    r->rstart = ns;
    r->n_rules = m;
    for (size_t i = 0; i < m; i++) {
        r->rules[i].antecedent = r->rpool + r->rstart[i];
        r->rules[i].consequent = r->rpool + r->rstart[i] + r->rules[i].n_antecedent;
    }
    return 0;
}

/* ---- the whole of it ---- */

void cseg_assoc_free(cseg_assoc *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->item_names && i < r->n_items; i++)
        free(r->item_names[i]);
    for (size_t g = 0; r->group_names && g < r->ng; g++)
        free(r->group_names[g]);
    free(r->item_names);
    free(r->group_names);
    free(r->group_n);
    free(r->group_sets);
    free(r->group_skipped);
    free(r->set_start);
    free(r->pool);
    free(r->counts);
    free(r->htab);
    free(r->rules);
    free(r->rpool);
    free(r->rstart);
    free(r);
}

int cseg_assoc_mine(cseg_assoc **out, const cseg_baskets *b, const cseg_assoc_params *p,
                    cseg_diag *d)
{
    *out = NULL;
    const char *why = cseg_assoc_params_check(p);
    if (why)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0, "%s", why);
    if (b->n == 0)
        return cseg__diag(d, CSEG_EEMPTY, NULL, 0, 0, "no baskets");
    if (b->n > UINT32_MAX)
        return cseg__diag(d, CSEG_ETOOBIG, NULL, 0, 0, "more than 4,294,967,295 baskets");
    cseg_assoc *r = calloc(1, sizeof *r);
    search s;
    memset(&s, 0, sizeof s);
    size_t k = b->segment ? b->k : 0, ng = k + 1, n = b->n;
    size_t *pos = malloc(n * sizeof *pos), *cnt_items = NULL;
    uint64_t *bm = NULL;
    uint32_t *cnt = NULL;
    int32_t *item = NULL;
    int rc = CSEG_ENOMEM;
    if (!r || !pos)
        goto oom;
    r->ng = ng;
    r->group_n = calloc(ng, sizeof *r->group_n);
    r->group_sets = calloc(ng, sizeof *r->group_sets);
    r->group_skipped = calloc(ng, 1);
    r->group_names = calloc(ng, sizeof *r->group_names);
    r->item_names = calloc(b->n_items ? b->n_items : 1, sizeof *r->item_names);
    s.wlo = calloc(ng, sizeof *s.wlo);
    s.whi = calloc(ng, sizeof *s.whi);
    s.minc = calloc(ng, sizeof *s.minc);
    if (!r->group_n || !r->group_sets || !r->group_skipped || !r->group_names || !r->item_names ||
        !s.wlo || !s.whi || !s.minc)
        goto oom;
    r->n_items = b->n_items;
    for (size_t i = 0; i < b->n_items; i++)
        if (!(r->item_names[i] = cseg__strdup(b->item_names[i])))
            goto oom;
    if (!(r->group_names[0] = cseg__strdup("All customers")))
        goto oom;
    for (size_t g = 1; g < ng; g++)
        if (!(r->group_names[g] = cseg__strdup(b->seg_names[g - 1])))
            goto oom;
    /* Basket positions: segment after segment, each on a fresh word, then
     * the baskets in no segment. */
    for (size_t i = 0; i < n; i++) {
        r->group_n[0]++;
        if (k && b->segment[i] >= 0)
            r->group_n[b->segment[i] + 1]++;
    }
    size_t w = 0;
    for (size_t g = 1; g < ng; g++) {
        s.wlo[g] = w;
        w += (r->group_n[g] + 63) / 64;
        s.whi[g] = w;
    }
    size_t *next = calloc(ng + 1, sizeof *next);
    if (!next)
        goto oom;
    for (size_t g = 1; g < ng; g++)
        next[g] = s.wlo[g] * 64;
    next[0] = w * 64; /* no segment */
    for (size_t i = 0; i < n; i++) {
        size_t g = k && b->segment[i] >= 0 ? (size_t)b->segment[i] + 1 : 0;
        pos[i] = next[g]++;
    }
    s.W = (next[0] + 63) / 64;
    free(next);
    for (size_t g = 0; g < ng; g++) {
        double need = ceil(p->min_support * (double)r->group_n[g] - 1e-9);
        s.minc[g] = need < 1 ? 1 : (uint32_t)need;
        /* A segment of a few baskets would make every subset of one large
         * basket "frequent" (2^30 of them for an invoice of 30 products):
         * it is not mined, and says so. Segments need 2 baskets an itemset. */
        if (g > 0 && r->group_n[g] < CSEG_ASSOC_MIN_BASKETS) {
            s.minc[g] = UINT32_MAX;
            r->group_skipped[g] = 1;
        } else if (g > 0 && s.minc[g] < 2) {
            s.minc[g] = 2;
        }
    }
    /* Single items: counts per group, those frequent somewhere. */
    if (!(cnt_items = calloc(b->n_items * ng + 1, sizeof *cnt_items)))
        goto oom;
    for (size_t i = 0; i < n; i++)
        for (size_t j = b->start[i]; j < b->start[i + 1]; j++) {
            cnt_items[(size_t)b->items[j] * ng]++;
            if (k && b->segment[i] >= 0)
                cnt_items[(size_t)b->items[j] * ng + (size_t)b->segment[i] + 1]++;
        }
    size_t nf = 0;
    int32_t *rank = malloc((b->n_items ? b->n_items : 1) * sizeof *rank);
    if (!rank)
        goto oom;
    for (size_t it = 0; it < b->n_items; it++) {
        int f = 0;
        for (size_t g = 0; g < ng; g++)
            f |= cnt_items[it * ng + g] >= s.minc[g];
        rank[it] = f ? (int32_t)nf++ : -1;
    }
    if (nf && s.W > BITMAP_BYTES_MAX / 8 / nf) {
        free(rank);
        rc = cseg__diag(d, CSEG_ETOOBIG, NULL, 0, 0,
                        "%zu frequent items over %zu baskets need %.3g GB of bitmaps: raise the "
                        "minimum support",
                        nf, n, (double)nf * (double)s.W * 8 / 1e9);
        goto out;
    }
    bm = calloc(nf * s.W + 1, sizeof *bm);
    cnt = malloc((nf ? nf : 1) * ng * sizeof *cnt);
    item = malloc((nf ? nf : 1) * sizeof *item);
    if (!bm || !cnt || !item) {
        free(rank);
        goto oom;
    }
    for (size_t it = 0; it < b->n_items; it++)
        if (rank[it] >= 0)
            item[rank[it]] = (int32_t)it;
    for (size_t i = 0; i < n; i++)
        for (size_t j = b->start[i]; j < b->start[i + 1]; j++) {
            int32_t q = rank[b->items[j]];
            if (q >= 0)
                bm[(size_t)q * s.W + pos[i] / 64] |= (uint64_t)1 << (pos[i] % 64);
        }
    free(rank);
    s.r = r;
    s.p = p;
    for (size_t q = 0; q < nf; q++)
        count_groups(&s, bm + q * s.W, cnt + q * ng);
    s.depth_max = p->max_len && p->max_len < 64 ? p->max_len : 63;
    if (!(s.prefix = malloc(64 * sizeof *s.prefix)))
        goto oom;
    rc = nf ? grow_level(&s, 0, item, bm, cnt, nf, 1) : 0;
    if (rc == CSEG_ETOOBIG) {
        double share = s.done_share > 0 ? s.done_share : 1.0 / (double)nf;
        rc = cseg__diag(d, CSEG_ETOOBIG, NULL, 0, 0,
                        "more than %zu frequent itemsets at min_support %g (about %.3g at the pace "
                        "of the first %.1f%% of the search): raise the minimum support or set a "
                        "maximum length",
                        p->max_itemsets, p->min_support, (double)r->n_sets / share, 100 * share);
        goto out;
    }
    if (rc < 0)
        goto oom;
    for (size_t i = 0; i < r->n_sets; i++)
        for (size_t g = 0; g < ng; g++)
            r->group_sets[g] += r->counts[i * ng + g] >= s.minc[g];
    if ((rc = make_rules(r, p, s.minc)) < 0 || (rc = order_rules(r, p->top)) < 0)
        goto oom;
    *out = r;
    r = NULL;
    rc = 0;
    goto out;
oom:
    rc = cseg__diag(d, CSEG_ENOMEM, NULL, 0, 0, "out of memory mining itemsets");
out:
    cseg_assoc_free(r);
    free(pos);
    free(cnt_items);
    free(bm);
    free(cnt);
    free(item);
    free(s.wlo);
    free(s.whi);
    free(s.minc);
    free(s.prefix);
    return rc;
}

size_t cseg_assoc_n_groups(const cseg_assoc *r)
{
    return r->ng;
}
size_t cseg_assoc_group_baskets(const cseg_assoc *r, size_t g)
{
    return g < r->ng ? r->group_n[g] : 0;
}
const char *cseg_assoc_group_name(const cseg_assoc *r, size_t g)
{
    return g < r->ng ? r->group_names[g] : NULL;
}
int cseg_assoc_group_mined(const cseg_assoc *r, size_t g)
{
    return g < r->ng && !r->group_skipped[g];
}

size_t cseg_assoc_n_itemsets(const cseg_assoc *r)
{
    return r->n_sets;
}
size_t cseg_assoc_group_itemsets(const cseg_assoc *r, size_t g)
{
    return g < r->ng ? r->group_sets[g] : 0;
}
const int32_t *cseg_assoc_itemset(const cseg_assoc *r, size_t i, size_t *n)
{
    if (i >= r->n_sets) {
        *n = 0;
        return NULL;
    }
    *n = r->set_start[i + 1] - r->set_start[i];
    return r->pool + r->set_start[i];
}
size_t cseg_assoc_itemset_count(const cseg_assoc *r, size_t i, size_t g)
{
    return i < r->n_sets && g < r->ng ? r->counts[i * r->ng + g] : 0;
}
size_t cseg_assoc_n(const cseg_assoc *r)
{
    return r->n_rules;
}
const cseg_assoc_rule *cseg_assoc_rule_at(const cseg_assoc *r, size_t i)
{
    return i < r->n_rules ? &r->rules[i] : NULL;
}
const char *cseg_assoc_item(const cseg_assoc *r, int32_t item)
{
    return item >= 0 && (size_t)item < r->n_items ? r->item_names[item] : NULL;
}

/* "{a,b}" for items (malloc'd). An item with a comma, a brace, a quote or
 * a space at either end is written in quotes ("" for a quote in it):
 * {"KEY FOB , SHED",LUNCH BAG RED} is two items, not three. */
static int item_quoted(const char *s)
{
    size_t l = strlen(s);
    return strpbrk(s, ",{}\"") || (l && (s[0] == ' ' || s[l - 1] == ' '));
}

static char *item_text(const cseg_assoc *r, const int32_t *v, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(r->item_names[v[i]]) + 3;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        const char *it = r->item_names[v[i]];
        int q = item_quoted(it);
        if (i)
            *p++ = ',';
        if (q)
            *p++ = '"';
        for (; *it; it++) {
            if (q && *it == '"')
                *p++ = '"';
            *p++ = *it;
        }
        if (q)
            *p++ = '"';
    }
    *p++ = '}';
    *p = 0;
    return s;
}

int cseg_assoc_write_csv(const cseg_assoc *r, const char *path, cseg_diag *d)
{
    size_t n = r->n_rules;
    cseg_table *t = NULL;
    char **ta = calloc(n ? n : 1, sizeof *ta), **tb = calloc(n ? n : 1, sizeof *tb);
    int32_t *codes = malloc((n ? n : 1) * sizeof *codes),
            *gcodes = malloc((n ? n : 1) * sizeof *gcodes);
    double *v = malloc((n ? n : 1) * 10 * sizeof *v);
    int rc = ta && tb && codes && gcodes && v ? cseg_table_create(&t, n) : CSEG_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const cseg_assoc_rule *x = &r->rules[i];
        if (!(ta[i] = item_text(r, x->antecedent, x->n_antecedent)) ||
            !(tb[i] = item_text(r, x->consequent, x->n_consequent)))
            rc = CSEG_ENOMEM;
        codes[i] = (int32_t)i;
        gcodes[i] = (int32_t)x->group;
        double row[10] = {(double)x->group,   (double)(x->n_antecedent + x->n_consequent),
                          (double)x->count,   x->support,
                          x->confidence,      x->lift,
                          x->leverage,        x->conviction,
                          x->lift_population, x->p_value};
        for (int j = 0; j < 10; j++)
            v[(size_t)j * n + i] = row[j];
    }
    static const char *const names[10] = {"group",           "n_items", "count",    "support",
                                          "confidence",      "lift",    "leverage", "conviction",
                                          "lift_population", "p_value"};
    if (rc == 0)
        rc = cseg_table_add_numbers(t, names[0], v);
    if (rc == 0)
        rc = cseg_table_add_text(t, "group_name", (const char *const *)r->group_names, r->ng,
                                 gcodes);
    if (rc == 0)
        rc = cseg_table_add_text(t, "antecedent", (const char *const *)ta, n, codes);
    if (rc == 0)
        rc = cseg_table_add_text(t, "consequent", (const char *const *)tb, n, codes);
    for (int j = 1; j < 10 && rc == 0; j++)
        rc = cseg_table_add_numbers(t, names[j], v + (size_t)j * n);
    if (rc == 0)
        rc = cseg_table_write_csv(t, path, d);
    else
        rc = cseg__diag(d, rc, path, 0, 0, "out of memory writing rules");
    for (size_t i = 0; i < n; i++) {
        free(ta[i]);
        free(tb[i]);
    }
    free(ta);
    free(tb);
    free(codes);
    free(gcodes);
    free(v);
    cseg_table_free(t);
    return rc;
}
