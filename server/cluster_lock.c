/*
 * cluster_lock.c -- cluster locks, rlocks and rwlocks: one FIFO queue of
 * keys per name, by creation revision; a waiter holds once its key is at
 * the head (an rwlock's readers: every reader in front).
 *
 * Layer 5, primitives (cluster_int.h).
 */
#include <sys/queue.h>

#include <string.h>

#include "cluster_int.h"
#include "deadlock.h"
#include "model.h"
#include "object.h"
#include "reply.h"
#include "request.h"
#include "session.h"
#include "wait.h"

/* The lock types: lock, rlock and rwlock share one queue discipline. */




static void
grant_fields(struct reply *r, const struct object *o, const struct hold *h)
{
	reply_bool(r, "acquired", true);
	if (o->type == &cluster_rlock_type)
		reply_int(r, "count", h->count);
	reply_int(r, "token", (json_int_t)h->token);
}

static enum hret
cluster_acquire_op(struct request *rq, const struct objtype *t, uint8_t mode)
{
	struct cluster		*c = rq->model->cluster;
	struct object		*o;
	struct hold		*h;
	struct cwait		*cw;
	double			 timeout;
	char			 msg[1024];

	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    cluster_admit(rq, t) != HR_DONE ||
	    object_get(rq, t, true, &o) != HR_DONE)
		return (HR_ERROR);
	if ((h = hold_find(o, rq->sess)) != NULL) {
		if (t == &cluster_rwlock_type)
			return (rq_fail(rq, PSYNC_ERR_WOULD_DEADLOCK,
			    "session %llu already holds rwlock '%s' for %s",
			    (unsigned long long)rq->sess->id, QUOTED_OBJ(o),
			    cluster_mode_name(h->mode)));
		if (t == &cluster_lock_type)
			return (rq_fail(rq, PSYNC_ERR_WOULD_DEADLOCK,
			    "session %llu already holds lock '%s'",
			    (unsigned long long)rq->sess->id, QUOTED_OBJ(o)));
		if (h->count == UINT32_MAX)
			return (rq_fail(rq, PSYNC_ERR_WOULD_EXCEED,
			    "rlock '%s' is at its maximum depth",
			    QUOTED_OBJ(o)));
		h->count++;		/* re-entry is local: same token */
		grant_fields(rq_reply(rq), o, h);
		return (HR_DONE);
	}
	/*
	 * A cycle through this psyncd's sessions alone is found as for a
	 * local lock; one through another host's is not (see the note).
	 */
	if (timeout != 0 &&
	    deadlock_check(rq->model, rq->sess, o, mode, msg, sizeof(msg)))
		return (rq_fail(rq, PSYNC_ERR_WOULD_DEADLOCK, "%s", msg));
	if (object_check_pending(rq, t) != HR_DONE)
		return (HR_ERROR);
	/* A try is judged once its key is in the mirror, not at once. */
	cw = CW(wait_new(rq, o, timeout == 0 ? TIMEOUT_FOREVER : timeout,
	    mode, sizeof(*cw)));
	cw->try = timeout == 0;
	cluster_wait_enqueue(c, cw);
	return (HR_PENDING);
}

static enum hret
cluster_release_op(struct request *rq, const struct objtype *t)
{
	struct object	*o;
	struct hold	*h = NULL;
	bool		 lost;

	if (object_get(rq, t, false, &o) != HR_DONE)
		return (HR_ERROR);
	lost = cluster_session_lost(rq->sess);
	if (o == NULL || (h = hold_find(o, rq->sess)) == NULL)
		return (rq_fail(rq, PSYNC_ERR_NOT_OWNER, "session %llu does "
		    "not hold %s '%s'%s", (unsigned long long)rq->sess->id,
		    t->name, QUOTED_NAME(rq), lost ? " (cluster holds were "
		    "lost: its etcd lease could not be kept)" : ""));
	if (--h->count == 0) {
		/* Released once etcd deletes the key; the reply need not wait. */
		cluster_hold_free(rq->model, h, true);
		h = NULL;
	}
	if (t == &cluster_rlock_type)
		reply_int(rq_reply(rq), "count", h != NULL ? h->count : 0);
	return (HR_DONE);
}

