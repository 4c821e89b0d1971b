/* conn.c - the transport: client connections over libevent bufferevents (see conn.h).
 *
 * Design: the read callback moves received bytes into the client's query buffer and parses
 * every complete request in it (pipelining), handing each to the request handler installed at
 * start-up. Replies are written by the layers above into the client's stage buffer; after each
 * request they are sent, or moved behind held replies, by the layer that knows (command.c,
 * commit.c); the transport writes the socket from before_sleep (conn_write_pending): plain
 * sockets with write(2), TLS ones with SSL_write (tls_write_now), each bufferevent finishing
 * only what the socket did not take.
 * Backpressure: when a client's pending output passes CONN_PAUSE_OUTPUT_BYTES we stop parsing
 * and reading its socket until the output drains below CONN_RESUME_OUTPUT_BYTES (libevent's
 * write watermark, or the before_sleep write that drained it), so a client that does not read
 * cannot make us buffer without end; the configured client-output-buffer-limit hard/soft limits
 * drop such a client as Redis does. Clients are never freed inside a callback: they are put on the
 * close list and freed in before_sleep, after the release hooks let the layers above drop their
 * state. Main thread only. */
#include "server/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <event2/event.h>

#include "base/log.h"
#include "base/obk_assert.h"
#include "base/util.h"
#include "server/acl.h"
#include "server/config.h"
#include "server/errors.h"
#include "server/sockread.h"
#include "server/runtime.h"
#include "server/stats.h"
#include "server/tls.h"

/* Bytes of a TLS client's output joined into one piece before the TLS bufferevent writes it. */
#define CONN_TLS_COALESCE (64 * 1024)

/* Stop reading a client whose unsent output passes this many bytes... */
#define CONN_PAUSE_OUTPUT_BYTES (32 * 1024 * 1024)
/* ...and resume once the socket has taken it down to this. */
#define CONN_RESUME_OUTPUT_BYTES (4 * 1024 * 1024)
/* First query buffer allocation; it grows with what arrives. */
#define CONN_QBUF_INITIAL (16 * 1024)
/* Bytes more taken from a plain socket per read event (sockread.c): libevent 2.1 reads 4 KiB,
 * which split a pipeline of large values over several loop turns and group-commit rounds. */
#define CONN_READ_MORE (60 * 1024)

static void conn_read_cb(struct bufferevent *bev, void *ctx);
static struct client *clients; /* every connection (prev/next) */
static int nclients;
static uint64_t next_client_id = 1;
static struct client *close_list; /* clients to free in before_sleep (close_next) */
static struct client *write_head; /* clients with output to write in before_sleep */
static conn_request_fn request_handler;
static conn_release_fn release_hooks[CONN_MAX_RELEASE_HOOKS];
static int nrelease_hooks;
static void conn_write_cb(struct bufferevent *bev, void *ctx);
static void conn_event_cb(struct bufferevent *bev, short what, void *ctx);
static void conn_process_input(struct client *c);
static void resume_reading(struct client *c);

static void on_reply_error(void *ctx, const char *msg, size_t len) {
    (void)ctx;
    stats_count_error(msg, len);
}

void conn_set_request_handler(conn_request_fn fn) {
    request_handler = fn;
}

int conn_add_release_hook(conn_release_fn fn) {
    for (int i = 0; i < nrelease_hooks; i++)
        if (release_hooks[i] == fn) return 0;
    if (nrelease_hooks == CONN_MAX_RELEASE_HOOKS) return -1;
    release_hooks[nrelease_hooks++] = fn;
    return 0;
}

struct client *conn_first(void) {
    return clients;
}

int conn_count(void) {
    return nclients;
}

void conn_format_addr(const struct sockaddr *sa, char *buf, size_t cap, int *is_local) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
        snprintf(buf, cap, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
        snprintf(buf, cap, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_UNIX) {
        /* a socket pair inside the server (the HTTP API's command connections) */
        snprintf(buf, cap, "/unix:0");
        if (is_local) *is_local = 1;
        return;
    } else {
        snprintf(buf, cap, "?:0");
    }
    /* Redis counts only these two addresses as local for protected mode. */
    if (is_local) *is_local = !strcmp(ip, "127.0.0.1") || !strcmp(ip, "::1");
}

