/* cmd_xreadgroup.c - XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [CLAIM min-idle] [NOACK]
 * STREAMS key ... id ... with Redis 7.0's rules: ">" delivers entries after the group's last
 * delivered ID (entering the PEL unless NOACK, moving the group's last ID and entries-read), an
 * explicit ID replays the consumer's own pending entries after it (a deleted one shows as
 * [id, nil]). A consumer is created when it is first served. Blocking follows XREAD; a blocked
 * client whose group is destroyed or whose key is deleted gets Redis's NOGROUP / UNBLOCKED
 * errors.
 * CLAIM (Redis 8.4), with ">" only: before new entries, pending entries of any consumer idle
 * for at least min-idle ms are claimed by the reader, oldest delivery first (ties in ID order;
 * entries deleted from the stream are skipped), COUNT covering both kinds; every entry of such
 * a read is [id, fields, idle ms, deliveries so far], new ones with 0 and 0. A blocked CLAIM
 * read also wakes when the oldest pending entry becomes old enough (blocking.h retry).
 * MAXCOUNT and MAXSIZE (Redis 8.10) bound the whole reply as in XREAD (xutil.h's budget); an
 * entry they cut is not delivered (it stays out of the PEL, the group's last ID stays).
 * Each stream's deliveries are one group-log record, released with the reply when durable.
 * Main thread only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/deadletter.h"
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

/* How one call reads: COUNT (0 = no limit), NOACK, CLAIM (-1 = none), and the reply's
 * MAXCOUNT / MAXSIZE budget. */
struct read_opts {
    long long count;
    int noack;
    long long claim;
    struct xread_budget *budget;
};

/* The entries one call serves from one stream. */
struct served {
    struct client *c;
    struct topic *t;
    long long count; /* 0 = no limit */
    long n;          /* replied */
    int err;         /* a history read failed (the reply is discarded) */
    int claim_shape; /* entries carry idle time and delivery count (CLAIM) */
    sid_t *ids;      /* delivered (they change the PEL) */
    size_t nids, cap;
    struct cg_group *g;
    sid_t *due; /* history: pending entries over the group's delivery limit (dead letters) */
    size_t ndue, duecap;
    struct xread_budget *budget; /* MAXCOUNT / MAXSIZE over the whole reply */
    int cut;                     /* the budget stopped this stream */
};

static int id_push(sid_t **v, size_t *n, size_t *cap, sid_t id) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        sid_t *ni = realloc(*v, nc * sizeof(*ni));
        if (!ni) return OBK_ERR_NOMEM;
        *v = ni;
        *cap = nc;
    }
    (*v)[(*n)++] = id;
    return OBK_OK;
}

static int served_add(struct served *s, sid_t id) {
    return id_push(&s->ids, &s->nids, &s->cap, id);
}

/* [id, fields] or, in a CLAIM read, [id, fields, idle_ms, deliveries]. */
static void reply_entry(struct served *s, const struct obk_entry *e, long long idle,
                        long long deliveries) {
    if (!s->claim_shape) {
        xutil_reply_entry(s->c, e);
        return;
    }
    reply_array(&s->c->reply, 4);
    xutil_reply_id(s->c, e->id);
    reply_array(&s->c->reply, (long)e->nfields * 2);
    for (uint32_t i = 0; i < e->nfields * 2; i++) reply_bulk(&s->c->reply, e->fv[i], e->fvlen[i]);
    reply_int(&s->c->reply, idle);
    reply_int(&s->c->reply, deliveries);
}

static int new_entry_cb(void *ctx, const struct obk_entry *e) {
    struct served *s = ctx;
    if (!xutil_budget_take(s->budget, e->id, e)) return 1;
    if (served_add(s, e->id) != OBK_OK) return OBK_ERR_NOMEM;
    reply_entry(s, e, 0, 0);
    s->n++;
    return 0;
}

/* ---- CLAIM: the pending entries a read may take over ---- */

struct claim_cand {
    sid_t id;
    int64_t delivery_ms; /* with no owner (XNACK), its release order: those come first */
    uint64_t count;
    int owned;
};

struct claim_scan {
    int64_t cutoff; /* delivered at or before: idle enough */
    struct claim_cand *v;
    size_t n, cap;
    int oom;
};

static int claim_collect(void *ctx, const struct cg_pending *p) {
    struct claim_scan *s = ctx;
    if (p->delivery_ms > s->cutoff) return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct claim_cand *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv) {
            s->oom = 1;
            return 1;
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (struct claim_cand){p->id, p->delivery_ms, p->delivery_count, !!p->consumer};
    return 0;
}

