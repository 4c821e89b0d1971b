/* cmd_repl.c - the replication commands, with Redis's replies: REPLICAOF / SLAVEOF, ROLE,
 * REPLCONF, PSYNC and WAIT (its own table, repl_commands). The work is repl.c's (the primary's
 * side) and repl_link.c's (the replica's). Main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "server/cmds.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/errors.h"
#include "server/repl.h"
#include "server/repl_link.h"
#include "server/runtime.h"

#define R    (&c->reply)
#define F(x) CMD_##x

/* REPLICAOF host port | NO ONE */
static void cmd_replicaof(CMD_ARGS) {
    (void)argc;
    if (util_eq_nocase(argv[1], argvlen[1], "no") && util_eq_nocase(argv[2], argvlen[2], "one")) {
        if (runtime.replica) {
            repl_link_stop();
            config_set_replicaof(NULL, 0);
            repl_start_primary();
            log_msg(LOG_NOTICE, "MASTER MODE enabled (user request from 'id=%llu addr=%s')",
                    (unsigned long long)c->id, c->addr);
        }
        reply_simple(R, "OK");
        return;
    }
    long long port;
    if (!util_parse_ll(argv[2], argvlen[2], &port) || port < 0 || port > 65535) {
        reply_error(R, "ERR Invalid master port"); /* Redis 7.0's text for both */
        return;
    }
    struct repl_link_info li;
    if (runtime.replica && repl_link_info(&li) && li.port == port && !strcmp(li.host, argv[1])) {
        log_msg(LOG_NOTICE, "REPLICAOF would result into synchronization with the master we are "
                            "already connected with. No operation performed.");
        reply_simple(R, "OK Already connected to specified master");
        return;
    }
    if (config_set_replicaof(argv[1], (int)port) != 0) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        return;
    }
    if (!runtime.replica) {
        db_flush_now(); /* everything so far belongs to the offset the link asks from */
        repl_stop_primary();
    }
    repl_link_start(argv[1], (int)port);
    log_msg(LOG_NOTICE, "REPLICAOF %s:%d enabled (user request from 'id=%llu addr=%s')", argv[1],
            (int)port, (unsigned long long)c->id, c->addr);
    reply_simple(R, "OK");
}

struct role_ctx {
    struct client *c;
    long n;
};

static void role_replica(void *ctx, const char *ip, int port, long long ack) {
    struct role_ctx *rc = ctx;
    char p[16], a[32];
    snprintf(p, sizeof p, "%d", port);
    snprintf(a, sizeof a, "%lld", ack);
    reply_array(&rc->c->reply, 3);
    reply_bulk_cstr(&rc->c->reply, ip);
    reply_bulk_cstr(&rc->c->reply, p);
    reply_bulk_cstr(&rc->c->reply, a);
    rc->n++;
}

static void cmd_role(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    struct repl_link_info li;
    if (runtime.replica && repl_link_info(&li)) {
        reply_array(R, 5);
        reply_bulk_cstr(R, "slave");
        reply_bulk_cstr(R, li.host);
        reply_int(R, li.port);
        reply_bulk_cstr(R, li.role_state);
        reply_int(R, li.up ? repl_offset() : -1);
        return;
    }
    reply_array(R, 3);
    reply_bulk_cstr(R, "master");
    reply_int(R, repl_offset());
    struct role_ctx rc = {c, 0};
    int h = reply_defer_len(R);
    repl_foreach_replica(role_replica, &rc);
    reply_set_array_len(R, h, rc.n);
}

