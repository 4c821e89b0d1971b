/* test_operator.c - the operator's commands against a real obelisk-server: CLIENT PAUSE and
 * UNPAUSE (writes or everything held for the time, monitors never), the slow log of a command
 * that blocked, MONITOR across clients that go away, MEMORY USAGE and STATS as topics grow, and
 * INFO's save fields. Replies and errors that Redis also has are compared with redis-server by
 * the differential scripts (redis-tests/scripts/default/23, 25, 26). */
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"

static long long now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static long long int_reply(redisContext *c, const char *fmt, const char *arg) {
    redisReply *r = must_cmd(c, fmt, arg);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void ok(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

static void test_client_pause(void **state) {
    (void)state;
    redisContext *a = client_connect(&shared_server), *b = client_connect(&shared_server);
    /* WRITE: a write waits for the pause to end, a read does not */
    long long t0 = now_ms();
    ok(a, "CLIENT PAUSE 400 WRITE");
    freeReplyObject(must_cmd(b, "XLEN pz"));
    long long read_ms = now_ms() - t0;
    freeReplyObject(must_cmd(b, "XADD pz * f v"));
    assert_true(now_ms() - t0 >= 390); /* the write waited for the end of the pause */
    assert_true(read_ms < 390);        /* the read did not */
    assert_int_equal(int_reply(b, "XLEN %s", "pz"), 1);
    /* ALL: even PING waits, and a paused client shows flag b; a monitor is never paused (it
     * must be one before the pause: MONITOR itself waits), so UNPAUSE goes through it */
    int m = raw_connect(shared_server.port);
    assert_int_equal(raw_send_str(m, "MONITOR\r\n"), 0);
    assert_true(raw_expect(m, "+OK\r\n"));
    ok(a, "CLIENT PAUSE 5000 ALL");
    int fd = raw_connect(shared_server.port);
    assert_true(fd >= 0);
    assert_int_equal(raw_send_str(fd, "PING\r\n"), 0);
    size_t len;
    char *got = raw_read(fd, 7, 300, &len);
    assert_int_equal(len, 0); /* nothing yet */
    free(got);
    assert_int_equal(raw_send_str(m, "CLIENT LIST\r\n"), 0);
    got = raw_read(m, 1 << 20, 300, &len);
    char *line = strstr(got, "flags=b");
    assert_non_null(line);
    free(got);
    t0 = now_ms();
    assert_int_equal(raw_send_str(m, "CLIENT UNPAUSE\r\n"), 0);
    assert_true(raw_expect(fd, "+PONG\r\n"));
    assert_true(now_ms() - t0 < 2000);
    close(fd);
    close(m);
    /* a later, shorter or weaker pause never shortens the first */
    t0 = now_ms();
    ok(a, "CLIENT PAUSE 300 WRITE");
    ok(a, "CLIENT PAUSE 1 WRITE");
    freeReplyObject(must_cmd(b, "XADD pz * f v"));
    assert_true(now_ms() - t0 >= 290);
    freeReplyObject(must_cmd(b, "DEL pz"));
    redisFree(a);
    redisFree(b);
}

static void test_slowlog_blocked_command(void **state) {
    (void)state;
    redisContext *a = client_connect(&shared_server), *b = client_connect(&shared_server);
    ok(a, "SLOWLOG RESET");
    ok(a, "CONFIG SET slowlog-log-slower-than 0");
    /* a blocked XREAD is logged when it ends, with its arguments */
    assert_int_equal(redisAppendCommand(b, "XREAD BLOCK 5000 STREAMS sb $"), REDIS_OK);
    assert_int_equal(redisBufferWrite(b, &(int){0}), REDIS_OK);
    sleep_ms(100);
    freeReplyObject(must_cmd(a, "XADD sb 1-1 f v"));
    redisReply *r;
    assert_int_equal(redisGetReply(b, (void **)&r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    ok(a, "CONFIG SET slowlog-log-slower-than 10000");
    r = must_cmd(a, "SLOWLOG GET -1");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    int found = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *args = r->element[i]->element[3];
        if (args->elements == 6 && !strcmp(args->element[0]->str, "XREAD") &&
            !strcmp(args->element[5]->str, "$"))
            found = 1;
    }
    assert_true(found);
    freeReplyObject(r);
    /* slowlog-max-len keeps the newest entries */
    ok(a, "CONFIG SET slowlog-log-slower-than 0");
    ok(a, "CONFIG SET slowlog-max-len 3");
    for (int i = 0; i < 5; i++) freeReplyObject(must_cmd(a, "PING"));
    ok(a, "CONFIG SET slowlog-log-slower-than -1");
    assert_int_equal(int_reply(a, "SLOWLOG LEN", NULL), 3);
    ok(a, "CONFIG SET slowlog-max-len 128");
    ok(a, "CONFIG SET slowlog-log-slower-than 10000");
    freeReplyObject(must_cmd(a, "DEL sb"));
    redisFree(a);
    redisFree(b);
}

static void test_monitor_clients_come_and_go(void **state) {
    (void)state;
    int m1 = raw_connect(shared_server.port), m2 = raw_connect(shared_server.port);
    assert_int_equal(raw_send_str(m1, "MONITOR\r\n"), 0);
    assert_true(raw_expect(m1, "+OK\r\n"));
    assert_int_equal(raw_send_str(m2, "MONITOR\r\n"), 0);
    assert_true(raw_expect(m2, "+OK\r\n"));
    close(m1); /* a monitor that goes away is forgotten */
    sleep_ms(50);
    redisContext *c = client_connect(&shared_server);
    freeReplyObject(must_cmd(c, "XADD mon 1-1 f %s", "x y"));
    freeReplyObject(must_cmd(c, "CONFIG GET maxclients")); /* admin: not shown */
    freeReplyObject(must_cmd(c, "XLEN mon"));
    size_t len;
    char *got = raw_read(m2, 1 << 20, 300, &len);
    assert_non_null(strstr(got, "] \"XADD\" \"mon\" \"1-1\" \"f\" \"x y\"\r\n"));
    assert_non_null(strstr(got, "] \"XLEN\" \"mon\"\r\n"));
    assert_null(strstr(got, "CONFIG"));
    free(got);
    /* RESET leaves monitor mode */
    assert_int_equal(raw_send_str(m2, "RESET\r\n"), 0);
    assert_true(raw_expect(m2, "+RESET\r\n"));
    freeReplyObject(must_cmd(c, "XLEN mon"));
    got = raw_read(m2, 1 << 20, 300, &len);
    assert_int_equal(len, 0);
    free(got);
    close(m2);
    freeReplyObject(must_cmd(c, "DEL mon"));
    redisFree(c);
}

static void test_monitor_lines(void **state) {
    (void)state;
    int m = raw_connect(shared_server.port);
    assert_int_equal(raw_send_str(m, "MONITOR\r\n"), 0);
    assert_true(raw_expect(m, "+OK\r\n"));
    redisContext *c = client_connect(&shared_server);
    freeReplyObject(must_cmd(c, "XADD ml 1-1 f %b", "a\"b\n\x01", (size_t)5));
    freeReplyObject(must_cmd(c, "CONFIG GET maxclients"));
    freeReplyObject(must_cmd(c, "AUTH secret"));
    freeReplyObject(must_cmd(c, "XLEN ml"));
    size_t len;
    char *got = raw_read(m, 1 << 20, 300, &len);
    assert_non_null(strstr(got, "] \"XADD\" \"ml\" \"1-1\" \"f\" \"a\\\"b\\n\\x01\"\r\n"));
    assert_null(strstr(got, "CONFIG"));
    assert_null(strstr(got, "secret"));
    assert_non_null(strstr(got, "] \"AUTH\" \"(redacted)\"\r\n"));
    assert_non_null(strstr(got, "] \"XLEN\" \"ml\"\r\n"));
    assert_true(got[0] == '+');
    free(got);
    close(m);
    freeReplyObject(must_cmd(c, "DEL ml"));
    redisFree(c);
}

static void test_memory_usage(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    redisReply *r = must_cmd(c, "MEMORY USAGE nosuchkey");
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    freeReplyObject(must_cmd(c, "XADD mu * f v"));
    long long one = int_reply(c, "MEMORY USAGE %s", "mu");
    assert_true(one > 0);
    for (int i = 0; i < 200; i++) freeReplyObject(must_cmd(c, "XADD mu * field %0100d", i));
    long long many = int_reply(c, "MEMORY USAGE %s", "mu");
    assert_true(many >= one + 200 * 100); /* the cached entries are counted */
    /* a group's pending entries are memory too */
    freeReplyObject(must_cmd(c, "XGROUP CREATE mu g 0"));
    freeReplyObject(must_cmd(c, "XREADGROUP GROUP g alice STREAMS mu >"));
    assert_true(int_reply(c, "MEMORY USAGE %s", "mu") > many);
    r = must_cmd(c, "MEMORY STATS");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long keys = -1, dataset = -1, total = -1;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (!strcmp(r->element[i]->str, "keys.count")) keys = r->element[i + 1]->integer;
        if (!strcmp(r->element[i]->str, "dataset.bytes")) dataset = r->element[i + 1]->integer;
        if (!strcmp(r->element[i]->str, "total.allocated")) total = r->element[i + 1]->integer;
    }
    assert_true(keys >= 1);
    /* the topics' memory, never more than the allocator reports (which a sanitizer's own
     * allocator hides from mallinfo2) */
    assert_true(dataset >= many || (dataset == total && total < many));
    freeReplyObject(r);
    r = must_cmd(c, "OBJECT ENCODING mu");
    assert_string_equal(r->str, "stream");
    freeReplyObject(r);
    freeReplyObject(must_cmd(c, "DEL mu"));
    redisFree(c);
}

static void test_info_save_fields(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    long long before = now_ms() / 1000;
    freeReplyObject(must_cmd(c, "XADD isf * f v")); /* answered once durable (fsync always) */
    redisReply *r = must_cmd(c, "INFO persistence");
    assert_non_null(strstr(r->str, "rdb_changes_since_last_save:0\r\n"));
    const char *t = strstr(r->str, "rdb_last_save_time:");
    assert_non_null(t);
    long long saved = atoll(t + strlen("rdb_last_save_time:"));
    assert_true(saved >= before - 1 && saved <= now_ms() / 1000 + 1);
    assert_non_null(strstr(r->str, "aof_last_bgrewrite_status:ok\r\n"));
    assert_non_null(strstr(r->str, "rdb_last_bgsave_time_sec:-1\r\n"));
    freeReplyObject(r);
    freeReplyObject(must_cmd(c, "DEL isf"));
    redisFree(c);
}

static void test_config_save_appendonly(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    redisReply *r = must_cmd(c, "CONFIG SET save %s", "");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    ok(c, "CONFIG SET appendonly no");
    r = must_cmd(c, "CONFIG SET save %s", "900 1");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "argument 'save') - Obelisk takes no RDB snapshots"));
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG SET appendonly yes");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "argument 'appendonly') - Obelisk has no append-only file"));
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG GET save");
    assert_string_equal(r->element[1]->str, "");
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG GET appendonly");
    assert_string_equal(r->element[1]->str, "no");
    freeReplyObject(r);
    redisFree(c);
}

