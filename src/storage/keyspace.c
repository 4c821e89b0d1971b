/* keyspace.c - hash table of topics per database (see keyspace.h).
 *
 * Chained buckets, power-of-two sizes, doubled when the load passes 1 (a full rehash: topics
 * are few compared with entries). Hash: FNV-1a over the key bytes mixed with a per-store random
 * seed and a final avalanche, enough against accidental clustering. SCAN walks bucket indexes
 * with the high bits incremented first (reverse binary), so a growth between two calls never
 * skips a bucket already due. Filled inside store_open (the server's loader thread), then used by
 * the main thread only. */
#include "storage/keyspace.h"

#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "storage/topic.h"
#include "topic_impl.h"

#define KEYSPACE_MIN_SIZE 16

void keyspace_init(struct keyspace *ks, uint64_t seed) {
    memset(ks, 0, sizeof *ks);
    ks->seed = seed;
}

void keyspace_free(struct keyspace *ks) {
    free(ks->b);
    ks->b = NULL;
    ks->size = ks->count = 0;
}

uint64_t keyspace_hash(const struct keyspace *ks, const void *key, size_t len) {
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ull ^ ks->seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

struct topic *keyspace_find(const struct keyspace *ks, const void *key, size_t len) {
    if (!ks->size) return NULL;
    uint64_t h = keyspace_hash(ks, key, len);
    for (struct topic *t = ks->b[h & (ks->size - 1)]; t; t = t->hnext)
        if (t->hash == h && t->keylen == len && (len == 0 || !memcmp(t->key, key, len))) return t;
    return NULL;
}

static int keyspace_grow(struct keyspace *ks) {
    size_t size = ks->size ? ks->size * 2 : KEYSPACE_MIN_SIZE;
    struct topic **nb = calloc(size, sizeof *nb);
    if (!nb) return OBK_ERR_NOMEM;
    for (size_t i = 0; i < ks->size; i++) {
        struct topic *t = ks->b[i];
        while (t) {
            struct topic *n = t->hnext;
            size_t j = t->hash & (size - 1);
            t->hnext = nb[j];
            nb[j] = t;
            t = n;
        }
    }
    free(ks->b);
    ks->b = nb;
    ks->size = size;
    return OBK_OK;
}

int keyspace_insert(struct keyspace *ks, struct topic *t) {
    if (ks->count >= ks->size) {
        int rc = keyspace_grow(ks);
        if (rc != OBK_OK) return rc;
    }
    t->hash = keyspace_hash(ks, t->key, t->keylen);
    size_t j = t->hash & (ks->size - 1);
    t->hnext = ks->b[j];
    ks->b[j] = t;
    ks->count++;
    return OBK_OK;
}

void keyspace_remove(struct keyspace *ks, struct topic *t) {
    if (!ks->size) return;
    struct topic **pp = &ks->b[t->hash & (ks->size - 1)];
    while (*pp && *pp != t) pp = &(*pp)->hnext;
    if (*pp) {
        *pp = t->hnext;
        t->hnext = NULL;
        ks->count--;
    }
}

static uint64_t rev64(uint64_t v) {
    uint64_t r = 0;
    for (int i = 0; i < 64; i++) {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }
    return r;
}

uint64_t keyspace_scan(const struct keyspace *ks, uint64_t cursor, keyspace_scan_cb cb, void *ctx) {
    if (!ks->size) return 0;
    uint64_t mask = ks->size - 1;
    for (struct topic *t = ks->b[cursor & mask]; t; t = t->hnext) cb(ctx, t);
    /* increment the reversed cursor within the mask's bits */
    cursor |= ~mask;
    cursor = rev64(cursor);
    cursor++;
    cursor = rev64(cursor);
    return cursor;
}
