/* obelisk_backup.c - obelisk-backup: takes an online backup of a running server and shows its
 * progress.
 *
 *   obelisk-backup [-h host] [-p port] [-a password] [--user name] path
 *
 * It asks the server for BACKUP path ASYNC (path made absolute here: the server resolves a
 * relative one from its own directory), then reads INFO persistence's backup_* fields five
 * times a second until the backup is done. On a terminal it draws a progress bar (bytes and
 * files done, rate, ETA); otherwise it prints a plain line every second and one at the end, for
 * logs. Exit status: 0 when the backup completed, 1 when it failed or the server refused it,
 * 2 on usage, connection or authentication errors. Restoring is starting a server on the directory;
 * obelisk-check verifies it.
 *
 * A small blocking RESP client over one TCP socket (the replies are parsed by protocol/respv):
 * the tool sends four kinds of commands, and a client library would be a new dependency for
 * that. Single-threaded. */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/progress.h"
#include "base/util.h"
#include "protocol/respv.h"

struct conn {
    int fd;
    char *buf;
    size_t len, cap;
};

static int dial(const char *host, const char *port) {
    struct addrinfo hints = {0}, *res, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
    int fd = -1;
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* Sends argv as a RESP multibulk and reads one reply into out. 0, or -1 (errno-style). */
static int command(struct conn *c, int argc, const char **argv, struct respv *out) {
    char head[64];
    for (int i = -1; i < argc; i++) {
        int n = i < 0 ? snprintf(head, sizeof head, "*%d\r\n", argc)
                      : snprintf(head, sizeof head, "$%zu\r\n", strlen(argv[i]));
        if (write(c->fd, head, (size_t)n) != n) return -1;
        if (i >= 0 && (write(c->fd, argv[i], strlen(argv[i])) != (ssize_t)strlen(argv[i]) ||
                       write(c->fd, "\r\n", 2) != 2))
            return -1;
    }
    for (;;) {
        long done = respv_complete(c->buf, c->len);
        if (done < 0) return -1;
        if (done > 0) {
            size_t used;
            if (respv_parse(c->buf, c->len, out, &used) != 1) return -1;
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            return 0;
        }
        if (c->len == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            char *nb = realloc(c->buf, cap);
            if (!nb) return -1;
            c->buf = nb;
            c->cap = cap;
        }
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r <= 0) return -1;
        c->len += (size_t)r;
    }
}

/* The number after "field:" in an INFO body, -1 when absent. */
static long long info_field(const char *body, const char *field) {
    char key[64];
    snprintf(key, sizeof key, "\r\n%s:", field);
    const char *p = strstr(body, key);
    return p ? atoll(p + strlen(key)) : -1;
}

static int usage(void) {
    fprintf(stderr, "usage: obelisk-backup [-h host] [-p port] [-a password] [--user name] "
                    "path\n");
    return 2;
}

/* path as an absolute path (its parent must exist; it must not). */
static int absolute(const char *path, char *out, size_t n) {
    char parent[PATH_MAX], real[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash == parent)
        parent[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    if (!*base || !realpath(parent, real)) return -1;
    int w = snprintf(out, n, "%s/%s", strcmp(real, "/") ? real : "", base);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *port = "6379", *pass = NULL, *user = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            port = argv[++i];
        else if (!strcmp(argv[i], "-a") && i + 1 < argc)
            pass = argv[++i];
        else if (!strcmp(argv[i], "--user") && i + 1 < argc)
            user = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return usage();
    }
    char abs_path[PATH_MAX + 256];
    if (!path) return usage();
    if (absolute(path, abs_path, sizeof abs_path) != 0) {
        fprintf(stderr, "obelisk-backup: %s: the parent directory does not exist\n", path);
        return 2;
    }
    struct conn c = {dial(host, port), NULL, 0, 0};
    struct respv v;
    if (c.fd < 0) {
        fprintf(stderr, "obelisk-backup: cannot connect to %s:%s: %s\n", host, port,
                strerror(errno));
        return 2;
    }
    int rc = 2;
    if (pass) {
        const char *auth[] = {"AUTH", user ? user : pass, pass};
        if (command(&c, user ? 3 : 2, auth, &v) != 0) goto lost;
        int bad = v.type == '-';
        if (bad) fprintf(stderr, "obelisk-backup: %s\n", v.str);
        respv_free(&v);
        if (bad) goto out;
    }
    const char *start[] = {"BACKUP", abs_path, "ASYNC"};
    if (command(&c, 3, start, &v) != 0) goto lost;
    if (v.type == '-') { /* refused: the target exists, a backup runs, ... */
        fprintf(stderr, "obelisk-backup: %s\n", v.str);
        respv_free(&v);
        rc = 1;
        goto out;
    }
    respv_free(&v);
    struct progress pg;
    progress_init(&pg, "obelisk-backup", "files");
    for (;;) {
        const char *info[] = {"INFO", "persistence"};
        if (command(&c, 2, info, &v) != 0) goto lost;
        const char *body = v.str ? v.str : "";
        long long running = info_field(body, "backup_in_progress");
        long long done = info_field(body, "backup_bytes_done"),
                  total = info_field(body, "backup_bytes_total"),
                  files = info_field(body, "backup_files_done"),
                  nfiles = info_field(body, "backup_files_total");
        int ok = strstr(body, "\r\nbackup_last_status:ok\r\n") != NULL;
        respv_free(&v);
        if (running != 1) {
            progress_done(&pg, done, total, files, nfiles, 1);
            fprintf(stderr, "obelisk-backup: %s %s\n", abs_path,
                    ok ? "complete" : "FAILED (see the server's log)");
            rc = ok ? 0 : 1;
            break;
        }
        progress_update(&pg, done, total, files, nfiles);
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    goto out;
lost:
    fprintf(stderr, "obelisk-backup: lost the connection to %s:%s\n", host, port);
out:
    free(c.buf);
    close(c.fd);
    return rc;
}
