/* test_protocol.c - the RESP request parser over a real socket: inline and multibulk requests,
 * pipelining, byte-by-byte splits, and every protocol error with Redis's exact text and the
 * close that follows it. */
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

static void test_inline_and_multibulk(void **state) {
    (void)state;
    expect_raw("PING\r\n", "+PONG\r\n");
    expect_raw("ping\n", "+PONG\r\n");
    expect_raw("*1\r\n$4\r\nPING\r\n", "+PONG\r\n");
    expect_raw("ECHO \"a b\\x41\\n\"\r\n", "$5\r\na bA\n\r\n");
    expect_raw("ECHO 'it\\'s'\r\n", "$4\r\nit's\r\n");
    expect_raw("\r\n\r\nPING\r\n", "+PONG\r\n"); /* blank lines are skipped */
    expect_raw("*0\r\n*-1\r\nPING\r\n", "+PONG\r\n");
    expect_raw("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", "$0\r\n\r\n");
}

static void test_pipelining(void **state) {
    (void)state;
    char req[14 * 1000 + 1] = "", want[7 * 1000 + 1] = "";
    for (int i = 0; i < 1000; i++) {
        strcat(req, "*1\r\n$4\r\nPING\r\n");
        strcat(want, "+PONG\r\n");
    }
    expect_raw(req, want);
}

/* A request fed one byte at a time parses the same as whole. */
static void test_byte_by_byte(void **state) {
    (void)state;
    const char *req = "*3\r\n$4\r\nECHO\r\n$5\r\nhello\r\n$1\r\nx\r\n";
    int fd = raw_connect(shared_server.port);
    assert_true(fd >= 0);
    /* ECHO takes 1 argument; with 2 the reply is the arity error, still parsed whole. */
    for (size_t i = 0; i < strlen(req); i++) {
        assert_int_equal(raw_send(fd, req + i, 1), 0);
        usleep(1000);
    }
    assert_true(raw_expect(fd, "-ERR wrong number of arguments for 'echo' command\r\n"));
    const char *req2 = "*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\nPI";
    for (size_t i = 0; i < strlen(req2); i++) assert_int_equal(raw_send(fd, req2 + i, 1), 0);
    assert_true(raw_expect(fd, "$11\r\nhello world\r\n"));
    raw_send_str(fd, "NG\r\n");
    assert_true(raw_expect(fd, "+PONG\r\n"));
    close(fd);
}

