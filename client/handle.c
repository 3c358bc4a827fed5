/*
 * handle.c -- libpsync-client's connection: one per handle.
 *
 * A call is one request line out and its reply line back, matched by id.
 * Replies to other ids (psync_send's) met on the way are kept, in order,
 * for psync_recv.  The library never aborts.  Its one global is the list
 * of open handles, for the fork handler: a forked child closes its copies
 * of the parent's sockets at once, so that a child that never touches
 * psync cannot keep the parent's session (and its locks) alive.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "handle.h"
#include "psync_proto.h"

/* A reply longer than this is refused (a list of a few million objects). */
#define REPLY_MAX	(256u << 20)

static int	open_socket(const char *);

/* Every open handle, for the fork handler; guarded by handles_mutex. */
static struct psync	*handles;
static pthread_mutex_t	 handles_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t	 handles_once = PTHREAD_ONCE_INIT;

/* fork() waits for no list change to be under way... */
static void
atfork_prepare(void)
{
	pthread_mutex_lock(&handles_mutex);
}

static void
atfork_parent(void)
{
	pthread_mutex_unlock(&handles_mutex);
}

/*
 * ...and the child, the only thread now, closes its copies of every
 * socket: only its reference goes, the parent's connection is untouched.
 * The handles keep the parent's pid, so they answer PSYNC_EFORK until
 * psync_reconnect().
 */
static void
atfork_child(void)
{
	struct psync	*h;

	for (h = handles; h != NULL; h = h->next) {
		if (h->fd != -1)
			close(h->fd);
		h->fd = -1;
		h->forked = true;
	}
	pthread_mutex_unlock(&handles_mutex);
}

