/* latency.h - the latency monitor (LATENCY): per named event ("command", "fast-command",
 * "fsync"), the worst latency of each second in a ring of the last 160 such seconds and the
 * all-time maximum, as Redis's latency.c keeps them. The callers decide what is a sample
 * (latency-monitor-threshold); this module only stores. Main thread only. */
#ifndef OBK_LATENCY_H
#define OBK_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#define LATENCY_TS_LEN 160
#define LATENCY_EVENTS 8 /* distinct event names kept */

struct latency_sample {
    int32_t time; /* unix seconds; 0 = unused slot */
    uint32_t latency;
};

struct latency_series {
    char event[32];
    int idx; /* next slot to write */
    uint32_t max;
    struct latency_sample samples[LATENCY_TS_LEN];
};

/* Records latency_ms for event at the current second (the larger one if that second has a
 * sample already). */
void latency_add_sample(const char *event, uint32_t latency_ms);
/* The series of event, or NULL when it has none. */
const struct latency_series *latency_find(const char *event, size_t len);
/* Every event with samples, in the order they first appeared: the i-th, NULL past the end. */
const struct latency_series *latency_at(int i);
/* Forgets the event's samples; returns 1 if it had any. */
int latency_reset_event(const char *event, size_t len);
/* Forgets every event; returns how many there were. */
int latency_reset_all(void);

#endif
