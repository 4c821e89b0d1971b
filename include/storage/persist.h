/* persist.h - the persist thread: the only writer of Obelisk's files.
 *
 * The main thread builds a submission (struct psub): an ordered list of file operations (write
 * bytes at a position, fdatasync, replace a small file atomically, free/unlink a file, fsync or
 * remove a directory). persist_submit queues it and gives it the next sequence number. The
 * thread runs the operations in order, fsyncs per policy, then publishes the highest sequence
 * number completed and wakes the main loop through an eventfd. Files are named by struct pfile
 * handles the main thread creates and the persist thread owns (opens, writes, closes, frees);
 * it keeps at most persist_set_max_files of them open, reopening by name on demand.
 * The first I/O error is sticky: that submission and every later one fail, and no fsync is
 * retried. */
#ifndef OBK_PERSIST_H
#define OBK_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "storage/fileops.h"
#include "storage/psub.h"

struct wal;

enum persist_fsync { PERSIST_FSYNC_ALWAYS = 0, PERSIST_FSYNC_EVERYSEC = 1, PERSIST_FSYNC_NO = 2 };

struct persist;

/* Histogram bucket upper bounds (inclusive) for the metrics: fsync latency in microseconds and
 * bytes per submission (the size of one group commit). Counts are per bucket, not cumulative;
 * the last bucket counts everything above the last bound (+Inf). */
#define PERSIST_FSYNC_BUCKETS 15
#define PERSIST_FSYNC_BOUNDS_US                                                                    \
    {                                                                                              \
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,     \
            2500000                                                                                \
    }
#define PERSIST_BATCH_BUCKETS 11
#define PERSIST_BATCH_BOUNDS_BYTES                                                                 \
    { 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864 }

struct persist_wal_stats {
    int enabled;                 /* the write path goes through the log */
    uint64_t records;            /* records appended */
    uint64_t syncs;              /* fdatasyncs of the log */
    uint64_t checkpoints;        /* checkpoints taken */
    uint64_t last_checkpoint_us; /* how long the last one took */
    uint64_t pending_bytes;      /* log after the checkpoint (what a crash would replay) */
    uint64_t start_lsn, end_lsn; /* the log's checkpointed start and its end */
    uint64_t deferred_bytes;     /* memory held by logged bytes waiting for their files */
    uint64_t filings;            /* passes that wrote the waiting bytes into their files */
};

struct persist_stats {
    uint64_t submissions;    /* submissions completed (ok or failed) */
    uint64_t inline_rounds;  /* of which run by the main thread (persist_run_inline) */
    uint64_t bytes_written;  /* payload bytes written by write operations */
    uint64_t fsyncs;         /* fdatasync/fsync/syncfs calls on data files */
    uint64_t syncfs_calls;   /* of which syncfs of the whole filesystem */
    uint64_t fsync_us_total; /* time spent in them */
    uint64_t fsync_us_max;
    int64_t last_fsync_ms; /* wall clock of the last successful fsync, 0 if none */
    int error;             /* sticky status, OBK_OK when none */
    uint64_t fsync_buckets[PERSIST_FSYNC_BUCKETS]; /* fsyncs by latency (PERSIST_FSYNC_BOUNDS_US) */
    uint64_t batch_buckets[PERSIST_BATCH_BUCKETS]; /* submissions by bytes (..._BOUNDS_BYTES) */
    uint64_t batch_bytes_total;                    /* sum of those submissions' bytes */
    uint64_t write_fds;          /* write descriptors open (as of the last round) */
    uint64_t write_fd_evictions; /* closed to stay under the cap */
    uint64_t nofile_waits;       /* waits for a descriptor after EMFILE/ENFILE */
    uint64_t dirs_closed;        /* directory descriptors closed by psub_close_dir */
    struct persist_wal_stats wal;
};

/* Starts the thread. ops may be NULL (the real system calls). */
int persist_start(int fsync_policy, const struct fileops *ops, struct persist **out);
/* Queues s (ownership passes) and returns its sequence number in *seq (1, 2, ...). */
int persist_submit(struct persist *p, struct psub *s, uint64_t *seq);
/* Runs s as a round of its own on the calling thread, as Redis's appendfsync always does in its
 * event loop, when the persist thread is idle, nothing else is asked of it, the policy is always
 * and every operation of s is a write to a file already open (with the log: records that fit
 * its current file). Returns 1 with *seq set when it did: s is then written and synced per
 * policy and its outcome published (no eventfd notice: the caller polls at once); a checkpoint
 * or filing it made due is left to the thread. Returns 0, and s is still the caller's, when not.
 * For a round a single client waits for, the hand-off to the thread (a wake-up, an eventfd and
 * one more loop turn) costs about as much as the write itself. */
