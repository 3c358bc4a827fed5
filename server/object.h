/*
 * object.h -- named objects, holds, and the interface every primitive
 * implements.
 *
 * Layer 3, model: includes model.h, wait.h, objtab and util.  An object
 * is a header (struct object) followed by its type's private state, then
 * its name, in one allocation.  Each primitive (lock.c, event.c, ...)
 * exports one const struct objtype; the generic code here, in wait.c and
 * in session.c drives every type through it.
 */
#ifndef PSYNCD_OBJECT_H
#define PSYNCD_OBJECT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "model.h"
#include "objtab.h"
#include "wait.h"

struct reply;
struct request;
struct session;

/*
 * One session's hold on an object: a lock's ownership, an rlock with its
 * depth, an rwlock hold with its mode, a session's semaphore units.
 * Linked both into the object's holders and the session's holds, so a
 * session's end releases everything in O(what it holds).
 * Who allocates it is the type's business (a lock embeds its one hold).
 */
struct hold {
	TAILQ_ENTRY(hold)	 obj_entry;
	TAILQ_ENTRY(hold)	 sess_entry;
	struct object		*obj;
	struct session		*sess;		/* NULL once unlinked */
	uint64_t		 token;		/* fencing token of the grant */
	int64_t			 since;		/* granted at, model_now_us() */
	uint32_t		 count;		/* type-specific: depth, units */
	uint8_t			 mode;		/* type-specific: rwlock mode */
};

TAILQ_HEAD(hold_list, hold);
TAILQ_HEAD(wait_list, wait);

/*
 * A temporary object's tie to the session that created it: on that
 * session's end the object is deleted, as by delete with force.  Linked
 * into the creator's list; the object points back, so that an object
 * that goes first (deleted, or back in its fresh state) unties itself.
 */
struct temp_ref {
	TAILQ_ENTRY(temp_ref)	 entry;		/* the creator's temps */
	struct object		*obj;
	struct session		*sess;
};

TAILQ_HEAD(temp_list, temp_ref);

struct object {
	struct objtab_link	 link;		/* name table; key = the name */
	const struct objtype	*type;
	struct object		*dirty_next;	/* on the model's settle list */
	struct wait_list	 waiters;	/* FIFO */
	struct hold_list	 holders;
	uint32_t		 nwaiters;
	uint32_t		 nholders;
	uint32_t		 pins;		/* references that keep it alive */
	struct temp_ref		*temp;		/* temporary: its tie, or NULL */
	uint8_t			 flags;
#define OBJ_DIRTY	0x1			/* on the settle list */
	uint8_t			 namelen;
};

/* The object's name: NUL-terminated, namelen bytes, after its state. */
#define object_name(o)	((const char *)(o) + (o)->type->size)

/* The object whose table link is l. */
#define object_of(l)	((struct object *)(void *)(l))

/*
 * What a primitive provides.  Handlers are listed by op; the hooks below
 * are called by the generic code.  A NULL hook means "nothing to do".
 */
struct verb {
	int			 op;		/* enum psync_op */
	handler_fn		 handler;
};

struct objtype {
	const char		*name;		/* "lock": the type in replies */
	const char		*article;	/* "a" or "an", for messages */
	enum obj_kind		 kind;
	size_t			 size;		/* sizeof the type's struct */
	const struct verb	*verbs;		/* terminated by handler NULL */

	/*
	 * True if the object, holders and waiters aside, is in its fresh
	 * state (free, clear, zero): it then vanishes.  NULL for the
	 * parameterised types, which live until deleted.
	 */
	bool		(*is_fresh)(const struct object *);

	/* Grant what the queue's head allows now.  Called from settle. */
	void		(*pump)(struct model *, struct object *);

	/* h's session is gone: release h (with hold_unlink). */
	void		(*hold_lost)(struct model *, struct object *,
			    struct hold *);

	/* w leaves without being granted, for why. */
	void		(*wait_left)(struct model *, struct wait *,
			    enum wait_end why);

	/* w's timeout expired: end it.  Required of a type that waits. */
	void		(*timed_out)(struct model *, struct wait *);

	/*
	 * The object w keeps alive besides its own (a cond.wait's lock),
	 * or NULL.  Deleting that object ends w too.
	 */
	struct object	*(*pinned)(const struct wait *);

