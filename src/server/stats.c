/* stats.c - the server's counters (see stats.h). Main thread only. */
#include "server/stats.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

struct server_stats server_stats;

void stats_count_error(const char *msg, size_t len) {
    struct server_stats *s = &server_stats;
    size_t n = 0;
    while (n < len && msg[n] != ' ' && n < sizeof(s->errors[0].code) - 1) n++;
    s->error_replies++;
    for (int i = 0; i < s->nerrors; i++) {
        if (strlen(s->errors[i].code) == n && !memcmp(s->errors[i].code, msg, n)) {
            s->errors[i].count++;
            return;
        }
    }
    if (s->nerrors == ERRORSTATS_MAX) return;
    memcpy(s->errors[s->nerrors].code, msg, n);
    s->errors[s->nerrors].code[n] = '\0';
    s->errors[s->nerrors].count = 1;
    s->nerrors++;
}

void stats_reset(void) {
    memset(&server_stats, 0, sizeof(server_stats));
    server_stats.ops_sample_last_ms = util_mstime();
}

void stats_sample(long long now_ms) {
    struct server_stats *s = &server_stats;
    if (now_ms - s->ops_sample_last_ms < 1000) return;
    long long dt = now_ms - s->ops_sample_last_ms;
    s->ops_per_sec = (s->commands_processed - s->ops_sample_last_count) * 1000 / (dt ? dt : 1);
    s->ops_sample_last_count = s->commands_processed;
    s->ops_sample_last_ms = now_ms;
}

/* jemalloc's control interface when the program is linked with it (the server and the checker
 * are: Makefile, MALLOC_LIBS), else NULL (the tests and the sanitizer builds use glibc's). */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

const char *stats_allocator(void) {
    static char name[48];
    const char *version = NULL;
    size_t len = sizeof version;
    if (!mallctl) return "libc";
    if (!name[0]) {
        if (mallctl("version", &version, &len, NULL, 0) != 0 || !version) version = "?";
        /* "5.3.0-0-g54eaed1..." is reported as Redis does: jemalloc-5.3.0 */
        snprintf(name, sizeof name, "jemalloc-%.*s", (int)strcspn(version, "-"), version);
    }
    return name;
}

static long long allocated_bytes(void) {
    if (mallctl) {
        uint64_t epoch = 1;
        size_t len = sizeof epoch, allocated = 0, alen = sizeof allocated;
        mallctl("epoch", &epoch, &len, &epoch, len); /* refresh the statistics */
        if (mallctl("stats.allocated", &allocated, &alen, NULL, 0) == 0)
            return (long long)allocated;
    }
    struct mallinfo2 mi = mallinfo2();
    return (long long)(mi.uordblks + mi.hblkhd);
}

long long stats_used_memory(void) {
    long long used = allocated_bytes();
    if (used > server_stats.peak_memory) server_stats.peak_memory = used;
    return used;
}

long long stats_rss_memory(void) {
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}
