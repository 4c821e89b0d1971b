/* test_wal.c - the write-ahead log as an operator meets it: its directives (CONFIG GET, CONFIG
 * SET of the checkpoint triggers, wal and wal-file-size refused at runtime), checkpoints taken
 * by size and by age (INFO persistence's wal_* fields), a server with the log off, and a log
 * left by a crashed run with the log on replayed by a start with it off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static void expect_config(redisContext *c, const char *name, const char *want) {
    redisReply *r = must_cmd(c, "CONFIG GET %s", name);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[1]->str, want);
    freeReplyObject(r);
}

static void write_many(redisContext *c, int n, int keys) {
    char val[200];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int i = 0; i < n; i++) redisAppendCommand(c, "XADD w%d * f %s", i % keys, val);
    for (int i = 0; i < n; i++) {
        redisReply *r;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
}

static void test_directives_and_checkpoints(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    expect_config(c, "wal", "yes");
    expect_config(c, "wal-file-size", "67108864");
    expect_config(c, "wal-checkpoint-bytes", "134217728");
    expect_config(c, "wal-checkpoint-seconds", "30");
    redisReply *r = redisCommand(c, "CONFIG SET wal no");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "immutable"));
    freeReplyObject(r);
    r = redisCommand(c, "CONFIG SET wal-checkpoint-bytes 1k");
    assert_int_equal(r->type, REDIS_REPLY_ERROR); /* below 64kb */
    freeReplyObject(r);
    assert_int_equal(info_number(c, "persistence", "wal_enabled"), 1);
    /* by size: 64 KiB of log, then a checkpoint */
    freeReplyObject(must_cmd(c, "CONFIG SET wal-checkpoint-bytes 64kb"));
    write_many(c, 2000, 50);
    assert_true(info_number(c, "persistence", "wal_records") >=
                50); /* a batch per key per round at least */
    assert_true(info_number(c, "persistence", "wal_end_offset") >=
                2000 * 200); /* every value went through */
    /* a round checkpoints at its end when 64 KiB are pending: what is left is under one round */
    assert_true(info_number(c, "persistence", "wal_checkpoints") >= 1);
    assert_true(info_number(c, "persistence", "wal_start_offset") >= 65536);
    /* by age: an idle log is checkpointed after wal-checkpoint-seconds */
    freeReplyObject(must_cmd(c, "CONFIG SET wal-checkpoint-bytes 128mb"));
    freeReplyObject(must_cmd(c, "CONFIG SET wal-checkpoint-seconds 1"));
    write_many(c, 10, 5);
    assert_true(info_number(c, "persistence", "wal_pending_bytes") > 0);
    long long pending = 1;
    for (int i = 0; i < 60 && pending; i++) {
        usleep(50000);
        pending = info_number(c, "persistence", "wal_pending_bytes");
    }
    assert_int_equal(pending, 0);
    assert_true(info_number(c, "persistence", "wal_end_offset") ==
                info_number(c, "persistence", "wal_start_offset"));
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_log_off_and_left_behind(void **state) {
    (void)state;
    struct test_server s;
    /* with the log on, a crash leaves records in it */
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    write_many(c, 300, 30);
    assert_true(info_number(c, "persistence", "wal_pending_bytes") > 0);
    redisFree(c);
    server_kill(&s);
    /* a start with the log off still replays them, and then writes without it */
    const char *off[] = {"--wal", "no", NULL};
    assert_int_equal(server_start_argv(&s, off, 1), 0);
    assert_true(server_log_contains(&s, "write-ahead log replayed"));
    c = client_connect(&s);
    assert_int_equal(info_number(c, "persistence", "wal_enabled"), 0);
    write_many(c, 30, 30);
    assert_int_equal(info_number(c, "persistence", "wal_records"), 0);
    redisReply *r = must_cmd(c, "XLEN w7");
    assert_int_equal(r->integer, 11);
    freeReplyObject(r);
    redisFree(c);
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    r = must_cmd(c, "XLEN w7");
    assert_int_equal(r->integer, 11);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* One client writing alone under always: its rounds are made durable by the event loop itself
 * (INFO batches_written_inline), and every acknowledged entry survives a kill -9. */
static void test_inline_rounds_survive_kill(void **state) {
    (void)state;
    struct test_server s;
    const char *always[] = {"--fsync", "always", NULL};
    assert_int_equal(server_start_argv(&s, always, 0), 0);
    redisContext *c = client_connect(&s);
    char ids[200][48];
    for (int i = 0; i < 200; i++) {
        redisReply *r = must_cmd(c, "XADD solo * n %d", i);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        snprintf(ids[i], sizeof ids[i], "%s", r->str);
        freeReplyObject(r);
    }
    long long inl = info_number(c, "persistence", "batches_written_inline");
    long long all = info_number(c, "persistence", "batches_written");
    /* the first rounds create the topic's files, which is the persist thread's */
    assert_true(inl >= 150 && inl <= all);
    /* never from inside a command: WAIT flushes the round it follows (db_flush_now), and a
     * completion there would release replies and rerun waiting commands in the middle of it */
    for (int round = 0; round < 5; round++) {
        long long before = info_number(c, "persistence", "batches_written_inline");
        redisAppendCommand(c, "XADD solo2 * n %d", round);
        redisAppendCommand(c, "WAIT 0 0");
        redisReply *r;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        assert_int_equal(info_number(c, "persistence", "batches_written_inline"), before);
    }
    redisFree(c);
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, always, 1), 0);
    c = client_connect(&s);
    redisReply *r = must_cmd(c, "XRANGE solo - +");
    assert_int_equal(r->elements, 200);
    for (int i = 0; i < 200; i++) assert_string_equal(r->element[i]->element[0]->str, ids[i]);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directives_and_checkpoints),
        cmocka_unit_test(test_log_off_and_left_behind),
        cmocka_unit_test(test_inline_rounds_survive_kill),
    };
    return cmocka_run_group_tests_name("wal", tests, NULL, NULL);
}
