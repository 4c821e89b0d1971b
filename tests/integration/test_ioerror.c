/* test_ioerror.c - the write path after an I/O error (DEBUG IO-FAULT arms a failing fdatasync
 * or write in the server's file-operation table): the waiting writes get a MISCONF error and are
 * never acknowledged, later writes are refused, and with on-io-error readonly every read (XRANGE,
 * XREVRANGE, XLEN, XREAD, XINFO STREAM/GROUPS/CONSUMERS, XPENDING, DBSIZE, KEYS, EXISTS) shows
 * exactly what was durable before the error, the failed batch's changes absent; the default
 * on-io-error exit stops the server with a non-zero status. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* The value after name in a flat reply of field/value pairs (XINFO, RESP2). */
static redisReply *field(redisReply *r, const char *name) {
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && !strcmp(r->element[i]->str, name))
            return r->element[i + 1];
    fail_msg("no field %s", name);
    return NULL;
}

/* An array of entries holds exactly the IDs of want (a space-separated list). */
static void expect_ids(redisReply *r, const char *want) {
    char got[256] = "";
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *id =
            r->element[i]->type == REDIS_REPLY_ARRAY ? r->element[i]->element[0] : r->element[i];
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", id->str);
    }
    if (strcmp(got, want)) fail_msg("entries [%s], want [%s]", got, want);
}

static void expect_misconf(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "MISCONF ", 8))
        fail_msg("%s: not a MISCONF error (type %d, %s)", cmd, r->type, r->str ? r->str : "");
    freeReplyObject(r);
}

/* A reply as text, nested arrays in brackets. */
static void reply_text(const redisReply *r, char *out, size_t cap) {
    size_t n = strlen(out);
    switch (r->type) {
    case REDIS_REPLY_ARRAY:
        snprintf(out + n, cap - n, "[");
        for (size_t i = 0; i < r->elements; i++) reply_text(r->element[i], out, cap);
        n = strlen(out);
        snprintf(out + n, cap - n, "] ");
        break;
    case REDIS_REPLY_INTEGER: snprintf(out + n, cap - n, "%lld ", r->integer); break;
    case REDIS_REPLY_NIL: snprintf(out + n, cap - n, "nil "); break;
    default: snprintf(out + n, cap - n, "%s ", r->str); break;
    }
}

/* Reads whose answers do not depend on the clock: after the error they must answer exactly as
 * they did before the failed batch. */
static const char *const durable_reads[] = {
    "XRANGE k - +",
    "XREVRANGE k + -",
    "XLEN k",
    "XREAD COUNT 10 STREAMS k 0",
    "XREAD STREAMS k 3-1",
    "XINFO STREAM k",
    "XINFO GROUPS k",
    "XPENDING k g",
    "XPENDING k g - + 10 c2",
    "XLAG k",
    "XCOMMITTED k g",
    "DBSIZE",
    "KEYS [kn]*", /* one key at most: KEYS has no order */
    "EXISTS new",
    "XRANGE other - +",
};
#define NREADS (sizeof(durable_reads) / sizeof(durable_reads[0]))

static void read_all(redisContext *c, char texts[][1024]) {
    for (size_t i = 0; i < NREADS; i++) {
        redisReply *r = must_cmd(c, durable_reads[i]);
        texts[i][0] = '\0';
        reply_text(r, texts[i], sizeof(texts[i]));
        freeReplyObject(r);
    }
}

/* What was durable before the error, and acknowledged: k = 1-1 a, 3-1 c (2-1 deleted), group g
 * with 1-1 pending for c1 (delivered twice: a history read counts); other = 1-1. */
