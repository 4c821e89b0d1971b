/* cmd_group.c - XGROUP CREATE/SETID/DESTROY/CREATECONSUMER/DELCONSUMER/HELP, XACK, XPENDING,
 * XCLAIM and XAUTOCLAIM with Redis 7.0's argument rules, replies and errors.
 *
 * Every command that changes group state does it between cg_record_begin() and
 * cg_record_end(), so its changes are one record in the topic's group log, written in the same
 * group commit as the data, and its reply waits (durable.h, applied by command.c) until that
 * record is durable.
 * Main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/deadletter.h"
#include "server/db.h"
#include "server/errors.h"
#include "server/xgroup.h"
#include "server/xutil.h"
#include "storage/cgroup.h"
#include "storage/store.h"

#define R (&c->reply)

/* XAUTOCLAIM looks at no more than this many pending entries per entry it may return (Redis's
 * attempts factor), so one call stays short. */
#define XAUTOCLAIM_ATTEMPTS_FACTOR 10
#define XAUTOCLAIM_DEFAULT_COUNT   100

static void reply_nogroup_key(struct client *c, const char *key, const char *group) {
    reply_errorf(R, ERR_NOGROUP_KEY_OR_GROUP, key, group);
}

static void subcommand_syntax_error(struct client *c, const char *sub) {
    reply_errorf(R, ERR_XGROUP_SUBCOMMAND_ARITY, sub);
}

/* A group's dead-letter policy as given: MAXDELIVERIES n [DEADLETTER key] (Obelisk's). */
struct dlq_opts {
    long long max; /* 0: none */
    const char *key;
    size_t keylen;
    int nargs; /* arguments they took */
};

/* Checks a dead-letter policy for the stream key argv[2]; replies the error and returns -1
 * when it is not valid. allow_off: 0 turns the policy off (SETDLQ). */
static int check_dlq(struct client *c, char **argv, size_t *argvlen, const struct dlq_opts *d,
                     int allow_off) {
    if (d->max < (allow_off ? 0 : 1)) {
        reply_error(R, allow_off ? ERR_DLQ_MAX_NEGATIVE : ERR_DLQ_MAX_POSITIVE);
        return -1;
    }
    if (d->key && d->keylen == 0) {
        reply_error(R, ERR_DLQ_EMPTY_KEY);
        return -1;
    }
    if (d->key && d->keylen == argvlen[2] && !memcmp(d->key, argv[2], d->keylen)) {
        reply_error(R, ERR_DLQ_SAME_KEY);
        return -1;
    }
    return 0;
}

/* +OK, or the error of a storage status. */
static void reply_ok_or_status(struct client *c, int rc) {
    if (rc != OBK_OK)
        xutil_reply_status(c, rc);
    else
        reply_simple(R, "OK");
}

/* Options after "XGROUP CREATE|SETID key group id": MKSTREAM (CREATE only), ENTRIESREAD n,
 * MAXDELIVERIES n [DEADLETTER key] (CREATE only; dlq NULL for SETID). */
static int parse_group_opts(struct client *c, int argc, char **argv, size_t *argvlen, int create,
                            int *mkstream, long long *entries_read, struct dlq_opts *dlq) {
    *mkstream = 0;
    *entries_read = XGROUP_ENTRIES_READ_INVALID;
    if (dlq) memset(dlq, 0, sizeof *dlq);
    for (int i = 5; i < argc;) {
        if (create && util_eq_nocase(argv[i], argvlen[i], "MKSTREAM")) {
            *mkstream = 1;
            i++;
        } else if (dlq && util_eq_nocase(argv[i], argvlen[i], "MAXDELIVERIES") && i + 1 < argc) {
            if (!util_parse_ll(argv[i + 1], argvlen[i + 1], &dlq->max) || dlq->max < 1) {
                reply_error(R, ERR_DLQ_MAX_POSITIVE);
                return -1;
            }
            dlq->nargs += 2;
            i += 2;
        } else if (dlq && util_eq_nocase(argv[i], argvlen[i], "DEADLETTER") && i + 1 < argc) {
            dlq->key = argv[i + 1];
            dlq->keylen = argvlen[i + 1];
            dlq->nargs += 2;
            i += 2;
        } else if (util_eq_nocase(argv[i], argvlen[i], "ENTRIESREAD") && i + 1 < argc) {
            if (xutil_parse_ll(c, argv[i + 1], argvlen[i + 1], entries_read) != 0) return -1;
            if (*entries_read < 0 && *entries_read != XGROUP_ENTRIES_READ_INVALID) {
                reply_error(R, ERR_ENTRIESREAD_VALUE);
                return -1;
            }
            i += 2;
        } else {
            subcommand_syntax_error(c, argv[1]);
            return -1;
        }
    }
    return 0;
}