int persist_run_inline(struct persist *p, struct psub *s, uint64_t *seq);
/* 1 when every submitted sequence number has finished. */
int persist_idle(const struct persist *p);
/* The eventfd to watch for readability (the server registers it with its event loop). */
int persist_eventfd(const struct persist *p);
/* Clears the eventfd and reports the highest sequence durable under the policy (synced under
 * always, written otherwise) and the sticky error (OBK_OK when none). Submissions after
 * *durable_seq failed when *err is set. */
void persist_poll(struct persist *p, uint64_t *durable_seq, int *err);
/* The same report without clearing the eventfd: for a caller that waited for a submission
 * itself and must leave the notice to the event loop's watcher (store_sync_point). */
void persist_state(struct persist *p, uint64_t *durable_seq, int *err);
/* The two sequences behind that: the highest submission written to its files without error,
 * and the highest one whose written data is also synced. Neither goes down; synced <= written.
 * Under everysec, synced follows written at each periodic sync (and the eventfd is posted). */
void persist_progress(struct persist *p, uint64_t *written_seq, uint64_t *synced_seq);
/* Waits until every submitted operation finished, then fsyncs dirty files (shutdown,
 * checkpoints in tests). Returns the sticky error or OBK_OK. */
int persist_drain(struct persist *p);
/* Waits until every submitted operation finished (written, and synced only as far as the
 * policy syncs each round) and every deferred byte is in its file: no checkpoint, no extra
 * sync, so the caller waits about one round. OBK_ERR_AGAIN while the test hook holds the
 * thread. Returns the sticky error or OBK_OK. */
int persist_wait_written(struct persist *p);
/* The highest submission whose writes are all in their files (<= written; below it while
 * logged bytes wait in memory, see persist_set_defer_bytes): what the cache may evict. */
uint64_t persist_filed_seq(struct persist *p);
/* Asks the thread to write every deferred byte into its file soon (the cache is full of
 * entries not in their files yet); the eventfd is posted when done. */
void persist_request_filing(struct persist *p);
/* With the log, a logged write to a file allowed to defer (pfile_allow_deferred) waits in
 * memory and reaches its file with the file's later writes in one call: at the next checkpoint,
 * before any other operation on the file, on request, or once the waiting bytes pass
 * defer_bytes (0: every write goes to its file in its round). */
void persist_set_defer_bytes(struct persist *p, uint64_t defer_bytes);
void persist_set_fsync(struct persist *p, int fsync_policy);
/* Test hook: while hold is set the thread takes no submission and syncs nothing, so nothing
 * becomes written or durable (the durability tests hold it still and check that no reply that
 * depends on the held work leaves). A drain or a stop lifts it. */
void persist_hold(struct persist *p, int hold);
/* When a round of fsyncs covers at least min_files files (0 = never), sync them with one
 * syncfs() on dirfd's filesystem instead of one fdatasync each. The first call with a dirfd
 * keeps a duplicate of it; make it before the first write so that syncfs reports every
 * writeback error after it (later calls only change min_files; pass dirfd -1 then). */
int persist_set_syncfs(struct persist *p, int dirfd, unsigned min_files);
/* Write descriptors the thread keeps open at most (0: no cap): past it the least recently used
 * is closed (synced first when it has unsynced writes) and reopened by name when needed. Takes
 * effect from the next round. */
void persist_set_max_files(struct persist *p, size_t max_files);
/* Puts the write-ahead log w (opened, ownership passes) in front of the tagged files, before
 * the first submission. From then on, under fsync always and everysec, writes to tagged files
 * are appended to the log as records and the round is made durable by one fdatasync of the
 * log (plus the untagged files); the tagged files are synced at checkpoints, when
 * checkpoint_bytes of log are pending or the oldest pending record is checkpoint_ms old, and
 * at every drain. Under fsync no, writes bypass the log. */
void persist_set_wal(struct persist *p, struct wal *w, uint64_t checkpoint_bytes,
                     unsigned checkpoint_ms);
void persist_set_checkpoint(struct persist *p, uint64_t checkpoint_bytes, unsigned checkpoint_ms);
/* A round that writes direct_bytes or more per tagged file it writes skips the log: its files
 * are written and synced as without a log (0: every round takes the log). */
void persist_set_direct_bytes(struct persist *p, uint64_t direct_bytes);
/* Directory descriptors closed so far by psub_close_dir operations. */
uint64_t persist_dirs_closed(struct persist *p);
void persist_get_stats(struct persist *p, struct persist_stats *st);
/* Drains, stops and joins the thread, frees everything. Returns the sticky error. */
int persist_stop(struct persist *p);

#endif
