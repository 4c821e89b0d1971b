/* testutil.h - cmocka includes and small assertion helpers shared by the integration tests. */
#ifndef OBK_TESTUTIL_H
#define OBK_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* The server shared by the tests of one group (started in the group setup). */
extern struct test_server shared_server;
int shared_server_setup(void **state);
int shared_server_teardown(void **state);

/* Runs a command and fails the test when the connection gave no reply at all. */
redisReply *must_cmd(redisContext *c, const char *fmt, ...);
/* The number in INFO <section>'s line "<field>:<n>" (-1 when there is none). */
long long info_number(redisContext *c, const char *section, const char *field);
/* INFO server's process_id is the pid the harness forked (a test kills only its own server). */
void assert_server_pid(const struct test_server *s);

/* Sends raw bytes on a new connection and checks the exact reply bytes. */
void expect_raw(const char *send, const char *reply);
/* Same, and checks that the server then closes the connection. */
void expect_raw_then_close(const char *send, const char *reply);

#endif
