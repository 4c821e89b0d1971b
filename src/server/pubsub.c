/* pubsub.c - Redis pub/sub (see pubsub.h).
 *
 * Design: a hash table maps each channel with subscribers to its subscribers in subscription
 * order (the order PUBLISH delivers in); pattern subscriptions are one list of (pattern,
 * client) in subscription order. Each client keeps its own channels and patterns in order,
 * which is also the order UNSUBSCRIBE without arguments answers in. A message is written into
 * the subscriber's stage as a RESP2 array or a RESP3 push and sent like any reply (behind the
 * subscriber's held replies, if any); the publisher's own copy stays in its stage, ahead of
 * PUBLISH's reply, as in Redis. CLIENT_PUBSUB marks a client with subscriptions: in RESP2 it
 * may then send only the commands flagged CMD_PUBSUB_OK (command.c checks). Main thread only. */
#include "server/pubsub.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "server/acl.h"
#include "server/cmds.h"
#include "server/command.h"
#include "server/conn.h"
#include "server/errors.h"

#define R (&c->reply)

struct subs { /* clients, in subscription order */
    struct client **v;
    size_t n, cap;
};

struct channel {
    char *name;
    size_t len;
    uint64_t hash;
    struct subs subs;
    struct channel *hnext;
};

struct pattern_sub {
    char *pat;
    size_t len;
    struct client *c;
};

struct name_list { /* a client's channels or patterns, in subscription order */
    char **v;
    size_t *len;
    size_t n, cap;
};

struct pubsub_client {
    struct name_list channels, patterns;
};

static struct channel **table;
static size_t table_size, nchannels;
static struct pattern_sub *patterns;
static size_t npatterns, patterns_cap;

static uint64_t name_hash(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int same(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && (alen == 0 || !memcmp(a, b, alen));
}

static struct channel *find_channel(const char *name, size_t len, uint64_t h) {
    if (!table_size) return NULL;
    for (struct channel *ch = table[h & (table_size - 1)]; ch; ch = ch->hnext)
        if (ch->hash == h && same(ch->name, ch->len, name, len)) return ch;
    return NULL;
}

static int grow_table(void) {
    size_t size = table_size ? table_size * 2 : 64;
    struct channel **nt = calloc(size, sizeof(*nt));
    if (!nt) return -1;
    for (size_t i = 0; i < table_size; i++)
        for (struct channel *ch = table[i], *next; ch; ch = next) {
            next = ch->hnext;
            ch->hnext = nt[ch->hash & (size - 1)];
            nt[ch->hash & (size - 1)] = ch;
        }
    free(table);
    table = nt;
    table_size = size;
    return 0;
}

static char *dup_bytes(const char *p, size_t len) {
    char *d = malloc(len + 1);
    if (d) {
        if (len) memcpy(d, p, len);
        d[len] = '\0';
    }
    return d;
}

static struct pubsub_client *state_of(struct client *c) {
    if (!c->pubsub) c->pubsub = calloc(1, sizeof(*c->pubsub));
    return c->pubsub;
}

static int names_find(const struct name_list *l, const char *p, size_t len) {
    for (size_t i = 0; i < l->n; i++)
        if (same(l->v[i], l->len[i], p, len)) return (int)i;
    return -1;
}

static int names_add(struct name_list *l, const char *p, size_t len) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        char **nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv) return -1;
        l->v = nv;
        size_t *nl = realloc(l->len, cap * sizeof(*nl));
        if (!nl) return -1;
        l->len = nl;
        l->cap = cap;
    }
    if (!(l->v[l->n] = dup_bytes(p, len))) return -1;
    l->len[l->n++] = len;
    return 0;
}

static void names_remove(struct name_list *l, size_t i) {
    free(l->v[i]);
    memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof(*l->v));
    memmove(l->len + i, l->len + i + 1, (l->n - i - 1) * sizeof(*l->len));
    l->n--;
}

int pubsub_channel_count(const struct client *c) {
    return c->pubsub ? (int)c->pubsub->channels.n : 0;
}

int pubsub_pattern_count(const struct client *c) {
    return c->pubsub ? (int)c->pubsub->patterns.n : 0;
}

int pubsub_count(const struct client *c) {
    return pubsub_channel_count(c) + pubsub_pattern_count(c);
}

int pubsub_allowed_for(const struct client *c, const struct acl_user *u) {
    const struct pubsub_client *p = c->pubsub;
    if (!p) return 1;
    for (size_t i = 0; i < p->channels.n; i++)
        if (!acl_user_channel_ok(u, p->channels.v[i], p->channels.len[i], 0)) return 0;
    for (size_t i = 0; i < p->patterns.n; i++)
        if (!acl_user_channel_ok(u, p->patterns.v[i], p->patterns.len[i], 1)) return 0;
    return 1;
}

