/* cgstore.c - persistence of consumer groups (file layouts in cgstore.h, records in
 * cgroup_state.h): record replay, the snapshot codec, loading at open (with the clamp to the
 * recovered stream), appending records to groups.log in the topic's submission, and
 * compaction. It is handed the group state, the file state (struct cgstore_log), the topic
 * directory and the stream facts it needs; it knows no topic.
 *
 * Durability order of a compaction (one submission, after any records it covers):
 *   1. groups.snap.tmp written, fsync, renamed over groups.snap, directory fsync
 *      (generation G+1, the full state including every record queued before it);
 *   2. the old groups.log handle closed (its unsynced records are covered by step 1);
 *   3. groups.log.tmp (a bare header of generation G+1) written, fsync, renamed over
 *      groups.log, directory fsync;
 *   4. later records append to the new groups.log.
 * Crash before 1's rename: old snapshot (G) + old log (G) replay as before (the .tmp is removed
 * at open). Between 1 and 3: snapshot G+1 + log G: the log is stale (all of it is in the
 * snapshot) and is ignored, then replaced at open. After 3: snapshot G+1 + log G+1.
 *
 * Open: snapshot (refused when unreadable unless a repair drops the group state), then the
 * log's records in order while length, CRC and decoding hold; the first bad record ends the
 * log (a torn or garbage tail: cut and logged). Then the clamp: nothing may point past the
 * recovered stream (a crash can keep a group record whose stream data was lost). When
 * anything was cut, clamped or stale, a new snapshot and log are written before the server
 * starts, so the clamp is itself durable.
 *
 * Threads: cgstore_open (and the cgstore_load it calls) runs inside store_open, which the
 * server calls on its loader thread, before store_open starts the persist thread: it reads,
 * truncates, writes and fsyncs the files itself. obelisk-check calls cgstore_load, read-only,
 * on its only thread. cgstore_flush_into and
 * cgstore_compact_into run on the main thread once the store is open and only queue
 * operations in a submission; the persist thread then owns those bytes and the write handle's
 * descriptor. cgstore_load_at (the roll back after a sticky I/O error) reads on the main thread,
 * when nothing is written any more. */
#include "storage/cgstore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/log.h"
#include "base/status.h"
#include "storage/cgroup.h"
#include "storage/fsutil.h"
#include "storage/idmp.h"

/* ---- operations ---- */

struct rd {
    const uint8_t *p;
    size_t len, pos;
};

static int rd_uv(struct rd *r, uint64_t *v) {
    size_t n = codec_get_uvarint(r->p + r->pos, r->len - r->pos, v);
    r->pos += n;
    return n ? OBK_OK : OBK_ERR_CORRUPT;
}

static int rd_sv(struct rd *r, int64_t *v) {
    size_t n = codec_get_svarint(r->p + r->pos, r->len - r->pos, v);
    r->pos += n;
    return n ? OBK_OK : OBK_ERR_CORRUPT;
}

static int rd_str(struct rd *r, const uint8_t **s, size_t *n) {
    uint64_t l;
    if (rd_uv(r, &l) != OBK_OK || l > r->len - r->pos) return OBK_ERR_CORRUPT;
    *s = r->p + r->pos;
    *n = (size_t)l;
    r->pos += (size_t)l;
    return OBK_OK;
}

static int rd_id(struct rd *r, sid_t *id) {
    return rd_uv(r, &id->ms) == OBK_OK && rd_uv(r, &id->seq) == OBK_OK ? OBK_OK : OBK_ERR_CORRUPT;
}

