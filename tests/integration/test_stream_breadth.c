/* test_stream_breadth.c - stream commands of Redis versions after 7.0, against a real server,
 * byte for byte as redis.io documents them: XREAD's "+" ID (7.4) with COUNT and BLOCK; XDELEX
 * and XACKDEL (8.2) with KEEPREF, DELREF and ACKED, their errors, and their group changes
 * surviving a kill -9; XREAD and XREADGROUP's MAXCOUNT and MAXSIZE (8.10) with the documented
 * examples. */
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

static void send_cmd(int fd, const char *s) {
    assert_int_equal(raw_send_str(fd, s), 0);
}

/* A textual dump of a reply, to compare replies before and after a restart. */
static void dump(const redisReply *r, char *out, size_t cap) {
    size_t n = strlen(out);
    switch (r->type) {
    case REDIS_REPLY_ARRAY:
        snprintf(out + n, cap - n, "[");
        for (size_t i = 0; i < r->elements; i++) dump(r->element[i], out, cap);
        n = strlen(out);
        snprintf(out + n, cap - n, "]");
        break;
    case REDIS_REPLY_INTEGER: snprintf(out + n, cap - n, "%lld,", r->integer); break;
    case REDIS_REPLY_NIL: snprintf(out + n, cap - n, "nil,"); break;
    default: snprintf(out + n, cap - n, "%.*s,", (int)r->len, r->str); break;
    }
}

static char *dump_cmd(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    char *out = calloc(1, 4096);
    dump(r, out, 4096);
    freeReplyObject(r);
    return out;
}

/* One entry [id, [f, v]] with one-byte field and value names, as RESP2 bytes. */
#define ENTRY(id, f, v) "*2\r\n$3\r\n" id "\r\n*2\r\n$1\r\n" f "\r\n$1\r\n" v "\r\n"

static void test_xread_plus_last_entry(void **state) {
    (void)state;
    /* "+" returns the last entry only, whatever COUNT says. */
    expect_raw("XADD p 1-1 a 1\r\nXADD p 2-1 b 2\r\nXREAD STREAMS p +\r\n"
               "XREAD COUNT 5 STREAMS p +\r\n",
               "$3\r\n1-1\r\n$3\r\n2-1\r\n"
               "*1\r\n*2\r\n$1\r\np\r\n*1\r\n" ENTRY(
                   "2-1", "b", "2") "*1\r\n*2\r\n$1\r\np\r\n*1\r\n" ENTRY("2-1", "b", "2"));
    /* Several streams, "+" beside "$" and an explicit ID; a missing key gives nothing. */
    expect_raw("XADD q 7-1 c 3\r\nXREAD STREAMS p q nokey + 0 +\r\nXREAD STREAMS p q $ $\r\n"
               "XREAD STREAMS nokey +\r\n",
               "$3\r\n7-1\r\n"
               "*2\r\n*2\r\n$1\r\np\r\n*1\r\n" ENTRY(
                   "2-1", "b", "2") "*2\r\n$1\r\nq\r\n"
                                    "*1\r\n" ENTRY("7-1", "c", "3") "*-1\r\n*-1\r\n");
    /* A BLOCK that has the last entry answers at once. */
    expect_raw("XREAD BLOCK 0 STREAMS p +\r\n",
               "*1\r\n*2\r\n$1\r\np\r\n*1\r\n" ENTRY("2-1", "b", "2"));
}

