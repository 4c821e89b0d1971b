/* topic_impl.h - the inside of a topic, private to the storage library: struct topic, the
 * store-wide struct topic_env, and the calls the store makes to create, free and submit
 * topics. The server sees struct topic only through the functions of storage/topic.h.
 *
 * Included by the topic modules (topic.c, topic_read.c, topic_groups.c), by keyspace.c (the
 * hash chain lives in the topic) and by store.c (creation, the dirty list, retention, stats);
 * storage's white-box unit tests include it too. No header under include/ includes it.
 *
 * Ownership: the thread that holds the store, which is the loader thread inside store_open and
 * the main thread after it (see docs/storage.md, Threads); no locks. */
#ifndef OBK_TOPIC_IMPL_H
#define OBK_TOPIC_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "storage/batch_format.h"
#include "storage/cgstore.h"
#include "storage/keydir.h"
#include "storage/persist.h"
#include "storage/replog.h"
#include "storage/ring.h"
#include "storage/tlog.h"
#include "storage/tstate.h"

struct topic_mark;

/* Shared by every topic of a store (owned by the store). */
struct topic_env {
    struct tlog_config tlog;
    struct ring_budget budget;
    uint64_t cache_hits, cache_misses;
    int64_t retention_bytes, retention_ms; /* defaults, -1 = off */
    uint32_t node_max_entries;             /* stream-node-max-entries (approximate trims) */
    size_t batch_max_bytes;                /* a filling batch is closed past this */
    int compression, compression_level;    /* the store's: zstd or not, and the level */
    struct batch_compressor zc;            /* compresses them as they are placed */
    int error;                             /* sticky: writes refused */
    int filing_wanted;    /* the cache is full of entries not in their files: ask for a filing */
    uint64_t next_seq;    /* the sequence the next submission will get */
    uint64_t durable_seq; /* the highest submission known durable */
    struct topic *dirty_head; /* topics with unsubmitted changes */
    struct psub *pending;     /* operations queued outside topics */
    uint64_t touch_seq;       /* highest submission the state looked up or changed since the last
                                 store_touch_begin depends on (the server's reply rule) */
    struct fdlru rfds;        /* every topic's segment read descriptors (the store sets the cap) */
    replog_sink repl_sink;    /* where each flushed change goes as a replication record (or NULL) */
    void *repl_ctx;
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
    int64_t expire_at_ms;      /* 0: the key does not expire */
    uint8_t compression;       /* TOPIC_COMPRESSION_*: the override of the store's setting */
    uint8_t compression_level; /* 0: the store's level */
    uint64_t incarnation;      /* topic.meta: names the topic in the write-ahead log */
    uint64_t appended_since_ckpt;
    struct cg_state *cg;      /* consumer groups (cgroup_state.h), NULL until the first one */
    struct cgstore_log cglog; /* groups.log / groups.snap as far as written or queued */
    uint64_t hash;            /* keyspace */
    struct topic *hnext;
    struct topic_mark *marks; /* its state after each submission not known durable (settle) */
    size_t nmarks, marks_cap;
    int marks_lost; /* a mark could not be kept (out of memory): no roll back */
};

/* Creates the in-memory topic (the directory must exist and dirfd be open). */
int topic_new(struct topic_env *env, int db, const void *key, size_t keylen, int dbfd, int dirfd,
              struct topic **out);
/* Sets the incarnation id (a new topic gets a random one) and names the topic's files in the
 * write-ahead log with it. */
void topic_set_incarnation(struct topic *t, uint64_t incarnation);
/* Frees memory; write handles are released through s (closing files) when given. */
void topic_free(struct topic *t, struct psub *s);

/* ---- persistence (store.c) ---- */
void topic_mark_dirty(struct topic *t);
/* Closes the filling batch and adds the topic's writes (meta, batches, index, roll, checkpoint,
 * group records) to s. */
int topic_flush_into(struct topic *t, struct psub *s, int64_t now_ms);
/* Hands a replication record of type about t to the store's sink (nothing without one). */
int topic_emit(struct topic *t, uint8_t type, const void *body, size_t len);
/* After submission seq: remember it and release the ring entries for eviction once written. */
void topic_submitted(struct topic *t, uint64_t seq);
/* Adds a checkpoint of the current state to s (after syncing the active segment). */
int topic_checkpoint_into(struct topic *t, struct psub *s);

/* ---- consumer groups at open and close (topic_groups.c) ---- */
/* Open time, after the stream's recovery: loads the topic's groups (cgstore_open) clamped to
 * the recovered stream and attaches them. */
int topic_open_groups(struct topic *t, int repair, struct cgstore_report *rep);
/* Heap bytes of the topic's consumer groups: groups, consumers, pending entries (counted with
 * the nodes of both maps that hold them) and records not yet submitted. */
uint64_t topic_groups_memory_bytes(const struct topic *t);
/* Adds a compaction of the groups to s when groups.log holds records, so a clean open reads
 * only the snapshot (store_close). */
int topic_compact_groups_into(struct topic *t, struct psub *s);

/* ---- after a sticky I/O error (topic_settle.c) ---- */
/* Keeps the topic's state as submission seq leaves it (topic_submitted; store_open with seq 0
 * for what it recovered), dropping marks older than the newest one env->durable_seq covers. */
void topic_keep_state(struct topic *t, uint64_t seq);
/* Called before the tombstones change (XDEL, trim, retention moving the start): the marks
 * that saw the current ones get a copy. */
void topic_tombs_changing(struct topic *t);
void topic_marks_free(struct topic *t);
enum { TOPIC_SETTLE_KEPT = 0, TOPIC_SETTLE_ROLLED = 1, TOPIC_SETTLE_NEVER_DURABLE = 2 };
/* Puts t back to its state after the last submission at or below durable: KEPT when every
 * change was durable, ROLLED, NEVER_DURABLE when it was created after that submission (the
 * store drops it), or a status when it cannot (t unchanged: its reads must keep failing). */
int topic_settle(struct topic *t, uint64_t durable);

#endif
