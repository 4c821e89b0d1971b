/* test_crc32c.c - CRC-32C test vectors on both paths, and the codec's varints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/codec.h"
#include "base/crc32c.h"

static void test_vector(void **state) {
    (void)state;
    assert_int_equal(crc32c_sw(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    if (crc32c_hw_available()) {
        assert_int_equal(crc32c_hw(0, "123456789", 9), 0xE3069283u);
    } else {
        print_message("# no SSE4.2: hardware path not tested\n");
    }
    /* RFC 3720 B.4: 32 bytes of zeros */
    uint8_t z[32] = {0};
    assert_int_equal(crc32c_sw(0, z, 32), 0x8A9136AAu);
    assert_int_equal(crc32c(0, "", 0), 0);
}

static void test_paths_agree(void **state) {
    (void)state;
    uint8_t buf[1031];
    unsigned seed = getenv("OBELISK_SEED") ? (unsigned)atoi(getenv("OBELISK_SEED")) : 12345u;
    print_message("# seed %u\n", seed);
    srand(seed);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)rand();
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len += 37) {
            uint32_t a = crc32c_sw(0, buf + off, len);
            assert_int_equal(a, crc32c(0, buf + off, len));
            if (crc32c_hw_available()) assert_int_equal(a, crc32c_hw(0, buf + off, len));
            /* incremental == one shot */
            uint32_t b = crc32c(crc32c(0, buf + off, len / 2), buf + off + len / 2, len - len / 2);
            assert_int_equal(a, b);
        }
    }
}

static void test_fixed(void **state) {
    (void)state;
    uint8_t b[8];
    codec_put_u32(b, 0x01020304u);
    assert_int_equal(b[0], 4);
    assert_int_equal(b[3], 1);
    assert_int_equal(codec_get_u32(b), 0x01020304u);
    codec_put_u64(b, 0x1122334455667788ull);
    assert_int_equal(b[0], 0x88);
    assert_true(codec_get_u64(b) == 0x1122334455667788ull);
    codec_put_u16(b, 0xBEEF);
    assert_int_equal(codec_get_u16(b), 0xBEEF);
}

static void test_varints(void **state) {
    (void)state;
    uint64_t vals[] = {0,         1, 127, 128, 300, 16383, 16384, UINT32_MAX, (uint64_t)1 << 63,
                       UINT64_MAX};
    uint8_t b[CODEC_VARINT_MAX];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        size_t n = codec_put_uvarint(b, vals[i]);
        assert_int_equal(n, codec_uvarint_len(vals[i]));
        uint64_t v;
        assert_int_equal(codec_get_uvarint(b, n, &v), n);
        assert_true(v == vals[i]);
        if (n > 1) assert_int_equal(codec_get_uvarint(b, n - 1, &v), 0); /* truncated */
    }
    assert_int_equal(codec_put_uvarint(b, 300), 2);
    assert_int_equal(b[0], 0xAC);
    assert_int_equal(b[1], 0x02);
    int64_t svals[] = {0, -1, 1, -64, 64, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof svals / sizeof svals[0]; i++) {
        size_t n = codec_put_svarint(b, svals[i]);
        int64_t v;
        assert_int_equal(codec_get_svarint(b, n, &v), n);
        assert_true(v == svals[i]);
    }
    assert_int_equal(codec_zigzag(-1), 1);
    /* 11-byte and 64-bit-overflowing inputs are refused */
    uint8_t bad[11];
    memset(bad, 0xff, sizeof bad);
    uint64_t v;
    assert_int_equal(codec_get_uvarint(bad, sizeof bad, &v), 0);
    memset(bad, 0x80, 9);
    bad[9] = 0x02;
    assert_int_equal(codec_get_uvarint(bad, 10, &v), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_paths_agree),
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_varints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
