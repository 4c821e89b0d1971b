/* http_dash.h - the dashboard on the HTTP face: a single-page app (web/) embedded in the
 * binary at build time (scripts/embed-web.sh), served at / and /dashboard/... It reads
 * /health, /metrics and the JSON API from the browser; no CDN, works offline. Main thread. */
#ifndef OBK_HTTP_DASH_H
#define OBK_HTTP_DASH_H

struct evhttp_request;

/* Serves the asset at path and returns 1, or returns 0 when path is not one. */
int http_dash_serve(struct evhttp_request *req, const char *path);

#endif
