/* http_api.c - the JSON API under /v1 (see http_api.h, docs/http-api.md).
 *
 * Design: a request is parsed (path segments percent-decoded, so keys are binary-safe; query
 * parameters; a JSON body through jansson, unknown members refused) into the arguments of real
 * commands (XADD, XRANGE, XREAD, XGROUP, XREADGROUP, XACK, XCLAIM, XCOMMIT, XLAG, XINFO, DEL,
 * XRETENTION, SCAN), which run on an internal connection (http_cmd.h). The answer is built when
 * all their replies are back, so it leaves under the same rule as the replies: a 201 for a
 * produce is sent only once the entries are durable as XADD's reply would be. Error replies
 * become {"error": {"code", "message"}} with a status derived from the error word (LOADING,
 * MISCONF, READONLY -> 503; NOGROUP, no such key -> 404; BUSYGROUP, an ID too small -> 409;
 * NOPERM (the user's ACL rules) -> 403; other command errors -> 400); the API's own texts are in
 * errors.h (HTTP_ERR_*).
 *
 * Long work is cut in slices so the loop never stalls: a search runs XRANGE slices of
 * SEARCH_SLICE entries, each one a separate run between events, until its limit, its scan
 * budget (http-api-scan-budget) or the end of its range, and answers with a cursor. A live tail
 * is a chain of XREAD BLOCK runs whose entries are written as Server-Sent Events; a client
 * whose unsent output passes SSE_MAX_BACKLOG is dropped (a slow reader cannot grow memory).
 * A client that goes away abandons its command connection (a blocked read is dropped with it).
 *
 * Thread: main thread only (evhttp callbacks on the server's loop). */
#include "server/http_api.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "base/util.h"
#include "server/acl.h"
#include "server/config.h"
#include "server/db.h"
#include "server/errors.h"
#include "server/http_cmd.h"
#include "server/http_json.h"
#include "storage/store.h"
#include "storage/topic.h"

#define MAX_SEGMENTS       8
#define DEFAULT_COUNT      100
#define SEARCH_SLICE       1000
#define SSE_BLOCK_MS       5000
#define SSE_MAX_BACKLOG    (8u << 20)
#define SSE_COUNT_PER_READ 1000

struct areq;
typedef void (*areq_done_fn)(struct areq *a, struct respv *r, size_t n);

struct areq {
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct hcmd *h;
    int db;
    char *seg[MAX_SEGMENTS];
    size_t seglen[MAX_SEGMENTS];
    int nseg;
    struct evkeyvalq q;
    areq_done_fn done;
    int sse;     /* a live tail: the reply is started */
    int nsent;   /* produce: entries sent */
    char id[64]; /* tail: last ID seen; search: the next start */
    /* search */
    char *field, *match;
    size_t fieldlen, matchlen;
    int exact;
    long long limit, scanned, budget, slice;
    char end[64];
    json_t *found;
    struct respv *scan; /* topics: the SCAN reply while the XINFOs run */
    /* who the HTTP face authenticated the request as (NULL when nothing is configured): its
     * commands run as that ACL user (hcmd_set_user), the default user when NULL */
    char *user;
    size_t userlen;
    struct areq *prev, *next;
};

static struct areq *live; /* requests in progress */
static int nsse;

/* ---- answers ---- */

static void areq_free(struct areq *a) {
    if (a->evcon) evhttp_connection_set_closecb(a->evcon, NULL, NULL);
    if (a->h) hcmd_close(a->h);
    for (int i = 0; i < a->nseg; i++) free(a->seg[i]);
    evhttp_clear_headers(&a->q);
    free(a->field);
    free(a->match);
    free(a->user);
    json_decref(a->found);
    if (a->scan) {
        respv_free(a->scan);
        free(a->scan);
    }
    if (a->sse) nsse--;
    if (a->prev)
        a->prev->next = a->next;
    else
        live = a->next;
    if (a->next) a->next->prev = a->prev;
    free(a);
}

static void send_json(struct areq *a, int code, json_t *body) {
    struct evhttp_request *req = a->req;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
    evhttp_add_header(hd, "Content-Type", "application/json");
    evhttp_add_header(hd, "Cache-Control", "no-store");
    struct evbuffer *out = evbuffer_new();
    if (!out || !text) {
        free(text);
        if (out) evbuffer_free(out);
        evhttp_send_error(req, 500, "Out of memory");
        areq_free(a);
        return;
    }
    if (code != 204 && evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* HEAD: GET's headers, its length too, and no body (evhttp 2.1 would send one) */
        char n[32];
        snprintf(n, sizeof(n), "%zu", strlen(text) + 1);
        evhttp_add_header(hd, "Content-Length", n);
    } else if (code != 204) {
        evbuffer_add(out, text, strlen(text));
        evbuffer_add(out, "\n", 1);
    }
    free(text);
    const char *reason = code == 200   ? "OK"
                         : code == 201 ? "Created"
                         : code == 204 ? "No Content"
                         : code == 400 ? "Bad Request"
                         : code == 401 ? "Unauthorized"
                         : code == 404 ? "Not Found"
                         : code == 405 ? "Method Not Allowed"
                         : code == 409 ? "Conflict"
                         : code == 413 ? "Payload Too Large"
                         : code == 503 ? "Service Unavailable"
                                       : "Error";
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
    areq_free(a);
}

static void send_err(struct areq *a, int code, const char *ecode, const char *msg) {
    send_json(a, code, hj_error(ecode, msg));
}

/* An error reply of a command: its status from the error word. */
static void send_cmd_error(struct areq *a, const struct respv *e) {
    const char *t = e->str;
    int code = 400;
    const char *ecode = "bad_request";
    if (!strncmp(t, "LOADING", 7) || !strncmp(t, "MISCONF", 7) || !strncmp(t, "READONLY", 8) ||
        !strncmp(t, "BUSY ", 5) || !strncmp(t, "OOM", 3)) {
        code = 503;
        ecode = "unavailable";
    } else if (!strncmp(t, "NOGROUP", 7) || !strcmp(t, ERR_NO_SUCH_KEY)) {
        code = 404;
        ecode = "not_found";
    } else if (!strncmp(t, "BUSYGROUP", 9) || strstr(t, "equal or smaller")) {
        code = 409;
        ecode = "conflict";
    } else if (!strncmp(t, "NOAUTH", 6) || !strncmp(t, "WRONGPASS", 9)) {
        code = 401;
        ecode = "unauthorized";
    } else if (!strncmp(t, "NOPERM", 6)) { /* the user's ACL rules refuse it */
        code = 403;
        ecode = "forbidden";
    }
    send_err(a, code, ecode, t);
}

