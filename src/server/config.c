/* config.c - one table of directives behind the config file, the command line and CONFIG.
 *
 * Every directive is a row: name, type, where its value lives in server_config, bounds, default
 * and flags. Parsing a file line, a "--name value" option and CONFIG SET all go through
 * directive_parse(), and CONFIG GET through directive_format(), so the three can never disagree.
 * CONFIG SET of several pairs is all or nothing: the old struct is kept and restored if a value
 * or the server's apply hook fails. Main thread only. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/sbuf.h"
#include "base/util.h"
#include "server/errors.h"

struct config server_config;

/* D_ADDRS: a list of addresses kept as one string, the addresses separated by one space. */
/* D_HOSTPORT: "" or "host port" (replicaof). */
enum dtype { D_BOOL, D_INT, D_LL, D_MEMORY, D_STRING, D_ENUM, D_BIND, D_OBUF, D_ADDRS, D_HOSTPORT };

#define D_IMMUTABLE 1u /* only from the file or the command line */

struct directive {
    const char *name;
    enum dtype type;
    void *ptr;
    long long min, max;
    const char *deflt;
    unsigned flags;
    const char *const *names; /* D_ENUM: value i is names[i], NULL-terminated */
    const char *refusal;      /* D_ENUM: the reason given for any other value, else the list */
    const char *alias;        /* Redis's older name (slave-...), accepted as the same directive */
};

static const char *const loglevel_names[] = {"debug", "verbose", "notice", "warning", NULL};
static const char *const debug_cmd_names[] = {"no", "yes", "local", NULL};
static const char *const fsync_names[] = {"always", "everysec", "no", NULL};
static const char *const io_error_names[] = {"exit", "readonly", NULL};
static const char *const save_names[] = {"", NULL};
static const char *const no_names[] = {"no", NULL};
static const char *const supervised_names[] = {"no", "systemd", "auto", NULL};
static const char *const compression_names[] = {"none", "zstd", NULL};
static const char *const tls_auth_names[] = {"no", "yes", "optional", NULL};
static const char *const pubsub_default_names[] = {"resetchannels", "allchannels", NULL};

