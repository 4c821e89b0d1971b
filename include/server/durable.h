/* durable.h - the durability contract: when a reply that touched stored data may leave.
 *
 * The rule, in one place: a reply that read or wrote a topic (or the key space) leaves only
 * after the submission holding that topic's latest change is durable, and replies on one
 * connection leave in order. "Durable" is decided by the fsync policy:
 *   always    the persist thread has written and fdatasync'ed the submission (synced_seq);
 *   everysec  it has written it to the files (written_seq); the sync follows within a second,
 *             as with Redis's appendfsync everysec, so a crash of the machine (not of the
 *             process) can lose up to a second of acknowledged writes;
 *   no        written, as everysec; the kernel decides when it is synced.
 * With min-replicas-to-write N under fsync always, durable also requires N replicas to have
 * acknowledged the submission's records as durable on their side (repl.c publishes the highest
 * such submission with durable_set_replicated): durable_seq() combines the two, so every held
 * reply, read or write, waits for the replicas without any handler knowing.
 *
 * Who does what: storage records which submission a command's lookups and writes depend on
 * (the "touch" mark, store_touch_begin/end); command.c brackets every handler with
 * durable_command_begin/end and holds the reply (commit.c) until durable_seq() reaches the
 * mark. db.c publishes the persist thread's progress here. A handler never waits by hand.
 *
 * The first storage I/O error is sticky: from then on nothing after the last durable
 * submission is acknowledged, writes are refused (read-only), and replies waiting on failed
 * submissions are answered with the error text kept here. The store is then rolled back to its
 * durable state (store_settle), so later reads touch only durable submissions and are served.
 * Main thread only. */
#ifndef OBK_DURABLE_H
#define OBK_DURABLE_H

#include <stdint.h>

enum durable_policy { DURABLE_ALWAYS = 0, DURABLE_EVERYSEC = 1, DURABLE_NO = 2 };

/* How the contract learns what a command touched (storage's touch mark). */
struct durable_tracker {
    void *ctx;
    void (*begin)(void *ctx);   /* forget earlier touches */
    uint64_t (*end)(void *ctx); /* the submission the touches since begin need (0: none) */
    void (*raise)(void *ctx, uint64_t seq); /* puts a mark taken by end back (untracked parts) */
};

/* Back to the start state (no submission durable, no error); start-up and unit tests. */
void durable_reset(int policy);
void durable_set_policy(int policy);
int durable_policy(void);

/* The persist thread's progress: written and synced never go down (asserted), and synced never
 * passes written. */
void durable_publish(uint64_t written_seq, uint64_t synced_seq);
uint64_t durable_written_seq(void);
uint64_t durable_synced_seq(void);
/* The highest submission a reply may rely on under the policy (and the replicas). */
uint64_t durable_seq(void);
/* The highest submission enough replicas acknowledged; it only rises. UINT64_MAX stops waiting
 * for replicas; the first other value starts it (pass the current durable_seq() so that what
 * was already acknowledged stays so). */
void durable_set_replicated(uint64_t seq);

/* Records the first I/O error (later ones are ignored). Returns 1 when this call set it. */
int durable_set_error(int status, const char *text);
int durable_error(void);              /* the sticky status, 0 when none */
const char *durable_error_text(void); /* the MISCONF text replies carry, "" when none */
/* 1 when writes are refused (after an I/O error). */
int durable_readonly(void);

/* Installs the touch tracker (db.c, once the store is open; NULL while loading). */
void durable_set_tracker(const struct durable_tracker *t);
/* Brackets one command (or one blocked client's serve): end returns the submission its reply
 * must see durable, 0 when it touched nothing stored. */
void durable_command_begin(void);
uint64_t durable_command_end(void);
/* A part of a command that reports the server's state rather than stored data (INFO's
 * keyspace and topic counts) and must never wait for a submission, as Redis's INFO never
 * waits: what it touches between the pair is forgotten, what the command touched before is
 * kept (inside EXEC too). */
uint64_t durable_untracked_begin(void);
void durable_untracked_end(uint64_t saved);

#endif
