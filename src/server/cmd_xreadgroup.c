/* cmd_xreadgroup.c - XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key ... id ...
 * with Redis 7.0's rules: ">" delivers entries after the group's last delivered ID (entering
 * the PEL unless NOACK, moving the group's last ID and entries-read), an explicit ID replays
 * the consumer's own pending entries after it (a deleted one shows as [id, nil]). A consumer
 * is created when it is first served. Blocking follows XREAD; a blocked client whose group is
 * destroyed or whose key is deleted gets Redis's NOGROUP / UNBLOCKED errors.
 * Each stream's deliveries are one group-log record, released with the reply when durable.
 * Main thread only. */
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/runtime.h"
#include "server/stats.h"
#include "server/xgroup.h"
#include "server/xutil.h"
#include "storage/cgroup.h"
#include "storage/store.h"

#define R (&c->reply)

/* ">" is kept as the largest ID, as Redis does. */
#define ID_NEW SID_MAX

/* The entries one call serves from one stream. */
struct served {
    struct client *c;
    struct topic *t;
    long long count; /* 0 = no limit */
    long n;          /* replied */
    int err;         /* a history read failed (the reply is discarded) */
    sid_t *ids;      /* delivered (they change the PEL) */
    size_t nids, cap;
};

static int served_add(struct served *s, sid_t id) {
    if (s->nids == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        sid_t *ni = realloc(s->ids, cap * sizeof(*ni));
        if (!ni) return OBK_ERR_NOMEM;
        s->ids = ni;
        s->cap = cap;
    }
    s->ids[s->nids++] = id;
    return OBK_OK;
}

static int new_entry_cb(void *ctx, const struct obk_entry *e) {
    struct served *s = ctx;
    if (served_add(s, e->id) != OBK_OK) return OBK_ERR_NOMEM;
    xutil_reply_entry(s->c, e);
    s->n++;
    return 0;
}

static int reply_entry_once(void *ctx, const struct obk_entry *e) {
    xutil_reply_entry(ctx, e);
    return 1;
}

static int history_cb(void *ctx, const struct cg_pending *p) {
    struct served *s = ctx;
    if (s->count > 0 && s->n >= s->count) return 1;
    int rc = topic_get(s->t, p->id, reply_entry_once, s->c);
    if (rc == OBK_OK) {
        if (served_add(s, p->id) != OBK_OK) return 1;
    } else if (rc != OBK_ERR_NOTFOUND) { /* unreadable is not deleted: the command fails */
        s->err = rc;
        return 1;
    } else { /* pending, but deleted from the stream since */
        reply_array(&s->c->reply, 2);
        xutil_reply_id(s->c, p->id);
        reply_null_array(&s->c->reply);
    }
    s->n++;
    return 0;
}

/* Is there something to serve? History reads always are; ">" when the stream has an entry
 * after the group's last delivered ID, or when the last entry cannot be read (the read then
 * answers with the error instead of waiting or replying empty). */
static int can_serve(struct topic *t, struct cg_group *g, sid_t id) {
    sid_t last;
    if (sid_cmp(id, ID_NEW) != 0) return 1;
    if (topic_length(t) == 0) return 0;
    int rc = topic_last_entry_id(t, &last);
    if (rc != OBK_OK) return rc != OBK_ERR_NOTFOUND;
    return sid_cmp(last, cg_group_last_id(g)) > 0;
}

/* Serves one stream: writes [key, entries] (RESP3: the key and entries as one map pair) and
 * records the group changes as one record. Returns OBK_OK or a status (the caller then
 * discards the reply). */
static int serve_stream(struct client *c, const char *key, size_t keylen, struct topic *t,
                        struct cg_group *g, const char *cname, size_t cnamelen, sid_t id,
                        long long count, int noack) {
    struct served s = {c, t, count, 0, 0, NULL, 0, 0};
    struct cg_consumer *cons;
    int created, rc, h;
    long long now = util_mstime();
    cg_record_begin(t);
    rc = cg_consumer_get(t, g, cname, cnamelen, now, &cons, &created);
    if (rc == OBK_OK && !created) rc = cg_consumer_seen(t, g, cons, now);
    if (rc != OBK_OK) goto done;
    if (c->proto == 2) reply_array(R, 2);
    reply_bulk(R, key, keylen);
    h = reply_defer_len(R);
    if (sid_cmp(id, ID_NEW) == 0) {
        sid_t start = cg_group_last_id(g);
        if (sid_incr(&start) == OBK_OK)
            rc = topic_range(t, start, SID_MAX, count > 0 ? (uint64_t)count : 0, 0, new_entry_cb,
                             &s);
        if (rc == OBK_OK && s.nids > 0) {
            long long er = cg_group_entries_read(g);
            for (size_t i = 0; i < s.nids; i++) er = xgroup_entries_read_after(t, er, s.ids[i]);
            rc = cg_deliver_new(t, g, cons, s.ids, s.nids, s.ids[s.nids - 1], er, noack, now);
        }
    } else {
        sid_t start = id;
        if (sid_incr(&start) == OBK_OK) cg_pending_range(g, cons, start, SID_MAX, history_cb, &s);
        if (s.err) rc = s.err;
        if (rc == OBK_OK && s.nids > 0) rc = cg_deliver_again(t, g, s.ids, s.nids, now);
    }
    reply_set_array_len(R, h, s.n);
    server_stats.entries_served += s.n; /* metrics and INFO obelisk */
done : {
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
}
    free(s.ids);
    return rc;
}

/* The request of a blocked XREADGROUP: the group and consumer ride in the first two "keys"
 * slots after the real keys (blocking.c copies them with the request). */
