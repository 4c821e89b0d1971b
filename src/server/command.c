/* command.c - the dispatch level (see command.h).
 *
 * Design: every cmd_*.c module exports a table of struct command; command_table_init() merges
 * them into one array sorted by name for a case-insensitive binary search, and gives each
 * subcommand its "container|sub" name. command_process() applies Redis's checks in Redis's
 * order (unknown command, unknown subcommand, arity, authentication, loading, read-only),
 * queues inside MULTI, runs the handler and keeps commandstats.
 *
 * The durability rule lives here, once: every request (and every blocked client's
 * continuation) runs between durable_command_begin() and durable_command_end(), which return
 * the submission the stored state it touched depends on; finish_reply() then sends the reply,
 * holds it (commit.c) until that submission is durable, or, when that submission failed,
 * answers the error instead. Handlers never wait by hand. The per-client state of this level
 * (MULTI queue, retry list links, the command a client blocked in) is a struct cmd_session,
 * created when first needed and freed by the transport's release hook. Main thread only. */
#include "server/command.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "base/histogram.h"
#include "base/log.h"
#include "base/obk_assert.h"
#include "base/util.h"
#include "server/acl.h"
#include "server/acl_log.h"
#include "server/authfail.h"
#include "server/commit.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/durable.h"
#include "server/errors.h"
#include "server/latency.h"
#include "server/monitor.h"
#include "server/runtime.h"
#include "server/slowlog.h"
#include "server/stats.h"

/* One queued command of a MULTI block. */
struct queued_cmd {
    struct command *cmd;
    int argc;
    char **argv;
    size_t *argvlen;
};

struct cmd_session {
    struct queued_cmd *mstate; /* MULTI queue */
    int mcount, mcap;
    struct client *retry_next, *retry_prev; /* on the retry list while CLIENT_RETRY */
    struct command *blocked_cmd;            /* the command the client blocked in */
    struct slowlog_entry *blocked_args;     /* its arguments, for the slow log at the end */
    long long blocked_ns;                   /* the time it ran before it blocked */
};

static struct client *retry_head; /* clients whose request waits for cache space or a pause */

/* CLIENT PAUSE: until pause_end_ms (unix ms), every command (pause_all) or only the writes of
 * clients other than monitors wait on the retry list; a timer (or CLIENT UNPAUSE, through the
 * same timer at the next loop turn) runs them again. */
static long long pause_end_ms;
static int pause_all;
static struct event *pause_ev;

static struct cmd_session *session_of(struct client *c) {
    if (!c->session) c->session = calloc(1, sizeof(*c->session));
    return c->session;
}

static struct command **table;
static int table_len;

static struct command *lookup_sub(struct command *cmd, const char *name, size_t len);

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

void command_table_init(struct command *const *tables, int ntables) {
    int total = 0;
    for (int i = 0; i < ntables; i++) total += count_cmds(tables[i]);
    table = calloc((size_t)total, sizeof(*table));
    OBK_ASSERT(table != NULL || total == 0);
    table_len = 0;
    for (int i = 0; i < ntables; i++) add_table(tables[i]);
    qsort(table, (size_t)table_len, sizeof(*table), cmp_cmd);
    for (int i = 0; i < table_len; i++) {
        struct command *c = table[i];
        c->acl_id = acl_register_command(c->fullname, command_categories(c), -1);
        OBK_ASSERT(c->acl_id >= 0);
        for (struct command *s = c->subcommands; s && s->name; s++) {
            s->acl_id = acl_register_command(s->fullname, command_categories(s), c->acl_id);
            OBK_ASSERT(s->acl_id >= 0);
        }
    }
}

/* Commands whose categories Redis sets explicitly (in its command table) rather than as their
 * flags and group imply. */
