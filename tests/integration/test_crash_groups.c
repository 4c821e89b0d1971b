/* test_crash_groups.c - kill -9 during a consumer-group workload (fsync always).
 *
 * Each round starts a server in a fresh directory with one stream and two groups, runs a writer
 * thread (XADD) and several consumer threads (one hiredis connection each): each consumer loops
 * XREADGROUP GROUP g cN COUNT n BLOCK 100 STREAMS key >, then XACKs a random subset of what it
 * got (in one or several XACKs), and the first consumer of each group now and then XCOMMITs the
 * last ID it was delivered (sometimes an older one: a rewind, and sometimes 0-0: a reset). Every
 * thread records what it sent and which replies arrived. The server is killed with SIGKILL at a
 * random moment (after checking that INFO's process_id is the pid the harness started), restarted
 * in the same directory, and checked:
 *   - every acknowledged XADD is in the stream;
 *   - every acknowledged delivery is in the stream, and is pending for that consumer unless an
 *     XACK for it was sent (acknowledged or not), with a delivery count of 1 (consumers read
 *     only with `>`);
 *   - every acknowledged XACK is reflected: the entry is not pending;
 *   - every PEL entry belongs to a consumer that was delivered it, or that had an XREADGROUP in
 *     flight at the kill (and is then above what that consumer was acknowledged);
 *   - no PEL entry points past the end of the log, and each is a live entry;
 *   - each group's last-delivered-id is at least the last delivery its consumers received,
 *     and equal to it unless a read was in flight (then at most the log end);
 *   - the committed offset is the last acknowledged XCOMMIT or the one in flight at the kill
 *     (nil only if none was acknowledged); committed and last-delivered IDs never exceed the log
 *     end; XLAG's lag is the count of entries after the committed ID.
 * The kill comes only once every kind of reply (XADD, delivery to each consumer, XACK, XCOMMIT
 * from each committer) has come back, and a round fails when a thread could not connect or got
 * an error reply, when XGROUP CREATE or XINFO did not answer as expected, or when it has no
 * acknowledged XADD, delivery, XACK or XCOMMIT to check.
 * Then the groups keep working, the server stops cleanly and `obelisk-check` ($OBELISK_CHECK)
 * must exit 0 on the directory.
 *
 * Randomness: every round has a seed (printed as "# seed N"; OBELISK_SEED=N repeats it as the
 * first round); OBELISK_CRASH_ROUNDS=N runs N rounds (default 5). The seed fixes the workload
 * shape and the kill delay; thread scheduling still varies. No timing is asserted. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NCONS 4 /* consumers 0,1 in group ga; 2,3 in gb; 0 and 2 commit */
#define KEY   "cgk"

struct sid {
    uint64_t ms, seq;
};

static int sid_cmp(struct sid a, struct sid b) {
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}

