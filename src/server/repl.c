/* repl.c - replication state and the primary's side (see repl.h, docs/replication.md).
 *
 * Design: the stream a primary sends is its store's change records (storage/replog.h), emitted
 * when the group commit hands a topic's batches over (and when keys are deleted or renamed),
 * numbered by byte like Redis's replication offset. The first replica to connect turns the
 * records on and creates the backlog, a ring of repl-backlog-size bytes that lets a replica
 * whose link dropped continue (+CONTINUE) instead of syncing again.
 *
 * A full sync is a snapshot, not a replay: at a sync point (everything written and synced,
 * storage/snapshot.h) every file is hard-linked, and the files are sent after "+FULLRESYNC id
 * offset" as one "$<length>" payload of framed files (REPL_ARCHIVE_* below), topped up at most
 * REPL_SNAPSHOT_WINDOW bytes ahead of the socket so that neither memory nor descriptors grow
 * with the data set: with sendfile on a plain connection, read in REPL_TLS_CHUNK pieces into
 * the TLS bufferevent on a TLS one (tls-replication on the replica). Records emitted meanwhile wait
 * in the replica's pending buffer and follow the snapshot. Replicas acknowledge the offset they
 * made durable (REPLCONF ACK); WAIT counts them, and min-replicas-to-write needs enough recent
 * ones.
 *
 * Main thread: every function here runs on the loop, including the store's record sink
 * (store_flush runs on the main thread). */
#include "server/repl.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/log.h"
#include "base/sbuf.h"
#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/config.h"
#include "server/commit.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/durable.h"
#include "server/errors.h"
#include "server/repl_archive.h"
#include "server/runtime.h"
#include "storage/fsutil.h"
#include "storage/snapshot.h"
#include "storage/store.h"

/* Snapshot bytes queued ahead of the socket. */
#define REPL_SNAPSHOT_WINDOW (4u << 20)
/* Bytes of a snapshot file read at a time for a TLS connection (sendfile cannot encrypt). */
#define REPL_TLS_CHUNK (256u << 10)

enum replica_state { REPLICA_HANDSHAKE, REPLICA_SENDING, REPLICA_ONLINE };

struct replica {
    struct client *c;
    enum replica_state state;
    int listening_port;
    char ip[64];           /* REPLCONF ip-address, else the peer's address */
    struct snapshot *snap; /* while sending */
    size_t next_file;
    int reading; /* over TLS: next_file is open, read_off of it queued */
    int read_fd;
    uint64_t read_off;
    struct evbuffer *pending; /* records emitted while the snapshot is sent */
    long long ack_offset;
    /* In the in-sync set: good, and caught up since it last became good (its acknowledgement
     * reached the stream's end as it was then, catch_up_to - 1; 0 while not good). */
    int in_sync;
    long long catch_up_to;
    long long ack_ms;
    long long sync_start_ms;
    int waiting; /* blocked in WAIT */
    long long wait_target, wait_n;
    struct replica *next;
};

static struct {
    char id[REPL_ID_LEN + 1], id2[REPL_ID_LEN + 1];
    long long offset, second_offset;
    uint8_t *backlog; /* ring */
    size_t bsize, bnext;
    long long bhist; /* bytes held */
    int primary;     /* 0 while following a primary */
    struct store *store;
    struct replica *replicas; /* includes WAIT clients (c without a replica role) */
    long long last_ping_ms;
    struct event *kick; /* runs the loop again while a snapshot has files to send */
    unsigned snap_seq;
    long long sync_full, sync_partial_ok, sync_partial_err; /* INFO stats */
    /* min-replicas-to-write under fsync always: submissions and the stream offset that holds
     * their records, until enough replicas acknowledged that offset */
    int holding;
    struct seq_mark {
        uint64_t seq;
        long long offset;
    } * marks;
    size_t nmarks, mcap;
    uint64_t mapped_seq;
} R;

