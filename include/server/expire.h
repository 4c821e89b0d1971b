/* expire.h - key expiry (EXPIRE and friends): the lazy check every key lookup makes, the active
 * cycle the cron runs, and what INFO reports of both.
 *
 * A key's expiry time lives with the topic (topic_set_expire: topic.meta, replicated in META
 * records); this module decides when a key is gone. On a primary an expired key is deleted
 * (durably, as DEL does, and replicated as a DELETE record); on a replica it is only hidden from
 * clients, as Redis replicas do, until the primary's deletion arrives. Main thread only. */
#ifndef OBK_EXPIRE_H
#define OBK_EXPIRE_H

#include <stddef.h>
#include <stdint.h>

struct topic;

/* The topic of key in db, or NULL when absent, still loading, or expired (deleted on a primary,
 * hidden on a replica). Every client-facing lookup goes through here. */
struct topic *expire_lookup(int db, const char *key, size_t len);
/* 1 when t has an expiry time at or before now_ms. */
int expire_is_due(const struct topic *t, int64_t now_ms);
/* Deletes t now (EXPIRE with a time in the past): as DEL, blocked readers of it are woken.
 * Returns a storage status. */
int expire_delete(struct topic *t);
/* The active cycle (cron, 10 times a second): samples keys with an expiry in each database and
 * deletes the expired ones, a bounded number per call. Does nothing on a replica. */
void expire_cycle(int64_t now_ms);
/* Frees the cycle's cursors (server shutdown). */
void expire_free(void);

struct expire_stats {
    long long expired_keys;   /* deleted because their time came (lazily or actively) */
    double stale_perc;        /* running share of sampled keys found expired, as Redis's */
    long long cycle_deferred; /* cycles that stopped at their per-call bound with work left */
};
void expire_get_stats(struct expire_stats *out);
void expire_reset_stats(void);
/* INFO keyspace: keys with an expiry in db, and their average remaining time in ms (0 when
 * none), counted exactly. */
void expire_keyspace(int db, int64_t now_ms, long long *expires, long long *avg_ttl);

#endif