/* The first error among the replies, NULL when none. */
static const struct respv *first_error(const struct respv *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (r[i].type == '-') return &r[i];
    return NULL;
}

/* ---- running commands ---- */

static void on_replies(void *ctx, struct respv *r, size_t n) {
    struct areq *a = ctx;
    if (!r) {
        send_err(a, 500, HTTP_ERR_LOST);
        return;
    }
    a->done(a, r, n);
}

/* Runs the commands queued on a->h, then done(a, replies). */
static void run(struct areq *a, areq_done_fn done) {
    a->done = done;
    if (hcmd_run(a->h, a->db, on_replies, a) != 0) send_err(a, 500, HTTP_ERR_LOST);
}

/* Queues one command. */
static void add(struct areq *a, struct hargs *args) {
    hcmd_add(a->h, args);
    hargs_free(args);
}

/* A run whose one reply is answered as JSON (or as an error). */
static void done_value(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    send_json(a, 200, hj_value(&r[n - 1]));
}

/* ---- request parsing ---- */

static const char *qget(struct areq *a, const char *name) {
    return evhttp_find_header(&a->q, name);
}

/* A query parameter as an integer in [lo, hi]; def when absent. -1 (after answering 400) when
 * present but invalid. */
static int qint(struct areq *a, const char *name, long long lo, long long hi, long long def,
                long long *out) {
    const char *s = qget(a, name);
    if (!s) {
        *out = def;
        return 0;
    }
    long long v;
    if (!util_parse_ll(s, strlen(s), &v) || v < lo || v > hi) {
        char msg[128];
        snprintf(msg, sizeof(msg), "invalid query parameter: %s", name);
        send_err(a, 400, "bad_request", msg);
        return -1;
    }
    *out = v;
    return 0;
}

static int qbool(struct areq *a, const char *name) {
    const char *s = qget(a, name);
    return s && (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes"));
}

/* The body as a JSON object with only the members listed in allowed (NULL-terminated); NULL
 * after answering 400/413. An empty body is an empty object. */
static json_t *body_object(struct areq *a, const char *const *allowed) {
    struct evbuffer *in = evhttp_request_get_input_buffer(a->req);
    size_t len = evbuffer_get_length(in);
    if ((long long)len > server_config.http_api_max_body) {
        send_err(a, 413, HTTP_ERR_BODY_LIMIT);
        return NULL;
    }
    if (len == 0) return json_object();
    const char *p = (const char *)evbuffer_pullup(in, -1);
    json_error_t jerr;
    json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!o) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        send_err(a, 400, "bad_json", msg);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        send_err(a, 400, HTTP_ERR_NOT_OBJECT);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(k, allowed[i]);
        if (!ok) {
            char msg[256];
            snprintf(msg, sizeof(msg), "unknown member in the body: %.200s", k);
            json_decref(o);
            send_err(a, 400, "bad_request", msg);
            return NULL;
        }
    }
    return o;
}

/* A member that must be a string (absent: NULL, fine). Returns -1 after answering 400. */
static int member_str(struct areq *a, json_t *o, const char *name, const char **out) {
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v)) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s must be a string", name);
        send_err(a, 400, "bad_request", msg);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* member_str for a member the request cannot go without: its absence is a 400 too. */
static int member_str_required(struct areq *a, json_t *o, const char *name, const char **out) {
    if (member_str(a, o, name, out) != 0) return -1;
    if (*out) return 0;
    char msg[128];
    snprintf(msg, sizeof(msg), "%s is required", name);
    send_err(a, 400, "bad_request", msg);
    return -1;
}

