/* bench/xaddw.c - XADD load generator for bench/replication.sh: XADD followed, when asked, by
 * WAIT <n> 0 on the same connection, which redis-benchmark cannot chain.
 *
 * It opens C connections to one server; each keeps P requests in flight (a request is XADD, or
 * XADD then WAIT when -w is given, pipelined as one unit) and sends the next batch when all the
 * replies of the previous one arrived, like redis-benchmark -P. After S seconds it prints:
 *     xadds=<n> secs=<elapsed> xadds_per_sec=<n/elapsed> p50_ms=<...> p99_ms=<...>
 * where the percentiles are of the batch round trips (one batch = P requests). Any error reply
 * stops the run with the error printed (a benchmark that counts errors as writes lies).
 * With -e FILE the requests are the commands in FILE instead (RESP, as bench/events.py writes
 * them), taken in turn across all connections and from the start again at the end (-k and -d
 * then do not apply).
 * RESP2 only; plain sockets and poll(2), one thread, no dependencies.
 *
 *   cc -O2 -o xaddw bench/xaddw.c
 * With -K N the XADDs go to N keys, <key>:0 to <key>:N-1, in turn across all connections (a
 * pipeline of P writes P keys), as redis-benchmark -r spreads them.
 *   xaddw -p PORT [-c 50] [-P 1] [-s 3] [-k key] [-K keys] [-w replicas] [-d 16] [-e FILE]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    char *in;
    size_t len, cap;
    int want;      /* replies still expected for the batch in flight */
    double sent_s; /* when the batch went out */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Length of one complete simple reply (+, -, :) or bulk ($) at p, 0 when incomplete. Exits on
 * an error reply. */
static size_t reply_len(const char *p, size_t len) {
    const char *eol = memmem(p, len, "\r\n", 2);
    if (!eol) return 0;
    size_t head = (size_t)(eol - p) + 2;
    if (p[0] == '-') {
        fprintf(stderr, "error reply: %.*s\n", (int)(head - 2), p);
        exit(1);
    }
    if (p[0] != '$') return head;
    long n = strtol(p + 1, NULL, 10);
    if (n < 0) return head;
    return len >= head + (size_t)n + 2 ? head + (size_t)n + 2 : 0;
}

/* Commands read from a file (-e): the bytes, and where each command starts. */
static struct {
    char *buf;
    size_t len, *start, n, next;
} cmds;

/* Length of the RESP command (*N then N bulk strings) at p, 0 when malformed or cut. */
static size_t command_len(const char *p, size_t len) {
    const char *end = p + len, *q = p;
    if (len < 4 || *q != '*') return 0;
    long n = strtol(q + 1, NULL, 10);
    if (!(q = memmem(q, (size_t)(end - q), "\r\n", 2))) return 0;
    q += 2;
    for (long i = 0; i < n; i++) {
        if (q >= end || *q != '$') return 0;
        long b = strtol(q + 1, NULL, 10);
        if (!(q = memmem(q, (size_t)(end - q), "\r\n", 2))) return 0;
        q += 2 + b + 2;
        if (q > end) return 0;
    }
    return (size_t)(q - p);
}

static int load_commands(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    cmds.len = (size_t)ftell(f);
    rewind(f);
    cmds.buf = malloc(cmds.len + 1);
    if (!cmds.buf || fread(cmds.buf, 1, cmds.len, f) != cmds.len) return -1;
    fclose(f);
    size_t cap = 1024, pos = 0, l;
    cmds.start = malloc(cap * sizeof *cmds.start);
    while (pos < cmds.len && (l = command_len(cmds.buf + pos, cmds.len - pos)) > 0) {
        if (cmds.n == cap) cmds.start = realloc(cmds.start, (cap *= 2) * sizeof *cmds.start);
        cmds.start[cmds.n++] = pos;
        pos += l;
    }
    return cmds.n > 0 && pos == cmds.len ? 0 : -1;
}

/* The next pipeline commands from the file into out (malloc'd, grown as needed). */
static size_t next_commands(char **out, size_t *cap, int pipeline) {
    size_t bl = 0;
    for (int i = 0; i < pipeline; i++) {
        size_t k = cmds.next++ % cmds.n, from = cmds.start[k];
        size_t to = k + 1 < cmds.n ? cmds.start[k + 1] : cmds.len;
        if (bl + (to - from) > *cap) *out = realloc(*out, *cap = 2 * (bl + (to - from)));
        memcpy(*out + bl, cmds.buf + from, to - from);
        bl += to - from;
    }
    return bl;
}

/* Writes pipeline units (XADD, and WAIT n 0 when wait_n) into out; with nkeys, each XADD to the
 * next of <key>:0 .. <key>:nkeys-1. Returns the bytes written. */
