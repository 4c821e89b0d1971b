/* keydir.c - key to directory name, topic.meta codec (layout in keydir.h). Stateless. */
#include "storage/keydir.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/status.h"

#define META_FIXED 36

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
    codec_put_u16(b + 4, 1);
    codec_put_u64(b + 8, (uint64_t)m->created_ms);
    codec_put_u64(b + 16, (uint64_t)m->retention_bytes);
    codec_put_u64(b + 24, (uint64_t)m->retention_ms);
    codec_put_u32(b + 32, (uint32_t)m->keylen);
    if (m->keylen) memcpy(b + META_FIXED, m->key, m->keylen);
    codec_put_u32(b + n - 4, crc32c(0, b, n - 4));
    *out = b;
    *len = n;
    return OBK_OK;
}

int keydir_decode_meta(const uint8_t *b, size_t len, struct topic_meta *m) {
    memset(m, 0, sizeof *m);
    if (len < META_FIXED + 4 || codec_get_u32(b) != TOPIC_META_MAGIC) return OBK_ERR_CORRUPT;
    uint32_t kl = codec_get_u32(b + 32);
    if ((uint64_t)kl + META_FIXED + 4 != len) return OBK_ERR_CORRUPT;
    if (codec_get_u32(b + len - 4) != crc32c(0, b, len - 4)) return OBK_ERR_CORRUPT;
    if (codec_get_u16(b + 4) != 1) return OBK_ERR_VERSION;
    m->created_ms = (int64_t)codec_get_u64(b + 8);
    m->retention_bytes = (int64_t)codec_get_u64(b + 16);
    m->retention_ms = (int64_t)codec_get_u64(b + 24);
    m->keylen = kl;
    m->key = malloc(kl ? kl : 1);
    if (!m->key) return OBK_ERR_NOMEM;
    if (kl) memcpy(m->key, b + META_FIXED, kl);
    return OBK_OK;
}
