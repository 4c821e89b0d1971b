/* test_compression.c - zstd-compressed segments through the server: a stream written with
 * compression on, then off, then on at another level (mixed segments, several rolls) reads back
 * entry for entry, forward, backward and from the middle, also cold (a small cache) and after a
 * clean restart and a kill -9 restart of a server started without compression; its segments
 * take less than half the bytes of the same stream written plain; the directives refuse bad
 * values; obelisk-check finds the directory clean; and a compressed batch whose CRC is right
 * but whose zstd frame is damaged is reported as such by obelisk-check, and by a read through
 * it, while the rest of the stream still reads; XSETTINGS's per-topic compression. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/crc32c.h"
#include "storage/batch_format.h"
#include "storage/segment.h"
#include "testutil.h"

/* The value of entry i: a JSON event, repetitive the way real ones are. */
static void event_value(char *v, size_t cap, int i) {
    static const char *const types[] = {"page_view", "add_to_cart", "checkout", "search"};
    snprintf(v, cap,
             "{\"user_id\":%d,\"event\":\"%s\",\"url\":\"https://shop.example.com/products/%d"
             "?ref=home\",\"agent\":\"Mozilla/5.0 (X11; Linux x86_64) Firefox/%d.0\","
             "\"ts\":%d}",
             100000 + (i * 7919) % 5000, types[i % 4], (i * 31) % 997, 100 + i % 20,
             1700000000 + i);
}

/* XADD key <1000+i>-1 event <value> for i in [from, from+n), pipelined. */
static void produce(redisContext *c, const char *key, int from, int n) {
    char v[300];
    for (int i = from; i < from + n; i++) {
        event_value(v, sizeof v, i);
        redisAppendCommand(c, "XADD %s %d-1 event %s", key, 1000 + i, v);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        if (r->type != REDIS_REPLY_STRING) fail_msg("XADD: %s", r->str ? r->str : "?");
        freeReplyObject(r);
    }
}

static void check_entry(const redisReply *e, int i) {
    char id[32], v[300];
    snprintf(id, sizeof id, "%d-1", 1000 + i);
    event_value(v, sizeof v, i);
    assert_string_equal(e->element[0]->str, id);
    assert_int_equal(e->element[1]->elements, 2);
    assert_string_equal(e->element[1]->element[1]->str, v);
}

/* Every entry of key, n of them, forward in pages, backward from the end, and a page from the
 * middle. */
static void check_all(redisContext *c, const char *key, int n) {
    int i = 0;
    while (i < n) {
        redisReply *r = must_cmd(c, "XRANGE %s %d-1 + COUNT 700", key, 1000 + i);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_true(r->elements > 0);
        for (size_t k = 0; k < r->elements; k++) check_entry(r->element[k], i++);
        freeReplyObject(r);
    }
    assert_int_equal(i, n);
    redisReply *r = must_cmd(c, "XREVRANGE %s + - COUNT 1500", key);
    assert_int_equal(r->elements, n < 1500 ? n : 1500);
    for (size_t k = 0; k < r->elements; k++) check_entry(r->element[k], n - 1 - (int)k);
    freeReplyObject(r);
    r = must_cmd(c, "XREVRANGE %s %d-1 - COUNT 3", key, 1000 + n / 3);
    assert_int_equal(r->elements, 3);
    for (int k = 0; k < 3; k++) check_entry(r->element[k], n / 3 - k);
    freeReplyObject(r);
    r = must_cmd(c, "XLEN %s", key);
    assert_int_equal(r->integer, n);
    freeReplyObject(r);
}

/* Bytes of the segment files of db0 (of one topic directory: dir "t_61" for key "a"; "*": all). */
static long long topic_segment_bytes(const char *datadir, const char *dir) {
    char pat[400];
    glob_t g;
    long long total = 0;
    snprintf(pat, sizeof pat, "%s/db0/%s/*.log", datadir, dir);
    if (glob(pat, 0, NULL, &g) != 0) return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) == 0) total += st.st_size;
    }
    globfree(&g);
    return total;
}

static long long segment_bytes(const char *datadir) {
    return topic_segment_bytes(datadir, "*");
}

static void ok(redisContext *c, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", cmd, r->str);
    freeReplyObject(r);
}

