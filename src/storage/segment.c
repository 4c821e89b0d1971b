/* segment.c - segment file header, names and the batch reader (layout in segment.h).
 *
 * The reader reads ahead SEGREADER_CHUNK bytes per pread so a forward scan of small batches
 * costs one system call per chunk, and grows its buffer for a batch larger than that. Used by
 * recovery (inside store_open, on the server's loader thread), by reads on the main thread and by
 * obelisk-check; never by the persist thread. */
#include "storage/segment.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/status.h"

/* Read-ahead: 64 KiB covers many small batches per system call without wasting much when a
 * lookup only needs one batch. */
#define SEGREADER_CHUNK (64 * 1024)

void segment_name(char *buf, uint64_t base_offset, const char *ext) {
    snprintf(buf, SEGMENT_NAME_MAX, "%020" PRIu64 ".%s", base_offset, ext);
}

int segment_parse_name(const char *name, const char *ext, uint64_t *base_offset) {
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (name[20] != '.' || strcmp(name + 21, ext) != 0) return 0;
    *base_offset = v;
    return 1;
}

void segment_encode_header(uint8_t *buf, uint64_t base_offset, sid_t first_id, int64_t created) {
    memset(buf, 0, SEGMENT_HEADER_SIZE);
    codec_put_u32(buf, SEGMENT_MAGIC);
    codec_put_u16(buf + 4, SEGMENT_VERSION);
    codec_put_u64(buf + 8, base_offset);
    codec_put_u64(buf + 16, first_id.ms);
    codec_put_u64(buf + 24, first_id.seq);
    codec_put_u64(buf + 32, (uint64_t)created);
    codec_put_u32(buf + 44, crc32c(0, buf, 44));
}

int segment_decode_header(const uint8_t *buf, uint64_t *base_offset, sid_t *first_id,
                          int64_t *created) {
    if (codec_get_u32(buf) != SEGMENT_MAGIC) return OBK_ERR_CORRUPT;
    if (codec_get_u32(buf + 44) != crc32c(0, buf, 44)) return OBK_ERR_CORRUPT;
    if (codec_get_u16(buf + 4) != SEGMENT_VERSION) return OBK_ERR_VERSION;
    *base_offset = codec_get_u64(buf + 8);
    first_id->ms = codec_get_u64(buf + 16);
    first_id->seq = codec_get_u64(buf + 24);
    *created = (int64_t)codec_get_u64(buf + 32);
    return OBK_OK;
}

void segreader_init(struct segreader *r, int fd, uint64_t limit) {
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->limit = limit;
}

void segreader_free(struct segreader *r) {
    free(r->buf);
    r->buf = NULL;
}

/* Makes bytes [pos, pos+len) available in the buffer; OBK_ERR_AGAIN if the file ends first. */
static int segreader_fill(struct segreader *r, uint64_t pos, size_t len) {
    if (pos + len > r->limit) return OBK_ERR_AGAIN;
    if (pos >= r->buf_pos && pos + len <= r->buf_pos + r->buf_len) return OBK_OK;
    size_t want = len > SEGREADER_CHUNK ? len : SEGREADER_CHUNK;
    if (pos + want > r->limit) want = (size_t)(r->limit - pos);
    if (want > r->cap) {
        uint8_t *nb = realloc(r->buf, want);
        if (!nb) return OBK_ERR_NOMEM;
        r->buf = nb;
        r->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(r->fd, r->buf + got, want - got, (off_t)(pos + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return OBK_ERR_IO;
        if (n == 0) break;
        got += (size_t)n;
    }
    r->buf_pos = pos;
    r->buf_len = got;
    return got >= len ? OBK_OK : OBK_ERR_AGAIN;
}

int segreader_batch(struct segreader *r, uint64_t pos, const uint8_t **batch,
                    struct batch_header *h) {
    int rc = segreader_fill(r, pos, BATCH_HEADER_SIZE);
    if (rc != OBK_OK) return rc;
    const uint8_t *p = r->buf + (pos - r->buf_pos);
    rc = batch_parse_header(p, BATCH_HEADER_SIZE, h);
    if (rc != OBK_OK) return rc;
    uint64_t total = batch_total_size(h);
    rc = segreader_fill(r, pos, (size_t)total);
    if (rc != OBK_OK) return rc;
    p = r->buf + (pos - r->buf_pos);
    rc = batch_verify(p, (size_t)total, h);
    if (rc != OBK_OK) return rc;
    *batch = p;
    return OBK_OK;
}
