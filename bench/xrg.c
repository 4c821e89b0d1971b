/* bench/xrg.c - consumer-group load generator for bench/streams.sh.
 *
 * redis-benchmark cannot chain commands, so this opens N connections to one server and has each
 * loop on
 *     XREADGROUP GROUP <group> c<i> COUNT <count> STREAMS <key> >
 *     XACK <key> <group> <the IDs just delivered>
 * against a preloaded stream (the group must exist). It stops after <secs> seconds, or earlier
 * when every connection got an empty reply (the stream is drained), and prints one line:
 *     entries=<acked> secs=<elapsed> entries_per_sec=<acked/elapsed> calls=<XREADGROUP calls>
 * Only RESP2 is spoken; plain sockets and poll(2), one thread, no dependencies.
 *
 *   cc -O2 -o xrg bench/xrg.c
 *   xrg -p PORT [-h 127.0.0.1] [-c 50] [-s 3] [-k big] [-g g] [-n 10]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_READ, ST_ACK, ST_DONE };

struct conn {
    int fd;
    int state;
    char *in;
    size_t len, cap;
    char **ids;
    size_t *idlens;
    size_t nids, idcap;
    char name[32];
};

static const char *key = "big", *group = "g";
static long count = 10;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *msg) {
    fprintf(stderr, "xrg: %s\n", msg);
    exit(1);
}

static void sendall(int fd, const char *b, size_t n) {
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd p = {fd, POLLOUT, 0};
                poll(&p, 1, 1000);
                continue;
            }
            die("write failed");
        }
        b += w;
        n -= (size_t)w;
    }
}

struct sb {
    char *b;
    size_t len, cap;
};

static void sb_add(struct sb *s, const char *p, size_t n) {
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2 + 64;
        s->b = realloc(s->b, s->cap);
        if (!s->b) die("out of memory");
    }
    memcpy(s->b + s->len, p, n);
    s->len += n;
}

static void sb_bulk(struct sb *s, const char *p, size_t n) {
    char h[32];
    int k = snprintf(h, sizeof h, "$%zu\r\n", n);
    sb_add(s, h, (size_t)k);
    sb_add(s, p, n);
    sb_add(s, "\r\n", 2);
}

static void sb_arr(struct sb *s, size_t n) {
    char h[32];
    int k = snprintf(h, sizeof h, "*%zu\r\n", n);
    sb_add(s, h, (size_t)k);
}

static void send_read(struct conn *c) {
    struct sb s = {0};
    char cnt[32];
    snprintf(cnt, sizeof cnt, "%ld", count);
    const char *a[] = {"XREADGROUP", "GROUP", group, c->name, "COUNT", cnt, "STREAMS", key, ">"};
    sb_arr(&s, 9);
    for (int i = 0; i < 9; i++) sb_bulk(&s, a[i], strlen(a[i]));
    sendall(c->fd, s.b, s.len);
    free(s.b);
    c->state = ST_READ;
}

static void send_ack(struct conn *c) {
    struct sb s = {0};
    sb_arr(&s, 3 + c->nids);
    sb_bulk(&s, "XACK", 4);
    sb_bulk(&s, key, strlen(key));
    sb_bulk(&s, group, strlen(group));
    for (size_t i = 0; i < c->nids; i++) sb_bulk(&s, c->ids[i], c->idlens[i]);
    sendall(c->fd, s.b, s.len);
    free(s.b);
    c->state = ST_ACK;
}

/* Reads a CRLF-terminated integer at *pos; 0 incomplete, 1 ok. */
static int read_line_int(const char *b, size_t len, size_t *pos, long long *out) {
    const char *e = memchr(b + *pos, '\r', len - *pos);
    if (!e || (size_t)(e - b) + 1 >= len) return 0;
    *out = strtoll(b + *pos, NULL, 10);
    *pos = (size_t)(e - b) + 2;
    return 1;
}

/* Parses one RESP2 value at *pos. Returns 1 complete, 0 incomplete, -1 error reply.
 * A bulk string at depth 4, index 0 is an entry ID of an XREADGROUP reply
 * (top array > stream [key, entries] > entry [id, fields]). *ival gets an integer reply. */