static void test_xread_plus_deleted_last_and_block(void **state) {
    (void)state;
    /* The last entry deleted: "+" finds nothing (it does not fall back to an older one). */
    expect_raw("XADD d 1-1 a 1\r\nXADD d 2-1 b 2\r\nXDEL d 2-1\r\nXREAD STREAMS d +\r\n",
               "$3\r\n1-1\r\n$3\r\n2-1\r\n:1\r\n*-1\r\n");
    /* A BLOCK then waits and is served with what comes after the deleted last ID. */
    int fd = raw_connect(shared_server.port);
    send_cmd(fd, "XREAD BLOCK 5000 COUNT 10 STREAMS d +\r\n");
    usleep(100000);
    expect_raw("XADD d 3-1 c 3\r\n", "$3\r\n3-1\r\n");
    assert_true(raw_expect(fd, "*1\r\n*2\r\n$1\r\nd\r\n*1\r\n" ENTRY("3-1", "c", "3")));
    /* A missing key reads from 0-0: the first entry added wakes the reader. */
    send_cmd(fd, "XREAD BLOCK 5000 STREAMS dnew +\r\n");
    usleep(100000);
    expect_raw("XADD dnew 5-1 e 5\r\n", "$3\r\n5-1\r\n");
    assert_true(raw_expect(fd, "*1\r\n*2\r\n$4\r\ndnew\r\n*1\r\n" ENTRY("5-1", "e", "5")));
    /* Served at once while the last entry exists; once it is deleted, a timeout (null). */
    send_cmd(fd, "XREAD BLOCK 50 STREAMS d +\r\n");
    assert_true(raw_expect(fd, "*1\r\n*2\r\n$1\r\nd\r\n*1\r\n" ENTRY("3-1", "c", "3")));
    send_cmd(fd, "XDEL d 3-1\r\nXREAD BLOCK 50 STREAMS d +\r\n");
    assert_true(raw_expect(fd, ":1\r\n*-1\r\n"));
    close(fd);
}

static void test_xread_plus_errors(void **state) {
    (void)state;
    /* A stream that never had an entry has no ID below its last one (0-0). */
    expect_raw(
        "XGROUP CREATE e g $ MKSTREAM\r\nXREAD STREAMS e +\r\nXREAD BLOCK 10 STREAMS e +\r\n",
        "+OK\r\n-ERR the stream last element ID is 0-0\r\n"
        "-ERR the stream last element ID is 0-0\r\n");
    expect_raw("XADD e 1-1 a 1\r\nXREADGROUP GROUP g c STREAMS e +\r\n",
               "$3\r\n1-1\r\n"
               "-ERR The + ID is meaningless in the context of XREADGROUP: you want to read the "
               "history of this consumer by specifying a proper ID, or use the > ID to get new "
               "messages. The + ID would just return an empty result set.\r\n");
    /* "+" is the whole argument: "+1" or "++" are not IDs. */
    expect_raw("XREAD STREAMS e ++\r\n",
               "-ERR Invalid stream ID specified as stream command argument\r\n");
}

/* XPENDING summaries as RESP2 bytes. */
#define NO_PENDING "*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"
/* n pending from first to last, all of one consumer (a 9-letter name). */
#define PENDING(n, first, last, cons)                                                              \
    "*4\r\n:" n "\r\n$3\r\n" first "\r\n$3\r\n" last "\r\n*1\r\n*2\r\n$9\r\n" cons "\r\n$1\r\n" n  \
    "\r\n"

static void test_xdelex_xackdel_errors(void **state) {
    (void)state;
    expect_raw("XDELEX s IDS 0 1-1\r\nXDELEX s IDS abc 1-1\r\nXDELEX s IDS -5 1-1\r\n"
               "XACKDEL s g IDS 0 1-1\r\n",
               "-ERR Number of IDs must be a positive integer\r\n"
               "-ERR Number of IDs must be a positive integer\r\n"
               "-ERR Number of IDs must be a positive integer\r\n"
               "-ERR Number of IDs must be a positive integer\r\n");
    expect_raw("XDELEX s IDS 3 1-1 2-2\r\nXACKDEL s g IDS 3 1-1 2-2\r\n",
               "-ERR The `numids` parameter must match the number of arguments\r\n"
               "-ERR The `numids` parameter must match the number of arguments\r\n");
    /* Extra IDs, an unknown option, two policies, no IDS block: syntax errors. */
    expect_raw("XDELEX s IDS 1 1-1 2-2\r\nXDELEX s BOGUS IDS 1 1-1\r\n"
               "XDELEX s KEEPREF DELREF IDS 1 1-1\r\nXACKDEL s g DELREF ACKED IDS 1 1-1\r\n"
               "XDELEX s KEEPREF 1-1 2-2\r\nXACKDEL s g ACKED 1 1-1\r\n",
               "-ERR syntax error\r\n-ERR syntax error\r\n-ERR syntax error\r\n"
               "-ERR syntax error\r\n-ERR syntax error\r\n-ERR syntax error\r\n");
    expect_raw("XDELEX s IDS 1 not-an-id\r\nXACKDEL s g IDS 2 1-1 +\r\n",
               "-ERR Invalid stream ID specified as stream command argument\r\n"
               "-ERR Invalid stream ID specified as stream command argument\r\n");
    expect_raw("XDELEX s IDS 1\r\nXACKDEL s g IDS\r\n",
               "-ERR wrong number of arguments for 'xdelex' command\r\n"
               "-ERR wrong number of arguments for 'xackdel' command\r\n");
    /* A missing key (or group) answers -1 for every ID; bad IDs are refused all the same. */
    expect_raw("XDELEX nokey IDS 2 1-1 2-2\r\nXACKDEL nokey g IDS 2 1-1 2-2\r\n"
               "XADD s 1-0 f v\r\nXACKDEL s nogroup IDS 2 1-1 1-0\r\nXLEN s\r\n",
               "*2\r\n:-1\r\n:-1\r\n*2\r\n:-1\r\n:-1\r\n$3\r\n1-0\r\n*2\r\n:-1\r\n:-1\r\n:1\r\n");
}