static void
handles_init(void)
{
	(void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/*
 * Connect h (on the list or not yet) to h->path and put it on the list.
 * Under the mutex, so that no fork() in another thread can copy the new
 * socket before the child handler can see it.  Returns 0, or -1 with
 * errno.
 */
static int
handle_connect(psync_t *h)
{
	int	err = 0;

	pthread_once(&handles_once, handles_init);
	pthread_mutex_lock(&handles_mutex);
	if ((h->fd = open_socket(h->path)) == -1)
		err = errno;
	else if (h->prevp == NULL) {
		if ((h->next = handles) != NULL)
			handles->prevp = &h->next;
		h->prevp = &handles;
		handles = h;
	}
	pthread_mutex_unlock(&handles_mutex);
	errno = err;
	return (err == 0 ? 0 : -1);
}

static void
handles_remove(psync_t *h)
{
	if (h->prevp == NULL)
		return;
	pthread_mutex_lock(&handles_mutex);
	if (h->next != NULL)
		h->next->prevp = h->prevp;
	*h->prevp = h->next;
	pthread_mutex_unlock(&handles_mutex);
}

/*
 * The protocol's errors map onto results by offset (result_of_code): the
 * public enum in psync.h must list them in psync_proto.h's order.
 */
#define PSYNC_CHECK_ORDER(sym, str)					\
	_Static_assert(PSYNC_E##sym - PSYNC_EBAD_REQUEST ==		\
	    PSYNC_ERR_##sym - PSYNC_ERR_BAD_REQUEST,			\
	    "psync.h lists " str " out of the protocol's order");
PSYNC_ERRORS(PSYNC_CHECK_ORDER)
#undef PSYNC_CHECK_ORDER

static const char *const result_names[] = {
	[PSYNC_OK] = "success",
	[PSYNC_TIMEDOUT] = "timed out",
	/* The protocol's codes, from its one table. */
#define PSYNC_RESULT_NAME(sym, str) [PSYNC_E##sym] = str,
	PSYNC_ERRORS(PSYNC_RESULT_NAME)
#undef PSYNC_RESULT_NAME
	[PSYNC_EIO] = "connection to psyncd lost or not possible",
	[PSYNC_EPROTO] = "unexpected reply from psyncd",
	[PSYNC_EFORK] = "handle used in a forked child",
	[PSYNC_EINVAL] = "invalid argument",
	[PSYNC_ENOMEM] = "out of memory",
	[PSYNC_EINTR] = "interrupted by a signal",
	[PSYNC_EAGAIN] = "no reply yet",
};

PSYNC_EXPORT const char *
psync_strerror(int result)
{
	if (result < 0 ||
	    (size_t)result >= sizeof(result_names) / sizeof(result_names[0]))
		return ("unknown result");
	return (result_names[result]);
}

PSYNC_EXPORT const char *
psync_errmsg(const psync_t *h)
{
	return (h != NULL ? h->errmsg : "");
}

/* Record a failure of the library's own; returns result. */
int
psync__fail(psync_t *h, int result, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(h->errmsg, sizeof(h->errmsg), fmt, ap);
	va_end(ap);
	return (result);
}

/* The protocol error code's result: they share the protocol's order. */
static int
result_of_code(const char *code)
{
	enum psync_err	err = psync_err_lookup(code);

	if (err == PSYNC_ERR_NONE)
		return (PSYNC_EPROTO);
	return (PSYNC_EBAD_REQUEST + (err - PSYNC_ERR_BAD_REQUEST));
}

static int
open_socket(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, err;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		err = errno;
		close(fd);
		errno = err;
		return (-1);
	}
	return (fd);
}

static void
stash_clear(psync_t *h)
{
	struct stash	*s;

	while ((s = h->stash) != NULL) {
		h->stash = s->next;
		free(s->line);
		free(s);
	}
	h->stash_tail = &h->stash;
}

/* The message of a failed connect to path, in errbuf (may be NULL). */
static void
connect_failed(char *errbuf, size_t size, const char *path, int err)
{
	if (errbuf == NULL || size == 0)
		return;
	snprintf(errbuf, size, "cannot connect to %s: %s%s", path,
	    strerror(err), err == ENOENT || err == ECONNREFUSED ?
	    " (is psyncd running there?)" : err == EACCES ?
	    " (is this user in the socket's group?)" : "");
}

PSYNC_EXPORT psync_t *
psync_connect_err(const char *path, char *errbuf, size_t size)
{
	psync_t	*h;
	int	 err;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		connect_failed(errbuf, size, "psyncd", ENOMEM);
		errno = ENOMEM;
		return (NULL);
	}
	if (psync_socket_path(path, h->path, sizeof(h->path), NULL) == -1) {
		if (errbuf != NULL && size > 0)
			snprintf(errbuf, size, "socket path too long: %s",
			    path != NULL ? path : "$PSYNC_SOCKET or the "
			    "default");
		free(h);
		errno = ENAMETOOLONG;
		return (NULL);
	}
	if (handle_connect(h) == -1) {
		err = errno;
		connect_failed(errbuf, size, h->path, err);
		free(h);
		errno = err;
		return (NULL);
	}
	h->pid = getpid();
	h->stash_tail = &h->stash;
	return (h);
}

PSYNC_EXPORT psync_t *
psync_connect(const char *path)
{
	return (psync_connect_err(path, NULL, 0));
}

PSYNC_EXPORT void
psync_close(psync_t *h)
{
	if (h == NULL)
		return;
	handles_remove(h);
	if (h->fd != -1)
		close(h->fd);
	stash_clear(h);
	free(h->buf);
	free(h);
}

static void
disconnect(psync_t *h)
{
	if (h->fd != -1)
		close(h->fd);
	h->fd = -1;
	h->off = h->len = 0;
	stash_clear(h);
}

PSYNC_EXPORT int
psync_reconnect(psync_t *h)
{
	if (h == NULL)
		return (PSYNC_EINVAL);
	disconnect(h);
	h->pid = getpid();
	h->forked = false;
	h->errmsg[0] = '\0';
	/* A new session: notices are asked for again, counted afresh. */
	h->lost_fn = NULL;
	h->lost_arg = NULL;
	h->lost = 0;
	if (handle_connect(h) == -1) {
		connect_failed(h->errmsg, sizeof(h->errmsg), h->path, errno);
		return (PSYNC_EIO);
	}
	return (PSYNC_OK);
}

