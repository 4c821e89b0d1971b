/* test_wal.c - the write-ahead log alone: records come back in order with their fields across
 * file rolls and reopenings; a tail torn at any byte ends the log at the last whole record;
 * a bad record before the last file is damage (refused, or cut by a repair); a checkpoint frees
 * files for reuse and their old records are never replayed; a failing fdatasync is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/wal.h"
#include "tmpname.h"

#define FILE_BYTES 4096

static char dir[256];
static int dfd = -1;

static int setup(void **state) {
    (void)state;
    test_tmp_template(dir, sizeof(dir), "obelisk-wal.");
    if (!mkdtemp(dir)) return -1;
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    return dfd >= 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    close(dfd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Record i: a batch of topic i % 7 in db i % 3 with a payload of (i * 37) % 300 bytes. */
static void make_rec(int i, struct wal_rec *r, uint8_t *payload) {
    uint32_t len = (uint32_t)((i * 37) % 300);
    for (uint32_t k = 0; k < len; k++) payload[k] = (uint8_t)(i + k);
    *r = (struct wal_rec){.type = WAL_REC_WRITE,
                          .db = (uint16_t)(i % 3),
                          .topic = (uint64_t)(i % 7),
                          .aux1 = (uint64_t)i,
                          .aux2 = (uint64_t)i * 2,
                          .payload = payload,
                          .len = len};
}

struct seen {
    int n, first;
    uint64_t last_lsn;
};

static int check_cb(void *ctx, const struct wal_rec *r) {
    struct seen *s = ctx;
    struct wal_rec want;
    uint8_t payload[300];
    make_rec(s->first + s->n, &want, payload);
    assert_int_equal(r->type, want.type);
    assert_int_equal(r->db, want.db);
    assert_int_equal(r->topic, want.topic);
    assert_int_equal(r->aux1, want.aux1);
    assert_int_equal(r->aux2, want.aux2);
    assert_int_equal(r->len, want.len);
    if (r->len) assert_memory_equal(r->payload, payload, r->len);
    assert_true(s->n == 0 || r->lsn > s->last_lsn);
    s->last_lsn = r->lsn;
    s->n++;
    return OBK_OK;
}

/* Appends records [from, to) and syncs; returns the writer's end. */
static uint64_t append_range(struct wal *w, int from, int to) {
    for (int i = from; i < to; i++) {
        struct wal_rec r;
        uint8_t payload[300];
        make_rec(i, &r, payload);
        assert_int_equal(wal_append(w, &r), OBK_OK);
        if (i % 5 == 4) assert_int_equal(wal_write(w), OBK_OK); /* several records a write */
    }
    assert_int_equal(wal_write(w), OBK_OK);
    assert_int_equal(wal_sync(w), OBK_OK);
    return wal_end_lsn(w);
}

static struct wal *open_at_end(struct wal_scan_report *rep) {
    struct wal_config cfg = {FILE_BYTES, NULL};
    struct wal *w = NULL;
    assert_int_equal(wal_open(dfd, &cfg, rep, &w), OBK_OK);
    return w;
}

static int count_files(void) {
    char p[300];
    snprintf(p, sizeof(p), "%s/%s", dir, WAL_DIR_NAME);
    DIR *d = opendir(p);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += strncmp(de->d_name, "wal-", 4) == 0;
    if (d) closedir(d);
    return n;
}

static void test_records_across_rolls_and_reopen(void **state) {
    (void)state;
    struct wal_scan_report rep;
    assert_int_equal(wal_scan(dfd, 0, check_cb, &(struct seen){0}, &rep), OBK_OK); /* no log */
    assert_int_equal(rep.end_lsn, 0);
    struct wal *w = open_at_end(&rep);
    uint64_t end = append_range(w, 0, 60); /* about 10 KB: three or four files */
    wal_close(w);
    struct seen s = {0, 0, 0};
    assert_int_equal(wal_scan(dfd, 0, check_cb, &s, &rep), OBK_OK);
    assert_int_equal(s.n, 60);
    assert_int_equal(rep.end_lsn, end);
    assert_false(rep.damaged);
    assert_true(count_files() >= 3);
    w = open_at_end(&rep);
    /* it appends at the end, or after an EOF record when too little room is left there */
    assert_true(wal_end_lsn(w) == end || wal_end_lsn(w) == end + WAL_REC_HEADER_SIZE);
    end = append_range(w, 60, 100);
    wal_close(w);
    s = (struct seen){0, 0, 0};
    assert_int_equal(wal_scan(dfd, 0, check_cb, &s, &rep), OBK_OK);
    assert_int_equal(s.n, 100);
    assert_int_equal(rep.end_lsn, end);
}

