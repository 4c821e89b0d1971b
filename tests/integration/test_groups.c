/* test_groups.c - consumer groups and committed offsets against a real obelisk-server: every
 * XGROUP subcommand, XREADGROUP (>, history, COUNT, NOACK, BLOCK), XACK, XPENDING (summary,
 * extended, IDLE, consumer), XCLAIM (IDLE, TIME, RETRYCOUNT, FORCE, JUSTID, LASTID), XAUTOCLAIM,
 * XINFO GROUPS/CONSUMERS/STREAM FULL, with their errors; idle times made to pass with DEBUG
 * SLEEP; claim semantics and delivery counts; blocking wake-ups (FIFO, timeouts, NOGROUP when the
 * group is destroyed, UNBLOCKED when the key is deleted or flushed); Obelisk's XCOMMIT /
 * XCOMMITTED / XLAG (rewind, reset, errors, lag without deleted entries, RESP2 and RESP3 bytes);
 * and restart round trips (clean stop and kill -9) for every command that changes group state. */
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

/* ---- reply dumps ---------------------------------------------------------------------- */

/* A textual dump of a reply: arrays as [..], integers "N,", nil "nil,", errors "E:text,",
 * strings "text,". With mask set, clock values are replaced by "~,": the integer after an
 * "idle" / "seen-time" field, and the third element of a 4-element PEL entry [id, consumer,
 * ms, count] or the second of a 3-element one [id, ms, count]. */
static void dump_into(const redisReply *r, char *out, size_t cap, int mask) {
    size_t n = strlen(out);
    switch (r->type) {
    case REDIS_REPLY_ARRAY: {
        snprintf(out + n, cap - n, "[");
        int pel4 = mask && r->elements == 4 && r->element[0]->type == REDIS_REPLY_STRING &&
                   r->element[1]->type == REDIS_REPLY_STRING &&
                   r->element[2]->type == REDIS_REPLY_INTEGER &&
                   r->element[3]->type == REDIS_REPLY_INTEGER && strchr(r->element[0]->str, '-');
        int pel3 = mask && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
                   r->element[1]->type == REDIS_REPLY_INTEGER &&
                   r->element[2]->type == REDIS_REPLY_INTEGER && strchr(r->element[0]->str, '-');
        for (size_t i = 0; i < r->elements; i++) {
            int m = (pel4 && i == 2) || (pel3 && i == 1);
            if (mask && i > 0 && r->element[i]->type == REDIS_REPLY_INTEGER &&
                r->element[i - 1]->type == REDIS_REPLY_STRING &&
                (!strcmp(r->element[i - 1]->str, "idle") ||
                 !strcmp(r->element[i - 1]->str, "seen-time")))
                m = 1;
            if (m) {
                n = strlen(out);
                snprintf(out + n, cap - n, "~,");
            } else {
                dump_into(r->element[i], out, cap, mask);
            }
        }
        n = strlen(out);
        snprintf(out + n, cap - n, "]");
        break;
    }
    case REDIS_REPLY_INTEGER: snprintf(out + n, cap - n, "%lld,", r->integer); break;
    case REDIS_REPLY_NIL: snprintf(out + n, cap - n, "nil,"); break;
    case REDIS_REPLY_ERROR: snprintf(out + n, cap - n, "E:%.*s,", (int)r->len, r->str); break;
    default: snprintf(out + n, cap - n, "%.*s,", (int)r->len, r->str); break;
    }
}

#define DUMP_CAP (1 << 18)

static char *vdump(redisContext *c, int mask, const char *fmt, va_list ap) {
    redisReply *r = redisvCommand(c, fmt, ap);
    if (!r) printf("# connection error: %s\n", c->errstr);
    assert_non_null(r);
    char *out = calloc(1, DUMP_CAP);
    dump_into(r, out, DUMP_CAP, mask);
    freeReplyObject(r);
    return out;
}

static char *dumpf(redisContext *c, int mask, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = vdump(c, mask, fmt, ap);
    va_end(ap);
    return s;
}

static void check_dump(const char *got, const char *want, const char *cmd) {
    if (strcmp(got, want)) printf("# %s\n#   want %s\n#   got  %s\n", cmd, want, got);
    assert_string_equal(got, want);
}

/* The command's reply, dumped, must equal want. */
#define EQ(c, want, ...)                                                                           \
    do {                                                                                           \
        char *got_ = dumpf((c), 0, __VA_ARGS__);                                                   \
        check_dump(got_, (want), #__VA_ARGS__);                                                    \
        free(got_);                                                                                \
    } while (0)
/* The same with clock values masked. */
#define EQM(c, want, ...)                                                                          \
    do {                                                                                           \
        char *got_ = dumpf((c), 1, __VA_ARGS__);                                                   \
        check_dump(got_, (want), #__VA_ARGS__);                                                    \
        free(got_);                                                                                \
    } while (0)

static redisReply *cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) printf("# connection error: %s\n", c->errstr);
    assert_non_null(r);
    return r;
}

static void run(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR) printf("# unexpected error: %s (%s)\n", r->str, fmt);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* The idle time (ms) of a pending entry, from XPENDING's extended form. */
static long long pel_idle(redisContext *c, const char *key, const char *group, const char *id) {
    redisReply *r = cmd(c, "XPENDING %s %s %s %s 1", key, group, id, id);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    long long v = r->element[0]->element[2]->integer;
    freeReplyObject(r);
    return v;
}

/* A field of XINFO CONSUMERS for one consumer. */
static long long consumer_field(redisContext *c, const char *key, const char *group,
                                const char *name, const char *field) {
    redisReply *r = cmd(c, "XINFO CONSUMERS %s %s", key, group);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long v = -12345;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (strcmp(e->element[1]->str, name)) continue;
        for (size_t j = 0; j + 1 < e->elements; j += 2)
            if (!strcmp(e->element[j]->str, field)) v = e->element[j + 1]->integer;
    }
    freeReplyObject(r);
    assert_int_not_equal(v, -12345);
    return v;
}

static void send_raw(int fd, const char *s) {
    assert_int_equal(raw_send_str(fd, s), 0);
}

static void expect_silence(int fd, int ms) {
    size_t got;
    char *r = raw_read(fd, 1, ms, &got);
    if (got) printf("# unexpected: %s\n", r);
    assert_int_equal(got, 0);
    free(r);
}

static int blocked_clients(redisContext *c) {
    redisReply *r = cmd(c, "INFO clients");
    char *p = strstr(r->str, "blocked_clients:");
    int n = p ? atoi(p + strlen("blocked_clients:")) : -1;
    freeReplyObject(r);
    return n;
}

/* Waits until n clients are blocked (the blocked command has surely been processed). */
static void wait_blocked(redisContext *c, int n) {
    for (int i = 0; i < 200 && blocked_clients(c) != n; i++) usleep(10000);
    assert_int_equal(blocked_clients(c), n);
}

#define NOKEY_ERR                                                                                  \
    "E:ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want "    \
    "to use the MKSTREAM option to create an empty stream automatically.,"

/* ---- XGROUP --------------------------------------------------------------------------- */

