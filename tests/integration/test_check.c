/* test_check.c - obelisk-check as an operator meets it: --repair refuses a data directory a
 * running server (or any holder of its lock) owns, and names the holder's pid (exit 5); a plain
 * check of a directory in use says so and that its findings may be stale; once the owner is
 * gone both run as before. A torn tail left by a crash (segment or groups.log) is reported as
 * cut by the server at its next start (exit 4, not "damaged"), and the start does cut it with
 * every acknowledged entry kept; a bad last batch after a clean stop, which the clean start does
 * not read, is damage (exit 2). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "tmpname.h"

#define EXIT_CLEAN   0
#define EXIT_DAMAGED 2
#define EXIT_TORN    4
#define EXIT_IN_USE  5

/* Runs obelisk-check with args (NULL-terminated), stdout and stderr into out (malloc'd, NUL
 * ended); returns the exit status (-1 when it did not exit normally). */
static int run_check(char **out, const char *const *args) {
    const char *bin = getenv("OBELISK_CHECK");
    const char *argv[16] = {bin ? bin : "./obelisk-check"};
    int n = 1;
    for (; args[n - 1] && n < 15; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    char path[TEST_TMP_MAX];
    test_tmp_template(path, sizeof path, "obelisk-check-out.");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    off_t len = lseek(fd, 0, SEEK_END);
    *out = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fd, *out, (size_t)len, 0), len);
    close(fd);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_text(const char *out, const char *text) {
    if (!strstr(out, text)) fail_msg("obelisk-check output lacks \"%s\":\n%s", text, out);
}

/* A stream written and acknowledged, then the server stopped (a directory that checks clean). */
static void make_data(struct test_server *s) {
    assert_int_equal(server_start(s, NULL), 0);
    redisContext *c = client_connect(s);
    for (int i = 1; i <= 5; i++) freeReplyObject(must_cmd(c, "XADD k %d-1 f v%d", i, i));
    redisFree(c);
}

static void test_repair_refuses_a_live_server(void **state) {
    (void)state;
    struct test_server s;
    char *out, want[200];
    make_data(&s);
    const char *repair[] = {s.datadir, "--repair", NULL};
    assert_int_equal(run_check(&out, repair), EXIT_IN_USE);
    snprintf(want, sizeof want, "in use by another process (pid %ld", (long)s.pid);
    expect_text(out, want);
    expect_text(out, "--repair refused");
    free(out);
    /* a plain check runs, and says its findings may be stale */
    const char *plain[] = {s.datadir, NULL};
    assert_int_equal(run_check(&out, plain), EXIT_CLEAN);
    expect_text(out, want);
    expect_text(out, "findings may be stale");
    free(out);
    /* the server was not disturbed */
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "XLEN k");
    assert_int_equal(r->integer, 5);
    freeReplyObject(r);
    redisFree(c);
    /* stopped, the directory is the check's: no warning, and a repair runs */
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(run_check(&out, plain), EXIT_CLEAN);
    assert_null(strstr(out, "in use"));
    free(out);
    assert_int_equal(run_check(&out, repair), EXIT_CLEAN);
    assert_null(strstr(out, "in use"));
    free(out);
    server_cleanup(&s);
}

/* Whoever holds the lock (here this test, as a server or another repair would), --repair
 * refuses at once and names the holder; released, the repair runs. */
static void test_repair_refuses_any_holder(void **state) {
    (void)state;
    struct test_server s;
    char *out, want[200], lock[400];
    make_data(&s);
    assert_int_equal(server_stop(&s), 0);
    snprintf(lock, sizeof lock, "%s/LOCK", s.datadir);
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, pid, (size_t)n, 0), n);
    const char *repair[] = {s.datadir, "--repair", NULL};
    assert_int_equal(run_check(&out, repair), EXIT_IN_USE);
    snprintf(want, sizeof want, "in use by another process (pid %ld", (long)getpid());
    expect_text(out, want);
    free(out);
    close(fd); /* released */
    assert_int_equal(run_check(&out, repair), EXIT_CLEAN);
    free(out);
    server_cleanup(&s);
}

