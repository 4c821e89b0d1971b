/* test_replication.c - the storage side of replication: the records a primary's store emits
 * (replog), applied to another store (replapply) under backpressure, must leave the same data
 * set (entries, offsets, tombstones, trims, XSETID values, groups, settings, keys); a snapshot
 * taken at a sync point and opened elsewhere, followed by the records emitted after it, must
 * too; damaged and diverged records are refused. Seed: OBELISK_SEED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/sbuf.h"
#include "base/status.h"
#include "storage/cgroup.h"
#include "storage/replapply.h"
#include "storage/replog.h"
#include "storage/snapshot.h"
#include "storage/store.h"
#include "storage/topic.h"
#include "storetest.h"

static char pdir[256], rdir[256];
static unsigned seed;

/* ---- the stream: every record the primary emits, back to back ---- */
static uint8_t *stream;
static size_t slen, scap;

static void sink(void *ctx, const uint8_t *head, size_t hl, const uint8_t *body, size_t bl) {
    (void)ctx;
    while (slen + hl + bl > scap) {
        scap = scap ? 2 * scap : 65536;
        stream = realloc(stream, scap);
        assert_non_null(stream);
    }
    memcpy(stream + slen, head, hl);
    if (bl) memcpy(stream + slen + hl, body, bl);
    slen += hl + bl;
}

static int setup(void **state) {
    (void)state;
    storetest_tmpdir(pdir, sizeof pdir, "replp");
    storetest_tmpdir(rdir, sizeof rdir, "replr");
    slen = 0;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    storetest_rmdir(pdir);
    storetest_rmdir(rdir);
    free(stream);
    stream = NULL;
    slen = scap = 0;
    return 0;
}

static void config(struct store_config *c, const char *dir, size_t cache) {
    store_config_defaults(c);
    c->dir = dir;
    c->ndbs = 4;
    c->fsync = PERSIST_FSYNC_NO;
    c->cache_max_bytes = cache;
    c->segment_bytes = 4096; /* rolls */
    c->index_interval = 512;
    c->batch_max_bytes = 1024; /* several batches per flush */
    c->node_max_entries = 10;
}

static struct store *open_store(const char *dir, size_t cache) {
    struct store_config c;
    struct store_open_report rep;
    struct store *s = NULL;
    config(&c, dir, cache);
    assert_int_equal(store_open(&c, &s, &rep), OBK_OK);
    return s;
}

/* Applies stream[from..slen) to r, flushing and waiting whenever backpressure says so. */
static unsigned backpressured; /* records that met a full cache */

static size_t apply_stream(struct store *r, size_t from) {
    size_t pos = from, records = 0;
    while (pos < slen) {
        struct replog_rec rec;
        size_t total;
        assert_int_equal(replog_parse(stream + pos, slen - pos, &rec, &total), OBK_OK);
        struct replapply st = {0};
        int rc, tries = 0;
        while ((rc = replapply_record(r, &rec, &st)) == OBK_ERR_AGAIN) {
            storetest_commit(r); /* written entries can leave the cache */
            backpressured += tries == 0;
            assert_true(++tries < 1000);
        }
        assert_int_equal(rc, OBK_OK);
        pos += total;
        records++;
    }
    return records;
}

/* ---- a canonical text of a data set ---- */
static int dump_entry(void *ctx, const struct obk_entry *e) {
    struct sbuf *b = ctx;
    sbuf_printf(b, "  %llu-%llu @%llu", (unsigned long long)e->id.ms, (unsigned long long)e->id.seq,
                (unsigned long long)e->offset);
    for (uint32_t i = 0; i < 2 * e->nfields; i++) {
        sbuf_add(b, " ", 1);
        sbuf_add(b, e->fv[i], e->fvlen[i]);
    }
    sbuf_add(b, "\n", 1);
    return 0;
}

