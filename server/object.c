/*
 * object.c -- the generic life of a named object.
 *
 * Objects are created by the first request that needs them and settle at
 * the top of each event: object_touch() puts a changed object on the
 * server's settle list, and object_settle_all() pumps its queue (granting
 * what can be granted) and frees it if it is back in its fresh state.
 * Settling only at top level keeps grants out of the middle of another
 * handler, so no handler ever sees an object change or vanish under it.
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "object.h"
#include "request.h"
#include "session.h"
#include "wait.h"
#include "xmalloc.h"

struct object *
object_find(struct model *m, const char *name, size_t len)
{
	struct objtab_link	*l = objtab_find(&m->objects, name, len);

	return (l != NULL ? object_of(l) : NULL);
}

struct object *
object_create(struct request *rq, const struct objtype *t)
{
	struct model	*m = rq->model;
	struct object	*o;
	struct temp_ref	*ref = NULL;
	const char	*name;
	size_t		 len;
	char		*key;
	bool		 temporary;

	if (rq_name(rq, "name", &name, &len) != HR_DONE ||
	    rq_bool(rq, "temporary", false, &temporary) != HR_DONE)
		return (NULL);
	if (m->objects.count >= m->max_objects) {
		rq_fail(rq, PSYNC_ERR_LIMIT, "cannot create %s '%s': the "
		    "object limit (%zu, --max-objects) is reached", t->name,
		    QUOTED(name, len), m->max_objects);
		return (NULL);
	}
	o = xcalloc(1, t->size + len + 1);
	key = (char *)o + t->size;
	memcpy(key, name, len);
	o->type = t;
	o->namelen = (uint8_t)len;
	TAILQ_INIT(&o->waiters);
	TAILQ_INIT(&o->holders);
	if (objtab_insert(&m->objects, &o->link, key, len) == -1) {
		free(o);
		rq_fail(rq, PSYNC_ERR_INTERNAL, "cannot create %s '%s': out "
		    "of memory growing the name table", t->name,
		    QUOTED(name, len));
		return (NULL);
	}
	if (temporary) {
		ref = xcalloc(1, sizeof(*ref));
		ref->obj = o;
		ref->sess = rq->sess;
		TAILQ_INSERT_TAIL(&rq->sess->temps, ref, entry);
		o->temp = ref;
	}
	m->per_kind[t->kind]++;
	/* Settle it even if the request fails from here on. */
	object_touch(m, o);
	rq->created = o;
	return (o);
}

enum hret
object_check_pending(struct request *rq, const struct objtype *t)
{

	if (rq->sess->npending < rq->model->max_pending)
		return (HR_DONE);
	return (rq_fail(rq, PSYNC_ERR_LIMIT, "cannot wait for %s '%s': this "
	    "connection already has %u pending requests (--max-pending)",
	    t->name, QUOTED_NAME(rq),
	    rq->model->max_pending));
}

enum hret
object_get(struct request *rq, const struct objtype *t, bool create,
    struct object **out)
{
	struct object	*o;
	const char	*name;
	size_t		 len;

	if (rq_name(rq, "name", &name, &len) != HR_DONE)
		return (HR_ERROR);
	o = object_find(rq->model, name, len);
	if (o != NULL && o->type != t) {
		return (rq_fail(rq, PSYNC_ERR_TYPE_MISMATCH,
		    "'%s' is %s %s, not %s %s", QUOTED(name, len),
		    o->type->article, o->type->name, t->article, t->name));
	}
	/*
	 * A temporary object is made by whatever request names it first,
	 * reads included, for the parameterless types (the others need
	 * their parameters, and create themselves).
	 */
	if (o == NULL && (create || (t->is_fresh != NULL &&
	    json_is_true(json_object_get(rq->json, "temporary")))) &&
	    (o = object_create(rq, t)) == NULL)
		return (HR_ERROR);
	*out = o;
	return (HR_DONE);
}

void
object_touch(struct model *m, struct object *o)
{
	if (o->flags & OBJ_DIRTY)
		return;
	o->flags |= OBJ_DIRTY;
	o->dirty_next = m->dirty;
	m->dirty = o;
}

bool
object_is_fresh(const struct object *o)
{
	/* A temporary object lives as long as its creator's session. */
	return (o->nholders == 0 && o->nwaiters == 0 && o->pins == 0 &&
	    o->temp == NULL && o->type->is_fresh != NULL &&
	    o->type->is_fresh(o));
}

void
object_settle_all(struct model *m)
{
	struct object	*o;

	/* Pumping may touch other objects; they join the list. */
	while ((o = m->dirty) != NULL) {
		m->dirty = o->dirty_next;
		o->flags &= ~OBJ_DIRTY;
		if (o->type->pump != NULL)
			o->type->pump(m, o);
		if (!(o->flags & OBJ_DIRTY) && object_is_fresh(o))
			object_destroy(m, o);
	}
}

