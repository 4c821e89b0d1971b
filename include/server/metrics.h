/* metrics.h - the Prometheus text exposition (format 0.0.4) of the server's counters: clients,
 * commands, errors, network, entries, persistence (fsync and group-commit histograms), held
 * replies, cache, disk, and per-topic and per-group series capped by metrics-max-topics and
 * metrics-max-groups. Main thread. */
#ifndef OBK_METRICS_H
#define OBK_METRICS_H

#include <stddef.h>

struct sbuf;
struct topic;
struct cg_group;

/* Appends the whole exposition to b. */
void metrics_render(struct sbuf *b);

/* Writes a key or group name for a label value or an INFO field: printable ASCII stays, every
 * other byte and the bytes '%' '"' '\\' ',' '=' ':' become %XX, so the text never needs escaping
 * and stays one line. Appends to b. */
void metrics_add_name(struct sbuf *b, const void *name, size_t len);

/* Consumer groups of every topic, in key-space order, at most max of them (metrics-max-groups):
 * *out is malloc'd (caller frees), the return value is how many, *omitted how many more exist. */
struct metrics_group_ref {
    struct topic *topic;
    struct cg_group *group;
};
size_t metrics_collect_groups(size_t max, struct metrics_group_ref **out,
                              unsigned long long *omitted);

#endif
