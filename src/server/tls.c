/* tls.c - the server's TLS context (see tls.h).
 *
 * Design: one SSL_CTX built from the directives; every accepted TLS connection gets an SSL
 * from it, which holds its own reference, so CONFIG SET of a certificate builds a new context
 * and swaps it in without touching the connections that are open (Redis reloads the same way).
 * A context that cannot be built (a missing file, a key that does not match, a bad cipher
 * list) is refused with OpenSSL's reason and the old one stays. Defaults as Redis: TLSv1.2 and
 * TLSv1.3, clients must present a certificate signed by the configured CA
 * (tls-auth-clients yes). A second context, built with the first from the same directives, is
 * the client side of a replica's link (tls-replication): it presents tls-client-cert-file, or
 * the server's certificate when that is not set, and verifies the primary against the CAs.
 * Session caching (tls-session-caching, -cache-size, -cache-timeout) is the server context's.
 * Main thread only. */
#include "server/tls.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/log.h"
#include "base/util.h"
#include "server/config.h"
#include "server/stats.h"

static SSL_CTX *ctx;        /* the server side: accepted connections */
static SSL_CTX *client_ctx; /* the client side: a replica's link to its primary */
static char errline[512];

const char *tls_last_error(void) {
    unsigned long e = ERR_get_error();
    if (!e) return "no OpenSSL error";
    ERR_error_string_n(e, errline, sizeof errline);
    ERR_clear_error();
    return errline;
}

static int key_password(char *buf, int size, int rwflag, void *u) {
    (void)rwflag;
    const char *pass = u;
    int n = (int)strlen(pass);
    if (n > size) n = size;
    memcpy(buf, pass, (size_t)n);
    return n;
}

/* tls-protocols: "TLSv1.2 TLSv1.3" and the like; sets the range it names. */
static int set_protocols(SSL_CTX *c, const char *list, char *err, size_t errlen) {
    static const struct {
        const char *name;
        int version;
    } known[] = {{"TLSv1", TLS1_VERSION},
                 {"TLSv1.1", TLS1_1_VERSION},
                 {"TLSv1.2", TLS1_2_VERSION},
                 {"TLSv1.3", TLS1_3_VERSION}};
    int lo = 0, hi = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list && *list ? list : "TLSv1.2 TLSv1.3");
    for (char *save, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        int v = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (!strcasecmp(tok, known[i].name)) v = known[i].version;
        if (!v) {
            snprintf(err, errlen, "Invalid tls-protocols '%s'", tok);
            return -1;
        }
        if (!lo || v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (!SSL_CTX_set_min_proto_version(c, lo) || !SSL_CTX_set_max_proto_version(c, hi)) {
        snprintf(err, errlen, "tls-protocols: %s", tls_last_error());
        return -1;
    }
    return 0;
}

static int fail(SSL_CTX *c, char *err, size_t errlen, const char *what) {
    snprintf(err, errlen, "%s: %s", what, tls_last_error());
    SSL_CTX_free(c);
    return -1;
}

/* The settings a context needs beyond the shared ones: the server's or the client's
 * certificate, key and passphrase. */
struct ctx_files {
    const char *cert, *key, *pass;
};

/* A context with the shared settings (protocols, ciphers, CAs) and the given certificate.
 * server: the TLS port's and the HTTP face's; else the client side of a replica's link. */
static SSL_CTX *build_ctx(int server, const struct ctx_files *f, char *err, size_t errlen) {
    const struct config *cf = &server_config;
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c) {
        fail(NULL, err, errlen, "Failed to create the TLS context");
        return NULL;
    }
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (server && cf->tls_prefer_server_ciphers)
        SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (server) {
        SSL_CTX_set_session_id_context(c, (const unsigned char *)"obelisk", 7);
        if (cf->tls_session_caching) {
            SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
            SSL_CTX_sess_set_cache_size(c, cf->tls_session_cache_size);
            SSL_CTX_set_timeout(c, cf->tls_session_cache_timeout);
        } else {
            /* no resumption at all: neither the cache nor TLS 1.2/1.3 session tickets */
            SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
            SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
            SSL_CTX_set_num_tickets(c, 0);
        }
    }
    if (set_protocols(c, cf->tls_protocols, err, errlen) != 0) {
        SSL_CTX_free(c);
        return NULL;
    }
    if (f->pass[0]) {
        SSL_CTX_set_default_passwd_cb(c, key_password);
        SSL_CTX_set_default_passwd_cb_userdata(c, (void *)f->pass);
    }
    const char *what = server ? "tls-cert-file" : "tls-client-cert-file";
    if (SSL_CTX_use_certificate_chain_file(c, f->cert) != 1) {
        snprintf(errline, sizeof errline, "Failed to load %s", what);
        return fail(c, err, errlen, errline), NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(c, f->key, SSL_FILETYPE_PEM) != 1)
        return fail(c, err, errlen,
                    server ? "Failed to load tls-key-file" : "Failed to load tls-client-key-file"),
               NULL;
    if (SSL_CTX_check_private_key(c) != 1)
        return fail(c, err, errlen,
                    server ? "tls-key-file does not match tls-cert-file"
                           : "the client key does not match its certificate"),
               NULL;
    const char *cafile = cf->tls_ca_cert_file[0] ? cf->tls_ca_cert_file : NULL;
    const char *cadir = cf->tls_ca_cert_dir[0] ? cf->tls_ca_cert_dir : NULL;
    if ((cafile || cadir) && SSL_CTX_load_verify_locations(c, cafile, cadir) != 1)
        return fail(c, err, errlen, "Failed to load the CA certificates"), NULL;
    if (server && cf->tls_auth_clients != TLS_AUTH_NO && !cafile && !cadir) {
        SSL_CTX_free(c);
        snprintf(err, errlen,
                 "Either tls-ca-cert-file or tls-ca-cert-dir must be specified "
                 "when tls-auth-clients is yes or optional");
        return NULL;
    }
    /* a client always verifies the primary against the CAs (as Redis: no host name check) */
    int verify = !server ? SSL_VERIFY_PEER
                 : cf->tls_auth_clients == TLS_AUTH_YES
                     ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                 : cf->tls_auth_clients == TLS_AUTH_OPTIONAL ? SSL_VERIFY_PEER
                                                             : SSL_VERIFY_NONE;
    SSL_CTX_set_verify(c, verify, NULL);
    if (cf->tls_ciphers[0] && SSL_CTX_set_cipher_list(c, cf->tls_ciphers) != 1)
        return fail(c, err, errlen, "Failed to configure tls-ciphers"), NULL;
    if (cf->tls_ciphersuites[0] && SSL_CTX_set_ciphersuites(c, cf->tls_ciphersuites) != 1)
        return fail(c, err, errlen, "Failed to configure tls-ciphersuites"), NULL;
    return c;
}

