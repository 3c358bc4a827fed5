/*
 * dispatch.c -- op name -> handler, built from each primitive's verbs;
 * a request line in, its reply out.
 *
 * Adding a primitive is adding its file, its ops in proto/psync_proto.h
 * and its line below.
 */
#include "cluster.h"
#include "dispatch.h"
#include "object.h"
#include "psync_proto.h"
#include "request.h"
#include "session.h"

const struct objtype *const objtypes[OBJ__COUNT] = {
	[OBJ_LOCK] = &lock_type,
	[OBJ_RLOCK] = &rlock_type,
	[OBJ_RWLOCK] = &rwlock_type,
	[OBJ_EVENT] = &event_type,
	[OBJ_COND] = &cond_type,
	[OBJ_SEM] = &sem_type,
	[OBJ_BARRIER] = &barrier_type,
	[OBJ_COUNTER] = &counter_type,
};

static void
dispatch_add(handler_fn handlers[], const struct verb *v)
{
	for (; v->handler != NULL; v++)
		handlers[v->op] = v->handler;
}

void
dispatch_init(handler_fn handlers[])
{
	int	k;

	dispatch_add(handlers, admin_verbs);
	for (k = 0; k < OBJ__COUNT; k++)
		dispatch_add(handlers, objtypes[k]->verbs);
}

void
dispatch_line(struct model *m, struct session *s, const char *line,
    size_t len)
{
	struct request	 rq;
	struct object	*o;
	handler_fn	 h;
	enum hret	 r;

	request_init(&rq, m, s);
	m->ops++;
	r = request_decode(&rq, line, len, m->handlers);
	if (r == HR_DONE) {
		/* A cluster name goes to its backend; one test without one. */
		if (m->cluster == NULL ||
		    (h = cluster_route(m->cluster, &rq)) == NULL)
			h = m->handlers[rq.op];
		r = h(&rq);
	}
	switch (r) {
	case HR_DONE:
		session_send(s, &rq.reply, false);
		break;
	case HR_PENDING:
		break;
	case HR_ERROR:
		/*
		 * A refused request creates nothing: a semaphore made from
		 * its parameters before the release or the pending limit
		 * refused it goes again.
		 */
		if ((o = rq.created) != NULL && o->nholders == 0 &&
		    o->nwaiters == 0 && o->pins == 0)
			object_destroy(m, o);
		reply_clear(&rq.reply);
		reply_set_error(&rq.reply, rq.err, rq.msg);
		session_send(s, &rq.reply, false);
		break;
	}
	request_done(&rq);
	object_settle_all(m);
}
