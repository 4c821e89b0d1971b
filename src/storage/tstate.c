/* tstate.c - stream state beside the entries, its replay rules and the checkpoint codec (layout
 * in tstate.h). Owned by whoever holds the struct: recovery, which builds a topic's state inside
 * store_open (the server's loader thread), then the topic on the main thread.
 *
 * Replay rules: DATA must continue the dense offsets exactly (base_offset == end_offset) with
 * IDs above the last ID; DELETE adds tombstones and raises max_deleted; TRIM moves the log
 * start forward; META sets last ID, entries_added and max_deleted (XSETID). */
#include "storage/tstate.h"

#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/obk_assert.h"
#include "base/status.h"

void tstate_init(struct tstate *st, uint64_t start_offset) {
    memset(st, 0, sizeof *st);
    st->start_offset = st->end_offset = st->entries_added = start_offset;
}

void tstate_free(struct tstate *st) {
    free(st->tomb);
    st->tomb = NULL;
    st->ntomb = st->tcap = 0;
}

int tstate_copy(struct tstate *dst, const struct tstate *src) {
    *dst = *src;
    dst->tomb = NULL;
    dst->tcap = 0;
    if (src->ntomb) {
        dst->tomb = malloc(src->ntomb * sizeof *dst->tomb);
        if (!dst->tomb) return OBK_ERR_NOMEM;
        memcpy(dst->tomb, src->tomb, src->ntomb * sizeof *dst->tomb);
        dst->tcap = src->ntomb;
    }
    return OBK_OK;
}

