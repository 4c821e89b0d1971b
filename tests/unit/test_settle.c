/* test_settle.c - the roll back after a sticky I/O error (store_settle, topic_settle.c). Random
 * appends, XDELs, trims, XSETIDs, retention overrides, new topics and consumer-group changes go
 * into submissions; at a random point the writes start failing. store_settle must then leave
 * every topic exactly as the last durable submission left it: a fingerprint of everything a read
 * can see (entries forward and backward, length, offsets, last ID, counters, tombstones, the
 * retention override, groups with their consumers and pending entries) equals the one taken
 * when that submission was made; topics created after it are gone; and no read waits for a
 * failed submission (topic_wait_seq and the pending sequence at or below the durable one).
 * Some rounds keep a submission in flight (its first write held at a gate) while the next one
 * is queued, so that the durable point can fall between submissions that were both in flight.
 * A retention pass in the failed window deletes segments for good: the log start then stays at
 * the first segment left, and the length matches what a read returns. Seed: OBELISK_SEED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/sbuf.h"
#include "base/status.h"
#include "storage/cgroup.h"
#include "storage/store.h"
#include "storetest.h"

#define NKEYS      4
#define MAX_FLUSH  64
#define GROUPS_MAX 2

static char dir[256];
static unsigned seed;
static int cur_policy, cur_variant; /* the round running, for messages */

/* ---- the file operations: writes that fail, and a gate that holds one write ---- */

static atomic_int fail_writes;     /* every pwritev fails with ENOSPC */
static atomic_int fail_after_sync; /* once armed, the first fdatasync or fsync arms fail_writes */
static atomic_int gate_armed;      /* the next pwritev waits until the gate opens */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_in, gate_open;

static ssize_t t_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off) {
    if (atomic_exchange(&gate_armed, 0)) {
        pthread_mutex_lock(&gate_mu);
        gate_in = 1;
        pthread_cond_broadcast(&gate_cv);
        while (!gate_open) pthread_cond_wait(&gate_cv, &gate_mu);
        pthread_mutex_unlock(&gate_mu);
    }
    if (atomic_load(&fail_writes)) {
        errno = ENOSPC;
        return -1;
    }
    return pwritev(fd, iov, iovcnt, off);
}

static int t_fdatasync(int fd) {
    if (atomic_exchange(&fail_after_sync, 0)) atomic_store(&fail_writes, 1);
    return fdatasync(fd);
}

static int t_fsync(int fd) {
    if (atomic_exchange(&fail_after_sync, 0)) atomic_store(&fail_writes, 1);
    return fsync(fd);
}

static struct fileops ops;

