/* reply.h - RESP2/RESP3 reply writer over a libevent evbuffer.
 *
 * Commands describe their reply once (map, set, null, double, verbatim, push); the writer emits
 * the RESP3 type or its RESP2 equivalent depending on the connection's protocol, so one code
 * path serves both. Aggregates whose length is known only at the end are written with
 * reply_defer_len() and closed with reply_set_*_len(). */
#ifndef OBK_REPLY_H
#define OBK_REPLY_H

#include <stddef.h>

struct evbuffer;

/* Deepest nesting of deferred aggregates open at once. */
#define REPLY_MAX_DEFER 8

struct reply {
    struct evbuffer *out; /* where finished bytes go */
    int proto;            /* 2 or 3 */
    int depth;            /* open deferred aggregates */
    struct evbuffer *stack[REPLY_MAX_DEFER];
    /* Called for every error reply (for INFO errorstats); may be NULL. */
    void (*on_error)(void *ctx, const char *msg, size_t len);
    void *ctx;
};

void reply_init(struct reply *r, struct evbuffer *out, int proto);
/* Closes any deferred aggregate left open (a bug in a command) by discarding it. */
void reply_finish(struct reply *r);

void reply_simple(struct reply *r, const char *s);  /* +s */
void reply_error(struct reply *r, const char *msg); /* -msg ("ERR ..." etc.) */
void reply_errorf(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(struct reply *r, long long v);                /* :v */
void reply_bulk(struct reply *r, const void *p, size_t len); /* $len bytes */
void reply_bulk_cstr(struct reply *r, const char *s);
void reply_bulk_ll(struct reply *r, long long v);
void reply_null(struct reply *r);       /* RESP2 $-1, RESP3 _ */
void reply_null_array(struct reply *r); /* RESP2 *-1, RESP3 _ */
void reply_array(struct reply *r, long n);
void reply_map(struct reply *r, long pairs);  /* RESP2: flat array of 2*pairs */
void reply_set(struct reply *r, long n);      /* RESP2: array */
void reply_push(struct reply *r, long n);     /* RESP2: array */
void reply_double(struct reply *r, double d); /* RESP2: bulk string */
void reply_bool(struct reply *r, int b);      /* RESP2: :1 / :0 */
void reply_verbatim(struct reply *r, const char *p, size_t len, const char *ext); /* RESP2 bulk */
void reply_raw(struct reply *r, const void *p, size_t len);

/* Deferred aggregates: returns a handle, or -1 past REPLY_MAX_DEFER levels (a bug in the
 * command; the matching set call is then ignored). Close in reverse order of opening. */
int reply_defer_len(struct reply *r);
void reply_set_array_len(struct reply *r, int handle, long n);
void reply_set_map_len(struct reply *r, int handle, long pairs);
void reply_set_set_len(struct reply *r, int handle, long n);
/* Throws away a deferred aggregate and everything written into it since reply_defer_len()
 * (for a command that fails half way through building its reply). */
void reply_discard_deferred(struct reply *r, int handle);

#endif