static void test_xgroup(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    EQ(c, NOKEY_ERR, "XGROUP CREATE xg g $");
    EQ(c, "OK,", "XGROUP CREATE xg g $ MKSTREAM");
    EQ(c, "E:BUSYGROUP Consumer Group name already exists,", "XGROUP CREATE xg g 0");
    EQ(c, "1,", "EXISTS xg");
    EQ(c, "0,", "XLEN xg");
    EQ(c, "E:ERR value for ENTRIESREAD must be positive or -1,",
       "XGROUP CREATE xg g2 0 ENTRIESREAD -2");
    EQ(c, "E:ERR value is not an integer or out of range,", "XGROUP CREATE xg g2 0 ENTRIESREAD x");
    EQ(c, "E:ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.,",
       "XGROUP CREATE xg g2 0 BOGUS");
    EQ(c, "E:ERR Invalid stream ID specified as stream command argument,",
       "XGROUP CREATE xg g2 zz");
    EQ(c, "E:ERR wrong number of arguments for 'xgroup|create' command,", "XGROUP CREATE xg");
    EQ(c, "E:ERR wrong number of arguments for 'xgroup' command,", "XGROUP");
    EQ(c, "E:ERR unknown subcommand 'NOPE'. Try XGROUP HELP.,", "XGROUP NOPE");
    run(c, "XADD xg 1-1 f 1");
    run(c, "XADD xg 2-1 f 2");
    run(c, "XADD xg 3-1 f 3");
    EQ(c, "OK,", "XGROUP CREATE xg g2 1-1 ENTRIESREAD 1");
    EQ(c,
       "[[name,g,consumers,0,pending,0,last-delivered-id,0-0,entries-read,nil,lag,3,]"
       "[name,g2,consumers,0,pending,0,last-delivered-id,1-1,entries-read,1,lag,2,]]",
       "XINFO GROUPS xg");
    /* SETID */
    EQ(c, "OK,", "XGROUP SETID xg g 2-1");
    EQ(c, "OK,", "XGROUP SETID xg g2 $ ENTRIESREAD 3");
    EQ(c, "E:NOGROUP No such consumer group 'nog' for key name 'xg',", "XGROUP SETID xg nog 0");
    EQ(c, NOKEY_ERR, "XGROUP SETID nokey g 0");
    EQ(c, "E:ERR value for ENTRIESREAD must be positive or -1,",
       "XGROUP SETID xg g 0 ENTRIESREAD -3");
    EQ(c,
       "[[name,g,consumers,0,pending,0,last-delivered-id,2-1,entries-read,nil,lag,nil,]"
       "[name,g2,consumers,0,pending,0,last-delivered-id,3-1,entries-read,3,lag,0,]]",
       "XINFO GROUPS xg");
    /* consumers */
    EQ(c, "1,", "XGROUP CREATECONSUMER xg g alice");
    EQ(c, "0,", "XGROUP CREATECONSUMER xg g alice");
    EQ(c, "E:NOGROUP No such consumer group 'nog' for key name 'xg',",
       "XGROUP CREATECONSUMER xg nog alice");
    EQ(c, NOKEY_ERR, "XGROUP CREATECONSUMER nokey g alice");
    EQM(c, "[[name,alice,pending,0,idle,~,]]", "XINFO CONSUMERS xg g");
    EQ(c, "0,", "XGROUP DELCONSUMER xg g alice");
    EQ(c, "0,", "XGROUP DELCONSUMER xg g alice");
    EQ(c, "E:NOGROUP No such consumer group 'nog' for key name 'xg',",
       "XGROUP DELCONSUMER xg nog alice");
    EQ(c, "[]", "XINFO CONSUMERS xg g");
    /* DELCONSUMER returns the pending count and drops the consumer's PEL */
    EQ(c, "OK,", "XGROUP SETID xg g 0");
    run(c, "XREADGROUP GROUP g bob STREAMS xg >");
    EQ(c, "3,", "XGROUP DELCONSUMER xg g bob");
    EQ(c, "[0,nil,nil,nil,]", "XPENDING xg g");
    /* DESTROY */
    EQ(c, "1,", "XGROUP DESTROY xg g2");
    EQ(c, "0,", "XGROUP DESTROY xg g2");
    EQ(c, NOKEY_ERR, "XGROUP DESTROY nokey g");
    EQ(c, "1,", "XGROUP DESTROY xg g");
    EQ(c, "[]", "XINFO GROUPS xg");
    EQ(c, "1,", "EXISTS xg");
    /* HELP */
    redisReply *r = cmd(c, "XGROUP HELP");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 21); /* with the dead-letter lines */
    assert_string_equal(r->element[0]->str,
                        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    freeReplyObject(r);
    EQ(c, "E:ERR wrong number of arguments for 'xgroup|help' command,", "XGROUP HELP x");
    /* A deleted key takes its groups along */
    run(c, "XGROUP CREATE xg g 0");
    EQ(c, "1,", "DEL xg");
    run(c, "XADD xg 1-1 f 1");
    EQ(c, "[]", "XINFO GROUPS xg");
    EQ(c, "1,", "DEL xg");
    redisFree(c);
}

/* ---- XREADGROUP ----------------------------------------------------------------------- */

static void test_xreadgroup(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    run(c, "XADD rg 1-1 a 1");
    run(c, "XADD rg 1-2 b 2");
    run(c, "XADD rg 2-1 c 3");
    run(c, "XGROUP CREATE rg g 0");
    EQ(c, "[[rg,[[1-1,[a,1,]]]]]", "XREADGROUP GROUP g c1 COUNT 1 STREAMS rg >");
    EQ(c, "[[rg,[[1-2,[b,2,]][2-1,[c,3,]]]]]", "XREADGROUP GROUP g c1 STREAMS rg >");
    EQ(c, "nil,", "XREADGROUP GROUP g c1 STREAMS rg >");
    /* history: the consumer's own PEL from an ID, delivery counts go up */
    EQ(c, "[[rg,[[1-2,[b,2,]][2-1,[c,3,]]]]]", "XREADGROUP GROUP g c1 STREAMS rg 1-1");
    EQ(c, "[[rg,[[1-1,[a,1,]]]]]", "XREADGROUP GROUP g c1 COUNT 1 STREAMS rg 0");
    EQ(c, "[[rg,[]]]", "XREADGROUP GROUP g c2 STREAMS rg 0");
    EQM(c, "[[1-1,c1,~,2,][1-2,c1,~,2,][2-1,c1,~,2,]]", "XPENDING rg g - + 10");
    /* deleted entries in the history: nil bodies */
    run(c, "XDEL rg 1-2");
    EQ(c, "[[rg,[[1-1,[a,1,]][1-2,nil,][2-1,[c,3,]]]]]", "XREADGROUP GROUP g c1 STREAMS rg 0");
    /* NOACK: delivered, last ID moves, nothing pending */
    run(c, "XADD rg 3-1 d 4");
    EQ(c, "[[rg,[[3-1,[d,4,]]]]]", "XREADGROUP GROUP g c3 NOACK STREAMS rg >");
    EQ(c, "[[rg,[]]]", "XREADGROUP GROUP g c3 STREAMS rg 0");
    EQ(c, "[3,1-1,2-1,[[c1,3,]]]", "XPENDING rg g");
    /* several keys */
    run(c, "XADD rg2 1-0 x 1");
    run(c, "XGROUP CREATE rg2 g 0");
    EQ(c, "[[rg,[[1-1,[a,1,]]]][rg2,[[1-0,[x,1,]]]]]",
       "XREADGROUP GROUP g c1 COUNT 1 STREAMS rg rg2 0 >");
    /* errors */
    EQ(c, "E:NOGROUP No such key 'rg' or consumer group 'nog' in XREADGROUP with GROUP option,",
       "XREADGROUP GROUP nog c1 STREAMS rg >");
    EQ(c, "E:NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option,",
       "XREADGROUP GROUP g c1 STREAMS nokey >");
    EQ(c,
       "E:ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history "
       "of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ "
       "ID would just return an empty result set.,",
       "XREADGROUP GROUP g c1 STREAMS rg $");
    EQ(c, "E:ERR Invalid stream ID specified as stream command argument,",
       "XREADGROUP GROUP g c1 STREAMS rg zz");
    EQ(c, "E:ERR wrong number of arguments for 'xreadgroup' command,",
       "XREADGROUP GROUP g c1 STREAMS rg");
    EQ(c, "E:ERR timeout is negative,", "XREADGROUP GROUP g c1 BLOCK -1 STREAMS rg >");
    EQ(c, "E:ERR value is not an integer or out of range,",
       "XREADGROUP GROUP g c1 COUNT x STREAMS rg >");
    EQ(c, "E:ERR syntax error,", "XREADGROUP GROUP g c1 FOO STREAMS rg >");
    EQ(c, "E:ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.,",
       "XREAD GROUP g c1 STREAMS rg >");
    EQ(c, "E:ERR wrong number of arguments for 'xreadgroup' command,",
       "XREADGROUP c1 STREAMS rg >");
    EQ(c, "2,", "DEL rg rg2");
    redisFree(c);
}

