/* replapply.h - a replica's store applying its primary's replication records (replog.h).
 *
 * Each record goes through the same topic calls the primary's commands used: entries are
 * appended with their IDs (their dense offsets must come out equal, else the stream has
 * diverged), tombstones deleted by ID, trims moved to the primary's start offset, XSETID
 * values set, group records applied and queued unchanged for groups.log, settings stored, keys
 * deleted and renamed. The replica's own group commit then makes them durable under its own
 * fsync policy, with its own batch boundaries.
 *
 * Applying a record again is harmless, so a replica that crashed can continue from an offset it
 * saved behind its data: an entry already at its offset (same ID) is skipped, a deletion or
 * trim already done changes nothing, an XSETID already in place is skipped, group records set
 * values and converge; whatever does not fit (another entry at the offset, a group no longer
 * there) is OBK_ERR_CORRUPT, and the replica syncs in full instead.
 *
 * Threads: the thread that holds the store (the main thread). */
#ifndef OBK_REPLAPPLY_H
#define OBK_REPLAPPLY_H

#include <stddef.h>

#include "storage/replog.h"
#include "storage/store.h"

/* Progress inside one record, for a record stopped by backpressure. Zero it before each new
 * record. */
struct replapply {
    size_t body_pos; /* payload bytes (whole batches) already applied */
};

/* Applies r. OBK_OK when done. OBK_ERR_AGAIN (the cache is full of unwritten entries) or
 * OBK_ERR_NOFILES (no descriptor for a new topic): flush, then call again with the same record
 * and state; it resumes where it stopped. OBK_ERR_CORRUPT when the record does not fit the
 * replica's data (a damaged or diverged stream: the replica must sync again), other statuses
 * from storage (OBK_ERR_STICKY after an I/O error). */
int replapply_record(struct store *s, const struct replog_rec *r, struct replapply *st);

#endif
