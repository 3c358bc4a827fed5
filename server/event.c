/*
 * event.c -- event: like multiprocessing.Event.
 *
 * A flag, clear when fresh.  Setting it wakes every waiter at once; a
 * clear event without waiters vanishes.
 *
 * Layer 5, primitives.
 */
#include "session.h"
#include "object.h"
#include "request.h"
#include "model.h"
#include "wait.h"

struct event_obj {
	struct object	obj;
	bool		set;
};

#define EVENT(o)	((struct event_obj *)(o))

static enum hret
event_set(struct request *rq)
{
	struct object	*o;

	if (object_get(rq, &event_type, true, &o) != HR_DONE)
		return (HR_ERROR);
	EVENT(o)->set = true;
	object_touch(rq->model, o);	/* the pump wakes the waiters */
	return (HR_DONE);
}

static enum hret
event_clear(struct request *rq)
{
	struct object	*o;

	if (object_get(rq, &event_type, false, &o) != HR_DONE)
		return (HR_ERROR);
	if (o != NULL) {
		EVENT(o)->set = false;
		object_touch(rq->model, o);
	}
	return (HR_DONE);
}

static enum hret
event_is_set(struct request *rq)
{
	struct object	*o;

	if (object_get(rq, &event_type, false, &o) != HR_DONE)
		return (HR_ERROR);
	reply_bool(rq_reply(rq), "set",
	    o != NULL && EVENT(o)->set);
	return (HR_DONE);
}

static enum hret
event_wait(struct request *rq)
{
	struct object	*o;
	double		 timeout;

	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    object_get(rq, &event_type, false, &o) != HR_DONE)
		return (HR_ERROR);
	if ((o != NULL && EVENT(o)->set) || timeout == 0) {
		reply_bool(rq_reply(rq), "set",
		    o != NULL && EVENT(o)->set);
		return (HR_DONE);
	}
	if (object_check_pending(rq, &event_type) != HR_DONE)
		return (HR_ERROR);
	if (o == NULL && object_get(rq, &event_type, true, &o) != HR_DONE)
		return (HR_ERROR);
	wait_new(rq, o, timeout, 0, sizeof(struct wait));
	return (HR_PENDING);
}

static void
event_pump(struct model *m, struct object *o)
{
	struct wait	*w;
	struct reply	 r;

	if (!EVENT(o)->set)
		return;
	while ((w = TAILQ_FIRST(&o->waiters)) != NULL) {
		wait_reply_init(w, &r);
		reply_bool(&r, "set", true);
		wait_complete(m, w, &r);
	}
}

static void
event_timed_out(struct model *m, struct wait *w)
{
	struct reply	r;

	wait_reply_init(w, &r);
	reply_bool(&r, "set", false);
	wait_complete(m, w, &r);
}

static bool
event_is_fresh(const struct object *o)
{
	return (!EVENT(o)->set);
}

static void
event_describe(const struct object *o, json_t *out)
{
	json_object_set_new(out, "set", json_boolean(EVENT(o)->set));
}

static const struct verb event_verbs[] = {
	{ PSYNC_OP_EVENT_SET, event_set },
	{ PSYNC_OP_EVENT_CLEAR, event_clear },
	{ PSYNC_OP_EVENT_IS_SET, event_is_set },
	{ PSYNC_OP_EVENT_WAIT, event_wait },
	{ 0, NULL }
};

const struct objtype event_type = {
	.name = "event",
	.article = "an",
	.kind = OBJ_EVENT,
	.size = sizeof(struct event_obj),
	.verbs = event_verbs,
	.is_fresh = event_is_fresh,
	.pump = event_pump,
	.timed_out = event_timed_out,
	.describe = event_describe,
};
