/*
 * sem.c -- semaphore: like multiprocessing.Semaphore and BoundedSemaphore.
 *
 * Created by the first request that carries "value" (and optionally
 * "bounded", "owned"); lives until deleted.  An owned semaphore (the
 * default) is a pool of slots: units taken are held by the taking
 * session and returned if it dies, and a release gives back the
 * caller's units first; beyond those it is a plain signal, as in Python.
 * An unowned one is Python's counting semaphore: a unit taken is
 * consumed, whoever took it and whatever becomes of them, so that a
 * consumer that takes a producer's signal and exits does not give it
 * back.  A bounded semaphore never goes above its initial value, the
 * units held counted.
 *
 * Layer 5, primitives.
 */
#include <stdlib.h>

#include "session.h"
#include "object.h"
#include "prim.h"
#include "request.h"
#include "model.h"
#include "wait.h"
#include "xmalloc.h"

struct sem {
	struct object	obj;
	json_int_t	value;
	json_int_t	initial;
	json_int_t	held;		/* units held by connections, in all */
	bool		bounded;
	bool		owned;		/* units are held, and returned at death */
};

#define SEM(o)	((struct sem *)(o))

static bool
sem_match(const struct object *o, const void *arg)
{
	const struct sem_params	*p = arg;

	return (p->value == SEM(o)->initial && p->bounded == SEM(o)->bounded &&
	    p->owned == SEM(o)->owned);
}

static void
sem_say(const struct object *o, const void *arg, char *buf, size_t size)
{
	const struct sem_params	*p = arg;
	struct sem_params	 has;

	if (o != NULL) {
		has.value = SEM(o)->initial;
		has.bounded = SEM(o)->bounded;
		has.owned = SEM(o)->owned;
		p = &has;
	}
	prim_sem_say(p, buf, size);
}

static void
sem_apply(struct object *o, const void *arg)
{
	const struct sem_params	*p = arg;

	SEM(o)->value = SEM(o)->initial = p->value;
	SEM(o)->bounded = p->bounded;
	SEM(o)->owned = p->owned;
}

static const struct params sem_params = {
	.create_with = "\"value\"",
	.match = sem_match,
	.say = sem_say,
	.apply = sem_apply,
};

/*
 * The request's semaphore, made from its "value", "bounded" and "owned"
 * if need be, or checked against them.  HR_DONE, or HR_ERROR with rq failed.
 */
static enum hret
sem_get(struct request *rq, struct object **out)
{
	struct sem_params	p;
	bool			given;

	if (prim_sem_params(rq, &p, &given) != HR_DONE ||
	    prim_open(rq, &sem_type, given, &p, &sem_params, out) != HR_DONE)
		return (HR_ERROR);
	return (HR_DONE);
}

/* c takes one unit: held by c, or consumed. */
static void
sem_take(struct object *o, struct session *c)
{
	struct hold	*h;

	if (!SEM(o)->owned) {
		SEM(o)->value--;
		return;
	}
	if ((h = hold_find(o, c)) == NULL) {
		h = xcalloc(1, sizeof(*h));
		hold_link(h, o, c);
	}
	h->count++;
	SEM(o)->value--;
	SEM(o)->held++;
}

/*
 * Grant as many waiters as there are units, each told the value after
 * all of this step's grants.
 */
static void
sem_pump(struct model *m, struct object *o)
{
	struct wait	*w;
	json_int_t	 n, after;
	struct reply	 r;

	n = SEM(o)->value < (json_int_t)o->nwaiters ? SEM(o)->value :
	    (json_int_t)o->nwaiters;
	after = SEM(o)->value - n;
	while (n-- > 0) {
		w = TAILQ_FIRST(&o->waiters);
		sem_take(o, w->sess);
		wait_reply_init(w, &r);
		reply_bool(&r, "acquired", true);
		reply_int(&r, "value", after);
		wait_complete(m, w, &r);
	}
}

static bool
sem_can_grant(const struct object *o, uint8_t mode)
{
	(void)mode;
	return (SEM(o)->value > 0);
}

static void
sem_grant_now(struct request *rq, struct object *o, uint8_t mode,
    struct reply *r)
{
	(void)mode;
	sem_take(o, rq->sess);
	reply_bool(r, "acquired", true);
	reply_int(r, "value", SEM(o)->value);
}

static void
sem_not_acquired(const struct object *o, struct reply *r)
{
	reply_bool(r, "acquired", false);
	reply_int(r, "value", SEM(o)->value);
}

