/* topic_groups.c - a topic's consumer groups: the cg_* calls of topic.h, which hand the
 * topic's group state (cgroup_state.h) to the cgroup module and its files to cgstore.
 *
 * The topic gives the groups what they cannot know themselves: the store's sticky error (bound
 * when the state is created or loaded), the dirty mark (a closed record joins the topic's next
 * submission, after its data batches, so topic_wait_seq covers it), the topic directory and
 * the recovered stream's last ID and entries_added for the clamp at open. The state is created
 * with the first record or group and stays NULL for a topic that never had one. Owned by the
 * thread that holds the store (docs/storage.md, Threads). */
#include "storage/topic.h"
#include "topic_impl.h"

#include <stdlib.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/obk_assert.h"
#include "base/status.h"
#include "storage/cgroup.h"
#include "storage/cgroup_state.h"
#include "storage/cgstore.h"
#include "storage/idmp.h"

/* The topic's group state, created when missing; NULL when memory ran out. */
static struct cg_state *groups_state(struct topic *t) {
    if (!t->cg && cgs_new(&t->cg) == OBK_OK) cgs_set_sticky(t->cg, &t->env->error);
    return t->cg;
}

/* The state of a topic that has group g (a group exists only inside its topic's state). */
static struct cg_state *groups_of(struct topic *t, const struct cg_group *g) {
    OBK_ASSERT(t->cg != NULL && g != NULL);
    return t->cg;
}

/* After a mutation: a record closed during it joins the topic's next submission. */
static int groups_done(struct topic *t, int rc) {
    if (t->cg && cgroup_record_ready(t->cg)) topic_mark_dirty(t);
    return rc;
}

/* ---- records ---- */

void cg_record_begin(struct topic *t) {
    struct cg_state *cg = groups_state(t);
    if (cg) cgroup_record_begin(cg); /* else cg_record_end reports the lack of memory */
}

int cg_record_end(struct topic *t) {
    if (!t->cg) return OBK_ERR_NOMEM;
    return groups_done(t, cgroup_record_end(t->cg));
}

int topic_import_group_records(struct topic *t, const uint8_t *recs, size_t len) {
    if (t->env->error) return OBK_ERR_STICKY;
    struct cg_state *cg = groups_state(t);
    if (!cg) return OBK_ERR_NOMEM;
    /* every record is checked before any is applied: a bad one changes nothing */
    for (size_t pos = 0; pos < len;) {
        if (len - pos < CG_RECORD_HEADER) return OBK_ERR_CORRUPT;
        uint32_t rlen = codec_get_u32(recs + pos);
        if (rlen < 4 || rlen > CG_RECORD_MAX || rlen > len - pos - 4) return OBK_ERR_CORRUPT;
        const uint8_t *ops = recs + pos + CG_RECORD_HEADER;
        if (codec_get_u32(recs + pos + 4) != crc32c(0, ops, rlen - 4) ||
            cgs_apply(cg, ops, rlen - 4, 1) != OBK_OK)
            return OBK_ERR_CORRUPT;
        pos += 4 + (size_t)rlen;
    }
    for (size_t pos = 0; pos < len;) {
        uint32_t rlen = codec_get_u32(recs + pos);
        int rc = cgs_apply(cg, recs + pos + CG_RECORD_HEADER, rlen - 4, 0);
        if (rc != OBK_OK) {
            /* applied part way: memory and the records would disagree */
            if (t->env->error == OBK_OK) t->env->error = rc;
            return rc;
        }
        pos += 4 + (size_t)rlen;
    }
    return groups_done(t, cgroup_records_queue(cg, recs, len));
}

/* ---- groups ---- */

struct cg_group *cg_group_find(struct topic *t, const void *name, size_t len) {
    return cgs_group_find(t->cg, name, len);
}

size_t cg_group_count(const struct topic *t) {
    return cgroup_group_count(t->cg);
}

void cg_group_foreach(struct topic *t, int (*cb)(void *ctx, struct cg_group *g), void *ctx) {
    cgroup_group_foreach(t->cg, cb, ctx);
}

int cg_group_create(struct topic *t, const void *name, size_t len, sid_t last_id,
                    int64_t entries_read, struct cg_group **out) {
    if (!t->cg && t->env->error) return OBK_ERR_STICKY;
    struct cg_state *cg = groups_state(t);
    if (!cg) return OBK_ERR_NOMEM;
    return groups_done(t, cgroup_group_create(cg, name, len, last_id, entries_read, out));
}

int cg_group_destroy(struct topic *t, struct cg_group *g) {
    return groups_done(t, cgroup_group_destroy(groups_of(t, g), g));
}

int cg_group_setid(struct topic *t, struct cg_group *g, sid_t last_id, int64_t entries_read) {
    return groups_done(t, cgroup_group_setid(groups_of(t, g), g, last_id, entries_read));
}

int cg_group_set_dlq(struct topic *t, struct cg_group *g, uint64_t max_deliveries, const void *key,
                     size_t len) {
    return groups_done(t, cgroup_group_set_dlq(groups_of(t, g), g, max_deliveries, key, len));
}

/* ---- consumers ---- */

int cg_consumer_get(struct topic *t, struct cg_group *g, const void *name, size_t len,
                    int64_t now_ms, struct cg_consumer **out, int *created) {
    return groups_done(t, cgroup_consumer_get(groups_of(t, g), g, name, len, now_ms, out, created));
}

int cg_consumer_delete(struct topic *t, struct cg_group *g, struct cg_consumer *c,
                       uint64_t *pending) {
    return groups_done(t, cgroup_consumer_delete(groups_of(t, g), g, c, pending));
}

