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
 * Not served yet (see the issue's note): delete, and deadlock detection
 * across hosts.
 */
#include <sys/queue.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster.h"
#include "deadlock.h"
#include "etcd.h"
#include "log.h"
#include "model.h"
#include "object.h"
#include "objtab.h"
#include "request.h"
#include "session.h"
#include "wait.h"
#include "xmalloc.h"

#define ROOT		"psync/"
#define ROOT_END	"psync0"	/* "psync/" + 1: the range's end */
#define OBJ_ROOT	"psync/o/"
#define QUEUE_SEP	"/q/"
#define KEY_MAX		512
#define RETRY_MS	100		/* reload, lease, delete retries */
#define DELETE_TRIES	100		/* about 10 s of retries */
#define MODE_READ	1		/* rwlock read: shares with readers */
#define MODE_WRITE	2		/* lock, rlock, rwlock write */

/* One queue key of the mirror. */
struct ckey {
	TAILQ_ENTRY(ckey)	 entry;		/* in create-revision order */
	int64_t			 rev;		/* create revision: the token */
	int64_t			 lease;
	uint8_t			 mode;		/* MODE_READ or MODE_WRITE */
	char			 type[16];	/* "lock" ... "semaphore", "barrier" */
	json_int_t		 round;		/* a barrier party's round */
	bool			 notified;	/* a cond waiter's, by a notify */
	char			*key;		/* the full etcd key */
	char			*value;		/* who: JSON text */
};

TAILQ_HEAD(ckey_list, ckey);

/* What a key under psync/o/<name>/ is. */
enum ckind {
	CK_QUEUE,		/* .../q/<lease>.<seq>.<r|w> */
	CK_SET,			/* .../set: the event is set */
	CK_VALUE,		/* .../v: the counter's decimal value */
	CK_SEM,			/* .../sem: a semaphore's record */
	CK_BAR			/* .../bar: a barrier's record */
};

/*
 * A semaphore's or a barrier's record: its whole shared state in one
 * key (not leased), so that every change is one compare-and-swap on its
 * mod revision.
 */
struct crecord {
	bool			 present;
	enum ckind		 kind;		/* CK_SEM or CK_BAR */
	int64_t			 mod;		/* mod revision; 0: absent */
	/* A semaphore. */
	json_int_t		 initial;
	json_int_t		 units;		/* owned: value + held; else value */
	bool			 bounded, owned;
	/* A barrier. */
	json_int_t		 parties;
	json_int_t		 round;		/* from 1; a trip or reset adds 1 */
	json_int_t		 arrived;	/* parties in this round */
	bool			 broken;
	bool			 was_reset;	/* the last round ended by a reset */
	char			 why[256];	/* what broke or reset it */
};

/* A name with keys in the mirror. */
struct cname {
	struct objtab_link	 link;
	struct ckey_list	 keys;		/* a lock type's queue */
	size_t			 nkeys;
	bool			 set;		/* an event's .../set exists */
	bool			 has_value;	/* a counter's .../v exists */
	int64_t			 value;
	int64_t			 value_mod;	/* its mod revision */
	struct crecord		 rec;		/* a semaphore's or barrier's */
	bool			 breaking;	/* a barrier's break in flight */
	size_t			 namelen;
	char			 name[];
};

struct ccall;
struct cnotify;
struct cop;
struct rcall;
struct cwait;
TAILQ_HEAD(cop_list, cop);
TAILQ_HEAD(cwait_list, cwait);

/* A session's cluster state: its lease. */
struct cluster_session {
	struct cluster		*c;
	struct session		*s;		/* NULL once it ended */
	int64_t			 lease;		/* 0 until granted */
	bool			 granting;
	int64_t			 sent_us;	/* the grant's send, monotonic */
	int64_t			 acked_us;	/* send of the last acked renewal */
	bool			 lost;		/* holds were lost with a lease */
	uint64_t		 seq;		/* of its queue keys */
	struct cop_list		 waiting;	/* enqueues awaiting the lease */
	TAILQ_ENTRY(cluster_session) entry;
};

TAILQ_HEAD(csess_list, cluster_session);

/* A cluster waiter: its key once put. */
struct cwait {
	struct wait		 w;
	TAILQ_ENTRY(cwait)	 entry;		/* on the cluster's queued */
	bool			 queued;	/* its key is put: on the list */
	struct cop		*op;		/* its put in flight, or NULL */
	char			*key;		/* owned once put */
	int64_t			 rev;		/* its create revision; 0: not yet */
	bool			 try;		/* timeout 0: judged once */
	struct ccall		*call;		/* an event or counter call */
	struct rcall		*rcall;		/* a record call in flight */
	int64_t			 take_failed;	/* a take lost at this mod */
	json_int_t		 round;		/* a barrier party's round */
	bool			 resolved;	/* the barrier's round ended */
	json_int_t		 index;		/* its index; -1: broken */
	char			 why[256];	/* what broke it */
	struct object		*lock;		/* a cond.wait's, pinned */
	char			**lock_keys;	/* its keys, until deleted */
	uint32_t		 nlock_keys;
	uint32_t		 depth;		/* the rlock depth released */
	bool			 notified;
	struct cnotify		*notify;	/* a cond.notify in flight */
};

/* An enqueue on etcd for a wait; outlives the wait if it must. */
struct cop {
	TAILQ_ENTRY(cop)	 entry;		/* on its session's waiting */
	bool			 waiting;	/* on it: not sent yet */
	struct cluster		*c;
	struct cluster_session	*cs;
	struct cwait		*cw;		/* NULL once the wait ended */
	char			*key;
};

/* A key to delete, retried while etcd cannot be reached. */
struct cdel {
	struct cluster		*c;
	char			*key;
	int			 tries;
};

struct cluster {
	struct model		*m;
	struct etcd		*etcd;
	struct event_base	*base;
	char			*prefix;
	size_t			 prefix_len;
	int			 ttl;
	char			 host[128];
	struct objtab		 names;		/* the mirror: struct cname */
	int64_t			 revision;	/* applied up to; 0: not loaded */
	struct etcd_watch	*watch;
	struct event		*reload;	/* range and watch again */
	struct event		*keepalive;
	struct csess_list	 sessions;
	unsigned		 nsessions;
	struct cwait_list	 queued;	/* local waits with a key put */
};

/*
 * One session's hold: its keys in etcd (one for a lock type; one per
 * unit of an owned semaphore, hold.count of them).
 */
struct chold {
	struct hold	 hold;		/* token: the first key's revision */
	char		**keys;		/* owned */
	uint32_t	 nkeys;
};

#define CHOLD(h)	((struct chold *)(void *)(h))

#define SEM_VALUE_MAX		((json_int_t)1 << 53)
#define BARRIER_PARTIES_MAX	1000000
#define RCALL_TRIES		1000	/* others' changes came between */

enum rcall_op {
	RC_NONE,
	RC_SEM_ACQUIRE,		/* the record exists and matches: enqueue */
	RC_SEM_TAKE,		/* an unowned unit for a waiter at the front */
	RC_SEM_SIGNAL,		/* units given beyond those held */
	RC_SEM_VALUE,
	RC_BAR_ARRIVE,
	RC_BAR_BREAK,		/* abort, a timeout, a party gone */
	RC_BAR_RESET,
	RC_BAR_WITHDRAW,	/* a cancelled party */
	RC_BAR_INFO
};

/* What a step did: asked for etcd's state, wrote, or ended the call. */
enum rstep { RS_READ, RS_WRITE, RS_DONE };

struct rcall {
	struct cluster		*c;
	struct cwait		*cw;		/* NULL: none, or it ended */
	enum rcall_op		 op;
	enum rcall_op		 after;		/* an arrival whose wait left */
	enum rstep		 sent;
	struct crecord		 rec;		/* the state a step starts from */
	bool			 fresh;		/* rec was just read from etcd */
	json_int_t		 queued;	/* fresh: the queue's keys */
	struct crecord		 want;		/* what a write makes it */
	bool			 creating;	/* the write only creates it */
	bool			 broke;		/* a try broke the barrier */
	json_int_t		 waiting;	/* the parties it left waiting */
	json_t			*cmps, *ops;	/* a write's others (owned) */
	bool			 given;		/* "value" or "parties" */
	json_int_t		 n;		/* "value" or "parties" */
	json_int_t		 units;		/* a signal's */
	bool			 bounded, owned;
	bool			 try;
	json_int_t		 round;		/* the party's round */
	int64_t			 lease;
	int			 tries;
	char			*party;		/* the party key (owned) */
	char			 why[256];
	char			 key[KEY_MAX];	/* the record's */
	char			 queue[KEY_MAX]; /* its queue's prefix */
	char			 name[PSYNC_NAME_MAX + 1];
};


#define CW(w)		((struct cwait *)(w))

extern const struct objtype cluster_lock_type;
extern const struct objtype cluster_rlock_type;
extern const struct objtype cluster_rwlock_type;

extern const struct objtype cluster_event_type;
extern const struct objtype cluster_counter_type;
extern const struct objtype cluster_sem_type;
extern const struct objtype cluster_barrier_type;
extern const struct objtype cluster_cond_type;

static bool	is_cluster_queue(const struct object *);
static bool	is_cluster_held(const struct object *);
static void	chold_free(struct model *, struct hold *, bool);

static void	cluster_load(struct cluster *);
static void	cluster_touch_name(struct cluster *, const char *, size_t);

/* The mirror. */

static struct cname *
cname_find(struct cluster *c, const char *name, size_t len)
{
	struct objtab_link	*l = objtab_find(&c->names, name, len);

	return ((struct cname *)(void *)l);
}

static struct cname *
cname_get(struct cluster *c, const char *name, size_t len)
{
	struct cname	*n;

	if ((n = cname_find(c, name, len)) != NULL)
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
	struct cname	*n = cname_find(c, name, len);
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
static enum hret
cluster_admit(struct request *rq, const struct objtype *t)
{
	const char	*name, *other;
	size_t		 len;
	bool		 temporary;

	if (rq_name(rq, "name", &name, &len) != HR_DONE ||
	    rq_bool(rq, "temporary", false, &temporary) != HR_DONE)
		return (HR_ERROR);
	if (temporary)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "'%s' is a cluster "
		    "name: temporary objects are not served in the cluster",
		    QUOTED(name, len)));
	if ((other = cluster_type_clash(rq->model->cluster, name, len, t)) ==
	    NULL)
		return (HR_DONE);
	return (rq_fail(rq, PSYNC_ERR_TYPE_MISMATCH, "'%s' is %s %s in the "
	    "cluster, not %s %s", QUOTED(name, len),
	    other[0] == 'e' || other[0] == 'r' ? "an" : "a", other,
	    t->article, t->name));
}

