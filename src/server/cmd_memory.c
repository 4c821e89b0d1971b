/* cmd_memory.c - MEMORY (USAGE, STATS, DOCTOR, HELP) and OBJECT (ENCODING, FREQ, IDLETIME,
 * REFCOUNT, HELP), as far as they apply to topics.
 *
 * MEMORY USAGE is the memory Obelisk holds for the key (storage's topic_memory_bytes: the
 * topic's structure, cached entries, unsubmitted batches, segment bookkeeping, consumer groups);
 * the bytes on disk are XINFO STREAM's and INFO obelisk's, not this. SAMPLES is accepted and
 * ignored: the count is exact, not sampled. MEMORY STATS uses Redis's field names where the
 * meaning holds (the dataset is what topics hold in memory), with zeros for what Obelisk has
 * not (replication backlog, Lua, AOF buffer). OBJECT FREQ answers Redis's error for a server
 * without an LFU policy (Obelisk never evicts keys), and IDLETIME says that no access time is
 * kept. Main thread only. */
#include <stdio.h>
#include <string.h>

#include "base/sbuf.h"
#include "base/util.h"
#include "server/cmds.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/db.h"
#include "server/errors.h"
#include "server/stats.h"
#include "server/xutil.h"
#include "storage/store.h"
#include "storage/topic.h"

#define R (&c->reply)

void cmd_memory_usage(CMD_ARGS) {
    for (int j = 3; j < argc; j++) {
        long long samples;
        if (util_eq_nocase(argv[j], argvlen[j], "SAMPLES") && j + 1 < argc) {
            if (!util_parse_ll(argv[j + 1], argvlen[j + 1], &samples)) {
                reply_error(R, ERR_NOT_INTEGER);
                return;
            }
            if (samples < 0) {
                reply_error(R, ERR_SYNTAX);
                return;
            }
            j++;
        } else {
            reply_error(R, ERR_SYNTAX);
            return;
        }
    }
    struct topic *t = xutil_lookup(c, argv[2], argvlen[2]);
    if (!t) {
        reply_null(R);
        return;
    }
    reply_int(R, (long long)topic_memory_bytes(t));
}

struct mem_sum {
    unsigned long long keys, bytes;
};

static void sum_topic(void *ctx, struct topic *t) {
    struct mem_sum *m = ctx;
    m->keys++;
    m->bytes += topic_memory_bytes(t);
}

static void memory_sums(struct mem_sum *m) {
    memset(m, 0, sizeof(*m));
    if (!db_store()) return;
    for (int db = 0; db < server_config.databases; db++)
        store_foreach(db_store(), db, sum_topic, m);
}

static long long clients_memory(void) {
    long long n = 0;
    for (struct client *c = conn_first(); c; c = c->next)
        n += (long long)(sizeof(*c) + c->qcap + conn_output_bytes(c));
    return n;
}

void cmd_memory_stats(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    struct mem_sum m;
    memory_sums(&m);
    long long used = stats_used_memory(), rss = stats_rss_memory();
    long long peak = server_stats.peak_memory, clients = clients_memory();
    long long dataset = (long long)m.bytes > used ? used : (long long)m.bytes;
    long long overhead = used - dataset;
    reply_map(R, 19);
    reply_bulk_cstr(R, "peak.allocated");
    reply_int(R, peak);
    reply_bulk_cstr(R, "total.allocated");
    reply_int(R, used);
    reply_bulk_cstr(R, "replication.backlog");
    reply_int(R, 0);
    reply_bulk_cstr(R, "clients.slaves");
    reply_int(R, 0);
    reply_bulk_cstr(R, "clients.normal");
    reply_int(R, clients);
    reply_bulk_cstr(R, "cluster.links");
    reply_int(R, 0);
    reply_bulk_cstr(R, "aof.buffer");
    reply_int(R, 0);
    reply_bulk_cstr(R, "lua.caches");
    reply_int(R, 0);
    reply_bulk_cstr(R, "functions.caches");
    reply_int(R, 0);
    reply_bulk_cstr(R, "overhead.total");
    reply_int(R, overhead);
    reply_bulk_cstr(R, "keys.count");
    reply_int(R, (long long)m.keys);
    reply_bulk_cstr(R, "keys.bytes-per-key");
    reply_int(R, m.keys ? (long long)(m.bytes / m.keys) : 0);
    reply_bulk_cstr(R, "dataset.bytes");
    reply_int(R, dataset);
    reply_bulk_cstr(R, "dataset.percentage");
    reply_double(R, used ? 100.0 * (double)dataset / (double)used : 0.0);
    reply_bulk_cstr(R, "peak.percentage");
    reply_double(R, peak ? 100.0 * (double)used / (double)peak : 0.0);
    reply_bulk_cstr(R, "fragmentation");
    reply_double(R, used ? (double)rss / (double)used : 0.0);
    reply_bulk_cstr(R, "fragmentation.bytes");
    reply_int(R, rss - used);
    /* Obelisk's own: the stream cache and its budget (cache-max-bytes) */
    struct store_stats st;
    memset(&st, 0, sizeof(st));
    if (db_store()) store_stats(db_store(), &st);
    reply_bulk_cstr(R, "cache.bytes");
    reply_int(R, (long long)st.cache_bytes);
    reply_bulk_cstr(R, "cache.max-bytes");
    reply_int(R, (long long)st.cache_max_bytes);
}

