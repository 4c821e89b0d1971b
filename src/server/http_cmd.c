/* http_cmd.c - internal command connections for the HTTP API (see http_cmd.h).
 *
 * Design: socketpair(AF_UNIX); the transport accepts one end with conn_accept() and treats it
 * as any client (the command table, MULTI, blocking, held replies, CLIENT LIST/KILL); this
 * module keeps a bufferevent on the other end, writes RESP requests into it and parses the
 * replies with respv. The connection is marked authenticated (the HTTP face checked who the
 * request is) and runs as the request's ACL user (hcmd_set_user), so the user's command, key
 * and channel rules apply to the API as to the RESP port. Its protocol (RESP3), name ("http-api")
 * and database are set on the server's end directly, not by commands the user's rules could
 * refuse. Replies come in order, so a run is complete when as many replies as it queued have
 * arrived.
 *
 * Why not call the handlers directly: they write into a client's reply buffer, and the
 * durability rule, parking for cache space and blocking all work on a client's input and
 * output. Going through a real connection reuses every one of them unchanged; the cost is a
 * few system calls per run, shared by all the commands of the run (a batch of XADDs is one
 * write and one read).
 *
 * Thread: main thread only. */
#include "server/http_cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/log.h"
#include "base/util.h"
#include "server/acl.h"
#include "server/conn.h"
#include "server/runtime.h"

#define HCMD_MAX_IDLE 16

struct hcmd {
    struct bufferevent *bev; /* our end of the pair */
    struct evbuffer *queued; /* commands queued for the next run */
    int nqueued;
    int expect;          /* replies the run waits for, 0 when idle */
    struct respv *got;   /* replies received so far */
    size_t ngot, capgot; /* of the run */
    hcmd_done_fn fn;
    void *ctx;
    int dead, in_cb, closing;
    int pooled; /* on the idle list */
    struct hcmd *next_idle;
    struct client *client;            /* the server's end; NULL once the transport freed it */
    struct hcmd *all_prev, *all_next; /* every open connection (hcmd_client_gone) */
};

static struct hcmd *all;

static struct hcmd *idle;
static int nidle, nopen;

/* ---- argument vectors ---- */

void hargs_init(struct hargs *a) {
    memset(a, 0, sizeof(*a));
}

void hargs_add(struct hargs *a, const char *p, size_t len) {
    if (a->failed) return;
    if (a->argc == a->cap) {
        int cap = a->cap ? a->cap * 2 : 8;
        char **argv = realloc(a->argv, (size_t)cap * sizeof(*argv));
        if (argv) a->argv = argv;
        size_t *lens = argv ? realloc(a->lens, (size_t)cap * sizeof(*lens)) : NULL;
        if (lens) a->lens = lens;
        if (!argv || !lens) {
            a->failed = 1;
            return;
        }
        a->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        a->failed = 1;
        return;
    }
    memcpy(copy, p, len);
    copy[len] = '\0';
    a->argv[a->argc] = copy;
    a->lens[a->argc++] = len;
}

void hargs_addstr(struct hargs *a, const char *s) {
    hargs_add(a, s, strlen(s));
}

void hargs_addll(struct hargs *a, long long v) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", v);
    hargs_add(a, buf, (size_t)n);
}

void hargs_free(struct hargs *a) {
    for (int i = 0; i < a->argc; i++) free(a->argv[i]);
    free(a->argv);
    free(a->lens);
    memset(a, 0, sizeof(*a));
}

/* ---- connections ---- */

/* One command as RESP, written into one reserved extent of out (a produce of 100 entries is
 * 100 of these: printf and an evbuffer_add per piece were 7 % of the server's time). */
