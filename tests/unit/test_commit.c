/* test_commit.c - held replies without sockets: clients whose socket side is a bufferevent
 * with no descriptor (its output buffer is what "sent" means here). Replies wait for their
 * submission, stay in order per client (a later reply never overtakes an earlier one), merge
 * when they wait for the same submission, turn into the error text when the write failed, and
 * are freed with their client; the transport's held-bytes count follows every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "server/commit.h"
#include "server/conn.h"

static struct event_base *base;

static struct client *fake_client(void) {
    struct client *c = calloc(1, sizeof(*c));
    c->fd = -1;
    c->bev = bufferevent_socket_new(base, -1, 0);
    c->stage = evbuffer_new();
    reply_init(&c->reply, c->stage, 2);
    return c;
}

static void free_client(struct client *c) {
    commit_drop_client(c);
    assert_null(c->held);
    bufferevent_free(c->bev);
    evbuffer_free(c->stage);
    free(c);
}

/* What reached the client's socket side, as a string (drained). */
static char *sent(struct client *c) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t n = evbuffer_get_length(out);
    char *s = calloc(1, n + 1);
    evbuffer_unfreeze(out, 1); /* a socket bufferevent keeps its output's front frozen */
    evbuffer_remove(out, s, n);
    evbuffer_freeze(out, 1);
    return s;
}

static void expect_sent(struct client *c, const char *want) {
    char *got = sent(c);
    assert_string_equal(got, want);
    free(got);
}

/* Writes a reply into the stage and holds it for seq (the stage had `before` bytes). */
static void hold(struct client *c, const char *text, uint64_t seq) {
    size_t mark = evbuffer_get_length(c->stage);
    evbuffer_add_printf(c->stage, "%s", text);
    assert_int_equal(commit_hold(c, seq, mark), 0);
}

static int setup(void **state) {
    (void)state;
    base = event_base_new();
    return base ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    event_base_free(base);
    return 0;
}

static void test_release_in_order(void **state) {
    (void)state;
    struct client *c = fake_client();
    hold(c, "+a\r\n", 3);
    hold(c, "+b\r\n", 5);
    assert_true(commit_holding(c));
    assert_int_equal(c->held_bytes, 8);
    assert_int_equal(commit_held_total(), 2);
    commit_release(2);
    expect_sent(c, "");
    commit_release(4);
    expect_sent(c, "+a\r\n");
    assert_int_equal(c->held_bytes, 4);
    commit_release(5);
    expect_sent(c, "+b\r\n");
    assert_false(commit_holding(c));
    assert_int_equal(c->held_bytes, 0);
    assert_int_equal(commit_held_total(), 0);
    free_client(c);
}

static void test_later_reply_never_overtakes(void **state) {
    (void)state;
    struct client *c = fake_client();
    hold(c, "+first\r\n", 7);
    hold(c, "+second\r\n", 2); /* waits for less, but behind the first */
    assert_int_equal(commit_last_seq(c), 7);
    commit_release(6);
    expect_sent(c, "");
    commit_release(7);
    expect_sent(c, "+first\r\n+second\r\n");
    free_client(c);
}

static void test_earlier_stage_bytes_go_first(void **state) {
    (void)state;
    struct client *c = fake_client();
    evbuffer_add_printf(c->stage, "+free\r\n"); /* a reply that needed no wait */
    hold(c, "+held\r\n", 1);
    expect_sent(c, "+free\r\n");
    commit_release(1);
    expect_sent(c, "+held\r\n");
    free_client(c);
}

static void test_failure_answers_the_error(void **state) {
    (void)state;
    struct client *c = fake_client(), *d = fake_client();
    hold(c, "+a\r\n", 1);
    hold(c, ":1\r\n", 1); /* merged with the first: same submission */
    hold(d, "$1\r\nx\r\n", 2);
    commit_fail("MISCONF disk");
    expect_sent(c, "-MISCONF disk\r\n-MISCONF disk\r\n");
    expect_sent(d, "-MISCONF disk\r\n");
    assert_int_equal(c->held_bytes, 0);
    assert_int_equal(d->held_bytes, 0);
    assert_int_equal(commit_held_total(), 0);
    free_client(c);
    free_client(d);
}

static void test_drop_frees_everything(void **state) {
    (void)state;
    struct client *c = fake_client(), *d = fake_client();
    hold(c, "+a\r\n", 4);
    hold(d, "+b\r\n", 4);
    free_client(c); /* goes away while holding */
    assert_int_equal(commit_held_total(), 1);
    commit_release(4); /* the other client is still released */
    expect_sent(d, "+b\r\n");
    free_client(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_in_order),
        cmocka_unit_test(test_later_reply_never_overtakes),
        cmocka_unit_test(test_earlier_stage_bytes_go_first),
        cmocka_unit_test(test_failure_answers_the_error),
        cmocka_unit_test(test_drop_frees_everything),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
