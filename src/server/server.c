/* server.c - the server's lifecycle: listeners, the loop driver, signals, cron and shutdown.
 *
 * Design (docs/architecture.md): one libevent event_base on the main thread owns every socket
 * and all in-memory state. The loop driver is
 *     while (running) { before_sleep(); event_base_loop(base, EVLOOP_ONCE); }
 * so work that must happen once per loop turn (serving unblocked clients, handing the filled
 * batches to the persist thread, writing replies, freeing closed clients) runs in before_sleep
 * and cannot be starved the way a low-priority event could. Signals only set a flag; the
 * shutdown itself happens in before_sleep. This is the top level: it wires the levels below
 * together at start-up. Main thread only. */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "base/log.h"
#include "base/status.h"
#include "base/util.h"
#include "server/acl.h"
#include "server/backup.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/command.h"
#include "server/commit.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/expire.h"
#include "server/http.h"
#include "server/http_cmd.h"
#include "server/listen.h"
#include "server/monitor.h"
#include "server/pubsub.h"
#include "server/repl.h"
#include "server/repl_link.h"
#include "server/runtime.h"
#include "server/sdnotify.h"
#include "server/stats.h"
#include "server/tls.h"
#include "storage/dirlock.h"

/* The top level's own state: listeners, timers, signals, the loop flag. */
static struct {
    struct evconnlistener *listeners[16]; /* the plain port */
    int nlisteners;
    int plain_from;             /* the port setting they were opened for (0: a free port) */
    char bind_now[1024];        /* the addresses every listener is open on, one space between ("":
                                   a CONFIG SET bind closed them and could not open the new ones) */
    int moved_plain, moved_tls; /* the ports they had then (-1, 0: none), to open them again */
    struct evconnlistener *tls_listeners[16]; /* tls-port */
    int ntls;
    int tls_bound; /* the port they listen on, 0 with none */
    struct event *cron;
    struct event *sig_term, *sig_int;
    int running;
    int dirlock_fd;             /* the data directory's lock, held until the process ends */
    struct event *accept_pause; /* re-enables the listeners after running out */
    long long accept_errors;    /* failed accepts since the last logged one */
    long long accept_error_logged_ms;
} server;

/* The cron runs at Redis's default hz of 10. */
#define SERVER_CRON_MS 100
/* How long the listeners pause when accept() runs out of descriptors or memory. */
#define SERVER_ACCEPT_PAUSE_MS 100
/* Descriptors kept for listeners, the log, the HTTP face and the like, beyond maxclients and
 * storage's share (Redis reserves 32 beyond maxclients). */
#define SERVER_RESERVED_FDS 32

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *ctx) {
    (void)l;
    (void)ctx;
    conn_accept(fd, sa, len);
}

static void accept_tls_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int len, void *ctx) {
    (void)l;
    (void)ctx;
    conn_accept_tls(fd, sa, len);
}

static void resume_accepting(evutil_socket_t fd, short what, void *ctx) {
    (void)fd, (void)what, (void)ctx;
    for (int i = 0; i < server.nlisteners; i++) evconnlistener_enable(server.listeners[i]);
    for (int i = 0; i < server.ntls; i++) evconnlistener_enable(server.tls_listeners[i]);
}

/* A failed accept. Out of descriptors (EMFILE, ENFILE) or memory, the pending connection stays
 * in the backlog and the listener would fire again at once: the listeners pause for
 * SERVER_ACCEPT_PAUSE_MS (as libevent's own samples do) and the log says so at most once a
 * second, with how many failures it did not print. */
static void accept_error_cb(struct evconnlistener *l, void *ctx) {
    (void)l, (void)ctx;
    int err = EVUTIL_SOCKET_ERROR();
    long long now = util_mstime();
    server.accept_errors++;
    if (now - server.accept_error_logged_ms >= 1000) {
        log_msg(LOG_WARNING, "Error accepting a client connection: %s%s", strerror(err),
                server.accept_errors > 1 ? " (and similar errors not logged since)" : "");
        server.accept_error_logged_ms = now;
        server.accept_errors = 0;
    }
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) return;
    for (int i = 0; i < server.nlisteners; i++) evconnlistener_disable(server.listeners[i]);
    for (int i = 0; i < server.ntls; i++) evconnlistener_disable(server.tls_listeners[i]);
    if (!server.accept_pause)
        server.accept_pause = evtimer_new(runtime.base, resume_accepting, NULL);
    struct timeval tv = {0, SERVER_ACCEPT_PAUSE_MS * 1000};
    if (!server.accept_pause || evtimer_add(server.accept_pause, &tv) != 0)
        resume_accepting(-1, 0, NULL); /* no timer: better to spin than to stop accepting */
}

