/* test_crash.c - kill -9 crash rounds against a real obelisk-server (design §1.2, §1.4, §6).
 *
 * Each round starts a server in a fresh directory, runs several writer threads (one hiredis
 * connection each) pipelining XADD with unique, reproducible payloads over a few keys, and
 * blocked readers (XREAD BLOCK ... STREAMS keys $, then the last ID seen) recording everything
 * they see. The server is killed with SIGKILL at a random moment (after checking that INFO's
 * process_id is the pid the harness started), restarted in the same directory, and every key
 * is read back with XRANGE and checked:
 *   - IDs strictly increase per key; XLEN, entries-added and last-generated-id agree with them;
 *   - every entry present was sent by a writer, to that key, with exactly that payload, once;
 *   - per writer and key, the entries present are a prefix of what it sent (no holes, no
 *     reordering: the log only loses a tail);
 *   - an entry refused with an error reply is absent; an acknowledged entry that is present has
 *     the acknowledged ID;
 *   - fsync always only: every acknowledged XADD is present, and nothing a reader saw vanished.
 * Then a new XADD per key must get an ID above the recovered last one, the server must stop
 * cleanly and `obelisk-check` (path in $OBELISK_CHECK) must find the directory clean (exit 0).
 *
 * Damage rounds stop the writers first, kill the idle server, then damage the last segment of
 * one topic on purpose (garbage or zeros appended, the last batch truncated mid-way or one of
 * its bytes flipped), check that obelisk-check reports the damage (exit 2), restart, and check
 * that the server logged the cut at the exact byte, kept every entry before the damage and
 * nothing from the damaged batch on. Middle-damage rounds use 64 KiB segments and flip a byte in
 * a batch of a topic's first (sealed) segment: the server must refuse to start or fail reads
 * that cross the damage (an error, never a short well-formed answer); obelisk-check --repair
 * must cut it (exit 1), and what is left must be exactly the entries before the damage.
 *
 * Randomness: every round has a seed (printed as "# seed N"; OBELISK_SEED=N repeats it as the
 * first round). OBELISK_CRASH_ROUNDS=N runs N fsync-always rounds, max(1, N/3) everysec rounds,
 * max(4, N) tail-damage rounds (the seed picks the kind) and max(1, N/3) middle-damage rounds
 * (default N = 3). Odd seeds use 64 KiB segments (rolls), seeds with bit 1 set a 1 MiB cache
 * (cold reads, backpressure). Thread scheduling and the kill moment still vary from
 * run to run; the seed fixes the workload shape, payloads, kill delay and damage. No timing is
 * asserted anywhere. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NKEYS       4
#define NWRITERS    4
#define NREADERS    2
#define MAX_ARGS    9 /* XADD key * + three field/value pairs */
#define LONG_VALUE  4096
#define MAX_PER_W   (1u << 19) /* entries a writer may send in one round (memory bound) */
#define XRANGE_STEP 5000
#define SEG_HDR     48 /* docs/format.md: segment header */
#define BATCH_HDR   64 /* docs/format.md: record batch header */

/* Keys with bytes that must not reach the file system as such. */
static const struct {
    const char *p;
    size_t n;
} keys[NKEYS] = {{"alpha", 5}, {"b/../x", 6}, {"c\0bin", 5}, {"d", 1}};

struct sid {
    uint64_t ms, seq;
};

static int sid_cmp(struct sid a, struct sid b) {
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}

static int sid_parse(const char *s, size_t n, struct sid *out) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *dash = strchr(buf, '-'), *end;
    if (!dash || dash == buf || !dash[1]) return -1;
    *dash = '\0';
    errno = 0;
    out->ms = strtoull(buf, &end, 10);
    if (*end || errno) return -1;
    out->seq = strtoull(dash + 1, &end, 10);
    if (*end || errno) return -1;
    return 0;
}

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r) {
    return mix64(r->s++);
}

/* ---- payloads: entry (writer w, sequence n) of a round is a pure function of the seed ---- */

struct gen {
    int key, argc;
    const char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
    char p[LONG_VALUE + 64], n[24], b[8];
};

static void gen_entry(uint64_t seed, int w, uint32_t seq, struct gen *g) {
    uint64_t h = mix64(seed ^ ((uint64_t)(w + 1) << 40) ^ seq);
    g->key = (int)(h % NKEYS);
    int nf = 1 + (int)((h >> 8) % 3);
    size_t fill = (h >> 16) % 64;
    if (((h >> 24) & 31) == 0) fill = 1000 + (h >> 32) % (LONG_VALUE - 1000);
    int pl = snprintf(g->p, sizeof g->p, "w%d:s%u:", w, seq);
    for (size_t i = 0; i < fill; i++) g->p[pl + i] = (char)('a' + mix64(h + i) % 26);
    int a = 0;
    g->argv[a] = "XADD", g->len[a++] = 4;
    g->argv[a] = keys[g->key].p, g->len[a++] = keys[g->key].n;
    g->argv[a] = "*", g->len[a++] = 1;
    g->argv[a] = "p", g->len[a++] = 1;
    g->argv[a] = g->p, g->len[a++] = (size_t)pl + fill;
    if (nf >= 2) {
        snprintf(g->n, sizeof g->n, "%u", seq);
        g->argv[a] = "n", g->len[a++] = 1;
        g->argv[a] = g->n, g->len[a++] = strlen(g->n);
    }
    if (nf >= 3) { /* binary value: NUL, CR, LF and high bytes are all possible */
        for (int i = 0; i < 8; i++) g->b[i] = (char)(h >> (8 * i));
        g->argv[a] = "bin", g->len[a++] = 3;
        g->argv[a] = g->b, g->len[a++] = 8;
    }
    g->argc = a;
}

/* Checks that an entry's field/value array is exactly what a writer generated, and returns
 * the writer and sequence number (0), or -1 with a message. */
