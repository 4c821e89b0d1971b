/* batch_format.c - encode, verify and decode record batches (layout in batch_format.h and
 * docs/format.md).
 *
 * A builder owns one growable buffer; the header space is reserved at begin and filled at
 * finish, so a batch is encoded once and handed to the persist thread as is. Every add makes
 * room before it writes, so an add that runs out of memory leaves the batch as it was; a batch
 * with no record is never finished (it could not be read back). Decoding never
 * trusts a length before checking it against the bytes available, and record iteration checks
 * every varint and length against the batch end. Stateless apart from the objects passed in.
 *
 * Compression (zstd, DATA batches only): a finished batch is recompressed whole by
 * batch_compress, keeping its header (first and last IDs, offsets, count) readable without
 * decompressing, so the index, seeks and recovery's offset checks work on compressed
 * segments as on plain ones; the iterator decompresses the records at init into a buffer of
 * its own. The frame carries its content size, which must be at least one byte per record and
 * at most BATCH_MAX_SIZE, and must come out exactly. */
#include "storage/batch_format.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/obk_assert.h"
#include "base/status.h"

/* First allocation of a builder's buffer: room for a header and a few small records. */
#define BUILDER_MIN_CAP 4096

void batch_builder_init(struct batch_builder *b) {
    memset(b, 0, sizeof *b);
}

void batch_builder_free(struct batch_builder *b) {
    free(b->buf);
    free(b->prev_f);
    free(b->prev_flen);
    memset(b, 0, sizeof *b);
}

/* Room for more bytes after len; the buffer is unchanged when that fails. */
static int builder_reserve(struct batch_builder *b, size_t more) {
    if (more > SIZE_MAX / 2 - b->len) return OBK_ERR_NOMEM; /* the doubling below could wrap */
    if (b->len + more <= b->cap) return OBK_OK;
    size_t cap = b->cap ? b->cap : BUILDER_MIN_CAP;
    while (cap < b->len + more) cap *= 2;
    uint8_t *nb = realloc(b->buf, cap);
    if (!nb) return OBK_ERR_NOMEM;
    b->buf = nb;
    b->cap = cap;
    return OBK_OK;
}

int batch_builder_reserve(struct batch_builder *b, size_t more) {
    return builder_reserve(b, more);
}

int batch_builder_begin(struct batch_builder *b, uint8_t type, uint64_t base_offset) {
    b->len = 0; /* not started until the header has room */
    b->count = 0;
    if (builder_reserve(b, BATCH_HEADER_SIZE) != OBK_OK) return OBK_ERR_NOMEM;
    b->len = BATCH_HEADER_SIZE;
    b->type = type;
    b->base_offset = base_offset;
    b->first_id = b->last_id = b->prev_id = SID_MIN;
    b->prev_nf = 0;
    return OBK_OK;
}

static void builder_put_varint(struct batch_builder *b, uint64_t v) {
    b->len += codec_put_uvarint(b->buf + b->len, v);
}

static void builder_put_bytes(struct batch_builder *b, const void *p, size_t n) {
    if (n) memcpy(b->buf + b->len, p, n);
    b->len += n;
}

/* The ID as (ms_delta, seq_part) against the previous record; the first record's previous is
 * itself, so it encodes as 0, 0. */
static int builder_put_id(struct batch_builder *b, sid_t id) {
    if (b->count == 0) {
        b->first_id = b->prev_id = id;
    } else if (sid_cmp(id, b->prev_id) <= 0) {
        return OBK_ERR_INVAL;
    }
    uint64_t dms = id.ms - b->prev_id.ms;
    builder_put_varint(b, dms);
    builder_put_varint(b, dms == 0 ? id.seq - b->prev_id.seq : id.seq);
    b->prev_id = b->last_id = id;
    return OBK_OK;
}