/* The plain port the configuration asks for: the port, 0 for a free port (port 0 without a TLS
 * port), or -1 for none (port 0 with a TLS port: a TLS-only server, Redis's meaning of port 0). */
static int plain_wanted(void) {
    if (server_config.port > 0) return server_config.port;
    return server_config.tls_port > 0 ? -1 : 0;
}

/* The bind addresses as one string, to tell whether they changed since the listeners opened. */
static void bind_string(char *buf, size_t len) {
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < server_config.bind_count && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " " : "", server_config.bind[i]);
}

/* Opens a listener per bind address on port (0: the first one picks a free port and the others
 * use the same). Returns 0 or -1 with a reason. */
static int open_listeners(int port, struct evconnlistener **out, int *nout, int *port_out,
                          char *err, size_t errlen) {
    int n = listen_all((const char *const *)server_config.bind, server_config.bind_count, port,
                       accept_cb, NULL, out, 16, port_out, err, errlen, "server TCP");
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) evconnlistener_set_error_cb(out[i], accept_error_cb);
    *nout = n;
    return 0;
}

/* Replaces the plain listeners by ls (n of them, 0 closes the plain port) bound on port for the
 * port setting from. */
static void set_plain_listeners(struct evconnlistener **ls, int n, int port, int from) {
    for (int i = 0; i < server.nlisteners; i++) evconnlistener_free(server.listeners[i]);
    if (n > 0) memcpy(server.listeners, ls, sizeof(ls[0]) * (size_t)n); /* ls may be NULL then */
    server.nlisteners = runtime.nlisteners = n;
    runtime.port = n > 0 ? port : 0;
    server.plain_from = from;
}

/* Something speaks TLS: the TLS port, a replica's link, the HTTP face. */
static int tls_wanted(void) {
    return server_config.tls_port > 0 || server_config.tls_replication || server_config.http_tls;
}

/* Opens a TLS listener per bind address on port. Returns 0 or -1 with a reason. */
static int open_tls(int port, struct evconnlistener **out, int *nout, int *port_out, char *err,
                    size_t errlen) {
    int n = listen_all((const char *const *)server_config.bind, server_config.bind_count, port,
                       accept_tls_cb, NULL, out, 16, port_out, err, errlen, "server TLS");
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) evconnlistener_set_error_cb(out[i], accept_error_cb);
    *nout = n;
    return 0;
}

/* Replaces the TLS listeners by ls (n of them, 0 closes the TLS port) bound on port. */
static void set_tls_listeners(struct evconnlistener **ls, int n, int port) {
    for (int i = 0; i < server.ntls; i++) evconnlistener_free(server.tls_listeners[i]);
    if (n > 0) memcpy(server.tls_listeners, ls, sizeof(ls[0]) * (size_t)n);
    server.ntls = runtime.ntls = n;
    server.tls_bound = runtime.tls_port = n > 0 ? port : 0;
}

/* The TLS port's listeners (tls-port), after the context is built from the directives. */
static int open_tls_listeners(char *err, size_t errlen) {
    if (tls_wanted() && tls_configure(err, errlen) != 0) return -1;
    if (server_config.tls_port <= 0) return 0;
    struct evconnlistener *ls[16];
    int n, port;
    if (open_tls(server_config.tls_port, ls, &n, &port, err, errlen) != 0) return -1;
    set_tls_listeners(ls, n, port);
    return 0;
}

/* CONFIG SET bind: every listener, plain and TLS, moves to the new addresses on the port it
 * had. As Redis does, the old ones are closed first (an address may stay in the list, and a
 * port cannot be bound twice on it); when an address cannot be bound nothing is left open, and
 * the refused CONFIG SET's re-apply of the old addresses (config.c) opens them again here. */
