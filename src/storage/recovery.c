/* recovery.c - topic log recovery (see recovery.h).
 *
 * Threads: recovery_open_log runs inside store_open, on the thread that calls it: the server's
 * loader thread (obelisk-check, the benchmark and the tests call it on their own thread). The
 * persist thread does not exist yet (store_open starts it after every topic is open) and no
 * other thread sees the topic, so recovery reads, truncates, writes and fsyncs files itself.
 *
 * Clean open: the clean-shutdown marker, a valid checkpoint, and a recovery point equal to the
 * last segment's size: segment headers are read (one pread each), nothing else; indexes load
 * lazily. Restart time grows with the number of segments, not with the data. Each segment's
 * file is opened for its header and closed again; scans open it through tlog_segment_fd (the
 * store's read descriptor LRU), so a topic of many segments never holds them all open.
 *
 * Unclean open: replay from the checkpoint (or the first segment when it is missing or bad):
 * every batch is length- and CRC-checked, its records decoded, its offsets and IDs checked
 * against the state so far (tstate_apply). The first failure in the last segment cuts the file
 * there (logged with the bytes dropped); in an earlier segment it refuses to open unless a
 * repair is asked. Indexes of scanned segments are rebuilt. A checkpoint for the new end is
 * written afterwards, once the log is fdatasynced. */
#include "storage/recovery.h"

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
#include "base/obk_assert.h"
#include "base/status.h"
#include "storage/fsutil.h"

/* A checkpoint holds a few fixed fields and the tombstones: refuse anything absurdly big. */
#define CHECKPOINT_MAX_SIZE (256u << 20)

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int recovery_write_checkpoint(int dirfd, const struct tstate *st, uint64_t seg_base, uint64_t pos) {
    uint8_t *buf;
    size_t len;
    int rc = tstate_encode_checkpoint(st, seg_base, pos, &buf, &len);
    if (rc != OBK_OK) return rc;
    rc = fsutil_write_file_sync(dirfd, CHECKPOINT_NAME, buf, len);
    free(buf);
    return rc;
}

/* Writes a rebuilt index file (a cache: no fsync). */
static void write_index(int dirfd, const struct segment *seg) {
    char name[SEGMENT_NAME_MAX];
    segment_name(name, seg->base_offset, "idx");
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return;
    uint8_t hdr[SEGINDEX_HEADER_SIZE];
    segindex_encode_header(hdr, seg->base_offset);
    ssize_t ok = write(fd, hdr, sizeof hdr);
    if (ok == (ssize_t)sizeof hdr && seg->idx.n)
        ok = write(fd, seg->idx.data, seg->idx.n * SEGINDEX_ENTRY_SIZE);
    (void)ok; /* a failed index write is found and rebuilt on next use */
    close(fd);
}

static int list_dir(int dirfd, int readonly, uint64_t **logs, size_t *nlogs) {
    int dfd = dup(dirfd);
    if (dfd < 0) return OBK_ERR_IO;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return OBK_ERR_IO;
    }
    rewinddir(d);
    uint64_t *v = NULL, base;
    size_t n = 0, cap = 0;
    int rc = OBK_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t l = strlen(nm);
        if (segment_parse_name(nm, "log", &base)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                uint64_t *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    rc = OBK_ERR_NOMEM;
                    break;
                }
                v = nv;
            }
            v[n++] = base;
        } else if (l > 4 && !strcmp(nm + l - 4, ".tmp") && !readonly) {
            unlinkat(dirfd, nm, 0); /* a replace stopped half way: the old file stands */
        }
    }
    closedir(d);
    if (rc != OBK_OK) {
        free(v);
        return rc;
    }
    if (n) qsort(v, n, sizeof *v, cmp_u64);
    *logs = v;
    *nlogs = n;
    return OBK_OK;
}

/* Removes index files without a segment (a retention stopped between the two unlinks). */
static void remove_orphan_indexes(int dirfd, const uint64_t *logs, size_t n) {
    int dfd = dup(dirfd);
    if (dfd < 0) return;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    rewinddir(d);
    struct dirent *de;
    uint64_t base;
    while ((de = readdir(d)) != NULL) {
        if (!segment_parse_name(de->d_name, "idx", &base)) continue;
        if (!n || !bsearch(&base, logs, n, sizeof *logs, cmp_u64)) unlinkat(dirfd, de->d_name, 0);
    }
    closedir(d);
}

