/* test_tstate.c - the stream state rebuilt from batches refuses deletions that cannot be true:
 * one offset under two IDs, IDs out of offset order within one epoch, and an offset at or past
 * the end (it aborted on an assertion; found by fuzz/fuzz_batch); epochs (XSETID below a stored
 * entry): search keys, ceilings, a META batch beginning one, tombstones across one, and the
 * checkpoint keeping them (version 2) and reading version 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/crc32c.h"
#include "base/status.h"
#include "storage/batch_format.h"
#include "storage/tstate.h"

/* A state with entries at offsets 0, 1 and 2 (IDs 1-0, 2-0, 3-0). */
static void three_entries(struct tstate *st) {
    tstate_init(st, 0);
    st->end_offset = 3;
    st->last_id = (sid_t){3, 0};
    st->entries_added = 3;
}

static void test_one_offset_two_ids(void **state) {
    (void)state;
    struct tstate st;
    three_entries(&st);
    assert_int_equal(tstate_tomb_add(&st, (sid_t){2, 0}, 1), OBK_OK);
    assert_int_equal(tstate_tomb_add(&st, (sid_t){2, 0}, 1), OBK_OK); /* the same again */
    assert_int_equal(tstate_tomb_add(&st, (sid_t){2, 5}, 1), OBK_ERR_CORRUPT);
    assert_int_equal(tstate_tomb_add(&st, (sid_t){1, 0}, 2), OBK_ERR_CORRUPT);
    assert_int_equal(tstate_tomb_add(&st, (sid_t){2, 0}, 2), OBK_ERR_CORRUPT);
    assert_int_equal(st.ntomb, 1);
    /* what is kept still round-trips through a checkpoint */
    uint8_t *buf;
    size_t len;
    uint64_t base, pos;
    struct tstate back;
    assert_int_equal(tstate_encode_checkpoint(&st, 0, 48, &buf, &len), OBK_OK);
    assert_int_equal(tstate_decode_checkpoint(buf, len, &back, &base, &pos), OBK_OK);
    assert_int_equal(tstate_length(&back), 2);
    tstate_free(&back);
    free(buf);
    tstate_free(&st);
}

static void test_delete_past_the_end(void **state) {
    (void)state;
    struct tstate st;
    three_entries(&st);
    struct batch_builder b;
    const uint8_t *out;
    size_t len;
    struct batch_header h;
    batch_builder_init(&b);
    batch_builder_begin(&b, BATCH_DELETE, 3);
    assert_int_equal(batch_builder_add_delete(&b, (sid_t){2, 0}, 1), OBK_OK);
    assert_int_equal(batch_builder_add_delete(&b, (sid_t){3, 0}, 3), OBK_OK); /* no such entry */
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_verify(out, len, &h), OBK_OK);
    assert_int_equal(tstate_apply(&st, &h, out), OBK_ERR_CORRUPT);
    batch_builder_free(&b);
    tstate_free(&st);
}

#define ID(ms, seq) ((sid_t){(uint64_t)(ms), (uint64_t)(seq)})

/* Replays a META batch (XSETID) at the end of st. */
static int meta(struct tstate *st, sid_t last) {
    struct batch_builder b;
    const uint8_t *out;
    size_t len;
    struct batch_header h;
    batch_builder_init(&b);
    batch_builder_begin(&b, BATCH_META, st->end_offset);
    assert_int_equal(batch_builder_add_meta(&b, last, st->entries_added, st->max_deleted), OBK_OK);
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_verify(out, len, &h), OBK_OK);
    int rc = tstate_apply(st, &h, out);
    batch_builder_free(&b);
    return rc;
}

/* Replays a DATA batch of one entry. */
static int data(struct tstate *st, sid_t id) {
    struct batch_builder b;
    const uint8_t *out;
    size_t len;
    struct batch_header h;
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)"v"};
    size_t fl[2] = {1, 1};
    batch_builder_init(&b);
    batch_builder_begin(&b, BATCH_DATA, st->end_offset);
    assert_int_equal(batch_builder_add_data(&b, id, 1, fv, fl), OBK_OK);
    batch_builder_finish(&b, 1, &out, &len);
    assert_int_equal(batch_verify(out, len, &h), OBK_OK);
    int rc = tstate_apply(st, &h, out);
    batch_builder_free(&b);
    return rc;
}

