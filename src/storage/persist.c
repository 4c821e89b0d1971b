/* persist.c - the persist thread (see persist.h for the contract).
 *
 * Shape of Redis's bio.c: one mutex and condition variable guard the submission queue; the
 * thread takes every queued submission at once, runs their operations in order, fsyncs per
 * policy and publishes (under the mutex) the highest sequence completed. Several submissions
 * taken together share one round of fsyncs: a second group commit on top of the main thread's.
 *
 * Durability order: a submission's writes, then fdatasync of every file they dirtied, or one
 * syncfs when they are many (policy always), then the completion. With the write-ahead log a
 * round's writes to tagged files are also its records, and the log's one fdatasync makes the
 * round durable; the bytes of segments and indexes may then wait in memory and reach their files
 * later in one write per file (deferred writes, below; the published filed_seq tells the cache
 * what it may evict). Replace operations write tmp, fsync, rename, fsync the directory, so a
 * crash leaves the old or the new file, never a torn one; a round shares those syncs among its
 * replacements and new names (below: "replacements of a round", "directory syncs of a round").
 *
 * Descriptors: write descriptors are opened on first use and kept in an LRU capped at the
 * storage budget's write share (persist_set_max_files); the least recently used one is closed
 * to make room, after an fdatasync when it has unsynced writes, and opened again by name when
 * needed. Out of descriptors (EMFILE, ENFILE) is not an I/O error: the thread closes its idle
 * descriptors and tries again, then waits for one to come back (px_openat).
 *
 * Ownership: the pfile handles, the dirty list, the write LRU and everything in a taken
 * submission belong to this thread; the main thread only builds submissions and reads the
 * published counters. Except for an inline round (persist_run_inline): while the thread is idle
 * the main thread may take one small round and run it itself, with the same code; the busy flag
 * (under mu) keeps the two from running rounds at once, and the mutex orders what each leaves for
 * the other. */
#include "storage/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/obk_assert.h"
#include "base/status.h"
#include "base/util.h"
#include "storage/fdlru.h"
#include "storage/wal.h"
#include "persist_impl.h"

/* everysec: the interval between fsyncs of written data, as Redis's appendfsync everysec. */
#define PERSIST_EVERYSEC_US 1000000
/* pwritev accepts at most IOV_MAX buffers; consecutive writes to one file are gathered. */
#define PERSIST_IOV_MAX 64
/* How long an open waits for a descriptor to come back before it counts as a failure. */
#define PERSIST_NOFILE_WAIT_MS 10000

/* A set of files (dirty, behind, deferred): an array, each member's slot set while it is in. */
enum pflist_kind { PFL_DIRTY, PFL_BEHIND, PFL_DEFERRED };
struct pflist {
    struct pfile **v;
    size_t n, cap;
    int kind; /* enum pflist_kind: which slot of struct pfile holds a member's place */
};

struct persist {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const struct fileops *ops;
    int efd;
    int stop;
    int hold; /* test hook: take no submission and sync nothing while set, under mu */
    int busy; /* under mu: a round is running (on the thread, or inline on the main thread) */
    int busy_waiter; /* under mu: the thread waits for an inline round to end */
    int policy;
    struct psub *qhead, *qtail;
    uint64_t submitted_seq;       /* main thread writes, under mu */
    uint64_t finished_seq;        /* under mu */
    uint64_t written_seq;         /* highest seq written without error, under mu */
    uint64_t synced_seq;          /* highest seq whose writes are also synced, under mu */
    uint64_t filed_seq;           /* highest seq whose writes are all in their files, under mu */
    int error;                    /* sticky, under mu */
    struct persist_stats st;      /* under mu */
    size_t max_files;             /* write descriptors kept open (0: no cap), under mu */
    struct wal *wal;              /* the write-ahead log (NULL: none), the thread's once set */
    uint64_t ckpt_bytes;          /* checkpoint when this much log is pending... */
    long long ckpt_us;            /* ... or when the oldest pending record is this old */
    int ckpt_request;             /* under mu: the next round checkpoints (drain) */
    struct persist_wal_stats ws;  /* under mu */
    uint64_t defer_max;           /* under mu: deferred bytes held at most (0: no deferral) */
    uint64_t file_req, file_done; /* under mu: filings asked for, and the last one served */
    /* thread-owned */
    struct pflist dirty;     /* files to sync per policy */
    struct pflist behind;    /* files whose unsynced writes the log holds: synced at checkpoints */
    struct pflist deferred;  /* files with logged writes waiting in memory (px_defer) */
    uint64_t deferred_bytes; /* buffer bytes those hold */
    uint64_t run_defer_max;  /* defer_max as of the batch being run */
    uint64_t run_file_done;  /* the last filing request served (published as file_done) */
    int wal_unsynced;        /* records written but not yet fdatasynced */
    uint64_t closed_behind;  /* files closed while behind the log, unsynced: syncfs at checkpoint */
    uint64_t closed_dirty;   /* files closed with unsynced writes: syncfs at the next round sync */
    int run_policy;          /* the policy as of the batch being run */
    uint64_t round_records;  /* records appended to the log by the batch being run */
    uint64_t round_bytes;    /* bytes its writes took, published with the round's other counts */
    int round_logs;          /* the batch being run goes through the log (px_round_logs) */
    uint64_t round_no;       /* numbers the batches (pfile.round marks the files of one) */
    uint64_t direct_bytes;   /* under mu: px_round_logs's threshold (0: always the log) */
    uint64_t run_ckpt_bytes; /* ckpt_bytes and ckpt_us as of the batch being run */
    long long run_ckpt_us;
    long long ckpt_start_us; /* when the log last went from empty to pending */
    long long last_sync_us;
    int thread_error;        /* the thread's copy of the sticky error */
    unsigned run_syncfs_min; /* syncfs_min as of the batch being run */
    struct fdlru wfds;       /* open write descriptors, capped at max_files as of the batch */
    int *dirs;            /* directories whose fsync waits for the end of the ops (px_dir_later) */
    int round_synced_all; /* the round ran a syncfs before its ops (px_prepare_replaces) */
    size_t ndirs, dirs_cap;
    uint8_t *dir_marks; /* indexed by descriptor: 1 while it is in dirs */
    size_t dir_marks_cap;
    /* syncfs: set by persist_set_syncfs under mu; the descriptor is the thread's to use */
    int syncfs_fd;
    unsigned syncfs_min;
};

/* ---- persist thread ---- */

/* The errno a failed write-ahead log call stands for (its status kept ENOSPC apart). */
static int wal_errno(int status) {
    return status == OBK_ERR_NOSPC ? ENOSPC : EIO;
}

static int px_fail(struct persist *p, int err, const char *what, const char *name) {
    int st = fileops_status(err);
    if (p->thread_error == OBK_OK) {
        log_msg(LOG_WARNING, "persist: %s %s failed: %s; writes are refused from now on", what,
                name, strerror(err));
        p->thread_error = st;
    }
    return st;
}

/* The bucket of v among ascending bounds (n bounds, n + 1 buckets). */
static size_t bucket_of(uint64_t v, const uint64_t *bounds, size_t n) {
    size_t i = 0;
    while (i < n && v > bounds[i]) i++;
    return i;
}

static const uint64_t fsync_bounds_us[] = PERSIST_FSYNC_BOUNDS_US;
static const uint64_t batch_bounds_bytes[] = PERSIST_BATCH_BOUNDS_BYTES;
#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(NBOUNDS(fsync_bounds_us) + 1 == PERSIST_FSYNC_BUCKETS, "fsync buckets");
_Static_assert(NBOUNDS(batch_bounds_bytes) + 1 == PERSIST_BATCH_BUCKETS, "batch buckets");

