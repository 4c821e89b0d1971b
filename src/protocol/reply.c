/* reply.c - RESP2/RESP3 reply writer.
 *
 * Design: bytes are appended to the evbuffer on top of a small stack. reply_defer_len() pushes a
 * fresh evbuffer; closing it writes the aggregate header into the buffer below and then moves the
 * deferred bytes after it with evbuffer_add_buffer (which links chains, no copy). Error texts are
 * sanitised as Redis does (no CR or LF inside a simple string). Main thread only. */
#include "protocol/reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "base/util.h"

static struct evbuffer *top(struct reply *r) {
    return r->depth ? r->stack[r->depth - 1] : r->out;
}

void reply_init(struct reply *r, struct evbuffer *out, int proto) {
    memset(r, 0, sizeof(*r));
    r->out = out;
    r->proto = proto;
}

void reply_finish(struct reply *r) {
    while (r->depth > 0) evbuffer_free(r->stack[--r->depth]);
}

void reply_raw(struct reply *r, const void *p, size_t len) {
    evbuffer_add(top(r), p, len);
}

/* "<prefix><number>\r\n" in one append. */
static void add_prefixed_ll(struct evbuffer *b, char prefix, long long v) {
    char buf[32];
    buf[0] = prefix;
    int n = 1 + util_ll2str(buf + 1, v);
    buf[n++] = '\r';
    buf[n++] = '\n';
    evbuffer_add(b, buf, (size_t)n);
}

void reply_simple(struct reply *r, const char *s) {
    struct evbuffer *b = top(r);
    evbuffer_add(b, "+", 1);
    evbuffer_add(b, s, strlen(s));
    evbuffer_add(b, "\r\n", 2);
}

void reply_error(struct reply *r, const char *msg) {
    struct evbuffer *b = top(r);
    size_t len = strlen(msg);
    char clean[512];
    if (len >= sizeof(clean)) len = sizeof(clean) - 1;
    for (size_t i = 0; i < len; i++) clean[i] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    clean[len] = '\0';
    evbuffer_add(b, "-", 1);
    evbuffer_add(b, clean, len);
    evbuffer_add(b, "\r\n", 2);
    if (r->on_error) r->on_error(r->ctx, clean, len);
}

void reply_errorf(struct reply *r, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error(r, msg);
}

void reply_int(struct reply *r, long long v) {
    add_prefixed_ll(top(r), ':', v);
}

void reply_bulk(struct reply *r, const void *p, size_t len) {
    struct evbuffer *b = top(r);
    add_prefixed_ll(b, '$', (long long)len);
    evbuffer_add(b, p, len);
    evbuffer_add(b, "\r\n", 2);
}

void reply_bulk_cstr(struct reply *r, const char *s) {
    reply_bulk(r, s, strlen(s));
}

void reply_bulk_ll(struct reply *r, long long v) {
    char buf[24];
    int n = util_ll2str(buf, v);
    reply_bulk(r, buf, (size_t)n);
}

void reply_null(struct reply *r) {
    if (r->proto >= 3)
        evbuffer_add(top(r), "_\r\n", 3);
    else
        evbuffer_add(top(r), "$-1\r\n", 5);
}

void reply_null_array(struct reply *r) {
    if (r->proto >= 3)
        evbuffer_add(top(r), "_\r\n", 3);
    else
        evbuffer_add(top(r), "*-1\r\n", 5);
}

void reply_array(struct reply *r, long n) {
    add_prefixed_ll(top(r), '*', n);
}

void reply_map(struct reply *r, long pairs) {
    if (r->proto >= 3)
        add_prefixed_ll(top(r), '%', pairs);
    else
        add_prefixed_ll(top(r), '*', pairs * 2);
}

void reply_set(struct reply *r, long n) {
    add_prefixed_ll(top(r), r->proto >= 3 ? '~' : '*', n);
}

void reply_push(struct reply *r, long n) {
    add_prefixed_ll(top(r), r->proto >= 3 ? '>' : '*', n);
}

/* Redis prints doubles with "%.17g" and spells infinities "inf"/"-inf". */
static int format_double(char *buf, size_t cap, double d) {
    if (isinf(d)) return snprintf(buf, cap, "%s", d > 0 ? "inf" : "-inf");
    return snprintf(buf, cap, "%.17g", d);
}

void reply_double(struct reply *r, double d) {
    char buf[64];
    int n = format_double(buf, sizeof(buf), d);
    if (r->proto >= 3) {
        evbuffer_add(top(r), ",", 1);
        evbuffer_add(top(r), buf, (size_t)n);
        evbuffer_add(top(r), "\r\n", 2);
    } else {
        reply_bulk(r, buf, (size_t)n);
    }
}

void reply_bool(struct reply *r, int b) {
    if (r->proto >= 3)
        evbuffer_add(top(r), b ? "#t\r\n" : "#f\r\n", 4);
    else
        evbuffer_add(top(r), b ? ":1\r\n" : ":0\r\n", 4);
}

void reply_verbatim(struct reply *r, const char *p, size_t len, const char *ext) {
    if (r->proto < 3) {
        reply_bulk(r, p, len);
        return;
    }
    struct evbuffer *b = top(r);
    add_prefixed_ll(b, '=', (long long)len + 4);
    evbuffer_add(b, ext, 3);
    evbuffer_add(b, ":", 1);
    evbuffer_add(b, p, len);
    evbuffer_add(b, "\r\n", 2);
}

int reply_defer_len(struct reply *r) {
    struct evbuffer *b;
    if (r->depth == REPLY_MAX_DEFER || (b = evbuffer_new()) == NULL) return -1;
    r->stack[r->depth++] = b;
    return r->depth;
}

static void set_len(struct reply *r, int handle, char prefix, long n) {
    if (handle < 0 || handle != r->depth) return;
    struct evbuffer *body = r->stack[--r->depth];
    add_prefixed_ll(top(r), prefix, n);
    evbuffer_add_buffer(top(r), body);
    evbuffer_free(body);
}

void reply_set_array_len(struct reply *r, int handle, long n) {
    set_len(r, handle, '*', n);
}

void reply_set_map_len(struct reply *r, int handle, long pairs) {
    if (r->proto >= 3)
        set_len(r, handle, '%', pairs);
    else
        set_len(r, handle, '*', pairs * 2);
}

void reply_set_set_len(struct reply *r, int handle, long n) {
    set_len(r, handle, r->proto >= 3 ? '~' : '*', n);
}

void reply_discard_deferred(struct reply *r, int handle) {
    if (handle < 0 || handle != r->depth) return;
    evbuffer_free(r->stack[--r->depth]);
}
