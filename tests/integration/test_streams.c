/* test_streams.c - stream commands on durable topics against a real obelisk-server: replies,
 * hot (ring) and cold (segment) reads giving the same bytes, MULTI/EXEC, pipelining with held
 * replies, key-space commands, and restart round trips (clean stop and kill -9) for every
 * command that changes state. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static void expect_str(redisContext *c, const char *want, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (!r->str || strcmp(r->str, want))
        printf("# want %s got type %d %s\n", want, r->type, r->str);
    assert_non_null(r->str);
    assert_string_equal(r->str, want);
    freeReplyObject(r);
}

static void expect_int(redisContext *c, long long want, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_INTEGER)
        printf("# want %lld got type %d %s\n", want, r->type, r->str);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, want);
    freeReplyObject(r);
}

/* A textual dump of a reply, to compare whole replies before and after a restart. */
static void dump(const redisReply *r, char *out, size_t cap) {
    size_t n = strlen(out);
    switch (r->type) {
    case REDIS_REPLY_ARRAY:
        snprintf(out + n, cap - n, "[");
        for (size_t i = 0; i < r->elements; i++) dump(r->element[i], out, cap);
        n = strlen(out);
        snprintf(out + n, cap - n, "]");
        break;
    case REDIS_REPLY_INTEGER: snprintf(out + n, cap - n, "%lld,", r->integer); break;
    case REDIS_REPLY_NIL: snprintf(out + n, cap - n, "nil,"); break;
    default: snprintf(out + n, cap - n, "%.*s,", (int)r->len, r->str); break;
    }
}

static char *dump_cmd(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    char *out = calloc(1, 1 << 20);
    dump(r, out, 1 << 20);
    freeReplyObject(r);
    return out;
}

static void test_xadd_ids(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    expect_str(c, "1-1", "XADD s1 1-1 f v");
    expect_str(c, "1-2", "XADD s1 1-* f v");
    expect_str(c, "2-0", "XADD s1 2-* f v");
    expect_str(c,
               "ERR The ID specified in XADD is equal or smaller than the target stream top "
               "item",
               "XADD s1 1-5 f v");
    expect_str(c, "ERR The ID specified in XADD must be greater than 0-0", "XADD s1 0-0 f v");
    expect_str(c, "ERR Invalid stream ID specified as stream command argument", "XADD s1 x f v");
    expect_str(c, "ERR wrong number of arguments for 'xadd' command", "XADD s1 * f");
    redisReply *r = must_cmd(c, "XADD s1 * f v");
    long long ms = atoll(r->str);
    assert_true(ms > 1000000000000LL); /* a clock-based ID */
    freeReplyObject(r);
    r = must_cmd(c, "XADD nokey NOMKSTREAM * f v");
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    expect_int(c, 0, "EXISTS nokey");
    expect_int(c, 4, "XLEN s1");
    expect_str(c, "stream", "TYPE s1");
    expect_str(c, "none", "TYPE nokey");
    expect_int(c, 1, "DEL s1");
    redisFree(c);
}

/* Enough entries to pass a 1 MB cache: the start of the range is read from segments, the end
 * from the ring, and both directions give exactly what was written. */