static int rebind_addresses(const char *addrs, char *err, size_t errlen) {
    if (server.bind_now[0]) {
        server.moved_plain = server.nlisteners > 0 ? runtime.port : -1;
        server.moved_tls = server.ntls > 0 ? server.tls_bound : 0;
        set_plain_listeners(NULL, 0, 0, server.plain_from);
        set_tls_listeners(NULL, 0, 0);
        server.bind_now[0] = '\0';
    }
    struct evconnlistener *ls[16], *tls_ls[16];
    int n = 0, port = 0, ntls = 0, tls_port = 0;
    if (server.moved_plain >= 0 &&
        open_listeners(server.moved_plain, ls, &n, &port, err, errlen) != 0)
        goto fail;
    if (server.moved_tls > 0 && open_tls(server.moved_tls, tls_ls, &ntls, &tls_port, err, errlen))
        goto fail;
    set_plain_listeners(ls, n, port, server.plain_from);
    set_tls_listeners(tls_ls, ntls, tls_port);
    snprintf(server.bind_now, sizeof server.bind_now, "%s", addrs);
    log_msg(LOG_NOTICE, "Listening on %s (plain port %d, TLS port %d)", addrs, runtime.port,
            runtime.tls_port);
    return 0;
fail:
    for (int i = 0; i < n; i++) evconnlistener_free(ls[i]);
    log_msg(LOG_WARNING, "No listener is open: %s", err);
    return -1;
}

/* CONFIG SET tls-port: opens the TLS listeners on the new port before closing the old ones (a
 * port that cannot be bound is refused and the old listeners stay), closes them for 0, and
 * builds the TLS context from the directives when the port was closed (certificate directives
 * set while nothing used TLS were not applied). Connections already accepted stay.
 * Setting the port it listens on already changes nothing (also when a failed CONFIG SET puts
 * the old value back). */
static int tls_rebind(char *err, size_t errlen) {
    int want = server_config.tls_port;
    if (want > 0 && want == server.tls_bound && server.ntls > 0) return 0;
    if (want == 0 && server.ntls == 0) return 0;
    if (want == 0 && server_config.port == 0) {
        /* Redis 7.0 accepts this and is left listening nowhere; port 0 without a TLS port
         * would mean a free plain port here, which a TLS-only server must not open unasked */
        snprintf(err, errlen,
                 "no listener would be left: port is 0, so the TLS port is the only one (set a "
                 "plain port in the same CONFIG SET, e.g. port 6379 tls-port 0)");
        return -1;
    }
    struct evconnlistener *ls[16];
    int n = 0, port = 0;
    if (want > 0) {
        if (server.ntls == 0 && tls_configure(err, errlen) != 0) return -1;
        if (open_tls(want, ls, &n, &port, err, errlen) != 0) return -1;
    }
    set_tls_listeners(ls, n, port);
    if (want > 0)
        log_msg(LOG_NOTICE, "Listening on TLS port %d", port);
    else
        log_msg(LOG_NOTICE, "TLS port closed");
    /* port 0 beside the TLS port that just opened: the free plain port closes (TLS only) */
    return want > 0 ? server_rebind(err, errlen) : 0;
}

/* CONFIG SET port or bind (and after the TLS port opened): opens the plain listeners on the
 * new port or addresses before closing the old ones (one that cannot be bound is refused and the
 * old ones stay). When the port and addresses are those the listeners were opened for, nothing
 * changes: a refused CONFIG SET that puts port 0 back keeps the free port that was bound rather
 * than picking another. Port 0 beside an open TLS port closes the plain port (TLS only). */
int server_rebind(char *err, size_t errlen) {
    int want = plain_wanted();
    char addrs[sizeof server.bind_now];
    bind_string(addrs, sizeof addrs);
    if (strcmp(addrs, server.bind_now) != 0) return rebind_addresses(addrs, err, errlen);
    if (server.nlisteners > 0 && (want == server.plain_from || want == runtime.port)) {
        server.plain_from = want;
        return 0;
    }
    if (want < 0) {
        /* TLS only; closed once a TLS port listens, so that a server is never left without a
         * listener (tls_rebind comes back here when it opens one) */
        if (server.nlisteners == 0 || server.ntls == 0) return 0;
        int was = runtime.port;
        set_plain_listeners(NULL, 0, 0, -1);
        log_msg(LOG_NOTICE, "Plain TCP port %d closed: port 0 with a TLS port means TLS only", was);
        return 0;
    }
    struct evconnlistener *ls[16];
    int n, port;
    if (open_listeners(want, ls, &n, &port, err, errlen) != 0) return -1;
    set_plain_listeners(ls, n, port, want);
    log_msg(LOG_NOTICE, "Listening again on port %d", port);
    return 0;
}

/* The start's account of the ports that listen. */
static void log_listeners(void) {
    if (server.nlisteners > 0)
        log_msg(LOG_NOTICE, "Listening on port %d (plain TCP)%s", runtime.port,
                server_config.port == 0 ? ", a free port (port 0 without a TLS port)" : "");
    if (server.ntls > 0)
        log_msg(LOG_NOTICE, "Listening on TLS port %d%s", server.tls_bound,
                server.nlisteners > 0 ? ""
                                      : "; no plain TCP port (port 0 with a TLS port: TLS only)");
}

