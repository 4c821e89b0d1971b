/* test_http_auth.c - the HTTP face's access rules (http.c, authfail.c, metrics.c): 401 without
 * credentials on every path but the liveness and readiness probes once a password is set, 200
 * with HTTP Basic or the bearer token, failed attempts counted in INFO and /metrics and logged
 * at a bounded rate without the password, requirepass switched on and off at runtime, protected
 * mode for a peer that is not loopback, and metrics-key-labels no hiding every topic and group
 * name. Raw HTTP/1.0 requests, so every header is the test's own. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

/* base64("default:s3cret"), base64(":s3cret"), base64("default:wrong-pw-7Qz") */
#define B64_DEFAULT_GOOD "ZGVmYXVsdDpzM2NyZXQ="
#define B64_EMPTY_USER   "OnMzY3JldA=="
#define B64_WRONG        "ZGVmYXVsdDp3cm9uZy1wdy03UXo="
#define WRONG_PASSWORD   "wrong-pw-7Qz"
#define TOKEN            "tok-5f1e9a"

static int connect_to(const char *ip, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

struct http_answer {
    int status;
    char *raw;  /* whole answer, NUL-terminated */
    char *body; /* inside raw */
};

/* One HTTP/1.0 request to ip:port with optional extra header lines ("Name: value\r\n..."),
 * read until the server closes. Returns the status, or -1 when nothing came back. */
static int http_req(const char *ip, int port, const char *method, const char *path,
                    const char *headers, struct http_answer *a) {
    memset(a, 0, sizeof(*a));
    int fd = connect_to(ip, port);
    if (fd < 0) return -1;
    char req[2048];
    const char *body = !strcmp(method, "POST") ? "{\"fields\":{\"f\":\"v\"}}" : "";
    snprintf(req, sizeof(req),
             "%s %s HTTP/1.0\r\nHost: localhost\r\n%sContent-Length: %zu\r\n"
             "Content-Type: application/json\r\n\r\n%s",
             method, path, headers ? headers : "", strlen(body), body);
    raw_send_str(fd, req);
    size_t len;
    a->raw = raw_read(fd, 1 << 22, 5000, &len);
    close(fd);
    if (!a->raw || len < 12 || sscanf(a->raw, "HTTP/1.%*d %d", &a->status) != 1) {
        free(a->raw);
        a->raw = NULL;
        return -1;
    }
    char *sep = strstr(a->raw, "\r\n\r\n");
    a->body = sep ? sep + 4 : a->raw + len;
    return a->status;
}

/* The status only. */
static int status_of(const char *ip, int port, const char *method, const char *path,
                     const char *headers) {
    struct http_answer a;
    int st = http_req(ip, port, method, path, headers, &a);
    free(a.raw);
    return st;
}

static int get_local(int port, const char *path, const char *headers) {
    return status_of("127.0.0.1", port, "GET", path, headers);
}

static double metric_value(const char *text, const char *prefix) {
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, prefix, n)) return atof(p + n);
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

/* Lines of the server's log holding text. */
static int log_lines_with(const struct test_server *s, const char *text) {
    char path[512];
    snprintf(path, sizeof(path), "%s/server.log", s->dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, text)) n++;
    fclose(f);
    return n;
}

static void start_http(struct test_server *s, int *port, const char *const *extra) {
    char ps[16];
    *port = harness_free_port();
    snprintf(ps, sizeof(ps), "%d", *port);
    const char *argv[16] = {"--http-port", ps};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 15; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    assert_int_equal(server_start_argv(s, argv, 0), 0);
}

#define BASIC(b64) "Authorization: Basic " b64 "\r\n"

