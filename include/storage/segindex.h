/* segindex.h - a segment's sparse index: (first ID, relative offset, position) of selected
 * DATA batches, always including the segment's first DATA batch.
 *
 * File layout (.idx), little-endian:
 *   header (SEGINDEX_HEADER_SIZE bytes)
 *     off size field
 *       0    4 magic        "OBKI" (0x494B424F)
 *       4    2 version      1
 *       6    2 entry_size   SEGINDEX_ENTRY_SIZE
 *       8    8 base_offset  the segment's base offset
 *      16   12 reserved     zero
 *      28    4 crc          CRC-32C of bytes 0..27
 *   entries (SEGINDEX_ENTRY_SIZE bytes each)
 *       0    8 id_ms        first ID of the batch
 *       8    8 id_seq
 *      16    4 rel_offset   batch base offset - segment base offset
 *      20    4 position     byte position of the batch in the .log file
 * Entries ascend in every field. The index is a cache: never fsynced except at seal, checked on
 * load (ascending, inside the segment) and on use (the batch found must start with that ID), and
 * rebuilt by scanning the segment when in doubt. */
#ifndef OBK_SEGINDEX_H
#define OBK_SEGINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "storage/sid.h"

#define SEGINDEX_MAGIC       0x494B424Fu
#define SEGINDEX_VERSION     1
#define SEGINDEX_HEADER_SIZE 32
#define SEGINDEX_ENTRY_SIZE  24

struct segindex_entry {
    sid_t id;
    uint32_t rel_offset;
    uint32_t pos;
};

/* Entries kept in their on-disk encoding: either a heap buffer (the active segment, or one
 * rebuilt) or a read-only mapping of the file (sealed segments, loaded lazily). */
struct segindex {
    uint8_t *data; /* entries only (the header is not kept) */
    size_t n, cap;
    void *map; /* mapping base when mapped, else NULL */
    size_t map_len;
};

void segindex_init(struct segindex *ix);
void segindex_free(struct segindex *ix);
/* Appends an entry; must ascend. Copies a mapped index to the heap first. */
int segindex_append(struct segindex *ix, sid_t id, uint32_t rel_offset, uint32_t pos);
/* Keeps the first n entries (copies a mapped index to the heap). */
int segindex_truncate(struct segindex *ix, size_t n);
struct segindex_entry segindex_get(const struct segindex *ix, size_t i);
/* Index of the last entry whose ID is <= id, or -1 when id is before the first entry. */
long segindex_lookup_id(const struct segindex *ix, sid_t id);
/* Index of the last entry whose rel_offset is <= rel, or -1. */
long segindex_lookup_offset(const struct segindex *ix, uint32_t rel);

void segindex_encode_header(uint8_t *buf, uint64_t base_offset);
void segindex_encode_entry(uint8_t *buf, const struct segindex_entry *e);
/* Maps and checks an index file: header (magic, version, base, CRC), whole entries, every
 * field ascending, positions below seg_size. OBK_ERR_NOTFOUND when missing, OBK_ERR_CORRUPT
 * when a check fails (the caller rebuilds), OBK_ERR_NOFILES when out of descriptors. A
 * trailing partial entry is ignored. The descriptor is closed before it returns. */
int segindex_load(int dirfd, const char *name, uint64_t base_offset, uint64_t seg_size,
                  struct segindex *out);

#endif
