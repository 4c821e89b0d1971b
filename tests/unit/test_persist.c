/* test_persist.c - the persist thread: ordered writes, completions through the eventfd, fsync
 * policies, and error injection through the file-operation table (EIO on fdatasync, ENOSPC and
 * short writes, EIO opening a directory to remove it): nothing failed is reported durable, and
 * the error is sticky. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/persist.h"
#include "storage/wal.h"
#include "tmpname.h"

static char tmpdir[256];
static int dfd = -1;

/* fault injection state (atomics: the persist thread reads them while the test sets them) */
static _Atomic int fail_fdatasync; /* errno to return, 0 = none */
static _Atomic int fail_pwritev;
static _Atomic int short_writes; /* write at most half (at least 1 byte) per call */
static _Atomic int fdatasync_calls, pwritev_calls;

static ssize_t inj_pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    pwritev_calls++;
    if (fail_pwritev) {
        errno = fail_pwritev;
        return -1;
    }
    if (short_writes) {
        size_t n = iov[0].iov_len / 2;
        if (n == 0) n = iov[0].iov_len;
        return pwrite(fd, iov[0].iov_base, n, off);
    }
    return pwritev(fd, iov, cnt, off);
}

static int inj_fdatasync(int fd) {
    fdatasync_calls++;
    if (fail_fdatasync) {
        errno = fail_fdatasync;
        return -1;
    }
    return fdatasync(fd);
}

static _Atomic int fail_syncfs, syncfs_calls;
static void note_event(char e);

static int inj_syncfs(int fd) {
    syncfs_calls++;
    note_event('S');
    if (fail_syncfs) {
        errno = fail_syncfs;
        return -1;
    }
    return syncfs(fd);
}

/* openat fails with this errno for the name fail_open_name (0 = never); closes are recorded */
static _Atomic int fail_openat;
static char fail_open_name[64];
static _Atomic int closed_fd = -1;

static _Atomic int emfile_left; /* this many opens fail with EMFILE first */

static int inj_openat(int dirfd, const char *path, int flags, mode_t mode) {
    if (fail_openat && !strcmp(path, fail_open_name)) {
        errno = fail_openat;
        return -1;
    }
    if (emfile_left > 0) {
        emfile_left--;
        errno = EMFILE;
        return -1;
    }
    int fd = openat(dirfd, path, flags, mode);
    if (fd >= 0 && (flags & O_CREAT)) note_event('O');
    return fd;
}

/* The order of name changes, directory syncs and closes (written by the persist thread while
 * a round runs, read by the test after its completion): R rename, U unlink, D a directory's
 * fsync, F a file's fsync, S a syncfs, O an open with O_CREAT, C a close of the descriptor
 * watch_fd. */
static char events[64];
static _Atomic int nevents, dir_fsyncs, watch_fd = -1;

static void note_event(char e) {
    if (nevents < (int)sizeof events - 1) events[nevents++] = e;
}

static int inj_fsync(int fd) {
    struct stat st;
    int dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    dir_fsyncs += dir;
    note_event(dir ? 'D' : 'F');
    return fsync(fd);
}

static int inj_renameat(int ofd, const char *op, int nfd, const char *np) {
    note_event('R');
    return renameat(ofd, op, nfd, np);
}

static int inj_unlinkat(int dirfd, const char *path, int flags) {
    note_event('U');
    return unlinkat(dirfd, path, flags);
}

static int inj_close(int fd) {
    closed_fd = fd;
    if (fd == watch_fd) note_event('C');
    return close(fd);
}

static struct fileops inj_ops;