static void test_hot_and_cold_reads(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--cache-max-bytes", "1mb", "--segment-bytes", "256kb", NULL),
                     0);
    redisContext *c = client_connect(&s);
    const int n = 20000;
    char val[120];
    for (int i = 1; i <= n; i++) {
        snprintf(val, sizeof(val), "value-%06d-%0100d", i, i);
        redisAppendCommand(c, "XADD big %d-1 f%d %s", i, i % 3, val);
    }
    /* 2 MB in one pipeline through a 1 MB cache: XADD waits for space, never fails. */
    for (int i = 1; i <= n; i++) {
        redisReply *r;
        char id[32];
        snprintf(id, sizeof(id), "%d-1", i);
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        if (r->type != REDIS_REPLY_STRING || strcmp(r->str, id)) printf("# %d: %s\n", i, r->str);
        assert_string_equal(r->str, id);
        freeReplyObject(r);
    }
    redisReply *r = must_cmd(c, "XRANGE big - +");
    assert_int_equal(r->elements, n);
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%d-1", i + 1);
        snprintf(val, sizeof(val), "value-%06d-%0100d", i + 1, i + 1);
        assert_string_equal(r->element[i]->element[0]->str, id);
        assert_string_equal(r->element[i]->element[1]->element[1]->str, val);
    }
    freeReplyObject(r);
    r = must_cmd(c, "XREVRANGE big + - COUNT 3");
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[0]->element[0]->str, "20000-1");
    assert_string_equal(r->element[2]->element[0]->str, "19998-1");
    freeReplyObject(r);
    r = must_cmd(c, "XRANGE big (5-1 + COUNT 2");
    assert_string_equal(r->element[0]->element[0]->str, "6-1");
    assert_string_equal(r->element[1]->element[0]->str, "7-1");
    freeReplyObject(r);
    r = must_cmd(c, "XREVRANGE big (10-1 - COUNT 2");
    assert_string_equal(r->element[0]->element[0]->str, "9-1");
    freeReplyObject(r);
    /* Cold reads of the start and hot reads of the end give the same bytes after a restart. */
    char *before = dump_cmd(c, "XRANGE big 9990 10010");
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(server_start_argv(&s,
                                       (const char *const[]){"--cache-max-bytes", "1mb",
                                                             "--segment-bytes", "256kb", NULL},
                                       1),
                     0);
    c = client_connect(&s);
    char *after = dump_cmd(c, "XRANGE big 9990 10010");
    assert_string_equal(before, after);
    free(before);
    free(after);
    expect_int(c, n, "XLEN big");
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_pipelined_replies_stay_in_order(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    for (int i = 1; i <= 500; i++) {
        redisAppendCommand(c, "XADD order %d-0 i %d", i, i);
        if (i % 50 == 0) redisAppendCommand(c, "PING");
        if (i % 100 == 0) redisAppendCommand(c, "XLEN order");
    }
    for (int i = 1; i <= 500; i++) {
        redisReply *r;
        char id[32];
        snprintf(id, sizeof(id), "%d-0", i);
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_string_equal(r->str, id);
        freeReplyObject(r);
        if (i % 50 == 0) {
            assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
            assert_string_equal(r->str, "PONG");
            freeReplyObject(r);
        }
        if (i % 100 == 0) {
            assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
            assert_int_equal(r->integer, i);
            freeReplyObject(r);
        }
    }
    expect_int(c, 1, "DEL order");
    redisFree(c);
}

