/* test_descriptors.c - the descriptor budget: clients cannot use up the descriptors storage
 * needs, storage keeps within its share (max-open-files-storage) by closing idle segment
 * descriptors, and running out is a retryable error, never an I/O error of the store.
 *
 * The servers run under a wrapper script that sets the descriptor limit (ulimit -n) and then
 * execs the server, so the pid the harness waits for is the server's. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "tmpname.h"

#define VALUE_LEN 2000

/* Starts a server whose descriptor limit is nofile (0: as inherited). */
static int start_capped(struct test_server *s, int nofile, const char *const *extra,
                        int reuse_dir) {
    char wrapper[TEST_TMP_MAX];
    test_tmp_template(wrapper, sizeof wrapper, "obelisk-nofile.");
    int wfd = mkstemp(wrapper);
    assert_true(wfd >= 0);
    const char *real = getenv("OBELISK_SERVER");
    char script[1024];
    int len = snprintf(script, sizeof(script), "#!/bin/sh\n%s%d\nexec '%s' \"$@\"\n",
                       nofile ? "ulimit -n " : "true ", nofile, real ? real : "./obelisk-server");
    assert_int_equal(write(wfd, script, (size_t)len), len);
    close(wfd);
    assert_int_equal(chmod(wrapper, 0700), 0);
    char *saved = real ? strdup(real) : NULL;
    setenv("OBELISK_SERVER", wrapper, 1);
    int rc = server_start_argv(s, extra, reuse_dir);
    if (saved)
        setenv("OBELISK_SERVER", saved, 1);
    else
        unsetenv("OBELISK_SERVER");
    free(saved);
    unlink(wrapper);
    return rc;
}

