/* http_json.h - JSON for the HTTP API, over jansson: command replies (respv) to JSON values,
 * byte strings in and out (UTF-8 as JSON strings, anything else as {"base64": "..."}),
 * stream entries, and the error body {"error": {"code": ..., "message": ...}}. Main thread. */
#ifndef OBK_HTTP_JSON_H
#define OBK_HTTP_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "protocol/respv.h"

/* A byte string: a JSON string when it is valid UTF-8 without NUL, else {"base64": "..."}. */
json_t *hj_bytes(const char *p, size_t len);
/* The bytes of a JSON string or of {"base64": "..."} (malloc'ed, NUL-terminated). Returns 0,
 * or -1 when v is neither (or its base64 is invalid). */
int hj_get_bytes(const json_t *v, char **out, size_t *len);
/* A stream entry [id, [field, value, ...]] as {"id": ..., "fields": {...}}; when a field name
 * repeats or is not valid UTF-8 the entry carries "pairs": [[name, value], ...] instead. */
json_t *hj_entry(const struct respv *e);
/* An array of entries, as hj_entry. */
json_t *hj_entries(const struct respv *a);
/* Any reply: maps to objects (string keys), arrays and sets to arrays, integers, doubles,
 * booleans, null; strings through hj_bytes; an error to {"error": text}. Under the keys
 * "first-entry", "last-entry" and "entries" values are converted as entries. */
json_t *hj_value(const struct respv *v);
/* {"error": {"code": code, "message": message}} */
json_t *hj_error(const char *code, const char *message);

#endif
