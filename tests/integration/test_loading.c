/* test_loading.c - the loading phase: while the loader thread opens the data directory the
 * server already answers, with -LOADING for commands that need the data and INFO loading:1
 * (as Redis does while it reads its files); then it serves normally. The debug-loading-delay-ms
 * test hook stretches the phase so it can be observed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static void test_loading_then_ready(void **state) {
    (void)state;
    struct test_server s;
    /* A first start writes some data, so the second start has something to load. */
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    freeReplyObject(redisCommand(c, "XADD k 1-1 f v"));
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    harness_wait_ready = 0;
    const char *extra[] = {"--debug-loading-delay-ms", "1500", NULL};
    assert_int_equal(server_start_argv(&s, extra, 1), 0);
    harness_wait_ready = 1;
    int fd = raw_connect(s.port);
    assert_true(fd >= 0);
    raw_send_str(fd, "XLEN k\r\nXADD k * f v\r\nINFO persistence\r\n");
    size_t got;
    char *replies = raw_read(fd, 1 << 16, 500, &got);
    const char *loading = "-LOADING Obelisk is loading the dataset in memory\r\n";
    assert_memory_equal(replies, loading, strlen(loading));
    assert_memory_equal(replies + strlen(loading), loading, strlen(loading));
    assert_non_null(strstr(replies, "loading:1\r\n"));
    free(replies);
    /* Ready a moment later: the data is there (polled: the log of the first start already
     * holds a "Ready" line). */
    int ready = 0;
    for (int i = 0; i < 100 && !ready; i++) {
        usleep(50000);
        raw_send_str(fd, "XLEN k\r\n");
        char *r = raw_read(fd, 4096, 1000, &got);
        ready = got > 0 && !strcmp(r, ":1\r\n");
        if (!ready) assert_memory_equal(r, "-LOADING ", 9);
        free(r);
    }
    assert_true(ready);
    close(fd);
    c = client_connect(&s);
    redisReply *r = redisCommand(c, "INFO persistence");
    assert_non_null(strstr(r->str, "loading:0\r\n"));
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static long long field(const char *info, const char *name) {
    const char *at = strstr(info, name);
    return at ? atoll(at + strlen(name)) : -1;
}

/* After a kill -9 the start replays the write-ahead log: while it loads, INFO persistence has
 * Redis's loading_* fields with the size of the replay, and the log says what was replayed. */
static void test_replay_progress(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    for (int i = 0; i < 200; i++) freeReplyObject(redisCommand(c, "XADD k%d * f v", i % 20));
    redisReply *r = redisCommand(c, "INFO persistence");
    long long pending = field(r->str, "wal_pending_bytes:");
    assert_true(pending > 0);
    freeReplyObject(r);
    redisFree(c);
    server_kill(&s);
    harness_wait_ready = 0;
    const char *extra[] = {"--debug-loading-delay-ms", "1500", NULL};
    long long before = (long long)time(NULL);
    assert_int_equal(server_start_argv(&s, extra, 1), 0);
    harness_wait_ready = 1;
    int fd = raw_connect(s.port);
    assert_true(fd >= 0);
    long long total = -1;
    for (int i = 0; i < 40 && total <= 0; i++) { /* the loader reaches the log quickly */
        raw_send_str(fd, "INFO persistence\r\n");
        size_t got;
        char *info = raw_read(fd, 1 << 16, 500, &got);
        assert_non_null(strstr(info, "loading:1\r\n"));
        long long start = field(info, "loading_start_time:");
        assert_true(start >= before - 1 && start <= before + 5);
        total = field(info, "loading_total_bytes:");
        assert_true(field(info, "loading_loaded_bytes:") >= 0);
        assert_non_null(strstr(info, "loading_loaded_perc:"));
        assert_true(field(info, "loading_eta_seconds:") >= 0);
        free(info);
        if (total <= 0) usleep(25000);
    }
    assert_true(total >= pending); /* the log's files after the checkpoint: an upper bound */
    close(fd);
    c = client_connect(&s);
    assert_non_null(c);
    long long len = -1;
    for (int i = 0; i < 200 && len < 0; i++) { /* -LOADING until the replay is done */
        r = redisCommand(c, "XLEN k3");
        if (r->type == REDIS_REPLY_INTEGER) len = r->integer;
        freeReplyObject(r);
        if (len < 0) usleep(25000);
    }
    assert_int_equal(len, 10);
    redisFree(c);
    assert_true(server_log_contains(&s, "write-ahead log replayed"));
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loading_then_ready),
        cmocka_unit_test(test_replay_progress),
    };
    return cmocka_run_group_tests_name("loading", tests, NULL, NULL);
}
