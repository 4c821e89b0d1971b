/* crc32c.h - CRC-32C (Castagnoli), the checksum of every Obelisk header and record batch. */
#ifndef OBK_CRC32C_H
#define OBK_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over len bytes. Uses the SSE4.2 crc32 instruction when the CPU has
 * it (checked once at run time), else a slicing table. crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The two implementations, exposed so tests can check both. crc32c_hw must only be called when
 * crc32c_hw_available() returns 1. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);
int crc32c_hw_available(void);

#endif