static int setup(void **state) {
    (void)state;
    test_tmp_template(tmpdir, sizeof tmpdir, "obk_persist_");
    assert_non_null(mkdtemp(tmpdir));
    dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    inj_ops = fileops_posix;
    inj_ops.pwritev = inj_pwritev;
    inj_ops.fdatasync = inj_fdatasync;
    inj_ops.syncfs = inj_syncfs;
    inj_ops.openat = inj_openat;
    inj_ops.close = inj_close;
    inj_ops.fsync = inj_fsync;
    inj_ops.renameat = inj_renameat;
    inj_ops.unlinkat = inj_unlinkat;
    memset(events, 0, sizeof events);
    nevents = dir_fsyncs = 0;
    watch_fd = -1;
    fail_fdatasync = fail_pwritev = short_writes = fail_syncfs = fail_openat = emfile_left = 0;
    closed_fd = -1;
    fdatasync_calls = pwritev_calls = syncfs_calls = 0;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    close(dfd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void wait_seq(struct persist *p, uint64_t seq, uint64_t *durable, int *err) {
    for (int i = 0; i < 5000; i++) {
        struct pollfd pfd = {persist_eventfd(p), POLLIN, 0};
        poll(&pfd, 1, 10);
        persist_poll(p, durable, err);
        if (*durable >= seq || *err) return;
    }
    fail_msg("completion %llu never arrived", (unsigned long long)seq);
}

static size_t read_file(const char *name, char *buf, size_t cap) {
    int fd = openat(dfd, name, O_RDONLY);
    if (fd < 0) return (size_t)-1;
    ssize_t n = read(fd, buf, cap);
    close(fd);
    return n < 0 ? (size_t)-1 : (size_t)n;
}

static void test_writes_and_completions(void **state) {
    (void)state;
    struct persist *p;
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    struct pfile *a = pfile_new(dfd, "a.log");
    struct psub *s = psub_new();
    assert_int_equal(psub_write(s, a, 0, "hello ", 6), OBK_OK);
    assert_int_equal(psub_write(s, a, 6, "world", 5), OBK_OK); /* gathered with the first */
    uint64_t seq1, seq2, durable;
    int err;
    assert_int_equal(persist_submit(p, s, &seq1), OBK_OK);
    assert_int_equal(seq1, 1);
    s = psub_new();
    assert_int_equal(psub_write(s, a, 11, "!", 1), OBK_OK);
    assert_int_equal(psub_replace(s, dfd, "meta", "M1", 2), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq2), OBK_OK);
    assert_int_equal(seq2, 2);
    wait_seq(p, seq2, &durable, &err);
    assert_int_equal(err, OBK_OK);
    assert_int_equal(durable, 2);
    assert_true(persist_idle(p));
    char buf[64];
    assert_int_equal(read_file("a.log", buf, sizeof buf), 12);
    assert_memory_equal(buf, "hello world!", 12);
    assert_int_equal(read_file("meta", buf, sizeof buf), 2);
    assert_true(read_file("meta.tmp", buf, sizeof buf) == (size_t)-1);
    assert_true(fdatasync_calls >= 1); /* always: the data file was synced */
    struct persist_stats st;
    persist_get_stats(p, &st);
    assert_int_equal(st.submissions, 2);
    assert_int_equal(st.bytes_written, 12); /* replace ops are not counted */
    assert_true(st.fsyncs >= 1);
    /* free with unlink */
    s = psub_new();
    assert_int_equal(psub_free_file(s, a, 1), OBK_OK);
    persist_submit(p, s, &seq1);
    assert_int_equal(persist_drain(p), OBK_OK);
    assert_true(read_file("a.log", buf, sizeof buf) == (size_t)-1);
    assert_int_equal(persist_stop(p), OBK_OK);
}

static void test_short_writes_complete(void **state) {
    (void)state;
    struct persist *p;
    short_writes = 1;
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    struct pfile *a = pfile_new(dfd, "b.log");
    struct psub *s = psub_new();
    char data[1000];
    for (int i = 0; i < 1000; i++) data[i] = (char)('a' + i % 26);
    psub_write(s, a, 0, data, 600);
    psub_write(s, a, 600, data + 600, 400);
    uint64_t seq, durable;
    int err;
    persist_submit(p, s, &seq);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_OK);
    assert_true(pwritev_calls > 2);
    char buf[1200];
    assert_int_equal(read_file("b.log", buf, sizeof buf), 1000);
    assert_memory_equal(buf, data, 1000);
    s = psub_new();
    psub_free_file(s, a, 0);
    persist_submit(p, s, &seq);
    assert_int_equal(persist_stop(p), OBK_OK);
}

/* EIO on fdatasync: the batch fails, is not reported durable, and the error sticks: later
 * batches fail without any write or fsync being tried again. */
static void test_fdatasync_eio_sticky(void **state) {
    (void)state;
    struct persist *p;
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    struct pfile *a = pfile_new(dfd, "c.log");
    struct psub *s = psub_new();
    psub_write(s, a, 0, "one", 3);
    uint64_t seq, durable;
    int err;
    persist_submit(p, s, &seq);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_OK);
    assert_int_equal(durable, 1);
    fail_fdatasync = EIO;
    s = psub_new();
    psub_write(s, a, 3, "two", 3);
    persist_submit(p, s, &seq);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_ERR_IO);
    assert_int_equal(durable, 1); /* seq 2 is not durable */
    int syncs = fdatasync_calls, writes = pwritev_calls;
    fail_fdatasync = 0; /* the disk "recovers": the store must still refuse */
    s = psub_new();
    psub_write(s, a, 6, "three", 5);
    psub_free_file(s, a, 0);
    persist_submit(p, s, &seq);
    assert_int_equal(persist_drain(p), OBK_ERR_IO);
    persist_poll(p, &durable, &err);
    assert_int_equal(durable, 1);
    assert_int_equal(err, OBK_ERR_IO);
    assert_int_equal(fdatasync_calls, syncs); /* never retried */
    assert_int_equal(pwritev_calls, writes);
    assert_int_equal(persist_stop(p), OBK_ERR_IO);
}

static struct persist *start_with_log(void);

/* After a sticky error nothing can be synced or checkpointed: the thread must sleep, not wake
 * again and again for the log's checkpoint deadline or everysec's, posting the eventfd each
 * time (the main loop would spin with it). */
