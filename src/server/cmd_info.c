/* cmd_info.c - INFO with Redis 7's sections and field names, so tools that parse INFO (redis-cli,
 * client libraries, exporters) work unchanged. Fields Obelisk has no counterpart for (RDB
 * saving, replication) report the idle state they truly are in. Main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/histogram.h"
#include "base/sbuf.h"
#include "base/util.h"
#include "server/authfail.h"
#include "server/backup.h"
#include "server/blocking.h"
#include "server/cmds.h"
#include "server/command.h"
#include "server/commit.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/durable.h"
#include "server/errors.h"
#include "server/expire.h"
#include "server/http.h"
#include "server/pubsub.h"
#include "server/repl.h"
#include "server/repl_link.h"
#include "server/metrics.h"
#include "server/sdnotify.h"
#include "server/runtime.h"
#include "server/stats.h"
#include "server/xgroup.h"
#include "storage/cgroup.h"
#include "storage/store.h"

/* Redis's human-readable byte counts: 1.04M, 32.00K, 200B. */
static void human_bytes(char *buf, size_t cap, long long n) {
    const char *units = "BKMGTPE";
    double d = (double)n;
    int u = 0;
    while (d >= 1024 && u < 6) d /= 1024, u++;
    if (u == 0)
        snprintf(buf, cap, "%lldB", n);
    else
        snprintf(buf, cap, "%.2f%c", d, units[u]);
}

static void section_server(struct sbuf *b) {
    struct utsname un;
    long long now = util_ustime();
    long long up = (util_mstime() - runtime.start_ms) / 1000;
    char exe[1024] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    uname(&un);
    sbuf_printf(b,
                "# Server\r\nredis_version:%s\r\nobelisk_version:%s\r\nredis_git_sha1:00000000\r\n"
                "redis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\n"
                "os:%s %s %s\r\narch_bits:%d\r\nmonotonic_clock:POSIX clock_gettime\r\n"
                "multiplexing_api:%s\r\natomicvar_api:c11-builtin\r\ngcc_version:%d.%d.%d\r\n"
                "process_id:%d\r\nprocess_supervised:%s\r\nrun_id:%s\r\ntcp_port:%d\r\n"
                "server_time_usec:%lld\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
                "hz:10\r\nconfigured_hz:10\r\nexecutable:%s\r\nconfig_file:%s\r\n"
                "io_threads_active:0\r\n",
                OBELISK_REDIS_VERSION, OBELISK_VERSION, un.sysname, un.release, un.machine,
                (int)(sizeof(long) * 8), event_base_get_method(runtime.base), __GNUC__,
                __GNUC_MINOR__, __GNUC_PATCHLEVEL__, (int)getpid(),
                sdnotify_active() ? "systemd" : "no", runtime.run_id,
                runtime.port ? runtime.port : runtime.tls_port /* TLS only: as Redis */, now, up,
                up / 86400, exe, server_config.config_file);
}

static void section_clients(struct sbuf *b) {
    size_t max_in = 0, max_out = 0;
    for (struct client *c = conn_first(); c; c = c->next) {
        if (c->qcap > max_in) max_in = c->qcap;
        size_t o = conn_output_bytes(c);
        if (o > max_out) max_out = o;
    }
    sbuf_printf(b,
                "# Clients\r\nconnected_clients:%d\r\ncluster_connections:0\r\nmaxclients:%d\r\n"
                "client_recent_max_input_buffer:%zu\r\nclient_recent_max_output_buffer:%zu\r\n"
                "blocked_clients:%d\r\ntracking_clients:0\r\nclients_in_timeout_table:%d\r\n",
                conn_count(), server_config.maxclients, max_in, max_out, blocking_count(),
                blocking_count());
}

/* Redis's fields, with Obelisk's meanings: the dataset is what the stream cache holds (entries
 * kept in memory; the logs on disk are in INFO obelisk), the overhead everything else the
 * allocator handed out; clients count their query buffers and unsent output. Obelisk has no
 * Lua, scripts, replication backlog or defragmenter: those are zero. */
