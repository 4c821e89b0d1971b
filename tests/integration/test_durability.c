/* test_durability.c - the durability rule, checked generically for every command of the table.
 *
 * For every command that COMMAND flags write or readonly, the test makes key k depend on a
 * submission the persist thread cannot finish (DEBUG PERSIST-HOLD 1, then an XADD to k from
 * another connection), sends the command from a second connection and checks that its reply does
 * not leave while the thread is held, then lets the thread go and checks that the reply arrives.
 * It runs under fsync always and everysec (written-not-synced is what everysec waits for, and a
 * held thread writes nothing). A command added to the table later without a sample here fails
 * the coverage check, so the rule cannot be skipped by a new handler. PING proves that the hold
 * does not stop replies that touch nothing stored (the test can fail). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* One invocation per command (space-separated arguments); k exists with entries 1-0 and 2-0,
 * group g with consumer c1 holding 1-0 pending. */
static const struct sample {
    const char *name; /* as COMMAND names it: "xgroup|create" */
    const char *args;
    int error_reply; /* answers an error by design (still after the key's state is durable) */
} samples[] = {
    {"dbsize", "DBSIZE"},
    {"del", "DEL k"},
    {"exists", "EXISTS k"},
    {"expire", "EXPIRE k 1000"},
    {"expireat", "EXPIREAT k 4102444800"},
    {"expiretime", "EXPIRETIME k"},
    {"flushall", "FLUSHALL"},
    {"flushdb", "FLUSHDB"},
    {"keys", "KEYS *"},
    {"memory|usage", "MEMORY USAGE k"},
    {"object|encoding", "OBJECT ENCODING k"},
    {"object|freq", "OBJECT FREQ k", 1},         /* no LFU policy */
    {"object|idletime", "OBJECT IDLETIME k", 1}, /* no access times kept */
    {"object|refcount", "OBJECT REFCOUNT k"},
    {"persist", "PERSIST k"},
    {"pexpire", "PEXPIRE k 1000000"},
    {"pexpireat", "PEXPIREAT k 4102444800000"},
    {"pexpiretime", "PEXPIRETIME k"},
    {"pttl", "PTTL k"},
    {"rename", "RENAME k k2"},
    {"scan", "SCAN 0"},
    {"ttl", "TTL k"},
    {"type", "TYPE k"},
    {"unlink", "UNLINK k"},
    {"xack", "XACK k g 1-0"},
    {"xackdel", "XACKDEL k g DELREF IDS 1 1-0"},
    {"xadd", "XADD k * a b"},
    {"xautoclaim", "XAUTOCLAIM k g c2 0 0"},
    {"xclaim", "XCLAIM k g c2 0 1-0"},
    {"xcommit", "XCOMMIT k g 1-0"},
    {"xcommitted", "XCOMMITTED k g"},
    {"xdel", "XDEL k 1-0"},
    {"xdelex", "XDELEX k ACKED IDS 1 2-0"},
    {"xgroup|create", "XGROUP CREATE k g2 0"},
    {"xcfgset", "XCFGSET k IDMP-MAXSIZE 50"},
    {"xgroup|setdlq", "XGROUP SETDLQ k g 5 k:dead"},
    {"xnack", "XNACK k g FAIL IDS 1 1-0"},
    {"xgroup|setid", "XGROUP SETID k g 0"},
    {"xgroup|destroy", "XGROUP DESTROY k g"},
    {"xgroup|createconsumer", "XGROUP CREATECONSUMER k g c9"},
    {"xgroup|delconsumer", "XGROUP DELCONSUMER k g c1"},
    {"xinfo|groups", "XINFO GROUPS k"},
    {"xinfo|consumers", "XINFO CONSUMERS k g"},
    {"xinfo|stream", "XINFO STREAM k FULL"},
    {"xlag", "XLAG k g"},
    {"xlen", "XLEN k"},
    {"xpending", "XPENDING k g"},
    {"xrange", "XRANGE k - +"},
    {"xread", "XREAD COUNT 5 STREAMS k 0"},
    {"xreadgroup", "XREADGROUP GROUP g c2 COUNT 5 STREAMS k >"},
    {"xretention", "XRETENTION k"},
    {"xsettings|get", "XSETTINGS GET k"},
    {"xsettings|set", "XSETTINGS SET k compression zstd"},
    {"xrevrange", "XREVRANGE k + -"},
    {"xsetid", "XSETID k 99999999999999-0"},
    {"xtrim", "XTRIM k MAXLEN 100"},
};

/* Flagged write or readonly, but they touch nothing stored (the reason is the comment). */
static const char *const untouched[] = {
    "function|flush", /* Obelisk has no functions: FUNCTION FLUSH answers OK and does nothing */
};

