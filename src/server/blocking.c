/* blocking.c - clients blocked on stream keys (see blocking.h).
 *
 * Design (after Redis's blocked.c): each (db, key) with waiters has a FIFO of registrations.
 * XADD only marks the key ready; blocking_serve_ready(), run from before_sleep, walks each ready
 * key's FIFO in blocking order and asks each client's serve function to reply from the data
 * that is there now. So a wake-up happens only when data really arrived by the end of the loop
 * turn (an XADD then DEL inside one MULTI wakes nobody), every blocked reader sees the entries
 * in order, and a reply that reads a topic is held like any other until the topic is durable.
 * A blocked client's input is not processed until it is unblocked. Serving and timing out run
 * through command_continue_blocked, so the reply obeys the durability rule and the blocked
 * command is counted as Redis counts it. blocking_remove is the transport's release hook.
 * Main thread only. */
#include "server/blocking.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "server/command.h"
#include "server/conn.h"
#include "server/runtime.h"

struct waitq;

struct waiter {
    struct client *c;
    int idx; /* the key's index in the client's request */
    struct waitq *q;
    struct waiter *prev, *next;
};

struct waitq {
    int db;
    char *key;
    size_t len;
    uint64_t hash;
    struct waiter *head, *tail;
    int ready;
    struct waitq *ready_next;
    struct waitq *hnext;
};

struct blocked {
    struct blocking_request req;
    int db;
    struct waiter *w; /* one per key */
    struct event *timer;
    struct event *retry; /* req.retry_ms */
};

static struct waitq **table;
static size_t table_size, table_count;
static struct waitq *ready_head, *ready_tail;
static int nblocked;

int blocking_count(void) {
    return nblocked;
}

/* FNV-1a over db and key. */
static uint64_t key_hash(int db, const char *key, size_t len) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)db;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    return h;
}

static struct waitq *find_q(int db, const char *key, size_t len, uint64_t h) {
    if (!table_size) return NULL;
    for (struct waitq *q = table[h & (table_size - 1)]; q; q = q->hnext)
        if (q->hash == h && q->db == db && q->len == len && !memcmp(q->key, key, len)) return q;
    return NULL;
}

static int grow_table(void) {
    size_t size = table_size ? table_size * 2 : 64;
    struct waitq **nt = calloc(size, sizeof(*nt));
    if (!nt) return -1;
    for (size_t i = 0; i < table_size; i++) {
        for (struct waitq *q = table[i], *next; q; q = next) {
            next = q->hnext;
            q->hnext = nt[q->hash & (size - 1)];
            nt[q->hash & (size - 1)] = q;
        }
    }
    free(table);
    table = nt;
    table_size = size;
    return 0;
}

static struct waitq *get_q(int db, const char *key, size_t len) {
    uint64_t h = key_hash(db, key, len);
    struct waitq *q = find_q(db, key, len, h);
    if (q) return q;
    if (table_count + 1 > table_size && grow_table() != 0) return NULL;
    q = calloc(1, sizeof(*q));
    if (!q || !(q->key = malloc(len ? len : 1))) {
        free(q);
        return NULL;
    }
    memcpy(q->key, key, len);
    q->len = len;
    q->db = db;
    q->hash = h;
    q->hnext = table[h & (table_size - 1)];
    table[h & (table_size - 1)] = q;
    table_count++;
    return q;
}

/* Frees an empty queue that is not waiting to be served. */
static void maybe_free_q(struct waitq *q) {
    if (q->head || q->ready) return;
    struct waitq **pp = &table[q->hash & (table_size - 1)];
    while (*pp != q) pp = &(*pp)->hnext;
    *pp = q->hnext;
    table_count--;
    free(q->key);
    free(q);
}

static void free_request(struct blocking_request *r) {
    for (int i = 0; i < r->nkeys; i++) free(r->keys[i]);
    free(r->keys);
    free(r->keylens);
    free(r->ids);
}

