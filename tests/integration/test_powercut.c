/* test_powercut.c - power cuts, simulated: the server runs with tests/tools/powercut_shim.c
 * preloaded (LD_PRELOAD), which records what each sync made durable; after a SIGKILL,
 * tests/lib/powercut.c cuts the data directory back to that (files at their durable size, a
 * create or rename whose directory was never synced undone, sometimes a torn, partly zeroed
 * tail kept), and the server restarts on what is left.
 *
 * test_shim_model: the shim and the cut on a scripted program (this binary, re-executed under
 * the shim), two runs, each ended by SIGKILL. It uses openat and openat64, pwritev and
 * pwritev64, fsync, fdatasync, syncfs, renameat, unlinkat, mkdirat and ftruncate, and checks the
 * exact tree left: a file synced but whose directory was not is gone; a rename over a file
 * without a directory sync leaves the old content; a .tmp renamed without its own fsync leaves
 * an empty file; an unlink not made durable comes back; syncfs makes everything durable; a
 * write into durable bytes is reported. A call the shim does not wrap fails these checks.
 *
 * test_power_cuts: rounds on one data directory. Each round, two writers XADD (each to a new
 * topic of the round, writer 1's with a key long enough to be stored under a hashed name, and
 * both to one topic shared by all rounds) while two consumers of a group created on the round's
 * first topic read with XREADGROUP, XACK a random part of what they got, and the first one
 * XCOMMITs now and then. Once every kind of reply has come back, the server is killed at a
 * random moment (one round stops it cleanly instead), the directory is cut, the server restarts
 * (again under the shim: recovery's own writes are recorded too) and:
 *   - every stream reads in strictly increasing ID order, a shared or older stream still starts
 *     with everything seen at the previous restart (an older round's streams are unchanged);
 *   - every acknowledged XADD is there (fsync always), or, under everysec, every one
 *     acknowledged more than the loss window (EVERYSEC_WINDOW_MS, 2 s) before the cut, and what
 *     was lost is the end of each stream (no hole); the same window applies to the group checks;
 *   - the group exists; each acknowledged delivery is in the stream and pending for its
 *     consumer with a delivery count of 1 unless an XACK was sent; each acknowledged XACK is
 *     reflected; each PEL entry was delivered to that consumer or came from a read in flight;
 *     last-delivered-id is at least the last acknowledged delivery and at most the last one
 *     received (or the stream's end with a read in flight); XCOMMITTED is the last acknowledged
 *     XCOMMIT or a later one (in flight or, under everysec, inside the window);
 *     earlier rounds' groups are unchanged;
 *   - the shim saw the sync calls of the round's mode (fdatasync, or syncfs, and directory
 *     fsyncs), no call it cannot model, no write into durable bytes, no file it did not record;
 *   - after the clean stop, the cut finds nothing to remove.
 * At the end the server stops cleanly and obelisk-check ($OBELISK_CHECK) passes.
 *
 * Rounds cycle through: always with one fdatasync per file (syncfs-min-files 0) and exact cuts;
 * always with syncfs, 64 KiB segments (rolls, checkpoints) and torn tails; always, fdatasync,
 * torn tails; everysec with syncfs, small segments, torn tails; everysec, fdatasync; always and
 * a clean stop; with the write-ahead log (rounds 2, 3, 5, 6, 7; the others run with wal no),
 * some checkpointing every 64 KiB of log so cuts land around checkpoints.
 * and one where rounds of over 200 bytes per file skip the log (logged and direct rounds mix).
 * Rounds 1, 3 and 6 write zstd-compressed batches (compression zstd); the others write plain
 * ones, so the shared topic's segments mix both.
 * OBELISK_POWERCUT_ROUNDS=N runs N rounds (default 9), OBELISK_POWERCUT_CONFIG=I
 * makes every round the I-th kind (0-8); OBELISK_SEED=N fixes the random choices (thread
 * scheduling still varies). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "powercut.h"
#include "testutil.h"
#include "tmpname.h"

/* Under everysec, a write acknowledged this long before a power cut is never lost (storage.md:
 * a sync starts one second after the previous one ended, so the loss is at most that second
 * plus two sync rounds). When the shim measured a sync round longer than 375 ms, the window is
 * 1 s + twice that + 250 ms instead (a slow disk, not the server, then sets the bound). */
#define EVERYSEC_WINDOW_MS 2000
#define SHARED_KEY         "pc:all"
#define NWRITERS           2
#define NCONS              2

static char shim_path[PATH_MAX];
static uint64_t base_seed;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r) {
    uint64_t x = (r->s += 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static int rng_int(struct rng *r, int n) {
    return (int)(rng_next(r) % (uint64_t)n);
}

static void rm_tree(const char *path);

/* ---- the shim ---- */

/* build/tests/integration/test_powercut -> build/tests/powercut_shim.so */
static void find_shim(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
    }
    if (snprintf(shim_path, sizeof(shim_path), "%s/powercut_shim.so", exe) >=
        (int)sizeof(shim_path))
        shim_path[0] = '\0';
    if (access(shim_path, R_OK) != 0) printf("# no shim at %s (make tests-build)\n", shim_path);
    assert_int_equal(access(shim_path, R_OK), 0);
}

/* Sets (or clears) the environment that loads the shim into the next child. */
static void shim_env(const char *log, const char *root, const char *stash) {
    static char asan[1024];
    if (!log) {
        unsetenv("LD_PRELOAD");
        unsetenv("OBK_PC_LOG");
        unsetenv("OBK_PC_ROOT");
        unsetenv("OBK_PC_STASH");
        if (asan[0]) setenv("ASAN_OPTIONS", asan, 1);
        return;
    }
    setenv("LD_PRELOAD", shim_path, 1);
    setenv("OBK_PC_LOG", log, 1);
    setenv("OBK_PC_ROOT", root, 1);
    setenv("OBK_PC_STASH", stash, 1);
    const char *a = getenv("ASAN_OPTIONS");
    if (a) { /* a sanitized server: the shim is loaded before the sanitizer's runtime */
        snprintf(asan, sizeof(asan), "%s", a);
        char both[1200];
        snprintf(both, sizeof(both), "%s:verify_asan_link_order=0", a);
        setenv("ASAN_OPTIONS", both, 1);
    }
}

/* ---- test_shim_model: a scripted program under the shim ---- */
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);

static void put(pwritev_fn fn, int fd, char ch, size_t n, off_t off) {
    char buf[256];
    memset(buf, ch, n);
    struct iovec iov = {buf, n};
    if (fn(fd, &iov, 1, off) != (ssize_t)n) _exit(3);
}

static void put_str(pwritev_fn fn, int fd, const char *s) {
    struct iovec iov = {(void *)s, strlen(s)};
    if (fn(fd, &iov, 1, 0) != (ssize_t)strlen(s)) _exit(3);
}