static size_t fill_batch(char *out, const char *key, int nkeys, const char *value, int wait_n,
                         int pipeline) {
    static long long next_key;
    size_t bl = 0, dlen = strlen(value);
    char name[256], w[16];
    int wl = snprintf(w, sizeof w, "%d", wait_n);
    for (int i = 0; i < pipeline; i++) {
        if (nkeys)
            snprintf(name, sizeof name, "%s:%lld", key, next_key++ % nkeys);
        else
            snprintf(name, sizeof name, "%s", key);
        bl += (size_t)sprintf(
            out + bl, "*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$1\r\nf\r\n$%zu\r\n%s\r\n",
            strlen(name), name, dlen, value);
        if (wait_n > 0)
            bl += (size_t)sprintf(out + bl, "*3\r\n$4\r\nWAIT\r\n$%d\r\n%s\r\n$1\r\n0\r\n", wl, w);
    }
    return bl;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int port = 0, nconn = 50, pipeline = 1, wait_n = 0, dlen = 16, nkeys = 0;
    double secs = 3;
    const char *key = "xw", *events = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-p"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-c"))
            nconn = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-P"))
            pipeline = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s"))
            secs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-k"))
            key = argv[i + 1];
        else if (!strcmp(argv[i], "-w"))
            wait_n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-d"))
            dlen = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-K"))
            nkeys = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-e"))
            events = argv[i + 1];
    }
    if (events && load_commands(events) != 0) {
        fprintf(stderr, "xaddw: cannot read RESP commands from %s\n", events);
        return 2;
    }
    if (!port || nconn < 1 || pipeline < 1 || dlen < 1 || dlen > 4096 || nkeys < 0 ||
        strlen(key) > 200) {
        fprintf(stderr, "usage: xaddw -p PORT [-c 50] [-P 1] [-s 3] [-k key] [-K keys] [-w n] "
                        "[-d 16]\n");
        return 2;
    }
    /* one unit: XADD key * f <value> [WAIT n 0] */
    char value[4097], batch[8192 * 16];
    memset(value, 'v', (size_t)dlen);
    value[dlen] = '\0';
    if ((size_t)(dlen + 300) * (size_t)pipeline > sizeof batch) {
        fprintf(stderr, "pipeline too deep\n");
        return 2;
    }
    size_t bl = fill_batch(batch, key, nkeys, value, wait_n, pipeline);
    int per_unit = wait_n > 0 ? 2 : 1;

    struct conn *cs = calloc((size_t)nconn, sizeof *cs);
    struct pollfd *pf = calloc((size_t)nconn, sizeof *pf);
    size_t lcap = 1 << 20, nlat = 0;
    double *lat = malloc(lcap * sizeof *lat);
    long long xadds = 0;
    double start = now_s(), end = start + secs;
    for (int i = 0; i < nconn; i++) {
        cs[i].fd = connect_to(port);
        cs[i].cap = 1 << 16;
        cs[i].in = malloc(cs[i].cap);
    }
    size_t ecap = 1 << 16;
    char *ebatch = events ? malloc(ecap) : NULL;
    for (int i = 0; i < nconn; i++) {
        const char *b = batch;
        if (events) bl = next_commands(&ebatch, &ecap, pipeline), b = ebatch;
        if (nkeys) bl = fill_batch(batch, key, nkeys, value, wait_n, pipeline);
        if (write(cs[i].fd, b, bl) != (ssize_t)bl) return 1;
        cs[i].want = pipeline * per_unit;
        cs[i].sent_s = now_s();
    }
    int active = nconn;
    while (active > 0) {
        for (int i = 0; i < nconn; i++)
            pf[i] = (struct pollfd){cs[i].fd, cs[i].want ? POLLIN : 0, 0};
        if (poll(pf, (nfds_t)nconn, 1000) < 0) break;
        for (int i = 0; i < nconn; i++) {
            struct conn *c = &cs[i];
            if (!(pf[i].revents & POLLIN)) continue;
            if (c->cap - c->len < 4096) c->in = realloc(c->in, c->cap *= 2);
            ssize_t n = read(c->fd, c->in + c->len, c->cap - c->len);
            if (n <= 0) {
                fprintf(stderr, "connection closed\n");
                return 1;
            }
            c->len += (size_t)n;
            size_t pos = 0, r;
            while (c->want > 0 && (r = reply_len(c->in + pos, c->len - pos)) > 0) {
                pos += r;
                c->want--;
            }
            memmove(c->in, c->in + pos, c->len - pos);
            c->len -= pos;
            if (c->want > 0) continue;
            double t = now_s();
            xadds += pipeline;
            if (nlat == lcap) lat = realloc(lat, (lcap *= 2) * sizeof *lat);
            lat[nlat++] = (t - c->sent_s) * 1000;
            if (t >= end) {
                active--;
                continue;
            }
            const char *b = batch;
            if (events) bl = next_commands(&ebatch, &ecap, pipeline), b = ebatch;
            if (nkeys) bl = fill_batch(batch, key, nkeys, value, wait_n, pipeline);
            if (write(c->fd, b, bl) != (ssize_t)bl) return 1;
            c->want = pipeline * per_unit;
            c->sent_s = t;
        }
    }
    double elapsed = now_s() - start;
    qsort(lat, nlat, sizeof *lat, cmp_double);
    printf("xadds=%lld secs=%.2f xadds_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f\n", xadds, elapsed,
           (double)xadds / elapsed, nlat ? lat[nlat / 2] : 0, nlat ? lat[nlat * 99 / 100] : 0);
    return 0;
}
