/*
 * admin.c -- the server ops: ping, hello, stat, list, info, delete, cancel.
 *
 * Layer 6, dispatch: the server ops, beside dispatch.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "dispatch.h"
#include "model.h"
#include "object.h"
#include "request.h"
#include "session.h"
#include "version.h"
#include "wait.h"
#include "xmalloc.h"

static enum hret
admin_ping(struct request *rq)
{
	(void)rq;		/* {id, ok: true} is the whole answer */
	return (HR_DONE);
}

static enum hret
admin_hello(struct request *rq)
{
	const char	*name;
	char		 why[160];
	size_t		 len;
	json_t		*r;

	const char	*life;
	size_t		 lifelen;
	int		 watch = -1;
	bool		 notices;

	if (rq_opt_string(rq, "client", &name, &len) != HR_DONE ||
	    rq_opt_string(rq, "lifetime", &life, &lifelen) != HR_DONE ||
	    rq_bool(rq, "notices", rq->sess->notices, &notices) != HR_DONE)
		return (HR_ERROR);
	if (name != NULL && !psync_name_check(name, len, why, sizeof(why)))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'client': %s", why));
	/*
	 * "connection": the session outlives its connecting process while
	 * the socket is open (a client that hands its socket on); the
	 * default, "process", ends it when either goes.
	 */
	if (life != NULL) {
		if (strcmp(life, "process") == 0)
			watch = 1;
		else if (strcmp(life, "connection") == 0)
			watch = 0;
		else
			return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "field "
			    "'lifetime' must be \"process\" or "
			    "\"connection\""));
	}
	if (watch != -1 && rq->sess->ops->set_lifetime(rq->sess,
	    watch == 1) == -1)
		return (rq_fail(rq, PSYNC_ERR_LIMIT, "cannot watch the "
		    "connecting process (pid %ld): %s", (long)rq->sess->pid,
		    strerror(errno)));
	if (name != NULL)
		session_set_client(rq->sess, name, len);
	/* Lines without an id (a cluster hold lost) only if asked for. */
	rq->sess->notices = notices;
	r = reply_members(rq_reply(rq));
	json_object_set_new(r, "lifetime", json_string(
	    rq->sess->ops->process_lifetime(rq->sess) ? "process" :
	    "connection"));
	json_object_set_new(r, "server", json_string("psyncd"));
	json_object_set_new(r, "version", json_string(PSYNCD_VERSION));
	json_object_set_new(r, "protocol", json_integer(PSYNC_PROTOCOL_VERSION));
	json_object_set_new(r, "session",
	    json_integer((json_int_t)rq->sess->id));
	json_object_set_new(r, "notices", json_boolean(rq->sess->notices));
	return (HR_DONE);
}

/*
 * {version, uptime, connections, objects, types, ops, input_buffered,
 * limits}: the model's part here, the transport's (connections,
 * input_buffered, its limits) from its owner.
 */
static enum hret
admin_stat(struct request *rq)
{
	struct model	*m = rq->model;
	json_t		*r, *types, *limits;
	int		 k;

	r = reply_members(rq_reply(rq));
	json_object_set_new(r, "version", json_string(PSYNCD_VERSION));
	json_object_set_new(r, "objects",
	    json_integer((json_int_t)m->objects.count));
	types = json_object();
	for (k = 0; k < OBJ__COUNT; k++)
		json_object_set_new(types, objtypes[k]->name, json_integer(
		    (json_int_t)m->per_kind[k]));
	json_object_set_new(r, "types", types);
	json_object_set_new(r, "ops", json_integer((json_int_t)m->ops));
	limits = json_object();
	json_object_set_new(limits, "max_objects",
	    json_integer((json_int_t)m->max_objects));
	json_object_set_new(limits, "max_pending",
	    json_integer(m->max_pending));
	json_object_set_new(r, "limits", limits);
	if (m->describe_owner != NULL)
		m->describe_owner(m, r);
	return (HR_DONE);
}

static int
object_cmp(const void *a, const void *b)
{
	const struct object	*x = *(const struct object *const *)a;
	const struct object	*y = *(const struct object *const *)b;
	size_t			 n = x->namelen < y->namelen ? x->namelen :
				    y->namelen;
	int			 c;

	if ((c = memcmp(object_name(x), object_name(y), n)) != 0)
		return (c);
	return ((int)x->namelen - (int)y->namelen);
}

static int
entry_cmp(const void *a, const void *b)
{
	return (strcmp(json_string_value(json_object_get(
	    *(json_t *const *)a, "name")), json_string_value(json_object_get(
	    *(json_t *const *)b, "name"))));
}

/* Sort list's entries by name (byte order, as object_cmp does). */
static void
list_sort(json_t *list)
{
	size_t	 n = json_array_size(list), i;
	json_t	**v;

	if (n < 2)
		return;
	v = xcalloc(n, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(list, i));
	qsort(v, n, sizeof(*v), entry_cmp);
	json_array_clear(list);
	for (i = 0; i < n; i++)
		json_array_append_new(list, v[i]);
	free(v);
}