/* An odd number of keys and IDs: Redis 7.0.15 says XREAD and '$' here, for XREADGROUP too. */
static void test_xreadgroup_unbalanced(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    EQ(c,
       "E:ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
       "specified.,",
       "XREADGROUP GROUP g c1 STREAMS rg rg2 >");
    EQ(c,
       "E:ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
       "specified.,",
       "XREADGROUP GROUP g c1 STREAMS rg 0 extra");
    redisFree(c);
}

/* ---- XACK / XPENDING and idle times ----------------------------------------------------- */

static void test_xack_xpending_idle(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    for (int i = 1; i <= 5; i++) run(c, "XADD pk %d-0 f %d", i, i);
    run(c, "XGROUP CREATE pk g 0");
    run(c, "XREADGROUP GROUP g c1 COUNT 3 STREAMS pk >");
    run(c, "XREADGROUP GROUP g c2 STREAMS pk >");
    EQ(c, "[5,1-0,5-0,[[c1,3,][c2,2,]]]", "XPENDING pk g");
    EQM(c, "[[1-0,c1,~,1,][2-0,c1,~,1,]]", "XPENDING pk g - + 2");
    EQM(c, "[[4-0,c2,~,1,][5-0,c2,~,1,]]", "XPENDING pk g - + 10 c2");
    EQM(c, "[[3-0,c1,~,1,][4-0,c2,~,1,]]", "XPENDING pk g (2-0 (5-0 10");
    EQ(c, "[]", "XPENDING pk g - + 10 nobody");
    EQ(c, "[]", "XPENDING pk g - + 0");
    /* idle times: DEBUG SLEEP makes them pass on the server */
    assert_true(pel_idle(c, "pk", "g", "1-0") < 300);
    run(c, "DEBUG SLEEP 0.4");
    long long idle = pel_idle(c, "pk", "g", "1-0");
    assert_true(idle >= 400 && idle < 10000);
    assert_true(consumer_field(c, "pk", "g", "c1", "idle") >= 400);
    EQ(c, "[]", "XPENDING pk g IDLE 100000 - + 10");
    EQM(c, "[[1-0,c1,~,1,][2-0,c1,~,1,][3-0,c1,~,1,][4-0,c2,~,1,][5-0,c2,~,1,]]",
        "XPENDING pk g IDLE 300 - + 10");
    /* a history read resets the idle time and counts a delivery */
    run(c, "XREADGROUP GROUP g c1 COUNT 1 STREAMS pk 0");
    assert_true(pel_idle(c, "pk", "g", "1-0") < 300);
    assert_true(consumer_field(c, "pk", "g", "c1", "idle") < 300);
    EQM(c, "[[2-0,c1,~,1,][3-0,c1,~,1,]]", "XPENDING pk g IDLE 300 - + 10 c1");
    EQM(c, "[[1-0,c1,~,2,]]", "XPENDING pk g - 1-0 10");
    /* errors */
    EQ(c, "E:NOGROUP No such key 'pk' or consumer group 'nog',", "XPENDING pk nog");
    EQ(c, "E:NOGROUP No such key 'nokey' or consumer group 'g',", "XPENDING nokey g");
    EQ(c, "E:ERR syntax error,", "XPENDING pk g - +");
    EQ(c, "E:ERR syntax error,", "XPENDING pk g IDLE 10");
    EQ(c, "E:ERR value is not an integer or out of range,", "XPENDING pk g IDLE x - + 10");
    EQ(c, "E:ERR value is not an integer or out of range,", "XPENDING pk g - + x");
    EQ(c, "E:ERR Invalid stream ID specified as stream command argument,", "XPENDING pk g x + 10");
    /* XACK */
    EQ(c, "1,", "XACK pk g 1-0");
    EQ(c, "0,", "XACK pk g 1-0");
    EQ(c, "2,", "XACK pk g 2-0 4-0 2-0 9-0");
    EQ(c, "0,", "XACK pk nog 3-0");
    EQ(c, "0,", "XACK nokey g 3-0");
    EQ(c, "E:ERR Invalid stream ID specified as stream command argument,", "XACK pk g 3-0 zz");
    EQ(c, "[2,3-0,5-0,[[c1,1,][c2,1,]]]", "XPENDING pk g");
    EQ(c, "E:ERR wrong number of arguments for 'xack' command,", "XACK pk g");
    EQ(c, "1,", "DEL pk");
    redisFree(c);
}

/* ---- XCLAIM / XAUTOCLAIM ---------------------------------------------------------------- */

