/* ring.c - per-topic ring cache under one global byte budget (see ring.h).
 *
 * Each entry is one allocation holding its lengths and bytes. A ring is a circular array of
 * entry pointers that doubles when full. The budget keeps the rings in a list ordered by their
 * last push; room is made by evicting written entries from the front of the least recently
 * pushed rings first, so a busy topic keeps its tail hot while idle topics give memory back.
 * Rings are created empty inside store_open (the server's loader thread); every push, eviction
 * and read happens on the main thread. */
#include "storage/ring.h"

#include <stdlib.h>
#include <string.h>

#include "base/obk_assert.h"
#include "base/status.h"

/* First capacity of a ring's pointer array. */
#define RING_MIN_CAP 64

void ring_budget_init(struct ring_budget *b, size_t max_bytes) {
    memset(b, 0, sizeof *b);
    b->max_bytes = max_bytes;
}

void ring_init(struct ring *r, struct ring_budget *b) {
    memset(r, 0, sizeof *r);
    r->budget = b;
}

static void lru_unlink(struct ring *r) {
    struct ring_budget *b = r->budget;
    if (!r->in_lru) return;
    if (r->prev)
        r->prev->next = r->next;
    else
        b->lru_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        b->lru_tail = r->prev;
    r->prev = r->next = NULL;
    r->in_lru = 0;
}

static void lru_touch(struct ring *r) {
    struct ring_budget *b = r->budget;
    if (r->in_lru && b->lru_tail == r) return;
    lru_unlink(r);
    r->prev = b->lru_tail;
    if (b->lru_tail)
        b->lru_tail->next = r;
    else
        b->lru_head = r;
    b->lru_tail = r;
    r->in_lru = 1;
}

static void ring_pop_front(struct ring *r) {
    struct ring_entry *re = r->e[r->head];
    r->bytes -= re->bytes;
    r->budget->used -= re->bytes;
    free(re);
    r->head = (r->head + 1) % r->cap;
    r->n--;
    if (r->unsubmitted > r->n) r->unsubmitted = r->n;
}

static void ring_pop_back(struct ring *r) {
    struct ring_entry *re = ring_at(r, r->n - 1);
    r->bytes -= re->bytes;
    r->budget->used -= re->bytes;
    free(re);
    r->n--;
    if (r->n) r->end = ring_at(r, r->n - 1)->offset + 1;
    if (r->unsubmitted > 0) r->unsubmitted--;
}

void ring_free(struct ring *r) {
    while (r->n) ring_pop_front(r);
    lru_unlink(r);
    free(r->e);
    r->e = NULL;
    r->cap = r->head = 0;
}

static int entry_filed(const struct ring_budget *b, const struct ring_entry *re) {
    return re->seq != 0 && re->seq <= b->filed_seq;
}

int ring_budget_make_room(struct ring_budget *b, size_t need) {
    struct ring *r = b->lru_head;
    while (b->used + need > b->max_bytes && r) {
        struct ring *next = r->next;
        while (r->n && b->used + need > b->max_bytes && entry_filed(b, ring_at(r, 0))) {
            ring_pop_front(r);
            b->evictions++;
        }
        if (r->n == 0) lru_unlink(r);
        r = next;
    }
    return b->used + need <= b->max_bytes;
}