static int entry_identify(uint64_t seed, int key, const redisReply *fv, int *w, uint32_t *seq,
                          char *msg, size_t msglen) {
    if (!fv || fv->type != REDIS_REPLY_ARRAY || fv->elements < 2 || fv->elements % 2) {
        snprintf(msg, msglen, "entry fields are not a field/value array");
        return -1;
    }
    const redisReply *f0 = fv->element[0], *v0 = fv->element[1];
    unsigned ww, ss;
    if (f0->type != REDIS_REPLY_STRING || f0->len != 1 || f0->str[0] != 'p' ||
        v0->type != REDIS_REPLY_STRING || sscanf(v0->str, "w%u:s%u:", &ww, &ss) != 2 ||
        ww >= NWRITERS) {
        snprintf(msg, msglen, "entry not written by any writer (first field %.40s)",
                 f0->type == REDIS_REPLY_STRING ? f0->str : "?");
        return -1;
    }
    struct gen g;
    gen_entry(seed, (int)ww, ss, &g);
    if (g.key != key) {
        snprintf(msg, msglen, "entry w%u:s%u was sent to key %d, found under key %d", ww, ss, g.key,
                 key);
        return -1;
    }
    if ((int)fv->elements != g.argc - 3) {
        snprintf(msg, msglen, "entry w%u:s%u has %zu fields+values, sent %d", ww, ss, fv->elements,
                 g.argc - 3);
        return -1;
    }
    for (size_t i = 0; i < fv->elements; i++) {
        const redisReply *e = fv->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len != g.len[3 + i] ||
            memcmp(e->str, g.argv[3 + i], e->len) != 0) {
            snprintf(msg, msglen, "entry w%u:s%u: element %zu differs from what was sent", ww, ss,
                     i);
            return -1;
        }
    }
    *w = (int)ww;
    *seq = ss;
    return 0;
}

/* ---- writers and readers ---- */

enum { S_SENT = 0, S_ACKED = 1, S_REJECTED = 2 };

struct sent {
    struct sid id; /* the acknowledged ID */
    uint8_t state;
};

struct writer {
    int id, port, burst_max;
    uint64_t seed, rseed;
    atomic_int *stop;
    struct sent *sent;
    uint32_t nsent;
    long acked, rejected;
    char err[200];     /* first error reply (not a failure: counted as a refusal) */
    char anomaly[200]; /* an impossible reply: a failure */
};

