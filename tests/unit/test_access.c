/* test_access.c - the pieces of the access rules that need no server: which peers the HTTP
 * face counts as loopback for protected mode (http_addr_is_loopback: 127.0.0.0/8, ::1 and
 * IPv4-mapped 127.x, nothing else), and authfail's counters and its log rate limit (one line
 * a second, the rest counted as suppressed; ACL denials counted by kind, no log). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "server/authfail.h"
#include "server/http.h"

static int v4(const char *ip) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
    return http_addr_is_loopback((struct sockaddr *)&sa);
}

static int v6(const char *ip) {
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, ip, &sa.sin6_addr), 1);
    return http_addr_is_loopback((struct sockaddr *)&sa);
}

static void test_loopback_peers(void **state) {
    (void)state;
    assert_int_equal(v4("127.0.0.1"), 1);
    assert_int_equal(v4("127.0.0.2"), 1);
    assert_int_equal(v4("127.255.255.254"), 1);
    assert_int_equal(v4("126.255.255.255"), 0);
    assert_int_equal(v4("128.0.0.1"), 0);
    assert_int_equal(v4("10.0.0.1"), 0);
    assert_int_equal(v4("192.0.2.2"), 0);
    assert_int_equal(v4("0.0.0.0"), 0);
    assert_int_equal(v4("1.127.0.0"), 0);
    assert_int_equal(v6("::1"), 1);
    assert_int_equal(v6("::ffff:127.0.0.1"), 1);
    assert_int_equal(v6("::ffff:127.9.8.7"), 1);
    assert_int_equal(v6("::ffff:10.0.0.1"), 0);
    assert_int_equal(v6("::127.0.0.1"), 0); /* IPv4-compatible, not mapped */
    assert_int_equal(v6("::2"), 0);
    assert_int_equal(v6("::"), 0);
    assert_int_equal(v6("fe80::1"), 0);
    assert_int_equal(v6("fd00::2"), 0);
    assert_int_equal(v6("2001:db8::1"), 0);
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    assert_int_equal(http_addr_is_loopback((struct sockaddr *)&un), 1);
    assert_int_equal(http_addr_is_loopback(NULL), 0);
}

static void test_authfail_counts_and_rate(void **state) {
    (void)state;
    unsigned long long lines0, supp0;
    authfail_log_stats(&lines0, &supp0);
    unsigned long long base = authfail_count(AUTHFAIL_AUTH);
    /* 50 failures in a burst: all counted, one line, 49 suppressed */
    for (int i = 0; i < 50; i++) authfail_note("192.0.2.9:4000", "mallory\x01\\'", 10, "AUTH");
    assert_int_equal(authfail_count(AUTHFAIL_AUTH), base + 50);
    unsigned long long lines, supp;
    authfail_log_stats(&lines, &supp);
    assert_int_equal(lines - lines0, 1);
    assert_int_equal(supp - supp0, 49);
    /* a second later the next failure is logged again */
    sleep(1);
    authfail_note("192.0.2.9:4001", "x", 1, "HTTP");
    authfail_log_stats(&lines, &supp);
    assert_int_equal(lines - lines0, 2);
    assert_int_equal(authfail_count(AUTHFAIL_AUTH), base + 51);
    /* denials by kind; the auth kind and unknown kinds are not denials */
    authfail_note_denied(AUTHFAIL_CMD);
    authfail_note_denied(AUTHFAIL_KEY);
    authfail_note_denied(AUTHFAIL_KEY);
    authfail_note_denied(AUTHFAIL_CHANNEL);
    authfail_note_denied(AUTHFAIL_AUTH);
    authfail_note_denied(99);
    authfail_note_denied(-1);
    assert_int_equal(authfail_count(AUTHFAIL_CMD), 1);
    assert_int_equal(authfail_count(AUTHFAIL_KEY), 2);
    assert_int_equal(authfail_count(AUTHFAIL_CHANNEL), 1);
    assert_int_equal(authfail_count(AUTHFAIL_AUTH), base + 51);
    assert_int_equal(authfail_count(99), 0);
    authfail_log_stats(&lines, &supp);
    assert_int_equal(lines - lines0, 2); /* denials are not logged */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_peers),
        cmocka_unit_test(test_authfail_counts_and_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