int cg_consumer_seen(struct topic *t, struct cg_group *g, struct cg_consumer *c, int64_t now_ms) {
    return groups_done(t, cgroup_consumer_seen(groups_of(t, g), g, c, now_ms));
}

/* ---- deliveries, acknowledgements, claims, commits ---- */

int cg_deliver_new(struct topic *t, struct cg_group *g, struct cg_consumer *c, const sid_t *ids,
                   size_t n, sid_t last_id, int64_t entries_read, int noack, int64_t now_ms) {
    return groups_done(
        t, cgroup_deliver_new(groups_of(t, g), g, c, ids, n, last_id, entries_read, noack, now_ms));
}

int cg_deliver_again(struct topic *t, struct cg_group *g, const sid_t *ids, size_t n,
                     int64_t now_ms) {
    return groups_done(t, cgroup_deliver_again(groups_of(t, g), g, ids, n, now_ms));
}

int cg_ack(struct topic *t, struct cg_group *g, const sid_t *ids, size_t n, uint64_t *acked) {
    return groups_done(t, cgroup_ack(groups_of(t, g), g, ids, n, acked));
}

int cg_claim(struct topic *t, struct cg_group *g, struct cg_consumer *c, sid_t id,
             int64_t delivery_ms, uint64_t delivery_count) {
    return groups_done(t, cgroup_claim(groups_of(t, g), g, c, id, delivery_ms, delivery_count));
}

int cg_nack(struct topic *t, struct cg_group *g, sid_t id, uint64_t delivery_count) {
    return groups_done(t, cgroup_nack(groups_of(t, g), g, id, delivery_count));
}

int cg_pending_drop(struct topic *t, struct cg_group *g, sid_t id) {
    uint64_t acked;
    return cg_ack(t, g, &id, 1, &acked);
}

int cg_commit(struct topic *t, struct cg_group *g, sid_t id) {
    return groups_done(t, cgroup_commit(groups_of(t, g), g, id));
}

/* ---- open and close ---- */

int topic_open_groups(struct topic *t, int repair, struct cgstore_report *rep) {
    struct cg_state *cg;
    struct cgstore_log log;
    int rc = cgstore_open(t->dirfd, t->st.last_id, t->st.entries_added, repair, &cg, &log, rep);
    if (rc != OBK_OK || !cg) return rc;
    cgstore_log_release(&t->cglog, NULL);
    cgs_free(t->cg);
    cgs_set_sticky(cg, &t->env->error);
    t->cg = cg;
    t->cglog = log;
    topic_set_incarnation(t, t->incarnation); /* the loaded log gets the topic's names */
    return OBK_OK;
}

int topic_compact_groups_into(struct topic *t, struct psub *s) {
    if (!t->cg || t->cglog.size <= CG_LOG_HEADER) return OBK_OK;
    return cgstore_compact_into(t->cg, &t->cglog, t->dirfd, s);
}

/* A skip-list node of base/idmap with the mean number of level pointers (two, at p = 1/2). */
#define IDMAP_NODE_BYTES (sizeof(struct idmap_node) + 2 * sizeof(struct idmap_node *))

uint64_t topic_groups_memory_bytes(const struct topic *t) {
    const struct cg_state *cs = t->cg;
    if (!cs) return 0;
    uint64_t n = sizeof(*cs) + cs->cap + cs->gcap * sizeof(*cs->groups);
    for (size_t i = 0; i < cs->ngroups; i++) {
        const struct cg_group *g = cs->groups[i];
        n += sizeof(*g) + g->len + g->ccap * sizeof(*g->cons);
        /* each pending entry: its record and a node in the group's and its consumer's maps */
        n += g->pel.count * (sizeof(struct cg_pending) + 2 * IDMAP_NODE_BYTES);
        for (size_t j = 0; j < g->ncons; j++) n += sizeof(*g->cons[j]) + g->cons[j]->len;
    }
    if (cs->idmp) n += idmp_memory(cs->idmp);
    return n;
}

/* ---- idempotent producers ---- */

int topic_idmp_find(const struct topic *t, const void *pid, size_t plen, const void *iid,
                    size_t ilen, int64_t now_ms, sid_t *out) {
    return t->cg && t->cg->idmp && idmp_find(t->cg->idmp, pid, plen, iid, ilen, now_ms, out);
}

void topic_idmp_count_duplicate(struct topic *t) {
    if (t->cg && t->cg->idmp) idmp_count_duplicate(t->cg->idmp);
}

int topic_idmp_add(struct topic *t, const void *pid, size_t plen, const void *iid, size_t ilen,
                   sid_t id, int64_t duration_s, uint64_t maxsize) {
    struct cg_state *cg = groups_state(t);
    if (!cg) return OBK_ERR_NOMEM;
    return groups_done(t, cgroup_idmp_add(cg, pid, plen, iid, ilen, id, duration_s, maxsize));
}

int topic_idmp_configure(struct topic *t, int64_t duration_s, uint64_t maxsize) {
    struct cg_state *cg = groups_state(t);
    if (!cg) return OBK_ERR_NOMEM;
    return groups_done(t, cgroup_idmp_configure(cg, duration_s, maxsize));
}

int topic_idmp_stats(const struct topic *t, int64_t *duration_s, uint64_t *maxsize,
                     struct idmp_stats *st) {
    if (!t->cg || !t->cg->idmp) return 0;
    *duration_s = idmp_duration(t->cg->idmp);
    *maxsize = idmp_maxsize(t->cg->idmp);
    idmp_get_stats(t->cg->idmp, st);
    return 1;
}