#define CAT(x) (1u << ACL_CAT_##x)
static const struct {
    const char *name;
    unsigned cats;
} fixed_categories[] = {
    {"client|getname", CAT(SLOW) | CAT(CONNECTION)},
    {"client|id", CAT(SLOW) | CAT(CONNECTION)},
    {"client|info", CAT(SLOW) | CAT(CONNECTION)},
    {"client|setname", CAT(SLOW) | CAT(CONNECTION)},
    {"command", CAT(SLOW) | CAT(CONNECTION)},
    {"dbsize", CAT(KEYSPACE) | CAT(READ) | CAT(FAST)},
    {"flushall", CAT(KEYSPACE) | CAT(WRITE) | CAT(SLOW) | CAT(DANGEROUS)},
    {"flushdb", CAT(KEYSPACE) | CAT(WRITE) | CAT(SLOW) | CAT(DANGEROUS)},
    {"function|flush", CAT(WRITE) | CAT(SLOW) | CAT(SCRIPTING)},
    {"function|help", CAT(SLOW) | CAT(SCRIPTING)},
    {"info", CAT(SLOW) | CAT(DANGEROUS)},
    {"lastsave", CAT(ADMIN) | CAT(FAST) | CAT(DANGEROUS)},
    {"role", CAT(ADMIN) | CAT(FAST) | CAT(DANGEROUS)},
    {"wait", CAT(SLOW) | CAT(CONNECTION)},
};

unsigned command_categories(const struct command *cmd) {
    unsigned f = cmd->flags, cats = 0;
    /* a container is @slow, as in Redis (a rule on @slow then covers it with its subcommands) */
    if (!cmd->proc && cmd->subcommands) return CAT(SLOW);
    for (size_t i = 0; i < sizeof(fixed_categories) / sizeof(fixed_categories[0]); i++)
        if (!strcmp(cmd->fullname, fixed_categories[i].name) ||
            (!strcmp(fixed_categories[i].name, "command") && cmd->parent &&
             !strcmp(cmd->parent->name, "command")))
            return fixed_categories[i].cats;
    if (!strcmp(cmd->group, "generic")) cats |= 1u << ACL_CAT_KEYSPACE;
    if (f & CMD_READONLY) cats |= 1u << ACL_CAT_READ;
    if (f & CMD_WRITE) cats |= 1u << ACL_CAT_WRITE;
    if (!strcmp(cmd->group, "stream")) cats |= 1u << ACL_CAT_STREAM;
    if (f & CMD_PUBSUB) cats |= 1u << ACL_CAT_PUBSUB;
    if (f & CMD_ADMIN) cats |= 1u << ACL_CAT_ADMIN;
    cats |= 1u << ((f & CMD_FAST) ? ACL_CAT_FAST : ACL_CAT_SLOW);
    if (f & CMD_BLOCKING) cats |= 1u << ACL_CAT_BLOCKING;
    if (f & (CMD_ADMIN | CMD_DANGEROUS)) cats |= 1u << ACL_CAT_DANGEROUS;
    if (!strcmp(cmd->group, "connection")) cats |= 1u << ACL_CAT_CONNECTION;
    if (!strcmp(cmd->group, "transactions")) cats |= 1u << ACL_CAT_TRANSACTION;
    return cats;
}

/* ---- ACL: keys, and the checks of one request ---- */

/* Redis 7.0's key specifications as ACL reads them: ACCESS needs read, INSERT, DELETE and
 * UPDATE need write, a key only looked at (RO alone: EXISTS, TYPE, XLEN, OBJECT, MEMORY
 * USAGE) needs a matching pattern only. Commands not named follow their flags. */
static unsigned key_perm(const struct command *cmd, int nth) {
    static const char *const look_only[] = {"exists", "type", "xlen", "memory|usage", NULL};
    static const char *const read_only[] = {"ttl",        "pttl",       "expiretime", "pexpiretime",
                                            "xpending",   "xrange",     "xrevrange",  "xread",
                                            "xreadgroup", "xcommitted", "xlag",       NULL};
    const char *n = cmd->fullname;
    if (!strcmp(n, "rename")) return nth == 0 ? ACL_KEY_READ | ACL_KEY_WRITE : ACL_KEY_WRITE;
    if (!strncmp(n, "object|", 7)) return 0;
    for (int i = 0; look_only[i]; i++)
        if (!strcmp(n, look_only[i])) return 0;
    if (!strncmp(n, "xinfo|", 6)) return ACL_KEY_READ;
    for (int i = 0; read_only[i]; i++)
        if (!strcmp(n, read_only[i])) return ACL_KEY_READ;
    if (cmd->flags & CMD_WRITE) return ACL_KEY_WRITE;
    return (cmd->flags & CMD_READONLY) ? ACL_KEY_READ : 0;
}

