/*
 * deadlock.c -- cycle detection in the wait-for graph.
 *
 * A breadth-first search from the sessions the new request would wait
 * for, following each session's pending in-graph waits, looking for the
 * requester.  Visit marks are generation numbers in the conns and waits,
 * so nothing is cleared between searches and nothing is allocated.
 */
#include <stdio.h>
#include <string.h>

#include "session.h"
#include "deadlock.h"
#include "object.h"
#include "request.h"
#include "model.h"
#include "wait.h"

struct search {
	uint64_t	 gen;
	struct session	*target;
	struct session	*head, *tail;
	struct session	*closer;	/* the session whose edge closes it */
	const struct object *closer_via;
	bool		 closer_queued;
};

static bool
conflicts(const struct object *o, uint8_t a, uint8_t b)
{
	return (o->type->compatible == NULL || !o->type->compatible(a, b));
}

/* Follow the edge parent -> x (via o); true when it reaches the target. */
static bool
visit(struct search *s, struct session *x, struct session *parent,
    const struct object *o, bool queued)
{
	if (x == s->target) {
		s->closer = parent;
		s->closer_via = o;
		s->closer_queued = queued;
		return (true);
	}
	if (x->graph_gen == s->gen)
		return (false);
	x->graph_gen = s->gen;
	x->graph_parent = parent;
	x->graph_via = o;
	x->graph_queued = queued;
	x->graph_next = NULL;
	if (s->tail != NULL)
		s->tail->graph_next = x;
	else
		s->head = x;
	s->tail = x;
	return (false);
}

/*
 * Edges of the wait w (whose session is from): its object's conflicting
 * holders and the conflicting waits ahead of it.  In a queue where all
 * modes conflict, a wait already walked has had everything ahead of it
 * walked too, so the walk stops there: each entry is walked once.
 */
static bool
expand(struct search *s, struct session *from, struct wait *w, uint8_t mode,
    struct object *o)
{
	struct hold	*h;
	struct wait	*a;

	TAILQ_FOREACH(h, &o->holders, obj_entry) {
		if (conflicts(o, h->mode, mode) &&
		    visit(s, h->sess, from, o, false))
			return (true);
	}
	a = w != NULL ? TAILQ_PREV(w, wait_list, obj_entry) :
	    TAILQ_LAST(&o->waiters, wait_list);
	for (; a != NULL; a = TAILQ_PREV(a, wait_list, obj_entry)) {
		if (a->graph_gen == s->gen && o->type->compatible == NULL)
			break;
		a->graph_gen = s->gen;
		if (conflicts(o, a->mode, mode) &&
		    visit(s, a->sess, from, o, true))
			return (true);
	}
	return (false);
}

static void
describe_cycle(struct search *s, const struct object *o, char *msg,
    size_t size)
{
	struct session	*path[16], *x;
	size_t		 n = 0, i, len;
	char		 a[48], b[48];
	const struct object *via;
	bool		 queued;

	len = (size_t)snprintf(msg, size, "waiting for '%s' would deadlock:",
	    QUOTED_OBJ(o));
	/* closer -> ... -> first blocker, walking parents back to target. */
	for (x = s->closer; x != s->target && x != NULL; x = x->graph_parent)
		if (n < sizeof(path) / sizeof(path[0]))
			path[n++] = x;
	/* Forward: target waits for path[n-1], ..., closer waits for target. */
	x = s->target;
	via = o;
	queued = n > 0 ? path[n - 1]->graph_queued : s->closer_queued;
	for (i = n; i > 0 && len < size; i--) {
		len += (size_t)snprintf(msg + len, size - len,
		    " %s waits for '%s' %s %s,", session_who(x, a, sizeof(a)),
		    QUOTED_OBJ(via), queued ? "queued behind" : "held by",
		    session_who(path[i - 1], b, sizeof(b)));
		x = path[i - 1];
		if (i > 1) {
			via = path[i - 2]->graph_via;
			queued = path[i - 2]->graph_queued;
		}
	}
	if (len < size)
		snprintf(msg + len, size - len, " %s waits for '%s' %s %s",
		    session_who(x, a, sizeof(a)), QUOTED_OBJ(s->closer_via),
		    s->closer_queued ? "queued behind" : "held by",
		    session_who(s->target, b, sizeof(b)));
}

int
deadlock_check(struct model *m, struct session *c, struct object *o,
    uint8_t mode, char *msg, size_t size)
{
	struct search	 s;
	struct session	*x;
	struct wait	*w;

	memset(&s, 0, sizeof(s));
	s.gen = ++m->graph_gen;
	s.target = c;
	c->graph_gen = s.gen;
	if (expand(&s, c, NULL, mode, o))
		goto found;
	while ((x = s.head) != NULL) {
		s.head = x->graph_next;
		if (s.head == NULL)
			s.tail = NULL;
		TAILQ_FOREACH(w, &x->waits, sess_entry) {
			if (w->obj->type->in_graph &&
			    expand(&s, x, w, w->mode, w->obj))
				goto found;
		}
	}
	return (0);
found:
	if (s.closer == c) {

		snprintf(msg, size, "session %llu already %s '%s'",
		    (unsigned long long)c->id,
		    s.closer_queued ? "waits for" : "holds",
		    QUOTED_OBJ(o));
	} else
		describe_cycle(&s, o, msg, size);
	return (1);
}
