/* test_cgroup.c - consumer groups in storage: every mutation and query of cgroup.h, records and
 * their persistence (clean and unclean reopen equal the in-memory state, a random sequence
 * included), compaction (running, at close, stopped half way), crash cases (groups.log cut at
 * every byte of its last records, garbage and zero tails, a corrupt snapshot), the clamp to a
 * stream that lost data, DEL/RENAME/FLUSHDB, I/O errors on groups.log, topic_count_after.
 * Seed: OBELISK_SEED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/codec.h"
#include "base/status.h"
#include "storage/cgroup.h"
#include "storage/cgstore.h"
#include "storage/idmp.h"
#include "storage/store.h"
/* white-box: the topic's group state and group log (private to the storage library) */
#include "../../src/storage/topic_impl.h"
#include "storetest.h"

static char dir[256];
static unsigned seed;

static int setup(void **state) {
    (void)state;
    storetest_tmpdir(dir, sizeof dir, "cg");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    storetest_rmdir(dir);
    return 0;
}

static void config(struct store_config *c) {
    store_config_defaults(c);
    c->dir = dir;
    c->fsync = PERSIST_FSYNC_NO;
    c->segment_bytes = 1u << 20;
}

static struct store *open_store(struct store_config *c, struct store_open_report *rep) {
    struct store *s;
    struct store_open_report r;
    int rc = store_open(c, &s, rep ? rep : &r);
    if (rc != OBK_OK) fail_msg("store_open: %s (%s)", obk_strerror(rc), (rep ? rep : &r)->damage);
    return s;
}

static void commit(struct store *s) {
    storetest_commit(s);
}

static void append_n(struct topic *t, int n) {
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)"v"};
    size_t fl[2] = {1, 1};
    for (int i = 0; i < n; i++) {
        sid_t id = {topic_last_id(t).ms + 1, 0};
        assert_int_equal(topic_append(t, id, 1, fv, fl), OBK_OK);
    }
}

/* Group "g" (from the start) with consumer "c" on t. */
static void add_group_and_consumer(struct topic *t, struct cg_group **g, struct cg_consumer **co) {
    assert_int_equal(cg_group_create(t, "g", 1, SID_MIN, 0, g), OBK_OK);
    assert_int_equal(cg_consumer_get(t, *g, "c", 1, 1, co, NULL), OBK_OK);
}

/* The canonical bytes of a topic's group state (a snapshot of generation 0). */
struct blob {
    uint8_t *p;
    size_t n;
};
static struct blob state_of(struct topic *t) {
    struct blob b;
    assert_int_equal(cgs_encode_snapshot(t ? t->cg : NULL, 0, &b.p, &b.n), OBK_OK);
    return b;
}
static void assert_state(struct topic *t, struct blob want) {
    struct blob b = state_of(t);
    if (b.n != want.n || memcmp(b.p, want.p, b.n) != 0)
        fail_msg("group state differs (%zu vs %zu bytes)", b.n, want.n);
    free(b.p);
}

static int path_of(char *buf, size_t n, const char *topicdir, const char *file) {
    return snprintf(buf, n, "%s/db0/%s/%s", dir, topicdir, file);
}

static struct blob read_path(const char *p) {
    struct blob b = {NULL, 0};
    FILE *f = fopen(p, "rb");
    if (!f) return b;
    fseek(f, 0, SEEK_END);
    b.n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc(b.n + 1);
    assert_int_equal(fread(b.p, 1, b.n, f), b.n);
    fclose(f);
    return b;
}

static void write_path(const char *p, const uint8_t *d, size_t n) {
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
}

/* ---- queries ---- */
struct names {
    char v[16][32];
    int n;
};
static int group_name_cb(void *ctx, struct cg_group *g) {
    struct names *nm = ctx;
    size_t l;
    const char *s = cg_group_name(g, &l);
    snprintf(nm->v[nm->n++], 32, "%.*s", (int)l, s);
    return 0;
}
static int cons_name_cb(void *ctx, struct cg_consumer *c) {
    struct names *nm = ctx;
    size_t l;
    const char *s = cg_consumer_name(c, &l);
    snprintf(nm->v[nm->n++], 32, "%.*s", (int)l, s);
    return 0;
}
struct plist {
    sid_t id[64];
    const struct cg_consumer *c[64];
    uint64_t count[64];
    int n, stop_at;
};
static int pend_cb(void *ctx, const struct cg_pending *p) {
    struct plist *l = ctx;
    l->id[l->n] = p->id;
    l->c[l->n] = p->consumer;
    l->count[l->n] = p->delivery_count;
    l->n++;
    return l->stop_at && l->n == l->stop_at;
}