static int builder_same_fields(const struct batch_builder *b, uint32_t nf, const uint8_t *const *fv,
                               const size_t *fvlen) {
    if (b->count == 0 || nf != b->prev_nf || nf == 0) return 0;
    for (uint32_t i = 0; i < nf; i++) {
        if (fvlen[2 * i] != b->prev_flen[i]) return 0;
        if (memcmp(fv[2 * i], b->buf + b->prev_f[i], fvlen[2 * i]) != 0) return 0;
    }
    return 1;
}

int batch_builder_add_data(struct batch_builder *b, sid_t id, uint32_t nfields,
                           const uint8_t *const *fv, const size_t *fvlen) {
    size_t need = 3 * CODEC_VARINT_MAX;
    for (uint32_t i = 0; i < 2 * nfields; i++) need += CODEC_VARINT_MAX + fvlen[i];
    if (b->type != BATCH_DATA || b->len < BATCH_HEADER_SIZE) return OBK_ERR_INVAL;
    if (b->count && sid_cmp(id, b->prev_id) <= 0) return OBK_ERR_INVAL;
    if (builder_reserve(b, need) != OBK_OK) return OBK_ERR_NOMEM;
    if (nfields > b->prev_cap) {
        size_t *nf = realloc(b->prev_f, nfields * sizeof *nf);
        if (!nf) return OBK_ERR_NOMEM;
        b->prev_f = nf;
        size_t *nl = realloc(b->prev_flen, nfields * sizeof *nl);
        if (!nl) return OBK_ERR_NOMEM;
        b->prev_flen = nl;
        b->prev_cap = nfields;
    }
    int same = builder_same_fields(b, nfields, fv, fvlen);
    builder_put_id(b, id);
    builder_put_varint(b, (uint64_t)nfields << 1 | (uint64_t)same);
    for (uint32_t i = 0; i < nfields; i++) {
        if (!same) {
            builder_put_varint(b, fvlen[2 * i]);
            b->prev_f[i] = b->len;
            b->prev_flen[i] = fvlen[2 * i];
            builder_put_bytes(b, fv[2 * i], fvlen[2 * i]);
        }
        builder_put_varint(b, fvlen[2 * i + 1]);
        builder_put_bytes(b, fv[2 * i + 1], fvlen[2 * i + 1]);
    }
    b->prev_nf = nfields;
    b->count++;
    return OBK_OK;
}

int batch_builder_add_delete(struct batch_builder *b, sid_t id, uint64_t offset) {
    if (b->type != BATCH_DELETE || b->len < BATCH_HEADER_SIZE) return OBK_ERR_INVAL;
    _Static_assert(BATCH_DELETE_RECORD_MAX == 3 * CODEC_VARINT_MAX, "delete record size");
    if (builder_reserve(b, BATCH_DELETE_RECORD_MAX) != OBK_OK) return OBK_ERR_NOMEM;
    int rc = builder_put_id(b, id);
    if (rc != OBK_OK) return rc;
    builder_put_varint(b, offset);
    b->count++;
    return OBK_OK;
}

int batch_builder_add_trim(struct batch_builder *b, uint64_t start_offset, sid_t last_id) {
    if (b->type != BATCH_TRIM || b->count || b->len < BATCH_HEADER_SIZE) return OBK_ERR_INVAL;
    if (builder_reserve(b, CODEC_VARINT_MAX) != OBK_OK) return OBK_ERR_NOMEM;
    builder_put_varint(b, start_offset);
    b->first_id = b->last_id = last_id;
    b->count = 1;
    return OBK_OK;
}

int batch_builder_add_meta(struct batch_builder *b, sid_t last_id, uint64_t entries_added,
                           sid_t max_deleted) {
    if (b->type != BATCH_META || b->count || b->len < BATCH_HEADER_SIZE) return OBK_ERR_INVAL;
    if (builder_reserve(b, 5 * CODEC_VARINT_MAX) != OBK_OK) return OBK_ERR_NOMEM;
    builder_put_varint(b, last_id.ms);
    builder_put_varint(b, last_id.seq);
    builder_put_varint(b, entries_added);
    builder_put_varint(b, max_deleted.ms);
    builder_put_varint(b, max_deleted.seq);
    b->first_id = b->last_id = last_id;
    b->count = 1;
    return OBK_OK;
}

