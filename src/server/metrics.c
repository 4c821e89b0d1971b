/* metrics.c - the Prometheus text exposition served at GET /metrics (http.c).
 *
 * Design: every value is read on the main thread at scrape time from counters that exist anyway
 * (server_stats, the command table's commandstats, the store's and persist thread's stats), so
 * serving metrics adds no work to the request path beyond two counters (entries appended and
 * served). A scrape is one pass over the topics (store_stats walks them for the totals) plus
 * the capped per-topic and per-group series: at most metrics-max-topics topics and
 * metrics-max-groups groups are collected first (key-space order) and then written family by
 * family, as the format wants all samples of a family together; how many were left out is a
 * metric of its own (obelisk_metrics_omitted_series). Lag per group is O(log n)
 * (topic_count_after). Names: obelisk_ prefix, base units, _total for counters, _seconds and
 * _bytes where the unit is time or size. Label values are keys and group names written by
 * metrics_add_name, so they never need escaping. With metrics-key-labels no, the per-topic
 * and per-group families are left out whole (the totals stay, and the omitted-series counts
 * read 0): a deployment whose key names are confidential exports none. Main thread only. */
#include "server/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "base/sbuf.h"
#include "base/util.h"
#include "server/authfail.h"
#include "server/blocking.h"
#include "server/command.h"
#include "server/commit.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/durable.h"
#include "server/http_api.h"
#include "server/http_cmd.h"
#include "server/runtime.h"
#include "server/stats.h"
#include "server/xgroup.h"
#include "storage/cgroup.h"
#include "storage/store.h"

void metrics_add_name(struct sbuf *b, const void *name, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = name;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = p[i];
        if (ch < 0x20 || ch > 0x7e || strchr("%\"\\,=:", ch)) {
            char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            sbuf_add(b, esc, 3);
        } else {
            sbuf_add(b, &p[i], 1);
        }
    }
}

static void family(struct sbuf *b, const char *name, const char *type, const char *help) {
    sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct sbuf *b, const char *name, const char *type, const char *help,
                unsigned long long v) {
    family(b, name, type, help);
    sbuf_printf(b, "%s %llu\n", name, v);
}

static void one_f(struct sbuf *b, const char *name, const char *type, const char *help, double v) {
    family(b, name, type, help);
    sbuf_printf(b, "%s %.6f\n", name, v);
}

/* A histogram from per-bucket counts (n bounds, n + 1 counts), bounds scaled by div. */
static void histogram(struct sbuf *b, const char *name, const char *help, const uint64_t *bounds,
                      const uint64_t *counts, size_t n, double div, double sum) {
    family(b, name, "histogram", help);
    unsigned long long cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        if (div == 1.0) /* exact integers (%g would round 1048576 to 1.04858e+06) */
            sbuf_printf(b, "%s_bucket{le=\"%llu\"} %llu\n", name, (unsigned long long)bounds[i],
                        cum);
        else
            sbuf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds[i] / div, cum);
    }
    cum += counts[n];
    sbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, cum, name,
                sum, name, cum);
}

/* ---- commands and errors ---- */

struct cmd_family {
    struct sbuf *b;
    int which; /* 0 calls, 1 seconds, 2 failed, 3 rejected */
};

static void cmd_sample(struct cmd_family *f, const struct command *c) {
    if (!c->calls && !c->rejected_calls && !c->failed_calls) return;
    static const char *const names[] = {
        "obelisk_command_calls_total", "obelisk_command_duration_seconds_total",
        "obelisk_command_failed_calls_total", "obelisk_command_rejected_calls_total"};
    sbuf_printf(f->b, "%s{command=\"", names[f->which]);
    metrics_add_name(f->b, c->fullname, strlen(c->fullname));
    if (f->which == 1)
        sbuf_printf(f->b, "\"} %.6f\n", (double)c->usec / 1e6);
    else
        sbuf_printf(f->b, "\"} %lld\n",
                    f->which == 0   ? c->calls
                    : f->which == 2 ? c->failed_calls
                                    : c->rejected_calls);
}

