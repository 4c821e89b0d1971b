/* tlog.c - a topic's segments: placement of batches (roll), index upkeep, reads, retention.
 *
 * Threads: recovery fills a tlog inside store_open (the server's loader thread); appends, reads,
 * index loads and retention run on the main thread; the persist thread only receives the
 * operations tlog_append_batch emits.
 *
 * Invariants:
 * - segs[] ascend by base offset; only the last one (active) receives batches.
 * - Every batch placed continues the dense offsets: its base offset is the log's end offset
 *   (a DATA batch's first entry is the next offset; other batches carry the end they follow).
 * - A DATA batch is indexed when it is the first DATA batch of its segment or starts at least
 *   index_interval bytes after the last indexed batch.
 * - Readers are given a limit offset: every DATA entry below it is written (the ring cache keeps
 *   every unwritten entry). A reader stops right after the batch that reaches the limit and so
 *   never parses bytes the persist thread may still be writing.
 * - A batch whose CRC fails during a read is an error (OBK_ERR_CORRUPT), never data.
 * - A read never ends early without an error: below the limit every batch is whole on disk,
 *   so a batch that runs past the end of its segment (or, backward, past the next index
 *   entry), DATA offsets that do not follow each other, a segment whose DATA ends before its
 *   end offset, and an index entry that points at another batch are all damage
 *   (OBK_ERR_CORRUPT, logged once per segment), for sealed segments as for the active one.
 *
 * Read descriptors: a segment's is opened on demand and kept in the store's read LRU (rfds,
 * docs/storage.md "Descriptor budget"); the least recently used one of any topic is closed
 * when the cap is reached, and every idle one when the process runs out (EMFILE, ENFILE). A
 * read opens one segment's descriptor at a time; tlog_read_forward pins it while it calls back
 * per entry, so nothing a callback opens can close it. Recovery reads through the same calls,
 * so a topic with thousands of segments opens them one at a time. */
#include "storage/tlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/obk_assert.h"
#include "base/status.h"
#include "storage/keydir.h"

void tlog_init(struct tlog *t, int dirfd, const struct tlog_config *cfg, uint64_t end_offset) {
    /* st: set by the owner when the stream's state lives beside the log (topic_new) */
    memset(t, 0, sizeof *t);
    t->dirfd = dirfd;
    t->cfg = cfg;
    t->end_offset = end_offset;
}

/* fdlru_shrink's close function: the segment holding node x closes its read descriptor. */
static void close_read_fd(struct fdlru_node *x, void *ctx) {
    (void)ctx;
    struct segment *seg = (struct segment *)(void *)((char *)x - offsetof(struct segment, rnode));
    close(seg->rfd);
    seg->rfd = -1;
}

void tlog_segment_fd_close(struct tlog *t, struct segment *seg) {
    if (seg->rfd < 0) return;
    if (t->rfds) fdlru_remove(t->rfds, &seg->rnode);
    close(seg->rfd);
    seg->rfd = -1;
}

void tlog_read_fds_shrink(struct fdlru *rfds, size_t keep) {
    fdlru_shrink(rfds, keep, close_read_fd, NULL);
}

static int out_of_fds(int err) {
    return err == EMFILE || err == ENFILE;
}

/* Out of descriptors: closes every read descriptor not in use; 1 when it closed any. */
static int close_idle_reads(struct tlog *t) {
    return t->rfds && fdlru_shrink(t->rfds, 0, close_read_fd, NULL) > 0;
}

static void segment_destroy(struct tlog *t, struct segment *seg, struct psub *s) {
    tlog_segment_fd_close(t, seg);
    segindex_free(&seg->idx);
    if (s && seg->log_pf) psub_free_file(s, seg->log_pf, 0);
    if (s && seg->idx_pf) psub_free_file(s, seg->idx_pf, 0);
    free(seg);
}

void tlog_free(struct tlog *t, struct psub *s) {
    for (size_t i = 0; i < t->nsegs; i++) segment_destroy(t, t->segs[i], s);
    free(t->segs);
    t->segs = NULL;
    t->nsegs = t->cap = 0;
}

