/*
 * cluster.c -- cluster locks, rlocks, rwlocks, semaphores, barriers,
 * conditions, events and counters on etcd, decided from a mirror.
 *
 * Keys (all under psync/):
 *   psync/o/<name>/q/<lease hex>.<seq hex>.<r|w>   one per acquire or
 *       barrier party, leased to the session's lease; its value says who
 *       ({type, session, pid, host; a party's round}), its last letter
 *       reads or writes.  Its create revision orders the queue (FIFO
 *       across hosts) and is a lock's grant's fencing token.
 *   psync/o/<name>/set   an event is set (not leased)
 *   psync/o/<name>/v     a counter's decimal value, absent at 0
 *   psync/o/<name>/sem, .../bar   a semaphore's or barrier's record
 *
 * The mirror is one range of psync/ and then one watch from the next
 * revision (a watch that starts at the current revision is caught up
 * only every 100 ms inside etcd).  A local waiter is judged only once
 * the mirror has applied its own key's put (granting earlier let two
 * holders overlap in the prototype): it holds the lock when its key is
 * the first of the name's queue.  Release deletes the key; a session's
 * end revokes its lease, which deletes all its keys in one write.
 *
 * This file is the backend's core: the mirror, deletes, sessions' leases
 * and lost holds, holds and waits' keys, info/list, routing.  The
 * primitives on it: cluster_lock.c (lock, rlock, rwlock), cluster_call.c
 * (event, counter), cluster_rec.c (semaphore, barrier), cluster_cond.c
 * (condition); what they share is in cluster_int.h.
 *
 * Not served (see the note): delete, and deadlock detection
 * through another host's sessions.
 */
#include <sys/queue.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster.h"
#include "cluster_int.h"
#include "etcd.h"
#include "log.h"
#include "model.h"
#include "object.h"
#include "objtab.h"
#include "reply.h"
#include "request.h"
#include "session.h"
#include "wait.h"
#include "xmalloc.h"



static void	cluster_load(struct cluster *);
static void	cluster_touch_name(struct cluster *, const char *, size_t);

/* The mirror. */

struct cname *
cluster_name_find(struct cluster *c, const char *name, size_t len)
{
	struct objtab_link	*l = objtab_find(&c->names, name, len);

	return ((struct cname *)(void *)l);
}

struct ckey *
cluster_key_find(const struct cname *n, int64_t rev, json_int_t *pos)
{
	struct ckey	*k;
	json_int_t	 before = 0;

	if (n == NULL)
		return (NULL);
	TAILQ_FOREACH(k, &n->keys, entry) {
		if (k->rev == rev)
			break;
		before++;
	}
	if (pos != NULL)
		*pos = before;
	return (k);
}

json_t *
cluster_prefix_range(const char *prefix)
{
	char	end[KEY_MAX];
	size_t	len = strlen(prefix);

	/* ".../q/" up to ".../q0": the prefix with its last byte plus one. */
	snprintf(end, sizeof(end), "%s", prefix);
	end[len - 1]++;
	return (json_pack("{s:o,s:o}", "key", etcd_b64(prefix, len),
	    "range_end", etcd_b64(end, len)));
}

static struct cname *
cname_get(struct cluster *c, const char *name, size_t len)
{
	struct cname	*n;

	if ((n = cluster_name_find(c, name, len)) != NULL)
		return (n);
	n = xcalloc(1, sizeof(*n) + len + 1);
	memcpy(n->name, name, len);
	n->namelen = len;
	TAILQ_INIT(&n->keys);
	if (objtab_insert(&c->names, &n->link, n->name, len) == -1) {
		free(n);
		return (NULL);
	}
	return (n);
}

static void
ckey_free(struct ckey *k)
{
	free(k->key);
	free(k->value);
	free(k);
}

/* Free n once nothing of it is left in etcd. */
static void
cname_maybe_free(struct cluster *c, struct cname *n)
{
	if (n->nkeys == 0 && !n->set && !n->has_value && !n->rec.present) {
		objtab_remove(&c->names, &n->link);
		free(n);
	}
}

static void
cname_remove_key(struct cluster *c, struct cname *n, struct ckey *k)
{
	TAILQ_REMOVE(&n->keys, k, entry);
	n->nkeys--;
	ckey_free(k);
	cname_maybe_free(c, n);
}

static void
mirror_clear(struct cluster *c)
{
	struct objtab_link	*l;
	struct cname		*n;
	struct ckey		*k;

	while ((l = objtab_first(&c->names)) != NULL) {
		n = (struct cname *)(void *)l;
		while ((k = TAILQ_FIRST(&n->keys)) != NULL) {
			TAILQ_REMOVE(&n->keys, k, entry);
			ckey_free(k);
		}
		objtab_remove(&c->names, &n->link);
		free(n);
	}
}

static bool
ends_with(const char *s, size_t len, const char *suffix)
{
	size_t	n = strlen(suffix);

	return (len > n && memcmp(s + len - n, suffix, n) == 0);
}

/*
 * Split a key under psync/o/: its name's bytes and what it is, or -1.
 * A queue key ends in ".r" or ".w", so it never ends as the others do.
 */
static int
key_name(const char *key, size_t len, const char **name, size_t *namelen)
{
	const char	*p, *q = NULL;
	size_t		 rest;

	if (len <= sizeof(OBJ_ROOT) - 1 ||
	    memcmp(key, OBJ_ROOT, sizeof(OBJ_ROOT) - 1) != 0)
		return (-1);
	*name = key + sizeof(OBJ_ROOT) - 1;
	rest = len - (sizeof(OBJ_ROOT) - 1);
	if (ends_with(*name, rest, "/set")) {
		*namelen = rest - 4;
		return (CK_SET);
	}
	if (ends_with(*name, rest, "/v")) {
		*namelen = rest - 2;
		return (CK_VALUE);
	}
	if (ends_with(*name, rest, "/sem")) {
		*namelen = rest - 4;
		return (CK_SEM);
	}
	if (ends_with(*name, rest, "/bar")) {
		*namelen = rest - 4;
		return (CK_BAR);
	}
	/* The last "/q/": a name may hold "/q/" itself, an id never does. */
	for (p = *name; (p = strstr(p, QUEUE_SEP)) != NULL; p++)
		q = p;
	if (q == NULL || q == *name)
		return (-1);
	*namelen = (size_t)(q - *name);
	return (CK_QUEUE);
}

