/* command.h - the command table and dispatch: lookup (case-insensitive, with subcommands),
 * the central arity check, authentication, loading and MULTI/EXEC queuing, and statistics. */
#ifndef OBK_COMMAND_H
#define OBK_COMMAND_H

#include <stddef.h>

struct client;
struct histogram;

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
#define CMD_NO_MULTI    (1u << 8) /* runs at once even inside MULTI (EXEC, DISCARD, MULTI, QUIT) */
#define CMD_BLOCKING    (1u << 9)
#define CMD_DENYOOM     (1u << 10)
#define CMD_SENTINEL_OK (1u << 11)
#define CMD_ALLOW_BUSY  (1u << 12)
#define CMD_MOVABLEKEYS (1u << 13)
#define CMD_DANGEROUS   (1u << 14) /* only the @dangerous ACL category, no flag of its own */

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
    const char *tips;          /* COMMAND INFO tips, space-separated (Redis's, for clients) */
    const char *args;          /* COMMAND DOCS arguments, in cmddocs.h's syntax */
};

/* Builds the lookup table; call once at start-up. */
void command_table_init(void);
/* Finds a top-level command by name (any case). */
struct command *command_lookup(const char *name, size_t len);
/* Runs one parsed request for the client: checks, MULTI queuing, execution, statistics. */
void command_process(struct client *c, int argc, char **argv, size_t *argvlen);
/* Runs a handler with commandstats (used by dispatch and by EXEC). */
void command_call(struct client *c, struct command *cmd, int argc, char **argv, size_t *argvlen);
/* Calls fn for every top-level command. */
void command_foreach(void (*fn)(struct command *cmd, void *ctx), void *ctx);
int command_count(void);
/* Clears commandstats (CONFIG RESETSTAT). */
void command_reset_stats(void);
/* Drops a client's queued MULTI commands. */
void command_discard_multi(struct client *c);

/* Handlers register themselves through these tables (one per cmd_*.c module). */
extern struct command server_commands[];

#endif