#define C(field) ((void *)&server_config.field)
static const struct directive directives[] = {
    {"port", D_INT, C(port), 0, 65535, "6379", 0, NULL},
    {"bind", D_BIND, NULL, 0, 0, "127.0.0.1 -::1", 0, NULL},
    {"protected-mode", D_BOOL, C(protected_mode), 0, 1, "yes", 0, NULL},
    {"requirepass", D_STRING, C(requirepass), 0, 0, "", 0, NULL},
    {"aclfile", D_STRING, C(aclfile), 0, 0, "", D_IMMUTABLE, NULL},
    {"acllog-max-len", D_LL, C(acllog_max_len), 0, LLONG_MAX, "128", 0, NULL},
    {"acl-pubsub-default", D_ENUM, C(acl_pubsub_default), 0, 0, "resetchannels", 0,
     pubsub_default_names},
    /* TLS, with Redis's names (tls.c); the file directives reload the certificates */
    /* runtime: the TLS listeners are opened, moved or closed (0), as Redis 7.0 does */
    {"tls-port", D_INT, C(tls_port), 0, 65535, "0", 0, NULL},
    {"tls-cert-file", D_STRING, C(tls_cert_file), 0, 0, "", 0, NULL},
    {"tls-key-file", D_STRING, C(tls_key_file), 0, 0, "", 0, NULL},
    {"tls-key-file-pass", D_STRING, C(tls_key_file_pass), 0, 0, "", 0, NULL},
    {"tls-ca-cert-file", D_STRING, C(tls_ca_cert_file), 0, 0, "", 0, NULL},
    {"tls-ca-cert-dir", D_STRING, C(tls_ca_cert_dir), 0, 0, "", 0, NULL},
    {"tls-auth-clients", D_ENUM, C(tls_auth_clients), 0, 0, "yes", 0, tls_auth_names},
    {"tls-protocols", D_STRING, C(tls_protocols), 0, 0, "", 0, NULL},
    {"tls-ciphers", D_STRING, C(tls_ciphers), 0, 0, "", 0, NULL},
    {"tls-ciphersuites", D_STRING, C(tls_ciphersuites), 0, 0, "", 0, NULL},
    {"tls-prefer-server-ciphers", D_BOOL, C(tls_prefer_server_ciphers), 0, 1, "no", 0, NULL},
    /* a replica connects to its primary with TLS, presenting tls-client-cert-file (else
     * tls-cert-file) and verifying the primary with tls-ca-cert-file/dir */
    {"tls-replication", D_BOOL, C(tls_replication), 0, 1, "no", 0, NULL},
    {"tls-client-cert-file", D_STRING, C(tls_client_cert_file), 0, 0, "", 0, NULL},
    {"tls-client-key-file", D_STRING, C(tls_client_key_file), 0, 0, "", 0, NULL},
    {"tls-client-key-file-pass", D_STRING, C(tls_client_key_file_pass), 0, 0, "", 0, NULL},
    {"tls-session-caching", D_BOOL, C(tls_session_caching), 0, 1, "yes", 0, NULL},
    {"tls-session-cache-size", D_INT, C(tls_session_cache_size), 0, INT_MAX, "20480", 0, NULL},
    {"tls-session-cache-timeout", D_INT, C(tls_session_cache_timeout), 0, INT_MAX, "300", 0, NULL},
    {"tls-handshake-timeout", D_INT, C(tls_handshake_timeout), 0, INT_MAX, "10", 0, NULL},
    {"databases", D_INT, C(databases), 1, INT_MAX, "16", D_IMMUTABLE, NULL},
    {"maxclients", D_INT, C(maxclients), 1, INT_MAX, "10000", 0, NULL},
    /* Descriptors for storage (topic directories, segment and group files, docs/storage.md):
     * maxclients gets the rest of the limit, and is lowered when the limit is short. */
    {"max-open-files-storage", D_INT, C(max_open_files_storage), 32, INT_MAX, "4096", 0, NULL},
    {"timeout", D_INT, C(timeout), 0, INT_MAX, "0", 0, NULL},
    {"tcp-keepalive", D_INT, C(tcp_keepalive), 0, INT_MAX, "300", 0, NULL},
    {"proto-max-bulk-len", D_MEMORY, C(proto_max_bulk_len), 1024 * 1024, LLONG_MAX, "512mb", 0,
     NULL},
    {"client-query-buffer-limit", D_MEMORY, C(client_query_buffer_limit), 1024 * 1024, LLONG_MAX,
     "1gb", 0, NULL},
    {"client-output-buffer-limit", D_OBUF, NULL, 0, 0,
     "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", 0, NULL},
    {"loglevel", D_ENUM, C(loglevel), 0, 0, "notice", 0, loglevel_names},
    {"logfile", D_STRING, C(logfile), 0, 0, "", D_IMMUTABLE, NULL},
    {"pidfile", D_STRING, C(pidfile), 0, 0, "", D_IMMUTABLE, NULL},
    {"daemonize", D_BOOL, C(daemonize), 0, 1, "no", D_IMMUTABLE, NULL},
    /* systemd readiness (READY=1 / STOPPING=1 through $NOTIFY_SOCKET, sdnotify.c). */
    {"supervised", D_ENUM, C(supervised), 0, 0, "no", D_IMMUTABLE, supervised_names},
    /* The HTTP face (health and Prometheus metrics). Off unless a port is given, so servers
     * started without a config (tests, several on one host) never fight over a port; the
     * shipped conf/obelisk.conf turns it on at 9379. Runtime: the listener is reopened. */
    {"http-port", D_INT, C(http_port), 0, 65535, "0", 0, NULL},
    {"http-bind", D_ADDRS, C(http_bind), 0, 0, "127.0.0.1 -::1", 0, NULL},
    /* HTTPS on the HTTP face, with the TLS port's certificates and tls-auth-clients */
    {"http-tls", D_BOOL, C(http_tls), 0, 1, "no", 0, NULL},
    /* Caps on per-topic and per-group series, so a scrape stays small with many topics. */
    {"metrics-max-topics", D_LL, C(metrics_max_topics), 0, 1000000, "1000", 0, NULL},
    {"metrics-max-groups", D_LL, C(metrics_max_groups), 0, 1000000, "1000", 0, NULL},
    /* no: /metrics leaves out every series labelled with a topic or group name (totals stay),
     * for deployments whose key names must not leave the server. */
    {"metrics-key-labels", D_BOOL, C(metrics_key_labels), 0, 1, "yes", 0, NULL},
    /* The HTTP face's bearer token (Authorization: Bearer <token>), beside HTTP Basic against
     * the users; "" accepts none. Shown by CONFIG GET as requirepass is, never logged. */
    {"http-auth-token", D_STRING, C(http_auth_token), 0, 0, "", 0, NULL},
    /* Limits of the JSON API on the HTTP face (docs/http-api.md); enforced per request. */
    {"http-api-max-body", D_MEMORY, C(http_api_max_body), 1024, 1LL << 30, "8mb", 0, NULL},
    {"http-api-max-batch", D_LL, C(http_api_max_batch), 1, 1000000, "10000", 0, NULL},
    {"http-api-max-count", D_LL, C(http_api_max_count), 1, 1000000, "10000", 0, NULL},
    {"http-api-max-wait-ms", D_LL, C(http_api_max_wait_ms), 0, 3600000, "60000", 0, NULL},
    {"http-api-max-sse", D_LL, C(http_api_max_sse), 0, 100000, "1000", 0, NULL},
    {"http-api-scan-budget", D_LL, C(http_api_scan_budget), 1, 100000000, "100000", 0, NULL},
    /* The data directory cannot move under a running server (unlike Redis's dir). */
    {"dir", D_STRING, C(dir), 0, 0, "./data", D_IMMUTABLE, NULL},
    /* Storage. fsync has appendfsync's meanings; "always" holds every reply that touched a
     * topic until that topic's batch is on disk. */
    {"fsync", D_ENUM, C(fsync), 0, 0, "always", 0, fsync_names},
    /* A round of fsyncs over this many files or more is one syncfs() instead (0 = never). */
    {"syncfs-min-files", D_LL, C(syncfs_min_files), 0, 1000000, "2", 0, NULL},
    /* The shared write-ahead log in front of the segments (docs/storage.md): a commit round is
     * one sequential write and one fdatasync whatever the number of streams it touched; the
     * segments are synced at checkpoints, which bound what a crash replays. */
    {"wal", D_BOOL, C(wal), 0, 1, "yes", D_IMMUTABLE, NULL},
    {"wal-file-size", D_MEMORY, C(wal_file_size), 1024 * 1024, 1LL << 30, "64mb", D_IMMUTABLE,
     NULL},
    {"wal-checkpoint-bytes", D_MEMORY, C(wal_checkpoint_bytes), 64 * 1024, 1LL << 40, "128mb", 0,
     NULL},
    {"wal-checkpoint-seconds", D_LL, C(wal_checkpoint_seconds), 1, 86400, "30", 0, NULL},
    /* A commit round that writes this much or more per file it touches (a big round of one
     * stream) skips the log and syncs its files, which costs less than writing its bytes twice
     * (0: every round takes the log). */
    {"wal-direct-bytes", D_MEMORY, C(wal_direct_bytes), 0, 1LL << 40, "64kb", 0, NULL},
    /* Logged segment bytes may wait in memory up to this much (a quarter of cache-max-bytes at
     * most) and reach their files in one write per file (0: in their round). */
    {"wal-defer-bytes", D_MEMORY, C(wal_defer_bytes), 0, 1LL << 40, "32mb", 0, NULL},
    {"on-io-error", D_ENUM, C(on_io_error), 0, 0, "exit", 0, io_error_names},
    {"cache-max-bytes", D_MEMORY, C(cache_max_bytes), 1024 * 1024, LLONG_MAX, "256mb", 0, NULL},
    {"segment-bytes", D_MEMORY, C(segment_bytes), 64 * 1024, 1LL << 31, "1gb", 0, NULL},
    /* SAVE and BGSAVE take a backup (BACKUP) into a new directory under this one. */
    {"backup-dir", D_STRING, C(backup_dir), 0, 0, "", 0, NULL},
    /* The pace of a backup's copies (hard links cost nothing), so that writes go on at full
     * speed while it runs (docs/benchmarks.md, "Backups under load": at 64mb writes kept their
     * full rate, at 256mb and without a limit they did not); 0: no limit. */
    {"backup-max-bytes-per-sec", D_MEMORY, C(backup_max_bytes_per_sec), 0, 1LL << 40, "64mb", 0,
     NULL},
    /* Record batches compressed with zstd as they are written (docs/storage.md); a change
     * applies to batches written from then on, and every segment reads either way. */
    {"compression", D_ENUM, C(compression), 0, 0, "none", 0, compression_names},
    {"compression-level", D_INT, C(compression_level), 1, 19, "3", 0, NULL},
    {"segment-ms", D_LL, C(segment_ms), 0, LLONG_MAX, "604800000", 0, NULL},
    {"index-interval-bytes", D_MEMORY, C(index_interval_bytes), 1, 1 << 30, "4096", 0, NULL},
    {"retention-bytes", D_MEMORY, C(retention_bytes), -1, LLONG_MAX, "-1", 0, NULL},
    {"retention-ms", D_LL, C(retention_ms), -1, LLONG_MAX, "-1", 0, NULL},
    {"stream-node-max-entries", D_LL, C(stream_node_max_entries), 0, LLONG_MAX, "100", 0, NULL},
    {"stream-idmp-duration", D_LL, C(stream_idmp_duration), 1, 86400, "100", 0, NULL},
    {"stream-idmp-maxsize", D_LL, C(stream_idmp_maxsize), 1, 10000, "100", 0, NULL},
    {"stream-node-max-bytes", D_MEMORY, C(stream_node_max_bytes), 0, LLONG_MAX, "4096", 0, NULL},
    /* Replication (docs/replication.md), with Redis's names, defaults and older aliases. The
     * primary is set with REPLICAOF (CONFIG REWRITE keeps it), not CONFIG SET, as in Redis. */
    {"replicaof", D_HOSTPORT, C(replicaof), 0, 0, "", D_IMMUTABLE, .alias = "slaveof"},
    {"replica-read-only", D_BOOL, C(replica_read_only), 0, 1, "yes", 0, .alias = "slave-read-only"},
    {"replica-priority", D_INT, C(replica_priority), 0, INT_MAX, "100", 0,
     .alias = "slave-priority"},
    {"replica-announce-ip", D_STRING, C(replica_announce_ip), 0, 0, "", 0,
     .alias = "slave-announce-ip"},
    {"replica-announce-port", D_INT, C(replica_announce_port), 0, 65535, "0", 0,
     .alias = "slave-announce-port"},
    {"replica-announced", D_BOOL, C(replica_announced), 0, 1, "yes", 0, NULL},
    {"min-replicas-to-write", D_INT, C(min_replicas_to_write), 0, INT_MAX, "0", 0,
     .alias = "min-slaves-to-write"},
    {"min-replicas-max-lag", D_INT, C(min_replicas_max_lag), 0, INT_MAX, "10", 0,
     .alias = "min-slaves-max-lag"},
    {"masterauth", D_STRING, C(masterauth), 0, 0, "", 0, NULL},
    {"masteruser", D_STRING, C(masteruser), 0, 0, "", 0, NULL},
    {"repl-timeout", D_INT, C(repl_timeout), 1, INT_MAX, "60", 0, NULL},
    {"repl-ping-replica-period", D_INT, C(repl_ping_replica_period), 1, INT_MAX, "10", 0,
     .alias = "repl-ping-slave-period"},
    {"repl-backlog-size", D_MEMORY, C(repl_backlog_size), 16 * 1024, LLONG_MAX, "1mb", 0, NULL},
    /* Redis's RDB and AOF switches: Obelisk has neither, and says so. */
    {"save", D_ENUM, C(compat_save), 0, 0, "", 0, save_names,
     "Obelisk takes no RDB snapshots (topics are written as they change, see fsync): only \"\" "
     "is accepted"},
    {"appendonly", D_ENUM, C(compat_appendonly), 0, 0, "no", 0, no_names,
     "Obelisk has no append-only file (topics are written as they change, see fsync): only "
     "'no' is accepted"},
    {"latency-tracking", D_BOOL, C(latency_tracking), 0, 1, "yes", 0, NULL},
    /* SLOWLOG and LATENCY (command.c): microseconds (-1 = log nothing, 0 = everything), entries
     * kept, and milliseconds (0 = the latency monitor is off), with Redis's bounds. */
    {"slowlog-log-slower-than", D_LL, C(slowlog_log_slower_than), -1, LLONG_MAX, "10000", 0, NULL},
    {"slowlog-max-len", D_LL, C(slowlog_max_len), 0, LONG_MAX, "128", 0, NULL},
    {"latency-monitor-threshold", D_LL, C(latency_monitor_threshold), 0, LLONG_MAX, "0", 0, NULL},
    /* Test hook: stretches the loading phase so tests can see -LOADING and loading:1. */
    {"debug-loading-delay-ms", D_LL, C(debug_loading_delay_ms), 0, 60000, "0", D_IMMUTABLE, NULL},
    {"enable-debug-command", D_ENUM, C(enable_debug_command), 0, 0, "no", D_IMMUTABLE,
     debug_cmd_names},
};
#undef C
#define NDIRECTIVES (sizeof(directives) / sizeof(directives[0]))