int cgs_apply(struct cg_state *cg, const uint8_t *ops, size_t len, int check_only) {
    struct rd r = {ops, len, 0};
    struct cg_group *g = NULL;
    struct cg_consumer *c = NULL;
    int rc = OBK_OK;
    while (rc == OBK_OK && r.pos < r.len) {
        uint8_t type = r.p[r.pos++];
        const uint8_t *name = NULL;
        size_t nlen = 0;
        sid_t id;
        int64_t sv = 0;
        uint64_t uv = 0;
        switch (type) {
        case CG_OP_GROUP_SET:
            if ((rc = rd_str(&r, &name, &nlen)) || (rc = rd_id(&r, &id)) || (rc = rd_sv(&r, &sv)))
                break;
            if (check_only) break;
            g = cgs_group_find(cg, name, nlen);
            if (!g && (rc = cgs_group_add(cg, name, nlen, &g)) != OBK_OK) break;
            g->last_id = id;
            g->entries_read = sv;
            c = NULL;
            break;
        case CG_OP_GROUP_SELECT:
        case CG_OP_GROUP_DEL:
            if ((rc = rd_str(&r, &name, &nlen)) || check_only) break;
            g = cgs_group_find(cg, name, nlen);
            c = NULL;
            if (type == CG_OP_GROUP_SELECT && !g) rc = OBK_ERR_CORRUPT;
            if (type == CG_OP_GROUP_DEL && g) cgs_group_remove(cg, g), g = NULL;
            break;
        case CG_OP_CONSUMER_SET:
            if ((rc = rd_str(&r, &name, &nlen)) || (rc = rd_sv(&r, &sv)) || check_only) break;
            if (!g) {
                rc = OBK_ERR_CORRUPT;
                break;
            }
            c = cg_consumer_find(g, name, nlen);
            if (!c && (rc = cgs_consumer_add(g, name, nlen, &c)) != OBK_OK) break;
            c->seen_ms = sv;
            break;
        case CG_OP_CONSUMER_SELECT:
        case CG_OP_CONSUMER_DEL:
            if ((rc = rd_str(&r, &name, &nlen)) || check_only) break;
            if (!g) {
                rc = OBK_ERR_CORRUPT;
                break;
            }
            c = cg_consumer_find(g, name, nlen);
            if (type == CG_OP_CONSUMER_SELECT && !c) rc = OBK_ERR_CORRUPT;
            if (type == CG_OP_CONSUMER_DEL && c) cgs_consumer_remove(g, c), c = NULL;
            break;
        case CG_OP_PENDING_SET:
            if ((rc = rd_id(&r, &id)) || (rc = rd_sv(&r, &sv)) || (rc = rd_uv(&r, &uv)) ||
                check_only)
                break;
            rc = g && c ? cgs_pending_set(g, c, id, sv, uv) : OBK_ERR_CORRUPT;
            break;
        case CG_OP_PENDING_DEL:
        case CG_OP_COMMIT_SET:
            if ((rc = rd_id(&r, &id)) || check_only) break;
            if (!g) {
                rc = OBK_ERR_CORRUPT;
            } else if (type == CG_OP_PENDING_DEL) {
                cgs_pending_del(g, id);
            } else {
                g->has_commit = 1;
                g->committed = id;
            }
            break;
        case CG_OP_PENDING_NACK:
            if ((rc = rd_id(&r, &id)) || (rc = rd_sv(&r, &sv)) || (rc = rd_uv(&r, &uv)) ||
                check_only)
                break;
            rc = g && sv > 0 ? cgs_pending_set(g, NULL, id, sv, uv) : OBK_ERR_CORRUPT;
            break;
        case CG_OP_IDMP_CONFIG:
            if ((rc = rd_sv(&r, &sv)) || (rc = rd_uv(&r, &uv)) || check_only) break;
            /* XCFGSET's ranges: anything else is damage */
            if (sv < 1 || sv > IDMP_DURATION_MAX || uv < 1 || uv > IDMP_MAXSIZE_MAX) {
                rc = OBK_ERR_CORRUPT;
            } else if (!cg->idmp) {
                rc = idmp_new(sv, uv, &cg->idmp);
            } else {
                idmp_configure(cg->idmp, sv, uv);
            }
            break;
        case CG_OP_IDMP_ADD:
        case CG_OP_IDMP_KEEP: {
            const uint8_t *iid;
            size_t ilen;
            if ((rc = rd_str(&r, &name, &nlen)) || (rc = rd_str(&r, &iid, &ilen)) ||
                (rc = rd_id(&r, &id)) || check_only)
                break;
            if (!cg->idmp)
                rc = OBK_ERR_CORRUPT;
            else if (type == CG_OP_IDMP_ADD)
                rc = idmp_add(cg->idmp, name, nlen, iid, ilen, id);
            else
                rc = idmp_restore(cg->idmp, name, nlen, iid, ilen, id);
            break;
        }
        case CG_OP_IDMP_COUNTERS: {
            uint64_t dup;
            if ((rc = rd_uv(&r, &uv)) || (rc = rd_uv(&r, &dup)) || check_only) break;
            if (cg->idmp)
                idmp_set_counters(cg->idmp, uv, dup);
            else
                rc = OBK_ERR_CORRUPT;
            break;
        }
        case CG_OP_GROUP_DLQ:
            if ((rc = rd_uv(&r, &uv)) || (rc = rd_str(&r, &name, &nlen)) || check_only) break;
            rc = g ? cgs_group_set_dlq(g, uv, nlen ? name : NULL, nlen) : OBK_ERR_CORRUPT;
            break;
        default: rc = OBK_ERR_CORRUPT;
        }
    }
    return rc;
}

