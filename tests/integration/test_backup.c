/* test_backup.c - online backups (backup.c): BACKUP path while a writer keeps appending, then a
 * server started on the backup holds every entry acknowledged before the BACKUP and nothing torn
 * (each stream a prefix of the source's), with groups, pending entries, committed offsets, the
 * expiry and the dead-letter policy; obelisk-check finds the backup clean; sealed segments were
 * linked, the rest copied; the errors (target exists, inside the data directory, syntax) and
 * INFO persistence's backup fields; the obelisk-backup tool's output and exit status; SAVE,
 * BGSAVE and LASTSAVE in terms of these backups (backup-dir); a backup during segment rolls and
 * retention. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static void ok_cmd(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", cmd, r->str);
    freeReplyObject(r);
}

/* Appends n entries to key, pipelined. */
static void fill(redisContext *c, const char *key, int from, int n) {
    for (int i = 0; i < n; i++)
        redisAppendCommand(c, "XADD %s * n %d payload %s", key, from + i,
                           "0123456789012345678901234567890123456789012345678901234567890123");
    for (int i = 0; i < n; i++) {
        redisReply *r;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
}

/* The n fields of a stream's entries, in order, as one string. */
static char *stream_values(redisContext *c, const char *key, size_t *count) {
    redisReply *r = must_cmd(c, "XRANGE %s - +", key);
    size_t cap = 16 + r->elements * 16, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (size_t i = 0; i < r->elements; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s,",
                                r->element[i]->element[1]->element[1]->str);
    *count = r->elements;
    freeReplyObject(r);
    return out;
}

static void test_backup_under_writes_restores(void **state) {
    (void)state;
    struct test_server s, b;
    assert_int_equal(server_start(&s, "--segment-bytes", "65536", NULL), 0);
    redisContext *c = client_connect(&s), *w = client_connect(&s);
    fill(c, "a", 0, 3000);
    fill(c, "b", 0, 500);
    ok_cmd(c, "XGROUP CREATE a g 0 MAXDELIVERIES 5 DEADLETTER a:dead");
    ok_cmd(c, "XREADGROUP GROUP g c1 COUNT 7 STREAMS a >");
    ok_cmd(c, "XACK a g 0-1");
    redisReply *ids = must_cmd(c, "XRANGE a - + COUNT 3");
    char commit[64];
    snprintf(commit, sizeof commit, "XCOMMIT a g %s", ids->element[2]->element[0]->str);
    freeReplyObject(ids);
    ok_cmd(c, commit);
    ok_cmd(c, "PEXPIREAT b 4102444800123");
    char target[400];
    snprintf(target, sizeof target, "%s/backup", s.dir);
    /* the backup starts; the writer goes on while it copies */
    redisReply *r = must_cmd(c, "BACKUP %s ASYNC", target);
    assert_string_equal(r->str, "Backup started");
    freeReplyObject(r);
    fill(w, "a", 3000, 2000);
    for (int i = 0; i < 500 && info_number(c, "persistence", "backup_in_progress") != 0; i++)
        usleep(10000);
    assert_int_equal(info_number(c, "persistence", "backup_in_progress"), 0);
    long long files = info_number(c, "persistence", "backup_files_done");
    assert_true(files > 0 && files == info_number(c, "persistence", "backup_files_total"));
    assert_true(info_number(c, "persistence", "backup_files_linked") > 0); /* sealed segments */
    assert_true(info_number(c, "persistence", "backup_last_ok_time") > 0);
    r = must_cmd(c, "INFO persistence");
    assert_non_null(strstr(r->str, "backup_last_status:ok"));
    freeReplyObject(r);
    /* errors */
    r = must_cmd(c, "BACKUP %s", target);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "File exists"));
    freeReplyObject(r);
    r = must_cmd(c, "BACKUP %s/inside", s.datadir);
    assert_string_equal(r->str, "ERR the backup target must be outside the data directory");
    freeReplyObject(r);
    r = must_cmd(c, "BACKUP %s/x FOO", s.dir);
    assert_string_equal(r->str, "ERR syntax error");
    freeReplyObject(r);
    /* the blocking form answers when done */
    r = must_cmd(c, "BACKUP %s/second", s.dir);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    char marker[500];
    snprintf(marker, sizeof marker, "%s/BACKUP_COMPLETE", target);
    struct stat sb;
    assert_int_equal(stat(marker, &sb), 0);
    assert_int_equal(run_obelisk_check(target, 0), 0);
    /* a server on the backup: a prefix of each stream, holding everything before the BACKUP */
    const char *args[] = {"--dir", target, NULL};
    assert_int_equal(server_start_argv(&b, args, 0), 0);
    redisContext *bc = client_connect(&b);
    size_t na, nb, src_a, src_b;
    char *ba = stream_values(bc, "a", &na), *bb = stream_values(bc, "b", &nb);
    char *sa = stream_values(c, "a", &src_a), *sbv = stream_values(c, "b", &src_b);
    assert_true(na >= 3000 && na <= src_a);
    assert_int_equal(strncmp(ba, sa, strlen(ba)), 0); /* a prefix: nothing torn or reordered */
    assert_int_equal(nb, 500);
    assert_string_equal(bb, sbv);
    free(ba), free(bb), free(sa), free(sbv);
    r = must_cmd(bc, "XPENDING a g");
    assert_int_equal(r->element[0]->integer, 7);
    freeReplyObject(r);
    r = must_cmd(bc, "XLAG a g");
    assert_string_equal(r->element[0]->element[15]->str, "a:dead");
    freeReplyObject(r);
    r = must_cmd(bc, "PEXPIRETIME b");
    assert_int_equal(r->integer, 4102444800123LL);
    freeReplyObject(r);
    redisFree(bc);
    assert_int_equal(server_stop(&b), 0);
    server_cleanup(&b);
    redisFree(w);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* A backup taken while segments roll and retention deletes old ones: the backup's links keep
 * the files it took, obelisk-check finds it clean, and a server on it holds one contiguous run
 * of the stream (no hole, nothing torn) ending at or after the last entry acknowledged before
 * the BACKUP. */
