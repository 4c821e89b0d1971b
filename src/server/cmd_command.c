/* cmd_command.c - COMMAND, COMMAND COUNT/LIST/INFO/DOCS/HELP, in Redis 7's reply shapes, from
 * the command table, so redis-cli's hints and client libraries' command discovery see exactly
 * the commands Obelisk has. Main thread only. */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "server/acl.h"
#include "server/cmddocs.h"
#include "server/cmds.h"
#include "server/command.h"
#include "server/conn.h"
#include "server/errors.h"

#define R (&c->reply)

static const struct {
    unsigned flag;
    const char *name;
} flag_names[] = {
    /* In the order Redis prints them. */
    {CMD_WRITE, "write"},
    {CMD_READONLY, "readonly"},
    {CMD_DENYOOM, "denyoom"},
    {CMD_ADMIN, "admin"},
    {CMD_PUBSUB, "pubsub"},
    {CMD_NOSCRIPT, "noscript"},
    {CMD_BLOCKING, "blocking"},
    {CMD_LOADING, "loading"},
    {CMD_STALE, "stale"},
    {CMD_FAST, "fast"},
    {CMD_NO_AUTH, "no_auth"},
    {CMD_NO_MULTI, "no_multi"},
    {CMD_MOVABLEKEYS, "movablekeys"},
    {CMD_ALLOW_BUSY, "allow_busy"},
};
#define NFLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

/* ACL categories (command.c derives them as Redis assigns them), in Redis's order. */
static void reply_categories(struct client *c, const struct command *cmd) {
    unsigned cats = command_categories(cmd);
    int n = 0;
    for (int i = 0; i < ACL_NCATS; i++) n += (cats >> i) & 1;
    reply_set(R, n);
    for (int i = 0; i < ACL_NCATS; i++)
        if ((cats >> i) & 1) {
            char name[32];
            snprintf(name, sizeof(name), "@%s", acl_category_name(i));
            reply_simple(R, name);
        }
}

/* Tips are bulk strings in a set, as Redis sends them. */
static void reply_tips(struct client *c, const char *tips) {
    long n = 0;
    for (const char *p = tips; p && *p;) {
        const char *sp = strchr(p, ' ');
        n++;
        p = sp ? sp + 1 : p + strlen(p);
    }
    reply_set(R, n);
    for (const char *p = tips; p && *p;) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        reply_bulk(R, p, len);
        p += len + (sp ? 1 : 0);
    }
}

static void reply_command_info(struct client *c, const struct command *cmd) {
    int nflags = 0;
    for (size_t i = 0; i < NFLAGS; i++)
        if (cmd->flags & flag_names[i].flag) nflags++;
    reply_array(R, 10);
    reply_bulk_cstr(R, cmd->fullname);
    reply_int(R, cmd->arity);
    reply_set(R, nflags);
    for (size_t i = 0; i < NFLAGS; i++)
        if (cmd->flags & flag_names[i].flag) reply_simple(R, flag_names[i].name);
    reply_int(R, cmd->first_key);
    reply_int(R, cmd->last_key);
    reply_int(R, cmd->key_step);
    reply_categories(c, cmd);
    reply_tips(c, cmd->tips);
    reply_set(R, 0); /* key specifications (a set in RESP3, as Redis sends it) */
    int nsub = 0;
    for (const struct command *s = cmd->subcommands; s && s->name; s++) nsub++;
    reply_set(R, nsub);
    for (const struct command *s = cmd->subcommands; s && s->name; s++) reply_command_info(c, s);
}

static void reply_command_docs(struct client *c, const struct command *cmd) {
    int nsub = 0;
    for (const struct command *s = cmd->subcommands; s && s->name; s++) nsub++;
    int nargs = cmddocs_count(cmd->args);
    reply_map(R, 4 + (nargs ? 1 : 0) + (nsub ? 1 : 0));
    reply_bulk_cstr(R, "summary");
    reply_bulk_cstr(R, cmd->summary);
    reply_bulk_cstr(R, "since");
    reply_bulk_cstr(R, cmd->since);
    reply_bulk_cstr(R, "group");
    reply_bulk_cstr(R, cmd->group);
    reply_bulk_cstr(R, "complexity");
    reply_bulk_cstr(R, cmd->complexity);
    if (nargs) {
        reply_bulk_cstr(R, "arguments");
        cmddocs_reply_args(R, cmd->args);
    }
    if (nsub) {
        reply_bulk_cstr(R, "subcommands");
        reply_map(R, nsub);
        for (const struct command *s = cmd->subcommands; s && s->name; s++) {
            reply_bulk_cstr(R, s->fullname);
            reply_command_docs(c, s);
        }
    }
}

