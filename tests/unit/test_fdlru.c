/* test_fdlru.c - the descriptor LRU and the budget arithmetic, then a store under a small share:
 * the list's order, removal, pins and caps; the share split (fixed part, write share, topics
 * that fit, the read LRU's cap, the smallest share for n topics); and a store whose topics have
 * many sealed segments, read back correctly while the read LRU closes and reopens their
 * descriptors, holding no more than its share, also through a full recovery. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/fdbudget.h"
#include "storage/fdlru.h"
#include "storage/store.h"
#include "storetest.h"

/* ---- the list ---- */

struct obj {
    struct fdlru_node node;
    int open;
    int id;
};

static int closed_order[16], nclosed;

static void close_obj(struct fdlru_node *x, void *ctx) {
    (void)ctx;
    struct obj *o = (struct obj *)(void *)((char *)x - offsetof(struct obj, node));
    assert_true(o->open);
    o->open = 0;
    closed_order[nclosed++] = o->id;
}

static void open_obj(struct fdlru *l, struct obj *o) {
    if (!o->open) fdlru_make_room(l, close_obj, NULL);
    o->open = 1;
    fdlru_touch(l, &o->node);
}

static void test_list(void **state) {
    (void)state;
    struct fdlru l;
    struct obj o[6];
    memset(o, 0, sizeof o);
    for (int i = 0; i < 6; i++) o[i].id = i;
    fdlru_init(&l, 3);
    nclosed = 0;
    assert_null(fdlru_oldest(&l));
    open_obj(&l, &o[0]);
    open_obj(&l, &o[1]);
    open_obj(&l, &o[2]);
    assert_int_equal(l.n, 3);
    assert_ptr_equal(fdlru_oldest(&l), &o[0].node);
    open_obj(&l, &o[0]); /* used again: now the newest */
    assert_ptr_equal(fdlru_oldest(&l), &o[1].node);
    open_obj(&l, &o[3]); /* the cap: the least recently used (1) is closed */
    assert_int_equal(nclosed, 1);
    assert_int_equal(closed_order[0], 1);
    assert_false(fdlru_linked(&o[1].node));
    assert_int_equal(l.n, 3);
    /* a pinned descriptor is never chosen */
    fdlru_pin(&o[2].node);
    open_obj(&l, &o[4]);
    assert_int_equal(closed_order[1], 0);
    assert_true(o[2].open);
    /* a shrink closes everything but the pinned */
    assert_int_equal(fdlru_shrink(&l, 0, close_obj, NULL), 2);
    assert_int_equal(l.n, 1);
    assert_true(o[2].open);
    fdlru_unpin(&o[2].node);
    /* removal by the owner */
    fdlru_remove(&l, &o[2].node);
    fdlru_remove(&l, &o[2].node); /* twice is harmless */
    assert_int_equal(l.n, 0);
    assert_null(fdlru_oldest(&l));
    assert_int_equal(l.evictions, 4);
    /* no cap: nothing is closed */
    fdlru_set_cap(&l, 0);
    o[2].open = 0;
    for (int i = 0; i < 6; i++) open_obj(&l, &o[i]);
    assert_int_equal(l.n, 6);
    assert_int_equal(nclosed, 4);
    /* a lower cap applies at the next open */
    fdlru_set_cap(&l, 2);
    o[5].open = 0;
    fdlru_remove(&l, &o[5].node);
    open_obj(&l, &o[5]);
    assert_int_equal(l.n, 2);
}

/* ---- the budget ---- */

static void test_budget(void **state) {
    (void)state;
    struct fdbudget b;
    /* 16 databases: data dir, syncfs duplicate, eventfd, log directory and file, 16 db dirs,
     * 4 short-lived */
    assert_int_equal(fdbudget_fixed(16), 25);
    fdbudget_init(&b, 4096, 16);
    assert_int_equal(b.write_cap, (4096 - 25) / 4);
    assert_int_equal(fdbudget_max_topics(&b), 4096 - 25 - b.write_cap - FDBUDGET_READ_MIN);
    assert_int_equal(fdbudget_read_cap(&b, 0), 4096 - 25 - b.write_cap);
    assert_int_equal(fdbudget_read_cap(&b, 100), 4096 - 25 - b.write_cap - 100);
    assert_int_equal(fdbudget_read_cap(&b, 1u << 20), FDBUDGET_READ_MIN); /* never below */
    /* the share a 256-descriptor limit gives storage */
    fdbudget_init(&b, 112, 16);
    assert_int_equal(b.write_cap, 21);
    assert_int_equal(fdbudget_max_topics(&b), 62);
    /* a tiny share: the write minimum, and no topic fits */
    fdbudget_init(&b, 16, 16);
    assert_int_equal(b.write_cap, FDBUDGET_WRITE_MIN);
    assert_int_equal(fdbudget_max_topics(&b), 0);
    /* no budget */
    fdbudget_init(&b, 0, 16);
    assert_int_equal(fdbudget_max_topics(&b), UINT64_MAX);
    assert_int_equal(fdbudget_read_cap(&b, 5), 0);
    /* the smallest share for n topics is exactly that */
    assert_int_equal(fdbudget_min_share(16, 0), 25 + FDBUDGET_WRITE_MIN + FDBUDGET_READ_MIN);
    for (uint64_t n = 1; n < 3000; n += (n < 50 ? 1 : 37)) {
        uint64_t s = fdbudget_min_share(16, n);
        fdbudget_init(&b, s, 16);
        assert_true(fdbudget_max_topics(&b) >= n);
        fdbudget_init(&b, s - 1, 16);
        assert_true(fdbudget_max_topics(&b) < n);
    }
}

