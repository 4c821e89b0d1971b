/* test_expiry.c - key expiry (expire.c, cmd_expire.c) against a real server: EXPIRE and its
 * family with NX/XX/GT/LT, their errors in Redis's order, TTL rounding; lazy expiry on access
 * and the active cycle deleting keys nobody touches (their directories removed, INFO's counters
 * and keyspace line true); an expired key's blocked XREADGROUP reader released as after DEL;
 * RENAME carrying the expiry and XADD keeping it; expiry times surviving a kill -9, and a key
 * whose time passed while the server was down gone after the restart. */
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

static long long int_cmd(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type != REDIS_REPLY_INTEGER) fail_msg("%s: not an integer: %s", cmd, r->str);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void expect_error(redisContext *c, const char *cmd, const char *err) {
    redisReply *r = must_cmd(c, cmd);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_string_equal(r->str, err);
    freeReplyObject(r);
}

static void ok_cmd(redisContext *c, const char *cmd) {
    freeReplyObject(must_cmd(c, cmd));
}

/* Topic directories under the data directory's db0. */
static int topic_dirs(const struct test_server *s) {
    char path[400];
    snprintf(path, sizeof path, "%s/db0", s->datadir);
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if ((e->d_name[0] == 't' || e->d_name[0] == 'h') && e->d_name[1] == '_') n++;
    closedir(d);
    return n;
}

static void test_commands_and_conditions(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XADD s 1-1 a 1");
    assert_int_equal(int_cmd(c, "TTL s"), -1);
    assert_int_equal(int_cmd(c, "PTTL s"), -1);
    assert_int_equal(int_cmd(c, "EXPIRETIME s"), -1);
    assert_int_equal(int_cmd(c, "TTL nokey"), -2);
    assert_int_equal(int_cmd(c, "PEXPIRETIME nokey"), -2);
    assert_int_equal(int_cmd(c, "EXPIRE nokey 100"), 0);
    assert_int_equal(int_cmd(c, "PERSIST nokey"), 0);
    assert_int_equal(int_cmd(c, "PERSIST s"), 0); /* no expiry to remove */
    /* GT on a key without expiry fails (no expiry counts as infinite); LT succeeds */
    assert_int_equal(int_cmd(c, "EXPIRE s 100 GT"), 0);
    assert_int_equal(int_cmd(c, "EXPIRE s 100 XX"), 0);
    assert_int_equal(int_cmd(c, "EXPIRE s 100 LT"), 1);
    assert_int_equal(int_cmd(c, "TTL s"), 100);
    long long pttl = int_cmd(c, "PTTL s");
    assert_true(pttl > 99000 && pttl <= 100000);
    assert_int_equal(int_cmd(c, "EXPIRE s 200 NX"), 0);
    assert_int_equal(int_cmd(c, "EXPIRE s 50 GT"), 0);
    assert_int_equal(int_cmd(c, "EXPIRE s 200 GT"), 1);
    assert_int_equal(int_cmd(c, "EXPIRE s 300 LT"), 0);
    assert_int_equal(int_cmd(c, "EXPIRE s 150 xx lt"), 1);
    assert_int_equal(int_cmd(c, "TTL s"), 150);
    /* absolute forms, and EXPIRETIME's rounding to the nearest second */
    assert_int_equal(int_cmd(c, "PEXPIREAT s 4102444800499"), 1);
    assert_int_equal(int_cmd(c, "EXPIRETIME s"), 4102444800);
    assert_int_equal(int_cmd(c, "PEXPIRETIME s"), 4102444800499);
    assert_int_equal(int_cmd(c, "PEXPIREAT s 4102444800500"), 1);
    assert_int_equal(int_cmd(c, "EXPIRETIME s"), 4102444801);
    assert_int_equal(int_cmd(c, "EXPIREAT s 4102444800"), 1);
    assert_int_equal(int_cmd(c, "PEXPIRETIME s"), 4102444800000);
    /* XADD keeps the expiry (it changes the value, not the key) */
    ok_cmd(c, "XADD s 2-1 a 2");
    assert_int_equal(int_cmd(c, "EXPIRETIME s"), 4102444800);
    assert_int_equal(int_cmd(c, "PERSIST s"), 1);
    assert_int_equal(int_cmd(c, "TTL s"), -1);
    /* errors, in Redis's order: options, then the number, then the overflow */
    expect_error(c, "EXPIRE s 10 NX XX",
                 "ERR NX and XX, GT or LT options at the same time are not compatible");
    expect_error(c, "EXPIRE s 10 GT LT",
                 "ERR GT and LT options at the same time are not compatible");
    expect_error(c, "EXPIRE s abc foo", "ERR Unsupported option foo");
    expect_error(c, "EXPIRE s abc", "ERR value is not an integer or out of range");
    expect_error(c, "EXPIRE s 9223372036854775807", "ERR invalid expire time in 'expire' command");
    expect_error(c, "PEXPIRE s 9223372036854775807",
                 "ERR invalid expire time in 'pexpire' command");
    expect_error(c, "EXPIREAT s 9223372036854775807",
                 "ERR invalid expire time in 'expireat' command");
    expect_error(c, "EXPIRE s", "ERR wrong number of arguments for 'expire' command");
    expect_error(c, "TTL", "ERR wrong number of arguments for 'ttl' command");
    assert_int_equal(int_cmd(c, "TTL s"), -1); /* no failed form changed anything */
    /* a time in the past deletes the key at once (replied 1), not counted as expired */
    long long before = info_number(c, "stats", "expired_keys");
    assert_int_equal(int_cmd(c, "EXPIRE s 0"), 1);
    assert_int_equal(int_cmd(c, "EXISTS s"), 0);
    ok_cmd(c, "XADD s2 1-1 a 1");
    assert_int_equal(int_cmd(c, "PEXPIREAT s2 1000"), 1);
    assert_int_equal(int_cmd(c, "EXISTS s2"), 0);
    assert_int_equal(info_number(c, "stats", "expired_keys"), before);
    redisFree(c);
}