static int dump_pending(void *ctx, const struct cg_pending *p) {
    size_t n;
    const char *cn = cg_consumer_name(p->consumer, &n);
    sbuf_printf((struct sbuf *)ctx, "    pel %llu-%llu %.*s ms=%lld count=%llu\n",
                (unsigned long long)p->id.ms, (unsigned long long)p->id.seq, (int)n, cn,
                (long long)p->delivery_ms, (unsigned long long)p->delivery_count);
    return 0;
}

static int dump_group(void *ctx, struct cg_group *g) {
    struct sbuf *b = ctx;
    size_t n;
    sid_t c = {0, 0};
    const char *name = cg_group_name(g, &n);
    int has = cg_committed(g, &c);
    sbuf_printf(b, "  group %.*s last=%llu-%llu read=%lld consumers=%zu committed=%d:%llu-%llu\n",
                (int)n, name, (unsigned long long)cg_group_last_id(g).ms,
                (unsigned long long)cg_group_last_id(g).seq, (long long)cg_group_entries_read(g),
                cg_group_consumer_count(g), has, (unsigned long long)c.ms,
                (unsigned long long)c.seq);
    sid_t lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    cg_pending_range(g, NULL, lo, hi, dump_pending, b);
    return 0;
}

static void dump_topic(void *ctx, struct topic *t) {
    struct sbuf *b = ctx;
    size_t kl;
    const uint8_t *k = topic_key(t, &kl);
    sid_t last = topic_last_id(t), md = topic_max_deleted(t);
    sbuf_printf(b,
                "db%d key %.*s len=%llu last=%llu-%llu added=%llu maxdel=%llu-%llu "
                "start=%llu end=%llu ret=%lld/%lld exp=%lld\n",
                topic_db(t), (int)kl, (const char *)k, (unsigned long long)topic_length(t),
                (unsigned long long)last.ms, (unsigned long long)last.seq,
                (unsigned long long)topic_entries_added(t), (unsigned long long)md.ms,
                (unsigned long long)md.seq, (unsigned long long)topic_start_offset(t),
                (unsigned long long)topic_end_offset(t), (long long)topic_retention_bytes(t),
                (long long)topic_retention_ms(t), (long long)topic_expire_at(t));
    sid_t lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    assert_int_equal(topic_range(t, lo, hi, 0, 0, dump_entry, b), OBK_OK);
    cg_group_foreach(t, dump_group, b);
}

/* Keys sorted, so that two stores with different hash seeds compare equal. */
static int line_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *dump(struct store *s) {
    struct sbuf all;
    sbuf_init(&all);
    char **parts = NULL;
    size_t n = 0;
    for (int db = 0; db < 4; db++) {
        struct sbuf b;
        sbuf_init(&b);
        store_foreach(s, db, dump_topic, &b);
        /* one part per topic: split at "db" line starts */
        char *p = b.p;
        while (p && *p) {
            char *next = strstr(p + 1, "\ndb");
            size_t len = next ? (size_t)(next + 1 - p) : strlen(p);
            parts = realloc(parts, (n + 1) * sizeof(*parts));
            parts[n++] = strndup(p, len);
            p = next ? next + 1 : NULL;
        }
        sbuf_free(&b);
    }
    qsort(parts, n, sizeof(*parts), line_cmp);
    for (size_t i = 0; i < n; i++) {
        sbuf_add(&all, parts[i], strlen(parts[i]));
        free(parts[i]);
    }
    free(parts);
    sbuf_add(&all, "", 1);
    return all.p;
}

static void assert_same(struct store *a, struct store *b) {
    char *da = dump(a), *db = dump(b);
    if (strcmp(da, db) != 0) {
        fprintf(stderr, "primary:\n%s\nreplica:\n%s\n", da, db);
        fail_msg("the replica differs from the primary");
    }
    free(da);
    free(db);
}

/* ---- a workload over every kind of change ---- */
static struct topic *get(struct store *s, int db, const char *key) {
    struct topic *t = store_lookup(s, db, key, strlen(key));
    if (!t) assert_int_equal(store_create(s, db, key, strlen(key), &t), OBK_OK);
    return t;
}