static void section_memory(struct sbuf *b) {
    char h1[32], h2[32], h3[32], h4[32];
    long long used = stats_used_memory(), rss = stats_rss_memory(),
              peak_memory = server_stats.peak_memory;
    long long total = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    struct store_stats st;
    memset(&st, 0, sizeof(st));
    if (db_store()) store_stats(db_store(), &st);
    long long dataset = (long long)st.cache_bytes, clients = 0;
    if (dataset > used) dataset = used;
    for (struct client *c = conn_first(); c; c = c->next)
        clients += (long long)(sizeof(*c) + c->qcap + conn_output_bytes(c));
    human_bytes(h1, sizeof(h1), used);
    human_bytes(h2, sizeof(h2), rss);
    human_bytes(h3, sizeof(h3), peak_memory);
    human_bytes(h4, sizeof(h4), total);
    sbuf_printf(b,
                "# Memory\r\nused_memory:%lld\r\nused_memory_human:%s\r\nused_memory_rss:%lld\r\n"
                "used_memory_rss_human:%s\r\nused_memory_peak:%lld\r\nused_memory_peak_human:%s\r\n"
                "used_memory_overhead:%lld\r\nused_memory_dataset:%lld\r\n"
                "total_system_memory:%lld\r\ntotal_system_memory_human:%s\r\n"
                "used_memory_lua:0\r\nnumber_of_cached_scripts:0\r\nused_memory_scripts:0\r\n"
                "maxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n"
                "mem_fragmentation_ratio:%.2f\r\nmem_fragmentation_bytes:%lld\r\n"
                "mem_not_counted_for_evict:0\r\nmem_clients_slaves:0\r\n"
                "mem_clients_normal:%lld\r\nmem_allocator:%s\r\nactive_defrag_running:0\r\n"
                "lazyfree_pending_objects:0\r\n",
                used, h1, rss, h2, peak_memory, h3, used - dataset, dataset, total, h4,
                used ? (double)rss / (double)used : 0.0, rss - used, clients, stats_allocator());
}

/* The store's counters, zero while loading. */
static void store_counters(struct store_stats *st) {
    memset(st, 0, sizeof(*st));
    if (db_store()) store_stats(db_store(), st);
}

/* Redis's fields first (unchanged), then Obelisk's: the fsync policy and how the persist thread
 * is doing (submissions are group commits, fsyncs count data-file syncs, of which
 * fsync_syncfs_count were one syncfs for several files). */
