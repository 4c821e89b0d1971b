/* test_replication.c - a primary and a replica on loopback: a full sync of topics with groups,
 * committed offsets, deletes, trims and XSETID, then streaming under pipelined writes, compared
 * command by command; a blocked XREAD on the replica woken by replicated entries; READONLY;
 * -NOREPLICAS with min-replicas-to-write; WAIT with and without replicas; a dropped link
 * continued from the backlog (+CONTINUE); a restarted replica synced again; REPLICAOF NO ONE;
 * ROLE, INFO replication and the directives with their older names; expiry times replicated,
 * and a due key hidden on the replica until the primary's deletion arrives; a dead-letter
 * policy and a dead letter replicated, and idempotent-producer ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "base/sbuf.h"
#include "testutil.h"

static void ok(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("%s", r->str);
    freeReplyObject(r);
}

static void expect_error_prefix(redisContext *c, const char *prefix, const char *cmd) {
    redisReply *r = must_cmd(c, cmd);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    if (strncmp(r->str, prefix, strlen(prefix)) != 0) fail_msg("got %s", r->str);
    freeReplyObject(r);
}

/* The "field:value" text of INFO replication (caller frees). */
static char *info_field(redisContext *c, const char *section, const char *field) {
    redisReply *r = must_cmd(c, "INFO %s", section);
    char key[64], *out = NULL;
    snprintf(key, sizeof key, "\r\n%s:", field);
    char *p = strstr(r->str, key);
    if (p) {
        p += strlen(key);
        out = strndup(p, strcspn(p, "\r\n"));
    }
    freeReplyObject(r);
    return out;
}

static void wait_link_up(redisContext *replica) {
    for (int i = 0; i < 300; i++) {
        char *st = info_field(replica, "replication", "master_link_status");
        int up = st && !strcmp(st, "up");
        free(st);
        if (up) return;
        sleep_ms(50);
    }
    fail_msg("the replica's link never came up");
}

/* ---- the data set as commands show it ---- */
static void reply_text(struct sbuf *b, const redisReply *r, int skip_idle) {
    switch (r->type) {
    case REDIS_REPLY_ARRAY:
        sbuf_printf(b, "[");
        for (size_t i = 0; i < r->elements; i++) {
            /* XPENDING's extended form: id, consumer, idle, count; idle differs by timing */
            if (skip_idle && r->elements == 4 && i == 2 &&
                r->element[i]->type == REDIS_REPLY_INTEGER)
                continue;
            reply_text(b, r->element[i], skip_idle);
            sbuf_printf(b, " ");
        }
        sbuf_printf(b, "]");
        break;
    case REDIS_REPLY_INTEGER: sbuf_printf(b, "%lld", r->integer); break;
    case REDIS_REPLY_NIL: sbuf_printf(b, "nil"); break;
    default: sbuf_add(b, r->str, r->len); break;
    }
}

static void append_cmd(struct sbuf *b, redisContext *c, int skip_idle, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    sbuf_printf(b, "%s => ", fmt);
    reply_text(b, r, skip_idle);
    sbuf_printf(b, "\n");
    freeReplyObject(r);
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every key of db 0 and 1: entries, XINFO STREAM's counters, groups, pending entries (without
 * idle times) and committed offsets. */
static char *dataset(redisContext *c) {
    struct sbuf b;
    sbuf_init(&b);
    for (int db = 0; db < 2; db++) {
        ok(c, "SELECT %d", db);
        redisReply *keys = must_cmd(c, "KEYS *");
        char **k = calloc(keys->elements + 1, sizeof(char *));
        for (size_t i = 0; i < keys->elements; i++) k[i] = keys->element[i]->str;
        qsort(k, keys->elements, sizeof(char *), str_cmp);
        for (size_t i = 0; i < keys->elements; i++) {
            sbuf_printf(&b, "db%d %s\n", db, k[i]);
            append_cmd(&b, c, 0, "XRANGE %s - +", k[i]);
            redisReply *info = must_cmd(c, "XINFO STREAM %s", k[i]);
            for (size_t j = 0; j + 1 < info->elements; j += 2) {
                const char *f = info->element[j]->str;
                if (!strcmp(f, "first-entry") || !strcmp(f, "last-entry")) continue;
                sbuf_printf(&b, "  %s=", f);
                reply_text(&b, info->element[j + 1], 0);
                sbuf_printf(&b, "\n");
            }
            freeReplyObject(info);
            append_cmd(&b, c, 0, "XINFO GROUPS %s", k[i]);
            redisReply *groups = must_cmd(c, "XINFO GROUPS %s", k[i]);
            for (size_t j = 0; j < groups->elements; j++) {
                const char *g = groups->element[j]->element[1]->str;
                append_cmd(&b, c, 1, "XPENDING %s %s - + 1000", k[i], g);
                append_cmd(&b, c, 0, "XCOMMITTED %s %s", k[i], g);
            }
            freeReplyObject(groups);
        }
        free(k);
        freeReplyObject(keys);
    }
    ok(c, "SELECT 0");
    return b.p;
}

