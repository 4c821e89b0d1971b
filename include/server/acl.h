/* acl.h - who a client is: the users, their passwords and what each may run (Redis's ACL).
 * The credential check is shared by AUTH, HELLO AUTH and the HTTP face. Main thread only. */
#ifndef OBK_ACL_H
#define OBK_ACL_H

#include <stddef.h>

/* 1 when user/pass name an enabled user whose password matches (a user with nopass takes any
 * password), else 0. Names are exact (case-sensitive), as in Redis. */
int acl_check_credentials(const char *user, size_t ulen, const char *pass, size_t plen);
/* 1 when a new connection must authenticate before running commands: the default user has a
 * password (requirepass) or is switched off. */
int acl_default_needs_auth(void);
/* 1 when any password or any user besides an open default user exists: the HTTP face then asks
 * every request who it is. */
int acl_auth_configured(void);

#endif