int command_keys(const struct command *cmd, int argc, char **argv, size_t *argvlen, int *pos,
                 unsigned *perm, int cap) {
    int n = 0;
    if (cmd->flags & CMD_MOVABLEKEYS) { /* XREAD, XREADGROUP: the first half after STREAMS */
        /* searched from where Redis's key specification starts (XREADGROUP: after GROUP g c,
         * so a group or consumer named "streams" cannot move the keys) */
        int i = !strcmp(cmd->fullname, "xreadgroup") ? 4 : 1;
        while (i < argc && !util_eq_nocase(argv[i], argvlen[i], "streams")) i++;
        int nkeys = (argc - i - 1) / 2;
        for (int k = 0; k < nkeys && n < cap; k++, n++) {
            pos[n] = i + 1 + k;
            perm[n] = key_perm(cmd, k);
        }
        return n;
    }
    if (cmd->first_key <= 0) return 0;
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    for (int i = cmd->first_key; i <= last && i < argc && n < cap; i += step, n++) {
        pos[n] = i;
        perm[n] = key_perm(cmd, n);
    }
    return n;
}

static void (*describe_client)(const struct client *c, char *buf, size_t cap);

void command_set_client_describer(void (*fn)(const struct client *c, char *buf, size_t cap)) {
    describe_client = fn;
}

/* The channels a pub/sub command names (SUBSCRIBE, PSUBSCRIBE as patterns, PUBLISH). */
static int command_channels(const struct command *cmd, int argc, int *first, int *last) {
    const char *n = cmd->fullname;
    *first = 1;
    *last = argc - 1;
    if (!strcmp(n, "publish"))
        *last = 1;
    else if (strcmp(n, "subscribe") != 0 && strcmp(n, "psubscribe") != 0)
        return 0;
    return !strcmp(n, "psubscribe") ? 2 : 1;
}

/* What the permission set u (the user's own or a selector) may not do in this request: the
 * ACL_LOG_* reason, the refused object (the command's name, a key, a channel) and its argument
 * index, or -1 when everything is allowed. */
static int set_verdict(const struct acl_user *u, const struct command *cmd, int argc, char **argv,
                       size_t *argvlen, const char **object, size_t *olen, int *at) {
    unsigned flags = cmd->flags | (cmd->parent ? cmd->parent->flags : 0);
    /* AUTH, HELLO, QUIT, RESET: anyone may run them, whatever the rules (as Redis), or a
     * restricted default user would lock every user out */
    if (!(flags & CMD_NO_AUTH) && !acl_check_command(u, cmd->acl_id, argc, argv, argvlen)) {
        *object = cmd->fullname;
        *olen = strlen(cmd->fullname);
        return ACL_LOG_COMMAND;
    }
    if (!acl_user_all_keys(u)) { /* every key is checked, however many the request has */
        int small_pos[64], *pos = argc <= 64 ? small_pos : malloc(sizeof(int) * (size_t)argc);
        unsigned small_perm[64],
            *perm = argc <= 64 ? small_perm : malloc(sizeof(unsigned) * (size_t)argc);
        int nk = pos && perm ? command_keys(cmd, argc, argv, argvlen, pos, perm, argc) : -1;
        int refused = nk < 0; /* out of memory: refused, never waved through */
        for (int i = 0; i < nk && !refused; i++)
            if (!acl_check_key(u, argv[pos[i]], argvlen[pos[i]], perm[i])) {
                *object = argv[pos[i]];
                *olen = argvlen[pos[i]];
                *at = pos[i];
                refused = 1;
            }
        if (pos != small_pos) free(pos);
        if (perm != small_perm) free(perm);
        if (refused) {
            if (nk < 0) *object = cmd->fullname, *olen = strlen(cmd->fullname);
            return ACL_LOG_KEY;
        }
    }
    int first = 0, last = -1;
    int kind = acl_user_all_channels(u) ? 0 : command_channels(cmd, argc, &first, &last);
    for (int i = first; kind && i <= last; i++)
        if (!acl_check_channel(u, argv[i], argvlen[i], kind == 2)) {
            *object = argv[i];
            *olen = argvlen[i];
            *at = i;
            return ACL_LOG_CHANNEL;
        }
    return -1;
}