long long pubsub_total_channels(void) {
    return (long long)nchannels;
}

long long pubsub_total_patterns(void) {
    long long n = 0; /* distinct patterns, as Redis counts NUMPAT */
    for (size_t i = 0; i < npatterns; i++) {
        size_t j = 0;
        while (j < i && !same(patterns[j].pat, patterns[j].len, patterns[i].pat, patterns[i].len))
            j++;
        n += j == i;
    }
    return n;
}

static void update_flag(struct client *c) {
    if (pubsub_count(c) > 0)
        c->flags |= CLIENT_PUBSUB;
    else
        c->flags &= ~CLIENT_PUBSUB;
}

/* ---- channels ---- */

static int channel_add(struct client *c, const char *name, size_t len) {
    uint64_t h = name_hash(name, len);
    struct channel *ch = find_channel(name, len, h);
    if (!ch) {
        if (nchannels + 1 > table_size && grow_table() != 0) return -1;
        if (!(ch = calloc(1, sizeof(*ch))) || !(ch->name = dup_bytes(name, len))) {
            free(ch);
            return -1;
        }
        ch->len = len;
        ch->hash = h;
        ch->hnext = table[h & (table_size - 1)];
        table[h & (table_size - 1)] = ch;
        nchannels++;
    }
    struct subs *s = &ch->subs;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        struct client **nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv) return -1;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = c;
    return 0;
}

static void channel_remove(struct client *c, const char *name, size_t len) {
    uint64_t h = name_hash(name, len);
    struct channel *ch = find_channel(name, len, h);
    if (!ch) return;
    struct subs *s = &ch->subs;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == c) {
            memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
            s->n--;
            break;
        }
    if (s->n > 0) return;
    struct channel **pp = &table[h & (table_size - 1)];
    while (*pp != ch) pp = &(*pp)->hnext;
    *pp = ch->hnext;
    nchannels--;
    free(s->v);
    free(ch->name);
    free(ch);
}

static void pattern_remove(struct client *c, const char *pat, size_t len) {
    for (size_t i = 0; i < npatterns; i++)
        if (patterns[i].c == c && same(patterns[i].pat, patterns[i].len, pat, len)) {
            free(patterns[i].pat);
            memmove(patterns + i, patterns + i + 1, (npatterns - i - 1) * sizeof(*patterns));
            npatterns--;
            return;
        }
}

static int pattern_add(struct client *c, const char *pat, size_t len) {
    if (npatterns == patterns_cap) {
        size_t cap = patterns_cap ? patterns_cap * 2 : 8;
        struct pattern_sub *np = realloc(patterns, cap * sizeof(*np));
        if (!np) return -1;
        patterns = np;
        patterns_cap = cap;
    }
    char *d = dup_bytes(pat, len);
    if (!d) return -1;
    patterns[npatterns++] = (struct pattern_sub){d, len, c};
    return 0;
}

/* ---- messages ---- */

/* Writes one message into s's stage; sends it unless s is the client whose command runs now
 * (its copy leaves with that command's reply). */
static void deliver(struct client *s, const struct client *running, const char *pat, size_t patlen,
                    const char *ch, size_t chlen, const char *msg, size_t msglen) {
    if (s->flags & CLIENT_CLOSE_ASAP) return;
    reply_push(&s->reply, pat ? 4 : 3);
    reply_bulk_cstr(&s->reply, pat ? "pmessage" : "message");
    if (pat) reply_bulk(&s->reply, pat, patlen);
    reply_bulk(&s->reply, ch, chlen);
    reply_bulk(&s->reply, msg, msglen);
    if (s != running) conn_flush_stage(s);
}

static long long publish_from(const struct client *running, const char *ch, size_t chlen,
                              const char *msg, size_t msglen) {
    long long n = 0;
    struct channel *c = find_channel(ch, chlen, name_hash(ch, chlen));
    for (size_t i = 0; c && i < c->subs.n; i++, n++)
        deliver(c->subs.v[i], running, NULL, 0, ch, chlen, msg, msglen);
    for (size_t i = 0; i < npatterns; i++) {
        struct pattern_sub *p = &patterns[i];
        if (!util_glob_match(p->pat, p->len, ch, chlen, 0)) continue;
        deliver(p->c, running, p->pat, p->len, ch, chlen, msg, msglen);
        n++;
    }
    return n;
}