static int cand_cmp(const void *a, const void *b) {
    const struct claim_cand *x = a, *y = b;
    if (x->delivery_ms != y->delivery_ms) return x->delivery_ms < y->delivery_ms ? -1 : 1;
    return sid_cmp(x->id, y->id);
}

/* The group's pending entries idle for at least min_idle ms at now, oldest delivery first.
 * O(P log P) for P pending entries. */
static int claim_candidates(struct cg_group *g, long long min_idle, int64_t now,
                            struct claim_scan *s) {
    memset(s, 0, sizeof *s);
    s->cutoff = min_idle > now ? INT64_MIN : now - min_idle;
    cg_pending_range(g, NULL, SID_MIN, SID_MAX, claim_collect, s);
    if (s->oom) {
        free(s->v);
        return OBK_ERR_NOMEM;
    }
    if (s->n > 1) qsort(s->v, s->n, sizeof *s->v, cand_cmp); /* never with NULL */
    return OBK_OK;
}

/* 1 when some pending entry that still exists in the stream is idle enough to claim. */
static int claim_any(struct topic *t, struct cg_group *g, long long min_idle, int64_t now) {
    struct claim_scan cs;
    int found = 0;
    if (claim_candidates(g, min_idle, now, &cs) != OBK_OK) return 1; /* the serve reports it */
    for (size_t i = 0; i < cs.n && !found; i++) /* an unreadable one: the read reports it */
        found = topic_contains(t, cs.v[i].id) != OBK_ERR_NOTFOUND;
    free(cs.v);
    return found;
}

struct claimed_reply {
    struct served *s;
    long long idle, deliveries;
};

static int claimed_cb(void *ctx, const struct obk_entry *e) {
    struct claimed_reply *r = ctx;
    if (!xutil_budget_take(r->s->budget, e->id, e)) {
        r->s->cut = 1;
        return 1;
    }
    reply_entry(r->s, e, r->idle, r->deliveries);
    return 1;
}

