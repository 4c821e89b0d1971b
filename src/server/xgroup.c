/* xgroup.c - Redis 7.0's consumer-group arithmetic over a topic (see xgroup.h). The rules are
 * Redis's, so XINFO GROUPS shows the same entries-read and lag as Redis after the same
 * commands; Obelisk's exact lag (XLAG) is computed from dense offsets instead. Main thread. */
#include "server/xgroup.h"

#include "base/status.h"
#include "storage/cgroup.h"
#include "storage/topic.h"

/* Redis's s->first_id: the first live entry, 0-0 when the stream is empty. */
static sid_t first_id(struct topic *t) {
    sid_t id = SID_MIN;
    if (topic_length(t) == 0 || topic_first_id(t, &id) != OBK_OK) id = SID_MIN;
    return id;
}

int xgroup_range_has_tombstones(struct topic *t, sid_t start) {
    sid_t md = topic_max_deleted(t);
    if (topic_length(t) == 0 || sid_is_zero(md)) return 0;
    if (sid_cmp(first_id(t), md) > 0) return 0;
    return sid_cmp(start, md) <= 0;
}

long long xgroup_estimate_entries_read(struct topic *t, sid_t id) {
    uint64_t added = topic_entries_added(t);
    sid_t last = topic_last_id(t);
    if (!added) return 0;
    if (topic_length(t) == 0 && sid_cmp(id, last) < 1) return (long long)added;
    int cmp_last = sid_cmp(id, last);
    if (cmp_last == 0) return (long long)added;
    if (cmp_last > 0) return XGROUP_ENTRIES_READ_INVALID;
    sid_t first = first_id(t), md = topic_max_deleted(t);
    int cmp_first = sid_cmp(id, first);
    if (sid_is_zero(md) || sid_cmp(md, first) < 0) {
        if (cmp_first < 0) return (long long)(added - topic_length(t));
        if (cmp_first == 0) return (long long)(added - topic_length(t) + 1);
    }
    return XGROUP_ENTRIES_READ_INVALID;
}

long long xgroup_entries_read_after(struct topic *t, long long entries_read, sid_t id) {
    if (entries_read != XGROUP_ENTRIES_READ_INVALID && !xgroup_range_has_tombstones(t, id))
        return entries_read + 1;
    if (topic_entries_added(t)) return xgroup_estimate_entries_read(t, id);
    return entries_read;
}

int xgroup_lag(struct topic *t, struct cg_group *g, long long *lag) {
    uint64_t added = topic_entries_added(t);
    long long er = cg_group_entries_read(g);
    if (!added) {
        *lag = 0;
        return 1;
    }
    if (er != XGROUP_ENTRIES_READ_INVALID && !xgroup_range_has_tombstones(t, cg_group_last_id(g))) {
        *lag = (long long)added - er;
        return 1;
    }
    er = xgroup_estimate_entries_read(t, cg_group_last_id(g));
    if (er == XGROUP_ENTRIES_READ_INVALID) return 0;
    *lag = (long long)added - er;
    return 1;
}