long long pubsub_publish(const char *channel, size_t chlen, const char *msg, size_t msglen) {
    return publish_from(NULL, channel, chlen, msg, msglen);
}

/* ---- client state ---- */

/* Replies [kind, name or nil, count] as Redis does for (un)subscriptions. */
static void reply_sub(struct client *c, const char *kind, const char *name, size_t len) {
    reply_push(R, 3);
    reply_bulk_cstr(R, kind);
    if (name)
        reply_bulk(R, name, len);
    else
        reply_null(R);
    reply_int(R, pubsub_count(c));
}

void pubsub_unsubscribe_all(struct client *c) {
    struct pubsub_client *st = c->pubsub;
    if (!st) return;
    while (st->channels.n) {
        channel_remove(c, st->channels.v[0], st->channels.len[0]);
        names_remove(&st->channels, 0);
    }
    while (st->patterns.n) {
        pattern_remove(c, st->patterns.v[0], st->patterns.len[0]);
        names_remove(&st->patterns, 0);
    }
    update_flag(c);
}

void pubsub_release_client(struct client *c) {
    if (!c->pubsub) return;
    pubsub_unsubscribe_all(c);
    free(c->pubsub->channels.v);
    free(c->pubsub->channels.len);
    free(c->pubsub->patterns.v);
    free(c->pubsub->patterns.len);
    free(c->pubsub);
    c->pubsub = NULL;
}

/* ---- commands ---- */

static void subscribe_generic(struct client *c, int argc, char **argv, size_t *argvlen, int pat) {
    struct pubsub_client *st = state_of(c);
    if (!st) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        return;
    }
    struct name_list *l = pat ? &st->patterns : &st->channels;
    for (int i = 1; i < argc; i++) {
        if (names_find(l, argv[i], argvlen[i]) < 0) {
            if (names_add(l, argv[i], argvlen[i]) != 0 ||
                (pat ? pattern_add(c, argv[i], argvlen[i]) : channel_add(c, argv[i], argvlen[i])) !=
                    0) {
                if (names_find(l, argv[i], argvlen[i]) >= 0) names_remove(l, l->n - 1);
                reply_error(R, ERR_OUT_OF_MEMORY);
                break;
            }
        }
        update_flag(c);
        reply_sub(c, pat ? "psubscribe" : "subscribe", argv[i], argvlen[i]);
    }
}

static void unsubscribe_generic(struct client *c, int argc, char **argv, size_t *argvlen, int pat) {
    const char *kind = pat ? "punsubscribe" : "unsubscribe";
    struct name_list *l = c->pubsub ? (pat ? &c->pubsub->patterns : &c->pubsub->channels) : NULL;
    if (argc == 1) { /* all of them, in subscription order; nil when there are none */
        if (!l || l->n == 0) reply_sub(c, kind, NULL, 0);
        while (l && l->n) {
            char *name = l->v[0];
            size_t len = l->len[0];
            l->v[0] = NULL; /* keep the bytes for the reply */
            if (pat)
                pattern_remove(c, name, len);
            else
                channel_remove(c, name, len);
            names_remove(l, 0);
            update_flag(c);
            reply_sub(c, kind, name, len);
            free(name);
        }
        return;
    }
    for (int i = 1; i < argc; i++) {
        int k = l ? names_find(l, argv[i], argvlen[i]) : -1;
        if (k >= 0) {
            if (pat)
                pattern_remove(c, argv[i], argvlen[i]);
            else
                channel_remove(c, argv[i], argvlen[i]);
            names_remove(l, (size_t)k);
        }
        update_flag(c);
        reply_sub(c, kind, argv[i], argvlen[i]);
    }
}

static void cmd_subscribe(CMD_ARGS) {
    subscribe_generic(c, argc, argv, argvlen, 0);
}

static void cmd_psubscribe(CMD_ARGS) {
    subscribe_generic(c, argc, argv, argvlen, 1);
}

static void cmd_unsubscribe(CMD_ARGS) {
    unsubscribe_generic(c, argc, argv, argvlen, 0);
}

static void cmd_punsubscribe(CMD_ARGS) {
    unsubscribe_generic(c, argc, argv, argvlen, 1);
}

static void cmd_publish(CMD_ARGS) {
    (void)argc;
    reply_int(R, publish_from(c, argv[1], argvlen[1], argv[2], argvlen[2]));
}

static void cmd_pubsub_channels(CMD_ARGS) {
    int h = reply_defer_len(R);
    long n = 0;
    for (size_t i = 0; i < table_size; i++)
        for (struct channel *ch = table[i]; ch; ch = ch->hnext) {
            if (argc == 3 && !util_glob_match(argv[2], argvlen[2], ch->name, ch->len, 0)) continue;
            reply_bulk(R, ch->name, ch->len);
            n++;
        }
    reply_set_array_len(R, h, n);
}

