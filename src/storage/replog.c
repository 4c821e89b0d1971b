/* replog.c - encoding and parsing of replication records (layout in replog.h and
 * docs/format.md). A record is self-checking like every other Obelisk structure: its CRC-32C
 * covers type, db, key and payload, so a replica refuses a damaged stream instead of applying
 * it. Pure functions; any thread. */
#include "storage/replog.h"

#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/status.h"
#include "storage/batch_format.h"
#include "storage/keydir.h"

size_t replog_encode_head(uint8_t *head, uint8_t type, int db, const void *key, size_t keylen,
                          const void *body, size_t bodylen) {
    size_t len = REPLOG_HEADER + keylen;
    codec_put_u32(head, (uint32_t)(len - 4 + bodylen));
    codec_put_u8(head + 8, type);
    codec_put_u8(head + 9, 0);
    codec_put_u16(head + 10, (uint16_t)db);
    codec_put_u32(head + 12, (uint32_t)keylen);
    if (keylen) memcpy(head + REPLOG_HEADER, key, keylen);
    uint32_t crc = crc32c(0, head + 8, len - 8);
    if (bodylen) crc = crc32c(crc, body, bodylen);
    codec_put_u32(head + 4, crc);
    return len;
}

int replog_emit(replog_sink sink, void *ctx, uint8_t type, int db, const void *key, size_t keylen,
                const void *body, size_t bodylen) {
    uint8_t small[REPLOG_HEADER + 256];
    uint8_t *head = small;
    if (keylen > sizeof small - REPLOG_HEADER && !(head = malloc(REPLOG_HEADER + keylen)))
        return OBK_ERR_NOMEM;
    size_t hl = replog_encode_head(head, type, db, key, keylen, body, bodylen);
    sink(ctx, head, hl, body, bodylen);
    if (head != small) free(head);
    return OBK_OK;
}

int replog_parse(const uint8_t *p, size_t avail, struct replog_rec *r, size_t *total) {
    *total = 0;
    if (avail < 4) return OBK_ERR_AGAIN;
    uint32_t len = codec_get_u32(p);
    if (len < REPLOG_HEADER - 4 || len > REPLOG_MAX) return OBK_ERR_CORRUPT;
    *total = (size_t)len + 4;
    if (avail < *total) return OBK_ERR_AGAIN;
    if (crc32c(0, p + 8, *total - 8) != codec_get_u32(p + 4)) return OBK_ERR_CORRUPT;
    r->type = p[8];
    r->db = codec_get_u16(p + 10);
    r->keylen = codec_get_u32(p + 12);
    if (r->type < REPLOG_BATCHES || r->type > REPLOG_NOP || p[9] != 0 ||
        r->keylen > *total - REPLOG_HEADER)
        return OBK_ERR_CORRUPT;
    r->key = p + REPLOG_HEADER;
    r->body = r->key + r->keylen;
    r->bodylen = *total - REPLOG_HEADER - r->keylen;
    return OBK_OK;
}

void replog_encode_meta(uint8_t *out, const struct replog_meta *m) {
    codec_put_u64(out, (uint64_t)m->created_ms);
    codec_put_u64(out + 8, (uint64_t)m->retention_bytes);
    codec_put_u64(out + 16, (uint64_t)m->retention_ms);
    codec_put_u64(out + 24, (uint64_t)m->expire_at_ms);
    out[32] = m->compression;
    out[33] = m->compression_level;
}

int replog_decode_meta(const struct replog_rec *r, struct replog_meta *m) {
    memset(m, 0, sizeof *m);
    if (r->bodylen != REPLOG_META_SIZE && r->bodylen != REPLOG_META_SIZE_V2 &&
        r->bodylen != REPLOG_META_SIZE_V1)
        return OBK_ERR_CORRUPT;
    m->created_ms = (int64_t)codec_get_u64(r->body);
    m->retention_bytes = (int64_t)codec_get_u64(r->body + 8);
    m->retention_ms = (int64_t)codec_get_u64(r->body + 16);
    if (r->bodylen >= REPLOG_META_SIZE_V2) m->expire_at_ms = (int64_t)codec_get_u64(r->body + 24);
    if (r->bodylen >= REPLOG_META_SIZE) {
        m->compression = r->body[32];
        m->compression_level = r->body[33];
    }
    return m->expire_at_ms < 0 || m->compression > TOPIC_COMPRESSION_ZSTD ||
                   m->compression_level > BATCH_ZSTD_LEVEL_MAX
               ? OBK_ERR_CORRUPT
               : OBK_OK;
}
