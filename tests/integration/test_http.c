/* test_http.c - the HTTP face (http.c, metrics.c) over raw HTTP/1.0 requests: health answers
 * and their status codes, 405/404, HEAD, readiness after an I/O error, CONFIG SET http-port,
 * the HTTP face off by default, and metrics values and series caps. The exposition format
 * itself is checked with a real Prometheus parser in redis-tests/test_metrics_parse.py. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

struct http_answer {
    int status;
    char *raw;  /* whole answer, NUL-terminated */
    char *body; /* inside raw */
};

/* Sends one HTTP/1.0 request and reads the answer until the server closes. Returns 0, or -1
 * when nothing could be connected or read. */
static int http_request(int port, const char *method, const char *path, struct http_answer *a) {
    memset(a, 0, sizeof(*a));
    int fd = raw_connect(port);
    if (fd < 0) return -1;
    char req[512];
    snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n", method, path);
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
    return 0;
}

static int http_status(int port, const char *method, const char *path) {
    struct http_answer a;
    if (http_request(port, method, path, &a) != 0) return -1;
    free(a.raw);
    return a.status;
}

/* The value of the first sample line that starts with prefix ("name{labels} "), or -1. */
static double metric_value(const char *text, const char *prefix) {
    const char *p = text;
    size_t n = strlen(prefix);
    while (p && *p) {
        if (!strncmp(p, prefix, n)) return atof(p + n);
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

static int count_lines_starting(const char *text, const char *prefix) {
    int count = 0;
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, prefix, n)) count++;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return count;
}

static void start_with_http(struct test_server *s, int *port, const char *extra1,
                            const char *extra2) {
    char ps[16];
    *port = harness_free_port();
    snprintf(ps, sizeof(ps), "%d", *port);
    const char *argv[] = {"--http-port", ps, extra1, extra2, NULL};
    assert_int_equal(server_start_argv(s, argv, 0), 0);
}

static void test_health_endpoints(void **state) {
    (void)state;
    struct test_server s;
    int port;
    start_with_http(&s, &port, NULL, NULL);
    struct http_answer a;
    assert_int_equal(http_request(port, "GET", "/health", &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.raw, "Content-Type: application/json"));
    const char *want[] = {
        "\"status\":\"ok\"", "\"uptime_seconds\":",     "\"listener\":{",
        "\"persistence\":{", "\"last_fsync_unix_ms\":", "\"error\":null",
        "\"recovery\":{",    "\"loading\":false",       "\"last_recovery_seconds\":",
        "\"cache\":{",       "\"max_bytes\":268435456"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!strstr(a.body, want[i])) printf("# missing %s in %s\n", want[i], a.body);
        assert_non_null(strstr(a.body, want[i]));
    }
    free(a.raw);
    assert_int_equal(http_status(port, "GET", "/health/live"), 200);
    assert_int_equal(http_status(port, "GET", "/health/ready"), 200);
    assert_int_equal(http_status(port, "GET", "/health?verbose=1"), 200);
    /* HEAD: the same status, no body. */
    assert_int_equal(http_request(port, "HEAD", "/health", &a), 0);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "");
    free(a.raw);
    /* A known path with another method: 405 and what is allowed. */
    const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        assert_int_equal(http_request(port, methods[i], "/metrics", &a), 0);
        assert_int_equal(a.status, 405);
        assert_non_null(strstr(a.raw, "\r\nAllow: GET, HEAD\r\n"));
        free(a.raw);
    }
    /* The dashboard (http_dash.c): the page and its assets, embedded; nothing else under it. */
    assert_int_equal(http_request(port, "GET", "/", &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.raw, "\r\nContent-Type: text/html"));
    assert_non_null(strstr(a.body, "/dashboard/app.js"));
    free(a.raw);
    assert_int_equal(http_status(port, "GET", "/dashboard/app.js"), 200);
    assert_int_equal(http_status(port, "GET", "/dashboard/app.css"), 200);
    assert_int_equal(http_status(port, "POST", "/"), 405);
    assert_int_equal(http_status(port, "GET", "/dashboard/nope.js"), 404);
    assert_int_equal(http_status(port, "GET", "/healthz"), 404);
    assert_int_equal(http_status(port, "GET", "/health/"), 404);
    assert_int_equal(http_status(port, "POST", "/nope"), 404);
    /* The RESP port is untouched by the HTTP face. */
    redisContext *c = client_connect(&s);
    redisReply *r = client_cmd(c, "INFO obelisk");
    char line[64];
    snprintf(line, sizeof(line), "http_port:%d\r\n", port);
    assert_non_null(strstr(r->str, line));
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_ready_after_io_error(void **state) {
    (void)state;
    struct test_server s;
    int port;
    start_with_http(&s, &port, "--on-io-error", "readonly");
    redisContext *c = client_connect(&s);
    freeReplyObject(client_cmd(c, "XADD k 1-1 f v"));
    freeReplyObject(client_cmd(c, "DEBUG IO-FAULT fsync-eio"));
    redisReply *r = client_cmd(c, "XADD k 2-1 f v");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    assert_int_equal(http_status(port, "GET", "/health/ready"), 503);
    assert_int_equal(http_status(port, "GET", "/health/live"), 200); /* the loop still answers */
    struct http_answer a;
    assert_int_equal(http_request(port, "GET", "/health", &a), 0);
    assert_int_equal(a.status, 503);
    assert_non_null(strstr(a.body, "\"status\":\"failing\""));
    assert_non_null(strstr(a.body, "\"persistence\":{\"status\":\"error\""));
    assert_null(strstr(a.body, "\"error\":null"));
    free(a.raw);
    assert_int_equal(http_request(port, "GET", "/metrics", &a), 0);
    assert_int_equal(a.status, 200);
    assert_true(metric_value(a.body, "obelisk_storage_io_error ") == 1);
    free(a.raw);
    r = client_cmd(c, "INFO persistence");
    assert_non_null(strstr(r->str, "fsync_last_status:err\r\n"));
    freeReplyObject(r);
    redisFree(c);
    server_stop(&s);
    server_cleanup(&s);
}

