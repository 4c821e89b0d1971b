/* slowlog.h - the slow log (SLOWLOG): the most recent commands whose execution took at least
 * slowlog-log-slower-than microseconds, newest first, at most slowlog-max-len of them, each
 * with Redis's fields (id, unix time, microseconds, arguments, client address, client name).
 * Arguments are kept as Redis keeps them: at most 32 (the last one says how many more there
 * were), each cut at 128 bytes with a note of how many more bytes it had. command.c decides
 * what is logged; this module only stores. Main thread only. */
#ifndef OBK_SLOWLOG_H
#define OBK_SLOWLOG_H

#include <stddef.h>

#define SLOWLOG_ENTRY_MAX_ARGC   32
#define SLOWLOG_ENTRY_MAX_STRING 128

struct slowlog_entry {
    long long id;
    long long time;     /* unix seconds when it was logged */
    long long duration; /* microseconds */
    int argc;
    char **argv; /* each NUL-terminated, argvlen[i] bytes */
    size_t *argvlen;
    char *peer; /* client address "ip:port" */
    char *name; /* client name, "" when none */
    struct slowlog_entry *next;
};

/* A copy of a command's arguments, cut as the slow log keeps them; NULL when out of memory.
 * Arguments at positions where redact[i] is set are replaced by "(redacted)" (redact may be
 * NULL). */
struct slowlog_entry *slowlog_entry_new(int argc, char *const *argv, const size_t *argvlen,
                                        const unsigned char *redact);
void slowlog_entry_free(struct slowlog_entry *e);
/* Logs e (ownership passes) with the given duration and client, then drops the oldest entries
 * beyond max_len. */
void slowlog_push(struct slowlog_entry *e, long long duration_us, const char *peer,
                  const char *name, long long max_len);
/* Entries, newest first. */
const struct slowlog_entry *slowlog_first(void);
long long slowlog_len(void);
/* SLOWLOG RESET: forgets every entry (ids keep counting, as in Redis). */
void slowlog_reset(void);
/* Drops the oldest entries beyond max_len (CONFIG SET slowlog-max-len). */
void slowlog_trim(long long max_len);

#endif