static void test_api(void **state) {
    (void)state;
    struct store_config c;
    config(&c);
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    assert_int_equal(store_create(s, 0, "k", 1, &t), OBK_OK);
    append_n(t, 20);
    assert_int_equal(cg_group_count(t), 0);
    assert_null(cg_group_find(t, "g", 1));
    struct cg_group *g, *g2, *g3;
    assert_int_equal(cg_group_create(t, "g", 1, (sid_t){0, 0}, -1, &g), OBK_OK);
    assert_int_equal(cg_group_create(t, "g", 1, (sid_t){5, 0}, 0, &g2), OBK_ERR_EXISTS);
    assert_int_equal(cg_group_create(t, "a\0b", 3, (sid_t){5, 0}, 5, &g2), OBK_OK);
    assert_int_equal(cg_group_create(t, "", 0, (sid_t){1, 0}, 1, &g3), OBK_OK);
    assert_int_equal(cg_group_count(t), 3);
    struct names nm = {.n = 0};
    cg_group_foreach(t, group_name_cb, &nm);
    assert_int_equal(nm.n, 3);
    assert_string_equal(nm.v[0], "");
    assert_string_equal(nm.v[1], "a");
    assert_string_equal(nm.v[2], "g");
    assert_ptr_equal(cg_group_find(t, "a\0b", 3), g2);
    assert_null(cg_group_find(t, "a", 1));
    assert_int_equal(cg_group_entries_read(g), -1);
    assert_int_equal(cg_group_entries_read(g2), 5);
    /* consumers: created once, name order */
    struct cg_consumer *cb, *ca, *cx;
    int created;
    assert_int_equal(cg_consumer_get(t, g, "bob", 3, 1000, &cb, &created), OBK_OK);
    assert_int_equal(created, 1);
    assert_int_equal(cg_consumer_get(t, g, "bob", 3, 2000, &cx, &created), OBK_OK);
    assert_int_equal(created, 0);
    assert_ptr_equal(cx, cb);
    assert_int_equal(cg_consumer_seen_ms(cb), 1000);
    assert_int_equal(cg_consumer_get(t, g, "al", 2, 1500, &ca, &created), OBK_OK);
    nm.n = 0;
    cg_consumer_foreach(g, cons_name_cb, &nm);
    assert_int_equal(nm.n, 2);
    assert_string_equal(nm.v[0], "al");
    assert_string_equal(nm.v[1], "bob");
    assert_int_equal(cg_group_consumer_count(g), 2);
    assert_int_equal(cg_consumer_seen(t, g, cb, 3000), OBK_OK);
    assert_int_equal(cg_consumer_seen_ms(cb), 3000);
    /* deliveries in one record */
    sid_t ids[5] = {{1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}};
    cg_record_begin(t);
    assert_int_equal(cg_deliver_new(t, g, cb, ids, 3, ids[2], 3, 0, 4000), OBK_OK);
    assert_int_equal(cg_deliver_new(t, g, ca, ids + 3, 2, ids[4], 5, 0, 4001), OBK_OK);
    assert_int_equal(cg_record_end(t), OBK_OK);
    assert_true(sid_cmp(cg_group_last_id(g), ids[4]) == 0);
    assert_int_equal(cg_group_entries_read(g), 5);
    assert_int_equal(cg_group_pending_count(g), 5);
    assert_int_equal(cg_consumer_pending_count(cb), 3);
    assert_int_equal(cg_consumer_pending_count(ca), 2);
    const struct cg_pending *p = cg_pending_get(g, ids[1]);
    assert_non_null(p);
    assert_ptr_equal(p->consumer, cb);
    assert_int_equal(p->delivery_ms, 4000);
    assert_int_equal(p->delivery_count, 1);
    assert_null(cg_pending_get(g, (sid_t){6, 0}));
    sid_t lo, hi;
    assert_int_equal(cg_pending_bounds(g, &lo, &hi), 1);
    assert_true(sid_cmp(lo, ids[0]) == 0 && sid_cmp(hi, ids[4]) == 0);
    assert_int_equal(cg_pending_bounds(g2, &lo, &hi), 0);
    /* ranges: whole, per consumer, bounded, stopped */
    struct plist pl = {.n = 0};
    cg_pending_range(g, NULL, SID_MIN, SID_MAX, pend_cb, &pl);
    assert_int_equal(pl.n, 5);
    for (int i = 0; i < 5; i++) assert_true(sid_cmp(pl.id[i], ids[i]) == 0);
    pl = (struct plist){.n = 0};
    cg_pending_range(g, ca, SID_MIN, SID_MAX, pend_cb, &pl);
    assert_int_equal(pl.n, 2);
    assert_true(sid_cmp(pl.id[0], ids[3]) == 0);
    pl = (struct plist){.n = 0};
    cg_pending_range(g, NULL, (sid_t){2, 0}, (sid_t){4, 0}, pend_cb, &pl);
    assert_int_equal(pl.n, 3);
    pl = (struct plist){.n = 0, .stop_at = 1};
    cg_pending_range(g, cb, (sid_t){1, 1}, SID_MAX, pend_cb, &pl);
    assert_int_equal(pl.n, 1);
    assert_true(sid_cmp(pl.id[0], ids[1]) == 0);
    /* history delivery: count and time */
    sid_t again[2] = {{2, 0}, {9, 0}};
    assert_int_equal(cg_deliver_again(t, g, again, 2, 5000), OBK_OK);
    p = cg_pending_get(g, ids[1]);
    assert_int_equal(p->delivery_count, 2);
    assert_int_equal(p->delivery_ms, 5000);
    /* a new delivery of an ID pending elsewhere moves it, count 1 */
    assert_int_equal(cg_deliver_new(t, g, ca, ids + 1, 1, ids[4], 5, 0, 6000), OBK_OK);
    p = cg_pending_get(g, ids[1]);
    assert_ptr_equal(p->consumer, ca);
    assert_int_equal(p->delivery_count, 1);
    assert_int_equal(cg_consumer_pending_count(cb), 2);
    assert_int_equal(cg_consumer_pending_count(ca), 3);
    /* NOACK moves the group only */
    sid_t six = {6, 0};
    assert_int_equal(cg_deliver_new(t, g, cb, &six, 1, six, 6, 1, 6100), OBK_OK);
    assert_null(cg_pending_get(g, six));
    assert_true(sid_cmp(cg_group_last_id(g), six) == 0);
    /* acks */
    uint64_t acked;
    sid_t ack[3] = {{1, 0}, {1, 0}, {7, 0}};
    assert_int_equal(cg_ack(t, g, ack, 3, &acked), OBK_OK);
    assert_int_equal(acked, 1);
    assert_int_equal(cg_group_pending_count(g), 4);
    /* claims: move, and FORCE-create */
    assert_int_equal(cg_claim(t, g, cb, (sid_t){4, 0}, 7000, 5), OBK_OK);
    p = cg_pending_get(g, (sid_t){4, 0});
    assert_ptr_equal(p->consumer, cb);
    assert_int_equal(p->delivery_count, 5);
    assert_int_equal(cg_claim(t, g, cb, (sid_t){15, 0}, 7001, 0), OBK_OK);
    assert_int_equal(cg_group_pending_count(g), 5);
    assert_int_equal(cg_pending_drop(t, g, (sid_t){15, 0}), OBK_OK);
    assert_int_equal(cg_group_pending_count(g), 4);
    /* committed offsets */
    sid_t cid;
    assert_int_equal(cg_committed(g, &cid), 0);
    assert_int_equal(cg_commit(t, g, (sid_t){3, 0}), OBK_OK);
    assert_int_equal(cg_committed(g, &cid), 1);
    assert_true(sid_cmp(cid, (sid_t){3, 0}) == 0);
    assert_int_equal(cg_commit(t, g, SID_MIN), OBK_OK); /* rewind to the start */
    assert_int_equal(cg_committed(g, &cid), 1);
    assert_true(sid_is_zero(cid));
    /* setid */
    assert_int_equal(cg_group_setid(t, g2, (sid_t){10, 0}, 10), OBK_OK);
    assert_true(sid_cmp(cg_group_last_id(g2), (sid_t){10, 0}) == 0);
    /* delete a consumer: its pending entries go */
    uint64_t np;
    size_t before = (size_t)cg_group_pending_count(g);
    uint64_t cbp = cg_consumer_pending_count(cb);
    assert_int_equal(cg_consumer_delete(t, g, cb, &np), OBK_OK);
    assert_int_equal(np, cbp);
    assert_int_equal(cg_group_pending_count(g), before - cbp);
    assert_null(cg_consumer_find(g, "bob", 3));
    struct blob st = state_of(t);
    commit(s);
    /* destroy */
    assert_int_equal(cg_group_destroy(t, g3), OBK_OK);
    assert_int_equal(cg_group_count(t), 2);
    struct blob st2 = state_of(t);
    assert_true(st.n != st2.n);
    commit(s);
    assert_int_equal(store_close(s), OBK_OK);
    s = open_store(&c, NULL);
    t = store_lookup(s, 0, "k", 1);
    assert_state(t, st2);
    assert_int_equal(store_close(s), OBK_OK);
    free(st.p);
    free(st2.p);
}

