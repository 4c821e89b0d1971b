/* topic_settle.c - what a topic was after each submission not yet known durable, and the roll
 * back to the durable one after a sticky I/O error (see docs/storage.md, "After an I/O error").
 *
 * Design: when a submission takes a topic's changes (topic_submitted), the topic's state as that
 * submission leaves it is kept as a mark: the stream's counters, its tombstones, its retention
 * override and the size and generation of groups.log. Marks older than the newest one known
 * durable are dropped as submissions complete, so a topic holds one mark plus one per
 * submission still in flight (a topic opened from disk starts with a mark of what it recovered,
 * submission 0). A mark does not copy the tombstones: it notes that they are the topic's
 * current ones, and only when they are about to change (an XDEL, a trim, retention:
 * topic_tombs_changing) the marks that still point at the current ones get one shared copy. So
 * a submission costs a few words per topic, and a copy exists only while a submission that
 * changed the tombstones is in flight.
 *
 * After the error, topic_settle puts the topic back to its newest mark at or below the durable
 * submission: the counters and tombstones (the log start never goes below the first segment
 * still held: retention's deletions stand), the ring entries past the durable end dropped, the
 * unsubmitted batches forgotten and, when groups.log changed since, the consumer groups read
 * back from their files up to the durable size. Reads then show exactly the durable data and no
 * longer wait for a submission that failed. The segments keep the bytes placed for the failed
 * submissions; every read stops at the stream's end offset, so they are never read. Nothing is
 * written afterwards: the store refuses writes once the error is sticky.
 *
 * Owned by the thread that holds the store (the main thread once it is open). */
#include "storage/topic.h"
#include "topic_impl.h"

#include <stdlib.h>
#include <string.h>

#include "base/obk_assert.h"
#include "base/status.h"
#include "storage/cgroup_state.h"
#include "storage/cgstore.h"

/* A copy of a topic's tombstones, shared by the marks that saw the same ones. */
struct topic_tombs {
    size_t refs, n;
    struct tomb t[];
};

/* The topic as submission seq left it. */
struct topic_mark {
    uint64_t seq;
    uint64_t start_offset, end_offset, entries_added;
    sid_t last_id, max_deleted;
    sid_t epoch_max, last_ceiling; /* epochs only grow, or lower the last one's ceiling */
    size_t nep;
    int tombs_current;         /* its tombstones are the topic's current ones */
    struct topic_tombs *tombs; /* else a copy (NULL when there were none) */
    int64_t retention_bytes, retention_ms;
    uint64_t cg_gen, cg_size; /* groups.log after it: generation, bytes (0: no group file) */
};

static void tombs_release(struct topic_tombs *tt) {
    if (tt && --tt->refs == 0) free(tt);
}

void topic_marks_free(struct topic *t) {
    for (size_t i = 0; i < t->nmarks; i++) tombs_release(t->marks[i].tombs);
    free(t->marks);
    t->marks = NULL;
    t->nmarks = t->marks_cap = 0;
}

/* Drops the marks older than the newest one at or below durable: never needed again. */
static void prune(struct topic *t, uint64_t durable) {
    size_t keep = 0;
    while (keep + 1 < t->nmarks && t->marks[keep + 1].seq <= durable) keep++;
    if (keep == 0) return;
    for (size_t i = 0; i < keep; i++) tombs_release(t->marks[i].tombs);
    memmove(t->marks, t->marks + keep, (t->nmarks - keep) * sizeof *t->marks);
    t->nmarks -= keep;
}

/* Out of memory: this topic can no longer be rolled back; after an error it stays failed. */
static void lose_marks(struct topic *t) {
    topic_marks_free(t);
    t->marks_lost = 1;
}

void topic_keep_state(struct topic *t, uint64_t seq) {
    if (t->marks_lost) return;
    prune(t, t->env->durable_seq);
    OBK_ASSERT(t->nmarks == 0 || t->marks[t->nmarks - 1].seq < seq); /* submissions ascend */
    if (t->nmarks == t->marks_cap) {
        size_t cap = t->marks_cap ? 2 * t->marks_cap : 2;
        struct topic_mark *nm = realloc(t->marks, cap * sizeof *nm);
        if (!nm) {
            lose_marks(t);
            return;
        }
        t->marks = nm;
        t->marks_cap = cap;
    }
    t->marks[t->nmarks++] = (struct topic_mark){
        seq,
        t->st.start_offset,
        t->st.end_offset,
        t->st.entries_added,
        t->st.last_id,
        t->st.max_deleted,
        t->st.epoch_max,
        t->st.nep ? t->st.ep[t->st.nep - 1].ceiling : SID_MAX,
        t->st.nep,
        1,
        NULL,
        t->retention_bytes,
        t->retention_ms,
        t->cglog.gen,
        t->cglog.exists ? t->cglog.size : 0,
    };
}

