/* snapshot.h - a consistent copy of a data set's files for a replica's full sync, taken
 * without copying: at a sync point (store_sync_point) every topic file is hard-linked under
 * <dir>/<name>/db<N>/<topic>/ and its size noted. Segments, indexes and groups.log only grow
 * after that, and the files that are replaced (topic.meta, checkpoint, groups.snap) or removed
 * (retention, DEL, compaction) are replaced by rename or unlink, which leaves the linked inode
 * alone: reading each link up to its noted size gives the data set of the sync point, however
 * long the transfer takes.
 *
 * Threads: created and removed by the thread that holds the store; the files may be read by
 * anyone. */
#ifndef OBK_SNAPSHOT_H
#define OBK_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

struct snapshot_file {
    char *path;    /* relative to the snapshot: "db<N>/<topic dir>/<file>" */
    uint64_t size; /* bytes at the sync point */
};

struct snapshot {
    int dirfd; /* the data directory (borrowed from the store) */
    char name[64];
    struct snapshot_file *files; /* each topic's files together, one topic after another */
    size_t nfiles, cap;
    uint64_t bytes; /* sum of the sizes */
};

/* Takes the sync point and links every file under <dir>/<name> (a leftover of that name is
 * removed first). */
int snapshot_create(struct store *s, const char *name, struct snapshot **out);
/* Opens file i of the snapshot for reading; -1 with errno on failure. */
int snapshot_open(const struct snapshot *sn, size_t i);
/* Removes the links and frees sn (NULL is fine). */
void snapshot_remove(struct snapshot *sn);

#endif