/* REPLCONF option value [option value ...] */
static void cmd_replconf(CMD_ARGS) {
    long long v;
    if (argc % 2 == 0) {
        reply_error(R, ERR_SYNTAX);
        return;
    }
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = argv[i + 1];
        size_t ol = argvlen[i];
        if (util_eq_nocase(opt, ol, "listening-port")) {
            if (!util_parse_ll(val, argvlen[i + 1], &v) || v < 0 || v > 65535) {
                reply_error(R, ERR_NOT_INTEGER);
                return;
            }
            repl_set_listening(c, (int)v, NULL);
        } else if (util_eq_nocase(opt, ol, "ip-address")) {
            repl_set_listening(c, -1, val);
        } else if (util_eq_nocase(opt, ol, "capa") || util_eq_nocase(opt, ol, "rdb-only") ||
                   util_eq_nocase(opt, ol, "rdb-filter-only")) {
            /* capabilities: the stream is always Obelisk's records; nothing to choose */
        } else if (util_eq_nocase(opt, ol, "ack") || util_eq_nocase(opt, ol, "fack")) {
            /* never a reply, from a replica or anyone else (as Redis) */
            if (util_parse_ll(val, argvlen[i + 1], &v) && util_eq_nocase(opt, ol, "ack"))
                repl_ack(c, v);
            return;
        } else if (util_eq_nocase(opt, ol, "getack")) {
            return; /* only a primary sends it, on its link: the replica ACKs every second */
        } else {
            reply_errorf(R, "ERR Unrecognized REPLCONF option: %s", opt);
            return;
        }
    }
    reply_simple(R, "OK");
}

/* PSYNC replid offset */
static void cmd_psync(CMD_ARGS) {
    (void)argc;
    long long offset;
    if (c->flags & CLIENT_REPLICA) return; /* already streaming: ignored, as Redis does */
    if (!util_parse_ll(argv[2], argvlen[2], &offset)) {
        reply_error(R, ERR_NOT_INTEGER);
        return;
    }
    if (argvlen[1] != REPL_ID_LEN) offset = -1; /* "?": a full sync */
    repl_psync(c, argv[1], offset);
}

/* WAIT numreplicas timeout */
static void cmd_wait(CMD_ARGS) {
    (void)argc;
    long long n, timeout;
    if (!util_parse_ll(argv[1], argvlen[1], &n)) {
        reply_error(R, ERR_NOT_INTEGER);
        return;
    }
    if (!util_parse_ll(argv[2], argvlen[2], &timeout)) {
        reply_error(R, ERR_TIMEOUT_NOT_INTEGER);
        return;
    }
    if (timeout < 0) {
        reply_error(R, ERR_TIMEOUT_NEGATIVE);
        return;
    }
    repl_wait(c, n, timeout);
}

struct command repl_commands[] = {
    {"replicaof", cmd_replicaof, 3, F(ADMIN) | F(NOSCRIPT) | F(STALE), 0, 0, 0, "server", "5.0.0",
     "Make the server a replica of another instance, or promote it as master.", "O(1)",
     .args = "(args: [host-port: host:string port:integer] | [no-one: NO! ONE!])"},
    {"slaveof", cmd_replicaof, 3, F(ADMIN) | F(NOSCRIPT) | F(STALE), 0, 0, 0, "server", "1.0.0",
     "Make the server a replica of another instance, or promote it as master.", "O(1)",
     .args = "(args: [host-port: host:string port:integer] | [no-one: NO! ONE!])"},
    {"role", cmd_role, 1, F(NOSCRIPT) | F(LOADING) | F(STALE) | F(FAST), 0, 0, 0, "server",
     "2.8.12", "Return the role of the instance in the context of replication", "O(1)"},
    {"replconf", cmd_replconf, -1, F(ADMIN) | F(NOSCRIPT) | F(LOADING) | F(STALE), 0, 0, 0,
     "server", "3.0.0", "An internal command for configuring the replication stream", "O(1)"},
    {"psync", cmd_psync, -3, F(ADMIN) | F(NOSCRIPT) | F(NO_MULTI), 0, 0, 0, "server", "2.8.0",
     "Internal command used for replication", "O(1)",
     .args = "replicationid:string offset:integer"},
    {"wait", cmd_wait, 3, F(NOSCRIPT), 0, 0, 0, "generic", "3.0.0",
     "Wait for the synchronous replication of all the write commands sent in the context of "
     "the current connection",
     "O(1)", .tips = "request_policy:all_shards response_policy:agg_min",
     .args = "numreplicas:integer timeout:integer"},
    {NULL},
};
