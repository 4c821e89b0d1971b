/* test_tlog.c - sparse index lookups (before the first entry, exact, between, after the last),
 * index files (load, checks), and the roll rules of tlog_append_batch: segment-bytes,
 * segment-ms, 32-bit relative offset overflow, never an empty segment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/tlog.h"
#include "storetest.h"

static void test_index_lookups(void **state) {
    (void)state;
    struct segindex ix;
    segindex_init(&ix);
    /* batches starting at IDs 10-0, 20-5, 30-0 (rel offsets 0, 7, 15; positions 48, 4200, 9000) */
    assert_int_equal(segindex_append(&ix, (sid_t){10, 0}, 0, 48), OBK_OK);
    assert_int_equal(segindex_append(&ix, (sid_t){20, 5}, 7, 4200), OBK_OK);
    assert_int_equal(segindex_append(&ix, (sid_t){30, 0}, 15, 9000), OBK_OK);
    assert_int_equal(segindex_append(&ix, (sid_t){30, 0}, 16, 9100), OBK_ERR_INVAL); /* order */
    assert_int_equal(segindex_lookup_id(&ix, (sid_t){9, 99}), -1); /* before the first */
    assert_int_equal(segindex_lookup_id(&ix, (sid_t){10, 0}), 0);  /* exact */
    assert_int_equal(segindex_lookup_id(&ix, (sid_t){20, 4}), 0);  /* between */
    assert_int_equal(segindex_lookup_id(&ix, (sid_t){20, 5}), 1);  /* exact */
    assert_int_equal(segindex_lookup_id(&ix, (sid_t){29, 0}), 1);  /* between */
    assert_int_equal(segindex_lookup_id(&ix, (sid_t){30, 0}), 2);  /* exact, last */
    assert_int_equal(segindex_lookup_id(&ix, SID_MAX), 2);         /* after the last */
    assert_int_equal(segindex_lookup_offset(&ix, 0), 0);
    assert_int_equal(segindex_lookup_offset(&ix, 6), 0);
    assert_int_equal(segindex_lookup_offset(&ix, 7), 1);
    assert_int_equal(segindex_lookup_offset(&ix, 1000), 2);
    struct segindex_entry e = segindex_get(&ix, 1);
    assert_true(e.id.ms == 20 && e.id.seq == 5 && e.rel_offset == 7 && e.pos == 4200);

    /* the file form: loads, and fails its checks when damaged */
    char dir[256];
    storetest_tmpdir(dir, sizeof dir, "tlog");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    uint8_t buf[SEGINDEX_HEADER_SIZE + 3 * SEGINDEX_ENTRY_SIZE + 5];
    segindex_encode_header(buf, 1000);
    memcpy(buf + SEGINDEX_HEADER_SIZE, ix.data, 3 * SEGINDEX_ENTRY_SIZE);
    memset(buf + sizeof buf - 5, 0xab, 5); /* a torn trailing entry is ignored */
    int fd = openat(dfd, "x.idx", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    close(fd);
    struct segindex ld;
    assert_int_equal(segindex_load(dfd, "x.idx", 1000, 10000, &ld), OBK_OK);
    assert_int_equal(ld.n, 3);
    assert_int_equal(segindex_lookup_id(&ld, (sid_t){25, 0}), 1);
    assert_int_equal(segindex_append(&ld, (sid_t){40, 0}, 20, 9500), OBK_OK); /* leaves the map */
    assert_int_equal(ld.n, 4);
    segindex_free(&ld);
    assert_int_equal(segindex_load(dfd, "x.idx", 1001, 10000, &ld), OBK_ERR_CORRUPT); /* base */
    assert_int_equal(segindex_load(dfd, "x.idx", 1000, 5000, &ld), OBK_ERR_CORRUPT);  /* pos */
    assert_int_equal(segindex_load(dfd, "none.idx", 1000, 5000, &ld), OBK_ERR_NOTFOUND);
    buf[SEGINDEX_HEADER_SIZE + SEGINDEX_ENTRY_SIZE + 3] ^= 0x40; /* entry 1 id > entry 2 id */
    fd = openat(dfd, "x.idx", O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    close(fd);
    assert_int_equal(segindex_load(dfd, "x.idx", 1000, 10000, &ld), OBK_ERR_CORRUPT);
    unlinkat(dfd, "x.idx", 0);
    close(dfd);
    rmdir(dir);
    segindex_free(&ix);
}

/* Feeds batches to a tlog and checks where they land. The submission is discarded: only the
 * in-memory placement is checked here (the files are covered by test_store/test_recovery). */
static void place(struct tlog *t, struct psub *s, uint8_t type, uint64_t base, uint32_t count,
                  uint64_t first_ms, size_t value_len, int64_t now) {
    struct batch_builder b;
    batch_builder_init(&b);
    assert_int_equal(batch_builder_begin(&b, type, base), OBK_OK);
    char *v = calloc(1, value_len + 1);
    memset(v, 'x', value_len);
    for (uint32_t i = 0; i < count; i++) {
        if (type == BATCH_DATA) {
            const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)v};
            size_t fl[2] = {1, value_len};
            assert_int_equal(batch_builder_add_data(&b, (sid_t){first_ms + i, 0}, 1, fv, fl),
                             OBK_OK);
        } else {
            assert_int_equal(batch_builder_add_trim(&b, base, (sid_t){first_ms, 0}), OBK_OK);
        }
    }
    const uint8_t *out;
    size_t len;
    batch_builder_finish(&b, (uint64_t)now, &out, &len);
    struct batch_header h;
    assert_int_equal(batch_verify(out, len, &h), OBK_OK);
    assert_int_equal(tlog_append_batch(t, out, len, &h, now, s), OBK_OK);
    free(v);
    batch_builder_free(&b);
}

