/* topic.c - stream mutations over the ring cache and the filling batch, and the hand-off of a
 * topic's batches to a persist submission (reads are in topic_read.c).
 *
 * Order of a mutation: validate, change the cache, encode into the filling batch, then change
 * the state (tstate), so a failure part way leaves the topic as it was. Out of memory: an add
 * makes room before it writes; a batch left empty by a failed add is dropped, never written (a
 * batch holds at least one record); a TRIM or META batch holds its one change only, so it is
 * dropped when the change cannot be completed; XDEL makes room for every record and tombstone
 * before it changes anything. A change that fails half way all the same cannot be undone: the
 * store then refuses writes (sticky), as after an I/O error, instead of keeping a state the
 * batch disagrees with. Batches are closed when the record type changes or past
 * batch_max_bytes and wait in t->pend until store_flush.
 * A checkpoint joins a submission after a roll and every TOPIC_CHECKPOINT_BYTES of log, behind
 * an fdatasync of the active segment (data, fdatasync, then the commit mark). Topics are created
 * inside store_open (the server's loader thread) or by store_create; every mutation and flush
 * runs on the main thread. With compression on (topic_effective_compression_level), a DATA batch is
 * compressed as it is placed in its segment (the flush, on the main thread): t->pend and the
 * replication records keep the plain batch, so each node compresses by its own setting. */
#include "storage/topic.h"
#include "topic_impl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/obk_assert.h"
#include "base/status.h"
#include "base/util.h"
#include "storage/cgstore.h"
#include "storage/recovery.h"

/* Unclean recovery scans from the last checkpoint: one every 64 MiB of log bounds that scan
 * to well under a second on a disk reading a few hundred MB/s. */
#define TOPIC_CHECKPOINT_BYTES (64ull << 20)

int topic_new(struct topic_env *env, int db, const void *key, size_t keylen, int dbfd, int dirfd,
              struct topic **out) {
    struct topic *t = calloc(1, sizeof *t);
    if (!t) return OBK_ERR_NOMEM;
    t->key = malloc(keylen ? keylen : 1);
    if (!t->key) {
        free(t);
        return OBK_ERR_NOMEM;
    }
    if (keylen) memcpy(t->key, key, keylen);
    t->keylen = keylen;
    t->env = env;
    t->db = db;
    t->dbfd = dbfd;
    t->dirfd = dirfd;
    keydir_name(key, keylen, t->name);
    tlog_init(&t->log, dirfd, &env->tlog, 0);
    t->log.rfds = &env->rfds;
    tstate_init(&t->st, 0);
    t->log.st = &t->st; /* the log's searches by ID follow the stream's epochs */
    ring_init(&t->ring, &env->budget);
    batch_builder_init(&t->bb);
    t->retention_bytes = t->retention_ms = RETENTION_DEFAULT;
    t->created_ms = util_mstime();
    topic_set_incarnation(t, keydir_new_incarnation());
    *out = t;
    return OBK_OK;
}

void topic_set_incarnation(struct topic *t, uint64_t incarnation) {
    t->incarnation = incarnation;
    t->log.wal_db = t->cglog.wal_db = t->db;
    t->log.wal_topic = t->cglog.wal_topic = incarnation;
}

void topic_free(struct topic *t, struct psub *s) {
    if (!t) return;
    tlog_free(&t->log, s);
    cgstore_log_release(&t->cglog, s);
    cgs_free(t->cg);
    topic_marks_free(t);
    tstate_free(&t->st);
    ring_free(&t->ring);
    batch_builder_free(&t->bb);
    free(t->pend);
    free(t->key);
    free(t);
}

void topic_mark_dirty(struct topic *t) {
    topic_env_touch(t->env, t->env->next_seq);
    if (t->dirty) return;
    t->dirty = 1;
    t->dirty_next = t->env->dirty_head;
    t->env->dirty_head = t;
}

/* Moves the filling batch to t->pend. A batch without records (its first add failed) is
 * dropped: on disk a batch holds at least one. On failure the batch stays open, unchanged. */
