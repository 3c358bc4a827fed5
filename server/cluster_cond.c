/*
 * cluster_cond.c -- cluster conditions over cluster locks and rlocks.
 *
 * Layer 5, primitives (cluster_int.h).
 */
#include <sys/queue.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "etcd.h"
#include "model.h"
#include "object.h"
#include "prim.h"
#include "reply.h"
#include "request.h"
#include "session.h"
#include "wait.h"
#include "xmalloc.h"

/*
 * Conditions.  A cond.wait is one txn that puts the waiter's key in the
 * condition's queue (leased; FIFO by creation revision) and deletes its
 * lock's key: the lock is released and the wait registered at once, so
 * no notify that follows the release can miss it.  A notify rewrites
 * the oldest waiters' keys with "notified": true, each compared on its
 * creation revision; each waiter's psyncd sees that in its mirror and
 * queues for the lock again, as a local cond.wait does, replying
 * {notified, token} once it holds it.  The timeout bounds only the wait
 * for a notify.
 */

#define NOTIFY_BATCH	32	/* keys per txn: etcd allows 128 ops */

static uint32_t
cluster_cond_depth(const struct wait *w)
{
	return (CW(w)->depth);
}

static void
cluster_cond_reply(const struct wait *w, uint64_t token, struct reply *r)
{
	reply_bool(r, "notified", CW(w)->notified);
	reply_int(r, "token", (json_int_t)token);
}

static void
cluster_cond_deleted(const struct wait *w, char *msg, size_t size)
{
	snprintf(msg, size, "%s '%s' was deleted while this cond.wait "
	    "waited to take it back; it is not held", w->obj->type->name,
	    QUOTED_OBJ(w->obj));
}

static const struct regrant cluster_cond_regrant = {
	.depth = cluster_cond_depth,
	.reply = cluster_cond_reply,
	.deleted = cluster_cond_deleted,
};

/* The lock keys cw released: deleted (unless its txn did), then freed. */
void
cluster_cond_drop_keys(struct cluster *c, struct cwait *cw, bool delete)
{
	while (cw->nlock_keys > 0) {
		cw->nlock_keys--;
		if (delete)
			cluster_delete(c, cw->lock_keys[cw->nlock_keys]);
		else
			free(cw->lock_keys[cw->nlock_keys]);
	}
	free(cw->lock_keys);
	cw->lock_keys = NULL;
}

/* cw leaves the condition: nothing of it stays there; its lock unpinned. */
void
cluster_cond_leave(struct cluster *c, struct cwait *cw)
{
	cluster_wait_abandon(c, cw);
	cluster_cond_drop_keys(c, cw, true);
	if (cw->lock != NULL) {
		cw->lock->pins--;
		object_touch(c->m, cw->lock);
		cw->lock = NULL;
	}
}

/* Notified, or timed out: w queues for its lock again. */
static void
cond_wake(struct model *m, struct wait *w, bool notified)
{
	struct cwait	*cw = CW(w);
	struct object	*lo = cw->lock;

	lo->pins++;			/* cluster_cond_leave unpins it */
	cluster_cond_leave(m->cluster, cw);
	lo->pins--;
	cw->notified = notified;
	cw->rev = 0;
	w->regrant = &cluster_cond_regrant;
	wait_move(m, w, lo);
	cluster_wait_enqueue(m->cluster, cw);
}

