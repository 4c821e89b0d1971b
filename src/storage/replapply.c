/* replapply.c - applies the primary's replication records to a replica's store (see
 * replapply.h). Idempotent inside a record: a DATA batch interrupted by backpressure resumes
 * by skipping the entries already at or below the topic's last ID, and the other batch types
 * are applied whole. Every DATA entry must land at the dense offset the primary gave it; a
 * mismatch means the two data sets differ, and the caller resynchronizes instead of storing a
 * stream with other offsets. Main thread (the store's owner). */
#include "storage/replapply.h"

#include <stdlib.h>

#include "base/status.h"
#include "storage/batch_format.h"
#include "storage/entry.h"
#include "storage/topic.h"
#include "topic_impl.h"

/* The record's topic, created when missing (BATCHES, GROUPS and META name live topics). */
static int topic_for(struct store *s, const struct replog_rec *r, struct topic **t) {
    *t = store_lookup(s, r->db, r->key, r->keylen);
    if (*t) return OBK_OK;
    return store_create(s, r->db, r->key, r->keylen, t);
}

static int apply_data(struct topic *t, const struct batch_header *h, const uint8_t *b) {
    struct batch_iter it;
    struct obk_entry e;
    int rc = OBK_OK, more;
    batch_iter_init(&it, h, b);
    while ((more = batch_iter_next_data(&it, &e)) == 1) {
        if (e.offset < topic_end_offset(t)) {
            /* applied already: before the cache filled, or before a restart that continues
             * from an earlier offset; it must be the same entry (trimmed ones cannot be told) */
            sid_t have;
            if (e.offset < topic_start_offset(t) ||
                (topic_id_at(t, e.offset, &have) == OBK_OK && sid_cmp(have, e.id) == 0))
                continue;
            rc = OBK_ERR_CORRUPT;
            break;
        }
        if (e.offset != topic_end_offset(t)) {
            rc = OBK_ERR_CORRUPT;
            break;
        }
        if ((rc = topic_append(t, e.id, e.nfields, e.fv, e.fvlen)) != OBK_OK) break;
    }
    if (more < 0) rc = more;
    batch_iter_free(&it);
    return rc == OBK_ERR_RANGE ? OBK_ERR_CORRUPT : rc;
}

static int apply_delete(struct topic *t, const struct batch_header *h, const uint8_t *b) {
    struct batch_iter it;
    sid_t *ids = malloc((size_t)h->count * sizeof(*ids));
    uint64_t offset, deleted;
    int rc = OBK_OK, more;
    size_t n = 0;
    if (!ids) return OBK_ERR_NOMEM;
    batch_iter_init(&it, h, b);
    while (n < h->count && (more = batch_iter_next_id(&it, &ids[n], &offset)) == 1) n++;
    batch_iter_free(&it);
    if (n != h->count) rc = OBK_ERR_CORRUPT;
    if (rc == OBK_OK) rc = topic_delete_ids(t, ids, n, &deleted);
    free(ids);
    return rc;
}

static int apply_batch(struct topic *t, const struct batch_header *h, const uint8_t *b) {
    uint64_t start, removed, added;
    sid_t last, max_deleted;
    int rc;
    switch (h->type) {
    case BATCH_DATA: return apply_data(t, h, b);
    case BATCH_DELETE: return apply_delete(t, h, b);
    case BATCH_TRIM:
        if ((rc = batch_decode_trim(h, b, &start)) != OBK_OK) return rc;
        rc = topic_trim_to(t, start, &removed);
        return rc == OBK_ERR_RANGE ? OBK_ERR_CORRUPT : rc;
    case BATCH_META:
        if ((rc = batch_decode_meta(h, b, &last, &added, &max_deleted)) != OBK_OK) return rc;
        if (sid_cmp(last, topic_last_id(t)) == 0 && added == topic_entries_added(t) &&
            sid_cmp(max_deleted, topic_max_deleted(t)) == 0)
            return OBK_OK; /* applied already */
        rc = topic_setid(t, last, 1, added, 1, max_deleted);
        return rc == OBK_ERR_RANGE ? OBK_ERR_CORRUPT : rc;
    default: return OBK_ERR_CORRUPT;
    }
}

static int apply_batches(struct topic *t, const struct replog_rec *r, struct replapply *st) {
    while (st->body_pos < r->bodylen) {
        struct batch_header h;
        const uint8_t *b = r->body + st->body_pos;
        size_t avail = r->bodylen - st->body_pos;
        int rc = batch_parse_header(b, avail, &h);
        if (rc != OBK_OK || batch_total_size(&h) > avail) return OBK_ERR_CORRUPT;
        size_t len = (size_t)batch_total_size(&h);
        if (batch_verify(b, len, &h) != OBK_OK || batch_check_records(&h, b) != OBK_OK)
            return OBK_ERR_CORRUPT;
        if ((rc = apply_batch(t, &h, b)) != OBK_OK) return rc;
        st->body_pos += len;
    }
    return OBK_OK;
}

static int apply_meta(struct topic *t, const struct replog_rec *r) {
    struct replog_meta m;
    int rc = replog_decode_meta(r, &m);
    if (rc != OBK_OK) return rc;
    if (m.retention_bytes != t->retention_bytes || m.retention_ms != t->retention_ms)
        rc = topic_set_retention(t, m.retention_bytes, m.retention_ms);
    if (rc == OBK_OK && m.expire_at_ms != t->expire_at_ms) rc = topic_set_expire(t, m.expire_at_ms);
    if (rc == OBK_OK &&
        (m.compression != t->compression || m.compression_level != t->compression_level))
        rc = topic_set_compression(t, m.compression, m.compression_level);
    if (rc == OBK_OK && m.created_ms != t->created_ms) {
        t->created_ms = m.created_ms;
        t->meta_dirty = 1;
        topic_mark_dirty(t);
    }
    return rc;
}

int replapply_record(struct store *s, const struct replog_rec *r, struct replapply *st) {
    struct topic *t;
    int rc;
    switch (r->type) {
    case REPLOG_NOP: return OBK_OK;
    case REPLOG_DELETE:
        rc = store_delete(s, r->db, r->key, r->keylen);
        return rc == OBK_ERR_NOTFOUND ? OBK_OK : rc;
    case REPLOG_RENAME:
        rc = store_rename(s, r->db, r->key, r->keylen, r->body, r->bodylen);
        return rc == OBK_ERR_NOTFOUND ? OBK_OK : rc;
    case REPLOG_BATCHES:
    case REPLOG_GROUPS:
    case REPLOG_META:
        if ((rc = topic_for(s, r, &t)) != OBK_OK) return rc == OBK_ERR_INVAL ? OBK_ERR_CORRUPT : rc;
        if (r->type == REPLOG_META) return apply_meta(t, r);
        if (r->type == REPLOG_GROUPS) return topic_import_group_records(t, r->body, r->bodylen);
        return apply_batches(t, r, st);
    default: return OBK_ERR_CORRUPT;
    }
}
