/* repl_link.c - a replica's link to its primary (see repl_link.h, docs/replication.md).
 *
 * Design: one bufferevent to the primary, driven by a small state machine:
 *   CONNECT -> CONNECTING -> HANDSHAKE (AUTH, PING, REPLCONF listening-port, REPLCONF capa,
 *   PSYNC, sent at once and answered in order) -> TRANSFER (+FULLRESYNC: the snapshot's files
 *   written under <dir>/sync-incoming) -> LOADING (the store closed, the received databases
 *   swapped in, the store opened again by the loader thread while clients get -LOADING) ->
 *   STREAMING (+CONTINUE, or after the load): records applied as they arrive.
 * A record that meets a full cache stops reading (the socket's buffer then holds the primary
 * back) until a persist completion; a record that does not fit the data here (damage or a
 * diverged history) drops the link, and the next handshake asks for a full sync. After each
 * applied record the pair (submission that carries it, stream offset) is queued; when
 * durable_seq() passes the submission the offset is acknowledged with REPLCONF ACK, so the
 * primary counts only what this replica would keep across a crash under its fsync policy.
 *
 * With tls-replication the bufferevent is a TLS one (tls.c's client context); the rest of the
 * link does not know the difference.
 *
 * Main thread only. */
#include "server/repl_link.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/status.h"
#include "base/util.h"
#include "server/blocking.h"
#include "server/config.h"
#include "server/db.h"
#include "server/durable.h"
#include "server/repl.h"
#include "server/repl_archive.h"
#include "server/repl_diverge.h"
#include "server/runtime.h"
#include "server/sockread.h"
#include "server/tls.h"
#include "storage/fsutil.h"
#include "storage/replapply.h"
#include "storage/store.h"

/* Bytes of the stream (or of a snapshot) taken from the socket in one loop turn: libevent 2.1
 * alone takes 4 KiB, and every turn's records end in a round with its fdatasync (sockread.c). */
#define LINK_READ_MAX (1u << 20)

#define INCOMING_DIR "sync-incoming"
#define OLD_DIR      "sync-old"

enum link_state {
    LINK_NONE,
    LINK_CONNECT,
    LINK_CONNECTING,
    LINK_HANDSHAKE,
    LINK_TRANSFER,
    LINK_LOADING,
    LINK_STREAMING
};

enum transfer_step { T_BULK_LEN, T_HEADER, T_PATH, T_DATA };

struct ack_mark {
    uint64_t seq;     /* submission carrying the record */
    long long offset; /* stream offset at its end */
};

static struct {
    enum link_state state;
    char host[256];
    int port;
    struct bufferevent *bev;
    int tls;          /* bev is a TLS bufferevent */
    int replies_left; /* handshake replies still to read before PSYNC's */
    int full_sync_needed;
    int synced;      /* the data follows this primary's history (a sync or a +CONTINUE happened) */
    int ack_on_load; /* acknowledge the offset as soon as the store is open */
    long long saved, saved_ms; /* the offset last saved for a restart */
    long long synced_offset;   /* the end of the records synced here (what may be saved) */
    long long last_io_ms, down_since_ms, last_ack_ms, connect_ms;
    /* transfer */
    enum transfer_step step;
    int dirfd, infd; /* data directory, <dir>/sync-incoming */
    int fd;          /* file being written */
    uint64_t total, received, left;
    size_t pathlen;
    uint32_t nfiles;
    char new_id[REPL_ID_LEN + 1];
    long long new_offset;
    /* streaming */
    struct replapply apply;
    int stalled;
    struct ack_mark *acks;
    size_t nacks, acap;
    long long acked;
} L = {.state = LINK_NONE, .dirfd = -1, .infd = -1, .fd = -1};

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

/* ---- connection lifecycle ---- */

static void close_transfer(void) {
    if (L.fd >= 0) close(L.fd);
    if (L.infd >= 0) close(L.infd);
    L.fd = L.infd = -1;
    if (L.dirfd >= 0) {
        fsutil_remove_tree(L.dirfd, INCOMING_DIR, 4);
        close(L.dirfd);
        L.dirfd = -1;
    }
}

