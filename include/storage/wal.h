/* wal.h - the shared write-ahead log: one sequential log in front of every topic's segments.
 *
 * A commit round appends its records (each topic's record batches and group records, tagged
 * with the database, the topic's incarnation and what makes a replay idempotent) to the log and
 * makes them durable with one fdatasync of one preallocated file, instead of syncing every
 * topic's files. The log is a chain of fixed-size files in <dir>/wal/, named by the log
 * position (LSN) of their first record; positions count record bytes only, so an LSN names the
 * same record on every copy of the log (the replication stream ships it as is). Files are
 * zero-filled when created and reused (renamed) when the log before them is checkpointed, so a
 * sync moves no file metadata. docs/format.md has the byte layout; docs/storage.md the
 * durability order.
 *
 * Threads: the writer (struct wal) belongs to the persist thread once opened; wal_scan runs at
 * open, before the writer exists (the loader thread). */
#ifndef OBK_WAL_H
#define OBK_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "storage/fileops.h"

#define WAL_DIR_NAME         "wal"
#define WAL_CHECKPOINT_NAME  "checkpoint"
#define WAL_FILE_HEADER_SIZE 64
#define WAL_REC_HEADER_SIZE  48
#define WAL_MAGIC            0x4c41574bu /* "KWAL" */
#define WAL_VERSION          1

enum wal_rec_type {
    /* bytes written to a topic's file: aux1 = the file id (keydir.h: kind and base offset or
     * generation), aux2 = the position; the payload is what was written there (a record batch,
     * a segment or index header, index entries, group-log records) */
    WAL_REC_WRITE = 1,
    WAL_REC_EOF = 3, /* the last record of a full file: the log goes on in the next file */
};

/* One record. append: the caller fills all but lsn; scan: everything is filled, and payload
 * points into the scanner's buffer (valid during the callback). */
struct wal_rec {
    uint8_t type;
    uint16_t db;
    uint64_t topic;      /* the topic's incarnation id */
    uint64_t aux1, aux2; /* by type (above) */
    uint64_t lsn;        /* the record's log position */
    uint32_t epoch;      /* the writer's generation (set by the writer) */
    const uint8_t *payload;
    uint32_t len;
};

struct wal_config {
    uint64_t file_bytes;       /* size of one log file (records never span files) */
    const struct fileops *ops; /* NULL: the real system calls */
};

struct wal;

/* ---- writer (persist thread) ---- */
struct wal_scan_report;
/* Opens the log of data directory dirfd for appending where wal_scan found its end (rep),
 * creating <dir>/wal/ when missing. Files beyond the end (left by a torn roll or cut by a
 * repair) are removed first, so that a valid file after a bad record always means damage. */
int wal_open(int dirfd, const struct wal_config *cfg, const struct wal_scan_report *rep,
             struct wal **out);
/* Queues a record (copied) and sets r->lsn. Rolls to the next file when this one is full.
 * OBK_ERR_TOOBIG when the record can never fit in a file. */
int wal_append(struct wal *w, struct wal_rec *r);
/* Writes the queued records (one pwritev). */
int wal_write(struct wal *w);
/* 1 when records of bytes in total (headers included) go into the current file without moving
 * the log to the next one (which creates or renames a file). */
int wal_fits(const struct wal *w, uint64_t bytes);
/* Makes everything written durable (fdatasync of the current file; full files were synced when
 * the log left them). */
int wal_sync(struct wal *w);
/* The log before lsn is no longer needed (its effects are synced in the segments): records it
 * durably (<dir>/wal/checkpoint), and files wholly before it become free for reuse. */
int wal_checkpoint(struct wal *w, uint64_t lsn);
uint64_t wal_end_lsn(const struct wal *w);   /* the next record's position */
uint64_t wal_start_lsn(const struct wal *w); /* the checkpointed start */
/* Bytes of log after the checkpoint (what a crash would replay). */
uint64_t wal_pending_bytes(const struct wal *w);
void wal_close(struct wal *w);

/* ---- reader (at open) ---- */
struct wal_scan_report {
    uint64_t start_lsn; /* the checkpointed start */
    uint64_t end_lsn;   /* after the last good record */
    uint32_t epoch;     /* the highest writer generation seen (checkpoint included) */
    uint64_t records;   /* replayed records */
    uint64_t bytes;     /* their bytes */
    int ends_with_eof;  /* the last record is an EOF: the log goes on in a new file */
    int damaged;        /* a bad record before the last file (OBK_ERR_DAMAGED) */
    char damage[160];   /* where */
};
/* Calls cb for every record from the checkpointed start to the end of the log of data
 * directory dirfd, oldest first (EOF records are not passed). cb returning non-zero stops with
 * that status. A record that fails its checks in the last file ends the log (a torn tail);
 * before it, the log is damaged: OBK_ERR_DAMAGED, or with repair the log ends there (the report
 * says so). A directory without a log is an empty log. */
typedef int (*wal_scan_cb)(void *ctx, const struct wal_rec *r);
int wal_scan(int dirfd, int repair, wal_scan_cb cb, void *ctx, struct wal_scan_report *rep);

#endif
