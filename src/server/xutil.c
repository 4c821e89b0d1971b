/* xutil.c - helpers shared by the stream commands (see xutil.h). Main thread. */
#include "server/xutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "base/codec.h"
#include "base/log.h"
#include "base/status.h"
#include "base/util.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/durable.h"
#include "server/errors.h"
#include "server/expire.h"
#include "server/stats.h"
#include "storage/cgroup.h"
#include "storage/store.h"

int xutil_parse_id(struct client *c, const char *s, size_t len, uint64_t missing_seq, int flags,
                   sid_t *out, int *exclusive, int *seq_auto) {
    if (sid_parse(s, len, missing_seq, flags, out, exclusive, seq_auto) != OBK_OK) {
        reply_error(&c->reply, ERR_INVALID_STREAM_ID);
        return -1;
    }
    return 0;
}

int xutil_parse_ll(struct client *c, const char *s, size_t len, long long *out) {
    if (!util_parse_ll(s, len, out)) {
        reply_error(&c->reply, ERR_NOT_INTEGER);
        return -1;
    }
    return 0;
}

int xutil_parse_timeout(struct client *c, const char *s, size_t len, long long *ms) {
    if (!util_parse_ll(s, len, ms)) {
        reply_error(&c->reply, ERR_TIMEOUT_NOT_INTEGER);
        return -1;
    }
    if (*ms < 0) {
        reply_error(&c->reply, ERR_TIMEOUT_NEGATIVE);
        return -1;
    }
    return 0;
}

struct topic *xutil_lookup(struct client *c, const char *key, size_t len) {
    return expire_lookup(c->db, key, len);
}

void xutil_reply_id(struct client *c, sid_t id) {
    char buf[SID_STRLEN];
    int n = sid_format(id, buf);
    reply_bulk(&c->reply, buf, (size_t)n);
}

void xutil_reply_entry(struct client *c, const struct obk_entry *e) {
    reply_array(&c->reply, 2);
    xutil_reply_id(c, e->id);
    reply_array(&c->reply, (long)e->nfields * 2);
    for (uint32_t i = 0; i < e->nfields * 2; i++) reply_bulk(&c->reply, e->fv[i], e->fvlen[i]);
}

int xutil_range_cb(void *ctx, const struct obk_entry *e) {
    struct xutil_range *r = ctx;
    if (r->budget && !xutil_budget_take(r->budget, e->id, e)) return 1;
    xutil_reply_entry(r->c, e);
    r->n++;
    return 0;
}

void xutil_reply_status(struct client *c, int status) {
    if (status == OBK_ERR_CORRUPT) { /* only reads find damage */
        xutil_reply_read_error(c, status);
        return;
    }
    if (status == OBK_ERR_STICKY && durable_error_text()[0]) {
        reply_error(&c->reply, durable_error_text());
        return;
    }
    if (status == OBK_ERR_AGAIN) {
        reply_error(&c->reply, ERR_CACHE_FULL);
        return;
    }
    if (status == OBK_ERR_NOFILES) { /* retryable: never an I/O error */
        reply_error(&c->reply, ERR_NOFILES);
        return;
    }
    reply_errorf(&c->reply, ERR_STORAGE_ERROR, obk_strerror(status));
}

/* Every failed stream read is counted (INFO obelisk stream_read_errors, metrics) and logged,
 * at most once a second (the storage layer logged where the damage is, once per segment). */
void xutil_reply_read_error(struct client *c, int status) {
    static long long last_ms, quiet;
    if (status == OBK_ERR_NOFILES) { /* no damage: the read can be retried */
        reply_error(&c->reply, ERR_NOFILES);
        return;
    }
    long long now = util_mstime();
    server_stats.read_errors++;
    if (now - last_ms >= 1000) {
        log_msg(LOG_WARNING, "%s: stream read failed: %s (%lld more since the last report)",
                c->last_cmd_name ? c->last_cmd_name : "read", obk_strerror(status), quiet);
        last_ms = now;
        quiet = 0;
    } else {
        quiet++;
    }
    reply_errorf(&c->reply, ERR_STREAM_READ_FAILED, obk_strerror(status));
}