static void section_persistence(struct sbuf *b) {
    static const char *const fsync_names[] = {"always", "everysec", "no"};
    struct store_stats st;
    store_counters(&st);
    /* Obelisk has no RDB or AOF: its topics are written by the persist thread as they change.
     * The "save" fields say that truthfully: the last save is the last successful fsync of
     * data (the start time before the first), and the changes since then are the submissions
     * (group commits) not yet durable. No fork ever runs. The bgsave fields are the backups
     * that SAVE and BGSAVE (and BACKUP) take (backup.c): running, the last one's status and
     * duration, how many succeeded; LASTSAVE answers when the last one succeeded. */
    long long last_save = st.persist.last_fsync_ms ? (long long)(st.persist.last_fsync_ms / 1000)
                                                   : runtime.start_ms / 1000;
    unsigned long long unsaved = st.submitted_seq > st.durable_seq
                                     ? (unsigned long long)(st.submitted_seq - st.durable_seq)
                                     : 0;
    struct backup_info bi; /* BACKUP (backup.c): the running one's progress, the last result */
    backup_get_info(&bi);
    long long bg_last = bi.last_usec ? (bi.last_usec + 500000) / 1000000 : -1;
    long long bg_now = bi.in_progress ? util_mstime() / 1000 - bi.start_time : -1;
    sbuf_printf(b,
                "# Persistence\r\nloading:%d\r\nasync_loading:0\r\n"
                "rdb_changes_since_last_save:%llu\r\nrdb_bgsave_in_progress:%d\r\n"
                "rdb_last_save_time:%lld\r\nrdb_last_bgsave_status:%s\r\n"
                "rdb_last_bgsave_time_sec:%lld\r\nrdb_current_bgsave_time_sec:%lld\r\n"
                "rdb_saves:%lld\r\n"
                "rdb_last_cow_size:0\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\n"
                "aof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\n"
                "aof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\n"
                "aof_rewrites:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\n"
                "module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
                runtime.loading, unsaved, bi.in_progress, last_save,
                bi.last_status == 0 ? "ok" : "err", bg_last, bg_now, bi.saves);
    if (runtime.loading) {
        /* Redis's progress fields while loading, for the log replay (docs/storage.md) */
        struct db_loading l;
        db_loading_progress(&l);
        long long elapsed = util_mstime() / 1000 - l.start_s;
        uint64_t left = l.total_bytes > l.loaded_bytes ? l.total_bytes - l.loaded_bytes : 0;
        sbuf_printf(b,
                    "loading_start_time:%lld\r\nloading_total_bytes:%llu\r\n"
                    "loading_rdb_used_mem:0\r\nloading_loaded_bytes:%llu\r\n"
                    "loading_loaded_perc:%.2f\r\nloading_eta_seconds:%lld\r\n",
                    l.start_s, (unsigned long long)l.total_bytes,
                    (unsigned long long)l.loaded_bytes,
                    (double)l.loaded_bytes / (double)(l.total_bytes + 1) * 100.0,
                    (long long)((double)elapsed * (double)left / (double)(l.loaded_bytes + 1)));
    }
    sbuf_printf(
        b,
        "fsync_policy:%s\r\nfsync_last_status:%s\r\nfsync_last_time:%lld\r\n"
        "fsync_count:%llu\r\nfsync_syncfs_count:%llu\r\nfsync_usec_total:%llu\r\n"
        "fsync_usec_max:%llu\r\nbatches_written:%llu\r\nbatches_written_inline:%llu\r\n"
        "bytes_written:%llu\r\n"
        "wal_enabled:%d\r\nwal_records:%llu\r\nwal_syncs:%llu\r\nwal_checkpoints:%llu\r\n"
        "wal_last_checkpoint_usec:%llu\r\nwal_pending_bytes:%llu\r\nwal_start_offset:%llu\r\n"
        "wal_end_offset:%llu\r\nwal_deferred_bytes:%llu\r\nwal_filings:%llu\r\n",
        fsync_names[server_config.fsync], durable_error() ? "err" : "ok",
        (long long)(st.persist.last_fsync_ms / 1000), (unsigned long long)st.persist.fsyncs,
        (unsigned long long)st.persist.syncfs_calls, (unsigned long long)st.persist.fsync_us_total,
        (unsigned long long)st.persist.fsync_us_max, (unsigned long long)st.persist.submissions,
        (unsigned long long)st.persist.inline_rounds, (unsigned long long)st.persist.bytes_written,
        st.persist.wal.enabled, (unsigned long long)st.persist.wal.records,
        (unsigned long long)st.persist.wal.syncs, (unsigned long long)st.persist.wal.checkpoints,
        (unsigned long long)st.persist.wal.last_checkpoint_us,
        (unsigned long long)st.persist.wal.pending_bytes,
        (unsigned long long)st.persist.wal.start_lsn, (unsigned long long)st.persist.wal.end_lsn,
        (unsigned long long)st.persist.wal.deferred_bytes,
        (unsigned long long)st.persist.wal.filings);
    sbuf_printf(b,
                "backup_in_progress:%d\r\nbackup_bytes_total:%llu\r\nbackup_bytes_done:%llu\r\n"
                "backup_files_total:%llu\r\nbackup_files_done:%llu\r\nbackup_files_linked:%llu\r\n"
                "backup_last_status:%s\r\nbackup_last_ok_time:%lld\r\nbackup_last_usec:%lld\r\n",
                bi.in_progress, (unsigned long long)bi.bytes_total,
                (unsigned long long)bi.bytes_done, (unsigned long long)bi.files_total,
                (unsigned long long)bi.files_done, (unsigned long long)bi.files_linked,
                bi.last_status == 0 ? "ok" : "err", bi.last_ok_time, bi.last_usec);
}