static void signal_cb(evutil_socket_t sig, short what, void *ctx) {
    (void)what;
    (void)ctx;
    runtime_request_shutdown(sig == SIGINT ? "Received SIGINT scheduling shutdown..."
                                           : "Received SIGTERM scheduling shutdown...");
    event_base_loopbreak(runtime.base);
}

static void cron_cb(evutil_socket_t fd, short what, void *ctx) {
    (void)fd;
    (void)what;
    (void)ctx;
    long long now = util_mstime();
    conn_cron(now);
    repl_cron(now);
    repl_link_cron(now);
    expire_cycle(now);
    stats_sample(now);
}

/* Raises the soft descriptor limit toward maxclients + SERVER_RESERVED_FDS +
 * max-open-files-storage (up to the hard limit). Returns the limit, and in *err_no why it could
 * not be raised (0 when it could). */
static unsigned long long raise_open_files(unsigned long long want, int *err_no) {
    struct rlimit rl;
    *err_no = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return want; /* unknown: trust the settings */
    unsigned long long had = rl.rlim_cur;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) return want;
    struct rlimit nrl = rl;
    nrl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &nrl) != 0) {
        *err_no = errno;
        nrl.rlim_cur = rl.rlim_max; /* as far as the hard limit goes */
        if (rl.rlim_max > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &nrl) != 0) nrl = rl;
    }
    if (nrl.rlim_cur != had)
        log_msg(LOG_NOTICE,
                "Increased maximum number of open files to %llu (it was originally set to %llu).",
                (unsigned long long)nrl.rlim_cur, had);
    return nrl.rlim_cur;
}

/* The descriptor budget (docs/storage.md): storage gets max-open-files-storage, clients get
 * maxclients, and SERVER_RESERVED_FDS are kept for the rest; the soft limit is raised to fit
 * them. When the limit is short, at start-up: storage keeps its share when that leaves clients
 * at least as many descriptors, and maxclients is lowered to the rest (with Redis's warnings);
 * otherwise storage and clients split what is left evenly. On CONFIG SET of maxclients or
 * max-open-files-storage (changed is its name) a value the limit cannot hold is refused, with
 * the largest one that fits, as Redis refuses maxclients. Returns 0, or -1 with a reason. */
static int adjust_open_files(const char *changed, char *err, size_t errlen) {
    unsigned long long clients = (unsigned long long)server_config.maxclients;
    unsigned long long storage = (unsigned long long)server_config.max_open_files_storage;
    unsigned long long want = clients + SERVER_RESERVED_FDS + storage;
    int err_no;
    unsigned long long limit = raise_open_files(want, &err_no);
    if (limit >= want) return 0;
    unsigned long long avail = limit > SERVER_RESERVED_FDS ? limit - SERVER_RESERVED_FDS : 0;
    if (changed) {
        int storage_changed = !strcmp(changed, "max-open-files-storage");
        unsigned long long other = storage_changed ? clients : storage;
        unsigned long long fit = avail > other ? avail - other : 0;
        if (storage_changed)
            snprintf(err, errlen,
                     "The operating system is not able to give storage that many file "
                     "descriptors, try with %llu",
                     fit);
        else
            snprintf(err, errlen,
                     "The operating system is not able to handle the specified number of "
                     "clients, try with %llu",
                     fit);
        return -1;
    }
    log_msg(LOG_WARNING,
            "You requested maxclients of %llu requiring at least %llu max file descriptors "
            "(with max-open-files-storage %llu).",
            clients, want, storage);
    if (err_no)
        log_msg(LOG_WARNING, "Server can't set maximum open files to %llu because of OS error: %s.",
                want, strerror(err_no));
    if (avail < 2) {
        log_msg(LOG_WARNING,
                "Your current 'ulimit -n' of %llu is not enough for the server to start. Please "
                "increase your open file limit to at least %llu. Exiting.",
                limit, (unsigned long long)SERVER_RESERVED_FDS + 2);
        return -1;
    }
    if (avail < 2 * storage) {
        unsigned long long half = avail / 2, left = avail > clients ? avail - clients : 0;
        unsigned long long share = half > left ? half : left;
        log_msg(LOG_WARNING,
                "max-open-files-storage has been reduced to %llu: storage and clients share the "
                "%llu descriptors the limit leaves. If you need more increase 'ulimit -n'.",
                share < storage ? share : storage, avail);
        if (share < storage) storage = share;
    }
    if (avail - storage < clients) clients = avail - storage;
    log_msg(LOG_WARNING,
            "Current maximum open files is %llu. maxclients has been reduced to %llu to "
            "compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
            limit, clients);
    server_config.maxclients = (int)clients;
    server_config.max_open_files_storage = (int)storage;
    return 0;
}

