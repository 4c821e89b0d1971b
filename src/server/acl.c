/* acl.c - Redis 7.0's ACL users (see acl.h).
 *
 * Design: commands register once at start with their category bits and get dense ids; a
 * user's command permissions are a bitmap over those ids plus one "future commands" bit that
 * only +@all sets, as in Redis (it decides whether a description starts from +@all or -@all).
 * A rule on a container (+config) sets the container and all its subcommands; +config|get
 * sets one subcommand; +select|0 on a command without subcommands allows that first argument
 * only. ACL SETUSER applies its rules to a copy and swaps it in only when every rule parsed, so
 * a bad rule changes nothing. Descriptions are rebuilt from the bitmap with Redis 7.0's method:
 * start from +@all or -@all, add the category that fits best while it matches more commands
 * than it misses, then fix single commands (in table order; Redis's order is its hash
 * table's). Passwords are kept as SHA-256 digests only (OpenSSL) and compared in constant time.
 * Selectors ("(+xadd ~k)") are permission sets of the same struct, without name or passwords,
 * kept in the user's sel[]; the checks take one set, and command.c asks each in turn.
 *
 * Thread: main thread only. */
#include "server/acl.h"
#include "server/acl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "base/sbuf.h"
#include "base/util.h"
#include "server/config.h"

#define ACL_FUTURE_BIT 0 /* bit 0 of every bitmap: commands added later (+@all) */

static const char *const category_names[ACL_NCATS] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting"};

struct acl_cmd {
    char *name; /* full name, lower case */
    uint32_t cats;
    int parent; /* -1 for a top-level command */
    int nsubs;  /* subcommands registered under it */
};
static struct acl_cmd *cmds;
static int ncmds, cmds_cap;

struct key_pattern {
    char *pat;
    unsigned perm; /* ACL_KEY_READ | ACL_KEY_WRITE */
};

struct first_args { /* +cmd|arg rules of one command without subcommands */
    char **args;
    int n;
};

struct acl_user {
    char *name;
    int on, nopass, sanitize; /* sanitize: 0 unset, 1 sanitize-payload, 2 skip-sanitize-payload */
    unsigned char (*pw)[SHA256_DIGEST_LENGTH];
    int npw;
    struct key_pattern *keys;
    int nkeys, allkeys;
    char **chans;
    int nchans, allchans;
    uint64_t *bits;        /* bit id+1 per command, bit 0 the future bit */
    struct first_args *fa; /* per command id, or NULL */
    /* Redis 7.0's selectors, "(+set ~k)": more permission sets, each a struct of this kind
     * holding only commands, keys and channels; a request is allowed when the user's own set
     * or any selector allows all of it */
    struct acl_user **sel;
    int nsel;
};

static struct acl_user **users; /* sorted by name */
static int nusers;
static struct acl_user *default_user;
static void (*user_gone_hook)(struct acl_user *u);

const char *acl_category_name(int cat) {
    return cat >= 0 && cat < ACL_NCATS ? category_names[cat] : "";
}

int acl_category_lookup(const char *name, size_t len) {
    if (util_eq_nocase(name, len, "all")) return ACL_NCATS; /* @all */
    for (int i = 0; i < ACL_NCATS; i++)
        if (util_eq_nocase(name, len, category_names[i])) return i;
    return -1;
}

int acl_register_command(const char *fullname, uint32_t cats, int parent_id) {
    if (ncmds == cmds_cap) {
        int cap = cmds_cap ? cmds_cap * 2 : 128;
        struct acl_cmd *n = realloc(cmds, (size_t)cap * sizeof(*n));
        if (!n) return -1;
        cmds = n;
        cmds_cap = cap;
    }
    char *name = strdup(fullname);
    if (!name) return -1;
    cmds[ncmds] = (struct acl_cmd){name, cats, parent_id, 0};
    if (parent_id >= 0) cmds[parent_id].nsubs++;
    return ncmds++;
}

const char *acl_command_name(int id) {
    return id >= 0 && id < ncmds ? cmds[id].name : "";
}

int acl_category_commands(int cat, int *ids, int cap) {
    int n = 0;
    for (int i = 0; i < ncmds; i++) {
        if (cat >= 0 && !(cmds[i].cats & (1u << cat))) continue;
        if (n < cap) ids[n] = i;
        n++;
    }
    return n;
}

static int find_command(const char *name, size_t len) {
    for (int i = 0; i < ncmds; i++)
        if (util_eq_nocase(name, len, cmds[i].name)) return i;
    return -1;
}

/* ---- bitmaps ---- */

static size_t nwords(void) {
    return (size_t)(ncmds + 1 + 63) / 64;
}
static int bit_get(const struct acl_user *u, int id) {
    return (int)(u->bits[(id + 1) / 64] >> ((id + 1) % 64)) & 1;
}
static void bit_set(struct acl_user *u, int id, int on) {
    uint64_t m = 1ull << ((id + 1) % 64);
    if (on)
        u->bits[(id + 1) / 64] |= m;
    else
        u->bits[(id + 1) / 64] &= ~m;
}
static int future_get(const struct acl_user *u) {
    return (int)(u->bits[0] & 1);
}
static void future_set(struct acl_user *u, int on) {
    u->bits[0] = on ? u->bits[0] | 1 : u->bits[0] & ~1ull;
}

static void first_args_clear(struct acl_user *u, int id) {
    struct first_args *fa = &u->fa[id];
    for (int i = 0; i < fa->n; i++) free(fa->args[i]);
    free(fa->args);
    fa->args = NULL;
    fa->n = 0;
}

/* Sets or clears one command (a container with all its subcommands), dropping first-argument
 * rules of what it touches, as Redis does. */
