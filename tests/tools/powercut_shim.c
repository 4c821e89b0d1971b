/* powercut_shim.c - an LD_PRELOAD library that records what a process made durable, for the
 * power-cut test (tests/integration/test_powercut.c, which applies the record after a SIGKILL
 * with tests/lib/powercut.c; format and model in tests/lib/powercut.h).
 *
 * Active only when OBK_PC_LOG (the record, appended), OBK_PC_ROOT (the data directory, which
 * must exist at start) and OBK_PC_STASH (an empty directory on the same filesystem) are set.
 * It wraps the calls that create, rename, remove, truncate and sync files (the open family
 * with openat/openat64 and the _FORTIFY_SOURCE entry points, mkdir/mkdirat, rename/renameat/
 * renameat2, unlink/unlinkat/rmdir, ftruncate/truncate, fsync/fdatasync/syncfs/sync) and the
 * positioned writes (pwrite/pwritev and their 64-bit and v2 forms, to notice a write into
 * bytes that already existed). Each wrapper runs the real call, then appends one line per
 * event with a single write(2), so a line is in the record before the call returns and
 * survives a SIGKILL. A file about to be unlinked or replaced by a rename is first hard-linked
 * into the stash (named by its inode number), so its durable content can be put back.
 * Calls it cannot model (fallocate, link, O_TMPFILE, RENAME_EXCHANGE, a rename over a
 * directory) are recorded as "X" so the test fails rather than trusting a wrong model.
 *
 * Ordering: a namespace or truncate event takes the key 2n after the call returned (n from one
 * atomic counter); a sync takes 2n+1 with n read before the call: sorted by key, a sync covers
 * exactly the events that completed before it started. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int logfd = -1, stashfd = -1;
static dev_t root_dev;
static char root_path[PATH_MAX];
static atomic_ullong counter;

/* ---- the real functions ---- */
#define REAL(name, type)                                                                           \
    static type real_##name;                                                                       \
    static type get_##name(void) {                                                                 \
        if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name);                             \
        return real_##name;                                                                        \
    }

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*creat_fn)(const char *, mode_t);
typedef int (*mkdirat_fn)(int, const char *, mode_t);
typedef int (*mkdir_fn)(const char *, mode_t);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned int);
typedef int (*unlink_fn)(const char *);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*fd_fn)(int);
typedef void (*sync_fn)(void);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*ftruncate64_fn)(int, off64_t);
typedef int (*truncate_fn)(const char *, off_t);
typedef int (*truncate64_fn)(const char *, off64_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off64_t);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*pwritev64_fn)(int, const struct iovec *, int, off64_t);
typedef ssize_t (*pwritev2_fn)(int, const struct iovec *, int, off_t, int);
typedef ssize_t (*pwritev64v2_fn)(int, const struct iovec *, int, off64_t, int);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*fallocate64_fn)(int, int, off64_t, off64_t);
typedef int (*posix_fallocate_fn)(int, off_t, off_t);
typedef int (*posix_fallocate64_fn)(int, off64_t, off64_t);
typedef int (*link_fn)(const char *, const char *);
typedef int (*linkat_fn)(int, const char *, int, const char *, int);

REAL(open, open_fn)
REAL(open64, open_fn)
REAL(openat, openat_fn)
REAL(openat64, openat_fn)
REAL(__open_2, open2_fn)
REAL(__open64_2, open2_fn)
REAL(__openat_2, openat2_fn)
REAL(__openat64_2, openat2_fn)
REAL(creat, creat_fn)
REAL(creat64, creat_fn)
REAL(mkdir, mkdir_fn)
REAL(mkdirat, mkdirat_fn)
REAL(rename, rename_fn)
REAL(renameat, renameat_fn)
REAL(renameat2, renameat2_fn)
REAL(unlink, unlink_fn)
REAL(unlinkat, unlinkat_fn)
REAL(rmdir, unlink_fn)
REAL(fsync, fd_fn)
REAL(fdatasync, fd_fn)
REAL(syncfs, fd_fn)
REAL(sync, sync_fn)
REAL(ftruncate, ftruncate_fn)
REAL(ftruncate64, ftruncate64_fn)
REAL(truncate, truncate_fn)
REAL(truncate64, truncate64_fn)
REAL(pwrite, pwrite_fn)
REAL(pwrite64, pwrite64_fn)
REAL(pwritev, pwritev_fn)
REAL(pwritev64, pwritev64_fn)
REAL(pwritev2, pwritev2_fn)
REAL(pwritev64v2, pwritev64v2_fn)
REAL(fallocate, fallocate_fn)
REAL(fallocate64, fallocate64_fn)
REAL(posix_fallocate, posix_fallocate_fn)
REAL(posix_fallocate64, posix_fallocate64_fn)
REAL(link, link_fn)
REAL(linkat, linkat_fn)