static void add(struct topic *t, uint64_t ms, int i) {
    char v[64];
    int n = snprintf(v, sizeof v, "value-%d-%u-%.*s", i, (unsigned)rand_r(&seed) % 1000,
                     (int)(rand_r(&seed) % 40), "0123456789012345678901234567890123456789");
    const uint8_t *fv[4] = {(const uint8_t *)"f", (const uint8_t *)v, (const uint8_t *)"g",
                            (const uint8_t *)"x"};
    size_t fl[4] = {1, (size_t)n, 1, 1};
    sid_t id = {ms, 0};
    assert_int_equal(topic_append(t, id, (i % 3) ? 1 : 2, fv, fl), OBK_OK);
}

static uint64_t clock_ms = 1000;

static void workload(struct store *s, int rounds) {
    for (int r = 0; r < rounds; r++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", r % 5);
        struct topic *t = get(s, r % 2, key);
        for (int i = 0; i < 40; i++) add(t, ++clock_ms, i);
        if (r % 3 == 0) { /* XDEL two entries */
            sid_t ids[2] = {{clock_ms - 5, 0}, {clock_ms - 7, 0}};
            uint64_t deleted;
            assert_int_equal(topic_delete_ids(t, ids, 2, &deleted), OBK_OK);
        }
        if (r % 4 == 1) { /* XTRIM MAXLEN ~ 30 */
            struct topic_trim tr = {TOPIC_TRIM_MAXLEN, 30, {0, 0}, 1, 0};
            uint64_t removed;
            assert_int_equal(topic_trim(t, &tr, &removed), OBK_OK);
        }
        /* a group, deliveries, acks, a commit */
        struct cg_group *g = cg_group_find(t, "g", 1);
        if (!g) assert_int_equal(cg_group_create(t, "g", 1, topic_last_id(t), -1, &g), OBK_OK);
        struct cg_consumer *c;
        int created;
        cg_record_begin(t);
        assert_int_equal(cg_consumer_get(t, g, "alice", 5, (int64_t)clock_ms, &c, &created),
                         OBK_OK);
        sid_t ids[3] = {{clock_ms - 3, 0}, {clock_ms - 2, 0}, {clock_ms - 1, 0}};
        assert_int_equal(cg_deliver_new(t, g, c, ids, 3, ids[2], -1, 0, (int64_t)clock_ms), OBK_OK);
        assert_int_equal(cg_record_end(t), OBK_OK);
        uint64_t acked;
        assert_int_equal(cg_ack(t, g, ids, 1, &acked), OBK_OK);
        assert_int_equal(cg_commit(t, g, ids[1]), OBK_OK);
        if (r % 5 == 2) { /* XSETID above the last entry */
            sid_t last = {clock_ms + 10, 3};
            clock_ms += 20;
            assert_int_equal(topic_setid(t, last, 1, topic_entries_added(t) + 5, 0, last), OBK_OK);
        }
        if (r % 7 == 3) assert_int_equal(topic_set_retention(t, 1 << 20, 3600000), OBK_OK);
        if (r % 11 == 4) /* EXPIRE, and PERSIST again later */
            assert_int_equal(topic_set_expire(t, r % 2 ? 0 : (int64_t)clock_ms + 86400000), OBK_OK);
        if (r % 2 == 0) storetest_commit(s); /* several changes per flush, and single ones */
    }
    /* keyspace changes */
    struct topic *t = get(s, 0, "gone");
    add(t, ++clock_ms, 1);
    storetest_commit(s);
    assert_int_equal(store_delete(s, 0, "gone", 4), OBK_OK);
    t = get(s, 0, "src");
    add(t, ++clock_ms, 1);
    assert_int_equal(store_rename(s, 0, "src", 3, "dst", 3), OBK_OK); /* before its flush */
    add(store_lookup(s, 0, "dst", 3), ++clock_ms, 2);
    t = get(s, 3, "flushed");
    add(t, ++clock_ms, 1);
    storetest_commit(s);
    assert_int_equal(store_flushdb(s, 3), OBK_OK);
    t = get(s, 0, "k0");
    assert_int_equal(store_rename(s, 0, "k0", 2, "k1", 2), OBK_OK); /* replaces k1 */
    storetest_commit(s);
}

