/* keydir.h - from a binary key to its topic directory name, and the topic.meta file.
 *
 * Names never contain key bytes: "t_" + lowercase hex of the key for keys up to KEYDIR_HEX_MAX
 * bytes, "h_" + hex SHA-256 of the key for longer ones. The raw key lives in topic.meta and is
 * checked against the name on open.
 *
 * topic.meta (little-endian), written tmp + fsync + rename + directory fsync (version 3; a
 * version 2 file has no expire_at and keylen at 40, a version 1 file no incarnation either and
 * keylen at 32; both are read, and rewritten as version 3 at the topic's next meta change):
 *   off size field
 *     0    4 magic            "OBKM" (0x4D4B424F)
 *     4    2 version          3
 *     6    1 compression      per-topic override: 0 = store default, 1 = none, 2 = zstd
 *     7    1 compression_level  per-topic zstd level: 0 = store default, else 1..19
 *                             (bytes 6 and 7 were reserved zero before: an older file has no
 *                             override, and an older build ignored them)
 *     8    8 created_ms
 *    16    8 retention_bytes  signed: -2 = store default, -1 = unlimited, else bytes
 *    24    8 retention_ms     signed: same convention
 *    32    8 incarnation      random, never 0: names this topic in the write-ahead log
 *    40    8 expire_at_ms     signed: 0 = no expiry (EXPIRE), else unix time in ms
 *    48    4 keylen
 *    52    n key
 *  52+n    4 crc              CRC-32C of every byte before it
 *
 * The write-ahead log names a topic's files by a file id: the kind in the top byte, below it
 * the segment's base offset (segment, index) or the generation of groups.log. */
#ifndef OBK_KEYDIR_H
#define OBK_KEYDIR_H

#include <stddef.h>
#include <stdint.h>

/* 100 key bytes make a 202-byte name, under the 255-byte NAME_MAX of common file systems. */
#define KEYDIR_HEX_MAX   100
#define KEYDIR_NAME_MAX  (2 + 2 * KEYDIR_HEX_MAX + 1)
#define TOPIC_META_NAME  "topic.meta"
#define TOPIC_META_MAGIC 0x4D4B424Fu
/* Per-topic compression override (topic.meta byte 6). */
#define TOPIC_COMPRESSION_DEFAULT 0
#define TOPIC_COMPRESSION_NONE    1
#define TOPIC_COMPRESSION_ZSTD    2
#define RETENTION_DEFAULT         (-2)
#define RETENTION_NONE            (-1)

/* Writes the directory name of key (NUL-terminated) into name (KEYDIR_NAME_MAX bytes). */
void keydir_name(const void *key, size_t keylen, char *name);
/* 1 when name has the shape of a topic directory. */
int keydir_is_topic_name(const char *name);

struct topic_meta {
    int64_t created_ms;
    uint64_t incarnation; /* 0: none yet (a version 1 file) */
    int64_t retention_bytes;
    int64_t retention_ms;
    int64_t expire_at_ms;      /* 0: the key does not expire */
    uint8_t compression;       /* TOPIC_COMPRESSION_* */
    uint8_t compression_level; /* 0: the store's, else 1..19 */
    uint8_t *key;              /* malloc'd by decode */
    size_t keylen;
};

int keydir_encode_meta(const struct topic_meta *m, uint8_t **out, size_t *len);
/* Checks magic, version, length and CRC; m->key is malloc'd. */
int keydir_decode_meta(const uint8_t *buf, size_t len, struct topic_meta *m);

/* A new incarnation id: random, never 0. */
uint64_t keydir_new_incarnation(void);

enum topic_file_kind {
    TOPIC_FILE_SEGMENT = 1,   /* <20-digit base offset>.log */
    TOPIC_FILE_INDEX = 2,     /* <20-digit base offset>.idx */
    TOPIC_FILE_GROUPS_LOG = 3 /* groups.log of that generation */
};
#define TOPIC_FILE_NUMBER_MASK ((UINT64_C(1) << 56) - 1)
#define TOPIC_FILE_ID(kind, number)                                                                \
    (((uint64_t)(kind) << 56) | ((uint64_t)(number)&TOPIC_FILE_NUMBER_MASK))
#define TOPIC_GROUPS_LOG_NAME "groups.log"
/* groups.log's header holds its generation here (cgstore.h; a unit test holds them equal). */
#define TOPIC_GROUPS_LOG_GEN_OFFSET 8
/* The name of the file with that id (n >= 32); OBK_ERR_INVAL for an unknown kind. */
int keydir_file_name(uint64_t file_id, char *out, size_t n);

#endif
