/* http_body_limit.c - request bodies above http-api-max-body refused with the API's JSON 413
 * before they are read (see http_body_limit.h).
 *
 * Why: evhttp (libevent 2.1) refuses an over-limit body itself, with an HTML page, closes at
 * once (a client still sending gets a reset) and has no hook to change either. So every
 * connection it accepts gets a gate (evhttp_set_bevcb): a bufferevent filter over the socket's
 * bufferevent, whose input side reads the request stream exactly as evhttp will and passes it
 * on unchanged (evbuffer_remove_buffer moves whole chains; only a chain shared by two pieces
 * is copied, in part):
 *   - a request head is held until its empty line (evhttp's line rules: LF with an optional CR
 *     before it; a line is cut at a NUL; the first Content-Length and Transfer-Encoding count;
 *     HEAD and TRACE have no body), then judged. A head longer than HOLD_FACTOR times the
 *     headers limit is passed on as it is and no longer followed: evhttp refuses it and closes.
 *     As nothing reaches evhttp meanwhile, its read timeout (10 s) runs from the last bytes
 *     passed: a head must arrive whole within it.
 *   - a Content-Length body passes as it arrives; a declared length above the limit is refused
 *     before its head reaches evhttp.
 *   - a chunked body: each chunk-size line is held until complete and read as evhttp reads it;
 *     the line that would take the running total above the limit is refused (413), and so is
 *     what evhttp would answer with its page (a size that is not hex or is too long, trailer
 *     fields: 400 here). Chunk data passes as it arrives.
 * The limit is http-api-max-body read at each decision, but never above its value when the
 * connection opened: that value is also evhttp's own limit for the connection (set here, just
 * before evhttp copies it into the connection), so the gate decides first by construction and
 * evhttp's check stays a backstop that bounds memory should the gate ever be wrong. Raising
 * the directive therefore applies to connections opened after, lowering it to every request.
 *
 * A refusal: nothing more of the request stream reaches evhttp (the rest is read and
 * discarded). Once evhttp has answered the requests before the refused one (it waits for
 * input with nothing to write: the check runs after each flush, and every IDLE_POLL_MS), the
 * gate takes the socket's bufferevent over, writes the JSON answer with Connection: close,
 * shuts its sending side down once written (the client reads the answer, then an EOF), and
 * reads and discards until the client closes, goes quiet for LINGER_IDLE_MS, or LINGER_MAX_MS
 * pass (a lingering close: closing with unread input would reset the connection, and a reset
 * can destroy the answer before the client reads it, e.g. one still sending its body). Then
 * evhttp gets an EOF on its bufferevent and frees the connection, the filter, and through it
 * the socket's bufferevent: each once, as for any connection; evhttp's timeouts are off
 * meanwhile, so it cannot free them under the gate.
 *
 * Output: libevent 2.1's filter moves evhttp's output only when something writes to the
 * socket, so an answer would wait for the next one, and it reports the output written once it
 * is in the socket's bufferevent, so evhttp's close after "Connection: close" (HTTP/1.0,
 * evhttp's own errors) would free that bufferevent with the answer unsent. So the filter's
 * output side moves nothing; flush_cb writes evhttp's output straight to the socket, one loop
 * turn after evhttp adds it (an evbuffer callback), waits for the socket when it is full, and
 * tells evhttp (its write callback) only when all of it is in the kernel.
 *
 * Ownership: the filter frees the socket's bufferevent (BEV_OPT_CLOSE_ON_FREE), which closes
 * the socket; the gate is the filter's context, freed with it (gate_free). Until then the
 * gate's events may still fire: each first checks that evhttp still has the connection
 * (freeing the filter clears the socket's bufferevent's callbacks).
 *
 * HTTPS (http-tls): the socket's bufferevent under the filter is a TLS one (tls.c's server
 * context); the gate reads the decrypted request stream the same way, and flush_cb hands
 * evhttp's output to the TLS bufferevent instead of writing the socket itself, telling evhttp
 * once that bufferevent's output is empty. A refusal's answer is written through it as well.
 *
 * Thread: main thread only (evhttp and its connections live on the server's loop). */
