/* cmd_server.c - connection and server commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, TIME,
 * DBSIZE, FLUSHDB, FLUSHALL, MULTI/EXEC/DISCARD, FUNCTION, DEBUG, SHUTDOWN, CONFIG and the
 * cross-protocol guard. Replies and errors follow Redis 7.0 byte for byte. Main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "server/acl.h"
#include "server/acl_log.h"
#include "server/authfail.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/command.h"
#include "server/config.h"
#include "server/config_rewrite.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/errors.h"
#include "server/expire.h"
#include "server/iofault.h"
#include "server/runtime.h"
#include "server/stats.h"

#define R (&c->reply)

void reply_help(struct client *c, const char *title, const char *const *lines) {
    long n = 0;
    while (lines[n]) n++;
    reply_array(R, n + 1);
    reply_simple(R, title);
    for (long i = 0; i < n; i++) reply_simple(R, lines[i]);
}

void cmd_ping(CMD_ARGS) {
    (void)argvlen;
    if (argc > 2) {
        reply_errorf(R, ERR_WRONG_ARITY, "ping");
        return;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->proto == 2) { /* a subscriber's PING, as Redis */
        reply_array(R, 2);
        reply_bulk_cstr(R, "pong");
        reply_bulk(R, argc == 2 ? argv[1] : "", argc == 2 ? argvlen[1] : 0);
    } else if (argc == 2) {
        reply_bulk(R, argv[1], argvlen[1]);
    } else {
        reply_simple(R, "PONG");
    }
}

void cmd_echo(CMD_ARGS) {
    (void)argc;
    reply_bulk(R, argv[1], argvlen[1]);
}

void cmd_quit(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    reply_simple(R, "OK");
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* A failed AUTH or HELLO AUTH: the ACL log's "auth" entry (object AUTH, as Redis writes it). */
static void auth_failed(struct client *c, const char *user, size_t ulen) {
    char info[1024];
    client_describe(c, info, sizeof(info));
    acl_log_add(ACL_LOG_AUTH, ACL_LOG_TOPLEVEL, "AUTH", 4, user, ulen, info);
}

void cmd_auth(CMD_ARGS) {
    if (argc > 3) {
        reply_error(R, ERR_SYNTAX);
        return;
    }
    if (argc == 2 && !acl_default_needs_auth()) {
        reply_error(R, ERR_AUTH_NOPASS);
        return;
    }
    const char *user = argc == 2 ? "default" : argv[1];
    size_t ulen = argc == 2 ? 7 : argvlen[1];
    struct acl_user *u = acl_authenticate(user, ulen, argv[argc - 1], argvlen[argc - 1]);
    if (!u) {
        auth_failed(c, user, ulen);
        authfail_note(c->addr, user, ulen, "AUTH");
        reply_error(R, ERR_WRONGPASS);
        return;
    }
    c->authenticated = 1;
    c->user = u;
    reply_simple(R, "OK");
}

/* Client names may not hold spaces, newlines or other bytes outside '!'..'~' (Redis's rule). */
static int valid_client_text(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] < '!' || s[i] > '~') return 0;
    return 1;
}

void cmd_hello(CMD_ARGS) {
    long long ver = 0;
    int next = 1;
    const char *name = NULL;
    size_t namelen = 0;
    if (argc >= 2) {
        if (!util_parse_ll(argv[1], argvlen[1], &ver)) {
            reply_error(R, ERR_PROTO_NOT_INTEGER);
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            reply_error(R, ERR_NOPROTO);
            return;
        }
    }
    for (int i = next; i < argc; i++) {
        int left = argc - i - 1;
        if (util_eq_nocase(argv[i], argvlen[i], "AUTH") && left >= 2) {
            struct acl_user *u =
                acl_authenticate(argv[i + 1], argvlen[i + 1], argv[i + 2], argvlen[i + 2]);
            if (!u) {
                auth_failed(c, argv[i + 1], argvlen[i + 1]);
                authfail_note(c->addr, argv[i + 1], argvlen[i + 1], "HELLO");
                reply_error(R, ERR_WRONGPASS);
                return;
            }
            c->authenticated = 1;
            c->user = u;
            i += 2;
        } else if (util_eq_nocase(argv[i], argvlen[i], "SETNAME") && left >= 1) {
            name = argv[i + 1];
            namelen = argvlen[i + 1];
            if (!valid_client_text(name, namelen)) {
                reply_error(R, ERR_CLIENT_NAME);
                return;
            }
            i++;
        } else {
            reply_errorf(R, ERR_HELLO_OPTION, argv[i]);
            return;
        }
    }
    if (conn_auth_required(c)) {
        reply_error(R, ERR_NOAUTH_HELLO);
        return;
    }
    if (name) {
        free(c->name);
        c->name = namelen ? strndup(name, namelen) : NULL;
    }
    if (ver) {
        c->proto = (int)ver;
        c->reply.proto = (int)ver;
    }
    reply_map(R, 7);
    reply_bulk_cstr(R, "server");
    reply_bulk_cstr(R, "redis");
    reply_bulk_cstr(R, "version");
    reply_bulk_cstr(R, OBELISK_REDIS_VERSION);
    reply_bulk_cstr(R, "proto");
    reply_int(R, c->proto);
    reply_bulk_cstr(R, "id");
    reply_int(R, (long long)c->id);
    reply_bulk_cstr(R, "mode");
    reply_bulk_cstr(R, "standalone");
    reply_bulk_cstr(R, "role");
    reply_bulk_cstr(R, "master");
    reply_bulk_cstr(R, "modules");
    reply_array(R, 0);
}