/* Drops the connection; the cron connects again (state CONNECT) unless stopping. */
static void drop(const char *why, int next_state) {
    if (why) log_msg(LOG_WARNING, "Connection with master lost: %s", why);
    if (L.bev) bufferevent_free(L.bev);
    L.bev = NULL;
    if (L.state != LINK_LOADING) close_transfer();
    if (L.state == LINK_LOADING || L.state == LINK_TRANSFER)
        L.full_sync_needed = 1; /* the data loading now is not the history the link had */
    if (L.state == LINK_STREAMING) L.down_since_ms = util_mstime(); /* an up link went down */
    L.nacks = 0;
    L.stalled = 0;
    L.state = next_state;
}

static void send_command(int argc, const char **argv) {
    struct evbuffer *out = bufferevent_get_output(L.bev);
    evbuffer_add_printf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        evbuffer_add_printf(out, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

/* The link's bufferevent: a TLS one with tls-replication (the client context of tls.c, which
 * presents this server's client certificate and verifies the primary's against the CAs). */
static struct bufferevent *new_link_bev(void) {
    if (!server_config.tls_replication)
        return bufferevent_socket_new(runtime.base, -1, BEV_OPT_CLOSE_ON_FREE);
    SSL *ssl = tls_new_client_ssl();
    if (!ssl) {
        log_msg(LOG_WARNING, "Can't connect to MASTER with TLS: no TLS context (%s)",
                tls_last_error());
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        runtime.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    bufferevent_set_max_single_read(bev, LINK_READ_MAX); /* it reads through OpenSSL */
    return bev;
}

/* Why a link failed: the socket's error, or for TLS the OpenSSL errors of the handshake
 * (an untrusted certificate, a refused client certificate). */
static const char *link_error(struct bufferevent *bev, short what) {
    static char why[512];
    int err = EVUTIL_SOCKET_ERROR();
    /* a TLS alert (the primary refused this replica's certificate) may come as an EOF */
    unsigned long e = server_config.tls_replication ? tls_bev_error(bev) : 0;
    if (!e)
        return what & BEV_EVENT_EOF ? "closed by the master" : evutil_socket_error_to_string(err);
    char line[256];
    ERR_error_string_n(e, line, sizeof line);
    snprintf(why, sizeof why, "TLS error: %s", line);
    return why;
}

static void connect_now(void) {
    L.bev = new_link_bev();
    if (!L.bev) return;
    L.tls = server_config.tls_replication;
    bufferevent_setcb(L.bev, read_cb, NULL, event_cb, NULL);
    L.state = LINK_CONNECTING;
    L.connect_ms = util_mstime();
    log_msg(LOG_NOTICE, "Connecting to MASTER %s:%d", L.host, L.port);
    if (bufferevent_socket_connect_hostname(L.bev, NULL, AF_UNSPEC, L.host, L.port) != 0)
        drop("can't connect", LINK_CONNECT);
}

static void handshake(void) {
    char port[16], offset[32];
    const char *replid = "?";
    /* over TLS the replica announces its TLS port, as Redis does */
    int listening = server_config.replica_announce_port ? server_config.replica_announce_port
                    : server_config.tls_replication && server_config.tls_port > 0
                        ? server_config.tls_port
                    : runtime.port ? runtime.port
                                   : runtime.tls_port; /* TLS only */
    snprintf(port, sizeof port, "%d", listening);
    snprintf(offset, sizeof offset, "-1");
    if (!L.full_sync_needed && repl_offset() > 0) {
        replid = repl_id();
        snprintf(offset, sizeof offset, "%lld", repl_offset() + 1);
    }
    L.replies_left = 3; /* PING, REPLCONF, REPLCONF */
    if (server_config.masterauth[0]) {
        const char *user = server_config.masteruser;
        const char *auth[3] = {"AUTH", user[0] ? user : server_config.masterauth,
                               server_config.masterauth};
        send_command(user[0] ? 3 : 2, auth);
        L.replies_left++;
    }
    const char *ping[1] = {"PING"};
    const char *lport[3] = {"REPLCONF", "listening-port", port};
    const char *capa[5] = {"REPLCONF", "capa", "eof", "capa", "psync2"};
    const char *psync[3] = {"PSYNC", replid, offset};
    send_command(1, ping);
    send_command(3, lport);
    if (server_config.replica_announce_ip[0]) {
        const char *ip[3] = {"REPLCONF", "ip-address", server_config.replica_announce_ip};
        send_command(3, ip);
        L.replies_left++;
    }
    send_command(5, capa);
    send_command(3, psync);
    L.state = LINK_HANDSHAKE;
    log_msg(LOG_NOTICE, "Trying a partial resynchronization (request %s:%s).", replid, offset);
}

static void event_cb(struct bufferevent *bev, short what, void *arg) {
    (void)arg;
    if (what & BEV_EVENT_CONNECTED) {
        log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync started");
        L.last_io_ms = util_mstime();
        bufferevent_enable(L.bev, EV_READ);
        handshake();
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (L.state == LINK_CONNECTING)
            log_msg(LOG_WARNING, "Error condition on socket for SYNC: %s", link_error(bev, what));
        drop(L.state == LINK_CONNECTING ? NULL : link_error(bev, what), LINK_CONNECT);
    }
}

/* ---- handshake replies ---- */

/* One reply line (without CRLF) into line; 0 when not complete yet. */
static int read_line(struct evbuffer *in, char *line, size_t cap) {
    size_t n;
    char *l = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
    if (!l) return 0;
    snprintf(line, cap, "%s", l);
    free(l);
    return 1;
}

static int begin_transfer(void);
static void queue_ack(long long offset);

static void on_psync_reply(const char *line) {
    if (!strncmp(line, "+FULLRESYNC ", 12)) {
        char id[REPL_ID_LEN + 2];
        long long off;
        if (sscanf(line + 12, "%41s %lld", id, &off) != 2 || strlen(id) != REPL_ID_LEN) {
            drop("bad FULLRESYNC reply", LINK_CONNECT);
            return;
        }
        memcpy(L.new_id, id, sizeof L.new_id);
        L.new_offset = off;
        log_msg(LOG_NOTICE, "Full resync from master: %s:%lld", id, off);
        if (begin_transfer() != 0) drop("can't prepare the sync directory", LINK_CONNECT);
        return;
    }
    if (!strncmp(line, "+CONTINUE", 9)) {
        const char *id = line[9] == ' ' ? line + 10 : NULL;
        if (id && strlen(id) == REPL_ID_LEN && strcmp(id, repl_id()) != 0)
            repl_set_history(id, repl_offset());
        log_msg(LOG_NOTICE, "Successful partial resynchronization with master.");
        L.state = LINK_STREAMING;
        L.full_sync_needed = 0;
        L.synced = 1;
        L.ack_on_load = 1; /* what it had is durable here already: acknowledged once loaded */
        return;
    }
    log_msg(LOG_WARNING, "Unexpected reply to PSYNC from master: %s", line);
    drop(NULL, LINK_CONNECT);
}

static void read_handshake(struct evbuffer *in) {
    char line[512];
    while (L.state == LINK_HANDSHAKE && read_line(in, line, sizeof line)) {
        if (L.replies_left > 0) {
            L.replies_left--;
            if (line[0] == '-' && !strncmp(line, "-NOAUTH", 7)) {
                log_msg(LOG_WARNING, "Master requires authentication: set masterauth");
                drop(NULL, LINK_CONNECT);
            } else if (line[0] == '-' && strstr(line, "WRONGPASS")) {
                log_msg(LOG_WARNING, "Unable to AUTH to MASTER: %s", line);
                drop(NULL, LINK_CONNECT);
            }
            continue; /* PONG, OK, or a REPLCONF the master does not know (not critical) */
        }
        on_psync_reply(line);
    }
}

/* ---- full sync: receiving the snapshot ---- */

static int begin_transfer(void) {
    L.dirfd = open(server_config.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (L.dirfd < 0 || fsutil_remove_tree(L.dirfd, INCOMING_DIR, 4) != OBK_OK ||
        mkdirat(L.dirfd, INCOMING_DIR, 0700) != 0)
        return -1;
    L.infd = openat(L.dirfd, INCOMING_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (L.infd < 0) return -1;
    L.state = LINK_TRANSFER;
    L.step = T_BULK_LEN;
    L.total = L.received = 0;
    L.nfiles = 0;
    return 0;
}

/* Creates the directories of path (relative to the incoming directory) and opens the file. */
static int open_incoming(char *path) {
    for (char *p = path; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdirat(L.infd, path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -1;
    }
    L.fd = openat(L.infd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    return L.fd >= 0 ? 0 : -1;
}

static int install_snapshot(void);

/* Consumes archive bytes from in; returns -1 on a protocol or file error. */
static int read_transfer(struct evbuffer *in) {
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (L.step == T_BULK_LEN) {
            char line[64];
            long long n;
            if (!read_line(in, line, sizeof line)) return 0;
            if (line[0] == '\0') continue; /* a newline kept the connection alive */
            if (line[0] != '$' || !util_parse_ll(line + 1, strlen(line + 1), &n) || n < 0)
                return -1;
            L.total = (uint64_t)n;
            L.step = T_HEADER;
        } else if (L.step == T_HEADER) {
            uint8_t h[REPL_ARCHIVE_FILE_HEADER];
            size_t pathlen;
            uint64_t size;
            if (avail < REPL_ARCHIVE_END_SIZE) return 0;
            size_t got = avail < sizeof h ? avail : sizeof h;
            evbuffer_copyout(in, h, got);
            int kind = repl_archive_parse(h, got, &pathlen, &size);
            if (kind == -1 && got < sizeof h && !memcmp(h, "OBKF", 4)) return 0; /* partial */
            if (kind < 0) return -1;
            if (kind == 0) {
                evbuffer_drain(in, REPL_ARCHIVE_END_SIZE);
                L.received += REPL_ARCHIVE_END_SIZE;
                if (size != L.nfiles || L.received != L.total) return -1;
                return install_snapshot();
            }
            evbuffer_drain(in, sizeof h);
            L.received += sizeof h;
            L.pathlen = pathlen;
            L.left = size;
            L.step = T_PATH;
        } else if (L.step == T_PATH) {
            char path[REPL_ARCHIVE_PATH_MAX + 1];
            if (avail < L.pathlen) return 0;
            evbuffer_remove(in, path, L.pathlen);
            path[L.pathlen] = '\0';
            L.received += L.pathlen;
            if (!repl_archive_path_ok(path, L.pathlen) || open_incoming(path) != 0) {
                log_msg(LOG_WARNING, "Refusing file '%s' of the master's snapshot", path);
                return -1;
            }
            L.nfiles++;
            L.step = T_DATA;
        } else { /* T_DATA */
            while (L.left > 0 && evbuffer_get_length(in) > 0) {
                size_t want =
                    evbuffer_get_length(in) < L.left ? evbuffer_get_length(in) : (size_t)L.left;
                int n = evbuffer_write_atmost(in, L.fd, (ev_ssize_t)want);
                if (n <= 0) return -1;
                L.left -= (uint64_t)n;
                L.received += (uint64_t)n;
            }
            if (L.left > 0) return 0;
            close(L.fd);
            L.fd = -1;
            L.step = T_HEADER;
        }
    }
}

/* Replaces the data directories with the received ones: the store is closed, each db<N> moved
 * aside and the received one renamed in, and the store opened again (the loader thread). */
static int install_snapshot(void) {
    char name[32], old[64];
    log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: received %llu bytes in %u files; loading",
            (unsigned long long)L.total, L.nfiles);
    struct store *cur = db_store();
    uint64_t keys = 0;
    for (int db = 0; cur && db < server_config.databases; db++) keys += store_dbsize(cur, db);
    if (keys > 0) { /* what this node had and the master does not is logged before it goes */
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", server_config.dir, INCOMING_DIR);
        repl_log_dropped(cur, path);
    }
    if (syncfs(L.infd) != 0) return -1;  /* the received files are on disk before they count */
    bufferevent_disable(L.bev, EV_READ); /* the stream waits in the socket while loading */
    db_close();
    fsutil_remove_tree(L.dirfd, OLD_DIR, 4);
    if (mkdirat(L.dirfd, OLD_DIR, 0700) != 0) return -1;
    for (int db = 0; db < server_config.databases; db++) {
        snprintf(name, sizeof name, "db%d", db);
        snprintf(old, sizeof old, OLD_DIR "/db%d", db);
        if (renameat(L.dirfd, name, L.dirfd, old) != 0 && errno != ENOENT) return -1;
        if (renameat(L.infd, name, L.dirfd, name) != 0 && errno != ENOENT) return -1;
    }
    unlinkat(L.dirfd, STORE_CLEAN_NAME, 0); /* open as after a crash: checks every tail */
    fsync(L.dirfd);
    fsutil_remove_tree(L.dirfd, OLD_DIR, 4);
    close(L.infd);
    L.infd = -1;
    fsutil_remove_tree(L.dirfd, INCOMING_DIR, 4);
    close(L.dirfd);
    L.dirfd = -1;
    L.state = LINK_LOADING;
    if (db_start_loading() != 0) return -1;
    return 0;
}

/* ---- streaming ---- */

static void queue_ack(long long offset) {
    uint64_t seq = store_pending_seq(db_store());
    if (L.nacks > 0 && L.acks[L.nacks - 1].seq == seq) {
        L.acks[L.nacks - 1].offset = offset;
        return;
    }
    if (L.nacks == L.acap) {
        size_t cap = L.acap ? 2 * L.acap : 64;
        struct ack_mark *na = realloc(L.acks, cap * sizeof(*na));
        if (!na) return; /* acknowledged with the next record instead */
        L.acks = na;
        L.acap = cap;
    }
    L.acks[L.nacks++] = (struct ack_mark){seq, offset};
}

static void signal_readers(const struct replog_rec *r) {
    if (r->type == REPLOG_NOP) return;
    blocking_signal_key(r->db, (const char *)r->key, r->keylen);
    if (r->type == REPLOG_RENAME) blocking_signal_key(r->db, (const char *)r->body, r->bodylen);
}

static void read_stream(struct evbuffer *in) {
    struct store *s = db_store();
    while (L.state == LINK_STREAMING && !L.stalled && s) {
        size_t avail = evbuffer_get_length(in), total;
        struct replog_rec rec;
        if (avail < 4) return;
        /* the length field alone: replog_parse checks it and says how much the record needs */
        const uint8_t *p = evbuffer_pullup(in, 4);
        int rc = replog_parse(p, 4, &rec, &total);
        if (rc == OBK_ERR_CORRUPT) goto bad;
        if (avail < total) return;
        p = evbuffer_pullup(in, (ev_ssize_t)total);
        if (!p || (rc = replog_parse(p, total, &rec, &total)) != OBK_OK) goto bad;
        rc = replapply_record(s, &rec, &L.apply);
        if (rc == OBK_ERR_AGAIN || rc == OBK_ERR_NOFILES) {
            L.stalled = 1; /* again after the next completion frees cache space */
            db_kick_flush();
            return;
        }
        if (rc != OBK_OK) {
            log_msg(LOG_WARNING,
                    "Can't apply the master's stream at offset %lld (%s); a full sync follows",
                    repl_offset(), obk_strerror(rc));
            L.full_sync_needed = 1;
            drop(NULL, LINK_CONNECT);
            return;
        }
        memset(&L.apply, 0, sizeof L.apply);
        signal_readers(&rec);
        repl_feed_applied(p, total);
        evbuffer_drain(in, total);
        queue_ack(repl_offset());
    }
    return;
bad:
    log_msg(LOG_WARNING,
            "Damaged record in the master's stream at offset %lld; a full sync follows",
            repl_offset());
    L.full_sync_needed = 1;
    drop(NULL, LINK_CONNECT);
}

static void read_cb(struct bufferevent *bev, void *arg) {
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    L.last_io_ms = util_mstime();
    /* the rest of what the socket holds, so that this turn's round takes all of it */
    if (!L.tls && (L.state == LINK_TRANSFER || (L.state == LINK_STREAMING && !L.stalled)))
        sockread_more(bev, LINK_READ_MAX);
    if (L.state == LINK_HANDSHAKE) read_handshake(in);
    if (L.state == LINK_TRANSFER && read_transfer(in) != 0) {
        log_msg(LOG_WARNING, "Failed receiving the master's snapshot: %s",
                errno ? strerror(errno) : "protocol error");
        L.full_sync_needed = 1;
        drop(NULL, LINK_CONNECT);
        return;
    }
    if (L.state == LINK_STREAMING) read_stream(in);
}

static void send_ack(long long offset) {
    char off[32];
    snprintf(off, sizeof off, "%lld", offset);
    const char *ack[3] = {"REPLCONF", "ACK", off};
    send_command(3, ack);
    L.last_ack_ms = util_mstime();
}

void repl_link_before_sleep(void) {
    if (L.state == LINK_LOADING && !runtime.loading && db_store()) {
        repl_set_history(L.new_id, L.new_offset);
        L.state = LINK_STREAMING;
        L.full_sync_needed = 0;
        L.synced = 1;
        L.acked = -1;
        L.saved = L.synced_offset = -1; /* a new history: what was saved names the old one */
        log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: Finished with success");
        queue_ack(repl_offset()); /* the snapshot was synced before it was opened */
        bufferevent_enable(L.bev, EV_READ);
        read_stream(bufferevent_get_input(L.bev));
    }
    db_set_link_streaming(L.state == LINK_STREAMING);
    if (L.state != LINK_STREAMING) return;
    if (L.ack_on_load && db_store()) {
        L.ack_on_load = 0;
        queue_ack(repl_offset());
    }
    /* records that waited for cache space, or that arrived before the store was loaded */
    if (db_store() && evbuffer_get_length(bufferevent_get_input(L.bev)) > 0) {
        L.stalled = 0;
        read_stream(bufferevent_get_input(L.bev));
    }
    /* acknowledged: durable under the policy; safe to save for a restart: synced (under
     * everysec a power cut loses written data, and the saved offset must not outlive it) */
    uint64_t durable = durable_seq(), synced = durable_synced_seq();
    size_t k = 0;
    long long acked = L.acked;
    for (size_t i = 0; i < L.nacks && L.acks[i].seq <= durable; i++) acked = L.acks[i].offset;
    while (k < L.nacks && L.acks[k].seq <= synced) L.synced_offset = L.acks[k++].offset;
    if (k > 0) {
        memmove(L.acks, L.acks + k, (L.nacks - k) * sizeof(*L.acks));
        L.nacks -= k;
    }
    if (acked > L.acked) {
        L.acked = acked;
        send_ack(acked);
    }
}

void repl_link_cron(long long now_ms) {
    if (L.state == LINK_NONE) return;
    if (L.state == LINK_CONNECT && now_ms - L.connect_ms >= 1000) {
        connect_now();
        return;
    }
    long long timeout = (long long)server_config.repl_timeout * 1000;
    if ((L.state == LINK_CONNECTING || L.state == LINK_HANDSHAKE) &&
        now_ms - L.connect_ms > timeout) {
        drop("timeout connecting to the MASTER", LINK_CONNECT);
        return;
    }
    if ((L.state == LINK_STREAMING || L.state == LINK_TRANSFER) &&
        now_ms - L.last_io_ms > timeout) {
        drop("MASTER timeout: no data nor PING received", LINK_CONNECT);
        return;
    }
    if (L.state == LINK_STREAMING && now_ms - L.last_ack_ms >= 1000 && L.acked >= 0)
        send_ack(L.acked); /* once a second, so the master knows the link is alive */
    if (L.state == LINK_STREAMING && L.synced_offset > L.saved && now_ms - L.saved_ms >= 1000) {
        /* what a restart after a crash may continue from */
        if (repl_save_acked(L.synced_offset) == 0) L.saved = L.synced_offset;
        L.saved_ms = now_ms;
    }
}

/* ---- REPLICAOF ---- */

void repl_link_start(const char *host, int port) {
    if (L.state != LINK_NONE) drop(NULL, LINK_NONE);
    snprintf(L.host, sizeof L.host, "%s", host);
    L.port = port;
    L.state = LINK_CONNECT;
    L.synced = 0;
    L.saved = L.synced_offset = -1;
    L.connect_ms = 0;    /* at the next cron tick */
    L.down_since_ms = 0; /* never up with this primary: Redis reports -1 */
    L.last_io_ms = 0;
    L.acked = -1;
    runtime.replica = 1;
}

void repl_link_stop(void) {
    if (L.state == LINK_NONE) return;
    drop(NULL, LINK_NONE);
    runtime.replica = 0;
}

int repl_link_info(struct repl_link_info *o) {
    static const char *const names[] = {"none", "connect", "connecting", "handshake",
                                        "sync", "sync",    "connected"};
    long long now = util_mstime();
    if (L.state == LINK_NONE) return 0;
    o->host = L.host;
    o->port = L.port;
    o->up = L.state == LINK_STREAMING;
    o->role_state = names[L.state];
    o->last_io_s = L.last_io_ms ? (now - L.last_io_ms) / 1000 : -1;
    o->sync_in_progress = L.state == LINK_TRANSFER;
    o->sync_total_bytes = (long long)L.total;
    o->sync_read_bytes = (long long)L.received;
    o->down_since_s = o->up || !L.down_since_ms ? -1 : (now - L.down_since_ms) / 1000;
    /* an offset of another history (this node's own, before it followed this primary) must
     * not make Sentinel prefer it: 1 until synced, Redis's value for a replica without one */
    o->repl_offset = L.synced ? repl_offset() : 1;
    o->read_offset = o->repl_offset;
    return 1;
}