int batch_builder_finish(struct batch_builder *b, uint64_t append_ms, const uint8_t **out,
                         size_t *outlen) {
    uint8_t *p = b->buf;
    /* a batch holds at least one record (a begin that failed, or adds that all failed, leave
     * nothing to write), and a started batch has room for its header */
    if (b->count == 0) return OBK_ERR_INVAL;
    OBK_ASSERT(p != NULL && b->len >= BATCH_HEADER_SIZE && b->cap >= b->len);
    codec_put_u32(p, (uint32_t)(b->len - 4));
    p[8] = BATCH_MAGIC;
    p[9] = b->type;
    codec_put_u16(p + 10, 0);
    codec_put_u64(p + 12, b->base_offset);
    codec_put_u32(p + 20, b->count);
    codec_put_u64(p + 24, b->first_id.ms);
    codec_put_u64(p + 32, b->first_id.seq);
    codec_put_u64(p + 40, b->last_id.ms);
    codec_put_u64(p + 48, b->last_id.seq);
    codec_put_u64(p + 56, append_ms);
    codec_put_u32(p + 4, crc32c(0, p + 8, b->len - 8));
    *out = p;
    *outlen = b->len;
    return OBK_OK;
}

int batch_parse_header(const uint8_t *p, size_t avail, struct batch_header *h) {
    if (avail < BATCH_HEADER_SIZE) return OBK_ERR_AGAIN;
    h->length = codec_get_u32(p);
    h->crc = codec_get_u32(p + 4);
    h->magic = p[8];
    h->type = p[9];
    h->flags = codec_get_u16(p + 10);
    h->base_offset = codec_get_u64(p + 12);
    h->count = codec_get_u32(p + 20);
    h->first_id = (sid_t){codec_get_u64(p + 24), codec_get_u64(p + 32)};
    h->last_id = (sid_t){codec_get_u64(p + 40), codec_get_u64(p + 48)};
    h->append_ms = codec_get_u64(p + 56);
    if (h->length < BATCH_HEADER_SIZE - 4 || h->length > BATCH_MAX_SIZE) return OBK_ERR_CORRUPT;
    if (h->magic != BATCH_MAGIC || (h->flags & ~BATCH_FLAG_ZSTD)) return OBK_ERR_CORRUPT;
    if (h->type < BATCH_DATA || h->type > BATCH_META) return OBK_ERR_CORRUPT;
    if ((h->flags & BATCH_FLAG_ZSTD) && h->type != BATCH_DATA) return OBK_ERR_CORRUPT;
    if (h->count == 0 || sid_cmp(h->first_id, h->last_id) > 0) return OBK_ERR_CORRUPT;
    /* every record takes at least one byte (checked after decompressing for a compressed one) */
    if (!(h->flags & BATCH_FLAG_ZSTD) && h->count > h->length - (BATCH_HEADER_SIZE - 4))
        return OBK_ERR_CORRUPT;
    return OBK_OK;
}

int batch_verify(const uint8_t *p, size_t len, struct batch_header *h) {
    int rc = batch_parse_header(p, len, h);
    if (rc != OBK_OK) return rc;
    if (batch_total_size(h) > len) return OBK_ERR_AGAIN;
    if (crc32c(0, p + 8, h->length - 4) != h->crc) return OBK_ERR_CORRUPT;
    return OBK_OK;
}

void batch_compressor_init(struct batch_compressor *z) {
    memset(z, 0, sizeof *z);
}

void batch_compressor_free(struct batch_compressor *z) {
    ZSTD_freeCCtx(z->cctx);
    free(z->buf);
    memset(z, 0, sizeof *z);
}

