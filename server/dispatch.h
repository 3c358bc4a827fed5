/*
 * dispatch.h -- a request line in, its reply out through the session.
 *
 * Layer 6, dispatch: includes the model, request and the primitives'
 * tables.  The one entry from the transport into the model.
 */
#ifndef PSYNCD_DISPATCH_H
#define PSYNCD_DISPATCH_H

#include <stddef.h>

#include "model.h"
#include "object.h"

struct session;

/* Every primitive, indexed by kind. */
extern const struct objtype *const objtypes[OBJ__COUNT];

/* admin.c: the server ops' verbs. */
extern const struct verb admin_verbs[];

/* Fill the op -> handler table from every verb list. */
void	dispatch_init(handler_fn handlers[]);

/*
 * Parse and run one request line of s (len bytes, no terminator): its
 * reply, if it is answered now, goes out through s before this returns,
 * and every object it touched is settled.
 */
void	dispatch_line(struct model *m, struct session *s, const char *line,
	    size_t len);

#endif
