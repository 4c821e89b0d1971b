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

void replog_encode_meta(uint8_t *out, int64_t created_ms, int64_t retention_bytes,
                        int64_t retention_ms, int64_t expire_at_ms) {
    codec_put_u64(out, (uint64_t)created_ms);
    codec_put_u64(out + 8, (uint64_t)retention_bytes);
    codec_put_u64(out + 16, (uint64_t)retention_ms);
    codec_put_u64(out + 24, (uint64_t)expire_at_ms);
}

int replog_decode_meta(const struct replog_rec *r, int64_t *created_ms, int64_t *retention_bytes,
                       int64_t *retention_ms, int64_t *expire_at_ms) {
    if (r->bodylen != REPLOG_META_SIZE && r->bodylen != REPLOG_META_SIZE_V1) return OBK_ERR_CORRUPT;
    *created_ms = (int64_t)codec_get_u64(r->body);
    *retention_bytes = (int64_t)codec_get_u64(r->body + 8);
    *retention_ms = (int64_t)codec_get_u64(r->body + 16);
    *expire_at_ms = r->bodylen == REPLOG_META_SIZE ? (int64_t)codec_get_u64(r->body + 24) : 0;
    return *expire_at_ms < 0 ? OBK_ERR_CORRUPT : OBK_OK;
}
