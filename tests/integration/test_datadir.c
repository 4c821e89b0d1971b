/* test_datadir.c - the data directory as an operator sees it: a first start in a new directory
 * is a fresh start (log, INFO, /health and /metrics), not a recovery after an unclean stop,
 * while a crash and a clean stop are still told apart; a symbolic link where the server opens
 * a database, topic or file (it follows none) stops the start with the entry named; every
 * directory the server creates is 0700 and every file 0600 (under a umask of 022). */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* The answer to GET path (headers and body; caller frees). */
static char *http_get(int port, const char *path) {
    int fd = raw_connect(port);
    assert_true(fd >= 0);
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    raw_send_str(fd, req);
    size_t len;
    char *a = raw_read(fd, 1 << 22, 5000, &len);
    close(fd);
    assert_non_null(a);
    return a;
}

/* What the server says about its last start: the INFO field, /health and /metrics agree. */
static void expect_clean_start(const struct test_server *s, int http_port, int clean) {
    redisContext *c = client_connect(s);
    redisReply *r = must_cmd(c, "INFO obelisk");
    assert_non_null(strstr(r->str, clean ? "recovery_clean:1" : "recovery_clean:0"));
    freeReplyObject(r);
    redisFree(c);
    char *a = http_get(http_port, "/health");
    assert_non_null(strstr(a, clean ? "\"clean_start\":true" : "\"clean_start\":false"));
    free(a);
    a = http_get(http_port, "/metrics");
    assert_non_null(strstr(a, clean ? "\nobelisk_recovery_clean 1" : "\nobelisk_recovery_clean 0"));
    free(a);
}

static void test_new_directory_is_a_fresh_start(void **state) {
    (void)state;
    struct test_server s;
    char ps[16];
    int port = harness_free_port();
    snprintf(ps, sizeof(ps), "%d", port);
    const char *argv[] = {"--http-port", ps, NULL};
    assert_int_equal(server_start_argv(&s, argv, 0), 0);
    assert_true(server_log_contains(&s, "new data directory"));
    assert_false(server_log_contains(&s, "unclean"));
    expect_clean_start(&s, port, 1);
    redisContext *c = client_connect(&s);
    freeReplyObject(must_cmd(c, "XADD k 1-1 f v"));
    redisFree(c);
    /* a crash is still a recovery */
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, argv, 1), 0);
    assert_true(server_log_contains(&s, "recovered after an unclean stop"));
    expect_clean_start(&s, port, 0);
    /* and a clean stop a clean start */
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(server_start_argv(&s, argv, 1), 0);
    assert_true(server_log_contains(&s, "(1 topics, clean shutdown)"));
    expect_clean_start(&s, port, 1);
    server_cleanup(&s);
}

/* Moves datadir/rel out of the data directory and puts a symbolic link to it in its place, or
 * undoes that (back = 1). */
static void swap_link(const struct test_server *s, const char *rel, int back) {
    char at[700], away[700];
    snprintf(at, sizeof at, "%s/%s", s->datadir, rel);
    snprintf(away, sizeof away, "%s/moved", s->dir);
    if (!back) {
        assert_int_equal(rename(at, away), 0);
        assert_int_equal(symlink(away, at), 0);
    } else {
        assert_int_equal(unlink(at), 0);
        assert_int_equal(rename(away, at), 0);
    }
}

/* The start fails, and its log names rel as a symbolic link. */
static void expect_refused(struct test_server *s, const char *rel) {
    char want[300];
    assert_int_not_equal(server_start_argv(s, NULL, 1), 0);
    snprintf(want, sizeof want, "%s is a symbolic link", rel);
    if (!server_log_contains(s, want)) fail_msg("the log does not say \"%s\"", want);
}

static void test_symlink_is_named(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    freeReplyObject(must_cmd(c, "XADD k 1-1 f v"));
    freeReplyObject(must_cmd(c, "XADD k2 1-1 f v"));
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    static const char *const rels[] = {"db0/t_6b", "db0/t_6b32/00000000000000000000.log", "db0",
                                       "db0/t_6b/groups.log"};
    c = NULL;
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++) {
        if (i == 3) { /* a topic with consumer groups */
            assert_int_equal(server_start_argv(&s, NULL, 1), 0);
            c = client_connect(&s);
            freeReplyObject(must_cmd(c, "XGROUP CREATE k g 0"));
            redisFree(c);
            assert_int_equal(server_stop(&s), 0);
        }
        swap_link(&s, rels[i], 0);
        expect_refused(&s, rels[i]);
        swap_link(&s, rels[i], 1);
    }
    /* the links gone, the data is all there */
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    redisReply *r = must_cmd(c, "DBSIZE");
    assert_int_equal(r->integer, 2);
    freeReplyObject(r);
    redisFree(c);
    server_cleanup(&s);
}

/* Every entry under path: directories 0700, files 0600. Returns how many were checked. */
static int check_modes(const char *path) {
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[1200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        assert_int_equal(lstat(p, &st), 0);
        unsigned want = S_ISDIR(st.st_mode) ? 0700 : 0600;
        if ((st.st_mode & 0777) != want)
            fail_msg("%s has mode %03o, not %03o", p, st.st_mode & 0777, want);
        n++;
        if (S_ISDIR(st.st_mode)) n += check_modes(p);
    }
    closedir(d);
    return n;
}

static void test_files_are_private(void **state) {
    (void)state;
    struct test_server s;
    mode_t old = umask(022); /* the usual umask: the server must not rely on a stricter one */
    assert_int_equal(server_start(&s, "--segment-bytes", "64kb", NULL), 0);
    redisContext *c = client_connect(&s);
    static char big[20000];
    memset(big, 'x', sizeof big - 1);
    for (int i = 1; i <= 8; i++) /* about 160 KB: three segments */
        freeReplyObject(must_cmd(c, "XADD k %d-1 field %s", i, big));
    freeReplyObject(must_cmd(c, "XGROUP CREATE k g 0"));
    freeReplyObject(must_cmd(c, "XREADGROUP GROUP g c COUNT 3 STREAMS k >"));
    freeReplyObject(must_cmd(c, "XRETENTION k BYTES 1000000"));
    freeReplyObject(must_cmd(c, "DEL gone"));
    redisFree(c);
    struct stat st;
    assert_int_equal(stat(s.datadir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* running: segments, indexes, topic.meta, groups.log, LOCK, OBELISK */
    int running = check_modes(s.datadir);
    /* a crash, then a start that scans and rewrites indexes and checkpoints */
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    /* a clean stop: checkpoints, group snapshots, the clean-shutdown marker */
    assert_int_equal(server_stop(&s), 0);
    int stopped = check_modes(s.datadir);
    printf("# %d entries checked while running, %d after the stop\n", running, stopped);
    assert_true(running >= 20 && stopped >= 20);
    umask(old);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_directory_is_a_fresh_start),
        cmocka_unit_test(test_symlink_is_named),
        cmocka_unit_test(test_files_are_private),
    };
    return cmocka_run_group_tests_name("datadir", tests, NULL, NULL);
}
