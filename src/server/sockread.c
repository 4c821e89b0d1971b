/* sockread.c - reads what a plain socket holds into its bufferevent's input (see sockread.h).
 *
 * Why: libevent 2.1's evbuffer_read takes at most 4096 bytes per call, so a socket bufferevent
 * moves 4 KiB per read event and per loop turn (libevent 2.2 made the cap settable; Debian 12
 * ships 2.1). Where each loop turn ends in a group-commit round, as on a replica's link to its
 * primary, that meant a round, and its fdatasync, per 4 KiB of the stream. This asks the socket
 * how much it holds (FIONREAD), reserves that much free space in the input buffer (at most max)
 * and fills it with one readv: no extra copy, no allocation beyond the bytes that are there. A
 * socket bufferevent keeps the end of its input frozen outside its own reads (nothing else may
 * add to it); this read unfreezes it for its duration, as libevent's own read does.
 *
 * Main thread: called from the bufferevent's read callback, which owns its input buffer. */
#include "server/sockread.h"

#include <sys/ioctl.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

/* Fills the n reserved vectors with one readv of at most want bytes and commits what came. */
static size_t read_into(evutil_socket_t fd, struct evbuffer *in, struct evbuffer_iovec *vec, int n,
                        size_t want) {
    struct iovec iov[2];
    size_t room = 0;
    for (int i = 0; i < n; i++) {
        /* the reservation may be larger than asked: read no more than want */
        size_t len = vec[i].iov_len < want - room ? vec[i].iov_len : want - room;
        iov[i].iov_base = vec[i].iov_base;
        iov[i].iov_len = len;
        room += len;
    }
    ssize_t got = readv(fd, iov, n);
    if (got <= 0) { /* EAGAIN, the end, an error: the bufferevent's next read reports them */
        evbuffer_commit_space(in, vec, 0);
        return 0;
    }
    size_t left = (size_t)got;
    int used = 0;
    for (int i = 0; i < n && left > 0; i++, used++) {
        vec[i].iov_len = left < iov[i].iov_len ? left : iov[i].iov_len;
        left -= vec[i].iov_len;
    }
    evbuffer_commit_space(in, vec, used);
    return (size_t)got;
}

size_t sockread_more(struct bufferevent *bev, size_t max) {
    evutil_socket_t fd = bufferevent_getfd(bev);
    struct evbuffer *in = bufferevent_get_input(bev);
    int avail = 0;
    if (fd < 0 || ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0) return 0;
    size_t want = (size_t)avail < max ? (size_t)avail : max, done = 0;
    struct evbuffer_iovec vec[2];
    evbuffer_unfreeze(in, 0);
    int n = evbuffer_reserve_space(in, (ev_ssize_t)want, vec, 2);
    if (n > 0) done = read_into(fd, in, vec, n, want);
    evbuffer_freeze(in, 0);
    return done;
}
