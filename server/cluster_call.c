/*
 * cluster_call.c -- cluster events and counters: each request is one
 * etcd call (a counter's add a few), answered through a wait.
 *
 * Layer 5, primitives (cluster_int.h).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "etcd.h"
#include "model.h"
#include "object.h"
#include "reply.h"
#include "request.h"
#include "wait.h"
#include "xmalloc.h"

/*
 * Events and counters: each request is one etcd call (a counter's add a
 * few, when another host's add comes between), answered through a wait
 * on the name's local object, so that a session's end or a cancel drops
 * the answer as for any wait.  event.wait is a plain wait, settled from
 * the mirror.
 */

enum ccall_op {
	CC_EVENT_SET, CC_EVENT_CLEAR, CC_EVENT_IS_SET,
	CC_COUNTER_GET, CC_COUNTER_SET, CC_COUNTER_ADD, CC_COUNTER_CAS
};

#define ADD_TRIES	1000		/* another host's add came between */

struct ccall {
	struct cluster		*c;
	struct cwait		*cw;		/* NULL once its wait ended */
	enum ccall_op		 op;
	json_int_t		 arg, arg2;	/* delta or value; expect */
	int64_t			 mod;		/* add: the value's mod revision */
	json_int_t		 cur;		/* add: the value at mod */
	int			 tries;
	char			 key[KEY_MAX];
};

static void	ccall_send(struct ccall *);

static json_t *
decimal_b64(json_int_t v)
{
	char	buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return (etcd_b64(buf, strlen(buf)));
}

/* Put v at key, or delete it for 0: a counter at 0 is no key at all. */
static json_t *
counter_store_req(const char *key, json_int_t v)
{
	if (v == 0)
		return (json_pack("{s:{s:o}}", "request_delete_range", "key",
		    etcd_b64(key, strlen(key))));
	return (json_pack("{s:{s:o,s:o}}", "request_put", "key",
	    etcd_b64(key, strlen(key)), "value", decimal_b64(v)));
}

/* The first range response's value and mod revision in a txn reply. */
static void
txn_range(const json_t *reply, json_int_t *v, int64_t *mod)
{
	json_t	*kv = json_array_get(json_object_get(json_object_get(
		    json_array_get(json_object_get(reply, "responses"), 0),
		    "response_range"), "kvs"), 0);
	char	 buf[32];

	*v = 0;
	*mod = 0;
	if (kv != NULL && etcd_unb64(json_object_get(kv, "value"), buf,
	    sizeof(buf)) != -1) {
		*v = strtoll(buf, NULL, 10);
		*mod = etcd_int(kv, "mod_revision");
	}
}

static void
ccall_done(void *arg, json_t *reply, const char *err)
{
	struct ccall	*k = arg;
	struct cluster	*c = k->c;
	struct cwait	*cw = k->cw;
	struct reply	 r;
	json_int_t	 v;
	int64_t		 mod;
	char		 msg[400];
	bool		 ok;

	if (cw == NULL) {		/* its wait ended: nobody to tell */
		free(k);
		return;
	}
	if (reply == NULL) {
		cw->call = NULL;
		snprintf(msg, sizeof(msg), "the cluster cannot be reached: %s",
		    err);
		wait_fail(c->m, &cw->w, PSYNC_ERR_UNAVAILABLE, msg);
		free(k);
		object_settle_all(c->m);
		return;
	}
	ok = json_is_true(json_object_get(reply, "succeeded"));
	wait_reply_init(&cw->w, &r);
	switch (k->op) {
	case CC_EVENT_IS_SET:
		reply_bool(&r, "set", etcd_int(reply, "count") > 0);
		break;
	case CC_COUNTER_GET:
		txn_range(reply, &v, &mod);
		reply_int(&r, "value", v);
		break;
	case CC_COUNTER_SET:
		reply_int(&r, "value", k->arg);
		break;
	case CC_COUNTER_ADD:
		if (!ok) {
			/* Another add came between: again from its value. */
			txn_range(reply, &k->cur, &k->mod);
			reply_clear(&r);
			if (++k->tries < ADD_TRIES) {
				ccall_send(k);		/* may end the wait */
				object_settle_all(c->m);
				return;
			}
			cw->call = NULL;
			wait_fail(c->m, &cw->w, PSYNC_ERR_BUSY, "counter.add "
			    "lost the race to other hosts' adds 1000 times");
			free(k);
			object_settle_all(c->m);
			return;
		}
		reply_int(&r, "value", k->cur + k->arg);
		break;
	case CC_COUNTER_CAS:
		if (ok) {
			reply_bool(&r, "swapped", true);
			reply_int(&r, "value", k->arg);
		} else {
			txn_range(reply, &v, &mod);
			reply_bool(&r, "swapped", false);
			reply_int(&r, "value", v);
		}
		break;
	default:			/* set, clear: {} */
		break;
	}
	cw->call = NULL;
	wait_complete(c->m, &cw->w, &r);
	free(k);
	object_settle_all(c->m);
}

