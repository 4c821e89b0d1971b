/* listen.c - TCP listening sockets (see listen.h). Used by server.c for the RESP port and by
 * http.c for the HTTP face, so both follow one set of address rules. Main thread only. */
#include "server/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "server/runtime.h"

/* Backlog of a listening socket (Redis's tcp-backlog default). */
#define LISTEN_BACKLOG 511

static int parse_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof(*ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1) return -1;
        *len = sizeof(*in6);
        return 0;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    if (!strcmp(addr, "*"))
        in->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, addr, &in->sin_addr) != 1)
        return -1;
    *len = sizeof(*in);
    return 0;
}

struct evconnlistener *listen_tcp(const char *addr, int port, evconnlistener_cb cb, void *ctx,
                                  int *bound_port) {
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (parse_addr(addr, port, &ss, &sslen) != 0) {
        errno = EINVAL;
        return NULL;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    if (ss.ss_family == AF_INET6) flags |= LEV_OPT_BIND_IPV6ONLY;
    struct evconnlistener *l = evconnlistener_new_bind(runtime.base, cb, ctx, flags, LISTEN_BACKLOG,
                                                       (struct sockaddr *)&ss, (int)sslen);
    if (!l) return NULL;
    struct sockaddr_storage got;
    socklen_t glen = sizeof(got);
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&got, &glen) == 0)
        *bound_port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                      : ((struct sockaddr_in *)&got)->sin_port);
    return l;
}

int listen_all(const char *const *addrs, int naddrs, int port, evconnlistener_cb cb, void *ctx,
               struct evconnlistener **out, int max, int *port_out, char *err, size_t errlen,
               const char *what) {
    int n = 0;
    for (int i = 0; i < naddrs && n < max; i++) {
        const char *addr = addrs[i];
        int optional = addr[0] == '-';
        if (optional) addr++;
        int bound = port;
        struct evconnlistener *l = listen_tcp(addr, port, cb, ctx, &bound);
        if (!l) {
            if (optional) continue;
            snprintf(err, errlen, "Could not create %s listening socket %s:%d: %s", what, addr,
                     port, errno == EINVAL ? "not an IP address" : strerror(errno));
            for (int j = 0; j < n; j++) evconnlistener_free(out[j]);
            return -1;
        }
        port = bound;
        out[n++] = l;
    }
    if (n == 0) {
        snprintf(err, errlen, "Failed listening on any %s bind address", what);
        return -1;
    }
    *port_out = port;
    return n;
}
