/* wal.c - the shared write-ahead log (see wal.h; byte layout in docs/format.md).
 *
 * Design: records are encoded into one buffer and written with one pwritev at the file's
 * tracked end, so a commit round is one sequential write and one fdatasync. Every record
 * carries its own LSN, the writer's epoch and a CRC-32C: after a reused file's header is
 * rewritten, the records of its previous life have smaller LSNs than expected and read as the
 * end of the log, so reuse needs no zeroing; and each opening of the writer takes a higher epoch
 * (kept in the checkpoint file too), so records written but never synced before a crash, lying
 * after a torn one, cannot be read back behind the new records even where an LSN matches. A full
 * file ends with an EOF record and is synced before the log moves on, and the next file is created
 * (or a free one renamed), given its header and synced, with the directory, before a record goes
 * into it: so a record that fails its checks in the last file of the chain is a torn tail, and one
 * before it is damage (the rules of segments).
 *
 * Threads: the writer is owned by the persist thread; wal_scan runs at open on the loader
 * thread, before any writer exists. */
#include "storage/wal.h"

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
#include "base/crc32c.h"
#include "base/obk_assert.h"
#include "base/status.h"
#include "base/util.h"
#include "storage/fsutil.h"

#define WAL_NAME_MAX   40
#define WAL_CKPT_SIZE  24
#define WAL_ZERO_CHUNK (1u << 20)
#define WAL_MAX_FILES  4096

struct wal {
    int dirfd; /* <dir>/wal, owned */
    const struct fileops *ops;
    uint64_t file_bytes; /* size of the files it makes */
    uint64_t cur_size;   /* size of the current file (an older log may have used another) */
    int fd;              /* the current file */
    uint64_t first_lsn;  /* its first record's LSN */
    uint64_t pos;        /* its next write position (records written up to here) */
    uint64_t start_lsn;  /* checkpointed start */
    uint32_t epoch;      /* this opening's generation, above every record already written */
    uint8_t *buf;        /* records queued, to be written at pos */
    size_t blen, bcap;
    uint64_t *files; /* first LSNs of the files of the chain, oldest first (last = current) */
    size_t nfiles;
    uint64_t *free; /* first LSNs (names) of files free for reuse */
    size_t nfree;
};

static void file_name(char *out, uint64_t first_lsn) {
    snprintf(out, WAL_NAME_MAX, "wal-%016" PRIx64 ".log", first_lsn);
}

static int parse_name(const char *name, uint64_t *first_lsn) {
    char tail[8];
    unsigned long long v;
    if (strlen(name) != 24 || sscanf(name, "wal-%16llx%7s", &v, tail) != 2 || strcmp(tail, ".log"))
        return 0;
    *first_lsn = v;
    return 1;
}

static void encode_file_header(uint8_t *h, uint64_t first_lsn, uint64_t file_bytes) {
    memset(h, 0, WAL_FILE_HEADER_SIZE);
    codec_put_u32(h, WAL_MAGIC);
    codec_put_u16(h + 4, WAL_VERSION);
    codec_put_u64(h + 16, first_lsn);
    codec_put_u64(h + 24, file_bytes);
    codec_put_u64(h + 32, (uint64_t)util_mstime());
    codec_put_u32(h + 60, crc32c(0, h, 60));
}

/* Checks a file header; returns OBK_OK with its first LSN and size. */
static int decode_file_header(const uint8_t *h, uint64_t *first_lsn, uint64_t *file_bytes) {
    if (codec_get_u32(h) != WAL_MAGIC || codec_get_u32(h + 60) != crc32c(0, h, 60))
        return OBK_ERR_CORRUPT;
    if (codec_get_u16(h + 4) != WAL_VERSION) return OBK_ERR_VERSION;
    *first_lsn = codec_get_u64(h + 16);
    *file_bytes = codec_get_u64(h + 24);
    return *file_bytes > WAL_FILE_HEADER_SIZE ? OBK_OK : OBK_ERR_CORRUPT;
}

