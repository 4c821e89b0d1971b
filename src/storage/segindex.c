/* segindex.c - sparse segment index: in-memory lookups and the .idx file (layout in
 * segindex.h). Rebuilt by an unclean recovery inside store_open (the server's loader thread),
 * otherwise loaded lazily by the main thread, which owns every index once the store is open;
 * the persist thread only receives encoded entries to append to the file. Lookups are binary
 * searches over fixed-size little-endian entries, so a mapped file is searched without being
 * decoded or copied. */
#include "storage/segindex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/status.h"

void segindex_init(struct segindex *ix) {
    memset(ix, 0, sizeof *ix);
}

void segindex_free(struct segindex *ix) {
    if (ix->map)
        munmap(ix->map, ix->map_len);
    else
        free(ix->data);
    segindex_init(ix);
}

struct segindex_entry segindex_get(const struct segindex *ix, size_t i) {
    const uint8_t *p = ix->data + i * SEGINDEX_ENTRY_SIZE;
    struct segindex_entry e;
    e.id.ms = codec_get_u64(p);
    e.id.seq = codec_get_u64(p + 8);
    e.rel_offset = codec_get_u32(p + 16);
    e.pos = codec_get_u32(p + 20);
    return e;
}

void segindex_encode_entry(uint8_t *buf, const struct segindex_entry *e) {
    codec_put_u64(buf, e->id.ms);
    codec_put_u64(buf + 8, e->id.seq);
    codec_put_u32(buf + 16, e->rel_offset);
    codec_put_u32(buf + 20, e->pos);
}

void segindex_encode_header(uint8_t *buf, uint64_t base_offset) {
    memset(buf, 0, SEGINDEX_HEADER_SIZE);
    codec_put_u32(buf, SEGINDEX_MAGIC);
    codec_put_u16(buf + 4, SEGINDEX_VERSION);
    codec_put_u16(buf + 6, SEGINDEX_ENTRY_SIZE);
    codec_put_u64(buf + 8, base_offset);
    codec_put_u32(buf + 28, crc32c(0, buf, 28));
}

/* Moves a mapped index to the heap so it can grow. */
static int segindex_unmap(struct segindex *ix) {
    size_t cap = ix->n ? ix->n * 2 : 16;
    uint8_t *d = malloc(cap * SEGINDEX_ENTRY_SIZE);
    if (!d) return OBK_ERR_NOMEM;
    if (ix->n) memcpy(d, ix->data, ix->n * SEGINDEX_ENTRY_SIZE);
    munmap(ix->map, ix->map_len);
    ix->map = NULL;
    ix->map_len = 0;
    ix->data = d;
    ix->cap = cap;
    return OBK_OK;
}

int segindex_truncate(struct segindex *ix, size_t n) {
    if (n > ix->n) return OBK_ERR_INVAL;
    ix->n = n;
    return ix->map ? segindex_unmap(ix) : OBK_OK;
}

int segindex_append(struct segindex *ix, sid_t id, uint32_t rel_offset, uint32_t pos) {
    if (ix->map && segindex_unmap(ix) != OBK_OK) return OBK_ERR_NOMEM;
    if (ix->n) {
        struct segindex_entry last = segindex_get(ix, ix->n - 1);
        if (sid_cmp(id, last.id) <= 0 || rel_offset < last.rel_offset || pos <= last.pos)
            return OBK_ERR_INVAL;
    }
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 16;
        uint8_t *d = realloc(ix->data, cap * SEGINDEX_ENTRY_SIZE);
        if (!d) return OBK_ERR_NOMEM;
        ix->data = d;
        ix->cap = cap;
    }
    struct segindex_entry e = {id, rel_offset, pos};
    segindex_encode_entry(ix->data + ix->n * SEGINDEX_ENTRY_SIZE, &e);
    ix->n++;
    return OBK_OK;
}

long segindex_lookup_id(const struct segindex *ix, sid_t id) {
    long lo = 0, hi = (long)ix->n - 1, ans = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (sid_cmp(segindex_get(ix, (size_t)mid).id, id) <= 0) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

long segindex_lookup_offset(const struct segindex *ix, uint32_t rel) {
    long lo = 0, hi = (long)ix->n - 1, ans = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (segindex_get(ix, (size_t)mid).rel_offset <= rel) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

int segindex_load(int dirfd, const char *name, uint64_t base_offset, uint64_t seg_size,
                  struct segindex *out) {
    int rc = OBK_ERR_CORRUPT;
    void *map = MAP_FAILED;
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    segindex_init(out);
    if (fd < 0) {
        rc = errno == ENOENT                      ? OBK_ERR_NOTFOUND
             : errno == EMFILE || errno == ENFILE ? OBK_ERR_NOFILES
                                                  : OBK_ERR_IO;
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        rc = OBK_ERR_IO;
        goto done;
    }
    if ((size_t)st.st_size < SEGINDEX_HEADER_SIZE + SEGINDEX_ENTRY_SIZE) goto done;
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = OBK_ERR_IO;
        goto done;
    }
    const uint8_t *h = map;
    if (codec_get_u32(h) != SEGINDEX_MAGIC || codec_get_u16(h + 4) != SEGINDEX_VERSION ||
        codec_get_u16(h + 6) != SEGINDEX_ENTRY_SIZE || codec_get_u64(h + 8) != base_offset ||
        codec_get_u32(h + 28) != crc32c(0, h, 28))
        goto done;
    out->map = map;
    out->map_len = (size_t)st.st_size;
    out->data = (uint8_t *)map + SEGINDEX_HEADER_SIZE;
    out->n = ((size_t)st.st_size - SEGINDEX_HEADER_SIZE) / SEGINDEX_ENTRY_SIZE;
    for (size_t i = 0; i < out->n; i++) {
        struct segindex_entry e = segindex_get(out, i);
        if (e.pos >= seg_size) goto done;
        if (i == 0) continue;
        struct segindex_entry p = segindex_get(out, i - 1);
        if (sid_cmp(e.id, p.id) <= 0 || e.rel_offset < p.rel_offset || e.pos <= p.pos) goto done;
    }
    map = MAP_FAILED; /* owned by out now */
    rc = OBK_OK;
done:
    if (rc != OBK_OK && out->map) {
        map = out->map;
        out->map = NULL;
        segindex_init(out);
    }
    if (map != MAP_FAILED) munmap(map, (size_t)st.st_size);
    if (fd >= 0) close(fd);
    return rc;
}