/* What user u may not do in this request, as set_verdict, over the user's own permission set
 * and its selectors: allowed when one set allows everything. Otherwise, as Redis 7.0 reports
 * it, the refusal that got furthest: a channel over a key over the command, and between two of
 * one kind the one at the later argument. */
static int acl_verdict(const struct acl_user *u, const struct command *cmd, int argc, char **argv,
                       size_t *argvlen, const char **object, size_t *olen) {
    int best = -1, best_at = 0;
    for (int i = 0; i < acl_selector_count(u); i++) {
        const char *o = NULL;
        size_t ol = 0;
        int at = 0;
        int r = set_verdict(acl_selector(u, i), cmd, argc, argv, argvlen, &o, &ol, &at);
        if (r < 0) return -1;
        if (best < 0 || r > best || (r == best && at > best_at)) {
            best = r;
            best_at = at;
            *object = o;
            *olen = ol;
        }
    }
    return best;
}

/* Checks a request for the client's user; on a refusal writes Redis's NOPERM text into msg,
 * adds the ACL LOG entry and returns the ACL_LOG_* reason, else -1. */
static int acl_refuses(struct client *c, const struct command *cmd, int argc, char **argv,
                       size_t *argvlen, int context, char *msg, size_t cap) {
    const struct acl_user *u = c->user ? c->user : acl_default_user();
    const char *object = NULL;
    size_t olen = 0;
    if (!u) return -1;
    int reason = acl_verdict(u, cmd, argc, argv, argvlen, &object, &olen);
    if (reason < 0) return -1;
    if (reason == ACL_LOG_COMMAND)
        snprintf(msg, cap, ERR_NOPERM_COMMAND, cmd->fullname);
    else
        snprintf(msg, cap, "%s", reason == ACL_LOG_KEY ? ERR_NOPERM_KEY : ERR_NOPERM_CHANNEL);
    authfail_note_denied(reason == ACL_LOG_COMMAND ? AUTHFAIL_CMD
                         : reason == ACL_LOG_KEY   ? AUTHFAIL_KEY
                                                   : AUTHFAIL_CHANNEL);
    char info[1024] = "";
    c->last_cmd_name = cmd->fullname; /* Redis's client-info names the refused command */
    if (describe_client) describe_client(c, info, sizeof(info));
    const char *uname = acl_user_name(u);
    acl_log_add(reason, context, object, olen, uname, strlen(uname), info);
    return reason;
}

