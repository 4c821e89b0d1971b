/* fsutil.h - whole-file reads and the durable replace (tmp, fsync, rename, directory fsync) for
 * the small files of a data directory: markers, topic.meta, checkpoints, group snapshots. */
#ifndef OBK_FSUTIL_H
#define OBK_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Reads dirfd/name (no symlinks) into a malloc'd buffer (one spare byte for a NUL).
 * OBK_ERR_NOTFOUND when missing, OBK_ERR_CORRUPT when larger than max, OBK_ERR_IO. */
int fsutil_read_file(int dirfd, const char *name, size_t max, uint8_t **out, size_t *len);
/* Replaces dirfd/name durably: writes name.tmp, fsyncs it, renames it over name, fsyncs the
 * directory (in that order, so a crash leaves the old or the new file, never a mix). */
int fsutil_write_file_sync(int dirfd, const char *name, const void *data, size_t len);
/* fsyncs the directory dirfd/rel. OBK_OK or OBK_ERR_IO. */
int fsutil_sync_dir_at(int dirfd, const char *rel);
/* Names a symbolic link that would make opening dirfd/name fail (files are opened without
 * following links): name itself, or one of its entries when it is a directory. Returns 1 with
 * "name" or "name/entry" in out, 0 when there is none. For error messages. */
int fsutil_find_link(int dirfd, const char *name, char *out, size_t outlen);
/* Removes dirfd/name and everything under it (no links followed, at most depth levels of
 * directories). OBK_OK when it is gone (or was never there), else OBK_ERR_IO. */
int fsutil_remove_tree(int dirfd, const char *name, int depth);

#endif
