/* dirlock.h - one owner per data directory.
 *
 * A server (and obelisk-check --repair) takes an exclusive flock(2) on <dir>/LOCK before it reads
 * anything in the directory, and keeps it until the process ends (the kernel drops it on any
 * exit, kill -9 included, so a stale lock cannot block a restart). The holder writes its pid into
 * the file so that the one refused can name it. Any thread (start-up). */
#ifndef OBK_DIRLOCK_H
#define OBK_DIRLOCK_H

#include <sys/types.h>

#define DIRLOCK_NAME "LOCK"

/* Takes the lock on dir (created when missing). Returns OBK_OK with the descriptor to keep in
 * *fd; OBK_ERR_BUSY when another process holds it (*holder = its pid, 0 when unknown); or a
 * status for an I/O error (errno kept). */
int dirlock_acquire(const char *dir, int *fd, pid_t *holder);
/* 1 when another process holds dir's lock now (*holder = its pid, 0 when unknown), 0 when
 * nobody does; the lock is not kept. */
int dirlock_held_by_other(const char *dir, pid_t *holder);
/* Releases a lock taken by dirlock_acquire. */
void dirlock_release(int fd);

#endif