static void new_id(char *out) {
    util_random_hex(out, REPL_ID_LEN / 2);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg; /* the loop turn itself is the point */
}

void repl_init(void) {
    memset(&R, 0, sizeof R);
    new_id(R.id);
    memset(R.id2, '0', REPL_ID_LEN);
    R.second_offset = -1;
    R.primary = 1;
    R.kick = event_new(runtime.base, -1, 0, kick_cb, NULL);
}

/* ---- the backlog and the stream ---- */

static void backlog_add(const uint8_t *p, size_t n) {
    if (!R.backlog) return;
    R.offset += (long long)n;
    if (n >= R.bsize) { /* only the tail fits */
        p += n - R.bsize;
        n = R.bsize;
    }
    size_t first = R.bsize - R.bnext < n ? R.bsize - R.bnext : n;
    memcpy(R.backlog + R.bnext, p, first);
    memcpy(R.backlog, p + first, n - first);
    R.bnext = (R.bnext + n) % R.bsize;
    R.bhist += (long long)n;
    if (R.bhist > (long long)R.bsize) R.bhist = (long long)R.bsize;
}

static int backlog_create(void) {
    if (R.backlog) return 0;
    size_t size = (size_t)server_config.repl_backlog_size;
    if (!(R.backlog = malloc(size))) return -1;
    R.bsize = size;
    R.bnext = 0;
    R.bhist = 0;
    return 0;
}

/* Bytes of the stream from offset `from` (1-based) to the end, appended to out. */
static void backlog_copy(struct evbuffer *out, long long from) {
    long long skip = from - (R.offset - R.bhist + 1);
    size_t start = (R.bnext + R.bsize - (size_t)R.bhist + (size_t)skip) % R.bsize;
    size_t left = (size_t)(R.bhist - skip);
    while (left > 0) {
        size_t n = R.bsize - start < left ? R.bsize - start : left;
        evbuffer_add(out, R.backlog + start, n);
        start = (start + n) % R.bsize;
        left -= n;
    }
}

/* Every byte of the stream: the backlog, online replicas, and those waiting for a snapshot. */
static void stream_add(const uint8_t *p, size_t n) {
    if (n == 0) return;
    backlog_add(p, n);
    for (struct replica *r = R.replicas; r; r = r->next) {
        if (r->state == REPLICA_ONLINE) {
            evbuffer_add(conn_output(r->c), p, n);
            conn_schedule_write(r->c);
        } else if (r->state == REPLICA_SENDING) {
            evbuffer_add(r->pending, p, n);
        }
    }
}

/* The store's record sink. */
static void on_record(void *ctx, const uint8_t *head, size_t hl, const uint8_t *body, size_t bl) {
    (void)ctx;
    stream_add(head, hl);
    stream_add(body, bl);
}

/* Hands the record sink to the open store once a backlog exists (R.store: the store that has
 * it; a store reopened by a full sync or a restart of the loader is a new one). */
static void attach_store(void) {
    struct store *s = db_store();
    if (!s || s == R.store || !R.primary || !R.backlog) return;
    R.store = s;
    store_set_repl_sink(s, on_record, NULL);
}

void repl_feed_applied(const uint8_t *p, size_t n) {
    if (!R.backlog && backlog_create() != 0) {
        R.offset += (long long)n; /* the offset still counts what was applied */
        return;
    }
    stream_add(p, n);
}

/* ---- replicas ---- */

static struct replica *find(const struct client *c) {
    for (struct replica *r = R.replicas; r; r = r->next)
        if (r->c == c) return r;
    return NULL;
}

static struct replica *find_or_add(struct client *c) {
    struct replica *r = find(c);
    if (r) return r;
    if (!(r = calloc(1, sizeof(*r)))) return NULL;
    r->c = c;
    r->ack_offset = -1;
    r->next = R.replicas;
    R.replicas = r;
    return r;
}

