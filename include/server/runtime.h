/* runtime.h - the process-wide facts every server level may read: the event loop, the run id and
 * start time, the bound RESP port, whether the data set is still loading, and the shutdown
 * request. The lowest server level: it includes nothing of the server. Main thread only. */
#ifndef OBK_RUNTIME_H
#define OBK_RUNTIME_H

#define OBELISK_VERSION "0.1.0"
/* The Redis version whose behaviour Obelisk matches; INFO's redis_version and HELLO's version
 * report it because client libraries gate features on it. */
#define OBELISK_REDIS_VERSION "7.0.15"

struct event_base;

struct runtime {
    struct event_base *base; /* the one event loop (server.c creates and frees it) */
    char run_id[41];
    long long start_ms;
    int port;          /* the plain RESP port really bound (a free one when the config says 0
                          and there is no TLS port), 0 with none (a TLS-only server) */
    int nlisteners;    /* plain RESP listening sockets open (health) */
    int tls_port;      /* the TLS port bound, 0 with none */
    int ntls;          /* TLS listening sockets open */
    int loading;       /* 1 while the data set is being recovered (db.c) */
    int shutdown_asap; /* a graceful stop was asked for; server.c acts on it in before_sleep */
    int exit_code;     /* what the process exits with after the loop ends */
    int replica;       /* 1 while following a primary (REPLICAOF host port; repl_link.c) */
    int good_replicas; /* replicas in time for min-replicas-to-write (repl.c keeps it) */
};

extern struct runtime runtime;

/* Asks for a graceful stop at the next loop turn; logs why the first time. */
void runtime_request_shutdown(const char *why);
/* The same, for a fatal condition: the process will exit with code 1. */
void runtime_request_fatal_shutdown(const char *why);

#endif
