/* repl_link.h - a replica's link to its primary (REPLICAOF host port): the handshake (AUTH,
 * PING, REPLCONF, PSYNC), a full sync (the primary's snapshot received into
 * <dir>/sync-incoming, then swapped in for the data directories and opened as a restart would
 * open it), the stream of change records applied to the store (storage/replapply.h), and
 * REPLCONF ACK of the offset whose records are durable here. docs/replication.md.
 * Main thread only. */
#ifndef OBK_REPL_LINK_H
#define OBK_REPL_LINK_H

/* REPLICAOF host port: follow that primary (an existing link is dropped). */
void repl_link_start(const char *host, int port);
/* REPLICAOF NO ONE: drop the link (nothing when not following). */
void repl_link_stop(void);
/* Once per loop turn, after the group commit: applies records that waited for cache space,
 * finishes a load, acknowledges what became durable. */
void repl_link_before_sleep(void);
/* Every cron tick: reconnects, times the link out, acknowledges once a second. */
void repl_link_cron(long long now_ms);

/* ---- INFO and ROLE ---- */
struct repl_link_info {
    const char *host;
    int port;
    int up;                     /* master_link_status:up */
    const char *role_state;     /* ROLE: connect, connecting, handshake, sync, connected */
    long long last_io_s;        /* master_last_io_seconds_ago (-1 never) */
    int sync_in_progress;       /* receiving a snapshot */
    long long sync_total_bytes; /* of the snapshot */
    long long sync_read_bytes;
    long long down_since_s; /* master_link_down_since_seconds (-1 when up) */
    long long read_offset;  /* slave_read_repl_offset: the last byte received */
    long long repl_offset;  /* slave_repl_offset: the last byte applied (1 before a sync) */
};
/* 0 when not following a primary. */
int repl_link_info(struct repl_link_info *out);

#endif
