/* respv.h - RESP2/RESP3 reply values: parses what a Redis server (here: Obelisk itself) sends
 * back into a tree. The HTTP API runs commands through internal connections and reads their
 * replies with it; requests are parsed by resp.h, replies are written by reply.h. */
#ifndef OBK_RESPV_H
#define OBK_RESPV_H

#include <stddef.h>

/* Types are RESP's first byte: '+' simple string, '-' error, ':' integer, '$' bulk string,
 * '*' array, '%' map (2n elements: key, value ...), '~' set, '_' null, ',' double,
 * '#' boolean, '(' big number, '=' verbatim string, '>' push. A RESP2 null bulk or null array
 * is parsed as '_'. Attributes ('|') are read and dropped. */
struct respv {
    char type;
    long long integer; /* ':' and '#' (1/0) */
    char *str;         /* '+', '-', '$', ',', '(', '=' (NUL-terminated, may hold NULs) */
    size_t len;
    struct respv *elems; /* '*', '%', '~', '>' */
    size_t n;            /* number of elements (for a map: 2 x pairs) */
};

#define RESPV_MAX_DEPTH 32

/* Parses one complete value from buf[0..len). Returns 1 and sets *used (the bytes it took),
 * 0 when the value is not complete yet, -1 when the bytes are not RESP. */
int respv_parse(const char *buf, size_t len, struct respv *out, size_t *used);
/* Whether buf holds one complete value, without building it (no allocation): its length, 0
 * when more bytes are needed, -1 when the bytes are not RESP. A reader calls it as bytes
 * arrive and parses only once it is complete, so a large reply costs linear work. */
long respv_complete(const char *buf, size_t len);
/* Frees what a parsed value owns (not v itself). */
void respv_free(struct respv *v);
/* The value of a map (or flat key/value array) under a key, NULL when absent. */
const struct respv *respv_map_get(const struct respv *map, const char *key);
/* 1 for the string types ('+', '$', '=', ',', '('). */
int respv_is_string(const struct respv *v);

#endif