int tlog_add_segment(struct tlog *t, struct segment *seg) {
    if (t->nsegs && seg->base_offset <= t->segs[t->nsegs - 1]->base_offset) return OBK_ERR_INVAL;
    if (t->nsegs == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct segment **ns = realloc(t->segs, cap * sizeof *ns);
        if (!ns) return OBK_ERR_NOMEM;
        t->segs = ns;
        t->cap = cap;
    }
    t->segs[t->nsegs++] = seg;
    t->bytes += seg->size;
    return OBK_OK;
}

struct segment *tlog_active(const struct tlog *t) {
    return t->nsegs ? t->segs[t->nsegs - 1] : NULL;
}

static struct segment *segment_new(uint64_t base, sid_t first, int64_t now) {
    struct segment *seg = calloc(1, sizeof *seg);
    if (!seg) return NULL;
    seg->base_offset = seg->end_offset = base;
    seg->first_id = first;
    seg->created_ms = seg->modified_ms = now;
    seg->size = SEGMENT_HEADER_SIZE;
    seg->rfd = -1;
    seg->idx_state = SEGIDX_READY; /* a new segment's index is the (empty) in-memory one */
    segindex_init(&seg->idx);
    return seg;
}

static int seg_pfiles(struct tlog *t, struct segment *seg) {
    char name[SEGMENT_NAME_MAX];
    if (!seg->log_pf) {
        segment_name(name, seg->base_offset, "log");
        if (!(seg->log_pf = pfile_new(t->dirfd, name))) return OBK_ERR_NOMEM;
        pfile_set_wal_tag(seg->log_pf, t->wal_db, t->wal_topic,
                          TOPIC_FILE_ID(TOPIC_FILE_SEGMENT, seg->base_offset));
        pfile_allow_deferred(seg->log_pf); /* read at run time only below the cache's limit */
    }
    if (!seg->idx_pf) {
        segment_name(name, seg->base_offset, "idx");
        if (!(seg->idx_pf = pfile_new(t->dirfd, name))) return OBK_ERR_NOMEM;
        pfile_set_wal_tag(seg->idx_pf, t->wal_db, t->wal_topic,
                          TOPIC_FILE_ID(TOPIC_FILE_INDEX, seg->base_offset));
        pfile_allow_deferred(seg->idx_pf); /* loaded from its file only once sealed (synced) */
    }
    return OBK_OK;
}

/* Seal: data and index reach the disk before the next segment exists (whatever the fsync
 * policy), then the write handles are closed. */
static int seg_seal(struct segment *seg, struct psub *s) {
    int rc = OBK_OK;
    if (seg->log_pf) {
        if ((rc = psub_sync(s, seg->log_pf)) != OBK_OK) return rc;
        if ((rc = psub_free_file(s, seg->log_pf, 0)) != OBK_OK) return rc;
        seg->log_pf = NULL;
    }
    if (seg->idx_pf) {
        if ((rc = psub_sync(s, seg->idx_pf)) != OBK_OK) return rc;
        if ((rc = psub_free_file(s, seg->idx_pf, 0)) != OBK_OK) return rc;
        seg->idx_pf = NULL;
    }
    seg->sealed = 1;
    return rc;
}

static int need_roll(const struct tlog *t, const struct segment *seg, const struct batch_header *h,
                     size_t len, int64_t now) {
    if (!seg) return 1;
    if (h->type != BATCH_DATA || !seg->has_data) return 0; /* never an empty segment */
    if (seg->size + len > t->cfg->segment_bytes) return 1;
    if (seg->size + len > TLOG_MAX_SEGMENT_BYTES) return 1;
    if (t->cfg->segment_ms > 0 && now - seg->created_ms >= t->cfg->segment_ms) return 1;
    /* an ID at or below the segment's last: a new epoch (XSETID below a stored entry) starts a
     * segment of its own, so every segment's IDs, and its index, stay in order */
    if (sid_cmp(h->first_id, seg->last_id) <= 0) return 1;
    if (h->base_offset + h->count - 1 - seg->base_offset > UINT32_MAX) return 1;
    return 0;
}

