/*
 * lock.c -- lock: like multiprocessing.Lock, but owned by a connection.
 *
 * A lock is free or held by one connection; waiters are served FIFO and
 * each grant carries a fresh fencing token.  Its one hold is embedded, so
 * taking a lock allocates nothing beyond the object itself.
 */
#include <stdio.h>

#include "conn.h"
#include "deadlock.h"
#include "object.h"
#include "request.h"
#include "server.h"
#include "wait.h"

struct lock {
	struct object	obj;
	struct hold	hold;		/* linked while held */
};

#define LOCK(o)	((struct lock *)(o))

/* Give l to c now. */
static uint64_t
lock_grant(struct server *srv, struct lock *l, struct conn *c)
{
	l->hold.token = tokens_next(&srv->tokens);
	hold_link(&l->hold, &l->obj, c);
	return (l->hold.token);
}

static int
lock_acquire(struct request *rq)
{
	struct object	*o;
	struct lock	*l;
	json_t		*r;
	double		 timeout;
	char		 msg[512], q[96];

	if (rq_timeout(rq, &timeout) == -1 ||
	    object_get(rq, &lock_type, true, &o) == -1)
		return (HR_ERROR);
	l = LOCK(o);
	if (l->hold.conn == rq->conn)
		return (rq_fail(rq, PSYNC_ERR_WOULD_DEADLOCK,
		    "session %llu already holds lock '%s'",
		    (unsigned long long)rq->conn->session,
		    quote(q, sizeof(q), object_name(o), o->namelen)));
	r = rq_reply(rq);
	if (l->hold.conn == NULL && TAILQ_EMPTY(&o->waiters)) {
		json_object_set_new(r, "acquired", json_true());
		json_object_set_new(r, "token", json_integer(
		    (json_int_t)lock_grant(rq->srv, l, rq->conn)));
		return (HR_DONE);
	}
	if (timeout == 0) {
		json_object_set_new(r, "acquired", json_false());
		return (HR_DONE);
	}
	if (deadlock_check(rq->srv, rq->conn, o, 0, msg, sizeof(msg)))
		return (rq_fail(rq, PSYNC_ERR_WOULD_DEADLOCK, "%s", msg));
	if (rq->conn->npending >= rq->srv->cfg.max_pending)
		return (rq_fail(rq, PSYNC_ERR_LIMIT, "pending request limit "
		    "(%u) reached on this connection",
		    rq->srv->cfg.max_pending));
	wait_new(rq, o, timeout, 0);
	return (HR_PENDING);
}

static int
lock_release(struct request *rq)
{
	struct object	*o;
	const char	*name;
	size_t		 len;
	char		 q[96];

	if (object_get(rq, &lock_type, false, &o) == -1)
		return (HR_ERROR);
	if (o == NULL || LOCK(o)->hold.conn != rq->conn) {
		rq_name(rq, "name", &name, &len);
		return (rq_fail(rq, PSYNC_ERR_NOT_OWNER,
		    "session %llu does not hold lock '%s'",
		    (unsigned long long)rq->conn->session,
		    quote(q, sizeof(q), name, len)));
	}
	/* Settling hands the lock to the next waiter, if any. */
	hold_unlink(rq->srv, &LOCK(o)->hold);
	rq_reply(rq);
	return (HR_DONE);
}

static void
lock_pump(struct server *srv, struct object *o)
{
	struct lock	*l = LOCK(o);
	struct wait	*w;
	json_t		*r;

	if (l->hold.conn != NULL || (w = TAILQ_FIRST(&o->waiters)) == NULL)
		return;
	r = wait_reply_new(w);
	json_object_set_new(r, "acquired", json_true());
	json_object_set_new(r, "token",
	    json_integer((json_int_t)lock_grant(srv, l, w->conn)));
	wait_complete(srv, w, r);
}

static void
lock_hold_lost(struct server *srv, struct object *o, struct hold *h)
{
	(void)o;
	hold_unlink(srv, h);
}

static void
lock_timed_out(struct server *srv, struct wait *w)
{
	json_t	*r;

	r = wait_reply_new(w);
	json_object_set_new(r, "acquired", json_false());
	wait_complete(srv, w, r);
}

static bool
lock_is_fresh(const struct object *o)
{
	(void)o;
	return (true);		/* free and unwaited is all a lock has */
}

static void
lock_describe(const struct object *o, json_t *out)
{
	json_object_set_new(out, "held", json_boolean(o->nholders > 0));
}

static void
lock_describe_hold(const struct hold *h, json_t *out)
{
	json_object_set_new(out, "token", json_integer((json_int_t)h->token));
}

static const struct verb lock_verbs[] = {
	{ PSYNC_OP_LOCK_ACQUIRE, lock_acquire },
	{ PSYNC_OP_LOCK_RELEASE, lock_release },
	{ 0, NULL }
};

const struct objtype lock_type = {
	.name = "lock",
	.kind = OBJ_LOCK,
	.size = sizeof(struct lock),
	.verbs = lock_verbs,
	.is_fresh = lock_is_fresh,
	.pump = lock_pump,
	.hold_lost = lock_hold_lost,
	.timed_out = lock_timed_out,
	.describe = lock_describe,
	.describe_hold = lock_describe_hold,
	.in_graph = true,
};