/* Path of the file holding lsn (the last file whose first LSN is not above it). */
static void file_of(uint64_t lsn, char *out, size_t cap) {
    char p[300];
    snprintf(p, sizeof(p), "%s/%s", dir, WAL_DIR_NAME);
    DIR *d = opendir(p);
    unsigned long long best = 0, v;
    for (struct dirent *de; (de = readdir(d));)
        if (sscanf(de->d_name, "wal-%16llx.log", &v) == 1 && v <= lsn && v >= best) best = v;
    closedir(d);
    snprintf(out, cap, "%s/wal-%016llx.log", p, best);
}

static void test_torn_tail_at_every_byte(void **state) {
    (void)state;
    struct wal_scan_report rep;
    struct wal *w = open_at_end(&(struct wal_scan_report){0});
    append_range(w, 0, 20);
    uint64_t last_start = wal_end_lsn(w);
    uint64_t end = append_range(w, 20, 21); /* record 20: (20 * 37) % 300 = 140 payload bytes */
    wal_close(w);
    char path[400];
    file_of(last_start, path, sizeof(path));
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    /* the file position of the last record: header + (lsn - first lsn of the file) */
    unsigned long long first;
    assert_int_equal(sscanf(strrchr(path, '/') + 1, "wal-%16llx.log", &first), 1);
    off_t pos = (off_t)(WAL_FILE_HEADER_SIZE + last_start - first);
    size_t len = (size_t)(end - last_start);
    uint8_t *orig = malloc(len);
    assert_int_equal(pread(fd, orig, len, pos), (ssize_t)len);
    for (size_t cut = 0; cut < len; cut++) {
        for (int mode = 0; mode < 2; mode++) { /* zeros (never written) or garbage */
            uint8_t *bad = malloc(len);
            memcpy(bad, orig, len);
            for (size_t k = cut; k < len; k++) bad[k] = mode ? (uint8_t)(bad[k] ^ 0x5a) : 0;
            assert_int_equal(pwrite(fd, bad, len, pos), (ssize_t)len);
            struct seen s = {0, 0, 0};
            assert_int_equal(wal_scan(dfd, 0, check_cb, &s, &rep), OBK_OK);
            assert_int_equal(s.n, 20);
            assert_int_equal(rep.end_lsn, last_start);
            assert_false(rep.damaged);
            free(bad);
        }
    }
    assert_int_equal(pwrite(fd, orig, len, pos), (ssize_t)len);
    close(fd);
    free(orig);
    /* whole again, and a writer reopened at a torn end overwrites the torn bytes */
    struct seen s = {0, 0, 0};
    assert_int_equal(wal_scan(dfd, 0, check_cb, &s, &rep), OBK_OK);
    assert_int_equal(s.n, 21);
}

static void test_damage_before_the_last_file(void **state) {
    (void)state;
    struct wal_scan_report rep;
    struct wal *w = open_at_end(&(struct wal_scan_report){0});
    append_range(w, 0, 3);
    uint64_t victim = wal_end_lsn(w);
    append_range(w, 3, 60); /* later files follow */
    wal_close(w);
    char path[400];
    file_of(victim, path, sizeof(path));
    unsigned long long first;
    assert_int_equal(sscanf(strrchr(path, '/') + 1, "wal-%16llx.log", &first), 1);
    int fd = open(path, O_RDWR);
    uint8_t b;
    off_t pos = (off_t)(WAL_FILE_HEADER_SIZE + victim - first + 20); /* inside record 3 */
    assert_int_equal(pread(fd, &b, 1, pos), 1);
    b ^= 1;
    assert_int_equal(pwrite(fd, &b, 1, pos), 1);
    close(fd);
    struct seen s = {0, 0, 0};
    assert_int_equal(wal_scan(dfd, 0, check_cb, &s, &rep), OBK_ERR_DAMAGED);
    assert_true(rep.damaged);
    assert_non_null(strstr(rep.damage, "bad record"));
    s = (struct seen){0, 0, 0};
    assert_int_equal(wal_scan(dfd, 1, check_cb, &s, &rep), OBK_OK); /* repair: ends there */
    assert_int_equal(s.n, 3);
    assert_int_equal(rep.end_lsn, victim);
    /* a writer reopened there goes on from the cut, and the log reads clean */
    w = open_at_end(&rep);
    append_range(w, 3, 10);
    wal_close(w);
    s = (struct seen){0, 0, 0};
    assert_int_equal(wal_scan(dfd, 0, check_cb, &s, &rep), OBK_OK);
    assert_int_equal(s.n, 10);
}

