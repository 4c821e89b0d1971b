/* cgstore.h - the in-memory layout of a topic's consumer groups and their persistence:
 * groups.log (one CRC-checked record of idempotent set/delete operations per command) and
 * groups.snap (the full state as the same operations, with a generation number). Used by
 * cgroup.c (mutations), topic.c / store.c (flush, open, close) and obelisk-check. Main thread,
 * except that the bytes handed to a submission belong to the persist thread.
 *
 * groups.log (little-endian):
 *   header  off size field
 *             0    4 magic       "OBKG" (0x474B424F)
 *             4    2 version     1
 *             6    2 reserved    zero
 *             8    8 generation  equals the snapshot's it follows (0 with no snapshot)
 *            16    4 crc         CRC-32C of bytes 0..15
 *   records (from byte 20, back to back):
 *             0    4 length      bytes after this field (4 + ops); first, so a torn tail
 *                                reads as a length past the end of the file
 *             4    4 crc         CRC-32C of bytes 8 .. 4+length
 *             8    n ops         operations below, applied in order
 *
 * groups.snap:
 *             0    4 magic       "OBKS" (0x534B424F)
 *             4    2 version     1
 *             6    2 reserved    zero
 *             8    8 generation
 *            16    8 ops_len
 *            24    n ops         the full state: per group GROUP_SET [COMMIT_SET], then per
 *                                consumer CONSUMER_SET and its PENDING_SETs
 *          24+n    4 crc         CRC-32C of every byte before it
 *
 * Operations: a type byte, then varints (LEB128; s = zigzag signed) and strings (varint
 * length + bytes). "Selected" group/consumer: set by GROUP_SET/GROUP_SELECT and
 * CONSUMER_SET/CONSUMER_SELECT, reset at the start of each record.
 *   1 GROUP_SET       name, last_ms, last_seq, s:entries_read (-1 unknown); creates or updates
 *   2 GROUP_SELECT    name (must exist)
 *   3 GROUP_DEL       name
 *   4 CONSUMER_SET    name, s:seen_ms; in the selected group, creates or updates
 *   5 CONSUMER_SELECT name
 *   6 CONSUMER_DEL    name (its pending entries go with it)
 *   7 PENDING_SET     ms, seq, s:delivery_ms, count; owned by the selected consumer (moved
 *                     from another owner when pending there)
 *   8 PENDING_DEL     ms, seq
 *   9 COMMIT_SET      ms, seq */
#ifndef OBK_CGSTORE_H
#define OBK_CGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/idmap.h"
#include "storage/cgroup.h"
#include "storage/persist.h"
#include "storage/sid.h"

#define CG_LOG_NAME      "groups.log"
#define CG_SNAP_NAME     "groups.snap"
#define CG_LOG_MAGIC     0x474B424Fu
#define CG_SNAP_MAGIC    0x534B424Fu
#define CG_VERSION       1
#define CG_LOG_HEADER    20
#define CG_SNAP_FIXED    24
#define CG_RECORD_HEADER 8
/* A record is one command: XREADGROUP COUNT 1M makes about 20 MB; refuse lengths above this
 * as garbage rather than allocate them. */
#define CG_RECORD_MAX (256u << 20)
/* Compaction: groups.log is rewritten as a snapshot once it passes this and twice the last
 * snapshot (so a large PEL is not rewritten for every few MiB of acks). */
#define CG_COMPACT_MIN_BYTES (4ull << 20)

enum cg_op {
    CG_OP_GROUP_SET = 1,
    CG_OP_GROUP_SELECT = 2,
    CG_OP_GROUP_DEL = 3,
    CG_OP_CONSUMER_SET = 4,
    CG_OP_CONSUMER_SELECT = 5,
    CG_OP_CONSUMER_DEL = 6,
    CG_OP_PENDING_SET = 7,
    CG_OP_PENDING_DEL = 8,
    CG_OP_COMMIT_SET = 9,
};

struct cg_consumer {
    uint8_t *name;
    size_t len;
    int64_t seen_ms;
    struct idmap pel; /* id -> struct cg_pending * (owned by the group's PEL) */
};

