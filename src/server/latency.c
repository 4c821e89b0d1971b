/* latency.c - the latency monitor's storage (see latency.h).
 *
 * Design: a small fixed array of series, one per event name (there are only a few events), each
 * a ring of 160 per-second samples as in Redis: a sample in the same second as the newest one
 * only raises it. Events keep the order they first appeared in, so LATENCY LATEST is stable.
 * Main thread only. */
#include "server/latency.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static struct latency_series series[LATENCY_EVENTS];
static int nseries;

static int find(const char *event, size_t len) {
    for (int i = 0; i < nseries; i++)
        if (strlen(series[i].event) == len && memcmp(series[i].event, event, len) == 0) return i;
    return -1;
}

void latency_add_sample(const char *event, uint32_t latency_ms) {
    int i = find(event, strlen(event));
    if (i < 0) {
        if (nseries == LATENCY_EVENTS) return;
        i = nseries++;
        memset(&series[i], 0, sizeof(series[i]));
        snprintf(series[i].event, sizeof(series[i].event), "%s", event);
    }
    struct latency_series *ts = &series[i];
    int32_t now = (int32_t)time(NULL);
    int prev = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
    if (latency_ms > ts->max) ts->max = latency_ms;
    if (ts->samples[prev].time == now) {
        if (latency_ms > ts->samples[prev].latency) ts->samples[prev].latency = latency_ms;
        return;
    }
    ts->samples[ts->idx].time = now;
    ts->samples[ts->idx].latency = latency_ms;
    ts->idx = (ts->idx + 1) % LATENCY_TS_LEN;
}

const struct latency_series *latency_find(const char *event, size_t len) {
    int i = find(event, len);
    return i < 0 ? NULL : &series[i];
}

const struct latency_series *latency_at(int i) {
    return i >= 0 && i < nseries ? &series[i] : NULL;
}

int latency_reset_event(const char *event, size_t len) {
    int i = find(event, len);
    if (i < 0) return 0;
    memmove(&series[i], &series[i + 1], (size_t)(nseries - i - 1) * sizeof(series[0]));
    nseries--;
    return 1;
}

int latency_reset_all(void) {
    int n = nseries;
    nseries = 0;
    return n;
}
