/* idmp.c - the idempotent-producer state of one stream (see idmp.h).
 *
 * Design: producers in a list in creation order (few per stream), each with its ids in a FIFO
 * (oldest first,
 * the eviction order), and one hash table over every (producer, iid) pair for lookups;
 * chained buckets, doubled when the load passes 1. Hash: FNV-1a over the pid, a separator and
 * the iid. The table never shrinks (an emptied producer is removed; its slots are reused).
 * Owned by the thread that holds the store. */
#include "storage/idmp.h"

#include <stdlib.h>
#include <string.h>

#include "base/status.h"

struct iid_node {
    struct iid_node *fifo_next; /* the producer's next newer id */
    struct iid_node *hnext;
    struct producer *p;
    uint64_t hash;
    sid_t id;
    size_t len;
    uint8_t iid[]; /* len bytes */
};

struct producer {
    struct producer *next;
    struct iid_node *head, *tail;
    uint64_t count;
    size_t len;
    uint8_t pid[]; /* len bytes */
};

struct idmp {
    int64_t duration_s;
    uint64_t maxsize;
    struct producer *producers, *last; /* in creation order (a replay recreates it) */
    uint64_t npids, niids;
    struct iid_node **table;
    size_t size;
    uint64_t added, duplicates;
    uint64_t bytes;
};

