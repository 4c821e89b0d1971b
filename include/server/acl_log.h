/* acl_log.h - the ACL LOG: refusals of authentication, commands, keys and channels, as Redis
 * 7.0 keeps them (ACL LOG [count|RESET]). Main thread only. */
#ifndef OBK_ACL_LOG_H
#define OBK_ACL_LOG_H

#include <stddef.h>

enum acl_log_reason { ACL_LOG_AUTH, ACL_LOG_COMMAND, ACL_LOG_KEY, ACL_LOG_CHANNEL };
enum acl_log_context { ACL_LOG_TOPLEVEL, ACL_LOG_MULTI };
struct acl_log_entry {
    long long count;
    int reason, context;
    char *object, *username, *client_info;
    long long ctime_ms;
};
/* Adds an entry, or counts it on a like entry (same reason, context, object and user) younger
 * than 60 s, as Redis does; keeps at most acllog-max-len entries. */
void acl_log_add(int reason, int context, const char *object, size_t olen, const char *user,
                 size_t ulen, const char *client_info);
int acl_log_count(void);
const struct acl_log_entry *acl_log_at(int i); /* newest first */
void acl_log_reset(void);
const char *acl_log_reason_name(int reason);
const char *acl_log_context_name(int context);

#endif
