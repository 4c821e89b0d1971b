/* idmap.h - an ordered map keyed by stream IDs (ms, seq), for pending entries lists: insert,
 * delete, lookup, count, first/last, and ordered iteration from a lower bound, each O(log n).
 *
 * A skip list (Pugh) with p = 1/4: no rebalancing, nodes never move, so a node pointer stays
 * valid until that node is deleted and iteration may delete the node it just left. Values are
 * caller pointers and must not be NULL (NULL means "absent"). Not thread-safe: one owner. */
#ifndef OBK_IDMAP_H
#define OBK_IDMAP_H

#include <stddef.h>
#include <stdint.h>

/* 4^16 > 4e9 entries before the top level stops helping. */
#define IDMAP_MAX_LEVEL 16

struct idmap_node {
    uint64_t ms, seq;
    void *value;
    int level;
    struct idmap_node *next[]; /* level pointers */
};

struct idmap {
    struct idmap_node *head; /* sentinel with IDMAP_MAX_LEVEL pointers */
    int level;               /* levels in use (1..IDMAP_MAX_LEVEL) */
    size_t count;
    uint64_t rng; /* xorshift state for node levels */
};

/* OBK_OK or OBK_ERR_NOMEM. */
int idmap_init(struct idmap *m);
/* Frees every node (free_value, when given, is called on each value) and the sentinel. */
void idmap_free(struct idmap *m, void (*free_value)(void *));
/* OBK_ERR_EXISTS when the key is present (nothing changes), OBK_ERR_NOMEM, OBK_ERR_INVAL for a
 * NULL value. */
int idmap_insert(struct idmap *m, uint64_t ms, uint64_t seq, void *value);
/* The value, or NULL. */
void *idmap_get(const struct idmap *m, uint64_t ms, uint64_t seq);
/* Removes the key and returns its value (NULL when absent). */
void *idmap_delete(struct idmap *m, uint64_t ms, uint64_t seq);
static inline size_t idmap_count(const struct idmap *m) {
    return m->count;
}
/* First node with key >= (ms, seq), or NULL. */
struct idmap_node *idmap_lower_bound(const struct idmap *m, uint64_t ms, uint64_t seq);
struct idmap_node *idmap_first(const struct idmap *m);
struct idmap_node *idmap_last(const struct idmap *m);
static inline struct idmap_node *idmap_next(const struct idmap_node *n) {
    return n->next[0];
}

#endif
