/*
 * fuzz_common.c -- see fuzz_common.h.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "fuzz_common.h"
#include "object.h"
#include "objtab.h"
#include "server.h"
#include "wait.h"

struct server *
fz_server(void)
{
	static struct server	srv;	/* one at a time, reset per input */
	struct config		cfg;
	char			cause[256];

	config_defaults(&cfg);
	cfg.log_level = LOG_LEVEL_ERROR;
	cfg.max_objects = 64;
	cfg.max_pending = 8;
	cfg.max_line = 4096;
	cfg.max_output = 1 << 16;
	log_init(LOG_LEVEL_ERROR, 0);
	if (server_init(&srv, &cfg, cause, sizeof(cause)) == -1) {
		fprintf(stderr, "fuzz: %s\n", cause);
		abort();
	}
	return (&srv);
}

/* Is c still one of srv's open connections?  (Never dereferences c.) */
static bool
conn_alive(struct server *srv, const struct conn *c)
{
	struct conn	*x;

	TAILQ_FOREACH(x, &srv->clients.all, entry) {
		if (x == c)
			return (!(x->flags & CONN_CLOSING));
	}
	return (false);
}

void
fz_open(struct server *srv, struct fz_client *k, int pid)
{
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		abort();
	k->fd = sv[1];
	k->c = conn_new(&srv->clients, sv[0], pid, 1000, 1000);
}

void
fz_drain(struct fz_client *k)
{
	char	buf[65536];

	if (k->fd == -1)
		return;
	while (recv(k->fd, buf, sizeof(buf), 0) > 0)
		continue;
}

void
fz_send(struct server *srv, struct fz_client *k, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (k->c != NULL && len > 0) {
		n = send(k->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR)
			break;		/* the daemon closed its end */
		/* Let the daemon read (and answer) what the socket holds. */
		event_base_loop(srv->base, EVLOOP_NONBLOCK);
		fz_drain(k);
		/* A connection the daemon closed (too_large, cap) is gone. */
		if (!conn_alive(srv, k->c))
			k->c = NULL;
	}
}

void
fz_close(struct server *srv, struct fz_client *k)
{
	int	turns;

	if (k->fd == -1)
		return;
	if (close(k->fd) == -1)
		abort();
	k->fd = -1;
	/* End of input reaches the daemon through its read path. */
	for (turns = 0; turns < 8 && k->c != NULL &&
	    conn_alive(srv, k->c); turns++)
		event_base_loop(srv->base, EVLOOP_NONBLOCK);
	if (k->c != NULL && conn_alive(srv, k->c))
		conn_lost(k->c, false);
	k->c = NULL;
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
}

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "invariant broken: %s (%s:%d)\n",	\
			    #cond, __FILE__, __LINE__);			\
			abort();					\
		}							\
	} while (0)

void
fz_check(struct server *srv)
{
	struct objtab_link *l;
	struct object	*o;
	struct session	*s;
	struct wait	*w, *x;
	struct hold	*h;
	unsigned	 n;
	size_t		 objs = 0;

	for (l = objtab_first(&srv->model.objects); l != NULL;
	    l = objtab_next(l)) {
		o = object_of(l);
		objs++;
		n = 0;
		TAILQ_FOREACH(h, &o->holders, obj_entry) {
			CHECK(h->obj == o && h->sess != NULL);
			n++;
		}
		CHECK(n == o->nholders);
		if (o->type->kind == OBJ_LOCK || o->type->kind == OBJ_RLOCK)
			CHECK(o->nholders <= 1);
		n = 0;
		TAILQ_FOREACH(w, &o->waiters, obj_entry) {
			CHECK(w->obj == o);
			n++;
		}
		CHECK(n == o->nwaiters);
		/* Nothing free is left with someone waiting for it. */
		if ((o->type->kind == OBJ_LOCK || o->type->kind == OBJ_RLOCK) &&
		    o->nwaiters > 0)
			CHECK(o->nholders == 1);
	}
	CHECK(objs == srv->model.objects.count);
	TAILQ_FOREACH(s, &srv->model.sessions, entry) {
		n = 0;
		TAILQ_FOREACH(w, &s->waits, sess_entry) {
			CHECK(w->sess == s);
			/* In exactly its object's queue. */
			n = 0;
			TAILQ_FOREACH(x, &w->obj->waiters, obj_entry)
				n += x == w;
			CHECK(n == 1);
		}
		TAILQ_FOREACH(h, &s->holds, sess_entry)
			CHECK(h->sess == s);
	}
}

void
fz_free(struct server *srv, struct fz_client *k, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		fz_close(srv, &k[i]);
	server_free(srv);
}
