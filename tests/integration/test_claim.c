/* test_claim.c - taking over stuck work in consumer groups, against a real server: XREADGROUP's
 * CLAIM option (Redis 8.4) as redis.io documents it: its errors, the order (oldest delivery
 * first, any consumer), COUNT over claimed and new entries, the [id, fields, idle, deliveries]
 * shape, deleted entries skipped, NOACK, history reads, and a blocked CLAIM read woken when a
 * pending entry becomes old enough. Dead-letter streams (Obelisk's XGROUP CREATE ...
 * MAXDELIVERIES n [DEADLETTER key], XGROUP SETDLQ): their errors, every delivery path (history
 * read, CLAIM, XCLAIM, XAUTOCLAIM) moving an entry over the limit to the dead-letter stream
 * with its origin and acknowledging it, XLAG and INFO showing the policy, and both the dead
 * letter and the acknowledgement surviving a kill -9. XNACK (Redis 8.8) with redis.io's
 * examples: its modes, RETRYCOUNT, FORCE, errors in Redis's order, released entries claimed
 * first in release order, a blocked CLAIM read woken, and the release surviving kill -9 and a
 * clean restart. */
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

/* XPENDING's row for one ID of group: owner and delivery count. */
static void expect_pending_in(redisContext *c, const char *key, const char *group, const char *id,
                              const char *owner, long long count) {
    redisReply *r = must_cmd(c, "XPENDING %s %s %s %s 1", key, group, id, id);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->element[1]->str, owner);
    assert_int_equal(r->element[0]->element[3]->integer, count);
    freeReplyObject(r);
}

static void expect_pending(redisContext *c, const char *key, const char *id, const char *owner,
                           long long count) {
    expect_pending_in(c, key, "g", id, owner, count);
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
    assert_int_equal(
        raw_send_str(fd, "XREADGROUP GROUP g c3 BLOCK 5000 CLAIM 100000 STREAMS b >\r\n"), 0);
    usleep(100000);
    ok_cmd(c, "XADD b 2-1 f v2");
    assert_true(raw_expect(fd,
                           "*1\r\n*2\r\n$1\r\nb\r\n*1\r\n*4\r\n$3\r\n2-1\r\n*2\r\n$1\r\nf\r\n$2\r\n"
                           "v2\r\n:0\r\n:0\r\n"));
    close(fd);
    redisFree(c);
}

static long long int_cmd(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type != REDIS_REPLY_INTEGER) fail_msg("%s: not an integer", cmd);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* The dead letter at index i of stream dlq: the entry's fields then the origin fields. */
static void expect_letter(redisContext *c, const char *dlq, size_t i, const char *value,
                          const char *key, const char *group, const char *id, const char *count) {
    redisReply *r = must_cmd(c, "XRANGE %s - +", dlq);
    assert_true(r->elements > i);
    redisReply *f = r->element[i]->element[1];
    const char *want[] = {"f",         value, "origin-key",     key,  "origin-group", group,
                          "origin-id", id,    "delivery-count", count};
    assert_int_equal(f->elements, 10);
    for (size_t k = 0; k < 10; k++) assert_string_equal(f->element[k]->str, want[k]);
    freeReplyObject(r);
}