static void test_xclaim(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    for (int i = 1; i <= 4; i++) run(c, "XADD ck %d-0 f %d", i, i);
    run(c, "XGROUP CREATE ck g 0");
    run(c, "XREADGROUP GROUP g c1 STREAMS ck >");
    /* min-idle not reached: nothing claimed */
    EQ(c, "[]", "XCLAIM ck g c2 100000 1-0");
    run(c, "DEBUG SLEEP 0.2");
    EQ(c, "[[1-0,[f,1,]]]", "XCLAIM ck g c2 100 1-0");
    /* the claim reset the idle time: a second claimer with the same min-idle gets nothing */
    EQ(c, "[]", "XCLAIM ck g c3 100 1-0");
    EQM(c, "[[1-0,c2,~,2,]]", "XPENDING ck g - 1-0 10");
    /* JUSTID: no delivery counted */
    EQ(c, "[1-0,]", "XCLAIM ck g c3 0 1-0 JUSTID");
    EQM(c, "[[1-0,c3,~,2,]]", "XPENDING ck g - 1-0 10");
    /* RETRYCOUNT sets the count */
    EQ(c, "[2-0,]", "XCLAIM ck g c3 0 2-0 RETRYCOUNT 9 JUSTID");
    EQM(c, "[[2-0,c3,~,9,]]", "XPENDING ck g 2-0 2-0 10");
    /* IDLE and TIME set the idle time */
    EQ(c, "[3-0,]", "XCLAIM ck g c3 0 3-0 IDLE 500000 JUSTID");
    long long idle = pel_idle(c, "ck", "g", "3-0");
    assert_true(idle >= 500000 && idle < 510000);
    redisReply *t = cmd(c, "TIME");
    long long now = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
    freeReplyObject(t);
    EQ(c, "[4-0,]", "XCLAIM ck g c3 0 4-0 TIME %lld JUSTID", now - 700000);
    idle = pel_idle(c, "ck", "g", "4-0");
    assert_true(idle >= 690000 && idle < 720000);
    EQ(c, "[4-0,]", "XCLAIM ck g c4 600000 3-0 4-0 JUSTID");
    EQ(c, "[3-0,]", "XCLAIM ck g c4 450000 3-0 JUSTID");
    /* not pending: ignored unless FORCE (and the entry exists) */
    run(c, "XACK ck g 1-0");
    EQ(c, "[]", "XCLAIM ck g c5 0 1-0");
    EQ(c, "[[1-0,[f,1,]]]", "XCLAIM ck g c5 0 1-0 FORCE");
    EQ(c, "[]", "XCLAIM ck g c5 0 9-0 FORCE");
    /* FORCE creates the entry with one delivery, and a claim with bodies counts one more */
    EQM(c, "[[1-0,c5,~,2,]]", "XPENDING ck g - 1-0 10");
    /* a deleted entry leaves the PEL when claimed */
    run(c, "XDEL ck 2-0");
    EQ(c, "[]", "XCLAIM ck g c5 0 2-0");
    EQ(c, "[3,1-0,4-0,[[c4,2,][c5,1,]]]", "XPENDING ck g");
    /* LASTID moves the group's last ID forward only */
    EQ(c, "[1-0,]", "XCLAIM ck g c5 0 1-0 JUSTID LASTID 9-0");
    EQ(c, "[[name,g,consumers,5,pending,3,last-delivered-id,9-0,entries-read,4,lag,0,]]",
       "XINFO GROUPS ck");
    EQ(c, "[1-0,]", "XCLAIM ck g c5 0 1-0 JUSTID LASTID 2-0");
    EQ(c, "[[name,g,consumers,5,pending,3,last-delivered-id,9-0,entries-read,4,lag,0,]]",
       "XINFO GROUPS ck");
    /* errors */
    EQ(c, "E:ERR Invalid min-idle-time argument for XCLAIM,", "XCLAIM ck g c1 x 1-0");
    EQ(c, "E:ERR Invalid IDLE option argument for XCLAIM,", "XCLAIM ck g c1 0 1-0 IDLE x");
    EQ(c, "E:ERR Invalid TIME option argument for XCLAIM,", "XCLAIM ck g c1 0 1-0 TIME x");
    EQ(c, "E:ERR Invalid RETRYCOUNT option argument for XCLAIM,",
       "XCLAIM ck g c1 0 1-0 RETRYCOUNT x");
    EQ(c, "E:ERR Invalid stream ID specified as stream command argument,",
       "XCLAIM ck g c1 0 1-0 LASTID x");
    EQ(c, "E:ERR Unrecognized XCLAIM option 'BOGUS',", "XCLAIM ck g c1 0 1-0 BOGUS");
    EQ(c, "E:NOGROUP No such key 'ck' or consumer group 'nog',", "XCLAIM ck nog c1 0 1-0");
    EQ(c, "E:NOGROUP No such key 'nokey' or consumer group 'g',", "XCLAIM nokey g c1 0 1-0");
    EQ(c, "E:ERR wrong number of arguments for 'xclaim' command,", "XCLAIM ck g c1 0");
    EQ(c, "1,", "DEL ck");
    redisFree(c);
}

static void test_xautoclaim(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    for (int i = 1; i <= 6; i++) run(c, "XADD ak %d-0 f %d", i, i);
    run(c, "XGROUP CREATE ak g 0");
    run(c, "XREADGROUP GROUP g c1 STREAMS ak >");
    EQ(c, "[0-0,[][]]", "XAUTOCLAIM ak g c2 100000 0");
    run(c, "DEBUG SLEEP 0.2");
    EQ(c, "[3-0,[[1-0,[f,1,]][2-0,[f,2,]]][]]", "XAUTOCLAIM ak g c2 100 0 COUNT 2");
    EQ(c, "[5-0,[3-0,4-0,][]]", "XAUTOCLAIM ak g c2 100 3-0 COUNT 2 JUSTID");
    /* deleted entries leave the PEL and are listed */
    run(c, "XDEL ak 5-0");
    EQ(c, "[0-0,[[6-0,[f,6,]]][5-0,]]", "XAUTOCLAIM ak g c3 100 5-0");
    /* delivery counts: 2 after a claim with bodies, 1 after JUSTID */
    EQM(c, "[[1-0,c2,~,2,][2-0,c2,~,2,][3-0,c2,~,1,][4-0,c2,~,1,][6-0,c3,~,2,]]",
        "XPENDING ak g - + 10");
    EQ(c, "[0-0,[][]]", "XAUTOCLAIM ak g c3 100 0");
    EQ(c, "E:ERR COUNT must be > 0,", "XAUTOCLAIM ak g c3 0 0 COUNT 0");
    EQ(c, "E:ERR COUNT must be > 0,", "XAUTOCLAIM ak g c3 0 0 COUNT x");
    EQ(c, "E:ERR syntax error,", "XAUTOCLAIM ak g c3 0 0 BOGUS");
    EQ(c, "E:ERR Invalid min-idle-time argument for XAUTOCLAIM,", "XAUTOCLAIM ak g c3 x 0");
    EQ(c, "E:ERR Invalid stream ID specified as stream command argument,",
       "XAUTOCLAIM ak g c3 0 zz");
    EQ(c, "E:NOGROUP No such key 'ak' or consumer group 'nog',", "XAUTOCLAIM ak nog c3 0 0");
    EQ(c, "E:NOGROUP No such key 'nokey' or consumer group 'g',", "XAUTOCLAIM nokey g c3 0 0");
    EQ(c, "1,", "DEL ak");
    redisFree(c);
}

/* ---- XINFO ---------------------------------------------------------------------------- */