/* The cond.wait's txn: its key in, its lock's keys out. */
void
cluster_cond_send(struct cop *op)
{
	struct cluster_session	*cs = op->cs;
	struct session		*s = cs->s;
	struct cwait		*cw = op->cw;
	struct object		*o = cw->w.obj;
	char			 key[KEY_MAX], *value;
	json_t			*ops, *v;
	uint32_t		 i;

	snprintf(key, sizeof(key), OBJ_ROOT "%s" QUEUE_SEP "%" PRIx64 ".%"
	    PRIx64 ".w", object_name(o), (uint64_t)cs->lease, ++cs->seq);
	v = json_pack("{s:s,s:s%,s:I,s:I,s:s}", "type", "condition", "lock",
	    object_name(cw->lock), cw->lock->namelen, "session",
	    (json_int_t)s->id, "pid", (json_int_t)s->pid, "host", cs->c->host);
	value = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	ops = json_array();
	json_array_append_new(ops, json_pack("{s:{s:o,s:o,s:o}}",
	    "request_put", "key", etcd_b64(key, strlen(key)), "value",
	    etcd_b64(value, strlen(value)), "lease", etcd_int_json(cs->lease)));
	free(value);
	for (i = 0; i < cw->nlock_keys; i++)
		json_array_append_new(ops, json_pack("{s:{s:o}}",
		    "request_delete_range", "key", etcd_b64(cw->lock_keys[i],
		    strlen(cw->lock_keys[i]))));
	op->key = xstrdup(key);
	etcd_post(cs->c->etcd, "/v3/kv/txn", json_pack("{s:[],s:o}",
	    "compare", "success", ops), cluster_put_cb, op);
}

enum hret
cluster_cond_wait(struct request *rq)
{
	struct cluster	*c = rq->model->cluster;
	struct object	*co, *lo;
	struct hold	*h;
	struct chold	*ch;
	struct cwait	*cw;
	const char	*lname;
	size_t		 llen;
	double		 timeout;

	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    rq_name(rq, "lock", &lname, &llen) != HR_DONE ||
	    cluster_admit(rq, &cluster_cond_type) != HR_DONE)
		return (HR_ERROR);
	if (llen < c->prefix_len || memcmp(lname, c->prefix,
	    c->prefix_len) != 0)
		return (rq_fail(rq, PSYNC_ERR_TYPE_MISMATCH, "'%s' is a "
		    "cluster condition: its lock must be a cluster lock or "
		    "rlock too (a name under the --cluster-prefix), and '%s' "
		    "is not", QUOTED_NAME(rq), QUOTED(lname, llen)));
	lo = object_find(rq->model, lname, llen);
	if (lo != NULL && lo->type != &cluster_lock_type &&
	    lo->type != &cluster_rlock_type)
		return (rq_fail(rq, PSYNC_ERR_TYPE_MISMATCH, "'%s' is %s %s; "
		    "cond.wait needs a lock or an rlock", QUOTED(lname, llen),
		    lo->type->article, lo->type->name));
	if (lo == NULL || (h = hold_find(lo, rq->sess)) == NULL)
		return (rq_fail(rq, PSYNC_ERR_NOT_OWNER, "session %llu does "
		    "not hold '%s'", (unsigned long long)rq->sess->id,
		    QUOTED(lname, llen)));
	if (object_get(rq, &cluster_cond_type, true, &co) != HR_DONE ||
	    object_check_pending(rq, &cluster_cond_type) != HR_DONE)
		return (HR_ERROR);
	cw = CW(wait_new(rq, co, timeout, 0, sizeof(*cw)));
	cw->lock = lo;
	lo->pins++;
	cw->depth = h->count;
	/* The lock is released now; its keys go in the wait's txn. */
	ch = CHOLD(h);
	cw->lock_keys = ch->keys;
	cw->nlock_keys = ch->nkeys;
	ch->keys = NULL;
	ch->nkeys = 0;
	cluster_hold_free(rq->model, h, false);
	cluster_wait_enqueue(c, cw);
	return (HR_PENDING);
}

/* A notify: reads the condition's queue, then wakes the oldest. */
struct cnotify {
	struct cluster		*c;
	struct cwait		*cw;		/* its own wait; NULL: ended */
	json_int_t		 want;		/* still to wake */
	json_int_t		 woken;
	json_int_t		 batch;		/* in the txn in flight */
	int			 tries;
	char			 queue[KEY_MAX];
};

static void	cnotify_read(struct cnotify *);

