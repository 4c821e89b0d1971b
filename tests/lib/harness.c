/* harness.c - integration-test helpers (see harness.h). Each test process owns the servers it
 * starts and kills only those, by the pid fork() gave it. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "tmpname.h"

int harness_wait_ready = 1;

/* Every server this process started and has not cleaned up: a failed assertion leaves its
 * test function early, so an atexit handler stops these (by pid) and removes their dirs. */
#define HARNESS_MAX_SERVERS 64
static struct {
    pid_t pid;
    char dir[256];
} started[HARNESS_MAX_SERVERS];

static void remove_tree(const char *dir);

static void cleanup_at_exit(void) {
    for (int i = 0; i < HARNESS_MAX_SERVERS; i++) {
        if (started[i].pid > 0) {
            kill(started[i].pid, SIGKILL);
            waitpid(started[i].pid, NULL, 0);
        }
        if (started[i].dir[0] && !getenv("OBELISK_KEEP_TEST_DIRS")) remove_tree(started[i].dir);
        started[i].pid = 0;
        started[i].dir[0] = '\0';
    }
}

/* Records (or updates) the pid of the server living in dir. */
static void track(const char *dir, pid_t pid) {
    static int registered;
    int free_slot = -1;
    if (!registered) registered = atexit(cleanup_at_exit) == 0;
    for (int i = 0; i < HARNESS_MAX_SERVERS; i++) {
        if (started[i].dir[0] && !strcmp(started[i].dir, dir)) {
            started[i].pid = pid;
            return;
        }
        if (!started[i].dir[0] && free_slot < 0) free_slot = i;
    }
    if (free_slot < 0) return;
    started[free_slot].pid = pid;
    snprintf(started[free_slot].dir, sizeof(started[free_slot].dir), "%s", dir);
}

static void untrack(const char *dir) {
    for (int i = 0; i < HARNESS_MAX_SERVERS; i++) {
        if (started[i].dir[0] && !strcmp(started[i].dir, dir)) {
            started[i].pid = 0;
            started[i].dir[0] = '\0';
        }
    }
}

