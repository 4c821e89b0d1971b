/* topic_read.c - reads of a topic: ranges forward and backward, point lookups.
 *
 * The ring holds a contiguous run of the newest offsets, including every unwritten entry. A
 * read that starts inside it never touches the disk (a cache hit); otherwise the log is read
 * up to the ring's first offset (the limit every tlog reader respects) and the ring continues
 * from there. Tombstones and offsets below the log start are filtered here, in one place, so
 * cache and disk give identical results. Main thread (reads never run during store_open). */
#include "storage/topic.h"
#include "topic_impl.h"

#include "base/obk_assert.h"
#include "base/status.h"

struct rctx {
    struct topic *t;
    sid_t start, end;
    uint64_t count, n;
    int rev;
    obk_entry_cb cb;
    void *ctx;
    int stop;
};

static int range_filter(void *c, const struct obk_entry *e) {
    struct rctx *r = c;
    const struct tstate *st = &r->t->st;
    if (r->rev && e->offset < st->start_offset) goto stop;
    /* dead entries never stop a walk: after XSETID below a stored entry, a dead one may carry
     * an ID above the live entries that follow it (tstate.h, epochs) */
    if (e->offset < st->start_offset || tstate_is_deleted_at(st, e->offset)) return 0;
    if (!r->rev && sid_cmp(e->id, r->end) > 0) goto stop;
    if (r->rev && sid_cmp(e->id, r->start) < 0) goto stop;
    if (!r->rev && sid_cmp(e->id, r->start) < 0) return 0;
    if (r->rev && sid_cmp(e->id, r->end) > 0) return 0;
    int rc = r->cb(r->ctx, e);
    if (rc != 0) {
        r->stop = 1;
        return rc < 0 ? rc : 1;
    }
    if (r->count && ++r->n >= r->count) goto stop;
    return 0;
stop:
    r->stop = 1;
    return 1;
}

/* The first offset no log reader may reach: the ring's first entry (every unwritten entry is
 * in the ring), or the end when the ring is empty. */
static uint64_t disk_limit(const struct topic *t) {
    size_t n = ring_count(&t->ring);
    uint64_t limit = n ? ring_first_offset(&t->ring) : t->st.end_offset;
    /* the ring is one run of offsets ending at the stream's end: the log serves [start, limit)
     * and the ring [limit, end), so no offset is served by both or by neither */
    OBK_ASSERT(limit + n == t->st.end_offset);
    /* every offset the log may serve was placed in the log (handed to a submission) */
    OBK_ASSERT(limit <= t->log.end_offset);
    return limit;
}

/* The ring's entries by search key (tstate.h: epochs). */
static sid_t entry_key(const void *ctx, const struct ring_entry *e) {
    return tstate_key(ctx, e->offset, e->id);
}

static sid_t ring_key(const struct topic *t, size_t i) {
    return entry_key(&t->st, ring_at(&t->ring, i));
}

/* The first ring entry whose key is at or above id (upper: above id). */
static size_t ring_key_bound(const struct topic *t, sid_t id, int upper) {
    return ring_bound(&t->ring, id, upper, entry_key, &t->st);
}

static int ring_emit(struct topic *t, size_t i, struct ring_scratch *sc, struct rctx *r) {
    struct obk_entry e;
    int rc = ring_entry_view(ring_at(&t->ring, i), sc, &e);
    if (rc != OBK_OK) return rc;
    rc = range_filter(r, &e);
    return rc < 0 ? rc : OBK_OK;
}

int topic_range(struct topic *t, sid_t start, sid_t end, uint64_t count, int rev, obk_entry_cb cb,
                void *ctx) {
    struct rctx r = {t, start, end, count, 0, rev, cb, ctx, 0};
    struct ring_scratch sc = {0};
    struct ring *ring = &t->ring;
    size_t n = ring_count(ring);
    int rc = OBK_OK;
    if (sid_cmp(start, end) > 0 || tstate_length(&t->st) == 0) return OBK_OK;
    uint64_t limit = disk_limit(t);
    int disk_needed = limit > t->st.start_offset;
    if (!rev) {
        if (disk_needed && (n == 0 || sid_cmp(start, ring_key(t, 0)) < 0)) {
            t->env->cache_misses++;
            rc = tlog_read_forward(&t->log, start, t->st.start_offset, 0, limit, range_filter, &r);
            if (rc != OBK_OK || r.stop) goto done;
        } else {
            t->env->cache_hits++;
        }
        for (size_t i = ring_key_bound(t, start, 0); i < n && !r.stop; i++)
            if ((rc = ring_emit(t, i, &sc, &r)) != OBK_OK) goto done;
    } else {
        size_t i = ring_key_bound(t, end, 1);
        while (i > 0 && !r.stop)
            if ((rc = ring_emit(t, --i, &sc, &r)) != OBK_OK) goto done;
        if (r.stop || !disk_needed) {
            t->env->cache_hits++;
            goto done;
        }
        t->env->cache_misses++;
        rc = tlog_read_backward(&t->log, end, limit, range_filter, &r);
    }
done:
    ring_scratch_free(&sc);
    return rc < 0 ? rc : OBK_OK;
}