/* The notify's wait ended first (its session gone): nobody to answer. */
void
cluster_cond_notify_detach(struct cnotify *k)
{
	k->cw = NULL;
}

static void
cnotify_free(struct cnotify *k)
{
	if (k->cw != NULL)
		k->cw->notify = NULL;
	free(k);
}

/* End k: its wait answered {woken}, or failed with err. */
static void
cnotify_finish(struct cnotify *k, const char *err)
{
	struct cluster	*c = k->c;
	struct cwait	*cw = k->cw;
	json_int_t	 woken = k->woken;
	struct reply	 r;
	char		 msg[400];

	cnotify_free(k);
	if (cw == NULL)
		return;
	if (err != NULL) {
		snprintf(msg, sizeof(msg), "the cluster cannot be reached: %s",
		    err);
		wait_fail(c->m, &cw->w, PSYNC_ERR_UNAVAILABLE, msg);
		return;
	}
	wait_reply_init(&cw->w, &r);
	reply_int(&r, "woken", woken);
	wait_complete(c->m, &cw->w, &r);
}

/* etcd could not answer: the notify fails (or, closing, just ends). */
static void
cnotify_unanswered(struct cnotify *k, const char *err)
{
	struct cluster	*c = k->c;

	if (err != ETCD_CLOSING)
		cnotify_finish(k, err);
	else
		cnotify_free(k);
	object_settle_all(c->m);
}

static void
cnotify_written(void *arg, json_t *reply, const char *err)
{
	struct cnotify	*k = arg;
	struct cluster	*c = k->c;

	if (reply == NULL) {
		cnotify_unanswered(k, err);
		return;
	}
	if (json_is_true(json_object_get(reply, "succeeded"))) {
		k->woken += k->batch;
		k->want -= k->batch;
	} else if (++k->tries >= RCALL_TRIES)
		k->want = 0;		/* a waiter keeps leaving: enough */
	k->batch = 0;
	cnotify_read(k);		/* may answer: settle after */
	object_settle_all(c->m);
}

/* The queue as etcd has it: wake up to want of its oldest unnotified. */
static void
cnotify_queue(void *arg, json_t *reply, const char *err)
{
	struct cnotify	*k = arg;
	struct cluster	*c = k->c;
	json_t		*kvs, *kv, *cmps, *ops, *v;
	char		 text[1024], *value;
	size_t		 i, n;

	if (reply == NULL) {
		cnotify_unanswered(k, err);
		return;
	}
	/* In creation order: etcd sorted them (cnotify_read). */
	kvs = json_object_get(reply, "kvs");
	n = json_array_size(kvs);
	cmps = json_array();
	ops = json_array();
	for (i = 0; i < n && k->batch < k->want &&
	    k->batch < NOTIFY_BATCH; i++) {
		kv = json_array_get(kvs, i);
		if (etcd_unb64(json_object_get(kv, "value"), text,
		    sizeof(text)) == -1 ||
		    (v = json_loads(text, 0, NULL)) == NULL)
			continue;
		if (json_is_true(json_object_get(v, "notified"))) {
			json_decref(v);
			continue;
		}
		json_object_set_new(v, "notified", json_true());
		value = json_dumps(v, JSON_COMPACT);
		json_decref(v);
		json_array_append_new(cmps, json_pack("{s:s,s:s,s:O,s:O}",
		    "target", "CREATE", "result", "EQUAL", "key",
		    json_object_get(kv, "key"), "create_revision",
		    json_object_get(kv, "create_revision")));
		json_array_append_new(ops, json_pack("{s:{s:O,s:o,s:O}}",
		    "request_put", "key", json_object_get(kv, "key"), "value",
		    etcd_b64(value, strlen(value)), "lease",
		    json_object_get(kv, "lease")));
		free(value);
		k->batch++;
	}
	if (k->batch == 0) {
		json_decref(cmps);
		json_decref(ops);
		cnotify_finish(k, NULL);
		object_settle_all(c->m);
		return;
	}
	if (etcd_post(c->etcd, "/v3/kv/txn", json_pack("{s:o,s:o}",
	    "compare", cmps, "success", ops), cnotify_written, k) == NULL)
		cnotify_free(k);
}

