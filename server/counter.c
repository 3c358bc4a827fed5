/*
 * counter.c -- counter: a signed 64-bit integer with atomic get, set, add
 * and compare-and-swap (what multiprocessing.Value lacks).  Zero when
 * fresh: a counter back at zero vanishes, and one never created reads 0.
 *
 * Layer 5, primitives.
 */
#include "session.h"
#include "object.h"
#include "request.h"
#include "model.h"

struct counter {
	struct object	obj;
	json_int_t	value;
};

#define COUNTER(o)	((struct counter *)(o))

/* Store v in the request's counter o (or a new one, unless v is 0). */
static enum hret
counter_store(struct request *rq, struct object *o, json_int_t v)
{
	if (o == NULL) {
		if (v == 0)
			return (HR_DONE);	/* fresh: nothing to create */
		if ((o = object_create(rq, &counter_type)) == NULL)
			return (HR_ERROR);
	}
	COUNTER(o)->value = v;
	object_touch(rq->model, o);
	return (HR_DONE);
}

static enum hret
counter_get(struct request *rq)
{
	struct object	*o;

	if (object_get(rq, &counter_type, false, &o) != HR_DONE)
		return (HR_ERROR);
	reply_int(rq_reply(rq), "value",
	    o != NULL ? COUNTER(o)->value : 0);
	return (HR_DONE);
}

static enum hret
counter_set(struct request *rq)
{
	struct object	*o;
	json_int_t	 v;

	if (rq_int(rq, "value", true, 0, &v) != HR_DONE ||
	    object_get(rq, &counter_type, false, &o) != HR_DONE ||
	    counter_store(rq, o, v) != HR_DONE)
		return (HR_ERROR);
	reply_int(rq_reply(rq), "value", v);
	return (HR_DONE);
}

static enum hret
counter_add(struct request *rq)
{
	struct object	*o;
	json_int_t	 delta, cur, v;

	if (rq_int(rq, "delta", true, 0, &delta) != HR_DONE ||
	    object_get(rq, &counter_type, false, &o) != HR_DONE)
		return (HR_ERROR);
	cur = o != NULL ? COUNTER(o)->value : 0;
	if (__builtin_add_overflow(cur, delta, &v))
		return (rq_fail(rq, PSYNC_ERR_WOULD_EXCEED, "counter '%s': "
		    "%lld + %lld overflows a signed 64-bit counter",
		    QUOTED_NAME(rq), (long long)cur,
		    (long long)delta));
	if (counter_store(rq, o, v) != HR_DONE)
		return (HR_ERROR);
	reply_int(rq_reply(rq), "value", v);
	return (HR_DONE);
}

static enum hret
counter_cas(struct request *rq)
{
	struct object	*o;
	json_int_t	 expect, v, cur;
	bool		 swapped;

	if (rq_int(rq, "expect", true, 0, &expect) != HR_DONE ||
	    rq_int(rq, "value", true, 0, &v) != HR_DONE ||
	    object_get(rq, &counter_type, false, &o) != HR_DONE)
		return (HR_ERROR);
	cur = o != NULL ? COUNTER(o)->value : 0;
	swapped = cur == expect;
	if (swapped) {
		if (counter_store(rq, o, v) != HR_DONE)
			return (HR_ERROR);
		cur = v;
	}
	reply_bool(rq_reply(rq), "swapped", swapped);
	reply_int(rq_reply(rq), "value", cur);
	return (HR_DONE);
}

static bool
counter_is_fresh(const struct object *o)
{
	return (COUNTER(o)->value == 0);
}

static void
counter_describe(const struct object *o, json_t *out)
{
	json_object_set_new(out, "value", json_integer(COUNTER(o)->value));
}

static const struct verb counter_verbs[] = {
	{ PSYNC_OP_COUNTER_GET, counter_get },
	{ PSYNC_OP_COUNTER_SET, counter_set },
	{ PSYNC_OP_COUNTER_ADD, counter_add },
	{ PSYNC_OP_COUNTER_CAS, counter_cas },
	{ 0, NULL }
};

const struct objtype counter_type = {
	.name = "counter",
	.article = "a",
	.kind = OBJ_COUNTER,
	.size = sizeof(struct counter),
	.verbs = counter_verbs,
	.is_fresh = counter_is_fresh,
	.describe = counter_describe,
};
