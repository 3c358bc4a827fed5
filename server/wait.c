/*
 * wait.c -- pending requests: queueing, deadlines, and the one exit.
 *
 * wait_finish() is the only place a wait ends: granted, timed out,
 * cancelled, its connection lost, its object deleted, or the daemon
 * stopping.  It unlinks the wait from its object and its connection,
 * stops the timer, sends the one reply (if any) and frees the wait.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session.h"
#include "object.h"
#include "request.h"
#include "model.h"
#include "wait.h"
#include "xmalloc.h"

static void	wait_timer_cb(evutil_socket_t, short, void *);

/*
 * Longest timer we arm: past a year the deadline is, for a lock, forever,
 * and a struct timeval of 1e300 seconds would overflow.
 */
#define TIMEOUT_CAP	(365.0 * 24 * 3600)

struct wait *
wait_new(struct request *rq, struct object *o, double timeout, uint8_t mode,
    size_t size)
{
	struct session	*s = rq->sess;
	struct wait	*w;
	struct timeval	 tv;
	double		 secs;

	w = xcalloc(1, size);
	w->obj = o;
	w->sess = s;
	w->mode = mode;
	w->since = model_now_us(rq->model);
	if (rq->id != NULL)
		w->id = json_incref(rq->id);
	TAILQ_INSERT_TAIL(&o->waiters, w, obj_entry);
	o->nwaiters++;
	TAILQ_INSERT_TAIL(&s->waits, w, sess_entry);
	s->npending++;
	if (timeout >= 0 && timeout < TIMEOUT_CAP) {
		timeout += rq->model->timer_slack;
		secs = floor(timeout);
		tv.tv_sec = (time_t)secs;
		tv.tv_usec = (suseconds_t)((timeout - secs) * 1e6);
		evtimer_assign(&w->timer, rq->model->base, wait_timer_cb, w);
		if (evtimer_add(&w->timer, &tv) == 0)
			w->flags |= WAIT_TIMER;
		else
			log_error("wait_new: evtimer_add failed; waiting "
			    "without a deadline");
	}
	return (w);
}

void
wait_reply_init(const struct wait *w, struct reply *r)
{
	reply_init(r, w->id);
}

/* The one exit: unlink, stop the timer, send reply if there is one, free. */
static void
wait_finish(struct model *m, struct wait *w, const struct reply *reply)
{
	struct object	*o = w->obj;
	struct session	*s = w->sess;

	TAILQ_REMOVE(&o->waiters, w, obj_entry);
	o->nwaiters--;
	object_touch(m, o);
	TAILQ_REMOVE(&s->waits, w, sess_entry);
	s->npending--;
	if (w->flags & WAIT_TIMER)
		evtimer_del(&w->timer);
	if (reply != NULL)
		session_send(s, reply, true);	/* a waiter goes first */
	json_decref(w->id);
	free(w);
}

void
wait_complete(struct model *m, struct wait *w, struct reply *r)
{
	wait_finish(m, w, r);
	reply_clear(r);
}

/* End w with the error reply {id, ok: false, error: err, message: msg}. */
static void
wait_finish_error(struct model *m, struct wait *w, enum psync_err err,
    const char *msg)
{
	struct reply	r;

	reply_init(&r, w->id);
	reply_set_error(&r, err, msg);
	wait_finish(m, w, &r);
}

/*
 * What a deleted object's waiter is told: which object, unless its type
 * (or, for a wait moved into a lock's queue, its regrant) says more.
 */
static void
wait_deleted_message(const struct wait *w, bool pinned, char *msg,
    size_t size)
{
	if (w->regrant != NULL)
		w->regrant->deleted(w, msg, size);
	else if (w->obj->type->wait_deleted != NULL)
		w->obj->type->wait_deleted(w, pinned, msg, size);
	else
		snprintf(msg, size, "%s '%s' was deleted",
		    w->obj->type->name, QUOTED_OBJ(w->obj));
}

void
wait_end(struct model *m, struct wait *w, enum wait_end why)
{
	enum psync_err	 err = PSYNC_ERR_NONE;
	const char	*msg = NULL;
	char		 deleted[320];

	/* The message first: the hook may unlink what it names. */
	switch (why) {
	case WAIT_CANCELLED:
		err = PSYNC_ERR_CANCELLED;
		msg = "cancelled by a cancel request";
		break;
	case WAIT_SESSION_LOST:
		break;
	case WAIT_DELETED:
	case WAIT_LOCK_DELETED:
		err = PSYNC_ERR_DELETED;
		wait_deleted_message(w, why == WAIT_LOCK_DELETED, deleted,
		    sizeof(deleted));
		msg = deleted;
		break;
	case WAIT_SHUTDOWN:
		err = PSYNC_ERR_SHUTTING_DOWN;
		msg = "the daemon is stopping";
		break;
	}
	if (w->obj->type->wait_left != NULL)
		w->obj->type->wait_left(m, w, why);
	if (err == PSYNC_ERR_NONE)
		wait_finish(m, w, NULL);
	else
		wait_finish_error(m, w, err, msg);
}

void
wait_timed_out_unacquired(struct model *m, struct wait *w)
{
	struct reply	r;

	wait_reply_init(w, &r);
	reply_bool(&r, "acquired", false);
	wait_complete(m, w, &r);
}

void
wait_fail(struct model *m, struct wait *w, enum psync_err err,
    const char *msg)
{
	wait_finish_error(m, w, err, msg);
}

void
wait_move(struct model *m, struct wait *w, struct object *o)
{
	TAILQ_REMOVE(&w->obj->waiters, w, obj_entry);
	w->obj->nwaiters--;
	object_touch(m, w->obj);
	if (w->flags & WAIT_TIMER) {
		evtimer_del(&w->timer);
		w->flags &= ~WAIT_TIMER;
	}
	w->obj = o;
	TAILQ_INSERT_TAIL(&o->waiters, w, obj_entry);
	o->nwaiters++;
	object_touch(m, o);
}

static void
wait_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wait	*w = arg;
	struct model	*m = w->sess->model;

	(void)fd;
	(void)what;
	w->flags &= ~WAIT_TIMER;
	w->obj->type->timed_out(m, w);
	object_settle_all(m);
}

int
wait_id_equal(const json_t *a, const json_t *b)
{
	if (a == NULL || b == NULL)
		return (0);
	return (json_equal((json_t *)a, (json_t *)b));
}
