/* test_retention.c - XRETENTION (cmd_retention.c): per-topic overrides read back, persisted
 * across a restart and reset with DEFAULT; the retention timer really deletes old segments
 * (small segment-bytes) and the bytes on disk fall; a -1 override keeps a topic whole when the
 * server-wide retention-bytes is lowered; argument errors. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string.h>

#include "testutil.h"

static long long du_total;

static int du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)ftw;
    if (flag == FTW_F && !strstr(path, "/wal/")) du_total += st->st_size;
    return 0;
}

/* Bytes of every file under dir but the write-ahead log's (preallocated, of a fixed size). */
static long long disk_usage(const char *dir) {
    du_total = 0;
    assert_int_equal(nftw(dir, du_add, 16, FTW_PHYS), 0);
    return du_total;
}

static long long int_reply(redisContext *c, const char *fmt, const char *key) {
    redisReply *r = client_cmd(c, fmt, key);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* Appends n entries of a 500-byte value, pipelined 20 at a time (a group commit lands in one
 * segment, so small batches make the segments fill up to segment-bytes evenly). */
static void fill(redisContext *c, const char *key, int n) {
    char value[501];
    memset(value, 'x', 500);
    value[500] = '\0';
    for (int done = 0; done < n; done += 20) {
        int k = n - done < 20 ? n - done : 20;
        for (int i = 0; i < k; i++) redisAppendCommand(c, "XADD %s * v %s", key, value);
        for (int i = 0; i < k; i++) {
            redisReply *r;
            assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
            assert_int_equal(r->type, REDIS_REPLY_STRING);
            freeReplyObject(r);
        }
    }
}

/* XRETENTION key as a flat list (RESP2): checks bytes and ms (-2 = nil) and the effective ones. */
static void expect_settings(redisContext *c, const char *key, long long bytes, long long ms,
                            long long eff_bytes, long long eff_ms) {
    redisReply *r = client_cmd(c, "XRETENTION %s", key);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 8);
    assert_string_equal(r->element[0]->str, "bytes");
    if (bytes == -2)
        assert_int_equal(r->element[1]->type, REDIS_REPLY_NIL);
    else
        assert_int_equal(r->element[1]->integer, bytes);
    assert_string_equal(r->element[2]->str, "ms");
    if (ms == -2)
        assert_int_equal(r->element[3]->type, REDIS_REPLY_NIL);
    else
        assert_int_equal(r->element[3]->integer, ms);
    assert_string_equal(r->element[4]->str, "effective-bytes");
    assert_int_equal(r->element[5]->integer, eff_bytes);
    assert_string_equal(r->element[6]->str, "effective-ms");
    assert_int_equal(r->element[7]->integer, eff_ms);
    freeReplyObject(r);
}

static void expect_ok(redisContext *c, const char *cmd) {
    redisReply *r = client_cmd(c, cmd);
    if (r->type != REDIS_REPLY_STATUS) printf("# %s: %s\n", cmd, r->str);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
}

static void expect_err(redisContext *c, const char *cmd, const char *prefix) {
    redisReply *r = client_cmd(c, cmd);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    if (strncmp(r->str, prefix, strlen(prefix))) printf("# %s: %s\n", cmd, r->str);
    assert_memory_equal(r->str, prefix, strlen(prefix));
    freeReplyObject(r);
}

/* Waits (up to 6 s: the timer runs every second) until XLEN key is below limit. */
static long long wait_len_below(redisContext *c, const char *key, long long limit) {
    long long n = 0;
    for (int i = 0; i < 60; i++) {
        n = int_reply(c, "XLEN %s", key);
        if (n < limit) break;
        usleep(100000);
    }
    return n;
}

static void test_override_deletes_segments(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--segment-bytes", "64kb", NULL), 0);
    redisContext *c = client_connect(&s);
    fill(c, "big", 1000); /* about 0.5 MB: eight or nine 64 KiB segments */
    fill(c, "small", 10);
    expect_settings(c, "big", -2, -2, -1, -1);
    long long before = disk_usage(s.datadir);
    assert_true(before > 500 * 1000);
    expect_ok(c, "XRETENTION big BYTES 128kb");
    expect_settings(c, "big", 131072, -2, 131072, -1);
    long long len = wait_len_below(c, "big", 1000);
    assert_true(len < 1000);
    /* Whole segments go, oldest first: what stays is at most the limit plus the active one.
     * XLEN falls when retention runs; the files go with the next submission, so poll. */
    long long after = disk_usage(s.datadir);
    for (int i = 0; i < 30 && after >= before / 2; i++) {
        usleep(100000);
        after = disk_usage(s.datadir);
    }
    printf("# disk usage %lld -> %lld bytes, XLEN big 1000 -> %lld\n", before, after, len);
    assert_true(after < before / 2);
    assert_true(len >= 128 * 1024 / 600);                   /* the newest entries are still there */
    assert_int_equal(int_reply(c, "XLEN %s", "small"), 10); /* other topics untouched */
    redisReply *r = client_cmd(c, "XINFO STREAM big");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    /* The override survives a restart, then DEFAULT goes back to the server's setting. */
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    const char *argv[] = {"--segment-bytes", "64kb", NULL};
    assert_int_equal(server_start_argv(&s, argv, 1), 0);
    c = client_connect(&s);
    expect_settings(c, "big", 131072, -2, 131072, -1);
    expect_ok(c, "XRETENTION big BYTES DEFAULT MS 3600000");
    expect_settings(c, "big", -2, 3600000, -1, 3600000);
    expect_ok(c, "XRETENTION big ms default");
    expect_settings(c, "big", -2, -2, -1, -1);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_keep_everything_beats_server_default(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--segment-bytes", "64kb", NULL), 0);
    redisContext *c = client_connect(&s);
    fill(c, "kept", 400);
    fill(c, "trimmed", 400);
    expect_ok(c, "XRETENTION kept BYTES -1");
    expect_ok(c, "CONFIG SET retention-bytes 65536");
    expect_settings(c, "trimmed", -2, -2, 65536, -1);
    expect_settings(c, "kept", -1, -2, -1, -1);
    assert_true(wait_len_below(c, "trimmed", 400) < 400);
    assert_int_equal(int_reply(c, "XLEN %s", "kept"), 400);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_errors(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    freeReplyObject(client_cmd(c, "XADD k 1-1 f v"));
    expect_err(c, "XRETENTION", "ERR wrong number of arguments for 'xretention' command");
    expect_err(c, "XRETENTION missing", "ERR no such key");
    expect_err(c, "XRETENTION missing BYTES 10", "ERR no such key");
    expect_err(c, "XRETENTION k BYTES", "ERR syntax error");
    expect_err(c, "XRETENTION k FOO 1", "ERR syntax error");
    expect_err(c, "XRETENTION k BYTES -5", "ERR retention must be");
    expect_err(c, "XRETENTION k MS 1kb", "ERR retention must be");
    expect_err(c, "XRETENTION k MS abc", "ERR retention must be");
    expect_settings(c, "k", -2, -2, -1, -1); /* nothing changed */
    expect_ok(c, "XRETENTION k BYTES 0 MS 0");
    expect_settings(c, "k", 0, 0, 0, 0);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_override_deletes_segments),
        cmocka_unit_test(test_keep_everything_beats_server_default),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("retention", tests, NULL, NULL);
}
