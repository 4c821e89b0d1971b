/* authfail.h - failed authentication, counted and logged: every wrong password or token given
 * to AUTH, HELLO ... AUTH or the HTTP face (INFO stats acl_access_denied_auth, /metrics
 * obelisk_auth_failures_total), plus the counters of Redis's ACL denials (commands, keys,
 * channels) for the ACL rules to increment. A foundation module: it knows no client or
 * connection, only the texts it is given. Main thread only. */
#ifndef OBK_AUTHFAIL_H
#define OBK_AUTHFAIL_H

#include <stddef.h>

/* What was denied, as Redis 7.2's INFO stats names it (acl_access_denied_<kind>). */
enum authfail_kind {
    AUTHFAIL_AUTH = 0, /* a wrong user name, password or token */
    AUTHFAIL_CMD,      /* a command the user may not run */
    AUTHFAIL_KEY,      /* a key the user may not touch */
    AUTHFAIL_CHANNEL,  /* a Pub/Sub channel the user may not use */
    AUTHFAIL_KINDS
};

/* Counts one failed authentication and logs a warning naming the peer, the user name and the
 * way in (via: "AUTH", "HELLO", "HTTP"), at most one line a second; a line says how many
 * failures went unlogged since the previous one. The password is never given here. The user
 * name is logged with bytes outside printable ASCII escaped, and cut at 64 bytes. */
void authfail_note(const char *peer_addr, const char *user, size_t ulen, const char *via);
/* Counts one ACL denial of kind (AUTHFAIL_CMD, AUTHFAIL_KEY or AUTHFAIL_CHANNEL); no log line
 * (Redis keeps those in ACL LOG). */
void authfail_note_denied(int kind);
/* The count of kind since the server started (CONFIG RESETSTAT does not clear these, as in
 * Redis, whose resetServerStats leaves acl_info alone). */
unsigned long long authfail_count(int kind);
/* Log lines written and failures left unlogged so far (for tests of the rate limit). */
void authfail_log_stats(unsigned long long *lines, unsigned long long *suppressed);

#endif
