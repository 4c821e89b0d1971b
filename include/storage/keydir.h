/* keydir.h - from a binary key to its topic directory name, and the topic.meta file.
 *
 * Names never contain key bytes: "t_" + lowercase hex of the key for keys up to KEYDIR_HEX_MAX
 * bytes, "h_" + hex SHA-256 of the key for longer ones. The raw key lives in topic.meta and is
 * checked against the name on open.
 *
 * topic.meta (little-endian), written tmp + fsync + rename + directory fsync:
 *   off size field
 *     0    4 magic            "OBKM" (0x4D4B424F)
 *     4    2 version          1
 *     6    2 reserved         zero
 *     8    8 created_ms
 *    16    8 retention_bytes  signed: -2 = store default, -1 = unlimited, else bytes
 *    24    8 retention_ms     signed: same convention
 *    32    4 keylen
 *    36    n key
 *  36+n    4 crc              CRC-32C of every byte before it */
#ifndef OBK_KEYDIR_H
#define OBK_KEYDIR_H

#include <stddef.h>
#include <stdint.h>

/* 100 key bytes make a 202-byte name, under the 255-byte NAME_MAX of common file systems. */
#define KEYDIR_HEX_MAX    100
#define KEYDIR_NAME_MAX   (2 + 2 * KEYDIR_HEX_MAX + 1)
#define TOPIC_META_NAME   "topic.meta"
#define TOPIC_META_MAGIC  0x4D4B424Fu
#define RETENTION_DEFAULT (-2)
#define RETENTION_NONE    (-1)

/* Writes the directory name of key (NUL-terminated) into name (KEYDIR_NAME_MAX bytes). */
void keydir_name(const void *key, size_t keylen, char *name);
/* 1 when name has the shape of a topic directory. */
int keydir_is_topic_name(const char *name);

struct topic_meta {
    int64_t created_ms;
    int64_t retention_bytes;
    int64_t retention_ms;
    uint8_t *key; /* malloc'd by decode */
    size_t keylen;
};

int keydir_encode_meta(const struct topic_meta *m, uint8_t **out, size_t *len);
/* Checks magic, version, length and CRC; m->key is malloc'd. */
int keydir_decode_meta(const uint8_t *buf, size_t len, struct topic_meta *m);

#endif