	/*
	 * What w is told when its object (or, pinned true, the object it
	 * pins) is deleted, in msg; NULL: "<type> '<name>' was deleted".
	 */
	void		(*wait_deleted)(const struct wait *, bool pinned,
			    char *msg, size_t size);

	/* Add type state to an info/list entry; per-hold fields to h's. */
	void		(*describe)(const struct object *, json_t *out);
	void		(*describe_hold)(const struct hold *, json_t *out);
	void		(*describe_wait)(const struct wait *, json_t *out);

	/*
	 * Wait-for graph: in_graph types' waiters wait for the holders and
	 * the waiters queued ahead; compatible(a, b) (NULL: never) says two
	 * modes can be granted together, so b does not wait for a.
	 */
	bool			 in_graph;
	bool		(*compatible)(uint8_t a, uint8_t b);

	/* Free what the type allocated beside the object (not the object). */
	void		(*destroy)(struct object *);
};

/* object.c */

/*
 * Resolve the request's "name" field to an object of type t.
 * Missing "name" or not a string: bad_request; invalid: bad_name; held by
 * another type: type_mismatch.  If the object is missing and create is
 * true, create it (limit at --max-objects); else *out = NULL.
 * HR_DONE, or HR_ERROR with the request failed (rq_fail).
 */
enum hret	 object_get(struct request *rq, const struct objtype *t,
		    bool create, struct object **out);

/*
 * Create a missing object of type t named by the request (the caller
 * checked it is missing).  Returns it, or NULL with the request failed
 * (limit, internal).  The parameterised types use this once they have
 * checked their parameters.
 */
struct object	*object_create(struct request *rq, const struct objtype *t);

/* Look up name[0..len) in any type; NULL if missing.  Reads only. */
struct object	*object_find(struct model *, const char *name, size_t len);

/* Mark o for settling: its queue is pumped and, if fresh, it vanishes. */
void		 object_touch(struct model *, struct object *);

/* Settle every touched object; called once per event, at top level. */
void		 object_settle_all(struct model *);

/* True if o is back in its fresh state with no holder, waiter or pin. */
bool		 object_is_fresh(const struct object *);

/* Remove o from the table and free it; it must have no holder or waiter. */
void		 object_destroy(struct model *, struct object *);

/*
 * Free every object, their pending waits ended with shutting_down first
 * (daemon exit; the sessions are lost already).
 */
void		 object_free_all(struct model *);

/*
 * Delete o whatever its state, as delete with force does: the cond.waits
 * that would take it back and its waiters get "deleted", its holders no
 * longer hold it, and it is destroyed.
 */
void		 object_delete(struct model *, struct object *);

/* Delete every temporary object s created (its session is ending). */
void		 object_delete_temps(struct model *, struct session *s);

/* The object w pins (its type's pinned hook), or NULL. */
struct object	*object_pinned_by(const struct wait *w);

/* s's hold on o, or NULL. */
struct hold	*hold_find(struct object *o, struct session *s);

/*
 * is_fresh for types whose only state is their holders and waiters:
 * unheld and unwaited, they are fresh.
 */
bool		 object_always_fresh(const struct object *o);

/* Link h (its token already set) as s's hold on o. */
void		 hold_link(struct hold *h, struct object *o, struct session *s);

/* Unlink h from its object and session, and touch the object. */
void		 hold_unlink(struct model *, struct hold *h);

/* Describe o for info (full = holders and waiters listed) or list. */
json_t		*object_describe(struct model *, const struct object *o,
		    bool full);

/* The primitives, one file each. */
extern const struct objtype lock_type;		/* lock.c */
extern const struct objtype rlock_type;		/* rlock.c */
extern const struct objtype rwlock_type;	/* rwlock.c */
extern const struct objtype event_type;		/* event.c */
extern const struct objtype cond_type;		/* cond.c */
extern const struct objtype sem_type;		/* sem.c */
extern const struct objtype barrier_type;	/* barrier.c */
extern const struct objtype counter_type;	/* counter.c */

/* Pending-request limit check shared by every blocking op: HR_DONE or HR_ERROR. */
enum hret	 object_check_pending(struct request *rq,
		    const struct objtype *t);

#endif