static int member_int(struct areq *a, json_t *o, const char *name, long long lo, long long *out,
                      int *present) {
    json_t *v = json_object_get(o, name);
    *present = v != NULL;
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s must be an integer >= %lld", name, lo);
        send_err(a, 400, "bad_request", msg);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int member_bool(struct areq *a, json_t *o, const char *name, int *out) {
    json_t *v = json_object_get(o, name);
    *out = 0;
    if (!v) return 0;
    if (!json_is_boolean(v)) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s must be true or false", name);
        send_err(a, 400, "bad_request", msg);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

#define KEY(a)   (a)->seg[1], (a)->seglen[1]
#define GROUP(a) (a)->seg[3], (a)->seglen[3]

/* ---- produce ---- */

static void done_produce(struct areq *a, struct respv *r, size_t n) {
    json_t *ids = json_array();
    const struct respv *err = NULL;
    for (size_t i = 0; i < n; i++) {
        if (r[i].type == '-') {
            err = &r[i];
            break;
        }
        if (respv_is_string(&r[i])) json_array_append_new(ids, json_stringn(r[i].str, r[i].len));
    }
    if (err) {
        /* entries before the failing one were added (a batch is not a transaction) */
        json_t *body = hj_error("bad_request", err->str);
        json_object_set_new(body, "ids", ids);
        struct respv e = *err;
        (void)e;
        int code = strstr(err->str, "equal or smaller") ? 409
                   : !strncmp(err->str, "NOPERM", 6)    ? 403
                   : (!strncmp(err->str, "LOADING", 7) || !strncmp(err->str, "MISCONF", 7) ||
                      !strncmp(err->str, "READONLY", 8) || !strncmp(err->str, "OOM", 3))
                       ? 503
                       : 400;
        json_object_set_new(json_object_get(body, "error"), "code",
                            json_string(code == 409   ? "conflict"
                                        : code == 403 ? "forbidden"
                                        : code == 503 ? "unavailable"
                                                      : "bad_request"));
        send_json(a, code, body);
        return;
    }
    if (json_array_size(ids) == 0 && n > 0) { /* NOMKSTREAM on a missing key: nil */
        json_decref(ids);
        send_err(a, 404, HTTP_ERR_NO_KEY);
        return;
    }
    send_json(a, 201, json_pack("{s:o}", "ids", ids));
}

/* Adds the XADD of one entry object (or of the single-entry body). */
/* fields is an object {name: value} or, for names that are not UTF-8, an array of
 * [name, value] pairs; names and values are strings or {"base64": ...}. */
static int queue_xadd(struct areq *a, json_t *opts, json_t *fields, json_t *idv) {
    int pairs = json_is_array(fields);
    if (pairs ? json_array_size(fields) == 0
              : !json_is_object(fields) || json_object_size(fields) == 0) {
        send_err(a, 400, HTTP_ERR_FIELDS);
        return -1;
    }
    if (idv && !json_is_string(idv)) {
        send_err(a, 400, "bad_request", "id must be a string");
        return -1;
    }
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XADD");
    hargs_add(&args, KEY(a));
    int nomk = json_is_true(json_object_get(opts, "nomkstream"));
    if (nomk) hargs_addstr(&args, "NOMKSTREAM");
    json_t *maxlen = json_object_get(opts, "maxlen"), *minid = json_object_get(opts, "minid");
    json_t *approx = json_object_get(opts, "approximate"), *limit = json_object_get(opts, "limit");
    if (maxlen || minid) {
        hargs_addstr(&args, maxlen ? "MAXLEN" : "MINID");
        hargs_addstr(&args, json_is_true(approx) ? "~" : "=");
        if (maxlen)
            hargs_addll(&args, json_integer_value(maxlen));
        else
            hargs_addstr(&args, json_string_value(minid));
        if (limit) {
            hargs_addstr(&args, "LIMIT");
            hargs_addll(&args, json_integer_value(limit));
        }
    }
    hargs_addstr(&args, idv ? json_string_value(idv) : "*");
    if (pairs) {
        size_t i;
        json_t *p;
        json_array_foreach(fields, i, p) {
            char *name = NULL, *val = NULL;
            size_t nlen, vlen;
            if (!json_is_array(p) || json_array_size(p) != 2 ||
                hj_get_bytes(json_array_get(p, 0), &name, &nlen) != 0 ||
                hj_get_bytes(json_array_get(p, 1), &val, &vlen) != 0) {
                free(name);
                hargs_free(&args);
                send_err(a, 400, HTTP_ERR_PAIRS);
                return -1;
            }
            hargs_add(&args, name, nlen);
            hargs_add(&args, val, vlen);
            free(name);
            free(val);
        }
    } else {
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach(fields, k, klen, v) {
            char *val;
            size_t vlen;
            if (hj_get_bytes(v, &val, &vlen) != 0) {
                hargs_free(&args);
                send_err(a, 400, HTTP_ERR_FIELDS);
                return -1;
            }
            hargs_add(&args, k, klen);
            hargs_add(&args, val, vlen);
            free(val);
        }
    }
    add(a, &args);
    a->nsent++;
    return 0;
}

static void api_produce(struct areq *a) {
    static const char *const allowed[] = {"fields",     "pairs", "entries",     "id",
                                          "maxlen",     "minid", "approximate", "limit",
                                          "nomkstream", NULL};
    json_t *o = body_object(a, allowed);
    if (!o) return;
    json_t *fields = json_object_get(o, "fields"), *entries = json_object_get(o, "entries");
    json_t *pairs = json_object_get(o, "pairs");
    long long tmp;
    int present, flag;
    const char *s;
    if (member_int(a, o, "maxlen", 0, &tmp, &present) ||
        member_int(a, o, "limit", 0, &tmp, &present) || member_str(a, o, "minid", &s) ||
        member_bool(a, o, "approximate", &flag) || member_bool(a, o, "nomkstream", &flag))
        goto out;
    if (json_object_get(o, "maxlen") && json_object_get(o, "minid")) {
        send_err(a, 400, "bad_request", "give maxlen or minid, not both");
        goto out;
    }
    if (!!fields + !!pairs + !!entries != 1) {
        send_err(a, 400, HTTP_ERR_FIELDS_OR_BATCH);
        goto out;
    }
    if (fields || pairs) {
        if (queue_xadd(a, o, fields ? fields : pairs, json_object_get(o, "id")) != 0) goto out;
    } else {
        if (json_object_get(o, "id")) {
            send_err(a, 400, "bad_request", "id goes inside each entry of a batch");
            goto out;
        }
        if (!json_is_array(entries) || json_array_size(entries) == 0) {
            send_err(a, 400, HTTP_ERR_ENTRIES);
            goto out;
        }
        if ((long long)json_array_size(entries) > server_config.http_api_max_batch) {
            send_err(a, 413, HTTP_ERR_BATCH_LIMIT);
            goto out;
        }
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) {
            if (!json_is_object(e)) {
                send_err(a, 400, HTTP_ERR_ENTRIES);
                goto out;
            }
            const char *k;
            json_t *v;
            json_object_foreach(e, k, v) {
                if (strcmp(k, "fields") && strcmp(k, "pairs") && strcmp(k, "id")) {
                    send_err(a, 400, "bad_request", "an entry has only fields (or pairs) and id");
                    goto out;
                }
            }
            json_t *ef = json_object_get(e, "fields"), *ep = json_object_get(e, "pairs");
            if (!!ef == !!ep) {
                send_err(a, 400, HTTP_ERR_FIELDS_OR_BATCH);
                goto out;
            }
            if (queue_xadd(a, o, ef ? ef : ep, json_object_get(e, "id")) != 0) goto out;
        }
    }
    json_decref(o);
    run(a, done_produce);
    return;
out:
    json_decref(o);
}

/* ---- read ---- */

static void done_range(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    const struct respv *v = &r[n - 1];
    json_t *entries;
    if (v->type == '%' && v->n == 2) /* XREAD (RESP3): {key: entries} */
        entries = hj_entries(&v->elems[1]);
    else if (v->type == '*' && v->n == 1 && v->elems[0].type == '*' && v->elems[0].n == 2 &&
             v->elems[0].elems[1].type == '*' && respv_is_string(&v->elems[0].elems[0]) &&
             a->id[0]) /* XREAD as [[key, entries]] */
        entries = hj_entries(&v->elems[0].elems[1]);
    else if (v->type == '_')
        entries = json_array();
    else
        entries = hj_entries(v);
    json_t *body = json_object();
    size_t ne = json_array_size(entries);
    if (ne > 0) {
        json_t *last = json_array_get(entries, ne - 1);
        json_object_set(body, "last_id", json_object_get(last, "id"));
    }
    json_object_set_new(body, "entries", entries);
    send_json(a, 200, body);
}

static void api_read(struct areq *a) {
    long long count, wait;
    if (qint(a, "count", 1, server_config.http_api_max_count, DEFAULT_COUNT, &count) ||
        qint(a, "wait_ms", 0, server_config.http_api_max_wait_ms, -1, &wait))
        return;
    struct hargs args;
    hargs_init(&args);
    const char *after = qget(a, "after");
    if (after) {
        snprintf(a->id, sizeof(a->id), "%s", after);
        hargs_addstr(&args, "XREAD");
        hargs_addstr(&args, "COUNT");
        hargs_addll(&args, count);
        if (wait >= 0) {
            hargs_addstr(&args, "BLOCK");
            hargs_addll(&args, wait == 0 ? 1 : wait); /* BLOCK 0 would wait for ever */
        }
        hargs_addstr(&args, "STREAMS");
        hargs_add(&args, KEY(a));
        hargs_addstr(&args, after);
    } else {
        if (wait >= 0) {
            hargs_free(&args);
            send_err(a, 400, "bad_request", "wait_ms needs after");
            return;
        }
        int rev = qbool(a, "reverse");
        const char *start = qget(a, "start"), *end = qget(a, "end");
        hargs_addstr(&args, rev ? "XREVRANGE" : "XRANGE");
        hargs_add(&args, KEY(a));
        if (rev) {
            hargs_addstr(&args, end ? end : "+");
            hargs_addstr(&args, start ? start : "-");
        } else {
            hargs_addstr(&args, start ? start : "-");
            hargs_addstr(&args, end ? end : "+");
        }
        hargs_addstr(&args, "COUNT");
        hargs_addll(&args, count);
    }
    add(a, &args);
    run(a, done_range);
}

/* ---- live tail (Server-Sent Events) ---- */

static void tail_next(struct areq *a);

static void sse_write(struct areq *a, const char *p, size_t len) {
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    evbuffer_add(b, p, len);
    evhttp_send_reply_chunk(a->req, b);
    evbuffer_free(b);
}

static void sse_end(struct areq *a) {
    evhttp_send_reply_end(a->req);
    areq_free(a);
}

static void done_tail(struct areq *a, struct respv *r, size_t n) {
    const struct respv *v = &r[n - 1];
    if (v->type == '-') {
        char line[600];
        int len = snprintf(line, sizeof(line), "event: error\ndata: %.500s\n\n", v->str);
        sse_write(a, line, (size_t)len);
        sse_end(a);
        return;
    }
    if (v->type == '%' && v->n == 2 && v->elems[1].type == '*') {
        const struct respv *es = &v->elems[1];
        for (size_t i = 0; i < es->n; i++) {
            json_t *e = hj_entry(&es->elems[i]);
            char *text = json_dumps(e, JSON_COMPACT);
            const char *id = json_string_value(json_object_get(e, "id"));
            if (text && id) {
                snprintf(a->id, sizeof(a->id), "%s", id);
                struct evbuffer *b = evbuffer_new();
                if (b) {
                    evbuffer_add_printf(b, "id: %s\nevent: entry\ndata: %s\n\n", id, text);
                    evhttp_send_reply_chunk(a->req, b);
                    evbuffer_free(b);
                }
            }
            free(text);
            json_decref(e);
        }
    } else {
        static const char ka[] = ": keep-alive\n\n";
        sse_write(a, ka, sizeof(ka) - 1);
    }
    struct bufferevent *bev = a->evcon ? evhttp_connection_get_bufferevent(a->evcon) : NULL;
    if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > SSE_MAX_BACKLOG) {
        sse_end(a); /* a reader that does not keep up is dropped, not buffered without end */
        return;
    }
    tail_next(a);
}