static void test_checkpoint_reuses_files(void **state) {
    (void)state;
    struct wal_scan_report rep;
    struct wal *w = open_at_end(&(struct wal_scan_report){0});
    append_range(w, 0, 60);
    int files = count_files();
    uint64_t ck = wal_end_lsn(w);
    assert_int_equal(wal_checkpoint(w, ck), OBK_OK);
    assert_int_equal(wal_start_lsn(w), ck);
    assert_int_equal(wal_pending_bytes(w), 0);
    /* as many records again: the freed files are reused (renamed) before any is created */
    append_range(w, 60, 120);
    char first[400];
    snprintf(first, sizeof(first), "%s/%s/wal-%016x.log", dir, WAL_DIR_NAME, 0);
    assert_int_not_equal(access(first, F_OK), 0); /* the first file took a new name */
    print_message("# %d files before the checkpoint, %d after as much again\n", files,
                  count_files());
    assert_true(count_files() <= files + 3);
    wal_close(w);
    struct seen s = {0, 60, 0};
    assert_int_equal(wal_scan(dfd, 0, check_cb, &s, &rep), OBK_OK);
    assert_int_equal(s.n, 60); /* only what follows the checkpoint, no stale record */
    assert_int_equal(rep.start_lsn, ck);
}

static int fail_sync;
static int inj_fdatasync(int fd) {
    if (fail_sync) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static void test_sync_error_is_reported(void **state) {
    (void)state;
    struct fileops ops = fileops_posix;
    ops.fdatasync = inj_fdatasync;
    struct wal_config cfg = {FILE_BYTES, &ops};
    struct wal *w = NULL;
    assert_int_equal(wal_open(dfd, &cfg, &(struct wal_scan_report){0}, &w), OBK_OK);
    struct wal_rec r;
    uint8_t payload[300];
    make_rec(1, &r, payload);
    assert_int_equal(wal_append(w, &r), OBK_OK);
    assert_int_equal(wal_write(w), OBK_OK);
    fail_sync = 1;
    assert_int_equal(wal_sync(w), OBK_ERR_IO);
    fail_sync = 0;
    uint8_t big[FILE_BYTES];
    struct wal_rec huge = {.type = WAL_REC_WRITE, .topic = 1, .payload = big, .len = FILE_BYTES};
    assert_int_equal(wal_append(w, &huge), OBK_ERR_TOOBIG);
    wal_close(w);
}

/* Records written but never synced before a crash, after a torn one, are not read back behind
 * the records of the next opening, even where a new record ends exactly where an old one
 * began (same LSN): the next opening writes with a higher epoch. */
static void test_stale_records_after_a_torn_one(void **state) {
    (void)state;
    struct wal_scan_report rep;
    struct wal *w = open_at_end(&(struct wal_scan_report){0});
    append_range(w, 0, 5);
    uint64_t torn = wal_end_lsn(w);
    append_range(w, 5, 10);
    wal_close(w);
    char path[400];
    file_of(torn, path, sizeof(path));
    unsigned long long first;
    assert_int_equal(sscanf(strrchr(path, '/') + 1, "wal-%16llx.log", &first), 1);
    int fd = open(path, O_RDWR);
    uint8_t b = 0xff;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)(WAL_FILE_HEADER_SIZE + torn - first + 10)), 1);
    close(fd);
    struct seen s = {0, 0, 0};
    assert_int_equal(wal_scan(dfd, 0, check_cb, &s, &rep), OBK_OK);
    assert_int_equal(s.n, 5); /* record 5 is torn: the log ends there */
    w = open_at_end(&rep);
    append_range(w, 5, 6); /* record 5 again: same size, so record 6 follows at the old LSN */
    wal_close(w);
    s = (struct seen){0, 0, 0};
    assert_int_equal(wal_scan(dfd, 0, check_cb, &s, &rep), OBK_OK);
    assert_int_equal(s.n, 6); /* not 10: the old records 6-9 carry the old epoch */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_across_rolls_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_at_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_before_the_last_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_reuses_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_error_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_records_after_a_torn_one, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
