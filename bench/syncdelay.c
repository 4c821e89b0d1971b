/* bench/syncdelay.c - LD_PRELOAD shim for bench/replication.sh --replica-own-disk: a server whose
 * data directory is on tmpfs gets the flush latency of a disk of its own.
 *
 * On a one-disk machine a primary and its replica queue their fdatasync calls behind each other
 * on the same device, which two machines would not. The replica's directory is put on tmpfs
 * (where a sync costs nothing) and every fsync, fdatasync and syncfs it makes still runs, then
 * sleeps OBELISK_SYNC_DELAY_US microseconds: the flush latency the script measured on the real
 * disk just before. The calling thread blocks as it would on a device, and the replica does all
 * its other work unchanged. A benchmark aid only: nothing in the server or its tests uses it.
 *
 *   cc -O2 -shared -fPIC -o syncdelay.so bench/syncdelay.c -ldl
 *   LD_PRELOAD=./syncdelay.so OBELISK_SYNC_DELAY_US=900 obelisk-server ...
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long delay_us;
static int (*real_fsync)(int), (*real_fdatasync)(int), (*real_syncfs)(int);

__attribute__((constructor)) static void syncdelay_init(void) {
    const char *v = getenv("OBELISK_SYNC_DELAY_US");
    delay_us = v ? atol(v) : 0;
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    real_syncfs = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
}

static int delayed(int rc) {
    struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
    int saved = errno;
    while (delay_us > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    errno = saved;
    return rc;
}

int fsync(int fd) {
    return delayed(real_fsync(fd));
}

int fdatasync(int fd) {
    return delayed(real_fdatasync(fd));
}

int syncfs(int fd) {
    return delayed(real_syncfs(fd));
}