static void test_rename_and_recreate(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XADD r1 1-1 a 1");
    assert_int_equal(int_cmd(c, "EXPIREAT r1 4102444800"), 1);
    ok_cmd(c, "XADD r2 1-1 a 1");
    ok_cmd(c, "RENAME r1 r2"); /* the destination takes the source's expiry */
    assert_int_equal(int_cmd(c, "EXPIRETIME r2"), 4102444800);
    ok_cmd(c, "XADD r3 1-1 a 1");
    ok_cmd(c, "RENAME r3 r2"); /* and loses it when the source has none */
    assert_int_equal(int_cmd(c, "TTL r2"), -1);
    /* an expired key is gone for writes too: XADD creates a fresh key without an expiry */
    ok_cmd(c, "XADD x 5-1 a 1");
    assert_int_equal(int_cmd(c, "PEXPIRE x 30"), 1);
    usleep(60000);
    redisReply *r = must_cmd(c, "XADD x 1-1 a 1"); /* below the old last ID: a new stream */
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "1-1");
    freeReplyObject(r);
    assert_int_equal(int_cmd(c, "XLEN x"), 1);
    assert_int_equal(int_cmd(c, "TTL x"), -1);
    /* DEL of an expired key deletes nothing */
    assert_int_equal(int_cmd(c, "PEXPIRE x 30"), 1);
    usleep(60000);
    assert_int_equal(int_cmd(c, "DEL x"), 0);
    ok_cmd(c, "DEL r2");
    redisFree(c);
}

