/* listen.h - TCP listening sockets for the RESP port and the HTTP face, with Redis's address
 * rules: "*" is every IPv4 address, an address with ':' is IPv6 and listens with IPV6_V6ONLY
 * (IPv4 clients reach only IPv4 listeners, as with Redis), a leading '-' marks an address that
 * may be missing on this machine. Foundation level. Main thread only. */
#ifndef OBK_LISTEN_H
#define OBK_LISTEN_H

#include <stddef.h>

#include <event2/listener.h>

/* Opens one listener on a single address (no '-' prefix). Returns it, or NULL with errno set
 * (EINVAL for an address that does not parse). *bound_port gets the port really bound. */
struct evconnlistener *listen_tcp(const char *addr, int port, evconnlistener_cb cb, void *ctx,
                                  int *bound_port);

/* Opens a listener per address of the space-separated list addrs; optional ('-') addresses
 * that fail are skipped. With port 0 the first one picks a free port and the others use it.
 * Returns the count opened (>= 1) with *port_out, or -1 with the reason in err (the failing
 * address, port and system error), closing what it opened. */
int listen_all(const char *const *addrs, int naddrs, int port, evconnlistener_cb cb, void *ctx,
               struct evconnlistener **out, int max, int *port_out, char *err, size_t errlen,
               const char *what);

#endif
