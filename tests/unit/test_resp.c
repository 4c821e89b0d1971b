/* test_resp.c - the incremental RESP request parser without sockets: whole requests, every
 * byte-by-byte split, random splits (seed printed, OBELISK_SEED to replay), every protocol
 * error text, and the limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "protocol/resp.h"

/* Feeds buf in pieces of the given sizes (0-terminated list, last piece takes the rest) and
 * returns the commands parsed, joined as "arg1|arg2;arg1;..." or "ERR:<text>". */
static void parse_all(const char *buf, size_t len, const size_t *pieces, char *out, size_t cap) {
    struct resp_parser p;
    resp_parser_init(&p, 512LL * 1024 * 1024);
    p.authenticated = 1;
    char *pending = malloc(len + 1);
    size_t plen = 0, fed = 0;
    int pi = 0;
    out[0] = '\0';
    while (fed < len) {
        size_t n = pieces && pieces[pi] ? pieces[pi++] : len - fed;
        if (n > len - fed) n = len - fed;
        memcpy(pending + plen, buf + fed, n);
        plen += n;
        fed += n;
        for (;;) {
            size_t used;
            enum resp_result rc = resp_parse(&p, pending, plen, &used);
            memmove(pending, pending + used, plen - used);
            plen -= used;
            if (rc == RESP_ERROR) {
                snprintf(out + strlen(out), cap - strlen(out), "ERR:%s", p.error_text);
                goto done;
            }
            if (rc == RESP_NEED_MORE) break;
            for (int i = 0; i < p.argc; i++)
                snprintf(out + strlen(out), cap - strlen(out), "%s%.*s", i ? "|" : "",
                         (int)p.argvlen[i], p.argv[i]);
            snprintf(out + strlen(out), cap - strlen(out), ";");
            resp_parser_reset_argv(&p);
        }
    }
done:
    free(pending);
    resp_parser_free(&p);
}