static void cmd_pubsub_numsub(CMD_ARGS) {
    reply_array(R, 2L * (argc - 2)); /* an array in RESP3 too, as Redis 7.0 */
    for (int i = 2; i < argc; i++) {
        struct channel *ch = find_channel(argv[i], argvlen[i], name_hash(argv[i], argvlen[i]));
        reply_bulk(R, argv[i], argvlen[i]);
        reply_int(R, ch ? (long long)ch->subs.n : 0);
    }
}

static void cmd_pubsub_numpat(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    reply_int(R, pubsub_total_patterns());
}

/* Obelisk has no shard channels (SSUBSCRIBE is not a command here), so there are none to list
 * or count: the answers Redis gives when none exist. */
static void cmd_pubsub_shardchannels(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    reply_array(R, 0);
}

static void cmd_pubsub_shardnumsub(CMD_ARGS) {
    reply_array(R, 2L * (argc - 2));
    for (int i = 2; i < argc; i++) {
        reply_bulk(R, argv[i], argvlen[i]);
        reply_int(R, 0);
    }
}

static void cmd_pubsub_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

#define F(x) CMD_##x
#define PS   F(PUBSUB) | F(LOADING) | F(STALE)
#define SUB  F(PUBSUB) | F(NOSCRIPT) | F(LOADING) | F(STALE) | F(PUBSUB_OK)

static struct command pubsub_subcommands[] = {
    {"channels", cmd_pubsub_channels, -2, PS, 0, 0, 0, "pubsub", "2.8.0",
     "Lists the channels that have subscribers, optionally matching a pattern.",
     "O(N) where N is the number of active channels", .args = "pattern:pattern?"},
    {"numsub", cmd_pubsub_numsub, -2, PS, 0, 0, 0, "pubsub", "2.8.0",
     "Counts the subscribers of each channel (pattern subscribers not included).",
     "O(N) for N channels", .args = "channel:string..."},
    {"numpat", cmd_pubsub_numpat, 2, PS, 0, 0, 0, "pubsub", "2.8.0",
     "Counts the distinct patterns clients subscribe to.", "O(1)"},
    {"shardchannels", cmd_pubsub_shardchannels, -2, PS, 0, 0, 0, "pubsub", "7.0.0",
     "Lists shard channels (Obelisk has none).", "O(1)", .args = "pattern:pattern?"},
    {"shardnumsub", cmd_pubsub_shardnumsub, -2, PS, 0, 0, 0, "pubsub", "7.0.0",
     "Counts the subscribers of shard channels (Obelisk has none).", "O(N) for N channels",
     .args = "shardchannel:string..."},
    {"help", cmd_pubsub_help, 2, F(LOADING) | F(STALE), 0, 0, 0, "pubsub", "6.2.0",
     "Lists the subcommands and what they do.", "O(1)"},
    {0},
};

/* Merged into the command table by command_table_init (server.c hands it over). */
struct command pubsub_commands[] = {
    {"subscribe", cmd_subscribe, -2, SUB, 0, 0, 0, "pubsub", "2.0.0",
     "Listens for the messages published to the channels.", "O(N) for N channels",
     .args = "channel:string..."},
    {"unsubscribe", cmd_unsubscribe, -1, SUB, 0, 0, 0, "pubsub", "2.0.0",
     "Stops listening to the channels (all of them when none is named).", "O(N) for N channels",
     .args = "channel:string?..."},
    {"psubscribe", cmd_psubscribe, -2, SUB, 0, 0, 0, "pubsub", "2.0.0",
     "Listens for the messages published to channels matching the patterns.", "O(N) for N patterns",
     .args = "pattern:pattern..."},
    {"punsubscribe", cmd_punsubscribe, -1, SUB, 0, 0, 0, "pubsub", "2.0.0",
     "Stops listening to the patterns (all of them when none is named).",
     "O(N+M) for N patterns and M pattern subscriptions", .args = "pattern:pattern?..."},
    {"publish", cmd_publish, 3, PS | F(FAST), 0, 0, 0, "pubsub", "2.0.0",
     "Sends a message to the subscribers of a channel; answers how many got it.",
     "O(N+M) for N subscribers of the channel and M pattern subscriptions",
     .args = "channel:string message:string"},
    {"pubsub", NULL, -2, 0, 0, 0, 0, "pubsub", "2.8.0", "The PUBSUB subcommands.",
     "Depends on subcommand.", pubsub_subcommands},
    {0},
};