int ring_push(struct ring *r, sid_t id, uint64_t offset, uint32_t nfields, const uint8_t *const *fv,
              const size_t *fvlen) {
    size_t payload = 0;
    for (uint32_t i = 0; i < 2 * nfields; i++) {
        if (fvlen[i] > UINT32_MAX) return OBK_ERR_TOOBIG;
        payload += fvlen[i];
    }
    size_t bytes = sizeof(struct ring_entry) + 2 * nfields * sizeof(uint32_t) + payload;
    if (bytes > r->budget->max_bytes) return OBK_ERR_TOOBIG;
    if (r->n && offset != r->end) return OBK_ERR_INVAL;
    if (!ring_budget_make_room(r->budget, bytes)) return OBK_ERR_AGAIN;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : RING_MIN_CAP;
        struct ring_entry **ne = malloc(cap * sizeof *ne);
        if (!ne) return OBK_ERR_NOMEM;
        for (size_t i = 0; i < r->n; i++) ne[i] = ring_at(r, i);
        free(r->e);
        r->e = ne;
        r->cap = cap;
        r->head = 0;
    }
    struct ring_entry *re = malloc(bytes);
    if (!re) return OBK_ERR_NOMEM;
    re->id = id;
    re->offset = offset;
    re->seq = 0;
    re->nfields = nfields;
    re->deleted = 0;
    re->bytes = bytes;
    uint8_t *p = (uint8_t *)(re->lens + 2 * nfields);
    for (uint32_t i = 0; i < 2 * nfields; i++) {
        re->lens[i] = (uint32_t)fvlen[i];
        if (fvlen[i]) memcpy(p, fv[i], fvlen[i]);
        p += fvlen[i];
    }
    r->e[(r->head + r->n) % r->cap] = re;
    r->n++;
    r->end = offset + 1;
    r->unsubmitted++;
    r->bytes += bytes;
    r->budget->used += bytes;
    lru_touch(r);
    return OBK_OK;
}

void ring_mark_submitted(struct ring *r, uint64_t seq) {
    OBK_ASSERT(r->unsubmitted <= r->n); /* the unsubmitted entries are the newest ones */
    for (size_t i = r->n - r->unsubmitted; i < r->n; i++) ring_at(r, i)->seq = seq;
    r->unsubmitted = 0;
}

size_t ring_bound(const struct ring *r, sid_t id, int upper, ring_key_fn key, const void *ctx) {
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct ring_entry *e = ring_at(r, mid);
        int c = sid_cmp(key ? key(ctx, e) : e->id, id);
        if (c < 0 || (upper && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t ring_find_offset(const struct ring *r, uint64_t offset) {
    if (!r->n || offset < ring_first_offset(r)) return r->n;
    uint64_t i = offset - ring_first_offset(r);
    return i < r->n ? (size_t)i : r->n;
}

void ring_drop_before(struct ring *r, uint64_t offset) {
    while (r->n && ring_at(r, 0)->offset < offset) ring_pop_front(r);
}

void ring_drop_filed_before(struct ring *r, uint64_t offset) {
    while (r->n && ring_at(r, 0)->offset < offset && entry_filed(r->budget, ring_at(r, 0)))
        ring_pop_front(r);
    if (r->n == 0) lru_unlink(r);
}

void ring_drop_from(struct ring *r, uint64_t offset) {
    while (r->n && ring_at(r, r->n - 1)->offset >= offset) ring_pop_back(r);
}

int ring_entry_view(const struct ring_entry *re, struct ring_scratch *sc, struct obk_entry *out) {
    if (re->nfields > sc->cap) {
        const uint8_t **fv = realloc(sc->fv, 2 * re->nfields * sizeof *fv);
        if (!fv) return OBK_ERR_NOMEM;
        sc->fv = fv;
        size_t *fl = realloc(sc->fvlen, 2 * re->nfields * sizeof *fl);
        if (!fl) return OBK_ERR_NOMEM;
        sc->fvlen = fl;
        sc->cap = re->nfields;
    }
    const uint8_t *p = (const uint8_t *)(re->lens + 2 * re->nfields);
    for (uint32_t i = 0; i < 2 * re->nfields; i++) {
        sc->fv[i] = p;
        sc->fvlen[i] = re->lens[i];
        p += re->lens[i];
    }
    out->id = re->id;
    out->offset = re->offset;
    out->nfields = re->nfields;
    out->fv = sc->fv;
    out->fvlen = sc->fvlen;
    return OBK_OK;
}

void ring_scratch_free(struct ring_scratch *sc) {
    free(sc->fv);
    free(sc->fvlen);
    memset(sc, 0, sizeof *sc);
}