static void
cnotify_read(struct cnotify *k)
{
	json_t	*req;

	if (k->want <= 0) {
		cnotify_finish(k, NULL);
		return;
	}
	req = cluster_prefix_range(k->queue);
	json_object_set_new(req, "sort_order", json_string("ASCEND"));
	json_object_set_new(req, "sort_target", json_string("CREATE"));
	if (etcd_post(k->c->etcd, "/v3/kv/range", req, cnotify_queue,
	    k) == NULL)
		cnotify_free(k);
}

static enum hret
cluster_cond_notify_n(struct request *rq, json_int_t n)
{
	struct object	*o;
	struct cnotify	*k;

	if (cluster_admit(rq, &cluster_cond_type) != HR_DONE ||
	    object_get(rq, &cluster_cond_type, true, &o) != HR_DONE ||
	    object_check_pending(rq, &cluster_cond_type) != HR_DONE)
		return (HR_ERROR);
	k = xcalloc(1, sizeof(*k));
	k->c = rq->model->cluster;
	k->want = n;
	snprintf(k->queue, sizeof(k->queue), OBJ_ROOT "%s" QUEUE_SEP,
	    object_name(o));
	k->cw = CW(wait_new(rq, o, TIMEOUT_FOREVER, 0, sizeof(struct cwait)));
	k->cw->notify = k;
	cnotify_read(k);
	return (HR_PENDING);
}

enum hret
cluster_cond_notify(struct request *rq)
{
	json_int_t	n;

	if (prim_notify_n(rq, &n) != HR_DONE)
		return (HR_ERROR);
	return (cluster_cond_notify_n(rq, n));
}

enum hret
cluster_cond_notify_all(struct request *rq)
{
	return (cluster_cond_notify_n(rq, INT64_MAX));
}

/* Waiters whose keys the mirror shows notified take their lock back. */
static void
cluster_cond_pump(struct model *m, struct object *o)
{
	struct cluster	*c = m->cluster;
	struct cname	*n;
	struct wait	*w, *next;
	struct cwait	*cw;
	struct ckey	*k;

	if (c->revision == 0)
		return;
	n = cluster_name_find(c, object_name(o), o->namelen);
	for (w = TAILQ_FIRST(&o->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, obj_entry);
		cw = CW(w);
		if (cw->lock == NULL || cw->rev == 0 || cw->rev > c->revision)
			continue;	/* a notify's, or its txn in flight */
		if ((k = cluster_key_find(n, cw->rev, NULL)) == NULL) {
			cluster_cond_leave(c, cw);
			wait_fail(m, w, PSYNC_ERR_UNAVAILABLE, "this cond.wait's "
			    "key left etcd before it was notified (its "
			    "session's lease expired?); the lock is not held");
		} else if (k->notified)
			cond_wake(m, w, true);
	}
}

static void
cluster_cond_timed_out(struct model *m, struct wait *w)
{
	cond_wake(m, w, false);
}

static void
cluster_cond_wait_left(struct model *m, struct wait *w, enum wait_end why)
{
	(void)why;
	cluster_cond_leave(m->cluster, CW(w));
}

static struct object *
cluster_cond_pinned(const struct wait *w)
{
	return (CW(w)->lock);
}

const struct objtype cluster_cond_type = {
	.name = "condition",
	.article = "a",
	.kind = OBJ_COND,
	.size = sizeof(struct object),
	.verbs = cluster_none,
	.is_fresh = object_always_fresh,
	.pump = cluster_cond_pump,
	.wait_left = cluster_cond_wait_left,
	.timed_out = cluster_cond_timed_out,
	.pinned = cluster_cond_pinned,
	.describe = cluster_flag_describe,
};

