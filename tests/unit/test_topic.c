/* test_topic.c - what the server reads about a topic through topic.h (struct topic is private
 * to the storage library): key and database (binary keys, after RENAME), the stream counters,
 * topic_wait_seq against the store's sequences, disk bytes against store_stats, the retention
 * overrides and the creation time (both kept across a reopen), and topic_has_groups through a
 * group's life. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/time.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/cgroup.h"
#include "storage/store.h"
#include "storetest.h"

static char dir[256];
static size_t small_cache; /* a ring budget this small makes reads go to the disk */

static int setup(void **state) {
    (void)state;
    storetest_tmpdir(dir, sizeof dir, "topic");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    storetest_rmdir(dir);
    return 0;
}

static struct store *open_store(void) {
    struct store_config c;
    struct store_open_report rep;
    struct store *s;
    store_config_defaults(&c);
    c.dir = dir;
    c.fsync = PERSIST_FSYNC_NO;
    c.segment_bytes = 4096; /* a few rolls */
    if (small_cache) c.cache_max_bytes = small_cache;
    assert_int_equal(store_open(&c, &s, &rep), OBK_OK);
    return s;
}

/* Flushes and waits until everything submitted is durable. */
static void commit(struct store *s) {
    storetest_commit(s);
}

static void append(struct topic *t, uint64_t ms, size_t vlen) {
    char v[256];
    memset(v, 'v', sizeof v);
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)v};
    size_t fl[2] = {1, vlen};
    assert_int_equal(topic_append(t, (sid_t){ms, 0}, 1, fv, fl), OBK_OK);
}

static int64_t now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void assert_key(const struct topic *t, const void *key, size_t len) {
    size_t klen = 12345;
    const uint8_t *k = topic_key(t, &klen);
    assert_int_equal(klen, len);
    if (len) assert_memory_equal(k, key, len);
}

static void test_key_and_db(void **state) {
    (void)state;
    struct store *s = open_store();
    struct topic *a, *b, *e;
    static const char bin[] = {'k', 0, '\n', (char)0xff};
    assert_int_equal(store_create(s, 0, "plain", 5, &a), OBK_OK);
    assert_int_equal(store_create(s, 3, bin, sizeof bin, &b), OBK_OK);
    assert_int_equal(store_create(s, 3, "", 0, &e), OBK_OK);
    assert_key(a, "plain", 5);
    assert_key(b, bin, sizeof bin);
    assert_key(e, "", 0);
    assert_int_equal(topic_db(a), 0);
    assert_int_equal(topic_db(b), 3);
    assert_int_equal(topic_db(e), 3);
    /* RENAME gives the same topic its new key */
    assert_int_equal(store_rename(s, 0, "plain", 5, "renamed-key", 11), OBK_OK);
    assert_ptr_equal(store_lookup(s, 0, "renamed-key", 11), a);
    assert_key(a, "renamed-key", 11);
    assert_int_equal(store_close(s), OBK_OK);
    /* and both survive a reopen */
    s = open_store();
    assert_non_null(a = store_lookup(s, 0, "renamed-key", 11));
    assert_key(a, "renamed-key", 11);
    assert_non_null(b = store_lookup(s, 3, bin, sizeof bin));
    assert_key(b, bin, sizeof bin);
    assert_int_equal(topic_db(b), 3);
    assert_int_equal(store_close(s), OBK_OK);
}

static void test_counters(void **state) {
    (void)state;
    struct store *s = open_store();
    struct topic *t;
    assert_int_equal(store_create(s, 0, "s", 1, &t), OBK_OK);
    assert_int_equal(topic_length(t), 0);
    assert_true(sid_is_zero(topic_last_id(t)));
    for (uint64_t ms = 1; ms <= 10; ms++) append(t, ms, 8);
    sid_t del[2] = {{2, 0}, {7, 0}};
    uint64_t n;
    assert_int_equal(topic_delete_ids(t, del, 2, &n), OBK_OK);
    assert_int_equal(n, 2);
    struct topic_trim tr = {TOPIC_TRIM_MINID, 0, {4, 0}, 0, 0};
    assert_int_equal(topic_trim(t, &tr, &n), OBK_OK);
    assert_int_equal(n, 2); /* 1 and 3 (2 was deleted) */
    assert_int_equal(topic_start_offset(t), 3);
    assert_int_equal(topic_end_offset(t), 10);
    assert_int_equal(topic_length(t), 6); /* 4 5 6 8 9 10 */
    assert_int_equal(topic_entries_added(t), 10);
    assert_true(sid_cmp(topic_last_id(t), (sid_t){10, 0}) == 0);
    assert_true(sid_cmp(topic_max_deleted(t), (sid_t){7, 0}) == 0);
    assert_int_equal(store_close(s), OBK_OK);
}

