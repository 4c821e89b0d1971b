/* test_idmp.c - idempotent producers (Redis 8.6) against a real server: XADD ... IDMP and
 * IDMPAUTO with redis.io's examples (a retry answers the first ID and adds nothing, whatever
 * its fields; IDMPAUTO ignores the order of the pairs), their errors in Redis's order, XCFGSET
 * (errors, bounds, a change forgetting the ids, the same values keeping them), the duration,
 * and the ids surviving kill -9, a clean restart and RENAME, and going with DEL. */
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

static void expect_error(redisContext *c, const char *cmd, const char *err) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type != REDIS_REPLY_ERROR) fail_msg("%s: no error", cmd);
    assert_string_equal(r->str, err);
    freeReplyObject(r);
}

/* The ID an XADD answered (copied into out). */
static void xadd(redisContext *c, const char *cmd, char *out) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type != REDIS_REPLY_STRING) fail_msg("%s: %s", cmd, r->str ? r->str : "not a string");
    snprintf(out, 48, "%s", r->str);
    freeReplyObject(r);
}

static long long int_cmd(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type != REDIS_REPLY_INTEGER) fail_msg("%s: not an integer", cmd);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void ok_cmd(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", cmd, r->str);
    freeReplyObject(r);
}

static void test_documented_examples(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    char a[48], b[48];
    xadd(c, "XADD mystream IDMP producer1 msg1 * field value", a);
    xadd(c, "XADD mystream IDMP producer1 msg1 * field different_value", b);
    assert_string_equal(a, b);
    assert_int_equal(int_cmd(c, "XLEN mystream"), 1);
    redisReply *r = must_cmd(c, "XRANGE mystream - +");
    assert_string_equal(r->element[0]->element[1]->element[1]->str, "value"); /* the first kept */
    freeReplyObject(r);
    xadd(c, "XADD mystream IDMPAUTO producer2 * field value", a);
    xadd(c, "XADD mystream IDMPAUTO producer2 * field value", b);
    assert_string_equal(a, b);
    assert_int_equal(int_cmd(c, "XLEN mystream"), 2);
    ok_cmd(c, "XCFGSET mystream IDMP-DURATION 300 IDMP-MAXSIZE 1000");
    /* the same iid under another producer is a new entry; IDMPAUTO ignores the pairs' order */
    xadd(c, "XADD mystream IDMP producer2 msg1 * field value", a);
    xadd(c, "XADD mystream IDMPAUTO p3 * f1 a f2 b", a);
    xadd(c, "XADD mystream IDMPAUTO p3 * f2 b f1 a", b);
    assert_string_equal(a, b);
    xadd(c, "XADD mystream IDMPAUTO p3 * f2 b f1 x", b); /* another value: another id */
    assert_string_not_equal(a, b);
    /* the options in any order before the ID, with trimming; a retry trims nothing */
    xadd(c, "XADD mystream MAXLEN ~ 100 IDMP p1 r2 * f v", a);
    xadd(c, "XADD mystream IDMPAUTO p1 KEEPREF * f v", a);
    long long len = int_cmd(c, "XLEN mystream");
    xadd(c, "XADD mystream IDMP p1 r2 MAXLEN 1 * f v", b);
    assert_int_equal(int_cmd(c, "XLEN mystream"), len);
    /* NOMKSTREAM on a missing key: nil before any lookup */
    r = must_cmd(c, "XADD nostream NOMKSTREAM IDMP p i * f v");
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    redisFree(c);
}

static void test_errors(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    expect_error(c, "XADD e IDMP p1 i1 IDMP p1 i2 * f v",
                 "ERR syntax error, IDMP/IDMPAUTO specified multiple times");
    expect_error(c, "XADD e IDMPAUTO p1 IDMP p1 i2 * f v",
                 "ERR syntax error, IDMP/IDMPAUTO specified multiple times");
    expect_error(c, "XADD e IDMP p1 iid1 1-1 f v",
                 "ERR syntax error, IDMP/IDMPAUTO can be used only with auto-generated IDs");
    expect_error(c, "XADD e IDMPAUTO p1 5-* f v",
                 "ERR syntax error, IDMP/IDMPAUTO can be used only with auto-generated IDs");
    expect_error(c, "XADD e IDMP p1 * f v",
                 "ERR Invalid stream ID specified as stream command argument");
    redisReply *r = must_cmd(c, "XADD e IDMP %s i * f v", "");
    assert_string_equal(r->str, "ERR syntax error, IDMP requires a non-empty producer ID");
    freeReplyObject(r);
    r = must_cmd(c, "XADD e IDMP p %s * f v", "");
    assert_string_equal(r->str, "ERR syntax error, IDMP requires a non-empty idempotent ID");
    freeReplyObject(r);
    r = must_cmd(c, "XADD e IDMPAUTO %s * f v", "");
    assert_string_equal(r->str, "ERR syntax error, IDMPAUTO requires a non-empty producer ID");
    freeReplyObject(r);
    assert_int_equal(int_cmd(c, "EXISTS e"), 0); /* nothing was created */
    /* XCFGSET */
    expect_error(c, "XCFGSET nokey IDMP-DURATION 5", "ERR no such key");
    char id[48];
    xadd(c, "XADD cf * f v", id);
    expect_error(c, "XCFGSET cf", "ERR At least one parameter must be specified");
    expect_error(c, "XCFGSET", "ERR wrong number of arguments for 'xcfgset' command");
    expect_error(c, "XCFGSET cf IDMP-DURATION", "ERR syntax error");
    expect_error(c, "XCFGSET cf INVALID 5", "ERR syntax error");
    expect_error(c, "XCFGSET cf IDMP-DURATION 3.14", "ERR value is not an integer or out of range");
    expect_error(c, "XCFGSET cf IDMP-DURATION 0",
                 "ERR IDMP-DURATION must be between 1 and 86400 seconds");
    expect_error(c, "XCFGSET cf IDMP-DURATION 86401",
                 "ERR IDMP-DURATION must be between 1 and 86400 seconds");
    expect_error(c, "XCFGSET cf IDMP-MAXSIZE 10001",
                 "ERR IDMP-MAXSIZE must be between 1 and 10000 entries");
    expect_error(c, "XCFGSET cf IDMP-MAXSIZE 5 IDMP-MAXSIZE 6",
                 "ERR IDMP-MAXSIZE specified multiple times");
    redisFree(c);
}