/* A queue key's value: its "type" ("" if none) and a party's "round". */
static void
key_parse(const char *value, struct ckey *k)
{
	json_t		*v = json_loads(value, 0, NULL);
	const char	*t = json_string_value(json_object_get(v, "type"));

	snprintf(k->type, sizeof(k->type), "%s", t != NULL ? t : "");
	k->round = json_integer_value(json_object_get(v, "round"));
	k->notified = json_is_true(json_object_get(v, "notified"));
	json_decref(v);
}

/*
 * What the mirror says name is in the cluster if not of type t (another
 * lock type's queue, a set event, a counter's value), or NULL.  The
 * first comer's type wins; see grantable for the race.
 */
static const char *
cluster_type_clash(struct cluster *c, const char *name, size_t len,
    const struct objtype *t)
{
	struct cname	*n = cluster_name_find(c, name, len);
	struct ckey	*k;

	if (n == NULL)
		return (NULL);
	if (n->set && t != &cluster_event_type)
		return ("event");
	if (n->has_value && t != &cluster_counter_type)
		return ("counter");
	if (n->rec.present && n->rec.kind == CK_SEM && t != &cluster_sem_type)
		return ("semaphore");
	if (n->rec.present && n->rec.kind == CK_BAR &&
	    t != &cluster_barrier_type)
		return ("barrier");
	TAILQ_FOREACH(k, &n->keys, entry) {
		if (k->type[0] != '\0' && strcmp(k->type, t->name) != 0)
			return (k->type);
	}
	return (NULL);
}

/*
 * Admit rq to the cluster: refuse it if its name is another type there,
 * or if it asks
 * for a temporary object: deleting one would have to reach every host's
 * waiters, which this backend does not do.
 */
bool
cluster_type_clash_say(struct cluster *c, const char *name, size_t len,
    const struct objtype *t, char *msg, size_t size)
{
	const char	*other;

	if ((other = cluster_type_clash(c, name, len, t)) == NULL)
		return (false);
	snprintf(msg, size, "'%s' is %s %s in the cluster, not %s %s",
	    QUOTED(name, len), other[0] == 'e' || other[0] == 'r' ? "an" : "a",
	    other, t->article, t->name);
	return (true);
}

enum hret
cluster_admit(struct request *rq, const struct objtype *t)
{
	const char	*name;
	char		 msg[600];
	size_t		 len;
	bool		 temporary;

	if (rq_name(rq, "name", &name, &len) != HR_DONE ||
	    rq_bool(rq, "temporary", false, &temporary) != HR_DONE)
		return (HR_ERROR);
	if (temporary)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "'%s' is a cluster "
		    "name: temporary objects are not served in the cluster",
		    QUOTED(name, len)));
	if (!cluster_type_clash_say(rq->model->cluster, name, len, t, msg,
	    sizeof(msg)))
		return (HR_DONE);
	return (rq_fail(rq, PSYNC_ERR_TYPE_MISMATCH, "%s", msg));
}

/* Parse a record's text (kind's JSON, at mod revision mod) into r. */
void
cluster_record_parse(const char *text, enum ckind kind, int64_t mod,
    struct crecord *r)
{
	json_t		*v = json_loads(text, 0, NULL);
	const char	*why = json_string_value(json_object_get(v, "why"));

	memset(r, 0, sizeof(*r));
	r->present = true;
	r->kind = kind;
	r->mod = mod;
	r->initial = json_integer_value(json_object_get(v, "initial"));
	r->units = json_integer_value(json_object_get(v, "units"));
	r->bounded = json_is_true(json_object_get(v, "bounded"));
	r->owned = json_is_true(json_object_get(v, "owned"));
	r->parties = json_integer_value(json_object_get(v, "parties"));
	r->round = json_integer_value(json_object_get(v, "round"));
	r->arrived = json_integer_value(json_object_get(v, "arrived"));
	r->broken = json_is_true(json_object_get(v, "broken"));
	r->was_reset = json_is_true(json_object_get(v, "reset"));
	snprintf(r->why, sizeof(r->why), "%s", why != NULL ? why : "");
	json_decref(v);
}

/* A record's text, base64 for etcd (new reference). */
json_t *
cluster_record_b64(const struct crecord *r)
{
	json_t	*v, *b;
	char	*text;

	if (r->kind == CK_SEM)
		v = json_pack("{s:s,s:I,s:I,s:b,s:b}", "type", "semaphore",
		    "initial", r->initial, "units", r->units, "bounded",
		    r->bounded, "owned", r->owned);
	else
		v = json_pack("{s:s,s:I,s:I,s:I,s:b,s:b,s:s}", "type",
		    "barrier", "parties", r->parties, "round", r->round,
		    "arrived", r->arrived, "broken", r->broken, "reset",
		    r->was_reset, "why", r->why);
	text = json_dumps(v, JSON_COMPACT);
	b = etcd_b64(text, strlen(text));
	free(text);
	json_decref(v);
	return (b);
}

/* The value a semaphore's record and queue size come to. */
json_int_t
cluster_sem_value_of(const struct crecord *r, json_int_t queued)
{
	if (!r->owned)
		return (r->units);
	return (r->units - (queued < r->units ? queued : r->units));
}

/* Apply one put of kv to the mirror; touch its local object. */
static void
mirror_put(struct cluster *c, const json_t *kv)
{
	char		 key[KEY_MAX], value[1024];
	const char	*name;
	size_t		 namelen;
	ssize_t		 len;
	struct cname	*n;
	struct ckey	*k, *at;
	int64_t		 rev;
	int		 kind;

	if ((len = etcd_unb64(json_object_get(kv, "key"), key,
	    sizeof(key))) == -1 ||
	    (kind = key_name(key, (size_t)len, &name, &namelen)) == -1)
		return;
	if (etcd_unb64(json_object_get(kv, "value"), value,
	    sizeof(value)) == -1)
		strcpy(value, "{}");
	rev = etcd_int(kv, "create_revision");
	if ((n = cname_get(c, name, namelen)) == NULL)
		return;
	if (kind == CK_SET) {
		n->set = true;
		cluster_touch_name(c, n->name, n->namelen);
		return;
	}
	if (kind == CK_VALUE) {
		n->has_value = true;
		n->value = strtoll(value, NULL, 10);
		n->value_mod = etcd_int(kv, "mod_revision");
		return;
	}
	if (kind == CK_SEM || kind == CK_BAR) {
		struct crecord	old = n->rec;

		cluster_record_parse(value, (enum ckind)kind,
		    etcd_int(kv, "mod_revision"), &n->rec);
		/* A barrier's rounds end here, in revision order. */
		if (kind == CK_BAR)
			cluster_barrier_transition(c, n, &old);
		cluster_touch_name(c, n->name, n->namelen);
		return;
	}
	TAILQ_FOREACH(at, &n->keys, entry) {
		if (strcmp(at->key, key) == 0) {
			/* A rewrite (a cond waiter notified): same place. */
			free(at->value);
			at->value = xstrdup(value);
			key_parse(value, at);
			cluster_touch_name(c, n->name, n->namelen);
			return;
		}
		if (at->rev > rev)
			break;
	}
	k = xcalloc(1, sizeof(*k));
	k->rev = rev;
	/* The mode is the key's last letter: ".r" reads, else it writes. */
	k->mode = len > 2 && key[len - 2] == '.' && key[len - 1] == 'r' ?
	    MODE_READ : MODE_WRITE;
	k->lease = etcd_int(kv, "lease");
	k->key = xstrdup(key);
	k->value = xstrdup(value);
	key_parse(value, k);
	if (at != NULL)
		TAILQ_INSERT_BEFORE(at, k, entry);
	else
		TAILQ_INSERT_TAIL(&n->keys, k, entry);
	n->nkeys++;
	cluster_touch_name(c, n->name, n->namelen);
}