static int close_batch(struct topic *t) {
    if (!t->bb_open) return OBK_OK;
    if (t->bb.count == 0) {
        t->bb_open = 0;
        return OBK_OK;
    }
    const uint8_t *b;
    size_t len = batch_builder_size(&t->bb);
    if (t->pend_len + len > t->pend_cap) {
        size_t cap = t->pend_cap ? t->pend_cap : 4096;
        while (cap < t->pend_len + len) cap *= 2;
        uint8_t *np = realloc(t->pend, cap);
        if (!np) return OBK_ERR_NOMEM;
        t->pend = np;
        t->pend_cap = cap;
    }
    int rc = batch_builder_finish(&t->bb, (uint64_t)util_mstime(), &b, &len);
    OBK_ASSERT(rc == OBK_OK); /* a started batch with records always finishes */
    memcpy(t->pend + t->pend_len, b, len);
    t->pend_len += len;
    t->bb_open = 0;
    return OBK_OK;
}

/* Plain bytes of a DATA batch that is to be compressed: a cold read decompresses a whole batch
 * to reach one entry, so a compressed batch stays near the size a read wants (A/B in
 * docs/benchmarks.md, "Compression"). */
#define COMPRESSED_BATCH_MAX (64u << 10)

/* Makes the filling batch one of type, closing the current one when it differs or is full. */
static int open_batch(struct topic *t, uint8_t type) {
    size_t cap = t->env->batch_max_bytes;
    if (topic_effective_compression_level(t) > 0 && cap > COMPRESSED_BATCH_MAX)
        cap = COMPRESSED_BATCH_MAX;
    if (t->bb_open && (t->bb.type != type || batch_builder_size(&t->bb) >= cap ||
                       type == BATCH_TRIM || type == BATCH_META)) {
        int rc = close_batch(t);
        if (rc != OBK_OK) return rc;
    }
    if (!t->bb_open) {
        int rc = batch_builder_begin(&t->bb, type, t->st.end_offset);
        if (rc != OBK_OK) return rc;
        t->bb_open = 1;
    }
    return OBK_OK;
}

/* A change that failed half way and cannot be undone: the topic's memory and its filling batch
 * would disagree, so the store refuses writes from now on (no submission, checkpoint or clean
 * marker follows; replies touching the topic wait for a submission that never comes, so the
 * server fails them as after an I/O error). */
static int fail_sticky(struct topic *t, int rc, const char *what) {
    log_msg(LOG_WARNING, "storage: %s failed half way: %s; writes are refused from now on", what,
            obk_strerror(rc));
    if (t->env->error == OBK_OK) t->env->error = rc;
    topic_mark_dirty(t);
    return rc;
}

int topic_append(struct topic *t, sid_t id, uint32_t nfields, const uint8_t *const *fv,
                 const size_t *fvlen) {
    if (t->env->error) return OBK_ERR_STICKY;
    if (sid_cmp(id, t->st.last_id) <= 0) return OBK_ERR_RANGE;
    uint64_t off = t->st.end_offset;
    int rc = ring_push(&t->ring, id, off, nfields, fv, fvlen);
    if (rc == OBK_ERR_AGAIN) t->env->filing_wanted = 1; /* the next flush asks for room */
    if (rc != OBK_OK) return rc;
    if ((rc = open_batch(t, BATCH_DATA)) != OBK_OK ||
        (rc = batch_builder_add_data(&t->bb, id, nfields, fv, fvlen)) != OBK_OK) {
        ring_drop_from(&t->ring, off);
        if (t->bb_open && t->bb.count == 0) t->bb_open = 0; /* the batch it started is empty */
        return rc;
    }
    t->st.end_offset++;
    t->st.entries_added++;
    t->st.last_id = id;
    t->st.epoch_max = id; /* above every ID of the epoch so far: IDs grow within one */
    topic_mark_dirty(t);
    return OBK_OK;
}