/* ---- random sequences against clean and unclean reopen ---- */

static void random_ops(struct topic *t, int steps) {
    static const char *gn[] = {"g1", "g2", "grp", ""};
    static const char *cn[] = {"c1", "c2", "c3", "zz"};
    for (int i = 0; i < steps; i++) {
        if (rand() % 4 == 0) append_n(t, 1 + rand() % 3);
        sid_t last = topic_last_id(t);
        struct cg_group *g = cg_group_find(t, gn[rand() % 4], 0);
        const char *name = gn[rand() % 4];
        g = cg_group_find(t, name, strlen(name));
        cg_record_begin(t);
        int op = rand() % 10;
        if (!g) {
            if (op < 6)
                assert_int_equal(cg_group_create(t, name, strlen(name),
                                                 (sid_t){(uint64_t)(rand() % 3), 0}, -1, &g),
                                 OBK_OK);
        } else if (op == 0 && rand() % 5 == 0) {
            assert_int_equal(cg_group_destroy(t, g), OBK_OK);
        } else if (op <= 3) {
            struct cg_consumer *c;
            const char *cname = cn[rand() % 4];
            assert_int_equal(cg_consumer_get(t, g, cname, strlen(cname), rand() % 100000, &c, NULL),
                             OBK_OK);
            sid_t ids[8];
            size_t n = 0;
            sid_t from = cg_group_last_id(g);
            for (uint64_t ms = from.ms + 1; ms <= last.ms && n < 8; ms++) ids[n++] = (sid_t){ms, 0};
            if (n) {
                assert_int_equal(cg_consumer_seen(t, g, c, rand() % 100000), OBK_OK);
                assert_int_equal(cg_deliver_new(t, g, c, ids, n, ids[n - 1], (int64_t)ids[n - 1].ms,
                                                rand() % 8 == 0, rand() % 100000),
                                 OBK_OK);
            }
        } else if (op == 4) {
            sid_t ids[6];
            for (int k = 0; k < 6; k++)
                ids[k] = (sid_t){(uint64_t)(rand() % (int)(last.ms + 1)), 0};
            uint64_t acked;
            assert_int_equal(cg_ack(t, g, ids, 6, &acked), OBK_OK);
        } else if (op == 5) {
            sid_t ids[3];
            for (int k = 0; k < 3; k++)
                ids[k] = (sid_t){(uint64_t)(rand() % (int)(last.ms + 1)), 0};
            assert_int_equal(cg_deliver_again(t, g, ids, 3, rand() % 100000), OBK_OK);
        } else if (op == 6 && cg_group_consumer_count(g)) {
            struct cg_consumer *c;
            const char *cname = cn[rand() % 4];
            assert_int_equal(cg_consumer_get(t, g, cname, strlen(cname), 5, &c, NULL), OBK_OK);
            sid_t id = {(uint64_t)(rand() % (int)(last.ms + 1)), 0};
            assert_int_equal(cg_claim(t, g, c, id, rand() % 100000, (uint64_t)(rand() % 9)),
                             OBK_OK);
        } else if (op == 7) {
            assert_int_equal(cg_commit(t, g, (sid_t){(uint64_t)(rand() % (int)(last.ms + 1)), 0}),
                             OBK_OK);
        } else if (op == 8) {
            struct cg_consumer *c = cg_consumer_find(g, cn[rand() % 4], 2);
            if (c) assert_int_equal(cg_consumer_delete(t, g, c, NULL), OBK_OK);
        } else if (rand() % 4 == 0) { /* idempotent-producer ids, and now and then new bounds */
            char pid[4] = {'p', (char)('0' + rand() % 3), 0},
                 iid[4] = {'i', (char)('0' + rand() % 9), 0};
            sid_t id = {(uint64_t)(rand() % (int)(last.ms + 1)), 0};
            if (rand() % 10 == 0)
                assert_int_equal(
                    topic_idmp_configure(t, 1 + rand() % 3, 2 + (uint64_t)(rand() % 3)), OBK_OK);
            else
                assert_int_equal(topic_idmp_add(t, pid, 2, iid, 2, id, 100, 4), OBK_OK);
        } else if (rand() % 3 == 0) { /* XNACK: released, pending or not (FORCE) */
            sid_t id = {(uint64_t)(rand() % (int)(last.ms + 1)), 0};
            assert_int_equal(cg_nack(t, g, id, (uint64_t)(rand() % 4)), OBK_OK);
        } else if (rand() % 2) { /* a dead-letter policy, with or without a key, or none */
            int k = rand() % 3;
            assert_int_equal(
                cg_group_set_dlq(t, g, (uint64_t)(rand() % 4), k ? "dlq" : NULL, k == 2 ? 3 : 2),
                OBK_OK);
        } else {
            assert_int_equal(cg_group_setid(t, g, last, (int64_t)topic_entries_added(t)), OBK_OK);
        }
        assert_int_equal(cg_record_end(t), OBK_OK);
    }
}

