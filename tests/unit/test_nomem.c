/* test_nomem.c - running out of memory half way through a stream change.
 *
 * How allocations fail: this program is linked with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc (Makefile, TEST_WRAP), so every allocation the storage library makes goes
 * through the __wrap_ functions below. A test arms them to fail the Nth allocation of the
 * calling thread and every later one, until disarmed; the persist thread's allocations are never
 * failed. Nothing in the library is built differently for it.
 *
 * What is checked, for each change (a large XADD into a fresh batch, XDEL of many IDs, exact and
 * approximate trims, XSETID) and for every N until the change no longer fails: the change
 * either fails with nothing of it applied, or succeeds, or makes the store refuse writes
 * (sticky, and then no clean-shutdown marker is written). When the store still accepts writes,
 * what it answers from memory must equal what a replay of the log gives after a reopen without
 * checkpoint and without clean marker: memory and disk never disagree, and no batch the store
 * wrote is cut as damage. */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/status.h"
#include "storage/batch_format.h"
#include "storage/store.h"
#include "storetest.h"

/* ---- failing allocations ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static pthread_t armed_thread;
static atomic_int armed;
static atomic_long countdown; /* allocations left before they fail */
static atomic_long failures;  /* allocations failed while armed */

static int fail_now(void) {
    if (!atomic_load(&armed) || !pthread_equal(pthread_self(), armed_thread)) return 0;
    if (atomic_fetch_sub(&countdown, 1) > 0) return 0;
    atomic_fetch_add(&failures, 1);
    return 1;
}

void *__wrap_malloc(size_t n) {
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
    return fail_now() ? NULL : __real_realloc(p, n);
}

/* From now on, on this thread, allocation number n (0 = the next one) and every later one
 * fail. */
static void arm(long n) {
    armed_thread = pthread_self();
    atomic_store(&failures, 0);
    atomic_store(&countdown, n);
    atomic_store(&armed, 1);
}

/* Returns how many allocations failed while armed. */
static long disarm(void) {
    atomic_store(&armed, 0);
    return atomic_load(&failures);
}

/* ---- a store in a temporary directory ---- */

static char dir[256];

static int setup(void **state) {
    (void)state;
    disarm(); /* a failed test may have left it armed */
    storetest_tmpdir(dir, sizeof dir, "nomem");
    return 0;
}

static void wipe(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", dir);
    assert_int_equal(system(cmd), 0);
}

static int teardown(void **state) {
    (void)state;
    disarm();
    storetest_rmdir(dir);
    return 0;
}

static struct store *open_store(struct store_open_report *rep) {
    struct store_config c;
    struct store_open_report local;
    struct store *s;
    store_config_defaults(&c);
    c.dir = dir;
    c.ndbs = 1;
    c.fsync = PERSIST_FSYNC_NO;
    c.segment_bytes = 64 * 1024;
    c.node_max_entries = 10;
    assert_int_equal(store_open(&c, &s, rep ? rep : &local), OBK_OK);
    return s;
}

/* Flushes and waits until the persist thread finished it; returns the flush's status. */
static int commit(struct store *s) {
    int rc = store_flush(s, 1);
    if (rc != OBK_OK) return rc;
    uint64_t want = store_pending_seq(s), durable = 0;
    int err = 0;
    for (int i = 0; i < 5000 && durable < want; i++) {
        struct pollfd p = {store_eventfd(s), POLLIN, 0};
        poll(&p, 1, 10);
        store_poll(s, &durable, &err);
        assert_int_equal(err, OBK_OK);
    }
    assert_true(durable >= want);
    return OBK_OK;
}

static struct topic *topic_of(struct store *s) {
    struct topic *t = store_lookup(s, 0, "s", 1);
    assert_non_null(t);
    return t;
}

static int append(struct topic *t, uint64_t ms, size_t vlen) {
    static uint8_t v[200 * 1024];
    memset(v, 'a' + (int)(ms % 26), vlen < sizeof v ? vlen : sizeof v);
    const uint8_t *fv[2] = {(const uint8_t *)"f", v};
    size_t fl[2] = {1, vlen};
    return topic_append(t, (sid_t){ms, 0}, 1, fv, fl);
}

/* ---- the view that memory and the replayed log must agree on ---- */

struct view {
    uint64_t length, start, end, added;
    sid_t last, maxdel;
    uint64_t n;
    sid_t ids[400];
    uint32_t sums[400]; /* bytes of each entry's value, summed */
};

static int collect(void *ctx, const struct obk_entry *e) {
    struct view *v = ctx;
    assert_true(v->n < 400);
    uint32_t sum = 0;
    for (size_t i = 0; i < e->fvlen[1]; i++) sum += e->fv[1][i];
    v->ids[v->n] = e->id;
    v->sums[v->n] = sum;
    v->n++;
    return 0;
}