/* ---- a store under a small share ---- */

static char dir[256];

static int setup(void **state) {
    (void)state;
    storetest_tmpdir(dir, sizeof dir, "fdlru");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    storetest_rmdir(dir);
    return 0;
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the listing's own */
}

#define SHARE   30
#define NDBS    2
#define TOPICS  8
#define ENTRIES 600

static struct store *open_store(uint64_t share) {
    struct store_config c;
    struct store_open_report rep;
    struct store *s;
    store_config_defaults(&c);
    c.dir = dir;
    c.ndbs = NDBS;
    c.fsync = PERSIST_FSYNC_NO;
    c.segment_bytes = 4096;    /* about 12 segments per topic */
    c.cache_max_bytes = 16384; /* most reads go to the disk */
    c.max_open_files = share;
    assert_int_equal(store_open(&c, &s, &rep), OBK_OK);
    return s;
}

static void commit(struct store *s) {
    storetest_commit(s);
}

struct check {
    int k;
    uint64_t next, n;
};

static int check_cb(void *ctx, const struct obk_entry *e) {
    struct check *c = ctx;
    char v[64];
    int len = snprintf(v, sizeof v, "topic %d entry %llu padding padding padding", c->k,
                       (unsigned long long)e->id.ms);
    assert_int_equal(e->id.ms, c->next);
    assert_int_equal(e->fvlen[1], (size_t)len);
    assert_memory_equal(e->fv[1], v, (size_t)len);
    c->next = e->id.ms + 1;
    c->n++;
    return 0;
}

static void read_all(struct store *s, int k) {
    char key[16];
    snprintf(key, sizeof key, "t%d", k);
    struct topic *t = store_lookup(s, k % NDBS, key, strlen(key));
    assert_non_null(t);
    struct check c = {k, 1, 0};
    assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 0, check_cb, &c), OBK_OK);
    assert_int_equal(c.n, ENTRIES);
}

static void test_store_reads_churn(void **state) {
    (void)state;
    int base = open_fds();
    struct store *s = open_store(SHARE);
    for (int k = 0; k < TOPICS; k++) {
        char key[16], v[64];
        struct topic *t;
        snprintf(key, sizeof key, "t%d", k);
        assert_int_equal(store_create(s, k % NDBS, key, strlen(key), &t), OBK_OK);
        for (uint64_t i = 1; i <= ENTRIES; i++) {
            int len = snprintf(v, sizeof v, "topic %d entry %llu padding padding padding", k,
                               (unsigned long long)i);
            const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)v};
            size_t fl[2] = {1, (size_t)len};
            assert_int_equal(topic_append(t, (sid_t){i, 0}, 1, fv, fl), OBK_OK);
            if (i % 50 == 0) commit(s);
        }
    }
    commit(s);
    struct store_stats st;
    store_stats(s, &st);
    assert_true(st.segments > 5 * TOPICS);
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < TOPICS; k++) {
            read_all(s, (k * 3 + round) % TOPICS);
            assert_true(open_fds() - base <= SHARE);
        }
    store_stats(s, &st);
    printf("# %llu segments, %llu read descriptors open, %llu closed to make room; %d "
           "descriptors held (share %d)\n",
           (unsigned long long)st.segments, (unsigned long long)st.read_fds,
           (unsigned long long)st.read_fd_evictions, open_fds() - base, SHARE);
    assert_true(st.read_fd_evictions > 0);
    assert_true(st.persist.write_fd_evictions > 0);
    assert_true(st.open_files <= SHARE);
    /* a topic more than the share holds is refused, and nothing else changes */
    struct topic *t;
    int refused = 0;
    for (int k = TOPICS; k < 40 && !refused; k++) {
        char key[16];
        snprintf(key, sizeof key, "t%d", k);
        int rc = store_create(s, 0, key, strlen(key), &t);
        assert_true(rc == OBK_OK || rc == OBK_ERR_NOFILES);
        refused = rc == OBK_ERR_NOFILES;
        if (!refused) assert_int_equal(store_delete(s, 0, key, strlen(key)), OBK_OK);
    }
    assert_true(refused);
    assert_int_equal(store_set_max_open_files(s, 10), OBK_ERR_RANGE);
    commit(s);
    assert_int_equal(store_close(s), OBK_OK);
    /* a full recovery (no clean marker, no checkpoints) opens segments one at a time */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/clean_shutdown '%s'/db*/*/checkpoint", dir, dir);
    assert_int_equal(system(cmd), 0);
    s = open_store(SHARE);
    assert_true(open_fds() - base <= SHARE);
    for (int k = 0; k < TOPICS; k++) read_all(s, k);
    assert_true(open_fds() - base <= SHARE);
    assert_int_equal(store_close(s), OBK_OK);
    assert_int_equal(open_fds(), base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_budget),
        cmocka_unit_test_setup_teardown(test_store_reads_churn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