static void test_mixed_segments(void **state) {
    (void)state;
    struct test_server s, plain;
    assert_int_equal(server_start(&s, "--compression", "zstd", "--segment-bytes", "65536",
                                  "--cache-max-bytes", "1mb", "--fsync", "always", NULL),
                     0);
    redisContext *c = client_connect(&s);
    redisReply *r = must_cmd(c, "CONFIG GET compression*");
    assert_int_equal(r->elements, 4);
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG SET compression lz4");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = must_cmd(c, "CONFIG SET compression-level 20");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    produce(c, "t", 0, 4000);
    ok(c, "CONFIG SET compression none");
    produce(c, "t", 4000, 2000);
    ok(c, "CONFIG SET compression zstd compression-level 19");
    produce(c, "t", 6000, 2000);
    check_all(c, "t", 8000);

    assert_int_equal(server_start(&plain, "--segment-bytes", "65536", NULL), 0);
    redisContext *pc = client_connect(&plain);
    produce(pc, "t", 0, 8000);
    redisFree(pc);
    long long zb = segment_bytes(s.datadir), pb = segment_bytes(plain.datadir);
    print_message("# segments: %lld bytes (a quarter written plain) vs %lld plain\n", zb, pb);
    assert_true(zb > 0 && zb * 2 < pb);
    server_cleanup(&plain);

    /* read by a server started without compression, after a clean stop and after kill -9 */
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    check_all(c, "t", 8000);
    ok(c, "CONFIG SET compression zstd");
    produce(c, "t", 8000, 500); /* fsync always: every reply means on disk */
    redisFree(c);
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    check_all(c, "t", 8500);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(run_obelisk_check(s.datadir, 0), 0);
    server_cleanup(&s);
}

/* The first batch of the first segment, compressed, gets a damaged zstd frame and a CRC that
 * matches it again. */
static void damage_first_frame(const char *datadir) {
    char pat[400];
    glob_t g;
    snprintf(pat, sizeof pat, "%s/db0/*/00000000000000000000.log", datadir);
    assert_int_equal(glob(pat, 0, NULL, &g), 0);
    FILE *f = fopen(g.gl_pathv[0], "r+b");
    globfree(&g);
    assert_non_null(f);
    uint8_t h[BATCH_HEADER_SIZE];
    assert_int_equal(fseek(f, SEGMENT_HEADER_SIZE, SEEK_SET), 0);
    assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
    assert_int_equal(codec_get_u16(h + 10), BATCH_FLAG_ZSTD);
    size_t len = 4 + codec_get_u32(h);
    uint8_t *b = malloc(len);
    assert_int_equal(fseek(f, SEGMENT_HEADER_SIZE, SEEK_SET), 0);
    assert_int_equal(fread(b, 1, len, f), len);
    b[BATCH_HEADER_SIZE] ^= 0xff; /* the frame's magic number */
    codec_put_u32(b + 4, crc32c(0, b + 8, len - 8));
    assert_int_equal(fseek(f, SEGMENT_HEADER_SIZE, SEEK_SET), 0);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
}

static void test_damaged_frame_reported(void **state) {
    (void)state;
    struct test_server s;
    assert_int_equal(server_start(&s, "--compression", "zstd", "--segment-bytes", "65536", NULL),
                     0);
    redisContext *c = client_connect(&s);
    for (int i = 0; i < 40000; i += 4000) produce(c, "t", i, 4000); /* several segments */
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    damage_first_frame(s.datadir);
    const char *bin = getenv("OBELISK_CHECK");
    char cmd[800], line[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin ? bin : "./obelisk-check", s.datadir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int said = 0;
    while (fgets(line, sizeof line, p)) {
        print_message("# %s", line);
        if (strstr(line, "bad batch at byte 48: its zstd frame does not decompress")) said = 1;
    }
    int st = pclose(p);
    assert_true(said);
    assert_int_not_equal(st, 0);
    /* a clean start trusts its checkpoint; a read through the batch fails, and says why */
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    redisReply *r = must_cmd(c, "XRANGE t - + COUNT 5");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = must_cmd(c, "XRANGE t 30000 + COUNT 5"); /* the rest of the stream reads */
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 5);
    freeReplyObject(r);
    redisFree(c);
    assert_true(server_log_contains(&s, "batch whose zstd frame does not decompress at byte 48"));
    server_cleanup(&s);
}

/* XSETTINGS GET key as a flat list (RESP2), joined "name=value" with nil as "-". */
static void settings_text(redisContext *c, const char *key, char *out, size_t cap) {
    redisReply *r = must_cmd(c, "XSETTINGS GET %s", key);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 16);
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < r->elements; i += 2) {
        const redisReply *v = r->element[i + 1];
        char val[64];
        if (v->type == REDIS_REPLY_NIL)
            snprintf(val, sizeof val, "-");
        else if (v->type == REDIS_REPLY_INTEGER)
            snprintf(val, sizeof val, "%lld", v->integer);
        else
            snprintf(val, sizeof val, "%s", v->str);
        n += (size_t)snprintf(out + n, cap - n, "%s%s=%s", i ? " " : "", r->element[i]->str, val);
    }
    freeReplyObject(r);
}

static void expect_settings(redisContext *c, const char *key, const char *want) {
    char got[1024];
    settings_text(c, key, got, sizeof got);
    assert_string_equal(got, want);
}

static void expect_error(redisContext *c, const char *cmd, const char *prefix) {
    redisReply *r = must_cmd(c, cmd);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    if (strncmp(r->str, prefix, strlen(prefix)) != 0) fail_msg("%s: got %s", cmd, r->str);
    freeReplyObject(r);
}