/* Counts a sync that started at t0 (fsync statistics; the log's fdatasync counts too). */
static void px_count_sync(struct persist *p, long long t0, int is_syncfs) {
    uint64_t us = (uint64_t)(util_monotonic_us() - t0);
    pthread_mutex_lock(&p->mu);
    p->st.fsyncs++;
    if (is_syncfs) p->st.syncfs_calls++;
    p->st.fsync_us_total += us;
    if (us > p->st.fsync_us_max) p->st.fsync_us_max = us;
    p->st.fsync_buckets[bucket_of(us, fsync_bounds_us, NBOUNDS(fsync_bounds_us))]++;
    p->st.last_fsync_ms = util_mstime();
    pthread_mutex_unlock(&p->mu);
}

/* One timed sync call (fdatasync of a file, or syncfs of the data directory's filesystem). */
static int px_timed_sync(struct persist *p, int (*sync_fn)(int), int fd, const char *call,
                         const char *name) {
    long long t0 = util_monotonic_us();
    if (sync_fn(fd) != 0) return px_fail(p, errno, call, name);
    px_count_sync(p, t0, sync_fn == p->ops->syncfs);
    return OBK_OK;
}

static int px_sync_fd(struct persist *p, int fd, const char *name) {
    return px_timed_sync(p, p->ops->fdatasync, fd, "fdatasync", name);
}

static int px_sync_dir(struct persist *p, int dirfd) {
    if (p->ops->fsync(dirfd) != 0) return px_fail(p, errno, "fsync", "directory");
    return OBK_OK;
}

/* 1 when checkpoints sync with syncfs, which reaches the pages of closed files too. */
static int px_has_syncfs(const struct persist *p) {
    return p->syncfs_fd >= 0 && p->run_syncfs_min > 0;
}

/* ---- directory syncs of a round ----
 * A name created (a new file, a new topic's directory) or replaced (a rename over the old file)
 * must be durable before the round that made it is published, not at once: its directory's fsync
 * waits in a set until the round's operations end (px_dirs_sync), so a round that creates a
 * thousand topics syncs each directory once instead of three times, and the database's once for
 * all of them. When the round already ran a syncfs for its replacements (px_prepare_replaces),
 * one more syncfs covers all the directories; otherwise each gets its fsync (a syncfs would also
 * write out every file behind the log, which only checkpoints should pay for). Nothing between
 * the two points may rely on the name: the operations that destroy or close something (an
 * unlink, a tree's removal, a directory's close) and an explicit file sync run the waiting syncs
 * first, so a name made before them is durable before what they do; a create in a directory
 * with a rename waiting syncs that directory first, so a new topic's topic.meta is durable before
 * its first segment's name can be (recovery rebuilds a missing topic.meta from a hex-named
 * directory, but not from a hashed one); and the log's records are written after them, so a
 * replay never meets a record whose file may vanish in a cut (it would skip it, which is right
 * only for a round never acknowledged). dir_marks: 1 waiting, 2 waiting with a rename. */
static int px_dir_later(struct persist *p, int dirfd, int renamed) {
    OBK_ASSERT(dirfd >= 0);
    size_t fd = (size_t)dirfd;
    if (fd >= p->dir_marks_cap) {
        size_t cap = p->dir_marks_cap ? p->dir_marks_cap : 64;
        while (cap <= fd) cap *= 2;
        uint8_t *nm = realloc(p->dir_marks, cap);
        if (!nm) return px_sync_dir(p, dirfd); /* at once instead: slower, as safe */
        memset(nm + p->dir_marks_cap, 0, cap - p->dir_marks_cap);
        p->dir_marks = nm;
        p->dir_marks_cap = cap;
    }
    if (p->dir_marks[fd]) {
        if (renamed) p->dir_marks[fd] = 2;
        return OBK_OK;
    }
    if (p->ndirs == p->dirs_cap) {
        size_t cap = p->dirs_cap ? 2 * p->dirs_cap : 16;
        int *nd = realloc(p->dirs, cap * sizeof *nd);
        if (!nd) return px_sync_dir(p, dirfd);
        p->dirs = nd;
        p->dirs_cap = cap;
    }
    p->dirs[p->ndirs++] = dirfd;
    p->dir_marks[fd] = renamed ? 2 : 1;
    return OBK_OK;
}

/* Before a file is created in dirfd: a rename waiting there is made durable first. */
static int px_dir_before_create(struct persist *p, int dirfd) {
    if ((size_t)dirfd >= p->dir_marks_cap || p->dir_marks[dirfd] != 2) return OBK_OK;
    p->dir_marks[dirfd] = 0; /* its entry in dirs stays, skipped until marked again */
    return px_sync_dir(p, dirfd);
}

/* Runs the waiting directory syncs (after an error only forgets them: nothing is published as
 * synced then). */
static int px_dirs_sync(struct persist *p) {
    int rc = p->thread_error;
    if (rc == OBK_OK && p->round_synced_all && p->ndirs >= 2 && px_has_syncfs(p))
        rc = px_timed_sync(p, p->ops->syncfs, p->syncfs_fd, "syncfs", "data directory");
    else
        for (size_t i = 0; i < p->ndirs && rc == OBK_OK; i++) {
            if (!p->dir_marks[p->dirs[i]]) continue; /* synced already, or listed twice */
            p->dir_marks[p->dirs[i]] = 0;
            rc = px_sync_dir(p, p->dirs[i]);
        }
    for (size_t i = 0; i < p->ndirs; i++) p->dir_marks[p->dirs[i]] = 0;
    p->ndirs = 0;
    return rc;
}

/* A list's member slot in pf: 1 + its index there, 0 when not in it (O(1) removal: thousands of
 * files may be dirty or behind at once, and each descriptor closed leaves its list). */
static size_t *pflist_slot(const struct pflist *l, struct pfile *pf) {
    switch (l->kind) {
    case PFL_BEHIND: return &pf->behind;
    case PFL_DEFERRED: return &pf->deferred;
    default: return &pf->dirty;
    }
}

static int pflist_add(struct persist *p, struct pflist *l, struct pfile *pf) {
    size_t *slot = pflist_slot(l, pf);
    if (*slot) return OBK_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct pfile **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return px_fail(p, ENOMEM, "track", pf->name);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = pf;
    *slot = l->n;
    return OBK_OK;
}

static void pflist_remove(struct pflist *l, struct pfile *pf) {
    size_t *slot = pflist_slot(l, pf);
    if (!*slot) return;
    size_t i = *slot - 1;
    OBK_ASSERT(i < l->n && l->v[i] == pf);
    l->v[i] = l->v[--l->n];
    if (i < l->n) *pflist_slot(l, l->v[i]) = i + 1;
    *slot = 0;
}

/* Takes the last member out (the sync loops empty a list from its end). */
static struct pfile *pflist_pop(struct pflist *l) {
    struct pfile *pf = l->v[--l->n];
    *pflist_slot(l, pf) = 0;
    return pf;
}

/* Forgets that pf has unsynced writes (it is being synced, or its writes no longer matter);
 * returns 1 when it had any. */
static int px_forget_unsynced(struct persist *p, struct pfile *pf) {
    int had = pf->dirty || pf->behind;
    pflist_remove(&p->dirty, pf);
    pflist_remove(&p->behind, pf);
    return had;
}