int xutil_parse_read_opts(struct client *c, int argc, char **argv, size_t *argvlen, int xreadgroup,
                          struct xread_opts *o) {
    memset(o, 0, sizeof(*o));
    o->timeout = -1;
    o->claim = -1;
    int count_given = 0;
    for (int i = 1; i < argc; i++) {
        int more = argc - i - 1;
        if (util_eq_nocase(argv[i], argvlen[i], "BLOCK") && more) {
            i++;
            if (xutil_parse_timeout(c, argv[i], argvlen[i], &o->timeout) != 0) return -1;
        } else if (util_eq_nocase(argv[i], argvlen[i], "COUNT") && more) {
            i++;
            if (xutil_parse_ll(c, argv[i], argvlen[i], &o->count) != 0) return -1;
            if (o->count < 0) o->count = 0;
            count_given = 1;
        } else if ((util_eq_nocase(argv[i], argvlen[i], "MAXCOUNT") ||
                    util_eq_nocase(argv[i], argvlen[i], "MAXSIZE")) &&
                   more) {
            int is_count = util_eq_nocase(argv[i], argvlen[i], "MAXCOUNT");
            long long *v = is_count ? &o->maxcount : &o->maxsize;
            i++;
            if (!util_parse_ll(argv[i], argvlen[i], v) || *v < 1) {
                reply_error(&c->reply, is_count ? ERR_MAXCOUNT_POSITIVE : ERR_MAXSIZE_POSITIVE);
                return -1;
            }
        } else if (util_eq_nocase(argv[i], argvlen[i], "STREAMS") && more) {
            o->streams_arg = i + 1;
            o->nstreams = argc - o->streams_arg;
            if (o->nstreams % 2 != 0) { /* Redis 7.0 says XREAD for XREADGROUP too */
                reply_error(&c->reply, ERR_XREAD_UNBALANCED);
                return -1;
            }
            o->nstreams /= 2;
            break;
        } else if (xreadgroup && util_eq_nocase(argv[i], argvlen[i], "GROUP") && more >= 2) {
            o->group = argv[i + 1];
            o->grouplen = argvlen[i + 1];
            o->consumer = argv[i + 2];
            o->consumerlen = argvlen[i + 2];
            i += 2;
        } else if (xreadgroup && util_eq_nocase(argv[i], argvlen[i], "NOACK")) {
            o->noack = 1;
        } else if (xreadgroup && util_eq_nocase(argv[i], argvlen[i], "CLAIM") && more) {
            i++;
            if (!util_parse_ll(argv[i], argvlen[i], &o->claim)) {
                reply_error(&c->reply, ERR_CLAIM_NOT_INTEGER);
                return -1;
            }
            if (o->claim < 0) {
                reply_error(&c->reply, ERR_CLAIM_NEGATIVE);
                return -1;
            }
        } else if (!xreadgroup && (util_eq_nocase(argv[i], argvlen[i], "GROUP") ||
                                   util_eq_nocase(argv[i], argvlen[i], "NOACK") ||
                                   util_eq_nocase(argv[i], argvlen[i], "CLAIM"))) {
            /* CLAIM (Redis 8.4) is refused the same way, before its value is looked at */
            const char *opt = util_eq_nocase(argv[i], argvlen[i], "GROUP")   ? "GROUP"
                              : util_eq_nocase(argv[i], argvlen[i], "NOACK") ? "NOACK"
                                                                             : "CLAIM";
            reply_errorf(&c->reply, ERR_XREAD_GROUP_OPTION, opt);
            return -1;
        } else {
            reply_error(&c->reply, ERR_SYNTAX);
            return -1;
        }
    }
    if (o->streams_arg == 0) {
        reply_error(&c->reply, ERR_SYNTAX);
        return -1;
    }
    if (o->maxcount && count_given && o->count > o->maxcount) {
        reply_error(&c->reply, ERR_MAXCOUNT_BELOW_COUNT);
        return -1;
    }
    return 0;
}