/* Parse a record's text (kind's JSON, at mod revision mod) into r. */
static void
record_parse(const char *text, enum ckind kind, int64_t mod,
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
static json_t *
record_b64(const struct crecord *r)
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
static json_int_t
sem_value_of(const struct crecord *r, json_int_t queued)
{
	if (!r->owned)
		return (r->units);
	return (r->units - (queued < r->units ? queued : r->units));
}

static void	barrier_transition(struct cluster *, struct cname *,
		    const struct crecord *);

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

		record_parse(value, (enum ckind)kind,
		    etcd_int(kv, "mod_revision"), &n->rec);
		/* A barrier's rounds end here, in revision order. */
		if (kind == CK_BAR)
			barrier_transition(c, n, &old);
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
	    (n = cname_find(c, name, namelen)) == NULL)
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

	if (o != NULL && (is_cluster_queue(o) || o->type == &cluster_event_type ||
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
static void
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
static void	rcall_free(struct rcall *);
static void	rcall_run(struct rcall *);
static void	cond_send(struct cop *);
static void	cond_leave(struct cluster *, struct cwait *);
static void	cond_drop_lock_keys(struct cluster *, struct cwait *, bool);
static void	cwait_notify_detach(struct cnotify *);

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
		if (!is_cluster_held(h->obj))
			continue;
		if (s->notices)
			send_lost(s, h, why);
		chold_free(cs->c->m, h, false);
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
		if (etcd_post(c->etcd, "/v3/lease/keepalive", json_pack("{s:o}",
		    "ID", etcd_int_json(cs->lease)), cluster_keepalive_done,
		    k) == NULL)
			free(k);
	}
	if (lost)
		object_settle_all(c->m);
}

/* Holds. */

/* Add key (taken over) to s's hold on o, made under token if none. */
static struct chold *
chold_add(struct object *o, struct session *s, char *key, uint64_t token,
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
static void
chold_give(struct cluster *c, struct hold *h, uint32_t n)
{
	struct chold	*ch = CHOLD(h);

	while (n-- > 0 && ch->nkeys > 0)
		cluster_delete(c, ch->keys[--ch->nkeys]);
}

/*
 * Free h, unlinked; its keys are deleted in etcd unless delete is false
 * (its lease's end does it, or already did).
 */
static void
chold_free(struct model *m, struct hold *h, bool delete)
{
	struct chold	*ch = CHOLD(h);

	if (delete)
		chold_give(m->cluster, h, ch->nkeys);
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
			rcall_free(cw->rcall);
		snprintf(msg, sizeof(msg), "the cluster cannot be reached: %s",
		    why);
		wait_fail(op->c->m, &cw->w, PSYNC_ERR_UNAVAILABLE, msg);
	}
	cop_free(op);
}

/* The answer to a queue key's put, or to a cond.wait's txn. */
static void
cop_put_cb(void *arg, json_t *reply, const char *err)
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
			cond_leave(c, cw);	/* a cond.wait's txn */
		wait_fail(c->m, &cw->w, PSYNC_ERR_UNAVAILABLE, msg);
	} else {
		cond_drop_lock_keys(c, cw, false);	/* a cond.wait's txn did */
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
		k->lease = cs->lease;
		cop_free(op);
		rcall_run(k);
		return;
	}
	if (o->type == &cluster_cond_type) {
		cond_send(op);
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
	etcd_post(cs->c->etcd, "/v3/kv/put", req, cop_put_cb, op);
}

static void
cwait_unqueue(struct cluster *c, struct cwait *cw)
{
	if (cw->queued) {
		TAILQ_REMOVE(&c->queued, cw, entry);
		cw->queued = false;
	}
}

/* Put cw's queue key (or send its arrival) once its session has a lease. */
static void
cwait_need_lease(struct cluster *c, struct cwait *cw)
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
static void
cwait_abandon(struct cluster *c, struct cwait *cw)
{
	if (cw->rcall != NULL) {
		cw->rcall->cw = NULL;
		cw->rcall = NULL;
	}
	if (cw->notify != NULL) {
		cwait_notify_detach(cw->notify);
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
	cwait_unqueue(c, cw);
	if (cw->key != NULL) {
		cluster_delete(c, cw->key);
		cw->key = NULL;
	}
}

/* The lock types: lock, rlock and rwlock share one queue discipline. */

static bool
is_cluster_queue(const struct object *o)
{
	return (o->type == &cluster_lock_type ||
	    o->type == &cluster_rlock_type || o->type == &cluster_rwlock_type);
}

/* Are o's holds keys in etcd (a lock type's, an owned semaphore's)? */
static bool
is_cluster_held(const struct object *o)
{
	return (is_cluster_queue(o) || o->type == &cluster_sem_type);
}

static const char *
mode_name(uint8_t mode)
{
	return (mode == MODE_WRITE ? "write" : "read");
}

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
			    mode_name(h->mode)));
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
	cwait_need_lease(c, cw);
	return (HR_PENDING);
}

