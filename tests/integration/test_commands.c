/* test_commands.c - every command of the server foundation against a real obelisk-server:
 * replies (RESP2 and RESP3 bytes where the shape matters), errors, MULTI/EXEC, CONFIG, CLIENT,
 * INFO and COMMAND. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static void expect_status(redisContext *c, const char *status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, status))
        printf("# expected status %s, got type %d: %s\n", status, r->type, r->str ? r->str : "");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    assert_string_equal(r->str, status);
    freeReplyObject(r);
}

static void expect_error(redisContext *c, const char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_ERROR || strcmp(r->str, err))
        printf("# expected error %s, got type %d: %s\n", err, r->type, r->str ? r->str : "");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_string_equal(r->str, err);
    freeReplyObject(r);
}

static void test_ping_echo_time(void **state) {
    (void)state;
    expect_raw("PING\r\nPING hello\r\nECHO x\r\n", "+PONG\r\n$5\r\nhello\r\n$1\r\nx\r\n");
    expect_raw("PING a b\r\nECHO\r\n", "-ERR wrong number of arguments for 'ping' command\r\n"
                                       "-ERR wrong number of arguments for 'echo' command\r\n");
    redisContext *c = client_connect(&shared_server);
    redisReply *r = must_cmd(c, "TIME");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    long long secs = atoll(r->element[0]->str), usec = atoll(r->element[1]->str);
    assert_true(llabs(secs - (long long)time(NULL)) <= 2);
    assert_true(usec >= 0 && usec < 1000000);
    freeReplyObject(r);
    redisFree(c);
}

static void test_unknown_and_arity(void **state) {
    (void)state;
    expect_raw("FOO a b\r\n", "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
    expect_raw("foo\r\n", "-ERR unknown command 'foo', with args beginning with: \r\n");
    expect_raw("CLIENT FOO x\r\n", "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n");
    expect_raw("config nope\r\n", "-ERR unknown subcommand 'nope'. Try CONFIG HELP.\r\n");
    expect_raw("CLIENT\r\n", "-ERR wrong number of arguments for 'client' command\r\n");
    expect_raw("CONFIG GET\r\n", "-ERR wrong number of arguments for 'config|get' command\r\n");
    expect_raw("xadd k * f\r\n", "-ERR wrong number of arguments for 'xadd' command\r\n");
    expect_raw("SET k v\r\n", "-ERR unknown command 'SET', with args beginning with: 'k' 'v' \r\n");
    /* Lookup ignores case. */
    expect_raw("pInG\r\n", "+PONG\r\n");
    /* A long argument list is cut at 128 bytes of arguments, as Redis does. */
    char req[600] = "FOO";
    for (int i = 0; i < 40; i++) strcat(req, " abcdefgh");
    strcat(req, "\r\n");
    char want[600] = "-ERR unknown command 'FOO', with args beginning with: ";
    for (int i = 0; i < 11; i++) strcat(want, "'abcdefgh' ");
    strcat(want, "'abcdefg' \r\n");
    expect_raw(req, want);
}

static void test_quit(void **state) {
    (void)state;
    expect_raw_then_close("QUIT\r\nPING\r\n", "+OK\r\n");
}

