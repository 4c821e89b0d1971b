/* storage_bench.c - storage engine benchmark (not a test): appends per second under each fsync
 * policy and group-commit size, bytes per entry on disk, and reopen time (clean, unclean from
 * the checkpoint, unclean without a checkpoint) for a large topic.
 *
 *   storage_bench [--dir D] [--entries N] [--value-size B] [--append-secs S]
 *
 * Entries have one field ("field") and a B-byte value (16 by default), IDs one millisecond
 * apart. Under fsync=always each group waits for its completion (held replies); under
 * everysec/no the driver only flushes, as the server does not hold replies then. The directory
 * is created (mkdtemp under $TMPDIR when not given) and removed at the
 * end. Prints one line per figure. Single-threaded driver + the store's persist thread. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/status.h"
#include "base/util.h"
#include "storage/recovery.h"
#include "storage/store.h"

static char dir[512];
static uint64_t value_size = 16;

static void die(const char *what, int rc) {
    fprintf(stderr, "storage_bench: %s: %s\n", what, obk_strerror(rc));
    exit(1);
}

static void wait_all(struct store *s) {
    uint64_t want = store_pending_seq(s) - 1, durable = 0;
    int err = 0;
    while (durable < want) {
        struct pollfd p = {store_eventfd(s), POLLIN, 0};
        poll(&p, 1, 100);
        store_poll(s, &durable, &err);
        if (err) die("persist", err);
    }
}

static struct store *open_store(int fsync, struct store_open_report *rep) {
    struct store_config c;
    store_config_defaults(&c);
    c.dir = dir;
    c.fsync = fsync;
    c.cache_max_bytes = 64u << 20;
    struct store *s;
    int rc = store_open(&c, &s, rep);
    if (rc != OBK_OK) die("open", rc);
    return s;
}

/* Appends n entries to key, group committing every `group` entries (as `group` concurrent
 * clients would share one fsync). Returns seconds. */
static double run_appends(struct store *s, const char *key, uint64_t n, uint64_t group, int wait,
                          double max_secs, uint64_t *done) {
    struct topic *t = store_lookup(s, 0, key, strlen(key));
    if (!t) {
        int rc = store_create(s, 0, key, strlen(key), &t);
        if (rc != OBK_OK) die("create", rc);
    }
    char *val = malloc(value_size);
    memset(val, 'v', value_size);
    const uint8_t *fv[2] = {(const uint8_t *)"field", (const uint8_t *)val};
    size_t fl[2] = {5, value_size};
    long long t0 = util_monotonic_us();
    uint64_t base = topic_last_id(t).ms + 1, i;
    for (i = 0; i < n; i++) {
        char num[24];
        snprintf(num, sizeof num, "%016" PRIu64, (uint64_t)(i % 10000000000000000ull));
        memcpy(val, num, 16); /* the first 16 bytes count up, the rest stay 'v' */
        int rc = topic_append(t, (sid_t){base + i, 0}, 1, fv, fl);
        if (rc == OBK_ERR_AGAIN) { /* cache full of unwritten entries: let the writer catch up */
            store_flush(s, 1);
            wait_all(s);
            rc = topic_append(t, (sid_t){base + i, 0}, 1, fv, fl);
        }
        if (rc != OBK_OK) die("append", rc);
        if ((i + 1) % group == 0) {
            store_flush(s, 1);
            if (wait) wait_all(s); /* fsync always: the reply waits for the fsync */
            if (max_secs > 0 && (util_monotonic_us() - t0) / 1e6 > max_secs) {
                i++;
                break;
            }
        }
    }
    store_flush(s, 1);
    wait_all(s);
    free(val);
    *done = i;
    return (util_monotonic_us() - t0) / 1e6;
}

