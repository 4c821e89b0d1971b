/* psub.h - submissions for the persist thread (persist.h): file handles and the ordered file
 * operations of one submission, built on the main thread and handed over with persist_submit.
 * An operation owns a copy of the bytes it writes (or the buffer given to psub_write_owned). */
#ifndef OBK_PSUB_H
#define OBK_PSUB_H

#include <stddef.h>
#include <stdint.h>

struct pfile;
struct psub;

/* A handle for the file dirfd/name (name up to 63 bytes). The directory descriptor is borrowed
 * and must stay open until the file is freed through psub_free_file. Main thread. */
struct pfile *pfile_new(int dirfd, const char *name);

/* Submissions (main thread). Every function returns OBK_OK or OBK_ERR_NOMEM. */
struct psub *psub_new(void);
void psub_discard(struct psub *s); /* frees an unsubmitted submission */
/* Write len bytes at pos (copied; _owned takes a malloc'd buffer and frees it). The file is
 * created on first use and its directory fsynced. */
int psub_write(struct psub *s, struct pfile *pf, uint64_t pos, const void *data, size_t len);
int psub_write_owned(struct psub *s, struct pfile *pf, uint64_t pos, void *data, size_t len);
/* fdatasync the file now, whatever the policy (segment seal, before a checkpoint). */
int psub_sync(struct psub *s, struct pfile *pf);
/* Close the file (unlink it first when unlink is set, then fsync its directory) and free pf. */
int psub_free_file(struct psub *s, struct pfile *pf, int unlink);
/* Atomic replace: write name.tmp, fsync, rename over name, fsync dirfd. */
int psub_replace(struct psub *s, int dirfd, const char *name, const void *data, size_t len);
int psub_sync_dir(struct psub *s, int dirfd);
/* Remove directory dirfd/name and the files in it (one level), then fsync dirfd. */
int psub_rmtree(struct psub *s, int dirfd, const char *name);
/* Close a directory descriptor once everything before it ran. */
int psub_close_dir(struct psub *s, int dirfd);
int psub_empty(const struct psub *s);
size_t psub_bytes(const struct psub *s);
/* Names pf in the log: its writes become records of topic incarnation topic in database db,
 * file file_id (keydir.h). Files without a tag are synced per round as without a log. Main
 * thread, before the submission that writes pf (the thread reads it after). */
void pfile_set_wal_tag(struct pfile *pf, int db, uint64_t topic, uint64_t file_id);
/* Lets pf's logged writes wait in memory (persist_set_defer_bytes). Only for files nothing
 * reads while the server runs beyond what the cache's limit allows (segments and their
 * indexes); a file read back at run time (groups.log after an error) must not defer. Main
 * thread, before the submission that writes pf. */
void pfile_allow_deferred(struct pfile *pf);

#endif
