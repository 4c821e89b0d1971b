/* test_hardening.c - operator mistakes and resource limits that must not lose data: a second
 * server on a data directory in use is refused (named directory and holder pid, exit code 1,
 * the first server's pid file untouched) and the first keeps serving what it acknowledged; an
 * IPv6 listener is IPv6-only as with Redis (an IPv4 client is refused, not mistaken for a
 * remote one); the HTTP face listens on IPv6 loopback too and says why it cannot listen. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "tmpname.h"

/* Runs obelisk-server with argv (NULL-terminated, without the program), output to logpath;
 * returns its exit status (-1 when it did not exit within timeout_ms; it is then killed). */
static int run_to_exit(const char *const *args, const char *logpath, int timeout_ms) {
    const char *bin = getenv("OBELISK_SERVER");
    const char *argv[32] = {bin ? bin : "./obelisk-server"};
    int n = 1;
    for (; args[n - 1] && n < 31; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(logpath, "w", stdout);
        if (f) dup2(fileno(stdout), 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static int file_contains(const char *path, const char *text) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

static void test_second_server_on_one_directory(void **state) {
    (void)state;
    struct test_server s;
    char pidfile[400], log2[400], want[600];
    char tmpl[TEST_TMP_MAX];
    test_tmp_template(tmpl, sizeof tmpl, "obelisk-pid.");
    assert_non_null(mkdtemp(tmpl));
    snprintf(pidfile, sizeof(pidfile), "%s/obelisk.pid", tmpl);
    assert_int_equal(server_start(&s, "--pidfile", pidfile, NULL), 0);
    redisContext *c = client_connect(&s);
    freeReplyObject(must_cmd(c, "XADD k 1-1 f first"));
    snprintf(log2, sizeof(log2), "%s/second.log", s.dir);
    const char *args[] = {"--port", "0", "--dir", s.datadir, "--pidfile", pidfile, NULL};
    assert_int_equal(run_to_exit(args, log2, 5000), 1);
    snprintf(want, sizeof(want),
             "The data directory '%s' is in use by another Obelisk process (pid %ld)", s.datadir,
             (long)s.pid);
    assert_true(file_contains(log2, want));
    snprintf(want, sizeof(want), "%ld", (long)s.pid);
    assert_true(file_contains(pidfile, want));   /* the first server's pid file is untouched */
    redisReply *r = must_cmd(c, "XRANGE k - +"); /* the first server goes on */
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    redisFree(c);
    /* after the owner stops, the directory can be opened again */
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    r = must_cmd(c, "XLEN k");
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
    server_cleanup(&s);
    unlink(pidfile);
    rmdir(tmpl);
}

/* A listening socket on 127.0.0.1 (family AF_INET) or ::1; returns the fd, port in *port. */
static int listen_loopback(int family, int *port) {
    int fd = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof(*in6);
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static void test_ipv6_listener_is_ipv6_only(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--bind", "::", NULL), 0);
    redisContext *c6 = redisConnect("::1", s.port); /* local: protected mode lets it in */
    assert_non_null(c6);
    assert_int_equal(c6->err, 0);
    redisReply *r = redisCommand(c6, "PING");
    assert_non_null(r);
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);
    redisFree(c6);
    redisContext *c4 = redisConnect("127.0.0.1", s.port); /* as Redis: refused, not DENIED */
    assert_true(c4 == NULL || c4->err != 0);
    if (c4) redisFree(c4);
    server_cleanup(&s);
}

static void test_http_face_on_ipv6_and_its_errors(void **state) {
    (void)state;
    struct test_server s;
    int port, busy;
    int probe = listen_loopback(AF_INET, &port);
    close(probe);
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    assert_int_equal(server_start(&s, "--http-port", ps, NULL), 0);
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    a6.sin6_addr = in6addr_loopback;
    assert_int_equal(connect(s6, (struct sockaddr *)&a6, sizeof(a6)), 0);
    assert_int_equal(raw_send_str(s6, "GET /health/live HTTP/1.0\r\n\r\n"), 0);
    size_t n;
    char *got = raw_read(s6, 12, 2000, &n);
    assert_non_null(strstr(got, "200"));
    free(got);
    close(s6);
    server_cleanup(&s);
    /* a port in use: the refused server says why */
    int holder = listen_loopback(AF_INET, &busy);
    char log[400], dir[TEST_TMP_MAX], bs[16], want[200];
    test_tmp_template(dir, sizeof dir, "obelisk-http.");
    assert_non_null(mkdtemp(dir));
    snprintf(log, sizeof(log), "%s/log", dir);
    snprintf(bs, sizeof(bs), "%d", busy);
    const char *args[] = {"--port", "0", "--dir", dir, "--http-port", bs, NULL};
    assert_int_equal(run_to_exit(args, log, 5000), 1);
    snprintf(want, sizeof(want),
             "Could not create the HTTP listening socket 127.0.0.1:%d: Address already in use",
             busy);
    assert_true(file_contains(log, want));
    close(holder);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int count_in_file(const char *path, const char *text) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, text)) n++;
    fclose(f);
    return n;
}

/* CPU seconds the process used (user + system). */
static double cpu_seconds(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Out of descriptors, the listener pauses instead of spinning, and logs once a second. */
static void test_emfile_pauses_the_listener(void **state) {
    (void)state;
    /* the server runs under a wrapper that caps its descriptors at 64 (soft and hard) */
    char wrapper[TEST_TMP_MAX];
    test_tmp_template(wrapper, sizeof wrapper, "obelisk-nofile.");
    int wfd = mkstemp(wrapper);
    assert_true(wfd >= 0);
    const char *real = getenv("OBELISK_SERVER");
    char script[1024];
    int len = snprintf(script, sizeof(script), "#!/bin/sh\nulimit -n 64\nexec '%s' \"$@\"\n",
                       real ? real : "./obelisk-server");
    assert_int_equal(write(wfd, script, (size_t)len), len);
    close(wfd);
    assert_int_equal(chmod(wrapper, 0700), 0);
    char *saved = real ? strdup(real) : NULL;
    setenv("OBELISK_SERVER", wrapper, 1);
    struct test_server s;
    /* the descriptor budget keeps clients from using up the limit (maxclients gets what the
     * reserve and storage's share leave), so the process is made to run out anyway: 44
     * databases hold more directory descriptors than the share a 64-descriptor limit gives
     * storage, and accept() then fails with EMFILE */
    int started = server_start(&s, "--databases", "44", NULL);
    if (saved)
        setenv("OBELISK_SERVER", saved, 1);
    else
        unsetenv("OBELISK_SERVER");
    free(saved);
    unlink(wrapper);
    assert_int_equal(started, 0);
    int fds[70], n = 0;
    for (; n < 70; n++)
        if ((fds[n] = raw_connect(s.port)) < 0) break;
    double cpu0 = cpu_seconds(s.pid);
    sleep_ms(2500);
    double used = cpu_seconds(s.pid) - cpu0;
    int lines = count_in_file(s.logpath, "Error accepting a client connection");
    printf("# %d connections, %d log lines, %.2f s of CPU in 2.5 s\n", n, lines, used);
    assert_true(lines >= 1 && lines <= 4);
    assert_true(used < 0.5);
    for (int i = 0; i < n; i++) close(fds[i]);
    /* with descriptors back, new clients are served */
    sleep_ms(300);
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "PING");
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);
    redisFree(c);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_server_on_one_directory),
        cmocka_unit_test(test_ipv6_listener_is_ipv6_only),
        cmocka_unit_test(test_http_face_on_ipv6_and_its_errors),
        cmocka_unit_test(test_emfile_pauses_the_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