static void gate_wait_in(void) {
    pthread_mutex_lock(&gate_mu);
    while (!gate_in) pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void gate_release(void) {
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static void faults_reset(void) {
    atomic_store(&fail_writes, 0);
    atomic_store(&fail_after_sync, 0);
    atomic_store(&gate_armed, 0);
    gate_in = gate_open = 0;
}

/* ---- setup ---- */

static int setup(void **state) {
    (void)state;
    storetest_tmpdir(dir, sizeof dir, "settle");
    faults_reset();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    storetest_rmdir(dir);
    return 0;
}

static struct store *open_store(int fsync_policy) {
    struct store_config c;
    struct store_open_report rep;
    struct store *s;
    store_config_defaults(&c);
    c.dir = dir;
    c.ndbs = 1;
    c.fsync = fsync_policy;
    c.cache_max_bytes = 4096; /* reads go to the segments too */
    c.segment_bytes = 2048;   /* rolls */
    c.index_interval = 256;
    c.batch_max_bytes = 512;
    c.node_max_entries = 4;
    c.syncfs_min_files = 0;
    ops = fileops_posix;
    ops.pwritev = t_pwritev;
    ops.fdatasync = t_fdatasync;
    ops.fsync = t_fsync;
    c.ops = &ops;
    int rc = store_open(&c, &s, &rep);
    if (rc != OBK_OK) fail_msg("store_open: %s (%s)", obk_strerror(rc), rep.damage);
    return s;
}

/* Polls until durable reaches want (or an error when want_error); returns the durable seq. */
static uint64_t wait_for(struct store *s, uint64_t want, int want_error, int *err) {
    uint64_t durable = 0;
    *err = 0;
    for (int i = 0; i < 5000; i++) {
        struct pollfd p = {store_eventfd(s), POLLIN, 0};
        poll(&p, 1, 10);
        store_poll(s, &durable, err);
        if (want_error ? *err != 0 : (*err != 0 || durable >= want)) return durable;
    }
    fail_msg("no %s after 50 s (durable %llu, want %llu, round of policy %d variant %d)",
             want_error ? "error" : "progress", (unsigned long long)durable,
             (unsigned long long)want, cur_policy, cur_variant);
    return 0;
}

/* ---- fingerprint: everything a read can see ---- */

struct fp_ctx {
    struct sbuf *b;
    struct topic *t;
    struct cg_group *g;
};

static int fp_entry(void *ctx, const struct obk_entry *e) {
    struct sbuf *b = ctx;
    sbuf_printf(b, " %llu-%llu@%llu", (unsigned long long)e->id.ms, (unsigned long long)e->id.seq,
                (unsigned long long)e->offset);
    for (uint32_t i = 0; i < 2 * e->nfields; i++)
        sbuf_printf(b, "%c%.*s", i ? ',' : '{', (int)e->fvlen[i], (const char *)e->fv[i]);
    sbuf_add(b, "}", 1);
    return 0;
}

static int fp_pending(void *ctx, const struct cg_pending *p) {
    struct sbuf *b = ctx;
    size_t n;
    const char *cn = cg_consumer_name(p->consumer, &n);
    sbuf_printf(b, " p%llu-%llu:%.*s:%llu:%lld", (unsigned long long)p->id.ms,
                (unsigned long long)p->id.seq, (int)n, cn, (unsigned long long)p->delivery_count,
                (long long)p->delivery_ms);
    return 0;
}

static int fp_consumer(void *ctx, struct cg_consumer *c) {
    struct sbuf *b = ctx;
    size_t n;
    const char *cn = cg_consumer_name(c, &n);
    sbuf_printf(b, " c:%.*s:%llu", (int)n, cn, (unsigned long long)cg_consumer_pending_count(c));
    return 0;
}

static int fp_group(void *ctx, struct cg_group *g) {
    struct fp_ctx *f = ctx;
    size_t n;
    const char *gn = cg_group_name(g, &n);
    sid_t last = cg_group_last_id(g), com = {0, 0};
    int has = cg_committed(g, &com);
    sbuf_printf(f->b, "\n  group %.*s last %llu-%llu read %lld pending %llu consumers %zu", (int)n,
                gn, (unsigned long long)last.ms, (unsigned long long)last.seq,
                (long long)cg_group_entries_read(g), (unsigned long long)cg_group_pending_count(g),
                cg_group_consumer_count(g));
    if (has)
        sbuf_printf(f->b, " committed %llu-%llu", (unsigned long long)com.ms,
                    (unsigned long long)com.seq);
    cg_consumer_foreach(g, fp_consumer, f->b);
    cg_pending_range(g, NULL, SID_MIN, SID_MAX, fp_pending, f->b);
    return 0;
}

static void fp_topic(struct sbuf *b, struct topic *t) {
    size_t kl;
    const uint8_t *k = topic_key(t, &kl);
    sid_t last = topic_last_id(t), md = topic_max_deleted(t);
    sbuf_printf(b,
                "\nkey %.*s len %llu offsets %llu..%llu last %llu-%llu added %llu maxdel "
                "%llu-%llu retention %lld/%lld\n  fwd",
                (int)kl, (const char *)k, (unsigned long long)topic_length(t),
                (unsigned long long)topic_start_offset(t), (unsigned long long)topic_end_offset(t),
                (unsigned long long)last.ms, (unsigned long long)last.seq,
                (unsigned long long)topic_entries_added(t), (unsigned long long)md.ms,
                (unsigned long long)md.seq, (long long)topic_retention_bytes(t),
                (long long)topic_retention_ms(t));
    assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 0, fp_entry, b), OBK_OK);
    sbuf_add(b, "\n  rev", 6);
    assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 1, fp_entry, b), OBK_OK);
    /* tombstones: offsets in the log whose entry is not live */
    sbuf_add(b, "\n  dead", 7);
    for (uint64_t off = topic_start_offset(t); off < topic_end_offset(t); off++) {
        sid_t id;
        if (topic_id_at(t, off, &id) != OBK_OK) continue;
        struct sbuf tmp;
        sbuf_init(&tmp);
        if (topic_get(t, id, fp_entry, &tmp) == OBK_ERR_NOTFOUND)
            sbuf_printf(b, " %llu", (unsigned long long)off);
        sbuf_free(&tmp);
    }
    struct fp_ctx f = {b, t, NULL};
    cg_group_foreach(t, fp_group, &f);
}

