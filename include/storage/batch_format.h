/* batch_format.h - record batches, the unit of every segment write (Kafka v2 style).
 *
 * Batch header (BATCH_HEADER_SIZE bytes, little-endian):
 *   off size field
 *     0    4 length       bytes after this field (header rest + records)
 *     4    4 crc          CRC-32C of bytes 8 .. 4+length (everything after the crc field)
 *     8    1 magic        BATCH_MAGIC (format version of the batch)
 *     9    1 type         BATCH_DATA / DELETE / TRIM / META
 *    10    2 flags        bit 0 (BATCH_FLAG_ZSTD, DATA only): the records are one zstd frame
 *    12    8 base_offset  DATA: dense offset of the first record; others: log end offset
 *    20    4 count        records in the batch
 *    24    8 first_ms     first record's ID (TRIM, META: the stream's last ID)
 *    32    8 first_seq
 *    40    8 last_ms      last record's ID
 *    48    8 last_seq
 *    56    8 append_ms    wall clock when the batch was sealed
 *    64      records
 * Records (varints, see docs/format.md):
 *   DATA   ms_delta, seq_part, hdr = nfields<<1 | same_fields, then per pair:
 *          [flen, field] (omitted when same_fields), vlen, value
 *          ms_delta = ms - previous ms (the first record's previous is first_id, so 0, 0);
 *          seq_part = seq - previous seq when ms_delta == 0, else seq.
 *   DELETE ms_delta, seq_part, offset (IDs ascending; offset = the entry's dense offset)
 *   TRIM   new log start offset (first_id = last_id = the stream's last ID)
 *   META   last_ms, last_seq, entries_added, max_deleted_ms, max_deleted_seq
 * Compressed (BATCH_FLAG_ZSTD): the header is the same and the CRC covers the compressed bytes;
 * after the header comes one zstd frame, with its content size, whose content is the records
 * as above. Iterators decompress it at init, so every reader sees the same records. */
#ifndef OBK_BATCH_FORMAT_H
#define OBK_BATCH_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/entry.h"
#include "storage/sid.h"

#define BATCH_HEADER_SIZE    64
#define BATCH_MAGIC          1
#define BATCH_FLAG_ZSTD      1u /* DATA records compressed as one zstd frame */
#define BATCH_ZSTD_LEVEL_MAX 19
/* A batch may not claim more than this (a torn or garbage length is caught before reading). */
#define BATCH_MAX_SIZE (1u << 30)

enum batch_type { BATCH_DATA = 1, BATCH_DELETE = 2, BATCH_TRIM = 3, BATCH_META = 4 };

struct batch_header {
    uint32_t length;
    uint32_t crc;
    uint8_t magic;
    uint8_t type;
    uint16_t flags;
    uint64_t base_offset;
    uint32_t count;
    sid_t first_id;
    sid_t last_id;
    uint64_t append_ms;
};

/* Total bytes of the batch on disk. */
static inline uint64_t batch_total_size(const struct batch_header *h) {
    return 4 + (uint64_t)h->length;
}

/* Encodes one batch: call batch_builder_begin, add records, then batch_builder_finish, which
 * fills the header (crc included) and hands out the bytes. Owned by one thread. */
struct batch_builder {
    uint8_t *buf;
    size_t len, cap;
    uint8_t type;
    uint64_t base_offset;
    uint32_t count;
    sid_t first_id, last_id, prev_id;
    /* the previous DATA record's field names (offsets into buf) for same_fields */
    size_t *prev_f;
    size_t *prev_flen;
    uint32_t prev_nf, prev_cap;
};

void batch_builder_init(struct batch_builder *b);
void batch_builder_free(struct batch_builder *b);
/* Starts a batch (keeps the buffer's memory; reserves room for the header). OBK_ERR_NOMEM
 * leaves no batch started: adds fail until a begin succeeds. */
int batch_builder_begin(struct batch_builder *b, uint8_t type, uint64_t base_offset);
/* Makes room for more bytes of records, so that adds of that size cannot run out of memory
 * half way through a change (XDEL reserves for all its IDs first). */
int batch_builder_reserve(struct batch_builder *b, size_t more);
/* DATA: id must be greater than the previous record's. fv/fvlen hold 2*nfields items. */
int batch_builder_add_data(struct batch_builder *b, sid_t id, uint32_t nfields,
                           const uint8_t *const *fv, const size_t *fvlen);