static void section_stats(struct sbuf *b) {
    const struct server_stats *s = &server_stats;
    long long full, pok, perr;
    struct expire_stats ex;
    repl_sync_stats(&full, &pok, &perr);
    expire_get_stats(&ex);
    sbuf_printf(b,
                "# Stats\r\ntotal_connections_received:%lld\r\ntotal_commands_processed:%lld\r\n"
                "instantaneous_ops_per_sec:%lld\r\ntotal_net_input_bytes:%lld\r\n"
                "total_net_output_bytes:%lld\r\nrejected_connections:%lld\r\nsync_full:%lld\r\n"
                "sync_partial_ok:%lld\r\nsync_partial_err:%lld\r\nexpired_keys:%lld\r\n"
                "expired_stale_perc:%.2f\r\nexpired_time_cap_reached_count:%lld\r\n"
                "evicted_keys:0\r\nkeyspace_hits:0\r\nkeyspace_misses:0\r\npubsub_channels:%lld\r\n"
                "pubsub_patterns:%lld\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\n"
                "migrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\n"
                "active_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\n"
                "active_defrag_key_misses:0\r\ntracking_total_keys:0\r\n"
                "tracking_total_items:0\r\ntracking_total_prefixes:0\r\n"
                "unexpected_error_replies:0\r\ntotal_error_replies:%lld\r\n"
                "dump_payload_sanitizations:0\r\ntotal_reads_processed:%lld\r\n"
                "total_writes_processed:%lld\r\nio_threaded_reads_processed:0\r\n"
                "io_threaded_writes_processed:0\r\n",
                s->connections_received, s->commands_processed, s->ops_per_sec, s->net_input_bytes,
                s->net_output_bytes, s->rejected_connections, full, pok, perr, ex.expired_keys,
                ex.stale_perc * 100, ex.cycle_deferred, pubsub_total_channels(),
                pubsub_total_patterns(), s->error_replies, s->reads_processed, s->writes_processed);
    /* Redis 7.2's ACL counters, last in the section as there (7.0 has none) */
    sbuf_printf(b,
                "acl_access_denied_auth:%llu\r\nacl_access_denied_cmd:%llu\r\n"
                "acl_access_denied_key:%llu\r\nacl_access_denied_channel:%llu\r\n",
                authfail_count(AUTHFAIL_AUTH), authfail_count(AUTHFAIL_CMD),
                authfail_count(AUTHFAIL_KEY), authfail_count(AUTHFAIL_CHANNEL));
}