struct xrg_names {
    const char *group, *consumer;
    size_t grouplen, consumerlen;
    int noack;
};

static int xrg_serve_blocked(struct client *c, int idx);

static int block_xreadgroup(struct client *c, int nstreams, char **keys, size_t *keylens,
                            sid_t *ids, long long count, long long timeout,
                            const struct xrg_names *names) {
    /* Keys, then group, consumer and NOACK flag as extra entries (not registered as keys). */
    int n = nstreams + 3;
    char **k = malloc((size_t)n * sizeof(char *));
    size_t *kl = malloc((size_t)n * sizeof(size_t));
    sid_t *ii = malloc((size_t)n * sizeof(sid_t));
    int rc = -1;
    if (!k || !kl || !ii) goto out;
    for (int i = 0; i < nstreams; i++) {
        k[i] = keys[i];
        kl[i] = keylens[i];
        ii[i] = ids[i];
    }
    k[nstreams] = (char *)names->group;
    kl[nstreams] = names->grouplen;
    k[nstreams + 1] = (char *)names->consumer;
    kl[nstreams + 1] = names->consumerlen;
    k[nstreams + 2] = (char *)(names->noack ? "1" : "0");
    kl[nstreams + 2] = 1;
    ii[nstreams] = ii[nstreams + 1] = ii[nstreams + 2] = SID_MIN;
    struct blocking_request req = {xrg_serve_blocked, n, k, kl, ii, count, timeout};
    req.extra = 3;
    rc = blocking_block(c, &req);
out:
    free(k);
    free(kl);
    free(ii);
    return rc;
}

static int xrg_serve_blocked(struct client *c, int idx) {
    const struct blocking_request *req = blocking_request_of(c);
    int nkeys = req->nkeys - req->extra;
    const char *group = req->keys[nkeys], *cons = req->keys[nkeys + 1];
    size_t grouplen = req->keylens[nkeys], conslen = req->keylens[nkeys + 1];
    int noack = req->keys[nkeys + 2][0] == '1';
    struct topic *t = xutil_lookup(c, req->keys[idx], req->keylens[idx]);
    if (!t) {
        reply_error(R, ERR_UNBLOCKED_KEY_GONE);
        return 1;
    }
    struct cg_group *g = cg_group_find(t, group, grouplen);
    if (!g) {
        reply_error(R, ERR_NOGROUP_BLOCKED_GONE);
        return 1;
    }
    if (!can_serve(t, g, ID_NEW)) return 0;
    int h = reply_defer_len(R);
    int rc = serve_stream(c, req->keys[idx], req->keylens[idx], t, g, cons, conslen, ID_NEW,
                          req->count, noack);
    if (rc != OBK_OK) {
        reply_discard_deferred(R, h);
        xutil_reply_status(c, rc);
        return 1;
    }
    xutil_set_streams_len(c, h, 1);
    return 1;
}

void cmd_xreadgroup(CMD_ARGS) {
    struct xread_opts o;
    if (xutil_parse_read_opts(c, argc, argv, argvlen, 1, &o) != 0) return;
    long long timeout = o.timeout, count = o.count;
    int streams_arg = o.streams_arg, nstreams = o.nstreams;
    struct xrg_names names = {o.group, o.consumer, o.grouplen, o.consumerlen, o.noack};
    if (!names.group) {
        reply_error(R, ERR_XREADGROUP_NO_GROUP);
        return;
    }
    sid_t *ids = malloc((size_t)nstreams * sizeof(*ids));
    struct cg_group **groups = malloc((size_t)nstreams * sizeof(*groups));
    if (!ids || !groups) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        goto out;
    }
    for (int i = 0; i < nstreams; i++) {
        const char *key = argv[streams_arg + i], *a = argv[streams_arg + nstreams + i];
        size_t al = argvlen[streams_arg + nstreams + i];
        struct topic *t = xutil_lookup(c, key, argvlen[streams_arg + i]);
        groups[i] = t ? cg_group_find(t, names.group, names.grouplen) : NULL;
        if (!groups[i]) {
            reply_errorf(R, ERR_NOGROUP_XREADGROUP, key, names.group);
            goto out;
        }
        if (al == 1 && (a[0] == '$' || a[0] == '+')) {
            reply_error(R, a[0] == '$' ? ERR_XREADGROUP_DOLLAR : ERR_XREADGROUP_PLUS);
            goto out;
        } else if (al == 1 && a[0] == '>') {
            ids[i] = ID_NEW;
        } else if (xutil_parse_id(c, a, al, 0, SID_PARSE_STRICT, &ids[i], NULL, NULL) != 0) {
            goto out;
        }
    }
    int served = 0, h = -1;
    for (int i = 0; i < nstreams; i++) {
        const char *key = argv[streams_arg + i];
        size_t keylen = argvlen[streams_arg + i];
        struct topic *t = xutil_lookup(c, key, keylen);
        if (!can_serve(t, groups[i], ids[i])) continue;
        if (++served == 1) h = reply_defer_len(R);
        int rc = serve_stream(c, key, keylen, t, groups[i], names.consumer, names.consumerlen,
                              ids[i], count, names.noack);
        if (rc != OBK_OK) {
            reply_discard_deferred(R, h);
            xutil_reply_status(c, rc);
            goto out;
        }
    }
    if (served) {
        xutil_set_streams_len(c, h, served);
        goto out;
    }
    if (timeout != -1 && !(c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC))) {
        if (block_xreadgroup(c, nstreams, argv + streams_arg, argvlen + streams_arg, ids, count,
                             timeout, &names) != 0)
            reply_error(R, ERR_OUT_OF_MEMORY);
        goto out;
    }
    reply_null_array(R);
out:
    free(ids);
    free(groups);
}