static config_apply_fn apply_hook;

void config_set_apply_hook(config_apply_fn fn) {
    apply_hook = fn;
}

static const struct directive *directive_find(const char *name, size_t len) {
    for (size_t i = 0; i < NDIRECTIVES; i++)
        if (util_eq_nocase(name, len, directives[i].name) ||
            (directives[i].alias && util_eq_nocase(name, len, directives[i].alias)))
            return &directives[i];
    return NULL;
}

static int parse_bool(const char *s, int *out) {
    if (!strcasecmp(s, "yes"))
        *out = 1;
    else if (!strcasecmp(s, "no"))
        *out = 0;
    else
        return 0;
    return 1;
}

static void free_bind(void) {
    for (int i = 0; i < server_config.bind_count; i++) free(server_config.bind[i]);
    server_config.bind_count = 0;
}

static const char *obuf_class_name(int c) {
    static const char *const n[] = {"normal", "slave", "pubsub"};
    return n[c];
}

static int parse_obuf(char **argv, int argc, char *err, size_t errlen) {
    struct obuf_limit next[OBUF_CLASSES];
    memcpy(next, server_config.obuf, sizeof(next));
    if (argc == 0 || argc % 4 != 0) goto bad;
    for (int i = 0; i < argc; i += 4) {
        int cls;
        if (!strcasecmp(argv[i], "normal"))
            cls = OBUF_NORMAL;
        else if (!strcasecmp(argv[i], "slave") || !strcasecmp(argv[i], "replica"))
            cls = OBUF_REPLICA;
        else if (!strcasecmp(argv[i], "pubsub"))
            cls = OBUF_PUBSUB;
        else
            goto bad;
        long long h, s, secs;
        if (!util_parse_memory(argv[i + 1], &h) || !util_parse_memory(argv[i + 2], &s) ||
            !util_parse_ll(argv[i + 3], strlen(argv[i + 3]), &secs) || h < 0 || s < 0 || secs < 0)
            goto bad;
        next[cls].hard_bytes = h;
        next[cls].soft_bytes = s;
        next[cls].soft_seconds = secs;
    }
    memcpy(server_config.obuf, next, sizeof(next));
    return 0;
bad:
    snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
    return -1;
}