static void expect_parse(const char *req, const char *want) {
    char out[4096];
    parse_all(req, strlen(req), NULL, out, sizeof(out));
    assert_string_equal(out, want);
    /* Every split into two pieces, and one byte at a time, gives the same result. */
    for (size_t cut = 1; cut < strlen(req); cut++) {
        size_t pieces[] = {cut, 0};
        parse_all(req, strlen(req), pieces, out, sizeof(out));
        assert_string_equal(out, want);
    }
    size_t ones[4096];
    for (size_t i = 0; i < strlen(req) && i < 4095; i++) ones[i] = 1;
    ones[strlen(req) < 4095 ? strlen(req) : 4095] = 0;
    parse_all(req, strlen(req), ones, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_multibulk(void **state) {
    (void)state;
    expect_parse("*1\r\n$4\r\nPING\r\n", "PING;");
    expect_parse("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", "ECHO|;");
    expect_parse("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$4\r\nb\r\nc\r\n", "SET|a|b\r\nc;");
    expect_parse("*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n", "x;");
    expect_parse("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", "PING;PING;");
}

static void test_inline(void **state) {
    (void)state;
    expect_parse("PING\r\n", "PING;");
    expect_parse("PING\n", "PING;");
    expect_parse("  set  a   b \r\n", "set|a|b;");
    expect_parse("ECHO \"a\\tb\\x41\\\"\"\r\n", "ECHO|a\tbA\";");
    expect_parse("ECHO 'x\\'y'\r\n", "ECHO|x'y;");
    expect_parse("ECHO \"\"\r\n", "ECHO|;");
    expect_parse("\r\n\n\r\nPING\r\n", "PING;");
}

static void test_errors(void **state) {
    (void)state;
    expect_parse("*x\r\n", "ERR:Protocol error: invalid multibulk length");
    expect_parse("*2147483648\r\n", "ERR:Protocol error: invalid multibulk length");
    expect_parse("*1\r\n$-5\r\n", "ERR:Protocol error: invalid bulk length");
    expect_parse("*1\r\n$01\r\n", "ERR:Protocol error: invalid bulk length");
    expect_parse("*1\r\n%4\r\n", "ERR:Protocol error: expected '$', got '%'");
    expect_parse("ECHO \"abc\r\n", "ERR:Protocol error: unbalanced quotes in request");
    expect_parse("ECHO 'a'b\r\n", "ERR:Protocol error: unbalanced quotes in request");
    expect_parse("PING\r\n*1\r\n$x\r\n", "PING;ERR:Protocol error: invalid bulk length");
}

static void test_limits(void **state) {
    (void)state;
    char out[256];
    size_t n = RESP_INLINE_MAX + 10;
    char *big = malloc(n + 8);
    memset(big, 'a', n);
    parse_all(big, n, NULL, out, sizeof(out));
    assert_string_equal(out, "ERR:Protocol error: too big inline request");
    big[0] = '*';
    memset(big + 1, '1', n - 1);
    parse_all(big, n, NULL, out, sizeof(out));
    assert_string_equal(out, "ERR:Protocol error: too big mbulk count string");
    memcpy(big, "*1\r\n$", 5);
    parse_all(big, n, NULL, out, sizeof(out));
    assert_string_equal(out, "ERR:Protocol error: too big bulk count string");
    free(big);

    struct resp_parser p;
    size_t used;
    resp_parser_init(&p, 100);
    p.authenticated = 1;
    assert_int_equal(resp_parse(&p, "*1\r\n$101\r\n", 11, &used), RESP_ERROR);
    assert_string_equal(p.error_text, "Protocol error: invalid bulk length");
    resp_parser_free(&p);
    resp_parser_init(&p, 100);
    p.authenticated = 1;
    assert_int_equal(resp_parse(&p, "*1\r\n$100\r\n", 11, &used), RESP_NEED_MORE);
    resp_parser_free(&p);

    resp_parser_init(&p, 1 << 30);
    p.authenticated = 0;
    assert_int_equal(resp_parse(&p, "*11\r\n", 5, &used), RESP_ERROR);
    assert_string_equal(p.error_text, "Protocol error: unauthenticated multibulk length");
    resp_parser_free(&p);
    resp_parser_init(&p, 1 << 30);
    assert_int_equal(resp_parse(&p, "*10\r\n$16384\r\n", 13, &used), RESP_NEED_MORE);
    resp_parser_free(&p);
    resp_parser_init(&p, 1 << 30);
    assert_int_equal(resp_parse(&p, "*1\r\n$16385\r\n", 12, &used), RESP_ERROR);
    assert_string_equal(p.error_text, "Protocol error: unauthenticated bulk length");
    resp_parser_free(&p);
}

/* A line just over the limit with its end in the same read was taken whole (an inline request)
 * or refused with another text (count lines), while the same bytes arriving in pieces were
 * refused as too big: the result depended on how the bytes were cut. At and below the limit
 * every cut agrees too. */
static void expect_cuts_agree(const char *buf, size_t n, const char *want) {
    size_t cap = n + 256;
    char *out = malloc(cap);
    size_t *ones = malloc((n + 1) * sizeof *ones);
    for (size_t i = 0; i < n; i++) ones[i] = 1;
    ones[n] = 0;
    size_t pages[64];
    for (size_t i = 0; i < 63; i++) pages[i] = 4096;
    pages[63] = 0;
    parse_all(buf, n, NULL, out, cap);
    assert_string_equal(out, want);
    parse_all(buf, n, ones, out, cap);
    assert_string_equal(out, want);
    parse_all(buf, n, pages, out, cap);
    assert_string_equal(out, want);
    free(ones);
    free(out);
}

static void test_long_lines_any_cut(void **state) {
    (void)state;
    size_t max = RESP_INLINE_MAX;
    char *big = malloc(max + 64);
    char *want = malloc(max + 64);
    /* inline: max bytes before "\r\n" are taken, max + 1 are not */
    memset(big, 'a', max + 1);
    memcpy(big + max - 1, "\r\n", 2);
    memset(want, 'a', max - 1);
    strcpy(want + max - 1, ";");
    expect_cuts_agree(big, max + 1, want);
    memset(big, 'a', max + 1);
    memcpy(big + max + 1, "\r\n", 2);
    expect_cuts_agree(big, max + 3, "ERR:Protocol error: too big inline request");
    /* count lines: max bytes before the "\r" and the byte after it are too big */
    memset(big, '1', max + 2);
    big[0] = '*';
    memcpy(big + max, "\r\n", 2);
    expect_cuts_agree(big, max + 2, "ERR:Protocol error: too big mbulk count string");
    memcpy(big, "*1\r\n$", 5);
    memset(big + 5, '1', max);
    memcpy(big + 4 + max, "\r\n", 2);
    expect_cuts_agree(big, max + 6, "ERR:Protocol error: too big bulk count string");
    /* one byte shorter: an ordinary (invalid) length, whatever the cut */
    memset(big, '1', max + 2);
    big[0] = '*';
    memcpy(big + max - 1, "\r\n", 2);
    expect_cuts_agree(big, max + 1, "ERR:Protocol error: invalid multibulk length");
    free(big);
    free(want);
}

/* A large bulk arriving in pieces is held by the parser (counted as pending bytes) and the
 * caller keeps nothing: the bytes are consumed as they come. */
static void test_big_bulk_streaming(void **state) {
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, 1 << 30);
    p.authenticated = 1;
    size_t used;
    const char *head = "*2\r\n$4\r\nECHO\r\n$1000000\r\n";
    assert_int_equal(resp_parse(&p, head, strlen(head), &used), RESP_NEED_MORE);
    assert_int_equal(used, strlen(head));
    char chunk[1000];
    memset(chunk, 'b', sizeof(chunk));
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(resp_parse(&p, chunk, sizeof(chunk), &used), RESP_NEED_MORE);
        assert_int_equal(used, sizeof(chunk));
    }
    assert_true(resp_parser_pending_bytes(&p) >= 1000000);
    assert_int_equal(resp_parse(&p, "\r\n", 2, &used), RESP_COMMAND);
    assert_int_equal(p.argc, 2);
    assert_int_equal(p.argvlen[1], 1000000);
    resp_parser_free(&p);
}

static void test_random_splits(void **state) {
    (void)state;
    unsigned seed =
        getenv("OBELISK_SEED") ? (unsigned)atoi(getenv("OBELISK_SEED")) : (unsigned)time(NULL);
    printf("# seed %u\n", seed);
    srand(seed);
    const char *req = "*3\r\n$4\r\nXADD\r\n$1\r\nk\r\n$10\r\n0123456789\r\nPING\r\n"
                      "ECHO \"q r\"\r\n*1\r\n$4\r\nPING\r\n";
    const char *want = "XADD|k|0123456789;PING;ECHO|q r;PING;";
    for (int round = 0; round < 500; round++) {
        size_t pieces[128];
        int n = 0;
        for (size_t total = 0; total < strlen(req) && n < 127;) {
            size_t k = 1 + (size_t)rand() % 9;
            pieces[n++] = k;
            total += k;
        }
        pieces[n] = 0;
        char out[256];
        parse_all(req, strlen(req), pieces, out, sizeof(out));
        assert_string_equal(out, want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_big_bulk_streaming),
        cmocka_unit_test(test_random_splits),
        cmocka_unit_test(test_long_lines_any_cut),
    };
    return cmocka_run_group_tests_name("resp", tests, NULL, NULL);
}
