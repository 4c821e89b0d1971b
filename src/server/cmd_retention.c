/* cmd_retention.c - Obelisk's per-topic settings (Kafka's per-topic retention.bytes,
 * retention.ms and compression.type): XSETTINGS, the general form, and XRETENTION, the older one
 * for retention only.
 *
 *   XSETTINGS GET key                                 -> every override and what is in force
 *   XSETTINGS SET key name value [name value ...]     -> OK (all applied, or none)
 *   XSETTINGS HELP
 * (GET is a read, so it answers on a replica too; SET is a write.)
 *     retention-bytes n|-1|DEFAULT, retention-ms n|-1|DEFAULT, compression none|zstd|DEFAULT,
 *     compression-level 1..19|DEFAULT
 *   XRETENTION key                                   -> the override and what is in force
 *   XRETENTION key [BYTES n|-1|DEFAULT] [MS n|-1|DEFAULT] -> OK
 *
 * XSETTINGS GET key replies a map (RESP2: a flat array) of eight: retention-bytes, retention-ms,
 * compression, compression-level (the override: nil when the topic follows the server's
 * setting) and effective-retention-bytes, effective-retention-ms, effective-compression,
 * effective-compression-level (what applies now; the level is 0 when batches are written
 * plain). A compression change applies to batches written from then on (docs/storage.md).
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
#include "storage/batch_format.h"
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

/* XSETTINGS: the values parsed so far; set_* say which names were given. */
struct settings {
    int64_t bytes, ms;
    int compression, level;
    int set_bytes, set_ms, set_compression, set_level;
};

/* Parses one name/value pair into st; replies an error and returns -1 when it is not one. */
static int parse_setting(struct client *c, char **argv, size_t *argvlen, int i,
                         struct settings *st) {
    const char *v = argv[i + 1];
    size_t vl = argvlen[i + 1];
    if (util_eq_nocase(argv[i], argvlen[i], "retention-bytes")) {
        st->set_bytes = 1;
        return parse_limit(c, v, vl, 1, &st->bytes);
    }
    if (util_eq_nocase(argv[i], argvlen[i], "retention-ms")) {
        st->set_ms = 1;
        return parse_limit(c, v, vl, 0, &st->ms);
    }
    if (util_eq_nocase(argv[i], argvlen[i], "compression")) {
        st->set_compression = 1;
        if (util_eq_nocase(v, vl, "default"))
            st->compression = TOPIC_COMPRESSION_DEFAULT;
        else if (util_eq_nocase(v, vl, "none"))
            st->compression = TOPIC_COMPRESSION_NONE;
        else if (util_eq_nocase(v, vl, "zstd"))
            st->compression = TOPIC_COMPRESSION_ZSTD;
        else {
            reply_error(R, ERR_COMPRESSION_VALUE);
            return -1;
        }
        return 0;
    }
    if (util_eq_nocase(argv[i], argvlen[i], "compression-level")) {
        long long n;
        st->set_level = 1;
        if (util_eq_nocase(v, vl, "default")) {
            st->level = 0;
            return 0;
        }
        if (!util_parse_ll(v, vl, &n) || n < 1 || n > BATCH_ZSTD_LEVEL_MAX) {
            reply_error(R, ERR_COMPRESSION_LEVEL);
            return -1;
        }
        st->level = (int)n;
        return 0;
    }
    reply_error(R, ERR_SETTING_UNKNOWN);
    return -1;
}