static void
mirror_delete(struct cluster *c, const json_t *kv)
{
	char		 key[KEY_MAX];
	const char	*name;
	size_t		 namelen;
	ssize_t		 len;
	struct cname	*n;
	struct ckey	*k;
	int		 kind;

	if ((len = etcd_unb64(json_object_get(kv, "key"), key,
	    sizeof(key))) == -1 ||
	    (kind = key_name(key, (size_t)len, &name, &namelen)) == -1 ||
	    (n = cluster_name_find(c, name, namelen)) == NULL)
		return;
	if (kind != CK_QUEUE) {
		if (kind == CK_SET)
			n->set = false;
		else if (kind == CK_VALUE)
			n->has_value = false;
		else
			memset(&n->rec, 0, sizeof(n->rec));
		cluster_touch_name(c, name, namelen);
		cname_maybe_free(c, n);
		return;
	}
	TAILQ_FOREACH(k, &n->keys, entry) {
		if (strcmp(k->key, key) == 0) {
			cluster_touch_name(c, name, namelen);
			cname_remove_key(c, n, k);
			return;
		}
	}
}

/* The name's local object, if it is a cluster lock: settle it. */
static void
cluster_touch_name(struct cluster *c, const char *name, size_t len)
{
	struct object	*o = object_find(c->m, name, len);

	if (o != NULL && (cluster_is_queue(o) || o->type == &cluster_event_type ||
	    o->type == &cluster_sem_type || o->type == &cluster_barrier_type ||
	    o->type == &cluster_cond_type))
		object_touch(c->m, o);
}

/*
 * The mirror has applied everything up to rev (from old): the waits whose
 * keys were put in (old, rev] can be judged now.
 */
static void
cluster_advance(struct cluster *c, int64_t old, int64_t rev)
{
	struct cwait	*cw;

	c->revision = rev;
	TAILQ_FOREACH(cw, &c->queued, entry) {
		if (cw->rev > old && cw->rev <= rev)
			object_touch(c->m, cw->w.obj);
	}
}

static void
cluster_watch_cb(void *arg, json_t *result, const char *err)
{
	struct cluster	*c = arg;
	struct timeval	 tv = { 0, RETRY_MS * 1000 };
	json_t		*events, *ev;
	size_t		 i;
	int64_t		 rev;

	/* Reloaded from a timer: never from inside the watch's callback. */
	if (result == NULL) {
		log_warn("cluster: %s; loading the mirror again", err);
		c->revision = 0;
		evtimer_add(c->reload, &tv);
		return;
	}
	if (json_is_true(json_object_get(result, "canceled"))) {
		log_warn("cluster: the watch was cancelled (compacted at "
		    "%" PRId64 "); loading the mirror again",
		    etcd_int(result, "compact_revision"));
		c->revision = 0;
		evtimer_add(c->reload, &tv);
		return;
	}
	events = json_object_get(result, "events");
	json_array_foreach(events, i, ev) {
		if (json_is_string(json_object_get(ev, "type")) &&
		    strcmp(json_string_value(json_object_get(ev, "type")),
		    "DELETE") == 0)
			mirror_delete(c, json_object_get(ev, "kv"));
		else
			mirror_put(c, json_object_get(ev, "kv"));
	}
	rev = etcd_int(json_object_get(result, "header"), "revision");
	if (rev > c->revision)
		cluster_advance(c, c->revision, rev);
	object_settle_all(c->m);
}

static void
cluster_range_cb(void *arg, json_t *reply, const char *err)
{
	struct cluster	*c = arg;
	struct timeval	 tv = { 0, RETRY_MS * 1000 };
	json_t		*kvs, *kv, *req;
	size_t		 i;
	int64_t		 rev;

	if (reply == NULL) {
		if (err == ETCD_CLOSING)
			return;
		log_warn("cluster: cannot load the mirror: %s", err);
		evtimer_add(c->reload, &tv);
		return;
	}
	mirror_clear(c);
	kvs = json_object_get(reply, "kvs");
	json_array_foreach(kvs, i, kv)
		mirror_put(c, kv);
	rev = etcd_int(json_object_get(reply, "header"), "revision");
	req = json_pack("{s:o,s:o,s:o}",
	    "key", etcd_b64(ROOT, sizeof(ROOT) - 1),
	    "range_end", etcd_b64(ROOT_END, sizeof(ROOT_END) - 1),
	    "start_revision", etcd_int_json(rev + 1));
	if ((c->watch = etcd_watch_open(c->etcd, req, cluster_watch_cb,
	    c)) == NULL) {
		log_warn("cluster: cannot open the watch");
		evtimer_add(c->reload, &tv);
		return;
	}
	log_info("cluster: mirror loaded at revision %" PRId64 " from %s",
	    rev, etcd_member(c->etcd));
	/* Everything may have changed while it was not watched. */
	cluster_advance(c, 0, rev);
	object_settle_all(c->m);
}

static void
cluster_load(struct cluster *c)
{
	json_t	*req;

	etcd_watch_close(c->watch);
	c->watch = NULL;
	c->revision = 0;
	req = json_pack("{s:o,s:o}", "key", etcd_b64(ROOT, sizeof(ROOT) - 1),
	    "range_end", etcd_b64(ROOT_END, sizeof(ROOT_END) - 1));
	etcd_post(c->etcd, "/v3/kv/range", req, cluster_range_cb, c);
}

