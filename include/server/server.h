/* server.h - the top of the server: listeners, the loop driver, signals, the cron and the
 * graceful shutdown; it wires the levels together at start-up (the transport's request handler
 * and release hooks, the command tables). Main thread only. */
#ifndef OBK_SERVER_H
#define OBK_SERVER_H

#include <stddef.h>

/* Opens listeners and state from server_config. Returns 0 or -1 (logged). */
int server_init(void);
/* Runs the loop driver until shutdown; returns the process exit code. */
int server_run(void);
/* Releases everything server_init made. */
void server_free(void);
/* Re-binds the listeners after CONFIG SET port/bind. Returns 0 or -1 with the reason. */
int server_rebind(char *err, size_t errlen);

#endif
