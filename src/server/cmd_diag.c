/* cmd_diag.c - MONITOR, SLOWLOG (GET, LEN, RESET, HELP) and LATENCY (LATEST, HISTORY, RESET,
 * HELP) with Redis 7's replies, over monitor.c, slowlog.c and latency.c. What is recorded, and
 * when, is command.c's (commands) and db.c's (fsync) business. Main thread only. */
#include <string.h>

#include "base/util.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/latency.h"
#include "server/monitor.h"
#include "server/slowlog.h"

#define R (&c->reply)

void cmd_slowlog_get(CMD_ARGS) {
    long long count = 10;
    if (argc > 3) {
        reply_error(R, ERR_SLOWLOG_GET_ARITY);
        return;
    }
    if (argc == 3 && (!util_parse_ll(argv[2], argvlen[2], &count) || count < -1)) {
        reply_error(R, ERR_SLOWLOG_COUNT);
        return;
    }
    long long n = slowlog_len();
    if (count >= 0 && count < n) n = count;
    reply_array(R, n);
    const struct slowlog_entry *e = slowlog_first();
    for (long long i = 0; i < n && e; i++, e = e->next) {
        reply_array(R, 6);
        reply_int(R, e->id);
        reply_int(R, e->time);
        reply_int(R, e->duration);
        reply_array(R, e->argc);
        for (int j = 0; j < e->argc; j++) reply_bulk(R, e->argv[j], e->argvlen[j]);
        reply_bulk_cstr(R, e->peer);
        reply_bulk_cstr(R, e->name);
    }
}

void cmd_slowlog_len(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    reply_int(R, slowlog_len());
}

void cmd_slowlog_reset(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    slowlog_reset();
    reply_simple(R, "OK");
}

void cmd_slowlog_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "GET [<count>]",
        "    Shows the newest <count> entries of the slow log (10 by default, -1 for all).",
        "    Each entry: id, unix time, microseconds, arguments, client address, client name.",
        "LEN",
        "    Shows how many entries the slow log holds.",
        "RESET",
        "    Empties the slow log.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

void cmd_latency_latest(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    int n = 0;
    while (latency_at(n)) n++;
    reply_array(R, n);
    for (int i = 0; i < n; i++) {
        const struct latency_series *ts = latency_at(i);
        int last = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
        reply_array(R, 4);
        reply_bulk_cstr(R, ts->event);
        reply_int(R, ts->samples[last].time);
        reply_int(R, ts->samples[last].latency);
        reply_int(R, ts->max);
    }
}

void cmd_latency_history(CMD_ARGS) {
    (void)argc;
    const struct latency_series *ts = latency_find(argv[2], argvlen[2]);
    int n = 0;
    for (int i = 0; ts && i < LATENCY_TS_LEN; i++) n += ts->samples[i].time != 0;
    reply_array(R, n);
    for (int k = 0; ts && k < LATENCY_TS_LEN; k++) { /* oldest first */
        const struct latency_sample *s = &ts->samples[(ts->idx + k) % LATENCY_TS_LEN];
        if (s->time == 0) continue;
        reply_array(R, 2);
        reply_int(R, s->time);
        reply_int(R, s->latency);
    }
}

void cmd_latency_reset(CMD_ARGS) {
    if (argc == 2) {
        reply_int(R, latency_reset_all());
        return;
    }
    int n = 0;
    for (int i = 2; i < argc; i++) n += latency_reset_event(argv[i], argvlen[i]);
    reply_int(R, n);
}

void cmd_latency_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "HISTORY <event>",
        "    Shows the time-latency samples of <event> (command, fast-command, fsync).",
        "LATEST",
        "    Shows the latest sample of every event: time, latency, all-time maximum.",
        "RESET [<event> ...]",
        "    Forgets the samples of the events (all events when none is named).",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

void cmd_monitor(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    if (c->flags & CLIENT_IN_EXEC) {
        reply_error(R, ERR_MONITOR_IN_EXEC);
        return;
    }
    if (monitor_add(c) != 0) return; /* already a monitor: no reply, as in Redis */
    reply_simple(R, "OK");
}
