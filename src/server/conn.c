/* conn.c - client connections over libevent bufferevents.
 *
 * Design: the read callback moves received bytes into the client's query buffer and parses
 * every complete request in it (pipelining), running each through command_process(). Replies
 * are written into the bufferevent's output evbuffer. Backpressure: when a client's pending
 * output passes CONN_PAUSE_OUTPUT_BYTES we stop parsing and reading its socket until the output
 * drains below CONN_RESUME_OUTPUT_BYTES (libevent's write watermark), so a client that does not
 * read cannot make us buffer without end; the configured client-output-buffer-limit hard/soft
 * limits drop such a client as Redis does. Clients are never freed inside a callback: they are
 * put on server.close_list and freed in before_sleep. Main thread only. */
#include "server/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/log.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/command.h"
#include "server/commit.h"
#include "server/config.h"
#include "server/db.h"
#include "server/errors.h"
#include "server/server.h"

/* Stop reading a client whose unsent output passes this many bytes... */
#define CONN_PAUSE_OUTPUT_BYTES (32 * 1024 * 1024)
/* ...and resume once the socket has taken it down to this. */
#define CONN_RESUME_OUTPUT_BYTES (4 * 1024 * 1024)
/* First query buffer allocation; it grows with what arrives. */
#define CONN_QBUF_INITIAL (16 * 1024)

static void conn_read_cb(struct bufferevent *bev, void *ctx);
static struct client *retry_head; /* clients with CLIENT_RETRY */
static struct client *write_head; /* clients with output to write in before_sleep */
static void conn_write_cb(struct bufferevent *bev, void *ctx);
static void conn_event_cb(struct bufferevent *bev, short what, void *ctx);
static void conn_process_input(struct client *c);

static void on_reply_error(void *ctx, const char *msg, size_t len) {
    (void)ctx;
    server_count_error(msg, len);
}

static void format_addr(const struct sockaddr *sa, char *buf, size_t cap, int *is_local) {
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
    } else {
        snprintf(buf, cap, "?:0");
    }
    /* Redis counts only these two addresses as local for protected mode. */
    if (is_local) *is_local = !strcmp(ip, "127.0.0.1") || !strcmp(ip, "::1");
}

