/* cmd_client.c - CLIENT ID, SETNAME, GETNAME, SETINFO, LIST, INFO, KILL and HELP, with Redis
 * 7's replies (CLIENT LIST and INFO as verbatim text in RESP3). Main thread only. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "server/acl.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/config.h"
#include "server/errors.h"
#include "server/monitor.h"
#include "server/pubsub.h"
#include "server/runtime.h"
#include "server/stats.h"

#define R (&c->reply)

/* The "id=.. addr=.. ..." line of CLIENT LIST / CLIENT INFO, written into buf. */
void client_describe(const struct client *c, char *buf, size_t cap) {
    long long now = util_mstime();
    char flags[16];
    int nf = 0;
    if (c->flags & CLIENT_MONITOR) flags[nf++] = 'O';
    if (c->flags & CLIENT_REPLICA) flags[nf++] = 'S';
    if (c->flags & CLIENT_PUBSUB) flags[nf++] = 'P';
    if (c->flags & CLIENT_MULTI) flags[nf++] = 'x';
    if (c->flags & (CLIENT_BLOCKED | CLIENT_PAUSED)) flags[nf++] = 'b';
    if (c->flags & CLIENT_CLOSE_ASAP) flags[nf++] = 'A';
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) flags[nf++] = 'c';
    if (c->flags & CLIENT_NO_EVICT) flags[nf++] = 'e';
    if (c->flags & CLIENT_NO_TOUCH) flags[nf++] = 'T';
    if (nf == 0) flags[nf++] = 'N';
    flags[nf] = '\0';
    size_t qbuf = c->qlen - c->qpos;
    size_t obl = conn_output_bytes(c);
    snprintf(buf, cap,
             "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%d "
             "psub=%d ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=0 rbs=%zu "
             "rbp=0 obl=%zu oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s user=%s redir=-1 "
             "resp=%d lib-name=%s lib-ver=%s",
             (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
             (now - c->ctime_ms) / 1000, (now - c->last_interaction_ms) / 1000, flags, c->db,
             pubsub_channel_count(c), pubsub_pattern_count(c), command_queued_count(c), qbuf,
             c->qcap - qbuf, resp_parser_pending_bytes(&c->parser), c->qcap, obl, obl,
             sizeof(*c) + c->qcap + obl, obl ? "w" : "",
             c->last_cmd_name ? c->last_cmd_name : "NULL", acl_user_name(c->user), c->proto,
             c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
}

/* Names and library fields may hold only '!'..'~' (no spaces or control bytes). */
static int valid_text(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] < '!' || s[i] > '~') return 0;
    return 1;
}

void cmd_client_id(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    reply_int(R, (long long)c->id);
}

void cmd_client_setname(CMD_ARGS) {
    (void)argc;
    if (!valid_text(argv[2], argvlen[2])) {
        reply_error(R, ERR_CLIENT_NAME);
        return;
    }
    free(c->name);
    c->name = argvlen[2] ? strndup(argv[2], argvlen[2]) : NULL;
    reply_simple(R, "OK");
}

void cmd_client_getname(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    if (c->name)
        reply_bulk_cstr(R, c->name);
    else
        reply_null(R);
}

void cmd_client_setinfo(CMD_ARGS) {
    (void)argc;
    char **field;
    const char *label;
    if (util_eq_nocase(argv[2], argvlen[2], "lib-name"))
        field = &c->lib_name, label = "lib-name";
    else if (util_eq_nocase(argv[2], argvlen[2], "lib-ver"))
        field = &c->lib_ver, label = "lib-ver";
    else {
        reply_errorf(R, ERR_UNRECOGNIZED_OPTION, argv[2]);
        return;
    }
    if (!valid_text(argv[3], argvlen[3])) {
        reply_errorf(R, ERR_CLIENT_INFO_CHARS, label);
        return;
    }
    free(*field);
    *field = argvlen[3] ? strndup(argv[3], argvlen[3]) : NULL;
    reply_simple(R, "OK");
}

/* Client types as Redis names them for CLIENT LIST / KILL TYPE. A replica's link to its
 * primary is not a client here, so "master" matches none. */
enum client_type { TYPE_ANY = -1, TYPE_NORMAL, TYPE_REPLICA, TYPE_PUBSUB, TYPE_MASTER };

static int client_type_of(const struct client *o) {
    if ((o->flags & CLIENT_REPLICA) && !(o->flags & CLIENT_MONITOR)) return TYPE_REPLICA;
    if (o->flags & CLIENT_PUBSUB) return TYPE_PUBSUB;
    return TYPE_NORMAL;
}

/* TYPE's value, or -2 when unknown. */
static int parse_client_type(const char *v, size_t vl) {
    if (util_eq_nocase(v, vl, "normal")) return TYPE_NORMAL;
    if (util_eq_nocase(v, vl, "replica") || util_eq_nocase(v, vl, "slave")) return TYPE_REPLICA;
    if (util_eq_nocase(v, vl, "pubsub")) return TYPE_PUBSUB;
    if (util_eq_nocase(v, vl, "master")) return TYPE_MASTER;
    return -2;
}

