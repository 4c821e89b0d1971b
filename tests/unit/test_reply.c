/* test_reply.c - the RESP2/RESP3 reply writer: the same calls give each protocol's bytes, and
 * deferred aggregate lengths (nested) land before their contents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "protocol/reply.h"

static int errors_seen;

static void count_error(void *ctx, const char *msg, size_t len) {
    (void)ctx, (void)msg, (void)len;
    errors_seen++;
}

/* Writes the same reply in RESP2 and RESP3 and compares with the expected bytes. */
static void check(void (*write)(struct reply *r), const char *want2, const char *want3) {
    for (int proto = 2; proto <= 3; proto++) {
        struct evbuffer *out = evbuffer_new();
        struct reply r;
        reply_init(&r, out, proto);
        r.on_error = count_error;
        write(&r);
        reply_finish(&r);
        size_t n = evbuffer_get_length(out);
        char *got = calloc(1, n + 1);
        evbuffer_remove(out, got, n);
        assert_string_equal(got, proto == 2 ? want2 : want3);
        free(got);
        evbuffer_free(out);
    }
}

static void w_scalars(struct reply *r) {
    reply_simple(r, "OK");
    reply_int(r, -42);
    reply_bulk(r, "a\0b", 3);
    reply_bulk_ll(r, 1234567890123LL);
    reply_null(r);
    reply_null_array(r);
    reply_bool(r, 1);
    reply_double(r, 1.5);
}

static void test_scalars(void **state) {
    (void)state;
    static const char w2[] = "+OK\r\n:-42\r\n$3\r\na\0b\r\n$13\r\n1234567890123\r\n$-1\r\n*-1\r\n"
                             ":1\r\n$3\r\n1.5\r\n";
    /* strings with NUL: compare via a copy without the NUL check */
    struct evbuffer *out = evbuffer_new();
    struct reply r;
    reply_init(&r, out, 2);
    w_scalars(&r);
    assert_int_equal(evbuffer_get_length(out), sizeof(w2) - 1);
    char got[128];
    evbuffer_remove(out, got, sizeof(w2) - 1);
    assert_memory_equal(got, w2, sizeof(w2) - 1);
    evbuffer_free(out);
    static const char w3[] = "+OK\r\n:-42\r\n$3\r\na\0b\r\n$13\r\n1234567890123\r\n_\r\n_\r\n"
                             "#t\r\n,1.5\r\n";
    out = evbuffer_new();
    reply_init(&r, out, 3);
    w_scalars(&r);
    assert_int_equal(evbuffer_get_length(out), sizeof(w3) - 1);
    evbuffer_remove(out, got, sizeof(w3) - 1);
    assert_memory_equal(got, w3, sizeof(w3) - 1);
    evbuffer_free(out);
}

static void w_aggregates(struct reply *r) {
    reply_map(r, 1);
    reply_bulk_cstr(r, "k");
    reply_set(r, 2);
    reply_int(r, 1);
    reply_int(r, 2);
    reply_push(r, 1);
    reply_simple(r, "x");
    reply_verbatim(r, "hi", 2, "txt");
}

static void test_aggregates(void **state) {
    (void)state;
    check(w_aggregates, "*2\r\n$1\r\nk\r\n*2\r\n:1\r\n:2\r\n*1\r\n+x\r\n$2\r\nhi\r\n",
          "%1\r\n$1\r\nk\r\n~2\r\n:1\r\n:2\r\n>1\r\n+x\r\n=6\r\ntxt:hi\r\n");
}

static void w_deferred(struct reply *r) {
    reply_simple(r, "before");
    int outer = reply_defer_len(r);
    for (int i = 0; i < 2; i++) {
        reply_bulk_cstr(r, "key");
        int inner = reply_defer_len(r);
        reply_int(r, i);
        reply_int(r, i + 1);
        reply_set_array_len(r, inner, 2);
    }
    reply_set_map_len(r, outer, 2);
    reply_simple(r, "after");
}

static void test_deferred(void **state) {
    (void)state;
    check(w_deferred,
          "+before\r\n*4\r\n$3\r\nkey\r\n*2\r\n:0\r\n:1\r\n$3\r\nkey\r\n*2\r\n:1\r\n:2\r\n"
          "+after\r\n",
          "+before\r\n%2\r\n$3\r\nkey\r\n*2\r\n:0\r\n:1\r\n$3\r\nkey\r\n*2\r\n:1\r\n:2\r\n"
          "+after\r\n");
}

static void w_errors(struct reply *r) {
    reply_error(r, "ERR bad\r\nthing");
    reply_errorf(r, "WRONGTYPE %d", 7);
}

static void test_errors(void **state) {
    (void)state;
    errors_seen = 0;
    check(w_errors, "-ERR bad  thing\r\n-WRONGTYPE 7\r\n", "-ERR bad  thing\r\n-WRONGTYPE 7\r\n");
    assert_int_equal(errors_seen, 4);
}

static void w_too_deep(struct reply *r) {
    int h[REPLY_MAX_DEFER + 1];
    for (int i = 0; i <= REPLY_MAX_DEFER; i++) h[i] = reply_defer_len(r);
    assert_int_equal(h[REPLY_MAX_DEFER], -1);
    for (int i = REPLY_MAX_DEFER; i >= 0; i--) reply_set_array_len(r, h[i], 0);
}

static void test_too_deep(void **state) {
    (void)state;
    /* Eight levels nest (each closed with the length given, 0 here); the ninth is refused. */
    check(w_too_deep, "*0\r\n*0\r\n*0\r\n*0\r\n*0\r\n*0\r\n*0\r\n*0\r\n",
          "*0\r\n*0\r\n*0\r\n*0\r\n*0\r\n*0\r\n*0\r\n*0\r\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),  cmocka_unit_test(test_aggregates),
        cmocka_unit_test(test_deferred), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_too_deep),
    };
    return cmocka_run_group_tests_name("reply", tests, NULL, NULL);
}
