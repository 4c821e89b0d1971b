/* authfail.c - failed authentication, counted and logged (see authfail.h).
 *
 * Design: four counters, one per kind of denial, that only grow (Redis's acl_info, which
 * CONFIG RESETSTAT leaves alone; /metrics exports the auth one as a Prometheus counter, which
 * must not go back). Logging is rate-limited so that a password-guessing client cannot fill
 * the log or the disk: a warning goes out when at least a second has passed since the last
 * one, and otherwise the failure is only counted as suppressed; the next line reports how many
 * were suppressed, so no failure goes unaccounted. Only the peer, the user name (escaped and
 * cut) and the way in are logged, never the password or token. The clock is the wall clock in
 * milliseconds (util_mstime); a clock stepped backwards lets the next line through at once.
 *
 * Thread: main thread only (the command path and the HTTP face both run there); the state is
 * this file's statics. */
#include "server/authfail.h"

#include <stdio.h>

#include "base/log.h"
#include "base/util.h"

#define AUTHFAIL_LOG_INTERVAL_MS 1000
#define AUTHFAIL_USER_LOG_MAX    64

static struct {
    unsigned long long count[AUTHFAIL_KINDS];
    long long last_log_ms;             /* 0: nothing logged yet */
    unsigned long long suppressed;     /* failures not logged since the last line */
    unsigned long long lines;          /* lines written */
    unsigned long long suppressed_all; /* failures never logged, in total */
} af;

/* The user name for the log: printable ASCII kept (but not backslash), the rest as \xNN. */
static void escape_user(const char *user, size_t ulen, char *out, size_t cap) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, n = ulen < AUTHFAIL_USER_LOG_MAX ? ulen : AUTHFAIL_USER_LOG_MAX;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)user[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    if (ulen > n && o + 4 < cap) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = '\0';
}

void authfail_note(const char *peer_addr, const char *user, size_t ulen, const char *via) {
    af.count[AUTHFAIL_AUTH]++;
    long long now = util_mstime();
    if (af.last_log_ms && now >= af.last_log_ms &&
        now - af.last_log_ms < AUTHFAIL_LOG_INTERVAL_MS) {
        af.suppressed++;
        af.suppressed_all++;
        return;
    }
    char name[AUTHFAIL_USER_LOG_MAX * 4 + 8];
    escape_user(user ? user : "", user ? ulen : 0, name, sizeof(name));
    char more[96] = "";
    if (af.suppressed)
        snprintf(more, sizeof(more), " (%llu more failed attempts since the last such line)",
                 af.suppressed);
    log_msg(LOG_WARNING, "Failed authentication (%s) from %s for user '%s'%s", via,
            peer_addr && *peer_addr ? peer_addr : "?", name, more);
    af.last_log_ms = now;
    af.suppressed = 0;
    af.lines++;
}

void authfail_note_denied(int kind) {
    if (kind > AUTHFAIL_AUTH && kind < AUTHFAIL_KINDS) af.count[kind]++;
}

unsigned long long authfail_count(int kind) {
    return kind >= 0 && kind < AUTHFAIL_KINDS ? af.count[kind] : 0;
}

void authfail_log_stats(unsigned long long *lines, unsigned long long *suppressed) {
    *lines = af.lines;
    *suppressed = af.suppressed_all;
}