int batch_compress(struct batch_compressor *z, const uint8_t *batch, size_t len, int level,
                   const uint8_t **out, size_t *outlen) {
    *out = batch;
    *outlen = len;
    OBK_ASSERT(len >= BATCH_HEADER_SIZE);
    if (batch[9] != BATCH_DATA || codec_get_u16(batch + 10) != 0) return OBK_OK;
    size_t plain = len - BATCH_HEADER_SIZE, bound = ZSTD_compressBound(plain);
    if (BATCH_HEADER_SIZE + bound > z->cap) {
        uint8_t *nb = realloc(z->buf, BATCH_HEADER_SIZE + bound);
        if (!nb) return OBK_ERR_NOMEM;
        z->buf = nb;
        z->cap = BATCH_HEADER_SIZE + bound;
    }
    if (!z->cctx && !(z->cctx = ZSTD_createCCtx())) return OBK_ERR_NOMEM;
    size_t n = ZSTD_compressCCtx(z->cctx, z->buf + BATCH_HEADER_SIZE, bound,
                                 batch + BATCH_HEADER_SIZE, plain, level);
    if (ZSTD_isError(n))
        return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? OBK_ERR_NOMEM
                                                                    : OBK_OK; /* written as is */
    if (n >= plain) return OBK_OK;                                            /* no gain */
    uint8_t *p = z->buf;
    memcpy(p, batch, BATCH_HEADER_SIZE);
    codec_put_u32(p, (uint32_t)(BATCH_HEADER_SIZE - 4 + n));
    codec_put_u16(p + 10, BATCH_FLAG_ZSTD);
    codec_put_u32(p + 4, crc32c(0, p + 8, BATCH_HEADER_SIZE - 8 + n));
    *out = p;
    *outlen = BATCH_HEADER_SIZE + n;
    return OBK_OK;
}

/* One decompression context per thread (readers run on the main thread, recovery on the
 * loader thread, obelisk-check in its own): creating one per batch cost 13 us of a 19 us
 * decompression of 64 KiB. Freed when its thread ends. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;

static void dctx_free(void *d) {
    ZSTD_freeDCtx(d);
}

static void dctx_key_create(void) {
    int rc = pthread_key_create(&dctx_key, dctx_free);
    OBK_ASSERT(rc == 0); /* only fails past PTHREAD_KEYS_MAX keys */
}

static ZSTD_DCtx *thread_dctx(void) {
    pthread_once(&dctx_once, dctx_key_create);
    ZSTD_DCtx *d = pthread_getspecific(dctx_key);
    if (!d && (d = ZSTD_createDCtx()) && pthread_setspecific(dctx_key, d) != 0) {
        ZSTD_freeDCtx(d);
        d = NULL;
    }
    return d;
}

/* Decompresses a compressed batch's records into it->plain. */
static int iter_decompress(struct batch_iter *it, const uint8_t *src, size_t srclen) {
    unsigned long long size = ZSTD_getFrameContentSize(src, srclen);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ||
        size > BATCH_MAX_SIZE || size < it->h.count)
        return OBK_ERR_CORRUPT;
    ZSTD_DCtx *d = thread_dctx();
    if (!d || !(it->plain = malloc(size ? (size_t)size : 1))) return OBK_ERR_NOMEM;
    size_t n = ZSTD_decompressDCtx(d, it->plain, (size_t)size, src, srclen);
    if (ZSTD_isError(n))
        return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? OBK_ERR_NOMEM
                                                                    : OBK_ERR_CORRUPT;
    if (n != size) return OBK_ERR_CORRUPT;
    it->p = it->plain;
    it->end = it->plain + n;
    return OBK_OK;
}

