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

enum hret
prim_sem_params(struct request *rq, struct sem_params *p, bool *given)
{
	*given = json_object_get(rq->json, "value") != NULL;
	if (rq_int(rq, "value", false, 0, &p->value) != HR_DONE ||
	    rq_bool(rq, "bounded", false, &p->bounded) != HR_DONE ||
	    rq_bool(rq, "owned", true, &p->owned) != HR_DONE)
		return (HR_ERROR);
	if (p->value < 0 || p->value > SEM_VALUE_MAX)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "field 'value' "
		    "must be from 0 to 2^53"));
	return (HR_DONE);
}

void
prim_sem_say(const struct sem_params *p, char *buf, size_t size)
{
	snprintf(buf, size, "value %lld, bounded %s, owned %s",
	    (long long)p->value, p->bounded ? "true" : "false",
	    p->owned ? "true" : "false");
}

enum hret
prim_sem_units(struct request *rq, json_int_t *n)
{
	if (rq_int(rq, "n", false, 1, n) != HR_DONE)
		return (HR_ERROR);
	if (*n < 1 || *n > SEM_VALUE_MAX)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'n' must be from 1 to 2^53"));
	return (HR_DONE);
}

enum hret
prim_barrier_parties(struct request *rq, json_int_t *parties, bool *given)
{
	*given = json_object_get(rq->json, "parties") != NULL;
	if (rq_int(rq, "parties", false, 0, parties) != HR_DONE)
		return (HR_ERROR);
	if (*given && (*parties < 1 || *parties > BARRIER_PARTIES_MAX))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "field 'parties' "
		    "must be from 1 to %d", BARRIER_PARTIES_MAX));
	return (HR_DONE);
}

enum hret
prim_notify_n(struct request *rq, json_int_t *n)
{
	if (rq_int(rq, "n", false, 1, n) != HR_DONE)
		return (HR_ERROR);
	if (*n < 0)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'n' must not be negative"));
	return (HR_DONE);
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