/* ---- snapshot codec ---- */

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int err;
};

static uint8_t *wb_room(struct wbuf *w, size_t n) {
    if (w->err) return NULL;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n) cap *= 2;
        uint8_t *np = realloc(w->p, cap);
        if (!np) {
            w->err = OBK_ERR_NOMEM;
            return NULL;
        }
        w->p = np;
        w->cap = cap;
    }
    return w->p + w->len;
}

static void wb_u8(struct wbuf *w, uint8_t v) {
    uint8_t *p = wb_room(w, 1);
    if (p) *p = v, w->len++;
}
static void wb_uv(struct wbuf *w, uint64_t v) {
    uint8_t *p = wb_room(w, CODEC_VARINT_MAX);
    if (p) w->len += codec_put_uvarint(p, v);
}
static void wb_sv(struct wbuf *w, int64_t v) {
    uint8_t *p = wb_room(w, CODEC_VARINT_MAX);
    if (p) w->len += codec_put_svarint(p, v);
}
static void wb_str(struct wbuf *w, const uint8_t *s, size_t n) {
    wb_uv(w, n);
    uint8_t *p = wb_room(w, n);
    if (p && n) memcpy(p, s, n);
    if (p) w->len += n;
}

static void snap_idmp_add(void *ctx, const uint8_t *pid, size_t plen, const uint8_t *iid,
                          size_t ilen, sid_t id) {
    struct wbuf *w = ctx;
    wb_u8(w, CG_OP_IDMP_KEEP);
    wb_str(w, pid, plen);
    wb_str(w, iid, ilen);
    wb_uv(w, id.ms);
    wb_uv(w, id.seq);
}

/* The idempotent-producer state: its bounds, its ids in add order, then the counters. */
static void snap_idmp(struct wbuf *w, const struct idmp *m) {
    struct idmp_stats st;
    wb_u8(w, CG_OP_IDMP_CONFIG);
    wb_sv(w, idmp_duration(m));
    wb_uv(w, idmp_maxsize(m));
    idmp_foreach(m, snap_idmp_add, w);
    idmp_get_stats(m, &st);
    wb_u8(w, CG_OP_IDMP_COUNTERS);
    wb_uv(w, st.added);
    wb_uv(w, st.duplicates);
}

