/* codec.c - LEB128 varints (unsigned and zigzag) for record batches. Stateless; any thread.
 * The fixed-width little-endian helpers are inline in codec.h. */
#include "base/codec.h"

size_t codec_put_uvarint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

size_t codec_put_svarint(uint8_t *p, int64_t v) {
    return codec_put_uvarint(p, codec_zigzag(v));
}

size_t codec_uvarint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t codec_get_uvarint(const uint8_t *p, size_t avail, uint64_t *out) {
    uint64_t v = 0;
    for (size_t i = 0; i < avail && i < CODEC_VARINT_MAX; i++) {
        uint64_t b = p[i] & 0x7f;
        /* the 10th byte may only carry the top bit of a 64-bit value */
        if (i == 9 && b > 1) return 0;
        v |= b << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

size_t codec_get_svarint(const uint8_t *p, size_t avail, int64_t *out) {
    uint64_t u;
    size_t n = codec_get_uvarint(p, avail, &u);
    if (n) *out = codec_unzigzag(u);
    return n;
}