static void
ccall_send(struct ccall *k)
{
	struct cluster	*c = k->c;
	json_t		*req, *key = etcd_b64(k->key, strlen(k->key));
	json_t		*cmp;
	json_int_t	 v;
	const char	*path = "/v3/kv/txn";
	char		 msg[300];

	switch (k->op) {
	case CC_EVENT_SET:
		path = "/v3/kv/put";
		req = json_pack("{s:o,s:o}", "key", key, "value",
		    etcd_b64("1", 1));
		break;
	case CC_EVENT_CLEAR:
		path = "/v3/kv/deleterange";
		req = json_pack("{s:o}", "key", key);
		break;
	case CC_EVENT_IS_SET:
		path = "/v3/kv/range";
		req = json_pack("{s:o,s:b}", "key", key, "count_only", 1);
		break;
	case CC_COUNTER_GET:
		/* A txn of one range, so that txn_range reads it. */
		req = json_pack("{s:[],s:[{s:{s:o}}]}", "compare", "success",
		    "request_range", "key", key);
		break;
	case CC_COUNTER_SET:
		req = json_pack("{s:[],s:[o]}", "compare", "success",
		    counter_store_req(k->key, k->arg));
		json_decref(key);
		break;
	case CC_COUNTER_ADD:
		if (__builtin_add_overflow(k->cur, k->arg, &v)) {
			json_decref(key);
			snprintf(msg, sizeof(msg), "counter '%s': %lld + %lld "
			    "overflows a signed 64-bit counter",
			    QUOTED_OBJ(k->cw->w.obj), (long long)k->cur,
			    (long long)k->arg);
			/* Settled by the caller: a handler or ccall_done. */
			k->cw->call = NULL;
			wait_fail(c->m, &k->cw->w, PSYNC_ERR_WOULD_EXCEED, msg);
			free(k);
			return;
		}
		/* Only if nobody changed it since the value we add to. */
		cmp = json_pack("{s:s,s:s,s:O,s:o}", "target", "MOD", "result",
		    "EQUAL", "key", key, "mod_revision", etcd_int_json(k->mod));
		req = json_pack("{s:[o],s:[o],s:[{s:{s:o}}]}", "compare", cmp,
		    "success", counter_store_req(k->key, v), "failure",
		    "request_range", "key", key);
		break;
	case CC_COUNTER_CAS:
		/* 0 is no key (version 0); anything else its decimal text. */
		if (k->arg2 == 0)
			cmp = json_pack("{s:s,s:s,s:O,s:s}", "target", "VERSION",
			    "result", "EQUAL", "key", key, "version", "0");
		else
			cmp = json_pack("{s:s,s:s,s:O,s:o}", "target", "VALUE",
			    "result", "EQUAL", "key", key, "value",
			    decimal_b64(k->arg2));
		req = json_pack("{s:[o],s:[o],s:[{s:{s:o}}]}", "compare", cmp,
		    "success", counter_store_req(k->key, k->arg), "failure",
		    "request_range", "key", key);
		break;
	default:
		json_decref(key);
		return;
	}
	etcd_post(c->etcd, path, req, ccall_done, k);
}

/* Start rq as one etcd call on its name's local object of type t. */
static enum hret
ccall_start(struct request *rq, const struct objtype *t, enum ccall_op op,
    json_int_t arg, json_int_t arg2)
{
	struct cluster	*c = rq->model->cluster;
	struct object	*o;
	struct cwait	*cw;
	struct ccall	*k;
	struct cname	*n;

	if (cluster_admit(rq, t) != HR_DONE ||
	    object_get(rq, t, true, &o) != HR_DONE ||
	    object_check_pending(rq, t) != HR_DONE)
		return (HR_ERROR);
	cw = CW(wait_new(rq, o, TIMEOUT_FOREVER, 0, sizeof(*cw)));
	k = xcalloc(1, sizeof(*k));
	k->c = c;
	k->cw = cw;
	k->op = op;
	k->arg = arg;
	k->arg2 = arg2;
	snprintf(k->key, sizeof(k->key), OBJ_ROOT "%s/%s", object_name(o),
	    t == &cluster_event_type ? "set" : "v");
	if (op == CC_COUNTER_ADD &&
	    (n = cluster_name_find(c, object_name(o), o->namelen)) != NULL &&
	    n->has_value) {
		/* The mirror's guess; a miss costs one more round trip. */
		k->cur = n->value;
		k->mod = n->value_mod;
	}
	cw->call = k;
	ccall_send(k);
	return (HR_PENDING);
}

