/* cmd_expire.c - key expiry commands, as Redis 7.0 has them: EXPIRE, PEXPIRE, EXPIREAT,
 * PEXPIREAT (with NX | XX | GT | LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
 *
 * Redis's order of checks is kept, since clients see it: the options first, then the number,
 * then the overflow of unit and base time, then the key. A time at or before now deletes the
 * key at once (replied 1, as Redis does); otherwise the time is stored with the topic
 * (topic_set_expire) and the reply, like any write's, waits until topic.meta is durable. When
 * the key goes is expire.c's business. Main thread only. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/expire.h"
#include "server/xutil.h"
#include "storage/topic.h"

#define R (&c->reply)

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* Parses NX | XX | GT | LT from argv[3] on; replies the error and returns -1 when invalid. */
static int parse_conditions(struct client *c, int argc, char **argv, size_t *argvlen, int *flags) {
    static const char *const names[] = {"nx", "xx", "gt", "lt"};
    *flags = 0;
    for (int i = 3; i < argc; i++) {
        int f = 0;
        for (int k = 0; k < 4 && !f; k++)
            if (util_eq_nocase(argv[i], argvlen[i], names[k])) f = 1 << k;
        if (!f) {
            reply_errorf(R, "ERR Unsupported option %s", argv[i]);
            return -1;
        }
        *flags |= f;
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(R, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        reply_error(R, "ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    return 0;
}

/* 1 when the conditions allow replacing current (0: none) with when. */
static int conditions_allow(int flags, int64_t current, long long when) {
    if ((flags & EXP_NX) && current) return 0;
    if ((flags & EXP_XX) && !current) return 0;
    if ((flags & EXP_GT) && (!current || when <= current)) return 0; /* none = infinite */
    if ((flags & EXP_LT) && current && when >= current) return 0;
    return 1;
}

/* base_ms: now for the relative forms, 0 for the absolute ones; seconds: the unit. */
static void expire_generic(struct client *c, int argc, char **argv, size_t *argvlen,
                           const char *name, long long base_ms, int seconds) {
    int flags;
    long long when;
    if (parse_conditions(c, argc, argv, argvlen, &flags) != 0) return;
    if (xutil_parse_ll(c, argv[2], argvlen[2], &when) != 0) return;
    if (seconds && (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)) goto overflow;
    if (seconds) when *= 1000;
    if (when > LLONG_MAX - base_ms) goto overflow;
    when += base_ms;
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    if (!t || !conditions_allow(flags, topic_expire_at(t), when)) {
        reply_int(R, 0);
        return;
    }
    int rc = when <= util_mstime() ? expire_delete(t) : topic_set_expire(t, (int64_t)when);
    if (rc != OBK_OK) {
        xutil_reply_status(c, rc);
        return;
    }
    reply_int(R, 1);
    return;
overflow:
    reply_errorf(R, "ERR invalid expire time in '%s' command", name);
}

static void cmd_expire(CMD_ARGS) {
    expire_generic(c, argc, argv, argvlen, "expire", util_mstime(), 1);
}

static void cmd_pexpire(CMD_ARGS) {
    expire_generic(c, argc, argv, argvlen, "pexpire", util_mstime(), 0);
}

static void cmd_expireat(CMD_ARGS) {
    expire_generic(c, argc, argv, argvlen, "expireat", 0, 1);
}

static void cmd_pexpireat(CMD_ARGS) {
    expire_generic(c, argc, argv, argvlen, "pexpireat", 0, 0);
}

/* TTL and friends: -2 no key, -1 no expiry, else the time left (relative) or the time itself
 * (absolute), in ms or rounded to the nearest second as Redis rounds. */
static void ttl_generic(struct client *c, char **argv, size_t *argvlen, int absolute, int ms) {
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    if (!t) {
        reply_int(R, -2);
        return;
    }
    long long at = topic_expire_at(t);
    if (!at) {
        reply_int(R, -1);
        return;
    }
    long long v = absolute ? at : at - util_mstime();
    if (v < 0) v = 0;
    reply_int(R, ms ? v : (v + 500) / 1000);
}

static void cmd_ttl(CMD_ARGS) {
    (void)argc;
    ttl_generic(c, argv, argvlen, 0, 0);
}

static void cmd_pttl(CMD_ARGS) {
    (void)argc;
    ttl_generic(c, argv, argvlen, 0, 1);
}

static void cmd_expiretime(CMD_ARGS) {
    (void)argc;
    ttl_generic(c, argv, argvlen, 1, 0);
}

static void cmd_pexpiretime(CMD_ARGS) {
    (void)argc;
    ttl_generic(c, argv, argvlen, 1, 1);
}

static void cmd_persist(CMD_ARGS) {
    (void)argc;
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    if (!t || !topic_expire_at(t)) {
        reply_int(R, 0);
        return;
    }
    int rc = topic_set_expire(t, 0);
    if (rc != OBK_OK) {
        xutil_reply_status(c, rc);
        return;
    }
    reply_int(R, 1);
}

#define SET_ARGS(unit) "key:key " unit " (condition: NX! | XX! | GT! | LT!)?"
#define F(x)           CMD_##x

/* Merged into the command table by command_table_init (command.c). */
struct command expire_commands[] = {
    {"expire", cmd_expire, -3, F(WRITE) | F(FAST), 1, 1, 1, "generic", "1.0.0",
     "Makes a key expire after a number of seconds.", "O(1)", .args = SET_ARGS("seconds:integer")},
    {"pexpire", cmd_pexpire, -3, F(WRITE) | F(FAST), 1, 1, 1, "generic", "2.6.0",
     "Makes a key expire after a number of milliseconds.", "O(1)",
     .args = SET_ARGS("milliseconds:integer")},
    {"expireat", cmd_expireat, -3, F(WRITE) | F(FAST), 1, 1, 1, "generic", "1.2.0",
     "Makes a key expire at a Unix time in seconds.", "O(1)",
     .args = SET_ARGS("unix-time-seconds:unix-time")},
    {"pexpireat", cmd_pexpireat, -3, F(WRITE) | F(FAST), 1, 1, 1, "generic", "2.6.0",
     "Makes a key expire at a Unix time in milliseconds.", "O(1)",
     .args = SET_ARGS("unix-time-milliseconds:unix-time")},
    {"ttl", cmd_ttl, 2, F(READONLY) | F(FAST), 1, 1, 1, "generic", "1.0.0",
     "Returns the seconds a key has left before it expires.", "O(1)", .args = "key:key"},
    {"pttl", cmd_pttl, 2, F(READONLY) | F(FAST), 1, 1, 1, "generic", "2.6.0",
     "Returns the milliseconds a key has left before it expires.", "O(1)", .args = "key:key"},
    {"expiretime", cmd_expiretime, 2, F(READONLY) | F(FAST), 1, 1, 1, "generic", "7.0.0",
     "Returns the Unix time in seconds at which a key expires.", "O(1)", .args = "key:key"},
    {"pexpiretime", cmd_pexpiretime, 2, F(READONLY) | F(FAST), 1, 1, 1, "generic", "7.0.0",
     "Returns the Unix time in milliseconds at which a key expires.", "O(1)", .args = "key:key"},
    {"persist", cmd_persist, 2, F(WRITE) | F(FAST), 1, 1, 1, "generic", "2.2.0",
     "Removes a key's expiry.", "O(1)", .args = "key:key"},
    {NULL},
};
