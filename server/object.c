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

#include "conn.h"
#include "object.h"
#include "request.h"
#include "server.h"
#include "wait.h"
#include "xmalloc.h"

struct object *
object_find(struct server *srv, const char *name, size_t len)
{
	return (objtab_find(&srv->objects, name, len));
}

struct object *
object_create(struct request *rq, const struct objtype *t)
{
	struct server	*srv = rq->srv;
	struct object	*o;
	struct temp_ref	*ref = NULL;
	const char	*name;
	size_t		 len;
	char		*key, q[96];
	bool		 temporary;

	if (rq_name(rq, "name", &name, &len) == -1 ||
	    rq_bool(rq, "temporary", false, &temporary) == -1)
		return (NULL);
	if (srv->objects.count >= srv->cfg.max_objects) {
		rq_fail(rq, PSYNC_ERR_LIMIT, "cannot create %s '%s': the "
		    "object limit (%zu, --max-objects) is reached", t->name,
		    quote(q, sizeof(q), name, len), srv->cfg.max_objects);
		return (NULL);
	}
	o = xcalloc(1, t->size + len + 1);
	key = (char *)o + t->size;
	memcpy(key, name, len);
	o->type = t;
	o->namelen = (uint8_t)len;
	TAILQ_INIT(&o->waiters);
	TAILQ_INIT(&o->holders);
	if (objtab_insert(&srv->objects, o, key) == -1) {
		free(o);
		rq_fail(rq, PSYNC_ERR_INTERNAL, "cannot create %s '%s': out "
		    "of memory growing the name table", t->name,
		    quote(q, sizeof(q), name, len));
		return (NULL);
	}
	if (temporary) {
		ref = xcalloc(1, sizeof(*ref));
		ref->obj = o;
		ref->conn = rq->conn;
		TAILQ_INSERT_TAIL(&rq->conn->temps, ref, entry);
		o->temp = ref;
	}
	/* Settle it even if the request fails from here on. */
	object_touch(srv, o);
	rq->created = o;
	return (o);
}

int
object_check_pending(struct request *rq, const struct objtype *t)
{
	char	q[96];

	if (rq->conn->npending < rq->srv->cfg.max_pending)
		return (0);
	return (rq_fail(rq, PSYNC_ERR_LIMIT, "cannot wait for %s '%s': this "
	    "connection already has %u pending requests (--max-pending)",
	    t->name, rq_name_quoted(rq, q, sizeof(q)),
	    rq->srv->cfg.max_pending), -1);
}

int
object_get(struct request *rq, const struct objtype *t, bool create,
    struct object **out)
{
	struct object	*o;
	const char	*name;
	size_t		 len;
	char		 q[96];

	if (rq_name(rq, "name", &name, &len) == -1)
		return (-1);
	o = objtab_find(&rq->srv->objects, name, len);
	if (o != NULL && o->type != t) {
		return (rq_fail(rq, PSYNC_ERR_TYPE_MISMATCH,
		    "'%s' is %s %s, not %s %s", quote(q, sizeof(q), name, len),
		    o->type->article, o->type->name, t->article, t->name), -1);
	}
	/*
	 * A temporary object is made by whatever request names it first,
	 * reads included, for the parameterless types (the others need
	 * their parameters, and create themselves).
	 */
	if (o == NULL && (create || (t->is_fresh != NULL &&
	    json_is_true(json_object_get(rq->json, "temporary")))) &&
	    (o = object_create(rq, t)) == NULL)
		return (-1);
	*out = o;
	return (0);
}