#include "server/http_body_limit.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "base/log.h"
#include "base/status.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/http_json.h"
#include "server/tls.h"

/* A held head may be this many times the headers limit: evhttp counts a head's bytes without
 * its line endings, so one it accepts is at most about three times the limit. */
#define HOLD_FACTOR 4
/* A head held (and the Content-Length value copied out of it) fits in this many bytes. */
#define HOLD_MAX (64 * 1024)
/* A chunk-size line longer than this is refused (evhttp would hold it without bound). */
#define CHUNK_LINE_MAX 1024
/* While a refusal waits for evhttp to finish the answers before it. */
#define IDLE_POLL_MS 50
/* A refused connection is read and discarded until the client closes, sends nothing for
 * LINGER_IDLE_MS, or LINGER_MAX_MS have passed. */
#define LINGER_IDLE_MS 2000
#define LINGER_MAX_MS  10000

enum phase {
    PHASE_HEAD,       /* holding a request head until its empty line */
    PHASE_BODY,       /* passing `left` bytes of a Content-Length body */
    PHASE_CHUNK_LINE, /* holding a chunk-size line */
    PHASE_CHUNK_DATA, /* passing `left` bytes of chunk data */
    PHASE_TRAILER,    /* holding the line after the last chunk, which must be empty */
    PHASE_UNTRACKED,  /* a head evhttp refuses went through: all passes, evhttp closes */
    PHASE_REFUSING,   /* refused: waiting for evhttp to answer the requests before */
    PHASE_LINGERING,  /* the answer is written: discarding input until the close */
    PHASE_DONE,       /* handed back to evhttp to free, or its server is going away */
};

struct gate {
    struct evhttp *http;
    struct bufferevent *sock; /* the socket's bufferevent, under the filter */
    struct bufferevent *filt; /* the filter: the bufferevent evhttp reads and writes */
    struct event *flush_ev;   /* writes evhttp's output to the socket */
    struct event *timer;      /* refusing: the next look at evhttp; lingering: the deadline */
    enum phase phase;
    long long ceiling; /* http-api-max-body when the connection opened: evhttp's limit */
    size_t scanned;    /* held bytes already searched for a line feed */
    size_t line_start; /* where the line being read starts in the held bytes */
    int lines;         /* lines of the head read so far */
    uint64_t left;     /* bytes of the body or of the chunk still to pass */
    uint64_t body;     /* chunked: the data bytes declared so far */
    int status;        /* the refusal */
    const char *code, *message;
    int peer_closed, sending_shut;
    int tls; /* sock is a TLS bufferevent (http-tls): evhttp's output goes through it */
    struct event *peer_ev; /* TLS: notes the peer's address once evhttp has set the socket */
    char peer[64];         /* "ip:port" as CLIENT LIST shows it, for the handshake failure line */
    struct gate *prev, *next;
};

/* Every gate, for detach. */
static struct gate *gates;
static size_t hold_limit;
/* The first Content-Length value of the head being judged, NUL-terminated. */
static char length_value[HOLD_MAX + 1];

/* ---- reading the request stream ---- */

/* What a complete head says of the body after it. */
enum body_kind { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_UNKNOWN };

static unsigned char byte_at(struct evbuffer *in, size_t off) {
    struct evbuffer_ptr p;
    unsigned char c = 0;
    if (evbuffer_ptr_set(in, &p, off, EVBUFFER_PTR_SET) == 0) evbuffer_copyout_from(in, &p, &c, 1);
    return c;
}

/* The end of the line starting at g->line_start in the held bytes. Returns 1 with *content (its
 * length without the line ending) and *first (its first byte, 0 when empty); 0 while its LF
 * has not arrived. */
