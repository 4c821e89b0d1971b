/* http.c - the HTTP face: GET /health, /health/live, /health/ready and /metrics, the gate in
 * front of every path (authentication, protected mode), and the routing to the API under /v1
 * and the dashboard.
 *
 * Design: one evhttp on the server's event_base, so a request runs on the main thread between
 * clients' commands and reads every counter without locks; an answer therefore also proves the
 * loop turns (/health/live). Paths are matched exactly (a query string is ignored); a known path
 * with a method other than GET or HEAD gets 405 with an Allow header, anything else 404. evhttp
 * is told to accept every method it knows so that those answers are ours (it would otherwise
 * say 501). Requests are bounded: 8 KiB of headers, a 10 s timeout, and bodies up to
 * http-api-max-body on every path; a larger one is refused with the API's JSON 413 before it
 * is read (http_body_limit.c puts a gate under each connection for that).
 *
 * Access: every request passes one gate before routing, with the RESP port's rules. GET and
 * HEAD of /health/live and /health/ready always pass (probes carry no credentials). Protected
 * mode (protected-mode yes and no password for the default user) answers 403 to a peer that is
 * not loopback (127.0.0.0/8, ::1, ::ffff:127.x). When any password or user is configured
 * (acl_auth_configured), a request needs "Authorization: Basic base64(user:password)", checked
 * by acl_check_credentials as AUTH is (an empty user name is the default user), or "Bearer
 * <http-auth-token>", compared in constant time; otherwise 401 with a Basic challenge (JSON
 * under /v1, text elsewhere). A wrong or malformed Authorization header is a failed
 * authentication for authfail.c; a missing one is not (every browser's first request has
 * none). The user a request authenticated as goes with it to the API (http_api_handle).
 *
 * Health: the server is healthy when it is not loading, has a listener, has its store open and
 * has no sticky storage error; /health says which component is not ok. /health/ready is the
 * same verdict without the body a load balancer does not need; /health/live is 200 whenever
 * the loop answers (also while loading). Main thread only. */
#include "server/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "base/log.h"
#include "base/sbuf.h"
#include "base/status.h"
#include "base/util.h"
#include "server/acl.h"
#include "server/authfail.h"
#include "server/backup.h"
#include "server/config.h"
#include "server/db.h"
#include "server/durable.h"
#include "server/errors.h"
#include "server/http_api.h"
#include "server/http_body_limit.h"
#include "server/http_dash.h"
#include "server/http_json.h"
#include "server/listen.h"
#include "server/metrics.h"
#include "server/conn.h"
#include "server/runtime.h"
#include "server/stats.h"
#include "storage/store.h"

#define HTTP_TIMEOUT_SECONDS   10
#define HTTP_MAX_HEADERS_BYTES 8192
#define HTTP_ALLOW             "GET, HEAD"

/* Addresses http-bind may list. */
#define HTTP_MAX_LISTENERS 16

static struct {
    struct evhttp *http;
    int port;
} face;

/* ---- answers ---- */

static void send_text(struct evhttp_request *req, int code, const char *reason, const char *type,
                      const char *body, size_t len) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, "Out of memory");
        return;
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* HEAD: the GET answer's headers (its length too), no body; evhttp 2.1 would send it */
        char n[32];
        snprintf(n, sizeof(n), "%zu", len);
        evhttp_add_header(h, "Content-Length", n);
    } else {
        evbuffer_add(out, body, len);
    }
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

static void send_sbuf(struct evhttp_request *req, int code, const char *type, struct sbuf *b) {
    if (b->failed) {
        evhttp_send_error(req, 500, "Out of memory");
        return;
    }
    send_text(req, code, code == 200 ? "OK" : "Service Unavailable", type, b->p ? b->p : "",
              b->len);
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void json_text(struct sbuf *b, const char *s) {
    sbuf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            sbuf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            sbuf_printf(b, "\\u%04x", ch);
        else
            sbuf_add(b, s, 1);
    }
    sbuf_add(b, "\"", 1);
}

/* ---- health ---- */

struct health {
    int listener_ok, storage_open, io_error, loading, stopping;
    int healthy;
};

static void health_assess(struct health *h) {
    h->listener_ok = runtime.nlisteners + runtime.ntls > 0;
    h->storage_open = db_store() != NULL;
    h->io_error = durable_error() != 0;
    h->loading = runtime.loading;
    h->stopping = runtime.shutdown_asap;
    h->healthy = h->listener_ok && h->storage_open && !h->io_error && !h->loading && !h->stopping;
}

static const char *ok_or(int ok, const char *otherwise) {
    return ok ? "ok" : otherwise;
}