static int has_flag(const redisReply *flags, const char *name) {
    for (size_t i = 0; i < flags->elements; i++)
        if (!strcmp(flags->element[i]->str, name)) return 1;
    return 0;
}

static int known(const char *name) {
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        if (!strcmp(samples[i].name, name)) return 1;
    for (size_t i = 0; i < sizeof(untouched) / sizeof(untouched[0]); i++)
        if (!strcmp(untouched[i], name)) return 1;
    return 0;
}

/* Every command (and subcommand) flagged write or readonly has a sample or a reason. */
static void check_entry(const redisReply *e, int *missing) {
    const char *name = e->element[0]->str;
    if ((has_flag(e->element[2], "write") || has_flag(e->element[2], "readonly")) && !known(name)) {
        printf("# no durability sample for '%s'\n", name);
        (*missing)++;
    }
    if (e->elements > 9 && e->element[9]->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < e->element[9]->elements; i++)
            check_entry(e->element[9]->element[i], missing);
}

static void test_every_command_has_a_sample(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "COMMAND");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    int missing = 0;
    for (size_t i = 0; i < r->elements; i++) check_entry(r->element[i], &missing);
    assert_int_equal(missing, 0);
    freeReplyObject(r);
    redisFree(c);
    server_cleanup(&s);
}

/* 1 when bytes arrive on the connection within ms. */
static int reply_within(redisContext *c, int ms) {
    struct pollfd p = {c->fd, POLLIN, 0};
    return poll(&p, 1, ms) > 0;
}

static void expect_ok(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", cmd, r->str);
    freeReplyObject(r);
}

static void prepare(redisContext *c) {
    expect_ok(c, "FLUSHALL");
    expect_ok(c, "XADD k 1-0 f v");
    expect_ok(c, "XADD k 2-0 f v");
    expect_ok(c, "XGROUP CREATE k g 0");
    expect_ok(c, "XREADGROUP GROUP g c1 COUNT 1 STREAMS k >");
}

/* Sends argv-style args (split on spaces) without reading the reply. */
static void send_split(redisContext *c, const char *args) {
    char buf[256];
    const char *argv[16];
    size_t argvlen[16];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", args);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && argc < 16;
         t = strtok_r(NULL, " ", &save)) {
        argv[argc] = t;
        argvlen[argc++] = strlen(t);
    }
    assert_int_equal(redisAppendCommandArgv(c, argc, argv, argvlen), REDIS_OK);
    int done = 0;
    while (!done) assert_int_equal(redisBufferWrite(c, &done), REDIS_OK);
}