static int next_line(struct gate *g, struct evbuffer *in, size_t *content, unsigned char *first) {
    size_t len = evbuffer_get_length(in);
    struct evbuffer_ptr from, lf;
    if (g->scanned >= len || evbuffer_ptr_set(in, &from, g->scanned, EVBUFFER_PTR_SET) != 0)
        return 0;
    lf = evbuffer_search(in, "\n", 1, &from);
    if (lf.pos < 0) {
        g->scanned = len;
        return 0;
    }
    size_t end = (size_t)lf.pos;
    if (end > g->line_start && byte_at(in, end - 1) == '\r') end--;
    *content = end - g->line_start;
    *first = *content ? byte_at(in, g->line_start) : 0;
    g->scanned = (size_t)lf.pos + 1;
    return 1;
}

static void forget_lines(struct gate *g) {
    g->scanned = 0;
    g->line_start = 0;
    g->lines = 0;
}

/* Whether the method is one evhttp reads a body for (evhttp_method_may_have_body). */
static int method_has_body(const char *m, size_t len) {
    static const char *const with_body[] = {"GET",     "POST",    "PUT",  "DELETE",
                                            "OPTIONS", "CONNECT", "PATCH"};
    for (size_t i = 0; i < sizeof(with_body) / sizeof(with_body[0]); i++)
        if (strlen(with_body[i]) == len && !memcmp(m, with_body[i], len)) return 1;
    return 0;
}

static int name_is(const char *key, size_t len, const char *name) {
    return strlen(name) == len && !strncasecmp(key, name, len);
}

/* Appends to length_value, which has room for any head that was held. */
static void length_append(size_t *used, const char *p, size_t n) {
    assert(*used + n <= HOLD_MAX);
    memcpy(length_value + *used, p, n);
    *used += n;
}

/* Reads a complete head of len bytes as evhttp_parse_firstline_, evhttp_parse_headers_ and
 * evhttp_get_body do, and says what body follows (*length for BODY_LENGTH). BODY_UNKNOWN:
 * evhttp refuses the head (or a Content-Length that is not a number). */
static enum body_kind judge_head(const char *p, size_t len, long long *length) {
    enum { LAST_NONE, LAST_LENGTH, LAST_ENCODING, LAST_OTHER } last = LAST_NONE;
    int has_body = 0, seen_length = 0, seen_encoding = 0, encoding_folded = 0;
    const char *encoding = NULL;
    size_t encoding_len = 0, length_len = 0;
    for (size_t pos = 0, n = 0; pos < len; n++) {
        const char *lf = memchr(p + pos, '\n', len - pos);
        assert(lf);
        const char *line = p + pos;
        size_t full = (size_t)(lf - line);
        if (full && line[full - 1] == '\r') full--;
        const char *nul = memchr(line, '\0', full);
        size_t clen = nul ? (size_t)(nul - line) : full; /* evhttp sees a C string */
        pos = (size_t)(lf - p) + 1;
        if (n == 0) { /* the request line: its method is up to the first space */
            const char *sp = memchr(line, ' ', clen);
            has_body = sp && method_has_body(line, (size_t)(sp - line));
            continue;
        }
        if (clen == 0) break; /* the empty line */
        if (line[0] == ' ' || line[0] == '\t') {
            /* a folded line continues the last header: " " and the line, trimmed */
            if (last == LAST_NONE) return BODY_UNKNOWN;
            if (last == LAST_ENCODING) encoding_folded = 1; /* never "chunked" then */
            if (last == LAST_LENGTH) {
                size_t b = 0, e = clen;
                while (b < e && (line[b] == ' ' || line[b] == '\t')) b++;
                while (e > b && (line[e - 1] == ' ' || line[e - 1] == '\t')) e--;
                length_append(&length_len, " ", 1);
                length_append(&length_len, line + b, e - b);
            }
            continue;
        }
        const char *colon = memchr(line, ':', clen);
        if (!colon) return BODY_UNKNOWN;
        size_t klen = (size_t)(colon - line), b = klen + 1, e = clen;
        while (b < e && line[b] == ' ') b++;
        while (e > b && (line[e - 1] == ' ' || line[e - 1] == '\t')) e--;
        if (!seen_length && name_is(line, klen, "Content-Length")) {
            seen_length = 1;
            length_append(&length_len, line + b, e - b);
            last = LAST_LENGTH;
        } else if (!seen_encoding && name_is(line, klen, "Transfer-Encoding")) {
            seen_encoding = 1;
            encoding = line + b;
            encoding_len = e - b;
            last = LAST_ENCODING;
        } else {
            last = LAST_OTHER;
        }
    }
    if (!has_body) return BODY_NONE;
    if (seen_encoding && !encoding_folded && name_is(encoding, encoding_len, "chunked"))
        return BODY_CHUNKED;
    if (!seen_length) return BODY_NONE;
    length_value[length_len] = '\0';
    char *end;
    *length = strtoll(length_value, &end, 10);
    if (length_len == 0 || *end != '\0' || *length < 0) return BODY_UNKNOWN;
    return *length > 0 ? BODY_LENGTH : BODY_NONE;
}

