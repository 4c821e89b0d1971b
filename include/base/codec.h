/* codec.h - little-endian integers and varints for the on-disk formats.
 *
 * Fixed-width helpers write/read exactly N bytes at p. Varints are LEB128 (7 bits a byte, low
 * group first, high bit = more follows), at most 10 bytes for 64 bits; signed values are
 * zigzag-mapped first. */
#ifndef OBK_CODEC_H
#define OBK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define CODEC_VARINT_MAX 10 /* ceil(64 / 7) bytes for a uint64_t */

static inline void codec_put_u8(uint8_t *p, uint8_t v) {
    p[0] = v;
}
static inline void codec_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void codec_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void codec_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t codec_get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t codec_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t codec_get_u64(const uint8_t *p) {
    return (uint64_t)codec_get_u32(p) | (uint64_t)codec_get_u32(p + 4) << 32;
}

static inline uint64_t codec_zigzag(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t codec_unzigzag(uint64_t v) {
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Writes v at p (room for CODEC_VARINT_MAX bytes needed); returns the bytes written. */
size_t codec_put_uvarint(uint8_t *p, uint64_t v);
size_t codec_put_svarint(uint8_t *p, int64_t v);
/* Bytes codec_put_uvarint would write. */
size_t codec_uvarint_len(uint64_t v);
/* Reads a varint from p (at most avail bytes). Returns the bytes consumed, or 0 when the input
 * ends inside the varint, is longer than 10 bytes, or overflows 64 bits. */
size_t codec_get_uvarint(const uint8_t *p, size_t avail, uint64_t *out);
size_t codec_get_svarint(const uint8_t *p, size_t avail, int64_t *out);

#endif
