/* commit.c - held replies (see commit.h).
 *
 * Design: a client's replies are written into its stage buffer. After each command conn.c asks
 * whether the reply must wait: it must when the command touched a topic whose latest batch is
 * not yet durable (fsync always), or when an earlier reply of the same client is still held
 * (replies stay in order). A waiting reply is moved (evbuffer chains, no copy) into the
 * client's FIFO of held replies, merged with the last one when it waits for the same
 * submission. Clients with held replies are on one list, so a completion visits only them.
 * Main thread only. */
#include "server/commit.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "server/conn.h"
#include "server/server.h"

static struct client *holding; /* clients with held replies (held_next/held_prev) */
static uint64_t held_total;

static void list_add(struct client *c) {
    c->held_prev = NULL;
    c->held_next = holding;
    if (holding) holding->held_prev = c;
    holding = c;
}

static void list_remove(struct client *c) {
    if (c->held_prev)
        c->held_prev->held_next = c->held_next;
    else
        holding = c->held_next;
    if (c->held_next) c->held_next->held_prev = c->held_prev;
    c->held_next = c->held_prev = NULL;
}

uint64_t commit_last_seq(const struct client *c) {
    return c->held_tail ? c->held_tail->seq : 0;
}

uint64_t commit_held_total(void) {
    return held_total;
}

int commit_hold(struct client *c, uint64_t seq, struct evbuffer *stage, size_t mark) {
    struct held_reply *h = c->held_tail;
    if (h && seq < h->seq) seq = h->seq; /* never release before an earlier reply */
    if (!h || h->seq != seq) {
        h = calloc(1, sizeof(*h));
        if (!h || !(h->buf = evbuffer_new())) {
            free(h);
            return -1;
        }
        h->seq = seq;
        if (c->held_tail)
            c->held_tail->next = h;
        else {
            c->held_head = h;
            list_add(c);
        }
        c->held_tail = h;
    }
    /* Bytes before mark are earlier replies that need not wait: they go out first. */
    if (mark > 0) {
        evbuffer_remove_buffer(stage, bufferevent_get_output(c->bev), mark);
        conn_schedule_write(c);
    }
    size_t n = evbuffer_get_length(stage);
    evbuffer_add_buffer(h->buf, stage);
    c->held_bytes += n;
    h->nreplies++;
    held_total++;
    return 0;
}

static void release_head(struct client *c) {
    struct held_reply *h = c->held_head;
    size_t n = evbuffer_get_length(h->buf);
    evbuffer_add_buffer(bufferevent_get_output(c->bev), h->buf);
    server.stats.net_output_bytes += (long long)n;
    conn_schedule_write(c);
    c->held_bytes -= n;
    held_total -= (uint64_t)h->nreplies;
    c->held_head = h->next;
    if (!c->held_head) c->held_tail = NULL;
    evbuffer_free(h->buf);
    free(h);
}

void commit_release(uint64_t durable_seq) {
    struct client *c = holding, *next;
    for (; c; c = next) {
        next = c->held_next;
        while (c->held_head && c->held_head->seq <= durable_seq) release_head(c);
        if (!c->held_head) {
            list_remove(c);
            conn_after_release(c);
        }
    }
}

void commit_fail(const char *error_text) {
    struct client *c = holding, *next;
    for (; c; c = next) {
        next = c->held_next;
        for (struct held_reply *h = c->held_head; h; h = h->next) {
            evbuffer_drain(h->buf, evbuffer_get_length(h->buf));
            for (int i = 0; i < h->nreplies; i++) {
                evbuffer_add_printf(h->buf, "-%s\r\n", error_text);
                server_count_error(error_text, strlen(error_text));
            }
        }
        while (c->held_head) release_head(c);
        list_remove(c);
        conn_after_release(c);
    }
}

void commit_drop_client(struct client *c) {
    if (!c->held_head) return;
    while (c->held_head) {
        struct held_reply *h = c->held_head;
        c->held_head = h->next;
        held_total -= (uint64_t)h->nreplies;
        evbuffer_free(h->buf);
        free(h);
    }
    c->held_tail = NULL;
    c->held_bytes = 0;
    list_remove(c);
}
