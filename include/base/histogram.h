/* histogram.h - a log-linear latency histogram: exact below 16, then 16 buckets per power of
 * two (at most 6.25% relative error), fixed size, no allocation when recording. */
#ifndef OBK_HISTOGRAM_H
#define OBK_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SUB_BITS 4
#define HISTOGRAM_BUCKETS  (64 << HISTOGRAM_SUB_BITS)

struct histogram {
    uint64_t count;
    uint64_t counts[HISTOGRAM_BUCKETS];
};

void histogram_record(struct histogram *h, uint64_t value);
/* The smallest recorded bucket value at or above the given percentile (0-100]; 0 if empty. */
uint64_t histogram_percentile(const struct histogram *h, double percentile);

#endif
