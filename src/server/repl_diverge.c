/* repl_diverge.c - logs what a full sync drops (see repl_diverge.h).
 *
 * Design: two histories of a stream agree up to some dense offset and differ after it (a former
 * primary appended entries its replicas never got, the new primary appended others at the same
 * offsets). IDs grow with time, so the first offset where the two copies hold different IDs is
 * where they part; walking down from the shorter end to the first offset whose IDs match finds
 * it. Every live entry of the current copy after that point is dropped: their count is exact
 * (topic_count_after, tombstones excluded) and so are the IDs logged, the first and the last.
 * A key the received copy does not have at all is dropped whole. Main thread only. */
#include "server/repl_diverge.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"
#include "server/db.h"
#include "storage/entry.h"
#include "storage/sid.h"
#include "storage/store.h"
#include "storage/topic.h"

#define MAX_LINES 100 /* keys logged one by one; the rest are counted */

struct walk {
    struct store *incoming;
    long long dropped;
    long long keys;
};

/* The last offset below which both copies agree (both IDs present and equal). */
static uint64_t common_end(struct topic *cur, struct topic *inc) {
    uint64_t end = topic_end_offset(cur) < topic_end_offset(inc) ? topic_end_offset(cur)
                                                                 : topic_end_offset(inc);
    uint64_t low = topic_start_offset(cur) > topic_start_offset(inc) ? topic_start_offset(cur)
                                                                     : topic_start_offset(inc);
    for (uint64_t k = end; k > low; k--) {
        sid_t a, b;
        if (topic_id_at(cur, k - 1, &a) != OBK_OK || topic_id_at(inc, k - 1, &b) != OBK_OK)
            return k - 1; /* below, what either copy no longer holds cannot be told apart */
        if (sid_cmp(a, b) == 0) return k;
    }
    return low;
}

static int exists_cb(void *ctx, const struct obk_entry *e) {
    (void)ctx, (void)e;
    return 0;
}

static void compare(void *ctx, struct topic *cur) {
    struct walk *w = ctx;
    size_t klen;
    const uint8_t *key = topic_key(cur, &klen);
    struct topic *inc = store_lookup(w->incoming, topic_db(cur), key, klen);
    sid_t after = {0, 0}, first, last;
    uint64_t n = 0;
    if (inc) {
        uint64_t at = common_end(cur, inc);
        if (at == topic_end_offset(cur)) return; /* nothing after the common part */
        if (at > topic_start_offset(cur) && topic_id_at(cur, at - 1, &after) != OBK_OK) return;
    }
    if (topic_count_after(cur, after, &n) != OBK_OK || n == 0) return;
    if (topic_last_entry_id(cur, &last) != OBK_OK) return;
    /* the first dropped live entry: the first live one after `after` */
    first = last;
    uint64_t off;
    sid_t from = after;
    sid_incr(&from);
    if (topic_lower_bound_offset(cur, from, &off) == OBK_OK) {
        for (; off < topic_end_offset(cur); off++) {
            sid_t id;
            if (topic_id_at(cur, off, &id) == OBK_OK &&
                topic_get(cur, id, exists_cb, NULL) == OBK_OK) {
                first = id;
                break;
            }
        }
    }
    w->dropped += (long long)n;
    if (w->keys++ >= MAX_LINES) return;
    char f[SID_STRLEN], l[SID_STRLEN], a[SID_STRLEN], why[96];
    sid_format(first, f);
    sid_format(last, l);
    sid_format(after, a);
    if (inc)
        snprintf(why, sizeof why, "the histories part after ID %s", a);
    else
        snprintf(why, sizeof why, "the master does not have the key");
    log_msg(LOG_WARNING,
            "Full sync drops %llu entries of db%d key '%.*s' that the master does not have: IDs "
            "%s to %s (%s)",
            (unsigned long long)n, topic_db(cur), (int)(klen > 200 ? 200 : klen), (const char *)key,
            f, l, why);
}

long long repl_log_dropped(struct store *cur, const char *incoming) {
    struct store_config cfg;
    struct store_open_report rep;
    struct store *inc = NULL;
    db_store_config(&cfg);
    cfg.dir = incoming;
    cfg.wal = 0; /* the received copy has no log; opening it must not make one */
    cfg.fsync = 2;
    int rc = store_open(&cfg, &inc, &rep);
    if (rc != OBK_OK) {
        log_msg(LOG_WARNING, "Can't open the received snapshot to compare it: %s",
                obk_strerror(rc));
        return -1;
    }
    struct walk w = {inc, 0, 0};
    for (int db = 0; db < store_ndbs(cur); db++) store_foreach(cur, db, compare, &w);
    if (w.keys > MAX_LINES)
        log_msg(LOG_WARNING, "Full sync drops entries of %lld more keys", w.keys - MAX_LINES);
    if (w.dropped > 0)
        log_msg(LOG_WARNING, "Full sync drops %lld entries in %lld keys in all", w.dropped, w.keys);
    store_close(inc);
    return w.dropped;
}