static void unlink_segment(int dirfd, uint64_t base) {
    char name[SEGMENT_NAME_MAX];
    segment_name(name, base, "log");
    unlinkat(dirfd, name, 0);
    segment_name(name, base, "idx");
    unlinkat(dirfd, name, 0);
}

static int truncate_segment(int dirfd, struct segment *seg, uint64_t size) {
    char name[SEGMENT_NAME_MAX];
    segment_name(name, seg->base_offset, "log");
    int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return OBK_ERR_IO;
    int rc = (ftruncate(fd, (off_t)size) == 0 && fdatasync(fd) == 0) ? OBK_OK : OBK_ERR_IO;
    close(fd);
    return rc;
}

/* A repair that keeps a segment without any batch left (damage in the first batch of the
 * first segment, kept because its name holds the log's base offset): the file is cut to its
 * header, and the header rewritten with first ID 0-0 as for a segment that began without
 * DATA, since none of its entries is left to start it. */
static int empty_segment(int dirfd, struct segment *seg) {
    char name[SEGMENT_NAME_MAX];
    uint8_t hdr[SEGMENT_HEADER_SIZE];
    segment_name(name, seg->base_offset, "log");
    segment_encode_header(hdr, seg->base_offset, SID_MIN, seg->created_ms);
    int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return OBK_ERR_IO;
    int ok = ftruncate(fd, SEGMENT_HEADER_SIZE) == 0 &&
             pwrite(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr && fdatasync(fd) == 0;
    close(fd);
    return ok ? OBK_OK : OBK_ERR_IO;
}

struct scan_ctx {
    struct segment *seg;
    struct tstate *st;
    uint32_t interval;
    int apply; /* 0: index only (prefix before the recovery point) */
    uint64_t batches, data_entries;
    int rc;
    const char *why; /* what the first bad batch failed, when its CRC was good */
};

static int scan_cb(void *ctx, const uint8_t *batch, const struct batch_header *h, uint64_t pos) {
    struct scan_ctx *sc = ctx;
    struct segment *seg = sc->seg;
    if (sc->apply) {
        if (batch_check_records_why(h, batch, &sc->why) != OBK_OK) return 1;
        if (tstate_apply(sc->st, h, batch) != OBK_OK) return 1;
        /* recovered entries keep the dense offsets contiguous: the state's end is now just
         * past this batch (a DATA batch's entries, none for the other types) */
        OBK_ASSERT(sc->st->end_offset == h->base_offset + (h->type == BATCH_DATA ? h->count : 0));
    }
    sc->batches++;
    if (h->type != BATCH_DATA) return 0;
    if (h->base_offset < seg->base_offset ||
        h->base_offset + h->count - 1 - seg->base_offset > UINT32_MAX)
        return 1;
    if (seg->idx.n == 0 || pos - seg->last_index_pos >= sc->interval) {
        if ((sc->rc = segindex_append(&seg->idx, h->first_id,
                                      (uint32_t)(h->base_offset - seg->base_offset),
                                      (uint32_t)pos)) != OBK_OK)
            return 1;
        seg->last_index_pos = pos;
    }
    seg->has_data = 1;
    seg->end_offset = h->base_offset + h->count;
    seg->last_id = h->last_id;
    sc->data_entries += h->count;
    return 0;
}

/* Counts the DATA entries a repair drops from seg (from pos). */
static uint64_t count_entries(struct tlog *t, struct segment *seg, uint64_t pos) {
    struct tstate dummy;
    tstate_init(&dummy, 0);
    if (tlog_segment_fd(t, seg) != OBK_OK) return 0;
    struct segment tmp = *seg;
    tmp.rnode = (struct fdlru_node){0}; /* a copy for the scan: not in the LRU */
    segindex_init(&tmp.idx);
    struct scan_ctx sc = {&tmp, &dummy, UINT32_MAX, 0, 0, 0, OBK_OK};
    uint64_t end;
    tlog_scan_file(seg->rfd, seg->size, pos, scan_cb, &sc, &end);
    segindex_free(&tmp.idx);
    return sc.data_entries;
}

/* Opens the segment file of base and reads its header. *out is the new segment (the caller
 * adds it to the log), or NULL when the header is missing or names another base; *size is the
 * file's size either way. */
static int open_segment(int dirfd, uint64_t base, struct segment **out, uint64_t *size) {
    char name[SEGMENT_NAME_MAX];
    struct stat stt;
    *out = NULL;
    segment_name(name, base, "log");
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &stt) != 0) {
        int nofiles = fd < 0 && (errno == EMFILE || errno == ENFILE);
        if (fd >= 0) close(fd);
        return nofiles ? OBK_ERR_NOFILES : OBK_ERR_IO;
    }
    *size = (uint64_t)stt.st_size;
    uint8_t hb[SEGMENT_HEADER_SIZE];
    uint64_t hbase = 0;
    sid_t first;
    int64_t created;
    if (pread(fd, hb, sizeof hb, 0) != (ssize_t)sizeof hb ||
        segment_decode_header(hb, &hbase, &first, &created) != OBK_OK || hbase != base) {
        close(fd);
        return OBK_OK;
    }
    close(fd); /* reads open it again through the read descriptor LRU */
    struct segment *seg = calloc(1, sizeof *seg);
    if (!seg) return OBK_ERR_NOMEM;
    seg->base_offset = seg->end_offset = base;
    seg->first_id = first;
    seg->created_ms = created;
    seg->modified_ms = (int64_t)stt.st_mtim.tv_sec * 1000 + stt.st_mtim.tv_nsec / 1000000;
    seg->size = *size;
    seg->rfd = -1;
    segindex_init(&seg->idx);
    *out = seg;
    return OBK_OK;
}

