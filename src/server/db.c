/* db.c - the server's data set (see db.h).
 *
 * Start-up: the store is opened by a loader thread so that the event loop already answers
 * clients, with -LOADING and INFO's loading:1, as Redis does while it reads its files. The
 * thread reports through a pipe watched by the loop; the main thread joins it and from then
 * on is the only user of the store.
 * Group commit: before_sleep calls store_flush(), which hands every filled batch to the persist
 * thread when it is idle (or at once after db_kick_flush); a completion arrives on the store's
 * eventfd: db.c publishes the written and synced sequences to durable.h, releases the held
 * replies up to durable_seq() and re-runs the requests parked for cache space. An I/O error is
 * sticky (durable.h): held replies get a MISCONF error, writes are refused, and with
 * on-io-error exit (the default) the server stops. Once the store is open, db.c installs the
 * store's touch mark as durable.h's tracker. Main thread, except the loader thread while
 * loading: the thread writes only db.loaded, and the main thread publishes its result
 * (db.store, db.open_rc, db.report) only after joining it, so nothing the loop reads while
 * loading (INFO, /health, /metrics) is written by another thread. */
#include "server/db.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/status.h"
#include "base/util.h"
#include "server/command.h"
#include "server/commit.h"
#include "server/config.h"
#include "server/durable.h"
#include "server/errors.h"
#include "server/iofault.h"
#include "server/latency.h"
#include "server/runtime.h"
#include "storage/store.h"

/* How often retention runs (Kafka checks every 5 minutes; topics here are smaller). */
#define DB_RETENTION_INTERVAL_MS 1000

/* The replay's progress is logged at most this often. */
#define DB_REPLAY_LOG_MS 3000

/* Lone rounds (one client waiting) in a row before the next one may run inline. */
#define DB_LONE_ROUNDS 4

static struct {
    struct store *store;
    struct store_config cfg;
    struct store_open_report report;
    int open_rc;
    pthread_t loader;
    int loader_running;
    int pipefd[2];
    struct event *loaded_ev, *completion_ev, *retention_ev;
    int kick_flush;             /* hand the batches over at the next turn even if busy */
    unsigned lone_rounds;       /* rounds in a row one client alone waited for (capped) */
    int link_streaming;         /* a replica following its primary (db_set_link_streaming) */
    long long loading_delay_ms; /* copied for the loader thread before it starts */
    long long loading_start_s;  /* main thread */
    /* written by the loader thread while it replays, read by the main thread: atomics */
    uint64_t replay_total, replay_done;
    long long replay_logged_ms; /* loader thread */
    int replay_reported;        /* loader thread */
    struct {                    /* the loader thread's result: its thread only until joined */
        struct store *store;
        int rc;
        struct store_open_report report;
    } loaded;
} db;

/* syncfs() reports writeback errors only since Linux 5.8; before that, one fdatasync per file
 * is the only way to learn of a failed write, so syncfs-min-files is ignored (said once). */
static int syncfs_reports_errors(void) {
    static int known = -1;
    struct utsname u;
    int major = 0, minor = 0;
    if (known >= 0) return known;
    known = uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
            (major > 5 || (major == 5 && minor >= 8));
    if (!known)
        log_msg(LOG_WARNING, "syncfs-min-files ignored: this kernel's syncfs() does not report "
                             "write errors (Linux 5.8 or later does)");
    return known;
}

void db_store_config(struct store_config *c) {
    store_config_defaults(c);
    c->dir = server_config.dir;
    c->ndbs = server_config.databases;
    c->fsync = server_config.fsync;
    c->cache_max_bytes = (size_t)server_config.cache_max_bytes;
    c->segment_bytes = (uint64_t)server_config.segment_bytes;
    c->segment_ms = server_config.segment_ms;
    c->index_interval = (uint32_t)server_config.index_interval_bytes;
    c->retention_bytes = server_config.retention_bytes;
    c->retention_ms = server_config.retention_ms;
    long long node = server_config.stream_node_max_entries;
    c->node_max_entries = node > UINT32_MAX ? UINT32_MAX : (uint32_t)node;
    c->syncfs_min_files = (unsigned)server_config.syncfs_min_files;
    c->compression = server_config.compression;
    c->compression_level = server_config.compression_level;
    c->max_open_files = (uint64_t)server_config.max_open_files_storage;
    c->wal = server_config.wal;
    c->wal_file_bytes = (uint64_t)server_config.wal_file_size;
    c->wal_checkpoint_bytes = (uint64_t)server_config.wal_checkpoint_bytes;
    c->wal_checkpoint_ms = (unsigned)server_config.wal_checkpoint_seconds * 1000;
    c->wal_direct_bytes = (uint64_t)server_config.wal_direct_bytes;
    c->wal_defer_bytes = (uint64_t)server_config.wal_defer_bytes;
    if (c->syncfs_min_files > 0 && !syncfs_reports_errors()) c->syncfs_min_files = 0;
    c->ops = &iofault_ops; /* the real calls unless a test arms DEBUG IO-FAULT */
}