void
object_destroy(struct model *m, struct object *o)
{
	struct object	**pp;

	if (o->flags & OBJ_DIRTY) {
		for (pp = &m->dirty; *pp != o; pp = &(*pp)->dirty_next)
			;
		*pp = o->dirty_next;
	}
	objtab_remove(&m->objects, &o->link);
	m->per_kind[o->type->kind]--;
	if (o->temp != NULL) {
		TAILQ_REMOVE(&o->temp->sess->temps, o->temp, entry);
		free(o->temp);
	}
	if (o->type->destroy != NULL)
		o->type->destroy(o);
	free(o);
}

void
object_free_all(struct model *m)
{
	struct objtab_link	*l;
	struct object		*o;

	while ((l = objtab_first(&m->objects)) != NULL) {
		o = object_of(l);
		while (!TAILQ_EMPTY(&o->waiters))
			wait_end(m, TAILQ_FIRST(&o->waiters), WAIT_SHUTDOWN);
		object_destroy(m, o);
	}
}

/* End, with "deleted", every cond.wait waiting to re-acquire lock o. */
static void
object_delete_pinning_waits(struct model *m, struct object *o)
{
	struct session	*s;
	struct wait	*w, *next;

	TAILQ_FOREACH(s, &m->sessions, entry) {
		for (w = TAILQ_FIRST(&s->waits); w != NULL; w = next) {
			next = TAILQ_NEXT(w, sess_entry);
			if (object_pinned_by(w) == o)
				wait_end(m, w, WAIT_LOCK_DELETED);
		}
	}
}

void
object_delete(struct model *m, struct object *o)
{
	struct wait	*w;
	struct hold	*h;

	/* cond.waits that would re-acquire a lock pin it: they go too. */
	if (o->pins > 0)
		object_delete_pinning_waits(m, o);
	while ((w = TAILQ_FIRST(&o->waiters)) != NULL)
		wait_end(m, w, WAIT_DELETED);
	while ((h = TAILQ_FIRST(&o->holders)) != NULL)
		o->type->hold_lost(m, o, h);
	object_destroy(m, o);
}

void
object_delete_temps(struct model *m, struct session *s)
{
	struct temp_ref	*ref;

	/* Each delete unties its object from the list. */
	while ((ref = TAILQ_FIRST(&s->temps)) != NULL)
		object_delete(m, ref->obj);
}

struct object *
object_pinned_by(const struct wait *w)
{
	const struct objtype	*t = w->obj->type;

	return (t->pinned != NULL ? t->pinned(w) : NULL);
}

struct hold *
hold_find(struct object *o, struct session *s)
{
	struct hold	*h;

	/* A connection's holds are usually the shorter list. */
	TAILQ_FOREACH(h, &s->holds, sess_entry) {
		if (h->obj == o)
			return (h);
	}
	return (NULL);
}

bool
object_always_fresh(const struct object *o)
{
	(void)o;
	return (true);
}

void
hold_link(struct hold *h, struct object *o, struct session *s)
{
	h->obj = o;
	h->sess = s;
	h->since = model_now_us(s->model);
	TAILQ_INSERT_TAIL(&o->holders, h, obj_entry);
	TAILQ_INSERT_TAIL(&s->holds, h, sess_entry);
	o->nholders++;
}

void
hold_unlink(struct model *m, struct hold *h)
{
	struct object	*o = h->obj;

	TAILQ_REMOVE(&o->holders, h, obj_entry);
	TAILQ_REMOVE(&h->sess->holds, h, sess_entry);
	o->nholders--;
	h->sess = NULL;
	object_touch(m, o);
}

json_t *
object_describe(struct model *m, const struct object *o, bool full)
{
	json_t			*d, *list, *e;
	const struct hold	*h;
	const struct wait	*w;

	d = json_object();
	json_object_set_new(d, "name", json_stringn(object_name(o), o->namelen));
	json_object_set_new(d, "type", json_string(o->type->name));
	if (!full) {
		json_object_set_new(d, "holders", json_integer(o->nholders));
		/* A cond.wait that will take the lock back waits on it too. */
		json_object_set_new(d, "waiters",
		    json_integer(o->nwaiters + o->pins));
	} else {
		list = json_array();
		TAILQ_FOREACH(h, &o->holders, obj_entry) {
			e = session_describe(h->sess);
			json_object_set_new(e, "held_for",
			    json_real(model_age(m, h->since)));
			if (o->type->describe_hold != NULL)
				o->type->describe_hold(h, e);
			json_array_append_new(list, e);
		}
		json_object_set_new(d, "holders", list);
		list = json_array();
		TAILQ_FOREACH(w, &o->waiters, obj_entry) {
			e = session_describe(w->sess);
			json_object_set_new(e, "waiting_for",
			    json_real(model_age(m, w->since)));
			if (o->type->describe_wait != NULL)
				o->type->describe_wait(w, e);
			json_array_append_new(list, e);
		}
		json_object_set_new(d, "waiters", list);
	}
	if (o->temp != NULL)
		json_object_set_new(d, "temporary", json_integer(
		    (json_int_t)o->temp->sess->id));
	if (o->type->describe != NULL)
		o->type->describe(o, d);
	return (d);
}