static void tail_next(struct areq *a) {
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XREAD");
    hargs_addstr(&args, "COUNT");
    hargs_addll(&args, SSE_COUNT_PER_READ);
    hargs_addstr(&args, "BLOCK");
    hargs_addll(&args, SSE_BLOCK_MS);
    hargs_addstr(&args, "STREAMS");
    hargs_add(&args, KEY(a));
    hargs_addstr(&args, a->id);
    add(a, &args);
    a->done = done_tail;
    if (hcmd_run(a->h, a->db, on_replies, a) != 0) sse_end(a);
}

static void start_sse(struct areq *a) {
    struct evkeyvalq *hd = evhttp_request_get_output_headers(a->req);
    evhttp_add_header(hd, "Content-Type", "text/event-stream");
    evhttp_add_header(hd, "Cache-Control", "no-store");
    evhttp_send_reply_start(a->req, 200, "OK");
    a->sse = 1;
    nsse++;
    static const char hello[] = "retry: 1000\n\n";
    sse_write(a, hello, sizeof(hello) - 1);
}

static void done_tail_start(struct areq *a, struct respv *r, size_t n) {
    const struct respv *v = &r[n - 1];
    if (v->type == '-') return send_cmd_error(a, v);
    /* the last entry now: the tail starts after it */
    if (v->type == '*' && v->n == 1 && v->elems[0].type == '*' && v->elems[0].n == 2 &&
        respv_is_string(&v->elems[0].elems[0]))
        snprintf(a->id, sizeof(a->id), "%s", v->elems[0].elems[0].str);
    else
        snprintf(a->id, sizeof(a->id), "0-0");
    start_sse(a);
    tail_next(a);
}

static void api_tail(struct areq *a) {
    if (nsse >= server_config.http_api_max_sse) {
        send_err(a, 503, HTTP_ERR_SSE_LIMIT);
        return;
    }
    const char *from =
        evhttp_find_header(evhttp_request_get_input_headers(a->req), "Last-Event-ID");
    if (!from) from = qget(a, "after");
    if (from) {
        if (strlen(from) >= sizeof(a->id) || !*from) {
            send_err(a, 400, "bad_request", "invalid Last-Event-ID or after");
            return;
        }
        snprintf(a->id, sizeof(a->id), "%s", from);
        start_sse(a);
        tail_next(a);
        return;
    }
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XREVRANGE");
    hargs_add(&args, KEY(a));
    hargs_addstr(&args, "+");
    hargs_addstr(&args, "-");
    hargs_addstr(&args, "COUNT");
    hargs_addstr(&args, "1");
    add(a, &args);
    run(a, done_tail_start);
}

/* ---- search ---- */

static void search_slice(struct areq *a);

static int contains(const char *h, size_t hl, const char *n, size_t nl) {
    if (nl == 0) return 1;
    if (nl > hl) return 0;
    return memmem(h, hl, n, nl) != NULL;
}

static int entry_matches(struct areq *a, const struct respv *e) {
    if (e->type != '*' || e->n != 2 || e->elems[1].type != '*') return 0;
    const struct respv *fv = &e->elems[1];
    for (size_t i = 0; i + 1 < fv->n; i += 2) {
        const struct respv *k = &fv->elems[i], *v = &fv->elems[i + 1];
        if (a->field && (k->len != a->fieldlen || memcmp(k->str, a->field, k->len))) continue;
        if (a->exact ? (v->len == a->matchlen && !memcmp(v->str, a->match, v->len))
                     : contains(v->str, v->len, a->match, a->matchlen))
            return 1;
    }
    return 0;
}

static void search_answer(struct areq *a, int more) {
    json_t *body = json_object();
    json_object_set_new(body, "matches", a->found);
    a->found = NULL;
    json_object_set_new(body, "scanned", json_integer(a->scanned));
    json_object_set_new(body, "cursor", more ? json_string(a->id) : json_null());
    send_json(a, 200, body);
}

