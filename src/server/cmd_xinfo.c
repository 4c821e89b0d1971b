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
#include "server/xutil.h"
#include "storage/store.h"

#define R (&c->reply)

/* XINFO STREAM ... FULL shows this many entries unless COUNT says otherwise (Redis's default). */
#define XINFO_FULL_DEFAULT_COUNT 10

static int reply_one_entry(void *ctx, const struct obk_entry *e) {
    xutil_reply_entry(ctx, e);
    return 1; /* one is enough */
}

/* The first or last live entry as [id, fields], or null. */
static void reply_edge_entry(struct client *c, struct topic *t, int last) {
    sid_t id;
    int rc = last ? topic_last_entry_id(t, &id) : topic_first_id(t, &id);
    if (rc != OBK_OK || topic_get(t, id, reply_one_entry, c) != OBK_OK) reply_null(R);
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

static void reply_head_fields(struct client *c, struct topic *t) {
    sid_t first = SID_MIN;
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
    if (topic_length(t) == 0 || topic_first_id(t, &first) != OBK_OK) first = SID_MIN;
    xutil_reply_id(c, first);
}

void cmd_xinfo_stream(CMD_ARGS) {
    int full = 0;
    long long count = XINFO_FULL_DEFAULT_COUNT;
    if (argc > 3) {
        if (!util_eq_nocase(argv[3], argvlen[3], "FULL") || (argc != 4 && argc != 6) ||
            (argc == 6 && !util_eq_nocase(argv[4], argvlen[4], "COUNT"))) {
            reply_error(R, "ERR unknown subcommand or wrong number of arguments for 'STREAM'. "
                           "Try XINFO HELP.");
            return;
        }
        full = 1;
        if (argc == 6) {
            if (xutil_parse_ll(c, argv[5], argvlen[5], &count) != 0) return;
            if (count < 0) count = 0;
        }
    }
    struct topic *t = xutil_lookup(c, argv[2], argvlen[2]);
    if (!t) {
        reply_error(R, "ERR no such key");
        return;
    }
    conn_wait_for(c, topic_wait_seq(t));
    if (!full) {
        reply_map(R, 10);
        reply_head_fields(c, t);
        reply_bulk_cstr(R, "groups");
        reply_int(R, 0);
        reply_bulk_cstr(R, "first-entry");
        reply_edge_entry(c, t, 0);
        reply_bulk_cstr(R, "last-entry");
        reply_edge_entry(c, t, 1);
        return;
    }
    int outer = reply_defer_len(R);
    reply_head_fields(c, t);
    reply_bulk_cstr(R, "entries");
    struct xutil_range r = {c, 0};
    int h = reply_defer_len(R);
    int rc = topic_range(t, SID_MIN, SID_MAX, (uint64_t)count, 0, xutil_range_cb, &r);
    if (rc != OBK_OK) {
        reply_discard_deferred(R, h);
        reply_discard_deferred(R, outer);
        xutil_reply_read_error(c, rc);
        return;
    }
    reply_set_array_len(R, h, r.n);
    reply_bulk_cstr(R, "groups");
    reply_array(R, 0);
    reply_set_map_len(R, outer, 9);
}

void cmd_xinfo_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}