static enum hret
cluster_release_op(struct request *rq, const struct objtype *t)
{
	struct object	*o;
	struct hold	*h = NULL;

	if (object_get(rq, t, false, &o) != HR_DONE)
		return (HR_ERROR);
	/* A paused psyncd counts its lease from the last renewal acked. */
	if (rq->sess->cluster != NULL && csess_expired(rq->sess->cluster))
		csess_lease_lost(rq->sess->cluster,
		    "went unrenewed past its TTL");
	if (o == NULL || (h = hold_find(o, rq->sess)) == NULL)
		return (rq_fail(rq, PSYNC_ERR_NOT_OWNER, "session %llu does "
		    "not hold %s '%s'%s", (unsigned long long)rq->sess->id,
		    t->name, QUOTED_NAME(rq), rq->sess->cluster != NULL &&
		    rq->sess->cluster->lost ? " (cluster holds were lost: its "
		    "etcd lease could not be kept)" : ""));
	if (--h->count == 0) {
		/* Released once etcd deletes the key; the reply need not wait. */
		chold_free(rq->model, h, true);
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
	int		 g;

	if (c->revision == 0)
		return;			/* the mirror is loading */
	n = cname_find(c, object_name(o), o->namelen);
	for (w = TAILQ_FIRST(&o->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, obj_entry);
		cw = CW(w);
		/* Judged only once the mirror has its own key's put. */
		if (cw->rev == 0 || cw->rev > c->revision)
			continue;
		if ((g = grantable(n, cw->rev, w->mode, o->type->name)) == 1) {
			ch = chold_add(o, w->sess, cw->key, (uint64_t)cw->rev,
			    w->mode);
			/* A cond.wait taking its lock back: its depth, its reply. */
			ch->hold.count = w->regrant != NULL ?
			    w->regrant->depth(w) : 1;
			cw->key = NULL;
			cwait_unqueue(c, cw);
			wait_reply_init(w, &r);
			if (w->regrant != NULL)
				w->regrant->reply(w, ch->hold.token, &r);
			else
				grant_fields(&r, o, &ch->hold);
			wait_complete(m, w, &r);
		} else if (g == -2) {
			cwait_abandon(c, cw);
			wait_fail(m, w, PSYNC_ERR_TYPE_MISMATCH, "another "
			    "request made this name another type in the cluster "
			    "first");
		} else if (g == -1) {
			cwait_abandon(c, cw);
			wait_fail(m, w, PSYNC_ERR_UNAVAILABLE, "this request's "
			    "queue key left etcd before it was granted (its "
			    "session's lease expired?)");
		} else if (cw->try) {
			cwait_abandon(c, cw);
			wait_reply_init(w, &r);
			reply_bool(&r, "acquired", false);
			wait_complete(m, w, &r);
		}
	}
}

static void
cluster_queue_timed_out(struct model *m, struct wait *w)
{
	cwait_abandon(m->cluster, CW(w));
	wait_timed_out_unacquired(m, w);
}

static void
cluster_queue_wait_left(struct model *m, struct wait *w, enum wait_end why)
{
	(void)why;
	cwait_abandon(m->cluster, CW(w));
}

static void
cluster_queue_hold_lost(struct model *m, struct object *o, struct hold *h)
{
	(void)o;
	/* A session's end revokes its lease too; a forced delete does not. */
	chold_free(m, h, true);
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
		json_object_set_new(out, "mode", json_string(mode_name(h->mode)));
	json_object_set_new(out, "token", json_integer((json_int_t)h->token));
}

static void
cluster_queue_describe_wait(const struct wait *w, json_t *out)
{
	if (w->obj->type == &cluster_rwlock_type)
		json_object_set_new(out, "mode", json_string(mode_name(w->mode)));
}

static enum hret
cluster_lock_acquire(struct request *rq)
{
	return (cluster_acquire_op(rq, &cluster_lock_type, MODE_WRITE));
}

static enum hret
cluster_lock_release(struct request *rq)
{
	return (cluster_release_op(rq, &cluster_lock_type));
}

static enum hret
cluster_rlock_acquire(struct request *rq)
{
	return (cluster_acquire_op(rq, &cluster_rlock_type, MODE_WRITE));
}

static enum hret
cluster_rlock_release(struct request *rq)
{
	return (cluster_release_op(rq, &cluster_rlock_type));
}

static enum hret
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

static enum hret
cluster_rwlock_release(struct request *rq)
{
	return (cluster_release_op(rq, &cluster_rwlock_type));
}

static const struct verb cluster_none[] = { { 0, NULL } };

#define CLUSTER_QUEUE_TYPE(tname, tarticle, tkind)			\
	.name = tname,							\
	.article = tarticle,						\
	.kind = tkind,							\
	.size = sizeof(struct object),					\
	.verbs = cluster_none,						\
	.is_fresh = object_always_fresh,				\
	.pump = cluster_queue_pump,					\
	.hold_lost = cluster_queue_hold_lost,				\
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
	    (n = cname_find(c, object_name(o), o->namelen)) != NULL &&
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
	    (n = cname_find(c, object_name(o), o->namelen)) == NULL ||
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

static enum hret
cluster_event_set(struct request *rq)
{
	return (ccall_start(rq, &cluster_event_type, CC_EVENT_SET, 0, 0));
}

static enum hret
cluster_event_clear(struct request *rq)
{
	return (ccall_start(rq, &cluster_event_type, CC_EVENT_CLEAR, 0, 0));
}

static enum hret
cluster_event_is_set(struct request *rq)
{
	return (ccall_start(rq, &cluster_event_type, CC_EVENT_IS_SET, 0, 0));
}

static enum hret
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
	n = cname_find(c, object_name(o), o->namelen);
	if ((n != NULL && n->set) || timeout == 0) {
		reply_bool(rq_reply(rq), "set", n != NULL && n->set);
		return (HR_DONE);
	}
	if (object_check_pending(rq, &cluster_event_type) != HR_DONE)
		return (HR_ERROR);
	wait_new(rq, o, timeout, 0, sizeof(struct cwait));
	return (HR_PENDING);
}

static enum hret
cluster_counter_get(struct request *rq)
{
	return (ccall_start(rq, &cluster_counter_type, CC_COUNTER_GET, 0, 0));
}

static enum hret
cluster_counter_set(struct request *rq)
{
	json_int_t	v;

	if (rq_int(rq, "value", true, 0, &v) != HR_DONE)
		return (HR_ERROR);
	return (ccall_start(rq, &cluster_counter_type, CC_COUNTER_SET, v, 0));
}

static enum hret
cluster_counter_add(struct request *rq)
{
	json_int_t	d;

	if (rq_int(rq, "delta", true, 0, &d) != HR_DONE)
		return (HR_ERROR);
	return (ccall_start(rq, &cluster_counter_type, CC_COUNTER_ADD, d, 0));
}

static enum hret
cluster_counter_cas(struct request *rq)
{
	json_int_t	expect, v;

	if (rq_int(rq, "expect", true, 0, &expect) != HR_DONE ||
	    rq_int(rq, "value", true, 0, &v) != HR_DONE)
		return (HR_ERROR);
	return (ccall_start(rq, &cluster_counter_type, CC_COUNTER_CAS, v,
	    expect));
}