static enum hret
admin_list(struct request *rq)
{
	struct objtab_link *l;
	struct object	*o, **v;
	const char	*prefix;
	size_t		 plen, n = 0, i;
	json_t		*list;

	if (rq_opt_string(rq, "prefix", &prefix, &plen) != HR_DONE)
		return (HR_ERROR);
	/* Sorted by name, so that the output is stable. */
	v = xcalloc(rq->model->objects.count, sizeof(*v));
	for (l = objtab_first(&rq->model->objects); l != NULL;
	    l = objtab_next(l)) {
		o = object_of(l);
		if (prefix == NULL || (o->namelen >= plen &&
		    memcmp(object_name(o), prefix, plen) == 0))
			v[n++] = o;
	}
	qsort(v, n, sizeof(*v), object_cmp);
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, object_describe(rq->model, v[i],
		    false));
	free(v);
	/* Cluster names known only from etcd, in the same order. */
	if (rq->model->cluster != NULL) {
		cluster_list(rq->model->cluster, rq->model, prefix, plen, list);
		list_sort(list);
	}
	json_object_set_new(reply_members(rq_reply(rq)), "objects", list);
	return (HR_DONE);
}

/*
 * After lock o's queue, the cond.waits that will take it back once
 * notified: they count as its waiters (list counts them too), each with
 * the condition it waits on.
 */
static void
describe_pinning_waits(struct model *m, const struct object *o,
    json_t *waiters)
{
	struct session	*s;
	struct wait	*w;
	json_t		*e;

	TAILQ_FOREACH(s, &m->sessions, entry) {
		TAILQ_FOREACH(w, &s->waits, sess_entry) {
			if (object_pinned_by(w) != o)
				continue;
			e = session_describe(s);
			json_object_set_new(e, "waiting_for",
			    json_real(model_age(m, w->since)));
			json_object_set_new(e, "condition", json_stringn(
			    object_name(w->obj), w->obj->namelen));
			json_array_append_new(waiters, e);
		}
	}
}

static enum hret
admin_info(struct request *rq)
{
	struct object	*o;
	const char	*name;
	size_t		 len;
	json_t		*d;

	if (rq_name(rq, "name", &name, &len) != HR_DONE)
		return (HR_ERROR);
	if ((o = object_find(rq->model, name, len)) == NULL)
		return (rq_fail(rq, PSYNC_ERR_NOT_FOUND, "no object '%s'",
		    QUOTED(name, len)));
	d = object_describe(rq->model, o, true);
	if (o->pins > 0)
		describe_pinning_waits(rq->model, o,
		    json_object_get(d, "waiters"));
	json_object_update(reply_members(rq_reply(rq)), d);
	json_decref(d);
	return (HR_DONE);
}

static enum hret
admin_delete(struct request *rq)
{
	struct object	*o;
	const char	*name;
	size_t		 len;
	bool		 force;

	if (rq_name(rq, "name", &name, &len) != HR_DONE ||
	    rq_bool(rq, "force", false, &force) != HR_DONE)
		return (HR_ERROR);
	if ((o = object_find(rq->model, name, len)) == NULL)
		return (rq_fail(rq, PSYNC_ERR_NOT_FOUND, "no object '%s'",
		    QUOTED(name, len)));
	if (!force && (o->nholders > 0 || o->nwaiters > 0 || o->pins > 0))
		return (rq_fail(rq, PSYNC_ERR_BUSY, "%s '%s' has %u holder%s "
		    "and %u waiter%s; use force to delete it", o->type->name,
		    QUOTED(name, len), o->nholders,
		    o->nholders == 1 ? "" : "s", o->nwaiters + o->pins,
		    o->nwaiters + o->pins == 1 ? "" : "s"));
	object_delete(rq->model, o);
	return (HR_DONE);
}

static enum hret
admin_cancel(struct request *rq)
{
	struct wait	*w;
	json_t		*target;

	target = json_object_get(rq->json, "target");
	if (target == NULL)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "missing field 'target'"));
	if (!json_is_string(target) && !json_is_integer(target))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'target' must be a string or an integer"));
	/* The oldest pending request with that id. */
	TAILQ_FOREACH(w, &rq->sess->waits, sess_entry) {
		if (wait_id_equal(w->id, target))
			break;
	}
	if (w != NULL)
		wait_end(rq->model, w, WAIT_CANCELLED);
	reply_bool(rq_reply(rq), "cancelled", w != NULL);
	return (HR_DONE);
}

const struct verb admin_verbs[] = {
	{ PSYNC_OP_PING, admin_ping },
	{ PSYNC_OP_HELLO, admin_hello },
	{ PSYNC_OP_STAT, admin_stat },
	{ PSYNC_OP_LIST, admin_list },
	{ PSYNC_OP_INFO, admin_info },
	{ PSYNC_OP_DELETE, admin_delete },
	{ PSYNC_OP_CANCEL, admin_cancel },
	{ 0, NULL }
};