/* Segment logs[i] of n has a bad header. The last one is a roll stopped before the new
 * segment's header reached the disk: removed (nothing in it was acknowledged). An earlier one
 * is damage: refused without a repair, else it and every later segment are dropped. */
static int bad_header(int dirfd, int flags, const uint64_t *logs, size_t i, size_t n, uint64_t size,
                      struct recovery_report *rep) {
    char name[SEGMENT_NAME_MAX];
    segment_name(name, logs[i], "log");
    if (i + 1 == n) {
        log_msg(LOG_WARNING, "recovery: segment %s has no valid header: removed (%lld bytes)", name,
                (long long)size);
        rep->truncated_bytes += size;
        if (!(flags & RECOVERY_READONLY)) unlink_segment(dirfd, logs[i]);
        return OBK_OK;
    }
    rep->damaged = 1;
    snprintf(rep->damage, sizeof rep->damage, "segment %s: bad header", name);
    if (!(flags & RECOVERY_REPAIR)) return OBK_ERR_DAMAGED;
    for (size_t j = i; j < n; j++) {
        if (!(flags & RECOVERY_READONLY)) unlink_segment(dirfd, logs[j]);
        rep->dropped_segments++;
    }
    return OBK_OK;
}

/* Opens every segment file of the directory in base order (up to a bad header) and adds it to
 * t; every segment but the last is sealed and ends where the next begins. */
static int open_segments(int dirfd, int flags, struct tlog *t, struct recovery_report *rep) {
    uint64_t *logs = NULL;
    size_t n = 0;
    int rc = list_dir(dirfd, flags & RECOVERY_READONLY, &logs, &n);
    if (rc != OBK_OK) return rc;
    if (!(flags & RECOVERY_READONLY)) remove_orphan_indexes(dirfd, logs, n);
    for (size_t i = 0; i < n; i++) {
        struct segment *seg;
        uint64_t size = 0;
        if ((rc = open_segment(dirfd, logs[i], &seg, &size)) != OBK_OK) break;
        if (!seg) {
            rc = bad_header(dirfd, flags, logs, i, n, size, rep);
            break;
        }
        if ((rc = tlog_add_segment(t, seg)) != OBK_OK) {
            free(seg);
            break;
        }
    }
    free(logs);
    for (size_t i = 0; i + 1 < t->nsegs; i++) {
        t->segs[i]->end_offset = t->segs[i + 1]->base_offset;
        t->segs[i]->has_data = t->segs[i]->end_offset > t->segs[i]->base_offset;
        t->segs[i]->sealed = 1;
    }
    rep->segments = t->nsegs;
    return rc;
}

static long find_seg(const struct tlog *t, uint64_t base) {
    for (size_t i = 0; i < t->nsegs; i++)
        if (t->segs[i]->base_offset == base) return (long)i;
    return -1;
}