static int parse(struct conn *c, size_t *pos, int depth, long idx, long long *ival) {
    const char *b = c->in;
    size_t len = c->len;
    if (*pos >= len) return 0;
    char t = b[(*pos)++];
    long long n;
    switch (t) {
    case '+':
    case '-': {
        const char *e = memchr(b + *pos, '\r', len - *pos);
        if (!e || (size_t)(e - b) + 1 >= len) return 0;
        if (t == '-') {
            fprintf(stderr, "xrg: server error: %.*s\n", (int)(e - (b + *pos)), b + *pos);
            return -1;
        }
        *pos = (size_t)(e - b) + 2;
        return 1;
    }
    case ':':
        if (!read_line_int(b, len, pos, &n)) return 0;
        if (ival) *ival = n;
        return 1;
    case '$':
        if (!read_line_int(b, len, pos, &n)) return 0;
        if (n < 0) return 1;
        if (*pos + (size_t)n + 2 > len) return 0;
        if (depth == 4 && idx == 0) {
            if (c->nids == c->idcap) {
                c->idcap = c->idcap ? c->idcap * 2 : 64;
                c->ids = realloc(c->ids, c->idcap * sizeof *c->ids);
                c->idlens = realloc(c->idlens, c->idcap * sizeof *c->idlens);
                if (!c->ids || !c->idlens) die("out of memory");
            }
            c->ids[c->nids] = (char *)b + *pos; /* valid until the buffer is consumed */
            c->idlens[c->nids++] = (size_t)n;
        }
        *pos += (size_t)n + 2;
        return 1;
    case '*':
        if (!read_line_int(b, len, pos, &n)) return 0;
        for (long long i = 0; i < n; i++) {
            int r = parse(c, pos, depth + 1, (long)i, NULL);
            if (r != 1) return r;
        }
        return 1;
    default: die("protocol error");
    }
    return -1;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0, nconn = 50;
    double secs = 3;
    int opt;
    while ((opt = getopt(argc, argv, "h:p:c:s:k:g:n:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nconn = atoi(optarg); break;
        case 's': secs = atof(optarg); break;
        case 'k': key = optarg; break;
        case 'g': group = optarg; break;
        case 'n': count = atol(optarg); break;
        default:
            fprintf(stderr, "usage: xrg -p PORT [-h HOST] [-c CONNS] [-s SECS] [-k KEY] [-g GROUP] "
                            "[-n COUNT]\n");
            return 2;
        }
    }
    if (port <= 0 || nconn <= 0) die("need -p PORT and -c > 0");

    struct conn *cs = calloc((size_t)nconn, sizeof *cs);
    struct pollfd *pf = calloc((size_t)nconn, sizeof *pf);
    int *pidx = calloc((size_t)nconn, sizeof *pidx);
    if (!cs || !pf || !pidx) die("out of memory");
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) die("bad host (IPv4 address expected)");
    for (int i = 0; i < nconn; i++) {
        struct conn *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("connect failed");
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->cap = 1 << 16;
        c->in = malloc(c->cap);
        if (!c->in) die("out of memory");
        snprintf(c->name, sizeof c->name, "c%d", i);
    }

    long long acked = 0, delivered = 0, calls = 0;
    int active = nconn;
    double t0 = now(), tend = t0 + secs, tlast = t0;
    for (int i = 0; i < nconn; i++) {
        send_read(&cs[i]);
        calls++;
    }
    while (active > 0) {
        int np = 0;
        for (int i = 0; i < nconn; i++) {
            if (cs[i].state == ST_DONE) continue;
            pf[np].fd = cs[i].fd;
            pf[np].events = POLLIN;
            pf[np].revents = 0;
            pidx[np++] = i;
        }
        int r = poll(pf, (nfds_t)np, 5000);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("poll failed");
        }
        if (r == 0) die("no reply for 5 s");
        for (int j = 0; j < np; j++) {
            if (!pf[j].revents) continue;
            struct conn *c = &cs[pidx[j]];
            if (c->len == c->cap) {
                c->cap *= 2;
                c->in = realloc(c->in, c->cap);
                if (!c->in) die("out of memory");
            }
            ssize_t n = read(c->fd, c->in + c->len, c->cap - c->len);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) die("connection closed by the server");
            c->len += (size_t)n;
            size_t pos = 0;
            long long iv = 0;
            c->nids = 0;
            int pr = parse(c, &pos, 0, 0, &iv);
            if (pr < 0) return 1;
            if (pr == 0) continue; /* partial reply */
            if (pos != c->len) die("unexpected extra reply bytes");
            double t = now();
            if (c->state == ST_READ) {
                delivered += (long long)c->nids;
                if (c->nids == 0) { /* drained */
                    c->state = ST_DONE;
                    active--;
                    tlast = t;
                } else {
                    send_ack(c); /* the IDs point into c->in: send before consuming it */
                }
            } else {
                acked += iv;
                tlast = t;
                if (t >= tend) {
                    c->state = ST_DONE;
                    active--;
                } else {
                    send_read(c);
                    calls++;
                }
            }
            c->len = 0;
        }
    }
    double el = tlast - t0;
    if (el <= 0) el = 1e-9;
    printf("entries=%lld delivered=%lld secs=%.3f entries_per_sec=%.0f calls=%lld\n", acked,
           delivered, el, acked / el, calls);
    for (int i = 0; i < nconn; i++) close(cs[i].fd);
    return 0;
}