static void expect_dlq(struct store *s, uint64_t max, const char *key) {
    struct topic *t = store_lookup(s, 0, "d", 1);
    struct cg_group *g = cg_group_find(t, "g", 1);
    size_t len;
    const char *k = cg_group_dead_letter_key(g, &len);
    assert_int_equal(cg_group_max_deliveries(g), max);
    if (!key) {
        assert_null(k);
        return;
    }
    assert_int_equal(len, strlen(key));
    assert_memory_equal(k, key, len);
}

/* The dead-letter policy survives a replay of the log (crash) and a snapshot (clean close). */
static void test_dead_letter_policy(void **state) {
    (void)state;
    struct store_config c;
    config(&c);
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    struct cg_group *g;
    struct cg_consumer *co;
    assert_int_equal(store_create(s, 0, "d", 1, &t), OBK_OK);
    add_group_and_consumer(t, &g, &co);
    assert_int_equal(cg_group_max_deliveries(g), 0);
    assert_int_equal(cg_group_set_dlq(t, g, 3, "d:dead", 6), OBK_OK);
    commit(s);
    storetest_image_take(dir); /* a crash: the record is replayed */
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    s = open_store(&c, NULL);
    expect_dlq(s, 3, "d:dead");
    assert_int_equal(store_close(s), OBK_OK); /* clean: a snapshot holds it */
    s = open_store(&c, NULL);
    expect_dlq(s, 3, "d:dead");
    t = store_lookup(s, 0, "d", 1);
    assert_int_equal(cg_group_set_dlq(t, cg_group_find(t, "g", 1), 5, NULL, 0), OBK_OK);
    commit(s);
    assert_int_equal(store_close(s), OBK_OK);
    s = open_store(&c, NULL);
    expect_dlq(s, 5, NULL);
    assert_int_equal(store_close(s), OBK_OK);
}

/* A released (XNACKed) entry that a history read names is left alone: re-delivering it wrote a
 * PENDING_SET with no owner selected, a record the replay refused (the random round trip found
 * it with seed 12). */
static void test_nack_then_history_read(void **state) {
    (void)state;
    struct store_config c;
    config(&c);
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    struct cg_group *g;
    struct cg_consumer *co;
    assert_int_equal(store_create(s, 0, "n", 1, &t), OBK_OK);
    append_n(t, 3);
    cg_record_begin(t);
    add_group_and_consumer(t, &g, &co);
    sid_t ids[2] = {{1, 0}, {2, 0}};
    assert_int_equal(cg_deliver_new(t, g, co, ids, 2, ids[1], 2, 0, 100), OBK_OK);
    assert_int_equal(cg_record_end(t), OBK_OK);
    cg_record_begin(t);
    assert_int_equal(cg_nack(t, g, ids[0], 1), OBK_OK);
    assert_int_equal(cg_deliver_again(t, g, ids, 2, 200), OBK_OK);
    assert_int_equal(cg_record_end(t), OBK_OK);
    assert_null(cg_pending_get(g, ids[0])->consumer); /* still released, not re-delivered */
    assert_int_equal(cg_pending_get(g, ids[0])->delivery_count, 1);
    commit(s);
    struct blob want = state_of(t);
    storetest_image_take(dir); /* a crash: the records are replayed */
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    struct store_open_report rep;
    s = open_store(&c, &rep);
    t = store_lookup(s, 0, "n", 1);
    assert_state(t, want);
    free(want.p);
    assert_int_equal(store_close(s), OBK_OK);
}

/* fuzz_grouplog found an IDMP_CONFIG with a duration of 2^60 s taken as it was (the expiry
 * horizon overflowed): bounds outside XCFGSET's ranges are damage. */
static void test_idmp_config_bounds(void **state) {
    (void)state;
    static const struct {
        int64_t duration;
        uint64_t maxsize;
        int rc;
    } cases[] = {{100, 100, OBK_OK},
                 {86400, 10000, OBK_OK},
                 {1116892707587880569LL, 100, OBK_ERR_CORRUPT},
                 {0, 100, OBK_ERR_CORRUPT},
                 {86401, 100, OBK_ERR_CORRUPT},
                 {100, 0, OBK_ERR_CORRUPT},
                 {100, 10001, OBK_ERR_CORRUPT}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cg_state *cg;
        uint8_t ops[32];
        size_t n = 0;
        ops[n++] = CG_OP_IDMP_CONFIG;
        n += codec_put_svarint(ops + n, cases[i].duration);
        n += codec_put_uvarint(ops + n, cases[i].maxsize);
        assert_int_equal(cgs_new(&cg), OBK_OK);
        assert_int_equal(cgs_apply(cg, ops, n, 0), cases[i].rc);
        cgs_free(cg);
    }
}

/* A snapshot restores the idempotent ids as they were, whatever order their stream IDs came in
 * (XSETID can lower an emptied stream's last ID, so a producer's ids need not grow): here the
 * producer keeps 8-0 behind the newer 1000000-0 until the bound drops that one, and a replay
 * that applied the duration rule again would drop 8-0 when 227442-0 comes after it. */
