/*
 * wait.h -- the pending request, shared by every primitive.
 *
 * A blocking request that cannot complete at once becomes a struct wait:
 * it sits in its object's FIFO and its session's pending list, with an
 * optional deadline timer.  Every way it can end goes through one function
 * in wait.c, which unlinks it, stops the timer, sends its one reply (none
 * if the session is over) and frees it.
 *
 * Layer 3, model: includes proto/ and util.
 */
#ifndef PSYNCD_WAIT_H
#define PSYNCD_WAIT_H

#include <sys/queue.h>

#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <jansson.h>

#include "psync_proto.h"

struct session;
struct object;
struct reply;
struct request;
struct model;

/*
 * How a wait ends without being granted or timing out (a deadline is the
 * type's own timed_out hook: each type answers it in its own words).
 */
enum wait_end {
	WAIT_CANCELLED,		/* by a cancel request: "cancelled" */
	WAIT_SESSION_LOST,	/* its session is over: no reply */
	WAIT_DELETED,		/* its object was force-deleted: "deleted" */
	WAIT_LOCK_DELETED,	/* a cond.wait's lock was: "deleted" too */
	WAIT_SHUTDOWN		/* the daemon stops: "shutting_down" */
};

struct wait {
	TAILQ_ENTRY(wait)	 obj_entry;
	TAILQ_ENTRY(wait)	 sess_entry;
	struct object		*obj;		/* whose queue holds it */
	struct session		*sess;
	json_t			*id;		/* owned; NULL without an id */
	struct event		 timer;		/* deadline, if armed */
	uint64_t		 graph_gen;	/* deadlock search visit mark */
	int64_t			 since;		/* queued at, model_now_us() */
	/*
	 * The mode asked (an rwlock's read or write; 0 elsewhere): the
	 * deadlock search compares waiters' modes, so it is not private.
	 */
	uint8_t			 mode;
	uint8_t			 flags;
#define WAIT_TIMER	0x1			/* timer is armed */
	/*
	 * A wait that another type moved into a lock's queue (cond.wait
	 * taking its lock back) says how the lock grants it; NULL for the
	 * lock's own acquirers.
	 */
	const struct regrant	*regrant;
	/* A type's private wait state follows (wait_new's size). */
};

struct regrant {
	/* The depth to grant w at (an rlock's, as it was released). */
	uint32_t	(*depth)(const struct wait *w);
	/* Fill w's reply once it holds the lock again, under token. */
	void		(*reply)(const struct wait *w, uint64_t token,
			    struct reply *r);
	/* What w is told if the lock is deleted first, in msg. */
	void		(*deleted)(const struct wait *w, char *msg,
			    size_t size);
};

/* Timeout meaning "wait forever". */
#define TIMEOUT_FOREVER	(-1.0)

/*
 * Queue the request at the tail of o's waiters and on its session,
 * arming a timer unless timeout is TIMEOUT_FOREVER.  The wait takes a
 * reference to the request's id.  size (at least sizeof(struct wait))
 * makes room for the type's private state after it, zeroed.  Returns
 * the new wait (owned by the wait module until it ends).
 */
struct wait	*wait_new(struct request *rq, struct object *o, double timeout,
		    uint8_t mode, size_t size);

/* Start r as w's reply {id, ok: true}, for the caller to fill. */
void		 wait_reply_init(const struct wait *w, struct reply *r);

/*
 * Complete w with its success reply r (acquired or not; cleared once
 * sent) and free w.
 */
void		 wait_complete(struct model *, struct wait *w,
		    struct reply *r);

/* End w for why: the type's wait_left hook, then the error reply. */
void		 wait_end(struct model *, struct wait *w, enum wait_end why);

/* timed_out hook of the lock types: complete w with {acquired: false}. */
void		 wait_timed_out_unacquired(struct model *, struct wait *w);

/* End w with an error reply, without hooks (a barrier breaking). */
void		 wait_fail(struct model *, struct wait *w, enum psync_err err,
		    const char *msg);

/*
 * Move w to the tail of o's queue and stop its timer (a cond.wait going
 * from its condition to its lock's queue).
 */
void		 wait_move(struct model *, struct wait *w, struct object *o);

/* True if the two ids are equal (cancel matches targets with this). */
int		 wait_id_equal(const json_t *a, const json_t *b);

#endif
