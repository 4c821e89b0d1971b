/* test_blocking.c - XREAD BLOCK against a real server: immediate replies, timeouts in RESP2 and
 * RESP3, several keys, the same key twice, BLOCK 0, FIFO wake-ups, no wake-up for data that
 * vanished in the same transaction, disconnects while blocked, and input pipelined behind a
 * blocked command. */
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

static void send_cmd(int fd, const char *s) {
    assert_int_equal(raw_send_str(fd, s), 0);
}

/* Nothing arrives on fd within ms. */
static void expect_silence(int fd, int ms) {
    size_t got;
    char *r = raw_read(fd, 1, ms, &got);
    if (got) printf("# unexpected: %s\n", r);
    assert_int_equal(got, 0);
    free(r);
}

static void test_immediate_and_errors(void **state) {
    (void)state;
    expect_raw(
        "XADD b1 1-1 f v\r\nXREAD STREAMS b1 0\r\n",
        "$3\r\n1-1\r\n*1\r\n*2\r\n$2\r\nb1\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\n"
        "v\r\n");
    int fd = raw_connect(shared_server.port);
    send_cmd(fd, "HELLO 3\r\n");
    size_t got;
    free(raw_read(fd, 4096, 300, &got));
    send_cmd(fd, "XREAD STREAMS b1 b1 0 0\r\n");
    assert_true(raw_expect(fd, "%2\r\n$2\r\nb1\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\n"
                               "v\r\n$2\r\nb1\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\n"
                               "v\r\n"));
    send_cmd(fd, "XREAD STREAMS b1 $\r\nXREAD BLOCK 50 STREAMS b1 $\r\n");
    assert_true(raw_expect(fd, "_\r\n_\r\n"));
    close(fd);
    expect_raw(
        "XREAD STREAMS b1 b2 0\r\nXREAD COUNT x STREAMS b1 0\r\nXREAD BLOCK -1 STREAMS b1 0\r\n"
        "XREAD BLOCK x STREAMS b1 0\r\nXREAD FOO b1 0\r\nXREAD STREAMS b1 >\r\n"
        "XREAD STREAMS b1 zz\r\nXREAD STREAMS nokey 0\r\n",
        "-ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
        "specified.\r\n"
        "-ERR value is not an integer or out of range\r\n"
        "-ERR timeout is negative\r\n"
        "-ERR timeout is not an integer or out of range\r\n"
        "-ERR syntax error\r\n"
        "-ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
        "<group> <consumer> option.\r\n"
        "-ERR Invalid stream ID specified as stream command argument\r\n"
        "*-1\r\n");
}

static void test_timeout(void **state) {
    (void)state;
    int fd = raw_connect(shared_server.port);
    send_cmd(fd, "XREAD BLOCK 200 STREAMS b2 $\r\nPING\r\n");
    expect_silence(fd, 100);
    /* The pipelined PING runs only after the blocked command answered. */
    assert_true(raw_expect(fd, "*-1\r\n+PONG\r\n"));
    close(fd);
}

static void test_wakeup_several_keys_fifo(void **state) {
    (void)state;
    int a = raw_connect(shared_server.port), b = raw_connect(shared_server.port);
    send_cmd(a, "XREAD BLOCK 0 STREAMS k1 k2 $ $\r\n");
    usleep(50000);
    send_cmd(b, "XREAD BLOCK 5000 COUNT 1 STREAMS k2 0\r\n");
    usleep(50000);
    redisContext *c = client_connect(&shared_server);
    redisReply *r = redisCommand(c, "INFO clients");
    assert_non_null(strstr(r->str, "blocked_clients:2\r\n"));
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "XADD k2 7-1 x 1"));
    assert_true(raw_expect(a, "*1\r\n*2\r\n$2\r\nk2\r\n*1\r\n*2\r\n$3\r\n7-1\r\n*2\r\n$1\r\nx\r\n$1"
                              "\r\n1\r\n"));
    assert_true(raw_expect(b, "*1\r\n*2\r\n$2\r\nk2\r\n*1\r\n*2\r\n$3\r\n7-1\r\n*2\r\n$1\r\nx\r\n$1"
                              "\r\n1\r\n"));
    r = redisCommand(c, "INFO clients");
    assert_non_null(strstr(r->str, "blocked_clients:0\r\n"));
    freeReplyObject(r);
    close(a);
    close(b);
    redisFree(c);
}

/* XADD then DEL in one transaction: the data is gone by the time waiters are served. */
static void test_no_wakeup_for_vanished_data(void **state) {
    (void)state;
    int a = raw_connect(shared_server.port);
    send_cmd(a, "XREAD BLOCK 0 STREAMS ghost $\r\n");
    usleep(50000);
    redisContext *c = client_connect(&shared_server);
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "XADD ghost 1-1 f v");
    redisAppendCommand(c, "DEL ghost");
    redisAppendCommand(c, "EXEC");
    for (int i = 0; i < 4; i++) {
        redisReply *r;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    expect_silence(a, 200);
    freeReplyObject(redisCommand(c, "XADD ghost 2-1 f v"));
    assert_true(raw_expect(a, "*1\r\n*2\r\n$5\r\nghost\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\n"
                              "f\r\n$1\r\nv\r\n"));
    close(a);
    redisFree(c);
}

static void test_disconnect_while_blocked(void **state) {
    (void)state;
    for (int i = 0; i < 20; i++) {
        int a = raw_connect(shared_server.port);
        send_cmd(a, "XREAD BLOCK 0 STREAMS dk $\r\n");
        close(a);
    }
    usleep(100000);
    redisContext *c = client_connect(&shared_server);
    freeReplyObject(redisCommand(c, "XADD dk * f v"));
    redisReply *r = redisCommand(c, "INFO clients");
    assert_non_null(strstr(r->str, "blocked_clients:0\r\n"));
    freeReplyObject(r);
    redisFree(c);
}

/* Inside MULTI a BLOCK cannot block: it answers like a timeout. */
static void test_block_in_multi(void **state) {
    (void)state;
    expect_raw("MULTI\r\nXREAD BLOCK 0 STREAMS none $\r\nEXEC\r\n",
               "+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n");
}

/* A blocked reader is served entries that are durable: with many writers, each reader sees a
 * complete, ordered prefix. */
static void test_many_blocked_readers(void **state) {
    (void)state;
    enum { READERS = 10 };
    int fds[READERS];
    for (int i = 0; i < READERS; i++) {
        fds[i] = raw_connect(shared_server.port);
        send_cmd(fds[i], "XREAD BLOCK 0 STREAMS many 0\r\n");
    }
    usleep(100000);
    redisContext *c = client_connect(&shared_server);
    freeReplyObject(redisCommand(c, "XADD many 1-1 f v"));
    for (int i = 0; i < READERS; i++) {
        assert_true(raw_expect(fds[i], "*1\r\n*2\r\n$4\r\nmany\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n"
                                       "$1\r\nf\r\n$1\r\nv\r\n"));
        close(fds[i]);
    }
    redisFree(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_immediate_and_errors),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_wakeup_several_keys_fifo),
        cmocka_unit_test(test_no_wakeup_for_vanished_data),
        cmocka_unit_test(test_disconnect_while_blocked),
        cmocka_unit_test(test_block_in_multi),
        cmocka_unit_test(test_many_blocked_readers),
    };
    return cmocka_run_group_tests_name("blocking", tests, shared_server_setup,
                                       shared_server_teardown);
}