static void test_protocol_errors(void **state) {
    (void)state;
    expect_raw_then_close("*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
    expect_raw_then_close("*3000000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
    expect_raw_then_close("*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    expect_raw_then_close("*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    expect_raw_then_close("*1\r\nx4\r\nPING\r\n", "-ERR Protocol error: expected '$', got 'x'\r\n");
    expect_raw_then_close("ECHO \"abc\r\n",
                          "-ERR Protocol error: unbalanced quotes in request\r\n");
    expect_raw_then_close("ECHO \"a\"b\r\n",
                          "-ERR Protocol error: unbalanced quotes in request\r\n");
    /* Commands before the bad one in the same packet still run. */
    expect_raw_then_close("PING\r\n*1\r\n$x\r\n",
                          "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
}

static char *filled(size_t n, char c) {
    char *p = malloc(n + 1);
    memset(p, c, n);
    p[n] = '\0';
    return p;
}

static void test_too_big_lines(void **state) {
    (void)state;
    char *digits = filled(70 * 1024, '1');
    char *req = malloc(80 * 1024);
    snprintf(req, 80 * 1024, "*%s", digits);
    expect_raw_then_close(req, "-ERR Protocol error: too big mbulk count string\r\n");
    snprintf(req, 80 * 1024, "*1\r\n$%s", digits);
    expect_raw_then_close(req, "-ERR Protocol error: too big bulk count string\r\n");
    char *inl = filled(70 * 1024, 'a');
    expect_raw_then_close(inl, "-ERR Protocol error: too big inline request\r\n");
    free(digits);
    free(req);
    free(inl);
}

static void test_proto_max_bulk_len(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    assert_non_null(c);
    redisReply *r = client_cmd(c, "CONFIG SET proto-max-bulk-len 1mb");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    expect_raw_then_close("*2\r\n$4\r\nECHO\r\n$1048577\r\n",
                          "-ERR Protocol error: invalid bulk length\r\n");
    /* A bulk of exactly the limit is accepted. */
    char *big = filled(1048576, 'z');
    r = client_cmd(c, "ECHO %s", big);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(r->len, 1048576);
    freeReplyObject(r);
    free(big);
    r = client_cmd(c, "CONFIG SET proto-max-bulk-len 512mb");
    freeReplyObject(r);
    redisFree(c);
}

/* A query buffer over client-query-buffer-limit closes the connection without a reply. */
static void test_query_buffer_limit(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    redisReply *r = client_cmd(c, "CONFIG SET client-query-buffer-limit 1mb");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    int fd = raw_connect(shared_server.port);
    raw_send_str(fd, "*2\r\n$4\r\nECHO\r\n$3000000\r\n");
    char *chunk = filled(64 * 1024, 'q');
    for (int i = 0; i < 24; i++) /* 1.5 MB of a 3 MB bulk */
        if (raw_send(fd, chunk, 64 * 1024) != 0) break;
    size_t got;
    char *reply = raw_read(fd, 1, 3000, &got);
    assert_int_equal(got, 0);
    free(reply);
    assert_true(raw_closed(fd, 3000));
    close(fd);
    free(chunk);
    r = client_cmd(c, "CONFIG SET client-query-buffer-limit 1gb");
    freeReplyObject(r);
    r = client_cmd(c, "PING");
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);
    redisFree(c);
    assert_true(server_log_contains(&shared_server, "max query buffer length"));
}

static void test_http_to_resp_port(void **state) {
    (void)state;
    int fd = raw_connect(shared_server.port);
    raw_send_str(fd, "POST / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    size_t got;
    char *reply = raw_read(fd, 1, 1000, &got);
    assert_int_equal(got, 0);
    free(reply);
    assert_true(raw_closed(fd, 3000));
    close(fd);
    fd = raw_connect(shared_server.port);
    raw_send_str(fd, "PING\r\nGET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    /* "Host:" drops the connection with nothing sent, not even the replies before it (as
     * Redis does). */
    reply = raw_read(fd, 1, 1000, &got);
    assert_int_equal(got, 0);
    free(reply);
    assert_true(raw_closed(fd, 3000));
    close(fd);
    assert_true(server_log_contains(&shared_server, "Possible SECURITY ATTACK detected"));
}

/* Random splits of a pipelined request stream give the same replies (seed printed). */
static void test_random_splits(void **state) {
    (void)state;
    unsigned seed =
        getenv("OBELISK_SEED") ? (unsigned)atoi(getenv("OBELISK_SEED")) : (unsigned)time(NULL);
    printf("# seed %u\n", seed);
    srand(seed);
    const char *req = "*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\nPING\r\nECHO \"x y\"\r\n"
                      "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n";
    const char *want = "$3\r\nabc\r\n+PONG\r\n$3\r\nx y\r\n+PONG\r\n$0\r\n\r\n";
    for (int round = 0; round < 20; round++) {
        int fd = raw_connect(shared_server.port);
        size_t len = strlen(req), pos = 0;
        while (pos < len) {
            size_t n = 1 + (size_t)rand() % 7;
            if (pos + n > len) n = len - pos;
            raw_send(fd, req + pos, n);
            pos += n;
            if (rand() % 2) usleep(200);
        }
        assert_true(raw_expect(fd, want));
        close(fd);
    }
}

/* A pipeline that arrives at once is taken in one read, not 4 KiB a loop turn (libevent 2.1's
 * read size; sockread.c): about 41 KiB of ECHO requests counted 11 reads before. */
static void test_large_pipeline_one_read(void **state) {
    (void)state;
    enum { N = 40, ARG = 1000 };
    char arg[ARG + 1];
    memset(arg, 'a', ARG);
    arg[ARG] = '\0';
    char *req = malloc(N * (ARG + 32)), *want = malloc(N * (ARG + 16) + 1);
    size_t rl = 0, wl = 0;
    for (int i = 0; i < N; i++) {
        rl += (size_t)sprintf(req + rl, "*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n", ARG, arg);
        wl += (size_t)sprintf(want + wl, "$%d\r\n%s\r\n", ARG, arg);
    }
    redisContext *c = client_connect(&shared_server);
    assert_non_null(c);
    long long before = info_number(c, "stats", "total_reads_processed");
    int fd = raw_connect(shared_server.port);
    assert_true(fd >= 0);
    assert_int_equal(raw_send(fd, req, rl), 0);
    assert_true(raw_expect(fd, want));
    close(fd);
    /* the reads of the pipeline's connection, and one of this INFO */
    long long reads = info_number(c, "stats", "total_reads_processed") - before - 1;
    assert_true(reads >= 1 && reads <= 3); /* the bytes may arrive in two or three pieces */
    redisFree(c);
    free(req);
    free(want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_and_multibulk), cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_byte_by_byte),         cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_too_big_lines),        cmocka_unit_test(test_proto_max_bulk_len),
        cmocka_unit_test(test_query_buffer_limit),   cmocka_unit_test(test_http_to_resp_port),
        cmocka_unit_test(test_random_splits),        cmocka_unit_test(test_large_pipeline_one_read),
    };
    return cmocka_run_group_tests_name("protocol", tests, shared_server_setup,
                                       shared_server_teardown);
}
