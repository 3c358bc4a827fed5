/*
 * systemd.h -- socket activation and readiness notification, spoken
 * directly (sd_listen_fds(3) and sd_notify(3) protocols) so that psyncd
 * needs no libsystemd and runs the same where there is no systemd.
 *
 * Layer 8, daemon: includes server.h.
 */
#ifndef PSYNCD_SYSTEMD_H
#define PSYNCD_SYSTEMD_H

#include <stddef.h>
#include <stdint.h>

struct server;

/*
 * The listening socket systemd passed us (LISTEN_PID/LISTEN_FDS), made
 * close-on-exec, with the variables removed from the environment.
 * Returns the fd, -1 if none was passed, or -2 with a message in cause if
 * what was passed is unusable (not exactly one listening AF_UNIX stream
 * socket).
 */
int	systemd_listen_fd(char *cause, size_t size);

/*
 * Open the notification socket named by $NOTIFY_SOCKET (a path, or
 * "@name" for the abstract namespace) and arm the watchdog timer if
 * $WATCHDOG_USEC is set for us.  No-op without $NOTIFY_SOCKET.
 */
void	systemd_init(struct server *);

/* Send state ("READY=1", "STOPPING=1", "STATUS=..."); no-op if unset. */
void	systemd_notify(struct server *, const char *state);

/* Close the notification socket and stop the timers. */
void	systemd_free(struct server *);

#endif