static void set_command(struct acl_user *u, int id, int on) {
    bit_set(u, id, on);
    first_args_clear(u, id);
    if (cmds[id].nsubs)
        for (int i = 0; i < ncmds; i++)
            if (cmds[i].parent == id) {
                bit_set(u, i, on);
                first_args_clear(u, i);
            }
}

/* As Redis: every command of the category, a container with all its subcommands. */
static void set_category(struct acl_user *u, int cat, int on) {
    for (int i = 0; i < ncmds; i++)
        if (cat == ACL_NCATS || (cmds[i].cats & (1u << cat))) set_command(u, i, on);
    if (cat == ACL_NCATS) future_set(u, on); /* @all: containers and future commands too */
}

/* ---- users ---- */

static void selectors_clear(struct acl_user *u);

static void user_free(struct acl_user *u) {
    if (!u) return;
    selectors_clear(u);
    free(u->name);
    free(u->pw);
    for (int i = 0; i < u->nkeys; i++) free(u->keys[i].pat);
    free(u->keys);
    for (int i = 0; i < u->nchans; i++) free(u->chans[i]);
    free(u->chans);
    if (u->fa)
        for (int i = 0; i < ncmds; i++) first_args_clear(u, i);
    free(u->fa);
    free(u->bits);
    free(u);
}

static struct acl_user *user_new(const char *name, size_t len) {
    struct acl_user *u = calloc(1, sizeof(*u));
    if (!u) return NULL;
    u->name = malloc(len + 1);
    u->bits = calloc(nwords(), sizeof(uint64_t));
    u->fa = calloc((size_t)(ncmds ? ncmds : 1), sizeof(*u->fa));
    if (!u->name || !u->bits || !u->fa) {
        user_free(u);
        return NULL;
    }
    memcpy(u->name, name, len);
    u->name[len] = '\0';
    u->allchans = server_config.acl_pubsub_default == 1;
    return u;
}

