/* powercut.c - applies a power-cut record to a data directory (see powercut.h). */
#include "powercut.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ev {
    char t; /* B C N U T O F D Z S X */
    uint64_t key;
    size_t idx; /* position in the record: ties keep record order */
    uint64_t a, b, c;
    long long n1, n2;
    long long t0, t1; /* sync calls: start and end, microseconds (0 when absent) */
    char kind;
    const char *s1, *s2;
};

/* An inode as the model sees it: a new one for every create, so a reused inode number never
 * mixes two files. */
struct obj {
    uint64_t ino;
    char type; /* 'f', 'd', or '?' (seen only as a parent outside the tree) */
    long long dsize;
    int superseded; /* its number now belongs to a newer object */
};

struct ent {
    int parent, obj;
    const char *name;
};

struct entries {
    struct ent *v;
    size_t n, cap;
};

/* A positioned write into durable bytes of a write-ahead log file not yet covered by a sync
 * of that file (or a syncfs): a cut may undo it. */
struct overwrite {
    int obj;
    long long off, len;
};

struct model {
    struct obj *objs;
    size_t nobjs, objcap;
    struct overwrite *ow;
    size_t now, owcap;
    struct entries cur, dur;
    int root;
    struct pc_stats *st;
    int failed;
};

static void problem(struct model *m, const char *fmt, ...) {
    if (m->st->problem[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->st->problem, sizeof m->st->problem, fmt, ap);
    va_end(ap);
}

static int obj_find(struct model *m, uint64_t ino) {
    for (size_t i = m->nobjs; i-- > 0;)
        if (m->objs[i].ino == ino && !m->objs[i].superseded) return (int)i;
    return -1;
}

static int obj_new(struct model *m, uint64_t ino, char type, long long size) {
    int old = obj_find(m, ino);
    if (old >= 0) m->objs[old].superseded = 1;
    if (m->nobjs == m->objcap) {
        m->objcap = m->objcap ? m->objcap * 2 : 256;
        m->objs = realloc(m->objs, m->objcap * sizeof *m->objs);
    }
    m->objs[m->nobjs] = (struct obj){ino, type, size, 0};
    return (int)m->nobjs++;
}

/* The object of a parent directory number (created as '?' when outside what was seen). */
static int obj_dir(struct model *m, uint64_t ino) {
    int o = obj_find(m, ino);
    return o >= 0 ? o : obj_new(m, ino, '?', 0);
}

static void ent_set(struct entries *e, int parent, const char *name, int obj) {
    for (size_t i = 0; i < e->n; i++) {
        if (e->v[i].parent == parent && !strcmp(e->v[i].name, name)) {
            e->v[i].obj = obj;
            return;
        }
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 256;
        e->v = realloc(e->v, e->cap * sizeof *e->v);
    }
    e->v[e->n++] = (struct ent){parent, obj, name};
}

static void ent_del(struct entries *e, int parent, const char *name) {
    for (size_t i = 0; i < e->n; i++) {
        if (e->v[i].parent == parent && !strcmp(e->v[i].name, name)) {
            e->v[i] = e->v[--e->n];
            return;
        }
    }
}

/* A directory fsync: its durable entries become its current ones. */
static void dir_sync(struct model *m, int dir) {
    for (size_t i = 0; i < m->dur.n;)
        if (m->dur.v[i].parent == dir)
            m->dur.v[i] = m->dur.v[--m->dur.n];
        else
            i++;
    for (size_t i = 0; i < m->cur.n; i++)
        if (m->cur.v[i].parent == dir) ent_set(&m->dur, dir, m->cur.v[i].name, m->cur.v[i].obj);
}

static void all_sync(struct model *m) {
    m->dur.n = 0;
    for (size_t i = 0; i < m->cur.n; i++)
        ent_set(&m->dur, m->cur.v[i].parent, m->cur.v[i].name, m->cur.v[i].obj);
}

static int cmp_ev(const void *a, const void *b) {
    const struct ev *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static uint64_t u64(const char *s) {
    return s ? strtoull(s, NULL, 10) : 0;
}

static long long s64(const char *s) {
    return s ? strtoll(s, NULL, 10) : 0;
}

/* Splits the record (in place) into events; the last line counts only if complete. */
static struct ev *parse(char *buf, size_t len, size_t *nev, uint64_t *root_ino) {
    size_t cap = 1024, n = 0;
    struct ev *v = malloc(cap * sizeof *v);
    char *p = buf, *end = buf + len;
    *root_ino = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        *nl = '\0';
        char *tok[8] = {0};
        int nt = 0;
        for (char *save = NULL, *t = strtok_r(p, " ", &save); t && nt < 8;
             t = strtok_r(NULL, " ", &save))
            tok[nt++] = t;
        p = nl + 1;
        if (nt == 0) continue;
        if (!strcmp(tok[0], "ROOT")) {
            *root_ino = u64(tok[1]);
            continue;
        }
        if (strlen(tok[0]) != 1 || nt < 2) continue;
        struct ev e = {.t = tok[0][0], .key = u64(tok[1]), .idx = n};
        switch (e.t) {
        case 'B':
            if (nt < 7) continue;
            e.a = u64(tok[2]), e.b = u64(tok[3]), e.kind = tok[4][0], e.n1 = s64(tok[5]);
            e.s1 = tok[6];
            break;
        case 'C':
            if (nt < 6) continue;
            e.a = u64(tok[2]), e.b = u64(tok[3]), e.kind = tok[4][0], e.s1 = tok[5];
            break;
        case 'N':
            if (nt < 7) continue;
            e.a = u64(tok[2]), e.s1 = tok[3], e.b = u64(tok[4]), e.s2 = tok[5];
            e.c = u64(tok[6]);
            break;
        case 'U':
            if (nt < 5) continue;
            e.a = u64(tok[2]), e.s1 = tok[3], e.b = u64(tok[4]);
            break;
        case 'T':
        case 'Z':
            if (nt < 4) continue;
            e.b = u64(tok[2]), e.n1 = s64(tok[3]);
            break;
        case 'O':
            if (nt < 5) continue;
            e.b = u64(tok[2]), e.n1 = s64(tok[3]), e.n2 = s64(tok[4]);
            break;
        case 'F':
            if (nt < 5) continue;
            e.b = u64(tok[2]), e.n1 = s64(tok[3]), e.s1 = tok[4];
            e.t0 = s64(tok[5]), e.t1 = s64(tok[6]);
            break;
        case 'D':
            e.b = nt > 2 ? u64(tok[2]) : 0;
            e.t0 = s64(tok[3]), e.t1 = s64(tok[4]);
            break;
        case 'S':
            e.s1 = nt > 2 ? tok[2] : "?";
            e.t0 = s64(tok[3]), e.t1 = s64(tok[4]);
            break;
        case 'X': e.s1 = nt > 2 ? tok[2] : "?"; break;
        default: continue;
        }
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
        }
        v[n++] = e;
    }
    *nev = n;
    return v;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = (*s += 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The current name of object o ("?" when it has none). */
static const char *obj_name(const struct model *m, int o) {
    for (size_t i = 0; i < m->cur.n; i++)
        if (m->cur.v[i].obj == o) return m->cur.v[i].name;
    return "?";
}

/* 1 when object o is (now) a file of a directory named "wal": the write-ahead log's. */
static int in_log_dir(const struct model *m, int o) {
    for (size_t i = 0; i < m->cur.n; i++) {
        if (m->cur.v[i].obj != o) continue;
        int parent = m->cur.v[i].parent;
        for (size_t j = 0; j < m->cur.n; j++)
            if (m->cur.v[j].obj == parent) return !strcmp(m->cur.v[j].name, "wal");
    }
    return 0;
}

/* Undoes the unsynced overwrites of object o in the copy outfd (of keep bytes): each becomes
 * zeros (what a preallocated log file held before; the old records of a reused one read the
 * same, as the end of the log), or with torn tails on, sometimes a random prefix of it stays. */
static int undo_overwrites(struct model *m, int o, int outfd, long long keep, uint64_t *rng,
                           int torn) {
    static const char zeros[4096];
    for (size_t k = 0; k < m->now; k++) {
        if (m->ow[k].obj != o || m->ow[k].off >= keep) continue;
        long long from = m->ow[k].off, end = from + m->ow[k].len;
        if (end > keep) end = keep;
        if (torn && rng_next(rng) % 2) from += (long long)(rng_next(rng) % (uint64_t)(end - from));
        for (long long at = from; at < end;) {
            size_t n =
                (size_t)(end - at < (long long)sizeof zeros ? end - at : (long long)sizeof zeros);
            if (pwrite(outfd, zeros, n, (off_t)at) != (ssize_t)n) return -1;
            at += (long long)n;
        }
        m->st->log_writes_undone++;
        m->st->log_bytes_undone += end - from;
    }
    return 0;
}

/* Files an earlier cut in this process left with a torn tail: their durable part ends where
 * the cut kept it, not at their size (the tail is garbage a recovery may cut or rewrite). */
static struct torn_file {
    uint64_t ino;
    long long keep;
} * torn_files;
static size_t ntorn_files, torn_cap;

static void torn_remember(uint64_t ino, long long keep) {
    if (ntorn_files == torn_cap) {
        torn_cap = torn_cap ? torn_cap * 2 : 64;
        torn_files = realloc(torn_files, torn_cap * sizeof *torn_files);
    }
    torn_files[ntorn_files++] = (struct torn_file){ino, keep};
}

static long long torn_kept(uint64_t ino, long long size) {
    for (size_t i = 0; i < ntorn_files; i++)
        if (torn_files[i].ino == ino && torn_files[i].keep < size) return torn_files[i].keep;
    return size;
}

static void replay(struct model *m, struct ev *v, size_t n) {
    struct pc_stats *st = m->st;
    size_t zfrom = 0; /* the Z lines of the syncfs being read */
    for (size_t i = 0; i < n; i++) {
        struct ev *e = &v[i];
        int o;
        st->events++;
        switch (e->t) {
        case 'B': {
            int parent = obj_dir(m, e->a);
            o = obj_find(m, e->b);
            if (o < 0) o = obj_new(m, e->b, e->kind, e->n1);
            m->objs[o].type = e->kind;
            m->objs[o].dsize = torn_kept(e->b, e->n1);
            ent_set(&m->cur, parent, e->s1, o);
            ent_set(&m->dur, parent, e->s1, o);
            break;
        }
        case 'C': {
            int parent = obj_dir(m, e->a);
            o = obj_new(m, e->b, e->kind, 0);
            ent_set(&m->cur, parent, e->s1, o);
            st->creates++;
            break;
        }
        case 'N': {
            int sp = obj_dir(m, e->a), dp = obj_dir(m, e->b);
            o = obj_find(m, e->c);
            ent_del(&m->cur, sp, e->s1);
            if (o >= 0) ent_set(&m->cur, dp, e->s2, o);
            st->renames++;
            break;
        }
        case 'U':
            ent_del(&m->cur, obj_dir(m, e->a), e->s1);
            st->unlinks++;
            break;
        case 'T':
            if ((o = obj_find(m, e->b)) >= 0 && e->n1 < m->objs[o].dsize) m->objs[o].dsize = e->n1;
            break;
        case 'O':
            if ((o = obj_find(m, e->b)) >= 0 && e->n1 < m->objs[o].dsize && in_log_dir(m, o)) {
                /* the write-ahead log writes into its preallocated files by design */
                if (m->now == m->owcap) {
                    m->owcap = m->owcap ? m->owcap * 2 : 256;
                    m->ow = realloc(m->ow, m->owcap * sizeof *m->ow);
                }
                m->ow[m->now++] = (struct overwrite){o, e->n1, e->n2};
            } else if (o >= 0 && e->n1 < m->objs[o].dsize) {
                if (!st->overwrites)
                    problem(m,
                            "a write at offset %lld rewrote durable bytes of inode %llu, %s "
                            "(durable size %lld)",
                            e->n1, (unsigned long long)e->b, obj_name(m, o), m->objs[o].dsize);
                st->overwrites++;
            }
            break;
        case 'F':
            if (!strcmp(e->s1, "fdatasync"))
                st->fdatasyncs++;
            else
                st->fsyncs++;
            if ((o = obj_find(m, e->b)) >= 0) {
                m->objs[o].dsize = e->n1;
                for (size_t k = 0; k < m->now;) /* its overwrites are durable now */
                    if (m->ow[k].obj == o)
                        m->ow[k] = m->ow[--m->now];
                    else
                        k++;
            }
            break;
        case 'D':
            st->dir_fsyncs++;
            if ((o = obj_find(m, e->b)) >= 0) dir_sync(m, o);
            break;
        case 'Z':
            if (i == 0 || v[i - 1].t != 'Z' || v[i - 1].key != e->key) zfrom = i;
            break;
        case 'S':
            st->syncfs_calls++;
            all_sync(m);
            m->now = 0;
            for (size_t j = zfrom; j < i; j++)
                if (v[j].t == 'Z' && v[j].key == e->key && (o = obj_find(m, v[j].b)) >= 0)
                    m->objs[o].dsize = v[j].n1;
            zfrom = i + 1;
            break;
        case 'X':
            if (!st->unsupported) problem(m, "a call the model does not cover: %s", e->s1);
            st->unsupported++;
            break;
        }
    }
}

/* ---- the trees ---- */
struct item {
    char path[PATH_MAX];
    int obj;
};

struct items {
    struct item *v;
    size_t n, cap;
};

static void walk_model(const struct model *m, const struct entries *e, int dir, const char *prefix,
                       struct items *out, int depth) {
    if (depth > 16) return;
    for (size_t i = 0; i < e->n; i++) {
        if (e->v[i].parent != dir) continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 128;
            out->v = realloc(out->v, out->cap * sizeof *out->v);
        }
        struct item *it = &out->v[out->n++];
        snprintf(it->path, sizeof it->path, "%s%s%s", prefix, prefix[0] ? "/" : "", e->v[i].name);
        it->obj = e->v[i].obj;
        if (m->objs[it->obj].type == 'd') {
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s", it->path);
            walk_model(m, e, it->obj, sub, out, depth + 1);
        }
    }
}

static const struct item *find_path(const struct items *v, const char *path) {
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->v[i].path, path)) return &v->v[i];
    return NULL;
}