static void test_no_spin_after_error(void **state) {
    (void)state;
    struct persist *p = start_with_log();
    persist_set_checkpoint(p, 1u << 30, 20); /* the log's records are due after 20 ms */
    struct pfile *f = pfile_new(dfd, "seg");
    pfile_set_wal_tag(f, 0, 42, 7);
    uint64_t seq, durable;
    int err;
    fail_fdatasync = EIO;
    struct psub *s = psub_new();
    assert_int_equal(psub_write(s, f, 0, "abc", 3), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_ERR_IO);
    persist_set_fsync(p, PERSIST_FSYNC_EVERYSEC); /* and no periodic sync either */
    usleep(50000);
    uint64_t posts = 0;
    ssize_t n = read(persist_eventfd(p), &posts, sizeof posts); /* clears the count */
    (void)n;
    usleep(300000);
    posts = 0;
    n = read(persist_eventfd(p), &posts, sizeof posts);
    assert_true(n < 0 || posts <= 1);
    struct persist_stats st;
    persist_get_stats(p, &st);
    assert_int_equal(st.wal.checkpoints, 0);
    fail_fdatasync = 0;
    s = psub_new();
    assert_int_equal(psub_free_file(s, f, 0), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    assert_int_equal(persist_stop(p), OBK_ERR_IO);
}

static void test_enospc_and_short_then_fail(void **state) {
    (void)state;
    struct persist *p;
    assert_int_equal(persist_start(PERSIST_FSYNC_EVERYSEC, &inj_ops, &p), OBK_OK);
    struct pfile *a = pfile_new(dfd, "d.log");
    struct psub *s = psub_new();
    fail_pwritev = ENOSPC;
    psub_write(s, a, 0, "x", 1);
    uint64_t seq, durable;
    int err;
    persist_submit(p, s, &seq);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_ERR_NOSPC);
    assert_int_equal(durable, 0);
    s = psub_new();
    psub_free_file(s, a, 0);
    persist_submit(p, s, &seq);
    assert_int_equal(persist_stop(p), OBK_ERR_NOSPC);

    /* a short write followed by an error fails the batch too */
    fail_pwritev = 0;
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    a = pfile_new(dfd, "e.log");
    short_writes = 1;
    s = psub_new();
    psub_write(s, a, 0, "0123456789", 10);
    struct pfile *b = pfile_new(dfd, "f.log");
    psub_write(s, b, 0, "zz", 2);
    persist_submit(p, s, &seq);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_OK);
    short_writes = 0;
    fail_pwritev = EIO;
    s = psub_new();
    psub_write(s, a, 10, "more", 4);
    psub_free_file(s, a, 0);
    psub_free_file(s, b, 0);
    persist_submit(p, s, &seq);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_ERR_IO);
    assert_int_equal(durable, 1);
    assert_int_equal(persist_stop(p), OBK_ERR_IO);
}

/* everysec: completions come before the fsync, and one fsync covers many batches. */
/* Writes one byte to each of n files in one submission and waits for it. */
static int write_files(struct persist *p, struct pfile **f, int n, uint64_t pos) {
    struct psub *s = psub_new();
    for (int i = 0; i < n; i++) assert_int_equal(psub_write(s, f[i], pos, "x", 1), OBK_OK);
    uint64_t seq, durable;
    int err;
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    return err ? err : (durable >= seq ? OBK_OK : -1);
}

/* A sync round over syncfs-min-files files or more is one syncfs; fewer files, or a threshold
 * of 0, keep one fdatasync each; a failed syncfs is a sticky error like a failed fdatasync. */
static void test_syncfs_rounds(void **state) {
    (void)state;
    struct persist *p;
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    assert_int_equal(persist_set_syncfs(p, dfd, 2), OBK_OK);
    struct pfile *f[3] = {pfile_new(dfd, "a"), pfile_new(dfd, "b"), pfile_new(dfd, "c")};
    assert_int_equal(write_files(p, f, 3, 0), OBK_OK);
    assert_int_equal(syncfs_calls, 1);
    assert_int_equal(fdatasync_calls, 0);
    assert_int_equal(write_files(p, f, 1, 1), OBK_OK); /* one file: fdatasync */
    assert_int_equal(syncfs_calls, 1);
    assert_int_equal(fdatasync_calls, 1);
    assert_int_equal(persist_set_syncfs(p, -1, 0), OBK_OK); /* off */
    assert_int_equal(write_files(p, f, 3, 2), OBK_OK);
    assert_int_equal(syncfs_calls, 1);
    assert_int_equal(fdatasync_calls, 4);
    struct persist_stats st;
    persist_get_stats(p, &st);
    assert_int_equal(st.syncfs_calls, 1);
    assert_int_equal(st.fsyncs, 5);
    assert_int_equal(persist_set_syncfs(p, -1, 3), OBK_OK);
    fail_syncfs = EIO;
    assert_int_equal(write_files(p, f, 3, 3), OBK_ERR_IO);
    fail_syncfs = 0; /* sticky: the next round fails too, and nothing is retried */
    assert_int_equal(write_files(p, f, 3, 4), OBK_ERR_IO);
    assert_int_equal(syncfs_calls, 2);
    struct psub *s = psub_new();
    for (int i = 0; i < 3; i++) assert_int_equal(psub_free_file(s, f[i], 1), OBK_OK);
    uint64_t seq;
    persist_submit(p, s, &seq);
    assert_int_equal(persist_stop(p), OBK_ERR_IO);
}