static void
cluster_flag_describe(const struct object *o, json_t *out)
{
	(void)o;
	json_object_set_new(out, "cluster", json_true());
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
		json_object_set_new(out, "value", json_integer(sem_value_of(r,
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
	if ((n = cname_find(c, name, len)) == NULL) {
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
			    json_string(mode_name(k->mode)));
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

/*
 * Semaphores and barriers.  Each keeps its shared state in one record
 * key (.../sem, .../bar; not leased), changed only by a compare-and-swap
 * on its mod revision (struct rcall: a step decides from the state, a
 * txn writes it, and a lost race steps again from what etcd returned).
 * Queue keys tie it to sessions' leases as for locks:
 *
 * - A semaphore's queue is FIFO by creation revision, and its first
 *   `units` keys hold (owned: the key is the held unit, deleted with its
 *   lease) or may take a unit (unowned: one txn decrements the record
 *   and deletes the key, so the unit is consumed).
 * - A barrier.wait is one txn that puts the party's leased key (with its
 *   round) and counts it in the record; the arrival that makes `parties`
 *   trips the round (round + 1).  Each psyncd ends its parties' waits
 *   when its mirror applies the record's change, in revision order;
 *   indices are the parties' ranks by creation revision.  A party key
 *   that leaves etcd while the record still counts it (its psyncd or
 *   host gone) makes any psyncd that sees it break the barrier.
 */

static void	rcall_run(struct rcall *);

static bool
is_barrier_op(enum rcall_op op)
{
	return (op >= RC_BAR_ARRIVE);
}

/* A call on name's record for cw (or none), from the mirror's state. */
static struct rcall *
rcall_new(struct cluster *c, struct cwait *cw, enum rcall_op op,
    const char *name, size_t len)
{
	struct rcall	*k;
	struct cname	*n;

	k = xcalloc(1, sizeof(*k));
	k->c = c;
	k->cw = cw;
	k->op = op;
	snprintf(k->name, sizeof(k->name), "%.*s", (int)len, name);
	snprintf(k->key, sizeof(k->key), OBJ_ROOT "%s/%s", k->name,
	    is_barrier_op(op) ? "bar" : "sem");
	snprintf(k->queue, sizeof(k->queue), OBJ_ROOT "%s" QUEUE_SEP, k->name);
	if ((n = cname_find(c, name, len)) != NULL && n->rec.present)
		k->rec = n->rec;
	if (cw != NULL)
		cw->rcall = k;
	return (k);
}

static void
rcall_free(struct rcall *k)
{
	struct cname	*n;

	if (k->cw != NULL)
		k->cw->rcall = NULL;
	if (k->op == RC_BAR_BREAK && (n = cname_find(k->c, k->name,
	    strlen(k->name))) != NULL)
		n->breaking = false;
	json_decref(k->cmps);
	json_decref(k->ops);
	free(k->party);
	free(k);
}

/* End k and its wait with r (cleared; untouched if k has no wait). */
static void
rcall_complete(struct rcall *k, struct reply *r)
{
	struct model	*m = k->c->m;
	struct cwait	*cw = k->cw;

	rcall_free(k);
	if (cw != NULL)
		wait_complete(m, &cw->w, r);
}

/* Start the reply to k's wait, if it has one (false: it has none). */
static bool
rcall_reply(struct rcall *k, struct reply *r)
{
	if (k->cw == NULL)
		return (false);
	wait_reply_init(&k->cw->w, r);
	return (true);
}

static void	cwait_abandon(struct cluster *, struct cwait *);

/* End k, failing its wait with err and the message. */
static void __attribute__((format(printf, 3, 4)))
rcall_fail(struct rcall *k, enum psync_err err, const char *fmt, ...)
{
	struct cluster	*c = k->c;
	struct cwait	*cw = k->cw;
	char		 msg[400];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rcall_free(k);
	if (cw != NULL) {
		cwait_abandon(c, cw);
		wait_fail(c->m, &cw->w, err, msg);
	}
}

/* Add a put of key (value text, under lease unless 0) to k's write. */
static void
rcall_put(struct rcall *k, const char *key, const char *value, int64_t lease)
{
	json_t	*put;

	put = json_pack("{s:o,s:o}", "key", etcd_b64(key, strlen(key)),
	    "value", etcd_b64(value, strlen(value)));
	if (lease != 0)
		json_object_set_new(put, "lease", etcd_int_json(lease));
	json_array_append_new(k->ops, json_pack("{s:o}", "request_put", put));
}

static void
rcall_delete_op(struct rcall *k, const char *key)
{
	json_array_append_new(k->ops, json_pack("{s:{s:o}}",
	    "request_delete_range", "key", etcd_b64(key, strlen(key))));
}

/* Every call's read: the record, and how many keys its queue has. */
static json_t *
rcall_reads(const struct rcall *k)
{
	char	end[KEY_MAX];
	size_t	len = strlen(k->queue);

	memcpy(end, k->queue, len + 1);
	end[len - 1]++;			/* ".../q/" .. ".../q0" */
	return (json_pack("[{s:{s:o}},{s:{s:o,s:o,s:b}}]",
	    "request_range", "key", etcd_b64(k->key, strlen(k->key)),
	    "request_range", "key", etcd_b64(k->queue, len), "range_end",
	    etcd_b64(end, len), "count_only", 1));
}

/* The record and queue size from a txn's reads, for a step to go on. */
static void
rcall_parse_reads(struct rcall *k, const json_t *reply)
{
	json_t	*resp = json_object_get(reply, "responses");
	json_t	*kv = json_array_get(json_object_get(json_object_get(
		    json_array_get(resp, 0), "response_range"), "kvs"), 0);
	char	 text[1024];

	memset(&k->rec, 0, sizeof(k->rec));
	if (kv != NULL && etcd_unb64(json_object_get(kv, "value"), text,
	    sizeof(text)) != -1)
		record_parse(text, is_barrier_op(k->op) ? CK_BAR : CK_SEM,
		    etcd_int(kv, "mod_revision"), &k->rec);
	k->queued = etcd_int(json_object_get(json_array_get(resp, 1),
	    "response_range"), "count");
	k->fresh = true;
}

static void	rcall_committed(struct rcall *, int64_t);

static void
rcall_done(void *arg, json_t *reply, const char *err)
{
	struct rcall	*k = arg;
	struct cluster	*c = k->c;
	struct cwait	*cw = k->cw;

	if (reply == NULL) {
		if (err == ETCD_CLOSING) {
			rcall_free(k);
			return;
		}
		if (k->sent == RS_WRITE && k->op == RC_BAR_ARRIVE && cw != NULL) {
			free(cw->key);
			cw->key = NULL;
		}
		rcall_fail(k, PSYNC_ERR_UNAVAILABLE, "the cluster cannot be "
		    "reached: %s", err);
		object_settle_all(c->m);
		return;
	}
	if (k->sent == RS_WRITE &&
	    json_is_true(json_object_get(reply, "succeeded"))) {
		rcall_committed(k, etcd_int(json_object_get(reply, "header"),
		    "revision"));
		object_settle_all(c->m);
		return;
	}
	if (k->sent == RS_WRITE && k->op == RC_SEM_TAKE) {
		/* Judged again once the mirror has what came between. */
		if (cw != NULL) {
			cw->take_failed = k->rec.mod;
			object_touch(c->m, cw->w.obj);
		}
		rcall_free(k);
		object_settle_all(c->m);
		return;
	}
	if (k->sent == RS_WRITE && k->op == RC_BAR_ARRIVE) {
		/* Its party key was not put. */
		free(k->party);
		k->party = NULL;
		if (cw != NULL) {
			free(cw->key);
			cw->key = NULL;
		} else {
			rcall_free(k);
			return;
		}
	}
	if (++k->tries >= RCALL_TRIES) {
		rcall_fail(k, PSYNC_ERR_BUSY, "%s '%s' changed under this "
		    "request %d times: other hosts' changes kept coming between",
		    is_barrier_op(k->op) ? "barrier" : "semaphore",
		    QUOTED(k->name, strlen(k->name)), RCALL_TRIES);
		object_settle_all(c->m);
		return;
	}
	rcall_parse_reads(k, reply);
	rcall_run(k);
	object_settle_all(c->m);
}

static void
rcall_send(struct rcall *k, enum rstep s)
{
	json_t	*req, *key = etcd_b64(k->key, strlen(k->key));

	k->sent = s;
	if (s == RS_READ) {
		json_decref(key);
		req = json_pack("{s:[],s:o}", "compare", "success",
		    rcall_reads(k));
	} else {
		/* Only from the state the step decided on; the record last. */
		json_array_insert_new(k->cmps, 0, json_pack("{s:s,s:s,s:O,"
		    "s:o}", "target", "MOD", "result", "EQUAL", "key", key,
		    "mod_revision", etcd_int_json(k->rec.mod)));
		json_array_append_new(k->ops, json_pack("{s:{s:o,s:o}}",
		    "request_put", "key", key, "value", record_b64(&k->want)));
		req = json_pack("{s:O,s:O,s:o}", "compare", k->cmps,
		    "success", k->ops, "failure", rcall_reads(k));
	}
	if (etcd_post(k->c->etcd, "/v3/kv/txn", req, rcall_done, k) == NULL)
		rcall_free(k);		/* etcd_free is running */
}

/* Semaphores. */

/* The mirror's count of name's queue keys (k's, when fresh). */
static json_int_t
rcall_queued(const struct rcall *k)
{
	struct cname	*n;

	if (k->fresh)
		return (k->queued);
	n = cname_find(k->c, k->name, strlen(k->name));
	return (n != NULL ? (json_int_t)n->nkeys : 0);
}

static const char *
tf(bool b)
{
	return (b ? "true" : "false");
}

/*
 * Open k's semaphore as sem.* does: created from "value" (and
 * "bounded", "owned") if need be, or checked against them.  -1: it is
 * there and matches; else the step's result.
 */
static int
sem_open(struct rcall *k)
{
	struct crecord	*w = &k->want;

	if (!k->rec.present) {
		if (!k->given) {
			if (!k->fresh)
				return (RS_READ);
			rcall_fail(k, PSYNC_ERR_NOT_FOUND, "no semaphore '%s' "
			    "(give \"value\" to create it)",
			    QUOTED(k->name, strlen(k->name)));
			return (RS_DONE);
		}
		memset(w, 0, sizeof(*w));
		w->present = true;
		w->kind = CK_SEM;
		w->initial = w->units = k->n;
		w->bounded = k->bounded;
		w->owned = k->owned;
		k->creating = true;
		return (RS_WRITE);
	}
	if (k->given && (k->n != k->rec.initial ||
	    k->bounded != k->rec.bounded || k->owned != k->rec.owned)) {
		rcall_fail(k, PSYNC_ERR_PARAM_MISMATCH, "semaphore '%s' exists "
		    "with value %lld, bounded %s, owned %s; this request has "
		    "value %lld, bounded %s, owned %s",
		    QUOTED(k->name, strlen(k->name)),
		    (long long)k->rec.initial, tf(k->rec.bounded),
		    tf(k->rec.owned), (long long)k->n, tf(k->bounded),
		    tf(k->owned));
		return (RS_DONE);
	}
	return (-1);
}

static void	cwait_need_lease(struct cluster *, struct cwait *);

static enum rstep
sem_step(struct rcall *k)
{
	struct cluster	*c;
	struct cwait	*cw = k->cw;
	struct reply	 r;
	json_int_t	 held;
	int		 s;

	if (k->op == RC_SEM_TAKE) {
		if (cw == NULL) {
			rcall_free(k);
			return (RS_DONE);
		}
		/* Consume a unit and the waiter's key, both or neither. */
		k->want.units--;
		json_array_append_new(k->cmps, json_pack("{s:s,s:s,s:o,s:o}",
		    "target", "CREATE", "result", "EQUAL", "key",
		    etcd_b64(cw->key, strlen(cw->key)), "create_revision",
		    etcd_int_json(cw->rev)));
		rcall_delete_op(k, cw->key);
		return (RS_WRITE);
	}
	if ((s = sem_open(k)) != -1)
		return ((enum rstep)s);
	switch (k->op) {
	case RC_SEM_ACQUIRE:
		/* It exists: queue as a lock does. */
		c = k->c;
		rcall_free(k);
		if (cw != NULL)
			cwait_need_lease(c, cw);
		return (RS_DONE);
	case RC_SEM_SIGNAL:
		held = k->rec.owned ? k->rec.units - sem_value_of(&k->rec,
		    rcall_queued(k)) : 0;
		if ((k->rec.bounded &&
		    k->rec.units + k->units > k->rec.initial) ||
		    k->rec.units + k->units > SEM_VALUE_MAX) {
			/* Refused only on etcd's word: the mirror may trail. */
			if (!k->fresh)
				return (RS_READ);
			rcall_fail(k, PSYNC_ERR_WOULD_EXCEED, "releasing %lld "
			    "unit%s of %ssemaphore '%s' would exceed %s (value "
			    "%lld, %lld held)", (long long)k->units,
			    k->units == 1 ? "" : "s",
			    k->rec.bounded ? "bounded " : "",
			    QUOTED(k->name, strlen(k->name)), k->rec.bounded ?
			    "its initial value" : "2^53",
			    (long long)(k->rec.units - held), (long long)held);
			return (RS_DONE);
		}
		k->want.units += k->units;
		return (RS_WRITE);
	case RC_SEM_VALUE:
		if (!k->fresh)
			return (RS_READ);
		if (rcall_reply(k, &r))
			reply_int(&r, "value", sem_value_of(&k->rec, k->queued));
		rcall_complete(k, &r);
		return (RS_DONE);
	default:
		rcall_free(k);
		return (RS_DONE);
	}
}

/* Barriers. */

/* "session 4 (pid 77) on host h": who broke or reset a barrier. */
static void
rcall_who(struct rcall *k, const struct session *s, const char *did)
{
	char	who[48];

	snprintf(k->why, sizeof(k->why), "%s on %.64s %s",
	    session_who(s, who, sizeof(who)), k->c->host, did);
}

/*
 * Open k's barrier: created from "parties" if need be (into k->want),
 * or checked against them.  -1: go on from k->want; else the result.
 */
static int
bar_open(struct rcall *k)
{
	struct crecord	*w = &k->want;

	if (!k->rec.present) {
		if (!k->given) {
			if (!k->fresh)
				return (RS_READ);
			if (k->party != NULL) {
				cluster_delete(k->c, k->party);
				k->party = NULL;
			}
			rcall_fail(k, PSYNC_ERR_NOT_FOUND, "no barrier '%s' "
			    "(give \"parties\" to create it)",
			    QUOTED(k->name, strlen(k->name)));
			return (RS_DONE);
		}
		memset(w, 0, sizeof(*w));
		w->present = true;
		w->kind = CK_BAR;
		w->parties = k->n;
		w->round = 1;
		return (-1);
	}
	if (k->given && k->n != k->rec.parties) {
		rcall_fail(k, PSYNC_ERR_PARAM_MISMATCH, "barrier '%s' exists "
		    "with %lld parties; this request has %lld parties",
		    QUOTED(k->name, strlen(k->name)),
		    (long long)k->rec.parties, (long long)k->n);
		return (RS_DONE);
	}
	return (-1);
}

static enum rstep
bar_arrive_step(struct rcall *k, struct crecord *w)
{
	struct cluster_session	*cs;
	struct session		*s;
	char			 key[KEY_MAX], value[300];

	if (w->broken) {
		if (!k->fresh)
			return (RS_READ);	/* a reset may have come */
		rcall_fail(k, PSYNC_ERR_BROKEN, "barrier '%s' is broken (%s); "
		    "reset it to use it again", QUOTED(k->name,
		    strlen(k->name)), w->why);
		return (RS_DONE);
	}
	if (k->cw == NULL) {		/* its wait ended during a read */
		rcall_free(k);
		return (RS_DONE);
	}
	s = k->cw->w.sess;
	cs = s->cluster;
	k->round = w->round;
	if (w->arrived + 1 >= w->parties) {
		/* The last arrival: the round trips. */
		w->round++;
		w->arrived = 0;
		w->was_reset = false;
		w->why[0] = '\0';
	} else if (k->try) {
		/* Not waiting breaks it, as a timeout does. */
		k->broke = true;
		w->broken = true;
		rcall_who(k, s, "tried with timeout 0 and did not wait");
		snprintf(w->why, sizeof(w->why), "%s", k->why);
		k->waiting = w->arrived;
		return (RS_WRITE);
	} else
		w->arrived++;
	snprintf(key, sizeof(key), OBJ_ROOT "%s" QUEUE_SEP "%" PRIx64 ".%"
	    PRIx64 ".w", k->name, (uint64_t)k->lease, ++cs->seq);
	snprintf(value, sizeof(value), "{\"type\":\"barrier\",\"round\":%lld,"
	    "\"session\":%llu,\"pid\":%ld,\"host\":\"%s\"}",
	    (long long)k->round, (unsigned long long)s->id, (long)s->pid,
	    k->c->host);
	/* Put before the record: the mirror sees the party, then the trip. */
	rcall_put(k, key, value, k->lease);
	free(k->party);
	k->party = xstrdup(key);
	free(k->cw->key);
	k->cw->key = xstrdup(key);
	k->cw->round = k->round;
	return (RS_WRITE);
}

static enum rstep
bar_step(struct rcall *k)
{
	struct crecord	*w = &k->want;
	struct reply	 r;
	int		 s;

	if ((s = bar_open(k)) != -1)
		return ((enum rstep)s);
	switch (k->op) {
	case RC_BAR_ARRIVE:
		return (bar_arrive_step(k, w));
	case RC_BAR_BREAK:
	case RC_BAR_WITHDRAW:
		/* Only the round it was about, and only once. */
		if (w->broken || (k->round != 0 && w->round != k->round)) {
			if (!k->fresh)
				return (RS_READ);	/* the mirror may trail */
			if (k->party != NULL) {
				cluster_delete(k->c, k->party);
				k->party = NULL;
			}
			(void)rcall_reply(k, &r); /* abort, broken: {} */
			rcall_complete(k, &r);
			return (RS_DONE);
		}
		if (k->op == RC_BAR_BREAK) {
			w->broken = true;
			snprintf(w->why, sizeof(w->why), "%s", k->why);
		} else if (w->arrived > 0)
			w->arrived--;
		if (k->party != NULL)
			rcall_delete_op(k, k->party);
		return (RS_WRITE);
	case RC_BAR_RESET:
		w->round++;
		w->arrived = 0;
		w->broken = false;
		w->was_reset = true;
		snprintf(w->why, sizeof(w->why), "%s", k->why);
		return (RS_WRITE);
	case RC_BAR_INFO:
		if (!k->rec.present) {
			k->creating = true;	/* "parties" made it */
			return (RS_WRITE);
		}
		if (!k->fresh)
			return (RS_READ);
		if (rcall_reply(k, &r)) {
			reply_int(&r, "parties", w->parties);
			reply_int(&r, "n_waiting", w->broken ? 0 : w->arrived);
			reply_bool(&r, "broken", w->broken);
		}
		rcall_complete(k, &r);
		return (RS_DONE);
	default:
		rcall_free(k);
		return (RS_DONE);
	}
}

static void
rcall_run(struct rcall *k)
{
	enum rstep	s;

	json_decref(k->cmps);
	json_decref(k->ops);
	k->cmps = json_array();
	k->ops = json_array();
	k->want = k->rec;
	k->creating = false;
	s = is_barrier_op(k->op) ? bar_step(k) : sem_step(k);
	if (s != RS_DONE)
		rcall_send(k, s);
}

/* A leaving party's call: a break or a withdrawal of its round. */
static void
bar_leave(struct cluster *c, const char *name, enum rcall_op op,
    json_int_t round, char *party, const char *why)
{
	struct rcall	*k;

	k = rcall_new(c, NULL, op, name, strlen(name));
	k->round = round;
	k->party = party;
	snprintf(k->why, sizeof(k->why), "%s", why);
	rcall_run(k);
}

static void
rcall_committed(struct rcall *k, int64_t rev)
{
	struct cluster	*c = k->c;
	struct cwait	*cw = k->cw;
	struct cname	*n;
	struct reply	 r;
	char		*party;

	if (k->creating) {
		/* Created: now the request itself, from what it wrote. */
		k->rec = k->want;
		k->rec.mod = rev;
		k->fresh = true;
		k->queued = 0;
		rcall_run(k);
		return;
	}
	switch (k->op) {
	case RC_SEM_TAKE:
		if (cw == NULL) {
			/* Its wait ended meanwhile: the unit goes back. */
			k->op = RC_SEM_SIGNAL;
			k->given = false;
			k->units = 1;
			k->rec = k->want;
			k->rec.mod = rev;
			k->fresh = false;
			rcall_run(k);
			return;
		}
		free(cw->key);		/* the txn deleted it */
		cw->key = NULL;
		cwait_unqueue(c, cw);
		wait_reply_init(&cw->w, &r);
		reply_bool(&r, "acquired", true);
		reply_int(&r, "value", k->want.units);
		rcall_complete(k, &r);
		return;
	case RC_SEM_SIGNAL:
		if (rcall_reply(k, &r)) {
			n = cname_find(c, k->name, strlen(k->name));
			reply_int(&r, "value", sem_value_of(&k->want,
			    n != NULL ? (json_int_t)n->nkeys : 0));
		}
		rcall_complete(k, &r);
		return;
	case RC_BAR_ARRIVE:
		if (k->broke) {
			rcall_fail(k, PSYNC_ERR_BROKEN, "timed out: %lld of "
			    "%lld parties were waiting; barrier '%s' is now "
			    "broken", (long long)k->waiting,
			    (long long)k->want.parties,
			    QUOTED(k->name, strlen(k->name)));
			return;
		}
		if (cw == NULL && k->after != RC_NONE) {
			/* Its wait left while it arrived: it leaves now. */
			party = k->party;
			k->party = NULL;
			bar_leave(c, k->name, k->after, k->round, party,
			    k->why);
		}
		/* The mirror ends the wait when the round ends. */
		rcall_free(k);
		return;
	default:
		/* A break, a withdrawal, a reset: its party key went too. */
		free(k->party);
		k->party = NULL;
		(void)rcall_reply(k, &r);	/* {} */
		rcall_complete(k, &r);
		return;
	}
}

/*
 * The mirror has applied a change of n's barrier record from old: the
 * local parties of old's round learn its end (tripped: their ranks; or
 * broken), before any later change is applied.
 */
static void
barrier_transition(struct cluster *c, struct cname *n,
    const struct crecord *old)
{
	struct object	*o = object_find(c->m, n->name, n->namelen);
	struct wait	*w;
	struct cwait	*cw;
	struct ckey	*k;
	json_int_t	 rank;
	bool		 ended, tripped;

	if (o == NULL || o->type != &cluster_barrier_type || !old->present)
		return;
	ended = n->rec.round > old->round;
	tripped = ended && !n->rec.was_reset;
	if (!ended && !(n->rec.broken && !old->broken))
		return;
	TAILQ_FOREACH(w, &o->waiters, obj_entry) {
		cw = CW(w);
		if (cw->resolved || cw->key == NULL || cw->round != old->round)
			continue;
		rank = 0;
		TAILQ_FOREACH(k, &n->keys, entry) {
			if (strcmp(k->key, cw->key) == 0)
				break;
			if (k->round == old->round)
				rank++;
		}
		if (k == NULL)
			continue;		/* its arrival is not in */
		cw->resolved = true;
		cw->index = tripped ? rank : -1;
		snprintf(cw->why, sizeof(cw->why), "%s", n->rec.why);
	}
	object_touch(c->m, o);
}

/* Requests. */

struct sem_args {
	bool		given;		/* "value": create or check */
	json_int_t	value;
	bool		bounded, owned;
};

/* The request's semaphore parameters, read as sem.c reads them. */
static enum hret
sem_args(struct request *rq, struct sem_args *a)
{
	a->given = json_object_get(rq->json, "value") != NULL;
	if (rq_int(rq, "value", false, 0, &a->value) != HR_DONE ||
	    rq_bool(rq, "bounded", false, &a->bounded) != HR_DONE ||
	    rq_bool(rq, "owned", true, &a->owned) != HR_DONE)
		return (HR_ERROR);
	if (a->value < 0 || a->value > SEM_VALUE_MAX)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "field 'value' "
		    "must be from 0 to 2^53"));
	return (HR_DONE);
}

/* A wait on rq's cluster semaphore for a call op: its object. */
static enum hret
sem_begin(struct request *rq, const struct sem_args *a, double timeout,
    enum rcall_op op, struct rcall **out)
{
	struct object	*o;
	struct cwait	*cw;
	struct rcall	*k;

	if (cluster_admit(rq, &cluster_sem_type) != HR_DONE ||
	    object_get(rq, &cluster_sem_type, true, &o) != HR_DONE ||
	    object_check_pending(rq, &cluster_sem_type) != HR_DONE)
		return (HR_ERROR);
	/* A try is judged once its key is in the mirror, not at once. */
	cw = CW(wait_new(rq, o, timeout == 0 ? TIMEOUT_FOREVER : timeout, 0,
	    sizeof(*cw)));
	cw->try = timeout == 0;
	k = rcall_new(rq->model->cluster, cw, op, object_name(o), o->namelen);
	k->given = a->given;
	k->n = a->value;
	k->bounded = a->bounded;
	k->owned = a->owned;
	*out = k;
	return (HR_DONE);
}

static enum hret
cluster_sem_acquire(struct request *rq)
{
	struct sem_args	 a;
	struct rcall	*k;
	double		 timeout;

	if (rq_timeout(rq, &timeout) != HR_DONE || sem_args(rq, &a) != HR_DONE ||
	    sem_begin(rq, &a, timeout, RC_SEM_ACQUIRE, &k) != HR_DONE)
		return (HR_ERROR);
	rcall_run(k);
	return (HR_PENDING);
}

static enum hret
cluster_sem_release(struct request *rq)
{
	struct cluster	*c = rq->model->cluster;
	struct sem_args	 a;
	struct object	*o;
	struct hold	*h;
	struct cname	*n;
	struct rcall	*k;
	json_int_t	 units, give, queued;

	if (rq_int(rq, "n", false, 1, &units) != HR_DONE)
		return (HR_ERROR);
	if (units < 1 || units > SEM_VALUE_MAX)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'n' must be from 1 to 2^53"));
	if (sem_args(rq, &a) != HR_DONE ||
	    cluster_admit(rq, &cluster_sem_type) != HR_DONE ||
	    object_get(rq, &cluster_sem_type, true, &o) != HR_DONE)
		return (HR_ERROR);
	h = hold_find(o, rq->sess);
	give = h == NULL ? 0 : units < h->count ? units : h->count;
	n = cname_find(c, object_name(o), o->namelen);
	queued = n != NULL ? (json_int_t)n->nkeys : 0;
	/* A bounded one's units are all in its holders' keys or its value. */
	if (give > 0 && give < units && n != NULL && n->rec.bounded)
		return (rq_fail(rq, PSYNC_ERR_WOULD_EXCEED, "releasing %lld "
		    "units of bounded semaphore '%s' would exceed its initial "
		    "value %lld (value %lld, %lld held)", (long long)units,
		    QUOTED_OBJ(o), (long long)n->rec.initial,
		    (long long)sem_value_of(&n->rec, queued),
		    (long long)(n->rec.units - sem_value_of(&n->rec, queued))));
	if (give > 0) {
		/* First its own units: deleting their keys frees them. */
		chold_give(c, h, (uint32_t)give);
		h->count -= (uint32_t)give;
		if (h->count == 0)
			chold_free(rq->model, h, false);
		queued -= give;
	}
	if (give == units) {
		reply_int(rq_reply(rq), "value", n != NULL && n->rec.present ?
		    sem_value_of(&n->rec, queued) : 0);
		return (HR_DONE);
	}
	if (sem_begin(rq, &a, TIMEOUT_FOREVER, RC_SEM_SIGNAL, &k) != HR_DONE)
		return (HR_ERROR);
	k->units = units - give;
	rcall_run(k);
	return (HR_PENDING);
}

static enum hret
cluster_sem_value(struct request *rq)
{
	struct sem_args	 a;
	struct rcall	*k;

	if (sem_args(rq, &a) != HR_DONE ||
	    sem_begin(rq, &a, TIMEOUT_FOREVER, RC_SEM_VALUE, &k) != HR_DONE)
		return (HR_ERROR);
	rcall_run(k);
	return (HR_PENDING);
}

/*
 * Waiters at the front of the queue hold (owned) or take a unit
 * (unowned), in FIFO order, once the mirror has their keys.
 */
static void
cluster_sem_pump(struct model *m, struct object *o)
{
	struct cluster	*c = m->cluster;
	struct cname	*n;
	struct wait	*w, *next;
	struct cwait	*cw;
	struct chold	*ch;
	struct ckey	*k;
	struct rcall	*call;
	struct reply	 r;
	json_int_t	 pos;

	if (c->revision == 0)
		return;
	n = cname_find(c, object_name(o), o->namelen);
	for (w = TAILQ_FIRST(&o->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, obj_entry);
		cw = CW(w);
		if (cw->rcall != NULL || cw->rev == 0 || cw->rev > c->revision)
			continue;
		pos = 0;
		k = NULL;
		if (n != NULL) {
			TAILQ_FOREACH(k, &n->keys, entry) {
				if (k->rev == cw->rev)
					break;
				pos++;
			}
		}
		if (k == NULL || !n->rec.present) {
			cwait_abandon(c, cw);
			wait_fail(m, w, PSYNC_ERR_UNAVAILABLE, "this request's "
			    "queue key left etcd before it was granted (its "
			    "session's lease expired?)");
			continue;
		}
		if (pos < n->rec.units && n->rec.owned) {
			ch = chold_add(o, w->sess, cw->key, (uint64_t)cw->rev, 0);
			ch->hold.count = ch->nkeys;
			cw->key = NULL;
			cwait_unqueue(c, cw);
			wait_reply_init(w, &r);
			reply_bool(&r, "acquired", true);
			reply_int(&r, "value", sem_value_of(&n->rec,
			    (json_int_t)n->nkeys));
			wait_complete(m, w, &r);
		} else if (pos < n->rec.units) {
			if (n->rec.mod == cw->take_failed)
				continue;	/* the mirror is behind */
			call = rcall_new(c, cw, RC_SEM_TAKE, n->name,
			    n->namelen);
			rcall_run(call);
		} else if (cw->try) {
			cwait_abandon(c, cw);
			wait_reply_init(w, &r);
			reply_bool(&r, "acquired", false);
			reply_int(&r, "value", sem_value_of(&n->rec,
			    (json_int_t)n->nkeys));
			wait_complete(m, w, &r);
		}
	}
}

static void
cluster_sem_timed_out(struct model *m, struct wait *w)
{
	struct cname	*n;
	struct reply	 r;

	cwait_abandon(m->cluster, CW(w));
	n = cname_find(m->cluster, object_name(w->obj), w->obj->namelen);
	wait_reply_init(w, &r);
	reply_bool(&r, "acquired", false);
	reply_int(&r, "value", n != NULL ? sem_value_of(&n->rec,
	    (json_int_t)n->nkeys) : 0);
	wait_complete(m, w, &r);
}

static void
cluster_sem_wait_left(struct model *m, struct wait *w, enum wait_end why)
{
	(void)why;
	cwait_abandon(m->cluster, CW(w));
}

static void
cluster_sem_describe_hold(const struct hold *h, json_t *out)
{
	json_object_set_new(out, "units", json_integer(h->count));
}

/* The request's barrier parameter, read as barrier.c reads it. */
static enum hret
bar_begin(struct request *rq, double timeout, enum rcall_op op,
    struct rcall **out)
{
	struct object	*o;
	struct cwait	*cw;
	struct rcall	*k;
	json_int_t	 parties;
	bool		 given;

	given = json_object_get(rq->json, "parties") != NULL;
	if (rq_int(rq, "parties", false, 0, &parties) != HR_DONE)
		return (HR_ERROR);
	if (given && (parties < 1 || parties > BARRIER_PARTIES_MAX))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "field 'parties' "
		    "must be from 1 to %d", BARRIER_PARTIES_MAX));
	if (cluster_admit(rq, &cluster_barrier_type) != HR_DONE ||
	    object_get(rq, &cluster_barrier_type, true, &o) != HR_DONE ||
	    object_check_pending(rq, &cluster_barrier_type) != HR_DONE)
		return (HR_ERROR);
	cw = CW(wait_new(rq, o, timeout == 0 ? TIMEOUT_FOREVER : timeout, 0,
	    sizeof(*cw)));
	k = rcall_new(rq->model->cluster, cw, op, object_name(o), o->namelen);
	k->given = given;
	k->n = parties;
	k->try = timeout == 0;
	*out = k;
	return (HR_DONE);
}

