/*
 * prim.h -- what the blocking primitives share: the acquire skeleton.
 *
 * Layer 4, prim: includes object, wait, deadlock, request.  Each primitive
 * describes its acquire by a struct acquire and calls prim_acquire();
 * the order of the steps, and so the contract's answers, is one.
 */
#ifndef PSYNCD_PRIM_H
#define PSYNCD_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct object;
struct objtype;
struct reply;
struct request;

struct acquire {
	/* Could rq's session have o in mode now (queue aside)? */
	bool	(*can_grant)(const struct object *o, uint8_t mode);
	/* Give it to rq's session and fill the success reply. */
	void	(*grant)(struct request *rq, struct object *o, uint8_t mode,
		    struct reply *r);
	/* Fill the reply of a try that could not have it at once. */
	void	(*not_acquired)(const struct object *o, struct reply *r);
	/* A lock type: refuse a wait that would close a wait-for cycle. */
	bool	 deadlock_checked;
};

/*
 * Acquire o for rq in mode, as every blocking type does: granted at once
 * if nobody queues before it and the type allows (HR_DONE); a try
 * (timeout 0) that cannot is answered at once (HR_DONE); a wait that
 * would deadlock, or one over the session's pending limit, is refused
 * (HR_ERROR); otherwise rq waits in o's FIFO, timeout seconds at most
 * (HR_PENDING).
 */
enum hret	prim_acquire(struct request *rq, struct object *o, uint8_t mode,
	    double timeout, const struct acquire *a);

/*
 * A type made by its parameters (semaphore: value, bounded, owned;
 * barrier: parties), read from the request by the type into its own
 * struct, which prim_open passes back as params.
 */
struct params {
	const char	*create_with;	/* what to give: "\"value\"" */
	/* Does o have these parameters? */
	bool	(*match)(const struct object *o, const void *params);
	/* o's parameters, or the request's (o NULL), as text in buf. */
	void	(*say)(const struct object *o, const void *params, char *buf,
		    size_t size);
	/* Set a new object's parameters. */
	void	(*apply)(struct object *o, const void *params);
};

/*
 * Open rq's object of type t: the existing one, whose parameters must
 * match the request's if it gives any (param_mismatch), or a new one
 * made with them (not_found without them).  given says whether the
 * request carries parameters.  HR_DONE with *out set, or HR_ERROR.
 */
enum hret	prim_open(struct request *rq, const struct objtype *t,
		    bool given, const void *params, const struct params *p,
		    struct object **out);

/*
 * The parameters' readers, one for the local types and the cluster's
 * (which keep them in etcd): each reads its fields with the contract's
 * defaults and bounds, or fails rq (HR_ERROR) naming what is wrong.
 */

/* Values stay far from overflow whatever is released. */
#define SEM_VALUE_MAX		((json_int_t)1 << 53)
#define BARRIER_PARTIES_MAX	1000000

/* A semaphore's parameters, as a request gives them. */
struct sem_params {
	json_int_t	 value;		/* the initial value */
	bool		 bounded, owned;
};

/* "value" (0 to 2^53), "bounded", "owned"; *given: "value" is there. */
enum hret	prim_sem_params(struct request *rq, struct sem_params *p,
		    bool *given);

/* p as messages show it: "value 3, bounded false, owned true". */
void		prim_sem_say(const struct sem_params *p, char *buf,
		    size_t size);

/* sem.release's "n" (default 1, 1 to 2^53). */
enum hret	prim_sem_units(struct request *rq, json_int_t *n);

/* "parties" (1 to BARRIER_PARTIES_MAX); *given: it is there. */
enum hret	prim_barrier_parties(struct request *rq, json_int_t *parties,
		    bool *given);

/* cond.notify's "n" (default 1, not negative). */
enum hret	prim_notify_n(struct request *rq, json_int_t *n);

/* Fail rq: its session does not hold its object, of type t. */
enum hret	prim_not_owner(struct request *rq, const struct objtype *t);

/* The plain not_acquired: {acquired: false} (the lock types'). */
void	prim_not_acquired(const struct object *o, struct reply *r);

#endif
