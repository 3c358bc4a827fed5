/*
 * handle.h -- what the typed calls (psync.c) use of the connection
 * (handle.c).  Internal to libpsync-client: not installed; its two
 * functions are hidden from the shared library and carry the psync__
 * prefix so that they cannot clash with a program's names when the
 * static archive is linked in.
 */
#ifndef PSYNC_HANDLE_H
#define PSYNC_HANDLE_H

#include <sys/types.h>
#include <sys/un.h>

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "psync.h"

#define PSYNC_EXPORT	__attribute__((visibility("default")))

struct stash {
	struct stash	*next;
	uint64_t	 id;
	char		*line;
};

struct psync {
	struct psync	*next, **prevp;	/* the list of open handles */
	int		 fd;
	pid_t		 pid;		/* the process that connected */
	bool		 forked;	/* this is a fork()ed child's copy */
	bool		 interruptible;
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char		*buf;		/* received bytes; buf[off..len) unread */
	size_t		 off, len, cap;
	size_t		 line_consumed;	/* of the line read_line returned */
	uint64_t	 next_id;
	struct stash	*stash, **stash_tail;
	int		 req_rc;	/* why building a request failed */
	psync_lost_fn	 lost_fn;	/* told of a lost cluster hold */
	void		*lost_arg;
	uint64_t	 lost;		/* holds it was told it lost */
	char		 errmsg[320];
};

/*
 * Record a failure of the library's own: a printf-style message in
 * h->errmsg.  Returns result.
 */
int	psync__fail(psync_t *h, int result, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * The one request path: send req (stolen; NULL if its builder failed,
 * h->req_rc saying why) with a fresh id and wait for its reply.  Returns
 * PSYNC_OK with the reply in *reply (a new reference; not stored if
 * reply is NULL), or the error's result with the daemon's message in
 * h->errmsg.
 */
int	psync__call(psync_t *h, json_t *req, json_t **reply);

#endif