int command_dryrun(const struct acl_user *u, int argc, char **argv, size_t *argvlen, char *why,
                   size_t cap) {
    struct command *cmd = command_lookup(argv[0], argvlen[0]);
    if (cmd && cmd->subcommands) cmd = argc >= 2 ? lookup_sub(cmd, argv[1], argvlen[1]) : NULL;
    if (!cmd) {
        snprintf(why, cap, "Command '%.*s' not found", (int)(argvlen[0] > 128 ? 128 : argvlen[0]),
                 argv[0]);
        return -1;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        snprintf(why, cap, "wrong number of arguments for '%s' command", cmd->fullname);
        return -1;
    }
    const char *object = NULL;
    size_t olen = 0;
    int reason = acl_verdict(u, cmd, argc, argv, argvlen, &object, &olen);
    if (reason < 0) return 0;
    int n = (int)(olen > 128 ? 128 : olen);
    if (reason == ACL_LOG_COMMAND)
        snprintf(why, cap, "This user has no permissions to run the '%s' command", cmd->fullname);
    else
        snprintf(why, cap, "This user has no permissions to access the '%.*s' %s", n, object,
                 reason == ACL_LOG_KEY ? "key" : "channel");
    return 1;
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

int command_queued_count(const struct client *c) {
    if (!(c->flags & CLIENT_MULTI)) return -1;
    return c->session ? c->session->mcount : 0;
}

static void free_queue(struct queued_cmd *q, int n) {
    for (int i = 0; i < n; i++) util_free_args(q[i].argv, q[i].argvlen, q[i].argc);
    free(q);
}

void command_discard_multi(struct client *c) {
    struct cmd_session *s = c->session;
    if (s) {
        free_queue(s->mstate, s->mcount);
        s->mstate = NULL;
        s->mcount = s->mcap = 0;
    }
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
}

static void retry_unlink(struct client *c) {
    struct cmd_session *s = c->session;
    if (s->retry_prev)
        s->retry_prev->session->retry_next = s->retry_next;
    else
        retry_head = s->retry_next;
    if (s->retry_next) s->retry_next->session->retry_prev = s->retry_prev;
    s->retry_next = s->retry_prev = NULL;
    c->flags &= ~(CLIENT_RETRY | CLIENT_PAUSED);
}

void command_release_client(struct client *c) {
    if (!c->session) return;
    if (c->flags & CLIENT_RETRY) retry_unlink(c);
    command_discard_multi(c);
    slowlog_entry_free(c->session->blocked_args);
    free(c->session);
    c->session = NULL;
}

/* Rejects a request before it runs: the error, the statistics and, inside MULTI, the flag
 * that makes EXEC abort (Redis's flagTransaction). */
static void reject(struct client *c, struct command *cmd, const char *msg) {
    if (cmd) cmd->rejected_calls++;
    if (cmd && !strcmp(cmd->fullname, "exec")) {
        /* A rejected EXEC aborts the transaction and says why (Redis's execCommandAbort); the
         * reason keeps its code unless that code is the generic ERR. */
        char text[600];
        snprintf(text, sizeof(text), ERR_EXECABORT_BECAUSE,
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
    struct cmd_session *s = session_of(c);
    if (!s) return -1;
    if (s->mcount == s->mcap) {
        int cap = s->mcap ? s->mcap * 2 : 8;
        struct queued_cmd *n = realloc(s->mstate, (size_t)cap * sizeof(*n));
        if (!n) return -1;
        s->mstate = n;
        s->mcap = cap;
    }
    struct queued_cmd *q = &s->mstate[s->mcount];
    memset(q, 0, sizeof(*q));
    q->argv = calloc((size_t)argc, sizeof(char *));
    q->argvlen = malloc((size_t)argc * sizeof(size_t));
    if (!q->argv || !q->argvlen) goto fail;
    for (int i = 0; i < argc; i++) {
        if (!(q->argv[i] = malloc(argvlen[i] + 1))) goto fail;
        memcpy(q->argv[i], argv[i], argvlen[i] + 1);
        q->argvlen[i] = argvlen[i];
    }
    q->argc = argc;
    q->cmd = cmd;
    s->mcount++;
    return 0;
fail: /* nothing of this command stays queued */
    for (int i = 0; q->argv && i < argc; i++) free(q->argv[i]);
    free(q->argv);
    free(q->argvlen);
    return -1;
}

/* Adds a finished call to the command's statistics. */
static void count_call(struct command *cmd, long long ns, int failed) {
    cmd->usec += ns / 1000;
    cmd->calls++;
    if (server_config.latency_tracking) {
        if (!cmd->latency) cmd->latency = calloc(1, sizeof(*cmd->latency));
        if (cmd->latency) histogram_record(cmd->latency, (uint64_t)ns);
    }
    if (failed) cmd->failed_calls++;
}

/* Marks the arguments that the slow log and MONITOR never show (Redis's redaction): AUTH's
 * arguments, HELLO's AUTH username and password, ACL SETUSER's arguments, and the values of
 * CONFIG SET requirepass, masterauth, masteruser, the key passphrases and http-auth-token (the
 * HTTP face's secret). Only the first SLOWLOG_ENTRY_MAX_ARGC positions are marked. */
void command_redact(const struct command *cmd, int argc, char **argv, size_t *argvlen,
                    unsigned char *redact) {
    memset(redact, 0, SLOWLOG_ENTRY_MAX_ARGC);
    int lim = argc < SLOWLOG_ENTRY_MAX_ARGC ? argc : SLOWLOG_ENTRY_MAX_ARGC;
    if (!strcmp(cmd->fullname, "auth")) {
        for (int i = 1; i < lim; i++) redact[i] = 1;
    } else if (!strcmp(cmd->fullname, "acl|setuser")) {
        for (int i = 2; i < lim; i++) redact[i] = 1; /* the name too, as Redis */
    } else if (!strcmp(cmd->fullname, "hello")) {
        for (int i = 2; i + 2 < argc; i++)
            if (util_eq_nocase(argv[i], argvlen[i], "auth")) {
                if (i + 1 < lim) redact[i + 1] = 1;
                if (i + 2 < lim) redact[i + 2] = 1;
                break;
            }
    } else if (!strcmp(cmd->fullname, "config|set")) {
        for (int i = 2; i + 1 < lim; i += 2)
            if (util_eq_nocase(argv[i], argvlen[i], "requirepass") ||
                util_eq_nocase(argv[i], argvlen[i], "masterauth") ||
                util_eq_nocase(argv[i], argvlen[i], "masteruser") ||
                util_eq_nocase(argv[i], argvlen[i], "tls-key-file-pass") ||
                util_eq_nocase(argv[i], argvlen[i], "tls-client-key-file-pass") ||
                util_eq_nocase(argv[i], argvlen[i], "http-auth-token"))
                redact[i + 1] = 1;
    }
}

static struct slowlog_entry *slowlog_args(struct command *cmd, int argc, char **argv,
                                          size_t *argvlen) {
    unsigned char redact[SLOWLOG_ENTRY_MAX_ARGC];
    command_redact(cmd, argc, argv, argvlen, redact);
    return slowlog_entry_new(argc, argv, argvlen, redact);
}

static int slowlog_wants(struct command *cmd, long long ns) {
    long long limit = server_config.slowlog_log_slower_than;
    return limit >= 0 && ns / 1000 >= limit && strcmp(cmd->fullname, "exec") != 0;
}

static void slowlog_record(struct client *c, struct slowlog_entry *e, long long ns) {
    if (e) slowlog_push(e, ns / 1000, c->addr, c->name, server_config.slowlog_max_len);
}

/* The latency monitor's command events, as Redis names them. */
static void latency_record(struct command *cmd, long long ns) {
    long long ms = ns / 1000000, limit = server_config.latency_monitor_threshold;
    if (limit > 0 && ms >= limit)
        latency_add_sample(cmd->flags & CMD_FAST ? "fast-command" : "command",
                           ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms);
}

/* Runs a handler with statistics: calls, time, and failed_calls when it replied an error. A
 * call that parked (retry) is counted when it runs for real; one that blocked is counted when
 * it is unblocked (command_continue_blocked), as Redis counts blocked commands. */
static void command_call(struct client *c, struct command *cmd, int argc, char **argv,
                         size_t *argvlen) {
    long long errors_before = server_stats.error_replies;
    long long start = util_monotonic_ns();
    c->last_cmd_name = cmd->fullname;
    cmd->proc(c, argc, argv, argvlen);
    long long ns = util_monotonic_ns() - start;
    if (c->flags & CLIENT_RETRY) return;
    server_stats.commands_processed++;
    if (monitor_active() && !(cmd->flags & CMD_ADMIN)) { /* Redis never shows admin commands */
        unsigned char redact[SLOWLOG_ENTRY_MAX_ARGC];
        command_redact(cmd, argc, argv, argvlen, redact);
        monitor_feed(c, argc, argv, argvlen, redact);
    }
    if ((c->flags & CLIENT_BLOCKED) && session_of(c)) {
        c->session->blocked_cmd = cmd;
        c->session->blocked_ns = ns;
        slowlog_entry_free(c->session->blocked_args);
        c->session->blocked_args = server_config.slowlog_log_slower_than >= 0
                                       ? slowlog_args(cmd, argc, argv, argvlen)
                                       : NULL;
        return;
    }
    count_call(cmd, ns, server_stats.error_replies != errors_before);
    latency_record(cmd, ns);
    if (slowlog_wants(cmd, ns)) slowlog_record(c, slowlog_args(cmd, argc, argv, argvlen), ns);
}

void command_exec_queued(struct client *c) {
    struct cmd_session *s = c->session;
    /* Take the queue off the client first: a queued command must run, not be queued again. */
    struct queued_cmd *q = s ? s->mstate : NULL;
    int n = s ? s->mcount : 0;
    if (s) {
        s->mstate = NULL;
        s->mcount = s->mcap = 0;
    }
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
    c->flags |= CLIENT_IN_EXEC;
    reply_array(&c->reply, n);
    for (int i = 0; i < n; i++) {
        char msg[256];
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        /* the rules may have changed since the command was queued (Redis checks again) */
        int why = acl_refuses(c, q[i].cmd, q[i].argc, q[i].argv, q[i].argvlen, ACL_LOG_MULTI, msg,
                              sizeof(msg));
        if (why >= 0) {
            snprintf(msg, sizeof(msg), ERR_NOPERM_EXEC,
                     why == ACL_LOG_COMMAND ? "no permission to execute the command or subcommand"
                     : why == ACL_LOG_KEY   ? "no permission to touch the specified keys"
                                            : "no permission to access one of the channels used "
                                              "as arguments");
            reply_error(&c->reply, msg);
            continue;
        }
        command_call(c, q[i].cmd, q[i].argc, q[i].argv, q[i].argvlen);
    }
    free_queue(q, n);
    c->flags &= ~CLIENT_IN_EXEC;
}

/* 1 when cmd (or, for EXEC, a queued command) writes. */
static int writes(struct client *c, struct command *cmd) {
    if (cmd->flags & CMD_WRITE) return 1;
    if (strcmp(cmd->fullname, "exec") != 0 || !c->session) return 0;
    for (int i = 0; i < c->session->mcount; i++)
        if (c->session->mstate[i].cmd->flags & CMD_WRITE) return 1;
    return 0;
}

static int paused_for(struct client *c, struct command *cmd) {
    if (!pause_end_ms || (c->flags & CLIENT_MONITOR)) return 0;
    if (util_mstime() >= pause_end_ms) {
        pause_end_ms = 0;
        pause_all = 0;
        return 0;
    }
    return pause_all || writes(c, cmd);
}

static void pause_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    if (pause_end_ms && util_mstime() < pause_end_ms) { /* extended: wait again */
        struct timeval tv = {0, 0};
        long long left = pause_end_ms - util_mstime();
        tv.tv_sec = left / 1000;
        tv.tv_usec = (left % 1000) * 1000;
        evtimer_add(pause_ev, &tv);
        return;
    }
    pause_end_ms = 0;
    pause_all = 0;
    command_retry_waiting();
}

static void pause_arm(long long delay_ms) {
    if (!pause_ev) pause_ev = evtimer_new(runtime.base, pause_timer_cb, NULL);
    if (!pause_ev) return;
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    evtimer_add(pause_ev, &tv);
}

void command_pause(long long end_ms, int all) {
    /* as Redis: a second pause never shortens or weakens the first */
    if (all) pause_all = 1;
    if (end_ms > pause_end_ms) pause_end_ms = end_ms;
    long long left = pause_end_ms - util_mstime();
    pause_arm(left > 0 ? left : 0);
}

void command_unpause(void) {
    pause_end_ms = 0;
    pause_all = 0;
    pause_arm(0); /* the paused requests run at the next loop turn, not inside this one */
}

static void command_process(struct client *c, int argc, char **argv, size_t *argvlen) {
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
    if ((c->flags & CLIENT_MULTI) && (cmd->flags & CMD_NO_MULTI)) {
        reject(c, cmd, ERR_NOT_IN_TRANSACTION);
        return;
    }
    unsigned flags = cmd->flags | (cmd->parent ? cmd->parent->flags & CMD_NO_AUTH : 0);
    if (conn_auth_required(c) && !(flags & CMD_NO_AUTH)) {
        reject(c, cmd, ERR_NOAUTH);
        return;
    }
    if (acl_refuses(c, cmd, argc, argv, argvlen, ACL_LOG_TOPLEVEL, msg, sizeof(msg)) >= 0) {
        reject(c, cmd, msg);
        return;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->proto == 2 && !(flags & CMD_PUBSUB_OK)) {
        snprintf(msg, sizeof(msg), ERR_PUBSUB_CONTEXT, cmd->fullname);
        reject(c, cmd, msg);
        return;
    }
    if (runtime.loading && !(flags & CMD_LOADING)) {
        reject(c, cmd, ERR_LOADING);
        return;
    }
    if ((flags & CMD_WRITE) && durable_readonly()) { /* after an I/O error, never pretend */
        reject(c, cmd, durable_error_text());
        return;
    }
    if ((flags & CMD_WRITE) && !runtime.replica && server_config.min_replicas_to_write > 0 &&
        runtime.good_replicas < server_config.min_replicas_to_write) {
        reject(c, cmd, ERR_NOREPLICAS);
        return;
    }
    /* a replica's data comes from its primary only (its link applies records, not commands) */
    if ((flags & CMD_WRITE) && runtime.replica && server_config.replica_read_only) {
        reject(c, cmd, ERR_READONLY);
        return;
    }
    if (paused_for(c, cmd)) {
        command_retry_later(c);
        c->flags |= CLIENT_PAUSED;
        return;
    }
    if ((c->flags & CLIENT_MULTI) && !(flags & CMD_TX_CONTROL)) {
        if (queue_command(c, cmd, argc, argv, argvlen) != 0) {
            reject(c, cmd, ERR_OUT_OF_MEMORY);
            return;
        }
        reply_simple(&c->reply, "QUEUED");
        return;
    }
    command_call(c, cmd, argc, argv, argvlen);
}

/* Sends or holds the reply written into the stage since mark; wait is the submission the
 * stored state it shows depends on (0: none). */
static void finish_reply(struct client *c, size_t mark, uint64_t wait) {
    size_t len = evbuffer_get_length(c->stage);
    if (len == mark) return; /* no reply (the client blocked) */
    OBK_ASSERT(len > mark);
    if (wait > durable_seq() && durable_error()) {
        /* The reply depends on writes that failed and will never be durable: answer the
         * error instead (nothing that was not written is acknowledged or shown). */
        struct evbuffer *earlier = evbuffer_new();
        if (earlier) evbuffer_remove_buffer(c->stage, earlier, mark);
        evbuffer_drain(c->stage, evbuffer_get_length(c->stage));
        if (earlier) {
            evbuffer_prepend_buffer(c->stage, earlier);
            evbuffer_free(earlier);
        }
        mark = evbuffer_get_length(c->stage);
        reply_error(&c->reply, durable_error_text());
        wait = commit_last_seq(c); /* only behind what is already held */
    }
    if (!commit_holding(c) && wait <= durable_seq()) return; /* sent with the stage */
    if (commit_hold(c, wait, mark) != 0) {
        log_msg(LOG_WARNING, "Out of memory holding a reply: closing client id=%llu",
                (unsigned long long)c->id);
        conn_close_async(c);
    }
}

int command_handle_request(struct client *c, int argc, char **argv, size_t *argvlen) {
    size_t mark = evbuffer_get_length(c->stage);
    durable_command_begin();
    command_process(c, argc, argv, argvlen);
    uint64_t wait = durable_command_end();
    if (c->flags & CLIENT_RETRY) return 1; /* nothing was replied; it runs again */
    finish_reply(c, mark, wait);
    return 0;
}

void command_retry_later(struct client *c) {
    struct cmd_session *s = session_of(c);
    if ((c->flags & CLIENT_RETRY) || !s) return;
    c->flags |= CLIENT_RETRY;
    s->retry_prev = NULL;
    s->retry_next = retry_head;
    if (retry_head) retry_head->session->retry_prev = c;
    retry_head = c;
}

void command_retry_waiting(void) {
    struct client *list = retry_head;
    retry_head = NULL;
    while (list) {
        struct client *c = list;
        list = c->session->retry_next;
        c->session->retry_next = c->session->retry_prev = NULL;
        c->flags &= ~(CLIENT_RETRY | CLIENT_PAUSED);
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        if (command_handle_request(c, c->parser.argc, c->parser.argv, c->parser.argvlen))
            continue; /* still no space: waits for the next completion */
        conn_request_done(c);
        conn_resume_input(c);
    }
}

int command_continue_blocked(struct client *c, int (*fn)(struct client *c, int arg), int arg) {
    size_t mark = evbuffer_get_length(c->stage);
    long long errors_before = server_stats.error_replies;
    long long start = util_monotonic_ns();
    durable_command_begin();
    int done = fn(c, arg);
    uint64_t wait = durable_command_end();
    if (!done) return 0;
    finish_reply(c, mark, wait);
    struct command *cmd = c->session ? c->session->blocked_cmd : NULL;
    if (cmd) {
        long long ns = util_monotonic_ns() - start;
        struct slowlog_entry *args = c->session->blocked_args;
        c->session->blocked_cmd = NULL;
        c->session->blocked_args = NULL;
        count_call(cmd, ns, server_stats.error_replies != errors_before);
        /* Redis logs a blocked command when it ends, with the time it ran (not waited) */
        ns += c->session->blocked_ns;
        if (slowlog_wants(cmd, ns))
            slowlog_record(c, args, ns);
        else
            slowlog_entry_free(args);
    }
    return 1;
}
