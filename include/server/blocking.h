/* blocking.h - clients blocked on stream keys (XREAD BLOCK, later XREADGROUP BLOCK): FIFO
 * waiting lists per key, timeouts, and wake-ups served once per loop turn. */
#ifndef OBK_BLOCKING_H
#define OBK_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "storage/sid.h"

struct client;

/* Tries to serve a blocked client from keys[idx], which got new entries. Replies and returns 1
 * when it could, returns 0 to keep waiting. */
typedef int (*blocking_serve_fn)(struct client *c, int idx);

/* What a blocked client waits for: after any ID in ids[i] on keys[i]. */
struct blocking_request {
    blocking_serve_fn serve;
    int nkeys;
    char **keys;
    size_t *keylens;
    sid_t *ids;
    long long count;      /* COUNT, 0 = all */
    long long timeout_ms; /* 0 = forever */
    int extra;            /* the last `extra` of keys[] are command data, not keys to wait on */
    /* replies at the timeout (NULL: a null array, as XREAD); WAIT replies its count */
    int (*on_timeout)(struct client *c, int arg);
    /* For blocks that also wait for time to pass (XREADGROUP CLAIM: a pending entry becomes
     * old enough): retry_ms > 0 tries serve on every key after that many ms, and after each
     * try that did not reply, again after retry_in(c) ms. */
    long long retry_ms;
    long long (*retry_in)(struct client *c);
};

/* Blocks c: registers it under every key (FIFO), stops processing its input, arms the timer.
 * Copies what it needs from req. Returns 0, or -1 when out of memory (nothing registered). */
int blocking_block(struct client *c, const struct blocking_request *req);
/* The same, for a request whose keys[] (nkeys real keys) are followed by nextra strings of
 * command data (req->nkeys, keys, keylens, ids and extra are filled in here). */
int blocking_block_with(struct client *c, struct blocking_request *req, int nkeys, char **keys,
                        size_t *keylens, sid_t *ids, int nextra, char **extra, size_t *extralen);
/* Called when a key got new entries (XADD), was deleted or lost a group: the key's waiters are
 * asked to serve themselves in before_sleep. */
void blocking_signal_key(int db, const char *key, size_t len);
/* Signals every key with waiters in db (-1: every database), for FLUSHDB/FLUSHALL. */
void blocking_signal_db(int db);
/* Asks a blocked client to serve itself now (serve called with idx -1), for blocks that wait on
 * something other than keys (WAIT: acknowledgements). Unblocks it when it replied. */
void blocking_wake(struct client *c);
/* Serves the clients waiting on keys signalled since the last turn (before_sleep). */
void blocking_serve_ready(void);
/* The request a blocked client is waiting on (valid while it is blocked). */
const struct blocking_request *blocking_request_of(const struct client *c);
/* Forgets a blocked client (disconnect, CLIENT KILL). */
void blocking_remove(struct client *c);
/* Clients blocked now (INFO blocked_clients). */
int blocking_count(void);

#endif
