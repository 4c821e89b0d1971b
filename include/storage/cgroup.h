/* cgroup.h - a topic's consumer groups: Redis 7.0 consumer-group state (last delivered ID,
 * entries-read, the pending entries list, consumers) plus Obelisk's committed offset, kept in
 * memory and made durable through the topic's group log (groups.log, groups.snap) in the same
 * group commit as the stream data.
 *
 * Every mutation below changes the in-memory state and appends its effect to the record of the
 * current command; cg_record_end() closes that record, so one command is one CRC-checked
 * record in groups.log, written in the same submission as any data batch of the same loop turn,
 * and a reply that waits for topic_wait_seq(t) is released only once the record is durable.
 * Groups and consumers iterate in name order (Redis keeps them in radix trees). Main thread. */
#ifndef OBK_CGROUP_H
#define OBK_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "storage/sid.h"

struct topic;
struct cg_group;
struct cg_consumer;

/* One pending entry: delivered to a consumer, not yet acknowledged. */
struct cg_pending {
    sid_t id;
    struct cg_consumer *consumer;
    int64_t delivery_ms;     /* last delivery time */
    uint64_t delivery_count; /* deliveries so far */
};

/* ---- records: one per command ---- */
/* Opens the command's record (nesting is not allowed). */
void cg_record_begin(struct topic *t);
/* Closes it: an empty record writes nothing; otherwise the topic is marked dirty so the record
 * joins the next submission. Returns OBK_OK or OBK_ERR_STICKY / OBK_ERR_NOMEM. */
int cg_record_end(struct topic *t);

/* ---- groups ---- */
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

const char *cg_group_name(const struct cg_group *g, size_t *len);
sid_t cg_group_last_id(const struct cg_group *g);
int64_t cg_group_entries_read(const struct cg_group *g); /* -1 = unknown */
uint64_t cg_group_pending_count(const struct cg_group *g);
size_t cg_group_consumer_count(const struct cg_group *g);

/* ---- consumers ---- */
struct cg_consumer *cg_consumer_find(struct cg_group *g, const void *name, size_t len);
/* Creates the consumer if missing (*created says whether it did). seen_ms is its creation and
 * seen time. */
int cg_consumer_get(struct topic *t, struct cg_group *g, const void *name, size_t len,
                    int64_t now_ms, struct cg_consumer **out, int *created);
/* XGROUP DELCONSUMER: removes the consumer and its pending entries; *pending says how many. */
int cg_consumer_delete(struct topic *t, struct cg_group *g, struct cg_consumer *c,
                       uint64_t *pending);
/* Marks the consumer seen now (a read or claim attempt, as Redis updates seen-time). */
int cg_consumer_seen(struct topic *t, struct cg_group *g, struct cg_consumer *c, int64_t now_ms);
void cg_consumer_foreach(struct cg_group *g, int (*cb)(void *ctx, struct cg_consumer *c),
                         void *ctx);
const char *cg_consumer_name(const struct cg_consumer *c, size_t *len);
int64_t cg_consumer_seen_ms(const struct cg_consumer *c);
uint64_t cg_consumer_pending_count(const struct cg_consumer *c);

/* ---- deliveries, acknowledgements, claims ---- */
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
/* Drops one pending entry without acknowledging it (an entry deleted from the stream that
 * XCLAIM/XAUTOCLAIM finds). */
int cg_pending_drop(struct topic *t, struct cg_group *g, sid_t id);

/* The pending entry for id, or NULL. */
const struct cg_pending *cg_pending_get(const struct cg_group *g, sid_t id);
/* Pending entries with start <= id <= end in ID order, of consumer c only when c is given; cb
 * returns nonzero to stop. */
void cg_pending_range(const struct cg_group *g, const struct cg_consumer *c, sid_t start, sid_t end,
                      int (*cb)(void *ctx, const struct cg_pending *p), void *ctx);

/* Smallest and largest pending IDs (XPENDING summary) in O(log n): 1 when any, else 0. */
int cg_pending_bounds(const struct cg_group *g, sid_t *first, sid_t *last);

/* ---- committed offsets (Obelisk's XCOMMIT) ---- */
int cg_commit(struct topic *t, struct cg_group *g, sid_t id);
/* 1 and *id when the group ever committed, else 0. */
int cg_committed(const struct cg_group *g, sid_t *id);

#endif
