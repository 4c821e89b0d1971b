/* testutil.c - shared setup for integration tests (see testutil.h). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct test_server shared_server;

int shared_server_setup(void **state) {
    (void)state;
    return server_start(&shared_server, NULL);
}

int shared_server_teardown(void **state) {
    (void)state;
    int rc = server_stop(&shared_server);
    server_cleanup(&shared_server);
    return rc == 0 ? 0 : -1;
}

void expect_raw(const char *send, const char *reply) {
    int fd = raw_connect(shared_server.port);
    assert_true(fd >= 0);
    assert_int_equal(raw_send_str(fd, send), 0);
    assert_true(raw_expect(fd, reply));
    close(fd);
}

void expect_raw_then_close(const char *send, const char *reply) {
    int fd = raw_connect(shared_server.port);
    assert_true(fd >= 0);
    assert_int_equal(raw_send_str(fd, send), 0);
    assert_true(raw_expect(fd, reply));
    assert_true(raw_closed(fd, 3000));
    close(fd);
}

void assert_server_pid(const struct test_server *s) {
    redisContext *c = client_connect(s);
    assert_non_null(c);
    redisReply *r = client_cmd(c, "INFO server");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    const char *p = strstr(r->str, "process_id:");
    assert_non_null(p);
    assert_int_equal(atol(p + strlen("process_id:")), (long)s->pid);
    freeReplyObject(r);
    redisFree(c);
}

redisReply *must_cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) printf("# connection error: %s\n", c->errstr);
    assert_non_null(r);
    return r;
}

long long info_number(redisContext *c, const char *section, const char *field) {
    redisReply *r = must_cmd(c, "INFO %s", section);
    char key[128];
    snprintf(key, sizeof(key), "\r\n%s:", field);
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    long long v = p ? atoll(p + strlen(key)) : -1;
    freeReplyObject(r);
    return v;
}