static void test_hello(void **state) {
    (void)state;
    const char *hello3_head = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15"
                              "\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:";
    int fd = raw_connect(shared_server.port);
    raw_send_str(fd, "HELLO 3\r\n");
    size_t got;
    char *r = raw_read(fd, 4096, 500, &got);
    assert_memory_equal(r, hello3_head, strlen(hello3_head));
    assert_non_null(strstr(r, "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                              "$7\r\nmodules\r\n*0\r\n"));
    free(r);
    /* RESP3 now: null is "_", CLIENT GETNAME without a name. */
    raw_send_str(fd, "CLIENT GETNAME\r\n");
    assert_true(raw_expect(fd, "_\r\n"));
    raw_send_str(fd, "HELLO 2\r\n");
    r = raw_read(fd, 4096, 500, &got);
    assert_memory_equal(r, "*14\r\n", 5);
    free(r);
    raw_send_str(fd, "CLIENT GETNAME\r\n");
    assert_true(raw_expect(fd, "$-1\r\n"));
    raw_send_str(fd, "HELLO 4\r\nHELLO x\r\nHELLO 3 FOO\r\nHELLO 3 AUTH\r\n");
    assert_true(raw_expect(fd, "-NOPROTO unsupported protocol version\r\n"
                               "-ERR Protocol version is not an integer or out of range\r\n"
                               "-ERR Syntax error in HELLO option 'FOO'\r\n"
                               "-ERR Syntax error in HELLO option 'AUTH'\r\n"));
    raw_send_str(fd, "HELLO 2 SETNAME myname\r\n");
    r = raw_read(fd, 4096, 500, &got);
    free(r);
    raw_send_str(fd, "CLIENT GETNAME\r\n");
    assert_true(raw_expect(fd, "$6\r\nmyname\r\n"));
    close(fd);
}

static void test_auth_without_password(void **state) {
    (void)state;
    expect_raw("AUTH x\r\n", "-ERR AUTH <password> called without any password configured for "
                             "the default user. Are you sure your configuration is correct?\r\n");
    /* With no password, the default user accepts any password; other users do not exist. */
    expect_raw("AUTH default x\r\nAUTH bob x\r\n",
               "+OK\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

static void test_select(void **state) {
    (void)state;
    expect_raw("SELECT 15\r\nSELECT 16\r\nSELECT -1\r\nSELECT x\r\nSELECT 0\r\n",
               "+OK\r\n-ERR DB index is out of range\r\n-ERR DB index is out of range\r\n"
               "-ERR value is not an integer or out of range\r\n+OK\r\n");
}

static void test_keyspace_commands(void **state) {
    (void)state;
    expect_raw("DBSIZE\r\nFLUSHDB\r\nFLUSHDB ASYNC\r\nFLUSHALL SYNC\r\nFLUSHALL x\r\n",
               ":0\r\n+OK\r\n+OK\r\n+OK\r\n-ERR syntax error\r\n");
    expect_raw("FUNCTION FLUSH\r\nFUNCTION FLUSH ASYNC\r\nFUNCTION FLUSH x\r\n",
               "+OK\r\n+OK\r\n-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n");
}

static void test_multi_exec(void **state) {
    (void)state;
    expect_raw("MULTI\r\nPING\r\nECHO a\r\nEXEC\r\n",
               "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+PONG\r\n$1\r\na\r\n");
    expect_raw("MULTI\r\nMULTI\r\nEXEC\r\n", "+OK\r\n-ERR MULTI calls can not be nested\r\n*0\r\n");
    expect_raw("MULTI\r\nFOO\r\nPING\r\nEXEC\r\nPING\r\n",
               "+OK\r\n-ERR unknown command 'FOO', with args beginning with: \r\n+QUEUED\r\n"
               "-EXECABORT Transaction discarded because of previous errors.\r\n+PONG\r\n");
    expect_raw("MULTI\r\nECHO\r\nEXEC\r\n",
               "+OK\r\n-ERR wrong number of arguments for 'echo' command\r\n"
               "-EXECABORT Transaction discarded because of previous errors.\r\n");
    expect_raw("EXEC\r\nDISCARD\r\nMULTI\r\nPING\r\nDISCARD\r\nPING\r\n",
               "-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n+QUEUED\r\n+OK\r\n"
               "+PONG\r\n");
    /* Errors at run time stay inside the EXEC reply. */
    expect_raw("MULTI\r\nSELECT 99\r\nPING\r\nEXEC\r\n",
               "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-ERR DB index is out of range\r\n+PONG\r\n");
}

static void test_client_commands(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    redisReply *r = must_cmd(c, "CLIENT ID");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long id = r->integer;
    freeReplyObject(r);
    expect_status(c, "OK", "CLIENT SETNAME worker-1");
    r = must_cmd(c, "CLIENT GETNAME");
    assert_string_equal(r->str, "worker-1");
    freeReplyObject(r);
    expect_error(c, "ERR Client names cannot contain spaces, newlines or special characters.",
                 "CLIENT SETNAME %s", "a b");
    expect_status(c, "OK", "CLIENT SETINFO lib-name hiredis");
    expect_status(c, "OK", "CLIENT SETINFO LIB-VER 1.1.0");
    expect_error(c, "ERR Unrecognized option 'foo'", "CLIENT SETINFO foo x");
    r = must_cmd(c, "CLIENT INFO");
    char want[64];
    snprintf(want, sizeof(want), "id=%lld ", id);
    assert_memory_equal(r->str, want, strlen(want));
    assert_non_null(strstr(r->str, " name=worker-1 "));
    assert_non_null(strstr(r->str, " cmd=client|info "));
    assert_non_null(strstr(r->str, " lib-name=hiredis lib-ver=1.1.0"));
    assert_true(r->str[r->len - 1] == '\n');
    freeReplyObject(r);
    redisContext *other = client_connect(&shared_server);
    expect_status(other, "PONG", "PING"); /* so the server has surely accepted it */
    r = must_cmd(c, "CLIENT LIST");
    assert_non_null(strstr(r->str, " name=worker-1 "));
    int lines = 0;
    for (size_t i = 0; i < r->len; i++) lines += r->str[i] == '\n';
    assert_true(lines >= 2);
    freeReplyObject(r);
    r = must_cmd(c, "CLIENT LIST ID %lld", id);
    assert_memory_equal(r->str, want, strlen(want));
    freeReplyObject(r);
    r = must_cmd(c, "CLIENT LIST TYPE pubsub");
    assert_int_equal(r->len, 0);
    freeReplyObject(r);
    expect_error(c, "ERR syntax error", "CLIENT LIST FOO");
    r = must_cmd(other, "CLIENT ID");
    long long other_id = r->integer;
    freeReplyObject(r);
    expect_error(c, "ERR No such client", "CLIENT KILL 1.2.3.4:5");
    expect_error(c, "ERR client-id should be greater than 0", "CLIENT KILL ID x");
    expect_error(c, "ERR No such client", "CLIENT KILL ID"); /* the old addr form */
    expect_error(c, "ERR syntax error", "CLIENT KILL SKIPME maybe");
    r = must_cmd(c, "CLIENT KILL ID %lld", other_id);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    r = redisCommand(other, "PING");
    assert_null(r); /* the killed connection is gone */
    redisFree(other);
    r = must_cmd(c, "CLIENT KILL ID %lld", id); /* SKIPME yes by default */
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    r = must_cmd(c, "CLIENT HELP");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements > 10);
    freeReplyObject(r);
    r = must_cmd(c, "CLIENT KILL ID %lld SKIPME no", id);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
}

static void test_client_kill_addr(void **state) {
    (void)state;
    redisContext *a = client_connect(&shared_server);
    redisContext *b = client_connect(&shared_server);
    redisReply *r = must_cmd(b, "CLIENT INFO");
    char addr[64];
    sscanf(strstr(r->str, "addr=") + 5, "%63s", addr);
    freeReplyObject(r);
    expect_status(a, "OK", "CLIENT KILL %s", addr);
    assert_null(redisCommand(b, "PING"));
    redisFree(b);
    redisFree(a);
}

static void test_config(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    redisReply *r = must_cmd(c, "CONFIG GET maxclients");
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "maxclients");
    assert_string_equal(r->element[1]->str, "10000");
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG GET port");
    assert_int_equal(atoi(r->element[1]->str), 0); /* as configured: --port 0 */
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG GET *max-*-len proto*");
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "proto-max-bulk-len");
    assert_string_equal(r->element[1]->str, "536870912");
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG GET nothing-matches");
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
    expect_status(c, "OK", "CONFIG SET timeout 100 maxclients 500");
    r = must_cmd(c, "CONFIG GET timeout");
    assert_string_equal(r->element[1]->str, "100");
    freeReplyObject(r);
    expect_error(c, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'",
                 "CONFIG SET foo bar");
    expect_error(c,
                 "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument "
                 "couldn't be parsed into an integer",
                 "CONFIG SET timeout abc");
    expect_error(c,
                 "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set "
                 "immutable config",
                 "CONFIG SET daemonize yes");
    expect_error(c,
                 "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate "
                 "parameter",
                 "CONFIG SET timeout 1 timeout 2");
    expect_error(c,
                 "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - "
                 "argument must be 'yes' or 'no'",
                 "CONFIG SET protected-mode maybe");
    expect_error(c, "ERR wrong number of arguments for 'config|set' command", "CONFIG SET timeout");
    /* All or nothing: the bad second pair leaves the first unchanged. */
    expect_error(c,
                 "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument "
                 "couldn't be parsed into an integer",
                 "CONFIG SET timeout 7 maxclients x");
    r = must_cmd(c, "CONFIG GET timeout");
    assert_string_equal(r->element[1]->str, "100");
    freeReplyObject(r);
    expect_status(c, "OK", "CONFIG SET client-output-buffer-limit %s", "normal 1mb 512kb 10");
    r = must_cmd(c, "CONFIG GET client-output-buffer-limit");
    assert_string_equal(r->element[1]->str,
                        "normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 "
                        "8388608 60");
    freeReplyObject(r);
    expect_status(c, "OK", "CONFIG SET client-output-buffer-limit %s", "normal 0 0 0");
    expect_status(c, "OK", "CONFIG SET loglevel verbose");
    expect_error(c,
                 "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) "
                 "must be one of the following: debug, verbose, notice, warning",
                 "CONFIG SET loglevel loud");
    expect_status(c, "OK", "CONFIG SET loglevel notice timeout 0 maxclients 10000");
    expect_status(c, "OK", "CONFIG RESETSTAT");
    r = must_cmd(c, "CONFIG HELP");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    redisFree(c);
}

static void test_info(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    expect_error(c, "ERR unknown command 'NOPE', with args beginning with: ", "NOPE");
    redisReply *r = must_cmd(c, "INFO");
    const char *fields[] = {
        "# Server\r\n",
        "redis_version:7.0.15\r\n",
        "obelisk_version:",
        "process_id:",
        "tcp_port:",
        "run_id:",
        "# Clients\r\n",
        "connected_clients:",
        "# Memory\r\n",
        "used_memory:",
        "# Persistence\r\n",
        "loading:0\r\n",
        "# Stats\r\n",
        "total_error_replies:",
        "total_commands_processed:",
        "# Replication\r\n",
        "role:master\r\n",
        "# CPU\r\n",
        "used_cpu_sys:",
        "# Errorstats\r\n",
        "errorstat_ERR:count=",
        "# Keyspace\r\n",
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!strstr(r->str, fields[i])) printf("# missing %s\n", fields[i]);
        assert_non_null(strstr(r->str, fields[i]));
    }
    char pid[32];
    snprintf(pid, sizeof(pid), "process_id:%d\r\n", (int)shared_server.pid);
    assert_non_null(strstr(r->str, pid));
    char port[32];
    snprintf(port, sizeof(port), "tcp_port:%d\r\n", shared_server.port);
    assert_non_null(strstr(r->str, port));
    assert_null(strstr(r->str, "# Commandstats"));
    freeReplyObject(r);
    r = must_cmd(c, "INFO commandstats");
    assert_memory_equal(r->str, "# Commandstats\r\n", 16);
    assert_non_null(strstr(r->str, "cmdstat_info:calls="));
    assert_null(strstr(r->str, "# Server"));
    freeReplyObject(r);
    r = must_cmd(c, "INFO server clients");
    assert_non_null(strstr(r->str, "# Server"));
    assert_non_null(strstr(r->str, "\r\n\r\n# Clients\r\n"));
    assert_null(strstr(r->str, "# Memory"));
    freeReplyObject(r);
    r = must_cmd(c, "INFO everything");
    assert_non_null(strstr(r->str, "# Commandstats"));
    freeReplyObject(r);
    r = must_cmd(c, "INFO nosuchsection");
    assert_int_equal(r->len, 0);
    freeReplyObject(r);
    redisFree(c);
}