static void
cluster_reload_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cluster_load(arg);
}

/* Deleting keys: a release, an abandoned wait, a forced delete. */

static void	cluster_delete_send(struct cdel *);

static void
cluster_delete_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cluster_delete_send(arg);
}

static void
cluster_delete_cb(void *arg, json_t *reply, const char *err)
{
	struct cdel	*d = arg;
	struct timeval	 tv = { 0, RETRY_MS * 1000 };

	if (reply == NULL && err != ETCD_CLOSING && ++d->tries < DELETE_TRIES &&
	    event_base_once(d->c->base, -1, EV_TIMEOUT,
	    cluster_delete_retry_cb, d, &tv) == 0)
		return;
	if (reply == NULL)
		log_warn("cluster: could not delete %s: %s; its lease's end "
		    "will", d->key, err);
	free(d->key);
	free(d);
}

static void
cluster_delete_send(struct cdel *d)
{
	json_t	*req;

	/*
	 * A plain delete: every acquire puts a key of its own (the lease
	 * and a sequence number), so no later incarnation can be hit.
	 */
	req = json_pack("{s:o}", "key", etcd_b64(d->key, strlen(d->key)));
	etcd_post(d->c->etcd, "/v3/kv/deleterange", req, cluster_delete_cb, d);
}

/* Delete key (taken over). */
void
cluster_delete(struct cluster *c, char *key)
{
	struct cdel	*d;

	d = xcalloc(1, sizeof(*d));
	d->c = c;
	d->key = key;
	cluster_delete_send(d);
}

/* CLOCK_MONOTONIC in microseconds: what a lease's life is counted on. */
static int64_t
mono_us(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return (0);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* Sessions and their leases. */

static void	cop_send(struct cop *);
static void	cop_fail(struct cop *, const char *);
static void	cop_free(struct cop *);

static void
cluster_revoke(struct cluster *c, int64_t lease)
{
	json_t	*req = json_pack("{s:o}", "ID", etcd_int_json(lease));

	etcd_post(c->etcd, "/v3/lease/revoke", req, NULL, NULL);
}

static void
csess_free(struct cluster_session *cs)
{
	TAILQ_REMOVE(&cs->c->sessions, cs, entry);
	cs->c->nsessions--;
	free(cs);
}

static void
cluster_grant_cb(void *arg, json_t *reply, const char *err)
{
	struct cluster_session	*cs = arg;
	struct cop		*op;
	char			 msg[300];

	cs->granting = false;
	if (err == ETCD_CLOSING) {
		/* Every session has ended: their leases lapse in etcd. */
		if (cs->s == NULL)
			csess_free(cs);
		return;
	}
	if (cs->s == NULL) {
		/* The session ended meanwhile: nothing may outlive it. */
		if (reply != NULL)
			cluster_revoke(cs->c, etcd_int(reply, "ID"));
		csess_free(cs);
		return;
	}
	if (reply == NULL || etcd_int(reply, "ID") == 0) {
		snprintf(msg, sizeof(msg), "cannot get an etcd lease for "
		    "session %llu: %s", (unsigned long long)cs->s->id,
		    err != NULL ? err : "no lease ID in the reply");
		while ((op = TAILQ_FIRST(&cs->waiting)) != NULL)
			cop_fail(op, msg);
		object_settle_all(cs->c->m);
		return;
	}
	cs->lease = etcd_int(reply, "ID");
	cs->acked_us = cs->sent_us;
	while ((op = TAILQ_FIRST(&cs->waiting)) != NULL) {
		TAILQ_REMOVE(&cs->waiting, op, entry);
		op->waiting = false;
		cop_send(op);
	}
}

/* s's cluster state, made on its first cluster request. */
static struct cluster_session *
csess_get(struct cluster *c, struct session *s)
{
	struct cluster_session	*cs;

	if ((cs = s->cluster) != NULL)
		return (cs);
	cs = xcalloc(1, sizeof(*cs));
	cs->c = c;
	cs->s = s;
	TAILQ_INIT(&cs->waiting);
	TAILQ_INSERT_TAIL(&c->sessions, cs, entry);
	c->nsessions++;
	s->cluster = cs;
	return (cs);
}

static void
csess_need_lease(struct cluster_session *cs)
{
	json_t	*req;

	if (cs->lease != 0 || cs->granting)
		return;
	cs->granting = true;
	cs->sent_us = mono_us();
	req = json_pack("{s:i}", "TTL", cs->c->ttl);
	etcd_post(cs->c->etcd, "/v3/lease/grant", req, cluster_grant_cb, cs);
}

/* The model's hook: s is ending; its lease goes, and all its keys. */
static void
cluster_session_ending(struct session *s)
{
	struct cluster_session	*cs = s->cluster;
	struct cop		*op;

	if (cs == NULL)
		return;
	s->cluster = NULL;
	cs->s = NULL;
	/* Its waits have all ended, their unsent enqueues with them. */
	while ((op = TAILQ_FIRST(&cs->waiting)) != NULL) {
		TAILQ_REMOVE(&cs->waiting, op, entry);
		cop_free(op);
	}
	if (cs->lease != 0)
		cluster_revoke(cs->c, cs->lease);
	if (!cs->granting)
		csess_free(cs);
}

/*
 * Tell s, unasked, that its hold h is lost: {"ok": true, "event": "lost",
 * "name", "type", "token", "message"}, a line with no id.
 */
static void
send_lost(struct session *s, const struct hold *h, const char *why)
{
	struct reply	 r;
	json_t		*m;
	char		 msg[200];

	reply_init(&r, NULL);
	reply_literal(&r, "event", "lost");
	m = reply_members(&r);
	json_object_set_new(m, "name", json_stringn(object_name(h->obj),
	    h->obj->namelen));
	json_object_set_new(m, "type", json_string(h->obj->type->name));
	json_object_set_new(m, "token", json_integer((json_int_t)h->token));
	snprintf(msg, sizeof(msg), "the session's etcd lease %s: another "
	    "host may hold it now", why);
	json_object_set_new(m, "message", json_string(msg));
	session_send(s, &r, true);
	reply_clear(&r);
}

/*
 * s's lease can no longer be counted on: etcd said it is gone, or no
 * renewal sent in the last TTL was acknowledged (its keys may be deleted
 * and granted to others by now).  Its cluster holds are dropped, so that
 * a release says so (not_owner, "lost") instead of pretending; its waits
 * fail once the mirror shows their keys gone.  The next request gets a
 * new lease.
 */
static void
csess_lease_lost(struct cluster_session *cs, const char *why)
{
	struct session	*s = cs->s;
	struct hold	*h, *next;
	unsigned	 n = 0;

	for (h = TAILQ_FIRST(&s->holds); h != NULL; h = next) {
		next = TAILQ_NEXT(h, sess_entry);
		if (!cluster_is_held(h->obj))
			continue;
		if (s->notices)
			send_lost(s, h, why);
		cluster_hold_free(cs->c->m, h, false);
		n++;
	}
	log_warn("cluster: session %llu's etcd lease %s: %u cluster hold%s "
	    "lost", (unsigned long long)s->id, why, n, n == 1 ? "" : "s");
	cs->lost = cs->lost || n > 0;
	cluster_revoke(cs->c, cs->lease);	/* if it is not gone, end it */
	cs->lease = 0;
}

/* Past its TTL since the last acknowledged renewal was sent? */
static bool
csess_expired(const struct cluster_session *cs)
{
	return (cs->lease != 0 &&
	    mono_us() - cs->acked_us > (int64_t)cs->c->ttl * 1000000);
}

/*
 * Has s lost cluster holds with a lease that could not be kept?  A lease
 * past its TTL since the last renewal acknowledged is given up first: a
 * paused psyncd counts from there, before its timer has had a chance.
 */
bool
cluster_session_lost(struct session *s)
{
	struct cluster_session	*cs = s->cluster;

	if (cs == NULL)
		return (false);
	if (csess_expired(cs))
		csess_lease_lost(cs, "went unrenewed past its TTL");
	return (cs->lost);
}

/* A keepalive in flight: its lease, and when it was sent. */
struct ckeep {
	struct cluster		*c;
	int64_t			 lease;
	int64_t			 sent_us;
};

static void
cluster_keepalive_done(void *arg, json_t *reply, const char *err)
{
	struct ckeep		*k = arg;
	struct cluster_session	*cs;

	(void)err;
	TAILQ_FOREACH(cs, &k->c->sessions, entry) {
		if (cs->lease != k->lease || cs->s == NULL)
			continue;
		/* A lease etcd no longer has comes back without a TTL. */
		if (reply != NULL && etcd_int(json_object_get(reply,
		    "result"), "TTL") > 0) {
			if (k->sent_us > cs->acked_us)
				cs->acked_us = k->sent_us;
		} else if (reply != NULL) {
			csess_lease_lost(cs, "has expired in etcd");
			object_settle_all(k->c->m);
		}
		break;
	}
	free(k);
}

/* Every TTL/3: renew every lease; give up those past their TTL. */
static void
cluster_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster		*c = arg;
	struct cluster_session	*cs;
	struct ckeep		*k;
	bool			 lost = false;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(cs, &c->sessions, entry) {
		if (cs->lease == 0 || cs->s == NULL)
			continue;
		if (csess_expired(cs)) {
			csess_lease_lost(cs, "went unrenewed past its TTL");
			lost = true;
			continue;
		}
		k = xcalloc(1, sizeof(*k));
		k->c = c;
		k->lease = cs->lease;
		k->sent_us = mono_us();
		/*
		 * A stalled member must be left well within the TTL: a
		 * keepalive unanswered for 0.3 TTL moves everything on, in
		 * time for the next one (every TTL/3) to be acknowledged.
		 */
		if (etcd_post_probe(c->etcd, "/v3/lease/keepalive",
		    json_pack("{s:o}", "ID", etcd_int_json(cs->lease)),
		    c->ttl * 300, cluster_keepalive_done, k) == NULL)
			free(k);
	}
	if (lost)
		object_settle_all(c->m);
}

