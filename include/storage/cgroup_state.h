/* cgroup_state.h - the in-memory consumer groups of one stream (struct cg_state) and the
 * operations that change them, for the storage modules that hold or persist that state
 * (topic_groups.c, cgstore.c) and for tools and tests. The server uses cgroup.h and the cg_*
 * calls of topic.h instead.
 *
 * The state knows nothing of the stream it belongs to: its owner hands it a pointer to the
 * sticky error (cgs_set_sticky), asks after each mutation whether a record was closed
 * (cgroup_record_ready) to join the next submission, and passes stream facts as values.
 *
 * Records: the mutations (cgroup_*) change the state and append their effect, as idempotent
 * operations carrying the resulting values, to the open record; one command is one record:
 *   0    4 length      bytes after this field (4 + ops)
 *   4    4 crc         CRC-32C of the ops
 *   8    n ops         a type byte, then varints (LEB128; s = zigzag signed) and strings
 *                      (varint length + bytes), applied in order
 * "Selected" group/consumer: set by GROUP_SET/GROUP_SELECT and CONSUMER_SET/CONSUMER_SELECT,
 * reset at the start of each record.
 *   1 GROUP_SET       name, last_ms, last_seq, s:entries_read (-1 unknown); creates or updates
 *   2 GROUP_SELECT    name (must exist)
 *   3 GROUP_DEL       name
 *   4 CONSUMER_SET    name, s:seen_ms; in the selected group, creates or updates
 *   5 CONSUMER_SELECT name
 *   6 CONSUMER_DEL    name (its pending entries go with it)
 *   7 PENDING_SET     ms, seq, s:delivery_ms, count; owned by the selected consumer (moved
 *                     from another owner when pending there)
 *   8 PENDING_DEL     ms, seq
 *   9 COMMIT_SET      ms, seq
 *  10 GROUP_DLQ       max_deliveries (0: off), dead-letter key (string, may be empty); in
 *                     the selected group
 *  11 PENDING_NACK    ms, seq, s:nack_order, count; the entry is pending with no owner
 *                     (XNACK), released in nack_order (its delivery_ms, far below any time)
 * The stream's idempotent-producer state (idmp.h; no group selected):
 *  12 IDMP_CONFIG     s:duration_s, maxsize; creates the state, or sets its bounds (a change
 *                     forgets every id)
 *  13 IDMP_ADD        pid, iid, ms, seq; (pid, iid) -> that stream ID (XADD ... IDMP)
 *  14 IDMP_COUNTERS   added, duplicates (snapshots only: lifetime counters)
 * The files that hold records and snapshots are cgstore.h's. Owned by the thread that holds
 * the store (docs/storage.md, Threads). */
#ifndef OBK_CGROUP_STATE_H
#define OBK_CGROUP_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/idmap.h"
#include "storage/sid.h"

#define CG_RECORD_HEADER 8
/* A record is one command: XREADGROUP COUNT 1M makes about 20 MB; refuse lengths above this
 * as garbage rather than allocate them. */
#define CG_RECORD_MAX (256u << 20)

enum cg_op {
    CG_OP_GROUP_SET = 1,
    CG_OP_GROUP_SELECT = 2,
    CG_OP_GROUP_DEL = 3,
    CG_OP_CONSUMER_SET = 4,
    CG_OP_CONSUMER_SELECT = 5,
    CG_OP_CONSUMER_DEL = 6,
    CG_OP_PENDING_SET = 7,
    CG_OP_PENDING_DEL = 8,
    CG_OP_COMMIT_SET = 9,
    CG_OP_GROUP_DLQ = 10,
    CG_OP_PENDING_NACK = 11,
    CG_OP_IDMP_CONFIG = 12,
    CG_OP_IDMP_ADD = 13,
    CG_OP_IDMP_COUNTERS = 14,
    CG_OP_IDMP_KEEP = 15,
};

struct cg_consumer {
    uint8_t *name;
    size_t len;
    int64_t seen_ms;
    struct idmap pel; /* id -> struct cg_pending * (owned by the group's PEL) */
};

struct cg_group {
    uint8_t *name;
    size_t len;
    sid_t last_id;
    int64_t entries_read;
    int has_commit;
    sid_t committed;
    uint64_t max_deliveries; /* dead-letter policy, 0 = none (XGROUP SETDLQ) */
    uint8_t *dlq_key;        /* where entries over it go; NULL = acknowledged and dropped */
    size_t dlq_len;
    uint64_t dead_lettered;    /* since start (not stored): metrics */
    int64_t nack_seq;          /* the last NACK order given (unowned entries' delivery_ms) */
    struct idmap pel;          /* id -> struct cg_pending * (owned here) */
    struct cg_consumer **cons; /* sorted by name (byte-wise, shorter first on a tie) */
    size_t ncons, ccap;
};

struct idmp;

struct cg_state {
    struct cg_group **groups; /* sorted by name */
    struct idmp *idmp;        /* idempotent producers (idmp.h), NULL until the first use */
    size_t ngroups, gcap;
    /* records: closed ones waiting for a submission, then the open one from rec_start */
    uint8_t *buf;
    size_t len, cap;
    int rec_open, rec_hard; /* hard: holds more than seen-time updates */
    size_t rec_start;
    int rec_ready; /* a record was closed since cgroup_record_ready last said so */
    const struct cg_group *sel_g;
    const struct cg_consumer *sel_c;
    int *sticky; /* the owner's sticky error (NULL: none); read and set by mutations */
};

