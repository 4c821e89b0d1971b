/* test_damage.c - damage at every byte of a batch header never makes a read short.
 *
 * A topic of several segments is written and closed cleanly; then, one case at a time, a byte
 * of a batch header (first, middle and last batch of the first, sealed, segment and of the
 * last, active, one) is flipped (two different bits) or zeroed, the store reopened, and every
 * read path the server uses is run: forward ranges from the start and from the middle (XRANGE,
 * XREAD, XINFO STREAM FULL), backward ranges (XREVRANGE), and point reads of single IDs
 * (XREADGROUP's history, XCLAIM). Each must return the whole range, or fail with an error:
 * never fewer entries than the range holds without one. The bytes are put back after each
 * case. The group log gets the same treatment (every byte of every record header), loaded as
 * at open: either every record is replayed or the loss is reported. Also: obelisk-check's
 * repair of damage in the very first batch leaves a directory that checks clean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "base/log.h"
#include "base/status.h"
#include "storage/cgstore.h"
#include "storage/keydir.h"
#include "storage/recovery.h"
#include "storage/store.h"
#include "storetest.h"

#define NENTRIES   600
#define PER_COMMIT 9

static char dir[256], tdir[600];

static int setup(void **state) {
    (void)state;
    storetest_tmpdir(dir, sizeof dir, "damage");
    log_setup(LOG_WARNING + 1, NULL); /* every case logs its damage: keep the output short */
    return 0;
}

static int teardown(void **state) {
    (void)state;
    storetest_rmdir(dir);
    log_setup(LOG_NOTICE, NULL);
    return 0;
}

static void config(struct store_config *c) {
    store_config_defaults(c);
    c->dir = dir;
    c->fsync = PERSIST_FSYNC_NO;
    c->segment_bytes = 8192;
    c->index_interval = 700;
    c->batch_max_bytes = 100000;
}

static void commit(struct store *s) {
    storetest_commit(s);
}

static sid_t id_of(int i) {
    return (sid_t){1000 + (uint64_t)i / 3, (uint64_t)i % 3};
}

