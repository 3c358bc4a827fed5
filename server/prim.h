/*
 * prim.h -- what the blocking primitives share: the acquire skeleton.
 *
 * Layer: prim (uses object, wait, deadlock, request).  Each primitive
 * describes its acquire by a struct acquire and calls prim_acquire();
 * the order of the steps, and so the contract's answers, is one.
 */
#ifndef PSYNCD_PRIM_H
#define PSYNCD_PRIM_H

#include <stdbool.h>
#include <stdint.h>

struct object;
struct reply;
struct request;

struct acquire {
	/* Could rq's connection have o in mode now (queue aside)? */
	bool	(*can_grant)(const struct object *o, uint8_t mode);
	/* Give it to rq's connection and fill the success reply. */
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
 * would deadlock, or one over the connection's pending limit, is refused
 * (HR_ERROR); otherwise rq waits in o's FIFO, timeout seconds at most
 * (HR_PENDING).
 */
enum hret	prim_acquire(struct request *rq, struct object *o, uint8_t mode,
	    double timeout, const struct acquire *a);

/* The plain not_acquired: {acquired: false} (the lock types'). */
void	prim_not_acquired(const struct object *o, struct reply *r);

#endif
