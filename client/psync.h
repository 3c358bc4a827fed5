/*
 * psync.h -- libpsync-client, the C client of psyncd.
 *
 * Locks, rlocks, rwlocks, events, conditions, semaphores, barriers and
 * counters shared between processes, with the semantics of Python's
 * multiprocessing primitives, held by a daemon so that a crashed process
 * never leaves a lock locked.
 *
 * Conventions
 *
 *   - Every call returns an int result: PSYNC_OK (0), PSYNC_TIMEDOUT when
 *     a timed wait ran out (not an error), or a PSYNC_E... code.
 *     psync_strerror() names it; psync_errmsg() has the daemon's message
 *     for the handle's last error.
 *   - Timeouts are seconds as a double: PSYNC_FOREVER (and +INFINITY)
 *     waits forever, 0 tries once without blocking, and so does any other
 *     negative value (as multiprocessing's acquire(True, -2) returns False
 *     at once).  NaN is PSYNC_EINVAL, and nothing is sent.
 *   - Names (and a condition's lock name, a hello client name) must be
 *     valid object names: 1 to 255 bytes of UTF-8 without control
 *     characters.  A bad one is PSYNC_EBAD_NAME without a round trip,
 *     psync_errmsg() naming the offending byte; NULL is PSYNC_EINVAL.
 *   - Output pointers may be NULL when the value is not wanted.
 *   - Ownership: what a psync_* function returns through a char ** is
 *     malloc'd and the caller frees it with free(); a psync_t is freed
 *     with psync_close(); nothing else is handed over.
 *   - A handle is one connection.  The daemon ties every lock, rlock,
 *     rwlock hold and semaphore unit to it: closing the handle, or the
 *     process dying, releases them all.
 *   - Threads: a handle is used by one thread at a time; separate handles
 *     in separate threads work concurrently.  The library's one global
 *     is the list of open handles, for its fork handler, behind a mutex.
 *   - fork(): the connection belongs to the process that opened it.  A
 *     forked child closes its copies of every handle's socket at once
 *     (pthread_atfork), so a child that never touches psync cannot keep
 *     the parent's session alive, and the daemon also ends a session when
 *     the process that connected exits.  In the child, every call on an
 *     inherited handle returns PSYNC_EFORK and touches nothing; the child
 *     may psync_close() it (the parent's connection stays open) or
 *     psync_reconnect() it to get its own.
 *   - Signals: a call interrupted by a signal carries on (EINTR is
 *     retried), unless psync_set_interruptible() asked otherwise.  SIGPIPE
 *     is never raised.
 *   - When the daemon goes away every call returns PSYNC_EIO at once;
 *     psync_reconnect() makes a new connection.  What the old connection
 *     held is gone (the daemon released it).
 */
#ifndef PSYNC_H
#define PSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of psync, the library and the daemon alike: this is the one
 * place it is set (the Makefile reads these three lines).
 */
#define PSYNC_VERSION_MAJOR	1
#define PSYNC_VERSION_MINOR	0
#define PSYNC_VERSION_MICRO	0
#define PSYNC_STRINGIFY_(x)	#x
#define PSYNC_STRINGIFY(x)	PSYNC_STRINGIFY_(x)
#define PSYNC_VERSION		PSYNC_STRINGIFY(PSYNC_VERSION_MAJOR) "."	\
				PSYNC_STRINGIFY(PSYNC_VERSION_MINOR) "."	\
				PSYNC_STRINGIFY(PSYNC_VERSION_MICRO)

#if defined(__GNUC__)
#define PSYNC_WARN_UNUSED	__attribute__((warn_unused_result))
#else
#define PSYNC_WARN_UNUSED
#endif

/* Timeout: wait forever.  (0: try once, never block.) */
#define PSYNC_FOREVER		(-1.0)