static void test_bounds_and_reconfigure(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    char a[48], b[48], r3[48];
    ok_cmd(c, "XADD bs * f v");
    ok_cmd(c, "XCFGSET bs IDMP-MAXSIZE 3");
    xadd(c, "XADD bs IDMP p r1 * f v", a);
    xadd(c, "XADD bs IDMP p r2 * f v", b);
    xadd(c, "XADD bs IDMP p r3 * f v", r3);
    xadd(c, "XADD bs IDMP p r4 * f v", b);
    xadd(c, "XADD bs IDMP p r1 * f v", b); /* r1 was the oldest of four: forgotten */
    assert_string_not_equal(a, b);
    xadd(c, "XADD bs IDMP p r3 * f v", b); /* r3 still known */
    assert_string_equal(b, r3);
    /* the same values keep the ids; another value forgets them */
    ok_cmd(c, "XCFGSET bs IDMP-MAXSIZE 3");
    xadd(c, "XADD bs IDMP p r3 * f v", b);
    assert_string_equal(b, r3);
    ok_cmd(c, "XCFGSET bs IDMP-MAXSIZE 4");
    xadd(c, "XADD bs IDMP p r3 * f v", b);
    assert_string_not_equal(b, r3);
    /* the duration: a second, counted on the entries' ID times */
    ok_cmd(c, "XCFGSET bs IDMP-DURATION 1");
    xadd(c, "XADD bs IDMP q x * f v", a);
    xadd(c, "XADD bs IDMP q x * f v", b);
    assert_string_equal(a, b);
    usleep(1200000);
    xadd(c, "XADD bs IDMP q x * f v", b);
    assert_string_not_equal(a, b);
    redisFree(c);
}

/* The ids are durable: a retry after kill -9 or a clean restart answers the first ID; RENAME
 * carries them, DEL drops them. */
static void test_survives_restarts(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    char first[48], auto_first[48], again[48];
    xadd(c, "XADD k IDMP prod req-1 * f v", first);
    xadd(c, "XADD k IDMPAUTO prod * order 42", auto_first);
    ok_cmd(c, "XCFGSET k IDMP-DURATION 3600");
    xadd(c, "XADD k IDMP prod req-2 * f v", again);
    redisFree(c);
    for (int round = 0; round < 2; round++) {
        if (round == 0)
            server_kill(&s);
        else
            assert_int_equal(server_stop(&s), 0);
        assert_int_equal(server_start_argv(&s, NULL, 1), 0);
        c = client_connect(&s);
        char got[48];
        xadd(c, "XADD k IDMP prod req-2 * f other", got);
        assert_string_equal(got, again);
        xadd(c, "XADD k IDMP prod req-1 * f other", got);
        if (round == 0) { /* forgotten by XCFGSET's change: added again, and known from now */
            assert_string_not_equal(got, first);
            strcpy(first, got);
        } else {
            assert_string_equal(got, first);
        }
        assert_int_equal(int_cmd(c, "XLEN k"), 4);
        redisFree(c);
    }
    c = client_connect(&s);
    ok_cmd(c, "RENAME k k2");
    char got[48];
    xadd(c, "XADD k2 IDMP prod req-2 * f v", got);
    assert_string_equal(got, again);
    ok_cmd(c, "DEL k2");
    xadd(c, "XADD k2 IDMP prod req-2 * f v", got);
    assert_string_not_equal(got, again);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_examples),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bounds_and_reconfigure),
        cmocka_unit_test(test_survives_restarts),
    };
    return cmocka_run_group_tests_name("idmp", tests, shared_server_setup, shared_server_teardown);
}
