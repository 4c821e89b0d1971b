/* fdbudget.h - how storage spends its share of the process's file descriptors
 * (max-open-files-storage; the server gives clients the rest, see docs/storage.md).
 *
 * Out of a share S:
 *   fixed   the data directory, the syncfs duplicate, the persist thread's eventfd, one
 *           directory per database, and FDBUDGET_TRANSIENT for short-lived ones (a file being
 *           replaced, a directory being listed or removed, an index being mapped);
 *   topics  one descriptor per open topic: its directory, held while the topic exists;
 *   write   the persist thread's write descriptors (active segments' .log and .idx, groups.log)
 *           in an LRU of write_cap: a quarter of what is left after fixed, at least
 *           FDBUDGET_WRITE_MIN;
 *   read    segment read descriptors in an LRU of what remains, at least FDBUDGET_READ_MIN: a
 *           new topic is refused (OBK_ERR_NOFILES) when its directory would leave less.
 * A share of 0 means no budget (tools and tests): no caps, nothing refused. Pure arithmetic. */
#ifndef OBK_FDBUDGET_H
#define OBK_FDBUDGET_H

#include <stddef.h>
#include <stdint.h>

#define FDBUDGET_TRANSIENT 4
#define FDBUDGET_WRITE_MIN 4
#define FDBUDGET_READ_MIN  4

struct fdbudget {
    uint64_t share;     /* 0: no budget */
    uint64_t fixed;     /* held whatever the topics */
    uint64_t write_cap; /* the persist thread's write LRU */
};

void fdbudget_init(struct fdbudget *b, uint64_t share, int ndbs);
/* Descriptors the store holds whatever its topics (ndbs databases). */
uint64_t fdbudget_fixed(int ndbs);
/* Topics whose directories fit (UINT64_MAX without a budget). */
uint64_t fdbudget_max_topics(const struct fdbudget *b);
/* The read LRU's cap while dirs topic directories are open: what is left, never below
 * FDBUDGET_READ_MIN (0: no limit, without a budget). */
size_t fdbudget_read_cap(const struct fdbudget *b, uint64_t dirs);
/* The smallest share that holds topics topics with ndbs databases. */
uint64_t fdbudget_min_share(int ndbs, uint64_t topics);

#endif
