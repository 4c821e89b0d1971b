/* test_claim.c - taking over stuck work in consumer groups, against a real server: XREADGROUP's
 * CLAIM option (Redis 8.4) as redis.io documents it: its errors, the order (oldest delivery
 * first, any consumer), COUNT over claimed and new entries, the [id, fields, idle, deliveries]
 * shape, deleted entries skipped, NOACK, history reads, and a blocked CLAIM read woken when a
 * pending entry becomes old enough. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static void ok_cmd(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", cmd, r->str);
    freeReplyObject(r);
}

static void expect_error(redisContext *c, const char *cmd, const char *err) {
    redisReply *r = must_cmd(c, cmd);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_string_equal(r->str, err);
    freeReplyObject(r);
}

/* The entries of the first stream of an XREADGROUP reply (RESP2). */
static redisReply *entries_of(redisReply *r) {
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements >= 1);
    return r->element[0]->element[1];
}

/* Checks entry e: its ID, and for a CLAIM read its idle time (within [lo, hi]) and count. */
static void expect_entry(const redisReply *e, const char *id, long long idle_lo, long long idle_hi,
                         long long deliveries) {
    assert_int_equal(e->type, REDIS_REPLY_ARRAY);
    assert_string_equal(e->element[0]->str, id);
    if (idle_lo < 0) {
        assert_int_equal(e->elements, 2);
        return;
    }
    assert_int_equal(e->elements, 4);
    assert_int_equal(e->element[2]->type, REDIS_REPLY_INTEGER);
    assert_int_equal(e->element[3]->type, REDIS_REPLY_INTEGER);
    if (e->element[2]->integer < idle_lo || e->element[2]->integer > idle_hi)
        fail_msg("%s: idle %lld not in [%lld, %lld]", id, e->element[2]->integer, idle_lo, idle_hi);
    assert_int_equal(e->element[3]->integer, deliveries);
}

/* XPENDING's row for one ID: owner and delivery count. */
static void expect_pending(redisContext *c, const char *key, const char *id, const char *owner,
                           long long count) {
    redisReply *r = must_cmd(c, "XPENDING %s g %s %s 1", key, id, id);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->element[1]->str, owner);
    assert_int_equal(r->element[0]->element[3]->integer, count);
    freeReplyObject(r);
}

static void test_claim_errors(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XGROUP CREATE e g $ MKSTREAM");
    expect_error(c, "XREAD CLAIM 10 STREAMS e 0",
                 "ERR The CLAIM option is only supported by XREADGROUP. You called XREAD instead.");
    expect_error(c, "XREAD CLAIM abc STREAMS e 0",
                 "ERR The CLAIM option is only supported by XREADGROUP. You called XREAD instead.");
    expect_error(c, "XREADGROUP GROUP g c CLAIM abc STREAMS e >",
                 "ERR min-idle-time is not an integer or out of range");
    expect_error(c, "XREADGROUP GROUP g c CLAIM 5.5 STREAMS e >",
                 "ERR min-idle-time is not an integer or out of range");
    expect_error(c, "XREADGROUP GROUP g c CLAIM STREAMS e >",
                 "ERR min-idle-time is not an integer or out of range");
    expect_error(c, "XREADGROUP GROUP g c CLAIM -1 STREAMS e >",
                 "ERR min-idle-time must be a positive integer");
    redisReply *r = must_cmd(c, "XREADGROUP GROUP g c CLAIM 0 STREAMS e >");
    assert_int_equal(r->type, REDIS_REPLY_NIL); /* nothing pending, nothing new */
    freeReplyObject(r);
    redisFree(c);
}

