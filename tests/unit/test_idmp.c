/* test_idmp.c - the idempotent-producer structure (idmp.c): lookups per (producer, iid), the
 * per-producer bound (oldest first), the duration counted on stream ID times (at add and at
 * lookup), a reconfigure forgetting every id, the clamp at recovery, iteration in add order,
 * and a model check with many random operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/status.h"
#include "storage/idmp.h"

#define ID(ms, seq) ((sid_t){(uint64_t)(ms), (uint64_t)(seq)})

static int has(const struct idmp *m, const char *pid, const char *iid, int64_t now, sid_t *id) {
    sid_t dummy;
    return idmp_find(m, pid, strlen(pid), iid, strlen(iid), now, id ? id : &dummy);
}

static void add(struct idmp *m, const char *pid, const char *iid, sid_t id) {
    assert_int_equal(idmp_add(m, pid, strlen(pid), iid, strlen(iid), id), OBK_OK);
}

static void test_lookup_and_bounds(void **state) {
    (void)state;
    struct idmp *m;
    assert_int_equal(idmp_new(100, 3, &m), OBK_OK);
    add(m, "p1", "a", ID(1000, 0));
    add(m, "p2", "a", ID(1001, 0)); /* producers are separate */
    sid_t id;
    assert_true(has(m, "p1", "a", 2000, &id));
    assert_true(id.ms == 1000 && id.seq == 0);
    assert_true(has(m, "p2", "a", 2000, &id) && id.ms == 1001);
    assert_false(has(m, "p1", "b", 2000, NULL));
    assert_false(has(m, "p", "1a", 2000, NULL)); /* no confusion of pid and iid bytes */
    /* at most 3 per producer, the oldest goes */
    add(m, "p1", "b", ID(1002, 0));
    add(m, "p1", "c", ID(1003, 0));
    add(m, "p1", "d", ID(1004, 0));
    assert_false(has(m, "p1", "a", 2000, NULL));
    assert_true(has(m, "p1", "b", 2000, NULL) && has(m, "p1", "d", 2000, NULL));
    assert_true(has(m, "p2", "a", 2000, NULL));
    struct idmp_stats st;
    idmp_get_stats(m, &st);
    assert_true(st.pids == 2 && st.iids == 4 && st.added == 5 && st.duplicates == 0);
    /* a lookup ignores ids older than the duration before now */
    assert_true(has(m, "p1", "b", 1002 + 100 * 1000 - 1, NULL));
    assert_false(has(m, "p1", "b", 1002 + 100 * 1000, NULL));
    /* an add drops the producer's ids older than the duration before its own ID time */
    add(m, "p1", "e", ID(1003 + 100 * 1000, 0));
    idmp_get_stats(m, &st);
    assert_int_equal(st.iids, 3); /* p1: d and e (b and c expired), p2: a */
    assert_true(has(m, "p1", "d", 1003 + 100 * 1000, NULL));
    /* a reconfigure forgets every id, the same values change nothing */
    assert_int_equal(idmp_configure(m, 100, 3), 0);
    assert_true(has(m, "p1", "d", 1003 + 100 * 1000, NULL));
    assert_int_equal(idmp_configure(m, 50, 3), 1);
    idmp_get_stats(m, &st);
    assert_true(st.pids == 0 && st.iids == 0 && st.added == 6);
    assert_int_equal(idmp_duration(m), 50);
    idmp_free(m);
}

struct walk {
    char buf[512];
};

static void walk_cb(void *ctx, const uint8_t *pid, size_t plen, const uint8_t *iid, size_t ilen,
                    sid_t id) {
    struct walk *w = ctx;
    size_t n = strlen(w->buf);
    snprintf(w->buf + n, sizeof w->buf - n, "%.*s/%.*s=%llu ", (int)plen, (const char *)pid,
             (int)ilen, (const char *)iid, (unsigned long long)id.ms);
}