static void encode_rec(uint8_t *p, const struct wal_rec *r) {
    codec_put_u32(p, (uint32_t)(WAL_REC_HEADER_SIZE - 4 + r->len));
    codec_put_u64(p + 8, r->lsn);
    codec_put_u32(p + 16, r->epoch);
    p[20] = r->type;
    p[21] = 0;
    codec_put_u16(p + 22, r->db);
    codec_put_u64(p + 24, r->topic);
    codec_put_u64(p + 32, r->aux1);
    codec_put_u64(p + 40, r->aux2);
    if (r->len) memcpy(p + WAL_REC_HEADER_SIZE, r->payload, r->len);
    codec_put_u32(p + 4, crc32c(0, p + 8, WAL_REC_HEADER_SIZE - 8 + r->len));
}

/* ---- writer ---- */

static int fail(int err) {
    return fileops_status(err);
}

static int write_all(struct wal *w, int fd, const void *p, size_t n, uint64_t off) {
    const uint8_t *b = p;
    while (n > 0) {
        struct iovec iov = {(void *)b, n};
        ssize_t k = w->ops->pwritev(fd, &iov, 1, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return fail(k == 0 ? ENOSPC : errno);
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return OBK_OK;
}

static int sync_dir(struct wal *w) {
    return w->ops->fsync(w->dirfd) == 0 ? OBK_OK : fail(errno);
}

/* Makes the file that starts the log at first_lsn: a free one renamed, or a new one filled
 * with zeros (so later writes allocate nothing); header written and synced, directory too. */
static int make_file(struct wal *w, uint64_t first_lsn, int *fd_out) {
    char name[WAL_NAME_MAX], old[WAL_NAME_MAX];
    uint8_t h[WAL_FILE_HEADER_SIZE];
    int fd = -1, rc = OBK_OK;
    file_name(name, first_lsn);
    if (w->nfree > 0) {
        file_name(old, w->free[--w->nfree]);
        if (w->ops->renameat(w->dirfd, old, w->dirfd, name) != 0) return fail(errno);
        if ((fd = w->ops->openat(w->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
            return fail(errno);
    } else {
        fd = w->ops->openat(w->dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                            0600);
        if (fd < 0) return fail(errno);
        uint8_t *zeros = calloc(1, WAL_ZERO_CHUNK);
        if (!zeros) rc = OBK_ERR_NOMEM;
        for (uint64_t off = 0; rc == OBK_OK && off < w->file_bytes; off += WAL_ZERO_CHUNK) {
            uint64_t n =
                w->file_bytes - off < WAL_ZERO_CHUNK ? w->file_bytes - off : WAL_ZERO_CHUNK;
            rc = write_all(w, fd, zeros, (size_t)n, off);
        }
        free(zeros);
    }
    encode_file_header(h, first_lsn, w->file_bytes);
    if (rc == OBK_OK) rc = write_all(w, fd, h, sizeof h, 0);
    if (rc == OBK_OK && w->ops->fdatasync(fd) != 0) rc = fail(errno);
    if (rc == OBK_OK) rc = sync_dir(w);
    if (rc != OBK_OK) {
        w->ops->close(fd);
        return rc;
    }
    *fd_out = fd;
    return OBK_OK;
}

static int push_lsn(uint64_t **arr, size_t *n, uint64_t v) {
    uint64_t *na = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (!na) return OBK_ERR_NOMEM;
    na[(*n)++] = v;
    *arr = na;
    return OBK_OK;
}

/* Moves the log into a new file starting at first_lsn (the current one is full and synced). */
static int switch_file(struct wal *w, uint64_t first_lsn) {
    int fd = -1, rc = push_lsn(&w->files, &w->nfiles, first_lsn); /* room first */
    if (rc != OBK_OK) return rc;
    if ((rc = make_file(w, first_lsn, &fd)) != OBK_OK) {
        w->nfiles--;
        return rc;
    }
    if (w->fd >= 0) w->ops->close(w->fd);
    w->fd = fd;
    w->first_lsn = first_lsn;
    w->pos = WAL_FILE_HEADER_SIZE;
    w->cur_size = w->file_bytes;
    return OBK_OK;
}

static int reserve(struct wal *w, size_t n) {
    if (w->blen + n <= w->bcap) return OBK_OK;
    size_t cap = w->bcap ? w->bcap : 64 * 1024;
    while (cap < w->blen + n) cap *= 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb) return OBK_ERR_NOMEM;
    w->buf = nb;
    w->bcap = cap;
    return OBK_OK;
}

static uint64_t next_lsn(const struct wal *w) {
    return w->first_lsn + (w->pos - WAL_FILE_HEADER_SIZE) + w->blen;
}

static int queue(struct wal *w, struct wal_rec *r) {
    size_t size = WAL_REC_HEADER_SIZE + r->len;
    int rc = reserve(w, size);
    if (rc != OBK_OK) return rc;
    r->lsn = next_lsn(w);
    r->epoch = w->epoch;
    encode_rec(w->buf + w->blen, r);
    w->blen += size;
    return OBK_OK;
}

/* Ends the current file with an EOF record, syncs it and starts the next file. */
static int roll(struct wal *w) {
    struct wal_rec eof = {.type = WAL_REC_EOF};
    int rc = queue(w, &eof);
    if (rc == OBK_OK) rc = wal_write(w);
    if (rc == OBK_OK) rc = wal_sync(w);
    if (rc == OBK_OK) rc = switch_file(w, eof.lsn + WAL_REC_HEADER_SIZE);
    return rc;
}

int wal_append(struct wal *w, struct wal_rec *r) {
    uint64_t size = WAL_REC_HEADER_SIZE + (uint64_t)r->len;
    uint64_t room = w->file_bytes - WAL_FILE_HEADER_SIZE - WAL_REC_HEADER_SIZE; /* an EOF stays */
    if (r->type == WAL_REC_EOF || size > room)
        return r->type == WAL_REC_EOF ? OBK_ERR_INVAL : OBK_ERR_TOOBIG;
    if (w->pos + w->blen + size + WAL_REC_HEADER_SIZE > w->cur_size) {
        int rc = roll(w);
        if (rc != OBK_OK) return rc;
    }
    return queue(w, r);
}

int wal_fits(const struct wal *w, uint64_t bytes) {
    return w->pos + w->blen + bytes + WAL_REC_HEADER_SIZE <= w->cur_size; /* an EOF stays */
}

int wal_write(struct wal *w) {
    if (w->blen == 0) return OBK_OK;
    int rc = write_all(w, w->fd, w->buf, w->blen, w->pos);
    if (rc != OBK_OK) return rc;
    w->pos += w->blen;
    w->blen = 0;
    OBK_ASSERT(w->pos <= w->cur_size);
    return OBK_OK;
}

int wal_sync(struct wal *w) {
    return w->ops->fdatasync(w->fd) == 0 ? OBK_OK : fail(errno);
}

static void encode_checkpoint(uint8_t *b, uint64_t lsn, uint32_t epoch) {
    memset(b, 0, WAL_CKPT_SIZE);
    codec_put_u32(b, WAL_MAGIC);
    codec_put_u16(b + 4, WAL_VERSION);
    codec_put_u64(b + 8, lsn);
    codec_put_u32(b + 16, epoch);
    codec_put_u32(b + 20, crc32c(0, b, 20));
}

int wal_checkpoint(struct wal *w, uint64_t lsn) {
    uint8_t b[WAL_CKPT_SIZE];
    OBK_ASSERT(lsn >= w->start_lsn && lsn <= next_lsn(w));
    encode_checkpoint(b, lsn, w->epoch);
    int rc = fsutil_write_file_sync(w->dirfd, WAL_CHECKPOINT_NAME, b, sizeof b);
    if (rc != OBK_OK) return rc;
    w->start_lsn = lsn;
    /* a file is wholly before lsn when the next one starts at or before it */
    size_t k = 0;
    while (k + 1 < w->nfiles && w->files[k + 1] <= lsn) {
        if ((rc = push_lsn(&w->free, &w->nfree, w->files[k])) != OBK_OK) break;
        k++;
    }
    memmove(w->files, w->files + k, (w->nfiles - k) * sizeof(*w->files));
    w->nfiles -= k;
    return rc;
}

uint64_t wal_end_lsn(const struct wal *w) {
    return next_lsn(w);
}

uint64_t wal_start_lsn(const struct wal *w) {
    return w->start_lsn;
}

uint64_t wal_pending_bytes(const struct wal *w) {
    return next_lsn(w) - w->start_lsn;
}

void wal_close(struct wal *w) {
    if (!w) return;
    if (w->fd >= 0) w->ops->close(w->fd);
    if (w->dirfd >= 0) close(w->dirfd);
    free(w->buf);
    free(w->files);
    free(w->free);
    free(w);
}

/* ---- the files of a log directory ---- */

struct wal_file {
    uint64_t first_lsn, size;
    int valid; /* its header checks */
};

static int cmp_file(const void *a, const void *b) {
    const struct wal_file *x = a, *y = b;
    return x->first_lsn < y->first_lsn ? -1 : x->first_lsn > y->first_lsn;
}

/* Lists wal-*.log files with their headers, sorted by first LSN. */
static int list_files(int wdir, struct wal_file **out, size_t *n) {
    int dfd = dup(wdir);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *de;
    struct wal_file *fs = NULL;
    size_t cnt = 0;
    int rc = OBK_OK;
    if (!d) {
        if (dfd >= 0) close(dfd);
        return OBK_ERR_IO;
    }
    while (rc == OBK_OK && (de = readdir(d)) != NULL) {
        uint64_t lsn;
        if (!parse_name(de->d_name, &lsn)) continue;
        struct wal_file f = {lsn, 0, 0};
        uint8_t h[WAL_FILE_HEADER_SIZE];
        int fd = openat(wdir, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        uint64_t hlsn;
        if (fd >= 0 && pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h &&
            decode_file_header(h, &hlsn, &f.size) == OBK_OK && hlsn == lsn)
            f.valid = 1;
        if (fd >= 0) close(fd);
        struct wal_file *nf = cnt < WAL_MAX_FILES ? realloc(fs, (cnt + 1) * sizeof(*fs)) : NULL;
        if (!nf) {
            rc = cnt < WAL_MAX_FILES ? OBK_ERR_NOMEM : OBK_ERR_CORRUPT;
            break;
        }
        fs = nf;
        fs[cnt++] = f;
    }
    closedir(d);
    if (rc != OBK_OK) {
        free(fs);
        return rc;
    }
    if (cnt > 1) qsort(fs, cnt, sizeof(*fs), cmp_file);
    *out = fs;
    *n = cnt;
    return OBK_OK;
}

static int read_checkpoint(int wdir, uint64_t *lsn, uint32_t *epoch) {
    uint8_t *b;
    size_t len;
    *lsn = 0;
    *epoch = 0;
    int rc = fsutil_read_file(wdir, WAL_CHECKPOINT_NAME, 64, &b, &len);
    if (rc == OBK_ERR_NOTFOUND) return OBK_OK;
    if (rc != OBK_OK) return rc;
    if (len != WAL_CKPT_SIZE || codec_get_u32(b) != WAL_MAGIC ||
        codec_get_u32(b + 20) != crc32c(0, b, 20)) {
        rc = OBK_ERR_CORRUPT;
    } else {
        *lsn = codec_get_u64(b + 8);
        *epoch = codec_get_u32(b + 16);
    }
    free(b);
    return rc;
}

static int open_wal_dir(int dirfd, int create, int *out) {
    if (create && mkdirat(dirfd, WAL_DIR_NAME, 0700) != 0 && errno != EEXIST) return fail(errno);
    int fd = openat(dirfd, WAL_DIR_NAME, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno == ENOENT ? OBK_ERR_NOTFOUND : fail(errno);
    if (create && fsync(dirfd) != 0) {
        close(fd);
        return fail(errno);
    }
    *out = fd;
    return OBK_OK;
}

/* Sorts the files of the directory: the valid ones from the file holding the start to the one
 * holding the end make the chain, the others are free for reuse, except valid files beyond the
 * end, which are removed. Returns the index of the file holding end_lsn, or SIZE_MAX. */
static int sort_files(struct wal *w, const struct wal_file *fs, size_t nfs, uint64_t start_lsn,
                      uint64_t end_lsn, size_t *cur) {
    int rc = OBK_OK, removed = 0;
    *cur = SIZE_MAX;
    for (size_t i = 0; i < nfs; i++)
        if (fs[i].valid && fs[i].first_lsn <= end_lsn) *cur = i;
    for (size_t i = 0; i < nfs && rc == OBK_OK; i++) {
        size_t next = i + 1;
        while (next < nfs && !fs[next].valid) next++;
        int before_start = next < nfs && next <= *cur && fs[next].first_lsn <= start_lsn;
        if (*cur != SIZE_MAX && fs[i].valid && i <= *cur && !before_start) {
            rc = push_lsn(&w->files, &w->nfiles, fs[i].first_lsn);
        } else if (fs[i].valid && fs[i].first_lsn > end_lsn) {
            char name[WAL_NAME_MAX];
            file_name(name, fs[i].first_lsn);
            if (w->ops->unlinkat(w->dirfd, name, 0) != 0) rc = fail(errno);
            removed = 1;
        } else {
            rc = push_lsn(&w->free, &w->nfree, fs[i].first_lsn);
        }
    }
    if (rc == OBK_OK && removed) rc = sync_dir(w);
    return rc;
}

/* Continues the log in file f at end_lsn: appends there when a record and an EOF still fit,
 * else ends it with an EOF record (the writer always left room for one). */
static int resume_in(struct wal *w, const struct wal_file *f, uint64_t end_lsn) {
    char name[WAL_NAME_MAX];
    file_name(name, f->first_lsn);
    w->fd = w->ops->openat(w->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->fd < 0) return fail(errno);
    w->first_lsn = f->first_lsn;
    w->cur_size = f->size;
    w->pos = WAL_FILE_HEADER_SIZE + (end_lsn - f->first_lsn);
    OBK_ASSERT(w->pos + WAL_REC_HEADER_SIZE <= w->cur_size);
    if (w->pos + 2 * WAL_REC_HEADER_SIZE <= w->cur_size && w->cur_size == w->file_bytes)
        return OBK_OK;
    return roll(w);
}

int wal_open(int dirfd, const struct wal_config *cfg, const struct wal_scan_report *rep,
             struct wal **out) {
    struct wal *w = calloc(1, sizeof(*w));
    struct wal_file *fs = NULL;
    size_t nfs = 0, cur;
    int rc;
    if (!w) return OBK_ERR_NOMEM;
    w->fd = w->dirfd = -1;
    w->ops = cfg->ops ? cfg->ops : &fileops_posix;
    w->file_bytes = cfg->file_bytes;
    w->start_lsn = rep->start_lsn;
    w->epoch = rep->epoch + 1;
    OBK_ASSERT(rep->start_lsn <= rep->end_lsn);
    if ((rc = open_wal_dir(dirfd, 1, &w->dirfd)) != OBK_OK) goto fail;
    if ((rc = list_files(w->dirfd, &fs, &nfs)) != OBK_OK) goto fail;
    if ((rc = sort_files(w, fs, nfs, rep->start_lsn, rep->end_lsn, &cur)) != OBK_OK) goto fail;
    if (cur != SIZE_MAX && fs[cur].first_lsn == rep->end_lsn) { /* holds nothing needed */
        w->nfiles--; /* the chain's last entry: made anew below */
        cur = SIZE_MAX;
    }
    if (cur != SIZE_MAX && !rep->ends_with_eof)
        rc = resume_in(w, &fs[cur], rep->end_lsn);
    else /* a new log, or the last file ended with EOF: the next file starts at the end */
        rc = switch_file(w, rep->end_lsn);
    if (rc != OBK_OK) goto fail;
    free(fs);
    *out = w;
    return OBK_OK;
fail:
    free(fs);
    wal_close(w);
    return rc;
}

/* ---- reader ---- */

/* The scan reads a file through a window of WAL_SCAN_WINDOW bytes (one pread per window, not two
 * per record: a replay of a gigabyte of small records is sequential reading). */
#define WAL_SCAN_WINDOW (1u << 20)

struct scan {
    int wdir;
    uint32_t epoch; /* the highest epoch so far: a record may not go below it */
    struct wal_file *fs;
    size_t nfs;
    uint8_t *buf; /* a record larger than the window */
    size_t cap;
    uint8_t *win; /* bytes [win_off, win_off + win_len) of file win_fd */
    uint64_t win_off;
    size_t win_len;
    int win_fd;
};

/* Bytes [pos, pos + len) of file fd (of size bytes), or NULL when they cannot be read. */
static const uint8_t *scan_bytes(struct scan *s, int fd, uint64_t size, uint64_t pos, size_t len) {
    if (pos + len > size) return NULL;
    if (len > WAL_SCAN_WINDOW) {
        if (len > s->cap) {
            uint8_t *nb = realloc(s->buf, len);
            if (!nb) return NULL;
            s->buf = nb;
            s->cap = len;
        }
        return pread(fd, s->buf, len, (off_t)pos) == (ssize_t)len ? s->buf : NULL;
    }
    if (s->win_fd == fd && pos >= s->win_off && pos + len <= s->win_off + s->win_len)
        return s->win + (pos - s->win_off);
    if (!s->win && !(s->win = malloc(WAL_SCAN_WINDOW))) return NULL;
    size_t want = size - pos < WAL_SCAN_WINDOW ? (size_t)(size - pos) : WAL_SCAN_WINDOW;
    ssize_t n = pread(fd, s->win, want, (off_t)pos);
    s->win_fd = -1;
    if (n < (ssize_t)len) return NULL;
    s->win_fd = fd;
    s->win_off = pos;
    s->win_len = (size_t)n;
    return s->win;
}

/* Reads the record at pos of file fd, expected at lsn. Returns 1 with it in *r, 0 when the
 * bytes there are not that record. */
static int read_rec(struct scan *s, int fd, uint64_t size, uint64_t pos, uint64_t lsn,
                    struct wal_rec *r) {
    const uint8_t *h = scan_bytes(s, fd, size, pos, WAL_REC_HEADER_SIZE);
    if (!h) return 0;
    uint32_t length = codec_get_u32(h);
    if (length < WAL_REC_HEADER_SIZE - 4 || pos + 4 + (uint64_t)length > size) return 0;
    uint32_t plen = length - (WAL_REC_HEADER_SIZE - 4);
    /* the whole record at once (the header again: the window may move) */
    const uint8_t *rec = scan_bytes(s, fd, size, pos, WAL_REC_HEADER_SIZE + (size_t)plen);
    if (!rec) return 0;
    h = rec;
    uint32_t crc = crc32c(0, h + 8, WAL_REC_HEADER_SIZE - 8 + (size_t)plen);
    if (crc != codec_get_u32(h + 4) || codec_get_u64(h + 8) != lsn) return 0;
    r->epoch = codec_get_u32(h + 16);
    if (r->epoch < s->epoch) return 0; /* written before a later opening: never synced */
    r->type = h[20];
    r->db = codec_get_u16(h + 22);
    r->topic = codec_get_u64(h + 24);
    r->aux1 = codec_get_u64(h + 32);
    r->aux2 = codec_get_u64(h + 40);
    r->lsn = lsn;
    r->payload = rec + WAL_REC_HEADER_SIZE;
    r->len = plen;
    return r->type == WAL_REC_WRITE || r->type == WAL_REC_EOF;
}

/* The valid file whose first LSN is lsn, or SIZE_MAX. */
static size_t file_at(const struct scan *s, uint64_t lsn) {
    for (size_t i = 0; i < s->nfs; i++)
        if (s->fs[i].valid && s->fs[i].first_lsn == lsn) return i;
    return SIZE_MAX;
}

/* Scans file i from lsn. Returns OBK_OK with *next_file set when it ended with EOF (SIZE_MAX
 * when no file follows), or at the end of the log; a status otherwise. */
static int scan_file(struct scan *s, size_t i, uint64_t lsn, int repair, wal_scan_cb cb, void *ctx,
                     struct wal_scan_report *rep, size_t *next_file) {
    char name[WAL_NAME_MAX];
    struct wal_rec r;
    int rc = OBK_OK;
    file_name(name, s->fs[i].first_lsn);
    int fd = openat(s->wdir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return OBK_ERR_IO;
    uint64_t pos = WAL_FILE_HEADER_SIZE + (lsn - s->fs[i].first_lsn);
    *next_file = SIZE_MAX;
    while (read_rec(s, fd, s->fs[i].size, pos, lsn, &r)) {
        pos += WAL_REC_HEADER_SIZE + r.len;
        lsn += WAL_REC_HEADER_SIZE + r.len;
        s->epoch = r.epoch;
        rep->end_lsn = lsn;
        rep->ends_with_eof = r.type == WAL_REC_EOF;
        if (r.type == WAL_REC_EOF) {
            *next_file = file_at(s, lsn);
            goto out;
        }
        rep->records++;
        rep->bytes += WAL_REC_HEADER_SIZE + r.len;
        if ((rc = cb(ctx, &r)) != OBK_OK) goto out;
    }
    /* not a record: the end of the log, unless the chain goes on in a later file */
    for (size_t j = 0; j < s->nfs; j++) {
        if (!s->fs[j].valid || s->fs[j].first_lsn <= s->fs[i].first_lsn) continue;
        rep->damaged = 1;
        snprintf(rep->damage, sizeof(rep->damage),
                 "write-ahead log %s: bad record at byte %" PRIu64 " (log position %" PRIu64 ")",
                 name, pos, lsn);
        if (!repair) rc = OBK_ERR_DAMAGED;
        break;
    }
out:
    s->win_fd = -1; /* the number may name another file next */
    close(fd);
    return rc;
}

int wal_scan(int dirfd, int repair, wal_scan_cb cb, void *ctx, struct wal_scan_report *rep) {
    struct scan s = {-1, 0, NULL, 0, NULL, 0, NULL, 0, 0, -1};
    memset(rep, 0, sizeof(*rep));
    int rc = open_wal_dir(dirfd, 0, &s.wdir);
    if (rc == OBK_ERR_NOTFOUND) return OBK_OK; /* no log yet */
    if (rc != OBK_OK) return rc;
    if ((rc = read_checkpoint(s.wdir, &rep->start_lsn, &s.epoch)) != OBK_OK) goto out;
    rep->end_lsn = rep->start_lsn;
    if ((rc = list_files(s.wdir, &s.fs, &s.nfs)) != OBK_OK) goto out;
    size_t i = SIZE_MAX; /* the file holding the start */
    for (size_t k = 0; k < s.nfs; k++)
        if (s.fs[k].valid && s.fs[k].first_lsn <= rep->start_lsn) i = k;
    uint64_t lsn = rep->start_lsn;
    while (i != SIZE_MAX && rc == OBK_OK) {
        size_t next = SIZE_MAX;
        rc = scan_file(&s, i, lsn, repair, cb, ctx, rep, &next);
        if (next == SIZE_MAX) break;
        i = next;
        lsn = s.fs[i].first_lsn;
    }
out:
    rep->epoch = s.epoch;
    free(s.fs);
    free(s.buf);
    free(s.win);
    if (s.wdir >= 0) close(s.wdir);
    return rc;
}