static void test_idmp_snapshot_keeps_order(void **state) {
    (void)state;
    static const uint64_t ms[] = {1000000, 8, 227442, 13};
    struct cg_state *cg, *again;
    uint8_t *a, *b;
    size_t alen, blen;
    assert_int_equal(cgs_new(&cg), OBK_OK);
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        char iid[8];
        snprintf(iid, sizeof iid, "i%zu", i);
        assert_int_equal(cgroup_idmp_add(cg, "p", 1, iid, strlen(iid), (sid_t){ms[i], 0}, 6, 3),
                         OBK_OK);
    }
    assert_int_equal(cgs_encode_snapshot(cg, 1, &a, &alen), OBK_OK);
    assert_int_equal(cgs_new(&again), OBK_OK);
    assert_int_equal(cgs_apply(again, a + CG_SNAP_FIXED, alen - CG_SNAP_FIXED - 4, 0), OBK_OK);
    assert_int_equal(cgs_encode_snapshot(again, 1, &b, &blen), OBK_OK);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    sid_t id;
    assert_int_equal(idmp_find(again->idmp, "p", 1, "i1", 2, 20, &id), 1);
    assert_int_equal(id.ms, 8);
    free(a);
    free(b);
    cgs_free(again);
    cgs_free(cg);
}

static void test_random_roundtrip(void **state) {
    (void)state;
    srand(seed);
    struct store_config c;
    config(&c);
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    assert_int_equal(store_create(s, 0, "r", 1, &t), OBK_OK);
    append_n(t, 5);
    for (int round = 0; round < 30; round++) {
        random_ops(t, 20);
        commit(s);
    }
    struct blob want = state_of(t);
    storetest_image_take(dir); /* a crash now: unclean, records replayed from gen 0 */
    assert_int_equal(store_close(s), OBK_OK);
    s = open_store(&c, NULL);
    t = store_lookup(s, 0, "r", 1);
    assert_state(t, want);
    assert_int_equal(t->cglog.size, CG_LOG_HEADER); /* clean close compacted */
    assert_true(t->cglog.gen >= 1);
    /* continue after a clean reopen, then crash */
    random_ops(t, 200);
    commit(s);
    struct blob want2 = state_of(t);
    char img2[sizeof dir];
    snprintf(img2, sizeof img2, "%s", dir);
    storetest_image_take(dir);
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    struct store_open_report rep;
    s = open_store(&c, &rep);
    assert_int_equal(rep.clean, 0);
    t = store_lookup(s, 0, "r", 1);
    assert_state(t, want2);
    assert_int_equal(store_close(s), OBK_OK);
    free(want.p);
    free(want2.p);
}

/* A running compaction (the log passes its threshold), then a crash. */
static void test_compaction_running(void **state) {
    (void)state;
    struct store_config c;
    config(&c);
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    struct cg_group *g;
    struct cg_consumer *co;
    assert_int_equal(store_create(s, 0, "c", 1, &t), OBK_OK);
    add_group_and_consumer(t, &g, &co);
    static sid_t ids[1000];
    uint64_t gen0 = 0;
    int compactions = 0;
    for (int round = 0; round < 320; round++) {
        for (int i = 0; i < 1000; i++)
            ids[i] = (sid_t){(uint64_t)round * 1000 + (uint64_t)i + 1, 0};
        append_n(t, 1000);
        cg_record_begin(t);
        assert_int_equal(cg_deliver_new(t, g, co, ids, 1000, ids[999], (int64_t)ids[999].ms, 0,
                                        1700000000000 + round),
                         OBK_OK);
        assert_int_equal(cg_record_end(t), OBK_OK);
        uint64_t acked;
        assert_int_equal(cg_ack(t, g, ids, 990, &acked), OBK_OK);
        assert_int_equal(acked, 990);
        if (round % 10 == 9) commit(s);
        if (t->cglog.gen != gen0) compactions++, gen0 = t->cglog.gen;
    }
    commit(s);
    assert_true(compactions >= 1);
    assert_int_equal(cg_group_pending_count(g), 3200);
    struct blob want = state_of(t);
    storetest_image_take(dir);
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    s = open_store(&c, NULL);
    t = store_lookup(s, 0, "c", 1);
    assert_state(t, want);
    assert_int_equal(store_close(s), OBK_OK);
    free(want.p);
}

/* ---- crash cases on the log ---- */

static void topic_dir(const char *key, char *out) {
    keydir_name(key, strlen(key), out);
}

