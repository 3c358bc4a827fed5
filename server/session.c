/*
 * session.c -- a client's session: its start, its end, who it is.
 *
 * session_lost() is the one place where a session's holds and waits are
 * released: waits first, so that releasing a hold can never grant it to
 * one of the session's own pending requests; then holds; then its
 * temporary objects; then everything freed is handed on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "object.h"
#include "request.h"
#include "session.h"
#include "wait.h"
#include "xmalloc.h"

void
session_open(struct model *m, struct session *s,
    const struct session_ops *ops, pid_t pid, uid_t uid, gid_t gid)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->model = m;
	s->id = ++m->next_session;
	s->pid = pid;
	s->uid = uid;
	s->gid = gid;
	TAILQ_INIT(&s->waits);
	TAILQ_INIT(&s->holds);
	TAILQ_INIT(&s->temps);
	TAILQ_INSERT_TAIL(&m->sessions, s, entry);
}

void
session_fail_waits(struct session *s, enum wait_end why)
{
	struct wait	*w;

	while ((w = TAILQ_FIRST(&s->waits)) != NULL)
		wait_end(s->model, w, why);
}

void
session_lost(struct session *s)
{
	struct model	*m = s->model;
	struct hold	*h;

	if (s->ended)
		return;
	s->ended = true;
	session_fail_waits(s, WAIT_SESSION_LOST);
	while ((h = TAILQ_FIRST(&s->holds)) != NULL)
		h->obj->type->hold_lost(m, h->obj, h);
	/* Its temporary objects go with it, whoever else waits on them. */
	object_delete_temps(m, s);
	if (m->session_ending != NULL)
		m->session_ending(s);
	TAILQ_REMOVE(&m->sessions, s, entry);
	free(s->client);
	s->client = NULL;
	/* Hand every freed object to its next waiter now. */
	object_settle_all(m);
}

void
session_send(struct session *s, const struct reply *reply, bool first)
{
	s->ops->send(s, reply, first);
}

void
session_set_client(struct session *s, const char *name, size_t len)
{
	free(s->client);
	s->client = xstrndup(name, len);
}

const char *
session_who(const struct session *s, char *buf, size_t size)
{
	snprintf(buf, size, "session %llu (pid %ld)",
	    (unsigned long long)s->id, (long)s->pid);
	return (buf);
}

json_t *
session_describe(const struct session *s)
{
	json_t	*d;

	d = json_object();
	json_object_set_new(d, "session", json_integer((json_int_t)s->id));
	json_object_set_new(d, "pid", json_integer(s->pid));
	json_object_set_new(d, "uid", json_integer(s->uid));
	json_object_set_new(d, "client",
	    s->client != NULL ? json_string(s->client) : json_null());
	return (d);
}

void
session_summarize(const struct session *s, char *buf, size_t size)
{
	const struct hold	*h;
	size_t			 len = 0, nholds = 0;

	TAILQ_FOREACH(h, &s->holds, sess_entry) {
		if (nholds++ < 5 && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s "
			    "'%s'", nholds == 1 ? "released " : ", ",
			    h->obj->type->name, QUOTED_OBJ(h->obj));
	}
	if (nholds > 5 && len < size)
		len += (size_t)snprintf(buf + len, size - len, " and %zu more",
		    nholds - 5);
	if (nholds == 0 && len < size)
		len += (size_t)snprintf(buf + len, size - len, "held nothing");
	if (len < size)
		snprintf(buf + len, size - len, "; %u pending request%s "
		    "dropped", s->npending, s->npending == 1 ? "" : "s");
}
