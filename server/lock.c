/*
 * lock.c -- lock: like multiprocessing.Lock, but owned by a connection;
 * and the machinery rlock.c shares.
 *
 * A lock is free or held by one session; waiters are served FIFO and
 * each grant carries a fresh fencing token.  Its one hold is embedded, so
 * taking a lock allocates nothing beyond the object itself.  An rlock is
 * the same with a depth (hold.count): its holder re-enters at once.
 * cond.wait releases either fully and later queues here to get it back,
 * depth restored (its regrant hook).
 */
#include <stdio.h>

#include "session.h"
#include "lock.h"
#include "object.h"
#include "prim.h"
#include "request.h"
#include "model.h"
#include "wait.h"

#define LOCK(o)	((struct lock *)(o))

static bool
is_recursive(const struct object *o)
{
	return (o->type->kind == OBJ_RLOCK);
}

/* Give l to c now, at depth count. */
static uint64_t
lock_grant(struct model *m, struct lock *l, struct session *s,
    uint32_t count)
{
	l->hold.token = tokens_next(&m->tokens);
	l->hold.count = count;
	hold_link(&l->hold, &l->obj, s);
	return (l->hold.token);
}

/* Fill r with a grant: {acquired: true, count (rlock), token}. */
static void
grant_fields(struct reply *r, const struct lock *l)
{
	reply_bool(r, "acquired", true);
	if (is_recursive(&l->obj))
		reply_int(r, "count", l->hold.count);
	reply_int(r, "token", (json_int_t)l->hold.token);
}

static bool
lock_can_grant(const struct object *o, uint8_t mode)
{
	(void)mode;
	return (LOCK(o)->hold.sess == NULL);
}

static void
lock_grant_now(struct request *rq, struct object *o, uint8_t mode,
    struct reply *r)
{
	(void)mode;
	lock_grant(rq->model, LOCK(o), rq->sess, 1);
	grant_fields(r, LOCK(o));
}

static const struct acquire lock_acquire_steps = {
	.can_grant = lock_can_grant,
	.grant = lock_grant_now,
	.not_acquired = prim_not_acquired,
	.deadlock_checked = true,
};

enum hret
lock_acquire_op(struct request *rq, const struct objtype *t)
{
	struct object	*o;
	struct lock	*l;
	double		 timeout;

	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    object_get(rq, t, true, &o) != HR_DONE)
		return (HR_ERROR);
	l = LOCK(o);
	if (l->hold.sess == rq->sess) {
		if (!is_recursive(o))
			return (rq_fail(rq, PSYNC_ERR_WOULD_DEADLOCK,
			    "session %llu already holds lock '%s'",
			    (unsigned long long)rq->sess->id,
			    QUOTED_OBJ(o)));
		if (l->hold.count == UINT32_MAX)
			return (rq_fail(rq, PSYNC_ERR_WOULD_EXCEED,
			    "rlock '%s' is at its maximum depth",
			    QUOTED_OBJ(o)));
		l->hold.count++;	/* re-entry keeps the hold's token */
		grant_fields(rq_reply(rq), l);
		return (HR_DONE);
	}
	return (prim_acquire(rq, o, 0, timeout, &lock_acquire_steps));
}

enum hret
lock_release_op(struct request *rq, const struct objtype *t)
{
	struct object	*o;
	struct lock	*l;

	if (object_get(rq, t, false, &o) != HR_DONE)
		return (HR_ERROR);
	if (o == NULL || LOCK(o)->hold.sess != rq->sess)
		return (prim_not_owner(rq, t));
	l = LOCK(o);
	/* Settling hands a freed lock to the next waiter, if any. */
	if (--l->hold.count == 0)
		hold_unlink(rq->model, &l->hold);
	if (is_recursive(o))
		reply_int(rq_reply(rq), "count",
		    l->hold.sess != NULL ? l->hold.count : 0);
	return (HR_DONE);
}

void
lock_pump(struct model *m, struct object *o)
{
	struct lock	*l = LOCK(o);
	struct wait	*w;
	struct reply	 r;
	uint64_t	 token;

	if (l->hold.sess != NULL || (w = TAILQ_FIRST(&o->waiters)) == NULL)
		return;
	wait_reply_init(w, &r);
	if (w->regrant != NULL) {
		token = lock_grant(m, l, w->sess, w->regrant->depth(w));
		w->regrant->reply(w, token, &r);
	} else {
		lock_grant(m, l, w->sess, 1);
		grant_fields(&r, l);
	}
	wait_complete(m, w, &r);
}

void
lock_hold_lost(struct model *m, struct object *o, struct hold *h)
{
	(void)o;
	hold_unlink(m, h);
}

void
lock_describe(const struct object *o, json_t *out)
{
	json_object_set_new(out, "held", json_boolean(o->nholders > 0));
}

void
lock_describe_hold(const struct hold *h, json_t *out)
{
	if (is_recursive(h->obj))
		json_object_set_new(out, "count", json_integer(h->count));
	json_object_set_new(out, "token", json_integer((json_int_t)h->token));
}

static enum hret
lock_acquire(struct request *rq)
{
	return (lock_acquire_op(rq, &lock_type));
}

static enum hret
lock_release(struct request *rq)
{
	return (lock_release_op(rq, &lock_type));
}

static const struct verb lock_verbs[] = {
	{ PSYNC_OP_LOCK_ACQUIRE, lock_acquire },
	{ PSYNC_OP_LOCK_RELEASE, lock_release },
	{ 0, NULL }
};

const struct objtype lock_type = {
	.name = "lock",
	.article = "a",
	.kind = OBJ_LOCK,
	.size = sizeof(struct lock),
	.verbs = lock_verbs,
	.is_fresh = object_always_fresh,
	.pump = lock_pump,
	.hold_lost = lock_hold_lost,
	.timed_out = wait_timed_out_unacquired,
	.describe = lock_describe,
	.describe_hold = lock_describe_hold,
	.in_graph = true,
};
