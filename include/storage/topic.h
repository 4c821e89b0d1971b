/* topic.h - one stream key: appends, deletes, trims and XSETID over the ring cache and the
 * topic log, reads that merge disk and cache, its consumer groups, and what the server reads
 * about it. struct topic is private to the storage library (src/storage/topic_impl.h): the
 * server holds pointers it gets from store.h and uses the calls below. Owned by the thread
 * that holds the store, the main thread once the store is open (docs/storage.md, Threads);
 * no locks.
 *
 * Every mutation lands in the topic's filling batch (one batch per type run) and marks the
 * topic dirty; store_flush moves the batches of every dirty topic into one persist submission.
 * A reply that touched a topic waits for topic_wait_seq(t) to be durable. */
#ifndef OBK_TOPIC_H
#define OBK_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include "storage/entry.h"
#include "storage/keydir.h"
#include "storage/sid.h"

struct topic;
struct cg_group;
struct cg_consumer;

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
/* Moves the log start to dense offset start (a replica applying its primary's trim); nothing
 * when it is not above the current start, OBK_ERR_RANGE past the end. */
int topic_trim_to(struct topic *t, uint64_t start, uint64_t *removed);
/* XSETID: last ID (not below the last live entry: OBK_ERR_RANGE), optionally entries_added
 * and max_deleted_entry_id. */
int topic_setid(struct topic *t, sid_t last_id, int set_added, uint64_t entries_added,
                int set_max_deleted, sid_t max_deleted);
/* A replica applying its primary's consumer-group records (cgroup_record_import). */
int topic_import_group_records(struct topic *t, const uint8_t *recs, size_t len);
/* Per-topic retention override (RETENTION_DEFAULT, RETENTION_NONE or a value). */
int topic_set_retention(struct topic *t, int64_t bytes, int64_t ms);
/* Per-topic compression override, kept in topic.meta and replicated with it: mode
 * TOPIC_COMPRESSION_DEFAULT (the store's setting), _NONE or _ZSTD, and a zstd level (0: the
 * store's, else 1..19). Applies to batches written from the next flush on. OBK_ERR_INVAL out of
 * range. */
int topic_set_compression(struct topic *t, int mode, int level);
int topic_compression(const struct topic *t);       /* the override's mode */
int topic_compression_level(const struct topic *t); /* the override's level, 0 = the store's */
/* The zstd level the next DATA batches are written with, 0 when they are written plain. */
int topic_effective_compression_level(const struct topic *t);
/* The key's expiry time (unix ms; 0 removes it), kept in topic.meta and replicated with it. The
 * store never expires a key itself: the server decides when (and whether, on a replica). */
int topic_set_expire(struct topic *t, int64_t at_ms);

/* ---- reads ---- */
/* Entries with start <= id <= end (inclusive; use sid_incr/sid_decr for exclusive bounds),
 * oldest first or (rev) newest first, at most count (0 = all). cb sees each entry; returning
 * nonzero stops. Served from the ring when it covers the range, else from the log. */
int topic_range(struct topic *t, sid_t start, sid_t end, uint64_t count, int rev, obk_entry_cb cb,
                void *ctx);
/* The live entry with exactly this ID: OBK_OK, or OBK_ERR_NOTFOUND. */
int topic_get(struct topic *t, sid_t id, obk_entry_cb cb, void *ctx);
/* OBK_OK when the stream holds entry id, OBK_ERR_NOTFOUND when it does not (deleted, trimmed,
 * never added), another status when it cannot be read. */
int topic_contains(struct topic *t, sid_t id);
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

/* ---- what the server reads about a topic ---- */
/* The key's bytes (owned by the topic; valid until it is renamed or deleted) and length. */
const uint8_t *topic_key(const struct topic *t, size_t *len);
/* The database the key lives in. */
int topic_db(const struct topic *t);
/* Live entries (XLEN): end - start - deleted. */
uint64_t topic_length(const struct topic *t);
sid_t topic_last_id(const struct topic *t);
uint64_t topic_entries_added(const struct topic *t);
sid_t topic_max_deleted(const struct topic *t);
/* Dense offset of the first entry still in the log, and one past the last. */
uint64_t topic_start_offset(const struct topic *t);
uint64_t topic_end_offset(const struct topic *t);
/* The submission a reply touching this topic must see durable. */
uint64_t topic_wait_seq(const struct topic *t);
/* Bytes of the topic's segment files, as written or queued for writing. */
uint64_t topic_disk_bytes(const struct topic *t);
/* Bytes of memory the topic holds: its structure and key, the entries in its cache, batches not
 * yet submitted, its segments' bookkeeping and heap indexes, and its consumer groups. Mapped
 * index files are page cache and not counted. */
uint64_t topic_memory_bytes(const struct topic *t);
/* The per-topic retention overrides as set by topic_set_retention: RETENTION_DEFAULT (the
 * store's setting applies), RETENTION_NONE, or a value. */
int64_t topic_retention_bytes(const struct topic *t);
int64_t topic_retention_ms(const struct topic *t);
/* When the key expires (unix ms), 0 when it does not (topic_set_expire). */
int64_t topic_expire_at(const struct topic *t);
/* When the key was created (ms since the epoch; kept in topic.meta). */
int64_t topic_created_ms(const struct topic *t);
/* 1 when the topic has at least one consumer group. */
int topic_has_groups(const struct topic *t);

