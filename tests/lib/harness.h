/* harness.h - helpers for integration tests: start a real obelisk-server on a free port in a
 * temporary directory, talk to it with hiredis or raw bytes, stop it and clean up. */
#ifndef OBK_TEST_HARNESS_H
#define OBK_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

struct test_server {
    pid_t pid;
    int port;
    char dir[256]; /* temp dir: holds data/ and server.log */
    char datadir[300];
    char logpath[300];
};

/* 1 (default): server_start waits for "Ready to accept connections" (the data set loaded);
 * 0: only for the listening port (tests of the loading phase). */
extern int harness_wait_ready;

/* Starts obelisk-server (path from $OBELISK_SERVER) with --port 0 --dir <tmp>/data
 * --enable-debug-command local and the extra arguments (NULL-terminated). Returns 0 or -1.
 * s->port is the port of the start's "Running mode" line. With a --tls-* argument the plain
 * port is one that was free a moment ago instead of 0 (port 0 beside a TLS port means no plain
 * port); an extra "--port 0" after it asks for a TLS-only server (s->port is then its TLS port,
 * as Redis's start line names it). */
int server_start(struct test_server *s, ...);
/* Same, with the extra arguments as an array. reuse_dir keeps s->dir (a restart). */
int server_start_argv(struct test_server *s, const char *const *extra, int reuse_dir);
/* The lowest port harness_free_port hands out. */
#define HARNESS_PORT_FLOOR 20000
/* A loopback port that is free now and outside the kernel's ephemeral range (so no outgoing
 * connection takes it before a server binds it); never the same twice in one process. 0 when
 * there is none. */
int harness_free_port(void);
/* SIGTERM and wait; returns the exit status (or -1). Keeps the directory. */
int server_stop(struct test_server *s);
/* Waits up to timeout_ms for the server to exit by itself (SHUTDOWN, an I/O error); returns the
 * wait status (WIFEXITED...), or -1 when it is still running. */
int server_wait_exit(struct test_server *s, int timeout_ms);
/* SIGKILL and wait. */
void server_kill(struct test_server *s);
/* Stops if running and removes the temp dir. */
void server_cleanup(struct test_server *s);
/* 1 if the server's log contains the text. */
int server_log_contains(const struct test_server *s, const char *text);

/* Runs obelisk-check (OBELISK_CHECK, or ./obelisk-check) on datadir, with --repair when repair
 * is set, output discarded; returns its exit status (128 + signal if killed, -1 on error). */
int run_obelisk_check(const char *datadir, int repair);
void sleep_ms(long ms);

redisContext *client_connect(const struct test_server *s);
/* Runs a command (printf-style, hiredis formats) and returns the reply (caller frees). */
redisReply *client_cmd(redisContext *c, const char *fmt, ...);

/* Raw sockets, for exact bytes. */
int raw_connect(int port);
int raw_connect_from(int port, const char *source_ip);
int raw_send(int fd, const void *p, size_t n);
int raw_send_str(int fd, const char *s);
/* Reads until `want` bytes arrived, the peer closed, or timeout_ms passed. Returns the bytes
 * read (NUL-terminated, caller frees) and their count in *len. */
char *raw_read(int fd, size_t want, int timeout_ms, size_t *len);
/* Reads exactly strlen(expected) bytes and compares; returns 1 when equal (prints both
 * otherwise). */
int raw_expect(int fd, const char *expected);
/* 1 if the peer closes the connection within timeout_ms (reads and discards data first). */
int raw_closed(int fd, int timeout_ms);

#endif