static void test_crash_log_cuts(void **state) {
    (void)state;
    srand(seed + 1);
    struct store_config c;
    config(&c);
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    assert_int_equal(store_create(s, 0, "x", 1, &t), OBK_OK);
    append_n(t, 30);
    commit(s);
    /* one record per commit; keep the state after each and the log size */
    enum { NREC = 8 };
    struct blob states[NREC + 1];
    uint64_t ends[NREC + 1];
    states[0] = state_of(t);
    ends[0] = 0;
    for (int i = 1; i <= NREC; i++) {
        random_ops(t, 1);
        while (!t->cg || (t->cg->len == 0 && t->cglog.size == ends[i - 1])) random_ops(t, 1);
        commit(s);
        states[i] = state_of(t);
        ends[i] = t->cglog.size;
    }
    char td[KEYDIR_NAME_MAX], lp[600], sp[600], cp[600];
    topic_dir("x", td);
    path_of(lp, sizeof lp, td, CG_LOG_NAME);
    path_of(sp, sizeof sp, td, CG_SNAP_NAME);
    snprintf(cp, sizeof cp, "%s/%s", dir, STORE_CLEAN_NAME);
    storetest_image_take(dir);
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    struct blob log = read_path(lp);
    assert_int_equal(log.n, ends[NREC]);
    assert_null(read_path(sp).p); /* generation 0: no snapshot yet */
    /* cut at every byte of the last records (and of the header) */
    uint64_t from = ends[NREC - 3];
    for (uint64_t cut = 0; cut <= log.n; cut++) {
        if (cut > CG_LOG_HEADER && cut < from) continue;
        write_path(lp, log.p, (size_t)cut);
        unlink(sp);
        unlink(cp);
        struct store_open_report rep;
        s = open_store(&c, &rep);
        int k = 0;
        for (int i = 0; i <= NREC; i++)
            if (ends[i] <= cut && (i == 0 || ends[i] > CG_LOG_HEADER)) k = i;
        if (cut < ends[1]) k = 0;
        t = store_lookup(s, 0, "x", 1);
        assert_state(t, states[k]);
        uint64_t expect_cut = cut < CG_LOG_HEADER ? cut : cut - (k ? ends[k] : CG_LOG_HEADER);
        assert_int_equal(rep.truncated_bytes, expect_cut);
        /* what remains is a valid log: records written now continue it */
        assert_int_equal(store_close(s), OBK_OK);
    }
    /* garbage and zero tails after the last record */
    for (int kind = 0; kind < 3; kind++) {
        uint8_t *b = malloc(log.n + 100);
        memcpy(b, log.p, log.n);
        for (int i = 0; i < 100; i++)
            b[log.n + i] = kind == 0 ? 0 : kind == 1 ? (uint8_t)rand() : 0xff;
        write_path(lp, b, log.n + 100);
        free(b);
        unlink(sp);
        unlink(cp);
        struct store_open_report rep;
        s = open_store(&c, &rep);
        assert_int_equal(rep.truncated_bytes, 100);
        assert_state(store_lookup(s, 0, "x", 1), states[NREC]);
        assert_int_equal(store_close(s), OBK_OK);
    }
    /* a flipped byte inside the last record: the tail from it is cut */
    log.p[ends[NREC - 1] + 9] ^= 0x40;
    write_path(lp, log.p, log.n);
    unlink(sp);
    unlink(cp);
    s = open_store(&c, NULL);
    assert_state(store_lookup(s, 0, "x", 1), states[NREC - 1]);
    assert_int_equal(store_close(s), OBK_OK);
    for (int i = 0; i <= NREC; i++) free(states[i].p);
    free(log.p);
}

/* Snapshot damage refuses the open; a repair drops the group state. Compaction stopped half
 * way: a leftover tmp, or a new snapshot with the old (stale) log. */
static void test_snapshot_cases(void **state) {
    (void)state;
    struct store_config c;
    config(&c);
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    struct cg_group *g;
    struct cg_consumer *co;
    assert_int_equal(store_create(s, 0, "s", 1, &t), OBK_OK);
    append_n(t, 10);
    add_group_and_consumer(t, &g, &co);
    sid_t ids[3] = {{1, 0}, {2, 0}, {3, 0}};
    assert_int_equal(cg_deliver_new(t, g, co, ids, 3, ids[2], 3, 0, 9), OBK_OK);
    commit(s);
    struct blob want = state_of(t);
    storetest_image_take(dir); /* log generation 0 holding every record, no snapshot */
    assert_int_equal(store_close(s), OBK_OK);
    char td[KEYDIR_NAME_MAX], lp[600], sp[600], tp[600];
    topic_dir("s", td);
    path_of(lp, sizeof lp, td, CG_LOG_NAME);
    path_of(sp, sizeof sp, td, CG_SNAP_NAME);
    path_of(tp, sizeof tp, td, CG_SNAP_NAME ".tmp");
    /* the clean close wrote a snapshot: reopen reads it */
    struct blob snap = read_path(sp);
    assert_non_null(snap.p);
    s = open_store(&c, NULL);
    assert_state(store_lookup(s, 0, "s", 1), want);
    assert_int_equal(store_close(s), OBK_OK);
    /* corrupt snapshot: refused, then a repair drops the groups */
    free(snap.p);
    snap = read_path(sp);
    snap.p[snap.n / 2] ^= 1;
    write_path(sp, snap.p, snap.n);
    struct store *s2;
    struct store_open_report rep;
    assert_int_equal(store_open(&c, &s2, &rep), OBK_ERR_DAMAGED);
    assert_non_null(strstr(rep.damage, CG_SNAP_NAME));
    c.repair = 1;
    s = open_store(&c, NULL);
    t = store_lookup(s, 0, "s", 1);
    assert_int_equal(cg_group_count(t), 0);
    assert_int_equal(topic_length(t), 10);
    assert_int_equal(store_close(s), OBK_OK);
    c.repair = 0;
    free(snap.p);
    /* compaction stopped before its rename: a tmp left beside the old files */
    storetest_image_restore(dir);
    write_path(tp, (const uint8_t *)"garbage", 7);
    s = open_store(&c, NULL);
    assert_state(store_lookup(s, 0, "s", 1), want);
    assert_int_equal(access(tp, F_OK), -1);
    assert_int_equal(store_close(s), OBK_OK);
    /* stopped after the snapshot's rename, before the new log: the old log is stale */
    storetest_image_restore(dir);
    struct blob log = read_path(lp);
    uint8_t *sb;
    size_t sn;
    assert_int_equal(
        cgs_encode_snapshot(store_lookup(s = open_store(&c, NULL), 0, "s", 1)->cg, 1, &sb, &sn),
        OBK_OK);
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    write_path(sp, sb, sn);
    s = open_store(&c, &rep);
    t = store_lookup(s, 0, "s", 1);
    assert_state(t, want);
    assert_int_equal(t->cglog.gen, 2);
    assert_int_equal(t->cglog.size, CG_LOG_HEADER);
    /* later records land in the new log and survive a crash */
    uint64_t acked;
    g = cg_group_find(t, "g", 1);
    assert_int_equal(cg_ack(t, g, ids, 1, &acked), OBK_OK);
    commit(s);
    struct blob want2 = state_of(t);
    storetest_image_take(dir);
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    s = open_store(&c, NULL);
    assert_state(store_lookup(s, 0, "s", 1), want2);
    assert_int_equal(store_close(s), OBK_OK);
    /* a log from a generation after the snapshot's (the snapshot went missing): refused */
    storetest_image_restore(dir);
    unlink(sp);
    assert_int_equal(store_open(&c, &s2, &rep), OBK_ERR_DAMAGED);
    assert_non_null(strstr(rep.damage, CG_LOG_NAME));
    free(log.p);
    free(sb);
    free(want.p);
    free(want2.p);
}

