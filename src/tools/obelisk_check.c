/* obelisk_check.c - obelisk-check: verifies an Obelisk data directory offline.
 *
 *   obelisk-check DIR [--repair] [--dump KEY] [--db N]
 *
 * Every topic of every database is replayed from its first segment (RECOVERY_FULL): every
 * batch's length, CRC, records, offsets and ID order, every topic.meta against its directory
 * name, every index entry against the batch it points at, and the consumer groups: groups.snap
 * (magic, version, CRC, operations) and every groups.log record (length, CRC, operations,
 * generation against the snapshot's). Nothing is changed unless --repair is given; then damage
 * is cut as the server's repair would (torn tails, damaged segments and what follows them, a
 * bad tail of groups.log), and bad indexes are rewritten. --dump prints one topic's live entries.
 *
 * The data directory's lock (storage/dirlock.h): --repair takes it for its whole run and
 * refuses a directory a running server (or another repair) holds; a plain check takes nothing,
 * and on a directory in use says so, with the holder's pid: the server writes while the check
 * reads, so what it finds may be stale (a tail being written can look torn).
 *
 * A torn tail (the last segment's, or groups.log's) after an unclean stop is what a crash
 * leaves, and the server's next start cuts it by itself (the writes it held were never
 * acknowledged): it is reported as such, with its own exit code, so that nobody runs --repair
 * for it. Whether the start cuts it is found by opening the log as the server would: after a
 * clean stop the server reads no batch when the last segment has its recorded size, so a bad
 * tail then is damage.
 *
 * The write-ahead log (storage/walreplay.h) comes first: --repair writes its records since the
 * checkpoint into the topics' files (as the server's start would) and checkpoints it, so no
 * repair cuts what the log restores; a plain check only reports those records, and damage in
 * the log itself (which --repair ends the log at).
 *
 * Long checks show their progress on stderr (base/progress.h): a bar on a terminal (bytes of
 * segments and topics done, rate, ETA), a plain line a second otherwise; stdout keeps the
 * report. The totals come from a first pass that only lists the directories.
 *
 * Exit codes: 0 clean, 1 damage found and repaired, 2 damage found (not repaired),
 * 3 usage or I/O error, 4 only torn tails (the server cuts them at start), 5 --repair refused:
 * the directory is in use. Single-threaded. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/progress.h"
#include "base/status.h"
#include "storage/cgstore.h"
#include "storage/dirlock.h"
#include "storage/keydir.h"
#include "storage/recovery.h"
#include "storage/store.h"
#include "storage/wal.h"
#include "storage/walreplay.h"

#define EXIT_CLEAN    0
#define EXIT_REPAIRED 1
#define EXIT_DAMAGED  2
#define EXIT_ERROR    3
#define EXIT_TORN     4 /* only torn tails, which the server cuts when it starts */
#define EXIT_IN_USE   5
/* The size of a log file --repair makes if the log needs a new one (the server's default). */
#define CHECK_WAL_FILE_BYTES (64u << 20)
/* Databases probed when --db is not given (db0 .. db<n-1> that exist). */
#define CHECK_MAX_DBS 1024

struct totals {
    uint64_t topics, segments, batches, bytes, entries, damaged, torn, repaired, bad_indexes;
    uint64_t groups, group_records;
};

static const struct tlog_config check_tlog = {1u << 30, 0, 4096};

static int read_all(int dirfd, const char *name, uint8_t **out, size_t *len) {
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) return OBK_ERR_NOTFOUND;
    if (fstat(fd, &st) != 0 || !(*out = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return OBK_ERR_IO;
    }
    *len = (size_t)st.st_size;
    int ok = pread(fd, *out, *len, 0) == (ssize_t)*len;
    close(fd);
    if (!ok) free(*out);
    return ok ? OBK_OK : OBK_ERR_IO;
}

static void print_bytes(const uint8_t *p, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            printf("\\%c", p[i]);
        else if (isprint(p[i]))
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('"');
}

