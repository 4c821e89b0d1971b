/* fuzz_respv.c - libFuzzer target for the RESP reply parser (src/protocol/respv.c), which the
 * HTTP API reads its internal connections' replies with.
 *
 * Input: the bytes a server sends. Properties: respv_complete (no allocation) agrees with
 * respv_parse on every input; a value that parses is not complete at any
 * shorter cut (a cut answers "need more", never an error or another value); and the tree,
 * written back as RESP3 and parsed again, gives the same bytes when written again. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/respv.h"

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const void *b, size_t n) {
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n) cap *= 2;
        char *np = realloc(o->p, cap);
        if (!np) abort();
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->len, b, n);
    o->len += n;
}

static void putf(struct out *o, char type, long long n) {
    char buf[40];
    int k = snprintf(buf, sizeof(buf), "%c%lld\r\n", type, n);
    put(o, buf, (size_t)k);
}

static void encode(struct out *o, const struct respv *v) {
    switch (v->type) {
    case '+':
    case '-':
    case ',':
    case '(':
        if (memchr(v->str, '\r', v->len) || memchr(v->str, '\n', v->len)) {
            putf(o, '$', (long long)v->len); /* cannot be a line: as a bulk string */
            put(o, v->str, v->len);
            put(o, "\r\n", 2);
            return;
        }
        put(o, &v->type, 1);
        put(o, v->str, v->len);
        put(o, "\r\n", 2);
        return;
    case ':': putf(o, ':', v->integer); return;
    case '#': put(o, v->integer ? "#t\r\n" : "#f\r\n", 4); return;
    case '_': put(o, "_\r\n", 3); return;
    case '$':
    case '=':
        putf(o, '$', (long long)v->len);
        put(o, v->str, v->len);
        put(o, "\r\n", 2);
        return;
    default:
        putf(o, v->type, (long long)(v->type == '%' ? v->n / 2 : v->n));
        for (size_t i = 0; i < v->n; i++) encode(o, &v->elems[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    struct respv v;
    size_t used;
    long whole = respv_complete(buf, size);
    int r = respv_parse(buf, size, &v, &used);
    /* the allocation-free check agrees with the parser */
    if ((r == 1) != (whole > 0) || (r == 0) != (whole == 0) || (r == 1 && (size_t)whole != used))
        abort();
    if (r != 1) return 0;
    if (used > size) abort();
    /* every shorter cut needs more bytes (at most 64 cuts, spread over the value) */
    size_t step = used / 64 + 1;
    for (size_t cut = 0; cut < used; cut += step) {
        struct respv w;
        size_t u2;
        if (respv_parse(buf, cut, &w, &u2) != 0) abort();
    }
    struct out a = {0}, b = {0};
    encode(&a, &v);
    struct respv w;
    size_t u2;
    if (respv_parse(a.p, a.len, &w, &u2) != 1 || u2 != a.len) abort();
    encode(&b, &w);
    if (a.len != b.len || memcmp(a.p, b.p, a.len)) abort();
    respv_free(&v);
    respv_free(&w);
    free(a.p);
    free(b.p);
    return 0;
}
