/* cmd_retention.c - XRETENTION, Obelisk's per-topic retention override (Kafka's per-topic
 * retention.bytes / retention.ms):
 *
 *   XRETENTION key                                   -> the override and what is in force
 *   XRETENTION key [BYTES n|-1|DEFAULT] [MS n|-1|DEFAULT] -> OK
 *
 * n >= 0 is the topic's own limit (BYTES takes memory units: 64mb), -1 keeps everything
 * whatever the server says, DEFAULT follows retention-bytes / retention-ms again. The reading
 * form replies a map (RESP2: a flat array): bytes, ms (the override: an integer, or nil when
 * the topic follows the server default), effective-bytes and effective-ms (what the retention
 * timer applies now, -1 = unlimited). The override lives in topic.meta (topic_set_retention)
 * and survives restarts and RENAME; the OK is held like any write until it is durable. Old
 * segments go on the next retention pass (every second, db.c). Main thread only. */
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/cmds.h"
#include "server/command.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/xutil.h"
#include "storage/keydir.h"
#include "storage/store.h"

#define R (&c->reply)

/* Parses a BYTES/MS value into RETENTION_DEFAULT, RETENTION_NONE or a limit >= 0; replies an
 * error and returns -1 when it is none of those. */
static int parse_limit(struct client *c, const char *s, size_t len, int memory, int64_t *out) {
    long long v;
    if (util_eq_nocase(s, len, "default")) {
        *out = RETENTION_DEFAULT;
        return 0;
    }
    int ok = memory ? (strlen(s) == len && util_parse_memory(s, &v)) : util_parse_ll(s, len, &v);
    if (!ok || v < -1) {
        reply_error(R, ERR_RETENTION_VALUE);
        return -1;
    }
    *out = v == -1 ? RETENTION_NONE : (int64_t)v;
    return 0;
}

static void reply_override(struct client *c, int64_t v) {
    if (v == RETENTION_DEFAULT)
        reply_null(R);
    else
        reply_int(R, (long long)v);
}

static void reply_settings(struct client *c, const struct topic *t) {
    int64_t rb = topic_retention_bytes(t), rm = topic_retention_ms(t);
    long long eb = rb == RETENTION_DEFAULT ? server_config.retention_bytes : (long long)rb;
    long long em = rm == RETENTION_DEFAULT ? server_config.retention_ms : (long long)rm;
    reply_map(R, 4);
    reply_bulk_cstr(R, "bytes");
    reply_override(c, rb);
    reply_bulk_cstr(R, "ms");
    reply_override(c, rm);
    reply_bulk_cstr(R, "effective-bytes");
    reply_int(R, eb < 0 ? -1 : eb);
    reply_bulk_cstr(R, "effective-ms");
    reply_int(R, em < 0 ? -1 : em);
}

static void cmd_xretention(CMD_ARGS) {
    int64_t bytes = 0, ms = 0;
    int set_bytes = 0, set_ms = 0;
    for (int i = 2; i < argc; i += 2) {
        int is_bytes = util_eq_nocase(argv[i], argvlen[i], "bytes");
        int is_ms = util_eq_nocase(argv[i], argvlen[i], "ms");
        if ((!is_bytes && !is_ms) || i + 1 >= argc) {
            reply_error(R, ERR_SYNTAX);
            return;
        }
        if (parse_limit(c, argv[i + 1], argvlen[i + 1], is_bytes, is_bytes ? &bytes : &ms) != 0)
            return;
        if (is_bytes) set_bytes = 1;
        if (is_ms) set_ms = 1;
    }
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    if (!t) {
        reply_error(R, ERR_NO_SUCH_KEY);
        return;
    }
    if (set_bytes || set_ms) {
        int rc = topic_set_retention(t, set_bytes ? bytes : topic_retention_bytes(t),
                                     set_ms ? ms : topic_retention_ms(t));
        if (rc != OBK_OK) {
            xutil_reply_status(c, rc);
            return;
        }
        reply_simple(R, "OK");
        return;
    }
    reply_settings(c, t);
}

/* Merged into the command table by command_table_init (command.c). */
struct command retention_commands[] = {
    {"xretention", cmd_xretention, -2, CMD_WRITE, 1, 1, 1, "stream", "7.0.15",
     "Sets or shows a topic's retention override (Obelisk).", "O(1)"},
    {0},
};
