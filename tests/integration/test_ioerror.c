/* test_ioerror.c - the write path after an I/O error (DEBUG IO-FAULT arms a failing fdatasync
 * or write in the server's file-operation table): the waiting write gets a MISCONF error and is
 * never acknowledged, later writes are refused, reads go on (on-io-error readonly), and the
 * default on-io-error exit stops the server with a non-zero status. */
#include <signal.h>
#include <stdio.h>
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
    };
    return cmocka_run_group_tests_name("ioerror", tests, NULL, NULL);
}