PSYNC_EXPORT void
psync_set_interruptible(psync_t *h, bool on)
{
	if (h != NULL)
		h->interruptible = on;
}

PSYNC_EXPORT int
psync_fd(const psync_t *h)
{
	return (h != NULL ? h->fd : -1);
}

/* Usable now?  PSYNC_OK, or why not. */
static int
check_handle(psync_t *h)
{
	h->errmsg[0] = '\0';
	/* The fork handler's mark: no getpid() system call per request. */
	if (h->forked)
		return (psync__fail(h, PSYNC_EFORK, "this handle belongs to process "
		    "%ld; a forked child must psync_reconnect() it",
		    (long)h->pid));
	if (h->fd == -1)
		return (psync__fail(h, PSYNC_EIO, "not connected to %s", h->path));
	return (PSYNC_OK);
}

/*
 * Send all of buf; EINTR never cuts a request in half.  If the daemon
 * closed the connection the socket is kept for reading: its last words
 * (a too_large reply) may still be waiting there.
 */
static int
send_all(psync_t *h, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = send(h->fd, buf, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				return (psync__fail(h, PSYNC_EIO, "psyncd at %s "
				    "closed the connection (%s)", h->path,
				    strerror(errno)));
			n = errno;
			disconnect(h);
			return (psync__fail(h, PSYNC_EIO, "writing to psyncd at %s: %s",
			    h->path, strerror((int)n)));
		}
		buf += n;
		len -= (size_t)n;
	}
	return (PSYNC_OK);
}

static size_t	id_head(char *, uint64_t, bool);

/*
 * Send req as one line.  With an id (not 0) it goes first, written as
 * text in front of jansson's dump of the rest: no json_t for the id, no
 * snprintf.
 */
static int
send_json(psync_t *h, json_t *req, uint64_t id)
{
	char	 small[512], *p = small;
	size_t	 at = 0, n, room;
	int	 rc;

	/* '{"id":N,' then the dump of req from its "{", over the comma. */
	if (id != 0)
		at = id_head(small, id, true) - 1;
	room = sizeof(small) - at - 1;		/* and one byte for "\n" */
	if ((n = json_dumpb(req, small + at, room, JSON_COMPACT)) == 0)
		return (psync__fail(h, PSYNC_EINVAL, "request cannot be encoded "
		    "(invalid UTF-8?)"));
	if (n > room) {
		if ((p = malloc(at + n + 1)) == NULL)
			return (psync__fail(h, PSYNC_ENOMEM, "out of memory"));
		if (id != 0)
			id_head(p, id, true);
		json_dumpb(req, p + at, n, JSON_COMPACT);
	}
	if (id != 0 && n == 2) {		/* {}: just {"id":N} */
		p[at] = '}';
		n = at + 1;
	} else {
		if (id != 0)
			p[at] = ',';
		n += at;
	}
	p[n] = '\n';
	rc = send_all(h, p, n + 1);
	if (p != small)
		free(p);
	return (rc);
}

/*
 * The next complete line, waiting up to timeout seconds (negative:
 * forever).  *line points into h->buf and is valid until the next read;
 * *consumed bytes are to be dropped with drop().  PSYNC_EAGAIN on
 * timeout, PSYNC_EINTR if interrupted and intr is set.
 */