/* Writes a last line to a socket we are about to refuse, ignoring short writes as Redis does. */
static void refuse(int fd, const char *msg) {
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

void conn_accept(int fd, const struct sockaddr *sa, int salen) {
    struct client *c = NULL;
    struct sockaddr_storage local;
    socklen_t llen = sizeof(local);
    (void)salen;
    server.stats.connections_received++;
    if (server.nclients >= server_config.maxclients) {
        server.stats.rejected_connections++;
        refuse(fd, ERR_MAXCLIENTS);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    format_addr(sa, c->addr, sizeof(c->addr), &c->is_local);
    if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
        format_addr((struct sockaddr *)&local, c->laddr, sizeof(c->laddr), NULL);
    if (server_config.protected_mode && server_config.requirepass[0] == '\0' && !c->is_local) {
        log_msg(LOG_WARNING,
                "Possible SECURITY ATTACK detected (protected mode): connection "
                "from %s refused",
                c->addr);
        server.stats.rejected_connections++;
        free(c);
        refuse(fd, ERR_DENIED_PROTECTED);
        return;
    }
    evutil_make_socket_nonblocking(fd);
    set_socket_options(fd);
    c->bev = bufferevent_socket_new(server.base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        free(c);
        close(fd);
        return;
    }
    c->fd = fd;
    c->id = server.next_client_id++;
    c->proto = 2;
    c->authenticated = server_config.requirepass[0] == '\0';
    c->ctime_ms = c->last_interaction_ms = util_mstime();
    resp_parser_init(&c->parser, server_config.proto_max_bulk_len);
    c->stage = evbuffer_new();
    if (!c->stage) {
        bufferevent_free(c->bev);
        free(c);
        return;
    }
    reply_init(&c->reply, c->stage, 2);
    c->reply.on_error = on_reply_error;
    c->reply.ctx = c;
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    /* EV_WRITE stays off: replies are written in before_sleep (conn_write_pending) and the
     * write event is armed only when a socket cannot take everything at once. */
    bufferevent_enable(c->bev, EV_READ);
    bufferevent_disable(c->bev, EV_WRITE); /* a new bufferevent starts with writing enabled */
    c->next = server.clients;
    if (server.clients) server.clients->prev = c;
    server.clients = c;
    server.nclients++;
    log_msg(LOG_VERBOSE, "Accepted %s", c->addr);
}

int conn_auth_required(const struct client *c) {
    return server_config.requirepass[0] != '\0' && !c->authenticated;
}

size_t conn_output_bytes(const struct client *c) {
    return evbuffer_get_length(bufferevent_get_output(c->bev)) + evbuffer_get_length(c->stage) +
           c->held_bytes;
}

/* Nothing left to send: no bytes in the socket buffer, the stage or held. */
static int output_idle(const struct client *c) {
    return conn_output_bytes(c) == 0;
}

void conn_finish_reply(struct client *c, size_t mark) {
    if (evbuffer_get_length(c->stage) == mark) { /* no reply (a client that blocked) */
        c->wait_seq = 0;
        return;
    }
    if (c->wait_seq > db_durable_seq() && db_io_error()) {
        /* The reply depends on writes that failed and will never be durable: answer the
         * error instead (nothing that was not written is acknowledged or shown). */
        if (c->held_head) { /* behind held replies: queue the error after them */
            evbuffer_drain(c->stage, evbuffer_get_length(c->stage) - mark);
            reply_error(&c->reply, db_io_error_text());
            commit_hold(c, commit_last_seq(c), c->stage, mark);
        } else {
            if (mark > 0) {
                evbuffer_remove_buffer(c->stage, bufferevent_get_output(c->bev), mark);
                conn_schedule_write(c);
            }
            evbuffer_drain(c->stage, evbuffer_get_length(c->stage));
            reply_error(&c->reply, db_io_error_text());
        }
        c->wait_seq = 0;
        return;
    }
    int hold = c->held_head != NULL;
    /* In every fsync mode the batch is at least written to the file before the reply goes out
     * (Redis writes its AOF before replying too); "always" also waits for the fdatasync. */
    if (!hold && c->wait_seq && c->wait_seq > db_durable_seq()) hold = 1;
    if (hold && commit_hold(c, c->wait_seq, c->stage, mark) != 0) {
        log_msg(LOG_WARNING, "Out of memory holding a reply: closing client id=%llu",
                (unsigned long long)c->id);
        conn_close_async(c);
    }
    c->wait_seq = 0;
}

void conn_flush_stage(struct client *c) {
    size_t n = evbuffer_get_length(c->stage);
    if (n == 0 || c->held_head) return;
    evbuffer_add_buffer(bufferevent_get_output(c->bev), c->stage);
    server.stats.net_output_bytes += (long long)n;
    conn_schedule_write(c);
}

void conn_schedule_write(struct client *c) {
    if (c->write_pending || (c->flags & CLIENT_CLOSE_ASAP)) return;
    c->write_pending = 1;
    c->write_next = write_head;
    write_head = c;
}

void conn_write_pending(void) {
    while (write_head) {
        struct client *c = write_head;
        write_head = c->write_next;
        c->write_pending = 0;
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        struct evbuffer *out = bufferevent_get_output(c->bev);
        /* A socket bufferevent keeps the front of its output frozen for its own writer;
         * thaw it for this write and freeze it again. */
        evbuffer_unfreeze(out, 1);
        while (evbuffer_get_length(out) > 0) {
            int n = evbuffer_write(out, c->fd);
            if (n > 0) continue;
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                conn_close_async(c); /* the peer is gone; the read side will report it */
                break;
            }
            if (n < 0 && errno == EINTR) continue;
            break; /* the socket is full: let libevent finish when it can take more */
        }
        evbuffer_freeze(out, 1);
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        if (evbuffer_get_length(out) > 0)
            bufferevent_enable(c->bev, EV_WRITE);
        else if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && output_idle(c))
            conn_close_async(c);
    }
}

void conn_after_release(struct client *c) {
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && output_idle(c)) conn_close_async(c);
}

void conn_close_async(struct client *c) {
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    c->flags |= CLIENT_CLOSE_ASAP;
    c->close_next = server.close_list;
    server.close_list = c;
}

void conn_free(struct client *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        server.clients = c->next;
    if (c->next) c->next->prev = c->prev;
    server.nclients--;
    blocking_remove(c);
    if (c->flags & CLIENT_RETRY) {
        if (c->retry_prev)
            c->retry_prev->retry_next = c->retry_next;
        else
            retry_head = c->retry_next;
        if (c->retry_next) c->retry_next->retry_prev = c->retry_prev;
    }
    commit_drop_client(c);
    if (c->bev) bufferevent_free(c->bev);
    if (c->stage) evbuffer_free(c->stage);
    command_discard_multi(c);
    resp_parser_free(&c->parser);
    reply_finish(&c->reply);
    free(c->qbuf);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    free(c);
}

void conn_free_closed(void) {
    while (server.close_list) {
        struct client *c = server.close_list;
        server.close_list = c->close_next;
        conn_free(c);
    }
}

/* Drops the client when its output passes the configured hard limit, or stays over the soft
 * limit longer than allowed. Returns 1 when it was scheduled for closing. */
static int check_output_limits(struct client *c, long long now_ms) {
    const struct obuf_limit *l = &server_config.obuf[OBUF_NORMAL];
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
    server.stats.net_input_bytes += (long long)n;
    return 0;
}

