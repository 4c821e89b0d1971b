/* store.h - the data directory: databases of topics, the persist thread, group commit,
 * retention and counters. The server's one entry point into storage. store_open runs on the
 * caller's thread (the server's loader thread) and starts the persist thread; every later call
 * comes from one thread at a time (the main thread), with the persist thread behind it.
 *
 * Directory: <dir>/OBELISK (format marker), <dir>/clean_shutdown (written last on a clean
 * close, removed at open), <dir>/db<N>/<t_hex | h_sha256>/ (topic.meta, checkpoint, segments). */
#ifndef OBK_STORE_H
#define OBK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/fileops.h"
#include "storage/persist.h"
#include "storage/replog.h"
#include "storage/topic.h"

#define STORE_FORMAT_MAJOR 1
#define STORE_MARKER_NAME  "OBELISK"
#define STORE_CLEAN_NAME   "clean_shutdown"

struct store_config {
    const char *dir;
    int ndbs;                      /* databases (16 like Redis) */
    int fsync;                     /* PERSIST_FSYNC_* */
    size_t cache_max_bytes;        /* one ring budget for every topic */
    uint64_t segment_bytes;        /* roll size */
    int64_t segment_ms;            /* roll age, 0 = never */
    uint32_t index_interval;       /* index-interval-bytes */
    int64_t retention_bytes;       /* default per topic, -1 = unlimited */
    int64_t retention_ms;          /* default per topic, -1 = forever */
    uint32_t node_max_entries;     /* stream-node-max-entries for approximate trims */
    size_t batch_max_bytes;        /* a filling batch is closed past this */
    int compression;               /* DATA batches written compressed (zstd), unless a topic says */
    int compression_level;         /* zstd's level for them (1..19), unless a topic says */
    size_t flush_max_bytes;        /* submit even while the persist thread is busy past this */
    unsigned syncfs_min_files;     /* a sync round over this many files is one syncfs (0 = never) */
    uint64_t max_open_files;       /* storage's descriptor share (fdbudget.h; 0 = no budget) */
    int repair;                    /* cut damage in earlier segments at open */
    int wal;                       /* writes go through the write-ahead log (wal.h) */
    uint64_t wal_file_bytes;       /* size of one log file */
    uint64_t wal_checkpoint_bytes; /* checkpoint the log when this much is pending... */
    unsigned wal_checkpoint_ms;    /* ... or when its oldest pending record is this old */
    uint64_t wal_direct_bytes;     /* rounds writing this much per file skip the log (0 never) */
    uint64_t wal_defer_bytes;      /* logged segment bytes waiting in memory (store_defer_cap) */
    /* called while the log is replayed at open (may be NULL) */
    void (*replay_progress)(void *ctx, uint64_t done_bytes, uint64_t total_bytes);
    void *replay_ctx;
    const struct fileops *ops; /* NULL: the real system calls */
};

void store_config_defaults(struct store_config *c);

struct store_open_report {
    int clean; /* the previous stop was clean */
    int fresh; /* a new data directory (no format marker, no topic): a first start */
    uint64_t topics, segments;
    uint64_t topics_scanned;  /* opened by scanning (unclean) */
    uint64_t truncated_bytes; /* torn tails cut */
    uint64_t entries_lost;    /* by repairs */
    uint64_t wal_replayed;    /* write-ahead log records written again into their files */
    uint64_t wal_replayed_bytes;
    uint64_t wal_skipped; /* records of deleted topics and removed files */
    uint64_t duration_us;
    char damage[300]; /* when the open failed with OBK_ERR_DAMAGED */
};

struct store;

int store_open(const struct store_config *cfg, struct store **out, struct store_open_report *rep);
/* Submits everything, waits for it, writes checkpoints and the clean-shutdown marker (only
 * when no error made the store sticky), stops the persist thread, frees. Returns the sticky
 * error. */
int store_close(struct store *s);