static void done_search(struct areq *a, struct respv *r, size_t n) {
    const struct respv *v = &r[n - 1];
    if (v->type == '-') return send_cmd_error(a, v);
    if (v->type != '*') return search_answer(a, 0);
    for (size_t i = 0; i < v->n; i++) {
        const struct respv *e = &v->elems[i];
        a->scanned++;
        if (e->type == '*' && e->n == 2 && respv_is_string(&e->elems[0]))
            snprintf(a->id, sizeof(a->id), "(%s", e->elems[0].str);
        if (entry_matches(a, e)) {
            json_array_append_new(a->found, hj_entry(e));
            if ((long long)json_array_size(a->found) >= a->limit)
                return search_answer(a, i + 1 < v->n || (long long)v->n == a->slice);
        }
    }
    if ((long long)v->n < a->slice) return search_answer(a, 0); /* the end of the range */
    if (a->scanned >= a->budget) return search_answer(a, 1);    /* the budget: a cursor */
    search_slice(a);
}

static void search_slice(struct areq *a) {
    long long left = a->budget - a->scanned;
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XRANGE");
    hargs_add(&args, KEY(a));
    hargs_addstr(&args, a->id);
    hargs_addstr(&args, a->end);
    hargs_addstr(&args, "COUNT");
    a->slice = left < SEARCH_SLICE ? left : SEARCH_SLICE;
    hargs_addll(&args, a->slice);
    add(a, &args);
    run(a, done_search);
}

static void api_search(struct areq *a) {
    const char *start = qget(a, "cursor"), *end = qget(a, "end"), *match = qget(a, "match");
    const char *field = qget(a, "field"), *mode = qget(a, "mode");
    if (!start) start = qget(a, "start");
    if (!start || !end || strlen(start) >= sizeof(a->id) || strlen(end) >= sizeof(a->end)) {
        send_err(a, 400, HTTP_ERR_RANGE_REQUIRED);
        return;
    }
    if (!match) {
        send_err(a, 400, "bad_request", "search needs match");
        return;
    }
    if (mode && strcmp(mode, "contains") && strcmp(mode, "equals")) {
        send_err(a, 400, "bad_request", "mode is contains or equals");
        return;
    }
    long long limit, budget;
    if (qint(a, "limit", 1, server_config.http_api_max_count, DEFAULT_COUNT, &limit) ||
        qint(a, "budget", 1, server_config.http_api_scan_budget, server_config.http_api_scan_budget,
             &budget))
        return;
    snprintf(a->id, sizeof(a->id), "%s", start);
    snprintf(a->end, sizeof(a->end), "%s", end);
    a->match = strdup(match);
    a->matchlen = strlen(match);
    if (field) {
        a->field = strdup(field);
        a->fieldlen = strlen(field);
    }
    a->exact = mode && !strcmp(mode, "equals");
    a->limit = limit;
    a->budget = budget;
    a->found = json_array();
    search_slice(a);
}

/* ---- topics ---- */

/* Append rates: entries-added of a topic sampled when it is listed; the rate is the change
 * between two samples at least RATE_MIN_MS apart (a dashboard polling every few seconds keeps
 * it fresh). A fixed table indexed by a hash of (db, key); a collision replaces the slot. */
#define RATE_SLOTS  4096
#define RATE_MIN_MS 1000

static struct rate_slot {
    uint64_t hash;
    uint64_t added;
    long long ms;
    double rate;
    int used, has_rate;
} rates[RATE_SLOTS];

static json_t *append_rate(int db, const char *key, size_t len, long long added) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)db;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    struct rate_slot *sl = &rates[h % RATE_SLOTS];
    long long now = util_mstime();
    if (!sl->used || sl->hash != h || (uint64_t)added < sl->added) {
        *sl = (struct rate_slot){.hash = h, .added = (uint64_t)added, .ms = now, .used = 1};
        return json_null();
    }
    if (now - sl->ms >= RATE_MIN_MS) {
        sl->rate = (double)((uint64_t)added - sl->added) * 1000.0 / (double)(now - sl->ms);
        sl->added = (uint64_t)added;
        sl->ms = now;
        sl->has_rate = 1;
    }
    return sl->has_rate ? json_real(sl->rate) : json_null();
}

static void done_topics_infos(struct areq *a, struct respv *r, size_t n);
static void done_topics_scan(struct areq *a, struct respv *r, size_t n);
static void done_topic_info(struct areq *a, struct respv *r, size_t n);

static void done_topics(struct areq *a, struct respv *r, size_t n) {
    /* r[0]: SCAN [cursor, keys]; then per key XINFO STREAM */
    const struct respv *e = first_error(r, 1);
    if (e) return send_cmd_error(a, e);
    const struct respv *keys = &r[0].elems[1];
    json_t *list = json_array();
    struct store *st = db_store();
    for (size_t i = 0; i < keys->n && i + 1 < n; i++) {
        const struct respv *k = &keys->elems[i], *info = &r[i + 1];
        if (info->type == '-') continue; /* deleted since the SCAN */
        json_t *t = json_object();
        json_object_set_new(t, "key", hj_bytes(k->str, k->len));
        const struct respv *len = respv_map_get(info, "length");
        const struct respv *fe = respv_map_get(info, "first-entry");
        const struct respv *le = respv_map_get(info, "last-generated-id");
        const struct respv *ea = respv_map_get(info, "entries-added");
        const struct respv *g = respv_map_get(info, "groups");
        json_object_set_new(t, "length", json_integer(len ? len->integer : 0));
        json_object_set_new(t, "first_id",
                            fe && fe->type == '*' && fe->n == 2
                                ? json_stringn(fe->elems[0].str, fe->elems[0].len)
                                : json_null());
        json_object_set_new(t, "last_id",
                            le && respv_is_string(le) ? json_string(le->str) : json_null());
        json_object_set_new(t, "entries_added", json_integer(ea ? ea->integer : 0));
        json_object_set_new(t, "append_rate",
                            append_rate(a->db, k->str, k->len, ea ? ea->integer : 0));
        json_object_set_new(t, "groups", json_integer(g ? g->integer : 0));
        struct topic *tp = st ? store_lookup(st, a->db, k->str, k->len) : NULL;
        json_object_set_new(t, "disk_bytes",
                            json_integer(tp ? (long long)topic_disk_bytes(tp) : 0));
        json_array_append_new(list, t);
    }
    const struct respv *cur = &r[0].elems[0];
    int more = respv_is_string(cur) && strcmp(cur->str, "0");
    send_json(a, 200,
              json_pack("{s:o,s:o}", "topics", list, "cursor",
                        more ? json_string(cur->str) : json_null()));
}

