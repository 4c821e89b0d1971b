/* tls.h - TLS for client connections (OpenSSL 3 through libevent's bufferevent_openssl), with
 * Redis's directives: tls-port, tls-cert-file, tls-key-file, tls-key-file-pass,
 * tls-ca-cert-file, tls-ca-cert-dir, tls-auth-clients, tls-protocols, tls-ciphers,
 * tls-ciphersuites, tls-prefer-server-ciphers, tls-replication and tls-client-*,
 * tls-session-caching and its cache settings. Main thread only. */
#ifndef OBK_TLS_H
#define OBK_TLS_H

#include <stddef.h>

struct bufferevent;
struct evbuffer;
struct ssl_st;

/* Builds the server context from the directives (certificate, key, CAs, client
 * authentication, protocols, ciphers) and puts it in place of the current one; connections
 * already open keep theirs. Returns 0, or -1 with the reason (the current context stays). */
int tls_configure(char *err, size_t errlen);
/* 1 once a context is in place. */
int tls_ready(void);
/* A server-side TLS object for one accepted connection; NULL when out of memory. */
struct ssl_st *tls_new_ssl(void);
/* A client-side TLS object for a replica's link to its primary (tls-replication); NULL when
 * no context is built or out of memory. */
struct ssl_st *tls_new_client_ssl(void);
/* The first OpenSSL error a TLS bufferevent recorded (its queue emptied), 0 when none: why a
 * handshake or a connection failed. */
unsigned long tls_bev_error(struct bufferevent *bev);
/* Writes the front of buf through the TLS bufferevent's connection at once (SSL_write, at
 * most TLS_WRITE_MAX bytes a call, as libevent's own writer does, so that a write the socket
 * refused can be finished by libevent from the same bytes), draining what was written. Call
 * only when the bufferevent's own output is empty and the handshake is done. Returns the bytes
 * written, or -1 when the connection failed. */
#define TLS_WRITE_MAX 16384
long tls_write_now(struct bufferevent *bev, struct evbuffer *buf);
/* A TLS connection ended before its handshake completed (eof: the peer closed it): counted
 * (tls_handshake_failures) and logged once with OpenSSL's reason and the peer's address,
 * "Error accepting <what>: ...", at most 10 lines a second; a peer that closed without a word
 * (a TCP health check) is logged at verbose only. */
void tls_handshake_failed(struct bufferevent *bev, int eof, const char *what, const char *addr);
/* 1 when the TLS bufferevent's handshake completed. */
int tls_handshake_done(struct bufferevent *bev);
/* The TLS error queue as one line (for logs), cleared. */
const char *tls_last_error(void);
void tls_free(void);

#endif
