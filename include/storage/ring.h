/* ring.h - the ring cache: each topic's most recent entries in memory, under one byte budget
 * shared by every topic. Created empty inside store_open (the server's loader thread), used by
 * the main thread only.
 *
 * A ring holds a contiguous run of dense offsets [first, first + n). Entries are pushed at the
 * end and evicted from the front, oldest topic first (the rings form a list ordered by their
 * last push). An entry is evictable only once the persist thread has written it into its
 * segment file (its submission sequence is at or below the budget's filed_seq: a write the log
 * holds may wait in memory, persist_set_defer_bytes); other entries are never evicted, so
 * ring_push answers OBK_ERR_AGAIN when the budget is full of them. */
#ifndef OBK_RING_H
#define OBK_RING_H

#include <stddef.h>
#include <stdint.h>

#include "storage/entry.h"
#include "storage/sid.h"

struct ring_entry {
    sid_t id;
    uint64_t offset;
    uint64_t seq; /* submission holding it; 0 while in the filling batch */
    uint32_t nfields;
    uint32_t deleted; /* XDEL tombstone */
    size_t bytes;     /* accounted size */
    uint32_t lens[];  /* 2 * nfields lengths, then the bytes of field0 value0 ... */
};

struct ring;

struct ring_budget {
    size_t max_bytes;
    size_t used;
    uint64_t filed_seq; /* set by the store from persist completions (persist_filed_seq) */
    uint64_t evictions;
    struct ring *lru_head, *lru_tail; /* least recently pushed first */
};

struct ring {
    struct ring_budget *budget;
    struct ring_entry **e;
    size_t cap, head, n;
    uint64_t end; /* the last entry's offset + 1 while n > 0 (a push checks it without touching
                     that entry, which is cold when a thousand topics take turns) */
    size_t bytes;
    size_t unsubmitted; /* entries at the end with seq 0 */
    struct ring *prev, *next;
    int in_lru;
};

/* Reusable pointer arrays for ring_entry_view. */
struct ring_scratch {
    const uint8_t **fv;
    size_t *fvlen;
    uint32_t cap;
};

void ring_budget_init(struct ring_budget *b, size_t max_bytes);
void ring_init(struct ring *r, struct ring_budget *b);
void ring_free(struct ring *r); /* drops every entry (returns its bytes to the budget) */

/* Appends an entry (offset must be first + n unless the ring is empty). OBK_ERR_AGAIN when
 * the budget holds only unwritten entries, OBK_ERR_TOOBIG when one entry exceeds the budget. */
int ring_push(struct ring *r, sid_t id, uint64_t offset, uint32_t nfields, const uint8_t *const *fv,
              const size_t *fvlen);
/* Gives the entries pushed since the last call the submission sequence seq. */
void ring_mark_submitted(struct ring *r, uint64_t seq);
/* Evicts written entries (any ring, oldest first) until used + need <= max. 1 when there is
 * room afterwards. */
int ring_budget_make_room(struct ring_budget *b, size_t need);

static inline size_t ring_count(const struct ring *r) {
    return r->n;
}
static inline struct ring_entry *ring_at(const struct ring *r, size_t i) {
    return r->e[(r->head + i) % r->cap];
}
/* First offset held (meaningless when empty). */
static inline uint64_t ring_first_offset(const struct ring *r) {
    return r->n ? ring_at(r, 0)->offset : 0;
}
/* The key entries are searched by: their ID unless the owner orders them otherwise (a
 * topic after XSETID below a stored entry, tstate.h). Keys are in order along the ring. */
typedef sid_t (*ring_key_fn)(const void *ctx, const struct ring_entry *e);
/* Index of the first entry whose key is >= id (upper: > id), ring_count when none; key NULL
 * searches by ID. */
size_t ring_bound(const struct ring *r, sid_t id, int upper, ring_key_fn key, const void *ctx);
/* Index of the entry holding offset, or ring_count when outside. */
size_t ring_find_offset(const struct ring *r, uint64_t offset);
/* Drops entries below offset (log start moved) or from the end back to offset (undo). */
void ring_drop_before(struct ring *r, uint64_t offset);
void ring_drop_from(struct ring *r, uint64_t offset);
/* Drops entries below offset that are already in their files (trim: the others stay until
 * filed, readers skip them). */
void ring_drop_filed_before(struct ring *r, uint64_t offset);
/* Fills *out for an entry (pointers valid while the entry and the scratch live). */
int ring_entry_view(const struct ring_entry *re, struct ring_scratch *sc, struct obk_entry *out);
void ring_scratch_free(struct ring_scratch *sc);

#endif
