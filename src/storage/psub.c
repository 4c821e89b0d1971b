/* psub.c - building submissions for the persist thread (see persist.h): file handles, and the
 * ordered operations of a submission, each owning a copy of what it writes.
 *
 * Design: a submission is a singly linked list of operations appended at its tail; nothing is
 * checked here beyond allocation, the persist thread runs them (persist.c). Main thread: a
 * submission is built and either submitted (ownership passes) or discarded. */
#include "storage/psub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "persist_impl.h"

struct pfile *pfile_new(int dirfd, const char *name) {
    struct pfile *pf = calloc(1, sizeof *pf);
    if (!pf) return NULL;
    pf->dirfd = dirfd;
    pf->fd = -1;
    snprintf(pf->name, sizeof pf->name, "%s", name);
    return pf;
}

struct psub *psub_new(void) {
    return calloc(1, sizeof(struct psub));
}

void pop_free(struct pop *op) {
    free(op->data);
    free(op);
}

void psub_discard(struct psub *s) {
    if (!s) return;
    struct pop *op = s->head;
    while (op) {
        struct pop *n = op->next;
        /* an unsubmitted free still owns its handle */
        if (op->kind == POP_FREE) free(op->pf);
        pop_free(op);
        op = n;
    }
    free(s);
}

static struct pop *psub_add(struct psub *s, int kind) {
    struct pop *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    op->kind = kind;
    op->dirfd = -1;
    if (s->tail)
        s->tail->next = op;
    else
        s->head = op;
    s->tail = op;
    return op;
}

int psub_write_owned(struct psub *s, struct pfile *pf, uint64_t pos, void *data, size_t len) {
    struct pop *op = psub_add(s, POP_WRITE);
    if (!op) {
        free(data);
        return OBK_ERR_NOMEM;
    }
    op->pf = pf;
    op->pos = pos;
    op->data = data;
    op->len = len;
    s->bytes += len;
    return OBK_OK;
}

int psub_write(struct psub *s, struct pfile *pf, uint64_t pos, const void *data, size_t len) {
    void *copy = malloc(len ? len : 1);
    if (!copy) return OBK_ERR_NOMEM;
    memcpy(copy, data, len);
    return psub_write_owned(s, pf, pos, copy, len);
}

int psub_sync(struct psub *s, struct pfile *pf) {
    struct pop *op = psub_add(s, POP_SYNC);
    if (!op) return OBK_ERR_NOMEM;
    op->pf = pf;
    return OBK_OK;
}

int psub_free_file(struct psub *s, struct pfile *pf, int unlink) {
    struct pop *op = psub_add(s, POP_FREE);
    if (!op) return OBK_ERR_NOMEM;
    op->pf = pf;
    op->flag = unlink;
    return OBK_OK;
}

int psub_replace(struct psub *s, int dirfd, const char *name, const void *data, size_t len) {
    struct pop *op = psub_add(s, POP_REPLACE);
    if (!op) return OBK_ERR_NOMEM;
    op->data = malloc(len ? len : 1);
    if (!op->data) return OBK_ERR_NOMEM; /* op stays with len 0: harmless */
    memcpy(op->data, data, len);
    op->len = len;
    op->dirfd = dirfd;
    snprintf(op->name, sizeof op->name, "%s", name);
    s->bytes += len;
    return OBK_OK;
}

int psub_sync_dir(struct psub *s, int dirfd) {
    struct pop *op = psub_add(s, POP_SYNC_DIR);
    if (!op) return OBK_ERR_NOMEM;
    op->dirfd = dirfd;
    return OBK_OK;
}

int psub_rmtree(struct psub *s, int dirfd, const char *name) {
    struct pop *op = psub_add(s, POP_RMTREE);
    if (!op) return OBK_ERR_NOMEM;
    op->dirfd = dirfd;
    snprintf(op->name, sizeof op->name, "%s", name);
    return OBK_OK;
}

int psub_close_dir(struct psub *s, int dirfd) {
    struct pop *op = psub_add(s, POP_CLOSE_DIR);
    if (!op) return OBK_ERR_NOMEM;
    op->dirfd = dirfd;
    return OBK_OK;
}

int psub_empty(const struct psub *s) {
    return s->head == NULL;
}

size_t psub_bytes(const struct psub *s) {
    return s->bytes;
}

void pfile_allow_deferred(struct pfile *pf) {
    pf->deferrable = 1;
}

void pfile_set_wal_tag(struct pfile *pf, int db, uint64_t topic, uint64_t file_id) {
    pf->tagged = 1;
    pf->wal_db = (uint16_t)db;
    pf->wal_topic = topic;
    pf->wal_file = file_id;
}
