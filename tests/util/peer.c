/*
 * peer.c -- unit-test clients of an in-process server: each is one end of
 * a socketpair whose other end is a real struct conn, so requests go
 * through the daemon's own read path, framing, dispatch and replies; no
 * daemon process, no listener.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "conn.h"
#include "harness.h"
#include "peer.h"
#include "server.h"

void
srv_start(struct server *srv, void (*tweak)(struct config *))
{
	struct config	cfg;
	char		cause[256];

	config_defaults(&cfg);
	cfg.log_level = LOG_LEVEL_ERROR;
	log_init(cfg.log_level, 0);
	if (tweak != NULL)
		tweak(&cfg);
	ck_assert_msg(server_init(srv, &cfg, cause, sizeof(cause)) == 0,
	    "%s", cause);
}

void
peer_open(struct server *srv, struct peer *p, pid_t pid)
{
	int	sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	p->srv = srv;
	p->fd = sv[1];
	ck_assert_ptr_nonnull(p->in = evbuffer_new());
	p->c = conn_new(&srv->clients, sv[0], pid, 1000, 1000);
	ck_assert_ptr_nonnull(p->c);
}

/* Write all of buf, letting the server read when the socket is full. */
static void
peer_write(struct server *srv, struct peer *p, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(p->fd, buf, len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			event_base_loop(srv->base, EVLOOP_NONBLOCK);
			continue;
		}
		ck_assert_msg(n > 0, "peer write: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
}

void
peer_send(struct server *srv, struct peer *p, const char *line)
{
	peer_write(srv, p, line, strlen(line));
	peer_write(srv, p, "\n", 1);
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
}

/* The next reply already queued for p, or NULL. */
json_t *
peer_recv(struct peer *p)
{
	char	*line;
	size_t	 n;
	json_t	*j;

	/* Replies are written at the end of the loop turn: let it run. */
	event_base_loop(p->srv->base, EVLOOP_NONBLOCK);
	while (evbuffer_read(p->in, p->fd, 65536) > 0)
		continue;
	line = evbuffer_readln(p->in, &n, EVBUFFER_EOL_LF);
	if (line == NULL)
		return (NULL);
	j = json_loadb(line, n, 0, NULL);
	ck_assert_msg(j != NULL, "bad reply line: %s", line);
	free(line);
	return (j);
}

/* Run the loop (timers included) until p has a reply or secs pass. */
json_t *
peer_wait(struct server *srv, struct peer *p, double secs)
{
	double	 deadline = now_s() + secs;
	json_t	*j;

	while ((j = peer_recv(p)) == NULL && now_s() < deadline)
		event_base_loop(srv->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	return (j);
}

json_t *
peer_call(struct server *srv, struct peer *p, const char *line)
{
	json_t	*j;

	peer_send(srv, p, line);
	j = peer_recv(p);
	ck_assert_msg(j != NULL, "no immediate reply to %s", line);
	return (j);
}

/* Assert the reply to line is ok and return it (caller frees). */
json_t *
ok_call(struct server *srv, struct peer *p, const char *line)
{
	json_t	*j = peer_call(srv, p, line);

	ck_ok(j);
	return (j);
}

void
expect_nothing(struct peer *p)
{
	json_t	*j = peer_recv(p);

	ck_assert_msg(j == NULL, "unexpected reply: %s", j_dump(j));
}

void
peer_shrink_buffers(struct peer *p)
{
	int	size = 1;	/* the kernel rounds it up to its minimum */

	ck_assert_int_eq(setsockopt(p->c->fd, SOL_SOCKET, SO_SNDBUF, &size,
	    sizeof(size)), 0);
	ck_assert_int_eq(setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &size,
	    sizeof(size)), 0);
}

void
srv_finish(struct server *srv, struct peer *peers, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(close(peers[i].fd), 0);
		evbuffer_free(peers[i].in);
	}
	server_free(srv);
}

