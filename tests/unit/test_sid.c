/* test_sid.c - stream ID parsing, formatting, ordering and assignment (Redis's rules). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/sid.h"

static int parse(const char *s, uint64_t miss, int flags, sid_t *id, int *ex, int *au) {
    return sid_parse(s, strlen(s), miss, flags, id, ex, au);
}

static void test_parse(void **state) {
    (void)state;
    sid_t id;
    int ex, au;
    assert_int_equal(parse("5-3", 0, 0, &id, NULL, NULL), OBK_OK);
    assert_true(id.ms == 5 && id.seq == 3);
    assert_int_equal(parse("5", 7, 0, &id, NULL, NULL), OBK_OK);
    assert_true(id.ms == 5 && id.seq == 7);
    assert_int_equal(parse("5", UINT64_MAX, 0, &id, NULL, NULL), OBK_OK);
    assert_true(id.seq == UINT64_MAX);
    assert_int_equal(parse("-", 0, 0, &id, NULL, NULL), OBK_OK);
    assert_true(sid_cmp(id, SID_MIN) == 0);
    assert_int_equal(parse("+", 0, 0, &id, NULL, NULL), OBK_OK);
    assert_true(sid_cmp(id, SID_MAX) == 0);
    assert_int_equal(parse("-", 0, SID_PARSE_STRICT, &id, NULL, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("18446744073709551615-18446744073709551615", 0, 0, &id, NULL, NULL),
                     OBK_OK);
    assert_true(sid_cmp(id, SID_MAX) == 0);
    assert_int_equal(parse("18446744073709551616-0", 0, 0, &id, NULL, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("007-1", 0, 0, &id, NULL, NULL), OBK_OK); /* strtoull leniency */
    assert_true(id.ms == 7);
    assert_int_equal(parse("-1", 0, 0, &id, NULL, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("1--1", 0, 0, &id, NULL, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("", 0, 0, &id, NULL, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("abc", 0, 0, &id, NULL, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("1-", 0, 0, &id, NULL, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("1-*", 0, 0, &id, NULL, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("1-*", 0, SID_PARSE_SEQ_AUTO, &id, NULL, &au), OBK_OK);
    assert_true(au == 1 && id.ms == 1);
    assert_int_equal(parse("(5-1", 0, SID_PARSE_EXCLUSIVE, &id, &ex, NULL), OBK_OK);
    assert_true(ex == 1 && id.ms == 5 && id.seq == 1);
    assert_int_equal(parse("(-", 0, SID_PARSE_EXCLUSIVE, &id, &ex, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("(", 0, SID_PARSE_EXCLUSIVE, &id, &ex, NULL), OBK_ERR_INVAL);
    assert_int_equal(parse("(5", 0, 0, &id, NULL, NULL), OBK_ERR_INVAL);
    char big[200];
    memset(big, '1', sizeof big);
    assert_int_equal(sid_parse(big, 128, 0, 0, &id, NULL, NULL), OBK_ERR_INVAL);
}

static void test_format_cmp(void **state) {
    (void)state;
    char b[SID_STRLEN];
    assert_int_equal(sid_format((sid_t){1526919030474, 55}, b), 16);
    assert_string_equal(b, "1526919030474-55");
    sid_format(SID_MAX, b);
    assert_string_equal(b, "18446744073709551615-18446744073709551615");
    assert_int_equal(strlen(b) + 1, SID_STRLEN);
    assert_true(sid_cmp((sid_t){1, 2}, (sid_t){1, 3}) < 0);
    assert_true(sid_cmp((sid_t){2, 0}, (sid_t){1, 3}) > 0);
    assert_true(sid_cmp((sid_t){2, 0}, (sid_t){2, 0}) == 0);
}

static void test_incr_decr(void **state) {
    (void)state;
    sid_t id = {1, UINT64_MAX};
    assert_int_equal(sid_incr(&id), OBK_OK);
    assert_true(id.ms == 2 && id.seq == 0);
    assert_int_equal(sid_decr(&id), OBK_OK);
    assert_true(id.ms == 1 && id.seq == UINT64_MAX);
    id = SID_MAX;
    assert_int_equal(sid_incr(&id), OBK_ERR_RANGE);
    id = SID_MIN;
    assert_int_equal(sid_decr(&id), OBK_ERR_RANGE);
}

static void test_next(void **state) {
    (void)state;
    sid_t out;
    assert_int_equal(sid_next_auto((sid_t){100, 5}, 200, &out), OBK_OK);
    assert_true(out.ms == 200 && out.seq == 0);
    assert_int_equal(sid_next_auto((sid_t){100, 5}, 100, &out), OBK_OK);
    assert_true(out.ms == 100 && out.seq == 6);
    assert_int_equal(sid_next_auto((sid_t){100, 5}, 50, &out), OBK_OK); /* clock went back */
    assert_true(out.ms == 100 && out.seq == 6);
    assert_int_equal(sid_next_auto((sid_t){100, UINT64_MAX}, 50, &out), OBK_OK);
    assert_true(out.ms == 101 && out.seq == 0);
    assert_int_equal(sid_next_auto(SID_MAX, 50, &out), OBK_ERR_RANGE);
    assert_int_equal(sid_next_ms(SID_MIN, 0, &out), OBK_OK);
    assert_true(out.ms == 0 && out.seq == 1);
    assert_int_equal(sid_next_ms((sid_t){5, 1}, 5, &out), OBK_OK);
    assert_true(out.seq == 2);
    assert_int_equal(sid_next_ms((sid_t){5, 1}, 6, &out), OBK_OK);
    assert_true(out.ms == 6 && out.seq == 0);
    assert_int_equal(sid_next_ms((sid_t){5, 1}, 4, &out), OBK_ERR_RANGE);
    assert_int_equal(sid_next_ms((sid_t){5, UINT64_MAX}, 5, &out), OBK_ERR_RANGE);
    assert_int_equal(sid_check_explicit((sid_t){5, 1}, (sid_t){5, 1}), OBK_ERR_RANGE);
    assert_int_equal(sid_check_explicit((sid_t){5, 1}, (sid_t){5, 2}), OBK_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_format_cmp),
        cmocka_unit_test(test_incr_decr),
        cmocka_unit_test(test_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
