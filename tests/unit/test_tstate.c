/* test_tstate.c - the stream state rebuilt from batches refuses deletions that cannot be true:
 * one offset under two IDs (the tombstones would no longer be ordered by ID and offset at once,
 * and the checkpoint written from them would not load back) and an offset at or past the end
 * (it aborted on an assertion). Found by fuzz/fuzz_batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_offset_two_ids),
        cmocka_unit_test(test_delete_past_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
