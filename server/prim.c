/*
 * prim.c -- the acquire skeleton of lock, rlock, rwlock and semaphore.
 */
#include <sys/queue.h>

#include <stdio.h>

#include "session.h"
#include "deadlock.h"
#include "object.h"
#include "prim.h"
#include "request.h"
#include "model.h"
#include "wait.h"

enum hret
prim_acquire(struct request *rq, struct object *o, uint8_t mode,
    double timeout, const struct acquire *a)
{
	char	msg[1024];

	/* FIFO: a free object still goes to those who queued first. */
	if (TAILQ_EMPTY(&o->waiters) && a->can_grant(o, mode)) {
		a->grant(rq, o, mode, rq_reply(rq));
		return (HR_DONE);
	}
	if (timeout == 0) {
		a->not_acquired(o, rq_reply(rq));
		return (HR_DONE);
	}
	if (a->deadlock_checked &&
	    deadlock_check(rq->model, rq->sess, o, mode, msg, sizeof(msg)))
		return (rq_fail(rq, PSYNC_ERR_WOULD_DEADLOCK, "%s", msg));
	if (object_check_pending(rq, o->type) != HR_DONE)
		return (HR_ERROR);
	wait_new(rq, o, timeout, mode, sizeof(struct wait));
	return (HR_PENDING);
}

void
prim_not_acquired(const struct object *o, struct reply *r)
{
	(void)o;
	reply_bool(r, "acquired", false);
}

enum hret
prim_open(struct request *rq, const struct objtype *t, bool given,
    const void *params, const struct params *p, struct object **out)
{
	struct object	*o;
	char		 has[160], asked[160];

	if (object_get(rq, t, false, &o) != HR_DONE)
		return (HR_ERROR);
	if (o != NULL) {
		if (given && !p->match(o, params)) {
			p->say(o, params, has, sizeof(has));
			p->say(NULL, params, asked, sizeof(asked));
			return (rq_fail(rq, PSYNC_ERR_PARAM_MISMATCH, "%s '%s' "
			    "exists with %s; this request has %s", t->name,
			    QUOTED_OBJ(o), has, asked));
		}
		*out = o;
		return (HR_DONE);
	}
	if (!given)
		return (rq_fail(rq, PSYNC_ERR_NOT_FOUND, "no %s '%s' (give %s "
		    "to create it)", t->name, QUOTED_NAME(rq),
		    p->create_with));
	if ((o = object_create(rq, t)) == NULL)
		return (HR_ERROR);
	p->apply(o, params);
	*out = o;
	return (HR_DONE);
}

enum hret
prim_not_owner(struct request *rq, const struct objtype *t)
{

	return (rq_fail(rq, PSYNC_ERR_NOT_OWNER, "session %llu does not hold "
	    "%s '%s'", (unsigned long long)rq->sess->id, t->name,
	    QUOTED_NAME(rq)));
}
