/* cmd_xread.c - XREAD [COUNT n] [BLOCK ms] STREAMS key ... id ..., with Redis 7.0's parsing,
 * replies (RESP2 array of [key, entries], RESP3 map) and blocking rules: "$" is the stream's
 * last ID when the command arrives (0-0 for a missing key), a stream is served when it has an
 * entry after the ID, BLOCK 0 waits forever, and inside MULTI a block is a timeout. "+" (Redis
 * 7.4) is the ID just below the stream's last ID, so the last entry itself is returned; when
 * that entry was deleted nothing is, and a BLOCK waits for the next one. MAXCOUNT and MAXSIZE
 * (Redis 8.10) bound the whole reply (xutil.h's budget): streams are filled in argument order
 * and those after the budget is spent are left out; a blocked read, answered from one stream,
 * takes MAXCOUNT as a cap on COUNT and keeps MAXSIZE in its request.
 * Main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/conn.h"
#include "server/errors.h"
#include "server/runtime.h"
#include "server/stats.h"
#include "server/xutil.h"
#include "storage/store.h"

#define R (&c->reply)

/* 1 when t's last live entry is above gt, 0 when not (or no stream), or the status of a failed
 * read (a stream whose last entry cannot be read is an error, never "nothing new"). */
static int last_entry_after(struct topic *t, sid_t gt, sid_t *last) {
    if (!t || topic_length(t) == 0) return 0;
    int rc = topic_last_entry_id(t, last);
    if (rc == OBK_ERR_NOTFOUND) return 0;
    if (rc != OBK_OK) return rc;
    return sid_cmp(*last, gt) > 0;
}

/* Replies [key, entries after gt] for one stream (RESP3: the key then the entries, as one map
 * pair). Returns 1 when the stream had something after gt, 0 (nothing written) otherwise, or a
 * negative status when the read failed (the caller discards the whole reply). */
static int reply_stream_after(struct client *c, const char *key, size_t keylen, struct topic *t,
                              sid_t gt, long long count, struct xread_budget *budget) {
    sid_t last, start = gt;
    int found = last_entry_after(t, gt, &last);
    if (found <= 0) return found;
    if (sid_incr(&start) != OBK_OK) return 0;
    if (c->proto == 2) reply_array(R, 2);
    reply_bulk(R, key, keylen);
    struct xutil_range r = {c, 0, budget};
    int h = reply_defer_len(R);
    int rc = topic_range(t, start, SID_MAX, count > 0 ? (uint64_t)count : 0, 0, xutil_range_cb, &r);
    reply_set_array_len(R, h, r.n);
    if (rc == OBK_OK) server_stats.entries_served += r.n; /* metrics and INFO obelisk */
    return rc == OBK_OK ? 1 : rc;
}

/* blocking.c calls this when keys[idx] of a blocked XREAD got new entries. */
static int xread_serve_blocked(struct client *c, int idx) {
    const struct blocking_request *req = blocking_request_of(c);
    struct topic *t = xutil_lookup(c, req->keys[idx], req->keylens[idx]);
    sid_t last;
    int found = last_entry_after(t, req->ids[idx], &last);
    if (found < 0) {
        xutil_reply_read_error(c, found);
        return 1;
    }
    if (!found) return 0;
    struct xread_budget budget = {0, 0, 0, 0}; /* MAXSIZE rides after the keys */
    util_parse_ll(req->keys[req->nkeys - 1], req->keylens[req->nkeys - 1], &budget.maxsize);
    int h = reply_defer_len(R);
    int rc = reply_stream_after(c, req->keys[idx], req->keylens[idx], t, req->ids[idx], req->count,
                                &budget);
    if (rc < 0) {
        reply_discard_deferred(R, h);
        xutil_reply_read_error(c, rc);
        return 1;
    }
    xutil_set_streams_len(c, h, 1);
    return 1;
}