static void replica_free(struct replica *r) {
    if (r->reading) close(r->read_fd);
    snapshot_remove(r->snap);
    if (r->pending) evbuffer_free(r->pending);
    free(r);
}

static int is_replica(const struct replica *r) {
    return (r->c->flags & CLIENT_REPLICA) != 0;
}

/* Online and acknowledged within min-replicas-max-lag: counts for min-replicas-to-write. */
static int is_good(const struct replica *r, long long now_ms) {
    return is_replica(r) && r->state == REPLICA_ONLINE &&
           now_ms - r->ack_ms <= (long long)server_config.min_replicas_max_lag * 1000;
}

/* Counts the good replicas and keeps the in-sync set: a replica that stops being good leaves
 * it, one that becomes good joins once it has acknowledged what the stream held then. */
static void count_good(void) {
    long long now = util_mstime();
    int good = 0;
    for (struct replica *r = R.replicas; r; r = r->next) {
        if (!is_good(r, now)) {
            r->in_sync = 0;
            r->catch_up_to = 0;
            continue;
        }
        good++;
        if (!r->catch_up_to) r->catch_up_to = R.offset + 1;
        if (r->ack_offset + 1 >= r->catch_up_to) r->in_sync = 1;
    }
    runtime.good_replicas = good;
}

void repl_release_client(struct client *c) {
    for (struct replica **pp = &R.replicas; *pp; pp = &(*pp)->next) {
        if ((*pp)->c != c) continue;
        struct replica *r = *pp;
        *pp = r->next;
        if (is_replica(r))
            log_msg(LOG_NOTICE, "Connection with replica %s:%d lost.", r->ip, r->listening_port);
        replica_free(r);
        count_good();
        return;
    }
}

void repl_set_listening(struct client *c, int port, const char *ip) {
    struct replica *r = find_or_add(c);
    if (!r) return;
    if (port >= 0) r->listening_port = port;
    if (ip) snprintf(r->ip, sizeof r->ip, "%s", ip);
}

/* The peer's address without its port ("127.0.0.1:5000" -> "127.0.0.1"). */
static void peer_ip(const struct client *c, char *out, size_t cap) {
    snprintf(out, cap, "%s", c->addr);
    char *colon = strrchr(out, ':');
    if (colon) *colon = '\0';
}

static int start_full_sync(struct replica *r) {
    char name[64], line[128];
    struct snapshot *sn;
    snprintf(name, sizeof name, "sync-%u", ++R.snap_seq);
    int rc = snapshot_create(db_store(), name, &sn);
    if (rc != OBK_OK) {
        log_msg(LOG_WARNING, "Can't take a snapshot for replica %s:%d: %s", r->ip,
                r->listening_port, obk_strerror(rc));
        return -1;
    }
    if (!(r->pending = evbuffer_new())) {
        snapshot_remove(sn);
        return -1;
    }
    r->snap = sn;
    r->next_file = 0;
    r->state = REPLICA_SENDING;
    r->sync_start_ms = util_mstime();
    uint64_t total = REPL_ARCHIVE_END_SIZE;
    for (size_t i = 0; i < sn->nfiles; i++)
        total += REPL_ARCHIVE_FILE_HEADER + strlen(sn->files[i].path) + sn->files[i].size;
    snprintf(line, sizeof line, "+FULLRESYNC %s %lld\r\n$%llu\r\n", R.id, R.offset,
             (unsigned long long)total);
    reply_raw(&r->c->reply, line, strlen(line));
    log_msg(LOG_NOTICE,
            "Starting a full sync for replica %s:%d: %zu files, %llu bytes, at offset %lld", r->ip,
            r->listening_port, sn->nfiles, (unsigned long long)sn->bytes, R.offset);
    return 0;
}

static void psync(struct client *c, const char *replid, long long offset);

