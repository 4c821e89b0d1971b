/* cmd_keys.c - key-space commands over topics: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RENAME.
 * Deletions and renames are durable: their replies wait for the submission that carries them.
 * Expired keys are absent for all of them (xutil_lookup expires lazily; KEYS and SCAN skip the
 * ones due and leave them to the expiry cycle); RENAME moves a key's expiry with it.
 * Main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/errors.h"
#include "server/expire.h"
#include "server/xutil.h"
#include "storage/store.h"

#define R (&c->reply)

/* SCAN's default COUNT, as Redis. */
#define SCAN_DEFAULT_COUNT 10

void cmd_del(CMD_ARGS) {
    long long n = 0;
    struct store *s = db_store();
    for (int i = 1; i < argc && s; i++) {
        if (!xutil_lookup(c, argv[i], argvlen[i])) continue; /* absent, or expired just now */
        int rc = store_delete(s, c->db, argv[i], argvlen[i]);
        if (rc == OBK_OK) {
            n++;
            blocking_signal_key(c->db, argv[i], argvlen[i]); /* XREADGROUP waiters error out */
        } else if (rc != OBK_ERR_NOTFOUND) {
            xutil_reply_status(c, rc);
            return;
        }
    }
    reply_int(R, n);
}

void cmd_exists(CMD_ARGS) {
    long long n = 0;
    for (int i = 1; i < argc; i++) {
        struct topic *t = xutil_lookup(c, argv[i], argvlen[i]);
        if (t) {
            n++;
        }
    }
    reply_int(R, n);
}

void cmd_type(CMD_ARGS) {
    (void)argc;
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    reply_simple(R, t ? "stream" : "none");
}

struct keys_ctx {
    struct client *c;
    const char *pat;
    size_t patlen;
    int all;
    long n;
    int64_t now_ms;
};

static void keys_each(void *ctx, struct topic *t) {
    struct keys_ctx *k = ctx;
    size_t klen;
    const uint8_t *key = topic_key(t, &klen);
    if (expire_is_due(t, k->now_ms)) return; /* gone for clients; the expiry cycle deletes it */
    if (!k->all && !util_glob_match(k->pat, k->patlen, (const char *)key, klen, 0)) return;
    reply_bulk(&k->c->reply, key, klen);
    k->n++;
}

void cmd_keys(CMD_ARGS) {
    (void)argc;
    struct keys_ctx k = {c, argv[1],      argvlen[1], argvlen[1] == 1 && argv[1][0] == '*',
                         0, util_mstime()};
    int h = reply_defer_len(R);
    if (db_store()) store_foreach(db_store(), c->db, keys_each, &k);
    reply_set_array_len(R, h, k.n);
}

/* SCAN collects the topics of the visited buckets first: the reply starts with the next
 * cursor, known only after the walk. */
struct scan_ctx {
    const char *pat;
    size_t patlen;
    int all;
    struct topic **found;
    size_t n, cap;
    int oom;
    int64_t now_ms;
};

static void scan_each(void *ctx, struct topic *t) {
    struct scan_ctx *k = ctx;
    size_t klen;
    const uint8_t *key = topic_key(t, &klen);
    if (expire_is_due(t, k->now_ms)) return;
    if (!k->all && !util_glob_match(k->pat, k->patlen, (const char *)key, klen, 0)) return;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        struct topic **nf = realloc(k->found, cap * sizeof(*nf));
        if (!nf) {
            k->oom = 1;
            return;
        }
        k->found = nf;
        k->cap = cap;
    }
    k->found[k->n++] = t;
}

static void scan_none(void *ctx, struct topic *t) {
    (void)ctx, (void)t;
}

void cmd_scan(CMD_ARGS) {
    unsigned long long cursor;
    long long count = SCAN_DEFAULT_COUNT;
    const char *type = NULL;
    size_t typelen = 0;
    struct scan_ctx k = {NULL, 0, 1, NULL, 0, 0, 0, util_mstime()};
    if (!util_parse_ull(argv[1], argvlen[1], &cursor)) {
        reply_error(R, ERR_INVALID_CURSOR);
        return;
    }
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) {
            reply_error(R, ERR_SYNTAX);
            return;
        }
        if (util_eq_nocase(argv[i], argvlen[i], "COUNT")) {
            if (xutil_parse_ll(c, argv[i + 1], argvlen[i + 1], &count) != 0) return;
            if (count < 1) {
                reply_error(R, ERR_SYNTAX);
                return;
            }
        } else if (util_eq_nocase(argv[i], argvlen[i], "MATCH")) {
            k.pat = argv[i + 1];
            k.patlen = argvlen[i + 1];
            k.all = k.patlen == 1 && k.pat[0] == '*';
        } else if (util_eq_nocase(argv[i], argvlen[i], "TYPE")) {
            type = argv[i + 1];
            typelen = argvlen[i + 1];
        } else {
            reply_error(R, ERR_SYNTAX);
            return;
        }
    }
    /* Topics are the only type: another TYPE matches nothing, but the cursor still walks. */
    int type_ok = !type || util_eq_nocase(type, typelen, "stream");
    unsigned long long next = 0;
    struct store *s = db_store();
    if (s) {
        long long steps = 0;
        next = cursor;
        do {
            next = store_scan(s, c->db, next, type_ok ? scan_each : scan_none, &k);
            steps++;
        } while (next != 0 && (long long)k.n < count && steps < count * 10);
    }
    if (k.oom) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        free(k.found);
        return;
    }
    char buf[24];
    int n = util_ull2str(buf, next);
    reply_array(R, 2);
    reply_bulk(R, buf, (size_t)n);
    reply_array(R, (long)k.n);
    for (size_t i = 0; i < k.n; i++) {
        size_t klen;
        const uint8_t *key = topic_key(k.found[i], &klen);
        reply_bulk(R, key, klen);
    }
    free(k.found);
}

void cmd_rename(CMD_ARGS) {
    (void)argc;
    struct store *s = db_store();
    struct topic *t = xutil_lookup(c, argv[1], argvlen[1]);
    if (!t) {
        reply_error(R, ERR_NO_SUCH_KEY);
        return;
    }
    if (argvlen[1] == argvlen[2] && !memcmp(argv[1], argv[2], argvlen[1])) {
        reply_simple(R, "OK");
        return;
    }
    int rc = store_rename(s, c->db, argv[1], argvlen[1], argv[2], argvlen[2]);
    if (rc != OBK_OK) {
        xutil_reply_status(c, rc);
        return;
    }
    blocking_signal_key(c->db, argv[1], argvlen[1]);
    blocking_signal_key(c->db, argv[2], argvlen[2]);
    reply_simple(R, "OK");
}
