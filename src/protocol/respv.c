/* respv.c - parses RESP2/RESP3 replies into a tree (see respv.h).
 *
 * Design: a recursive descent over one contiguous buffer. It is restartable in the simplest
 * way: an incomplete value is dropped and parsed again from its first byte when more bytes
 * have arrived (replies are small next to the work that produced them). Depth and element
 * counts are bounded so a broken peer cannot make it recurse or allocate without limit; the
 * only peer is the server itself. Any thread (no state). */
#include "protocol/respv.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define RESPV_MAX_ELEMS (1 << 24)

/* The line at p (without CRLF): returns its length and sets *next, -1 when not complete. */
static long line_len(const char *p, const char *end, const char **next) {
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    if (!cr || cr + 1 >= end) return -1;
    *next = cr + 2;
    return cr - p;
}

static int parse_ll(const char *p, long n, long long *v) {
    return util_parse_ll(p, (size_t)n, v) ? 0 : -1;
}

static int parse_at(const char *p, const char *end, struct respv *v, const char **next, int depth) {
    memset(v, 0, sizeof(*v));
    if (p >= end) return 0;
    if (depth > RESPV_MAX_DEPTH) return -1;
    char t = *p;
    const char *body;
    long n = line_len(p + 1, end, &body);
    if (n < 0) return 0;
    const char *line = p + 1;
    long long num;
    switch (t) {
    case '+':
    case '-':
    case ',':
    case '(':
        v->type = t;
        if (!(v->str = malloc((size_t)n + 1))) return -1;
        memcpy(v->str, line, (size_t)n);
        v->str[n] = '\0';
        v->len = (size_t)n;
        *next = body;
        return 1;
    case ':':
        if (parse_ll(line, n, &num) != 0) return -1;
        v->type = ':';
        v->integer = num;
        *next = body;
        return 1;
    case '#':
        if (n != 1 || (line[0] != 't' && line[0] != 'f')) return -1;
        v->type = '#';
        v->integer = line[0] == 't';
        *next = body;
        return 1;
    case '_':
        v->type = '_';
        *next = body;
        return 1;
    case '$':
    case '=':
    case '!':
        if (parse_ll(line, n, &num) != 0 || num < -1) return -1;
        if (num == -1) {
            v->type = '_';
            *next = body;
            return 1;
        }
        if ((long long)(end - body) < num + 2) return 0;
        v->type = t == '!' ? '-' : t;
        if (!(v->str = malloc((size_t)num + 1))) return -1;
        memcpy(v->str, body, (size_t)num);
        v->str[num] = '\0';
        v->len = (size_t)num;
        if (t == '=' && v->len >= 4) { /* "txt:" prefix of a verbatim string */
            memmove(v->str, v->str + 4, v->len - 4 + 1);
            v->len -= 4;
        }
        *next = body + num + 2;
        return 1;
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
        if (parse_ll(line, n, &num) != 0 || num < -1 || num > RESPV_MAX_ELEMS) return -1;
        if (num == -1 && t == '|') return -1; /* an attribute has no null form */
        if (num == -1) {
            v->type = '_';
            *next = body;
            return 1;
        }
        size_t count = (size_t)num * ((t == '%' || t == '|') ? 2 : 1);
        struct respv *el = count ? calloc(count, sizeof(*el)) : NULL;
        if (count && !el) return -1;
        const char *q = body;
        for (size_t i = 0; i < count; i++) {
            int r = parse_at(q, end, &el[i], &q, depth + 1);
            if (r != 1) {
                for (size_t j = 0; j < i; j++) respv_free(&el[j]);
                free(el);
                return r;
            }
        }
        if (t == '|') { /* an attribute: dropped, the value follows */
            for (size_t j = 0; j < count; j++) respv_free(&el[j]);
            free(el);
            return parse_at(q, end, v, next, depth + 1);
        }
        v->type = t;
        v->elems = el;
        v->n = count;
        *next = q;
        return 1;
    }
    default: return -1;
    }
}

/* The end of the value at p without building it: 1 (and *next), 0 incomplete, -1 not RESP. */
static int skip_at(const char *p, const char *end, const char **next, int depth) {
    if (p >= end) return 0;
    if (depth > RESPV_MAX_DEPTH) return -1;
    char t = *p;
    const char *body;
    long n = line_len(p + 1, end, &body);
    if (n < 0) return 0;
    long long num;
    switch (t) {
    case ':':
        if (parse_ll(p + 1, n, &num) != 0) return -1;
        *next = body;
        return 1;
    case '#':
        if (n != 1 || (p[1] != 't' && p[1] != 'f')) return -1;
        *next = body;
        return 1;
    case '+':
    case '-':
    case ',':
    case '(':
    case '_': *next = body; return 1;
    case '$':
    case '=':
    case '!':
        if (parse_ll(p + 1, n, &num) != 0 || num < -1) return -1;
        if (num == -1) {
            *next = body;
            return 1;
        }
        if ((long long)(end - body) < num + 2) return 0;
        *next = body + num + 2;
        return 1;
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
        if (parse_ll(p + 1, n, &num) != 0 || num < -1 || num > RESPV_MAX_ELEMS) return -1;
        if (num == -1 && t == '|') return -1;
        long long count = num < 0 ? 0 : num * ((t == '%' || t == '|') ? 2 : 1);
        const char *q = body;
        for (long long i = 0; i < count; i++) {
            int r = skip_at(q, end, &q, depth + 1);
            if (r != 1) return r;
        }
        if (t == '|') return skip_at(q, end, next, depth + 1);
        *next = q;
        return 1;
    }
    default: return -1;
    }
}

long respv_complete(const char *buf, size_t len) {
    const char *next = buf;
    int r = skip_at(buf, buf + len, &next, 0);
    return r == 1 ? (long)(next - buf) : r;
}

int respv_parse(const char *buf, size_t len, struct respv *out, size_t *used) {
    const char *next = buf;
    int r = parse_at(buf, buf + len, out, &next, 0);
    if (r == 1)
        *used = (size_t)(next - buf);
    else
        respv_free(out);
    return r;
}

void respv_free(struct respv *v) {
    if (!v) return;
    free(v->str);
    for (size_t i = 0; i < v->n; i++) respv_free(&v->elems[i]);
    free(v->elems);
    memset(v, 0, sizeof(*v));
}

int respv_is_string(const struct respv *v) {
    return v &&
           (v->type == '+' || v->type == '$' || v->type == '=' || v->type == ',' || v->type == '(');
}

const struct respv *respv_map_get(const struct respv *map, const char *key) {
    if (!map || (map->type != '%' && map->type != '*')) return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct respv *k = &map->elems[i];
        if (respv_is_string(k) && k->len == klen && !memcmp(k->str, key, klen))
            return &map->elems[i + 1];
    }
    return NULL;
}