const struct blocking_request *blocking_request_of(const struct client *c) {
    return c->blocked ? &c->blocked->req : NULL;
}

static void unlink_waiters(struct blocked *b) {
    for (int i = 0; i < b->req.nkeys - b->req.extra; i++) {
        struct waiter *w = &b->w[i];
        if (!w->q) continue;
        if (w->prev)
            w->prev->next = w->next;
        else
            w->q->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        else
            w->q->tail = w->prev;
        struct waitq *q = w->q;
        w->q = NULL;
        maybe_free_q(q);
    }
}

void blocking_remove(struct client *c) {
    struct blocked *b = c->blocked;
    if (!b) return;
    unlink_waiters(b);
    if (b->timer) event_free(b->timer);
    if (b->retry) event_free(b->retry);
    free_request(&b->req);
    free(b->w);
    free(b);
    c->blocked = NULL;
    c->flags &= ~CLIENT_BLOCKED;
    nblocked--;
}

/* Ends the block after the client got its reply (data or timeout) and resumes its input. */
static void unblock_and_resume(struct client *c) {
    blocking_remove(c);
    conn_flush_stage(c);
    conn_resume_input(c);
}

static int reply_timeout(struct client *c, int arg) {
    (void)arg;
    reply_null_array(&c->reply);
    return 1;
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct client *c = arg;
    int (*fn)(struct client *, int) = c->blocked->req.on_timeout;
    command_continue_blocked(c, fn ? fn : reply_timeout, 0);
    unblock_and_resume(c);
}

static int serve_one(struct client *c, int idx) {
    return c->blocked->req.serve(c, idx);
}

static int arm(struct event *ev, long long ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return evtimer_add(ev, &tv);
}

/* A timed retry: serves from the first key that can, or waits for the next retry. A retry
 * that cannot be armed (out of memory in libevent) leaves the key signals and the timeout. */
static void retry_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct client *c = arg;
    for (int i = 0; i < c->blocked->req.nkeys - c->blocked->req.extra; i++) {
        if (command_continue_blocked(c, serve_one, i)) {
            unblock_and_resume(c);
            return;
        }
    }
    arm(c->blocked->retry, c->blocked->req.retry_in(c));
}

void blocking_wake(struct client *c) {
    if (!(c->flags & CLIENT_BLOCKED) || !c->blocked) return;
    if (command_continue_blocked(c, serve_one, -1)) unblock_and_resume(c);
}

static int copy_request(struct blocking_request *dst, const struct blocking_request *src) {
    size_t n = src->nkeys > 0 ? (size_t)src->nkeys : 1; /* WAIT blocks on no key */
    *dst = *src;
    dst->keys = calloc(n, sizeof(char *));
    dst->keylens = malloc(n * sizeof(size_t));
    dst->ids = malloc(n * sizeof(sid_t));
    if (!dst->keys || !dst->keylens || !dst->ids) goto fail;
    for (int i = 0; i < src->nkeys; i++) {
        if (!(dst->keys[i] = malloc(src->keylens[i] ? src->keylens[i] : 1))) goto fail;
        memcpy(dst->keys[i], src->keys[i], src->keylens[i]);
        dst->keylens[i] = src->keylens[i];
        dst->ids[i] = src->ids[i];
    }
    return 0;
fail:
    free_request(dst);
    return -1;
}

