/* cmd_offset.c - Obelisk's committed offsets, Kafka style: XCOMMIT key group id stores the
 * group's committed position durably (backwards is allowed: rewind; 0-0 resets to the start),
 * XCOMMITTED key group returns it (nil if the group never committed), and XLAG key [group]
 * reports per group the committed ID, last-delivered ID, log-end ID, exact lag (live entries
 * after the committed position, counted from the dense offsets, deleted entries excluded) and
 * pending count, like kafka-consumer-groups --describe. These are Obelisk's own commands; they
 * add nothing to Redis's XINFO replies. Main thread only. */
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/xutil.h"
#include "storage/cgroup.h"
#include "storage/store.h"

#define R (&c->reply)

static struct cg_group *find_group_or_reply(struct client *c, char **argv, size_t *argvlen,
                                            struct topic **t) {
    *t = xutil_lookup(c, argv[1], argvlen[1]);
    struct cg_group *g = *t ? cg_group_find(*t, argv[2], argvlen[2]) : NULL;
    if (!g) reply_errorf(R, ERR_NOGROUP_KEY_OR_GROUP, argv[1], argv[2]);
    return g;
}

void cmd_xcommit(CMD_ARGS) {
    (void)argc;
    sid_t id;
    struct topic *t;
    if (xutil_parse_id(c, argv[3], argvlen[3], 0, SID_PARSE_STRICT, &id, NULL, NULL) != 0) return;
    struct cg_group *g = find_group_or_reply(c, argv, argvlen, &t);
    if (!g) return;
    if (sid_cmp(id, topic_last_id(t)) > 0) {
        reply_error(R, ERR_XCOMMIT_ID_TOO_BIG);
        return;
    }
    cg_record_begin(t);
    int rc = cg_commit(t, g, id);
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
    if (rc != OBK_OK) {
        xutil_reply_status(c, rc);
        return;
    }
    reply_simple(R, "OK");
}

void cmd_xcommitted(CMD_ARGS) {
    (void)argc;
    struct topic *t;
    sid_t id;
    struct cg_group *g = find_group_or_reply(c, argv, argvlen, &t);
    if (!g) return;
    if (cg_committed(g, &id))
        xutil_reply_id(c, id);
    else
        reply_null(R);
}

struct lag_ctx {
    struct client *c;
    struct topic *t;
};

static int reply_group_lag(void *ctx, struct cg_group *g) {
    struct lag_ctx *x = ctx;
    struct client *c = x->c;
    sid_t committed = SID_MIN;
    int has = cg_committed(g, &committed);
    uint64_t lag = 0;
    size_t nl;
    const char *name = cg_group_name(g, &nl);
    topic_count_after(x->t, committed, &lag);
    size_t dl;
    const char *dkey = cg_group_dead_letter_key(g, &dl);
    uint64_t max = cg_group_max_deliveries(g);
    reply_map(R, 9);
    reply_bulk_cstr(R, "group");
    reply_bulk(R, name, nl);
    reply_bulk_cstr(R, "committed");
    if (has)
        xutil_reply_id(c, committed);
    else
        reply_null(R);
    reply_bulk_cstr(R, "last-delivered");
    xutil_reply_id(c, cg_group_last_id(g));
    reply_bulk_cstr(R, "log-end");
    xutil_reply_id(c, topic_last_id(x->t));
    reply_bulk_cstr(R, "lag");
    reply_int(R, (long long)lag);
    reply_bulk_cstr(R, "pending");
    reply_int(R, (long long)cg_group_pending_count(g));
    reply_bulk_cstr(R, "max-deliveries"); /* the dead-letter policy: nil when none */
    if (max)
        reply_int(R, (long long)max);
    else
        reply_null(R);
    reply_bulk_cstr(R, "dead-letter-key");
    if (dkey)
        reply_bulk(R, dkey, dl);
    else
        reply_null(R);
    reply_bulk_cstr(R, "dead-lettered");
    reply_int(R, (long long)cg_group_dead_lettered(g));
    return 0;
}

void cmd_xlag(CMD_ARGS) {
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    if (argc > 3) {
        reply_error(R, ERR_SYNTAX);
        return;
    }
    if (!t) {
        reply_error(R, ERR_NO_SUCH_KEY);
        return;
    }
    struct lag_ctx x = {c, t};
    if (argc == 3) {
        struct cg_group *g = cg_group_find(t, argv[2], argvlen[2]);
        if (!g) {
            reply_errorf(R, ERR_NOGROUP_KEY_OR_GROUP, argv[1], argv[2]);
            return;
        }
        reply_array(R, 1);
        reply_group_lag(&x, g);
        return;
    }
    reply_array(R, (long)cg_group_count(t));
    cg_group_foreach(t, reply_group_lag, &x);
}
