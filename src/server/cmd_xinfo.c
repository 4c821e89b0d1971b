/* cmd_xinfo.c - XINFO STREAM key [FULL [COUNT n]] and XINFO HELP, with Redis 7.0's fields in
 * Redis's order. Two fields describe Redis's in-memory radix tree, which Obelisk does not have;
 * they carry stand-ins that grow and shrink the way Redis's do for the common case:
 * radix-tree-keys counts node-sized groups (stream-node-max-entries entries) of the live
 * entries, radix-tree-nodes is that count plus one (Redis's root), and an empty stream reports
 * 0 and 1 as Redis does. Main thread only. */
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/cmds.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/xgroup.h"
#include "server/xutil.h"
#include "storage/cgroup.h"
#include "storage/store.h"

#define R (&c->reply)

/* XINFO STREAM ... FULL shows this many entries unless COUNT says otherwise (Redis's default). */
#define XINFO_FULL_DEFAULT_COUNT 10

static int reply_one_entry(void *ctx, const struct obk_entry *e) {
    xutil_reply_entry(ctx, e);
    return 1; /* one is enough */
}

/* The first or last live entry as [id, fields], or null; a failed read is returned (and
 * nothing written) so the command answers with the error, never with a null. */
static int reply_edge_entry(struct client *c, struct topic *t, int last) {
    sid_t id;
    int rc = last ? topic_last_entry_id(t, &id) : topic_first_id(t, &id);
    if (rc == OBK_OK) rc = topic_get(t, id, reply_one_entry, c);
    if (rc == OBK_ERR_NOTFOUND) reply_null(R);
    return rc == OBK_ERR_NOTFOUND ? OBK_OK : rc;
}

static void reply_radix_standins(struct client *c, struct topic *t) {
    uint64_t len = topic_length(t), node = (uint64_t)server_config.stream_node_max_entries;
    if (node == 0) node = 100;
    uint64_t keys = (len + node - 1) / node;
    reply_bulk_cstr(R, "radix-tree-keys");
    reply_int(R, (long long)keys);
    reply_bulk_cstr(R, "radix-tree-nodes");
    reply_int(R, (long long)keys + 1);
}

static int reply_head_fields(struct client *c, struct topic *t) {
    sid_t first = SID_MIN;
    int rc = topic_length(t) == 0 ? OBK_ERR_NOTFOUND : topic_first_id(t, &first);
    if (rc != OBK_OK && rc != OBK_ERR_NOTFOUND) return rc;
    if (rc != OBK_OK) first = SID_MIN;
    reply_bulk_cstr(R, "length");
    reply_int(R, (long long)topic_length(t));
    reply_radix_standins(c, t);
    reply_bulk_cstr(R, "last-generated-id");
    xutil_reply_id(c, topic_last_id(t));
    reply_bulk_cstr(R, "max-deleted-entry-id");
    xutil_reply_id(c, topic_max_deleted(t));
    reply_bulk_cstr(R, "entries-added");
    reply_int(R, (long long)topic_entries_added(t));
    reply_bulk_cstr(R, "recorded-first-entry-id");
    xutil_reply_id(c, first);
    return OBK_OK;
}

/* ---- groups (XINFO STREAM FULL, XINFO GROUPS, XINFO CONSUMERS) ---- */

static void reply_entries_read_and_lag(struct client *c, struct topic *t, struct cg_group *g) {
    long long er = cg_group_entries_read(g), lag;
    reply_bulk_cstr(R, "entries-read");
    if (er != XGROUP_ENTRIES_READ_INVALID)
        reply_int(R, er);
    else
        reply_null(R);
    reply_bulk_cstr(R, "lag");
    if (xgroup_lag(t, g, &lag))
        reply_int(R, lag);
    else
        reply_null(R);
}

struct full_ctx {
    struct client *c;
    struct topic *t;
    struct cg_group *g;
    long long count; /* 0 = all */
    long long now;
    long n;
};

