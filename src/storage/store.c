/* store.c - the data directory, the keyspace of each database, group commit and retention
 * (see store.h).
 *
 * Directory operations (mkdir of a new topic, rename for RENAME, rename to a ".trash-N" name
 * for DEL) run at once on the calling thread, so the keyspace and the file names always agree;
 * their durability (directory fsync, topic.meta, removing the trash) travels in the next
 * submission, so a reply that waits for it is sent only once it is on disk. The persist thread
 * writes through descriptors of directories, which stay valid across those renames.
 *
 * Group commit: every mutation marks its topic dirty; store_flush moves every dirty topic's
 * batches (and the queued directory work) into one submission, so all changes made while the
 * previous submission was being written share the next one and its fsyncs.
 *
 * Descriptors: the store spends its share (store_config.max_open_files, fdbudget.h) on the
 * data and database directories, one directory descriptor per topic, the persist thread's
 * write LRU and the main thread's read LRU (env.rfds, whose cap is what the topics leave). A
 * topic that would not fit is refused with OBK_ERR_NOFILES before anything changes; a topic
 * directory closed through the persist thread counts until that thread has closed it.
 *
 * Threads: store_open runs on the thread that calls it (the server's loader thread): it opens
 * every topic, recovering logs and group files synchronously, and starts the persist thread
 * last. The server joins the loader before its main thread makes any other call; from then on
 * the main thread is the only caller and owns every topic, ring, segment and keyspace, while
 * the persist thread works behind it on the submissions store_flush hands over. */
#include "storage/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/status.h"
#include "base/util.h"
#include "storage/cgstore.h"
#include "storage/fdbudget.h"
#include "storage/fsutil.h"
#include "storage/keyspace.h"
#include "storage/recovery.h"
#include "storage/topic.h"
#include "storage/wal.h"
#include "storage/walreplay.h"
#include "topic_impl.h"

/* Redis's default of 16 databases is the usual case; more are allowed up to this. */
#define STORE_MAX_DBS 1024
/* topic.meta holds a key: keys are bounded by the request size limit (512 MB in Redis). */
#define META_MAX_SIZE (600u << 20)

struct store {
    struct store_config cfg;
    int dirfd;
    int *dbfd;
    struct keyspace *ks;
    struct topic_env env;
    struct persist *p;
    uint64_t trash_seq;
    uint64_t durable_seq;
    uint64_t recovery_us;
    int recovery_clean;
    struct fdbudget fdb;
    uint64_t dir_closes;      /* topic directories handed to the persist thread to close */
    uint64_t nofile_refusals; /* topics refused for want of a descriptor */
    int settled;              /* store_settle ran: reads show what settled_seq left */
    uint64_t settled_seq;     /* the durable submission they were rolled back to */
    struct topic *dropped;    /* created after it: out of the keyspace, freed at close */
    int inline_ok;            /* store_allow_inline: the next flush may run its round here */
    int flushed_inline;       /* the last flush did */
};

void store_config_defaults(struct store_config *c) {
    memset(c, 0, sizeof *c);
    c->dir = ".";
    c->ndbs = 16;
    c->fsync = PERSIST_FSYNC_EVERYSEC;
    c->cache_max_bytes = 256u << 20;
    c->segment_bytes = 1u << 30;
    c->segment_ms = 7LL * 24 * 3600 * 1000;
    c->index_interval = 4096;
    c->retention_bytes = -1;
    c->retention_ms = -1;
    c->node_max_entries = 100;
    c->syncfs_min_files = 2;
    c->batch_max_bytes = 1u << 20;
    c->compression_level = 3;
    c->flush_max_bytes = 8u << 20;
    c->wal = 1;
    c->wal_file_bytes = 64u << 20;
    c->wal_checkpoint_bytes = 128u << 20;
    c->wal_checkpoint_ms = 30000;
    c->wal_direct_bytes = 64u << 10;
    c->wal_defer_bytes = 32u << 20;
}

/* How many logged segment bytes may wait in memory: wal-defer-bytes, at most a quarter of the
 * cache (the cache keeps every entry not in its file, and holds an entry in more bytes than
 * its batch does). */
static uint64_t defer_cap(const struct store_config *c) {
    uint64_t quarter = (uint64_t)c->cache_max_bytes / 4;
    return c->wal_defer_bytes < quarter ? c->wal_defer_bytes : quarter;
}

/* ---- descriptor budget ---- */

static int out_of_fds(int err) {
    return err == EMFILE || err == ENFILE;
}

static uint64_t topic_count(const struct store *s) {
    uint64_t n = 0;
    for (int db = 0; db < s->cfg.ndbs; db++) n += s->ks[db].count;
    return n;
}

/* Topic directory descriptors held: the topics', and those of deleted topics the persist
 * thread has not closed yet. */
static uint64_t held_dirs(struct store *s) {
    uint64_t closed = s->p ? persist_dirs_closed(s->p) : 0;
    return topic_count(s) + (s->dir_closes > closed ? s->dir_closes - closed : 0);
}

/* The read LRU gets what the topics leave; descriptors over it are closed now. */
static void fds_refresh(struct store *s) {
    size_t cap = fdbudget_read_cap(&s->fdb, held_dirs(s));
    fdlru_set_cap(&s->env.rfds, cap);
    if (cap) tlog_read_fds_shrink(&s->env.rfds, cap);
}

/* openat of a directory; out of descriptors, the idle read descriptors are closed and it is
 * tried once more (OBK_ERR_NOFILES when that fails too). */
static int open_dir(struct store *s, int dirfd, const char *name, int *fd) {
    for (int attempt = 0;; attempt++) {
        *fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*fd >= 0) return OBK_OK;
        if (!out_of_fds(errno)) return OBK_ERR_IO;
        if (attempt > 0 || s->env.rfds.n == 0) return OBK_ERR_NOFILES;
        tlog_read_fds_shrink(&s->env.rfds, 0);
    }
}

