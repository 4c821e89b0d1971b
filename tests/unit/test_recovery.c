/* test_recovery.c - crash cases in the style of Kafka's LogSegmentTest / LogLoaderTest.
 *
 * An image of a topic directory is taken while the store runs (as a crash would leave it: no
 * clean-shutdown marker, the checkpoint of the last roll), then damaged in one way per case and
 * reopened. Each case says what must survive and checks it entry by entry. */
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/recovery.h"
#include "storage/store.h"
#include "storetest.h"

#define NENT      400
#define PER_BATCH 5

static char dir[256], tdir[400];
static unsigned seed;
static struct store_open_report last_rep;

struct file {
    char name[256];
    uint8_t *data;
    size_t len;
};
static struct file image[128];
static size_t nimage;

static void path(char *buf, size_t n, const char *name) {
    if ((size_t)snprintf(buf, n, "%s/%.255s", tdir, name) >= n) fail_msg("path too long");
}

static void snapshot(void) {
    for (size_t i = 0; i < nimage; i++) free(image[i].data);
    nimage = 0;
    DIR *d = opendir(tdir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char p[700];
        path(p, sizeof p, de->d_name);
        FILE *f = fopen(p, "rb");
        struct file *fl = &image[nimage++];
        snprintf(fl->name, sizeof fl->name, "%.255s", de->d_name);
        fseek(f, 0, SEEK_END);
        fl->len = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        fl->data = malloc(fl->len + 1);
        assert_int_equal(fread(fl->data, 1, fl->len, f), fl->len);
        fclose(f);
    }
    closedir(d);
}

/* Puts the image back as the only content of the topic directory, with no clean marker. */
static void restore(void) {
    DIR *d = opendir(tdir);
    struct dirent *de;
    char p[700];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        path(p, sizeof p, de->d_name);
        unlink(p);
    }
    closedir(d);
    for (size_t i = 0; i < nimage; i++) {
        path(p, sizeof p, image[i].name);
        FILE *f = fopen(p, "wb");
        fwrite(image[i].data, 1, image[i].len, f);
        fclose(f);
    }
    snprintf(p, sizeof p, "%s/%s", dir, STORE_CLEAN_NAME);
    unlink(p);
}

static struct file *image_file(const char *suffix, int last) {
    struct file *best = NULL;
    for (size_t i = 0; i < nimage; i++) {
        size_t l = strlen(image[i].name);
        if (l < strlen(suffix) || strcmp(image[i].name + l - strlen(suffix), suffix)) continue;
        if (!best ||
            (last ? strcmp(image[i].name, best->name) > 0 : strcmp(image[i].name, best->name) < 0))
            best = &image[i];
    }
    return best;
}

static void config(struct store_config *c) {
    store_config_defaults(c);
    c->dir = dir;
    c->fsync = PERSIST_FSYNC_NO;
    c->segment_bytes = 2048;
    c->index_interval = 256;
    c->cache_max_bytes = 16 * 1024;
}

static void commit(struct store *s) {
    storetest_commit(s);
}

static void val(int i, char *buf) {
    snprintf(buf, 16, "val%d", i);
}

/* Writes NENT entries, PER_BATCH per commit, and keeps a crash image of the topic. */
static int setup(void **state) {
    (void)state;
    storetest_tmpdir(dir, sizeof dir, "recov");
    snprintf(tdir, sizeof tdir, "%s/db0/t_73", dir); /* key "s" */
    struct store_config c;
    config(&c);
    struct store *s;
    assert_int_equal(store_open(&c, &s, &last_rep), OBK_OK);
    struct topic *tp;
    assert_int_equal(store_create(s, 0, "s", 1, &tp), OBK_OK);
    for (int i = 0; i < NENT; i++) {
        char v[16];
        val(i, v);
        const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)v};
        size_t fl[2] = {1, strlen(v)};
        assert_int_equal(topic_append(tp, (sid_t){(uint64_t)i + 1, 0}, 1, fv, fl), OBK_OK);
        if (i % PER_BATCH == PER_BATCH - 1) commit(s);
    }
    commit(s);
    snapshot(); /* the crash image: data written, checkpoint of the last roll, no marker */
    assert_int_equal(store_close(s), OBK_OK);
    restore();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    storetest_rmdir(dir);
    for (size_t i = 0; i < nimage; i++) free(image[i].data);
    nimage = 0;
    return 0;
}

