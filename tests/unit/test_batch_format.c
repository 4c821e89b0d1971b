/* test_batch_format.c - record batch round trips, size per entry, corruption detection, and
 * zstd-compressed DATA batches (round trips, what stays plain, damaged frames). */
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
#include "base/status.h"
#include "storage/batch_format.h"

static void add_entry(struct batch_builder *b, sid_t id, const char *f, const char *v) {
    const uint8_t *fv[2] = {(const uint8_t *)f, (const uint8_t *)v};
    size_t fl[2] = {strlen(f), strlen(v)};
    assert_int_equal(batch_builder_add_data(b, id, 1, fv, fl), OBK_OK);
}

static void test_data_roundtrip(void **state) {
    (void)state;
    struct batch_builder b;
    batch_builder_init(&b);
    batch_builder_begin(&b, BATCH_DATA, 1000);
    add_entry(&b, (sid_t){5, 0}, "f", "v0");
    add_entry(&b, (sid_t){5, 1}, "f", "v1");                  /* same fields */
    add_entry(&b, (sid_t){9, 3}, "g", "");                    /* new field, empty value */
    add_entry(&b, (sid_t){UINT64_MAX, UINT64_MAX}, "g", "x"); /* big jump */
    const uint8_t *fv[4] = {(const uint8_t *)"a", (const uint8_t *)"1", (const uint8_t *)"",
                            (const uint8_t *)"2\0z"};
    size_t fl[4] = {1, 1, 0, 3};
    assert_int_equal(batch_builder_add_data(&b, (sid_t){1, 1}, 2, fv, fl), OBK_ERR_INVAL);
    const uint8_t *out;
    size_t len;
    batch_builder_finish(&b, 777, &out, &len);
    struct batch_header h;
    assert_int_equal(batch_verify(out, len, &h), OBK_OK);
    assert_int_equal(batch_total_size(&h), len);
    assert_int_equal(h.count, 4);
    assert_true(h.base_offset == 1000 && h.append_ms == 777 && h.type == BATCH_DATA);
    assert_true(h.first_id.ms == 5 && h.last_id.ms == UINT64_MAX);
    assert_int_equal(batch_check_records(&h, out), OBK_OK);
    struct batch_iter it;
    struct obk_entry e;
    batch_iter_init(&it, &h, out);
    const char *vals[] = {"v0", "v1", "", "x"};
    const char *fields[] = {"f", "f", "g", "g"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(batch_iter_next_data(&it, &e), 1);
        assert_int_equal(e.offset, 1000 + i);
        assert_int_equal(e.nfields, 1);
        assert_int_equal(e.fvlen[0], strlen(fields[i]));
        assert_memory_equal(e.fv[0], fields[i], e.fvlen[0]);
        assert_int_equal(e.fvlen[1], strlen(vals[i]));
        if (e.fvlen[1]) assert_memory_equal(e.fv[1], vals[i], e.fvlen[1]);
    }
    assert_int_equal(batch_iter_next_data(&it, &e), 0);
    batch_iter_free(&it);
    batch_builder_free(&b);
}

static void test_other_types(void **state) {
    (void)state;
    struct batch_builder b;
    batch_builder_init(&b);
    const uint8_t *out;
    size_t len;
    struct batch_header h;
    batch_builder_begin(&b, BATCH_DELETE, 50);
    assert_int_equal(batch_builder_add_delete(&b, (sid_t){3, 4}, 10), OBK_OK);
    assert_int_equal(batch_builder_add_delete(&b, (sid_t){3, 9}, 12), OBK_OK);
    assert_int_equal(batch_builder_add_delete(&b, (sid_t){3, 9}, 13), OBK_ERR_INVAL);
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_verify(out, len, &h), OBK_OK);
    assert_int_equal(batch_check_records(&h, out), OBK_OK);
    struct batch_iter it;
    sid_t id;
    uint64_t off;
    batch_iter_init(&it, &h, out);
    assert_int_equal(batch_iter_next_id(&it, &id, &off), 1);
    assert_true(id.ms == 3 && id.seq == 4 && off == 10);
    assert_int_equal(batch_iter_next_id(&it, &id, &off), 1);
    assert_true(id.seq == 9 && off == 12);
    assert_int_equal(batch_iter_next_id(&it, &id, &off), 0);
    batch_iter_free(&it);

    batch_builder_begin(&b, BATCH_TRIM, 50);
    assert_int_equal(batch_builder_add_trim(&b, 42, (sid_t){7, 7}), OBK_OK);
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_verify(out, len, &h), OBK_OK);
    uint64_t so;
    assert_int_equal(batch_decode_trim(&h, out, &so), OBK_OK);
    assert_int_equal(so, 42);
    assert_true(h.first_id.ms == 7);

    batch_builder_begin(&b, BATCH_META, 50);
    assert_int_equal(batch_builder_add_meta(&b, (sid_t){9, 1}, 1234, (sid_t){8, 0}), OBK_OK);
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_verify(out, len, &h), OBK_OK);
    sid_t last, md;
    uint64_t added;
    assert_int_equal(batch_decode_meta(&h, out, &last, &added, &md), OBK_OK);
    assert_true(last.ms == 9 && last.seq == 1 && added == 1234 && md.ms == 8);
    batch_builder_free(&b);
}