static int
read_line(psync_t *h, double timeout, bool intr, const char **line,
    size_t *len)
{
	struct timespec	 now;
	struct pollfd	 pfd;
	struct psync_line fl;
	double		 deadline = 0, left;
	char		*nb;
	ssize_t		 n;
	int		 ms;

	if (timeout >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		deadline = (double)now.tv_sec + now.tv_nsec / 1e9 + timeout;
	}
	for (;;) {
		/*
		 * The daemon's framing, from proto/, on the replies too
		 * (nothing unread: no buffer yet, maybe, so not even a look).
		 */
		switch (h->len == h->off ? PSYNC_FRAME_PARTIAL :
		    psync_frame_next(h->buf + h->off, h->len - h->off,
		    REPLY_MAX, false, &fl)) {
		case PSYNC_FRAME_LINE:
			*line = fl.start;
			*len = fl.len;
			h->line_consumed = fl.consumed;
			return (PSYNC_OK);
		case PSYNC_FRAME_TOO_LARGE:
			disconnect(h);
			return (psync__fail(h, PSYNC_EPROTO, "reply over %u "
			    "bytes", REPLY_MAX));
		case PSYNC_FRAME_PARTIAL:
			break;
		}
		if (timeout >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			left = (deadline - (double)now.tv_sec -
			    now.tv_nsec / 1e9) * 1000;
			/* A timeout of years polls in slices of poll's range. */
			ms = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
			pfd.fd = h->fd;
			pfd.events = POLLIN;
			n = poll(&pfd, 1, ms);
			if (n == -1 && errno == EINTR) {
				if (intr)
					return (PSYNC_EINTR);
				continue;
			}
			if (n == 0 && ms == INT_MAX)
				continue;
			if (n == 0)
				return (PSYNC_EAGAIN);
		}
		/* Replies already consumed go only when room is needed. */
		if (h->off > 0 && h->cap - h->len < 4096) {
			memmove(h->buf, h->buf + h->off, h->len - h->off);
			h->len -= h->off;
			h->off = 0;
		}
		if (h->cap - h->len < 4096) {
			if (h->cap >= REPLY_MAX) {
				disconnect(h);
				return (psync__fail(h, PSYNC_EPROTO, "reply over %u "
				    "bytes", REPLY_MAX));
			}
			nb = realloc(h->buf, h->cap == 0 ? 8192 : h->cap * 2);
			if (nb == NULL)
				return (psync__fail(h, PSYNC_ENOMEM, "out of memory"));
			h->buf = nb;
			h->cap = h->cap == 0 ? 8192 : h->cap * 2;
		}
		n = recv(h->fd, h->buf + h->len, h->cap - h->len, 0);
		if (n > 0) {
			h->len += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR) {
			if (intr)
				return (PSYNC_EINTR);
			continue;
		}
		if (n == -1 && errno == EAGAIN)
			continue;
		if (n == 0) {
			disconnect(h);
			return (psync__fail(h, PSYNC_EIO, "psyncd at %s closed the "
			    "connection", h->path));
		}
		n = errno;
		disconnect(h);
		return (psync__fail(h, PSYNC_EIO, "reading from psyncd at %s: %s",
		    h->path, strerror((int)n)));
	}
}

/* Drop the line read_line() just returned, its terminator included. */
static void
drop(psync_t *h)
{
	h->off += h->line_consumed;
	if (h->off == h->len)
		h->off = h->len = 0;
}

/* The id of a parsed reply (0 if none). */
static uint64_t
reply_id(json_t *r)
{
	json_t	*id = json_object_get(r, "id");

	return (json_is_integer(id) ? (uint64_t)json_integer_value(id) : 0);
}

/*
 * If r is a notice (no id, an "event"), handle it: a lost hold is
 * counted and told to the handler.  Returns whether it was one.
 */
static bool
notice(psync_t *h, json_t *r)
{
	const char	*ev, *name, *type, *msg;

	if (reply_id(r) != 0 ||
	    (ev = json_string_value(json_object_get(r, "event"))) == NULL)
		return (false);
	if (strcmp(ev, "lost") != 0)
		return (true);		/* a later protocol's: not ours */
	h->lost++;
	name = json_string_value(json_object_get(r, "name"));
	type = json_string_value(json_object_get(r, "type"));
	msg = json_string_value(json_object_get(r, "message"));
	if (h->lost_fn != NULL)
		h->lost_fn(h, name != NULL ? name : "", type != NULL ? type :
		    "", (uint64_t)json_integer_value(json_object_get(r,
		    "token")), msg != NULL ? msg : "", h->lost_arg);
	return (true);
}