/* No deadlock search: units are not owned by one session. */
static const struct acquire sem_acquire_steps = {
	.can_grant = sem_can_grant,
	.grant = sem_grant_now,
	.not_acquired = sem_not_acquired,
	.deadlock_checked = false,
};

static enum hret
sem_acquire(struct request *rq)
{
	struct object	*o;
	double		 timeout;

	if (rq_timeout(rq, &timeout) != HR_DONE || sem_get(rq, &o) != HR_DONE)
		return (HR_ERROR);
	return (prim_acquire(rq, o, 0, timeout, &sem_acquire_steps));
}

static enum hret
sem_release(struct request *rq)
{
	struct object	*o;
	struct hold	*h;
	json_int_t	 n, give;

	if (prim_sem_units(rq, &n) != HR_DONE || sem_get(rq, &o) != HR_DONE)
		return (HR_ERROR);
	h = SEM(o)->owned ? hold_find(o, rq->sess) : NULL;
	give = h == NULL ? 0 : n < h->count ? n : h->count;
	/*
	 * Units held count toward a bounded semaphore's bound: a plain
	 * signal while another holds one of a BoundedSemaphore(1) would
	 * otherwise let a second holder in.
	 */
	if (SEM(o)->bounded && SEM(o)->value + SEM(o)->held + (n - give) >
	    SEM(o)->initial)
		return (rq_fail(rq, PSYNC_ERR_WOULD_EXCEED, "releasing %lld "
		    "unit%s of bounded semaphore '%s' would exceed its initial "
		    "value %lld (value %lld, %lld held%s)", (long long)n,
		    n == 1 ? "" : "s", QUOTED_OBJ(o), (long long)SEM(o)->initial,
		    (long long)SEM(o)->value, (long long)SEM(o)->held,
		    give > 0 ? ", yours included" : ""));
	if (!SEM(o)->bounded && SEM(o)->value + n > SEM_VALUE_MAX)
		return (rq_fail(rq, PSYNC_ERR_WOULD_EXCEED, "semaphore '%s' "
		    "would exceed 2^53", QUOTED_OBJ(o)));
	if (h != NULL) {
		h->count -= (uint32_t)give;
		SEM(o)->held -= give;
		if (h->count == 0) {
			hold_unlink(rq->model, h);
			free(h);
		}
	}
	SEM(o)->value += n;
	/* The reply's value is after the waiters woken took their units. */
	sem_pump(rq->model, o);
	reply_int(rq_reply(rq), "value", SEM(o)->value);
	return (HR_DONE);
}

static enum hret
sem_value(struct request *rq)
{
	struct object	*o;

	if (sem_get(rq, &o) != HR_DONE)
		return (HR_ERROR);
	reply_int(rq_reply(rq), "value", SEM(o)->value);
	return (HR_DONE);
}

static void
sem_hold_lost(struct model *m, struct object *o, struct hold *h)
{
	/* value + held <= initial holds for a bounded one: no clamp. */
	SEM(o)->value += h->count;
	SEM(o)->held -= h->count;
	hold_unlink(m, h);
	free(h);
}

static void
sem_timed_out(struct model *m, struct wait *w)
{
	struct reply	r;

	wait_reply_init(w, &r);
	reply_bool(&r, "acquired", false);
	reply_int(&r, "value", SEM(w->obj)->value);
	wait_complete(m, w, &r);
}

static void
sem_describe(const struct object *o, json_t *out)
{
	json_object_set_new(out, "value", json_integer(SEM(o)->value));
	json_object_set_new(out, "initial", json_integer(SEM(o)->initial));
	json_object_set_new(out, "bounded", json_boolean(SEM(o)->bounded));
	json_object_set_new(out, "owned", json_boolean(SEM(o)->owned));
}

static void
sem_describe_hold(const struct hold *h, json_t *out)
{
	json_object_set_new(out, "units", json_integer(h->count));
}

static const struct verb sem_verbs[] = {
	{ PSYNC_OP_SEM_ACQUIRE, sem_acquire },
	{ PSYNC_OP_SEM_RELEASE, sem_release },
	{ PSYNC_OP_SEM_VALUE, sem_value },
	{ 0, NULL }
};

const struct objtype sem_type = {
	.name = "semaphore",
	.article = "a",
	.kind = OBJ_SEM,
	.size = sizeof(struct sem),
	.verbs = sem_verbs,
	.pump = sem_pump,
	.hold_lost = sem_hold_lost,
	.timed_out = sem_timed_out,
	.describe = sem_describe,
	.describe_hold = sem_describe_hold,
};