/* One field and a 16-byte value, IDs one ms apart as from a steady producer: the target
 * is under 26 bytes per entry on disk. */
static void test_bytes_per_entry(void **state) {
    (void)state;
    struct batch_builder b;
    batch_builder_init(&b);
    int sizes[] = {1, 10, 100, 1000};
    for (size_t k = 0; k < 4; k++) {
        batch_builder_begin(&b, BATCH_DATA, 0);
        for (int i = 0; i < sizes[k]; i++)
            add_entry(&b, (sid_t){1700000000000ull + (uint64_t)i, 0}, "field", "0123456789abcdef");
        const uint8_t *out;
        size_t len;
        batch_builder_finish(&b, 1, &out, &len);
        print_message("# %d entries/batch: %.2f bytes/entry\n", sizes[k], (double)len / sizes[k]);
        if (sizes[k] >= 100) assert_true((double)len / sizes[k] < 26.0);
    }
    batch_builder_free(&b);
}

/* Every single-bit flip anywhere in a batch is caught by verify or the record checks. */
static void test_bitflips(void **state) {
    (void)state;
    struct batch_builder b;
    batch_builder_init(&b);
    batch_builder_begin(&b, BATCH_DATA, 7);
    for (int i = 0; i < 5; i++) add_entry(&b, (sid_t){100, (uint64_t)i}, "k", "value");
    const uint8_t *out;
    size_t len;
    batch_builder_finish(&b, 1, &out, &len);
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, out, len);
            copy[i] ^= (uint8_t)(1u << bit);
            struct batch_header h;
            int rc = batch_verify(copy, len, &h);
            if (rc == OBK_OK) rc = batch_check_records(&h, copy);
            assert_int_not_equal(rc, OBK_OK);
        }
    }
    /* truncated */
    struct batch_header h;
    for (size_t n = 0; n < len; n++) assert_int_not_equal(batch_verify(out, n, &h), OBK_OK);
    /* zeros */
    memset(copy, 0, len);
    assert_int_equal(batch_verify(copy, len, &h), OBK_ERR_CORRUPT);
    free(copy);
    batch_builder_free(&b);
}

/* A DATA batch of JSON-like events (the same fields, values that repeat in part). */
static void build_events(struct batch_builder *b, uint64_t base, int n) {
    batch_builder_begin(b, BATCH_DATA, base);
    for (int i = 0; i < n; i++) {
        char v[160];
        snprintf(v, sizeof v,
                 "{\"user\":%d,\"type\":\"%s\",\"url\":\"https://shop.example/p/%d\",\"ts\":%d}",
                 1000 + i % 37, i % 3 ? "view" : "click", i % 101, 1700000000 + i);
        add_entry(b, (sid_t){1700000000000ull + (uint64_t)i, 0}, "event", v);
    }
}

/* Compressed DATA batches keep their header, verify, and read back as the same entries; the
 * decompressed records can outlive the iterator. */