/* ---- refusing ---- */

static void look_at_evhttp(struct gate *g);

/* Whether evhttp still has the connection: freeing the filter frees the socket's bufferevent,
 * which clears its callbacks (the filter's, or the gate's while lingering). */
static int evhttp_has_it(const struct gate *g) {
    bufferevent_event_cb eventcb = NULL;
    bufferevent_getcb(g->sock, NULL, NULL, &eventcb, NULL);
    return eventcb != NULL;
}

/* Whether evhttp has answered everything it was given: it waits for input (reading enabled,
 * writing not) with nothing unread and nothing to write. */
static int evhttp_waiting(const struct gate *g) {
    return bufferevent_get_enabled(g->filt) == EV_READ &&
           evbuffer_get_length(bufferevent_get_input(g->filt)) == 0 &&
           evbuffer_get_length(bufferevent_get_output(g->filt)) == 0;
}

static uint64_t body_limit(const struct gate *g) {
    long long now = server_config.http_api_max_body;
    return (uint64_t)(now < g->ceiling ? now : g->ceiling);
}

static void refuse(struct gate *g, struct evbuffer *in, int status, const char *code,
                   const char *message) {
    g->phase = PHASE_REFUSING;
    g->status = status;
    g->code = code;
    g->message = message;
    evbuffer_drain(in, evbuffer_get_length(in));
    event_active(g->timer, EV_TIMEOUT, 1); /* after the filter's callback returns */
}

static int write_answer(struct gate *g) {
    json_t *err = hj_error(g->code, g->message);
    char *text = err ? json_dumps(err, JSON_COMPACT) : NULL;
    json_decref(err);
    int rc = OBK_ERR_NOMEM;
    if (text) {
        char date[64] = "";
        evutil_date_rfc1123(date, sizeof(date), NULL);
        const char *reason = g->status == 413 ? "Payload Too Large" : "Bad Request";
        if (evbuffer_add_printf(bufferevent_get_output(g->sock),
                                "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                                "Cache-Control: no-store\r\nDate: %s\r\nContent-Length: %zu\r\n"
                                "Connection: close\r\n\r\n%s\n",
                                g->status, reason, date, strlen(text) + 1, text) > 0)
            rc = OBK_OK;
        free(text);
    }
    return rc;
}

/* The end of a refused connection: evhttp gets an EOF and frees it. */
static void finish(struct gate *g) {
    if (g->phase != PHASE_LINGERING) return; /* finished already */
    g->phase = PHASE_DONE;
    event_del(g->timer);
    if (evhttp_has_it(g)) bufferevent_trigger_event(g->filt, BEV_EVENT_EOF | BEV_EVENT_READING, 0);
}

static void linger_read(struct bufferevent *sock, void *arg) {
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(sock);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void linger_written(struct bufferevent *sock, void *arg) {
    struct gate *g = arg;
    if (g->sending_shut || evbuffer_get_length(bufferevent_get_output(sock)) > 0) return;
    /* the answer is in the kernel: the client reads it, then our end */
    shutdown(bufferevent_getfd(sock), SHUT_WR);
    g->sending_shut = 1;
    if (g->peer_closed) finish(g);
}

static void linger_event(struct bufferevent *sock, short what, void *arg) {
    (void)sock;
    struct gate *g = arg;
    if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) && !g->sending_shut) {
        g->peer_closed = 1; /* the client has stopped sending, not reading: finish the answer */
        return;
    }
    finish(g);
}

