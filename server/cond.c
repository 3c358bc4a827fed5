/*
 * cond.c -- condition: like multiprocessing.Condition, over a lock or an
 * rlock the caller holds.
 *
 * cond.wait releases the lock fully (remembering an rlock's depth) and
 * sits in the condition's queue, pinning the lock so that it neither
 * vanishes nor changes type.  A notify (or the timeout) moves the wait to
 * the tail of the lock's queue, behind acquirers already there; the lock's
 * pump grants it like any acquirer, depth restored, and only then does the
 * reply {notified, token} go out.  The timeout bounds only the wait for a
 * notify, never the re-acquisition.
 *
 * Layer 5, primitives.
 */
#include <stdio.h>

#include "model.h"
#include "object.h"
#include "prim.h"
#include "request.h"
#include "session.h"
#include "wait.h"

struct cond {
	struct object	obj;
};

/* A cond.wait: what it needs to take its lock back. */
struct cond_wait {
	struct wait	 w;
	struct object	*lock;		/* pinned while on the condition */
	uint32_t	 depth;		/* the rlock depth it released */
	bool		 notified;
};

#define CW(w)	((struct cond_wait *)(w))
#define CCW(w)	((const struct cond_wait *)(w))

static uint32_t
cond_regrant_depth(const struct wait *w)
{
	return (CCW(w)->depth);
}

/* The reply of a cond.wait that has its lock back. */
static void
cond_regrant_reply(const struct wait *w, uint64_t token, struct reply *r)
{
	reply_bool(r, "notified", CCW(w)->notified);
	reply_int(r, "token", (json_int_t)token);
}

static void
cond_regrant_deleted(const struct wait *w, char *msg, size_t size)
{
	snprintf(msg, size, "%s '%s' was deleted while this cond.wait "
	    "waited to take it back; it is not held", w->obj->type->name,
	    QUOTED_OBJ(w->obj));
}

/* How a notified cond.wait is granted its lock. */
static const struct regrant cond_regrant = {
	.depth = cond_regrant_depth,
	.reply = cond_regrant_reply,
	.deleted = cond_regrant_deleted,
};

static bool
is_lock(const struct object *o)
{
	/* A cluster lock has the kind but not the type: see cluster.c. */
	return (o->type == &lock_type || o->type == &rlock_type);
}

static enum hret
cond_wait(struct request *rq)
{
	struct object	*co, *lo;
	struct hold	*h;
	struct cond_wait *cw;
	const char	*lname;
	size_t		 llen;
	double		 timeout;

	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    rq_name(rq, "lock", &lname, &llen) != HR_DONE ||
	    object_get(rq, &cond_type, false, &co) != HR_DONE)
		return (HR_ERROR);
	lo = object_find(rq->model, lname, llen);
	if (lo != NULL && !is_lock(lo) && (lo->type->kind == OBJ_LOCK ||
	    lo->type->kind == OBJ_RLOCK))
		return (rq_fail(rq, PSYNC_ERR_TYPE_MISMATCH, "'%s' is a cluster "
		    "%s: a cond.wait over it must be on a cluster condition "
		    "(a name under the --cluster-prefix)", QUOTED(lname, llen),
		    lo->type->name));
	if (lo != NULL && !is_lock(lo))
		return (rq_fail(rq, PSYNC_ERR_TYPE_MISMATCH, "'%s' is %s %s; "
		    "cond.wait needs a lock or an rlock",
		    QUOTED(lname, llen), lo->type->article,
		    lo->type->name));
	if (lo == NULL || (h = TAILQ_FIRST(&lo->holders)) == NULL ||
	    h->sess != rq->sess)
		return (rq_fail(rq, PSYNC_ERR_NOT_OWNER, "session %llu does "
		    "not hold '%s'", (unsigned long long)rq->sess->id,
		    QUOTED(lname, llen)));
	if (object_check_pending(rq, &cond_type) != HR_DONE)
		return (HR_ERROR);
	if (co == NULL && (co = object_create(rq, &cond_type)) == NULL)
		return (HR_ERROR);
	cw = CW(wait_new(rq, co, timeout, 0, sizeof(*cw)));
	cw->depth = h->count;
	cw->lock = lo;
	lo->pins++;
	hold_unlink(rq->model, h);	/* settling hands it on */
	return (HR_PENDING);
}

/* Move w from the condition to its lock's queue. */
static void
cond_wake(struct model *m, struct wait *w, bool notified)
{
	struct object	*lo = CW(w)->lock;

	CW(w)->notified = notified;
	CW(w)->lock = NULL;
	lo->pins--;
	w->regrant = &cond_regrant;
	wait_move(m, w, lo);
}

static enum hret
cond_notify_n(struct request *rq, json_int_t n)
{
	struct object	*co;
	struct wait	*w;
	json_int_t	 woken = 0;

	if (object_get(rq, &cond_type, false, &co) != HR_DONE)
		return (HR_ERROR);
	while (co != NULL && woken < n &&
	    (w = TAILQ_FIRST(&co->waiters)) != NULL) {
		cond_wake(rq->model, w, true);
		woken++;
	}
	reply_int(rq_reply(rq), "woken", woken);
	return (HR_DONE);
}

static enum hret
cond_notify(struct request *rq)
{
	json_int_t	n;

	if (prim_notify_n(rq, &n) != HR_DONE)
		return (HR_ERROR);
	return (cond_notify_n(rq, n));
}

static enum hret
cond_notify_all(struct request *rq)
{
	return (cond_notify_n(rq, INT64_MAX));
}

static void
cond_timed_out(struct model *m, struct wait *w)
{
	cond_wake(m, w, false);
}

/* A wait leaving the condition's queue unpins its lock. */
static void
cond_wait_left(struct model *m, struct wait *w, enum wait_end why)
{
	struct cond_wait	*cw = CW(w);

	(void)why;
	if (cw->lock != NULL) {
		cw->lock->pins--;
		object_touch(m, cw->lock);
		cw->lock = NULL;
	}
}

static struct object *
cond_pinned(const struct wait *w)
{
	return (CCW(w)->lock);
}

/* Whose deletion ended w: its condition's, or (pinned) its lock's. */
static void
cond_wait_deleted(const struct wait *w, bool pinned, char *msg, size_t size)
{
	const struct object	*lo = CCW(w)->lock;

	if (pinned)
		snprintf(msg, size, "%s '%s', which this cond.wait was to "
		    "take back once notified, was deleted; it is not held",
		    lo->type->name, QUOTED_OBJ(lo));
	else
		snprintf(msg, size, "condition '%s' was deleted while this "
		    "cond.wait waited on it; its lock is not held",
		    QUOTED_OBJ(w->obj));
}

static const struct verb cond_verbs[] = {
	{ PSYNC_OP_COND_WAIT, cond_wait },
	{ PSYNC_OP_COND_NOTIFY, cond_notify },
	{ PSYNC_OP_COND_NOTIFY_ALL, cond_notify_all },
	{ 0, NULL }
};

const struct objtype cond_type = {
	.name = "condition",
	.article = "a",
	.kind = OBJ_COND,
	.size = sizeof(struct cond),
	.verbs = cond_verbs,
	.is_fresh = object_always_fresh,
	.wait_left = cond_wait_left,
	.timed_out = cond_timed_out,
	.pinned = cond_pinned,
	.wait_deleted = cond_wait_deleted,
};