/* The handshake never waits for durability: its snapshot and backlog are the replica's copy,
 * not a reply about stored data, and under min-replicas-to-write a +FULLRESYNC held until a
 * replica acknowledges could wait forever on a primary whose replicas all need a full sync
 * (after a second failover in a row). */
void repl_psync(struct client *c, const char *replid, long long offset) {
    uint64_t saved = durable_untracked_begin();
    psync(c, replid, offset);
    durable_untracked_end(saved);
}

static void psync(struct client *c, const char *replid, long long offset) {
    char line[128];
    if (!R.primary) {
        reply_error(&c->reply, ERR_NOMASTERLINK);
        return;
    }
    struct replica *r = find_or_add(c);
    if (!r || backlog_create() != 0) {
        reply_error(&c->reply, ERR_OUT_OF_MEMORY);
        return;
    }
    if (!r->ip[0]) peer_ip(c, r->ip, sizeof r->ip);
    attach_store();
    c->flags |= CLIENT_REPLICA;
    r->ack_ms = util_mstime();
    long long first = R.offset - R.bhist + 1;
    int same = !strcmp(replid, R.id) || (!strcmp(replid, R.id2) && offset <= R.second_offset);
    if (same && offset >= first && offset <= R.offset + 1) {
        if (!(r->pending = evbuffer_new())) {
            reply_error(&c->reply, ERR_OUT_OF_MEMORY);
            return;
        }
        snprintf(line, sizeof line, "+CONTINUE %s\r\n", R.id);
        reply_raw(&c->reply, line, strlen(line));
        backlog_copy(r->pending, offset); /* sent once the reply is out (repl_before_sleep) */
        r->state = REPLICA_SENDING;
        R.sync_partial_ok++;
        log_msg(LOG_NOTICE,
                "Partial resynchronization request from %s:%d accepted. Sending %lld bytes of "
                "backlog starting from offset %lld.",
                r->ip, r->listening_port, R.offset + 1 - offset, offset);
        count_good();
        return;
    }
    if (offset >= 0) R.sync_partial_err++; /* asked to continue, could not */
    R.sync_full++;
    if (start_full_sync(r) != 0) conn_close_async(c);
}

/* ---- acknowledged means replicated (min-replicas-to-write under fsync always) ---- */

