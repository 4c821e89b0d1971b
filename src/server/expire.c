/* expire.c - key expiry: lazy on lookup, active in the cron (see expire.h).
 *
 * Design: the store keeps each topic's expiry time; nothing here keeps a second index of the
 * keys with one. Topics are few (each holds directories and descriptors), so the active cycle
 * walks the keyspace with a SCAN cursor per database, at most EXPIRE_CYCLE_VISITS topics per
 * database per call, ten calls a second: a database of 10,000 topics is covered in about five
 * seconds, and a call's work is bounded however many keys are due. Keys a call
 * finds expired are collected first and deleted after the walk (a deletion changes the table
 * the cursor walks). A lazy lookup catches whatever the cycle has not reached yet, so a client
 * never sees an expired key. On a replica neither path deletes: the primary's DELETE record
 * does, and until then lookups hide the key (Redis replicas behave the same way).
 * Deleting is store_delete: the removal rides in the next submission, replicated as a DELETE,
 * and a command that expired a key lazily holds its reply until that is durable (the store's
 * touch mark), as DEL does. Main thread only. */
#include "server/expire.h"

#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/db.h"
#include "server/durable.h"
#include "server/runtime.h"
#include "storage/store.h"
#include "storage/topic.h"

/* Topics one cycle call visits per database, and the most it deletes. */
#define EXPIRE_CYCLE_VISITS 200

static struct {
    struct expire_stats stats;
    uint64_t *cursor; /* the active cycle's SCAN cursor per database */
    int ncursors;
} ex;

int expire_is_due(const struct topic *t, int64_t now_ms) {
    int64_t at = topic_expire_at(t);
    return at != 0 && at <= now_ms;
}

int expire_delete(struct topic *t) {
    size_t len;
    const uint8_t *key = topic_key(t, &len);
    int db = topic_db(t);
    blocking_signal_key(db, (const char *)key, len); /* XREADGROUP waiters error out */
    return store_delete(db_store(), db, key, len);
}

/* Deletes an expired key on a primary; counts it. A failed deletion (a sticky store) leaves
 * the key in place: it stays hidden, and writes report the store's error themselves. */
static void expire_now(struct topic *t) {
    if (expire_delete(t) == OBK_OK) ex.stats.expired_keys++;
}

struct topic *expire_lookup(int db, const char *key, size_t len) {
    struct store *s = db_store();
    struct topic *t = s ? store_lookup(s, db, key, len) : NULL;
    /* a key without an expiry costs no clock read */
    if (!t || !topic_expire_at(t) || !expire_is_due(t, util_mstime())) return t;
    if (!runtime.replica && !durable_error()) expire_now(t);
    return NULL;
}

struct cycle_walk {
    int64_t now_ms;
    size_t visited, with_ttl, nexpired;
    struct topic *expired[EXPIRE_CYCLE_VISITS];
};

static void cycle_visit(void *ctx, struct topic *t) {
    struct cycle_walk *w = ctx;
    w->visited++;
    if (!topic_expire_at(t)) return;
    w->with_ttl++;
    if (expire_is_due(t, w->now_ms) && w->nexpired < EXPIRE_CYCLE_VISITS)
        w->expired[w->nexpired++] = t;
}

/* One bounded step over database db. */
static void cycle_db(struct store *s, int db, int64_t now_ms, struct cycle_walk *w) {
    memset(w, 0, sizeof *w);
    w->now_ms = now_ms;
    uint64_t cur = ex.cursor[db];
    do {
        cur = store_scan(s, db, cur, cycle_visit, w);
    } while (cur != 0 && w->visited < EXPIRE_CYCLE_VISITS);
    ex.cursor[db] = cur;
    if (cur != 0 && w->nexpired) ex.stats.cycle_deferred++;
    for (size_t i = 0; i < w->nexpired; i++) expire_now(w->expired[i]);
    if (w->with_ttl) {
        double perc = (double)w->nexpired / (double)w->with_ttl;
        ex.stats.stale_perc = perc * 0.05 + ex.stats.stale_perc * 0.95; /* Redis's smoothing */
    }
}

void expire_cycle(int64_t now_ms) {
    struct store *s = db_store();
    if (!s || runtime.replica || durable_error()) return;
    static struct cycle_walk w; /* a few KiB: kept off the stack */
    int ndbs = store_ndbs(s);
    if (ndbs > ex.ncursors) {
        uint64_t *c = realloc(ex.cursor, (size_t)ndbs * sizeof *c);
        if (!c) return; /* tried again at the next call; lookups still expire lazily */
        memset(c + ex.ncursors, 0, (size_t)(ndbs - ex.ncursors) * sizeof *c);
        ex.cursor = c;
        ex.ncursors = ndbs;
    }
    for (int db = 0; db < ndbs; db++) cycle_db(s, db, now_ms, &w);
}

void expire_free(void) {
    free(ex.cursor);
    ex.cursor = NULL;
    ex.ncursors = 0;
}

void expire_get_stats(struct expire_stats *out) {
    *out = ex.stats;
}

void expire_reset_stats(void) {
    memset(&ex.stats, 0, sizeof ex.stats);
}

struct keyspace_count {
    int64_t now_ms;
    long long expires;
    long double ttl_sum;
};

static void count_expiry(void *ctx, struct topic *t) {
    struct keyspace_count *k = ctx;
    int64_t at = topic_expire_at(t);
    if (!at) return;
    k->expires++;
    if (at > k->now_ms) k->ttl_sum += (long double)(at - k->now_ms);
}

void expire_keyspace(int db, int64_t now_ms, long long *expires, long long *avg_ttl) {
    struct keyspace_count k = {now_ms, 0, 0};
    struct store *s = db_store();
    if (s) store_foreach(s, db, count_expiry, &k);
    *expires = k.expires;
    *avg_ttl = k.expires ? (long long)(k.ttl_sum / k.expires) : 0;
}