/* CONFIG GET joins the addresses with spaces, so each must come back as itself: not empty, no
 * spaces, quotes, backslashes or control bytes. Returns 0, or -1 with the reason. */
static int check_addrs(char **argv, int argc, char *err, size_t errlen) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i] + (argv[i][0] == '-'); /* "-" prefix: optional */
        int ok = *a != '\0';
        for (; *a && ok; a++)
            ok = isgraph((unsigned char)*a) && *a != '"' && *a != '\'' && *a != '\\';
        if (!ok) {
            snprintf(err, errlen, "Invalid bind address '%.64s'", argv[i]);
            return -1;
        }
    }
    return 0;
}

static int parse_addrs(const struct directive *d, char **argv, int argc, char *err, size_t errlen) {
    struct sbuf b;
    sbuf_init(&b);
    if (argc < 1 || argc > CONFIG_MAX_BIND) {
        snprintf(err, errlen, "Too many bind addresses specified.");
        return -1;
    }
    if (check_addrs(argv, argc, err, errlen) != 0) return -1;
    for (int i = 0; i < argc; i++) sbuf_printf(&b, "%s%s", i ? " " : "", argv[i]);
    if (b.failed || !b.p) {
        sbuf_free(&b);
        return -1;
    }
    *(char **)d->ptr = b.p; /* the string is the field's now */
    return 0;
}

