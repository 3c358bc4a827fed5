/*
 * rwlock.c -- rwlock: shared readers or one writer (beyond Python).
 *
 * Strictly FIFO: a waiting writer blocks the readers behind it, so
 * writers never starve, and the readers at the head of the queue are
 * granted together.  Each hold (one per connection) has its own token.
 *
 * Layer 5, primitives.
 */
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "object.h"
#include "prim.h"
#include "request.h"
#include "model.h"
#include "wait.h"
#include "xmalloc.h"

#define RW_READ		1
#define RW_WRITE	2

/* The holders are the state: no fields beyond the header. */
struct rwlock {
	struct object	obj;
};

static const char *
mode_name(uint8_t mode)
{
	return (mode == RW_WRITE ? "write" : "read");
}

static bool
rwlock_compatible(uint8_t a, uint8_t b)
{
	return (a == RW_READ && b == RW_READ);
}

static bool
can_grant(const struct object *o, uint8_t mode)
{
	const struct hold	*h = TAILQ_FIRST(&o->holders);

	if (mode == RW_WRITE)
		return (h == NULL);
	return (h == NULL || h->mode == RW_READ);
}

static uint64_t
rwlock_grant(struct model *m, struct object *o, struct session *c,
    uint8_t mode)
{
	struct hold	*h;

	h = xcalloc(1, sizeof(*h));
	h->mode = mode;
	h->token = tokens_next(&m->tokens);
	hold_link(h, o, c);
	return (h->token);
}

static void
rwlock_grant_now(struct request *rq, struct object *o, uint8_t mode,
    struct reply *r)
{
	reply_bool(r, "acquired", true);
	reply_int(r, "token", (json_int_t)rwlock_grant(rq->model, o, rq->sess,
	    mode));
}

static const struct acquire rwlock_acquire_steps = {
	.can_grant = can_grant,
	.grant = rwlock_grant_now,
	.not_acquired = prim_not_acquired,
	.deadlock_checked = true,
};

static enum hret
rwlock_acquire(struct request *rq)
{
	struct object	*o;
	struct hold	*h;
	const char	*m;
	size_t		 mlen;
	uint8_t		 mode;
	double		 timeout;

	if (rq_opt_string(rq, "mode", &m, &mlen) != HR_DONE)
		return (HR_ERROR);
	if (m != NULL && strcmp(m, "read") == 0 && mlen == 4)
		mode = RW_READ;
	else if (m != NULL && strcmp(m, "write") == 0 && mlen == 5)
		mode = RW_WRITE;
	else
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'mode' must be \"read\" or \"write\""));
	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    object_get(rq, &rwlock_type, true, &o) != HR_DONE)
		return (HR_ERROR);
	if ((h = hold_find(o, rq->sess)) != NULL)
		return (rq_fail(rq, PSYNC_ERR_WOULD_DEADLOCK,
		    "session %llu already holds rwlock '%s' for %s",
		    (unsigned long long)rq->sess->id,
		    QUOTED_OBJ(o),
		    mode_name(h->mode)));
	return (prim_acquire(rq, o, mode, timeout, &rwlock_acquire_steps));
}

static enum hret
rwlock_release(struct request *rq)
{
	struct object	*o;
	struct hold	*h = NULL;

	if (object_get(rq, &rwlock_type, false, &o) != HR_DONE)
		return (HR_ERROR);
	if (o == NULL || (h = hold_find(o, rq->sess)) == NULL)
		return (prim_not_owner(rq, &rwlock_type));
	hold_unlink(rq->model, h);
	free(h);
	return (HR_DONE);
}

/* Grant from the head while the head fits: readers go together. */
static void
rwlock_pump(struct model *m, struct object *o)
{
	struct wait	*w;
	struct reply	 r;
	uint64_t	 token;

	while ((w = TAILQ_FIRST(&o->waiters)) != NULL &&
	    can_grant(o, w->mode)) {
		token = rwlock_grant(m, o, w->sess, w->mode);
		wait_reply_init(w, &r);
		reply_bool(&r, "acquired", true);
		reply_int(&r, "token", (json_int_t)token);
		wait_complete(m, w, &r);
	}
}

static void
rwlock_hold_lost(struct model *m, struct object *o, struct hold *h)
{
	(void)o;
	hold_unlink(m, h);
	free(h);
}

static void
rwlock_describe(const struct object *o, json_t *out)
{
	const struct hold	*h = TAILQ_FIRST(&o->holders);
	bool			 writer = h != NULL && h->mode == RW_WRITE;

	json_object_set_new(out, "readers", json_integer(writer ? 0 :
	    o->nholders));
	json_object_set_new(out, "writer", json_boolean(writer));
}

static void
rwlock_describe_hold(const struct hold *h, json_t *out)
{
	json_object_set_new(out, "mode", json_string(mode_name(h->mode)));
	json_object_set_new(out, "token", json_integer((json_int_t)h->token));
}

static void
rwlock_describe_wait(const struct wait *w, json_t *out)
{
	json_object_set_new(out, "mode", json_string(mode_name(w->mode)));
}

static const struct verb rwlock_verbs[] = {
	{ PSYNC_OP_RWLOCK_ACQUIRE, rwlock_acquire },
	{ PSYNC_OP_RWLOCK_RELEASE, rwlock_release },
	{ 0, NULL }
};

const struct objtype rwlock_type = {
	.name = "rwlock",
	.article = "an",
	.kind = OBJ_RWLOCK,
	.size = sizeof(struct rwlock),
	.verbs = rwlock_verbs,
	.is_fresh = object_always_fresh,
	.pump = rwlock_pump,
	.hold_lost = rwlock_hold_lost,
	.timed_out = wait_timed_out_unacquired,
	.describe = rwlock_describe,
	.describe_hold = rwlock_describe_hold,
	.describe_wait = rwlock_describe_wait,
	.in_graph = true,
	.compatible = rwlock_compatible,
};
