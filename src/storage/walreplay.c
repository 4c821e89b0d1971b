/* walreplay.c - the write-ahead log written again into the topics' files at open (see
 * walreplay.h for the rules).
 *
 * Design: one pass over the topic directories maps each incarnation id (topic.meta) to its
 * database and directory name, sorted for binary search; then wal_scan hands over the records
 * in log order and each is written with pwrite at its position. Descriptors of the files being
 * written stay open per topic (a replay writes a few files many times: the active segments);
 * past REPLAY_OPEN_MAX descriptors they are all closed, and at the end one syncfs makes what was
 * written durable.
 *
 * Threads: the loader only (store_open), before any other thread touches the directory. */
#include "storage/walreplay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/log.h"
#include "base/status.h"
#include "storage/fileops.h"
#include "storage/fsutil.h"
#include "storage/keydir.h"

#define REPLAY_OPEN_MAX       512 /* descriptors of files being written */
#define REPLAY_TOPIC_FILES    4 /* a topic's files a replay writes at once (segment, index, ...) */
#define REPLAY_PROGRESS_BYTES (4ull << 20)

struct open_file {
    uint64_t file_id;
    int fd; /* -1: the file is not there (its records are skipped) */
};

struct known_topic {
    uint64_t incarnation;
    int db;
    int dirfd; /* open while records go to it, else -1 */
    int applied;
    struct open_file files[REPLAY_TOPIC_FILES]; /* what its records went to lately */
    int nfiles;
    char name[KEYDIR_NAME_MAX];
};

struct replay {
    int dirfd;
    struct known_topic *topics;
    size_t ntopics, cap;
    size_t nopen; /* descriptors open in the topics' files[] */
    struct walreplay_report *rep;
    walreplay_progress_cb progress;
    void *ctx;
    int started;
    uint64_t start_lsn, next_report;
    uint8_t *cmp; /* what the file holds where a record goes */
    size_t cmp_cap;
};

static int by_incarnation(const void *a, const void *b) {
    uint64_t x = ((const struct known_topic *)a)->incarnation;
    uint64_t y = ((const struct known_topic *)b)->incarnation;
    return x < y ? -1 : x > y;
}

static int add_topic(struct replay *r, int db, int dbfd, const char *name) {
    if (strlen(name) >= KEYDIR_NAME_MAX) return OBK_OK; /* no name this store makes */
    uint8_t *buf = NULL;
    size_t len;
    struct topic_meta m;
    int tdfd = openat(dbfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tdfd < 0) return OBK_OK; /* not a directory we can read: the open reports it */
    int rc = fsutil_read_file(tdfd, TOPIC_META_NAME, 1 << 20, &buf, &len);
    close(tdfd);
    if (rc != OBK_OK) return rc == OBK_ERR_NOMEM ? rc : OBK_OK; /* no topic here yet */
    rc = keydir_decode_meta(buf, len, &m);
    free(buf);
    if (rc != OBK_OK) return rc == OBK_ERR_NOMEM ? rc : OBK_OK;
    free(m.key);
    if (!m.incarnation) return OBK_OK; /* written before the log existed: no records name it */
    if (r->ntopics == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct known_topic *n = realloc(r->topics, cap * sizeof *n);
        if (!n) return OBK_ERR_NOMEM;
        r->topics = n;
        r->cap = cap;
    }
    struct known_topic *t = &r->topics[r->ntopics++];
    memset(t, 0, sizeof *t);
    t->incarnation = m.incarnation;
    t->db = db;
    t->dirfd = -1;
    memcpy(t->name, name, strlen(name) + 1);
    return OBK_OK;
}

static int map_topics(struct replay *r, int ndbs) {
    int rc = OBK_OK;
    for (int db = 0; db < ndbs && rc == OBK_OK; db++) {
        char name[32];
        snprintf(name, sizeof name, "db%d", db);
        int dbfd = openat(r->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dbfd < 0) continue; /* a database never used */
        DIR *d = fdopendir(dbfd);
        if (!d) {
            close(dbfd);
            return OBK_ERR_IO;
        }
        struct dirent *de;
        while (rc == OBK_OK && (de = readdir(d)) != NULL)
            if (keydir_is_topic_name(de->d_name)) rc = add_topic(r, db, dirfd(d), de->d_name);
        closedir(d);
    }
    if (r->ntopics) qsort(r->topics, r->ntopics, sizeof *r->topics, by_incarnation);
    return rc;
}

