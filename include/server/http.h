/* http.h - the HTTP face: health checks and Prometheus metrics over libevent's evhttp, on the
 * server's own event loop, on http-port/http-bind (off when http-port is 0). Main thread. */
#ifndef OBK_HTTP_H
#define OBK_HTTP_H

#include <stddef.h>

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

#endif