/* Results. */
enum psync_result {
	PSYNC_OK = 0,
	PSYNC_TIMEDOUT,		/* the wait ran out: not acquired / not set */
	/* One per protocol error code, in the protocol's order. */
	PSYNC_EBAD_REQUEST,	/* bad_request */
	PSYNC_EUNKNOWN_OP,	/* unknown_op */
	PSYNC_EBAD_NAME,	/* bad_name */
	PSYNC_ENOT_FOUND,	/* not_found */
	PSYNC_ETYPE_MISMATCH,	/* type_mismatch */
	PSYNC_EPARAM_MISMATCH,	/* param_mismatch */
	PSYNC_ENOT_OWNER,	/* not_owner */
	PSYNC_EWOULD_DEADLOCK,	/* would_deadlock */
	PSYNC_EWOULD_EXCEED,	/* would_exceed */
	PSYNC_EBROKEN,		/* broken */
	PSYNC_EBUSY,		/* busy */
	PSYNC_EDELETED,		/* deleted */
	PSYNC_ECANCELLED,	/* cancelled */
	PSYNC_ELIMIT,		/* limit */
	PSYNC_EFORBIDDEN,	/* forbidden */
	PSYNC_ETOO_LARGE,	/* too_large */
	PSYNC_ESHUTTING_DOWN,	/* shutting_down */
	PSYNC_EINTERNAL,	/* internal */
	PSYNC_EUNAVAILABLE,	/* unavailable: the cluster (etcd) cannot be reached */
	/* The library's own. */
	PSYNC_EIO,		/* no connection (daemon gone, or not reachable) */
	PSYNC_EPROTO,		/* the daemon's reply made no sense */
	PSYNC_EFORK,		/* handle inherited across fork() */
	PSYNC_EINVAL,		/* bad argument (NULL name, bad mode...) */
	PSYNC_ENOMEM,		/* out of memory */
	PSYNC_EINTR,		/* interrupted, with psync_set_interruptible */
	PSYNC_EAGAIN		/* psync_recv: no complete reply yet */
};

/* rwlock modes. */
enum psync_rwmode {
	PSYNC_READ = 1,
	PSYNC_WRITE = 2
};

typedef struct psync psync_t;		/* opaque: one connection */

/* ---- connections ---- */

/*
 * Connect to psyncd at path, or, if path is NULL, at the default socket
 * ($PSYNC_SOCKET, else /run/psync/psyncd.sock for root, else
 * $XDG_RUNTIME_DIR/psync/psyncd.sock, else /tmp/psync-$UID/psyncd.sock).
 * Returns a new handle (free with psync_close), or NULL with errno set
 * (ENOENT, ECONNREFUSED: no daemon there; ENAMETOOLONG; ENOMEM...).
 */
psync_t		*psync_connect(const char *path) PSYNC_WARN_UNUSED;

/*
 * psync_connect, with a message for a person when it fails: errbuf (size
 * bytes; may be NULL) gets the path tried and why, as in "cannot connect
 * to /run/psync/psyncd.sock: No such file or directory (is psyncd
 * running there?)".  errno as psync_connect sets it.
 */
psync_t		*psync_connect_err(const char *path, char *errbuf, size_t size)
		    PSYNC_WARN_UNUSED;

/* Close the connection (releasing what it holds) and free h.  NULL: no-op. */
void		 psync_close(psync_t *h);

/*
 * Drop h's connection and connect again to the same path.  Everything
 * the old connection held was released by the daemon.  Also gives a
 * forked child a connection of its own.  Returns PSYNC_OK or PSYNC_EIO.
 */
int		 psync_reconnect(psync_t *h);

/*
 * With on, a blocking call interrupted by a signal cancels its request
 * and returns PSYNC_EINTR (unless the request completed meanwhile, in
 * which case its result is returned).  Off (the default): EINTR is
 * retried and the call goes on waiting.
 */
void		 psync_set_interruptible(psync_t *h, bool on);

/* The name of a result ("would_deadlock", "timed out", ...); static. */
const char	*psync_strerror(int result);

/*
 * The message of h's last failed call: the daemon's text for a protocol
 * error, the library's for its own.  Owned by h, valid until its next
 * call.  Empty after success.
 */
const char	*psync_errmsg(const psync_t *h);

/* ---- server ops ---- */

/* Round trip to the daemon. */
int		 psync_ping(psync_t *h);

/*
 * Name this connection (shown by info) and learn its session id.
 * client may be NULL.  *session may be NULL.
 */
int		 psync_hello(psync_t *h, const char *client, uint64_t *session);

/*
 * The daemon's stat, list (prefix may be NULL) or info reply as a JSON
 * object text in *json (malloc'd; the caller frees it).
 */