void topic_tombs_changing(struct topic *t) {
    const struct tstate *st = &t->st;
    struct topic_tombs *tt = NULL;
    size_t users = 0;
    for (size_t i = 0; i < t->nmarks; i++) users += t->marks[i].tombs_current;
    if (!users) return;
    if (st->ntomb) {
        if (!(tt = malloc(sizeof *tt + st->ntomb * sizeof(struct tomb)))) {
            lose_marks(t);
            return;
        }
        tt->refs = users;
        tt->n = st->ntomb;
        memcpy(tt->t, st->tomb, st->ntomb * sizeof(struct tomb));
    }
    for (size_t i = 0; i < t->nmarks; i++)
        if (t->marks[i].tombs_current) {
            t->marks[i].tombs_current = 0;
            t->marks[i].tombs = tt;
        }
}

/* The groups as the mark left them, when they changed since: read back from groups.snap and
 * groups.log up to the mark's size (*changed 0 and *out untouched when they did not). */
static int groups_at(struct topic *t, const struct topic_mark *m, int *changed,
                     struct cg_state **out) {
    *changed = t->cg && (t->cglog.gen != m->cg_gen ||
                         (t->cglog.exists ? t->cglog.size : 0) != m->cg_size || t->cg->len > 0 ||
                         t->env->error == OBK_ERR_NOMEM); /* a mutation may have stopped half way */
    if (!*changed) return OBK_OK;
    return cgstore_load_at(t->dirfd, m->cg_gen, m->cg_size, out);
}

int topic_settle(struct topic *t, uint64_t durable) {
    int rc = TOPIC_SETTLE_KEPT, changed;
    struct tomb *tombs = NULL;
    struct cg_state *cg = NULL;
    struct tstate *st = &t->st;
    if (!t->dirty && t->last_seq <= durable) goto done; /* every change of it is durable */
    const struct topic_mark *m = NULL;
    for (size_t i = 0; i < t->nmarks && t->marks[i].seq <= durable; i++) m = &t->marks[i];
    if (!m) {
        /* created after the last durable submission, or its marks were lost */
        rc = t->marks_lost ? OBK_ERR_NOMEM : TOPIC_SETTLE_NEVER_DURABLE;
        goto done;
    }
    size_t ntomb = m->tombs ? m->tombs->n : 0;
    if (!m->tombs_current && ntomb && !(tombs = malloc(ntomb * sizeof *tombs))) {
        rc = OBK_ERR_NOMEM;
        goto done;
    }
    if ((rc = groups_at(t, m, &changed, &cg)) != OBK_OK) goto done;
    /* nothing fails from here on */
    if (!m->tombs_current) {
        if (ntomb) memcpy(tombs, m->tombs->t, ntomb * sizeof *tombs);
        free(st->tomb);
        st->tomb = tombs;
        st->ntomb = st->tcap = ntomb;
        tombs = NULL;
    }
    st->start_offset = m->start_offset;
    st->end_offset = m->end_offset;
    st->entries_added = m->entries_added;
    st->last_id = m->last_id;
    st->max_deleted = m->max_deleted;
    st->epoch_max = m->epoch_max;
    st->nep = m->nep;
    if (st->nep) st->ep[st->nep - 1].ceiling = m->last_ceiling;
    /* segments retention deleted since are gone: the log starts at the first one left */
    if (t->log.nsegs) tstate_set_start(st, t->log.segs[0]->base_offset);
    ring_drop_from(&t->ring, m->end_offset);
    t->retention_bytes = m->retention_bytes;
    t->retention_ms = m->retention_ms;
    if (changed) {
        if (cg) cgs_set_sticky(cg, &t->env->error);
        cgs_free(t->cg);
        t->cg = cg;
        cg = NULL;
    }
    t->bb_open = 0;
    t->pend_len = 0;
    t->meta_dirty = 0;
    t->dirty = 0;
    t->last_seq = m->seq;
    rc = TOPIC_SETTLE_ROLLED;
done:
    topic_marks_free(t); /* no submission follows a sticky error */
    free(tombs);
    cgs_free(cg);
    return rc;
}