int tlog_append_batch(struct tlog *t, const uint8_t *batch, size_t len,
                      const struct batch_header *h, int64_t now_ms, struct psub *s) {
    int rc = OBK_OK;
    struct segment *seg = tlog_active(t);
    /* dense offsets stay contiguous: nothing skipped, nothing placed twice */
    OBK_ASSERT(h->base_offset == t->end_offset);
    if (seg && seg->idx_state != SEGIDX_READY && (rc = tlog_segment_index(t, seg)) != OBK_OK)
        goto done;
    if (need_roll(t, seg, h, len, now_ms)) {
        if (seg && (rc = seg_seal(seg, s)) != OBK_OK) goto done;
        int data = h->type == BATCH_DATA;
        seg = segment_new(data ? h->base_offset : t->end_offset, data ? h->first_id : SID_MIN,
                          now_ms);
        if (!seg) {
            rc = OBK_ERR_NOMEM;
            goto done;
        }
        if ((rc = tlog_add_segment(t, seg)) != OBK_OK) {
            segment_destroy(t, seg, NULL);
            goto done;
        }
        if ((rc = seg_pfiles(t, seg)) != OBK_OK) goto done;
        uint8_t hdr[SEGMENT_HEADER_SIZE > SEGINDEX_HEADER_SIZE ? SEGMENT_HEADER_SIZE
                                                               : SEGINDEX_HEADER_SIZE];
        segment_encode_header(hdr, seg->base_offset, seg->first_id, now_ms);
        if ((rc = psub_write(s, seg->log_pf, 0, hdr, SEGMENT_HEADER_SIZE)) != OBK_OK) goto done;
        segindex_encode_header(hdr, seg->base_offset);
        if ((rc = psub_write(s, seg->idx_pf, 0, hdr, SEGINDEX_HEADER_SIZE)) != OBK_OK) goto done;
    }
    if ((rc = seg_pfiles(t, seg)) != OBK_OK) goto done;
    uint64_t pos = seg->size;
    if (h->type == BATCH_DATA) {
        if (seg->idx.n == 0 || pos - seg->last_index_pos >= t->cfg->index_interval) {
            struct segindex_entry e = {h->first_id, (uint32_t)(h->base_offset - seg->base_offset),
                                       (uint32_t)pos};
            if ((rc = segindex_append(&seg->idx, e.id, e.rel_offset, e.pos)) != OBK_OK) goto done;
            uint8_t ebuf[SEGINDEX_ENTRY_SIZE];
            segindex_encode_entry(ebuf, &e);
            rc = psub_write(s, seg->idx_pf,
                            SEGINDEX_HEADER_SIZE + (uint64_t)(seg->idx.n - 1) * SEGINDEX_ENTRY_SIZE,
                            ebuf, sizeof ebuf);
            if (rc != OBK_OK) goto done;
            seg->last_index_pos = pos;
        }
        seg->has_data = 1;
        seg->end_offset = h->base_offset + h->count;
        seg->last_id = h->last_id;
        t->end_offset = seg->end_offset;
    }
    if ((rc = psub_write(s, seg->log_pf, pos, batch, len)) != OBK_OK) goto done;
    seg->size += len;
    t->bytes += len;
    seg->modified_ms = now_ms;
done:
    return rc;
}

/* The search key of a segment's first entry (tstate.h: epochs). */
static sid_t seg_key(const struct tlog *t, const struct segment *seg) {
    return t->st ? tstate_key(t->st, seg->base_offset, seg->first_id) : seg->first_id;
}

size_t tlog_find_segment_id(const struct tlog *t, sid_t id) {
    size_t lo = 0, hi = t->nsegs, ans = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sid_cmp(seg_key(t, t->segs[mid]), id) <= 0) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return ans;
}

size_t tlog_find_segment_offset(const struct tlog *t, uint64_t offset) {
    size_t lo = 0, hi = t->nsegs, ans = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->segs[mid]->base_offset <= offset) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return ans;
}