/* A plain report of what could make memory grow, each finding a line. */
void cmd_memory_doctor(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    struct sbuf b;
    sbuf_init(&b);
    long long used = stats_used_memory(), rss = stats_rss_memory();
    long long peak = server_stats.peak_memory;
    struct store_stats st;
    memset(&st, 0, sizeof(st));
    if (db_store()) store_stats(db_store(), &st);
    size_t big_out = 0;
    for (struct client *cl = conn_first(); cl; cl = cl->next) {
        size_t o = conn_output_bytes(cl);
        if (o > big_out) big_out = o;
    }
    int issues = 0;
    sbuf_printf(&b, "Obelisk memory report: %lld bytes allocated, %lld resident, peak %lld.\n",
                used, rss, peak);
    if (st.cache_max_bytes && st.cache_bytes * 10 >= st.cache_max_bytes * 9) {
        sbuf_printf(&b,
                    "* The stream cache is %llu of %llu bytes (cache-max-bytes): reads of older "
                    "entries go to the segment files; raise cache-max-bytes if that matters.\n",
                    (unsigned long long)st.cache_bytes, (unsigned long long)st.cache_max_bytes);
        issues++;
    }
    if (big_out >= 32u * 1024 * 1024) {
        sbuf_printf(&b,
                    "* A client has %zu bytes of replies not yet read: a slow reader; see CLIENT "
                    "LIST omem= and client-output-buffer-limit.\n",
                    big_out);
        issues++;
    }
    if (peak > 0 && used * 2 < peak && peak > 64 * 1024 * 1024) {
        sbuf_printf(&b, "* Peak memory was more than twice the current use.\n");
        issues++;
    }
    if (used > 0 && rss > 64 * 1024 * 1024 && (double)rss / (double)used > 1.5) {
        sbuf_printf(&b, "* Resident memory is %.2f times the allocated memory (fragmentation).\n",
                    (double)rss / (double)used);
        issues++;
    }
    if (!issues) sbuf_printf(&b, "No memory issue found.\n");
    if (b.failed || !b.p) {
        sbuf_free(&b);
        reply_error(R, ERR_OUT_OF_MEMORY);
        return;
    }
    reply_verbatim(R, b.p, b.len, "txt");
    sbuf_free(&b);
}

void cmd_memory_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "DOCTOR",
        "    Reports what could make memory grow.",
        "STATS",
        "    Shows the server's memory use by kind.",
        "USAGE <key> [SAMPLES <count>]",
        "    Shows the bytes of memory Obelisk holds for <key> (not its bytes on disk: see",
        "    XINFO STREAM and INFO obelisk). SAMPLES is accepted; the count is exact.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

void cmd_object_encoding(CMD_ARGS) {
    (void)argc;
    if (!xutil_lookup(c, argv[2], argvlen[2])) {
        reply_null(R);
        return;
    }
    reply_bulk_cstr(R, "stream");
}

void cmd_object_freq(CMD_ARGS) {
    (void)argc;
    if (!xutil_lookup(c, argv[2], argvlen[2])) {
        reply_null(R);
        return;
    }
    reply_error(R, ERR_OBJECT_FREQ_NO_LFU);
}

void cmd_object_idletime(CMD_ARGS) {
    (void)argc;
    if (!xutil_lookup(c, argv[2], argvlen[2])) {
        reply_null(R);
        return;
    }
    reply_error(R, ERR_OBJECT_IDLETIME);
}

void cmd_object_refcount(CMD_ARGS) {
    (void)argc;
    if (!xutil_lookup(c, argv[2], argvlen[2])) {
        reply_null(R);
        return;
    }
    reply_int(R, 1);
}

void cmd_object_help(CMD_ARGS) {
    (void)argc, (void)argv, (void)argvlen;
    static const char *const lines[] = {
        "ENCODING <key>",
        "    Shows how the value of <key> is stored: always \"stream\" (a topic).",
        "FREQ <key>",
        "    Not tracked: Obelisk never evicts keys, so there is no LFU policy.",
        "IDLETIME <key>",
        "    Not tracked: Obelisk keeps no access time per key.",
        "REFCOUNT <key>",
        "    Shows the references to the value of <key>: always 1.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    reply_help(c, "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}