/*
 * May the key put at rev, in mode, be granted?  Everything ahead of it
 * in the queue (holders included: their keys stay until deleted) must
 * be readers, and a writer must be first.  -1: rev is not in the queue.
 */
static int
grantable(const struct cname *n, int64_t rev, uint8_t mode, const char *type)
{
	const struct ckey	*k;

	if (n == NULL)
		return (-1);
	/*
	 * Two hosts that enqueue different types at once both put keys:
	 * the later one (by revision) is a type_mismatch, here.
	 */
	TAILQ_FOREACH(k, &n->keys, entry) {
		if (k->rev == rev)
			break;
		if (k->type[0] != '\0' && strcmp(k->type, type) != 0)
			return (-2);
	}
	if (n->set || n->has_value || n->rec.present)
		return (-2);
	TAILQ_FOREACH(k, &n->keys, entry) {
		if (k->rev == rev)
			return (1);
		if (mode == MODE_WRITE || k->mode == MODE_WRITE)
			break;
	}
	for (; k != NULL; k = TAILQ_NEXT(k, entry))
		if (k->rev == rev)
			return (0);
	return (-1);
}

static void
cluster_queue_pump(struct model *m, struct object *o)
{
	struct cluster	*c = m->cluster;
	struct cname	*n;
	struct wait	*w, *next;
	struct cwait	*cw;
	struct chold	*ch;
	struct reply	 r;
	char		 msg[600];
	int		 g;

	if (c->revision == 0)
		return;			/* the mirror is loading */
	n = cluster_name_find(c, object_name(o), o->namelen);
	for (w = TAILQ_FIRST(&o->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, obj_entry);
		cw = CW(w);
		/* Judged only once the mirror has its own key's put. */
		if (cw->rev == 0 || cw->rev > c->revision)
			continue;
		if ((g = grantable(n, cw->rev, w->mode, o->type->name)) == 1) {
			ch = cluster_hold_add(o, w->sess, cw->key, (uint64_t)cw->rev,
			    w->mode);
			/* A cond.wait taking its lock back: its depth, its reply. */
			ch->hold.count = w->regrant != NULL ?
			    w->regrant->depth(w) : 1;
			cw->key = NULL;
			cluster_wait_unqueue(c, cw);
			wait_reply_init(w, &r);
			if (w->regrant != NULL)
				w->regrant->reply(w, ch->hold.token, &r);
			else
				grant_fields(&r, o, &ch->hold);
			wait_complete(m, w, &r);
		} else if (g == -2) {
			/* Another host's first: said as a refusal would. */
			if (!cluster_type_clash_say(c, object_name(o),
			    o->namelen, o->type, msg, sizeof(msg)))
				snprintf(msg, sizeof(msg), "another request made "
				    "'%s' another type in the cluster first",
				    QUOTED_OBJ(o));
			cluster_wait_abandon(c, cw);
			wait_fail(m, w, PSYNC_ERR_TYPE_MISMATCH, msg);
		} else if (g == -1) {
			cluster_wait_abandon(c, cw);
			wait_fail(m, w, PSYNC_ERR_UNAVAILABLE, "this request's "
			    "queue key left etcd before it was granted (its "
			    "session's lease expired?)");
		} else if (cw->try) {
			cluster_wait_abandon(c, cw);
			wait_reply_init(w, &r);
			reply_bool(&r, "acquired", false);
			wait_complete(m, w, &r);
		}
	}
}

static void
cluster_queue_timed_out(struct model *m, struct wait *w)
{
	cluster_wait_abandon(m->cluster, CW(w));
	wait_timed_out_unacquired(m, w);
}

static void
cluster_queue_wait_left(struct model *m, struct wait *w, enum wait_end why)
{
	(void)why;
	cluster_wait_abandon(m->cluster, CW(w));
}