/* Appends what a write cut short leaves: a batch length promising more than follows. */
static void append_torn(const struct test_server *s, const char *file) {
    char path[600];
    snprintf(path, sizeof path, "%s/db0/t_6b/%s", s->datadir, file);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    uint8_t torn[24] = {200, 0, 0, 0}; /* length 200, then only 20 bytes */
    for (int i = 4; i < 24; i++) torn[i] = (uint8_t)(i * 37);
    assert_int_equal(write(fd, torn, sizeof torn), (ssize_t)sizeof torn);
    close(fd);
}

static void test_torn_tail_is_cut_at_start(void **state) {
    (void)state;
    struct test_server s;
    char *out;
    make_data(&s);
    redisContext *c = client_connect(&s);
    freeReplyObject(must_cmd(c, "XGROUP CREATE k g 0"));
    freeReplyObject(must_cmd(c, "XREADGROUP GROUP g c COUNT 2 STREAMS k >"));
    redisFree(c);
    server_kill(&s); /* a crash: no clean-shutdown marker */
    append_torn(&s, "00000000000000000000.log");
    const char *plain[] = {s.datadir, NULL};
    assert_int_equal(run_check(&out, plain), EXIT_TORN);
    expect_text(out, "bytes of torn or bad tail (the server cuts it at start)");
    expect_text(out, "result: torn tails only");
    free(out);
    append_torn(&s, "groups.log");
    assert_int_equal(run_check(&out, plain), EXIT_TORN);
    expect_text(out, "groups.log: 24 bytes of torn or bad tail");
    free(out);
    /* the start cuts both, and every acknowledged entry and delivery is there */
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    assert_true(server_log_contains(&s, "torn or bad tail"));
    c = client_connect(&s);
    redisReply *r = must_cmd(c, "XLEN k");
    assert_int_equal(r->integer, 5);
    freeReplyObject(r);
    r = must_cmd(c, "XPENDING k g");
    assert_int_equal(r->element[0]->integer, 2);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(run_check(&out, plain), EXIT_CLEAN);
    free(out);
    /* after a clean stop, bytes past the recorded size are still cut at start */
    append_torn(&s, "00000000000000000000.log");
    assert_int_equal(run_check(&out, plain), EXIT_TORN);
    free(out);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    assert_int_equal(server_stop(&s), 0);
    /* but a byte changed in the last batch keeps the size: the clean start reads no batch, so
     * that is damage for --repair */
    char path[600];
    snprintf(path, sizeof path, "%s/db0/t_6b/00000000000000000000.log", s.datadir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, end - 3), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, end - 3), 1);
    close(fd);
    assert_int_equal(run_check(&out, plain), EXIT_DAMAGED);
    expect_text(out, "(not scanned by the clean start: --repair cuts it)");
    free(out);
    server_cleanup(&s);
}

/* After a crash the write-ahead log holds writes the segment may lack: a plain check reports
 * the log's records, and --repair writes them back into the segment before it checks (it never
 * cuts what the log restores); every acknowledged entry is there at the next start. */
static void test_repair_replays_the_log_first(void **state) {
    (void)state;
    struct test_server s;
    char *out;
    make_data(&s);
    server_kill(&s);
    /* what a power cut leaves of a segment nothing synced since it was created */
    char path[600];
    snprintf(path, sizeof path, "%s/db0/t_6b/00000000000000000000.log", s.datadir);
    assert_int_equal(truncate(path, 48), 0);
    const char *plain[] = {s.datadir, NULL};
    run_check(&out, plain);
    expect_text(out, "since its checkpoint: the next start (or --repair) writes them");
    free(out);
    const char *repair[] = {"--repair", s.datadir, NULL};
    assert_int_equal(run_check(&out, repair), EXIT_CLEAN);
    expect_text(out, "records written again into 1 topics");
    free(out);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 48);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "XLEN k");
    assert_int_equal(r->integer, 5);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repair_refuses_a_live_server),
        cmocka_unit_test(test_repair_refuses_any_holder),
        cmocka_unit_test(test_torn_tail_is_cut_at_start),
        cmocka_unit_test(test_repair_replays_the_log_first),
    };
    return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
