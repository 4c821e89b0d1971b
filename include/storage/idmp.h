/* idmp.h - the idempotent-producer state of one stream (XADD ... IDMP / IDMPAUTO, XCFGSET):
 * for each producer id, the idempotent ids it used most recently, each with the stream ID its
 * first XADD got, so a retried XADD answers that ID and adds nothing.
 *
 * Bounds, as Redis 8.6 has them: at most maxsize ids per producer (the oldest goes first) and
 * none older than duration seconds, counted on the stream ID's time (an id whose entry ID time
 * is duration seconds before a newer add from the same producer is dropped by that add; a
 * lookup ignores ids older than duration before now). Changing either bound forgets every id.
 * Everything that changes the state is deterministic given the operations (no clock), so a
 * replay of the stream's side log rebuilds it exactly. The record operations that carry it are
 * cgroup_state.h's IDMP_*; this module is the in-memory structure only. Owned by the thread
 * that holds the store. */
#ifndef OBK_IDMP_H
#define OBK_IDMP_H

#include <stddef.h>
#include <stdint.h>

#include "storage/sid.h"

#define IDMP_DURATION_DEFAULT 100
#define IDMP_DURATION_MAX     86400
#define IDMP_MAXSIZE_DEFAULT  100
#define IDMP_MAXSIZE_MAX      10000

struct idmp;

int idmp_new(int64_t duration_s, uint64_t maxsize, struct idmp **out);
void idmp_free(struct idmp *m);
int64_t idmp_duration(const struct idmp *m);
uint64_t idmp_maxsize(const struct idmp *m);
/* Sets the bounds; when either differs from the current one every tracked id is forgotten
 * (the lifetime counters stay). Returns 1 when something changed. */
int idmp_configure(struct idmp *m, int64_t duration_s, uint64_t maxsize);
/* The stream ID recorded for (pid, iid), unless older than the duration at now_ms: 1, else 0. */
int idmp_find(const struct idmp *m, const void *pid, size_t plen, const void *iid, size_t ilen,
              int64_t now_ms, sid_t *out);
/* Records (pid, iid) -> id as the producer's newest, then drops that producer's ids over
 * maxsize or older than the duration before id's time. Counts one add. */
int idmp_add(struct idmp *m, const void *pid, size_t plen, const void *iid, size_t ilen, sid_t id);
/* Puts back an id a snapshot kept: as idmp_add without the duration rule. The rule looks at
 * the producer's oldest id only, so when stream IDs did not grow (XSETID lowered an emptied
 * stream's last ID) it leaves older ids behind a newer one; applied again on ids whose
 * predecessors are gone it would drop ids the state still had. */
int idmp_restore(struct idmp *m, const void *pid, size_t plen, const void *iid, size_t ilen,
                 sid_t id);
/* Drops every id whose stream ID is above last_id (recovery found the stream shorter).
 * Returns how many. */
uint64_t idmp_clamp(struct idmp *m, sid_t last_id);

struct idmp_stats {
    uint64_t pids, iids;        /* tracked now */
    uint64_t added, duplicates; /* lifetime */
};
void idmp_get_stats(const struct idmp *m, struct idmp_stats *out);
void idmp_set_counters(struct idmp *m, uint64_t added, uint64_t duplicates);
void idmp_count_duplicate(struct idmp *m);
/* Every tracked id, each producer's oldest first (the order a replay must add them in). */
void idmp_foreach(const struct idmp *m,
                  void (*cb)(void *ctx, const uint8_t *pid, size_t plen, const uint8_t *iid,
                             size_t ilen, sid_t id),
                  void *ctx);
/* Bytes of memory held (MEMORY USAGE). */
uint64_t idmp_memory(const struct idmp *m);

#endif