int		 psync_stat(psync_t *h, char **json);
int		 psync_list(psync_t *h, const char *prefix, char **json);
int		 psync_info(psync_t *h, const char *name, char **json);

/* Delete an object; force also when held or waited on (else EBUSY). */
int		 psync_delete(psync_t *h, const char *name, bool force);

/* ---- lock ---- */

/*
 * Acquire lock name within timeout.  PSYNC_OK with *token set to the
 * grant's fencing token; PSYNC_TIMEDOUT; PSYNC_EWOULD_DEADLOCK if h holds
 * it already or waiting would close a cycle of waits.
 */
int		 psync_lock_acquire(psync_t *h, const char *name, double timeout,
		    uint64_t *token) PSYNC_WARN_UNUSED;

/* Release it: PSYNC_OK, or PSYNC_ENOT_OWNER if h does not hold it. */
int		 psync_lock_release(psync_t *h, const char *name);

/* ---- rlock ---- */

/* As psync_lock_acquire; re-entry succeeds at once; *count is the depth. */
int		 psync_rlock_acquire(psync_t *h, const char *name, double timeout,
		    uint32_t *count, uint64_t *token) PSYNC_WARN_UNUSED;

/* Release once; *count is the depth left (0: released). */
int		 psync_rlock_release(psync_t *h, const char *name,
		    uint32_t *count);

/* ---- rwlock ---- */

/* Acquire for PSYNC_READ (shared) or PSYNC_WRITE (exclusive); FIFO. */
int		 psync_rwlock_acquire(psync_t *h, const char *name, int mode,
		    double timeout, uint64_t *token) PSYNC_WARN_UNUSED;
int		 psync_rwlock_release(psync_t *h, const char *name);

/* ---- event ---- */

int		 psync_event_set(psync_t *h, const char *name);
int		 psync_event_clear(psync_t *h, const char *name);
int		 psync_event_is_set(psync_t *h, const char *name, bool *set);

/* Wait until set: PSYNC_OK, or PSYNC_TIMEDOUT. */
int		 psync_event_wait(psync_t *h, const char *name, double timeout)
		    PSYNC_WARN_UNUSED;

/* ---- condition ---- */

/*
 * Release lock (a lock or rlock h holds) fully, wait for a notify of
 * condition name, take the lock back (rlock depth restored) and return
 * PSYNC_OK; or PSYNC_TIMEDOUT if no notify came within timeout -- the
 * lock is held again in both cases.  *token: the new hold's token.
 * PSYNC_ENOT_OWNER if h does not hold lock.  PSYNC_ECANCELLED,
 * PSYNC_EDELETED, PSYNC_EINTR: the lock is not held.
 */
int		 psync_cond_wait(psync_t *h, const char *name, const char *lock,
		    double timeout, uint64_t *token) PSYNC_WARN_UNUSED;

/* Wake the n oldest waiters (or all); *woken: how many there were. */
int		 psync_cond_notify(psync_t *h, const char *name, int n,
		    int *woken);
int		 psync_cond_notify_all(psync_t *h, const char *name, int *woken);

/* ---- semaphore ---- */

/*
 * Create semaphore name with initial value (bounded: never above it),
 * or check that it exists with these parameters (PSYNC_EPARAM_MISMATCH).
 * *current: its value now.
 */
int		 psync_sem_open(psync_t *h, const char *name, int64_t value,
		    bool bounded, int64_t *current);

/* Take a unit: PSYNC_OK, PSYNC_TIMEDOUT; PSYNC_ENOT_FOUND if not created. */
int		 psync_sem_acquire(psync_t *h, const char *name, double timeout,
		    int64_t *value) PSYNC_WARN_UNUSED;

/* Give n units back (a plain signal beyond those held); *value after. */
int		 psync_sem_release(psync_t *h, const char *name, int64_t n,
		    int64_t *value);
int		 psync_sem_value(psync_t *h, const char *name, int64_t *value);

/* ---- barrier ---- */

/* Create barrier name for parties, or check it (PSYNC_EPARAM_MISMATCH). */
int		 psync_barrier_open(psync_t *h, const char *name,
		    unsigned parties);