/* Looks up the key and, for the subcommands that need it, the group, with Redis's errors. */
static int group_target(struct client *c, char **argv, size_t *argvlen, int mkstream,
                        int need_group, struct topic **t, struct cg_group **g) {
    *t = xutil_lookup(c, argv[2], argvlen[2]);
    *g = *t ? cg_group_find(*t, argv[3], argvlen[3]) : NULL;
    if (mkstream) return 0;
    if (!*t) {
        reply_error(R, ERR_XGROUP_NEEDS_KEY);
        return -1;
    }
    if (need_group && !*g) {
        reply_errorf(R, ERR_NOGROUP_FOR_KEY, argv[3], argv[2]);
        return -1;
    }
    return 0;
}

void cmd_xgroup_create(CMD_ARGS) {
    int mkstream;
    long long er;
    struct topic *t;
    struct cg_group *g;
    struct dlq_opts dlq;
    if (parse_group_opts(c, argc, argv, argvlen, 1, &mkstream, &er, &dlq) != 0 ||
        group_target(c, argv, argvlen, mkstream, 0, &t, &g) != 0)
        return;
    if (argc - dlq.nargs > 8) { /* Redis's check, on Redis's options */
        subcommand_syntax_error(c, argv[1]);
        return;
    }
    if (dlq.key && !dlq.max) {
        reply_error(R, ERR_DLQ_NEEDS_MAX);
        return;
    }
    if (dlq.max && check_dlq(c, argv, argvlen, &dlq, 0) != 0) return;
    sid_t id;
    if (argvlen[4] == 1 && argv[4][0] == '$')
        id = t ? topic_last_id(t) : SID_MIN;
    else if (xutil_parse_id(c, argv[4], argvlen[4], 0, SID_PARSE_STRICT, &id, NULL, NULL) != 0)
        return;
    if (g) {
        reply_error(R, ERR_BUSYGROUP);
        return;
    }
    int rc = OBK_OK;
    if (!t) rc = store_create(db_store(), c->db, argv[2], argvlen[2], &t);
    if (rc == OBK_OK) {
        cg_record_begin(t);
        rc = cg_group_create(t, argv[3], argvlen[3], id, er, &g);
        if (rc == OBK_OK && dlq.max)
            rc = cg_group_set_dlq(t, g, (uint64_t)dlq.max, dlq.key, dlq.keylen);
        int rc2 = cg_record_end(t);
        if (rc == OBK_OK) rc = rc2;
    }
    reply_ok_or_status(c, rc);
}

void cmd_xgroup_setid(CMD_ARGS) {
    int mkstream;
    long long er;
    struct topic *t;
    struct cg_group *g;
    if (parse_group_opts(c, argc, argv, argvlen, 0, &mkstream, &er, NULL) != 0 ||
        group_target(c, argv, argvlen, 0, 1, &t, &g) != 0)
        return;
    if (argc != 5 && argc != 7) {
        subcommand_syntax_error(c, argv[1]);
        return;
    }
    sid_t id;
    if (argvlen[4] == 1 && argv[4][0] == '$')
        id = topic_last_id(t);
    else if (xutil_parse_id(c, argv[4], argvlen[4], 0, 0, &id, NULL, NULL) != 0)
        return;
    cg_record_begin(t);
    int rc = cg_group_setid(t, g, id, er);
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
    reply_ok_or_status(c, rc);
}

void cmd_xgroup_destroy(CMD_ARGS) {
    (void)argc;
    struct topic *t;
    struct cg_group *g;
    if (group_target(c, argv, argvlen, 0, 0, &t, &g) != 0) return;
    if (!g) {
        reply_int(R, 0);
        return;
    }
    cg_record_begin(t);
    int rc = cg_group_destroy(t, g);
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
    if (rc != OBK_OK) {
        xutil_reply_status(c, rc);
        return;
    }
    reply_int(R, 1);
    /* Clients blocked in XREADGROUP on this group get -NOGROUP. */
    blocking_signal_key(c->db, argv[2], argvlen[2]);
}

