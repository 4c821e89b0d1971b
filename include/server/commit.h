/* commit.h - held replies: the durability level's queue of replies that wait for a submission
 * to become durable (durable.h says what durable means). Replies on one connection stay in
 * order, so everything after a held reply waits behind it. command.c decides what to hold;
 * db.c releases after each persist completion. Main thread only. */
#ifndef OBK_COMMIT_H
#define OBK_COMMIT_H

#include <stddef.h>
#include <stdint.h>

struct client;

/* Sends the stage's first mark bytes (earlier replies that need not wait), then queues the rest
 * of the stage as one more reply waiting for submission seq (never before the replies already
 * held). Returns 0, or -1 when out of memory (nothing moved). */
int commit_hold(struct client *c, uint64_t seq, size_t mark);
/* 1 when the client has held replies. */
int commit_holding(const struct client *c);
/* The submission the client's last held reply waits for (0 when none). */
uint64_t commit_last_seq(const struct client *c);
/* Moves every held reply whose submission is <= durable_seq to its client's socket. */
void commit_release(uint64_t durable_seq);
/* Replaces every held reply with an error (the write failed; nothing it would have
 * acknowledged may be sent as a success) and sends them. */
void commit_fail(const char *error_text);
/* Release hook: frees a client's held replies (the client is going away). */
void commit_drop_client(struct client *c);
/* Clients with held replies, counted up to max. */
int commit_holders(int max);
/* Replies waiting in total (INFO, metrics). */
uint64_t commit_held_total(void);

#endif