int cgs_encode_snapshot(const struct cg_state *cg, uint64_t gen, uint8_t **out, size_t *len) {
    struct wbuf w = {0};
    uint8_t *h = wb_room(&w, CG_SNAP_FIXED);
    if (h) w.len = CG_SNAP_FIXED;
    for (size_t i = 0; cg && i < cg->ngroups; i++) {
        const struct cg_group *g = cg->groups[i];
        wb_u8(&w, CG_OP_GROUP_SET);
        wb_str(&w, g->name, g->len);
        wb_uv(&w, g->last_id.ms);
        wb_uv(&w, g->last_id.seq);
        wb_sv(&w, g->entries_read);
        if (g->has_commit) {
            wb_u8(&w, CG_OP_COMMIT_SET);
            wb_uv(&w, g->committed.ms);
            wb_uv(&w, g->committed.seq);
        }
        if (g->max_deliveries || g->dlq_key) {
            wb_u8(&w, CG_OP_GROUP_DLQ);
            wb_uv(&w, g->max_deliveries);
            wb_str(&w, g->dlq_key, g->dlq_len);
        }
        for (size_t j = 0; j < g->ncons; j++) {
            const struct cg_consumer *c = g->cons[j];
            wb_u8(&w, CG_OP_CONSUMER_SET);
            wb_str(&w, c->name, c->len);
            wb_sv(&w, c->seen_ms);
            for (struct idmap_node *x = idmap_first(&c->pel); x; x = idmap_next(x)) {
                const struct cg_pending *p = x->value;
                wb_u8(&w, CG_OP_PENDING_SET);
                wb_uv(&w, p->id.ms);
                wb_uv(&w, p->id.seq);
                wb_sv(&w, p->delivery_ms);
                wb_uv(&w, p->delivery_count);
            }
        }
        for (struct idmap_node *x = idmap_first(&g->pel); x; x = idmap_next(x)) {
            const struct cg_pending *p = x->value; /* entries with no owner (XNACK) */
            if (p->consumer) continue;
            wb_u8(&w, CG_OP_PENDING_NACK);
            wb_uv(&w, p->id.ms);
            wb_uv(&w, p->id.seq);
            wb_sv(&w, p->delivery_ms);
            wb_uv(&w, p->delivery_count);
        }
    }
    if (cg && cg->idmp) snap_idmp(&w, cg->idmp);
    wb_room(&w, 4);
    if (w.err) {
        free(w.p);
        return w.err;
    }
    /*   off size field
     *     0    4 magic      "OBKS"
     *     4    2 version    1
     *     6    2 reserved   0
     *     8    8 generation
     *    16    8 ops_len
     *    24    n ops
     *  24+n    4 crc        CRC-32C of bytes 0 .. 23+n */
    codec_put_u32(w.p, CG_SNAP_MAGIC);
    codec_put_u16(w.p + 4, CG_VERSION);
    codec_put_u16(w.p + 6, 0);
    codec_put_u64(w.p + 8, gen);
    codec_put_u64(w.p + 16, w.len - CG_SNAP_FIXED);
    codec_put_u32(w.p + w.len, crc32c(0, w.p, w.len));
    *out = w.p;
    *len = w.len + 4;
    return OBK_OK;
}

/*   off size field
 *     0    4 magic      "OBKG"
 *     4    2 version    1
 *     6    2 reserved   0
 *     8    8 generation
 *    16    4 crc        CRC-32C of bytes 0..15 */
void cgs_encode_log_header(uint8_t *p, uint64_t gen) {
    codec_put_u32(p, CG_LOG_MAGIC);
    codec_put_u16(p + 4, CG_VERSION);
    codec_put_u16(p + 6, 0);
    codec_put_u64(p + 8, gen);
    codec_put_u32(p + 16, crc32c(0, p, 16));
}

/* ---- loading ---- */

static int decode_snapshot(const uint8_t *b, size_t len, struct cg_state *cg, uint64_t *gen) {
    if (len < CG_SNAP_FIXED + 4 || codec_get_u32(b) != CG_SNAP_MAGIC) return OBK_ERR_CORRUPT;
    if (codec_get_u16(b + 4) != CG_VERSION) return OBK_ERR_VERSION;
    uint64_t n = codec_get_u64(b + 16);
    if (n != len - CG_SNAP_FIXED - 4) return OBK_ERR_CORRUPT;
    if (codec_get_u32(b + len - 4) != crc32c(0, b, len - 4)) return OBK_ERR_CORRUPT;
    *gen = codec_get_u64(b + 8);
    return cgs_apply(cg, b + CG_SNAP_FIXED, (size_t)n, 0);
}

/* Replays the records of a log body from CG_LOG_HEADER; returns the end of the last good one. */
static uint64_t replay_log(struct cg_state *cg, const uint8_t *b, size_t len, uint64_t *records,
                           int *semantic) {
    size_t pos = CG_LOG_HEADER;
    *semantic = 0;
    while (pos + CG_RECORD_HEADER <= len) {
        uint32_t rlen = codec_get_u32(b + pos);
        if (rlen < 4 || rlen > CG_RECORD_MAX || rlen > len - pos - 4) break;
        const uint8_t *ops = b + pos + CG_RECORD_HEADER;
        size_t olen = rlen - 4;
        if (codec_get_u32(b + pos + 4) != crc32c(0, ops, olen)) break;
        if (cgs_apply(cg, ops, olen, 1) != OBK_OK) break;
        if (cgs_apply(cg, ops, olen, 0) != OBK_OK) {
            *semantic = 1; /* applied part way: stop here, as for a bad tail */
            break;
        }
        (*records)++;
        pos += 4 + rlen;
    }
    return pos;
}