static void test_everysec(void **state) {
    (void)state;
    struct persist *p;
    assert_int_equal(persist_start(PERSIST_FSYNC_EVERYSEC, &inj_ops, &p), OBK_OK);
    struct pfile *a = pfile_new(dfd, "g.log");
    uint64_t seq = 0, durable;
    int err;
    for (int i = 0; i < 50; i++) {
        struct psub *s = psub_new();
        psub_write(s, a, (uint64_t)i, "x", 1);
        persist_submit(p, s, &seq);
        wait_seq(p, seq, &durable, &err);
    }
    assert_int_equal(durable, 50);
    assert_true(fdatasync_calls <= 2);
    usleep(1300 * 1000); /* the once-a-second sync runs while idle */
    assert_true(fdatasync_calls >= 1);
    struct psub *s = psub_new();
    psub_free_file(s, a, 0);
    persist_submit(p, s, &seq);
    assert_int_equal(persist_stop(p), OBK_OK);
}

/* Removing a directory opens it, and closing a directory descriptor closes it, through the
 * file-operation table like every other call, so a fault injected there reaches them. */
static void test_directory_ops_use_the_table(void **state) {
    (void)state;
    struct persist *p;
    uint64_t seq, durable;
    int err;
    assert_int_equal(mkdirat(dfd, "gone", 0755), 0);
    int d2 = openat(dfd, "gone", O_RDONLY | O_DIRECTORY);
    assert_true(d2 >= 0);
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    struct psub *s = psub_new();
    assert_int_equal(psub_close_dir(s, d2), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_OK);
    assert_int_equal(closed_fd, d2);
    fail_openat = EIO;
    snprintf(fail_open_name, sizeof fail_open_name, "gone");
    s = psub_new();
    assert_int_equal(psub_rmtree(s, dfd, "gone"), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_ERR_IO);
    assert_true(durable < seq);
    struct stat st;
    assert_int_equal(fstatat(dfd, "gone", &st, 0), 0); /* nothing was removed */
    persist_stop(p);
}

/* A new directory under the test's, opened. */
static int new_dir(const char *name) {
    assert_int_equal(mkdirat(dfd, name, 0700), 0);
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    return fd;
}

static void clear_events(void) {
    memset(events, 0, sizeof events);
    nevents = 0;
}

static void run_round(struct persist *p, struct psub *s) {
    uint64_t seq, durable;
    int err;
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_OK);
}

/* The names a round makes are synced once per directory at the end of its operations, not once
 * per file: a round that creates five files and replaces one in a directory, and syncs the
 * parent (a new topic's round), syncs each of the two directories once (eight syncs before).
 * What destroys or closes runs the waiting syncs first: a rename's directory is synced before
 * an unlink in the same round, a new file's before its directory's descriptor is closed. */
static void test_directory_syncs_once_a_round(void **state) {
    (void)state;
    struct persist *p;
    int td = new_dir("t");
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    struct pfile *f[5];
    char name[16];
    struct psub *s = psub_new();
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "f%d", i);
        f[i] = pfile_new(td, name);
        assert_int_equal(psub_write(s, f[i], 0, "x", 1), OBK_OK);
    }
    assert_int_equal(psub_replace(s, td, "meta", "m1", 2), OBK_OK);
    assert_int_equal(psub_sync_dir(s, dfd), OBK_OK);
    run_round(p, s);
    assert_int_equal(dir_fsyncs, 2);
    /* five files and the meta's temporary one created, its content, its name, the two dirs */
    assert_string_equal(events, "OOOOOOFRDD");
    struct stat st;
    assert_int_equal(fstatat(td, "f4", &st, 0), 0);

    clear_events();
    s = psub_new();
    assert_int_equal(psub_replace(s, td, "meta", "m2", 2), OBK_OK);
    assert_int_equal(psub_free_file(s, f[0], 1), OBK_OK);
    run_round(p, s);
    assert_string_equal(events, "OFRDUD"); /* the rename is durable before the unlink */

    int ud = new_dir("u");
    struct pfile *g = pfile_new(ud, "g");
    clear_events();
    watch_fd = ud;
    s = psub_new();
    assert_int_equal(psub_write(s, g, 0, "y", 1), OBK_OK);
    assert_int_equal(psub_free_file(s, g, 0), OBK_OK);
    assert_int_equal(psub_close_dir(s, ud), OBK_OK);
    run_round(p, s);
    assert_string_equal(events, "ODC"); /* the new name is durable before its directory closes */

    /* a new topic's shape: its topic.meta is durable before its first segment is created */
    int vd = new_dir("v");
    struct pfile *seg = pfile_new(vd, "seg");
    clear_events();
    s = psub_new();
    assert_int_equal(psub_replace(s, vd, "meta", "m", 1), OBK_OK);
    assert_int_equal(psub_write(s, seg, 0, "z", 1), OBK_OK);
    run_round(p, s);
    assert_string_equal(events, "OFRDOD");
    s = psub_new();
    assert_int_equal(psub_free_file(s, seg, 0), OBK_OK);
    assert_int_equal(psub_close_dir(s, vd), OBK_OK);
    run_round(p, s);

    s = psub_new();
    for (int i = 1; i < 5; i++) assert_int_equal(psub_free_file(s, f[i], 0), OBK_OK);
    assert_int_equal(psub_close_dir(s, td), OBK_OK);
    run_round(p, s);
    assert_int_equal(persist_stop(p), OBK_OK);
}

