/* test_blocking.c - blocked clients without sockets or a store: fake clients (a bufferevent
 * with no descriptor; its output is what was sent) wait on keys; a signalled key serves its
 * waiters oldest first, a client that cannot be served keeps waiting, FLUSHDB-style signals
 * reach every key of a database, a removed client is forgotten, and the timer answers the
 * timeout with a null array. */
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

#include "base/util.h"
#include "server/blocking.h"
#include "server/command.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/runtime.h"

static int available; /* entries the fake "stream" can hand out */
static char order[64];

static int serve(struct client *c, int idx) {
    (void)idx;
    if (available == 0) return 0;
    available--;
    size_t n = strlen(order);
    order[n] = (char)('a' + (int)c->id);
    order[n + 1] = '\0';
    reply_simple(&c->reply, "SERVED");
    return 1;
}

static struct client *fake_client(uint64_t id) {
    struct client *c = calloc(1, sizeof(*c));
    c->id = id;
    c->fd = -1;
    c->bev = bufferevent_socket_new(runtime.base, -1, 0);
    c->stage = evbuffer_new();
    resp_parser_init(&c->parser, 1 << 20);
    reply_init(&c->reply, c->stage, 2);
    return c;
}

static void free_client(struct client *c) {
    blocking_remove(c);
    command_release_client(c); /* command.c's per-client state, if a continuation made one */
    bufferevent_free(c->bev);
    evbuffer_free(c->stage);
    resp_parser_free(&c->parser);
    free(c);
}

static char *sent(struct client *c) {
    static char buf[256];
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t n = evbuffer_get_length(out);
    if (n > sizeof(buf) - 1) n = sizeof(buf) - 1;
    evbuffer_unfreeze(out, 1);
    evbuffer_remove(out, buf, n);
    evbuffer_freeze(out, 1);
    buf[n] = '\0';
    return buf;
}

static void block_on(struct client *c, const char *key, long long timeout_ms) {
    char *keys[1] = {(char *)key};
    size_t lens[1] = {strlen(key)};
    sid_t ids[1] = {SID_MIN};
    struct blocking_request req = {serve, 1, keys, lens, ids, 0, timeout_ms};
    assert_int_equal(blocking_block(c, &req), 0);
    assert_true(c->flags & CLIENT_BLOCKED);
}

static int setup(void **state) {
    (void)state;
    config_init_defaults();
    runtime.base = event_base_new();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    event_base_free(runtime.base);
    config_free();
    return 0;
}

static void test_fifo_per_key(void **state) {
    (void)state;
    struct client *a = fake_client(0), *b = fake_client(1), *c = fake_client(2);
    order[0] = '\0';
    block_on(b, "k", 0);
    block_on(a, "k", 0);
    block_on(c, "other", 0);
    assert_int_equal(blocking_count(), 3);
    available = 1;
    blocking_signal_key(0, "k", 1);
    blocking_serve_ready();
    assert_string_equal(order, "b"); /* the oldest waiter first */
    assert_string_equal(sent(b), "+SERVED\r\n");
    assert_false(b->flags & CLIENT_BLOCKED);
    assert_true(a->flags & CLIENT_BLOCKED); /* nothing left for it: keeps waiting */
    assert_string_equal(sent(a), "");
    available = 5;
    blocking_signal_key(0, "k", 1);
    blocking_serve_ready();
    assert_string_equal(order, "ba");
    assert_true(c->flags & CLIENT_BLOCKED); /* another key: not signalled */
    blocking_signal_db(0);
    blocking_serve_ready();
    assert_string_equal(order, "bac");
    assert_int_equal(blocking_count(), 0);
    free_client(a);
    free_client(b);
    free_client(c);
}

static void test_removed_client_is_forgotten(void **state) {
    (void)state;
    struct client *a = fake_client(0), *b = fake_client(1);
    order[0] = '\0';
    block_on(a, "k", 0);
    block_on(b, "k", 0);
    blocking_remove(a); /* disconnected while blocked */
    assert_int_equal(blocking_count(), 1);
    available = 2;
    blocking_signal_key(0, "k", 1);
    blocking_serve_ready();
    assert_string_equal(order, "b");
    free_client(a);
    free_client(b);
}

static void test_timeout_answers_null(void **state) {
    (void)state;
    struct client *a = fake_client(0);
    available = 0;
    block_on(a, "k", 20);
    long long until = util_mstime() + 2000;
    while ((a->flags & CLIENT_BLOCKED) && util_mstime() < until)
        event_base_loop(runtime.base, EVLOOP_ONCE);
    assert_false(a->flags & CLIENT_BLOCKED);
    assert_string_equal(sent(a), "*-1\r\n");
    assert_int_equal(blocking_count(), 0);
    free_client(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_per_key),
        cmocka_unit_test(test_removed_client_is_forgotten),
        cmocka_unit_test(test_timeout_answers_null),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