int tls_configure(char *err, size_t errlen) {
    const struct config *cf = &server_config;
    if (!cf->tls_cert_file[0] || !cf->tls_key_file[0]) {
        snprintf(err, errlen, "TLS needs tls-cert-file and tls-key-file");
        return -1;
    }
    struct ctx_files sf = {cf->tls_cert_file, cf->tls_key_file, cf->tls_key_file_pass};
    /* the client side presents tls-client-cert-file when set, else the server's (Redis) */
    struct ctx_files cl = sf;
    if (cf->tls_client_cert_file[0] && cf->tls_client_key_file[0])
        cl = (struct ctx_files){cf->tls_client_cert_file, cf->tls_client_key_file,
                                cf->tls_client_key_file_pass};
    SSL_CTX *s = build_ctx(1, &sf, err, errlen);
    if (!s) return -1;
    SSL_CTX *c = build_ctx(0, &cl, err, errlen);
    if (!c) {
        SSL_CTX_free(s);
        return -1;
    }
    SSL_CTX_free(ctx); /* open connections keep their references */
    SSL_CTX_free(client_ctx);
    ctx = s;
    client_ctx = c;
    return 0;
}

unsigned long tls_bev_error(struct bufferevent *bev) {
    unsigned long e, first = 0;
    /* libevent queues OpenSSL's errors and, for an I/O failure, SSL_get_error()'s code (a
     * small number with no library); the first real error is the reason */
    while ((e = bufferevent_get_openssl_error(bev)))
        if (!first && ERR_GET_LIB(e) != 0) first = e;
    return first;
}

long tls_write_now(struct bufferevent *bev, struct evbuffer *buf) {
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    long written = 0;
    size_t len;
    while ((len = evbuffer_get_length(buf)) > 0) {
        if (len > TLS_WRITE_MAX) len = TLS_WRITE_MAX;
        /* one record from contiguous bytes; after WANT_WRITE libevent retries from the
         * same front (at least as long: the front only grows), as OpenSSL requires */
        unsigned char *p = evbuffer_pullup(buf, (ev_ssize_t)len);
        ERR_clear_error();
        int n = SSL_write(ssl, p, (int)len);
        if (n > 0) {
            evbuffer_drain(buf, (size_t)n);
            written += n;
            continue;
        }
        int e = SSL_get_error(ssl, n);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return -1;
        break;
    }
    return written;
}

/* Handshake failures logged per second at most; the rest are counted and the next line logged
 * says how many were not (a port scanner or a plaintext client in a loop must not flood the
 * log or slow the loop). One budget for the RESP and HTTPS ports. */
#define TLS_FAIL_LOGS_PER_SEC 10

void tls_handshake_failed(struct bufferevent *bev, int eof, const char *what, const char *addr) {
    static long long window_ms, suppressed;
    static int logged;
    unsigned long e = tls_bev_error(bev);
    server_stats.tls_handshake_failures++;
    /* OpenSSL 3 names a close without close_notify; before a handshake it is a silent peer */
    if (e && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) e = 0;
    if (!e && eof) {
        log_msg(LOG_VERBOSE, "TLS peer closed %s before the handshake (addr=%s)", what, addr);
        return;
    }
    char reason[256];
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    long long now = util_mstime();
    if (now - window_ms >= 1000) {
        window_ms = now;
        logged = 0;
    }
    if (logged >= TLS_FAIL_LOGS_PER_SEC) {
        suppressed++;
        return;
    }
    logged++;
    char more[96] = "";
    if (suppressed)
        snprintf(more, sizeof more, " (%lld more handshake failures not logged)", suppressed);
    suppressed = 0;
    log_msg(LOG_WARNING, "Error accepting %s: %s (addr=%s)%s", what, reason, addr, more);
}

int tls_handshake_done(struct bufferevent *bev) {
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    return ssl && SSL_is_init_finished(ssl);
}

int tls_ready(void) {
    return ctx != NULL;
}

struct ssl_st *tls_new_ssl(void) {
    return ctx ? SSL_new(ctx) : NULL;
}

struct ssl_st *tls_new_client_ssl(void) {
    return client_ctx ? SSL_new(client_ctx) : NULL;
}

void tls_free(void) {
    SSL_CTX_free(ctx);
    SSL_CTX_free(client_ctx);
    ctx = client_ctx = NULL;
}
