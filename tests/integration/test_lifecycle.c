/* test_lifecycle.c - start-up, configuration files, authentication, limits that protect the
 * server (maxclients, protected mode, output buffer limits, idle timeout) and graceful stops
 * (SIGTERM, SHUTDOWN), each on a server of its own. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tmpname.h"

static void test_sigterm_exits_zero(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    assert_int_equal(server_stop(&s), 0);
    assert_true(server_log_contains(&s, "Received SIGTERM scheduling shutdown..."));
    assert_true(server_log_contains(&s, "ready to exit, bye bye..."));
    server_cleanup(&s);
}

static void test_shutdown_command(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    int fd = raw_connect(s.port);
    raw_send_str(fd, "SHUTDOWN FOO\r\n");
    assert_true(raw_expect(fd, "-ERR syntax error\r\n"));
    raw_send_str(fd, "SHUTDOWN\r\n");
    assert_true(raw_closed(fd, 5000));
    close(fd);
    int status = server_wait_exit(&s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(server_log_contains(&s, "User requested shutdown"));
    server_cleanup(&s);
}

static void test_requirepass(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--requirepass", "s3cret", NULL), 0);
    int fd = raw_connect(s.port);
    raw_send_str(fd, "PING\r\nHELLO\r\nHELLO 3\r\nAUTH nope\r\nAUTH default nope\r\nFOO\r\n");
    assert_true(raw_expect(
        fd, "-NOAUTH Authentication required.\r\n"
            "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
            "the RESP protocol version at the same time\r\n"
            "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
            "the RESP protocol version at the same time\r\n"
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
            "-ERR unknown command 'FOO', with args beginning with: \r\n"));
    raw_send_str(fd, "AUTH s3cret\r\nPING\r\n");
    assert_true(raw_expect(fd, "+OK\r\n+PONG\r\n"));
    close(fd);
    /* HELLO AUTH authenticates and switches protocol in one step. */
    fd = raw_connect(s.port);
    raw_send_str(fd, "HELLO 3 AUTH default s3cret\r\n");
    size_t got;
    char *r = raw_read(fd, 3, 1000, &got);
    assert_memory_equal(r, "%7\r", 3);
    free(r);
    close(fd);
    /* Before authentication: at most 10 arguments and 16 KiB bulks. */
    fd = raw_connect(s.port);
    raw_send_str(fd, "*11\r\n");
    assert_true(raw_expect(fd, "-ERR Protocol error: unauthenticated multibulk length\r\n"));
    assert_true(raw_closed(fd, 3000));
    close(fd);
    fd = raw_connect(s.port);
    raw_send_str(fd, "*2\r\n$4\r\nECHO\r\n$16385\r\n");
    assert_true(raw_expect(fd, "-ERR Protocol error: unauthenticated bulk length\r\n"));
    assert_true(raw_closed(fd, 3000));
    close(fd);
    fd = raw_connect(s.port);
    raw_send_str(fd, "AUTH s3cret\r\n*11\r\n$4\r\nPING\r\n");
    assert_true(raw_expect(fd, "+OK\r\n")); /* after AUTH the same count is fine */
    close(fd);
    fd = raw_connect(s.port);
    raw_send_str(fd, "QUIT\r\n");
    assert_true(raw_expect(fd, "+OK\r\n"));
    close(fd);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_maxclients(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--maxclients", "2", NULL), 0);
    int a = raw_connect(s.port), b = raw_connect(s.port);
    raw_send_str(a, "PING\r\n");
    raw_send_str(b, "PING\r\n");
    assert_true(raw_expect(a, "+PONG\r\n"));
    assert_true(raw_expect(b, "+PONG\r\n"));
    int c = raw_connect(s.port);
    assert_true(raw_expect(c, "-ERR max number of clients reached\r\n"));
    assert_true(raw_closed(c, 3000));
    close(c);
    close(b);
    usleep(200000);
    c = raw_connect(s.port);
    raw_send_str(c, "PING\r\n");
    assert_true(raw_expect(c, "+PONG\r\n"));
    close(c);
    close(a);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_protected_mode(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--bind", "127.0.0.1", NULL), 0);
    int fd = raw_connect_from(s.port, "127.0.0.2"); /* not 127.0.0.1 or ::1: not local */
    assert_true(fd >= 0);
    size_t got;
    char *r = raw_read(fd, 8, 3000, &got);
    assert_memory_equal(r, "-DENIED ", 8);
    free(r);
    assert_true(raw_closed(fd, 3000));
    close(fd);
    redisContext *c = client_connect(&s);
    freeReplyObject(must_cmd(c, "CONFIG SET protected-mode no"));
    fd = raw_connect_from(s.port, "127.0.0.2");
    raw_send_str(fd, "PING\r\n");
    assert_true(raw_expect(fd, "+PONG\r\n"));
    close(fd);
    /* With a password set, protected mode lets remote clients in (they must AUTH). */
    freeReplyObject(must_cmd(c, "CONFIG SET protected-mode yes requirepass pw"));
    fd = raw_connect_from(s.port, "127.0.0.2");
    raw_send_str(fd, "PING\r\n");
    assert_true(raw_expect(fd, "-NOAUTH Authentication required.\r\n"));
    close(fd);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* A client that sends requests but never reads is dropped at the hard output limit, and the
 * server goes on serving others. */
static void test_output_buffer_hard_limit(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--client-output-buffer-limit", "normal 1mb 0 0", NULL), 0);
    int fd = raw_connect(s.port);
    int rcvbuf = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    char *arg = malloc(100001);
    memset(arg, 'x', 100000);
    arg[100000] = '\0';
    char head[64];
    snprintf(head, sizeof(head), "*2\r\n$4\r\nECHO\r\n$100000\r\n");
    for (int i = 0; i < 200; i++) { /* 20 MB of replies, never read */
        if (raw_send_str(fd, head) != 0 || raw_send(fd, arg, 100000) != 0 ||
            raw_send_str(fd, "\r\n") != 0)
            break;
    }
    assert_true(raw_closed(fd, 5000));
    close(fd);
    free(arg);
    assert_true(server_log_contains(&s, "overcoming of output buffer limits"));
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "PING");
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Backpressure (conn.c): a client whose replies pile up past 32 MiB stops being read, and is
 * read again once its output drains. 100 MB of ECHO replies pipelined: the client sends without
 * reading until the server stops taking requests, then sends and reads as its socket allows:
 * every byte arrives, and the PING after them answers. */
static void test_output_backpressure(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    int fd = raw_connect(s.port);
    assert_true(fd >= 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    enum { N = 1000, ARG = 100000 };
    const char head[] = "*2\r\n$4\r\nECHO\r\n$100000\r\n";
    const char ping[] = "*1\r\n$4\r\nPING\r\n";
    size_t req = sizeof head - 1 + ARG + 2, total = (size_t)N * req + sizeof ping - 1;
    char *one = malloc(req), *in = malloc(1 << 20); /* one request, sent N times */
    assert_non_null(one);
    assert_non_null(in);
    memcpy(one, head, sizeof head - 1);
    memset(one + sizeof head - 1, 'x', ARG);
    memcpy(one + sizeof head - 1 + ARG, "\r\n", 2);
    size_t sent = 0, got = 0, want = (size_t)N * (ARG + 11) + 7;
    /* first nothing is read: the replies pass 32 MiB and the server stops reading, until the
     * requests no longer go out for half a second */
    int reading = 0;
    long long deadline = mono_ms() + 60000;
    while (got < want && mono_ms() < deadline) {
        struct pollfd pf = {fd, (reading ? POLLIN : 0) | (sent < total ? POLLOUT : 0), 0};
        if (poll(&pf, 1, 500) <= 0) {
            if (!reading) assert_true(sent < total); /* held back: the server stopped reading */
            reading = 1;
            continue;
        }
        if ((pf.revents & POLLOUT) && sent < total) {
            const char *p = sent < (size_t)N * req ? one + sent % req : ping + (sent - N * req);
            size_t n = sent < (size_t)N * req ? req - sent % req : total - sent;
            ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
            if (w > 0) sent += (size_t)w;
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, in, 1 << 20, 0);
            if (r == 0) break;
            if (r > 0) got += (size_t)r;
        }
    }
    assert_true(reading);
    assert_int_equal(sent, total);
    assert_int_equal(got, want); /* 1000 replies of 100,011 bytes and +PONG */
    close(fd);
    free(one);
    free(in);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_idle_timeout(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--timeout", "1", NULL), 0);
    int fd = raw_connect(s.port);
    raw_send_str(fd, "PING\r\n");
    assert_true(raw_expect(fd, "+PONG\r\n"));
    assert_true(raw_closed(fd, 4000));
    close(fd);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A config file in redis.conf syntax: comments, quotes, units, include; the command line
 * overrides the file. */
static void test_config_file(void **state) {
    (void)state;
    struct test_server s;
    char dir[TEST_TMP_MAX];
    test_tmp_template(dir, sizeof dir, "obelisk-conf.");
    assert_non_null(mkdtemp(dir));
    char main_conf[TEST_TMP_MAX + 16], inc_conf[TEST_TMP_MAX + 16], text[512];
    snprintf(main_conf, sizeof(main_conf), "%s/main.conf", dir);
    snprintf(inc_conf, sizeof(inc_conf), "%s/inc.conf", dir);
    write_text(inc_conf, "maxclients 77\n");
    snprintf(text, sizeof(text),
             "# a comment\n\n   timeout 42\nproto-max-bulk-len 2mb\n"
             "client-query-buffer-limit 1gb\nrequirepass \"p w\"\ninclude %s\nTCP-KEEPALIVE 10\n",
             inc_conf);
    write_text(main_conf, text);
    const char *extra[] = {"--timeout", "43", NULL};
    memset(&s, 0, sizeof(s));
    /* The config file must come first on the command line: start by hand. */
    test_tmp_template(s.dir, sizeof(s.dir), "obelisk-test.");
    assert_non_null(mkdtemp(s.dir));
    snprintf(s.datadir, sizeof(s.datadir), "%s/data", s.dir);
    snprintf(s.logpath, sizeof(s.logpath), "%s/server.log", s.dir);
    (void)extra;
    char cmd[2048];
    const char *bin = getenv("OBELISK_SERVER");
    snprintf(cmd, sizeof(cmd),
             "%s %s --port 0 --dir %s --timeout 43 --daemonize yes --pidfile %s/pid "
             "--logfile %s",
             bin ? bin : "./obelisk-server", main_conf, s.datadir, s.dir, s.logpath);
    assert_int_equal(system(cmd), 0); /* daemonized: the launcher returns at once */
    int port = -1;
    for (int i = 0; i < 500 && port < 0; i++) {
        usleep(10000);
        FILE *f = fopen(s.logpath, "r");
        char line[512];
        while (f && fgets(line, sizeof(line), f)) {
            char *p = strstr(line, "port=");
            if (p && strstr(line, "Running mode")) port = atoi(p + 5);
        }
        if (f) fclose(f);
    }
    assert_true(port > 0);
    s.port = port;
    char pidpath[300];
    snprintf(pidpath, sizeof(pidpath), "%s/pid", s.dir);
    FILE *pf = fopen(pidpath, "r");
    assert_non_null(pf);
    int pid = 0;
    assert_int_equal(fscanf(pf, "%d", &pid), 1);
    fclose(pf);
    redisContext *c = client_connect(&s);
    freeReplyObject(must_cmd(c, "AUTH %s", "p w"));
    redisReply *r = must_cmd(c, "CONFIG GET timeout");
    assert_string_equal(r->element[1]->str, "43");
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG GET maxclients");
    assert_string_equal(r->element[1]->str, "77");
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG GET proto-max-bulk-len");
    assert_string_equal(r->element[1]->str, "2097152");
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG GET tcp-keepalive");
    assert_string_equal(r->element[1]->str, "10");
    freeReplyObject(r);
    r = must_cmd(c, "INFO server");
    char want[64];
    snprintf(want, sizeof(want), "process_id:%d\r\n", pid);
    assert_non_null(strstr(r->str, want));
    assert_non_null(strstr(r->str, "config_file:/"));
    freeReplyObject(r);
    redisFree(c);
    kill(pid, SIGTERM);
    for (int i = 0; i < 500 && access(pidpath, F_OK) == 0; i++) usleep(10000);
    assert_int_not_equal(access(pidpath, F_OK), 0); /* removed on a graceful stop */
    server_cleanup(&s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Bad directives and values stop start-up with the line number and a non-zero exit. */
static void test_config_errors(void **state) {
    (void)state;
    char dir[TEST_TMP_MAX];
    test_tmp_template(dir, sizeof dir, "obelisk-conf.");
    assert_non_null(mkdtemp(dir));
    const char *cases[][2] = {
        {"port 1\nnosuch-directive 1\n", "at line 2"},
        {"timeout abc\n", "argument couldn't be parsed into an integer"},
        {"port 70000\n", "argument must be between 0 and 65535 inclusive"},
        {"protected-mode maybe\n", "argument must be 'yes' or 'no'"},
        {"requirepass \"unbalanced\n", "Unbalanced quotes"},
        {"proto-max-bulk-len 12xb\n", "argument must be a memory value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char conf[TEST_TMP_MAX + 16], out[TEST_TMP_MAX + 16], cmd[1024];
        snprintf(conf, sizeof(conf), "%s/bad.conf", dir);
        snprintf(out, sizeof(out), "%s/out.txt", dir);
        write_text(conf, cases[i][0]);
        const char *bin = getenv("OBELISK_SERVER");
        snprintf(cmd, sizeof(cmd), "%s %s --port 0 --dir %s/data > %s 2>&1",
                 bin ? bin : "./obelisk-server", conf, dir, out);
        int rc = system(cmd);
        assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) != 0);
        FILE *f = fopen(out, "r");
        char buf[4096] = "";
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        if (!strstr(buf, cases[i][1])) printf("# case %zu output: %s\n", i, buf);
        assert_non_null(strstr(buf, "FATAL CONFIG FILE ERROR"));
        assert_non_null(strstr(buf, cases[i][1]));
    }
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm_exits_zero), cmocka_unit_test(test_shutdown_command),
        cmocka_unit_test(test_requirepass),        cmocka_unit_test(test_maxclients),
        cmocka_unit_test(test_protected_mode),     cmocka_unit_test(test_output_buffer_hard_limit),
        cmocka_unit_test(test_idle_timeout),       cmocka_unit_test(test_output_backpressure),
        cmocka_unit_test(test_config_file),        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
