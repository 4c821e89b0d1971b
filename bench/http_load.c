/* http_load.c - load generator for the HTTP API (bench/http.sh).
 *
 *   http_load produce PORT KEY CONNS SECS BATCH VALUE_BYTES
 *       CONNS keep-alive connections, each looping POST /v1/topics/KEY/entries with BATCH
 *       entries of one VALUE_BYTES field (BATCH 1: {"fields": ...}; more: {"entries": [...]}),
 *       one request in flight per connection, for SECS seconds. Prints "entries/s N".
 *   http_load tail HTTP_PORT RESP_PORT KEY TAILS COUNT
 *       opens TAILS live tails (GET /v1/topics/KEY/tail), then COUNT times: XADD over RESP,
 *       note when its reply (the durable acknowledgement) arrived, and when each tail received
 *       the event with that ID. Prints p50/p99/max of (event received - acknowledged) in ms.
 *
 * Plain sockets and poll(); no libraries. Loopback only. */
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        exit(2);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            perror("write");
            exit(2);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* ---- produce ---- */

struct pconn {
    int fd;
    char buf[65536];
    size_t len;
};

/* 1 when buf holds a whole response (headers + Content-Length body); sets *total. */
static int response_done(const char *buf, size_t len, size_t *total, int *status) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t hdr = (size_t)(end - buf) + 4;
    const char *cl = memmem(buf, hdr, "Content-Length: ", 16);
    size_t body = cl ? (size_t)atol(cl + 16) : 0;
    if (len < hdr + body) return 0;
    *total = hdr + body;
    *status = atoi(buf + 9);
    return 1;
}

