/* log.c - Redis-style log lines to stdout or a file.
 *
 * Each line is written with one write() so lines from the main and the persist thread never
 * interleave. The level and destination are set at start-up and on CONFIG SET (main thread)
 * while other threads may be logging: the destination is one descriptor number that never
 * changes once set up, and a new file is swapped in behind it with dup3(), which the kernel
 * does atomically, so another thread's write() goes to the old file or the new one, never to a
 * closed descriptor whose number a data file may already reuse. Level and descriptor are
 * atomics. */
#include "base/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_min_level = LOG_NOTICE;
static _Atomic int log_fd = STDOUT_FILENO; /* our own copy once log_setup ran */
static char log_path[4096];
static _Thread_local char log_role = 'M';

/* Points our descriptor at fd's file (dup3 swaps it atomically). Returns 0 or -1. */
static int swap_destination(int fd) {
    int cur = log_fd;
    if (cur == STDOUT_FILENO) { /* first call, before other threads: take our own number */
        int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (own < 0) return -1;
        log_fd = own;
        return 0;
    }
    return cur == fd || dup3(fd, cur, O_CLOEXEC) >= 0 ? 0 : -1;
}

int log_setup(int level, const char *path) {
    int rc = 0;
    if (path == NULL || path[0] == '\0') {
        rc = swap_destination(STDOUT_FILENO);
        if (rc == 0) log_path[0] = '\0';
    } else {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return -1;
        rc = swap_destination(fd);
        close(fd);
        if (rc == 0) snprintf(log_path, sizeof(log_path), "%s", path);
    }
    if (rc == 0) log_min_level = level;
    return rc;
}

void log_reopen(void) {
    char path[sizeof(log_path)];
    memcpy(path, log_path, sizeof(path));
    if (path[0]) log_setup(log_min_level, path);
}

void log_set_role(char role) {
    log_role = role;
}

void log_msg(int level, const char *fmt, ...) {
    static const char marks[] = ".-*#";
    char line[8192];
    struct timeval tv;
    struct tm tm;
    if (level < log_min_level) return;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%d:%c ", (int)getpid(), log_role);
    n += (int)strftime(line + n, sizeof(line) - (size_t)n, "%d %b %Y %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03d %c ", (int)(tv.tv_usec / 1000),
                  marks[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}