static struct store *reopen(int expect_rc, int repair) {
    struct store_config c;
    config(&c);
    c.repair = repair;
    struct store *s = NULL;
    int rc = store_open(&c, &s, &last_rep);
    if (rc != expect_rc) fail_msg("store_open: %s (%s)", obk_strerror(rc), last_rep.damage);
    return s;
}

struct seen {
    uint64_t n;
    int bad;
};

static int check_cb(void *ctx, const struct obk_entry *e) {
    struct seen *s = ctx;
    char v[16];
    val((int)s->n, v);
    if (e->id.ms != s->n + 1 || e->fvlen[1] != strlen(v) || memcmp(e->fv[1], v, strlen(v)))
        s->bad = 1;
    s->n++;
    return 0;
}

/* The first n entries survive, in order, with their values; nothing else. Then a new append
 * after them works and survives a clean reopen. */
static void expect_prefix(struct store *s, uint64_t n) {
    struct topic *t = store_lookup(s, 0, "s", 1);
    assert_non_null(t);
    assert_int_equal(topic_length(t), n);
    struct seen sn = {0, 0};
    assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 0, check_cb, &sn), OBK_OK);
    assert_int_equal(sn.n, n);
    assert_false(sn.bad);
    assert_int_equal(topic_entries_added(t), n);
}

static void close_ok(struct store *s) {
    assert_int_equal(store_close(s), OBK_OK);
}

struct bpos {
    uint64_t pos[4096];
    uint64_t end_off[4096];
    size_t n;
};

static int bpos_cb(void *ctx, const uint8_t *b, const struct batch_header *h, uint64_t pos) {
    (void)b;
    struct bpos *bp = ctx;
    bp->pos[bp->n] = pos;
    bp->end_off[bp->n] = h->type == BATCH_DATA ? h->base_offset + h->count : 0;
    bp->n++;
    return 0;
}

static void batches_of(struct file *f, struct bpos *bp) {
    char p[700];
    path(p, sizeof p, f->name);
    int fd = open(p, O_RDONLY);
    uint64_t end;
    bp->n = 0;
    assert_int_equal(tlog_scan_file(fd, f->len, SEGMENT_HEADER_SIZE, bpos_cb, bp, &end), OBK_OK);
    assert_int_equal(end, f->len);
    close(fd);
}

static void write_image_file(struct file *f, const uint8_t *data, size_t len) {
    char p[700];
    path(p, sizeof p, f->name);
    FILE *fp = fopen(p, "wb");
    fwrite(data, 1, len, fp);
    fclose(fp);
}

/* Truncating the last segment at every byte inside its last 3 batches: every batch that ends
 * at or before the cut survives, the partial one is dropped (and the bytes logged). */
static void test_truncate_every_byte(void **state) {
    (void)state;
    struct file *last = image_file(".log", 1);
    struct bpos bp;
    batches_of(last, &bp);
    assert_true(bp.n >= 3);
    uint64_t from = bp.pos[bp.n - 3];
    for (uint64_t cut = from; cut < last->len; cut++) {
        restore();
        write_image_file(last, last->data, cut);
        struct store *s = reopen(OBK_OK, 0);
        uint64_t n = strtoull(last->name, NULL, 10), good = SEGMENT_HEADER_SIZE;
        for (size_t i = 0; i < bp.n; i++) {
            uint64_t end = i + 1 < bp.n ? bp.pos[i + 1] : last->len;
            if (end <= cut) {
                good = end;
                n = bp.end_off[i]; /* every batch here is DATA */
            }
        }
        expect_prefix(s, n);
        assert_int_equal(last_rep.truncated_bytes, cut - good);
        close_ok(s);
    }
    print_message("# %llu cut points checked\n", (unsigned long long)(last->len - from));
}

/* Zeros and garbage appended to the last segment are cut; every entry survives. */
static void test_tail_zeros_garbage(void **state) {
    (void)state;
    struct file *last = image_file(".log", 1);
    uint8_t *buf = malloc(last->len + 4096);
    memcpy(buf, last->data, last->len);
    memset(buf + last->len, 0, 4096);
    restore();
    write_image_file(last, buf, last->len + 4096);
    struct store *s = reopen(OBK_OK, 0);
    assert_int_equal(last_rep.truncated_bytes, 4096);
    expect_prefix(s, NENT);
    close_ok(s);
    srand(seed);
    for (size_t i = 0; i < 4096; i++) buf[last->len + i] = (uint8_t)rand();
    restore();
    write_image_file(last, buf, last->len + 4096);
    s = reopen(OBK_OK, 0);
    assert_int_equal(last_rep.truncated_bytes, 4096);
    expect_prefix(s, NENT);
    close_ok(s);
    free(buf);
}