void cmd_select(CMD_ARGS) {
    long long db;
    (void)argc;
    if (!util_parse_ll(argv[1], argvlen[1], &db) || db > 0x7fffffff || db < -0x7fffffff) {
        reply_error(R, ERR_NOT_INTEGER);
        return;
    }
    if (db < 0 || db >= server_config.databases) {
        reply_error(R, ERR_DB_RANGE);
        return;
    }
    c->db = (int)db;
    reply_simple(R, "OK");
}

void cmd_time(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    long long us = util_ustime();
    reply_array(R, 2);
    reply_bulk_ll(R, us / 1000000);
    reply_bulk_ll(R, us % 1000000);
}

void cmd_dbsize(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    reply_int(R, db_size(c->db));
}

/* FLUSHDB/FLUSHALL take an optional ASYNC or SYNC; both flush at once here. */
static int flush_mode_ok(int argc, char **argv, size_t *argvlen) {
    if (argc == 1) return 1;
    if (argc > 2) return 0;
    return util_eq_nocase(argv[1], argvlen[1], "ASYNC") ||
           util_eq_nocase(argv[1], argvlen[1], "SYNC");
}

void cmd_flushdb(CMD_ARGS) {
    if (!flush_mode_ok(argc, argv, argvlen)) {
        reply_error(R, ERR_SYNTAX);
        return;
    }
    blocking_signal_db(c->db);
    if (db_flush(c->db) != 0) {
        reply_error(R, ERR_FLUSH_FAILED);
        return;
    }
    reply_simple(R, "OK");
}

void cmd_flushall(CMD_ARGS) {
    if (!flush_mode_ok(argc, argv, argvlen)) {
        reply_error(R, ERR_SYNTAX);
        return;
    }
    blocking_signal_db(-1);
    for (int db = 0; db < server_config.databases; db++) {
        if (db_flush(db) != 0) {
            reply_error(R, ERR_FLUSH_FAILED);
            return;
        }
    }
    reply_simple(R, "OK");
}

void cmd_multi(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    if (c->flags & CLIENT_MULTI) {
        reply_error(R, ERR_MULTI_NESTED);
        return;
    }
    c->flags |= CLIENT_MULTI;
    reply_simple(R, "OK");
}

void cmd_discard(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(R, ERR_DISCARD_NO_MULTI);
        return;
    }
    command_discard_multi(c);
    reply_simple(R, "OK");
}

void cmd_exec(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(R, ERR_EXEC_NO_MULTI);
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        command_discard_multi(c);
        reply_error(R, ERR_EXECABORT);
        return;
    }
    command_exec_queued(c);
}

void cmd_function_flush(CMD_ARGS) {
    if (argc > 3) {
        reply_error(R, ERR_FUNCTION_FLUSH_ARITY);
        return;
    }
    if ((argc == 3 && !util_eq_nocase(argv[2], argvlen[2], "ASYNC") &&
         !util_eq_nocase(argv[2], argvlen[2], "SYNC"))) {
        reply_error(R, ERR_FUNCTION_FLUSH_SUPPORTS);
        return;
    }
    reply_simple(R, "OK"); /* Obelisk has no functions, so there is nothing to delete. */
}