/* Removes dirfd/name and its files (one level) synchronously (open time only). */
static void rmtree_now(int dirfd, const char *name) {
    int dfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd >= 0) {
        DIR *d = fdopendir(dfd);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL)
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                    unlinkat(dfd, de->d_name, 0);
            closedir(d);
        } else {
            close(dfd);
        }
    }
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int has_segments(int tdfd) {
    int dfd = dup(tdfd), found = 0;
    if (dfd < 0) return 1;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 1;
    }
    struct dirent *de;
    uint64_t base;
    while (!found && (de = readdir(d)) != NULL)
        found = segment_parse_name(de->d_name, "log", &base);
    closedir(d);
    return found;
}

static int unhex(const char *s, uint8_t **out, size_t *len) {
    size_t n = strlen(s);
    if (n % 2) return OBK_ERR_CORRUPT;
    uint8_t *b = malloc(n / 2 + 1);
    if (!b) return OBK_ERR_NOMEM;
    for (size_t i = 0; i < n / 2; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) {
                free(b);
                return OBK_ERR_CORRUPT;
            }
            v = v * 16 + d;
        }
        b[i] = (uint8_t)v;
    }
    *out = b;
    *len = n / 2;
    return OBK_OK;
}

/* Formats into buf, cutting a text longer than size (through vsnprintf, which the compiler's
 * truncation check leaves alone: here a cut is expected, not a mistake). */
static void format_cut(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void format_cut(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* rep->damage = "db<N>/<name>: <what>", cut to the report's size when longer. */
static void set_damage(struct store_open_report *rep, int db, const char *name, const char *what) {
    format_cut(rep->damage, sizeof rep->damage, "db%d/%s: %s", db, name, what);
}

/* After an I/O error opening dirfd/name (a database or topic directory, the format marker): a
 * symbolic link there is named as the cause, since nothing in a data directory is opened
 * through one (O_NOFOLLOW). prefix is what rep->damage puts before name ("db<N>/" or ""). */
static void name_link(struct store_open_report *rep, int dirfd, const char *prefix,
                      const char *name) {
    char link[600];
    if (!fsutil_find_link(dirfd, name, link, sizeof link)) return;
    format_cut(rep->damage, sizeof rep->damage,
               "%s%s is a symbolic link: nothing inside a data directory is opened through a "
               "link (put the real directory or file there, or link the data directory itself)",
               prefix, link);
}

/* What a topic directory's topic.meta says (read_meta). */
enum meta_result {
    META_MATCHES,  /* it holds the key the directory name stands for */
    META_REBUILT,  /* missing, corrupt or for another key, and the name holds the key: rebuilt */
    META_NO_TOPIC, /* no valid topic.meta and no data: nothing was ever acknowledged */
};

/* Reads the topic.meta of directory name (open as tdfd) into *m (m->key malloc'd). A name that
 * holds the key ("t_" + hex) stands in for a missing, corrupt or mismatched file (a create or
 * RENAME stopped before its topic.meta was written): *m is rebuilt from it and the file is
 * rewritten at the next flush. Refused otherwise: OBK_ERR_KEYMISMATCH or OBK_ERR_DAMAGED with
 * rep->damage set. */
static int read_meta(int db, const char *name, int tdfd, struct topic_meta *m,
                     enum meta_result *res, struct store_open_report *rep) {
    uint8_t *buf = NULL;
    size_t len;
    char expect[KEYDIR_NAME_MAX];
    *res = META_MATCHES;
    int rc = fsutil_read_file(tdfd, TOPIC_META_NAME, META_MAX_SIZE, &buf, &len);
    if (rc == OBK_OK) rc = keydir_decode_meta(buf, len, m);
    if (rc == OBK_OK) keydir_name(m->key, m->keylen, expect);
    if ((rc == OBK_OK && strcmp(expect, name) == 0) || rc == OBK_ERR_NOMEM) goto done;
    if (rc != OBK_OK && !has_segments(tdfd)) {
        *res = META_NO_TOPIC;
        rc = OBK_OK;
        goto done;
    }
    if (name[0] == 't') {
        free(m->key);
        m->key = NULL;
        if ((rc = unhex(name + 2, &m->key, &m->keylen)) == OBK_OK) {
            if (!m->created_ms) m->created_ms = util_mstime();
            if (!m->retention_bytes) m->retention_bytes = m->retention_ms = RETENTION_DEFAULT;
            log_msg(LOG_WARNING, "open: db%d/%s: topic.meta did not match the name: rewritten", db,
                    name);
            *res = META_REBUILT;
            goto done;
        }
    }
    set_damage(rep, db, name,
               rc == OBK_OK ? "topic.meta holds another key" : "topic.meta is missing or corrupt");
    rc = rc == OBK_OK ? OBK_ERR_KEYMISMATCH : OBK_ERR_DAMAGED;
done:
    free(buf);
    return rc;
}

/* Recovers a new topic's log, then its consumer groups (clamped to the recovered stream). */
static int recover_topic(struct store *s, int db, const char *name, int clean, struct topic *t,
                         struct store_open_report *rep) {
    struct recovery_report rr;
    int flags = (clean ? RECOVERY_CLEAN : 0) | (s->cfg.repair ? RECOVERY_REPAIR : 0);
    int rc = recovery_open_log(t->dirfd, flags, &t->log, &t->st, &rr);
    rep->segments += rr.segments;
    rep->truncated_bytes += rr.truncated_bytes;
    rep->entries_lost += rr.entries_lost;
    if (!rr.clean) rep->topics_scanned++;
    if (rc != OBK_OK) {
        set_damage(rep, db, name, rr.damage[0] ? rr.damage : obk_strerror(rc));
        return rc;
    }
    struct cgstore_report gr;
    rc = topic_open_groups(t, s->cfg.repair, &gr);
    rep->truncated_bytes += gr.truncated_bytes;
    if (rc != OBK_OK) set_damage(rep, db, name, gr.damage[0] ? gr.damage : obk_strerror(rc));
    return rc;
}

/* Opens topic directory dbN/name into the keyspace. */
static int load_topic(struct store *s, int db, const char *name, int clean,
                      struct store_open_report *rep) {
    struct topic_meta m = {0};
    struct topic *t = NULL;
    enum meta_result meta;
    int dbfd = s->dbfd[db], tdfd;
    int rc = open_dir(s, dbfd, name, &tdfd);
    if (rc != OBK_OK) {
        if (rc == OBK_ERR_IO) set_damage(rep, db, name, strerror(errno));
        goto done;
    }
    if ((rc = read_meta(db, name, tdfd, &m, &meta, rep)) != OBK_OK) goto done;
    if (meta == META_NO_TOPIC) {
        /* a create stopped before its topic.meta was durable: nothing was acknowledged */
        log_msg(LOG_WARNING, "open: db%d/%s has no valid topic.meta and no data: removed", db,
                name);
        close(tdfd);
        tdfd = -1;
        rmtree_now(dbfd, name);
        goto done;
    }
    if ((rc = topic_new(&s->env, db, m.key, m.keylen, dbfd, tdfd, &t)) != OBK_OK) goto done;
    t->created_ms = m.created_ms;
    t->retention_bytes = m.retention_bytes;
    t->retention_ms = m.retention_ms;
    t->expire_at_ms = m.expire_at_ms;
    t->compression = m.compression;
    t->compression_level = m.compression_level;
    if (m.incarnation)
        topic_set_incarnation(t, m.incarnation);
    else
        meta = META_REBUILT; /* a version 1 topic.meta: rewritten with the new id it got */
    tdfd = -1;               /* owned by t */
    if ((rc = recover_topic(s, db, name, clean, t, rep)) != OBK_OK) goto done;
    topic_keep_state(t, 0); /* what it recovered is durable */
    if (meta == META_REBUILT) {
        t->meta_dirty = 1;
        topic_mark_dirty(t);
    }
    if ((rc = keyspace_insert(&s->ks[db], t)) != OBK_OK) goto done;
    rep->topics++;
    t = NULL;
    fds_refresh(s);
done:
    if (rc == OBK_ERR_IO) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "db%d/", db);
        name_link(rep, dbfd, prefix, name);
    }
    if (t) {
        close(t->dirfd);
        topic_free(t, NULL);
    }
    if (tdfd >= 0) close(tdfd);
    free(m.key);
    return rc;
}