/* ---- state primitives (no records), shared by the mutations and replay ---- */
int cgs_new(struct cg_state **out);
void cgs_free(struct cg_state *cg);
/* Mutations refuse with OBK_ERR_STICKY while *sticky is set, and set it to OBK_ERR_NOMEM when
 * memory runs out after the state changed part way (memory and disk would disagree). */
void cgs_set_sticky(struct cg_state *cg, int *sticky);
/* cg may be NULL (no groups) in the lookups. */
struct cg_group *cgs_group_find(const struct cg_state *cg, const void *name, size_t len);
int cgs_group_add(struct cg_state *cg, const void *name, size_t len, struct cg_group **out);
void cgs_group_remove(struct cg_state *cg, struct cg_group *g);
int cgs_consumer_add(struct cg_group *g, const void *name, size_t len, struct cg_consumer **out);
/* Removes c and its pending entries; returns how many. */
uint64_t cgs_consumer_remove(struct cg_group *g, struct cg_consumer *c);
/* c NULL: the entry is pending with no owner (XNACK); delivery_ms is then its NACK order. */
int cgs_pending_set(struct cg_group *g, struct cg_consumer *c, sid_t id, int64_t delivery_ms,
                    uint64_t count);
int cgs_pending_del(struct cg_group *g, sid_t id); /* 1 when it was pending */
/* Sets the group's dead-letter policy (no record); key NULL: none. */
int cgs_group_set_dlq(struct cg_group *g, uint64_t max_deliveries, const void *key, size_t len);
/* Drops what points past the stream: PEL entries above last_id; last delivered and committed
 * IDs above it come down to it, entries_read to at most entries_added. Returns the changes. */
uint64_t cgs_clamp(struct cg_state *cg, sid_t last_id, uint64_t entries_added);

/* ---- mutations with records (the cg_* calls of topic.h wrap these) ---- */
/* Opens the command's record (a second begin while one is open does nothing). */
void cgroup_record_begin(struct cg_state *cg);
/* Closes it; an empty record, or one holding only seen-time updates, writes nothing. Returns
 * OBK_OK or OBK_ERR_STICKY. */
int cgroup_record_end(struct cg_state *cg);
/* Queues len bytes of whole records (already applied to the state by the caller) as closed
 * records, written to groups.log unchanged: a replica's copy of its primary's records.
 * OBK_ERR_INVAL while a record is open. */
int cgroup_records_queue(struct cg_state *cg, const uint8_t *recs, size_t len);
/* 1 once after a record was closed (the owner then joins the next submission), else 0. */
int cgroup_record_ready(struct cg_state *cg);

size_t cgroup_group_count(const struct cg_state *cg);
void cgroup_group_foreach(struct cg_state *cg, int (*cb)(void *ctx, struct cg_group *g), void *ctx);
/* The operations below behave as the cg_* calls of the same names in topic.h; each one
 * outside a cgroup_record_begin/end pair makes a record of its own. */
int cgroup_group_create(struct cg_state *cg, const void *name, size_t len, sid_t last_id,
                        int64_t entries_read, struct cg_group **out);
int cgroup_group_destroy(struct cg_state *cg, struct cg_group *g);
int cgroup_group_setid(struct cg_state *cg, struct cg_group *g, sid_t last_id,
                       int64_t entries_read);
int cgroup_consumer_get(struct cg_state *cg, struct cg_group *g, const void *name, size_t len,
                        int64_t now_ms, struct cg_consumer **out, int *created);
int cgroup_consumer_delete(struct cg_state *cg, struct cg_group *g, struct cg_consumer *c,
                           uint64_t *pending);
int cgroup_consumer_seen(struct cg_state *cg, struct cg_group *g, struct cg_consumer *c,
                         int64_t now_ms);
int cgroup_deliver_new(struct cg_state *cg, struct cg_group *g, struct cg_consumer *c,
                       const sid_t *ids, size_t n, sid_t last_id, int64_t entries_read, int noack,
                       int64_t now_ms);
int cgroup_deliver_again(struct cg_state *cg, struct cg_group *g, const sid_t *ids, size_t n,
                         int64_t now_ms);
int cgroup_ack(struct cg_state *cg, struct cg_group *g, const sid_t *ids, size_t n,
               uint64_t *acked);
int cgroup_claim(struct cg_state *cg, struct cg_group *g, struct cg_consumer *c, sid_t id,
                 int64_t delivery_ms, uint64_t delivery_count);
int cgroup_nack(struct cg_state *cg, struct cg_group *g, sid_t id, uint64_t delivery_count);
/* XADD ... IDMP: records (pid, iid) -> id, creating the state with these bounds if the stream
 * has none. XCFGSET: sets the bounds (creating the state). */
int cgroup_idmp_add(struct cg_state *cg, const void *pid, size_t plen, const void *iid, size_t ilen,
                    sid_t id, int64_t duration_s, uint64_t maxsize);
int cgroup_idmp_configure(struct cg_state *cg, int64_t duration_s, uint64_t maxsize);
int cgroup_commit(struct cg_state *cg, struct cg_group *g, sid_t id);
int cgroup_group_set_dlq(struct cg_state *cg, struct cg_group *g, uint64_t max_deliveries,
                         const void *key, size_t len);

#endif
