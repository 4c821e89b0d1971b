/* test_walpath.c - the write-ahead log on the write path: a store whose topics' files lose
 * everything the log holds (a power cut before any checkpoint synced them) comes back whole
 * from the log; cuts at every byte of the log's last records leave a consistent prefix; a
 * deleted topic's records are skipped; a checkpoint leaves nothing to replay.
 *
 * The crashes are real: a child process opens the store, commits (each commit is durable:
 * storetest_commit waits for it) and dies with _exit without closing, so nothing is
 * checkpointed after the writes; the parent then cuts the topics' files back and reopens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/crc32c.h"
#include "base/status.h"
#include "storage/cgstore.h"
#include "storage/keydir.h"
#include "storage/cgroup.h"
#include "storage/store.h"
#include "storage/topic.h"
#include "storage/wal.h"
#include "storage/walreplay.h"
#include "storetest.h"

#define TOPICS     24
#define CUT_TOPICS 4 /* the cut test reopens hundreds of times: a small store */
#define ROUNDS     6
#define PER        5 /* entries per topic per round */
#define WAL_MIB    1

static char dir[256];

static int setup(void **state) {
    (void)state;
    storetest_tmpdir(dir, sizeof dir, "walpath");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    storetest_rmdir(dir);
    return 0;
}

static void config(struct store_config *c, const char *d) {
    store_config_defaults(c);
    c->dir = d;
    c->ndbs = 2;
    c->fsync = PERSIST_FSYNC_ALWAYS;
    c->wal_file_bytes = WAL_MIB << 20;    /* small: the rounds roll through several files */
    c->wal_checkpoint_bytes = 1ull << 40; /* no checkpoint while the child writes */
    c->wal_checkpoint_ms = 3600 * 1000;
}

static void key_of(int i, char *k) {
    snprintf(k, 16, "k%02d", i);
}

/* Writes ROUNDS rounds into TOPICS topics of db 1 with a group on each, every round durable;
 * deletes topic 0 in the last round. Runs in the child: exits 0 after the last commit without
 * closing the store. */
static void child_writes(const char *d, int topics) {
    struct store_config c;
    struct store *s;
    struct store_open_report rep;
    config(&c, d);
    if (store_open(&c, &s, &rep) != OBK_OK) _exit(2);
    char val[64];
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < topics; i++) {
            char k[16];
            key_of(i, k);
            struct topic *t = store_lookup(s, 1, k, strlen(k));
            if (!t && store_create(s, 1, k, strlen(k), &t) != OBK_OK) _exit(3);
            for (int e = 0; e < PER; e++) {
                int n = snprintf(val, sizeof val, "v-%d-%d-%d", i, r, e);
                const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)val};
                size_t fl[2] = {1, (size_t)n};
                sid_t id = {(uint64_t)(r + 1), (uint64_t)e};
                if (topic_append(t, id, 1, fv, fl) != OBK_OK) _exit(4);
            }
            /* a group that acknowledges every other round's entries */
            struct cg_group *g = cg_group_find(t, "g", 1);
            cg_record_begin(t);
            if (!g && cg_group_create(t, "g", 1, (sid_t){0, 0}, 0, &g) != OBK_OK) _exit(5);
            struct cg_consumer *cons;
            int created;
            if (cg_consumer_get(t, g, "c", 1, 1000, &cons, &created) != OBK_OK) _exit(6);
            sid_t ids[PER];
            for (int e = 0; e < PER; e++) ids[e] = (sid_t){(uint64_t)(r + 1), (uint64_t)e};
            if (cg_deliver_new(t, g, cons, ids, PER, ids[PER - 1], (int64_t)((r + 1) * PER), 0,
                               1000) != OBK_OK)
                _exit(7);
            uint64_t acked;
            if (r % 2 == 0 && cg_ack(t, g, ids, PER, &acked) != OBK_OK) _exit(8);
            if (cg_record_end(t) != OBK_OK) _exit(9);
        }
        if (r == ROUNDS - 1 && store_delete(s, 1, "k00", 3) != OBK_OK) _exit(10);
        storetest_commit(s);
    }
    _exit(0);
}

