/* http.c - the HTTP face: GET /health, /health/live, /health/ready and /metrics.
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
 * Health: the server is healthy when it is not loading, has a listener, has its store open and
 * has no sticky storage error; /health says which component is not ok. /health/ready is the
 * same verdict without the body a load balancer does not need; /health/live is 200 whenever
 * the loop answers (also while loading). Main thread only. */
#include "server/http.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base/log.h"
#include "base/sbuf.h"
#include "base/status.h"
#include "base/util.h"
#include "server/backup.h"
#include "server/config.h"
#include "server/db.h"
#include "server/durable.h"
#include "server/http_api.h"
#include "server/http_body_limit.h"
#include "server/http_dash.h"
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
static void json_string(struct sbuf *b, const char *s) {
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
        json_string(&b, obk_strerror(durable_error()));
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
        json_string(&b, obk_strerror(bi.last_status));
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

static void dispatch(struct evhttp_request *req, void *arg) {
    (void)arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (path && (!strncmp(path, "/v1/", 4) || !strcmp(path, "/v1"))) {
        http_api_handle(req, path);
        return;
    }
    if (path && http_dash_serve(req, path)) return;
    const struct route *r = NULL;
    for (size_t i = 0; path && i < sizeof(routes) / sizeof(routes[0]); i++)
        if (!strcmp(path, routes[i].path)) r = &routes[i];
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
