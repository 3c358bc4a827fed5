/*
 * dispatch.c -- op name -> handler, built from each primitive's verbs.
 *
 * Adding a primitive is adding its file, its ops in proto/psync_proto.h
 * and its line below.
 */
#include "object.h"
#include "psync_proto.h"

const struct objtype *const objtypes[OBJ__COUNT] = {
	[OBJ_LOCK] = &lock_type,
	[OBJ_RLOCK] = &rlock_type,
	[OBJ_RWLOCK] = &rwlock_type,
	[OBJ_EVENT] = &event_type,
	[OBJ_COND] = &cond_type,
	[OBJ_SEM] = &sem_type,
	[OBJ_BARRIER] = &barrier_type,
	[OBJ_COUNTER] = &counter_type,
};

static void
dispatch_add(handler_fn handlers[], const struct verb *v)
{
	for (; v->handler != NULL; v++)
		handlers[v->op] = v->handler;
}

void
dispatch_init(handler_fn handlers[])
{
	int	k;

	dispatch_add(handlers, admin_verbs);
	for (k = 0; k < OBJ__COUNT; k++)
		dispatch_add(handlers, objtypes[k]->verbs);
}
