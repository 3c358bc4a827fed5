/*
 * conn.c -- one client connection.
 *
 * The transport is a socket, two evbuffers and two events; no
 * bufferevent, whose own read path asks the kernel how much is readable
 * (a FIONREAD per request) and whose state costs most of an idle
 * connection's memory.  One read path for every caller, the unit tests'
 * and the fuzzers' socketpairs included.
 *
 * Bytes in: one recv into the input buffer, cut into lines by
 * psync_frame_next before anything is parsed, so a line over --max-line
 * is refused having cost at most --max-line + 2 bytes.  Bytes out:
 * replies are encoded straight into the output buffer and written at the
 * end of the loop turn; a client that lets more than --max-output pile up
 * is cut off.
 * Death: conn_lost() ends the session (session_lost: its waits, then its
 * holds, in one pass; the freed objects are handed on before the event
 * ends), then the socket.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "conn.h"
#include "dispatch.h"
#include "session.h"
#include "xmalloc.h"

static void	conn_readable_cb(evutil_socket_t, short, void *);
static void	conn_writable_cb(evutil_socket_t, short, void *);
static void	conn_free(struct conn *);
static void	conn_close_now(struct conn *);
static void	conn_pid_exited(struct pidwatch_member *);
static void	conn_reaper_cb(evutil_socket_t, short, void *);
static void	conn_flusher_cb(evutil_socket_t, short, void *);
static void	conn_schedule_flush(struct conn *, bool);
static void	conn_send_reply(struct session *, const struct reply *, bool);
static void	conn_send_error(struct conn *, enum psync_err, const char *);
static int	conn_tie_lifetime(struct session *, bool);
static bool	conn_tied_to_process(const struct session *);

/* How the model reaches a connection's client. */
static const struct session_ops conn_session_ops = {
	.send = conn_send_reply,
	.set_lifetime = conn_tie_lifetime,
	.process_lifetime = conn_tied_to_process,
};

/* The connection that owns session s. */
static struct conn *
conn_of(const struct session *s)
{
	return ((struct conn *)(void *)((char *)s -
	    offsetof(struct conn, sess)));
}

/* The most one read takes: a few pipelined requests' worth. */
#define CONN_READ_MAX		16384

/* How long a closing connection may take to read its last replies. */
#define CONN_FLUSH_TIMEOUT	5

int
conn_set_init(struct conn_set *set, struct event_base *base,
    struct model *model)
{
	memset(set, 0, sizeof(*set));
	set->base = base;
	set->model = model;
	TAILQ_INIT(&set->all);
	TAILQ_INIT(&set->doomed);
	TAILQ_INIT(&set->flushq);
	pidtab_init(&set->pids, base, conn_pid_exited);
	set->reaper = event_new(base, -1, 0, conn_reaper_cb, set);
	set->flusher = event_new(base, -1, 0, conn_flusher_cb, set);
	if (set->reaper == NULL || set->flusher == NULL)
		return (-1);
	return (0);
}

void
conn_set_free(struct conn_set *set)
{
	struct conn	*c;

	/* Connections still flushing are cut now; holds go with them. */
	while ((c = TAILQ_FIRST(&set->all)) != NULL)
		conn_close_now(c);
	pidtab_free(&set->pids);
	if (set->reaper != NULL)
		event_free(set->reaper);
	if (set->flusher != NULL)
		event_free(set->flusher);
	set->reaper = set->flusher = NULL;
}

struct conn *
conn_accept(struct conn_set *set, int fd, pid_t pid, uid_t uid, gid_t gid)
{
	struct conn	*c;
	char		 msg[160];

	if ((c = conn_new(set, fd, pid, uid, gid)) == NULL)
		return (NULL);
	if (conn_watch_pid(c, true) == -1) {
		/* Unwatched, its locks could outlive it: refuse instead. */
		snprintf(msg, sizeof(msg), "cannot watch the connecting "
		    "process (pid %ld): %s", (long)pid, strerror(errno));
		log_limited(&set->cutoffs, LOG_LEVEL_WARN, "session %llu: %s; "
		    "refusing it", (unsigned long long)c->sess.id, msg);
		conn_send_error(c, PSYNC_ERR_LIMIT, msg);
		conn_lost(c, true);
		return (NULL);
	}
	return (c);
}