static void cmd_each(struct command *c, void *ctx) {
    cmd_sample(ctx, c);
    for (struct command *s = c->subcommands; s && s->name; s++) cmd_sample(ctx, s);
}

static void commands(struct sbuf *b) {
    static const char *const names[][2] = {
        {"obelisk_command_calls_total", "Calls per command (Redis's commandstats calls)."},
        {"obelisk_command_duration_seconds_total", "Time spent executing each command."},
        {"obelisk_command_failed_calls_total", "Calls per command that replied an error."},
        {"obelisk_command_rejected_calls_total",
         "Calls per command rejected before running (arity, auth, loading...)."},
    };
    for (int i = 0; i < 4; i++) {
        family(b, names[i][0], "counter", names[i][1]);
        struct cmd_family f = {b, i};
        command_foreach(cmd_each, &f);
    }
    family(b, "obelisk_errors_total", "counter", "Error replies by error code (errorstats).");
    for (int i = 0; i < server_stats.nerrors; i++) {
        sbuf_printf(b, "obelisk_errors_total{type=\"");
        metrics_add_name(b, server_stats.errors[i].code, strlen(server_stats.errors[i].code));
        sbuf_printf(b, "\"} %lld\n", server_stats.errors[i].count);
    }
}

/* ---- topics and groups ---- */

struct collect {
    struct topic **topics;
    size_t n, max;
    unsigned long long omitted;
};

static void collect_topic(void *ctx, struct topic *t) {
    struct collect *c = ctx;
    if (c->n < c->max)
        c->topics[c->n++] = t;
    else
        c->omitted++;
}

struct collect_groups {
    struct metrics_group_ref *refs;
    size_t n, max;
    unsigned long long omitted;
    struct topic *t;
};

static int collect_group(void *ctx, struct cg_group *g) {
    struct collect_groups *c = ctx;
    if (c->n < c->max) {
        c->refs[c->n].topic = c->t;
        c->refs[c->n].group = g;
        c->n++;
    } else {
        c->omitted++;
    }
    return 0;
}

static void collect_groups_of(void *ctx, struct topic *t) {
    struct collect_groups *c = ctx;
    if (!topic_has_groups(t)) return;
    c->t = t;
    cg_group_foreach(t, collect_group, c);
}

size_t metrics_collect_groups(size_t max, struct metrics_group_ref **out,
                              unsigned long long *omitted) {
    struct collect_groups c = {NULL, 0, max, 0, NULL};
    *out = NULL;
    *omitted = 0;
    struct store *s = db_store();
    if (!s) return 0;
    c.refs = calloc(max ? max : 1, sizeof(*c.refs));
    if (!c.refs) return 0;
    for (int db = 0; db < server_config.databases; db++)
        store_foreach(s, db, collect_groups_of, &c);
    *out = c.refs;
    *omitted = c.omitted;
    return c.n;
}

static void topic_labels(struct sbuf *b, const char *name, const struct topic *t) {
    size_t klen;
    const uint8_t *key = topic_key(t, &klen);
    sbuf_printf(b, "%s{db=\"%d\",topic=\"", name, topic_db(t));
    metrics_add_name(b, key, klen);
    sbuf_add(b, "\"}", 2);
}

static void group_labels(struct sbuf *b, const char *name, const struct metrics_group_ref *r) {
    size_t len;
    const char *g = cg_group_name(r->group, &len);
    size_t klen;
    const uint8_t *key = topic_key(r->topic, &klen);
    sbuf_printf(b, "%s{db=\"%d\",topic=\"", name, topic_db(r->topic));
    metrics_add_name(b, key, klen);
    sbuf_add(b, "\",group=\"", 9);
    metrics_add_name(b, g, len);
    sbuf_add(b, "\"}", 2);
}