static void section_replication(struct sbuf *b) {
    struct repl_link_info li;
    sbuf_printf(b, "# Replication\r\n");
    if (runtime.replica && repl_link_info(&li)) {
        sbuf_printf(b,
                    "role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n"
                    "master_last_io_seconds_ago:%lld\r\nmaster_sync_in_progress:%d\r\n"
                    "slave_read_repl_offset:%lld\r\nslave_repl_offset:%lld\r\n",
                    li.host, li.port, li.up ? "up" : "down", li.last_io_s, li.sync_in_progress,
                    li.read_offset, li.repl_offset);
        if (li.sync_in_progress) {
            long long left = li.sync_total_bytes - li.sync_read_bytes;
            sbuf_printf(b,
                        "master_sync_total_bytes:%lld\r\nmaster_sync_read_bytes:%lld\r\n"
                        "master_sync_left_bytes:%lld\r\nmaster_sync_perc:%.2f\r\n"
                        "master_sync_last_io_seconds_ago:%lld\r\n",
                        li.sync_total_bytes, li.sync_read_bytes, left,
                        li.sync_total_bytes
                            ? 100.0 * (double)li.sync_read_bytes / (double)li.sync_total_bytes
                            : 0.0,
                        li.last_io_s);
        }
        if (!li.up) sbuf_printf(b, "master_link_down_since_seconds:%lld\r\n", li.down_since_s);
        sbuf_printf(b, "slave_priority:%d\r\nslave_read_only:%d\r\nreplica_announced:%d\r\n",
                    server_config.replica_priority, server_config.replica_read_only,
                    server_config.replica_announced);
    } else {
        sbuf_printf(b, "role:master\r\n");
    }
    sbuf_printf(b, "connected_slaves:%d\r\n", repl_replica_count());
    if (!runtime.replica && server_config.min_replicas_to_write > 0)
        sbuf_printf(b, "min_slaves_good_slaves:%d\r\n", runtime.good_replicas);
    repl_info_replicas(b);
    repl_info_backlog(b);
}

static double tv_seconds(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void section_cpu(struct sbuf *b) {
    struct rusage self, children, thread;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread);
    sbuf_printf(b,
                "# CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\nused_cpu_sys_children:%.6f\r\n"
                "used_cpu_user_children:%.6f\r\nused_cpu_sys_main_thread:%.6f\r\n"
                "used_cpu_user_main_thread:%.6f\r\n",
                tv_seconds(self.ru_stime), tv_seconds(self.ru_utime), tv_seconds(children.ru_stime),
                tv_seconds(children.ru_utime), tv_seconds(thread.ru_stime),
                tv_seconds(thread.ru_utime));
}

static void section_errorstats(struct sbuf *b) {
    sbuf_printf(b, "# Errorstats\r\n");
    for (int i = 0; i < server_stats.nerrors; i++)
        sbuf_printf(b, "errorstat_%s:count=%lld\r\n", server_stats.errors[i].code,
                    server_stats.errors[i].count);
}

static void cmdstat_line(struct sbuf *b, const struct command *c) {
    if (!c->calls && !c->rejected_calls && !c->failed_calls) return;
    sbuf_printf(b,
                "cmdstat_%s:calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,"
                "failed_calls=%lld\r\n",
                c->fullname, c->calls, c->usec, c->calls ? (double)c->usec / (double)c->calls : 0.0,
                c->rejected_calls, c->failed_calls);
}

static void cmdstat_each(struct command *c, void *ctx) {
    cmdstat_line(ctx, c);
    for (struct command *s = c->subcommands; s && s->name; s++) cmdstat_line(ctx, s);
}

static void section_commandstats(struct sbuf *b) {
    sbuf_printf(b, "# Commandstats\r\n");
    command_foreach(cmdstat_each, b);
}

static void latency_line(struct sbuf *b, const struct command *c) {
    if (!c->latency || !c->latency->count) return;
    sbuf_printf(b, "latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n", c->fullname,
                (double)histogram_percentile(c->latency, 50) / 1000.0,
                (double)histogram_percentile(c->latency, 99) / 1000.0,
                (double)histogram_percentile(c->latency, 99.9) / 1000.0);
}

static void latency_each(struct command *c, void *ctx) {
    latency_line(ctx, c);
    for (struct command *s = c->subcommands; s && s->name; s++) latency_line(ctx, s);
}

static void section_latencystats(struct sbuf *b) {
    sbuf_printf(b, "# Latencystats\r\n");
    command_foreach(latency_each, b);
}

static void section_keyspace(struct sbuf *b) {
    sbuf_printf(b, "# Keyspace\r\n");
    int64_t now = util_mstime();
    for (int db = 0; db < server_config.databases; db++) {
        long long n = db_size(db), expires, avg_ttl;
        if (!n) continue;
        expire_keyspace(db, now, &expires, &avg_ttl);
        sbuf_printf(b, "db%d:keys=%lld,expires=%lld,avg_ttl=%lld\r\n", db, n, expires, avg_ttl);
    }
}