static void test_clamp_and_order(void **state) {
    (void)state;
    struct idmp *m;
    assert_int_equal(idmp_new(100, 10, &m), OBK_OK);
    add(m, "b", "1", ID(10, 0));
    add(m, "a", "1", ID(11, 0));
    add(m, "b", "2", ID(12, 0));
    add(m, "a", "2", ID(13, 0));
    struct walk w = {""};
    idmp_foreach(m, walk_cb, &w);
    assert_string_equal(w.buf, "b/1=10 b/2=12 a/1=11 a/2=13 ");
    /* the stream came back shorter: ids of entries above 11-0 go, and an emptied producer */
    assert_int_equal(idmp_clamp(m, ID(11, 0)), 2);
    memset(&w, 0, sizeof w);
    idmp_foreach(m, walk_cb, &w);
    assert_string_equal(w.buf, "b/1=10 a/1=11 ");
    assert_int_equal(idmp_clamp(m, ID(10, 5)), 1);
    struct idmp_stats st;
    idmp_get_stats(m, &st);
    assert_true(st.pids == 1 && st.iids == 1);
    /* the same pair added again moves to the newest place with the newer ID */
    add(m, "b", "1", ID(20, 0));
    add(m, "b", "3", ID(21, 0));
    add(m, "b", "1", ID(22, 0));
    memset(&w, 0, sizeof w);
    idmp_foreach(m, walk_cb, &w);
    assert_string_equal(w.buf, "b/3=21 b/1=22 ");
    assert_true(idmp_memory(m) > 0);
    idmp_free(m);
}

/* Against a plain model: each producer's ids in add order, bounded, with the same expiry. */
static void test_random_model(void **state) {
    (void)state;
    enum { NP = 4, NI = 12, MAX = 5 };
    struct {
        int iid[64];
        uint64_t ms[64];
        int n;
    } model[NP] = {0};
    struct idmp *m;
    assert_int_equal(idmp_new(1, MAX, &m), OBK_OK); /* 1 s: expiry matters */
    srand(7);
    uint64_t t = 1000;
    for (int step = 0; step < 20000; step++) {
        int p = rand() % NP, i = rand() % NI;
        char pid[16], iid[16];
        snprintf(pid, sizeof pid, "p%d", p);
        snprintf(iid, sizeof iid, "i%d", i);
        t += (uint64_t)(rand() % 300);
        add(m, pid, iid, ID(t, 0));
        /* the model: remove an equal iid, append, then drop over MAX or expired */
        int k = 0;
        for (int j = 0; j < model[p].n; j++)
            if (model[p].iid[j] != i) {
                model[p].iid[k] = model[p].iid[j];
                model[p].ms[k++] = model[p].ms[j];
            }
        model[p].iid[k] = i;
        model[p].ms[k++] = t;
        model[p].n = k;
        while (model[p].n > MAX ||
               (model[p].n > 1 && (int64_t)model[p].ms[0] <= (int64_t)t - 1000)) {
            memmove(model[p].iid, model[p].iid + 1, (size_t)(model[p].n - 1) * sizeof(int));
            memmove(model[p].ms, model[p].ms + 1, (size_t)(model[p].n - 1) * sizeof(uint64_t));
            model[p].n--;
        }
        if (step % 97 == 0) {
            uint64_t tracked = 0;
            for (int q = 0; q < NP; q++) {
                tracked += (uint64_t)model[q].n;
                for (int j = 0; j < NI; j++) {
                    char qi[16], ji[16];
                    snprintf(qi, sizeof qi, "p%d", q);
                    snprintf(ji, sizeof ji, "i%d", j);
                    int want = 0;
                    for (int x = 0; x < model[q].n; x++)
                        if (model[q].iid[x] == j && (int64_t)model[q].ms[x] > (int64_t)t - 1000)
                            want = 1;
                    assert_int_equal(has(m, qi, ji, (int64_t)t, NULL), want);
                }
            }
            struct idmp_stats st;
            idmp_get_stats(m, &st);
            assert_int_equal(st.iids, tracked);
        }
    }
    idmp_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_and_bounds),
        cmocka_unit_test(test_clamp_and_order),
        cmocka_unit_test(test_random_model),
    };
    return cmocka_run_group_tests_name("idmp", tests, NULL, NULL);
}