static void api_topics(struct areq *a) {
    long long count;
    if (qint(a, "count", 1, server_config.http_api_max_count, DEFAULT_COUNT, &count)) return;
    const char *cursor = qget(a, "cursor");
    long long cur;
    if (cursor && (!util_parse_ll(cursor, strlen(cursor), &cur) || cur < 0)) {
        send_err(a, 400, "bad_request", "invalid query parameter: cursor");
        return;
    }
    /* SCAN, then XINFO STREAM of what it returned: two runs */
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "SCAN");
    hargs_addstr(&args, cursor ? cursor : "0");
    if (qget(a, "match")) {
        hargs_addstr(&args, "MATCH");
        hargs_addstr(&args, qget(a, "match"));
    }
    hargs_addstr(&args, "COUNT");
    hargs_addll(&args, count);
    add(a, &args);
    run(a, done_topics_scan);
}

static void done_topics_scan(struct areq *a, struct respv *r, size_t n) {
    const struct respv *v = &r[n - 1];
    if (v->type == '-') return send_cmd_error(a, v);
    if (v->type != '*' || v->n != 2 || v->elems[1].type != '*')
        return send_err(a, 500, HTTP_ERR_LOST);
    /* the SCAN reply is kept (moved out of the run's replies) while the XINFOs run */
    if (!(a->scan = malloc(sizeof(*a->scan)))) return send_err(a, 500, HTTP_ERR_LOST);
    *a->scan = r[n - 1];
    memset(&r[n - 1], 0, sizeof(r[n - 1]));
    const struct respv *keys = &a->scan->elems[1];
    if (keys->n == 0) return done_topics(a, a->scan, 1);
    for (size_t i = 0; i < keys->n; i++) {
        struct hargs args;
        hargs_init(&args);
        hargs_addstr(&args, "XINFO");
        hargs_addstr(&args, "STREAM");
        hargs_add(&args, keys->elems[i].str, keys->elems[i].len);
        add(a, &args);
    }
    run(a, done_topics_infos);
}

static void done_topics_infos(struct areq *a, struct respv *r, size_t n) {
    struct respv *all = calloc(n + 1, sizeof(*all));
    if (!all) return send_err(a, 500, HTTP_ERR_LOST);
    all[0] = *a->scan;
    memcpy(all + 1, r, n * sizeof(*r));
    done_topics(a, all, n + 1);
    free(all);
}

static void api_topic_info(struct areq *a) {
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XINFO");
    hargs_addstr(&args, "STREAM");
    hargs_add(&args, KEY(a));
    add(a, &args);
    hargs_init(&args);
    hargs_addstr(&args, "XLAG");
    hargs_add(&args, KEY(a));
    add(a, &args);
    hargs_init(&args);
    hargs_addstr(&args, "XRETENTION");
    hargs_add(&args, KEY(a));
    add(a, &args);
    run(a, done_topic_info);
}

static void done_topic_info(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    json_t *info = hj_value(&r[0]);
    json_object_set_new(info, "key", hj_bytes(KEY(a)));
    json_object_set_new(info, "groups", hj_value(&r[1]));
    json_object_set_new(info, "retention", hj_value(&r[2]));
    struct store *st = db_store();
    struct topic *tp = st ? store_lookup(st, a->db, KEY(a)) : NULL;
    json_object_set_new(info, "disk_bytes", json_integer(tp ? (long long)topic_disk_bytes(tp) : 0));
    const struct respv *ea = respv_map_get(&r[0], "entries-added");
    json_object_set_new(info, "append_rate", append_rate(a->db, KEY(a), ea ? ea->integer : 0));
    send_json(a, 200, info);
}

static void done_delete(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    if (r[0].integer == 0) return send_err(a, 404, HTTP_ERR_NO_KEY);
    send_json(a, 204, json_object());
}

static void api_topic_delete(struct areq *a) {
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "DEL");
    hargs_add(&args, KEY(a));
    add(a, &args);
    run(a, done_delete);
}

static void done_ok(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    send_json(a, 200, json_pack("{s:b}", "ok", 1));
}

static void api_retention(struct areq *a, int set) {
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XRETENTION");
    hargs_add(&args, KEY(a));
    if (set) {
        static const char *const allowed[] = {"bytes", "ms", NULL};
        json_t *o = body_object(a, allowed);
        if (!o) {
            hargs_free(&args);
            return;
        }
        const char *names[2] = {"bytes", "ms"}, *words[2] = {"BYTES", "MS"};
        for (int i = 0; i < 2; i++) {
            json_t *v = json_object_get(o, names[i]);
            if (!v) continue;
            hargs_addstr(&args, words[i]);
            if (json_is_null(v))
                hargs_addstr(&args, "DEFAULT");
            else if (json_is_integer(v) && json_integer_value(v) >= -1)
                hargs_addll(&args, json_integer_value(v));
            else {
                json_decref(o);
                hargs_free(&args);
                send_err(a, 400, "bad_request", "bytes and ms are integers >= -1, or null");
                return;
            }
        }
        json_decref(o);
        if (args.argc == 2) {
            hargs_free(&args);
            send_err(a, 400, "bad_request", "give bytes or ms");
            return;
        }
    }
    add(a, &args);
    run(a, set ? done_ok : done_value);
}

/* ---- consumer groups ---- */

static void done_created(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    send_json(a, 201, json_pack("{s:b}", "ok", 1));
}

static void done_destroyed(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    if (r[n - 1].integer == 0) return send_err(a, 404, "not_found", "no such consumer group");
    send_json(a, 204, json_object());
}

static void api_group_create(struct areq *a) {
    static const char *const allowed[] = {"id", "mkstream", "entries_read", NULL};
    json_t *o = body_object(a, allowed);
    if (!o) return;
    const char *id;
    int mk, present;
    long long er;
    if (member_str(a, o, "id", &id) || member_bool(a, o, "mkstream", &mk) ||
        member_int(a, o, "entries_read", -1, &er, &present)) {
        json_decref(o);
        return;
    }
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XGROUP");
    hargs_addstr(&args, "CREATE");
    hargs_add(&args, KEY(a));
    hargs_add(&args, GROUP(a));
    hargs_addstr(&args, id ? id : "$");
    if (mk) hargs_addstr(&args, "MKSTREAM");
    if (present) {
        hargs_addstr(&args, "ENTRIESREAD");
        hargs_addll(&args, er);
    }
    json_decref(o);
    add(a, &args);
    run(a, done_created);
}