/* Applies groups.snap (b, len) to *cg; *gen is its generation. A damaged snapshot is refused
 * (OBK_ERR_DAMAGED) unless repair, which drops the group state: *cg becomes a new empty state,
 * *gen 0 and *kept 0, as if there were no snapshot. */
static int load_snapshot(const uint8_t *b, size_t len, int repair, struct cg_state **cg,
                         uint64_t *gen, int *kept, struct cgstore_report *rep) {
    *kept = 1;
    int rc = decode_snapshot(b, len, *cg, gen);
    if (rc == OBK_OK || rc == OBK_ERR_NOMEM) return rc;
    rep->snap_damaged = 1;
    snprintf(rep->damage, sizeof rep->damage, "%s: %s", CG_SNAP_NAME,
             rc == OBK_ERR_VERSION ? "unknown version" : "bad checksum or contents");
    if (!repair) return OBK_ERR_DAMAGED;
    log_msg(LOG_WARNING, "recovery: %s: consumer groups dropped by the repair", rep->damage);
    cgs_free(*cg);
    *cg = NULL;
    *kept = 0;
    *gen = 0;
    return cgs_new(cg);
}

/* 1 when b (len bytes) starts with a valid groups.log header; *gen is its generation. */
static int log_header_ok(const uint8_t *b, size_t len, uint64_t *gen) {
    if (len < CG_LOG_HEADER || codec_get_u32(b) != CG_LOG_MAGIC ||
        codec_get_u16(b + 4) != CG_VERSION || codec_get_u32(b + 16) != crc32c(0, b, 16))
        return 0;
    *gen = codec_get_u64(b + 8);
    return 1;
}

/* Judges groups.log (b, len; has_log 0 when there is none) against the snapshot's generation
 * and replays it onto cg when it follows that snapshot: up to its first bad record, whose
 * start is *good_log. A log without a valid header was cut short at its creation; an older
 * log is stale (all of it is in the snapshot); a newer one follows a missing snapshot
 * (refused unless repair, which ignores it). Sets log->gen. */
static int load_log(struct cg_state *cg, const uint8_t *b, size_t len, int has_log, int has_snap,
                    uint64_t snap_gen, int repair, struct cgstore_log *log, uint64_t *good_log,
                    struct cgstore_report *rep) {
    uint64_t log_gen = 0;
    int log_ok = has_log && log_header_ok(b, len, &log_gen);
    log->gen = (log_ok && log_gen > snap_gen ? log_gen : snap_gen);
    if (has_log && !log_ok) {
        /* only a log whose creation was cut short has no valid header: nothing in it was
         * acknowledged, as the header and the first record share one write and fsync */
        rep->truncated_bytes = len;
    } else if (log_ok && log_gen < snap_gen) {
        rep->log_stale = 1; /* a compaction stopped after its snapshot: all of it is there */
    } else if (log_ok && (log_gen > snap_gen || (!has_snap && log_gen > 0))) {
        rep->log_damaged = 1;
        snprintf(rep->damage, sizeof rep->damage,
                 "%s: generation %" PRIu64 " follows a missing snapshot (have %" PRIu64 ")",
                 CG_LOG_NAME, log_gen, snap_gen);
        if (!repair) return OBK_ERR_DAMAGED;
        log_msg(LOG_WARNING, "recovery: %s: log ignored by the repair", rep->damage);
        rep->truncated_bytes = len;
    } else if (log_ok) {
        int semantic;
        uint64_t good = replay_log(cg, b, len, &rep->records, &semantic);
        if (semantic)
            snprintf(rep->damage, sizeof rep->damage, "%s: inconsistent record at byte %" PRIu64,
                     CG_LOG_NAME, good);
        rep->truncated_bytes = len - good;
        *good_log = good;
    }
    return OBK_OK;
}

