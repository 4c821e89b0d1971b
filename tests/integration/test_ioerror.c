/* test_ioerror.c - the write path after an I/O error (DEBUG IO-FAULT arms a failing fdatasync
 * or write in the server's file-operation table): the waiting write gets a MISCONF error and is
 * never acknowledged, later writes are refused, reads go on (on-io-error readonly), and the
 * default on-io-error exit stops the server with a non-zero status. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static void check_readonly_after(const char *fault) {
    struct test_server s;
    assert_int_equal(server_start(&s, "--on-io-error", "readonly", NULL), 0);
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "XADD k 1-1 f v");
    assert_string_equal(r->str, "1-1");
    freeReplyObject(r);
    freeReplyObject(must_cmd(c, "XADD other 1-1 f v"));
    freeReplyObject(must_cmd(c, "DEBUG IO-FAULT %s", fault));
    r = must_cmd(c, "XADD k 2-1 f v");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_memory_equal(r->str, "MISCONF ", 8);
    freeReplyObject(r);
    freeReplyObject(
        must_cmd(c, "DEBUG IO-FAULT none")); /* sticky: clearing the fault changes nothing */
    r = must_cmd(c, "XADD k 3-1 f v");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_memory_equal(r->str, "MISCONF Errors writing to the data directory", 44);
    freeReplyObject(r);
    r = must_cmd(c, "DEL k");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = must_cmd(c, "XRANGE other - +"); /* reads of durable data go on */
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    /* k's last batch failed: a read of k would show what is not durable, so it errors. */
    r = must_cmd(c, "XRANGE k - +");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_memory_equal(r->str, "MISCONF ", 8);
    freeReplyObject(r);
    r = must_cmd(c, "INFO errorstats");
    assert_non_null(strstr(r->str, "errorstat_MISCONF:count="));
    freeReplyObject(r);
    redisFree(c);
    /* The stop reports the error; no clean-shutdown marker is written. */
    int rc = server_stop(&s);
    assert_int_not_equal(rc, 0);
    assert_true(server_log_contains(&s, "Storage I/O error"));
    char marker[400];
    snprintf(marker, sizeof(marker), "%s/clean_shutdown", s.datadir);
    assert_int_not_equal(access(marker, F_OK), 0);
    /* After a restart the acknowledged entry is there; 2-1 may or may not be (never acked). */
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    r = must_cmd(c, "XRANGE k 1-1 1-1");
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    r = must_cmd(c, "XRANGE k 3-1 3-1");
    assert_int_equal(r->elements, 0); /* refused, so never written */
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_fsync_error_readonly(void **state) {
    (void)state;
    check_readonly_after("fsync-eio");
}

static void test_write_error_readonly(void **state) {
    (void)state;
    check_readonly_after("write-enospc");
}

static long long info_field(redisContext *c, const char *name) {
    redisReply *r = must_cmd(c, "INFO persistence");
    const char *at = strstr(r->str, name);
    long long v = at ? atoll(at + strlen(name)) : -1;
    freeReplyObject(r);
    return v;
}

/* A commit that dirtied several topics is made durable by one syncfs (syncfs-min-files 2 by
 * default): its failure must reach every waiting write like a failed fdatasync does. */
static void test_syncfs_error_fails_every_topic(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--on-io-error", "readonly", NULL), 0);
    redisContext *c = client_connect(&s);
    /* one pipeline, so the three writes share a commit (and a sync round) */
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 3; k++) redisAppendCommand(c, "XADD t%d * f v", k);
        for (int k = 0; k < 3; k++) {
            redisReply *r = NULL;
            assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
            assert_int_equal(r->type, round == 0 ? REDIS_REPLY_STRING : REDIS_REPLY_ERROR);
            if (round == 1) assert_memory_equal(r->str, "MISCONF ", 8);
            freeReplyObject(r);
        }
        if (round == 0) {
            assert_true(info_field(c, "fsync_syncfs_count:") >= 1);
            freeReplyObject(must_cmd(c, "DEBUG IO-FAULT fsync-eio"));
        }
    }
    redisFree(c);
    assert_int_not_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* syncfs-min-files 0 keeps one fdatasync per file. */
static void test_syncfs_off(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--syncfs-min-files", "0", NULL), 0);
    redisContext *c = client_connect(&s);
    for (int k = 0; k < 3; k++) redisAppendCommand(c, "XADD t%d * f v", k);
    for (int k = 0; k < 3; k++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
    assert_int_equal(info_field(c, "fsync_syncfs_count:"), 0);
    assert_true(info_field(c, "fsync_count:") >= 3);
    redisReply *r = must_cmd(c, "CONFIG SET syncfs-min-files 2");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    for (int k = 0; k < 3; k++) redisAppendCommand(c, "XADD t%d * f v", k);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    assert_true(info_field(c, "fsync_syncfs_count:") >= 1);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_exit_by_default(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    freeReplyObject(must_cmd(c, "DEBUG IO-FAULT fsync-eio"));
    redisReply *r = redisCommand(c, "XADD k * f v");
    if (r) { /* the error reply, if it made it out before the exit */
        assert_int_equal(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
    }
    redisFree(c);
    int status = server_wait_exit(&s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 0);
    assert_true(server_log_contains(&s, "on-io-error exit"));
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fsync_error_readonly),
        cmocka_unit_test(test_write_error_readonly),
        cmocka_unit_test(test_exit_by_default),
        cmocka_unit_test(test_syncfs_error_fails_every_topic),
        cmocka_unit_test(test_syncfs_off),
    };
    return cmocka_run_group_tests_name("ioerror", tests, NULL, NULL);
}
