/* http_dash.c - serves the embedded dashboard (see http_dash.h).
 *
 * Design: the assets are byte arrays generated from web/ by scripts/embed-web.sh (a table
 * ending with a NULL path), so the server ships its dashboard and needs no files or network at
 * run time. GET and HEAD; a strong ETag (the asset's FNV-1a hash) lets browsers revalidate
 * with 304. Main thread (an evhttp callback). */
#include "server/http_dash.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

struct dash_asset {
    const char *path, *type;
    const unsigned char *data;
    size_t len;
};

extern const struct dash_asset dash_assets[];

static void etag_of(const struct dash_asset *a, char *buf, size_t cap) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < a->len; i++) h = (h ^ a->data[i]) * 1099511628211ULL;
    snprintf(buf, cap, "\"%016llx\"", (unsigned long long)h);
}

int http_dash_serve(struct evhttp_request *req, const char *path) {
    const struct dash_asset *a = NULL;
    for (const struct dash_asset *p = dash_assets; p->path; p++)
        if (!strcmp(p->path, path)) a = p;
    if (!a) return 0;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        evhttp_add_header(h, "Allow", "GET, HEAD");
        evhttp_send_error(req, 405, "Method Not Allowed");
        return 1;
    }
    char etag[32];
    etag_of(a, etag, sizeof(etag));
    evhttp_add_header(h, "ETag", etag);
    evhttp_add_header(h, "Cache-Control", "no-cache");
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
    if (inm && !strcmp(inm, etag)) {
        evhttp_send_reply(req, 304, "Not Modified", NULL);
        return 1;
    }
    evhttp_add_header(h, "Content-Type", a->type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, "Out of memory");
        return 1;
    }
    if (m == EVHTTP_REQ_HEAD) {
        char n[32];
        snprintf(n, sizeof(n), "%zu", a->len);
        evhttp_add_header(h, "Content-Length", n);
    } else {
        evbuffer_add_reference(out, a->data, a->len, NULL, NULL);
    }
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    return 1;
}