static void api_group_simple(struct areq *a, const char *cmd, const char *sub, areq_done_fn done) {
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, cmd);
    if (sub) hargs_addstr(&args, sub);
    hargs_add(&args, KEY(a));
    if (a->nseg > 3) hargs_add(&args, GROUP(a));
    add(a, &args);
    run(a, done);
}

static void done_group_read(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    const struct respv *v = &r[n - 1];
    json_t *entries = v->type == '%' && v->n == 2 ? hj_entries(&v->elems[1]) : json_array();
    send_json(a, 200, json_pack("{s:o}", "entries", entries));
}

static void api_group_read(struct areq *a) {
    static const char *const allowed[] = {"consumer", "count", "wait_ms", "id", "noack", NULL};
    json_t *o = body_object(a, allowed);
    if (!o) return;
    const char *consumer, *id;
    long long count = DEFAULT_COUNT, wait = -1;
    int pc, pw, noack;
    if (member_str_required(a, o, "consumer", &consumer) || member_str(a, o, "id", &id) ||
        member_int(a, o, "count", 1, &count, &pc) || member_int(a, o, "wait_ms", 0, &wait, &pw) ||
        member_bool(a, o, "noack", &noack))
        goto out;
    if (count > server_config.http_api_max_count) {
        send_err(a, 400, HTTP_ERR_COUNT_LIMIT);
        goto out;
    }
    if (pw && wait > server_config.http_api_max_wait_ms) {
        send_err(a, 400, "bad_request", "wait_ms is above http-api-max-wait-ms");
        goto out;
    }
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XREADGROUP");
    hargs_addstr(&args, "GROUP");
    hargs_add(&args, GROUP(a));
    hargs_addstr(&args, consumer);
    hargs_addstr(&args, "COUNT");
    hargs_addll(&args, count);
    if (pw) {
        hargs_addstr(&args, "BLOCK");
        hargs_addll(&args, wait == 0 ? 1 : wait);
    }
    if (noack) hargs_addstr(&args, "NOACK");
    hargs_addstr(&args, "STREAMS");
    hargs_add(&args, KEY(a));
    hargs_addstr(&args, id ? id : ">");
    json_decref(o);
    add(a, &args);
    run(a, done_group_read);
    return;
out:
    json_decref(o);
}

/* The "ids" member: a non-empty array of strings, added to args. */
static int add_ids(struct areq *a, json_t *o, struct hargs *args) {
    json_t *ids = json_object_get(o, "ids");
    if (!json_is_array(ids) || json_array_size(ids) == 0 ||
        (long long)json_array_size(ids) > server_config.http_api_max_batch) {
        send_err(a, 400, "bad_request", "ids must be a non-empty array of entry IDs");
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v)) {
            send_err(a, 400, "bad_request", "ids must be a non-empty array of entry IDs");
            return -1;
        }
        hargs_addstr(args, json_string_value(v));
    }
    return 0;
}

static void done_acked(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    send_json(a, 200, json_pack("{s:I}", "acked", (json_int_t)r[n - 1].integer));
}

static void api_group_ack(struct areq *a) {
    static const char *const allowed[] = {"ids", NULL};
    json_t *o = body_object(a, allowed);
    if (!o) return;
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XACK");
    hargs_add(&args, KEY(a));
    hargs_add(&args, GROUP(a));
    if (add_ids(a, o, &args) != 0) {
        hargs_free(&args);
        json_decref(o);
        return;
    }
    json_decref(o);
    add(a, &args);
    run(a, done_acked);
}

static void done_claimed(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    send_json(a, 200, json_pack("{s:o}", "entries", hj_entries(&r[n - 1])));
}

static void api_group_claim(struct areq *a) {
    static const char *const allowed[] = {"consumer", "min_idle_ms", "ids", NULL};
    json_t *o = body_object(a, allowed);
    if (!o) return;
    const char *consumer;
    long long idle = 0;
    int present;
    if (member_str_required(a, o, "consumer", &consumer) ||
        member_int(a, o, "min_idle_ms", 0, &idle, &present)) {
        json_decref(o);
        return;
    }
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XCLAIM");
    hargs_add(&args, KEY(a));
    hargs_add(&args, GROUP(a));
    hargs_addstr(&args, consumer);
    hargs_addll(&args, idle);
    if (add_ids(a, o, &args) != 0) {
        hargs_free(&args);
        json_decref(o);
        return;
    }
    json_decref(o);
    add(a, &args);
    run(a, done_claimed);
}

static void api_group_commit(struct areq *a) {
    static const char *const allowed[] = {"id", NULL};
    json_t *o = body_object(a, allowed);
    if (!o) return;
    const char *id;
    if (member_str_required(a, o, "id", &id)) {
        json_decref(o);
        return;
    }
    struct hargs args;
    hargs_init(&args);
    hargs_addstr(&args, "XCOMMIT");
    hargs_add(&args, KEY(a));
    hargs_add(&args, GROUP(a));
    hargs_addstr(&args, id);
    json_decref(o);
    add(a, &args);
    run(a, done_ok);
}

static void done_lag(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    const struct respv *v = &r[n - 1];
    send_json(a, 200, v->type == '*' && v->n == 1 ? hj_value(&v->elems[0]) : hj_value(v));
}

/* XPENDING's summary [count, min, max, [[consumer, n] ...]] as an object. */
static void done_pending(struct areq *a, struct respv *r, size_t n) {
    const struct respv *e = first_error(r, n);
    if (e) return send_cmd_error(a, e);
    const struct respv *v = &r[n - 1];
    if (v->type != '*' || v->n != 4) return send_json(a, 200, hj_value(v));
    json_t *consumers = json_array();
    const struct respv *cs = &v->elems[3];
    for (size_t i = 0; cs->type == '*' && i < cs->n; i++) {
        const struct respv *c = &cs->elems[i];
        if (c->type != '*' || c->n != 2) continue;
        long long cnt = 0;
        util_parse_ll(c->elems[1].str ? c->elems[1].str : "0", c->elems[1].len, &cnt);
        json_array_append_new(consumers, json_pack("{s:o,s:I}", "name",
                                                   hj_bytes(c->elems[0].str, c->elems[0].len),
                                                   "pending", (json_int_t)cnt));
    }
    send_json(a, 200,
              json_pack("{s:o,s:o,s:o,s:o}", "count", hj_value(&v->elems[0]), "min",
                        hj_value(&v->elems[1]), "max", hj_value(&v->elems[2]), "consumers",
                        consumers));
}

/* ---- routing ---- */

