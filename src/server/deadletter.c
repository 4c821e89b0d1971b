/* deadletter.c - dead-letter streams (see deadletter.h).
 *
 * Design: the policy lives with the group in storage (GROUP_DLQ in groups.log, replicated with
 * the group records); this module applies it at the moment of a delivery, so every delivery path
 * (XREADGROUP history and CLAIM, XCLAIM, XAUTOCLAIM) asks one function. A divert is an
 * ordinary append to the dead-letter topic (a new ID, as XADD * would give) plus an XACK-like
 * removal from the group's PEL inside the caller's open group record. store_write_before puts
 * the dead-letter topic's batch ahead of the source's group record in the submission, so the
 * write order (and the write-ahead log's record order, and the replication stream's) never has
 * the acknowledgement without the dead letter: a crash part way through a round can at worst
 * repeat a dead letter (the entry is delivered again, over the limit, and diverted again), never
 * lose one. The reply of the command waits for both, like any write. Main thread only. */
#include "server/deadletter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/db.h"
#include "server/expire.h"
#include "server/stats.h"
#include "storage/cgroup.h"
#include "storage/entry.h"
#include "storage/store.h"
#include "storage/topic.h"

int deadletter_due(const struct cg_group *g, uint64_t deliveries) {
    uint64_t max = cg_group_max_deliveries(g);
    return max != 0 && deliveries > max;
}

struct letter {
    struct topic *src, *dst;
    const struct cg_group *g;
    sid_t id;
    uint64_t delivered; /* times the entry was delivered so far */
    int rc;
};

/* Appends the entry with the origin fields to the dead-letter topic (inside topic_get: the
 * entry's bytes are valid only here). */
static int append_letter(void *ctx, const struct obk_entry *e) {
    struct letter *l = ctx;
    uint32_t n = e->nfields * 2 + 8;
    const uint8_t **fv = malloc(n * sizeof(*fv));
    size_t *fl = malloc(n * sizeof(*fl));
    char idbuf[SID_STRLEN], countbuf[24];
    size_t klen, glen;
    const uint8_t *key = topic_key(l->src, &klen);
    const char *group = cg_group_name(l->g, &glen);
    sid_t nid;
    l->rc = OBK_ERR_NOMEM;
    if (!fv || !fl) goto done;
    for (uint32_t i = 0; i < e->nfields * 2; i++) {
        fv[i] = e->fv[i];
        fl[i] = e->fvlen[i];
    }
    const char *names[4] = {DEADLETTER_FIELD_KEY, DEADLETTER_FIELD_GROUP, DEADLETTER_FIELD_ID,
                            DEADLETTER_FIELD_COUNT};
    const void *values[4] = {key, group, idbuf, countbuf};
    size_t vlens[4] = {
        klen, glen, (size_t)sid_format(l->id, idbuf),
        (size_t)snprintf(countbuf, sizeof countbuf, "%llu", (unsigned long long)l->delivered)};
    for (int k = 0; k < 4; k++) {
        uint32_t at = e->nfields * 2 + 2 * (uint32_t)k;
        fv[at] = (const uint8_t *)names[k];
        fl[at] = strlen(names[k]);
        fv[at + 1] = values[k];
        fl[at + 1] = vlens[k];
    }
    if ((l->rc = sid_next_auto(topic_last_id(l->dst), (uint64_t)util_mstime(), &nid)) != OBK_OK)
        goto done;
    l->rc = topic_append(l->dst, nid, n / 2, fv, fl);
done:
    free(fv);
    free(fl);
    return 1;
}

/* Writes the dead letter of id into the group's dead-letter stream. Returns a status
 * (OBK_ERR_NOTFOUND: the entry is gone from the stream). */
static int write_letter(int db, struct topic *t, struct cg_group *g, sid_t id, uint64_t delivered) {
    size_t dlen;
    const char *dkey = cg_group_dead_letter_key(g, &dlen);
    struct store *s = db_store();
    struct topic *d = expire_lookup(db, dkey, dlen);
    int rc;
    if (d == t) return OBK_ERR_INVAL; /* renamed onto its own source since: not a target */
    struct letter l = {t, d, g, id, delivered, OBK_OK};
    rc = topic_contains(t, id); /* before creating the target */
    if (rc != OBK_OK) return rc;
    if (!d && (rc = store_create(s, db, dkey, dlen, &d)) != OBK_OK) return rc;
    l.dst = d;
    if ((rc = topic_get(t, id, append_letter, &l)) == OBK_OK) rc = l.rc;
    if (rc != OBK_OK) return rc;
    store_write_before(s, d, t);
    blocking_signal_key(db, dkey, dlen);
    server_stats.entries_appended++;
    return OBK_OK;
}

int deadletter_divert(int db, struct topic *t, struct cg_group *g, sid_t id, uint64_t deliveries) {
    if (!deadletter_due(g, deliveries)) return 0;
    size_t dlen;
    int rc = OBK_OK;
    if (cg_group_dead_letter_key(g, &dlen))
        rc = write_letter(db, t, g, id, deliveries - 1);
    else
        rc = topic_contains(t, id);
    if (rc == OBK_ERR_NOTFOUND) return 0; /* deleted from the stream: the caller's business */
    uint64_t acked;
    if (rc == OBK_OK) rc = cg_ack(t, g, &id, 1, &acked);
    if (rc != OBK_OK) {
        size_t gl;
        const char *gn = cg_group_name(g, &gl);
        log_msg(LOG_WARNING, "dead letter of %llu-%llu for group '%.*s' not written: %s",
                (unsigned long long)id.ms, (unsigned long long)id.seq, (int)gl, gn,
                obk_strerror(rc));
        return 0;
    }
    cg_group_count_dead_letter(g);
    return 1;
}
