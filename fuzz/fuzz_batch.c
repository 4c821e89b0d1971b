/* fuzz_batch.c - libFuzzer target for the record batch decoder (src/storage/batch_format.c)
 * and the replay rules that recovery runs on each batch (src/storage/tstate.c).
 *
 * Input: batches back to back. Each one's CRC is recomputed before it is checked (and, when
 * the top bit of byte 11 of its header is set, its length is set to what is left and the bit
 * cleared), so mutations reach the header checks, the zstd decompression of compressed DATA
 * batches (flag bit 0), the record decoders and tstate_apply instead of stopping at the CRC. A
 * DATA batch whose records decode is encoded again with the builder and must decode to the
 * same entries, and so must that batch compressed. Every batch that verifies is applied to one
 * stream state, as a recovery scan does; the checkpoint of that state must decode to an equal
 * state. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/status.h"
#include "storage/batch_format.h"
#include "storage/tstate.h"

#define MAX_FIELDS 4096

static void same_entries(const struct batch_header *h, const uint8_t *batch, const uint8_t *again,
                         const struct batch_header *h2) {
    struct batch_iter a, b;
    struct obk_entry ea, eb;
    int ra, rb;
    batch_iter_init(&a, h, batch);
    batch_iter_init(&b, h2, again);
    do {
        ra = batch_iter_next_data(&a, &ea);
        rb = batch_iter_next_data(&b, &eb);
        if (ra != rb) abort();
        if (ra != 1) break;
        if (sid_cmp(ea.id, eb.id) != 0 || ea.offset != eb.offset || ea.nfields != eb.nfields)
            abort();
        for (uint32_t i = 0; i < 2 * ea.nfields; i++)
            if (ea.fvlen[i] != eb.fvlen[i] || memcmp(ea.fv[i], eb.fv[i], ea.fvlen[i]) != 0) abort();
    } while (1);
    if (ra != 0) abort();
    batch_iter_free(&a);
    batch_iter_free(&b);
}

/* Decodes every record of a batch that passed its checks and encodes the DATA ones again. */
static void roundtrip(const struct batch_header *h, const uint8_t *batch) {
    struct batch_iter it;
    struct obk_entry e;
    int rc;
    if (h->type == BATCH_DATA) {
        struct batch_builder b;
        batch_builder_init(&b);
        if (batch_builder_begin(&b, BATCH_DATA, h->base_offset) != OBK_OK) abort();
        batch_iter_init(&it, h, batch);
        while ((rc = batch_iter_next_data(&it, &e)) == 1) {
            if (e.nfields > MAX_FIELDS) break;
            const uint8_t *const *fv = e.fv;
            if (batch_builder_add_data(&b, e.id, e.nfields, fv, e.fvlen) != OBK_OK) abort();
        }
        batch_iter_free(&it);
        if (rc == 0) {
            const uint8_t *out;
            size_t len;
            struct batch_header h2;
            if (batch_builder_finish(&b, h->append_ms, &out, &len) != OBK_OK) abort();
            if (batch_verify(out, len, &h2) != OBK_OK || batch_total_size(&h2) != len) abort();
            if (h2.count != h->count || sid_cmp(h2.first_id, h->first_id) != 0 ||
                sid_cmp(h2.last_id, h->last_id) != 0 || h2.base_offset != h->base_offset)
                abort();
            if (batch_check_records(&h2, out) != OBK_OK) abort();
            same_entries(h, batch, out, &h2);
            struct batch_compressor z;
            const uint8_t *zb;
            size_t zlen;
            struct batch_header hz;
            batch_compressor_init(&z);
            if (batch_compress(&z, out, len, 1, &zb, &zlen) == OBK_OK && zb != out) {
                if (batch_verify(zb, zlen, &hz) != OBK_OK || batch_check_records(&hz, zb) != OBK_OK)
                    abort();
                same_entries(h, batch, zb, &hz);
            }
            batch_compressor_free(&z);
        }
        batch_builder_free(&b);
    } else if (h->type == BATCH_DELETE) {
        sid_t id;
        uint64_t off;
        batch_iter_init(&it, h, batch);
        while ((rc = batch_iter_next_id(&it, &id, &off)) == 1) {
        }
        batch_iter_free(&it);
    }
}

static void check_checkpoint(const struct tstate *st) {
    uint8_t *buf;
    size_t len;
    if (tstate_encode_checkpoint(st, 0, 48, &buf, &len) != OBK_OK) return;
    struct tstate back;
    uint64_t base, pos;
    tstate_init(&back, 0);
    if (tstate_decode_checkpoint(buf, len, &back, &base, &pos) != OBK_OK) abort();
    if (base != 0 || pos != 48 || back.end_offset != st->end_offset ||
        back.start_offset != st->start_offset || sid_cmp(back.last_id, st->last_id) != 0 ||
        back.entries_added != st->entries_added || tstate_length(&back) != tstate_length(st))
        abort();
    tstate_free(&back);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) abort();
    memcpy(buf, data, size);
    struct tstate st;
    tstate_init(&st, 0);
    size_t pos = 0;
    while (size - pos >= BATCH_HEADER_SIZE) {
        uint8_t *p = buf + pos;
        size_t avail = size - pos;
        if (p[11] & 0x80) { /* no flag uses it: it asks for the length to be fixed */
            codec_put_u32(p, (uint32_t)(avail - 4));
            p[11] &= 0x7f;
        }
        uint32_t length = codec_get_u32(p);
        if (length >= 4 && (uint64_t)length + 4 <= avail)
            codec_put_u32(p + 4, crc32c(0, p + 8, length - 4));
        struct batch_header h;
        int rc = batch_verify(p, avail, &h);
        if (rc != OBK_OK) break;
        if (batch_total_size(&h) > avail) abort();
        if (batch_check_records(&h, p) == OBK_OK) {
            roundtrip(&h, p);
            tstate_apply(&st, &h, p);
        }
        pos += (size_t)batch_total_size(&h);
    }
    check_checkpoint(&st);
    tstate_free(&st);
    free(buf);
    return 0;
}
