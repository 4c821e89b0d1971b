/* resp.c - incremental RESP request parser.
 *
 * Design: a request is either multibulk ("*N\r\n$len\r\n<bytes>\r\n"...) or an inline line
 * (what telnet and redis-benchmark's inline mode send). Count lines must be whole in the caller's
 * buffer (they are at most RESP_INLINE_MAX bytes); bulk payloads are copied out as they arrive
 * into a buffer that grows with the data received, not with the length the peer claims, so a
 * peer cannot make us allocate 512 MB by sending one header. The texts of the protocol errors
 * are Redis's, byte for byte, because clients and tests match them.
 * Owned by the connection that feeds it (main thread). */
#include "protocol/resp.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* First allocation for a bulk; it doubles as bytes arrive, up to the announced length. */
#define RESP_BULK_FIRST_ALLOC (16 * 1024)

void resp_parser_init(struct resp_parser *p, long long max_bulk) {
    memset(p, 0, sizeof(*p));
    p->max_bulk = max_bulk;
    p->bulk_len = -1;
}

void resp_parser_reset_argv(struct resp_parser *p) {
    for (int i = 0; i < p->argc; i++) free(p->argv[i]);
    p->argc = 0;
}

void resp_parser_free(struct resp_parser *p) {
    resp_parser_reset_argv(p);
    free(p->argv);
    free(p->argvlen);
    free(p->bulk);
    memset(p, 0, sizeof(*p));
    p->bulk_len = -1;
}

size_t resp_parser_pending_bytes(const struct resp_parser *p) {
    size_t n = p->bulk_have;
    for (int i = 0; i < p->argc; i++) n += p->argvlen[i];
    return n;
}

static enum resp_result fail(struct resp_parser *p, const char *text) {
    snprintf(p->error_text, sizeof(p->error_text), "%s", text);
    resp_parser_reset_argv(p);
    free(p->bulk);
    p->bulk = NULL;
    p->bulk_have = 0;
    p->bulk_cap = 0;
    p->bulk_len = -1;
    p->mbulk_left = 0;
    return RESP_ERROR;
}

static int argv_push(struct resp_parser *p, char *s, size_t len) {
    if (p->argc == p->argcap) {
        int cap = p->argcap ? p->argcap * 2 : 16;
        char **na = realloc(p->argv, (size_t)cap * sizeof(*na));
        if (!na) return -1;
        p->argv = na;
        size_t *nl = realloc(p->argvlen, (size_t)cap * sizeof(*nl));
        if (!nl) return -1;
        p->argvlen = nl;
        p->argcap = cap;
    }
    p->argv[p->argc] = s;
    p->argvlen[p->argc] = len;
    p->argc++;
    return 0;
}

static enum resp_result parse_inline(struct resp_parser *p, const char *buf, size_t len,
                                     size_t *consumed) {
    const char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len > RESP_INLINE_MAX) return fail(p, "Protocol error: too big inline request");
        return RESP_NEED_MORE;
    }
    size_t linelen = (size_t)(nl - buf);
    /* the same limit as while the line is incomplete, so where the bytes were cut never
     * changes the answer */
    if (linelen > RESP_INLINE_MAX) return fail(p, "Protocol error: too big inline request");
    size_t used = linelen + 1;
    if (linelen > 0 && buf[linelen - 1] == '\r') linelen--;
    char **args;
    size_t *lens;
    int n = util_split_args(buf, linelen, &args, &lens);
    if (n == -1) return fail(p, "Protocol error: unbalanced quotes in request");
    if (n < 0) return fail(p, "Protocol error: out of memory");
    *consumed += used;
    for (int i = 0; i < n; i++) {
        if (argv_push(p, args[i], lens[i]) != 0) {
            for (int j = i; j < n; j++) free(args[j]);
            free(args);
            free(lens);
            return fail(p, "Protocol error: out of memory");
        }
    }
    free(args);
    free(lens);
    return n > 0 ? RESP_COMMAND : RESP_NEED_MORE;
}

/* Finds a complete "<prefix><digits>\r\n" line. Returns its length without CRLF, -1 when more
 * bytes are needed, -2 when the line is too big. Like Redis, looks for '\r' and then requires
 * one more byte after it. Too big: more than RESP_INLINE_MAX bytes without a complete line, or
 * a complete line that, cut one byte earlier, would have been that (its first RESP_INLINE_MAX
 * + 1 bytes hold no complete line), so the answer is the same wherever the bytes are cut. */
static long find_line(const char *buf, size_t len) {
    const char *cr = memchr(buf, '\r', len);
    if (!cr || (size_t)(cr - buf) + 2 > len) return len > RESP_INLINE_MAX ? -2 : -1;
    if ((size_t)(cr - buf) >= RESP_INLINE_MAX) return -2;
    return cr - buf;
}