/* Each index entry must point at a DATA batch starting with its ID and offset. */
static int check_index(int tdfd, struct segment *seg, const char *topic, int repair) {
    char name[SEGMENT_NAME_MAX];
    struct segindex ix;
    segment_name(name, seg->base_offset, "idx");
    int rc = segindex_load(tdfd, name, seg->base_offset, seg->size, &ix);
    int bad = rc != OBK_OK;
    for (size_t i = 0; !bad && i < ix.n; i++) {
        struct segindex_entry e = segindex_get(&ix, i);
        uint8_t hb[BATCH_HEADER_SIZE];
        struct batch_header h;
        bad = pread(seg->rfd, hb, sizeof hb, e.pos) != (ssize_t)sizeof hb ||
              batch_parse_header(hb, sizeof hb, &h) != OBK_OK || h.type != BATCH_DATA ||
              sid_cmp(h.first_id, e.id) != 0 || h.base_offset != seg->base_offset + e.rel_offset;
    }
    if (rc == OBK_OK) segindex_free(&ix);
    if (!bad) return 0;
    printf("  %s/%s: index %s%s\n", topic, name,
           rc == OBK_OK ? "points at the wrong batch" : obk_strerror(rc),
           repair ? " (rewritten)" : " (rebuilt in memory by the server)");
    if (repair) {
        int fd = openat(tdfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            uint8_t hdr[SEGINDEX_HEADER_SIZE];
            segindex_encode_header(hdr, seg->base_offset);
            ssize_t w = write(fd, hdr, sizeof hdr);
            if (w == (ssize_t)sizeof hdr && seg->idx.n)
                w = write(fd, seg->idx.data, seg->idx.n * SEGINDEX_ENTRY_SIZE);
            (void)w;
            close(fd);
        }
    }
    return 1;
}

struct dump_ctx {
    struct tstate *st;
    uint64_t n;
};

static int dump_cb(void *c, const struct obk_entry *e) {
    struct dump_ctx *d = c;
    if (e->offset < d->st->start_offset || tstate_is_deleted_at(d->st, e->offset)) return 0;
    char id[SID_STRLEN];
    sid_format(e->id, id);
    printf("%s", id);
    for (uint32_t i = 0; i < 2 * e->nfields; i++) {
        putchar(' ');
        print_bytes(e->fv[i], e->fvlen[i]);
    }
    putchar('\n');
    d->n++;
    return 0;
}

/* What check_groups found. */
enum { GROUPS_CLEAN, GROUPS_TORN, GROUPS_DAMAGED };

/* groups.snap and groups.log. A bad log tail is cut by the server at every start (and by
 * --repair here): GROUPS_TORN without --repair. A damaged snapshot is left to the server's
 * repair, which drops the group state. */
static int check_groups(int tdfd, const char *label, int repair, const struct tstate *st,
                        struct totals *tot, int *repaired) {
    struct cg_state *cg = NULL;
    struct cgstore_report gr;
    struct cgstore_log log;
    uint64_t good = 0;
    int found = GROUPS_CLEAN;
    int rc = cgstore_load(tdfd, 1, 0, &cg, &log, &good, &gr);
    if (rc != OBK_OK) {
        printf("  %s: consumer groups: %s%s\n", label, gr.damage[0] ? gr.damage : obk_strerror(rc),
               repair ? " (not repaired here: the server's --repair start drops the group state)"
                      : "");
        return GROUPS_DAMAGED;
    }
    if (!cg) return GROUPS_CLEAN;
    tot->groups += cg->ngroups;
    tot->group_records += gr.records;
    if (gr.log_stale)
        printf("  %s: %s is older than %s (a compaction cut short; replaced at open)\n", label,
               CG_LOG_NAME, CG_SNAP_NAME);
    if (gr.truncated_bytes) {
        found = repair ? GROUPS_DAMAGED : GROUPS_TORN;
        printf("  %s: %s: %" PRIu64 " bytes of torn or bad tail%s%s%s%s\n", label, CG_LOG_NAME,
               gr.truncated_bytes, gr.damage[0] ? " (" : "", gr.damage, gr.damage[0] ? ")" : "",
               repair ? "" : " (the server cuts it at start)");
        if (repair) {
            int fd = openat(tdfd, CG_LOG_NAME, O_WRONLY | O_NOFOLLOW);
            int ok = fd >= 0 && ftruncate(fd, (off_t)good) == 0 && fsync(fd) == 0;
            if (fd >= 0) close(fd);
            printf("  %s: %s %s\n", label, CG_LOG_NAME, ok ? "cut" : "could not be cut");
            if (ok) *repaired = 1;
        }
    }
    if (st) {
        uint64_t past = cgs_clamp(cg, st->last_id, st->entries_added);
        if (past)
            printf("  %s: consumer groups point past the stream's end (%" PRIu64
                   " changes; the server clamps them at open)\n",
                   label, past);
    }
    cgs_free(cg);
    return found;
}

