/* conn.h - the transport: one client connection's socket (a bufferevent), query buffer,
 * request parser, reply writer and stage buffer, and the list of every connection.
 *
 * The lowest server level above runtime/stats/config: it includes no other server module. It
 * parses requests and hands each to the one request handler installed at start-up
 * (conn_set_request_handler: command.c), and tells the layers above that a client goes away
 * through release hooks (conn_add_release_hook). It never decides whether a reply may leave:
 * the layers above write replies into the stage and either send it (conn_flush_stage) or take
 * the bytes away to hold them (commit.c). Main thread only. */
#ifndef OBK_CONN_H
#define OBK_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "protocol/reply.h"
#include "protocol/resp.h"

struct bufferevent;
struct sockaddr;
struct evbuffer;
struct held_queue;
struct blocked;
struct cmd_session;
struct pubsub_client;

/* Flags. The transport owns the first three and reads CLIENT_STOP_INPUT; the layers above own
 * the rest (named for CLIENT LIST and for their own checks). */
#define CLIENT_CLOSE_AFTER_REPLY (1u << 0)  /* close once the output is written */
#define CLIENT_CLOSE_ASAP        (1u << 1)  /* close without writing more */
#define CLIENT_READ_PAUSED       (1u << 4)  /* input not read: output over its watermark */
#define CLIENT_MULTI             (1u << 2)  /* command.c: inside MULTI, commands are queued */
#define CLIENT_DIRTY_EXEC        (1u << 3)  /* command.c: an error while queuing, EXEC aborts */
#define CLIENT_IN_EXEC           (1u << 5)  /* command.c: running the queued commands of EXEC */
#define CLIENT_BLOCKED           (1u << 6)  /* blocking.c: waiting for data on keys */
#define CLIENT_RETRY             (1u << 7)  /* command.c: the request waits for cache space */
#define CLIENT_PUBSUB            (1u << 8)  /* pubsub.c: has subscriptions */
#define CLIENT_MONITOR           (1u << 9)  /* monitor.c: receives every command (MONITOR) */
#define CLIENT_NO_EVICT          (1u << 10) /* CLIENT NO-EVICT on (shown; nothing evicts clients) */
#define CLIENT_NO_TOUCH          (1u << 11) /* CLIENT NO-TOUCH on (shown; no access times kept) */
#define CLIENT_PAUSED            (1u << 12) /* command.c: the request waits for CLIENT UNPAUSE */
#define CLIENT_REPLICA           (1u << 13) /* repl.c: a replica receiving the stream (PSYNC) */
/* A layer above parked the current request: the transport processes no more input until it is
 * told to resume (conn_resume_input). */
#define CLIENT_STOP_INPUT (CLIENT_BLOCKED | CLIENT_RETRY)

struct acl_user;

struct client {
    /* transport */
    uint64_t id;
    int fd;
    struct bufferevent *bev;
    int tls;    /* on the TLS port: bufferevent_openssl does the writes */
    int tls_up; /* its TLS handshake completed */
    /* A TLS client's output not yet handed to OpenSSL: written with SSL_write in
     * conn_write_pending, the turn it was made; what the socket cannot take then goes to the
     * TLS bufferevent, which finishes it on write events. NULL for a plain client. */
    struct evbuffer *tls_out;
    struct resp_parser parser;
    char *qbuf; /* received bytes not yet parsed: qbuf[qpos..qlen) */
    size_t qpos, qlen, qcap;
    struct reply reply;
    unsigned flags;
    char addr[64], laddr[64];
    int is_local; /* connected from 127.0.0.1 or ::1 */
    long long ctime_ms, last_interaction_ms;
    long long obuf_soft_since_ms; /* when the soft output limit was first passed, 0 = not */
    /* Replies are written into stage; the layers above send them (conn_flush_stage) or move
     * them behind held replies. held_bytes counts what they hold: it is output, and while it is
     * not zero the stage must not overtake it. */
    struct evbuffer *stage;
    size_t held_bytes;
    struct client *write_next;  /* clients with output to write in before_sleep */
    int write_pending;          /* on that list */
    struct client *prev, *next; /* every connection (conn_first) */
    struct client *close_next;  /* clients to free in before_sleep */
    /* session attributes, set by commands (HELLO, SELECT, AUTH, CLIENT SETNAME ...) */
    int proto;
    int db;
    int authenticated;
    struct acl_user *user; /* who the client is (acl.c); the default user until AUTH */
    char *name, *lib_name, *lib_ver;
    const char *last_cmd_name; /* for CLIENT LIST cmd= */
    /* state of the layers above, each owned and freed (release hook) by one module */
    struct held_queue *held;      /* commit.c */
    struct blocked *blocked;      /* blocking.c */
    struct cmd_session *session;  /* command.c: MULTI queue, the retry list */
    struct pubsub_client *pubsub; /* pubsub.c: channels and patterns */
};

