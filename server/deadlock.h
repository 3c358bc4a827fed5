/*
 * deadlock.h -- cycle detection in the wait-for graph.
 *
 * Layer 3, model: includes object, session, util.
 */
#ifndef PSYNCD_DEADLOCK_H
#define PSYNCD_DEADLOCK_H

#include <stddef.h>
#include <stdint.h>

struct session;
struct object;
struct model;

/*
 * Would a blocking request of session c for o in mode close a cycle in the
 * wait-for graph?  A waiter waits for every conflicting holder of its
 * object and every conflicting waiter queued ahead of it; the new request
 * would queue at the tail.  Returns 1 with the cycle named in msg (size
 * bytes), or 0.  The search visits only what the request would wait for,
 * each queue entry once: its cost follows the waits, not the table.
 */
int	deadlock_check(struct model *, struct session *c, struct object *o,
	    uint8_t mode, char *msg, size_t size);

#endif