struct cg_group {
    uint8_t *name;
    size_t len;
    sid_t last_id;
    int64_t entries_read;
    int has_commit;
    sid_t committed;
    struct idmap pel;          /* id -> struct cg_pending * (owned here) */
    struct cg_consumer **cons; /* sorted by name (byte-wise, shorter first on a tie) */
    size_t ncons, ccap;
};

struct cg_state {
    struct cg_group **groups; /* sorted by name */
    size_t ngroups, gcap;
    /* records: closed ones waiting for a submission, then the open one from rec_start */
    uint8_t *buf;
    size_t len, cap;
    int rec_open, rec_hard; /* hard: holds more than seen-time updates */
    size_t rec_start;
    const struct cg_group *sel_g;
    const struct cg_consumer *sel_c;
    /* files */
    struct pfile *log_pf;
    int log_exists;     /* groups.log has its header on disk (or queued) */
    uint64_t log_size;  /* bytes of groups.log written or queued */
    uint64_t gen;       /* generation of the snapshot the log follows */
    uint64_t snap_size; /* bytes of the last snapshot */
};

/* ---- state primitives (no records), shared by the API and replay ---- */
int cgs_new(struct cg_state **out);
/* Frees; the log handle is released through s (or freed when s is NULL). */
void cgs_free(struct cg_state *cg, struct psub *s);
struct cg_group *cgs_group_find(const struct cg_state *cg, const void *name, size_t len);
int cgs_group_add(struct cg_state *cg, const void *name, size_t len, struct cg_group **out);
void cgs_group_remove(struct cg_state *cg, struct cg_group *g);
int cgs_consumer_add(struct cg_group *g, const void *name, size_t len, struct cg_consumer **out);
/* Removes c and its pending entries; returns how many. */
uint64_t cgs_consumer_remove(struct cg_group *g, struct cg_consumer *c);
int cgs_pending_set(struct cg_group *g, struct cg_consumer *c, sid_t id, int64_t delivery_ms,
                    uint64_t count);
int cgs_pending_del(struct cg_group *g, sid_t id); /* 1 when it was pending */

/* Applies ops (a record's or a snapshot's body); OBK_ERR_CORRUPT on a malformed or
 * inconsistent operation (what was applied before it stays). check_only parses without
 * applying. */
int cgs_apply(struct cg_state *cg, const uint8_t *ops, size_t len, int check_only);
/* The snapshot file of the current state with generation gen (*out malloc'd). */
int cgs_encode_snapshot(const struct cg_state *cg, uint64_t gen, uint8_t **out, size_t *len);
void cgs_encode_log_header(uint8_t *p, uint64_t gen);
/* Drops what points past the stream: PEL entries above last_id; last delivered and committed
 * IDs above it come down to it, entries_read to at most entries_added. Returns the changes. */
uint64_t cgs_clamp(struct cg_state *cg, sid_t last_id, uint64_t entries_added);

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
 * neither file exists). readonly: change no file. repair: a damaged snapshot drops the group
 * state instead of refusing (OBK_ERR_DAMAGED). *good_log is the end of the last good record
 * (0 when the log must be rewritten). */
int cgstore_load(int dirfd, int readonly, int repair, struct cg_state **out, uint64_t *good_log,
                 struct cgstore_report *rep);
/* Open time, after the stream's recovery: load, cut a bad log tail, clamp to the stream (last
 * ID, entries_added), and when anything was cut, clamped or stale write a new snapshot and log
 * synchronously (tmp, fsync, rename, directory fsync). Attaches the state to t (t->cg). */
int cgstore_open(struct topic *t, int repair, struct cgstore_report *rep);
/* Adds the waiting records to s (after the topic's data batches), and a compaction when the
 * log is past its threshold. */
int cgstore_flush_into(struct topic *t, struct psub *s);
/* Adds a compaction to s: groups.snap (generation + 1) replaced, then groups.log replaced by an
 * empty log of that generation. */
int cgstore_compact_into(struct topic *t, struct psub *s);

#endif