static enum hret
cluster_barrier_wait(struct request *rq)
{
	struct rcall	*k;
	double		 timeout;

	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    bar_begin(rq, timeout, RC_BAR_ARRIVE, &k) != HR_DONE)
		return (HR_ERROR);
	/* Its txn puts a leased key: it is sent once there is a lease. */
	cwait_need_lease(rq->model->cluster, k->cw);
	return (HR_PENDING);
}

static enum hret
cluster_barrier_call(struct request *rq, enum rcall_op op, const char *did)
{
	struct rcall	*k;

	if (bar_begin(rq, TIMEOUT_FOREVER, op, &k) != HR_DONE)
		return (HR_ERROR);
	if (did != NULL)
		rcall_who(k, rq->sess, did);
	rcall_run(k);
	return (HR_PENDING);
}

static enum hret
cluster_barrier_abort(struct request *rq)
{
	return (cluster_barrier_call(rq, RC_BAR_BREAK, "aborted it"));
}

static enum hret
cluster_barrier_reset(struct request *rq)
{
	return (cluster_barrier_call(rq, RC_BAR_RESET, "reset it"));
}

static enum hret
cluster_barrier_info(struct request *rq)
{
	return (cluster_barrier_call(rq, RC_BAR_INFO, NULL));
}

/*
 * A party leaves before its round ended (then: a withdrawal for a
 * cancel, a break otherwise), did saying how.  An arrival in flight
 * leaves once it is in.
 */