static void test_multi_exec_streams(void **state) {
    (void)state;
    expect_raw(
        "MULTI\r\nXADD m 1-1 a 1\r\nXADD m 2-1 b 2\r\nXLEN m\r\nEXEC\r\nDEL m\r\n",
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n$3\r\n1-1\r\n$3\r\n2-1\r\n:2\r\n:1\r\n");
    /* An error at run time does not undo the others (as Redis). */
    expect_raw("MULTI\r\nXADD m 5-1 a 1\r\nXADD m 1-1 b 2\r\nEXEC\r\nXLEN m\r\nDEL m\r\n",
               "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n$3\r\n5-1\r\n-ERR The ID specified in XADD is "
               "equal or smaller than the target stream top item\r\n:1\r\n:1\r\n");
}

static void test_keyspace(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    expect_str(c, "OK", "FLUSHALL");
    expect_str(c, "OK", "SELECT 3");
    for (int i = 0; i < 30; i++) freeReplyObject(must_cmd(c, "XADD key:%d * f v", i));
    freeReplyObject(must_cmd(c, "XADD other * f v"));
    expect_int(c, 31, "DBSIZE");
    expect_int(c, 3, "EXISTS key:1 key:2 key:1");
    redisReply *r = must_cmd(c, "KEYS key:*");
    assert_int_equal(r->elements, 30);
    freeReplyObject(r);
    /* A full SCAN returns every key at least once. */
    int seen[31] = {0};
    char cursor[32] = "0";
    do {
        r = must_cmd(c, "SCAN %s MATCH key:* COUNT 7", cursor);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            seen[atoi(r->element[1]->element[i]->str + 4)] = 1;
        freeReplyObject(r);
    } while (strcmp(cursor, "0"));
    for (int i = 0; i < 30; i++) assert_true(seen[i]);
    r = must_cmd(c, "SCAN 0 TYPE string COUNT 100");
    assert_int_equal(r->element[1]->elements, 0);
    freeReplyObject(r);
    expect_str(c, "ERR invalid cursor", "SCAN x");
    expect_str(c, "OK", "RENAME other renamed");
    expect_int(c, 0, "EXISTS other");
    expect_int(c, 1, "XLEN renamed");
    expect_str(c, "ERR no such key", "RENAME nokey x");
    r = must_cmd(c, "INFO keyspace");
    assert_non_null(strstr(r->str, "db3:keys=31,expires=0,avg_ttl=0\r\n"));
    freeReplyObject(r);
    expect_int(c, 2, "DEL key:0 key:1 nokey");
    expect_str(c, "OK", "FLUSHDB");
    expect_int(c, 0, "DBSIZE");
    expect_str(c, "OK", "SELECT 0");
    redisFree(c);
}

/* Every command that changes state, then a restart (clean or kill -9): the same state. */
static void restart_round_trip(int hard) {
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    for (int i = 1; i <= 50; i++) freeReplyObject(must_cmd(c, "XADD a %d-1 n %d", i, i));
    expect_int(c, 2, "XDEL a 3-1 4-1");
    expect_int(c, 10, "XTRIM a MAXLEN = 38");
    expect_str(c, "OK", "XSETID a 100-0 ENTRIESADDED 70 MAXDELETEDID 60-0");
    freeReplyObject(must_cmd(c, "XADD b 1-1 x y"));
    freeReplyObject(must_cmd(c, "XADD gone 1-1 x y"));
    expect_int(c, 1, "DEL gone");
    expect_str(c, "OK", "RENAME b c");
    freeReplyObject(must_cmd(c, "XADD a MAXLEN ~ 10 * big %s", "entry"));
    expect_str(c, "OK", "SELECT 5");
    freeReplyObject(must_cmd(c, "XADD d5 1-1 k v"));
    freeReplyObject(must_cmd(c, "XADD e5 1-1 k v"));
    expect_str(c, "OK", "FLUSHDB");
    freeReplyObject(must_cmd(c, "XADD f5 1-1 k v"));
    expect_str(c, "OK", "SELECT 0");
    const char *probes[] = {"XRANGE a - +", "XINFO STREAM a", "XRANGE c - +",
                            "DBSIZE",       "EXISTS gone b",  "XLEN a"};
    char *before[6];
    for (int i = 0; i < 6; i++) before[i] = dump_cmd(c, probes[i]);
    redisFree(c);
    if (hard)
        server_kill(&s);
    else
        assert_int_equal(server_stop(&s), 0);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    assert_true(
        server_log_contains(&s, hard ? "recovered after an unclean stop" : "clean shutdown"));
    c = client_connect(&s);
    for (int i = 0; i < 6; i++) {
        char *after = dump_cmd(c, probes[i]);
        if (strcmp(before[i], after))
            printf("# %s\n# before %s\n# after  %s\n", probes[i], before[i], after);
        assert_string_equal(before[i], after);
        free(before[i]);
        free(after);
    }
    expect_str(c, "OK", "SELECT 5");
    expect_int(c, 1, "DBSIZE");
    expect_int(c, 1, "XLEN f5");
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_restart_clean(void **state) {
    (void)state;
    restart_round_trip(0);
}

static void test_restart_kill9(void **state) {
    (void)state;
    restart_round_trip(1);
}

static void test_binary_keys_and_values(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    const char weird[] = {'a', '\0', '/', '.', '.', '/', 'b'};
    char big[100000];
    memset(big, 'k', sizeof(big));
    redisReply *r =
        must_cmd(c, "XADD %b 1-1 %b %b", weird, sizeof(weird), "f\0x", (size_t)3, "", (size_t)0);
    freeReplyObject(r);
    freeReplyObject(must_cmd(c, "XADD %b 1-1 f v", "", (size_t)0));
    freeReplyObject(must_cmd(c, "XADD %b 1-1 f v", "../../x", (size_t)7));
    freeReplyObject(must_cmd(c, "XADD %b 1-1 f v", big, sizeof(big)));
    expect_int(c, 4, "DBSIZE");
    redisFree(c);
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    expect_int(c, 4, "DBSIZE");
    r = must_cmd(c, "XRANGE %b - +", weird, sizeof(weird));
    assert_int_equal(r->element[0]->element[1]->element[0]->len, 3);
    assert_memory_equal(r->element[0]->element[1]->element[0]->str, "f\0x", 3);
    assert_int_equal(r->element[0]->element[1]->element[1]->len, 0);
    freeReplyObject(r);
    expect_int(c, 1, "XLEN %b", big, sizeof(big));
    expect_int(c, 1, "XLEN %b", "", (size_t)0);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    /* No key escaped the data directory. */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls %s | grep -v -e '^data$' -e '^server.log$')\"",
             s.dir);
    assert_int_equal(system(cmd), 0);
    server_cleanup(&s);
}