static void view_of(struct topic *t, struct view *v) {
    memset(v, 0, sizeof *v);
    v->length = topic_length(t);
    v->start = topic_start_offset(t);
    v->end = topic_end_offset(t);
    v->added = topic_entries_added(t);
    v->last = topic_last_id(t);
    v->maxdel = topic_max_deleted(t);
    assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 0, collect, v), OBK_OK);
    assert_int_equal(v->n, v->length);
}

static void assert_same_view(const struct view *a, const struct view *b) {
    assert_int_equal(a->length, b->length);
    assert_int_equal(a->start, b->start);
    assert_int_equal(a->end, b->end);
    assert_int_equal(a->added, b->added);
    assert_int_equal(sid_cmp(a->last, b->last), 0);
    assert_int_equal(sid_cmp(a->maxdel, b->maxdel), 0);
    assert_int_equal(a->n, b->n);
    for (uint64_t i = 0; i < a->n; i++) {
        assert_int_equal(sid_cmp(a->ids[i], b->ids[i]), 0);
        assert_int_equal(a->sums[i], b->sums[i]);
    }
}

static int exists(const char *name) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void remove_file(const char *name) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* ---- the sweep ---- */

typedef int (*change_fn)(struct topic *t);

/* What a sweep runs: pre (when set) before allocations fail, then change. */
struct scenario {
    change_fn pre, change;
};

/* 120 entries of 300 bytes (ms 1..120), two of them deleted, written and closed cleanly: the
 * change then runs on a topic freshly opened, whose buffers are not allocated yet. */
static void prepare(void) {
    wipe();
    struct store *s = open_store(NULL);
    struct topic *t;
    assert_int_equal(store_create(s, 0, "s", 1, &t), OBK_OK);
    for (uint64_t ms = 1; ms <= 120; ms++) assert_int_equal(append(t, ms, 300), OBK_OK);
    sid_t del[2] = {{7, 0}, {60, 0}};
    uint64_t n;
    assert_int_equal(topic_delete_ids(t, del, 2, &n), OBK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(commit(s), OBK_OK);
    assert_int_equal(store_close(s), OBK_OK);
}

/* Runs change with allocation n failing (and every later one); returns 1 when nothing failed
 * (the sweep is over). */
static int sweep_step(const struct scenario *sc, long n) {
    prepare();
    struct store *s = open_store(NULL);
    struct topic *t = topic_of(s);
    struct view before, mem, disk;
    if (sc->pre) assert_int_equal(sc->pre(t), OBK_OK);
    view_of(t, &before);
    arm(n);
    int rc = sc->change(t);
    long failed = disarm();
    if (failed == 0) assert_int_equal(rc, OBK_OK);
    int frc = commit(s);
    if (frc != OBK_OK) {
        /* the store refuses writes: memory may be ahead of the disk, and nothing more is
         * written, not even the clean-shutdown marker */
        assert_int_equal(append(t, 1000, 10), OBK_ERR_STICKY);
        store_close(s);
        assert_false(exists("clean_shutdown"));
    } else {
        if (rc != OBK_OK) {
            /* a change that failed and left the store writable changed nothing */
            view_of(t, &mem);
            assert_same_view(&before, &mem);
        }
        view_of(t, &mem);
        /* later changes still work and reach the disk */
        assert_int_equal(append(t, 1000, 10), OBK_OK);
        assert_int_equal(commit(s), OBK_OK);
        view_of(t, &mem);
        assert_int_equal(store_close(s), OBK_OK);
    }
    /* replay the whole log: no checkpoint, no clean marker */
    remove_file("clean_shutdown");
    remove_file("db0/t_73/checkpoint");
    struct store_open_report rep;
    s = open_store(&rep);
    assert_int_equal(rep.truncated_bytes, 0); /* no batch the store wrote reads as damage */
    if (frc == OBK_OK) {
        view_of(topic_of(s), &disk);
        assert_same_view(&mem, &disk);
    }
    assert_int_equal(store_close(s), OBK_OK);
    return failed == 0;
}

static void sweep(change_fn pre, change_fn change) {
    struct scenario sc = {pre, change};
    long n = 0;
    while (!sweep_step(&sc, n)) {
        n++;
        assert_true(n < 200);
    }
    printf("# %ld allocation points\n", n);
}

/* A large entry on a topic that has another unsubmitted change: the filling batch (new after
 * the reopen) must grow, and the topic is flushed whether the append works or not. */
static int change_append(struct topic *t) {
    int rc = topic_set_retention(t, 1000, -2);
    if (rc != OBK_OK) return rc;
    return append(t, 200, 100 * 1024);
}

/* XDEL of 60 IDs: the tombstones grow several times on the way. */
static int change_xdel(struct topic *t) {
    sid_t ids[60];
    uint64_t n;
    for (int i = 0; i < 60; i++) ids[i] = (sid_t){(uint64_t)(2 * i + 1), 0};
    return topic_delete_ids(t, ids, 60, &n);
}

static int change_trim_exact(struct topic *t) {
    struct topic_trim tr = {TOPIC_TRIM_MAXLEN, 50, SID_MIN, 0, 0};
    uint64_t removed;
    return topic_trim(t, &tr, &removed);
}

static int change_trim_approx(struct topic *t) {
    struct topic_trim tr = {TOPIC_TRIM_MINID, 0, {55, 0}, 1, 0};
    uint64_t removed;
    return topic_trim(t, &tr, &removed);
}

static int change_setid(struct topic *t) {
    return topic_setid(t, (sid_t){500, 0}, 1, 900, 1, (sid_t){90, 0});
}

/* An entry in the filling DATA batch (not yet submitted) ... */
static int pre_append(struct topic *t) {
    return append(t, 200, 5000);
}

/* ... then XDEL: the type change closes the DATA batch first, then a DELETE batch starts. */
static int change_xdel_after_append(struct topic *t) {
    sid_t ids[3] = {{2, 0}, {3, 0}, {200, 0}};
    uint64_t n;
    return topic_delete_ids(t, ids, 3, &n);
}

static void test_append(void **state) {
    (void)state;
    sweep(NULL, change_append);
}

static void test_xdel(void **state) {
    (void)state;
    sweep(NULL, change_xdel);
}

static void test_trim_exact(void **state) {
    (void)state;
    sweep(NULL, change_trim_exact);
}

static void test_trim_approx(void **state) {
    (void)state;
    sweep(NULL, change_trim_approx);
}

static void test_setid(void **state) {
    (void)state;
    sweep(NULL, change_setid);
}

static void test_append_then_xdel(void **state) {
    (void)state;
    sweep(pre_append, change_xdel_after_append);
}

/* A builder that could not get memory for its first record, finished while memory is still
 * short: an error, never a crash or a batch without records. */
static void test_builder_without_memory(void **state) {
    (void)state;
    struct batch_builder b;
    const uint8_t *out = NULL;
    size_t len = 0;
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)"v"};
    size_t fl[2] = {1, 1};
    batch_builder_init(&b);
    arm(0);
    assert_int_equal(batch_builder_begin(&b, BATCH_DATA, 0), OBK_ERR_NOMEM);
    assert_int_not_equal(batch_builder_add_data(&b, (sid_t){1, 0}, 1, fv, fl), OBK_OK);
    assert_int_not_equal(batch_builder_finish(&b, 1, &out, &len), OBK_OK);
    disarm();
    /* with memory back, the same builder works */
    assert_int_equal(batch_builder_begin(&b, BATCH_DATA, 0), OBK_OK);
    assert_int_equal(batch_builder_add_data(&b, (sid_t){1, 0}, 1, fv, fl), OBK_OK);
    assert_int_equal(batch_builder_finish(&b, 1, &out, &len), OBK_OK);
    struct batch_header h;
    assert_int_equal(batch_verify(out, len, &h), OBK_OK);
    assert_int_equal(h.count, 1);
    batch_builder_free(&b);
}

