/* backup.c - BACKUP path [ASYNC]: an online backup of the whole data set (see backup.h).
 *
 * Design: the replication's full-sync snapshot (snapshot.h) gives the consistent view: at a
 * sync point every topic file is hard-linked under <dir>/backup-snapshot with its size, which
 * costs a flush and a few system calls per file, not a copy. A thread then builds the target
 * directory from those links: sealed segments and their indexes (every .log/.idx but the
 * newest of a topic: they never change again) are hard-linked into the target when it is on
 * the same file system, and everything else (the active segment, its index, groups.log,
 * topic.meta, the checkpoint) is copied up to its noted size, so writes that go on after the
 * sync point never reach the backup. Every copied file is fdatasynced, then every directory,
 * and last a marker file BACKUP_COMPLETE, so a directory without it is known incomplete. A
 * server started on the directory recovers it as after a stop (no clean-shutdown marker: its
 * tails are scanned). The loop keeps serving while the thread copies; the command's client
 * waits (a keyless block, woken when the thread is done) unless it asked for ASYNC, and INFO
 * persistence shows the progress. One backup at a time. The thread writes only its progress
 * counters (atomics) and its result; the main thread takes the result after joining it.
 *
 * The copies are paced (backup-max-bytes-per-sec, taken when the backup starts): each chunk is
 * written back at once and the thread sleeps while ahead of the rate, so the server's own
 * syncs never queue behind hundreds of MB of write-back.
 *
 * Redis's SAVE, BGSAVE and LASTSAVE map onto it: SAVE and BGSAVE take a backup into a new
 * directory <backup-dir>/backup-<unix ms> (SAVE waits, BGSAVE does not; without backup-dir they
 * are refused, since Obelisk's data is on disk as it is written and there is no other dump to
 * make), LASTSAVE is when the last one succeeded. */
#include "server/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/errors.h"
#include "server/runtime.h"
#include "server/xutil.h"
#include "storage/fsutil.h"
#include "storage/snapshot.h"

#define SNAPSHOT_NAME "backup-snapshot"
#define COMPLETE_NAME "BACKUP_COMPLETE"
#define COPY_CHUNK    (1 << 20)

static struct {
    struct snapshot *sn;
    char *target;
    int targetfd;
    pthread_t thread;
    int running;
    int pipefd[2];
    struct event *done_ev;
    uint64_t waiter; /* the client id waiting for the reply, 0: none */
    long long start_us;
    int result;     /* the thread's status, read after the join */
    long long rate; /* backup-max-bytes-per-sec when it started (0: no limit); the thread's */
    long long copied, copy_start_us; /* bytes the thread copied (not linked), since when */
    /* progress, written by the thread */
    uint64_t bytes_done, files_done, files_linked;
    struct backup_info info;
} bk = {.pipefd = {-1, -1}};

static uint64_t load(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void add(uint64_t *p, uint64_t v) {
    __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

/* ---- the copying thread ---- */

/* Creates the directories of relative path rel (its last component is a file). */
static int make_parents(int dirfd, const char *rel) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", rel);
    for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdirat(dirfd, buf, 0700) != 0 && errno != EEXIST) return OBK_ERR_IO;
        *p = '/';
    }
    return OBK_OK;
}

/* 1 when q is a segment of the topic directory p[0, dirlen] with a larger (newer) name than
 * p's own (n bytes): names are zero-padded base offsets. */
static int newer_segment(const char *q, const char *p, size_t dirlen, size_t n) {
    return strlen(q) == n && !strcmp(q + n - 4, ".log") &&
           strncmp(q + dirlen + 1, p + dirlen + 1, n - dirlen - 5) > 0;
}

/* 1 when file i is a segment or index that a newer segment of the same topic follows. The
 * snapshot lists a topic's files together, so only that run is looked at. */