static void read_in(int dirfd, const char *name, char *buf, size_t cap) {
    int fd = openat(dirfd, name, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
}

/* With syncfs on, a round of several replacements writes their temporary files first and syncs
 * them with one syncfs; those of files that do not exist yet are renamed then too and their
 * directories synced (one more syncfs), before the round's operations. A second replace of the
 * same file in the round, and a temporary file a crash left, take the per-file path (write,
 * fsync, rename) in their turn. Every file ends with its last content. */
static void test_replacements_share_a_sync(void **state) {
    (void)state;
    struct persist *p;
    int td = new_dir("t"), ud = new_dir("u");
    int stale = openat(td, "x.tmp", O_WRONLY | O_CREAT, 0600); /* left by a crash */
    assert_true(stale >= 0);
    assert_int_equal(write(stale, "old", 3), 3);
    close(stale);
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    assert_int_equal(persist_set_syncfs(p, dfd, 2), OBK_OK);
    struct psub *s = psub_new();
    assert_int_equal(psub_replace(s, td, "a", "a1", 2), OBK_OK);
    assert_int_equal(psub_replace(s, td, "b", "b1", 2), OBK_OK);
    assert_int_equal(psub_replace(s, td, "a", "a2", 2), OBK_OK);
    assert_int_equal(psub_replace(s, ud, "c", "c1", 2), OBK_OK);
    assert_int_equal(psub_replace(s, td, "x", "x1", 2), OBK_OK);
    run_round(p, s);
    assert_string_equal(events, "OOOSRRRSOFROFRD");
    assert_int_equal(dir_fsyncs, 1);
    char buf[16];
    read_in(td, "a", buf, sizeof buf);
    assert_string_equal(buf, "a2");
    read_in(td, "b", buf, sizeof buf);
    assert_string_equal(buf, "b1");
    read_in(ud, "c", buf, sizeof buf);
    assert_string_equal(buf, "c1");
    read_in(td, "x", buf, sizeof buf);
    assert_string_equal(buf, "x1");
    struct stat st;
    assert_int_not_equal(fstatat(td, "a.tmp", &st, 0), 0); /* every temporary name was used */
    assert_int_not_equal(fstatat(td, "x.tmp", &st, 0), 0);

    clear_events(); /* one replace alone: the per-file path */
    s = psub_new();
    assert_int_equal(psub_replace(s, td, "b", "b2", 2), OBK_OK);
    run_round(p, s);
    assert_string_equal(events, "OFRD");
    assert_int_equal(persist_stop(p), OBK_OK);
    close(td);
    close(ud);
}

static int open_fds(void) {
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0) n++;
    return n;
}

/* Under a cap of two write descriptors, five files written in turn: the least recently used is
 * closed (synced first: under fsync no, only those syncs happen) and reopened by name, and
 * every file ends up with every byte. */
static void test_write_descriptor_cap(void **state) {
    (void)state;
    struct persist *p;
    struct pfile *f[5];
    uint64_t seq = 0, durable;
    int err;
    assert_int_equal(persist_start(PERSIST_FSYNC_NO, &inj_ops, &p), OBK_OK);
    persist_set_max_files(p, 2);
    int base = open_fds();
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        assert_non_null(f[i] = pfile_new(dfd, name));
    }
    for (int round = 0; round < 4; round++) {
        struct psub *s = psub_new();
        for (int i = 0; i < 5; i++) {
            char b = (char)('a' + round);
            assert_int_equal(psub_write(s, f[i], (uint64_t)round, &b, 1), OBK_OK);
        }
        assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
        wait_seq(p, seq, &durable, &err);
        assert_int_equal(err, OBK_OK);
        assert_true(open_fds() - base <= 2);
    }
    struct persist_stats st;
    persist_get_stats(p, &st);
    printf("# %llu write descriptors closed, %d fdatasyncs before them\n",
           (unsigned long long)st.write_fd_evictions, (int)fdatasync_calls);
    assert_true(st.write_fds <= 2);
    assert_true(st.write_fd_evictions >= 12);
    assert_true(fdatasync_calls >= 12); /* each closed file had unsynced writes */
    for (int i = 0; i < 5; i++) {
        char name[16], buf[16];
        snprintf(name, sizeof name, "f%d", i);
        assert_int_equal(read_file(name, buf, sizeof buf), 4);
        assert_memory_equal(buf, "abcd", 4);
    }
    struct psub *s = psub_new();
    for (int i = 0; i < 5; i++) assert_int_equal(psub_free_file(s, f[i], 0), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(open_fds(), base);
    assert_int_equal(persist_stop(p), OBK_OK);
}

/* Out of descriptors is not an I/O error: the thread closes its idle write descriptors, waits
 * and tries again; the submission completes and nothing is sticky. */
