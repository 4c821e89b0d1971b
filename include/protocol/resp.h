/* resp.h - incremental RESP request parser (multibulk and inline) with Redis's limits.
 *
 * The parser keeps its state between calls, so a request split at any byte parses the same as
 * a whole one. Arguments are copied out of the caller's buffer into the parser's argv, so the
 * caller may discard consumed bytes at once. */
#ifndef OBK_RESP_H
#define OBK_RESP_H

#include <stddef.h>

/* Largest multibulk/bulk count line and inline request Redis accepts (PROTO_INLINE_MAX_SIZE). */
#define RESP_INLINE_MAX (64 * 1024)
/* Before authentication Redis accepts at most 10 arguments and 16 KiB bulks, so an
 * unauthenticated peer cannot make the server allocate much. */
#define RESP_UNAUTH_MAX_ARGS 10
#define RESP_UNAUTH_MAX_BULK 16384

enum resp_result {
    RESP_NEED_MORE = 0, /* everything usable was consumed; feed more bytes */
    RESP_COMMAND = 1,   /* a complete request is in argv/argc */
    RESP_ERROR = 2,     /* protocol error: reply with error_text (without "-ERR "), then close */
};

struct resp_parser {
    /* limits, set by the owner */
    long long max_bulk; /* proto-max-bulk-len */
    int authenticated;  /* 0 applies the unauthenticated limits */
    /* the parsed request */
    int argc;
    char **argv; /* each NUL-terminated for convenience; binary-safe through argvlen */
    size_t *argvlen;
    /* the error, when RESP_ERROR was returned */
    char error_text[96];
    /* internal state */
    int argcap;
    long long mbulk_left; /* arguments still expected; 0 = between requests */
    long long bulk_len;   /* -1 = waiting for the "$<len>" line */
    size_t bulk_have;     /* bytes of the current bulk already copied (CRLF included) */
    size_t bulk_cap;      /* allocated size of bulk */
    char *bulk;           /* the current bulk being filled */
};

void resp_parser_init(struct resp_parser *p, long long max_bulk);
/* Frees the current argv (after the command ran) so the next request can be parsed. */
void resp_parser_reset_argv(struct resp_parser *p);
void resp_parser_free(struct resp_parser *p);
/* Bytes held by the parser for a request not yet complete (counts toward the query buffer). */
size_t resp_parser_pending_bytes(const struct resp_parser *p);
/* Parses from buf[0..len). Sets *consumed to the bytes used (always, on every result). After
 * RESP_COMMAND the caller runs argv, calls resp_parser_reset_argv, and calls again with the
 * remaining bytes. An empty request (blank inline line, "*0") is skipped silently. */
enum resp_result resp_parse(struct resp_parser *p, const char *buf, size_t len, size_t *consumed);

#endif