static void
bar_party_leaves(struct cluster *c, struct cwait *cw, enum rcall_op then,
    const char *did)
{
	struct rcall	*k = cw->rcall;
	char		 who[48], why[256];

	snprintf(why, sizeof(why), "%s on %.64s %s", session_who(cw->w.sess,
	    who, sizeof(who)), c->host, did);
	if (k != NULL && k->party != NULL) {
		k->after = then;
		snprintf(k->why, sizeof(k->why), "%s", why);
		free(cw->key);
		cw->key = NULL;
	} else if (k == NULL && cw->key != NULL) {
		bar_leave(c, object_name(cw->w.obj), then, cw->round, cw->key,
		    why);
		cw->key = NULL;
	}
	cwait_abandon(c, cw);
}

/* End the parties whose round the mirror saw end; break for lost ones. */
static void
cluster_barrier_pump(struct model *m, struct object *o)
{
	struct cluster	*c = m->cluster;
	struct cname	*n;
	struct wait	*w, *next;
	struct cwait	*cw;
	struct ckey	*k;
	struct reply	 r;
	char		 msg[800];
	json_int_t	 count = 0;

	for (w = TAILQ_FIRST(&o->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, obj_entry);
		cw = CW(w);
		if (!cw->resolved)
			continue;
		cwait_abandon(c, cw);	/* its key goes: the round is over */
		if (cw->index >= 0) {
			wait_reply_init(w, &r);
			reply_int(&r, "index", cw->index);
			wait_complete(m, w, &r);
		} else {
			snprintf(msg, sizeof(msg), "barrier '%s' is broken: %s",
			    QUOTED_OBJ(o), cw->why);
			wait_fail(m, w, PSYNC_ERR_BROKEN, msg);
		}
	}
	n = cname_find(c, object_name(o), o->namelen);
	if (c->revision == 0 || n == NULL || !n->rec.present ||
	    n->rec.kind != CK_BAR || n->rec.broken || n->breaking)
		return;
	TAILQ_FOREACH(k, &n->keys, entry)
		if (k->round == n->rec.round)
			count++;
	if (count >= n->rec.arrived)
		return;
	/* A party counted in the round has no key: its lease is gone. */
	n->breaking = true;
	bar_leave(c, n->name, RC_BAR_BREAK, n->rec.round, NULL, "a party's "
	    "psyncd or host is gone (its etcd lease expired)");
}