/* ---- the record ---- */
static void emit(const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(logfd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        buf += w;
        n -= (size_t)w;
    }
}

static void logf_line(const char *fmt, ...) {
    char line[PATH_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof line) emit(line, (size_t)n);
}

/* The key of an event that just completed. */
static unsigned long long done_key(void) {
    return 2 * (atomic_fetch_add(&counter, 1) + 1);
}

/* The key of a sync about to start. */
static unsigned long long start_key(void) {
    return 2 * atomic_load(&counter) + 1;
}

static void unsupported(const char *what) {
    if (logfd >= 0) logf_line("X %llu %s\n", done_key(), what);
}

/* A name with a space or newline cannot be recorded; the data directory has none. */
static int plain_name(const char *s) {
    for (; *s; s++)
        if (*s == ' ' || *s == '\n') return 0;
    return 1;
}

/* The parent directory (inode) and last component of dirfd/path, when the parent is on the
 * data directory's filesystem. Returns 0 then, -1 otherwise. */
static int set_name(char *base, const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX) return -1;
    memcpy(base, name, n + 1);
    return 0;
}

static int parent_of(int dirfd, const char *path, ino_t *pino, char *base) {
    char buf[PATH_MAX];
    struct stat st;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, path, len + 1);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
    char *slash = strrchr(buf, '/');
    int rc;
    if (!slash) {
        if (set_name(base, buf) != 0) return -1;
        rc = dirfd == AT_FDCWD ? stat(".", &st) : fstat(dirfd, &st);
    } else {
        if (set_name(base, slash + 1) != 0) return -1;
        if (slash == buf)
            buf[1] = '\0';
        else
            *slash = '\0';
        rc = fstatat(dirfd, buf, &st, 0);
    }
    if (rc != 0 || st.st_dev != root_dev || !plain_name(base)) return -1;
    *pino = st.st_ino;
    return 0;
}

/* Keeps the inode at dirfd/path alive under the stash (a regular file about to lose a name),
 * so its durable content can be restored. */
static void stash(int dirfd, const char *path, const struct stat *st) {
    char name[32];
    if (!S_ISREG(st->st_mode)) return;
    snprintf(name, sizeof name, "%llu", (unsigned long long)st->st_ino);
    if (get_linkat()(dirfd, path, stashfd, name, 0) != 0 && errno != EEXIST)
        logf_line("X %llu stash-link-failed:%s\n", done_key(), strerror(errno));
}

/* ---- creating ---- */
struct open_ctx {
    int tracked, existed;
    ino_t pino;
    char base[NAME_MAX + 1];
};