/* Reads the format marker, or writes it in a new directory (*created = 1). */
static int check_marker(struct store *s, int *created) {
    uint8_t *buf = NULL;
    size_t len;
    int rc = fsutil_read_file(s->dirfd, STORE_MARKER_NAME, 4096, &buf, &len);
    *created = rc == OBK_ERR_NOTFOUND;
    if (rc == OBK_ERR_NOTFOUND) {
        char text[64];
        int n = snprintf(text, sizeof text, "obelisk-data %d\n", STORE_FORMAT_MAJOR);
        return fsutil_write_file_sync(s->dirfd, STORE_MARKER_NAME, text, (size_t)n);
    }
    if (rc != OBK_OK) return rc;
    buf[len] = '\0';
    int major = 0;
    if (sscanf((char *)buf, "obelisk-data %d", &major) != 1)
        rc = OBK_ERR_CORRUPT;
    else if (major != STORE_FORMAT_MAJOR)
        rc = OBK_ERR_VERSION;
    free(buf);
    return rc;
}

static int open_db(struct store *s, int db, int clean, struct store_open_report *rep) {
    char name[32];
    snprintf(name, sizeof name, "db%d", db);
    if ((mkdirat(s->dirfd, name, 0700) != 0 && errno != EEXIST) ||
        (s->dbfd[db] = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
            0) {
        format_cut(rep->damage, sizeof rep->damage, "%s: %s", name, strerror(errno));
        name_link(rep, s->dirfd, "", name);
        return OBK_ERR_IO;
    }
    int dfd = dup(s->dbfd[db]);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0) close(dfd);
        return OBK_ERR_IO;
    }
    int rc = OBK_OK;
    struct dirent *de;
    while (rc == OBK_OK && (de = readdir(d)) != NULL) {
        if (!strncmp(de->d_name, ".trash-", 7))
            rmtree_now(s->dbfd[db], de->d_name); /* a DEL whose removal did not finish */
        else if (keydir_is_topic_name(de->d_name))
            rc = load_topic(s, db, de->d_name, clean, rep);
    }
    closedir(d);
    return rc;
}

/* Frees a topic; its write handles and directory descriptor are closed through sub (by the
 * persist thread, after everything queued before) or at once when there is no sub. */
static void release_topic(struct store *s, struct topic *t, struct psub *sub) {
    int dfd = t->dirfd;
    topic_free(t, sub);
    if (sub && psub_close_dir(sub, dfd) == OBK_OK)
        s->dir_closes++;
    else
        close(dfd);
}

static void free_all_topics(struct store *s, struct psub *sub) {
    for (int db = 0; db < s->cfg.ndbs; db++) {
        struct keyspace *ks = &s->ks[db];
        for (size_t i = 0; i < ks->size; i++) {
            struct topic *t = ks->b[i];
            while (t) {
                struct topic *n = t->hnext;
                release_topic(s, t, sub);
                t = n;
            }
            ks->b[i] = NULL;
        }
        ks->count = 0;
    }
    while (s->dropped) {
        struct topic *t = s->dropped;
        s->dropped = t->hnext;
        release_topic(s, t, sub);
    }
    s->env.dirty_head = NULL;
}

static void store_free(struct store *s) {
    if (!s) return;
    free_all_topics(s, NULL);
    for (int db = 0; s->dbfd && db < s->cfg.ndbs; db++) {
        if (s->dbfd[db] >= 0) close(s->dbfd[db]);
        keyspace_free(&s->ks[db]);
    }
    psub_discard(s->env.pending);
    batch_compressor_free(&s->env.zc);
    free(s->dbfd);
    free(s->ks);
    if (s->dirfd >= 0) close(s->dirfd);
    free(s);
}