static void per_topic(struct sbuf *b, struct store *s, unsigned long long *omitted) {
    size_t max = (size_t)server_config.metrics_max_topics;
    struct collect c = {calloc(max ? max : 1, sizeof(struct topic *)), 0, max, 0};
    if (!c.topics) return;
    for (int db = 0; db < server_config.databases; db++) store_foreach(s, db, collect_topic, &c);
    *omitted = c.omitted;
    family(b, "obelisk_topic_entries", "gauge", "Entries in the topic (XLEN).");
    for (size_t i = 0; i < c.n; i++) {
        topic_labels(b, "obelisk_topic_entries", c.topics[i]);
        sbuf_printf(b, " %llu\n", (unsigned long long)topic_length(c.topics[i]));
    }
    family(b, "obelisk_topic_last_id_timestamp_seconds", "gauge",
           "Milliseconds part of the topic's last ID, as seconds since the epoch.");
    for (size_t i = 0; i < c.n; i++) {
        topic_labels(b, "obelisk_topic_last_id_timestamp_seconds", c.topics[i]);
        sbuf_printf(b, " %.3f\n", (double)topic_last_id(c.topics[i]).ms / 1000.0);
    }
    family(b, "obelisk_topic_last_id_sequence", "gauge", "Sequence part of the topic's last ID.");
    for (size_t i = 0; i < c.n; i++) {
        topic_labels(b, "obelisk_topic_last_id_sequence", c.topics[i]);
        sbuf_printf(b, " %llu\n", (unsigned long long)topic_last_id(c.topics[i]).seq);
    }
    family(b, "obelisk_topic_disk_bytes", "gauge", "Bytes of the topic's segment files.");
    for (size_t i = 0; i < c.n; i++) {
        topic_labels(b, "obelisk_topic_disk_bytes", c.topics[i]);
        sbuf_printf(b, " %llu\n", (unsigned long long)topic_disk_bytes(c.topics[i]));
    }
    free(c.topics);
}

static void per_group(struct sbuf *b, unsigned long long *omitted) {
    struct metrics_group_ref *refs;
    size_t n = metrics_collect_groups((size_t)server_config.metrics_max_groups, &refs, omitted);
    family(b, "obelisk_group_pending_entries", "gauge",
           "Entries delivered to the group and not acknowledged (XPENDING count).");
    for (size_t i = 0; i < n; i++) {
        group_labels(b, "obelisk_group_pending_entries", &refs[i]);
        sbuf_printf(b, " %llu\n", (unsigned long long)cg_group_pending_count(refs[i].group));
    }
    /* Two lags, named for what they are: Redis's (what XINFO GROUPS shows: entries not yet
     * delivered to the group, falling as it reads) for every group whose lag Redis could
     * compute, and the committed lag (entries after the XCOMMIT position) only for groups that
     * commit, so a group that reads and XACKs without XCOMMIT never shows a lag that cannot
     * fall. */
    family(b, "obelisk_group_lag_entries", "gauge",
           "Entries not yet delivered to the group (XINFO GROUPS lag; absent while Redis's lag is "
           "unknown).");
    for (size_t i = 0; i < n; i++) {
        long long lag;
        if (!xgroup_lag(refs[i].topic, refs[i].group, &lag)) continue;
        group_labels(b, "obelisk_group_lag_entries", &refs[i]);
        sbuf_printf(b, " %lld\n", lag);
    }
    family(b, "obelisk_group_committed_lag_entries", "gauge",
           "Live entries after the group's committed offset (XLAG lag); only for groups that "
           "have committed with XCOMMIT.");
    for (size_t i = 0; i < n; i++) {
        sid_t committed = SID_MIN;
        uint64_t lag = 0;
        if (!cg_committed(refs[i].group, &committed)) continue;
        topic_count_after(refs[i].topic, committed, &lag);
        group_labels(b, "obelisk_group_committed_lag_entries", &refs[i]);
        sbuf_printf(b, " %llu\n", (unsigned long long)lag);
    }
    family(b, "obelisk_group_dead_lettered_total", "counter",
           "Entries the group's dead-letter policy took since the server started "
           "(MAXDELIVERIES); only for groups that have one.");
    for (size_t i = 0; i < n; i++) {
        if (!cg_group_max_deliveries(refs[i].group)) continue;
        group_labels(b, "obelisk_group_dead_lettered_total", &refs[i]);
        sbuf_printf(b, " %llu\n", (unsigned long long)cg_group_dead_lettered(refs[i].group));
    }
    family(b, "obelisk_group_consumers", "gauge", "Consumers in the group.");
    for (size_t i = 0; i < n; i++) {
        group_labels(b, "obelisk_group_consumers", &refs[i]);
        sbuf_printf(b, " %zu\n", cg_group_consumer_count(refs[i].group));
    }
    free(refs);
}