static void open_pre(int dirfd, const char *path, int flags, struct open_ctx *o) {
    struct stat st;
    o->tracked = 0;
    if (logfd < 0) return;
#ifdef O_TMPFILE
    if ((flags & O_TMPFILE) == O_TMPFILE) {
        unsupported("O_TMPFILE");
        return;
    }
#endif
    if (!(flags & (O_CREAT | O_TRUNC))) return;
    if (parent_of(dirfd, path, &o->pino, o->base) != 0) return;
    o->tracked = 1;
    o->existed = fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int open_post(const struct open_ctx *o, int fd, int flags) {
    struct stat st;
    if (!o->tracked || fd < 0) return fd;
    int saved = errno;
    if (fstat(fd, &st) == 0) {
        if ((flags & O_CREAT) && !o->existed)
            logf_line("C %llu %llu %llu %c %s\n", done_key(), (unsigned long long)o->pino,
                      (unsigned long long)st.st_ino, S_ISDIR(st.st_mode) ? 'd' : 'f', o->base);
        else if ((flags & O_TRUNC) && S_ISREG(st.st_mode) && (flags & O_ACCMODE) != O_RDONLY)
            logf_line("T %llu %llu 0\n", done_key(), (unsigned long long)st.st_ino);
    }
    errno = saved;
    return fd;
}

static mode_t mode_arg(int flags, va_list ap) {
    int need = (flags & O_CREAT) != 0;
#ifdef O_TMPFILE
    need = need || (flags & O_TMPFILE) == O_TMPFILE;
#endif
    return need ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_WRAPPER(name)                                                                         \
    int name(const char *path, int flags, ...) {                                                   \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode_t mode = mode_arg(flags, ap);                                                         \
        va_end(ap);                                                                                \
        struct open_ctx o;                                                                         \
        open_pre(AT_FDCWD, path, flags, &o);                                                       \
        return open_post(&o, get_##name()(path, flags, mode), flags);                              \
    }
#define OPENAT_WRAPPER(name)                                                                       \
    int name(int dirfd, const char *path, int flags, ...) {                                        \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode_t mode = mode_arg(flags, ap);                                                         \
        va_end(ap);                                                                                \
        struct open_ctx o;                                                                         \
        open_pre(dirfd, path, flags, &o);                                                          \
        return open_post(&o, get_##name()(dirfd, path, flags, mode), flags);                       \
    }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

/* _FORTIFY_SOURCE's checked entry points (no mode: never a create). */
int __open_2(const char *path, int flags) {
    struct open_ctx o;
    open_pre(AT_FDCWD, path, flags, &o);
    return open_post(&o, get___open_2()(path, flags), flags);
}
int __open64_2(const char *path, int flags) {
    struct open_ctx o;
    open_pre(AT_FDCWD, path, flags, &o);
    return open_post(&o, get___open64_2()(path, flags), flags);
}
int __openat_2(int dirfd, const char *path, int flags) {
    struct open_ctx o;
    open_pre(dirfd, path, flags, &o);
    return open_post(&o, get___openat_2()(dirfd, path, flags), flags);
}
int __openat64_2(int dirfd, const char *path, int flags) {
    struct open_ctx o;
    open_pre(dirfd, path, flags, &o);
    return open_post(&o, get___openat64_2()(dirfd, path, flags), flags);
}

int creat(const char *path, mode_t mode) {
    struct open_ctx o;
    int flags = O_CREAT | O_WRONLY | O_TRUNC;
    open_pre(AT_FDCWD, path, flags, &o);
    return open_post(&o, get_creat()(path, mode), flags);
}
int creat64(const char *path, mode_t mode) {
    struct open_ctx o;
    int flags = O_CREAT | O_WRONLY | O_TRUNC;
    open_pre(AT_FDCWD, path, flags, &o);
    return open_post(&o, get_creat64()(path, mode), flags);
}

static int mkdir_post(int dirfd, const char *path, int rc) {
    ino_t pino;
    char base[NAME_MAX + 1];
    struct stat st;
    if (rc != 0 || logfd < 0) return rc;
    int saved = errno;
    if (parent_of(dirfd, path, &pino, base) == 0 &&
        fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
        logf_line("C %llu %llu %llu d %s\n", done_key(), (unsigned long long)pino,
                  (unsigned long long)st.st_ino, base);
    errno = saved;
    return rc;
}

int mkdir(const char *path, mode_t mode) {
    return mkdir_post(AT_FDCWD, path, get_mkdir()(path, mode));
}
int mkdirat(int dirfd, const char *path, mode_t mode) {
    return mkdir_post(dirfd, path, get_mkdirat()(dirfd, path, mode));
}

/* ---- renaming and removing ---- */
struct name_ctx {
    int tracked;
    ino_t pino, ino;
    char base[NAME_MAX + 1];
};

static void name_pre(int dirfd, const char *path, struct name_ctx *n, struct stat *st) {
    n->tracked = 0;
    if (logfd < 0 || parent_of(dirfd, path, &n->pino, n->base) != 0) return;
    if (fstatat(dirfd, path, st, AT_SYMLINK_NOFOLLOW) != 0) return;
    n->ino = st->st_ino;
    n->tracked = 1;
}

static int do_rename(int odir, const char *old, int ndir, const char *new, unsigned flags,
                     int which) {
    struct name_ctx s, d;
    struct stat sst, dst;
    name_pre(odir, old, &s, &sst);
    name_pre(ndir, new, &d, &dst);
    if (s.tracked || d.tracked) {
        if (flags & RENAME_EXCHANGE)
            unsupported("rename-exchange");
        else if (d.tracked && S_ISDIR(dst.st_mode))
            unsupported("rename-over-directory");
        else if (d.tracked)
            stash(ndir, new, &dst);
    }
    if (!d.tracked && logfd >= 0) { /* a new name: only its parent is needed */
        if (parent_of(ndir, new, &d.pino, d.base) == 0) d.tracked = 2;
    }
    int rc;
    if (which == 0)
        rc = get_rename()(old, new);
    else if (which == 1)
        rc = get_renameat()(odir, old, ndir, new);
    else
        rc = get_renameat2()(odir, old, ndir, new, flags);
    if (rc == 0 && s.tracked && d.tracked) {
        int saved = errno;
        logf_line("N %llu %llu %s %llu %s %llu\n", done_key(), (unsigned long long)s.pino, s.base,
                  (unsigned long long)d.pino, d.base, (unsigned long long)s.ino);
        errno = saved;
    }
    return rc;
}

int rename(const char *old, const char *new) {
    return do_rename(AT_FDCWD, old, AT_FDCWD, new, 0, 0);
}
int renameat(int odir, const char *old, int ndir, const char *new) {
    return do_rename(odir, old, ndir, new, 0, 1);
}
int renameat2(int odir, const char *old, int ndir, const char *new, unsigned int flags) {
    return do_rename(odir, old, ndir, new, flags, 2);
}

static int do_unlink(int dirfd, const char *path, int flags, int which) {
    struct name_ctx n;
    struct stat st;
    name_pre(dirfd, path, &n, &st);
    if (n.tracked) stash(dirfd, path, &st);
    int rc;
    if (which == 0)
        rc = get_unlink()(path);
    else if (which == 1)
        rc = get_rmdir()(path);
    else
        rc = get_unlinkat()(dirfd, path, flags);
    if (rc == 0 && n.tracked) {
        int saved = errno;
        logf_line("U %llu %llu %s %llu\n", done_key(), (unsigned long long)n.pino, n.base,
                  (unsigned long long)n.ino);
        errno = saved;
    }
    return rc;
}

int unlink(const char *path) {
    return do_unlink(AT_FDCWD, path, 0, 0);
}
int rmdir(const char *path) {
    return do_unlink(AT_FDCWD, path, AT_REMOVEDIR, 1);
}
int unlinkat(int dirfd, const char *path, int flags) {
    return do_unlink(dirfd, path, flags, 2);
}

int link(const char *old, const char *new) {
    unsupported("link");
    return get_link()(old, new);
}
int linkat(int odir, const char *old, int ndir, const char *new, int flags) {
    unsupported("linkat");
    return get_linkat()(odir, old, ndir, new, flags);
}

/* ---- truncating and writing ---- */
static void truncated(int fd, const char *path, long long len) {
    struct stat st;
    if (logfd < 0) return;
    int saved = errno;
    int rc = path ? stat(path, &st) : fstat(fd, &st);
    if (rc == 0 && st.st_dev == root_dev && S_ISREG(st.st_mode))
        logf_line("T %llu %llu %lld\n", done_key(), (unsigned long long)st.st_ino, len);
    errno = saved;
}

int ftruncate(int fd, off_t len) {
    int rc = get_ftruncate()(fd, len);
    if (rc == 0) truncated(fd, NULL, (long long)len);
    return rc;
}
int ftruncate64(int fd, off64_t len) {
    int rc = get_ftruncate64()(fd, len);
    if (rc == 0) truncated(fd, NULL, (long long)len);
    return rc;
}
int truncate(const char *path, off_t len) {
    int rc = get_truncate()(path, len);
    if (rc == 0) truncated(-1, path, (long long)len);
    return rc;
}
int truncate64(const char *path, off64_t len) {
    int rc = get_truncate64()(path, len);
    if (rc == 0) truncated(-1, path, (long long)len);
    return rc;
}

/* A positioned write below the file's current end rewrites bytes that may be durable: recorded
 * ("O"), so the model can tell whether a cut would keep bytes the disk never had. */
struct write_ctx {
    int overwrite;
    ino_t ino;
};

static void write_pre(int fd, long long off, struct write_ctx *w) {
    struct stat st;
    w->overwrite = 0;
    w->ino = 0;
    if (logfd < 0 || off < 0 || fstat(fd, &st) != 0) return;
    if (st.st_dev != root_dev || !S_ISREG(st.st_mode) || off >= (long long)st.st_size) return;
    w->overwrite = 1;
    w->ino = st.st_ino;
}

static ssize_t write_post(const struct write_ctx *w, long long off, ssize_t n) {
    if (w->overwrite && n > 0) {
        int saved = errno;
        logf_line("O %llu %llu %lld %lld\n", done_key(), (unsigned long long)w->ino, off,
                  (long long)n);
        errno = saved;
    }
    return n;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    struct write_ctx w;
    write_pre(fd, off, &w);
    return write_post(&w, off, get_pwrite()(fd, buf, n, off));
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
    struct write_ctx w;
    write_pre(fd, off, &w);
    return write_post(&w, off, get_pwrite64()(fd, buf, n, off));
}
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    struct write_ctx w;
    write_pre(fd, off, &w);
    return write_post(&w, off, get_pwritev()(fd, iov, cnt, off));
}
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off) {
    struct write_ctx w;
    write_pre(fd, off, &w);
    return write_post(&w, off, get_pwritev64()(fd, iov, cnt, off));
}
ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    struct write_ctx w;
    write_pre(fd, off, &w);
    return write_post(&w, off, get_pwritev2()(fd, iov, cnt, off, flags));
}
ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags) {
    struct write_ctx w;
    write_pre(fd, off, &w);
    return write_post(&w, off, get_pwritev64v2()(fd, iov, cnt, off, flags));
}

int fallocate(int fd, int mode, off_t off, off_t len) {
    unsupported("fallocate");
    return get_fallocate()(fd, mode, off, len);
}
int fallocate64(int fd, int mode, off64_t off, off64_t len) {
    unsupported("fallocate");
    return get_fallocate64()(fd, mode, off, len);
}
int posix_fallocate(int fd, off_t off, off_t len) {
    unsupported("posix_fallocate");
    return get_posix_fallocate()(fd, off, len);
}
int posix_fallocate64(int fd, off64_t off, off64_t len) {
    unsupported("posix_fallocate");
    return get_posix_fallocate64()(fd, off, len);
}

/* ---- syncing ---- */
/* CLOCK_MONOTONIC in microseconds: sync lines end with the call's start and end, on the clock
 * the test reads too. */
static long long mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int sync_one(int fd, fd_fn real, const char *kind) {
    struct stat st;
    if (logfd < 0) return real(fd);
    unsigned long long key = start_key();
    int have = fstat(fd, &st) == 0 && st.st_dev == root_dev;
    long long t0 = mono_us();
    int rc = real(fd);
    if (rc == 0 && have) {
        int saved = errno;
        long long t1 = mono_us();
        if (S_ISDIR(st.st_mode))
            logf_line("D %llu %llu %lld %lld\n", key, (unsigned long long)st.st_ino, t0, t1);
        else if (S_ISREG(st.st_mode))
            logf_line("F %llu %llu %lld %s %lld %lld\n", key, (unsigned long long)st.st_ino,
                      (long long)st.st_size, kind, t0, t1);
        errno = saved;
    }
    return rc;
}

int fsync(int fd) {
    return sync_one(fd, get_fsync(), "fsync");
}
int fdatasync(int fd) {
    return sync_one(fd, get_fdatasync(), "fdatasync");
}

/* Text being built: the tree walks append here. */
struct text {
    char *p;
    size_t n, cap;
};

static void text_add(struct text *t, const char *fmt, ...) {
    char line[PATH_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n <= 0 || (size_t)n >= sizeof line) return;
    if (t->n + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->n + (size_t)n + 1) cap *= 2;
        char *np = realloc(t->p, cap);
        if (!np) return;
        t->p = np;
        t->cap = cap;
    }
    memcpy(t->p + t->n, line, (size_t)n);
    t->n += (size_t)n;
}