static char *dup_mem(const char *s, size_t len) {
    char *p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* A deep copy, for SETUSER's all-or-nothing. */
static struct acl_user *user_copy(const struct acl_user *src) {
    struct acl_user *u = user_new(src->name, strlen(src->name));
    if (!u) return NULL;
    u->on = src->on;
    u->nopass = src->nopass;
    u->sanitize = src->sanitize;
    u->allkeys = src->allkeys;
    u->allchans = src->allchans;
    memcpy(u->bits, src->bits, nwords() * sizeof(uint64_t));
    if (src->npw) {
        u->pw = malloc((size_t)src->npw * sizeof(*u->pw));
        if (!u->pw) goto fail;
        memcpy(u->pw, src->pw, (size_t)src->npw * sizeof(*u->pw));
        u->npw = src->npw;
    }
    if (src->nkeys) {
        u->keys = calloc((size_t)src->nkeys, sizeof(*u->keys));
        if (!u->keys) goto fail;
        for (; u->nkeys < src->nkeys; u->nkeys++) {
            u->keys[u->nkeys].perm = src->keys[u->nkeys].perm;
            u->keys[u->nkeys].pat = strdup(src->keys[u->nkeys].pat);
            if (!u->keys[u->nkeys].pat) goto fail;
        }
    }
    if (src->nchans) {
        u->chans = calloc((size_t)src->nchans, sizeof(*u->chans));
        if (!u->chans) goto fail;
        for (; u->nchans < src->nchans; u->nchans++)
            if (!(u->chans[u->nchans] = strdup(src->chans[u->nchans]))) goto fail;
    }
    for (int i = 0; i < ncmds; i++) {
        const struct first_args *fa = &src->fa[i];
        if (!fa->n) continue;
        u->fa[i].args = calloc((size_t)fa->n, sizeof(char *));
        if (!u->fa[i].args) goto fail;
        for (; u->fa[i].n < fa->n; u->fa[i].n++)
            if (!(u->fa[i].args[u->fa[i].n] = strdup(fa->args[u->fa[i].n]))) goto fail;
    }
    if (src->nsel && !(u->sel = calloc((size_t)src->nsel, sizeof(*u->sel)))) goto fail;
    for (; u->nsel < src->nsel; u->nsel++)
        if (!(u->sel[u->nsel] = user_copy(src->sel[u->nsel]))) goto fail;
    return u;
fail:
    user_free(u);
    return NULL;
}

static int user_index(const char *name, size_t len, int *pos) {
    int lo = 0, hi = nusers;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        size_t ml = strlen(users[mid]->name);
        int c = memcmp(users[mid]->name, name, ml < len ? ml : len);
        if (c == 0) c = ml < len ? -1 : ml > len ? 1 : 0;
        if (c == 0) {
            *pos = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

struct acl_user *acl_user_find(const char *name, size_t len) {
    int pos;
    return user_index(name, len, &pos) ? users[pos] : NULL;
}

struct acl_user *acl_default_user(void) {
    return default_user;
}
const char *acl_user_name(const struct acl_user *u) {
    return u ? u->name : "default";
}
int acl_user_count(void) {
    return nusers;
}
struct acl_user *acl_user_at(int i) {
    return i >= 0 && i < nusers ? users[i] : NULL;
}

void acl_set_user_gone_hook(void (*fn)(struct acl_user *u)) {
    user_gone_hook = fn;
}

/* Gives keep fresh's state and frees fresh with keep's old one: clients point to keep, so it
 * must stay at its address. */
static void adopt_state(struct acl_user *keep, struct acl_user *fresh) {
    struct acl_user old = *keep;
    *keep = *fresh;
    *fresh = old;
    user_free(fresh);
}

/* Puts u in the sorted list, replacing the user of the same name (kept at the same address
 * when it is the one clients point to: the new state is swapped into it). */
static int user_put(struct acl_user *u) {
    int pos;
    if (user_index(u->name, strlen(u->name), &pos)) {
        adopt_state(users[pos], u);
        return 0;
    }
    struct acl_user **n = realloc(users, (size_t)(nusers + 1) * sizeof(*n));
    if (!n) return -1;
    users = n;
    memmove(users + pos + 1, users + pos, (size_t)(nusers - pos) * sizeof(*users));
    users[pos] = u;
    nusers++;
    return 0;
}

/* ---- passwords ---- */

static int hex_digest(const char *s, size_t len, unsigned char out[SHA256_DIGEST_LENGTH]) {
    if (len != 2 * SHA256_DIGEST_LENGTH) return -1;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0) return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

static int pw_find(const struct acl_user *u, const unsigned char *d) {
    for (int i = 0; i < u->npw; i++)
        if (!memcmp(u->pw[i], d, SHA256_DIGEST_LENGTH)) return i;
    return -1;
}

static int pw_add(struct acl_user *u, const unsigned char *d) {
    if (pw_find(u, d) >= 0) return 0;
    void *n = realloc(u->pw, (size_t)(u->npw + 1) * sizeof(*u->pw));
    if (!n) return -1;
    u->pw = n;
    memcpy(u->pw[u->npw++], d, SHA256_DIGEST_LENGTH);
    return 0;
}

static void pw_remove(struct acl_user *u, int i) {
    memmove(u->pw + i, u->pw + i + 1, (size_t)(u->npw - i - 1) * sizeof(*u->pw));
    u->npw--;
}

static void pw_clear(struct acl_user *u) {
    free(u->pw);
    u->pw = NULL;
    u->npw = 0;
}

/* ---- patterns ---- */

static void keys_clear(struct acl_user *u) {
    for (int i = 0; i < u->nkeys; i++) free(u->keys[i].pat);
    free(u->keys);
    u->keys = NULL;
    u->nkeys = 0;
    u->allkeys = 0;
}

static int keys_add(struct acl_user *u, const char *pat, size_t len, unsigned perm) {
    if (len == 1 && pat[0] == '*' && perm == (ACL_KEY_READ | ACL_KEY_WRITE)) {
        keys_clear(u);
        u->allkeys = 1;
        return 0;
    }
    for (int i = 0; i < u->nkeys; i++) /* the same pattern again widens its permissions */
        if (strlen(u->keys[i].pat) == len && !memcmp(u->keys[i].pat, pat, len)) {
            u->keys[i].perm |= perm;
            return 0;
        }
    void *n = realloc(u->keys, (size_t)(u->nkeys + 1) * sizeof(*u->keys));
    if (!n) return -1;
    u->keys = n;
    if (!(u->keys[u->nkeys].pat = dup_mem(pat, len))) return -1;
    u->keys[u->nkeys++].perm = perm;
    return 0;
}

static void chans_clear(struct acl_user *u) {
    for (int i = 0; i < u->nchans; i++) free(u->chans[i]);
    free(u->chans);
    u->chans = NULL;
    u->nchans = 0;
    u->allchans = 0;
}

static int chans_add(struct acl_user *u, const char *pat, size_t len) {
    if (len == 1 && pat[0] == '*') {
        chans_clear(u);
        u->allchans = 1;
        return 0;
    }
    for (int i = 0; i < u->nchans; i++)
        if (strlen(u->chans[i]) == len && !memcmp(u->chans[i], pat, len)) return 0;
    void *n = realloc(u->chans, (size_t)(u->nchans + 1) * sizeof(*u->chans));
    if (!n) return -1;
    u->chans = n;
    if (!(u->chans[u->nchans] = dup_mem(pat, len))) return -1;
    u->nchans++;
    return 0;
}

/* Redis refuses spaces and NUL bytes in names and patterns: a description (ACL LIST, the ACL
 * file, CONFIG REWRITE) must read back as the same words. */
static int has_space(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] == ' ' || s[i] == '\0' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') return 1;
    return 0;
}

/* ---- selectors ---- */

static void selectors_clear(struct acl_user *u) {
    for (int i = 0; i < u->nsel; i++) user_free(u->sel[i]);
    free(u->sel);
    u->sel = NULL;
    u->nsel = 0;
}

int acl_selector_count(const struct acl_user *u) {
    return 1 + u->nsel;
}

const struct acl_user *acl_selector(const struct acl_user *u, int i) {
    return i == 0 ? u : u->sel[i - 1];
}

/* ---- one rule ---- */

#define ACL_ERR_SYNTAX      "Syntax error"
#define ACL_ERR_UNKNOWN_CMD "Unknown command or category name in ACL"
#define ACL_ERR_NO_PASSWORD "The password you are trying to remove from the user does not exist"
#define ACL_ERR_HASH                                                                               \
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "      \
    "characters"
#define ACL_ERR_KEY_AFTER_ALL                                                                      \
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "      \
    "have any effect. Try 'resetkeys' to start with an empty list of patterns"
#define ACL_ERR_CHAN_AFTER_ALL                                                                     \
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "      \
    "not have any effect. Try 'resetchannels' to start with an empty list of channels"
#define ACL_ERR_SUBCOMMAND "Allowing first-arg of a subcommand is not supported"
#define ACL_ERR_NOMEM      "Out of memory"

/* +cmd, -cmd, +@cat, -@cat, +cmd|sub, +cmd|firstarg. */
static const char *command_rule(struct acl_user *u, const char *r, size_t len) {
    int on = r[0] == '+';
    if (len >= 2 && r[1] == '@') {
        int cat = acl_category_lookup(r + 2, len - 2);
        if (cat < 0) return ACL_ERR_UNKNOWN_CMD;
        set_category(u, cat, on);
        return NULL;
    }
    const char *bar = memchr(r + 1, '|', len - 1);
    if (!bar) {
        int id = find_command(r + 1, len - 1);
        if (id < 0 || cmds[id].parent >= 0) return ACL_ERR_UNKNOWN_CMD;
        set_command(u, id, on);
        return NULL;
    }
    int id = find_command(r + 1, (size_t)(bar - r - 1));
    if (id < 0 || cmds[id].parent >= 0) return ACL_ERR_UNKNOWN_CMD;
    size_t sublen = len - (size_t)(bar - r) - 1;
    if (sublen == 0) return ACL_ERR_SYNTAX;
    if (cmds[id].nsubs) {
        char full[128];
        int n = snprintf(full, sizeof(full), "%s|%.*s", cmds[id].name, (int)sublen, bar + 1);
        int sub = n > 0 && (size_t)n < sizeof(full) ? find_command(full, (size_t)n) : -1;
        if (sub < 0) return ACL_ERR_UNKNOWN_CMD;
        set_command(u, sub, on);
        return NULL;
    }
    /* a first argument of a command without subcommands: +select|0 (only allowing) */
    if (!on) return ACL_ERR_SYNTAX;
    if (memchr(bar + 1, '|', sublen)) return ACL_ERR_SUBCOMMAND;
    if (bit_get(u, id)) return NULL; /* already allowed whole */
    struct first_args *fa = &u->fa[id];
    for (int i = 0; i < fa->n; i++)
        if (util_eq_nocase(bar + 1, sublen, fa->args[i])) return NULL;
    void *n = realloc(fa->args, (size_t)(fa->n + 1) * sizeof(char *));
    if (!n) return ACL_ERR_NOMEM;
    fa->args = n;
    char *a = dup_mem(bar + 1, sublen);
    if (!a) return ACL_ERR_NOMEM;
    for (char *p = a; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    fa->args[fa->n++] = a;
    return NULL;
}

static const char *add_selector(struct acl_user *u, const char *r, size_t len);

/* Applies one rule to u; returns NULL or the reason it was refused. */
static const char *apply_rule(struct acl_user *u, const char *r, size_t len) {
    unsigned char d[SHA256_DIGEST_LENGTH];
    if (len == 0) return ACL_ERR_SYNTAX;
    if (util_eq_nocase(r, len, "on")) {
        u->on = 1;
    } else if (util_eq_nocase(r, len, "off")) {
        u->on = 0;
    } else if (util_eq_nocase(r, len, "skip-sanitize-payload")) {
        u->sanitize = 2;
    } else if (util_eq_nocase(r, len, "sanitize-payload")) {
        u->sanitize = 1;
    } else if (util_eq_nocase(r, len, "allkeys")) {
        keys_clear(u);
        u->allkeys = 1;
    } else if (util_eq_nocase(r, len, "resetkeys")) {
        keys_clear(u);
    } else if (util_eq_nocase(r, len, "allchannels")) {
        chans_clear(u);
        u->allchans = 1;
    } else if (util_eq_nocase(r, len, "resetchannels")) {
        chans_clear(u);
    } else if (util_eq_nocase(r, len, "allcommands")) {
        set_category(u, ACL_NCATS, 1);
    } else if (util_eq_nocase(r, len, "nocommands")) {
        set_category(u, ACL_NCATS, 0);
    } else if (util_eq_nocase(r, len, "nopass")) {
        pw_clear(u);
        u->nopass = 1;
    } else if (util_eq_nocase(r, len, "resetpass")) {
        pw_clear(u);
        u->nopass = 0;
    } else if (util_eq_nocase(r, len, "reset")) {
        pw_clear(u);
        u->nopass = 0;
        keys_clear(u);
        chans_clear(u);
        if (server_config.acl_pubsub_default == 1) u->allchans = 1;
        set_category(u, ACL_NCATS, 0);
        selectors_clear(u);
        u->on = 0;
        u->sanitize = 1;
    } else if (util_eq_nocase(r, len, "clearselectors")) {
        selectors_clear(u);
    } else if (r[0] == '>' || r[0] == '<' || r[0] == '#' || r[0] == '!') {
        /* >pass and <pass name a password, #hex and !hex its digest; > and # add, < and ! remove */
        if (r[0] == '>' || r[0] == '<')
            SHA256((const unsigned char *)r + 1, len - 1, d);
        else if (hex_digest(r + 1, len - 1, d) != 0)
            return ACL_ERR_HASH;
        if (r[0] == '>' || r[0] == '#') {
            if (pw_add(u, d) != 0) return ACL_ERR_NOMEM;
            u->nopass = 0;
        } else {
            int i = pw_find(u, d);
            if (i < 0) return ACL_ERR_NO_PASSWORD;
            pw_remove(u, i);
        }
    } else if (r[0] == '~' || r[0] == '%') {
        unsigned perm = ACL_KEY_READ | ACL_KEY_WRITE;
        size_t off = 1;
        if (r[0] == '%') {
            perm = 0;
            for (; off < len && r[off] != '~'; off++) {
                if (r[off] == 'R' || r[off] == 'r')
                    perm |= ACL_KEY_READ;
                else if (r[off] == 'W' || r[off] == 'w')
                    perm |= ACL_KEY_WRITE;
                else
                    return ACL_ERR_SYNTAX;
            }
            if (off >= len || perm == 0) return ACL_ERR_SYNTAX;
            off++;
        }
        if (u->allkeys) return ACL_ERR_KEY_AFTER_ALL;
        if (has_space(r + off, len - off)) return ACL_ERR_SYNTAX;
        if (keys_add(u, r + off, len - off, perm) != 0) return ACL_ERR_NOMEM;
    } else if (r[0] == '&') {
        if (u->allchans) return ACL_ERR_CHAN_AFTER_ALL;
        if (has_space(r + 1, len - 1)) return ACL_ERR_SYNTAX;
        if (chans_add(u, r + 1, len - 1) != 0) return ACL_ERR_NOMEM;
    } else if (r[0] == '+' || r[0] == '-') {
        return command_rule(u, r, len);
    } else if (r[0] == '(' && r[len - 1] == ')' && len >= 2) {
        return add_selector(u, r + 1, len - 2);
    } else {
        return ACL_ERR_SYNTAX;
    }
    return NULL;
}

/* "(rules)": a new selector from the space-separated rules inside, which may only be those of
 * commands, keys and channels (Redis's "Syntax error" for any other). */
static const char *add_selector(struct acl_user *u, const char *r, size_t len) {
    struct acl_user *s = user_new("", 0);
    const char *why = s ? NULL : ACL_ERR_NOMEM;
    for (size_t i = 0; !why && i < len;) {
        size_t j = i;
        while (j < len && r[j] != ' ') j++;
        const char *w = r + i;
        size_t n = j - i;
        i = j + 1;
        if (n == 0) continue;
        int allowed = w[0] == '~' || w[0] == '%' || w[0] == '&' || w[0] == '+' || w[0] == '-';
        static const char *const words[] = {"allkeys",       "resetkeys",   "allchannels",
                                            "resetchannels", "allcommands", "nocommands"};
        for (size_t k = 0; !allowed && k < sizeof words / sizeof words[0]; k++)
            allowed = util_eq_nocase(w, n, words[k]);
        why = allowed ? apply_rule(s, w, n) : ACL_ERR_SYNTAX;
    }
    struct acl_user **grown = why ? NULL : realloc(u->sel, (size_t)(u->nsel + 1) * sizeof(*grown));
    if (!why && !grown) why = ACL_ERR_NOMEM;
    if (why) {
        user_free(s);
        return why;
    }
    u->sel = grown;
    u->sel[u->nsel++] = s;
    return NULL;
}

/* Redis joins the arguments of a selector split by spaces ("(+get", "~k)") back into one rule
 * before applying any: rules[] as given, those from an argument that opens a selector to the
 * one that closes it joined by single spaces. Returns the merged count, or -1 with err set
 * (an unclosed selector, or out of memory); the caller frees out[0..n). */
static int merge_selectors(int nrules, char **rules, size_t *lens, char **out, size_t *outlens,
                           char *err, size_t errlen) {
    int n = 0, open = -1;
    struct sbuf cur;
    sbuf_init(&cur);
    for (int i = 0; i < nrules; i++) {
        const char *r = rules[i];
        size_t len = lens[i];
        int closes = len > 0 && r[len - 1] == ')';
        if (open < 0 && len > 0 && r[0] == '(' && !closes) {
            open = i;
            sbuf_add(&cur, r, len);
            continue;
        }
        if (open >= 0) {
            sbuf_add(&cur, " ", 1);
            sbuf_add(&cur, r, len);
            if (!closes) continue;
            open = -1;
            r = cur.p;
            len = cur.len;
            cur.len = 0;
        }
        if (cur.failed || !(out[n] = dup_mem(r, len))) {
            snprintf(err, errlen, "%s", ACL_ERR_NOMEM);
            goto fail;
        }
        outlens[n++] = len;
    }
    if (open >= 0) {
        snprintf(err, errlen, "Unmatched parenthesis in acl selector starting at '%.*s'.",
                 (int)(lens[open] > 128 ? 128 : lens[open]), rules[open]);
        goto fail;
    }
    sbuf_free(&cur);
    return n;
fail:
    for (int i = 0; i < n; i++) free(out[i]);
    sbuf_free(&cur);
    return -1;
}

int acl_setuser(const char *name, size_t len, int nrules, char **rules, size_t *rulelens, char *err,
                size_t errlen) {
    if (has_space(name, len)) {
        snprintf(err, errlen, "Usernames can't contain spaces or null characters");
        return -1;
    }
    char **merged = malloc(sizeof(char *) * (size_t)(nrules ? nrules : 1));
    size_t *mlens = malloc(sizeof(size_t) * (size_t)(nrules ? nrules : 1));
    struct acl_user *cur = acl_user_find(name, len), *u = NULL;
    int n = -1, rc = -1;
    if (!merged || !mlens) {
        snprintf(err, errlen, "%s", ACL_ERR_NOMEM);
        goto done;
    }
    if ((n = merge_selectors(nrules, rules, rulelens, merged, mlens, err, errlen)) < 0) goto done;
    if (!(u = cur ? user_copy(cur) : user_new(name, len))) {
        snprintf(err, errlen, "%s", ACL_ERR_NOMEM);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const char *why = apply_rule(u, merged[i], mlens[i]);
        if (why) {
            snprintf(err, errlen, "Error in ACL SETUSER modifier '%.*s': %s",
                     (int)(mlens[i] > 128 ? 128 : mlens[i]), merged[i], why);
            goto done;
        }
    }
    if (user_put(u) != 0) {
        snprintf(err, errlen, "%s", ACL_ERR_NOMEM);
        goto done;
    }
    u = NULL;
    rc = 0;
done:
    user_free(u);
    for (int i = 0; i < n; i++) free(merged[i]);
    free(merged);
    free(mlens);
    return rc;
}

int acl_deluser(const char *name, size_t len) {
    int pos;
    if (len == 7 && !memcmp(name, "default", 7)) return -1;
    if (!user_index(name, len, &pos)) return 0;
    struct acl_user *u = users[pos];
    if (user_gone_hook) user_gone_hook(u);
    memmove(users + pos, users + pos + 1, (size_t)(nusers - pos - 1) * sizeof(*users));
    nusers--;
    user_free(u);
    return 1;
}

/* ---- authentication ---- */

struct acl_user *acl_authenticate(const char *user, size_t ulen, const char *pass, size_t plen) {
    struct acl_user *u = acl_user_find(user, ulen);
    if (!u || !u->on) return NULL;
    if (u->nopass) return u;
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)pass, plen, d);
    int ok = 0;
    for (int i = 0; i < u->npw; i++) /* every password is compared: no early exit */
        ok |= util_secure_eq((const char *)u->pw[i], SHA256_DIGEST_LENGTH, (const char *)d,
                             SHA256_DIGEST_LENGTH);
    return ok ? u : NULL;
}

int acl_check_credentials(const char *user, size_t ulen, const char *pass, size_t plen) {
    return acl_authenticate(user, ulen, pass, plen) != NULL;
}

int acl_default_needs_auth(void) {
    return !default_user || !default_user->nopass || !default_user->on;
}

int acl_auth_configured(void) {
    return acl_default_needs_auth() || nusers > 1;
}

void acl_set_requirepass(const char *pass) {
    if (!default_user) return;
    pw_clear(default_user);
    if (!pass || !pass[0]) {
        default_user->nopass = 1;
        return;
    }
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)pass, strlen(pass), d);
    default_user->nopass = 0;
    if (pw_add(default_user, d) != 0) default_user->on = 0; /* out of memory: closed, not open */
}

