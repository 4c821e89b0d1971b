/* cmd_acl.c - the ACL command (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, LOG, SAVE,
 * LOAD, GENPASS, DRYRUN, HELP) over acl.c's users, with Redis 7.0's replies and errors.
 *
 * Design: acl.c owns users and rules; this module speaks the protocol and owns what touches
 * connections: a deleted (or reloaded away) user's clients are moved to the default user,
 * logged out and closed, the client that ran the command after its reply, as Redis does.
 *
 * Thread: main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sbuf.h"
#include "base/util.h"
#include "server/acl.h"
#include "server/acl_log.h"
#include "server/cmds.h"
#include "server/command.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/pubsub.h"

#define R (&c->reply)

static struct client *running; /* the client whose ACL command runs, for the gone hook */

/* A user goes: its clients are logged out and closed (the caller after this reply). */
static void user_gone(struct acl_user *u) {
    for (struct client *c = conn_first(); c; c = c->next) {
        if (c->user != u) continue;
        c->user = acl_default_user();
        c->authenticated = 0;
        if (c == running)
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else
            conn_close_async(c);
    }
}

void acl_commands_init(void) {
    acl_set_user_gone_hook(user_gone);
}

static void reply_sbuf(struct client *c, struct sbuf *b) {
    if (b->failed)
        reply_error(R, ERR_OUT_OF_MEMORY);
    else
        reply_bulk(R, b->p ? b->p : "", b->len);
}

/* One of GETUSER's described fields: its name, then describe's text as a bulk. */
static void reply_described(struct client *c, const char *field, const struct acl_user *u,
                            void (*describe)(const struct acl_user *u, struct sbuf *out)) {
    struct sbuf b;
    sbuf_init(&b);
    describe(u, &b);
    reply_bulk_cstr(R, field);
    reply_sbuf(c, &b);
    sbuf_free(&b);
}

void cmd_acl_setuser(CMD_ARGS) {
    char err[512];
    if (acl_setuser(argv[2], argvlen[2], argc - 3, argv + 3, argvlen + 3, err, sizeof(err)) != 0) {
        reply_errorf(R, "ERR %s", err);
        return;
    }
    /* a subscriber whose user lost one of its channels goes, as in Redis */
    struct acl_user *u = acl_user_find(argv[2], argvlen[2]);
    for (struct client *o = conn_first(); o && u; o = o->next) {
        if (o->user != u || pubsub_allowed_for(o, u)) continue;
        if (o == c)
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else
            conn_close_async(o);
    }
    reply_simple(R, "OK");
}

void cmd_acl_getuser(CMD_ARGS) {
    (void)argc;
    struct acl_user *u = acl_user_find(argv[2], argvlen[2]);
    if (!u) {
        reply_null(R);
        return;
    }
    const char *flags[4];
    int nf = acl_user_flags(u, flags);
    int npw = acl_user_password_count(u);
    char hex[65];
    reply_map(R, 6);
    reply_bulk_cstr(R, "flags");
    reply_set(R, nf);
    for (int i = 0; i < nf; i++) reply_bulk_cstr(R, flags[i]);
    reply_bulk_cstr(R, "passwords");
    reply_array(R, npw);
    for (int i = 0; i < npw; i++) {
        acl_user_password_hex(u, i, hex);
        reply_bulk_cstr(R, hex);
    }
    reply_described(c, "commands", u, acl_describe_commands);
    reply_described(c, "keys", u, acl_describe_keys);
    reply_described(c, "channels", u, acl_describe_channels);
    reply_bulk_cstr(R, "selectors");
    reply_array(R, acl_selector_count(u) - 1);
    for (int i = 1; i < acl_selector_count(u); i++) {
        const struct acl_user *sel = acl_selector(u, i);
        reply_map(R, 3);
        reply_described(c, "commands", sel, acl_describe_commands);
        reply_described(c, "keys", sel, acl_describe_keys);
        reply_described(c, "channels", sel, acl_describe_channels);
    }
}

void cmd_acl_deluser(CMD_ARGS) {
    long long n = 0;
    for (int i = 2; i < argc; i++)
        if (argvlen[i] == 7 && !memcmp(argv[i], "default", 7)) {
            reply_error(R, "ERR The 'default' user cannot be removed");
            return;
        }
    running = c;
    for (int i = 2; i < argc; i++) n += acl_deluser(argv[i], argvlen[i]) == 1;
    running = NULL;
    reply_int(R, n);
}