/* Let the input end as at EOF: what was sent is answered, then death. */
static void
conn_end_input(struct conn *c)
{
	if (c->flags & (CONN_DOOMED | CONN_CLOSING))
		return;
	/*
	 * Reads return what is queued, then 0: the one EOF path handles
	 * it.  Whoever else has the socket can no longer write to it.
	 */
	if (shutdown(c->fd, SHUT_RD) == -1) {
		log_debug("session %llu: shutdown: %s",
		    (unsigned long long)c->sess.id, strerror(errno));
		conn_doom(c);
		return;
	}
	event_active(&c->rev, EV_READ, 0);
}

int
conn_watch_pid(struct conn *c, bool on)
{
	int	r;

	if (!on) {
		pidwatch_detach(&c->set->pids, &c->watch);
		return (0);
	}
	if (pidwatch_attached(&c->watch))
		return (0);
	if ((r = pidwatch_attach(&c->set->pids, &c->watch, c->sess.pid)) ==
	    1) {
		log_debug("session %llu: pid %ld exited before it was "
		    "accepted", (unsigned long long)c->sess.id,
		    (long)c->sess.pid);
		conn_end_input(c);
		r = 0;
	}
	return (r);
}

/* pidwatch's callback: c's connecting process has exited. */
static void
conn_pid_exited(struct pidwatch_member *m)
{
	struct conn	*c = (struct conn *)(void *)((char *)m -
			    offsetof(struct conn, watch));

	log_debug("session %llu: its process (pid %ld) exited; ending it",
	    (unsigned long long)c->sess.id, (long)c->sess.pid);
	conn_end_input(c);
}

struct conn *
conn_new(struct conn_set *set, int fd, pid_t pid, uid_t uid, gid_t gid)
{
	struct conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->set = set;
	c->fd = fd;
	if ((c->in = evbuffer_new()) == NULL ||
	    (c->out = evbuffer_new()) == NULL ||
	    event_assign(&c->rev, set->base, fd, EV_READ | EV_PERSIST,
	    conn_readable_cb, c) == -1 ||
	    event_assign(&c->wev, set->base, fd, EV_WRITE | EV_PERSIST,
	    conn_writable_cb, c) == -1 ||
	    event_add(&c->rev, NULL) == -1) {
		log_error("conn_new: cannot watch the socket");
		if (c->in != NULL)
			evbuffer_free(c->in);
		if (c->out != NULL)
			evbuffer_free(c->out);
		if (close(fd) == -1)
			log_warn("conn_new: close: %s", strerror(errno));
		free(c);
		return (NULL);
	}
	session_open(c->set->model, &c->sess, &conn_session_ops, pid, uid, gid);
	TAILQ_INSERT_TAIL(&set->all, c, entry);
	set->n++;
	log_debug("session %llu opened: pid %ld uid %lu",
	    (unsigned long long)c->sess.id, (long)pid, (unsigned long)uid);
	return (c);
}

static int
conn_tie_lifetime(struct session *s, bool process)
{
	return (conn_watch_pid(conn_of(s), process));
}

static bool
conn_tied_to_process(const struct session *s)
{
	return (pidwatch_attached(&conn_of(s)->watch));
}

/* Queue {ok: false, error: err, message: msg} with no id. */
static void
conn_send_error(struct conn *c, enum psync_err err, const char *msg)
{
	struct reply	r;

	reply_init(&r, NULL);
	reply_set_error(&r, err, msg);
	conn_send_reply(&c->sess, &r, false);
}