static void test_claim_order_count_shape(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XADD s 1-1 f v1");
    ok_cmd(c, "XADD s 2-1 f v2");
    ok_cmd(c, "XADD s 3-1 f v3");
    ok_cmd(c, "XGROUP CREATE s g 0");
    ok_cmd(c, "XREADGROUP GROUP g c1 COUNT 2 STREAMS s >"); /* 1-1 and 2-1 to c1 */
    /* delivery times: 2-1 older than 1-1, so time order beats ID order */
    ok_cmd(c, "XCLAIM s g c1 0 1-1 IDLE 40000 JUSTID");
    ok_cmd(c, "XCLAIM s g c1 0 2-1 IDLE 60000 JUSTID");
    /* nothing idle for 100 s: only the new entry, in the 4-element shape with 0 and 0 */
    redisReply *r = must_cmd(c, "XREADGROUP GROUP g c2 COUNT 1 CLAIM 100000 STREAMS s >");
    redisReply *e = entries_of(r);
    assert_int_equal(e->elements, 1);
    expect_entry(e->element[0], "3-1", 0, 0, 0);
    freeReplyObject(r);
    /* COUNT 1 with two claimable: the oldest delivery only, with its count before the claim */
    r = must_cmd(c, "XREADGROUP GROUP g c2 COUNT 1 CLAIM 30000 STREAMS s >");
    e = entries_of(r);
    assert_int_equal(e->elements, 1);
    expect_entry(e->element[0], "2-1", 60000, 70000, 1);
    freeReplyObject(r);
    expect_pending(c, "s", "2-1", "c2", 2); /* moved to c2, counted */
    r = must_cmd(c, "XREADGROUP GROUP g c3 CLAIM 30000 STREAMS s >");
    e = entries_of(r);
    assert_int_equal(e->elements, 1);
    expect_entry(e->element[0], "1-1", 40000, 50000, 1);
    freeReplyObject(r);
    /* claimed first, then new; COUNT covers both */
    ok_cmd(c, "XADD s 4-1 f v4");
    ok_cmd(c, "XADD s 5-1 f v5");
    ok_cmd(c, "XCLAIM s g c3 0 1-1 IDLE 90000 JUSTID");
    r = must_cmd(c, "XREADGROUP GROUP g c4 COUNT 2 CLAIM 50000 STREAMS s >");
    e = entries_of(r);
    assert_int_equal(e->elements, 2);
    expect_entry(e->element[0], "1-1", 90000, 100000, 2);
    expect_entry(e->element[1], "4-1", 0, 0, 0);
    freeReplyObject(r);
    /* an entry deleted from the stream is skipped, and stays pending */
    ok_cmd(c, "XCLAIM s g c4 0 1-1 IDLE 90000 JUSTID");
    ok_cmd(c, "XCLAIM s g c4 0 4-1 IDLE 80000 JUSTID");
    ok_cmd(c, "XDEL s 1-1");
    r = must_cmd(c, "XREADGROUP GROUP g c5 CLAIM 50000 STREAMS s >");
    e = entries_of(r);
    assert_int_equal(e->elements, 2);
    expect_entry(e->element[0], "4-1", 80000, 90000, 1);
    expect_entry(e->element[1], "5-1", 0, 0, 0);
    freeReplyObject(r);
    expect_pending(c, "s", "1-1", "c4", 3);
    /* NOACK: new entries stay out of the PEL, claimed ones stay in it */
    ok_cmd(c, "XADD s 6-1 f v6");
    ok_cmd(c, "XCLAIM s g c5 0 4-1 IDLE 80000 JUSTID");
    r = must_cmd(c, "XREADGROUP GROUP g c6 NOACK CLAIM 50000 STREAMS s >");
    e = entries_of(r);
    assert_int_equal(e->elements, 2);
    expect_entry(e->element[0], "4-1", 80000, 90000, 2);
    expect_entry(e->element[1], "6-1", 0, 0, 0);
    freeReplyObject(r);
    expect_pending(c, "s", "4-1", "c6", 3);
    r = must_cmd(c, "XPENDING s g 6-1 6-1 1");
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
    /* a history read ignores CLAIM: the 2-element shape */
    r = must_cmd(c, "XREADGROUP GROUP g c6 CLAIM 0 STREAMS s 0");
    e = entries_of(r);
    assert_int_equal(e->elements, 1);
    expect_entry(e->element[0], "4-1", -1, 0, 0);
    freeReplyObject(r);
    redisFree(c);
}

/* A blocked CLAIM read is served when a pending entry of another consumer gets old enough, and
 * times out with nil when none does. */
static void test_claim_blocking(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XADD b 1-1 f v1");
    ok_cmd(c, "XGROUP CREATE b g 0");
    ok_cmd(c, "XREADGROUP GROUP g c1 STREAMS b >");
    redisReply *r = must_cmd(c, "XREADGROUP GROUP g c2 BLOCK 100 CLAIM 100000 STREAMS b >");
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    long long t0 = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
    }
    r = must_cmd(c, "XREADGROUP GROUP g c2 BLOCK 5000 CLAIM 400 STREAMS b >");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long waited = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 - t0;
    redisReply *e = entries_of(r);
    assert_int_equal(e->elements, 1);
    expect_entry(e->element[0], "1-1", 400, 5000, 1);
    freeReplyObject(r);
    assert_true(waited < 4000); /* served by the retry, not by the timeout */
    expect_pending(c, "b", "1-1", "c2", 2);
    /* and a new entry still wakes it at once */
    int fd = raw_connect(shared_server.port);
    assert_int_equal(raw_send_str(fd, "XREADGROUP GROUP g c3 BLOCK 5000 CLAIM 100000 STREAMS b >\r\n"),
                     0);
    usleep(100000);
    ok_cmd(c, "XADD b 2-1 f v2");
    assert_true(raw_expect(fd, "*1\r\n*2\r\n$1\r\nb\r\n*1\r\n*4\r\n$3\r\n2-1\r\n*2\r\n$1\r\nf\r\n$2\r\n"
                               "v2\r\n:0\r\n:0\r\n"));
    close(fd);
    redisFree(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_errors),
        cmocka_unit_test(test_claim_order_count_shape),
        cmocka_unit_test(test_claim_blocking),
    };
    return cmocka_run_group_tests_name("claim", tests, shared_server_setup, shared_server_teardown);
}
