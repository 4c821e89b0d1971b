/* tls.c - the server's TLS context (see tls.h).
 *
 * Design: one SSL_CTX built from the directives; every accepted TLS connection gets an SSL
 * from it, which holds its own reference, so CONFIG SET of a certificate builds a new context
 * and swaps it in without touching the connections that are open (Redis reloads the same way).
 * A context that cannot be built (a missing file, a key that does not match, a bad cipher
 * list) is refused with OpenSSL's reason and the old one stays. Defaults as Redis: TLSv1.2 and
 * TLSv1.3, clients must present a certificate signed by the configured CA
 * (tls-auth-clients yes). Main thread only. */
#include "server/tls.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "server/config.h"

static SSL_CTX *ctx;
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

int tls_configure(char *err, size_t errlen) {
    const struct config *cf = &server_config;
    if (!cf->tls_cert_file[0] || !cf->tls_key_file[0]) {
        snprintf(err, errlen, "TLS needs tls-cert-file and tls-key-file");
        return -1;
    }
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (!c) return fail(NULL, err, errlen, "Failed to create the TLS context");
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (cf->tls_prefer_server_ciphers) SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_id_context(c, (const unsigned char *)"obelisk", 7);
    if (set_protocols(c, cf->tls_protocols, err, errlen) != 0) {
        SSL_CTX_free(c);
        return -1;
    }
    if (cf->tls_key_file_pass[0]) {
        SSL_CTX_set_default_passwd_cb(c, key_password);
        SSL_CTX_set_default_passwd_cb_userdata(c, cf->tls_key_file_pass);
    }
    if (SSL_CTX_use_certificate_chain_file(c, cf->tls_cert_file) != 1)
        return fail(c, err, errlen, "Failed to load tls-cert-file");
    if (SSL_CTX_use_PrivateKey_file(c, cf->tls_key_file, SSL_FILETYPE_PEM) != 1)
        return fail(c, err, errlen, "Failed to load tls-key-file");
    if (SSL_CTX_check_private_key(c) != 1)
        return fail(c, err, errlen, "tls-key-file does not match tls-cert-file");
    const char *cafile = cf->tls_ca_cert_file[0] ? cf->tls_ca_cert_file : NULL;
    const char *cadir = cf->tls_ca_cert_dir[0] ? cf->tls_ca_cert_dir : NULL;
    if ((cafile || cadir) && SSL_CTX_load_verify_locations(c, cafile, cadir) != 1)
        return fail(c, err, errlen, "Failed to load the CA certificates");
    if (cf->tls_auth_clients != TLS_AUTH_NO && !cafile && !cadir) {
        SSL_CTX_free(c);
        snprintf(err, errlen,
                 "Either tls-ca-cert-file or tls-ca-cert-dir must be specified "
                 "when tls-auth-clients is yes or optional");
        return -1;
    }
    int verify = cf->tls_auth_clients == TLS_AUTH_YES
                     ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                 : cf->tls_auth_clients == TLS_AUTH_OPTIONAL ? SSL_VERIFY_PEER
                                                             : SSL_VERIFY_NONE;
    SSL_CTX_set_verify(c, verify, NULL);
    if (cf->tls_ciphers[0] && SSL_CTX_set_cipher_list(c, cf->tls_ciphers) != 1)
        return fail(c, err, errlen, "Failed to configure tls-ciphers");
    if (cf->tls_ciphersuites[0] && SSL_CTX_set_ciphersuites(c, cf->tls_ciphersuites) != 1)
        return fail(c, err, errlen, "Failed to configure tls-ciphersuites");
    SSL_CTX_free(ctx); /* open connections keep their references */
    ctx = c;
    return 0;
}

int tls_ready(void) {
    return ctx != NULL;
}

struct ssl_st *tls_new_ssl(void) {
    return ctx ? SSL_new(ctx) : NULL;
}

void tls_free(void) {
    SSL_CTX_free(ctx);
    ctx = NULL;
}