static void test_xinfo(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    for (int i = 1; i <= 3; i++) run(c, "XADD ik %d-0 f %d", i, i);
    run(c, "XGROUP CREATE ik g 0");
    run(c, "XREADGROUP GROUP g c1 COUNT 2 STREAMS ik >");
    run(c, "XGROUP CREATECONSUMER ik g c0");
    EQ(c, "[[name,g,consumers,2,pending,2,last-delivered-id,2-0,entries-read,2,lag,1,]]",
       "XINFO GROUPS ik");
    EQM(c, "[[name,c0,pending,0,idle,~,][name,c1,pending,2,idle,~,]]", "XINFO CONSUMERS ik g");
    EQ(c, "E:NOGROUP No such consumer group 'nog' for key name 'ik',", "XINFO CONSUMERS ik nog");
    EQ(c, "E:ERR no such key,", "XINFO CONSUMERS nokey g");
    EQ(c, "E:ERR no such key,", "XINFO GROUPS nokey");
    char *full = dumpf(c, 1, "XINFO STREAM ik FULL");
    const char *groups =
        "groups,[[name,g,last-delivered-id,2-0,entries-read,2,lag,1,pel-count,2,pending,"
        "[[1-0,c1,~,1,][2-0,c1,~,1,]]consumers,[[name,c0,seen-time,~,pel-count,0,pending,[]]"
        "[name,c1,seen-time,~,pel-count,2,pending,[[1-0,~,1,][2-0,~,1,]]]]]]";
    if (!strstr(full, groups)) printf("# full: %s\n# want: %s\n", full, groups);
    assert_non_null(strstr(full, groups));
    free(full);
    /* delivery-time in FULL is a clock value near TIME */
    redisReply *r = cmd(c, "XINFO STREAM ik FULL");
    redisReply *t = cmd(c, "TIME");
    long long now = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
    redisReply *g = r->element[r->elements - 1]->element[0];
    redisReply *pel = g->element[11];
    long long dt = pel->element[0]->element[2]->integer;
    assert_true(dt <= now && dt > now - 10000);
    freeReplyObject(t);
    freeReplyObject(r);
    EQ(c, "1,", "DEL ik");
    redisFree(c);
}

/* ---- blocking XREADGROUP ---------------------------------------------------------------- */

#define ENTRY1(key, id, f, v)                                                                      \
    "*1\r\n*2\r\n$" key "\r\n*1\r\n*2\r\n$" id "\r\n*2\r\n$1\r\n" f "\r\n$1\r\n" v "\r\n"

static void test_blocking(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    run(c, "XGROUP CREATE bk g $ MKSTREAM");
    /* timeout: nil (RESP2) */
    int a = raw_connect(shared_server.port);
    send_raw(a, "XREADGROUP GROUP g c1 BLOCK 200 STREAMS bk >\r\nPING\r\n");
    expect_silence(a, 100);
    assert_true(raw_expect(a, "*-1\r\n+PONG\r\n"));
    /* a history ID answers at once even with BLOCK */
    send_raw(a, "XREADGROUP GROUP g c1 BLOCK 0 STREAMS bk 0\r\n");
    assert_true(raw_expect(a, "*1\r\n*2\r\n$2\r\nbk\r\n*0\r\n"));
    /* FIFO: first blocked consumer gets the entry, the second waits for the next one */
    int b = raw_connect(shared_server.port);
    send_raw(a, "XREADGROUP GROUP g c1 BLOCK 0 STREAMS bk >\r\n");
    wait_blocked(c, 1);
    send_raw(b, "XREADGROUP GROUP g c2 BLOCK 0 STREAMS bk >\r\n");
    wait_blocked(c, 2);
    run(c, "XADD bk 1-0 f 1");
    assert_true(raw_expect(a, "*1\r\n*2\r\n$2\r\nbk\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1"
                              "\r\n1\r\n"));
    expect_silence(b, 150);
    run(c, "XADD bk 2-0 f 2");
    assert_true(raw_expect(b, "*1\r\n*2\r\n$2\r\nbk\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$1"
                              "\r\n2\r\n"));
    EQ(c, "[2,1-0,2-0,[[c1,1,][c2,1,]]]", "XPENDING bk g");
    /* NOACK woken read: not pending; COUNT limits it */
    send_raw(a, "XREADGROUP GROUP g c3 COUNT 1 NOACK BLOCK 0 STREAMS bk >\r\n");
    wait_blocked(c, 1);
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "XADD bk 3-0 f 3");
    redisAppendCommand(c, "XADD bk 4-0 f 4");
    redisAppendCommand(c, "EXEC");
    for (int i = 0; i < 4; i++) {
        redisReply *r;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    assert_true(raw_expect(a, "*1\r\n*2\r\n$2\r\nbk\r\n*1\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nf\r\n$1"
                              "\r\n3\r\n"));
    EQ(c, "[2,1-0,2-0,[[c1,1,][c2,1,]]]", "XPENDING bk g");
    /* XDEL/XTRIM/SETID/CREATECONSUMER do not wake a blocked consumer */
    run(c, "XREADGROUP GROUP g c1 STREAMS bk >");
    send_raw(a, "XREADGROUP GROUP g c1 BLOCK 0 STREAMS bk >\r\n");
    wait_blocked(c, 1);
    run(c, "XDEL bk 1-0");
    run(c, "XGROUP CREATECONSUMER bk g c9");
    run(c, "XGROUP SETID bk g $");
    expect_silence(a, 150);
    run(c, "XADD bk 5-0 f 5");
    assert_true(raw_expect(a, "*1\r\n*2\r\n$2\r\nbk\r\n*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$1\r\nf\r\n$1"
                              "\r\n5\r\n"));
    /* RESP3: timeout is _, the reply a map */
    send_raw(b, "HELLO 3\r\n");
    size_t got;
    free(raw_read(b, 4096, 300, &got));
    send_raw(b, "XREADGROUP GROUP g c2 BLOCK 100 STREAMS bk >\r\n");
    assert_true(raw_expect(b, "_\r\n"));
    send_raw(b, "XREADGROUP GROUP g c2 BLOCK 0 STREAMS bk >\r\n");
    wait_blocked(c, 1);
    run(c, "XADD bk 6-0 f 6");
    assert_true(raw_expect(b, "%1\r\n$2\r\nbk\r\n*1\r\n*2\r\n$3\r\n6-0\r\n*2\r\n$1\r\nf\r\n$1\r\n"
                              "6\r\n"));
    close(a);
    close(b);
    /* a disconnected blocked consumer is forgotten */
    for (int i = 0; i < 5; i++) {
        int d = raw_connect(shared_server.port);
        send_raw(d, "XREADGROUP GROUP g cx BLOCK 0 STREAMS bk >\r\n");
        close(d);
    }
    usleep(100000);
    assert_int_equal(blocked_clients(c), 0);
    run(c, "XADD bk 7-0 f 7");
    EQ(c, "[[bk,[[7-0,[f,7,]]]]]", "XREADGROUP GROUP g c1 STREAMS bk >");
    EQ(c, "1,", "DEL bk");
    redisFree(c);
}

