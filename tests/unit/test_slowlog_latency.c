/* test_slowlog_latency.c - the slow log's storage (cut arguments as Redis does, redaction,
 * newest first, trimming, ids that survive a reset) and the latency monitor's series (one
 * sample per second keeping the worst, the all-time maximum, resets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/latency.h"
#include "server/slowlog.h"

static struct slowlog_entry *entry(int argc, const char *const *args, const unsigned char *red) {
    size_t lens[64];
    for (int i = 0; i < argc; i++) lens[i] = strlen(args[i]);
    struct slowlog_entry *e = slowlog_entry_new(argc, (char *const *)args, lens, red);
    assert_non_null(e);
    return e;
}

static void test_slowlog_cuts_like_redis(void **state) {
    (void)state;
    /* 40 arguments: 31 kept, the 32nd says how many more there were */
    const char *many[40];
    for (int i = 0; i < 40; i++) many[i] = "a";
    struct slowlog_entry *e = entry(40, many, NULL);
    assert_int_equal(e->argc, 32);
    assert_string_equal(e->argv[31], "... (9 more arguments)");
    assert_int_equal(e->argvlen[31], strlen("... (9 more arguments)"));
    slowlog_entry_free(e);
    /* a 200-byte argument keeps 128 bytes and says how many more */
    char big[201];
    memset(big, 'x', 200);
    big[200] = '\0';
    const char *one[2] = {"ECHO", big};
    e = entry(2, one, NULL);
    assert_int_equal(e->argvlen[1], 128 + strlen("... (72 more bytes)"));
    assert_memory_equal(e->argv[1] + 128, "... (72 more bytes)", strlen("... (72 more bytes)"));
    slowlog_entry_free(e);
    /* redacted positions */
    const char *auth[2] = {"AUTH", "secret"};
    unsigned char red[SLOWLOG_ENTRY_MAX_ARGC] = {0, 1};
    e = entry(2, auth, red);
    assert_string_equal(e->argv[1], "(redacted)");
    slowlog_entry_free(e);
    /* binary bytes are kept as they are */
    size_t lens[2] = {4, 3};
    char *bin[2] = {"ECHO", "a\0b"};
    e = slowlog_entry_new(2, bin, lens, NULL);
    assert_int_equal(e->argvlen[1], 3);
    assert_memory_equal(e->argv[1], "a\0b", 3);
    slowlog_entry_free(e);
}

static void test_slowlog_order_trim_reset(void **state) {
    (void)state;
    const char *ping[1] = {"PING"};
    slowlog_reset();
    long long first = -1;
    for (int i = 0; i < 5; i++) {
        slowlog_push(entry(1, ping, NULL), 100 + i, "127.0.0.1:1", "", 3);
        if (first < 0) first = slowlog_first()->id;
    }
    assert_int_equal(slowlog_len(), 3);
    const struct slowlog_entry *e = slowlog_first();
    assert_int_equal(e->duration, 104); /* newest first */
    assert_int_equal(e->id, first + 4);
    assert_int_equal(e->next->id, first + 3);
    slowlog_trim(1);
    assert_int_equal(slowlog_len(), 1);
    slowlog_reset();
    assert_int_equal(slowlog_len(), 0);
    assert_null(slowlog_first());
    slowlog_push(entry(1, ping, NULL), 1, "127.0.0.1:1", "name", 128);
    assert_int_equal(slowlog_first()->id, first + 5); /* ids go on after a reset */
    assert_string_equal(slowlog_first()->name, "name");
    slowlog_reset();
}

static void test_latency_series(void **state) {
    (void)state;
    latency_reset_all();
    assert_null(latency_at(0));
    latency_add_sample("command", 5);
    latency_add_sample("command", 9); /* same second: the worst is kept */
    latency_add_sample("command", 7);
    latency_add_sample("fsync", 3);
    const struct latency_series *ts = latency_find("command", 7);
    assert_non_null(ts);
    int last = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
    assert_int_equal(ts->samples[last].latency, 9);
    assert_int_equal(ts->max, 9);
    int n = 0;
    for (int i = 0; i < LATENCY_TS_LEN; i++) n += ts->samples[i].time != 0;
    assert_int_equal(n, 1);
    assert_string_equal(latency_at(0)->event, "command"); /* first-seen order */
    assert_string_equal(latency_at(1)->event, "fsync");
    assert_int_equal(latency_reset_event("command", 7), 1);
    assert_int_equal(latency_reset_event("command", 7), 0);
    assert_string_equal(latency_at(0)->event, "fsync");
    assert_int_equal(latency_reset_all(), 1);
    assert_null(latency_find("fsync", 5));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slowlog_cuts_like_redis),
        cmocka_unit_test(test_slowlog_order_trim_reset),
        cmocka_unit_test(test_latency_series),
    };
    return cmocka_run_group_tests_name("slowlog_latency", tests, NULL, NULL);
}