/* ---- keyspace ---- */
/* Finds a topic (and touches it: see store_touch_begin). */
struct topic *store_lookup(struct store *s, int db, const void *key, size_t keylen);
/* What a reply depends on. store_touch_begin clears the touch mark; from then on every topic
 * handed out (store_lookup, store_scan, store_foreach) raises it to the submission holding that
 * topic's latest change, every change (a topic marked dirty, a delete, a rename, a flush, a
 * create) to the submission that will carry it, and store_dbsize to the pending submission.
 * store_touch_end returns the mark (0: nothing stored was touched) and clears it. The server
 * brackets each command with the pair, so no handler can forget its wait. */
void store_touch_begin(struct store *s);
uint64_t store_touch_end(struct store *s);
/* Raises the touch mark to seq (a mark store_touch_end returned, put back). */
void store_touch_raise(struct store *s, uint64_t seq);
/* OBK_ERR_EXISTS when present. OBK_ERR_NOFILES (retryable, nothing changed) when the
 * descriptor share has no room for the topic's directory, or the process is out of
 * descriptors. */
int store_create(struct store *s, int db, const void *key, size_t keylen, struct topic **out);
/* OBK_ERR_NOTFOUND when absent. */
int store_delete(struct store *s, int db, const void *key, size_t keylen);
/* Renames, replacing an existing destination. OBK_ERR_NOTFOUND when the source is absent. */
int store_rename(struct store *s, int db, const void *key, size_t keylen, const void *newkey,
                 size_t newkeylen);
/* Orders the next submission: first's batches are written before then's changes (a
 * dead-lettered entry before the acknowledgement that drops it from its group, so a crash part
 * way through a round never loses it). Both are marked dirty. */
void store_write_before(struct store *s, struct topic *first, struct topic *then);
int store_flushdb(struct store *s, int db);
int store_flushall(struct store *s);
uint64_t store_dbsize(struct store *s, int db);
typedef void (*store_key_cb)(void *ctx, struct topic *t);
/* SCAN: visits the keys of one cursor step; returns the next cursor (0 when done). */
uint64_t store_scan(struct store *s, int db, uint64_t cursor, store_key_cb cb, void *ctx);
/* KEYS: visits every key of db. */
void store_foreach(struct store *s, int db, store_key_cb cb, void *ctx);

/* ---- group commit ---- */
/* Hands the filled batches of every dirty topic to the persist thread when it is idle, when
 * more than flush_max_bytes wait, or when force is set. Call from before_sleep. After a sticky
 * error it hands over nothing and returns that first error. */
int store_flush(struct store *s, int force);
/* Lets the next store_flush run its round on the calling thread (persist_run_inline) when the
 * persist thread is idle and no replica takes the records: the caller knows a single client
 * waits for the round. store_flushed_inline then says whether it did; the caller polls the
 * outcome at once (store_state), as no eventfd notice comes for it. */
void store_allow_inline(struct store *s);
int store_flushed_inline(const struct store *s);
/* Hands everything to the persist thread and waits until it is written (synced only as its
 * policy syncs a round), so the files hold exactly the state in memory until the next change
 * (a replica's snapshot is taken there; the replica syncs what it receives). Blocks the caller
 * for about one round, never for a checkpoint. Returns the sticky error or OBK_OK
 * (OBK_ERR_AGAIN while DEBUG PERSIST-HOLD holds the thread). */
int store_sync_point(struct store *s);
/* Replaces <dir>/name durably (tmp, fsync, rename, directory fsync) in the next submission,
 * after everything changed before it: a small state file that must never claim more than the
 * data holds (a replica's acknowledged offset). */
int store_replace_file(struct store *s, const char *name, const void *data, size_t len);
/* The last submission handed to the persist thread (0 before the first). */
uint64_t store_submitted_seq(const struct store *s);
/* The data directory's descriptor and the number of databases (the snapshot reads them). */
int store_dirfd(const struct store *s);
int store_ndbs(const struct store *s);
/* From now on every change is also handed to sink as a replication record (replog.h), in the
 * order a replica must apply them: keyspace changes (DEL, RENAME, FLUSHDB) when they are made,
 * a topic's batches, group records and settings when store_flush takes them. NULL stops it. */