/* A call's wait ended first (session gone, cancel): drop the answer. */
static void
cluster_call_wait_left(struct model *m, struct wait *w, enum wait_end why)
{
	struct cwait	*cw = CW(w);

	(void)m;
	(void)why;
	if (cw->call != NULL) {
		cw->call->cw = NULL;
		cw->call = NULL;
	}
}

static void
cluster_call_timed_out(struct model *m, struct wait *w)
{
	struct reply	r;

	/* Only event.wait has a deadline: it was not set in time. */
	cluster_call_wait_left(m, w, WAIT_CANCELLED);
	wait_reply_init(w, &r);
	reply_bool(&r, "set", false);
	wait_complete(m, w, &r);
}

/* The mirror shows the event set: every event.wait is answered. */
static void
cluster_event_pump(struct model *m, struct object *o)
{
	struct cluster	*c = m->cluster;
	struct cname	*n;
	struct wait	*w, *next;
	struct reply	 r;

	if (c->revision == 0 ||
	    (n = cluster_name_find(c, object_name(o), o->namelen)) == NULL ||
	    !n->set)
		return;
	for (w = TAILQ_FIRST(&o->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, obj_entry);
		if (CW(w)->call != NULL)
			continue;	/* a set/clear/is_set in flight */
		wait_reply_init(w, &r);
		reply_bool(&r, "set", true);
		wait_complete(m, w, &r);
	}
}

enum hret
cluster_event_set(struct request *rq)
{
	return (ccall_start(rq, &cluster_event_type, CC_EVENT_SET, 0, 0));
}

enum hret
cluster_event_clear(struct request *rq)
{
	return (ccall_start(rq, &cluster_event_type, CC_EVENT_CLEAR, 0, 0));
}

enum hret
cluster_event_is_set(struct request *rq)
{
	return (ccall_start(rq, &cluster_event_type, CC_EVENT_IS_SET, 0, 0));
}

enum hret
cluster_event_wait(struct request *rq)
{
	struct cluster	*c = rq->model->cluster;
	struct object	*o;
	struct cname	*n;
	double		 timeout;

	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    cluster_admit(rq, &cluster_event_type) != HR_DONE ||
	    object_get(rq, &cluster_event_type, true, &o) != HR_DONE)
		return (HR_ERROR);
	if (c->revision == 0)
		return (rq_fail(rq, PSYNC_ERR_UNAVAILABLE, "the cluster cannot "
		    "be reached: this psyncd has not loaded etcd's state"));
	n = cluster_name_find(c, object_name(o), o->namelen);
	if ((n != NULL && n->set) || timeout == 0) {
		reply_bool(rq_reply(rq), "set", n != NULL && n->set);
		return (HR_DONE);
	}
	if (object_check_pending(rq, &cluster_event_type) != HR_DONE)
		return (HR_ERROR);
	wait_new(rq, o, timeout, 0, sizeof(struct cwait));
	return (HR_PENDING);
}

enum hret
cluster_counter_get(struct request *rq)
{
	return (ccall_start(rq, &cluster_counter_type, CC_COUNTER_GET, 0, 0));
}

enum hret
cluster_counter_set(struct request *rq)
{
	json_int_t	v;

	if (rq_int(rq, "value", true, 0, &v) != HR_DONE)
		return (HR_ERROR);
	return (ccall_start(rq, &cluster_counter_type, CC_COUNTER_SET, v, 0));
}

enum hret
cluster_counter_add(struct request *rq)
{
	json_int_t	d;

	if (rq_int(rq, "delta", true, 0, &d) != HR_DONE)
		return (HR_ERROR);
	return (ccall_start(rq, &cluster_counter_type, CC_COUNTER_ADD, d, 0));
}

enum hret
cluster_counter_cas(struct request *rq)
{
	json_int_t	expect, v;

	if (rq_int(rq, "expect", true, 0, &expect) != HR_DONE ||
	    rq_int(rq, "value", true, 0, &v) != HR_DONE)
		return (HR_ERROR);
	return (ccall_start(rq, &cluster_counter_type, CC_COUNTER_CAS, v,
	    expect));
}


const struct objtype cluster_event_type = {
	.name = "event",
	.article = "an",
	.kind = OBJ_EVENT,
	.size = sizeof(struct object),
	.verbs = cluster_none,
	.is_fresh = object_always_fresh,
	.pump = cluster_event_pump,
	.wait_left = cluster_call_wait_left,
	.timed_out = cluster_call_timed_out,
	.describe = cluster_flag_describe,
};

const struct objtype cluster_counter_type = {
	.name = "counter",
	.article = "a",
	.kind = OBJ_COUNTER,
	.size = sizeof(struct object),
	.verbs = cluster_none,
	.is_fresh = object_always_fresh,
	.wait_left = cluster_call_wait_left,
	.timed_out = cluster_call_timed_out,
	.describe = cluster_flag_describe,
};

