/* keydir.c - key to directory name, topic.meta codec (layout in keydir.h). Stateless. */
#include "storage/keydir.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <string.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/status.h"
#include "base/util.h"
#include "storage/segment.h"

#define META_FIXED_V1 36
#define META_FIXED_V2 44
#define META_FIXED    52

static void hex(const uint8_t *p, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void keydir_name(const void *key, size_t keylen, char *name) {
    if (keylen <= KEYDIR_HEX_MAX) {
        name[0] = 't';
        name[1] = '_';
        hex(key, keylen, name + 2);
    } else {
        uint8_t md[SHA256_DIGEST_LENGTH];
        SHA256(key, keylen, md);
        name[0] = 'h';
        name[1] = '_';
        hex(md, sizeof md, name + 2);
    }
}

int keydir_is_topic_name(const char *name) {
    return (name[0] == 't' || name[0] == 'h') && name[1] == '_';
}

int keydir_encode_meta(const struct topic_meta *m, uint8_t **out, size_t *len) {
    size_t n = META_FIXED + m->keylen + 4;
    uint8_t *b = calloc(1, n);
    if (!b) return OBK_ERR_NOMEM;
    codec_put_u32(b, TOPIC_META_MAGIC);
    codec_put_u16(b + 4, 3);
    b[6] = m->compression;
    b[7] = m->compression_level;
    codec_put_u64(b + 8, (uint64_t)m->created_ms);
    codec_put_u64(b + 16, (uint64_t)m->retention_bytes);
    codec_put_u64(b + 24, (uint64_t)m->retention_ms);
    codec_put_u64(b + 32, m->incarnation);
    codec_put_u64(b + 40, (uint64_t)m->expire_at_ms);
    codec_put_u32(b + 48, (uint32_t)m->keylen);
    if (m->keylen) memcpy(b + META_FIXED, m->key, m->keylen);
    codec_put_u32(b + n - 4, crc32c(0, b, n - 4));
    *out = b;
    *len = n;
    return OBK_OK;
}

int keydir_decode_meta(const uint8_t *b, size_t len, struct topic_meta *m) {
    memset(m, 0, sizeof *m);
    if (len < META_FIXED_V1 + 4 || codec_get_u32(b) != TOPIC_META_MAGIC) return OBK_ERR_CORRUPT;
    if (codec_get_u32(b + len - 4) != crc32c(0, b, len - 4)) return OBK_ERR_CORRUPT;
    uint16_t version = codec_get_u16(b + 4);
    if (version < 1 || version > 3) return OBK_ERR_VERSION;
    size_t fixed = version == 1 ? META_FIXED_V1 : version == 2 ? META_FIXED_V2 : META_FIXED;
    if (len < fixed + 4) return OBK_ERR_CORRUPT;
    uint32_t kl = codec_get_u32(b + fixed - 4);
    if ((uint64_t)kl + fixed + 4 != len) return OBK_ERR_CORRUPT;
    m->created_ms = (int64_t)codec_get_u64(b + 8);
    m->retention_bytes = (int64_t)codec_get_u64(b + 16);
    m->retention_ms = (int64_t)codec_get_u64(b + 24);
    m->incarnation = version == 1 ? 0 : codec_get_u64(b + 32);
    m->expire_at_ms = version < 3 ? 0 : (int64_t)codec_get_u64(b + 40);
    if (m->expire_at_ms < 0) return OBK_ERR_CORRUPT;
    m->compression = b[6];
    m->compression_level = b[7];
    if (m->compression > TOPIC_COMPRESSION_ZSTD || m->compression_level > BATCH_ZSTD_LEVEL_MAX)
        return OBK_ERR_CORRUPT;
    m->keylen = kl;
    m->key = malloc(kl ? kl : 1);
    if (!m->key) return OBK_ERR_NOMEM;
    if (kl) memcpy(m->key, b + fixed, kl);
    return OBK_OK;
}

uint64_t keydir_new_incarnation(void) {
    uint64_t v = 0;
    /* getrandom cannot fail for 8 bytes once the pool is ready; the clock is the fallback */
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = (uint64_t)util_ustime() * 0x9E3779B97F4A7C15u;
    return v ? v : 1;
}

int keydir_file_name(uint64_t file_id, char *out, size_t n) {
    uint64_t number = file_id & TOPIC_FILE_NUMBER_MASK;
    if (n < 32) return OBK_ERR_INVAL;
    switch (file_id >> 56) {
    case TOPIC_FILE_SEGMENT: segment_name(out, number, "log"); return OBK_OK;
    case TOPIC_FILE_INDEX: segment_name(out, number, "idx"); return OBK_OK;
    case TOPIC_FILE_GROUPS_LOG: snprintf(out, n, "%s", TOPIC_GROUPS_LOG_NAME); return OBK_OK;
    }
    return OBK_ERR_INVAL;
}
