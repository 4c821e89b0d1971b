/* command.c - command table, lookup and dispatch.
 *
 * Design: every cmd_*.c module exports a table of struct command; command_table_init() merges
 * them into one array sorted by name for a case-insensitive binary search, and gives each
 * subcommand its "container|sub" name. command_process() applies Redis's checks in Redis's
 * order (unknown command, unknown subcommand, arity, authentication, loading), queues inside
 * MULTI, runs the handler and keeps commandstats. The error texts come from errors.h.
 * Main thread only. */
#include "server/command.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/histogram.h"
#include "base/util.h"
#include "server/cmds.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/errors.h"
#include "server/server.h"

extern struct command server_commands[];
extern struct command retention_commands[]; /* cmd_retention.c */

static struct command **table;
static int table_len;

static int cmp_cmd(const void *a, const void *b) {
    return strcmp((*(struct command *const *)a)->name, (*(struct command *const *)b)->name);
}

static void add_table(struct command *cmds) {
    for (struct command *c = cmds; c->name; c++) {
        table[table_len++] = c;
        snprintf(c->fullname, sizeof(c->fullname), "%s", c->name);
        for (struct command *s = c->subcommands; s && s->name; s++) {
            s->parent = c;
            snprintf(s->fullname, sizeof(s->fullname), "%s|%s", c->name, s->name);
        }
    }
}

static int count_cmds(const struct command *cmds) {
    int n = 0;
    while (cmds[n].name) n++;
    return n;
}

void command_table_init(void) {
    struct command *groups[] = {server_commands, retention_commands};
    int total = 0;
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) total += count_cmds(groups[i]);
    table = calloc((size_t)total, sizeof(*table));
    table_len = 0;
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) add_table(groups[i]);
    qsort(table, (size_t)table_len, sizeof(*table), cmp_cmd);
}

/* Compares a counted name with a lower-case command name, ignoring the name's case. */
static int cmp_name(const char *name, size_t len, const char *cmd) {
    size_t i = 0;
    for (; i < len && cmd[i]; i++) {
        int a = tolower((unsigned char)name[i]), b = (unsigned char)cmd[i];
        if (a != b) return a - b;
    }
    if (i < len) return 1;
    return cmd[i] ? -1 : 0;
}