#define MUST(x)                                                                                    \
    do {                                                                                           \
        if ((x) < 0) {                                                                             \
            fprintf(stderr, "child: %s failed: %s\n", #x, strerror(errno));                        \
            _exit(4);                                                                              \
        }                                                                                          \
    } while (0)

/* Runs in the re-executed child, under the shim; ends by SIGKILL. The plain openat and pwritev
 * symbols are looked up by name: this file is built with 64-bit offsets, so a direct call would
 * reach only openat64 and pwritev64. */
static void shim_child(int run, const char *root) {
    openat_fn op_openat = (openat_fn)dlsym(RTLD_DEFAULT, "openat");
    openat_fn op_openat64 = (openat_fn)dlsym(RTLD_DEFAULT, "openat64");
    pwritev_fn wv = (pwritev_fn)dlsym(RTLD_DEFAULT, "pwritev");
    pwritev_fn wv64 = (pwritev_fn)dlsym(RTLD_DEFAULT, "pwritev64");
    if (!op_openat || !op_openat64 || !wv || !wv64) _exit(2);
    int rfd = open(root, O_RDONLY | O_DIRECTORY);
    MUST(rfd);
    int fd;
    const int cr = O_WRONLY | O_CREAT | O_EXCL;
    if (run == 1) {
        /* a .tmp synced, renamed, then the directory synced: the new content */
        MUST(fd = op_openat(rfd, "r2.tmp", cr, 0644));
        put_str(wv, fd, "new2");
        MUST(fsync(fd));
        close(fd);
        MUST(renameat(rfd, "r2.tmp", rfd, "replaced2"));
        /* a .tmp never synced, renamed, directory synced: the name, with nothing in it */
        MUST(fd = op_openat64(rfd, "r3.tmp", cr, 0644));
        put_str(wv64, fd, "new3");
        close(fd);
        MUST(renameat(rfd, "r3.tmp", rfd, "replaced3"));
        /* created, written, fdatasynced: kept at that size (150 bytes written) */
        MUST(fd = op_openat(rfd, "synced", cr, 0644));
        put(wv, fd, 'a', 100, 0);
        MUST(fdatasync(fd));
        MUST(fsync(rfd));
        put(wv64, fd, 'b', 50, 100);
        close(fd);
        MUST(fd = op_openat64(rfd, "keep", O_WRONLY));
        put(wv, fd, 'c', 50, 100);
        close(fd);
        /* from here on the directory is never synced again */
        MUST(fd = op_openat64(rfd, "nodirsync", cr, 0644));
        put(wv64, fd, 'd', 100, 0);
        MUST(fsync(fd));
        close(fd);
        MUST(unlinkat(rfd, "unlinked", 0));
        MUST(fd = op_openat(rfd, "r1.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644));
        put_str(wv, fd, "new");
        MUST(fsync(fd));
        close(fd);
        MUST(renameat(rfd, "r1.tmp", rfd, "replaced"));
        MUST(fd = op_openat(rfd, "trunc", O_WRONLY));
        MUST(ftruncate(fd, 40));
        close(fd);
        MUST(mkdirat(rfd, "sub", 0755));
        int sfd = op_openat(rfd, "sub", O_RDONLY | O_DIRECTORY);
        MUST(sfd);
        MUST(fd = op_openat64(sfd, "g", cr, 0644));
        put(wv, fd, 'g', 20, 0);
        MUST(fdatasync(fd));
        MUST(fsync(sfd));
    } else {
        /* nothing synced but one syncfs: all of it durable as it was then */
        MUST(fd = op_openat64(rfd, "s1", cr, 0644));
        put(wv64, fd, 'x', 30, 0);
        MUST(mkdirat(rfd, "sd", 0755));
        int sfd = op_openat(rfd, "sd", O_RDONLY | O_DIRECTORY);
        MUST(sfd);
        int fd2 = op_openat(sfd, "x", cr, 0644);
        MUST(fd2);
        put(wv, fd2, 'y', 5, 0);
        MUST(syncfs(rfd));
        put(wv, fd, 'z', 7, 30);
        MUST(unlinkat(rfd, "synced", 0)); /* not durable: comes back */
        put(wv, fd, 'Q', 1, 0);           /* into durable bytes: reported */
    }
    raise(SIGKILL);
    _exit(5);
}

static void write_file(const char *dir, const char *name, char ch, size_t n) {
    char path[PATH_MAX], buf[256];
    assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
    memset(buf, ch, n);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    close(fd);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[PATH_MAX];
    assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The file's content ("" when empty), or NULL when it does not exist. */
static char *content(const char *dir, const char *name) {
    char path[PATH_MAX];
    assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *p = calloc(1, 4096);
    size_t n = fread(p, 1, 4095, f);
    p[n] = '\0';
    fclose(f);
    return p;
}

static void expect_content(const char *dir, const char *name, const char *want) {
    char *got = content(dir, name);
    if (!want) {
        if (got) printf("# %s: should be gone, holds \"%s\"\n", name, got);
        assert_null(got);
        return;
    }
    if (!got || strcmp(got, want))
        printf("# %s: want \"%s\", got %s%s%s\n", name, want, got ? "\"" : "", got ? got : "none",
               got ? "\"" : "");
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static char *repeat(char ch, size_t n) {
    static char buf[4][256];
    static int k;
    char *b = buf[k++ % 4];
    memset(b, ch, n);
    b[n] = '\0';
    return b;
}

static void run_child(int run, const char *dir, const char *root, struct pc_stats *st) {
    char log[PATH_MAX], stash[PATH_MAX], runs[8];
    snprintf(log, sizeof(log), "%s/record-%d", dir, run);
    snprintf(stash, sizeof(stash), "%s/stash-%d", dir, run);
    snprintf(runs, sizeof(runs), "%d", run);
    assert_int_equal(mkdir(stash, 0755), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        shim_env(log, root, stash);
        execl("/proc/self/exe", "test_powercut", "--shim-child", runs, root, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status)) printf("# child exited %d\n", WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    int rc = pc_apply(root, log, stash, 0, st);
    if (rc != 0) printf("# cut failed: %s\n", st->problem);
    assert_int_equal(rc, 0);
    char label[32];
    snprintf(label, sizeof(label), "model run %d", run);
    pc_stats_print(st, label);
}

static void test_shim_model(void **state) {
    (void)state;
    find_shim();
    char dir[PATH_MAX], root[PATH_MAX];
    test_tmp_template(dir, sizeof(dir), "obelisk-pcmodel.");
    assert_non_null(mkdtemp(dir));
    assert_true(snprintf(root, sizeof(root), "%s/root", dir) < (int)sizeof(root));
    assert_int_equal(mkdir(root, 0755), 0);
    write_file(root, "keep", 'k', 100);
    write_file(root, "unlinked", 'u', 10);
    write_text(root, "replaced", "old");
    write_text(root, "replaced2", "old2");
    write_text(root, "replaced3", "old3");
    write_file(root, "trunc", 't', 100);

    struct pc_stats st;
    run_child(1, dir, root, &st);
    expect_content(root, "keep", repeat('k', 100));    /* 50 appended, never synced */
    expect_content(root, "unlinked", repeat('u', 10)); /* unlink never made durable */
    expect_content(root, "replaced", "old");           /* rename never made durable */
    expect_content(root, "replaced2", "new2");
    expect_content(root, "replaced3", ""); /* the .tmp was never synced */
    expect_content(root, "trunc", repeat('t', 40));
    expect_content(root, "synced", repeat('a', 100));
    expect_content(root, "nodirsync", NULL); /* its name was never made durable */
    expect_content(root, "sub", NULL);
    expect_content(root, "r1.tmp", NULL);
    expect_content(root, "r2.tmp", NULL);
    expect_content(root, "r3.tmp", NULL);
    assert_int_equal(st.fdatasyncs, 2);
    assert_int_equal(st.fsyncs, 3);
    assert_int_equal(st.dir_fsyncs, 2);
    assert_int_equal(st.syncfs_calls, 0);
    assert_int_equal(st.renames, 3);
    assert_int_equal(st.unlinks, 1);
    assert_int_equal(st.restored, 2); /* "unlinked" and the old "replaced" */
    assert_int_equal(st.files_dropped, 2);
    assert_int_equal(st.dirs_dropped, 1);
    assert_int_equal(st.overwrites, 0);
    assert_int_equal(st.unsupported, 0);
    assert_int_equal(st.unknown, 0);

    run_child(2, dir, root, &st);
    /* 30 bytes synced; the Q written over the first one later is kept (the model keeps the
     * current bytes up to the durable size): that write is what "overwrites" reports */
    char s1[40] = "Q";
    strcat(s1, repeat('x', 29));
    expect_content(root, "s1", s1);
    expect_content(root, "sd/x", repeat('y', 5));
    expect_content(root, "synced", repeat('a', 100));
    assert_int_equal(st.syncfs_calls, 1);
    assert_int_equal(st.overwrites, 1);
    assert_int_equal(st.restored, 1);
    rm_tree(dir);
}

/* ---- the server workload ---- */
struct sid {
    uint64_t ms, seq;
};

static int sid_cmp(struct sid a, struct sid b) {
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}

static int cmp_sid(const void *a, const void *b) {
    return sid_cmp(*(const struct sid *)a, *(const struct sid *)b);
}

static struct sid sid_of(const char *s) {
    struct sid x = {0, 0};
    char *end;
    x.ms = strtoull(s, &end, 10);
    if (*end == '-') x.seq = strtoull(end + 1, NULL, 10);
    return x;
}

#define SIDF        "%" PRIu64 "-%" PRIu64
#define SIDA(x)     (x).ms, (x).seq
#define KEY_MAX     400
#define MAX_KEYS    64
#define NAME_OF(k)  (keys[k].name)
#define WINDOWED(t) ((t) <= counted_before)

static atomic_int stop_flag;
static long long counted_before; /* acknowledgements up to this time must survive the cut */

struct wrec {
    int key; /* index in keys[] */
    struct sid id;
    long long t;
};

struct writer {
    int port, idx, own_key, shared_key;
    struct wrec *v;
    size_t n, cap;
    atomic_long acked;
    int connect_failed;
    char err[200];
};

static struct keystate {
    char name[KEY_MAX];
    struct sid *seen; /* the stream at the last restart */
    size_t nseen;
    int round;       /* the round that created it (-1: the shared one) */
    char group[512]; /* the group's summary when last checked ("" if none) */
} keys[MAX_KEYS];
static int nkeys;

static redisContext *connect_port(int port) {
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static void *writer_main(void *arg) {
    struct writer *w = arg;
    redisContext *c = connect_port(w->port);
    if (!c) {
        w->connect_failed = 1;
        return NULL;
    }
    for (uint32_t i = 0; !atomic_load(&stop_flag); i++) {
        int k = i % 2 ? w->shared_key : w->own_key;
        redisReply *r = redisCommand(c, "XADD %s * w %d i %u", NAME_OF(k), w->idx, i);
        if (!r) break;
        if (r->type == REDIS_REPLY_STRING) {
            if (w->n == w->cap) {
                w->cap = w->cap ? w->cap * 2 : 1024;
                w->v = realloc(w->v, w->cap * sizeof(*w->v));
            }
            w->v[w->n++] = (struct wrec){k, sid_of(r->str), now_ms()};
            atomic_fetch_add(&w->acked, 1);
        } else if (!w->err[0]) {
            snprintf(w->err, sizeof(w->err), "XADD reply type %d: %s", r->type,
                     r->str ? r->str : "");
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

enum { D_DELIVERED, D_ACK_SENT, D_ACKED };

struct delivery {
    struct sid id;
    int state;
    long long t, t_ack;
};

struct commit {
    struct sid id;
    int acked;
    long long t;
};

struct consumer {
    int port, idx, key;
    uint64_t seed;
    char name[16];
    struct delivery *d;
    size_t n, cap;
    int read_in_flight;
    struct commit *commits;
    size_t ncommits, ccap;
    atomic_long delivered, xacked, committed;
    int connect_failed;
    char err[200];
};

static void *consumer_main(void *arg) {
    struct consumer *co = arg;
    struct rng r = {co->seed};
    redisContext *c = connect_port(co->port);
    if (!c) {
        co->connect_failed = 1;
        return NULL;
    }
    while (!atomic_load(&stop_flag)) {
        co->read_in_flight = 1;
        redisReply *rep = redisCommand(c, "XREADGROUP GROUP g %s COUNT %d BLOCK 50 STREAMS %s >",
                                       co->name, 1 + rng_int(&r, 8), NAME_OF(co->key));
        if (!rep) break;
        co->read_in_flight = 0;
        long long t = now_ms();
        size_t first = co->n;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
            redisReply *ents = rep->element[0]->element[1];
            for (size_t i = 0; i < ents->elements; i++) {
                if (co->n == co->cap) {
                    co->cap = co->cap ? co->cap * 2 : 1024;
                    co->d = realloc(co->d, co->cap * sizeof(*co->d));
                }
                co->d[co->n++] =
                    (struct delivery){sid_of(ents->element[i]->element[0]->str), D_DELIVERED, t, 0};
            }
            atomic_fetch_add(&co->delivered, (long)ents->elements);
        } else if (rep->type != REDIS_REPLY_NIL && !co->err[0]) {
            snprintf(co->err, sizeof(co->err), "XREADGROUP reply type %d: %s", rep->type,
                     rep->str ? rep->str : "");
        }
        freeReplyObject(rep);
        if (co->n == first) continue;
        /* XACK about two thirds of them */
        const char *argv[16];
        size_t argl[16], idx[16];
        char ids[16][48];
        int n = 0, k = 0;
        argv[n] = "XACK", argl[n] = 4, n++;
        argv[n] = NAME_OF(co->key), argl[n] = strlen(argv[n]), n++;
        argv[n] = "g", argl[n] = 1, n++;
        for (size_t i = first; i < co->n && n < 16; i++) {
            if (rng_int(&r, 3) == 0) continue;
            snprintf(ids[k], sizeof(ids[k]), SIDF, SIDA(co->d[i].id));
            argv[n] = ids[k], argl[n] = strlen(ids[k]), n++;
            idx[k++] = i;
        }
        if (k) {
            for (int i = 0; i < k; i++) co->d[idx[i]].state = D_ACK_SENT;
            redisReply *ar = redisCommandArgv(c, n, argv, argl);
            if (!ar) break;
            if (ar->type == REDIS_REPLY_INTEGER && ar->integer == k) {
                long long ta = now_ms();
                for (int i = 0; i < k; i++) co->d[idx[i]].state = D_ACKED, co->d[idx[i]].t_ack = ta;
                atomic_fetch_add(&co->xacked, k);
            } else if (!co->err[0]) {
                snprintf(co->err, sizeof(co->err), "XACK of %d: type %d %lld %s", k, ar->type,
                         ar->integer, ar->str ? ar->str : "");
            }
            freeReplyObject(ar);
        }
        if (co->idx == 0 && rng_int(&r, 3) == 0) {
            struct sid id = co->d[co->n - 1].id;
            if (first > 0 && rng_int(&r, 8) == 0) id = co->d[rng_int(&r, (int)first)].id;
            if (co->ncommits == co->ccap) {
                co->ccap = co->ccap ? co->ccap * 2 : 256;
                co->commits = realloc(co->commits, co->ccap * sizeof(*co->commits));
            }
            co->commits[co->ncommits++] = (struct commit){id, 0, 0};
            redisReply *cr = redisCommand(c, "XCOMMIT %s g " SIDF, NAME_OF(co->key), SIDA(id));
            if (!cr) break;
            if (cr->type == REDIS_REPLY_STATUS && !strcmp(cr->str, "OK")) {
                co->commits[co->ncommits - 1].acked = 1;
                co->commits[co->ncommits - 1].t = now_ms();
                atomic_fetch_add(&co->committed, 1);
            } else if (!co->err[0]) {
                snprintf(co->err, sizeof(co->err), "XCOMMIT: type %d %s", cr->type,
                         cr->str ? cr->str : "");
            }
            freeReplyObject(cr);
        }
    }
    redisFree(c);
    return NULL;
}

/* ---- checks ---- */
static int failures;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (failures++ < 25) {                                                                 \
                printf("# FAIL: ");                                                                \
                printf(__VA_ARGS__);                                                               \
                printf("\n");                                                                      \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static struct sid *xrange(redisContext *c, int key, size_t *n) {
    redisReply *r = must_cmd(c, "XRANGE %s - +", NAME_OF(key));
    if (r->type != REDIS_REPLY_ARRAY) printf("# XRANGE %s: %s\n", NAME_OF(key), r->str);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    struct sid *ids = malloc((r->elements + 1) * sizeof(*ids));
    for (size_t i = 0; i < r->elements; i++) ids[i] = sid_of(r->element[i]->element[0]->str);
    *n = r->elements;
    freeReplyObject(r);
    return ids;
}

static int has_id(const struct sid *ids, size_t n, struct sid id) {
    return bsearch(&id, ids, n, sizeof(*ids), cmp_sid) != NULL;
}

/* A field of a flat reply (XINFO), or NULL. */
static redisReply *field(redisReply *r, const char *name) {
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (r->element[i]->str && !strcmp(r->element[i]->str, name)) return r->element[i + 1];
    return NULL;
}

/* The group "g" of a key (XINFO GROUPS), or NULL; *summary gets a stable text of it. */
static redisReply *group_info(redisContext *c, int key, redisReply **all, char *summary,
                              size_t cap) {
    redisReply *r = must_cmd(c, "XINFO GROUPS %s", NAME_OF(key));
    *all = r;
    summary[0] = '\0';
    if (r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *g = r->element[i], *name = field(g, "name");
        if (!name || strcmp(name->str, "g")) continue;
        redisReply *cons = field(g, "consumers"), *pend = field(g, "pending");
        redisReply *ld = field(g, "last-delivered-id");
        redisReply *x = must_cmd(c, "XPENDING %s g", NAME_OF(key));
        char pel[200] = "";
        if (x->type == REDIS_REPLY_ARRAY && x->elements >= 3)
            snprintf(pel, sizeof(pel), "%lld %s %s", x->element[0]->integer,
                     x->element[1]->str ? x->element[1]->str : "nil",
                     x->element[2]->str ? x->element[2]->str : "nil");
        freeReplyObject(x);
        snprintf(summary, cap, "consumers %lld pending %lld last-delivered %s pel %s",
                 cons ? cons->integer : -1, pend ? pend->integer : -1,
                 ld && ld->str ? ld->str : "?", pel);
        return g;
    }
    return NULL;
}

struct round_cfg {
    const char *fsync, *syncfs_min, *segment_bytes;
    int tails, clean_stop;
    int run_min_ms, run_max_ms;
    int wal;                /* the write-ahead log on (the default) or off */
    const char *wal_ckpt;   /* wal-checkpoint-bytes (NULL: the default, no checkpoint in a round) */
    const char *wal_direct; /* wal-direct-bytes (NULL: the default) */
    int zstd;               /* compression zstd: compressed batches are what gets cut */
};

static const struct round_cfg pattern[] = {
    {"always", "0", NULL, 0, 0, 200, 900, 0, NULL},
    {"always", "2", "64kb", 1, 0, 200, 900, 0, NULL, NULL, 1},
    {"always", "0", NULL, 1, 0, 200, 900, 1, NULL},
    {"everysec", "2", "64kb", 1, 0, 2600, 3400, 1, "64kb", NULL, 1},
    {"everysec", "0", NULL, 0, 0, 2600, 3400, 0, NULL},
    {"always", "2", NULL, 1, 1, 200, 900, 1, NULL},
    {"always", "2", "64kb", 1, 0, 200, 900, 1, "64kb", NULL, 1},
    {"always", "2", NULL, 0, 0, 200, 900, 1, "64kb"},
    /* rounds of more than 200 bytes per file skip the log: logged and direct rounds mix */
    {"always", "2", NULL, 1, 0, 200, 900, 1, NULL, "200"},
};
#define NPATTERN ((int)(sizeof(pattern) / sizeof(pattern[0])))

struct run {
    struct test_server s;
    int starts;
    char log[PATH_MAX], stash[PATH_MAX];
};

static void print_log_tail(const struct test_server *s) {
    FILE *f = fopen(s->logpath, "r");
    if (!f) return;
    char lines[20][300];
    int n = 0;
    while (fgets(lines[n % 20], sizeof(lines[0]), f)) n++;
    fclose(f);
    for (int i = n > 20 ? n - 20 : 0; i < n; i++) printf("#   log: %s", lines[i % 20]);
}

static void start_under_shim(struct run *run, const struct round_cfg *cfg) {
    run->starts++;
    snprintf(run->log, sizeof(run->log), "%s/pc-record-%d", run->s.dir, run->starts);
    snprintf(run->stash, sizeof(run->stash), "%s/pc-stash-%d", run->s.dir, run->starts);
    assert_int_equal(mkdir(run->stash, 0755), 0);
    const char *argv[16];
    int n = 0;
    argv[n++] = "--fsync", argv[n++] = cfg->fsync;
    argv[n++] = "--syncfs-min-files", argv[n++] = cfg->syncfs_min;
    if (cfg->segment_bytes) argv[n++] = "--segment-bytes", argv[n++] = cfg->segment_bytes;
    argv[n++] = "--wal", argv[n++] = cfg->wal ? "yes" : "no";
    if (cfg->wal_ckpt) argv[n++] = "--wal-checkpoint-bytes", argv[n++] = cfg->wal_ckpt;
    if (cfg->wal_direct) argv[n++] = "--wal-direct-bytes", argv[n++] = cfg->wal_direct;
    if (cfg->zstd) argv[n++] = "--compression", argv[n++] = "zstd";
    argv[n] = NULL;
    shim_env(run->log, run->s.datadir, run->stash);
    int rc = server_start_argv(&run->s, argv, 1);
    shim_env(NULL, NULL, NULL);
    if (rc != 0) {
        printf("# the server did not start on the cut directory (start %d):\n", run->starts);
        print_log_tail(&run->s);
    }
    assert_int_equal(rc, 0);
}

static void cut(struct run *run, uint64_t tail_seed, struct pc_stats *st, const char *label) {
    int rc = pc_apply(run->s.datadir, run->log, run->stash, tail_seed, st);
    if (rc != 0) printf("# cut failed: %s\n", st->problem);
    assert_int_equal(rc, 0);
    pc_stats_print(st, label);
    if (st->problem[0]) printf("# %s: %s\n", label, st->problem);
    rm_tree(run->stash);
}

static int add_key(const char *name, int round) {
    assert_true(nkeys < MAX_KEYS);
    snprintf(keys[nkeys].name, sizeof(keys[nkeys].name), "%s", name);
    keys[nkeys].round = round;
    return nkeys++;
}

/* The round's figures, summed for the final line. */
static struct totals {
    long rounds, xadds_checked, xadds_lost, deliveries_checked, xacks_checked, commits_checked;
    long long max_lost_age_ms;
} tot;

struct round {
    int r;
    const struct round_cfg *cfg;
    int own[NWRITERS];
    struct writer w[NWRITERS];
    struct consumer co[NCONS];
    long long group_t; /* when XGROUP CREATE was acknowledged */
    long long cut_t;
    long long window_ms;   /* everysec: what may be lost (0 under always) */
    long long checkpoints; /* the log's checkpoints (INFO) just before the cut */
};

static void run_workload(struct run *run, struct round *rd, struct rng *rng) {
    char name[KEY_MAX];
    redisContext *c = client_connect(&run->s);
    assert_non_null(c);
    snprintf(name, sizeof(name), "pc:r%d:w0", rd->r);
    rd->own[0] = add_key(name, rd->r);
    /* a key over the hex-name limit: stored under a hashed name, found by its topic.meta */
    memset(name, 0, sizeof(name));
    snprintf(name, sizeof(name), "pc:r%d:w1:", rd->r);
    memset(name + strlen(name), 'L', 300);
    rd->own[1] = add_key(name, rd->r);
    redisReply *x = must_cmd(c, "XGROUP CREATE %s g $ MKSTREAM", NAME_OF(rd->own[0]));
    if (x->type != REDIS_REPLY_STATUS || strcmp(x->str, "OK"))
        printf("# XGROUP CREATE: type %d %s\n", x->type, x->str ? x->str : "");
    assert_int_equal(x->type, REDIS_REPLY_STATUS);
    assert_string_equal(x->str, "OK");
    freeReplyObject(x);
    rd->group_t = now_ms();
    redisFree(c);

    atomic_store(&stop_flag, 0);
    pthread_t wt[NWRITERS], ct[NCONS];
    for (int i = 0; i < NWRITERS; i++) {
        rd->w[i].port = run->s.port;
        rd->w[i].idx = i;
        rd->w[i].own_key = rd->own[i];
        rd->w[i].shared_key = 0;
        assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &rd->w[i]), 0);
    }
    for (int i = 0; i < NCONS; i++) {
        rd->co[i].port = run->s.port;
        rd->co[i].idx = i;
        rd->co[i].key = rd->own[0];
        rd->co[i].seed = rng_next(rng);
        snprintf(rd->co[i].name, sizeof(rd->co[i].name), "c%d", i);
        assert_int_equal(pthread_create(&ct[i], NULL, consumer_main, &rd->co[i]), 0);
    }
    /* every kind of acknowledgement has come back before the cut can come */
    long long t0 = now_ms();
    int ready = 0;
    while (!ready && now_ms() - t0 < 15000) {
        ready = 1;
        for (int i = 0; i < NWRITERS; i++) ready &= atomic_load(&rd->w[i].acked) >= 20;
        for (int i = 0; i < NCONS; i++)
            ready &= atomic_load(&rd->co[i].delivered) > 0 && atomic_load(&rd->co[i].xacked) > 0;
        ready &= atomic_load(&rd->co[0].committed) > 0;
        if (!ready) sleep_ms(10);
    }
    int delay = rd->cfg->run_min_ms + rng_int(rng, rd->cfg->run_max_ms - rd->cfg->run_min_ms + 1);
    if (ready) sleep_ms(delay);
    assert_server_pid(&run->s);
    redisContext *ic = client_connect(&run->s);
    rd->checkpoints = ic ? info_number(ic, "persistence", "wal_checkpoints") : -1;
    if (ic) redisFree(ic);
    rd->cut_t = now_ms();
    if (rd->cfg->clean_stop) {
        int st = server_stop(&run->s);
        CHECK(st == 0, "clean stop exited %d", st);
    } else {
        server_kill(&run->s);
    }
    atomic_store(&stop_flag, 1);
    for (int i = 0; i < NWRITERS; i++) pthread_join(wt[i], NULL);
    for (int i = 0; i < NCONS; i++) pthread_join(ct[i], NULL);
    for (int i = 0; i < NWRITERS; i++) {
        CHECK(!rd->w[i].connect_failed, "writer %d could not connect", i);
        CHECK(!rd->w[i].err[0], "writer %d: %s", i, rd->w[i].err);
    }
    for (int i = 0; i < NCONS; i++) {
        CHECK(!rd->co[i].connect_failed, "consumer %d could not connect", i);
        CHECK(!rd->co[i].err[0], "consumer %d: %s", i, rd->co[i].err);
    }
    CHECK(ready,
          "the workload made no progress in 15 s (XADD %ld/%ld, delivered %ld/%ld, "
          "XACKed %ld/%ld, XCOMMITs %ld)",
          atomic_load(&rd->w[0].acked), atomic_load(&rd->w[1].acked),
          atomic_load(&rd->co[0].delivered), atomic_load(&rd->co[1].delivered),
          atomic_load(&rd->co[0].xacked), atomic_load(&rd->co[1].xacked),
          atomic_load(&rd->co[0].committed));
    printf("# round %d (%s, syncfs-min-files %s%s%s, wal %s%s%s): %s after %d ms\n", rd->r,
           rd->cfg->fsync, rd->cfg->syncfs_min, rd->cfg->segment_bytes ? ", segment-bytes " : "",
           rd->cfg->segment_bytes ? rd->cfg->segment_bytes : "", rd->cfg->wal ? "yes" : "no",
           rd->cfg->wal_ckpt ? ", checkpoint every " : "",
           rd->cfg->wal_ckpt ? rd->cfg->wal_ckpt : "",
           rd->cfg->clean_stop ? "clean stop" : "SIGKILL", (int)(rd->cut_t - t0));
}

/* Checks what the restarted server has against what round rd was acknowledged. */
static void check_round(struct run *run, struct round *rd) {
    int everysec = !strcmp(rd->cfg->fsync, "everysec");
    /* under always every acknowledgement counts, even one read just after the kill */
    counted_before = everysec ? rd->cut_t - rd->window_ms : LLONG_MAX;
    redisContext *c = client_connect(&run->s);
    assert_non_null(c);
    struct sid *ids[MAX_KEYS];
    size_t nids[MAX_KEYS];
    for (int k = 0; k < nkeys; k++) {
        ids[k] = xrange(c, k, &nids[k]);
        for (size_t i = 1; i < nids[k]; i++)
            CHECK(sid_cmp(ids[k][i - 1], ids[k][i]) < 0, "%.40s: XRANGE out of order at " SIDF,
                  NAME_OF(k), SIDA(ids[k][i]));
        int written = k == 0 || keys[k].round == rd->r;
        size_t pre = keys[k].nseen <= nids[k] ? keys[k].nseen : nids[k];
        int same = keys[k].nseen <= nids[k] &&
                   (pre == 0 || !memcmp(keys[k].seen, ids[k], pre * sizeof(struct sid)));
        CHECK(same && (written || nids[k] == keys[k].nseen),
              "%.40s: %zu entries seen at the previous restart, now %zu%s", NAME_OF(k),
              keys[k].nseen, nids[k],
              same ? " (more, but nothing was written to it)" : ", not starting with those");
    }
    /* acknowledged XADDs */
    long checked = 0, lost = 0, counted_lost = 0;
    long long max_lost_age = 0;
    struct sid min_lost[MAX_KEYS];
    int any_lost[MAX_KEYS] = {0};
    for (int i = 0; i < NWRITERS; i++) {
        struct writer *w = &rd->w[i];
        struct sid last[MAX_KEYS];
        int have_last[MAX_KEYS] = {0};
        for (size_t j = 0; j < w->n; j++) {
            struct wrec *e = &w->v[j];
            int present = has_id(ids[e->key], nids[e->key], e->id);
            if (have_last[e->key])
                CHECK(sid_cmp(last[e->key], e->id) < 0, "writer %d: XADD IDs not increasing", i);
            last[e->key] = e->id, have_last[e->key] = 1;
            if (WINDOWED(e->t)) {
                checked++;
                if (!present && ++counted_lost <= 5) /* the rest in one line below */
                    CHECK(0,
                          "%.40s: acknowledged XADD " SIDF " lost (acknowledged %lld ms "
                          "before the cut)",
                          NAME_OF(e->key), SIDA(e->id), rd->cut_t - e->t);
            }
            if (!present) {
                lost++;
                if (rd->cut_t - e->t > max_lost_age) max_lost_age = rd->cut_t - e->t;
                if (!any_lost[e->key] || sid_cmp(e->id, min_lost[e->key]) < 0)
                    min_lost[e->key] = e->id;
                any_lost[e->key] = 1;
            }
        }
    }
    for (int k = 0; k < nkeys; k++)
        if (any_lost[k] && nids[k])
            CHECK(sid_cmp(ids[k][nids[k] - 1], min_lost[k]) < 0,
                  "%.40s: acknowledged " SIDF " lost but a later entry " SIDF " is there (a hole)",
                  NAME_OF(k), SIDA(min_lost[k]), SIDA(ids[k][nids[k] - 1]));
    CHECK(counted_lost <= 5, "%ld of the %ld acknowledged XADDs that must survive were lost",
          counted_lost, checked);
    if (!everysec) CHECK(lost == 0, "%ld acknowledged XADDs lost under fsync always", lost);
    CHECK(checked > 0, "no acknowledged XADD to check");

    /* the round's group */
    int gk = rd->own[0];
    redisReply *all;
    char summary[512];
    redisReply *g = group_info(c, gk, &all, summary, sizeof(summary));
    long dchecked = 0, achecked = 0, cchecked = 0;
    int clamped = 0;
    CHECK(g || !WINDOWED(rd->group_t), "acknowledged XGROUP CREATE on %s lost", NAME_OF(gk));
    struct sid end = nids[gk] ? ids[gk][nids[gk] - 1] : (struct sid){0, 0};
    redisReply *info = must_cmd(c, "XINFO STREAM %s", NAME_OF(gk));
    redisReply *lg = field(info, "last-generated-id");
    if (lg && lg->str) end = sid_of(lg->str);
    freeReplyObject(info);
    if (g) {
        struct sid max_counted = {0, 0}, max_recv = {0, 0};
        int in_flight = 0;
        for (int i = 0; i < NCONS; i++) {
            struct consumer *k = &rd->co[i];
            in_flight |= k->read_in_flight;
            redisReply *p = must_cmd(c, "XPENDING %s g - + 1000000 %s", NAME_OF(gk), k->name);
            assert_int_equal(p->type, REDIS_REPLY_ARRAY);
            struct sid *pel = malloc((p->elements + 1) * sizeof(*pel));
            size_t npel = p->elements;
            struct sid maxdel = {0, 0};
            for (size_t j = 0; j < k->n; j++)
                if (sid_cmp(k->d[j].id, maxdel) > 0) maxdel = k->d[j].id;
            if (sid_cmp(maxdel, max_recv) > 0) max_recv = maxdel;
            for (size_t j = 0; j < npel; j++) {
                redisReply *e = p->element[j];
                pel[j] = sid_of(e->element[0]->str);
                CHECK(e->element[3]->integer == 1,
                      "%s: PEL entry %s delivered %lld times (read once with >)", k->name,
                      e->element[0]->str, e->element[3]->integer);
                int known = 0;
                for (size_t q = 0; q < k->n && !known; q++) known = !sid_cmp(k->d[q].id, pel[j]);
                CHECK(known || (k->read_in_flight && sid_cmp(pel[j], maxdel) > 0),
                      "%s: PEL entry %s never delivered to it", k->name, e->element[0]->str);
                CHECK(has_id(ids[gk], nids[gk], pel[j]), "%s: PEL entry %s not in the stream",
                      k->name, e->element[0]->str);
            }
            freeReplyObject(p);
            for (size_t j = 0; j < k->n; j++) {
                struct delivery *d = &k->d[j];
                int pending = bsearch(&d->id, pel, npel, sizeof(*pel), cmp_sid) != NULL;
                if (!WINDOWED(d->t)) continue;
                dchecked++;
                if (sid_cmp(d->id, max_counted) > 0) max_counted = d->id;
                CHECK(has_id(ids[gk], nids[gk], d->id), "%s: delivered " SIDF " not in the stream",
                      k->name, SIDA(d->id));
                if (d->state == D_DELIVERED)
                    CHECK(pending, "%s: acknowledged delivery of " SIDF " not pending", k->name,
                          SIDA(d->id));
                if (d->state == D_ACKED && WINDOWED(d->t_ack)) {
                    achecked++;
                    CHECK(!pending, "%s: acknowledged XACK of " SIDF " lost (still pending)",
                          k->name, SIDA(d->id));
                }
            }
            free(pel);
        }
        redisReply *ldr = field(g, "last-delivered-id");
        struct sid ld = ldr && ldr->str ? sid_of(ldr->str) : (struct sid){0, 0};
        CHECK(sid_cmp(ld, max_counted) >= 0,
              "last-delivered-id " SIDF " below the last acknowledged delivery " SIDF, SIDA(ld),
              SIDA(max_counted));
        CHECK(sid_cmp(ld, in_flight ? end : max_recv) <= 0,
              "last-delivered-id " SIDF " past %s " SIDF, SIDA(ld),
              in_flight ? "the stream's end" : "the last delivery received",
              SIDA(in_flight ? end : max_recv));
        /* XCOMMITTED: the last counted acknowledged XCOMMIT, or a later one */
        struct consumer *k0 = &rd->co[0];
        long j0 = -1;
        for (size_t j = 0; j < k0->ncommits; j++)
            if (k0->commits[j].acked && WINDOWED(k0->commits[j].t)) j0 = (long)j;
        cchecked = j0 + 1;
        redisReply *cm = must_cmd(c, "XCOMMITTED %s g", NAME_OF(gk));
        int ok = cm->type == REDIS_REPLY_NIL && j0 < 0;
        size_t from = j0 < 0 ? 0 : (size_t)j0;
        if (cm->type == REDIS_REPLY_STRING) {
            struct sid got = sid_of(cm->str);
            for (size_t j = from; j < k0->ncommits && !ok; j++)
                ok = !sid_cmp(got, k0->commits[j].id);
            /* everysec: a later XCOMMIT can outlive the entry it names (its groups.log record
             * reached the disk, the data batch did not); recovery then brings the committed ID
             * down to the stream's end (the clamp, format.md) */
            for (size_t j = from; everysec && !ok && !sid_cmp(got, end) && j < k0->ncommits; j++)
                if (sid_cmp(k0->commits[j].id, end) > 0) ok = clamped = 1;
            CHECK(sid_cmp(got, end) <= 0, "committed %s past the stream's end", cm->str);
        }
        CHECK(ok,
              "XCOMMITTED %s; the last XCOMMIT that must survive: %s (%ld of %zu sent); the "
              "stream ends at " SIDF,
              cm->type == REDIS_REPLY_STRING ? cm->str : "nil", j0 < 0 ? "none" : "see below",
              j0 + 1, k0->ncommits, SIDA(end));
        if (!ok && j0 >= 0)
            printf("#   it was " SIDF ", acknowledged %lld ms before the cut\n",
                   SIDA(k0->commits[j0].id), rd->cut_t - k0->commits[j0].t);
        freeReplyObject(cm);
        snprintf(keys[gk].group, sizeof(keys[gk].group), "%s", summary);
    }
    freeReplyObject(all);
    /* earlier rounds' groups did not move */
    for (int k = 1; k < nkeys; k++) {
        if (keys[k].round >= rd->r || !keys[k].group[0]) continue;
        char now[512];
        redisReply *a;
        group_info(c, k, &a, now, sizeof(now));
        freeReplyObject(a);
        CHECK(!strcmp(now, keys[k].group), "%.40s: group was [%s], now [%s]", NAME_OF(k),
              keys[k].group, now);
    }
    if (!everysec) {
        CHECK(dchecked > 0, "no acknowledged delivery to check");
        CHECK(achecked > 0, "no acknowledged XACK to check");
        CHECK(cchecked > 0, "no acknowledged XCOMMIT to check");
    }
    printf("# round %d checked: %ld acknowledged XADDs (%ld lost%s), %ld deliveries, %ld XACKs, "
           "%ld XCOMMITs%s\n",
           rd->r, checked, lost, everysec ? ", all in the window" : "", dchecked, achecked,
           cchecked, clamped ? " (committed ID clamped to the stream's end)" : "");
    if (lost)
        printf("# round %d: the oldest lost XADD was acknowledged %lld ms before the cut "
               "(window %d ms)\n",
               rd->r, max_lost_age, (int)rd->window_ms);
    tot.rounds++;
    tot.xadds_checked += checked;
    tot.xadds_lost += lost;
    tot.deliveries_checked += dchecked;
    tot.xacks_checked += achecked;
    tot.commits_checked += cchecked;
    if (max_lost_age > tot.max_lost_age_ms) tot.max_lost_age_ms = max_lost_age;
    for (int k = 0; k < nkeys; k++) {
        free(keys[k].seen);
        keys[k].seen = ids[k];
        keys[k].nseen = nids[k];
    }
    redisFree(c);
}

static void check_cut(const struct round *rd, const struct pc_stats *st) {
    CHECK(st->unsupported == 0, "the shim saw a call it cannot model: %s", st->problem);
    CHECK(st->overwrites == 0, "a write rewrote durable bytes: %s", st->problem);
    /* A SIGKILL can strike between a create and the shim's record line, at most once per
     * thread that creates files (the persist thread and the main thread): such a file is left
     * out of the cut like any create that was never made durable. More means a shim gap. */
    CHECK(st->unknown <= 2, "%ld files the record never named (a create the shim misses?)",
          st->unknown);
    CHECK(st->dir_fsyncs > 0, "the shim saw no directory fsync");
    if (!strcmp(rd->cfg->syncfs_min, "0"))
        CHECK(st->fdatasyncs > 0 && st->syncfs_calls == 0,
              "syncfs-min-files 0: the shim saw %ld fdatasync and %ld syncfs", st->fdatasyncs,
              st->syncfs_calls);
    else if (!rd->cfg->wal || (rd->cfg->wal_ckpt && rd->checkpoints > 0) || rd->cfg->clean_stop)
        /* with the log, files are synced only at checkpoints (a slow round may not write
         * wal-checkpoint-bytes of log before its cut) */
        CHECK(st->syncfs_calls > 0, "syncfs-min-files %s: the shim saw no syncfs",
              rd->cfg->syncfs_min);
    if (!rd->cfg->wal)
        CHECK(st->log_writes_undone == 0, "%ld writes into the write-ahead log with wal no",
              st->log_writes_undone);
    if (rd->cfg->clean_stop)
        CHECK(st->files_dropped == 0 && st->dirs_dropped == 0 && st->bytes_cut == 0 &&
                  st->names_reverted == 0,
              "after a clean stop the cut still removed %ld files, %ld dirs, %lld bytes, "
              "reverted %ld names: not everything was durable",
              st->files_dropped, st->dirs_dropped, st->bytes_cut, st->names_reverted);
}

static void free_round(struct round *rd) {
    for (int i = 0; i < NWRITERS; i++) free(rd->w[i].v);
    for (int i = 0; i < NCONS; i++) {
        free(rd->co[i].d);
        free(rd->co[i].commits);
    }
}

static struct run the_run;

static void test_power_cuts(void **state) {
    (void)state;
    find_shim();
    int nrounds = NPATTERN;
    const char *n = getenv("OBELISK_POWERCUT_ROUNDS");
    if (n && atoi(n) > 0) nrounds = atoi(n);
    struct rng rng = {base_seed};
    struct run *run = &the_run;
    memset(run, 0, sizeof(*run));
    test_tmp_template(run->s.dir, sizeof(run->s.dir), "obelisk-test.");
    assert_non_null(mkdtemp(run->s.dir));
    assert_true(snprintf(run->s.datadir, sizeof(run->s.datadir), "%s/data", run->s.dir) <
                (int)sizeof(run->s.datadir));
    assert_true(snprintf(run->s.logpath, sizeof(run->s.logpath), "%s/server.log", run->s.dir) <
                (int)sizeof(run->s.logpath));
    assert_int_equal(mkdir(run->s.datadir, 0755), 0);
    nkeys = 0;
    add_key(SHARED_KEY, -1);
    long long t_start = now_ms();
    /* OBELISK_POWERCUT_CONFIG=N: every round uses pattern[N] (to repeat one kind of round) */
    int only = -1;
    const char *oc = getenv("OBELISK_POWERCUT_CONFIG");
    if (oc && *oc && atoi(oc) >= 0 && atoi(oc) < NPATTERN) only = atoi(oc);
#define CFG(r) (&pattern[only >= 0 ? only : (r) % NPATTERN])
    start_under_shim(run, CFG(0));
    for (int r = 0; r < nrounds; r++) {
        struct round rd;
        memset(&rd, 0, sizeof(rd));
        rd.r = r;
        rd.cfg = CFG(r);
        failures = 0;
        run_workload(run, &rd, &rng);
        struct pc_stats st;
        char label[64];
        snprintf(label, sizeof(label), "round %d cut", r);
        cut(run, rd.cfg->tails ? rng_next(&rng) | 1 : 0, &st, label);
        check_cut(&rd, &st);
        if (!strcmp(rd.cfg->fsync, "everysec")) {
            long long slow = 1000 + 2 * st.max_sync_round_us / 1000 + 250;
            rd.window_ms = slow > EVERYSEC_WINDOW_MS ? slow : EVERYSEC_WINDOW_MS;
            if (slow > EVERYSEC_WINDOW_MS)
                printf("# round %d: a sync round took %lld ms: loss window %lld ms\n", r,
                       st.max_sync_round_us / 1000, rd.window_ms);
        }
        start_under_shim(run, CFG(r + 1));
        check_round(run, &rd);
        free_round(&rd);
        if (failures)
            printf("# %d failures in round %d (seed %" PRIu64 ")\n", failures, r, base_seed);
        assert_int_equal(failures, 0);
    }
    assert_int_equal(server_stop(&run->s), 0);
    int rc = run_obelisk_check(run->s.datadir, 0);
    if (rc != 0) printf("# obelisk-check exited %d\n", rc);
    assert_int_equal(rc, 0);
    printf("# %ld rounds in %lld ms: %ld acknowledged XADDs checked (%ld lost under everysec, the "
           "oldest %lld ms before its cut), %ld deliveries, %ld XACKs, %ld XCOMMITs checked\n",
           tot.rounds, now_ms() - t_start, tot.xadds_checked, tot.xadds_lost, tot.max_lost_age_ms,
           tot.deliveries_checked, tot.xacks_checked, tot.commits_checked);
    for (int k = 0; k < nkeys; k++) free(keys[k].seen);
    server_cleanup(&run->s);
}

static int teardown(void **state) {
    (void)state;
    server_cleanup(&the_run.s);
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path) {
    if (!getenv("OBELISK_KEEP_TEST_DIRS")) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--shim-child")) {
        shim_child(atoi(argv[2]), argv[3]);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    const char *s = getenv("OBELISK_SEED");
    if (s && *s) {
        base_seed = strtoull(s, NULL, 10);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        base_seed = ((uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid()) %
                    1000000000u;
    }
    printf("# seed %" PRIu64 "\n", base_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shim_model),
        cmocka_unit_test_teardown(test_power_cuts, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
