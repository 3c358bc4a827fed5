/*
 * model.h -- the model's context: every object, the settle list, the
 * fencing tokens, the sessions, and the limits the model enforces.
 *
 * Layer 2, model context: includes objtab, token, request and util.
 * One per daemon, embedded in struct server; the model's unit tests make
 * their own with no server and no socket.  Everything below the
 * transport reaches the daemon's state through this and nothing else.
 */
#ifndef PSYNCD_MODEL_H
#define PSYNCD_MODEL_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "objtab.h"
#include "psync_proto.h"
#include "request.h"
#include "token.h"

struct cluster;
struct event_base;
struct object;
struct session;

TAILQ_HEAD(session_list, session);

/* The primitives, in the order stat lists them. */
enum obj_kind {
	OBJ_LOCK,
	OBJ_RLOCK,
	OBJ_RWLOCK,
	OBJ_EVENT,
	OBJ_COND,
	OBJ_SEM,
	OBJ_BARRIER,
	OBJ_COUNTER,
	OBJ__COUNT
};

struct model {
	struct event_base	*base;		/* deadlines, the clock */
	struct objtab		 objects;
	size_t			 per_kind[OBJ__COUNT];
	struct object		*dirty;		/* settle list */
	struct tokens		 tokens;
	struct session_list	 sessions;
	uint64_t		 next_session;
	uint64_t		 graph_gen;	/* deadlock search generation */
	uint64_t		 ops;		/* requests served */
	handler_fn		 handlers[PSYNC_OP__COUNT];	/* dispatch_init */

	/* Limits (--max-objects, --max-pending) and the timer pad. */
	size_t			 max_objects;
	unsigned		 max_pending;
	double			 timer_slack;	/* added to every deadline */

	/* The cluster backend (cluster.c), or NULL without --cluster. */
	struct cluster		*cluster;
	/* A session's end, after its waits and holds went; NULL: none. */
	void			(*session_ending)(struct session *);

	/*
	 * stat's fields that only the owner knows (connections, buffered
	 * input, transport limits), added to out; NULL: none.
	 */
	void			(*describe_owner)(const struct model *,
				    json_t *out);
};

/*
 * Initialise m on base (borrowed): an empty table with a fresh hash key,
 * tokens continued from state_file (NULL: from 1), the default limits.
 * The owner fills the handler table (dispatch_init).  Returns 0, or -1
 * with a message in cause (size bytes).
 */
int		 model_init(struct model *m, struct event_base *base,
		    const char *state_file, char *cause, size_t size);

/*
 * Now in microseconds, the loop's cached clock: a syscall-free stamp for
 * how long holds and waits have lasted (info's held_for, waiting_for).
 */
int64_t		 model_now_us(const struct model *m);

/* Seconds from stamp since to now, for replies; never negative. */
double		 model_age(const struct model *m, int64_t since);

#endif