static void *writer_main(void *arg) {
    struct writer *wr = arg;
    struct rng r = {wr->rseed};
    struct timeval tv = {30, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", wr->port, tv);
    if (!c || c->err) {
        snprintf(wr->anomaly, sizeof wr->anomaly, "writer %d: cannot connect", wr->id);
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    wr->sent = calloc(MAX_PER_W, sizeof *wr->sent);
    struct gen g;
    while (!atomic_load(wr->stop) && wr->nsent + (uint32_t)wr->burst_max <= MAX_PER_W) {
        uint32_t first = wr->nsent, n = 1 + (uint32_t)(rng_next(&r) % (uint64_t)wr->burst_max);
        for (uint32_t i = 0; i < n; i++) {
            gen_entry(wr->seed, wr->id, first + i, &g);
            redisAppendCommandArgv(c, g.argc, g.argv, g.len);
        }
        wr->nsent = first + n; /* from here on each may have reached the server */
        for (uint32_t i = 0; i < n; i++) {
            redisReply *rep = NULL;
            if (redisGetReply(c, (void **)&rep) != REDIS_OK || !rep) goto done; /* killed */
            struct sent *s = &wr->sent[first + i];
            if (rep->type == REDIS_REPLY_STRING && sid_parse(rep->str, rep->len, &s->id) == 0) {
                s->state = S_ACKED;
                wr->acked++;
            } else if (rep->type == REDIS_REPLY_ERROR) {
                s->state = S_REJECTED;
                if (!wr->rejected++) snprintf(wr->err, sizeof wr->err, "%s", rep->str);
            } else if (!wr->anomaly[0]) {
                snprintf(wr->anomaly, sizeof wr->anomaly, "writer %d: XADD reply of type %d",
                         wr->id, rep->type);
            }
            freeReplyObject(rep);
        }
    }
done:
    redisFree(c);
    return NULL;
}

struct seen {
    struct sid id;
    uint32_t seq;
    uint8_t key, w;
};

struct reader {
    int id, port;
    uint64_t seed;
    atomic_int *stop;
    struct seen *seen;
    size_t n, cap;
    long calls;
    char bad[300]; /* a wrong reply: a failure */
};

static void reader_add(struct reader *rd, struct seen s) {
    if (rd->n == rd->cap) {
        rd->cap = rd->cap ? rd->cap * 2 : 4096;
        rd->seen = realloc(rd->seen, rd->cap * sizeof *rd->seen);
    }
    rd->seen[rd->n++] = s;
}

static int key_index(const redisReply *k) {
    for (int i = 0; i < NKEYS; i++)
        if (k->type == REDIS_REPLY_STRING && k->len == keys[i].n &&
            memcmp(k->str, keys[i].p, k->len) == 0)
            return i;
    return -1;
}

/* XREAD COUNT 1000 BLOCK 500 STREAMS k0..k3 id0..id3, starting at $, until the connection
 * dies (kill) or the stop flag is set and a read times out (everything was read). */
static void *reader_main(void *arg) {
    struct reader *rd = arg;
    struct timeval tv = {30, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", rd->port, tv);
    if (!c || c->err) {
        snprintf(rd->bad, sizeof rd->bad, "reader %d: cannot connect", rd->id);
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    char ids[NKEYS][48];
    struct sid last[NKEYS];
    int have[NKEYS] = {0};
    for (int k = 0; k < NKEYS; k++) strcpy(ids[k], "$");
    for (;;) {
        const char *argv[6 + 2 * NKEYS];
        size_t len[6 + 2 * NKEYS];
        int a = 0;
        argv[a++] = "XREAD", argv[a++] = "COUNT", argv[a++] = "1000";
        argv[a++] = "BLOCK", argv[a++] = "500", argv[a++] = "STREAMS";
        for (int i = 0; i < a; i++) len[i] = strlen(argv[i]);
        for (int k = 0; k < NKEYS; k++) argv[a] = keys[k].p, len[a++] = keys[k].n;
        for (int k = 0; k < NKEYS; k++) argv[a] = ids[k], len[a++] = strlen(ids[k]);
        int stopping = atomic_load(rd->stop);
        redisReply *rep = redisCommandArgv(c, a, argv, len);
        if (!rep) break; /* the server is gone */
        rd->calls++;
        if (rep->type == REDIS_REPLY_NIL) {
            freeReplyObject(rep);
            if (stopping) break;
            continue;
        }
        if (rep->type != REDIS_REPLY_ARRAY) {
            snprintf(rd->bad, sizeof rd->bad, "reader %d: XREAD reply type %d (%s)", rd->id,
                     rep->type, rep->type == REDIS_REPLY_ERROR ? rep->str : "");
            freeReplyObject(rep);
            break;
        }
        for (size_t i = 0; i < rep->elements && !rd->bad[0]; i++) {
            redisReply *ke = rep->element[i];
            int k =
                ke->type == REDIS_REPLY_ARRAY && ke->elements == 2 ? key_index(ke->element[0]) : -1;
            if (k < 0 || ke->element[1]->type != REDIS_REPLY_ARRAY) {
                snprintf(rd->bad, sizeof rd->bad, "reader %d: malformed XREAD key reply", rd->id);
                break;
            }
            redisReply *es = ke->element[1];
            for (size_t j = 0; j < es->elements; j++) {
                redisReply *e = es->element[j];
                struct seen s;
                char msg[200];
                int w;
                if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                    e->element[0]->type != REDIS_REPLY_STRING ||
                    sid_parse(e->element[0]->str, e->element[0]->len, &s.id) != 0) {
                    snprintf(rd->bad, sizeof rd->bad, "reader %d: malformed entry", rd->id);
                    break;
                }
                if (have[k] && sid_cmp(s.id, last[k]) <= 0) {
                    snprintf(rd->bad, sizeof rd->bad,
                             "reader %d: key %d: ID %" PRIu64 "-%" PRIu64
                             " not above the previous %" PRIu64 "-%" PRIu64,
                             rd->id, k, s.id.ms, s.id.seq, last[k].ms, last[k].seq);
                    break;
                }
                if (entry_identify(rd->seed, k, e->element[1], &w, &s.seq, msg, sizeof msg)) {
                    snprintf(rd->bad, sizeof rd->bad, "reader %d: %s", rd->id, msg);
                    break;
                }
                s.key = (uint8_t)k;
                s.w = (uint8_t)w;
                reader_add(rd, s);
                last[k] = s.id;
                have[k] = 1;
                snprintf(ids[k], sizeof ids[k], "%" PRIu64 "-%" PRIu64, s.id.ms, s.id.seq);
            }
        }
        freeReplyObject(rep);
        if (rd->bad[0]) break;
    }
    redisFree(c);
    return NULL;
}

/* ---- server helpers ---- */

static struct test_server cur; /* the round's server, cleaned up by the teardown */

static int teardown(void **state) {
    (void)state;
    server_cleanup(&cur);
    return 0;
}

/* ---- damage (docs/format.md: 48-byte segment header, batches led by a 4-byte length) ---- */

/* D_MIDDLE: a byte flipped in a batch of the first (sealed) segment of a topic with several */
enum { D_NONE, D_GARBAGE, D_ZEROS, D_TRUNCATE, D_FLIP, D_KINDS, D_MIDDLE = D_KINDS };
static const char *const damage_names[] = {"none",
                                           "garbage appended",
                                           "zeros appended",
                                           "last batch truncated",
                                           "byte flipped in last batch",
                                           "byte flipped in the first segment"};

struct damage {
    int kind, key;
    uint64_t cut_at;      /* byte where recovery must cut the segment */
    int cut_batch;        /* entries from cut_first on must be gone */
    struct sid cut_first; /* first ID of the damaged batch */
    char segpath[700];
};

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Finds key k's last segment, walks its batches and damages it as d->kind says. Returns 0, or
 * -1 with a message in msg. */
static int apply_damage(const struct test_server *s, struct damage *d, struct rng *r, char *msg,
                        size_t msglen) {
    char tdir[600], hexkey[2 * 16 + 1];
    for (size_t i = 0; i < keys[d->key].n; i++)
        sprintf(hexkey + 2 * i, "%02x", (unsigned char)keys[d->key].p[i]);
    snprintf(tdir, sizeof tdir, "%s/db0/t_%s", s->datadir, hexkey);
    DIR *dir = opendir(tdir);
    if (!dir) return snprintf(msg, msglen, "no topic directory %.200s", tdir), -1;
    char best[64] = "", first[64] = ""; /* segment names are 24 bytes (checked below) */
    int nsegs = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t n = strlen(de->d_name);
        if (n != 24 || strcmp(de->d_name + 20, ".log") != 0) continue;
        nsegs++;
        if (strcmp(de->d_name, best) > 0) memcpy(best, de->d_name, n + 1);
        if (!first[0] || strcmp(de->d_name, first) < 0) memcpy(first, de->d_name, n + 1);
    }
    closedir(dir);
    if (!best[0]) return snprintf(msg, msglen, "no segment in %.200s", tdir), -1;
    if (d->kind == D_MIDDLE) {
        if (nsegs < 2)
            return snprintf(msg, msglen, "key %d has only %d segment", d->key, nsegs), -1;
        snprintf(best, sizeof best, "%s", first);
    }
    snprintf(d->segpath, sizeof d->segpath, "%s/%s", tdir, best);
    /* The recovery point: damage before it is not rescanned at start-up (docs/format.md). */
    uint64_t cp_pos = 0, cp_seg = 0;
    char cppath[700];
    snprintf(cppath, sizeof cppath, "%s/checkpoint", tdir);
    FILE *cf = fopen(cppath, "rb");
    uint8_t cph[24];
    if (cf && fread(cph, 1, sizeof cph, cf) == sizeof cph)
        cp_seg = le64(cph + 8), cp_pos = le64(cph + 16);
    if (cf) fclose(cf);
    uint64_t segbase = strtoull(best, NULL, 10);

    int fd = open(d->segpath, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return snprintf(msg, msglen, "cannot open segment"), -1;
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (pread(fd, buf, size, 0) != (ssize_t)size) {
        free(buf);
        close(fd);
        return snprintf(msg, msglen, "cannot read segment"), -1;
    }
    /* walk: the file must be whole batches (the server was idle when killed) */
    uint64_t pos = SEG_HDR, last = 0;
    int nb = 0;
    while (pos + 4 <= size) {
        uint64_t blen = 4 + (uint64_t)le32(buf + pos);
        if (blen < BATCH_HDR || pos + blen > size) break;
        last = pos;
        nb++;
        pos += blen;
    }
    if (pos != size) {
        free(buf);
        close(fd);
        return snprintf(msg, msglen, "segment %s is not whole batches before the damage", best), -1;
    }
    int kind = d->kind;
    if ((kind == D_TRUNCATE || kind == D_FLIP) &&
        (nb == 0 || (cp_seg == segbase && cp_pos > last))) {
        printf("# no batch after the recovery point (checkpoint %" PRIu64 "/%" PRIu64
               "): appending garbage instead\n",
               cp_seg, cp_pos);
        kind = d->kind = D_GARBAGE;
    }
    int rc = 0;
    if (kind == D_MIDDLE && nb == 0) {
        rc = -1;
        snprintf(msg, msglen, "first segment %s holds no batch", best);
    } else if (kind == D_MIDDLE) {
        /* a random batch of the sealed first segment */
        uint64_t p = SEG_HDR, at;
        int pick = (int)(rng_next(r) % (uint64_t)nb);
        for (int i = 0; i < pick; i++) p += 4 + (uint64_t)le32(buf + p);
        uint64_t blen = 4 + (uint64_t)le32(buf + p);
        d->cut_at = p;
        d->cut_batch = 1;
        d->cut_first.ms = le64(buf + p + 24);
        d->cut_first.seq = le64(buf + p + 32);
        at = p + rng_next(r) % blen;
        uint8_t b = buf[at] ^ (uint8_t)(1 + rng_next(r) % 255);
        if (pwrite(fd, &b, 1, (off_t)at) != 1) rc = -1;
        printf("# damage: byte %" PRIu64 " of %s flipped (batch %d of %d at %" PRIu64
               ", %d segments)\n",
               at, best, pick, nb, p, nsegs);
    } else if (kind == D_GARBAGE || kind == D_ZEROS) {
        size_t n = 1 + rng_next(r) % 5000;
        uint8_t *junk = malloc(n);
        for (size_t i = 0; i < n; i++) junk[i] = kind == D_ZEROS ? 0 : (uint8_t)rng_next(r);
        if (pwrite(fd, junk, n, (off_t)size) != (ssize_t)n) rc = -1;
        free(junk);
        d->cut_at = size;
        d->cut_batch = 0;
        printf("# damage: %zu bytes of %s after byte %zu of %s\n", n,
               kind == D_ZEROS ? "zeros" : "garbage", size, best);
    } else {
        uint64_t blen = size - last;
        d->cut_at = last;
        d->cut_batch = 1;
        d->cut_first.ms = le64(buf + last + 24);
        d->cut_first.seq = le64(buf + last + 32);
        if (kind == D_TRUNCATE) {
            uint64_t to = last + 1 + rng_next(r) % (blen - 1);
            if (ftruncate(fd, (off_t)to) != 0) rc = -1;
            printf("# damage: %s truncated from %zu to %" PRIu64 " bytes (last batch at %" PRIu64
                   ", %" PRIu32 " entries)\n",
                   best, size, to, last, le32(buf + last + 20));
        } else {
            uint64_t at = last + rng_next(r) % blen;
            uint8_t b = buf[at] ^ (uint8_t)(1 + rng_next(r) % 255);
            if (pwrite(fd, &b, 1, (off_t)at) != 1) rc = -1;
            printf("# damage: byte %" PRIu64 " of %s flipped (last batch at %" PRIu64 ", %" PRIu32
                   " entries)\n",
                   at, best, last, le32(buf + last + 20));
        }
    }
    free(buf);
    close(fd);
    if (rc && !msg[0]) snprintf(msg, msglen, "cannot write the damage");
    return rc;
}

/* Damage inside a sealed segment must never be served nor skipped: the server either refuses
 * to start (design §1.4) or starts and fails the reads that cross it (docs/format.md: damage
 * before the recovery point is found on read): an error reply, or a closed connection without
 * a reply, never a well-formed answer that silently stops at the damage. Then obelisk-check
 * --repair cuts it (exit 1), the directory checks clean, and the caller restarts and verifies
 * the prefix that is left. A wrong answer is written to lie (reported at the end of the round,
 * so the repair path is checked too). */
static void check_middle_damage(const char *const *extra, const struct damage *d, char *lie,
                                size_t lielen) {
    if (server_start_argv(&cur, extra, 1) != 0) {
        printf("# the server refused to start over the damage\n");
        assert_true(server_log_contains(&cur, "refusing to open"));
    } else {
        assert_server_pid(&cur);
        /* XRANGE - + in steps of XRANGE_STEP */
        redisContext *c = client_connect(&cur);
        assert_non_null(c);
        char start[48] = "-";
        long served = 0;
        for (;;) {
            const char *argv[] = {"XRANGE", keys[d->key].p, start, "+", "COUNT", "5000"};
            size_t len[] = {6, keys[d->key].n, strlen(start), 1, 5, 4};
            redisReply *rep = redisCommandArgv(c, 6, argv, len);
            if (!rep || rep->type == REDIS_REPLY_ERROR) {
                printf("# XRANGE through the damage: %s\n", rep ? rep->str : "connection closed");
                if (rep) freeReplyObject(rep);
                break;
            }
            assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
            size_t n = rep->elements;
            struct sid id = {0, 0};
            for (size_t j = 0; j < n; j++) {
                redisReply *e = rep->element[j];
                assert_int_equal(sid_parse(e->element[0]->str, e->element[0]->len, &id), 0);
                if (sid_cmp(id, d->cut_first) >= 0 && !lie[0])
                    snprintf(lie, lielen,
                             "XRANGE served %" PRIu64 "-%" PRIu64
                             " at or after the damaged batch (first ID %" PRIu64 "-%" PRIu64 ")",
                             id.ms, id.seq, d->cut_first.ms, d->cut_first.seq);
                served++;
            }
            freeReplyObject(rep);
            if (n < XRANGE_STEP) {
                if (!lie[0])
                    snprintf(lie, lielen,
                             "XRANGE - + over damage in a sealed segment (damaged batch starts at "
                             "ID %" PRIu64 "-%" PRIu64 ") answered a well-formed array of %ld "
                             "entries that stops at the damage, with no error",
                             d->cut_first.ms, d->cut_first.seq, served);
                break;
            }
            snprintf(start, sizeof start, "(%" PRIu64 "-%" PRIu64, id.ms, id.seq);
        }
        redisFree(c);
        /* XREAD COUNT <all> STREAMS key 0-0: one reply that crosses the damage */
        c = client_connect(&cur);
        assert_non_null(c);
        const char *argv[] = {"XREAD", "COUNT", "10000000", "STREAMS", keys[d->key].p, "0-0"};
        size_t len[] = {5, 5, 8, 7, keys[d->key].n, 3};
        redisReply *rep = redisCommandArgv(c, 6, argv, len);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            printf("# XREAD through the damage: %s\n", rep ? rep->str : "connection closed");
        } else {
            size_t n = 0;
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
                rep->element[0]->elements == 2)
                n = rep->element[0]->element[1]->elements;
            size_t used = strlen(lie);
            snprintf(lie + used, lielen - used,
                     "%sXREAD COUNT 10000000 STREAMS key 0-0 over the same damage answered "
                     "%zu entries (reply type %d) with no error",
                     used ? "; " : "", n, rep->type);
        }
        if (rep) freeReplyObject(rep);
        redisFree(c);
        assert_int_equal(server_stop(&cur), 0);
    }
    int crc = run_obelisk_check(cur.datadir, 1);
    printf("# obelisk-check --repair: exit %d\n", crc);
    assert_int_equal(crc, 1);
    assert_int_equal(run_obelisk_check(cur.datadir, 0), 0);
}

/* ---- one round ---- */

struct round {
    const char *fsync;
    int kill_while_writing; /* 0: stop writers, kill the idle server */
    int damage;             /* D_* */
    uint64_t seed;
    /* damage rounds: 0 = the write-ahead log is checkpointed before the kill, so the damage
     * hits bytes only the segment holds (the segment rules apply); 1 = the log still holds the
     * damaged batch, and the replay at start writes it again (nothing is cut or lost) */
    int log_holds_damage;
};

/* Waits (up to 10 s) until INFO persistence shows wal_pending_bytes:0: a checkpoint synced
 * the segments and left nothing in the write-ahead log to replay. */
static void wait_log_checkpointed(void) {
    for (int i = 0; i < 200; i++) {
        redisContext *c = client_connect(&cur);
        redisReply *ir = c ? client_cmd(c, "INFO persistence") : NULL;
        int done =
            ir && ir->type == REDIS_REPLY_STRING && strstr(ir->str, "wal_pending_bytes:0\r\n");
        if (ir) freeReplyObject(ir);
        if (c) redisFree(c);
        if (done) return;
        sleep_ms(50);
    }
    fail_msg("the write-ahead log was not checkpointed within 10 s");
}

/* Per writer: where each sent entry was found after the restart. */
struct found {
    struct sid id;
    uint8_t present;
};

static void run_round(const struct round *rd) {
    struct rng r = {rd->seed};
    int always = strcmp(rd->fsync, "always") == 0;
    int small_segments = rd->damage == D_MIDDLE || (rd->damage == D_NONE && (rd->seed & 1));
    int small_cache = (rd->seed & 2) != 0;
    const char *extra[12];
    int ne = 0;
    extra[ne++] = "--fsync", extra[ne++] = rd->fsync;
    if (small_segments) extra[ne++] = "--segment-bytes", extra[ne++] = "64kb";
    if (small_cache) extra[ne++] = "--cache-max-bytes", extra[ne++] = "1mb";
    int checkpoint_first = rd->damage && !rd->log_holds_damage;
    if (checkpoint_first) extra[ne++] = "--wal-checkpoint-seconds", extra[ne++] = "1";
    /* the damage must hit the batch in its segment, not bytes still waiting in memory */
    if (rd->log_holds_damage) extra[ne++] = "--wal-defer-bytes", extra[ne++] = "0";
    extra[ne] = NULL;
    printf("# seed %" PRIu64 "\n", rd->seed);
    printf("# round: fsync %s, %s%s%s%s%s\n", rd->fsync,
           rd->kill_while_writing ? "kill while writing" : "kill when idle",
           rd->damage ? ", damage: " : "", rd->damage ? damage_names[rd->damage] : "",
           small_segments ? ", 64kb segments" : "",
           !rd->damage        ? ""
           : checkpoint_first ? ", log checkpointed before the kill"
                              : ", the log still holds the damaged batch");
    if (small_cache) printf("# 1mb cache\n");
    fflush(stdout);

    assert_int_equal(server_start_argv(&cur, extra, 0), 0);
    assert_server_pid(&cur);

    atomic_int stop = 0;
    struct writer wr[NWRITERS];
    struct reader re[NREADERS];
    pthread_t wt[NWRITERS], rt[NREADERS];
    int nreaders = rd->damage ? 0 : NREADERS;
    memset(wr, 0, sizeof wr);
    memset(re, 0, sizeof re);
    for (int i = 0; i < nreaders; i++) {
        re[i] = (struct reader){.id = i, .port = cur.port, .seed = rd->seed, .stop = &stop};
        assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &re[i]), 0);
    }
    for (int i = 0; i < NWRITERS; i++) {
        wr[i].id = i, wr[i].port = cur.port, wr[i].seed = rd->seed, wr[i].stop = &stop;
        wr[i].rseed = rng_next(&r);
        wr[i].burst_max = 1 + (int)(rng_next(&r) % 64);
        assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &wr[i]), 0);
    }
    long delay = rd->kill_while_writing ? 200 + (long)(rng_next(&r) % 1300)
                                        : 200 + (long)(rng_next(&r) % 400);
    /* Damage in the middle needs several segments per key: write long enough even on slow
     * (sanitizer) builds. */
    if (rd->damage == D_MIDDLE) delay += 2000;
    sleep_ms(delay);
    if (!rd->kill_while_writing) {
        atomic_store(&stop, 1);
        for (int i = 0; i < NWRITERS; i++) pthread_join(wt[i], NULL);
        for (int i = 0; i < nreaders; i++) pthread_join(rt[i], NULL);
        if (checkpoint_first) wait_log_checkpointed();
    }
    /* no assertion may fail while the threads run: check the pid before the kill, assert
     * after the joins */
    long info_pid = -1;
    {
        redisContext *c = client_connect(&cur);
        redisReply *ir = c ? client_cmd(c, "INFO server") : NULL;
        const char *p =
            ir && ir->type == REDIS_REPLY_STRING ? strstr(ir->str, "process_id:") : NULL;
        if (p) info_pid = atol(p + strlen("process_id:"));
        if (ir) freeReplyObject(ir);
        if (c) redisFree(c);
    }
    pid_t killed = cur.pid;
    if (info_pid == (long)cur.pid) server_kill(&cur);
    atomic_store(&stop, 1);
    if (rd->kill_while_writing) {
        if (info_pid != (long)cur.pid) server_kill(&cur); /* threads must end; assert below */
        for (int i = 0; i < NWRITERS; i++) pthread_join(wt[i], NULL);
        for (int i = 0; i < nreaders; i++) pthread_join(rt[i], NULL);
    }
    assert_int_equal(info_pid, (long)killed);
    assert_int_equal(cur.pid, 0);

    long sent = 0, acked = 0, rejected = 0, seen = 0;
    for (int i = 0; i < NWRITERS; i++) {
        if (wr[i].anomaly[0]) fail_msg("%s", wr[i].anomaly);
        sent += wr[i].nsent, acked += wr[i].acked, rejected += wr[i].rejected;
        if (wr[i].rejected)
            printf("# writer %d: %ld refused, first: %s\n", i, wr[i].rejected, wr[i].err);
    }
    for (int i = 0; i < nreaders; i++) {
        if (re[i].bad[0]) fail_msg("%s", re[i].bad);
        seen += (long)re[i].n;
    }
    printf("# killed after %ld ms: %ld sent, %ld acknowledged, %ld refused, %ld seen by readers\n",
           delay, sent, acked, rejected, seen);
    assert_true(acked > 0); /* the round must have exercised something */

    struct damage dmg = {.kind = rd->damage, .key = (int)(rng_next(&r) % NKEYS)};
    int crc = run_obelisk_check(cur.datadir, 0);
    if (rd->damage) {
        /* an idle kill leaves whole batches: clean before the damage, damaged after it */
        assert_int_equal(crc, 0);
        char msg[300] = "";
        if (apply_damage(&cur, &dmg, &r, msg, sizeof msg) != 0) fail_msg("%s", msg);
        /* the replay writes the batch again: every acknowledged entry of it must be back */
        if (rd->log_holds_damage) dmg.cut_batch = 0;
        crc = run_obelisk_check(cur.datadir, 0);
        printf("# obelisk-check after the damage: exit %d\n", crc);
        /* a bad last batch after a crash is a tail the start cuts (4); a sealed segment's
         * damage needs --repair (2) */
        assert_int_equal(crc, rd->damage == D_MIDDLE ? 2 : 4);
    } else {
        /* 0, or 4 when the kill tore a write in the middle (a torn tail is cut at start-up) */
        printf("# obelisk-check after the kill: exit %d\n", crc);
        assert_true(crc == 0 || crc == 4);
    }

    char lie[800] = "";
    if (rd->damage == D_MIDDLE) check_middle_damage(extra, &dmg, lie, sizeof lie);

    /* restart in the same directory */
    assert_int_equal(server_start_argv(&cur, extra, 1), 0);
    assert_server_pid(&cur);
    if (rd->damage != D_MIDDLE)
        assert_true(server_log_contains(&cur, "recovered after an unclean stop"));
    if (rd->damage && rd->log_holds_damage) {
        /* the replay wrote the damaged batch again: nothing to cut */
        assert_true(server_log_contains(&cur, "write-ahead log replayed"));
        assert_false(server_log_contains(&cur, "torn or bad tail"));
    } else if (rd->damage && rd->damage != D_MIDDLE) {
        char line[128];
        snprintf(line, sizeof line, "torn or bad tail at byte %" PRIu64 ",", dmg.cut_at);
        if (!server_log_contains(&cur, line)) fail_msg("server log lacks \"%s\"", line);
    }

    /* read every key back */
    struct found *fnd[NWRITERS];
    for (int i = 0; i < NWRITERS; i++) fnd[i] = calloc(wr[i].nsent + 1, sizeof *fnd[i]);
    redisContext *c = client_connect(&cur);
    assert_non_null(c);
    struct sid lastid[NKEYS];
    long present = 0, count[NKEYS] = {0};
    for (int k = 0; k < NKEYS; k++) {
        char start[48] = "-";
        int have = 0;
        for (;;) {
            const char *argv[] = {"XRANGE", keys[k].p, start, "+", "COUNT", "5000"};
            size_t len[] = {6, keys[k].n, strlen(start), 1, 5, 4};
            redisReply *rep = redisCommandArgv(c, 6, argv, len);
            assert_non_null(rep);
            if (rep->type == REDIS_REPLY_ERROR) fail_msg("XRANGE key %d: %s", k, rep->str);
            assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
            size_t ne2 = rep->elements;
            for (size_t j = 0; j < ne2; j++) {
                redisReply *e = rep->element[j];
                struct sid id;
                assert_int_equal(e->type, REDIS_REPLY_ARRAY);
                assert_int_equal(e->elements, 2);
                assert_int_equal(sid_parse(e->element[0]->str, e->element[0]->len, &id), 0);
                if (have && sid_cmp(id, lastid[k]) <= 0)
                    fail_msg("key %d: ID %" PRIu64 "-%" PRIu64 " after %" PRIu64 "-%" PRIu64, k,
                             id.ms, id.seq, lastid[k].ms, lastid[k].seq);
                lastid[k] = id;
                have = 1;
                int w;
                uint32_t seq;
                char msg[200];
                if (entry_identify(rd->seed, k, e->element[1], &w, &seq, msg, sizeof msg))
                    fail_msg("key %d, ID %" PRIu64 "-%" PRIu64 ": %s", k, id.ms, id.seq, msg);
                if (seq >= wr[w].nsent)
                    fail_msg("entry w%d:s%u present but never sent (writer sent %u)", w, seq,
                             wr[w].nsent);
                if (fnd[w][seq].present) fail_msg("entry w%d:s%u present twice", w, seq);
                fnd[w][seq].present = 1;
                fnd[w][seq].id = id;
                if (dmg.cut_batch && k == dmg.key && sid_cmp(id, dmg.cut_first) >= 0)
                    fail_msg("key %d: entry %" PRIu64 "-%" PRIu64
                             " from the damaged batch survived",
                             k, id.ms, id.seq);
                count[k]++;
                present++;
            }
            freeReplyObject(rep);
            if (ne2 < XRANGE_STEP) break;
            snprintf(start, sizeof start, "(%" PRIu64 "-%" PRIu64, lastid[k].ms, lastid[k].seq);
        }
        /* XLEN, entries-added and last-generated-id agree with what is there */
        redisReply *rep = redisCommand(c, "XLEN %b", keys[k].p, keys[k].n);
        assert_non_null(rep);
        assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
        assert_int_equal(rep->integer, count[k]);
        freeReplyObject(rep);
        if (count[k] > 0) {
            rep = redisCommand(c, "XINFO STREAM %b", keys[k].p, keys[k].n);
            assert_non_null(rep);
            assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
            for (size_t j = 0; j + 1 < rep->elements; j += 2) {
                const char *f = rep->element[j]->str;
                redisReply *v = rep->element[j + 1];
                if (strcmp(f, "entries-added") == 0) assert_int_equal(v->integer, count[k]);
                if (strcmp(f, "last-generated-id") == 0) {
                    struct sid lg;
                    assert_int_equal(sid_parse(v->str, v->len, &lg), 0);
                    if (sid_cmp(lg, lastid[k]) != 0)
                        fail_msg("key %d: last-generated-id %s, last entry %" PRIu64 "-%" PRIu64, k,
                                 v->str, lastid[k].ms, lastid[k].seq);
                }
            }
            freeReplyObject(rep);
        }
        /* a new entry gets an ID above everything recovered */
        rep = redisCommand(c, "XADD %b * after restart", keys[k].p, keys[k].n);
        assert_non_null(rep);
        if (rep->type != REDIS_REPLY_STRING) fail_msg("XADD after restart: %s", rep->str);
        struct sid nid;
        assert_int_equal(sid_parse(rep->str, rep->len, &nid), 0);
        if (count[k] > 0 && sid_cmp(nid, lastid[k]) <= 0)
            fail_msg("key %d: new ID %s not above the recovered %" PRIu64 "-%" PRIu64, k, rep->str,
                     lastid[k].ms, lastid[k].seq);
        freeReplyObject(rep);
    }
    redisFree(c);

    /* what was sent against what is there */
    long lost_acked = 0, lost = 0;
    for (int w = 0; w < NWRITERS; w++) {
        int gap[NKEYS] = {0}; /* per key: an entry of this writer is missing */
        for (uint32_t n = 0; n < wr[w].nsent; n++) {
            struct sent *s = &wr[w].sent[n];
            struct found *f = &fnd[w][n];
            struct gen g;
            gen_entry(rd->seed, w, n, &g);
            if (s->state == S_REJECTED) {
                if (f->present) fail_msg("entry w%d:s%u was refused but is present", w, n);
                continue;
            }
            int in_cut = dmg.cut_batch && g.key == dmg.key && s->state == S_ACKED &&
                         sid_cmp(s->id, dmg.cut_first) >= 0;
            if (f->present) {
                if (gap[g.key])
                    fail_msg("key %d: entry w%d:s%u present after a missing earlier entry of the "
                             "same writer (hole or reordering)",
                             g.key, w, n);
                if (s->state == S_ACKED && sid_cmp(s->id, f->id) != 0)
                    fail_msg("entry w%d:s%u acknowledged as %" PRIu64 "-%" PRIu64
                             " but found as %" PRIu64 "-%" PRIu64,
                             w, n, s->id.ms, s->id.seq, f->id.ms, f->id.seq);
            } else {
                gap[g.key] = 1;
                if (s->state == S_ACKED) {
                    if (in_cut) {
                        lost++;
                        continue;
                    }
                    lost_acked++;
                    if (always || rd->damage)
                        fail_msg("acknowledged entry w%d:s%u (key %d, ID %" PRIu64 "-%" PRIu64
                                 ") is missing after the restart",
                                 w, n, g.key, s->id.ms, s->id.seq);
                }
            }
        }
    }
    /* nothing a reader saw has vanished (always: readers only see durable entries) */
    long seen_lost = 0;
    for (int i = 0; i < nreaders; i++)
        for (size_t j = 0; j < re[i].n; j++) {
            struct seen *s = &re[i].seen[j];
            if (s->seq >= wr[s->w].nsent) fail_msg("reader saw w%d:s%u, never sent", s->w, s->seq);
            struct found *f = &fnd[s->w][s->seq];
            if (f->present && sid_cmp(f->id, s->id) != 0)
                fail_msg("reader saw w%d:s%u as %" PRIu64 "-%" PRIu64 ", now %" PRIu64 "-%" PRIu64,
                         s->w, s->seq, s->id.ms, s->id.seq, f->id.ms, f->id.seq);
            if (!f->present) {
                seen_lost++;
                if (always)
                    fail_msg("reader %d saw w%d:s%u (ID %" PRIu64 "-%" PRIu64
                             ") but it vanished after the restart",
                             i, s->w, s->seq, s->id.ms, s->id.seq);
            }
        }
    printf("# after restart: %ld entries present, %ld acknowledged lost (allowed: %s), "
           "%ld cut with the damaged batch, %ld seen by readers lost\n",
           present, lost_acked, always || rd->damage ? "no" : "yes", lost, seen_lost);

    /* clean stop, then the directory must check clean */
    assert_int_equal(server_stop(&cur), 0);
    crc = run_obelisk_check(cur.datadir, 0);
    if (crc != 0) fail_msg("obelisk-check after the clean stop: exit %d", crc);
    for (int i = 0; i < NWRITERS; i++) free(wr[i].sent), free(fnd[i]);
    for (int i = 0; i < nreaders; i++) free(re[i].seen);
    server_cleanup(&cur);
    fflush(stdout);
    if (lie[0]) fail_msg("%s", lie);
}