static int parse_hostport(const struct directive *d, char **argv, int argc, char *err,
                          size_t errlen) {
    long long port;
    if (argc == 0) { /* the default: no primary */
        *(char **)d->ptr = strdup("");
        return *(char **)d->ptr ? 0 : -1;
    }
    if (argc != 2) {
        snprintf(err, errlen, "wrong number of arguments");
        return -1;
    }
    if (check_addrs(argv, 1, err, errlen) != 0) { /* one word that CONFIG GET gives back */
        snprintf(err, errlen, "Invalid master host '%.64s'", argv[0]);
        return -1;
    }
    if (!util_parse_ll(argv[1], strlen(argv[1]), &port) || port < 1 || port > 65535) {
        snprintf(err, errlen, "Invalid master port");
        return -1;
    }
    size_t n = strlen(argv[0]) + 8;
    char *v = malloc(n);
    if (!v) return -1;
    snprintf(v, n, "%s %lld", argv[0], port);
    *(char **)d->ptr = v;
    return 0;
}

/* Parses argv into the directive's field. Strings are newly allocated; the caller owns the
 * old value. Returns 0 or -1 with Redis's reason text in err. */
static int directive_parse_args(const struct directive *d, char **argv, int argc, char *err,
                                size_t errlen) {
    long long v;
    if (d->type == D_BIND) {
        if (argc < 1 || argc > CONFIG_MAX_BIND) {
            snprintf(err, errlen, "Too many bind addresses specified.");
            return -1;
        }
        if (check_addrs(argv, argc, err, errlen) != 0) return -1;
        free_bind();
        for (int i = 0; i < argc; i++) server_config.bind[i] = strdup(argv[i]);
        server_config.bind_count = argc;
        return 0;
    }
    if (d->type == D_OBUF) return parse_obuf(argv, argc, err, errlen);
    if (d->type == D_ADDRS) return parse_addrs(d, argv, argc, err, errlen);
    if (d->type == D_HOSTPORT) return parse_hostport(d, argv, argc, err, errlen);
    if (argc != 1) {
        snprintf(err, errlen, "wrong number of arguments");
        return -1;
    }
    const char *a = argv[0];
    switch (d->type) {
    case D_BOOL:
        if (!parse_bool(a, (int *)d->ptr)) {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        return 0;
    case D_INT:
    case D_LL:
    case D_MEMORY:
        if (d->type != D_MEMORY ? !util_parse_ll(a, strlen(a), &v) : !util_parse_memory(a, &v)) {
            snprintf(err, errlen,
                     d->type != D_MEMORY ? "argument couldn't be parsed into an integer"
                                         : "argument must be a memory value");
            return -1;
        }
        if (v < d->min || v > d->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", d->min,
                     d->max);
            return -1;
        }
        if (d->type == D_INT)
            *(int *)d->ptr = (int)v;
        else
            *(long long *)d->ptr = v;
        return 0;
    case D_STRING: *(char **)d->ptr = strdup(a); return *(char **)d->ptr ? 0 : -1;
    case D_ENUM:
        for (int i = 0; d->names[i]; i++) {
            if (!strcasecmp(a, d->names[i])) {
                *(int *)d->ptr = i;
                return 0;
            }
        }
        if (d->refusal) {
            snprintf(err, errlen, "%s", d->refusal);
            return -1;
        }
        {
            int n = snprintf(err, errlen, "argument(s) must be one of the following: ");
            for (int i = 0; d->names[i] && n < (int)errlen; i++)
                n += snprintf(err + n, errlen - (size_t)n, "%s%s", i ? ", " : "", d->names[i]);
        }
        return -1;
    default: return -1;
    }
}

/* Multi-argument directives given as one argument ("normal 0 0 0" from CONFIG SET or a quoted
 * command-line value) are split by spaces first, as Redis does. */
