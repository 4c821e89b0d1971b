/* dirlock.c - one owner per data directory (see dirlock.h).
 *
 * Design: flock(2) on a file inside the directory, not a pid file: the kernel releases it when
 * the holder dies, so there is nothing stale to clean after a crash, and two processes cannot
 * both believe they won. The pid written into the file is information for the message only;
 * the lock is the truth. The file is opened O_CLOEXEC so that no child inherits it. Any thread
 * (start-up). */
#include "storage/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/status.h"

static int open_lock_file(const char *dir, int create) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, DIRLOCK_NAME) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
}

static pid_t read_holder(int fd) {
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    long v = n > 0 ? strtol(buf, NULL, 10) : 0;
    return v > 0 ? (pid_t)v : 0;
}

int dirlock_acquire(const char *dir, int *fd_out, pid_t *holder) {
    int rc = OBK_OK;
    *holder = 0;
    int fd = open_lock_file(dir, 1);
    if (fd < 0) return errno == ENOSPC ? OBK_ERR_NOSPC : OBK_ERR_IO;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? OBK_ERR_BUSY : OBK_ERR_IO;
        if (rc == OBK_ERR_BUSY) *holder = read_holder(fd);
        goto fail;
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        rc = errno == ENOSPC ? OBK_ERR_NOSPC : OBK_ERR_IO;
        goto fail;
    }
    *fd_out = fd;
    return OBK_OK;
fail : {
    int saved = errno;
    close(fd);
    errno = saved;
}
    return rc;
}

int dirlock_held_by_other(const char *dir, pid_t *holder) {
    *holder = 0;
    int fd = open_lock_file(dir, 0);
    if (fd < 0) return 0; /* no lock file: nobody ever locked it */
    int held = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        held = errno == EWOULDBLOCK;
        if (held) *holder = read_holder(fd);
    }
    close(fd); /* drops the shared lock, if taken */
    return held;
}

void dirlock_release(int fd) {
    if (fd >= 0) close(fd);
}