static void test_backup_during_rolls_and_retention(void **state) {
    (void)state;
    struct test_server s, b;
    assert_int_equal(
        server_start(&s, "--segment-bytes", "65536", "--retention-bytes", "300000", NULL), 0);
    redisContext *c = client_connect(&s), *w = client_connect(&s);
    fill(c, "r", 0, 4000);
    char target[400];
    snprintf(target, sizeof target, "%s/rolls", s.dir);
    redisReply *r = must_cmd(c, "BACKUP %s ASYNC", target);
    assert_string_equal(r->str, "Backup started");
    freeReplyObject(r);
    long long segs_before = info_number(c, "obelisk", "segments");
    fill(w, "r", 4000, 6000); /* rolls */
    sleep_ms(2500);           /* retention passes (every second) delete old segments */
    for (int i = 0; i < 500 && info_number(c, "persistence", "backup_in_progress") != 0; i++)
        sleep_ms(10);
    r = must_cmd(c, "INFO persistence");
    assert_non_null(strstr(r->str, "backup_last_status:ok"));
    freeReplyObject(r);
    r = must_cmd(c, "XRANGE r - + COUNT 1");
    long long first_src = atoll(r->element[0]->element[1]->element[1]->str);
    freeReplyObject(r);
    print_message("# source: %lld segments at the backup; first entry now n=%lld\n", segs_before,
                  first_src);
    assert_true(first_src > 0); /* retention removed segments the backup had taken */
    assert_int_equal(run_obelisk_check(target, 0), 0);
    const char *args[] = {"--dir", target, NULL};
    assert_int_equal(server_start_argv(&b, args, 0), 0);
    redisContext *bc = client_connect(&b);
    r = must_cmd(bc, "XRANGE r - +");
    assert_true(r->elements > 0);
    long long prev = -1;
    for (size_t i = 0; i < r->elements; i++) {
        long long n = atoll(r->element[i]->element[1]->element[1]->str);
        if (prev >= 0) assert_int_equal(n, prev + 1); /* no hole */
        prev = n;
    }
    assert_true(prev >= 3999); /* everything acknowledged before the BACKUP */
    freeReplyObject(r);
    redisFree(bc);
    server_cleanup(&b);
    redisFree(w);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* A write whose reply waits for its sync, then BACKUP on the same connection: the backup's
 * sync point waits for that write's round and used to take the persist thread's completion
 * notice with it, so the reply stayed held until some later round completed (20-30 s under
 * load, found by bench/backup.sh). Both replies must come at once. */
static void test_sync_point_keeps_replies_moving(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--fsync", "always", NULL), 0);
    int fd = raw_connect(s.port);
    assert_true(fd >= 0);
    char cmd[600];
    char target[400];
    snprintf(target, sizeof target, "%s/sp", s.dir);
    snprintf(cmd, sizeof cmd,
             "*5\r\n$4\r\nXADD\r\n$1\r\nk\r\n$3\r\n1-1\r\n$1\r\nf\r\n$1\r\nv\r\n"
             "*3\r\n$6\r\nBACKUP\r\n$%zu\r\n%s\r\n$5\r\nASYNC\r\n",
             strlen(target), target);
    assert_int_equal(raw_send_str(fd, cmd), 0);
    const char *want = "$3\r\n1-1\r\n+Backup started\r\n";
    size_t n;
    char *got = raw_read(fd, strlen(want), 3000, &n);
    assert_string_equal(got, want);
    free(got);
    close(fd);
    server_cleanup(&s);
}

/* backup-max-bytes-per-sec paces the copies: about 1.9 MB at 1 MB/s takes over a second; the
 * backup is still whole. */
static void test_backup_pace(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--backup-max-bytes-per-sec", "1mb", NULL), 0);
    redisContext *c = client_connect(&s);
    fill(c, "p", 0, 25000); /* about 1.9 MB in the active segment: copied, not linked */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    redisReply *r = must_cmd(c, "BACKUP %s/paced", s.dir);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    long long bytes = info_number(c, "persistence", "backup_bytes_total");
    print_message("# %lld bytes in %.2f s at 1 MB/s\n", bytes, secs);
    assert_true(bytes > 1500000);
    assert_true(secs > 1.0);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/paced", s.dir);
    assert_int_equal(run_obelisk_check(dir, 0), 0);
    redisFree(c);
    server_cleanup(&s);
}

/* obelisk-backup against a running server: a plain progress line and "complete" when its
 * output is not a terminal, exit 0, a valid backup; exit 1 when the server refuses. */
static void test_backup_tool(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    fill(c, "t", 0, 1000);
    const char *bin = getenv("OBELISK_BACKUP");
    char cmd[1200], line[512], out[4096] = "";
    snprintf(cmd, sizeof cmd, "%s -p %d %s/tool-backup 2>&1", bin ? bin : "./obelisk-backup",
             s.port, s.dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) strncat(out, line, sizeof out - strlen(out) - 1);
    int status = pclose(p);
    if (status != 0) fail_msg("obelisk-backup failed: %s", out);
    assert_non_null(strstr(out, "obelisk-backup: 100% "));
    assert_non_null(strstr(out, "tool-backup complete"));
    char dir[400];
    snprintf(dir, sizeof dir, "%s/tool-backup", s.dir);
    assert_int_equal(run_obelisk_check(dir, 0), 0);
    p = popen(cmd, "r"); /* again: the target exists now */
    while (fgets(line, sizeof line, p)) {
    }
    status = pclose(p);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* The backup directories under dir (backup-*), complete ones (with BACKUP_COMPLETE). */
static int count_backups(const char *dir, char *first, size_t cap) {
    char cmd[600], line[512];
    int n = 0;
    snprintf(cmd, sizeof cmd, "ls -d %s/backup-*/BACKUP_COMPLETE 2>/dev/null | sort", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        if (n++ == 0 && first) {
            line[strcspn(line, "\n")] = '\0';
            *strrchr(line, '/') = '\0';
            snprintf(first, cap, "%s", line);
        }
    }
    pclose(p);
    return n;
}

/* Redis's SAVE, BGSAVE and LASTSAVE: refused without backup-dir (LASTSAVE then says the start
 * time); with it, SAVE waits for a backup into a new directory and BGSAVE starts one, a second
 * BGSAVE while one runs is refused with Redis's text, LASTSAVE moves, INFO's bgsave fields
 * follow, SAVE is refused inside MULTI, and a server started on a SAVE's directory holds the
 * data. */
static void test_save_bgsave_lastsave(void **state) {
    (void)state;
    struct test_server s, b;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "SAVE");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "backup-dir, which is not set"));
    freeReplyObject(r);
    r = must_cmd(c, "BGSAVE");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    long long now = (long long)time(NULL);
    r = must_cmd(c, "LASTSAVE");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer <= now && r->integer > now - 120); /* the start time */
    long long start = r->integer;
    freeReplyObject(r);
    assert_int_equal(info_number(c, "persistence", "rdb_saves"), 0);
    assert_int_equal(info_number(c, "persistence", "rdb_last_bgsave_time_sec"), -1);

    char dir[400];
    snprintf(dir, sizeof dir, "%s/backups", s.dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    r = must_cmd(c, "CONFIG SET backup-dir %s", dir);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    fill(c, "t", 0, 1000);
    sleep_ms(1100); /* LASTSAVE has a one-second grain */
    r = must_cmd(c, "SAVE");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    char first[512];
    assert_int_equal(count_backups(dir, first, sizeof first), 1);
    r = must_cmd(c, "LASTSAVE");
    assert_true(r->integer > start);
    freeReplyObject(r);
    assert_int_equal(info_number(c, "persistence", "rdb_saves"), 1);
    assert_int_equal(info_number(c, "persistence", "rdb_bgsave_in_progress"), 0);

    /* two BGSAVEs in one write: the first starts, the second finds it running */
    redisAppendCommand(c, "BGSAVE");
    redisAppendCommand(c, "BGSAVE SCHEDULE");
    assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    assert_string_equal(r->str, "Background saving started");
    freeReplyObject(r);
    assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_string_equal(r->str, "ERR Background save already in progress");
    freeReplyObject(r);
    for (int i = 0; i < 200 && info_number(c, "persistence", "rdb_bgsave_in_progress"); i++)
        sleep_ms(50);
    assert_int_equal(info_number(c, "persistence", "rdb_saves"), 2);
    assert_true(info_number(c, "persistence", "rdb_last_bgsave_time_sec") >= 0);
    assert_int_equal(count_backups(dir, NULL, 0), 2);
    r = must_cmd(c, "BGSAVE NOW");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    ok_cmd(c, "MULTI");
    r = must_cmd(c, "SAVE");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_string_equal(r->str, "ERR Command not allowed inside a transaction");
    freeReplyObject(r);
    ok_cmd(c, "DISCARD");

    /* the first SAVE's directory is a data directory with the 1,000 entries */
    assert_int_equal(run_obelisk_check(first, 0), 0);
    const char *args[] = {"--dir", first, NULL};
    assert_int_equal(server_start_argv(&b, args, 0), 0);
    redisContext *bc = client_connect(&b);
    r = must_cmd(bc, "XLEN t");
    assert_int_equal(r->integer, 1000);
    freeReplyObject(r);
    redisFree(bc);
    server_cleanup(&b);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_under_writes_restores),
        cmocka_unit_test(test_backup_during_rolls_and_retention),
        cmocka_unit_test(test_sync_point_keeps_replies_moving),
        cmocka_unit_test(test_backup_pace),
        cmocka_unit_test(test_backup_tool),
        cmocka_unit_test(test_save_bgsave_lastsave),
    };
    return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