static int config_apply(const char *name, char *err, size_t errlen) {
    if (!strcmp(name, "port") || !strcmp(name, "bind")) return server_rebind(err, errlen);
    if (!strcmp(name, "requirepass")) acl_set_requirepass(server_config.requirepass);
    /* a certificate, key, CA or TLS setting changed: a new context for new connections */
    if (!strcmp(name, "tls-port")) return tls_rebind(err, errlen);
    if (!strncmp(name, "tls-", 4) && tls_wanted()) return tls_configure(err, errlen);
    if (!strcmp(name, "http-tls") && server_config.http_tls && tls_configure(err, errlen) != 0)
        return -1;
    if (!strcmp(name, "http-port") || !strcmp(name, "http-bind") || !strcmp(name, "http-tls"))
        return http_restart(err, errlen);
    if ((!strcmp(name, "maxclients") || !strcmp(name, "max-open-files-storage")) &&
        adjust_open_files(name, err, errlen) != 0)
        return -1;
    if (db_apply_config(name, err, errlen) != 0) return -1;
    if (!strcmp(name, "loglevel")) log_setup(server_config.loglevel, server_config.logfile);
    return 0;
}

/* Wires the levels together: the transport hands requests to the dispatch level and tells the
 * layers above when a client goes. */
static void wire_levels(void) {
    struct command *tables[] = {server_commands, retention_commands, pubsub_commands,
                                repl_commands,   expire_commands,    xnack_commands,
                                idmp_commands,   backup_commands,    acl_commands};
    command_table_init(tables, (int)(sizeof(tables) / sizeof(tables[0])));
    conn_set_request_handler(command_handle_request);
    command_set_client_describer(client_describe);
    acl_commands_init();
    conn_add_release_hook(blocking_remove);
    conn_add_release_hook(commit_drop_client);
    conn_add_release_hook(command_release_client);
    conn_add_release_hook(monitor_remove);
    conn_add_release_hook(pubsub_release_client);
    conn_add_release_hook(repl_release_client);
    conn_add_release_hook(hcmd_client_gone);
}

/* Takes the data directory's lock before anything in it is read: a second server on the same
 * directory would overwrite the first one's acknowledged entries. */
static int lock_data_dir(void) {
    pid_t holder = 0;
    int rc = dirlock_acquire(server_config.dir, &server.dirlock_fd, &holder);
    if (rc == OBK_OK) return 0;
    if (rc == OBK_ERR_BUSY)
        log_msg(LOG_WARNING,
                "The data directory '%s' is in use by another Obelisk process (pid %ld). A data "
                "directory has one owner: stop that process, or give this one its own 'dir'.",
                server_config.dir, (long)holder);
    else
        log_msg(LOG_WARNING, "Can't lock the data directory '%s' (%s/%s): %s", server_config.dir,
                server_config.dir, DIRLOCK_NAME, strerror(errno));
    return -1;
}

