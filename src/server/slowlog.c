/* slowlog.c - the slow log's storage (see slowlog.h).
 *
 * Design: a singly linked list, newest first, with a count; pushing adds at the head and trims
 * the tail, so an entry costs one allocation for the entry and one per kept argument, made only
 * for commands that are actually logged. Ids grow from 0 and are never reused, even after
 * SLOWLOG RESET, as in Redis. Main thread only. */
#include "server/slowlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct slowlog_entry *head;
static long long count, next_id;

void slowlog_entry_free(struct slowlog_entry *e) {
    if (!e) return;
    for (int i = 0; i < e->argc; i++) free(e->argv[i]);
    free(e->argv);
    free(e->argvlen);
    free(e->peer);
    free(e->name);
    free(e);
}

struct slowlog_entry *slowlog_entry_new(int argc, char *const *argv, const size_t *argvlen,
                                        const unsigned char *redact) {
    struct slowlog_entry *e = calloc(1, sizeof(*e));
    int n = argc > SLOWLOG_ENTRY_MAX_ARGC ? SLOWLOG_ENTRY_MAX_ARGC : argc;
    if (!e) return NULL;
    e->argv = calloc((size_t)n, sizeof(char *));
    e->argvlen = calloc((size_t)n, sizeof(size_t));
    if (!e->argv || !e->argvlen) goto fail;
    for (int i = 0; i < n; i++) {
        char buf[64];
        const char *p = argv[i];
        size_t len = argvlen[i], extra = 0;
        if (n != argc && i == n - 1) { /* the last slot says how many more there were */
            len = (size_t)snprintf(buf, sizeof(buf), "... (%d more arguments)", argc - n + 1);
            p = buf;
        } else if (redact && redact[i]) {
            p = "(redacted)";
            len = 10;
        } else if (len > SLOWLOG_ENTRY_MAX_STRING) {
            extra = (size_t)snprintf(buf, sizeof(buf), "... (%zu more bytes)",
                                     len - SLOWLOG_ENTRY_MAX_STRING);
            len = SLOWLOG_ENTRY_MAX_STRING;
        }
        if (!(e->argv[i] = malloc(len + extra + 1))) goto fail;
        memcpy(e->argv[i], p, len);
        memcpy(e->argv[i] + len, buf, extra);
        e->argv[i][len + extra] = '\0';
        e->argvlen[i] = len + extra;
        e->argc = i + 1;
    }
    return e;
fail:
    slowlog_entry_free(e);
    return NULL;
}

void slowlog_trim(long long max_len) {
    if (count <= max_len) return;
    struct slowlog_entry **link = &head;
    for (long long i = 0; i < max_len && *link; i++) link = &(*link)->next;
    struct slowlog_entry *rest = *link;
    *link = NULL;
    while (rest) {
        struct slowlog_entry *next = rest->next;
        slowlog_entry_free(rest);
        rest = next;
        count--;
    }
}

void slowlog_push(struct slowlog_entry *e, long long duration_us, const char *peer,
                  const char *name, long long max_len) {
    e->peer = strdup(peer ? peer : "");
    e->name = strdup(name ? name : "");
    if (!e->peer || !e->name) {
        slowlog_entry_free(e);
        return;
    }
    e->id = next_id++;
    e->time = (long long)time(NULL);
    e->duration = duration_us;
    e->next = head;
    head = e;
    count++;
    slowlog_trim(max_len);
}

const struct slowlog_entry *slowlog_first(void) {
    return head;
}

long long slowlog_len(void) {
    return count;
}

void slowlog_reset(void) {
    slowlog_trim(0);
}