static int cmp_tomb(const void *a, const void *b) {
    return sid_cmp(((const struct tomb *)a)->id, ((const struct tomb *)b)->id);
}

int topic_delete_ids(struct topic *t, const sid_t *ids, size_t n, uint64_t *deleted) {
    int rc = OBK_OK;
    struct tomb *found = NULL;
    size_t nf = 0;
    *deleted = 0;
    if (t->env->error) return OBK_ERR_STICKY;
    if (n && !(found = malloc(n * sizeof *found))) return OBK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t off;
        if (sid_cmp(ids[i], t->st.last_id) > 0) continue;
        rc = topic_find_offset(t, ids[i], &off);
        if (rc == OBK_ERR_NOTFOUND) continue;
        if (rc != OBK_OK) goto done;
        if (off < t->st.start_offset || tstate_is_deleted_at(&t->st, off)) continue;
        int dup = 0;
        for (size_t j = 0; j < nf && !dup; j++) dup = sid_cmp(found[j].id, ids[i]) == 0;
        if (!dup) found[nf++] = (struct tomb){ids[i], off};
    }
    rc = OBK_OK;
    if (!nf) goto done;
    qsort(found, nf, sizeof *found, cmp_tomb);
    if (t->bb_open && t->bb.type == BATCH_DELETE && t->bb.count &&
        sid_cmp(found[0].id, t->bb.last_id) <= 0 && (rc = close_batch(t)) != OBK_OK)
        goto done;
    if ((rc = open_batch(t, BATCH_DELETE)) != OBK_OK) goto done;
    /* room for every record and tombstone before anything changes */
    if ((rc = batch_builder_reserve(&t->bb, nf * BATCH_DELETE_RECORD_MAX)) != OBK_OK ||
        (rc = tstate_tomb_reserve(&t->st, nf)) != OBK_OK) {
        if (t->bb.count == 0) t->bb_open = 0; /* the batch it started is empty */
        goto done;
    }
    topic_tombs_changing(t);
    for (size_t i = 0; i < nf; i++) {
        if ((rc = batch_builder_add_delete(&t->bb, found[i].id, found[i].offset)) != OBK_OK ||
            (rc = tstate_tomb_add(&t->st, found[i].id, found[i].offset)) != OBK_OK) {
            fail_sticky(t, rc, "XDEL");
            goto done;
        }
    }
    *deleted = nf;
    topic_mark_dirty(t);
done:
    free(found);
    return rc;
}