/* One line per consumer group, at most metrics-max-groups of them (a field name per index, as
 * INFO parsers want unique names; keys and group names written by metrics_add_name). lag is
 * Redis's (XINFO GROUPS; "none" while unknown), committed_lag the entries after the XCOMMIT
 * position ("none" for a group that never committed). */
static void obelisk_groups(struct sbuf *b) {
    struct metrics_group_ref *refs;
    unsigned long long omitted;
    size_t n = metrics_collect_groups((size_t)server_config.metrics_max_groups, &refs, &omitted);
    sbuf_printf(b, "groups_listed:%zu\r\ngroups_omitted:%llu\r\n", n, omitted);
    for (size_t i = 0; i < n; i++) {
        size_t glen;
        const char *g = cg_group_name(refs[i].group, &glen);
        sid_t committed = SID_MIN;
        int has = cg_committed(refs[i].group, &committed);
        uint64_t clag = 0;
        long long lag;
        char id[SID_STRLEN] = "none", lagtext[24] = "none", clagtext[24] = "none";
        if (has) {
            sid_format(committed, id);
            topic_count_after(refs[i].topic, committed, &clag);
            snprintf(clagtext, sizeof(clagtext), "%llu", (unsigned long long)clag);
        }
        if (xgroup_lag(refs[i].topic, refs[i].group, &lag))
            snprintf(lagtext, sizeof(lagtext), "%lld", lag);
        size_t klen;
        const uint8_t *key = topic_key(refs[i].topic, &klen);
        sbuf_printf(b, "group%zu:db=%d,key=", i, topic_db(refs[i].topic));
        metrics_add_name(b, key, klen);
        sbuf_printf(b, ",group=");
        metrics_add_name(b, g, glen);
        sbuf_printf(b, ",committed=%s,lag=%s,committed_lag=%s,pending=%llu", id, lagtext, clagtext,
                    (unsigned long long)cg_group_pending_count(refs[i].group));
        uint64_t max = cg_group_max_deliveries(refs[i].group);
        if (max) { /* the dead-letter policy, when the group has one */
            size_t dl;
            const char *dkey = cg_group_dead_letter_key(refs[i].group, &dl);
            sbuf_printf(b, ",max_deliveries=%llu,dead_letter_key=", (unsigned long long)max);
            if (dkey)
                metrics_add_name(b, dkey, dl);
            else
                sbuf_printf(b, "none");
            sbuf_printf(b, ",dead_lettered=%llu",
                        (unsigned long long)cg_group_dead_lettered(refs[i].group));
        }
        sbuf_printf(b, "\r\n");
    }
    free(refs);
}

