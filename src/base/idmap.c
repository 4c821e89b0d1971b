/* idmap.c - ordered map of stream IDs (see idmap.h): a skip list with p = 1/4.
 *
 * Design: every node has a random level L (P(L > k) = 4^-k) and L forward pointers; searches
 * walk down from the highest level in use, so lookups, inserts and deletes take O(log n)
 * expected steps and no node is ever moved (pointers to nodes stay valid). Chosen over a B+tree
 * for its size (one allocation per entry, ~1.33 pointers on average) and because PEL deletes
 * hit the middle: no rebalancing or node merging. Owned by whoever holds the map (the main
 * thread for PELs). */
#include "base/idmap.h"

#include <stdlib.h>

#include "base/status.h"

static int key_cmp(uint64_t ams, uint64_t aseq, uint64_t bms, uint64_t bseq) {
    if (ams != bms) return ams < bms ? -1 : 1;
    if (aseq != bseq) return aseq < bseq ? -1 : 1;
    return 0;
}

static int random_level(struct idmap *m) {
    uint64_t x = m->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    m->rng = x;
    int level = 1;
    while (level < IDMAP_MAX_LEVEL && (x & 3) == 0) {
        level++;
        x >>= 2;
    }
    return level;
}

int idmap_init(struct idmap *m) {
    m->head = calloc(1, sizeof *m->head + IDMAP_MAX_LEVEL * sizeof(struct idmap_node *));
    if (!m->head) return OBK_ERR_NOMEM;
    m->head->level = IDMAP_MAX_LEVEL;
    m->level = 1;
    m->count = 0;
    m->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)m;
    if (!m->rng) m->rng = 1;
    return OBK_OK;
}

void idmap_free(struct idmap *m, void (*free_value)(void *)) {
    if (!m->head) return;
    struct idmap_node *n = m->head->next[0];
    while (n) {
        struct idmap_node *next = n->next[0];
        if (free_value) free_value(n->value);
        free(n);
        n = next;
    }
    free(m->head);
    m->head = NULL;
    m->count = 0;
}

/* Fills update[i] with the last node at level i whose key is below (ms, seq). */
static void find_path(const struct idmap *m, uint64_t ms, uint64_t seq,
                      struct idmap_node **update) {
    struct idmap_node *x = m->head;
    for (int i = m->level - 1; i >= 0; i--) {
        while (x->next[i] && key_cmp(x->next[i]->ms, x->next[i]->seq, ms, seq) < 0) x = x->next[i];
        update[i] = x;
    }
}

int idmap_insert(struct idmap *m, uint64_t ms, uint64_t seq, void *value) {
    struct idmap_node *update[IDMAP_MAX_LEVEL];
    if (!value) return OBK_ERR_INVAL;
    find_path(m, ms, seq, update);
    struct idmap_node *x = update[0]->next[0];
    if (x && x->ms == ms && x->seq == seq) return OBK_ERR_EXISTS;
    int level = random_level(m);
    x = malloc(sizeof *x + (size_t)level * sizeof(struct idmap_node *));
    if (!x) return OBK_ERR_NOMEM;
    x->ms = ms;
    x->seq = seq;
    x->value = value;
    x->level = level;
    for (int i = m->level; i < level; i++) update[i] = m->head;
    if (level > m->level) m->level = level;
    for (int i = 0; i < level; i++) {
        x->next[i] = update[i]->next[i];
        update[i]->next[i] = x;
    }
    m->count++;
    return OBK_OK;
}

struct idmap_node *idmap_lower_bound(const struct idmap *m, uint64_t ms, uint64_t seq) {
    struct idmap_node *x = m->head;
    for (int i = m->level - 1; i >= 0; i--)
        while (x->next[i] && key_cmp(x->next[i]->ms, x->next[i]->seq, ms, seq) < 0) x = x->next[i];
    return x->next[0];
}

void *idmap_get(const struct idmap *m, uint64_t ms, uint64_t seq) {
    struct idmap_node *x = idmap_lower_bound(m, ms, seq);
    return x && x->ms == ms && x->seq == seq ? x->value : NULL;
}

void *idmap_delete(struct idmap *m, uint64_t ms, uint64_t seq) {
    struct idmap_node *update[IDMAP_MAX_LEVEL];
    find_path(m, ms, seq, update);
    struct idmap_node *x = update[0]->next[0];
    if (!x || x->ms != ms || x->seq != seq) return NULL;
    for (int i = 0; i < x->level; i++) update[i]->next[i] = x->next[i];
    while (m->level > 1 && !m->head->next[m->level - 1]) m->level--;
    void *v = x->value;
    free(x);
    m->count--;
    return v;
}

struct idmap_node *idmap_first(const struct idmap *m) {
    return m->head->next[0];
}

struct idmap_node *idmap_last(const struct idmap *m) {
    struct idmap_node *x = m->head;
    for (int i = m->level - 1; i >= 0; i--)
        while (x->next[i]) x = x->next[i];
    return x == m->head ? NULL : x;
}
