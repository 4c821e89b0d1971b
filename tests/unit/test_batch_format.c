/* test_batch_format.c - record batch round trips, size per entry, corruption detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_roundtrip),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_bytes_per_entry),
        cmocka_unit_test(test_bitflips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