/* Where each live inode can be read now: the tree after the kill, then the stash. */
struct src {
    uint64_t ino;
    char path[PATH_MAX];
    int stashed;
};

struct srcs {
    struct src *v;
    size_t n, cap;
};

static void src_add(struct srcs *s, uint64_t ino, const char *path, int stashed) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 128;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n].ino = ino;
    snprintf(s->v[s->n].path, sizeof s->v[s->n].path, "%s", path);
    s->v[s->n].stashed = stashed;
    s->n++;
}

static void scan_dir(const char *dir, int stashed, struct srcs *out, int depth) {
    DIR *d = opendir(dir);
    if (!d || depth > 16) {
        if (d) closedir(d);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &st) != 0) continue;
        if (S_ISREG(st.st_mode)) src_add(out, st.st_ino, path, stashed);
        if (S_ISDIR(st.st_mode)) scan_dir(path, stashed, out, depth + 1);
    }
    closedir(d);
}

static const struct src *src_find(const struct srcs *s, uint64_t ino) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].ino == ino) return &s->v[i];
    return NULL;
}

static int copy_range(int in, int out, long long from, long long len, long long zero_from,
                      long long zero_len) {
    char buf[65536];
    long long done = 0;
    while (done < len) {
        size_t want =
            (size_t)(len - done < (long long)sizeof buf ? len - done : (long long)sizeof buf);
        ssize_t r = pread(in, buf, want, (off_t)(from + done));
        if (r <= 0) return -1;
        for (ssize_t k = 0; k < r; k++) {
            long long at = from + done + k;
            if (at >= zero_from && at < zero_from + zero_len) buf[k] = 0;
        }
        if (write(out, buf, (size_t)r) != r) return -1;
        done += r;
    }
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path) {
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap + 1);
    size_t r;
    while ((r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            p = realloc(p, cap + 1);
        }
    }
    fclose(f);
    p[n] = '\0';
    *len = n;
    return p;
}

