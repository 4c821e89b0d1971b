/* recovery.h - opening a topic's log from disk: fast when the last stop was clean, otherwise a
 * scan from the checkpoint that verifies every batch, cuts a torn tail of the last segment and
 * refuses damage in an earlier one unless a repair is asked for. Called inside store_open (the
 * server's loader thread) before the persist thread starts, and by obelisk-check. */
#ifndef OBK_RECOVERY_H
#define OBK_RECOVERY_H

#include <stdint.h>

#include "storage/tlog.h"
#include "storage/tstate.h"

enum {
    RECOVERY_CLEAN = 1 << 0,    /* the clean-shutdown marker was present */
    RECOVERY_REPAIR = 1 << 1,   /* cut damage in earlier segments, dropping what follows */
    RECOVERY_FULL = 1 << 2,     /* scan every segment from its start (obelisk-check) */
    RECOVERY_READONLY = 1 << 3, /* change no file; report what would be cut */
};

struct recovery_report {
    int clean; /* opened from the checkpoint without scanning */
    uint64_t segments;
    uint64_t scanned_bytes;
    uint64_t batches;          /* batches verified */
    uint64_t truncated_bytes;  /* torn tail cut from the last segment (or that would be) */
    uint64_t dropped_segments; /* removed by a repair */
    uint64_t entries_lost;     /* DATA entries in what a repair cut */
    uint64_t indexes_rebuilt;
    int damaged;      /* damage found (repaired when RECOVERY_REPAIR) */
    char damage[200]; /* where, when damaged */
};

#define CHECKPOINT_NAME "checkpoint"

/* Fills t (initialised by the caller with tlog_init) and st from the topic directory dirfd.
 * OBK_ERR_DAMAGED (rep->damage says where) when an earlier segment is damaged and no repair was
 * asked; OBK_ERR_IO / OBK_ERR_NOMEM otherwise failing. */
int recovery_open_log(int dirfd, int flags, struct tlog *t, struct tstate *st,
                      struct recovery_report *rep);

/* Writes the checkpoint synchronously (tmp, fsync, rename, directory fsync): used at open after
 * a scan and by tools. The caller has made the covered log bytes durable. */
int recovery_write_checkpoint(int dirfd, const struct tstate *st, uint64_t seg_base, uint64_t pos);

#endif
