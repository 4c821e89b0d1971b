/* tlog.h - a topic's log: its ordered segments, where each new batch goes (roll), the sparse
 * index upkeep, reads of DATA entries by ID or offset, and retention. Filled by recovery inside
 * store_open (the server's loader thread), then used by the main thread; the persist thread only
 * receives the operations tlog_append_batch emits. */
#ifndef OBK_TLOG_H
#define OBK_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "storage/entry.h"
#include "storage/fdlru.h"
#include "storage/persist.h"
#include "storage/segment.h"
#include "storage/tstate.h"

struct tlog_config {
    uint64_t segment_bytes;  /* roll when a segment would pass this (<= TLOG_MAX_SEGMENT_BYTES) */
    int64_t segment_ms;      /* roll when the active segment is older (0 = never) */
    uint32_t index_interval; /* bytes of log between index entries */
};

/* Positions in the index are 32-bit: a segment stays below 2 GiB so every position fits with
 * room for one oversized batch. */
#define TLOG_MAX_SEGMENT_BYTES (1ull << 31)

struct tlog {
    int dirfd; /* the topic directory (owned by the topic) */
    const struct tlog_config *cfg;
    struct fdlru *rfds; /* segment read descriptors, shared by the store's topics (NULL: no cap) */
    struct segment **segs;
    size_t nsegs, cap;
    uint64_t end_offset; /* next dense offset */
    uint64_t bytes;      /* sum of segment sizes */
    int wal_db;          /* the names of its files in the write-ahead log (set by the topic) */
    uint64_t wal_topic;
    const struct tstate *st; /* the stream's epochs, for searches by ID (NULL: none) */
};

void tlog_init(struct tlog *t, int dirfd, const struct tlog_config *cfg, uint64_t end_offset);
/* Frees the in-memory state. Pending persist handles are released through s when s is given
 * (closing the files), else they are leaked to the persist thread's ownership rules: pass s. */
void tlog_free(struct tlog *t, struct psub *s);
/* Adds an existing segment (recovery), in base-offset order. Takes ownership. */
int tlog_add_segment(struct tlog *t, struct segment *seg);
struct segment *tlog_active(const struct tlog *t);

/* Places one encoded batch at the end of the log: rolls first when needed (a DATA batch that
 * would pass segment-bytes, an old segment, a relative offset past 32 bits), updates sizes
 * and the in-memory index, and appends the writes (log, index, new files, seals) to s. */
int tlog_append_batch(struct tlog *t, const uint8_t *batch, size_t len,
                      const struct batch_header *h, int64_t now_ms, struct psub *s);

/* Segment holding id: the last segment whose first ID <= id (0 when none). */
size_t tlog_find_segment_id(const struct tlog *t, sid_t id);
size_t tlog_find_segment_offset(const struct tlog *t, uint64_t offset);
/* Loads a sealed segment's index (mapped) or rebuilds it by scanning. */
int tlog_segment_index(struct tlog *t, struct segment *seg);
/* Opens seg's read descriptor unless open (the least recently used read descriptor of rfds is
 * closed first when the cap is reached) and marks it used. Out of descriptors (EMFILE, ENFILE)
 * every idle read descriptor is closed and the open tried again; OBK_ERR_NOFILES when it still
 * fails. */
int tlog_segment_fd(struct tlog *t, struct segment *seg);
/* Closes seg's read descriptor if open. */
void tlog_segment_fd_close(struct tlog *t, struct segment *seg);
/* Closes read descriptors of rfds (any topic's), least recently used first, until at most keep
 * are open (the store, when the budget's read share shrinks). */
void tlog_read_fds_shrink(struct fdlru *rfds, size_t keep);
/* What a flush needs before it places batches: the active segment's index loaded, so that
 * placing cannot fail for want of a descriptor (OBK_ERR_NOFILES here changes nothing). */
int tlog_prepare_append(struct tlog *t);

/* Forward read of DATA entries with id >= from and offset >= from_offset (seeking by offset
 * when by_offset is set, else by ID), stopping before offset limit (entries at or past it may
 * be unwritten) or when cb returns nonzero (a negative value is returned). */
int tlog_read_forward(struct tlog *t, sid_t from, uint64_t from_offset, int by_offset,
                      uint64_t limit, obk_entry_cb cb, void *ctx);
/* Backward read of DATA entries with id <= to and offset < limit, newest first. */
int tlog_read_backward(struct tlog *t, sid_t to, uint64_t limit, obk_entry_cb cb, void *ctx);

/* Retention: deletes sealed segments, oldest first, while one of the rules holds: the log is
 * over retention_bytes (< 0: off), the segment's last append is older than retention_ms
 * (< 0: off), or every entry in it is below keep_from (trimmed). Appends unlink operations to
 * s and returns the number of segments removed; *new_start is the first offset still on disk. */
int tlog_retain(struct tlog *t, int64_t retention_bytes, int64_t retention_ms, int64_t now_ms,
                uint64_t keep_from, struct psub *s, uint64_t *new_start);

/* Scans a segment file from pos, calling back each verified batch; stops at the first bad or
 * torn batch and reports where: *good_end is the end of the last good batch. Used by recovery
 * and obelisk-check. cb returns nonzero to stop (that batch is not counted). */
typedef int (*tlog_batch_cb)(void *ctx, const uint8_t *batch, const struct batch_header *h,
                             uint64_t pos);
int tlog_scan_file(int fd, uint64_t size, uint64_t pos, tlog_batch_cb cb, void *ctx,
                   uint64_t *good_end);

#endif