/* First index with tomb[i].id >= id. */
static size_t tomb_lower(const struct tstate *st, sid_t id) {
    size_t lo = 0, hi = st->ntomb;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sid_cmp(st->tomb[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First index with tomb[i].offset >= offset. */
static size_t tomb_lower_offset(const struct tstate *st, uint64_t offset) {
    size_t lo = 0, hi = st->ntomb;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->tomb[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t tstate_tombs_from(const struct tstate *st, uint64_t offset) {
    return st->ntomb - tomb_lower_offset(st, offset);
}

int tstate_is_deleted(const struct tstate *st, sid_t id) {
    if (!st->ntomb) return 0;
    size_t i = tomb_lower(st, id);
    return i < st->ntomb && sid_cmp(st->tomb[i].id, id) == 0;
}

int tstate_tomb_reserve(struct tstate *st, size_t n) {
    if (n <= st->tcap - st->ntomb) return OBK_OK;
    if (n > SIZE_MAX / (4 * sizeof *st->tomb) - st->ntomb) return OBK_ERR_NOMEM;
    size_t cap = st->tcap ? st->tcap : 16;
    while (cap < st->ntomb + n) cap *= 2;
    struct tomb *nt = realloc(st->tomb, cap * sizeof *nt);
    if (!nt) return OBK_ERR_NOMEM;
    st->tomb = nt;
    st->tcap = cap;
    return OBK_OK;
}

int tstate_tomb_add(struct tstate *st, sid_t id, uint64_t offset) {
    /* a tombstone marks an entry still in the log: callers skip offsets below the start, and
     * only existing offsets (below the end) can be deleted */
    OBK_ASSERT(offset >= st->start_offset && offset < st->end_offset);
    size_t i = tomb_lower(st, id);
    if (i < st->ntomb && sid_cmp(st->tomb[i].id, id) == 0)
        return st->tomb[i].offset == offset ? OBK_OK : OBK_ERR_CORRUPT;
    /* IDs grow with offsets, so tombstones ordered by ID are ordered by offset too; a pair that
     * breaks that (one offset under two IDs) is damage, not a state to keep */
    if ((i > 0 && st->tomb[i - 1].offset >= offset) ||
        (i < st->ntomb && st->tomb[i].offset <= offset))
        return OBK_ERR_CORRUPT;
    int rc = tstate_tomb_reserve(st, 1);
    if (rc != OBK_OK) return rc;
    memmove(st->tomb + i + 1, st->tomb + i, (st->ntomb - i) * sizeof *st->tomb);
    st->tomb[i] = (struct tomb){id, offset};
    st->ntomb++;
    if (sid_cmp(id, st->max_deleted) > 0) st->max_deleted = id;
    return OBK_OK;
}

void tstate_set_start(struct tstate *st, uint64_t start_offset) {
    if (start_offset > st->end_offset) start_offset = st->end_offset;
    if (start_offset > st->start_offset) st->start_offset = start_offset;
    size_t k = tomb_lower_offset(st, st->start_offset);
    if (k == 0) return;
    memmove(st->tomb, st->tomb + k, (st->ntomb - k) * sizeof *st->tomb);
    st->ntomb -= k;
}

int tstate_apply(struct tstate *st, const struct batch_header *h, const uint8_t *batch) {
    int rc = OBK_OK;
    switch (h->type) {
    case BATCH_DATA:
        if (h->base_offset != st->end_offset) return OBK_ERR_CORRUPT;
        if (st->end_offset > st->start_offset || !sid_is_zero(st->last_id))
            if (sid_cmp(h->first_id, st->last_id) <= 0) return OBK_ERR_CORRUPT;
        st->end_offset += h->count;
        st->entries_added += h->count;
        st->last_id = h->last_id;
        return OBK_OK;
    case BATCH_DELETE: {
        struct batch_iter it;
        sid_t id;
        uint64_t off;
        if (h->base_offset != st->end_offset) return OBK_ERR_CORRUPT;
        batch_iter_init(&it, h, batch);
        while ((rc = batch_iter_next_id(&it, &id, &off)) == 1) {
            if (sid_cmp(id, st->last_id) > 0) {
                rc = OBK_ERR_CORRUPT;
                break;
            }
            if (off >= st->end_offset) { /* deletes only entries before the batch */
                rc = OBK_ERR_CORRUPT;
                break;
            }
            if (sid_cmp(id, st->max_deleted) > 0) st->max_deleted = id;
            if (off < st->start_offset) continue;
            if ((rc = tstate_tomb_add(st, id, off)) != OBK_OK) break;
        }
        batch_iter_free(&it);
        return rc < 0 ? rc : OBK_OK;
    }
    case BATCH_TRIM: {
        uint64_t so;
        if ((rc = batch_decode_trim(h, batch, &so)) != OBK_OK) return rc;
        if (so > st->end_offset || h->base_offset != st->end_offset) return OBK_ERR_CORRUPT;
        tstate_set_start(st, so);
        return OBK_OK;
    }
    case BATCH_META: {
        sid_t last, md;
        uint64_t added;
        if ((rc = batch_decode_meta(h, batch, &last, &added, &md)) != OBK_OK) return rc;
        if (h->base_offset != st->end_offset) return OBK_ERR_CORRUPT;
        st->last_id = last;
        st->entries_added = added;
        st->max_deleted = md;
        return OBK_OK;
    }
    }
    return OBK_ERR_CORRUPT;
}

static void put_sid(uint8_t *p, sid_t id) {
    codec_put_u64(p, id.ms);
    codec_put_u64(p + 8, id.seq);
}

static sid_t get_sid(const uint8_t *p) {
    return (sid_t){codec_get_u64(p), codec_get_u64(p + 8)};
}

int tstate_encode_checkpoint(const struct tstate *st, uint64_t seg_base, uint64_t pos,
                             uint8_t **out, size_t *len) {
    size_t n = CHECKPOINT_FIXED + CHECKPOINT_TOMB * st->ntomb + 4;
    uint8_t *b = calloc(1, n);
    if (!b) return OBK_ERR_NOMEM;
    codec_put_u32(b, CHECKPOINT_MAGIC);
    codec_put_u16(b + 4, CHECKPOINT_VERSION);
    codec_put_u64(b + 8, seg_base);
    codec_put_u64(b + 16, pos);
    codec_put_u64(b + 24, st->start_offset);
    codec_put_u64(b + 48, st->end_offset);
    put_sid(b + 56, st->last_id);
    codec_put_u64(b + 72, st->entries_added);
    put_sid(b + 80, st->max_deleted);
    codec_put_u64(b + 96, st->ntomb);
    for (size_t i = 0; i < st->ntomb; i++) {
        uint8_t *p = b + CHECKPOINT_FIXED + CHECKPOINT_TOMB * i;
        put_sid(p, st->tomb[i].id);
        codec_put_u64(p + 16, st->tomb[i].offset);
    }
    codec_put_u32(b + n - 4, crc32c(0, b, n - 4));
    *out = b;
    *len = n;
    return OBK_OK;
}

int tstate_decode_checkpoint(const uint8_t *b, size_t len, struct tstate *st, uint64_t *seg_base,
                             uint64_t *pos) {
    if (len < CHECKPOINT_FIXED + 4 || codec_get_u32(b) != CHECKPOINT_MAGIC) return OBK_ERR_CORRUPT;
    uint64_t nt = codec_get_u64(b + 96);
    if (nt > (len - CHECKPOINT_FIXED - 4) / CHECKPOINT_TOMB ||
        CHECKPOINT_FIXED + CHECKPOINT_TOMB * nt + 4 != len)
        return OBK_ERR_CORRUPT;
    if (codec_get_u32(b + len - 4) != crc32c(0, b, len - 4)) return OBK_ERR_CORRUPT;
    if (codec_get_u16(b + 4) != CHECKPOINT_VERSION) return OBK_ERR_VERSION;
    tstate_init(st, 0);
    *seg_base = codec_get_u64(b + 8);
    *pos = codec_get_u64(b + 16);
    st->start_offset = codec_get_u64(b + 24);
    st->end_offset = codec_get_u64(b + 48);
    st->last_id = get_sid(b + 56);
    st->entries_added = codec_get_u64(b + 72);
    st->max_deleted = get_sid(b + 80);
    if (st->start_offset > st->end_offset || nt > st->end_offset - st->start_offset)
        return OBK_ERR_CORRUPT;
    if (nt) {
        st->tomb = malloc(nt * sizeof *st->tomb);
        if (!st->tomb) return OBK_ERR_NOMEM;
        st->tcap = st->ntomb = nt;
        for (size_t i = 0; i < nt; i++) {
            const uint8_t *p = b + CHECKPOINT_FIXED + CHECKPOINT_TOMB * i;
            st->tomb[i] = (struct tomb){get_sid(p), codec_get_u64(p + 16)};
            if (st->tomb[i].offset < st->start_offset || st->tomb[i].offset >= st->end_offset ||
                (i && (sid_cmp(st->tomb[i].id, st->tomb[i - 1].id) <= 0 ||
                       st->tomb[i].offset <= st->tomb[i - 1].offset))) {
                tstate_free(st);
                return OBK_ERR_CORRUPT;
            }
        }
    }
    return OBK_OK;
}