/* An append that failed on a topic with other unsubmitted changes, then a flush while memory
 * is still short: the flush fails (the store refuses writes) or writes nothing bad; it never
 * crashes, and the replayed log holds what was acknowledged. */
static void test_flush_while_short(void **state) {
    (void)state;
    for (long n = 0;; n++) {
        assert_true(n < 100);
        wipe();
        struct store *s = open_store(NULL);
        struct topic *t;
        assert_int_equal(store_create(s, 0, "s", 1, &t), OBK_OK);
        assert_int_equal(append(t, 1, 10), OBK_OK);
        assert_int_equal(commit(s), OBK_OK);
        assert_int_equal(store_close(s), OBK_OK);
        s = open_store(NULL);
        t = topic_of(s);
        /* another key created (the submission being built exists), then t changed: t is the
         * first topic the flush closes */
        struct topic *u;
        assert_int_equal(store_create(s, 0, "u", 1, &u), OBK_OK);
        assert_int_equal(topic_set_retention(t, 1000, -2), OBK_OK);
        arm(n);
        int rc = append(t, 2, 100 * 1024);
        store_flush(s, 1);
        disarm();
        store_close(s);
        struct store_open_report rep;
        remove_file("clean_shutdown");
        remove_file("db0/t_73/checkpoint");
        s = open_store(&rep);
        assert_int_equal(rep.truncated_bytes, 0);
        assert_true(topic_length(topic_of(s)) >= 1);
        store_close(s);
        if (rc == OBK_OK) break;
    }
}

int main(void) {
    struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_without_memory),
        cmocka_unit_test(test_flush_while_short),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_xdel),
        cmocka_unit_test(test_trim_exact),
        cmocka_unit_test(test_trim_approx),
        cmocka_unit_test(test_setid),
        cmocka_unit_test(test_append_then_xdel),
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        tests[i].setup_func = setup;
        tests[i].teardown_func = teardown;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
