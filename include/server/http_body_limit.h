/* http_body_limit.h - request bodies above http-api-max-body are refused on the HTTP face with
 * the API's JSON 413 (docs/http-api.md), before they are read and without buffering them: a
 * gate between each connection's socket and evhttp reads the request stream as evhttp will
 * and stops a request whose declared length, or chunked total, passes the limit. Main thread
 * only. */
#ifndef OBK_HTTP_BODY_LIMIT_H
#define OBK_HTTP_BODY_LIMIT_H

#include <stddef.h>

struct evhttp;

/* Gives every connection http accepts from now on a gate (evhttp_set_bevcb). max_headers is
 * the evhttp's headers limit (evhttp_set_max_headers_size); a request head is held until
 * complete, and one longer than evhttp would take is passed on for evhttp to refuse. The gate
 * also sets evhttp's own body limit for each new connection (see the .c file). */
void http_body_limit_attach(struct evhttp *http, size_t max_headers);
/* The connections http accepts from now on speak TLS (http-tls): the gate's socket
 * bufferevent is a TLS one made with tls.c's server context. */
void http_body_limit_use_tls(struct evhttp *http);
/* Call before evhttp_free(http): stops the gates' pending work on http's connections (evhttp
 * frees the connections, and the gates with them). */
void http_body_limit_detach(struct evhttp *http);

#endif