static int full_group_pending(void *ctx, const struct cg_pending *p) {
    struct full_ctx *f = ctx;
    struct client *c = f->c;
    if (f->count && f->n >= f->count) return 1;
    size_t nl = 0; /* an entry released with XNACK: no owner, delivered at time 0 */
    const char *name = p->consumer ? cg_consumer_name(p->consumer, &nl) : "";
    reply_array(R, 4);
    xutil_reply_id(c, p->id);
    reply_bulk(R, name, nl);
    reply_int(R, p->consumer ? p->delivery_ms : 0);
    reply_int(R, (long long)p->delivery_count);
    f->n++;
    return 0;
}

static int full_consumer_pending(void *ctx, const struct cg_pending *p) {
    struct full_ctx *f = ctx;
    struct client *c = f->c;
    if (f->count && f->n >= f->count) return 1;
    reply_array(R, 3);
    xutil_reply_id(c, p->id);
    reply_int(R, p->delivery_ms);
    reply_int(R, (long long)p->delivery_count);
    f->n++;
    return 0;
}

static int full_consumer(void *ctx, struct cg_consumer *cons) {
    struct full_ctx *f = ctx, sub = *f;
    struct client *c = f->c;
    size_t nl;
    const char *name = cg_consumer_name(cons, &nl);
    reply_map(R, 4);
    reply_bulk_cstr(R, "name");
    reply_bulk(R, name, nl);
    reply_bulk_cstr(R, "seen-time");
    reply_int(R, cg_consumer_seen_ms(cons));
    reply_bulk_cstr(R, "pel-count");
    reply_int(R, (long long)cg_consumer_pending_count(cons));
    reply_bulk_cstr(R, "pending");
    sub.n = 0;
    int h = reply_defer_len(R);
    cg_pending_range(f->g, cons, SID_MIN, SID_MAX, full_consumer_pending, &sub);
    reply_set_array_len(R, h, sub.n);
    return 0;
}

static int full_group(void *ctx, struct cg_group *g) {
    struct full_ctx *f = ctx, sub = *f;
    struct client *c = f->c;
    size_t nl;
    const char *name = cg_group_name(g, &nl);
    sub.g = g;
    reply_map(R, 7);
    reply_bulk_cstr(R, "name");
    reply_bulk(R, name, nl);
    reply_bulk_cstr(R, "last-delivered-id");
    xutil_reply_id(c, cg_group_last_id(g));
    reply_entries_read_and_lag(c, f->t, g);
    reply_bulk_cstr(R, "pel-count");
    reply_int(R, (long long)cg_group_pending_count(g));
    reply_bulk_cstr(R, "pending");
    sub.n = 0;
    int h = reply_defer_len(R);
    cg_pending_range(g, NULL, SID_MIN, SID_MAX, full_group_pending, &sub);
    reply_set_array_len(R, h, sub.n);
    reply_bulk_cstr(R, "consumers");
    reply_array(R, (long)cg_group_consumer_count(g));
    cg_consumer_foreach(g, full_consumer, &sub);
    return 0;
}

static int group_summary(void *ctx, struct cg_group *g) {
    struct full_ctx *f = ctx;
    struct client *c = f->c;
    size_t nl;
    const char *name = cg_group_name(g, &nl);
    reply_map(R, 6);
    reply_bulk_cstr(R, "name");
    reply_bulk(R, name, nl);
    reply_bulk_cstr(R, "consumers");
    reply_int(R, (long long)cg_group_consumer_count(g));
    reply_bulk_cstr(R, "pending");
    reply_int(R, (long long)cg_group_pending_count(g));
    reply_bulk_cstr(R, "last-delivered-id");
    xutil_reply_id(c, cg_group_last_id(g));
    reply_entries_read_and_lag(c, f->t, g);
    return 0;
}

void cmd_xinfo_groups(CMD_ARGS) {
    (void)argc;
    struct topic *t = xutil_lookup(c, argv[2], argvlen[2]);
    if (!t) {
        reply_error(R, ERR_NO_SUCH_KEY);
        return;
    }
    struct full_ctx f = {c, t, NULL, 0, 0, 0};
    reply_array(R, (long)cg_group_count(t));
    cg_group_foreach(t, group_summary, &f);
}