static struct known_topic *find_topic(struct replay *r, uint64_t incarnation) {
    struct known_topic key = {.incarnation = incarnation};
    if (!r->ntopics) return NULL;
    return bsearch(&key, r->topics, r->ntopics, sizeof key, by_incarnation);
}

/* Closes without a sync: the replay ends with one syncfs of the data directory's filesystem,
 * which reaches closed files too (a replay writes to thousands of files in log order, and a
 * sync per file closed would be a journal commit each: 280k of them for 256 MiB over 1,000
 * topics). */
static int close_file(struct open_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    return OBK_OK;
}

/* Closes every open file and topic directory. */
static int close_all(struct replay *r) {
    int rc = OBK_OK;
    for (size_t i = 0; i < r->ntopics; i++) {
        struct known_topic *t = &r->topics[i];
        for (int k = 0; k < t->nfiles; k++) {
            int rc2 = close_file(&t->files[k]);
            if (rc == OBK_OK) rc = rc2;
        }
        t->nfiles = 0;
        if (t->dirfd >= 0) close(t->dirfd);
        t->dirfd = -1;
    }
    r->nopen = 0;
    return rc;
}

static int out_of_fds(void) {
    return errno == EMFILE || errno == ENFILE;
}

/* Opens the topic's directory (if needed) and the file; -1 with errno on failure. Out of
 * descriptors, everything open is synced and closed and it is tried once more. */