struct keys_ctx {
    struct topic *ts[64];
    int n;
};

static void collect_key(void *ctx, struct topic *t) {
    struct keys_ctx *k = ctx;
    assert_true(k->n < 64);
    k->ts[k->n++] = t;
}

/* The whole store, keys in name order. */
static char *fingerprint(struct store *s) {
    struct keys_ctx k = {.n = 0};
    store_foreach(s, 0, collect_key, &k);
    for (int i = 1; i < k.n; i++) /* insertion sort by key */
        for (int j = i; j > 0; j--) {
            size_t la, lb;
            const uint8_t *a = topic_key(k.ts[j - 1], &la), *b = topic_key(k.ts[j], &lb);
            int c = memcmp(a, b, la < lb ? la : lb);
            if (c < 0 || (c == 0 && la <= lb)) break;
            struct topic *x = k.ts[j];
            k.ts[j] = k.ts[j - 1];
            k.ts[j - 1] = x;
        }
    struct sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b, "%d keys", k.n);
    for (int i = 0; i < k.n; i++) fp_topic(&b, k.ts[i]);
    assert_false(b.failed);
    return b.p;
}

/* ---- random operations ---- */

static const char *const keys[NKEYS] = {"alpha", "beta", "gamma", "delta"};

static struct topic *get_topic(struct store *s, int k, int create) {
    struct topic *t = store_lookup(s, 0, keys[k], strlen(keys[k]));
    if (!t && create) assert_int_equal(store_create(s, 0, keys[k], strlen(keys[k]), &t), OBK_OK);
    return t;
}

static void op_append(struct topic *t) {
    char val[32];
    sid_t last = topic_last_id(t),
          id = {last.ms + 1 + (uint64_t)(rand() % 3), (uint64_t)(rand() % 2)};
    snprintf(val, sizeof val, "v%d", rand() % 100000);
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)val};
    size_t fl[2] = {1, strlen(val)};
    int rc = topic_append(t, id, 1, fv, fl);
    assert_true(rc == OBK_OK || rc == OBK_ERR_AGAIN); /* AGAIN: the cache is full of unwritten */
}

static void op_xdel(struct topic *t) {
    sid_t last = topic_last_id(t);
    if (last.ms == 0) return;
    sid_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = (sid_t){1 + (uint64_t)rand() % last.ms, (uint64_t)(rand() % 2)};
    uint64_t n;
    assert_int_equal(topic_delete_ids(t, ids, 3, &n), OBK_OK);
}

static void op_trim(struct topic *t) {
    struct topic_trim tr = {TOPIC_TRIM_MAXLEN, topic_length(t) * 3 / 4, SID_MIN, rand() % 2, 0};
    uint64_t removed;
    assert_int_equal(topic_trim(t, &tr, &removed), OBK_OK);
}

static void op_setid(struct topic *t) {
    sid_t last = topic_last_id(t);
    last.ms += (uint64_t)(rand() % 5);
    assert_int_equal(topic_setid(t, last, 0, 0, 0, SID_MIN), OBK_OK);
}

struct collect {
    sid_t ids[3];
    size_t n;
};

static int collect_id(void *ctx, const struct obk_entry *e) {
    struct collect *c = ctx;
    c->ids[c->n++] = e->id;
    return c->n == 3;
}

/* One group command: create a group, deliver new entries (XREADGROUP >), or acknowledge. */
static void op_group(struct topic *t) {
    char gname[8], cname[8];
    snprintf(gname, sizeof gname, "g%d", rand() % GROUPS_MAX);
    snprintf(cname, sizeof cname, "c%d", rand() % 3);
    int64_t now = 1000 + rand() % 100000;
    cg_record_begin(t);
    struct cg_group *g = cg_group_find(t, gname, strlen(gname));
    sid_t first, last;
    if (!g) {
        assert_int_equal(cg_group_create(t, gname, strlen(gname), SID_MIN, 0, &g), OBK_OK);
    } else if (rand() % 3) {
        struct cg_consumer *c;
        int created;
        struct collect col = {.n = 0};
        sid_t start = cg_group_last_id(g);
        assert_int_equal(cg_consumer_get(t, g, cname, strlen(cname), now, &c, &created), OBK_OK);
        if (sid_incr(&start) == OBK_OK)
            assert_int_equal(topic_range(t, start, SID_MAX, 3, 0, collect_id, &col), OBK_OK);
        if (col.n)
            assert_int_equal(cg_deliver_new(t, g, c, col.ids, col.n, col.ids[col.n - 1],
                                            cg_group_entries_read(g) + (int64_t)col.n, 0, now),
                             OBK_OK);
    } else if (cg_pending_bounds(g, &first, &last)) {
        uint64_t acked;
        assert_int_equal(cg_ack(t, g, &first, 1, &acked), OBK_OK);
    }
    assert_int_equal(cg_record_end(t), OBK_OK);
}