static int consumer_summary(void *ctx, struct cg_consumer *cons) {
    struct full_ctx *f = ctx;
    struct client *c = f->c;
    size_t nl;
    const char *name = cg_consumer_name(cons, &nl);
    long long idle = f->now - cg_consumer_seen_ms(cons);
    reply_map(R, 3);
    reply_bulk_cstr(R, "name");
    reply_bulk(R, name, nl);
    reply_bulk_cstr(R, "pending");
    reply_int(R, (long long)cg_consumer_pending_count(cons));
    reply_bulk_cstr(R, "idle");
    reply_int(R, idle < 0 ? 0 : idle);
    return 0;
}

void cmd_xinfo_consumers(CMD_ARGS) {
    (void)argc;
    struct topic *t = xutil_lookup(c, argv[2], argvlen[2]);
    if (!t) {
        reply_error(R, ERR_NO_SUCH_KEY);
        return;
    }
    struct cg_group *g = cg_group_find(t, argv[3], argvlen[3]);
    if (!g) {
        reply_errorf(R, ERR_NOGROUP_FOR_KEY, argv[3], argv[2]);
        return;
    }
    struct full_ctx f = {c, t, g, 0, util_mstime(), 0};
    reply_array(R, (long)cg_group_consumer_count(g));
    cg_consumer_foreach(g, consumer_summary, &f);
}

void cmd_xinfo_stream(CMD_ARGS) {
    int full = 0;
    long long count = XINFO_FULL_DEFAULT_COUNT;
    struct topic *t = xutil_lookup(c, argv[2], argvlen[2]);
    if (!t) { /* Redis looks the key up before it reads the options */
        reply_error(R, ERR_NO_SUCH_KEY);
        return;
    }
    if (argc > 3) {
        if (!util_eq_nocase(argv[3], argvlen[3], "FULL") || (argc != 4 && argc != 6) ||
            (argc == 6 && !util_eq_nocase(argv[4], argvlen[4], "COUNT"))) {
            reply_error(R, ERR_XINFO_STREAM_ARITY);
            return;
        }
        full = 1;
        if (argc == 6) {
            if (xutil_parse_ll(c, argv[5], argvlen[5], &count) != 0) return;
            if (count < 0) count = 0;
        }
    }
    int outer = reply_defer_len(R), rc;
    if (!full) {
        if ((rc = reply_head_fields(c, t)) != OBK_OK) goto read_failed;
        reply_bulk_cstr(R, "groups");
        reply_int(R, (long long)cg_group_count(t));
        reply_bulk_cstr(R, "first-entry");
        if ((rc = reply_edge_entry(c, t, 0)) != OBK_OK) goto read_failed;
        reply_bulk_cstr(R, "last-entry");
        if ((rc = reply_edge_entry(c, t, 1)) != OBK_OK) goto read_failed;
        reply_set_map_len(R, outer, 10);
        return;
    }
    if ((rc = reply_head_fields(c, t)) != OBK_OK) goto read_failed;
    reply_bulk_cstr(R, "entries");
    struct xutil_range r = {c, 0, NULL};
    int h = reply_defer_len(R);
    rc = topic_range(t, SID_MIN, SID_MAX, (uint64_t)count, 0, xutil_range_cb, &r);
    if (rc != OBK_OK) {
        reply_discard_deferred(R, h);
        goto read_failed;
    }
    reply_set_array_len(R, h, r.n);
    reply_bulk_cstr(R, "groups");
    struct full_ctx f = {c, t, NULL, count, util_mstime(), 0};
    reply_array(R, (long)cg_group_count(t));
    cg_group_foreach(t, full_group, &f);
    reply_set_map_len(R, outer, 9);
    return;
read_failed: /* nothing of it was sent: answer the error instead */
    reply_discard_deferred(R, outer);
    xutil_reply_read_error(c, rc);
}

void cmd_xinfo_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}