/* Writes a last line to a socket we are about to refuse, ignoring short writes as Redis does. */
/* Refuses a connection with an error line; on the TLS port (no session yet) just closes. */
static void refuse_on(int fd, int tls, const char *msg) {
    if (tls) {
        close(fd);
        return;
    }
    char line[2048];
    int n = snprintf(line, sizeof(line), "-%s\r\n", msg);
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}

static void set_socket_options(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (server_config.tcp_keepalive > 0) {
        int idle = server_config.tcp_keepalive;
        int intvl = idle / 3 > 0 ? idle / 3 : 1, cnt = 3;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    }
}

static struct client *accept_on(int fd, const struct sockaddr *sa, int salen, int tls) {
    struct client *c = NULL;
    struct sockaddr_storage local;
    socklen_t llen = sizeof(local);
    (void)salen;
    server_stats.connections_received++;
    if (nclients >= server_config.maxclients) {
        server_stats.rejected_connections++;
        refuse_on(fd, tls, ERR_MAXCLIENTS);
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    conn_format_addr(sa, c->addr, sizeof(c->addr), &c->is_local);
    if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
        conn_format_addr((struct sockaddr *)&local, c->laddr, sizeof(c->laddr), NULL);
    if (server_config.protected_mode && !acl_default_needs_auth() && !c->is_local) {
        log_msg(LOG_WARNING,
                "Possible SECURITY ATTACK detected (protected mode): connection "
                "from %s refused",
                c->addr);
        server_stats.rejected_connections++;
        free(c);
        refuse_on(fd, tls, ERR_DENIED_PROTECTED);
        return NULL;
    }
    evutil_make_socket_nonblocking(fd);
    set_socket_options(fd);
    if (tls) {
        struct ssl_st *ssl = tls_new_ssl();
        c->bev = ssl ? bufferevent_openssl_socket_new(
                           runtime.base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)
                     : NULL;
        if (!c->bev && ssl) SSL_free(ssl);
        if (c->bev) bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        if (c->bev && !(c->tls_out = evbuffer_new())) {
            bufferevent_free(c->bev);
            c->bev = NULL;
            fd = -1; /* closed with the bufferevent */
        }
        c->tls = 1;
    } else {
        c->bev = bufferevent_socket_new(runtime.base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!c->bev) {
        free(c);
        if (fd >= 0) close(fd);
        return NULL;
    }
    c->fd = fd;
    c->id = next_client_id++;
    c->proto = 2;
    c->authenticated = !acl_default_needs_auth();
    c->user = acl_default_user();
    c->ctime_ms = c->last_interaction_ms = util_mstime();
    resp_parser_init(&c->parser, server_config.proto_max_bulk_len);
    c->stage = evbuffer_new();
    if (!c->stage) {
        bufferevent_free(c->bev);
        if (c->tls_out) evbuffer_free(c->tls_out);
        free(c);
        return NULL;
    }
    reply_init(&c->reply, c->stage, 2);
    c->reply.on_error = on_reply_error;
    c->reply.ctx = c;
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    /* EV_WRITE stays off: replies are written in before_sleep (conn_write_pending) and the
     * write event is armed only when a socket cannot take everything at once. */
    bufferevent_enable(c->bev, EV_READ);
    bufferevent_disable(c->bev, EV_WRITE); /* a new bufferevent starts with writing enabled */
    c->next = clients;
    if (clients) clients->prev = c;
    clients = c;
    nclients++;
    log_msg(LOG_VERBOSE, "Accepted %s", c->addr);
    return c;
}

struct client *conn_accept(int fd, const struct sockaddr *sa, int salen) {
    return accept_on(fd, sa, salen, 0);
}

struct client *conn_accept_tls(int fd, const struct sockaddr *sa, int salen) {
    return accept_on(fd, sa, salen, 1);
}

int conn_auth_required(const struct client *c) {
    return acl_default_needs_auth() && !c->authenticated;
}

size_t conn_output_bytes(const struct client *c) {
    return evbuffer_get_length(bufferevent_get_output(c->bev)) +
           (c->tls_out ? evbuffer_get_length(c->tls_out) : 0) + evbuffer_get_length(c->stage) +
           c->held_bytes;
}

/* Nothing left to send: no bytes in the socket buffer, the stage or held. */
static int output_idle(const struct client *c) {
    return conn_output_bytes(c) == 0;
}

void conn_send_stage_prefix(struct client *c, size_t n) {
    if (n == 0) return;
    OBK_ASSERT(n <= evbuffer_get_length(c->stage));
    evbuffer_remove_buffer(c->stage, conn_output(c), n);
    server_stats.net_output_bytes += (long long)n;
    conn_schedule_write(c);
}

struct evbuffer *conn_output(struct client *c) {
    return c->tls_out ? c->tls_out : bufferevent_get_output(c->bev);
}

void conn_flush_stage(struct client *c) {
    size_t n = evbuffer_get_length(c->stage);
    if (n == 0 || c->held_bytes) return; /* behind held replies: sent after them */
    evbuffer_add_buffer(conn_output(c), c->stage);
    server_stats.net_output_bytes += (long long)n;
    conn_schedule_write(c);
}

void conn_schedule_write(struct client *c) {
    if (c->write_pending || (c->flags & CLIENT_CLOSE_ASAP)) return;
    c->write_pending = 1;
    c->write_next = write_head;
    write_head = c;
}

/* A TLS client's new output: written at once when nothing is ahead of it, as a plain client's
 * is (a reply waiting for the next loop turn's write event costs a turn and two epoll_ctl
 * calls); the rest goes to the TLS bufferevent, which writes it as the socket takes it. */
static void tls_send(struct client *c) {
    struct evbuffer *bout = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(c->tls_out) == 0) return;
    if (c->tls_up && evbuffer_get_length(bout) == 0) {
        long n = tls_write_now(c->bev, c->tls_out);
        if (n < 0) {
            conn_close_async(c); /* the peer is gone; the read side will report it */
            return;
        }
        if (n > 0) server_stats.writes_processed++;
    }
    size_t len = evbuffer_get_length(c->tls_out);
    if (len == 0) return;
    /* the bufferevent makes one SSL_write (a record and a write(2)) per chain: replies come
     * in many small chains, so they are joined first, up to a few records' worth */
    evbuffer_pullup(c->tls_out, (ev_ssize_t)(len < CONN_TLS_COALESCE ? len : CONN_TLS_COALESCE));
    evbuffer_add_buffer(bout, c->tls_out);
    bufferevent_enable(c->bev, EV_WRITE);
}

/* After conn_write_pending wrote what it could: a client that asked to be closed once answered
 * is closed when nothing is left; one whose reading paused for its output resumes when this
 * write brought the output down, as the write callback would (which does not come when the
 * socket took everything at once). */
static void after_write(struct client *c) {
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && output_idle(c)) {
        conn_close_async(c);
        return;
    }
    if ((c->flags & CLIENT_READ_PAUSED) && conn_output_bytes(c) <= CONN_RESUME_OUTPUT_BYTES) {
        resume_reading(c);
        conn_process_input(c); /* requests already buffered before the pause */
    }
}