/* Finds a command or "container|sub" by its full name, as COMMAND INFO/DOCS accept. */
static struct command *lookup_full(const char *name, size_t len) {
    const char *bar = memchr(name, '|', len);
    struct command *cmd = command_lookup(name, bar ? (size_t)(bar - name) : len);
    if (!cmd || !bar) return cmd;
    size_t sl = len - (size_t)(bar - name) - 1;
    for (struct command *s = cmd->subcommands; s && s->name; s++)
        if (util_eq_nocase(bar + 1, sl, s->name)) return s;
    return NULL;
}

struct each_ctx {
    struct client *c;
    long n;
    int docs;
    const char *pattern;
    size_t patlen;
};

static void each_info(struct command *cmd, void *ctx) {
    struct each_ctx *e = ctx;
    if (cmd->proc == cmd_security_warning) return;
    if (e->docs) {
        reply_bulk_cstr(&e->c->reply, cmd->name);
        reply_command_docs(e->c, cmd);
    } else {
        reply_command_info(e->c, cmd);
    }
    e->n++;
}

static void each_name(struct command *cmd, void *ctx) {
    struct each_ctx *e = ctx;
    if (cmd->proc == cmd_security_warning) return;
    if (e->pattern && !util_glob_match(e->pattern, e->patlen, cmd->name, strlen(cmd->name), 1))
        return;
    reply_bulk_cstr(&e->c->reply, cmd->name);
    e->n++;
}

static void each_count(struct command *cmd, void *ctx) {
    if (cmd->proc != cmd_security_warning) ++*(long *)ctx;
}

void cmd_command(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    struct each_ctx e = {c, 0, 0, NULL, 0};
    int h = reply_defer_len(R);
    command_foreach(each_info, &e);
    reply_set_array_len(R, h, e.n);
}

void cmd_command_count(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    long n = 0;
    command_foreach(each_count, &n);
    reply_int(R, n);
}

void cmd_command_list(CMD_ARGS) {
    struct each_ctx e = {c, 0, 0, NULL, 0};
    if (argc == 5 && util_eq_nocase(argv[2], argvlen[2], "FILTERBY") &&
        util_eq_nocase(argv[3], argvlen[3], "PATTERN")) {
        e.pattern = argv[4];
        e.patlen = argvlen[4];
    } else if (argc == 5 && util_eq_nocase(argv[2], argvlen[2], "FILTERBY") &&
               (util_eq_nocase(argv[3], argvlen[3], "MODULE") ||
                util_eq_nocase(argv[3], argvlen[3], "ACLCAT"))) {
        reply_array(R, 0); /* no modules; ACL categories are not filtered on (yet) */
        return;
    } else if (argc != 2) {
        reply_error(R, ERR_SYNTAX);
        return;
    }
    int h = reply_defer_len(R);
    command_foreach(each_name, &e);
    reply_set_array_len(R, h, e.n);
}

void cmd_command_info(CMD_ARGS) {
    if (argc == 2) {
        cmd_command(c, argc, argv, argvlen);
        return;
    }
    reply_array(R, argc - 2);
    for (int i = 2; i < argc; i++) {
        struct command *cmd = lookup_full(argv[i], argvlen[i]);
        if (cmd)
            reply_command_info(c, cmd);
        else
            reply_null(R);
    }
}

void cmd_command_docs(CMD_ARGS) {
    if (argc == 2) {
        struct each_ctx e = {c, 0, 1, NULL, 0};
        int h = reply_defer_len(R);
        command_foreach(each_info, &e);
        reply_set_map_len(R, h, e.n);
        return;
    }
    int h = reply_defer_len(R);
    long n = 0;
    for (int i = 2; i < argc; i++) {
        struct command *cmd = lookup_full(argv[i], argvlen[i]);
        if (!cmd) continue;
        reply_bulk_cstr(R, cmd->fullname);
        reply_command_docs(c, cmd);
        n++;
    }
    reply_set_map_len(R, h, n);
}

void cmd_command_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST [FILTERBY PATTERN <pattern>]",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands (all when none are given).",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands (all when none are given).",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}
