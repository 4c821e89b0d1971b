/* test_durable.c - the durability contract without a store: which sequence a policy trusts,
 * sequences that never go down (the asserts abort), the sticky first error and read-only
 * state, and the touch tracker that brackets a command. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "server/durable.h"

static void test_policy_picks_the_sequence(void **state) {
    (void)state;
    durable_reset(DURABLE_ALWAYS);
    assert_int_equal(durable_seq(), 0);
    durable_publish(5, 3);
    assert_int_equal(durable_written_seq(), 5);
    assert_int_equal(durable_synced_seq(), 3);
    assert_int_equal(durable_seq(), 3); /* always: synced */
    durable_set_policy(DURABLE_EVERYSEC);
    assert_int_equal(durable_seq(), 5); /* everysec: written */
    durable_set_policy(DURABLE_NO);
    assert_int_equal(durable_seq(), 5);
    durable_publish(5, 5);
    durable_set_policy(DURABLE_ALWAYS);
    assert_int_equal(durable_seq(), 5);
}

/* Runs fn in a child; returns 1 when the child died of SIGABRT (an OBK_ASSERT). */
static int aborts(void (*fn)(void)) {
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        if (devnull >= 0) dup2(devnull, 2); /* the assertion line is expected */
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void written_goes_down(void) {
    durable_reset(DURABLE_ALWAYS);
    durable_publish(4, 4);
    durable_publish(3, 3);
}

static void synced_passes_written(void) {
    durable_reset(DURABLE_ALWAYS);
    durable_publish(2, 3);
}

static void publish_fine(void) {
    durable_reset(DURABLE_ALWAYS);
    durable_publish(1, 0);
    durable_publish(2, 2);
    durable_publish(2, 2);
}

static void test_sequences_never_go_down(void **state) {
    (void)state;
    assert_true(aborts(written_goes_down));
    assert_true(aborts(synced_passes_written));
    assert_false(aborts(publish_fine));
}

static void test_first_error_is_sticky(void **state) {
    (void)state;
    durable_reset(DURABLE_ALWAYS);
    assert_int_equal(durable_error(), 0);
    assert_false(durable_readonly());
    assert_string_equal(durable_error_text(), "");
    assert_int_equal(durable_set_error(0, "ignored"), 0);
    assert_int_equal(durable_set_error(-3, "MISCONF first"), 1);
    assert_int_equal(durable_set_error(-4, "MISCONF second"), 0);
    assert_int_equal(durable_error(), -3);
    assert_string_equal(durable_error_text(), "MISCONF first");
    assert_true(durable_readonly());
}

struct fake_store {
    int begins;
    uint64_t mark;
};

static void fake_begin(void *ctx) {
    struct fake_store *f = ctx;
    f->begins++;
    f->mark = 0;
}

static uint64_t fake_end(void *ctx) {
    struct fake_store *f = ctx;
    return f->mark;
}

static void test_tracker_brackets_a_command(void **state) {
    (void)state;
    durable_reset(DURABLE_ALWAYS);
    durable_command_begin(); /* no tracker (loading): nothing touched */
    assert_int_equal(durable_command_end(), 0);
    struct fake_store f = {0, 0};
    struct durable_tracker t = {&f, fake_begin, fake_end};
    durable_set_tracker(&t);
    f.mark = 9; /* left over from outside a command */
    durable_command_begin();
    assert_int_equal(f.begins, 1);
    assert_int_equal(durable_command_end(), 0);
    durable_command_begin();
    f.mark = 7;
    assert_int_equal(durable_command_end(), 7);
    durable_set_tracker(NULL);
    durable_command_begin();
    assert_int_equal(durable_command_end(), 0);
    assert_int_equal(f.begins, 2);
}

static void fake_raise(void *ctx, uint64_t seq) {
    struct fake_store *f = ctx;
    if (seq > f->mark) f->mark = seq;
}

static uint64_t fake_end_clear(void *ctx) {
    struct fake_store *f = ctx;
    uint64_t m = f->mark;
    f->mark = 0;
    return m;
}

/* An untracked part (INFO) forgets its own touches and keeps the command's earlier ones. */
static void test_untracked_part(void **state) {
    (void)state;
    durable_reset(DURABLE_ALWAYS);
    struct fake_store f = {0, 0};
    struct durable_tracker t = {&f, fake_begin, fake_end_clear, fake_raise};
    durable_set_tracker(&t);
    durable_command_begin();
    f.mark = 5; /* a queued XADD */
    uint64_t saved = durable_untracked_begin();
    f.mark = 9; /* INFO's keyspace count */
    durable_untracked_end(saved);
    assert_int_equal(durable_command_end(), 5);
    durable_command_begin();
    saved = durable_untracked_begin();
    f.mark = 9;
    durable_untracked_end(saved);
    assert_int_equal(durable_command_end(), 0);
    durable_set_tracker(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_picks_the_sequence),
        cmocka_unit_test(test_sequences_never_go_down),
        cmocka_unit_test(test_first_error_is_sticky),
        cmocka_unit_test(test_tracker_brackets_a_command),
        cmocka_unit_test(test_untracked_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