static int directive_parse(const struct directive *d, char **argv, int argc, char *err,
                           size_t errlen) {
    if (argc != 1 ||
        (d->type != D_BIND && d->type != D_OBUF && d->type != D_ADDRS && d->type != D_HOSTPORT))
        return directive_parse_args(d, argv, argc, err, errlen);
    char **split;
    size_t *lens;
    int n = util_split_args(argv[0], strlen(argv[0]), &split, &lens);
    if (n < 0) {
        snprintf(err, errlen, "Unbalanced quotes in configuration line");
        return -1;
    }
    int rc = directive_parse_args(d, split, n, err, errlen);
    util_free_args(split, lens, n);
    return rc;
}

static void directive_format(const struct directive *d, char *buf, size_t cap) {
    size_t n = 0;
    switch (d->type) {
    case D_BOOL: snprintf(buf, cap, "%s", *(int *)d->ptr ? "yes" : "no"); break;
    case D_INT: snprintf(buf, cap, "%d", *(int *)d->ptr); break;
    case D_LL:
    case D_MEMORY: snprintf(buf, cap, "%lld", *(long long *)d->ptr); break;
    case D_STRING:
    case D_ADDRS:
    case D_HOSTPORT: snprintf(buf, cap, "%s", *(char **)d->ptr); break;
    case D_ENUM: snprintf(buf, cap, "%s", d->names[*(int *)d->ptr]); break;
    case D_BIND:
        buf[0] = '\0';
        for (int i = 0; i < server_config.bind_count && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? " " : "", server_config.bind[i]);
        break;
    case D_OBUF:
        buf[0] = '\0';
        for (int c = 0; c < OBUF_CLASSES && n < cap; c++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s %lld %lld %lld", c ? " " : "",
                                  obuf_class_name(c), server_config.obuf[c].hard_bytes,
                                  server_config.obuf[c].soft_bytes,
                                  server_config.obuf[c].soft_seconds);
        break;
    }
}

/* Parses a default value written as one config line's arguments. */
static void directive_set_default(const struct directive *d) {
    char **argv;
    size_t *lens;
    char err[128];
    int argc = util_split_args(d->deflt, strlen(d->deflt), &argv, &lens);
    if (argc == 0 && (d->type == D_STRING || d->type == D_HOSTPORT))
        *(char **)d->ptr = strdup("");
    else if (argc > 0)
        directive_parse(d, argv, argc, err, sizeof(err));
    if (argc > 0) util_free_args(argv, lens, argc);
}

/* Each directive's default as CONFIG GET formats it (CONFIG REWRITE leaves defaults out). */
static char default_text[NDIRECTIVES][CONFIG_VALUE_MAX];

void config_init_defaults(void) {
    memset(&server_config, 0, sizeof(server_config));
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        directive_set_default(&directives[i]);
        directive_format(&directives[i], default_text[i], sizeof(default_text[i]));
    }
    server_config.config_file = strdup("");
}

/* Strings a directive owns, so replacing one frees the old value exactly once. */
static void free_string_fields(const struct config *keep, const struct config *old) {
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        if (d->type != D_STRING && d->type != D_ADDRS && d->type != D_HOSTPORT) continue;
        size_t off = (size_t)((char *)d->ptr - (char *)&server_config);
        char *o = *(char **)((char *)old + off);
        char *k = *(char **)((char *)keep + off);
        if (o != k) free(o);
    }
}

static int load_text(const char *text, const char *source, int depth, char *err, size_t errlen);

/* A "user" line's rules, kept as written for acl.c (which knows the commands they name). */
static int add_user_line(const char *s, size_t len) {
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    char **n =
        realloc(server_config.user_lines, (size_t)(server_config.nuser_lines + 1) * sizeof(*n));
    if (!n) return -1;
    server_config.user_lines = n;
    char *line = malloc(len + 1);
    if (!line) return -1;
    memcpy(line, s, len);
    line[len] = '\0';
    server_config.user_lines[server_config.nuser_lines++] = line;
    return 0;
}

static int load_file(const char *path, int depth, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "Fatal error, can't open config file '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t n;
    int rc = -1;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *nt = realloc(text, cap);
            if (!nt) goto out;
            text = nt;
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    if (!text) text = calloc(1, 1);
    if (!text) goto out;
    text[len] = '\0';
    rc = load_text(text, path, depth, err, errlen);
out:
    free(text);
    fclose(f);
    return rc;
}