/* Three entries 1-0..3-0 in key, delivered to group g1 (consumer c1) and g2 (consumer c2). */
static void two_groups(const char *key) {
    redisContext *c = client_connect(&shared_server);
    freeReplyObject(must_cmd(c, "DEL %s", key));
    for (int i = 1; i <= 3; i++) freeReplyObject(must_cmd(c, "XADD %s %d-0 f v", key, i));
    freeReplyObject(must_cmd(c, "XGROUP CREATE %s g1 0", key));
    freeReplyObject(must_cmd(c, "XGROUP CREATE %s g2 0", key));
    freeReplyObject(must_cmd(c, "XREADGROUP GROUP g1 consumer1 STREAMS %s >", key));
    freeReplyObject(must_cmd(c, "XREADGROUP GROUP g2 consumer2 STREAMS %s >", key));
    redisFree(c);
}

static void test_xdelex_policies(void **state) {
    (void)state;
    /* KEEPREF (the default): deleted, the PELs keep their references; a repeat is -1. */
    two_groups("x");
    expect_raw(
        "XDELEX x IDS 3 1-0 9-0 1-0\r\nXLEN x\r\nXDELEX x KEEPREF IDS 1 2-0\r\n"
        "XPENDING x g1\r\n",
        "*3\r\n:1\r\n:-1\r\n:-1\r\n:2\r\n*1\r\n:1\r\n" PENDING("3", "1-0", "3-0", "consumer1"));
    /* DELREF: deleted and gone from every group's PEL. */
    two_groups("x");
    expect_raw("XDELEX x DELREF IDS 2 1-0 3-0\r\nXLEN x\r\nXPENDING x g1\r\nXPENDING x g2\r\n",
               "*2\r\n:1\r\n:1\r\n:1\r\n" PENDING("1", "2-0", "2-0", "consumer1")
                   PENDING("1", "2-0", "2-0", "consumer2"));
    /* DELREF on an entry already deleted (KEEPREF left references): not found (-1), and
     * the dangling references are removed all the same. */
    two_groups("x");
    expect_raw("XDEL x 2-0\r\nXDELEX x DELREF IDS 1 2-0\r\nXPENDING x g1\r\n",
               ":1\r\n*1\r\n:-1\r\n"
               "*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n3-0\r\n*1\r\n*2\r\n$9\r\nconsumer1\r\n$1\r\n2\r\n");
    /* ACKED: kept (2) while any group has it pending; deleted once every group acknowledged. */
    two_groups("x");
    expect_raw("XDELEX x ACKED IDS 1 1-0\r\nXACK x g1 1-0\r\nXDELEX x ACKED IDS 1 1-0\r\n"
               "XACK x g2 1-0\r\nXDELEX x ACKED IDS 2 1-0 1-0\r\nXLEN x\r\n",
               "*1\r\n:2\r\n:1\r\n*1\r\n:2\r\n:1\r\n*2\r\n:1\r\n:-1\r\n:2\r\n");
    /* ACKED also keeps what a group has not been delivered yet (above its last ID), and
     * deletes freely when the stream has no group. */
    expect_raw("DEL y\r\nXADD y 1-0 f v\r\nXADD y 2-0 f v\r\nXADD y 3-0 f v\r\n"
               "XGROUP CREATE y group1 1-0\r\nXGROUP CREATE y group2 3-0\r\n"
               "XDELEX y ACKED IDS 2 1-0 2-0\r\nXGROUP DESTROY y group1\r\n"
               "XDELEX y ACKED IDS 1 2-0\r\nXADD z 1-0 f v\r\nXDELEX z ACKED IDS 1 1-0\r\n",
               ":0\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n$3\r\n3-0\r\n+OK\r\n+OK\r\n*2\r\n:1\r\n:2\r\n"
               ":1\r\n*1\r\n:1\r\n$3\r\n1-0\r\n*1\r\n:1\r\n");
}