/* store_open's replay progress (loader thread): published for INFO and /health, and logged
 * at most every few seconds. */
static void replay_progress(void *ctx, uint64_t done, uint64_t total) {
    (void)ctx;
    __atomic_store_n(&db.replay_total, total, __ATOMIC_RELAXED);
    __atomic_store_n(&db.replay_done, done, __ATOMIC_RELAXED);
    if (!db.replay_reported && db.loading_delay_ms > 0) {
        /* test hook (debug-loading-delay-ms): the phase is stretched here, once the size of
         * the replay is known, so that tests see the progress fields filled in */
        struct timespec ts = {db.loading_delay_ms / 1000, (db.loading_delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    db.replay_reported = 1;
    long long now = util_mstime();
    if (now - db.replay_logged_ms < DB_REPLAY_LOG_MS) return;
    if (db.replay_logged_ms)
        log_msg(LOG_NOTICE, "Replaying the write-ahead log: %.1f of at most %.1f MB",
                (double)done / 1e6, (double)total / 1e6);
    db.replay_logged_ms = now;
}

void db_loading_progress(struct db_loading *out) {
    out->start_s = db.loading_start_s;
    out->total_bytes = __atomic_load_n(&db.replay_total, __ATOMIC_RELAXED);
    out->loaded_bytes = __atomic_load_n(&db.replay_done, __ATOMIC_RELAXED);
}

static void *loader_main(void *arg) {
    (void)arg;
    log_set_role('L');
    db.loaded.rc = store_open(&db.cfg, &db.loaded.store, &db.loaded.report);
    char one = 1;
    ssize_t w = write(db.pipefd[1], &one, 1);
    (void)w;
    return NULL;
}

static void set_io_error(int status) {
    char text[160];
    snprintf(text, sizeof(text), ERR_MISCONF_DETAIL, obk_strerror(status));
    if (!durable_set_error(status, text)) return;
    log_msg(LOG_WARNING, "Storage I/O error: %s. Writes are refused from now on.",
            obk_strerror(status));
    commit_fail(durable_error_text());
    if (db.store) store_settle(db.store); /* reads go on over what was durable */
    if (server_config.on_io_error == ON_IO_ERROR_EXIT)
        runtime_request_fatal_shutdown(
            "Shutting down after a storage I/O error (on-io-error exit)");
}

/* The latency monitor's "fsync" event: the mean time of the fsyncs the persist thread made
 * since the previous completion (it publishes totals, not each call), when at least
 * latency-monitor-threshold milliseconds. */
static void latency_sample_fsync(void) {
    static uint64_t seen_fsyncs, seen_us;
    struct persist_stats ps;
    if (server_config.latency_monitor_threshold <= 0) return;
    store_persist_stats(db.store, &ps);
    uint64_t n = ps.fsyncs - seen_fsyncs, us = ps.fsync_us_total - seen_us;
    seen_fsyncs = ps.fsyncs;
    seen_us = ps.fsync_us_total;
    if (n == 0) return; /* no fsync since the last look */
    uint64_t ms = us / n / 1000;
    if ((long long)ms >= server_config.latency_monitor_threshold)
        latency_add_sample("fsync", ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms);
}

/* A round finished: publish how far the data is durable, release the replies that waited.
 * consume: clear the eventfd's notice (not after an inline round, which posts none). */
static void completion(int consume) {
    uint64_t durable, written, synced;
    int err;
    if (consume)
        store_poll(db.store, &durable, &err);
    else
        store_state(db.store, &durable, &err);
    store_progress(db.store, &written, &synced);
    durable_publish(written, synced);
    latency_sample_fsync();
    commit_release(durable_seq());
    if (err != OBK_OK)
        set_io_error(err);
    else
        command_retry_waiting(); /* written entries can now leave the cache */
}

static void completion_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    completion(1);
}

static void touch_begin(void *ctx) {
    store_touch_begin(ctx);
}

static uint64_t touch_end(void *ctx) {
    return store_touch_end(ctx);
}

static void touch_raise(void *ctx, uint64_t seq) {
    store_touch_raise(ctx, seq);
}

static void retention_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    if (db.store && !durable_error()) store_retention(db.store, util_mstime());
}

/* Joins the loader thread and only then publishes what it opened. */
static void join_loader(void) {
    pthread_join(db.loader, NULL);
    db.loader_running = 0;
    db.open_rc = db.loaded.rc;
    db.report = db.loaded.report;
    db.store = db.loaded.rc == OBK_OK ? db.loaded.store : NULL;
}

static void loaded_cb(evutil_socket_t fd, short what, void *arg) {
    (void)what, (void)arg;
    char one;
    ssize_t r = read(fd, &one, 1);
    (void)r;
    join_loader();
    event_free(db.loaded_ev);
    db.loaded_ev = NULL;
    if (db.open_rc != OBK_OK) {
        log_msg(LOG_WARNING, "Can't open the data directory '%s': %s%s%s", server_config.dir,
                obk_strerror(db.open_rc), db.report.damage[0] ? ": " : "", db.report.damage);
        if (db.open_rc == OBK_ERR_DAMAGED)
            log_msg(LOG_WARNING,
                    "Run 'obelisk-check --repair %s' to cut the damage (entries "
                    "after it are lost), then start again.",
                    server_config.dir);
        runtime_request_fatal_shutdown("Shutting down: the data set could not be loaded");
        return;
    }
    struct durable_tracker tracker = {db.store, touch_begin, touch_end, touch_raise};
    durable_set_tracker(&tracker);
    db.completion_ev =
        event_new(runtime.base, store_eventfd(db.store), EV_READ | EV_PERSIST, completion_cb, NULL);
    event_add(db.completion_ev, NULL);
    db.retention_ev = event_new(runtime.base, -1, EV_PERSIST, retention_cb, NULL);
    struct timeval tv = {DB_RETENTION_INTERVAL_MS / 1000, (DB_RETENTION_INTERVAL_MS % 1000) * 1000};
    event_add(db.retention_ev, &tv);
    runtime.loading = 0;
    log_msg(LOG_NOTICE, "DB loaded from disk: %.3f seconds (%llu topics, %s)",
            (double)db.report.duration_us / 1e6, (unsigned long long)db.report.topics,
            db.report.fresh   ? "new data directory"
            : db.report.clean ? "clean shutdown"
                              : "recovered after an unclean stop");
    if (runtime.nlisteners > 0) log_msg(LOG_NOTICE, "Ready to accept connections tcp");
    if (runtime.ntls > 0) log_msg(LOG_NOTICE, "Ready to accept connections tls");
}

int db_start_loading(void) {
    db_store_config(&db.cfg);
    db.loading_delay_ms = server_config.debug_loading_delay_ms;
    db.loading_start_s = util_mstime() / 1000;
    db.cfg.replay_progress = replay_progress;
    if (pipe(db.pipefd) != 0) return -1;
    durable_reset(server_config.fsync);
    db.loaded_ev = event_new(runtime.base, db.pipefd[0], EV_READ, loaded_cb, NULL);
    event_add(db.loaded_ev, NULL);
    runtime.loading = 1;
    if (pthread_create(&db.loader, NULL, loader_main, NULL) != 0) {
        log_msg(LOG_WARNING, "Can't start the loader thread: %s", strerror(errno));
        return -1;
    }
    db.loader_running = 1;
    return 0;
}

/* Hands filled batches over (all of them when force); the group commit. */
/* may_inline: only from before_sleep, between commands (a completion releases replies and
 * runs waiting commands, which must never happen inside one, e.g. WAIT in a MULTI). */
static void flush_store(int force, int may_inline) {
    static long long nofile_logged_ms;
    if (!db.store || durable_error()) return;
    /* A round one client alone waits for may run here, sparing the hand-off to the persist
     * thread (persist_run_inline), once the rounds before it were lone too: where several clients
     * write, a lone round comes between crowded ones, and running it here would stop this loop
     * from reading the others while the log syncs (the overlap that pipelined clients need). On a
     * replica following its primary, a round no client waits for (the applied stream's) may too:
     * its acknowledgement then leaves this turn, and the stream's next records wait for the next
     * round either way. */
    int holders = commit_holders(2);
    uint64_t before = store_submitted_seq(db.store);
    if (may_inline &&
        ((holders == 1 && db.lone_rounds >= DB_LONE_ROUNDS) || (holders == 0 && db.link_streaming)))
        store_allow_inline(db.store);
    int rc = store_flush(db.store, force);
    if (store_submitted_seq(db.store) != before)
        db.lone_rounds = holders != 1                      ? 0
                         : db.lone_rounds < DB_LONE_ROUNDS ? db.lone_rounds + 1
                                                           : DB_LONE_ROUNDS;
    if (rc == OBK_OK && store_flushed_inline(db.store)) {
        completion(0);
        /* commands that waited for cache room ran again in it: their writes go to the thread
         * now, as no event may come to end this turn's wait */
        if (durable_error()) return;
        rc = store_flush(db.store, 1);
    }
    if (rc == OBK_ERR_NOFILES) { /* nothing was handed over: tried again next turn */
        long long now = util_mstime();
        if (now - nofile_logged_ms >= 1000) {
            log_msg(LOG_WARNING, "Storage is out of file descriptors; writes wait for one (see "
                                 "max-open-files-storage and 'ulimit -n')");
            nofile_logged_ms = now;
        }
        return;
    }
    if (rc != OBK_OK && rc != OBK_ERR_AGAIN) set_io_error(rc);
}

void db_before_sleep(void) {
    int force = db.kick_flush;
    db.kick_flush = 0;
    flush_store(force, 1);
}

void db_flush_now(void) {
    flush_store(1, 0);
}

int db_hold_persist(int hold) {
    if (!db.store) return -1;
    store_hold_persist(db.store, hold);
    return 0;
}

void db_set_link_streaming(int on) {
    db.link_streaming = on;
}

void db_kick_flush(void) {
    db.kick_flush = 1;
}

int db_close(void) {
    int rc = 0;
    if (db.loader_running) join_loader(); /* stopped while loading: let the open finish */
    if (db.loaded_ev) event_free(db.loaded_ev);
    if (db.completion_ev) event_free(db.completion_ev);
    if (db.retention_ev) event_free(db.retention_ev);
    db.loaded_ev = db.completion_ev = db.retention_ev = NULL;
    if (db.store) {
        int st = store_close(db.store);
        db.store = NULL;
        durable_set_tracker(NULL);
        if (st != OBK_OK) {
            log_msg(LOG_WARNING, "Closing the data set failed: %s", obk_strerror(st));
            rc = -1;
        } else {
            log_msg(LOG_NOTICE, "All data written and synced; clean shutdown marker written.");
        }
        /* Replies still held when the store closed were made durable by the close. */
        if (st == OBK_OK)
            commit_release(UINT64_MAX);
        else
            commit_fail(durable_error_text()[0] ? durable_error_text() : ERR_MISCONF);
    }
    if (db.pipefd[0] > 0) {
        close(db.pipefd[0]);
        close(db.pipefd[1]);
        db.pipefd[0] = db.pipefd[1] = 0;
    }
    return rc;
}

struct store *db_store(void) {
    return db.store;
}

uint64_t db_recovery_us(void) {
    return db.report.duration_us;
}

long long db_size(int dbi) {
    return db.store ? (long long)store_dbsize(db.store, dbi) : 0;
}

int db_flush(int dbi) {
    if (!db.store) return OBK_OK;
    return store_flushdb(db.store, dbi);
}

int db_apply_config(const char *name, char *err, size_t errlen) {
    static const char *const tuning[] = {
        "segment-bytes",          "segment-ms",       "index-interval-bytes",
        "retention-bytes",        "retention-ms",     "stream-node-max-entries",
        "cache-max-bytes",        "syncfs-min-files", "wal-checkpoint-bytes",
        "wal-checkpoint-seconds", "wal-direct-bytes", "compression",
        "compression-level",      "wal-defer-bytes"};
    int rc = OBK_OK;
    if (!db.store) return 0; /* applied when the store opens */
    if (!strcmp(name, "fsync")) {
        rc = store_set_fsync(db.store, server_config.fsync);
        if (rc == OBK_OK) durable_set_policy(server_config.fsync);
    }
    for (size_t i = 0; i < sizeof(tuning) / sizeof(tuning[0]); i++) {
        if (strcmp(name, tuning[i])) continue;
        struct store_config c;
        db_store_config(&c);
        struct store_tuning t = {c.segment_bytes,     c.segment_ms,       c.index_interval,
                                 c.retention_bytes,   c.retention_ms,     c.node_max_entries,
                                 c.cache_max_bytes,   c.syncfs_min_files, c.wal_checkpoint_bytes,
                                 c.wal_checkpoint_ms, c.wal_direct_bytes, c.compression,
                                 c.compression_level, c.wal_defer_bytes};
        rc = store_set_tuning(db.store, &t);
    }
    if (!strcmp(name, "max-open-files-storage")) {
        rc = store_set_max_open_files(db.store, (uint64_t)server_config.max_open_files_storage);
        if (rc == OBK_ERR_RANGE) {
            snprintf(err, errlen, "the open streams need at least %llu file descriptors",
                     (unsigned long long)store_min_open_files(db.store));
            return -1;
        }
    }
    if (rc != OBK_OK) {
        snprintf(err, errlen, "%s", obk_strerror(rc));
        return -1;
    }
    return 0;
}
