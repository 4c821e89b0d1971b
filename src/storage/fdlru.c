/* fdlru.c - the least-recently-used list of closable descriptors (see fdlru.h).
 *
 * Design: a circular doubly linked list through a sentinel, so touch, remove and the oldest
 * node are O(1) and an object can sit in the list without any allocation. The list never
 * closes anything by itself: fdlru_shrink hands each victim to the owner's close function.
 * State: owned by the thread that owns the list (main thread for read descriptors, the persist
 * thread for write descriptors). */
#include "storage/fdlru.h"

#include "base/obk_assert.h"

void fdlru_init(struct fdlru *l, size_t cap) {
    l->head.prev = l->head.next = &l->head;
    l->n = 0;
    l->cap = cap;
    l->evictions = 0;
}

static void unlink_node(struct fdlru *l, struct fdlru_node *x) {
    OBK_ASSERT(l->n > 0);
    x->prev->next = x->next;
    x->next->prev = x->prev;
    x->prev = x->next = NULL;
    l->n--;
}

void fdlru_touch(struct fdlru *l, struct fdlru_node *x) {
    if (fdlru_linked(x)) {
        if (l->head.next == x) return;
        unlink_node(l, x);
    }
    x->prev = &l->head;
    x->next = l->head.next;
    l->head.next->prev = x;
    l->head.next = x;
    l->n++;
}

void fdlru_remove(struct fdlru *l, struct fdlru_node *x) {
    if (fdlru_linked(x)) unlink_node(l, x);
}

struct fdlru_node *fdlru_oldest(const struct fdlru *l) {
    return l->n ? l->head.prev : NULL;
}

size_t fdlru_shrink(struct fdlru *l, size_t keep, fdlru_close_fn close_fn, void *ctx) {
    size_t closed = 0;
    struct fdlru_node *x = l->head.prev;
    while (l->n > keep && x != &l->head) {
        struct fdlru_node *newer = x->prev;
        if (!x->pins) {
            close_fn(x, ctx);
            fdlru_remove(l, x); /* the owner may have removed it already */
            l->evictions++;
            closed++;
        }
        x = newer;
    }
    return closed;
}

size_t fdlru_make_room(struct fdlru *l, fdlru_close_fn close_fn, void *ctx) {
    if (l->cap == 0 || l->n < l->cap) return 0;
    return fdlru_shrink(l, l->cap - 1, close_fn, ctx);
}

void fdlru_set_cap(struct fdlru *l, size_t cap) {
    l->cap = cap;
}
