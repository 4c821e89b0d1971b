/* durable.c - the durability contract (see durable.h).
 *
 * Design: three numbers and a sticky error. The persist thread publishes how far it has written
 * and how far it has synced (two sequences, through db.c); the policy picks which one replies
 * wait for. Keeping both means a change of policy (CONFIG SET fsync), and later replica
 * acknowledgements, change only durable_seq(). The touch tracker is a pair of callbacks so this
 * module stays testable without a store. Main thread only. */
#include "server/durable.h"

#include <stdio.h>
#include <string.h>

#include "base/obk_assert.h"

static struct {
    int policy;
    uint64_t written_seq, synced_seq;
    int error;
    char error_text[200];
    struct durable_tracker tracker;
    int has_tracker;
    uint64_t replicated_seq; /* UINT64_MAX: replicas are not waited for */
} dur;

void durable_reset(int policy) {
    memset(&dur, 0, sizeof(dur));
    dur.policy = policy;
    dur.replicated_seq = UINT64_MAX;
}

void durable_set_policy(int policy) {
    OBK_ASSERT(policy >= DURABLE_ALWAYS && policy <= DURABLE_NO);
    dur.policy = policy;
}

int durable_policy(void) {
    return dur.policy;
}

void durable_publish(uint64_t written_seq, uint64_t synced_seq) {
    OBK_ASSERT(synced_seq <= written_seq);
    OBK_ASSERT(written_seq >= dur.written_seq && synced_seq >= dur.synced_seq);
    dur.written_seq = written_seq;
    dur.synced_seq = synced_seq;
}

uint64_t durable_written_seq(void) {
    return dur.written_seq;
}

uint64_t durable_synced_seq(void) {
    return dur.synced_seq;
}

uint64_t durable_seq(void) {
    uint64_t local = dur.policy == DURABLE_ALWAYS ? dur.synced_seq : dur.written_seq;
    return local < dur.replicated_seq ? local : dur.replicated_seq;
}

void durable_set_replicated(uint64_t seq) {
    if (seq == UINT64_MAX || dur.replicated_seq == UINT64_MAX || seq > dur.replicated_seq)
        dur.replicated_seq = seq;
}

int durable_set_error(int status, const char *text) {
    if (dur.error || status == 0) return 0;
    dur.error = status;
    snprintf(dur.error_text, sizeof(dur.error_text), "%s", text);
    return 1;
}

int durable_error(void) {
    return dur.error;
}

const char *durable_error_text(void) {
    return dur.error_text;
}

int durable_readonly(void) {
    return dur.error != 0;
}

void durable_set_tracker(const struct durable_tracker *t) {
    dur.has_tracker = t != NULL;
    if (t) dur.tracker = *t;
}

void durable_command_begin(void) {
    if (dur.has_tracker) dur.tracker.begin(dur.tracker.ctx);
}

uint64_t durable_command_end(void) {
    return dur.has_tracker ? dur.tracker.end(dur.tracker.ctx) : 0;
}

uint64_t durable_untracked_begin(void) {
    return durable_command_end(); /* the mark so far, set aside */
}

void durable_untracked_end(uint64_t saved) {
    if (!dur.has_tracker) return;
    dur.tracker.end(dur.tracker.ctx); /* forget what the untracked part touched */
    OBK_ASSERT(saved == 0 || dur.tracker.raise != NULL);
    if (saved) dur.tracker.raise(dur.tracker.ctx, saved);
}