static void test_epochs(void **state) {
    (void)state;
    struct tstate st;
    tstate_init(&st, 0);
    assert_int_equal(data(&st, ID(5, 0)), OBK_OK); /* offset 0 */
    assert_int_equal(data(&st, ID(9, 0)), OBK_OK); /* offset 1 */
    assert_int_equal(tstate_tomb_add(&st, ID(9, 0), 1), OBK_OK);
    /* XSETID 7-0, below the stored (deleted) 9-0: an epoch begins at offset 2 */
    assert_int_equal(meta(&st, ID(7, 0)), OBK_OK);
    assert_int_equal(st.nep, 1);
    assert_true(st.ep[0].boundary == 2 && sid_cmp(st.ep[0].ceiling, ID(7, 0)) == 0);
    assert_int_equal(data(&st, ID(8, 0)), OBK_OK); /* offset 2, below the dead 9-0 */
    /* keys never decrease along the log; a live entry's key is its ID */
    assert_true(sid_cmp(tstate_key(&st, 0, ID(5, 0)), ID(5, 0)) == 0);
    assert_true(sid_cmp(tstate_key(&st, 1, ID(9, 0)), ID(7, 0)) == 0);
    assert_true(sid_cmp(tstate_key(&st, 2, ID(8, 0)), ID(8, 0)) == 0);
    assert_true(sid_cmp(tstate_ceiling(&st, 2), SID_MAX) == 0);
    /* the same ID again, in the new epoch, can be deleted beside the old tombstone */
    assert_int_equal(data(&st, ID(9, 0)), OBK_OK); /* offset 3 */
    assert_int_equal(tstate_tomb_add(&st, ID(9, 0), 3), OBK_OK);
    assert_int_equal(tstate_is_deleted_at(&st, 3), 1);
    assert_int_equal(tstate_is_deleted_at(&st, 2), 0);
    /* XSETID down to 8-0 with nothing stored above it since: a second epoch at offset 4, then
     * XSETID lower still before any entry: the same epoch's ceiling comes down */
    assert_int_equal(meta(&st, ID(8, 0)), OBK_OK);
    assert_int_equal(meta(&st, ID(8, 0)), OBK_OK);
    assert_int_equal(st.nep, 2);
    assert_true(st.ep[1].boundary == 4);
    assert_true(sid_cmp(tstate_ceiling(&st, 0), ID(7, 0)) == 0); /* min of both ceilings */
    assert_true(sid_cmp(tstate_ceiling(&st, 3), ID(8, 0)) == 0);
    /* the checkpoint keeps epochs and the current epoch's greatest ID */
    uint8_t *buf;
    size_t len;
    uint64_t base, pos;
    struct tstate back;
    assert_int_equal(tstate_encode_checkpoint(&st, 0, 48, &buf, &len), OBK_OK);
    assert_int_equal(tstate_decode_checkpoint(buf, len, &back, &base, &pos), OBK_OK);
    assert_true(back.nep == 2 && back.ep[1].boundary == 4 &&
                sid_cmp(back.ep[0].ceiling, ID(7, 0)) == 0 && back.ntomb == 2);
    assert_true(sid_cmp(back.epoch_max, st.epoch_max) == 0);
    tstate_free(&back);
    /* a version 1 checkpoint (no epochs): the epoch's greatest ID reads as the last ID */
    struct tstate plain;
    three_entries(&plain);
    uint8_t *b1;
    size_t l1;
    assert_int_equal(tstate_encode_checkpoint(&plain, 0, 48, &b1, &l1), OBK_OK);
    uint8_t v1[CHECKPOINT_FIXED + 4];
    memcpy(v1, b1, CHECKPOINT_FIXED);
    v1[4] = 1;
    memset(v1 + 32, 0, 16);
    uint32_t crc = crc32c(0, v1, CHECKPOINT_FIXED);
    memcpy(v1 + CHECKPOINT_FIXED, &crc, 4);
    assert_int_equal(tstate_decode_checkpoint(v1, sizeof v1, &back, &base, &pos), OBK_OK);
    assert_true(back.nep == 0 && sid_cmp(back.epoch_max, ID(3, 0)) == 0);
    tstate_free(&back);
    free(b1);
    free(buf);
    tstate_free(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_offset_two_ids),
        cmocka_unit_test(test_delete_past_the_end),
        cmocka_unit_test(test_epochs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