static void conn_read_cb(struct bufferevent *bev, void *ctx) {
    struct client *c = ctx;
    if (c->flags & CLIENT_CLOSE_ASAP) {
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        return;
    }
    server.stats.reads_processed++;
    if (qbuf_fill(c, bufferevent_get_input(bev)) != 0) {
        conn_close_async(c);
        return;
    }
    c->last_interaction_ms = util_mstime();
    conn_process_input(c);
}

static void protocol_error(struct client *c) {
    size_t mark = evbuffer_get_length(c->stage);
    char msg[160];
    snprintf(msg, sizeof(msg), ERR_PROTOCOL, c->parser.error_text);
    reply_error(&c->reply, msg);
    log_msg(LOG_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", c->parser.error_text,
            (unsigned long long)c->id, c->addr);
    conn_finish_reply(c, mark);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    c->qpos = c->qlen = 0;
}

static void conn_process_input(struct client *c) {
    while (!(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_READ_PAUSED |
                         CLIENT_BLOCKED | CLIENT_RETRY))) {
        size_t used = 0;
        c->parser.authenticated = !conn_auth_required(c);
        enum resp_result rc = resp_parse(&c->parser, c->qbuf + c->qpos, c->qlen - c->qpos, &used);
        c->qpos += used;
        if (rc == RESP_ERROR) {
            protocol_error(c);
            break;
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
            break;
        }
        size_t mark = evbuffer_get_length(c->stage);
        command_process(c, c->parser.argc, c->parser.argv, c->parser.argvlen);
        if (c->flags & CLIENT_RETRY) break; /* keep argv: the command runs again */
        resp_parser_reset_argv(&c->parser);
        reply_finish(&c->reply);
        conn_finish_reply(c, mark);
        if (check_output_limits(c, util_mstime())) break;
        if (conn_output_bytes(c) > CONN_PAUSE_OUTPUT_BYTES) pause_reading(c);
    }
    if (c->qpos == c->qlen) c->qpos = c->qlen = 0;
    conn_flush_stage(c);
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && output_idle(c)) conn_close_async(c);
}

void conn_retry_later(struct client *c) {
    if (c->flags & CLIENT_RETRY) return;
    c->flags |= CLIENT_RETRY;
    c->retry_prev = NULL;
    c->retry_next = retry_head;
    if (retry_head) retry_head->retry_prev = c;
    retry_head = c;
}

void conn_retry_waiting(void) {
    struct client *list = retry_head;
    retry_head = NULL;
    while (list) {
        struct client *c = list;
        list = c->retry_next;
        c->flags &= ~CLIENT_RETRY;
        c->retry_next = c->retry_prev = NULL;
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        size_t mark = evbuffer_get_length(c->stage);
        command_process(c, c->parser.argc, c->parser.argv, c->parser.argvlen);
        if (c->flags & CLIENT_RETRY) continue; /* still no space: waits for the next one */
        resp_parser_reset_argv(&c->parser);
        reply_finish(&c->reply);
        conn_finish_reply(c, mark);
        conn_process_input(c);
    }
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
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        log_msg(LOG_VERBOSE, "Client closed connection id=%llu addr=%s", (unsigned long long)c->id,
                c->addr);
        conn_close_async(c);
    }
}

void conn_describe(const struct client *c, char *buf, size_t cap) {
    long long now = util_mstime();
    char flags[8];
    int nf = 0;
    if (c->flags & CLIENT_MULTI) flags[nf++] = 'x';
    if (c->flags & CLIENT_BLOCKED) flags[nf++] = 'b';
    if (c->flags & CLIENT_CLOSE_ASAP) flags[nf++] = 'A';
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) flags[nf++] = 'c';
    if (nf == 0) flags[nf++] = 'N';
    flags[nf] = '\0';
    size_t qbuf = c->qlen - c->qpos;
    size_t obl = conn_output_bytes(c);
    snprintf(buf, cap,
             "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=0 "
             "psub=0 ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=0 rbs=%zu "
             "rbp=0 obl=%zu oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s user=default redir=-1 "
             "resp=%d lib-name=%s lib-ver=%s",
             (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
             (now - c->ctime_ms) / 1000, (now - c->last_interaction_ms) / 1000, flags, c->db,
             (c->flags & CLIENT_MULTI) ? c->mcount : -1, qbuf, c->qcap - qbuf,
             resp_parser_pending_bytes(&c->parser), c->qcap, obl, obl, sizeof(*c) + c->qcap + obl,
             obl ? "w" : "", c->last_cmd_name ? c->last_cmd_name : "NULL", c->proto,
             c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
}

void conn_cron(long long now_ms) {
    for (struct client *c = server.clients; c; c = c->next) {
        if (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_BLOCKED)) continue;
        if (server_config.timeout > 0 &&
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
    evbuffer_unfreeze(bufferevent_get_output(c->bev), 1);
    evbuffer_write(bufferevent_get_output(c->bev), c->fd);
    evbuffer_freeze(bufferevent_get_output(c->bev), 1);
}