/* Holds. */

/* Add key (taken over) to s's hold on o, made under token if none. */
struct chold *
cluster_hold_add(struct object *o, struct session *s, char *key, uint64_t token,
    uint8_t mode)
{
	struct hold	*h = hold_find(o, s);
	struct chold	*ch;

	if (h == NULL) {
		ch = xcalloc(1, sizeof(*ch));
		ch->hold.token = token;
		ch->hold.mode = mode;
		hold_link(&ch->hold, o, s);
	} else
		ch = CHOLD(h);
	ch->keys = xreallocarray(ch->keys, ch->nkeys + 1, sizeof(*ch->keys));
	ch->keys[ch->nkeys++] = key;
	return (ch);
}

/* Delete h's last n keys in etcd. */
void
cluster_hold_give(struct cluster *c, struct hold *h, uint32_t n)
{
	struct chold	*ch = CHOLD(h);

	while (n-- > 0 && ch->nkeys > 0)
		cluster_delete(c, ch->keys[--ch->nkeys]);
}

/*
 * Free h, unlinked; its keys are deleted in etcd unless delete is false
 * (its lease's end does it, or already did).
 */
void
cluster_hold_free(struct model *m, struct hold *h, bool delete)
{
	struct chold	*ch = CHOLD(h);

	if (delete)
		cluster_hold_give(m->cluster, h, ch->nkeys);
	while (ch->nkeys > 0)
		free(ch->keys[--ch->nkeys]);
	free(ch->keys);
	hold_unlink(m, h);
	free(h);
}

/* Enqueueing. */

static void
cop_free(struct cop *op)
{
	free(op->key);
	free(op);
}

/* The put failed: the wait fails with unavailable. */
static void
cop_fail(struct cop *op, const char *why)
{
	struct cwait	*cw = op->cw;
	char		 msg[400];

	if (op->waiting) {
		TAILQ_REMOVE(&op->cs->waiting, op, entry);
		op->waiting = false;
	}
	if (cw != NULL) {
		cw->op = NULL;
		if (cw->rcall != NULL)
			cluster_rec_drop(cw->rcall);
		snprintf(msg, sizeof(msg), "the cluster cannot be reached: %s",
		    why);
		wait_fail(op->c->m, &cw->w, PSYNC_ERR_UNAVAILABLE, msg);
	}
	cop_free(op);
}