/* One random change; creates a topic now and then. */
static void random_op(struct store *s) {
    int k = rand() % NKEYS;
    struct topic *t = get_topic(s, k, rand() % 4 == 0);
    if (!t) return;
    int r = rand() % 20;
    if (r < 10)
        op_append(t);
    else if (r < 12)
        op_xdel(t);
    else if (r < 13)
        op_trim(t);
    else if (r < 14)
        op_setid(t);
    else if (r < 15)
        assert_int_equal(topic_set_retention(t, 1000 + rand() % 100000, RETENTION_DEFAULT), OBK_OK);
    else
        op_group(t);
}

/* A change that always makes a write (topic.meta), so the submission is not empty. */
static void sure_op(struct store *s) {
    struct topic *t = get_topic(s, rand() % NKEYS, 1);
    assert_int_equal(topic_set_retention(t, 1000 + rand() % 100000, RETENTION_DEFAULT), OBK_OK);
}

/* ---- rounds ---- */

/* The fingerprint after each submission, by sequence. */
struct history {
    uint64_t seq[MAX_FLUSH];
    char *fp[MAX_FLUSH];
    int n;
};

static void flush_and_record(struct store *s, struct history *h) {
    assert_int_equal(store_flush(s, 1), OBK_OK);
    assert_true(h->n < MAX_FLUSH);
    h->seq[h->n] = store_pending_seq(s); /* the last submitted: nothing is pending now */
    h->fp[h->n] = fingerprint(s);
    h->n++;
}

static void run_round(int policy, int variant) {
    cur_policy = policy;
    cur_variant = variant;
    struct store *s = open_store(policy);
    struct history h = {.n = 0};
    int err;
    /* durable history: several submissions, each waited for */
    int commits = 2 + rand() % 5;
    for (int c = 0; c < commits; c++) {
        int n = 1 + rand() % 30;
        for (int i = 0; i < n; i++) random_op(s);
        flush_and_record(s, &h);
        wait_for(s, h.seq[h.n - 1], 0, &err);
        assert_int_equal(err, OBK_OK);
    }
    if (rand() % 2) {
        /* reopened: the topics start from what they recovered (submission 0 of the new store;
         * the clean close compacted the groups into groups.snap) */
        assert_int_equal(store_close(s), OBK_OK);
        s = open_store(policy);
        for (int i = 0; i < h.n; i++) free(h.fp[i]);
        h.n = 0;
        h.seq[h.n] = 0;
        h.fp[h.n++] = fingerprint(s);
        for (int c = rand() % 3; c > 0; c--) {
            for (int i = 0; i < 1 + rand() % 20; i++) random_op(s);
            flush_and_record(s, &h);
            wait_for(s, h.seq[h.n - 1], 0, &err);
            assert_int_equal(err, OBK_OK);
        }
    }
    /* the failing part */
    if (variant == 0) { /* the next submission fails */
        atomic_store(&fail_writes, 1);
    } else { /* one held in flight, the next queued behind it; the failure comes at the first
                write after a sync (variant 1: the held submission is durable unless it synced
                before its last write) or at once (variant 2); every submission here writes and
                syncs something (sure_op) */
        atomic_store(&gate_armed, 1);
        for (int i = 0; i < 1 + rand() % 20; i++) random_op(s);
        sure_op(s);
        flush_and_record(s, &h);
        gate_wait_in();
        if (variant == 1 && policy == PERSIST_FSYNC_ALWAYS)
            atomic_store(&fail_after_sync, 1);
        else
            atomic_store(&fail_writes, 1);
    }
    for (int i = 0; i < 1 + rand() % 30; i++) random_op(s);
    sure_op(s);
    flush_and_record(s, &h);
    for (int i = 0; i < rand() % 10; i++) random_op(s); /* unsubmitted changes too */
    if (variant) gate_release();
    uint64_t durable = wait_for(s, 0, 1, &err);
    assert_true(err == OBK_ERR_NOSPC);
    /* the fingerprint of the last submission the durable point covers (0: the empty store) */
    const char *want = "0 keys";
    for (int i = 0; i < h.n && h.seq[i] <= durable; i++) want = h.fp[i];
    printf("# policy %d variant %d: ", policy, variant);
    store_settle(s);
    char *got = fingerprint(s);
    if (strcmp(got, want))
        fail_msg("after the roll back to submission %llu (policy %d, variant %d):\n%s\n"
                 "--- but that submission left:\n%s",
                 (unsigned long long)durable, policy, variant, got, want);
    printf("%d submissions%s, durable %llu, %zu bytes of state compared\n", h.n,
           h.seq[0] == 0 ? " after a reopen" : "", (unsigned long long)durable, strlen(want));
    /* nothing read waits for a failed submission */
    assert_true(store_pending_seq(s) <= durable);
    for (int k = 0; k < NKEYS; k++) {
        struct topic *t = get_topic(s, k, 0);
        if (t) assert_true(topic_wait_seq(t) <= durable);
    }
    store_touch_begin(s);
    (void)store_dbsize(s, 0);
    assert_true(store_touch_end(s) <= durable);
    free(got);
    for (int i = 0; i < h.n; i++) free(h.fp[i]);
    assert_int_equal(store_close(s), OBK_ERR_NOSPC);
    faults_reset();
}