/* Index entries of the recovery point's segment before pos: the .idx file's when it passes its
 * checks, else rebuilt by a CRC-only scan of the prefix. A damaged prefix leaves the index
 * short (reads through the damage then fail their CRC); the state comes from the checkpoint
 * either way. */
static int prefix_index(struct tlog *t, struct segment *seg, uint64_t pos, uint32_t interval) {
    char name[SEGMENT_NAME_MAX];
    segment_name(name, seg->base_offset, "idx");
    segindex_free(&seg->idx);
    seg->last_index_pos = 0;
    if (segindex_load(t->dirfd, name, seg->base_offset, seg->size, &seg->idx) == OBK_OK) {
        size_t k = 0;
        while (k < seg->idx.n && segindex_get(&seg->idx, k).pos < pos) k++;
        if (k || pos == SEGMENT_HEADER_SIZE) {
            if (segindex_truncate(&seg->idx, k) != OBK_OK) return OBK_ERR_NOMEM;
            if (k) seg->last_index_pos = segindex_get(&seg->idx, k - 1).pos;
            return OBK_OK;
        }
    }
    segindex_free(&seg->idx);
    seg->last_index_pos = 0;
    struct tstate dummy;
    tstate_init(&dummy, 0);
    struct scan_ctx sc = {seg, &dummy, interval, 0, 0, 0, OBK_OK};
    uint64_t end;
    int rc = tlog_segment_fd(t, seg);
    if (rc != OBK_OK) return rc;
    tlog_scan_file(seg->rfd, pos, SEGMENT_HEADER_SIZE, scan_cb, &sc, &end);
    if (end != pos) log_msg(LOG_WARNING, "recovery: %s: damage before the recovery point", name);
    return sc.rc;
}

/* ---- the checkpoint at open ---- */

/* The checkpoint file as read at open: usable when it decodes and its recovery point lies in a
 * segment that was found (or there are no segments and the point is 0). */
struct checkpoint {
    struct tstate st;
    uint64_t seg_base, pos;
    int usable;
};

static void checkpoint_load(int dirfd, const struct tlog *t, struct checkpoint *cp) {
    uint8_t *buf = NULL;
    size_t len = 0;
    tstate_init(&cp->st, 0);
    cp->seg_base = cp->pos = 0;
    cp->usable = 0;
    if (fsutil_read_file(dirfd, CHECKPOINT_NAME, CHECKPOINT_MAX_SIZE, &buf, &len) == OBK_OK &&
        tstate_decode_checkpoint(buf, len, &cp->st, &cp->seg_base, &cp->pos) == OBK_OK) {
        long k = find_seg(t, cp->seg_base);
        cp->usable = (t->nsegs == 0 && cp->pos == 0) ||
                     (k >= 0 && cp->pos >= SEGMENT_HEADER_SIZE && cp->pos <= t->segs[k]->size &&
                      cp->st.end_offset >= cp->seg_base);
    }
    free(buf);
}

/* Moves the checkpoint's state into st. */
static void checkpoint_take(struct checkpoint *cp, struct tstate *st) {
    tstate_free(st);
    *st = cp->st;
    tstate_init(&cp->st, 0);
}

/* ---- clean open ---- */

/* The clean-shutdown marker, a usable checkpoint, and a recovery point at the end of the last
 * segment (or no segment and point 0): the checkpoint is the state, nothing is scanned. */
static int clean_open_applies(int flags, const struct tlog *t, const struct checkpoint *cp) {
    const struct segment *last = tlog_active(t);
    if (!(flags & RECOVERY_CLEAN) || (flags & RECOVERY_FULL) || !cp->usable) return 0;
    return last ? cp->seg_base == last->base_offset && cp->pos == last->size : cp->pos == 0;
}

static void open_clean(struct tlog *t, struct tstate *st, struct checkpoint *cp) {
    struct segment *last = tlog_active(t);
    checkpoint_take(cp, st);
    if (last) {
        last->end_offset = st->end_offset;
        last->has_data = st->end_offset > last->base_offset;
    }
    t->end_offset = st->end_offset;
}

/* ---- unclean open: replay ---- */

/* replay_segment's *cut when the segment has no damage to cut. */
#define NO_CUT UINT64_MAX

/* Where the replay starts: the checkpoint's recovery point when it is usable and no full scan
 * was asked, else the first segment's header. st becomes the state at that point; returns the
 * segment's index and sets *pos. */
