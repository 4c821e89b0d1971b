/* test_hardening.c - operator mistakes and resource limits that must not lose data: a second
 * server on a data directory in use is refused (named directory and holder pid, exit code 1,
 * the first server's pid file untouched) and the first keeps serving what it acknowledged. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

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
    char tmpl[] = "/tmp/obelisk-pid.XXXXXX";
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_server_on_one_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
