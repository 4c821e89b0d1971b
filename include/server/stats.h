/* stats.h - the server's counters: connections, commands, bytes, errors by code (INFO stats and
 * errorstats, /metrics). A bottom server level: every level counts here, none reads another's
 * state through it. Main thread only. */
#ifndef OBK_STATS_H
#define OBK_STATS_H

#include <stddef.h>

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
    long long tls_handshake_failures; /* TLS connections that ended before the handshake */
    long long error_replies;
    long long reads_processed;
    long long writes_processed; /* socket writes of replies (INFO total_writes_processed) */
    long long entries_appended; /* by XADD (metrics, INFO obelisk) */
    long long entries_served;   /* by XRANGE, XREVRANGE, XREAD, XREADGROUP */
    long long read_errors;      /* stream reads answered with an error (damage, I/O) */
    struct errorstat errors[ERRORSTATS_MAX];
    int nerrors;
    /* instantaneous ops/sec: samples taken by the cron */
    long long ops_sample_last_count;
    long long ops_sample_last_ms;
    long long ops_per_sec;
    long long peak_memory; /* the most stats_used_memory() has seen */
};

extern struct server_stats server_stats;

/* Counts an error reply by its code (the first word) for INFO errorstats. */
void stats_count_error(const char *msg, size_t len);
/* Clears every counter (CONFIG RESETSTAT; commandstats are command.c's). */
void stats_reset(void);
/* Bytes the allocator has handed out (glibc's mallinfo2: small blocks plus mmapped ones); also
 * raises peak_memory. */
long long stats_used_memory(void);
/* INFO's mem_allocator: "jemalloc-<version>" when linked with jemalloc, else "libc". */
const char *stats_allocator(void);
/* The process's resident set size in bytes (/proc/self/statm). */
long long stats_rss_memory(void);
/* Samples the instantaneous ops/sec (the cron, at most once a second). */
void stats_sample(long long now_ms);

#endif