/* Queue reply as one line; doom a connection over its cap. */
static void
conn_send_reply(struct session *s, const struct reply *reply, bool first)
{
	struct conn		*c = conn_of(s);
	struct evbuffer		*out;
	struct evbuffer_iovec	 vec;
	size_t			 need, space = 256;

	if (c->flags & (CONN_DOOMED | CONN_CLOSING))
		return;
	out = c->out;
	/*
	 * The cap bounds what piles up, checked before adding, so that one
	 * large reply (a list of many objects) still goes out whole.
	 */
	if (evbuffer_get_length(out) > c->set->max_output) {
		log_limited(&c->set->cutoffs, LOG_LEVEL_WARN, "session %llu: "
		    "over %zu bytes of unread replies; closing it",
		    (unsigned long long)c->sess.id, c->set->max_output);
		conn_doom(c);
		return;
	}
	/* Dump into the output buffer's own space: no intermediate copy. */
	for (;;) {
		if (evbuffer_reserve_space(out, (ev_ssize_t)space, &vec, 1) != 1)
			goto fail;
		need = reply_encode(reply, vec.iov_base, space - 1);
		if (need == 0)
			goto fail;
		if (need < space) {
			((char *)vec.iov_base)[need] = '\n';
			vec.iov_len = need + 1;
			if (evbuffer_commit_space(out, &vec, 1) == -1)
				goto fail;
			conn_schedule_flush(c, first);
			return;
		}
		space = need + 1;
	}
fail:
	log_error("conn_send: session %llu: cannot queue a reply",
	    (unsigned long long)c->sess.id);
	conn_doom(c);
}

/*
 * Queue c for the flusher, which runs before the loop polls again.  A
 * grant goes to the head: the waiter it wakes has been waiting longest,
 * and on a busy CPU the first socket written is the first peer to run.
 */
static void
conn_schedule_flush(struct conn *c, bool first)
{
	struct conn_set	*set = c->set;

	if (c->flags & CONN_FLUSH) {
		if (!first || TAILQ_FIRST(&set->flushq) == c)
			return;
		TAILQ_REMOVE(&set->flushq, c, flush_entry);
	} else if (TAILQ_EMPTY(&set->flushq))
		event_active(set->flusher, 0, 0);
	c->flags |= CONN_FLUSH;
	if (first)
		TAILQ_INSERT_HEAD(&set->flushq, c, flush_entry);
	else
		TAILQ_INSERT_TAIL(&set->flushq, c, flush_entry);
}

static void
conn_unschedule_flush(struct conn *c)
{
	if (c->flags & CONN_FLUSH) {
		TAILQ_REMOVE(&c->set->flushq, c, flush_entry);
		c->flags &= ~CONN_FLUSH;
	}
}

/*
 * Write what out holds to c's socket.  Returns 0, or -1 if the socket
 * failed (an error other than a full buffer).
 */
static int
conn_write(struct conn *c)
{
	int	n;

	/* evbuffer_write says -1 for an empty buffer: nothing to do. */
	if (evbuffer_get_length(c->out) == 0)
		return (0);
	n = evbuffer_write(c->out, c->fd);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		log_debug("session %llu: write: %s",
		    (unsigned long long)c->sess.id, strerror(errno));
		return (-1);
	}
	return (0);
}

/* Write what c has queued; leave the rest to the write event. */
static void
conn_flush(struct conn *c)
{
	bool	watching;

	conn_unschedule_flush(c);
	if (evbuffer_get_length(c->out) == 0)
		return;
	if (conn_write(c) == -1) {
		conn_doom(c);
		return;
	}
	/* The write event only while the socket cannot take it all. */
	watching = event_pending(&c->wev, EV_WRITE, NULL);
	if (evbuffer_get_length(c->out) > 0) {
		if (!watching && event_add(&c->wev, NULL) == -1)
			conn_doom(c);
	} else if (watching && !(c->flags & CONN_CLOSING) &&
	    event_del(&c->wev) == -1)
		conn_doom(c);
}

/*
 * The socket takes more: write; once the output is empty, stop watching,
 * or, for a closing connection, free it.  A closing connection's write
 * event carries the flush deadline: on EV_TIMEOUT it goes unflushed.
 */
