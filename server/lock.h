/*
 * lock.h -- what lock.c shares with rlock.c.
 *
 * A lock and an rlock are the same machine, an object with at most one
 * owning connection and a FIFO of acquirers; an rlock also counts
 * re-entries.  lock.c implements it once; rlock.c names the rlock ops.
 *
 * Layer 5, primitives: includes prim, object and below.
 */
#ifndef PSYNCD_LOCK_H
#define PSYNCD_LOCK_H

#include <stdbool.h>

#include <jansson.h>

#include "object.h"

struct request;
struct model;
struct wait;

struct lock {
	struct object	obj;
	struct hold	hold;		/* linked while held */
};

enum hret	lock_acquire_op(struct request *, const struct objtype *);
enum hret	lock_release_op(struct request *, const struct objtype *);
void	lock_pump(struct model *, struct object *);
void	lock_hold_lost(struct model *, struct object *, struct hold *);
void	lock_describe(const struct object *, json_t *);
void	lock_describe_hold(const struct hold *, json_t *);

#endif