static void start_lingering(struct gate *g) {
    assert(g->phase == PHASE_REFUSING);
    g->phase = PHASE_LINGERING;
    bufferevent_set_timeouts(g->filt, NULL, NULL); /* evhttp waits for the gate's EOF */
    bufferevent_setcb(g->sock, linger_read, linger_written, linger_event, g);
    linger_read(g->sock, g);
    if (write_answer(g) != OBK_OK) {
        finish(g);
        return;
    }
    struct timeval idle = {LINGER_IDLE_MS / 1000, (LINGER_IDLE_MS % 1000) * 1000};
    struct timeval deadline = {LINGER_MAX_MS / 1000, (LINGER_MAX_MS % 1000) * 1000};
    bufferevent_set_timeouts(g->sock, &idle, NULL); /* linger_event hears of it */
    event_add(g->timer, &deadline);
}

static void look_at_evhttp(struct gate *g) {
    assert(g->phase == PHASE_REFUSING);
    if (!evhttp_has_it(g)) return; /* it closed the connection meanwhile */
    if (evhttp_waiting(g)) {
        start_lingering(g);
        return;
    }
    struct timeval poll = {0, IDLE_POLL_MS * 1000};
    event_add(g->timer, &poll);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct gate *g = arg;
    if (g->phase == PHASE_REFUSING)
        look_at_evhttp(g);
    else if (g->phase == PHASE_LINGERING)
        finish(g);
}

/* ---- the filter's input side ---- */

/* Moves n bytes on to evhttp. */
static void pass(struct evbuffer *in, struct evbuffer *out, size_t n, size_t *passed) {
    int moved = evbuffer_remove_buffer(in, out, n);
    assert(moved >= 0 && (size_t)moved == n);
    *passed += n;
}

static void judge_held_head(struct gate *g, struct evbuffer *in, struct evbuffer *out,
                            size_t head_len, size_t *passed) {
    const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)head_len);
    long long length = 0;
    enum body_kind kind = p ? judge_head(p, head_len, &length) : BODY_UNKNOWN;
    forget_lines(g);
    if (kind == BODY_LENGTH && (uint64_t)length > body_limit(g)) {
        refuse(g, in, 413, HTTP_ERR_BODY_LIMIT);
        return;
    }
    if (kind == BODY_UNKNOWN) {
        g->phase = PHASE_UNTRACKED;
        return;
    }
    pass(in, out, head_len, passed);
    g->phase = kind == BODY_LENGTH    ? PHASE_BODY
               : kind == BODY_CHUNKED ? PHASE_CHUNK_LINE
                                      : PHASE_HEAD;
    g->left = (uint64_t)length;
    g->body = 0;
}

/* A held chunk-size line of len bytes (content bytes before its line ending). */
static void judge_chunk_line(struct gate *g, struct evbuffer *in, struct evbuffer *out, size_t len,
                             size_t content, unsigned char first, size_t *passed) {
    forget_lines(g);
    if (content == 0 || first == '\0') { /* evhttp skips an empty line (after each chunk) */
        pass(in, out, len, passed);
        return;
    }
    char line[CHUNK_LINE_MAX + 1];
    assert(content <= CHUNK_LINE_MAX);
    evbuffer_copyout(in, line, content);
    line[content] = '\0';
    char *end;
    long long size = strtoll(line, &end, 16); /* as evhttp_handle_chunked_read reads it */
    if ((*end != '\0' && *end != ' ') || size < 0) {
        refuse(g, in, 400, HTTP_ERR_BAD_CHUNKED);
        return;
    }
    uint64_t limit = body_limit(g);
    if (g->body > limit || (uint64_t)size > limit - g->body) {
        refuse(g, in, 413, HTTP_ERR_BODY_LIMIT);
        return;
    }
    pass(in, out, len, passed);
    g->body += (uint64_t)size;
    g->left = (uint64_t)size;
    g->phase = size > 0 ? PHASE_CHUNK_DATA : PHASE_TRAILER;
}

