/* test_respv.c - the RESP reply parser the HTTP API reads its command replies with: every
 * RESP2/RESP3 type, nesting, maps, attributes dropped, incomplete input at every cut, and
 * refusal of bytes that are not RESP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "protocol/respv.h"

static int parse(const char *s, struct respv *v, size_t *used) {
    return respv_parse(s, strlen(s), v, used);
}

static void test_scalars(void **state) {
    (void)state;
    struct respv v;
    size_t used;
    assert_int_equal(parse("+OK\r\n", &v, &used), 1);
    assert_true(v.type == '+' && !strcmp(v.str, "OK") && used == 5);
    respv_free(&v);
    assert_int_equal(parse("-ERR no such key\r\n", &v, &used), 1);
    assert_true(v.type == '-' && !strcmp(v.str, "ERR no such key"));
    respv_free(&v);
    assert_int_equal(parse(":-42\r\n", &v, &used), 1);
    assert_true(v.type == ':' && v.integer == -42);
    respv_free(&v);
    assert_int_equal(respv_parse("$3\r\na\0b\r\n", 9, &v, &used), 1);
    assert_true(v.type == '$' && v.len == 3 && !memcmp(v.str, "a\0b", 3) && used == 9);
    respv_free(&v);
    assert_int_equal(parse("$-1\r\n", &v, &used), 1);
    assert_int_equal(v.type, '_');
    assert_int_equal(parse("_\r\n", &v, &used), 1);
    assert_int_equal(v.type, '_');
    assert_int_equal(parse("#t\r\n", &v, &used), 1);
    assert_true(v.type == '#' && v.integer == 1);
    assert_int_equal(parse(",1.5\r\n", &v, &used), 1);
    assert_true(v.type == ',' && !strcmp(v.str, "1.5"));
    respv_free(&v);
    assert_int_equal(parse("=8\r\ntxt:abcd\r\n", &v, &used), 1);
    assert_true(v.type == '=' && v.len == 4 && !strcmp(v.str, "abcd"));
    respv_free(&v);
}

static void test_aggregates(void **state) {
    (void)state;
    const char *s = "%2\r\n$6\r\nlength\r\n:3\r\n$7\r\nentries\r\n*1\r\n*2\r\n$3\r\n1-1\r\n"
                    "*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
    struct respv v;
    size_t used;
    assert_int_equal(parse(s, &v, &used), 1);
    assert_int_equal(used, strlen(s));
    assert_true(v.type == '%' && v.n == 4);
    const struct respv *len = respv_map_get(&v, "length");
    assert_non_null(len);
    assert_int_equal(len->integer, 3);
    const struct respv *es = respv_map_get(&v, "entries");
    assert_true(es && es->type == '*' && es->n == 1 && es->elems[0].elems[1].n == 2);
    assert_null(respv_map_get(&v, "nope"));
    respv_free(&v);
    /* an attribute is dropped, the value after it is returned */
    assert_int_equal(parse("|1\r\n+a\r\n+b\r\n:7\r\n", &v, &used), 1);
    assert_true(v.type == ':' && v.integer == 7);
    assert_int_equal(parse("*-1\r\n", &v, &used), 1);
    assert_int_equal(v.type, '_');
}

static void test_incomplete_and_bad(void **state) {
    (void)state;
    const char *s = "*2\r\n$5\r\nhello\r\n%1\r\n+k\r\n:1\r\n";
    size_t n = strlen(s), used;
    struct respv v;
    for (size_t cut = 0; cut < n; cut++) {
        assert_int_equal(respv_parse(s, cut, &v, &used), 0);
        assert_int_equal(respv_complete(s, cut), 0);
    }
    assert_int_equal(respv_complete(s, n), (long)n);
    assert_int_equal(respv_complete("?x\r\n", 4), -1);
    /* found by fuzz_respv: the allocation-free check must refuse what the parser refuses */
    const char *bad = "~2\r\n(123\r\n:-~2\r\n(123\r\n:-4\r\n4\r\n";
    assert_int_equal(respv_complete(bad, strlen(bad)), -1);
    assert_int_equal(parse(bad, &v, &used), -1);
    assert_int_equal(respv_complete("#x\r\n", 4), -1);
    assert_int_equal(respv_complete("|-1\r\n+a\r\n", 9), -1); /* also found by fuzz_respv */
    assert_int_equal(parse("|-1\r\n+a\r\n", &v, &used), -1);
    assert_int_equal(respv_parse(s, n, &v, &used), 1);
    respv_free(&v);
    assert_int_equal(parse("?x\r\n", &v, &used), -1);
    assert_int_equal(parse(":12a\r\n", &v, &used), -1);
    assert_int_equal(parse("$-2\r\n", &v, &used), -1);
    assert_int_equal(parse("#x\r\n", &v, &used), -1);
    /* nesting deeper than RESPV_MAX_DEPTH is refused */
    char deep[4 * (RESPV_MAX_DEPTH + 2) + 8];
    size_t p = 0;
    for (int i = 0; i < RESPV_MAX_DEPTH + 2; i++) p += (size_t)sprintf(deep + p, "*1\r\n");
    sprintf(deep + p, ":1\r\n");
    assert_int_equal(parse(deep, &v, &used), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_aggregates),
        cmocka_unit_test(test_incomplete_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