static void test_off_by_default_and_config_set(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, NULL), 0);
    redisContext *c = client_connect(&s);
    redisReply *r = client_cmd(c, "CONFIG GET http-port");
    assert_string_equal(r->element[1]->str, "0");
    freeReplyObject(r);
    r = client_cmd(c, "INFO obelisk");
    assert_non_null(strstr(r->str, "http_port:0\r\n"));
    freeReplyObject(r);
    /* Turned on at runtime, moved, and off again. */
    int p1 = harness_free_port();
    r = client_cmd(c, "CONFIG SET http-port %d", p1);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    assert_int_equal(http_status(p1, "GET", "/health/live"), 200);
    int p2 = harness_free_port();
    r = client_cmd(c, "CONFIG SET http-port %d", p2);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    assert_int_equal(http_status(p2, "GET", "/health/ready"), 200);
    assert_int_equal(http_status(p1, "GET", "/health/live"), -1); /* closed */
    /* A bind that cannot work fails the CONFIG SET and keeps the old listener. */
    r = client_cmd(c, "CONFIG SET http-bind 192.0.2.1");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    assert_int_equal(http_status(p2, "GET", "/health/live"), 200);
    r = client_cmd(c, "CONFIG GET http-bind");
    assert_string_equal(r->element[1]->str, "127.0.0.1 -::1");
    freeReplyObject(r);
    r = client_cmd(c, "CONFIG SET http-port 0");
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    assert_int_equal(http_status(p2, "GET", "/health/live"), -1);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