/* ---- rounds ---- */

static uint64_t base_seed;
static int nrounds = 3;

static void test_kill_fsync_always(void **state) {
    (void)state;
    for (int i = 0; i < nrounds; i++) {
        struct round rd = {"always", 1, D_NONE, base_seed + (uint64_t)i};
        run_round(&rd);
    }
}

static void test_kill_fsync_everysec(void **state) {
    (void)state;
    int n = nrounds / 3 > 0 ? nrounds / 3 : 1;
    for (int i = 0; i < n; i++) {
        struct round rd = {"everysec", 1, D_NONE, base_seed + (uint64_t)i};
        run_round(&rd);
    }
}

static void test_damaged_tail(void **state) {
    (void)state;
    int n = nrounds > 4 ? nrounds : 4;
    for (int i = 0; i < n; i++) {
        uint64_t seed = base_seed + (uint64_t)i;
        struct round rd = {"always", 0, 1 + (int)(seed % (D_KINDS - 1)), seed};
        run_round(&rd);
    }
}

/* A truncated or flipped last batch while the write-ahead log still holds it: the replay
 * writes the batch again (bytes appended after the last batch are no batch of the log, and are
 * cut as before). */
static void test_damage_rewritten_by_log(void **state) {
    (void)state;
    static const int kinds[] = {D_TRUNCATE, D_FLIP};
    for (int i = 0; i < 2; i++) {
        struct round rd = {"always", 0, kinds[i], base_seed + 7 + (uint64_t)i, 1};
        run_round(&rd);
    }
}

static void test_damaged_middle(void **state) {
    (void)state;
    int n = nrounds / 3 > 0 ? nrounds / 3 : 1;
    for (int i = 0; i < n; i++) {
        struct round rd = {"always", 0, D_MIDDLE, base_seed + (uint64_t)i};
        run_round(&rd);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep our lines in order with cmocka's */
    const char *s = getenv("OBELISK_SEED");
    if (s && *s) {
        base_seed = strtoull(s, NULL, 10);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        base_seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
        base_seed %= 1000000000u;
    }
    const char *n = getenv("OBELISK_CRASH_ROUNDS");
    if (n && atoi(n) > 0) nrounds = atoi(n);
    printf("# seed %" PRIu64 " (base; rounds use base, base+1, ...), %d rounds\n", base_seed,
           nrounds);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kill_fsync_always, teardown),
        cmocka_unit_test_teardown(test_kill_fsync_everysec, teardown),
        cmocka_unit_test_teardown(test_damaged_tail, teardown),
        cmocka_unit_test_teardown(test_damaged_middle, teardown),
        cmocka_unit_test_teardown(test_damage_rewritten_by_log, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
