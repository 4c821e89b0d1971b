/* cgroup.c - a stream's consumer groups in memory (cgroup_state.h) and their mutations: each
 * mutation changes the state and appends its effect, as idempotent operations carrying the
 * resulting values, to the record of the current command; the read calls of cgroup.h.
 *
 * Design: groups and each group's consumers are arrays sorted by name (byte-wise, as Redis's
 * rax orders them; they are few). A group's pending entries list is an idmap (skip list) that
 * owns struct cg_pending; each consumer has an idmap of its own entries pointing at the same
 * structs, so per-consumer ranges and counts cost O(log n). Records: the open record lives at
 * the end of cg->buf after the closed ones; room is reserved before the state changes, so an
 * operation is never half recorded. A record holding only seen-time updates is dropped at
 * cgroup_record_end (no write, no fsync for a read that delivered nothing): those times reach
 * the disk with the next record or snapshot. Allocation failure after the state changed part
 * way makes the owner's error sticky (memory and disk would disagree). A mutation called
 * outside cgroup_record_begin/end makes a record of its own.
 *
 * This module knows no stream and no file: the owner (topic_groups.c) hands it the sticky
 * error and asks cgroup_record_ready() whether to join the next submission; cgstore.c writes
 * the records. Owned by the thread that holds the store (docs/storage.md, Threads). */
#include "storage/cgroup.h"

#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/obk_assert.h"
#include "base/status.h"
#include "storage/cgroup_state.h"
#include "storage/idmp.h"

/* ---- names ---- */