/* Before a file with unsynced writes is closed: with syncfs its pages are left to the next
 * syncfs, which the counts force (closed_dirty at the next sync of the round's files, which then
 * publishes nothing as synced before it; closed_behind at the next checkpoint): the syncfs
 * descriptor reports the writeback errors of every file, closed ones too. Without syncfs the
 * file is synced now (the descriptor that wrote it is the one that reports its errors; a failure
 * is sticky like any failed sync). Closing must not cost a sync each: a thousand active topics
 * under a descriptor share of a few thousand close files all the time. */
static int px_close_unsynced(struct persist *p, struct pfile *pf) {
    int dirty = pf->dirty != 0, behind = pf->behind != 0;
    px_forget_unsynced(p, pf);
    if (!dirty && !behind) return OBK_OK;
    if (px_has_syncfs(p)) {
        p->closed_dirty += dirty;
        p->closed_behind += behind;
        return OBK_OK;
    }
    return p->thread_error == OBK_OK ? px_sync_fd(p, pf->fd, pf->name) : p->thread_error;
}

/* fdlru_shrink's close function: the least recently used write descriptor is closed (after
 * px_close_unsynced). */
static void px_close_write(struct fdlru_node *x, void *ctx) {
    struct persist *p = ctx;
    struct pfile *pf = (struct pfile *)(void *)((char *)x - offsetof(struct pfile, lnode));
    px_close_unsynced(p, pf);
    fdlru_remove(&p->wfds, x);
    p->ops->close(pf->fd);
    pf->fd = -1;
}

/* openat through the table. Out of descriptors (EMFILE, ENFILE) is no I/O error: the storage
 * budget keeps this thread within its share, so what holds them is outside it (a full system
 * table, another program). The thread closes its idle write descriptors (none is in use while
 * it opens) and tries again, then waits for descriptors to come back, 10 ms growing to 200 ms
 * between tries and logged once a second, up to PERSIST_NOFILE_WAIT_MS; only then does the
 * open fail (and the failure is sticky, as for any failed open). */
static int px_openat(struct persist *p, int dirfd, const char *name, int flags, mode_t mode) {
    long long start_ms = 0, logged_ms = 0;
    long step_ms = 10;
    for (;;) {
        int fd = p->ops->openat(dirfd, name, flags, mode);
        if (fd >= 0 || (errno != EMFILE && errno != ENFILE)) return fd;
        int err = errno;
        if (fdlru_shrink(&p->wfds, 0, px_close_write, p) > 0 && p->thread_error == OBK_OK) continue;
        long long now = util_monotonic_us() / 1000;
        if (!start_ms) start_ms = now;
        if (now - start_ms >= PERSIST_NOFILE_WAIT_MS || p->thread_error != OBK_OK) {
            errno = err;
            return -1;
        }
        if (now - logged_ms >= 1000) {
            log_msg(LOG_WARNING, "persist: out of file descriptors opening %s (%s); waiting", name,
                    strerror(err));
            logged_ms = now;
        }
        pthread_mutex_lock(&p->mu);
        p->st.nofile_waits++;
        pthread_mutex_unlock(&p->mu);
        struct timespec ts = {0, step_ms * 1000000L};
        nanosleep(&ts, NULL);
        if (step_ms < 200) step_ms *= 2;
    }
}

static int px_open_file(struct persist *p, struct pfile *pf) {
    int fl = O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
    pf->fd = px_openat(p, pf->dirfd, pf->name, fl, 0600);
    if (pf->fd >= 0) {
        pf->exists = 1;
        return OBK_OK;
    }
    if (errno != ENOENT) return px_fail(p, errno, "open", pf->name);
    int rc = px_dir_before_create(p, pf->dirfd);
    if (rc != OBK_OK) return rc;
    pf->fd = px_openat(p, pf->dirfd, pf->name, fl | O_CREAT | O_EXCL, 0600);
    if (pf->fd < 0) return px_fail(p, errno, "create", pf->name);
    rc = px_dir_later(p, pf->dirfd, 0); /* the new name must survive a crash */
    if (rc == OBK_OK) pf->exists = 1;
    return rc;
}

/* Opens pf unless open (closing the least recently used write descriptor first when the cap
 * is reached) and marks it used. */
static int px_open(struct persist *p, struct pfile *pf) {
    int rc = OBK_OK;
    if (pf->fd < 0) {
        fdlru_make_room(&p->wfds, px_close_write, p);
        if (p->thread_error != OBK_OK) return p->thread_error; /* a sync to make room failed */
        rc = px_open_file(p, pf);
    }
    if (pf->fd >= 0) fdlru_touch(&p->wfds, &pf->lnode);
    return rc;
}

/* Writes all bytes of iov at pos, continuing after short writes; a write of 0 bytes counts as
 * out of space (the kernel reports no error but makes no progress). */
