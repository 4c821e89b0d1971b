/* server.h - the server's runtime state (main thread) and its lifecycle. */
#ifndef OBK_SERVER_H
#define OBK_SERVER_H

#include <stddef.h>
#include <stdint.h>

#define OBELISK_VERSION "0.1.0"
/* The Redis version whose behaviour Obelisk matches; INFO's redis_version and HELLO's version
 * report it because client libraries gate features on it. */
#define OBELISK_REDIS_VERSION "7.0.15"

struct event_base;
struct evconnlistener;
struct event;
struct client;

/* Errors counted per code for INFO errorstats; Redis caps the table at 128 codes. */
#define ERRORSTATS_MAX 128

struct errorstat {
    char code[32];
    long long count;
};

struct server_stats {
    long long connections_received;
    long long commands_processed;
    long long net_input_bytes;
    long long net_output_bytes;
    long long rejected_connections;
    long long error_replies;
    long long reads_processed;
    long long entries_appended; /* by XADD (metrics, INFO obelisk) */
    long long entries_served;   /* by XRANGE, XREVRANGE, XREAD, XREADGROUP */
    long long read_errors;      /* stream reads answered with an error (damage, I/O) */
    struct errorstat errors[ERRORSTATS_MAX];
    int nerrors;
    /* instantaneous ops/sec: samples taken by the cron */
    long long ops_sample_last_count;
    long long ops_sample_last_ms;
    long long ops_per_sec;
};

struct server {
    struct event_base *base;
    struct evconnlistener *listeners[16];
    int nlisteners;
    int port; /* the port really bound (differs from the config when it says 0) */
    struct event *cron;
    struct event *sig_term, *sig_int;
    char run_id[41];
    long long start_ms;
    int running;
    int shutdown_asap;      /* set by signals and SHUTDOWN; handled in before_sleep */
    int loading;            /* 1 while the data set is being recovered */
    int exit_code;          /* what the process exits with after the loop ends */
    struct client *clients; /* doubly linked list of every connection */
    int nclients;
    uint64_t next_client_id;
    struct client *close_list; /* clients to free in before_sleep (singly linked) */
    struct server_stats stats;
};

extern struct server server;

/* Opens listeners and state from server_config. Returns 0 or -1 (logged). */
int server_init(void);
/* Runs the loop driver until shutdown; returns the process exit code. */
int server_run(void);
/* Releases everything server_init made. */
void server_free(void);
/* Asks for a graceful stop at the next loop turn. */
void server_request_shutdown(const char *why);

/* Counts an error reply by its code (the first word) for INFO errorstats. */
void server_count_error(const char *msg, size_t len);
void server_reset_stats(void);

/* Re-binds the listeners after CONFIG SET port/bind. Returns 0 or -1 with the reason. */
int server_rebind(char *err, size_t errlen);

#endif