/* ---- storage ---- */

static void storage(struct sbuf *b, const struct store_stats *st) {
    static const uint64_t fsync_bounds[] = PERSIST_FSYNC_BOUNDS_US;
    static const uint64_t batch_bounds[] = PERSIST_BATCH_BOUNDS_BYTES;
    const struct persist_stats *p = &st->persist;
    one(b, "obelisk_fsyncs_total", "counter", "fdatasync/fsync/syncfs calls on data files.",
        p->fsyncs);
    one(b, "obelisk_syncfs_total", "counter",
        "syncfs calls that replaced several fdatasyncs (syncfs-min-files).", p->syncfs_calls);
    histogram(b, "obelisk_fsync_duration_seconds", "Latency of each data-file fsync.", fsync_bounds,
              p->fsync_buckets, PERSIST_FSYNC_BUCKETS - 1, 1e6, (double)p->fsync_us_total / 1e6);
    one_f(b, "obelisk_fsync_duration_max_seconds", "gauge", "Longest fsync since start.",
          (double)p->fsync_us_max / 1e6);
    one_f(b, "obelisk_last_fsync_timestamp_seconds", "gauge",
          "Wall-clock time of the last successful fsync (0 when none yet).",
          (double)p->last_fsync_ms / 1000.0);
    one(b, "obelisk_persist_submissions_total", "counter",
        "Submissions (group commits) the persist thread completed.", p->submissions);
    one(b, "obelisk_persist_written_bytes_total", "counter",
        "Bytes the persist thread wrote to data files.", p->bytes_written);
    histogram(b, "obelisk_persist_submission_bytes",
              "Bytes per submission: how much one group commit carried.", batch_bounds,
              p->batch_buckets, PERSIST_BATCH_BUCKETS - 1, 1.0, (double)p->batch_bytes_total);
    one(b, "obelisk_storage_io_error", "gauge",
        "1 after a storage I/O error (writes refused from then on), else 0.", durable_error() != 0);
    one(b, "obelisk_cache_bytes", "gauge", "Bytes held by the ring caches.", st->cache_bytes);
    one(b, "obelisk_cache_max_bytes", "gauge", "The ring caches' budget (cache-max-bytes).",
        st->cache_max_bytes);
    one(b, "obelisk_cache_hits_total", "counter", "Reads served from the ring cache.",
        st->cache_hits);
    one(b, "obelisk_cache_misses_total", "counter", "Reads that went to segment files.",
        st->cache_misses);
    one(b, "obelisk_cache_evictions_total", "counter", "Entries evicted from the ring caches.",
        st->cache_evictions);
    one(b, "obelisk_storage_open_files", "gauge",
        "File descriptors storage holds (directories, segment reads, the persist thread's "
        "writes).",
        st->open_files);
    one(b, "obelisk_storage_open_files_max", "gauge",
        "Storage's share of the descriptor limit (max-open-files-storage).", st->max_open_files);
    one(b, "obelisk_storage_fd_evictions_total", "counter",
        "Segment read and write descriptors closed to stay within the share.",
        st->read_fd_evictions + st->persist.write_fd_evictions);
    one(b, "obelisk_storage_open_files_refusals_total", "counter",
        "Streams refused because storage had no descriptor free (retryable).", st->nofile_refusals);
    one(b, "obelisk_topics", "gauge", "Topics (stream keys) in all databases.", st->topics);
    one(b, "obelisk_segments", "gauge", "Segment files of all topics.", st->segments);
    one(b, "obelisk_disk_bytes", "gauge", "Bytes of all segment files.", st->disk_bytes);
    one_f(b, "obelisk_recovery_duration_seconds", "gauge",
          "How long opening the data directory took at the last start.",
          (double)st->recovery_us / 1e6);
    one(b, "obelisk_recovery_clean", "gauge",
        "1 when the last start found a clean shutdown or a new data directory, 0 after a crash.",
        st->recovery_clean);
}

