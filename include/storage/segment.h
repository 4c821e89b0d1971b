/* segment.h - one segment of a topic log: the .log file header, file names, and a buffered
 * reader that hands out whole, CRC-checked batches.
 *
 * Segment file (.log), little-endian:
 *   header (SEGMENT_HEADER_SIZE bytes)
 *     off size field
 *       0    4 magic        "OBKL" (0x4C4B424F)
 *       4    2 version      1
 *       6    2 reserved     zero
 *       8    8 base_offset  dense offset of the first DATA record (= the name)
 *      16    8 first_ms     ID of the first DATA record (0-0 when the segment began with
 *      24    8 first_seq    a non-DATA batch)
 *      32    8 created_ms   wall clock at creation (segment-ms roll)
 *      40    4 reserved     zero
 *      44    4 crc          CRC-32C of bytes 0..43
 *   then record batches back to back (batch_format.h). */
#ifndef OBK_SEGMENT_H
#define OBK_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/batch_format.h"
#include "storage/fdlru.h"
#include "storage/segindex.h"
#include "storage/sid.h"

#define SEGMENT_MAGIC       0x4C4B424Fu
#define SEGMENT_VERSION     1
#define SEGMENT_HEADER_SIZE 48
/* "%020llu.log" plus NUL */
#define SEGMENT_NAME_MAX 32

struct pfile;

/* A segment as its topic knows it (built by recovery or a roll; see tlog.h for the threads). */
struct segment {
    uint64_t base_offset;
    uint64_t end_offset;     /* offset after its last DATA record */
    sid_t first_id;          /* from the header */
    sid_t last_id;           /* last DATA ID (0-0 until known; known for the active segment) */
    uint64_t size;           /* bytes including batches handed to the persist thread */
    uint64_t last_index_pos; /* position of the last indexed batch */
    int64_t created_ms;
    int64_t modified_ms; /* last append (sealed segments after open: the file's mtime) */
    int sealed;
    int has_data;            /* holds at least one DATA batch */
    int rfd;                 /* read-only descriptor, opened on demand (tlog_segment_fd); -1 */
    struct fdlru_node rnode; /* rfd's place in the log's read LRU */
    int idx_state;           /* SEGIDX_* */
    int idx_force_rebuild;   /* the .idx file failed a check on use: scan instead */
    int damage_logged;       /* a read met damage here and said so (once) */
    struct segindex idx;
    struct pfile *log_pf; /* persist-thread handles (NULL until written by this process) */
    struct pfile *idx_pf;
};

enum { SEGIDX_UNLOADED = 0, SEGIDX_READY = 1 };

void segment_name(char *buf, uint64_t base_offset, const char *ext);
/* Parses "<20 digits>.<ext>"; returns 1 and the base offset when the name matches. */
int segment_parse_name(const char *name, const char *ext, uint64_t *base_offset);
void segment_encode_header(uint8_t *buf, uint64_t base_offset, sid_t first_id, int64_t created);
int segment_decode_header(const uint8_t *buf, uint64_t *base_offset, sid_t *first_id,
                          int64_t *created);

/* Reads batches forward from a file descriptor with a read-ahead buffer. */
struct segreader {
    int fd;
    uint64_t limit; /* file size: nothing at or past it is read */
    uint8_t *buf;
    size_t cap;
    uint64_t buf_pos; /* file position of buf[0] */
    size_t buf_len;
};
void segreader_init(struct segreader *r, int fd, uint64_t limit);
void segreader_free(struct segreader *r);
/* The batch at pos: OBK_OK with *batch pointing at its bytes (valid until the next call),
 * OBK_ERR_AGAIN when the file ends before the batch does (a torn tail: past limit),
 * OBK_ERR_CORRUPT when the header or CRC fails, OBK_ERR_IO on a read error. */
int segreader_batch(struct segreader *r, uint64_t pos, const uint8_t **batch,
                    struct batch_header *h);

#endif