static int sealed(const struct snapshot *sn, size_t i) {
    const char *p = sn->files[i].path, *slash = strrchr(p, '/');
    size_t dirlen = slash ? (size_t)(slash - p) : 0, n = strlen(p);
    if (n < 4 || (strcmp(p + n - 4, ".log") != 0 && strcmp(p + n - 4, ".idx") != 0)) return 0;
    size_t lo = i, hi = i + 1;
    while (lo > 0 && !strncmp(sn->files[lo - 1].path, p, dirlen + 1)) lo--;
    while (hi < sn->nfiles && !strncmp(sn->files[hi].path, p, dirlen + 1)) hi++;
    for (size_t j = lo; j < hi; j++)
        if (newer_segment(sn->files[j].path, p, dirlen, n)) return 1;
    return 0;
}

/* With backup-max-bytes-per-sec: the chunk just written (n bytes at pos of out) goes to the
 * disk now, and the copy sleeps as long as it is ahead of the rate, so that the server's own
 * syncs find the disk's queue short (docs/benchmarks.md, "Backups under load"). */
static int pace(int out, uint64_t pos, uint64_t n) {
    if (sync_file_range(out, (off64_t)pos, (off64_t)n,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER) != 0)
        return OBK_ERR_IO;
    bk.copied += (long long)n;
    long long due_us = bk.copied * 1000000 / bk.rate, spent_us = util_ustime() - bk.copy_start_us;
    if (due_us > spent_us) usleep((useconds_t)(due_us - spent_us));
    return OBK_OK;
}