/* 1 when the server's next start cuts by itself the tail the full scan found: the log opened as
 * the server opens it (from the checkpoint; without a scan when the clean-shutdown marker and
 * the recorded size allow) loses the same bytes and finds nothing else. */
static int cut_at_start(int tdfd, int clean_stop, const struct recovery_report *full) {
    struct tlog t;
    struct tstate st;
    struct recovery_report rr;
    tlog_init(&t, tdfd, &check_tlog, 0);
    int flags = (clean_stop ? RECOVERY_CLEAN : 0) | RECOVERY_READONLY;
    log_setup(LOG_WARNING + 1, NULL); /* the full scan logged what it found already */
    int rc = recovery_open_log(tdfd, flags, &t, &st, &rr);
    log_setup(LOG_NOTICE, NULL);
    int cut = rc == OBK_OK && !rr.damaged && rr.truncated_bytes == full->truncated_bytes;
    tlog_free(&t, NULL);
    tstate_free(&st);
    return cut;
}

/* clean_stop: the directory has the clean-shutdown marker. Returns the topic's exit code. */
static int check_topic(int dbfd, int db, const char *name, int repair, int dump, int clean_stop,
                       struct totals *tot) {
    char label[300];
    snprintf(label, sizeof label, "db%d/%.250s", db, name);
    int tdfd = openat(dbfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (tdfd < 0) return EXIT_ERROR;
    int damaged = 0, repaired = 0, torn = 0;
    uint8_t *buf = NULL;
    size_t len;
    struct topic_meta m = {0};
    char expect[KEYDIR_NAME_MAX];
    if (read_all(tdfd, TOPIC_META_NAME, &buf, &len) != OBK_OK ||
        keydir_decode_meta(buf, len, &m) != OBK_OK) {
        printf("  %s: topic.meta missing or corrupt\n", label);
        damaged = 1;
    } else {
        keydir_name(m.key, m.keylen, expect);
        if (strcmp(expect, name)) {
            printf("  %s: topic.meta holds a key of another directory (%s)\n", label, expect);
            damaged = 1;
        }
    }
    struct tlog t;
    struct tstate st;
    struct recovery_report rr;
    tlog_init(&t, tdfd, &check_tlog, 0);
    int flags = RECOVERY_FULL | (repair ? RECOVERY_REPAIR : RECOVERY_READONLY);
    int rc = recovery_open_log(tdfd, flags, &t, &st, &rr);
    if (rc != OBK_OK || rr.damaged || rr.truncated_bytes) {
        /* a tail the server's start cuts by itself needs no repair (after a crash it scans the
         * last segment from the checkpoint); one a clean open would not scan is damage that
         * reads would meet */
        int start_cuts = rc == OBK_OK && !rr.damaged && cut_at_start(tdfd, clean_stop, &rr);
        if (start_cuts && !repair)
            torn = 1;
        else
            damaged = 1;
        if (rr.damaged) printf("  %s: %s\n", label, rr.damage);
        if (rr.truncated_bytes)
            printf("  %s: %" PRIu64 " bytes of torn or bad tail%s\n", label, rr.truncated_bytes,
                   repair       ? " cut"
                   : start_cuts ? " (the server cuts it at start)"
                   : clean_stop ? " (not scanned by the clean start: --repair cuts it)"
                                : "");
        if (rc != OBK_OK && !rr.damaged) printf("  %s: %s\n", label, obk_strerror(rc));
        if (repair && rc == OBK_OK) {
            repaired = 1;
            if (rr.entries_lost)
                printf("  %s: repair dropped %" PRIu64 " entries\n", label, rr.entries_lost);
            /* a repair must leave a log that checks clean: check again, read-only */
            struct tlog t2;
            struct tstate st2;
            struct recovery_report r2;
            tlog_init(&t2, tdfd, &check_tlog, 0);
            int rc2 = recovery_open_log(tdfd, RECOVERY_FULL | RECOVERY_READONLY, &t2, &st2, &r2);
            if (rc2 != OBK_OK || r2.damaged || r2.truncated_bytes) {
                repaired = 0;
                printf("  %s: still damaged after the repair: %s\n", label,
                       r2.damaged           ? r2.damage
                       : r2.truncated_bytes ? "bad tail left"
                                            : obk_strerror(rc2));
            }
            tlog_free(&t2, NULL);
            tstate_free(&st2);
        }
    }
    if (rc == OBK_OK) {
        for (size_t i = 0; i < t.nsegs; i++)
            if (check_index(tdfd, t.segs[i], label, repair)) tot->bad_indexes++;
        tot->segments += t.nsegs;
        tot->batches += rr.batches;
        tot->bytes += t.bytes;
        tot->entries += tstate_length(&st);
        if (dump) {
            struct dump_ctx d = {&st, 0};
            int r2 = tlog_read_forward(&t, SID_MIN, st.start_offset, 1, st.end_offset, dump_cb, &d);
            if (r2 != OBK_OK) {
                printf("  %s: read failed: %s\n", label, obk_strerror(r2));
                damaged = 1;
            }
        }
    }
    int groups = check_groups(tdfd, label, repair, rc == OBK_OK ? &st : NULL, tot, &repaired);
    if (groups == GROUPS_DAMAGED) damaged = 1;
    if (groups == GROUPS_TORN) torn = 1;
    tot->topics++;
    if (damaged) tot->damaged++;
    if (torn && !damaged) tot->torn++;
    if (repaired) tot->repaired++;
    tlog_free(&t, NULL);
    tstate_free(&st);
    free(buf);
    free(m.key);
    close(tdfd);
    return damaged ? (repaired ? EXIT_REPAIRED : EXIT_DAMAGED) : torn ? EXIT_TORN : EXIT_CLEAN;
}

/* Exit codes by severity: the run exits with the worst a topic gave. */
static int severity(int code) {
    switch (code) {
    case EXIT_CLEAN: return 0;
    case EXIT_TORN: return 1;
    case EXIT_REPAIRED: return 2;
    case EXIT_DAMAGED: return 3;
    default: return 4;
    }
}

/* --repair: takes the directory's lock (kept until the process ends) or refuses; a plain check
 * only warns when another process holds it. Returns 0, or the exit code when the run stops. */
static int lock_dir(const char *dirpath, int repair, int *fd, int *in_use) {
    pid_t holder = 0;
    if (!repair) {
        if ((*in_use = dirlock_held_by_other(dirpath, &holder)))
            fprintf(stderr,
                    "obelisk-check: %s is in use by another process (pid %ld, a running server "
                    "or repair): findings may be stale, as it writes while this reads; stop it "
                    "for a certain result\n",
                    dirpath, (long)holder);
        return 0;
    }
    int rc = dirlock_acquire(dirpath, fd, &holder);
    if (rc == OBK_ERR_BUSY) {
        fprintf(stderr,
                "obelisk-check: %s is in use by another process (pid %ld, a running server or "
                "repair): --repair refused; stop that process first\n",
                dirpath, (long)holder);
        return EXIT_IN_USE;
    }
    if (rc != OBK_OK) {
        fprintf(stderr, "obelisk-check: cannot lock %s/%s: %s\n", dirpath, DIRLOCK_NAME,
                strerror(errno));
        return EXIT_ERROR;
    }
    return 0;
}

/* Bytes of the segment files of topic directory name under dbfd. */
static long long topic_log_bytes(int dbfd, const char *name) {
    long long total = 0;
    int tdfd = openat(dbfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    DIR *d = tdfd >= 0 ? fdopendir(tdfd) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        struct stat st;
        if (n > 4 && !strcmp(de->d_name + n - 4, ".log") && fstatat(tdfd, de->d_name, &st, 0) == 0)
            total += st.st_size;
    }
    if (d)
        closedir(d);
    else if (tdfd >= 0)
        close(tdfd);
    return total;
}

/* The directory of database db when it is to be checked (onlydb < 0: every one), else -1. */
static int open_db(int dirfd, int onlydb, int db) {
    char dbname[32];
    if (onlydb >= 0 && db != onlydb) return -1;
    snprintf(dbname, sizeof dbname, "db%d", db);
    return openat(dirfd, dbname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

/* Topics and segment bytes of the databases to check (onlydb < 0: all), for the progress. */
static void count_work(int dirfd, int onlydb, long long *topics, long long *bytes) {
    *topics = *bytes = 0;
    for (int db = 0; db < CHECK_MAX_DBS; db++) {
        int dbfd = open_db(dirfd, onlydb, db);
        if (dbfd < 0) continue;
        DIR *d = fdopendir(dup(dbfd));
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (!keydir_is_topic_name(de->d_name)) continue;
            (*topics)++;
            *bytes += topic_log_bytes(dbfd, de->d_name);
        }
        if (d) closedir(d);
        close(dbfd);
    }
}

static int usage(void) {
    fprintf(stderr, "usage: obelisk-check DIR [--repair] [--dump KEY] [--db N]\n");
    return EXIT_ERROR;
}

static int count_record(void *ctx, const struct wal_rec *r) {
    (void)r;
    (*(uint64_t *)ctx)++;
    return OBK_OK;
}

/* The write-ahead log: its records since the checkpoint are acknowledged writes the topics'
 * files may not hold yet, which the server's next start writes into them before it opens a
 * topic. --repair does that replay now, before any topic is checked (a repair must never cut
 * bytes the log restores), then checkpoints the log; a plain check changes nothing: it reads
 * the log, reports its records and any damage in it. */
static int check_log(int dirfd, int repair) {
    if (faccessat(dirfd, WAL_DIR_NAME, F_OK, AT_SYMLINK_NOFOLLOW) != 0) return EXIT_CLEAN;
    if (!repair) {
        struct wal_scan_report rep;
        uint64_t n = 0;
        int rc = wal_scan(dirfd, 0, count_record, &n, &rep);
        if (rc == OBK_ERR_DAMAGED) {
            printf("write-ahead log: damaged: %s (--repair ends the log there)\n", rep.damage);
            return EXIT_DAMAGED;
        }
        if (rc != OBK_OK) {
            printf("write-ahead log: %s\n", obk_strerror(rc));
            return EXIT_ERROR;
        }
        if (n)
            printf("write-ahead log: %" PRIu64 " records (%" PRIu64
                   " bytes) since its checkpoint: the next start (or --repair) writes them into "
                   "the topics' files before it opens them, so a torn tail below may be bytes "
                   "they restore\n",
                   n, rep.bytes);
        return EXIT_CLEAN;
    }
    struct walreplay_report wr;
    int rc = walreplay_run(dirfd, CHECK_MAX_DBS, 1, NULL, NULL, &wr);
    struct wal_config wc = {CHECK_WAL_FILE_BYTES, NULL};
    if (rc == OBK_OK) rc = walreplay_finish(dirfd, &wc, &wr.scan, NULL);
    if (rc != OBK_OK) {
        printf("write-ahead log: replay failed: %s\n",
               wr.scan.damage[0] ? wr.scan.damage : obk_strerror(rc));
        return EXIT_ERROR;
    }
    if (wr.scan.records)
        printf("write-ahead log: %" PRIu64 " records written again into %" PRIu64
               " topics (%" PRIu64 " already there, %" PRIu64 " of deleted topics or files)\n",
               wr.applied, wr.topics, wr.present, wr.skipped);
    if (wr.scan.damaged) {
        printf("write-ahead log: damaged: %s: the log now ends there\n", wr.scan.damage);
        return EXIT_REPAIRED;
    }
    return EXIT_CLEAN;
}

int main(int argc, char **argv) {
    const char *dirpath = NULL, *dumpkey = NULL;
    int repair = 0, onlydb = -1;
    log_set_role('C');
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repair")) {
            repair = 1;
        } else if (!strcmp(argv[i], "--dump") && i + 1 < argc) {
            dumpkey = argv[++i];
        } else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v >= CHECK_MAX_DBS) return usage();
            onlydb = (int)v;
        } else if (argv[i][0] == '-' || dirpath) {
            return usage();
        } else {
            dirpath = argv[i];
        }
    }
    if (!dirpath) return usage();
    if (dumpkey && onlydb < 0) onlydb = 0;
    int dirfd = open(dirpath, O_RDONLY | O_DIRECTORY);
    if (dirfd < 0) {
        fprintf(stderr, "obelisk-check: %s: %s\n", dirpath, strerror(errno));
        return EXIT_ERROR;
    }
    uint8_t *marker;
    size_t mlen;
    if (read_all(dirfd, STORE_MARKER_NAME, &marker, &mlen) != OBK_OK) {
        fprintf(stderr, "obelisk-check: %s: no %s marker: not a data directory\n", dirpath,
                STORE_MARKER_NAME);
        return EXIT_ERROR;
    }
    marker[mlen] = 0;
    int major = 0;
    if (sscanf((char *)marker, "obelisk-data %d", &major) != 1 || major != STORE_FORMAT_MAJOR) {
        fprintf(stderr, "obelisk-check: unsupported format: %s", (char *)marker);
        free(marker);
        return EXIT_ERROR;
    }
    free(marker);
    int lockfd = -1, in_use = 0, locked = lock_dir(dirpath, repair, &lockfd, &in_use);
    if (locked != 0) {
        close(dirfd);
        return locked;
    }
    int clean_stop = faccessat(dirfd, STORE_CLEAN_NAME, F_OK, 0) == 0;
    printf("obelisk-check %s (format %d, %s stop)%s\n", dirpath, major,
           clean_stop ? "clean" : "unclean", repair ? " --repair" : "");
    struct totals tot = {0};
    int worst = check_log(dirfd, repair);
    char dumpname[KEYDIR_NAME_MAX] = "";
    if (dumpkey) keydir_name(dumpkey, strlen(dumpkey), dumpname);
    struct progress pg;
    long long work_topics = 0, work_bytes = 0, done_topics = 0, done_bytes = 0;
    if (!dumpkey) count_work(dirfd, onlydb, &work_topics, &work_bytes);
    progress_init(&pg, "obelisk-check", "topics");
    for (int db = 0; db < CHECK_MAX_DBS; db++) {
        int dbfd = open_db(dirfd, onlydb, db);
        if (dbfd < 0) continue;
        int dfd = dup(dbfd);
        DIR *d = fdopendir(dfd);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (!keydir_is_topic_name(de->d_name)) continue;
            if (dumpkey && strcmp(de->d_name, dumpname)) continue;
            long long bytes = dumpkey ? 0 : topic_log_bytes(dbfd, de->d_name);
            int r = check_topic(dbfd, db, de->d_name, repair, dumpkey != NULL, clean_stop, &tot);
            if (severity(r) > severity(worst)) worst = r;
            done_topics++;
            done_bytes += bytes;
            if (!dumpkey) progress_update(&pg, done_bytes, work_bytes, done_topics, work_topics);
        }
        if (d) closedir(d);
        close(dbfd);
    }
    if (!dumpkey) progress_done(&pg, done_bytes, work_bytes, done_topics, work_topics, 0);
    close(dirfd);
    dirlock_release(lockfd);
    if (dumpkey && tot.topics == 0) {
        fprintf(stderr, "obelisk-check: no topic %s in db%d\n", dumpkey, onlydb);
        return EXIT_ERROR;
    }
    printf("topics %" PRIu64 ", segments %" PRIu64 ", batches %" PRIu64 ", bytes %" PRIu64
           ", live entries %" PRIu64 "\n",
           tot.topics, tot.segments, tot.batches, tot.bytes, tot.entries);
    printf("consumer groups %" PRIu64 ", group log records %" PRIu64 "\n", tot.groups,
           tot.group_records);
    printf("damaged topics %" PRIu64 ", torn tails %" PRIu64 ", repaired %" PRIu64
           ", bad indexes %" PRIu64 "\n",
           tot.damaged, tot.torn, tot.repaired, tot.bad_indexes);
    printf("%s%s\n",
           worst == EXIT_CLEAN      ? "result: clean"
           : worst == EXIT_TORN     ? "result: torn tails only, which the server cuts when it "
                                      "starts (no repair needed)"
           : worst == EXIT_REPAIRED ? "result: repaired"
           : worst == EXIT_DAMAGED  ? "result: damaged"
                                    : "result: error",
           in_use ? " (the directory was in use: findings may be stale)" : "");
    return worst;
}
