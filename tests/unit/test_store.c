/* test_store.c - the storage API the server uses: appends and reads over cache and disk
 * (compared with an in-memory model under random operations, before and after clean and
 * unclean reopens), deletes, trims, XSETID, binary keys, rename/delete/flush/scan, retention,
 * group commit sequence numbers. Seed: OBELISK_SEED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/store.h"
#include "storetest.h"

static char dir[256];
static unsigned seed;
static struct store *cur_store;

static int setup(void **state) {
    (void)state;
    storetest_tmpdir(dir, sizeof dir, "store");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    storetest_rmdir(dir);
    return 0;
}

static void small_config(struct store_config *c) {
    store_config_defaults(c);
    c->dir = dir;
    c->fsync = PERSIST_FSYNC_NO;
    c->cache_max_bytes = 64 * 1024; /* forces eviction to disk */
    c->segment_bytes = 4096;        /* forces rolls */
    c->index_interval = 512;
    c->batch_max_bytes = 2048;
    c->node_max_entries = 10;
}

static void wait_durable(struct store *s) {
    uint64_t want = store_pending_seq(s) /* the last submitted: nothing is pending after a flush */,
             durable = 0;
    int err = 0;
    for (int i = 0; i < 5000 && durable < want; i++) {
        struct pollfd p = {store_eventfd(s), POLLIN, 0};
        poll(&p, 1, 10);
        store_poll(s, &durable, &err);
        assert_int_equal(err, OBK_OK);
    }
    assert_true(durable >= want);
}

static void commit(struct store *s) {
    assert_int_equal(store_flush(s, 1), OBK_OK);
    wait_durable(s);
}

/* ---- model ---- */
struct ment {
    sid_t id;
    char val[24];
    int deleted;
};
struct model {
    struct ment *e;
    size_t n, start; /* entries[start..n) are in the log */
};

static size_t model_len(const struct model *m) {
    size_t l = 0;
    for (size_t i = m->start; i < m->n; i++) l += !m->e[i].deleted;
    return l;
}

struct collect {
    sid_t ids[4096];
    char vals[4096][24];
    size_t n;
};

static int collect_cb(void *ctx, const struct obk_entry *e) {
    struct collect *c = ctx;
    assert_true(c->n < 4096);
    assert_int_equal(e->nfields, 2);
    assert_memory_equal(e->fv[0], "f", 1);
    assert_true(e->fvlen[1] < 24);
    c->ids[c->n] = e->id;
    memcpy(c->vals[c->n], e->fv[1], e->fvlen[1]);
    c->vals[c->n][e->fvlen[1]] = 0;
    assert_memory_equal(e->fv[2], "g", 1);
    c->n++;
    return 0;
}

static void check_range(struct topic *t, const struct model *m, sid_t a, sid_t b, uint64_t count,
                        int rev) {
    struct collect *c = calloc(1, sizeof *c);
    assert_int_equal(topic_range(t, a, b, count, rev, collect_cb, c), OBK_OK);
    size_t k = 0;
    for (size_t j = 0; j < m->n - m->start; j++) {
        size_t i = rev ? m->n - 1 - j : m->start + j;
        const struct ment *me = &m->e[i];
        if (me->deleted || sid_cmp(me->id, a) < 0 || sid_cmp(me->id, b) > 0) continue;
        if (count && k == count) break;
        assert_true(k < c->n);
        assert_true(sid_cmp(c->ids[k], me->id) == 0);
        assert_string_equal(c->vals[k], me->val);
        k++;
    }
    assert_int_equal(k, c->n);
    free(c);
}

static void check_all(struct topic *t, const struct model *m) {
    assert_int_equal(topic_length(t), model_len(m));
    check_range(t, m, SID_MIN, SID_MAX, 0, 0);
    check_range(t, m, SID_MIN, SID_MAX, 0, 1);
    for (int q = 0; q < 20; q++) {
        sid_t a = {(uint64_t)(rand() % (int)(m->n + 2)), 0},
              b = {(uint64_t)(rand() % (int)(m->n + 2)), 5};
        uint64_t count = (uint64_t)(rand() % 3 == 0 ? 0 : rand() % 50 + 1);
        check_range(t, m, a, b, count, rand() % 2);
    }
}