static void test_metrics_values_and_caps(void **state) {
    (void)state;
    struct test_server s;
    int port;
    start_with_http(&s, &port, "--metrics-max-topics", "2");
    redisContext *c = client_connect(&s);
    for (int i = 0; i < 5; i++) freeReplyObject(client_cmd(c, "XADD t%d 5-%d f v", i, i));
    for (int i = 0; i < 3; i++) freeReplyObject(client_cmd(c, "XADD t0 * f v"));
    freeReplyObject(client_cmd(c, "XRANGE t0 - +"));      /* 4 entries served */
    freeReplyObject(client_cmd(c, "XREAD STREAMS t1 0")); /* 1 more */
    freeReplyObject(client_cmd(c, "XGROUP CREATE t0 g 0"));
    freeReplyObject(client_cmd(c, "XREADGROUP GROUP g alice COUNT 3 STREAMS t0 >")); /* 3 */
    freeReplyObject(client_cmd(c, "XCOMMIT t0 g 5-0"));
    /* Group h reads everything and acknowledges it without XCOMMIT: lag 0, nothing pending,
     * and no committed lag (it never committed), so no alert that never clears. */
    freeReplyObject(client_cmd(c, "XGROUP CREATE t1 h 0"));
    redisReply *rr = client_cmd(c, "XREADGROUP GROUP h bob STREAMS t1 >");
    freeReplyObject(
        client_cmd(c, "XACK t1 h %s", rr->element[0]->element[1]->element[0]->element[0]->str));
    freeReplyObject(rr);
    freeReplyObject(client_cmd(c, "NOPE"));
    struct http_answer a;
    assert_int_equal(http_request(port, "GET", "/metrics", &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.raw, "Content-Type: text/plain; version=0.0.4"));
    const char *m = a.body;
    assert_true(metric_value(m, "obelisk_entries_appended_total ") == 8);
    assert_true(metric_value(m, "obelisk_entries_served_total ") == 9);
    assert_true(metric_value(m, "obelisk_command_calls_total{command=\"xadd\"} ") == 8);
    assert_true(metric_value(m, "obelisk_command_calls_total{command=\"xgroup|create\"} ") == 2);
    assert_true(metric_value(m, "obelisk_errors_total{type=\"ERR\"} ") == 1);
    assert_true(metric_value(m, "obelisk_connected_clients ") == 1);
    assert_true(metric_value(m, "obelisk_topics ") == 5);
    assert_true(metric_value(m, "obelisk_fsyncs_total ") > 0);
    assert_true(metric_value(m, "obelisk_fsync_duration_seconds_count ") ==
                metric_value(m, "obelisk_fsyncs_total "));
    assert_true(metric_value(m, "obelisk_persist_submission_bytes_count ") ==
                metric_value(m, "obelisk_persist_submissions_total "));
    /* Capped: 2 of 5 topics, the rest counted. Group g on t0 is listed (groups are not capped
     * here), with 3 pending and lag 3 after committing 5-0 (entries after it: 3). */
    assert_int_equal(count_lines_starting(m, "obelisk_topic_entries{"), 2);
    assert_true(metric_value(m, "obelisk_metrics_omitted_series{kind=\"topic\"} ") == 3);
    assert_true(
        metric_value(m, "obelisk_group_pending_entries{db=\"0\",topic=\"t0\",group=\"g\"} ") == 3);
    assert_true(metric_value(
                    m, "obelisk_group_committed_lag_entries{db=\"0\",topic=\"t0\",group=\"g\"} ") ==
                3);
    /* Redis's lag (XINFO GROUPS): g was delivered 3 of t0's 4 entries */
    assert_true(metric_value(m, "obelisk_group_lag_entries{db=\"0\",topic=\"t0\",group=\"g\"} ") ==
                1);
    assert_true(metric_value(m, "obelisk_group_lag_entries{db=\"0\",topic=\"t1\",group=\"h\"} ") ==
                0);
    assert_true(
        metric_value(m, "obelisk_group_pending_entries{db=\"0\",topic=\"t1\",group=\"h\"} ") == 0);
    assert_null(strstr(m, "obelisk_group_committed_lag_entries{db=\"0\",topic=\"t1\""));
    assert_null(strstr(m, "obelisk_group_commit_batch_bytes"));
    free(a.raw);
    /* INFO obelisk lists the groups with the same figures. */
    redisReply *r = client_cmd(c, "INFO obelisk");
    assert_non_null(
        strstr(r->str, ":db=0,key=t0,group=g,committed=5-0,lag=1,committed_lag=3,pending=3\r\n"));
    assert_non_null(strstr(
        r->str, ":db=0,key=t1,group=h,committed=none,lag=0,committed_lag=none,pending=0\r\n"));
    assert_non_null(strstr(r->str, "topics:5\r\n"));
    assert_non_null(strstr(r->str, "entries_appended:8\r\n"));
    freeReplyObject(r);
    /* A cap of 0 groups leaves them all out, and says so. */
    freeReplyObject(client_cmd(c, "CONFIG SET metrics-max-groups 0"));
    assert_int_equal(http_request(port, "GET", "/metrics", &a), 0);
    assert_int_equal(count_lines_starting(a.body, "obelisk_group_pending_entries{"), 0);
    assert_true(metric_value(a.body, "obelisk_metrics_omitted_series{kind=\"group\"} ") == 2);
    free(a.raw);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    server_cleanup(&s);
}

