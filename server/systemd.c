/*
 * systemd.c -- socket activation, readiness, status and watchdog.
 *
 * The protocols are small and documented as stable (sd_listen_fds(3),
 * sd_notify(3)): passed sockets start at fd 3, and notifications are
 * datagrams of "KEY=value" lines to $NOTIFY_SOCKET.  Speaking them
 * directly keeps libsystemd out of the build.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "server.h"
#include "systemd.h"

#define LISTEN_FDS_START	3

/* How often STATUS= is refreshed while someone listens for it. */
#define STATUS_INTERVAL_SECS	5

int
systemd_listen_fd(char *cause, size_t size)
{
	const char	*pid_s, *fds_s;
	int		 fd = LISTEN_FDS_START, type = 0, listening = 0;
	socklen_t	 len;
	struct sockaddr_un sun;
	long		 n;

	pid_s = getenv("LISTEN_PID");
	fds_s = getenv("LISTEN_FDS");
	if (pid_s == NULL || fds_s == NULL || strtol(pid_s, NULL, 10) !=
	    (long)getpid())
		return (-1);
	n = strtol(fds_s, NULL, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n == 0)
		return (-1);
	if (n != 1) {
		snprintf(cause, size, "systemd passed %ld sockets; psyncd "
		    "serves exactly one", n);
		return (-2);
	}
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM) {
		snprintf(cause, size, "the socket systemd passed is not a "
		    "stream socket");
		return (-2);
	}
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1 ||
	    !listening) {
		snprintf(cause, size, "the socket systemd passed is not "
		    "listening");
		return (-2);
	}
	len = sizeof(sun);
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    sun.sun_family != AF_UNIX) {
		snprintf(cause, size, "the socket systemd passed is not a "
		    "Unix-domain socket");
		return (-2);
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		snprintf(cause, size, "fcntl on the passed socket: %s",
		    strerror(errno));
		return (-2);
	}
	return (fd);
}

static void
systemd_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	char		 status[128];

	(void)fd;
	(void)what;
	snprintf(status, sizeof(status), "STATUS=%u connections, %zu objects, "
	    "%llu requests served", srv->clients.n, srv->model.objects.count,
	    (unsigned long long)srv->model.ops);
	systemd_notify(srv, status);
}

static void
systemd_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* Sent from the loop itself: a wedged loop stops the pings. */
	systemd_notify(arg, "WATCHDOG=1");
}

void
systemd_init(struct server *srv)
{
	const char	*path, *usec_s, *pid_s;
	struct timeval	 tv;
	long long	 usec;

	srv->notify_fd = -1;
	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return;
	if ((path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(srv->notify_addr.sun_path)) {
		log_warn("NOTIFY_SOCKET '%s' is not usable", path);
		return;
	}
	srv->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (srv->notify_fd == -1) {
		log_warn("systemd_init: socket: %s", strerror(errno));
		return;
	}
	memset(&srv->notify_addr, 0, sizeof(srv->notify_addr));
	srv->notify_addr.sun_family = AF_UNIX;
	memcpy(srv->notify_addr.sun_path, path, strlen(path));
	srv->notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	if (path[0] == '@')
		srv->notify_addr.sun_path[0] = '\0';	/* abstract */
	else
		srv->notify_len++;			/* with the NUL */

	srv->status_timer = event_new(srv->base, -1, EV_PERSIST,
	    systemd_status_cb, srv);
	tv.tv_sec = STATUS_INTERVAL_SECS;
	tv.tv_usec = 0;
	if (srv->status_timer == NULL ||
	    event_add(srv->status_timer, &tv) == -1)
		log_warn("systemd_init: cannot arm the status timer");

	usec_s = getenv("WATCHDOG_USEC");
	pid_s = getenv("WATCHDOG_PID");
	if (usec_s == NULL || (pid_s != NULL &&
	    strtol(pid_s, NULL, 10) != (long)getpid()))
		return;
	if ((usec = strtoll(usec_s, NULL, 10)) <= 0)
		return;
	/* Ping at half the interval, as sd_watchdog_enabled(3) advises. */
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	srv->watchdog_timer = event_new(srv->base, -1, EV_PERSIST,
	    systemd_watchdog_cb, srv);
	if (srv->watchdog_timer == NULL ||
	    event_add(srv->watchdog_timer, &tv) == -1)
		log_warn("systemd_init: cannot arm the watchdog timer");
	else
		log_info("watchdog pings every %lld ms", usec / 1000);
}

void
systemd_notify(struct server *srv, const char *state)
{
	if (srv->notify_fd == -1)
		return;
	if (sendto(srv->notify_fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&srv->notify_addr, srv->notify_len) == -1)
		log_debug("systemd_notify: sendto: %s", strerror(errno));
}

void
systemd_free(struct server *srv)
{
	if (srv->status_timer != NULL)
		event_free(srv->status_timer);
	if (srv->watchdog_timer != NULL)
		event_free(srv->watchdog_timer);
	srv->status_timer = srv->watchdog_timer = NULL;
	if (srv->notify_fd != -1 && close(srv->notify_fd) == -1)
		log_warn("systemd_free: close: %s", strerror(errno));
	srv->notify_fd = -1;
}