static void test_xackdel_policies(void **state) {
    (void)state;
    /* KEEPREF: acknowledged in g1 and deleted; g2 keeps its references, and acknowledging
     * them later answers 1 although the entries are gone. */
    two_groups("a");
    expect_raw("XACKDEL a g1 KEEPREF IDS 2 1-0 2-0\r\nXLEN a\r\nXPENDING a g1\r\n"
               "XPENDING a g2\r\nXACKDEL a g2 IDS 2 1-0 2-0\r\nXPENDING a g2\r\n",
               "*2\r\n:1\r\n:1\r\n:1\r\n" PENDING("1", "3-0", "3-0", "consumer1")
                   PENDING("3", "1-0", "3-0", "consumer2") "*2\r\n:1\r\n:1\r\n" PENDING(
                       "1", "3-0", "3-0", "consumer2"));
    /* DELREF: gone from every PEL; the same IDs again are not pending anywhere (-1). */
    two_groups("a");
    expect_raw("XACKDEL a g1 DELREF IDS 3 1-0 2-0 3-0\r\nXLEN a\r\nXPENDING a g1\r\n"
               "XPENDING a g2\r\nXACKDEL a g2 DELREF IDS 2 1-0 2-0\r\n",
               "*3\r\n:1\r\n:1\r\n:1\r\n:0\r\n" NO_PENDING NO_PENDING "*2\r\n:-1\r\n:-1\r\n");
    /* ACKED: acknowledged in g1 but kept (2) while g2 has them; g2's XACKDEL deletes them. */
    two_groups("a");
    expect_raw("XACKDEL a g1 ACKED IDS 2 1-0 2-0\r\nXLEN a\r\nXPENDING a g1\r\n",
               "*2\r\n:2\r\n:2\r\n:3\r\n" PENDING("1", "3-0", "3-0", "consumer1"));
    expect_raw("XACKDEL a g2 ACKED IDS 2 1-0 2-0\r\nXLEN a\r\nXRANGE a - +\r\n",
               "*2\r\n:1\r\n:1\r\n:1\r\n*1\r\n" ENTRY("3-0", "f", "v"));
    /* ACKED looks at the references, not at the entry: deleted already (XDEL) but still
     * pending in g2, it answers 2 for g1 and 1 once g2 acknowledges it too. */
    two_groups("a");
    expect_raw("XDEL a 1-0\r\nXACKDEL a g1 ACKED IDS 1 1-0\r\nXACKDEL a g2 ACKED IDS 1 1-0\r\n"
               "XPENDING a g2\r\n",
               ":1\r\n*1\r\n:2\r\n*1\r\n:1\r\n" PENDING("2", "2-0", "3-0", "consumer2"));
}

/* What XDELEX, XACKDEL and a DELREF trim changed (tombstones, PELs of every group) is durable
 * once they answer:
 * a kill -9 right after the replies loses none of it. */