static int cmp_desc(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Releases the replies whose submissions every in-sync replica has acknowledged, when at
 * least N are in sync; otherwise those the N-th best good replica has (a replica just synced in
 * full, still catching up). Waiting for every in-sync replica, not the N fastest, is what makes
 * any of them a safe choice for Sentinel: it promotes the replica with the highest offset by an
 * INFO that may be from before the primary died, so with N = 1 and two replicas, a write that
 * only the faster one had acknowledged was lost when the slower one was promoted. A replica
 * that stops acknowledging leaves the set after min-replicas-max-lag seconds, and replies wait
 * for it until then. */
static void release_replicated(void) {
    int n = server_config.min_replicas_to_write, k = 0, insync = 0;
    long long acks[64], now = util_mstime(), lowest_in_sync = LLONG_MAX;
    if (!R.holding || n <= 0) return; /* the in-sync set is current: callers count_good first */
    for (struct replica *r = R.replicas; r && k < 64; r = r->next) {
        if (!is_good(r, now)) continue;
        acks[k++] = r->ack_offset;
        if (r->in_sync) {
            insync++;
            if (r->ack_offset < lowest_in_sync) lowest_in_sync = r->ack_offset;
        }
    }
    if (k < n) return;
    qsort(acks, (size_t)k, sizeof acks[0], cmp_desc);
    long long reached = insync >= n ? lowest_in_sync : acks[n - 1];
    size_t i = 0;
    uint64_t seq = 0;
    while (i < R.nmarks && R.marks[i].offset <= reached) seq = R.marks[i++].seq;
    if (i == 0) return;
    memmove(R.marks, R.marks + i, (R.nmarks - i) * sizeof(*R.marks));
    R.nmarks -= i;
    durable_set_replicated(seq);
    commit_release(durable_seq());
}

/* Starts or stops waiting for replicas as the settings say, and maps the submissions handed
 * over this turn to the stream offset that holds their records. */
static void track_submissions(void) {
    int want =
        R.primary && server_config.min_replicas_to_write > 0 && server_config.fsync == FSYNC_ALWAYS;
    struct store *s = db_store();
    if (!s) return;
    if (want != R.holding) {
        R.holding = want;
        R.nmarks = 0;
        /* submissions in flight now are mapped below with the current offset, so that their
         * replies are released by the replicas too, not only by a later write */
        R.mapped_seq = durable_seq();
        durable_set_replicated(want ? durable_seq() : UINT64_MAX);
        if (!want) commit_release(durable_seq());
    }
    uint64_t seq = store_submitted_seq(s);
    if (!R.holding || seq <= R.mapped_seq) return;
    if (R.nmarks == R.mcap) {
        size_t cap = R.mcap ? 2 * R.mcap : 256;
        struct seq_mark *nm = realloc(R.marks, cap * sizeof(*nm));
        if (!nm) return; /* mapped with the next submission instead (a later offset) */
        R.marks = nm;
        R.mcap = cap;
    }
    R.marks[R.nmarks++] = (struct seq_mark){seq, R.offset};
    R.mapped_seq = seq;
}

void repl_ack(struct client *c, long long offset) {
    struct replica *r = find(c);
    if (!r || !is_replica(r)) return;
    if (offset > r->ack_offset) r->ack_offset = offset;
    r->ack_ms = util_mstime();
    if (r->state == REPLICA_ONLINE) count_good();
    for (struct replica *w = R.replicas; w; w = w->next)
        if (w->waiting) blocking_wake(w->c);
    release_replicated();
}

/* ---- sending snapshots ---- */

/* Queues the next piece of the snapshot: on a plain connection a whole file, sent with
 * sendfile (evbuffer_add_file); on a TLS connection, whose bytes must pass through OpenSSL,
 * up to REPL_TLS_CHUNK bytes read from the file into the output (the window in top_up bounds
 * them as it bounds the files). */
static int add_file(struct replica *r, struct evbuffer *out) {
    const struct snapshot_file *f = &r->snap->files[r->next_file];
    if (!r->reading) { /* a new file: its header, then its bytes */
        uint8_t hdr[REPL_ARCHIVE_FILE_HEADER];
        size_t plen = strlen(f->path);
        repl_archive_file_header(hdr, plen, f->size);
        evbuffer_add(out, hdr, sizeof hdr);
        evbuffer_add(out, f->path, plen);
        if (f->size == 0) {
            r->next_file++;
            return 0;
        }
        int fd = snapshot_open(r->snap, r->next_file);
        if (fd < 0) return -1;
        if (!r->c->tls) {
            if (evbuffer_add_file(out, fd, 0, (ev_off_t)f->size) != 0) { /* closes fd when sent */
                close(fd);
                return -1;
            }
            r->next_file++;
            return 0;
        }
        r->reading = 1;
        r->read_fd = fd;
        r->read_off = 0;
    }
    uint64_t left = f->size - r->read_off;
    size_t want = left < REPL_TLS_CHUNK ? (size_t)left : REPL_TLS_CHUNK;
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1) return -1;
    ssize_t n =
        pread(r->read_fd, v.iov_base, want < v.iov_len ? want : v.iov_len, (off_t)r->read_off);
    if (n <= 0) return -1; /* the link keeps the sync point's bytes: short means damage */
    v.iov_len = (size_t)n;
    if (evbuffer_commit_space(out, &v, 1) != 0) return -1;
    r->read_off += (uint64_t)n;
    if (r->read_off == f->size) {
        close(r->read_fd);
        r->reading = 0;
        r->next_file++;
    }
    return 0;
}