static void test_credentials_required(void **state) {
    (void)state;
    struct test_server s;
    int port;
    const char *extra[] = {"--requirepass", "s3cret", "--http-auth-token", TOKEN, NULL};
    start_http(&s, &port, extra);
    redisContext *c = client_connect(&s);
    redisReply *r = client_cmd(c, "AUTH s3cret");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    freeReplyObject(client_cmd(c, "XADD topic-under-lock 1-1 f v"));

    /* No credentials: 401 and a Basic challenge everywhere but the two probes. */
    const char *locked[] = {
        "/metrics", "/v1/topics",   "/v1/topics/topic-under-lock", "/", "/dashboard/app.js",
        "/health",  "/nothing-here"};
    struct http_answer a;
    for (size_t i = 0; i < sizeof(locked) / sizeof(locked[0]); i++) {
        assert_int_equal(http_req("127.0.0.1", port, "GET", locked[i], NULL, &a), 401);
        assert_non_null(strstr(a.raw, "WWW-Authenticate: Basic realm=\"obelisk\", "
                                      "charset=\"UTF-8\"\r\n"));
        assert_null(strstr(a.body, "topic-under-lock"));
        free(a.raw);
    }
    /* the API's JSON error under /v1, a text elsewhere */
    assert_int_equal(http_req("127.0.0.1", port, "GET", "/v1/topics", NULL, &a), 401);
    assert_non_null(strstr(a.raw, "Content-Type: application/json"));
    assert_non_null(strstr(a.body, "{\"error\":{\"code\":\"unauthorized\","));
    free(a.raw);
    assert_int_equal(http_req("127.0.0.1", port, "GET", "/metrics", NULL, &a), 401);
    assert_non_null(strstr(a.raw, "Content-Type: text/plain"));
    assert_null(strstr(a.body, "obelisk_"));
    free(a.raw);
    assert_int_equal(http_req("127.0.0.1", port, "HEAD", "/metrics", NULL, &a), 401);
    assert_string_equal(a.body, "");
    free(a.raw);
    assert_int_equal(status_of("127.0.0.1", port, "POST", "/v1/topics/t/entries", NULL), 401);
    /* the probes stay open (GET and HEAD only) */
    assert_int_equal(get_local(port, "/health/live", NULL), 200);
    assert_int_equal(get_local(port, "/health/ready", NULL), 200);
    assert_int_equal(status_of("127.0.0.1", port, "HEAD", "/health/ready", NULL), 200);
    assert_int_equal(status_of("127.0.0.1", port, "POST", "/health/live", NULL), 401);
    /* missing credentials are not failed attempts */
    assert_int_equal(info_number(c, "stats", "acl_access_denied_auth"), 0);

    /* Basic with the default user, or with an empty user name (AUTH <password>); the token */
    const char *good[] = {BASIC(B64_DEFAULT_GOOD), BASIC(B64_EMPTY_USER),
                          "Authorization: basic " B64_DEFAULT_GOOD "\r\n",
                          "Authorization: Bearer " TOKEN "\r\n"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(get_local(port, "/metrics", good[i]), 200);
        assert_int_equal(get_local(port, "/", good[i]), 200);
        assert_int_equal(get_local(port, "/health", good[i]), 200);
        assert_int_equal(http_req("127.0.0.1", port, "GET", "/v1/topics", good[i], &a), 200);
        assert_non_null(strstr(a.body, "topic-under-lock"));
        free(a.raw);
    }
    assert_int_equal(
        status_of("127.0.0.1", port, "POST", "/v1/topics/t/entries", BASIC(B64_DEFAULT_GOOD)), 201);

    /* Wrong or malformed credentials: 401, each one counted. */
    const char *bad[] = {
        BASIC(B64_WRONG),
        BASIC("bm9ib2R5OnMzY3JldA=="),                    /* nobody:s3cret */
        BASIC("ZGVmYXVsdA=="),                            /* default (no colon) */
        BASIC("ZGVmYXVsdDpzM2NyZXQ"),                     /* good, padding cut */
        BASIC("ZGVmYXVsdDpzM2Ny ZXQ="),                   /* a blank inside */
        BASIC("ZGVmYXVsdDpzM2NyZXQ=="),                   /* too much padding */
        BASIC("ZGVmYXVsdDpzM2NyZXQ=ZGVm"),                /* padding inside */
        BASIC("!!!!"),                                    /* not base64 */
        BASIC(""),                                        /* nothing */
        "Authorization: Bearer not-the-token\r\n",        /* wrong token */
        "Authorization: Bearer " TOKEN "x\r\n",           /* longer */
        "Authorization: Digest username=\"default\"\r\n", /* another scheme */
    };
    long long nbad = (long long)(sizeof(bad) / sizeof(bad[0]));
    for (long long i = 0; i < nbad; i++) {
        int st = http_req("127.0.0.1", port, "GET", "/v1/topics", bad[i], &a);
        if (st != 401) printf("# %s -> %d\n", bad[i], st);
        assert_int_equal(st, 401);
        assert_non_null(strstr(a.body, "invalid credentials"));
        free(a.raw);
    }
    assert_int_equal(info_number(c, "stats", "acl_access_denied_auth"), nbad);
    /* RESP's wrong passwords count too, AUTH and HELLO AUTH */
    r = client_cmd(c, "AUTH " WRONG_PASSWORD);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = client_cmd(c, "AUTH someone " WRONG_PASSWORD);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = client_cmd(c, "HELLO 2 AUTH default " WRONG_PASSWORD);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    long long total = nbad + 3;
    assert_int_equal(info_number(c, "stats", "acl_access_denied_auth"), total);
    assert_int_equal(info_number(c, "stats", "acl_access_denied_cmd"), 0);
    assert_int_equal(info_number(c, "stats", "acl_access_denied_key"), 0);
    assert_int_equal(info_number(c, "stats", "acl_access_denied_channel"), 0);
    assert_int_equal(http_req("127.0.0.1", port, "GET", "/metrics", BASIC(B64_DEFAULT_GOOD), &a),
                     200);
    assert_non_null(strstr(a.body, "# TYPE obelisk_auth_failures_total counter\n"));
    assert_true(metric_value(a.body, "obelisk_auth_failures_total ") == (double)total);
    free(a.raw);
    /* as in Redis, CONFIG RESETSTAT leaves the ACL counters alone */
    freeReplyObject(client_cmd(c, "CONFIG RESETSTAT"));
    assert_int_equal(info_number(c, "stats", "acl_access_denied_auth"), total);

    /* The log: failures reported, at most a line a second, never the password. */
    int lines = log_lines_with(&s, "Failed authentication");
    assert_true(lines >= 1);
    assert_true(lines < total); /* they all came within a few hundred milliseconds */
    assert_int_equal(log_lines_with(&s, WRONG_PASSWORD), 0);
    assert_int_equal(log_lines_with(&s, "not-the-token"), 0);
    sleep(1);
    assert_int_equal(get_local(port, "/", BASIC(B64_WRONG)), 401);
    assert_int_equal(log_lines_with(&s, "Failed authentication"), lines + 1);
    assert_true(log_lines_with(&s, "more failed attempts since the last such line") >= 1);

    /* The token can be withdrawn at runtime; CONFIG GET shows it as it shows requirepass. */
    r = client_cmd(c, "CONFIG GET http-auth-token");
    assert_string_equal(r->element[1]->str, TOKEN);
    freeReplyObject(r);
    freeReplyObject(client_cmd(c, "CONFIG SET http-auth-token %s", ""));
    assert_int_equal(get_local(port, "/metrics", "Authorization: Bearer " TOKEN "\r\n"), 401);
    assert_int_equal(get_local(port, "/metrics", "Authorization: Bearer \r\n"), 401);
    /* the new token is redacted in the slow log like requirepass */
    freeReplyObject(client_cmd(c, "CONFIG SET slowlog-log-slower-than 0"));
    freeReplyObject(client_cmd(c, "CONFIG SET http-auth-token other-tok-93"));
    r = client_cmd(c, "SLOWLOG GET 2");
    int redacted = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *args = r->element[i]->element[3];
        for (size_t j = 0; j < args->elements; j++) {
            assert_null(strstr(args->element[j]->str, "other-tok-93"));
            if (!strcmp(args->element[j]->str, "(redacted)")) redacted = 1;
        }
    }
    assert_true(redacted);
    freeReplyObject(r);
    assert_int_equal(get_local(port, "/metrics", "Authorization: Bearer other-tok-93\r\n"), 200);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_open_until_password_set(void **state) {
    (void)state;
    struct test_server s;
    int port;
    start_http(&s, &port, NULL);
    redisContext *c = client_connect(&s);
    /* nothing configured: no credentials needed, and credentials are not checked */
    assert_int_equal(get_local(port, "/metrics", NULL), 200);
    assert_int_equal(get_local(port, "/v1/topics", NULL), 200);
    assert_int_equal(get_local(port, "/", NULL), 200);
    assert_int_equal(get_local(port, "/metrics", BASIC(B64_WRONG)), 200);
    assert_int_equal(info_number(c, "stats", "acl_access_denied_auth"), 0);
    /* a password set at runtime locks the face at once, and lifting it opens it again */
    redisReply *r = client_cmd(c, "CONFIG SET requirepass s3cret");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    assert_int_equal(get_local(port, "/metrics", NULL), 401);
    assert_int_equal(get_local(port, "/v1/topics", NULL), 401);
    assert_int_equal(get_local(port, "/health/live", NULL), 200);
    assert_int_equal(get_local(port, "/metrics", BASIC(B64_DEFAULT_GOOD)), 200);
    assert_int_equal(get_local(port, "/metrics", BASIC(B64_WRONG)), 401);
    r = client_cmd(c, "CONFIG SET requirepass %s", "");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    assert_int_equal(get_local(port, "/metrics", NULL), 200);
    assert_int_equal(info_number(c, "stats", "acl_access_denied_auth"), 1);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* An IPv4 address of this machine outside 127.0.0.0/8 (a connection to it comes from it, so
 * the server sees a peer that is not loopback), or 0. */
static int non_loopback_address(char *buf, size_t cap) {
    struct ifaddrs *ifs, *i;
    int found = 0;
    if (getifaddrs(&ifs) != 0) return 0;
    for (i = ifs; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        const struct sockaddr_in *in = (const struct sockaddr_in *)i->ifa_addr;
        if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
        inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)cap);
        int fd = socket(AF_INET, SOCK_STREAM, 0); /* usable: we can bind it */
        struct sockaddr_in sa = *in;
        sa.sin_port = 0;
        if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) found = 1;
        if (fd >= 0) close(fd);
    }
    freeifaddrs(ifs);
    return found;
}