static int
stash_line(psync_t *h, uint64_t id, const char *line, size_t len)
{
	struct stash	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->line = malloc(len + 1)) == NULL) {
		free(s);
		return (psync__fail(h, PSYNC_ENOMEM, "out of memory"));
	}
	memcpy(s->line, line, len);
	s->line[len] = '\0';
	s->id = id;
	*h->stash_tail = s;
	h->stash_tail = &s->next;
	return (PSYNC_OK);
}

/*
 * Read until the reply to id arrives; keep others for psync_recv.
 * A signal (with interruptible set) cancels the request and waits for
 * the outcome: a cancelled request returns PSYNC_EINTR.
 */
static int
await_reply(psync_t *h, uint64_t id, json_t **reply)
{
	json_error_t	 jerr;
	json_t		*r, *cancel;
	const char	*line;
	size_t		 len;
	int		 rc;
	bool		 cancelled = false;

	for (;;) {
		rc = read_line(h, -1, h->interruptible && !cancelled, &line,
		    &len);
		if (rc == PSYNC_EINTR) {
			cancel = json_pack("{s:s,s:I}", "op", "cancel",
			    "target", (json_int_t)id);
			if (cancel == NULL)
				return (psync__fail(h, PSYNC_ENOMEM, "out of memory"));
			rc = send_json(h, cancel, 0);
			json_decref(cancel);
			if (rc != PSYNC_OK)
				return (rc);
			cancelled = true;
			continue;
		}
		if (rc != PSYNC_OK)
			return (rc);
		if ((r = json_loadb(line, len, 0, &jerr)) == NULL) {
			drop(h);
			return (psync__fail(h, PSYNC_EPROTO, "unparsable reply: %s",
			    jerr.text));
		}
		if (reply_id(r) == id) {
			drop(h);
			if (cancelled && strcmp(json_string_value(
			    json_object_get(r, "error")) != NULL ?
			    json_string_value(json_object_get(r, "error")) :
			    "", "cancelled") == 0) {
				json_decref(r);
				return (psync__fail(h, PSYNC_EINTR, "interrupted by a "
				    "signal; the request was cancelled"));
			}
			*reply = r;
			return (PSYNC_OK);
		}
		if (notice(h, r)) {
			json_decref(r);
			drop(h);
			continue;
		}
		/*
		 * An error without an id is the daemon's last word before it
		 * closes: too_large, or forbidden / limit unasked at connect.
		 */
		if (reply_id(r) == 0 && json_is_string(json_object_get(r,
		    "error"))) {
			rc = result_of_code(json_string_value(
			    json_object_get(r, "error")));
			snprintf(h->errmsg, sizeof(h->errmsg), "%s",
			    json_string_value(json_object_get(r, "message")));
			json_decref(r);
			disconnect(h);
			return (rc);
		}
		/* The answer to our cancel, or a psync_send request's. */
		if (!(cancelled && json_object_get(r, "cancelled") != NULL &&
		    reply_id(r) == 0) &&
		    (rc = stash_line(h, reply_id(r), line, len)) != PSYNC_OK) {
			json_decref(r);
			return (rc);
		}
		json_decref(r);
		drop(h);
	}
}

/*
 * The one request path: send req (stolen) with a fresh id and return its
 * reply in *reply (a new reference) if it is ok; otherwise the error's
 * result, with the daemon's message in h->errmsg.
 */