/* A group's dead-letter counter: only for groups with a policy, counting what it took. */
static void test_dead_letter_metric(void **state) {
    (void)state;
    struct test_server s;
    int port;
    start_with_http(&s, &port, NULL, NULL);
    redisContext *c = client_connect(&s);
    freeReplyObject(client_cmd(c, "XADD k 1-1 f v"));
    freeReplyObject(client_cmd(c, "XADD k 2-1 f v"));
    freeReplyObject(client_cmd(c, "XGROUP CREATE k g 0 MAXDELIVERIES 1 DEADLETTER k:dead"));
    freeReplyObject(client_cmd(c, "XGROUP CREATE k h 0"));
    freeReplyObject(client_cmd(c, "XREADGROUP GROUP g c STREAMS k >"));
    freeReplyObject(client_cmd(c, "XCLAIM k g c2 0 1-1 2-1"));
    struct http_answer a;
    assert_int_equal(http_request(port, "GET", "/metrics", &a), 0);
    assert_true(metric_value(a.body, "obelisk_group_dead_lettered_total{db=\"0\",topic=\"k\","
                                     "group=\"g\"} ") == 2);
    assert_null(strstr(a.body, "obelisk_group_dead_lettered_total{db=\"0\",topic=\"k\","
                               "group=\"h\"}"));
    free(a.raw);
    redisFree(c);
    server_stop(&s);
    server_cleanup(&s);
}

/* /health's backup component: "ok" with nothing done before any backup, then the last one's
 * result after a BACKUP (every file done, when it succeeded). */
static void test_health_backup(void **state) {
    (void)state;
    struct test_server s;
    int port;
    start_with_http(&s, &port, NULL, NULL);
    struct http_answer a;
    assert_int_equal(http_request(port, "GET", "/health", &a), 0);
    assert_non_null(strstr(a.body, "\"backup\":{\"status\":\"ok\",\"in_progress\":false,"
                                   "\"bytes_total\":0,\"bytes_done\":0,\"files_total\":0,"
                                   "\"files_done\":0,\"started_unix\":0,\"last_ok_unix\":0,"));
    free(a.raw);
    redisContext *c = client_connect(&s);
    for (int i = 0; i < 100; i++) freeReplyObject(must_cmd(c, "XADD t * n %d", i));
    redisReply *r = must_cmd(c, "BACKUP %s/b1", s.dir);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    long long files = info_number(c, "persistence", "backup_files_total");
    assert_true(files > 0);
    assert_int_equal(http_request(port, "GET", "/health", &a), 0);
    char want[200];
    snprintf(want, sizeof want, "\"files_total\":%lld,\"files_done\":%lld,", files, files);
    if (!strstr(a.body, want)) printf("# missing %s in %s\n", want, a.body);
    assert_non_null(strstr(a.body, want));
    assert_non_null(strstr(a.body, "\"backup\":{\"status\":\"ok\",\"in_progress\":false,"));
    assert_null(strstr(a.body, "\"last_ok_unix\":0,"));
    assert_non_null(strstr(a.body, "\"last_error\":null}"));
    free(a.raw);
    redisFree(c);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_endpoints),
        cmocka_unit_test(test_health_backup),
        cmocka_unit_test(test_ready_after_io_error),
        cmocka_unit_test(test_off_by_default_and_config_set),
        cmocka_unit_test(test_metrics_values_and_caps),
        cmocka_unit_test(test_dead_letter_metric),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
