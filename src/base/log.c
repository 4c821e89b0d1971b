/* log.c - Redis-style log lines to stdout or a file.
 *
 * Each line is written with one write() so lines from the main and the persist thread never
 * interleave; the level and destination are set once at start-up (and on CONFIG SET loglevel)
 * by the main thread and only read by others. */
#include "base/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_min_level = LOG_NOTICE;
static int log_fd = STDOUT_FILENO;
static char log_path[4096];
static _Thread_local char log_role = 'M';

int log_setup(int level, const char *path) {
    log_min_level = level;
    if (path == NULL || path[0] == '\0') {
        if (log_fd != STDOUT_FILENO) close(log_fd);
        log_fd = STDOUT_FILENO;
        log_path[0] = '\0';
        return 0;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (log_fd != STDOUT_FILENO) close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s", path);
    return 0;
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
