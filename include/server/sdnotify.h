/* sdnotify.h - systemd's readiness protocol (sd_notify) without libsystemd: one datagram of
 * "KEY=value" lines to the unix socket named by $NOTIFY_SOCKET. Main thread. */
#ifndef OBK_SDNOTIFY_H
#define OBK_SDNOTIFY_H

/* Decides from the supervised directive (enum supervised_mode) and the environment whether
 * notifications are sent; returns 1 when they are (INFO's process_supervised:systemd). */
int sdnotify_setup(int supervised_mode);
/* 1 after sdnotify_setup chose systemd. */
int sdnotify_active(void);
/* Sends state ("READY=1\nSTATUS=...") when active. Returns 0 (sent or inactive) or -1. */
int sdnotify_send(const char *state);

#endif