void cmd_xgroup_createconsumer(CMD_ARGS) {
    (void)argc;
    struct topic *t;
    struct cg_group *g;
    struct cg_consumer *cons;
    int created = 0;
    if (group_target(c, argv, argvlen, 0, 1, &t, &g) != 0) return;
    cg_record_begin(t);
    int rc = cg_consumer_get(t, g, argv[4], argvlen[4], util_mstime(), &cons, &created);
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
    if (rc != OBK_OK)
        xutil_reply_status(c, rc);
    else
        reply_int(R, created);
}

void cmd_xgroup_delconsumer(CMD_ARGS) {
    (void)argc;
    struct topic *t;
    struct cg_group *g;
    if (group_target(c, argv, argvlen, 0, 1, &t, &g) != 0) return;
    struct cg_consumer *cons = cg_consumer_find(g, argv[4], argvlen[4]);
    uint64_t pending = 0;
    if (cons) {
        cg_record_begin(t);
        int rc = cg_consumer_delete(t, g, cons, &pending);
        int rc2 = cg_record_end(t);
        if (rc == OBK_OK) rc = rc2;
        if (rc != OBK_OK) {
            xutil_reply_status(c, rc);
            return;
        }
    }
    reply_int(R, (long long)pending);
}

/* XGROUP SETDLQ key group maxdeliveries [deadletter-key] (Obelisk's): sets or, with 0, clears
 * the group's dead-letter policy. */
void cmd_xgroup_setdlq(CMD_ARGS) {
    struct topic *t;
    struct cg_group *g;
    struct dlq_opts dlq = {0, argc > 5 ? argv[5] : NULL, argc > 5 ? argvlen[5] : 0, 0};
    if (argc > 6) {
        subcommand_syntax_error(c, argv[1]);
        return;
    }
    if (!util_parse_ll(argv[4], argvlen[4], &dlq.max)) {
        reply_error(R, ERR_DLQ_MAX_NEGATIVE);
        return;
    }
    if (check_dlq(c, argv, argvlen, &dlq, 1) != 0 ||
        group_target(c, argv, argvlen, 0, 1, &t, &g) != 0)
        return;
    cg_record_begin(t);
    int rc = cg_group_set_dlq(t, g, (uint64_t)dlq.max, dlq.max ? dlq.key : NULL,
                              dlq.max ? dlq.keylen : 0);
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
    reply_ok_or_status(c, rc);
}

void cmd_xgroup_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "    * MAXDELIVERIES n [DEADLETTER key]",
        "      Move entries delivered more than n times to a dead-letter stream (Obelisk).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETDLQ <key> <groupname> <maxdeliveries> [<deadletter-key>]",
        "    Set (0: clear) the group's dead-letter policy (Obelisk).",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

/* ---- XACK ---- */

void cmd_xack(CMD_ARGS) {
    size_t n = (size_t)argc - 3;
    sid_t *ids = malloc(n * sizeof(*ids));
    if (!ids) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        return;
    }
    /* Every ID is checked before anything is acknowledged. */
    for (size_t i = 0; i < n; i++)
        if (xutil_parse_id(c, argv[i + 3], argvlen[i + 3], 0, SID_PARSE_STRICT, &ids[i], NULL,
                           NULL) != 0)
            goto out;
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    struct cg_group *g = t ? cg_group_find(t, argv[2], argvlen[2]) : NULL;
    uint64_t acked = 0;
    if (g) {
        cg_record_begin(t);
        int rc = cg_ack(t, g, ids, n, &acked);
        int rc2 = cg_record_end(t);
        if (rc == OBK_OK) rc = rc2;
        if (rc != OBK_OK) {
            xutil_reply_status(c, rc);
            goto out;
        }
    }
    reply_int(R, (long long)acked);
out:
    free(ids);
}

/* ---- XPENDING ---- */

struct pending_ctx {
    struct client *c;
    long long count, minidle, now;
    long n;
};

static int pending_each(void *ctx, const struct cg_pending *p) {
    struct pending_ctx *x = ctx;
    if (x->count <= 0) return 1;
    /* an entry released with XNACK has no owner: "" and idle -1, and IDLE never filters it */
    long long idle = p->consumer ? x->now - p->delivery_ms : -1;
    if (p->consumer && x->minidle && idle < x->minidle) return 0;
    if (p->consumer && idle < 0) idle = 0;
    size_t nl = 0;
    const char *name = p->consumer ? cg_consumer_name(p->consumer, &nl) : "";
    reply_array(&x->c->reply, 4);
    xutil_reply_id(x->c, p->id);
    reply_bulk(&x->c->reply, name, nl);
    reply_int(&x->c->reply, idle);
    reply_int(&x->c->reply, (long long)p->delivery_count);
    x->n++;
    x->count--;
    return 0;
}