static void health_full(struct evhttp_request *req) {
    static const char *const fsync_names[] = {"always", "everysec", "no"};
    struct health h;
    health_assess(&h);
    struct store_stats st;
    memset(&st, 0, sizeof(st));
    if (h.storage_open) store_stats(db_store(), &st);
    long long now_ms = util_mstime();
    struct sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b,
                "{\"status\":\"%s\",\"uptime_seconds\":%lld,\"version\":\"%s\",\"components\":{",
                h.healthy    ? "ok"
                : h.loading  ? "loading"
                : h.stopping ? "stopping"
                             : "failing",
                (now_ms - runtime.start_ms) / 1000, OBELISK_VERSION);
    sbuf_printf(&b,
                "\"listener\":{\"status\":\"%s\",\"port\":%d,\"listeners\":%d,"
                "\"tls_port\":%d,\"tls_listeners\":%d,\"connected_clients\":%d},",
                ok_or(h.listener_ok, "down"), runtime.port, runtime.nlisteners, runtime.tls_port,
                runtime.ntls, conn_count());
    sbuf_printf(&b, "\"persistence\":{\"status\":\"%s\",\"fsync\":\"%s\",",
                ok_or(!h.io_error && h.storage_open, h.io_error ? "error" : "unavailable"),
                fsync_names[server_config.fsync]);
    if (st.persist.last_fsync_ms > 0)
        sbuf_printf(&b, "\"last_fsync_unix_ms\":%lld,\"last_fsync_age_seconds\":%.3f,",
                    (long long)st.persist.last_fsync_ms,
                    (double)(now_ms - st.persist.last_fsync_ms) / 1000.0);
    else
        sbuf_printf(&b, "\"last_fsync_unix_ms\":null,\"last_fsync_age_seconds\":null,");
    sbuf_printf(&b, "\"fsyncs\":%llu,\"durable_submission\":%llu,\"error\":",
                (unsigned long long)st.persist.fsyncs, (unsigned long long)durable_seq());
    if (h.io_error)
        json_text(&b, obk_strerror(durable_error()));
    else
        sbuf_add(&b, "null", 4);
    sbuf_printf(&b, "},\"recovery\":{\"status\":\"%s\",\"loading\":%s,",
                h.loading ? "loading" : ok_or(h.storage_open, "failed"),
                h.loading ? "true" : "false");
    if (h.loading) { /* the log replay's progress, as INFO persistence's loading_* fields */
        struct db_loading l;
        db_loading_progress(&l);
        sbuf_printf(&b,
                    "\"loading_start_time\":%lld,\"loading_total_bytes\":%llu,"
                    "\"loading_loaded_bytes\":%llu,\"loading_loaded_perc\":%.2f,",
                    l.start_s, (unsigned long long)l.total_bytes,
                    (unsigned long long)l.loaded_bytes,
                    (double)l.loaded_bytes / (double)(l.total_bytes + 1) * 100.0);
    }
    if (h.storage_open)
        sbuf_printf(&b, "\"last_recovery_seconds\":%.6f,\"clean_start\":%s},",
                    (double)st.recovery_us / 1e6, st.recovery_clean ? "true" : "false");
    else
        sbuf_printf(&b, "\"last_recovery_seconds\":null,\"clean_start\":null},");
    /* a backup (BACKUP, SAVE, BGSAVE): its progress while it runs, and the last result; a
     * failed backup says so here without making the server unhealthy */
    struct backup_info bi;
    backup_get_info(&bi);
    sbuf_printf(&b,
                "\"backup\":{\"status\":\"%s\",\"in_progress\":%s,\"bytes_total\":%llu,"
                "\"bytes_done\":%llu,\"files_total\":%llu,\"files_done\":%llu,"
                "\"started_unix\":%lld,\"last_ok_unix\":%lld,\"last_seconds\":%.3f,"
                "\"last_error\":",
                bi.in_progress   ? "running"
                : bi.last_status ? "failed"
                                 : "ok",
                bi.in_progress ? "true" : "false", (unsigned long long)bi.bytes_total,
                (unsigned long long)bi.bytes_done, (unsigned long long)bi.files_total,
                (unsigned long long)bi.files_done, bi.start_time, bi.last_ok_time,
                (double)bi.last_usec / 1e6);
    if (bi.last_status)
        json_text(&b, obk_strerror(bi.last_status));
    else
        sbuf_add(&b, "null", 4);
    sbuf_printf(&b,
                "},\"cache\":{\"status\":\"%s\",\"used_bytes\":%llu,\"max_bytes\":%llu,"
                "\"hits\":%llu,\"misses\":%llu}}}\n",
                ok_or(h.storage_open, "unavailable"), (unsigned long long)st.cache_bytes,
                (unsigned long long)st.cache_max_bytes, (unsigned long long)st.cache_hits,
                (unsigned long long)st.cache_misses);
    send_sbuf(req, h.healthy ? 200 : 503, "application/json", &b);
    sbuf_free(&b);
}