static void test_random_rounds(void **state) {
    (void)state;
    const char *n = getenv("OBELISK_SETTLE_ROUNDS");
    int rounds = n ? atoi(n) : 24;
    for (int r = 0; r < rounds; r++) {
        srand(seed + (unsigned)r);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", dir);
        assert_int_equal(system(cmd), 0);
        run_round(r % 2 ? PERSIST_FSYNC_ALWAYS : PERSIST_FSYNC_NO, r % 3);
    }
}

static int count_entry(void *ctx, const struct obk_entry *e) {
    (void)e;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* Retention in the failed window unlinks sealed segments for good (the unlinks run before the
 * write that fails): the roll back keeps the log start at the first segment left, so the
 * length still matches what a read returns. */
static void test_retention_in_failed_window(void **state) {
    (void)state;
    srand(seed);
    struct store *s = open_store(PERSIST_FSYNC_ALWAYS);
    struct topic *t;
    int err;
    assert_int_equal(store_create(s, 0, "r", 1, &t), OBK_OK);
    for (int c = 0; c < 40; c++) { /* about 6 segments of 2 KiB */
        for (int i = 0; i < 10; i++) op_append(t);
        assert_int_equal(store_flush(s, 1), OBK_OK);
        wait_for(s, store_pending_seq(s), 0, &err);
        assert_int_equal(err, OBK_OK);
    }
    assert_int_equal(topic_set_retention(t, 4096, RETENTION_DEFAULT), OBK_OK);
    assert_int_equal(store_flush(s, 1), OBK_OK);
    wait_for(s, store_pending_seq(s), 0, &err);
    uint64_t end = topic_end_offset(t), start = topic_start_offset(t);
    assert_int_equal(start, 0);
    atomic_store(&fail_writes, 1);
    store_retention(s, 0);
    assert_true(topic_start_offset(t) > start); /* segments went */
    op_append(t);
    assert_int_equal(store_flush(s, 1), OBK_OK);
    wait_for(s, 0, 1, &err);
    store_settle(s);
    t = store_lookup(s, 0, "r", 1);
    uint64_t n = 0;
    assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 0, count_entry, &n), OBK_OK);
    printf("# retention kept offsets %llu..%llu after the roll back\n",
           (unsigned long long)topic_start_offset(t), (unsigned long long)end);
    assert_true(topic_start_offset(t) > 0);
    assert_int_equal(topic_end_offset(t), end);
    assert_int_equal(topic_length(t), n);
    assert_int_equal(n, end - topic_start_offset(t));
    assert_int_equal(store_close(s), OBK_ERR_NOSPC);
    faults_reset();
}

int main(void) {
    seed = getenv("OBELISK_SEED") ? (unsigned)strtoul(getenv("OBELISK_SEED"), NULL, 10)
                                  : (unsigned)time(NULL);
    printf("# seed %u (set OBELISK_SEED to repeat)\n", seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_in_failed_window, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