static uint64_t rotl64(uint64_t v, int r) {
    return (v << r) | (v >> (64 - r));
}

void xutil_idmp_auto_iid(int n, char **fv, size_t *fvlen, uint8_t out[XUTIL_IDMP_AUTO_LEN]) {
    uint64_t sum_lo = 0, sum_hi = 0, xor_lo = 0, xor_hi = 0;
    XXH3_state_t st;
    for (int i = 0; i + 1 < n; i += 2) {
        long flen = (long)fvlen[i]; /* the field's length between the two, as Redis hashes */
        XXH3_128bits_reset(&st);
        XXH3_128bits_update(&st, fv[i], fvlen[i]);
        XXH3_128bits_update(&st, &flen, sizeof flen);
        XXH3_128bits_update(&st, fv[i + 1], fvlen[i + 1]);
        XXH128_hash_t h = XXH3_128bits_digest(&st);
        sum_lo += h.low64;
        sum_hi += h.high64;
        xor_lo ^= h.low64;
        xor_hi ^= h.high64;
    }
    uint64_t lo = sum_lo ^ rotl64(xor_hi, 1), hi = sum_hi ^ rotl64(xor_lo, 1);
    codec_put_u64(out, lo);
    codec_put_u64(out + 8, hi);
}

static long long digits(uint64_t v) {
    long long d = 1;
    while (v >= 10) v /= 10, d++;
    return d;
}

static long long bulk_bytes(size_t n) { /* $n\r\n...\r\n */
    return 1 + digits(n) + 2 + (long long)n + 2;
}

static long long array_bytes(uint64_t n) { /* *n\r\n */
    return 1 + digits(n) + 2;
}

int xutil_budget_take(struct xread_budget *b, sid_t id, const struct obk_entry *e) {
    if (xutil_budget_spent(b)) return 0;
    char buf[SID_STRLEN];
    long long size = array_bytes(2) + bulk_bytes((size_t)sid_format(id, buf));
    if (e) {
        size += array_bytes(2ull * e->nfields);
        for (uint32_t i = 0; i < e->nfields * 2; i++) size += bulk_bytes(e->fvlen[i]);
    } else {
        size += 5; /* *-1\r\n */
    }
    b->entries++;
    b->bytes += size;
    return 1;
}

int xutil_budget_spent(const struct xread_budget *b) {
    return (b->maxcount && b->entries >= b->maxcount) ||
           (b->maxsize && b->entries > 0 && b->bytes >= b->maxsize);
}

long long xutil_budget_count(const struct xread_budget *b, long long count) {
    if (!b->maxcount) return count;
    long long left = b->maxcount - b->entries;
    return count > 0 && count < left ? count : left;
}

void xutil_set_streams_len(struct client *c, int handle, long n) {
    if (c->proto == 2)
        reply_set_array_len(&c->reply, handle, n);
    else
        reply_set_map_len(&c->reply, handle, n);
}

int xutil_parse_refpolicy(const char *s, size_t len, enum xutil_refpolicy *p) {
    if (util_eq_nocase(s, len, "KEEPREF"))
        *p = XREF_KEEPREF;
    else if (util_eq_nocase(s, len, "DELREF"))
        *p = XREF_DELREF;
    else if (util_eq_nocase(s, len, "ACKED"))
        *p = XREF_ACKED;
    else
        return 0;
    return 1;
}

struct ref_ctx {
    struct topic *t;
    sid_t id;
    int found; /* referenced (xutil_entry_referenced) */
    int rc;    /* status of the first failed drop (xutil_drop_refs) */
};