struct summary_ctx {
    struct client *c;
    long n;
};

static int summary_consumer(void *ctx, struct cg_consumer *cons) {
    struct summary_ctx *x = ctx;
    uint64_t n = cg_consumer_pending_count(cons);
    if (!n) return 0;
    size_t nl;
    const char *name = cg_consumer_name(cons, &nl);
    reply_array(&x->c->reply, 2);
    reply_bulk(&x->c->reply, name, nl);
    reply_bulk_ll(&x->c->reply, (long long)n);
    x->n++;
    return 0;
}

static int first_pending(void *ctx, const struct cg_pending *p) {
    *(sid_t *)ctx = p->id;
    return 1;
}

static int last_pending(void *ctx, const struct cg_pending *p) {
    *(sid_t *)ctx = p->id; /* keeps the last one seen */
    return 0;
}

void cmd_xpending(CMD_ARGS) {
    long long minidle = 0, count = 0;
    sid_t start = SID_MIN, end = SID_MAX;
    const char *cname = NULL;
    size_t cnamelen = 0;
    if (argc != 3 && (argc < 6 || argc > 9)) {
        reply_error(R, ERR_SYNTAX);
        return;
    }
    if (argc >= 6) {
        int si = 3, startex, endex;
        if (util_eq_nocase(argv[3], argvlen[3], "IDLE")) {
            if (xutil_parse_ll(c, argv[4], argvlen[4], &minidle) != 0) return;
            if (argc < 8) {
                reply_error(R, ERR_SYNTAX);
                return;
            }
            si += 2;
        }
        if (xutil_parse_ll(c, argv[si + 2], argvlen[si + 2], &count) != 0) return;
        if (count < 0) count = 0;
        if (xutil_parse_id(c, argv[si], argvlen[si], 0, SID_PARSE_EXCLUSIVE, &start, &startex,
                           NULL) != 0)
            return;
        if (startex && sid_incr(&start) != OBK_OK) {
            reply_error(R, ERR_INVALID_START_ID);
            return;
        }
        if (xutil_parse_id(c, argv[si + 1], argvlen[si + 1], UINT64_MAX, SID_PARSE_EXCLUSIVE, &end,
                           &endex, NULL) != 0)
            return;
        if (endex && sid_decr(&end) != OBK_OK) {
            reply_error(R, ERR_INVALID_END_ID);
            return;
        }
        if (si + 3 < argc) {
            cname = argv[si + 3];
            cnamelen = argvlen[si + 3];
        }
    }
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    struct cg_group *g = t ? cg_group_find(t, argv[2], argvlen[2]) : NULL;
    if (!g) {
        reply_nogroup_key(c, argv[1], argv[2]);
        return;
    }
    if (argc == 3) {
        uint64_t n = cg_group_pending_count(g);
        reply_array(R, 4);
        reply_int(R, (long long)n);
        if (n == 0) {
            reply_null(R);
            reply_null(R);
            reply_null_array(R);
            return;
        }
        sid_t first = SID_MIN, last = SID_MIN;
        cg_pending_range(g, NULL, SID_MIN, SID_MAX, first_pending, &first);
        cg_pending_range(g, NULL, SID_MIN, SID_MAX, last_pending, &last);
        xutil_reply_id(c, first);
        xutil_reply_id(c, last);
        struct summary_ctx x = {c, 0};
        int h = reply_defer_len(R);
        cg_consumer_foreach(g, summary_consumer, &x);
        reply_set_array_len(R, h, x.n);
        return;
    }
    struct cg_consumer *cons = NULL;
    if (cname && !(cons = cg_consumer_find(g, cname, cnamelen))) {
        reply_array(R, 0);
        return;
    }
    struct pending_ctx x = {c, count, minidle, util_mstime(), 0};
    int h = reply_defer_len(R);
    if (count > 0) cg_pending_range(g, cons, start, end, pending_each, &x);
    reply_set_array_len(R, h, x.n);
}

/* ---- XCLAIM / XAUTOCLAIM ---- */