int cgstore_load(int dirfd, int readonly, int repair, struct cg_state **out,
                 struct cgstore_log *log, uint64_t *good_log, struct cgstore_report *rep) {
    uint8_t *sb = NULL, *lb = NULL;
    size_t slen = 0, llen = 0;
    struct cg_state *cg = NULL;
    uint64_t snap_gen = 0;
    int has_snap = 0, has_log = 0;
    (void)readonly;
    memset(rep, 0, sizeof *rep);
    memset(log, 0, sizeof *log);
    *out = NULL;
    *good_log = 0;
    int rc = fsutil_read_file(dirfd, CG_SNAP_NAME, SIZE_MAX, &sb, &slen);
    if (rc != OBK_OK && rc != OBK_ERR_NOTFOUND) goto done;
    has_snap = rc == OBK_OK;
    rc = fsutil_read_file(dirfd, CG_LOG_NAME, SIZE_MAX, &lb, &llen);
    if (rc != OBK_OK && rc != OBK_ERR_NOTFOUND) goto done;
    has_log = rc == OBK_OK;
    rc = OBK_OK;
    if (!has_snap && !has_log) goto done;
    rep->found = 1;
    if ((rc = cgs_new(&cg)) != OBK_OK) goto done;
    if (has_snap) {
        if ((rc = load_snapshot(sb, slen, repair, &cg, &snap_gen, &has_snap, rep)) != OBK_OK)
            goto done;
        log->snap_size = slen;
    }
    rc = load_log(cg, lb, llen, has_log, has_snap, snap_gen, repair, log, good_log, rep);
    if (rc != OBK_OK) goto done;
    *out = cg;
    cg = NULL;
done:
    cgs_free(cg);
    free(sb);
    free(lb);
    return rc;
}

int cgstore_load_at(int dirfd, uint64_t gen, uint64_t log_size, struct cg_state **out) {
    uint8_t *sb = NULL, *lb = NULL;
    size_t slen = 0, llen = 0;
    struct cg_state *cg = NULL;
    uint64_t snap_gen = 0, log_gen = 0, records = 0;
    int semantic = 0;
    *out = NULL;
    if (log_size == 0) return OBK_OK;
    int rc = cgs_new(&cg);
    if (rc != OBK_OK) return rc;
    if (gen > 0) {
        if ((rc = fsutil_read_file(dirfd, CG_SNAP_NAME, SIZE_MAX, &sb, &slen)) != OBK_OK ||
            (rc = decode_snapshot(sb, slen, cg, &snap_gen)) != OBK_OK)
            goto done;
    }
    if ((rc = fsutil_read_file(dirfd, CG_LOG_NAME, SIZE_MAX, &lb, &llen)) != OBK_OK) goto done;
    rc = OBK_ERR_CORRUPT;
    if (snap_gen != gen || llen < log_size || !log_header_ok(lb, llen, &log_gen) ||
        log_gen != gen || replay_log(cg, lb, (size_t)log_size, &records, &semantic) != log_size ||
        semantic)
        goto done;
    *out = cg;
    cg = NULL;
    rc = OBK_OK;
done:
    cgs_free(cg);
    free(sb);
    free(lb);
    return rc;
}

/* ---- open ---- */