/* The answer to a queue key's put, or to a cond.wait's txn. */
void
cluster_put_cb(void *arg, json_t *reply, const char *err)
{
	struct cop	*op = arg;
	struct cwait	*cw = op->cw;
	struct cluster	*c = op->c;
	char		 msg[400];
	int64_t		 rev;

	rev = reply != NULL ?
	    etcd_int(json_object_get(reply, "header"), "revision") : 0;
	if (cw == NULL) {
		/* Its wait ended while the put was in flight: undo it. */
		if (rev != 0 && err != ETCD_CLOSING) {
			cluster_delete(c, op->key);
			op->key = NULL;
		}
		cop_free(op);
		return;
	}
	cw->op = NULL;
	if (rev == 0) {
		snprintf(msg, sizeof(msg), "the cluster cannot be reached: %s%s",
		    err != NULL ? err : "no revision in etcd's reply",
		    cw->lock != NULL ? "; the lock is released" : "");
		if (cw->lock != NULL)
			cluster_cond_leave(c, cw);	/* a cond.wait's txn */
		wait_fail(c->m, &cw->w, PSYNC_ERR_UNAVAILABLE, msg);
	} else {
		cluster_cond_drop_keys(c, cw, false);	/* a cond.wait's txn did */
		cw->key = op->key;
		op->key = NULL;
		cw->rev = rev;
		cw->queued = true;
		TAILQ_INSERT_TAIL(&c->queued, cw, entry);
		if (rev <= c->revision)
			object_touch(c->m, cw->w.obj);
	}
	cop_free(op);
	object_settle_all(c->m);
}

static void
cop_send(struct cop *op)
{
	struct cluster_session	*cs = op->cs;
	struct session		*s = cs->s;
	struct object		*o = op->cw->w.obj;
	struct rcall		*k = op->cw->rcall;
	char			 key[KEY_MAX], value[300];
	json_t			*req;

	if (k != NULL) {
		/* A barrier's arrival: one txn, under the lease. */
		op->cw->op = NULL;
		cop_free(op);
		cluster_rec_start(k, cs->lease);
		return;
	}
	if (o->type == &cluster_cond_type) {
		cluster_cond_send(op);
		return;
	}
	snprintf(key, sizeof(key), OBJ_ROOT "%s" QUEUE_SEP "%" PRIx64 ".%"
	    PRIx64 ".%c", object_name(o), (uint64_t)cs->lease, ++cs->seq,
	    op->cw->w.mode == MODE_READ ? 'r' : 'w');
	snprintf(value, sizeof(value), "{\"type\":\"%s\",\"session\":%llu,"
	    "\"pid\":%ld,\"host\":\"%s\"}", o->type->name,
	    (unsigned long long)s->id, (long)s->pid, cs->c->host);
	op->key = xstrdup(key);
	req = json_pack("{s:o,s:o,s:o}", "key", etcd_b64(key, strlen(key)),
	    "value", etcd_b64(value, strlen(value)),
	    "lease", etcd_int_json(cs->lease));
	etcd_post(cs->c->etcd, "/v3/kv/put", req, cluster_put_cb, op);
}

void
cluster_wait_unqueue(struct cluster *c, struct cwait *cw)
{
	if (cw->queued) {
		TAILQ_REMOVE(&c->queued, cw, entry);
		cw->queued = false;
	}
}

/* Put cw's queue key (or send its arrival) once its session has a lease. */
void
cluster_wait_enqueue(struct cluster *c, struct cwait *cw)
{
	struct cluster_session	*cs = csess_get(c, cw->w.sess);
	struct cop		*op;

	op = xcalloc(1, sizeof(*op));
	op->c = c;
	op->cs = cs;
	op->cw = cw;
	cw->op = op;
	if (cs->lease != 0)
		cop_send(op);
	else {
		TAILQ_INSERT_TAIL(&cs->waiting, op, entry);
		op->waiting = true;
		csess_need_lease(cs);
	}
}

/*
 * The wait is over, granted or not: nothing of it stays in etcd.  A
 * record call in flight goes on without it.
 */
void
cluster_wait_abandon(struct cluster *c, struct cwait *cw)
{
	if (cw->rcall != NULL) {
		cluster_rec_detach(cw->rcall);
		cw->rcall = NULL;
	}
	if (cw->notify != NULL) {
		cluster_cond_notify_detach(cw->notify);
		cw->notify = NULL;
	}
	if (cw->op != NULL) {
		if (cw->op->waiting) {
			/* Still waiting for the lease: never sent. */
			TAILQ_REMOVE(&cw->op->cs->waiting, cw->op, entry);
			cop_free(cw->op);
		} else
			cw->op->cw = NULL;	/* its answer undoes the put */
		cw->op = NULL;
	}
	cluster_wait_unqueue(c, cw);
	if (cw->key != NULL) {
		cluster_delete(c, cw->key);
		cw->key = NULL;
	}
}

/*
 * The first key of n's queue that does not hold (NULL: all hold): the
 * head holds, a writer alone or every reader in front.  As grantable
 * decides, seen from the queue rather than from one waiter.
 */
static const struct ckey *
queue_head_end(const struct cname *n)
{
	const struct ckey	*first = TAILQ_FIRST(&n->keys), *k;

	if (first == NULL || first->mode == MODE_WRITE)
		return (first != NULL ? TAILQ_NEXT(first, entry) : NULL);
	for (k = first; k != NULL && k->mode == MODE_READ;
	    k = TAILQ_NEXT(k, entry))
		;
	return (k);
}

/*
 * The first key of n's queue that does not hold, whatever n is: an owned
 * semaphore's first `units` keys hold; an unowned one's and a barrier's
 * keys all wait.
 */
static const struct ckey *
holders_end(const struct cname *n)
{
	const struct ckey	*k;
	json_int_t		 i = 0;

	k = TAILQ_FIRST(&n->keys);
	if (k != NULL && strcmp(k->type, "condition") == 0)
		return (k);		/* a condition's keys all wait */
	if (!n->rec.present)
		return (queue_head_end(n));
	if (n->rec.kind != CK_SEM || !n->rec.owned)
		return (TAILQ_FIRST(&n->keys));
	TAILQ_FOREACH(k, &n->keys, entry)
		if (i++ == n->rec.units)
			return (k);
	return (NULL);
}

/* A semaphore's or barrier's record fields, as info and list show them. */
static void
record_describe(const struct cname *n, json_t *out)
{
	const struct crecord	*r = &n->rec;

	if (!r->present)
		return;
	if (r->kind == CK_SEM) {
		json_object_set_new(out, "value", json_integer(cluster_sem_value_of(r,
		    (json_int_t)n->nkeys)));
		json_object_set_new(out, "initial", json_integer(r->initial));
		json_object_set_new(out, "bounded", json_boolean(r->bounded));
		json_object_set_new(out, "owned", json_boolean(r->owned));
	} else {
		json_object_set_new(out, "parties", json_integer(r->parties));
		json_object_set_new(out, "n_waiting", json_integer(r->broken ?
		    0 : r->arrived));
		json_object_set_new(out, "broken", json_boolean(r->broken));
	}
}

