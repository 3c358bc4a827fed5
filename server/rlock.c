/*
 * rlock.c -- rlock: like multiprocessing.RLock.
 *
 * The lock machine of lock.c with re-entry: the holder acquires again at
 * once (same token, depth + 1) and must release as many times.
 *
 * Layer 5, primitives.
 */
#include "lock.h"
#include "object.h"
#include "request.h"
#include "wait.h"

static enum hret
rlock_acquire(struct request *rq)
{
	return (lock_acquire_op(rq, &rlock_type));
}

static enum hret
rlock_release(struct request *rq)
{
	return (lock_release_op(rq, &rlock_type));
}

static const struct verb rlock_verbs[] = {
	{ PSYNC_OP_RLOCK_ACQUIRE, rlock_acquire },
	{ PSYNC_OP_RLOCK_RELEASE, rlock_release },
	{ 0, NULL }
};

const struct objtype rlock_type = {
	.name = "rlock",
	.article = "an",
	.kind = OBJ_RLOCK,
	.size = sizeof(struct lock),
	.verbs = rlock_verbs,
	.is_fresh = object_always_fresh,
	.pump = lock_pump,
	.hold_lost = lock_hold_lost,
	.timed_out = wait_timed_out_unacquired,
	.describe = lock_describe,
	.describe_hold = lock_describe_hold,
	.in_graph = true,
};