/* ---- checks ---- */

int acl_check_command(const struct acl_user *u, int id, int argc, char **argv, size_t *argvlen) {
    if (id < 0 || id >= ncmds) return 0;
    if (bit_get(u, id)) return 1;
    const struct first_args *fa = &u->fa[id];
    if (fa->n && argc >= 2)
        for (int i = 0; i < fa->n; i++)
            if (util_eq_nocase(argv[1], argvlen[1], fa->args[i])) return 1;
    return 0;
}

int acl_user_may_run(const char *name, size_t len, const char *command, int argc, char **argv,
                     size_t *argvlen) {
    const struct acl_user *u = name ? acl_user_find(name, len) : default_user;
    int id = find_command(command, strlen(command));
    for (int i = 0; u && id >= 0 && i < acl_selector_count(u); i++)
        if (acl_check_command(acl_selector(u, i), id, argc, argv, argvlen)) return 1;
    return 0;
}

int acl_user_all_keys(const struct acl_user *u) {
    return u->allkeys;
}

int acl_user_all_channels(const struct acl_user *u) {
    return u->allchans;
}

int acl_check_key(const struct acl_user *u, const char *key, size_t len, unsigned perm) {
    if (u->allkeys) return 1;
    for (int i = 0; i < u->nkeys; i++) {
        if ((u->keys[i].perm & perm) != perm) continue;
        if (util_glob_match(u->keys[i].pat, strlen(u->keys[i].pat), key, len, 0)) return 1;
    }
    return 0;
}

