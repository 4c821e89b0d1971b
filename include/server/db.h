/* db.h - the server's data set: the storage engine's store, opened by a loader thread while the
 * server answers -LOADING, its group commit driven from before_sleep, its completions released
 * to held replies, retention on a timer, and the per-database key space seen by DBSIZE,
 * FLUSHDB, FLUSHALL, KEYS, SCAN and INFO keyspace. Main thread. */
#ifndef OBK_DB_H
#define OBK_DB_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct topic;
struct store_stats;

/* Starts opening the data directory in a loader thread; runtime.loading is 1 until it is done.
 * Returns 0, or -1 when the thread could not start. */
int db_start_loading(void);
/* Runs once per loop turn: hands filled batches to the persist thread (the group commit). */
void db_before_sleep(void);
/* Asks for the filled batches to be handed over at the next turn even while the persist
 * thread is busy (a handler that needs cache space freed; it never flushes by itself). */
void db_kick_flush(void);
/* Hands every change made so far to the persist thread now (WAIT, so that the replication
 * stream holds them before it counts acknowledgements). */
void db_flush_now(void);
/* Whether this node follows a primary's stream: its rounds that no client waits for (the
 * link's, acknowledged once durable) may then run on the loop (persist_run_inline). */
void db_set_link_streaming(int on);
/* Test hook (DEBUG PERSIST-HOLD): holds the persist thread still. -1 while loading. */
int db_hold_persist(int hold);
/* Flushes and closes the store (graceful shutdown). Returns 0, or -1 after an I/O error. */
int db_close(void);

/* Progress of the load, as Redis reports it while loading (INFO persistence, /health): what
 * the load has to read (the write-ahead log left after the last checkpoint) and how far it is. */
struct db_loading {
    long long start_s;     /* wall clock when loading started */
    uint64_t total_bytes;  /* log bytes to replay */
    uint64_t loaded_bytes; /* replayed so far */
};
void db_loading_progress(struct db_loading *out);

/* The storage settings the server opens its store with (from the configuration). */
struct store_config;
void db_store_config(struct store_config *c);
/* The open store, or NULL while loading (or if loading failed). */
struct store *db_store(void);
/* Recovery time of the last start, in microseconds, and whether it was clean. */
uint64_t db_recovery_us(void);

long long db_size(int db);
/* Removes every key of the database durably. Returns 0 or a storage status. */
int db_flush(int db);
/* Applies CONFIG SET of a storage directive. Returns 0 or -1 with a reason. */
int db_apply_config(const char *name, char *err, size_t errlen);

#endif