/* ---- idempotent producers (topic_groups.c; the structure: idmp.h) ---- */
struct idmp_stats;
/* XADD ... IDMP: the stream ID recorded for (pid, iid) and still in its window at now_ms: 1,
 * else 0. */
int topic_idmp_find(const struct topic *t, const void *pid, size_t plen, const void *iid,
                    size_t ilen, int64_t now_ms, sid_t *out);
void topic_idmp_count_duplicate(struct topic *t);
/* Records (pid, iid) -> id in the stream's side log (the groups.log record of the command,
 * written after the entry's batch), creating the state with these bounds when it has none. */
int topic_idmp_add(struct topic *t, const void *pid, size_t plen, const void *iid, size_t ilen,
                   sid_t id, int64_t duration_s, uint64_t maxsize);
/* XCFGSET: the stream's bounds (a change forgets every id). */
int topic_idmp_configure(struct topic *t, int64_t duration_s, uint64_t maxsize);
/* The bounds and counters: 1, or 0 when the stream never used IDMP nor XCFGSET. */
int topic_idmp_stats(const struct topic *t, int64_t *duration_s, uint64_t *maxsize,
                     struct idmp_stats *st);

/* ---- consumer groups (topic_groups.c; reading a group: cgroup.h) ---- */
/* Opens the command's record (nesting is not allowed). */
void cg_record_begin(struct topic *t);
/* Closes it: an empty record writes nothing; otherwise the topic is marked dirty so the record
 * joins the next submission. Returns OBK_OK or OBK_ERR_STICKY / OBK_ERR_NOMEM. */
int cg_record_end(struct topic *t);

struct cg_group *cg_group_find(struct topic *t, const void *name, size_t len);
size_t cg_group_count(const struct topic *t);
/* Calls cb for every group in name order; cb returns nonzero to stop. */
void cg_group_foreach(struct topic *t, int (*cb)(void *ctx, struct cg_group *g), void *ctx);
/* XGROUP CREATE: OBK_ERR_EXISTS when the name is taken. entries_read -1 = unknown. */
int cg_group_create(struct topic *t, const void *name, size_t len, sid_t last_id,
                    int64_t entries_read, struct cg_group **out);
/* XGROUP DESTROY (frees g). */
int cg_group_destroy(struct topic *t, struct cg_group *g);
/* XGROUP SETID. */
int cg_group_setid(struct topic *t, struct cg_group *g, sid_t last_id, int64_t entries_read);
/* XGROUP SETDLQ: the group's dead-letter policy (max_deliveries 0: none; key NULL: entries
 * over the limit are acknowledged and dropped). */
int cg_group_set_dlq(struct topic *t, struct cg_group *g, uint64_t max_deliveries, const void *key,
                     size_t len);

/* Creates the consumer if missing (*created says whether it did). seen_ms is its creation and
 * seen time. */
int cg_consumer_get(struct topic *t, struct cg_group *g, const void *name, size_t len,
                    int64_t now_ms, struct cg_consumer **out, int *created);
/* XGROUP DELCONSUMER: removes the consumer and its pending entries; *pending says how many. */
int cg_consumer_delete(struct topic *t, struct cg_group *g, struct cg_consumer *c,
                       uint64_t *pending);
/* Marks the consumer seen now (a read or claim attempt, as Redis updates seen-time). */
int cg_consumer_seen(struct topic *t, struct cg_group *g, struct cg_consumer *c, int64_t now_ms);

/* XREADGROUP ... > : the group's last delivered ID becomes last_id and entries-read
 * entries_read; unless noack, each ID enters the PEL owned by c with delivery time now and
 * count 1 (an ID already pending elsewhere moves to c, as Redis does). */
int cg_deliver_new(struct topic *t, struct cg_group *g, struct cg_consumer *c, const sid_t *ids,
                   size_t n, sid_t last_id, int64_t entries_read, int noack, int64_t now_ms);
/* XREADGROUP with an explicit ID (history): each ID, pending for c, gets delivery time now and
 * its count incremented. */
int cg_deliver_again(struct topic *t, struct cg_group *g, const sid_t *ids, size_t n,
                     int64_t now_ms);
/* XACK: removes the IDs that are pending; *acked says how many were. */
int cg_ack(struct topic *t, struct cg_group *g, const sid_t *ids, size_t n, uint64_t *acked);
/* XCLAIM/XAUTOCLAIM: makes id pending for c with this delivery time and count, creating the
 * entry when it was not pending (XCLAIM FORCE). */
int cg_claim(struct topic *t, struct cg_group *g, struct cg_consumer *c, sid_t id,
             int64_t delivery_ms, uint64_t delivery_count);
/* XNACK: makes id pending with no owner and this delivery count, after every entry released
 * before it (creating the entry when it was not pending: XNACK FORCE). */
int cg_nack(struct topic *t, struct cg_group *g, sid_t id, uint64_t delivery_count);
/* Drops one pending entry without acknowledging it (an entry deleted from the stream that
 * XCLAIM/XAUTOCLAIM finds). */
int cg_pending_drop(struct topic *t, struct cg_group *g, sid_t id);
/* XCOMMIT: the group's committed offset becomes id. */
int cg_commit(struct topic *t, struct cg_group *g, sid_t id);

#endif