static void encode(struct evbuffer *out, int argc, char *const *argv, const size_t *lens) {
    size_t total = 1 + 20 + 2;
    for (int i = 0; i < argc; i++) total += 1 + 20 + 2 + lens[i] + 2;
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) != 1 || v.iov_len < total) {
        /* no contiguous room: piece by piece */
        char num[24];
        evbuffer_add(out, "*", 1);
        evbuffer_add(out, num, (size_t)util_ull2str(num, (unsigned long long)argc));
        evbuffer_add(out, "\r\n", 2);
        for (int i = 0; i < argc; i++) {
            evbuffer_add(out, "$", 1);
            evbuffer_add(out, num, (size_t)util_ull2str(num, lens[i]));
            evbuffer_add(out, "\r\n", 2);
            evbuffer_add(out, argv[i], lens[i]);
            evbuffer_add(out, "\r\n", 2);
        }
        return;
    }
    char *p = v.iov_base;
    *p++ = '*';
    p += util_ull2str(p, (unsigned long long)argc);
    *p++ = '\r', *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        *p++ = '$';
        p += util_ull2str(p, lens[i]);
        *p++ = '\r', *p++ = '\n';
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r', *p++ = '\n';
    }
    v.iov_len = (size_t)(p - (char *)v.iov_base);
    evbuffer_commit_space(out, &v, 1);
}

static void free_got(struct hcmd *h) {
    for (size_t i = 0; i < h->ngot; i++) respv_free(&h->got[i]);
    free(h->got);
    h->got = NULL;
    h->ngot = h->capgot = 0;
}

static void destroy(struct hcmd *h) {
    if (h->all_prev)
        h->all_prev->all_next = h->all_next;
    else if (all == h)
        all = h->all_next;
    if (h->all_next) h->all_next->all_prev = h->all_prev;
    if (h->bev) bufferevent_free(h->bev); /* closes our end: the server frees its client */
    evbuffer_free(h->queued);
    free_got(h);
    free(h);
    nopen--;
}

static void idle_remove(struct hcmd *h) {
    for (struct hcmd **p = &idle; *p; p = &(*p)->next_idle)
        if (*p == h) {
            *p = h->next_idle;
            h->pooled = 0;
            nidle--;
            return;
        }
}

static void fail_run(struct hcmd *h) {
    h->dead = 1;
    if (h->expect && h->fn && !h->closing) {
        hcmd_done_fn fn = h->fn;
        h->expect = 0;
        h->fn = NULL;
        h->in_cb = 1;
        fn(h->ctx, NULL, 0);
        h->in_cb = 0;
    }
}

static void read_cb(struct bufferevent *bev, void *arg) {
    struct hcmd *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t len = evbuffer_get_length(in);
        if (len == 0) break;
        const char *p = (const char *)evbuffer_pullup(in, -1);
        /* check completeness without allocating; build the tree only once it is whole */
        long whole = respv_complete(p, len);
        if (whole == 0) break;
        struct respv v;
        size_t used;
        int r = whole < 0 ? -1 : respv_parse(p, (size_t)whole, &v, &used);
        if (r < 0) {
            log_msg(LOG_WARNING, "HTTP API: unreadable reply on an internal connection");
            fail_run(h);
            break;
        }
        evbuffer_drain(in, used);
        if (!h->expect) { /* nothing asked for it (an abandoned run): drop */
            respv_free(&v);
            continue;
        }
        if (h->ngot == h->capgot) {
            size_t cap = h->capgot ? h->capgot * 2 : 4;
            struct respv *g = realloc(h->got, cap * sizeof(*g));
            if (!g) {
                respv_free(&v);
                fail_run(h);
                break;
            }
            h->got = g;
            h->capgot = cap;
        }
        h->got[h->ngot++] = v;
        if ((int)h->ngot == h->expect) {
            struct respv *got = h->got;
            size_t n = h->ngot;
            hcmd_done_fn fn = h->fn;
            h->got = NULL;
            h->ngot = h->capgot = h->expect = 0;
            h->fn = NULL;
            h->in_cb = 1;
            fn(h->ctx, got, n);
            h->in_cb = 0;
            for (size_t i = 0; i < n; i++) respv_free(&got[i]);
            free(got);
            if (h->closing) {
                destroy(h);
                return;
            }
        }
    }
    if (h->dead && h->closing) destroy(h);
}

static void event_cb(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    struct hcmd *h = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
    h->dead = 1;
    if (h->pooled) { /* idle in the pool (CLIENT KILL, timeout): forget it */
        idle_remove(h);
        destroy(h);
        return;
    }
    fail_run(h);
    if (h->closing) destroy(h);
}

