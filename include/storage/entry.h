/* entry.h - the read-side view of one stream entry, shared by the ring cache, record batches
 * and the topic read API. Pointers are valid only during the callback that receives them. */
#ifndef OBK_ENTRY_H
#define OBK_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "storage/sid.h"

struct obk_entry {
    sid_t id;
    uint64_t offset;          /* dense log offset (0 for the first entry ever added) */
    uint32_t nfields;         /* field/value pairs */
    const uint8_t *const *fv; /* 2 * nfields pointers: field0, value0, field1, ... */
    const size_t *fvlen;      /* their lengths */
};

/* Return 0 to continue, 1 to stop early, a negative status to abort with that status. */
typedef int (*obk_entry_cb)(void *ctx, const struct obk_entry *e);

#endif
