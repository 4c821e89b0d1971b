/* config.h - the server's settings: one table of directives read from a redis.conf-style file,
 * the command line (--name value ...) and CONFIG GET/SET. */
#ifndef OBK_CONFIG_H
#define OBK_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_BIND 16

/* client-output-buffer-limit classes, as Redis names them. */
enum obuf_class { OBUF_NORMAL = 0, OBUF_REPLICA = 1, OBUF_PUBSUB = 2, OBUF_CLASSES = 3 };

struct obuf_limit {
    long long hard_bytes;   /* 0 = none */
    long long soft_bytes;   /* 0 = none */
    long long soft_seconds; /* how long the soft limit may be exceeded */
};

enum debug_cmd_mode { DEBUG_CMD_NO = 0, DEBUG_CMD_YES = 1, DEBUG_CMD_LOCAL = 2 };
/* Same order as the storage library's PERSIST_FSYNC_* values. */
enum fsync_mode { FSYNC_ALWAYS = 0, FSYNC_EVERYSEC = 1, FSYNC_NO = 2 };
enum io_error_mode { ON_IO_ERROR_EXIT = 0, ON_IO_ERROR_READONLY = 1 };
/* supervised: auto means systemd when $NOTIFY_SOCKET is set (Redis's upstart is not offered). */
enum tls_auth { TLS_AUTH_NO = 0, TLS_AUTH_YES = 1, TLS_AUTH_OPTIONAL = 2 };
enum supervised_mode { SUPERVISED_NO = 0, SUPERVISED_SYSTEMD = 1, SUPERVISED_AUTO = 2 };

struct config {
    int port;
    char *bind[CONFIG_MAX_BIND];
    int bind_count;
    int protected_mode;
    char *requirepass; /* "" = no password */
    /* ACL (acl.c): users from "user" lines (the text after "user") or from aclfile */
    char *aclfile;
    long long acllog_max_len;
    int acl_pubsub_default; /* 0 resetchannels, 1 allchannels */
    char **user_lines;
    int nuser_lines;
    /* TLS (tls.c): a second port speaking TLS, 0 = none */
    int tls_port;
    int tls_handshake_timeout; /* seconds a TLS client may take to finish its handshake; 0 = no
                                  limit */
    char *tls_cert_file, *tls_key_file, *tls_key_file_pass, *tls_ca_cert_file, *tls_ca_cert_dir;
    int tls_auth_clients; /* enum tls_auth */
    char *tls_protocols, *tls_ciphers, *tls_ciphersuites;
    int tls_prefer_server_ciphers;
    int tls_replication; /* a replica's link to its primary speaks TLS */
    char *tls_client_cert_file, *tls_client_key_file, *tls_client_key_file_pass;
    int tls_session_caching; /* server-side session cache (resumption) */
    int tls_session_cache_size, tls_session_cache_timeout;
    int http_tls; /* the HTTP face serves HTTPS with the TLS context */
    int databases;
    int maxclients;
    int max_open_files_storage; /* storage's descriptor share; clients get the rest */
    int timeout;                /* seconds of idleness before a client is closed; 0 = never */
    int tcp_keepalive;          /* seconds; 0 = off */
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    struct obuf_limit obuf[OBUF_CLASSES];
    int loglevel;
    char *logfile;
    char *pidfile;
    int daemonize;
    int supervised; /* enum supervised_mode */
    char *dir;
    int enable_debug_command;
    int latency_tracking;              /* per-command latency histograms for INFO latencystats */
    long long slowlog_log_slower_than; /* microseconds; -1 = off */
    long long slowlog_max_len;
    long long latency_monitor_threshold; /* milliseconds; 0 = off */
    long long debug_loading_delay_ms;    /* test hook: the loader waits this long before opening */
    /* storage */
    int fsync;                        /* enum fsync_mode */
    int on_io_error;                  /* enum io_error_mode */
    long long syncfs_min_files;       /* 0 = one fdatasync per dirty file, always */
    int wal;                          /* the shared write-ahead log (docs/storage.md) */
    long long wal_file_size;          /* bytes per log file */
    long long wal_checkpoint_bytes;   /* checkpoint when this much log is pending ... */
    long long wal_checkpoint_seconds; /* ... or when the oldest pending record is this old */
    long long wal_direct_bytes;       /* rounds writing this much per file skip the log */
    long long wal_defer_bytes;        /* logged segment bytes waiting in memory at most */
    long long cache_max_bytes;
    long long segment_bytes;
    char *backup_dir; /* SAVE and BGSAVE put their backups under it ("" = refused) */
    long long backup_max_bytes_per_sec; /* a backup's copying pace, 0 = as fast as it can */
    int compression;                    /* 0 none, 1 zstd: DATA batches written from now on */
    int compression_level;              /* zstd's level, 1..19 */
    long long segment_ms;
    long long index_interval_bytes;
    long long retention_bytes; /* -1 = unlimited */
    long long retention_ms;    /* -1 = forever */
    long long stream_node_max_entries;
    long long stream_idmp_duration; /* XADD IDMP defaults of a new stream (XCFGSET changes one) */
    long long stream_idmp_maxsize;
    long long stream_node_max_bytes;
    /* operations face (http.c, metrics.c) */
    int http_port;                /* 0 = no HTTP face */
    char *http_bind;              /* addresses separated by one space (as bind) */
    long long metrics_max_topics; /* per-topic series in /metrics (and topics in INFO) */
    long long metrics_max_groups; /* per-group series in /metrics and lines in INFO obelisk */
    int metrics_key_labels;       /* 0: /metrics names no topic, key, group or consumer */
    char *http_auth_token;        /* the HTTP face's bearer token, "" = none accepted */
    /* the JSON API under /v1 (http_api.c): limits */
    long long http_api_max_body;    /* bytes of a request body (413 above) */
    long long http_api_max_batch;   /* entries in one produce request */
    long long http_api_max_count;   /* entries or topics in one answer */
    long long http_api_max_wait_ms; /* wait_ms of a long poll */
    long long http_api_max_sse;     /* open live tails (SSE streams) */
    long long http_api_scan_budget; /* entries one search request may scan */
    /* replication (repl_primary.c, repl_replica.c; docs/replication.md) */
    char *replicaof;               /* "host port" of the primary, "" = this is a primary */
    int replica_read_only;         /* a replica refuses writes (-READONLY) */
    int replica_priority;          /* Sentinel's promotion order (0 = never promoted) */
    char *replica_announce_ip;     /* "" = the address the primary sees */
    int replica_announce_port;     /* 0 = port */
    int replica_announced;         /* Sentinel lists this replica */
    int min_replicas_to_write;     /* writes need this many good replicas (0 = none) */
    int min_replicas_max_lag;      /* seconds since a replica's last ACK to count as good */
    char *masterauth, *masteruser; /* how a replica authenticates to its primary */
    int repl_timeout;              /* seconds without traffic before a link is dropped */
    int repl_ping_replica_period;  /* seconds between the primary's heartbeats */
    long long repl_backlog_size;   /* bytes of stream kept for partial resynchronization */
    /* Redis directives Obelisk has no use for, accepted only with the value that is true of
     * Obelisk so tools that read them (redis-benchmark reads save and appendonly) see facts. */
    int compat_save;       /* always "": no RDB snapshots */
    int compat_appendonly; /* always "no": no AOF; topics are persisted per fsync */
    char *config_file;     /* absolute path of the file read at start, or "" */
};