void cmd_function_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries and functions (Obelisk has none: always OK).",
        "HELP",
        "    Print this help.",
        NULL,
    };
    reply_help(c, "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

void cmd_debug(CMD_ARGS) {
    int mode = server_config.enable_debug_command;
    if (mode == DEBUG_CMD_NO || (mode == DEBUG_CMD_LOCAL && !c->is_local)) {
        reply_error(R, ERR_DEBUG_DISABLED);
        return;
    }
    if (util_eq_nocase(argv[1], argvlen[1], "SLEEP") && argc == 3) {
        double secs;
        if (!util_parse_double(argv[2], argvlen[2], &secs) || secs < 0) {
            reply_error(R, ERR_NOT_FLOAT);
            return;
        }
        /* Blocks the whole server on purpose: tests use it to make time pass for idle
         * clients and held replies. */
        long long us = (long long)(secs * 1e6);
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        reply_simple(R, "OK");
        return;
    }
    if (util_eq_nocase(argv[1], argvlen[1], "IO-FAULT") && argc == 3) {
        static const char *const modes[] = {"none", "fsync-eio", "write-enospc", "fsync-slow"};
        for (int m = 0; m < 4; m++) {
            if (util_eq_nocase(argv[2], argvlen[2], modes[m])) {
                iofault_set(m);
                reply_simple(R, "OK");
                return;
            }
        }
        reply_error(R, ERR_SYNTAX);
        return;
    }
    if (util_eq_nocase(argv[1], argvlen[1], "TRIM-FAULT") && argc == 2) {
        iofault_arm_trim();
        reply_simple(R, "OK");
        return;
    }
    if (util_eq_nocase(argv[1], argvlen[1], "PERSIST-HOLD") && argc == 3 && argvlen[2] == 1 &&
        (argv[2][0] == '0' || argv[2][0] == '1')) {
        if (db_hold_persist(argv[2][0] == '1') != 0) {
            reply_error(R, ERR_LOADING);
            return;
        }
        reply_simple(R, "OK");
        return;
    }
    if (util_eq_nocase(argv[1], argvlen[1], "HELP")) {
        static const char *const lines[] = {
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "IO-FAULT NONE|FSYNC-EIO|WRITE-ENOSPC|FSYNC-SLOW",
            "    Make the next data-file syncs or writes fail (tests of the I/O error path), or",
            "    each sync 25 ms slower (tests of the latency monitor's fsync event).",
            "TRIM-FAULT",
            "    Make the next stream trim fail as out of memory (tests of XADD's trim).",
            "PERSIST-HOLD 1|0",
            "    Hold the persist thread still (1) or let it go (0): nothing becomes durable",
            "    meanwhile (tests of held replies).",
            "HELP",
            "    Print this help.",
            NULL,
        };
        reply_help(c, "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
        return;
    }
    reply_errorf(R, ERR_DEBUG_SUBCOMMAND, argv[1]);
}

void cmd_shutdown(CMD_ARGS) {
    for (int i = 1; i < argc; i++) {
        if (!util_eq_nocase(argv[i], argvlen[i], "NOSAVE") &&
            !util_eq_nocase(argv[i], argvlen[i], "SAVE") &&
            !util_eq_nocase(argv[i], argvlen[i], "NOW") &&
            !util_eq_nocase(argv[i], argvlen[i], "FORCE")) {
            reply_error(R, ERR_SYNTAX);
            return;
        }
    }
    /* No reply on success: the connection closes as the server exits, as with Redis. */
    c->flags |= CLIENT_CLOSE_ASAP;
    runtime_request_shutdown("User requested shutdown via SHUTDOWN");
}

void cmd_security_warning(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    log_msg(LOG_WARNING,
            "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: "
            "commands to Obelisk. This is likely due to an attacker attempting to use Cross "
            "Protocol Scripting to compromise your instance. Connection from %s aborted.",
            c->addr);
    conn_close_async(c);
}

struct config_get_ctx {
    struct client *c;
    long n;
};

static void config_get_emit(void *ctx, const char *name, const char *value) {
    struct config_get_ctx *g = ctx;
    reply_bulk_cstr(&g->c->reply, name);
    reply_bulk_cstr(&g->c->reply, value);
    g->n++;
}

void cmd_config_get(CMD_ARGS) {
    struct config_get_ctx g = {c, 0};
    int h = reply_defer_len(R);
    config_get((const char *const *)argv + 2, argvlen + 2, argc - 2, config_get_emit, &g);
    reply_set_map_len(R, h, g.n);
}

void cmd_config_set(CMD_ARGS) {
    char err[512];
    if (config_set(argv + 2, argvlen + 2, argc - 2, err, sizeof(err)) != 0) {
        reply_error(R, err);
        return;
    }
    reply_simple(R, "OK");
}

void cmd_config_resetstat(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    stats_reset();
    expire_reset_stats();
    command_reset_stats();
    reply_simple(R, "OK");
}

void cmd_config_rewrite(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    char err[512];
    if (config_rewrite(err, sizeof(err)) != 0) {
        reply_errorf(R, "ERR %s", err);
        return;
    }
    log_msg(LOG_NOTICE, "CONFIG REWRITE executed with success.");
    reply_simple(R, "OK");
}

void cmd_config_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "GET <pattern> [<pattern> ...]",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value> [<directive> <value> ...]",
        "    Set the configuration <directive> to <value> (all or nothing).",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}
