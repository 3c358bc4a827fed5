/*
 * prim.c -- the acquire skeleton of lock, rlock, rwlock and semaphore.
 */
#include <sys/queue.h>

#include "conn.h"
#include "deadlock.h"
#include "object.h"
#include "prim.h"
#include "request.h"
#include "server.h"
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
	    deadlock_check(rq->srv, rq->conn, o, mode, msg, sizeof(msg)))
		return (rq_fail(rq, PSYNC_ERR_WOULD_DEADLOCK, "%s", msg));
	if (object_check_pending(rq, o->type) == -1)
		return (HR_ERROR);
	wait_new(rq, o, timeout, mode);
	return (HR_PENDING);
}

void
prim_not_acquired(const struct object *o, struct reply *r)
{
	(void)o;
	reply_bool(r, "acquired", false);
}