static uint64_t hash_of(const void *pid, size_t plen, const void *iid, size_t ilen) {
    uint64_t h = 0xcbf29ce484222325ull;
    const uint8_t *p = pid, *q = iid;
    for (size_t i = 0; i < plen; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
    h = (h ^ plen) * 0x100000001b3ull; /* (ab, c) and (a, bc) differ */
    for (size_t i = 0; i < ilen; i++) h = (h ^ q[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    return h;
}

int idmp_new(int64_t duration_s, uint64_t maxsize, struct idmp **out) {
    struct idmp *m = calloc(1, sizeof *m);
    if (!m) return OBK_ERR_NOMEM;
    m->duration_s = duration_s;
    m->maxsize = maxsize;
    *out = m;
    return OBK_OK;
}

static void forget_all(struct idmp *m) {
    for (struct producer *p = m->producers, *pn; p; p = pn) {
        pn = p->next;
        for (struct iid_node *n = p->head, *nn; n; n = nn) {
            nn = n->fifo_next;
            free(n);
        }
        free(p);
    }
    m->producers = m->last = NULL;
    if (m->table) memset(m->table, 0, m->size * sizeof *m->table);
    m->npids = m->niids = 0;
    m->bytes = 0;
}

void idmp_free(struct idmp *m) {
    if (!m) return;
    forget_all(m);
    free(m->table);
    free(m);
}

int64_t idmp_duration(const struct idmp *m) {
    return m->duration_s;
}

uint64_t idmp_maxsize(const struct idmp *m) {
    return m->maxsize;
}

int idmp_configure(struct idmp *m, int64_t duration_s, uint64_t maxsize) {
    if (duration_s == m->duration_s && maxsize == m->maxsize) return 0;
    forget_all(m);
    m->duration_s = duration_s;
    m->maxsize = maxsize;
    return 1;
}

static struct iid_node *lookup(const struct idmp *m, const void *pid, size_t plen, const void *iid,
                               size_t ilen, uint64_t h) {
    if (!m->size) return NULL;
    for (struct iid_node *n = m->table[h & (m->size - 1)]; n; n = n->hnext)
        if (n->hash == h && n->len == ilen && n->p->len == plen && !memcmp(n->iid, iid, ilen) &&
            !memcmp(n->p->pid, pid, plen))
            return n;
    return NULL;
}

/* The ID time before which ids are expired, relative to t_ms. */
static int64_t horizon(const struct idmp *m, int64_t t_ms) {
    return t_ms - m->duration_s * 1000;
}

int idmp_find(const struct idmp *m, const void *pid, size_t plen, const void *iid, size_t ilen,
              int64_t now_ms, sid_t *out) {
    struct iid_node *n = lookup(m, pid, plen, iid, ilen, hash_of(pid, plen, iid, ilen));
    if (!n || (int64_t)n->id.ms <= horizon(m, now_ms)) return 0;
    *out = n->id;
    return 1;
}

static void unlink_hash(struct idmp *m, struct iid_node *n) {
    struct iid_node **pp = &m->table[n->hash & (m->size - 1)];
    while (*pp != n) pp = &(*pp)->hnext;
    *pp = n->hnext;
}

static void remove_producer(struct idmp *m, struct producer *p) {
    struct producer **pp = &m->producers, *prev = NULL;
    while (*pp != p) prev = *pp, pp = &(*pp)->next;
    *pp = p->next;
    if (m->last == p) m->last = prev;
    m->bytes -= sizeof *p + p->len;
    m->npids--;
    free(p);
}

/* Drops the producer's oldest id. */
static void drop_oldest(struct idmp *m, struct producer *p) {
    struct iid_node *n = p->head;
    p->head = n->fifo_next;
    if (!p->head) p->tail = NULL;
    p->count--;
    unlink_hash(m, n);
    m->bytes -= sizeof *n + n->len;
    m->niids--;
    free(n);
}

static int grow(struct idmp *m) {
    size_t size = m->size ? m->size * 2 : 16;
    struct iid_node **t = calloc(size, sizeof *t);
    if (!t) return OBK_ERR_NOMEM;
    for (size_t i = 0; i < m->size; i++)
        for (struct iid_node *n = m->table[i], *nn; n; n = nn) {
            nn = n->hnext;
            n->hnext = t[n->hash & (size - 1)];
            t[n->hash & (size - 1)] = n;
        }
    free(m->table);
    m->table = t;
    m->size = size;
    return OBK_OK;
}

/* The add of idmp_add and idmp_restore: with expire, the duration rule runs too. */
static int add_id(struct idmp *m, const void *pid, size_t plen, const void *iid, size_t ilen,
                  sid_t id, int expire) {
    uint64_t h = hash_of(pid, plen, iid, ilen);
    struct iid_node *old = lookup(m, pid, plen, iid, ilen, h);
    struct producer *p = old ? old->p : NULL;
    for (struct producer *q = m->producers; !p && q; q = q->next)
        if (q->len == plen && !memcmp(q->pid, pid, plen)) p = q;
    if (m->niids + 1 > m->size && grow(m) != OBK_OK) return OBK_ERR_NOMEM;
    struct iid_node *n = malloc(sizeof *n + (ilen ? ilen : 1));
    if (!n) return OBK_ERR_NOMEM;
    if (!p) {
        if (!(p = calloc(1, sizeof *p + (plen ? plen : 1)))) {
            free(n);
            return OBK_ERR_NOMEM;
        }
        p->len = plen;
        if (plen) memcpy(p->pid, pid, plen);
        if (m->last)
            m->last->next = p;
        else
            m->producers = p;
        m->last = p;
        m->npids++;
        m->bytes += sizeof *p + plen;
    }
    if (old) { /* the same pair again (a replica, or an expired id reused): the newer wins */
        struct iid_node **pp = &p->head, *prev = NULL;
        while (*pp != old) prev = *pp, pp = &(*pp)->fifo_next;
        *pp = old->fifo_next;
        if (p->tail == old) p->tail = prev;
        p->count--;
        unlink_hash(m, old);
        m->bytes -= sizeof *old + old->len;
        m->niids--;
        free(old);
    }
    n->fifo_next = NULL;
    n->p = p;
    n->hash = h;
    n->id = id;
    n->len = ilen;
    if (ilen) memcpy(n->iid, iid, ilen);
    n->hnext = m->table[h & (m->size - 1)];
    m->table[h & (m->size - 1)] = n;
    if (p->tail)
        p->tail->fifo_next = n;
    else
        p->head = n;
    p->tail = n;
    p->count++;
    m->niids++;
    m->bytes += sizeof *n + ilen;
    m->added++;
    while (p->count > m->maxsize ||
           (expire && p->head != n && (int64_t)p->head->id.ms <= horizon(m, (int64_t)id.ms)))
        drop_oldest(m, p);
    return OBK_OK;
}

int idmp_add(struct idmp *m, const void *pid, size_t plen, const void *iid, size_t ilen, sid_t id) {
    return add_id(m, pid, plen, iid, ilen, id, 1);
}

int idmp_restore(struct idmp *m, const void *pid, size_t plen, const void *iid, size_t ilen,
                 sid_t id) {
    return add_id(m, pid, plen, iid, ilen, id, 0);
}

uint64_t idmp_clamp(struct idmp *m, sid_t last_id) {
    uint64_t dropped = 0;
    for (struct producer *p = m->producers, *pn; p; p = pn) {
        pn = p->next;
        struct iid_node **pp = &p->head, *prev = NULL;
        while (*pp) {
            struct iid_node *n = *pp;
            if (sid_cmp(n->id, last_id) <= 0) {
                prev = n;
                pp = &n->fifo_next;
                continue;
            }
            *pp = n->fifo_next;
            if (p->tail == n) p->tail = prev;
            p->count--;
            unlink_hash(m, n);
            m->bytes -= sizeof *n + n->len;
            m->niids--;
            free(n);
            dropped++;
        }
        if (!p->count) remove_producer(m, p);
    }
    return dropped;
}

void idmp_get_stats(const struct idmp *m, struct idmp_stats *out) {
    out->pids = m->npids;
    out->iids = m->niids;
    out->added = m->added;
    out->duplicates = m->duplicates;
}

void idmp_set_counters(struct idmp *m, uint64_t added, uint64_t duplicates) {
    m->added = added;
    m->duplicates = duplicates;
}

void idmp_count_duplicate(struct idmp *m) {
    m->duplicates++;
}

void idmp_foreach(const struct idmp *m,
                  void (*cb)(void *ctx, const uint8_t *pid, size_t plen, const uint8_t *iid,
                             size_t ilen, sid_t id),
                  void *ctx) {
    for (const struct producer *p = m->producers; p; p = p->next)
        for (const struct iid_node *n = p->head; n; n = n->fifo_next)
            cb(ctx, p->pid, p->len, n->iid, n->len, n->id);
}

uint64_t idmp_memory(const struct idmp *m) {
    return sizeof *m + m->size * sizeof *m->table + m->bytes;
}