/* The stream lost its tail in a crash, the group records survived: clamp, durably. */
static void test_clamp(void **state) {
    (void)state;
    struct store_config c;
    config(&c);
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    struct cg_group *g;
    struct cg_consumer *co;
    assert_int_equal(store_create(s, 0, "m", 1, &t), OBK_OK);
    append_n(t, 10);
    commit(s);
    char td[KEYDIR_NAME_MAX], segp[600];
    topic_dir("m", td);
    path_of(segp, sizeof segp, td, "00000000000000000000.log");
    struct stat st0;
    assert_int_equal(stat(segp, &st0), 0);
    add_group_and_consumer(t, &g, &co);
    append_n(t, 5);
    sid_t ids[15];
    for (int i = 0; i < 15; i++) ids[i] = (sid_t){(uint64_t)i + 1, 0};
    cg_record_begin(t);
    assert_int_equal(cg_deliver_new(t, g, co, ids, 15, ids[14], 15, 0, 77), OBK_OK);
    assert_int_equal(cg_commit(t, g, ids[13]), OBK_OK);
    assert_int_equal(cg_record_end(t), OBK_OK);
    commit(s);
    storetest_image_take(dir);
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    assert_int_equal(truncate(segp, st0.st_size), 0); /* the last 5 entries never made it */
    struct store_open_report rep;
    s = open_store(&c, &rep);
    t = store_lookup(s, 0, "m", 1);
    assert_int_equal(topic_length(t), 10);
    g = cg_group_find(t, "g", 1);
    assert_non_null(g);
    assert_true(sid_cmp(cg_group_last_id(g), ids[9]) == 0);
    assert_int_equal(cg_group_entries_read(g), 10);
    assert_int_equal(cg_group_pending_count(g), 10);
    sid_t lo, hi, cid;
    assert_int_equal(cg_pending_bounds(g, &lo, &hi), 1);
    assert_true(sid_cmp(hi, ids[9]) == 0);
    assert_int_equal(cg_committed(g, &cid), 1);
    assert_true(sid_cmp(cid, ids[9]) == 0);
    co = cg_consumer_find(g, "c", 1);
    assert_non_null(co);
    assert_int_equal(cg_consumer_pending_count(co), 10);
    struct blob want = state_of(t);
    /* the clamp is durable: new entries with the lost IDs are not pending after a crash */
    append_n(t, 2);
    commit(s);
    storetest_image_take(dir);
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    s = open_store(&c, NULL);
    t = store_lookup(s, 0, "m", 1);
    assert_int_equal(topic_length(t), 12);
    assert_state(t, want);
    assert_null(cg_pending_get(cg_group_find(t, "g", 1), ids[10]));
    assert_int_equal(store_close(s), OBK_OK);
    free(want.p);
}

/* Groups live in the topic directory: RENAME carries them, DEL and FLUSHDB drop them; groups
 * survive XDEL and XTRIM (their pending entries too). */
static void test_keyspace_ops(void **state) {
    (void)state;
    struct store_config c;
    config(&c);
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    struct cg_group *g;
    struct cg_consumer *co;
    assert_int_equal(store_create(s, 0, "a", 1, &t), OBK_OK);
    append_n(t, 10);
    add_group_and_consumer(t, &g, &co);
    sid_t ids[4] = {{1, 0}, {2, 0}, {3, 0}, {4, 0}};
    assert_int_equal(cg_deliver_new(t, g, co, ids, 4, ids[3], 4, 0, 5), OBK_OK);
    uint64_t n;
    assert_int_equal(topic_delete_ids(t, ids + 1, 1, &n), OBK_OK);
    struct topic_trim tr = {TOPIC_TRIM_MAXLEN, 5, SID_MIN, 0, 0};
    assert_int_equal(topic_trim(t, &tr, &n), OBK_OK);
    assert_int_equal(cg_group_pending_count(g), 4);
    struct blob want = state_of(t);
    commit(s);
    assert_int_equal(store_rename(s, 0, "a", 1, "b", 1), OBK_OK);
    assert_state(store_lookup(s, 0, "b", 1), want);
    commit(s);
    storetest_image_take(dir);
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    s = open_store(&c, NULL);
    assert_null(store_lookup(s, 0, "a", 1));
    t = store_lookup(s, 0, "b", 1);
    assert_state(t, want);
    /* RENAME over a key with groups: the destination's groups go */
    struct topic *d;
    assert_int_equal(store_create(s, 0, "d", 1, &d), OBK_OK);
    append_n(d, 1);
    assert_int_equal(cg_group_create(d, "other", 5, SID_MIN, 0, &g), OBK_OK);
    commit(s);
    assert_int_equal(store_rename(s, 0, "b", 1, "d", 1), OBK_OK);
    assert_state(store_lookup(s, 0, "d", 1), want);
    /* DEL then re-create: no groups */
    assert_int_equal(store_delete(s, 0, "d", 1), OBK_OK);
    assert_int_equal(store_create(s, 0, "d", 1, &d), OBK_OK);
    assert_int_equal(cg_group_count(d), 0);
    append_n(d, 1);
    commit(s);
    assert_int_equal(store_close(s), OBK_OK);
    s = open_store(&c, NULL);
    d = store_lookup(s, 0, "d", 1);
    assert_int_equal(cg_group_count(d), 0);
    assert_int_equal(cg_group_create(d, "g", 1, SID_MIN, 0, &g), OBK_OK);
    commit(s);
    assert_int_equal(store_flushdb(s, 0), OBK_OK);
    assert_int_equal(store_create(s, 0, "d", 1, &d), OBK_OK);
    assert_int_equal(cg_group_count(d), 0);
    commit(s);
    assert_int_equal(store_close(s), OBK_OK);
    s = open_store(&c, NULL);
    assert_int_equal(cg_group_count(store_lookup(s, 0, "d", 1)), 0);
    assert_int_equal(store_close(s), OBK_OK);
    free(want.p);
}

