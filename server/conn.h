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

#include "pidwatch.h"
#include "reply.h"
#include "session.h"

struct evbuffer;
struct server;

struct conn {
	struct server		*srv;
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
 * Make a connection of fd, a non-blocking stream socket whose peer
 * credentials are pid/uid/gid.  The connection owns fd from now on
 * (closed with it).  Its session is not yet tied to pid (see
 * conn_watch_pid: the unit tests' peers have made-up pids).  Returns
 * NULL (fd closed) if its buffers or events cannot be made.
 */
struct conn	*conn_new(struct server *, int fd, pid_t pid, uid_t uid,
		    gid_t gid);

/*
 * conn_new for an accepted socket, its session tied to pid's life; a pid
 * that cannot be watched is refused with a limit error.  Returns the
 * connection, or NULL (fd closed, or the refusal under way).
 */
struct conn	*conn_accept(struct server *, int fd, pid_t pid, uid_t uid,
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

/* Close c at once, whatever its state (daemon exit). */
void		 conn_close_now(struct conn *);

/* Reaper callback: close every doomed connection. */
void		 conn_reap(struct server *);

/*
 * Flusher callback: write every connection's queued replies now, before
 * the loop polls again (as Redis does before sleeping), instead of
 * waiting a loop turn for each socket to be reported writable.
 */
void		 conn_flush_all(struct server *);

/*
 * Tie c's session to the life of its connecting process (the default for
 * a socket): when it exits, the connection's input ends as at EOF.  on
 * false: the session lasts as long as the connection (hello lifetime
 * "connection").  Returns 0, or -1 with errno if it cannot be watched.
 */
int		 conn_watch_pid(struct conn *, bool on);

/* pidwatch's callback: c's connecting process has exited. */
void		 conn_pid_exited(struct pidwatch_member *);

#endif
