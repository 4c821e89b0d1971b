/* test_idmap.c - the ordered ID map (skip list): basic operations, and a random model test
 * against a sorted array (insert, delete, lookup, count, first/last, lower-bound iteration).
 * Seed: OBELISK_SEED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "base/idmap.h"
#include "base/status.h"

static unsigned seed;

static void test_basic(void **state) {
    (void)state;
    struct idmap m;
    int v[10];
    assert_int_equal(idmap_init(&m), OBK_OK);
    assert_null(idmap_first(&m));
    assert_null(idmap_last(&m));
    assert_null(idmap_lower_bound(&m, 0, 0));
    assert_int_equal(idmap_insert(&m, 5, 1, &v[0]), OBK_OK);
    assert_int_equal(idmap_insert(&m, 5, 0, &v[1]), OBK_OK);
    assert_int_equal(idmap_insert(&m, 1, UINT64_MAX, &v[2]), OBK_OK);
    assert_int_equal(idmap_insert(&m, 5, 1, &v[3]), OBK_ERR_EXISTS);
    assert_int_equal(idmap_insert(&m, 6, 0, NULL), OBK_ERR_INVAL);
    assert_int_equal(idmap_count(&m), 3);
    assert_ptr_equal(idmap_get(&m, 5, 1), &v[0]);
    assert_null(idmap_get(&m, 5, 2));
    struct idmap_node *n = idmap_lower_bound(&m, 2, 0);
    assert_int_equal(n->ms, 5);
    assert_int_equal(n->seq, 0);
    n = idmap_next(n);
    assert_int_equal(n->seq, 1);
    assert_null(idmap_next(n));
    assert_ptr_equal(idmap_last(&m)->value, &v[0]);
    assert_ptr_equal(idmap_first(&m)->value, &v[2]);
    assert_ptr_equal(idmap_delete(&m, 5, 1), &v[0]);
    assert_null(idmap_delete(&m, 5, 1));
    assert_int_equal(idmap_count(&m), 2);
    assert_ptr_equal(idmap_last(&m)->value, &v[1]);
    idmap_free(&m, NULL);
}

struct mkey {
    uint64_t ms, seq;
};

static int mcmp(const void *a, const void *b) {
    const struct mkey *x = a, *y = b;
    if (x->ms != y->ms) return x->ms < y->ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* index of the first model key >= k */
static size_t mlower(const struct mkey *v, size_t n, struct mkey k) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (mcmp(&v[mid], &k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void test_model_random(void **state) {
    (void)state;
    srand(seed);
    struct idmap m;
    assert_int_equal(idmap_init(&m), OBK_OK);
    size_t cap = 20000, n = 0;
    struct mkey *v = malloc(cap * sizeof *v);
    static int token;
    for (int step = 0; step < 60000; step++) {
        struct mkey k = {(uint64_t)(rand() % 300), (uint64_t)(rand() % 40)};
        if (rand() % 7 == 0) k.ms = UINT64_MAX - (uint64_t)(rand() % 2);
        size_t i = mlower(v, n, k);
        int present = i < n && mcmp(&v[i], &k) == 0;
        int op = rand() % 10;
        if (op < 5 && n < cap) {
            int rc = idmap_insert(&m, k.ms, k.seq, &token);
            assert_int_equal(rc, present ? OBK_ERR_EXISTS : OBK_OK);
            if (!present) {
                memmove(&v[i + 1], &v[i], (n - i) * sizeof *v);
                v[i] = k;
                n++;
            }
        } else if (op < 8) {
            void *r = idmap_delete(&m, k.ms, k.seq);
            assert_true(present ? r == &token : r == NULL);
            if (present) {
                memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof *v);
                n--;
            }
        } else {
            assert_true(present ? idmap_get(&m, k.ms, k.seq) == &token
                                : idmap_get(&m, k.ms, k.seq) == NULL);
            struct idmap_node *x = idmap_lower_bound(&m, k.ms, k.seq);
            for (size_t j = i; j < n && j < i + 50; j++) {
                assert_non_null(x);
                assert_true(x->ms == v[j].ms && x->seq == v[j].seq);
                x = idmap_next(x);
            }
            if (i + 50 >= n) assert_null(x);
        }
        assert_int_equal(idmap_count(&m), n);
        if (step % 5000 == 0 && n) {
            assert_true(idmap_first(&m)->ms == v[0].ms && idmap_first(&m)->seq == v[0].seq);
            assert_true(idmap_last(&m)->ms == v[n - 1].ms && idmap_last(&m)->seq == v[n - 1].seq);
            size_t j = 0;
            for (struct idmap_node *x = idmap_first(&m); x; x = idmap_next(x), j++)
                assert_true(x->ms == v[j].ms && x->seq == v[j].seq);
            assert_int_equal(j, n);
        }
    }
    idmap_free(&m, NULL);
    free(v);
}

/* 1M entries, deletes from the middle: must stay fast (O(log n) each). */
static void test_large(void **state) {
    (void)state;
    struct idmap m;
    static int token;
    assert_int_equal(idmap_init(&m), OBK_OK);
    clock_t c0 = clock();
    for (uint64_t i = 0; i < 1000000; i++) assert_int_equal(idmap_insert(&m, i, 0, &token), 0);
    for (uint64_t i = 250000; i < 750000; i += 2) assert_non_null(idmap_delete(&m, i, 0));
    assert_int_equal(idmap_count(&m), 750000);
    assert_int_equal(idmap_lower_bound(&m, 250000, 1)->ms, 250001);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    printf("# 1M inserts + 250k middle deletes: %.3f s\n", secs);
    assert_true(secs < 10);
    idmap_free(&m, NULL);
}

int main(void) {
    seed = getenv("OBELISK_SEED") ? (unsigned)strtoul(getenv("OBELISK_SEED"), NULL, 10)
                                  : (unsigned)time(NULL);
    printf("# seed %u (set OBELISK_SEED to repeat)\n", seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_model_random),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