static void health_live(struct evhttp_request *req) {
    static const char body[] = "{\"status\":\"alive\"}\n";
    send_text(req, 200, "OK", "application/json", body, sizeof(body) - 1);
}

static void health_ready(struct evhttp_request *req) {
    struct health h;
    health_assess(&h);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b, "{\"status\":\"%s\"}\n",
                h.healthy    ? "ready"
                : h.loading  ? "loading"
                : h.stopping ? "stopping"
                : h.io_error ? "io-error"
                             : "not-ready");
    send_sbuf(req, h.healthy ? 200 : 503, "application/json", &b);
    sbuf_free(&b);
}

static void metrics(struct evhttp_request *req) {
    struct sbuf b;
    sbuf_init(&b);
    metrics_render(&b);
    send_sbuf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
    sbuf_free(&b);
}

/* ---- authentication and protected mode ---- */

#define HTTP_REALM_HEADER "Basic realm=\"obelisk\", charset=\"UTF-8\""
/* An Authorization value longer than this is refused unread (the headers are 8 KiB anyway). */
#define HTTP_AUTH_MAX 4096

int http_addr_is_loopback(const struct sockaddr *sa) {
    if (!sa) return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127; /* ::ffff:127.x.y.z */
    }
    return sa->sa_family == AF_UNIX;
}

/* "host:port" of the request's peer, for the log. */
static void peer_text(struct evhttp_request *req, char *buf, size_t cap) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *host = NULL;
    ev_uint16_t port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &host, &port);
    snprintf(buf, cap, "%s:%u", host ? host : "?", (unsigned)port);
}

/* An error answer of the gate: the API's JSON under /v1, a short text elsewhere; HEAD gets
 * the headers only (send_text does that). */
static void send_refusal(struct evhttp_request *req, const char *path, int code, const char *reason,
                         const char *ecode, const char *msg) {
    if (path && (!strncmp(path, "/v1/", 4) || !strcmp(path, "/v1"))) {
        json_t *e = hj_error(ecode, msg);
        char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        if (!text) {
            evhttp_send_error(req, 500, "Out of memory");
            return;
        }
        size_t n = strlen(text);
        char *body = malloc(n + 2);
        if (!body) {
            free(text);
            evhttp_send_error(req, 500, "Out of memory");
            return;
        }
        memcpy(body, text, n);
        body[n] = '\n';
        free(text);
        send_text(req, code, reason, "application/json", body, n + 1);
        free(body);
        return;
    }
    struct sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b, "%s\n", msg);
    if (b.failed)
        evhttp_send_error(req, 500, "Out of memory");
    else
        send_text(req, code, reason, "text/plain; charset=utf-8", b.p, b.len);
    sbuf_free(&b);
}

/* Protected mode, as the RESP listener applies it (conn.c): with protected-mode yes and no
 * password for the default user, only loopback peers are served. The warning is logged at
 * most once a second (a scanner must not fill the log), with the count of refusals since. */
static int protected_refused(struct evhttp_request *req, const char *path) {
    static long long last_log_ms;
    static unsigned long long unlogged;
    if (!server_config.protected_mode || acl_default_needs_auth()) return 0;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon && http_addr_is_loopback(evhttp_connection_get_addr(evcon))) return 0;
    long long now = util_mstime();
    if (!last_log_ms || now < last_log_ms || now - last_log_ms >= 1000) {
        char peer[INET6_ADDRSTRLEN + 16];
        peer_text(req, peer, sizeof(peer));
        char more[80] = "";
        if (unlogged)
            snprintf(more, sizeof(more), " (%llu more since the last such line)", unlogged);
        log_msg(LOG_WARNING,
                "Possible SECURITY ATTACK detected (protected mode): HTTP request from %s "
                "refused%s",
                peer, more);
        last_log_ms = now;
        unlogged = 0;
    } else {
        unlogged++;
    }
    send_refusal(req, path, 403, "Forbidden", HTTP_ERR_PROTECTED);
    return 1;
}

