/*
 * cluster_rec.c -- cluster semaphores and barriers: their state is one
 * record key, changed by compare-and-swap.
 *
 * Layer 5, primitives (cluster_int.h).
 */
#include <sys/queue.h>

#include <inttypes.h>
#include <stdarg.h>
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
	struct sem_params	 sem;		/* a semaphore's, as asked */
	json_int_t		 n;		/* a barrier's "parties" */
	json_int_t		 units;		/* a signal's */
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
static void	rcall_free(struct rcall *);

/* Go on once the session has a lease (a barrier's arrival puts a key). */
void
cluster_rec_start(struct rcall *k, int64_t lease)
{
	k->lease = lease;
	rcall_run(k);
}

/* k's wait ended: k goes on without it. */
void
cluster_rec_detach(struct rcall *k)
{
	k->cw = NULL;
}

/* k's wait failed before k was sent: k goes too. */
void
cluster_rec_drop(struct rcall *k)
{
	rcall_free(k);
}

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
	if ((n = cluster_name_find(c, name, len)) != NULL && n->rec.present)
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
	if (k->op == RC_BAR_BREAK && (n = cluster_name_find(k->c, k->name,
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
		cluster_wait_abandon(c, cw);
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
	json_t	*queue = cluster_prefix_range(k->queue);

	json_object_set_new(queue, "count_only", json_true());
	return (json_pack("[{s:{s:o}},{s:o}]", "request_range", "key",
	    etcd_b64(k->key, strlen(k->key)), "request_range", queue));
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
		cluster_record_parse(text, is_barrier_op(k->op) ? CK_BAR : CK_SEM,
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
		    "request_put", "key", key, "value", cluster_record_b64(&k->want)));
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
	n = cluster_name_find(k->c, k->name, strlen(k->name));
	return (n != NULL ? (json_int_t)n->nkeys : 0);
}

/*
 * Open k's semaphore as sem.* does: created from "value" (and
 * "bounded", "owned") if need be, or checked against them.  -1: it is
 * there and matches; else the step's result.
 */
static int
sem_open(struct rcall *k)
{
	struct crecord		*w = &k->want;
	struct sem_params	 has;
	char			 has_text[96], asked_text[96];

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
		w->initial = w->units = k->sem.value;
		w->bounded = k->sem.bounded;
		w->owned = k->sem.owned;
		k->creating = true;
		return (RS_WRITE);
	}
	has.value = k->rec.initial;
	has.bounded = k->rec.bounded;
	has.owned = k->rec.owned;
	if (k->given && (has.value != k->sem.value ||
	    has.bounded != k->sem.bounded || has.owned != k->sem.owned)) {
		prim_sem_say(&has, has_text, sizeof(has_text));
		prim_sem_say(&k->sem, asked_text, sizeof(asked_text));
		rcall_fail(k, PSYNC_ERR_PARAM_MISMATCH, "semaphore '%s' exists "
		    "with %s; this request has %s",
		    QUOTED(k->name, strlen(k->name)), has_text, asked_text);
		return (RS_DONE);
	}
	return (-1);
}


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
			cluster_wait_enqueue(c, cw);
		return (RS_DONE);
	case RC_SEM_SIGNAL:
		held = k->rec.owned ? k->rec.units - cluster_sem_value_of(&k->rec,
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
			reply_int(&r, "value", cluster_sem_value_of(&k->rec, k->queued));
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
		cluster_wait_unqueue(c, cw);
		wait_reply_init(&cw->w, &r);
		reply_bool(&r, "acquired", true);
		reply_int(&r, "value", k->want.units);
		rcall_complete(k, &r);
		return;
	case RC_SEM_SIGNAL:
		if (rcall_reply(k, &r)) {
			n = cluster_name_find(c, k->name, strlen(k->name));
			reply_int(&r, "value", cluster_sem_value_of(&k->want,
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
void
cluster_barrier_transition(struct cluster *c, struct cname *n,
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

/* A wait on rq's cluster semaphore for a call op: its object. */
static enum hret
sem_begin(struct request *rq, const struct sem_params *p, bool given,
    double timeout, enum rcall_op op, struct rcall **out)
{
	struct object		*o;
	struct cwait		*cw;
	struct rcall		*k;

	if (cluster_admit(rq, &cluster_sem_type) != HR_DONE ||
	    object_get(rq, &cluster_sem_type, true, &o) != HR_DONE ||
	    object_check_pending(rq, &cluster_sem_type) != HR_DONE)
		return (HR_ERROR);
	/* A try is judged once its key is in the mirror, not at once. */
	cw = CW(wait_new(rq, o, timeout == 0 ? TIMEOUT_FOREVER : timeout, 0,
	    sizeof(*cw)));
	cw->try = timeout == 0;
	k = rcall_new(rq->model->cluster, cw, op, object_name(o), o->namelen);
	k->given = given;
	k->sem = *p;
	*out = k;
	return (HR_DONE);
}

enum hret
cluster_sem_acquire(struct request *rq)
{
	struct sem_params p;
	struct rcall	*k;
	double		 timeout;
	bool		 given;

	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    prim_sem_params(rq, &p, &given) != HR_DONE ||
	    sem_begin(rq, &p, given, timeout, RC_SEM_ACQUIRE, &k) != HR_DONE)
		return (HR_ERROR);
	rcall_run(k);
	return (HR_PENDING);
}

enum hret
cluster_sem_release(struct request *rq)
{
	struct cluster	*c = rq->model->cluster;
	struct sem_params p;
	struct object	*o;
	struct hold	*h;
	struct cname	*n;
	struct rcall	*k;
	json_int_t	 units, give, queued;
	bool		 given;

	if (prim_sem_units(rq, &units) != HR_DONE ||
	    prim_sem_params(rq, &p, &given) != HR_DONE ||
	    cluster_admit(rq, &cluster_sem_type) != HR_DONE ||
	    object_get(rq, &cluster_sem_type, true, &o) != HR_DONE)
		return (HR_ERROR);
	h = hold_find(o, rq->sess);
	give = h == NULL ? 0 : units < h->count ? units : h->count;
	n = cluster_name_find(c, object_name(o), o->namelen);
	queued = n != NULL ? (json_int_t)n->nkeys : 0;
	/* A bounded one's units are all in its holders' keys or its value. */
	if (give > 0 && give < units && n != NULL && n->rec.bounded)
		return (rq_fail(rq, PSYNC_ERR_WOULD_EXCEED, "releasing %lld "
		    "units of bounded semaphore '%s' would exceed its initial "
		    "value %lld (value %lld, %lld held)", (long long)units,
		    QUOTED_OBJ(o), (long long)n->rec.initial,
		    (long long)cluster_sem_value_of(&n->rec, queued),
		    (long long)(n->rec.units - cluster_sem_value_of(&n->rec, queued))));
	if (give > 0) {
		/* First its own units: deleting their keys frees them. */
		cluster_hold_give(c, h, (uint32_t)give);
		h->count -= (uint32_t)give;
		if (h->count == 0)
			cluster_hold_free(rq->model, h, false);
		queued -= give;
	}
	if (give == units) {
		reply_int(rq_reply(rq), "value", n != NULL && n->rec.present ?
		    cluster_sem_value_of(&n->rec, queued) : 0);
		return (HR_DONE);
	}
	if (sem_begin(rq, &p, given, TIMEOUT_FOREVER, RC_SEM_SIGNAL,
	    &k) != HR_DONE)
		return (HR_ERROR);
	k->units = units - give;
	rcall_run(k);
	return (HR_PENDING);
}

enum hret
cluster_sem_value(struct request *rq)
{
	struct sem_params p;
	struct rcall	*k;
	bool		 given;

	if (prim_sem_params(rq, &p, &given) != HR_DONE ||
	    sem_begin(rq, &p, given, TIMEOUT_FOREVER, RC_SEM_VALUE,
	    &k) != HR_DONE)
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
	n = cluster_name_find(c, object_name(o), o->namelen);
	for (w = TAILQ_FIRST(&o->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, obj_entry);
		cw = CW(w);
		if (cw->rcall != NULL || cw->rev == 0 || cw->rev > c->revision)
			continue;
		if ((k = cluster_key_find(n, cw->rev, &pos)) == NULL ||
		    !n->rec.present) {
			cluster_wait_abandon(c, cw);
			wait_fail(m, w, PSYNC_ERR_UNAVAILABLE, "this request's "
			    "queue key left etcd before it was granted (its "
			    "session's lease expired?)");
			continue;
		}
		if (pos < n->rec.units && n->rec.owned) {
			ch = cluster_hold_add(o, w->sess, cw->key, (uint64_t)cw->rev, 0);
			ch->hold.count = ch->nkeys;
			cw->key = NULL;
			cluster_wait_unqueue(c, cw);
			wait_reply_init(w, &r);
			reply_bool(&r, "acquired", true);
			reply_int(&r, "value", cluster_sem_value_of(&n->rec,
			    (json_int_t)n->nkeys));
			wait_complete(m, w, &r);
		} else if (pos < n->rec.units) {
			if (n->rec.mod == cw->take_failed)
				continue;	/* the mirror is behind */
			call = rcall_new(c, cw, RC_SEM_TAKE, n->name,
			    n->namelen);
			rcall_run(call);
		} else if (cw->try) {
			cluster_wait_abandon(c, cw);
			wait_reply_init(w, &r);
			reply_bool(&r, "acquired", false);
			reply_int(&r, "value", cluster_sem_value_of(&n->rec,
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

	cluster_wait_abandon(m->cluster, CW(w));
	n = cluster_name_find(m->cluster, object_name(w->obj), w->obj->namelen);
	wait_reply_init(w, &r);
	reply_bool(&r, "acquired", false);
	reply_int(&r, "value", n != NULL ? cluster_sem_value_of(&n->rec,
	    (json_int_t)n->nkeys) : 0);
	wait_complete(m, w, &r);
}

static void
cluster_sem_wait_left(struct model *m, struct wait *w, enum wait_end why)
{
	(void)why;
	cluster_wait_abandon(m->cluster, CW(w));
}

static void
cluster_sem_describe_hold(const struct hold *h, json_t *out)
{
	json_object_set_new(out, "units", json_integer(h->count));
}

/* A wait on rq's cluster barrier for a call op. */
static enum hret
bar_begin(struct request *rq, double timeout, enum rcall_op op,
    struct rcall **out)
{
	struct object	*o;
	struct cwait	*cw;
	struct rcall	*k;
	json_int_t	 parties;
	bool		 given;

	if (prim_barrier_parties(rq, &parties, &given) != HR_DONE ||
	    cluster_admit(rq, &cluster_barrier_type) != HR_DONE ||
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

enum hret
cluster_barrier_wait(struct request *rq)
{
	struct rcall	*k;
	double		 timeout;

	if (rq_timeout(rq, &timeout) != HR_DONE ||
	    bar_begin(rq, timeout, RC_BAR_ARRIVE, &k) != HR_DONE)
		return (HR_ERROR);
	/* Its txn puts a leased key: it is sent once there is a lease. */
	cluster_wait_enqueue(rq->model->cluster, k->cw);
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

enum hret
cluster_barrier_abort(struct request *rq)
{
	return (cluster_barrier_call(rq, RC_BAR_BREAK, "aborted it"));
}

enum hret
cluster_barrier_reset(struct request *rq)
{
	return (cluster_barrier_call(rq, RC_BAR_RESET, "reset it"));
}

enum hret
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
	cluster_wait_abandon(c, cw);
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
		cluster_wait_abandon(c, cw);	/* its key goes: the round is over */
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
	n = cluster_name_find(c, object_name(o), o->namelen);
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
	bar_leave(c, n->name, RC_BAR_BREAK, n->rec.round, NULL, "a party "
	    "left: its etcd lease ended while it waited (its session "
	    "ended, or its psyncd or host is gone)");
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
	n = cluster_name_find(c, object_name(w->obj), w->obj->namelen);
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
		cluster_wait_abandon(m->cluster, cw);
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
	.hold_lost = cluster_hold_lost,
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


