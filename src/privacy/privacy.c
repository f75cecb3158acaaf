/* custseg — keyed pseudonyms and the detection of personal data (privacy.h). */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../table/internal.h"
#include "custseg/privacy.h"
#include "internal.h"

int cseg_key_read(const char *path, unsigned char key[CSEG_KEY_MAX], size_t *len, cseg_diag *d)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot open the key file: %s",
                          strerror(errno));
    unsigned char extra;
    size_t n = fread(key, 1, CSEG_KEY_MAX, f);
    int more = n == CSEG_KEY_MAX && fread(&extra, 1, 1, f) == 1, err = ferror(f);
    fclose(f);
    if (err)
        return cseg__diag(d, CSEG_EIO, path, 0, 0, "cannot read the key file");
    if (n < CSEG_KEY_MIN || more)
        return cseg__diag(d, CSEG_EINVAL, path, 0, 0,
                          "a key file holds %d to %d bytes (it has %s%zu); make one with "
                          "head -c 32 /dev/urandom > KEYFILE",
                          CSEG_KEY_MIN, CSEG_KEY_MAX, more ? "more than " : "", n);
    *len = n;
    return 0;
}

int cseg_pseudonym(const unsigned char *key, size_t key_len, const char *id,
                   char out[CSEG_PSEUDONYM_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (key_len > (size_t)INT32_MAX ||
        !HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)id, strlen(id), md, &mdlen) ||
        mdlen != 32)
        return CSEG_EINVAL;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int cseg_table_pseudonymize(cseg_table *t, size_t j, const unsigned char *key, size_t key_len,
                            cseg_diag *d)
{
    if (j >= cseg_table_n_cols(t) || cseg_table_col_type(t, j) != CSEG_COL_TEXT)
        return cseg__diag(d, CSEG_EINVAL, NULL, 0, 0,
                          "only a text column can be pseudonymised (column %zu)", j + 1);
    size_t n = cseg_table_n_levels(t, j);
    char *buf = malloc((n ? n : 1) * (CSEG_PSEUDONYM_LEN + 1));
    const char **lv = malloc((n ? n : 1) * sizeof *lv);
    int rc = buf && lv ? 0 : CSEG_ENOMEM;
    for (size_t k = 0; k < n && rc == 0; k++) {
        lv[k] = buf + k * (CSEG_PSEUDONYM_LEN + 1);
        rc = cseg_pseudonym(key, key_len, cseg_table_level(t, j, (int32_t)k), buf + k * (CSEG_PSEUDONYM_LEN + 1));
    }
    if (rc == 0)
        rc = cseg__table_replace_levels(t, j, lv);
    free(buf);
    free(lv);
    return rc < 0 ? cseg__diag(d, rc, NULL, 0, 0, "cannot pseudonymise column \"%s\"",
                               cseg_table_col_name(t, j))
                  : 0;
}

static int is_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || strpbrk(s, " \t"))
        return 0;
    const char *dot = strrchr(at + 1, '.');
    return dot && dot > at + 1 && dot[1] != 0;
}

static int is_phone(const char *s)
{
    size_t digits = 0, seps = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (strchr("+ -.()", *p))
            seps++;
        else
            return 0;
    }
    /* 9 digits at least: a date (2011-02-30, 8 digits) is no phone number. */
    return digits >= 9 && digits <= 15 && seps > 0;
}

static int is_free_text(const char *s)
{
    size_t words = 0, len = strlen(s);
    for (const char *p = s; *p; p++)
        words += (p == s || p[-1] == ' ') && *p != ' ';
    return words >= 3 && len >= 20;
}

void cseg__pii_count(const cseg_table *t, size_t j, const int32_t *code, size_t n,
                     uint64_t c[CSEG__PII_COUNTS], unsigned char *used_levels)
{
    size_t nl = cseg_table_n_levels(t, j);
    /* Count over the values (a value used twice counts twice). */
    unsigned char *kind = calloc(nl ? nl : 1, 1);
    memset(c, 0, CSEG__PII_COUNTS * sizeof *c);
    if (!kind) {
        c[0] = UINT64_MAX; /* no verdict */
        return;
    }
    for (size_t l = 0; l < nl; l++) {
        const char *v = cseg_table_level(t, j, (int32_t)l);
        kind[l] = (unsigned char)(is_email(v) | is_phone(v) << 1 | is_free_text(v) << 2);
    }
    for (size_t i = 0; i < n; i++) {
        if (code[i] < 0)
            continue;
        c[0]++;
        c[4] += !(kind[code[i]] & 8);
        kind[code[i]] |= 8; /* seen: the distinct values used */
        c[1] += kind[code[i]] & 1;
        c[2] += (kind[code[i]] >> 1) & 1;
        c[3] += (kind[code[i]] >> 2) & 1;
    }
    for (size_t l = 0; used_levels && l < nl; l++)
        used_levels[l] = (kind[l] & 8) != 0;
    free(kind);
}

const char *cseg__pii_verdict(const uint64_t c[CSEG__PII_COUNTS])
{
    uint64_t m = c[0];
    if (m == 0 || m == UINT64_MAX)
        return NULL;
    if (2 * c[1] >= m)
        return "e-mail addresses";
    if (2 * c[2] >= m)
        return "phone numbers";
    if (2 * c[3] >= m && 2 * c[4] >= m)
        return "free text";
    return NULL;
}

/* The verdict on the values code[0..n) (< 0: none) of column j's levels. */
static const char *judge(const cseg_table *t, size_t j, const int32_t *code, size_t n)
{
    uint64_t c[CSEG__PII_COUNTS];
    cseg__pii_count(t, j, code, n, c, NULL);
    return cseg__pii_verdict(c);
}

const char *cseg_pii_kind(const cseg_table *t, size_t j)
{
    const int32_t *code = cseg_table_codes(t, j);
    size_t n = cseg_table_n_rows(t);
    return code && n ? judge(t, j, code, n) : NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

const char *cseg_pii_kind_by(const cseg_table *t, size_t j, size_t by)
{
    const int32_t *code = cseg_table_codes(t, j), *grp = cseg_table_codes(t, by);
    size_t n = cseg_table_n_rows(t);
    if (!code || !grp || n == 0)
        return code && n ? judge(t, j, code, n) : NULL;
    /* (customer, value) pairs sorted: each customer's most frequent value
     * (the smallest level on a tie), as a log's attribute is carried. */
    uint64_t *pair = malloc(n * sizeof *pair);
    int32_t *pick = malloc(n * sizeof *pick);
    const char *verdict = NULL;
    if (pair && pick) {
        size_t m = 0, np = 0;
        for (size_t i = 0; i < n; i++)
            if (grp[i] >= 0 && code[i] >= 0)
                pair[m++] = (uint64_t)(uint32_t)grp[i] << 32 | (uint32_t)code[i];
        qsort(pair, m, sizeof *pair, cmp_u64);
        for (size_t i = 0; i < m;) {
            uint64_t g = pair[i] >> 32;
            size_t best = 0;
            int32_t val = -1;
            while (i < m && pair[i] >> 32 == g) {
                size_t r = i;
                while (i < m && pair[i] == pair[r])
                    i++;
                if (i - r > best) {
                    best = i - r;
                    val = (int32_t)(uint32_t)pair[r];
                }
            }
            pick[np++] = val;
        }
        verdict = judge(t, j, pick, np);
    }
    free(pair);
    free(pick);
    return verdict;
}