static void go_online(struct replica *r, struct evbuffer *out) {
    evbuffer_add_buffer(out, r->pending);
    evbuffer_free(r->pending);
    r->pending = NULL;
    r->state = REPLICA_ONLINE;
    r->ack_ms = util_mstime();
    count_good();
}

static void finish_snapshot(struct replica *r, struct evbuffer *out) {
    uint8_t end[REPL_ARCHIVE_END_SIZE];
    repl_archive_end(end, (uint32_t)r->snap->nfiles);
    evbuffer_add(out, end, sizeof end);
    log_msg(LOG_NOTICE, "Snapshot of %llu bytes queued for replica %s:%d in %lld ms; streaming.",
            (unsigned long long)r->snap->bytes, r->ip, r->listening_port,
            util_mstime() - r->sync_start_ms);
    snapshot_remove(r->snap); /* open files stay readable until sent */
    r->snap = NULL;
    go_online(r, out);
}

/* Queues what the window allows; returns 1 when it queued anything. */
static int top_up(struct replica *r) {
    struct evbuffer *out = conn_output(r->c);
    /* the PSYNC reply (in the stage, or held behind earlier replies) goes out first */
    if (evbuffer_get_length(r->c->stage) || r->c->held_bytes) return 0;
    if (!r->snap) { /* +CONTINUE: the backlog's bytes and what came since */
        go_online(r, out);
        conn_schedule_write(r->c);
        return 1;
    }
    int queued = 0;
    while (conn_output_bytes(r->c) < REPL_SNAPSHOT_WINDOW && r->next_file < r->snap->nfiles) {
        if (add_file(r, out) != 0) {
            log_msg(LOG_WARNING, "Can't read the snapshot for replica %s:%d; dropping it", r->ip,
                    r->listening_port);
            conn_close_async(r->c);
            return 0;
        }
        queued = 1;
    }
    if (r->next_file == r->snap->nfiles) {
        finish_snapshot(r, out);
        queued = 1;
    }
    if (queued) conn_schedule_write(r->c);
    return queued;
}

void repl_before_sleep(void) {
    attach_store();
    track_submissions();
    int sending = 0;
    for (struct replica *r = R.replicas; r; r = r->next) {
        if (r->state != REPLICA_SENDING || (r->c->flags & CLIENT_CLOSE_ASAP)) continue;
        int queued = top_up(r);
        sending |= queued && r->state == REPLICA_SENDING;
    }
    /* the socket may take the window at once and leave no write event to wake the loop; a full
     * window has one (its bytes being written), so the loop is not kicked then: no spinning */
    if (sending) event_active(R.kick, EV_TIMEOUT, 0);
}

/* ---- heartbeats and timeouts ---- */

void repl_cron(long long now_ms) {
    if (R.primary && R.backlog && R.replicas &&
        now_ms - R.last_ping_ms >= (long long)server_config.repl_ping_replica_period * 1000) {
        /* moves the offset like Redis's PING, so a replica sees its link alive */
        uint8_t head[REPLOG_HEADER];
        size_t hl = replog_encode_head(head, REPLOG_NOP, 0, NULL, 0, NULL, 0);
        stream_add(head, hl);
        R.last_ping_ms = now_ms;
    }
    for (struct replica *r = R.replicas; r; r = r->next) {
        if (!is_replica(r) || r->state != REPLICA_ONLINE) continue;
        if (now_ms - r->ack_ms > (long long)server_config.repl_timeout * 1000) {
            log_msg(LOG_WARNING, "Disconnecting timedout replica (streaming sync): %s:%d", r->ip,
                    r->listening_port);
            conn_close_async(r->c);
        }
    }
    count_good();
    release_replicated(); /* a replica that went silent leaves the in-sync set: stop waiting */
}

/* ---- WAIT ---- */

static long long acked_count(long long target) {
    long long n = 0;
    for (struct replica *r = R.replicas; r; r = r->next)
        if (is_replica(r) && r->state == REPLICA_ONLINE && r->ack_offset >= target) n++;
    return n;
}