/* Obelisk's own section (Redis prints extra sections after its own; parsers skip unknown ones). */
static void section_obelisk(struct sbuf *b) {
    struct store_stats st;
    char h1[32], h2[32], h3[32];
    store_counters(&st);
    human_bytes(h1, sizeof(h1), (long long)st.disk_bytes);
    human_bytes(h2, sizeof(h2), (long long)st.cache_bytes);
    human_bytes(h3, sizeof(h3), (long long)st.cache_max_bytes);
    sbuf_printf(b,
                "# Obelisk\r\ntopics:%llu\r\nsegments:%llu\r\ndisk_bytes:%llu\r\n"
                "disk_bytes_human:%s\r\ncache_used_bytes:%llu\r\ncache_used_bytes_human:%s\r\n"
                "cache_max_bytes:%llu\r\ncache_max_bytes_human:%s\r\ncache_hits:%llu\r\n"
                "cache_misses:%llu\r\ncache_evictions:%llu\r\nrecovery_time_usec:%llu\r\n"
                "recovery_clean:%d\r\nheld_replies:%llu\r\nentries_appended:%lld\r\n"
                "entries_served:%lld\r\nstream_read_errors:%lld\r\nhttp_port:%d\r\n",
                (unsigned long long)st.topics, (unsigned long long)st.segments,
                (unsigned long long)st.disk_bytes, h1, (unsigned long long)st.cache_bytes, h2,
                (unsigned long long)st.cache_max_bytes, h3, (unsigned long long)st.cache_hits,
                (unsigned long long)st.cache_misses, (unsigned long long)st.cache_evictions,
                (unsigned long long)st.recovery_us, st.recovery_clean,
                (unsigned long long)commit_held_total(), server_stats.entries_appended,
                server_stats.entries_served, server_stats.read_errors, http_bound_port());
    /* the descriptor budget (docs/storage.md): what storage holds, its share, the segment and
     * write descriptors closed to stay within it, and streams refused for want of one */
    sbuf_printf(
        b,
        "storage_open_files:%llu\r\nstorage_open_files_max:%llu\r\n"
        "storage_read_fds:%llu\r\nstorage_read_fd_evictions:%llu\r\n"
        "storage_write_fds:%llu\r\nstorage_write_fd_evictions:%llu\r\n"
        "storage_open_files_refusals:%llu\r\nstorage_open_files_waits:%llu\r\n",
        (unsigned long long)st.open_files, (unsigned long long)st.max_open_files,
        (unsigned long long)st.read_fds, (unsigned long long)st.read_fd_evictions,
        (unsigned long long)st.persist.write_fds, (unsigned long long)st.persist.write_fd_evictions,
        (unsigned long long)st.nofile_refusals, (unsigned long long)st.persist.nofile_waits);
    obelisk_groups(b);
}

struct info_section {
    const char *name;
    void (*fn)(struct sbuf *b);
    int in_default;
};

static void section_modules(struct sbuf *b) {
    sbuf_printf(b, "# Modules\r\n");
}

static void section_cluster(struct sbuf *b) {
    sbuf_printf(b, "# Cluster\r\ncluster_enabled:0\r\n");
}

static const struct info_section sections[] = {
    {"server", section_server, 1},
    {"clients", section_clients, 1},
    {"memory", section_memory, 1},
    {"persistence", section_persistence, 1},
    {"stats", section_stats, 1},
    {"replication", section_replication, 1},
    {"cpu", section_cpu, 1},
    {"modules", section_modules, 1},
    {"commandstats", section_commandstats, 0},
    {"errorstats", section_errorstats, 1},
    {"latencystats", section_latencystats, 0},
    {"cluster", section_cluster, 1},
    {"keyspace", section_keyspace, 1},
    {"obelisk", section_obelisk, 1},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

void cmd_info(CMD_ARGS) {
    int want[NSECTIONS] = {0};
    if (argc == 1) {
        for (size_t i = 0; i < NSECTIONS; i++) want[i] = sections[i].in_default;
    }
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        size_t l = argvlen[a];
        int all = util_eq_nocase(s, l, "all") || util_eq_nocase(s, l, "everything");
        int deflt = util_eq_nocase(s, l, "default");
        for (size_t i = 0; i < NSECTIONS; i++)
            if (all || (deflt && sections[i].in_default) || util_eq_nocase(s, l, sections[i].name))
                want[i] = 1;
    }
    struct sbuf b;
    sbuf_init(&b);
    int first = 1;
    /* INFO reports what is in memory now and waits for nothing (Sentinel and monitoring rely on
     * it answering while writes wait, for a sync or for replicas) */
    uint64_t saved = durable_untracked_begin();
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!want[i]) continue;
        if (!first) sbuf_add(&b, "\r\n", 2);
        sections[i].fn(&b);
        first = 0;
    }
    durable_untracked_end(saved);
    if (b.failed)
        reply_error(&c->reply, ERR_OUT_OF_MEMORY);
    else
        reply_verbatim(&c->reply, b.p ? b.p : "", b.len, "txt");
    sbuf_free(&b);
}