static void test_command(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    redisReply *r = must_cmd(c, "COMMAND COUNT");
    long long n = r->integer;
    assert_true(n >= 20);
    freeReplyObject(r);
    r = must_cmd(c, "COMMAND");
    assert_int_equal((long long)r->elements, n);
    freeReplyObject(r);
    r = must_cmd(c, "COMMAND LIST");
    assert_int_equal((long long)r->elements, n);
    freeReplyObject(r);
    r = must_cmd(c, "COMMAND LIST FILTERBY PATTERN cl*");
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, "client");
    freeReplyObject(r);
    r = must_cmd(c, "COMMAND INFO get ping config|get");
    assert_int_equal(r->elements, 3);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_NIL);
    redisReply *ping = r->element[1];
    assert_int_equal(ping->elements, 10);
    assert_string_equal(ping->element[0]->str, "ping");
    assert_int_equal(ping->element[1]->integer, -1);
    assert_string_equal(r->element[2]->element[0]->str, "config|get");
    freeReplyObject(r);
    r = must_cmd(c, "COMMAND DOCS ping");
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "ping");
    assert_string_equal(r->element[1]->element[0]->str, "summary");
    freeReplyObject(r);
    /* The argument trees nest deeper than hiredis 0.14's reader allows (Redis's do too), so
     * the full reply is checked as raw bytes: a map of 2n elements in RESP2. */
    int fd = raw_connect(shared_server.port);
    raw_send_str(fd, "COMMAND DOCS\r\n");
    size_t got;
    char *raw = raw_read(fd, 16, 2000, &got);
    char head[32];
    snprintf(head, sizeof(head), "*%lld\r\n", 2 * n);
    assert_memory_equal(raw, head, strlen(head));
    free(raw);
    close(fd);
    r = must_cmd(c, "COMMAND DOCS echo");
    assert_int_equal(r->elements, 2);
    freeReplyObject(r);
    expect_error(c, "ERR syntax error", "COMMAND LIST FOO");
    redisFree(c);
}