static void
conn_writable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	if ((what & EV_TIMEOUT) || conn_write(c) == -1) {
		if (c->flags & CONN_CLOSING)
			conn_free(c);
		else
			conn_doom(c);
		return;
	}
	if (evbuffer_get_length(c->out) > 0)
		return;
	if (c->flags & CONN_CLOSING)
		conn_free(c);
	else if (event_del(&c->wev) == -1)
		conn_doom(c);
}

/*
 * Write every connection's queued replies now, before the loop polls
 * again (as Redis does before sleeping), instead of waiting a loop turn
 * for each socket to be reported writable.
 */
static void
conn_flusher_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_set	*set = arg;
	struct conn	*c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&set->flushq)) != NULL)
		conn_flush(c);
}

void
conn_doom(struct conn *c)
{
	if (c->flags & (CONN_DOOMED | CONN_CLOSING))
		return;
	c->flags |= CONN_DOOMED;
	TAILQ_INSERT_TAIL(&c->set->doomed, c, doomed_entry);
	event_active(c->set->reaper, 0, 0);
}

/* Close every doomed connection, from the top of the loop. */
static void
conn_reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_set	*set = arg;
	struct conn	*c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&set->doomed)) != NULL)
		conn_lost(c, false);
}

/*
 * Cut the input into lines and run each.  At EOF the bytes after the last
 * "\n" are the last line.  Returns -1 if the connection must close now
 * (a line over the limit), after queueing its too_large reply.
 */
static int
conn_process_input(struct conn *c, bool at_eof)
{
	struct evbuffer		*in = c->in;
	struct psync_line	 line;
	const char		*buf;
	size_t			 size, off = 0, drained = 0;
	char			 msg[96];
	int			 rc = 0;

	size = evbuffer_get_length(in);
	if (size == 0)
		return (0);
	/* One contiguous view; usually the input is a single chain already. */
	if ((buf = (const char *)evbuffer_pullup(in, -1)) == NULL)
		return (-1);
	while (off < size && !(c->flags & (CONN_DOOMED | CONN_CLOSING)) &&
	    !c->set->stopping) {
		switch (psync_frame_next(buf + off, size - off,
		    c->set->max_line, at_eof, &line)) {
		case PSYNC_FRAME_PARTIAL:
			goto out;
		case PSYNC_FRAME_TOO_LARGE:
			snprintf(msg, sizeof(msg), "request line over %zu "
			    "bytes; closing the connection",
			    c->set->max_line);
			conn_send_error(c, PSYNC_ERR_TOO_LARGE, msg);
			log_info("session %llu: %s",
			    (unsigned long long)c->sess.id, msg);
			off = size;
			rc = -1;
			goto out;
		case PSYNC_FRAME_LINE:
			off += line.consumed;
			if (!psync_line_blank(line.start, line.len))
				dispatch_line(c->set->model, &c->sess,
				    line.start, line.len);
			/*
			 * Handled: no longer buffered input, so that a stat
			 * later in the same read counts only what is left.
			 */
			c->set->input_total -= line.consumed;
			drained += line.consumed;
			break;
		}
	}
out:
	if (evbuffer_drain(in, off) == -1)
		rc = -1;
	c->set->input_total -= off - drained;
	return (rc);
}

/*
 * All connections' unfinished lines share one budget, so that many slow
 * senders cannot add up to unbounded memory: the one whose bytes take
 * it over is refused and closed.
 */
static void
conn_over_budget(struct conn *c)
{
	log_limited(&c->set->cutoffs, LOG_LEVEL_WARN, "session %llu: "
	    "unfinished lines over all connections passed %zu bytes "
	    "(--max-input-total); closing it",
	    (unsigned long long)c->sess.id, c->set->max_input_total);
	conn_send_error(c, PSYNC_ERR_LIMIT, "the daemon's input "
	    "budget is used up by unfinished lines; closing");
	conn_lost(c, true);
}

