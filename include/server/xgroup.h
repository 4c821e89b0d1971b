/* xgroup.h - consumer-group logic shared by the group commands: Redis 7.0's entries-read and
 * lag arithmetic, and the replies of pending entries. */
#ifndef OBK_XGROUP_H
#define OBK_XGROUP_H

#include <stdint.h>

#include "storage/sid.h"

struct topic;
struct cg_group;

/* Redis's "unknown" entries-read counter. */
#define XGROUP_ENTRIES_READ_INVALID (-1)

/* Redis's streamRangeHasTombstones(s, start, NULL): could [start, +inf) hold a deleted entry? */
int xgroup_range_has_tombstones(struct topic *t, sid_t start);
/* Redis's streamEstimateDistanceFromFirstEverEntry: the logical read counter of id, or -1. */
long long xgroup_estimate_entries_read(struct topic *t, sid_t id);
/* The entries-read a group has after being delivered id (from entries_read before it). */
long long xgroup_entries_read_after(struct topic *t, long long entries_read, sid_t id);
/* Redis's XINFO lag: 1 and *lag when it can be computed, 0 for null. */
int xgroup_lag(struct topic *t, struct cg_group *g, long long *lag);

#endif