static void test_dead_letter_errors_and_settings(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XADD ds 1-1 f v");
    expect_error(c, "XGROUP CREATE ds g 0 DEADLETTER x", "ERR DEADLETTER needs MAXDELIVERIES");
    expect_error(c, "XGROUP CREATE ds g 0 MAXDELIVERIES 0",
                 "ERR MAXDELIVERIES must be a positive integer");
    expect_error(c, "XGROUP CREATE ds g 0 MAXDELIVERIES x",
                 "ERR MAXDELIVERIES must be a positive integer");
    expect_error(c, "XGROUP CREATE ds g 0 MAXDELIVERIES 3 DEADLETTER ds",
                 "ERR the dead-letter stream must be another key than the stream");
    redisReply *r = must_cmd(c, "XGROUP CREATE ds g 0 MAXDELIVERIES 3 DEADLETTER %s", "");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_string_equal(r->str, "ERR the dead-letter key must not be empty");
    freeReplyObject(r);
    expect_error(c, "XGROUP SETDLQ ds nogroup 3 x",
                 "NOGROUP No such consumer group 'nogroup' for "
                 "key name 'ds'");
    expect_error(c, "XGROUP SETDLQ ds g -1",
                 "ERR maxdeliveries must be an integer >= 0 (0 clears "
                 "the policy)");
    ok_cmd(c, "XGROUP CREATE ds g 0 MKSTREAM MAXDELIVERIES 3 DEADLETTER ds:dead");
    r = must_cmd(c, "XLAG ds g");
    assert_int_equal(r->element[0]->elements, 18);
    assert_string_equal(r->element[0]->element[12]->str, "max-deliveries");
    assert_int_equal(r->element[0]->element[13]->integer, 3);
    assert_string_equal(r->element[0]->element[15]->str, "ds:dead");
    assert_int_equal(r->element[0]->element[17]->integer, 0);
    freeReplyObject(r);
    r = must_cmd(c, "INFO obelisk");
    assert_non_null(strstr(r->str, ",max_deliveries=3,dead_letter_key=ds%3Adead,dead_lettered=0"));
    freeReplyObject(r);
    ok_cmd(c, "XGROUP SETDLQ ds g 0");
    r = must_cmd(c, "XLAG ds g");
    assert_int_equal(r->element[0]->element[13]->type, REDIS_REPLY_NIL);
    assert_int_equal(r->element[0]->element[15]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    /* XINFO GROUPS keeps Redis's shape */
    r = must_cmd(c, "XINFO GROUPS ds");
    assert_int_equal(r->element[0]->elements, 12);
    freeReplyObject(r);
    redisFree(c);
}

/* Every delivery path takes an entry over the limit to the dead-letter stream. */
static void test_dead_letter_paths(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XADD dp 1-1 f a");
    ok_cmd(c, "XADD dp 2-1 f b");
    ok_cmd(c, "XADD dp 3-1 f c");
    ok_cmd(c, "XADD dp 4-1 f d");
    ok_cmd(c, "XGROUP CREATE dp g 0 MAXDELIVERIES 2 DEADLETTER dp:dead");
    ok_cmd(c, "XREADGROUP GROUP g c1 STREAMS dp >"); /* each delivered once */
    /* history read: the second delivery is allowed, the third is not */
    redisReply *r = must_cmd(c, "XREADGROUP GROUP g c1 COUNT 1 STREAMS dp 0");
    assert_int_equal(entries_of(r)->elements, 1);
    freeReplyObject(r);
    r = must_cmd(c, "XREADGROUP GROUP g c1 COUNT 1 STREAMS dp 0");
    assert_int_equal(entries_of(r)->elements, 1);
    assert_string_equal(entries_of(r)->element[0]->element[0]->str, "2-1");
    freeReplyObject(r);
    expect_letter(c, "dp:dead", 0, "a", "dp", "g", "1-1", "2");
    assert_int_equal(int_cmd(c, "XLEN dp"), 4); /* the stream keeps it; the group let it go */
    r = must_cmd(c, "XPENDING dp g - + 10");
    assert_int_equal(r->elements, 3);
    freeReplyObject(r);
    /* XCLAIM: 2-1 was delivered twice */
    r = must_cmd(c, "XCLAIM dp g c2 0 2-1 3-1");
    assert_int_equal(r->elements, 1); /* 3-1 claimed (second delivery), 2-1 dead-lettered */
    assert_string_equal(r->element[0]->element[0]->str, "3-1");
    freeReplyObject(r);
    expect_letter(c, "dp:dead", 1, "b", "dp", "g", "2-1", "2");
    /* JUSTID delivers nothing: no limit applies */
    r = must_cmd(c, "XCLAIM dp g c3 0 3-1 JUSTID");
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    /* CLAIM: 3-1 is at two deliveries */
    r = must_cmd(c, "XREADGROUP GROUP g c4 CLAIM 0 STREAMS dp >");
    redisReply *e = entries_of(r);
    assert_int_equal(e->elements, 1);
    expect_entry(e->element[0], "4-1", 0, 1000000, 1);
    freeReplyObject(r);
    expect_letter(c, "dp:dead", 2, "c", "dp", "g", "3-1", "2");
    /* XAUTOCLAIM: 4-1 is at two deliveries now */
    r = must_cmd(c, "XAUTOCLAIM dp g c5 0 0");
    assert_int_equal(r->element[1]->elements, 0);
    freeReplyObject(r);
    expect_letter(c, "dp:dead", 3, "d", "dp", "g", "4-1", "2");
    r = must_cmd(c, "XPENDING dp g");
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
    r = must_cmd(c, "XLAG dp g");
    assert_int_equal(r->element[0]->element[17]->integer, 4);
    freeReplyObject(r);
    /* without a dead-letter key the entry is acknowledged and dropped */
    ok_cmd(c, "XGROUP SETDLQ dp g 1");
    ok_cmd(c, "XADD dp 5-1 f e");
    ok_cmd(c, "XREADGROUP GROUP g c1 STREAMS dp >");
    r = must_cmd(c, "XREADGROUP GROUP g c1 STREAMS dp 0");
    assert_int_equal(entries_of(r)->elements, 0);
    freeReplyObject(r);
    assert_int_equal(int_cmd(c, "XLEN dp:dead"), 4);
    r = must_cmd(c, "XPENDING dp g");
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
    redisFree(c);
}

/* The dead letter and the acknowledgement are durable together: after kill -9 both are there,
 * and the policy too. */
static void test_dead_letter_kill9(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    for (int i = 1; i <= 50; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "XADD k %d-1 f v%d", i, i);
        ok_cmd(c, cmd);
    }
    ok_cmd(c, "XGROUP CREATE k g 0 MAXDELIVERIES 1 DEADLETTER k:dead");
    ok_cmd(c, "XREADGROUP GROUP g c1 STREAMS k >");
    redisReply *r = must_cmd(c, "XAUTOCLAIM k g c2 0 0 COUNT 50");
    assert_int_equal(r->element[1]->elements, 0);
    freeReplyObject(r);
    redisFree(c);
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    assert_int_equal(int_cmd(c, "XLEN k:dead"), 50);
    r = must_cmd(c, "XPENDING k g");
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
    expect_letter(c, "k:dead", 49, "v50", "k", "g", "50-1", "1");
    r = must_cmd(c, "XLAG k g");
    assert_int_equal(r->element[0]->element[13]->integer, 1);
    assert_string_equal(r->element[0]->element[15]->str, "k:dead");
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_xnack_documented_examples(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XADD mystream 1526569498055-0 field value1");
    ok_cmd(c, "XADD mystream 1526569498056-0 field value2");
    ok_cmd(c, "XGROUP CREATE mystream mygroup 0");
    ok_cmd(c, "XREADGROUP GROUP mygroup consumer1 STREAMS mystream >");
    assert_int_equal(
        int_cmd(c, "XNACK mystream mygroup FAIL IDS 2 1526569498055-0 1526569498056-0"), 2);
    /* XPENDING: no owner, idle -1, the count kept */
    redisReply *r = must_cmd(c, "XPENDING mystream mygroup - + 10");
    assert_int_equal(r->elements, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(r->element[i]->element[1]->str, "");
        assert_int_equal(r->element[i]->element[2]->integer, -1);
        assert_int_equal(r->element[i]->element[3]->integer, 1);
    }
    freeReplyObject(r);
    r = must_cmd(c, "XPENDING mystream mygroup");
    assert_int_equal(r->element[0]->integer, 2);
    assert_int_equal(r->element[3]->elements, 0); /* under no consumer (Redis: an empty array) */
    freeReplyObject(r);
    r = must_cmd(c, "XINFO CONSUMERS mystream mygroup");
    assert_int_equal(r->element[0]->element[3]->integer, 0); /* consumer1 holds none */
    freeReplyObject(r);
    assert_int_equal(int_cmd(c, "XNACK mystream mygroup SILENT IDS 1 1526569498055-0"), 1);
    expect_pending_in(c, "mystream", "mygroup", "1526569498055-0", "", 0);
    assert_int_equal(int_cmd(c, "XNACK mystream mygroup SILENT IDS 1 1526569498055-0"), 1);
    expect_pending_in(c, "mystream", "mygroup", "1526569498055-0", "", 0); /* not below 0 */
    assert_int_equal(int_cmd(c, "XNACK mystream mygroup FATAL IDS 1 1526569498055-0"), 1);
    expect_pending_in(c, "mystream", "mygroup", "1526569498055-0", "", 9223372036854775807LL);
    assert_int_equal(int_cmd(c, "XNACK mystream mygroup FAIL RETRYCOUNT 5 IDS 1 1526569498055-0"),
                     1);
    expect_pending_in(c, "mystream", "mygroup", "1526569498055-0", "", 5);
    /* an ID not pending counts only with FORCE, and only when the stream holds it */
    ok_cmd(c, "XADD mystream 1526569498057-0 field value3");
    assert_int_equal(int_cmd(c, "XNACK mystream mygroup FAIL IDS 1 1526569498057-0"), 0);
    assert_int_equal(int_cmd(c, "XNACK mystream mygroup FAIL IDS 2 1526569498057-0 9-9 FORCE"), 1);
    expect_pending_in(c, "mystream", "mygroup", "1526569498057-0", "", 0);
    assert_int_equal(int_cmd(c, "XNACK mystream mygroup FAIL IDS 2 1-1 1-1"), 0);
    /* XCLAIM takes a released entry whatever its min-idle-time */
    r = must_cmd(c, "XCLAIM mystream mygroup c2 99999999 1526569498056-0");
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    expect_pending_in(c, "mystream", "mygroup", "1526569498056-0", "c2", 2);
    redisFree(c);
}

static void test_xnack_errors(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XGROUP CREATE ne g $ MKSTREAM");
    expect_error(c, "XNACK ne g SILENT IDS 1", "ERR wrong number of arguments for 'xnack' command");
    expect_error(c, "XNACK nokey g FAIL IDS 1 1-0",
                 "NOGROUP No such key 'nokey' or consumer group 'g'");
    expect_error(c, "XNACK ne nog BAD IDS 1 1-0",
                 "NOGROUP No such key 'ne' or consumer group 'nog'");
    expect_error(c, "XNACK ne g BAD IDS 1 1-0", "ERR mode must be SILENT, FAIL, or FATAL");
    expect_error(c, "XNACK ne g IDS 1 1-0 FAIL", "ERR mode must be SILENT, FAIL, or FATAL");
    expect_error(c, "XNACK ne g FAIL IDS abc 1-0", "ERR numids must be a positive integer");
    expect_error(c, "XNACK ne g FAIL IDS 0 1-0", "ERR numids must be a positive integer");
    expect_error(c, "XNACK ne g FAIL IDS 3 1-0 2-0", "ERR number of IDs doesn't match numids");
    expect_error(c, "XNACK ne g FAIL IDS 1 1-0 RETRYCOUNT abc",
                 "ERR value is not an integer or out of range");
    expect_error(c, "XNACK ne g FAIL IDS 1 1-0 RETRYCOUNT -1",
                 "ERR Invalid RETRYCOUNT value, must be >= 0");
    expect_error(c, "XNACK ne g FAIL FATAL IDS 1 1-0", "ERR Unrecognized XNACK option 'FATAL'");
    expect_error(c, "XNACK ne g FAIL IDS 1 1-0 2-0", "ERR Unrecognized XNACK option '2-0'");
    expect_error(c, "XNACK ne g SILENT FORCE RETRYCOUNT 5",
                 "ERR syntax error, expected IDS keyword");
    expect_error(c, "XNACK ne g FAIL IDS 1 abc",
                 "ERR Invalid stream ID specified as stream command argument");
    assert_int_equal(int_cmd(c, "XNACK ne g FAIL FORCE RETRYCOUNT 42 IDS 1 1-0"), 0);
    redisFree(c);
}

/* Released entries are claimed first, in the order they were released; a blocked CLAIM read
 * wakes at the release. */
static void test_xnack_then_claim(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    for (int i = 1; i <= 4; i++) {
        char cmd[48];
        snprintf(cmd, sizeof cmd, "XADD nc %d-0 f v%d", i, i);
        ok_cmd(c, cmd);
    }
    ok_cmd(c, "XGROUP CREATE nc g 0");
    ok_cmd(c, "XREADGROUP GROUP g c1 STREAMS nc >");
    ok_cmd(c, "XCLAIM nc g c1 0 4-0 IDLE 500000 JUSTID"); /* idle, but not released */
    assert_int_equal(int_cmd(c, "XNACK nc g FAIL IDS 3 1-0 2-0 3-0"), 3);
    assert_int_equal(int_cmd(c, "XNACK nc g FAIL IDS 1 1-0"), 1); /* to the end of the zone */
    redisReply *r = must_cmd(c, "XREADGROUP GROUP g c2 CLAIM 1000 STREAMS nc >");
    redisReply *e = entries_of(r);
    assert_int_equal(e->elements, 4);
    assert_string_equal(e->element[0]->element[0]->str, "2-0");
    assert_string_equal(e->element[1]->element[0]->str, "3-0");
    assert_string_equal(e->element[2]->element[0]->str, "1-0");
    assert_string_equal(e->element[3]->element[0]->str, "4-0");
    assert_true(e->element[0]->element[2]->integer > 1700000000000LL); /* idle since time 0 */
    freeReplyObject(r);
    expect_pending(c, "nc", "2-0", "c2", 2);
    /* a blocked CLAIM read wakes when an entry is released */
    int fd = raw_connect(shared_server.port);
    assert_int_equal(
        raw_send_str(fd, "XREADGROUP GROUP g c3 BLOCK 5000 CLAIM 100000 STREAMS nc >\r\n"), 0);
    usleep(100000);
    assert_int_equal(int_cmd(c, "XNACK nc g SILENT IDS 1 3-0"), 1);
    size_t got;
    char *reply = raw_read(fd, 4096, 3000, &got);
    assert_non_null(reply);
    assert_non_null(strstr(reply, "3-0"));
    free(reply);
    close(fd);
    expect_pending(c, "nc", "3-0", "c3", 2);
    redisFree(c);
}

static void test_xnack_survives_restarts(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    ok_cmd(c, "XADD k 1-0 f a");
    ok_cmd(c, "XADD k 2-0 f b");
    ok_cmd(c, "XGROUP CREATE k g 0");
    ok_cmd(c, "XREADGROUP GROUP g c1 STREAMS k >");
    assert_int_equal(int_cmd(c, "XNACK k g FAIL IDS 2 2-0 1-0"), 2);
    redisFree(c);
    for (int round = 0; round < 2; round++) { /* kill -9 (the log replayed), then a clean stop */
        if (round == 0)
            server_kill(&s);
        else
            assert_int_equal(server_stop(&s), 0);
        assert_int_equal(server_start_argv(&s, NULL, 1), 0);
        c = client_connect(&s);
        expect_pending(c, "k", "1-0", "", 1);
        expect_pending(c, "k", "2-0", "", 1);
        redisFree(c);
    }
    c = client_connect(&s);
    redisReply *r = must_cmd(c, "XREADGROUP GROUP g c2 CLAIM 0 STREAMS k >");
    redisReply *e = entries_of(r);
    assert_int_equal(e->elements, 2); /* the release order held: 2-0 first */
    assert_string_equal(e->element[0]->element[0]->str, "2-0");
    assert_string_equal(e->element[1]->element[0]->str, "1-0");
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_errors),
        cmocka_unit_test(test_claim_order_count_shape),
        cmocka_unit_test(test_claim_blocking),
        cmocka_unit_test(test_dead_letter_errors_and_settings),
        cmocka_unit_test(test_dead_letter_paths),
        cmocka_unit_test(test_dead_letter_kill9),
        cmocka_unit_test(test_xnack_documented_examples),
        cmocka_unit_test(test_xnack_errors),
        cmocka_unit_test(test_xnack_then_claim),
        cmocka_unit_test(test_xnack_survives_restarts),
    };
    return cmocka_run_group_tests_name("claim", tests, shared_server_setup, shared_server_teardown);
}