/*
 * The socket is readable: one recv straight into the input buffer, at
 * most what a maximal line still needs.  (libevent's own read asks the
 * kernel how much is readable first, FIONREAD: a syscall per request
 * that this saves.)
 */
static void
conn_readable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = c->in;
	struct evbuffer_iovec	 vec;
	size_t			 have, room;
	ssize_t			 n;

	(void)what;
	have = evbuffer_get_length(in);
	room = c->set->max_line + 2 > have ?
	    c->set->max_line + 2 - have : 1;
	if (room > CONN_READ_MAX)
		room = CONN_READ_MAX;
	if (evbuffer_reserve_space(in, (ev_ssize_t)room, &vec, 1) != 1) {
		conn_lost(c, false);
		return;
	}
	n = recv(fd, vec.iov_base, room, 0);
	if (n > 0) {
		vec.iov_len = (size_t)n;
		evbuffer_commit_space(in, &vec, 1);
		c->set->input_total += (size_t)n;
	}
	if (n > 0) {
		if (conn_process_input(c, false) == -1)
			conn_lost(c, true);
		else if (c->set->input_total > c->set->max_input_total)
			conn_over_budget(c);
	} else if (n == 0) {
		/* End of input: the final line without "\n" counts too. */
		conn_process_input(c, true);
		conn_lost(c, true);
	} else if (errno != EAGAIN && errno != EINTR) {
		log_debug("session %llu: recv: %s",
		    (unsigned long long)c->sess.id, strerror(errno));
		conn_lost(c, false);
	}
}

void
conn_lost(struct conn *c, bool flush)
{
	struct conn_set	*set = c->set;
	struct timeval	 tv = { CONN_FLUSH_TIMEOUT, 0 };
	char		 released[512] = "";

	if (c->flags & CONN_CLOSING)
		return;
	if (c->flags & CONN_DOOMED)
		TAILQ_REMOVE(&set->doomed, c, doomed_entry);
	c->flags = (c->flags & ~CONN_DOOMED) | CONN_CLOSING;
	if (event_del(&c->rev) == -1)
		log_warn("session %llu: event_del failed",
		    (unsigned long long)c->sess.id);
	if (log_enabled(LOG_LEVEL_DEBUG))
		session_summarize(&c->sess, released, sizeof(released));
	session_lost(&c->sess);
	log_debug("session %llu closed: pid %ld uid %lu: %s",
	    (unsigned long long)c->sess.id, (long)c->sess.pid,
	    (unsigned long)c->sess.uid, released);
	if (flush)
		conn_flush(c);
	conn_unschedule_flush(c);
	/* What the socket did not take goes out within the deadline. */
	if (flush && evbuffer_get_length(c->out) > 0 &&
	    event_add(&c->wev, &tv) == 0)
		return;
	conn_free(c);
}

/* Close c at once, whatever its state (daemon exit). */
static void
conn_close_now(struct conn *c)
{
	if (c->flags & CONN_CLOSING)
		conn_free(c);
	else
		conn_lost(c, false);
}

static void
conn_free(struct conn *c)
{
	struct conn_set	*set = c->set;

	conn_unschedule_flush(c);
	pidwatch_detach(&set->pids, &c->watch);
	TAILQ_REMOVE(&set->all, c, entry);
	set->n--;
	set->input_total -= evbuffer_get_length(c->in);
	if (event_del(&c->rev) == -1)
		log_warn("session %llu: event_del (read) failed",
		    (unsigned long long)c->sess.id);
	if (event_del(&c->wev) == -1)
		log_warn("session %llu: event_del (write) failed",
		    (unsigned long long)c->sess.id);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	if (close(c->fd) == -1)
		log_warn("session %llu: close: %s",
		    (unsigned long long)c->sess.id, strerror(errno));
	session_lost(&c->sess);		/* a no-op unless conn_lost skipped */
	free(c);
	if (set->gone != NULL)
		set->gone(set);
}