/* One step over the held or passing bytes; returns 0 when more input is needed. */
static int step(struct gate *g, struct evbuffer *in, struct evbuffer *out, size_t *passed) {
    size_t avail = evbuffer_get_length(in), content;
    unsigned char first;
    switch (g->phase) {
    case PHASE_HEAD: {
        int complete = 0;
        while (!complete && next_line(g, in, &content, &first)) {
            g->line_start = g->scanned;
            complete = ++g->lines > 1 && (content == 0 || first == '\0');
        }
        if ((complete ? g->scanned : avail) > hold_limit) {
            /* longer than any head evhttp takes: it refuses this one and closes */
            forget_lines(g);
            g->phase = PHASE_UNTRACKED;
            return 1;
        }
        if (complete) judge_held_head(g, in, out, g->scanned, passed);
        return complete;
    }
    case PHASE_BODY:
    case PHASE_CHUNK_DATA: {
        size_t n = g->left < avail ? (size_t)g->left : avail;
        pass(in, out, n, passed);
        g->left -= n;
        if (g->left == 0) g->phase = g->phase == PHASE_BODY ? PHASE_HEAD : PHASE_CHUNK_LINE;
        return 1;
    }
    case PHASE_CHUNK_LINE:
    case PHASE_TRAILER:
        if (!next_line(g, in, &content, &first)) {
            if (avail <= CHUNK_LINE_MAX) return 0;
            refuse(g, in, 400, HTTP_ERR_BAD_CHUNKED);
            return 1;
        }
        if (g->phase == PHASE_CHUNK_LINE && content <= CHUNK_LINE_MAX) {
            judge_chunk_line(g, in, out, g->scanned, content, first, passed);
        } else if (g->phase == PHASE_TRAILER && (content == 0 || first == '\0')) {
            pass(in, out, g->scanned, passed); /* the empty line that ends the body */
            forget_lines(g);
            g->phase = PHASE_HEAD;
        } else {
            refuse(g, in, 400, HTTP_ERR_BAD_CHUNKED); /* a trailer field, or a line too long */
        }
        return 1;
    case PHASE_UNTRACKED: pass(in, out, avail, passed); return 0;
    case PHASE_REFUSING:
    case PHASE_LINGERING:
    case PHASE_DONE: evbuffer_drain(in, avail); return 0;
    }
    return 0;
}

/* The filter's input side: from the socket's input (in) to evhttp's (out). */
static enum bufferevent_filter_result read_requests(struct evbuffer *in, struct evbuffer *out,
                                                    ev_ssize_t lim,
                                                    enum bufferevent_flush_mode mode, void *arg) {
    struct gate *g = arg;
    (void)mode;
    /* evhttp sets no read watermark on its bufferevent, so the filter is never limited */
    assert(lim < 0);
    size_t passed = 0;
    while (evbuffer_get_length(in) > 0 && step(g, in, out, &passed)) {
    }
    return passed > 0 ? BEV_OK : BEV_NEED_MORE;
}

/* ---- the filter's output side ---- */

/* Moves nothing: flush_cb writes evhttp's output (see the file's comment). */
static enum bufferevent_filter_result keep_output(struct evbuffer *src, struct evbuffer *dst,
                                                  ev_ssize_t lim, enum bufferevent_flush_mode mode,
                                                  void *arg) {
    (void)src;
    (void)dst;
    (void)lim;
    (void)mode;
    (void)arg;
    return BEV_NEED_MORE;
}

/* flush_cb over TLS: evhttp's output moves into the TLS bufferevent, which encrypts and writes
 * it as the socket takes it; evhttp is told once that bufferevent's output is empty (in the
 * kernel), which tls_drained notices. */