static void expect_durable_state(redisContext *c, char before[][1024]) {
    char now[NREADS][1024];
    read_all(c, now);
    for (size_t i = 0; i < NREADS; i++)
        if (strcmp(now[i], before[i]))
            fail_msg("%s answers\n  %s\nwhere before the error it answered\n  %s", durable_reads[i],
                     now[i], before[i]);
    redisReply *r = must_cmd(c, "XRANGE k - +");
    expect_ids(r, "1-1 3-1");
    assert_string_equal(r->element[0]->element[1]->element[1]->str, "a");
    freeReplyObject(r);
    r = must_cmd(c, "XLEN k");
    assert_int_equal(r->integer, 2);
    freeReplyObject(r);
    r = must_cmd(c, "XINFO STREAM k");
    assert_int_equal(field(r, "length")->integer, 2);
    assert_string_equal(field(r, "last-generated-id")->str, "3-1");
    assert_string_equal(field(r, "max-deleted-entry-id")->str, "2-1");
    assert_int_equal(field(r, "entries-added")->integer, 3);
    assert_int_equal(field(r, "groups")->integer, 1);
    assert_string_equal(field(r, "first-entry")->element[0]->str, "1-1");
    assert_string_equal(field(r, "last-entry")->element[0]->str, "3-1");
    freeReplyObject(r);
    r = must_cmd(c, "XPENDING k g - + 10");
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->element[0]->str, "1-1");
    assert_string_equal(r->element[0]->element[1]->str, "c1");
    assert_int_equal(r->element[0]->element[3]->integer, 2);
    freeReplyObject(r);
    r = must_cmd(c, "XINFO CONSUMERS k g");
    assert_int_equal(r->elements, 1);
    assert_int_equal(field(r->element[0], "pending")->integer, 1);
    freeReplyObject(r);
    r = must_cmd(c, "DBSIZE");
    assert_int_equal(r->integer, 2);
    freeReplyObject(r);
}

/* on-io-error readonly: the writes of the failed batch are never acknowledged (MISCONF), later
 * writes are refused, and every read shows exactly what was durable before the error, without
 * waiting: the failed batch's entries, deletions, trims, group changes and new keys are absent. */
static void check_readonly_after(const char *fault) {
    struct test_server s;
    assert_int_equal(server_start(&s, "--on-io-error", "readonly", NULL), 0);
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "XADD k 1-1 f a");
    assert_string_equal(r->str, "1-1");
    freeReplyObject(r);
    freeReplyObject(must_cmd(c, "XADD k 2-1 f b"));
    freeReplyObject(must_cmd(c, "XADD k 3-1 f c"));
    freeReplyObject(must_cmd(c, "XDEL k 2-1"));
    freeReplyObject(must_cmd(c, "XGROUP CREATE k g 0"));
    r = must_cmd(c, "XREADGROUP GROUP g c1 COUNT 1 STREAMS k >");
    expect_ids(r->element[0]->element[1], "1-1");
    freeReplyObject(r);
    r = must_cmd(c, "XREADGROUP GROUP g c1 STREAMS k 0"); /* history, before the error */
    expect_ids(r->element[0]->element[1], "1-1");
    freeReplyObject(r);
    freeReplyObject(must_cmd(c, "XADD other 1-1 f v"));
    static char before[NREADS][1024];
    read_all(c, before);
    expect_durable_state(c, before);

    /* One pipeline, so one batch: every write in it fails. */
    freeReplyObject(must_cmd(c, "DEBUG IO-FAULT %s", fault));
    static const char *const failed[] = {
        "XADD k 4-1 f d",
        "XREADGROUP GROUP g c1 STREAMS k >",
        "XDEL k 1-1",
        "XGROUP CREATE k g2 0",
        "XTRIM k MAXLEN 1",
        "XSETID k 99-0",
        "XRETENTION k BYTES 1000",
        "XADD new 1-1 f v",
    };
    size_t nfailed = sizeof(failed) / sizeof(failed[0]);
    for (size_t i = 0; i < nfailed; i++) redisAppendCommand(c, failed[i]);
    for (size_t i = 0; i < nfailed; i++) {
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "MISCONF ", 8))
            fail_msg("%s was answered (type %d) although its batch failed", failed[i], r->type);
        freeReplyObject(r);
    }
    freeReplyObject(
        must_cmd(c, "DEBUG IO-FAULT none")); /* sticky: clearing the fault changes nothing */
    r = must_cmd(c, "XADD k 5-1 f v");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_memory_equal(r->str, "MISCONF Errors writing to the data directory", 44);
    freeReplyObject(r);
    expect_misconf(c, "DEL k");
    /* XREADGROUP is a write, even for a consumer's history (it counts a delivery), so it is
     * refused as under Redis's MISCONF; XPENDING shows the durable pending entries */
    expect_misconf(c, "XREADGROUP GROUP g c1 STREAMS k 0");

    /* reads: exactly the durable state, on this connection and a new one */
    expect_durable_state(c, before);
    redisContext *c2 = client_connect(&s);
    expect_durable_state(c2, before);
    redisFree(c2);
    r = must_cmd(c, "INFO errorstats");
    assert_non_null(strstr(r->str, "errorstat_MISCONF:count="));
    freeReplyObject(r);
    redisFree(c);
    /* The stop reports the error; no clean-shutdown marker is written. */
    int rc = server_stop(&s);
    assert_int_not_equal(rc, 0);
    assert_true(server_log_contains(&s, "Storage I/O error"));
    assert_true(server_log_contains(&s, "reads show the data as of submission"));
    char marker[400];
    snprintf(marker, sizeof(marker), "%s/clean_shutdown", s.datadir);
    assert_int_not_equal(access(marker, F_OK), 0);
    /* After a restart what was acknowledged and not touched by the failed batch is there; that
     * batch was never acknowledged, and what of it had reached the disk may be there too (a
     * write before the failure, or what a failed fsync left in the page cache) */
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    r = must_cmd(c, "XINFO STREAM k");
    const char *last = field(r, "last-generated-id")->str;
    int none = !strcmp(last, "3-1");
    assert_true(none || !strcmp(last, "4-1") || !strcmp(last, "99-0"));
    freeReplyObject(r);
    if (none) expect_durable_state(c, before); /* then exactly what was acknowledged */
    r = must_cmd(c, "XRANGE other - +");
    expect_ids(r, "1-1");
    freeReplyObject(r);
    r = must_cmd(c, "XRANGE k 5-1 5-1");
    assert_int_equal(r->elements, 0); /* refused, so never written */
    freeReplyObject(r);
    printf("# %s: after the restart the stream's last ID is %s\n", fault, none ? "3-1" : "later");
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