int tlog_segment_fd(struct tlog *t, struct segment *seg) {
    if (seg->rfd < 0) {
        char name[SEGMENT_NAME_MAX];
        segment_name(name, seg->base_offset, "log");
        if (t->rfds) fdlru_make_room(t->rfds, close_read_fd, NULL);
        while ((seg->rfd = openat(t->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
            if (errno == ENOENT) return OBK_ERR_NOTFOUND;
            if (!out_of_fds(errno)) return OBK_ERR_IO;
            if (!close_idle_reads(t)) return OBK_ERR_NOFILES;
        }
    }
    if (t->rfds) fdlru_touch(t->rfds, &seg->rnode);
    return OBK_OK;
}

/* segindex_load, once more after closing the idle read descriptors when out of them. */
static int load_index(struct tlog *t, struct segment *seg, const char *name) {
    int rc = segindex_load(t->dirfd, name, seg->base_offset, seg->size, &seg->idx);
    if (rc == OBK_ERR_NOFILES && close_idle_reads(t))
        rc = segindex_load(t->dirfd, name, seg->base_offset, seg->size, &seg->idx);
    return rc;
}

int tlog_prepare_append(struct tlog *t) {
    struct segment *seg = tlog_active(t);
    if (!seg || seg->idx_state == SEGIDX_READY) return OBK_OK;
    return tlog_segment_index(t, seg);
}

int tlog_scan_file(int fd, uint64_t size, uint64_t pos, tlog_batch_cb cb, void *ctx,
                   uint64_t *good_end) {
    struct segreader r;
    int rc = OBK_OK;
    segreader_init(&r, fd, size);
    while (pos < size) {
        const uint8_t *b;
        struct batch_header h;
        rc = segreader_batch(&r, pos, &b, &h);
        if (rc != OBK_OK) break;
        if (cb && (rc = cb(ctx, b, &h, pos)) != 0) break;
        pos += batch_total_size(&h);
    }
    segreader_free(&r);
    *good_end = pos;
    return rc;
}

struct rebuild_ctx {
    struct segment *seg;
    uint32_t interval;
    int rc;
};

static int rebuild_cb(void *ctx, const uint8_t *batch, const struct batch_header *h, uint64_t pos) {
    struct rebuild_ctx *rb = ctx;
    struct segment *seg = rb->seg;
    (void)batch;
    if (h->type != BATCH_DATA) return 0;
    if (seg->idx.n == 0 || pos - seg->last_index_pos >= rb->interval) {
        rb->rc = segindex_append(&seg->idx, h->first_id,
                                 (uint32_t)(h->base_offset - seg->base_offset), (uint32_t)pos);
        if (rb->rc != OBK_OK) return 1;
        seg->last_index_pos = pos;
    }
    seg->has_data = 1;
    seg->end_offset = h->base_offset + h->count;
    seg->last_id = h->last_id;
    return 0;
}

int tlog_segment_index(struct tlog *t, struct segment *seg) {
    if (seg->idx_state == SEGIDX_READY) return OBK_OK;
    char name[SEGMENT_NAME_MAX];
    segment_name(name, seg->base_offset, "idx");
    segindex_free(&seg->idx);
    int rc = seg->idx_force_rebuild ? OBK_ERR_CORRUPT : load_index(t, seg, name);
    if (rc == OBK_ERR_NOFILES) return rc; /* not the index's fault: nothing to rebuild */
    if (rc == OBK_OK && seg->has_data && seg->idx.n == 0) rc = OBK_ERR_CORRUPT;
    if (rc == OBK_OK) {
        if (seg->idx.n) seg->last_index_pos = segindex_get(&seg->idx, seg->idx.n - 1).pos;
        seg->idx_state = SEGIDX_READY;
        return OBK_OK;
    }
    /* missing or failing its checks: rebuild from the log (in memory) */
    segindex_free(&seg->idx);
    seg->last_index_pos = 0;
    if ((rc = tlog_segment_fd(t, seg)) != OBK_OK) return rc;
    struct rebuild_ctx rb = {seg, t->cfg->index_interval, OBK_OK};
    uint64_t end;
    rc = tlog_scan_file(seg->rfd, seg->size, SEGMENT_HEADER_SIZE, rebuild_cb, &rb, &end);
    if (rb.rc != OBK_OK) return rb.rc;
    if (rc != OBK_OK && end < seg->size) return OBK_ERR_CORRUPT;
    seg->idx_state = SEGIDX_READY;
    return OBK_OK;
}

/* Damage met by a read: logged once per segment (every read through it fails the same way
 * until obelisk-check --repair or the server's repair cuts it). */
/* What a batch whose records failed to decode (its CRC was right) is called in the log. */
static const char *batch_records_damage(const struct batch_iter *it) {
    return it->status != OBK_OK ? "batch whose zstd frame does not decompress"
                                : "batch whose records fail their checks";
}

static int read_damage(struct segment *seg, uint64_t pos, const char *what) {
    if (!seg->damage_logged) {
        char name[SEGMENT_NAME_MAX];
        segment_name(name, seg->base_offset, "log");
        log_msg(LOG_WARNING,
                "read: %s: %s at byte %" PRIu64 "; reads through it fail (obelisk-check finds and "
                "repairs it)",
                name, what, pos);
        seg->damage_logged = 1;
    }
    return OBK_ERR_CORRUPT;
}

/* Position to start reading seg for id (the batch holding it or before) and the offset of the
 * first DATA batch there, checked against the batch found; a mismatch rebuilds the index once. */
static int seg_start_pos(struct tlog *t, struct segment *seg, sid_t id, int by_offset,
                         uint64_t offset, uint64_t *pos, uint64_t *first_offset) {
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = tlog_segment_index(t, seg);
        if (rc != OBK_OK) return rc;
        long k =
            by_offset
                ? (offset < seg->base_offset
                       ? -1
                       : segindex_lookup_offset(&seg->idx, (uint32_t)(offset - seg->base_offset)))
                : segindex_lookup_id(&seg->idx, id);
        if (k < 0) {
            *pos = SEGMENT_HEADER_SIZE;
            *first_offset = seg->base_offset;
            return OBK_OK;
        }
        struct segindex_entry e = segindex_get(&seg->idx, (size_t)k);
        if ((rc = tlog_segment_fd(t, seg)) != OBK_OK) return rc;
        uint8_t hb[BATCH_HEADER_SIZE];
        struct batch_header h;
        ssize_t n = pread(seg->rfd, hb, sizeof hb, (off_t)e.pos);
        if (n == (ssize_t)sizeof hb && batch_parse_header(hb, sizeof hb, &h) == OBK_OK &&
            h.type == BATCH_DATA && sid_cmp(h.first_id, e.id) == 0 &&
            h.base_offset == seg->base_offset + e.rel_offset) {
            *pos = e.pos;
            *first_offset = h.base_offset;
            return OBK_OK;
        }
        /* the index lied: rebuild it from the log (the file is fixed at the next recovery
         * or by obelisk-check --repair) */
        segindex_free(&seg->idx);
        seg->idx_state = SEGIDX_UNLOADED;
        seg->idx_force_rebuild = 1;
    }
    return OBK_ERR_CORRUPT;
}

int tlog_read_forward(struct tlog *t, sid_t from, uint64_t from_offset, int by_offset,
                      uint64_t limit, obk_entry_cb cb, void *ctx) {
    int rc = OBK_OK, stop = 0;
    struct batch_iter it;
    memset(&it, 0, sizeof it);
    if (!t->nsegs) goto done;
    if (by_offset) from = SID_MIN;
    size_t si =
        by_offset ? tlog_find_segment_offset(t, from_offset) : tlog_find_segment_id(t, from);
    for (int first = 1; si < t->nsegs && !stop && rc == OBK_OK; si++, first = 0) {
        struct segment *seg = t->segs[si];
        /* keys, not IDs, are in order along the log (tstate.h: epochs); one ceiling per
         * segment, since an epoch begins a segment */
        sid_t ceil = t->st ? tstate_ceiling(t->st, seg->base_offset) : SID_MAX;
        if (seg->base_offset >= limit) break; /* everything in it is at or past the limit */
        uint64_t pos = SEGMENT_HEADER_SIZE, expect = seg->base_offset;
        if (first &&
            (rc = seg_start_pos(t, seg, from, by_offset, from_offset, &pos, &expect)) != OBK_OK)
            goto done;
        if ((rc = tlog_segment_fd(t, seg)) != OBK_OK) goto done;
        struct segreader r;
        segreader_init(&r, seg->rfd, seg->size);
        fdlru_pin(&seg->rnode); /* the callbacks below may open other descriptors */
        while (pos < seg->size && !stop) {
            const uint8_t *b;
            struct batch_header h;
            rc = segreader_batch(&r, pos, &b, &h);
            /* below the limit every batch is whole on disk: one that is not is damage (a
             * length past the end of the segment, or a file shorter than it should be) */
            if (rc == OBK_ERR_AGAIN) rc = read_damage(seg, pos, "batch runs past the segment end");
            if (rc == OBK_ERR_CORRUPT) read_damage(seg, pos, "batch fails its length or CRC check");
            if (rc != OBK_OK) break;
            uint64_t at = pos;
            pos += batch_total_size(&h);
            if (h.type != BATCH_DATA) continue;
            if (h.base_offset != expect) {
                rc = read_damage(seg, at, "DATA batch out of offset order");
                break;
            }
            expect = h.base_offset + h.count;
            if (h.base_offset >= limit) break;
            sid_t last_key = sid_cmp(h.last_id, ceil) < 0 ? h.last_id : ceil;
            if (sid_cmp(last_key, from) >= 0 && h.base_offset + h.count > from_offset) {
                struct obk_entry e;
                int r2;
                batch_iter_free(&it);
                batch_iter_init(&it, &h, b);
                while (!stop && (r2 = batch_iter_next_data(&it, &e)) == 1) {
                    if (e.offset >= limit) {
                        stop = 1;
                    } else if (sid_cmp(sid_cmp(e.id, ceil) < 0 ? e.id : ceil, from) >= 0 &&
                               e.offset >= from_offset) {
                        int c = cb(ctx, &e);
                        if (c < 0) rc = c;
                        if (c != 0) stop = 1;
                    }
                }
                if (r2 < 0) {
                    rc = r2 == OBK_ERR_CORRUPT ? read_damage(seg, at, batch_records_damage(&it))
                                               : r2;
                    break;
                }
            }
            if (h.base_offset + h.count >= limit) stop = 1; /* never parse past the limit */
        }
        segreader_free(&r);
        fdlru_unpin(&seg->rnode);
        /* read to its end: its DATA must reach its end offset (or the limit) */
        if (rc == OBK_OK && !stop && pos >= seg->size &&
            expect < (seg->end_offset < limit ? seg->end_offset : limit))
            rc = read_damage(seg, pos, "segment ends before its last entry");
    }
done:
    batch_iter_free(&it);
    return rc < 0 ? rc : OBK_OK;
}

/* Entries of one index chunk decoded for a backward read. */
struct chunk_ent {
    sid_t id;
    uint64_t offset;
    uint32_t nfields;
    size_t first; /* into the flat fv arrays */
};

struct chunk {
    uint8_t *buf;
    size_t cap;
    struct chunk_ent *e;
    size_t n, ecap;
    const uint8_t **fv;
    size_t *fvlen;
    size_t nfv, fvcap;
    uint8_t **plain; /* decompressed records of compressed batches, which the views point into */
    size_t nplain, plaincap;
};

static void chunk_drop_plain(struct chunk *c) {
    for (size_t i = 0; i < c->nplain; i++) free(c->plain[i]);
    c->nplain = 0;
}

static void chunk_free(struct chunk *c) {
    chunk_drop_plain(c);
    free(c->plain);
    free(c->buf);
    free(c->e);
    free(c->fv);
    free(c->fvlen);
}

/* Keeps the iterator's decompressed records (if any) as long as the chunk's views. */
static int chunk_keep_plain(struct chunk *c, struct batch_iter *it) {
    if (!it->plain) return OBK_OK;
    if (c->nplain == c->plaincap) {
        size_t cap = c->plaincap ? 2 * c->plaincap : 8;
        uint8_t **np = realloc(c->plain, cap * sizeof *np);
        if (!np) return OBK_ERR_NOMEM;
        c->plain = np;
        c->plaincap = cap;
    }
    c->plain[c->nplain++] = batch_iter_take_buffer(it);
    return OBK_OK;
}

static int chunk_add(struct chunk *c, const struct obk_entry *e) {
    if (c->n == c->ecap) {
        size_t cap = c->ecap ? c->ecap * 2 : 64;
        struct chunk_ent *ne = realloc(c->e, cap * sizeof *ne);
        if (!ne) return OBK_ERR_NOMEM;
        c->e = ne;
        c->ecap = cap;
    }
    while (c->nfv + 2 * (size_t)e->nfields > c->fvcap) {
        size_t cap = c->fvcap ? c->fvcap * 2 : 128;
        const uint8_t **nf = realloc(c->fv, cap * sizeof *nf);
        if (!nf) return OBK_ERR_NOMEM;
        c->fv = nf;
        size_t *nl = realloc(c->fvlen, cap * sizeof *nl);
        if (!nl) return OBK_ERR_NOMEM;
        c->fvlen = nl;
        c->fvcap = cap;
    }
    c->e[c->n++] = (struct chunk_ent){e->id, e->offset, e->nfields, c->nfv};
    if (e->nfields) {
        memcpy(c->fv + c->nfv, e->fv, 2 * e->nfields * sizeof *c->fv);
        memcpy(c->fvlen + c->nfv, e->fvlen, 2 * e->nfields * sizeof *c->fvlen);
    }
    c->nfv += 2 * (size_t)e->nfields;
    return OBK_OK;
}

/* Index chunk k of seg: bytes [start, end), DATA offsets [first_offset, end_offset), and the
 * ID its first batch must start with. */
struct chunk_span {
    uint64_t start, end, first_offset, end_offset;
    sid_t first_id;
};

static struct chunk_span chunk_span(const struct segment *seg, size_t k) {
    struct segindex_entry e = segindex_get(&seg->idx, k);
    struct chunk_span sp = {e.pos, seg->size, seg->base_offset + e.rel_offset, seg->end_offset,
                            e.id};
    if (k + 1 < seg->idx.n) {
        struct segindex_entry n = segindex_get(&seg->idx, k + 1);
        sp.end = n.pos;
        sp.end_offset = seg->base_offset + n.rel_offset;
    }
    return sp;
}

/* Reads the span of seg into the chunk and decodes its DATA entries with id <= to and
 * offset < limit, stopping after the batch that reaches the limit. Below the limit the batches
 * must tile the span exactly, the first one be the indexed batch, and the DATA offsets run
 * from the span's first offset to its end offset: anything else is damage (of the log, or of
 * the index: the caller rebuilds that and tries once more). */
static int chunk_load(struct tlog *t, struct segment *seg, const struct chunk_span *sp, sid_t to,
                      uint64_t limit, struct chunk *c) {
    int rc = OBK_OK, reached = 0;
    uint64_t start = sp->start, end = sp->end, expect = sp->first_offset;
    struct batch_iter it;
    memset(&it, 0, sizeof it);
    c->n = c->nfv = 0;
    chunk_drop_plain(c);
    size_t len = (size_t)(end - start);
    if (len > c->cap) {
        uint8_t *nb = realloc(c->buf, len);
        if (!nb) return OBK_ERR_NOMEM;
        c->buf = nb;
        c->cap = len;
    }
    if ((rc = tlog_segment_fd(t, seg)) != OBK_OK) return rc;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(seg->rfd, c->buf + got, len - got, (off_t)(start + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return OBK_ERR_IO;
        if (n == 0) break;
        got += (size_t)n;
    }
    size_t p = 0;
    while (p < got) {
        struct batch_header h;
        rc = batch_verify(c->buf + p, got - p, &h);
        if (rc == OBK_ERR_AGAIN) {
            rc = read_damage(seg, start + p, "batch runs past the next index entry");
            break;
        }
        if (rc == OBK_ERR_CORRUPT)
            read_damage(seg, start + p, "batch fails its length or CRC check");
        if (rc != OBK_OK) break;
        if (p == 0 && (h.type != BATCH_DATA || sid_cmp(h.first_id, sp->first_id) != 0 ||
                       h.base_offset != sp->first_offset)) {
            rc = OBK_ERR_CORRUPT; /* the index entry points at another batch */
            break;
        }
        const uint8_t *b = c->buf + p;
        p += batch_total_size(&h);
        if (h.type != BATCH_DATA) continue;
        if (h.base_offset != expect) {
            rc = read_damage(seg, start + p - batch_total_size(&h),
                             "DATA batch out of offset order");
            break;
        }
        expect = h.base_offset + h.count;
        if (h.base_offset >= limit) {
            reached = 1;
            break;
        }
        struct obk_entry e;
        int r2;
        batch_iter_free(&it);
        batch_iter_init(&it, &h, b);
        while ((r2 = batch_iter_next_data(&it, &e)) == 1) {
            if (e.offset >= limit || sid_cmp(e.id, to) > 0) break;
            if ((rc = chunk_add(c, &e)) != OBK_OK) goto done;
        }
        if (r2 < 0) {
            rc = r2 == OBK_ERR_CORRUPT
                     ? read_damage(seg, start + (uint64_t)(b - c->buf), batch_records_damage(&it))
                     : r2;
            break;
        }
        if ((rc = chunk_keep_plain(c, &it)) != OBK_OK) goto done;
        if (h.base_offset + h.count >= limit) {
            reached = 1;
            break;
        }
    }
    if (rc == OBK_OK && !reached && (got < len || expect != sp->end_offset))
        rc = read_damage(seg, start + p,
                         got < len ? "segment file shorter than its size"
                                   : "entries missing before the next index entry");
done:
    batch_iter_free(&it);
    return rc;
}

int tlog_read_backward(struct tlog *t, sid_t to, uint64_t limit, obk_entry_cb cb, void *ctx) {
    int rc = OBK_OK;
    struct chunk c;
    uint64_t below = UINT64_MAX; /* entries at or above this offset were handed out */
    memset(&c, 0, sizeof c);
    if (!t->nsegs || limit == 0) return OBK_OK;
    size_t si = tlog_find_segment_id(t, to);
    size_t sl = tlog_find_segment_offset(t, limit - 1);
    if (sl < si) si = sl;
    for (int first = 1;; first = 0) {
        struct segment *seg = t->segs[si];
    again:
        if ((rc = tlog_segment_index(t, seg)) != OBK_OK) goto done;
        long k = (long)seg->idx.n - 1;
        if (first) {
            long ki = segindex_lookup_id(&seg->idx, to);
            long ko =
                limit - 1 >= seg->base_offset
                    ? segindex_lookup_offset(&seg->idx, (uint32_t)(limit - 1 - seg->base_offset))
                    : -1;
            k = ki < ko ? ki : ko;
        }
        for (; k >= 0; k--) {
            struct chunk_span sp = chunk_span(seg, (size_t)k);
            rc = chunk_load(t, seg, &sp, to, limit, &c);
            if (rc == OBK_ERR_CORRUPT && seg->sealed && !seg->idx_force_rebuild) {
                /* the index may be what lies: rebuild it from the log (a damaged log fails
                 * that scan) and read the segment again, skipping what was handed out */
                segindex_free(&seg->idx);
                seg->idx_state = SEGIDX_UNLOADED;
                seg->idx_force_rebuild = 1;
                goto again;
            }
            if (rc != OBK_OK) goto done;
            for (size_t i = c.n; i-- > 0;) {
                if (c.e[i].offset >= below) continue;
                struct obk_entry e = {c.e[i].id, c.e[i].offset, c.e[i].nfields, c.fv + c.e[i].first,
                                      c.fvlen + c.e[i].first};
                below = e.offset;
                int r = cb(ctx, &e);
                if (r != 0) {
                    rc = r < 0 ? r : OBK_OK;
                    goto done;
                }
            }
        }
        if (si == 0) break;
        si--;
    }
done:
    chunk_free(&c);
    return rc;
}

int tlog_retain(struct tlog *t, int64_t retention_bytes, int64_t retention_ms, int64_t now_ms,
                uint64_t keep_from, struct psub *s, uint64_t *new_start) {
    int removed = 0;
    while (t->nsegs > 1) {
        struct segment *seg = t->segs[0];
        uint64_t seg_end = t->segs[1]->base_offset;
        int by_trim = seg_end <= keep_from;
        int by_bytes = retention_bytes >= 0 && t->bytes - seg->size >= (uint64_t)retention_bytes;
        int by_time = retention_ms >= 0 && seg->modified_ms + retention_ms < now_ms;
        if (!by_trim && !by_bytes && !by_time) break;
        char name[SEGMENT_NAME_MAX];
        struct pfile *lp, *ip;
        segment_name(name, seg->base_offset, "log");
        lp = pfile_new(t->dirfd, name);
        segment_name(name, seg->base_offset, "idx");
        ip = pfile_new(t->dirfd, name);
        if (!lp || !ip || psub_free_file(s, lp, 1) != OBK_OK) {
            free(lp);
            free(ip);
            return OBK_ERR_NOMEM;
        }
        if (psub_free_file(s, ip, 1) != OBK_OK) {
            free(ip);
            return OBK_ERR_NOMEM;
        }
        t->bytes -= seg->size;
        segment_destroy(t, seg, s);
        memmove(t->segs, t->segs + 1, (t->nsegs - 1) * sizeof *t->segs);
        t->nsegs--;
        removed++;
    }
    *new_start = t->nsegs ? t->segs[0]->base_offset : t->end_offset;
    return removed;
}
