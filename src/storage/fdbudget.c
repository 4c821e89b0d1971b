/* fdbudget.c - the arithmetic of storage's descriptor share (see fdbudget.h for the split and
 * why). Stateless: the store keeps the numbers and the counts. */
#include "storage/fdbudget.h"

/* the data directory, the syncfs duplicate, the persist thread's eventfd, the write-ahead log's
 * directory and its current file */
#define FDBUDGET_STORE_FDS 5

uint64_t fdbudget_fixed(int ndbs) {
    return FDBUDGET_STORE_FDS + (uint64_t)(ndbs > 0 ? ndbs : 0) + FDBUDGET_TRANSIENT;
}

static uint64_t write_cap(uint64_t share, uint64_t fixed) {
    uint64_t pool = share > fixed ? share - fixed : 0;
    return pool / 4 > FDBUDGET_WRITE_MIN ? pool / 4 : FDBUDGET_WRITE_MIN;
}

void fdbudget_init(struct fdbudget *b, uint64_t share, int ndbs) {
    b->share = share;
    b->fixed = fdbudget_fixed(ndbs);
    b->write_cap = share ? write_cap(share, b->fixed) : 0;
}

uint64_t fdbudget_max_topics(const struct fdbudget *b) {
    if (!b->share) return UINT64_MAX;
    uint64_t used = b->fixed + b->write_cap + FDBUDGET_READ_MIN;
    return b->share > used ? b->share - used : 0;
}

size_t fdbudget_read_cap(const struct fdbudget *b, uint64_t dirs) {
    if (!b->share) return 0;
    uint64_t used = b->fixed + b->write_cap + dirs;
    uint64_t left = b->share > used ? b->share - used : 0;
    return left > FDBUDGET_READ_MIN ? (size_t)left : FDBUDGET_READ_MIN;
}

uint64_t fdbudget_min_share(int ndbs, uint64_t topics) {
    uint64_t fixed = fdbudget_fixed(ndbs);
    /* the write LRU takes a quarter of the pool, so the pool is about 4/3 of what the topics
     * and the read minimum need: start just below that and step up */
    uint64_t need = topics + FDBUDGET_READ_MIN;
    uint64_t pool = need + FDBUDGET_WRITE_MIN;
    if (need / 3 * 4 > pool + 3) pool = need / 3 * 4 - 3;
    for (;;) {
        struct fdbudget b;
        fdbudget_init(&b, fixed + pool, ndbs);
        if (fdbudget_max_topics(&b) >= topics) return fixed + pool;
        pool++;
    }
}