int acl_user_channel_ok(const struct acl_user *u, const char *ch, size_t len, int is_pattern) {
    for (int i = 0; i < acl_selector_count(u); i++)
        if (acl_check_channel(acl_selector(u, i), ch, len, is_pattern)) return 1;
    return 0;
}

int acl_check_channel(const struct acl_user *u, const char *ch, size_t len, int is_pattern) {
    if (u->allchans) return 1;
    for (int i = 0; i < u->nchans; i++) {
        size_t pl = strlen(u->chans[i]);
        if (is_pattern ? (pl == len && !memcmp(u->chans[i], ch, len))
                       : util_glob_match(u->chans[i], pl, ch, len, 0))
            return 1;
    }
    return 0;
}

/* ---- descriptions ---- */

int acl_user_flags(const struct acl_user *u, const char **flags) {
    int n = 0;
    flags[n++] = u->on ? "on" : "off";
    if (u->nopass) flags[n++] = "nopass";
    if (u->sanitize == 1) flags[n++] = "sanitize-payload";
    if (u->sanitize == 2) flags[n++] = "skip-sanitize-payload";
    return n;
}

int acl_user_password_count(const struct acl_user *u) {
    return u->npw;
}

void acl_user_password_hex(const struct acl_user *u, int i, char out[65]) {
    static const char hex[] = "0123456789abcdef";
    for (int j = 0; j < SHA256_DIGEST_LENGTH; j++) {
        out[2 * j] = hex[u->pw[i][j] >> 4];
        out[2 * j + 1] = hex[u->pw[i][j] & 15];
    }
    out[64] = '\0';
}