static void test_compressed_roundtrip(void **state) {
    (void)state;
    struct batch_builder b;
    struct batch_compressor z;
    batch_builder_init(&b);
    batch_compressor_init(&z);
    build_events(&b, 500, 300);
    const uint8_t *plain, *zb;
    size_t plen, zlen;
    batch_builder_finish(&b, 99, &plain, &plen);
    for (int level = 1; level <= BATCH_ZSTD_LEVEL_MAX; level += 9) {
        assert_int_equal(batch_compress(&z, plain, plen, level, &zb, &zlen), OBK_OK);
        assert_ptr_not_equal(zb, plain);
        print_message("# level %d: %zu -> %zu bytes (%.2f)\n", level, plen, zlen,
                      (double)zlen / (double)plen);
        assert_true(zlen * 3 < plen);
        struct batch_header hp, hz;
        assert_int_equal(batch_verify(plain, plen, &hp), OBK_OK);
        assert_int_equal(batch_verify(zb, zlen, &hz), OBK_OK);
        assert_int_equal(batch_total_size(&hz), zlen);
        assert_int_equal(hz.flags, BATCH_FLAG_ZSTD);
        assert_true(hz.count == hp.count && hz.base_offset == hp.base_offset &&
                    sid_cmp(hz.first_id, hp.first_id) == 0 &&
                    sid_cmp(hz.last_id, hp.last_id) == 0 && hz.append_ms == 99);
        assert_int_equal(batch_check_records(&hz, zb), OBK_OK);
        struct batch_iter a, c;
        struct obk_entry ea, ec;
        batch_iter_init(&a, &hp, plain);
        batch_iter_init(&c, &hz, zb);
        for (int i = 0; i < 300; i++) {
            assert_int_equal(batch_iter_next_data(&a, &ea), 1);
            assert_int_equal(batch_iter_next_data(&c, &ec), 1);
            assert_true(sid_cmp(ea.id, ec.id) == 0 && ea.offset == ec.offset &&
                        ec.offset == 500u + (uint64_t)i && ea.nfields == ec.nfields);
            assert_int_equal(ea.fvlen[1], ec.fvlen[1]);
            assert_memory_equal(ea.fv[1], ec.fv[1], ea.fvlen[1]);
        }
        assert_int_equal(batch_iter_next_data(&c, &ec), 0);
        const uint8_t *last = ec.fv ? ec.fv[1] : NULL;
        uint8_t *kept = batch_iter_take_buffer(&c);
        assert_non_null(kept);
        batch_iter_free(&c);
        assert_memory_equal(last, ea.fv[1], ea.fvlen[1]); /* still valid: the buffer is ours */
        free(kept);
        batch_iter_free(&a);
    }
    batch_compressor_free(&z);
    batch_builder_free(&b);
}

/* What is not worth compressing, or may not be, is handed back as is. */
static void test_compress_passthrough(void **state) {
    (void)state;
    struct batch_builder b;
    struct batch_compressor z;
    batch_builder_init(&b);
    batch_compressor_init(&z);
    const uint8_t *out, *zb;
    size_t len, zlen;
    batch_builder_begin(&b, BATCH_DELETE, 50);
    for (int i = 0; i < 100; i++)
        assert_int_equal(batch_builder_add_delete(&b, (sid_t){3, (uint64_t)i}, 10), OBK_OK);
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_compress(&z, out, len, 3, &zb, &zlen), OBK_OK);
    assert_true(zb == out && zlen == len); /* only DATA batches are compressed */
    batch_builder_begin(&b, BATCH_DATA, 0);
    uint32_t x = 12345;
    for (int i = 0; i < 1; i++) {
        uint8_t v[200];
        for (int k = 0; k < 200; k++) {
            x = x * 1103515245u + 12345u;
            v[k] = (uint8_t)(x >> 16);
        }
        const uint8_t *fv[2] = {(const uint8_t *)"f", v};
        size_t fl[2] = {1, sizeof v};
        assert_int_equal(batch_builder_add_data(&b, (sid_t){(uint64_t)i + 1, 0}, 1, fv, fl),
                         OBK_OK);
    }
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_compress(&z, out, len, 3, &zb, &zlen), OBK_OK);
    assert_true(zb == out && zlen == len); /* random bytes: no gain */
    build_events(&b, 0, 50);
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_compress(&z, out, len, 3, &zb, &zlen), OBK_OK);
    uint8_t *copy = malloc(zlen);
    memcpy(copy, zb, zlen);
    const uint8_t *again;
    size_t alen;
    assert_int_equal(batch_compress(&z, copy, zlen, 3, &again, &alen), OBK_OK);
    assert_true(again == copy && alen == zlen); /* compressed already */
    free(copy);
    batch_compressor_free(&z);
    batch_builder_free(&b);
}

