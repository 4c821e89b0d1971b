/* fileops.h - the table of file operations the persist thread calls, so tests can inject EIO,
 * ENOSPC and short writes. Each member behaves like the libc call of the same name (returns -1
 * and sets errno on failure). */
#ifndef OBK_FILEOPS_H
#define OBK_FILEOPS_H

#include <sys/types.h>
#include <sys/uio.h>

struct fileops {
    int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t offset);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*syncfs)(int fd);
    int (*close)(int fd);
    int (*renameat)(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
    int (*unlinkat)(int dirfd, const char *path, int flags);
};

/* The real system calls. */
extern const struct fileops fileops_posix;

/* Maps an errno value to a status code (ENOSPC/EDQUOT -> OBK_ERR_NOSPC, else OBK_ERR_IO). */
int fileops_status(int err);

#endif