static int reply_claimed_entry(void *ctx, const struct obk_entry *e) {
    xutil_reply_entry(ctx, e);
    return 1;
}

/* Does the stream still hold id? (A pending entry may point at a deleted or trimmed one.)
 * 1 or 0, or a negative status when it cannot be read: never taken for deleted, since the
 * caller would then drop the pending entry for good. */
static int entry_exists(struct topic *t, sid_t id) {
    int rc = topic_contains(t, id);
    return rc == OBK_OK ? 1 : rc == OBK_ERR_NOTFOUND ? 0 : rc;
}

struct claim_opts {
    long long minidle, retrycount, deliverytime;
    int force, justid;
    sid_t lastid;
    int last_id_arg; /* argv index of the last ID to claim (they start at 5) */
};

/* XCLAIM's min-idle-time, IDs and options, with Redis's errors. Returns 0, or -1 after
 * replying the error. */
static int parse_xclaim(struct client *c, int argc, char **argv, size_t *argvlen, long long now,
                        struct claim_opts *o) {
    *o = (struct claim_opts){0, -1, -1, 0, 0, SID_MIN, 0};
    if (!util_parse_ll(argv[4], argvlen[4], &o->minidle)) {
        reply_error(R, ERR_XCLAIM_MIN_IDLE);
        return -1;
    }
    if (o->minidle < 0) o->minidle = 0;
    int j = 5;
    for (sid_t id; j < argc; j++)
        if (sid_parse(argv[j], argvlen[j], 0, SID_PARSE_STRICT, &id, NULL, NULL) != OBK_OK) break;
    o->last_id_arg = j - 1;
    for (; j < argc; j++) {
        int more = argc - 1 - j;
        const char *opt = argv[j];
        size_t ol = argvlen[j];
        if (util_eq_nocase(opt, ol, "FORCE")) {
            o->force = 1;
        } else if (util_eq_nocase(opt, ol, "JUSTID")) {
            o->justid = 1;
        } else if (util_eq_nocase(opt, ol, "IDLE") && more) {
            j++;
            if (!util_parse_ll(argv[j], argvlen[j], &o->deliverytime)) {
                reply_error(R, ERR_XCLAIM_IDLE);
                return -1;
            }
            o->deliverytime = now - o->deliverytime;
        } else if (util_eq_nocase(opt, ol, "TIME") && more) {
            j++;
            if (!util_parse_ll(argv[j], argvlen[j], &o->deliverytime)) {
                reply_error(R, ERR_XCLAIM_TIME);
                return -1;
            }
        } else if (util_eq_nocase(opt, ol, "RETRYCOUNT") && more) {
            j++;
            if (!util_parse_ll(argv[j], argvlen[j], &o->retrycount)) {
                reply_error(R, ERR_XCLAIM_RETRYCOUNT);
                return -1;
            }
        } else if (util_eq_nocase(opt, ol, "LASTID") && more) {
            j++;
            if (xutil_parse_id(c, argv[j], argvlen[j], 0, SID_PARSE_STRICT, &o->lastid, NULL,
                               NULL) != 0)
                return -1;
        } else {
            reply_errorf(R, ERR_XCLAIM_OPTION, opt);
            return -1;
        }
    }
    /* A bogus delivery time (in the future, negative) means now, as Redis does. */
    if (o->deliverytime < 0 || o->deliverytime > now) o->deliverytime = now;
    return 0;
}

/* The claiming consumer, created (or its seen-time updated) at the first claim only, as Redis
 * does. Returns a storage status. */
static int claiming_consumer(struct topic *t, struct cg_group *g, const char *name, size_t len,
                             long long now, struct cg_consumer **cons) {
    if (*cons) return OBK_OK;
    int created;
    int rc = cg_consumer_get(t, g, name, len, now, cons, &created);
    if (rc == OBK_OK && !created) rc = cg_consumer_seen(t, g, *cons, now);
    return rc;
}

/* Claims argv[5..last_id_arg] for the consumer argv[3], replying each claimed entry (or ID).
 * Returns a storage status; *n counts the replies written. */