/* Claims for cons, then replies, the idle pending entries (up to the COUNT budget). */
static int serve_claimed(struct served *s, struct cg_group *g, struct cg_consumer *cons,
                         long long min_idle, int64_t now) {
    struct claim_scan cs;
    int rc = claim_candidates(g, min_idle, now, &cs);
    if (rc != OBK_OK) return rc;
    for (size_t i = 0; i < cs.n && !(s->count > 0 && s->n >= s->count); i++) {
        uint64_t next =
            cs.v[i].count >= (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : cs.v[i].count + 1;
        if (deadletter_divert(s->c->db, s->t, g, cs.v[i].id, next)) continue;
        /* idle since the last delivery; an entry released with XNACK counts as delivered at 0 */
        long long idle = cs.v[i].owned ? now - cs.v[i].delivery_ms : now;
        struct claimed_reply r = {s, idle, (long long)cs.v[i].count};
        rc = topic_get(s->t, cs.v[i].id, claimed_cb, &r);
        if (rc == OBK_ERR_NOTFOUND) { /* deleted from the stream: left pending, not shown */
            rc = OBK_OK;
            continue;
        }
        if (rc != OBK_OK || s->cut) break;
        if ((rc = cg_claim(s->t, g, cons, cs.v[i].id, now, next)) != OBK_OK) break;
        s->n++;
    }
    free(cs.v);
    return rc;
}

static int reply_entry_once(void *ctx, const struct obk_entry *e) {
    struct served *s = ctx;
    if (!xutil_budget_take(s->budget, e->id, e)) {
        s->cut = 1;
        return 1;
    }
    xutil_reply_entry(s->c, e);
    return 1;
}

static int history_cb(void *ctx, const struct cg_pending *p) {
    struct served *s = ctx;
    if (s->count > 0 && s->n >= s->count) return 1;
    if (deadletter_due(s->g, p->delivery_count + 1) && topic_contains(s->t, p->id) == OBK_OK) {
        /* taken by the dead-letter policy after the walk (the walk cannot change the PEL) */
        if (id_push(&s->due, &s->ndue, &s->duecap, p->id) != OBK_OK) s->err = OBK_ERR_NOMEM;
        return s->err != OBK_OK;
    }
    int rc = topic_get(s->t, p->id, reply_entry_once, s);
    if (rc == OBK_OK) {
        if (s->cut) return 1;
        if (served_add(s, p->id) != OBK_OK) return 1;
    } else if (rc != OBK_ERR_NOTFOUND) { /* unreadable is not deleted: the command fails */
        s->err = rc;
        return 1;
    } else { /* pending, but deleted from the stream since */
        if (!xutil_budget_take(s->budget, p->id, NULL)) return 1;
        reply_array(&s->c->reply, 2);
        xutil_reply_id(s->c, p->id);
        reply_null_array(&s->c->reply);
    }
    s->n++;
    return 0;
}

/* Is there something to serve? History reads always are; ">" when the stream has an entry
 * after the group's last delivered ID, or when the last entry cannot be read (the read then
 * answers with the error instead of waiting or replying empty); with CLAIM also when a
 * pending entry can be claimed. */
static int can_serve(struct topic *t, struct cg_group *g, sid_t id, long long claim) {
    sid_t last;
    if (sid_cmp(id, ID_NEW) != 0) return 1;
    if (claim >= 0 && claim_any(t, g, claim, util_mstime())) return 1;
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
                        const struct read_opts *o) {
    long long count = xutil_budget_count(o->budget, o->count);
    int claim = o->claim >= 0 && sid_cmp(id, ID_NEW) == 0; /* ignored for history reads */
    struct served s = {c, t, count, 0, 0, claim, NULL, 0, 0, g, NULL, 0, 0, o->budget, 0};
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
        if (claim) rc = serve_claimed(&s, g, cons, o->claim, now);
        long long left = count > 0 ? count - s.n : 0;
        if (rc == OBK_OK && !s.cut && (count == 0 || left > 0) && sid_incr(&start) == OBK_OK)
            rc = topic_range(t, start, SID_MAX, (uint64_t)left, 0, new_entry_cb, &s);
        if (rc == OBK_OK && s.nids > 0) {
            long long er = cg_group_entries_read(g);
            for (size_t i = 0; i < s.nids; i++) er = xgroup_entries_read_after(t, er, s.ids[i]);
            rc = cg_deliver_new(t, g, cons, s.ids, s.nids, s.ids[s.nids - 1], er, o->noack, now);
        }
    } else {
        sid_t start = id;
        if (sid_incr(&start) == OBK_OK) cg_pending_range(g, cons, start, SID_MAX, history_cb, &s);
        if (s.err) rc = s.err;
        for (size_t i = 0; rc == OBK_OK && i < s.ndue; i++)
            deadletter_divert(c->db, t, g, s.due[i],
                              cg_pending_get(g, s.due[i])->delivery_count + 1);
        if (rc == OBK_OK && s.nids > 0) rc = cg_deliver_again(t, g, s.ids, s.nids, now);
    }
    reply_set_array_len(R, h, s.n);
    server_stats.entries_served += s.n; /* metrics and INFO obelisk */
done : {
    int rc2 = cg_record_end(t);
    if (rc == OBK_OK) rc = rc2;
}
    free(s.ids);
    free(s.due);
    return rc;
}

/* The request of a blocked XREADGROUP: the group, consumer, NOACK flag and CLAIM value ride
 * in the slots after the real keys (blocking.c copies them with the request). */
struct xrg_names {
    const char *group, *consumer;
    size_t grouplen, consumerlen;
    int noack;
    long long claim;
    long long maxsize;
};
#define XRG_EXTRA 5

struct earliest {
    int64_t after; /* deadlines at or before this are due already (their entries are gone) */
    long long claim;
    int64_t best;
};

static int earliest_cb(void *ctx, const struct cg_pending *p) {
    struct earliest *e = ctx;
    int64_t due = p->delivery_ms > INT64_MAX - e->claim ? INT64_MAX : p->delivery_ms + e->claim;
    if (due > e->after && due < e->best) e->best = due;
    return 0;
}

/* Ms until a pending entry of the read's groups becomes old enough to claim; with none that
 * will, min-idle (an entry delivered from now on is claimable after that at the earliest).
 * At least 10 ms, so entries that are due but cannot be served are not polled in a loop. */
static long long claim_retry_ms(struct client *c, int nkeys, char **keys, size_t *keylens,
                                const char *group, size_t grouplen, long long claim) {
    int64_t now = util_mstime();
    struct earliest e = {now, claim, claim > INT64_MAX - now ? INT64_MAX : now + claim};
    for (int i = 0; i < nkeys; i++) {
        struct topic *t = xutil_lookup(c, keys[i], keylens[i]);
        struct cg_group *g = t ? cg_group_find(t, group, grouplen) : NULL;
        if (g) cg_pending_range(g, NULL, SID_MIN, SID_MAX, earliest_cb, &e);
    }
    long long ms = e.best - now;
    return ms < 10 ? 10 : ms;
}