static int cmp_t0(const void *a, const void *b) {
    const struct ev *x = *(const struct ev *const *)a, *y = *(const struct ev *const *)b;
    return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

/* The longest run of back-to-back sync calls (a round of fdatasyncs is one run). */
static long long max_sync_round(struct ev *v, size_t n) {
    struct ev **s = malloc((n + 1) * sizeof *s);
    size_t k = 0;
    long long best = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].t0 > 0 && v[i].t1 >= v[i].t0) s[k++] = &v[i];
    qsort(s, k, sizeof *s, cmp_t0);
    for (size_t i = 0; i < k;) {
        long long start = s[i]->t0, end = s[i]->t1;
        size_t j = i + 1;
        while (j < k && s[j]->t0 <= end + 5000) {
            if (s[j]->t1 > end) end = s[j]->t1;
            j++;
        }
        if (end - start > best) best = end - start;
        i = j;
    }
    free(s);
    return best;
}

int pc_apply(const char *root, const char *log_path, const char *stash_dir, uint64_t tail_seed,
             struct pc_stats *st) {
    memset(st, 0, sizeof *st);
    struct model m = {.st = st, .root = -1};
    struct items dur = {0}, cur = {0};
    struct srcs srcs = {0};
    struct ev *v = NULL;
    int rc = -1;
    size_t len, nev;
    uint64_t root_ino, rng = tail_seed;
    char *buf = slurp(log_path, &len);
    char newroot[PATH_MAX], oldroot[PATH_MAX];
    if (!buf) {
        problem(&m, "cannot read the record %s: %s", log_path, strerror(errno));
        return -1;
    }
    v = parse(buf, len, &nev, &root_ino);
    if (!root_ino) {
        problem(&m, "the record has no ROOT line (was the shim loaded?)");
        goto out;
    }
    st->max_sync_round_us = max_sync_round(v, nev);
    qsort(v, nev, sizeof *v, cmp_ev);
    m.root = obj_new(&m, root_ino, 'd', 0);
    replay(&m, v, nev);
    ntorn_files = 0; /* the record's start saw the last cut's files; this cut makes new ones */
    m.root = obj_find(&m, root_ino);
    if (m.root < 0) {
        problem(&m, "the data directory's inode was replaced");
        goto out;
    }
    walk_model(&m, &m.dur, m.root, "", &dur, 0);
    walk_model(&m, &m.cur, m.root, "", &cur, 0);
    for (size_t i = 0; i < cur.n; i++) {
        const struct item *d = find_path(&dur, cur.v[i].path);
        int dir = m.objs[cur.v[i].obj].type == 'd';
        if (!d)
            dir ? st->dirs_dropped++ : st->files_dropped++;
        else if (d->obj != cur.v[i].obj)
            st->names_reverted++;
    }
    scan_dir(root, 0, &srcs, 0);
    for (size_t i = 0; i < srcs.n; i++) {
        if (obj_find(&m, srcs.v[i].ino) >= 0) continue;
        /* Not in the record: created by a call whose record line the SIGKILL cut off (the
         * shim writes its line after the call returns), or by a call the shim misses. The cut
         * leaves it out either way (it is not in the durable tree); the caller judges the
         * count, and the scripted model run, which is not killed, proves the shim sees every
         * kind of create. */
        fprintf(stderr, "# powercut: %s is in the tree but not in the record\n", srcs.v[i].path);
        st->unknown++;
    }
    scan_dir(stash_dir, 1, &srcs, 0);
    snprintf(newroot, sizeof newroot, "%s.pc-cut", root);
    snprintf(oldroot, sizeof oldroot, "%s.pc-old", root);
    rm_tree(newroot);
    rm_tree(oldroot);
    if (mkdir(newroot, 0755) != 0) {
        problem(&m, "mkdir %s: %s", newroot, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < dur.n; i++) {
        const struct obj *o = &m.objs[dur.v[i].obj];
        char dst[PATH_MAX + 16];
        if (snprintf(dst, sizeof dst, "%s/%s", newroot, dur.v[i].path) >= (int)sizeof dst) {
            problem(&m, "path too long: %s", dur.v[i].path);
            goto out;
        }
        if (o->type == 'd') {
            st->dirs_kept++;
            if (mkdir(dst, 0755) != 0) {
                problem(&m, "mkdir %s: %s", dst, strerror(errno));
                goto out;
            }
            continue;
        }
        const struct src *s = o->superseded ? NULL : src_find(&srcs, o->ino);
        if (!s) {
            problem(&m, "no content left for %s (inode %llu, durable size %lld)", dur.v[i].path,
                    (unsigned long long)o->ino, o->dsize);
            goto out;
        }
        int in = open(s->path, O_RDONLY | O_CLOEXEC);
        int outfd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        struct stat sst;
        if (in < 0 || outfd < 0 || fstat(in, &sst) != 0) {
            problem(&m, "copy %s: %s", dur.v[i].path, strerror(errno));
            if (in >= 0) close(in);
            if (outfd >= 0) close(outfd);
            goto out;
        }
        long long size = sst.st_size, keep = o->dsize;
        if (keep > size) {
            problem(&m,
                    "%s is %lld bytes, shorter than its durable size %lld (a truncate the "
                    "shim did not see)",
                    dur.v[i].path, size, keep);
            close(in);
            close(outfd);
            goto out;
        }
        int ok = copy_range(in, outfd, 0, keep, 0, 0) == 0 &&
                 undo_overwrites(&m, dur.v[i].obj, outfd, keep, &rng, tail_seed != 0) == 0;
        long long tail = 0;
        if (ok && tail_seed && size > keep && rng_next(&rng) % 2) {
            tail = 1 + (long long)(rng_next(&rng) % (uint64_t)(size - keep));
            long long zf = 0, zl = 0;
            if (rng_next(&rng) % 2) {
                zf = keep + (long long)(rng_next(&rng) % (uint64_t)tail);
                zl = 1 + (long long)(rng_next(&rng) % (uint64_t)(keep + tail - zf));
            }
            ok = copy_range(in, outfd, keep, tail, zf, zl) == 0;
            st->torn_tails++;
            st->torn_bytes += tail;
            struct stat ost;
            if (ok && fstat(outfd, &ost) == 0) torn_remember(ost.st_ino, keep);
        }
        close(in);
        if (close(outfd) != 0) ok = 0;
        if (!ok) {
            problem(&m, "copy %s failed", dur.v[i].path);
            goto out;
        }
        st->files_kept++;
        if (s->stashed) st->restored++;
        if (size > keep) {
            st->files_cut++;
            st->bytes_cut += size - keep - tail;
        }
    }
    if (rename(root, oldroot) != 0 || rename(newroot, root) != 0) {
        problem(&m, "swapping %s: %s", root, strerror(errno));
        goto out;
    }
    rm_tree(oldroot);
    rc = 0;
out:
    if (rc != 0) rm_tree(newroot);
    free(buf);
    free(v);
    free(m.objs);
    free(m.ow);
    free(m.cur.v);
    free(m.dur.v);
    free(dur.v);
    free(cur.v);
    free(srcs.v);
    return rc;
}

void pc_stats_print(const struct pc_stats *st, const char *label) {
    printf("# %s: shim saw %ld fdatasync, %ld fsync, %ld directory fsync, %ld syncfs (longest run "
           "of back-to-back syncs %.1f ms); %ld creates, %ld renames, %ld unlinks\n",
           label, st->fdatasyncs, st->fsyncs, st->dir_fsyncs, st->syncfs_calls,
           st->max_sync_round_us / 1000.0, st->creates, st->renames, st->unlinks);
    printf("# %s: cut kept %ld files + %ld dirs, dropped %ld files + %ld dirs never made "
           "durable, %ld names back on an older inode (%ld from the stash), %ld files cut by "
           "%lld bytes, %ld torn tails (%lld bytes)\n",
           label, st->files_kept, st->dirs_kept, st->files_dropped, st->dirs_dropped,
           st->names_reverted, st->restored, st->files_cut, st->bytes_cut, st->torn_tails,
           st->torn_bytes);
    if (st->log_writes_undone)
        printf("# %s: %ld unsynced writes into write-ahead log files undone (%lld bytes)\n", label,
               st->log_writes_undone, st->log_bytes_undone);
}