static void assert_same_data(redisContext *p, redisContext *r) {
    char *a = dataset(p), *b = dataset(r);
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "primary:\n%s\nreplica:\n%s\n", a, b);
        fail_msg("the replica's data differs from the primary's");
    }
    assert_true(strlen(a) > 100);
    free(a);
    free(b);
}

/* WAIT 1 until the replica has acknowledged everything written so far. */
static void wait_replica(redisContext *p) {
    redisReply *r = must_cmd(p, "WAIT 1 4000");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
}

/* Writes of every kind: entries, XDEL, trims, XSETID, groups and deliveries, acks, commits,
 * a deleted and a renamed key, a second database. */
static void workload(redisContext *c, int round) {
    for (int i = 0; i < 200; i++)
        redisAppendCommand(c, "XADD s%d * f v%d-%d n %d", i % 4, round, i, i);
    for (int i = 0; i < 200; i++) {
        redisReply *r;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
    redisReply *first = must_cmd(c, "XRANGE s0 - + COUNT 3");
    ok(c, "XDEL s0 %s", first->element[1]->element[0]->str);
    freeReplyObject(first);
    ok(c, "XTRIM s1 MAXLEN 120");
    ok(c, "XTRIM s2 MAXLEN ~ 30");
    if (round == 0) {
        ok(c, "XGROUP CREATE s0 g 0");
        ok(c, "XGROUP CREATE s1 h $");
        ok(c, "XADD gone * a b");
        ok(c, "DEL gone");
        ok(c, "XADD from * a b");
        ok(c, "RENAME from to");
        ok(c, "SELECT 1");
        ok(c, "XADD other * x y");
        ok(c, "SELECT 0");
    }
    redisReply *read = must_cmd(c, "XREADGROUP GROUP g alice COUNT 20 STREAMS s0 >");
    if (read->type == REDIS_REPLY_ARRAY) {
        redisReply *entries = read->element[0]->element[1];
        ok(c, "XACK s0 g %s %s", entries->element[0]->element[0]->str,
           entries->element[1]->element[0]->str);
        ok(c, "XCOMMIT s0 g %s", entries->element[2]->element[0]->str);
    }
    freeReplyObject(read);
    ok(c, "XREADGROUP GROUP h bob COUNT 5 STREAMS s1 >");
    ok(c, "XADD ids %d-1 f v", 5000000 + round * 1000);
    ok(c, "XSETID ids %d-5", 5000000 + round * 1000 + 10);
}

static void start_replica(struct test_server *rs, const struct test_server *ps, const char *reuse) {
    char port[16];
    snprintf(port, sizeof port, "%d", ps->port);
    const char *args[] = {"--replicaof", "127.0.0.1", port, "--repl-ping-replica-period",
                          "1",           NULL};
    assert_int_equal(server_start_argv(rs, args, reuse != NULL), 0);
}

/* A replica of ps, connected, its link up. */
static redisContext *replica_up(struct test_server *rs, const struct test_server *ps,
                                const char *reuse) {
    start_replica(rs, ps, reuse);
    redisContext *r = client_connect(rs);
    wait_link_up(r);
    return r;
}

/* A primary under fsync always (*p its client) and one replica with its link up (returned). */
static redisContext *pair_up(struct test_server *ps, struct test_server *rs, redisContext **p) {
    assert_int_equal(server_start(ps, "--fsync", "always", NULL), 0);
    *p = client_connect(ps);
    assert_non_null(*p);
    return replica_up(rs, ps, NULL);
}

static void pair_done(redisContext *p, redisContext *r, struct test_server *ps,
                      struct test_server *rs) {
    redisFree(r);
    redisFree(p);
    server_cleanup(rs);
    server_cleanup(ps);
}

/* The live entries of one topic as obelisk-check --dump prints them from a stopped server's
 * data directory (only the entry lines: "<id> <field> <value> ..."). */
static char *check_dump(const struct test_server *s, const char *key) {
    const char *bin = getenv("OBELISK_CHECK");
    char cmd[1024], line[4096];
    snprintf(cmd, sizeof cmd, "%s %s --dump %s 2>/dev/null", bin ? bin : "./obelisk-check",
             s->datadir, key);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    struct sbuf b;
    sbuf_init(&b);
    while (fgets(line, sizeof line, f)) {
        unsigned long long ms, seq;
        if (sscanf(line, "%llu-%llu ", &ms, &seq) == 2) sbuf_add(&b, line, strlen(line));
    }
    pclose(f);
    sbuf_add(&b, "", 1);
    return b.p;
}

static void test_sync_stream_and_roles(void **state) {
    (void)state;
    struct test_server ps, rs;
    assert_int_equal(server_start(&ps, "--repl-ping-replica-period", "1", NULL), 0);
    redisContext *p = client_connect(&ps);
    workload(p, 0);
    redisContext *r = replica_up(&rs, &ps, NULL);
    wait_replica(p);
    assert_same_data(p, r);
    assert_int_equal(info_number(p, "stats", "sync_full"), 1);
    /* streaming, with a reader blocked on the replica */
    redisContext *blocked = client_connect(&rs);
    redisAppendCommand(blocked, "XREAD BLOCK 10000 STREAMS s1 $");
    redisBufferWrite(blocked, &(int){0});
    sleep_ms(100);
    workload(p, 1);
    redisReply *got;
    assert_int_equal(redisGetReply(blocked, (void **)&got), REDIS_OK);
    assert_int_equal(got->type, REDIS_REPLY_ARRAY); /* woken by a replicated entry */
    freeReplyObject(got);
    redisFree(blocked);
    workload(p, 2);
    wait_replica(p);
    assert_same_data(p, r);
    /* roles */
    redisReply *role = must_cmd(p, "ROLE");
    assert_string_equal(role->element[0]->str, "master");
    assert_int_equal(role->element[2]->elements, 1);
    char port[16];
    snprintf(port, sizeof port, "%d", rs.port);
    assert_string_equal(role->element[2]->element[0]->element[1]->str, port);
    long long offset = role->element[1]->integer;
    assert_true(offset > 0);
    freeReplyObject(role);
    role = must_cmd(r, "ROLE");
    assert_int_equal(role->elements, 5);
    assert_string_equal(role->element[0]->str, "slave");
    assert_string_equal(role->element[1]->str, "127.0.0.1");
    assert_int_equal(role->element[2]->integer, ps.port);
    assert_string_equal(role->element[3]->str, "connected");
    freeReplyObject(role);
    /* INFO replication, Redis's fields */
    assert_int_equal(info_number(p, "replication", "connected_slaves"), 1);
    char *line = info_field(p, "replication", "slave0");
    assert_non_null(line);
    char want[64];
    snprintf(want, sizeof want, "ip=127.0.0.1,port=%d,state=online,offset=", rs.port);
    assert_memory_equal(line, want, strlen(want));
    free(line);
    char *role_line = info_field(r, "replication", "role");
    assert_string_equal(role_line, "slave");
    free(role_line);
    assert_int_equal(info_number(r, "replication", "master_port"), ps.port);
    assert_int_equal(info_number(r, "replication", "master_sync_in_progress"), 0);
    assert_int_equal(info_number(r, "replication", "slave_read_only"), 1);
    assert_int_equal(info_number(r, "replication", "slave_priority"), 100);
    char *pid = info_field(p, "replication", "master_replid");
    char *rid = info_field(r, "replication", "master_replid");
    assert_string_equal(pid, rid); /* the replica follows the primary's history */
    assert_int_equal(strlen(pid), 40);
    free(pid);
    free(rid);
    assert_true(info_number(r, "replication", "slave_repl_offset") <=
                info_number(p, "replication", "master_repl_offset"));
    /* the replica refuses writes, serves reads */
    expect_error_prefix(r, "READONLY You can't write against a read only replica.",
                        "XADD s0 * a b");
    expect_error_prefix(r, "READONLY", "XGROUP CREATE s0 x $");
    redisReply *len = must_cmd(r, "XLEN s1");
    assert_int_equal(len->integer, 120);
    freeReplyObject(len);
    /* quiesced and stopped: obelisk-check reads the same entries from both data directories */
    wait_replica(p);
    assert_int_equal(server_stop(&rs), 0);
    assert_int_equal(server_stop(&ps), 0);
    const char *keys[] = {"s0", "s1", "s2", "s3", "ids", "to"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *a = check_dump(&ps, keys[i]), *b = check_dump(&rs, keys[i]);
        assert_true(strlen(a) > 0);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    pair_done(p, r, &ps, &rs);
}

static void test_continue_restart_and_promotion(void **state) {
    (void)state;
    struct test_server ps, rs;
    assert_int_equal(server_start(&ps, NULL), 0);
    redisContext *p = client_connect(&ps);
    workload(p, 0);
    redisContext *r = replica_up(&rs, &ps, NULL);
    wait_replica(p);
    /* a dropped link continues from the backlog */
    ok(p, "CLIENT KILL TYPE replica");
    workload(p, 1);
    wait_link_up(r);
    wait_replica(p);
    assert_int_equal(info_number(p, "stats", "sync_partial_ok"), 1);
    assert_int_equal(info_number(p, "stats", "sync_full"), 1);
    assert_same_data(p, r);
    /* a replica stopped cleanly continues after its restart (its offset was kept) ... */
    redisFree(r);
    assert_int_equal(server_stop(&rs), 0);
    workload(p, 2);
    r = replica_up(&rs, &ps, "reuse");
    wait_replica(p);
    assert_int_equal(info_number(p, "stats", "sync_partial_ok"), 2);
    assert_int_equal(info_number(p, "stats", "sync_full"), 1);
    assert_true(server_log_contains(&rs, "kept from the last run"));
    assert_same_data(p, r);
    /* ... and one killed continues from the offset it saved behind its data, applying again
     * the records after it (what it already has is skipped) */
    workload(p, 3);
    wait_replica(p);
    sleep_ms(1500); /* a replica saves its acknowledged offset once a second */
    workload(p, 4); /* more than what was saved: records it applied but did not save */
    wait_replica(p);
    redisFree(r);
    server_kill(&rs);
    workload(p, 5);
    r = replica_up(&rs, &ps, "reuse");
    wait_replica(p);
    assert_true(server_log_contains(&rs, "kept from the last run (after an unclean stop)"));
    assert_int_equal(info_number(p, "stats", "sync_full"), 1);
    assert_int_equal(info_number(p, "stats", "sync_partial_ok"), 3);
    assert_same_data(p, r);
    /* promotion: the replica keeps the data, takes writes, and remembers the old history */
    char *old_id = info_field(p, "replication", "master_replid");
    ok(r, "REPLICAOF NO ONE");
    char *role = info_field(r, "replication", "role");
    assert_string_equal(role, "master");
    free(role);
    char *id2 = info_field(r, "replication", "master_replid2");
    assert_string_equal(id2, old_id);
    free(id2);
    free(old_id);
    assert_true(info_number(r, "replication", "second_repl_offset") > 0);
    ok(r, "XADD s0 * after promotion");
    redisReply *ans = must_cmd(r, "REPLICAOF NO ONE");
    assert_string_equal(ans->str, "OK");
    freeReplyObject(ans);
    pair_done(p, r, &ps, &rs);
}

static void test_wait_noreplicas_and_directives(void **state) {
    (void)state;
    struct test_server ps, rs;
    assert_int_equal(server_start(&ps, NULL), 0);
    redisContext *p = client_connect(&ps);
    /* WAIT without replicas: 0 at once for 0, after the timeout otherwise */
    redisReply *w = must_cmd(p, "WAIT 0 0");
    assert_int_equal(w->integer, 0);
    freeReplyObject(w);
    long long t0 = (long long)time(NULL);
    w = must_cmd(p, "WAIT 1 300");
    assert_int_equal(w->type, REDIS_REPLY_INTEGER);
    assert_int_equal(w->integer, 0);
    freeReplyObject(w);
    assert_true((long long)time(NULL) - t0 < 5);
    expect_error_prefix(p, "ERR timeout is negative", "WAIT 1 -1");
    /* min-replicas-to-write */
    ok(p, "CONFIG SET min-replicas-to-write 1");
    expect_error_prefix(p, "NOREPLICAS Not enough good replicas to write.", "XADD s * a b");
    redisReply *len = must_cmd(p, "XLEN s"); /* reads are served */
    assert_int_equal(len->integer, 0);
    freeReplyObject(len);
    redisContext *r = replica_up(&rs, &ps, NULL);
    for (int i = 0; i < 100 && info_number(p, "replication", "min_slaves_good_slaves") < 1; i++)
        sleep_ms(20);
    ok(p, "XADD s * a b");
    wait_replica(p);
    redisReply *rl = must_cmd(r, "XLEN s");
    assert_int_equal(rl->integer, 1);
    freeReplyObject(rl);
    expect_error_prefix(r, "ERR WAIT cannot be used with replica instances", "WAIT 1 10");
    redisFree(r);
    server_cleanup(&rs); /* the replica goes: writes are refused again */
    for (int i = 0; i < 100 && info_number(p, "replication", "connected_slaves") > 0; i++)
        sleep_ms(20);
    expect_error_prefix(p, "NOREPLICAS", "XADD s * a b");
    ok(p, "CONFIG SET min-slaves-to-write 0"); /* Redis's older name */
    ok(p, "XADD s * a b");
    /* directives */
    redisReply *g = must_cmd(p, "CONFIG GET slave-read-only");
    assert_int_equal(g->elements, 2);
    assert_string_equal(g->element[1]->str, "yes");
    freeReplyObject(g);
    g = must_cmd(p, "CONFIG GET replicaof");
    assert_string_equal(g->element[1]->str, "");
    freeReplyObject(g);
    redisReply *e = must_cmd(p, "CONFIG SET replicaof %s", "127.0.0.1 1");
    assert_int_equal(e->type, REDIS_REPLY_ERROR); /* REPLICAOF sets it, as in Redis */
    freeReplyObject(e);
    expect_error_prefix(p, "ERR Invalid master port", "REPLICAOF 127.0.0.1 notaport");
    expect_error_prefix(p, "ERR Invalid master port", "REPLICAOF 127.0.0.1 70000");
    expect_error_prefix(p, "ERR Unrecognized REPLCONF option: foo", "REPLCONF foo bar");
    redisFree(p);
    server_cleanup(&ps);
}

/* min-replicas-to-write 1 under fsync always: a write's reply, and a read of what it wrote,
 * leave only once the replica acknowledged the write as durable. */
static void test_acknowledged_means_replicated(void **state) {
    (void)state;
    struct test_server ps, rs;
    redisContext *p;
    redisContext *r = pair_up(&ps, &rs, &p);
    ok(p, "XADD s 1-1 a b");
    wait_replica(p);
    ok(p, "CONFIG SET min-replicas-to-write 1");
    ok(p, "XADD s 2-1 a b"); /* the replica acknowledges: the reply comes */
    /* a frozen replica holds the reply back, and a read of the new entry too */
    kill(rs.pid, SIGSTOP);
    int fd = raw_connect(ps.port), rfd = raw_connect(ps.port);
    assert_true(fd >= 0 && rfd >= 0);
    raw_send_str(fd, "*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$3\r\n3-1\r\n$1\r\na\r\n$1\r\nb\r\n");
    sleep_ms(100);
    raw_send_str(rfd, "*4\r\n$6\r\nXRANGE\r\n$1\r\ns\r\n$3\r\n3-0\r\n$1\r\n+\r\n");
    size_t n;
    char *got = raw_read(fd, 1, 500, &n);
    assert_int_equal(n, 0); /* held */
    free(got);
    got = raw_read(rfd, 1, 200, &n);
    assert_int_equal(n, 0);
    free(got);
    kill(rs.pid, SIGCONT);
    got = raw_read(fd, strlen("$3\r\n3-1\r\n"), 5000, &n);
    assert_string_equal(got, "$3\r\n3-1\r\n");
    free(got);
    got = raw_read(rfd, 1, 5000, &n);
    assert_true(n > 0 && got[0] == '*');
    free(got);
    close(fd);
    close(rfd);
    redisReply *len = must_cmd(r, "XLEN s");
    assert_int_equal(len->integer, 3); /* acknowledged means the replica has it */
    freeReplyObject(len);
    /* switched on while a write is in flight: its reply comes once the replica has it, with
     * no later write needed */
    ok(p, "CONFIG SET min-replicas-to-write 0");
    ok(p, "DEBUG PERSIST-HOLD 1");
    fd = raw_connect(ps.port);
    raw_send_str(fd, "*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$3\r\n4-1\r\n$1\r\na\r\n$1\r\nb\r\n");
    sleep_ms(100);
    ok(p, "CONFIG SET min-replicas-to-write 1");
    sleep_ms(100);
    ok(p, "DEBUG PERSIST-HOLD 0");
    got = raw_read(fd, strlen("$3\r\n4-1\r\n"), 5000, &n);
    assert_string_equal(got, "$3\r\n4-1\r\n");
    free(got);
    close(fd);
    /* switched off, replies no longer wait */
    ok(p, "CONFIG SET min-replicas-to-write 0");
    kill(rs.pid, SIGSTOP);
    ok(p, "XADD s 5-1 a b");
    kill(rs.pid, SIGCONT);
    pair_done(p, r, &ps, &rs);
}

/* A replica's rounds, which no client waits for, run on its loop (persist_run_inline) and are
 * acknowledged in the same turn. Each write acknowledged under min-replicas-to-write is on the
 * replica's disk all the same: killed, then started alone on its directory, it has them all. */
static void test_replica_rounds_inline(void **state) {
    (void)state;
    struct test_server ps, rs;
    redisContext *p;
    redisContext *r = pair_up(&ps, &rs, &p);
    wait_replica(p);
    ok(p, "CONFIG SET min-replicas-to-write 1");
    long long before = info_number(r, "persistence", "batches_written_inline");
    for (int i = 1; i <= 200; i++) ok(p, "XADD s %d-1 f v", i);
    assert_true(info_number(r, "persistence", "batches_written_inline") - before >= 100);
    redisFree(r);
    server_kill(&rs);
    const char *alone[] = {NULL};
    assert_int_equal(server_start_argv(&rs, alone, 1), 0);
    r = client_connect(&rs);
    redisReply *len = must_cmd(r, "XLEN s");
    assert_int_equal(len->integer, 200);
    freeReplyObject(len);
    redisReply *last = must_cmd(r, "XREVRANGE s + - COUNT 1");
    assert_true(last->type == REDIS_REPLY_ARRAY && last->elements == 1);
    assert_string_equal(last->element[0]->element[0]->str, "200-1");
    freeReplyObject(last);
    pair_done(p, r, &ps, &rs);
}

/* Writes one entry (ID ms-1) to each of k0..k39 in one EXEC: one round of the primary's. */
static void exec_forty(redisContext *p, int ms) {
    char value[1001];
    memset(value, 'v', 1000);
    value[1000] = '\0';
    ok(p, "MULTI");
    for (int i = 0; i < 40; i++) {
        redisReply *q = must_cmd(p, "XADD k%d %d-1 f %s", i, ms, value);
        assert_string_equal(q->str, "QUEUED");
        freeReplyObject(q);
    }
    redisReply *ex = must_cmd(p, "EXEC");
    assert_int_equal(ex->type, REDIS_REPLY_ARRAY);
    assert_int_equal(ex->elements, 40);
    freeReplyObject(ex);
}

/* A replica takes all the stream its socket holds in one loop turn, so one round of the
 * primary's (one EXEC writing 40 topics, about 45 KiB of records) is one round here too:
 * libevent alone reads 4 KiB a turn, and each turn's records ended in a round of their own (11
 * rounds for this EXEC before the link read the rest itself). */
static void test_replica_reads_whole_stream(void **state) {
    (void)state;
    struct test_server ps, rs;
    redisContext *p;
    redisContext *r = pair_up(&ps, &rs, &p);
    wait_replica(p);
    exec_forty(p, 1); /* creates the topics (a round that creates files is not inline) */
    wait_replica(p);
    long long before = info_number(r, "persistence", "batches_written");
    exec_forty(p, 2);
    wait_replica(p);
    redisReply *len = must_cmd(r, "XLEN k39");
    assert_int_equal(len->integer, 2);
    freeReplyObject(len);
    long long rounds = info_number(r, "persistence", "batches_written") - before;
    assert_true(rounds >= 1 && rounds <= 3); /* the bytes may arrive in two or three pieces */
    pair_done(p, r, &ps, &rs);
}

/* A full sync never waits for replicas: a second replica that joins while the only online one
 * is frozen and a write's reply is held gets its snapshot at once (the +FULLRESYNC reply was
 * held behind that write, whose release needed a replica's acknowledgement: after a double
 * failover the new primary had only replicas that needed a full sync, and none ever got one),
 * and once the frozen one has left the in-sync set the new one's acknowledgement releases the
 * held write. */
static void test_full_sync_while_replies_wait(void **state) {
    (void)state;
    struct test_server ps, rs, rs2;
    redisContext *p;
    redisContext *r = pair_up(&ps, &rs, &p);
    ok(p, "XADD s 1-1 a b");
    wait_replica(p);
    ok(p, "CONFIG SET min-replicas-to-write 1 min-replicas-max-lag 2");
    kill(rs.pid, SIGSTOP);
    int fd = raw_connect(ps.port);
    assert_true(fd >= 0);
    raw_send_str(fd, "*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$3\r\n2-1\r\n$1\r\na\r\n$1\r\nb\r\n");
    size_t n;
    char *got = raw_read(fd, 1, 300, &n);
    assert_int_equal(n, 0); /* held: the only replica is frozen */
    free(got);
    redisContext *r2 = replica_up(&rs2, &ps, NULL);
    /* released by the new replica once the frozen one left the in-sync set */
    got = raw_read(fd, strlen("$3\r\n2-1\r\n"), 6000, &n);
    assert_string_equal(got, "$3\r\n2-1\r\n");
    free(got);
    close(fd);
    redisReply *len = must_cmd(r2, "XLEN s");
    assert_int_equal(len->integer, 2);
    freeReplyObject(len);
    kill(rs.pid, SIGCONT);
    redisFree(r2);
    server_cleanup(&rs2);
    pair_done(p, r, &ps, &rs);
}

/* With min-replicas-to-write 1 and two replicas, a reply waits for every in-sync replica, not
 * only the fastest: Sentinel may promote either one. A frozen replica holds replies until it
 * leaves the in-sync set (min-replicas-max-lag seconds without an acknowledgement), and joins
 * it again once it has caught up. */
static void test_every_in_sync_replica_acknowledges(void **state) {
    (void)state;
    struct test_server ps, rs, rs2;
    redisContext *p;
    redisContext *r = pair_up(&ps, &rs, &p);
    redisContext *r2 = replica_up(&rs2, &ps, NULL);
    ok(p, "XADD s 1-1 a b");
    redisReply *w = must_cmd(p, "WAIT 2 4000");
    assert_int_equal(w->integer, 2);
    freeReplyObject(w);
    ok(p, "CONFIG SET min-replicas-to-write 1 min-replicas-max-lag 2");
    kill(rs2.pid, SIGSTOP);
    int fd = raw_connect(ps.port);
    assert_true(fd >= 0);
    raw_send_str(fd, "*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$3\r\n2-1\r\n$1\r\na\r\n$1\r\nb\r\n");
    size_t n;
    char *got = raw_read(fd, 1, 500, &n);
    assert_int_equal(n, 0); /* the running replica acknowledged it; the frozen one did not */
    free(got);
    got = raw_read(fd, strlen("$3\r\n2-1\r\n"), 6000, &n);
    assert_string_equal(got, "$3\r\n2-1\r\n"); /* the frozen one left the set */
    free(got);
    close(fd);
    redisReply *len = must_cmd(r, "XLEN s");
    assert_int_equal(len->integer, 2);
    freeReplyObject(len);
    ok(p, "XADD s 3-1 a b"); /* one in-sync replica is enough */
    kill(rs2.pid, SIGCONT);
    w = must_cmd(p, "WAIT 2 5000");
    assert_int_equal(w->integer, 2); /* caught up */
    freeReplyObject(w);
    ok(p, "XADD s 4-1 a b");
    len = must_cmd(r2, "XLEN s");
    assert_int_equal(len->integer, 4); /* in the set again: the reply waited for it too */
    freeReplyObject(len);
    redisFree(r2);
    server_cleanup(&rs2);
    pair_done(p, r, &ps, &rs);
}

/* A former primary that follows the promoted replica loses, with its full sync, the entries
 * the new primary never had, and logs exactly which, key by key. */
static void test_former_primary_logs_what_it_drops(void **state) {
    (void)state;
    struct test_server ps, rs;
    assert_int_equal(server_start(&ps, NULL), 0);
    redisContext *p = client_connect(&ps);
    redisContext *r = replica_up(&rs, &ps, NULL);
    ok(p, "XADD k 1-1 a b");
    ok(p, "XADD k 2-1 a b");
    ok(p, "XADD k 3-1 a b");
    wait_replica(p);
    ok(r, "REPLICAOF NO ONE"); /* the replica is promoted; the old primary goes on alone */
    ok(p, "XADD k 4-1 a b");
    ok(p, "XADD k 5-1 a b");
    ok(p, "XADD only-here 1-1 a b");
    ok(r, "XADD k 10-1 new history");
    ok(p, "REPLICAOF 127.0.0.1 %d", rs.port);
    wait_link_up(p);
    assert_true(server_log_contains(&ps, "Full sync drops 2 entries of db0 key 'k' that the master "
                                         "does not have: IDs 4-1 to 5-1 (the histories part "
                                         "after ID 3-1)"));
    assert_true(server_log_contains(&ps, "Full sync drops 1 entries of db0 key 'only-here' that "
                                         "the master does not have: IDs 1-1 to 1-1 (the master "
                                         "does not have the key)"));
    assert_true(server_log_contains(&ps, "Full sync drops 3 entries in 2 keys in all"));
    redisReply *range = must_cmd(p, "XRANGE k - +");
    assert_int_equal(range->elements, 4);
    assert_string_equal(range->element[3]->element[0]->str, "10-1");
    freeReplyObject(range);
    redisReply *e = must_cmd(p, "EXISTS only-here");
    assert_int_equal(e->integer, 0);
    freeReplyObject(e);
    pair_done(p, r, &ps, &rs);
}

/* A replica whose offset left the backlog while it was away gets a full sync. */
static void test_too_far_behind(void **state) {
    (void)state;
    struct test_server ps, rs;
    assert_int_equal(server_start(&ps, "--repl-backlog-size", "16kb", NULL), 0);
    redisContext *p = client_connect(&ps);
    redisContext *r = replica_up(&rs, &ps, NULL);
    workload(p, 0);
    wait_replica(p);
    redisFree(r);
    assert_int_equal(server_stop(&rs), 0); /* a clean stop: it comes back asking to continue */
    char big[201];
    memset(big, 'x', 200);
    big[200] = '\0';
    for (int i = 0; i < 500; i++) redisAppendCommand(p, "XADD away * v %s", big);
    for (int i = 0; i < 500; i++) { /* about 100 KB of stream: the backlog keeps 16 KiB */
        redisReply *x;
        assert_int_equal(redisGetReply(p, (void **)&x), REDIS_OK);
        assert_int_equal(x->type, REDIS_REPLY_STRING);
        freeReplyObject(x);
    }
    r = replica_up(&rs, &ps, "reuse");
    wait_replica(p);
    assert_true(server_log_contains(&rs, "kept from the last run"));
    assert_int_equal(info_number(p, "stats", "sync_partial_err"), 1);
    assert_int_equal(info_number(p, "stats", "sync_full"), 2);
    assert_int_equal(info_number(p, "replication", "repl_backlog_histlen"), 16384);
    assert_same_data(p, r);
    pair_done(p, r, &ps, &rs);
}

static long long int_of(redisContext *c, const char *fmt, const char *key) {
    redisReply *r = must_cmd(c, fmt, key);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* Expiry times travel with the full sync and the stream; a replica hides a key whose time has
 * come but deletes it only when the primary's deletion arrives (a stopped primary shows it). */
static void test_expiry_replicated(void **state) {
    (void)state;
    struct test_server ps, rs;
    assert_int_equal(server_start(&ps, "--repl-ping-replica-period", "1", NULL), 0);
    redisContext *p = client_connect(&ps);
    ok(p, "XADD e1 1-1 a 1");
    assert_int_equal(int_of(p, "PEXPIREAT %s 4102444800123", "e1"), 1);
    redisContext *r = replica_up(&rs, &ps, NULL);
    wait_replica(p);
    assert_int_equal(int_of(r, "PEXPIRETIME %s", "e1"), 4102444800123); /* by the full sync */
    ok(p, "XADD e2 1-1 a 1");
    assert_int_equal(int_of(p, "PEXPIREAT %s 4102444800456", "e2"), 1);
    wait_replica(p);
    assert_int_equal(int_of(r, "PEXPIRETIME %s", "e2"), 4102444800456); /* streamed */
    assert_int_equal(int_of(p, "PERSIST %s", "e2"), 1);
    wait_replica(p);
    assert_int_equal(int_of(r, "TTL %s", "e2"), -1);
    expect_error_prefix(r, "READONLY", "EXPIRE e2 10");
    /* the primary stopped: the replica hides the due key but keeps it */
    assert_int_equal(int_of(p, "PEXPIRE %s 400", "e2"), 1);
    wait_replica(p);
    assert_int_equal(kill(ps.pid, SIGSTOP), 0);
    sleep_ms(600);
    assert_int_equal(int_of(r, "EXISTS %s", "e2"), 0);
    assert_int_equal(int_of(r, "TTL %s", "e2"), -2);
    assert_int_equal(int_of(r, "DBSIZE%s", ""), 2);
    assert_int_equal(kill(ps.pid, SIGCONT), 0);
    long long n = 2;
    for (int i = 0; i < 200 && n != 1; i++) {
        sleep_ms(20);
        n = int_of(r, "DBSIZE%s", "");
    }
    assert_int_equal(n, 1); /* the primary's deletion arrived */
    assert_same_data(p, r);
    /* a dead-letter policy travels with its group, and a dead letter with its stream */
    ok(p, "XGROUP CREATE e1 g 0 MAXDELIVERIES 1 DEADLETTER e1:dead");
    ok(p, "XREADGROUP GROUP g c STREAMS e1 >");
    ok(p, "XCLAIM e1 g c2 0 1-1");
    wait_replica(p);
    redisReply *lag = must_cmd(r, "XLAG e1 g");
    assert_int_equal(lag->element[0]->element[13]->integer, 1);
    assert_string_equal(lag->element[0]->element[15]->str, "e1:dead");
    freeReplyObject(lag);
    assert_int_equal(int_of(r, "XLEN %s", "e1:dead"), 1);
    /* idempotent-producer ids too: the promoted replica answers a retry with the first ID */
    redisReply *first = must_cmd(p, "XADD e1 IDMP prod req-7 * f v");
    assert_int_equal(first->type, REDIS_REPLY_STRING);
    wait_replica(p);
    assert_same_data(p, r);
    ok(r, "REPLICAOF NO ONE");
    redisReply *retry = must_cmd(r, "XADD e1 IDMP prod req-7 * f other");
    assert_string_equal(retry->str, first->str);
    freeReplyObject(retry);
    freeReplyObject(first);
    pair_done(p, r, &ps, &rs);
}

/* A primary whose replicas must log in as an ACL user allowed only what replication sends
 * (PING, REPLCONF, PSYNC): the replica's masteruser and masterauth bring its link up, and a
 * replica with the wrong password never gets one. */
static void test_replication_user(void **state) {
    (void)state;
    struct test_server ps, rs, bad;
    assert_int_equal(server_start(&ps, "--requirepass", "adminpw", "--user",
                                  "repl on >rp -@all +ping +psync +replconf", NULL),
                     0);
    redisContext *p = client_connect(&ps);
    ok(p, "AUTH adminpw");
    ok(p, "XADD s 1-1 f v");
    char port[16];
    snprintf(port, sizeof port, "%d", ps.port);
    const char *args[] = {"--replicaof", "127.0.0.1",
                          port,          "--masteruser",
                          "repl",        "--masterauth",
                          "rp",          "--repl-ping-replica-period",
                          "1",           NULL};
    assert_int_equal(server_start_argv(&rs, args, 0), 0);
    redisContext *r = client_connect(&rs);
    wait_link_up(r);
    ok(p, "XADD s 2-1 f v");
    wait_replica(p);
    redisReply *x = must_cmd(r, "XLEN s");
    assert_int_equal(x->integer, 2);
    freeReplyObject(x);
    const char *bad_args[] = {"--replicaof", "127.0.0.1",    port,    "--masteruser",
                              "repl",        "--masterauth", "wrong", NULL};
    assert_int_equal(server_start_argv(&bad, bad_args, 0), 0);
    redisContext *b = client_connect(&bad);
    sleep_ms(1500);
    char *status = info_field(b, "replication", "master_link_status");
    assert_string_equal(status, "down");
    free(status);
    redisFree(b);
    server_cleanup(&bad);
    pair_done(p, r, &ps, &rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_stream_and_roles),
        cmocka_unit_test(test_continue_restart_and_promotion),
        cmocka_unit_test(test_wait_noreplicas_and_directives),
        cmocka_unit_test(test_acknowledged_means_replicated),
        cmocka_unit_test(test_replica_rounds_inline),
        cmocka_unit_test(test_replica_reads_whole_stream),
        cmocka_unit_test(test_full_sync_while_replies_wait),
        cmocka_unit_test(test_every_in_sync_replica_acknowledges),
        cmocka_unit_test(test_former_primary_logs_what_it_drops),
        cmocka_unit_test(test_too_far_behind),
        cmocka_unit_test(test_expiry_replicated),
        cmocka_unit_test(test_replication_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
