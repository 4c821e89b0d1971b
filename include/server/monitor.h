/* monitor.h - MONITOR: clients that receive a line for every command the server runs, in
 * Redis's format ("+<unix time>.<usec> [<db> <ip:port>] "arg" "arg"...\r\n"). command.c feeds
 * each finished call; administrative commands are never shown, and the arguments command.c
 * redacts (AUTH's, HELLO's AUTH credentials, CONFIG SET requirepass's value) show as
 * "(redacted)". Main thread only. */
#ifndef OBK_MONITOR_H
#define OBK_MONITOR_H

#include <stddef.h>

struct client;

/* Makes c a monitor (it stays one until RESET or it goes away). Returns 0, or -1 when it
 * already is one. */
int monitor_add(struct client *c);
/* Stops c being a monitor (RESET; also the transport's release hook). */
void monitor_remove(struct client *c);
/* 1 when at least one client monitors (so the caller can skip building anything). */
int monitor_active(void);
/* Sends the line of a call of c (argv as the client sent it; redact[i] set for the first 32
 * positions that must not be shown) to every monitor. */
void monitor_feed(const struct client *c, int argc, char **argv, const size_t *argvlen,
                  const unsigned char *redact);

#endif
