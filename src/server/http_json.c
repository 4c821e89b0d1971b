/* http_json.c - JSON conversions of the HTTP API (see http_json.h).
 *
 * Design: jansson builds and parses every document (no hand-written JSON). Byte strings are
 * binary-safe: jansson refuses invalid UTF-8, and such bytes (or a NUL) are sent as
 * {"base64": "..."}, the same marker the API accepts on input. Base64 is libcrypto's
 * EVP_EncodeBlock/EVP_DecodeBlock (libcrypto is linked already). Main thread. */
#include "server/http_json.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

json_t *hj_bytes(const char *p, size_t len) {
    if (!memchr(p, '\0', len)) {
        json_t *s = json_stringn(p, len);
        if (s) return s;
    }
    size_t cap = 4 * ((len + 2) / 3) + 1;
    unsigned char *b = malloc(cap);
    if (!b) return NULL;
    int n = EVP_EncodeBlock(b, (const unsigned char *)p, (int)len);
    json_t *o = json_pack("{s:s%}", "base64", (const char *)b, (size_t)n);
    free(b);
    return o;
}

static int b64_decode(const char *s, size_t len, char **out, size_t *outlen) {
    if (len % 4) return -1;
    unsigned char *b = malloc(len / 4 * 3 + 1);
    if (!b) return -1;
    int n = len ? EVP_DecodeBlock(b, (const unsigned char *)s, (int)len) : 0;
    if (n < 0) {
        free(b);
        return -1;
    }
    if (len >= 1 && s[len - 1] == '=') n--;
    if (len >= 2 && s[len - 2] == '=') n--;
    b[n] = '\0';
    *out = (char *)b;
    *outlen = (size_t)n;
    return 0;
}

int hj_get_bytes(const json_t *v, char **out, size_t *len) {
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        char *p = malloc(n + 1);
        if (!p) return -1;
        memcpy(p, json_string_value(v), n);
        p[n] = '\0';
        *out = p;
        *len = n;
        return 0;
    }
    if (json_is_object(v) && json_object_size(v) == 1) {
        json_t *b = json_object_get(v, "base64");
        if (json_is_string(b))
            return b64_decode(json_string_value(b), json_string_length(b), out, len);
    }
    return -1;
}

json_t *hj_entry(const struct respv *e) {
    if (!e || e->type != '*' || e->n != 2 || !respv_is_string(&e->elems[0])) return json_null();
    const struct respv *fv = &e->elems[1];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_stringn(e->elems[0].str, e->elems[0].len));
    if (fv->type != '*' && fv->type != '%') {
        json_object_set_new(o, "fields", json_null());
        return o;
    }
    json_t *fields = json_object();
    int plain = 1;
    for (size_t i = 0; i + 1 < fv->n && plain; i += 2) {
        const struct respv *k = &fv->elems[i];
        if (!respv_is_string(k) || memchr(k->str, '\0', k->len)) {
            plain = 0;
            break;
        }
        json_t *kv = json_stringn(k->str, k->len); /* NULL: not UTF-8 */
        if (!kv || json_object_get(fields, k->str)) plain = 0;
        json_decref(kv);
        if (plain)
            json_object_set_new(fields, k->str,
                                hj_bytes(fv->elems[i + 1].str, fv->elems[i + 1].len));
    }
    if (plain) {
        json_object_set_new(o, "fields", fields);
        return o;
    }
    json_decref(fields);
    json_t *pairs = json_array();
    for (size_t i = 0; i + 1 < fv->n; i += 2)
        json_array_append_new(pairs,
                              json_pack("[oo]", hj_bytes(fv->elems[i].str, fv->elems[i].len),
                                        hj_bytes(fv->elems[i + 1].str, fv->elems[i + 1].len)));
    json_object_set_new(o, "pairs", pairs);
    return o;
}

json_t *hj_entries(const struct respv *a) {
    json_t *arr = json_array();
    if (a && (a->type == '*' || a->type == '~'))
        for (size_t i = 0; i < a->n; i++) json_array_append_new(arr, hj_entry(&a->elems[i]));
    return arr;
}

json_t *hj_value(const struct respv *v) {
    switch (v->type) {
    case ':': return json_integer(v->integer);
    case '#': return json_boolean(v->integer);
    case '_': return json_null();
    case ',': return json_real(strtod(v->str, NULL));
    case '-': return json_pack("{s:s%}", "error", v->str, v->len);
    case '+':
    case '$':
    case '=':
    case '(': return hj_bytes(v->str, v->len);
    case '%': {
        json_t *o = json_object();
        for (size_t i = 0; i + 1 < v->n; i += 2) {
            const struct respv *k = &v->elems[i], *val = &v->elems[i + 1];
            if (!respv_is_string(k)) continue;
            json_t *jv;
            if (!strcmp(k->str, "first-entry") || !strcmp(k->str, "last-entry"))
                jv = val->type == '_' ? json_null() : hj_entry(val);
            else if (!strcmp(k->str, "entries"))
                jv = hj_entries(val);
            else
                jv = hj_value(val);
            json_object_setn_new(o, k->str, k->len, jv);
        }
        return o;
    }
    default: {
        json_t *a = json_array();
        for (size_t i = 0; i < v->n; i++) json_array_append_new(a, hj_value(&v->elems[i]));
        return a;
    }
    }
}

json_t *hj_error(const char *code, const char *message) {
    return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
}
