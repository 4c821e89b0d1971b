/* walreplay.h - replaying the write-ahead log into the topics' files at open.
 *
 * Before the topics are opened, every record from the log's checkpointed start to its end is
 * written again at its position in the file it names: the topic is found by the incarnation id
 * in its topic.meta (a topic renamed since still matches; a deleted one matches no directory,
 * and its records are skipped), the file by the record's file id. A record for a file that no
 * longer exists (deleted by retention or a seal-and-trim) is skipped, and so is a group-log
 * record of another generation than the groups.log on disk (compaction replaced it, and the
 * snapshot holds its effects): a replay creates no file. A record whose bytes the file already
 * holds is not written (a replay rewrites only what a crash lost), and writing one twice writes
 * the same bytes at the same place, so a crash during a replay is followed by the same replay.
 * The files written are synced before it returns; the caller then checkpoints the log.
 *
 * Threads: the loader, before the persist thread starts. */
#ifndef OBK_WALREPLAY_H
#define OBK_WALREPLAY_H

#include <stdint.h>

#include "storage/wal.h"

struct walreplay_report {
    struct wal_scan_report scan; /* the log's extent (for wal_open) and damage */
    uint64_t applied;            /* records written into their files */
    uint64_t applied_bytes;
    uint64_t present;     /* records the file already held (nothing written) */
    uint64_t skipped;     /* records of deleted topics, removed files, older group logs */
    uint64_t topics;      /* topics the applied records went to */
    uint64_t total_bytes; /* log bytes to replay (known after the first pass over the files) */
};

/* Progress while replaying: bytes of log read so far, of at most total (called every 4 MiB
 * of log and at the end). */
typedef void (*walreplay_progress_cb)(void *ctx, uint64_t done_bytes, uint64_t total_bytes);

/* Replays the log of data directory dirfd (ndbs databases). repair as for wal_scan. Returns
 * OBK_ERR_DAMAGED when the log is damaged before its last file (and no repair), or an I/O
 * status; rep->scan.damage says where. */
int walreplay_run(int dirfd, int ndbs, int repair, walreplay_progress_cb progress, void *ctx,
                  struct walreplay_report *rep);

/* After a replay: opens the log where the scan found its end and checkpoints it there (the
 * replayed files are synced, so nothing before that is needed). *out gets the writer; with out
 * NULL the log is closed. */
int walreplay_finish(int dirfd, const struct wal_config *cfg, const struct wal_scan_report *scan,
                     struct wal **out);

#endif
