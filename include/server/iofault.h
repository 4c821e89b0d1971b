/* iofault.h - I/O fault injection for tests (DEBUG IO-FAULT): a file-operation table that
 * behaves like the real one until a fault is armed. */
#ifndef OBK_IOFAULT_H
#define OBK_IOFAULT_H

#include "storage/fileops.h"

enum iofault_mode {
    IOFAULT_NONE = 0,
    IOFAULT_FSYNC_EIO = 1,    /* fdatasync/fsync fail with EIO */
    IOFAULT_WRITE_ENOSPC = 2, /* pwritev fails with ENOSPC */
    IOFAULT_FSYNC_SLOW = 3,   /* each fdatasync/fsync/syncfs takes IOFAULT_SLOW_MS longer */
};

#define IOFAULT_SLOW_MS 25

extern const struct fileops iofault_ops;
/* Arms or clears the fault; any thread may call it, the persist thread reads it. */
void iofault_set(int mode);
int iofault_get(void);

#endif
