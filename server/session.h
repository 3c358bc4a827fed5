/*
 * session.h -- one client's session: who it is, what it holds, what it
 * waits for, and where its replies go.
 *
 * Layer 3, model: includes object.h and util.  The model (object.c,
 * wait.c, deadlock.c, the primitives) knows a client only as a struct
 * session; how replies travel is the owner's business, through the two
 * callbacks.  conn.c embeds one per connection; the model's unit tests
 * use a fake that collects replies, with no socket.
 */
#ifndef PSYNCD_SESSION_H
#define PSYNCD_SESSION_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "model.h"
#include "object.h"
#include "wait.h"

struct cluster_session;
struct model;
struct reply;
struct session;

struct session_ops {
	/*
	 * Queue reply (borrowed; encoded before this returns) to the
	 * client.  first: a grant, to reach its waiter before the other
	 * replies of this turn.
	 */
	void	(*send)(struct session *, const struct reply *reply,
		    bool first);
	/*
	 * Tie the session to its connecting process's life (process true)
	 * or only to the transport's.  Returns 0, or -1 with errno.
	 */
	int	(*set_lifetime)(struct session *, bool process);
	/* True while the session is tied to its process's life. */
	bool	(*process_lifetime)(const struct session *);
};

struct session {
	const struct session_ops *ops;
	struct model		*model;
	uint64_t		 id;		/* unique for the daemon's life */
	pid_t			 pid;		/* SO_PEERCRED */
	uid_t			 uid;
	gid_t			 gid;
	char			*client;	/* hello name, owned; or NULL */
	struct wait_list	 waits;		/* pending, in arrival order */
	struct hold_list	 holds;
	struct temp_list	 temps;		/* temporary objects it made */
	uint32_t		 npending;
	bool			 ended;		/* session_lost has run */
	bool			 notices;	/* hello notices: sent unasked */
	struct cluster_session	*cluster;	/* its lease; cluster.c's */
	uint64_t		 graph_gen;	/* deadlock search marks */
	struct session		*graph_next;
	struct session		*graph_parent;
	const struct object	*graph_via;
	bool			 graph_queued;
	TAILQ_ENTRY(session)	 entry;		/* the model's sessions */
};

/*
 * Start s (caller's memory) as a new session of m for a client with
 * these credentials, replying through ops (borrowed, static).
 */
void		 session_open(struct model *m, struct session *s,
		    const struct session_ops *ops, pid_t pid, uid_t uid,
		    gid_t gid);

/*
 * The session is over: its pending waits end without a reply, its holds
 * are released and its temporary objects deleted; the next waiters are
 * granted before this returns.  s is left closed (unlinked from its
 * model, client name freed) for the caller to free.  Idempotent.
 */
void		 session_lost(struct session *s);

/* End every pending wait of s for why. */
void		 session_fail_waits(struct session *s, enum wait_end why);

/* Send reply (borrowed) to s's client. */
void		 session_send(struct session *s, const struct reply *reply,
		    bool first);

/* Set s's hello name to name[0..len) (copied). */
void		 session_set_client(struct session *s, const char *name,
		    size_t len);

/* "session 3 (pid 4242)": who s is, for messages, in buf. */
const char	*session_who(const struct session *s, char *buf, size_t size);

/* {session, pid, uid, client} of s, a new object. */
json_t		*session_describe(const struct session *s);

/*
 * What s's end releases, for the debug log: its holds (the first few by
 * name) and how many pending requests it drops, in buf.
 */
void		 session_summarize(const struct session *s, char *buf,
		    size_t size);

#endif