/* The smallest start x with at most maxlen live entries in [x, end). */
static uint64_t trim_maxlen_start(const struct tstate *st, uint64_t maxlen) {
    uint64_t lo = st->start_offset, hi = st->end_offset;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        uint64_t live = st->end_offset - mid - tstate_tombs_from(st, mid);
        if (live <= maxlen)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Approximate trim: whole nodes of node_max_entries offsets, like Redis's '~'. */
static int trim_approx_start(struct topic *t, const struct topic_trim *tr, uint64_t *start) {
    struct tstate *st = &t->st;
    uint64_t node = t->env->node_max_entries ? t->env->node_max_entries : 100;
    uint64_t x = st->start_offset, len = tstate_length(st), removed = 0;
    while (x < st->end_offset) {
        if (tr->strategy == TOPIC_TRIM_MAXLEN && len <= tr->maxlen) break;
        uint64_t node_end = (x / node + 1) * node;
        if (node_end > st->end_offset) node_end = st->end_offset;
        uint64_t entries =
            (node_end - x) - (tstate_tombs_from(st, x) - tstate_tombs_from(st, node_end));
        if (tr->limit && removed + entries > tr->limit) break;
        int remove;
        if (tr->strategy == TOPIC_TRIM_MAXLEN) {
            remove = len - entries >= tr->maxlen;
        } else {
            sid_t last;
            int rc = topic_id_at(t, node_end - 1, &last);
            if (rc != OBK_OK) return rc;
            remove = sid_cmp(last, tr->minid) < 0;
        }
        if (!remove) break;
        x = node_end;
        len -= entries;
        removed += entries;
    }
    *start = x;
    return OBK_OK;
}

int topic_trim(struct topic *t, const struct topic_trim *tr, uint64_t *removed) {
    struct tstate *st = &t->st;
    uint64_t x = st->start_offset;
    int rc = OBK_OK;
    *removed = 0;
    if (t->env->error) return OBK_ERR_STICKY;
    if (tr->approx) {
        rc = trim_approx_start(t, tr, &x);
    } else if (tr->strategy == TOPIC_TRIM_MAXLEN) {
        x = trim_maxlen_start(st, tr->maxlen);
    } else if (tr->strategy == TOPIC_TRIM_MINID) {
        rc = topic_lower_bound_offset(t, tr->minid, &x);
    } else {
        return OBK_ERR_INVAL;
    }
    if (rc != OBK_OK) return rc;
    return topic_trim_to(t, x, removed);
}

int topic_trim_to(struct topic *t, uint64_t x, uint64_t *removed) {
    struct tstate *st = &t->st;
    int rc;
    *removed = 0;
    if (t->env->error) return OBK_ERR_STICKY;
    if (x > st->end_offset) return OBK_ERR_RANGE;
    if (x <= st->start_offset) return OBK_OK;
    uint64_t before = tstate_length(st);
    if ((rc = open_batch(t, BATCH_TRIM)) != OBK_OK) return rc;
    OBK_ASSERT(t->bb.count == 0); /* a TRIM batch holds this change only */
    if ((rc = batch_builder_add_trim(&t->bb, x, st->last_id)) != OBK_OK ||
        (rc = close_batch(t)) != OBK_OK) {
        t->bb_open = 0; /* dropped: the topic stays as it was */
        return rc;
    }
    topic_tombs_changing(t);
    tstate_set_start(st, x);
    ring_drop_filed_before(&t->ring, x);
    *removed = before - tstate_length(st);
    topic_mark_dirty(t);
    return OBK_OK;
}

int topic_setid(struct topic *t, sid_t last_id, int set_added, uint64_t entries_added,
                int set_max_deleted, sid_t max_deleted) {
    int rc;
    if (t->env->error) return OBK_ERR_STICKY;
    sid_t top;
    if (topic_length(t) > 0 && topic_last_entry_id(t, &top) == OBK_OK && sid_cmp(last_id, top) < 0)
        return OBK_ERR_RANGE;
    struct tstate *st = &t->st;
    uint64_t added = set_added ? entries_added : st->entries_added;
    sid_t md = set_max_deleted ? max_deleted : st->max_deleted;
    /* below an entry still stored (deleted, or trimmed but not removed): a new epoch, whose
     * room is taken first so that nothing can fail once the batch is closed */
    if ((rc = tstate_epoch_reserve(st)) != OBK_OK) return rc;
    if ((rc = open_batch(t, BATCH_META)) != OBK_OK) return rc;
    OBK_ASSERT(t->bb.count == 0); /* a META batch holds this change only */
    if ((rc = batch_builder_add_meta(&t->bb, last_id, added, md)) != OBK_OK ||
        (rc = close_batch(t)) != OBK_OK) {
        t->bb_open = 0; /* dropped: the topic stays as it was */
        return rc;
    }
    rc = tstate_set_last(st, last_id);
    OBK_ASSERT(rc == OBK_OK); /* the room was reserved */
    st->entries_added = added;
    st->max_deleted = md;
    topic_mark_dirty(t);
    return OBK_OK;
}

int topic_set_retention(struct topic *t, int64_t bytes, int64_t ms) {
    if (t->env->error) return OBK_ERR_STICKY;
    t->retention_bytes = bytes;
    t->retention_ms = ms;
    t->meta_dirty = 1;
    topic_mark_dirty(t);
    return OBK_OK;
}

int topic_set_compression(struct topic *t, int mode, int level) {
    if (mode < TOPIC_COMPRESSION_DEFAULT || mode > TOPIC_COMPRESSION_ZSTD || level < 0 ||
        level > BATCH_ZSTD_LEVEL_MAX)
        return OBK_ERR_INVAL;
    if (t->env->error) return OBK_ERR_STICKY;
    t->compression = (uint8_t)mode;
    t->compression_level = (uint8_t)level;
    t->meta_dirty = 1;
    topic_mark_dirty(t);
    return OBK_OK;
}

int topic_compression(const struct topic *t) {
    return t->compression;
}

int topic_compression_level(const struct topic *t) {
    return t->compression_level;
}

int topic_effective_compression_level(const struct topic *t) {
    int on = t->compression == TOPIC_COMPRESSION_DEFAULT ? t->env->compression
                                                         : t->compression == TOPIC_COMPRESSION_ZSTD;
    return on ? (t->compression_level ? t->compression_level : t->env->compression_level) : 0;
}

int topic_set_expire(struct topic *t, int64_t at_ms) {
    OBK_ASSERT(at_ms >= 0);
    if (t->env->error) return OBK_ERR_STICKY;
    t->expire_at_ms = at_ms;
    t->meta_dirty = 1;
    topic_mark_dirty(t);
    return OBK_OK;
}

int topic_checkpoint_into(struct topic *t, struct psub *s) {
    struct segment *a = tlog_active(&t->log);
    uint8_t *buf;
    size_t len;
    int rc;
    if (a && a->log_pf && (rc = psub_sync(s, a->log_pf)) != OBK_OK) return rc;
    rc = tstate_encode_checkpoint(&t->st, a ? a->base_offset : 0, a ? a->size : 0, &buf, &len);
    if (rc != OBK_OK) return rc;
    rc = psub_replace(s, t->dirfd, CHECKPOINT_NAME, buf, len);
    free(buf);
    t->appended_since_ckpt = 0;
    return rc;
}

int topic_emit(struct topic *t, uint8_t type, const void *body, size_t len) {
    if (!t->env->repl_sink || (type == REPLOG_GROUPS && len == 0)) return OBK_OK;
    return replog_emit(t->env->repl_sink, t->env->repl_ctx, type, t->db, t->key, t->keylen, body,
                       len);
}

int topic_flush_into(struct topic *t, struct psub *s, int64_t now_ms) {
    int rc = close_batch(t);
    if (rc != OBK_OK) return rc;
    if (t->meta_dirty && t->env->repl_sink) {
        uint8_t body[REPLOG_META_SIZE];
        struct replog_meta m = {t->created_ms,   t->retention_bytes, t->retention_ms,
                                t->expire_at_ms, t->compression,     t->compression_level};
        replog_encode_meta(body, &m);
        if ((rc = topic_emit(t, REPLOG_META, body, sizeof body)) != OBK_OK) return rc;
    }
    if (t->meta_dirty) {
        struct topic_meta m = {.created_ms = t->created_ms,
                               .incarnation = t->incarnation,
                               .retention_bytes = t->retention_bytes,
                               .retention_ms = t->retention_ms,
                               .expire_at_ms = t->expire_at_ms,
                               .compression = t->compression,
                               .compression_level = t->compression_level,
                               .key = t->key,
                               .keylen = t->keylen};
        uint8_t *buf;
        size_t len;
        if ((rc = keydir_encode_meta(&m, &buf, &len)) != OBK_OK) return rc;
        rc = psub_replace(s, t->dirfd, TOPIC_META_NAME, buf, len);
        free(buf);
        if (rc != OBK_OK || (rc = psub_sync_dir(s, t->dbfd)) != OBK_OK) return rc;
        t->meta_dirty = 0;
    }
    if (t->pend_len && (rc = topic_emit(t, REPLOG_BATCHES, t->pend, t->pend_len)) != OBK_OK)
        return rc;
    if (t->cg && (rc = topic_emit(t, REPLOG_GROUPS, t->cg->buf,
                                  t->cg->rec_open ? t->cg->rec_start : t->cg->len)) != OBK_OK)
        return rc;
    size_t nsegs = t->log.nsegs;
    size_t p = 0;
    int level = topic_effective_compression_level(t);
    while (p < t->pend_len) {
        struct batch_header h;
        if ((rc = batch_parse_header(t->pend + p, t->pend_len - p, &h)) != OBK_OK) return rc;
        size_t len = (size_t)batch_total_size(&h);
        const uint8_t *b = t->pend + p;
        size_t blen = len;
        /* out of memory while compressing leaves b the plain batch: written as it is */
        if (level > 0 && batch_compress(&t->env->zc, b, len, level, &b, &blen) == OBK_OK &&
            b != t->pend + p) {
            int hrc = batch_parse_header(b, blen, &h);
            OBK_ASSERT(hrc == OBK_OK); /* the compressor keeps the header valid */
        }
        if ((rc = tlog_append_batch(&t->log, b, blen, &h, now_ms, s)) != OBK_OK) return rc;
        p += len;
        t->appended_since_ckpt += blen;
    }
    t->pend_len = 0;
    /* group records after the data they may refer to, in the same submission */
    if ((rc = cgstore_flush_into(t->cg, &t->cglog, t->dirfd, s)) != OBK_OK) return rc;
    if ((t->log.nsegs > nsegs && nsegs > 0) || t->appended_since_ckpt >= TOPIC_CHECKPOINT_BYTES)
        rc = topic_checkpoint_into(t, s);
    return rc;
}

void topic_submitted(struct topic *t, uint64_t seq) {
    OBK_ASSERT(seq > t->last_seq); /* a topic's submissions strictly increase */
    t->last_seq = seq;
    ring_mark_submitted(&t->ring, seq);
    t->dirty = 0;
    topic_keep_state(t, seq); /* what a roll back after an I/O error returns to */
}

/* ---- what the server reads about a topic ---- */

const uint8_t *topic_key(const struct topic *t, size_t *len) {
    *len = t->keylen;
    return t->key;
}

int topic_db(const struct topic *t) {
    return t->db;
}

uint64_t topic_length(const struct topic *t) {
    return tstate_length(&t->st);
}

sid_t topic_last_id(const struct topic *t) {
    return t->st.last_id;
}

uint64_t topic_entries_added(const struct topic *t) {
    return t->st.entries_added;
}

sid_t topic_max_deleted(const struct topic *t) {
    return t->st.max_deleted;
}

uint64_t topic_start_offset(const struct topic *t) {
    return t->st.start_offset;
}

uint64_t topic_end_offset(const struct topic *t) {
    return t->st.end_offset;
}

uint64_t topic_wait_seq(const struct topic *t) {
    /* a dirty topic's changes travel in the next submission */
    return t->dirty ? t->env->next_seq : t->last_seq;
}

uint64_t topic_disk_bytes(const struct topic *t) {
    return t->log.bytes;
}

uint64_t topic_memory_bytes(const struct topic *t) {
    uint64_t n = sizeof(*t) + t->keylen;
    n += t->ring.bytes + t->ring.cap * sizeof(*t->ring.e); /* cached entries */
    n += t->pend_cap;                                      /* batches not yet submitted */
    n += t->log.cap * sizeof(*t->log.segs);
    for (size_t i = 0; i < t->log.nsegs; i++) {
        const struct segment *sg = t->log.segs[i];
        n += sizeof(*sg);
        if (!sg->idx.map) n += sg->idx.cap * SEGINDEX_ENTRY_SIZE; /* an index read to the heap */
    }
    return n + topic_groups_memory_bytes(t);
}

int64_t topic_retention_bytes(const struct topic *t) {
    return t->retention_bytes;
}

int64_t topic_retention_ms(const struct topic *t) {
    return t->retention_ms;
}

int64_t topic_expire_at(const struct topic *t) {
    return t->expire_at_ms;
}

int64_t topic_created_ms(const struct topic *t) {
    return t->created_ms;
}

int topic_has_groups(const struct topic *t) {
    return cg_group_count(t) > 0;
}
