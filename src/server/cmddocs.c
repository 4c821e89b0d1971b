/* cmddocs.c - the argument trees of COMMAND DOCS, parsed from the compact syntax of cmddocs.h.
 *
 * A small recursive-descent parser walks the spec twice per aggregate: once to count the
 * arguments (RESP needs the length first), once to write them. Argument maps carry Redis's
 * fields in Redis's order: name, type, key_spec_index (keys), token, flags, arguments.
 * Stateless; main thread. */
#include "server/cmddocs.h"

#include <ctype.h>
#include <string.h>

#include "protocol/reply.h"

struct parser {
    const char *p;
    struct reply *r; /* NULL: count only */
    int keys;        /* key arguments seen so far (key_spec_index) */
    int error;
};

static void skip_spaces(struct parser *ps) {
    while (*ps->p == ' ') ps->p++;
}

/* Reads characters up to one of the stop characters; returns the length. */
static size_t read_word(struct parser *ps, const char *stops) {
    size_t n = 0;
    while (ps->p[n] && !strchr(stops, ps->p[n])) n++;
    return n;
}

static int parse_list(struct parser *ps, char end, int emit);

/* Writes name (lower-cased when it is a token) as a bulk string. */
static void reply_name(struct reply *r, const char *s, size_t n, int lower) {
    char buf[64];
    if (n >= sizeof(buf)) n = sizeof(buf) - 1;
    for (size_t i = 0; i < n; i++) buf[i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
    reply_bulk(r, buf, n);
}

/* Parses one argument; when emit is set, writes its map. */
static int parse_arg(struct parser *ps, int emit) {
    const char *token = NULL, *name = NULL, *type = NULL;
    size_t tlen = 0, nlen = 0, typelen = 0;
    char kind = 0; /* '[' block, '(' oneof, 0 simple */
    const char *inner = NULL;
    skip_spaces(ps);
    /* TOKEN! (a pure token, which may itself be "=") or TOKEN= prefix */
    size_t w = read_word(ps, " !:[(]|)?");
    if (w > 0 && ps->p[w] == '!') {
        token = ps->p;
        tlen = w;
        ps->p += w + 1;
        kind = 't';
    } else if ((w = read_word(ps, " =!:[(]|)?")) > 0 && ps->p[w] == '=') {
        token = ps->p;
        tlen = w;
        ps->p += w + 1;
    }
    if (kind != 't') {
        if (*ps->p == '[' || *ps->p == '(') {
            kind = *ps->p;
            ps->p++;
            nlen = read_word(ps, ":");
            name = ps->p;
            if (ps->p[nlen] != ':') return ps->error = -1;
            ps->p += nlen + 1;
            inner = ps->p;
            /* skip the nested list in counting mode to find its end */
            struct parser sub = {ps->p, NULL, ps->keys, 0};
            int n = parse_list(&sub, kind == '[' ? ']' : ')', 0);
            if (sub.error || n < 0) return ps->error = -1;
            ps->p = sub.p + 1; /* past the closing bracket */
        } else {
            nlen = read_word(ps, ":");
            name = ps->p;
            if (ps->p[nlen] != ':') return ps->error = -1;
            ps->p += nlen + 1;
            typelen = read_word(ps, " ?.|)]");
            type = ps->p;
            ps->p += typelen;
        }
    }
    int optional = 0, multiple = 0;
    if (*ps->p == '?') optional = 1, ps->p++;
    if (!strncmp(ps->p, "...", 3)) multiple = 1, ps->p += 3;
    if (!emit) return 0;
    struct reply *r = ps->r;
    int is_key = type && typelen == 3 && !memcmp(type, "key", 3);
    int fields = 2 + (is_key ? 1 : 0) + (token ? 1 : 0) + ((optional || multiple) ? 1 : 0) +
                 (kind == '[' || kind == '(' ? 1 : 0);
    reply_map(r, fields);
    reply_bulk_cstr(r, "name");
    if (kind == 't')
        reply_name(r, token, tlen, 1);
    else
        reply_name(r, name, nlen, 0);
    reply_bulk_cstr(r, "type");
    if (kind == 't')
        reply_bulk_cstr(r, "pure-token");
    else if (kind == '[')
        reply_bulk_cstr(r, "block");
    else if (kind == '(')
        reply_bulk_cstr(r, "oneof");
    else
        reply_bulk(r, type, typelen);
    if (is_key) {
        reply_bulk_cstr(r, "key_spec_index");
        reply_int(r, ps->keys++);
    }
    if (token) {
        reply_bulk_cstr(r, "token");
        reply_bulk(r, token, tlen);
    }
    if (optional || multiple) {
        reply_bulk_cstr(r, "flags");
        reply_set(r, optional + multiple);
        if (optional) reply_simple(r, "optional");
        if (multiple) reply_simple(r, "multiple");
    }
    if (kind == '[' || kind == '(') {
        struct parser cnt = {inner, NULL, ps->keys, 0};
        int n = parse_list(&cnt, kind == '[' ? ']' : ')', 0);
        reply_bulk_cstr(r, "arguments");
        reply_array(r, n);
        struct parser out = {inner, r, ps->keys, 0};
        parse_list(&out, kind == '[' ? ']' : ')', 1);
        ps->keys = out.keys;
    }
    return 0;
}

/* Parses arguments until end (or the string's end when end is 0); "|" separates alternatives
 * like spaces do. Leaves ps->p on the end character. Returns the count. */
static int parse_list(struct parser *ps, char end, int emit) {
    int n = 0;
    for (;;) {
        while (*ps->p == ' ' || *ps->p == '|') ps->p++;
        if (*ps->p == end) break;
        if (!*ps->p) {
            if (end) ps->error = -1;
            break;
        }
        if (parse_arg(ps, emit) != 0 || ps->error) return -1;
        n++;
    }
    return ps->error ? -1 : n;
}

int cmddocs_count(const char *spec) {
    if (!spec) return 0;
    struct parser ps = {spec, NULL, 0, 0};
    int n = parse_list(&ps, 0, 0);
    return n < 0 ? 0 : n;
}

int cmddocs_reply_args(struct reply *r, const char *spec) {
    struct parser cnt = {spec ? spec : "", NULL, 0, 0};
    int n = parse_list(&cnt, 0, 0);
    if (n < 0) return -1;
    reply_array(r, n);
    struct parser out = {spec ? spec : "", r, 0, 0};
    parse_list(&out, 0, 1);
    return out.error ? -1 : 0;
}