/* Descriptors the server process holds now. */
static int open_fds(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static long long config_int(redisContext *c, const char *name) {
    redisReply *r = must_cmd(c, "CONFIG GET %s", name);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    long long v = atoll(r->element[1]->str);
    freeReplyObject(r);
    return v;
}

/* The value stored under entry i of stream k: its own bytes, so a read of the wrong entry or
 * segment shows. */
static void value_of(int k, int i, char *buf) {
    for (int j = 0; j < VALUE_LEN; j++) buf[j] = (char)('a' + (k * 7 + i * 13 + j) % 26);
    buf[VALUE_LEN] = '\0';
}

/* Appends entries [from, to) to stream k with IDs <i+1>-<k> ... returns 0, or -1 with the
 * first error reply printed. */
static int fill(redisContext *c, int k, int from, int to) {
    char key[32], value[VALUE_LEN + 1];
    snprintf(key, sizeof(key), "s%d", k);
    for (int i = from; i < to; i++) {
        value_of(k, i, value);
        redisReply *r = client_cmd(c, "XADD %s %d-1 v %s", key, i + 1, value);
        if (!r || r->type != REDIS_REPLY_STRING) {
            printf("# XADD %s entry %d: %s\n", key, i, r && r->str ? r->str : "no reply");
            if (r) freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

/* Reads stream k back (forward, or backward) and checks all n entries. */
static void check_stream(redisContext *c, int k, int n, int rev) {
    char key[32], value[VALUE_LEN + 1];
    snprintf(key, sizeof(key), "s%d", k);
    redisReply *r = rev ? must_cmd(c, "XREVRANGE %s + -", key) : must_cmd(c, "XRANGE %s - +", key);
    if (r->type != REDIS_REPLY_ARRAY) printf("# read %s: %s\n", key, r->str ? r->str : "?");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, (size_t)n);
    for (int j = 0; j < n; j++) {
        int i = rev ? n - 1 - j : j;
        redisReply *e = r->element[j];
        char id[32];
        snprintf(id, sizeof(id), "%d-1", i + 1);
        assert_string_equal(e->element[0]->str, id);
        value_of(k, i, value);
        assert_string_equal(e->element[1]->element[1]->str, value);
    }
    freeReplyObject(r);
}

/* The reported defect: with 256 descriptors, 20 streams and 180 idle clients, a new stream
 * answered "input/output error", a segment roll failed with "Too many open files", the store
 * went sticky and the server exited 1. Now the clients get what storage does not need (some of
 * the 180 are refused with Redis's max-clients error), and the new stream, the rolls, the reads
 * and the clean shutdown all work. */
static void test_clients_cannot_take_storage_descriptors(void **state) {
    (void)state;
    struct test_server s;
    const char *args[] = {"--segment-bytes", "64kb", "--cache-max-bytes", "1mb", NULL};
    assert_int_equal(start_capped(&s, 256, args, 0), 0);
    redisContext *c = client_connect(&s);
    for (int k = 0; k < 20; k++) assert_int_equal(fill(c, k, 0, 40), 0);
    int idle[180], accepted = 0, refused = 0;
    for (int i = 0; i < 180; i++) idle[i] = raw_connect(s.port);
    sleep_ms(300); /* the server has accepted or refused them all */
    for (int i = 0; i < 180; i++) {
        if (idle[i] < 0) continue;
        size_t len = 0;
        char *got = raw_read(idle[i], 40, 5, &len);
        if (got && strstr(got, "max number of clients reached"))
            refused++;
        else
            accepted++;
        free(got);
    }
    long long maxclients = config_int(c, "maxclients");
    printf("# maxclients %lld: %d idle clients accepted, %d refused\n", maxclients, accepted,
           refused);
    assert_true(maxclients < 256 - 32);
    assert_true(accepted <= maxclients);
    assert_true(server_log_contains(&s, "maxclients has been reduced to"));
    /* a new stream, then enough entries everywhere to roll every stream's segment again */
    assert_int_equal(fill(c, 20, 0, 40), 0);
    for (int k = 0; k <= 20; k++) assert_int_equal(fill(c, k, 40, 80), 0);
    redisReply *r = must_cmd(c, "PING");
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);
    for (int k = 0; k <= 20; k++) check_stream(c, k, 80, k % 2);
    /* 21 streams writing a segment, its index and more than the write share holds: the persist
     * thread closed and reopened write descriptors on the way */
    long long wev = info_number(c, "obelisk", "storage_write_fd_evictions");
    printf("# %lld write descriptors closed to stay within the share\n", wev);
    assert_true(wev > 0);
    assert_int_equal(info_number(c, "obelisk", "storage_open_files_max"), 112);
    for (int i = 0; i < 180; i++)
        if (idle[i] >= 0) close(idle[i]);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    assert_true(server_log_contains(&s, "clean shutdown marker written"));
    /* and it all comes back under the same limit */
    assert_int_equal(start_capped(&s, 256, args, 1), 0);
    c = client_connect(&s);
    for (int k = 0; k <= 20; k++) check_stream(c, k, 80, 0);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* With storage's share used up by stream directories, a new stream is refused with a clear,
 * retryable error; nothing goes sticky (the existing streams still take writes), and once a
 * stream is deleted the same XADD works. */
static void test_new_stream_refused_then_retried(void **state) {
    (void)state;
    struct test_server s;
    const char *args[] = {"--max-open-files-storage", "60", NULL};
    assert_int_equal(start_capped(&s, 0, args, 0), 0);
    redisContext *c = client_connect(&s);
    int created = 0, refused = 0;
    for (int k = 0; k < 60; k++) {
        redisReply *r = client_cmd(c, "XADD s%d 1-1 v x", k);
        assert_non_null(r);
        if (r->type == REDIS_REPLY_STRING) {
            assert_int_equal(refused, 0); /* refusals come only once the share is used up */
            created++;
        } else {
            assert_int_equal(r->type, REDIS_REPLY_ERROR);
            assert_true(strncmp(r->str, "ERR too many open files", 23) == 0);
            refused++;
        }
        freeReplyObject(r);
    }
    printf("# %d streams created, %d refused\n", created, refused);
    assert_true(created >= 10 && refused > 0);
    assert_true(info_number(c, "obelisk", "storage_open_files_refusals") >= refused);
    /* not sticky: the existing streams take writes and the server stays up */
    redisReply *r = must_cmd(c, "XADD s0 2-1 v y");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    /* retryable: after a DEL the directory's descriptor comes back */
    r = must_cmd(c, "DEL s1");
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        r = must_cmd(c, "XADD fresh 1-1 v z");
        ok = r->type == REDIS_REPLY_STRING;
        freeReplyObject(r);
        if (!ok) sleep_ms(20);
    }
    assert_true(ok);
    /* the share cannot go below what the open streams need */
    r = must_cmd(c, "CONFIG SET max-open-files-storage 40");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    assert_int_equal(config_int(c, "max-open-files-storage"), 60);
    /* a larger share makes room for more */
    r = must_cmd(c, "CONFIG SET max-open-files-storage 200");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    r = must_cmd(c, "XADD s59 1-1 v x");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* Many streams with rolled segments under a small share: reads go to the disk (a 1 MB cache),
 * the read descriptors of sealed segments are closed and opened again as reads move between
 * streams, every entry reads back right, and the process never holds more descriptors than its
 * budget; after a restart too (recovery opens segments one at a time). */
static void test_reads_while_descriptors_churn(void **state) {
    (void)state;
    struct test_server s;
    const char *args[] = {"--max-open-files-storage",
                          "48",
                          "--segment-bytes",
                          "64kb",
                          "--cache-max-bytes",
                          "1mb",
                          "--databases",
                          "4",
                          "--maxclients",
                          "16",
                          NULL};
    const int streams = 12, entries = 150;
    assert_int_equal(start_capped(&s, 0, args, 0), 0);
    redisContext *c = client_connect(&s);
    for (int k = 0; k < streams; k++) assert_int_equal(fill(c, k, 0, entries), 0);
    int budget = 48 + 32 + 16, most = 0;
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < streams; k++) {
            check_stream(c, k, entries, (round + k) % 2);
            int n = open_fds(s.pid);
            if (n > most) most = n;
        }
    long long evictions = info_number(c, "obelisk", "storage_read_fd_evictions");
    printf("# at most %d descriptors open (budget %d), %lld read descriptors closed\n", most,
           budget, evictions);
    assert_true(most <= budget);
    assert_true(evictions > 0);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(start_capped(&s, 0, args, 1), 0);
    c = client_connect(&s);
    assert_true(open_fds(s.pid) <= budget);
    for (int k = 0; k < streams; k++) check_stream(c, k, entries, k % 2);
    assert_true(open_fds(s.pid) <= budget);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clients_cannot_take_storage_descriptors),
        cmocka_unit_test(test_new_stream_refused_then_retried),
        cmocka_unit_test(test_reads_while_descriptors_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