static void test_records_rebuild_the_data_set(void **state) {
    (void)state;
    struct store *p = open_store(pdir, 1 << 20), *r = open_store(rdir, 16 << 10);
    store_set_repl_sink(p, sink, NULL);
    workload(p, 30);
    assert_true(apply_stream(r, 0) > 30);
    assert_true(backpressured > 0); /* resumed part way through a record */
    storetest_commit(r);
    assert_same(p, r);
    /* and after the replica reopens from its own files */
    assert_int_equal(store_close(r), OBK_OK);
    r = open_store(rdir, 16 << 10);
    assert_same(p, r);
    assert_int_equal(store_close(r), OBK_OK);
    assert_int_equal(store_close(p), OBK_OK);
}

/* Copies every file of a snapshot into dir, as a replica's full sync does. */
static void copy_snapshot(const struct snapshot *sn, const char *dir) {
    char path[1024];
    for (size_t i = 0; i < sn->nfiles; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, sn->files[i].path);
        for (char *p = path + strlen(dir) + 1; *p; p++)
            if (*p == '/') {
                *p = 0;
                mkdir(path, 0700);
                *p = '/';
            }
        int in = snapshot_open(sn, i), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(in >= 0 && out >= 0);
        char buf[8192];
        uint64_t left = sn->files[i].size;
        while (left > 0) {
            ssize_t n = read(in, buf, left < sizeof buf ? left : sizeof buf);
            assert_true(n > 0);
            assert_int_equal(write(out, buf, (size_t)n), n);
            left -= (uint64_t)n;
        }
        close(in);
        close(out);
    }
}

static void test_snapshot_then_records(void **state) {
    (void)state;
    struct store *p = open_store(pdir, 1 << 20);
    store_set_repl_sink(p, sink, NULL);
    workload(p, 12);
    struct snapshot *sn;
    assert_int_equal(snapshot_create(p, "sync-test", &sn), OBK_OK);
    assert_true(sn->nfiles > 20); /* several segments per topic */
    size_t mark = slen;           /* the snapshot holds everything emitted before it */
    /* changes after the sync point: the linked files must not show them */
    workload(p, 12);
    storetest_rmdir(rdir);
    mkdir(rdir, 0700);
    copy_snapshot(sn, rdir);
    snapshot_remove(sn);
    struct stat st;
    char path[512];
    snprintf(path, sizeof path, "%s/sync-test", pdir);
    assert_int_equal(stat(path, &st), -1); /* the links are gone */
    struct store *r = open_store(rdir, 16 << 10);
    apply_stream(r, mark);
    storetest_commit(r);
    assert_same(p, r);
    assert_int_equal(store_close(r), OBK_OK);
    assert_int_equal(store_close(p), OBK_OK);
}

/* The keys of the BATCHES and GROUPS records in the stream, in order, as "key:type ...". */
static void record_order(char *out, size_t cap) {
    size_t pos = 0, total;
    struct replog_rec rec;
    out[0] = '\0';
    for (size_t off = 0; off < slen; off += total) {
        assert_int_equal(replog_parse(stream + off, slen - off, &rec, &total), OBK_OK);
        if (rec.type != REPLOG_BATCHES && rec.type != REPLOG_GROUPS) continue;
        pos += (size_t)snprintf(out + pos, cap - pos, "%.*s:%s ", (int)rec.keylen,
                                (const char *)rec.key, rec.type == REPLOG_BATCHES ? "B" : "G");
    }
}

/* store_write_before: the dead-letter topic's batch goes out before the source topic's group
 * record, whichever was changed first in the turn (the flush order is the write order). */
