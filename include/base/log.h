/* log.h - log lines in Redis's format: "pid:R dd Mon yyyy hh:mm:ss.mmm * message". */
#ifndef OBK_LOG_H
#define OBK_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3 };

/* Sets the minimum level and the destination ("" or NULL = standard output). Returns 0, or -1
 * when the file cannot be opened (the previous destination stays). */
int log_setup(int level, const char *path);
/* The role letter in each line: 'M' for the main thread, 'P' for the persist thread, 'C' for a
 * child tool. Per thread. */
void log_set_role(char role);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reopens the log file (after rotation). */
void log_reopen(void);

#endif