static void test_debug(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    long long t0 = (long long)time(NULL);
    expect_status(c, "OK", "DEBUG SLEEP 1.1");
    assert_true((long long)time(NULL) - t0 >= 1);
    expect_status(c, "OK", "DEBUG SLEEP 0");
    expect_error(c, "ERR value is not a valid float", "DEBUG SLEEP abc");
    expect_error(c, "ERR unknown subcommand 'NOPE'. Try DEBUG HELP.", "DEBUG NOPE");
    redisFree(c);
}

static void test_errorstats(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    expect_status(c, "OK", "CONFIG RESETSTAT");
    expect_error(c, "ERR DB index is out of range", "SELECT 99");
    expect_error(c, "NOPROTO unsupported protocol version", "HELLO 9");
    redisReply *r = must_cmd(c, "INFO errorstats");
    assert_non_null(strstr(r->str, "errorstat_ERR:count=1\r\n"));
    assert_non_null(strstr(r->str, "errorstat_NOPROTO:count=1\r\n"));
    freeReplyObject(r);
    r = must_cmd(c, "INFO stats");
    assert_non_null(strstr(r->str, "total_error_replies:2\r\n"));
    freeReplyObject(r);
    r = must_cmd(c, "INFO commandstats");
    assert_non_null(strstr(r->str, "cmdstat_select:calls=1,"));
    assert_non_null(strstr(r->str, "rejected_calls=0,failed_calls=1\r\n"));
    freeReplyObject(r);
    redisFree(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_echo_time),
        cmocka_unit_test(test_unknown_and_arity),
        cmocka_unit_test(test_quit),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_auth_without_password),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_keyspace_commands),
        cmocka_unit_test(test_multi_exec),
        cmocka_unit_test(test_client_commands),
        cmocka_unit_test(test_client_kill_addr),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_debug),
        cmocka_unit_test(test_errorstats),
    };
    return cmocka_run_group_tests_name("commands", tests, shared_server_setup,
                                       shared_server_teardown);
}