/* The latency monitor's fsync event: the mean fsync time of each completion, when at least
 * latency-monitor-threshold ms (a slow disk simulated by DEBUG IO-FAULT FSYNC-SLOW, 25 ms). */
static void test_latency_fsync_event(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    freeReplyObject(must_cmd(c, "LATENCY RESET"));
    ok(c, "CONFIG SET latency-monitor-threshold 10");
    ok(c, "DEBUG IO-FAULT FSYNC-SLOW");
    freeReplyObject(must_cmd(c, "XADD lf * f v"));
    freeReplyObject(must_cmd(c, "XADD lf * f v"));
    ok(c, "DEBUG IO-FAULT NONE");
    redisReply *r = must_cmd(c, "LATENCY LATEST");
    int found = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (!strcmp(e->element[0]->str, "fsync")) {
            found = 1;
            assert_true(e->element[2]->integer >= 20);                     /* latest, ms */
            assert_true(e->element[3]->integer >= e->element[2]->integer); /* max */
        }
    }
    assert_true(found);
    freeReplyObject(r);
    ok(c, "CONFIG SET latency-monitor-threshold 0");
    freeReplyObject(must_cmd(c, "LATENCY RESET"));
    freeReplyObject(must_cmd(c, "DEL lf"));
    redisFree(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_pause),
        cmocka_unit_test(test_slowlog_blocked_command),
        cmocka_unit_test(test_monitor_clients_come_and_go),
        cmocka_unit_test(test_monitor_lines),
        cmocka_unit_test(test_memory_usage),
        cmocka_unit_test(test_info_save_fields),
        cmocka_unit_test(test_config_save_appendonly),
        cmocka_unit_test(test_latency_fsync_event),
    };
    return cmocka_run_group_tests_name("operator", tests, shared_server_setup,
                                       shared_server_teardown);
}