/* The group destroyed while consumers are blocked: every one of them gets NOGROUP. */
static void test_blocking_group_destroyed(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    run(c, "XGROUP CREATE bd g $ MKSTREAM");
    int a = raw_connect(shared_server.port), b = raw_connect(shared_server.port);
    send_raw(a, "XREADGROUP GROUP g c1 BLOCK 0 STREAMS bd >\r\n");
    send_raw(b, "XREADGROUP GROUP g c2 BLOCK 0 STREAMS bd >\r\n");
    wait_blocked(c, 2);
    EQ(c, "1,", "XGROUP DESTROY bd g");
    const char *err = "-NOGROUP the consumer group this client was blocked on no longer exists\r\n";
    assert_true(raw_expect(a, err));
    assert_true(raw_expect(b, err));
    assert_int_equal(blocked_clients(c), 0);
    close(a);
    close(b);
    EQ(c, "1,", "DEL bd");
    redisFree(c);
}

/* The key deleted (DEL, FLUSHALL, FLUSHDB) while a consumer is blocked:
 * -UNBLOCKED the stream key no longer exists, as in Redis 7.0. Both an empty stream (MKSTREAM)
 * and one with entries. */
static void blocked_key_gone(const char *how, int with_entries) {
    redisContext *c = client_connect(&shared_server);
    run(c, "FLUSHALL");
    if (with_entries) run(c, "XADD bx 1-0 f 1");
    run(c, "XGROUP CREATE bx g $ MKSTREAM");
    int a = raw_connect(shared_server.port);
    send_raw(a, "XREADGROUP GROUP g c1 BLOCK 0 STREAMS bx >\r\n");
    wait_blocked(c, 1);
    run(c, how);
    size_t got;
    char *r = raw_read(a, strlen("-UNBLOCKED the stream key no longer exists\r\n"), 2000, &got);
    if (strcmp(r, "-UNBLOCKED the stream key no longer exists\r\n"))
        printf("# %s (stream %s) while blocked: got %zu bytes '%s', want "
               "'-UNBLOCKED the stream key no longer exists\\r\\n'\n",
               how, with_entries ? "with entries" : "empty", got, r);
    int ok = !strcmp(r, "-UNBLOCKED the stream key no longer exists\r\n");
    free(r);
    close(a);
    usleep(50000);
    redisFree(c);
    assert_true(ok);
}

static void test_blocking_key_deleted(void **state) {
    (void)state;
    blocked_key_gone("DEL bx", 1);
    blocked_key_gone("DEL bx", 0);
}

static void test_blocking_key_flushed(void **state) {
    (void)state;
    blocked_key_gone("FLUSHALL", 1);
    blocked_key_gone("FLUSHALL", 0);
    blocked_key_gone("FLUSHDB", 1);
    blocked_key_gone("FLUSHDB", 0);
}

/* ---- XCOMMIT / XCOMMITTED / XLAG ------------------------------------------------------- */

static void test_commit_offsets(void **state) {
    (void)state;
    redisContext *c = client_connect(&shared_server);
    for (int i = 1; i <= 5; i++) run(c, "XADD ok %d-0 f %d", i, i);
    run(c, "XGROUP CREATE ok g 0");
    run(c, "XGROUP CREATE ok h $");
    EQ(c, "nil,", "XCOMMITTED ok g");
    EQ(c,
       "[[group,g,committed,nil,last-delivered,0-0,log-end,5-0,lag,5,pending,0,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]"
       "[group,h,committed,nil,last-delivered,5-0,log-end,5-0,lag,5,pending,0,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok");
    run(c, "XREADGROUP GROUP g c1 COUNT 3 STREAMS ok >");
    EQ(c, "OK,", "XCOMMIT ok g 3-0");
    EQ(c, "3-0,", "XCOMMITTED ok g");
    EQ(c,
       "[[group,g,committed,3-0,last-delivered,3-0,log-end,5-0,lag,2,pending,3,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok g");
    /* rewind (backwards) */
    EQ(c, "OK,", "XCOMMIT ok g 1-0");
    EQ(c, "1-0,", "XCOMMITTED ok g");
    EQ(c,
       "[[group,g,committed,1-0,last-delivered,3-0,log-end,5-0,lag,4,pending,3,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok g");
    /* an ID between entries, and an incomplete one */
    EQ(c, "OK,", "XCOMMIT ok g 2-5");
    EQ(c,
       "[[group,g,committed,2-5,last-delivered,3-0,log-end,5-0,lag,3,pending,3,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok g");
    EQ(c, "OK,", "XCOMMIT ok g 4");
    EQ(c, "4-0,", "XCOMMITTED ok g");
    /* reset to the beginning */
    EQ(c, "OK,", "XCOMMIT ok g 0-0");
    EQ(c, "0-0,", "XCOMMITTED ok g");
    EQ(c,
       "[[group,g,committed,0-0,last-delivered,3-0,log-end,5-0,lag,5,pending,3,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok g");
    /* the last ID is allowed, above it is an error */
    EQ(c, "OK,", "XCOMMIT ok g 5-0");
    EQ(c, "E:ERR The ID specified in XCOMMIT is greater than the stream's last ID,",
       "XCOMMIT ok g 5-1");
    EQ(c, "E:ERR The ID specified in XCOMMIT is greater than the stream's last ID,",
       "XCOMMIT ok g 18446744073709551615-18446744073709551615");
    EQ(c, "5-0,", "XCOMMITTED ok g");
    /* NOGROUP and other errors */
    EQ(c, "E:NOGROUP No such key 'ok' or consumer group 'nog',", "XCOMMIT ok nog 1-0");
    EQ(c, "E:NOGROUP No such key 'nokey' or consumer group 'g',", "XCOMMIT nokey g 1-0");
    EQ(c, "E:NOGROUP No such key 'ok' or consumer group 'nog',", "XCOMMITTED ok nog");
    EQ(c, "E:NOGROUP No such key 'nokey' or consumer group 'g',", "XCOMMITTED nokey g");
    EQ(c, "E:NOGROUP No such key 'ok' or consumer group 'nog',", "XLAG ok nog");
    EQ(c, "E:ERR no such key,", "XLAG nokey");
    EQ(c, "E:ERR Invalid stream ID specified as stream command argument,", "XCOMMIT ok g zz");
    EQ(c, "E:ERR wrong number of arguments for 'xcommit' command,", "XCOMMIT ok g");
    EQ(c, "E:ERR wrong number of arguments for 'xcommitted' command,", "XCOMMITTED ok");
    EQ(c, "E:ERR wrong number of arguments for 'xlag' command,", "XLAG");
    EQ(c, "E:ERR syntax error,", "XLAG ok g extra");
    /* lag excludes deleted entries, before and after the committed position */
    EQ(c, "OK,", "XCOMMIT ok g 1-0");
    run(c, "XDEL ok 3-0 1-0");
    EQ(c,
       "[[group,g,committed,1-0,last-delivered,3-0,log-end,5-0,lag,3,pending,3,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok g");
    run(c, "XDEL ok 5-0");
    EQ(c,
       "[[group,g,committed,1-0,last-delivered,3-0,log-end,5-0,lag,2,pending,3,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok g");
    run(c, "XTRIM ok MAXLEN 1");
    EQ(c,
       "[[group,g,committed,1-0,last-delivered,3-0,log-end,5-0,lag,1,pending,3,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok g");
    /* XCOMMIT up to the (deleted) last ID is still allowed; then lag 0 */
    EQ(c, "OK,", "XCOMMIT ok g 5-0");
    EQ(c,
       "[[group,g,committed,5-0,last-delivered,3-0,log-end,5-0,lag,0,pending,3,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok g");
    /* committing does not touch the PEL or Redis's XINFO replies */
    EQ(c,
       "[[name,g,consumers,1,pending,3,last-delivered-id,3-0,entries-read,3,lag,nil,]"
       "[name,h,consumers,0,pending,0,last-delivered-id,5-0,entries-read,nil,lag,0,]]",
       "XINFO GROUPS ok");
    /* a destroyed and re-created group has no committed offset */
    EQ(c, "1,", "XGROUP DESTROY ok g");
    run(c, "XGROUP CREATE ok g 0");
    EQ(c, "nil,", "XCOMMITTED ok g");
    EQ(c, "1,", "DEL ok");
    /* an empty stream: only 0-0 can be committed */
    run(c, "XGROUP CREATE ok g $ MKSTREAM");
    EQ(c, "OK,", "XCOMMIT ok g 0-0");
    EQ(c, "E:ERR The ID specified in XCOMMIT is greater than the stream's last ID,",
       "XCOMMIT ok g 0-1");
    EQ(c,
       "[[group,g,committed,0-0,last-delivered,0-0,log-end,0-0,lag,0,pending,0,max-deliveries,nil,"
       "dead-letter-key,nil,dead-lettered,0,]]",
       "XLAG ok");
    EQ(c, "1,", "DEL ok");
    redisFree(c);
}