void metrics_render(struct sbuf *b) {
    const struct server_stats *s = &server_stats;
    long long now = util_mstime();
    family(b, "obelisk_build_info", "gauge", "Obelisk's version and the Redis version it matches.");
    sbuf_printf(b, "obelisk_build_info{version=\"%s\",redis_version=\"%s\"} 1\n", OBELISK_VERSION,
                OBELISK_REDIS_VERSION);
    one_f(b, "obelisk_uptime_seconds", "gauge", "Seconds since the server started.",
          (double)(now - runtime.start_ms) / 1000.0);
    one(b, "obelisk_loading", "gauge", "1 while the data set is being loaded.", runtime.loading);
    one(b, "obelisk_connected_clients", "gauge", "Client connections open now.",
        (unsigned long long)conn_count());
    one(b, "obelisk_blocked_clients", "gauge", "Clients blocked in XREAD/XREADGROUP BLOCK.",
        (unsigned long long)blocking_count());
    one(b, "obelisk_connections_received_total", "counter", "Client connections accepted.",
        (unsigned long long)s->connections_received);
    one(b, "obelisk_rejected_connections_total", "counter",
        "Connections refused (maxclients, protected mode).",
        (unsigned long long)s->rejected_connections);
    one(b, "obelisk_tls_handshake_failures_total", "counter",
        "TLS connections that ended before their handshake completed.",
        (unsigned long long)s->tls_handshake_failures);
    one(b, "obelisk_auth_failures_total", "counter",
        "Failed authentications: wrong passwords or tokens given to AUTH, HELLO AUTH or the HTTP "
        "face (INFO stats acl_access_denied_auth).",
        authfail_count(AUTHFAIL_AUTH));
    one(b, "obelisk_commands_processed_total", "counter", "Commands executed.",
        (unsigned long long)s->commands_processed);
    commands(b);
    one(b, "obelisk_error_replies_total", "counter", "Error replies sent.",
        (unsigned long long)s->error_replies);
    one(b, "obelisk_net_input_bytes_total", "counter", "Bytes read from clients.",
        (unsigned long long)s->net_input_bytes);
    one(b, "obelisk_net_output_bytes_total", "counter", "Bytes written to clients.",
        (unsigned long long)s->net_output_bytes);
    one(b, "obelisk_entries_appended_total", "counter", "Entries appended by XADD.",
        (unsigned long long)s->entries_appended);
    one(b, "obelisk_entries_served_total", "counter",
        "Entries sent to clients by XRANGE, XREVRANGE, XREAD and XREADGROUP.",
        (unsigned long long)s->entries_served);
    one(b, "obelisk_stream_read_errors_total", "counter",
        "Stream reads answered with an error: damage found on disk (see the log) or an I/O error.",
        (unsigned long long)s->read_errors);
    one(b, "obelisk_held_replies", "gauge",
        "Replies held until their batch is durable (fsync always).",
        (unsigned long long)commit_held_total());
    one(b, "obelisk_http_api_tails", "gauge",
        "Live tails (Server-Sent Events streams) open on the HTTP API.",
        (unsigned long long)http_api_sse_count());
    one(b, "obelisk_http_api_connections", "gauge",
        "Internal command connections of the HTTP API, in use or idle (they count as clients).",
        (unsigned long long)hcmd_count());
    unsigned long long omitted_topics = 0, omitted_groups = 0;
    struct store *st = db_store();
    if (st) {
        struct store_stats stats;
        store_stats(st, &stats);
        storage(b, &stats);
        if (server_config.metrics_key_labels) { /* no: no series names a topic or group */
            per_topic(b, st, &omitted_topics);
            per_group(b, &omitted_groups);
        }
    }
    family(b, "obelisk_metrics_omitted_series", "gauge",
           "Topics or groups left out of the per-topic/per-group series by metrics-max-topics "
           "and metrics-max-groups.");
    sbuf_printf(b, "obelisk_metrics_omitted_series{kind=\"topic\"} %llu\n", omitted_topics);
    sbuf_printf(b, "obelisk_metrics_omitted_series{kind=\"group\"} %llu\n", omitted_groups);
}