/* Copies as much of the current bulk (payload, then its two trailing bytes, which Redis skips
 * without checking) as buf holds. Returns 1 when complete, 0 when more is needed, -1 when out
 * of memory. */
static int take_bulk(struct resp_parser *p, const char *buf, size_t len, size_t *used) {
    size_t total = (size_t)p->bulk_len + 2;
    size_t take = total - p->bulk_have;
    if (take > len) take = len;
    if (p->bulk_have < (size_t)p->bulk_len) {
        size_t data = take;
        if (p->bulk_have + data > (size_t)p->bulk_len) data = (size_t)p->bulk_len - p->bulk_have;
        size_t need = p->bulk_have + data + 1;
        if (need > p->bulk_cap) {
            size_t cap = p->bulk_cap ? p->bulk_cap : RESP_BULK_FIRST_ALLOC;
            while (cap < need) cap *= 2;
            if (cap > (size_t)p->bulk_len + 1) cap = (size_t)p->bulk_len + 1;
            char *nb = realloc(p->bulk, cap);
            if (!nb) return -1;
            p->bulk = nb;
            p->bulk_cap = cap;
        }
        memcpy(p->bulk + p->bulk_have, buf, data);
    }
    p->bulk_have += take;
    *used += take;
    return p->bulk_have == total;
}

static enum resp_result parse_multibulk(struct resp_parser *p, const char *buf, size_t len,
                                        size_t *consumed) {
    size_t pos = 0;
    long long ll;
    enum resp_result rc = RESP_NEED_MORE;
    if (p->mbulk_left == 0) {
        long line = find_line(buf, len);
        if (line == -2) return fail(p, "Protocol error: too big mbulk count string");
        if (line < 0) return RESP_NEED_MORE;
        if (!util_parse_ll(buf + 1, (size_t)line - 1, &ll) || ll > INT_MAX)
            return fail(p, "Protocol error: invalid multibulk length");
        if (ll > RESP_UNAUTH_MAX_ARGS && !p->authenticated)
            return fail(p, "Protocol error: unauthenticated multibulk length");
        pos = (size_t)line + 2;
        *consumed = pos;
        if (ll <= 0) return RESP_NEED_MORE; /* "*0" and "*-1" are skipped, as Redis does */
        p->mbulk_left = ll;
        p->bulk_len = -1;
    }
    while (p->mbulk_left > 0) {
        if (p->bulk_len == -1) {
            long line = find_line(buf + pos, len - pos);
            if (line == -2) return fail(p, "Protocol error: too big bulk count string");
            if (line < 0) break;
            if (buf[pos] != '$') {
                char text[64];
                snprintf(text, sizeof(text), "Protocol error: expected '$', got '%c'", buf[pos]);
                return fail(p, text);
            }
            if (!util_parse_ll(buf + pos + 1, (size_t)line - 1, &ll) || ll < 0 || ll > p->max_bulk)
                return fail(p, "Protocol error: invalid bulk length");
            if (ll > RESP_UNAUTH_MAX_BULK && !p->authenticated)
                return fail(p, "Protocol error: unauthenticated bulk length");
            pos += (size_t)line + 2;
            *consumed = pos;
            p->bulk_len = ll;
            p->bulk_have = 0;
            p->bulk_cap = 0;
            p->bulk = NULL;
        }
        int done = take_bulk(p, buf + pos, len - pos, &pos);
        *consumed = pos;
        if (done < 0) return fail(p, "Protocol error: out of memory");
        if (!done) break;
        if (!p->bulk) { /* empty bulk: still give the command a real string */
            p->bulk = malloc(1);
            if (!p->bulk) return fail(p, "Protocol error: out of memory");
        }
        p->bulk[p->bulk_len] = '\0';
        if (argv_push(p, p->bulk, (size_t)p->bulk_len) != 0)
            return fail(p, "Protocol error: out of memory");
        p->bulk = NULL;
        p->bulk_have = 0;
        p->bulk_cap = 0;
        p->bulk_len = -1;
        p->mbulk_left--;
        if (p->mbulk_left == 0) rc = RESP_COMMAND;
    }
    return rc;
}

enum resp_result resp_parse(struct resp_parser *p, const char *buf, size_t len, size_t *consumed) {
    enum resp_result rc = RESP_NEED_MORE;
    *consumed = 0;
    if (p->mbulk_left == 0 && p->argc > 0) resp_parser_reset_argv(p);
    /* Loop only to skip empty requests (blank inline lines, "*0"), which produce no command. */
    while (*consumed < len) {
        size_t used = 0;
        const char *b = buf + *consumed;
        size_t n = len - *consumed;
        if (p->mbulk_left > 0 || b[0] == '*')
            rc = parse_multibulk(p, b, n, &used);
        else
            rc = parse_inline(p, b, n, &used);
        *consumed += used;
        if (rc != RESP_NEED_MORE || used == 0 || p->mbulk_left > 0) break;
    }
    return rc;
}
