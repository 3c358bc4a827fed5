/*
 * pidwatch.h -- the processes that connected, watched through pidfds.
 *
 * A session lives until its connecting process exits or its connection
 * closes, whichever comes first: a forked child that inherited the socket
 * must not keep a dead parent's locks.  Each connecting process (the
 * SO_PEERCRED pid) gets one pidfd, shared by all of its connections, as
 * one more event in the loop; when it becomes readable the process has
 * exited and every member is told.  This module knows nothing of
 * connections: a member is embedded in whatever the caller watches for.
 *
 * Layer 0, util: libevent only.
 */
#ifndef PSYNCD_PIDWATCH_H
#define PSYNCD_PIDWATCH_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdbool.h>

struct event_base;
struct pidwatch;
struct pidwatch_member;

/* Called once per member when its process has exited; it is detached. */
typedef void	(*pidwatch_exit_fn)(struct pidwatch_member *);

struct pidwatch_member {
	TAILQ_ENTRY(pidwatch_member)	 entry;
	struct pidwatch			*watch;	/* NULL: not watched */
};

TAILQ_HEAD(pidwatch_list, pidwatch);

struct pidtab {
	struct event_base	*base;
	pidwatch_exit_fn	 exited;
	struct pidwatch_list	 watches;	/* one per live pid */
	unsigned		 nwatches;
	bool			 unsupported;	/* no pidfd_open(2) here */
};

/* Initialise an empty table calling exited on base's loop. */
void	pidtab_init(struct pidtab *, struct event_base *, pidwatch_exit_fn);

/*
 * Watch process pid for m (not watched yet).  Returns 0 when m is
 * watched; also 0, with m left unwatched, when pid is not a usable pid
 * (0: the peer is in another pid namespace) or pidfd_open(2) does not
 * exist here (logged once).  Returns 1 if the process has already exited
 * (m unwatched: the caller ends its session), -1 with errno on failure
 * (EMFILE, ENOMEM: the caller cannot keep the promise and refuses).
 */
int	pidwatch_attach(struct pidtab *, struct pidwatch_member *m, pid_t pid);

/* Stop watching for m (a no-op if it is not watched). */
void	pidwatch_detach(struct pidtab *, struct pidwatch_member *m);

/* True if m is watched. */
bool	pidwatch_attached(const struct pidwatch_member *m);

/* Free every watch (daemon exit); members are left unwatched. */
void	pidtab_free(struct pidtab *);

#endif