void cmd_acl_list(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    int n = acl_user_count();
    reply_array(R, n);
    for (int i = 0; i < n; i++) {
        struct sbuf b;
        sbuf_init(&b);
        acl_describe_user(acl_user_at(i), &b);
        reply_sbuf(c, &b);
        sbuf_free(&b);
    }
}

void cmd_acl_users(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    int n = acl_user_count();
    reply_array(R, n);
    for (int i = 0; i < n; i++) reply_bulk_cstr(R, acl_user_name(acl_user_at(i)));
}

void cmd_acl_whoami(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    reply_bulk_cstr(R, acl_user_name(c->user));
}

void cmd_acl_cat(CMD_ARGS) {
    if (argc == 2) {
        reply_array(R, ACL_NCATS);
        for (int i = 0; i < ACL_NCATS; i++) reply_bulk_cstr(R, acl_category_name(i));
        return;
    }
    int cat = acl_category_lookup(argv[2], argvlen[2]);
    if (cat < 0 || cat == ACL_NCATS) {
        reply_errorf(R, "ERR Unknown category '%.*s'", (int)(argvlen[2] > 64 ? 64 : argvlen[2]),
                     argv[2]);
        return;
    }
    int n = acl_category_commands(cat, NULL, 0);
    int *ids = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!ids) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        return;
    }
    acl_category_commands(cat, ids, n);
    reply_array(R, n);
    for (int i = 0; i < n; i++) reply_bulk_cstr(R, acl_command_name(ids[i]));
    free(ids);
}

void cmd_acl_log(CMD_ARGS) {
    long long count = 10;
    if (argc == 3 && util_eq_nocase(argv[2], argvlen[2], "reset")) {
        acl_log_reset();
        reply_simple(R, "OK");
        return;
    }
    if (argc == 3 && (!util_parse_ll(argv[2], argvlen[2], &count) || count < 0)) {
        reply_error(R, ERR_NOT_INTEGER);
        return;
    }
    if (argc > 3) {
        reply_errorf(R,
                     "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try ACL "
                     "HELP.",
                     argv[1]);
        return;
    }
    int n = acl_log_count();
    if (count < n) n = (int)count;
    long long now = util_mstime();
    reply_array(R, n);
    for (int i = 0; i < n; i++) {
        const struct acl_log_entry *e = acl_log_at(i);
        reply_map(R, 7);
        reply_bulk_cstr(R, "count");
        reply_int(R, e->count);
        reply_bulk_cstr(R, "reason");
        reply_bulk_cstr(R, acl_log_reason_name(e->reason));
        reply_bulk_cstr(R, "context");
        reply_bulk_cstr(R, acl_log_context_name(e->context));
        reply_bulk_cstr(R, "object");
        reply_bulk_cstr(R, e->object);
        reply_bulk_cstr(R, "username");
        reply_bulk_cstr(R, e->username);
        reply_bulk_cstr(R, "age-seconds");
        reply_double(R, (double)(now - e->ctime_ms) / 1000.0);
        reply_bulk_cstr(R, "client-info");
        reply_bulk_cstr(R, e->client_info);
    }
}

#define ERR_NO_ACLFILE                                                                             \
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "       \
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "      \
    "Redis configuration file set) in order to store users in the Redis configuration."

void cmd_acl_save(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    char err[512];
    if (!server_config.aclfile || !server_config.aclfile[0]) {
        reply_error(R, ERR_NO_ACLFILE);
        return;
    }
    if (acl_save_file(server_config.aclfile, err, sizeof(err)) != 0) {
        reply_errorf(R,
                     "ERR There was an error trying to save the ACLs. Please check the server "
                     "logs for more information (%s)",
                     err);
        return;
    }
    reply_simple(R, "OK");
}

void cmd_acl_load(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    char err[512];
    if (!server_config.aclfile || !server_config.aclfile[0]) {
        reply_error(R, ERR_NO_ACLFILE);
        return;
    }
    running = c;
    int rc = acl_load_file(server_config.aclfile, err, sizeof(err));
    running = NULL;
    if (rc != 0)
        reply_errorf(R, "ERR Error loading ACLs, %s", err);
    else
        reply_simple(R, "OK");
}