int
psync__call(psync_t *h, json_t *req, json_t **reply)
{
	json_t		*r;
	uint64_t	 id;
	int		 rc;

	if (h == NULL) {
		json_decref(req);
		return (PSYNC_EINVAL);
	}
	if (req == NULL) {
		/* The builder said why (a bad name, a NaN), or memory ran out. */
		rc = h->req_rc != PSYNC_OK ? h->req_rc :
		    psync__fail(h, PSYNC_ENOMEM, "out of memory");
		h->req_rc = PSYNC_OK;
		return (rc);
	}
	if ((rc = check_handle(h)) != PSYNC_OK) {
		json_decref(req);
		return (rc);
	}
	id = ++h->next_id;
	rc = send_json(h, req, id);
	json_decref(req);
	/*
	 * A send the daemon cut short (EPIPE) still has its last words to
	 * read (too_large); otherwise wait for the reply.
	 */
	if (rc == PSYNC_EIO && h->fd == -1)
		return (rc);
	if ((rc = await_reply(h, id, &r)) != PSYNC_OK) {
		if (rc == PSYNC_EIO)
			disconnect(h);
		return (rc);
	}
	if (!json_is_true(json_object_get(r, "ok"))) {
		const char *m = json_string_value(json_object_get(r, "message"));

		rc = result_of_code(json_string_value(json_object_get(r,
		    "error")));
		snprintf(h->errmsg, sizeof(h->errmsg), "%s", m != NULL ? m :
		    "");
		json_decref(r);
		return (rc);
	}
	if (reply != NULL)
		*reply = r;
	else
		json_decref(r);
	return (PSYNC_OK);
}

/* ---- asynchronous use ---- */

/* Does the JSON object text have a top-level "id"?  Unparsable: no. */
static bool
has_id(const char *text)
{
	json_t	*j;
	bool	 has;

	if ((j = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL)) == NULL)
		return (false);
	has = json_is_object(j) && json_object_get(j, "id") != NULL;
	json_decref(j);
	return (has);
}

/* '{"id":<id>' and a comma if more follows, in head[48]; its length. */
static size_t
id_head(char *head, uint64_t id, bool comma)
{
	char	 digits[24], *p = digits + sizeof(digits);
	size_t	 n;

	do
		*--p = (char)('0' + id % 10);
	while ((id /= 10) != 0);
	n = (size_t)(digits + sizeof(digits) - p);
	memcpy(head, "{\"id\":", 6);
	memcpy(head + 6, p, n);
	n += 6;
	if (comma)
		head[n++] = ',';
	return (n);
}

PSYNC_EXPORT int
psync_send(psync_t *h, const char *request, uint64_t *id)
{
	const char	*body;
	char		 head[48], small[512], *p = small;
	size_t		 hlen, blen;
	int		 rc;

	if (h == NULL || request == NULL)
		return (PSYNC_EINVAL);
	if ((rc = check_handle(h)) != PSYNC_OK)
		return (rc);
	/*
	 * The id goes in as text, first in the object: no decode and encode
	 * of the caller's request on this path (the daemon checks it).
	 */
	body = request + strspn(request, " \t");
	if (*body != '{' || strchr(body, '\n') != NULL)
		return (psync__fail(h, PSYNC_EINVAL, "request must be one JSON "
		    "object on one line"));
	/*
	 * The library's id goes first; one of the caller's would make a
	 * duplicate key, which the daemon refuses with no id to match.  Only
	 * text that could spell "id" (maybe with escapes) is parsed.
	 */
	if ((strstr(body, "\"id\"") != NULL || strstr(body, "\\u") != NULL) &&
	    has_id(body))
		return (psync__fail(h, PSYNC_EINVAL, "request must not carry an \"id\": "
		    "the library gives it one"));
	body++;
	body += strspn(body, " \t");
	hlen = id_head(head, ++h->next_id, *body != '}');
	blen = strlen(body);
	if (hlen + blen + 1 > sizeof(small) &&
	    (p = malloc(hlen + blen + 1)) == NULL)
		return (psync__fail(h, PSYNC_ENOMEM, "out of memory"));
	memcpy(p, head, hlen);
	memcpy(p + hlen, body, blen);
	p[hlen + blen] = '\n';
	rc = send_all(h, p, hlen + blen + 1);
	if (p != small)
		free(p);
	if (rc == PSYNC_OK && id != NULL)
		*id = h->next_id;
	return (rc);
}