/* Resolves the special IDs "$" and "+" for t (NULL: a missing key reads from 0-0). Returns 1
 * when a was one of them (*id set), 0 when it was not, -1 after replying an error. */
static int resolve_special_id(struct client *c, struct topic *t, const char *a, size_t al,
                              sid_t *id) {
    if (al != 1 || (a[0] != '$' && a[0] != '+')) return 0;
    *id = t ? topic_last_id(t) : SID_MIN;
    if (a[0] == '+' && t && sid_decr(id) != OBK_OK) { /* an empty stream that never had one */
        reply_error(R, ERR_XREAD_PLUS_ZERO);
        return -1;
    }
    return 1;
}

/* Blocks on the keys; MAXSIZE rides in one more slot after them (not registered as a key). */
static int block_xread(struct client *c, int nstreams, char **keys, size_t *keylens, sid_t *ids,
                       long long count, long long maxsize, long long timeout) {
    char size[24];
    char *extra[1] = {size};
    size_t extralen[1] = {(size_t)snprintf(size, sizeof size, "%lld", maxsize)};
    struct blocking_request req = {xread_serve_blocked};
    req.count = count;
    req.timeout_ms = timeout;
    return blocking_block_with(c, &req, nstreams, keys, keylens, ids, 1, extra, extralen);
}

void cmd_xread(CMD_ARGS) {
    struct xread_opts o;
    if (xutil_parse_read_opts(c, argc, argv, argvlen, 0, &o) != 0) return;
    long long timeout = o.timeout, count = o.count;
    int streams_arg = o.streams_arg, nstreams = o.nstreams;
    sid_t *ids = malloc((size_t)nstreams * sizeof(*ids));
    if (!ids) {
        reply_error(R, ERR_OUT_OF_MEMORY);
        return;
    }
    for (int i = 0; i < nstreams; i++) {
        const char *a = argv[streams_arg + nstreams + i];
        size_t al = argvlen[streams_arg + nstreams + i];
        struct topic *t = xutil_lookup(c, argv[streams_arg + i], argvlen[streams_arg + i]);
        int special = resolve_special_id(c, t, a, al, &ids[i]);
        if (special < 0) goto out;
        if (special) {
            continue;
        } else if (al == 1 && a[0] == '>') {
            reply_error(R, ERR_XREAD_GT_ID);
            goto out;
        } else if (xutil_parse_id(c, a, al, 0, SID_PARSE_STRICT, &ids[i], NULL, NULL) != 0) {
            goto out;
        }
    }
    int served = 0, h = -1;
    struct xread_budget budget = {o.maxcount, o.maxsize, 0, 0};
    for (int i = 0; i < nstreams && !xutil_budget_spent(&budget); i++) {
        const char *key = argv[streams_arg + i];
        size_t keylen = argvlen[streams_arg + i];
        struct topic *t = xutil_lookup(c, key, keylen);
        sid_t last;
        int found = last_entry_after(t, ids[i], &last);
        if (found < 0) {
            if (served) reply_discard_deferred(R, h);
            xutil_reply_read_error(c, found);
            goto out;
        }
        if (!found) continue;
        if (++served == 1) h = reply_defer_len(R);
        int rc = reply_stream_after(c, key, keylen, t, ids[i], xutil_budget_count(&budget, count),
                                    &budget);
        if (rc < 0) {
            reply_discard_deferred(R, h);
            xutil_reply_read_error(c, rc);
            goto out;
        }
    }
    if (served) {
        xutil_set_streams_len(c, h, served);
        goto out;
    }
    if (timeout != -1 && !(c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC))) {
        if (block_xread(c, nstreams, argv + streams_arg, argvlen + streams_arg, ids,
                        xutil_budget_count(&budget, count), o.maxsize, timeout) != 0)
            reply_error(R, ERR_OUT_OF_MEMORY);
        goto out;
    }
    reply_null_array(R);
out:
    free(ids);
}
