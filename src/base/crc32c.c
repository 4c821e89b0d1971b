/* crc32c.c - CRC-32C (Castagnoli polynomial 0x82F63B78, reflected).
 *
 * Two paths: the SSE4.2 crc32 instruction, 8 bytes a step (compiled with a target attribute so
 * the rest of the build needs no -msse4.2), and a slicing-by-8 table fallback. The choice is made
 * once, at the first call, from cpuid. Stateless apart from the lazily built table (built under
 * pthread_once), so any thread may call it. */
#include "base/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <nmmintrin.h>
#define CRC32C_X86 1
#endif

#define CRC32C_POLY 0x82F63B78u /* Castagnoli, bit-reflected */

static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xff] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len) {
    const uint8_t *p = buf;
    pthread_once(&crc_table_once, crc_build_table);
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
              crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--) crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#ifdef CRC32C_X86
__attribute__((target("sse4.2"))) uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len) {
    const uint8_t *p = buf;
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8); /* unaligned-safe; x86 is little-endian as the CRC expects */
        c = _mm_crc32_u64(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

int crc32c_hw_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_SSE4_2) != 0;
}
#else
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len) {
    return crc32c_sw(crc, buf, len);
}

int crc32c_hw_available(void) {
    return 0;
}
#endif

/* -1 until decided, then 0 (table) or 1 (instruction). A benign race: every thread computes the
 * same answer. */
static int crc_use_hw = -1;

uint32_t crc32c(uint32_t crc, const void *buf, size_t len) {
    if (crc_use_hw < 0) crc_use_hw = crc32c_hw_available();
    return crc_use_hw ? crc32c_hw(crc, buf, len) : crc32c_sw(crc, buf, len);
}
