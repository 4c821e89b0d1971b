/* backup.h - online backups: BACKUP path copies the data set of one point of the write order
 * into a new directory while the server runs and writes go on; a server started on that
 * directory (or obelisk-check run on it) sees exactly the data set of that point.
 *
 * Main thread, except the copy, which a thread of its own does (backup.c). */
#ifndef OBK_BACKUP_H
#define OBK_BACKUP_H

#include <stdint.h>

struct backup_info {
    int in_progress;
    uint64_t bytes_total, bytes_done; /* of the running (or last) backup */
    uint64_t files_total, files_done, files_linked;
    long long last_ok_time; /* unix seconds of the last backup that succeeded, 0: none */
    int last_status;        /* 0 ok, else the storage status of the last one that failed */
    long long last_usec;    /* how long the last one took */
    long long saves;        /* backups that succeeded since the start */
    long long start_time;   /* unix seconds when the running (or last) one started */
};
void backup_get_info(struct backup_info *out);
/* Stops a running backup's thread at shutdown (its directory is left incomplete). */
void backup_shutdown(void);

#endif