/* A flipped bit in the last batch or the middle of the last segment: the log is cut at that
 * batch; the entries before it survive. */
static void test_bitflip_last_segment(void **state) {
    (void)state;
    struct file *last = image_file(".log", 1);
    struct bpos bp;
    batches_of(last, &bp);
    uint8_t *buf = malloc(last->len);
    size_t which[2] = {bp.n - 1, bp.n / 2};
    for (int k = 0; k < 2; k++) {
        size_t b = which[k];
        uint64_t end = b + 1 < bp.n ? bp.pos[b + 1] : last->len;
        uint64_t at = bp.pos[b] + (uint64_t)rand() % (end - bp.pos[b]);
        memcpy(buf, last->data, last->len);
        buf[at] ^= (uint8_t)(1u << (rand() % 8));
        restore();
        write_image_file(last, buf, last->len);
        struct store *s = reopen(OBK_OK, 0);
        uint64_t n = b ? bp.end_off[b - 1] : strtoull(last->name, NULL, 10);
        expect_prefix(s, n);
        assert_int_equal(last_rep.truncated_bytes, last->len - bp.pos[b]);
        close_ok(s);
    }
    free(buf);
}

static int count_all(void *ctx, const struct obk_entry *e) {
    (void)e;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* A flipped bit in an old segment: before the recovery point it is not rescanned, so the open
 * succeeds, but a read through it fails its CRC and never returns the record. Without a
 * checkpoint the replay reaches it: the open is refused; a repair cuts there and reports the
 * entries lost. */
static void test_bitflip_old_segment(void **state) {
    (void)state;
    struct file *first = image_file(".log", 0);
    struct bpos bp;
    batches_of(first, &bp);
    uint8_t *buf = malloc(first->len);
    memcpy(buf, first->data, first->len);
    uint64_t at = bp.pos[2] + BATCH_HEADER_SIZE + 1; /* inside batch 2's records */
    buf[at] ^= 0x10;
    restore();
    write_image_file(first, buf, first->len);
    struct store *s = reopen(OBK_OK, 0);
    struct topic *t = store_lookup(s, 0, "s", 1);
    assert_int_equal(topic_length(t), NENT); /* the state came from the checkpoint */
    uint64_t n = 0;
    assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 0, count_all, &n), OBK_ERR_CORRUPT);
    assert_int_equal(n, bp.end_off[1]); /* stopped at the damaged batch */
    close_ok(s);

    /* no checkpoint: the replay from the first segment finds it */
    restore();
    write_image_file(first, buf, first->len);
    char p[700];
    path(p, sizeof p, CHECKPOINT_NAME);
    unlink(p);
    reopen(OBK_ERR_DAMAGED, 0);
    assert_non_null(strstr(last_rep.damage, first->name));
    s = reopen(OBK_OK, 1);
    assert_int_equal(last_rep.entries_lost, NENT - bp.end_off[1]);
    expect_prefix(s, bp.end_off[1]);
    close_ok(s);
    free(buf);
}

/* Missing or corrupt indexes are rebuilt; reads give the same entries. */
static void test_index_damage(void **state) {
    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        restore();
        for (size_t i = 0; i < nimage; i++) {
            size_t l = strlen(image[i].name);
            if (strcmp(image[i].name + l - 4, ".idx")) continue;
            char p[700];
            path(p, sizeof p, image[i].name);
            if (mode == 0) {
                unlink(p);
            } else {
                uint8_t *b = malloc(image[i].len);
                memcpy(b, image[i].data, image[i].len);
                if (image[i].len > SEGINDEX_HEADER_SIZE + 20)
                    b[SEGINDEX_HEADER_SIZE + (mode == 1 ? 20 : 3)] ^= 0x5a; /* pos / id */
                else
                    b[0] ^= 1;
                write_image_file(&image[i], b, image[i].len);
                free(b);
            }
        }
        struct store *s = reopen(OBK_OK, 0);
        expect_prefix(s, NENT);
        /* point reads through every segment's index */
        struct topic *t = store_lookup(s, 0, "s", 1);
        for (uint64_t k = 1; k <= NENT; k += 37) {
            struct seen sn = {k - 1, 0};
            assert_int_equal(topic_get(t, (sid_t){k, 0}, check_cb, &sn), OBK_OK);
            assert_false(sn.bad);
        }
        close_ok(s);
        /* and after a clean stop (indexes loaded lazily, checked on use) */
        s = reopen(OBK_OK, 0);
        assert_int_equal(last_rep.clean, 1);
        t = store_lookup(s, 0, "s", 1);
        for (uint64_t k = NENT; k >= 1; k -= 41) {
            struct seen sn = {k - 1, 0};
            assert_int_equal(topic_get(t, (sid_t){k, 0}, check_cb, &sn), OBK_OK);
            assert_false(sn.bad);
            if (k < 42) break;
        }
        close_ok(s);
    }
}