void conn_write_pending(void) {
    while (write_head) {
        struct client *c = write_head;
        write_head = c->write_next;
        c->write_pending = 0;
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        struct evbuffer *out = bufferevent_get_output(c->bev);
        if (c->tls) {
            tls_send(c);
            after_write(c);
            continue;
        }
        /* A socket bufferevent keeps the front of its output frozen for its own writer;
         * thaw it for this write and freeze it again. */
        evbuffer_unfreeze(out, 1);
        while (evbuffer_get_length(out) > 0) {
            int n = evbuffer_write(out, c->fd);
            if (n > 0) {
                server_stats.writes_processed++;
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                conn_close_async(c); /* the peer is gone; the read side will report it */
                break;
            }
            if (n < 0 && errno == EINTR) continue;
            break; /* the socket is full: let libevent finish when it can take more */
        }
        evbuffer_freeze(out, 1);
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        if (evbuffer_get_length(out) > 0) bufferevent_enable(c->bev, EV_WRITE);
        after_write(c);
    }
}

void conn_after_release(struct client *c) {
    conn_flush_stage(c); /* what waited behind the held replies (a protocol error) */
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && output_idle(c)) conn_close_async(c);
}

void conn_close_async(struct client *c) {
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    c->flags |= CLIENT_CLOSE_ASAP;
    c->close_next = close_list;
    close_list = c;
}

void conn_free(struct client *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        clients = c->next;
    if (c->next) c->next->prev = c->prev;
    nclients--;
    for (int i = 0; i < nrelease_hooks; i++) release_hooks[i](c);
    OBK_ASSERT(!c->held && !c->blocked && !c->session && !c->pubsub); /* every layer let go */
    if (c->bev) bufferevent_free(c->bev);
    if (c->stage) evbuffer_free(c->stage);
    if (c->tls_out) evbuffer_free(c->tls_out);
    resp_parser_free(&c->parser);
    reply_finish(&c->reply);
    free(c->qbuf);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    free(c);
}

