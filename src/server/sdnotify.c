/* sdnotify.c - tells systemd (or anything speaking its notify protocol) how the server is doing.
 *
 * Design: the protocol is one datagram per state change, text "KEY=value" lines, sent to the
 * AF_UNIX socket whose path is in $NOTIFY_SOCKET (a leading '@' names a socket in the abstract
 * namespace). Implementing it here (about what libsystemd's sd_notify does for these messages)
 * keeps libsystemd out of the build and works wherever systemd runs. The server sends
 * STATUS while loading, READY=1 once the data set is loaded and STOPPING=1 when a graceful
 * shutdown begins. With `supervised systemd` the socket must be there; `auto` uses it only when
 * $NOTIFY_SOCKET is set. Main thread only. */
#include "server/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "server/config.h"

static int notify_active;

int sdnotify_setup(int supervised_mode) {
    const char *path = getenv("NOTIFY_SOCKET");
    notify_active = 0;
    if (supervised_mode == SUPERVISED_NO) return 0;
    if (!path || !path[0]) {
        if (supervised_mode == SUPERVISED_SYSTEMD)
            log_msg(LOG_WARNING, "systemd supervision requested or auto-detected, but "
                                 "NOTIFY_SOCKET not found!");
        return 0;
    }
    notify_active = 1;
    log_msg(LOG_NOTICE, "Supervised by systemd. Please make sure you set appropriate values for "
                        "TimeoutStartSec and TimeoutStopSec in your service unit.");
    return 1;
}

int sdnotify_active(void) {
    return notify_active;
}

int sdnotify_send(const char *state) {
    if (!notify_active) return 0;
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t plen = path ? strlen(path) : 0;
    if (plen == 0 || plen >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@')) {
        log_msg(LOG_WARNING, "NOTIFY_SOCKET is not a usable unix socket path");
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, plen);
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0'; /* abstract namespace */
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    int saved = errno;
    close(fd);
    if (n < 0) {
        log_msg(LOG_WARNING, "Can't notify systemd (%s): %s", path, strerror(saved));
        return -1;
    }
    return 0;
}
