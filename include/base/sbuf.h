/* sbuf.h - a growable byte string for building texts (INFO, CLIENT LIST, logs). */
#ifndef OBK_SBUF_H
#define OBK_SBUF_H

#include <stddef.h>

struct sbuf {
    char *p; /* always NUL-terminated once anything was added */
    size_t len, cap;
    int failed; /* an allocation failed; later adds are ignored */
};

void sbuf_init(struct sbuf *b);
void sbuf_free(struct sbuf *b);
void sbuf_add(struct sbuf *b, const void *p, size_t n);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