/* Commands of cat that a bitmap allows (on) and does not (off), containers included (Redis
 * counts them: they are @slow). */
static void count_category(const struct acl_user *t, int cat, int *on, int *off) {
    *on = *off = 0;
    for (int i = 0; i < ncmds; i++) {
        if (!(cmds[i].cats & (1u << cat))) continue;
        if (bit_get(t, i))
            (*on)++;
        else
            (*off)++;
    }
}

static void add_word(struct sbuf *out, const char *w) {
    if (out->len) sbuf_add(out, " ", 1);
    sbuf_add(out, w, strlen(w));
}

void acl_describe_commands(const struct acl_user *u, struct sbuf *out) {
    size_t start = out->len;
    struct acl_user *fake = user_new("", 0), *temp = user_new("", 0);
    if (!fake || !temp) goto done;
    int additive = !future_get(u);
    sbuf_add(out, additive ? "-@all" : "+@all", 5);
    set_category(fake, ACL_NCATS, !additive);
    memcpy(temp->bits, u->bits, nwords() * sizeof(uint64_t));
    char applied[ACL_NCATS] = {0};
    for (;;) {
        int best = -1, mindiff = 1 << 30, maxsame = 0;
        for (int c = 0; c < ACL_NCATS; c++) {
            if (applied[c]) continue;
            int on, off;
            count_category(temp, c, &on, &off);
            int diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = c;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best < 0) break;
        char word[32];
        snprintf(word, sizeof(word), "%s@%s", additive ? "+" : "-", category_names[best]);
        sbuf_add(out, " ", 1);
        sbuf_add(out, word, strlen(word));
        set_category(fake, best, additive);
        set_category(temp, best, !additive);
        applied[best] = 1;
    }
    /* single commands where the categories left a difference, each container before its
     * subcommands (set whole when it differs), first arguments of a denied command after it */
    for (int i = 0; i < ncmds; i++) {
        int ub = bit_get(u, i);
        if (ub != bit_get(fake, i)) {
            sbuf_printf(out, " %c%s", ub ? '+' : '-', cmds[i].name);
            set_command(fake, i, ub);
        }
        for (int j = 0; !ub && j < u->fa[i].n; j++)
            sbuf_printf(out, " +%s|%s", cmds[i].name, u->fa[i].args[j]);
    }
done:
    if (out->len == start) sbuf_add(out, "-@all", 5);
    user_free(fake);
    user_free(temp);
}

