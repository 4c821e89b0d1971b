/* iofault.h - fault injection for tests: a file-operation table that behaves like the real one
 * until a fault is armed (DEBUG IO-FAULT), and a one-shot failure of the next stream trim as out
 * of memory (DEBUG TRIM-FAULT), the one failure XADD must survive after storing its entry. */
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
/* DEBUG TRIM-FAULT arms it; the next trim takes it (1 once, then 0). Main thread. */
void iofault_arm_trim(void);
int iofault_take_trim(void);

#endif