static struct hcmd *make(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return NULL;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    struct client *c = conn_accept(sv[0], (struct sockaddr *)&sa, sizeof(sa));
    if (!c) { /* refused: the transport closed its end */
        close(sv[1]);
        return NULL;
    }
    c->authenticated = 1;
    struct hcmd *h = calloc(1, sizeof(*h));
    if (h) h->queued = evbuffer_new();
    if (h && h->queued) {
        evutil_make_socket_nonblocking(sv[1]);
        h->bev = bufferevent_socket_new(runtime.base, sv[1], BEV_OPT_CLOSE_ON_FREE);
    }
    if (!h || !h->queued || !h->bev) {
        if (h && h->queued) evbuffer_free(h->queued);
        free(h);
        close(sv[1]); /* the server sees EOF and frees its client */
        return NULL;
    }
    nopen++;
    h->client = c;
    h->all_next = all;
    if (all) all->all_prev = h;
    all = h;
    bufferevent_setcb(h->bev, read_cb, NULL, event_cb, h);
    bufferevent_enable(h->bev, EV_READ | EV_WRITE);
    /* RESP3 and the name "http-api", set on the server's end directly rather than by HELLO and
     * CLIENT SETNAME: those would run as the request's ACL user, whose rules may refuse them */
    c->proto = 3;
    c->reply.proto = 3;
    c->name = strdup("http-api");
    return h;
}

struct hcmd *hcmd_open(void) {
    while (idle) {
        struct hcmd *h = idle;
        idle = h->next_idle;
        nidle--;
        h->next_idle = NULL;
        h->pooled = 0;
        if (!h->dead && h->client) return h;
        destroy(h); /* dead, or its server end freed (CLIENT KILL, a deleted ACL user) */
    }
    return make();
}

int hcmd_set_user(struct hcmd *h, const char *user, size_t len) {
    struct acl_user *u = user ? acl_user_find(user, len) : acl_default_user();
    if (!u || !h->client || h->dead) return -1;
    h->client->user = u;
    return 0;
}

void hcmd_client_gone(struct client *c) {
    for (struct hcmd *h = all; h; h = h->all_next)
        if (h->client == c) h->client = NULL;
}

int hcmd_add(struct hcmd *h, const struct hargs *a) {
    if (a->failed || a->argc == 0) return -1;
    encode(h->queued, a->argc, a->argv, a->lens);
    h->nqueued++;
    return 0;
}

int hcmd_run(struct hcmd *h, int db, hcmd_done_fn fn, void *ctx) {
    if (h->dead || h->expect || h->nqueued == 0) {
        evbuffer_drain(h->queued, evbuffer_get_length(h->queued));
        h->nqueued = 0;
        return -1;
    }
    struct evbuffer *out = bufferevent_get_output(h->bev);
    if (!h->client) { /* the transport freed the server's end; EOF is on its way */
        evbuffer_drain(h->queued, evbuffer_get_length(h->queued));
        h->nqueued = 0;
        h->dead = 1;
        return -1;
    }
    /* The database is set on the server's end directly (the handler checked the range): no
     * command of the previous run is pending (expect was 0), and a SELECT would run as the
     * request's ACL user, whose rules may refuse it and leave the commands in another db. */
    h->client->db = db;
    evbuffer_add_buffer(out, h->queued);
    h->expect = h->nqueued;
    h->nqueued = 0;
    h->fn = fn;
    h->ctx = ctx;
    return 0;
}

void hcmd_close(struct hcmd *h) {
    if (!h) return;
    evbuffer_drain(h->queued, evbuffer_get_length(h->queued));
    h->nqueued = 0;
    if (!h->dead && !h->expect && nidle < HCMD_MAX_IDLE) {
        h->fn = NULL;
        h->ctx = NULL;
        h->next_idle = idle;
        h->pooled = 1;
        idle = h;
        nidle++;
        return;
    }
    h->closing = 1;
    h->fn = NULL;
    if (!h->in_cb) destroy(h);
}

int hcmd_count(void) {
    return nopen;
}

void hcmd_close_idle(void) {
    while (idle) {
        struct hcmd *h = idle;
        idle = h->next_idle;
        nidle--;
        destroy(h);
    }
}
