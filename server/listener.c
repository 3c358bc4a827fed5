/*
 * listener.c -- the listening socket: its directory, the lock beside it,
 * bind, accept, peer credentials and the connection limit.
 *
 * Layer 8, daemon: declared in server.h.
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "request.h"
#include "server.h"
#include "systemd.h"

/*
 * When accept() runs out of descriptors, pause this long before trying
 * again: the pending connection stays queued, and retrying at once would
 * spin, since the listening socket stays readable.
 */
#define ACCEPT_BACKOFF_MSEC	100

static void	listener_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	listener_error_cb(struct evconnlistener *, void *);
static void	listener_retry_cb(evutil_socket_t, short, void *);
static int	listener_start(struct server *, int, char *, size_t);

/*
 * Make sure the socket's directory exists and nobody else can swap the
 * socket in it: create it if missing (private for the per-user paths);
 * otherwise it must be ours (or root's) and writable by nobody else.
 */
static int
listener_dir(const struct config *cfg, char *cause, size_t size)
{
	char		 buf[sizeof(cfg->socket_path)], *dir;
	struct stat	 st;
	mode_t		 mode = cfg->socket_per_user ? 0700 : 0755;
	int		 r;

	snprintf(buf, sizeof(buf), "%s", cfg->socket_path);
	dir = dirname(buf);
	if (mkdir(dir, mode) == 0)
		log_info("created directory %s", dir);
	else if (errno != EEXIST) {
		snprintf(cause, size, "cannot create directory %s: %s", dir,
		    strerror(errno));
		return (-1);
	}
	/* Per-user fallbacks live in shared places: never follow a link. */
	r = cfg->socket_per_user ? lstat(dir, &st) : stat(dir, &st);
	if (r == -1) {
		snprintf(cause, size, "%s: %s", dir, strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(cause, size, "%s is not a directory", dir);
		return (-1);
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(cause, size, "directory %s belongs to uid %lu, not "
		    "to us: refusing to put the socket there", dir,
		    (unsigned long)st.st_uid);
		return (-1);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(cause, size, "directory %s is writable by others "
		    "(mode %03o): another user could replace the socket; "
		    "use a private directory", dir,
		    (unsigned)(st.st_mode & 0777));
		return (-1);
	}
	return (0);
}

/* Two daemons starting at once on one path: the lock decides. */
static int
listener_lock(struct server *srv, char *cause, size_t size)
{
	char	path[sizeof(srv->cfg.socket_path) + 8];

	snprintf(path, sizeof(path), "%s.lock", srv->cfg.socket_path);
	srv->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (srv->lock_fd == -1) {
		snprintf(cause, size, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (flock(srv->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			snprintf(cause, size, "another psyncd is running on "
			    "%s (%s is locked)", srv->cfg.socket_path, path);
		else
			snprintf(cause, size, "flock %s: %s", path,
			    strerror(errno));
		return (-1);
	}
	return (0);
}

/* A socket already at the path: refuse if live, remove if stale. */
static int
listener_clear_stale(const char *path, char *cause, size_t size)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, r, err;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return (0);
		snprintf(cause, size, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(cause, size, "%s exists and is not a socket", path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(cause, size, "socket: %s", strerror(errno));
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	err = errno;
	close(fd);
	if (r == 0) {
		snprintf(cause, size, "a psyncd is already serving %s", path);
		return (-1);
	}
	if (err != ECONNREFUSED && err != ENOENT) {
		snprintf(cause, size, "%s: %s", path, strerror(err));
		return (-1);
	}
	log_info("removing stale socket %s", path);
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(cause, size, "unlink %s: %s", path, strerror(errno));
		return (-1);
	}
	return (0);
}

int
listener_open(struct server *srv, char *cause, size_t size)
{
	struct sockaddr_un	 sun;
	const char		*path = srv->cfg.socket_path;
	mode_t			 old;
	int			 fd, r;

	/* Socket activation: systemd owns the path; we just accept. */
	if ((fd = systemd_listen_fd(cause, size)) == -2)
		return (-1);
	if (fd >= 0) {
		srv->activated = true;
		log_info("using the socket passed by systemd");
		return (listener_start(srv, fd, cause, size));
	}
	if (listener_dir(&srv->cfg, cause, size) == -1 ||
	    listener_lock(srv, cause, size) == -1 ||
	    listener_clear_stale(path, cause, size) == -1)
		return (-1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(cause, size, "socket: %s", strerror(errno));
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	/* The socket is born with its final mode: no window for others. */
	old = umask(~srv->cfg.socket_mode & 0777);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == -1) {
		snprintf(cause, size, "bind %s: %s", path, strerror(errno));
		close(fd);
		return (-1);
	}
	srv->bound = true;
	if (listen(fd, SOMAXCONN) == -1) {
		snprintf(cause, size, "listen %s: %s", path, strerror(errno));
		close(fd);
		return (-1);
	}
	log_info("listening on %s (mode %04o)", path,
	    (unsigned)srv->cfg.socket_mode);
	return (listener_start(srv, fd, cause, size));
}

/* Accept on the listening socket fd (owned from now on). */
static int
listener_start(struct server *srv, int fd, char *cause, size_t size)
{
	srv->listener = evconnlistener_new(srv->base, listener_accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	srv->accept_retry = evtimer_new(srv->base, listener_retry_cb, srv);
	if (srv->listener == NULL || srv->accept_retry == NULL) {
		if (srv->listener == NULL)
			close(fd);
		snprintf(cause, size, "cannot accept on %s",
		    srv->cfg.socket_path);
		return (-1);
	}
	evconnlistener_set_error_cb(srv->listener, listener_error_cb);
	return (0);
}

/*
 * A refused peer whose input is drained before the close: closing a
 * socket with unread input resets it, and the peer (socat, mid-send)
 * would get EPIPE and never read its one line.  At most REFUSED_MAX at a
 * time, each for at most REFUSED_LINGER_SECS.
 */
struct refused {
	TAILQ_ENTRY(refused)	 entry;
	struct server		*srv;
	struct event		*ev;
	int			 fd;
	struct timeval		 deadline;	/* the loop's clock */
};

#define REFUSED_MAX		64
#define REFUSED_LINGER_SECS	1

static void
refused_close(struct refused *r)
{
	TAILQ_REMOVE(&r->srv->refused, r, entry);
	r->srv->nrefused--;
	event_free(r->ev);
	if (close(r->fd) == -1)
		log_warn("listener: close a refused peer: %s", strerror(errno));
	free(r);
}

/* Drop what the refused peer sends; close at its EOF or the deadline. */
static void
refused_cb(evutil_socket_t fd, short what, void *arg)
{
	struct refused	*r = arg;
	char		 buf[4096];
	ssize_t		 n;

	struct timeval	 now, left;

	if (what & EV_TIMEOUT) {
		refused_close(r);
		return;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		refused_close(r);
		return;
	}
	/* One deadline in all: a peer that dribbles cannot stay longer. */
	if (event_base_gettimeofday_cached(r->srv->base, &now) == -1 ||
	    !timercmp(&now, &r->deadline, <)) {
		refused_close(r);
		return;
	}
	timersub(&r->deadline, &now, &left);
	if (event_add(r->ev, &left) == -1)
		refused_close(r);
}

/*
 * Send one unasked error line to a refused peer, shut our side, drain
 * its input for a moment, then close.
 */
static void
listener_refuse(struct server *srv, evutil_socket_t fd, enum psync_err err,
    const char *msg)
{
	struct timeval	 tv = { REFUSED_LINGER_SECS, 0 }, now;
	struct refused	*r;
	struct reply	 reply;
	char		 line[512];
	size_t		 n;

	reply_init(&reply, NULL);
	reply_set_error(&reply, err, msg);
	n = reply_encode(&reply, line, sizeof(line) - 1);
	if (n > 0 && n < sizeof(line) - 1) {
		line[n++] = '\n';
		if (send(fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
			log_debug("listener_refuse: send: %s",
			    strerror(errno));
	}
	if (shutdown(fd, SHUT_WR) == 0 && srv->nrefused < REFUSED_MAX &&
	    (r = calloc(1, sizeof(*r))) != NULL) {
		r->srv = srv;
		r->fd = fd;
		r->ev = event_new(srv->base, fd, EV_READ, refused_cb, r);
		if (event_base_gettimeofday_cached(srv->base, &now) == -1)
			timerclear(&now);
		timeradd(&now, &tv, &r->deadline);
		if (r->ev != NULL && event_add(r->ev, &tv) == 0) {
			TAILQ_INSERT_TAIL(&srv->refused, r, entry);
			srv->nrefused++;
			return;
		}
		if (r->ev != NULL)
			event_free(r->ev);
		free(r);
	}
	if (close(fd) == -1)
		log_warn("listener_refuse: close: %s", strerror(errno));
}

/*
 * May a peer with this uid and primary gid connect?  Without any
 * --allow-uid/--allow-gid the socket's mode decides; with them, a listed
 * uid or gid is needed, root included.
 */
static bool
listener_allowed(const struct config *cfg, uid_t uid, gid_t gid)
{
	unsigned	i;

	if (cfg->n_allow_uid == 0 && cfg->n_allow_gid == 0)
		return (true);
	for (i = 0; i < cfg->n_allow_uid; i++)
		if (cfg->allow_uid[i] == uid)
			return (true);
	for (i = 0; i < cfg->n_allow_gid; i++)
		if (cfg->allow_gid[i] == gid)
			return (true);
	return (false);
}

static void
listener_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct server	*srv = arg;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	char		 msg[160];

	(void)l;
	(void)sa;
	(void)socklen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("accept: SO_PEERCRED: %s", strerror(errno));
		if (close(fd) == -1)
			log_warn("accept: close: %s", strerror(errno));
		return;
	}
	if (!listener_allowed(&srv->cfg, cred.uid, cred.gid)) {
		log_limited(&srv->refusals, LOG_LEVEL_WARN, "refusing pid %ld "
		    "uid %lu gid %lu: not in --allow-uid/--allow-gid",
		    (long)cred.pid, (unsigned long)cred.uid,
		    (unsigned long)cred.gid);
		snprintf(msg, sizeof(msg), "uid %lu (gid %lu) may not use this "
		    "psyncd: it is not in --allow-uid or --allow-gid",
		    (unsigned long)cred.uid, (unsigned long)cred.gid);
		listener_refuse(srv, fd, PSYNC_ERR_FORBIDDEN, msg);
		return;
	}
	if (srv->clients.n >= srv->cfg.max_connections) {
		log_limited(&srv->refusals, LOG_LEVEL_WARN, "connection limit "
		    "(%u) reached; refusing pid %ld uid %lu",
		    srv->cfg.max_connections, (long)cred.pid,
		    (unsigned long)cred.uid);
		snprintf(msg, sizeof(msg), "connection limit reached: %u "
		    "connections (--max-connections)", srv->clients.n);
		listener_refuse(srv, fd, PSYNC_ERR_LIMIT, msg);
		return;
	}
	conn_accept(&srv->clients, fd, cred.pid, cred.uid, cred.gid);
}

static void
listener_error_cb(struct evconnlistener *l, void *arg)
{
	struct server	*srv = arg;
	int		 err = EVUTIL_SOCKET_ERROR();
	struct timeval	 tv = { 0, ACCEPT_BACKOFF_MSEC * 1000 };

	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		log_warn("accept: %s; pausing accepts for %d ms",
		    strerror(err), ACCEPT_BACKOFF_MSEC);
		if (evconnlistener_disable(l) == -1 ||
		    evtimer_add(srv->accept_retry, &tv) == -1)
			log_error("accept: cannot pause the listener");
		return;
	}
	log_warn("accept: %s", strerror(err));
}

static void
listener_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
	if (srv->listener != NULL && !srv->stopping &&
	    evconnlistener_enable(srv->listener) == -1)
		log_error("accept: cannot resume the listener");
}

void
listener_close(struct server *srv)
{
	if (srv->accept_retry != NULL)
		evtimer_del(srv->accept_retry);
	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
}

void
listener_cleanup(struct server *srv)
{
	listener_close(srv);
	while (!TAILQ_EMPTY(&srv->refused))
		refused_close(TAILQ_FIRST(&srv->refused));
	if (srv->accept_retry != NULL) {
		event_free(srv->accept_retry);
		srv->accept_retry = NULL;
	}
	if (srv->bound && unlink(srv->cfg.socket_path) == -1 &&
	    errno != ENOENT)
		log_warn("unlink %s: %s", srv->cfg.socket_path,
		    strerror(errno));
	srv->bound = false;
	if (srv->lock_fd != -1 && close(srv->lock_fd) == -1)
		log_warn("close lock file: %s", strerror(errno));
	srv->lock_fd = -1;
}

void
listener_raise_nofile(const struct config *cfg)
{
	struct rlimit	rl;
	/* A socket per connection, a pidfd per connecting process. */
	rlim_t		want = 2 * (rlim_t)cfg->max_connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		log_warn("the hard open-file limit (%lu) allows only about "
		    "%lu of the %u connections --max-connections asks for",
		    (unsigned long)rl.rlim_max,
		    (unsigned long)(rl.rlim_max > 64 ? (rl.rlim_max - 64) / 2 :
		    0),
		    cfg->max_connections);
		want = rl.rlim_max;
	}
	log_info("raising the open-file limit from %lu to %lu for "
	    "--max-connections %u", (unsigned long)rl.rlim_cur,
	    (unsigned long)want, cfg->max_connections);
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
}