/* Walks the tree under dirfd (inode dino): "B" lines (every entry, at start) or "Z" lines
 * (the size of every regular file, before a syncfs). */
static void walk(int dirfd, ino_t dino, int baseline, unsigned long long key, struct text *t,
                 int depth) {
    int fd = get_openat()(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;
        if (!plain_name(de->d_name)) continue;
        if (baseline)
            text_add(t, "B 0 %llu %llu %c %lld %s\n", (unsigned long long)dino,
                     (unsigned long long)st.st_ino, S_ISDIR(st.st_mode) ? 'd' : 'f',
                     (long long)st.st_size, de->d_name);
        else if (S_ISREG(st.st_mode))
            text_add(t, "Z %llu %llu %lld\n", key, (unsigned long long)st.st_ino,
                     (long long)st.st_size);
        if (S_ISDIR(st.st_mode) && depth < 16) {
            int sub =
                get_openat()(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                walk(sub, st.st_ino, baseline, key, t, depth + 1);
                close(sub);
            }
        }
    }
    closedir(d);
}

static int walk_root(int baseline, unsigned long long key, struct text *t) {
    struct stat st;
    int fd = get_open()(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (fstat(fd, &st) == 0) {
        if (baseline) text_add(t, "ROOT %llu\n", (unsigned long long)st.st_ino);
        walk(fd, st.st_ino, baseline, key, t, 0);
    }
    close(fd);
    return 0;
}

/* syncfs/sync: every file of the filesystem. The sizes are taken before the call, the lines
 * (Z..., then S) written after it returned. */
static int sync_all(int fd, fd_fn real_fd, sync_fn real_all, const char *kind) {
    struct stat st;
    int rc = 0;
    if (logfd < 0 || (fd >= 0 && (fstat(fd, &st) != 0 || st.st_dev != root_dev))) {
        if (real_fd) return real_fd(fd);
        real_all();
        return 0;
    }
    unsigned long long key = start_key();
    struct text t = {0};
    walk_root(0, key, &t);
    long long t0 = mono_us();
    if (real_fd)
        rc = real_fd(fd);
    else
        real_all();
    if (rc == 0) {
        int saved = errno;
        text_add(&t, "S %llu %s %lld %lld\n", key, kind, t0, mono_us());
        if (t.p) emit(t.p, t.n);
        errno = saved;
    }
    free(t.p);
    return rc;
}

int syncfs(int fd) {
    return sync_all(fd, get_syncfs(), NULL, "syncfs");
}
void sync(void) {
    sync_all(-1, NULL, get_sync(), "sync");
}

/* ---- start ---- */
__attribute__((constructor)) static void shim_init(void) {
    const char *logp = getenv("OBK_PC_LOG"), *root = getenv("OBK_PC_ROOT");
    const char *stashp = getenv("OBK_PC_STASH");
    struct stat st;
    if (!logp || !root || !stashp || strlen(root) >= sizeof root_path) return;
    int fd = get_open()(logp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    /* high descriptors, out of the way of the program's own numbering */
    logfd = fcntl(fd, F_DUPFD_CLOEXEC, 900);
    if (logfd < 0)
        logfd = fd;
    else
        close(fd);
    snprintf(root_path, sizeof root_path, "%s", root);
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        logf_line("X 0 root-missing\n");
        logfd = -1;
        return;
    }
    root_dev = st.st_dev;
    fd = get_open()(stashp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_dev != root_dev) {
        logf_line("X 0 stash-unusable\n");
        if (fd >= 0) close(fd);
        logfd = -1;
        return;
    }
    stashfd = fcntl(fd, F_DUPFD_CLOEXEC, 900);
    if (stashfd < 0)
        stashfd = fd;
    else
        close(fd);
    struct text t = {0};
    text_add(&t, "P %ld\n", (long)getpid());
    walk_root(1, 0, &t);
    if (t.p) emit(t.p, t.n);
    free(t.p);
}