static void test_emfile_waits_not_sticky(void **state) {
    (void)state;
    struct persist *p;
    struct pfile *a = pfile_new(dfd, "a"), *b = pfile_new(dfd, "b");
    uint64_t seq, durable;
    int err;
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    struct psub *s = psub_new();
    assert_int_equal(psub_write(s, a, 0, "x", 1), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_OK);
    emfile_left = 4; /* the first retry follows closing a's descriptor, the rest wait */
    s = psub_new();
    assert_int_equal(psub_write(s, b, 0, "y", 1), OBK_OK);
    assert_int_equal(psub_write(s, a, 1, "z", 1), OBK_OK);
    assert_int_equal(psub_replace(s, dfd, "small", "w", 1), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_OK);
    assert_true(durable >= seq);
    struct persist_stats st;
    persist_get_stats(p, &st);
    assert_true(st.nofile_waits >= 1);
    assert_int_equal(st.error, OBK_OK);
    char buf[8];
    assert_int_equal(read_file("a", buf, sizeof buf), 2);
    assert_memory_equal(buf, "xz", 2);
    assert_int_equal(read_file("b", buf, sizeof buf), 1);
    assert_int_equal(read_file("small", buf, sizeof buf), 1);
    s = psub_new();
    psub_free_file(s, a, 0);
    psub_free_file(s, b, 0);
    persist_submit(p, s, &seq);
    assert_int_equal(persist_stop(p), OBK_OK);
}

/* With syncfs on, a descriptor closed to stay under the cap costs no fdatasync: under always
 * the round that wrote it ends with one syncfs (forced by the closed file even when fewer
 * files than syncfs-min-files are left open), and only then is it published durable. */
static void test_write_descriptor_cap_syncfs(void **state) {
    (void)state;
    struct persist *p;
    struct pfile *f[5];
    uint64_t seq = 0, durable;
    int err;
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    assert_int_equal(persist_set_syncfs(p, dfd, 8), OBK_OK); /* more files than a round has */
    persist_set_max_files(p, 2);
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        assert_non_null(f[i] = pfile_new(dfd, name));
    }
    for (int round = 0; round < 3; round++) {
        struct psub *s = psub_new();
        for (int i = 0; i < 5; i++)
            assert_int_equal(psub_write(s, f[i], (uint64_t)round, "x", 1), OBK_OK);
        assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
        wait_seq(p, seq, &durable, &err);
        assert_int_equal(err, OBK_OK);
        assert_true(durable >= seq);
    }
    struct persist_stats st;
    persist_get_stats(p, &st);
    assert_true(st.write_fd_evictions >= 9);
    assert_int_equal(fdatasync_calls, 0); /* no sync per closed descriptor ... */
    assert_int_equal(syncfs_calls, 3);    /* ... one syncfs per round instead */
    struct psub *s = psub_new();
    for (int i = 0; i < 5; i++) assert_int_equal(psub_free_file(s, f[i], 0), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    assert_int_equal(persist_stop(p), OBK_OK);
}

/* A persist thread under always with a fresh log in front (1 MiB files, no checkpoint unless
 * asked) and rounds of 4 KiB or more per file skipping it. */
static struct persist *start_with_log(void) {
    struct persist *p;
    struct wal_scan_report rep;
    struct wal *w;
    struct wal_config wc = {1u << 20, &inj_ops};
    assert_int_equal(wal_scan(dfd, 0, NULL, NULL, &rep), OBK_OK);
    assert_int_equal(wal_open(dfd, &wc, &rep, &w), OBK_OK);
    assert_int_equal(persist_start(PERSIST_FSYNC_ALWAYS, &inj_ops, &p), OBK_OK);
    persist_set_wal(p, w, 1u << 30, 3600 * 1000);
    persist_set_direct_bytes(p, 4096);
    return p;
}

/* With a log: a round of small writes to a tagged file becomes log records and one fdatasync
 * of the log (the file is synced at the checkpoint a drain takes); a round that writes
 * wal-direct-bytes or more per file skips the log and syncs its file; an untagged file is never
 * logged. */
