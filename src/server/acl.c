/* acl.c - who a client is (see acl.h).
 *
 * Design: the "default" user's password is requirepass, as in Redis; one function checks
 * credentials for AUTH, HELLO AUTH and the HTTP face, so they cannot drift apart. The
 * comparison takes the same time whatever the password's first differing byte.
 *
 * Thread: main thread only (it reads server_config). */
#include "server/acl.h"

#include <string.h>

#include "base/util.h"
#include "server/config.h"

int acl_check_credentials(const char *user, size_t ulen, const char *pass, size_t plen) {
    const char *want = server_config.requirepass;
    if (ulen != 7 || memcmp(user, "default", 7) != 0) return 0; /* user names are exact */
    if (want[0] == '\0') return 1;                              /* nopass: any password, as Redis */
    return util_secure_eq(pass, plen, want, strlen(want));
}

int acl_default_needs_auth(void) {
    return server_config.requirepass[0] != '\0';
}

int acl_auth_configured(void) {
    return acl_default_needs_auth();
}