static void test_wait_seq_and_disk_bytes(void **state) {
    (void)state;
    struct store *s = open_store();
    struct topic *t, *u;
    struct store_stats st;
    assert_int_equal(store_create(s, 0, "s", 1, &t), OBK_OK);
    assert_int_equal(store_create(s, 0, "u", 1, &u), OBK_OK);
    /* created: its directory work waits for the next submission */
    assert_int_equal(topic_wait_seq(t), store_pending_seq(s));
    assert_int_equal(topic_disk_bytes(t), 0);
    commit(s);
    uint64_t first = store_pending_seq(s); /* the last submitted */
    assert_int_equal(topic_wait_seq(t), first);
    assert_int_equal(topic_wait_seq(u), first);
    /* a change to t: t waits for the next submission, u still for the one it was in */
    append(t, 1, 100);
    assert_int_equal(topic_wait_seq(t), first + 1);
    assert_int_equal(topic_wait_seq(u), first);
    commit(s);
    assert_int_equal(topic_wait_seq(t), first + 1);
    assert_int_equal(topic_wait_seq(u), first);
    /* disk bytes: the segment files' sizes, the sum over topics in store_stats */
    uint64_t one = topic_disk_bytes(t);
    assert_true(one > 100);
    for (uint64_t ms = 2; ms <= 200; ms++) append(t, ms, 100); /* several 4 KiB segments */
    append(u, 1, 10);
    commit(s);
    assert_true(topic_disk_bytes(t) > 4 * 4096);
    assert_true(topic_disk_bytes(u) > 0);
    store_stats(s, &st);
    assert_int_equal(st.disk_bytes, topic_disk_bytes(t) + topic_disk_bytes(u));
    assert_int_equal(store_close(s), OBK_OK);
}

static void test_retention_and_created(void **state) {
    (void)state;
    struct store *s = open_store();
    struct topic *t, *d;
    int64_t before = now_ms();
    assert_int_equal(store_create(s, 0, "s", 1, &t), OBK_OK);
    assert_int_equal(store_create(s, 0, "d", 1, &d), OBK_OK);
    int64_t after = now_ms();
    int64_t created = topic_created_ms(t);
    assert_true(created >= before && created <= after);
    assert_int_equal(topic_retention_bytes(t), RETENTION_DEFAULT);
    assert_int_equal(topic_retention_ms(t), RETENTION_DEFAULT);
    assert_int_equal(topic_set_retention(t, 1000000, RETENTION_NONE), OBK_OK);
    assert_int_equal(topic_retention_bytes(t), 1000000);
    assert_int_equal(topic_retention_ms(t), RETENTION_NONE);
    assert_int_equal(topic_retention_bytes(d), RETENTION_DEFAULT); /* per topic */
    assert_int_equal(topic_expire_at(t), 0);
    assert_int_equal(topic_set_expire(t, 4102444800000ll), OBK_OK);
    assert_int_equal(topic_set_expire(d, 4102444800123ll), OBK_OK);
    assert_int_equal(store_rename(s, 0, "d", 1, "e", 1), OBK_OK); /* the expiry moves with it */
    assert_int_equal(store_close(s), OBK_OK);
    /* topic.meta keeps both, and the expiry */
    s = open_store();
    assert_non_null(t = store_lookup(s, 0, "s", 1));
    assert_int_equal(topic_created_ms(t), created);
    assert_int_equal(topic_retention_bytes(t), 1000000);
    assert_int_equal(topic_retention_ms(t), RETENTION_NONE);
    assert_int_equal(topic_expire_at(t), 4102444800000ll);
    assert_non_null(d = store_lookup(s, 0, "e", 1));
    assert_int_equal(topic_expire_at(d), 4102444800123ll);
    assert_int_equal(topic_set_expire(d, 0), OBK_OK); /* PERSIST */
    assert_int_equal(topic_set_retention(t, RETENTION_DEFAULT, 60000), OBK_OK);
    assert_int_equal(topic_retention_bytes(t), RETENTION_DEFAULT);
    assert_int_equal(topic_retention_ms(t), 60000);
    assert_int_equal(store_close(s), OBK_OK);
    s = open_store();
    assert_non_null(d = store_lookup(s, 0, "e", 1));
    assert_int_equal(topic_expire_at(d), 0);
    assert_int_equal(store_close(s), OBK_OK);
}

