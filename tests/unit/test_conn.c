/* test_conn.c - the transport alone: a socketpair stands in for the TCP connection (no network,
 * no listener) and a fake request handler stands in for the dispatch level. Checks pipelined
 * requests reach the handler whole and in order, a parked request stops input until it is
 * resumed, a protocol error answers once and closes, stage bytes never overtake held replies,
 * release hooks run when a client goes, and the idle timeout follows a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "base/util.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/runtime.h"

static char seen[1024]; /* "name arg|name arg|..." of the requests handled */
static int park_next;   /* the handler parks the next request */
static struct client *parked;
static int released;

static int fake_handler(struct client *c, int argc, char **argv, size_t *argvlen) {
    size_t n = strlen(seen);
    for (int i = 0; i < argc; i++)
        n += (size_t)snprintf(seen + n, sizeof(seen) - n, "%s%.*s", i ? " " : "", (int)argvlen[i],
                              argv[i]);
    snprintf(seen + n, sizeof(seen) - n, "|");
    if (park_next) {
        park_next = 0;
        parked = c;
        c->flags |= CLIENT_RETRY;
        return 1;
    }
    reply_simple(&c->reply, "OK");
    conn_flush_stage(c);
    return 0;
}

static void count_release(struct client *c) {
    (void)c;
    released++;
}

/* Accepts one end of a socketpair as a client; returns the peer's end. */
static int connect_fake(struct client **out) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct client *before = conn_first();
    conn_accept(sv[0], (struct sockaddr *)&sa, sizeof(sa));
    *out = conn_first();
    assert_true(*out != before);
    return sv[1];
}

/* Runs the loop the way server.c does until nothing is pending. */
static void spin(void) {
    for (int i = 0; i < 5; i++) {
        conn_write_pending();
        conn_free_closed();
        event_base_loop(runtime.base, EVLOOP_NONBLOCK);
    }
    conn_write_pending();
    conn_free_closed();
}

static void send_str(int fd, const char *s) {
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    spin();
}

/* What the peer received so far ("" when nothing), as a static string. */
static const char *received(int fd) {
    static char buf[4096];
    size_t n = 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (n < sizeof(buf) - 1 && poll(&p, 1, 20) > 0) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return buf;
}

static int setup(void **state) {
    (void)state;
    config_init_defaults();
    runtime.base = event_base_new();
    conn_set_request_handler(fake_handler);
    conn_add_release_hook(count_release);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    while (conn_first()) conn_free(conn_first());
    event_base_free(runtime.base);
    config_free();
    return 0;
}

static void reset(void) {
    seen[0] = '\0';
    park_next = 0;
    parked = NULL;
}

static void test_pipelined_requests_in_order(void **state) {
    (void)state;
    reset();
    struct client *c;
    int fd = connect_fake(&c);
    send_str(fd, "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nINLINE one\r\n");
    assert_string_equal(seen, "PING|ECHO hi|INLINE one|");
    assert_string_equal(received(fd), "+OK\r\n+OK\r\n+OK\r\n");
    send_str(fd, "*2\r\n$3\r\nGET\r\n$5\r\nab"); /* split across reads */
    assert_string_equal(seen, "PING|ECHO hi|INLINE one|");
    send_str(fd, "cde\r\n");
    assert_string_equal(seen, "PING|ECHO hi|INLINE one|GET abcde|");
    close(fd);
    spin();
}

static void test_parked_request_stops_input(void **state) {
    (void)state;
    reset();
    struct client *c;
    int fd = connect_fake(&c);
    park_next = 1;
    send_str(fd, "A\r\nB\r\n");
    assert_string_equal(seen, "A|"); /* B waits behind the parked A */
    assert_ptr_equal(parked, c);
    assert_string_equal(received(fd), "");
    /* the layer above runs A again, finishes it and resumes the input */
    c->flags &= ~CLIENT_RETRY;
    reply_simple(&c->reply, "OK");
    conn_request_done(c);
    conn_resume_input(c);
    spin();
    assert_string_equal(seen, "A|B|");
    assert_string_equal(received(fd), "+OK\r\n+OK\r\n");
    close(fd);
    spin();
}

static void test_protocol_error_closes(void **state) {
    (void)state;
    reset();
    struct client *c;
    int fd = connect_fake(&c);
    int before = released;
    send_str(fd, "*1\r\n$x\r\n");
    const char *got = received(fd);
    assert_non_null(strstr(got, "-ERR Protocol error"));
    spin();
    assert_int_equal(released, before + 1); /* the release hook ran */
    char b;
    assert_int_equal(read(fd, &b, 1), 0); /* closed */
    close(fd);
}

static void test_stage_waits_behind_held_bytes(void **state) {
    (void)state;
    reset();
    struct client *c;
    int fd = connect_fake(&c);
    c->held_bytes = 5; /* a layer above holds a reply for this client */
    send_str(fd, "PING\r\n");
    assert_string_equal(received(fd), ""); /* the reply stays in the stage */
    assert_true(conn_output_bytes(c) >= 5 + 5);
    c->held_bytes = 0; /* released (commit.c moved its bytes out) */
    conn_after_release(c);
    spin();
    assert_string_equal(received(fd), "+OK\r\n");
    close(fd);
    spin();
}

static void test_idle_timeout_on_a_fake_clock(void **state) {
    (void)state;
    reset();
    struct client *c;
    int fd = connect_fake(&c);
    server_config.timeout = 10;
    long long now = util_mstime();
    conn_cron(now + 5000);
    spin();
    assert_ptr_equal(conn_first(), c); /* 5 s idle: kept */
    int before = released;
    conn_cron(now + 11000);
    spin();
    assert_int_equal(released, before + 1); /* 11 s idle: closed */
    server_config.timeout = 0;
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_requests_in_order),
        cmocka_unit_test(test_parked_request_stops_input),
        cmocka_unit_test(test_protocol_error_closes),
        cmocka_unit_test(test_stage_waits_behind_held_bytes),
        cmocka_unit_test(test_idle_timeout_on_a_fake_clock),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