/* The write-ahead log's records since its checkpoint go back into their files before any topic
 * is opened (walreplay.h), so the topics' own recovery sees what was acknowledged. */
static int replay_log(struct store *s, struct walreplay_report *wr, struct store_open_report *rep) {
    int rc = walreplay_run(s->dirfd, STORE_MAX_DBS, s->cfg.repair, s->cfg.replay_progress,
                           s->cfg.replay_ctx, wr);
    rep->wal_replayed = wr->applied;
    rep->wal_replayed_bytes = wr->applied_bytes;
    rep->wal_skipped = wr->skipped;
    if (rc != OBK_OK)
        format_cut(rep->damage, sizeof rep->damage, "write-ahead log: %s",
                   wr->scan.damage[0] ? wr->scan.damage : obk_strerror(rc));
    return rc;
}

/* Opens the log after the replay and checkpoints it at its end (what was replayed is synced in
 * the files now), then puts it in front of the persist thread; with the log turned off, a log
 * left by an earlier run is checkpointed the same way and closed. */
static int open_log(struct store *s, const struct wal_scan_report *scan) {
    struct wal_config wc = {s->cfg.wal_file_bytes, s->cfg.ops};
    struct wal *w = NULL;
    int had_log = faccessat(s->dirfd, WAL_DIR_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
    if (!s->cfg.wal && !had_log) return OBK_OK;
    int rc = walreplay_finish(s->dirfd, &wc, scan, s->cfg.wal ? &w : NULL);
    if (rc != OBK_OK || !w) return rc;
    persist_set_wal(s->p, w, s->cfg.wal_checkpoint_bytes, s->cfg.wal_checkpoint_ms);
    persist_set_direct_bytes(s->p, s->cfg.wal_direct_bytes);
    persist_set_defer_bytes(s->p, defer_cap(&s->cfg));
    return OBK_OK;
}

int store_open(const struct store_config *cfg, struct store **out, struct store_open_report *rep) {
    int rc = OBK_ERR_NOMEM;
    long long t0 = util_monotonic_us();
    struct store *s = calloc(1, sizeof *s);
    memset(rep, 0, sizeof *rep);
    if (!s) return OBK_ERR_NOMEM;
    s->cfg = *cfg;
    s->dirfd = -1;
    if (cfg->ndbs < 1 || cfg->ndbs > STORE_MAX_DBS || cfg->segment_bytes < 1024 ||
        cfg->segment_bytes > TLOG_MAX_SEGMENT_BYTES || cfg->index_interval == 0) {
        rc = OBK_ERR_INVAL;
        goto fail;
    }
    s->dbfd = malloc((size_t)cfg->ndbs * sizeof *s->dbfd);
    s->ks = calloc((size_t)cfg->ndbs, sizeof *s->ks);
    if (!s->dbfd || !s->ks) goto fail;
    uint64_t seed = (uint64_t)util_ustime() ^ ((uint64_t)getpid() << 32);
    for (int db = 0; db < cfg->ndbs; db++) {
        s->dbfd[db] = -1;
        keyspace_init(&s->ks[db], seed);
    }
    s->env.tlog = (struct tlog_config){cfg->segment_bytes, cfg->segment_ms, cfg->index_interval};
    ring_budget_init(&s->env.budget, cfg->cache_max_bytes);
    s->env.retention_bytes = cfg->retention_bytes;
    s->env.retention_ms = cfg->retention_ms;
    s->env.node_max_entries = cfg->node_max_entries;
    s->env.batch_max_bytes = cfg->batch_max_bytes;
    if (cfg->compression_level < 1 || cfg->compression_level > BATCH_ZSTD_LEVEL_MAX) {
        rc = OBK_ERR_INVAL;
        goto fail;
    }
    s->env.compression = cfg->compression != 0;
    s->env.compression_level = cfg->compression_level;
    batch_compressor_init(&s->env.zc);
    s->env.next_seq = 1;
    fdbudget_init(&s->fdb, cfg->max_open_files, cfg->ndbs);
    fdlru_init(&s->env.rfds, fdbudget_read_cap(&s->fdb, 0));
    rc = OBK_ERR_IO;
    if (mkdir(cfg->dir, 0700) != 0 && errno != EEXIST) goto fail;
    if ((s->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) goto fail;
    int created;
    if ((rc = check_marker(s, &created)) != OBK_OK) {
        snprintf(rep->damage, sizeof rep->damage, "%s: %s", STORE_MARKER_NAME, obk_strerror(rc));
        if (rc == OBK_ERR_IO) name_link(rep, s->dirfd, "", STORE_MARKER_NAME);
        goto fail;
    }
    int clean = faccessat(s->dirfd, STORE_CLEAN_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
    rep->clean = clean;
    struct walreplay_report wr;
    if ((rc = replay_log(s, &wr, rep)) != OBK_OK) goto fail;
    for (int db = 0; db < cfg->ndbs; db++)
        if ((rc = open_db(s, db, clean, rep)) != OBK_OK) goto fail;
    rep->fresh = created && rep->topics == 0; /* a first start: nothing to recover */
    if (fsync(s->dirfd) != 0) {               /* the db<N> directories just created */
        rc = OBK_ERR_IO;
        goto fail;
    }
    /* from here on a crash is an unclean stop again */
    if (clean && (unlinkat(s->dirfd, STORE_CLEAN_NAME, 0) != 0 || fsync(s->dirfd) != 0)) {
        rc = OBK_ERR_IO;
        goto fail;
    }
    if ((rc = persist_start(cfg->fsync, cfg->ops, &s->p)) != OBK_OK) goto fail;
    if ((rc = persist_set_syncfs(s->p, s->dirfd, cfg->syncfs_min_files)) != OBK_OK) goto fail;
    if ((rc = open_log(s, &wr.scan)) != OBK_OK) {
        snprintf(rep->damage, sizeof rep->damage, "write-ahead log: %s", obk_strerror(rc));
        goto fail;
    }
    persist_set_max_files(s->p, s->fdb.write_cap);
    if (rep->topics >= fdbudget_max_topics(&s->fdb))
        log_msg(LOG_WARNING,
                "storage: max-open-files-storage is %llu, but %llu topics and one more need %llu "
                "file descriptors: new topics are refused until it is raised",
                (unsigned long long)cfg->max_open_files, (unsigned long long)rep->topics,
                (unsigned long long)fdbudget_min_share(cfg->ndbs, rep->topics + 1));
    rep->duration_us = (uint64_t)(util_monotonic_us() - t0);
    s->recovery_us = rep->duration_us;
    s->recovery_clean = clean || rep->fresh;
    log_msg(LOG_NOTICE, "storage: %llu topics, %llu segments opened in %.3f s (%s%s)",
            (unsigned long long)rep->topics, (unsigned long long)rep->segments,
            rep->duration_us / 1e6,
            rep->fresh ? "new data directory"
            : clean    ? "clean stop"
                       : "unclean stop",
            rep->truncated_bytes ? ", torn tails cut" : "");
    *out = s;
    return OBK_OK;
fail:
    if (rc == OBK_ERR_DAMAGED || rc == OBK_ERR_KEYMISMATCH)
        log_msg(LOG_WARNING, "storage: refusing to open: %s", rep->damage);
    store_free(s);
    return rc;
}

int store_close(struct store *s) {
    if (!s) return OBK_OK;
    int err = OBK_OK;
    store_flush(s, 1);
    err = persist_drain(s->p);
    /* after a sticky error memory may be ahead of the disk: no checkpoint, no clean marker */
    if (err == OBK_OK) err = s->env.error;
    struct psub *sub = psub_new();
    if (sub) {
        for (int db = 0; db < s->cfg.ndbs; db++) {
            struct keyspace *ks = &s->ks[db];
            for (size_t i = 0; i < ks->size; i++)
                for (struct topic *t = ks->b[i]; t; t = t->hnext)
                    if (err == OBK_OK) {
                        topic_checkpoint_into(t, sub);
                        /* a clean open then reads only the snapshot */
                        topic_compact_groups_into(t, sub);
                    }
        }
        free_all_topics(s, sub);
        uint64_t seq;
        persist_submit(s->p, sub, &seq);
    } else {
        err = OBK_ERR_NOMEM;
    }
    int e2 = persist_stop(s->p);
    s->p = NULL;
    if (err == OBK_OK) err = e2;
    if (err == OBK_OK) err = fsutil_write_file_sync(s->dirfd, STORE_CLEAN_NAME, "clean\n", 6);
    store_free(s);
    return err;
}

struct topic *store_lookup(struct store *s, int db, const void *key, size_t keylen) {
    if (db < 0 || db >= s->cfg.ndbs) return NULL;
    struct topic *t = keyspace_find(&s->ks[db], key, keylen);
    if (t) topic_env_touch(&s->env, topic_wait_seq(t));
    return t;
}

void store_touch_begin(struct store *s) {
    s->env.touch_seq = 0;
}

void store_touch_raise(struct store *s, uint64_t seq) {
    topic_env_touch(&s->env, seq);
}

uint64_t store_touch_end(struct store *s) {
    uint64_t seq = s->env.touch_seq;
    s->env.touch_seq = 0;
    return seq;
}

static struct psub *pending(struct store *s) {
    if (!s->env.pending) s->env.pending = psub_new();
    return s->env.pending;
}

int store_create(struct store *s, int db, const void *key, size_t keylen, struct topic **out) {
    char name[KEYDIR_NAME_MAX];
    struct topic *t = NULL;
    if (db < 0 || db >= s->cfg.ndbs) return OBK_ERR_INVAL;
    if (s->env.error) return OBK_ERR_STICKY;
    if (keyspace_find(&s->ks[db], key, keylen)) return OBK_ERR_EXISTS;
    if (held_dirs(s) >= fdbudget_max_topics(&s->fdb)) {
        s->nofile_refusals++; /* the share holds no more topic directories */
        return OBK_ERR_NOFILES;
    }
    if (!pending(s)) return OBK_ERR_NOMEM;
    keydir_name(key, keylen, name);
    int dbfd = s->dbfd[db];
    if (mkdirat(dbfd, name, 0700) != 0) {
        if (errno != EEXIST) return OBK_ERR_IO;
        /* a directory without a topic (never loaded): move it out of the way */
        char trash[64];
        snprintf(trash, sizeof trash, ".trash-%llu", (unsigned long long)++s->trash_seq);
        if (renameat(dbfd, name, dbfd, trash) != 0 || mkdirat(dbfd, name, 0700) != 0)
            return OBK_ERR_IO;
        psub_rmtree(s->env.pending, dbfd, trash);
    }
    int tdfd;
    int rc = open_dir(s, dbfd, name, &tdfd);
    if (rc != OBK_OK) {
        unlinkat(dbfd, name, AT_REMOVEDIR); /* nothing was created */
        if (rc == OBK_ERR_NOFILES) s->nofile_refusals++;
        return rc;
    }
    rc = topic_new(&s->env, db, key, keylen, dbfd, tdfd, &t);
    if (rc == OBK_OK) rc = keyspace_insert(&s->ks[db], t);
    if (rc != OBK_OK) {
        if (t) topic_free(t, NULL);
        close(tdfd);
        unlinkat(dbfd, name, AT_REMOVEDIR);
        return rc;
    }
    t->meta_dirty = 1;
    topic_mark_dirty(t);
    fds_refresh(s);
    *out = t;
    return OBK_OK;
}

static void dirty_unlink(struct store *s, struct topic *t) {
    if (!t->dirty) return;
    struct topic **pp = &s->env.dirty_head;
    while (*pp && *pp != t) pp = &(*pp)->dirty_next;
    if (*pp) *pp = t->dirty_next;
    t->dirty = 0;
}

void store_write_before(struct store *s, struct topic *first, struct topic *then) {
    topic_mark_dirty(then); /* in the list now, so its later changes keep its place */
    dirty_unlink(s, first);
    topic_mark_dirty(first); /* at the head of the list: flushed first */
}

static int delete_topic(struct store *s, struct topic *t) {
    char trash[64];
    int dbfd = s->dbfd[t->db];
    if (!pending(s)) return OBK_ERR_NOMEM;
    snprintf(trash, sizeof trash, ".trash-%llu", (unsigned long long)++s->trash_seq);
    if (renameat(dbfd, t->name, dbfd, trash) != 0) return OBK_ERR_IO;
    keyspace_remove(&s->ks[t->db], t);
    dirty_unlink(s, t);
    topic_emit(t, REPLOG_DELETE, NULL, 0); /* a replica without memory for it resyncs */
    release_topic(s, t, s->env.pending);
    psub_rmtree(s->env.pending, dbfd, trash);
    topic_env_touch(&s->env, s->env.next_seq); /* the removal rides in the next submission */
    return OBK_OK;
}

int store_delete(struct store *s, int db, const void *key, size_t keylen) {
    struct topic *t = store_lookup(s, db, key, keylen);
    if (!t) return OBK_ERR_NOTFOUND;
    if (s->env.error) return OBK_ERR_STICKY;
    return delete_topic(s, t);
}

int store_rename(struct store *s, int db, const void *key, size_t keylen, const void *newkey,
                 size_t newkeylen) {
    struct topic *t = store_lookup(s, db, key, keylen);
    if (!t) return OBK_ERR_NOTFOUND;
    if (s->env.error) return OBK_ERR_STICKY;
    if (keylen == newkeylen && (keylen == 0 || !memcmp(key, newkey, keylen))) return OBK_OK;
    struct topic *dst = store_lookup(s, db, newkey, newkeylen);
    int rc;
    if (dst && (rc = delete_topic(s, dst)) != OBK_OK) return rc;
    uint8_t *nk = malloc(newkeylen ? newkeylen : 1);
    if (!nk) return OBK_ERR_NOMEM;
    if (newkeylen) memcpy(nk, newkey, newkeylen);
    char name[KEYDIR_NAME_MAX];
    keydir_name(newkey, newkeylen, name);
    if (renameat(s->dbfd[db], t->name, s->dbfd[db], name) != 0) {
        free(nk);
        return OBK_ERR_IO;
    }
    if (s->env.repl_sink)
        replog_emit(s->env.repl_sink, s->env.repl_ctx, REPLOG_RENAME, db, key, keylen, newkey,
                    newkeylen);
    keyspace_remove(&s->ks[db], t);
    free(t->key);
    t->key = nk;
    t->keylen = newkeylen;
    memcpy(t->name, name, sizeof name);
    keyspace_insert(&s->ks[db], t); /* the table never shrinks: no allocation */
    t->meta_dirty = 1;              /* topic.meta + fsync of the db directory */
    topic_mark_dirty(t);
    return OBK_OK;
}

int store_flushdb(struct store *s, int db) {
    if (db < 0 || db >= s->cfg.ndbs) return OBK_ERR_INVAL;
    if (s->env.error) return OBK_ERR_STICKY;
    struct keyspace *ks = &s->ks[db];
    int rc = OBK_OK;
    for (size_t i = 0; i < ks->size && rc == OBK_OK; i++)
        while (ks->b[i] && rc == OBK_OK) rc = delete_topic(s, ks->b[i]);
    topic_env_touch(&s->env, store_pending_seq(s)); /* even an empty database's flush */
    return rc;
}

int store_flushall(struct store *s) {
    int rc = OBK_OK;
    for (int db = 0; db < s->cfg.ndbs && rc == OBK_OK; db++) rc = store_flushdb(s, db);
    return rc;
}

uint64_t store_dbsize(struct store *s, int db) {
    /* the count includes keys created or removed by submissions not yet durable */
    topic_env_touch(&s->env, store_pending_seq(s));
    return db >= 0 && db < s->cfg.ndbs ? s->ks[db].count : 0;
}

/* Visits through store_scan/store_foreach touch each topic they hand out. */
struct touch_visit {
    struct store *s;
    store_key_cb cb;
    void *ctx;
};

static void touch_and_visit(void *ctx, struct topic *t) {
    struct touch_visit *v = ctx;
    topic_env_touch(&v->s->env, topic_wait_seq(t));
    v->cb(v->ctx, t);
}

uint64_t store_scan(struct store *s, int db, uint64_t cursor, store_key_cb cb, void *ctx) {
    if (db < 0 || db >= s->cfg.ndbs) return 0;
    struct touch_visit v = {s, cb, ctx};
    return keyspace_scan(&s->ks[db], cursor, (keyspace_scan_cb)touch_and_visit, &v);
}

void store_foreach(struct store *s, int db, store_key_cb cb, void *ctx) {
    if (db < 0 || db >= s->cfg.ndbs) return;
    struct keyspace *ks = &s->ks[db];
    struct touch_visit v = {s, cb, ctx};
    for (size_t i = 0; i < ks->size; i++)
        for (struct topic *t = ks->b[i]; t; t = t->hnext) touch_and_visit(&v, t);
}

static size_t waiting_bytes(const struct store *s) {
    size_t n = 0;
    for (struct topic *t = s->env.dirty_head; t; t = t->dirty_next)
        n += t->pend_len + (t->bb_open ? batch_builder_size(&t->bb) : 0);
    return n;
}

void store_allow_inline(struct store *s) {
    s->inline_ok = 1;
}

int store_flushed_inline(const struct store *s) {
    return s->flushed_inline;
}

int store_flush(struct store *s, int force) {
    int may_inline = s->inline_ok && !s->env.repl_sink;
    s->inline_ok = 0;
    s->flushed_inline = 0;
    if (s->env.filing_wanted) { /* a write waits for cache room held by deferred bytes */
        s->env.filing_wanted = 0;
        persist_request_filing(s->p);
    }
    int has_pending = s->env.pending && !psub_empty(s->env.pending);
    if (!s->env.dirty_head && !has_pending) return OBK_OK;
    if (s->env.error) return s->env.error; /* the first error, for the server's message */
    if (!force && !persist_idle(s->p) && waiting_bytes(s) < s->cfg.flush_max_bytes) return OBK_OK;
    /* what placing batches reads (an active segment's index) first: out of descriptors the
     * flush changes nothing and is tried again at the next turn */
    for (struct topic *t = s->env.dirty_head; t; t = t->dirty_next)
        if (tlog_prepare_append(&t->log) == OBK_ERR_NOFILES) return OBK_ERR_NOFILES;
    struct psub *sub = pending(s);
    if (!sub) return OBK_ERR_NOMEM;
    s->env.pending = NULL;
    int64_t now = util_mstime();
    int rc = OBK_OK;
    for (struct topic *t = s->env.dirty_head; t && rc == OBK_OK; t = t->dirty_next)
        rc = topic_flush_into(t, sub, now);
    if (rc != OBK_OK) {
        /* only out of memory gets here, with the log half placed: refuse writes from now on */
        log_msg(LOG_WARNING, "storage: flush failed: %s; writes are refused", obk_strerror(rc));
        s->env.error = rc;
        psub_discard(sub);
        return rc;
    }
    uint64_t seq;
    if (may_inline && persist_run_inline(s->p, sub, &seq))
        s->flushed_inline = 1;
    else
        persist_submit(s->p, sub, &seq);
    s->env.next_seq = seq + 1;
    struct topic *t = s->env.dirty_head;
    while (t) {
        struct topic *n = t->dirty_next;
        topic_submitted(t, seq);
        t->dirty_next = NULL;
        t = n;
    }
    s->env.dirty_head = NULL;
    return OBK_OK;
}

int store_replace_file(struct store *s, const char *name, const void *data, size_t len) {
    if (s->env.error) return OBK_ERR_STICKY;
    struct psub *sub = pending(s);
    return sub ? psub_replace(sub, s->dirfd, name, data, len) : OBK_ERR_NOMEM;
}

uint64_t store_submitted_seq(const struct store *s) {
    return s->env.next_seq - 1;
}

int store_dirfd(const struct store *s) {
    return s->dirfd;
}

int store_ndbs(const struct store *s) {
    return s->cfg.ndbs;
}

void store_set_repl_sink(struct store *s, replog_sink sink, void *ctx) {
    s->env.repl_sink = sink;
    s->env.repl_ctx = ctx;
}

int store_eventfd(struct store *s) {
    return persist_eventfd(s->p);
}

/* store_poll's work; consume says whether the eventfd's notice is taken. */
static void poll_state(struct store *s, int consume, uint64_t *durable_seq, int *err) {
    if (consume)
        persist_poll(s->p, durable_seq, err);
    else
        persist_state(s->p, durable_seq, err);
    s->durable_seq = s->env.durable_seq = *durable_seq;
    s->env.budget.filed_seq = persist_filed_seq(s->p); /* entries in their files may leave */
    fds_refresh(s); /* closed topic directories give their descriptors back */
    if (*err && !s->env.error) s->env.error = *err;
    if (!*err && s->env.error) *err = s->env.error;
}

void store_poll(struct store *s, uint64_t *durable_seq, int *err) {
    poll_state(s, 1, durable_seq, err);
}

void store_state(struct store *s, uint64_t *durable_seq, int *err) {
    poll_state(s, 0, durable_seq, err);
}

int store_sync_point(struct store *s) {
    int rc = store_flush(s, 1);
    if (rc != OBK_OK) return rc;
    rc = persist_wait_written(s->p);
    uint64_t durable;
    int err;
    /* the round's completion, seen now; its notice stays for the event loop, which releases
     * the replies that waited for that round (taking it here held them until a later round
     * completed: 20-30 s under load, test_backup's test_sync_point_keeps_replies_moving) */
    poll_state(s, 0, &durable, &err);
    return rc != OBK_OK ? rc : err;
}

uint64_t store_pending_seq(const struct store *s) {
    if (s->settled) return s->settled_seq; /* nothing is submitted after an error */
    /* With nothing unsubmitted, a change "made now" was already part of the last submission:
     * waiting for next_seq would wait for a submission that may never come. */
    int has_pending = s->env.pending && !psub_empty(s->env.pending);
    if (!s->env.dirty_head && !has_pending) return s->env.next_seq - 1;
    return s->env.next_seq;
}

void store_settle(struct store *s) {
    uint64_t n[3] = {0, 0, 0}, failed = 0;
    if (s->settled || !s->env.error) return;
    s->settled = 1;
    s->settled_seq = s->durable_seq;
    for (int db = 0; db < s->cfg.ndbs; db++) {
        struct keyspace *ks = &s->ks[db];
        for (size_t i = 0; i < ks->size; i++) {
            for (struct topic *t = ks->b[i], *next; t; t = next) {
                next = t->hnext;
                int rc = topic_settle(t, s->settled_seq);
                if (rc >= 0) n[rc]++;
                if (rc == TOPIC_SETTLE_NEVER_DURABLE) {
                    keyspace_remove(ks, t);
                    t->hnext = s->dropped;
                    s->dropped = t;
                } else if (rc < 0) {
                    failed++; /* its reads wait for a submission that failed: they fail */
                    t->dirty = 0;
                    t->last_seq = s->env.next_seq;
                }
            }
        }
    }
    for (struct topic *t = s->env.dirty_head, *next; t; t = next) {
        next = t->dirty_next;
        t->dirty_next = NULL;
    }
    s->env.dirty_head = NULL;
    log_msg(LOG_WARNING,
            "storage: after the I/O error, reads show the data as of submission %llu: %llu topics "
            "rolled back, %llu created since dropped, %llu unchanged, %llu unreadable",
            (unsigned long long)s->settled_seq, (unsigned long long)n[TOPIC_SETTLE_ROLLED],
            (unsigned long long)n[TOPIC_SETTLE_NEVER_DURABLE],
            (unsigned long long)n[TOPIC_SETTLE_KEPT], (unsigned long long)failed);
}

void store_hold_persist(struct store *s, int hold) {
    persist_hold(s->p, hold);
}

void store_progress(struct store *s, uint64_t *written_seq, uint64_t *synced_seq) {
    persist_progress(s->p, written_seq, synced_seq);
}

int store_set_fsync(struct store *s, int fsync_policy) {
    if (fsync_policy < PERSIST_FSYNC_ALWAYS || fsync_policy > PERSIST_FSYNC_NO)
        return OBK_ERR_INVAL;
    s->cfg.fsync = fsync_policy;
    persist_set_fsync(s->p, fsync_policy);
    return OBK_OK;
}

int store_set_tuning(struct store *s, const struct store_tuning *t) {
    if (t->segment_bytes < 1024 || t->segment_bytes > TLOG_MAX_SEGMENT_BYTES ||
        t->index_interval == 0 || t->cache_max_bytes == 0 || t->wal_checkpoint_bytes == 0 ||
        t->wal_checkpoint_ms == 0 || t->compression_level < 1 ||
        t->compression_level > BATCH_ZSTD_LEVEL_MAX)
        return OBK_ERR_INVAL;
    s->env.compression = t->compression != 0;
    s->env.compression_level = t->compression_level;
    s->cfg.compression = t->compression;
    s->cfg.compression_level = t->compression_level;
    s->env.tlog.segment_bytes = t->segment_bytes;
    s->env.tlog.segment_ms = t->segment_ms;
    s->env.tlog.index_interval = t->index_interval;
    s->env.retention_bytes = t->retention_bytes;
    s->env.retention_ms = t->retention_ms;
    s->env.node_max_entries = t->node_max_entries;
    s->env.budget.max_bytes = t->cache_max_bytes;
    s->cfg.segment_bytes = t->segment_bytes;
    s->cfg.segment_ms = t->segment_ms;
    s->cfg.index_interval = t->index_interval;
    s->cfg.retention_bytes = t->retention_bytes;
    s->cfg.retention_ms = t->retention_ms;
    s->cfg.node_max_entries = t->node_max_entries;
    s->cfg.cache_max_bytes = t->cache_max_bytes;
    s->cfg.syncfs_min_files = t->syncfs_min_files;
    s->cfg.wal_checkpoint_bytes = t->wal_checkpoint_bytes;
    s->cfg.wal_checkpoint_ms = t->wal_checkpoint_ms;
    persist_set_checkpoint(s->p, t->wal_checkpoint_bytes, t->wal_checkpoint_ms);
    persist_set_direct_bytes(s->p, t->wal_direct_bytes);
    s->cfg.wal_direct_bytes = t->wal_direct_bytes;
    s->cfg.wal_defer_bytes = t->wal_defer_bytes;
    persist_set_defer_bytes(s->p, defer_cap(&s->cfg));
    return persist_set_syncfs(s->p, -1, t->syncfs_min_files);
}

uint64_t store_min_open_files(struct store *s) {
    return fdbudget_min_share(s->cfg.ndbs, held_dirs(s));
}

int store_set_max_open_files(struct store *s, uint64_t max_open_files) {
    if (max_open_files && max_open_files < store_min_open_files(s)) return OBK_ERR_RANGE;
    s->cfg.max_open_files = max_open_files;
    fdbudget_init(&s->fdb, max_open_files, s->cfg.ndbs);
    persist_set_max_files(s->p, s->fdb.write_cap);
    fds_refresh(s);
    return OBK_OK;
}

static int64_t pick(int64_t topic_value, int64_t dflt) {
    if (topic_value == RETENTION_DEFAULT) return dflt;
    return topic_value; /* RETENTION_NONE (-1) means off, like a negative default */
}

void store_retention(struct store *s, int64_t now_ms) {
    if (s->env.error || !pending(s)) return;
    for (int db = 0; db < s->cfg.ndbs; db++) {
        struct keyspace *ks = &s->ks[db];
        for (size_t i = 0; i < ks->size; i++) {
            for (struct topic *t = ks->b[i]; t; t = t->hnext) {
                uint64_t start;
                int n = tlog_retain(&t->log, pick(t->retention_bytes, s->env.retention_bytes),
                                    pick(t->retention_ms, s->env.retention_ms), now_ms,
                                    t->st.start_offset, s->env.pending, &start);
                if (n <= 0) continue;
                if (start > t->st.start_offset) {
                    topic_tombs_changing(t);
                    tstate_set_start(&t->st, start);
                    ring_drop_filed_before(&t->ring, start);
                }
            }
        }
    }
}

void store_persist_stats(struct store *s, struct persist_stats *st) {
    persist_get_stats(s->p, st);
}

void store_stats(struct store *s, struct store_stats *st) {
    memset(st, 0, sizeof *st);
    for (int db = 0; db < s->cfg.ndbs; db++) {
        struct keyspace *ks = &s->ks[db];
        st->topics += ks->count;
        for (size_t i = 0; i < ks->size; i++)
            for (struct topic *t = ks->b[i]; t; t = t->hnext) {
                st->segments += t->log.nsegs;
                st->disk_bytes += t->log.bytes;
            }
    }
    st->cache_bytes = s->env.budget.used;
    st->cache_max_bytes = s->env.budget.max_bytes;
    st->cache_hits = s->env.cache_hits;
    st->cache_misses = s->env.cache_misses;
    st->cache_evictions = s->env.budget.evictions;
    st->submitted_seq = s->env.next_seq - 1;
    st->durable_seq = s->durable_seq;
    persist_get_stats(s->p, &st->persist);
    st->recovery_us = s->recovery_us;
    st->recovery_clean = s->recovery_clean;
    st->read_fds = s->env.rfds.n;
    st->read_fd_evictions = s->env.rfds.evictions;
    st->nofile_refusals = s->nofile_refusals;
    st->max_open_files = s->cfg.max_open_files;
    st->open_files = fdbudget_fixed(s->cfg.ndbs) - FDBUDGET_TRANSIENT + held_dirs(s) +
                     st->read_fds + st->persist.write_fds;
}