static void add(struct topic *t, struct model *m) {
    sid_t id = {(uint64_t)m->n + 1, (uint64_t)(rand() % 3)};
    if (m->n && sid_cmp(id, m->e[m->n - 1].id) <= 0) id.seq = m->e[m->n - 1].id.seq + 1;
    struct ment *me = &m->e[m->n];
    snprintf(me->val, sizeof me->val, "v%zu-%d", m->n, rand() % 1000);
    me->id = id;
    me->deleted = 0;
    const uint8_t *fv[4] = {(const uint8_t *)"f", (const uint8_t *)me->val, (const uint8_t *)"g",
                            (const uint8_t *)"gv"};
    size_t fl[4] = {1, strlen(me->val), 1, 2};
    int rc = topic_append(t, id, 2, fv, fl);
    for (int tries = 0; rc == OBK_ERR_AGAIN && tries < 500; tries++) {
        /* backpressure: the budget is full of entries not in their files yet; hand them over
         * (the flush also asks for the logged bytes waiting in memory to be filed), let the
         * persist thread report, and retry */
        commit(cur_store);
        uint64_t durable;
        int err;
        struct pollfd pfd = {store_eventfd(cur_store), POLLIN, 0};
        poll(&pfd, 1, 10);
        store_poll(cur_store, &durable, &err);
        rc = topic_append(t, id, 2, fv, fl);
    }
    assert_int_equal(rc, OBK_OK);
    m->n++;
}

static struct store *open_store(struct store_config *c, int expect_clean) {
    struct store *s;
    struct store_open_report rep;
    int rc = store_open(c, &s, &rep);
    if (rc != OBK_OK) fail_msg("store_open: %s (%s)", obk_strerror(rc), rep.damage);
    assert_int_equal(rep.clean, expect_clean);
    cur_store = s;
    return s;
}

/* fsync: the policy (under always the log is on and its bytes wait in memory for their files:
 * the cache keeps those entries, and a full cache asks for them to be filed) */
static void model_random(int fsync) {
    struct store_config c;
    small_config(&c);
    c.fsync = fsync;
    struct model m = {calloc(5000, sizeof(struct ment)), 0, 0};
    srand(seed);
    struct store *s = open_store(&c, 0);
    struct topic *t;
    assert_int_equal(store_create(s, 0, "stream", 6, &t), OBK_OK);
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < 300; i++) {
            add(t, &m);
            if (i % 37 == 0) commit(s);
        }
        /* deletes */
        sid_t ids[5];
        size_t expect = 0;
        for (int k = 0; k < 5; k++) {
            size_t i = m.start + (size_t)rand() % (m.n - m.start);
            ids[k] = m.e[i].id;
            int dup = 0;
            for (int j = 0; j < k; j++) dup |= sid_cmp(ids[j], ids[k]) == 0;
            if (!m.e[i].deleted && !dup) expect++;
            m.e[i].deleted = 1;
        }
        uint64_t deleted;
        assert_int_equal(topic_delete_ids(t, ids, 5, &deleted), OBK_OK);
        assert_int_equal(deleted, expect);
        /* exact trims now and then */
        if (round % 3 == 1) {
            struct topic_trim tr = {TOPIC_TRIM_MAXLEN, model_len(&m) - 50, SID_MIN, 0, 0};
            uint64_t removed, before = model_len(&m);
            assert_int_equal(topic_trim(t, &tr, &removed), OBK_OK);
            while (model_len(&m) > tr.maxlen) m.start++;
            while (m.start < m.n && m.e[m.start].deleted) m.start++;
            assert_int_equal(removed, before - model_len(&m));
        }
        if (round % 3 == 2) {
            size_t i = m.start + (m.n - m.start) / 4;
            struct topic_trim tr = {TOPIC_TRIM_MINID, 0, m.e[i].id, 0, 0};
            uint64_t removed;
            assert_int_equal(topic_trim(t, &tr, &removed), OBK_OK);
            m.start = i;
        }
        if (round % 2) commit(s);
        check_all(t, &m);
    }
    assert_true(sid_cmp(topic_last_id(t), m.e[m.n - 1].id) == 0);
    assert_int_equal(topic_entries_added(t), m.n);
    struct store_stats st;
    store_stats(s, &st);
    assert_true(st.segments > 3);
    assert_true(st.cache_misses > 0 && st.cache_hits > 0);
    /* under always the segments' bytes went through the log and waited for their files */
    if (fsync == PERSIST_FSYNC_ALWAYS) assert_true(st.persist.wal.filings > 0);
    print_message("# %llu segments, %llu disk bytes, %llu hits / %llu misses\n",
                  (unsigned long long)st.segments, (unsigned long long)st.disk_bytes,
                  (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses);
    sid_t max_deleted = topic_max_deleted(t);
    assert_int_equal(store_close(s), OBK_OK);

    /* clean reopen: same answers, nothing scanned */
    s = open_store(&c, 1);
    t = store_lookup(s, 0, "stream", 6);
    assert_non_null(t);
    check_all(t, &m);
    assert_true(sid_cmp(topic_max_deleted(t), max_deleted) == 0);
    assert_int_equal(topic_entries_added(t), m.n);
    for (int i = 0; i < 100; i++) add(t, &m);
    commit(s);
    assert_int_equal(store_close(s), OBK_OK);

    /* unclean reopen (the marker removed): replayed from the checkpoint, same answers */
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, STORE_CLEAN_NAME);
    assert_int_equal(unlink(p), 0);
    s = open_store(&c, 0);
    t = store_lookup(s, 0, "stream", 6);
    check_all(t, &m);
    assert_true(sid_cmp(topic_max_deleted(t), max_deleted) == 0);
    assert_int_equal(store_close(s), OBK_OK);
    free(m.e);
}

