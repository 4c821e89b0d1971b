/* http_cmd.h - the HTTP API's command adapter: runs real commands (XADD, XRANGE, XREADGROUP
 * ...) for HTTP requests through internal client connections, so every rule of the command
 * path applies unchanged: argument checks and error texts, ID choice and trimming, loading
 * and read-only refusals, blocking reads, commandstats, and the durability contract (a reply
 * is released only when what it touched is durable, durable.h).
 *
 * An internal connection is one end of a socket pair accepted by the transport like any client
 * (authenticated, RESP3, named "http-api", shown by CLIENT LIST; the HTTP face has checked the
 * request's credentials before, and running the commands as the request's user arrives with
 * ACL users); the other end is read here
 * and its replies parsed with respv.h. A caller takes a connection, queues commands, runs them
 * and gets every reply at once in a callback, then gives the connection back (idle ones are
 * kept for reuse). Main thread only. */
#ifndef OBK_HTTP_CMD_H
#define OBK_HTTP_CMD_H

#include <stddef.h>

#include "protocol/respv.h"

/* A command being built: arguments are copied. */
struct hargs {
    int argc, cap;
    char **argv;
    size_t *lens;
    int failed; /* out of memory */
};

void hargs_init(struct hargs *a);
void hargs_add(struct hargs *a, const char *p, size_t len);
void hargs_addstr(struct hargs *a, const char *s);
void hargs_addll(struct hargs *a, long long v);
void hargs_free(struct hargs *a);

struct hcmd;
struct client;
/* Called once with the replies of the commands queued since the last run (n of them), or with
 * replies NULL and n 0 when the connection was lost. The replies are freed after the call;
 * the callback may take ownership of one by copying the struct and zeroing the original. */
typedef void (*hcmd_done_fn)(void *ctx, struct respv *replies, size_t n);

/* A connection: an idle one, or a new one. NULL when none can be made (the transport refused:
 * maxclients). */
struct hcmd *hcmd_open(void);
/* Runs the connection's commands as the ACL user named user (the default user when user is
 * NULL: no authentication is configured). Returns 0, or -1 when there is no such user (deleted
 * since the request authenticated) or the connection is gone. */
int hcmd_set_user(struct hcmd *h, const char *user, size_t len);
/* The transport's release hook: forgets a freed server-side client. */
void hcmd_client_gone(struct client *c);
/* Queues a command (arguments copied). Returns 0, or -1 (out of memory). */
int hcmd_add(struct hcmd *h, const struct hargs *a);
/* Sends the queued commands in database db (a SELECT is added when the connection is in
 * another one) and calls fn with their replies. One run at a time. Returns 0, or -1 when the
 * connection is lost (fn is not called). */
int hcmd_run(struct hcmd *h, int db, hcmd_done_fn fn, void *ctx);
/* Gives the connection back: kept for reuse when it is idle and healthy, else closed (a
 * pending run is abandoned and its callback never called; a blocked command is dropped with
 * the connection, as when a client disconnects). Safe inside the callback. */
void hcmd_close(struct hcmd *h);
/* Internal connections open now (in use or idle). */
int hcmd_count(void);
/* Closes the idle ones (shutdown). */
void hcmd_close_idle(void);

#endif
