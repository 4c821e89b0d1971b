/* histogram.c - log-linear histogram (see histogram.h). A value v >= 16 with highest set bit e
 * falls in bucket (e - 3) * 16 + the 4 bits below e; the bucket reports its upper bound, so a
 * percentile is never below the true value. One owner thread; no locks. */
#include "base/histogram.h"

static unsigned bucket_of(uint64_t v) {
    if (v < (1u << HISTOGRAM_SUB_BITS)) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (e - HISTOGRAM_SUB_BITS)) & ((1u << HISTOGRAM_SUB_BITS) - 1);
    return ((e - HISTOGRAM_SUB_BITS + 1) << HISTOGRAM_SUB_BITS) + sub;
}

static uint64_t bucket_upper(unsigned i) {
    if (i < (1u << HISTOGRAM_SUB_BITS)) return i;
    unsigned e = (i >> HISTOGRAM_SUB_BITS) + HISTOGRAM_SUB_BITS - 1;
    uint64_t sub = i & ((1u << HISTOGRAM_SUB_BITS) - 1);
    unsigned shift = e - HISTOGRAM_SUB_BITS;
    uint64_t base = ((uint64_t)1 << HISTOGRAM_SUB_BITS) + sub;
    if (e == 63 && sub == (1u << HISTOGRAM_SUB_BITS) - 1) return UINT64_MAX;
    return ((base + 1) << shift) - 1;
}

void histogram_record(struct histogram *h, uint64_t value) {
    h->counts[bucket_of(value)]++;
    h->count++;
}

uint64_t histogram_percentile(const struct histogram *h, double percentile) {
    if (h->count == 0) return 0;
    uint64_t want = (uint64_t)((double)h->count * percentile / 100.0 + 0.999999);
    if (want == 0) want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) return bucket_upper(i);
    }
    return bucket_upper(HISTOGRAM_BUCKETS - 1);
}