/* How long a server may take to start listening. */
#define START_TIMEOUT_MS 10000

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int run_obelisk_check(const char *datadir, int repair) {
    const char *bin = getenv("OBELISK_CHECK");
    if (!bin) bin = "./obelisk-check";
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO), close(fd);
        if (repair)
            execl(bin, bin, datadir, "--repair", (char *)NULL);
        else
            execl(bin, bin, datadir, (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    size_t got = fread(p, 1, (size_t)n, f);
    p[got] = '\0';
    fclose(f);
    return p;
}

int server_log_contains(const struct test_server *s, const char *text) {
    char *log = read_file(s->logpath);
    int hit = log && strstr(log, text) != NULL;
    free(log);
    return hit;
}

/* Finds the port in the newest "Running mode=standalone, port=N." line. */
static int log_port(const char *path) {
    char *log = read_file(path);
    int port = -1;
    for (char *p = log; p && (p = strstr(p, "Running mode=standalone, port=")); p++)
        port = atoi(p + strlen("Running mode=standalone, port="));
    free(log);
    return port;
}

/* The kernel's range of ephemeral ports ([lo, hi]); Linux's default when it cannot be read. */
static void ephemeral_range(int *lo, int *hi) {
    *lo = 32768;
    *hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (!f) return;
    int a, b;
    if (fscanf(f, "%d %d", &a, &b) == 2 && a > 0 && b >= a) {
        *lo = a;
        *hi = b;
    }
    fclose(f);
}

/* 1 when a listening socket could bind 127.0.0.1:port right now. */
static int port_binds(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Why not bind port 0: the kernel answers with an ephemeral port, and between closing it and the
 * server binding it any outgoing connection (a client of this very test) may get it as its
 * source port, so the server fails with "Address already in use". A port outside the ephemeral
 * range is never handed out that way. The walk starts at a random place (so that test programs
 * run one after another rarely meet) and steps on, so one process never gets a port twice. */
int harness_free_port(void) {
    static int next = -1;
    int lo, hi;
    ephemeral_range(&lo, &hi);
    /* The ports below the range, from HARNESS_PORT_FLOOR, else those above it. */
    int first = HARNESS_PORT_FLOOR, last = lo - 1;
    if (last - first < 1000) {
        first = hi + 1;
        last = 65535;
    }
    if (last - first < 1000) return 0;
    int span = last - first + 1;
    if (next < 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        next = (int)(((unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec) % (unsigned)span);
    }
    for (int tries = 0; tries < span; tries++) {
        int port = first + next;
        next = (next + 1) % span;
        if (port_binds(port)) return port;
    }
    return 0;
}

int server_start_argv(struct test_server *s, const char *const *extra, int reuse_dir) {
    const char *bin = getenv("OBELISK_SERVER");
    if (!bin) bin = "./obelisk-server";
    if (!reuse_dir) {
        memset(s, 0, sizeof(*s));
        test_tmp_template(s->dir, sizeof(s->dir), "obelisk-test.");
        if (!mkdtemp(s->dir)) return -1;
        snprintf(s->datadir, sizeof(s->datadir), "%s/data", s->dir);
        snprintf(s->logpath, sizeof(s->logpath), "%s/server.log", s->dir);
    }
    /* Port 0 is a free port the log names; with TLS options port 0 would mean no plain port (a
     * TLS-only server), so the plain port is one that was free a moment ago. */
    char plain[16] = "0";
    for (int i = 0; extra && extra[i]; i++)
        if (!strncmp(extra[i], "--tls-", 6))
            snprintf(plain, sizeof plain, "%d", harness_free_port());
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--port";
    argv[n++] = plain;
    argv[n++] = "--dir";
    argv[n++] = s->datadir;
    argv[n++] = "--enable-debug-command";
    argv[n++] = "local";
    for (int i = 0; extra && extra[i] && n < 62; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    /* Mark where this start's lines begin, so a restart finds its own port line. */
    FILE *lf = fopen(s->logpath, "a");
    if (lf) {
        fprintf(lf, "---- test harness: starting server ----\n");
        fclose(lf);
    }
    long before = 0;
    {
        char *log = read_file(s->logpath);
        before = log ? (long)strlen(log) : 0;
        free(log);
    }
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(s->logpath, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    track(s->dir, pid);
    long long deadline = now_ms() + START_TIMEOUT_MS;
    while (now_ms() < deadline) {
        char *log = read_file(s->logpath);
        char *mine = log ? log + before : NULL;
        int port = -1;
        if (mine && strstr(mine, harness_wait_ready ? "Ready to accept connections"
                                                    : "Running mode=standalone, port="))
            port = log_port(s->logpath);
        free(log);
        if (port > 0) {
            s->port = port;
            return 0;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            track(s->dir, 0);
            return -1;
        }
        sleep_ms(10);
    }
    server_kill(s);
    return -1;
}

int server_start(struct test_server *s, ...) {
    const char *extra[48];
    int n = 0;
    va_list ap;
    va_start(ap, s);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 47) extra[n++] = a;
    va_end(ap);
    extra[n] = NULL;
    return server_start_argv(s, extra, 0);
}

int server_stop(struct test_server *s) {
    int status = 0;
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) { /* up to 10 s */
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            track(s->dir, 0); /* reaped: its pid may be reused, never signal it again */
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleep_ms(10);
    }
    server_kill(s);
    return -1;
}

int server_wait_exit(struct test_server *s, int timeout_ms) {
    int status;
    for (int waited = 0; s->pid > 0 && waited <= timeout_ms; waited += 10) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            track(s->dir, 0);
            return status;
        }
        sleep_ms(10);
    }
    return -1;
}

void server_kill(struct test_server *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    track(s->dir, 0);
}

static void remove_tree(const char *dir) {
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) waitpid(pid, NULL, 0);
}

void server_cleanup(struct test_server *s) {
    if (s->pid > 0) server_stop(s);
    untrack(s->dir);
    if (s->dir[0] && !getenv("OBELISK_KEEP_TEST_DIRS")) remove_tree(s->dir);
    s->dir[0] = '\0';
}

redisContext *client_connect(const struct test_server *s) {
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

redisReply *client_cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return r;
}

int raw_connect_from(int port, const char *source_ip) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (source_ip) {
        struct sockaddr_in src = {0};
        src.sin_family = AF_INET;
        inet_pton(AF_INET, source_ip, &src.sin_addr);
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int raw_connect(int port) {
    return raw_connect_from(port, NULL);
}

int raw_send(int fd, const void *p, size_t n) {
    const char *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int raw_send_str(int fd, const char *s) {
    return raw_send(fd, s, strlen(s));
}

char *raw_read(int fd, size_t want, int timeout_ms, size_t *len) {
    size_t cap = want + 1 > 4096 ? want + 1 : 4096, n = 0;
    char *buf = malloc(cap);
    long long deadline = now_ms() + timeout_ms;
    while (n < want) {
        long long left = deadline - now_ms();
        if (left <= 0) break;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) <= 0) break;
        if (n + 4096 > cap) {
            cap = (n + 4096) * 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int raw_expect(int fd, const char *expected) {
    size_t want = strlen(expected), got;
    char *buf = raw_read(fd, want, 3000, &got);
    int ok = got == want && memcmp(buf, expected, want) == 0;
    if (!ok)
        printf("# expected %zu bytes [%s]\n# got      %zu bytes [%s]\n", want, expected, got, buf);
    free(buf);
    return ok;
}

int raw_closed(int fd, int timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    char tmp[4096];
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) <= 0) return 0;
        ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
        if (r == 0) return 1;
        if (r < 0) return errno == ECONNRESET;
    }
}