static void test_model_random(void **state) {
    (void)state;
    model_random(PERSIST_FSYNC_NO);
}

static void test_model_random_deferred(void **state) {
    (void)state;
    model_random(PERSIST_FSYNC_ALWAYS);
}

static void test_setid_approx_trim(void **state) {
    (void)state;
    struct store_config c;
    small_config(&c);
    struct store *s = open_store(&c, 0);
    struct topic *t;
    struct model m = {calloc(400, sizeof(struct ment)), 0, 0};
    assert_int_equal(store_create(s, 0, "x", 1, &t), OBK_OK);
    for (int i = 0; i < 250; i++) add(t, &m);
    commit(s);
    /* nodes of 10: MAXLEN ~ 123 removes whole nodes while 123 entries remain */
    struct topic_trim tr = {TOPIC_TRIM_MAXLEN, 123, SID_MIN, 1, 0};
    uint64_t removed;
    assert_int_equal(topic_trim(t, &tr, &removed), OBK_OK);
    assert_int_equal(removed, 120);
    assert_int_equal(topic_length(t), 130);
    /* LIMIT stops before a node that would pass it */
    tr.maxlen = 0;
    tr.limit = 25;
    assert_int_equal(topic_trim(t, &tr, &removed), OBK_OK);
    assert_int_equal(removed, 20);
    /* MINID ~: whole nodes whose last ID is below */
    struct topic_trim tm = {TOPIC_TRIM_MINID, 0, m.e[175].id, 1, 0};
    assert_int_equal(topic_trim(t, &tm, &removed), OBK_OK);
    assert_int_equal(removed, 30); /* nodes 140-149 .. 160-169; 170-179 holds 175 */
    m.start = 170;
    check_all(t, &m);
    /* XSETID */
    sid_t last = topic_last_id(t);
    sid_t lower = last;
    sid_decr(&lower);
    assert_int_equal(topic_setid(t, lower, 0, 0, 0, SID_MIN), OBK_ERR_RANGE);
    assert_int_equal(topic_setid(t, (sid_t){9999, 0}, 1, 1000, 1, (sid_t){5, 0}), OBK_OK);
    assert_int_equal(topic_entries_added(t), 1000);
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)"v"};
    size_t fl[2] = {1, 1};
    assert_int_equal(topic_append(t, (sid_t){9999, 0}, 1, fv, fl), OBK_ERR_RANGE);
    assert_int_equal(topic_append(t, (sid_t){9999, 1}, 1, fv, fl), OBK_OK);
    assert_int_equal(topic_entries_added(t), 1001);
    assert_int_equal(store_close(s), OBK_OK);
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, STORE_CLEAN_NAME);
    assert_int_equal(unlink(p), 0);
    s = open_store(&c, 0);
    t = store_lookup(s, 0, "x", 1);
    assert_int_equal(topic_entries_added(t), 1001);
    assert_true(topic_max_deleted(t).ms == 5);
    assert_true(topic_last_id(t).ms == 9999 && topic_last_id(t).seq == 1);
    assert_int_equal(topic_length(t), 81);
    assert_int_equal(store_close(s), OBK_OK);
    free(m.e);
}