static void check_held(const struct test_server *s, const struct sample *sm) {
    redisContext *a = client_connect(s), *b = client_connect(s), *ctl = client_connect(s);
    prepare(ctl);
    expect_ok(ctl, "DEBUG PERSIST-HOLD 1");
    send_split(a, "XADD k * dirty 1"); /* k now depends on a submission that cannot finish */
    sleep_ms(20);
    send_split(b, sm->args);
    if (reply_within(b, 150)) fail_msg("'%s' replied before its data was durable", sm->args);
    expect_ok(ctl, "PING"); /* replies that touch nothing stored still leave */
    expect_ok(ctl, "DEBUG PERSIST-HOLD 0");
    redisReply *r = NULL;
    assert_int_equal(redisGetReply(b, (void **)&r), REDIS_OK);
    if ((r->type == REDIS_REPLY_ERROR) != sm->error_reply)
        fail_msg("'%s' answered %s", sm->args, r->str ? r->str : "(not an error)");
    freeReplyObject(r);
    assert_int_equal(redisGetReply(a, (void **)&r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    redisFree(a);
    redisFree(b);
    redisFree(ctl);
}

static void run_all(const char *fsync) {
    struct test_server s;
    assert_int_equal(server_start(&s, "--fsync", fsync, NULL), 0);
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) check_held(&s, &samples[i]);
    server_cleanup(&s);
}

static void test_held_under_always(void **state) {
    (void)state;
    run_all("always");
}

static void test_held_under_everysec(void **state) {
    (void)state;
    run_all("everysec");
}

/* The same for a blocked reader served while the data it gets is not durable. */
static void test_blocked_reader_held(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *w = client_connect(&s), *b = client_connect(&s), *ctl = client_connect(&s);
    prepare(ctl);
    send_split(b, "XREAD BLOCK 0 STREAMS k $");
    sleep_ms(50);
    expect_ok(ctl, "DEBUG PERSIST-HOLD 1");
    send_split(w, "XADD k * new 1");
    if (reply_within(b, 150)) fail_msg("a blocked XREAD was served data that was not durable");
    expect_ok(ctl, "DEBUG PERSIST-HOLD 0");
    redisReply *r = NULL;
    assert_int_equal(redisGetReply(b, (void **)&r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    redisFree(w);
    redisFree(b);
    redisFree(ctl);
    server_cleanup(&s);
}

/* The commandstats line of one command, e.g. "cmdstat_xadd:calls=3,..." (NULL when absent). */
static long long stat_field(redisContext *c, const char *cmd, const char *field) {
    redisReply *r = must_cmd(c, "INFO commandstats");
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:", cmd);
    const char *line = strstr(r->str, key);
    long long v = -1;
    if (line) {
        const char *f = strstr(line, field);
        const char *eol = strchr(line, '\r');
        if (f && (!eol || f < eol)) v = atoll(f + strlen(field) + 1);
    }
    freeReplyObject(r);
    return v;
}

/* A request parked for cache space runs twice but is one call (it was counted twice). */
static void test_parked_command_counted_once(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--cache-max-bytes", "1mb", NULL), 0);
    redisContext *w = client_connect(&s), *ctl = client_connect(&s);
    expect_ok(ctl, "DEBUG PERSIST-HOLD 1");
    char value[2001];
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    enum { N = 1500 }; /* 3 MB of entries: more than the cache takes unwritten */
    for (int i = 0; i < N; i++) redisAppendCommand(w, "XADD k * f %s", value);
    int done = 0;
    while (!done) assert_int_equal(redisBufferWrite(w, &done), REDIS_OK);
    sleep_ms(300);
    assert_true(stat_field(ctl, "xadd", "calls") < N); /* some are parked, not yet counted */
    expect_ok(ctl, "DEBUG PERSIST-HOLD 0");
    for (int i = 0; i < N; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(w, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
    assert_int_equal(stat_field(ctl, "xadd", "calls"), N);
    redisFree(w);
    redisFree(ctl);
    server_cleanup(&s);
}

/* A blocked command is one call, counted when it ends; ending in an error is a failed call
 * (Redis's updateStatsOnUnblock). */
static void test_blocked_command_stats(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *b = client_connect(&s), *ctl = client_connect(&s);
    prepare(ctl);
    expect_ok(ctl, "XGROUP CREATE k g3 $");
    expect_ok(ctl, "CONFIG RESETSTAT");
    send_split(b, "XREADGROUP GROUP g3 c2 BLOCK 0 STREAMS k >");
    sleep_ms(50);
    expect_ok(ctl, "XGROUP DESTROY k g3");
    redisReply *r = NULL;
    assert_int_equal(redisGetReply(b, (void **)&r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_memory_equal(r->str, "NOGROUP", 7);
    freeReplyObject(r);
    assert_int_equal(stat_field(ctl, "xreadgroup", "calls"), 1);
    assert_int_equal(stat_field(ctl, "xreadgroup", "failed_calls"), 1);
    send_split(b, "XREAD BLOCK 30 STREAMS k $"); /* a timeout is a call, not a failure */
    assert_int_equal(redisGetReply(b, (void **)&r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    assert_int_equal(stat_field(ctl, "xread", "calls"), 1);
    assert_int_equal(stat_field(ctl, "xread", "failed_calls"), 0);
    redisFree(b);
    redisFree(ctl);
    server_cleanup(&s);
}

/* INFO reports the in-memory state and waits for nothing (Sentinel reads it while writes wait),
 * but inside EXEC it does not release what a queued write touched. */
static void test_info_never_waits(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *w = client_connect(&s), *i = client_connect(&s), *ctl = client_connect(&s);
    prepare(ctl);
    expect_ok(ctl, "DEBUG PERSIST-HOLD 1");
    send_split(w, "XADD k * new 1");
    send_split(i, "INFO");
    if (!reply_within(i, 2000)) fail_msg("INFO waited for a submission");
    redisReply *r = NULL;
    assert_int_equal(redisGetReply(i, (void **)&r), REDIS_OK);
    assert_non_null(strstr(r->str, "db0:keys=1"));
    freeReplyObject(r);
    expect_ok(i, "MULTI");
    expect_ok(i, "XADD k * in-exec 1");
    expect_ok(i, "INFO keyspace");
    send_split(i, "EXEC");
    if (reply_within(i, 150))
        fail_msg("EXEC with a write and INFO left before the write was durable");
    expect_ok(ctl, "DEBUG PERSIST-HOLD 0");
    assert_int_equal(redisGetReply(i, (void **)&r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    assert_int_equal(redisGetReply(w, (void **)&r), REDIS_OK);
    freeReplyObject(r);
    redisFree(w);
    redisFree(i);
    redisFree(ctl);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_command_has_a_sample),
        cmocka_unit_test(test_held_under_always),
        cmocka_unit_test(test_held_under_everysec),
        cmocka_unit_test(test_blocked_reader_held),
        cmocka_unit_test(test_parked_command_counted_once),
        cmocka_unit_test(test_blocked_command_stats),
        cmocka_unit_test(test_info_never_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
