/* test_supervised.c - `supervised systemd|auto|no` (sdnotify.c): the server started with
 * $NOTIFY_SOCKET pointing at a unix datagram socket made here sends READY=1 once it serves
 * clients and STOPPING=1 when it stops; the abstract-namespace form (@name) works; `no`
 * sends nothing; INFO's process_supervised tells which. */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"

struct notify_sock {
    int fd;
    char dir[64];
    char path[128];
};

/* Binds a datagram socket: a file in a temp dir, or (abstract) a name in the abstract
 * namespace; sets $NOTIFY_SOCKET for the servers started next. */
static void notify_open(struct notify_sock *n, int abstract) {
    struct sockaddr_un sa = {0};
    socklen_t len;
    sa.sun_family = AF_UNIX;
    n->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(n->fd >= 0);
    n->dir[0] = '\0';
    if (abstract) {
        snprintf(n->path, sizeof(n->path), "@obelisk-notify-test-%d", (int)getpid());
        memcpy(sa.sun_path + 1, n->path + 1, strlen(n->path) - 1);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(n->path));
    } else {
        snprintf(n->dir, sizeof(n->dir), "/tmp/obelisk-notify.XXXXXX");
        assert_non_null(mkdtemp(n->dir));
        snprintf(n->path, sizeof(n->path), "%s/notify", n->dir);
        memcpy(sa.sun_path, n->path, strlen(n->path) + 1); /* short: a /tmp name */
        len = sizeof(sa);
    }
    assert_int_equal(bind(n->fd, (struct sockaddr *)&sa, len), 0);
    setenv("NOTIFY_SOCKET", n->path, 1);
}

static void notify_close(struct notify_sock *n) {
    close(n->fd);
    if (n->dir[0]) {
        unlink(n->path);
        rmdir(n->dir);
    }
    unsetenv("NOTIFY_SOCKET");
}

/* Receives datagrams until one holds the line `want` or timeout_ms passes; 1 when seen. */
static int notify_wait(struct notify_sock *n, const char *want, int timeout_ms) {
    struct timeval tv = {0, 100 * 1000};
    setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        char buf[512];
        ssize_t got = recv(n->fd, buf, sizeof(buf) - 1, 0);
        if (got <= 0) continue;
        buf[got] = '\0';
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
            printf("# notify: %s\n", line);
            if (!strcmp(line, want)) return 1;
        }
        waited -= 100; /* a message arrived: it did not use up the time */
    }
    return 0;
}

static void expect_supervised(struct test_server *s, const char *value) {
    redisContext *c = client_connect(s);
    redisReply *r = client_cmd(c, "INFO server");
    char line[64];
    snprintf(line, sizeof(line), "process_supervised:%s\r\n", value);
    assert_non_null(strstr(r->str, line));
    freeReplyObject(r);
    redisFree(c);
}

static void ready_then_stopping(const char *mode, int abstract) {
    struct notify_sock n;
    notify_open(&n, abstract);
    struct test_server s;
    assert_int_equal(server_start(&s, "--supervised", mode, NULL), 0);
    assert_true(notify_wait(&n, "READY=1", 5000));
    expect_supervised(&s, "systemd");
    assert_int_equal(server_stop(&s), 0);
    assert_true(notify_wait(&n, "STOPPING=1", 5000));
    server_cleanup(&s);
    notify_close(&n);
}

static void test_systemd(void **state) {
    (void)state;
    ready_then_stopping("systemd", 0);
}

static void test_auto(void **state) {
    (void)state;
    ready_then_stopping("auto", 0);
}

static void test_abstract_socket(void **state) {
    (void)state;
    ready_then_stopping("systemd", 1);
}

static void test_no_sends_nothing(void **state) {
    (void)state;
    struct notify_sock n;
    notify_open(&n, 0);
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0); /* supervised no is the default */
    expect_supervised(&s, "no");
    assert_int_equal(server_stop(&s), 0);
    struct timeval tv = {0, 300 * 1000};
    setsockopt(n.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[256];
    assert_true(recv(n.fd, buf, sizeof(buf), 0) < 0);
    server_cleanup(&s);
    notify_close(&n);
}

static void test_systemd_without_socket(void **state) {
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    struct test_server s;
    assert_int_equal(server_start(&s, "--supervised", "systemd", NULL), 0);
    expect_supervised(&s, "no");
    assert_int_equal(server_stop(&s), 0);
    assert_true(server_log_contains(&s, "NOTIFY_SOCKET not found"));
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_systemd),
        cmocka_unit_test(test_auto),
        cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_no_sends_nothing),
        cmocka_unit_test(test_systemd_without_socket),
    };
    return cmocka_run_group_tests_name("supervised", tests, NULL, NULL);
}
