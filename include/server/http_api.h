/* http_api.h - the JSON API under /v1 on the HTTP face (docs/http-api.md, docs/openapi.yaml):
 * produce, read, long-poll, live tail (SSE), consumer groups, topics, retention and search.
 * Every request runs real commands through http_cmd.h, so it obeys the command path's rules
 * and the durability contract. Main thread only. */
#ifndef OBK_HTTP_API_H
#define OBK_HTTP_API_H

#include <stddef.h>

struct evhttp_request;

/* Answers a request whose path starts with /v1/ (or is /v1). user (ulen bytes, NULL when no
 * authentication is configured) is who the HTTP face authenticated the request as; it is kept
 * with the request so that the commands can run as that user once ACL rules exist (today the
 * internal connections are authenticated as a whole, http_cmd.h). */
void http_api_handle(struct evhttp_request *req, const char *path, const char *user, size_t ulen);
/* Drops every request in progress without touching the requests (the HTTP server is about to
 * free them), and closes the idle command connections. */
void http_api_stop(void);
/* Live tails open now. */
int http_api_sse_count(void);

#endif