/* ---- XSETID below a stored entry: epochs (tstate.h) ---- */

/* What the stream should hold: every appended entry, in log order, live or not. */
struct model {
    sid_t id[512];
    int live[512];
    int n;
};

struct collect {
    sid_t id[512];
    int n;
};

static int collect_cb(void *ctx, const struct obk_entry *e) {
    struct collect *c = ctx;
    c->id[c->n++] = e->id;
    return 0;
}

/* Reads every range, forward and backward, every live entry by ID, and the counts after IDs,
 * and compares them with the model (the live entries are in ID order). */
static void check_model(struct topic *t, const struct model *m, uint64_t hi_ms) {
    sid_t live[512];
    int nl = 0;
    for (int i = 0; i < m->n; i++)
        if (m->live[i]) live[nl++] = m->id[i];
    for (int i = 1; i < nl; i++) assert_true(sid_cmp(live[i - 1], live[i]) < 0);
    assert_int_equal(topic_length(t), nl);
    for (uint64_t a = 0; a <= hi_ms; a += 3) {
        for (uint64_t b = a; b <= hi_ms + 1; b += 7) {
            sid_t lo = {a, 0}, hi = {b, UINT64_MAX};
            struct collect f = {.n = 0}, r = {.n = 0};
            assert_int_equal(topic_range(t, lo, hi, 0, 0, collect_cb, &f), OBK_OK);
            assert_int_equal(topic_range(t, lo, hi, 0, 1, collect_cb, &r), OBK_OK);
            int k = 0;
            for (int i = 0; i < nl; i++)
                if (sid_cmp(live[i], lo) >= 0 && sid_cmp(live[i], hi) <= 0) {
                    assert_true(k < f.n && sid_cmp(f.id[k], live[i]) == 0);
                    assert_true(sid_cmp(r.id[f.n - 1 - k], live[i]) == 0);
                    k++;
                }
            assert_int_equal(f.n, k);
            assert_int_equal(r.n, k);
        }
        uint64_t after;
        sid_t at = {a, 0};
        assert_int_equal(topic_count_after(t, at, &after), OBK_OK);
        uint64_t want = 0;
        for (int i = 0; i < nl; i++) want += sid_cmp(live[i], at) > 0;
        assert_int_equal(after, want);
    }
    for (int i = 0; i < nl; i++) assert_int_equal(topic_contains(t, live[i]), OBK_OK);
}

static struct store *model_store; /* flushed when the small ring is full of unwritten entries */

static void append_to(struct topic *t, struct model *m, uint64_t ms) {
    char v[40];
    memset(v, 'v', sizeof v);
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)v};
    size_t fl[2] = {1, sizeof v};
    int rc = topic_append(t, (sid_t){ms, 0}, 1, fv, fl);
    if (rc == OBK_ERR_AGAIN) {
        commit(model_store);
        rc = topic_append(t, (sid_t){ms, 0}, 1, fv, fl);
    }
    assert_int_equal(rc, OBK_OK);
    m->id[m->n] = (sid_t){ms, 0};
    m->live[m->n++] = 1;
}

static void delete_from(struct topic *t, struct model *m, uint64_t ms) {
    sid_t id = {ms, 0};
    uint64_t n;
    assert_int_equal(topic_delete_ids(t, &id, 1, &n), OBK_OK);
    assert_int_equal(n, 1);
    for (int i = m->n - 1; i >= 0; i--)
        if (m->live[i] && sid_cmp(m->id[i], id) == 0) {
            m->live[i] = 0;
            break;
        }
}

