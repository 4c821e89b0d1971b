/* test_harness_ports.c - the ports tests hand to servers (harness_free_port): outside the
 * kernel's ephemeral range, so a client's outgoing connection never takes one between the test
 * choosing it and the server binding it (the cause of a rare "Address already in use" start). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static void read_ephemeral_range(int *lo, int *hi) {
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d %d", lo, hi), 2);
    fclose(f);
}

static void test_ports_outside_ephemeral_range(void **state) {
    (void)state;
    int lo, hi;
    read_ephemeral_range(&lo, &hi);
    static char seen[65536];
    for (int i = 0; i < 300; i++) {
        int port = harness_free_port();
        assert_true(port >= HARNESS_PORT_FLOOR && port <= 65535);
        assert_true(port < lo || port > hi);
        assert_int_equal(seen[port], 0); /* never twice in one process */
        seen[port] = 1;
    }
}

/* A listener on port 0 (the kernel picks an ephemeral port); returns its fd and port. */
static int listen_any(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 512), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* The race itself: choose a port, open many outgoing connections (each takes an ephemeral
 * source port), then start a server on the chosen port. */
static void test_chosen_port_survives_outgoing_connections(void **state) {
    (void)state;
    int http = harness_free_port();
    assert_true(http > 0);
    int target, lfd = listen_any(&target);
    enum { CONNS = 400 };
    int fds[CONNS];
    for (int i = 0; i < CONNS; i++) {
        fds[i] = raw_connect(target);
        assert_true(fds[i] >= 0);
        struct sockaddr_in me;
        socklen_t len = sizeof(me);
        assert_int_equal(getsockname(fds[i], (struct sockaddr *)&me, &len), 0);
        assert_int_not_equal(ntohs(me.sin_port), http);
    }
    char hp[16];
    snprintf(hp, sizeof hp, "%d", http);
    struct test_server s;
    assert_int_equal(server_start(&s, "--http-port", hp, NULL), 0);
    int fd = raw_connect(http);
    assert_true(fd >= 0);
    assert_int_equal(raw_send_str(fd, "GET /health HTTP/1.0\r\n\r\n"), 0);
    size_t n = 0;
    char *got = raw_read(fd, 1 << 16, 3000, &n);
    assert_non_null(got);
    assert_non_null(strstr(got, "200 OK"));
    free(got);
    close(fd);
    for (int i = 0; i < CONNS; i++) close(fds[i]);
    close(lfd);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ports_outside_ephemeral_range),
        cmocka_unit_test(test_chosen_port_survives_outgoing_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
