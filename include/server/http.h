/* http.h - the HTTP face: health checks, Prometheus metrics, the JSON API and the dashboard over
 * libevent's evhttp, on the server's own event loop, on http-port/http-bind (off when http-port
 * is 0). It obeys the RESP port's rules: protected mode, and authentication (HTTP Basic against
 * the users, or the http-auth-token bearer token) whenever a password or user is configured;
 * only GET/HEAD /health/live and /health/ready stay open. Main thread. */
#ifndef OBK_HTTP_H
#define OBK_HTTP_H

#include <stddef.h>

struct sockaddr;

/* Opens the HTTP listener per the configuration (nothing when http-port is 0). Returns 0, or -1
 * with the reason in err. */
int http_start(char *err, size_t errlen);
/* Closes the listener and every HTTP connection. */
void http_stop(void);
/* CONFIG SET http-port/http-bind: opens the new listener, then closes the old one. Returns 0,
 * or -1 with the reason (the old listener stays). */
int http_restart(char *err, size_t errlen);
/* The port really bound, 0 when the HTTP face is off. */
int http_bound_port(void);
/* 1 when sa is a loopback peer for protected mode: 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 (or a
 * Unix socket); else 0. */
int http_addr_is_loopback(const struct sockaddr *sa);

#endif