static void
cluster_barrier_timed_out(struct model *m, struct wait *w)
{
	struct cluster	*c = m->cluster;
	struct cwait	*cw = CW(w);
	struct cname	*n;
	char		 msg[300];

	if (cw->resolved) {
		cluster_barrier_pump(m, w->obj);	/* it ended in time */
		return;
	}
	n = cname_find(c, object_name(w->obj), w->obj->namelen);
	snprintf(msg, sizeof(msg), "timed out: %lld of %lld parties were "
	    "waiting; barrier '%s' is now broken", n != NULL ?
	    (long long)n->rec.arrived : 0LL, n != NULL ?
	    (long long)n->rec.parties : 0LL, QUOTED_OBJ(w->obj));
	bar_party_leaves(c, cw, RC_BAR_BREAK, "timed out waiting");
	wait_fail(m, w, PSYNC_ERR_BROKEN, msg);
}

/* A party's death breaks the barrier; a cancel only withdraws it. */
static void
cluster_barrier_wait_left(struct model *m, struct wait *w, enum wait_end why)
{
	struct cwait	*cw = CW(w);

	if (cw->resolved || cw->w.obj == NULL) {
		cwait_abandon(m->cluster, cw);
		return;
	}
	if (why == WAIT_CANCELLED)
		bar_party_leaves(m->cluster, cw, RC_BAR_WITHDRAW,
		    "cancelled its wait");
	else
		bar_party_leaves(m->cluster, cw, RC_BAR_BREAK,
		    "left: its connection closed or its process exited");
}