static int name_cmp(const uint8_t *a, size_t alen, const void *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static uint8_t *name_dup(const void *name, size_t len) {
    uint8_t *p = malloc(len ? len : 1);
    if (p && len) memcpy(p, name, len);
    return p;
}

/* ---- state primitives ---- */

int cgs_new(struct cg_state **out) {
    struct cg_state *cg = calloc(1, sizeof *cg);
    if (!cg) return OBK_ERR_NOMEM;
    *out = cg;
    return OBK_OK;
}

static void consumer_free(struct cg_consumer *c) {
    idmap_free(&c->pel, NULL);
    free(c->name);
    free(c);
}

static void group_free(struct cg_group *g) {
    for (size_t i = 0; i < g->ncons; i++) consumer_free(g->cons[i]);
    idmap_free(&g->pel, free);
    free(g->cons);
    free(g->name);
    free(g->dlq_key);
    free(g);
}

void cgs_free(struct cg_state *cg) {
    if (!cg) return;
    for (size_t i = 0; i < cg->ngroups; i++) group_free(cg->groups[i]);
    free(cg->groups);
    free(cg->buf);
    idmp_free(cg->idmp);
    free(cg);
}

void cgs_set_sticky(struct cg_state *cg, int *sticky) {
    cg->sticky = sticky;
}

static int sticky_set(const struct cg_state *cg) {
    return cg->sticky && *cg->sticky != OBK_OK;
}

/* Index of the first group whose name is >= name. */
static size_t group_lower(const struct cg_state *cg, const void *name, size_t len) {
    size_t lo = 0, hi = cg->ngroups;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct cg_group *g = cg->groups[mid];
        if (name_cmp(g->name, g->len, name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct cg_group *cgs_group_find(const struct cg_state *cg, const void *name, size_t len) {
    if (!cg) return NULL;
    size_t i = group_lower(cg, name, len);
    if (i < cg->ngroups && name_cmp(cg->groups[i]->name, cg->groups[i]->len, name, len) == 0)
        return cg->groups[i];
    return NULL;
}

int cgs_group_add(struct cg_state *cg, const void *name, size_t len, struct cg_group **out) {
    size_t i = group_lower(cg, name, len);
    if (cg->ngroups == cg->gcap) {
        size_t cap = cg->gcap ? cg->gcap * 2 : 4;
        struct cg_group **ng = realloc(cg->groups, cap * sizeof *ng);
        if (!ng) return OBK_ERR_NOMEM;
        cg->groups = ng;
        cg->gcap = cap;
    }
    struct cg_group *g = calloc(1, sizeof *g);
    if (!g) return OBK_ERR_NOMEM;
    if (!(g->name = name_dup(name, len)) || idmap_init(&g->pel) != OBK_OK) {
        free(g->name);
        free(g);
        return OBK_ERR_NOMEM;
    }
    g->len = len;
    g->entries_read = -1;
    memmove(&cg->groups[i + 1], &cg->groups[i], (cg->ngroups - i) * sizeof *cg->groups);
    cg->groups[i] = g;
    cg->ngroups++;
    *out = g;
    return OBK_OK;
}

void cgs_group_remove(struct cg_state *cg, struct cg_group *g) {
    size_t i = group_lower(cg, g->name, g->len);
    if (i < cg->ngroups && cg->groups[i] == g) {
        memmove(&cg->groups[i], &cg->groups[i + 1], (cg->ngroups - i - 1) * sizeof *cg->groups);
        cg->ngroups--;
    }
    if (cg->sel_g == g) cg->sel_g = NULL, cg->sel_c = NULL;
    group_free(g);
}

static size_t consumer_lower(const struct cg_group *g, const void *name, size_t len) {
    size_t lo = 0, hi = g->ncons;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct cg_consumer *c = g->cons[mid];
        if (name_cmp(c->name, c->len, name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int cgs_consumer_add(struct cg_group *g, const void *name, size_t len, struct cg_consumer **out) {
    size_t i = consumer_lower(g, name, len);
    if (g->ncons == g->ccap) {
        size_t cap = g->ccap ? g->ccap * 2 : 4;
        struct cg_consumer **nc = realloc(g->cons, cap * sizeof *nc);
        if (!nc) return OBK_ERR_NOMEM;
        g->cons = nc;
        g->ccap = cap;
    }
    struct cg_consumer *c = calloc(1, sizeof *c);
    if (!c) return OBK_ERR_NOMEM;
    if (!(c->name = name_dup(name, len)) || idmap_init(&c->pel) != OBK_OK) {
        free(c->name);
        free(c);
        return OBK_ERR_NOMEM;
    }
    c->len = len;
    memmove(&g->cons[i + 1], &g->cons[i], (g->ncons - i) * sizeof *g->cons);
    g->cons[i] = c;
    g->ncons++;
    *out = c;
    return OBK_OK;
}

uint64_t cgs_consumer_remove(struct cg_group *g, struct cg_consumer *c) {
    uint64_t n = 0;
    for (struct idmap_node *x = idmap_first(&c->pel); x; x = idmap_next(x)) {
        free(idmap_delete(&g->pel, x->ms, x->seq));
        n++;
    }
    size_t i = consumer_lower(g, c->name, c->len);
    if (i < g->ncons && g->cons[i] == c) {
        memmove(&g->cons[i], &g->cons[i + 1], (g->ncons - i - 1) * sizeof *g->cons);
        g->ncons--;
    }
    consumer_free(c);
    return n;
}

int cgs_pending_set(struct cg_group *g, struct cg_consumer *c, sid_t id, int64_t delivery_ms,
                    uint64_t count) {
    struct cg_pending *p = idmap_get(&g->pel, id.ms, id.seq);
    int created = 0;
    if (!p) {
        if (!(p = calloc(1, sizeof *p))) return OBK_ERR_NOMEM;
        p->id = id;
        int rc = idmap_insert(&g->pel, id.ms, id.seq, p);
        if (rc != OBK_OK) {
            free(p);
            return rc;
        }
        created = 1;
    }
    if (created || p->consumer != c) {
        int rc = c ? idmap_insert(&c->pel, id.ms, id.seq, p) : OBK_OK;
        if (rc != OBK_OK) {
            if (created) free(idmap_delete(&g->pel, id.ms, id.seq));
            return rc;
        }
        if (!created && p->consumer) idmap_delete(&p->consumer->pel, id.ms, id.seq);
        p->consumer = c;
    }
    p->delivery_ms = delivery_ms;
    p->delivery_count = count;
    if (!c && delivery_ms > g->nack_seq) g->nack_seq = delivery_ms; /* the NACK zone's order */
    return OBK_OK;
}

int cgs_pending_del(struct cg_group *g, sid_t id) {
    struct cg_pending *p = idmap_delete(&g->pel, id.ms, id.seq);
    if (!p) return 0;
    if (p->consumer) idmap_delete(&p->consumer->pel, id.ms, id.seq);
    free(p);
    return 1;
}

uint64_t cgs_clamp(struct cg_state *cg, sid_t last_id, uint64_t entries_added) {
    uint64_t changes = 0;
    sid_t above = last_id;
    int any_above = sid_incr(&above) == OBK_OK;
    for (size_t i = 0; cg && i < cg->ngroups; i++) {
        struct cg_group *g = cg->groups[i];
        if (sid_cmp(g->last_id, last_id) > 0) g->last_id = last_id, changes++;
        if (g->entries_read > 0 && (uint64_t)g->entries_read > entries_added)
            g->entries_read = (int64_t)entries_added, changes++;
        if (g->has_commit && sid_cmp(g->committed, last_id) > 0) g->committed = last_id, changes++;
        struct idmap_node *x = any_above ? idmap_lower_bound(&g->pel, above.ms, above.seq) : NULL;
        while (x) {
            struct idmap_node *n = idmap_next(x);
            cgs_pending_del(g, (sid_t){x->ms, x->seq});
            changes++;
            x = n;
        }
    }
    if (cg && cg->idmp) changes += idmp_clamp(cg->idmp, last_id);
    return changes;
}

/* ---- record building ---- */

/* Room for n more bytes in the record buffer. */
static int rec_reserve(struct cg_state *cg, size_t n) {
    if (cg->len + n <= cg->cap) return OBK_OK;
    size_t cap = cg->cap ? cg->cap : 256;
    while (cap < cg->len + n) cap *= 2;
    uint8_t *nb = realloc(cg->buf, cap);
    if (!nb) return OBK_ERR_NOMEM;
    cg->buf = nb;
    cg->cap = cap;
    return OBK_OK;
}

static void put_u8(struct cg_state *cg, uint8_t v) {
    cg->buf[cg->len++] = v;
}
static void put_uv(struct cg_state *cg, uint64_t v) {
    cg->len += codec_put_uvarint(cg->buf + cg->len, v);
}
static void put_sv(struct cg_state *cg, int64_t v) {
    cg->len += codec_put_svarint(cg->buf + cg->len, v);
}
static void put_str(struct cg_state *cg, const uint8_t *p, size_t n) {
    put_uv(cg, n);
    if (n) memcpy(cg->buf + cg->len, p, n);
    cg->len += n;
}

/* Upper bounds of the bytes an operation takes. */
#define OP_FIXED 48 /* type + up to four varints */
static size_t sel_room(const struct cg_group *g, const struct cg_consumer *c) {
    return 2 * OP_FIXED + g->len + (c ? c->len : 0);
}

/* Emits GROUP_SELECT / CONSUMER_SELECT unless already selected (room reserved by caller). */
static void sel(struct cg_state *cg, const struct cg_group *g, const struct cg_consumer *c) {
    if (cg->sel_g != g) {
        put_u8(cg, CG_OP_GROUP_SELECT);
        put_str(cg, g->name, g->len);
        cg->sel_g = g;
        cg->sel_c = NULL;
    }
    if (c && cg->sel_c != c) {
        put_u8(cg, CG_OP_CONSUMER_SELECT);
        put_str(cg, c->name, c->len);
        cg->sel_c = c;
    }
}

static void put_group_set(struct cg_state *cg, const struct cg_group *g) {
    put_u8(cg, CG_OP_GROUP_SET);
    put_str(cg, g->name, g->len);
    put_uv(cg, g->last_id.ms);
    put_uv(cg, g->last_id.seq);
    put_sv(cg, g->entries_read);
    cg->sel_g = g;
    cg->sel_c = NULL;
}

static void put_pending_set(struct cg_state *cg, const struct cg_pending *p) {
    put_u8(cg, CG_OP_PENDING_SET);
    put_uv(cg, p->id.ms);
    put_uv(cg, p->id.seq);
    put_sv(cg, p->delivery_ms);
    put_uv(cg, p->delivery_count);
}

void cgroup_record_begin(struct cg_state *cg) {
    if (cg->rec_open) return;
    cg->rec_open = 1;
    cg->rec_hard = 0;
    cg->rec_start = cg->len;
    cg->sel_g = NULL;
    cg->sel_c = NULL;
    if (rec_reserve(cg, CG_RECORD_HEADER) == OBK_OK) cg->len += CG_RECORD_HEADER;
}

int cgroup_record_end(struct cg_state *cg) {
    if (!cg->rec_open) return OBK_OK;
    cg->rec_open = 0;
    cg->sel_g = NULL;
    cg->sel_c = NULL;
    if (cg->len <= cg->rec_start + CG_RECORD_HEADER || !cg->rec_hard) {
        cg->len = cg->rec_start; /* nothing durable to say */
        return sticky_set(cg) ? OBK_ERR_STICKY : OBK_OK;
    }
    uint8_t *r = cg->buf + cg->rec_start;
    size_t body = cg->len - cg->rec_start - CG_RECORD_HEADER;
    codec_put_u32(r, (uint32_t)(body + 4));
    codec_put_u32(r + 4, crc32c(0, r + CG_RECORD_HEADER, body));
    cg->rec_ready = 1;
    return sticky_set(cg) ? OBK_ERR_STICKY : OBK_OK;
}

int cgroup_records_queue(struct cg_state *cg, const uint8_t *recs, size_t len) {
    if (sticky_set(cg)) return OBK_ERR_STICKY;
    if (cg->rec_open) return OBK_ERR_INVAL;
    if (len == 0) return OBK_OK;
    if (rec_reserve(cg, len) != OBK_OK) return OBK_ERR_NOMEM;
    memcpy(cg->buf + cg->len, recs, len);
    cg->len += len;
    cg->rec_ready = 1;
    return OBK_OK;
}

int cgroup_record_ready(struct cg_state *cg) {
    int ready = cg->rec_ready;
    cg->rec_ready = 0;
    return ready;
}

/* Every mutation: refuses after an error, opens a record of its own when none is open, and
 * reserves room for its operations. */
static int mut_begin(struct cg_state *cg, size_t room, int *implicit) {
    *implicit = 0;
    if (sticky_set(cg)) return OBK_ERR_STICKY;
    if (!cg->rec_open) {
        cgroup_record_begin(cg);
        *implicit = 1;
    }
    if (cg->len < cg->rec_start + CG_RECORD_HEADER) return OBK_ERR_NOMEM;
    return rec_reserve(cg, room);
}

/* changed: the state was modified before rc failed (out of memory half way: sticky). */
static int mut_end(struct cg_state *cg, int implicit, int rc, int changed) {
    /* every operation stayed inside the room mut_begin reserved */
    OBK_ASSERT(cg->len <= cg->cap);
    if (rc == OBK_ERR_NOMEM && changed && cg->sticky && *cg->sticky == OBK_OK)
        *cg->sticky = OBK_ERR_NOMEM;
    if (implicit) {
        int rc2 = cgroup_record_end(cg);
        if (rc == OBK_OK) rc = rc2;
    }
    return rc;
}

/* ---- groups ---- */

size_t cgroup_group_count(const struct cg_state *cg) {
    return cg ? cg->ngroups : 0;
}

void cgroup_group_foreach(struct cg_state *cg, int (*cb)(void *ctx, struct cg_group *g),
                          void *ctx) {
    for (size_t i = 0; cg && i < cg->ngroups; i++)
        if (cb(ctx, cg->groups[i])) break;
}

int cgroup_group_create(struct cg_state *cg, const void *name, size_t len, sid_t last_id,
                        int64_t entries_read, struct cg_group **out) {
    int implicit, rc = mut_begin(cg, OP_FIXED + len, &implicit);
    struct cg_group *g = NULL;
    if (rc != OBK_OK) goto done;
    if (cgs_group_find(cg, name, len)) {
        rc = OBK_ERR_EXISTS;
        goto done;
    }
    if ((rc = cgs_group_add(cg, name, len, &g)) != OBK_OK) goto done;
    g->last_id = last_id;
    g->entries_read = entries_read;
    put_group_set(cg, g);
    cg->rec_hard = 1;
    if (out) *out = g;
done:
    return mut_end(cg, implicit, rc, 0);
}

int cgroup_group_destroy(struct cg_state *cg, struct cg_group *g) {
    int implicit, rc = mut_begin(cg, OP_FIXED + g->len, &implicit);
    if (rc != OBK_OK) goto done;
    put_u8(cg, CG_OP_GROUP_DEL);
    put_str(cg, g->name, g->len);
    cg->rec_hard = 1;
    cgs_group_remove(cg, g);
done:
    return mut_end(cg, implicit, rc, 0);
}

int cgroup_group_setid(struct cg_state *cg, struct cg_group *g, sid_t last_id,
                       int64_t entries_read) {
    int implicit, rc = mut_begin(cg, OP_FIXED + g->len, &implicit);
    if (rc != OBK_OK) goto done;
    g->last_id = last_id;
    g->entries_read = entries_read;
    put_group_set(cg, g);
    cg->rec_hard = 1;
done:
    return mut_end(cg, implicit, rc, 0);
}

int cgs_group_set_dlq(struct cg_group *g, uint64_t max_deliveries, const void *key, size_t len) {
    uint8_t *k = NULL;
    if (key && !(k = name_dup(key, len))) return OBK_ERR_NOMEM;
    free(g->dlq_key);
    g->dlq_key = k;
    g->dlq_len = key ? len : 0;
    g->max_deliveries = max_deliveries;
    return OBK_OK;
}

int cgroup_group_set_dlq(struct cg_state *cg, struct cg_group *g, uint64_t max_deliveries,
                         const void *key, size_t len) {
    int implicit, rc = mut_begin(cg, sel_room(g, NULL) + OP_FIXED + (key ? len : 0), &implicit);
    if (rc != OBK_OK) goto done;
    if ((rc = cgs_group_set_dlq(g, max_deliveries, key, len)) != OBK_OK) goto done;
    sel(cg, g, NULL);
    put_u8(cg, CG_OP_GROUP_DLQ);
    put_uv(cg, g->max_deliveries);
    put_str(cg, g->dlq_key, g->dlq_len);
    cg->rec_hard = 1;
done:
    return mut_end(cg, implicit, rc, 0);
}

uint64_t cg_group_max_deliveries(const struct cg_group *g) {
    return g->max_deliveries;
}

const char *cg_group_dead_letter_key(const struct cg_group *g, size_t *len) {
    *len = g->dlq_len;
    return (const char *)g->dlq_key;
}

uint64_t cg_group_dead_lettered(const struct cg_group *g) {
    return g->dead_lettered;
}

void cg_group_count_dead_letter(struct cg_group *g) {
    g->dead_lettered++;
}

const char *cg_group_name(const struct cg_group *g, size_t *len) {
    *len = g->len;
    return (const char *)g->name;
}
sid_t cg_group_last_id(const struct cg_group *g) {
    return g->last_id;
}
int64_t cg_group_entries_read(const struct cg_group *g) {
    return g->entries_read;
}
uint64_t cg_group_pending_count(const struct cg_group *g) {
    return idmap_count(&g->pel);
}
size_t cg_group_consumer_count(const struct cg_group *g) {
    return g->ncons;
}

/* ---- consumers ---- */

struct cg_consumer *cg_consumer_find(struct cg_group *g, const void *name, size_t len) {
    size_t i = consumer_lower(g, name, len);
    if (i < g->ncons && name_cmp(g->cons[i]->name, g->cons[i]->len, name, len) == 0)
        return g->cons[i];
    return NULL;
}

int cgroup_consumer_get(struct cg_state *cg, struct cg_group *g, const void *name, size_t len,
                        int64_t now_ms, struct cg_consumer **out, int *created) {
    struct cg_consumer *c = cg_consumer_find(g, name, len);
    if (created) *created = 0;
    if (c) {
        *out = c;
        return OBK_OK;
    }
    int implicit, rc = mut_begin(cg, sel_room(g, NULL) + OP_FIXED + len, &implicit);
    if (rc != OBK_OK) goto done;
    if ((rc = cgs_consumer_add(g, name, len, &c)) != OBK_OK) goto done;
    c->seen_ms = now_ms;
    sel(cg, g, NULL);
    put_u8(cg, CG_OP_CONSUMER_SET);
    put_str(cg, c->name, c->len);
    put_sv(cg, now_ms);
    cg->sel_c = c;
    cg->rec_hard = 1;
    *out = c;
    if (created) *created = 1;
done:
    return mut_end(cg, implicit, rc, 0);
}

int cgroup_consumer_delete(struct cg_state *cg, struct cg_group *g, struct cg_consumer *c,
                           uint64_t *pending) {
    int implicit, rc = mut_begin(cg, sel_room(g, NULL) + OP_FIXED + c->len, &implicit);
    if (pending) *pending = 0;
    if (rc != OBK_OK) goto done;
    sel(cg, g, NULL);
    put_u8(cg, CG_OP_CONSUMER_DEL);
    put_str(cg, c->name, c->len);
    cg->rec_hard = 1;
    if (cg->sel_c == c) cg->sel_c = NULL;
    uint64_t n = cgs_consumer_remove(g, c);
    if (pending) *pending = n;
done:
    return mut_end(cg, implicit, rc, 0);
}

int cgroup_consumer_seen(struct cg_state *cg, struct cg_group *g, struct cg_consumer *c,
                         int64_t now_ms) {
    int implicit, rc = mut_begin(cg, sel_room(g, NULL) + OP_FIXED + c->len, &implicit);
    if (rc != OBK_OK) goto done;
    c->seen_ms = now_ms;
    sel(cg, g, NULL);
    put_u8(cg, CG_OP_CONSUMER_SET);
    put_str(cg, c->name, c->len);
    put_sv(cg, now_ms);
    cg->sel_c = c; /* a soft update: leaves rec_hard alone */
done:
    return mut_end(cg, implicit, rc, 0);
}

void cg_consumer_foreach(struct cg_group *g, int (*cb)(void *ctx, struct cg_consumer *c),
                         void *ctx) {
    for (size_t i = 0; i < g->ncons; i++)
        if (cb(ctx, g->cons[i])) break;
}

const char *cg_consumer_name(const struct cg_consumer *c, size_t *len) {
    *len = c->len;
    return (const char *)c->name;
}
int64_t cg_consumer_seen_ms(const struct cg_consumer *c) {
    return c->seen_ms;
}
uint64_t cg_consumer_pending_count(const struct cg_consumer *c) {
    return idmap_count(&c->pel);
}

/* ---- deliveries, acknowledgements, claims ---- */

int cgroup_deliver_new(struct cg_state *cg, struct cg_group *g, struct cg_consumer *c,
                       const sid_t *ids, size_t n, sid_t last_id, int64_t entries_read, int noack,
                       int64_t now_ms) {
    int changed = 0;
    int implicit, rc = mut_begin(cg, sel_room(g, c) + OP_FIXED + g->len + n * OP_FIXED, &implicit);
    if (rc != OBK_OK) goto done;
    changed = 1;
    g->last_id = last_id;
    g->entries_read = entries_read;
    put_group_set(cg, g);
    cg->rec_hard = 1;
    if (noack) goto done;
    sel(cg, g, c);
    for (size_t i = 0; i < n; i++) {
        if ((rc = cgs_pending_set(g, c, ids[i], now_ms, 1)) != OBK_OK) goto done;
        put_pending_set(cg, idmap_get(&g->pel, ids[i].ms, ids[i].seq));
    }
done:
    return mut_end(cg, implicit, rc, changed);
}

int cgroup_deliver_again(struct cg_state *cg, struct cg_group *g, const sid_t *ids, size_t n,
                         int64_t now_ms) {
    size_t room = sel_room(g, NULL);
    for (size_t i = 0; i < n; i++) {
        const struct cg_pending *p = idmap_get(&g->pel, ids[i].ms, ids[i].seq);
        if (p) room += 2 * OP_FIXED + (p->consumer ? p->consumer->len : 0);
    }
    int implicit, rc = mut_begin(cg, room, &implicit);
    if (rc != OBK_OK) goto done;
    for (size_t i = 0; i < n; i++) {
        struct cg_pending *p = idmap_get(&g->pel, ids[i].ms, ids[i].seq);
        if (!p || !p->consumer) continue; /* released (XNACK): no owner reads it again */
        p->delivery_ms = now_ms;
        p->delivery_count++;
        sel(cg, g, p->consumer);
        put_pending_set(cg, p);
        cg->rec_hard = 1;
    }
done:
    return mut_end(cg, implicit, rc, 0);
}

int cgroup_ack(struct cg_state *cg, struct cg_group *g, const sid_t *ids, size_t n,
               uint64_t *acked) {
    int implicit, rc = mut_begin(cg, sel_room(g, NULL) + n * OP_FIXED, &implicit);
    uint64_t k = 0;
    if (rc != OBK_OK) goto done;
    for (size_t i = 0; i < n; i++) {
        if (!cgs_pending_del(g, ids[i])) continue;
        sel(cg, g, NULL);
        put_u8(cg, CG_OP_PENDING_DEL);
        put_uv(cg, ids[i].ms);
        put_uv(cg, ids[i].seq);
        cg->rec_hard = 1;
        k++;
    }
done:
    if (acked) *acked = k;
    return mut_end(cg, implicit, rc, 0);
}

static void put_pending_nack(struct cg_state *cg, const struct cg_pending *p) {
    put_u8(cg, CG_OP_PENDING_NACK);
    put_uv(cg, p->id.ms);
    put_uv(cg, p->id.seq);
    put_sv(cg, p->delivery_ms);
    put_uv(cg, p->delivery_count);
}

int cgroup_nack(struct cg_state *cg, struct cg_group *g, sid_t id, uint64_t delivery_count) {
    int implicit, rc = mut_begin(cg, sel_room(g, NULL) + OP_FIXED, &implicit);
    if (rc != OBK_OK) goto done;
    if ((rc = cgs_pending_set(g, NULL, id, g->nack_seq + 1, delivery_count)) != OBK_OK) goto done;
    sel(cg, g, NULL);
    put_pending_nack(cg, idmap_get(&g->pel, id.ms, id.seq));
    cg->rec_hard = 1;
done:
    return mut_end(cg, implicit, rc, 0);
}

/* ---- idempotent producers ---- */

static void put_idmp_config(struct cg_state *cg) {
    put_u8(cg, CG_OP_IDMP_CONFIG);
    put_sv(cg, idmp_duration(cg->idmp));
    put_uv(cg, idmp_maxsize(cg->idmp));
}

/* The state, created with the given bounds when the stream has none yet (*created says so). */
static int idmp_state(struct cg_state *cg, int64_t duration_s, uint64_t maxsize, int *created) {
    *created = 0;
    if (cg->idmp) return OBK_OK;
    int rc = idmp_new(duration_s, maxsize, &cg->idmp);
    if (rc == OBK_OK) *created = 1;
    return rc;
}

int cgroup_idmp_add(struct cg_state *cg, const void *pid, size_t plen, const void *iid, size_t ilen,
                    sid_t id, int64_t duration_s, uint64_t maxsize) {
    int created = 0, implicit, rc = mut_begin(cg, 3 * OP_FIXED + plen + ilen, &implicit);
    if (rc != OBK_OK) goto done;
    if ((rc = idmp_state(cg, duration_s, maxsize, &created)) != OBK_OK) goto done;
    if ((rc = idmp_add(cg->idmp, pid, plen, iid, ilen, id)) != OBK_OK) goto done;
    if (created) put_idmp_config(cg);
    put_u8(cg, CG_OP_IDMP_ADD);
    put_str(cg, pid, plen);
    put_str(cg, iid, ilen);
    put_uv(cg, id.ms);
    put_uv(cg, id.seq);
    cg->rec_hard = 1;
done:
    return mut_end(cg, implicit, rc, created);
}

int cgroup_idmp_configure(struct cg_state *cg, int64_t duration_s, uint64_t maxsize) {
    int created = 0, implicit, rc = mut_begin(cg, OP_FIXED, &implicit);
    if (rc != OBK_OK) goto done;
    if ((rc = idmp_state(cg, duration_s, maxsize, &created)) != OBK_OK) goto done;
    if (created || idmp_configure(cg->idmp, duration_s, maxsize)) {
        put_idmp_config(cg);
        cg->rec_hard = 1;
    }
done:
    return mut_end(cg, implicit, rc, 0);
}

int cgroup_claim(struct cg_state *cg, struct cg_group *g, struct cg_consumer *c, sid_t id,
                 int64_t delivery_ms, uint64_t delivery_count) {
    int implicit, rc = mut_begin(cg, sel_room(g, c) + OP_FIXED, &implicit);
    if (rc != OBK_OK) goto done;
    if ((rc = cgs_pending_set(g, c, id, delivery_ms, delivery_count)) != OBK_OK) goto done;
    sel(cg, g, c);
    put_pending_set(cg, idmap_get(&g->pel, id.ms, id.seq));
    cg->rec_hard = 1;
done:
    return mut_end(cg, implicit, rc, 0);
}

const struct cg_pending *cg_pending_get(const struct cg_group *g, sid_t id) {
    return idmap_get(&g->pel, id.ms, id.seq);
}

void cg_pending_range(const struct cg_group *g, const struct cg_consumer *c, sid_t start, sid_t end,
                      int (*cb)(void *ctx, const struct cg_pending *p), void *ctx) {
    const struct idmap *m = c ? &c->pel : &g->pel;
    for (struct idmap_node *x = idmap_lower_bound(m, start.ms, start.seq); x; x = idmap_next(x)) {
        const struct cg_pending *p = x->value;
        if (sid_cmp(p->id, end) > 0) break;
        if (cb(ctx, p)) break;
    }
}

int cg_pending_bounds(const struct cg_group *g, sid_t *first, sid_t *last) {
    struct idmap_node *a = idmap_first(&g->pel), *b = idmap_last(&g->pel);
    if (!a) return 0;
    *first = (sid_t){a->ms, a->seq};
    *last = (sid_t){b->ms, b->seq};
    return 1;
}

/* ---- committed offsets ---- */

int cgroup_commit(struct cg_state *cg, struct cg_group *g, sid_t id) {
    int implicit, rc = mut_begin(cg, sel_room(g, NULL) + OP_FIXED, &implicit);
    if (rc != OBK_OK) goto done;
    g->has_commit = 1;
    g->committed = id;
    sel(cg, g, NULL);
    put_u8(cg, CG_OP_COMMIT_SET);
    put_uv(cg, id.ms);
    put_uv(cg, id.seq);
    cg->rec_hard = 1;
done:
    return mut_end(cg, implicit, rc, 0);
}

int cg_committed(const struct cg_group *g, sid_t *id) {
    if (!g->has_commit) return 0;
    *id = g->committed;
    return 1;
}
