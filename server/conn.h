/*
 * conn.h -- one client connection: bytes <-> lines, replies, death.
 *
 * Layer 7, transport: includes dispatch, session, pidwatch and util.
 * conn.c knows framing and the socket; it hands each line to
 * dispatch_line and knows no op.  Each connection owns one session;
 * conn_lost() ends it (session_lost) and closes the socket.
 */
#ifndef PSYNCD_CONN_H
#define PSYNCD_CONN_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <jansson.h>

#include "log.h"
#include "pidwatch.h"
#include "reply.h"
#include "session.h"

struct evbuffer;
struct model;

struct conn {
	struct conn_set		*set;		/* the set it belongs to */
	int			 fd;		/* the socket, owned */
	struct evbuffer		*in;		/* bytes of unfinished lines */
	struct evbuffer		*out;		/* replies not yet written */
	struct event		 rev;		/* readable */
	struct event		 wev;		/* writable: only while out backs up */
	struct session		 sess;		/* the client's session */
	struct pidwatch_member	 watch;		/* on sess.pid's exit, EOF */
	uint32_t		 flags;
#define CONN_DOOMED	0x1	/* to be closed by the reaper, no flush */
#define CONN_CLOSING	0x2	/* released; flushing replies, then freed */
#define CONN_FLUSH	0x4	/* on the server's flush list */
	TAILQ_ENTRY(conn)	 entry;		/* server's connections */
	TAILQ_ENTRY(conn)	 doomed_entry;
	TAILQ_ENTRY(conn)	 flush_entry;
};

TAILQ_HEAD(conn_list, conn);

/*
 * Every connection of one daemon, and what they share: the loop, the
 * model their sessions live in, the pid watches, the write and close
 * queues run at the top of each loop turn, the input budget.
 */
struct conn_set {
	struct event_base	*base;		/* borrowed */
	struct model		*model;		/* borrowed */
	struct pidtab		 pids;		/* connecting processes */
	struct conn_list	 all;
	struct conn_list	 doomed;	/* closed by the reaper */
	struct conn_list	 flushq;	/* replies to write this turn */
	struct event		*reaper;
	struct event		*flusher;
	unsigned		 n;		/* connections in all */
	size_t			 input_total;	/* buffered input, all conns */
	struct log_limit	 cutoffs;	/* clients cut off by a cap */
	size_t			 max_line;	/* --max-line */
	size_t			 max_output;	/* --max-output */
	size_t			 max_input_total; /* --max-input-total */
	bool			 stopping;	/* run no more requests */
	/* A connection has been freed (NULL: nothing to do). */
	void			(*gone)(struct conn_set *);
};

/*
 * Initialise set on base for sessions in model (both borrowed), with no
 * connection.  The caller sets the limits.  Returns 0, or -1 if its
 * events cannot be made.
 */
int		 conn_set_init(struct conn_set *, struct event_base *base,
		    struct model *model);

/* Close every connection at once, whatever its state; free the set. */
void		 conn_set_free(struct conn_set *);

/*
 * Make a connection of fd, a non-blocking stream socket whose peer
 * credentials are pid/uid/gid.  The connection owns fd from now on
 * (closed with it).  Its session is not yet tied to pid (see
 * conn_watch_pid: the unit tests' peers have made-up pids).  Returns
 * NULL (fd closed) if its buffers or events cannot be made.
 */
struct conn	*conn_new(struct conn_set *, int fd, pid_t pid, uid_t uid,
		    gid_t gid);

/*
 * conn_new for an accepted socket, its session tied to pid's life; a pid
 * that cannot be watched is refused with a limit error.  Returns the
 * connection, or NULL (fd closed, or the refusal under way).
 */
struct conn	*conn_accept(struct conn_set *, int fd, pid_t pid, uid_t uid,
		    gid_t gid);

/*
 * Close c soon, from the top of the event loop: for failures found while
 * another connection's request is running (output cap), where freeing c
 * at once could pull memory from under the caller.
 */
void		 conn_doom(struct conn *);

/*
 * The connection is gone: end its session (session_lost: waits dropped,
 * holds released, the next waiters granted before this returns), and
 * close it, after its queued replies are flushed if flush is true.
 */
void		 conn_lost(struct conn *, bool flush);


/*
 * Tie c's session to the life of its connecting process (the default for
 * a socket): when it exits, the connection's input ends as at EOF.  on
 * false: the session lasts as long as the connection (hello lifetime
 * "connection").  Returns 0, or -1 with errno if it cannot be watched.
 */
int		 conn_watch_pid(struct conn *, bool on);

#endif