/* INFO persistence's fsync_count: data-file syncs (an fdatasync, or one syncfs for several). */
static long long fsync_count(redisContext *c) {
    redisReply *r = must_cmd(c, "INFO persistence");
    assert_non_null(r->str);
    const char *p = strstr(r->str, "fsync_count:");
    if (!p) printf("# no fsync_count in INFO persistence:\n%s\n", r->str);
    assert_non_null(p);
    long long n = atoll(p + strlen("fsync_count:"));
    freeReplyObject(r);
    return n;
}

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The modes differ where they should, seen in the sync counter: `always` syncs before each
 * reply (100 XADDs one after the other: at least 100 syncs); `everysec` syncs about once a
 * second (the burst: at most one per second it lasted, plus one), and also when no write
 * follows (a sync within 3 s of idling); `no` syncs no data file (none after the burst nor
 * after 1.5 s idle) until CONFIG SET fsync always. In every mode a clean stop writes it all. */
static void test_fsync_modes(void **state) {
    (void)state;
    const char *modes[] = {"always", "everysec", "no"};
    for (int m = 0; m < 3; m++) {
        struct test_server s;
        assert_int_equal(server_start(&s, "--fsync", modes[m], NULL), 0);
        redisContext *c = client_connect(&s);
        assert_non_null(c);
        long long f0 = fsync_count(c), t0 = mono_ms();
        for (int i = 1; i <= 100; i++) {
            char id[32];
            snprintf(id, sizeof(id), "%d-1", i);
            expect_str(c, id, "XADD m %d-1 f v", i);
        }
        long long burst_ms = mono_ms() - t0, f1 = fsync_count(c);
        long long f2 = f1, idle_ms = 0;
        t0 = mono_ms();
        if (m == 1) { /* everysec: wait for the idle sync */
            while (f2 == f1 && (idle_ms = mono_ms() - t0) < 3000) {
                sleep_ms(50);
                f2 = fsync_count(c);
            }
        } else {
            sleep_ms(1500);
            f2 = fsync_count(c);
            idle_ms = mono_ms() - t0;
        }
        printf("# fsync %s: %lld syncs for 100 XADDs in %lld ms, %lld more in %lld ms idle\n",
               modes[m], f1 - f0, burst_ms, f2 - f1, idle_ms);
        if (m == 0) {
            assert_true(f1 - f0 >= 100);
            assert_int_equal(f2, f1); /* nothing left to sync */
        } else if (m == 1) {
            assert_true(f1 - f0 <= 1 + burst_ms / 1000 + 1);
            assert_true(f2 > f1);
        } else {
            assert_int_equal(f1, f0);
            assert_int_equal(f2, f1);
        }
        redisReply *r = must_cmd(c, "CONFIG GET fsync");
        assert_string_equal(r->element[1]->str, modes[m]);
        freeReplyObject(r);
        expect_str(c, "OK", "CONFIG SET fsync always");
        expect_str(c, "101-1", "XADD m 101-1 f v");
        assert_true(fsync_count(c) > f2); /* now `always`: synced before that reply */
        redisFree(c);
        assert_int_equal(server_stop(&s), 0); /* a clean stop writes everything */
        assert_int_equal(server_start_argv(&s, NULL, 1), 0);
        c = client_connect(&s);
        expect_int(c, 101, "XLEN m");
        redisFree(c);
        assert_int_equal(server_stop(&s), 0);
        server_cleanup(&s);
    }
}