static int xrg_serve_blocked(struct client *c, int idx);

static long long xrg_retry_in(struct client *c) {
    const struct blocking_request *req = blocking_request_of(c);
    int nkeys = req->nkeys - req->extra;
    long long claim;
    util_parse_ll(req->keys[nkeys + 3], req->keylens[nkeys + 3], &claim);
    return claim_retry_ms(c, nkeys, req->keys, req->keylens, req->keys[nkeys], req->keylens[nkeys],
                          claim);
}

static int block_xreadgroup(struct client *c, int nstreams, char **keys, size_t *keylens,
                            sid_t *ids, long long count, long long timeout,
                            const struct xrg_names *names) {
    /* Keys, then group, consumer, NOACK flag, CLAIM and MAXSIZE (not registered as keys). */
    char claim[24], maxsize[24];
    char *extra[XRG_EXTRA] = {(char *)names->group, (char *)names->consumer,
                              (char *)(names->noack ? "1" : "0"), claim, maxsize};
    size_t extralen[XRG_EXTRA] = {
        names->grouplen, names->consumerlen, 1,
        (size_t)snprintf(claim, sizeof claim, "%lld", names->claim),
        (size_t)snprintf(maxsize, sizeof maxsize, "%lld", names->maxsize)};
    struct blocking_request req = {xrg_serve_blocked};
    req.count = count;
    req.timeout_ms = timeout;
    if (names->claim >= 0) { /* CLAIM reads also wait for pending entries to age */
        req.retry_ms =
            claim_retry_ms(c, nstreams, keys, keylens, names->group, names->grouplen, names->claim);
        req.retry_in = xrg_retry_in;
    }
    return blocking_block_with(c, &req, nstreams, keys, keylens, ids, XRG_EXTRA, extra, extralen);
}

static int xrg_serve_blocked(struct client *c, int idx) {
    const struct blocking_request *req = blocking_request_of(c);
    int nkeys = req->nkeys - req->extra;
    const char *group = req->keys[nkeys], *cons = req->keys[nkeys + 1];
    size_t grouplen = req->keylens[nkeys], conslen = req->keylens[nkeys + 1];
    struct xread_budget budget = {0, 0, 0, 0}; /* MAXCOUNT is already in the request's count */
    struct read_opts o = {req->count, req->keys[nkeys + 2][0] == '1', -1, &budget};
    util_parse_ll(req->keys[nkeys + 3], req->keylens[nkeys + 3], &o.claim);
    util_parse_ll(req->keys[nkeys + 4], req->keylens[nkeys + 4], &budget.maxsize);
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
    if (!can_serve(t, g, ID_NEW, o.claim)) return 0;
    int h = reply_defer_len(R);
    int rc = serve_stream(c, req->keys[idx], req->keylens[idx], t, g, cons, conslen, ID_NEW, &o);
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
    long long timeout = o.timeout;
    int streams_arg = o.streams_arg, nstreams = o.nstreams;
    struct xrg_names names = {o.group, o.consumer, o.grouplen, o.consumerlen,
                              o.noack, o.claim,    o.maxsize};
    struct xread_budget budget = {o.maxcount, o.maxsize, 0, 0};
    struct read_opts ro = {o.count, o.noack, o.claim, &budget};
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
    for (int i = 0; i < nstreams && !xutil_budget_spent(&budget); i++) {
        const char *key = argv[streams_arg + i];
        size_t keylen = argvlen[streams_arg + i];
        struct topic *t = xutil_lookup(c, key, keylen);
        if (!can_serve(t, groups[i], ids[i], ro.claim)) continue;
        if (++served == 1) h = reply_defer_len(R);
        int rc = serve_stream(c, key, keylen, t, groups[i], names.consumer, names.consumerlen,
                              ids[i], &ro);
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
        if (block_xreadgroup(c, nstreams, argv + streams_arg, argvlen + streams_arg, ids,
                             xutil_budget_count(&budget, o.count), timeout, &names) != 0)
            reply_error(R, ERR_OUT_OF_MEMORY);
        goto out;
    }
    reply_null_array(R);
out:
    free(ids);
    free(groups);
}