static int wait_serve(struct client *c, int idx) {
    (void)idx;
    struct replica *w = find(c);
    long long n = acked_count(w ? w->wait_target : 0);
    if (w && n < w->wait_n) return 0;
    reply_int(&c->reply, n);
    if (w) w->waiting = 0;
    return 1;
}

static int wait_timeout(struct client *c, int arg) {
    (void)arg;
    struct replica *w = find(c);
    reply_int(&c->reply, acked_count(w ? w->wait_target : 0));
    if (w) w->waiting = 0;
    return 1;
}

void repl_wait(struct client *c, long long numreplicas, long long timeout_ms) {
    if (!R.primary) {
        reply_error(&c->reply, ERR_WAIT_REPLICA);
        return;
    }
    db_flush_now(); /* the records of every change so far are in the stream */
    long long target = R.offset, n = acked_count(target);
    if (n >= numreplicas || (c->flags & CLIENT_MULTI)) {
        reply_int(&c->reply, n);
        return;
    }
    struct replica *w = find_or_add(c);
    struct blocking_request req = {wait_serve, 0, NULL, NULL, NULL, 0, timeout_ms, 0, wait_timeout};
    if (!w || blocking_block(c, &req) != 0) {
        reply_error(&c->reply, ERR_OUT_OF_MEMORY);
        return;
    }
    w->waiting = 1;
    w->wait_target = target;
    w->wait_n = numreplicas;
}

/* ---- across a clean restart ---- */

#define REPL_STATE_NAME "replication"

static int state_text(char *out, size_t cap, long long offset) {
    return snprintf(out, cap, "obelisk-replication 1\nreplid %s\noffset %lld\n", R.id, offset);
}

void repl_save_state(void) {
    char text[128];
    int n = state_text(text, sizeof text, R.offset);
    int dirfd = open(server_config.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0 || fsutil_write_file_sync(dirfd, REPL_STATE_NAME, text, (size_t)n) != OBK_OK)
        log_msg(LOG_WARNING, "Can't save the replication offset; the next start syncs again");
    if (dirfd >= 0) close(dirfd);
}

int repl_save_acked(long long offset) {
    char text[128];
    struct store *s = db_store();
    int n = state_text(text, sizeof text, offset);
    if (!s || store_replace_file(s, REPL_STATE_NAME, text, (size_t)n) != OBK_OK) return -1;
    db_kick_flush();
    return 0;
}

