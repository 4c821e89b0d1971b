/* tstate.h - the logical state of a stream beside its entries: log start, end offset, last ID,
 * entries_added, max deleted ID, XDEL tombstones; how each batch type changes it (the replay
 * rules recovery uses), and the per-topic checkpoint file that stores it.
 *
 * Checkpoint file (little-endian), written tmp + fsync + rename + directory fsync, only after
 * the log bytes it covers were fdatasynced:
 *   off size field
 *     0    4 magic          "OBKC" (0x434B424F)
 *     4    2 version        1
 *     6    2 reserved       zero
 *     8    8 seg_base       segment of the recovery point
 *    16    8 position       bytes of that segment known good (end of the last covered batch)
 *    24    8 start_offset   logical log start (XTRIM)
 *    32   16 epoch_max      the greatest ID stored since the last epoch began (version 2;
 *                           version 1: zero, read as last_id)
 *    48    8 end_offset     next dense offset
 *    56   16 last_id        the stream's last ID
 *    72    8 entries_added
 *    80   16 max_deleted
 *    96    8 ntomb          tombstones that follow
 *   104 24*n tombstones     deleted entries (id ms, id seq, offset), by offset
 *   then (version 2)
 *          8 nepoch         epochs that follow
 *      24*k epochs          (boundary offset, ceiling id ms, ceiling id seq), by boundary
 *   last   4 crc            CRC-32C of every byte before it
 *
 * Epochs (XSETID below a stored entry): an epoch begins at a boundary offset because XSETID set
 * the last ID to its ceiling while entries stored before it had greater IDs; all those are dead
 * (deleted or trimmed), and every entry from the boundary on is above the ceiling. So the
 * search key of a stored entry, min(its ID, the smallest ceiling of the epochs that begin after
 * it), never decreases along the log: lookups by ID search keys, and a live entry's key is its
 * ID. Within an epoch IDs still grow with offsets, and the log starts a new segment at each
 * boundary, so a segment's index stays ordered by ID. */
#ifndef OBK_TSTATE_H
#define OBK_TSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/batch_format.h"
#include "storage/sid.h"

#define CHECKPOINT_MAGIC   0x434B424Fu
#define CHECKPOINT_VERSION 2
#define CHECKPOINT_FIXED   104
#define CHECKPOINT_TOMB    24 /* bytes per tombstone */
#define CHECKPOINT_EPOCH   24 /* bytes per epoch */

struct tomb {
    sid_t id;
    uint64_t offset;
};

struct tepoch {
    uint64_t boundary; /* the first offset of the epoch */
    sid_t ceiling;     /* the last ID XSETID set when it began */
};

struct tstate {
    uint64_t start_offset;
    uint64_t end_offset;
    sid_t last_id;
    uint64_t entries_added;
    sid_t max_deleted;
    struct tomb *tomb; /* by offset, every one at or after start */
    size_t ntomb, tcap;
    sid_t epoch_max;   /* the greatest ID stored since the last epoch began */
    struct tepoch *ep; /* by boundary */
    size_t nep, epcap;
};

void tstate_init(struct tstate *st, uint64_t start_offset);
void tstate_free(struct tstate *st);
int tstate_copy(struct tstate *dst, const struct tstate *src);
/* Live entries: end - start - tombstones. */
static inline uint64_t tstate_length(const struct tstate *st) {
    return st->end_offset - st->start_offset - st->ntomb;
}
/* 1 when the entry at offset was deleted (XDEL). */
int tstate_is_deleted_at(const struct tstate *st, uint64_t offset);
/* The smallest ceiling of the epochs that begin after offset (SID_MAX: none), and the search
 * key of the entry (offset, id): min(id, that ceiling). */
sid_t tstate_ceiling(const struct tstate *st, uint64_t offset);
sid_t tstate_key(const struct tstate *st, uint64_t offset, sid_t id);
/* XSETID (and a META batch replayed): the last ID becomes last; when entries stored in the
 * current epoch are above it, a new epoch begins at the end offset. OBK_ERR_NOMEM leaves the
 * state as it was. */
int tstate_set_last(struct tstate *st, sid_t last);
/* Makes room for one more epoch, so that the next tstate_set_last cannot run out of memory. */
int tstate_epoch_reserve(struct tstate *st);
int tstate_tomb_add(struct tstate *st, sid_t id, uint64_t offset);
/* Makes room for n more tombstones, so that the next n adds cannot run out of memory. */
int tstate_tomb_reserve(struct tstate *st, size_t n);
/* Tombstones at or after offset. */
size_t tstate_tombs_from(const struct tstate *st, uint64_t offset);
/* Moves the log start (never back) and drops tombstones below it. */
void tstate_set_start(struct tstate *st, uint64_t start_offset);

/* Replays one verified batch. OBK_ERR_CORRUPT when it breaks the offset or ID order. */
int tstate_apply(struct tstate *st, const struct batch_header *h, const uint8_t *batch);

/* Checkpoint encoding; *out is malloc'd. */
int tstate_encode_checkpoint(const struct tstate *st, uint64_t seg_base, uint64_t pos,
                             uint8_t **out, size_t *len);
int tstate_decode_checkpoint(const uint8_t *buf, size_t len, struct tstate *st, uint64_t *seg_base,
                             uint64_t *pos);

#endif