static void crash_after_writes(const char *d, int topics) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child_writes(d, topics);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Cuts every segment, index and group log of database dbn's topics to zero bytes: what a power cut
 * leaves when none of them was synced since it was created. */
static void cut_topic_files_db(const char *d, int dbn) {
    char path[512];
    snprintf(path, sizeof path, "%s/db%d", d, dbn);
    DIR *db = opendir(path);
    assert_non_null(db);
    struct dirent *de;
    while ((de = readdir(db)) != NULL) {
        if (de->d_name[0] != 't') continue;
        char tdir[1024];
        snprintf(tdir, sizeof tdir, "%s/%s", path, de->d_name);
        DIR *td = opendir(tdir);
        assert_non_null(td);
        struct dirent *fe;
        while ((fe = readdir(td)) != NULL) {
            size_t n = strlen(fe->d_name);
            int cut = (n > 4 && (!strcmp(fe->d_name + n - 4, ".log") ||
                                 !strcmp(fe->d_name + n - 4, ".idx")));
            if (!cut) continue;
            char f[1400];
            snprintf(f, sizeof f, "%s/%s", tdir, fe->d_name);
            assert_int_equal(truncate(f, 0), 0);
        }
        closedir(td);
    }
    closedir(db);
}

static void cut_topic_files(const char *d) {
    cut_topic_files_db(d, 1);
}

struct collect {
    int n;
    char last[64];
};

static int collect_cb(void *ctx, const struct obk_entry *e) {
    struct collect *c = ctx;
    c->n++;
    size_t l = e->fvlen[1] < sizeof c->last - 1 ? e->fvlen[1] : sizeof c->last - 1;
    memcpy(c->last, e->fv[1], l);
    c->last[l] = '\0';
    return 0;
}

/* Every topic but k00 holds rounds entries of each round (in order, each once), and its group
 * has delivered all of them with the odd rounds' entries pending. */
static void check_store(struct store *s, int rounds) {
    assert_null(store_lookup(s, 1, "k00", 3));
    for (int i = 1; i < TOPICS; i++) {
        char k[16], want[64];
        key_of(i, k);
        struct topic *t = store_lookup(s, 1, k, strlen(k));
        assert_non_null(t);
        struct collect c = {0};
        assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 0, collect_cb, &c), OBK_OK);
        assert_int_equal(c.n, rounds * PER);
        snprintf(want, sizeof want, "v-%d-%d-%d", i, rounds - 1, PER - 1);
        assert_string_equal(c.last, want);
        struct cg_group *g = cg_group_find(t, "g", 1);
        assert_non_null(g);
        assert_int_equal(cg_group_entries_read(g), rounds * PER);
        assert_int_equal(cg_group_pending_count(g), (uint64_t)(rounds / 2) * PER);
    }
}

static struct store *reopen(const char *d, struct store_open_report *rep) {
    struct store_config c;
    struct store *s;
    config(&c, d);
    int rc = store_open(&c, &s, rep);
    if (rc != OBK_OK) fail_msg("store_open: %s (%s)", obk_strerror(rc), rep->damage);
    return s;
}

static void test_replay_restores_cut_files(void **state) {
    (void)state;
    crash_after_writes(dir, TOPICS);
    cut_topic_files(dir);
    struct store_open_report rep;
    struct store *s = reopen(dir, &rep);
    assert_false(rep.clean);
    assert_true(rep.wal_replayed > 0);
    assert_true(rep.wal_skipped > 0); /* k00's records: the topic was deleted */
    check_store(s, ROUNDS);
    assert_int_equal(store_close(s), OBK_OK);
    /* the replay was checkpointed: a second open replays nothing and finds the same */
    s = reopen(dir, &rep);
    assert_int_equal(rep.wal_replayed, 0);
    check_store(s, ROUNDS);
    assert_int_equal(store_close(s), OBK_OK);
}