void batch_iter_init(struct batch_iter *it, const struct batch_header *h, const uint8_t *batch) {
    memset(it, 0, sizeof *it);
    it->h = *h;
    it->p = batch + BATCH_HEADER_SIZE;
    it->end = batch + batch_total_size(h);
    it->prev = h->first_id;
    if (h->flags & BATCH_FLAG_ZSTD) {
        it->status = iter_decompress(it, it->p, (size_t)(it->end - it->p));
        if (it->status != OBK_OK) it->p = it->end = NULL;
    }
}

void batch_iter_free(struct batch_iter *it) {
    free(it->fv);
    free(it->fvlen);
    free(it->plain);
    it->fv = NULL;
    it->fvlen = NULL;
    it->plain = NULL;
}

uint8_t *batch_iter_take_buffer(struct batch_iter *it) {
    uint8_t *p = it->plain;
    it->plain = NULL;
    return p;
}

static int iter_varint(struct batch_iter *it, uint64_t *v) {
    size_t n = codec_get_uvarint(it->p, (size_t)(it->end - it->p), v);
    if (!n) return OBK_ERR_CORRUPT;
    it->p += n;
    return OBK_OK;
}

static int iter_id(struct batch_iter *it, sid_t *id) {
    uint64_t dms, seq;
    if (iter_varint(it, &dms) || iter_varint(it, &seq)) return OBK_ERR_CORRUPT;
    sid_t nid;
    if (dms == 0) {
        nid.ms = it->prev.ms;
        nid.seq = it->prev.seq + seq;
        if (nid.seq < it->prev.seq) return OBK_ERR_CORRUPT;
    } else {
        nid.ms = it->prev.ms + dms;
        nid.seq = seq;
        if (nid.ms < it->prev.ms) return OBK_ERR_CORRUPT;
    }
    /* the first record must be first_id itself, later ones strictly ascending */
    if (it->i == 0 ? sid_cmp(nid, it->h.first_id) != 0 : sid_cmp(nid, it->prev) <= 0)
        return OBK_ERR_CORRUPT;
    if (sid_cmp(nid, it->h.last_id) > 0) return OBK_ERR_CORRUPT;
    if (it->i + 1 == it->h.count && sid_cmp(nid, it->h.last_id) != 0) return OBK_ERR_CORRUPT;
    it->prev = *id = nid;
    return OBK_OK;
}

static int iter_bytes(struct batch_iter *it, const uint8_t **p, size_t *len) {
    uint64_t n;
    if (iter_varint(it, &n)) return OBK_ERR_CORRUPT;
    if (n > (uint64_t)(it->end - it->p)) return OBK_ERR_CORRUPT;
    *p = it->p;
    *len = (size_t)n;
    it->p += n;
    return OBK_OK;
}

int batch_iter_next_data(struct batch_iter *it, struct obk_entry *e) {
    if (it->h.type != BATCH_DATA) return OBK_ERR_INVAL;
    if (it->status != OBK_OK) return it->status;
    if (it->i == it->h.count) return it->p == it->end ? 0 : OBK_ERR_CORRUPT;
    uint64_t hdr;
    if (iter_id(it, &e->id) || iter_varint(it, &hdr)) return OBK_ERR_CORRUPT;
    uint64_t nf = hdr >> 1;
    int same = (int)(hdr & 1);
    /* each pair takes at least one byte, so a count past the end is garbage */
    if (nf > (uint64_t)(it->end - it->p)) return OBK_ERR_CORRUPT;
    if (same && (it->i == 0 || nf != it->prev_nf)) return OBK_ERR_CORRUPT;
    if (nf > it->fv_cap) {
        const uint8_t **nfv = realloc(it->fv, 2 * nf * sizeof *nfv);
        if (!nfv) return OBK_ERR_NOMEM;
        it->fv = nfv;
        size_t *nl = realloc(it->fvlen, 2 * nf * sizeof *nl);
        if (!nl) return OBK_ERR_NOMEM;
        it->fvlen = nl;
        it->fv_cap = (uint32_t)nf;
    }
    for (uint64_t i = 0; i < nf; i++) {
        /* with same_fields the field pointers of the previous record stay in place */
        if (!same && iter_bytes(it, &it->fv[2 * i], &it->fvlen[2 * i])) return OBK_ERR_CORRUPT;
        if (iter_bytes(it, &it->fv[2 * i + 1], &it->fvlen[2 * i + 1])) return OBK_ERR_CORRUPT;
    }
    e->offset = it->h.base_offset + it->i;
    e->nfields = (uint32_t)nf;
    e->fv = it->fv;
    e->fvlen = it->fvlen;
    it->prev_nf = (uint32_t)nf;
    it->i++;
    return 1;
}

