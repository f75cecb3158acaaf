/* custseg — privacy: keyed pseudonyms for customer ids and the detection of
 * personal data in customer tables (docs/privacy.md).
 *
 * A pseudonym is HMAC-SHA-256(key, id) written as 64 lower-case hex digits
 * (OpenSSL's libcrypto): the same key maps the same id the same way, so runs
 * and exports still join, and without the key the id cannot be recovered or
 * checked. */
#ifndef CUSTSEG_PRIVACY_H
#define CUSTSEG_PRIVACY_H

#include <stddef.h>
#include "custseg/error.h"
#include "custseg/table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CSEG_KEY_MIN 16   /* bytes */
#define CSEG_KEY_MAX 1024
#define CSEG_PSEUDONYM_LEN 64

/* Read a key file: its bytes as they are, CSEG_KEY_MIN..CSEG_KEY_MAX of them
 * (e.g. `head -c 32 /dev/urandom > key`). *len receives the length. */
CSEG_API int cseg_key_read(const char *path, unsigned char key[CSEG_KEY_MAX], size_t *len,
                           cseg_diag *d);
/* The pseudonym of one id into out (CSEG_PSEUDONYM_LEN + 1 bytes). */
CSEG_API int cseg_pseudonym(const unsigned char *key, size_t key_len, const char *id,
                            char out[CSEG_PSEUDONYM_LEN + 1]);
/* Replace every value of text column j by its pseudonym, in place. */
CSEG_API int cseg_table_pseudonymize(cseg_table *t, size_t j, const unsigned char *key,
                                     size_t key_len, cseg_diag *d);

/* What personal data a text column looks like: "e-mail addresses", "phone
 * numbers", "free text", or NULL. Half or more of its values must be: an
 * e-mail address (text@text.text, no spaces); a phone number (9 to 15
 * digits, with '+', spaces, dashes, dots or parentheses, and at least one of
 * them: a bare run of digits is taken for a code, and a date has 8); or free text (at least
 * three words and 20 characters, on a column whose values are mostly
 * distinct). Number and date columns are never personal data here. */
CSEG_API const char *cseg_pii_kind(const cseg_table *t, size_t j);
/* The same on the values column j gives each customer of the text column by
 * (a transaction log's rows: the customer's most frequent value, the one
 * run carries as an attribute). A text repeated on each of a customer's rows
 * (an address) is free text when the customers' values are mostly distinct;
 * counted over the rows it was not. */
CSEG_API const char *cseg_pii_kind_by(const cseg_table *t, size_t j, size_t by);

#ifdef __cplusplus
}
#endif
#endif