static int copy_file(const struct snapshot *sn, size_t i, int targetfd) {
    const struct snapshot_file *f = &sn->files[i];
    int in = snapshot_open(sn, i), out = -1, rc = OBK_OK;
    char *buf = malloc(COPY_CHUNK);
    if (in < 0 || !buf) {
        rc = in < 0 ? OBK_ERR_IO : OBK_ERR_NOMEM;
        goto done;
    }
    if ((out = openat(targetfd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        rc = OBK_ERR_IO;
        goto done;
    }
    for (uint64_t pos = 0; pos < f->size;) {
        size_t want = f->size - pos < COPY_CHUNK ? (size_t)(f->size - pos) : COPY_CHUNK;
        ssize_t r = pread(in, buf, want, (off_t)pos);
        if (r <= 0 || write(out, buf, (size_t)r) != r) { /* shorter than noted: damage */
            rc = OBK_ERR_IO;
            goto done;
        }
        if (bk.rate > 0 && (rc = pace(out, pos, (uint64_t)r)) != OBK_OK) goto done;
        pos += (uint64_t)r;
        add(&bk.bytes_done, (uint64_t)r);
    }
    if (fdatasync(out) != 0) rc = OBK_ERR_IO;
done:
    free(buf);
    if (in >= 0) close(in);
    if (out >= 0 && close(out) != 0 && rc == OBK_OK) rc = OBK_ERR_IO;
    return rc;
}

/* fsyncs every directory of the backup, deepest first. */
static int sync_dirs(const struct snapshot *sn, int targetfd) {
    char last[4096] = "";
    for (size_t i = 0; i < sn->nfiles; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", sn->files[i].path);
        char *slash = strrchr(dir, '/');
        if (!slash) continue;
        *slash = '\0';
        if (!strcmp(dir, last)) continue;
        snprintf(last, sizeof last, "%s", dir);
        int rc = fsutil_sync_dir_at(targetfd, dir); /* the topic directory */
        char *db = strchr(dir, '/');
        if (rc == OBK_OK && db) { /* and its database directory */
            *db = '\0';
            rc = fsutil_sync_dir_at(targetfd, dir);
        }
        if (rc != OBK_OK) return rc;
    }
    return fsync(targetfd) == 0 ? OBK_OK : OBK_ERR_IO;
}

/* The data directory's format marker, so the backup is a data directory as it stands. */
static int copy_marker(int datafd, int targetfd) {
    uint8_t *buf;
    size_t len;
    int rc = fsutil_read_file(datafd, STORE_MARKER_NAME, 4096, &buf, &len);
    if (rc != OBK_OK) return rc;
    rc = fsutil_write_file_sync(targetfd, STORE_MARKER_NAME, buf, len);
    free(buf);
    return rc;
}

static void *backup_main(void *arg) {
    (void)arg;
    const struct snapshot *sn = bk.sn;
    int rc = OBK_OK;
    for (size_t i = 0; i < sn->nfiles && rc == OBK_OK; i++) {
        const struct snapshot_file *f = &sn->files[i];
        if ((rc = make_parents(bk.targetfd, f->path)) != OBK_OK) break;
        char from[4096];
        snprintf(from, sizeof from, "%s/%s", sn->name, f->path);
        if (sealed(sn, i) && linkat(sn->dirfd, from, bk.targetfd, f->path, 0) == 0) {
            add(&bk.bytes_done, f->size);
            add(&bk.files_linked, 1);
        } else {
            rc = copy_file(sn, i, bk.targetfd); /* another file system, or a growing file */
        }
        add(&bk.files_done, 1);
    }
    if (rc == OBK_OK) rc = copy_marker(sn->dirfd, bk.targetfd);
    if (rc == OBK_OK) rc = sync_dirs(sn, bk.targetfd);
    if (rc == OBK_OK) rc = fsutil_write_file_sync(bk.targetfd, COMPLETE_NAME, "complete\n", 9);
    bk.result = rc;
    char one = 1;
    ssize_t w = write(bk.pipefd[1], &one, 1); /* the loop takes it from here */
    (void)w;
    return NULL;
}

/* ---- the main thread ---- */

static struct client *find_client(uint64_t id) {
    for (struct client *c = conn_first(); c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

/* Removes the snapshot's links, then closes the descriptor the backup kept for it. */
static void release_snapshot(void) {
    int fd = bk.sn->dirfd;
    snapshot_remove(bk.sn);
    bk.sn = NULL;
    close(fd);
}

static void finish(void) {
    pthread_join(bk.thread, NULL);
    bk.running = 0;
    release_snapshot();
    close(bk.targetfd);
    bk.info.in_progress = 0;
    bk.info.bytes_done = load(&bk.bytes_done);
    bk.info.files_done = load(&bk.files_done);
    bk.info.files_linked = load(&bk.files_linked);
    bk.info.last_status = bk.result;
    bk.info.last_usec = util_ustime() - bk.start_us;
    if (bk.result == OBK_OK) {
        bk.info.last_ok_time = util_mstime() / 1000;
        bk.info.saves++;
    }
    log_msg(bk.result == OBK_OK ? LOG_NOTICE : LOG_WARNING,
            "Backup to %s %s: %llu files (%llu linked), %llu bytes, %.3f s", bk.target,
            bk.result == OBK_OK ? "done" : obk_strerror(bk.result),
            (unsigned long long)bk.info.files_done, (unsigned long long)bk.info.files_linked,
            (unsigned long long)bk.info.bytes_done, bk.info.last_usec / 1e6);
    free(bk.target);
    bk.target = NULL;
    struct client *c = bk.waiter ? find_client(bk.waiter) : NULL;
    bk.waiter = 0;
    if (c) blocking_wake(c);
}

static void done_cb(evutil_socket_t fd, short what, void *arg) {
    (void)what, (void)arg;
    char buf[8];
    if (read(fd, buf, sizeof buf) > 0 && bk.running) finish();
}

static int backup_serve(struct client *c, int idx) {
    (void)idx;
    if (bk.running) return 0;
    if (bk.info.last_status == OBK_OK)
        reply_simple(&c->reply, "OK");
    else
        reply_errorf(&c->reply, "ERR backup failed: %s", obk_strerror(bk.info.last_status));
    return 1;
}

/* Checks and creates the target: a new directory outside the data directory. */
static int open_target(struct client *c, const char *path, int *fd) {
    char real_data[4096], parent[4096], real_parent[4096];
    const char *dir = server_config.dir;
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    if (!realpath(dir, real_data) || !realpath(parent, real_parent)) {
        reply_errorf(&c->reply, "ERR backup target's parent directory: %s", strerror(errno));
        return -1;
    }
    size_t n = strlen(real_data);
    if (!strncmp(real_parent, real_data, n) && (real_parent[n] == '/' || !real_parent[n])) {
        reply_error(&c->reply, "ERR the backup target must be outside the data directory");
        return -1;
    }
    if (mkdir(path, 0700) != 0 || (*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        reply_errorf(&c->reply, "ERR cannot create the backup directory %s: %s", path,
                     strerror(errno));
        return -1;
    }
    return 0;
}

/* Starts a backup into path; waits for it (blocks c) unless async. busy and started are the
 * reply texts for a backup already running and for one started without waiting. */
static void start_backup(struct client *c, const char *path, int async, const char *busy,
                         const char *started) {
    if (bk.running) {
        reply_error(&c->reply, busy);
        return;
    }
    struct store *s = db_store();
    if (!s) {
        reply_error(&c->reply, ERR_LOADING);
        return;
    }
    if (bk.pipefd[0] < 0) {
        if (pipe(bk.pipefd) != 0 ||
            !(bk.done_ev =
                  event_new(runtime.base, bk.pipefd[0], EV_READ | EV_PERSIST, done_cb, NULL)) ||
            event_add(bk.done_ev, NULL) != 0) {
            reply_error(&c->reply, ERR_OUT_OF_MEMORY);
            return;
        }
    }
    int fd;
    if (open_target(c, path, &fd) != 0) return;
    struct snapshot *sn;
    int rc = snapshot_create(s, SNAPSHOT_NAME, &sn);
    if (rc != OBK_OK || !(bk.target = strdup(path))) {
        if (rc == OBK_OK) snapshot_remove(sn);
        close(fd);
        rmdir(path);
        xutil_reply_status(c, rc != OBK_OK ? rc : OBK_ERR_NOMEM);
        return;
    }
    /* the snapshot's directory descriptor is the store's: the backup keeps its own, so that a
     * replica installing a full sync (which closes the store) leaves it valid */
    int own = fcntl(sn->dirfd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
        snapshot_remove(sn);
        close(fd);
        rmdir(path);
        free(bk.target);
        bk.target = NULL;
        xutil_reply_status(c, OBK_ERR_IO);
        return;
    }
    sn->dirfd = own;
    bk.sn = sn;
    bk.targetfd = fd;
    bk.start_us = util_ustime();
    bk.info.start_time = bk.start_us / 1000000;
    bk.bytes_done = bk.files_done = bk.files_linked = 0;
    bk.info.in_progress = 1;
    bk.info.bytes_total = sn->bytes;
    bk.info.files_total = sn->nfiles;
    bk.result = OBK_OK;
    bk.rate = server_config.backup_max_bytes_per_sec;
    bk.copied = 0;
    bk.copy_start_us = util_ustime();
    if (pthread_create(&bk.thread, NULL, backup_main, NULL) != 0) {
        release_snapshot();
        close(fd);
        free(bk.target);
        bk.target = NULL;
        bk.info.in_progress = 0;
        reply_error(&c->reply, ERR_OUT_OF_MEMORY);
        return;
    }
    bk.running = 1;
    log_msg(LOG_NOTICE, "Backup to %s started: %zu files, %llu bytes", path, sn->nfiles,
            (unsigned long long)sn->bytes);
    if (async || (c->flags & CLIENT_MULTI)) {
        reply_simple(&c->reply, started);
        return;
    }
    struct blocking_request req = {backup_serve, 0, NULL, NULL, NULL, 0, 0, 0, NULL};
    if (blocking_block(c, &req) != 0) {
        reply_simple(&c->reply, started); /* it runs; INFO tells when it is done */
        return;
    }
    bk.waiter = c->id;
}

static void cmd_backup(CMD_ARGS) {
    int async = argc == 3 && util_eq_nocase(argv[2], argvlen[2], "ASYNC");
    if (argc == 3 && !async)
        reply_error(&c->reply, ERR_SYNTAX);
    else
        start_backup(c, argv[1], async, "ERR a backup is already in progress", "Backup started");
}

/* SAVE / BGSAVE: a backup into a new directory under backup-dir. */
static void save_to_backup_dir(struct client *c, int async) {
    char path[4096];
    if (!server_config.backup_dir[0]) {
        reply_error(&c->reply, ERR_SAVE_NO_BACKUP_DIR);
        return;
    }
    snprintf(path, sizeof path, "%s/backup-%lld", server_config.backup_dir, util_mstime());
    start_backup(c, path, async, "ERR Background save already in progress",
                 "Background saving started");
}

static void cmd_save(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    save_to_backup_dir(c, 0);
}

/* BGSAVE [SCHEDULE]: SCHEDULE changes nothing (Redis schedules behind an AOF rewrite, which
 * Obelisk never runs), but a backup already running is refused as Redis refuses a second
 * BGSAVE. */
static void cmd_bgsave(CMD_ARGS) {
    if (argc == 2 && !util_eq_nocase(argv[1], argvlen[1], "SCHEDULE")) {
        reply_error(&c->reply, ERR_SYNTAX);
        return;
    }
    save_to_backup_dir(c, 1);
}

/* LASTSAVE: when the last backup succeeded; the server's start before the first (Redis's value
 * before its first save). */
static void cmd_lastsave(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    reply_int(&c->reply, bk.info.last_ok_time ? bk.info.last_ok_time : runtime.start_ms / 1000);
}

void backup_get_info(struct backup_info *out) {
    *out = bk.info;
    if (bk.running) {
        out->bytes_done = load(&bk.bytes_done);
        out->files_done = load(&bk.files_done);
        out->files_linked = load(&bk.files_linked);
    }
}

void backup_shutdown(void) {
    if (bk.running) {
        log_msg(LOG_WARNING, "Shutdown waits for the backup to %s to finish", bk.target);
        pthread_join(bk.thread, NULL);
        bk.running = 0;
        release_snapshot();
        close(bk.targetfd);
        free(bk.target);
        bk.target = NULL;
    }
    if (bk.done_ev) event_free(bk.done_ev);
    bk.done_ev = NULL;
    for (int i = 0; i < 2; i++)
        if (bk.pipefd[i] >= 0) close(bk.pipefd[i]), bk.pipefd[i] = -1;
}

#define F(x) CMD_##x

/* Merged into the command table by command_table_init (command.c). */
struct command backup_commands[] = {
    {"backup", cmd_backup, -2, F(ADMIN) | F(NOSCRIPT), 0, 0, 0, "server", "7.0.15",
     "Copies the data set of this moment into a new directory while the server runs (Obelisk).",
     "O(N) for N bytes copied", .args = "path:string ASYNC!?"},
    {"save", cmd_save, 1, F(ADMIN) | F(NOSCRIPT) | F(NO_MULTI), 0, 0, 0, "server", "1.0.0",
     "Synchronously saves the database(s) to disk.",
     "O(N) where N is the total number of keys "
     "in all databases"},
    {"bgsave", cmd_bgsave, -1, F(ADMIN) | F(NOSCRIPT), 0, 0, 0, "server", "1.0.0",
     "Asynchronously saves the database(s) to disk.", "O(1)", .args = "SCHEDULE!?"},
    {"lastsave", cmd_lastsave, 1, F(LOADING) | F(STALE) | F(FAST), 0, 0, 0, "server", "1.0.0",
     "Returns the Unix timestamp of the last successful save to disk.", "O(1)",
     .tips = "nondeterministic_output"},
    {NULL},
};
