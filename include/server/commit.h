/* commit.h - held replies: a reply that touched a topic is released only when the batch
 * holding that topic's latest change is durable (fsync always), and replies on one connection
 * stay in order, so everything after a held reply waits behind it. */
#ifndef OBK_COMMIT_H
#define OBK_COMMIT_H

#include <stddef.h>
#include <stdint.h>

struct client;
struct evbuffer;

/* One or more consecutive replies of a client waiting for submission seq to be durable. */
struct held_reply {
    uint64_t seq;
    int nreplies;
    struct evbuffer *buf;
    struct held_reply *next;
};

/* Queues the bytes of stage from offset mark on as one more reply waiting for seq. */
int commit_hold(struct client *c, uint64_t seq, struct evbuffer *stage, size_t mark);
/* Moves every held reply whose submission is durable to its client's socket. */
void commit_release(uint64_t durable_seq);
/* Replaces every held reply not yet durable with an error (the write failed; nothing it would
 * have acknowledged may be sent as a success). */
void commit_fail(const char *error_text);
/* Frees a client's held replies (the client is going away). */
void commit_drop_client(struct client *c);
/* The submission the client's last held reply waits for (0 when none). */
uint64_t commit_last_seq(const struct client *c);
/* Replies waiting in total (INFO, metrics). */
uint64_t commit_held_total(void);

#endif