/* ---- I/O errors on groups.log ---- */
static int glog_fd = -1, glog_fail;
static int hook_openat(int dirfd, const char *path, int flags, mode_t mode) {
    int fd = openat(dirfd, path, flags, mode);
    if (fd >= 0 && !strcmp(path, CG_LOG_NAME)) glog_fd = fd;
    return fd;
}
static ssize_t hook_pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    if (glog_fail && fd == glog_fd) {
        errno = EIO;
        return -1;
    }
    return pwritev(fd, iov, cnt, off);
}

static void test_io_error(void **state) {
    (void)state;
    struct store_config c;
    config(&c);
    static struct fileops ops;
    ops = fileops_posix;
    ops.openat = hook_openat;
    ops.pwritev = hook_pwritev;
    c.ops = &ops;
    c.fsync = PERSIST_FSYNC_ALWAYS;
    glog_fail = 0;
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    struct cg_group *g;
    struct cg_consumer *co;
    assert_int_equal(store_create(s, 0, "e", 1, &t), OBK_OK);
    append_n(t, 5);
    add_group_and_consumer(t, &g, &co);
    commit(s);
    struct blob good = state_of(t);
    uint64_t good_seq =
        store_pending_seq(s) /* the last submitted: nothing is pending after a flush */;
    glog_fail = 1;
    sid_t ids[2] = {{1, 0}, {2, 0}};
    assert_int_equal(cg_deliver_new(t, g, co, ids, 2, ids[1], 2, 0, 3), OBK_OK);
    uint64_t wait = topic_wait_seq(t);
    assert_int_equal(store_flush(s, 1), OBK_OK);
    uint64_t durable = 0;
    int err = 0;
    for (int i = 0; i < 500 && !err; i++) {
        struct pollfd p = {store_eventfd(s), POLLIN, 0};
        poll(&p, 1, 10);
        store_poll(s, &durable, &err);
    }
    assert_int_equal(err, OBK_ERR_IO);
    assert_int_equal(durable, good_seq);
    assert_true(wait > durable); /* the XREADGROUP reply is failed, not released */
    glog_fail = 0;
    uint64_t acked;
    assert_int_equal(cg_ack(t, g, ids, 2, &acked), OBK_ERR_STICKY);
    assert_int_equal(cg_commit(t, g, ids[0]), OBK_ERR_STICKY);
    assert_int_equal(cg_group_create(t, "h", 1, SID_MIN, 0, NULL), OBK_ERR_STICKY);
    cg_record_begin(t);
    assert_int_equal(cg_record_end(t), OBK_ERR_STICKY);
    assert_int_equal(store_close(s), OBK_ERR_IO);
    c.ops = NULL;
    s = open_store(&c, NULL);
    assert_state(store_lookup(s, 0, "e", 1), good);
    assert_int_equal(store_close(s), OBK_OK);
    free(good.p);
}

static void test_count_after(void **state) {
    (void)state;
    struct store_config c;
    config(&c);
    c.cache_max_bytes = 4096; /* some lookups go to disk */
    c.segment_bytes = 2048;
    struct store *s = open_store(&c, NULL);
    struct topic *t;
    assert_int_equal(store_create(s, 0, "n", 1, &t), OBK_OK);
    for (int i = 0; i < 10; i++) {
        append_n(t, 50);
        commit(s);
    }
    uint64_t n;
    assert_int_equal(topic_count_after(t, SID_MIN, &n), OBK_OK);
    assert_int_equal(n, 500);
    assert_int_equal(topic_count_after(t, (sid_t){100, 0}, &n), OBK_OK);
    assert_int_equal(n, 400);
    assert_int_equal(topic_count_after(t, (sid_t){99, 7}, &n), OBK_OK);
    assert_int_equal(n, 401);
    assert_int_equal(topic_count_after(t, (sid_t){500, 0}, &n), OBK_OK);
    assert_int_equal(n, 0);
    assert_int_equal(topic_count_after(t, SID_MAX, &n), OBK_OK);
    assert_int_equal(n, 0);
    sid_t del[3] = {{50, 0}, {150, 0}, {450, 0}};
    uint64_t d;
    assert_int_equal(topic_delete_ids(t, del, 3, &d), OBK_OK);
    struct topic_trim tr = {TOPIC_TRIM_MINID, 0, {120, 0}, 0, 0};
    assert_int_equal(topic_trim(t, &tr, &d), OBK_OK);
    assert_int_equal(topic_count_after(t, SID_MIN, &n), OBK_OK);
    assert_int_equal(n, topic_length(t));
    assert_int_equal(topic_count_after(t, (sid_t){10, 0}, &n), OBK_OK);
    assert_int_equal(n, 381 - 2);
    assert_int_equal(topic_count_after(t, (sid_t){200, 0}, &n), OBK_OK);
    assert_int_equal(n, 300 - 1);
    assert_int_equal(store_close(s), OBK_OK);
}

int main(void) {
    seed = getenv("OBELISK_SEED") ? (unsigned)strtoul(getenv("OBELISK_SEED"), NULL, 10)
                                  : (unsigned)time(NULL);
    printf("# seed %u (set OBELISK_SEED to repeat)\n", seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_log_cuts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyspace_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter_policy, setup, teardown),
        cmocka_unit_test(test_idmp_config_bounds),
        cmocka_unit_test(test_idmp_snapshot_keeps_order),
        cmocka_unit_test_setup_teardown(test_nack_then_history_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
