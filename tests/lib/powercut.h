/* powercut.h - turns a data directory left by a SIGKILL into what a power cut at that moment
 * could have left, from the record of tests/tools/powercut_shim.c (an LD_PRELOAD library).
 *
 * The record, one event a line (inode numbers, names without spaces):
 *   P pid                          the process started
 *   ROOT ino                       the data directory
 *   B 0 pino ino f|d size name     an entry present at start (durable: it survived a cut)
 *   C key pino ino f|d name        a file or directory created (O_CREAT, mkdir)
 *   N key spino sname dpino dname ino   a rename
 *   U key pino name ino            an unlink or rmdir
 *   T key ino size                 a truncate (ftruncate, O_TRUNC)
 *   O key ino off len              a positioned write below the file's end at the time
 *   F key ino size fsync|fdatasync t0 t1   the file synced (size when the call started)
 *   D key ino t0 t1                a directory fsynced
 *   Z key ino size, S key kind t0 t1   syncfs/sync: sizes taken before the call, S once it
 *                                  returned (t0, t1: the call's start and end, CLOCK_MONOTONIC
 *                                  microseconds)
 *   X key what                     a call the model does not cover
 * Events sort by key: an event that completed takes 2n, a sync 2n+1 with n read when it
 * started, so a sync covers exactly the events that completed before it began.
 *
 * The model (what POSIX promises, no more):
 * writes into durable bytes are undone (zeroed) unless a sync of the file (or a syncfs) followed
 * them, but only in the write-ahead log's directory "wal", which writes into preallocated files
 * by design; anywhere else such a write is a failure the model reports (the segments only ever
 * append); a file's durable size is its size at its last
 * fsync/fdatasync or syncfs (a truncate lowers it at once, a possible outcome of a cut); a
 * directory's durable entries are its entries at its last fsync or syncfs (a create, rename or
 * unlink not yet followed by one is undone: the new file disappears, the old name returns with
 * its own durable content, kept alive by the shim's stash). A durable directory's entries are
 * walked from the root; every durable file is copied at its durable size into a fresh tree that
 * replaces the data directory. With tails on, a file with bytes past its durable size keeps a
 * random part of them, sometimes with a zeroed stretch inside (a torn write); the next
 * application (same process) counts such a file durable only up to where the cut kept it, so a
 * start that rewrites the torn part (the write-ahead log's replay) is no overwrite. */
#ifndef OBK_TEST_POWERCUT_H
#define OBK_TEST_POWERCUT_H

#include <stdint.h>

struct pc_stats {
    long events;
    long fsyncs, fdatasyncs, dir_fsyncs, syncfs_calls; /* sync calls the shim saw */
    long creates, renames, unlinks;
    long files_kept, dirs_kept;
    long files_dropped, dirs_dropped; /* present after the kill, entry never durable */
    long names_reverted;              /* a name back on an older inode (rename undone) */
    long restored;                    /* durable files taken back from the stash */
    long files_cut;                   /* files shortened to their durable size */
    long long bytes_cut;              /* bytes removed in all (torn tails count as kept) */
    long torn_tails;
    long long torn_bytes;
    long overwrites; /* positioned writes into bytes that were durable (model cannot undo) */
    /* writes into the write-ahead log's preallocated files not yet synced: undone by the cut */
    long log_writes_undone;
    long long log_bytes_undone;
    long unsupported; /* "X" events */
    long unknown;     /* files in the tree after the kill that the record never named */
    /* The longest run of back-to-back sync calls (each starting within 5 ms of the end of the
     * one before), from the start of the first to the end of the last, in microseconds: under
     * everysec, the longest sync round; under continuous `always` load, runs merge. */
    long long max_sync_round_us;
    char problem[512]; /* the first reason the model could not be applied, or a note */
};

/* Applies the record at log_path to root (the data directory; the server must be dead), using
 * stash_dir for replaced/unlinked inodes. tail_seed 0: every file cut exactly at its durable
 * size; otherwise the seed of the torn tails. Returns 0, or -1 with st->problem set (the tree
 * is then left as it was). */
int pc_apply(const char *root, const char *log_path, const char *stash_dir, uint64_t tail_seed,
             struct pc_stats *st);

/* One line of figures for a test's output ("# ..."). */
void pc_stats_print(const struct pc_stats *st, const char *label);

#endif