/* Reads config lines; "include" recurses (at most 8 deep, to stop include loops). */
static int load_text(const char *text, const char *source, int depth, char *err, size_t errlen) {
    const char *p = text;
    int lineno = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        lineno++;
        char **argv = NULL;
        size_t *lens = NULL;
        char reason[256] = "Bad directive or wrong number of arguments";
        const char *q = p;
        while (q < p + len && isspace((unsigned char)*q)) q++;
        int argc = 0;
        if (q < p + len && *q != '#')
            argc = util_split_args(q, (size_t)(p + len - q), &argv, &lens);
        if (argc < 0) {
            snprintf(reason, sizeof(reason), "Unbalanced quotes in configuration line");
            goto bad;
        }
        if (argc > 0) {
            if (!strcasecmp(argv[0], "include")) {
                if (argc != 2 || depth >= 8) goto bad;
                if (load_file(argv[1], depth + 1, err, errlen) != 0) goto fail;
            } else if (!strcasecmp(argv[0], "user")) {
                /* "user name rules..." in a file; --user "name rules..." arrives as one word */
                int one = argc == 2 && strchr(argv[1], ' ');
                if (argc < 2 || add_user_line(one ? argv[1] : q + 4,
                                              one ? lens[1] : (size_t)(p + len - q - 4)) != 0)
                    goto bad;
            } else {
                const struct directive *d = directive_find(argv[0], lens[0]);
                if (!d) goto bad;
                struct config old = server_config;
                if (directive_parse(d, argv + 1, argc - 1, reason, sizeof(reason)) != 0) goto bad;
                free_string_fields(&server_config, &old);
            }
            util_free_args(argv, lens, argc);
        }
        p += len;
        if (*p == '\n') p++;
        continue;
    bad:
        snprintf(err, errlen,
                 "\n*** FATAL CONFIG FILE ERROR (Obelisk) ***\n"
                 "Reading the configuration file (%s), at line %d\n>>> '%.*s'\n%s",
                 source, lineno, (int)len, p, reason);
    fail:
        if (argc > 0) util_free_args(argv, lens, argc);
        return -1;
    }
    return 0;
}

int config_load(const char *path, const char *extra_lines, char *err, size_t errlen) {
    if (path) {
        if (load_file(path, 0, err, errlen) != 0) return -1;
        char *abs = realpath(path, NULL);
        if (abs) {
            free(server_config.config_file);
            server_config.config_file = abs;
        }
    }
    if (extra_lines && load_text(extra_lines, "command line", 0, err, errlen) != 0) return -1;
    return 0;
}

/* A growing string for config_args_to_lines. */
struct text {
    char *p;
    size_t len, cap;
};

static int text_add(struct text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *np = realloc(t->p, cap);
        if (!np) return -1;
        t->p = np;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
    return 0;
}

/* Appends one argument, quoted when it holds spaces, quotes or control bytes, so that
 * util_split_args gives back the same bytes. */
static int text_add_arg(struct text *t, const char *s) {
    int quote = *s == '\0';
    for (const char *c = s; *c; c++)
        if (isspace((unsigned char)*c) || *c == '"' || *c == '\'' || !isprint((unsigned char)*c))
            quote = 1;
    if (!quote) return text_add(t, s, strlen(s));
    if (text_add(t, "\"", 1) != 0) return -1;
    for (const char *c = s; *c; c++) {
        char esc[8];
        int n;
        if (*c == '"' || *c == '\\')
            n = snprintf(esc, sizeof(esc), "\\%c", *c);
        else if (isprint((unsigned char)*c))
            n = snprintf(esc, sizeof(esc), "%c", *c);
        else
            n = snprintf(esc, sizeof(esc), "\\x%02x", (unsigned char)*c);
        if (text_add(t, esc, (size_t)n) != 0) return -1;
    }
    return text_add(t, "\"", 1);
}

char *config_args_to_lines(int argc, char **argv) {
    struct text t = {NULL, 0, 0};
    if (text_add(&t, "", 0) != 0) return NULL;
    for (int i = 0; i < argc; i++) {
        int is_opt = argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] != '\0';
        const char *sep = is_opt ? (t.len ? "\n" : "") : " ";
        if (text_add(&t, sep, strlen(sep)) != 0 ||
            text_add_arg(&t, is_opt ? argv[i] + 2 : argv[i]) != 0)
            goto fail;
    }
    if (text_add(&t, "\n", 1) != 0) goto fail;
    return t.p;
fail:
    free(t.p);
    return NULL;
}

/* A value as config-file arguments: list types are already space-separated words; a single
 * value is quoted when it needs to be. */
static int directive_args(const struct directive *d, const char *value, struct text *t) {
    if (d->type == D_BIND || d->type == D_ADDRS || d->type == D_OBUF || d->type == D_HOSTPORT)
        return text_add(t, value, strlen(value));
    return text_add_arg(t, value);
}

const char *config_directive_line(size_t i, char *out, size_t cap, int *is_default) {
    if (i >= NDIRECTIVES) return NULL;
    const struct directive *d = &directives[i];
    char value[CONFIG_VALUE_MAX];
    struct text t = {NULL, 0, 0};
    directive_format(d, value, sizeof(value));
    *is_default = !strcmp(value, default_text[i]);
    if (d->type == D_HOSTPORT && !value[0]) {
        t.len = 0; /* no primary: no line at all (a "replicaof" line needs host and port) */
    } else if (text_add(&t, d->name, strlen(d->name)) != 0 || text_add(&t, " ", 1) != 0 ||
               directive_args(d, value, &t) != 0) {
        t.len = 0;
    }
    snprintf(out, cap, "%s", t.len ? t.p : "");
    free(t.p);
    return d->name;
}

