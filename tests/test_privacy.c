/* Tests for privacy.h: keyed pseudonyms (against an HMAC-SHA-256 test vector)
 * and the detection of personal data in text columns. */
#include "util.h"

static void test_pseudonym(void **state)
{
    (void)state;
    /* RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?". */
    char out[CSEG_PSEUDONYM_LEN + 1];
    assert_int_equal(cseg_pseudonym((const unsigned char *)"Jefe", 4,
                                    "what do ya want for nothing?", out),
                     0);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* A table's ids, in place: equal ids stay equal, the rest differ. */
    const char *lv[] = {"17850", "12347", "Müller"};
    int32_t codes[] = {0, 1, 0, 2, -1};
    cseg_table *t;
    cseg_table_create(&t, 5);
    cseg_table_add_text(t, "customer_id", lv, 3, codes);
    const unsigned char key[16] = "0123456789abcdef";
    cseg_diag d;
    assert_int_equal(cseg_table_pseudonymize(t, 0, key, 16, &d), 0);
    const int32_t *c = cseg_table_codes(t, 0);
    assert_int_equal(c[0], c[2]);
    assert_true(c[0] != c[1] && c[1] != c[3]);
    assert_int_equal(c[4], -1);
    char want[CSEG_PSEUDONYM_LEN + 1];
    cseg_pseudonym(key, 16, "Müller", want);
    assert_string_equal(cseg_table_level(t, 0, c[3]), want);
    assert_int_equal(cseg_table_find(t, "customer_id"), 0);
    cseg_table_free(t);
}

static void test_key_file(void **state)
{
    (void)state;
    unsigned char key[CSEG_KEY_MAX];
    size_t len;
    cseg_diag d;
    const char *p = tmp_text(0, "short");
    assert_int_equal(cseg_key_read(p, key, &len, &d), CSEG_EINVAL);
    assert_non_null(strstr(d.msg, "head -c 32 /dev/urandom"));
    unlink(p);
    p = tmp_text(0, "a key of twenty-four byt");
    assert_int_equal(cseg_key_read(p, key, &len, &d), 0);
    assert_int_equal(len, 24);
    unlink(p);
    assert_int_equal(cseg_key_read("/nonexistent/key", key, &len, &d), CSEG_EIO);
}

static void test_pii_kinds(void **state)
{
    (void)state;
    const char *mail[] = {"ann@example.com", "bob@mail.example.org", "-"};
    const char *phone[] = {"+44 20 7946 0958", "(555) 123-4567", "07946 095 800"};
    const char *code[] = {"0123456789", "9876543210", "5550000000"}; /* bare digits: codes */
    const char *text[] = {"called about the late delivery twice", "wants invoices by post please",
                          "prefers the weekend store visits"};
    const char *genre[] = {"Female", "Male", "Other"};
    const char *dates[] = {"2011-02-30", "2011-01-02", "2011-03-04"}; /* text: one is impossible */
    int32_t c[] = {0, 1, 2, 0};
    int32_t distinct[] = {0, 1, 2, -1};
    struct {
        const char *const *lv;
        const int32_t *codes;
        const char *want;
    } cases[] = {{mail, c, "e-mail addresses"}, {phone, c, "phone numbers"},
                 {code, c, NULL},               {text, distinct, "free text"},
                 {genre, c, NULL},              {dates, c, NULL}};
    for (size_t k = 0; k < 6; k++) {
        cseg_table *t;
        cseg_table_create(&t, 4);
        cseg_table_add_text(t, "x", cases[k].lv, 3, cases[k].codes);
        const char *got = cseg_pii_kind(t, 0);
        if (cases[k].want)
            assert_string_equal(got, cases[k].want);
        else
            assert_null(got);
        cseg_table_free(t);
    }
    double nums[] = {1, 2, 3, 4};
    cseg_table *t;
    cseg_table_create(&t, 4);
    cseg_table_add_numbers(t, "n", nums);
    assert_null(cseg_pii_kind(t, 0));
    cseg_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pseudonym),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_pii_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