void acl_describe_keys(const struct acl_user *u, struct sbuf *out) {
    if (u->allkeys) {
        add_word(out, "~*");
        return;
    }
    for (int i = 0; i < u->nkeys; i++) {
        unsigned p = u->keys[i].perm;
        if (out->len) sbuf_add(out, " ", 1);
        sbuf_printf(out, "%s~%s",
                    p == ACL_KEY_READ    ? "%R"
                    : p == ACL_KEY_WRITE ? "%W"
                                         : "",
                    u->keys[i].pat);
    }
}

void acl_describe_channels(const struct acl_user *u, struct sbuf *out) {
    if (u->allchans) {
        add_word(out, "&*");
        return;
    }
    for (int i = 0; i < u->nchans; i++) {
        if (out->len) sbuf_add(out, " ", 1);
        sbuf_printf(out, "&%s", u->chans[i]);
    }
}

/* The permission words of one set, space-separated: keys, "resetchannels" unless all
 * channels, channels, commands. */
static void describe_permissions(const struct acl_user *u, struct sbuf *words) {
    acl_describe_keys(u, words);
    if (!u->allchans) add_word(words, "resetchannels");
    acl_describe_channels(u, words);
    if (words->len) sbuf_add(words, " ", 1);
    acl_describe_commands(u, words);
}

void acl_describe_user(const struct acl_user *u, struct sbuf *out) {
    const char *flags[4];
    char hex[65];
    sbuf_printf(out, "user %s", u->name);
    int nf = acl_user_flags(u, flags);
    for (int i = 0; i < nf; i++) sbuf_printf(out, " %s", flags[i]);
    for (int i = 0; i < u->npw; i++) {
        acl_user_password_hex(u, i, hex);
        sbuf_printf(out, " #%s", hex);
    }
    for (int i = 0; i < acl_selector_count(u); i++) { /* the user's own set, then selectors */
        struct sbuf words;
        sbuf_init(&words);
        describe_permissions(acl_selector(u, i), &words);
        sbuf_printf(out, i ? " (%s)" : " %s", words.p ? words.p : "");
        sbuf_free(&words);
    }
}

/* ---- start, the ACL file ---- */

/* Parses "user <name> rules..." lines into a new set of users, all or nothing. */
static int users_from_lines(const char *text, const char *source, struct acl_user ***out, int *nout,
                            char *err, size_t errlen) {
    struct acl_user **saved = users, *saved_default = default_user;
    int saved_n = nusers, lineno = 0, rc = -1;
    users = NULL;
    nusers = 0;
    default_user = NULL;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        lineno++;
        while (len && (p[len - 1] == '\r' || p[len - 1] == ' ')) len--;
        char **argv = NULL;
        size_t *lens = NULL;
        int argc = len ? util_split_args(p, len, &argv, &lens) : 0;
        if (argc < 0) {
            snprintf(err, errlen, "%s:%d: unbalanced quotes in acl line", source, lineno);
            goto out;
        }
        if (argc > 0 && (argc < 2 || strcmp(argv[0], "user") != 0)) {
            snprintf(err, errlen, "%s:%d should start with user keyword", source, lineno);
            util_free_args(argv, lens, argc);
            goto out;
        }
        if (argc > 0) {
            char why[512];
            if (acl_user_find(argv[1], lens[1])) {
                snprintf(err, errlen, "%s:%d: duplicate user '%s' found", source, lineno, argv[1]);
                util_free_args(argv, lens, argc);
                goto out;
            }
            int r = acl_setuser(argv[1], lens[1], argc - 2, argv + 2, lens + 2, why, sizeof(why));
            util_free_args(argv, lens, argc);
            if (r != 0) {
                snprintf(err, errlen, "%s:%d: %s", source, lineno, why);
                goto out;
            }
        }
        p += len;
        while (*p && *p != '\n') p++;
        if (*p == '\n') p++;
    }
    rc = 0;
out:
    *out = users;
    *nout = nusers;
    if (rc != 0) {
        for (int i = 0; i < nusers; i++) user_free(users[i]);
        free(users);
        *out = NULL;
        *nout = 0;
    }
    users = saved;
    nusers = saved_n;
    default_user = saved_default;
    return rc;
}