static int count_cb(void *ctx, const struct obk_entry *e) {
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static void scan_cb(void *ctx, struct topic *t) {
    int *seen = ctx;
    size_t klen;
    topic_key(t, &klen);
    seen[klen % 7]++;
}

static void test_keys(void **state) {
    (void)state;
    struct store_config c;
    small_config(&c);
    struct store *s = open_store(&c, 0);
    char *big = malloc(100 * 1024);
    memset(big, 'k', 100 * 1024);
    struct {
        const char *k;
        size_t len;
    } keys[] = {{"", 0}, {"../../x", 7}, {"a\0/b", 4}, {big, 100 * 1024}, {"/", 1}};
    for (size_t i = 0; i < 5; i++) {
        struct topic *t;
        assert_int_equal(store_create(s, 1, keys[i].k, keys[i].len, &t), OBK_OK);
        assert_int_equal(store_create(s, 1, keys[i].k, keys[i].len, &t), OBK_ERR_EXISTS);
        const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)keys[i].k};
        size_t fl[2] = {1, keys[i].len > 10 ? 10 : keys[i].len};
        assert_int_equal(topic_append(t, (sid_t){1, i}, 1, fv, fl), OBK_OK);
    }
    assert_int_equal(store_dbsize(s, 1), 5);
    assert_null(store_lookup(s, 1, "a", 1)); /* "a\0/b" is not "a" */
    assert_int_equal(store_close(s), OBK_OK);
    /* nothing escaped the data dir: only OBELISK, clean_shutdown, wal and db0..15 at the top */
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        assert_true(!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
                    !strcmp(de->d_name, "OBELISK") || !strcmp(de->d_name, "clean_shutdown") ||
                    !strcmp(de->d_name, "wal") || !strncmp(de->d_name, "db", 2));
    closedir(d);
    s = open_store(&c, 1);
    for (size_t i = 0; i < 5; i++) {
        struct topic *t = store_lookup(s, 1, keys[i].k, keys[i].len);
        assert_non_null(t);
        int n = 0;
        assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 0, count_cb, &n), OBK_OK);
        assert_int_equal(n, 1);
    }
    /* rename over an existing key, delete, scan */
    assert_int_equal(store_rename(s, 1, "", 0, "/", 1), OBK_OK);
    assert_null(store_lookup(s, 1, "", 0));
    assert_non_null(store_lookup(s, 1, "/", 1));
    assert_int_equal(store_dbsize(s, 1), 4);
    assert_int_equal(store_delete(s, 1, "../../x", 7), OBK_OK);
    assert_int_equal(store_delete(s, 1, "../../x", 7), OBK_ERR_NOTFOUND);
    struct topic *t;
    assert_int_equal(store_create(s, 1, "../../x", 7, &t), OBK_OK); /* same name, new topic */
    assert_int_equal(topic_length(t), 0);
    for (int i = 0; i < 40; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "key:%d", i);
        assert_int_equal(store_create(s, 2, k, (size_t)n, &t), OBK_OK);
        if (i == 20) commit(s);
    }
    int seen[7] = {0}, total = 0;
    uint64_t cur = 0;
    do {
        cur = store_scan(s, 2, cur, scan_cb, seen);
    } while (cur != 0);
    for (int i = 0; i < 7; i++) total += seen[i];
    assert_int_equal(total, 40);
    commit(s);
    assert_int_equal(store_flushdb(s, 2), OBK_OK);
    assert_int_equal(store_dbsize(s, 2), 0);
    assert_int_equal(store_close(s), OBK_OK);
    s = open_store(&c, 1);
    assert_int_equal(store_dbsize(s, 2), 0);
    assert_int_equal(store_dbsize(s, 1), 4);
    t = store_lookup(s, 1, "/", 1);
    int n = 0;
    topic_range(t, SID_MIN, SID_MAX, 0, 0, count_cb, &n);
    assert_int_equal(n, 1); /* the renamed "" entry */
    assert_int_equal(topic_length(store_lookup(s, 1, "../../x", 7)), 0);
    assert_int_equal(store_close(s), OBK_OK);
    free(big);
}

