/* topic.h - one stream key: appends, deletes, trims and XSETID over the ring cache and the
 * topic log, reads that merge disk and cache, and the hand-off of its filled batches to a
 * persist submission. Main thread only; no locks.
 *
 * Every mutation lands in the topic's filling batch (one batch per type run) and marks the
 * topic dirty; store_flush moves the batches of every dirty topic into one persist submission.
 * A reply that touched a topic waits for topic_wait_seq(t) to be durable. */
#ifndef OBK_TOPIC_H
#define OBK_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include "storage/batch_format.h"
#include "storage/entry.h"
#include "storage/keydir.h"
#include "storage/persist.h"
#include "storage/ring.h"
#include "storage/tlog.h"
#include "storage/tstate.h"

struct topic;
struct cg_state;

/* Shared by every topic of a store (owned by the store). */
struct topic_env {
    struct tlog_config tlog;
    struct ring_budget budget;
    uint64_t cache_hits, cache_misses;
    int64_t retention_bytes, retention_ms; /* defaults, -1 = off */
    uint32_t node_max_entries;             /* stream-node-max-entries (approximate trims) */
    size_t batch_max_bytes;                /* a filling batch is closed past this */
    int error;                             /* sticky: writes refused */
    uint64_t next_seq;                     /* the sequence the next submission will get */
    struct topic *dirty_head;              /* topics with unsubmitted changes */
    struct psub *pending;                  /* operations queued outside topics */
    uint64_t touch_seq; /* highest submission the state looked up or changed since the last
                           store_touch_begin depends on (the server's reply rule) */
};

/* Raises the touch mark to seq (see store_touch_begin). */
static inline void topic_env_touch(struct topic_env *env, uint64_t seq) {
    if (seq > env->touch_seq) env->touch_seq = seq;
}

struct topic {
    struct topic_env *env;
    int db;
    uint8_t *key;
    size_t keylen;
    char name[KEYDIR_NAME_MAX];
    int dbfd;  /* borrowed from the store */
    int dirfd; /* the topic directory */
    struct tlog log;
    struct tstate st;
    struct ring ring;
    struct batch_builder bb;
    int bb_open;
    uint8_t *pend; /* closed batches not yet submitted, back to back */
    size_t pend_len, pend_cap;
    uint64_t last_seq; /* submission holding its latest change */
    int dirty, meta_dirty;
    struct topic *dirty_next;
    int64_t created_ms, retention_bytes, retention_ms;
    uint64_t appended_since_ckpt;
    struct cg_state *cg; /* consumer groups (cgroup.h), NULL until the first one */
    uint64_t hash;       /* keyspace */
    struct topic *hnext;
};

/* Creates the in-memory topic (the directory must exist and dirfd be open). */
int topic_new(struct topic_env *env, int db, const void *key, size_t keylen, int dbfd, int dirfd,
              struct topic **out);
/* Frees memory; write handles are released through s (closing files) when given. */
void topic_free(struct topic *t, struct psub *s);

/* ---- writes (each returns OBK_ERR_STICKY after an I/O error) ---- */
/* Appends an entry with ID id (> topic_last_id, else OBK_ERR_RANGE). OBK_ERR_AGAIN when the
 * cache budget is full of unwritten entries: flush and retry later. */
int topic_append(struct topic *t, sid_t id, uint32_t nfields, const uint8_t *const *fv,
                 const size_t *fvlen);
/* XDEL: deletes the IDs that exist; *deleted says how many did. */
int topic_delete_ids(struct topic *t, const sid_t *ids, size_t n, uint64_t *deleted);

enum topic_trim_strategy { TOPIC_TRIM_MAXLEN = 1, TOPIC_TRIM_MINID = 2 };
struct topic_trim {
    int strategy;
    uint64_t maxlen;
    sid_t minid;
    int approx;     /* '~': whole nodes of node_max_entries entries only */
    uint64_t limit; /* approx only: at most this many entries (0 = no limit) */
};
int topic_trim(struct topic *t, const struct topic_trim *tr, uint64_t *removed);
/* XSETID: last ID (not below the last live entry: OBK_ERR_RANGE), optionally entries_added
 * and max_deleted_entry_id. */
int topic_setid(struct topic *t, sid_t last_id, int set_added, uint64_t entries_added,
                int set_max_deleted, sid_t max_deleted);
/* Per-topic retention override (RETENTION_DEFAULT, RETENTION_NONE or a value). */
int topic_set_retention(struct topic *t, int64_t bytes, int64_t ms);

/* ---- reads ---- */
/* Entries with start <= id <= end (inclusive; use sid_incr/sid_decr for exclusive bounds),
 * oldest first or (rev) newest first, at most count (0 = all). cb sees each entry; returning
 * nonzero stops. Served from the ring when it covers the range, else from the log. */
int topic_range(struct topic *t, sid_t start, sid_t end, uint64_t count, int rev, obk_entry_cb cb,
                void *ctx);
/* The live entry with exactly this ID: OBK_OK, or OBK_ERR_NOTFOUND. */
int topic_get(struct topic *t, sid_t id, obk_entry_cb cb, void *ctx);
/* First / last live entry IDs (OBK_ERR_NOTFOUND when empty). */
int topic_first_id(struct topic *t, sid_t *id);
int topic_last_entry_id(struct topic *t, sid_t *id);

/* Raw lookups that ignore tombstones and the log start: the offset of exactly this ID
 * (OBK_ERR_NOTFOUND), the ID at an offset, the first offset whose ID is >= id (the end offset
 * when none). */
int topic_find_offset(struct topic *t, sid_t id, uint64_t *offset);
int topic_id_at(struct topic *t, uint64_t offset, sid_t *id);
int topic_lower_bound_offset(struct topic *t, sid_t id, uint64_t *offset);
/* Live entries (not deleted, not trimmed) with ID > id, from the dense offsets minus the
 * tombstones in range: O(log n) plus a binary search of the tombstones (exact lag). */
int topic_count_after(struct topic *t, sid_t id, uint64_t *n);

static inline uint64_t topic_length(const struct topic *t) {
    return tstate_length(&t->st);
}
static inline sid_t topic_last_id(const struct topic *t) {
    return t->st.last_id;
}
static inline uint64_t topic_entries_added(const struct topic *t) {
    return t->st.entries_added;
}
static inline sid_t topic_max_deleted(const struct topic *t) {
    return t->st.max_deleted;
}
/* Dense offset of the first entry still in the log, and one past the last. */
static inline uint64_t topic_start_offset(const struct topic *t) {
    return t->st.start_offset;
}
static inline uint64_t topic_end_offset(const struct topic *t) {
    return t->st.end_offset;
}
/* The submission a reply touching this topic must see durable. */
static inline uint64_t topic_wait_seq(const struct topic *t) {
    return t->dirty ? t->env->next_seq : t->last_seq;
}

/* ---- persistence (store.c) ---- */
void topic_mark_dirty(struct topic *t);
/* Closes the filling batch and adds the topic's writes (meta, batches, index, roll, checkpoint)
 * to s. */
int topic_flush_into(struct topic *t, struct psub *s, int64_t now_ms);
/* After submission seq: remember it and release the ring entries for eviction once written. */
void topic_submitted(struct topic *t, uint64_t seq);
/* Adds a checkpoint of the current state to s (after syncing the active segment). */
int topic_checkpoint_into(struct topic *t, struct psub *s);

#endif