static const char *
record_type(const struct cname *n)
{
	if (!n->rec.present)
		return (NULL);
	return (n->rec.kind == CK_SEM ? "semaphore" : "barrier");
}

/*
 * info on a cluster name: the whole queue as the mirror has it, every
 * host's entries with their session, pid and host.  Holders are the
 * grantable head (the first key; for an rwlock, the readers in front;
 * an owned semaphore's first units).
 */
static enum hret
cluster_info(struct request *rq)
{
	struct cluster	*c = rq->model->cluster;
	struct cname	*n;
	struct ckey	*k;
	const struct ckey *end;
	const char	*name, *t;
	char		 type[16] = "";
	size_t		 len;
	json_t		*r, *holders, *waiters, *e, *v;
	bool		 holding = true;

	if (rq_name(rq, "name", &name, &len) != HR_DONE)
		return (HR_ERROR);
	if ((n = cluster_name_find(c, name, len)) == NULL) {
		/* Nothing queued anywhere: known only if it exists here. */
		if (object_find(rq->model, name, len) == NULL)
			return (rq_fail(rq, PSYNC_ERR_NOT_FOUND, "no object "
			    "'%s' queued in the cluster", QUOTED(name, len)));
	}
	holders = json_array();
	waiters = json_array();
	k = n != NULL ? TAILQ_FIRST(&n->keys) : NULL;
	end = n != NULL ? holders_end(n) : NULL;
	if (n != NULL && record_type(n) != NULL)
		snprintf(type, sizeof(type), "%s", record_type(n));
	for (; k != NULL; k = TAILQ_NEXT(k, entry)) {
		if (n->rec.present && n->rec.kind == CK_BAR &&
		    k->round != n->rec.round)
			continue;	/* a past round's, being deleted */
		if ((v = json_loads(k->value, 0, NULL)) == NULL ||
		    !json_is_object(v)) {
			json_decref(v);
			v = json_object();
		}
		/* Every key says its type: the first one tells. */
		if (type[0] == '\0' && (t = json_string_value(
		    json_object_get(v, "type"))) != NULL)
			snprintf(type, sizeof(type), "%s", t);
		e = json_object();
		json_object_set(e, "session", json_object_get(v, "session"));
		json_object_set(e, "pid", json_object_get(v, "pid"));
		json_object_set(e, "host", json_object_get(v, "host"));
		json_object_set_new(e, "token", json_integer(k->rev));
		if (k->mode == MODE_READ || strcmp(type, "rwlock") == 0)
			json_object_set_new(e, "mode",
			    json_string(cluster_mode_name(k->mode)));
		if (k == end)
			holding = false;
		json_array_append_new(holding ? holders : waiters, e);
		json_decref(v);
	}
	r = reply_members(rq_reply(rq));
	json_object_set_new(r, "name", json_stringn(name, len));
	json_object_set_new(r, "type", json_string(type[0] != '\0' ? type :
	    "lock"));
	json_object_set_new(r, "cluster", json_true());
	json_object_set_new(r, "holders", holders);
	json_object_set_new(r, "waiters", waiters);
	json_object_set_new(r, "held",
	    json_boolean(json_array_size(holders) > 0));
	if (n != NULL)
		record_describe(n, r);
	return (HR_DONE);
}

void
cluster_list(struct cluster *c, struct model *m, const char *prefix,
    size_t plen, json_t *list)
{
	struct objtab_link	*l;
	struct cname		*n;
	struct ckey		*k;
	const struct ckey	*end;
	json_t			*e, *v;
	const char		*type;
	size_t			 holders, waiters;
	bool			 holding;

	for (l = objtab_first(&c->names); l != NULL; l = objtab_next(l)) {
		n = (struct cname *)(void *)l;
		if ((prefix != NULL && (n->namelen < plen ||
		    memcmp(n->name, prefix, plen) != 0)) ||
		    object_find(m, n->name, n->namelen) != NULL)
			continue;	/* not asked for, or listed already */
		holders = waiters = 0;
		end = holders_end(n);
		holding = true;
		TAILQ_FOREACH(k, &n->keys, entry) {
			if (k == end)
				holding = false;
			if (holding)
				holders++;
			else
				waiters++;
		}
		e = json_object();
		json_object_set_new(e, "name", json_stringn(n->name,
		    n->namelen));
		type = n->set ? "event" : n->has_value ? "counter" :
		    record_type(n) != NULL ? record_type(n) : "lock";
		v = n->nkeys > 0 ? json_loads(TAILQ_FIRST(&n->keys)->value, 0,
		    NULL) : NULL;
		if (json_is_string(json_object_get(v, "type")))
			json_object_set(e, "type", json_object_get(v, "type"));
		else
			json_object_set_new(e, "type", json_string(type));
		json_decref(v);
		json_object_set_new(e, "holders", json_integer((json_int_t)
		    holders));
		json_object_set_new(e, "waiters", json_integer((json_int_t)
		    waiters));
		if (n->set)
			json_object_set_new(e, "set", json_true());
		if (n->has_value)
			json_object_set_new(e, "value", json_integer(n->value));
		record_describe(n, e);
		json_object_set_new(e, "cluster", json_true());
		json_array_append_new(list, e);
	}
}

/* What the types on the cluster share. */

const struct verb cluster_none[] = { { 0, NULL } };

bool
cluster_is_queue(const struct object *o)
{
	return (o->type == &cluster_lock_type ||
	    o->type == &cluster_rlock_type || o->type == &cluster_rwlock_type);
}

/* Are o's holds keys in etcd (a lock type's, an owned semaphore's)? */
bool
cluster_is_held(const struct object *o)
{
	return (cluster_is_queue(o) || o->type == &cluster_sem_type);
}

const char *
cluster_mode_name(uint8_t mode)
{
	return (mode == MODE_WRITE ? "write" : "read");
}

void
cluster_hold_lost(struct model *m, struct object *o, struct hold *h)
{
	(void)o;
	/* A session's end revokes its lease too; a forced delete does not. */
	cluster_hold_free(m, h, true);
}

void
cluster_flag_describe(const struct object *o, json_t *out)
{
	(void)o;
	json_object_set_new(out, "cluster", json_true());
}

/* Routing. */