struct command *command_lookup(const char *name, size_t len) {
    int lo = 0, hi = table_len - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = cmp_name(name, len, table[mid]->name);
        if (c == 0) return table[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

static struct command *lookup_sub(struct command *cmd, const char *name, size_t len) {
    for (struct command *s = cmd->subcommands; s->name; s++)
        if (cmp_name(name, len, s->name) == 0) return s;
    return NULL;
}

void command_foreach(void (*fn)(struct command *cmd, void *ctx), void *ctx) {
    for (int i = 0; i < table_len; i++) fn(table[i], ctx);
}

int command_count(void) {
    return table_len;
}

static void reset_stats(struct command *c) {
    c->calls = c->usec = c->rejected_calls = c->failed_calls = 0;
    free(c->latency);
    c->latency = NULL;
}

static void reset_one(struct command *c, void *ctx) {
    (void)ctx;
    reset_stats(c);
    for (struct command *s = c->subcommands; s && s->name; s++) reset_stats(s);
}

void command_reset_stats(void) {
    command_foreach(reset_one, NULL);
}

void command_discard_multi(struct client *c) {
    for (int i = 0; i < c->mcount; i++) {
        struct queued_cmd *q = &c->mstate[i];
        util_free_args(q->argv, q->argvlen, q->argc);
    }
    free(c->mstate);
    c->mstate = NULL;
    c->mcount = c->mcap = 0;
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
}

/* Rejects a request before it runs: the error, the statistics and, inside MULTI, the flag
 * that makes EXEC abort (Redis's flagTransaction). */
static void reject(struct client *c, struct command *cmd, const char *msg) {
    if (cmd) cmd->rejected_calls++;
    if (cmd && cmd->proc == cmd_exec) {
        /* A rejected EXEC aborts the transaction and says why (Redis's execCommandAbort); the
         * reason keeps its code unless that code is the generic ERR. */
        char text[600];
        snprintf(text, sizeof(text), "EXECABORT Transaction discarded because of: %s",
                 strncmp(msg, "ERR ", 4) == 0 ? msg + 4 : msg);
        command_discard_multi(c);
        reply_error(&c->reply, text);
        return;
    }
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    reply_error(&c->reply, msg);
}

static void reject_unknown(struct client *c, int argc, char **argv, size_t *argvlen) {
    char args[256] = "";
    size_t n = 0;
    for (int i = 1; i < argc && n < 128; i++) {
        int room = 128 - (int)n;
        n +=
            (size_t)snprintf(args + n, sizeof(args) - n, "'%.*s' ",
                             (int)(argvlen[i] < (size_t)room ? argvlen[i] : (size_t)room), argv[i]);
    }
    char msg[512];
    snprintf(msg, sizeof(msg), ERR_UNKNOWN_COMMAND, argv[0], args);
    reject(c, NULL, msg);
}

static int queue_command(struct client *c, struct command *cmd, int argc, char **argv,
                         size_t *argvlen) {
    if (c->mcount == c->mcap) {
        int cap = c->mcap ? c->mcap * 2 : 8;
        struct queued_cmd *n = realloc(c->mstate, (size_t)cap * sizeof(*n));
        if (!n) return -1;
        c->mstate = n;
        c->mcap = cap;
    }
    struct queued_cmd *q = &c->mstate[c->mcount];
    q->argv = malloc((size_t)argc * sizeof(char *));
    q->argvlen = malloc((size_t)argc * sizeof(size_t));
    if (!q->argv || !q->argvlen) {
        free(q->argv);
        free(q->argvlen);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        q->argv[i] = malloc(argvlen[i] + 1);
        memcpy(q->argv[i], argv[i], argvlen[i] + 1);
        q->argvlen[i] = argvlen[i];
    }
    q->argc = argc;
    q->cmd = cmd;
    c->mcount++;
    return 0;
}

/* Runs a handler with statistics: calls, time, and failed_calls when it replied an error. */
void command_call(struct client *c, struct command *cmd, int argc, char **argv, size_t *argvlen) {
    long long errors_before = server.stats.error_replies;
    long long start = util_monotonic_ns();
    c->last_cmd_name = cmd->fullname;
    cmd->proc(c, argc, argv, argvlen);
    long long ns = util_monotonic_ns() - start;
    cmd->usec += ns / 1000;
    cmd->calls++;
    if (server_config.latency_tracking) {
        if (!cmd->latency) cmd->latency = calloc(1, sizeof(*cmd->latency));
        if (cmd->latency) histogram_record(cmd->latency, (uint64_t)ns);
    }
    if (server.stats.error_replies != errors_before) cmd->failed_calls++;
    server.stats.commands_processed++;
}

void command_process(struct client *c, int argc, char **argv, size_t *argvlen) {
    struct command *cmd = command_lookup(argv[0], argvlen[0]);
    char msg[512];
    if (!cmd) {
        reject_unknown(c, argc, argv, argvlen);
        return;
    }
    if (cmd->subcommands && argc >= 2) {
        struct command *sub = lookup_sub(cmd, argv[1], argvlen[1]);
        if (!sub) {
            char upper[64];
            size_t i;
            for (i = 0; cmd->name[i] && i < sizeof(upper) - 1; i++)
                upper[i] = (char)toupper((unsigned char)cmd->name[i]);
            upper[i] = '\0';
            snprintf(msg, sizeof(msg), ERR_UNKNOWN_SUBCOMMAND, argv[1], upper);
            reject(c, NULL, msg);
            return;
        }
        cmd = sub;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        snprintf(msg, sizeof(msg), ERR_WRONG_ARITY, cmd->fullname);
        reject(c, cmd, msg);
        return;
    }
    unsigned flags = cmd->flags | (cmd->parent ? cmd->parent->flags & CMD_NO_AUTH : 0);
    if (conn_auth_required(c) && !(flags & CMD_NO_AUTH)) {
        reject(c, cmd, ERR_NOAUTH);
        return;
    }
    if (server.loading && !(flags & CMD_LOADING)) {
        reject(c, cmd, ERR_LOADING);
        return;
    }
    if ((flags & CMD_WRITE) && db_readonly()) { /* after an I/O error, never pretend to write */
        reject(c, cmd, db_io_error_text());
        return;
    }
    if ((c->flags & CLIENT_MULTI) && !(flags & CMD_NO_MULTI)) {
        if (queue_command(c, cmd, argc, argv, argvlen) != 0) {
            reject(c, cmd, ERR_OUT_OF_MEMORY);
            return;
        }
        reply_simple(&c->reply, "QUEUED");
        return;
    }
    command_call(c, cmd, argc, argv, argvlen);
}
