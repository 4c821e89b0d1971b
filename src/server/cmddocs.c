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

/* One argument of the syntax, as read. */
struct doc_arg {
    const char *token, *name, *type, *inner;
    size_t tlen, nlen, typelen;
    char kind; /* 't' pure token, '[' block, '(' oneof, 0 simple */
    int optional, multiple;
};

/* Reads one argument into a. Returns 0, or -1 (and ps->error) on a syntax error. */
static int read_arg(struct parser *ps, struct doc_arg *a) {
    memset(a, 0, sizeof(*a));
    skip_spaces(ps);
    /* TOKEN! (a pure token, which may itself be "=") or TOKEN= prefix */
    size_t w = read_word(ps, " !:[(]|)?");
    if (w > 0 && ps->p[w] == '!') {
        a->token = ps->p;
        a->tlen = w;
        ps->p += w + 1;
        a->kind = 't';
    } else if ((w = read_word(ps, " =!:[(]|)?")) > 0 && ps->p[w] == '=') {
        a->token = ps->p;
        a->tlen = w;
        ps->p += w + 1;
    }
    if (a->kind != 't') {
        int nested = *ps->p == '[' || *ps->p == '(';
        if (nested) a->kind = *ps->p++;
        a->nlen = read_word(ps, ":");
        a->name = ps->p;
        if (ps->p[a->nlen] != ':') return ps->error = -1;
        ps->p += a->nlen + 1;
        if (nested) {
            a->inner = ps->p;
            /* skip the nested list in counting mode to find its end */
            struct parser sub = {ps->p, NULL, ps->keys, 0};
            int n = parse_list(&sub, a->kind == '[' ? ']' : ')', 0);
            if (sub.error || n < 0) return ps->error = -1;
            ps->p = sub.p + 1; /* past the closing bracket */
        } else {
            a->typelen = read_word(ps, " ?.|)]");
            a->type = ps->p;
            ps->p += a->typelen;
        }
    }
    if (*ps->p == '?') a->optional = 1, ps->p++;
    if (!strncmp(ps->p, "...", 3)) a->multiple = 1, ps->p += 3;
    return 0;
}

/* Writes the map COMMAND DOCS shows for one argument. */
static void emit_arg(struct parser *ps, const struct doc_arg *a) {
    struct reply *r = ps->r;
    int nested = a->kind == '[' || a->kind == '(';
    int is_key = a->type && a->typelen == 3 && !memcmp(a->type, "key", 3);
    int fields = 2 + (is_key ? 1 : 0) + (a->token ? 1 : 0) +
                 ((a->optional || a->multiple) ? 1 : 0) + (nested ? 1 : 0);
    reply_map(r, fields);
    reply_bulk_cstr(r, "name");
    if (a->kind == 't')
        reply_name(r, a->token, a->tlen, 1);
    else
        reply_name(r, a->name, a->nlen, 0);
    reply_bulk_cstr(r, "type");
    if (a->kind == 't')
        reply_bulk_cstr(r, "pure-token");
    else if (a->kind == '[')
        reply_bulk_cstr(r, "block");
    else if (a->kind == '(')
        reply_bulk_cstr(r, "oneof");
    else
        reply_bulk(r, a->type, a->typelen);
    if (is_key) {
        reply_bulk_cstr(r, "key_spec_index");
        reply_int(r, ps->keys++);
    }
    if (a->token) {
        reply_bulk_cstr(r, "token");
        reply_bulk(r, a->token, a->tlen);
    }
    if (a->optional || a->multiple) {
        reply_bulk_cstr(r, "flags");
        reply_set(r, a->optional + a->multiple);
        if (a->optional) reply_simple(r, "optional");
        if (a->multiple) reply_simple(r, "multiple");
    }
    if (nested) {
        struct parser cnt = {a->inner, NULL, ps->keys, 0};
        int n = parse_list(&cnt, a->kind == '[' ? ']' : ')', 0);
        reply_bulk_cstr(r, "arguments");
        reply_array(r, n);
        struct parser out = {a->inner, r, ps->keys, 0};
        parse_list(&out, a->kind == '[' ? ']' : ')', 1);
        ps->keys = out.keys;
    }
}

/* Parses one argument; when emit is set, writes its map. */
static int parse_arg(struct parser *ps, int emit) {
    struct doc_arg a;
    if (read_arg(ps, &a) != 0) return -1;
    if (emit) emit_arg(ps, &a);
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