/* Exact RESP2 and RESP3 bytes of XLAG and XCOMMITTED. */
static void test_commit_offsets_bytes(void **state) {
    (void)state;
    expect_raw("XADD ob 1-0 f v\r\nXADD ob 2-0 f v\r\nXGROUP CREATE ob g 0\r\nXCOMMITTED ob g\r\n"
               "XCOMMIT ob g 1-0\r\nXCOMMITTED ob g\r\nXLAG ob\r\n",
               "$3\r\n1-0\r\n$3\r\n2-0\r\n+OK\r\n$-1\r\n+OK\r\n$3\r\n1-0\r\n"
               "*1\r\n*18\r\n$5\r\ngroup\r\n$1\r\ng\r\n$9\r\ncommitted\r\n$3\r\n1-0\r\n"
               "$14\r\nlast-delivered\r\n$3\r\n0-0\r\n$7\r\nlog-end\r\n$3\r\n2-0\r\n"
               "$3\r\nlag\r\n:1\r\n$7\r\npending\r\n:0\r\n$14\r\nmax-deliveries\r\n$-1\r\n"
               "$15\r\ndead-letter-key\r\n$-1\r\n$13\r\ndead-lettered\r\n:0\r\n");
    int fd = raw_connect(shared_server.port);
    send_raw(fd, "HELLO 3\r\n");
    size_t got;
    free(raw_read(fd, 4096, 300, &got));
    send_raw(fd, "XGROUP CREATE ob h $\r\nXCOMMITTED ob h\r\nXLAG ob h\r\n");
    assert_true(raw_expect(fd,
                           "+OK\r\n_\r\n*1\r\n%9\r\n$5\r\ngroup\r\n$1\r\nh\r\n$9\r\ncommitted\r\n"
                           "_\r\n$14\r\nlast-delivered\r\n$3\r\n2-0\r\n$7\r\nlog-end\r\n$3\r\n"
                           "2-0\r\n$3\r\nlag\r\n:2\r\n$7\r\npending\r\n:0\r\n"
                           "$14\r\nmax-deliveries\r\n_\r\n$15\r\ndead-letter-key\r\n_\r\n"
                           "$13\r\ndead-lettered\r\n:0\r\n"));
    close(fd);
    expect_raw("DEL ob\r\n", ":1\r\n");
}

/* ---- restart round trips ---------------------------------------------------------------- */

/* The whole group state of a key, clock values masked. */
static char *group_state(redisContext *c, const char *key) {
    char *out = calloc(1, 1 << 20);
    size_t cap = 1 << 20;
    char *s = dumpf(c, 1, "XINFO STREAM %s FULL", key);
    snprintf(out, cap, "FULL %s\n", s);
    free(s);
    redisReply *g = cmd(c, "XINFO GROUPS %s", key);
    for (size_t i = 0; g->type == REDIS_REPLY_ARRAY && i < g->elements; i++) {
        const char *name = g->element[i]->element[1]->str;
        const char *q[] = {"XPENDING %s %s", "XPENDING %s %s - + 1000", "XINFO CONSUMERS %s %s",
                           "XCOMMITTED %s %s", "XLAG %s %s"};
        for (size_t j = 0; j < sizeof(q) / sizeof(q[0]); j++) {
            s = dumpf(c, 1, q[j], key, name);
            size_t n = strlen(out);
            snprintf(out + n, cap - n, "%s: %s\n", q[j], s);
            free(s);
        }
    }
    freeReplyObject(g);
    return out;
}