int batch_iter_next_id(struct batch_iter *it, sid_t *id, uint64_t *offset) {
    if (it->h.type != BATCH_DELETE) return OBK_ERR_INVAL;
    if (it->status != OBK_OK) return it->status;
    if (it->i == it->h.count) return it->p == it->end ? 0 : OBK_ERR_CORRUPT;
    if (iter_id(it, id) || iter_varint(it, offset)) return OBK_ERR_CORRUPT;
    if (*offset >= it->h.base_offset) return OBK_ERR_CORRUPT; /* deletes only existing entries */
    it->i++;
    return 1;
}

int batch_decode_trim(const struct batch_header *h, const uint8_t *batch, uint64_t *start_offset) {
    struct batch_iter it;
    if (h->type != BATCH_TRIM || h->count != 1) return OBK_ERR_CORRUPT;
    batch_iter_init(&it, h, batch);
    if (iter_varint(&it, start_offset) || it.p != it.end) return OBK_ERR_CORRUPT;
    return OBK_OK;
}

int batch_decode_meta(const struct batch_header *h, const uint8_t *batch, sid_t *last_id,
                      uint64_t *entries_added, sid_t *max_deleted) {
    struct batch_iter it;
    if (h->type != BATCH_META || h->count != 1) return OBK_ERR_CORRUPT;
    batch_iter_init(&it, h, batch);
    if (iter_varint(&it, &last_id->ms) || iter_varint(&it, &last_id->seq) ||
        iter_varint(&it, entries_added) || iter_varint(&it, &max_deleted->ms) ||
        iter_varint(&it, &max_deleted->seq) || it.p != it.end)
        return OBK_ERR_CORRUPT;
    return OBK_OK;
}

int batch_check_records(const struct batch_header *h, const uint8_t *batch) {
    return batch_check_records_why(h, batch, NULL);
}

int batch_check_records_why(const struct batch_header *h, const uint8_t *batch, const char **why) {
    struct batch_iter it;
    int rc = OBK_OK;
    batch_iter_init(&it, h, batch);
    if (why)
        *why = it.status != OBK_OK ? "its zstd frame does not decompress to its stated size"
               : (h->flags & BATCH_FLAG_ZSTD) ? "its decompressed records fail their checks"
                                              : "its records fail their checks";
    if (h->type == BATCH_DATA) {
        struct obk_entry e;
        while ((rc = batch_iter_next_data(&it, &e)) == 1) {
        }
        /* the iterator ends (0) only after exactly count records */
        OBK_ASSERT(rc != 0 || it.i == h->count);
    } else if (h->type == BATCH_DELETE) {
        sid_t id;
        uint64_t off;
        while ((rc = batch_iter_next_id(&it, &id, &off)) == 1) {
        }
        OBK_ASSERT(rc != 0 || it.i == h->count);
    } else if (h->type == BATCH_TRIM) {
        uint64_t so;
        rc = batch_decode_trim(h, batch, &so);
    } else {
        sid_t a, b;
        uint64_t n;
        rc = batch_decode_meta(h, batch, &a, &n, &b);
    }
    batch_iter_free(&it);
    if (rc >= 0 && why) *why = NULL;
    return rc < 0 ? rc : OBK_OK;
}