void store_set_repl_sink(struct store *s, replog_sink sink, void *ctx);
/* The eventfd to watch; on readability call store_poll. */
int store_eventfd(struct store *s);
/* Highest durable submission and the sticky error (OBK_OK when none). After an error every
 * write is refused with OBK_ERR_STICKY. */
void store_poll(struct store *s, uint64_t *durable_seq, int *err);
/* The same without taking the eventfd's notice: after an inline round, which posts none. */
void store_state(struct store *s, uint64_t *durable_seq, int *err);
/* The submission that carries the changes made so far: the next one when anything is not yet
 * submitted, else the last one submitted (after store_settle: the durable one). */
uint64_t store_pending_seq(const struct store *s);
/* After the sticky error (once; nothing before it): rolls every topic back to what the last
 * durable submission left, so that reads show exactly the durable data and wait for nothing.
 * Topics created after it leave the keyspace; a topic whose state cannot be rebuilt keeps
 * pointing at a failed submission, so replies that read it fail. Key-space changes done on
 * directories at once (DEL, RENAME, FLUSHDB) stand, as a restart would find them. */
void store_settle(struct store *s);
/* Test hook (DEBUG PERSIST-HOLD): holds the persist thread still (persist_hold). */
void store_hold_persist(struct store *s, int hold);
/* The persist thread's written and synced sequences (persist_progress). */
void store_progress(struct store *s, uint64_t *written_seq, uint64_t *synced_seq);
int store_set_fsync(struct store *s, int fsync);

/* Settings that may change while running (CONFIG SET): they apply from the next roll, trim,
 * retention pass or cache push. A lower cache budget evicts written entries as new ones come. */
struct store_tuning {
    uint64_t segment_bytes;
    int64_t segment_ms;
    uint32_t index_interval;
    int64_t retention_bytes, retention_ms;
    uint32_t node_max_entries;
    size_t cache_max_bytes;
    unsigned syncfs_min_files;
    uint64_t wal_checkpoint_bytes;
    unsigned wal_checkpoint_ms;
    uint64_t wal_direct_bytes;
    int compression, compression_level; /* batches written from the next flush on */
    uint64_t wal_defer_bytes;
};
/* OBK_ERR_INVAL when a value is out of its range (nothing changes then). */
int store_set_tuning(struct store *s, const struct store_tuning *t);

/* Storage's descriptor share (CONFIG SET max-open-files-storage; 0 = no budget). OBK_ERR_RANGE,
 * changing nothing, when it cannot hold the open topics: store_min_open_files says how many
 * they need. */
int store_set_max_open_files(struct store *s, uint64_t max_open_files);
uint64_t store_min_open_files(struct store *s);

/* Deletes sealed segments by retention (and fully trimmed ones); call from a timer. */
void store_retention(struct store *s, int64_t now_ms);

struct store_stats {
    uint64_t topics, segments, disk_bytes;
    uint64_t cache_bytes, cache_max_bytes, cache_hits, cache_misses, cache_evictions;
    uint64_t submitted_seq, durable_seq;
    struct persist_stats persist; /* batches, bytes, fsyncs, latencies, last fsync, error */
    uint64_t recovery_us;
    int recovery_clean; /* the last start found a clean stop, or a new data directory */
    /* descriptors: held now (data and database directories, topic directories, segment reads,
     * the persist thread's writes; short-lived ones not counted), the share, read descriptors
     * open and closed to make room, topics refused for want of a descriptor */
    uint64_t open_files, max_open_files;
    uint64_t read_fds, read_fd_evictions, nofile_refusals;
};
void store_stats(struct store *s, struct store_stats *st);
/* Only the persist thread's counters (cheap: no walk over the topics). */
void store_persist_stats(struct store *s, struct persist_stats *st);

#endif
