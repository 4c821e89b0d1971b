/* test_histogram.c - bucket bounds and percentiles of the latency histogram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "base/histogram.h"

static void test_exact_small_values(void **state) {
    (void)state;
    struct histogram *h = calloc(1, sizeof(*h));
    for (uint64_t v = 1; v <= 10; v++) histogram_record(h, v);
    assert_int_equal(histogram_percentile(h, 50), 5);
    assert_int_equal(histogram_percentile(h, 100), 10);
    assert_int_equal(histogram_percentile(h, 0.1), 1);
    free(h);
}

static void test_relative_error(void **state) {
    (void)state;
    uint64_t values[] = {16, 17, 100, 1000, 123456, 999999999ULL, 1ULL << 40, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct histogram *h = calloc(1, sizeof(*h));
        histogram_record(h, values[i]);
        uint64_t got = histogram_percentile(h, 50);
        assert_true(got >= values[i]);
        assert_true((double)(got - values[i]) <= (double)values[i] * 0.0625);
        free(h);
    }
}

static void test_percentiles(void **state) {
    (void)state;
    struct histogram *h = calloc(1, sizeof(*h));
    for (int i = 0; i < 990; i++) histogram_record(h, 10);
    for (int i = 0; i < 10; i++) histogram_record(h, 5000);
    assert_int_equal(histogram_percentile(h, 50), 10);
    assert_int_equal(histogram_percentile(h, 99), 10);
    uint64_t p999 = histogram_percentile(h, 99.9);
    assert_true(p999 >= 5000 && p999 < 5400);
    assert_int_equal(h->count, 1000);
    free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_small_values),
        cmocka_unit_test(test_relative_error),
        cmocka_unit_test(test_percentiles),
    };
    return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}
