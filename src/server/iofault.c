/* iofault.c - the file-operation table the server hands to the storage engine: the real system
 * calls, unless a test armed a fault with DEBUG IO-FAULT. The mode is an atomic read by the
 * persist thread on each call, so arming it needs no lock. */
#include "server/iofault.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>

static atomic_int fault_mode;
static int trim_fault; /* main thread only */

void iofault_arm_trim(void) {
    trim_fault = 1;
}

int iofault_take_trim(void) {
    int armed = trim_fault;
    trim_fault = 0;
    return armed;
}

void iofault_set(int mode) {
    atomic_store(&fault_mode, mode);
}

int iofault_get(void) {
    return atomic_load(&fault_mode);
}

/* IOFAULT_FSYNC_SLOW: a slow disk, for the latency monitor's fsync event. */
static void maybe_slow(void) {
    if (atomic_load(&fault_mode) != IOFAULT_FSYNC_SLOW) return;
    struct timespec ts = {0, IOFAULT_SLOW_MS * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int f_openat(int dirfd, const char *path, int flags, mode_t mode) {
    return fileops_posix.openat(dirfd, path, flags, mode);
}

static ssize_t f_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    if (atomic_load(&fault_mode) == IOFAULT_WRITE_ENOSPC) {
        errno = ENOSPC;
        return -1;
    }
    return fileops_posix.pwritev(fd, iov, iovcnt, offset);
}

static int f_fdatasync(int fd) {
    maybe_slow();
    if (atomic_load(&fault_mode) == IOFAULT_FSYNC_EIO) {
        errno = EIO;
        return -1;
    }
    return fileops_posix.fdatasync(fd);
}

static int f_fsync(int fd) {
    maybe_slow();
    if (atomic_load(&fault_mode) == IOFAULT_FSYNC_EIO) {
        errno = EIO;
        return -1;
    }
    return fileops_posix.fsync(fd);
}

static int f_syncfs(int fd) {
    maybe_slow();
    if (atomic_load(&fault_mode) == IOFAULT_FSYNC_EIO) {
        errno = EIO;
        return -1;
    }
    return fileops_posix.syncfs(fd);
}

static int f_close(int fd) {
    return fileops_posix.close(fd);
}

static int f_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return fileops_posix.renameat(olddirfd, oldpath, newdirfd, newpath);
}

static int f_unlinkat(int dirfd, const char *path, int flags) {
    return fileops_posix.unlinkat(dirfd, path, flags);
}

const struct fileops iofault_ops = {
    .openat = f_openat,
    .pwritev = f_pwritev,
    .fdatasync = f_fdatasync,
    .fsync = f_fsync,
    .syncfs = f_syncfs,
    .close = f_close,
    .renameat = f_renameat,
    .unlinkat = f_unlinkat,
};