extern struct config server_config;

/* Fills server_config with the defaults. */
void config_init_defaults(void);
/* Loads a config file (may be NULL) and then the command-line options text ("--port 1 ..."
 * already turned into lines). On error writes a message in Redis's "FATAL CONFIG FILE ERROR"
 * style to err and returns -1. */
int config_load(const char *path, const char *extra_lines, char *err, size_t errlen);
/* Turns argv (after the optional config file) into config lines: "--port 6380 --bind a b"
 * becomes "port 6380\nbind a b\n". Returns a malloc'd string or NULL. */
char *config_args_to_lines(int argc, char **argv);

/* CONFIG GET: calls emit(name, value) for every directive matching one of the glob patterns,
 * each directive once. */
/* REPLICAOF: the primary to follow (host NULL: none). Returns 0, or -1 out of memory. */
int config_set_replicaof(const char *host, int port);
void config_get(const char *const *patterns, const size_t *patlens, int npatterns,
                void (*emit)(void *ctx, const char *name, const char *value), void *ctx);
/* CONFIG SET name value [name value ...], all or nothing. Returns 0, or -1 with a complete
 * Redis error text in err. */
int config_set(char **argv, size_t *lens, int argc, char *err, size_t errlen);

/* Hook the server registers to apply a runtime change (rebinding, log level...). Returns 0 or
 * -1 with a reason in err; on -1 the previous values are restored. */
typedef int (*config_apply_fn)(const char *name, char *err, size_t errlen);
void config_set_apply_hook(config_apply_fn fn);

void config_free(void);

/* The longest value CONFIG GET formats. */
#define CONFIG_VALUE_MAX 1024
/* For CONFIG REWRITE: the name of the i-th directive (NULL past the last), its config-file line
 * for the current value in out ("name args", quoted where needed; "" if it does not fit), and
 * whether that value is the default. */
const char *config_directive_line(size_t i, char *out, size_t cap, int *is_default);
/* The index config_directive_line uses for a directive named name or by its older alias
 * (slaveof, slave-read-only ...), or -1. */
int config_directive_index(const char *name, size_t len);

#endif