static void test_roll_rules(void **state) {
    (void)state;
    struct tlog_config cfg = {4096, 1000, 1024};
    struct tlog t;
    struct psub *s = psub_new();
    tlog_init(&t, -1, &cfg, 0);
    /* a non-DATA batch first: segment 0 with first ID 0-0 */
    place(&t, s, BATCH_TRIM, 0, 1, 0, 0, 100);
    assert_int_equal(t.nsegs, 1);
    place(&t, s, BATCH_DATA, 0, 10, 1, 100, 100);
    assert_int_equal(t.nsegs, 1);
    assert_int_equal(t.segs[0]->idx.n, 1); /* the first DATA batch is always indexed */
    assert_int_equal(t.end_offset, 10);
    /* segment-bytes: a batch that would pass 4096 rolls to a segment named by its base */
    place(&t, s, BATCH_DATA, 10, 30, 11, 100, 100);
    assert_int_equal(t.nsegs, 2);
    assert_int_equal(t.segs[1]->base_offset, 10);
    assert_true(t.segs[1]->first_id.ms == 11);
    assert_true(t.segs[0]->sealed);
    /* index interval: the next batch is indexed (>= 1024 bytes on), the small ones after it
     * are not until 1024 more bytes have passed */
    uint64_t off = 40;
    for (int i = 0; i < 6; i++, off += 2) place(&t, s, BATCH_DATA, off, 2, off + 1, 20, 100);
    assert_int_equal(t.nsegs, 2);
    assert_int_equal(t.segs[1]->idx.n, 2);
    assert_true(segindex_get(&t.segs[1]->idx, 1).pos - segindex_get(&t.segs[1]->idx, 0).pos >=
                1024);
    /* a non-DATA batch never rolls, even past segment-bytes */
    for (int i = 0; i < 40; i++) place(&t, s, BATCH_TRIM, off, 1, off, 0, 100);
    assert_int_equal(t.nsegs, 2);
    assert_true(t.segs[1]->size > 4096);
    /* segment-ms: the active segment is older than 1000 ms */
    place(&t, s, BATCH_DATA, off, 1, 100, 10, 1200);
    assert_int_equal(t.nsegs, 3);
    assert_int_equal(t.segs[2]->base_offset, off);
    off++;
    /* a relative offset past 32 bits rolls */
    place(&t, s, BATCH_DATA, off, 1, 101, 10, 1200);
    off++;
    uint64_t far = off + (1ull << 32);
    t.end_offset = far; /* pretend 2^32 entries were trimmed away in between */
    place(&t, s, BATCH_DATA, far, 1, 1u << 30, 10, 1200);
    assert_int_equal(t.nsegs, 4);
    assert_int_equal(t.segs[3]->base_offset, far);
    /* segment lookups */
    assert_int_equal(tlog_find_segment_id(&t, (sid_t){0, 0}), 0);
    assert_int_equal(tlog_find_segment_id(&t, (sid_t){10, 0}), 0);
    assert_int_equal(tlog_find_segment_id(&t, (sid_t){11, 0}), 1);
    assert_int_equal(tlog_find_segment_id(&t, (sid_t){100, 0}), 2);
    assert_int_equal(tlog_find_segment_id(&t, SID_MAX), 3);
    assert_int_equal(tlog_find_segment_offset(&t, 9), 0);
    assert_int_equal(tlog_find_segment_offset(&t, 10), 1);
    assert_int_equal(tlog_find_segment_offset(&t, 52), 2);
    assert_int_equal(tlog_find_segment_offset(&t, far + 5), 3);
    /* retention by bytes keeps at least the active segment; by trim drops what is below */
    uint64_t start;
    int n = tlog_retain(&t, -1, -1, 0, 10, s, &start);
    assert_int_equal(n, 1); /* segment 0 ends at 10 <= keep_from */
    assert_int_equal(start, 10);
    n = tlog_retain(&t, 0, -1, 0, 0, s, &start);
    assert_int_equal(n, 2);
    assert_int_equal(t.nsegs, 1);
    assert_int_equal(start, far);
    n = tlog_retain(&t, -1, 0, 999999, 0, s, &start); /* never the active one */
    assert_int_equal(n, 0);
    tlog_free(&t, s);
    psub_discard(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_lookups),
        cmocka_unit_test(test_roll_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