/* Bytes a DELETE record takes at most (ms delta, seq part, offset). */
#define BATCH_DELETE_RECORD_MAX (3 * 10)
int batch_builder_add_delete(struct batch_builder *b, sid_t id, uint64_t offset);
int batch_builder_add_trim(struct batch_builder *b, uint64_t start_offset, sid_t last_id);
int batch_builder_add_meta(struct batch_builder *b, sid_t last_id, uint64_t entries_added,
                           sid_t max_deleted);
/* Bytes the finished batch will take (header included). */
static inline size_t batch_builder_size(const struct batch_builder *b) {
    return b->len;
}
/* Writes the header. *out points into the builder (valid until the next begin).
 * OBK_ERR_INVAL when the batch has no record: a batch on disk holds at least one, so an empty
 * one is dropped by its owner, never written. */
int batch_builder_finish(struct batch_builder *b, uint64_t append_ms, const uint8_t **out,
                         size_t *outlen);

/* Decodes the fixed header from p (avail bytes). OBK_ERR_AGAIN when fewer than
 * BATCH_HEADER_SIZE bytes (or fewer than the claimed length) are available, OBK_ERR_CORRUPT when
 * a field is impossible. Does not check the CRC. */
int batch_parse_header(const uint8_t *p, size_t avail, struct batch_header *h);
/* Header checks plus the CRC over the whole batch (len = batch_total_size bytes at p). */
int batch_verify(const uint8_t *p, size_t len, struct batch_header *h);

/* Compresses finished DATA batches (one zstd context, reused; owned by one thread). */
struct batch_compressor {
    void *cctx; /* ZSTD_CCtx, created on first use */
    uint8_t *buf;
    size_t cap;
};
void batch_compressor_init(struct batch_compressor *z);
void batch_compressor_free(struct batch_compressor *z);
/* The batch at batch (len bytes, finished, uncompressed) compressed at level (1..19) into z's
 * buffer: *out and *outlen name it (valid until the next call). A batch that is not DATA, or whose
 * compressed form would not be smaller, is handed back as is (*out = batch). OBK_ERR_NOMEM
 * when memory runs out, with *out = batch too (the caller may write it as is). */
int batch_compress(struct batch_compressor *z, const uint8_t *batch, size_t len, int level,
                   const uint8_t **out, size_t *outlen);

/* Iterates the records of a verified batch. The views point into the batch bytes, or for a
 * compressed batch into the iterator's decompressed copy (valid until batch_iter_free, unless
 * taken with batch_iter_take_buffer). */
struct batch_iter {
    struct batch_header h;
    const uint8_t *p, *end;
    uint32_t i;
    sid_t prev;
    const uint8_t **fv;
    size_t *fvlen;
    uint32_t fv_cap;  /* pairs the arrays hold */
    uint32_t prev_nf; /* pairs of the previous record (same_fields) */
    uint8_t *plain;   /* a compressed batch's records, decompressed at init */
    int status;       /* OBK_ERR_CORRUPT / OBK_ERR_NOMEM when decompressing failed */
};
/* A compressed batch is decompressed here; a frame that fails (or whose size disagrees with the
 * header) makes every next call return OBK_ERR_CORRUPT. */
void batch_iter_init(struct batch_iter *it, const struct batch_header *h, const uint8_t *batch);
void batch_iter_free(struct batch_iter *it);
/* Hands the decompressed records (NULL for a plain batch) to the caller, who frees them, so
 * the views of the entries read stay valid after batch_iter_free. */
uint8_t *batch_iter_take_buffer(struct batch_iter *it);
/* DATA: next entry into *e. Returns 1 (an entry), 0 (end), OBK_ERR_CORRUPT or OBK_ERR_NOMEM. */
int batch_iter_next_data(struct batch_iter *it, struct obk_entry *e);
/* DELETE: next deleted ID and its offset. */
int batch_iter_next_id(struct batch_iter *it, sid_t *id, uint64_t *offset);
/* TRIM / META single record. */
int batch_decode_trim(const struct batch_header *h, const uint8_t *batch, uint64_t *start_offset);
int batch_decode_meta(const struct batch_header *h, const uint8_t *batch, sid_t *last_id,
                      uint64_t *entries_added, sid_t *max_deleted);
/* Walks every record (full decode) and checks IDs ascend from first_id to last_id and the
 * count matches: the check recovery runs on each batch after the CRC. */
int batch_check_records(const struct batch_header *h, const uint8_t *batch);
/* The same, and on damage *why (when not NULL) says what failed, for reports: a zstd frame
 * that does not decompress, decompressed records that fail their checks, or plain records. */
int batch_check_records_why(const struct batch_header *h, const uint8_t *batch, const char **why);

#endif
