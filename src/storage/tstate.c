/* tstate.c - stream state beside the entries, its replay rules and the checkpoint codec (layout
 * in tstate.h). Owned by whoever holds the struct: recovery, which builds a topic's state inside
 * store_open (the server's loader thread), then the topic on the main thread.
 *
 * Replay rules: DATA must continue the dense offsets exactly (base_offset == end_offset) with
 * IDs above the last ID; DELETE adds tombstones and raises max_deleted; TRIM moves the log
 * start forward; META sets last ID, entries_added and max_deleted (XSETID), and begins an epoch
 * when the new last ID is below an entry stored in the current one (see tstate.h). */
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
    free(st->ep);
    st->ep = NULL;
    st->nep = st->epcap = 0;
}

int tstate_copy(struct tstate *dst, const struct tstate *src) {
    *dst = *src;
    dst->tomb = NULL;
    dst->tcap = 0;
    dst->ep = NULL;
    if (src->ntomb) {
        dst->tomb = malloc(src->ntomb * sizeof *dst->tomb);
        if (!dst->tomb) goto nomem;
        memcpy(dst->tomb, src->tomb, src->ntomb * sizeof *dst->tomb);
        dst->tcap = src->ntomb;
    }
    dst->epcap = 0;
    if (src->nep) {
        dst->ep = malloc(src->nep * sizeof *dst->ep);
        if (!dst->ep) goto nomem;
        memcpy(dst->ep, src->ep, src->nep * sizeof *dst->ep);
        dst->epcap = src->nep;
    }
    return OBK_OK;
nomem:
    free(dst->tomb);
    dst->tomb = NULL;
    dst->ntomb = dst->tcap = dst->nep = dst->epcap = 0;
    return OBK_ERR_NOMEM;
}

sid_t tstate_ceiling(const struct tstate *st, uint64_t offset) {
    sid_t c = SID_MAX;
    for (size_t k = st->nep; k-- > 0 && st->ep[k].boundary > offset;)
        if (sid_cmp(st->ep[k].ceiling, c) < 0) c = st->ep[k].ceiling;
    return c;
}

sid_t tstate_key(const struct tstate *st, uint64_t offset, sid_t id) {
    if (!st->nep) return id;
    sid_t c = tstate_ceiling(st, offset);
    return sid_cmp(id, c) < 0 ? id : c;
}

int tstate_epoch_reserve(struct tstate *st) {
    if (st->nep < st->epcap) return OBK_OK;
    size_t cap = st->epcap ? 2 * st->epcap : 4;
    struct tepoch *ne = realloc(st->ep, cap * sizeof *ne);
    if (!ne) return OBK_ERR_NOMEM;
    st->ep = ne;
    st->epcap = cap;
    return OBK_OK;
}

