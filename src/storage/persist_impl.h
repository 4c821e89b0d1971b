/* persist_impl.h - the inside of a submission, shared by the code that builds submissions
 * (psub.c, the main thread) and the persist thread that runs them (persist.c): the file handle,
 * the operation and the submission. No header under include/ includes it.
 *
 * Ownership: a submission and its operations belong to the main thread until persist_submit,
 * then to the persist thread; a pfile's tag fields are set by the main thread before the
 * submission that first writes it, everything else in it is the persist thread's. */
#ifndef OBK_PERSIST_IMPL_H
#define OBK_PERSIST_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "storage/fdlru.h"

#define PFILE_NAME_MAX 64

struct pfile {
    int dirfd;
    int fd;
    size_t dirty;    /* written (not through the log) since its last fsync: 1 + place in dirty */
    size_t behind;   /* written through the log since its last fsync: 1 + place in behind */
    int tagged;      /* its writes go through the log (pfile_set_wal_tag) */
    uint16_t wal_db; /* the names its records carry */
    uint64_t wal_topic, wal_file;
    uint64_t round;  /* the last batch that wrote it (px_round_logs counts files once) */
    int deferrable;  /* its logged writes may wait in memory (pfile_allow_deferred) */
    int exists;      /* opened or created (its name durable) since the handle was made */
    size_t deferred; /* bytes wait in dbuf: 1 + place in the deferred list */
    uint8_t *dbuf;   /* logged bytes [dpos, dpos + dlen) not yet in the file */
    size_t dlen, dcap;
    uint64_t dpos;
    struct fdlru_node lnode;       /* fd's place in the write LRU */
    char name[PFILE_NAME_MAX + 8]; /* room for a ".tmp" suffix */
};

enum pop_kind {
    POP_WRITE,
    POP_SYNC,
    POP_FREE,
    POP_REPLACE,
    POP_SYNC_DIR,
    POP_RMTREE,
    POP_CLOSE_DIR
};

struct pop {
    struct pop *next;
    int kind;
    struct pfile *pf;
    int dirfd;
    int flag; /* POP_FREE: unlink; POP_REPLACE: 1 its temporary file is ready, 2 it is renamed
               * too (px_prepare_replaces) */
    uint64_t pos;
    uint8_t *data;
    size_t len;
    char name[PFILE_NAME_MAX];
};

struct psub {
    struct psub *next;
    uint64_t seq;
    struct pop *head, *tail;
    size_t bytes;
};

/* Frees an operation and the bytes it owns. */
void pop_free(struct pop *op);

#endif