static int px_pwritev_all(struct persist *p, struct pfile *pf, struct iovec *iov, int cnt,
                          uint64_t pos) {
    while (cnt > 0) {
        ssize_t n = p->ops->pwritev(pf->fd, iov, cnt, (off_t)pos);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return px_fail(p, errno, "write", pf->name);
        if (n == 0) return px_fail(p, ENOSPC, "write", pf->name);
        pos += (uint64_t)n;
        size_t left = (size_t)n;
        while (cnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return OBK_OK;
}

/* In a round that takes the log (px_round_logs), the writes first..last (one run of one tagged
 * file) become records of the log; 1 when they did (the file is then behind the log), 0 when the
 * file is synced per policy instead (a round that skips the log, an untagged file, a record too
 * large for a log file). A failed append is sticky and counts as logged: nothing after it is
 * acknowledged. */
static int px_logged(struct persist *p, struct pfile *pf, struct pop *first, struct pop *last) {
    if (!p->round_logs || !pf->tagged) return 0;
    uint64_t before = wal_pending_bytes(p->wal);
    for (struct pop *op = first;; op = op->next) {
        struct wal_rec r = {.type = WAL_REC_WRITE,
                            .db = pf->wal_db,
                            .topic = pf->wal_topic,
                            .aux1 = pf->wal_file,
                            .aux2 = op->pos,
                            .payload = op->data,
                            .len = (uint32_t)op->len};
        int rc = op->len > UINT32_MAX ? OBK_ERR_TOOBIG : wal_append(p->wal, &r);
        if (rc == OBK_ERR_TOOBIG && op == first && op == last) return 0; /* sync it instead */
        if (rc != OBK_OK) {
            px_fail(p, rc == OBK_ERR_TOOBIG ? EFBIG : EIO, "log write for", pf->name);
            return 1;
        }
        p->round_records++;
        if (op == last) break;
    }
    if (before == 0 && wal_pending_bytes(p->wal) > 0) p->ckpt_start_us = util_monotonic_us();
    return 1;
}

/* Whether a batch of submissions goes through the log: under always, unless it writes
 * direct_bytes or more per file it writes (a big single-topic round: the log would only write its
 * bytes twice, once in the log and once more at the checkpoint, where one fdatasync of its one
 * file costs less). A round of many files, or of small writes, takes the log. Under everysec and
 * no, rounds sync nothing, so the log would only add a write per round: they go straight to the
 * files (everysec's once-a-second sync is one syncfs). Mixing is safe: the files only ever grow,
 * so a record never holds bytes that a later direct write changed, and a replay writes back only
 * bytes the file had. */
static int px_round_logs(struct persist *p, struct psub *batch, int policy, uint64_t direct_bytes) {
    if (!p->wal || policy != PERSIST_FSYNC_ALWAYS) return 0;
    if (!direct_bytes) return 1;
    uint64_t bytes = 0, files = 0;
    p->round_no++;
    for (struct psub *s = batch; s; s = s->next)
        for (struct pop *op = s->head; op; op = op->next)
            if (op->kind == POP_WRITE && op->pf->tagged) {
                bytes += op->len;
                if (op->pf->round != p->round_no) {
                    op->pf->round = p->round_no;
                    files++;
                }
            }
    return files == 0 || bytes < direct_bytes * files;
}

/* ---- deferred writes ----
 * In a round that takes the log, a write to a deferrable file (a segment or its index) is done
 * once its record is in the log: its bytes wait in the file's buffer and reach the file later,
 * many rounds' worth in one pwrite (px_file). A round over a thousand topics then costs one log
 * write and one fdatasync instead of a thousand pwrites (and, past the descriptor share, as many
 * opens and closes). The bytes are filed before any other operation on the file (a sync, a
 * close, a write that skips the log), at every checkpoint before the files behind the log are
 * synced, when the buffers hold more than defer_max bytes, and when the main thread asks
 * (persist_request_filing: its cache is full of entries not in the files yet;
 * persist_wait_written: a snapshot links the files). Until then the cache keeps the entries
 * (filed_seq) and a crash replays them from the log, as it replays any record not yet
 * checkpointed. */

static void px_drop_deferred(struct persist *p, struct pfile *pf) {
    pflist_remove(&p->deferred, pf);
    p->deferred_bytes -= pf->dcap;
    free(pf->dbuf);
    pf->dbuf = NULL;
    pf->dlen = pf->dcap = 0;
}

/* Writes pf's waiting bytes into the file, which is then behind the log (synced at the next
 * checkpoint). On failure (sticky) the bytes stay until the file is freed. */
static int px_file(struct persist *p, struct pfile *pf) {
    if (!pf->deferred) return OBK_OK;
    int rc = p->thread_error;
    if (rc == OBK_OK) rc = px_open(p, pf);
    if (rc == OBK_OK) {
        struct iovec iov = {pf->dbuf, pf->dlen};
        rc = px_pwritev_all(p, pf, &iov, 1, pf->dpos);
    }
    if (rc == OBK_OK) rc = pflist_add(p, &p->behind, pf);
    if (rc == OBK_OK) px_drop_deferred(p, pf);
    return rc;
}

static int px_file_all(struct persist *p) {
    if (p->deferred.n == 0) return OBK_OK;
    int rc = OBK_OK;
    while (p->deferred.n > 0 && rc == OBK_OK) rc = px_file(p, p->deferred.v[p->deferred.n - 1]);
    pthread_mutex_lock(&p->mu);
    p->ws.filings++;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Keeps the run iov[0..cnt) (total bytes at pos) in pf's buffer; bytes that do not continue
 * the waiting ones file those first. */
static int px_defer(struct persist *p, struct pfile *pf, const struct iovec *iov, int cnt,
                    uint64_t pos, size_t total) {
    int rc = OBK_OK;
    /* the file must exist before its bytes may wait: a replay skips records of a missing file
     * (that file was deleted later) */
    if (!pf->exists && (rc = px_open(p, pf)) != OBK_OK) return rc;
    if (pf->deferred && pos != pf->dpos + pf->dlen && (rc = px_file(p, pf)) != OBK_OK) return rc;
    if (!pf->deferred) {
        pf->dpos = pos;
        pf->dlen = 0;
    }
    if (pf->dlen + total > pf->dcap) {
        size_t cap = pf->dcap ? pf->dcap : 512;
        while (cap < pf->dlen + total) cap *= 2;
        uint8_t *nb = realloc(pf->dbuf, cap);
        if (!nb) return px_fail(p, ENOMEM, "defer", pf->name);
        p->deferred_bytes += cap - pf->dcap;
        pf->dbuf = nb;
        pf->dcap = cap;
    }
    for (int i = 0; i < cnt; i++) {
        memcpy(pf->dbuf + pf->dlen, iov[i].iov_base, iov[i].iov_len);
        pf->dlen += iov[i].iov_len;
    }
    return pflist_add(p, &p->deferred, pf);
}

/* Runs a POP_WRITE and the writes right after it that continue the same file; returns the last
 * operation consumed. Logged writes to a deferrable file wait in memory (px_defer); the others
 * go to the file now, after any bytes of it still waiting. */
static int px_write(struct persist *p, struct pop **opp) {
    struct pop *op = *opp, *first = op;
    struct pfile *pf = op->pf;
    struct iovec iov[PERSIST_IOV_MAX];
    int cnt = 0;
    uint64_t pos = op->pos, end = op->pos, total = 0;
    for (;;) {
        iov[cnt].iov_base = op->data;
        iov[cnt].iov_len = op->len;
        cnt++;
        end += op->len;
        total += op->len;
        struct pop *n = op->next;
        if (!n || n->kind != POP_WRITE || n->pf != pf || n->pos != end || cnt == PERSIST_IOV_MAX)
            break;
        op = n;
    }
    *opp = op;
    int logged = px_logged(p, pf, first, op);
    int rc = p->thread_error;
    if (rc == OBK_OK && logged && pf->deferrable && p->run_defer_max) {
        rc = px_defer(p, pf, iov, cnt, pos, (size_t)total);
    } else if (rc == OBK_OK) {
        if ((rc = px_file(p, pf)) == OBK_OK && (rc = px_open(p, pf)) == OBK_OK &&
            (rc = px_pwritev_all(p, pf, iov, cnt, pos)) == OBK_OK)
            rc = pflist_add(p, logged ? &p->behind : &p->dirty, pf);
    }
    if (rc != OBK_OK) return rc;
    p->round_bytes += total; /* not under mu here: a round over many topics writes many files */
    return OBK_OK;
}

/* The temporary name a replacement is written under before its rename: op->name + ".tmp". */
enum { PX_TMP_NAME_MAX = PFILE_NAME_MAX + 8 };
static void px_tmp_name(const struct pop *op, char tmp[PX_TMP_NAME_MAX]) {
    snprintf(tmp, PX_TMP_NAME_MAX, "%s.tmp", op->name);
}

/* Writes op's temporary file, truncated or, with excl, created new (when it is already there
 * *existed is set and nothing is written), and syncs it unless nosync. */
static int px_write_tmp(struct persist *p, const struct pop *op, int excl, int nosync,
                        int *existed) {
    char tmp[PX_TMP_NAME_MAX];
    px_tmp_name(op, tmp);
    *existed = 0;
    int fl = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (excl ? O_EXCL : O_TRUNC);
    int fd = px_openat(p, op->dirfd, tmp, fl, 0600);
    if (fd < 0 && excl && errno == EEXIST) {
        *existed = 1;
        return OBK_OK;
    }
    if (fd < 0) return px_fail(p, errno, "create", tmp);
    struct iovec iov = {op->data, op->len};
    struct pfile tmpf = {.dirfd = op->dirfd, .fd = fd};
    snprintf(tmpf.name, sizeof tmpf.name, "%s", tmp);
    int rc = op->len ? px_pwritev_all(p, &tmpf, &iov, 1, 0) : OBK_OK;
    if (rc == OBK_OK && !nosync && p->ops->fsync(fd) != 0) rc = px_fail(p, errno, "fsync", tmp);
    p->ops->close(fd);
    return rc;
}

/* ---- replacements of a round ----
 * A replace writes name.tmp, syncs it and renames it over name; on a journaling filesystem each
 * of those syncs is a commit of its own, which the next file's create then waits for, and a
 * round that creates a thousand topics replaces a thousand topic.meta files. When a round holds
 * syncfs-min-files replacements or more (syncfs on), their temporary files are all written in
 * one pass before its operations and made durable by one syncfs; each replace then only renames
 * in its turn. A temporary name that is already there (a second replace of the same file in the
 * round, or one a crash left) keeps the per-file path. Writing them early changes nothing a
 * crash could show: temporary names are never read back. */
static int px_prepare_replaces(struct persist *p, struct psub *batch) {
    size_t n = 0, ready = 0;
    if (p->thread_error != OBK_OK || !px_has_syncfs(p)) return p->thread_error;
    for (struct psub *s = batch; s; s = s->next)
        for (struct pop *op = s->head; op; op = op->next) n += op->kind == POP_REPLACE;
    if (n < 2 || n < p->run_syncfs_min) return OBK_OK;
    int rc = OBK_OK;
    for (struct psub *s = batch; s && rc == OBK_OK; s = s->next)
        for (struct pop *op = s->head; op && rc == OBK_OK; op = op->next) {
            if (op->kind != POP_REPLACE) continue;
            int existed;
            rc = px_write_tmp(p, op, 1, 1, &existed);
            if (rc == OBK_OK && !existed) { /* one already there takes the per-file path */
                op->flag = 1;
                ready++;
            }
        }
    if (rc == OBK_OK && ready > 0) {
        rc = px_timed_sync(p, p->ops->syncfs, p->syncfs_fd, "syncfs", "data directory");
        p->round_synced_all = 1;
    }
    /* A replacement whose file does not exist yet (a new topic's topic.meta, a new group
     * store's files) replaces nothing: renamed now, it is as if it ran first, and its name is
     * durable before the round's other operations, so that a new topic's segments are never
     * created ahead of its topic.meta (px_dir_before_create); the directories of all of them are
     * synced together, once a round.
     * (Only this thread makes names inside a topic's directory, so the check cannot race.) */
    size_t renamed = 0;
    for (struct psub *s = batch; s && rc == OBK_OK && ready > 0; s = s->next)
        for (struct pop *op = s->head; op && rc == OBK_OK; op = op->next) {
            struct stat st;
            if (op->kind != POP_REPLACE || op->flag != 1 ||
                fstatat(op->dirfd, op->name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
                continue;
            char tmp[PX_TMP_NAME_MAX];
            px_tmp_name(op, tmp);
            if (p->ops->renameat(op->dirfd, tmp, op->dirfd, op->name) != 0)
                rc = px_fail(p, errno, "rename", op->name);
            else if ((rc = px_dir_later(p, op->dirfd, 0)) == OBK_OK)
                op->flag = 2;
            renamed++;
        }
    if (rc == OBK_OK && renamed > 0) rc = px_dirs_sync(p);
    return rc;
}

static int px_replace(struct persist *p, struct pop *op) {
    if (op->flag == 2) return OBK_OK; /* done before the round's operations */
    char tmp[PX_TMP_NAME_MAX];
    int existed;
    px_tmp_name(op, tmp);
    int rc = op->flag ? OBK_OK : px_write_tmp(p, op, 0, 0, &existed);
    if (rc != OBK_OK) return rc;
    if (p->ops->renameat(op->dirfd, tmp, op->dirfd, op->name) != 0)
        return px_fail(p, errno, "rename", op->name);
    return px_dir_later(p, op->dirfd, 1);
}

static int px_rmtree(struct persist *p, struct pop *op) {
    int dfd = px_openat(p, op->dirfd, op->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (dfd < 0) return errno == ENOENT ? OBK_OK : px_fail(p, errno, "open", op->name);
    DIR *d = fdopendir(dfd);
    if (!d) {
        int err = errno;
        p->ops->close(dfd);
        return px_fail(p, err, "opendir", op->name);
    }
    struct dirent *de;
    int rc = OBK_OK;
    while (rc == OBK_OK && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (p->ops->unlinkat(dfd, de->d_name, 0) != 0 && errno != ENOENT)
            rc = px_fail(p, errno, "unlink", de->d_name);
    }
    closedir(d);
    if (rc != OBK_OK) return rc;
    if (p->ops->unlinkat(op->dirfd, op->name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        return px_fail(p, errno, "rmdir", op->name);
    return px_sync_dir(p, op->dirfd);
}

/* Runs one operation (a write may consume several). Resource releases (free, close) run even
 * after an error so nothing leaks. */
static int px_run(struct persist *p, struct pop **opp) {
    struct pop *op = *opp;
    int failed = p->thread_error != OBK_OK;
    switch (op->kind) {
    case POP_WRITE: return failed ? p->thread_error : px_write(p, opp);
    case POP_SYNC: {
        int rc = failed ? p->thread_error : px_dirs_sync(p);
        if (rc == OBK_OK) rc = px_file(p, op->pf);
        if (rc != OBK_OK) return rc;
        if (op->pf->fd < 0) return OBK_OK;
        px_forget_unsynced(p, op->pf);
        return px_sync_fd(p, op->pf->fd, op->pf->name);
    }
    case POP_FREE: {
        int rc = OBK_OK;
        struct pfile *pf = op->pf;
        /* bytes still waiting belong in a kept file; an unlinked one needs none of them */
        if (pf->dbuf) {
            if (!op->flag && !failed) rc = px_file(p, pf);
            px_drop_deferred(p, pf);
        }
        /* a kept file behind the log is closed as the LRU closes one (px_close_unsynced): the
         * checkpoint that recycles its records must still reach it. (Dirty writes to a file
         * being freed were superseded by the operation that frees it; a seal syncs first.) */
        pflist_remove(&p->dirty, pf);
        if (pf->behind && !op->flag && !failed && rc == OBK_OK && pf->fd >= 0)
            rc = px_close_unsynced(p, pf);
        px_forget_unsynced(p, pf);
        if (pf->fd >= 0) {
            fdlru_remove(&p->wfds, &pf->lnode);
            p->ops->close(pf->fd);
        }
        if (op->flag && !failed && rc == OBK_OK) rc = px_dirs_sync(p);
        if (op->flag && !failed && rc == OBK_OK) {
            if (p->ops->unlinkat(pf->dirfd, pf->name, 0) != 0 && errno != ENOENT)
                rc = px_fail(p, errno, "unlink", pf->name);
            else
                rc = px_sync_dir(p, pf->dirfd);
        }
        free(pf);
        return rc;
    }
    case POP_REPLACE: return failed ? p->thread_error : px_replace(p, op);
    case POP_SYNC_DIR: return failed ? p->thread_error : px_dir_later(p, op->dirfd, 0);
    case POP_RMTREE: {
        int rc = px_dirs_sync(p);
        return rc != OBK_OK ? rc : px_rmtree(p, op);
    }
    case POP_CLOSE_DIR:
        px_dirs_sync(p); /* its number may be reused once closed; a failure stays sticky */
        p->ops->close(op->dirfd);
        pthread_mutex_lock(&p->mu);
        p->st.dirs_closed++;
        pthread_mutex_unlock(&p->mu);
        return OBK_OK;
    }
    return OBK_ERR_INVAL;
}

/* Makes every dirty file durable. Past run_syncfs_min files, one syncfs() of the data
 * directory's filesystem replaces the per-file fdatasyncs: on a journaling filesystem each
 * fdatasync of an appended file is its own journal commit, while syncfs writes everything and
 * commits once (bench: 100 files, 13 ms of fdatasyncs vs 1 ms). The syncfs descriptor was
 * opened before any write, so it reports every writeback error on the filesystem since
 * (Linux 5.8 and later), including other programs' files: a false alarm stops writes, a miss
 * cannot happen. */
static int px_sync_list(struct persist *p, struct pflist *l) {
    int rc = OBK_OK;
    /* files closed unsynced: only a syncfs reaches those */
    int closed = l->kind == PFL_BEHIND ? p->closed_behind > 0 : p->closed_dirty > 0;
    /* (closed counts only grow while syncfs is on, so its descriptor exists when they are set,
     * even if syncfs-min-files was set to 0 since) */
    if ((px_has_syncfs(p) && l->n >= p->run_syncfs_min) || (closed && p->syncfs_fd >= 0)) {
        p->closed_behind = p->closed_dirty = 0; /* a syncfs covers both kinds */
        rc = px_timed_sync(p, p->ops->syncfs, p->syncfs_fd, "syncfs", "data directory");
        while (l->n > 0) pflist_pop(l);
    }
    while (l->n > 0 && rc == OBK_OK) {
        struct pfile *pf = pflist_pop(l);
        rc = px_sync_fd(p, pf->fd, pf->name);
    }
    return rc;
}

/* Makes the round durable: the log's records (one fdatasync of the log) and the files
 * written outside the log. */
static int px_sync_dirty(struct persist *p) {
    int rc = OBK_OK;
    if (p->wal && p->wal_unsynced) {
        long long t0 = util_monotonic_us();
        rc = wal_sync(p->wal);
        if (rc != OBK_OK) {
            rc = px_fail(p, wal_errno(rc), "fdatasync", "write-ahead log");
        } else {
            p->wal_unsynced = 0;
            px_count_sync(p, t0, 0);
            pthread_mutex_lock(&p->mu);
            p->ws.syncs++;
            pthread_mutex_unlock(&p->mu);
        }
    }
    if (rc == OBK_OK) rc = px_sync_list(p, &p->dirty);
    p->last_sync_us = util_monotonic_us();
    return rc;
}

/* A checkpoint of the log: the deferred bytes are filed, the files behind the log synced (one
 * syncfs when they are many), then the log records that it starts at its end, and its files
 * before that are reused. After this a crash replays nothing written so far. */
static int px_checkpoint(struct persist *p) {
    if (!p->wal || p->thread_error != OBK_OK) return p->thread_error;
    if (p->behind.n == 0 && !p->closed_behind && wal_pending_bytes(p->wal) == 0 &&
        p->deferred.n == 0)
        return OBK_OK;
    long long t0 = util_monotonic_us();
    int rc = px_file_all(p);
    if (rc == OBK_OK) rc = px_sync_list(p, &p->behind);
    if (rc != OBK_OK) return rc;
    if ((rc = wal_checkpoint(p->wal, wal_end_lsn(p->wal))) != OBK_OK)
        return px_fail(p, wal_errno(rc), "checkpoint", "write-ahead log");
    uint64_t us = (uint64_t)(util_monotonic_us() - t0);
    pthread_mutex_lock(&p->mu);
    p->ws.checkpoints++;
    p->ws.last_checkpoint_us = us;
    pthread_mutex_unlock(&p->mu);
    return OBK_OK;
}

/* 1 when the log holds enough, or old enough, records for a checkpoint. */
static int px_checkpoint_due(const struct persist *p, long long now_us) {
    if (!p->wal) return 0;
    uint64_t pending = wal_pending_bytes(p->wal);
    if (pending == 0) return 0; /* nothing behind either: behind files have pending records */
    return pending >= p->run_ckpt_bytes || now_us - p->ckpt_start_us >= p->run_ckpt_us;
}

/* Publishes a round: finished is the last sequence it ran. When the thread has no error, all
 * of it is written; when no written file is left unsynced, all of it is synced too. The two
 * sequences only go up (asserted): replies are released against them. */
/* Publishes the round's outcome under mu; notify posts the eventfd (not for a round the main
 * thread ran itself, which reads the outcome at once). */
static void px_publish(struct persist *p, uint64_t finished, int notify) {
    OBK_ASSERT(p->ndirs == 0); /* every name the round made is durable (px_dirs_sync) */
    pthread_mutex_lock(&p->mu);
    /* published sequences never go down, and never pass what was submitted */
    OBK_ASSERT(finished >= p->finished_seq && finished <= p->submitted_seq);
    p->finished_seq = finished;
    if (p->thread_error == OBK_OK) {
        OBK_ASSERT(finished >= p->written_seq);
        p->written_seq = finished;
        if (p->dirty.n == 0 && !p->wal_unsynced && !p->closed_dirty) p->synced_seq = finished;
        if (p->deferred.n == 0) p->filed_seq = finished;
    }
    p->file_done = p->run_file_done;
    OBK_ASSERT(p->synced_seq <= p->written_seq && p->filed_seq <= p->written_seq);
    if (p->thread_error != OBK_OK) p->error = p->thread_error;
    p->st.error = p->error;
    p->st.write_fds = p->wfds.n;
    p->st.write_fd_evictions = p->wfds.evictions;
    if (p->wal) {
        p->ws.pending_bytes = wal_pending_bytes(p->wal);
        p->ws.start_lsn = wal_start_lsn(p->wal);
        p->ws.end_lsn = wal_end_lsn(p->wal);
        p->ws.deferred_bytes = p->deferred_bytes;
    }
    /* an inline round's caller is the only one who could wait on cv for it: no wake-up */
    if (notify) pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (!notify) return;
    uint64_t one = 1;
    ssize_t n = write(p->efd, &one, sizeof one);
    (void)n; /* a full counter already wakes the reader */
}

/* A round: the submissions taken at once and the settings they run with. */
struct px_round_in {
    struct psub *batch;
    int stop, policy, ckpt_request;
    uint64_t file_req, direct_bytes;
};

/* Under mu: takes every queued submission and the round's settings, and marks the round
 * running (busy) so that no other round starts until it is published. */
static void px_take(struct persist *p, struct px_round_in *in) {
    in->batch = p->qhead;
    p->qhead = p->qtail = NULL;
    in->stop = p->stop;
    in->policy = p->policy;
    in->ckpt_request = p->ckpt_request;
    p->ckpt_request = 0;
    p->run_policy = in->policy;
    p->run_ckpt_bytes = p->ckpt_bytes;
    p->run_ckpt_us = p->ckpt_us;
    p->round_records = 0;
    p->round_bytes = 0;
    p->run_defer_max = p->defer_max;
    in->file_req = p->file_req;
    in->direct_bytes = p->direct_bytes;
    p->run_syncfs_min = p->syncfs_min;
    fdlru_set_cap(&p->wfds, p->max_files);
    p->busy = 1;
}

/* Runs a taken round without mu: the operations in order, the log's write, the syncs per
 * policy, then the publication. On the persist thread (on_thread) it also checkpoints and files
 * deferred bytes when due; a round the main thread runs leaves those to the thread
 * (persist_run_inline). */
static void px_round(struct persist *p, const struct px_round_in *in, int on_thread) {
    struct psub *batch = in->batch;
    int policy = in->policy;
    p->round_logs = px_round_logs(p, batch, policy, in->direct_bytes);
    uint64_t last_seq = 0;
    uint64_t count = 0;
    uint64_t sizes[PERSIST_BATCH_BUCKETS] = {0}, size_total = 0; /* group-commit sizes */
    p->round_synced_all = 0;
    px_prepare_replaces(p, batch); /* a failure is kept in thread_error */
    for (struct psub *s = batch; s; s = s->next) {
        /* submissions run in the order of their strictly increasing sequences (finished_seq
         * is written only by the round that runs) */
        OBK_ASSERT(s->seq > last_seq && s->seq > p->finished_seq);
        sizes[bucket_of(s->bytes, batch_bounds_bytes, NBOUNDS(batch_bounds_bytes))]++;
        size_total += s->bytes;
        for (struct pop *op = s->head; op; op = op->next) {
            /* a failed op leaves thread_error set; later ops only release resources */
            px_run(p, &op);
        }
        last_seq = s->seq;
        count++;
    }
    px_dirs_sync(p); /* the names the round made, before its records (a failure is sticky) */
    if (p->round_records > 0 && p->thread_error == OBK_OK) {
        /* the round's records in one write; synced below with the other files */
        int wrc = wal_write(p->wal);
        if (wrc != OBK_OK) /* a full disk stays "no space", as for the other files */
            px_fail(p, wal_errno(wrc), "write", "write-ahead log");
        else
            p->wal_unsynced = 1;
        pthread_mutex_lock(&p->mu);
        p->ws.records += p->round_records;
        pthread_mutex_unlock(&p->mu);
    }
    int synced = 0;
    if (p->thread_error == OBK_OK && (p->dirty.n > 0 || p->wal_unsynced || p->closed_dirty) &&
        (policy == PERSIST_FSYNC_ALWAYS ||
         (policy == PERSIST_FSYNC_EVERYSEC &&
          util_monotonic_us() - p->last_sync_us >= PERSIST_EVERYSEC_US) ||
         (in->stop && !batch))) {
        px_sync_dirty(p); /* a failure is kept in thread_error */
        synced = 1;
    }
    if (on_thread && p->thread_error == OBK_OK &&
        (in->ckpt_request || (in->stop && !batch) || px_checkpoint_due(p, util_monotonic_us()))) {
        px_checkpoint(p); /* a failure is kept in thread_error */
        synced = 1;
    }
    if (on_thread && in->file_req > p->run_file_done) { /* asked for: served even after an error */
        if (p->thread_error == OBK_OK) px_file_all(p);
        p->run_file_done = in->file_req;
        synced = 1;
    }
    while (batch) {
        struct psub *n = batch->next;
        struct pop *op = batch->head;
        while (op) {
            struct pop *on = op->next;
            pop_free(op);
            op = on;
        }
        free(batch);
        batch = n;
    }
    if (count) {
        pthread_mutex_lock(&p->mu);
        p->st.bytes_written += p->round_bytes;
        p->st.submissions += count;
        p->st.batch_bytes_total += size_total;
        for (size_t i = 0; i < PERSIST_BATCH_BUCKETS; i++) p->st.batch_buckets[i] += sizes[i];
        pthread_mutex_unlock(&p->mu);
        px_publish(p, last_seq, on_thread);
    } else if (p->thread_error != OBK_OK || synced) {
        px_publish(p, p->finished_seq, on_thread); /* an error or a periodic sync to report */
    }
    if (on_thread && p->thread_error == OBK_OK && p->deferred_bytes > p->run_defer_max) {
        /* after the round's replies went out: the deferred bytes take one pass */
        px_file_all(p);
        px_publish(p, p->finished_seq, 1);
    }
}

static void *persist_main(void *arg) {
    struct persist *p = arg;
    log_set_role('P');
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (;;) {
            if (p->busy) { /* the main thread runs a round (persist_run_inline) */
                p->busy_waiter = 1;
                pthread_cond_wait(&p->cv, &p->mu);
                p->busy_waiter = 0;
                continue;
            }
            if (p->stop) break;
            if ((p->qhead || p->file_req > p->file_done || p->ckpt_request) && !p->hold) break;
            /* until the next periodic sync or checkpoint, if any (none after a sticky error:
             * nothing can be synced then, and waking for it would spin) */
            long long wait_us = 0, now = util_monotonic_us();
            int timed = 0;
            if (p->policy == PERSIST_FSYNC_EVERYSEC && p->thread_error == OBK_OK &&
                (p->dirty.n > 0 || p->wal_unsynced || p->closed_dirty)) {
                wait_us = p->last_sync_us + PERSIST_EVERYSEC_US - now;
                timed = 1;
            }
            if (p->wal && p->thread_error == OBK_OK && wal_pending_bytes(p->wal) > 0) {
                long long ck = p->ckpt_start_us + p->ckpt_us - now;
                if (!timed || ck < wait_us) wait_us = ck;
                timed = 1;
            }
            if (!p->hold && timed) {
                if (wait_us <= 0) break;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                long long ns = ts.tv_nsec + (wait_us % 1000000) * 1000;
                ts.tv_sec += wait_us / 1000000 + ns / 1000000000;
                ts.tv_nsec = ns % 1000000000;
                pthread_cond_timedwait(&p->cv, &p->mu, &ts);
            } else {
                pthread_cond_wait(&p->cv, &p->mu);
            }
        }
        struct px_round_in in;
        px_take(p, &in);
        pthread_mutex_unlock(&p->mu);
        px_round(p, &in, 1);
        pthread_mutex_lock(&p->mu);
        p->busy = 0;
        if (in.stop && !p->qhead) break;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Whether the main thread may run s itself: a round that takes the log and syncs nothing but
 * the log. Every operation is a write of a tagged file already open (no open, create or
 * directory sync: an open out of descriptors waits, which the event loop must not), the round
 * is under wal-direct-bytes (px_round_logs: it is logged, so no data file is synced, no syncfs
 * run), and its records fit the log's current file (a new file is zero-filled). */
static int px_inline_safe(const struct persist *p, const struct psub *s) {
    if (!p->wal) return 0;
    uint64_t bytes = 0, log_bytes = 0;
    for (const struct pop *op = s->head; op; op = op->next) {
        if (op->kind != POP_WRITE || op->pf->fd < 0 || !op->pf->tagged) return 0;
        bytes += op->len;
        log_bytes += WAL_REC_HEADER_SIZE + op->len;
    }
    if (p->direct_bytes && bytes >= p->direct_bytes) return 0;
    return p->dirty.n == 0 && !p->closed_dirty && wal_fits(p->wal, log_bytes);
}

int persist_run_inline(struct persist *p, struct psub *s, uint64_t *seq) {
    pthread_mutex_lock(&p->mu);
    /* the thread is idle and nothing else is asked of it; what is read of its state here it
     * last wrote before it published under mu */
    if (p->busy || p->qhead || p->hold || p->stop || p->ckpt_request || p->error ||
        p->policy != PERSIST_FSYNC_ALWAYS || p->file_req > p->file_done || !px_inline_safe(p, s)) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    s->seq = ++p->submitted_seq;
    s->next = NULL;
    p->qhead = p->qtail = s;
    *seq = s->seq;
    struct px_round_in in;
    px_take(p, &in);
    pthread_mutex_unlock(&p->mu);
    int was_pending = p->wal && wal_pending_bytes(p->wal) > 0;
    px_round(p, &in, 0);
    /* what the thread does after a round is handed to it; a log that went from empty to
     * pending needs the thread's checkpoint timer, which only a wake-up sets */
    int ckpt = p->thread_error == OBK_OK && px_checkpoint_due(p, util_monotonic_us());
    int file = p->thread_error == OBK_OK && p->deferred_bytes > p->run_defer_max;
    int arm = p->thread_error == OBK_OK && !was_pending && p->wal && wal_pending_bytes(p->wal) > 0;
    pthread_mutex_lock(&p->mu);
    p->busy = 0;
    if (ckpt) p->ckpt_request = 1;
    if (file) p->file_req++;
    p->st.inline_rounds++;
    /* the thread sleeps on: woken only when it has work now or waits for this round's end (a
     * wake-up per round would cost what running it here spared) */
    if (ckpt || file || arm || p->busy_waiter) pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 1;
}

int persist_start(int fsync_policy, const struct fileops *ops, struct persist **out) {
    struct persist *p = calloc(1, sizeof *p);
    if (!p) return OBK_ERR_NOMEM;
    p->ops = ops ? ops : &fileops_posix;
    p->policy = fsync_policy;
    p->syncfs_fd = -1;
    p->last_sync_us = util_monotonic_us();
    fdlru_init(&p->wfds, 0);
    p->behind.kind = PFL_BEHIND;
    p->deferred.kind = PFL_DEFERRED;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        free(p);
        return OBK_ERR_IO;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, persist_main, p) != 0) {
        close(p->efd);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return OBK_ERR_NOMEM;
    }
    *out = p;
    return OBK_OK;
}

int persist_submit(struct persist *p, struct psub *s, uint64_t *seq) {
    pthread_mutex_lock(&p->mu);
    s->seq = ++p->submitted_seq;
    OBK_ASSERT(!p->qtail || p->qtail->seq < s->seq); /* the queue ascends */
    s->next = NULL;
    if (p->qtail)
        p->qtail->next = s;
    else
        p->qhead = s;
    p->qtail = s;
    *seq = s->seq;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return OBK_OK;
}

int persist_idle(const struct persist *p) {
    struct persist *mp = (struct persist *)p;
    pthread_mutex_lock(&mp->mu);
    int idle = mp->finished_seq == mp->submitted_seq;
    pthread_mutex_unlock(&mp->mu);
    return idle;
}

int persist_eventfd(const struct persist *p) {
    return p->efd;
}

void persist_poll(struct persist *p, uint64_t *durable_seq, int *err) {
    uint64_t v;
    ssize_t n = read(p->efd, &v, sizeof v);
    (void)n; /* EAGAIN when nothing was posted: the counters are read anyway */
    persist_state(p, durable_seq, err);
}

void persist_state(struct persist *p, uint64_t *durable_seq, int *err) {
    pthread_mutex_lock(&p->mu);
    *durable_seq = p->policy == PERSIST_FSYNC_ALWAYS ? p->synced_seq : p->written_seq;
    *err = p->error;
    pthread_mutex_unlock(&p->mu);
}

void persist_progress(struct persist *p, uint64_t *written_seq, uint64_t *synced_seq) {
    pthread_mutex_lock(&p->mu);
    *written_seq = p->written_seq;
    *synced_seq = p->synced_seq;
    pthread_mutex_unlock(&p->mu);
}

void persist_hold(struct persist *p, int hold) {
    pthread_mutex_lock(&p->mu);
    p->hold = hold;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int persist_wait_written(struct persist *p) {
    pthread_mutex_lock(&p->mu);
    uint64_t seq = p->submitted_seq;
    int rc = OBK_OK;
    if (p->hold) {
        /* held still by the test hook: what is outstanding would never finish */
        rc = p->finished_seq < seq || p->ws.deferred_bytes ? OBK_ERR_AGAIN : p->error;
    } else {
        uint64_t want = ++p->file_req; /* and every deferred byte in its file */
        pthread_cond_broadcast(&p->cv);
        while ((p->finished_seq < seq || p->file_done < want) && p->error == OBK_OK)
            pthread_cond_wait(&p->cv, &p->mu);
        rc = p->error;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void persist_request_filing(struct persist *p) {
    pthread_mutex_lock(&p->mu);
    p->file_req++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

uint64_t persist_filed_seq(struct persist *p) {
    pthread_mutex_lock(&p->mu);
    uint64_t v = p->filed_seq;
    pthread_mutex_unlock(&p->mu);
    return v;
}

void persist_set_defer_bytes(struct persist *p, uint64_t defer_bytes) {
    pthread_mutex_lock(&p->mu);
    if (defer_bytes < p->defer_max) p->file_req++; /* a lower cap applies now, not next round */
    p->defer_max = defer_bytes;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int persist_drain(struct persist *p) {
    /* an empty submission asks the thread to sync what is dirty whatever the policy */
    struct psub *s = psub_new();
    uint64_t seq;
    if (!s) return OBK_ERR_NOMEM;
    pthread_mutex_lock(&p->mu);
    p->hold = 0; /* a drain finishes everything */
    int policy = p->policy;
    p->policy = PERSIST_FSYNC_ALWAYS;
    p->ckpt_request = 1; /* and leaves nothing for a replay */
    pthread_mutex_unlock(&p->mu);
    persist_submit(p, s, &seq);
    pthread_mutex_lock(&p->mu);
    while (p->finished_seq < seq) pthread_cond_wait(&p->cv, &p->mu);
    p->policy = policy;
    int err = p->error;
    pthread_mutex_unlock(&p->mu);
    return err;
}

void persist_set_fsync(struct persist *p, int fsync_policy) {
    pthread_mutex_lock(&p->mu);
    p->policy = fsync_policy;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int persist_set_syncfs(struct persist *p, int dirfd, unsigned min_files) {
    int rc = OBK_OK;
    pthread_mutex_lock(&p->mu);
    if (dirfd >= 0 && p->syncfs_fd < 0) {
        /* set once, before the first write, and kept until stop: see px_sync_dirty */
        p->syncfs_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
        if (p->syncfs_fd < 0) rc = OBK_ERR_IO;
    }
    p->syncfs_min = min_files;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void persist_set_max_files(struct persist *p, size_t max_files) {
    pthread_mutex_lock(&p->mu);
    p->max_files = max_files;
    pthread_mutex_unlock(&p->mu);
}

uint64_t persist_dirs_closed(struct persist *p) {
    pthread_mutex_lock(&p->mu);
    uint64_t n = p->st.dirs_closed;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void persist_get_stats(struct persist *p, struct persist_stats *st) {
    pthread_mutex_lock(&p->mu);
    *st = p->st;
    st->wal = p->ws;
    pthread_mutex_unlock(&p->mu);
}

void persist_set_wal(struct persist *p, struct wal *w, uint64_t checkpoint_bytes,
                     unsigned checkpoint_ms) {
    pthread_mutex_lock(&p->mu);
    OBK_ASSERT(!p->wal && p->submitted_seq == 0); /* before the first submission */
    p->wal = w;
    p->ws.enabled = 1;
    p->ws.start_lsn = p->ws.end_lsn = wal_end_lsn(w);
    pthread_mutex_unlock(&p->mu);
    persist_set_checkpoint(p, checkpoint_bytes, checkpoint_ms);
}

void persist_set_direct_bytes(struct persist *p, uint64_t direct_bytes) {
    pthread_mutex_lock(&p->mu);
    p->direct_bytes = direct_bytes;
    pthread_mutex_unlock(&p->mu);
}

void persist_set_checkpoint(struct persist *p, uint64_t checkpoint_bytes, unsigned checkpoint_ms) {
    pthread_mutex_lock(&p->mu);
    p->ckpt_bytes = checkpoint_bytes ? checkpoint_bytes : 1;
    p->ckpt_us = (long long)checkpoint_ms * 1000;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int persist_stop(struct persist *p) {
    if (!p) return OBK_OK;
    int err = persist_drain(p);
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    /* files still open belong to topics that were not closed: close them, the handles are
     * freed by their owners' free operations only, so only the dirty list is released here */
    free(p->dirty.v);
    free(p->dirs);
    free(p->dir_marks);
    free(p->behind.v);
    /* bytes still waiting after an error: the log holds them for the next start */
    while (p->deferred.n > 0) px_drop_deferred(p, p->deferred.v[p->deferred.n - 1]);
    free(p->deferred.v);
    if (p->wal) wal_close(p->wal);
    if (p->syncfs_fd >= 0) close(p->syncfs_fd);
    close(p->efd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
    return err;
}