/* Who the request is. Returns 1 with the user name in *user (malloc'd, *ulen bytes; the
 * caller frees it) when its Authorization header names a user whose password matches (HTTP
 * Basic; an empty user name is the default user, as AUTH with one argument) or carries the
 * bearer token (http-auth-token; the default user); 0 when it has no Authorization header;
 * -1 when it has one that is malformed or wrong (counted and logged by authfail_note). */
static int authenticate(struct evhttp_request *req, char **user, size_t *ulen) {
    *user = NULL;
    *ulen = 0;
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!v) return 0;
    char peer[INET6_ADDRSTRLEN + 16];
    size_t vlen = strlen(v);
    if (vlen > HTTP_AUTH_MAX) goto refused;
    if (!strncasecmp(v, "Bearer ", 7)) {
        const char *t = v + 7;
        while (*t == ' ') t++;
        size_t tlen = strlen(t);
        while (tlen && t[tlen - 1] == ' ') tlen--;
        const char *want = server_config.http_auth_token;
        if (!want[0] || !tlen || !util_secure_eq(t, tlen, want, strlen(want))) {
            peer_text(req, peer, sizeof(peer));
            authfail_note(peer, "(bearer token)", 14, "HTTP");
            return -1;
        }
        *user = strdup("default");
        if (!*user) return -1;
        *ulen = 7;
        return 1;
    }
    if (strncasecmp(v, "Basic ", 6) != 0) goto refused;
    const char *b64 = v + 6;
    while (*b64 == ' ') b64++;
    size_t n = strlen(b64);
    while (n && b64[n - 1] == ' ') n--;
    /* strict base64: whole quads of the alphabet, '=' only as the last one or two bytes;
     * EVP_DecodeBlock would skip blanks and decode padding as zero bytes */
    if (n == 0 || n % 4 != 0) goto refused;
    size_t pad = b64[n - 1] == '=' ? (b64[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++) {
        unsigned char ch = (unsigned char)b64[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/'))
            goto refused;
    }
    unsigned char *dec = malloc(n / 4 * 3 + 1);
    if (!dec) return -1;
    int got = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
    if (got < 0 || (size_t)got < pad) {
        free(dec);
        goto refused;
    }
    size_t dlen = (size_t)got - pad;
    const char *text = (const char *)dec;
    const char *colon = memchr(text, ':', dlen);
    if (!colon) {
        free(dec);
        goto refused;
    }
    const char *name = text;
    size_t nlen = (size_t)(colon - text);
    if (nlen == 0) {
        name = "default";
        nlen = 7;
    }
    const char *pass = colon + 1;
    size_t plen = dlen - (size_t)(pass - text);
    if (!acl_check_credentials(name, nlen, pass, plen)) {
        peer_text(req, peer, sizeof(peer));
        authfail_note(peer, name, nlen, "HTTP");
        free(dec);
        return -1;
    }
    *user = malloc(nlen + 1);
    if (*user) {
        memcpy(*user, name, nlen);
        (*user)[nlen] = '\0';
        *ulen = nlen;
    }
    free(dec);
    return *user ? 1 : -1;
refused:
    peer_text(req, peer, sizeof(peer));
    authfail_note(peer, "", 0, "HTTP (malformed Authorization header)");
    return -1;
}

/* The probes a load balancer or an orchestrator sends without credentials. */
static int open_path(struct evhttp_request *req, const char *path) {
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    return path && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD) &&
           (!strcmp(path, "/health/live") || !strcmp(path, "/health/ready"));
}

/* ---- routing ---- */

static const struct route {
    const char *path;
    void (*handler)(struct evhttp_request *req);
} routes[] = {
    {"/health", health_full},
    {"/health/live", health_live},
    {"/health/ready", health_ready},
    {"/metrics", metrics},
};

static void route(struct evhttp_request *req, const char *path, const char *user, size_t ulen);

static void dispatch(struct evhttp_request *req, void *arg) {
    (void)arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (open_path(req, path)) {
        route(req, path, NULL, 0);
        return;
    }
    if (protected_refused(req, path)) return;
    char *user = NULL;
    size_t ulen = 0;
    if (acl_auth_configured()) {
        int who = authenticate(req, &user, &ulen);
        if (who != 1) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                              HTTP_REALM_HEADER);
            if (who == 0)
                send_refusal(req, path, 401, "Unauthorized", HTTP_ERR_AUTH_REQUIRED);
            else
                send_refusal(req, path, 401, "Unauthorized", HTTP_ERR_AUTH_INVALID);
            return;
        }
    }
    route(req, path, user, ulen);
    free(user);
}

/* A request let through: user is who it authenticated as (NULL when nothing is configured,
 * or on the open health probes). */