int server_init(void) {
    char err[512];
    memset(&server, 0, sizeof(server));
    server.dirlock_fd = -1;
    memset(&runtime, 0, sizeof(runtime));
    runtime.start_ms = util_mstime();
    util_random_hex(runtime.run_id, (sizeof runtime.run_id - 1) / 2);
    signal(SIGPIPE, SIG_IGN);
    if (adjust_open_files(NULL, err, sizeof(err)) != 0) return -1;
    wire_levels();
    if (acl_init(err, sizeof(err)) != 0) {
        log_msg(LOG_WARNING, "%s", err);
        return -1;
    }
    config_set_apply_hook(config_apply);
    runtime.base = event_base_new();
    if (!runtime.base) {
        log_msg(LOG_WARNING, "Cannot create the event loop");
        return -1;
    }
    if (mkdir(server_config.dir, 0700) != 0 && errno != EEXIST) {
        log_msg(LOG_WARNING, "Can't create the data directory '%s': %s", server_config.dir,
                strerror(errno));
        return -1;
    }
    if (lock_data_dir() != 0) return -1;
    int plain = plain_wanted();
    server.plain_from = -1;
    if (plain >= 0) {
        struct evconnlistener *ls[16];
        int n, port;
        if (open_listeners(plain, ls, &n, &port, err, sizeof(err)) != 0) {
            log_msg(LOG_WARNING, "%s", err);
            return -1;
        }
        set_plain_listeners(ls, n, port, plain);
    }
    if (open_tls_listeners(err, sizeof(err)) != 0) {
        log_msg(LOG_WARNING, "%s", err);
        return -1;
    }
    bind_string(server.bind_now, sizeof server.bind_now);
    log_listeners();
    if (http_start(err, sizeof(err)) != 0) {
        log_msg(LOG_WARNING, "%s", err);
        return -1;
    }
    if (sdnotify_setup(server_config.supervised)) sdnotify_send("STATUS=Loading the data set");
    server.sig_term = evsignal_new(runtime.base, SIGTERM, signal_cb, NULL);
    server.sig_int = evsignal_new(runtime.base, SIGINT, signal_cb, NULL);
    evsignal_add(server.sig_term, NULL);
    evsignal_add(server.sig_int, NULL);
    server.cron = event_new(runtime.base, -1, EV_PERSIST, cron_cb, NULL);
    struct timeval tv = {0, SERVER_CRON_MS * 1000};
    event_add(server.cron, &tv);
    stats_reset();
    repl_init();
    repl_load_state();
    if (server_config.replicaof[0]) { /* "host port", checked when the config was read */
        char host[256];
        int port;
        if (sscanf(server_config.replicaof, "%255s %d", host, &port) == 2) {
            repl_stop_primary();
            repl_link_start(host, port);
        }
    }
    if (db_start_loading() != 0) return -1;
    return 0;
}

/* Tells the supervisor once that loading finished and clients are served. */
static void notify_ready_once(void) {
    static int notified;
    if (notified || runtime.loading || runtime.shutdown_asap) return;
    notified = 1;
    sdnotify_send("READY=1\nSTATUS=Ready to accept connections");
}

/* Work done once per loop turn, before waiting for events. */
static void before_sleep(void) {
    notify_ready_once();
    blocking_serve_ready();
    db_before_sleep();
    repl_before_sleep();      /* the records of this turn's commit go to the replicas */
    repl_link_before_sleep(); /* acknowledges what became durable; applies waiting records */
    conn_write_pending();
    conn_free_closed();
    if (runtime.shutdown_asap) server.running = 0;
}

static void finish_shutdown(void) {
    log_msg(LOG_WARNING, "User requested shutdown...");
    sdnotify_send("STOPPING=1\nSTATUS=Shutting down");
    /* Everything acknowledged or held is written and synced before the clean marker. */
    backup_shutdown(); /* its thread reads the data directory */
    if (db_close() != 0)
        runtime.exit_code = 1;
    else
        repl_save_state(); /* the data now holds the stream exactly up to the offset */
    /* Give clients the replies already produced (best effort, non-blocking). */
    for (struct client *c = conn_first(); c; c = c->next) conn_flush_now(c);
    if (server_config.pidfile[0]) unlink(server_config.pidfile);
    log_msg(LOG_WARNING, "Obelisk is now ready to exit, bye bye...");
}

int server_run(void) {
    /* the plain port, or the TLS port on a TLS-only server (as Redis) */
    log_msg(LOG_NOTICE, "Running mode=standalone, port=%d.",
            runtime.port ? runtime.port : runtime.tls_port);
    log_msg(LOG_NOTICE, "Server initialized");
    server.running = 1;
    while (server.running) {
        before_sleep();
        if (!server.running) break;
        event_base_loop(runtime.base, EVLOOP_ONCE);
    }
    finish_shutdown();
    return runtime.exit_code;
}

void server_free(void) {
    while (conn_first()) conn_free(conn_first());
    conn_free_closed();
    for (int i = 0; i < server.nlisteners; i++) evconnlistener_free(server.listeners[i]);
    for (int i = 0; i < server.ntls; i++) evconnlistener_free(server.tls_listeners[i]);
    tls_free();
    http_stop();
    if (server.cron) event_free(server.cron);
    expire_free();
    if (server.accept_pause) event_free(server.accept_pause);
    if (server.sig_term) event_free(server.sig_term);
    if (server.sig_int) event_free(server.sig_int);
    if (runtime.base) event_base_free(runtime.base);
    memset(&server, 0, sizeof(server));
    runtime.base = NULL;
}