static enum hret
cluster_refuse(struct request *rq)
{
	return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "'%s' is a cluster name "
	    "(under the --cluster-prefix), and %s is not served for cluster "
	    "objects: they are deleted by their own ops (a release, a "
	    "counter set to 0, an event cleared) and leases",
	    QUOTED_NAME(rq), psync_op_name(rq->op)));
}

handler_fn
cluster_route(struct cluster *c, const struct request *rq)
{
	json_t	*v = json_object_get(rq->json, "name");

	if (!json_is_string(v) || json_string_length(v) < c->prefix_len ||
	    memcmp(json_string_value(v), c->prefix, c->prefix_len) != 0)
		return (NULL);
	switch (rq->op) {
	case PSYNC_OP_LOCK_ACQUIRE:
		return (cluster_lock_acquire);
	case PSYNC_OP_LOCK_RELEASE:
		return (cluster_lock_release);
	case PSYNC_OP_RLOCK_ACQUIRE:
		return (cluster_rlock_acquire);
	case PSYNC_OP_RLOCK_RELEASE:
		return (cluster_rlock_release);
	case PSYNC_OP_RWLOCK_ACQUIRE:
		return (cluster_rwlock_acquire);
	case PSYNC_OP_RWLOCK_RELEASE:
		return (cluster_rwlock_release);
	case PSYNC_OP_EVENT_SET:
		return (cluster_event_set);
	case PSYNC_OP_EVENT_CLEAR:
		return (cluster_event_clear);
	case PSYNC_OP_EVENT_IS_SET:
		return (cluster_event_is_set);
	case PSYNC_OP_EVENT_WAIT:
		return (cluster_event_wait);
	case PSYNC_OP_COUNTER_GET:
		return (cluster_counter_get);
	case PSYNC_OP_COUNTER_SET:
		return (cluster_counter_set);
	case PSYNC_OP_COUNTER_ADD:
		return (cluster_counter_add);
	case PSYNC_OP_COUNTER_CAS:
		return (cluster_counter_cas);
	case PSYNC_OP_SEM_ACQUIRE:
		return (cluster_sem_acquire);
	case PSYNC_OP_SEM_RELEASE:
		return (cluster_sem_release);
	case PSYNC_OP_SEM_VALUE:
		return (cluster_sem_value);
	case PSYNC_OP_BARRIER_WAIT:
		return (cluster_barrier_wait);
	case PSYNC_OP_BARRIER_ABORT:
		return (cluster_barrier_abort);
	case PSYNC_OP_BARRIER_RESET:
		return (cluster_barrier_reset);
	case PSYNC_OP_BARRIER_INFO:
		return (cluster_barrier_info);
	case PSYNC_OP_COND_WAIT:
		return (cluster_cond_wait);
	case PSYNC_OP_COND_NOTIFY:
		return (cluster_cond_notify);
	case PSYNC_OP_COND_NOTIFY_ALL:
		return (cluster_cond_notify_all);
	case PSYNC_OP_INFO:
		return (cluster_info);
	case PSYNC_OP_LIST:
	case PSYNC_OP_CANCEL:
	case PSYNC_OP_PING:
	case PSYNC_OP_HELLO:
	case PSYNC_OP_STAT:
		return (NULL);		/* the local view serves them */
	default:
		return (cluster_refuse);
	}
}

void
cluster_describe(const struct cluster *c, json_t *out)
{
	json_t	*d;

	d = json_object();
	json_object_set_new(d, "member", json_string(etcd_member(c->etcd)));
	json_object_set_new(d, "connected",
	    json_boolean(etcd_connected(c->etcd) && c->revision != 0));
	json_object_set_new(d, "revision", json_integer(c->revision));
	json_object_set_new(d, "prefix", json_string(c->prefix));
	json_object_set_new(d, "ttl", json_integer(c->ttl));
	json_object_set_new(d, "sessions", json_integer(c->nsessions));
	json_object_set_new(out, "cluster", d);
}

struct cluster *
cluster_new(struct model *m, struct event_base *base, const char *urls,
    const char *prefix, int ttl, char *cause, size_t size)
{
	struct cluster	*c;
	struct timeval	 tv;

	c = xcalloc(1, sizeof(*c));
	c->m = m;
	c->base = base;
	c->prefix = xstrdup(prefix);
	c->prefix_len = strlen(prefix);
	c->ttl = ttl;
	TAILQ_INIT(&c->sessions);
	TAILQ_INIT(&c->queued);
	if (gethostname(c->host, sizeof(c->host)) == -1)
		strcpy(c->host, "?");
	c->host[sizeof(c->host) - 1] = '\0';
	/* The host name goes into JSON text: keep it to the safe bytes. */
	for (char *p = c->host; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '?';
	if (objtab_init(&c->names) == -1) {
		snprintf(cause, size, "cannot initialise libsodium");
		goto fail;
	}
	if ((c->etcd = etcd_new(base, urls, CALL_TIMEOUT_MS, cause,
	    size)) == NULL)
		goto fail;
	c->reload = evtimer_new(base, cluster_reload_cb, c);
	c->keepalive = event_new(base, -1, EV_PERSIST, cluster_keepalive_cb,
	    c);
	tv.tv_sec = ttl / 3;		/* TTL/3, to the millisecond */
	tv.tv_usec = (ttl * 1000 / 3 % 1000) * 1000;
	if (c->reload == NULL || c->keepalive == NULL ||
	    event_add(c->keepalive, &tv) == -1) {
		snprintf(cause, size, "cannot set up the cluster's timers");
		goto fail;
	}
	m->cluster = c;
	m->session_ending = cluster_session_ending;
	cluster_load(c);
	return (c);
fail:
	cluster_free(c);
	return (NULL);
}

void
cluster_free(struct cluster *c)
{
	struct cluster_session	*cs;

	if (c == NULL)
		return;
	if (c->m->cluster == c) {
		c->m->cluster = NULL;
		c->m->session_ending = NULL;
	}
	etcd_watch_close(c->watch);
	/* Its pending calls are answered (ETCD_CLOSING) while c is whole. */
	etcd_free(c->etcd);
	while ((cs = TAILQ_FIRST(&c->sessions)) != NULL) {
		if (cs->s != NULL)
			cs->s->cluster = NULL;
		csess_free(cs);
	}
	if (c->names.count > 0)
		mirror_clear(c);
	if (c->reload != NULL)
		event_free(c->reload);
	if (c->keepalive != NULL)
		event_free(c->keepalive);
	free(c->prefix);
	free(c);
}