static void flush_tls(struct gate *g, struct evbuffer *out) {
    struct evbuffer *sout = bufferevent_get_output(g->sock);
    if (evbuffer_get_length(out) > 0) evbuffer_add_buffer(sout, out);
    if (evbuffer_get_length(sout) > 0) return;
    if (bufferevent_get_enabled(g->filt) & EV_WRITE) bufferevent_trigger(g->filt, EV_WRITE, 0);
    if (g->phase == PHASE_REFUSING) look_at_evhttp(g);
}

/* The TLS bufferevent's output shrank: once empty, flush_cb tells evhttp. */
static void tls_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg) {
    struct gate *g = arg;
    if (info->n_deleted > 0 && evbuffer_get_length(buf) == 0 && g->phase < PHASE_LINGERING)
        event_active(g->flush_ev, EV_WRITE, 1);
}

static void flush_cb(evutil_socket_t unused, short what, void *arg) {
    (void)unused;
    (void)what;
    struct gate *g = arg;
    if (g->phase >= PHASE_LINGERING || !evhttp_has_it(g)) return;
    struct evbuffer *out = bufferevent_get_output(g->filt);
    if (g->tls) {
        flush_tls(g, out);
        return;
    }
    evutil_socket_t fd = bufferevent_getfd(g->sock);
    int wrote = 0, failed = 0;
    while (evbuffer_get_length(out) > 0) {
        int n = evbuffer_write(out, fd);
        if (n > 0) {
            wrote = 1;
            continue;
        }
        failed = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
        break;
    }
    if (failed) { /* evhttp's error callback frees the connection */
        bufferevent_trigger_event(g->filt, BEV_EVENT_WRITING | BEV_EVENT_ERROR, 0);
        return;
    }
    int writing = bufferevent_get_enabled(g->filt) & EV_WRITE;
    if (evbuffer_get_length(out) > 0) { /* the socket is full: again when it is writable */
        if (wrote && writing) bufferevent_enable(g->filt, EV_WRITE); /* restarts its timeout */
        if (event_get_fd(g->flush_ev) != fd)
            event_assign(g->flush_ev, event_get_base(g->flush_ev), fd, EV_WRITE, flush_cb, g);
        event_add(g->flush_ev, NULL);
        return;
    }
    /* all of it is in the kernel: evhttp may go on (and close: nothing is lost then) */
    if (writing) bufferevent_trigger(g->filt, EV_WRITE, 0);
    if (g->phase == PHASE_REFUSING) look_at_evhttp(g);
}

/* An evbuffer callback on evhttp's output: flushes one loop turn later, once evhttp has added
 * the whole answer and set its write callback. */
static void output_added(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg) {
    (void)buf;
    struct gate *g = arg;
    if (info->n_added > 0 && g->phase < PHASE_LINGERING) event_active(g->flush_ev, EV_WRITE, 1);
}

/* ---- connections ---- */

/* peer_ev: the connection's address, noted while the socket is open (evhttp sets it just after
 * open_gate returns and has closed it by the time the gate is freed). */
static void note_peer(evutil_socket_t unused, short what, void *arg) {
    (void)unused;
    (void)what;
    struct gate *g = arg;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = bufferevent_getfd(g->sock);
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        conn_format_addr((struct sockaddr *)&ss, g->peer, sizeof g->peer, NULL);
}

static void gate_free(void *arg) {
    struct gate *g = arg;
    if (g->tls) { /* the TLS bufferevent is freed just after its filter: no callback into g */
        evbuffer_remove_cb(bufferevent_get_output(g->sock), tls_drained, g);
        /* closed before its handshake completed: logged and counted as the RESP port's are
         * (evhttp closes it without telling why); without an OpenSSL reason (a peer that
         * connected and left) it is a verbose line */
        if (g->peer_ev && !tls_handshake_done(g->sock))
            tls_handshake_failed(g->sock, 1, "an HTTPS connection", g->peer[0] ? g->peer : "?");
        if (g->peer_ev) event_free(g->peer_ev);
    }
    event_free(g->flush_ev);
    event_free(g->timer);
    if (g->prev)
        g->prev->next = g->next;
    else if (gates == g)
        gates = g->next;
    if (g->next) g->next->prev = g->prev;
    free(g);
}

