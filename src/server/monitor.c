/* monitor.c - the MONITOR clients and the line each command sends them (see monitor.h).
 *
 * Design: a small array of monitoring clients (few in practice). A line is built once per
 * command, as Redis's replicationFeedMonitors builds it (sdscatrepr quoting: \\ \" \n \r \t \a
 * \b escaped, other bytes outside printable ASCII as \xhh), and appended to each monitor's
 * stage as a status reply, then sent unless that client has replies held for durability
 * (they go first, in order). Main thread only. */
#include "server/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#include <event2/buffer.h>

#include "base/sbuf.h"
#include "server/conn.h"

#define MONITOR_MAX_REDACT 32 /* the positions command_redact marks */

static struct client **monitors;
static int nmon, capmon;

int monitor_active(void) {
    return nmon > 0;
}

int monitor_add(struct client *c) {
    if (c->flags & CLIENT_MONITOR) return -1;
    if (nmon == capmon) {
        int cap = capmon ? capmon * 2 : 4;
        struct client **n = realloc(monitors, (size_t)cap * sizeof(*n));
        if (!n) return -1;
        monitors = n;
        capmon = cap;
    }
    monitors[nmon++] = c;
    c->flags |= CLIENT_MONITOR;
    return 0;
}

void monitor_remove(struct client *c) {
    if (!(c->flags & CLIENT_MONITOR)) return;
    c->flags &= ~CLIENT_MONITOR;
    for (int i = 0; i < nmon; i++)
        if (monitors[i] == c) {
            monitors[i] = monitors[--nmon];
            break;
        }
    if (nmon == 0) {
        free(monitors);
        monitors = NULL;
        capmon = 0;
    }
}

/* Redis's sdscatrepr. */
static void add_repr(struct sbuf *b, const char *p, size_t len) {
    sbuf_add(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': sbuf_add(b, "\\\\", 2); break;
        case '"': sbuf_add(b, "\\\"", 2); break;
        case '\n': sbuf_add(b, "\\n", 2); break;
        case '\r': sbuf_add(b, "\\r", 2); break;
        case '\t': sbuf_add(b, "\\t", 2); break;
        case '\a': sbuf_add(b, "\\a", 2); break;
        case '\b': sbuf_add(b, "\\b", 2); break;
        default:
            if (ch >= 0x20 && ch < 0x7f)
                sbuf_add(b, (const char *)&ch, 1);
            else
                sbuf_printf(b, "\\x%02x", ch);
        }
    }
    sbuf_add(b, "\"", 1);
}

void monitor_feed(const struct client *c, int argc, char **argv, const size_t *argvlen,
                  const unsigned char *redact) {
    if (nmon == 0) return;
    struct timeval tv;
    struct sbuf b;
    gettimeofday(&tv, NULL);
    sbuf_init(&b);
    sbuf_printf(&b, "+%ld.%06ld [%d %s] ", (long)tv.tv_sec, (long)tv.tv_usec, c->db, c->addr);
    for (int j = 0; j < argc; j++) {
        if (j < MONITOR_MAX_REDACT && redact && redact[j])
            add_repr(&b, "(redacted)", 10);
        else
            add_repr(&b, argv[j], argvlen[j]);
        if (j != argc - 1) sbuf_add(&b, " ", 1);
    }
    sbuf_add(&b, "\r\n", 2);
    if (!b.failed && b.p)
        for (int i = 0; i < nmon; i++) {
            struct client *m = monitors[i];
            if (m->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSE_AFTER_REPLY)) continue;
            evbuffer_add(m->stage, b.p, b.len);
            /* the running client's own line goes out with its reply (command.c) */
            if (m != c) conn_flush_stage(m);
        }
    sbuf_free(&b);
}
