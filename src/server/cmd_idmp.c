/* cmd_idmp.c - XCFGSET key [IDMP-DURATION seconds] [IDMP-MAXSIZE n] (Redis 8.6): the bounds of
 * a stream's idempotent-producer state (XADD ... IDMP / IDMPAUTO, cmd_stream.c).
 *
 * A stream takes stream-idmp-duration and stream-idmp-maxsize when its state is created (its
 * first IDMP XADD or XCFGSET); XCFGSET changes them for that stream only, and a change forgets
 * every recorded id (the counters stay), as Redis does; the same values again change nothing.
 * The new bounds are an operation of the stream's side log, durable before the OK. Checks in
 * Redis's order: the key, then the arguments left to right. Main thread only. */
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/cmds.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/xutil.h"
#include "storage/idmp.h"
#include "storage/store.h"

#define R (&c->reply)

void cmd_xcfgset(CMD_ARGS) {
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    if (!t) {
        reply_error(R, ERR_NO_SUCH_KEY);
        return;
    }
    struct idmp_stats st;
    int64_t duration = server_config.stream_idmp_duration;
    uint64_t maxsize = (uint64_t)server_config.stream_idmp_maxsize;
    topic_idmp_stats(t, &duration, &maxsize, &st); /* the stream's own, when it has them */
    int seen_duration = 0, seen_maxsize = 0;
    for (int i = 2; i < argc; i += 2) {
        int is_duration = util_eq_nocase(argv[i], argvlen[i], "IDMP-DURATION");
        int is_maxsize = util_eq_nocase(argv[i], argvlen[i], "IDMP-MAXSIZE");
        long long v;
        if ((!is_duration && !is_maxsize) || i + 1 >= argc) {
            reply_error(R, ERR_SYNTAX);
            return;
        }
        if (xutil_parse_ll(c, argv[i + 1], argvlen[i + 1], &v) != 0) return;
        if (is_duration ? (v < 1 || v > IDMP_DURATION_MAX) : (v < 1 || v > IDMP_MAXSIZE_MAX)) {
            reply_error(R, is_duration ? ERR_XCFGSET_DURATION : ERR_XCFGSET_MAXSIZE);
            return;
        }
        if (is_duration ? seen_duration++ : seen_maxsize++) {
            reply_errorf(R, ERR_XCFGSET_TWICE, is_duration ? "IDMP-DURATION" : "IDMP-MAXSIZE");
            return;
        }
        if (is_duration)
            duration = v;
        else
            maxsize = (uint64_t)v;
    }
    if (!seen_duration && !seen_maxsize) {
        reply_error(R, ERR_XCFGSET_NONE);
        return;
    }
    int rc = topic_idmp_configure(t, duration, maxsize);
    if (rc != OBK_OK) {
        xutil_reply_status(c, rc);
        return;
    }
    reply_simple(R, "OK");
}

#define F(x) CMD_##x

/* Merged into the command table by command_table_init (command.c). */
struct command idmp_commands[] = {
    {"xcfgset", cmd_xcfgset, -2, F(WRITE) | F(FAST), 1, 1, 1, "stream", "8.6.0",
     "Sets the bounds of a stream's idempotent-producer ids.", "O(1)",
     .args = "key:key IDMP-DURATION=duration:integer? IDMP-MAXSIZE=maxsize:integer?"},
    {NULL},
};
