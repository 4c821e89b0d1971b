/* replog.h - the replication stream's records: what a primary's store emits for each change of
 * its data set and what a replica's store applies (replapply.h). Byte layout (little-endian;
 * docs/format.md has the same table):
 *
 *   off  size  field
 *     0     4  length   bytes after this field
 *     4     4  crc      CRC-32C of bytes 8 .. 4+length
 *     8     1  type     REPLOG_* below
 *     9     1  reserved 0
 *    10     2  db
 *    12     4  keylen
 *    16     n  key
 *  16+n        payload (by type):
 *              BATCHES  closed record batches of the topic, back to back (batch_format.h)
 *              GROUPS   closed consumer-group records, back to back (cgroup_state.h)
 *              META     created_ms (8), retention_bytes (8, signed), retention_ms (8, signed)
 *              DELETE   nothing: the key is removed
 *              RENAME   the new key (the rest of the record)
 *              NOP      nothing: a heartbeat that moves the offset
 *
 * The records are logical effects, not file writes: each node's group commit decides its own
 * batch boundaries, so a replica applies entries, tombstones, trims, XSETID values and group
 * records through its own topic code and keeps the same dense offsets, IDs and group state.
 * Pure codec; no thread of its own. */
#ifndef OBK_REPLOG_H
#define OBK_REPLOG_H

#include <stddef.h>
#include <stdint.h>

#define REPLOG_HEADER 16
/* A record is at most one flush of one topic; refuse larger lengths as garbage. */
#define REPLOG_MAX (1u << 30)

enum replog_type {
    REPLOG_BATCHES = 1,
    REPLOG_GROUPS = 2,
    REPLOG_META = 3,
    REPLOG_DELETE = 4,
    REPLOG_RENAME = 5,
    REPLOG_NOP = 6,
};

/* Where a store hands its records: head (header and key) and body (payload) form one record. */
typedef void (*replog_sink)(void *ctx, const uint8_t *head, size_t headlen, const uint8_t *body,
                            size_t bodylen);

struct replog_rec {
    uint8_t type;
    int db;
    const uint8_t *key;
    size_t keylen;
    const uint8_t *body;
    size_t bodylen;
};

/* Encodes the header and key of a record with bodylen payload bytes into head (at least
 * REPLOG_HEADER + keylen bytes) and returns its length; the CRC covers body too. */
size_t replog_encode_head(uint8_t *head, uint8_t type, int db, const void *key, size_t keylen,
                          const void *body, size_t bodylen);
/* Emits one record through sink (head built on the stack or the heap for long keys).
 * Returns OBK_OK or OBK_ERR_NOMEM. */
int replog_emit(replog_sink sink, void *ctx, uint8_t type, int db, const void *key, size_t keylen,
                const void *body, size_t bodylen);
/* Parses the record at p. OBK_ERR_AGAIN when avail holds less than the whole record (*total
 * then says how many bytes it needs when the length is known, else 0), OBK_ERR_CORRUPT on a
 * bad CRC, type or length. On OBK_OK *total is the record's size. */
int replog_parse(const uint8_t *p, size_t avail, struct replog_rec *r, size_t *total);
/* META payload: created, retention bytes and ms, expire-at, then the compression override's
 * mode and level, one byte each (a 24-byte payload from a primary built before expiry reads
 * as no expiry, a 32-byte one from before compression as no override). */
#define REPLOG_META_SIZE    34
#define REPLOG_META_SIZE_V2 32
#define REPLOG_META_SIZE_V1 24
struct replog_meta {
    int64_t created_ms, retention_bytes, retention_ms, expire_at_ms;
    uint8_t compression, compression_level; /* topic.meta's bytes 6 and 7 (keydir.h) */
};
void replog_encode_meta(uint8_t *out, const struct replog_meta *m);
int replog_decode_meta(const struct replog_rec *r, struct replog_meta *m);

#endif
