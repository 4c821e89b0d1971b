/* test_ring.c - ring cache: push/lookup, eviction under the global byte budget (oldest topic
 * first), unwritten entries never evicted (backpressure), drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/ring.h"

static int push(struct ring *r, uint64_t off, const char *v) {
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)v};
    size_t fl[2] = {1, strlen(v)};
    return ring_push(r, (sid_t){100 + off, off}, off, 1, fv, fl);
}

static void test_push_lookup_view(void **state) {
    (void)state;
    struct ring_budget b;
    struct ring r;
    ring_budget_init(&b, 1 << 20);
    ring_init(&r, &b);
    for (uint64_t i = 0; i < 200; i++) assert_int_equal(push(&r, i, "value"), OBK_OK);
    assert_int_equal(push(&r, 500, "gap"), OBK_ERR_INVAL);
    assert_int_equal(ring_count(&r), 200);
    assert_int_equal(ring_bound(&r, (sid_t){150, 50}, 0, NULL, NULL), 50);
    assert_int_equal(ring_bound(&r, (sid_t){150, 51}, 0, NULL, NULL), 51);
    assert_int_equal(ring_bound(&r, (sid_t){0, 0}, 0, NULL, NULL), 0);
    assert_int_equal(ring_bound(&r, (sid_t){1000, 0}, 0, NULL, NULL), 200);
    assert_int_equal(ring_bound(&r, (sid_t){150, 50}, 1, NULL, NULL), 51); /* upper bound */
    assert_int_equal(ring_find_offset(&r, 7), 7);
    assert_int_equal(ring_find_offset(&r, 200), 200);
    struct ring_scratch sc = {0};
    struct obk_entry e;
    assert_int_equal(ring_entry_view(ring_at(&r, 3), &sc, &e), OBK_OK);
    assert_int_equal(e.offset, 3);
    assert_int_equal(e.fvlen[1], 5);
    assert_memory_equal(e.fv[1], "value", 5);
    ring_drop_before(&r, 10);
    assert_int_equal(ring_first_offset(&r), 10);
    ring_drop_from(&r, 190);
    assert_int_equal(ring_count(&r), 180);
    assert_int_equal(push(&r, 191, "gap"), OBK_ERR_INVAL); /* the end moved back with the drop */
    assert_int_equal(push(&r, 190, "again"), OBK_OK);
    assert_int_equal(push(&r, 190, "twice"), OBK_ERR_INVAL);
    ring_drop_before(&r, 1000); /* empty: any offset starts it again */
    assert_int_equal(push(&r, 7, "fresh"), OBK_OK);
    ring_scratch_free(&sc);
    ring_free(&r);
    assert_int_equal(b.used, 0);
}

static void test_budget_eviction(void **state) {
    (void)state;
    struct ring_budget b;
    struct ring a, c;
    size_t one = sizeof(struct ring_entry) + 2 * sizeof(uint32_t) + 1 + 10;
    ring_budget_init(&b, one * 10);
    ring_init(&a, &b);
    ring_init(&c, &b);
    for (uint64_t i = 0; i < 6; i++) assert_int_equal(push(&a, i, "0123456789"), OBK_OK);
    for (uint64_t i = 0; i < 4; i++) assert_int_equal(push(&c, i, "0123456789"), OBK_OK);
    assert_int_equal(b.used, one * 10);
    /* nothing written yet: backpressure */
    assert_int_equal(push(&c, 4, "0123456789"), OBK_ERR_AGAIN);
    ring_mark_submitted(&a, 1);
    ring_mark_submitted(&c, 2);
    assert_int_equal(push(&c, 4, "0123456789"), OBK_ERR_AGAIN); /* submitted, not written */
    b.filed_seq = 1;                                            /* a's batch is on disk */
    assert_int_equal(push(&c, 4, "0123456789"), OBK_OK);
    /* evicted from a (least recently pushed), oldest first */
    assert_int_equal(ring_count(&a), 5);
    assert_int_equal(ring_first_offset(&a), 1);
    assert_int_equal(ring_count(&c), 5);
    b.filed_seq = 2;
    for (uint64_t i = 5; i < 9; i++) assert_int_equal(push(&c, i, "0123456789"), OBK_OK);
    assert_int_equal(ring_count(&a), 1);
    assert_true(b.used <= b.max_bytes);
    /* c's new entries (seq 0) are never evicted even when c is the only ring left */
    for (uint64_t i = 9; i < 14; i++) push(&c, i, "0123456789");
    for (size_t i = 0; i < ring_count(&c); i++)
        if (ring_at(&c, i)->offset >= 5) assert_true(ring_at(&c, i)->offset <= 13);
    assert_int_equal(ring_at(&c, ring_count(&c) - 1)->offset, 13);
    assert_true(b.used <= b.max_bytes);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(push(&c, 14, big), OBK_ERR_TOOBIG);
    ring_free(&a);
    ring_free(&c);
    assert_int_equal(b.used, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_lookup_view),
        cmocka_unit_test(test_budget_eviction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