/* The id of a reply line: the daemon puts it first; else parse. */
static uint64_t
line_id(const char *line, size_t len)
{
	json_t		*r;
	uint64_t	 id;
	char		*end;

	if (len > 6 && memcmp(line, "{\"id\":", 6) == 0 &&
	    line[6] >= '0' && line[6] <= '9') {
		id = strtoull(line + 6, &end, 10);
		if (*end == ',' || *end == '}')
			return (id);
	}
	r = json_loadb(line, len, 0, NULL);
	id = r != NULL ? reply_id(r) : 0;
	json_decref(r);
	return (id);
}

PSYNC_EXPORT int
psync_recv(psync_t *h, double timeout, char **reply, uint64_t *id)
{
	struct stash	*s;
	const char	*line;
	size_t		 len;
	uint64_t	 rid;
	json_t		*r;
	int		 rc;

	if (h == NULL || reply == NULL)
		return (PSYNC_EINVAL);
	if ((rc = check_handle(h)) != PSYNC_OK)
		return (rc);
	if (isnan(timeout))
		return (psync__fail(h, PSYNC_EINVAL, "timeout is NaN"));
	/* As with_timeout: forever, or a negative that polls once. */
	if (timeout == PSYNC_FOREVER || (isinf(timeout) && timeout > 0))
		timeout = -1;
	else if (timeout < 0)
		timeout = 0;
	if ((s = h->stash) != NULL) {
		if ((h->stash = s->next) == NULL)
			h->stash_tail = &h->stash;
		*reply = s->line;
		if (id != NULL)
			*id = s->id;
		free(s);
		return (PSYNC_OK);
	}
	if ((rc = read_line(h, timeout, h->interruptible,
	    &line, &len)) != PSYNC_OK)
		return (rc);
	if ((*reply = malloc(len + 1)) == NULL)
		return (psync__fail(h, PSYNC_ENOMEM, "out of memory"));
	memcpy(*reply, line, len);
	(*reply)[len] = '\0';
	if ((rid = line_id(line, len)) == 0 &&
	    (r = json_loadb(line, len, 0, NULL)) != NULL) {
		(void)notice(h, r);	/* handled, and returned too */
		json_decref(r);
	}
	if (id != NULL)
		*id = rid;
	drop(h);
	return (PSYNC_OK);
}

PSYNC_EXPORT int
psync_poll_notices(psync_t *h, uint64_t *lost)
{
	const char	*line;
	size_t		 len;
	json_t		*r;
	int		 rc;

	if (h == NULL)
		return (PSYNC_EINVAL);
	if ((rc = check_handle(h)) != PSYNC_OK)
		return (rc);
	while ((rc = read_line(h, 0, false, &line, &len)) == PSYNC_OK) {
		r = json_loadb(line, len, 0, NULL);
		if (r == NULL || !notice(h, r))
			rc = stash_line(h, r != NULL ? reply_id(r) : 0, line,
			    len);
		json_decref(r);
		drop(h);
		if (rc != PSYNC_OK)
			return (rc);
	}
	if (lost != NULL)
		*lost = h->lost;
	return (rc == PSYNC_EAGAIN ? PSYNC_OK : rc);
}

PSYNC_EXPORT int
psync_cancel(psync_t *h, uint64_t id)
{
	json_t	*req;
	int	 rc;

	if (h == NULL)
		return (PSYNC_EINVAL);
	if ((rc = check_handle(h)) != PSYNC_OK)
		return (rc);
	/* No id of its own: its {cancelled} reply is skipped by callers. */
	req = json_pack("{s:s,s:I}", "op", "cancel", "target", (json_int_t)id);
	if (req == NULL)
		return (psync__fail(h, PSYNC_ENOMEM, "out of memory"));
	rc = send_json(h, req, 0);
	json_decref(req);
	return (rc);
}
