/* xutil.h - helpers shared by the stream commands: ID parsing with Redis's error replies, entry
 * replies, topic lookup, and storage status to error text. */
#ifndef OBK_XUTIL_H
#define OBK_XUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "storage/entry.h"
#include "storage/sid.h"

struct client;
struct topic;

#define ERR_INVALID_STREAM_ID "ERR Invalid stream ID specified as stream command argument"

/* Parses an ID as sid_parse does; on failure replies ERR_INVALID_STREAM_ID and returns -1. */
int xutil_parse_id(struct client *c, const char *s, size_t len, uint64_t missing_seq, int flags,
                   sid_t *out, int *exclusive, int *seq_auto);
/* Parses a count-like integer (COUNT, MAXLEN ...); replies Redis's not-an-integer error. */
int xutil_parse_ll(struct client *c, const char *s, size_t len, long long *out);
/* BLOCK's timeout: milliseconds, not negative; replies Redis's errors. */
int xutil_parse_timeout(struct client *c, const char *s, size_t len, long long *ms);
/* The options of XREAD and XREADGROUP, parsed with Redis's rules and errors. */
struct xread_opts {
    long long timeout; /* -1 = no BLOCK */
    long long count;   /* 0 = no limit */
    int streams_arg;   /* argv index of the first key */
    int nstreams;
    const char *group, *consumer; /* XREADGROUP's GROUP option */
    size_t grouplen, consumerlen;
    int noack;
    long long claim;    /* XREADGROUP's CLAIM min-idle-time, -1 = none */
    long long maxcount; /* MAXCOUNT (Redis 8.10), 0 = none */
    long long maxsize;  /* MAXSIZE (Redis 8.10), 0 = none */
};

/* MAXCOUNT / MAXSIZE: one budget over every stream an XREAD or XREADGROUP serves. MAXCOUNT
 * caps the entries, MAXSIZE the bytes of the entries (counted as their RESP2 encoding), checked
 * before each entry but the first of the whole reply, so at least one entry always goes. */
struct xread_budget {
    long long maxcount, maxsize; /* 0 = none */
    long long entries, bytes;    /* replied so far */
};
/* 1 when entry e (NULL: a deleted pending entry, [id, nil]) may still be replied, counting
 * it; 0 when the budget is spent. */
int xutil_budget_take(struct xread_budget *b, sid_t id, const struct obk_entry *e);
/* 1 when no entry can be replied any more (later streams are left out). */
int xutil_budget_spent(const struct xread_budget *b);
/* COUNT for the next stream (0 = no limit), capped by what MAXCOUNT leaves. */
long long xutil_budget_count(const struct xread_budget *b, long long count);
/* Parses from argv[1] up to STREAMS. GROUP, NOACK and CLAIM are accepted only when xreadgroup
 * is set.
 * Returns 0, or -1 after replying the error. */
int xutil_parse_read_opts(struct client *c, int argc, char **argv, size_t *argvlen, int xreadgroup,
                          struct xread_opts *o);
/* IDMPAUTO's idempotent id: a 128-bit XXH3 hash of the field-value pairs that does not depend
 * on their order (Redis 8.6's construction), n arguments from fv. */
#define XUTIL_IDMP_AUTO_LEN 16
void xutil_idmp_auto_iid(int n, char **fv, size_t *fvlen, uint8_t out[XUTIL_IDMP_AUTO_LEN]);
/* Closes the deferred top of an XREAD/XREADGROUP reply holding n streams: an array of
 * [key, entries] pairs in RESP2, a map in RESP3 (as Redis). */
void xutil_set_streams_len(struct client *c, int handle, long n);
/* The topic of key in the client's database, or NULL (also while loading, and when the key has
 * expired: expire_lookup). */
struct topic *xutil_lookup(struct client *c, const char *key, size_t len);
/* Replies one entry as Redis does: [id, [f1, v1, ...]]. */
void xutil_reply_entry(struct client *c, const struct obk_entry *e);
void xutil_reply_id(struct client *c, sid_t id);
/* Replies the error for a storage status (sticky I/O error -> MISCONF, ...). */
void xutil_reply_status(struct client *c, int status);
/* Replies the error for a failed read (a batch that fails its checks is never handed out). */
void xutil_reply_read_error(struct client *c, int status);
/* What deleting an entry does to the consumer groups' references to it (Redis 8.2's
 * KEEPREF | DELREF | ACKED of XDELEX, XACKDEL, XADD and XTRIM). */
enum xutil_refpolicy { XREF_KEEPREF = 0, XREF_DELREF, XREF_ACKED };
/* Parses KEEPREF, DELREF or ACKED (any case): 1 and *p when s is one of them, else 0. */
int xutil_parse_refpolicy(const char *s, size_t len, enum xutil_refpolicy *p);
/* 1 when a consumer group still needs id: pending in a group's PEL, or not yet delivered to a
 * group (above its last delivered ID). 0 when the topic has no groups. */
int xutil_entry_referenced(struct topic *t, sid_t id);
/* Removes id from the PEL of every group (DELREF); call between cg_record_begin/end. Returns
 * the storage status. */
int xutil_drop_refs(struct topic *t, sid_t id);
/* Removes every pending ID within [lo, hi] from every group's PEL (DELREF after a trim); call
 * between cg_record_begin/end. Returns the storage status. */
int xutil_drop_refs_range(struct topic *t, sid_t lo, sid_t hi);
/* The smallest last delivered ID of the topic's groups (SID_MAX when it has none): every entry
 * above it is still to be delivered to some group. */
sid_t xutil_min_group_last_id(struct topic *t);
/* Result codes of XDELEX and XACKDEL per ID. */
#define XDEL_NOT_FOUND  (-1)
#define XDEL_DELETED    1
#define XDEL_REFERENCED 2
/* Deletes one entry under a policy; *code is XDEL_DELETED, XDEL_NOT_FOUND (no such live entry)
 * or XDEL_REFERENCED (ACKED, and a group still needs it: nothing changes). DELREF also drops
 * the ID from every group's PEL, even when the entry itself was already gone (dangling
 * references, as redis.io documents); call between cg_record_begin/end when the topic has
 * groups. Returns the storage status. */
int xutil_delete_with_policy(struct topic *t, sid_t id, enum xutil_refpolicy p, int *code);

/* Entries replied by topic_range into the client's reply (ctx = struct xutil_range); with a
 * budget, the range stops when it is spent. */
struct xutil_range {
    struct client *c;
    long n;
    struct xread_budget *budget; /* NULL: none */
};
int xutil_range_cb(void *ctx, const struct obk_entry *e);

/* Appends id to a growable array (doubling from 64). Returns OBK_OK or OBK_ERR_NOMEM. */
int xutil_ids_push(sid_t **ids, size_t *n, size_t *cap, sid_t id);

#endif