/* Appends each matching client's line (TYPE filters by client_type_of); ID takes a list of
 * ids. Returns -1 on a syntax error. */
static int client_list_text(struct client *c, int argc, char **argv, size_t *argvlen, char **out,
                            size_t *outlen) {
    int type = TYPE_ANY;
    long long *ids = NULL;
    int nids = 0, rc = -1;
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    if (!text) return -1;
    if (argc == 4 && util_eq_nocase(argv[2], argvlen[2], "TYPE")) {
        if ((type = parse_client_type(argv[3], argvlen[3])) == -2) {
            reply_errorf(R, ERR_UNKNOWN_CLIENT_TYPE, argv[3]);
            rc = -2;
            goto out;
        }
    } else if (argc >= 4 && util_eq_nocase(argv[2], argvlen[2], "ID")) {
        ids = malloc(sizeof(*ids) * (size_t)(argc - 3));
        for (int i = 3; i < argc; i++) {
            long long id;
            if (!util_parse_ll(argv[i], argvlen[i], &id)) {
                reply_error(R, ERR_INVALID_CLIENT_ID);
                rc = -2;
                goto out;
            }
            ids[nids++] = id;
        }
    } else if (argc != 2) {
        goto out;
    }
    /* With ID, clients come in the order of the ids given (Redis looks each one up). */
    int rounds = nids ? nids : 1;
    for (int k = 0; k < rounds; k++)
        for (struct client *o = conn_first(); o; o = o->next) {
            if (nids && (uint64_t)ids[k] != o->id) continue;
            if (type != TYPE_ANY && client_type_of(o) != type) continue;
            char line[1024];
            client_describe(o, line, sizeof(line));
            size_t n = strlen(line);
            if (len + n + 2 > cap) {
                cap = (len + n + 2) * 2;
                char *nt = realloc(text, cap);
                if (!nt) goto out;
                text = nt;
            }
            memcpy(text + len, line, n);
            len += n;
            text[len++] = '\n';
        }
    *out = text;
    *outlen = len;
    text = NULL;
    rc = 0;
out:
    free(ids);
    free(text);
    return rc;
}

void cmd_client_list(CMD_ARGS) {
    char *text;
    size_t len;
    int rc = client_list_text(c, argc, argv, argvlen, &text, &len);
    if (rc == -1) reply_error(R, ERR_SYNTAX);
    if (rc != 0) return;
    reply_verbatim(R, text, len, "txt");
    free(text);
}

void cmd_client_info(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    char line[1024];
    client_describe(c, line, sizeof(line));
    size_t n = strlen(line);
    line[n++] = '\n';
    reply_verbatim(R, line, n, "txt");
}

struct kill_filter {
    long long id;
    const char *addr, *laddr, *user;
    int type; /* TYPE_ANY or the one to match */
    int skipme;
};