int config_set_replicaof(const char *host, int port) {
    char *v;
    if (!host) {
        v = strdup("");
    } else {
        size_t n = strlen(host) + 8;
        if ((v = malloc(n))) snprintf(v, n, "%s %d", host, port);
    }
    if (!v) return -1;
    free(server_config.replicaof);
    server_config.replicaof = v;
    return 0;
}

int config_directive_index(const char *name, size_t len) {
    const struct directive *d = directive_find(name, len);
    return d ? (int)(d - directives) : -1;
}

void config_get(const char *const *patterns, const size_t *patlens, int npatterns,
                void (*emit)(void *ctx, const char *name, const char *value), void *ctx) {
    char value[1024];
    char done[NDIRECTIVES] = {0};
    /* As Redis: patterns in the order given; a name without glob characters is looked up and
     * echoed as the client wrote it; each directive is reported once. */
    for (int p = 0; p < npatterns; p++) {
        const char *pat = patterns[p];
        size_t plen = patlens[p];
        if (!memchr(pat, '*', plen) && !memchr(pat, '?', plen) && !memchr(pat, '[', plen)) {
            const struct directive *d = directive_find(pat, plen);
            if (!d || done[d - directives]) continue;
            done[d - directives] = 1;
            directive_format(d, value, sizeof(value));
            emit(ctx, pat, value);
            continue;
        }
        for (size_t i = 0; i < NDIRECTIVES; i++) {
            const struct directive *d = &directives[i];
            if (done[i] || !util_glob_match(pat, plen, d->name, strlen(d->name), 1)) continue;
            done[i] = 1;
            directive_format(d, value, sizeof(value));
            emit(ctx, d->name, value);
        }
    }
}

int config_set(char **argv, size_t *lens, int argc, char *err, size_t errlen) {
    const struct directive *seen[NDIRECTIVES];
    char reason[256];
    int nseen = 0;
    if (argc < 2 || argc % 2 != 0) {
        snprintf(err, errlen, ERR_SYNTAX);
        return -1;
    }
    for (int i = 0; i < argc; i += 2) {
        const struct directive *d = directive_find(argv[i], lens[i]);
        if (!d) {
            snprintf(err, errlen, ERR_CONFIG_SET_UNKNOWN, argv[i]);
            return -1;
        }
        for (int j = 0; j < nseen; j++) {
            if (seen[j] == d) {
                snprintf(err, errlen, ERR_CONFIG_SET_DUPLICATE, argv[i]);
                return -1;
            }
        }
        if (d->flags & D_IMMUTABLE) {
            snprintf(err, errlen, ERR_CONFIG_SET_IMMUTABLE, argv[i]);
            return -1;
        }
        seen[nseen++] = d;
    }
    struct config old = server_config;
    char *old_bind[CONFIG_MAX_BIND];
    int old_bind_count = server_config.bind_count;
    memcpy(old_bind, server_config.bind, sizeof(old_bind));
    server_config.bind_count = 0; /* free_bind() in parse must not free the saved names */
    for (int i = 0; i < old_bind_count; i++) server_config.bind[i] = strdup(old_bind[i]);
    server_config.bind_count = old_bind_count;
    /* every value first, then the server applies them, so that values that go together
     * (tls-cert-file and tls-key-file) are applied as a pair, as Redis does */
    int failed = -1, applied = -1;
    for (int i = 0; i < argc; i += 2) {
        const struct directive *d = directive_find(argv[i], lens[i]);
        if (directive_parse(d, &argv[i + 1], 1, reason, sizeof(reason)) != 0) {
            failed = i;
            break;
        }
    }
    for (int i = 0; i < argc && failed < 0 && apply_hook; i += 2) {
        applied = i;
        if (apply_hook(directive_find(argv[i], lens[i])->name, reason, sizeof(reason)) != 0)
            failed = i;
    }
    if (failed >= 0) {
        snprintf(err, errlen, ERR_CONFIG_SET_FAILED, argv[failed], reason);
        free_string_fields(&old, &server_config);
        free_bind();
        server_config = old;
        memcpy(server_config.bind, old_bind, sizeof(old_bind));
        server_config.bind_count = old_bind_count;
        /* Re-apply the restored values so the server matches them again. */
        for (int i = 0; i <= applied && apply_hook; i += 2) {
            const struct directive *d = directive_find(argv[i], lens[i]);
            apply_hook(d->name, reason, sizeof(reason));
        }
        return -1;
    }
    free_string_fields(&server_config, &old);
    for (int i = 0; i < old_bind_count; i++) free(old_bind[i]);
    return 0;
}

void config_free(void) {
    struct config empty;
    memset(&empty, 0, sizeof(empty));
    free_string_fields(&empty, &server_config);
    free_bind();
    free(server_config.config_file);
    for (int i = 0; i < server_config.nuser_lines; i++) free(server_config.user_lines[i]);
    free(server_config.user_lines);
    memset(&server_config, 0, sizeof(server_config));
}
