/* repl.h - replication state and the primary's side of it: the replication ID and offset, the
 * backlog, the replicas (clients that sent PSYNC), full syncs from hard-linked snapshots, the
 * stream of the store's change records, acknowledgements, WAIT, and the count of good
 * replicas behind min-replicas-to-write. The replica's side (its link to a primary) is
 * repl_link.h; both keep the state here. docs/replication.md describes the protocol.
 * Main thread only. */
#ifndef OBK_REPL_H
#define OBK_REPL_H

#include <stddef.h>
#include <stdint.h>

struct client;
struct sbuf;

#define REPL_ID_LEN 40

/* At start: a new replication ID. */
void repl_init(void);
/* Once per loop turn, after the group commit: attaches the change stream to a newly opened
 * store, sends snapshot files to replicas in full sync, maps submissions to offsets. */
void repl_before_sleep(void);
/* Every cron tick: heartbeats, timeouts, the good-replica count. */
void repl_cron(long long now_ms);

/* ---- what the commands call ---- */
/* PSYNC replid offset (SYNC: replid "?"): answers +FULLRESYNC and sends a snapshot, or
 * +CONTINUE and the backlog from offset; c becomes a replica. */
void repl_psync(struct client *c, const char *replid, long long offset);
/* REPLCONF listening-port / ip-address from a future replica. */
void repl_set_listening(struct client *c, int port, const char *ip);
/* REPLCONF ACK offset from a replica (ignored from other clients). */
void repl_ack(struct client *c, long long offset);
/* WAIT numreplicas timeout: replies at once or blocks the client. */
void repl_wait(struct client *c, long long numreplicas, long long timeout_ms);
/* Release hook: a replica or a future replica goes away. */
void repl_release_client(struct client *c);

/* ---- across a clean restart ---- */
/* After a clean close of the store: writes the replication ID and offset to <dir>/replication
 * (the data then holds exactly the stream up to that offset), so that after the restart a
 * replica continues from it and a primary's replicas continue with it. */
void repl_save_state(void);
/* A replica, now and then while streaming: saves offset (its records synced here) with the
 * next submission, behind the data it covers. Returns 0, or -1 when it could not. */
int repl_save_acked(long long offset);
/* At start, before anything is loaded: adopts <dir>/replication when the previous stop was clean
 * (<dir>/clean_shutdown is there), or when this node starts as a replica (its file then names
 * an offset its data has at least), and removes the file either way. */
void repl_load_state(void);

/* ---- role changes (REPLICAOF) ---- */
/* Becoming a replica: replicas are disconnected, the store stops emitting records; the ID and
 * offset stay (the link asks to continue from them). */
void repl_stop_primary(void);
/* Becoming a primary (REPLICAOF NO ONE): the followed history becomes replid2 up to the
 * current offset, a new ID starts, and the store emits records again. */
void repl_start_primary(void);

/* ---- state shared with the replica's link ---- */
const char *repl_id(void);
const char *repl_id2(void);
long long repl_offset(void);        /* master_repl_offset: the last byte of the stream */
long long repl_second_offset(void); /* -1 when replid2 means nothing */
/* The replica's link adopting its primary's history (after +FULLRESYNC or +CONTINUE with a
 * new ID): ID and offset. */
void repl_set_history(const char *replid, long long offset);
/* Bytes of the primary's stream the link applied: kept in the backlog and counted. */
void repl_feed_applied(const uint8_t *p, size_t n);

/* ---- for INFO, ROLE, the write check ---- */
int repl_replica_count(void);
/* INFO stats: full syncs served, partial ones accepted and refused. */
void repl_sync_stats(long long *full, long long *partial_ok, long long *partial_err);
/* Appends the "slaveN:ip=..." lines and the backlog fields of INFO replication. */
void repl_info_replicas(struct sbuf *b);
void repl_info_backlog(struct sbuf *b);
/* ROLE of a primary: calls fn for every online replica. */
void repl_foreach_replica(void (*fn)(void *ctx, const char *ip, int port, long long ack),
                          void *ctx);

#endif
