/* fileops.c - the real file operations behind struct fileops (see fileops.h). Stateless. */
#include "storage/fileops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "base/status.h"

static int posix_openat(int dirfd, const char *path, int flags, mode_t mode) {
    return openat(dirfd, path, flags, mode);
}

static int posix_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat(olddirfd, oldpath, newdirfd, newpath);
}

const struct fileops fileops_posix = {
    .openat = posix_openat,
    .pwritev = pwritev,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .syncfs = syncfs,
    .close = close,
    .renameat = posix_renameat,
    .unlinkat = unlinkat,
};

int fileops_status(int err) {
    return (err == ENOSPC || err == EDQUOT) ? OBK_ERR_NOSPC : OBK_ERR_IO;
}