static int produce(int port, const char *key, int conns, double secs, int batch, int vbytes) {
    char *value = malloc((size_t)vbytes + 1);
    memset(value, 'v', (size_t)vbytes);
    value[vbytes] = '\0';
    size_t cap = (size_t)batch * ((size_t)vbytes + 40) + 256;
    char *body = malloc(cap);
    size_t bl = 0;
    if (batch == 1) {
        bl = (size_t)snprintf(body, cap, "{\"fields\":{\"f\":\"%s\"}}", value);
    } else {
        bl = (size_t)snprintf(body, cap, "{\"entries\":[");
        for (int i = 0; i < batch; i++)
            bl += (size_t)snprintf(body + bl, cap - bl, "%s{\"fields\":{\"f\":\"%s\"}}",
                                   i ? "," : "", value);
        bl += (size_t)snprintf(body + bl, cap - bl, "]}");
    }
    char *req = malloc(bl + 512);
    size_t rl = (size_t)sprintf(req,
                                "POST /v1/topics/%s/entries HTTP/1.1\r\nHost: bench\r\n"
                                "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                                key, bl);
    memcpy(req + rl, body, bl);
    rl += bl;
    struct pconn *c = calloc((size_t)conns, sizeof(*c));
    struct pollfd *pf = calloc((size_t)conns, sizeof(*pf));
    for (int i = 0; i < conns; i++) {
        c[i].fd = dial(port);
        pf[i].fd = c[i].fd;
        pf[i].events = POLLIN;
        send_all(c[i].fd, req, rl);
    }
    long long done = 0, errors = 0;
    double start = now_s(), end = start + secs;
    while (now_s() < end) {
        if (poll(pf, (nfds_t)conns, 100) <= 0) continue;
        for (int i = 0; i < conns; i++) {
            if (!(pf[i].revents & POLLIN)) continue;
            ssize_t r = read(c[i].fd, c[i].buf + c[i].len, sizeof(c[i].buf) - c[i].len);
            if (r <= 0) {
                fprintf(stderr, "http_load: connection closed\n");
                return 2;
            }
            c[i].len += (size_t)r;
            size_t total;
            int status;
            while (response_done(c[i].buf, c[i].len, &total, &status)) {
                if (status == 201)
                    done += batch;
                else
                    errors++;
                memmove(c[i].buf, c[i].buf + total, c[i].len - total);
                c[i].len -= total;
                send_all(c[i].fd, req, rl);
            }
        }
    }
    double el = now_s() - start;
    printf("entries/s %.0f\nrequests/s %.0f\nerrors %lld\n", (double)done / el,
           (double)done / batch / el, errors);
    return errors ? 1 : 0;
}

/* ---- SSE fan-out latency ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct tconn {
    int fd;
    char *buf;
    size_t len, cap;
};

static int tail(int hport, int rport, const char *key, int ntails, int count) {
    struct tconn *t = calloc((size_t)ntails, sizeof(*t));
    struct pollfd *pf = calloc((size_t)ntails, sizeof(*pf));
    char req[512];
    int rl =
        snprintf(req, sizeof(req), "GET /v1/topics/%s/tail HTTP/1.1\r\nHost: bench\r\n\r\n", key);
    for (int i = 0; i < ntails; i++) {
        t[i].fd = dial(hport);
        t[i].cap = 1 << 16;
        t[i].buf = malloc(t[i].cap);
        pf[i].fd = t[i].fd;
        pf[i].events = POLLIN;
        send_all(t[i].fd, req, (size_t)rl);
    }
    usleep(300000); /* the tails are open and blocked */
    int resp = dial(rport);
    double *lat = malloc(sizeof(double) * (size_t)ntails * (size_t)count);
    size_t nlat = 0;
    for (int k = 0; k < count; k++) {
        char cmd[256];
        int cl = snprintf(cmd, sizeof(cmd),
                          "*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$1\r\nf\r\n$16\r\n"
                          "0123456789abcdef\r\n",
                          strlen(key), key);
        send_all(resp, cmd, (size_t)cl);
        char rb[128];
        size_t got = 0;
        const char *idp = NULL;
        long idlen = 0;
        for (;;) {
            ssize_t r = read(resp, rb + got, sizeof(rb) - 1 - got);
            if (r <= 0) return 2;
            got += (size_t)r;
            rb[got] = '\0';
            if (rb[0] != '$') {
                fprintf(stderr, "http_load: XADD failed: %s\n", rb);
                return 2;
            }
            char *nl = strstr(rb, "\r\n");
            if (!nl) continue;
            idlen = atol(rb + 1);
            if ((size_t)(nl + 2 - rb) + (size_t)idlen + 2 <= got) {
                idp = nl + 2;
                break;
            }
        }
        double acked = now_s();
        char id[64];
        snprintf(id, sizeof(id), "id: %.*s\n", (int)idlen, idp);
        int seen = 0;
        char *done = calloc((size_t)ntails, 1);
        while (seen < ntails) {
            if (poll(pf, (nfds_t)ntails, 5000) <= 0) {
                fprintf(stderr, "http_load: an event did not arrive within 5 s\n");
                return 2;
            }
            for (int i = 0; i < ntails; i++) {
                if (!(pf[i].revents & POLLIN)) continue;
                if (t[i].len > t[i].cap / 2) { /* keep a tail long enough to hold a cut line */
                    memmove(t[i].buf, t[i].buf + t[i].len - 256, 256);
                    t[i].len = 256;
                }
                ssize_t r = read(t[i].fd, t[i].buf + t[i].len, t[i].cap - t[i].len);
                if (r <= 0) return 2;
                t[i].len += (size_t)r;
                if (!done[i] && memmem(t[i].buf, t[i].len, id, strlen(id))) {
                    done[i] = 1;
                    seen++;
                    lat[nlat++] = (now_s() - acked) * 1000.0;
                    t[i].len = 0;
                }
            }
        }
        free(done);
    }
    qsort(lat, nlat, sizeof(double), cmp_double);
    printf("events %zu\np50_ms %.3f\np99_ms %.3f\nmax_ms %.3f\n", nlat, lat[nlat / 2],
           lat[(size_t)((double)nlat * 0.99)], lat[nlat - 1]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 8 && !strcmp(argv[1], "produce"))
        return produce(atoi(argv[2]), argv[3], atoi(argv[4]), atof(argv[5]), atoi(argv[6]),
                       atoi(argv[7]));
    if (argc == 7 && !strcmp(argv[1], "tail"))
        return tail(atoi(argv[2]), atoi(argv[3]), argv[4], atoi(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: http_load produce PORT KEY CONNS SECS BATCH VALUE_BYTES\n"
                    "       http_load tail HTTP_PORT RESP_PORT KEY TAILS COUNT\n");
    return 2;
}
