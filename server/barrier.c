/*
 * barrier.c -- barrier: like multiprocessing.Barrier.
 *
 * Created by the first request carrying "parties"; lives until deleted.
 * When the last party arrives every waiter is released with its index in
 * arrival order (the last gets parties - 1) and the barrier is ready for
 * the next generation.  A timed-out wait breaks it for all, the timed-out
 * party included (as in Python); so does a party's death; a cancelled wait
 * only withdraws its party.
 *
 * Layer 5, primitives.
 */
#include <stdio.h>

#include "session.h"
#include "object.h"
#include "prim.h"
#include "request.h"
#include "model.h"
#include "wait.h"


struct barrier {
	struct object	obj;
	uint32_t	parties;
	bool		broken;
	char		why[96];	/* what broke it, for later waits */
};

#define BARRIER(o)	((struct barrier *)(o))

static bool
barrier_match(const struct object *o, const void *arg)
{
	return (*(const json_int_t *)arg == BARRIER(o)->parties);
}

static void
barrier_say(const struct object *o, const void *arg, char *buf,
    size_t size)
{
	snprintf(buf, size, "%lld parties", o != NULL ?
	    (long long)BARRIER(o)->parties : (long long)*(const json_int_t *)arg);
}

static void
barrier_apply(struct object *o, const void *arg)
{
	BARRIER(o)->parties = (uint32_t)*(const json_int_t *)arg;
}

static const struct params barrier_params = {
	.create_with = "\"parties\"",
	.match = barrier_match,
	.say = barrier_say,
	.apply = barrier_apply,
};

static enum hret
barrier_get(struct request *rq, struct object **out)
{
	json_int_t	 parties;
	bool		 has;

	if (prim_barrier_parties(rq, &parties, &has) != HR_DONE ||
	    prim_open(rq, &barrier_type, has, &parties, &barrier_params,
	    out) != HR_DONE)
		return (HR_ERROR);
	return (HR_DONE);
}

/*
 * Break o for why (what happened, naming who: "session 4 (pid 77)
 * disconnected"): every waiter but skip gets broken, and so does every
 * wait until a reset, each told why.
 */
static void
barrier_break(struct model *m, struct object *o, struct wait *skip,
    const char *why)
{
	struct wait	*w, *next;
	char		 msg[256];

	BARRIER(o)->broken = true;
	snprintf(BARRIER(o)->why, sizeof(BARRIER(o)->why), "%s", why);
	snprintf(msg, sizeof(msg), "barrier '%s' is broken: %s", QUOTED_OBJ(o),
	    why);
	for (w = TAILQ_FIRST(&o->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, obj_entry);
		if (w != skip)
			wait_fail(m, w, PSYNC_ERR_BROKEN, msg);
	}
}

/* Break o because of c's doing: why is what c did. */
static void
barrier_break_by(struct model *m, struct object *o, struct wait *skip,
    const struct session *c, const char *did)
{
	char	who[48], why[96];

	snprintf(why, sizeof(why), "%s %s", session_who(c, who, sizeof(who)),
	    did);
	barrier_break(m, o, skip, why);
}

static enum hret
barrier_wait(struct request *rq)
{
	struct object	*o;
	struct wait	*w;
	double		 timeout;
	json_int_t	 index = 0;
	struct reply	 r;

	if (rq_timeout(rq, &timeout) != HR_DONE || barrier_get(rq, &o) != HR_DONE)
		return (HR_ERROR);
	if (BARRIER(o)->broken)
		return (rq_fail(rq, PSYNC_ERR_BROKEN, "barrier '%s' is broken "
		    "(%s); reset it to use it again", QUOTED_OBJ(o),
		    BARRIER(o)->why));
	if (o->nwaiters + 1 >= BARRIER(o)->parties) {
		/* The last arrival: everyone leaves together. */
		while ((w = TAILQ_FIRST(&o->waiters)) != NULL) {
			wait_reply_init(w, &r);
			reply_int(&r, "index", index++);
			wait_complete(rq->model, w, &r);
		}
		reply_int(rq_reply(rq), "index",
		    BARRIER(o)->parties - 1);
		return (HR_DONE);
	}
	if (timeout == 0) {
		/* Not a refusal: the try broke it, and it stays broken. */
		rq->created = NULL;
		rq_fail(rq, PSYNC_ERR_BROKEN, "timed out: %u of %u parties "
		    "were waiting; barrier '%s' is now broken", o->nwaiters,
		    BARRIER(o)->parties, QUOTED_OBJ(o));
		barrier_break_by(rq->model, o, NULL, rq->sess,
		    "tried with timeout 0 and did not wait");
		return (HR_ERROR);
	}
	if (object_check_pending(rq, &barrier_type) != HR_DONE)
		return (HR_ERROR);
	wait_new(rq, o, timeout, 0, sizeof(struct wait));
	return (HR_PENDING);
}

static enum hret
barrier_abort(struct request *rq)
{
	struct object	*o;

	if (barrier_get(rq, &o) != HR_DONE)
		return (HR_ERROR);
	barrier_break_by(rq->model, o, NULL, rq->sess, "aborted it");
	return (HR_DONE);
}

static enum hret
barrier_reset(struct request *rq)
{
	struct object	*o;

	if (barrier_get(rq, &o) != HR_DONE)
		return (HR_ERROR);
	barrier_break_by(rq->model, o, NULL, rq->sess, "reset it");
	BARRIER(o)->broken = false;
	return (HR_DONE);
}

static void
barrier_describe(const struct object *o, json_t *out)
{
	json_object_set_new(out, "parties", json_integer(BARRIER(o)->parties));
	json_object_set_new(out, "n_waiting", json_integer(o->nwaiters));
	json_object_set_new(out, "broken", json_boolean(BARRIER(o)->broken));
}

static enum hret
barrier_info(struct request *rq)
{
	struct object	*o;

	if (barrier_get(rq, &o) != HR_DONE)
		return (HR_ERROR);
	barrier_describe(o, reply_members(rq_reply(rq)));
	return (HR_DONE);
}

static void
barrier_timed_out(struct model *m, struct wait *w)
{
	struct object	*o = w->obj;
	char		 msg[256];

	snprintf(msg, sizeof(msg), "timed out: %u of %u parties were "
	    "waiting; barrier '%s' is now broken", o->nwaiters,
	    BARRIER(o)->parties, QUOTED_OBJ(o));
	barrier_break_by(m, o, w, w->sess, "timed out waiting");
	wait_fail(m, w, PSYNC_ERR_BROKEN, msg);
}

/* A party's death breaks the barrier; a cancel only withdraws it. */
static void
barrier_wait_left(struct model *m, struct wait *w, enum wait_end why)
{
	if (why == WAIT_SESSION_LOST)
		barrier_break_by(m, w->obj, w, w->sess,
		    "left: its connection closed or its process exited");
}

static const struct verb barrier_verbs[] = {
	{ PSYNC_OP_BARRIER_WAIT, barrier_wait },
	{ PSYNC_OP_BARRIER_ABORT, barrier_abort },
	{ PSYNC_OP_BARRIER_RESET, barrier_reset },
	{ PSYNC_OP_BARRIER_INFO, barrier_info },
	{ 0, NULL }
};

const struct objtype barrier_type = {
	.name = "barrier",
	.article = "a",
	.kind = OBJ_BARRIER,
	.size = sizeof(struct barrier),
	.verbs = barrier_verbs,
	.wait_left = barrier_wait_left,
	.timed_out = barrier_timed_out,
	.describe = barrier_describe,
};