static int xclaim_ids(struct client *c, char **argv, size_t *argvlen, struct topic *t,
                      struct cg_group *g, const struct claim_opts *o, long long now, long *n) {
    struct cg_consumer *cons = NULL;
    int rc = OBK_OK;
    if (sid_cmp(o->lastid, cg_group_last_id(g)) > 0)
        rc = cg_group_setid(t, g, o->lastid, cg_group_entries_read(g));
    for (int k = 5; k <= o->last_id_arg && rc == OBK_OK; k++) {
        sid_t id;
        sid_parse(argv[k], argvlen[k], 0, SID_PARSE_STRICT, &id, NULL, NULL);
        const struct cg_pending *p = cg_pending_get(g, id);
        int exists = entry_exists(t, id);
        if (exists < 0) return exists;
        if (!exists) {
            if (p) rc = cg_pending_drop(t, g, id);
            continue;
        }
        if (!p && !o->force) continue;
        if (p && p->consumer && o->minidle && now - p->delivery_ms < o->minidle) continue;
        uint64_t count = p ? p->delivery_count : 1;
        if (o->retrycount >= 0)
            count = (uint64_t)o->retrycount;
        else if (!o->justid)
            count++;
        /* a delivery over the group's limit goes to its dead-letter stream instead */
        if (p && !o->justid && deadletter_divert(c->db, t, g, id, count)) continue;
        if ((rc = claiming_consumer(t, g, argv[3], argvlen[3], now, &cons)) != OBK_OK) break;
        if ((rc = cg_claim(t, g, cons, id, o->deliverytime, count)) != OBK_OK) break;
        if (o->justid) {
            xutil_reply_id(c, id);
        } else if ((rc = topic_get(t, id, reply_claimed_entry, c)) != OBK_OK) {
            if (rc != OBK_ERR_NOTFOUND) break;
            rc = OBK_OK;
            reply_null(R);
        }
        (*n)++;
    }
    return rc;
}

void cmd_xclaim(CMD_ARGS) {
    struct claim_opts o;
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    struct cg_group *g = t ? cg_group_find(t, argv[2], argvlen[2]) : NULL;
    if (!g) {
        reply_nogroup_key(c, argv[1], argv[2]);
        return;
    }
    long long now = util_mstime();
    if (parse_xclaim(c, argc, argv, argvlen, now, &o) != 0) return;
    long n = 0;
    int h = reply_defer_len(R);
    cg_record_begin(t);
    int rc = xclaim_ids(c, argv, argvlen, t, g, &o, now, &n);
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
    if (rc != OBK_OK) {
        reply_discard_deferred(R, h);
        xutil_reply_status(c, rc);
        return;
    }
    reply_set_array_len(R, h, n);
}

struct autoclaim_ctx {
    sid_t *ids;
    size_t n, cap;
    sid_t next;
    int has_next;
};

/* Collects pending IDs from the start, one more than may be examined (the next cursor). */
static int autoclaim_collect(void *ctx, const struct cg_pending *p) {
    struct autoclaim_ctx *x = ctx;
    if (x->n == x->cap) {
        x->next = p->id;
        x->has_next = 1;
        return 1;
    }
    x->ids[x->n++] = p->id;
    return 0;
}

/* XAUTOCLAIM's arguments after the consumer, with Redis's errors. Returns 0, or -1 after
 * replying the error. */
