/* cgroup.h - a stream's consumer groups as the server reads them: Redis 7.0 consumer-group
 * state (last delivered ID, entries-read, the pending entries list, consumers) plus Obelisk's
 * committed offset, kept in memory and made durable through the topic's group log
 * (groups.log, groups.snap) in the same group commit as the stream data.
 *
 * This header reads groups, consumers and pending entries. The calls that find groups on a
 * topic or change them (cg_record_begin/end, cg_group_create, cg_ack, ...) take the topic and
 * are declared in topic.h: each mutation changes the in-memory state and appends its effect to
 * the record of the current command; cg_record_end() closes that record, so one command is one
 * CRC-checked record in groups.log, written in the same submission as any data batch of the
 * same loop turn, and a reply that waits for topic_wait_seq(t) is released only once the
 * record is durable. Groups and consumers iterate in name order (Redis keeps them in radix
 * trees). The layout and the state-level operations are in cgroup_state.h. Owned by the thread
 * that holds the store (docs/storage.md, Threads). */
#ifndef OBK_CGROUP_H
#define OBK_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "storage/sid.h"

struct cg_group;
struct cg_consumer;

/* One pending entry: delivered to a consumer, not yet acknowledged. */
struct cg_pending {
    sid_t id;
    struct cg_consumer *consumer; /* NULL: released with XNACK, owned by nobody */
    int64_t delivery_ms;          /* last delivery time; with no owner, its NACK order (small) */
    uint64_t delivery_count;      /* deliveries so far */
};

/* ---- groups ---- */
const char *cg_group_name(const struct cg_group *g, size_t *len);
sid_t cg_group_last_id(const struct cg_group *g);
int64_t cg_group_entries_read(const struct cg_group *g); /* -1 = unknown */
uint64_t cg_group_pending_count(const struct cg_group *g);
size_t cg_group_consumer_count(const struct cg_group *g);
/* The dead-letter policy (cg_group_set_dlq): a pending entry about to be delivered more than
 * max_deliveries times (0: no limit) goes to the dead-letter key instead (NULL: acknowledged
 * and dropped). */
uint64_t cg_group_max_deliveries(const struct cg_group *g);
const char *cg_group_dead_letter_key(const struct cg_group *g, size_t *len);
/* Entries the policy took since start (kept in memory only: a metric), and one more. */
uint64_t cg_group_dead_lettered(const struct cg_group *g);
void cg_group_count_dead_letter(struct cg_group *g);

/* ---- consumers ---- */
struct cg_consumer *cg_consumer_find(struct cg_group *g, const void *name, size_t len);
void cg_consumer_foreach(struct cg_group *g, int (*cb)(void *ctx, struct cg_consumer *c),
                         void *ctx);
const char *cg_consumer_name(const struct cg_consumer *c, size_t *len);
int64_t cg_consumer_seen_ms(const struct cg_consumer *c);
uint64_t cg_consumer_pending_count(const struct cg_consumer *c);

/* ---- pending entries ---- */
/* The pending entry for id, or NULL. */
const struct cg_pending *cg_pending_get(const struct cg_group *g, sid_t id);
/* Pending entries with start <= id <= end in ID order, of consumer c only when c is given; cb
 * returns nonzero to stop. */
void cg_pending_range(const struct cg_group *g, const struct cg_consumer *c, sid_t start, sid_t end,
                      int (*cb)(void *ctx, const struct cg_pending *p), void *ctx);

/* Smallest and largest pending IDs (XPENDING summary) in O(log n): 1 when any, else 0. */
int cg_pending_bounds(const struct cg_group *g, sid_t *first, sid_t *last);

/* ---- committed offsets (Obelisk's XCOMMIT) ---- */
/* 1 and *id when the group ever committed, else 0. */
int cg_committed(const struct cg_group *g, sid_t *id);

#endif