const struct objtype cluster_sem_type = {
	.name = "semaphore",
	.article = "a",
	.kind = OBJ_SEM,
	.size = sizeof(struct object),
	.verbs = cluster_none,
	.is_fresh = object_always_fresh,
	.pump = cluster_sem_pump,
	.hold_lost = cluster_queue_hold_lost,
	.wait_left = cluster_sem_wait_left,
	.timed_out = cluster_sem_timed_out,
	.describe = cluster_flag_describe,
	.describe_hold = cluster_sem_describe_hold,
};

const struct objtype cluster_barrier_type = {
	.name = "barrier",
	.article = "a",
	.kind = OBJ_BARRIER,
	.size = sizeof(struct object),
	.verbs = cluster_none,
	.is_fresh = object_always_fresh,
	.pump = cluster_barrier_pump,
	.wait_left = cluster_barrier_wait_left,
	.timed_out = cluster_barrier_timed_out,
	.describe = cluster_flag_describe,
};


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
static void
cond_drop_lock_keys(struct cluster *c, struct cwait *cw, bool delete)
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
static void
cond_leave(struct cluster *c, struct cwait *cw)
{
	cwait_abandon(c, cw);
	cond_drop_lock_keys(c, cw, true);
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

	lo->pins++;			/* cond_leave unpins it */
	cond_leave(m->cluster, cw);
	lo->pins--;
	cw->notified = notified;
	cw->rev = 0;
	w->regrant = &cluster_cond_regrant;
	wait_move(m, w, lo);
	cwait_need_lease(m->cluster, cw);
}

/* The cond.wait's txn: its key in, its lock's keys out. */
static void
cond_send(struct cop *op)
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
	    "compare", "success", ops), cop_put_cb, op);
}

static enum hret
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
	chold_free(rq->model, h, false);
	cwait_need_lease(c, cw);
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
static void
cwait_notify_detach(struct cnotify *k)
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

static int
kv_by_create(const void *a, const void *b)
{
	int64_t	x = etcd_int(*(json_t *const *)a, "create_revision");
	int64_t	y = etcd_int(*(json_t *const *)b, "create_revision");

	return (x < y ? -1 : x > y);
}

static void
cnotify_written(void *arg, json_t *reply, const char *err)
{
	struct cnotify	*k = arg;

	if (reply == NULL) {
		if (err != ETCD_CLOSING)
			cnotify_finish(k, err);
		else
			cnotify_free(k);
		object_settle_all(k->c->m);
		return;
	}
	if (json_is_true(json_object_get(reply, "succeeded"))) {
		k->woken += k->batch;
		k->want -= k->batch;
	} else if (++k->tries >= RCALL_TRIES)
		k->want = 0;		/* a waiter keeps leaving: enough */
	k->batch = 0;
	cnotify_read(k);
}

/* The queue as etcd has it: wake up to want of its oldest unnotified. */
static void
cnotify_queue(void *arg, json_t *reply, const char *err)
{
	struct cnotify	*k = arg;
	struct cluster	*c = k->c;
	json_t		*kvs, *kv, **sorted, *cmps, *ops, *v;
	char		 text[1024], *value;
	size_t		 i, n;

	if (reply == NULL) {
		if (err != ETCD_CLOSING)
			cnotify_finish(k, err);
		else
			cnotify_free(k);
		object_settle_all(c->m);
		return;
	}
	kvs = json_object_get(reply, "kvs");
	n = json_array_size(kvs);
	sorted = xreallocarray(NULL, n, sizeof(*sorted));
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(kvs, i);
	qsort(sorted, n, sizeof(*sorted), kv_by_create);
	cmps = json_array();
	ops = json_array();
	for (i = 0; i < n && k->batch < k->want &&
	    k->batch < NOTIFY_BATCH; i++) {
		kv = sorted[i];
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
	free(sorted);
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
	char	end[KEY_MAX];
	size_t	len = strlen(k->queue);

	if (k->want <= 0) {
		cnotify_finish(k, NULL);
		return;
	}
	memcpy(end, k->queue, len + 1);
	end[len - 1]++;
	if (etcd_post(k->c->etcd, "/v3/kv/range", json_pack("{s:o,s:o}",
	    "key", etcd_b64(k->queue, len), "range_end", etcd_b64(end, len)),
	    cnotify_queue, k) == NULL)
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

static enum hret
cluster_cond_notify(struct request *rq)
{
	json_int_t	n;

	if (rq_int(rq, "n", false, 1, &n) != HR_DONE)
		return (HR_ERROR);
	if (n < 0)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'n' must not be negative"));
	return (cluster_cond_notify_n(rq, n));
}

static enum hret
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
	n = cname_find(c, object_name(o), o->namelen);
	for (w = TAILQ_FIRST(&o->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, obj_entry);
		cw = CW(w);
		if (cw->lock == NULL || cw->rev == 0 || cw->rev > c->revision)
			continue;	/* a notify's, or its txn in flight */
		k = NULL;
		if (n != NULL)
			TAILQ_FOREACH(k, &n->keys, entry)
				if (k->rev == cw->rev)
					break;
		if (k == NULL) {
			cond_leave(c, cw);
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
	cond_leave(m->cluster, CW(w));
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
	if ((c->etcd = etcd_new(base, urls, cause, size)) == NULL)
		goto fail;
	c->reload = evtimer_new(base, cluster_reload_cb, c);
	c->keepalive = event_new(base, -1, EV_PERSIST, cluster_keepalive_cb,
	    c);
	tv.tv_sec = ttl / 3 > 0 ? ttl / 3 : 1;
	tv.tv_usec = 0;
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