static int parse_kill_filter(struct client *c, int argc, char **argv, size_t *argvlen,
                             struct kill_filter *f) {
    memset(f, 0, sizeof(*f));
    f->skipme = 1;
    f->type = TYPE_ANY;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) {
            reply_error(R, ERR_SYNTAX);
            return -1;
        }
        const char *o = argv[i], *v = argv[i + 1];
        size_t ol = argvlen[i], vl = argvlen[i + 1];
        if (util_eq_nocase(o, ol, "ID")) {
            if (!util_parse_ll(v, vl, &f->id) || f->id <= 0) {
                reply_error(R, ERR_CLIENT_ID_POSITIVE);
                return -1;
            }
        } else if (util_eq_nocase(o, ol, "ADDR")) {
            f->addr = v;
        } else if (util_eq_nocase(o, ol, "LADDR")) {
            f->laddr = v;
        } else if (util_eq_nocase(o, ol, "USER")) {
            if (!acl_user_find(v, vl)) {
                reply_errorf(R, ERR_NO_SUCH_USER, v);
                return -1;
            }
            f->user = v;
        } else if (util_eq_nocase(o, ol, "TYPE")) {
            if ((f->type = parse_client_type(v, vl)) == -2) {
                reply_errorf(R, ERR_UNKNOWN_CLIENT_TYPE, v);
                return -1;
            }
        } else if (util_eq_nocase(o, ol, "SKIPME")) {
            if (util_eq_nocase(v, vl, "yes"))
                f->skipme = 1;
            else if (util_eq_nocase(v, vl, "no"))
                f->skipme = 0;
            else {
                reply_error(R, ERR_SYNTAX);
                return -1;
            }
        } else {
            reply_error(R, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

static int kill_matches(const struct client *c, const struct client *o,
                        const struct kill_filter *f) {
    if (f->type != TYPE_ANY && client_type_of(o) != f->type) return 0;
    if (f->id && (uint64_t)f->id != o->id) return 0;
    if (f->addr && strcmp(f->addr, o->addr)) return 0;
    if (f->laddr && strcmp(f->laddr, o->laddr)) return 0;
    if (f->user && strcmp(f->user, acl_user_name(o->user))) return 0;
    if (f->skipme && o == c) return 0;
    return 1;
}

void cmd_client_kill(CMD_ARGS) {
    if (argc == 3) { /* old form: CLIENT KILL addr:port, replies OK or an error */
        for (struct client *o = conn_first(); o; o = o->next) {
            if (!strcmp(o->addr, argv[2]) && !(o->flags & CLIENT_CLOSE_ASAP)) {
                if (o == c)
                    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
                else
                    conn_close_async(o);
                reply_simple(R, "OK");
                return;
            }
        }
        reply_error(R, ERR_NO_SUCH_CLIENT);
        return;
    }
    struct kill_filter f;
    if (parse_kill_filter(c, argc, argv, argvlen, &f) != 0) return;
    long long killed = 0;
    for (struct client *o = conn_first(); o; o = o->next) {
        if ((o->flags & CLIENT_CLOSE_ASAP) || !kill_matches(c, o, &f)) continue;
        if (o == c)
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else
            conn_close_async(o);
        killed++;
    }
    reply_int(R, killed);
}

void cmd_client_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ID <client-id>",
        "    * ADDR <ip:port>",
        "    * LADDR <ip:port>",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "    * USER <username>",
        "    * SKIPME (YES|NO)",
        "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
        "    Return information about client connections.",
        "NO-EVICT (ON|OFF)",
        "    Set the connection's no-evict switch (flag e; Obelisk never evicts clients).",
        "NO-TOUCH (ON|OFF)",
        "    Set the connection's no-touch switch (flag T; Obelisk keeps no access times).",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Hold the commands of every client (ALL, the default) or only the writes (WRITE)",
        "    for <timeout> milliseconds. Monitors are never held.",
        "UNPAUSE",
        "    End a CLIENT PAUSE.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client library name or version.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

/* RESET: back to a fresh connection's state, as Redis's resetCommand: out of MULTI and MONITOR,
 * no subscriptions, database 0, RESP2, no name, the NO-EVICT and NO-TOUCH switches off, and logged
 * out when the server wants a password. */
void cmd_reset(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    command_discard_multi(c);
    monitor_remove(c);
    pubsub_unsubscribe_all(c);
    c->flags &= ~(CLIENT_NO_EVICT | CLIENT_NO_TOUCH);
    c->db = 0;
    c->proto = 2;
    c->reply.proto = 2;
    free(c->name);
    c->name = NULL;
    c->authenticated = !acl_default_needs_auth();
    c->user = acl_default_user();
    reply_simple(R, "RESET");
}

/* ON/OFF switches: 0 with *on set, or -1 after replying the syntax error. */
static int on_off(struct client *c, const char *arg, size_t len, int *on) {
    if (util_eq_nocase(arg, len, "on"))
        *on = 1;
    else if (util_eq_nocase(arg, len, "off"))
        *on = 0;
    else {
        reply_error(R, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

/* Obelisk never evicts clients (no maxmemory-clients): the switch is kept and shown (flag e). */
void cmd_client_no_evict(CMD_ARGS) {
    (void)argc;
    int on;
    if (on_off(c, argv[2], argvlen[2], &on) != 0) return;
    if (on)
        c->flags |= CLIENT_NO_EVICT;
    else
        c->flags &= ~CLIENT_NO_EVICT;
    reply_simple(R, "OK");
}

/* Obelisk keeps no access times (OBJECT IDLETIME), so nothing is touched either way; the switch
 * is kept and shown (flag T), as Redis 7.2 does. */
void cmd_client_no_touch(CMD_ARGS) {
    (void)argc;
    int on;
    if (on_off(c, argv[2], argvlen[2], &on) != 0) return;
    if (on)
        c->flags |= CLIENT_NO_TOUCH;
    else
        c->flags &= ~CLIENT_NO_TOUCH;
    reply_simple(R, "OK");
}

void cmd_client_pause(CMD_ARGS) {
    long long ms;
    int all = 1;
    if (argc > 4) {
        reply_error(R, ERR_CLIENT_PAUSE_ARITY);
        return;
    }
    if (!util_parse_ll(argv[2], argvlen[2], &ms)) {
        reply_error(R, ERR_TIMEOUT_NOT_INTEGER);
        return;
    }
    if (ms < 0) {
        reply_error(R, ERR_TIMEOUT_NEGATIVE);
        return;
    }
    long long now = util_mstime();
    if (ms > LLONG_MAX - now) {
        reply_error(R, ERR_TIMEOUT_OUT_OF_RANGE);
        return;
    }
    if (argc == 4) {
        if (util_eq_nocase(argv[3], argvlen[3], "write"))
            all = 0;
        else if (!util_eq_nocase(argv[3], argvlen[3], "all")) {
            reply_error(R, ERR_CLIENT_PAUSE_MODE);
            return;
        }
    }
    command_pause(now + ms, all);
    reply_simple(R, "OK");
}

void cmd_client_unpause(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    command_unpause();
    reply_simple(R, "OK");
}