/* A commit that dirtied several topics is made durable by one sync: without the write-ahead
 * log one syncfs (syncfs-min-files 2 by default), with it one fdatasync of the log. Its failure
 * must reach every waiting write like a failed fdatasync of the topic's own file does. */
static void sync_error_fails_every_topic(int wal) {
    struct test_server s;
    assert_int_equal(
        server_start(&s, "--on-io-error", "readonly", "--wal", wal ? "yes" : "no", NULL), 0);
    redisContext *c = client_connect(&s);
    /* the topics first: a round that creates topics syncs their new files' names and contents
     * with syncfs (persist.c, "replacements of a round"), with or without the log */
    for (int k = 0; k < 3; k++) freeReplyObject(must_cmd(c, "XADD t%d * f v", k));
    long long syncfs_before = info_number(c, "persistence", "fsync_syncfs_count");
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
            assert_true(info_number(c, "persistence", wal ? "wal_syncs" : "fsync_syncfs_count") >=
                        1);
            if (wal)
                assert_int_equal(info_number(c, "persistence", "fsync_syncfs_count"),
                                 syncfs_before);
            freeReplyObject(must_cmd(c, "DEBUG IO-FAULT fsync-eio"));
        }
    }
    redisFree(c);
    assert_int_not_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_syncfs_error_fails_every_topic(void **state) {
    (void)state;
    sync_error_fails_every_topic(0);
}

static void test_log_sync_error_fails_every_topic(void **state) {
    (void)state;
    sync_error_fails_every_topic(1);
}

/* Without the write-ahead log, syncfs-min-files 0 keeps one fdatasync per file. */
static void test_syncfs_off(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--syncfs-min-files", "0", "--wal", "no", NULL), 0);
    redisContext *c = client_connect(&s);
    for (int k = 0; k < 3; k++) redisAppendCommand(c, "XADD t%d * f v", k);
    for (int k = 0; k < 3; k++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
    assert_int_equal(info_number(c, "persistence", "fsync_syncfs_count"), 0);
    assert_true(info_number(c, "persistence", "fsync_count") >= 3);
    redisReply *r = must_cmd(c, "CONFIG SET syncfs-min-files 2");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    for (int k = 0; k < 3; k++) redisAppendCommand(c, "XADD t%d * f v", k);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    assert_true(info_number(c, "persistence", "fsync_syncfs_count") >= 1);
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
        cmocka_unit_test(test_log_sync_error_fails_every_topic),
        cmocka_unit_test(test_syncfs_off),
    };
    return cmocka_run_group_tests_name("ioerror", tests, NULL, NULL);
}
