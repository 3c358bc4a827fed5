/*
 * peer.c -- unit-test clients of an in-process server: each is one end of
 * a bufferevent pair whose other end is a real struct conn, so requests go
 * through the daemon's own framing, dispatch and reply path, no socket.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
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
	struct bufferevent	*pair[2];

	ck_assert_int_eq(bufferevent_pair_new(srv->base, 0, pair), 0);
	p->bev = pair[1];
	ck_assert_int_eq(bufferevent_enable(p->bev, EV_READ), 0);
	p->c = conn_new_bev(srv, pair[0], pid, 1000, 1000);
	ck_assert_ptr_nonnull(p->c);
}

void
peer_send(struct server *srv, struct peer *p, const char *line)
{
	ck_assert_int_eq(bufferevent_write(p->bev, line, strlen(line)), 0);
	ck_assert_int_eq(bufferevent_write(p->bev, "\n", 1), 0);
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
	event_base_loop(bufferevent_get_base(p->bev), EVLOOP_NONBLOCK);
	line = evbuffer_readln(bufferevent_get_input(p->bev), &n,
	    EVBUFFER_EOL_LF);
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
srv_finish(struct server *srv, struct peer *peers, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		bufferevent_free(peers[i].bev);
	server_free(srv);
}

