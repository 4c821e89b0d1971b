/* conn.h - one client connection: its socket (a bufferevent), query buffer, parser, reply
 * writer, protocol version, database, authentication and transaction state. */
#ifndef OBK_CONN_H
#define OBK_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "protocol/reply.h"
#include "protocol/resp.h"

struct bufferevent;
struct command;
struct evbuffer;
struct held_reply;
struct blocked;

#define CLIENT_CLOSE_AFTER_REPLY (1u << 0) /* close once the output is written */
#define CLIENT_CLOSE_ASAP        (1u << 1) /* close without writing more */
#define CLIENT_MULTI             (1u << 2) /* inside MULTI: commands are queued */
#define CLIENT_DIRTY_EXEC        (1u << 3) /* an error while queuing: EXEC aborts */
#define CLIENT_READ_PAUSED       (1u << 4) /* input not read: output over its watermark */
#define CLIENT_IN_EXEC           (1u << 5) /* running the queued commands of EXEC */
#define CLIENT_RETRY             (1u << 7) /* the command waits for cache space, runs again */
#define CLIENT_BLOCKED           (1u << 6) /* waiting in blocking.c: input not processed */

/* One queued command of a MULTI block. */
struct queued_cmd {
    struct command *cmd;
    int argc;
    char **argv;
    size_t *argvlen;
};

struct client {
    uint64_t id;
    int fd;
    struct bufferevent *bev;
    struct resp_parser parser;
    char *qbuf; /* received bytes not yet parsed: qbuf[qpos..qlen) */
    size_t qpos, qlen, qcap;
    struct reply reply;
    int proto;
    int db;
    int authenticated;
    unsigned flags;
    char *name, *lib_name, *lib_ver;
    char addr[64], laddr[64];
    int is_local; /* connected from 127.0.0.1 or ::1 */
    long long ctime_ms, last_interaction_ms;
    long long obuf_soft_since_ms; /* when the soft output limit was first passed, 0 = not */
    const char *last_cmd_name;    /* for CLIENT LIST cmd= */
    struct queued_cmd *mstate;
    int mcount, mcap;
    /* Replies are written into stage; after each command they go to the socket, or behind
     * the client's held replies (commit.c) when they must wait for a durable submission. */
    struct evbuffer *stage;
    uint64_t wait_seq; /* the submission the current command's reply must see durable */
    struct held_reply *held_head, *held_tail;
    size_t held_bytes;
    struct client *held_next, *held_prev;   /* commit.c's list of clients with held replies */
    struct blocked *blocked;                /* blocking.c's state while CLIENT_BLOCKED */
    struct client *retry_next, *retry_prev; /* clients whose command waits for cache space */
    struct client *write_next;              /* conn.c's list of clients with output to write */
    int write_pending;                      /* on that list */
    struct client *prev, *next;             /* server.clients */
    struct client *close_next;              /* server.close_list */
};

/* Accepts a new socket (called by the listener). */
void conn_accept(int fd, const struct sockaddr *sa, int salen);
/* Schedules the client to be freed in before_sleep (safe from any callback). */
void conn_close_async(struct client *c);
/* Frees the clients scheduled for closing. */
void conn_free_closed(void);
/* Frees a client at once (shutdown path). */
void conn_free(struct client *c);
/* 1 when the server needs a password from this client before running commands. */
int conn_auth_required(const struct client *c);
/* Bytes queued for the client and not yet written to its socket. */
size_t conn_output_bytes(const struct client *c);
/* The "id=.. addr=.. ..." line of CLIENT LIST / CLIENT INFO, written into buf. */
void conn_describe(const struct client *c, char *buf, size_t cap);
/* The reply written since mark (the stage length before the command) is complete: send it, or
 * hold it when it must wait for a durable submission. */
void conn_finish_reply(struct client *c, size_t mark);
/* Moves the client's finished, unheld replies to its socket. */
void conn_flush_stage(struct client *c);
/* A command that read or wrote a topic calls this with the submission its reply must wait for
 * (topic_wait_seq / store_pending_seq). */
static inline void conn_wait_for(struct client *c, uint64_t seq) {
    if (seq > c->wait_seq) c->wait_seq = seq;
}
/* A command that cannot run now because the stream cache is full of entries not yet on disk
 * calls this instead of replying: the client stops processing input and the same command runs
 * again after the next durable completion (backpressure instead of an error). Not inside EXEC. */
void conn_retry_later(struct client *c);
/* Runs the commands waiting for cache space again (after a persist completion). */
void conn_retry_waiting(void);
/* Processes the requests that arrived while the client was blocked. */
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