static uint64_t dir_bytes(const char *key) {
    char p[800];
    snprintf(p, sizeof p, "%s/db0/t_", dir);
    for (const char *k = key; *k; k++) snprintf(p + strlen(p), 3, "%02x", (unsigned char)*k);
    DIR *d = opendir(p);
    uint64_t total = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".log")) {
            char f[1200];
            snprintf(f, sizeof f, "%s/%s", p, de->d_name);
            FILE *fp = fopen(f, "rb");
            fseek(fp, 0, SEEK_END);
            total += (uint64_t)ftell(fp);
            fclose(fp);
        }
    }
    if (d) closedir(d);
    return total;
}

static double reopen_secs(struct store_open_report *rep) {
    long long t0 = util_monotonic_us();
    struct store *s = open_store(PERSIST_FSYNC_NO, rep);
    double secs = (util_monotonic_us() - t0) / 1e6;
    store_close(s);
    return secs;
}

int main(int argc, char **argv) {
    uint64_t entries = 10000000;
    double append_secs = 3;
    const char *given = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir")) given = argv[i + 1];
        if (!strcmp(argv[i], "--entries")) entries = strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--value-size")) value_size = strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--append-secs")) append_secs = atof(argv[i + 1]);
    }
    if (value_size < 16) value_size = 16;
    if (given) {
        snprintf(dir, sizeof dir, "%s", given);
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/obk_bench_XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) die("mkdtemp", OBK_ERR_IO);
    }
    struct store_open_report rep;
    struct store *s;
    uint64_t done;
    double secs;
    const char *names[] = {"always", "everysec", "no"};
    uint64_t groups[] = {1, 10, 100};
    for (int pol = 0; pol < 3; pol++) {
        for (int g = 0; g < 3; g++) {
            char key[32];
            snprintf(key, sizeof key, "k_%s_%" PRIu64, names[pol], groups[g]);
            s = open_store(pol, &rep);
            secs = run_appends(s, key, UINT64_MAX / 2, groups[g], pol == PERSIST_FSYNC_ALWAYS,
                               append_secs, &done);
            struct store_stats st;
            store_stats(s, &st);
            printf("append fsync=%-8s group=%-4" PRIu64 " %10.0f entries/s  (%" PRIu64
                   " entries, %" PRIu64 " fsyncs, mean fsync %.3f ms)\n",
                   names[pol], groups[g], done / secs, done, st.persist.fsyncs,
                   st.persist.fsyncs ? st.persist.fsync_us_total / 1e3 / st.persist.fsyncs : 0.0);
            store_close(s);
        }
    }
    /* the big topic: loaded with fsync=no and group commits of 1000 */
    s = open_store(PERSIST_FSYNC_NO, &rep);
    secs = run_appends(s, "big", entries, 1000, 0, 0, &done);
    printf("load %" PRIu64 " entries: %.2f s (%.0f entries/s, fsync=no, group 1000)\n", done, secs,
           done / secs);
    store_close(s);
    uint64_t bytes = dir_bytes("big");
    printf("disk: %" PRIu64 " bytes in segments, %.2f bytes/entry (field \"field\", %" PRIu64
           "-byte value)\n",
           bytes, (double)bytes / done, value_size);
    secs = reopen_secs(&rep);
    printf("reopen clean: %.3f s (%" PRIu64 " segments)\n", secs, rep.segments);
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, STORE_CLEAN_NAME);
    unlink(p);
    secs = reopen_secs(&rep);
    printf("reopen unclean (scan from checkpoint): %.3f s\n", secs);
    unlink(p);
    snprintf(p, sizeof p, "%s/db0/t_626967/%s", dir, CHECKPOINT_NAME);
    unlink(p);
    secs = reopen_secs(&rep);
    printf("reopen unclean without checkpoint (full scan): %.3f s\n", secs);
    secs = reopen_secs(&rep);
    printf("reopen clean again: %.3f s\n", secs);
    if (!given) {
        snprintf(p, sizeof p, "rm -rf '%s'", dir);
        if (system(p) != 0) fprintf(stderr, "storage_bench: could not remove %s\n", dir);
    }
    return 0;
}