struct one_ctx {
    sid_t id;
    uint64_t offset;
    int found;
};

static int first_cb(void *c, const struct obk_entry *e) {
    struct one_ctx *o = c;
    o->id = e->id;
    o->offset = e->offset;
    o->found = 1;
    return 1;
}

int topic_first_id(struct topic *t, sid_t *id) {
    struct one_ctx o = {SID_MIN, 0, 0};
    int rc = topic_range(t, SID_MIN, SID_MAX, 1, 0, first_cb, &o);
    if (rc != OBK_OK) return rc;
    if (!o.found) return OBK_ERR_NOTFOUND;
    *id = o.id;
    return OBK_OK;
}

int topic_last_entry_id(struct topic *t, sid_t *id) {
    struct one_ctx o = {SID_MIN, 0, 0};
    int rc = topic_range(t, SID_MIN, SID_MAX, 1, 1, first_cb, &o);
    if (rc != OBK_OK) return rc;
    if (!o.found) return OBK_ERR_NOTFOUND;
    *id = o.id;
    return OBK_OK;
}

struct get_ctx {
    obk_entry_cb cb;
    void *ctx;
    int found;
};

static int get_cb(void *c, const struct obk_entry *e) {
    struct get_ctx *g = c;
    g->found = 1;
    return g->cb(g->ctx, e);
}

int topic_get(struct topic *t, sid_t id, obk_entry_cb cb, void *ctx) {
    struct get_ctx g = {cb, ctx, 0};
    int rc = topic_range(t, id, id, 1, 0, get_cb, &g);
    if (rc != OBK_OK) return rc;
    return g.found ? OBK_OK : OBK_ERR_NOTFOUND;
}

static int seen_cb(void *ctx, const struct obk_entry *e) {
    (void)ctx, (void)e;
    return 1;
}

int topic_contains(struct topic *t, sid_t id) {
    return topic_get(t, id, seen_cb, NULL);
}

/* First raw entry (tombstones included) at or after id / offset. */
static int raw_first(struct topic *t, sid_t id, uint64_t offset, int by_offset, struct one_ctx *o) {
    struct ring *ring = &t->ring;
    size_t n = ring_count(ring);
    o->found = 0;
    if (n && (by_offset ? offset >= ring_first_offset(ring) : sid_cmp(id, ring_key(t, 0)) >= 0)) {
        size_t i = by_offset ? ring_find_offset(ring, offset) : ring_key_bound(t, id, 0);
        if (i < n) {
            o->found = 1;
            o->id = ring_at(ring, i)->id;
            o->offset = ring_at(ring, i)->offset;
        }
        return OBK_OK;
    }
    int rc = tlog_read_forward(&t->log, id, offset, by_offset, disk_limit(t), first_cb, o);
    if (rc != OBK_OK || o->found || !n) return rc;
    o->found = 1; /* nothing on disk at or after it: the ring's first entry is next */
    o->id = ring_at(ring, 0)->id;
    o->offset = ring_at(ring, 0)->offset;
    return OBK_OK;
}

int topic_find_offset(struct topic *t, sid_t id, uint64_t *offset) {
    struct one_ctx o;
    int rc = raw_first(t, id, 0, 0, &o);
    if (rc != OBK_OK) return rc;
    if (!o.found || sid_cmp(o.id, id) != 0) return OBK_ERR_NOTFOUND;
    *offset = o.offset;
    return OBK_OK;
}

int topic_id_at(struct topic *t, uint64_t offset, sid_t *id) {
    struct one_ctx o;
    int rc = raw_first(t, SID_MIN, offset, 1, &o);
    if (rc != OBK_OK) return rc;
    if (!o.found || o.offset != offset) return OBK_ERR_NOTFOUND;
    *id = o.id;
    return OBK_OK;
}

int topic_lower_bound_offset(struct topic *t, sid_t id, uint64_t *offset) {
    struct one_ctx o;
    int rc = raw_first(t, id, 0, 0, &o);
    if (rc != OBK_OK) return rc;
    *offset = o.found ? o.offset : t->st.end_offset;
    return OBK_OK;
}

int topic_count_after(struct topic *t, sid_t id, uint64_t *n) {
    const struct tstate *st = &t->st;
    *n = 0;
    if (sid_cmp(id, st->last_id) >= 0) return OBK_OK; /* no entry is above the last ID */
    if (sid_is_zero(id)) {
        *n = tstate_length(st); /* 0-0 is never an entry's ID */
        return OBK_OK;
    }
    sid_t next = id;
    uint64_t x;
    sid_incr(&next); /* below last_id: cannot overflow */
    int rc = topic_lower_bound_offset(t, next, &x);
    if (rc != OBK_OK) return rc;
    if (x < st->start_offset) x = st->start_offset;
    *n = st->end_offset - x - tstate_tombs_from(st, x);
    return OBK_OK;
}