/* Recomputes a batch's CRC after a change, so the change reaches the decoders. */
static void fix_crc(uint8_t *p, size_t len) {
    codec_put_u32(p + 4, crc32c(0, p + 8, len - 8));
}

/* Damaged compressed batches: a CRC mismatch is caught by verify; with a valid CRC, a frame
 * that does not decompress, or decompresses to other records, is refused by the record checks
 * and by every iterator call; the flag on another type or an unknown flag is refused. */
static void test_compressed_damage(void **state) {
    (void)state;
    struct batch_builder b;
    struct batch_compressor z;
    batch_builder_init(&b);
    batch_compressor_init(&z);
    build_events(&b, 0, 200);
    const uint8_t *out, *zb;
    size_t len, zlen;
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_compress(&z, out, len, 3, &zb, &zlen), OBK_OK);
    uint8_t *copy = malloc(zlen);
    struct batch_header h;
    struct batch_iter it;
    struct obk_entry e;
    memcpy(copy, zb, zlen);
    copy[zlen / 2] ^= 0x40;
    assert_int_equal(batch_verify(copy, zlen, &h), OBK_ERR_CORRUPT); /* CRC */
    int refused = 0;
    for (size_t i = BATCH_HEADER_SIZE; i < zlen; i++) {
        memcpy(copy, zb, zlen);
        copy[i] ^= 0x5a;
        fix_crc(copy, zlen);
        assert_int_equal(batch_verify(copy, zlen, &h), OBK_OK);
        int rc = batch_check_records(&h, copy);
        /* zstd checks its frame header and block sizes; a flip in literals may decode to
         * other bytes, which the record checks (IDs, lengths, count) must then catch or
         * which must be a well-formed batch */
        if (rc != OBK_OK) {
            refused++;
            batch_iter_init(&it, &h, copy);
            int r;
            while ((r = batch_iter_next_data(&it, &e)) == 1) {
            }
            assert_true(r < 0);
            batch_iter_free(&it);
        }
    }
    print_message("# %d of %zu byte changes in the frame refused\n", refused,
                  zlen - BATCH_HEADER_SIZE);
    assert_true(refused > 0);
    /* a frame cut short (length and CRC fixed) */
    memcpy(copy, zb, zlen);
    codec_put_u32(copy, (uint32_t)(zlen - 4 - 10));
    fix_crc(copy, zlen - 10);
    assert_int_equal(batch_verify(copy, zlen - 10, &h), OBK_OK);
    assert_int_equal(batch_check_records(&h, copy), OBK_ERR_CORRUPT);
    batch_iter_init(&it, &h, copy);
    assert_int_equal(batch_iter_next_data(&it, &e), OBK_ERR_CORRUPT);
    batch_iter_free(&it);
    /* a count above the frame's content size */
    memcpy(copy, zb, zlen);
    codec_put_u32(copy + 20, 1u << 30);
    fix_crc(copy, zlen);
    assert_int_equal(batch_verify(copy, zlen, &h), OBK_OK);
    assert_int_equal(batch_check_records(&h, copy), OBK_ERR_CORRUPT);
    /* the flag on a DELETE batch, and an unknown flag */
    memcpy(copy, zb, zlen);
    copy[9] = BATCH_DELETE;
    fix_crc(copy, zlen);
    assert_int_equal(batch_verify(copy, zlen, &h), OBK_ERR_CORRUPT);
    memcpy(copy, zb, zlen);
    codec_put_u16(copy + 10, BATCH_FLAG_ZSTD | 2);
    fix_crc(copy, zlen);
    assert_int_equal(batch_verify(copy, zlen, &h), OBK_ERR_CORRUPT);
    free(copy);
    batch_compressor_free(&z);
    batch_builder_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_roundtrip),       cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_bytes_per_entry),      cmocka_unit_test(test_bitflips),
        cmocka_unit_test(test_compressed_roundtrip), cmocka_unit_test(test_compress_passthrough),
        cmocka_unit_test(test_compressed_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