static void test_clean_close_leaves_nothing_to_replay(void **state) {
    (void)state;
    struct store_open_report rep;
    struct store *s = reopen(dir, &rep);
    struct topic *t;
    assert_int_equal(store_create(s, 1, "x", 1, &t), OBK_OK);
    const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)"v"};
    size_t fl[2] = {1, 1};
    assert_int_equal(topic_append(t, (sid_t){1, 0}, 1, fv, fl), OBK_OK);
    storetest_commit(s);
    struct store_stats st;
    store_stats(s, &st);
    assert_true(st.persist.wal.enabled);
    assert_true(st.persist.wal.records > 0);
    assert_true(st.persist.wal.pending_bytes > 0);
    assert_int_equal(store_close(s), OBK_OK);
    s = reopen(dir, &rep);
    assert_true(rep.clean);
    assert_int_equal(rep.wal_replayed, 0);
    assert_int_equal(topic_length(store_lookup(s, 1, "x", 1)), 1);
    assert_int_equal(store_close(s), OBK_OK);
}

/* The log's end: the last file (highest first LSN) and where its records end (the first
 * record slot holding zeros). */
static void log_end(const char *d, char *path, size_t cap, off_t *end) {
    char wdir[512];
    snprintf(wdir, sizeof wdir, "%s/%s", d, WAL_DIR_NAME);
    DIR *w = opendir(wdir);
    assert_non_null(w);
    struct dirent *de;
    char best[300] = "";
    while ((de = readdir(w)) != NULL)
        if (!strncmp(de->d_name, "wal-", 4) && strcmp(de->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", de->d_name);
    closedir(w);
    assert_true(best[0] != '\0');
    snprintf(path, cap, "%s/%s", wdir, best);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    off_t pos = WAL_FILE_HEADER_SIZE;
    for (;;) {
        uint8_t h[4];
        assert_int_equal(pread(fd, h, 4, pos), 4);
        uint32_t len =
            (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        if (len == 0) break;
        pos += 4 + (off_t)len;
    }
    close(fd);
    *end = pos;
}

static void copy_tree(const char *from, const char *to) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    assert_int_equal(system(cmd), 0);
}

/* A cut anywhere in the log's last records (zeros from that byte on, as a torn write of a
 * preallocated file leaves) opens, and leaves every topic a consistent prefix: whole rounds,
 * the acknowledged ones before the last round always there. */
static void test_log_cut_at_every_byte(void **state) {
    (void)state;
    crash_after_writes(dir, CUT_TOPICS);
    cut_topic_files(dir);
    char path[900], copy[300], cpath[1300];
    off_t end;
    log_end(dir, path, sizeof path, &end);
    snprintf(copy, sizeof copy, "%s.cut", dir);
    const char *rel = path + strlen(dir);
    /* the last round's records are at the end; cut through the last 600 bytes of them */
    off_t from = end - 600 > WAL_FILE_HEADER_SIZE ? end - 600 : WAL_FILE_HEADER_SIZE;
    for (off_t cut = from; cut <= end; cut += (cut < end - 128 ? 5 : 1)) {
        copy_tree(dir, copy);
        snprintf(cpath, sizeof cpath, "%s%s", copy, rel);
        int fd = open(cpath, O_WRONLY);
        assert_true(fd >= 0);
        static const uint8_t zeros[4096];
        off_t z = cut;
        while (z < end) {
            size_t n = (size_t)(end - z) < sizeof zeros ? (size_t)(end - z) : sizeof zeros;
            assert_int_equal(pwrite(fd, zeros, n, z), (ssize_t)n);
            z += (off_t)n;
        }
        close(fd);
        struct store_open_report rep;
        struct store *s = reopen(copy, &rep);
        for (int i = 1; i < CUT_TOPICS; i++) {
            char k[16];
            key_of(i, k);
            struct topic *t = store_lookup(s, 1, k, strlen(k));
            assert_non_null(t); /* its topic.meta was durable before its first record */
            uint64_t n = topic_length(t);
            /* the cut is inside the last round: each topic has that round's batch or not */
            assert_true(n == (uint64_t)(ROUNDS - 1) * PER || n == (uint64_t)ROUNDS * PER);
            if (cut == end) assert_int_equal(n, (uint64_t)ROUNDS * PER);
            struct collect c = {0};
            assert_int_equal(topic_range(t, SID_MIN, SID_MAX, 0, 0, collect_cb, &c), OBK_OK);
            assert_int_equal((uint64_t)c.n, n);
        }
        assert_int_equal(store_close(s), OBK_OK);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", copy);
    assert_int_equal(system(cmd), 0);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The replay's rules, on the files directly: a groups.log of another generation is left alone,
 * a removed file is not created again, a renamed topic directory is found by its incarnation. */
static void test_replay_skip_rules(void **state) {
    (void)state;
    crash_after_writes(dir, CUT_TOPICS);
    cut_topic_files(dir);
    char glog[600], seg2[600], from[600], to[600], seg3[700];
    /* k01 = t_6b3031: its groups.log now claims generation 99 */
    snprintf(glog, sizeof glog, "%s/db1/t_6b3031/groups.log", dir);
    int fd = open(glog, O_RDWR);
    assert_true(fd >= 0);
    uint8_t gen[8] = {99, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(pwrite(fd, gen, 8, 8), 8);
    close(fd);
    long glog_size = file_size(glog);
    /* k02: its segment is gone */
    snprintf(seg2, sizeof seg2, "%s/db1/t_6b3032/00000000000000000000.log", dir);
    assert_int_equal(unlink(seg2), 0);
    /* k03: its directory renamed (as RENAME does before the new topic.meta is written) */
    snprintf(from, sizeof from, "%s/db1/t_6b3033", dir);
    snprintf(to, sizeof to, "%s/db1/t_7a7a", dir);
    assert_int_equal(rename(from, to), 0);
    snprintf(seg3, sizeof seg3, "%s/00000000000000000000.log", to);
    assert_int_equal(file_size(seg3), 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    struct walreplay_report rep;
    assert_int_equal(walreplay_run(dfd, 2, 0, NULL, NULL, &rep), OBK_OK);
    close(dfd);
    assert_true(rep.applied > 0 && rep.skipped > 0);
    assert_int_equal(file_size(glog), glog_size); /* nothing went into it */
    assert_int_equal(file_size(seg2), -1);        /* not created */
    assert_true(file_size(seg3) > 0);             /* found under its new name */
}

/* topic.meta: version 3 carries the expiry, version 2 reads as no expiry, version 1 as no
 * incarnation either; file ids name files; groups.log keeps its generation where the replay
 * looks for it. */
static void test_meta_and_file_ids(void **state) {
    (void)state;
    struct topic_meta m = {.created_ms = 5,
                           .incarnation = 0x1122334455667788ull,
                           .retention_bytes = -2,
                           .retention_ms = -1,
                           .expire_at_ms = 1790000000123ll,
                           .compression = TOPIC_COMPRESSION_ZSTD,
                           .compression_level = 7,
                           .key = (uint8_t *)"key",
                           .keylen = 3},
                      back;
    uint8_t *buf;
    size_t len;
    assert_int_equal(keydir_encode_meta(&m, &buf, &len), OBK_OK);
    assert_int_equal(len, 52 + 3 + 4);
    assert_int_equal(keydir_decode_meta(buf, len, &back), OBK_OK);
    assert_true(back.incarnation == m.incarnation && back.keylen == 3 && back.created_ms == 5);
    assert_true(back.expire_at_ms == m.expire_at_ms);
    assert_true(back.compression == TOPIC_COMPRESSION_ZSTD && back.compression_level == 7);
    free(back.key);
    /* a compression mode or level out of range is damage */
    for (int bad = 0; bad < 2; bad++) {
        uint8_t *cp = malloc(len);
        memcpy(cp, buf, len);
        cp[bad ? 7 : 6] = bad ? 20 : 3;
        uint32_t c2 = crc32c(0, cp, len - 4);
        memcpy(cp + len - 4, &c2, 4);
        assert_int_equal(keydir_decode_meta(cp, len, &back), OBK_ERR_CORRUPT);
        free(cp);
    }
    /* the same topic as version 2: no expiry field, keylen at 40 */
    uint8_t v2[44 + 3 + 4];
    memcpy(v2, buf, 40);
    v2[4] = 2;
    memcpy(v2 + 40, buf + 48, 4 + 3);
    uint32_t crc = crc32c(0, v2, sizeof v2 - 4);
    memcpy(v2 + sizeof v2 - 4, &crc, 4); /* little-endian machine, as the format */
    assert_int_equal(keydir_decode_meta(v2, sizeof v2, &back), OBK_OK);
    assert_true(back.incarnation == m.incarnation && back.expire_at_ms == 0);
    assert_true(back.compression == TOPIC_COMPRESSION_ZSTD); /* bytes 6 and 7 in every version */
    assert_true(back.keylen == 3 && !memcmp(back.key, "key", 3));
    free(back.key);
    /* the same topic as version 1: no incarnation field, keylen at 32 */
    uint8_t v1[36 + 3 + 4];
    memcpy(v1, buf, 32);
    v1[4] = 1;
    memcpy(v1 + 32, buf + 48, 4 + 3);
    crc = crc32c(0, v1, sizeof v1 - 4);
    memcpy(v1 + sizeof v1 - 4, &crc, 4);
    assert_int_equal(keydir_decode_meta(v1, sizeof v1, &back), OBK_OK);
    assert_true(back.incarnation == 0 && back.keylen == 3 && !memcmp(back.key, "key", 3));
    free(back.key);
    /* a negative expiry is refused as damage */
    m.expire_at_ms = -5;
    free(buf);
    assert_int_equal(keydir_encode_meta(&m, &buf, &len), OBK_OK);
    assert_int_equal(keydir_decode_meta(buf, len, &back), OBK_ERR_CORRUPT);
    free(buf);
    assert_true(keydir_new_incarnation() != 0);
    char name[64];
    assert_int_equal(keydir_file_name(TOPIC_FILE_ID(TOPIC_FILE_SEGMENT, 42), name, sizeof name),
                     OBK_OK);
    assert_string_equal(name, "00000000000000000042.log");
    assert_int_equal(keydir_file_name(TOPIC_FILE_ID(TOPIC_FILE_INDEX, 42), name, sizeof name),
                     OBK_OK);
    assert_string_equal(name, "00000000000000000042.idx");
    assert_int_equal(keydir_file_name(TOPIC_FILE_ID(TOPIC_FILE_GROUPS_LOG, 7), name, sizeof name),
                     OBK_OK);
    assert_string_equal(name, CG_LOG_NAME);
    assert_int_equal(keydir_file_name(TOPIC_FILE_ID(9, 1), name, sizeof name), OBK_ERR_INVAL);
    uint8_t hdr[CG_LOG_HEADER];
    cgs_encode_log_header(hdr, 0x0102030405060708ull);
    uint64_t g;
    memcpy(&g, hdr + TOPIC_GROUPS_LOG_GEN_OFFSET, 8);
    assert_true(g == 0x0102030405060708ull);
}

/* ---- a randomized model over many topics, crashed at a random commit ---- */

#define MT_TOPICS 12
#define MT_STEPS  60 /* commits */
#define MT_MAXE   4000

struct mt_topic {
    int exists;
    uint64_t n;           /* entries ever added since created (ids 1-1 .. n-1) */
    uint64_t start;       /* entries below are trimmed */
    uint8_t del[MT_MAXE]; /* deleted by XDEL */
    int group;            /* group "g" exists */
    uint64_t read;        /* its entries-read (delivered up to) */
    uint64_t pending;     /* pending count */
};

struct mt_model {
    struct mt_topic t[MT_TOPICS];
};

static uint64_t mt_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* The states a topic goes through during one step (after each of its operations). */
struct mt_trail {
    struct mt_topic v[MT_TOPICS][16];
    int n[MT_TOPICS];
};

static void mt_snap(struct mt_trail *tr, int i, const struct mt_topic *x) {
    if (tr && tr->n[i] < 16) tr->v[i][tr->n[i]++] = *x;
}

/* One commit's worth of random operations, applied to the model and (when s is set) the store;
 * with tr, each topic's state after each of its operations is kept. */
static void mt_step(struct mt_model *m, struct store *s, uint64_t *rng, struct mt_trail *tr) {
    int nops = 1 + (int)(mt_rand(rng) % 12);
    for (int op = 0; op < nops; op++) {
        int i = (int)(mt_rand(rng) % MT_TOPICS);
        struct mt_topic *x = &m->t[i];
        char k[16];
        snprintf(k, sizeof k, "m%02d", i);
        struct topic *t = s ? store_lookup(s, 0, k, 3) : NULL;
        int what = (int)(mt_rand(rng) % 20);
        if (!x->exists || what < 10) { /* XADD, a few entries */
            if (!x->exists) {
                memset(x, 0, sizeof *x);
                x->exists = 1;
                if (s && store_create(s, 0, k, 3, &t) != OBK_OK) _exit(20);
                mt_snap(tr, i, x); /* created, its first batch not (yet) there */
            }
            int add = 1 + (int)(mt_rand(rng) % 8);
            for (int e = 0; e < add && x->n < MT_MAXE; e++) {
                x->n++;
                if (!s) continue;
                char val[32];
                int n = snprintf(val, sizeof val, "%s-%llu", k, (unsigned long long)x->n);
                const uint8_t *fv[2] = {(const uint8_t *)"f", (const uint8_t *)val};
                size_t fl[2] = {1, (size_t)n};
                if (topic_append(t, (sid_t){x->n, 1}, 1, fv, fl) != OBK_OK) _exit(21);
            }
        } else if (what < 13 && x->n > x->start) { /* XDEL of one entry */
            uint64_t e = x->start + mt_rand(rng) % (x->n - x->start);
            uint64_t deleted;
            sid_t id = {e + 1, 1};
            x->del[e] = 1;
            if (s && topic_delete_ids(t, &id, 1, &deleted) != OBK_OK) _exit(22);
        } else if (what < 15) { /* exact MAXLEN trim */
            uint64_t live = 0;
            for (uint64_t e = x->start; e < x->n; e++) live += !x->del[e];
            uint64_t keep = live ? mt_rand(rng) % (live + 1) : 0;
            struct topic_trim tr = {TOPIC_TRIM_MAXLEN, keep, SID_MIN, 0, 0};
            uint64_t removed;
            while (live > keep) {
                if (!x->del[x->start]) live--;
                x->start++;
            }
            while (x->start < x->n && x->del[x->start]) x->start++;
            if (s && topic_trim(t, &tr, &removed) != OBK_OK) _exit(23);
        } else if (what < 18) { /* the group: deliver what is new, sometimes ack it all */
            if (s) {
                struct cg_group *g = cg_group_find(t, "g", 1);
                cg_record_begin(t);
                if (!g && cg_group_create(t, "g", 1, SID_MIN, 0, &g) != OBK_OK) _exit(24);
                struct cg_consumer *c;
                int created;
                if (cg_consumer_get(t, g, "c", 1, 1000, &c, &created) != OBK_OK) _exit(25);
                sid_t ids[MT_MAXE];
                size_t nids = 0;
                for (uint64_t e = x->read; e < x->n; e++)
                    if (e >= x->start && !x->del[e]) ids[nids++] = (sid_t){e + 1, 1};
                if (nids && cg_deliver_new(t, g, c, ids, nids, ids[nids - 1], (int64_t)x->n, 0,
                                           1000) != OBK_OK)
                    _exit(26);
                if (cg_record_end(t) != OBK_OK) _exit(27);
            }
            uint64_t nids = 0;
            for (uint64_t e = x->read; e < x->n; e++) nids += e >= x->start && !x->del[e];
            x->group = 1;
            if (nids) x->read = x->n; /* delivered up to the end (entries-read) */
            x->pending += nids;
            if (mt_rand(rng) % 2 && x->pending) { /* XACK every pending entry */
                if (s) {
                    struct cg_group *g = cg_group_find(t, "g", 1);
                    sid_t first, last;
                    cg_record_begin(t);
                    if (cg_pending_bounds(g, &first, &last)) {
                        sid_t ids[MT_MAXE];
                        size_t nids2 = 0;
                        for (uint64_t e = first.ms - 1; e < last.ms; e++)
                            ids[nids2++] = (sid_t){e + 1, 1};
                        uint64_t acked;
                        if (cg_ack(t, g, ids, nids2, &acked) != OBK_OK) _exit(28);
                    }
                    if (cg_record_end(t) != OBK_OK) _exit(29);
                }
                x->pending = 0;
            }
        } else if (what == 19) { /* DEL */
            if (s && store_delete(s, 0, k, 3) != OBK_OK) _exit(30);
            x->exists = 0;
        }
        mt_snap(tr, i, x);
    }
}

static void mt_child(const char *d, uint64_t seed, int fd) {
    struct store_config c;
    struct store *s;
    struct store_open_report rep;
    config(&c, d);
    c.segment_bytes = 2048; /* rolls and seals along the way */
    if (store_open(&c, &s, &rep) != OBK_OK) _exit(2);
    struct mt_model m;
    memset(&m, 0, sizeof m);
    uint64_t rng = seed;
    for (int step = 1; step <= MT_STEPS; step++) {
        mt_step(&m, s, &rng, NULL);
        storetest_commit(s);
        if (write(fd, &step, sizeof step) != (ssize_t)sizeof step) _exit(3);
    }
    pause(); /* killed by the parent */
    _exit(0);
}

/* Topic i as the store has it: 1 when it matches model state m. */
static int mt_data_matches(struct store *s, const struct mt_topic *x, int i) {
    char k[16];
    snprintf(k, sizeof k, "m%02d", i);
    struct topic *t = store_lookup(s, 0, k, 3);
    if (!x->exists) return t == NULL;
    if (!t) return 0;
    uint64_t live = 0;
    for (uint64_t e = x->start; e < x->n; e++) live += !x->del[e];
    if (topic_length(t) != live || topic_entries_added(t) != x->n) return 0;
    struct collect col = {0};
    if (topic_range(t, SID_MIN, SID_MAX, 0, 0, collect_cb, &col) != OBK_OK) return 0;
    if (col.n != (int)live) return 0;
    if (!live) return 1;
    uint64_t lastlive = x->n - 1;
    while (x->del[lastlive]) lastlive--;
    char want[32];
    snprintf(want, sizeof want, "%s-%llu", k, (unsigned long long)(lastlive + 1));
    return !strcmp(col.last, want);
}

static int mt_group_matches(struct store *s, const struct mt_topic *x, int i) {
    char k[16];
    snprintf(k, sizeof k, "m%02d", i);
    struct topic *t = store_lookup(s, 0, k, 3);
    struct cg_group *g = t ? cg_group_find(t, "g", 1) : NULL;
    if (!x->exists || !x->group) return g == NULL;
    return g && cg_group_pending_count(g) == x->pending &&
           (x->read == 0 || cg_group_entries_read(g) == (int64_t)x->read);
}

/* A child applies random commits of writes, XDELs, trims, deletes and group deliveries and
 * acks over 12 topics, and is killed after a random commit; the topics' files lose everything
 * the log holds; after the reopen each topic's data and group are as the model has them after
 * the last acknowledged commit, or after one of that topic's operations of the commit in
 * flight (its records, one per operation, are cut at one place). */
static void test_random_model_crashes(void **state) {
    (void)state;
    const char *env = getenv("OBELISK_SEED");
    uint64_t seed0 = env && *env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    for (int round = 0; round < 4; round++) {
        uint64_t seed = seed0 * 31 + (uint64_t)round;
        char d[300];
        snprintf(d, sizeof d, "%s/r%d", dir, round);
        assert_int_equal(mkdir(d, 0700), 0);
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        int kill_after = 5 + (int)(seed % (MT_STEPS - 10));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            mt_child(d, seed, pfd[1]);
        }
        close(pfd[1]);
        int step = 0, got;
        while (step < kill_after && read(pfd[0], &got, sizeof got) == (ssize_t)sizeof got)
            step = got;
        kill(pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        while (read(pfd[0], &got, sizeof got) == (ssize_t)sizeof got) step = got;
        close(pfd[0]);
        assert_true(step >= kill_after);
        cut_topic_files_db(d, 0);
        /* the model after the last acknowledged commit and after the next one */
        struct mt_model *acked = calloc(1, sizeof *acked), *next = calloc(1, sizeof *next);
        struct mt_trail *trail = calloc(1, sizeof *trail);
        uint64_t rng = seed;
        for (int k = 1; k <= step; k++) mt_step(acked, NULL, &rng, NULL);
        *next = *acked;
        mt_step(next, NULL, &rng, trail);
        struct store_open_report rep;
        struct store *s = reopen(d, &rep);
        for (int i = 0; i < MT_TOPICS; i++) {
            int data_now = mt_data_matches(s, &acked->t[i], i), data_next = 0;
            int group_now = mt_group_matches(s, &acked->t[i], i), group_next = 0;
            for (int j = 0; step < MT_STEPS && j < trail->n[i]; j++) {
                data_next |= mt_data_matches(s, &trail->v[i][j], i);
                group_next |= mt_group_matches(s, &trail->v[i][j], i);
            }
            if (!(data_now || data_next) || !(group_now || group_next)) {
                char k[16];
                snprintf(k, sizeof k, "m%02d", i);
                struct topic *t = store_lookup(s, 0, k, 3);
                struct cg_group *g = t ? cg_group_find(t, "g", 1) : NULL;
                fail_msg(
                    "seed %llu, killed after commit %d: topic m%02d data %d/%d group %d/%d "
                    "(store: group %d pending %llu read %lld; model: group %d pending %llu "
                    "read %llu, next: pending %llu read %llu)",
                    (unsigned long long)seed, step, i, data_now, data_next, group_now, group_next,
                    g != NULL, g ? (unsigned long long)cg_group_pending_count(g) : 0,
                    g ? (long long)cg_group_entries_read(g) : 0, acked->t[i].group,
                    (unsigned long long)acked->t[i].pending, (unsigned long long)acked->t[i].read,
                    (unsigned long long)next->t[i].pending, (unsigned long long)next->t[i].read);
            }
        }
        assert_int_equal(store_close(s), OBK_OK);
        free(acked);
        free(next);
        free(trail);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replay_restores_cut_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_close_leaves_nothing_to_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_cut_at_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_skip_rules, setup, teardown),
        cmocka_unit_test(test_meta_and_file_ids),
        cmocka_unit_test_setup_teardown(test_random_model_crashes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