static void test_log_or_direct_rounds(void **state) {
    (void)state;
    struct persist *p = start_with_log();
    struct pfile *f = pfile_new(dfd, "seg"), *u = pfile_new(dfd, "plain");
    pfile_set_wal_tag(f, 0, 42, 7);
    static uint8_t big[8192];
    struct persist_stats st;
    uint64_t seq, durable;
    int err;
    fdatasync_calls = 0;
    struct psub *s = psub_new(); /* small: logged */
    assert_int_equal(psub_write(s, f, 0, "abc", 3), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_true(err == OBK_OK && durable >= seq);
    persist_get_stats(p, &st);
    assert_int_equal(st.wal.records, 1);
    assert_int_equal(st.wal.syncs, 1);
    assert_int_equal(fdatasync_calls, 1); /* the log's only */
    s = psub_new();                       /* 8 KiB to one file: straight to it */
    assert_int_equal(psub_write(s, f, 3, big, sizeof big), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_true(err == OBK_OK && durable >= seq);
    persist_get_stats(p, &st);
    assert_int_equal(st.wal.records, 1);
    assert_int_equal(fdatasync_calls, 2); /* the file's */
    s = psub_new();                       /* small, untagged: synced, not logged */
    assert_int_equal(psub_write(s, u, 0, "x", 1), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    persist_get_stats(p, &st);
    assert_int_equal(st.wal.records, 1);
    assert_int_equal(fdatasync_calls, 3);
    assert_true(st.wal.pending_bytes > 0);
    assert_int_equal(persist_drain(p), OBK_OK); /* a checkpoint: nothing left to replay */
    persist_get_stats(p, &st);
    assert_int_equal(st.wal.pending_bytes, 0);
    assert_int_equal(st.wal.checkpoints, 1);
    s = psub_new();
    assert_int_equal(psub_free_file(s, f, 0), OBK_OK);
    assert_int_equal(psub_free_file(s, u, 0), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    assert_int_equal(persist_stop(p), OBK_OK);
}

/* Waits until every write up to seq is in its file (the filing after a round comes after the
 * round's completion). */
static void wait_filed(struct persist *p, uint64_t seq) {
    for (int i = 0; i < 500 && persist_filed_seq(p) < seq; i++) usleep(10000);
    assert_true(persist_filed_seq(p) >= seq);
}

/* With the log and deferral on, logged writes to a deferrable file wait in memory: the round is
 * durable (the log's fdatasync) while the file holds none of it yet, though it exists (created
 * at its first write, so a replay finds it). A wait-written files them in one write; past
 * defer_bytes they are filed after the round; a request files them; a sync of the file files
 * first; an unlinked file's waiting bytes are dropped. */
static void test_deferred_writes(void **state) {
    (void)state;
    struct persist *p = start_with_log();
    persist_set_defer_bytes(p, 1u << 20);
    struct pfile *f = pfile_new(dfd, "seg");
    pfile_set_wal_tag(f, 0, 42, 7);
    pfile_allow_deferred(f);
    struct persist_stats st;
    uint64_t seq = 0, durable;
    int err;
    char buf[2048];
    for (int i = 0; i < 3; i++) {
        struct psub *s = psub_new();
        assert_int_equal(psub_write(s, f, (uint64_t)i * 3, "abc", 3), OBK_OK);
        assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
        wait_seq(p, seq, &durable, &err);
        assert_true(err == OBK_OK && durable >= seq);
    }
    assert_int_equal(read_file("seg", buf, sizeof buf), 0); /* there, and empty */
    assert_true(persist_filed_seq(p) < seq);
    persist_get_stats(p, &st);
    assert_true(st.wal.deferred_bytes > 0);
    assert_int_equal(st.wal.records, 3);
    assert_int_equal(persist_wait_written(p), OBK_OK);
    assert_int_equal(read_file("seg", buf, sizeof buf), 9);
    assert_memory_equal(buf, "abcabcabc", 9);
    assert_int_equal(persist_filed_seq(p), seq);
    persist_get_stats(p, &st);
    assert_int_equal(st.wal.deferred_bytes, 0);
    assert_int_equal(st.wal.filings, 1);

    /* past defer_bytes: filed after the round */
    persist_set_defer_bytes(p, 600);
    static char fill[700];
    memset(fill, 'f', sizeof fill);
    struct psub *s = psub_new();
    assert_int_equal(psub_write(s, f, 9, fill, sizeof fill), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    wait_filed(p, seq);
    assert_int_equal(read_file("seg", buf, sizeof buf), 709);

    /* on request */
    persist_set_defer_bytes(p, 1u << 20);
    s = psub_new();
    assert_int_equal(psub_write(s, f, 709, "r", 1), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(read_file("seg", buf, sizeof buf), 709);
    persist_request_filing(p);
    wait_filed(p, seq);
    assert_int_equal(read_file("seg", buf, sizeof buf), 710);

    /* a sync of the file files its waiting bytes first */
    s = psub_new();
    assert_int_equal(psub_write(s, f, 710, "xyz", 3), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    s = psub_new();
    assert_int_equal(psub_sync(s, f), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(read_file("seg", buf, sizeof buf), 713);
    assert_memory_equal(buf + 709, "rxyz", 4);

    /* unlinked: the waiting bytes are dropped with the file */
    s = psub_new();
    assert_int_equal(psub_write(s, f, 713, "q", 1), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    s = psub_new();
    assert_int_equal(psub_free_file(s, f, 1), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_int_equal(err, OBK_OK);
    assert_int_equal(read_file("seg", buf, sizeof buf), (size_t)-1);
    persist_get_stats(p, &st);
    assert_int_equal(st.wal.deferred_bytes, 0);
    assert_int_equal(persist_stop(p), OBK_OK);
}

/* The eventfd's count without clearing it (0 when nothing was posted). */
static int eventfd_posted(struct persist *p) {
    struct pollfd pfd = {persist_eventfd(p), POLLIN, 0};
    return poll(&pfd, 1, 0) == 1;
}

/* persist_run_inline, tried again for up to a second: the thread publishes a round before it
 * is done with it (a filing may follow), and until then a round may not run inline. */
static int run_inline_soon(struct persist *p, struct psub *s, uint64_t *seq) {
    for (int i = 0; i < 200; i++) {
        if (persist_run_inline(p, s, seq)) return 1;
        usleep(5000);
    }
    return 0;
}

/* The thread's checkpoint, waited for up to 5 s: the log holds nothing pending after it. */
static void wait_log_checkpointed(struct persist *p, struct persist_stats *st) {
    for (int i = 0; i < 500; i++) {
        persist_get_stats(p, st);
        if (st->wal.pending_bytes == 0) break;
        usleep(10000);
    }
    assert_int_equal(st->wal.pending_bytes, 0);
}

/* A round run by the caller (persist_run_inline): only when the thread is idle, the policy is
 * always and every operation writes an open file; it is then written, logged and synced before
 * the call returns, published without an eventfd notice, and the thread goes on after it (a
 * checkpoint it made due is the thread's, a later submission too). A failed inline round is
 * sticky like any other. */
static void test_inline_rounds(void **state) {
    (void)state;
    struct persist *p = start_with_log();
    struct pfile *f = pfile_new(dfd, "seg");
    pfile_set_wal_tag(f, 0, 42, 7);
    struct persist_stats st;
    uint64_t seq, durable;
    int err;
    char buf[64];
    /* the file is not open yet: an open is the thread's */
    struct psub *s = psub_new();
    assert_int_equal(psub_write(s, f, 0, "ab", 2), OBK_OK);
    assert_int_equal(persist_run_inline(p, s, &seq), 0);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_true(err == OBK_OK && durable == seq);
    persist_poll(p, &durable, &err); /* clears the notice */

    /* open now: the caller runs the round */
    fdatasync_calls = 0;
    s = psub_new();
    assert_int_equal(psub_write(s, f, 2, "cd", 2), OBK_OK);
    uint64_t iseq = 0;
    assert_int_equal(run_inline_soon(p, s, &iseq), 1);
    assert_int_equal(iseq, seq + 1);
    assert_int_equal(fdatasync_calls, 1); /* the log's, before the call returned */
    assert_false(eventfd_posted(p));
    persist_state(p, &durable, &err);
    assert_true(err == OBK_OK && durable == iseq);
    assert_true(persist_idle(p));
    persist_get_stats(p, &st);
    assert_int_equal(st.inline_rounds, 1);
    assert_int_equal(st.submissions, 2);
    assert_int_equal(st.wal.records, 2);

    /* not while the test hook holds the thread, not under everysec, not for an op other than a
     * write */
    persist_hold(p, 1);
    s = psub_new();
    assert_int_equal(psub_write(s, f, 4, "e", 1), OBK_OK);
    assert_int_equal(persist_run_inline(p, s, &seq), 0);
    persist_hold(p, 0);
    persist_set_fsync(p, PERSIST_FSYNC_EVERYSEC);
    assert_int_equal(persist_run_inline(p, s, &seq), 0);
    persist_set_fsync(p, PERSIST_FSYNC_ALWAYS);
    assert_int_equal(psub_sync(s, f), OBK_OK);
    assert_int_equal(persist_run_inline(p, s, &seq), 0);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_true(err == OBK_OK && durable == seq);

    /* the thread takes later submissions as before */
    s = psub_new();
    assert_int_equal(psub_write(s, f, 5, "f", 1), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    wait_seq(p, seq, &durable, &err);
    assert_true(err == OBK_OK && durable == seq);
    assert_int_equal(persist_drain(p), OBK_OK);
    assert_int_equal(read_file("seg", buf, sizeof buf), 6);
    assert_memory_equal(buf, "abcdef", 6);

    /* a checkpoint an inline round makes due is taken by the thread */
    persist_set_checkpoint(p, 1, 3600 * 1000);
    s = psub_new();
    assert_int_equal(psub_write(s, f, 6, "g", 1), OBK_OK);
    assert_int_equal(run_inline_soon(p, s, &seq), 1);
    wait_log_checkpointed(p, &st);
    assert_int_equal(st.wal.checkpoints, 2);

    /* the log emptied by that checkpoint, an inline round makes it pending again: the thread is
     * woken to set its timer, and checkpoints by age */
    persist_set_checkpoint(p, 1u << 30, 50);
    usleep(100000); /* the thread back asleep, with nothing pending and so no timer */
    s = psub_new();
    assert_int_equal(psub_write(s, f, 7, "G", 1), OBK_OK);
    assert_int_equal(run_inline_soon(p, s, &seq), 1);
    wait_log_checkpointed(p, &st);
    assert_int_equal(st.wal.checkpoints, 3);

    /* a failed fdatasync in an inline round is sticky */
    fail_fdatasync = EIO;
    s = psub_new();
    assert_int_equal(psub_write(s, f, 8, "h", 1), OBK_OK);
    assert_int_equal(run_inline_soon(p, s, &seq), 1);
    persist_state(p, &durable, &err);
    assert_int_equal(err, OBK_ERR_IO);
    assert_true(durable < seq);
    s = psub_new();
    assert_int_equal(psub_write(s, f, 9, "i", 1), OBK_OK);
    assert_int_equal(persist_run_inline(p, s, &seq), 0); /* after an error: never inline */
    psub_discard(s);
    fail_fdatasync = 0;
    s = psub_new();
    assert_int_equal(psub_free_file(s, f, 0), OBK_OK);
    assert_int_equal(persist_submit(p, s, &seq), OBK_OK);
    assert_int_equal(persist_stop(p), OBK_ERR_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writes_and_completions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_writes_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fdatasync_eio_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enospc_and_short_then_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_everysec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syncfs_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_ops_use_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_syncs_once_a_round, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replacements_share_a_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_descriptor_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_descriptor_cap_syncfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_or_direct_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emfile_waits_not_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_spin_after_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
