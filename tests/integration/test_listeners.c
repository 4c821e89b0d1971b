/* test_listeners.c - the RESP listeners and what port 0 means, against a real obelisk-server.
 * Without a TLS port, port 0 is a free port the start log names, and a refused CONFIG SET port
 * keeps the port that was bound. The harness gives a server started with TLS options a plain
 * port, and with "--port 0" after them the server is TLS-only: its start line names the TLS
 * port, which does not answer plaintext. The TLS side (redis-cli and redis-py over TLS, CONFIG
 * SET port 0, tls-port 0 refused, redis-server compared) is redis-tests/test_listeners.py. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "tmpname.h"

/* A socket listening on a loopback port, so that the port is in use; its port in *port. */
static int busy_listener(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* 1 when a plaintext PING on the port gets +PONG. */
static int plain_pong(int port) {
    int fd = raw_connect(port);
    if (fd < 0) return 0;
    size_t len = 0;
    char *got = NULL;
    if (raw_send_str(fd, "PING\r\n") == 0) got = raw_read(fd, 7, 2000, &len);
    int ok = got && len == 7 && !memcmp(got, "+PONG\r\n", 7);
    free(got);
    close(fd);
    return ok;
}

static long long info_tcp_port(redisContext *c) {
    redisReply *r = must_cmd(c, "INFO server");
    char *p = strstr(r->str, "tcp_port:");
    assert_non_null(p);
    long long v = atoll(p + strlen("tcp_port:"));
    freeReplyObject(r);
    return v;
}

static void test_free_port(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    assert_true(s.port > 0);
    assert_true(plain_pong(s.port));
    assert_true(server_log_contains(&s, "(plain TCP), a free port"));
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "CONFIG GET port");
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[1]->str, "0");
    freeReplyObject(r);
    assert_int_equal(info_tcp_port(c), s.port);
    redisFree(c);
    server_cleanup(&s);
}

/* The known bug: the refused CONFIG SET put port 0 back and re-applied it, which moved the
 * listener to another free port; clients got "connection refused" on the one they knew. */
static void test_refused_port_keeps_free_port(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    int busy_port, busy = busy_listener(&busy_port);
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "CONFIG SET port %d", busy_port);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "Address already in use"));
    freeReplyObject(r);
    assert_true(plain_pong(s.port));
    assert_int_equal(info_tcp_port(c), s.port);
    r = must_cmd(c, "CONFIG SET port 0");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    assert_true(plain_pong(s.port)); /* port 0 again: still the port bound */
    redisFree(c);
    close(busy);
    server_cleanup(&s);
}

/* Certificates made by the openssl tool in dir: ca, and server (SAN localhost, 127.0.0.1). */
static void make_certs(const char *dir) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ca "
             "-keyout ca.key -out ca.crt && openssl req -newkey rsa:2048 -nodes -subj "
             "/CN=localhost -keyout server.key -out server.csr && printf "
             "'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext && openssl x509 -req "
             "-in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile "
             "server.ext -out server.crt",
             dir);
    char quiet[2100];
    snprintf(quiet, sizeof quiet, "(%s) >/dev/null 2>&1", cmd);
    assert_int_equal(system(quiet), 0);
}

static void test_tls_servers(void **state) {
    (void)state;
    char dir[TEST_TMP_MAX];
    test_tmp_template(dir, sizeof dir, "obelisk-certs.");
    assert_non_null(mkdtemp(dir));
    make_certs(dir);
    char cert[300], key[300], ca[300], tp[16];
    snprintf(cert, sizeof cert, "%s/server.crt", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    int tls_port = harness_free_port();
    snprintf(tp, sizeof tp, "%d", tls_port);
    /* TLS options: the harness still gives the server a plain port */
    struct test_server s;
    assert_int_equal(server_start(&s, "--tls-port", tp, "--tls-cert-file", cert, "--tls-key-file",
                                  key, "--tls-ca-cert-file", ca, NULL),
                     0);
    assert_true(s.port > 0 && s.port != tls_port);
    assert_true(plain_pong(s.port));
    assert_true(server_log_contains(&s, "Listening on TLS port"));
    server_cleanup(&s);
    /* and "--port 0" after them: TLS only, the start line names the TLS port */
    tls_port = harness_free_port();
    snprintf(tp, sizeof tp, "%d", tls_port);
    assert_int_equal(server_start(&s, "--tls-port", tp, "--tls-cert-file", cert, "--tls-key-file",
                                  key, "--tls-ca-cert-file", ca, "--port", "0", NULL),
                     0);
    assert_int_equal(s.port, tls_port);
    assert_true(server_log_contains(&s, "no plain TCP port"));
    assert_false(plain_pong(tls_port));
    server_cleanup(&s);
    char rm[512];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_port),
        cmocka_unit_test(test_refused_port_keeps_free_port),
        cmocka_unit_test(test_tls_servers),
    };
    return cmocka_run_group_tests_name("listeners", tests, NULL, NULL);
}
