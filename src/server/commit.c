/* commit.c - held replies (see commit.h).
 *
 * Design: a client's replies are written into its stage buffer. After each command command.c
 * asks durable.h whether the reply must wait; if so, the reply's bytes are moved (evbuffer
 * chains, no copy) into the client's FIFO of held replies, merged with the last one when it
 * waits for the same submission. The client's transport counts the held bytes as output
 * (c->held_bytes), which also keeps later stage bytes from overtaking them. Clients with held
 * replies are on one list, so a completion visits only them. The per-client queue is created at
 * the first hold and kept until the client goes (commit_drop_client is a release hook).
 * Main thread only. */
#include "server/commit.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "base/obk_assert.h"
#include "server/conn.h"
#include "server/stats.h"

/* One or more consecutive replies of a client waiting for submission seq to be durable. */
struct held_reply {
    uint64_t seq;
    int nreplies;
    struct evbuffer *buf;
    struct held_reply *next;
};

struct held_queue {
    struct client *c;
    struct held_reply *head, *tail;
    struct held_queue *next, *prev; /* on the holding list while head != NULL */
};

static struct held_queue *holding; /* queues with held replies */
static uint64_t held_total;

static void list_add(struct held_queue *q) {
    q->prev = NULL;
    q->next = holding;
    if (holding) holding->prev = q;
    holding = q;
}

static void list_remove(struct held_queue *q) {
    if (q->prev)
        q->prev->next = q->next;
    else
        holding = q->next;
    if (q->next) q->next->prev = q->prev;
    q->next = q->prev = NULL;
}

int commit_holders(int max) {
    int n = 0;
    for (const struct held_queue *q = holding; q && n < max; q = q->next) n++;
    return n;
}

int commit_holding(const struct client *c) {
    return c->held && c->held->head;
}

uint64_t commit_last_seq(const struct client *c) {
    return c->held && c->held->tail ? c->held->tail->seq : 0;
}

uint64_t commit_held_total(void) {
    return held_total;
}

int commit_hold(struct client *c, uint64_t seq, size_t mark) {
    struct held_queue *q = c->held;
    if (!q) {
        if (!(q = calloc(1, sizeof(*q)))) return -1;
        q->c = c;
        c->held = q;
    }
    struct held_reply *h = q->tail;
    if (h && seq < h->seq) seq = h->seq; /* never release before an earlier reply */
    if (!h || h->seq != seq) {
        h = calloc(1, sizeof(*h));
        if (!h || !(h->buf = evbuffer_new())) {
            free(h);
            return -1;
        }
        h->seq = seq;
        if (q->tail) {
            OBK_ASSERT(seq > q->tail->seq); /* held sequences never decrease */
            q->tail->next = h;
        } else {
            q->head = h;
            list_add(q);
        }
        q->tail = h;
    }
    /* Bytes before mark are earlier replies that need not wait: they go out first. */
    conn_send_stage_prefix(c, mark);
    size_t n = evbuffer_get_length(c->stage);
    evbuffer_add_buffer(h->buf, c->stage);
    c->held_bytes += n;
    h->nreplies++;
    held_total++;
    return 0;
}

static void release_head(struct held_queue *q) {
    struct client *c = q->c;
    struct held_reply *h = q->head;
    size_t n = evbuffer_get_length(h->buf);
    OBK_ASSERT(n <= c->held_bytes);
    evbuffer_add_buffer(conn_output(c), h->buf);
    server_stats.net_output_bytes += (long long)n;
    conn_schedule_write(c);
    c->held_bytes -= n;
    held_total -= (uint64_t)h->nreplies;
    q->head = h->next;
    if (!q->head) q->tail = NULL;
    evbuffer_free(h->buf);
    free(h);
}

void commit_release(uint64_t durable_seq) {
    struct held_queue *q = holding, *next;
    for (; q; q = next) {
        next = q->next;
        while (q->head && q->head->seq <= durable_seq) release_head(q);
        if (!q->head) {
            list_remove(q);
            conn_after_release(q->c);
        }
    }
}

void commit_fail(const char *error_text) {
    struct held_queue *q = holding, *next;
    for (; q; q = next) {
        next = q->next;
        for (struct held_reply *h = q->head; h; h = h->next) {
            q->c->held_bytes -= evbuffer_get_length(h->buf);
            evbuffer_drain(h->buf, evbuffer_get_length(h->buf));
            for (int i = 0; i < h->nreplies; i++) {
                evbuffer_add_printf(h->buf, "-%s\r\n", error_text);
                stats_count_error(error_text, strlen(error_text));
            }
            q->c->held_bytes += evbuffer_get_length(h->buf);
        }
        while (q->head) release_head(q);
        list_remove(q);
        conn_after_release(q->c);
    }
}

void commit_drop_client(struct client *c) {
    struct held_queue *q = c->held;
    if (!q) return;
    if (q->head) list_remove(q);
    while (q->head) {
        struct held_reply *h = q->head;
        q->head = h->next;
        held_total -= (uint64_t)h->nreplies;
        evbuffer_free(h->buf);
        free(h);
    }
    c->held_bytes = 0;
    c->held = NULL;
    free(q);
}