void conn_free_closed(void) {
    while (close_list) {
        struct client *c = close_list;
        close_list = c->close_next;
        conn_free(c);
    }
}

/* Drops the client when its output passes the configured hard limit, or stays over the soft
 * limit longer than allowed. Returns 1 when it was scheduled for closing. */
static int check_output_limits(struct client *c, long long now_ms) {
    /* a subscriber is held to the pubsub class, as in Redis */
    const struct obuf_limit *l = &server_config.obuf[(c->flags & CLIENT_REPLICA)  ? OBUF_REPLICA
                                                     : (c->flags & CLIENT_PUBSUB) ? OBUF_PUBSUB
                                                                                  : OBUF_NORMAL];
    long long used = (long long)conn_output_bytes(c);
    int over = 0;
    if (l->hard_bytes && used >= l->hard_bytes) over = 1;
    if (l->soft_bytes && used >= l->soft_bytes) {
        if (c->obuf_soft_since_ms == 0)
            c->obuf_soft_since_ms = now_ms;
        else if (now_ms - c->obuf_soft_since_ms > l->soft_seconds * 1000)
            over = 1;
    } else {
        c->obuf_soft_since_ms = 0;
    }
    if (!over) return 0;
    log_msg(LOG_WARNING,
            "Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of output buffer "
            "limits.",
            (unsigned long long)c->id, c->addr);
    conn_close_async(c);
    return 1;
}

static void pause_reading(struct client *c) {
    c->flags |= CLIENT_READ_PAUSED;
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setwatermark(c->bev, EV_WRITE, CONN_RESUME_OUTPUT_BYTES, 0);
    bufferevent_enable(c->bev, EV_WRITE); /* its callback resumes reading */
}

static void resume_reading(struct client *c) {
    c->flags &= ~CLIENT_READ_PAUSED;
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    bufferevent_enable(c->bev, EV_READ);
}

/* Appends what the socket delivered to the query buffer. Returns -1 on allocation failure. */
static int qbuf_fill(struct client *c, struct evbuffer *in) {
    size_t n = evbuffer_get_length(in);
    if (c->qpos > 0 && c->qpos == c->qlen) c->qpos = c->qlen = 0;
    if (c->qpos > 0 && c->qlen + n > c->qcap) { /* slide unparsed bytes to the front */
        memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
        c->qlen -= c->qpos;
        c->qpos = 0;
    }
    if (c->qlen + n > c->qcap) {
        size_t cap = c->qcap ? c->qcap : CONN_QBUF_INITIAL;
        while (cap < c->qlen + n) cap *= 2;
        char *nb = realloc(c->qbuf, cap);
        if (!nb) return -1;
        c->qbuf = nb;
        c->qcap = cap;
    }
    evbuffer_remove(in, c->qbuf + c->qlen, n);
    c->qlen += n;
    server_stats.net_input_bytes += (long long)n;
    return 0;
}

static void conn_read_cb(struct bufferevent *bev, void *ctx) {
    struct client *c = ctx;
    if (c->flags & CLIENT_CLOSE_ASAP) {
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        return;
    }
    server_stats.reads_processed++;
    if (!c->tls) sockread_more(bev, CONN_READ_MORE);
    if (qbuf_fill(c, bufferevent_get_input(bev)) != 0) {
        conn_close_async(c);
        return;
    }
    c->last_interaction_ms = util_mstime();
    conn_process_input(c);
}

/* Answers a malformed request and closes the connection once the answer is written; the
 * answer queues behind held replies like any other (conn_flush_stage). */
static void protocol_error(struct client *c) {
    char msg[160];
    snprintf(msg, sizeof(msg), ERR_PROTOCOL, c->parser.error_text);
    reply_error(&c->reply, msg);
    log_msg(LOG_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", c->parser.error_text,
            (unsigned long long)c->id, c->addr);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    c->qpos = c->qlen = 0;
}

/* Parses the next complete request. Returns 1 with one in c->parser, 0 when more bytes are
 * needed (or the query buffer limit closed the client), -1 after a protocol error. */
