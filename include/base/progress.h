/* progress.h - progress of long work for the command-line tools (obelisk-backup,
 * obelisk-check): a bar redrawn in place on a terminal, a plain line otherwise (for logs), on
 * stderr, so the tools' reports on stdout stay as they are. */
#ifndef OBK_PROGRESS_H
#define OBK_PROGRESS_H

#include <stdio.h>

struct progress {
    const char *tool; /* names the plain lines: "obelisk-check: 40% ..." */
    const char *what; /* the items counted beside the bytes: "files", "topics" */
    int tty;          /* draw a bar (stderr is a terminal) */
    long long start_ms, last_ms;
    int drawn; /* something was printed: the final report closes it */
};

/* Starts the clock; tty from isatty(2). */
void progress_init(struct progress *p, const char *tool, const char *what);
/* Reports bytes done of total and items done of items_total: a bar at most every 200 ms on a
 * terminal, a line at most once a second otherwise (so work shorter than that prints nothing
 * until progress_done). */
void progress_update(struct progress *p, long long done, long long total, long long items,
                     long long items_total);
/* The last report: on a terminal always, otherwise only if an earlier one was printed or
 * force is set. */
void progress_done(struct progress *p, long long done, long long total, long long items,
                   long long items_total, int force);

#endif
