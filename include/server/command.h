/* command.h - the dispatch level: the command table and lookup (case-insensitive, with
 * subcommands), Redis's checks in Redis's order (arity, authentication, loading, read-only),
 * MULTI/EXEC, commandstats, the requests parked for cache space, and the one place that
 * decides whether a finished reply is sent or held (durable.h's rule, applied to every
 * command and to every blocked client's continuation). It is the transport's request handler.
 * Main thread only. */
#ifndef OBK_COMMAND_H
#define OBK_COMMAND_H

#include <stddef.h>

struct client;
struct histogram;
struct acl_user;

typedef void (*command_proc)(struct client *c, int argc, char **argv, size_t *argvlen);

/* Flags, named as COMMAND INFO prints them. */
#define CMD_WRITE       (1u << 0)
#define CMD_READONLY    (1u << 1)
#define CMD_ADMIN       (1u << 2)
#define CMD_NOSCRIPT    (1u << 3)
#define CMD_LOADING     (1u << 4) /* allowed while loading */
#define CMD_STALE       (1u << 5)
#define CMD_FAST        (1u << 6)
#define CMD_NO_AUTH     (1u << 7) /* allowed before authentication */
#define CMD_NO_MULTI    (1u << 8) /* refused inside MULTI (SHUTDOWN), as Redis's no_multi */
#define CMD_BLOCKING    (1u << 9)
#define CMD_DENYOOM     (1u << 10)
#define CMD_SENTINEL_OK (1u << 11)
#define CMD_ALLOW_BUSY  (1u << 12)
#define CMD_MOVABLEKEYS (1u << 13)
#define CMD_DANGEROUS   (1u << 14) /* only the @dangerous ACL category, no flag of its own */
#define CMD_PUBSUB      (1u << 15)
#define CMD_PUBSUB_OK   (1u << 16) /* may run on a RESP2 connection that has subscriptions */
#define CMD_TX_CONTROL  (1u << 17) /* runs at once inside MULTI: EXEC, DISCARD, MULTI, QUIT */

struct command {
    const char *name;  /* lower case */
    command_proc proc; /* NULL for a container whose subcommands do the work */
    int arity;         /* argc including the name; negative = at least -arity */
    unsigned flags;
    int first_key, last_key, key_step;
    const char *group; /* COMMAND DOCS group: connection, server, generic, stream ... */
    const char *since; /* Redis version that introduced it */
    const char *summary;
    const char *complexity;
    struct command *subcommands; /* terminated by an entry with name NULL */
    struct command *parent;      /* set at start-up for subcommands */
    char fullname[64];           /* "config|get", set at start-up */
    /* commandstats */
    long long calls, usec, rejected_calls, failed_calls;
    struct histogram *latency; /* latencystats, allocated at the first call */
    int acl_id;                /* acl.c's id, set at start-up */
    const char *tips;          /* COMMAND INFO tips, space-separated (Redis's, for clients) */
    const char *args;          /* COMMAND DOCS arguments, in cmddocs.h's syntax */
};

/* Builds the lookup table from the modules' tables (each ends with an entry whose name is
 * NULL). Call once; server.c then installs command_handle_request and command_release_client
 * in the transport. */
void command_table_init(struct command *const *tables, int ntables);
/* Finds a top-level command by name (any case). */
struct command *command_lookup(const char *name, size_t len);
/* The transport's request handler: runs one request (checks, MULTI queuing, execution,
 * statistics) and sends or holds its reply. Returns 1 when the request was parked. */
int command_handle_request(struct client *c, int argc, char **argv, size_t *argvlen);
/* The transport's release hook: frees the client's MULTI queue and session. */
void command_release_client(struct client *c);
/* Calls fn for every top-level command. */
void command_foreach(void (*fn)(struct command *cmd, void *ctx), void *ctx);
int command_count(void);
/* Marks in redact[0..31] the arguments the slow log and MONITOR must not show (AUTH's, HELLO's
 * AUTH credentials, CONFIG SET requirepass's value), as Redis redacts them. */
void command_redact(const struct command *cmd, int argc, char **argv, size_t *argvlen,
                    unsigned char *redact);
/* The ACL category bits (1u << enum acl_category) of a command, derived from its flags and
 * group as Redis assigns them. */
unsigned command_categories(const struct command *cmd);
/* The keys of a request as ACL checks them: positions into argv and the permissions each needs
 * (ACL_KEY_* bits, from Redis's key specifications). Returns how many (at most cap). */
int command_keys(const struct command *cmd, int argc, char **argv, size_t *argvlen, int *pos,
                 unsigned *perm, int cap);
/* ACL DRYRUN: 0 when u may run the request, 1 when not (why: Redis's sentence), -1 for an
 * unknown command or a wrong number of arguments (why: the error). */
int command_dryrun(const struct acl_user *u, int argc, char **argv, size_t *argvlen, char *why,
                   size_t cap);
/* The text of the client for ACL LOG entries (CLIENT LIST's line), set by the top level. */
void command_set_client_describer(void (*fn)(const struct client *c, char *buf, size_t cap));
/* Clears commandstats (CONFIG RESETSTAT). */
void command_reset_stats(void);

/* ---- MULTI/EXEC ---- */
/* Commands queued by the client's MULTI (CLIENT LIST multi=), -1 outside MULTI. */
int command_queued_count(const struct client *c);
/* Drops a client's queued commands and leaves MULTI. */
void command_discard_multi(struct client *c);
/* EXEC: runs the queued commands into one array reply (the caller checked MULTI and DIRTY). */
void command_exec_queued(struct client *c);

/* ---- parked requests and continuations ---- */
/* A handler that cannot run now because the stream cache is full of entries not yet written
 * calls this instead of replying: the client reads no more input and the same request runs
 * again after the next persist completion (backpressure instead of an error). Not in EXEC. */
void command_retry_later(struct client *c);
/* Runs the requests parked for cache space again (db.c, after a persist completion). */
void command_retry_waiting(void);
/* CLIENT PAUSE: until end_ms (unix ms), the commands of every client but monitors wait (all) or
 * only those that write (EXEC with a queued write included); a later pause never shortens or
 * weakens an earlier one. CLIENT UNPAUSE ends it; the waiting requests run at the next loop
 * turn. */
void command_pause(long long end_ms, int all);
void command_unpause(void);
/* Runs fn(c, arg) for a blocked client (blocking.c: data arrived, or the timeout) as the
 * continuation of the command that blocked: fn replies and returns 1, or returns 0 to keep
 * waiting. A reply is sent or held by the durability rule, and the blocked command's call is
 * counted then (with failed_calls when it ended in an error), as Redis does. */
int command_continue_blocked(struct client *c, int (*fn)(struct client *c, int arg), int arg);

#endif