static int parse_next(struct client *c) {
    size_t used = 0;
    c->parser.authenticated = !conn_auth_required(c);
    enum resp_result rc = resp_parse(&c->parser, c->qbuf + c->qpos, c->qlen - c->qpos, &used);
    c->qpos += used;
    if (rc == RESP_ERROR) {
        protocol_error(c);
        return -1;
    }
    if (rc == RESP_NEED_MORE) {
        size_t pending = c->qlen - c->qpos + resp_parser_pending_bytes(&c->parser);
        if ((long long)pending > server_config.client_query_buffer_limit) {
            log_msg(LOG_WARNING,
                    "Closing client that reached max query buffer length: id=%llu addr=%s "
                    "(qbuf initial bytes: %zu)",
                    (unsigned long long)c->id, c->addr, pending);
            conn_close_async(c);
        }
        return 0;
    }
    return 1;
}

static void conn_process_input(struct client *c) {
    while (!(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_READ_PAUSED |
                         CLIENT_STOP_INPUT))) {
        if (parse_next(c) != 1) break;
        OBK_ASSERT(request_handler != NULL);
        if (request_handler(c, c->parser.argc, c->parser.argv, c->parser.argvlen))
            break; /* parked: the arguments stay until the request runs again */
        conn_request_done(c);
        if (check_output_limits(c, util_mstime())) break;
        if (conn_output_bytes(c) > CONN_PAUSE_OUTPUT_BYTES) pause_reading(c);
    }
    if (c->qpos == c->qlen) c->qpos = c->qlen = 0;
    conn_flush_stage(c);
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && output_idle(c)) conn_close_async(c);
}

void conn_request_done(struct client *c) {
    resp_parser_reset_argv(&c->parser);
    reply_finish(&c->reply);
}

void conn_resume_input(struct client *c) {
    if (!(c->flags & CLIENT_CLOSE_ASAP)) conn_process_input(c);
}

static void conn_write_cb(struct bufferevent *bev, void *ctx) {
    struct client *c = ctx;
    size_t left = evbuffer_get_length(bufferevent_get_output(bev));
    /* Drained: back to writing from before_sleep, without the write event. */
    if (left == 0 && !(c->flags & CLIENT_READ_PAUSED)) bufferevent_disable(bev, EV_WRITE);
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && output_idle(c)) {
        conn_close_async(c);
        return;
    }
    if ((c->flags & CLIENT_READ_PAUSED) && left <= CONN_RESUME_OUTPUT_BYTES) {
        resume_reading(c);
        conn_process_input(c); /* requests already buffered before the pause */
    }
}

static void conn_event_cb(struct bufferevent *bev, short what, void *ctx) {
    struct client *c = ctx;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) { /* a TLS handshake completed */
        c->tls_up = 1;
        return;
    }
    if (c->tls && !c->tls_up && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
        tls_handshake_failed(c->bev, what & BEV_EVENT_EOF, "a client connection", c->addr);
        conn_close_async(c);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        log_msg(LOG_VERBOSE, "Client closed connection id=%llu addr=%s", (unsigned long long)c->id,
                c->addr);
        conn_close_async(c);
    }
}

void conn_cron(long long now_ms) {
    for (struct client *c = clients; c; c = c->next) {
        if (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_BLOCKED)) continue;
        /* a TLS client that never finishes its handshake holds a maxclients slot: bounded */
        if (c->tls && !c->tls_up && server_config.tls_handshake_timeout > 0 &&
            now_ms - c->ctime_ms > (long long)server_config.tls_handshake_timeout * 1000) {
            log_msg(LOG_VERBOSE, "Closing TLS client id=%llu addr=%s: no handshake in %d s",
                    (unsigned long long)c->id, c->addr, server_config.tls_handshake_timeout);
            conn_close_async(c);
            continue;
        }
        if (server_config.timeout > 0 && !(c->flags & CLIENT_REPLICA) &&
            now_ms - c->last_interaction_ms > (long long)server_config.timeout * 1000) {
            log_msg(LOG_VERBOSE, "Closing idle client id=%llu addr=%s", (unsigned long long)c->id,
                    c->addr);
            conn_close_async(c);
            continue;
        }
        check_output_limits(c, now_ms);
    }
}

void conn_flush_now(struct client *c) {
    conn_flush_stage(c);
    if (c->tls) {
        tls_send(c);
        return;
    }
    evbuffer_unfreeze(bufferevent_get_output(c->bev), 1);
    evbuffer_write(bufferevent_get_output(c->bev), c->fd);
    evbuffer_freeze(bufferevent_get_output(c->bev), 1);
}
