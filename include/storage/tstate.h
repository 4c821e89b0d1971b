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
 *    32   16 reserved       zero
 *    48    8 end_offset     next dense offset
 *    56   16 last_id        the stream's last ID
 *    72    8 entries_added
 *    80   16 max_deleted
 *    96    8 ntomb          tombstones that follow
 *   104 24*n tombstones     deleted entries (id ms, id seq, offset), ascending
 *   104+24n 4 crc           CRC-32C of every byte before it */
#ifndef OBK_TSTATE_H
#define OBK_TSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/batch_format.h"
#include "storage/sid.h"

#define CHECKPOINT_MAGIC   0x434B424Fu
#define CHECKPOINT_VERSION 1
#define CHECKPOINT_FIXED   104
#define CHECKPOINT_TOMB    24 /* bytes per tombstone */

struct tomb {
    sid_t id;
    uint64_t offset;
};

struct tstate {
    uint64_t start_offset;
    uint64_t end_offset;
    sid_t last_id;
    uint64_t entries_added;
    sid_t max_deleted;
    struct tomb *tomb; /* ascending (by ID and so by offset), every one at or after start */
    size_t ntomb, tcap;
};

void tstate_init(struct tstate *st, uint64_t start_offset);
void tstate_free(struct tstate *st);
int tstate_copy(struct tstate *dst, const struct tstate *src);
/* Live entries: end - start - tombstones. */
static inline uint64_t tstate_length(const struct tstate *st) {
    return st->end_offset - st->start_offset - st->ntomb;
}
int tstate_is_deleted(const struct tstate *st, sid_t id);
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
