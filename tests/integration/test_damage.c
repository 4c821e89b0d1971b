/* test_damage.c - a damaged batch header on disk, seen from a client: every read path that
 * crosses it answers with an error (never a short answer), the damage is logged and counted
 * (INFO obelisk stream_read_errors), obelisk-check finds it, and --repair leaves a directory
 * that checks clean. The byte-by-byte matrix over every header field runs against the storage
 * API in tests/unit/test_damage.c; this is the server's side of it. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define NENTRIES 4800

static struct test_server srv;

static void fill(redisContext *c) {
    char v[40];
    /* pipelines of 50: about one batch each, so a segment holds dozens of batches */
    for (int i = 0; i < NENTRIES; i += 50) {
        for (int j = i; j < i + 50; j++) {
            snprintf(v, sizeof v, "value-%06d-padding-padding", j);
            redisAppendCommand(c, "XADD s %d-1 f %s", j + 1, v);
        }
        for (int j = i; j < i + 50; j++) {
            redisReply *r;
            assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
            assert_int_equal(r->type, REDIS_REPLY_STRING);
            freeReplyObject(r);
        }
    }
    freeReplyObject(must_cmd(c, "XGROUP CREATE s g 0"));
    redisReply *r = must_cmd(c, "XREADGROUP GROUP g c COUNT %d STREAMS s >", NENTRIES);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
}

/* The path of the first segment of "s" (the lowest base offset), and how many there are. */
static int first_segment(char *path, size_t cap) {
    char tdir[400];
    snprintf(tdir, sizeof tdir, "%s/db0/t_73", srv.datadir); /* hex of "s" */
    DIR *d = opendir(tdir);
    assert_non_null(d);
    struct dirent *de;
    char best[64] = "";
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l != 24 || strcmp(de->d_name + 20, ".log") != 0) continue;
        n++;
        if (!best[0] || strcmp(de->d_name, best) < 0) memcpy(best, de->d_name, l + 1); /* l == 24 */
    }
    closedir(d);
    snprintf(path, cap, "%s/%s", tdir, best);
    return n;
}

/* Changes one byte of the header of batch number `which` (-1: the middle one) of the file. */
static void damage(const char *path, int which, int byte, int xor_mask) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    long pos[4096];
    int n = 0;
    long p = 48, size;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    while (p + 64 <= size && n < 4096) {
        unsigned char l[4];
        fseek(f, p, SEEK_SET);
        assert_int_equal(fread(l, 1, 4, f), 4);
        pos[n++] = p;
        p += 4 + (long)(l[0] | l[1] << 8 | l[2] << 16 | (unsigned long)l[3] << 24);
    }
    assert_true(which < 0 ? n >= 3 : n > which);
    long at = pos[which < 0 ? n / 2 : which] + byte;
    unsigned char b;
    fseek(f, at, SEEK_SET);
    assert_int_equal(fread(&b, 1, 1, f), 1);
    b ^= (unsigned char)xor_mask;
    fseek(f, at, SEEK_SET);
    assert_int_equal(fwrite(&b, 1, 1, f), 1);
    fclose(f);
}

static void expect_error(redisContext *c, const char *what, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_ERROR)
        fail_msg("%s: expected an error reply, got type %d (%zu elements)", what, r->type,
                 r->type == REDIS_REPLY_ARRAY ? r->elements : 0);
    assert_non_null(strstr(r->str, "stream read failed"));
    freeReplyObject(r);
}

static void start(int reuse) {
    const char *extra[] = {"--segment-bytes", "64kb", "--fsync", "no", NULL};
    assert_int_equal(server_start_argv(&srv, extra, reuse), 0);
}

/* Item 7: one bit of byte 2 of a sealed batch's length. */
static void test_length_bit_in_sealed_segment(void **state) {
    (void)state;
    start(0);
    redisContext *c = client_connect(&srv);
    fill(c);
    redisFree(c);
    assert_int_equal(server_stop(&srv), 0);
    char seg[600];
    assert_true(first_segment(seg, sizeof seg) >= 3);
    damage(seg, -1, 2, 0x01);
    start(1);
    c = client_connect(&srv);
    redisReply *r = must_cmd(c, "XLEN s");
    assert_int_equal(r->integer, NENTRIES);
    freeReplyObject(r);
    expect_error(c, "XRANGE", "XRANGE s - +");
    expect_error(c, "XREVRANGE", "XREVRANGE s + -");
    expect_error(c, "XREAD", "XREAD COUNT %d STREAMS s 0-0", NENTRIES);
    expect_error(c, "XREADGROUP history", "XREADGROUP GROUP g c COUNT %d STREAMS s 0", NENTRIES);
    expect_error(c, "XINFO STREAM FULL", "XINFO STREAM s FULL COUNT 0");
    /* the entries after the damage read whole (they are in later segments) */
    r = must_cmd(c, "XRANGE s %d-1 +", NENTRIES - 9);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 10);
    freeReplyObject(r);
    assert_true(info_number(c, "obelisk", "stream_read_errors") >= 5);
    redisFree(c);
    assert_int_equal(server_stop(&srv), 0);
    assert_true(server_log_contains(&srv, "batch runs past the segment end"));
    assert_true(server_log_contains(&srv, "stream read failed"));
    assert_int_equal(run_obelisk_check(srv.datadir, 0), 2);
    assert_int_equal(run_obelisk_check(srv.datadir, 1), 1);
    assert_int_equal(run_obelisk_check(srv.datadir, 0), 0);
    /* after the repair the server answers whole again (what the cut left) */
    start(1);
    c = client_connect(&srv);
    r = must_cmd(c, "XLEN s");
    long long len = r->integer;
    freeReplyObject(r);
    assert_true(len > 0 && len < NENTRIES);
    r = must_cmd(c, "XRANGE s - +");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal((long long)r->elements, len);
    freeReplyObject(r);
    redisFree(c);
    server_cleanup(&srv);
}

/* Item 8: a byte of the very first batch's header; --repair, then a plain check is clean. */
static void test_repair_first_batch(void **state) {
    (void)state;
    static const int bytes[] = {2, 5, 9, 13, 21};
    for (size_t k = 0; k < sizeof bytes / sizeof bytes[0]; k++) {
        start(0);
        redisContext *c = client_connect(&srv);
        fill(c);
        redisFree(c);
        assert_int_equal(server_stop(&srv), 0);
        char seg[600];
        first_segment(seg, sizeof seg);
        damage(seg, 0, bytes[k], 0x10);
        assert_int_equal(run_obelisk_check(srv.datadir, 0), 2);
        int rc = run_obelisk_check(srv.datadir, 1);
        if (rc != 1) fail_msg("byte %d: --repair exit %d", bytes[k], rc);
        rc = run_obelisk_check(srv.datadir, 0);
        if (rc != 0) fail_msg("byte %d: check after --repair: exit %d", bytes[k], rc);
        start(1);
        c = client_connect(&srv);
        redisReply *r = must_cmd(c, "XLEN s");
        assert_int_equal(r->integer, 0); /* everything after the first batch went with it */
        freeReplyObject(r);
        freeReplyObject(must_cmd(c, "XADD s 9999999-1 f v"));
        r = must_cmd(c, "XRANGE s - +");
        assert_int_equal(r->elements, 1);
        freeReplyObject(r);
        redisFree(c);
        server_cleanup(&srv);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_bit_in_sealed_segment),
        cmocka_unit_test(test_repair_first_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