int cgstore_open(int dirfd, sid_t last_id, uint64_t entries_added, int repair,
                 struct cg_state **out, struct cgstore_log *log, struct cgstore_report *rep) {
    struct cg_state *cg = NULL;
    struct cgstore_log lg = {0};
    uint64_t good = 0;
    uint8_t *snap = NULL;
    size_t slen;
    *out = NULL;
    int rc = cgstore_load(dirfd, 0, repair, &cg, &lg, &good, rep);
    if (rc != OBK_OK || !cg) goto done;
    if (rep->truncated_bytes)
        log_msg(LOG_WARNING, "recovery: %s: torn or bad tail, %" PRIu64 " bytes dropped%s%s",
                CG_LOG_NAME, rep->truncated_bytes, rep->damage[0] ? ": " : "", rep->damage);
    if (rep->log_stale)
        log_msg(LOG_NOTICE, "recovery: %s: older than %s (compaction cut short): replaced",
                CG_LOG_NAME, CG_SNAP_NAME);
    rep->clamped = cgs_clamp(cg, last_id, entries_added);
    if (rep->clamped)
        log_msg(LOG_WARNING,
                "recovery: consumer groups pointed past the recovered stream: %" PRIu64
                " changes (clamped)",
                rep->clamped);
    if (good && !rep->clamped) {
        if (rep->truncated_bytes) {
            int fd = openat(dirfd, CG_LOG_NAME, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
            int ok = fd >= 0 && ftruncate(fd, (off_t)good) == 0 && fdatasync(fd) == 0;
            if (fd >= 0) close(fd);
            if (!ok) {
                rc = OBK_ERR_IO;
                goto done;
            }
        }
        lg.size = good;
    } else {
        /* new generation: snapshot first, then an empty log (see the order above) */
        uint8_t hdr[CG_LOG_HEADER];
        if ((rc = cgs_encode_snapshot(cg, lg.gen + 1, &snap, &slen)) != OBK_OK) goto done;
        if ((rc = fsutil_write_file_sync(dirfd, CG_SNAP_NAME, snap, slen)) != OBK_OK) goto done;
        cgs_encode_log_header(hdr, lg.gen + 1);
        if ((rc = fsutil_write_file_sync(dirfd, CG_LOG_NAME, hdr, sizeof hdr)) != OBK_OK) goto done;
        lg.gen++;
        lg.snap_size = slen;
        lg.size = CG_LOG_HEADER;
    }
    lg.exists = 1;
    if (!(lg.pf = pfile_new(dirfd, CG_LOG_NAME))) {
        rc = OBK_ERR_NOMEM;
        goto done;
    }
    *out = cg;
    *log = lg;
    cg = NULL;
done:
    cgs_free(cg);
    free(snap);
    return rc;
}

/* ---- running ---- */

void cgstore_log_release(struct cgstore_log *log, struct psub *s) {
    if (log->pf && (!s || psub_free_file(s, log->pf, 0) != OBK_OK)) free(log->pf);
    log->pf = NULL;
}

int cgstore_compact_into(struct cg_state *cg, struct cgstore_log *log, int dirfd, struct psub *s) {
    uint8_t *snap = NULL, hdr[CG_LOG_HEADER];
    size_t slen = 0;
    if (!cg) return OBK_OK;
    int rc = cgs_encode_snapshot(cg, log->gen + 1, &snap, &slen);
    if (rc != OBK_OK) goto done;
    if ((rc = psub_replace(s, dirfd, CG_SNAP_NAME, snap, slen)) != OBK_OK) goto done;
    if (log->pf && (rc = psub_free_file(s, log->pf, 0)) != OBK_OK) goto done;
    log->pf = NULL;
    cgs_encode_log_header(hdr, log->gen + 1);
    if ((rc = psub_replace(s, dirfd, CG_LOG_NAME, hdr, sizeof hdr)) != OBK_OK) goto done;
    if (!(log->pf = pfile_new(dirfd, CG_LOG_NAME))) {
        rc = OBK_ERR_NOMEM;
        goto done;
    }
    log->gen++;
    log->snap_size = slen;
    log->size = CG_LOG_HEADER;
    log->exists = 1;
done:
    free(snap);
    return rc;
}

int cgstore_flush_into(struct cg_state *cg, struct cgstore_log *log, int dirfd, struct psub *s) {
    int rc = OBK_OK;
    if (!cg) return OBK_OK;
    size_t n = cg->rec_open ? cg->rec_start : cg->len;
    if (n == 0) return OBK_OK;
    if (!log->pf && !(log->pf = pfile_new(dirfd, CG_LOG_NAME))) return OBK_ERR_NOMEM;
    /* named by its generation: a replay never puts an older generation's records into a newer
     * groups.log (compaction replaces the file under the same name) */
    pfile_set_wal_tag(log->pf, log->wal_db, log->wal_topic,
                      TOPIC_FILE_ID(TOPIC_FILE_GROUPS_LOG, log->gen));
    if (!log->exists) {
        uint8_t hdr[CG_LOG_HEADER];
        cgs_encode_log_header(hdr, log->gen);
        if ((rc = psub_write(s, log->pf, 0, hdr, sizeof hdr)) != OBK_OK) return rc;
        log->exists = 1;
        log->size = CG_LOG_HEADER;
    }
    if (!cg->rec_open) {
        rc = psub_write_owned(s, log->pf, log->size, cg->buf, n);
        cg->buf = NULL;
        cg->len = cg->cap = 0;
    } else {
        rc = psub_write(s, log->pf, log->size, cg->buf, n);
        memmove(cg->buf, cg->buf + n, cg->len - n);
        cg->len -= n;
        cg->rec_start -= n;
    }
    if (rc != OBK_OK) return rc;
    log->size += n;
    uint64_t limit = CG_COMPACT_MIN_BYTES;
    if (2 * log->snap_size > limit) limit = 2 * log->snap_size;
    if (log->size >= limit && !cg->rec_open) rc = cgstore_compact_into(cg, log, dirfd, s);
    return rc;
}