/*
 * Wait for all parties: PSYNC_OK with *index (0..parties-1, arrival
 * order), or PSYNC_EBROKEN (aborted, reset, a party's timeout -- this
 * one's included -- or death).
 */
int		 psync_barrier_wait(psync_t *h, const char *name, double timeout,
		    unsigned *index) PSYNC_WARN_UNUSED;
int		 psync_barrier_abort(psync_t *h, const char *name);
int		 psync_barrier_reset(psync_t *h, const char *name);
int		 psync_barrier_info(psync_t *h, const char *name,
		    unsigned *parties, unsigned *n_waiting, bool *broken);

/* ---- counter ---- */

int		 psync_counter_get(psync_t *h, const char *name, int64_t *value);
int		 psync_counter_set(psync_t *h, const char *name, int64_t value);

/* Add delta; *value is the new value; PSYNC_EWOULD_EXCEED on overflow. */
int		 psync_counter_add(psync_t *h, const char *name, int64_t delta,
		    int64_t *value);

/* Set to value if it equals expect; *swapped, *value (after). */
int		 psync_counter_cas(psync_t *h, const char *name, int64_t expect,
		    int64_t value, bool *swapped, int64_t *current);

/* ---- cluster notices ---- */

/*
 * Told that a cluster hold of h's is lost: psyncd could not keep its
 * etcd lease, so another host may hold name now (fence what you write
 * with the token).  name, type ("lock", "rlock", "rwlock", "semaphore"),
 * the grant's token and psyncd's message are valid during the call only.
 * The handler must not call into h.
 */
typedef void	(*psync_lost_fn)(psync_t *h, const char *name,
		    const char *type, uint64_t token, const char *message,
		    void *arg);

/*
 * Ask psyncd to tell h at once when one of its cluster holds is lost
 * (hello with "notices"), and have fn (NULL: none; the count is kept
 * either way) called with arg for each such notice, by whichever call
 * on h reads it: any blocking call, psync_recv (which also returns the
 * notice, with id 0) or psync_poll_notices.  A new connection
 * (psync_reconnect) is a new session: ask again.  Returns PSYNC_OK, or
 * the hello's error.
 */
int		 psync_set_lost_handler(psync_t *h, psync_lost_fn fn,
		    void *arg);

/*
 * Read what has arrived on h without blocking and handle its notices
 * (replies to psync_send requests are kept for psync_recv).  *lost (may
 * be NULL): how many holds h has been told it lost since it connected.
 * For a program that works while it holds a cluster lock: call it
 * after each call on h (that call may have read notices that came with
 * its reply), then whenever psync_fd polls POLLIN.  PSYNC_OK, or
 * PSYNC_EIO if the connection is gone.
 */
int		 psync_poll_notices(psync_t *h, uint64_t *lost);

/* ---- asynchronous use, for event loops ---- */

/*
 * The connection's file descriptor, to poll for POLLIN (replies) in an
 * event loop; -1 if not connected.  Do not read or write it directly.
 */
int		 psync_fd(const psync_t *h);

/*
 * Send request (a JSON object text such as {"op":"lock.acquire",
 * "name":"x"}) without waiting; the library gives it a fresh id, returned
 * in *id.  Replies come through psync_recv.  PSYNC_EINVAL, sending
 * nothing, if request is not one object on one line or carries an "id"
 * of its own.
 */
int		 psync_send(psync_t *h, const char *request, uint64_t *id);

/*
 * Receive the next reply, waiting up to timeout seconds (0: do not block;
 * PSYNC_FOREVER).  *reply: its JSON text (malloc'd; the caller frees);
 * *id: the request's id (0 if it has none: a cancel's answer, or a
 * notice, which the lost handler has seen first).  PSYNC_EAGAIN if none
 * came.  The reply's own result is not interpreted: read "ok" in the JSON.
 */
int		 psync_recv(psync_t *h, double timeout, char **reply,
		    uint64_t *id);

/*
 * Cancel a request sent with psync_send.  Its "cancelled" reply (if it was
 * still pending) comes through psync_recv as usual, followed by the
 * cancel's own {"ok":true,"cancelled":true|false}, which has no id.
 */
int		 psync_cancel(psync_t *h, uint64_t id);

#ifdef __cplusplus
}
#endif

#endif /* PSYNC_H */
