/* fuzz_grouplog.c - libFuzzer target for the consumer-group files (src/storage/cgstore.c):
 * groups.log (header, records, operations) and groups.snap, loaded by cgstore_load as at open
 * and in obelisk-check.
 *
 * Input: byte 0 holds options (bit 0: a snapshot comes first, bit 1: repair, bit 2: clamp),
 * then with bit 0 a 2-byte snapshot length and the snapshot, then groups.log. Every CRC is
 * recomputed (the snapshot's ops_len is set to its size) so mutations reach the decoders. The
 * state loaded must survive its own snapshot: encoded, replayed and encoded again, the bytes
 * are the same. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/log.h"
#include "base/status.h"
#include "storage/cgstore.h"

static int dirfd_ = -1;
static char dir_[256];

static void cleanup(void) {
    unlinkat(dirfd_, CG_SNAP_NAME, 0);
    unlinkat(dirfd_, CG_LOG_NAME, 0);
    rmdir(dir_);
}

static void setup(void) {
    if (dirfd_ >= 0) return;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(dir_, sizeof dir_, "%s/obelisk-fuzz-groups.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(dir_)) abort();
    dirfd_ = open(dir_, O_RDONLY | O_DIRECTORY);
    if (dirfd_ < 0) abort();
    atexit(cleanup);
    log_setup(LOG_WARNING + 1, NULL); /* quiet: damage is the normal case here */
}

static void put_file(const char *name, const uint8_t *p, size_t n) {
    unlinkat(dirfd_, name, 0);
    if (!p) return;
    int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n) abort();
    close(fd);
}

static void fix_log(uint8_t *b, size_t len) {
    if (len < CG_LOG_HEADER) return;
    codec_put_u32(b + 16, crc32c(0, b, 16));
    size_t pos = CG_LOG_HEADER;
    while (pos + CG_RECORD_HEADER <= len) {
        uint32_t rlen = codec_get_u32(b + pos);
        if (rlen < 4 || rlen > len - pos - 4) break;
        codec_put_u32(b + pos + 4, crc32c(0, b + pos + CG_RECORD_HEADER, rlen - 4));
        pos += 4 + (size_t)rlen;
    }
}

static void check_roundtrip(const struct cg_state *cg) {
    uint8_t *a, *b;
    size_t alen, blen;
    struct cg_state *again;
    if (cgs_encode_snapshot(cg, 7, &a, &alen) != OBK_OK) return;
    if (cgs_new(&again) != OBK_OK) abort();
    if (cgs_apply(again, a + CG_SNAP_FIXED, alen - CG_SNAP_FIXED - 4, 0) != OBK_OK) abort();
    if (cgs_encode_snapshot(again, 7, &b, &blen) != OBK_OK) abort();
    if (alen != blen || memcmp(a, b, alen) != 0) abort();
    cgs_free(again);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    if (size < 1) return 0;
    uint8_t opt = data[0];
    uint8_t *buf = malloc(size);
    if (!buf) abort();
    memcpy(buf, data, size);
    size_t pos = 1;
    uint8_t *snap = NULL;
    size_t slen = 0;
    if (opt & 1) {
        if (size - pos < 2) goto out;
        slen = codec_get_u16(buf + pos);
        pos += 2;
        if (slen > size - pos) slen = size - pos;
        snap = buf + pos;
        pos += slen;
        if (slen >= CG_SNAP_FIXED + 4) {
            codec_put_u64(snap + 16, slen - CG_SNAP_FIXED - 4);
            codec_put_u32(snap + slen - 4, crc32c(0, snap, slen - 4));
        }
    }
    uint8_t *logb = buf + pos;
    size_t llen = size - pos;
    fix_log(logb, llen);
    put_file(CG_SNAP_NAME, snap, slen);
    put_file(CG_LOG_NAME, llen ? logb : NULL, llen);
    struct cg_state *cg = NULL;
    struct cgstore_report rep;
    uint64_t good = 0;
    struct cgstore_log glog;
    int rc = cgstore_load(dirfd_, 1, (opt >> 1) & 1, &cg, &glog, &good, &rep);
    if (rc == OBK_OK && cg) {
        if (good > llen) abort();
        if (rep.truncated_bytes > llen) abort();
        check_roundtrip(cg);
        if (opt & 4) {
            cgs_clamp(cg, (sid_t){opt, 3}, opt);
            check_roundtrip(cg);
        }
    }
    cgs_free(cg);
out:
    free(buf);
    return 0;
}