static void test_retention_and_seq(void **state) {
    (void)state;
    struct store_config c;
    small_config(&c);
    c.retention_bytes = 20 * 1024;
    struct store *s = open_store(&c, 0);
    struct topic *t;
    struct model m = {calloc(3000, sizeof(struct ment)), 0, 0};
    assert_int_equal(store_create(s, 0, "r", 1, &t), OBK_OK);
    uint64_t seq0 = store_pending_seq(s);
    assert_int_equal(topic_wait_seq(t), seq0);
    for (int i = 0; i < 3000; i++) {
        add(t, &m);
        if (i % 100 == 0) commit(s);
    }
    commit(s);
    assert_int_equal(
        topic_wait_seq(t),
        store_pending_seq(s) /* the last submitted: nothing is pending after a flush */);
    struct store_stats st;
    store_stats(s, &st);
    uint64_t before = st.disk_bytes;
    store_retention(s, 0);
    commit(s);
    store_stats(s, &st);
    print_message("# retention: %llu -> %llu bytes, %llu segments\n", (unsigned long long)before,
                  (unsigned long long)st.disk_bytes, (unsigned long long)st.segments);
    assert_true(st.disk_bytes < before);
    assert_true(st.disk_bytes >= 20 * 1024 && st.disk_bytes < 20 * 1024 + 4096 + 2048);
    m.start = (size_t)topic_start_offset(t);
    assert_true(m.start > 0);
    check_all(t, &m);
    assert_int_equal(store_close(s), OBK_OK);
    s = open_store(&c, 1);
    t = store_lookup(s, 0, "r", 1);
    check_all(t, &m);
    assert_int_equal(store_close(s), OBK_OK);
    free(m.e);
}

static int eio_armed;

static int eio_fdatasync(int fd) {
    if (eio_armed) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

/* An fdatasync failure under fsync always: the batch is not reported durable, the error is
 * sticky (later writes refused, nothing retried), and the stop is not marked clean; what was
 * durable before survives. */
static void test_io_error_sticky(void **state) {
    (void)state;
    struct store_config c;
    small_config(&c);
    static struct fileops ops;
    ops = fileops_posix;
    ops.fdatasync = eio_fdatasync;
    c.ops = &ops;
    c.fsync = PERSIST_FSYNC_ALWAYS;
    eio_armed = 0;
    struct store *s = open_store(&c, 0);
    struct topic *t;
    struct model m = {calloc(100, sizeof(struct ment)), 0, 0};
    assert_int_equal(store_create(s, 0, "e", 1, &t), OBK_OK);
    for (int i = 0; i < 10; i++) add(t, &m);
    commit(s);
    uint64_t good = store_pending_seq(s) /* the last submitted: nothing is pending after a flush */;
    eio_armed = 1;
    for (int i = 0; i < 10; i++) add(t, &m);
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
    assert_int_equal(durable, good);
    assert_true(wait > durable); /* the held reply for those entries is failed, not released */
    eio_armed = 0;
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)"v"};
    size_t fl[2] = {1, 1};
    assert_int_equal(topic_append(t, (sid_t){1000, 0}, 1, fv, fl), OBK_ERR_STICKY);
    assert_int_equal(store_create(s, 0, "e2", 2, &t), OBK_ERR_STICKY);
    assert_int_equal(store_close(s), OBK_ERR_IO);
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, STORE_CLEAN_NAME);
    assert_int_equal(access(p, F_OK), -1);
    s = open_store(&c, 0);
    t = store_lookup(s, 0, "e", 1);
    assert_true(topic_length(t) >= 10);
    m.n = (size_t)topic_length(t); /* the failed batch may or may not have reached the disk */
    check_all(t, &m);
    assert_int_equal(store_close(s), OBK_OK);
    free(m.e);
}

int main(void) {
    seed = getenv("OBELISK_SEED") ? (unsigned)strtoul(getenv("OBELISK_SEED"), NULL, 10)
                                  : (unsigned)time(NULL);
    printf("# seed %u (set OBELISK_SEED to repeat)\n", seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_random_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setid_approx_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_and_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_error_sticky, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