/* The face serving HTTPS (http_body_limit_use_tls), NULL when none. */
static struct evhttp *tls_face;

/* A server-side TLS bufferevent for an accepted HTTPS connection (evhttp gives it the socket).
 * Never NULL: a plain bufferevent on the HTTPS port would serve plaintext, so a failure (out of
 * memory) ends the process, as running out of memory does in Redis. */
static struct bufferevent *new_tls_bev(struct event_base *base) {
    SSL *ssl = tls_new_ssl();
    struct bufferevent *b =
        ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE)
            : NULL;
    if (!b) {
        log_msg(LOG_WARNING, "Can't create the TLS state of an HTTPS connection: %s",
                tls_last_error());
        abort();
    }
    bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
    return b;
}

/* evhttp's bufferevent callback: the gate of a connection being accepted. NULL (out of
 * memory) lets evhttp make a plain socket bufferevent: that connection has evhttp's limit
 * only. On the HTTPS face the socket's bufferevent is a TLS one; without memory for the
 * gate, that bufferevent is returned alone. */
static struct bufferevent *open_gate(struct event_base *base, void *arg) {
    struct evhttp *http = arg;
    long long ceiling = server_config.http_api_max_body;
    /* evhttp copies its default into the connection it makes with what this returns */
    evhttp_set_max_body_size(http, (ev_ssize_t)ceiling);
    int tls = http == tls_face;
    struct gate *g = calloc(1, sizeof(*g));
    struct bufferevent *sock = tls ? new_tls_bev(base) : NULL, *filt = NULL;
    if (!g || !(g->flush_ev = event_new(base, -1, EV_WRITE, flush_cb, g)) ||
        !(g->timer = evtimer_new(base, timer_cb, g)) ||
        !(sock = sock ? sock : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ||
        !(filt = bufferevent_filter_new(sock, read_requests, keep_output, BEV_OPT_CLOSE_ON_FREE,
                                        gate_free, g))) {
        if (g && g->flush_ev) event_free(g->flush_ev);
        if (g && g->timer) event_free(g->timer);
        free(g);
        if (tls && sock) return sock; /* TLS without the gate: evhttp's limit only */
        if (sock) bufferevent_free(sock);
        return NULL;
    }
    /* from here the filter owns the gate (gate_free) and the socket's bufferevent */
    g->http = http;
    g->sock = sock;
    g->filt = filt;
    g->ceiling = ceiling;
    g->tls = tls;
    if (!evbuffer_add_cb(bufferevent_get_output(filt), output_added, g) ||
        (tls && !evbuffer_add_cb(bufferevent_get_output(sock), tls_drained, g)) ||
        (tls && !(g->peer_ev = event_new(base, -1, 0, note_peer, g)))) {
        bufferevent_free(filt);                /* the gate and the socket's bufferevent with it */
        return tls ? new_tls_bev(base) : NULL; /* never a plain one on the HTTPS face */
    }
    if (tls) event_active(g->peer_ev, EV_TIMEOUT, 1);
    g->next = gates;
    if (gates) gates->prev = g;
    gates = g;
    return filt;
}

void http_body_limit_attach(struct evhttp *http, size_t max_headers) {
    assert(max_headers * HOLD_FACTOR <= HOLD_MAX);
    hold_limit = max_headers * HOLD_FACTOR;
    evhttp_set_bevcb(http, open_gate, http);
}

void http_body_limit_use_tls(struct evhttp *http) {
    tls_face = http;
}

void http_body_limit_detach(struct evhttp *http) {
    if (tls_face == http) tls_face = NULL;
    for (struct gate *g = gates; g; g = g->next) {
        if (g->http != http) continue;
        event_del(g->flush_ev);
        event_del(g->timer);
        g->phase = PHASE_DONE;
    }
}
