/* keyspace.h - one database's keys: a chained hash table of topics with a SCAN cursor that
 * survives growth (the reverse-binary cursor walk: every key present for the whole scan is
 * returned at least once). Filled inside store_open (the server's loader thread), then used by
 * the main thread only. */
#ifndef OBK_KEYSPACE_H
#define OBK_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

struct topic;

struct keyspace {
    struct topic **b;
    size_t size; /* power of two, 0 when empty */
    size_t count;
    uint64_t seed;
};

void keyspace_init(struct keyspace *ks, uint64_t seed);
void keyspace_free(struct keyspace *ks); /* the table only, not the topics */
uint64_t keyspace_hash(const struct keyspace *ks, const void *key, size_t len);
struct topic *keyspace_find(const struct keyspace *ks, const void *key, size_t len);
int keyspace_insert(struct keyspace *ks, struct topic *t); /* t->key set; not present */
void keyspace_remove(struct keyspace *ks, struct topic *t);
/* Calls cb for the keys of the bucket(s) at cursor; returns the next cursor (0 = done). */
typedef void (*keyspace_scan_cb)(void *ctx, struct topic *t);
uint64_t keyspace_scan(const struct keyspace *ks, uint64_t cursor, keyspace_scan_cb cb, void *ctx);

#endif