/* Checkpoint deleted, corrupt, or a stale one behind a clean marker: all entries survive. */
static void test_checkpoint_and_marker(void **state) {
    (void)state;
    char p[700], m[700];
    path(p, sizeof p, CHECKPOINT_NAME);
    snprintf(m, sizeof m, "%s/%s", dir, STORE_CLEAN_NAME);
    for (int mode = 0; mode < 4; mode++) {
        restore();
        if (mode == 0) unlink(p);
        if (mode == 1) {
            FILE *f = fopen(p, "r+b");
            fseek(f, 30, SEEK_SET);
            fputc(0x77, f);
            fclose(f);
        }
        if (mode == 2) { /* a marker next to a checkpoint that does not reach the end */
            FILE *f = fopen(m, "wb");
            fputs("clean\n", f);
            fclose(f);
        }
        if (mode == 3) { /* the marker itself corrupt or empty: still only a hint */
            FILE *f = fopen(m, "wb");
            fclose(f);
        }
        struct store *s = reopen(OBK_OK, 0);
        expect_prefix(s, NENT);
        if (mode == 0) assert_true(last_rep.topics_scanned == 1);
        close_ok(s);
    }
}

/* A roll stopped half way: the new segment empty, with a partial header, or with a header but
 * no index. A checkpoint write stopped half way: a partial or complete tmp file. */
static void test_roll_and_checkpoint_half_way(void **state) {
    (void)state;
    struct file *last = image_file(".log", 1);
    struct bpos bp;
    batches_of(last, &bp);
    uint64_t next_base = bp.end_off[bp.n - 1];
    char name[SEGMENT_NAME_MAX], p[700];
    segment_name(name, next_base, "log");
    path(p, sizeof p, name);
    uint8_t hdr[SEGMENT_HEADER_SIZE];
    segment_encode_header(hdr, next_base, (sid_t){next_base + 1, 0}, 1);
    size_t sizes[3] = {0, 20, SEGMENT_HEADER_SIZE};
    for (int k = 0; k < 3; k++) {
        restore();
        FILE *f = fopen(p, "wb");
        fwrite(hdr, 1, sizes[k], f);
        fclose(f);
        struct store *s = reopen(OBK_OK, 0);
        expect_prefix(s, NENT);
        struct topic *t = store_lookup(s, 0, "s", 1);
        const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)"val400"};
        size_t fl[2] = {1, 6};
        assert_int_equal(topic_append(t, (sid_t){NENT + 1, 0}, 1, fv, fl), OBK_OK);
        commit(s);
        close_ok(s);
        s = reopen(OBK_OK, 0);
        expect_prefix(s, NENT + 1);
        close_ok(s);
    }
    /* checkpoint.tmp left behind, partial and complete */
    struct file *cp = image_file(CHECKPOINT_NAME, 1);
    assert_non_null(cp);
    for (int k = 0; k < 2; k++) {
        restore();
        path(p, sizeof p, "checkpoint.tmp");
        FILE *f = fopen(p, "wb");
        fwrite(cp->data, 1, k ? cp->len : cp->len / 2, f);
        fclose(f);
        struct store *s = reopen(OBK_OK, 0);
        expect_prefix(s, NENT);
        assert_int_equal(access(p, F_OK), -1); /* removed */
        close_ok(s);
    }
    /* an index without its segment (retention stopped between the two unlinks) */
    restore();
    segment_name(name, 999999, "idx");
    path(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    fputs("x", f);
    fclose(f);
    struct store *s = reopen(OBK_OK, 0);
    expect_prefix(s, NENT);
    assert_int_equal(access(p, F_OK), -1);
    close_ok(s);
}

int main(void) {
    seed = getenv("OBELISK_SEED") ? (unsigned)strtoul(getenv("OBELISK_SEED"), NULL, 10)
                                  : (unsigned)time(NULL);
    printf("# seed %u (set OBELISK_SEED to repeat)\n", seed);
    srand(seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_truncate_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_zeros_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitflip_last_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitflip_old_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_and_marker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_and_checkpoint_half_way, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
