/* fsutil.c - small-file helpers shared by the store, recovery and the group store (see
 * fsutil.h). Used where the persist thread does not write: inside store_open (the server's
 * loader thread, before the persist thread starts), by store_close on the main thread after the
 * persist thread stopped (the clean-shutdown marker), and by obelisk-check. The persist thread
 * writes through its own file-operation table. */
#include "storage/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/status.h"

int fsutil_read_file(int dirfd, const char *name, size_t max, uint8_t **out, size_t *len) {
    int rc = OBK_ERR_IO;
    struct stat st;
    uint8_t *buf = NULL;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? OBK_ERR_NOTFOUND : OBK_ERR_IO;
    if (fstat(fd, &st) != 0) goto done;
    if ((uint64_t)st.st_size > max) {
        rc = OBK_ERR_CORRUPT;
        goto done;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = OBK_ERR_NOMEM;
        goto done;
    }
    if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) goto done;
    *out = buf;
    *len = (size_t)st.st_size;
    buf = NULL;
    rc = OBK_OK;
done:
    free(buf);
    close(fd);
    return rc;
}

int fsutil_write_file_sync(int dirfd, const char *name, const void *data, size_t len) {
    char tmp[300];
    int rc = OBK_ERR_IO;
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return OBK_ERR_IO;
    if (write(fd, data, len) == (ssize_t)len && fsync(fd) == 0 &&
        renameat(dirfd, tmp, dirfd, name) == 0 && fsync(dirfd) == 0)
        rc = OBK_OK;
    close(fd);
    return rc;
}

static int is_link(int dirfd, const char *name) {
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

int fsutil_find_link(int dirfd, const char *name, char *out, size_t outlen) {
    if (is_link(dirfd, name)) {
        snprintf(out, outlen, "%s", name);
        return 1;
    }
    int dfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    int found = 0;
    if (!d) {
        if (dfd >= 0) close(dfd);
        return 0;
    }
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        if (de->d_type != DT_LNK && (de->d_type != DT_UNKNOWN || !is_link(dfd, de->d_name)))
            continue;
        snprintf(out, outlen, "%s/%s", name, de->d_name);
        found = 1;
    }
    closedir(d);
    return found;
}

int fsutil_remove_tree(int dirfd, const char *name, int depth) {
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return OBK_OK;
    int dfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    int rc = OBK_OK;
    if (!d) {
        if (dfd >= 0) close(dfd);
        return OBK_ERR_IO;
    }
    struct dirent *de;
    while (rc == OBK_OK && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (unlinkat(dfd, de->d_name, 0) == 0) continue;
        rc = depth > 0 ? fsutil_remove_tree(dfd, de->d_name, depth - 1) : OBK_ERR_IO;
    }
    closedir(d);
    if (rc == OBK_OK && unlinkat(dirfd, name, AT_REMOVEDIR) != 0) rc = OBK_ERR_IO;
    return rc;
}

int fsutil_sync_dir_at(int dirfd, const char *rel) {
    int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return OBK_ERR_IO;
    int rc = fsync(fd) == 0 ? OBK_OK : OBK_ERR_IO;
    close(fd);
    return rc;
}