static void test_protected_mode(void **state) {
    (void)state;
    char ip[INET_ADDRSTRLEN];
    if (!non_loopback_address(ip, sizeof(ip))) {
        printf("# no non-loopback IPv4 address: protected mode over HTTP is covered by the "
               "unit test of http_addr_is_loopback only\n");
        skip();
    }
    struct test_server s;
    int port;
    char bind[64];
    snprintf(bind, sizeof(bind), "127.0.0.1 %s", ip);
    const char *extra[] = {"--http-bind", bind, NULL};
    start_http(&s, &port, extra);
    redisContext *c = client_connect(&s);
    struct http_answer a;
    /* from the machine's own non-loopback address: refused, with Redis's explanation */
    assert_int_equal(http_req(ip, port, "GET", "/metrics", NULL, &a), 403);
    assert_non_null(strstr(a.body, "DENIED Redis is running in protected mode"));
    assert_non_null(strstr(a.raw, "Content-Type: text/plain"));
    free(a.raw);
    assert_int_equal(http_req(ip, port, "GET", "/v1/topics", NULL, &a), 403);
    assert_non_null(strstr(a.body, "{\"error\":{\"code\":\"forbidden\","));
    free(a.raw);
    for (int i = 0; i < 5; i++) assert_int_equal(status_of(ip, port, "GET", "/", NULL), 403);
    assert_int_equal(status_of(ip, port, "GET", "/health/live", NULL), 200);
    assert_int_equal(status_of(ip, port, "GET", "/health/ready", NULL), 200);
    /* loopback is served */
    assert_int_equal(get_local(port, "/metrics", NULL), 200);
    /* warned, at most once a second (7 refusals within well under a second) */
    int warned = log_lines_with(&s, "protected mode): HTTP request from");
    assert_true(warned >= 1 && warned < 7);
    /* a password ends protected mode's refusal: credentials decide */
    freeReplyObject(client_cmd(c, "CONFIG SET requirepass s3cret"));
    freeReplyObject(client_cmd(c, "AUTH s3cret"));
    assert_int_equal(status_of(ip, port, "GET", "/metrics", NULL), 401);
    assert_int_equal(status_of(ip, port, "GET", "/metrics", BASIC(B64_DEFAULT_GOOD)), 200);
    /* and protected-mode no opens the face to the network */
    freeReplyObject(client_cmd(c, "CONFIG SET requirepass %s", ""));
    assert_int_equal(status_of(ip, port, "GET", "/metrics", NULL), 403);
    freeReplyObject(client_cmd(c, "CONFIG SET protected-mode no"));
    assert_int_equal(status_of(ip, port, "GET", "/metrics", NULL), 200);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_metrics_key_labels(void **state) {
    (void)state;
    struct test_server s;
    int port;
    start_http(&s, &port, NULL);
    redisContext *c = client_connect(&s);
    freeReplyObject(client_cmd(c, "XADD payroll-secret-7 * f v"));
    freeReplyObject(client_cmd(c, "XGROUP CREATE payroll-secret-7 auditors-hidden-3 0"));
    freeReplyObject(
        client_cmd(c, "XREADGROUP GROUP auditors-hidden-3 c1 STREAMS payroll-secret-7 >"));
    struct http_answer a;
    assert_int_equal(get_local(port, "/metrics", NULL), 200);
    assert_int_equal(http_req("127.0.0.1", port, "GET", "/metrics", NULL, &a), 200);
    assert_non_null(strstr(a.body, "payroll-secret-7")); /* named by default */
    assert_non_null(strstr(a.body, "auditors-hidden-3"));
    free(a.raw);
    redisReply *r = client_cmd(c, "CONFIG SET metrics-key-labels no");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    r = client_cmd(c, "CONFIG GET metrics-key-labels");
    assert_string_equal(r->element[1]->str, "no");
    freeReplyObject(r);
    assert_int_equal(http_req("127.0.0.1", port, "GET", "/metrics", NULL, &a), 200);
    assert_null(strstr(a.body, "payroll-secret-7"));
    assert_null(strstr(a.body, "auditors-hidden-3"));
    assert_null(strstr(a.body, "topic=\""));
    assert_null(strstr(a.body, "group=\""));
    /* the totals stay */
    assert_true(metric_value(a.body, "obelisk_topics ") == 1);
    assert_true(metric_value(a.body, "obelisk_entries_appended_total ") == 1);
    assert_true(metric_value(a.body, "obelisk_auth_failures_total ") == 0);
    free(a.raw);
    /* INFO is behind the RESP port's own authentication: unchanged */
    r = client_cmd(c, "INFO obelisk");
    assert_non_null(strstr(r->str, "payroll-secret-7"));
    freeReplyObject(r);
    freeReplyObject(client_cmd(c, "CONFIG SET metrics-key-labels yes"));
    assert_int_equal(http_req("127.0.0.1", port, "GET", "/metrics", NULL, &a), 200);
    assert_non_null(strstr(a.body, "payroll-secret-7"));
    free(a.raw);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* The API's commands run as the user the request authenticated as: its ACL rules apply (403
 * for what they refuse), /metrics and /health need a user that may run INFO, and a user deleted
 * after it logged in is refused. */
static void test_api_runs_as_acl_user(void **state) {
    (void)state;
    struct test_server s;
    int port;
    const char *extra[] = {"--requirepass", "s3cret", "--user",
                           "reader on >rpw %R~t -@all +xrange +xread", NULL};
    start_http(&s, &port, extra);
    redisContext *c = client_connect(&s);
    freeReplyObject(must_cmd(c, "AUTH s3cret"));
    freeReplyObject(must_cmd(c, "XADD t 1-1 f v"));
    freeReplyObject(must_cmd(c, "XADD other 1-1 f v"));
#define READER BASIC("cmVhZGVyOnJwdw==") /* reader:rpw */
    struct http_answer a;
    assert_int_equal(http_req("127.0.0.1", port, "GET", "/v1/topics/t/entries", READER, &a), 200);
    assert_non_null(strstr(a.body, "1-1"));
    free(a.raw);
    /* a write the rules refuse: 403 with the NOPERM text */
    assert_int_equal(http_req("127.0.0.1", port, "POST", "/v1/topics/t/entries", READER, &a), 403);
    assert_non_null(strstr(a.body, "forbidden"));
    assert_non_null(strstr(a.body, "NOPERM"));
    free(a.raw);
    /* a key outside the user's patterns */
    assert_int_equal(status_of("127.0.0.1", port, "GET", "/v1/topics/other/entries", READER), 403);
    /* the default user (requirepass) may do both */
    assert_int_equal(
        status_of("127.0.0.1", port, "POST", "/v1/topics/t/entries", BASIC(B64_DEFAULT_GOOD)), 201);
    /* the database is the request's, whatever an earlier request on the same pooled internal
     * connection chose (the reader may not run SELECT) */
    freeReplyObject(must_cmd(c, "SELECT 1"));
    freeReplyObject(must_cmd(c, "XADD t 9-9 f other-db"));
    freeReplyObject(must_cmd(c, "SELECT 0"));
    assert_int_equal(http_req("127.0.0.1", port, "GET", "/v1/topics/t/entries?db=1",
                              BASIC(B64_DEFAULT_GOOD), &a),
                     200);
    assert_non_null(strstr(a.body, "9-9"));
    free(a.raw);
    assert_int_equal(http_req("127.0.0.1", port, "GET", "/v1/topics/t/entries", READER, &a), 200);
    assert_non_null(strstr(a.body, "1-1"));
    assert_null(strstr(a.body, "9-9"));
    free(a.raw);
    /* another database is a SELECT, which the reader's rules do not allow */
    assert_int_equal(status_of("127.0.0.1", port, "GET", "/v1/topics/t/entries?db=1", READER), 403);
    /* INFO's pages */
    assert_int_equal(get_local(port, "/metrics", READER), 403);
    assert_int_equal(get_local(port, "/health", READER), 403);
    assert_int_equal(get_local(port, "/metrics", BASIC(B64_DEFAULT_GOOD)), 200);
    assert_int_equal(get_local(port, "/health/ready", NULL), 200);
    long long denied_cmd = info_number(c, "stats", "acl_access_denied_cmd");
    long long denied_key = info_number(c, "stats", "acl_access_denied_key");
    if (denied_cmd < 1 || denied_key < 1)
        fail_msg("acl_access_denied_cmd %lld, acl_access_denied_key %lld", denied_cmd, denied_key);
    /* deleted: the next request is refused */
    freeReplyObject(must_cmd(c, "ACL DELUSER reader"));
    assert_int_equal(status_of("127.0.0.1", port, "GET", "/v1/topics/t/entries", READER), 401);
#undef READER
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials_required), cmocka_unit_test(test_open_until_password_set),
        cmocka_unit_test(test_protected_mode),       cmocka_unit_test(test_metrics_key_labels),
        cmocka_unit_test(test_api_runs_as_acl_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