static int is(const struct areq *a, int i, const char *s) {
    return i < a->nseg && a->seglen[i] == strlen(s) && !memcmp(a->seg[i], s, a->seglen[i]);
}

static void method_not_allowed(struct areq *a, const char *allow) {
    evhttp_add_header(evhttp_request_get_output_headers(a->req), "Allow", allow);
    send_err(a, 405, HTTP_ERR_METHOD);
}

static void route(struct areq *a, enum evhttp_cmd_type m) {
    /* HEAD is GET without the body (send_json leaves it out), except on the event stream */
    int head = m == EVHTTP_REQ_HEAD;
    int get = m == EVHTTP_REQ_GET || head, post = m == EVHTTP_REQ_POST;
    int del = m == EVHTTP_REQ_DELETE;
    int put = m == EVHTTP_REQ_PUT;
    if (!is(a, 0, "topics")) return send_err(a, 404, HTTP_ERR_NOT_FOUND);
    if (a->nseg == 1) {
        if (!get) return method_not_allowed(a, "GET, HEAD");
        return api_topics(a);
    }
    if (a->nseg == 2) {
        if (get) return api_topic_info(a);
        if (del) return api_topic_delete(a);
        return method_not_allowed(a, "GET, HEAD, DELETE");
    }
    if (a->nseg == 3) {
        if (is(a, 2, "entries")) {
            if (get) return api_read(a);
            if (post) return api_produce(a);
            return method_not_allowed(a, "GET, HEAD, POST");
        }
        if (is(a, 2, "tail")) return get && !head ? api_tail(a) : method_not_allowed(a, "GET");
        if (is(a, 2, "search")) return get ? api_search(a) : method_not_allowed(a, "GET, HEAD");
        if (is(a, 2, "retention")) {
            if (get || put) return api_retention(a, put);
            return method_not_allowed(a, "GET, HEAD, PUT");
        }
        if (is(a, 2, "groups")) {
            if (!get) return method_not_allowed(a, "GET, HEAD");
            return api_group_simple(a, "XINFO", "GROUPS", done_value);
        }
        return send_err(a, 404, HTTP_ERR_NOT_FOUND);
    }
    if (!is(a, 2, "groups")) return send_err(a, 404, HTTP_ERR_NOT_FOUND);
    if (a->nseg == 4) {
        if (post) return api_group_create(a);
        if (del) return api_group_simple(a, "XGROUP", "DESTROY", done_destroyed);
        if (get) return api_group_simple(a, "XLAG", NULL, done_lag);
        return method_not_allowed(a, "GET, HEAD, POST, DELETE");
    }
    if (a->nseg == 5) {
        struct {
            const char *name;
            void (*fn)(struct areq *a);
        } posts[] = {{"read", api_group_read},
                     {"ack", api_group_ack},
                     {"claim", api_group_claim},
                     {"commit", api_group_commit}};
        for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++)
            if (is(a, 4, posts[i].name))
                return post ? posts[i].fn(a) : method_not_allowed(a, "POST");
        if (is(a, 4, "lag"))
            return get ? api_group_simple(a, "XLAG", NULL, done_lag)
                       : method_not_allowed(a, "GET, HEAD");
        if (is(a, 4, "pending"))
            return get ? api_group_simple(a, "XPENDING", NULL, done_pending)
                       : method_not_allowed(a, "GET, HEAD");
    }
    send_err(a, 404, HTTP_ERR_NOT_FOUND);
}

static void on_close(struct evhttp_connection *evcon, void *arg) {
    (void)evcon;
    struct areq *a = arg;
    /* The request was detached from its connection (evhttp keeps it for us): finishing it
     * frees it. The command connection is abandoned (a blocked read goes with it). */
    a->evcon = NULL;
    if (a->sse) {
        sse_end(a);
        return;
    }
    evhttp_send_error(a->req, 500, "gone");
    areq_free(a);
}

void http_api_handle(struct evhttp_request *req, const char *path, const char *user, size_t ulen) {
    struct areq *a = calloc(1, sizeof(*a));
    if (a && user) {
        a->user = malloc(ulen + 1);
        if (a->user) {
            memcpy(a->user, user, ulen);
            a->user[ulen] = '\0';
            a->userlen = ulen;
        }
    }
    if (!a || (user && !a->user)) {
        free(a);
        evhttp_send_error(req, 500, "Out of memory");
        return;
    }
    a->req = req;
    TAILQ_INIT(&a->q);
    a->next = live;
    if (live) live->prev = a;
    live = a;
    /* segments after /v1/, each percent-decoded (binary-safe keys) */
    const char *p = path + 3;
    while (*p == '/') p++;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (a->nseg == MAX_SEGMENTS) return send_err(a, 404, HTTP_ERR_NOT_FOUND);
        char *raw = strndup(p, len);
        size_t dlen = 0;
        char *dec = raw ? evhttp_uridecode(raw, 0, &dlen) : NULL;
        free(raw);
        if (!dec) return send_err(a, 400, HTTP_ERR_BAD_KEY);
        a->seg[a->nseg] = dec;
        a->seglen[a->nseg++] = dlen;
        p += len;
        while (*p == '/') p++;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (query && evhttp_parse_query_str(query, &a->q) != 0)
        return send_err(a, 400, HTTP_ERR_BAD_PARAM);
    long long db;
    if (qint(a, "db", 0, server_config.databases - 1, 0, &db)) return;
    a->db = (int)db;
    a->h = hcmd_open();
    if (!a->h) return send_err(a, 503, HTTP_ERR_NO_CONN);
    if (hcmd_set_user(a->h, a->user, a->userlen) != 0) /* deleted since it authenticated */
        return send_err(a, 401, HTTP_ERR_AUTH_INVALID);
    if (a->db != 0) { /* another database is a SELECT: the user's rules must allow it */
        char n[16];
        char *sel[] = {"select", n};
        size_t lens[] = {6, (size_t)snprintf(n, sizeof(n), "%d", a->db)};
        if (!acl_user_may_run(a->user, a->userlen, "select", 2, sel, lens))
            return send_err(a, 403, HTTP_ERR_FORBIDDEN_SELECT);
    }
    a->evcon = evhttp_request_get_connection(req);
    if (a->evcon) evhttp_connection_set_closecb(a->evcon, on_close, a);
    route(a, evhttp_request_get_command(req));
}

void http_api_stop(void) {
    while (live) {
        /* the request itself goes with the HTTP server; areq_free only unhooks the close
         * callback from its connection and abandons the command connection */
        areq_free(live);
    }
    hcmd_close_idle();
}

int http_api_sse_count(void) {
    return nsse;
}