void cmd_acl_genpass(CMD_ARGS) {
    long long bits = 256;
    if (argc == 3 && !util_parse_ll(argv[2], argvlen[2], &bits)) {
        reply_error(R, ERR_NOT_INTEGER);
        return;
    }
    if (bits <= 0 || bits > 4096) {
        reply_error(R, "ERR ACL GENPASS argument must be the number of bits for the output "
                       "password, a positive number up to 4096");
        return;
    }
    if (argc > 3) {
        reply_error(R, ERR_SYNTAX);
        return;
    }
    size_t chars = (size_t)(bits + 3) / 4, bytes = (chars + 1) / 2;
    char hex[1025 + 1];
    util_random_hex(hex, bytes);
    reply_bulk(R, hex, chars);
}

void cmd_acl_dryrun(CMD_ARGS) {
    struct acl_user *u = acl_user_find(argv[2], argvlen[2]);
    if (!u) {
        reply_errorf(R, "ERR User '%.*s' not found", (int)(argvlen[2] > 128 ? 128 : argvlen[2]),
                     argv[2]);
        return;
    }
    char why[256];
    int rc = command_dryrun(u, argc - 3, argv + 3, argvlen + 3, why, sizeof(why));
    if (rc < 0)
        reply_errorf(R, "ERR %s", why);
    else if (rc == 0)
        reply_simple(R, "OK");
    else
        reply_bulk_cstr(R, why);
}

void cmd_acl_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        ("    Returns whether the user can execute the given command without executing the "
         "command."),
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
        NULL};
    reply_help(c, "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

#define ADM   (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define PLAIN (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
static struct command acl_subcommands[] = {
    {"cat", cmd_acl_cat, -2, PLAIN, 0, 0, 0, "server", "6.0.0",
     "List the ACL categories or the commands inside a category",
     "O(1) since the categories and commands are a fixed set.", .args = "categoryname:string?"},
    {"deluser", cmd_acl_deluser, -3, ADM, 0, 0, 0, "server", "6.0.0",
     "Remove the specified ACL users and the associated rules",
     "O(1) amortized time considering the typical user.", .args = "username:string..."},
    {"dryrun", cmd_acl_dryrun, -4, ADM, 0, 0, 0, "server", "7.0.0",
     "Returns whether the user can execute the given command without executing the command.",
     "O(1).", .args = "username:string command:string arg:string?..."},
    {"genpass", cmd_acl_genpass, -2, PLAIN, 0, 0, 0, "server", "6.0.0",
     "Generate a pseudorandom secure password to use for ACL users", "O(1)",
     .args = "bits:integer?"},
    {"getuser", cmd_acl_getuser, 3, ADM, 0, 0, 0, "server", "6.0.0",
     "Get the rules for a specific ACL user",
     "O(N). Where N is the number of password, command and pattern rules that the user has.",
     .args = "username:string"},
    {"help", cmd_acl_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "6.0.0",
     "Show helpful text about the different subcommands", "O(1)"},
    {"list", cmd_acl_list, 2, ADM, 0, 0, 0, "server", "6.0.0",
     "List the current ACL rules in ACL config file format",
     "O(N). Where N is the number of configured users."},
    {"load", cmd_acl_load, 2, ADM, 0, 0, 0, "server", "6.0.0",
     "Reload the ACLs from the configured ACL file",
     "O(N). Where N is the number of configured users."},
    {"log", cmd_acl_log, -2, ADM, 0, 0, 0, "server", "6.0.0",
     "List latest events denied because of ACLs in place",
     "O(N) with N being the number of entries shown.",
     .args = "(operation: count:integer | RESET!)?"},
    {"save", cmd_acl_save, 2, ADM, 0, 0, 0, "server", "6.0.0",
     "Save the current ACL rules in the configured ACL file",
     "O(N). Where N is the number of configured users."},
    {"setuser", cmd_acl_setuser, -3, ADM, 0, 0, 0, "server", "6.0.0",
     "Modify or create the rules for a specific ACL user",
     "O(N). Where N is the number of rules provided.", .args = "username:string rule:string?..."},
    {"users", cmd_acl_users, 2, ADM, 0, 0, 0, "server", "6.0.0",
     "List the username of all the configured ACL rules",
     "O(N). Where N is the number of configured users."},
    {"whoami", cmd_acl_whoami, 2, PLAIN, 0, 0, 0, "server", "6.0.0",
     "Return the name of the user associated to the current connection", "O(1)"},
    {0},
};

struct command acl_commands[] = {
    {"acl", NULL, -2, CMD_SENTINEL_OK, 0, 0, 0, "server", "6.0.0",
     "A container for Access List Control commands ", "Depends on subcommand.", acl_subcommands},
    {0},
};