static size_t replay_start(int flags, const struct tlog *t, struct tstate *st,
                           struct checkpoint *cp, uint64_t *pos) {
    *pos = SEGMENT_HEADER_SIZE;
    if (cp->usable && !(flags & RECOVERY_FULL) && t->nsegs) {
        *pos = cp->pos;
        checkpoint_take(cp, st);
        return (size_t)find_seg(t, cp->seg_base);
    }
    if (t->nsegs)
        tstate_init(st, t->segs[0]->base_offset);
    else if (cp->usable)
        checkpoint_take(cp, st);
    return 0;
}

/* Replays segment i from byte from (first: the segment of the recovery point, whose index
 * before from is kept or rebuilt by prefix_index): every good batch is applied to st and
 * indexed. A torn tail of the last segment is cut here. *cut is where damage starts in a
 * segment that is not the last one, or its header when it does not follow the previous one
 * (rep->damage says which); NO_CUT otherwise. */
static int replay_segment(int dirfd, int ro, struct tlog *t, size_t i, int first, uint64_t from,
                          struct tstate *st, struct recovery_report *rep, uint64_t *cut) {
    struct segment *seg = t->segs[i];
    char name[SEGMENT_NAME_MAX];
    int rc;
    segment_name(name, seg->base_offset, "log");
    *cut = NO_CUT;
    if (first && from > SEGMENT_HEADER_SIZE) {
        if ((rc = prefix_index(t, seg, from, t->cfg->index_interval)) != OBK_OK) return rc;
    } else {
        segindex_free(&seg->idx);
        seg->last_index_pos = 0;
    }
    if (!first && seg->base_offset != st->end_offset) {
        rep->damaged = 1;
        snprintf(rep->damage, sizeof rep->damage,
                 "segment %s: base offset does not follow %" PRIu64, name, st->end_offset);
        *cut = SEGMENT_HEADER_SIZE;
        return OBK_OK;
    }
    struct scan_ctx sc = {seg, st, t->cfg->index_interval, 1, 0, 0, OBK_OK, NULL};
    uint64_t good;
    if ((rc = tlog_segment_fd(t, seg)) != OBK_OK) return rc;
    tlog_scan_file(seg->rfd, seg->size, from, scan_cb, &sc, &good);
    if (sc.rc == OBK_ERR_NOMEM) return OBK_ERR_NOMEM;
    rep->scanned_bytes += good - from;
    rep->batches += sc.batches;
    seg->idx_state = SEGIDX_READY;
    rep->indexes_rebuilt++;
    if (good < seg->size && i + 1 < t->nsegs) {
        rep->damaged = 1;
        snprintf(rep->damage, sizeof rep->damage, "segment %s: bad batch at byte %" PRIu64 "%s%s",
                 name, good, sc.why ? ": " : "", sc.why ? sc.why : "");
        *cut = good;
        return OBK_OK;
    }
    if (good < seg->size) {
        log_msg(LOG_WARNING,
                "recovery: %s: torn or bad tail at byte %" PRIu64 ", %" PRIu64 " bytes dropped%s%s",
                name, good, seg->size - good, sc.why ? ": " : "", sc.why ? sc.why : "");
        rep->truncated_bytes += seg->size - good;
        if (!ro && (rc = truncate_segment(dirfd, seg, good)) != OBK_OK) return rc;
        t->bytes -= seg->size - good;
        seg->size = good;
    }
    if (!ro) write_index(dirfd, seg);
    return OBK_OK;
}

/* Forgets segments from index first on, removing their files unless read-only. */
static void drop_segments(int dirfd, int ro, struct tlog *t, size_t first,
                          struct recovery_report *rep) {
    for (size_t j = first; j < t->nsegs; j++) {
        if (!ro) unlink_segment(dirfd, t->segs[j]->base_offset);
        t->bytes -= t->segs[j]->size;
        tlog_segment_fd_close(t, t->segs[j]);
        segindex_free(&t->segs[j]->idx);
        free(t->segs[j]);
        rep->dropped_segments++;
    }
    t->nsegs = first;
}

/* Damage at byte cut of segment i (not the last segment's torn tail): refused without a repair
 * (OBK_ERR_DAMAGED). A repair cuts segment i there, dropping it whole when nothing good is
 * left in it (unless it is the first), and drops every later segment. */