static void test_xdelex_xackdel_survive_kill9(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    for (int i = 1; i <= 4; i++) freeReplyObject(must_cmd(c, "XADD k %d-0 f v", i));
    freeReplyObject(must_cmd(c, "XGROUP CREATE k g1 0"));
    freeReplyObject(must_cmd(c, "XGROUP CREATE k g2 0"));
    freeReplyObject(must_cmd(c, "XREADGROUP GROUP g1 c1 STREAMS k >"));
    freeReplyObject(must_cmd(c, "XREADGROUP GROUP g2 c2 STREAMS k >"));
    freeReplyObject(must_cmd(c, "XDELEX k DELREF IDS 1 1-0"));
    freeReplyObject(must_cmd(c, "XACKDEL k g1 ACKED IDS 2 2-0 3-0"));
    freeReplyObject(must_cmd(c, "XACKDEL k g2 KEEPREF IDS 1 2-0"));
    freeReplyObject(must_cmd(c, "XADD k 5-0 f v"));
    freeReplyObject(must_cmd(c, "XTRIM k MAXLEN 2 DELREF")); /* 3-0 leaves g2's PEL */
    const char *probes[] = {"XRANGE k - +", "XPENDING k g1", "XPENDING k g2"};
    char *before[3];
    for (int i = 0; i < 3; i++) before[i] = dump_cmd(c, probes[i]);
    assert_string_equal(before[0], "[[4-0,[f,v,]][5-0,[f,v,]]]");
    assert_string_equal(before[1], "[1,4-0,4-0,[[c1,1,]]]");
    assert_string_equal(before[2], "[1,4-0,4-0,[[c2,1,]]]");
    redisFree(c);
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    for (int i = 0; i < 3; i++) {
        char *after = dump_cmd(c, probes[i]);
        assert_string_equal(before[i], after);
        free(before[i]);
        free(after);
    }
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* COMMAND INFO and DOCS describe the new commands as Redis 8.2 does (arity, flags, since). */
static void test_command_entries(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    redisReply *r = must_cmd(c, "COMMAND INFO xdelex xackdel");
    assert_int_equal(r->elements, 2);
    const char *names[] = {"xdelex", "xackdel"};
    long long arity[] = {-5, -6};
    for (int i = 0; i < 2; i++) {
        redisReply *e = r->element[i];
        assert_string_equal(e->element[0]->str, names[i]);
        assert_int_equal(e->element[1]->integer, arity[i]);
        assert_int_equal(e->element[2]->elements, 2);
        assert_string_equal(e->element[2]->element[0]->str, "write");
        assert_string_equal(e->element[2]->element[1]->str, "fast");
        assert_int_equal(e->element[3]->integer, 1); /* first key */
    }
    freeReplyObject(r);
    redisFree(c);
    int fd = raw_connect(shared_server.port);
    send_cmd(fd, "COMMAND DOCS xackdel\r\n");
    size_t got;
    char *raw = raw_read(fd, 1 << 16, 500, &got);
    assert_non_null(strstr(raw, "$5\r\nsince\r\n$5\r\n8.2.0\r\n"));
    assert_non_null(strstr(raw, "$6\r\nDELREF\r\n"));
    free(raw);
    close(fd);
}

/* XADD and XTRIM with KEEPREF (the default), DELREF and ACKED (Redis 8.2). */
static void test_trim_policies(void **state) {
    (void)state;
    /* No group: the policies change nothing. */
    expect_raw("XADD n 1-0 f v\r\nXADD n 2-0 f v\r\nXADD n 3-0 f v\r\nXTRIM n MAXLEN 1 ACKED\r\n"
               "XTRIM n MAXLEN 0 DELREF\r\n",
               "$3\r\n1-0\r\n$3\r\n2-0\r\n$3\r\n3-0\r\n:2\r\n:1\r\n");
    /* DELREF: the trimmed entries leave every PEL, by XTRIM and by XADD's trim. */
    two_groups("t");
    expect_raw(
        "XTRIM t MAXLEN = 2 DELREF\r\nXPENDING t g1\r\nXPENDING t g2\r\n"
        "XADD t DELREF MAXLEN 2 4-0 f v\r\nXPENDING t g1\r\nXTRIM t MINID 9-0 KEEPREF\r\n"
        "XPENDING t g2\r\n",
        ":1\r\n" PENDING("2", "2-0", "3-0", "consumer1")
            PENDING("2", "2-0", "3-0", "consumer2") "$3\r\n4-0\r\n" PENDING(
                "1", "3-0", "3-0", "consumer1") ":2\r\n" PENDING("1", "3-0", "3-0", "consumer2"));
    /* An approximate trim with DELREF: whole nodes of stream-node-max-entries (100) go, and
     * their IDs leave the PELs. */
    expect_raw("DEL big\r\n", ":0\r\n");
    redisContext *c = client_connect(&shared_server);
    for (int i = 1; i <= 250; i++) freeReplyObject(must_cmd(c, "XADD big %d-0 f v", i));
    freeReplyObject(must_cmd(c, "XGROUP CREATE big g 0"));
    freeReplyObject(must_cmd(c, "XREADGROUP GROUP g consumer1 STREAMS big >"));
    redisFree(c);
    expect_raw("XTRIM big MAXLEN ~ 120 DELREF\r\nXPENDING big g\r\n",
               ":100\r\n*4\r\n:150\r\n$5\r\n101-0\r\n$5\r\n250-0\r\n*1\r\n*2\r\n$9\r\nconsumer1\r\n"
               "$3\r\n150\r\n");
    /* ACKED: nothing goes while both groups have everything pending. */
    two_groups("t");
    expect_raw("XTRIM t MAXLEN 0 ACKED\r\nXACK t g1 1-0 3-0\r\nXACK t g2 1-0 3-0\r\n"
               "XTRIM t MAXLEN 0 ACKED\r\nXRANGE t - +\r\n",
               ":0\r\n:2\r\n:2\r\n:2\r\n*1\r\n" ENTRY("2-0", "f", "v"));
    /* Oldest first, skipping what is still needed, until MAXLEN is reached. */
    two_groups("t");
    expect_raw("XADD t 4-0 f v\r\nXACK t g1 1-0 3-0\r\nXACK t g2 1-0 3-0\r\n"
               "XTRIM t MAXLEN 3 ACKED\r\nXRANGE t - +\r\n",
               "$3\r\n4-0\r\n:2\r\n:2\r\n:1\r\n*3\r\n" ENTRY("2-0", "f", "v") ENTRY("3-0", "f", "v")
                   ENTRY("4-0", "f", "v"));
    /* 4-0 was never delivered to the groups: ACKED keeps it; MINID stops at its bound. */
    expect_raw("XTRIM t MINID 4-0 ACKED\r\nXTRIM t MINID ~ 9-0 ACKED\r\nXRANGE t - +\r\n",
               ":1\r\n:0\r\n*2\r\n" ENTRY("2-0", "f", "v") ENTRY("4-0", "f", "v"));
    /* XADD with ACKED, and a policy given twice to XTRIM. */
    expect_raw("XACK t g1 2-0\r\nXACK t g2 2-0\r\nXADD t ACKED MAXLEN 1 5-0 f v\r\nXLEN t\r\n"
               "XTRIM t MAXLEN 1 KEEPREF DELREF\r\nXTRIM t ACKED KEEPREF\r\n",
               ":1\r\n:1\r\n$3\r\n5-0\r\n:2\r\n-ERR syntax error\r\n"
               "-ERR syntax error\r\n");
}

/* XSETID below entries the log still stores (Redis allows it): what follows reads back in order,
 * across a kill -9 (the write-ahead log replayed) and a clean restart (the checkpoint). */
static void test_xsetid_below_stored_survives(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    for (int i = 1; i <= 30; i++) freeReplyObject(must_cmd(c, "XADD k %d-0 f v%d", i, i));
    freeReplyObject(must_cmd(c, "XTRIM k MAXLEN 0"));
    freeReplyObject(must_cmd(c, "XSETID k 5-0"));
    for (int i = 6; i <= 40; i++) freeReplyObject(must_cmd(c, "XADD k %d-0 f w%d", i, i));
    freeReplyObject(must_cmd(c, "XDEL k 20-0"));
    const char *probes[] = {"XRANGE k - +", "XREVRANGE k 25-0 10-0", "XRANGE k 12-0 14-0",
                            "XREAD COUNT 3 STREAMS k 30-0", "XLEN k"};
    char *before[5];
    for (int i = 0; i < 5; i++) before[i] = dump_cmd(c, probes[i]);
    assert_string_equal(before[2], "[[12-0,[f,w12,]][13-0,[f,w13,]][14-0,[f,w14,]]]");
    assert_string_equal(before[4], "34,");
    redisFree(c);
    for (int round = 0; round < 2; round++) {
        if (round == 0)
            server_kill(&s);
        else
            assert_int_equal(server_stop(&s), 0);
        assert_int_equal(server_start_argv(&s, NULL, 1), 0);
        c = client_connect(&s);
        for (int i = 0; i < 5; i++) {
            char *after = dump_cmd(c, probes[i]);
            assert_string_equal(before[i], after);
            free(after);
        }
        redisFree(c);
    }
    for (int i = 0; i < 5; i++) free(before[i]);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* Entries in an XREAD/XREADGROUP reply (RESP2), and the streams. */
static size_t reply_entries(const redisReply *r, size_t *streams) {
    size_t n = 0;
    *streams = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    for (size_t i = 0; i < *streams; i++) n += r->element[i]->element[1]->elements;
    return n;
}

static size_t read_count(redisContext *c, const char *cmd, size_t *streams) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", cmd, r->str);
    size_t n = reply_entries(r, streams);
    freeReplyObject(r);
    return n;
}

static void test_maxcount_maxsize(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    for (int s = 1; s <= 3; s++) {
        for (int i = 0; i < 100; i++) redisAppendCommand(c, "XADD m%d * f %d", s, i);
        for (int i = 0; i < 100; i++) {
            redisReply *r;
            assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
    }
    size_t streams;
    assert_int_equal(read_count(c, "XREAD COUNT 50 STREAMS m1 m2 m3 0 0 0", &streams), 150);
    assert_int_equal(read_count(c, "XREAD COUNT 50 MAXCOUNT 80 STREAMS m1 m2 m3 0 0 0", &streams),
                     80);
    assert_int_equal(streams, 2);
    assert_int_equal(read_count(c, "XREAD MAXCOUNT 7 STREAMS m1 m2 m3 0 0 0", &streams), 7);
    assert_int_equal(streams, 1); /* all from the first stream; the others left out */
    assert_int_equal(
        read_count(c, "XREAD MAXCOUNT 5 MAXSIZE 100000 STREAMS m1 m2 m3 0 0 0", &streams), 5);
    assert_int_equal(read_count(c, "XREAD COUNT 2 MAXCOUNT 3 STREAMS m1 m2 m3 0 0 0", &streams), 3);
    assert_int_equal(streams, 2);
    size_t small = read_count(c, "XREAD MAXSIZE 200 STREAMS m1 m2 m3 0 0 0", &streams);
    assert_true(small >= 1 && small < 300);
    /* one entry over MAXSIZE still comes */
    char big[5001];
    memset(big, 'x', 5000);
    big[5000] = '\0';
    freeReplyObject(must_cmd(c, "XADD bigstream 1-1 f %s", big));
    assert_int_equal(read_count(c, "XREAD MAXSIZE 50 STREAMS bigstream 0", &streams), 1);
    /* errors */
    redisReply *r = must_cmd(c, "XREAD MAXCOUNT 0 STREAMS m1 0");
    assert_string_equal(r->str, "ERR MAXCOUNT must be a positive integer");
    freeReplyObject(r);
    r = must_cmd(c, "XREAD MAXSIZE x STREAMS m1 0");
    assert_string_equal(r->str, "ERR MAXSIZE must be a positive integer");
    freeReplyObject(r);
    r = must_cmd(c, "XREAD COUNT 5 MAXCOUNT 3 STREAMS m1 0");
    assert_string_equal(r->str, "ERR MAXCOUNT must be greater than or equal to COUNT");
    freeReplyObject(r);
    /* XREADGROUP: the cut entries are not delivered */
    for (int s = 1; s <= 3; s++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "XGROUP CREATE m%d g 0", s);
        freeReplyObject(must_cmd(c, cmd));
    }
    assert_int_equal(
        read_count(c, "XREADGROUP GROUP g c COUNT 50 MAXCOUNT 80 STREAMS m1 m2 m3 > > >", &streams),
        80);
    r = must_cmd(c, "XPENDING m2 g");
    assert_int_equal(r->element[0]->integer, 30);
    freeReplyObject(r);
    r = must_cmd(c, "XPENDING m3 g");
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
    assert_int_equal(
        read_count(c, "XREADGROUP GROUP g c MAXCOUNT 5 MAXSIZE 100000 STREAMS m1 m2 m3 > > >",
                   &streams),
        5);
    /* history reads too */
    assert_int_equal(read_count(c, "XREADGROUP GROUP g c MAXCOUNT 3 STREAMS m1 m2 0 0", &streams),
                     3);
    redisFree(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xread_plus_last_entry),
        cmocka_unit_test(test_xread_plus_deleted_last_and_block),
        cmocka_unit_test(test_xread_plus_errors),
        cmocka_unit_test(test_xdelex_xackdel_errors),
        cmocka_unit_test(test_xdelex_policies),
        cmocka_unit_test(test_xackdel_policies),
        cmocka_unit_test(test_xdelex_xackdel_survive_kill9),
        cmocka_unit_test(test_trim_policies),
        cmocka_unit_test(test_command_entries),
        cmocka_unit_test(test_maxcount_maxsize),
        cmocka_unit_test(test_xsetid_below_stored_survives),
    };
    return cmocka_run_group_tests_name("stream_breadth", tests, shared_server_setup,
                                       shared_server_teardown);
}