/* XSETTINGS: a topic's compression override (and its retention, which XRETENTION also sets)
 * read back, refused when wrong, applied to that topic only, kept across a restart and a
 * RENAME, and replicated. */
static void test_topic_settings(void **state) {
    (void)state;
    struct test_server s, rs;
    /* the segment files' sizes are read while it runs: no bytes may wait in memory */
    assert_int_equal(server_start(&s, "--segment-bytes", "65536", "--wal-defer-bytes", "0", NULL),
                     0);
    redisContext *c = client_connect(&s);
    produce(c, "a", 0, 1);
    produce(c, "b", 0, 1);
    expect_settings(c, "a",
                    "retention-bytes=- retention-ms=- compression=- compression-level=- "
                    "effective-retention-bytes=-1 effective-retention-ms=-1 "
                    "effective-compression=none effective-compression-level=0");
    ok(c, "XSETTINGS SET a compression zstd compression-level 5");
    ok(c, "XRETENTION a MS 86400000");
    expect_settings(c, "a",
                    "retention-bytes=- retention-ms=86400000 compression=zstd "
                    "compression-level=5 effective-retention-bytes=-1 "
                    "effective-retention-ms=86400000 effective-compression=zstd "
                    "effective-compression-level=5");
    expect_error(c, "XSETTINGS SET a compression lz4", "ERR compression must be none, zstd");
    expect_error(c, "XSETTINGS SET a compression-level 20", "ERR compression-level must be");
    expect_error(c, "XSETTINGS SET a compression-level 0", "ERR compression-level must be");
    expect_error(c, "XSETTINGS SET a color blue", "ERR unknown topic setting");
    expect_error(c, "XSETTINGS SET a compression", "ERR wrong number of arguments");
    expect_error(c, "XSETTINGS SET a compression zstd compression-level", "ERR syntax error");
    expect_error(c, "XSETTINGS GET", "ERR wrong number of arguments");
    expect_error(c, "XSETTINGS SET nokey compression zstd", "ERR no such key");
    /* nothing applied by a refused command */
    expect_error(c, "XSETTINGS SET a compression none compression-level 99",
                 "ERR compression-level");
    expect_settings(c, "a",
                    "retention-bytes=- retention-ms=86400000 compression=zstd "
                    "compression-level=5 effective-retention-bytes=-1 "
                    "effective-retention-ms=86400000 effective-compression=zstd "
                    "effective-compression-level=5");
    produce(c, "a", 1, 3999);
    produce(c, "b", 1, 3999);
    long long ab = topic_segment_bytes(s.datadir, "t_61"),
              bb = topic_segment_bytes(s.datadir, "t_62");
    print_message("# topic a (zstd) %lld bytes, topic b (plain) %lld\n", ab, bb);
    assert_true(ab > 0 && ab * 2 < bb);
    /* the server's setting does not override a topic's */
    ok(c, "CONFIG SET compression zstd");
    ok(c, "XSETTINGS SET a compression none");
    expect_settings(c, "b",
                    "retention-bytes=- retention-ms=- compression=- compression-level=- "
                    "effective-retention-bytes=-1 effective-retention-ms=-1 "
                    "effective-compression=zstd effective-compression-level=3");
    ok(c, "XSETTINGS SET a compression zstd");
    ok(c, "CONFIG SET compression none");

    char port[16];
    snprintf(port, sizeof port, "%d", s.port);
    const char *rargs[] = {"--replicaof", "127.0.0.1", port, NULL};
    assert_int_equal(server_start_argv(&rs, rargs, 0), 0);
    redisContext *rc = client_connect(&rs);
    redisReply *w = must_cmd(c, "WAIT 1 10000");
    assert_int_equal(w->integer, 1);
    freeReplyObject(w);
    ok(c, "XSETTINGS SET a compression-level 7"); /* streamed after the full sync */
    w = must_cmd(c, "WAIT 1 10000");
    assert_int_equal(w->integer, 1);
    freeReplyObject(w);
    const char *want = "retention-bytes=- retention-ms=86400000 compression=zstd "
                       "compression-level=7 effective-retention-bytes=-1 "
                       "effective-retention-ms=86400000 effective-compression=zstd "
                       "effective-compression-level=7";
    for (int i = 0; i < 100; i++) { /* applied on the replica shortly after the WAIT */
        char got[1024];
        settings_text(rc, "a", got, sizeof got);
        if (!strcmp(got, want)) break;
        sleep_ms(50);
    }
    expect_settings(rc, "a", want);
    check_all(rc, "a", 4000);
    redisFree(rc);
    server_cleanup(&rs);

    ok(c, "RENAME a c");
    redisFree(c);
    server_kill(&s);
    assert_int_equal(server_start_argv(&s, NULL, 1), 0);
    c = client_connect(&s);
    expect_settings(c, "c", want);
    check_all(c, "c", 4000);
    redisFree(c);
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(run_obelisk_check(s.datadir, 0), 0);
    server_cleanup(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_segments),
        cmocka_unit_test(test_damaged_frame_reported),
        cmocka_unit_test(test_topic_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