static void forget_saved_state(void) {
    int dirfd = open(server_config.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return;
    unlinkat(dirfd, REPL_STATE_NAME, 0);
    close(dirfd);
}

void repl_load_state(void) {
    int dirfd = open(server_config.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint8_t *text = NULL;
    size_t len;
    char id[REPL_ID_LEN + 2];
    long long offset;
    if (dirfd < 0) return;
    /* after a clean stop the file holds exactly the data's offset; after a crash a replica's
     * file holds an offset its data surely has (it is saved behind the data), and the records
     * after it are applied again, which skips what is already there (replapply.h) */
    int clean = faccessat(dirfd, STORE_CLEAN_NAME, F_OK, 0) == 0;
    int replica = server_config.replicaof[0] != '\0';
    if (fsutil_read_file(dirfd, REPL_STATE_NAME, 4096, &text, &len) == OBK_OK) {
        text[len] = '\0';
        if ((clean || replica) &&
            sscanf((char *)text, "obelisk-replication 1\nreplid %41s\noffset %lld", id, &offset) ==
                2 &&
            strlen(id) == REPL_ID_LEN && offset >= 0) {
            memcpy(R.id, id, sizeof R.id);
            R.offset = offset;
            log_msg(LOG_NOTICE, "Replication history %s up to offset %lld kept from the last run%s",
                    R.id, R.offset, clean ? "" : " (after an unclean stop)");
        }
        unlinkat(dirfd, REPL_STATE_NAME, 0); /* a crash from now on must not reuse it */
        fsync(dirfd);
    }
    free(text);
    close(dirfd);
}

/* ---- role changes ---- */

void repl_stop_primary(void) {
    R.primary = 0;
    if (R.holding) {
        /* replies still waiting for replicas were never replicated: as a replica this node's
         * data is replaced by its new primary's, so none of them may be sent as a success */
        commit_fail(ERR_NOREPLICAS);
        R.holding = 0;
        R.nmarks = 0;
        durable_set_replicated(UINT64_MAX);
    }
    if (R.store && R.store == db_store()) store_set_repl_sink(R.store, NULL, NULL);
    R.store = NULL;
    for (struct replica *r = R.replicas; r; r = r->next)
        if (is_replica(r)) conn_close_async(r->c);
}

void repl_start_primary(void) {
    if (R.primary) return;
    forget_saved_state(); /* a replica's saved offset says nothing of what a primary writes */
    /* what the link applied and did not hand over yet belongs to the old history */
    db_flush_now();
    memcpy(R.id2, R.id, sizeof R.id2);
    R.second_offset = R.offset + 1;
    new_id(R.id);
    R.primary = 1;
    if (backlog_create() == 0) attach_store();
}

/* ---- shared state ---- */

const char *repl_id(void) {
    return R.id;
}

const char *repl_id2(void) {
    return R.id2;
}

long long repl_offset(void) {
    return R.offset;
}

long long repl_second_offset(void) {
    return R.second_offset;
}

void repl_set_history(const char *replid, long long offset) {
    snprintf(R.id, sizeof R.id, "%s", replid);
    R.offset = offset;
    R.bhist = 0; /* the backlog holds a history only from here on */
    R.bnext = 0;
}

void repl_sync_stats(long long *full, long long *partial_ok, long long *partial_err) {
    *full = R.sync_full;
    *partial_ok = R.sync_partial_ok;
    *partial_err = R.sync_partial_err;
}

int repl_replica_count(void) {
    int n = 0;
    for (struct replica *r = R.replicas; r; r = r->next) n += is_replica(r);
    return n;
}

static const char *state_name(const struct replica *r) {
    return r->state == REPLICA_ONLINE ? "online" : "send_bulk";
}

void repl_info_replicas(struct sbuf *b) {
    int i = 0;
    long long now = util_mstime();
    for (struct replica *r = R.replicas; r; r = r->next) {
        if (!is_replica(r)) continue;
        sbuf_printf(b, "slave%d:ip=%s,port=%d,state=%s,offset=%lld,lag=%lld\r\n", i++, r->ip,
                    r->listening_port, state_name(r), r->ack_offset < 0 ? 0 : r->ack_offset,
                    (now - r->ack_ms) / 1000);
    }
}

void repl_info_backlog(struct sbuf *b) {
    sbuf_printf(b,
                "master_failover_state:no-failover\r\nmaster_replid:%s\r\nmaster_replid2:%s\r\n"
                "master_repl_offset:%lld\r\nsecond_repl_offset:%lld\r\n"
                "repl_backlog_active:%d\r\nrepl_backlog_size:%lld\r\n"
                "repl_backlog_first_byte_offset:%lld\r\nrepl_backlog_histlen:%lld\r\n",
                R.id, R.id2, R.offset, R.second_offset, R.backlog != NULL,
                server_config.repl_backlog_size, R.backlog ? R.offset - R.bhist + 1 : 0, R.bhist);
}

void repl_foreach_replica(void (*fn)(void *ctx, const char *ip, int port, long long ack),
                          void *ctx) {
    for (struct replica *r = R.replicas; r; r = r->next)
        if (is_replica(r) && r->state == REPLICA_ONLINE)
            fn(ctx, r->ip, r->listening_port, r->ack_offset < 0 ? 0 : r->ack_offset);
}