static int parse_xautoclaim(struct client *c, int argc, char **argv, size_t *argvlen,
                            long long *minidle, sid_t *start, long long *count, int *justid) {
    int startex;
    *count = XAUTOCLAIM_DEFAULT_COUNT;
    *justid = 0;
    if (!util_parse_ll(argv[4], argvlen[4], minidle)) {
        reply_error(R, ERR_XAUTOCLAIM_MIN_IDLE);
        return -1;
    }
    if (*minidle < 0) *minidle = 0;
    if (xutil_parse_id(c, argv[5], argvlen[5], 0, SID_PARSE_EXCLUSIVE, start, &startex, NULL) != 0)
        return -1;
    if (startex && sid_incr(start) != OBK_OK) {
        reply_error(R, ERR_INVALID_START_ID);
        return -1;
    }
    for (int j = 6; j < argc; j++) {
        int more = argc - 1 - j;
        if (util_eq_nocase(argv[j], argvlen[j], "COUNT") && more) {
            long long max = 0x7fffffffffffffffLL / 16;
            if (!util_parse_ll(argv[j + 1], argvlen[j + 1], count) || *count < 1 || *count > max) {
                reply_error(R, ERR_COUNT_POSITIVE);
                return -1;
            }
            j++;
        } else if (util_eq_nocase(argv[j], argvlen[j], "JUSTID")) {
            *justid = 1;
        } else {
            reply_error(R, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* What one XAUTOCLAIM did: the claimed IDs (written over x.ids from the front), the deleted
 * ones, and the cursor. */
struct autoclaim_run {
    struct autoclaim_ctx x;
    sid_t *deleted;
    size_t nclaimed, ndeleted;
    sid_t next;
};

/* Examines at most count pending entries from the collected ones, claiming the idle ones for
 * the consumer argv[3] and dropping those whose entry is gone. Returns a storage status. */
static int autoclaim_entries(int db, struct topic *t, struct cg_group *g, const char *cname,
                             size_t cnamelen, long long minidle, long long count, int justid,
                             struct autoclaim_run *a) {
    long long now = util_mstime();
    struct cg_consumer *cons = NULL;
    struct autoclaim_ctx *x = &a->x;
    size_t i = 0;
    int rc = OBK_OK;
    for (; i < x->n && count > 0 && rc == OBK_OK; i++) {
        sid_t id = x->ids[i];
        const struct cg_pending *p = cg_pending_get(g, id);
        int exists = entry_exists(t, id);
        if (exists < 0) return exists;
        if (!exists) {
            rc = cg_pending_drop(t, g, id);
            a->deleted[a->ndeleted++] = id;
            count--;
            continue;
        }
        if (minidle && now - p->delivery_ms < minidle) continue;
        if (!justid && deadletter_divert(db, t, g, id, p->delivery_count + 1)) {
            count--; /* examined, and taken by the dead-letter policy */
            continue;
        }
        if ((rc = claiming_consumer(t, g, cname, cnamelen, now, &cons)) != OBK_OK) break;
        if ((rc = cg_claim(t, g, cons, id, now, p->delivery_count + (justid ? 0 : 1))) != OBK_OK)
            break;
        x->ids[a->nclaimed++] = id;
        count--;
    }
    /* The cursor: the pending entry after the last one examined, 0-0 at the end. */
    a->next = i < x->n ? x->ids[i] : (x->has_next ? x->next : SID_MIN);
    return rc;
}

static void reply_autoclaim(struct client *c, struct topic *t, const struct autoclaim_run *a,
                            int justid) {
    reply_array(R, 3);
    xutil_reply_id(c, a->next);
    reply_array(R, (long)a->nclaimed);
    for (size_t k = 0; k < a->nclaimed; k++) {
        if (justid)
            xutil_reply_id(c, a->x.ids[k]);
        else if (topic_get(t, a->x.ids[k], reply_claimed_entry, c) != OBK_OK)
            reply_null(R);
    }
    reply_array(R, (long)a->ndeleted);
    for (size_t k = 0; k < a->ndeleted; k++) xutil_reply_id(c, a->deleted[k]);
}

void cmd_xautoclaim(CMD_ARGS) {
    long long minidle, count;
    sid_t start;
    int justid;
    if (parse_xautoclaim(c, argc, argv, argvlen, &minidle, &start, &count, &justid) != 0) return;
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    struct cg_group *g = t ? cg_group_find(t, argv[2], argvlen[2]) : NULL;
    if (!g) {
        reply_nogroup_key(c, argv[1], argv[2]);
        return;
    }
    long long attempts = count * XAUTOCLAIM_ATTEMPTS_FACTOR;
    uint64_t pending = cg_group_pending_count(g);
    struct autoclaim_run a = {{NULL, 0, 0, SID_MIN, 0}, NULL, 0, 0, SID_MIN};
    a.x.cap = (size_t)(attempts < (long long)pending ? attempts : (long long)pending);
    a.x.ids = malloc((a.x.cap ? a.x.cap : 1) * sizeof(sid_t));
    a.deleted = malloc((size_t)(count < (long long)pending + 1 ? count : (long long)pending + 1) *
                       sizeof(sid_t));
    if (!a.x.ids || !a.deleted) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        goto out;
    }
    cg_pending_range(g, NULL, start, SID_MAX, autoclaim_collect, &a.x);
    /* First the changes, then the reply, which starts with the cursor known only at the end. */
    cg_record_begin(t);
    int rc = autoclaim_entries(c->db, t, g, argv[3], argvlen[3], minidle, count, justid, &a);
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
    if (rc != OBK_OK)
        xutil_reply_status(c, rc);
    else
        reply_autoclaim(c, t, &a, justid);
out:
    free(a.x.ids);
    free(a.deleted);
}