/* Runs one parsed request. Returns 0 when it is finished (the transport frees its arguments),
 * or 1 when a layer above parked it (CLIENT_RETRY): the arguments stay in the parser, no more
 * input is processed, and the layer calls conn_request_done then conn_resume_input later. */
typedef int (*conn_request_fn)(struct client *c, int argc, char **argv, size_t *argvlen);
/* Called for a client that is being freed, before its transport state goes. */
typedef void (*conn_release_fn)(struct client *c);

void conn_set_request_handler(conn_request_fn fn);
/* Up to CONN_MAX_RELEASE_HOOKS hooks, called in the order they were added. Returns 0 or -1. */
#define CONN_MAX_RELEASE_HOOKS 8
int conn_add_release_hook(conn_release_fn fn);

/* Accepts a new socket (called by the listener, and by the HTTP API for its socket pairs,
 * which count as local). Returns the client, or NULL when it was refused (maxclients,
 * protected mode) or could not be set up; the socket is closed then. */
struct client *conn_accept(int fd, const struct sockaddr *sa, int salen);
/* The same for a connection on the TLS port: the handshake runs before the first request. */
struct client *conn_accept_tls(int fd, const struct sockaddr *sa, int salen);
/* Every connection: the first, then c->next. */
struct client *conn_first(void);
int conn_count(void);
/* Schedules the client to be freed in before_sleep (safe from any callback). */
void conn_close_async(struct client *c);
/* Frees the clients scheduled for closing. */
void conn_free_closed(void);
/* Frees a client at once (shutdown path). */
void conn_free(struct client *c);
/* 1 when the server needs a password from this client before running commands. */
int conn_auth_required(const struct client *c);
/* A socket address as CLIENT LIST shows it ("ip:port", "/unix:0"); is_local (may be NULL) set
 * to 1 for 127.0.0.1 and ::1, the addresses protected mode counts as local. */
void conn_format_addr(const struct sockaddr *sa, char *buf, size_t cap, int *is_local);
/* Bytes queued for the client and not yet written to its socket (held ones included). */
size_t conn_output_bytes(const struct client *c);
/* The client's output buffer, for a connection that streams (a replica after PSYNC): bytes
 * added go out after everything already sent; call conn_schedule_write after adding. */
struct evbuffer *conn_output(struct client *c);
/* Moves the first n bytes of the stage to the socket (replies that need not wait). */
void conn_send_stage_prefix(struct client *c, size_t n);
/* Moves the whole stage to the socket unless replies are held (then it waits for them). */
void conn_flush_stage(struct client *c);
/* A parked request finished: frees its arguments and the reply writer's state. */
void conn_request_done(struct client *c);
/* Processes the requests that arrived while the client was parked. */
void conn_resume_input(struct client *c);
/* Called by commit.c after held replies were moved to the socket. */
void conn_after_release(struct client *c);
/* Puts the client on the list of those whose new output is written in before_sleep. */
void conn_schedule_write(struct client *c);
/* Writes the output of the scheduled clients straight to their sockets (before_sleep), as
 * Redis's handleClientsWithPendingWrites does: only a write the socket cannot take at once
 * arms the bufferevent's write event, so a reply costs one write() and no epoll changes. */
void conn_write_pending(void);
/* Writes what the socket takes at once of the pending output (used at shutdown). */
void conn_flush_now(struct client *c);
/* Periodic checks: idle timeout and soft output limits. */
void conn_cron(long long now_ms);

#endif