static int open_in_topic(struct replay *r, struct known_topic *t, const char *name, int *rc) {
    for (int attempt = 0;; attempt++) {
        if (t->dirfd < 0) {
            char path[KEYDIR_NAME_MAX + 32];
            snprintf(path, sizeof path, "db%d/%s", t->db, t->name);
            t->dirfd = openat(r->dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int fd = t->dirfd < 0 ? -1 : openat(t->dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 || attempt > 0 || !out_of_fds()) return fd;
        if ((*rc = close_all(r)) != OBK_OK) return -1;
    }
}

/* The record's file in t->files (opened if needed); NULL with *rc set on an error. A file that
 * is not there is remembered with fd -1 (its records are skipped). */
static struct open_file *file_for(struct replay *r, struct known_topic *t, uint64_t file_id,
                                  int *rc) {
    char name[64];
    *rc = OBK_OK;
    for (int k = 0; k < t->nfiles; k++)
        if (t->files[k].file_id == file_id) return &t->files[k];
    if (keydir_file_name(file_id, name, sizeof name) != OBK_OK) {
        *rc = OBK_ERR_CORRUPT; /* a record that passed its CRC names no kind we write */
        return NULL;
    }
    if (r->nopen >= REPLAY_OPEN_MAX && (*rc = close_all(r)) != OBK_OK) return NULL;
    if (t->nfiles == REPLAY_TOPIC_FILES) { /* the oldest of the topic's goes */
        if (t->files[0].fd >= 0) r->nopen--;
        if ((*rc = close_file(&t->files[0])) != OBK_OK) return NULL;
        memmove(t->files, t->files + 1, (REPLAY_TOPIC_FILES - 1) * sizeof t->files[0]);
        t->nfiles--;
    }
    int fd = open_in_topic(r, t, name, rc);
    if (*rc != OBK_OK) return NULL;
    if (fd < 0 && errno != ENOENT) {
        *rc = fileops_status(errno);
        return NULL;
    }
    if (fd >= 0 && file_id >> 56 == TOPIC_FILE_GROUPS_LOG) {
        /* only into the groups.log of the record's generation (or one still without header) */
        uint8_t h[TOPIC_GROUPS_LOG_GEN_OFFSET + 8];
        ssize_t n = pread(fd, h, sizeof h, 0);
        if (n == (ssize_t)sizeof h &&
            codec_get_u64(h + TOPIC_GROUPS_LOG_GEN_OFFSET) != (file_id & TOPIC_FILE_NUMBER_MASK)) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) r->nopen++;
    struct open_file *f = &t->files[t->nfiles++];
    *f = (struct open_file){file_id, fd};
    return f;
}

/* 1 when the file already holds the record's bytes at its position (the write reached the
 * disk before the crash, or a sync made it durable since): nothing is written then, so a
 * replay dirties only what was lost. */
static int holds_already(struct replay *r, int fd, const struct wal_rec *rec) {
    if (rec->len > r->cmp_cap) {
        uint8_t *n = realloc(r->cmp, rec->len);
        if (!n) return 0; /* written again instead: same result */
        r->cmp = n;
        r->cmp_cap = rec->len;
    }
    ssize_t n = pread(fd, r->cmp, rec->len, (off_t)rec->aux2);
    return n == (ssize_t)rec->len && memcmp(r->cmp, rec->payload, rec->len) == 0;
}

static int apply(void *ctx, const struct wal_rec *rec) {
    struct replay *r = ctx;
    struct walreplay_report *rep = r->rep;
    int rc = OBK_OK;
    if (!r->started) {
        r->started = 1;
        r->start_lsn = r->next_report = rec->lsn;
    }
    if (r->progress && rec->lsn >= r->next_report) {
        r->progress(r->ctx, rec->lsn - r->start_lsn, rep->total_bytes);
        r->next_report = rec->lsn + REPLAY_PROGRESS_BYTES;
    }
    if (rec->type != WAL_REC_WRITE) return OBK_OK;
    struct known_topic *t = find_topic(r, rec->topic);
    struct open_file *f = t && t->db == rec->db ? file_for(r, t, rec->aux1, &rc) : NULL;
    if (rc != OBK_OK) return rc;
    if (!f || f->fd < 0) {
        rep->skipped++;
        return OBK_OK;
    }
    int fd = f->fd;
    if (holds_already(r, fd, rec)) {
        rep->present++;
        return OBK_OK;
    }
    const uint8_t *p = rec->payload;
    size_t left = rec->len;
    uint64_t pos = rec->aux2;
    while (left > 0) {
        ssize_t n = pwrite(fd, p, left, (off_t)pos);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fileops_status(n == 0 ? ENOSPC : errno);
        p += n;
        left -= (size_t)n;
        pos += (uint64_t)n;
    }
    rep->applied++;
    rep->applied_bytes += rec->len;
    if (!t->applied) rep->topics++;
    t->applied = 1;
    return OBK_OK;
}

/* Log bytes after the checkpointed start, from the files' names and sizes (an upper bound:
 * the last file is rarely full). */
static uint64_t log_bytes(int datafd) {
    uint64_t total = 0;
    int wfd = openat(datafd, WAL_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (wfd < 0) return 0;
    DIR *d = fdopendir(wfd);
    if (!d) {
        close(wfd);
        return 0;
    }
    struct dirent *de;
    struct stat st;
    while ((de = readdir(d)) != NULL)
        if (!strncmp(de->d_name, "wal-", 4) && fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
            st.st_size > WAL_FILE_HEADER_SIZE)
            total += (uint64_t)st.st_size - WAL_FILE_HEADER_SIZE;
    closedir(d);
    return total;
}

int walreplay_run(int dirfd, int ndbs, int repair, walreplay_progress_cb progress, void *ctx,
                  struct walreplay_report *rep) {
    struct replay r = {.dirfd = dirfd, .rep = rep, .progress = progress, .ctx = ctx};
    memset(rep, 0, sizeof *rep);
    int rc = map_topics(&r, ndbs);
    if (rc == OBK_OK) {
        rep->total_bytes = log_bytes(dirfd);
        rc = wal_scan(dirfd, repair, apply, &r, &rep->scan);
    }
    if (rc == OBK_OK && progress) progress(ctx, rep->scan.bytes, rep->total_bytes);
    int rc2 = close_all(&r);
    if (rc == OBK_OK) rc = rc2;
    /* what was written reaches the disk before the caller checkpoints the log */
    if (rc == OBK_OK && rep->applied && syncfs(dirfd) != 0) rc = fileops_status(errno);
    if (rc == OBK_OK && rep->scan.records)
        log_msg(LOG_NOTICE,
                "storage: write-ahead log replayed: %" PRIu64 " records (%" PRIu64
                " bytes) written again into %" PRIu64 " topics, %" PRIu64
                " already on disk, %" PRIu64 " skipped",
                rep->applied, rep->applied_bytes, rep->topics, rep->present, rep->skipped);
    free(r.topics);
    free(r.cmp);
    return rc;
}

int walreplay_finish(int dirfd, const struct wal_config *cfg, const struct wal_scan_report *scan,
                     struct wal **out) {
    struct wal *w = NULL;
    int rc = wal_open(dirfd, cfg, scan, &w);
    if (rc == OBK_OK && wal_pending_bytes(w) > 0) rc = wal_checkpoint(w, wal_end_lsn(w));
    if (rc != OBK_OK || !out) {
        wal_close(w);
        w = NULL;
    }
    if (out) *out = w;
    return rc;
}