static void test_lazy_and_active(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    /* lazily: a lookup after the time finds nothing and counts the key */
    ok_cmd(c, "XADD lazy 1-1 a 1");
    assert_int_equal(int_cmd(c, "PEXPIRE lazy 20"), 1);
    usleep(40000);
    assert_int_equal(int_cmd(c, "EXISTS lazy"), 0);
    assert_int_equal(int_cmd(c, "TTL lazy"), -2);
    assert_true(info_number(c, "stats", "expired_keys") >= 1);
    /* actively: 60 keys nobody touches again go by themselves, with their directories */
    ok_cmd(c, "XADD keep 1-1 a 1");
    assert_int_equal(int_cmd(c, "EXPIRE keep 1000"), 1);
    for (int i = 0; i < 60; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "XADD k%d 1-1 a 1", i);
        ok_cmd(c, cmd);
        /* long enough that none goes before the INFO below even on a loaded machine (at 300 ms
         * a slow run lost some first) */
        snprintf(cmd, sizeof cmd, "PEXPIRE k%d 1500", i);
        assert_int_equal(int_cmd(c, cmd), 1);
    }
    redisReply *r = must_cmd(c, "INFO keyspace");
    assert_non_null(strstr(r->str, "db0:keys=61,expires=61,avg_ttl="));
    freeReplyObject(r);
    long long dbsize = 61;
    for (int i = 0; i < 200 && dbsize > 1; i++) {
        usleep(50000);
        dbsize = int_cmd(c, "DBSIZE"); /* DBSIZE expires nothing itself */
    }
    assert_int_equal(dbsize, 1);
    assert_int_equal(info_number(c, "stats", "expired_keys"), 61);
    r = must_cmd(c, "INFO keyspace");
    char *line = strstr(r->str, "db0:keys=1,expires=1,avg_ttl=");
    assert_non_null(line);
    long long avg = atoll(line + strlen("db0:keys=1,expires=1,avg_ttl="));
    assert_true(avg > 900000 && avg <= 1000000);
    freeReplyObject(r);
    r = must_cmd(c, "KEYS *");
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    for (int i = 0; i < 100 && topic_dirs(&s) != 1; i++) usleep(20000);
    assert_int_equal(topic_dirs(&s), 1);
    ok_cmd(c, "CONFIG RESETSTAT");
    assert_int_equal(info_number(c, "stats", "expired_keys"), 0);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* A reader blocked on a group of a key that expires is released as after DEL. */
static void test_blocked_reader_released(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    ok_cmd(c, "XGROUP CREATE bl g $ MKSTREAM");
    int fd = raw_connect(shared_server.port);
    assert_int_equal(raw_send_str(fd, "XREADGROUP GROUP g c BLOCK 0 STREAMS bl >\r\n"), 0);
    usleep(50000);
    assert_int_equal(int_cmd(c, "PEXPIRE bl 50"), 1);
    assert_true(raw_expect(fd, "-UNBLOCKED the stream key no longer exists\r\n"));
    close(fd);
    redisFree(c);
}

static void test_survives_kill9(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    ok_cmd(c, "XADD long 1-1 a 1");
    ok_cmd(c, "XADD short 1-1 a 1");
    ok_cmd(c, "XADD none 1-1 a 1");
    ok_cmd(c, "XADD persisted 1-1 a 1");
    assert_int_equal(int_cmd(c, "PEXPIREAT long 4102444800123"), 1);
    assert_int_equal(int_cmd(c, "PEXPIRE short 700"), 1);
    assert_int_equal(int_cmd(c, "EXPIRE persisted 1000"), 1);
    assert_int_equal(int_cmd(c, "PERSIST persisted"), 1);
    redisFree(c);
    server_kill(&s); /* every reply above was durable before it was sent */
    usleep(800000);  /* short's time passes while the server is down */
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    assert_int_equal(int_cmd(c, "PEXPIRETIME long"), 4102444800123);
    assert_int_equal(int_cmd(c, "TTL none"), -1);
    assert_int_equal(int_cmd(c, "TTL persisted"), -1);
    long long dbsize = 4;
    for (int i = 0; i < 100 && dbsize != 3; i++) {
        usleep(20000);
        dbsize = int_cmd(c, "DBSIZE");
    }
    assert_int_equal(dbsize, 3); /* short went without anyone asking for it */
    assert_int_equal(int_cmd(c, "EXISTS short"), 0);
    redisFree(c);
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0); /* the deletion was durable too */
    c = client_connect(&s);
    assert_int_equal(int_cmd(c, "DBSIZE"), 3);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_and_conditions),
        cmocka_unit_test(test_rename_and_recreate),
        cmocka_unit_test(test_lazy_and_active),
        cmocka_unit_test(test_blocked_reader_released),
        cmocka_unit_test(test_survives_kill9),
    };
    return cmocka_run_group_tests_name("expiry", tests, shared_server_setup,
                                       shared_server_teardown);
}
