/* fdlru.h - a least-recently-used list of open descriptors that can be closed and opened again
 * on demand, under a cap: sealed segments' read descriptors (the main thread's) and the persist
 * thread's write descriptors each live in one.
 *
 * Intrusive: the owner embeds a struct fdlru_node (zeroed = not in the list) in each object that
 * may hold a descriptor, touches it on every open and use, and removes it when it closes the
 * descriptor. To make room the list names its least recently used node and the owner closes
 * that descriptor itself (only the owner knows how: a write descriptor is synced first). A
 * descriptor in use while its owner may open others (a read calling back per entry) is pinned
 * and never chosen. One list belongs to one thread; no locks. */
#ifndef OBK_FDLRU_H
#define OBK_FDLRU_H

#include <stddef.h>
#include <stdint.h>

struct fdlru_node {
    struct fdlru_node *prev, *next; /* NULL when not in a list */
    unsigned pins;                  /* in use right now: never chosen to close */
};

struct fdlru {
    struct fdlru_node head; /* head.next: most recently used, head.prev: least */
    size_t n;               /* nodes in the list: descriptors open */
    size_t cap;             /* at most this many open (0: no limit) */
    uint64_t evictions;     /* descriptors closed to make room */
};

/* Closes the descriptor of x (called by fdlru_shrink; fdlru unlinks x afterwards). */
typedef void (*fdlru_close_fn)(struct fdlru_node *x, void *ctx);

void fdlru_init(struct fdlru *l, size_t cap);
static inline int fdlru_linked(const struct fdlru_node *x) {
    return x->next != NULL;
}
/* x's descriptor was opened or used: x becomes the most recently used (linked if it was not). */
void fdlru_touch(struct fdlru *l, struct fdlru_node *x);
/* x's descriptor was closed: unlinks it (nothing when it is not linked). */
void fdlru_remove(struct fdlru *l, struct fdlru_node *x);
/* Pins and unpins x while its descriptor is in use (pins nest). */
static inline void fdlru_pin(struct fdlru_node *x) {
    x->pins++;
}
static inline void fdlru_unpin(struct fdlru_node *x) {
    x->pins--;
}
/* The least recently used node, NULL when empty. */
struct fdlru_node *fdlru_oldest(const struct fdlru *l);
/* Closes descriptors, least recently used first and never a pinned one, until at most keep are
 * open (or only pinned ones are left); each is counted as an eviction. Returns how many it
 * closed. */
size_t fdlru_shrink(struct fdlru *l, size_t keep, fdlru_close_fn close_fn, void *ctx);
/* Makes room for one more descriptor under the cap (nothing without a cap). */
size_t fdlru_make_room(struct fdlru *l, fdlru_close_fn close_fn, void *ctx);
/* Changes the cap; descriptors over it are closed at the next make_room (or now, by a shrink). */
void fdlru_set_cap(struct fdlru *l, size_t cap);

#endif