static void route(struct evhttp_request *req, const char *path, const char *user, size_t ulen) {
    if (path && (!strncmp(path, "/v1/", 4) || !strcmp(path, "/v1"))) {
        http_api_handle(req, path, user, ulen);
        return;
    }
    if (path && http_dash_serve(req, path)) return;
    const struct route *r = NULL;
    for (size_t i = 0; path && i < sizeof(routes) / sizeof(routes[0]); i++)
        if (!strcmp(path, routes[i].path)) r = &routes[i];
    /* /health and /metrics tell what INFO tells (key and group names included): a user who
     * may not run INFO may not read them either */
    if (r && !open_path(req, path) && acl_auth_configured() &&
        !acl_user_may_run(user, ulen, "info", 0, NULL, NULL)) {
        send_refusal(req, path, 403, "Forbidden", HTTP_ERR_FORBIDDEN_INFO);
        return;
    }
    if (!r) {
        static const char body[] = "Not Found\n";
        send_text(req, 404, "Not Found", "text/plain; charset=utf-8", body, sizeof(body) - 1);
        return;
    }
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        static const char body[] = "Method Not Allowed\n";
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", HTTP_ALLOW);
        send_text(req, 405, "Method Not Allowed", "text/plain; charset=utf-8", body,
                  sizeof(body) - 1);
        return;
    }
    r->handler(req);
}

/* ---- lifecycle ---- */

static struct evhttp *open_face(int *bound, char *err, size_t errlen) {
    struct evhttp *http = evhttp_new(runtime.base);
    if (!http) {
        snprintf(err, errlen, "Can't create the HTTP server");
        return NULL;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(http, HTTP_TIMEOUT_SECONDS);
    evhttp_set_max_headers_size(http, HTTP_MAX_HEADERS_BYTES);
    /* bodies: the gate refuses one above http-api-max-body with the API's 413, and sets
     * evhttp's own limit per connection as its backstop */
    http_body_limit_attach(http, HTTP_MAX_HEADERS_BYTES);
    if (server_config.http_tls) http_body_limit_use_tls(http); /* HTTPS */
    evhttp_set_gencb(http, dispatch, NULL);
    /* http-bind is a list, as bind is: "127.0.0.1 -::1" (IPv6 listeners are IPv6-only) */
    char **addrs = NULL;
    size_t *lens = NULL;
    int naddrs =
        util_split_args(server_config.http_bind, strlen(server_config.http_bind), &addrs, &lens);
    struct evconnlistener *ls[HTTP_MAX_LISTENERS];
    int n = naddrs > 0
                ? listen_all((const char *const *)addrs, naddrs, server_config.http_port, NULL,
                             NULL, ls, HTTP_MAX_LISTENERS, bound, err, errlen, "the HTTP")
                : -1;
    if (naddrs <= 0) snprintf(err, errlen, "http-bind has no address");
    if (naddrs > 0) util_free_args(addrs, lens, naddrs);
    if (n < 0) {
        evhttp_free(http);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!evhttp_bind_listener(http, ls[i])) { /* the listener is freed with the face */
            for (int j = i; j < n; j++) evconnlistener_free(ls[j]);
            snprintf(err, errlen, "Can't attach the HTTP listening socket");
            evhttp_free(http);
            return NULL;
        }
    }
    return http;
}

int http_start(char *err, size_t errlen) {
    face.http = NULL;
    face.port = 0;
    if (server_config.http_port == 0) return 0;
    int port;
    face.http = open_face(&port, err, errlen);
    if (!face.http) return -1;
    face.port = port;
    log_msg(
        LOG_NOTICE,
        "HTTP face listening on %s:%d (/health, /metrics, the API under /v1, the dashboard at /)",
        server_config.http_bind, port);
    return 0;
}

void http_stop(void) {
    if (face.http) {
        http_api_stop();
        http_body_limit_detach(face.http);
        evhttp_free(face.http);
    }
    face.http = NULL;
    face.port = 0;
}

int http_restart(char *err, size_t errlen) {
    struct evhttp *old = face.http;
    int old_port = face.port;
    if (server_config.http_port == old_port && old) {
        /* same port: the old socket must go first or the new bind fails */
        http_stop();
        if (http_start(err, errlen) == 0) return 0;
        return -1;
    }
    face.http = NULL;
    if (http_start(err, errlen) != 0) {
        face.http = old;
        face.port = old_port;
        return -1;
    }
    if (old) {
        http_api_stop();
        http_body_limit_detach(old);
        evhttp_free(old);
    }
    return 0;
}

int http_bound_port(void) {
    return face.port;
}