/* XADD whose trim fails after the entry is stored (DEBUG TRIM-FAULT makes the next trim fail as
 * out of memory): the reply is the entry's ID, not an error, the entry is there, and a reader
 * blocked on the key receives it. Before the fix the reply was an error for a stored entry and
 * the blocked reader waited on. */
static void test_xadd_trim_failure_keeps_the_entry(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s), *blocked = client_connect(&s);
    freeReplyObject(must_cmd(c, "XADD tf 1-1 f a"));
    freeReplyObject(must_cmd(c, "XADD tf 2-1 f b"));
    redisAppendCommand(blocked, "XREAD BLOCK 5000 STREAMS tf $");
    assert_int_equal(redisBufferWrite(blocked, &(int){0}), REDIS_OK);
    usleep(100000); /* the reader is parked */
    freeReplyObject(must_cmd(c, "DEBUG TRIM-FAULT"));
    redisReply *r = must_cmd(c, "XADD tf MAXLEN 1 3-1 f c");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "3-1");
    freeReplyObject(r);
    expect_int(c, 3, "XLEN tf"); /* the trim did not run */
    redisReply *got = NULL;
    assert_int_equal(redisGetReply(blocked, (void **)&got), REDIS_OK);
    assert_int_equal(got->type, REDIS_REPLY_ARRAY);
    assert_int_equal(got->elements, 1);
    assert_string_equal(got->element[0]->element[1]->element[0]->element[0]->str, "3-1");
    freeReplyObject(got);
    assert_true(server_log_contains(&s, "the entry was added but trimming the stream failed"));
    /* the fault was one-shot: the next trim runs */
    r = must_cmd(c, "XADD tf MAXLEN 1 4-1 f d");
    assert_string_equal(r->str, "4-1");
    freeReplyObject(r);
    expect_int(c, 1, "XLEN tf");
    redisFree(blocked);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xadd_ids),
        cmocka_unit_test(test_hot_and_cold_reads),
        cmocka_unit_test(test_pipelined_replies_stay_in_order),
        cmocka_unit_test(test_multi_exec_streams),
        cmocka_unit_test(test_keyspace),
        cmocka_unit_test(test_restart_clean),
        cmocka_unit_test(test_restart_kill9),
        cmocka_unit_test(test_binary_keys_and_values),
        cmocka_unit_test(test_fsync_modes),
        cmocka_unit_test(test_xadd_trim_failure_keeps_the_entry),
    };
    return cmocka_run_group_tests_name("streams", tests, shared_server_setup,
                                       shared_server_teardown);
}