int tstate_set_last(struct tstate *st, sid_t last) {
    if (sid_cmp(last, st->epoch_max) < 0) { /* stored entries above it: a new epoch */
        if (st->nep && st->ep[st->nep - 1].boundary == st->end_offset) {
            st->ep[st->nep - 1].ceiling = last; /* nothing stored since the last one began */
        } else {
            int rc = tstate_epoch_reserve(st);
            if (rc != OBK_OK) return rc;
            st->ep[st->nep++] = (struct tepoch){st->end_offset, last};
        }
        st->epoch_max = SID_MIN;
    } else if (st->nep && sid_cmp(last, st->ep[st->nep - 1].ceiling) < 0) {
        st->ep[st->nep - 1].ceiling = last; /* what lies below the boundary and above last is
                                               dead: XSETID never goes below a live entry */
    }
    st->last_id = last;
    return OBK_OK;
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

int tstate_is_deleted_at(const struct tstate *st, uint64_t offset) {
    if (!st->ntomb) return 0;
    size_t i = tomb_lower_offset(st, offset);
    return i < st->ntomb && st->tomb[i].offset == offset;
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

/* 1 when no epoch begins in (a, b] (a < b). */
static int same_epoch(const struct tstate *st, uint64_t a, uint64_t b) {
    for (size_t k = 0; k < st->nep; k++)
        if (st->ep[k].boundary > a && st->ep[k].boundary <= b) return 0;
    return 1;
}

int tstate_tomb_add(struct tstate *st, sid_t id, uint64_t offset) {
    /* a tombstone marks an entry still in the log: callers skip offsets below the start, and
     * only existing offsets (below the end) can be deleted */
    OBK_ASSERT(offset >= st->start_offset && offset < st->end_offset);
    size_t i = tomb_lower_offset(st, offset);
    if (i < st->ntomb && st->tomb[i].offset == offset) /* again: the same entry, or damage */
        return sid_cmp(st->tomb[i].id, id) == 0 ? OBK_OK : OBK_ERR_CORRUPT;
    /* within one epoch IDs grow with offsets: a neighbour that says otherwise is damage */
    if ((i > 0 && same_epoch(st, st->tomb[i - 1].offset, offset) &&
         sid_cmp(st->tomb[i - 1].id, id) >= 0) ||
        (i < st->ntomb && same_epoch(st, offset, st->tomb[i].offset) &&
         sid_cmp(id, st->tomb[i].id) >= 0))
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
        if (sid_cmp(h->last_id, st->epoch_max) > 0) st->epoch_max = h->last_id;
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
        if ((rc = tstate_set_last(st, last)) != OBK_OK) return rc;
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
    size_t n = CHECKPOINT_FIXED + CHECKPOINT_TOMB * st->ntomb + 8 + CHECKPOINT_EPOCH * st->nep + 4;
    uint8_t *b = calloc(1, n);
    if (!b) return OBK_ERR_NOMEM;
    codec_put_u32(b, CHECKPOINT_MAGIC);
    codec_put_u16(b + 4, CHECKPOINT_VERSION);
    codec_put_u64(b + 8, seg_base);
    codec_put_u64(b + 16, pos);
    codec_put_u64(b + 24, st->start_offset);
    put_sid(b + 32, st->epoch_max);
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
    uint8_t *e = b + CHECKPOINT_FIXED + CHECKPOINT_TOMB * st->ntomb;
    codec_put_u64(e, st->nep);
    for (size_t k = 0; k < st->nep; k++) {
        codec_put_u64(e + 8 + CHECKPOINT_EPOCH * k, st->ep[k].boundary);
        put_sid(e + 16 + CHECKPOINT_EPOCH * k, st->ep[k].ceiling);
    }
    codec_put_u32(b + n - 4, crc32c(0, b, n - 4));
    *out = b;
    *len = n;
    return OBK_OK;
}

int tstate_decode_checkpoint(const uint8_t *b, size_t len, struct tstate *st, uint64_t *seg_base,
                             uint64_t *pos) {
    if (len < CHECKPOINT_FIXED + 4 || codec_get_u32(b) != CHECKPOINT_MAGIC) return OBK_ERR_CORRUPT;
    if (codec_get_u32(b + len - 4) != crc32c(0, b, len - 4)) return OBK_ERR_CORRUPT;
    uint16_t version = codec_get_u16(b + 4);
    if (version != 1 && version != CHECKPOINT_VERSION) return OBK_ERR_VERSION;
    uint64_t nt = codec_get_u64(b + 96), ne = 0;
    size_t body = len - CHECKPOINT_FIXED - 4; /* tombstones, then (version 2) the epochs */
    if (nt > body / CHECKPOINT_TOMB) return OBK_ERR_CORRUPT;
    size_t rest = body - CHECKPOINT_TOMB * nt;
    const uint8_t *e = b + CHECKPOINT_FIXED + CHECKPOINT_TOMB * nt;
    if (version == 1 ? rest != 0 : rest < 8) return OBK_ERR_CORRUPT;
    if (version != 1) {
        ne = codec_get_u64(e);
        if (ne > (rest - 8) / CHECKPOINT_EPOCH || 8 + CHECKPOINT_EPOCH * ne != rest)
            return OBK_ERR_CORRUPT;
    }
    tstate_init(st, 0);
    *seg_base = codec_get_u64(b + 8);
    *pos = codec_get_u64(b + 16);
    st->start_offset = codec_get_u64(b + 24);
    st->end_offset = codec_get_u64(b + 48);
    st->last_id = get_sid(b + 56);
    st->entries_added = codec_get_u64(b + 72);
    st->max_deleted = get_sid(b + 80);
    /* version 1 had no epochs, so nothing stored was above the last ID */
    st->epoch_max = version == 1 ? st->last_id : get_sid(b + 32);
    if (st->start_offset > st->end_offset || nt > st->end_offset - st->start_offset)
        return OBK_ERR_CORRUPT;
    if (nt && !(st->tomb = malloc(nt * sizeof *st->tomb))) return OBK_ERR_NOMEM;
    st->tcap = st->ntomb = nt;
    for (size_t i = 0; i < nt; i++) {
        const uint8_t *p = b + CHECKPOINT_FIXED + CHECKPOINT_TOMB * i;
        st->tomb[i] = (struct tomb){get_sid(p), codec_get_u64(p + 16)};
        if (st->tomb[i].offset < st->start_offset || st->tomb[i].offset >= st->end_offset ||
            (i && st->tomb[i].offset <= st->tomb[i - 1].offset))
            goto corrupt;
    }
    if (ne && !(st->ep = malloc(ne * sizeof *st->ep))) {
        tstate_free(st);
        return OBK_ERR_NOMEM;
    }
    st->nep = st->epcap = ne;
    for (size_t k = 0; k < ne; k++) {
        st->ep[k].boundary = codec_get_u64(e + 8 + CHECKPOINT_EPOCH * k);
        st->ep[k].ceiling = get_sid(e + 16 + CHECKPOINT_EPOCH * k);
        if (st->ep[k].boundary > st->end_offset ||
            (k && st->ep[k].boundary <= st->ep[k - 1].boundary))
            goto corrupt;
    }
    return OBK_OK;
corrupt:
    tstate_free(st);
    return OBK_ERR_CORRUPT;
}