/* cache: the ring budget (0: the default, reads from the ring; small: from the segments) */
static void xsetid_below_stored(size_t cache) {
    struct model m = {.n = 0};
    small_cache = cache;
    struct store *s = model_store = open_store();
    struct topic *t;
    assert_int_equal(store_create(s, 0, "e", 1, &t), OBK_OK);
    for (uint64_t ms = 10; ms < 70; ms++) append_to(t, &m, ms);
    commit(s);
    for (uint64_t ms = 50; ms < 70; ms++) delete_from(t, &m, ms);
    /* XSETID below the 20 deleted entries the log still stores: allowed, as in Redis */
    assert_int_equal(topic_setid(t, (sid_t){49, 5}, 0, 0, 0, SID_MIN), OBK_OK);
    for (uint64_t ms = 50; ms < 90; ms++) append_to(t, &m, ms); /* IDs the dead ones had */
    check_model(t, &m, 95);
    commit(s);
    check_model(t, &m, 95);
    /* a second epoch: delete the newest, go below them again, the lowest ceiling after */
    for (uint64_t ms = 60; ms < 90; ms++) delete_from(t, &m, ms);
    assert_int_equal(topic_setid(t, (sid_t){59, 3}, 0, 0, 0, SID_MIN), OBK_OK);
    for (uint64_t ms = 60; ms < 80; ms++) append_to(t, &m, ms);
    delete_from(t, &m, 62);
    check_model(t, &m, 95);
    /* below the last live entry is still refused */
    assert_int_equal(topic_setid(t, (sid_t){5, 0}, 0, 0, 0, SID_MIN), OBK_ERR_RANGE);
    commit(s);
    storetest_image_take(dir); /* a crash: rebuilt from the log */
    assert_int_equal(store_close(s), OBK_OK);
    s = model_store = open_store(); /* a clean start: from the checkpoint */
    assert_non_null(t = store_lookup(s, 0, "e", 1));
    check_model(t, &m, 95);
    for (uint64_t ms = 80; ms < 85; ms++) append_to(t, &m, ms);
    check_model(t, &m, 95);
    assert_int_equal(store_close(s), OBK_OK);
    storetest_image_restore(dir);
    m.n -= 5;
    s = model_store = open_store();
    assert_non_null(t = store_lookup(s, 0, "e", 1));
    check_model(t, &m, 95);
    assert_int_equal(store_close(s), OBK_OK);
    small_cache = 0;
}

static void test_xsetid_below_stored_ring(void **state) {
    (void)state;
    xsetid_below_stored(0);
}

static void test_xsetid_below_stored_disk(void **state) {
    (void)state;
    xsetid_below_stored(1024); /* written entries leave the ring: reads go to the segments */
}

static void test_has_groups(void **state) {
    (void)state;
    struct store *s = open_store();
    struct topic *t;
    struct cg_group *g;
    assert_int_equal(store_create(s, 0, "s", 1, &t), OBK_OK);
    assert_false(topic_has_groups(t));
    /* an empty record creates the group state but no group */
    cg_record_begin(t);
    assert_int_equal(cg_record_end(t), OBK_OK);
    assert_false(topic_has_groups(t));
    assert_int_equal(cg_group_create(t, "g", 1, SID_MIN, 0, &g), OBK_OK);
    assert_true(topic_has_groups(t));
    assert_int_equal(cg_group_count(t), 1);
    commit(s);
    assert_int_equal(store_close(s), OBK_OK);
    s = open_store();
    assert_non_null(t = store_lookup(s, 0, "s", 1));
    assert_true(topic_has_groups(t));
    assert_non_null(g = cg_group_find(t, "g", 1));
    assert_int_equal(cg_group_destroy(t, g), OBK_OK);
    assert_false(topic_has_groups(t));
    assert_int_equal(store_close(s), OBK_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_and_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_seq_and_disk_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_and_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_has_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xsetid_below_stored_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xsetid_below_stored_disk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
