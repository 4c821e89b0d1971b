/* cgstore.h - the files of a stream's consumer groups: groups.log (the records of
 * cgroup_state.h, one CRC-checked record of idempotent set/delete operations per command) and
 * groups.snap (the full state as the same operations, with a generation number); loading them
 * at open, appending records to a persist submission, compaction. Used by topic_groups.c and
 * topic.c (open, flush, close) and obelisk-check. It works on a struct cg_state, the file state
 * in struct cgstore_log, the topic directory's descriptor and the stream facts it is handed;
 * it knows no topic. Owned by the thread that holds the store (docs/storage.md, Threads),
 * except that the bytes handed to a submission belong to the persist thread.
 *
 * groups.log (little-endian):
 *   header  off size field
 *             0    4 magic       "OBKG" (0x474B424F)
 *             4    2 version     1
 *             6    2 reserved    zero
 *             8    8 generation  equals the snapshot's it follows (0 with no snapshot)
 *            16    4 crc         CRC-32C of bytes 0..15
 *   records (from byte 20, back to back; layout and operations in cgroup_state.h):
 *             0    4 length      bytes after this field (4 + ops); first, so a torn tail
 *                                reads as a length past the end of the file
 *             4    4 crc         CRC-32C of bytes 8 .. 4+length
 *             8    n ops         operations, applied in order
 *
 * groups.snap:
 *             0    4 magic       "OBKS" (0x534B424F)
 *             4    2 version     1
 *             6    2 reserved    zero
 *             8    8 generation
 *            16    8 ops_len
 *            24    n ops         the full state: per group GROUP_SET [COMMIT_SET], then per
 *                                consumer CONSUMER_SET and its PENDING_SETs
 *          24+n    4 crc         CRC-32C of every byte before it */
#ifndef OBK_CGSTORE_H
#define OBK_CGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/cgroup_state.h"
#include "storage/keydir.h"
#include "storage/persist.h"
#include "storage/sid.h"

#define CG_LOG_NAME   TOPIC_GROUPS_LOG_NAME
#define CG_SNAP_NAME  "groups.snap"
#define CG_LOG_MAGIC  0x474B424Fu
#define CG_SNAP_MAGIC 0x534B424Fu
#define CG_VERSION    1
#define CG_LOG_HEADER 20
#define CG_SNAP_FIXED 24
/* Compaction: groups.log is rewritten as a snapshot once it passes this and twice the last
 * snapshot (so a large PEL is not rewritten for every few MiB of acks). */
#define CG_COMPACT_MIN_BYTES (4ull << 20)

/* groups.log and groups.snap as the owner of the state knows them: written, or queued in a
 * submission. All zero before the first group (no file yet). */
struct cgstore_log {
    struct pfile *pf;   /* groups.log write handle (NULL until needed) */
    int exists;         /* groups.log has its header on disk (or queued) */
    uint64_t size;      /* bytes of groups.log written or queued */
    uint64_t gen;       /* generation of the snapshot the log follows */
    uint64_t snap_size; /* bytes of the last snapshot */
    int wal_db;         /* the names of groups.log in the write-ahead log (set by the topic) */
    uint64_t wal_topic;
};
/* Releases the write handle through s (closing the file after everything queued before), or
 * frees it when s is NULL. */
void cgstore_log_release(struct cgstore_log *log, struct psub *s);

/* ---- codec ---- */
/* Applies ops (a record's or a snapshot's body); OBK_ERR_CORRUPT on a malformed or
 * inconsistent operation (what was applied before it stays). check_only parses without
 * applying. */
int cgs_apply(struct cg_state *cg, const uint8_t *ops, size_t len, int check_only);
/* The snapshot file of the current state with generation gen (*out malloc'd). */
int cgs_encode_snapshot(const struct cg_state *cg, uint64_t gen, uint8_t **out, size_t *len);
void cgs_encode_log_header(uint8_t *p, uint64_t gen);

/* ---- files ---- */
struct cgstore_report {
    int found;                /* groups.snap or groups.log existed */
    int snap_damaged;         /* groups.snap unreadable (refused, or dropped by a repair) */
    int log_stale;            /* groups.log older than groups.snap (compaction cut short) */
    int log_damaged;          /* groups.log from a newer generation than any snapshot */
    uint64_t records;         /* log records replayed */
    uint64_t truncated_bytes; /* bad tail of groups.log cut (or that would be) */
    uint64_t clamped;         /* changes made by the clamp */
    char damage[160];
};

/* Loads groups.snap and replays groups.log from dirfd into a new state (*out is NULL when
 * neither file exists) and fills *log's generation and snapshot size. readonly: change no
 * file. repair: a damaged snapshot drops the group state instead of refusing
 * (OBK_ERR_DAMAGED). *good_log is the end of the last good record (0 when the log must be
 * rewritten). */
int cgstore_load(int dirfd, int readonly, int repair, struct cg_state **out,
                 struct cgstore_log *log, uint64_t *good_log, struct cgstore_report *rep);
/* Open time, after the stream's recovery (last_id and entries_added are the recovered
 * stream's): load, cut a bad log tail, clamp to the stream, and when anything was cut, clamped
 * or stale write a new snapshot and log synchronously (tmp, fsync, rename, directory fsync).
 * On success *out is the state (NULL when the topic has no group files) and *log its files. */
int cgstore_open(int dirfd, sid_t last_id, uint64_t entries_added, int repair,
                 struct cg_state **out, struct cgstore_log *log, struct cgstore_report *rep);
/* The groups as they were when groups.log had log_size bytes in generation gen (a durable
 * point, for the roll back after an I/O error): groups.snap of that generation, then the log's
 * records up to exactly log_size. *out is NULL when log_size is 0 (no group file then);
 * OBK_ERR_CORRUPT when the files no longer hold that point (replaced by a compaction since). */
int cgstore_load_at(int dirfd, uint64_t gen, uint64_t log_size, struct cg_state **out);
/* Adds the waiting records of cg to s (after the topic's data batches), and a compaction when
 * the log is past its threshold. */
int cgstore_flush_into(struct cg_state *cg, struct cgstore_log *log, int dirfd, struct psub *s);
/* Adds a compaction to s: groups.snap (generation + 1) replaced, then groups.log replaced by an
 * empty log of that generation. */
int cgstore_compact_into(struct cg_state *cg, struct cgstore_log *log, int dirfd, struct psub *s);

#endif