static void restart_round_trip(int hard) {
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    /* Every command that changes group state, on a few keys. */
    for (int i = 1; i <= 8; i++) run(c, "XADD r1 %d-0 f %d", i, i);
    run(c, "XGROUP CREATE r1 ga 0");
    run(c, "XGROUP CREATE r1 gb $");
    run(c, "XGROUP CREATE r1 gc 2-0 ENTRIESREAD 2");
    run(c, "XGROUP CREATE r1 gd 0");
    run(c, "XGROUP CREATE r2 gm $ MKSTREAM");
    run(c, "XGROUP CREATE r3 gx 0 MKSTREAM");
    run(c, "XGROUP SETID r1 gb 3-0");
    run(c, "XGROUP SETID r1 gc 4-0 ENTRIESREAD 4");
    run(c, "XGROUP CREATECONSUMER r1 ga idle1");
    run(c, "XGROUP CREATECONSUMER r1 ga gone");
    run(c, "XGROUP DELCONSUMER r1 ga gone");
    run(c, "XREADGROUP GROUP ga c1 COUNT 3 STREAMS r1 >");
    run(c, "XREADGROUP GROUP ga c2 COUNT 2 STREAMS r1 >");
    run(c, "XREADGROUP GROUP ga c1 STREAMS r1 0");       /* delivery counts 2 */
    run(c, "XREADGROUP GROUP gb c1 NOACK STREAMS r1 >"); /* last ID only */
    run(c, "XREADGROUP GROUP gc c3 COUNT 2 STREAMS r1 >");
    run(c, "XREADGROUP GROUP gd c4 STREAMS r1 >");
    run(c, "XGROUP DELCONSUMER r1 gd c4"); /* drops its PEL */
    run(c, "XACK r1 ga 2-0");
    run(c, "XCLAIM r1 ga c2 0 3-0");
    run(c, "XCLAIM r1 ga c5 0 1-0 RETRYCOUNT 7 JUSTID");
    run(c, "XCLAIM r1 ga c5 0 6-0 FORCE JUSTID");
    run(c, "XCLAIM r1 ga c5 0 4-0 IDLE 500000 JUSTID LASTID 7-0");
    run(c, "XDEL r1 5-0");
    run(c, "XAUTOCLAIM r1 gc c6 0 0 COUNT 1");
    run(c, "XAUTOCLAIM r1 ga c6 0 5-0 COUNT 1 JUSTID"); /* drops the deleted 5-0 */
    run(c, "XCOMMIT r1 ga 6-0");
    run(c, "XCOMMIT r1 ga 2-0"); /* rewind */
    run(c, "XCOMMIT r1 gb 8-0");
    run(c, "XCOMMIT r1 gc 0-0"); /* reset */
    run(c, "XCOMMIT r2 gm 0-0");
    run(c, "XGROUP DESTROY r3 gx");
    run(c, "XTRIM r1 MAXLEN 7");
    /* a deleted key with groups, re-created without */
    run(c, "XGROUP CREATE r4 gz 0 MKSTREAM");
    run(c, "DEL r4");
    run(c, "XADD r4 1-0 f 1");
    const char *keys[] = {"r1", "r2", "r3", "r4"};
    char *before[4];
    for (int i = 0; i < 4; i++) before[i] = group_state(c, keys[i]);
    long long idle_before = pel_idle(c, "r1", "ga", "4-0");
    redisFree(c);
    if (hard)
        server_kill(&s);
    else
        assert_int_equal(server_stop(&s), 0);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    for (int i = 0; i < 4; i++) {
        char *after = group_state(c, keys[i]);
        if (strcmp(before[i], after))
            printf("# %s restart: state of %s differs\n# before:\n%s# after:\n%s",
                   hard ? "kill -9" : "clean", keys[i], before[i], after);
        assert_string_equal(before[i], after);
        free(after);
        free(before[i]);
    }
    /* delivery times survive: the entry claimed with IDLE 500000 is still that idle */
    long long idle_after = pel_idle(c, "r1", "ga", "4-0");
    assert_true(idle_after >= idle_before && idle_after < idle_before + 30000);
    /* and the groups keep working after the restart */
    EQ(c, "[[r1,[[8-0,[f,8,]]]]]", "XREADGROUP GROUP ga c1 STREAMS r1 >");
    EQ(c, "OK,", "XCOMMIT r1 ga 8-0");
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_restart_clean(void **state) {
    (void)state;
    restart_round_trip(0);
}

static void test_restart_kill9(void **state) {
    (void)state;
    restart_round_trip(1);
}

/* Each group-changing command alone, acknowledged, then kill -9: its effect is there. */
static void test_kill9_each_command(void **state) {
    (void)state;
    struct {
        const char *cmd;   /* run after the setup, then kill -9 */
        const char *check; /* a command whose reply shows the change */
        const char *want;
    } cases[] = {
        {"XGROUP CREATE k g2 0", "XINFO GROUPS k",
         "[[name,g,consumers,1,pending,2,last-delivered-id,2-0,entries-read,2,lag,1,]"
         "[name,g2,consumers,0,pending,0,last-delivered-id,0-0,entries-read,nil,lag,3,]]"},
        {"XGROUP SETID k g 3-0", "XINFO GROUPS k",
         "[[name,g,consumers,1,pending,2,last-delivered-id,3-0,entries-read,nil,lag,0,]]"},
        {"XGROUP DESTROY k g", "XINFO GROUPS k", "[]"},
        {"XGROUP CREATECONSUMER k g c9", "XINFO CONSUMERS k g",
         "[[name,c1,pending,2,idle,~,][name,c9,pending,0,idle,~,]]"},
        {"XGROUP DELCONSUMER k g c1", "XPENDING k g", "[0,nil,nil,nil,]"},
        {"XREADGROUP GROUP g c2 STREAMS k >", "XPENDING k g - + 10",
         "[[1-0,c1,~,1,][2-0,c1,~,1,][3-0,c2,~,1,]]"},
        {"XREADGROUP GROUP g c1 STREAMS k 0", "XPENDING k g - + 10",
         "[[1-0,c1,~,2,][2-0,c1,~,2,]]"},
        {"XREADGROUP GROUP g c2 NOACK STREAMS k >", "XINFO GROUPS k",
         "[[name,g,consumers,2,pending,2,last-delivered-id,3-0,entries-read,3,lag,0,]]"},
        {"XACK k g 1-0", "XPENDING k g", "[1,2-0,2-0,[[c1,1,]]]"},
        {"XCLAIM k g c3 0 2-0 RETRYCOUNT 5", "XPENDING k g - + 10", "[[1-0,c1,~,1,][2-0,c3,~,5,]]"},
        {"XCLAIM k g c3 0 3-0 FORCE JUSTID LASTID 3-0", "XPENDING k g - + 10",
         "[[1-0,c1,~,1,][2-0,c1,~,1,][3-0,c3,~,1,]]"},
        {"XAUTOCLAIM k g c4 0 0 COUNT 1", "XPENDING k g - + 10", "[[1-0,c4,~,2,][2-0,c1,~,1,]]"},
        {"XCOMMIT k g 2-0", "XCOMMITTED k g", "2-0,"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct test_server s;
        assert_int_equal(server_start(&s, "--fsync", "always", NULL), 0);
        redisContext *c = client_connect(&s);
        run(c, "XADD k 1-0 f 1");
        run(c, "XADD k 2-0 f 2");
        run(c, "XADD k 3-0 f 3");
        run(c, "XGROUP CREATE k g 0");
        run(c, "XREADGROUP GROUP g c1 COUNT 2 STREAMS k >");
        run(c, cases[i].cmd);
        redisFree(c);
        server_kill(&s);
        assert_int_equal(server_start_argv(&s, NULL, 1), 0);
        c = client_connect(&s);
        char *got = dumpf(c, 1, cases[i].check);
        if (strcmp(got, cases[i].want))
            printf("# after '%s' and kill -9: %s\n#   want %s\n#   got  %s\n", cases[i].cmd,
                   cases[i].check, cases[i].want, got);
        int ok = !strcmp(got, cases[i].want);
        free(got);
        redisFree(c);
        server_kill(&s);
        server_cleanup(&s);
        assert_true(ok);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xgroup),
        cmocka_unit_test(test_xreadgroup),
        cmocka_unit_test(test_xreadgroup_unbalanced),
        cmocka_unit_test(test_xack_xpending_idle),
        cmocka_unit_test(test_xclaim),
        cmocka_unit_test(test_xautoclaim),
        cmocka_unit_test(test_xinfo),
        cmocka_unit_test(test_blocking),
        cmocka_unit_test(test_blocking_group_destroyed),
        cmocka_unit_test(test_blocking_key_deleted),
        cmocka_unit_test(test_blocking_key_flushed),
        cmocka_unit_test(test_commit_offsets),
        cmocka_unit_test(test_commit_offsets_bytes),
        cmocka_unit_test(test_restart_clean),
        cmocka_unit_test(test_restart_kill9),
        cmocka_unit_test(test_kill9_each_command),
    };
    return cmocka_run_group_tests_name("groups", tests, shared_server_setup,
                                       shared_server_teardown);
}
