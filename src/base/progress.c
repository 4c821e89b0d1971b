/* progress.c - progress reports of the command-line tools (see progress.h).
 *
 * Design: the caller says how far it is; this file decides whether to print (rate-limited) and
 * how: rate from the start, ETA from the rate, units of 1000. Used by one thread of a tool. */
#include "base/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

static void human(double bytes, char *out, size_t n) {
    const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) bytes /= 1000, u++;
    snprintf(out, n, "%.1f %s", bytes, units[u]);
}

static void print(struct progress *p, long long done, long long total, long long items,
                  long long items_total, int final) {
    char d[32], t[32], rate[32];
    double secs = (double)(util_mstime() - p->start_ms) / 1000.0;
    double r = secs > 0 ? (double)done / secs : 0;
    human((double)done, d, sizeof d);
    human((double)total, t, sizeof t);
    human(r, rate, sizeof rate);
    int pct = total > 0 ? (int)(100.0 * (double)done / (double)total) : 100;
    long long eta = r > 0 && total > done ? (long long)((double)(total - done) / r) : 0;
    if (p->tty) {
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : ' ';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %3d%% %s / %s  %s/s  %s %lld/%lld  ETA %llds   ", bar, pct, d, t,
                rate, p->what, items, items_total, eta);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %d%% %s of %s, %s/s, %s %lld of %lld, ETA %llds\n", p->tool, pct, d, t,
                rate, p->what, items, items_total, eta);
    }
    p->drawn = 1;
}

void progress_init(struct progress *p, const char *tool, const char *what) {
    memset(p, 0, sizeof *p);
    p->tool = tool;
    p->what = what;
    p->tty = isatty(2);
    p->start_ms = p->last_ms = util_mstime();
}

void progress_update(struct progress *p, long long done, long long total, long long items,
                     long long items_total) {
    long long now = util_mstime();
    if (now - p->last_ms < (p->tty ? 200 : 1000)) return;
    p->last_ms = now;
    print(p, done, total, items, items_total, 0);
}

void progress_done(struct progress *p, long long done, long long total, long long items,
                   long long items_total, int force) {
    /* on a terminal the last bar is always drawn: a summary even of quick work */
    if (p->drawn || force || p->tty) print(p, done, total, items, items_total, 1);
}