static void
cluster_queue_describe(const struct object *o, json_t *out)
{
	const struct hold	*h = TAILQ_FIRST(&o->holders);
	bool			 writer = h != NULL && h->mode == MODE_WRITE;

	if (o->type == &cluster_rwlock_type) {
		json_object_set_new(out, "readers", json_integer(writer ? 0 :
		    o->nholders));
		json_object_set_new(out, "writer", json_boolean(writer));
	} else
		json_object_set_new(out, "held", json_boolean(h != NULL));
	json_object_set_new(out, "cluster", json_true());
}

static void
cluster_queue_describe_hold(const struct hold *h, json_t *out)
{
	if (h->obj->type == &cluster_rlock_type)
		json_object_set_new(out, "count", json_integer(h->count));
	if (h->obj->type == &cluster_rwlock_type)
		json_object_set_new(out, "mode", json_string(cluster_mode_name(h->mode)));
	json_object_set_new(out, "token", json_integer((json_int_t)h->token));
}

static void
cluster_queue_describe_wait(const struct wait *w, json_t *out)
{
	if (w->obj->type == &cluster_rwlock_type)
		json_object_set_new(out, "mode", json_string(cluster_mode_name(w->mode)));
}

enum hret
cluster_lock_acquire(struct request *rq)
{
	return (cluster_acquire_op(rq, &cluster_lock_type, MODE_WRITE));
}

enum hret
cluster_lock_release(struct request *rq)
{
	return (cluster_release_op(rq, &cluster_lock_type));
}

enum hret
cluster_rlock_acquire(struct request *rq)
{
	return (cluster_acquire_op(rq, &cluster_rlock_type, MODE_WRITE));
}

enum hret
cluster_rlock_release(struct request *rq)
{
	return (cluster_release_op(rq, &cluster_rlock_type));
}

enum hret
cluster_rwlock_acquire(struct request *rq)
{
	const char	*mode;
	size_t		 len;

	if (rq_opt_string(rq, "mode", &mode, &len) != HR_DONE)
		return (HR_ERROR);
	if (mode != NULL && len == 4 && memcmp(mode, "read", 4) == 0)
		return (cluster_acquire_op(rq, &cluster_rwlock_type,
		    MODE_READ));
	if (mode != NULL && len == 5 && memcmp(mode, "write", 5) == 0)
		return (cluster_acquire_op(rq, &cluster_rwlock_type,
		    MODE_WRITE));
	return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
	    "field 'mode' must be \"read\" or \"write\""));
}

enum hret
cluster_rwlock_release(struct request *rq)
{
	return (cluster_release_op(rq, &cluster_rwlock_type));
}


#define CLUSTER_QUEUE_TYPE(tname, tarticle, tkind)			\
	.name = tname,							\
	.article = tarticle,						\
	.kind = tkind,							\
	.size = sizeof(struct object),					\
	.verbs = cluster_none,						\
	.is_fresh = object_always_fresh,				\
	.pump = cluster_queue_pump,					\
	.hold_lost = cluster_hold_lost,				\
	.wait_left = cluster_queue_wait_left,				\
	.timed_out = cluster_queue_timed_out,				\
	.describe = cluster_queue_describe,				\
	.describe_hold = cluster_queue_describe_hold,			\
	.describe_wait = cluster_queue_describe_wait,			\
	.in_graph = true

/* Two rwlock requests that can hold together: readers. */
static bool
cluster_rwlock_compatible(uint8_t a, uint8_t b)
{
	return (a == MODE_READ && b == MODE_READ);
}

const struct objtype cluster_lock_type = {
	CLUSTER_QUEUE_TYPE("lock", "a", OBJ_LOCK)
};

const struct objtype cluster_rlock_type = {
	CLUSTER_QUEUE_TYPE("rlock", "an", OBJ_RLOCK)
};

const struct objtype cluster_rwlock_type = {
	CLUSTER_QUEUE_TYPE("rwlock", "an", OBJ_RWLOCK),
	.compatible = cluster_rwlock_compatible
};