static struct sid sid_of(const char *s) {
    struct sid x = {0, 0};
    char *end;
    x.ms = strtoull(s, &end, 10);
    if (*end == '-') x.seq = strtoull(end + 1, NULL, 10);
    return x;
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

static uint64_t base_seed;
static int nrounds = 5;
static struct test_server cur;
static atomic_int stop_flag;

/* ---- the writer ---- */
struct writer {
    int port;
    struct sid *acked;
    size_t n, cap;
    atomic_long nacked;
    int connect_failed;
    char err[160];
};

static redisContext *connect_port(int port) {
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
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
        redisReply *r = redisCommand(c, "XADD " KEY " * n %u", i);
        if (!r) break;
        if (r->type == REDIS_REPLY_STRING) {
            if (w->n == w->cap) {
                w->cap = w->cap ? w->cap * 2 : 1024;
                w->acked = realloc(w->acked, w->cap * sizeof(*w->acked));
            }
            w->acked[w->n++] = sid_of(r->str);
            atomic_fetch_add(&w->nacked, 1);
        } else if (!w->err[0]) {
            snprintf(w->err, sizeof(w->err), "XADD reply type %d: %s", r->type,
                     r->str ? r->str : "");
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

/* ---- consumers ---- */
enum { D_DELIVERED, D_ACK_SENT, D_ACKED };

struct delivery {
    struct sid id;
    int state;
};

struct commit {
    struct sid id;
    int acked;
};

struct consumer {
    int port, idx;
    uint64_t seed;
    const char *group;
    char name[16]; /* "c" and an int always fit */
    struct delivery *d;
    size_t n, cap;
    int read_in_flight; /* an XREADGROUP was sent and no reply came */
    struct commit *commits;
    size_t ncommits, ccap;
    atomic_long ndelivered, nxacked, ncommitted;
    int connect_failed;
    char err[160];
};

static void *consumer_main(void *arg) {
    struct consumer *co = arg;
    struct rng r = {co->seed};
    redisContext *c = connect_port(co->port);
    if (!c) {
        co->connect_failed = 1;
        return NULL;
    }
    int committer = co->idx == 0 || co->idx == 2;
    while (!atomic_load(&stop_flag)) {
        int count = 1 + rng_int(&r, 8);
        co->read_in_flight = 1;
        redisReply *rep =
            redisCommand(c, "XREADGROUP GROUP %s %s COUNT %d BLOCK 100 STREAMS " KEY " >",
                         co->group, co->name, count);
        if (!rep) break;
        co->read_in_flight = 0;
        size_t first = co->n;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
            redisReply *ents = rep->element[0]->element[1];
            for (size_t i = 0; i < ents->elements; i++) {
                if (co->n == co->cap) {
                    co->cap = co->cap ? co->cap * 2 : 1024;
                    co->d = realloc(co->d, co->cap * sizeof(*co->d));
                }
                co->d[co->n].id = sid_of(ents->element[i]->element[0]->str);
                co->d[co->n].state = D_DELIVERED;
                co->n++;
            }
            atomic_fetch_add(&co->ndelivered, (long)ents->elements);
        } else if (rep->type != REDIS_REPLY_NIL && !co->err[0]) {
            snprintf(co->err, sizeof(co->err), "XREADGROUP reply type %d: %s", rep->type,
                     rep->str ? rep->str : "");
        }
        freeReplyObject(rep);
        if (co->n == first) continue;
        /* XACK a random subset, in one or two commands */
        int chunks = 1 + rng_int(&r, 2);
        for (int ch = 0; ch < chunks; ch++) {
            const char *argv[16];
            size_t argl[16];
            char ids[16][48];
            size_t idx[16];
            int n = 0;
            argv[n] = "XACK", argl[n] = 4, n++;
            argv[n] = KEY, argl[n] = strlen(KEY), n++;
            argv[n] = co->group, argl[n] = strlen(co->group), n++;
            int k = 0;
            for (size_t i = first; i < co->n && n < 16; i++) {
                if (co->d[i].state != D_DELIVERED || rng_int(&r, 3) == 0) continue;
                snprintf(ids[k], sizeof(ids[k]), "%" PRIu64 "-%" PRIu64, co->d[i].id.ms,
                         co->d[i].id.seq);
                argv[n] = ids[k], argl[n] = strlen(ids[k]), n++;
                idx[k++] = i;
            }
            if (!k) continue;
            for (int i = 0; i < k; i++) co->d[idx[i]].state = D_ACK_SENT;
            redisReply *ar = redisCommandArgv(c, n, argv, argl);
            if (!ar) goto out;
            if (ar->type == REDIS_REPLY_INTEGER && ar->integer == k) {
                for (int i = 0; i < k; i++) co->d[idx[i]].state = D_ACKED;
                atomic_fetch_add(&co->nxacked, k);
            } else if (!co->err[0]) {
                snprintf(co->err, sizeof(co->err), "XACK of %d IDs: type %d, %lld %s", k, ar->type,
                         ar->integer, ar->str ? ar->str : "");
            }
            freeReplyObject(ar);
        }
        if (committer && rng_int(&r, 3) == 0) {
            struct sid id = co->d[co->n - 1].id;
            int kind = rng_int(&r, 10);
            if (kind == 0)
                id = (struct sid){0, 0}; /* reset */
            else if (kind == 1 && first > 0)
                id = co->d[rng_int(&r, (int)first)].id; /* rewind */
            if (co->ncommits == co->ccap) {
                co->ccap = co->ccap ? co->ccap * 2 : 256;
                co->commits = realloc(co->commits, co->ccap * sizeof(*co->commits));
            }
            co->commits[co->ncommits].id = id;
            co->commits[co->ncommits].acked = 0;
            co->ncommits++;
            redisReply *cr = redisCommand(c, "XCOMMIT " KEY " %s %" PRIu64 "-%" PRIu64, co->group,
                                          id.ms, id.seq);
            if (!cr) break;
            if (cr->type == REDIS_REPLY_STATUS && !strcmp(cr->str, "OK")) {
                co->commits[co->ncommits - 1].acked = 1;
                atomic_fetch_add(&co->ncommitted, 1);
            } else if (!co->err[0]) {
                snprintf(co->err, sizeof(co->err), "XCOMMIT: type %d %s", cr->type,
                         cr->str ? cr->str : "");
            }
            freeReplyObject(cr);
        }
    }
out:
    redisFree(c);
    return NULL;
}

/* ---- helpers ---- */
static int cmp_sid(const void *a, const void *b) {
    return sid_cmp(*(const struct sid *)a, *(const struct sid *)b);
}

/* Sorted IDs of the stream (XRANGE). */
static struct sid *stream_ids(redisContext *c, size_t *n) {
    redisReply *r = client_cmd(c, "XRANGE " KEY " - +");
    assert_non_null(r);
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

static int failures;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (failures++ < 20) {                                                                 \
                printf("# FAIL: ");                                                                \
                printf(__VA_ARGS__);                                                               \
                printf("\n");                                                                      \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void run_round(uint64_t seed) {
    printf("# seed %" PRIu64 "\n", seed);
    struct rng r = {seed};
    failures = 0;
    assert_int_equal(server_start(&cur, "--fsync", "always", NULL), 0);
    redisContext *c = client_connect(&cur);
    assert_non_null(c);
    const char *creates[] = {"XGROUP CREATE " KEY " ga $ MKSTREAM", "XGROUP CREATE " KEY " gb $"};
    for (int i = 0; i < 2; i++) {
        redisReply *x = must_cmd(c, creates[i]);
        if (x->type != REDIS_REPLY_STATUS || strcmp(x->str, "OK"))
            printf("# %s: type %d %s\n", creates[i], x->type, x->str ? x->str : "");
        assert_int_equal(x->type, REDIS_REPLY_STATUS);
        assert_string_equal(x->str, "OK");
        freeReplyObject(x);
    }
    redisFree(c);

    atomic_store(&stop_flag, 0);
    struct writer w = {cur.port, NULL, 0, 0};
    struct consumer co[NCONS];
    memset(co, 0, sizeof(co));
    pthread_t wt, ct[NCONS];
    for (int i = 0; i < NCONS; i++) {
        co[i].port = cur.port;
        co[i].idx = i;
        co[i].seed = seed * 31 + (uint64_t)i + 1;
        co[i].group = i < 2 ? "ga" : "gb";
        snprintf(co[i].name, sizeof(co[i].name), "c%d", i);
        assert_int_equal(pthread_create(&ct[i], NULL, consumer_main, &co[i]), 0);
    }
    assert_int_equal(pthread_create(&wt, NULL, writer_main, &w), 0);
    /* the kill comes once every kind of reply has come back */
    int ready = 0;
    for (int waited = 0; !ready && waited < 15000; waited += 10) {
        ready = atomic_load(&w.nacked) > 0;
        for (int i = 0; i < NCONS; i++)
            ready = ready && atomic_load(&co[i].ndelivered) > 0 &&
                    atomic_load(&co[i].nxacked) > 0 &&
                    (!(i == 0 || i == 2) || atomic_load(&co[i].ncommitted) > 0);
        if (!ready) sleep_ms(10);
    }
    sleep_ms(300 + rng_int(&r, 1200));
    assert_server_pid(&cur);
    server_kill(&cur);
    atomic_store(&stop_flag, 1);
    pthread_join(wt, NULL);
    for (int i = 0; i < NCONS; i++) pthread_join(ct[i], NULL);
    CHECK(!w.connect_failed, "the writer could not connect");
    CHECK(!w.err[0], "writer: %s", w.err);
    for (int i = 0; i < NCONS; i++) {
        CHECK(!co[i].connect_failed, "consumer %d could not connect", i);
        CHECK(!co[i].err[0], "consumer %d: %s", i, co[i].err);
    }
    CHECK(ready, "no progress in 15 s: every kind of reply should have come back");

    assert_int_equal(server_start_argv(&cur, NULL, 1), 0);
    c = client_connect(&cur);
    assert_non_null(c);
    size_t nids;
    struct sid *ids = stream_ids(c, &nids);
    struct sid end = {0, 0};
    redisReply *info = must_cmd(c, "XINFO STREAM " KEY);
    assert_int_equal(info->type, REDIS_REPLY_ARRAY);
    int have_end = 0;
    for (size_t i = 0; i + 1 < info->elements; i += 2)
        if (info->element[i]->str && !strcmp(info->element[i]->str, "last-generated-id")) {
            end = sid_of(info->element[i + 1]->str);
            have_end = 1;
        }
    freeReplyObject(info);
    CHECK(have_end, "XINFO STREAM has no last-generated-id");
    CHECK(!nids || sid_cmp(ids[nids - 1], end) <= 0,
          "last-generated-id %" PRIu64 "-%" PRIu64 " below the last entry", end.ms, end.seq);
    /* each group's last-delivered-id, from XINFO GROUPS */
    struct sid last_delivered[2] = {{0, 0}, {0, 0}};
    int have_ld[2] = {0, 0};
    redisReply *groups = must_cmd(c, "XINFO GROUPS " KEY);
    assert_int_equal(groups->type, REDIS_REPLY_ARRAY);
    CHECK(groups->elements == 2, "XINFO GROUPS: %zu groups, want 2", groups->elements);
    for (size_t g = 0; g < groups->elements; g++) {
        redisReply *gr = groups->element[g];
        const char *name = NULL, *ld = NULL;
        for (size_t i = 0; gr->type == REDIS_REPLY_ARRAY && i + 1 < gr->elements; i += 2) {
            if (!gr->element[i]->str) continue;
            if (!strcmp(gr->element[i]->str, "name")) name = gr->element[i + 1]->str;
            if (!strcmp(gr->element[i]->str, "last-delivered-id")) ld = gr->element[i + 1]->str;
        }
        int gi = name && !strcmp(name, "ga") ? 0 : name && !strcmp(name, "gb") ? 1 : -1;
        CHECK(gi >= 0 && ld, "XINFO GROUPS: an entry without a known name or last-delivered-id");
        if (gi < 0 || !ld) continue;
        last_delivered[gi] = sid_of(ld);
        have_ld[gi] = 1;
    }
    freeReplyObject(groups);
    CHECK(have_ld[0] && have_ld[1], "XINFO GROUPS lacks group ga or gb");
    struct sid max_recv[2] = {{0, 0}, {0, 0}}; /* the last delivery received, per group */
    int in_flight[2] = {0, 0};
    size_t delivered = 0, acked = 0, commits = 0;
    /* acknowledged XADDs */
    for (size_t i = 0; i < w.n; i++)
        CHECK(has_id(ids, nids, w.acked[i]), "acknowledged XADD %" PRIu64 "-%" PRIu64 " missing",
              w.acked[i].ms, w.acked[i].seq);
    for (int i = 0; i < NCONS; i++) {
        struct consumer *k = &co[i];
        /* this consumer's PEL after the restart */
        redisReply *p = client_cmd(c, "XPENDING " KEY " %s - + 1000000 %s", k->group, k->name);
        assert_int_equal(p->type, REDIS_REPLY_ARRAY);
        struct sid *pel = malloc((p->elements + 1) * sizeof(*pel));
        for (size_t j = 0; j < p->elements; j++) {
            redisReply *e = p->element[j];
            pel[j] = sid_of(e->element[0]->str);
            CHECK(e->elements >= 4 && e->element[3]->type == REDIS_REPLY_INTEGER &&
                      e->element[3]->integer == 1,
                  "%s/%s: PEL entry %s delivered %lld times (read once, with >)", k->group, k->name,
                  e->element[0]->str, e->elements >= 4 ? e->element[3]->integer : -1);
        }
        size_t npel = p->elements;
        freeReplyObject(p);
        struct sid maxdel = {0, 0};
        int gi = i < 2 ? 0 : 1;
        in_flight[gi] |= k->read_in_flight;
        for (size_t j = 0; j < k->n; j++) {
            struct delivery *d = &k->d[j];
            delivered++;
            if (sid_cmp(d->id, maxdel) > 0) maxdel = d->id;
            CHECK(has_id(ids, nids, d->id),
                  "%s/%s: delivered %" PRIu64 "-%" PRIu64 " not in the stream", k->group, k->name,
                  d->id.ms, d->id.seq);
            int pending = has_id(pel, npel, d->id);
            if (d->state == D_ACKED) {
                acked++;
                CHECK(!pending,
                      "%s/%s: acknowledged XACK of %" PRIu64 "-%" PRIu64 " lost (still pending)",
                      k->group, k->name, d->id.ms, d->id.seq);
            } else if (d->state == D_DELIVERED) {
                CHECK(pending,
                      "%s/%s: acknowledged delivery of %" PRIu64 "-%" PRIu64 " not pending",
                      k->group, k->name, d->id.ms, d->id.seq);
            }
        }
        /* every PEL entry: delivered to this consumer, or from a read in flight at the kill */
        for (size_t j = 0; j < npel; j++) {
            int known = 0;
            for (size_t q = 0; q < k->n && !known; q++) known = !sid_cmp(k->d[q].id, pel[j]);
            CHECK(known || (k->read_in_flight && sid_cmp(pel[j], maxdel) > 0),
                  "%s/%s: PEL entry %" PRIu64 "-%" PRIu64 " was never delivered to it", k->group,
                  k->name, pel[j].ms, pel[j].seq);
            CHECK(sid_cmp(pel[j], end) <= 0 && has_id(ids, nids, pel[j]),
                  "%s/%s: PEL entry %" PRIu64 "-%" PRIu64 " past the end of the log or not live",
                  k->group, k->name, pel[j].ms, pel[j].seq);
        }
        free(pel);
        if (sid_cmp(maxdel, max_recv[gi]) > 0) max_recv[gi] = maxdel;
        /* committed offsets (consumers 0 and 2 commit for their group) */
        if (k->idx == 0 || k->idx == 2) {
            long last_acked = -1;
            for (size_t j = 0; j < k->ncommits; j++)
                if (k->commits[j].acked) last_acked = (long)j;
            commits += (size_t)(last_acked + 1);
            redisReply *cm = client_cmd(c, "XCOMMITTED " KEY " %s", k->group);
            int ok;
            if (cm->type == REDIS_REPLY_NIL) {
                ok = last_acked < 0;
            } else {
                struct sid got = sid_of(cm->str);
                ok = (last_acked >= 0 && !sid_cmp(got, k->commits[last_acked].id)) ||
                     ((size_t)(last_acked + 1) < k->ncommits &&
                      !sid_cmp(got, k->commits[last_acked + 1].id));
                CHECK(sid_cmp(got, end) <= 0, "%s: committed %s past the log end", k->group,
                      cm->str);
            }
            CHECK(ok, "%s: committed %s, last acknowledged XCOMMIT %s (%zu sent)", k->group,
                  cm->type == REDIS_REPLY_NIL ? "nil" : cm->str, last_acked < 0 ? "none" : "below",
                  k->ncommits);
            if (!ok && last_acked >= 0)
                printf("#   last acknowledged: %" PRIu64 "-%" PRIu64 "\n",
                       k->commits[last_acked].id.ms, k->commits[last_acked].id.seq);
            /* XLAG: lag = live entries after the committed ID, log-end = the end */
            if (cm->type != REDIS_REPLY_NIL) {
                struct sid got = sid_of(cm->str);
                long long after = 0;
                for (size_t j = 0; j < nids; j++) after += sid_cmp(ids[j], got) > 0;
                redisReply *lg = client_cmd(c, "XLAG " KEY " %s", k->group);
                redisReply *m = lg->element[0];
                for (size_t j = 0; j + 1 < m->elements; j += 2) {
                    if (!strcmp(m->element[j]->str, "lag"))
                        CHECK(m->element[j + 1]->integer == after, "%s: XLAG lag %lld, want %lld",
                              k->group, m->element[j + 1]->integer, after);
                    if (!strcmp(m->element[j]->str, "last-delivered"))
                        CHECK(sid_cmp(sid_of(m->element[j + 1]->str), end) <= 0,
                              "%s: last-delivered %s past the log end", k->group,
                              m->element[j + 1]->str);
                }
                freeReplyObject(lg);
            }
            freeReplyObject(cm);
        }
    }
    /* every delivery received was acknowledged (fsync always holds the reply until durable) */
    for (int g = 0; g < 2; g++) {
        struct sid hi = in_flight[g] ? end : max_recv[g];
        CHECK(sid_cmp(last_delivered[g], max_recv[g]) >= 0,
              "%s: last-delivered-id %" PRIu64 "-%" PRIu64 " below the last acknowledged "
              "delivery %" PRIu64 "-%" PRIu64,
              g ? "gb" : "ga", last_delivered[g].ms, last_delivered[g].seq, max_recv[g].ms,
              max_recv[g].seq);
        CHECK(sid_cmp(last_delivered[g], hi) <= 0,
              "%s: last-delivered-id %" PRIu64 "-%" PRIu64 " past %s %" PRIu64 "-%" PRIu64,
              g ? "gb" : "ga", last_delivered[g].ms, last_delivered[g].seq,
              in_flight[g] ? "the log end" : "the last delivery received", hi.ms, hi.seq);
    }
    CHECK(w.n > 0, "no acknowledged XADD to check");
    CHECK(delivered > 0, "no acknowledged delivery to check");
    CHECK(acked > 0, "no acknowledged XACK to check");
    CHECK(commits > 0, "no acknowledged XCOMMIT to check");
    /* the group summary: no PEL entry past the end */
    for (int g = 0; g < 2; g++) {
        redisReply *s = client_cmd(c, "XPENDING " KEY " %s", g ? "gb" : "ga");
        if (s->element[0]->integer > 0)
            CHECK(sid_cmp(sid_of(s->element[2]->str), end) <= 0,
                  "PEL max %s past the end %" PRIu64 "-%" PRIu64, s->element[2]->str, end.ms,
                  end.seq);
        freeReplyObject(s);
    }
    printf("# round: %zu XADDs acknowledged, %zu deliveries, %zu XACKed, %zu XCOMMITs "
           "acknowledged, %zu entries after restart\n",
           w.n, delivered, acked, commits, nids);
    /* the groups keep working */
    redisReply *a = client_cmd(c, "XADD " KEY " * n after");
    assert_int_equal(a->type, REDIS_REPLY_STRING);
    freeReplyObject(a);
    a = client_cmd(c, "XREADGROUP GROUP ga c0 STREAMS " KEY " >");
    CHECK(a->type == REDIS_REPLY_ARRAY, "XREADGROUP after restart failed");
    freeReplyObject(a);
    redisFree(c);
    free(ids);
    assert_int_equal(server_stop(&cur), 0);
    int rc = run_obelisk_check(cur.datadir, 0);
    CHECK(rc == 0, "obelisk-check exited %d", rc);
    free(w.acked);
    for (int i = 0; i < NCONS; i++) {
        free(co[i].d);
        free(co[i].commits);
    }
    server_cleanup(&cur);
    if (failures) printf("# %d failures in round with seed %" PRIu64 "\n", failures, seed);
    assert_int_equal(failures, 0);
}

static int teardown(void **state) {
    (void)state;
    server_cleanup(&cur);
    return 0;
}

static void test_kill_during_group_workload(void **state) {
    (void)state;
    for (int i = 0; i < nrounds; i++) run_round(base_seed + (uint64_t)i);
}

int main(void) {
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
    const char *n = getenv("OBELISK_CRASH_ROUNDS");
    if (n && atoi(n) > 0) nrounds = atoi(n);
    printf("# seed %" PRIu64 " (base; rounds use base, base+1, ...), %d rounds\n", base_seed,
           nrounds);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kill_during_group_workload, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