static int repair_damage(int dirfd, int flags, struct tlog *t, size_t i, uint64_t cut,
                         const struct tstate *st, struct recovery_report *rep) {
    struct segment *seg = t->segs[i];
    int ro = flags & RECOVERY_READONLY, rc;
    if (!(flags & RECOVERY_REPAIR)) {
        log_msg(LOG_WARNING, "recovery: damage in %s; refusing to open (repair needed)",
                rep->damage);
        return OBK_ERR_DAMAGED;
    }
    /* entries lost: from the cut to the end of the last segment that still reads (the
     * damaged batch itself cannot be trusted to say how many it held) */
    if (i + 1 < t->nsegs) {
        struct segment *ls = tlog_active(t);
        rep->entries_lost +=
            ls->base_offset + count_entries(t, ls, SEGMENT_HEADER_SIZE) - st->end_offset;
    }
    rep->truncated_bytes += seg->size - cut;
    /* the damaged segment stays when something of it is good, and always when it is the
     * first (its name holds the log's base offset); then it is cut on disk too */
    int keep = cut > SEGMENT_HEADER_SIZE || i == 0;
    if (keep && cut == SEGMENT_HEADER_SIZE) {
        seg->first_id = SID_MIN;
        seg->has_data = 0;
        seg->end_offset = seg->base_offset;
        segindex_free(&seg->idx);
        seg->last_index_pos = 0;
        if (!ro && (rc = empty_segment(dirfd, seg)) != OBK_OK) return rc;
    } else if (keep && !ro) {
        if ((rc = truncate_segment(dirfd, seg, cut)) != OBK_OK) return rc;
    }
    if (keep && !ro) write_index(dirfd, seg);
    t->bytes -= seg->size - cut;
    seg->size = cut;
    drop_segments(dirfd, ro, t, keep ? i + 1 : i, rep);
    log_msg(LOG_WARNING, "recovery: repaired %s: %" PRIu64 " entries lost", rep->damage,
            rep->entries_lost);
    return OBK_OK;
}

/* After the replay: the last segment is the active one and the log starts at the first segment
 * left (segments removed by retention); unless read-only, the log is made durable and a
 * checkpoint written for the new end. */
static int finish_replay(int dirfd, int ro, struct tlog *t, struct tstate *st) {
    struct segment *a = tlog_active(t);
    if (a) {
        a->sealed = 0;
        tstate_set_start(st, t->segs[0]->base_offset);
    }
    t->end_offset = st->end_offset;
    if (ro || !a) return OBK_OK;
    int rc = tlog_segment_fd(t, a);
    if (rc != OBK_OK) return rc;
    if (fdatasync(a->rfd) != 0) return OBK_ERR_IO; /* a read-only descriptor syncs all the same */
    return recovery_write_checkpoint(dirfd, st, a->base_offset, a->size);
}

/* Unclean open: replays from the recovery point to the end of the log, cutting a torn tail and
 * refusing or repairing damage, then writes the checkpoint. */
static int replay_log(int dirfd, int flags, struct tlog *t, struct tstate *st,
                      struct checkpoint *cp, struct recovery_report *rep) {
    int ro = flags & RECOVERY_READONLY, rc;
    uint64_t pos;
    size_t k = replay_start(flags, t, st, cp, &pos);
    for (size_t i = k; i < t->nsegs; i++) {
        uint64_t cut;
        rc = replay_segment(dirfd, ro, t, i, i == k, i == k ? pos : SEGMENT_HEADER_SIZE, st, rep,
                            &cut);
        if (rc != OBK_OK) return rc;
        if (cut == NO_CUT) continue;
        if ((rc = repair_damage(dirfd, flags, t, i, cut, st, rep)) != OBK_OK) return rc;
        break;
    }
    return finish_replay(dirfd, ro, t, st);
}

int recovery_open_log(int dirfd, int flags, struct tlog *t, struct tstate *st,
                      struct recovery_report *rep) {
    struct checkpoint cp = {0};
    memset(rep, 0, sizeof *rep);
    tstate_init(st, 0);
    int rc = open_segments(dirfd, flags, t, rep);
    if (rc != OBK_OK) goto done;
    checkpoint_load(dirfd, t, &cp);
    if (clean_open_applies(flags, t, &cp)) {
        open_clean(t, st, &cp);
        rep->clean = 1;
    } else {
        rc = replay_log(dirfd, flags, t, st, &cp, rep);
    }
done:
    tstate_free(&cp.st);
    return rc;
}
