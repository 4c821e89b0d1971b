/* fuzz_resp.c - libFuzzer target for the RESP request parser (src/protocol/resp.c).
 *
 * Input: byte 0 holds options (bit 0: authenticated, bits 1-7: seed of the split points), the
 * rest is what a client sends. The bytes are parsed twice, as a connection feeds them: once in
 * one piece, once cut at pseudo-random points (each piece appended to what the parser left
 * unconsumed). Both runs must give the same commands, byte for byte, and end the same way (the
 * same protocol error, or waiting for more). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/resp.h"

#define MAX_BULK (1 << 20)

/* The commands and the final state of one run, flattened: per command argc, then per argument
 * its length and bytes; then the result and the error text. */
struct trace {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct trace *t, const void *b, size_t n) {
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n) cap *= 2;
        uint8_t *np = realloc(t->p, cap);
        if (!np) abort();
        t->p = np;
        t->cap = cap;
    }
    if (n) memcpy(t->p + t->len, b, n);
    t->len += n;
}

static void put_command(struct trace *t, const struct resp_parser *p) {
    uint64_t argc = (uint64_t)p->argc;
    put(t, &argc, sizeof argc);
    for (int i = 0; i < p->argc; i++) {
        uint64_t l = p->argvlen[i];
        put(t, &l, sizeof l);
        put(t, p->argv[i], p->argvlen[i]);
        if (p->argv[i][p->argvlen[i]] != '\0') abort(); /* promised NUL terminator */
    }
}

/* Feeds data[0..len) cut at the given points; returns 1 when parsing stopped on an error. */
static int run(const uint8_t *data, size_t len, int auth, const size_t *cuts, size_t ncuts,
               struct trace *t) {
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    p.authenticated = auth;
    char *q = malloc(len + 1);
    if (!q) abort();
    size_t qlen = 0, fed = 0;
    int err = 0;
    for (size_t k = 0; k <= ncuts && !err; k++) {
        size_t upto = k < ncuts ? cuts[k] : len;
        if (upto < fed) continue;
        memcpy(q + qlen, data + fed, upto - fed);
        qlen += upto - fed;
        fed = upto;
        size_t pos = 0;
        for (;;) {
            size_t used = 0;
            enum resp_result rc = resp_parse(&p, q + pos, qlen - pos, &used);
            if (used > qlen - pos) abort();
            pos += used;
            if (rc == RESP_ERROR) {
                put(t, "E", 1);
                put(t, p.error_text, strlen(p.error_text));
                err = 1;
                break;
            }
            if (rc == RESP_NEED_MORE) break;
            put_command(t, &p);
            resp_parser_reset_argv(&p);
        }
        memmove(q, q + pos, qlen - pos);
        qlen -= pos;
    }
    if (!err) {
        /* waiting for more: the bytes held (unconsumed + inside the parser) must agree too */
        uint64_t held = qlen + resp_parser_pending_bytes(&p);
        put(t, "M", 1);
        put(t, &held, sizeof held);
    }
    free(q);
    resp_parser_free(&p);
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int auth = data[0] & 1;
    uint32_t seed = (uint32_t)(data[0] >> 1) * 2654435761u + (uint32_t)size;
    data++;
    size--;
    size_t *cuts = malloc((size + 1) * sizeof *cuts);
    if (!cuts) abort();
    size_t ncuts = 0, at = 0;
    while (at < size) {
        seed = seed * 1103515245u + 12345u;
        size_t step = 1 + (seed >> 16) % 17; /* pieces of 1 to 17 bytes */
        at += step;
        if (at < size) cuts[ncuts++] = at;
    }
    struct trace whole = {0}, split = {0};
    run(data, size, auth, NULL, 0, &whole);
    run(data, size, auth, cuts, ncuts, &split);
    if (whole.len != split.len || memcmp(whole.p, split.p, whole.len) != 0) abort();
    /* byte by byte, the hardest split */
    for (size_t i = 0; i < size; i++) cuts[i] = i + 1;
    struct trace bytes = {0};
    run(data, size, auth, cuts, size, &bytes);
    if (whole.len != bytes.len || memcmp(whole.p, bytes.p, whole.len) != 0) abort();
    free(whole.p);
    free(split.p);
    free(bytes.p);
    free(cuts);
    return 0;
}