static void test_write_before_orders_a_round(void **state) {
    (void)state;
    struct store *p = open_store(pdir, 1 << 20);
    store_set_repl_sink(p, sink, NULL);
    struct topic *src = get(p, 0, "src"), *dlq = get(p, 0, "dlq");
    struct cg_group *g;
    struct cg_consumer *c;
    add(src, ++clock_ms, 0);
    sid_t first = {clock_ms, 0};
    add(dlq, ++clock_ms, 0);
    storetest_commit(p);
    slen = 0;
    add(dlq, ++clock_ms, 1); /* dlq is dirty first, so src's later change goes out first */
    cg_record_begin(src);
    assert_int_equal(cg_group_create(src, "g", 1, SID_MIN, 0, &g), OBK_OK);
    assert_int_equal(cg_consumer_get(src, g, "c", 1, 1, &c, NULL), OBK_OK);
    assert_int_equal(cg_record_end(src), OBK_OK);
    char order[256];
    storetest_commit(p);
    record_order(order, sizeof order);
    assert_string_equal(order, "src:G dlq:B ");
    slen = 0; /* the same, ordered: the dead letter first */
    cg_record_begin(src);
    add(dlq, ++clock_ms, 2);
    store_write_before(p, dlq, src);
    assert_int_equal(cg_commit(src, g, first), OBK_OK);
    assert_int_equal(cg_record_end(src), OBK_OK);
    storetest_commit(p);
    record_order(order, sizeof order);
    assert_string_equal(order, "dlq:B src:G ");
    assert_int_equal(store_close(p), OBK_OK);
}

static void test_damaged_and_diverged_records_refused(void **state) {
    (void)state;
    struct store *p = open_store(pdir, 1 << 20), *r = open_store(rdir, 1 << 20);
    store_set_repl_sink(p, sink, NULL);
    struct topic *t = get(p, 0, "s");
    for (int i = 0; i < 5; i++) add(t, ++clock_ms, i);
    storetest_commit(p);
    struct replog_rec rec;
    size_t total;
    /* the META record, then the batches */
    assert_int_equal(replog_parse(stream, slen, &rec, &total), OBK_OK);
    assert_int_equal(rec.type, REPLOG_META);
    size_t second = total;
    assert_int_equal(replog_parse(stream + second, slen - second, &rec, &total), OBK_OK);
    assert_int_equal(rec.type, REPLOG_BATCHES);
    size_t btotal = total;
    /* short: AGAIN with the size it needs */
    assert_int_equal(replog_parse(stream + second, btotal - 1, &rec, &total), OBK_ERR_AGAIN);
    assert_int_equal(total, btotal);
    assert_int_equal(replog_parse(stream + second, 3, &rec, &total), OBK_ERR_AGAIN);
    /* a flipped bit anywhere fails the CRC */
    stream[second + btotal - 2] ^= 0x10;
    assert_int_equal(replog_parse(stream + second, slen - second, &rec, &total), OBK_ERR_CORRUPT);
    stream[second + btotal - 2] ^= 0x10;
    /* applied to a replica whose stream already has other entries: the offsets differ */
    struct topic *rt = get(r, 0, "s");
    add(rt, 1, 0);
    assert_int_equal(replog_parse(stream + second, slen - second, &rec, &total), OBK_OK);
    struct replapply st = {0};
    assert_int_equal(replapply_record(r, &rec, &st), OBK_ERR_CORRUPT);
    /* a record for a database the replica does not have */
    uint8_t head[64];
    size_t hl = replog_encode_head(head, REPLOG_META, 9, "x", 1, NULL, 0);
    assert_int_equal(replog_parse(head, hl, &rec, &total), OBK_OK);
    st.body_pos = 0;
    assert_int_equal(replapply_record(r, &rec, &st), OBK_ERR_CORRUPT);
    assert_int_equal(store_close(r), OBK_OK);
    assert_int_equal(store_close(p), OBK_OK);
}

int main(void) {
    const char *e = getenv("OBELISK_SEED");
    seed = e ? (unsigned)strtoul(e, NULL, 10) : 12345;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_rebuild_the_data_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_then_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_and_diverged_records_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_before_orders_a_round, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