static char *read_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    struct sbuf b;
    char chunk[4096];
    size_t n;
    if (!f) {
        snprintf(err, errlen, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return NULL;
    }
    sbuf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) sbuf_add(&b, chunk, n);
    fclose(f);
    sbuf_add(&b, "", 0);
    if (b.failed || !b.p) {
        sbuf_free(&b);
        snprintf(err, errlen, "%s", ACL_ERR_NOMEM);
        return NULL;
    }
    return b.p;
}

static struct acl_user *make_default(void) {
    struct acl_user *u = user_new("default", 7);
    if (!u) return NULL;
    u->on = 1;
    u->nopass = 1;
    u->allkeys = 1;
    u->allchans = 1;
    set_category(u, ACL_NCATS, 1);
    return u;
}

/* Installs a new set of users: the default user keeps its address (clients point to it) and
 * takes the new default's state, or the built-in one (with requirepass) when the set has none;
 * every other old user goes, its clients with it. */
static int install_users(struct acl_user **set, int n) {
    struct acl_user *fresh_default = NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(set[i]->name, "default")) fresh_default = set[i];
    if (!fresh_default) {
        if (!(fresh_default = make_default())) return -1;
        if (server_config.requirepass && server_config.requirepass[0]) {
            struct acl_user *keep = default_user;
            default_user = fresh_default;
            acl_set_requirepass(server_config.requirepass);
            default_user = keep;
        }
        struct acl_user **grown = realloc(set, (size_t)(n + 1) * sizeof(*grown));
        if (!grown) {
            user_free(fresh_default);
            return -1;
        }
        set = grown;
        set[n++] = fresh_default;
    }
    for (int i = 0; i < nusers; i++) {
        if (users[i] == default_user) continue;
        if (user_gone_hook) user_gone_hook(users[i]);
        user_free(users[i]);
    }
    free(users);
    users = NULL;
    nusers = 0;
    for (int i = 0; i < n; i++) {
        if (set[i] == fresh_default && default_user) {
            adopt_state(default_user, fresh_default);
            set[i] = default_user;
        } else if (set[i] == fresh_default) {
            default_user = fresh_default;
        }
        int pos;
        user_index(set[i]->name, strlen(set[i]->name), &pos);
        struct acl_user **g = realloc(users, (size_t)(nusers + 1) * sizeof(*g));
        if (!g) return -1; /* cannot happen after the first sizes; keep what is in */
        users = g;
        memmove(users + pos + 1, users + pos, (size_t)(nusers - pos) * sizeof(*users));
        users[pos] = set[i];
        nusers++;
    }
    free(set);
    return 0;
}

int acl_load_file(const char *path, char *err, size_t errlen) {
    char *text = read_file(path, err, errlen);
    if (!text) return -1;
    struct acl_user **set;
    int n;
    int rc = users_from_lines(text, path, &set, &n, err, errlen);
    free(text);
    if (rc != 0) return -1;
    if (install_users(set, n) != 0) {
        snprintf(err, errlen, "%s", ACL_ERR_NOMEM);
        return -1;
    }
    return 0;
}

int acl_save_file(const char *path, char *err, size_t errlen) {
    struct sbuf b;
    char tmp[4096];
    sbuf_init(&b);
    for (int i = 0; i < nusers; i++) {
        acl_describe_user(users[i], &b);
        sbuf_add(&b, "\n", 1);
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
    int fd = b.failed ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL; /* 0600: the digests stay the owner's */
    if (!f && fd >= 0) close(fd);
    int ok = f && fwrite(b.p ? b.p : "", 1, b.len, f) == b.len;
    if (f && fflush(f) != 0) ok = 0;
    if (f && fsync(fileno(f)) != 0) ok = 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) {
        snprintf(err, errlen, "Error saving ACLs to '%s': %s", path, strerror(errno));
        unlink(tmp);
    }
    sbuf_free(&b);
    return ok ? 0 : -1;
}

void acl_foreach_user_line(void (*fn)(void *ctx, const char *line), void *ctx) {
    for (int i = 0; i < nusers; i++) {
        struct sbuf b;
        sbuf_init(&b);
        acl_describe_user(users[i], &b);
        if (!b.failed && b.p) fn(ctx, b.p);
        sbuf_free(&b);
    }
}

int acl_init(char *err, size_t errlen) {
    acl_free();
    int has_lines = server_config.nuser_lines > 0;
    int has_file = server_config.aclfile && server_config.aclfile[0];
    if (has_lines && has_file) {
        snprintf(err, errlen,
                 "Configuring Obelisk with users defined in the config file and at the same "
                 "time an ACL file path is invalid. This setup is very likely to lead to "
                 "configuration errors and security holes, please define either an ACL file or "
                 "declare users directly in your config file.");
        return -1;
    }
    struct acl_user *d = make_default();
    if (!d || !(users = malloc(sizeof(*users)))) {
        user_free(d);
        snprintf(err, errlen, "%s", ACL_ERR_NOMEM);
        return -1;
    }
    users[0] = default_user = d;
    nusers = 1;
    acl_set_requirepass(server_config.requirepass);
    if (has_file) return acl_load_file(server_config.aclfile, err, errlen);
    if (!has_lines) return 0;
    struct sbuf text;
    sbuf_init(&text);
    for (int i = 0; i < server_config.nuser_lines; i++)
        sbuf_printf(&text, "user %s\n", server_config.user_lines[i]);
    struct acl_user **set;
    int n;
    int rc = text.failed
                 ? -1
                 : users_from_lines(text.p ? text.p : "", "config file", &set, &n, err, errlen);
    sbuf_free(&text);
    if (rc != 0) return -1;
    return install_users(set, n);
}

void acl_free(void) {
    for (int i = 0; i < nusers; i++) user_free(users[i]);
    free(users);
    users = NULL;
    nusers = 0;
    default_user = NULL;
    acl_log_reset();
}