void
object_touch(struct server *srv, struct object *o)
{
	if (o->flags & OBJ_DIRTY)
		return;
	o->flags |= OBJ_DIRTY;
	o->dirty_next = srv->dirty;
	srv->dirty = o;
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
object_settle_all(struct server *srv)
{
	struct object	*o;

	/* Pumping may touch other objects; they join the list. */
	while ((o = srv->dirty) != NULL) {
		srv->dirty = o->dirty_next;
		o->flags &= ~OBJ_DIRTY;
		if (o->type->pump != NULL)
			o->type->pump(srv, o);
		if (!(o->flags & OBJ_DIRTY) && object_is_fresh(o))
			object_destroy(srv, o);
	}
}

void
object_destroy(struct server *srv, struct object *o)
{
	struct object	**pp;

	if (o->flags & OBJ_DIRTY) {
		for (pp = &srv->dirty; *pp != o; pp = &(*pp)->dirty_next)
			;
		*pp = o->dirty_next;
	}
	objtab_remove(&srv->objects, o);
	if (o->temp != NULL) {
		TAILQ_REMOVE(&o->temp->conn->temps, o->temp, entry);
		free(o->temp);
	}
	if (o->type->destroy != NULL)
		o->type->destroy(o);
	free(o);
}

/* End, with "deleted", every cond.wait waiting to re-acquire lock o. */
static void
object_delete_pinning_waits(struct server *srv, struct object *o)
{
	struct conn	*c;
	struct wait	*w, *next;

	TAILQ_FOREACH(c, &srv->conns, entry) {
		for (w = TAILQ_FIRST(&c->waits); w != NULL; w = next) {
			next = TAILQ_NEXT(w, conn_entry);
			if (w->lock == o)
				wait_end(srv, w, WAIT_LOCK_DELETED);
		}
	}
}

void
object_delete(struct server *srv, struct object *o)
{
	struct wait	*w;
	struct hold	*h;

	/* cond.waits that would re-acquire a lock pin it: they go too. */
	if (o->pins > 0)
		object_delete_pinning_waits(srv, o);
	while ((w = TAILQ_FIRST(&o->waiters)) != NULL)
		wait_end(srv, w, WAIT_DELETED);
	while ((h = TAILQ_FIRST(&o->holders)) != NULL)
		o->type->hold_lost(srv, o, h);
	object_destroy(srv, o);
}

void
object_delete_temps(struct server *srv, struct conn *c)
{
	struct temp_ref	*ref;

	/* Each delete unties its object from the list. */
	while ((ref = TAILQ_FIRST(&c->temps)) != NULL)
		object_delete(srv, ref->obj);
}

struct hold *
hold_find(struct object *o, struct conn *c)
{
	struct hold	*h;

	/* A connection's holds are usually the shorter list. */
	TAILQ_FOREACH(h, &c->holds, conn_entry) {
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
hold_link(struct hold *h, struct object *o, struct conn *c)
{
	h->obj = o;
	h->conn = c;
	h->since = server_now_us(c->srv);
	TAILQ_INSERT_TAIL(&o->holders, h, obj_entry);
	TAILQ_INSERT_TAIL(&c->holds, h, conn_entry);
	o->nholders++;
}

void
hold_unlink(struct server *srv, struct hold *h)
{
	struct object	*o = h->obj;

	TAILQ_REMOVE(&o->holders, h, obj_entry);
	TAILQ_REMOVE(&h->conn->holds, h, conn_entry);
	o->nholders--;
	h->conn = NULL;
	object_touch(srv, o);
}

json_t *
object_describe(struct server *srv, const struct object *o, bool full)
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
			e = conn_describe(h->conn);
			json_object_set_new(e, "held_for",
			    json_real(server_age(srv, h->since)));
			if (o->type->describe_hold != NULL)
				o->type->describe_hold(h, e);
			json_array_append_new(list, e);
		}
		json_object_set_new(d, "holders", list);
		list = json_array();
		TAILQ_FOREACH(w, &o->waiters, obj_entry) {
			e = conn_describe(w->conn);
			json_object_set_new(e, "waiting_for",
			    json_real(server_age(srv, w->since)));
			if (o->type->describe_wait != NULL)
				o->type->describe_wait(w, e);
			json_array_append_new(list, e);
		}
		json_object_set_new(d, "waiters", list);
	}
	if (o->temp != NULL)
		json_object_set_new(d, "temporary", json_integer(
		    (json_int_t)o->temp->conn->session));
	if (o->type->describe != NULL)
		o->type->describe(o, d);
	return (d);
}
