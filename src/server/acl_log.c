/* acl_log.c - the ACL LOG (see acl_log.h): the last acllog-max-len refusals, newest at the end
 * of one array, a like refusal within 60 s counted on its entry and moved to the newest place,
 * as Redis 7.0 keeps its log.
 *
 * Thread: main thread only. */
#include "server/acl_log.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "server/config.h"

#define ACL_LOG_GROUP_MS 60000

static struct acl_log_entry *log_entries; /* oldest first */
static int nlog;

static void log_entry_free(struct acl_log_entry *e) {
    free(e->object);
    free(e->username);
    free(e->client_info);
}

const char *acl_log_reason_name(int reason) {
    static const char *const names[] = {"auth", "command", "key", "channel"};
    return reason >= 0 && reason < 4 ? names[reason] : "";
}

const char *acl_log_context_name(int context) {
    return context == ACL_LOG_MULTI ? "multi" : "toplevel";
}

void acl_log_add(int reason, int context, const char *object, size_t olen, const char *user,
                 size_t ulen, const char *client_info) {
    long long now = util_mstime();
    for (int i = nlog - 1; i >= 0; i--) {
        struct acl_log_entry *e = &log_entries[i];
        if (now - e->ctime_ms > ACL_LOG_GROUP_MS) break;
        if (e->reason == reason && e->context == context && strlen(e->object) == olen &&
            !memcmp(e->object, object, olen) && strlen(e->username) == ulen &&
            !memcmp(e->username, user, ulen)) {
            struct acl_log_entry keep = *e; /* counted, refreshed, and moved to the front */
            keep.count++;
            keep.ctime_ms = now;
            char *ci = strdup(client_info);
            if (ci) {
                free(keep.client_info);
                keep.client_info = ci;
            }
            memmove(e, e + 1, (size_t)(nlog - i - 1) * sizeof(*e));
            log_entries[nlog - 1] = keep;
            return;
        }
    }
    long long max = server_config.acllog_max_len;
    if (max <= 0) return;
    struct acl_log_entry e = {
        1, reason, context, strndup(object, olen), strndup(user, ulen), strdup(client_info), now};
    if (!e.object || !e.username || !e.client_info) {
        log_entry_free(&e);
        return;
    }
    if (nlog >= max) {
        int drop = nlog - (int)max + 1;
        for (int i = 0; i < drop; i++) log_entry_free(&log_entries[i]);
        memmove(log_entries, log_entries + drop, (size_t)(nlog - drop) * sizeof(*log_entries));
        nlog -= drop;
    }
    void *n = realloc(log_entries, (size_t)(nlog + 1) * sizeof(*log_entries));
    if (!n) {
        log_entry_free(&e);
        return;
    }
    log_entries = n;
    log_entries[nlog++] = e;
}

int acl_log_count(void) {
    long long max = server_config.acllog_max_len;
    return max < nlog ? (int)(max < 0 ? 0 : max) : nlog;
}

const struct acl_log_entry *acl_log_at(int i) {
    return i >= 0 && i < nlog ? &log_entries[nlog - 1 - i] : NULL;
}

void acl_log_reset(void) {
    for (int i = 0; i < nlog; i++) log_entry_free(&log_entries[i]);
    free(log_entries);
    log_entries = NULL;
    nlog = 0;
}