static int referenced_cb(void *ctx, struct cg_group *g) {
    struct ref_ctx *x = ctx;
    x->found = sid_cmp(x->id, cg_group_last_id(g)) > 0 || cg_pending_get(g, x->id) != NULL;
    return x->found;
}

int xutil_entry_referenced(struct topic *t, sid_t id) {
    struct ref_ctx x = {t, id, 0, OBK_OK};
    if (topic_has_groups(t)) cg_group_foreach(t, referenced_cb, &x);
    return x.found;
}

static int drop_cb(void *ctx, struct cg_group *g) {
    struct ref_ctx *x = ctx;
    uint64_t acked;
    if (cg_pending_get(g, x->id)) x->rc = cg_ack(x->t, g, &x->id, 1, &acked);
    return x->rc != OBK_OK;
}

int xutil_drop_refs(struct topic *t, sid_t id) {
    struct ref_ctx x = {t, id, 0, OBK_OK};
    if (topic_has_groups(t)) cg_group_foreach(t, drop_cb, &x);
    return x.rc;
}

/* The pending IDs of one group within a range, collected before any is dropped. */
struct range_ctx {
    struct topic *t;
    sid_t lo, hi;
    sid_t *ids;
    size_t n, cap;
    int rc;
};

int xutil_ids_push(sid_t **ids, size_t *n, size_t *cap, sid_t id) {
    if (*n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        sid_t *nids = realloc(*ids, ncap * sizeof(*nids));
        if (!nids) return OBK_ERR_NOMEM;
        *ids = nids;
        *cap = ncap;
    }
    (*ids)[(*n)++] = id;
    return OBK_OK;
}

static int collect_pending_cb(void *ctx, const struct cg_pending *p) {
    struct range_ctx *x = ctx;
    x->rc = xutil_ids_push(&x->ids, &x->n, &x->cap, p->id);
    return x->rc != OBK_OK;
}

static int drop_range_cb(void *ctx, struct cg_group *g) {
    struct range_ctx *x = ctx;
    uint64_t acked;
    x->n = 0;
    cg_pending_range(g, NULL, x->lo, x->hi, collect_pending_cb, x);
    if (x->rc == OBK_OK && x->n) x->rc = cg_ack(x->t, g, x->ids, x->n, &acked);
    return x->rc != OBK_OK;
}

int xutil_drop_refs_range(struct topic *t, sid_t lo, sid_t hi) {
    struct range_ctx x = {t, lo, hi, NULL, 0, 0, OBK_OK};
    if (topic_has_groups(t)) cg_group_foreach(t, drop_range_cb, &x);
    free(x.ids);
    return x.rc;
}

static int min_last_cb(void *ctx, struct cg_group *g) {
    sid_t *min = ctx;
    if (sid_cmp(cg_group_last_id(g), *min) < 0) *min = cg_group_last_id(g);
    return 0;
}

sid_t xutil_min_group_last_id(struct topic *t) {
    sid_t min = SID_MAX;
    cg_group_foreach(t, min_last_cb, &min);
    return min;
}

static int ignore_entry(void *ctx, const struct obk_entry *e) {
    (void)ctx;
    (void)e;
    return 0;
}

int xutil_delete_with_policy(struct topic *t, sid_t id, enum xutil_refpolicy p, int *code) {
    *code = XDEL_NOT_FOUND;
    if (p == XREF_ACKED && xutil_entry_referenced(t, id)) {
        int rc = topic_get(t, id, ignore_entry, NULL);
        if (rc == OBK_OK) *code = XDEL_REFERENCED;
        return rc == OBK_ERR_NOTFOUND ? OBK_OK : rc;
    }
    uint64_t deleted = 0;
    int rc = topic_delete_ids(t, &id, 1, &deleted);
    if (rc != OBK_OK) return rc;
    if (deleted) *code = XDEL_DELETED;
    if (p == XREF_DELREF) rc = xutil_drop_refs(t, id); /* dangling references too */
    return rc;
}