/* Writes the topic "s": NENTRIES entries in batches of PER_COMMIT, closed cleanly. */
static void build(void) {
    struct store_config c;
    struct store_open_report rep;
    struct store *s;
    struct topic *t;
    config(&c);
    assert_int_equal(store_open(&c, &s, &rep), OBK_OK);
    assert_int_equal(store_create(s, 0, "s", 1, &t), OBK_OK);
    for (int i = 0; i < NENTRIES; i++) {
        char v[32];
        snprintf(v, sizeof v, "value-%d", i);
        const uint8_t *fv[2] = {(const uint8_t *)"field", (const uint8_t *)v};
        size_t fl[2] = {5, strlen(v)};
        assert_int_equal(topic_append(t, id_of(i), 1, fv, fl), OBK_OK);
        if (i % PER_COMMIT == PER_COMMIT - 1) commit(s);
    }
    assert_int_equal(store_close(s), OBK_OK);
    char name[KEYDIR_NAME_MAX];
    keydir_name("s", 1, name);
    snprintf(tdir, sizeof tdir, "%s/db0/%s", dir, name);
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void write_file(const char *path, const uint8_t *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Positions of the batches of a segment file. */
static size_t batch_positions(const uint8_t *b, size_t len, size_t *pos, size_t cap) {
    size_t n = 0, p = SEGMENT_HEADER_SIZE;
    while (p + BATCH_HEADER_SIZE <= len && n < cap) {
        pos[n++] = p;
        p += 4 + codec_get_u32(b + p);
    }
    assert_int_equal(p, len);
    return n;
}

struct seen {
    sid_t ids[NENTRIES];
    size_t n;
    int bad_value;
};

static int seen_cb(void *ctx, const struct obk_entry *e) {
    struct seen *s = ctx;
    if (s->n == NENTRIES) return OBK_ERR_RANGE;
    char v[32];
    /* every entry handed out is the one written: ID and value agree */
    int k = (int)((e->id.ms - 1000) * 3 + e->id.seq);
    snprintf(v, sizeof v, "value-%d", k);
    if (e->nfields != 1 || e->fvlen[1] != strlen(v) || memcmp(e->fv[1], v, strlen(v)) != 0)
        s->bad_value = 1;
    s->ids[s->n++] = e->id;
    return 0;
}

/* One read path: OK with exactly entries [from, to] in order (reversed when rev), or an
 * error. Returns 1 when it answered with an error. */
static int expect_whole_or_error(struct topic *t, int from, int to, int rev, const char *what,
                                 const char *damage) {
    struct seen *s = calloc(1, sizeof *s);
    int rc = topic_range(t, id_of(from), id_of(to), 0, rev, seen_cb, s);
    int err = rc != OBK_OK;
    if (!err) {
        size_t want = (size_t)(to - from + 1);
        if (s->n != want || s->bad_value)
            fail_msg("%s after %s: %zu entries of %zu without an error%s", what, damage, s->n, want,
                     s->bad_value ? " (and a wrong value)" : "");
        for (size_t i = 0; i < want; i++) {
            sid_t w = id_of(rev ? to - (int)i : from + (int)i);
            if (sid_cmp(s->ids[i], w) != 0) fail_msg("%s after %s: wrong entry", what, damage);
        }
    }
    free(s);
    return err;
}

static int get_cb(void *ctx, const struct obk_entry *e) {
    *(sid_t *)ctx = e->id;
    return 0;
}

/* Point reads (XREADGROUP history, XCLAIM): the entry, or an error; never "no such entry". */
static int expect_get(struct topic *t, int i, const char *damage) {
    sid_t got = SID_MIN;
    int rc = topic_get(t, id_of(i), get_cb, &got);
    if (rc == OBK_ERR_NOTFOUND)
        fail_msg("point read of entry %d after %s: reported missing instead of an error", i,
                 damage);
    if (rc == OBK_OK && sid_cmp(got, id_of(i)) != 0) fail_msg("point read: wrong entry");
    return rc != OBK_OK;
}

/* Runs every read path on the reopened store; returns how many answered with an error. */
static int read_all_paths(const char *damage) {
    struct store_config c;
    struct store_open_report rep;
    struct store *s;
    config(&c);
    int rc = store_open(&c, &s, &rep);
    if (rc != OBK_OK) return 100; /* refusing to open is an error answer too */
    struct topic *t = store_lookup(s, 0, "s", 1);
    assert_non_null(t);
    assert_int_equal(topic_length(t), NENTRIES); /* XLEN: from the checkpoint */
    int errs = 0;
    errs += expect_whole_or_error(t, 0, NENTRIES - 1, 0, "XRANGE - +", damage);
    errs += expect_whole_or_error(t, 0, NENTRIES - 1, 1, "XREVRANGE + -", damage);
    errs += expect_whole_or_error(t, NENTRIES / 3, NENTRIES - 1, 0, "XREAD from a third", damage);
    errs += expect_whole_or_error(t, 5, NENTRIES / 2, 1, "XREVRANGE middle", damage);
    for (int i = 0; i < NENTRIES; i += 7) errs += expect_get(t, i, damage);
    store_close(s);
    return errs;
}

static void test_every_header_byte(void **state) {
    (void)state;
    build();
    /* the first (sealed) and the last (active) segment */
    char first[900], last[900];
    uint64_t lo = UINT64_MAX, hi = 0, base;
    DIR *dd = opendir(tdir);
    assert_non_null(dd);
    struct dirent *de;
    while ((de = readdir(dd)) != NULL) {
        if (!segment_parse_name(de->d_name, "log", &base)) continue;
        if (base < lo) lo = base;
        if (base > hi) hi = base;
    }
    closedir(dd);
    snprintf(first, sizeof first, "%s/%020llu.log", tdir, (unsigned long long)lo);
    snprintf(last, sizeof last, "%s/%020llu.log", tdir, (unsigned long long)hi);
    const char *which[2] = {first, last};
    assert_string_not_equal(first, last);
    int cases = 0, detected = 0;
    for (int w = 0; w < 2; w++) {
        size_t len;
        uint8_t *orig = read_file(which[w], &len);
        size_t pos[512];
        size_t n = batch_positions(orig, len, pos, 512);
        assert_true(n >= 3);
        size_t pick[3] = {pos[0], pos[n / 2], pos[n - 1]};
        for (int b = 0; b < 3; b++) {
            for (int byte = 0; byte < BATCH_HEADER_SIZE; byte++) {
                for (int m = 0; m < 3; m++) {
                    uint8_t *d = malloc(len);
                    memcpy(d, orig, len);
                    uint8_t *x = d + pick[b] + byte;
                    uint8_t before = *x;
                    *x = m == 0 ? (uint8_t)(*x ^ 0x01) : m == 1 ? (uint8_t)(*x ^ 0x40) : 0;
                    if (*x == before) {
                        free(d);
                        continue; /* zeroing a zero byte changes nothing */
                    }
                    char damage[200];
                    snprintf(damage, sizeof damage, "%s of byte %d of the batch at %zu of the %s",
                             m == 2 ? "zeroing" : "a bit flip", byte, pick[b],
                             w ? "last (active) segment" : "first (sealed) segment");
                    write_file(which[w], d, len);
                    int errs = read_all_paths(damage);
                    cases++;
                    detected += errs > 0;
                    if (errs == 0) fail_msg("%s: every read was whole", damage); /* CRC-covered */
                    write_file(which[w], orig, len);
                    free(d);
                }
            }
        }
        free(orig);
    }
    print_message("# %d damage cases, %d answered with an error on some path\n", cases, detected);
    assert_int_equal(read_all_paths("nothing"), 0); /* the bytes put back read whole */
}

/* ---- the group log ---- */

static size_t put_str(uint8_t *p, const char *s) {
    size_t n = codec_put_uvarint(p, strlen(s));
    memcpy(p + n, s, strlen(s));
    return n + strlen(s);
}

/* groups.log with nrec records, record i creating group "g<i>". */
static size_t group_log(uint8_t *b, int nrec) {
    cgs_encode_log_header(b, 0);
    size_t len = CG_LOG_HEADER;
    for (int i = 0; i < nrec; i++) {
        uint8_t *r = b + len, *ops = r + CG_RECORD_HEADER;
        char name[16];
        snprintf(name, sizeof name, "g%d", i);
        size_t o = 0;
        ops[o++] = CG_OP_GROUP_SET;
        o += put_str(ops + o, name);
        o += codec_put_uvarint(ops + o, 5);
        o += codec_put_uvarint(ops + o, (uint64_t)i);
        o += codec_put_svarint(ops + o, -1);
        codec_put_u32(r, (uint32_t)(o + 4));
        codec_put_u32(r + 4, crc32c(0, ops, o));
        len += CG_RECORD_HEADER + o;
    }
    return len;
}

static void test_group_log_header_bytes(void **state) {
    (void)state;
    enum { NREC = 6 };
    uint8_t orig[4096], d[4096];
    size_t len = group_log(orig, NREC);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    /* positions of the header fields: the log header, then each record's length and CRC */
    size_t starts[NREC + 1], nstart = 0;
    starts[nstart++] = 0;
    for (size_t p = CG_LOG_HEADER; p < len; p += 4 + codec_get_u32(orig + p)) starts[nstart++] = p;
    int cases = 0;
    for (size_t k = 0; k < nstart; k++) {
        int hlen = k == 0 ? CG_LOG_HEADER : CG_RECORD_HEADER;
        for (int byte = 0; byte < hlen; byte++) {
            for (int m = 0; m < 3; m++) {
                memcpy(d, orig, len);
                uint8_t *x = d + starts[k] + byte, before = *x;
                *x = m == 0 ? (uint8_t)(*x ^ 0x01) : m == 1 ? (uint8_t)(*x ^ 0x40) : 0;
                if (*x == before) continue;
                char path[400];
                snprintf(path, sizeof path, "%s/%s", dir, CG_LOG_NAME);
                write_file(path, d, len);
                struct cg_state *cg = NULL;
                struct cgstore_report rep;
                uint64_t good;
                struct cgstore_log glog;
                int rc = cgstore_load(dfd, 1, 0, &cg, &glog, &good, &rep);
                size_t groups = cg ? cg->ngroups : 0;
                if (rc == OBK_OK && groups < NREC && rep.truncated_bytes == 0 && !rep.log_damaged)
                    fail_msg("groups.log byte %zu: %zu of %d records replayed, no loss reported",
                             starts[k] + (size_t)byte, groups, NREC);
                cgs_free(cg);
                cases++;
            }
        }
    }
    print_message("# %d group log cases\n", cases);
    close(dfd);
}

/* ---- repair ---- */

/* Damage in the very first batch of a topic: the repair keeps the first segment (it holds the
 * log's base offset) but must cut it to its header, so that a check right after is clean. */
static void test_repair_first_batch(void **state) {
    (void)state;
    build();
    char first[700];
    snprintf(first, sizeof first, "%s/%020d.log", tdir, 0);
    size_t len;
    uint8_t *b = read_file(first, &len);
    b[SEGMENT_HEADER_SIZE + 2] ^= 0x10; /* the first batch's length */
    write_file(first, b, len);
    free(b);
    int tdfd = open(tdir, O_RDONLY | O_DIRECTORY);
    assert_true(tdfd >= 0);
    static const struct tlog_config tc = {1u << 30, 0, 4096};
    for (int round = 0; round < 3; round++) {
        struct tlog t;
        struct tstate st;
        struct recovery_report rr;
        tlog_init(&t, tdfd, &tc, 0);
        int flags = RECOVERY_FULL | (round == 1 ? RECOVERY_REPAIR : RECOVERY_READONLY);
        int rc = recovery_open_log(tdfd, flags, &t, &st, &rr);
        assert_int_equal(rc, round == 0 ? OBK_ERR_DAMAGED : OBK_OK);
        if (round == 0) { /* the check finds it */
            assert_true(rr.damaged);
        } else if (round == 1) { /* the repair cuts it */
            assert_true(rr.damaged);
            assert_int_equal(rr.entries_lost, NENTRIES);
        } else { /* and a check after the repair is clean */
            if (rr.damaged || rr.truncated_bytes)
                fail_msg("still damaged after the repair: %s, %llu bytes of bad tail", rr.damage,
                         (unsigned long long)rr.truncated_bytes);
            assert_int_equal(tstate_length(&st), 0);
            assert_int_equal(t.nsegs, 1);
            assert_true(sid_is_zero(t.segs[0]->first_id)); /* no entry left to start it */
        }
        tlog_free(&t, NULL);
        tstate_free(&st);
    }
    close(tdfd);
    /* the store opens on it and takes new entries */
    struct store_config c;
    struct store_open_report rep;
    struct store *s;
    struct topic *t;
    config(&c);
    assert_int_equal(store_open(&c, &s, &rep), OBK_OK);
    t = store_lookup(s, 0, "s", 1);
    assert_non_null(t);
    assert_int_equal(topic_length(t), 0);
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)"v"};
    size_t fl[2] = {1, 1};
    assert_int_equal(topic_append(t, (sid_t){5, 0}, 1, fv, fl), OBK_OK);
    commit(s);
    assert_int_equal(store_close(s), OBK_OK);
    assert_int_equal(store_open(&c, &s, &rep), OBK_OK);
    t = store_lookup(s, 0, "s", 1);
    sid_t got = SID_MIN;
    assert_int_equal(topic_get(t, (sid_t){5, 0}, get_cb, &got), OBK_OK);
    assert_int_equal(store_close(s), OBK_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_header_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_log_header_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_first_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