static void reply_compression(struct client *c, int mode) {
    if (mode == TOPIC_COMPRESSION_DEFAULT)
        reply_null(R);
    else
        reply_bulk_cstr(R, mode == TOPIC_COMPRESSION_ZSTD ? "zstd" : "none");
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

static void reply_all_settings(struct client *c, const struct topic *t) {
    int64_t rb = topic_retention_bytes(t), rm = topic_retention_ms(t);
    long long eb = rb == RETENTION_DEFAULT ? server_config.retention_bytes : (long long)rb;
    long long em = rm == RETENTION_DEFAULT ? server_config.retention_ms : (long long)rm;
    int level = topic_compression_level(t), effective = topic_effective_compression_level(t);
    reply_map(R, 8);
    reply_bulk_cstr(R, "retention-bytes");
    reply_override(c, rb);
    reply_bulk_cstr(R, "retention-ms");
    reply_override(c, rm);
    reply_bulk_cstr(R, "compression");
    reply_compression(c, topic_compression(t));
    reply_bulk_cstr(R, "compression-level");
    if (level)
        reply_int(R, level);
    else
        reply_null(R);
    reply_bulk_cstr(R, "effective-retention-bytes");
    reply_int(R, eb < 0 ? -1 : eb);
    reply_bulk_cstr(R, "effective-retention-ms");
    reply_int(R, em < 0 ? -1 : em);
    reply_bulk_cstr(R, "effective-compression");
    reply_bulk_cstr(R, effective ? "zstd" : "none");
    reply_bulk_cstr(R, "effective-compression-level");
    reply_int(R, effective);
}

static void cmd_xsettings_get(CMD_ARGS) {
    (void)argc;
    struct topic *t = xutil_lookup(c, argv[2], argvlen[2]);
    if (!t)
        reply_error(R, ERR_NO_SUCH_KEY);
    else
        reply_all_settings(c, t);
}

static void cmd_xsettings_set(CMD_ARGS) {
    struct settings st = {0};
    if (argc % 2 == 0) {
        reply_error(R, ERR_SYNTAX);
        return;
    }
    for (int i = 3; i < argc; i += 2)
        if (parse_setting(c, argv, argvlen, i, &st) != 0) return;
    struct topic *t = xutil_lookup(c, argv[2], argvlen[2]);
    if (!t) {
        reply_error(R, ERR_NO_SUCH_KEY);
        return;
    }
    int rc = OBK_OK;
    if (st.set_bytes || st.set_ms)
        rc = topic_set_retention(t, st.set_bytes ? st.bytes : topic_retention_bytes(t),
                                 st.set_ms ? st.ms : topic_retention_ms(t));
    if (rc == OBK_OK && (st.set_compression || st.set_level))
        rc = topic_set_compression(t, st.set_compression ? st.compression : topic_compression(t),
                                   st.set_level ? st.level : topic_compression_level(t));
    if (rc != OBK_OK) {
        xutil_reply_status(c, rc);
        return;
    }
    reply_simple(R, "OK");
}

static void cmd_xsettings_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "GET <key>",
        "    Show the topic's overrides and the settings in force.",
        "SET <key> <name> <value> [<name> <value> ...]",
        "    Override retention-bytes, retention-ms, compression (none|zstd) or",
        "    compression-level (1-19) for this topic; DEFAULT follows the server again.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "XSETTINGS <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

static struct command xsettings_subcommands[] = {
    {"get", cmd_xsettings_get, 3, CMD_READONLY, 2, 2, 1, "stream", "7.0.15",
     "Shows a topic's settings and what is in force (Obelisk).", "O(1)"},
    {"set", cmd_xsettings_set, -5, CMD_WRITE, 2, 2, 1, "stream", "7.0.15",
     "Overrides a topic's retention or compression (Obelisk).", "O(1)"},
    {"help", cmd_xsettings_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "stream", "7.0.15",
     "Lists the subcommands and what they do.", "O(1)"},
    {0},
};

/* Merged into the command table by command_table_init (command.c). */
struct command retention_commands[] = {
    {"xsettings", NULL, -2, 0, 0, 0, 0, "stream", "7.0.15",
     "A container for a topic's settings: retention and compression (Obelisk).",
     "Depends on subcommand.", xsettings_subcommands},
    {"xretention", cmd_xretention, -2, CMD_WRITE, 1, 1, 1, "stream", "7.0.15",
     "Sets or shows a topic's retention override (Obelisk).", "O(1)"},
    {0},
};