int blocking_block(struct client *c, const struct blocking_request *req) {
    struct blocked *b = calloc(1, sizeof(*b));
    if (!b) return -1;
    if (copy_request(&b->req, req) != 0 ||
        !(b->w = calloc(req->nkeys > 0 ? (size_t)req->nkeys : 1, sizeof(*b->w)))) {
        free(b);
        return -1;
    }
    b->db = c->db;
    for (int i = 0; i < req->nkeys - req->extra; i++) {
        struct waitq *q = get_q(c->db, req->keys[i], req->keylens[i]);
        if (!q) {
            unlink_waiters(b);
            free_request(&b->req);
            free(b->w);
            free(b);
            return -1;
        }
        struct waiter *w = &b->w[i];
        w->c = c;
        w->idx = i;
        w->q = q;
        w->prev = q->tail;
        if (q->tail)
            q->tail->next = w;
        else
            q->head = w;
        q->tail = w;
    }
    if (req->timeout_ms > 0) {
        b->timer = evtimer_new(runtime.base, timeout_cb, c);
        if (!b->timer || arm(b->timer, req->timeout_ms) != 0) { /* a BLOCK must time out */
            if (b->timer) event_free(b->timer);
            unlink_waiters(b);
            free_request(&b->req);
            free(b->w);
            free(b);
            return -1;
        }
    }
    if (req->retry_ms > 0 && (b->retry = evtimer_new(runtime.base, retry_cb, c)))
        arm(b->retry, req->retry_ms);
    c->blocked = b;
    c->flags |= CLIENT_BLOCKED;
    nblocked++;
    return 0;
}

int blocking_block_with(struct client *c, struct blocking_request *req, int nkeys, char **keys,
                        size_t *keylens, sid_t *ids, int nextra, char **extra, size_t *extralen) {
    int n = nkeys + nextra, rc = -1;
    char **k = malloc((size_t)n * sizeof(char *));
    size_t *kl = malloc((size_t)n * sizeof(size_t));
    sid_t *ii = malloc((size_t)n * sizeof(sid_t));
    if (!k || !kl || !ii) goto out;
    for (int i = 0; i < n; i++) {
        k[i] = i < nkeys ? keys[i] : extra[i - nkeys];
        kl[i] = i < nkeys ? keylens[i] : extralen[i - nkeys];
        ii[i] = i < nkeys ? ids[i] : SID_MIN;
    }
    req->nkeys = n;
    req->keys = k;
    req->keylens = kl;
    req->ids = ii;
    req->extra = nextra;
    rc = blocking_block(c, req); /* copies what it keeps */
out:
    free(k);
    free(kl);
    free(ii);
    return rc;
}

static void mark_ready(struct waitq *q) {
    if (q->ready) return;
    q->ready = 1;
    q->ready_next = NULL;
    if (ready_tail)
        ready_tail->ready_next = q;
    else
        ready_head = q;
    ready_tail = q;
}

void blocking_signal_key(int db, const char *key, size_t len) {
    struct waitq *q = find_q(db, key, len, key_hash(db, key, len));
    if (q) mark_ready(q);
}

void blocking_signal_db(int db) {
    for (size_t i = 0; i < table_size; i++)
        for (struct waitq *q = table[i]; q; q = q->hnext)
            if (db < 0 || q->db == db) mark_ready(q);
}

/* Serves the waiters of one ready key, oldest first. The list is copied first because serving
 * a client removes its registrations (possibly several in this very queue). */
static void serve_queue(struct waitq *q) {
    size_t n = 0;
    for (struct waiter *w = q->head; w; w = w->next) n++;
    if (n == 0) return;
    struct client **cs = malloc(n * sizeof(*cs));
    int *idx = malloc(n * sizeof(*idx));
    if (!cs || !idx) goto out;
    n = 0;
    for (struct waiter *w = q->head; w; w = w->next, n++) {
        cs[n] = w->c;
        idx[n] = w->idx;
    }
    for (size_t i = 0; i < n; i++) {
        struct client *c = cs[i];
        /* Still blocked, and on this registration (not served through an earlier one)? */
        if (!c->blocked || c->blocked->w[idx[i]].q != q) continue;
        if (command_continue_blocked(c, serve_one, idx[i])) unblock_and_resume(c);
    }
out:
    free(cs);
    free(idx);
}

void blocking_serve_ready(void) {
    while (ready_head) {
        struct waitq *q = ready_head;
        ready_head = q->ready_next;
        if (!ready_head) ready_tail = NULL;
        serve_queue(q); /* q->ready stays set meanwhile, so unblocking cannot free q */
        q->ready = 0;
        maybe_free_q(q);
    }
}
